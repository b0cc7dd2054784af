#include "host/host_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- runs: streaming a model's answer to the editor -------------------------------------- */

/* The editor gets answer text in batches: at most one every HOST_BATCH_MS, or sooner when
 * HOST_BATCH_BYTES are waiting, and never more than one batch in flight, so a slow editor slows
 * the batches down instead of queueing thousands of calls (one call per token froze editors
 * for seconds in other plugins). */
#define HOST_BATCH_MS 40
#define HOST_BATCH_BYTES (16 * 1024)

struct host_stream {
  host *h;
  int64_t id;
  action_run *run;  /* NULL once done */
  buf_t text;       /* answer text not yet sent */
  buf_t reasoning;  /* reasoning text not yet sent */
  uv_timer_t timer;
  int inflight;     /* _event calls the editor has not answered */
  int closed;       /* the timer is closed: freed once no _event call is in flight */
  host_stream *next;
};

static void stream_unlink(host_stream *st)
{
  for (host_stream **pp = &st->h->streams; *pp; pp = &(*pp)->next) {
    if (*pp == st) {
      *pp = st->next;
      return;
    }
  }
}

/* Frees a finished stream once its timer is closed and the editor has answered every event
 * (their callbacks hold the stream). */
static void stream_maybe_free(host_stream *st)
{
  if (!st->closed || st->inflight > 0) {
    return;
  }
  host *h = st->h;
  buf_free(&st->text);
  buf_free(&st->reasoning);
  free(st);
  h->live_ops--;
  host_release(h);
}

static void stream_closed(uv_handle_t *handle)
{
  host_stream *st = handle->data;
  st->closed = 1;
  stream_maybe_free(st);
}

typedef struct {
  int64_t id;
  const char *kind;
  const buf_t *text;
  const json_t *fields; /* or NULL */
} event_args;

static void pack_event(msgpack_packer *pk, void *data)
{
  const event_args *a = data;
  msgpack_pack_array(pk, 2);
  rpc_pack_cstr(pk, "return require('frugal.host')._event(...)");
  msgpack_pack_array(pk, 2);
  msgpack_pack_int64(pk, a->id);
  size_t n = 1 + (a->text ? 1 : 0) + (a->fields ? json_object_size(a->fields) : 0);
  msgpack_pack_map(pk, n);
  rpc_pack_cstr(pk, "kind");
  rpc_pack_cstr(pk, a->kind);
  if (a->text) {
    rpc_pack_cstr(pk, "text");
    rpc_pack_str(pk, a->text->data ? a->text->data : "", a->text->len);
  }
  if (a->fields) {
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)a->fields, key, val) {
      rpc_pack_cstr(pk, key);
      host_pack_json(pk, val);
    }
  }
}

static void on_event_done(rpc_channel *ch, const msgpack_object *error,
                          const msgpack_object *result, void *data);

static void stream_send(host_stream *st, const char *kind, const buf_t *text, const json_t *fields)
{
  host *h = st->h;
  if (h->closing) {
    return;
  }
  event_args a = {st->id, kind, text, fields};
  st->inflight++;
  h->live_ops++;
  rpc_request(h->ch, "nvim_exec_lua", pack_event, &a, on_event_done, st);
}

/* Sends what is waiting. */
static void stream_flush(host_stream *st)
{
  if (st->reasoning.len > 0) {
    stream_send(st, "reasoning", &st->reasoning, NULL);
    buf_clear(&st->reasoning);
  }
  if (st->text.len > 0) {
    stream_send(st, "text", &st->text, NULL);
    buf_clear(&st->text);
  }
}

static void on_batch_timer(uv_timer_t *t)
{
  host_stream *st = t->data;
  if (st->inflight == 0) {
    stream_flush(st);
  }
  /* else: the answer to the batch in flight re-arms the timer */
}

