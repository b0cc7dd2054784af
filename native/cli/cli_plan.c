/* cli_plan: a plan from Full, then each step on the tier its action routes to, one fresh request
 * per step with the context of its own target, applied (--apply) before the next one runs. */
#include "cli/cli_plan.h"

#include <jansson.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "edit/apply.h"
#include "ledger/ledger.h"
#include "service/plan_exec.h"
#include "service/plan_steps.h"
#include "service/plan_store.h"
#include "service/run.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/path.h"
#include "util/text.h"

#define STEP_FILE_MAX ((size_t)256 << 20)

typedef struct {
  const frugal_config *cfg;
  const cli_plan_opts *o;
  const action_request *plan_req; /* the plan command's own request */
  uv_loop_t loop;
  llm_client *llm;
  char root[PATH_MAX];
  char task_id[LEDGER_ID_SIZE];
  char store_path[4096];
  int have_store;
  char *goal;
  json_t *doc;      /* the plan as stored (plan_store.h) */
  plan_steps steps;
  /* the call in flight */
  json_t *result;
  char *error;
  double spent;     /* what this invocation paid */
  /* Lines move as steps are applied: a step's LINE is the file's line when the plan was made,
   * so each applied edit that changed the number of lines shifts the lines below it. */
  struct {
    char *path;
    int after;
    int delta;
  } *shifts;
  size_t nshifts;
} plan_exec;

static void shift_add(plan_exec *x, const char *path, int after, int delta)
{
  if (delta == 0) {
    return;
  }
  x->shifts = xrealloc(x->shifts, (x->nshifts + 1) * sizeof(*x->shifts));
  x->shifts[x->nshifts].path = xstrdup(path);
  x->shifts[x->nshifts].after = after;
  x->shifts[x->nshifts].delta = delta;
  x->nshifts++;
}

/* `line` of `path` as of the plan, moved by the edits applied since, in their order. */
static int shifted(const plan_exec *x, const char *path, int line)
{
  for (size_t i = 0; line > 0 && i < x->nshifts; i++) {
    if (strcmp(x->shifts[i].path, path) == 0 && line > x->shifts[i].after) {
      line += x->shifts[i].delta;
      if (line <= x->shifts[i].after) {
        line = x->shifts[i].after + 1;
      }
    }
  }
  return line;
}

/* The shift an applied edit {start_line, end_line, replacement} makes, as {after, delta}. */
static json_t *edit_shift(const json_t *edit)
{
  if (!json_is_object(edit)) {
    return json_null();
  }
  json_int_t start = json_integer_value(json_object_get(edit, "start_line"));
  json_int_t end = json_integer_value(json_object_get(edit, "end_line"));
  const char *rep = json_string_value(json_object_get(edit, "replacement"));
  json_int_t lines = 0;
  size_t n = rep ? strlen(rep) : 0;
  for (size_t i = 0; i < n; i++) {
    lines += rep[i] == '\n';
  }
  if (n > 0 && rep[n - 1] != '\n') {
    lines++;
  }
  return json_pack("{s:I,s:I}", "after", end, "delta", lines - (end - start + 1));
}

static void shift_replay(plan_exec *x, const char *path, const json_t *shift)
{
  if (json_is_object(shift)) {
    shift_add(x, path, (int)json_integer_value(json_object_get(shift, "after")),
              (int)json_integer_value(json_object_get(shift, "delta")));
  }
}

static void on_retry(action_run *run, int attempt, double delay_ms, const char *why, void *data)
{
  fprintf(stderr, "frugal: retrying in %.1f s (attempt %d): %s\n", delay_ms / 1000.0, attempt,
          why);
}

static void on_escalate(action_run *run, const char *why, const char *model, void *data)
{
  fprintf(stderr, "frugal: the mini answer cannot be used (%s); asking %s\n", why, model);
}

