/* The host's side of plans: the `plan` param of `run` (one step of the editor's plan buffer)
 * and the `plan_validate` method. */
#include "host/host_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/plan_exec.h"
#include "service/plan_store.h"
#include "util/path.h"
#include "util/text.h"

#define HOST_PLAN_MAX ((size_t)1 << 20)

int host_params_plan(host_op *op, const msgpack_object *plan, char *err, size_t errlen)
{
  if (plan->type != MSGPACK_OBJECT_MAP) {
    snprintf(err, errlen, "'plan' must be a map {text, n, goal, task_id}");
    return -1;
  }
  const char *text;
  size_t len;
  if (rpc_map_str(plan, "text", &text, &len) != RPC_GET_OK || len > HOST_PLAN_MAX) {
    snprintf(err, errlen, "plan.text must be the plan's text (at most 1 MiB)");
    return -1;
  }
  int64_t n;
  if (host_param_int(plan, "n", 1, PLAN_STEPS_MAX, 0, &n, err, errlen)) {
    return -1;
  }
  if (n == 0) {
    snprintf(err, errlen, "plan.n (the step to run, 1-based) is required");
    return -1;
  }
  if (host_param_str(plan, "goal", &op->plan_goal, err, errlen) ||
      host_param_str(plan, "task_id", &op->plan_task_id, err, errlen) ||
      host_param_str(plan, "root", &op->plan_root, err, errlen)) {
    return -1;
  }
  if (op->plan_root && op->plan_root[0] != '/') {
    snprintf(err, errlen, "plan.root must be the plan's project directory (absolute)");
    return -1;
  }
  if (op->plan_task_id && (strlen(op->plan_task_id) >= LEDGER_ID_SIZE || !*op->plan_task_id)) {
    snprintf(err, errlen, "plan.task_id must be a ledger id (the plan call's ledger.task_id)");
    return -1;
  }
  op->plan_text = xstrndup(text, len);
  op->plan_n = (int)n;
  return 0;
}

int host_plan_step_prepare(host_op *op)
{
  if (plan_steps_parse(op->plan_text, strlen(op->plan_text), &op->plan_steps, op->err,
                       sizeof(op->err))) {
    return -1;
  }
  char cwd[PATH_MAX];
  if (op->plan_root) {
    snprintf(cwd, sizeof(cwd), "%s", op->plan_root);
  } else if (!getcwd(cwd, sizeof(cwd))) {
    snprintf(op->err, sizeof(op->err), "the host's current directory cannot be read");
    return -1;
  }
  /* The step's file is the buffer the editor sent: its LINE is checked against that text. */
  text_t sent;
  long nlines = -1;
  if (op->req.path && text_init(&sent, op->text.data ? op->text.data : "", op->text.len) == 0) {
    nlines = sent.nlines;
    text_free(&sent);
  }
  plan_known_file known = {op->req.path, nlines};
  plan_steps_validate_known(&op->plan_steps, cwd, &known, nlines >= 0 ? 1 : 0);
  const char *goal = op->plan_goal ? op->plan_goal : op->plan_steps.goal;
  const char *text = op->text.data ? op->text.data : "";
  action_request keep = op->req;
  if (plan_step_request(&op->plan_steps, op->plan_n, goal, text, op->text.len, &op->req,
                        &op->plan_instr, op->err, sizeof(op->err))) {
    return -1;
  }
  if (op->plan_root && op->req.path && op->req.path[0] != '/') {
    /* a step's PATH is relative to the plan's project, wherever the host runs */
    op->plan_path = path_join(op->plan_root, op->req.path);
    op->req.path = op->plan_path;
  }
  op->req.language = keep.language;
  op->req.budget_override = keep.budget_override;
  op->req.forced_tier = keep.forced_tier;
  op->req.task_id = op->plan_task_id;
  return 0;
}

void host_plan_free(host_op *op)
{
  free(op->plan_text);
  free(op->plan_goal);
  free(op->plan_task_id);
  free(op->plan_root);
  free(op->plan_path);
  plan_steps_free(&op->plan_steps);
  buf_free(&op->plan_instr);
}

/* ---- plan_validate, plan_load, plan_save: off the loop ---- */

enum { JOB_VALIDATE, JOB_LOAD, JOB_SAVE };

typedef struct {
  host *h;
  uint64_t msgid;
  int64_t call_id;
  int kind;
  int answer;      /* plan_validate: the text is the planner's answer */
  char *text;
  size_t len;
  char *root;
  plan_known_file *known; /* plan_validate: the editor's buffers (paths owned) */
  size_t nknown;
  json_t *plan;    /* plan_save: the plan to write */
  json_t *result;
  char err[700];
  uv_work_t work;
} plan_job;

