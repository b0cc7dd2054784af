#include "host/host.h"

#include <frugal.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "action/action.h"
#include "action/run.h"
#include "http/curl_api.h"
#include "ledger/ledger.h"
#include "ledger/report.h"
#include "util/buf.h"

/* Most diagnostics a request may carry; more is a client bug, not a use case. */
#define HOST_MAX_DIAGS 10000
#define HOST_MAX_FILES 1000

typedef struct host_stream host_stream;

/* Conversations kept for `again`, by the id of the run that last answered in them. The oldest
 * goes when the table is full: each holds a copy of its file. */
#define HOST_CONVERSATIONS 16
typedef struct {
  int64_t id;
  uint64_t seq; /* age: higher is newer */
  action_conv *conv;
} host_conv;

struct host {
  frugal_config cfg;
  rpc_channel *ch;
  uv_loop_t *loop;   /* NULL: no model calls (unit tests of the other methods) */
  llm_client *llm;   /* made on the first run, so libcurl loads only when needed */
  host_stream *streams; /* runs in flight */
  host_conv convs[HOST_CONVERSATIONS];
  uint64_t conv_seq;
  int closing;
  size_t live_ops; /* callbacks that still refer to the host; it is freed when this reaches 0 */
};

/* One method call in flight. Owns copies of everything it read from params, because params die
 * with the handler call and the buffer read completes later. */
typedef struct {
  host *h;
  uint64_t msgid;  /* the request to answer, or RPC_NOTIFY when answering a frugal_call */
  int64_t call_id; /* the frugal_call id */
  int parts;
  char *path;
  char *language;
  char *action;
  action_request req;
  pkg_diag *diags;
  size_t ndiags;
  int64_t bufnr;
  buf_t text;
  int have_text;
  int is_run;        /* `run` rather than preview/context/route */
  int budget_override; /* run: budget_override = true */
  char *instruction; /* run: the user's instruction, or NULL */
  char **files;      /* other files in scope */
  size_t nfiles;
} host_op;

static void op_free(host_op *op)
{
  for (size_t i = 0; i < op->ndiags; i++) {
    free(op->diags[i].severity);
    free(op->diags[i].message);
    free(op->diags[i].source);
  }
  free(op->diags);
  free(op->path);
  free(op->language);
  free(op->action);
  free(op->instruction);
  for (size_t i = 0; i < op->nfiles; i++) {
    free(op->files[i]);
  }
  free(op->files);
  buf_free(&op->text);
  free(op);
}

/* ---- json <-> msgpack ------------------------------------------------------------------- */

static void pack_json(msgpack_packer *pk, const json_t *j)
{
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    msgpack_pack_map(pk, json_object_size(j));
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)j, key, val) {
      rpc_pack_cstr(pk, key);
      pack_json(pk, val);
    }
    break;
  }
  case JSON_ARRAY: {
    msgpack_pack_array(pk, json_array_size(j));
    size_t i;
    json_t *val;
    json_array_foreach(j, i, val) {
      pack_json(pk, val);
    }
    break;
  }
  case JSON_STRING:
    rpc_pack_str(pk, json_string_value(j), json_string_length(j));
    break;
  case JSON_INTEGER:
    msgpack_pack_int64(pk, json_integer_value(j));
    break;
  case JSON_REAL:
    msgpack_pack_double(pk, json_real_value(j));
    break;
  case JSON_TRUE:
    msgpack_pack_true(pk);
    break;
  case JSON_FALSE:
    msgpack_pack_false(pk);
    break;
  case JSON_NULL:
    msgpack_pack_nil(pk);
    break;
  }
}

static void pack_json_cb(msgpack_packer *pk, void *data)
{
  pack_json(pk, data);
}

/* ---- answering ------------------------------------------------------------------------------ */

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
    pack_json(pk, a->result);
  } else {
    msgpack_pack_nil(pk);
  }
}

static void on_reply_done(rpc_channel *ch, const msgpack_object *error,
                          const msgpack_object *result, void *data)
{
  if (error) {
    size_t n = 0;
    const char *msg = rpc_error_text(error, &n);
    fprintf(stderr, "frugal: the editor rejected a reply: %.*s\n", (int)n, msg ? msg : "?");
  }
}

/* Sends the answer for a call: a response to a request, or the _reply call for frugal_call. */
static void host_answer(host *h, uint64_t msgid, int64_t call_id, const char *err,
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
  rpc_request(h->ch, "nvim_exec_lua", pack_reply, &a, on_reply_done, NULL);
}