static void on_start(action_run *run, const action_plan *plan, void *data)
{
  const char *w = action_run_warning(run);
  if (w) {
    fprintf(stderr, "frugal: warning: %s\n", w);
  }
}

static void on_done(action_run *run, const char *error, json_t *result, void *data)
{
  plan_exec *x = data;
  x->result = result ? json_incref(result) : NULL;
  x->error = error ? xstrdup(error) : NULL;
}

static const action_run_callbacks run_cb = {on_start, NULL, on_retry, on_escalate, on_done};

/* What a finished call cost, its escalated first attempt included; -1 when unknown. */
static double result_cost(const json_t *r)
{
  const json_t *c = json_object_get(r, "cost_usd");
  if (!json_is_number(c)) {
    return -1;
  }
  double v = json_number_value(c);
  const json_t *esc = json_object_get(r, "escalated");
  if (json_is_object(esc) && json_is_number(json_object_get(esc, "cost_usd"))) {
    v += json_number_value(json_object_get(esc, "cost_usd"));
  }
  return v;
}

/* One model call, run to its end on the loop. Returns 0 when it started (x->result / x->error
 * then hold its end), or -1 with the reason in `err`. */
static int call(plan_exec *x, const action_request *req, const char *text, size_t len, char *err,
                size_t errlen)
{
  json_decref(x->result);
  x->result = NULL;
  free(x->error);
  x->error = NULL;
  if (!action_run_start(x->llm, x->cfg, req, text, len, &run_cb, x, err, errlen)) {
    return -1;
  }
  uv_run(&x->loop, UV_RUN_DEFAULT);
  double c = x->result ? result_cost(x->result) : -1;
  if (c > 0) {
    x->spent += c;
  }
  return 0;
}

/* ---- the stored plan ---- */

static json_t *doc_new(plan_exec *x, json_t *planner)
{
  json_t *d = json_pack("{s:i,s:s,s:s?,s:s,s:o}", "version", 1, "root", x->root, "goal", x->goal,
                        "task_id", x->task_id, "planner", planner ? planner : json_null());
  json_t *steps = json_array();
  for (size_t i = 0; i < x->steps.count; i++) {
    const plan_step *st = &x->steps.steps[i];
    if (!st->action[0] || !st->path || !st->instruction) {
      continue; /* a malformed line is not kept; it is reported as it is read */
    }
    json_t *s = json_object();
    json_object_set_new(s, "n", json_integer((json_int_t)json_array_size(steps) + 1));
    json_object_set_new(s, "action", json_string(st->action));
    json_object_set_new(s, "path", json_string(st->path));
    json_object_set_new(s, "line", st->line > 0 ? json_integer(st->line) : json_null());
    json_object_set_new(s, "instruction", json_string(st->instruction));
    json_object_set_new(s, "status", json_string("pending"));
    json_object_set_new(s, "tier", json_null());
    json_object_set_new(s, "model", json_null());
    json_object_set_new(s, "cost_usd", json_null());
    json_object_set_new(s, "problem", json_null());
    json_array_append_new(steps, s);
  }
  json_object_set_new(d, "steps", steps);
  return d;
}

/* The stored step that is `st` (same action, path, line and instruction), or NULL. */
static json_t *doc_step(json_t *doc, const plan_step *st)
{
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(doc, "steps"), i, s) {
    json_int_t line = json_integer_value(json_object_get(s, "line"));
    if (st->action[0] && st->path && st->instruction &&
        strcmp(json_string_value(json_object_get(s, "action")), st->action) == 0 &&
        strcmp(json_string_value(json_object_get(s, "path")), st->path) == 0 &&
        strcmp(json_string_value(json_object_get(s, "instruction")), st->instruction) == 0 &&
        line == st->line) {
      return s;
    }
  }
  return NULL;
}

static void save(plan_exec *x)
{
  char err[600];
  if (x->have_store && plan_store_save(x->store_path, x->doc, err, sizeof(err))) {
    fprintf(stderr, "frugal: %s\n", err);
  }
}