static void known_free(plan_known_file *k, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free((char *)k[i].path);
  }
  free(k);
}

/* msgpack -> JSON for plan_save's plan (maps with string keys, arrays, strings, numbers, booleans,
 * nil), at most `depth` levels. NULL when something else is in it. */
static json_t *to_json(const msgpack_object *o, int depth)
{
  if (depth <= 0) {
    return NULL;
  }
  switch (o->type) {
  case MSGPACK_OBJECT_NIL:
    return json_null();
  case MSGPACK_OBJECT_BOOLEAN:
    return json_boolean(o->via.boolean);
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    return o->via.u64 > (uint64_t)INT64_MAX ? NULL : json_integer((json_int_t)o->via.u64);
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    return json_integer((json_int_t)o->via.i64);
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    return json_real(o->via.f64);
  case MSGPACK_OBJECT_STR:
    return json_stringn(o->via.str.ptr, o->via.str.size);
  case MSGPACK_OBJECT_ARRAY: {
    json_t *a = json_array();
    for (uint32_t i = 0; i < o->via.array.size; i++) {
      json_t *v = to_json(&o->via.array.ptr[i], depth - 1);
      if (!v) {
        json_decref(a);
        return NULL;
      }
      json_array_append_new(a, v);
    }
    return a;
  }
  case MSGPACK_OBJECT_MAP: {
    json_t *m = json_object();
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      const msgpack_object_kv *kv = &o->via.map.ptr[i];
      json_t *v = kv->key.type == MSGPACK_OBJECT_STR ? to_json(&kv->val, depth - 1) : NULL;
      char key[64];
      if (!v || kv->key.via.str.size >= sizeof(key)) {
        json_decref(v);
        json_decref(m);
        return NULL;
      }
      snprintf(key, sizeof(key), "%.*s", (int)kv->key.via.str.size, kv->key.via.str.ptr);
      json_object_set_new(m, key, v);
    }
    return m;
  }
  default:
    return NULL;
  }
}

static void job_work(uv_work_t *w)
{
  plan_job *j = w->data;
  char cwd[PATH_MAX];
  const char *root = j->root ? j->root : getcwd(cwd, sizeof(cwd));
  if (!root) {
    snprintf(j->err, sizeof(j->err), "the host's current directory cannot be read");
    return;
  }
  if (j->kind == JOB_VALIDATE) {
    j->result = plan_validate_json(j->text, j->len, root, j->answer, j->known, j->nknown,
                                   j->err, sizeof(j->err));
    return;
  }
  char path[4096];
  if (plan_store_path(root, path, sizeof(path))) {
    snprintf(j->err, sizeof(j->err), "no state directory for plans (set HOME)");
    return;
  }
  if (j->kind == JOB_LOAD) {
    json_t *p = plan_store_load(path, j->err, sizeof(j->err));
    if (p && strcmp(json_string_value(json_object_get(p, "root")), root) != 0) {
      json_decref(p);
      p = NULL; /* another project's plan that hashed alike */
    }
    if (p || !j->err[0]) {
      j->result = json_pack("{s:o,s:s}", "plan", p ? p : json_null(), "path", path);
    }
    return;
  }
  json_object_set_new(j->plan, "root", json_string(root));
  json_object_set_new(j->plan, "version", json_integer(1));
  const char *why = plan_store_check(j->plan);
  if (why) {
    snprintf(j->err, sizeof(j->err), "plan_save: %s", why);
  } else if (plan_store_save(path, j->plan, j->err, sizeof(j->err)) == 0) {
    j->result = json_pack("{s:b,s:s}", "ok", 1, "path", path);
  }
}

static void job_done(uv_work_t *w, int status)
{
  plan_job *j = w->data;
  host *h = j->h;
  h->live_ops--;
  if (status == 0 && !h->closing) {
    host_answer(h, j->msgid, j->call_id, j->result ? NULL : j->err, j->result);
  }
  json_decref(j->result);
  json_decref(j->plan);
  free(j->text);
  free(j->root);
  known_free(j->known, j->nknown);
  free(j);
  host_release(h);
}

static void job_submit(plan_job *j)
{
  host *h = j->h;
  j->work.data = j;
  h->live_ops++;
  if (!h->loop) {
    job_work(&j->work);
    job_done(&j->work, 0);
  } else if (uv_queue_work(h->loop, &j->work, job_work, job_done)) {
    snprintf(j->err, sizeof(j->err), "cannot start the plan's disk work");
    json_decref(j->result);
    j->result = NULL;
    job_done(&j->work, 0);
  }
}

