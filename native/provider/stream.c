/* The parser object, framing glue, event emission and the JSON field readers shared by the
 * per-API parsers (stream_openai_chat.c, stream_openai_responses.c, stream_anthropic.c,
 * stream_ollama.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/stream_int.h"
#include "util/buf.h"

static const char *const API_NAMES[] = {
    [STREAM_API_OPENAI_CHAT] = "openai-chat",
    [STREAM_API_OPENAI_RESPONSES] = "openai-responses",
    [STREAM_API_ANTHROPIC] = "anthropic",
    [STREAM_API_OLLAMA] = "ollama",
};

static void dispatch(stream_parser *p, const char *event, const char *data, size_t len)
{
  switch (p->api) {
  case STREAM_API_OPENAI_CHAT:
    stream_openai_chat_event(p, data, len);
    break;
  case STREAM_API_OPENAI_RESPONSES:
    stream_openai_responses_event(p, event, data, len);
    break;
  case STREAM_API_ANTHROPIC:
    stream_anthropic_event(p, event, data, len);
    break;
  case STREAM_API_OLLAMA:
    stream_ollama_line(p, data, len);
    break;
  }
}

static int on_sse_event(void *userdata, const sse_event *ev)
{
  stream_parser *p = userdata;
  if (!p->ended) {
    dispatch(p, ev->event, ev->data, ev->data_len);
  }
  return p->stopped;
}

static int on_ndjson_line(void *userdata, const char *line, size_t len)
{
  stream_parser *p = userdata;
  if (!p->ended) {
    stream_ollama_line(p, line, len);
  }
  return p->stopped;
}

stream_parser *stream_parser_new(stream_api api, stream_event_cb cb, void *userdata,
                                 size_t max_event_bytes)
{
  stream_parser *p = xcalloc(1, sizeof(*p));
  p->api = api;
  p->cb = cb;
  p->userdata = userdata;
  p->name = API_NAMES[api];
  if (api == STREAM_API_OLLAMA) {
    p->nd = ndjson_splitter_new(on_ndjson_line, p, max_event_bytes);
  } else {
    p->sse = sse_decoder_new(on_sse_event, p, max_event_bytes);
  }
  p->au.input = p->au.cache_read = p->au.cache_creation = p->au.output = p->au.thinking = -1;
  return p;
}

void stream_parser_free(stream_parser *p)
{
  if (!p) {
    return;
  }
  sse_decoder_free(p->sse);
  ndjson_splitter_free(p->nd);
  for (size_t i = 0; i < p->ntools; i++) {
    free(p->tools[i].id);
    free(p->tools[i].name);
  }
  free(p->tools);
  free(p);
}

/* The framing codes are numerically the STREAM_E* codes; the mapping is spelled out anyway. */
static int framing_result(stream_parser *p, int rc)
{
  if (p->ended && rc != SSE_ESTOPPED) {
    return STREAM_OK; /* whatever follows the terminator is ignored, framing errors included */
  }
  switch (rc) {
  case 0:
    return STREAM_OK;
  case SSE_ESTOPPED:
    return STREAM_ESTOPPED;
  case SSE_EFINISHED:
    return STREAM_EFINISHED;
  default:
    if (!p->failed) {
      p->failed = true;
      const char *why = p->sse ? sse_decoder_error(p->sse) : ndjson_splitter_error(p->nd);
      stream_emit_malformed(p, "%s", why ? why : "framing error");
    }
    return p->stopped ? STREAM_ESTOPPED : STREAM_ETOOBIG;
  }
}

int stream_parser_feed(stream_parser *p, const void *bytes, size_t len)
{
  if (p->finished) {
    return STREAM_EFINISHED;
  }
  if (p->stopped) {
    return STREAM_ESTOPPED;
  }
  if (p->failed) {
    return STREAM_ETOOBIG;
  }
  if (p->ended) {
    return STREAM_OK;
  }
  int rc = p->sse ? sse_decoder_feed(p->sse, bytes, len) : ndjson_splitter_feed(p->nd, bytes, len);
  return framing_result(p, rc);
}