/* The stored plan's steps as plan lines, to parse them as any plan is read. */
static char *doc_text(const json_t *doc)
{
  buf_t b = BUF_INIT;
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(doc, "steps"), i, s) {
    json_int_t line = json_integer_value(json_object_get(s, "line"));
    buf_printf(&b, "%zu. %s %s", i + 1, json_string_value(json_object_get(s, "action")),
               json_string_value(json_object_get(s, "path")));
    if (line > 0) {
      buf_printf(&b, ":%lld", (long long)line);
    }
    buf_printf(&b, " - %s\n", json_string_value(json_object_get(s, "instruction")));
  }
  buf_putc(&b, '\0');
  return buf_detach(&b);
}

/* 1 when the stored step needs no new request in this mode. */
static int finished(const json_t *s, int apply)
{
  const char *status = json_string_value(json_object_get(s, "status"));
  return status && (strcmp(status, "applied") == 0 || (!apply && strcmp(status, "proposed") == 0));
}

static int doc_unfinished(const json_t *doc, int apply)
{
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(doc, "steps"), i, s) {
    if (!finished(s, apply)) {
      return 1;
    }
  }
  return 0;
}

/* ---- one step ---- */

typedef struct {
  const char *status;
  char problem[1400];
  json_t *result;   /* the step's run result, or NULL */
} step_outcome;

/* The file after replacing lines start..end of `t` with `rep`. */
static char *replace_lines(const text_t *t, int start, int end, const char *rep, size_t *len)
{
  buf_t b = BUF_INIT;
  size_t a = text_line_start(t, start);
  size_t z = end >= start ? text_line_end(t, end) : a;
  buf_append(&b, t->data, a);
  size_t rn = strlen(rep);
  buf_append(&b, rep, rn);
  if (rn > 0 && rep[rn - 1] != '\n' && z < t->len) {
    buf_putc(&b, '\n');
  }
  buf_append(&b, t->data + z, t->len - z);
  *len = b.len;
  buf_putc(&b, '\0');
  return buf_detach(&b);
}

/* Writes one file's new text all-or-nothing (edit_write_all). `old` NULL: a new file. */
static int write_file(const char *path, const char *old, size_t oldlen, char *text, size_t len,
                      char *err, size_t errlen)
{
  edit_source src = {path, old, oldlen};
  edit_file f = {.path = (char *)path, .source = old ? 0 : -1, .is_new = !old, .text = text,
                 .len = len};
  edit_proposal p = {.files = &f, .nfiles = 1, .notes = NULL};
  edit_write_opts wo = {0};
  return edit_write_all(&p, &src, old ? 1 : 0, &wo, err, errlen);
}

/* Writes what the step's result proposes. Returns 0, or -1 with the reason. */
static int apply_result(const json_t *r, const char *path, const file_contents *fc, int is_new,
                        char *err, size_t errlen)
{
  const json_t *edit = json_object_get(r, "edit");
  const json_t *tests = json_object_get(r, "tests");
  if (json_is_object(edit) && is_new) {
    const char *rep = json_string_value(json_object_get(edit, "replacement"));
    char *text = xstrdup(rep ? rep : "");
    int rc = write_file(path, NULL, 0, text, strlen(text), err, errlen);
    free(text);
    return rc;
  }
  if (json_is_object(edit)) {
    text_t t;
    if (text_init(&t, fc->data, fc->len)) {
      snprintf(err, errlen, "%s: too many lines", path);
      return -1;
    }
    size_t len;
    char *text = replace_lines(&t, (int)json_integer_value(json_object_get(edit, "start_line")),
                        (int)json_integer_value(json_object_get(edit, "end_line")),
                        json_string_value(json_object_get(edit, "replacement")), &len);
    text_free(&t);
    int rc = write_file(path, fc->data, fc->len, text, len, err, errlen);
    free(text);
    return rc;
  }
  if (json_is_object(tests)) {
    const char *tp = json_string_value(json_object_get(tests, "path"));
    const char *content = json_string_value(json_object_get(tests, "content"));
    if (!tp || !content) {
      snprintf(err, errlen, "the tests answer names no file");
      return -1;
    }
    file_contents old;
    char lerr[600];
    int exists = file_load(&old, tp, STEP_FILE_MAX, lerr, sizeof(lerr)) == 0;
    buf_t b = BUF_INIT;
    if (exists) {
      buf_append(&b, old.data, old.len);
      if (old.len > 0 && old.data[old.len - 1] != '\n') {
        buf_putc(&b, '\n');
      }
    }
    buf_puts(&b, content);
    size_t len = b.len;
    buf_putc(&b, '\0');
    int rc = write_file(tp, exists ? old.data : NULL, exists ? old.len : 0, b.data, len, err,
                        errlen);
    buf_free(&b);
    if (exists) {
      file_release(&old);
    }
    return rc;
  }
  return 0; /* explain, review: an answer, nothing to write */
}

