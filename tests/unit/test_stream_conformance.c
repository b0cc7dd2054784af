/* Provider stream parsers against real recorded streams: every fixture in tests/wire that has
 * a <name>.summary.json oracle goes through the decoder and the parser of its API (chosen by
 * the file name) and must yield exactly the oracle's text, reasoning, refusal, tool-call
 * arguments, finish reason, usage, error and terminator, however the body is cut into reads.
 * Then HTTP error bodies, malformed input, and the EOF and size-cap rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/stream.h"
#include "util/buf.h"

#ifndef FRUGAL_SOURCE_DIR
#define FRUGAL_SOURCE_DIR "."
#endif
#define WIRE FRUGAL_SOURCE_DIR "/tests/wire"

static char *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    return NULL;
  }
  buf_t b = BUF_INIT;
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
    buf_append(&b, tmp, n);
  }
  fclose(f);
  *len = b.len;
  return buf_detach(&b);
}

static json_t *load_json(const char *path)
{
  size_t len;
  char *s = read_file(path, &len);
  if (!s) {
    return NULL;
  }
  json_error_t e;
  json_t *j = json_loadb(s, len, 0, &e);
  if (!j) {
    fail_msg("%s: %s", path, e.text);
  }
  free(s);
  return j;
}

/* ---- collecting what a parser emits ---- */

typedef struct {
  json_t *log;       /* every event, for whole-vs-chunked comparison */
  json_t *text;      /* choice -> joined text */
  json_t *reasoning; /* choice -> joined text, or empty */
  json_t *refusal;
  json_t *tools;  /* "choice.index" -> joined arguments */
  json_t *finish; /* choice -> last raw reason */
  bool have_usage;
  stream_usage usage;
  json_t *error; /* last provider error {message,type,code,param} or NULL */
  int errors;
  int malformed;
  int ends;
  char terminator[32];
  bool truncated;
  char pending[32];
  int stop_after; /* stop the parser after this many events (0: never) */
} collected;

static void collected_init(collected *c)
{
  memset(c, 0, sizeof(*c));
  c->log = json_array();
  c->text = json_object();
  c->reasoning = json_object();
  c->refusal = json_object();
  c->tools = json_object();
  c->finish = json_object();
}

static void collected_free(collected *c)
{
  json_decref(c->log);
  json_decref(c->text);
  json_decref(c->reasoning);
  json_decref(c->refusal);
  json_decref(c->tools);
  json_decref(c->finish);
  json_decref(c->error);
}

static void append_text(json_t *map, const char *key, const char *s, size_t n)
{
  json_t *old = json_object_get(map, key);
  buf_t b = BUF_INIT;
  if (old) {
    buf_append(&b, json_string_value(old), json_string_length(old));
  }
  buf_append(&b, s, n);
  json_object_set_new(map, key, json_stringn(b.data ? b.data : "", b.len));
  buf_free(&b);
}

static json_t *opt_str(const char *s)
{
  return s ? json_string(s) : json_null();
}

static json_t *count(int64_t v)
{
  return v == STREAM_UNKNOWN ? json_null() : json_integer(v);
}

