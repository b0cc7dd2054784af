#include "host/host_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void host_logf(host *h, const char *fmt, ...)
{
  if (!h->log) {
    return;
  }
  char line[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  h->log(h->log_data, line);
}

static host_cfg *cfg_ref(host_cfg *c)
{
  c->refs++;
  return c;
}

void host_cfg_unref(host_cfg *c)
{
  if (c && --c->refs == 0) {
    config_free(&c->cfg);
    free(c);
  }
}

static void pack_json_cb(msgpack_packer *pk, void *data)
{
  host_pack_json(pk, data);
}

typedef struct {
  int64_t id;
  const char *err;
  const json_t *result;
} reply_args;

static void pack_reply(msgpack_packer *pk, void *data)
{
  const reply_args *a = data;
  msgpack_pack_array(pk, 2);
  rpc_pack_cstr(pk, "return require('frugal.host')._reply(...)");
  msgpack_pack_array(pk, 3);
  msgpack_pack_int64(pk, a->id);
  if (a->err) {
    rpc_pack_cstr(pk, a->err);
  } else {
    msgpack_pack_nil(pk);
  }
  if (a->result) {
    host_pack_json(pk, a->result);
  } else {
    msgpack_pack_nil(pk);
  }
}

static void on_reply_done(rpc_channel *ch, const msgpack_object *error,
                          const msgpack_object *result, void *data)
{
  host *h = data;
  h->live_ops--;
  if (error && !h->closing) {
    size_t n = 0;
    const char *msg = rpc_error_text(error, &n);
    host_logf(h, "the editor rejected a reply: %.*s", (int)n, msg ? msg : "?");
  }
  host_release(h);
}

/* Sends the answer for a call: a response to a request, or the _reply call for frugal_call. */
void host_answer(host *h, uint64_t msgid, int64_t call_id, const char *err,
                        const json_t *result)
{
  if (h->closing) {
    return;
  }
  if (msgid != RPC_NOTIFY) {
    if (err) {
      rpc_respond_error(h->ch, msgid, 0, err);
    } else {
      rpc_respond(h->ch, msgid, pack_json_cb, (void *)result);
    }
    return;
  }
  reply_args a = {call_id, err, result};
  h->live_ops++;
  rpc_request(h->ch, "nvim_exec_lua", pack_reply, &a, on_reply_done, h);
}

void host_release(host *h)
{
  if (h->freed && h->live_ops == 0) {
    host_convs_free(h);
    host_cfg_unref(h->cfg);
    plan_mapshare_free(h->mapshare);
    free(h);
  }
}

/* ---- preview, context, route: off the loop ------------------------------------------------ */

/* Worker thread: packages and routes (reads the other files in scope, walks the project for a
 * run's test conventions). Touches only the op and its configuration snapshot. */
static void op_work(uv_work_t *w)
{
  host_op *op = w->data;
  const char *text = op->text.data ? op->text.data : "";
  if (op->plan_n && host_plan_step_prepare(op)) {
    op->rc = -1;
  } else if (op->is_run) {
    op->conv = action_run_prepare(&op->cfg->cfg, &op->req, text, op->text.len, op->err,
                                  sizeof(op->err));
    op->rc = op->conv ? 0 : -1;
  } else {
    op->rc = action_preview(&op->cfg->cfg, &op->req, text, op->text.len, op->parts, &op->result,
                            op->err, sizeof(op->err));
  }
}

/* Loop: answers (or starts the run) and frees the op. */
static void op_done(uv_work_t *w, int status)
{
  host_op *op = w->data;
  host *h = op->h;
  h->live_ops--;
  if (h->closing || status == UV_ECANCELED) {
    host_op_free(op);
    host_release(h);
    return;
  }
  if (op->rc) {
    host_answer(h, op->msgid, op->call_id, op->err, NULL);
    host_op_free(op);
  } else if (op->is_run) {
    host_start_run(op);
  } else {
    host_answer(h, op->msgid, op->call_id, NULL, op->result);
    host_op_free(op);
  }
  host_release(h);
}

/* Runs the op's disk work on the loop's thread pool (inline without a loop) and answers. */
static void op_submit(host_op *op)
{
  host *h = op->h;
  op->work.data = op;
  if (!h->loop) {
    h->live_ops++;
    op_work(&op->work);
    op_done(&op->work, 0);
    return;
  }
  h->live_ops++;
  int rc = uv_queue_work(h->loop, &op->work, op_work, op_done);
  if (rc) {
    h->live_ops--;
    char err[160];
    snprintf(err, sizeof(err), "cannot start the work: %s", uv_strerror(rc));
    host_answer(h, op->msgid, op->call_id, err, NULL);
    host_op_free(op);
  }
}

/* ---- reading the editor's buffer --------------------------------------------------------- */

/* An editor answer for `op` arrived: drops the op's hold on the host. Returns 1 when the host is
 * closing (the op is then freed, and the host with it if that was the last hold). */
static int op_answer_dropped(host_op *op)
{
  host *h = op->h;
  h->live_ops--;
  if (!h->closing) {
    return 0;
  }
  host_op_free(op);
  host_release(h);
  return 1;
}

static void on_buf_lines(rpc_channel *ch, const msgpack_object *error,
                         const msgpack_object *result, void *data)
{
  host_op *op = data;
  host *h = op->h;
  if (op_answer_dropped(op)) {
    return;
  }
  char err[512];
  if (error) {
    size_t n = 0;
    const char *msg = rpc_error_text(error, &n);
    snprintf(err, sizeof(err), "cannot read buffer %lld: %.*s", (long long)op->bufnr, (int)n,
             msg ? msg : "editor error");
    host_answer(h, op->msgid, op->call_id, err, NULL);
    host_op_free(op);
    return;
  }
  if (!result || host_params_lines(&op->text, result, err, sizeof(err))) {
    host_answer(h, op->msgid, op->call_id, "the editor returned malformed buffer lines", NULL);
    host_op_free(op);
    return;
  }
  op_submit(op);
}

static void pack_get_lines(msgpack_packer *pk, void *data)
{
  const host_op *op = data;
  msgpack_pack_array(pk, 4);
  msgpack_pack_int64(pk, op->bufnr);
  msgpack_pack_int64(pk, 0);
  msgpack_pack_int64(pk, -1);
  msgpack_pack_true(pk);
}

/* The buffer's size comes first, so a buffer too large for one RPC frame is refused by name
 * instead of its lines arriving as a frame the channel must reject (which would end the host
 * and every run in flight). */
static const char buf_size_lua[] =
  "local b = ... if b == 0 then b = vim.api.nvim_get_current_buf() end "
  "local n = vim.api.nvim_buf_line_count(b) return {n, vim.api.nvim_buf_get_offset(b, n)}";

static void pack_buf_size(msgpack_packer *pk, void *data)
{
  const host_op *op = data;
  msgpack_pack_array(pk, 2);
  rpc_pack_cstr(pk, buf_size_lua);
  msgpack_pack_array(pk, 1);
  msgpack_pack_int64(pk, op->bufnr);
}

static void on_buf_size(rpc_channel *ch, const msgpack_object *error,
                        const msgpack_object *result, void *data)
{
  host_op *op = data;
  host *h = op->h;
  if (op_answer_dropped(op)) {
    return;
  }
  int64_t lines = -1, bytes = -1;
  if (!error && result && result->type == MSGPACK_OBJECT_ARRAY && result->via.array.size == 2) {
    rpc_obj_int(&result->via.array.ptr[0], &lines);
    rpc_obj_int(&result->via.array.ptr[1], &bytes);
  }
  char err[512];
  if (error || lines < 0 || bytes < 0) {
    size_t n = 0;
    const char *msg = error ? rpc_error_text(error, &n) : NULL;
    snprintf(err, sizeof(err), "cannot read buffer %lld: %.*s", (long long)op->bufnr, (int)n,
             msg ? msg : "the editor did not say its size");
    host_answer(h, op->msgid, op->call_id, err, NULL);
    host_op_free(op);
    return;
  }
  /* Each line costs a few bytes of msgpack framing on top of its text. */
  if ((uint64_t)bytes + 5 * (uint64_t)lines > HOST_MAX_BUFFER_BYTES) {
    snprintf(err, sizeof(err),
             "buffer %lld is %.1f MB (%lld lines): larger than the %u MB frugal reads from the "
             "editor; select the part you mean, or use the CLI on the file",
             (long long)op->bufnr, (double)bytes / 1e6, (long long)lines,
             HOST_MAX_BUFFER_BYTES / (1024 * 1024));
    host_answer(h, op->msgid, op->call_id, err, NULL);
    host_op_free(op);
    return;
  }
  h->live_ops++;
  rpc_request(h->ch, "nvim_buf_get_lines", pack_get_lines, op, on_buf_lines, op);
}

/* ---- methods -------------------------------------------------------------------------------- */

static void call_action(host *h, uint64_t msgid, int64_t call_id, int parts,
                        const msgpack_object *params)
{
  host_op *op = xcalloc(1, sizeof(*op));
  op->h = h;
  op->cfg = cfg_ref(h->cfg);
  op->msgid = msgid;
  op->call_id = call_id;
  op->parts = parts;
  op->is_run = parts == 0;
  char err[512];
  if (host_params_action(op, params, err, sizeof(err))) {
    host_answer(h, msgid, call_id, err, NULL);
    host_op_free(op);
    return;
  }
  if (op->is_run && !h->loop) {
    host_answer(h, msgid, call_id, "run: this host has no event loop", NULL);
    host_op_free(op);
    return;
  }
  if (op->have_text) {
    op_submit(op);
    return;
  }
  h->live_ops++;
  rpc_request(h->ch, "nvim_exec_lua", pack_buf_size, op, on_buf_size, op);
}

static void call_configure(host *h, uint64_t msgid, int64_t call_id,
                           const msgpack_object *params)
{
  const char *s;
  size_t n;
  if (rpc_map_str(params, "config_json", &s, &n) != RPC_GET_OK) {
    host_answer(h, msgid, call_id, "'config_json' (a JSON string) is required", NULL);
    return;
  }
  /* Configuration always starts from the defaults: a second setup() replaces the first. */
  host_cfg *next = xcalloc(1, sizeof(*next));
  next->refs = 1;
  config_init(&next->cfg);
  char err[600];
  if (config_apply_json(&next->cfg, s, n, "setup()", err, sizeof(err))) {
    host_cfg_unref(next);
    host_answer(h, msgid, call_id, err, NULL);
    return;
  }
  host_cfg_unref(h->cfg); /* work still running keeps its own reference */
  h->cfg = next;
  json_t *ok = json_pack("{s:b}", "ok", 1);
  host_answer(h, msgid, call_id, NULL, ok);
  json_decref(ok);
}

/* ---- cost and outcome: the ledger, off the loop ------------------------------------------- */

typedef struct {
  host *h;
  host_cfg *cfg;
  uint64_t msgid;
  int64_t call_id;
  int is_cost;
  char spec[64];
  char id[LEDGER_ID_SIZE];
  ledger_outcome outcome;
  int rc;
  service_cost_result cost;
  char err[600];
  uv_work_t work;
} ledger_job;

static void ledger_work(uv_work_t *w)
{
  ledger_job *j = w->data;
  if (j->is_cost) {
    service_cost_request req = {.period = j->spec};
    j->rc = service_cost(&j->cfg->cfg, &req, &j->cost, j->err, sizeof(j->err));
    if (j->rc == 0 && j->cost.read_error[0]) {
      /* A ledger that cannot be read is an error here as in `frugal cost` (which also prints
       * the part it read and exits 1): the editor shows the error rather than a report that
       * looks complete. */
      snprintf(j->err, sizeof(j->err), "%s", j->cost.read_error);
      service_cost_result_free(&j->cost);
      j->rc = -1;
    }
  } else {
    service_outcome_request req = {j->id, j->outcome};
    j->rc = service_outcome(&j->cfg->cfg, &req, j->err, sizeof(j->err));
  }
}

static void ledger_done(uv_work_t *w, int status)
{
  ledger_job *j = w->data;
  host *h = j->h;
  h->live_ops--;
  if (status == 0 && j->rc) {
    host_answer(h, j->msgid, j->call_id, j->err, NULL);
  } else if (status == 0) {
    json_t *o = j->is_cost ? service_cost_json(&j->cost) : json_pack("{s:b}", "ok", 1);
    host_answer(h, j->msgid, j->call_id, NULL, o);
    json_decref(o);
  }
  if (j->is_cost && j->rc == 0) {
    service_cost_result_free(&j->cost);
  }
  host_cfg_unref(j->cfg);
  free(j);
  host_release(h);
}

static void ledger_submit(ledger_job *j)
{
  host *h = j->h;
  j->cfg = cfg_ref(h->cfg);
  j->work.data = j;
  h->live_ops++;
  if (!h->loop) {
    ledger_work(&j->work);
    ledger_done(&j->work, 0);
  } else if (uv_queue_work(h->loop, &j->work, ledger_work, ledger_done)) {
    j->rc = -1;
    snprintf(j->err, sizeof(j->err), "cannot start reading the ledger");
    ledger_done(&j->work, 0);
  }
}

/* cost {period}: the ledger's report for a period, as data and as the readable table. */
static void call_cost(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params)
{
  const char *s;
  size_t n;
  int rc = rpc_map_str(params, "period", &s, &n);
  ledger_job *j = xcalloc(1, sizeof(*j));
  if (rc == RPC_GET_WRONG_TYPE || (rc == RPC_GET_OK && n >= sizeof(j->spec))) {
    free(j);
    host_answer(h, msgid, call_id, "'period' must be today, week, month, all or a date", NULL);
    return;
  }
  *j = (ledger_job){.h = h, .msgid = msgid, .call_id = call_id, .is_cost = 1};
  snprintf(j->spec, sizeof(j->spec), "%.*s", rc == RPC_GET_OK ? (int)n : 5,
           rc == RPC_GET_OK ? s : "today");
  ledger_submit(j);
}

/* outcome {id, outcome = "applied"|"rejected"}: what the user did with a proposal. */
static void call_outcome(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params)
{
  const char *id, *oc;
  size_t idn, ocn;
  char ocbuf[16];
  if (rpc_map_str(params, "id", &id, &idn) != RPC_GET_OK || idn == 0 || idn >= LEDGER_ID_SIZE ||
      rpc_map_str(params, "outcome", &oc, &ocn) != RPC_GET_OK || ocn >= sizeof(ocbuf)) {
    host_answer(h, msgid, call_id, "outcome needs 'id' (a ledger id) and 'outcome'", NULL);
    return;
  }
  snprintf(ocbuf, sizeof(ocbuf), "%.*s", (int)ocn, oc);
  int o = ledger_outcome_from_name(ocbuf);
  if (o != LEDGER_APPLIED && o != LEDGER_REJECTED) {
    host_answer(h, msgid, call_id, "'outcome' must be \"applied\" or \"rejected\"", NULL);
    return;
  }
  ledger_job *j = xcalloc(1, sizeof(*j));
  *j = (ledger_job){.h = h, .msgid = msgid, .call_id = call_id, .outcome = (ledger_outcome)o};
  snprintf(j->id, sizeof(j->id), "%.*s", (int)idn, id);
  ledger_submit(j);
}

/* Runs `method` with `params`; answers through host_answer (now or later). */
static void host_dispatch(host *h, uint64_t msgid, int64_t call_id, const char *method,
                          size_t mlen, const msgpack_object *params)
{
#define IS(name) (mlen == strlen(name) && memcmp(method, name, mlen) == 0)
  if (IS("version")) {
    json_t *v = service_version_json();
    host_answer(h, msgid, call_id, NULL, v);
    json_decref(v);
  } else if (IS("configure")) {
    call_configure(h, msgid, call_id, params);
  } else if (IS("preview")) {
    call_action(h, msgid, call_id, ACTION_CONTEXT | ACTION_ROUTE | ACTION_ITEM_TEXT, params);
  } else if (IS("context")) {
    call_action(h, msgid, call_id, ACTION_CONTEXT | ACTION_ITEM_TEXT, params);
  } else if (IS("route")) {
    call_action(h, msgid, call_id, ACTION_ROUTE, params);
  } else if (IS("run")) {
    if (msgid != RPC_NOTIFY) {
      /* A run answers through _event/_reply calls into the editor; a plain request would
       * leave its caller waiting for the whole answer. */
      host_answer(h, msgid, call_id, "run streams: call it through frugal_call", NULL);
    } else {
      call_action(h, msgid, call_id, 0, params);
    }
  } else if (IS("cancel")) {
    host_call_cancel(h, msgid, call_id, params);
  } else if (IS("again")) {
    host_call_again(h, msgid, call_id, params);
  } else if (IS("plan_validate")) {
    host_call_plan_validate(h, msgid, call_id, params);
  } else if (IS("plan_load") || IS("plan_save")) {
    host_call_plan_store(h, msgid, call_id, params, IS("plan_save"));
  } else if (IS("cost")) {
    call_cost(h, msgid, call_id, params);
  } else if (IS("outcome")) {
    call_outcome(h, msgid, call_id, params);
  } else {
    char err[160];
    snprintf(err, sizeof(err), "unknown method: %.*s", (int)(mlen > 64 ? 64 : mlen), method);
    host_answer(h, msgid, call_id, err, NULL);
  }
#undef IS
}

/* The params of a request-style method: [map] (or [] for none). */
static const msgpack_object *first_param(const msgpack_object *params)
{
  static const msgpack_object empty_map = {.type = MSGPACK_OBJECT_MAP};
  if (params->via.array.size == 0) {
    return &empty_map;
  }
  return &params->via.array.ptr[0];
}

#define DEFINE_REQUEST_METHOD(fn, name)                                                         \
  static void fn(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)     \
  {                                                                                             \
    if (msgid == RPC_NOTIFY) {                                                                  \
      host_logf(data, "'%s' sent as a notification; use frugal_call", name);                   \
      return;                                                                                   \
    }                                                                                           \
    host_dispatch(data, msgid, 0, name, strlen(name), first_param(params));                     \
  }

DEFINE_REQUEST_METHOD(m_version, "version")
DEFINE_REQUEST_METHOD(m_configure, "configure")
DEFINE_REQUEST_METHOD(m_preview, "preview")
DEFINE_REQUEST_METHOD(m_context, "context")
DEFINE_REQUEST_METHOD(m_route, "route")
DEFINE_REQUEST_METHOD(m_cancel, "cancel")
DEFINE_REQUEST_METHOD(m_cost, "cost")
DEFINE_REQUEST_METHOD(m_outcome, "outcome")
DEFINE_REQUEST_METHOD(m_plan_validate, "plan_validate")
DEFINE_REQUEST_METHOD(m_plan_load, "plan_load")
DEFINE_REQUEST_METHOD(m_plan_save, "plan_save")

/* frugal_call [id, method, params]: the editor's non-blocking way in. */
static void m_frugal_call(rpc_channel *ch, uint64_t msgid, const msgpack_object *params,
                          void *data)
{
  host *h = data;
  int64_t id;
  const char *method;
  size_t mlen;
  if (params->via.array.size != 3 || rpc_obj_int(&params->via.array.ptr[0], &id) != RPC_GET_OK) {
    if (msgid != RPC_NOTIFY) {
      rpc_respond_error(ch, msgid, 1, "frugal_call takes [id, method, params]");
    } else {
      host_logf(h, "malformed frugal_call (expected [id, method, params])");
    }
    return;
  }
  if (msgid != RPC_NOTIFY) {
    /* Acknowledge a request-style frugal_call at once; the answer still comes via _reply. */
    rpc_respond(ch, msgid, NULL, NULL);
  }
  if (rpc_obj_str(&params->via.array.ptr[1], &method, &mlen) != RPC_GET_OK) {
    host_answer(h, RPC_NOTIFY, id, "frugal_call: method must be a string", NULL);
    return;
  }
  const msgpack_object *p = &params->via.array.ptr[2];
  static const msgpack_object empty_map = {.type = MSGPACK_OBJECT_MAP};
  if (p->type == MSGPACK_OBJECT_NIL || (p->type == MSGPACK_OBJECT_ARRAY && p->via.array.size == 0)) {
    p = &empty_map; /* Lua's {} may arrive as an empty array */
  }
  host_dispatch(h, RPC_NOTIFY, id, method, mlen, p);
}

host *host_new(frugal_config *cfg, rpc_channel *ch, uv_loop_t *loop)
{
  host *h = xcalloc(1, sizeof(*h));
  h->cfg = xcalloc(1, sizeof(*h->cfg));
  h->cfg->refs = 1;
  h->cfg->cfg = *cfg;
  memset(cfg, 0, sizeof(*cfg));
  h->ch = ch;
  h->loop = loop;
  h->mapshare = plan_mapshare_new();
  rpc_channel_add_method(ch, "frugal_call", m_frugal_call, h);
  rpc_channel_add_method(ch, "version", m_version, h);
  rpc_channel_add_method(ch, "configure", m_configure, h);
  rpc_channel_add_method(ch, "preview", m_preview, h);
  rpc_channel_add_method(ch, "context", m_context, h);
  rpc_channel_add_method(ch, "route", m_route, h);
  rpc_channel_add_method(ch, "cancel", m_cancel, h);
  rpc_channel_add_method(ch, "cost", m_cost, h);
  rpc_channel_add_method(ch, "outcome", m_outcome, h);
  rpc_channel_add_method(ch, "plan_validate", m_plan_validate, h);
  rpc_channel_add_method(ch, "plan_load", m_plan_load, h);
  rpc_channel_add_method(ch, "plan_save", m_plan_save, h);
  return h;
}

void host_set_log(host *h, host_log_fn log, void *data)
{
  h->log = log;
  h->log_data = data;
}

void host_shutdown(host *h)
{
  if (h->closing) {
    return;
  }
  h->closing = 1;
  if (h->llm) {
    /* Cancels the calls in flight: their runs end with "cancelled" (recorded in the ledger),
     * send nothing more, and close their timers on the loop. */
    llm_client *llm = h->llm;
    h->llm = NULL;
    llm_client_free(llm);
  }
}

void host_free(host *h)
{
  host_shutdown(h);
  h->freed = 1;
  host_release(h);
}