static void run_step(plan_exec *x, const plan_step *st, step_outcome *out)
{
  char *abs = st->path[0] == '/' ? xstrdup(st->path) : path_join(x->root, st->path);
  file_contents fc;
  char err[700];
  int is_new = 0;
  if (file_load(&fc, abs, STEP_FILE_MAX, err, sizeof(err))) {
    struct stat sb;
    if (strcmp(st->action, "implement") != 0 || lstat(abs, &sb) == 0 || errno != ENOENT) {
      out->status = "failed";
      snprintf(out->problem, sizeof(out->problem), "%s", err);
      free(abs);
      return;
    }
    /* implement in a file that does not exist yet: the step writes it from nothing */
    fc = (file_contents){.data = "", .len = 0};
    is_new = 1;
  }
  buf_t instr = BUF_INIT;
  action_request req;
  if (plan_step_request(&x->steps, st->n, x->goal, fc.data, fc.len, &req, &instr, err,
                        sizeof(err))) {
    out->status = "failed";
    snprintf(out->problem, sizeof(out->problem), "%s", err);
    buf_free(&instr);
    file_release(&fc);
    free(abs);
    return;
  }
  req.budget_override = x->plan_req->budget_override;
  req.ledger_path = x->plan_req->ledger_path;
  req.task_id = x->task_id;
  if (call(x, &req, fc.data, fc.len, err, sizeof(err))) {
    out->status = "failed";
    snprintf(out->problem, sizeof(out->problem), "%s", err);
  } else {
    out->result = x->result ? json_incref(x->result) : NULL;
    const json_t *problem = json_object_get(x->result, "problem");
    if (x->error) {
      out->status = "failed";
      snprintf(out->problem, sizeof(out->problem), "%s", x->error);
    } else if (json_is_string(problem)) {
      out->status = "failed";
      snprintf(out->problem, sizeof(out->problem), "the answer cannot be used: %s",
               json_string_value(problem));
    } else if (!x->o->apply) {
      out->status = "proposed";
    } else if (apply_result(x->result, abs, &fc, is_new, err, sizeof(err))) {
      out->status = "failed";
      snprintf(out->problem, sizeof(out->problem), "the edit cannot be applied: %s", err);
    } else {
      out->status = "applied";
    }
  }
  buf_free(&instr);
  file_release(&fc);
  free(abs);
}

static json_t *num_or_null(double v)
{
  return v >= 0 ? json_real(v) : json_null();
}