/* ---- methods -------------------------------------------------------------------------------- */

json_t *host_version_json(void)
{
  json_t *o = json_object();
  json_object_set_new(o, "version", json_string(FRUGAL_VERSION_STRING));
  json_object_set_new(o, "libuv", json_string(uv_version_string()));
  json_object_set_new(o, "msgpack", json_string(msgpack_version()));
  curl_api curl = {0};
  char err[256];
  if (curl_api_load(&curl, err, sizeof(err)) == 0) {
    json_object_set_new(o, "curl", json_string(curl.version_info(CURLVERSION_NOW)->version));
    curl_api_unload(&curl);
  } else {
    json_object_set_new(o, "curl", json_string(err));
  }
  json_object_set_new(o, "jansson", json_string(jansson_version_str()));
  return o;
}

static char *obj_strdup(const char *s, size_t n)
{
  return xstrndup(s, n);
}

/* Reads an optional string param; a non-string value is an error naming the key. */
static int opt_str(const msgpack_object *params, const char *key, char **out, char *err,
                   size_t errlen)
{
  const char *s;
  size_t n;
  int rc = rpc_map_str(params, key, &s, &n);
  if (rc == RPC_GET_WRONG_TYPE) {
    snprintf(err, errlen, "'%s' must be a string", key);
    return -1;
  }
  *out = rc == RPC_GET_OK ? obj_strdup(s, n) : NULL;
  return 0;
}

/* Reads an optional integer param within [lo, hi]; `def` when absent. */
static int opt_int(const msgpack_object *params, const char *key, int64_t lo, int64_t hi,
                   int64_t def, int64_t *out, char *err, size_t errlen)
{
  int rc = rpc_map_int(params, key, out);
  if (rc == RPC_GET_MISSING) {
    *out = def;
    return 0;
  }
  if (rc == RPC_GET_WRONG_TYPE || *out < lo || *out > hi) {
    snprintf(err, errlen, "'%s' must be an integer in [%lld, %lld]", key, (long long)lo,
             (long long)hi);
    return -1;
  }
  return 0;
}

static int parse_diags(host_op *op, const msgpack_object *arr, char *err, size_t errlen)
{
  if (arr->type != MSGPACK_OBJECT_ARRAY) {
    snprintf(err, errlen, "'diagnostics' must be an array");
    return -1;
  }
  if (arr->via.array.size > HOST_MAX_DIAGS) {
    snprintf(err, errlen, "'diagnostics' has more than %d entries", HOST_MAX_DIAGS);
    return -1;
  }
  op->diags = xcalloc(arr->via.array.size, sizeof(pkg_diag));
  for (uint32_t i = 0; i < arr->via.array.size; i++) {
    const msgpack_object *d = &arr->via.array.ptr[i];
    pkg_diag *pd = &op->diags[op->ndiags++];
    int64_t line, end_line;
    char e[160];
    if (d->type != MSGPACK_OBJECT_MAP) {
      snprintf(err, errlen, "diagnostics[%u] must be a map", i + 1);
      return -1;
    }
    if (opt_int(d, "line", 1, INT32_MAX, 0, &line, e, sizeof(e)) ||
        opt_int(d, "end_line", 1, INT32_MAX, line, &end_line, e, sizeof(e)) ||
        opt_str(d, "severity", &pd->severity, e, sizeof(e)) ||
        opt_str(d, "message", &pd->message, e, sizeof(e)) ||
        opt_str(d, "source", &pd->source, e, sizeof(e))) {
      snprintf(err, errlen, "diagnostics[%u]: %s", i + 1, e);
      return -1;
    }
    if (line == 0 || !pd->message) {
      snprintf(err, errlen, "diagnostics[%u] needs 'line' and 'message'", i + 1);
      return -1;
    }
    if (!pd->severity) {
      pd->severity = xstrdup("error");
    }
    pd->line = (int)line;
    pd->end_line = end_line < line ? (int)line : (int)end_line;
  }
  return 0;
}

static int join_lines(buf_t *out, const msgpack_object *arr, char *err, size_t errlen)
{
  if (arr->type != MSGPACK_OBJECT_ARRAY) {
    snprintf(err, errlen, "'lines' must be an array of strings");
    return -1;
  }
  for (uint32_t i = 0; i < arr->via.array.size; i++) {
    const char *s;
    size_t n;
    if (rpc_obj_str(&arr->via.array.ptr[i], &s, &n) != RPC_GET_OK) {
      snprintf(err, errlen, "lines[%u] is not a string", i + 1);
      return -1;
    }
    buf_append(out, s, n);
    buf_putc(out, '\n');
  }
  return 0;
}