static void stream_schedule(host_stream *st)
{
  if (!uv_is_active((uv_handle_t *)&st->timer) && (st->text.len || st->reasoning.len)) {
    uv_timer_start(&st->timer, on_batch_timer, HOST_BATCH_MS, 0);
  }
}

static void on_event_done(rpc_channel *ch, const msgpack_object *error,
                          const msgpack_object *result, void *data)
{
  host_stream *st = data;
  host *h = st->h;
  st->inflight--;
  if (error && !h->closing) {
    size_t n = 0;
    const char *msg = rpc_error_text(error, &n);
    host_logf(h, "the editor rejected a stream event: %.*s", (int)n, msg ? msg : "?");
  }
  if (st->run && !h->closing) {
    stream_schedule(st);
  }
  h->live_ops--; /* this event's hold; released below, or with the stream's own */
  if (st->closed && st->inflight == 0) {
    stream_maybe_free(st); /* may free the host too */
  } else {
    host_release(h);
  }
}

static void run_on_start(action_run *run, const action_plan *plan, void *data)
{
  host_stream *st = data;
  json_t *f = json_object();
  json_t *route = action_route_json(plan);
  json_object_update(f, route);
  json_decref(route);
  json_t *scope = json_object();
  json_object_set_new(scope, "kind", json_string(scope_kind_name(plan->pkg.scope)));
  json_object_set_new(scope, "name", plan->pkg.scope_name ? json_string(plan->pkg.scope_name)
                                                          : json_null());
  json_object_set_new(scope, "start_line", json_integer(plan->pkg.start_line));
  json_object_set_new(scope, "end_line", json_integer(plan->pkg.end_line));
  json_object_set_new(f, "scope", scope);
  const char *warning = action_run_warning(run);
  if (warning) {
    json_object_set_new(f, "warning", json_string(warning));
  }
  stream_send(st, "start", NULL, f);
  json_decref(f);
}

static void run_on_delta(action_run *run, stream_event_kind kind, const char *text, size_t len,
                         void *data)
{
  host_stream *st = data;
  buf_append(kind == STREAM_EV_REASONING ? &st->reasoning : &st->text, text, len);
  if (st->text.len + st->reasoning.len >= HOST_BATCH_BYTES && st->inflight == 0) {
    uv_timer_stop(&st->timer);
    stream_flush(st);
  } else {
    stream_schedule(st);
  }
}

static void run_on_retry(action_run *run, int attempt, double delay_ms, const char *why,
                         void *data)
{
  host_stream *st = data;
  json_t *f = json_pack("{s:i,s:f,s:s}", "attempt", attempt, "delay_ms", delay_ms, "why",
                        why ? why : "");
  stream_send(st, "retry", NULL, f);
  json_decref(f);
}

static void run_on_escalate(action_run *run, const char *why, const char *model, void *data)
{
  host_stream *st = data;
  /* Text of the first answer still waiting goes first, so the editor can mark where the
   * second begins. */
  stream_flush(st);
  json_t *f = json_pack("{s:s,s:s,s:s}", "why", why, "tier", "full", "model", model);
  stream_send(st, "escalate", NULL, f);
  json_decref(f);
}

/* Keeps the run's conversation under its id for `again`. */
static void keep_conversation(host *h, int64_t id, action_conv *conv)
{
  host_conv *slot = &h->convs[0];
  for (size_t i = 0; i < HOST_CONVERSATIONS; i++) {
    if (!h->convs[i].conv) {
      slot = &h->convs[i];
      break;
    }
    if (h->convs[i].seq < slot->seq) {
      slot = &h->convs[i];
    }
  }
  if (slot->conv) {
    action_conv_unref(slot->conv);
  }
  action_conv_ref(conv);
  slot->conv = conv;
  slot->id = id;
  slot->seq = ++h->conv_seq;
}