/* Runs the steps in order; returns the "results" array and sets *failed. */
static json_t *execute(plan_exec *x, int *failed)
{
  json_t *results = json_array();
  int stop = 0;
  for (size_t i = 0; i < x->steps.count; i++) {
    const plan_step *st = &x->steps.steps[i];
    json_t *stored = doc_step(x->doc, st);
    json_t *r = json_object();
    json_object_set_new(r, "n", json_integer(st->n));
    step_outcome oc = {0};
    if (stop) {
      oc.status = "skipped";
      snprintf(oc.problem, sizeof(oc.problem), "step %d failed", stop);
    } else if (st->problem) {
      oc.status = "failed";
      snprintf(oc.problem, sizeof(oc.problem), "%s", st->problem);
    } else if (stored && finished(stored, x->o->apply)) {
      json_object_set(r, "tier", json_object_get(stored, "tier"));
      json_object_set(r, "model", json_object_get(stored, "model"));
      json_object_set(r, "status", json_object_get(stored, "status"));
      json_object_set(r, "cost_usd", json_object_get(stored, "cost_usd"));
      json_object_set_new(r, "problem", json_null());
      json_object_set_new(r, "resumed", json_true());
      json_array_append_new(results, r);
      shift_replay(x, st->path, json_object_get(stored, "shift"));
      fprintf(stderr, "frugal: step %d: %s earlier, not run again\n", st->n,
              json_string_value(json_object_get(stored, "status")));
      continue;
    } else {
      int line = x->steps.steps[i].line;
      x->steps.steps[i].line = shifted(x, st->path, line);
      run_step(x, st, &oc);
      x->steps.steps[i].line = line;
    }
    const json_t *res = oc.result;
    json_object_set_new(r, "tier", json_is_string(json_object_get(res, "tier"))
                                     ? json_incref(json_object_get(res, "tier")) : json_null());
    json_object_set_new(r, "model", json_is_string(json_object_get(res, "model"))
                                      ? json_incref(json_object_get(res, "model")) : json_null());
    json_object_set_new(r, "status", json_string(oc.status));
    json_object_set_new(r, "cost_usd", res ? num_or_null(result_cost(res)) : json_null());
    json_object_set_new(r, "problem", oc.problem[0] ? json_string(oc.problem) : json_null());
    json_object_set_new(r, "resumed", json_false());
    if (res) {
      json_object_set(r, "edit", json_object_get(res, "edit"));
      json_object_set(r, "tests", json_object_get(res, "tests"));
      json_object_set(r, "findings", json_object_get(res, "findings"));
      json_object_set(r, "text", json_object_get(res, "text"));
    }
    if (strcmp(oc.status, "applied") == 0 && res) {
      json_t *sh = edit_shift(json_object_get(res, "edit"));
      shift_replay(x, st->path, sh);
      json_decref(sh);
    }
    if (strcmp(oc.status, "failed") == 0 && !stop) {
      stop = st->n;
      *failed = 1;
    }
    if (stored) {
      json_object_set(stored, "status", json_object_get(r, "status"));
      json_object_set(stored, "tier", json_object_get(r, "tier"));
      json_object_set(stored, "model", json_object_get(r, "model"));
      json_object_set(stored, "cost_usd", json_object_get(r, "cost_usd"));
      json_object_set(stored, "problem", json_object_get(r, "problem"));
      json_object_set_new(stored, "shift", strcmp(oc.status, "applied") == 0 && res
                                              ? edit_shift(json_object_get(res, "edit"))
                                              : json_null());
      save(x);
    }
    if (!x->o->json) {
      fprintf(stderr, "frugal: step %d: %s", st->n, oc.status);
      if (res) {
        fprintf(stderr, " (%s, %s)", json_string_value(json_object_get(r, "tier")),
                json_string_value(json_object_get(r, "model")));
      }
      fprintf(stderr, "%s%s\n", oc.problem[0] ? ": " : "", oc.problem);
    }
    json_decref(oc.result);
    json_array_append_new(results, r);
  }
  return results;
}

/* ---- the command ---- */