/* Fills op from the params map of preview/context/route. */
static int parse_action_params(host_op *op, const msgpack_object *p, char *err, size_t errlen)
{
  if (p->type != MSGPACK_OBJECT_MAP) {
    snprintf(err, errlen, "params must be a map");
    return -1;
  }
  char *tier = NULL;
  int64_t line, col, s0, s1, bufnr, h0, h1;
  if (opt_str(p, "path", &op->path, err, errlen) ||
      opt_str(p, "filetype", &op->language, err, errlen) ||
      opt_str(p, "action", &op->action, err, errlen) ||
      opt_str(p, "instruction", &op->instruction, err, errlen) ||
      opt_int(p, "line", 1, INT32_MAX, 0, &line, err, errlen) ||
      opt_int(p, "col", 0, INT32_MAX, 0, &col, err, errlen) ||
      opt_int(p, "sel_start", 0, INT32_MAX, 0, &s0, err, errlen) ||
      opt_int(p, "sel_end", 0, INT32_MAX, 0, &s1, err, errlen) ||
      opt_int(p, "bufnr", 0, INT32_MAX, -1, &bufnr, err, errlen) ||
      opt_int(p, "hint_start", 0, INT32_MAX, 0, &h0, err, errlen) ||
      opt_int(p, "hint_end", 0, INT32_MAX, 0, &h1, err, errlen) ||
      opt_str(p, "tier", &tier, err, errlen)) {
    free(tier);
    return -1;
  }
  if (!op->action) {
    snprintf(err, errlen, "'action' is required");
    free(tier);
    return -1;
  }
  if (line == 0) {
    snprintf(err, errlen, "'line' is required (1-based)");
    free(tier);
    return -1;
  }
  int forced = -1;
  if (tier) {
    forced = tier_from_name(tier);
    free(tier);
    if (forced < 0) {
      snprintf(err, errlen, "'tier' must be \"mini\" or \"full\"");
      return -1;
    }
  }
  int bo = 0;
  if (rpc_map_bool(p, "budget_override", &bo) == RPC_GET_WRONG_TYPE) {
    snprintf(err, errlen, "'budget_override' must be a boolean");
    return -1;
  }
  op->budget_override = bo;
  if ((s0 == 0) != (s1 == 0)) {
    snprintf(err, errlen, "'sel_start' and 'sel_end' go together");
    return -1;
  }
  int nfiles = 1;
  const msgpack_object *files = rpc_map_get(p, "files");
  if (files && files->type != MSGPACK_OBJECT_NIL) {
    if (files->type != MSGPACK_OBJECT_ARRAY || files->via.array.size > HOST_MAX_FILES) {
      snprintf(err, errlen, "'files' must be an array of at most %d paths", HOST_MAX_FILES);
      return -1;
    }
    for (uint32_t i = 0; i < files->via.array.size; i++) {
      const char *s;
      size_t n;
      if (rpc_obj_str(&files->via.array.ptr[i], &s, &n) != RPC_GET_OK) {
        snprintf(err, errlen, "files[%u] is not a string", i + 1);
        return -1;
      }
      /* The current file listed again is not another file. */
      if (!op->path || strlen(op->path) != n || memcmp(op->path, s, n) != 0) {
        nfiles++;
        op->files = xrealloc(op->files, (op->nfiles + 1) * sizeof(char *));
        op->files[op->nfiles++] = xstrndup(s, n);
      }
    }
  }
  const msgpack_object *diags = rpc_map_get(p, "diagnostics");
  if (diags && diags->type != MSGPACK_OBJECT_NIL && parse_diags(op, diags, err, errlen)) {
    return -1;
  }
  const msgpack_object *lines = rpc_map_get(p, "lines");
  const char *text;
  size_t tlen;
  int trc = rpc_map_str(p, "text", &text, &tlen);
  if (trc == RPC_GET_WRONG_TYPE) {
    snprintf(err, errlen, "'text' must be a string");
    return -1;
  }
  if (trc == RPC_GET_OK) {
    buf_append(&op->text, text, tlen);
    op->have_text = 1;
  } else if (lines && lines->type != MSGPACK_OBJECT_NIL) {
    if (join_lines(&op->text, lines, err, errlen)) {
      return -1;
    }
    op->have_text = 1;
  } else if (bufnr < 0) {
    snprintf(err, errlen, "one of 'bufnr', 'lines' or 'text' is required");
    return -1;
  }
  op->bufnr = bufnr;
  op->req = (action_request){
    .path = op->path,
    .language = op->language,
    .action = op->action,
    .line = (int)line,
    .col = (int)col,
    .sel_start = (int)(s0 < s1 ? s0 : s1),
    .sel_end = (int)(s0 < s1 ? s1 : s0),
    .hint_start = (int)h0,
    .hint_end = (int)h1,
    .nfiles = nfiles,
    .forced_tier = forced,
    .diags = op->diags,
    .ndiags = op->ndiags,
    .instruction = op->instruction,
    .budget_override = op->budget_override,
    .files = (const char *const *)op->files,
    .nfile_paths = op->nfiles,
  };
  return 0;
}