/* The optional absolute `root` param into *root. Returns 0, or -1 after answering. */
static int root_param(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params,
                      char **root)
{
  char err[300];
  *root = NULL;
  if (host_param_str(params, "root", root, err, sizeof(err))) {
    host_answer(h, msgid, call_id, err, NULL);
    return -1;
  }
  if (*root && (*root)[0] != '/') {
    free(*root);
    *root = NULL;
    host_answer(h, msgid, call_id, "'root' must be an absolute directory", NULL);
    return -1;
  }
  return 0;
}

#define HOST_PLAN_BUFFERS_MAX 1000

/* The optional `buffers` param, {path: line count} of the files the editor holds, into a new
 * array. Returns 0, or -1 with the message in `err`. */
static int buffers_param(const msgpack_object *params, plan_known_file **out, size_t *n,
                         char *err, size_t errlen)
{
  *out = NULL;
  *n = 0;
  const msgpack_object *b = rpc_map_get(params, "buffers");
  if (!b || b->type == MSGPACK_OBJECT_NIL) {
    return 0;
  }
  if (b->type != MSGPACK_OBJECT_MAP || b->via.map.size > HOST_PLAN_BUFFERS_MAX) {
    snprintf(err, errlen, "'buffers' must be a map {path: line count} of at most %d files",
             HOST_PLAN_BUFFERS_MAX);
    return -1;
  }
  plan_known_file *k = xcalloc(b->via.map.size ? b->via.map.size : 1, sizeof(*k));
  for (uint32_t i = 0; i < b->via.map.size; i++) {
    const msgpack_object_kv *kv = &b->via.map.ptr[i];
    if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size == 0 ||
        kv->key.via.str.size >= 4096 || memchr(kv->key.via.str.ptr, '\0', kv->key.via.str.size) ||
        kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER || kv->val.via.u64 > (1u << 30)) {
      snprintf(err, errlen, "'buffers' must map each path to its line count (a number)");
      known_free(k, i);
      return -1;
    }
    k[i].path = xstrndup(kv->key.via.str.ptr, kv->key.via.str.size);
    k[i].nlines = (long)kv->val.via.u64;
  }
  *out = k;
  *n = b->via.map.size;
  return 0;
}

void host_call_plan_validate(host *h, uint64_t msgid, int64_t call_id,
                             const msgpack_object *params)
{
  const char *text;
  size_t len;
  char *root;
  if (params->type != MSGPACK_OBJECT_MAP ||
      rpc_map_str(params, "text", &text, &len) != RPC_GET_OK || len > HOST_PLAN_MAX) {
    host_answer(h, msgid, call_id, "plan_validate needs 'text' (the plan, at most 1 MiB)", NULL);
    return;
  }
  int answer = 0;
  if (rpc_map_bool(params, "answer", &answer) == RPC_GET_WRONG_TYPE) {
    host_answer(h, msgid, call_id, "'answer' must be a boolean", NULL);
    return;
  }
  plan_known_file *known;
  size_t nknown;
  char err[200];
  if (buffers_param(params, &known, &nknown, err, sizeof(err))) {
    host_answer(h, msgid, call_id, err, NULL);
    return;
  }
  if (root_param(h, msgid, call_id, params, &root)) {
    known_free(known, nknown);
    return;
  }
  plan_job *j = xcalloc(1, sizeof(*j));
  *j = (plan_job){.h = h, .msgid = msgid, .call_id = call_id, .kind = JOB_VALIDATE,
                  .answer = answer, .text = xstrndup(text, len), .len = len, .root = root,
                  .known = known, .nknown = nknown};
  job_submit(j);
}

void host_call_plan_store(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params,
                          int save)
{
  char *root;
  if (params->type != MSGPACK_OBJECT_MAP) {
    host_answer(h, msgid, call_id, "params must be a map", NULL);
    return;
  }
  json_t *plan = NULL;
  if (save) {
    const msgpack_object *p = rpc_map_get(params, "plan");
    plan = p && p->type == MSGPACK_OBJECT_MAP ? to_json(p, 6) : NULL;
    if (!plan) {
      host_answer(h, msgid, call_id, "plan_save needs 'plan': {goal, task_id, planner?, steps}",
                  NULL);
      return;
    }
  }
  if (root_param(h, msgid, call_id, params, &root)) {
    json_decref(plan);
    return;
  }
  plan_job *j = xcalloc(1, sizeof(*j));
  *j = (plan_job){.h = h, .msgid = msgid, .call_id = call_id,
                  .kind = save ? JOB_SAVE : JOB_LOAD, .root = root, .plan = plan};
  job_submit(j);
}