static void print_steps_text(const plan_steps *s)
{
  for (size_t i = 0; i < s->count; i++) {
    const plan_step *st = &s->steps[i];
    if (st->action[0] && st->path) {
      printf("%d. %s %s", st->n, st->action, st->path);
      if (st->line > 0) {
        printf(":%d", st->line);
      }
      printf(" - %s\n", st->instruction ? st->instruction : "");
    }
    if (st->problem) {
      printf("   ^ step %d (plan line %d): %s\n", st->n, st->text_line, st->problem);
    }
  }
}

int cli_plan_run(const frugal_config *cfg, const action_request *req, const char *text, size_t len,
                 const cli_plan_opts *o)
{
  plan_exec x = {.cfg = cfg, .o = o, .plan_req = req};
  char err[700];
  if (!getcwd(x.root, sizeof(x.root))) {
    fprintf(stderr, "frugal: the current directory cannot be read\n");
    return 1;
  }
  x.have_store = plan_store_path(x.root, x.store_path, sizeof(x.store_path)) == 0;
  json_t *stored = NULL;
  if (x.have_store) {
    stored = plan_store_load(x.store_path, err, sizeof(err));
    if (!stored && err[0]) {
      fprintf(stderr, "frugal: %s\n", err);
    }
    if (stored && strcmp(json_string_value(json_object_get(stored, "root")), x.root) != 0) {
      json_decref(stored);
      stored = NULL;
    }
  }
  json_t *planner = NULL;
  int rc = 0;
  int resumed = 0;
  if (uv_loop_init(&x.loop)) {
    fprintf(stderr, "frugal: no event loop\n");
    json_decref(stored);
    return 1;
  }
  llm_client_opts lo = {.ca_file = cfg->http_ca_file, .proxy = cfg->http_proxy};
  x.llm = llm_client_new(&x.loop, &lo, err, sizeof(err));
  if (!x.llm) {
    fprintf(stderr, "frugal: %s\n", err);
    uv_loop_close(&x.loop);
    json_decref(stored);
    return 1;
  }
  const char *goal = req->instruction;
  if (o->plan_file) {
    file_contents pf;
    if (file_load(&pf, o->plan_file, (size_t)1 << 20, err, sizeof(err))) {
      fprintf(stderr, "frugal: %s\n", err);
      rc = 2;
      goto out;
    }
    int prc = plan_steps_parse(pf.data, pf.len, &x.steps, err, sizeof(err));
    file_release(&pf);
    if (prc) {
      fprintf(stderr, "frugal: %s: %s\n", o->plan_file, err);
      rc = 2;
      goto out;
    }
    if (!goal || !*goal) {
      goal = x.steps.goal;
    }
    x.goal = goal ? xstrdup(goal) : NULL;
    const char *sg = json_string_value(json_object_get(stored, "goal"));
    if (stored && ((!sg && !x.goal) || (sg && x.goal && strcmp(sg, x.goal) == 0))) {
      /* the same plan, edited: keep its task and the status of the steps left as they were */
      snprintf(x.task_id, sizeof(x.task_id), "%s",
               json_string_value(json_object_get(stored, "task_id")));
      planner = json_incref(json_object_get(stored, "planner"));
    }
  } else {
    const char *sg = json_string_value(json_object_get(stored, "goal"));
    x.goal = goal ? xstrdup(goal) : NULL;
    if (stored && sg && x.goal && strcmp(sg, x.goal) == 0 && doc_unfinished(stored, o->apply)) {
      /* resume: the same goal's plan, not finished: no new plan request */
      char *t = doc_text(stored);
      plan_steps_parse(t, strlen(t), &x.steps, err, sizeof(err));
      free(t);
      snprintf(x.task_id, sizeof(x.task_id), "%s",
               json_string_value(json_object_get(stored, "task_id")));
      planner = json_incref(json_object_get(stored, "planner"));
      resumed = 1;
      fprintf(stderr, "frugal: resuming the stored plan for this goal (%s)\n", x.store_path);
    } else {
      ledger_new_id(x.task_id);
      action_request pr = *req;
      pr.task_id = x.task_id;
      if (call(&x, &pr, text, len, err, sizeof(err))) {
        fprintf(stderr, "frugal: %s: %s\n", req->path, err);
        rc = 2;
        goto out;
      }
      if (x.error || !x.result) {
        if (o->json && x.result) {
          char *s = json_dumps(x.result, JSON_COMPACT);
          puts(s);
          free(s);
        }
        fprintf(stderr, "frugal: %s\n", x.error ? x.error : "the plan call failed");
        rc = 1;
        goto out;
      }
      planner = json_incref(x.result);
      const char *ptext = json_string_value(json_object_get(planner, "text"));
      if (plan_steps_parse_answer(ptext ? ptext : "", ptext ? strlen(ptext) : 0, &x.steps,
                                  err, sizeof(err))) {
        fprintf(stderr, "frugal: the plan cannot be read: %s\n", err);
        rc = 1;
      }
    }
  }
  if (!x.task_id[0]) {
    ledger_new_id(x.task_id);
  }
  plan_steps_validate(&x.steps, x.root);
  x.doc = doc_new(&x, planner ? json_incref(planner) : NULL);
  if (stored && x.task_id[0] &&
      strcmp(x.task_id, json_string_value(json_object_get(stored, "task_id"))) == 0) {
    /* carry the status of the steps that stayed the same */
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(x.doc, "steps"), i, s) {
      plan_step probe = {0};
      snprintf(probe.action, sizeof(probe.action), "%s",
               json_string_value(json_object_get(s, "action")));
      probe.path = (char *)json_string_value(json_object_get(s, "path"));
      probe.instruction = (char *)json_string_value(json_object_get(s, "instruction"));
      probe.line = (int)json_integer_value(json_object_get(s, "line"));
      json_t *old = doc_step(stored, &probe);
      if (old) {
        const char *keys[] = {"status", "tier", "model", "cost_usd", "problem"};
        for (size_t k = 0; k < 5; k++) {
          json_object_set(s, keys[k], json_object_get(old, keys[k]));
        }
      }
    }
  }
  save(&x);
  if (x.steps.count == 0 && rc == 0) {
    fprintf(stderr, "frugal: the plan has no steps\n");
    rc = 1;
  }
  json_t *out = planner && json_is_object(planner) ? json_deep_copy(planner) : json_object();
  if (!planner || !json_is_object(planner)) {
    json_object_set_new(out, "action", json_string("plan"));
  }
  json_object_set_new(out, "steps", plan_steps_json(&x.steps, 1));
  json_object_set_new(out, "resumed", json_boolean(resumed));
  if (resumed || o->plan_file) {
    json_object_set_new(out, "cost_usd", json_real(x.spent)); /* no plan call in this run */
  }
  json_object_set_new(out, "plan_store", x.have_store ? json_string(x.store_path) : json_null());
  if (o->execute && rc == 0) {
    int failed = 0;
    json_object_set_new(out, "results", execute(&x, &failed));
    json_object_set_new(out, "cost_usd", json_real(x.spent));
    if (failed) {
      rc = 1;
    }
  }
  if (o->json) {
    char *s = json_dumps(out, JSON_COMPACT);
    if (s) {
      puts(s);
      free(s);
    }
  } else {
    print_steps_text(&x.steps);
    if (o->execute) {
      fprintf(stderr, "frugal: the plan and its steps cost $%.4f in this run\n", x.spent);
    }
  }
  json_decref(out);
out:
  json_decref(planner);
  json_decref(stored);
  json_decref(x.doc);
  json_decref(x.result);
  free(x.error);
  free(x.goal);
  plan_steps_free(&x.steps);
  for (size_t i = 0; i < x.nshifts; i++) {
    free(x.shifts[i].path);
  }
  free(x.shifts);
  llm_client_free(x.llm);
  uv_run(&x.loop, UV_RUN_DEFAULT);
  uv_loop_close(&x.loop);
  return rc;
}