static int collect(void *userdata, const stream_event *ev)
{
  collected *c = userdata;
  char key[32];
  json_t *rec = json_object();
  json_object_set_new(rec, "kind", json_integer(ev->kind));
  switch (ev->kind) {
  case STREAM_EV_TEXT:
  case STREAM_EV_REASONING:
  case STREAM_EV_REFUSAL:
    snprintf(key, sizeof(key), "%u", ev->choice);
    append_text(ev->kind == STREAM_EV_TEXT        ? c->text
                : ev->kind == STREAM_EV_REASONING ? c->reasoning
                                                  : c->refusal,
                key, ev->text, ev->len);
    json_object_set_new(rec, "choice", json_integer(ev->choice));
    json_object_set_new(rec, "text", json_stringn(ev->text, ev->len));
    break;
  case STREAM_EV_TOOL_CALL:
    snprintf(key, sizeof(key), "%u.%u", ev->choice, ev->tool_index);
    append_text(c->tools, key, ev->text, ev->len);
    json_object_set_new(rec, "key", json_string(key));
    json_object_set_new(rec, "text", json_stringn(ev->text, ev->len));
    json_object_set_new(rec, "id", opt_str(ev->tool_id));
    json_object_set_new(rec, "name", opt_str(ev->tool_name));
    break;
  case STREAM_EV_USAGE:
    c->have_usage = true;
    c->usage = ev->usage;
    json_object_set_new(rec, "usage",
                        json_pack("[ooooooi]", count(ev->usage.input_tokens),
                                  count(ev->usage.cached_input_tokens),
                                  count(ev->usage.cache_write_tokens),
                                  count(ev->usage.output_tokens), count(ev->usage.reasoning_tokens),
                                  count(ev->usage.total_tokens), (int)ev->usage.from_timings));
    break;
  case STREAM_EV_FINISH:
    snprintf(key, sizeof(key), "%u", ev->choice);
    json_object_set_new(c->finish, key, json_string(ev->finish_raw));
    json_object_set_new(rec, "finish",
                        json_pack("[sii]", ev->finish_raw, ev->choice, (int)ev->finish));
    break;
  case STREAM_EV_ERROR:
    assert_non_null(ev->message);
    json_object_set_new(rec, "message", json_string(ev->message));
    json_object_set_new(rec, "class", json_integer(ev->error_class));
    if (ev->error_class == STREAM_ERR_MALFORMED) {
      c->malformed++;
      break;
    }
    c->errors++;
    json_decref(c->error);
    c->error = json_pack("{s:s,s:o,s:o,s:o,s:b}", "message", ev->message, "type", opt_str(ev->type),
                         "code", opt_str(ev->code), "param", opt_str(ev->param), "retryable",
                         ev->retryable);
    json_object_set_new(c->error, "class", json_integer(ev->error_class));
    break;
  case STREAM_EV_END:
    c->ends++;
    snprintf(c->terminator, sizeof(c->terminator), "%s", ev->terminator);
    c->truncated = ev->truncated;
    snprintf(c->pending, sizeof(c->pending), "%s",
             ev->pending_terminal ? ev->pending_terminal : "");
    json_object_set_new(rec, "end", json_pack("[sbs]", ev->terminator, ev->truncated, c->pending));
    break;
  }
  json_array_append_new(c->log, rec);
  return c->stop_after && (int)json_array_size(c->log) >= c->stop_after;
}

/* Runs body through a parser for api, fed in pieces ending at cuts[]; returns the parser so
 * the caller can look at stream_parser_discarded() (free it). */
static stream_parser *run_cut(stream_api api, const char *s, size_t len, const size_t *cuts,
                              size_t ncuts, collected *c, size_t cap)
{
  stream_parser *p = stream_parser_new(api, collect, c, cap);
  size_t pos = 0;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t end = i < ncuts ? cuts[i] : len;
    stream_parser_feed(p, s + pos, end - pos);
    pos = end;
  }
  stream_parser_finish(p);
  return p;
}

static void run_str(stream_api api, const char *s, collected *c)
{
  collected_init(c);
  stream_parser_free(run_cut(api, s, strlen(s), NULL, 0, c, 0));
}

/* ---- building the oracle's view from what was collected ---- */

static json_t *joined(json_t *map, const char *choice)
{
  json_t *v = json_object_get(map, choice);
  return v ? json_incref(v) : json_null();
}

static json_t *or_null_if_empty(json_t *obj)
{
  return json_object_size(obj) ? json_incref(obj) : json_null();
}

/* The error as the oracle writes it: exactly its keys, integer codes as integers. */
static json_t *error_view(const collected *c, const json_t *want)
{
  if (!c->error) {
    return json_null();
  }
  if (json_is_string(want)) {
    return json_incref(json_object_get(c->error, "message"));
  }
  json_t *out = json_object();
  const char *k;
  json_t *wv;
  json_object_foreach((json_t *)want, k, wv)
  {
    json_t *mine = json_object_get(c->error, k);
    if (json_is_integer(wv) && json_is_string(mine)) {
      json_object_set_new(out, k, json_integer(strtoll(json_string_value(mine), NULL, 10)));
    } else {
      json_object_set(out, k, mine ? mine : json_null());
    }
  }
  return out;
}

static json_t *discard_view(stream_parser *p)
{
  const sse_discarded *d = stream_parser_discarded(p);
  if (!d) {
    return NULL;
  }
  return json_pack(
      "{s:b,s:s%,s:o,s:o}", "discarded_at_eof", 1, "partial_data", d->partial_data,
      d->partial_data_len, "partial_event", opt_str(d->partial_event), "unterminated_line",
      d->unterminated_line ? json_stringn(d->unterminated_line, d->unterminated_len) : json_null());
}