static void run_on_done(action_run *run, const char *error, json_t *result, void *data)
{
  host_stream *st = data;
  host *h = st->h;
  if (!error && !h->closing) {
    keep_conversation(h, st->id, action_run_conversation(run));
  }
  st->run = NULL;
  /* Whatever text is waiting goes now, before the reply: the channel keeps them in order. */
  uv_timer_stop(&st->timer);
  stream_flush(st);
  host_answer(h, RPC_NOTIFY, st->id, error, result);
  stream_unlink(st);
  uv_close((uv_handle_t *)&st->timer, stream_closed);
}

static const action_run_callbacks stream_cb = {run_on_start, run_on_delta, run_on_retry,
                                               run_on_escalate, run_on_done};

/* Makes the model client on first use. Returns 0, or -1 with a message. */
static int ensure_llm(host *h, char *err, size_t errlen)
{
  if (!h->loop) {
    snprintf(err, errlen, "run: this host has no event loop");
    return -1;
  }
  if (!h->llm) {
    llm_client_opts lo = {.ca_file = h->cfg->cfg.http_ca_file, .proxy = h->cfg->cfg.http_proxy};
    h->llm = llm_client_new(h->loop, &lo, err, errlen);
  }
  return h->llm ? 0 : -1;
}

static host_stream *stream_new(host *h, int64_t id)
{
  host_stream *st = xcalloc(1, sizeof(*st));
  st->h = h;
  st->id = id;
  uv_timer_init(h->loop, &st->timer);
  st->timer.data = st;
  st->next = h->streams;
  h->streams = st;
  h->live_ops++; /* released when the timer handle is closed */
  return st;
}

/* A stream whose run did not start: answers with the error and goes. */
static void stream_abort(host_stream *st, uint64_t msgid, const char *err)
{
  host_answer(st->h, msgid, st->id, err, NULL);
  stream_unlink(st);
  uv_close((uv_handle_t *)&st->timer, stream_closed);
}

void host_start_run(host_op *op)
{
  host *h = op->h;
  char err[512];
  if (ensure_llm(h, err, sizeof(err))) {
    host_answer(h, op->msgid, op->call_id, err, NULL);
    host_op_free(op);
    return;
  }
  host_stream *st = stream_new(h, op->call_id);
  /* The configuration the run was prepared with, even if `configure` came meanwhile. */
  st->run = action_run_launch(h->llm, &op->cfg->cfg, op->conv, &op->req, &stream_cb, st, err,
                              sizeof(err));
  if (!st->run) {
    stream_abort(st, op->msgid, err);
  }
  host_op_free(op);
}

/* again {id, instruction, tier?, budget_override?}: continues a kept conversation. */
/* An `again` waiting for the ledger's spend, read on the thread pool. */
typedef struct {
  host *h;
  host_cfg *cfg;
  uint64_t msgid;
  int64_t call_id;
  int64_t conv_id;
  char *instruction;
  int forced, bo;
  ledger_spend spent;
  uv_work_t work;
} again_job;

static void again_work(uv_work_t *w)
{
  again_job *j = w->data;
  const frugal_config *cfg = &j->cfg->cfg;
  ledger_budget b = {cfg->budget_daily_usd, cfg->budget_monthly_usd};
  char path[4096], err[256];
  memset(&j->spent, 0, sizeof(j->spent));
  if (ledger_path_resolve(NULL, cfg->ledger_path, path, sizeof(path)) == 0) {
    ledger_spend_read(path, &b, ledger_now_ms(), &j->spent, err, sizeof(err));
  }
}