int stream_parser_finish(stream_parser *p)
{
  if (p->finished) {
    return STREAM_EFINISHED;
  }
  p->finished = true;
  int rc = p->failed ? STREAM_ETOOBIG : STREAM_OK;
  if (!p->failed && !p->stopped) {
    if (p->sse) {
      sse_discarded d;
      int r = sse_decoder_finish(p->sse, &d);
      if (r == 1) {
        p->discarded = d;
        p->have_discarded = true;
        /* SSE says to drop an event the body ended inside; a terminal one (a final [DONE]
         * or message_stop without its blank line) is still taken as delivered. */
        if (!p->ended && d.would_dispatch) {
          p->at_eof = true;
          dispatch(p, d.would_be.event, d.would_be.data, d.would_be.data_len);
          p->at_eof = false;
        }
      } else if (r < 0) {
        rc = framing_result(p, r);
      }
    } else {
      rc = framing_result(p, ndjson_splitter_finish(p->nd));
    }
  }
  if (!p->ended) {
    p->ended = true;
    stream_event ev = {.kind = STREAM_EV_END};
    ev.terminator = p->eof_terminal || !p->error_seen ? "eof" : "error";
    ev.truncated = !p->eof_terminal && !p->error_seen;
    ev.pending_terminal = p->eof_terminal;
    stream_emit(p, &ev);
  }
  return p->stopped ? STREAM_ESTOPPED : rc;
}

const sse_discarded *stream_parser_discarded(const stream_parser *p)
{
  return p->have_discarded ? &p->discarded : NULL;
}

/* ---- emitting ---- */

void stream_emit(stream_parser *p, stream_event *ev)
{
  if (p->stopped || !p->cb) {
    return;
  }
  if (p->cb(p->userdata, ev) != 0) {
    p->stopped = true;
  }
}

void stream_usage_init(stream_usage *u)
{
  u->input_tokens = u->cached_input_tokens = u->cache_write_tokens = STREAM_UNKNOWN;
  u->output_tokens = u->reasoning_tokens = u->total_tokens = STREAM_UNKNOWN;
  u->from_timings = false;
}

void stream_emit_text(stream_parser *p, stream_event_kind kind, uint32_t choice, const char *s,
                      size_t len)
{
  stream_event ev = {.kind = kind, .choice = choice, .text = s, .len = len};
  stream_emit(p, &ev);
}

void stream_emit_finish(stream_parser *p, uint32_t choice, const char *raw, stream_finish fin)
{
  stream_event ev = {.kind = STREAM_EV_FINISH, .choice = choice, .finish_raw = raw, .finish = fin};
  stream_emit(p, &ev);
}

void stream_emit_usage(stream_parser *p, const stream_usage *u)
{
  stream_event ev = {.kind = STREAM_EV_USAGE, .usage = *u};
  stream_emit(p, &ev);
}

void stream_emit_malformed(stream_parser *p, const char *fmt, ...)
{
  char msg[320];
  int n = snprintf(msg, sizeof(msg), "%s: ", p->name);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
  va_end(ap);
  /* Jansson quotes the offending input in its messages: keep the message printable ASCII. */
  for (char *c = msg; *c; c++) {
    if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) {
      *c = '?';
    }
  }
  stream_event ev = {.kind = STREAM_EV_ERROR, .message = msg, .error_class = STREAM_ERR_MALFORMED};
  stream_emit(p, &ev);
}

/* A JSON value as text for an error field: strings as they are, anything else (an integer
 * code, an object where a string was expected) in compact JSON so that nothing is lost. The
 * result is either borrowed from v or stored in *owned (free() it). */
static const char *error_field(json_t *v, char **owned)
{
  if (!v || json_is_null(v)) {
    return NULL;
  }
  if (json_is_string(v)) {
    return json_string_value(v);
  }
  *owned = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  return *owned;
}