static void host_release(host *h)
{
  if (h->closing && h->live_ops == 0) {
    for (size_t i = 0; i < HOST_CONVERSATIONS; i++) {
      action_conv_unref(h->convs[i].conv);
    }
    config_free(&h->cfg);
    free(h);
  }
}

/* Runs the action on the op's text and answers; frees the op. */
static void op_run(host_op *op)
{
  host *h = op->h;
  char err[512];
  json_t *result = NULL;
  if (action_preview(&h->cfg, &op->req, op->text.data ? op->text.data : "", op->text.len,
                     op->parts, &result, err, sizeof(err)) == 0) {
    host_answer(h, op->msgid, op->call_id, NULL, result);
    json_decref(result);
  } else {
    host_answer(h, op->msgid, op->call_id, err, NULL);
  }
  op_free(op);
}

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
      pack_json(pk, val);
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
    fprintf(stderr, "frugal: the editor rejected a stream event: %.*s\n", (int)n,
            msg ? msg : "?");
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
    llm_client_opts lo = {.ca_file = h->cfg.http_ca_file, .proxy = h->cfg.http_proxy};
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

static void start_run(host_op *op)
{
  host *h = op->h;
  char err[512];
  if (ensure_llm(h, err, sizeof(err))) {
    host_answer(h, op->msgid, op->call_id, err, NULL);
    op_free(op);
    return;
  }
  host_stream *st = stream_new(h, op->call_id);
  st->run = action_run_start(h->llm, &h->cfg, &op->req, op->text.data ? op->text.data : "",
                             op->text.len, &stream_cb, st, err, sizeof(err));
  if (!st->run) {
    stream_abort(st, op->msgid, err);
  }
  op_free(op);
}

/* again {id, instruction, tier?, budget_override?}: continues a kept conversation. */
static void call_again(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params)
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
  if (opt_str(params, "instruction", &instruction, err, sizeof(err)) ||
      opt_str(params, "tier", &tier, err, sizeof(err)) ||
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
    host_stream *st = stream_new(h, call_id);
    st->run = action_run_continue(h->llm, &h->cfg, conv, instruction, forced, bo, &stream_cb, st,
                                  err, sizeof(err));
    if (!st->run) {
      stream_abort(st, msgid, err);
    }
    free(instruction);
    free(tier);
    return;
  }
  free(instruction);
  free(tier);
  host_answer(h, msgid, call_id, err, NULL);
}

/* cost {period}: the ledger's report for a period, as data and as the readable table. */
static void call_cost(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params)
{
  char err[400], path[4096], spec[64] = "today";
  const char *s;
  size_t n;
  int rc = rpc_map_str(params, "period", &s, &n);
  if (rc == RPC_GET_WRONG_TYPE || (rc == RPC_GET_OK && n >= sizeof(spec))) {
    host_answer(h, msgid, call_id, "'period' must be today, week, month, all or a date", NULL);
    return;
  }
  if (rc == RPC_GET_OK) {
    snprintf(spec, sizeof(spec), "%.*s", (int)n, s);
  }
  int64_t since, until;
  if (ledger_period_parse(spec, ledger_now_ms(), &since, &until, err, sizeof(err))) {
    host_answer(h, msgid, call_id, err, NULL);
    return;
  }
  if (ledger_path_resolve(NULL, h->cfg.ledger_path, path, sizeof(path))) {
    host_answer(h, msgid, call_id, "no ledger: set ledger.path or HOME", NULL);
    return;
  }
  ledger_entries l;
  if (ledger_read(path, since, until, &l, err, sizeof(err))) {
    ledger_entries_free(&l);
    host_answer(h, msgid, call_id, err, NULL);
    return;
  }
  ledger_report rep;
  ledger_report_build(&rep, &l, since, until);
  buf_t text = BUF_INIT;
  ledger_report_text(&rep, &text);
  json_t *o = json_object();
  json_object_set_new(o, "report", ledger_report_json(&rep));
  json_object_set_new(o, "text", action_json_text(text.data ? text.data : "", text.len));
  json_object_set_new(o, "path", json_string(path));
  host_answer(h, msgid, call_id, NULL, o);
  json_decref(o);
  buf_free(&text);
  ledger_report_free(&rep);
  ledger_entries_free(&l);
}