static void again_done(uv_work_t *w, int status)
{
  again_job *j = w->data;
  host *h = j->h;
  h->live_ops--;
  char err[512];
  action_conv *conv = NULL;
  for (size_t i = 0; i < HOST_CONVERSATIONS; i++) {
    if (h->convs[i].conv && h->convs[i].id == j->conv_id) {
      conv = h->convs[i].conv;
    }
  }
  if (h->closing || status != 0) {
    /* nothing to answer */
  } else if (!conv) {
    snprintf(err, sizeof(err), "no conversation %lld (it ended or the host restarted)",
             (long long)j->conv_id);
    host_answer(h, j->msgid, j->call_id, err, NULL);
  } else if (ensure_llm(h, err, sizeof(err))) {
    host_answer(h, j->msgid, j->call_id, err, NULL);
  } else {
    host_stream *st = stream_new(h, j->call_id);
    st->run = action_run_continue_spent(h->llm, &j->cfg->cfg, conv, j->instruction, j->forced,
                                        j->bo, &j->spent, &stream_cb, st, err, sizeof(err));
    if (!st->run) {
      stream_abort(st, j->msgid, err);
    }
  }
  free(j->instruction);
  host_cfg_unref(j->cfg);
  free(j);
  host_release(h);
}

void host_call_again(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params)
{
  char err[512] = "";
  int64_t id;
  if (msgid != RPC_NOTIFY) {
    host_answer(h, msgid, call_id, "again streams: call it through frugal_call", NULL);
    return;
  }
  if (rpc_map_int(params, "id", &id) != RPC_GET_OK) {
    host_answer(h, msgid, call_id, "'id' (the run to continue) is required", NULL);
    return;
  }
  char *instruction = NULL, *tier = NULL;
  int bo = 0;
  if (host_param_str(params, "instruction", &instruction, err, sizeof(err)) ||
      host_param_str(params, "tier", &tier, err, sizeof(err)) ||
      rpc_map_bool(params, "budget_override", &bo) == RPC_GET_WRONG_TYPE) {
    free(instruction);
    free(tier);
    host_answer(h, msgid, call_id, err[0] ? err : "'budget_override' must be a boolean", NULL);
    return;
  }
  int forced = tier ? tier_from_name(tier) : -1;
  action_conv *conv = NULL;
  for (size_t i = 0; i < HOST_CONVERSATIONS; i++) {
    if (h->convs[i].conv && h->convs[i].id == id) {
      conv = h->convs[i].conv;
    }
  }
  if (tier && forced < 0) {
    snprintf(err, sizeof(err), "'tier' must be \"mini\" or \"full\"");
  } else if (!conv) {
    snprintf(err, sizeof(err), "no conversation %lld (it ended or the host restarted)",
             (long long)id);
  } else if (ensure_llm(h, err, sizeof(err)) == 0) {
    /* The budget needs the day's spend: read off the loop, then continue. */
    again_job *j = xcalloc(1, sizeof(*j));
    *j = (again_job){.h = h, .cfg = h->cfg, .msgid = msgid, .call_id = call_id, .conv_id = id,
                     .instruction = instruction, .forced = forced, .bo = bo};
    j->cfg->refs++;
    j->work.data = j;
    h->live_ops++;
    if (uv_queue_work(h->loop, &j->work, again_work, again_done)) {
      again_work(&j->work);
      again_done(&j->work, 0);
    }
    free(tier);
    return;
  }
  free(instruction);
  free(tier);
  host_answer(h, msgid, call_id, err, NULL);
}

void host_call_cancel(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params)
{
  int64_t id;
  if (rpc_map_int(params, "id", &id) != RPC_GET_OK) {
    host_answer(h, msgid, call_id, "'id' (the run to cancel) is required", NULL);
    return;
  }
  int found = 0;
  for (host_stream *st = h->streams; st; st = st->next) {
    if (st->id == id && st->run) {
      action_run_cancel(st->run);
      found = 1;
    }
  }
  json_t *r = json_pack("{s:b}", "cancelled", found);
  host_answer(h, msgid, call_id, NULL, r);
  json_decref(r);
}

void host_convs_free(host *h)
{
  for (size_t i = 0; i < HOST_CONVERSATIONS; i++) {
    action_conv_unref(h->convs[i].conv);
    h->convs[i].conv = NULL;
  }
}