void stream_emit_error_fields(stream_parser *p, json_t *message, json_t *type, json_t *code,
                              json_t *param)
{
  char *own[4] = {NULL, NULL, NULL, NULL};
  stream_event ev = {.kind = STREAM_EV_ERROR};
  ev.message = error_field(message, &own[0]);
  ev.type = error_field(type, &own[1]);
  ev.code = error_field(code, &own[2]);
  ev.param = error_field(param, &own[3]);
  if (!ev.message) {
    ev.message = ev.type ? ev.type : ev.code ? ev.code : "the provider reported an error";
  }
  ev.error_class = stream_error_classify(ev.type, ev.code, 0);
  ev.retryable = stream_error_retryable(ev.error_class, 0);
  p->error_seen = true;
  stream_emit(p, &ev);
  for (int i = 0; i < 4; i++) {
    free(own[i]);
  }
}

void stream_emit_provider_error(stream_parser *p, json_t *err)
{
  if (json_is_object(err)) {
    stream_emit_error_fields(p, json_object_get(err, "message"), json_object_get(err, "type"),
                             json_object_get(err, "code"), json_object_get(err, "param"));
  } else {
    stream_emit_error_fields(p, err, NULL, NULL, NULL);
  }
}

void stream_terminal(stream_parser *p, const char *terminator)
{
  if (p->at_eof) {
    p->eof_terminal = terminator;
    return;
  }
  if (p->ended) {
    return;
  }
  p->ended = true;
  stream_event ev = {.kind = STREAM_EV_END, .terminator = terminator};
  stream_emit(p, &ev);
}

/* ---- tool table ---- */

stream_tool *stream_tool_get(stream_parser *p, uint32_t choice, uint32_t index)
{
  for (size_t i = p->ntools; i-- > 0;) {
    if (p->tools[i].choice == choice && p->tools[i].index == index) {
      return &p->tools[i];
    }
  }
  if (p->ntools >= STREAM_MAX_TOOLS) {
    stream_emit_malformed(p, "more than %u tool calls", STREAM_MAX_TOOLS);
    return NULL;
  }
  if (p->ntools == p->tools_cap) {
    p->tools_cap = p->tools_cap ? p->tools_cap * 2 : 4;
    p->tools = xrealloc(p->tools, p->tools_cap * sizeof(*p->tools));
  }
  stream_tool *t = &p->tools[p->ntools++];
  *t = (stream_tool){.choice = choice, .index = index};
  return t;
}

void stream_tool_set(char **slot, const char *s, size_t len)
{
  free(*slot);
  *slot = xstrndup(s, len);
}

/* ---- JSON ---- */

json_t *stream_json_object(stream_parser *p, const char *data, size_t len, const char *what)
{
  json_error_t e;
  json_t *j = json_loadb(data, len, JSON_ALLOW_NUL, &e);
  if (!j) {
    stream_emit_malformed(p, "invalid JSON in %s at byte %d: %s", what, e.position, e.text);
    return NULL;
  }
  if (!json_is_object(j)) {
    stream_emit_malformed(p, "%s is not a JSON object", what);
    json_decref(j);
    return NULL;
  }
  return j;
}

static const char *type_name(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "an object";
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
    return "an integer";
  case JSON_REAL:
    return "a real number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  default:
    return "null";
  }
}

static int bad_type(stream_parser *p, const char *where, const char *key, const char *want,
                    const json_t *v)
{
  stream_emit_malformed(p, "%s%s%s is %s, expected %s", where, *where ? "." : "", key, type_name(v),
                        want);
  return -1;
}

static json_t *lookup(json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  return v && !json_is_null(v) ? v : NULL;
}

int stream_get_str(stream_parser *p, json_t *obj, const char *where, const char *key,
                   const char **out, size_t *len)
{
  json_t *v = lookup(obj, key);
  if (!v) {
    return 0;
  }
  if (!json_is_string(v)) {
    return bad_type(p, where, key, "a string", v);
  }
  *out = json_string_value(v);
  *len = json_string_length(v);
  return 1;
}

