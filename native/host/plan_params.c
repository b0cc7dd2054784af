/* The host's side of plans: the `plan` param of `run` (one step of the editor's plan buffer)
 * and the `plan_validate` method. */
#include "host/host_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/plan_exec.h"

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
      host_param_str(plan, "task_id", &op->plan_task_id, err, errlen)) {
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
  if (!getcwd(cwd, sizeof(cwd))) {
    snprintf(op->err, sizeof(op->err), "the host's current directory cannot be read");
    return -1;
  }
  plan_steps_validate(&op->plan_steps, cwd);
  const char *goal = op->plan_goal ? op->plan_goal : op->plan_steps.goal;
  const char *text = op->text.data ? op->text.data : "";
  action_request keep = op->req;
  if (plan_step_request(&op->plan_steps, op->plan_n, goal, text, op->text.len, &op->req,
                        &op->plan_instr, op->err, sizeof(op->err))) {
    return -1;
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
  plan_steps_free(&op->plan_steps);
  buf_free(&op->plan_instr);
}

/* ---- plan_validate ---- */

typedef struct {
  host *h;
  uint64_t msgid;
  int64_t call_id;
  char *text;
  size_t len;
  char *root;
  json_t *result;
  char err[600];
  uv_work_t work;
} validate_job;

static void validate_work(uv_work_t *w)
{
  validate_job *j = w->data;
  char cwd[PATH_MAX];
  const char *root = j->root;
  if (!root) {
    root = getcwd(cwd, sizeof(cwd));
  }
  if (!root) {
    snprintf(j->err, sizeof(j->err), "the host's current directory cannot be read");
    return;
  }
  j->result = plan_validate_json(j->text, j->len, root, j->err, sizeof(j->err));
}

static void validate_done(uv_work_t *w, int status)
{
  validate_job *j = w->data;
  host *h = j->h;
  h->live_ops--;
  if (status == 0 && !h->closing) {
    host_answer(h, j->msgid, j->call_id, j->result ? NULL : j->err, j->result);
  }
  json_decref(j->result);
  free(j->text);
  free(j->root);
  free(j);
  host_release(h);
}

void host_call_plan_validate(host *h, uint64_t msgid, int64_t call_id,
                             const msgpack_object *params)
{
  const char *text;
  size_t len;
  char err[300];
  char *root = NULL;
  if (params->type != MSGPACK_OBJECT_MAP || rpc_map_str(params, "text", &text, &len) != RPC_GET_OK ||
      len > HOST_PLAN_MAX) {
    host_answer(h, msgid, call_id, "plan_validate needs 'text' (the plan, at most 1 MiB)", NULL);
    return;
  }
  if (host_param_str(params, "root", &root, err, sizeof(err))) {
    host_answer(h, msgid, call_id, err, NULL);
    return;
  }
  if (root && root[0] != '/') {
    free(root);
    host_answer(h, msgid, call_id, "'root' must be an absolute directory", NULL);
    return;
  }
  validate_job *j = xcalloc(1, sizeof(*j));
  *j = (validate_job){.h = h, .msgid = msgid, .call_id = call_id, .text = xstrndup(text, len),
                      .len = len, .root = root};
  j->work.data = j;
  h->live_ops++;
  if (!h->loop) {
    validate_work(&j->work);
    validate_done(&j->work, 0);
  } else if (uv_queue_work(h->loop, &j->work, validate_work, validate_done)) {
    snprintf(j->err, sizeof(j->err), "cannot start checking the plan");
    json_decref(j->result);
    j->result = NULL;
    h->live_ops--;
    host_answer(h, msgid, call_id, j->err, NULL);
    free(j->text);
    free(j->root);
    free(j);
  }
}