static json_t *usage_view(const collected *c, const json_t *want, stream_api api)
{
  if (!c->have_usage) {
    return json_null();
  }
  const stream_usage *u = &c->usage;
  if (json_object_get(want, "llamacpp_timings_seen")) {
    /* llama.cpp sent no usage object: the counts come from its last timings (prompt_n 10 +
     * cache_n 7, predicted_n 49). */
    assert_true(u->from_timings);
    assert_int_equal(u->input_tokens, 17);
    assert_int_equal(u->cached_input_tokens, 7);
    assert_int_equal(u->output_tokens, 49);
    return json_pack("{s:b}", "llamacpp_timings_seen", 1);
  }
  assert_false(u->from_timings);
  if (api == STREAM_API_OLLAMA) {
    return json_pack("{s:o,s:o}", "input_tokens", count(u->input_tokens), "output_tokens",
                     count(u->output_tokens));
  }
  if (api == STREAM_API_ANTHROPIC) {
    int64_t uncached = u->input_tokens;
    if (uncached >= 0) {
      uncached -= (u->cached_input_tokens > 0 ? u->cached_input_tokens : 0) +
                  (u->cache_write_tokens > 0 ? u->cache_write_tokens : 0);
    }
    return json_pack("{s:o,s:o,s:o,s:o,s:o}", "input_tokens_uncached", count(uncached),
                     "input_tokens", count(u->input_tokens), "output_tokens",
                     count(u->output_tokens), "cached_input_tokens", count(u->cached_input_tokens),
                     "cache_creation_input_tokens", count(u->cache_write_tokens));
  }
  return json_pack("{s:o,s:o,s:o,s:o,s:o}", "input_tokens", count(u->input_tokens), "output_tokens",
                   count(u->output_tokens), "total_tokens", count(u->total_tokens),
                   "cached_input_tokens", count(u->cached_input_tokens), "reasoning_tokens",
                   count(u->reasoning_tokens));
}

static json_t *summary_view(const collected *c, stream_parser *p, const json_t *want,
                            stream_api api)
{
  json_t *s = json_object();
  if (api == STREAM_API_OPENAI_CHAT) {
    json_object_set(s, "text", c->text);
    json_object_set_new(s, "reasoning", or_null_if_empty(c->reasoning));
    json_object_set_new(s, "refusal", or_null_if_empty(c->refusal));
    json_object_set_new(s, "tool_call_arguments", or_null_if_empty(c->tools));
    json_object_set(s, "finish_reason", c->finish);
  } else {
    json_t *t = joined(c->text, "0");
    json_object_set_new(s, "text", json_is_null(t) ? json_string("") : t);
    assert_true(json_object_size(c->text) <= 1); /* these APIs have one choice */
  }
  if (api == STREAM_API_OPENAI_RESPONSES) {
    json_object_set_new(s, "reasoning", joined(c->reasoning, "0"));
    json_object_set_new(s, "status", joined(c->finish, "0"));
  } else if (api == STREAM_API_ANTHROPIC) {
    json_object_set_new(s, "stop_reason", joined(c->finish, "0"));
    /* The oracle lists every content block; tool_use blocks carry the arguments. */
    json_t *blocks = json_deep_copy(json_object_get(want, "blocks"));
    const char *idx;
    json_t *b;
    size_t tool_blocks = 0;
    json_object_foreach(blocks, idx, b)
    {
      if (strcmp(json_string_value(json_object_get(b, "type")), "tool_use") == 0) {
        char key[32];
        snprintf(key, sizeof(key), "0.%s", idx);
        json_t *args = json_object_get(c->tools, key);
        json_object_set_new(b, "partial_json", args ? json_incref(args) : json_null());
        tool_blocks++;
      }
    }
    assert_int_equal(json_object_size(c->tools), tool_blocks);
    json_object_set_new(s, "blocks", blocks);
  } else if (api == STREAM_API_OLLAMA) {
    json_object_set_new(s, "done_reason", joined(c->finish, "0"));
  }
  json_object_set_new(s, "usage", usage_view(c, json_object_get(want, "usage"), api));
  json_object_set_new(s, "error", error_view(c, json_object_get(want, "error")));
  if (api != STREAM_API_OLLAMA) {
    json_object_set_new(s, "terminated_by", json_string(c->terminator));
    json_t *d = discard_view(p);
    if (d) {
      json_object_set_new(s, "discarded_partial_event_at_eof", d);
    }
  } else {
    /* no terminator in the Ollama oracles: each file ends with done:true or an error line */
    assert_string_equal(c->terminator, c->errors ? "error" : "done");
  }
  return s;
}