/* outcome {id, outcome = "applied"|"rejected"}: what the user did with a proposal. */
static void call_outcome(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params)
{
  const char *id, *oc;
  size_t idn, ocn;
  char idbuf[LEDGER_ID_SIZE], ocbuf[16], path[4096], err[400];
  if (rpc_map_str(params, "id", &id, &idn) != RPC_GET_OK || idn == 0 || idn >= sizeof(idbuf) ||
      rpc_map_str(params, "outcome", &oc, &ocn) != RPC_GET_OK || ocn >= sizeof(ocbuf)) {
    host_answer(h, msgid, call_id, "outcome needs 'id' (a ledger id) and 'outcome'", NULL);
    return;
  }
  snprintf(idbuf, sizeof(idbuf), "%.*s", (int)idn, id);
  snprintf(ocbuf, sizeof(ocbuf), "%.*s", (int)ocn, oc);
  int o = ledger_outcome_from_name(ocbuf);
  if (o != LEDGER_APPLIED && o != LEDGER_REJECTED) {
    host_answer(h, msgid, call_id, "'outcome' must be \"applied\" or \"rejected\"", NULL);
    return;
  }
  if (ledger_path_resolve(NULL, h->cfg.ledger_path, path, sizeof(path)) ||
      ledger_append_outcome(path, idbuf, (ledger_outcome)o, err, sizeof(err))) {
    host_answer(h, msgid, call_id, "cannot write the ledger", NULL);
    return;
  }
  json_t *r = json_pack("{s:b}", "ok", 1);
  host_answer(h, msgid, call_id, NULL, r);
  json_decref(r);
}

static void call_cancel(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params)
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