int stream_get_count(stream_parser *p, json_t *obj, const char *where, const char *key,
                     int64_t *out)
{
  json_t *v = lookup(obj, key);
  if (!v) {
    return 0;
  }
  if (json_is_integer(v) && json_integer_value(v) >= 0) {
    *out = (int64_t)json_integer_value(v);
    return 1;
  }
  /* Some servers write counts as 12.0; an integral value is still exact. */
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d >= 0 && d <= 9007199254740992.0 && d == (double)(int64_t)d) {
      *out = (int64_t)d;
      return 1;
    }
  }
  return bad_type(p, where, key, "a non-negative integer", v);
}

int stream_get_index(stream_parser *p, json_t *obj, const char *where, const char *key,
                     uint32_t *out)
{
  json_t *v = lookup(obj, key);
  if (!v) {
    return 0;
  }
  if (!json_is_integer(v)) {
    return bad_type(p, where, key, "an integer index", v);
  }
  json_int_t i = json_integer_value(v);
  if (i < 0 || i > (json_int_t)STREAM_MAX_INDEX) {
    stream_emit_malformed(p, "%s%s%s is %lld, outside 0..%u", where, *where ? "." : "", key,
                          (long long)i, STREAM_MAX_INDEX);
    return -1;
  }
  *out = (uint32_t)i;
  return 1;
}

int stream_get_obj(stream_parser *p, json_t *obj, const char *where, const char *key, json_t **out)
{
  json_t *v = lookup(obj, key);
  if (!v) {
    return 0;
  }
  if (!json_is_object(v)) {
    return bad_type(p, where, key, "an object", v);
  }
  *out = v;
  return 1;
}

int stream_get_arr(stream_parser *p, json_t *obj, const char *where, const char *key, json_t **out)
{
  json_t *v = lookup(obj, key);
  if (!v) {
    return 0;
  }
  if (!json_is_array(v)) {
    return bad_type(p, where, key, "an array", v);
  }
  *out = v;
  return 1;
}

int stream_get_bool(stream_parser *p, json_t *obj, const char *where, const char *key, bool *out)
{
  json_t *v = lookup(obj, key);
  if (!v) {
    return 0;
  }
  if (!json_is_boolean(v)) {
    return bad_type(p, where, key, "a boolean", v);
  }
  *out = json_is_true(v);
  return 1;
}

json_t *stream_typed_event(stream_parser *p, const char *event, const char *data, size_t len,
                           bool (*is_terminal)(const char *type), const char **type)
{
  json_t *root = stream_json_object(p, data, len, "event");
  if (!root) {
    return NULL;
  }
  const char *t = NULL;
  size_t n;
  int r = stream_get_str(p, root, "", "type", &t, &n);
  if (r == 0 && strcmp(event, "message") != 0) {
    t = event;
  }
  if (r < 0 || !t || (p->at_eof && !is_terminal(t))) {
    json_decref(root);
    return NULL;
  }
  *type = t;
  return root;
}

int stream_parse_body(stream_api api, const char *body, size_t len, stream_event_cb cb,
                      void *userdata)
{
  json_t *root = json_loadb(body, len, 0, NULL);
  if (!json_is_object(root)) {
    json_decref(root);
    return STREAM_ENOTBODY;
  }
  stream_parser *p = stream_parser_new(api, cb, userdata, 0);
  int rc;
  switch (api) {
  case STREAM_API_OPENAI_CHAT:
    rc = stream_openai_chat_body(p, root);
    break;
  case STREAM_API_OPENAI_RESPONSES:
    rc = stream_openai_responses_body(p, root);
    break;
  case STREAM_API_ANTHROPIC:
    rc = stream_anthropic_body(p, root);
    break;
  default:
    rc = -1;
    break;
  }
  json_decref(root);
  if (rc == 0) {
    stream_terminal(p, "body");
  }
  int stopped = p->stopped;
  stream_parser_free(p);
  return rc ? STREAM_ENOTBODY : stopped ? STREAM_ESTOPPED : STREAM_OK;
}