static stream_api api_of(const char *name)
{
  if (strncmp(name, "openai-responses-", 17) == 0) {
    return STREAM_API_OPENAI_RESPONSES;
  }
  if (strncmp(name, "anthropic-", 10) == 0) {
    return STREAM_API_ANTHROPIC;
  }
  if (strncmp(name, "ollama-", 7) == 0 && strstr(name, ".ndjson")) {
    return STREAM_API_OLLAMA;
  }
  /* openai-chat-*, ollama-openai-compat-*, llamacpp-*, openrouter-*, sse-edge-crlf-chat-* */
  return STREAM_API_OPENAI_CHAT;
}

static uint64_t next_rand(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static int cmp_size(const void *a, const void *b)
{
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

static void expect_equal_json(const json_t *want, const json_t *got, const char *what)
{
  if (!json_equal(want, got)) {
    char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
    print_error("%s:\nwant %.3000s\ngot  %.3000s\n", what, w, g);
    free(w);
    free(g);
    fail();
  }
}

static void check_stream_fixture(const char *file, const char *s, size_t len, json_t *want)
{
  stream_api api = api_of(file);
  collected whole;
  collected_init(&whole);
  stream_parser *p = run_cut(api, s, len, NULL, 0, &whole, 0);
  json_t *got = summary_view(&whole, p, want, api);
  expect_equal_json(want, got, file);
  json_decref(got);
  stream_parser_free(p);
  assert_int_equal(whole.ends, 1);
  assert_int_equal(whole.malformed, 0);

  /* The same events, in the same order, one byte at a time and in random pieces. */
  uint64_t seed = 0x2545f4914f6cdd1dull ^ len;
  for (int round = 0; round < 41; round++) {
    size_t cuts[16];
    size_t n = 0;
    size_t *all = NULL;
    if (round == 0) {
      all = malloc(len * sizeof(*all));
      for (size_t i = 0; i < len; i++) {
        all[i] = i;
      }
    } else {
      n = 1 + next_rand(&seed) % 16;
      for (size_t i = 0; i < n; i++) {
        cuts[i] = next_rand(&seed) % (len + 1);
      }
      qsort(cuts, n, sizeof(cuts[0]), cmp_size);
    }
    collected c;
    collected_init(&c);
    stream_parser_free(run_cut(api, s, len, all ? all : cuts, all ? len : n, &c, 0));
    expect_equal_json(whole.log, c.log, file);
    collected_free(&c);
    free(all);
  }
  collected_free(&whole);
}

static void every_recorded_stream_yields_its_oracle_summary(void **state)
{
  DIR *dir = opendir(WIRE "/expected");
  assert_non_null(dir);
  struct dirent *de;
  int checked = 0;
  static const char suffix[] = ".summary.json";
  while ((de = readdir(dir))) {
    size_t n = strlen(de->d_name), sl = sizeof(suffix) - 1;
    if (n <= sl || strcmp(de->d_name + n - sl, suffix) != 0) {
      continue;
    }
    char path[512], file[256];
    snprintf(path, sizeof(path), WIRE "/expected/%s", de->d_name);
    json_t *want = load_json(path);
    size_t len = 0;
    char *s = NULL;
    static const char *const exts[] = {".sse", ".ndjson"};
    for (int e = 0; e < 2 && !s; e++) {
      snprintf(file, sizeof(file), "%.*s%s", (int)(n - sl), de->d_name, exts[e]);
      snprintf(path, sizeof(path), WIRE "/fixtures/%s", file);
      s = read_file(path, &len);
    }
    if (!s) {
      fail_msg("no fixture for %s", de->d_name);
    }
    check_stream_fixture(file, s, len, want);
    free(s);
    json_decref(want);
    checked++;
  }
  closedir(dir);
  assert_int_equal(checked, 32); /* every oracle summary */
}

/* ---- HTTP error bodies ---- */

static void http_error_bodies_give_message_type_code_and_retry_advice(void **state)
{
  static const struct {
    const char *file;
    int status;
    const char *message_start, *type, *code, *param, *request_id;
    stream_error_class cls;
    bool retryable;
  } cases[] = {
      {"openai-error-400-invalid-param.json", 400, "Invalid 'temperature': decimal below",
       "invalid_request_error", "decimal_below_min_value", "temperature", NULL,
       STREAM_ERR_INVALID_REQUEST, false},
      {"openai-error-401-invalid-api-key.json", 401, "Incorrect API key provided",
       "invalid_request_error", "invalid_api_key", NULL, NULL, STREAM_ERR_AUTH, false},
      {"openai-error-429-insufficient-quota.json", 429, "You exceeded your current quota",
       "insufficient_quota", "insufficient_quota", NULL, NULL, STREAM_ERR_QUOTA, false},
      {"openai-error-429-rate-limit-tokens.json", 429, "Request too large for gpt-4o", "tokens",
       "rate_limit_exceeded", NULL, NULL, STREAM_ERR_RATE_LIMIT, true},
      {"anthropic-error-400-invalid-request.json", 0, "messages.0.content.1: unexpected",
       "invalid_request_error", NULL, NULL, "req_011CYHyk9NPsBYeGbC9LuDNK",
       STREAM_ERR_INVALID_REQUEST, false},
      {"anthropic-error-429-rate-limit.json", 0, "This request would exceed your organization",
       "rate_limit_error", NULL, NULL, "req_011CYK5n67SytMUxm8WMZUWY", STREAM_ERR_RATE_LIMIT, true},
      {"llamacpp-error-exceed-context.json", 400, "the request exceeds the available context",
       "exceed_context_size_error", "400", NULL, NULL, STREAM_ERR_CONTEXT_LENGTH, false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char path[512];
    int status = cases[i].status;
    if (!status) {
      /* the recorded status is in the companion headers file */
      size_t n = strlen(cases[i].file) - 5;
      snprintf(path, sizeof(path), WIRE "/fixtures/%.*s.headers.json", (int)n, cases[i].file);
      json_t *h = load_json(path);
      assert_non_null(h);
      status = (int)json_integer_value(json_object_get(h, "status_code"));
      json_decref(h);
    }
    snprintf(path, sizeof(path), WIRE "/fixtures/%s", cases[i].file);
    size_t len;
    char *body = read_file(path, &len);
    assert_non_null(body);
    stream_http_error e;
    assert_int_equal(stream_http_error_parse(status, body, len, &e), 0);
    assert_int_equal(e.status, status);
    assert_true(strncmp(e.message, cases[i].message_start, strlen(cases[i].message_start)) == 0);
    assert_string_equal(e.type, cases[i].type);
    if (cases[i].code) {
      assert_string_equal(e.code, cases[i].code);
    } else {
      assert_null(e.code);
    }
    if (cases[i].param) {
      assert_string_equal(e.param, cases[i].param);
    } else {
      assert_null(e.param);
    }
    if (cases[i].request_id) {
      assert_string_equal(e.request_id, cases[i].request_id);
    } else {
      assert_null(e.request_id);
    }
    assert_int_equal(e.error_class, cases[i].cls);
    assert_int_equal(e.retryable, cases[i].retryable);
    stream_http_error_free(&e);
    free(body);
  }
}

static void http_error_bodies_of_other_shapes_still_give_a_message(void **state)
{
  stream_http_error e;
  const char *ollama = "{\"error\":\"model 'llama9' not found, try pulling it first\"}";
  assert_int_equal(stream_http_error_parse(404, ollama, strlen(ollama), &e), 0);
  assert_string_equal(e.message, "model 'llama9' not found, try pulling it first");
  assert_null(e.type);
  assert_int_equal(e.error_class, STREAM_ERR_NOT_FOUND);
  assert_false(e.retryable);
  stream_http_error_free(&e);

  const char *html = "\n<html><head><title>502 Bad Gateway</title></head>\n<body>...";
  assert_int_equal(stream_http_error_parse(502, html, strlen(html), &e), 1);
  assert_string_equal(e.message, "<html><head><title>502 Bad Gateway</title></head>");
  assert_int_equal(e.error_class, STREAM_ERR_SERVER);
  assert_true(e.retryable);
  stream_http_error_free(&e);

  assert_int_equal(stream_http_error_parse(529, "", 0, &e), 1);
  assert_string_equal(e.message, "HTTP status 529 with an empty body");
  assert_int_equal(e.error_class, STREAM_ERR_OVERLOADED);
  assert_true(e.retryable);
  assert_string_equal(stream_error_class_name(e.error_class), "overloaded");
  stream_http_error_free(&e);

  const char *bad = "{\"error\":{\"message\":{\"detail\":\"x\"},\"code\":false}}";
  assert_int_equal(stream_http_error_parse(500, bad, strlen(bad), &e), 0);
  assert_string_equal(e.message, "{\"detail\":\"x\"}");
  assert_string_equal(e.code, "false");
  assert_true(e.retryable);
  stream_http_error_free(&e);
}

static void retry_advice_follows_the_providers(void **state)
{
  static const struct {
    const char *type, *code;
    int status;
    bool retry;
  } cases[] = {
      {"overloaded_error", NULL, 529, true},
      {"service_unavailable_error", "server_is_overloaded", 0, true},
      {NULL, "slow_down", 0, true},
      {"tokens", "rate_limit_exceeded", 429, true},
      {"requests", "rate_limit_exceeded", 0, true},
      {"insufficient_quota", "insufficient_quota", 429, false},
      {"rate_limit_error", NULL, 0, true},
      {"billing_error", NULL, 402, false},
      {"invalid_request_error", NULL, 400, false},
      {"authentication_error", NULL, 401, false},
      {"server_error", NULL, 0, true},
      {NULL, NULL, 409, true},
      {NULL, NULL, 418, false},
      {"server_ error", NULL, 0, false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    stream_error_class cls = stream_error_classify(cases[i].type, cases[i].code, cases[i].status);
    if (stream_error_retryable(cls, cases[i].status) != cases[i].retry) {
      fail_msg("case %zu: %s/%s/%d", i, cases[i].type, cases[i].code, cases[i].status);
    }
  }
}

/* ---- errors and quirks beyond the fixtures ---- */

static void responses_nested_error_event_is_read(void **state)
{
  size_t len;
  char *json =
      read_file(WIRE "/fixtures/openai-responses-stream-error-event-nested-reported.json", &len);
  assert_non_null(json);
  buf_t b = BUF_INIT;
  buf_puts(&b, "event: error\ndata: ");
  while (len && json[len - 1] == '\n') {
    len--;
  }
  buf_append(&b, json, len);
  buf_puts(&b, "\n");
  collected c;
  run_str(STREAM_API_OPENAI_RESPONSES, b.data, &c);
  assert_int_equal(c.errors, 1);
  assert_string_equal(json_string_value(json_object_get(c.error, "message")),
                      "Our servers are currently overloaded. Please try again later.");
  assert_string_equal(json_string_value(json_object_get(c.error, "code")), "server_is_overloaded");
  assert_string_equal(json_string_value(json_object_get(c.error, "type")),
                      "service_unavailable_error");
  assert_true(json_is_true(json_object_get(c.error, "retryable")));
  /* the event had no blank line after it, and nothing followed it */
  assert_string_equal(c.terminator, "eof");
  assert_string_equal(c.pending, "error");
  assert_false(c.truncated);
  collected_free(&c);

  /* the same event properly terminated, then the connection closes */
  buf_puts(&b, "\n");
  run_str(STREAM_API_OPENAI_RESPONSES, b.data, &c);
  assert_string_equal(c.terminator, "error");
  assert_false(c.truncated);
  assert_int_equal(c.ends, 1);
  collected_free(&c);
  buf_free(&b);
  free(json);
}

static void malformed_data_gives_an_error_event_and_parsing_goes_on(void **state)
{
  static const struct {
    stream_api api;
    const char *body;
    const char *message;
  } cases[] = {
      {STREAM_API_OPENAI_CHAT, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":5}}]}\n\n",
       "openai-chat: choices[].delta.content is an integer, expected a string"},
      {STREAM_API_OPENAI_CHAT, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"\n\n",
       "openai-chat: invalid JSON in chunk at byte"},
      {STREAM_API_OPENAI_CHAT, "data: [1,2]\n\n", "openai-chat: chunk is not a JSON object"},
      {STREAM_API_OPENAI_CHAT, "data: {\"choices\":[{\"index\":-1,\"delta\":{}}]}\n\n",
       "openai-chat: choices[].index is -1, outside 0..65535"},
      {STREAM_API_OPENAI_CHAT, "data: {\"choices\":\"none\"}\n\n",
       "openai-chat: choices is a string, expected an array"},
      {STREAM_API_OPENAI_CHAT, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-3}}\n\n",
       "openai-chat: usage.prompt_tokens is an integer, expected a non-negative integer"},
      {STREAM_API_OPENAI_CHAT,
       "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
       "{\"arguments\":{}}}]}}]}\n\n",
       "openai-chat: choices[].delta.tool_calls[].function.arguments is an object, expected a "
       "string"},
      {STREAM_API_OPENAI_RESPONSES,
       "data: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":\"12\"}}}"
       "\n\n",
       "openai-responses: response.usage.input_tokens is a string, expected a non-negative "
       "integer"},
      {STREAM_API_ANTHROPIC,
       "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":{\"x\":1}}}\n\n",
       "anthropic: content_block_delta.delta.text is an object, expected a string"},
      {STREAM_API_ANTHROPIC, "event: message_start\ndata: {\"type\":7}\n\n",
       "anthropic: type is an integer, expected a string"},
      {STREAM_API_OLLAMA, "{\"response\":\"a\",\"done\":\"yes\"}\n",
       "ollama: done is a string, expected a boolean"},
      {STREAM_API_OLLAMA, "{\"response\":\"a\",\"done\":true,\"eval_count\":1.5}\n",
       "ollama: eval_count is a real number, expected a non-negative integer"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    collected c;
    run_str(cases[i].api, cases[i].body, &c);
    json_t *first = NULL;
    for (size_t k = 0; k < json_array_size(c.log) && !first; k++) {
      json_t *ev = json_array_get(c.log, k);
      first = json_integer_value(json_object_get(ev, "kind")) == STREAM_EV_ERROR ? ev : NULL;
    }
    const char *msg = json_string_value(json_object_get(first, "message"));
    if (!msg || strncmp(msg, cases[i].message, strlen(cases[i].message)) != 0) {
      fail_msg("case %zu: got %s", i, msg ? msg : "(no error)");
    }
    assert_int_equal(json_integer_value(json_object_get(first, "class")), STREAM_ERR_MALFORMED);
    assert_int_equal(c.malformed, 1);
    assert_int_equal(c.errors, 0);
    assert_int_equal(c.ends, 1);
    collected_free(&c);
  }
  /* a bad chunk between good ones loses only itself */
  collected c;
  run_str(STREAM_API_OPENAI_CHAT,
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":null,\"refusal\":[]}}]}\n\n"
          "data: {oops}\n\n"
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},"
          "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
          &c);
  assert_string_equal(json_string_value(json_object_get(c.text, "0")), "ab");
  assert_int_equal(c.malformed, 2);
  assert_string_equal(c.terminator, "[DONE]");
  collected_free(&c);
}

static void eof_without_terminator_is_truncated_and_a_pending_terminator_is_not(void **state)
{
  collected c;
  run_str(STREAM_API_OPENAI_CHAT,
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"half\"}}]}\n\n", &c);
  assert_string_equal(c.terminator, "eof");
  assert_true(c.truncated);
  collected_free(&c);

  run_str(STREAM_API_OPENAI_CHAT, "data: {\"choices\":[]}\n\ndata: [DONE]", &c);
  assert_string_equal(c.terminator, "eof");
  assert_string_equal(c.pending, "[DONE]");
  assert_false(c.truncated);
  collected_free(&c);

  /* a pending non-terminal event is dropped, as SSE says */
  run_str(STREAM_API_OPENAI_CHAT,
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lost\"}}]}\n", &c);
  assert_int_equal(json_object_size(c.text), 0);
  assert_true(c.truncated);
  collected_free(&c);

  /* a Responses stream whose final event lacks the blank line keeps its usage */
  run_str(STREAM_API_OPENAI_RESPONSES,
          "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
          "\"delta\":\"Hi\"}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\","
          "\"response\":{\"status\":\"completed\",\"usage\":{\"input_tokens\":5,"
          "\"output_tokens\":2,\"total_tokens\":7}}}",
          &c);
  assert_string_equal(c.terminator, "eof");
  assert_string_equal(c.pending, "response.completed");
  assert_true(c.have_usage);
  assert_int_equal(c.usage.input_tokens, 5);
  assert_int_equal(c.usage.output_tokens, 2);
  assert_int_equal(c.usage.cached_input_tokens, STREAM_UNKNOWN);
  assert_string_equal(json_string_value(json_object_get(c.finish, "0")), "completed");
  collected_free(&c);

  /* events after the terminator are ignored */
  run_str(STREAM_API_ANTHROPIC,
          "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\nevent: content_block_delta\n"
          "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
          "\"text\":\"late\"}}\n\n",
          &c);
  assert_int_equal(json_object_size(c.text), 0);
  assert_int_equal(c.ends, 1);
  collected_free(&c);
}

static void anthropic_usage_merges_cumulative_deltas(void **state)
{
  collected c;
  run_str(
      STREAM_API_ANTHROPIC,
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":"
      "{\"input_tokens\":3,\"cache_creation_input_tokens\":418,\"cache_read_input_tokens\":1111,"
      "\"output_tokens\":1}}}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"end_turn\"},\"usage\":{\"output_tokens\":33,\"cache_read_input_tokens\":null}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
      &c);
  assert_int_equal(c.usage.input_tokens, 3 + 418 + 1111);
  assert_int_equal(c.usage.cached_input_tokens, 1111);
  assert_int_equal(c.usage.cache_write_tokens, 418);
  assert_int_equal(c.usage.output_tokens, 33);
  assert_int_equal(c.usage.reasoning_tokens, STREAM_UNKNOWN);
  assert_int_equal(c.usage.total_tokens, STREAM_UNKNOWN);
  assert_string_equal(c.terminator, "message_stop");
  collected_free(&c);

  /* thinking deltas are reasoning; signatures are dropped */
  run_str(STREAM_API_ANTHROPIC,
          "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
          "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}\n\n"
          "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
          "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}\n\n",
          &c);
  assert_string_equal(json_string_value(json_object_get(c.reasoning, "0")), "hmm");
  assert_int_equal(json_array_size(c.log), 2); /* REASONING, END */
  assert_true(c.truncated);
  collected_free(&c);
}

static void tool_calls_carry_id_and_name_once_known(void **state)
{
  collected c;
  run_str(
      STREAM_API_OPENAI_CHAT,
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":"
      "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get\",\"arguments\":\"\"}}]}}]}"
      "\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
      "\"function\":{\"arguments\":\"{\\\"a\\\":1}\"}}]}}]}\n\ndata: [DONE]\n\n",
      &c);
  json_t *second = json_array_get(c.log, 1);
  assert_string_equal(json_string_value(json_object_get(second, "id")), "call_1");
  assert_string_equal(json_string_value(json_object_get(second, "name")), "get");
  assert_string_equal(json_string_value(json_object_get(c.tools, "0.0")), "{\"a\":1}");
  collected_free(&c);

  /* Ollama's arguments are an object; they arrive re-serialised */
  run_str(STREAM_API_OLLAMA,
          "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":"
          "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}}]},\"done\":false}\n"
          "{\"message\":{\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\","
          "\"prompt_eval_count\":9,\"eval_count\":4}",
          &c);
  json_t *tool = json_array_get(c.log, 1);
  assert_string_equal(json_string_value(json_object_get(tool, "name")), "get_weather");
  assert_string_equal(json_string_value(json_object_get(c.tools, "0.0")), "{\"city\":\"Paris\"}");
  assert_int_equal(c.usage.input_tokens, 9);
  assert_int_equal(c.usage.output_tokens, 4);
  assert_string_equal(c.terminator, "done");
  collected_free(&c);
}

static void oversized_events_fail_with_a_clear_error(void **state)
{
  buf_t b = BUF_INIT;
  buf_puts(&b, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"");
  for (int i = 0; i < 200; i++) {
    buf_puts(&b, "xxxxx");
  }
  buf_puts(&b, "\"}}]}\n\n");
  collected c;
  collected_init(&c);
  stream_parser *p = stream_parser_new(STREAM_API_OPENAI_CHAT, collect, &c, 512);
  assert_int_equal(stream_parser_feed(p, b.data, b.len), STREAM_ETOOBIG);
  assert_int_equal(stream_parser_feed(p, "data: [DONE]\n\n", 14), STREAM_ETOOBIG);
  assert_int_equal(stream_parser_finish(p), STREAM_ETOOBIG);
  assert_int_equal(c.malformed, 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(c.log, 0), "message")),
                      "openai-chat: sse: event larger than 512 bytes");
  assert_string_equal(c.terminator, "eof");
  assert_true(c.truncated);
  stream_parser_free(p);
  collected_free(&c);
  buf_free(&b);
}

static void the_callback_can_stop_a_parser(void **state)
{
  collected c;
  collected_init(&c);
  c.stop_after = 1;
  stream_parser *p = stream_parser_new(STREAM_API_OPENAI_CHAT, collect, &c, 0);
  const char *s = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
                  "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\n\n";
  assert_int_equal(stream_parser_feed(p, s, strlen(s)), STREAM_ESTOPPED);
  assert_int_equal(stream_parser_feed(p, s, strlen(s)), STREAM_ESTOPPED);
  assert_int_equal(stream_parser_finish(p), STREAM_ESTOPPED);
  assert_int_equal(stream_parser_finish(p), STREAM_EFINISHED);
  assert_int_equal(json_array_size(c.log), 1);
  stream_parser_free(p);
  collected_free(&c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_recorded_stream_yields_its_oracle_summary),
      cmocka_unit_test(http_error_bodies_give_message_type_code_and_retry_advice),
      cmocka_unit_test(http_error_bodies_of_other_shapes_still_give_a_message),
      cmocka_unit_test(retry_advice_follows_the_providers),
      cmocka_unit_test(responses_nested_error_event_is_read),
      cmocka_unit_test(malformed_data_gives_an_error_event_and_parsing_goes_on),
      cmocka_unit_test(eof_without_terminator_is_truncated_and_a_pending_terminator_is_not),
      cmocka_unit_test(anthropic_usage_merges_cumulative_deltas),
      cmocka_unit_test(tool_calls_carry_id_and_name_once_known),
      cmocka_unit_test(oversized_events_fail_with_a_clear_error),
      cmocka_unit_test(the_callback_can_stop_a_parser),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