static void on_buf_lines(rpc_channel *ch, const msgpack_object *error,
                         const msgpack_object *result, void *data)
{
  host_op *op = data;
  host *h = op->h;
  h->live_ops--;
  if (h->closing) {
    op_free(op);
    host_release(h);
    return;
  }
  char err[512];
  if (error) {
    size_t n = 0;
    const char *msg = rpc_error_text(error, &n);
    snprintf(err, sizeof(err), "cannot read buffer %lld: %.*s", (long long)op->bufnr, (int)n,
             msg ? msg : "editor error");
    host_answer(h, op->msgid, op->call_id, err, NULL);
    op_free(op);
    return;
  }
  if (!result || join_lines(&op->text, result, err, sizeof(err))) {
    host_answer(h, op->msgid, op->call_id, "the editor returned malformed buffer lines", NULL);
    op_free(op);
    return;
  }
  if (op->is_run) {
    start_run(op);
  } else {
    op_run(op);
  }
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

static void call_action(host *h, uint64_t msgid, int64_t call_id, int parts,
                        const msgpack_object *params)
{
  host_op *op = xcalloc(1, sizeof(*op));
  op->h = h;
  op->msgid = msgid;
  op->call_id = call_id;
  op->parts = parts;
  op->is_run = parts == 0;
  char err[512];
  if (parse_action_params(op, params, err, sizeof(err))) {
    host_answer(h, msgid, call_id, err, NULL);
    op_free(op);
    return;
  }
  if (op->have_text) {
    if (op->is_run) {
      start_run(op);
    } else {
      op_run(op);
    }
    return;
  }
  h->live_ops++;
  rpc_request(h->ch, "nvim_buf_get_lines", pack_get_lines, op, on_buf_lines, op);
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
  frugal_config next;
  config_init(&next);
  char err[600];
  if (config_apply_json(&next, s, n, "setup()", err, sizeof(err))) {
    config_free(&next);
    host_answer(h, msgid, call_id, err, NULL);
    return;
  }
  config_free(&h->cfg);
  h->cfg = next;
  json_t *ok = json_pack("{s:b}", "ok", 1);
  host_answer(h, msgid, call_id, NULL, ok);
  json_decref(ok);
}

/* Runs `method` with `params`; answers through host_answer (now or later). */
static void host_dispatch(host *h, uint64_t msgid, int64_t call_id, const char *method,
                          size_t mlen, const msgpack_object *params)
{
#define IS(name) (mlen == strlen(name) && memcmp(method, name, mlen) == 0)
  if (IS("version")) {
    json_t *v = host_version_json();
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
    call_cancel(h, msgid, call_id, params);
  } else if (IS("again")) {
    call_again(h, msgid, call_id, params);
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
      fprintf(stderr, "frugal: '%s' sent as a notification; use frugal_call\n", name);          \
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
      fprintf(stderr, "frugal: malformed frugal_call (expected [id, method, params])\n");
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
  h->cfg = *cfg;
  memset(cfg, 0, sizeof(*cfg));
  h->ch = ch;
  h->loop = loop;
  rpc_channel_add_method(ch, "frugal_call", m_frugal_call, h);
  rpc_channel_add_method(ch, "version", m_version, h);
  rpc_channel_add_method(ch, "configure", m_configure, h);
  rpc_channel_add_method(ch, "preview", m_preview, h);
  rpc_channel_add_method(ch, "context", m_context, h);
  rpc_channel_add_method(ch, "route", m_route, h);
  rpc_channel_add_method(ch, "cancel", m_cancel, h);
  rpc_channel_add_method(ch, "cost", m_cost, h);
  rpc_channel_add_method(ch, "outcome", m_outcome, h);
  return h;
}

void host_shutdown(host *h)
{
  h->closing = 1;
  if (h->llm) {
    /* Cancels the calls in flight; their runs end quietly (nothing is sent while closing) and
     * close their timers on the loop. */
    llm_client *llm = h->llm;
    h->llm = NULL;
    llm_client_free(llm);
  }
}

void host_free(host *h)
{
  host_shutdown(h);
  host_release(h);
}

/* ---- stdio ---------------------------------------------------------------------------------- */

typedef struct {
  uv_loop_t loop;
  uv_pipe_t in;
  uv_pipe_t out;
  rpc_uv *transport;
  host *host;
  int fatal;
} stdio_host;

static void on_rpc_error(void *data, const char *message, int fatal)
{
  stdio_host *s = rpc_uv_data(data);
  fprintf(stderr, "frugal: %s\n", message);
  if (fatal && s) {
    s->fatal = 1;
  }
}

static void on_eof(void *data)
{
  stdio_host *s = data;
  host_shutdown(s->host);
  rpc_uv_close(s->transport);
}

int host_run_stdio(frugal_config *cfg)
{
  /* A write to a pipe whose reader is gone (the editor quit, a server hung up) must come back
   * as EPIPE to the code that wrote, not kill the host. */
  signal(SIGPIPE, SIG_IGN);
  stdio_host s;
  memset(&s, 0, sizeof(s));
  int rc = uv_loop_init(&s.loop);
  if (rc == 0) {
    rc = uv_pipe_init(&s.loop, &s.in, 0);
  }
  if (rc == 0) {
    rc = uv_pipe_open(&s.in, 0);
  }
  if (rc == 0) {
    rc = uv_pipe_init(&s.loop, &s.out, 0);
  }
  if (rc == 0) {
    rc = uv_pipe_open(&s.out, 1);
  }
  if (rc) {
    fprintf(stderr, "frugal --stdio: stdin and stdout must be pipes or sockets (%s)\n",
            uv_strerror(rc));
    config_free(cfg);
    return 1;
  }
  s.transport = rpc_uv_new(&s.loop, (uv_stream_t *)&s.in, (uv_stream_t *)&s.out);
  rpc_channel *ch = rpc_channel_new(RPC_DEFAULT_MAX_MESSAGE, rpc_uv_write, on_rpc_error,
                                    s.transport);
  host *h = host_new(cfg, ch, &s.loop);
  s.host = h;
  rc = rpc_uv_start(s.transport, ch, on_eof, &s);
  if (rc) {
    fprintf(stderr, "frugal --stdio: cannot read stdin: %s\n", uv_strerror(rc));
    rpc_uv_close(s.transport);
  }
  uv_run(&s.loop, UV_RUN_DEFAULT);
  host_free(h);
  rpc_channel_free(ch);
  rpc_uv_free(s.transport);
  uv_loop_close(&s.loop);
  return rc || s.fatal ? 1 : 0;
}
