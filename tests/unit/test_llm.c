/* llm: whole model calls over real loopback HTTP against the scripted server, fed with the
 * recorded provider streams in tests/wire/fixtures. */
/* cmocka.h needs these four first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/tokens.h"
#include "http_test_server.h"
#include "provider/llm.h"
#include "util/buf.h"

#ifndef FRUGAL_SOURCE_DIR
#define FRUGAL_SOURCE_DIR "."
#endif
#define FIXTURES FRUGAL_SOURCE_DIR "/tests/wire/fixtures/"

/* A variable of our own, so the developer's real keys never meet the test server. */
#define KEY_ENV "FRUGAL_TEST_LLM_KEY"

/* ---- fixture ---- */

typedef struct fx fx;
typedef void (*route_fn)(fx *f, ts_conn *conn, const ts_request *r, int n);

struct fx {
  uv_loop_t loop;
  ts_server srv;
  llm_client *client;
  route_fn route;
  char base[64];
  char url[96];
  int hits;
  const char *body; /* what routes serve */
  size_t body_len;
  char tmp[64]; /* a private directory for key-command tests */
};

typedef struct {
  fx *f;
  llm_call *call;
  int done;
  llm_status status;
  char msg[512];
  stream_error_class cls;
  int http_status;
  char *text;
  size_t text_len;
  stream_usage usage;
  int usage_estimated;
  char usage_note[300];
  stream_finish finish;
  char finish_raw[64];
  int attempts;
  int text_deltas;
  buf_t deltas;
  int retries;
  int retry_attempt;
  double retry_delay;
  char retry_why[512];
  int cancel_at_delta; /* cancel from on_delta at this text delta; 0: never */
  int cancel_in_retry; /* cancel from on_retry */
  int cancelled;
  int after_cancel; /* callbacks other than on_done after llm_call_cancel returned */
} rec;

static void route_cb(ts_server *s, ts_conn *conn, const ts_request *r, void *ud)
{
  fx *f = ud;
  f->hits++;
  f->route(f, conn, r, f->hits);
}

static fx *fx_new(route_fn route, const llm_client_opts *opts)
{
  fx *f = calloc(1, sizeof(*f));
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->route = route;
  assert_int_equal(ts_start(&f->srv, &f->loop, route_cb, f), 0);
  snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->srv.port);
  char err[256] = "";
  f->client = llm_client_new(&f->loop, opts, err, sizeof(err));
  assert_non_null(f->client);
  unsetenv(KEY_ENV);
  return f;
}

/* Frees everything; uv_loop_close fails with UV_EBUSY if any handle was left open. */
static void fx_free(fx *f)
{
  llm_client_free(f->client);
  ts_stop(&f->srv);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  if (f->tmp[0]) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->tmp);
    assert_int_equal(system(cmd), 0);
  }
  unsetenv(KEY_ENV);
  free(f);
}

static void rec_free(rec *r)
{
  free(r->text);
  buf_free(&r->deltas);
}

static void tick(uv_timer_t *t)
{
  (*(int *)t->data)++;
}

/* Runs the loop until *counter >= target or timeout_ms have passed (returns 0 then). A timer
 * that fires at the start of a UV_RUN_ONCE iteration does not end that iteration's poll, so a
 * 5 ms ticker keeps every poll short and the condition is checked often. */
static int run_while_below(fx *f, const int *counter, int target, unsigned timeout_ms)
{
  int ticks = 0;
  uv_timer_t ticker;
  uv_update_time(&f->loop);
  uint64_t end = uv_now(&f->loop) + timeout_ms;
  uv_timer_init(&f->loop, &ticker);
  ticker.data = &ticks;
  uv_timer_start(&ticker, tick, 5, 5);
  while ((!counter || *counter < target) && uv_now(&f->loop) < end) {
    uv_run(&f->loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&ticker, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  return !counter || *counter >= target;
}

/* Runs the loop until *counter >= target; fails the test after timeout_ms. */
static void run_until(fx *f, const int *counter, int target, unsigned timeout_ms)
{
  assert_true(run_while_below(f, counter, target, timeout_ms));
}

static void run_for(fx *f, unsigned ms)
{
  run_while_below(f, NULL, 0, ms);
}

static char *read_fixture(const char *name, size_t *len)
{
  char path[512];
  snprintf(path, sizeof(path), FIXTURES "%s", name);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  buf_t b = BUF_INIT;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
    buf_append(&b, chunk, n);
  }
  fclose(fp);
  *len = b.len;
  return buf_detach(&b);
}

/* The fixture's SSE events (split at blank lines) for which keep(event) is true, in order. */
static char *fixture_events(const char *name, int first, int count, const char *drop_if)
{
  size_t len;
  char *all = read_fixture(name, &len);
  buf_t out = BUF_INIT;
  int idx = 0;
  char *p = all;
  while (*p) {
    char *end = strstr(p, "\n\n");
    char *next = end ? end + 2 : p + strlen(p);
    size_t n = (size_t)(next - p);
    int blank = strspn(p, "\n") == n;
    if (!blank) {
      int keep = idx >= first && (count < 0 || idx < first + count);
      char *ev = xstrndup(p, n);
      if (drop_if && strstr(ev, drop_if)) {
        keep = 0;
      }
      if (keep) {
        buf_append(&out, p, n);
      }
      free(ev);
      idx++;
    }
    p = next;
  }
  free(all);
  return buf_detach(&out);
}

/* ---- responses ---- */

static void respond(ts_conn *conn, int status, const char *ctype, const char *extra,
                    const char *body, size_t len)
{
  ts_writef(conn, "HTTP/1.1 %d X\r\nContent-Type: %s\r\n%sContent-Length: %zu\r\n\r\n", status,
            ctype, extra ? extra : "", len);
  ts_write(conn, body, len);
}

static void sse(ts_conn *conn, const char *body, size_t len)
{
  respond(conn, 200, "text/event-stream; charset=utf-8", "Cache-Control: no-cache\r\n", body, len);
}

static void route_body(fx *f, ts_conn *conn, const ts_request *r, int n)
{
  sse(conn, f->body, f->body_len);
}

/* ---- the call ---- */

static void on_delta(llm_call *call, stream_event_kind kind, const char *text, size_t len,
                     void *data)
{
  rec *r = data;
  assert_ptr_equal(call, r->call);
  if (r->cancelled) {
    r->after_cancel++;
  }
  if (kind == STREAM_EV_TEXT) {
    r->text_deltas++;
    buf_append(&r->deltas, text, len);
    if (r->cancel_at_delta == r->text_deltas) {
      llm_call_cancel(call);
      r->cancelled = 1;
    }
  }
}

static void on_retry(llm_call *call, int attempt, double delay_ms, const char *why, void *data)
{
  rec *r = data;
  if (r->cancelled) {
    r->after_cancel++;
  }
  r->retries++;
  r->retry_attempt = attempt;
  r->retry_delay = delay_ms;
  snprintf(r->retry_why, sizeof(r->retry_why), "%s", why);
  if (r->cancel_in_retry) {
    llm_call_cancel(call);
    r->cancelled = 1;
  }
}

static void on_done(llm_call *call, const llm_result *res, void *data)
{
  rec *r = data;
  assert_ptr_equal(call, r->call);
  r->done++;
  r->status = res->status;
  snprintf(r->msg, sizeof(r->msg), "%s", res->message);
  r->cls = res->error_class;
  r->http_status = res->http_status;
  free(r->text);
  r->text = xstrndup(res->text, res->text_len);
  r->text_len = res->text_len;
  assert_int_equal(res->text[res->text_len], '\0');
  r->usage = res->usage;
  r->usage_estimated = res->usage_estimated;
  snprintf(r->usage_note, sizeof(r->usage_note), "%s", res->usage_note ? res->usage_note : "");
  r->finish = res->finish;
  snprintf(r->finish_raw, sizeof(r->finish_raw), "%s", res->finish_raw ? res->finish_raw : "");
  r->attempts = res->attempts;
  assert_true(res->latency_ms >= 0);
  llm_call_cancel(call); /* a no-op from inside on_done */
}

static const llm_callbacks CBS = {on_delta, on_retry, on_done};

static const prompt PROMPT = {
    .system = "You write C. Answer with code only.",
    .context = "// file: add.c\nint add(int a, int b);",
    .task = "Implement add.",
};
static const prompt PROMPT_NO_CONTEXT = {
    .system = "You write C.",
    .context = "",
    .task = "Implement add.",
};

static void tier_set(fx *f, tier_config *t, provider_id p, const char *key_cmd)
{
  memset(t, 0, sizeof(*t));
  t->provider = p;
  t->model = (char *)"gpt-test";
  snprintf(f->url, sizeof(f->url), p == PROVIDER_ANTHROPIC ? "%s" : "%s/v1", f->base);
  t->base_url = f->url;
  t->api_key_env = (char *)KEY_ENV;
  t->api_key_cmd = (char *)key_cmd;
  t->max_output_tokens = 1234;
}

static llm_request request(const tier_config *t, const prompt *p)
{
  llm_request q;
  memset(&q, 0, sizeof(q));
  q.tier = t;
  q.prompt = p;
  q.cache_key = "frugal:proj:tests";
  q.retry_base_ms = 1; /* tests only: keep backoff waits at a few ms */
  return q;
}

static llm_call *start(fx *f, rec *r, const llm_request *q)
{
  char err[256] = "";
  r->f = f;
  r->call = NULL;
  llm_call *c = llm_call_start(f->client, q, &CBS, r, err, sizeof(err));
  assert_non_null(c);
  r->call = c;
  assert_int_equal(r->done, 0); /* callbacks come from the loop, never from inside start */
  return c;
}

static json_t *body_json(const ts_request *r)
{
  json_error_t e;
  json_t *root = json_loadb(r->body, r->body_len, 0, &e);
  assert_non_null(root);
  return root;
}

static const char *jstr(json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  assert_true(json_is_string(v));
  return json_string_value(v);
}

static json_int_t jint(json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  assert_true(json_is_integer(v));
  return json_integer_value(v);
}

static char *header(const ts_request *r, const char *name)
{
  static char v[512];
  return ts_header(r, name, v, sizeof(v)) == 0 ? v : NULL;
}

/* ---- requests and answers per provider ---- */

static void test_responses_request_has_instructions_input_cache_key_and_bearer_key(void **state)
{
  fx *f = fx_new(route_body, NULL);
  size_t len;
  char *stream = read_fixture("openai-responses-stream-text-gpt5.sse", &len);
  f->body = stream;
  f->body_len = len;
  setenv(KEY_ENV, "sk-env-key-0001", 1);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);

  assert_int_equal(r.status, LLM_OK);
  assert_string_equal(r.msg, "");
  assert_string_equal(r.text, "Paris.");
  assert_string_equal(r.deltas.data, "Paris.");
  assert_int_equal(r.usage.input_tokens, 13);
  assert_int_equal(r.usage.output_tokens, 59);
  assert_int_equal(r.usage_estimated, 0);
  assert_int_equal(r.finish, STREAM_FINISH_STOP);
  assert_int_equal(r.attempts, 1);
  assert_int_equal(r.http_status, 200);

  assert_int_equal(f->srv.nreqs, 1);
  const ts_request *req = &f->srv.reqs[0];
  assert_string_equal(req->method, "POST");
  assert_string_equal(req->target, "/v1/responses");
  assert_string_equal(header(req, "Authorization"), "Bearer sk-env-key-0001");
  assert_string_equal(header(req, "Content-Type"), "application/json");
  assert_string_equal(header(req, "Accept"), "text/event-stream");
  assert_null(header(req, "x-api-key"));
  json_t *b = body_json(req);
  assert_string_equal(jstr(b, "model"), "gpt-test");
  assert_string_equal(jstr(b, "instructions"), PROMPT.system);
  json_t *input = json_object_get(b, "input");
  assert_int_equal(json_array_size(input), 1);
  json_t *msg = json_array_get(input, 0);
  assert_string_equal(jstr(msg, "role"), "user");
  json_t *content = json_object_get(msg, "content");
  assert_int_equal(json_array_size(content), 2);
  assert_string_equal(jstr(json_array_get(content, 0), "type"), "input_text");
  assert_string_equal(jstr(json_array_get(content, 0), "text"), PROMPT.context);
  assert_string_equal(jstr(json_array_get(content, 1), "text"), PROMPT.task);
  assert_true(json_is_true(json_object_get(b, "stream")));
  assert_true(json_is_false(json_object_get(b, "store")));
  assert_int_equal(jint(b, "max_output_tokens"), 1234);
  assert_string_equal(jstr(b, "prompt_cache_key"), "frugal:proj:tests");
  json_decref(b);
  rec_free(&r);
  free(stream);
  fx_free(f);
}

static void test_chat_request_to_local_server_sends_max_tokens_and_no_auth_without_key(void **state)
{
  fx *f = fx_new(route_body, NULL);
  size_t len;
  char *stream = read_fixture("openai-chat-stream-usage.sse", &len);
  f->body = stream;
  f->body_len = len;
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  llm_request q = request(&t, &PROMPT);
  q.max_output_tokens = 77;
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);

  assert_int_equal(r.status, LLM_OK);
  assert_string_equal(r.text, "I'm unable to provide real-time weather updates. To get the current "
                              "weather in San Francisco, I recommend checking a reliable weather "
                              "website or a weather app.");
  assert_int_equal(r.usage.input_tokens, 14);
  assert_int_equal(r.usage.output_tokens, 30);
  assert_int_equal(r.usage_estimated, 0);
  assert_int_equal(r.finish, STREAM_FINISH_STOP);
  assert_string_equal(r.finish_raw, "stop");
  assert_true(r.text_deltas > 10); /* streamed, not handed over at the end */

  const ts_request *req = &f->srv.reqs[0];
  assert_string_equal(req->target, "/v1/chat/completions");
  assert_null(header(req, "Authorization"));
  assert_null(header(req, "x-api-key"));
  json_t *b = body_json(req);
  json_t *msgs = json_object_get(b, "messages");
  assert_int_equal(json_array_size(msgs), 2);
  assert_string_equal(jstr(json_array_get(msgs, 0), "role"), "system");
  assert_string_equal(jstr(json_array_get(msgs, 0), "content"), PROMPT.system);
  assert_string_equal(jstr(json_array_get(msgs, 1), "role"), "user");
  assert_string_equal(jstr(json_array_get(msgs, 1), "content"),
                      "// file: add.c\nint add(int a, int b);\n\nImplement add.");
  assert_true(json_is_true(json_object_get(json_object_get(b, "stream_options"), "include_usage")));
  assert_int_equal(jint(b, "max_tokens"), 77);
  assert_null(json_object_get(b, "max_completion_tokens"));
  assert_null(json_object_get(b, "prompt_cache_key"));
  json_decref(b);
  rec_free(&r);
  free(stream);
  fx_free(f);
}

static void test_chat_body_for_api_openai_com_uses_max_completion_tokens_and_cache_key(void **state)
{
  tier_config t;
  memset(&t, 0, sizeof(t));
  t.provider = PROVIDER_OPENAI_CHAT;
  t.model = (char *)"gpt-5.4-mini";
  t.base_url = (char *)"https://API.openai.com/v1/";
  t.max_output_tokens = 900;
  llm_request q;
  memset(&q, 0, sizeof(q));
  q.tier = &t;
  q.prompt = &PROMPT_NO_CONTEXT;
  q.cache_key = "frugal:p:fix";
  char err[128] = "";
  char *s = llm_request_body(&q, err, sizeof(err));
  assert_non_null(s);
  json_t *b = json_loads(s, 0, NULL);
  assert_int_equal(jint(b, "max_completion_tokens"), 900);
  assert_null(json_object_get(b, "max_tokens"));
  assert_string_equal(jstr(b, "prompt_cache_key"), "frugal:p:fix");
  json_t *msgs = json_object_get(b, "messages");
  assert_string_equal(jstr(json_array_get(msgs, 1), "content"), "Implement add.");
  json_decref(b);
  free(s);
}

static void test_anthropic_request_caches_context_block_and_sends_its_headers(void **state)
{
  fx *f = fx_new(route_body, NULL);
  size_t len;
  char *stream = read_fixture("anthropic-messages-stream-live-padded.sse", &len);
  f->body = stream;
  f->body_len = len;
  setenv(KEY_ENV, "sk-ant-test-0002", 1);
  tier_config t;
  tier_set(f, &t, PROVIDER_ANTHROPIC, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);

  assert_int_equal(r.status, LLM_OK);
  assert_string_equal(r.text, "[12345,67890]");
  assert_int_equal(r.usage.input_tokens, 135);
  assert_int_equal(r.usage.output_tokens, 10);
  assert_string_equal(r.finish_raw, "end_turn");

  const ts_request *req = &f->srv.reqs[0];
  assert_string_equal(req->target, "/v1/messages");
  assert_string_equal(header(req, "x-api-key"), "sk-ant-test-0002");
  assert_string_equal(header(req, "anthropic-version"), "2023-06-01");
  assert_null(header(req, "Authorization"));
  json_t *b = body_json(req);
  assert_int_equal(jint(b, "max_tokens"), 1234);
  json_t *sys = json_object_get(b, "system");
  assert_int_equal(json_array_size(sys), 1);
  assert_string_equal(jstr(json_array_get(sys, 0), "text"), PROMPT.system);
  /* one breakpoint, at the end of the stable prefix: the context block */
  assert_null(json_object_get(json_array_get(sys, 0), "cache_control"));
  json_t *content = json_object_get(json_array_get(json_object_get(b, "messages"), 0), "content");
  assert_int_equal(json_array_size(content), 2);
  json_t *ctx = json_array_get(content, 0);
  assert_string_equal(jstr(ctx, "text"), PROMPT.context);
  assert_string_equal(jstr(json_object_get(ctx, "cache_control"), "type"), "ephemeral");
  assert_string_equal(jstr(json_array_get(content, 1), "text"), PROMPT.task);
  assert_null(json_object_get(json_array_get(content, 1), "cache_control"));
  assert_true(json_is_true(json_object_get(b, "stream")));
  json_decref(b);
  rec_free(&r);
  free(stream);
  fx_free(f);
}

static void test_bodies_without_context_skip_it_and_cache_the_system_block(void **state)
{
  tier_config t;
  memset(&t, 0, sizeof(t));
  t.model = (char *)"m";
  llm_request q;
  memset(&q, 0, sizeof(q));
  q.tier = &t;
  q.prompt = &PROMPT_NO_CONTEXT;
  char err[128] = "";

  t.provider = PROVIDER_ANTHROPIC;
  char *s = llm_request_body(&q, err, sizeof(err));
  json_t *b = json_loads(s, 0, NULL);
  json_t *sys0 = json_array_get(json_object_get(b, "system"), 0);
  assert_string_equal(jstr(json_object_get(sys0, "cache_control"), "type"), "ephemeral");
  json_t *content = json_object_get(json_array_get(json_object_get(b, "messages"), 0), "content");
  assert_int_equal(json_array_size(content), 1);
  assert_string_equal(jstr(json_array_get(content, 0), "text"), "Implement add.");
  assert_int_equal(jint(b, "max_tokens"), 8192); /* Anthropic requires one */
  json_decref(b);
  free(s);

  t.provider = PROVIDER_OPENAI;
  s = llm_request_body(&q, err, sizeof(err));
  b = json_loads(s, 0, NULL);
  content = json_object_get(json_array_get(json_object_get(b, "input"), 0), "content");
  assert_int_equal(json_array_size(content), 1);
  assert_null(json_object_get(b, "prompt_cache_key")); /* none given */
  json_decref(b);
  free(s);
}

/* A request no later one shares a prefix with (the planner's) marks no cache breakpoint: a
 * write costs 1.25x input and would never be read. */
static void test_anthropic_no_cache_write_marks_no_block(void **state)
{
  (void)state;
  tier_config t;
  memset(&t, 0, sizeof(t));
  t.model = (char *)"m";
  t.provider = PROVIDER_ANTHROPIC;
  const prompt *prompts[] = {&PROMPT, &PROMPT_NO_CONTEXT};
  for (size_t i = 0; i < 2; i++) {
    llm_request q;
    memset(&q, 0, sizeof(q));
    q.tier = &t;
    q.prompt = prompts[i];
    q.no_cache_write = 1;
    char err[128] = "";
    char *s = llm_request_body(&q, err, sizeof(err));
    assert_non_null(s);
    json_t *b = json_loads(s, 0, NULL);
    json_t *sys0 = json_array_get(json_object_get(b, "system"), 0);
    assert_string_equal(jstr(sys0, "text"), prompts[i]->system);
    assert_null(json_object_get(sys0, "cache_control"));
    json_t *content = json_object_get(json_array_get(json_object_get(b, "messages"), 0),
                                      "content");
    assert_int_equal(json_array_size(content), i == 0 ? 2 : 1);
    for (size_t k = 0; k < json_array_size(content); k++) {
      assert_null(json_object_get(json_array_get(content, k), "cache_control"));
    }
    json_decref(b);
    free(s);
  }
}

static void test_invalid_utf8_prompt_and_bad_base_url_are_refused_at_start(void **state)
{
  fx *f = fx_new(route_body, NULL);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, NULL);
  prompt bad = PROMPT;
  bad.task = "caf\xc3";
  llm_request q = request(&t, &bad);
  char err[256] = "";
  rec r = {0};
  assert_null(llm_call_start(f->client, &q, &CBS, &r, err, sizeof(err)));
  assert_non_null(strstr(err, "UTF-8"));
  assert_non_null(strstr(err, "task"));

  t.base_url = (char *)"ftp://example.com";
  q = request(&t, &PROMPT);
  assert_null(llm_call_start(f->client, &q, &CBS, &r, err, sizeof(err)));
  assert_non_null(strstr(err, "http"));
  run_for(f, 5);
  assert_int_equal(r.done, 0);
  assert_int_equal(f->hits, 0);
  fx_free(f);
}

/* ---- retries ---- */

typedef struct {
  int status;
  const char *extra;
  const char *file; /* error body fixture, or NULL for a literal */
  const char *literal;
} canned;

static canned CANNED[4];

/* Answers request n with CANNED[n-1] when set, else with f->body as a stream. */
static void route_canned(fx *f, ts_conn *conn, const ts_request *r, int n)
{
  if (n <= 4 && CANNED[n - 1].status) {
    const canned *c = &CANNED[n - 1];
    size_t len;
    char *body = c->file ? read_fixture(c->file, &len) : xstrdup(c->literal);
    if (!c->file) {
      len = strlen(body);
    }
    respond(conn, c->status, "application/json", c->extra, body, len);
    free(body);
    return;
  }
  sse(conn, f->body, f->body_len);
}

static void test_429_with_retry_after_zero_is_retried_then_succeeds(void **state)
{
  memset(CANNED, 0, sizeof(CANNED));
  CANNED[0] = (canned){429, "Retry-After: 0\r\n", "openai-error-429-rate-limit-tokens.json", NULL};
  fx *f = fx_new(route_canned, NULL);
  size_t len;
  char *stream = read_fixture("openai-chat-stream-usage.sse", &len);
  f->body = stream;
  f->body_len = len;
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  llm_request q = request(&t, &PROMPT);
  q.retry_base_ms = 5000; /* proves Retry-After, not the backoff, set the wait */
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_OK);
  assert_int_equal(r.attempts, 2);
  assert_int_equal(r.retries, 1);
  assert_int_equal(r.retry_attempt, 2);
  assert_true(r.retry_delay == 0.0);
  assert_non_null(strstr(r.retry_why, "429 rate limited at 127.0.0.1: Request too large"));
  assert_int_equal(r.usage.output_tokens, 30);
  assert_int_equal(f->srv.nreqs, 2);
  /* the same body went twice */
  assert_int_equal(f->srv.reqs[0].body_len, f->srv.reqs[1].body_len);
  assert_memory_equal(f->srv.reqs[0].body, f->srv.reqs[1].body, f->srv.reqs[0].body_len);
  rec_free(&r);
  free(stream);
  fx_free(f);
}

static void test_429_insufficient_quota_is_not_retried(void **state)
{
  memset(CANNED, 0, sizeof(CANNED));
  CANNED[0] = (canned){429, NULL, "openai-error-429-insufficient-quota.json", NULL};
  fx *f = fx_new(route_canned, NULL);
  f->body = "";
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  run_for(f, 20);

  assert_int_equal(r.status, LLM_HTTP_ERROR);
  assert_int_equal(r.http_status, 429);
  assert_int_equal(r.cls, STREAM_ERR_QUOTA);
  assert_int_equal(r.attempts, 1);
  assert_int_equal(r.retries, 0);
  assert_int_equal(f->hits, 1);
  assert_non_null(
      strstr(r.msg, "429 quota exhausted at 127.0.0.1: You exceeded your current quota"));
  assert_non_null(strstr(r.msg, "(not retried)"));
  assert_int_equal(r.usage_estimated, 0); /* an error status is not billed */
  assert_int_equal(r.usage.input_tokens, STREAM_UNKNOWN);
  rec_free(&r);
  fx_free(f);
}

static void test_500_three_times_fails_after_three_attempts(void **state)
{
  memset(CANNED, 0, sizeof(CANNED));
  for (int i = 0; i < 3; i++) {
    CANNED[i] = (canned){500, NULL, NULL,
                         "{\"error\":{\"message\":\"The server had an error\",\"type\":"
                         "\"server_error\",\"param\":null,\"code\":null}}"};
  }
  fx *f = fx_new(route_canned, NULL);
  f->body = "";
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);

  assert_int_equal(r.status, LLM_HTTP_ERROR);
  assert_int_equal(r.http_status, 500);
  assert_int_equal(r.cls, STREAM_ERR_SERVER);
  assert_int_equal(r.attempts, 3);
  assert_int_equal(r.retries, 2);
  assert_int_equal(f->hits, 3);
  assert_string_equal(r.msg, "500 server error at 127.0.0.1: The server had an error (retried 2 "
                             "times)");
  /* backoff: base 1 ms, then 2 ms, each with at most 25% taken off */
  assert_true(r.retry_delay > 1.4 && r.retry_delay <= 2.0);
  rec_free(&r);
  fx_free(f);
}

static void test_retry_after_ms_wins_and_http_dates_are_read(void **state)
{
  memset(CANNED, 0, sizeof(CANNED));
  const char *busy = "{\"error\":{\"message\":\"slow down\",\"type\":\"tokens\",\"code\":"
                     "\"rate_limit_exceeded\"}}";
  CANNED[0] = (canned){429, "retry-after-ms: 15\r\nretry-after: 30\r\n", NULL, busy};
  CANNED[1] = (canned){503, "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n", NULL, busy};
  fx *f = fx_new(route_canned, NULL);
  char *body = fixture_events("openai-chat-stream-usage.sse", 0, -1, NULL);
  f->body = body;
  f->body_len = strlen(body);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  llm_request q = request(&t, &PROMPT);
  q.retry_base_ms = 5000; /* the backoff would fail the time limit below */
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.retries, 1, 3000);
  assert_true(r.retry_delay == 15.0);
  run_until(f, &r.done, 1, 1000);
  assert_true(r.retry_delay == 0.0); /* a date in the past: go now */
  assert_int_equal(r.status, LLM_OK);
  assert_int_equal(r.attempts, 3);
  assert_int_equal(r.retries, 2);
  rec_free(&r);
  free(body);
  fx_free(f);
}

static void test_cancel_from_on_retry_stops_the_call(void **state)
{
  memset(CANNED, 0, sizeof(CANNED));
  CANNED[0] = (canned){502, NULL, NULL, "<html>Bad gateway</html>"};
  fx *f = fx_new(route_canned, NULL);
  f->body = "";
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  r.cancel_in_retry = 1;
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  run_for(f, 20);
  assert_int_equal(r.status, LLM_CANCELLED);
  assert_int_equal(r.retries, 1);
  assert_non_null(strstr(r.retry_why, "502 server error at 127.0.0.1: <html>Bad gateway</html>"));
  assert_int_equal(r.after_cancel, 0);
  assert_int_equal(f->hits, 1);
  rec_free(&r);
  fx_free(f);
}

static void test_retry_after_beyond_60s_is_not_waited_for(void **state)
{
  memset(CANNED, 0, sizeof(CANNED));
  CANNED[0] = (canned){529, "retry-after: 120\r\n", NULL,
                       "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                       "\"Overloaded\"}}"};
  fx *f = fx_new(route_canned, NULL);
  f->body = "";
  tier_config t;
  tier_set(f, &t, PROVIDER_ANTHROPIC, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_HTTP_ERROR);
  assert_int_equal(r.attempts, 1);
  assert_int_equal(r.cls, STREAM_ERR_OVERLOADED);
  assert_string_equal(r.msg, "529 overloaded at 127.0.0.1: Overloaded (the provider asks to wait "
                             "120 s; not retried)");
  rec_free(&r);
  fx_free(f);
}

static void test_x_should_retry_false_wins_over_status(void **state)
{
  memset(CANNED, 0, sizeof(CANNED));
  CANNED[0] = (canned){503, "x-should-retry: false\r\n", NULL, "{\"error\":\"busy\"}"};
  fx *f = fx_new(route_canned, NULL);
  f->body = "";
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_HTTP_ERROR);
  assert_int_equal(r.attempts, 1);
  assert_string_equal(r.msg, "503 overloaded at 127.0.0.1: busy (not retried)");
  rec_free(&r);
  fx_free(f);
}

static void test_404_names_the_model(void **state)
{
  memset(CANNED, 0, sizeof(CANNED));
  CANNED[0] = (canned){404, NULL, NULL,
                       "{\"error\":{\"message\":\"The model `gpt-test` does not exist or you do "
                       "not have access to it.\",\"type\":\"invalid_request_error\",\"param\":"
                       "null,\"code\":\"model_not_found\"}}"};
  fx *f = fx_new(route_canned, NULL);
  f->body = "";
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_HTTP_ERROR);
  assert_int_equal(r.cls, STREAM_ERR_NOT_FOUND);
  assert_int_equal(r.attempts, 1);
  assert_non_null(strstr(r.msg, "404 model not found: gpt-test (127.0.0.1: The model"));
  rec_free(&r);
  fx_free(f);
}

static void test_401_names_the_variable_and_never_the_key(void **state)
{
  memset(CANNED, 0, sizeof(CANNED));
  /* Some proxies echo the key; OpenAI masks the middle. Neither may reach the message. */
  CANNED[0] = (canned){401, NULL, NULL,
                       "{\"error\":{\"message\":\"Incorrect API key provided: "
                       "sk-secret-0123456789abcdef. Or was it sk-secr********cdef? You can find "
                       "your API key at https://platform.openai.com/account/api-keys.\",\"type\":"
                       "\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}"};
  fx *f = fx_new(route_canned, NULL);
  f->body = "";
  setenv(KEY_ENV, "sk-secret-0123456789abcdef", 1);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_HTTP_ERROR);
  assert_int_equal(r.cls, STREAM_ERR_AUTH);
  assert_int_equal(r.attempts, 1);
  assert_non_null(strstr(r.msg, "401 authentication failed at 127.0.0.1: Incorrect API key "
                                "provided."));
  assert_string_equal(r.msg, "401 authentication failed at 127.0.0.1: Incorrect API key provided. "
                             "Or was it? You can find your API key at "
                             "https://platform.openai.com/account/api-keys. (set " KEY_ENV ")");
  assert_null(strstr(r.msg, "sk-secr"));
  assert_null(strstr(r.msg, "0123456789"));
  assert_null(strstr(r.msg, "cdef"));
  /* the key went where it belongs */
  assert_string_equal(header(&f->srv.reqs[0], "Authorization"),
                      "Bearer sk-secret-0123456789abcdef");
  rec_free(&r);
  fx_free(f);
}

static void test_connection_refused_is_retried_then_network_error(void **state)
{
  fx *f = fx_new(route_body, NULL);
  /* A port that was free a moment ago and has no listener now. */
  uv_tcp_t tmp;
  uv_tcp_init(&f->loop, &tmp);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&tmp, (const struct sockaddr *)&a, 0), 0);
  struct sockaddr_in got;
  int glen = sizeof(got);
  uv_tcp_getsockname(&tmp, (struct sockaddr *)&got, &glen);
  uv_close((uv_handle_t *)&tmp, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, NULL);
  snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/v1", ntohs(got.sin_port));
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_NETWORK_ERROR);
  assert_int_equal(r.attempts, 3);
  assert_int_equal(r.retries, 2);
  assert_int_equal(r.http_status, 0);
  assert_non_null(strstr(r.msg, "cannot reach 127.0.0.1"));
  assert_non_null(strstr(r.msg, "(retried 2 times)"));
  assert_int_equal(r.usage_estimated, 0);
  rec_free(&r);
  fx_free(f);
}

/* ---- errors inside the stream ---- */

static void test_midstream_error_after_text_is_not_retried_and_keeps_the_text(void **state)
{
  fx *f = fx_new(route_body, NULL);
  /* the first three chunks of a real answer, then a real mid-stream error and [DONE] */
  char *head = fixture_events("openai-chat-stream-usage.sse", 0, 3, NULL);
  size_t elen;
  char *err = read_fixture("openai-chat-stream-midstream-error.sse", &elen);
  buf_t b = BUF_INIT;
  buf_puts(&b, head);
  buf_append(&b, err, elen);
  f->body = b.data;
  f->body_len = b.len;
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  run_for(f, 20);
  assert_int_equal(r.status, LLM_STREAM_ERROR);
  assert_int_equal(r.attempts, 1);
  assert_int_equal(r.retries, 0);
  assert_int_equal(f->hits, 1);
  assert_string_equal(r.text, "I'm unable");
  assert_non_null(strstr(r.msg, "during the answer from 127.0.0.1: The server had an error"));
  assert_int_equal(r.usage_estimated, 1); /* the answer started: cost is estimated */
  assert_true(r.usage.output_tokens > 0);
  rec_free(&r);
  buf_free(&b);
  free(head);
  free(err);
  fx_free(f);
}

/* First an Anthropic overloaded error event (no text yet), then the real answer. */
static void route_overloaded_then_answer(fx *f, ts_conn *conn, const ts_request *r, int n)
{
  size_t len;
  char *body = read_fixture(n == 1 ? "anthropic-messages-stream-error-overloaded.sse"
                                   : "anthropic-messages-stream-live-padded.sse",
                            &len);
  sse(conn, body, len);
  free(body);
}

static void test_retryable_stream_error_before_text_is_retried(void **state)
{
  fx *f = fx_new(route_overloaded_then_answer, NULL);
  tier_config t;
  tier_set(f, &t, PROVIDER_ANTHROPIC, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_OK);
  assert_int_equal(r.attempts, 2);
  assert_int_equal(r.retries, 1);
  assert_non_null(strstr(r.retry_why, "overloaded during the answer from 127.0.0.1: Overloaded"));
  assert_string_equal(r.text, "[12345,67890]");
  rec_free(&r);
  fx_free(f);
}

static void test_stream_without_terminator_is_truncated(void **state)
{
  fx *f = fx_new(route_body, NULL);
  char *body = fixture_events("openai-chat-stream-usage.sse", 0, 5, NULL);
  f->body = body;
  f->body_len = strlen(body);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_TRUNCATED);
  assert_int_equal(r.attempts, 1);
  assert_string_equal(r.text, "I'm unable to provide");
  assert_non_null(strstr(r.msg, "stopped before its end"));
  rec_free(&r);
  free(body);
  fx_free(f);
}

static void test_usage_is_estimated_when_the_provider_sends_none(void **state)
{
  fx *f = fx_new(route_body, NULL);
  /* the real stream without its usage chunk, as servers that ignore include_usage send it */
  char *body = fixture_events("openai-chat-stream-usage.sse", 0, -1, "\"usage\":{");
  f->body = body;
  f->body_len = strlen(body);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_OK);
  assert_int_equal(r.usage_estimated, 1);
  int in = tokens_estimate(LANG_UNKNOWN, PROMPT.system, strlen(PROMPT.system)) +
           tokens_estimate(LANG_UNKNOWN, PROMPT.context, strlen(PROMPT.context)) +
           tokens_estimate(LANG_UNKNOWN, PROMPT.task, strlen(PROMPT.task));
  assert_int_equal(r.usage.input_tokens, in);
  assert_int_equal(r.usage.output_tokens, tokens_estimate(LANG_UNKNOWN, r.text, r.text_len));
  assert_true(r.usage.output_tokens > 20 && r.usage.output_tokens < 45); /* the real count: 30 */
  rec_free(&r);
  free(body);
  fx_free(f);
}

static void route_json_answer(fx *f, ts_conn *conn, const ts_request *r, int n)
{
  const char *body = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":[{\"index\""
                     ":0,\"message\":{\"role\":\"assistant\",\"content\":\"int add(int a, int b) "
                     "{ return a + b; }\"},\"finish_reason\":\"stop\"}],\"usage\":{"
                     "\"prompt_tokens\":40,\"completion_tokens\":12,\"total_tokens\":52}}";
  ts_respond(conn, 200, "application/json", body);
}

static void route_json_error_as_sse(fx *f, ts_conn *conn, const ts_request *r, int n)
{
  const char *body = "\n{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":"
                     "\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}\n";
  sse(conn, body, strlen(body));
}

static void test_json_error_sent_as_an_event_stream_is_reported(void **state)
{
  fx *f = fx_new(route_json_error_as_sse, NULL);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_STREAM_ERROR);
  assert_int_equal(r.cls, STREAM_ERR_AUTH);
  assert_int_equal(r.attempts, 1);
  assert_string_equal(r.msg, "authentication failed at 127.0.0.1: Incorrect API key provided "
                             "(set " KEY_ENV ")");
  rec_free(&r);
  fx_free(f);
}

static void test_json_answer_from_a_server_that_does_not_stream_is_used(void **state)
{
  fx *f = fx_new(route_json_answer, NULL);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_OK);
  assert_string_equal(r.text, "int add(int a, int b) { return a + b; }");
  assert_string_equal(r.deltas.data, r.text);
  assert_int_equal(r.usage.input_tokens, 40);
  assert_int_equal(r.usage.output_tokens, 12);
  assert_int_equal(r.usage_estimated, 0);
  assert_int_equal(r.finish, STREAM_FINISH_STOP);
  rec_free(&r);
  fx_free(f);
}

/* ---- limits: answers, bodies, usage, keys in clear ---- */

/* Connections the test server still has open (not closing). A client that read a response to
 * its end keeps the connection for reuse; one that stopped a transfer closes it. */
static int open_conns(fx *f)
{
  int n = 0;
  for (ts_conn *c = f->srv.conns; c; c = c->next) {
    n += !c->closing;
  }
  return n;
}

/* 2,000 text deltas of 1 KB each (2 MB) and then a proper end: a server that ignores the
 * output limit. */
static void route_endless_chat(fx *f, ts_conn *conn, const ts_request *r, int n)
{
  char text[1025];
  memset(text, 'a', 1024);
  text[1024] = '\0';
  buf_t ev = BUF_INIT;
  buf_printf(&ev,
             "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\""
             ":0,\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}\n\n",
             text);
  const char *end = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{"
                    "\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
  size_t total = ev.len * 2000 + strlen(end);
  ts_writef(conn,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %zu\r\n\r\n",
            total);
  for (int i = 0; i < 2000; i++) {
    ts_write(conn, ev.data, ev.len);
  }
  ts_write(conn, end, strlen(end));
  buf_free(&ev);
}

static void test_an_answer_past_the_output_cap_is_stopped_at_once(void **state)
{
  fx *f = fx_new(route_endless_chat, NULL);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  t.max_output_tokens = 100;
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 5000);
  size_t cap = 100 * LLM_BYTES_PER_TOKEN + LLM_ANSWER_MARGIN;
  assert_int_equal(r.status, LLM_TRUNCATED);
  assert_non_null(strstr(r.msg, "more than max_output_tokens (100) allows"));
  assert_int_equal(r.text_len, cap); /* kept up to the cap (ASCII: no character to respect) */
  assert_int_equal(r.deltas.len, cap); /* and shown up to it, not a byte more */
  assert_int_equal(r.attempts, 1);
  assert_int_equal(r.usage_estimated, 1);
  run_for(f, 100);
  assert_int_equal(open_conns(f), 0); /* the transfer was stopped, not read to its end */
  rec_free(&r);
  fx_free(f);
}

/* A 200 JSON answer of 9 MB (over the 8 MB cap) or a 400 error body of 9 MB. */
static void route_huge_json(fx *f, ts_conn *conn, const ts_request *r, int n)
{
  size_t pad = 9u << 20;
  int status = f->hits == 1 ? 200 : 400;
  const char *head = "{\"error\":{\"message\":\"bad request\",\"type\":\"invalid_request_error\","
                     "\"pad\":\"";
  const char *tail = "\"}}";
  ts_writef(conn, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
            status, strlen(head) + pad + strlen(tail));
  ts_write(conn, head, strlen(head));
  char *spaces = malloc(1 << 20);
  memset(spaces, 'x', 1 << 20);
  for (size_t i = 0; i < pad >> 20; i++) {
    ts_write(conn, spaces, 1 << 20);
  }
  free(spaces);
  ts_write(conn, tail, strlen(tail));
}

static void test_oversized_bodies_stop_downloading_at_their_cap(void **state)
{
  fx *f = fx_new(route_huge_json, NULL);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 5000);
  assert_int_equal(r.status, LLM_STREAM_ERROR);
  assert_non_null(strstr(r.msg, "larger than 8 MB"));
  run_for(f, 100);
  assert_int_equal(open_conns(f), 0);
  rec_free(&r);

  rec r2 = {0};
  start(f, &r2, &q);
  run_until(f, &r2.done, 1, 5000);
  assert_int_equal(r2.status, LLM_HTTP_ERROR);
  assert_int_equal(r2.http_status, 400);
  run_for(f, 100);
  assert_int_equal(open_conns(f), 0);
  rec_free(&r2);
  fx_free(f);
}

static char *chat_stream_with_usage(const char *text, const char *usage)
{
  buf_t b = BUF_INIT;
  buf_printf(&b,
             "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
             "\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}\n\n"
             "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
             "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
             "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
             "\"usage\":%s}\n\ndata: [DONE]\n\n",
             text, usage);
  return buf_detach(&b);
}

static void test_impossible_usage_is_replaced_by_an_estimate_and_said_so(void **state)
{
  static const struct {
    const char *usage;
    const char *says; /* NULL: believed */
  } cases[] = {
    {"{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":3,\"total_tokens\":3}",
     "reported 9223372036854775807 input tokens for a request of"},
    {"{\"prompt_tokens\":30,\"completion_tokens\":1000000000,\"total_tokens\":1000000030}",
     "reported 1000000000 output tokens for an answer of 4 bytes (max_output_tokens 1234)"},
    {"{\"prompt_tokens\":30,\"completion_tokens\":3,\"prompt_tokens_details\":{\"cached_tokens\":"
     "99999999}}",
     "cached input tokens"},
    /* hidden reasoning: far more output than text, within the limit asked for: believed */
    {"{\"prompt_tokens\":30,\"completion_tokens\":1200,\"completion_tokens_details\":"
     "{\"reasoning_tokens\":1190}}",
     NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    fx *f = fx_new(route_body, NULL);
    char *body = chat_stream_with_usage("Four", cases[i].usage);
    f->body = body;
    f->body_len = strlen(body);
    tier_config t;
    tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
    llm_request q = request(&t, &PROMPT);
    rec r = {0};
    start(f, &r, &q);
    run_until(f, &r.done, 1, 3000);
    assert_int_equal(r.status, LLM_OK);
    assert_string_equal(r.text, "Four");
    if (cases[i].says) {
      if (!strstr(r.usage_note, cases[i].says)) {
        fail_msg("case %zu: note '%s' does not say '%s'", i, r.usage_note, cases[i].says);
      }
      assert_int_equal(r.usage_estimated, 1);
      int in = tokens_estimate(LANG_UNKNOWN, PROMPT.system, strlen(PROMPT.system)) +
               tokens_estimate(LANG_UNKNOWN, PROMPT.context, strlen(PROMPT.context)) +
               tokens_estimate(LANG_UNKNOWN, PROMPT.task, strlen(PROMPT.task));
      assert_int_equal(r.usage.input_tokens, in);
      assert_int_equal(r.usage.output_tokens, tokens_estimate(LANG_UNKNOWN, "Four", 4));
      assert_int_equal(r.usage.cached_input_tokens, STREAM_UNKNOWN);
    } else {
      assert_string_equal(r.usage_note, "");
      assert_int_equal(r.usage_estimated, 0);
      assert_int_equal(r.usage.output_tokens, 1200);
      assert_int_equal(r.usage.reasoning_tokens, 1190);
    }
    rec_free(&r);
    free(body);
    fx_free(f);
  }
}

static void test_anthropic_counts_near_int64_max_do_not_overflow(void **state)
{
  fx *f = fx_new(route_body, NULL);
  const char *body =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":"
      "\"message\",\"role\":\"assistant\",\"model\":\"x\",\"content\":[],\"stop_reason\":null,"
      "\"usage\":{\"input_tokens\":9223372036854775807,\"cache_read_input_tokens\":"
      "9223372036854775807,\"cache_creation_input_tokens\":5,\"output_tokens\":1}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
      "{\"type\":\"text_delta\",\"text\":\"Four\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  f->body = body;
  f->body_len = strlen(body);
  tier_config t;
  tier_set(f, &t, PROVIDER_ANTHROPIC, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_OK);
  assert_int_equal(r.usage_estimated, 1);
  assert_non_null(strstr(r.usage_note, "9223372036854775807 input tokens"));
  assert_true(r.usage.input_tokens > 0 && r.usage.input_tokens < 1000);
  rec_free(&r);
  fx_free(f);
}

static void test_a_key_never_goes_in_clear_to_a_remote_host(void **state)
{
  fx *f = fx_new(route_body, NULL);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  /* TEST-NET-1 (RFC 5737): routed nowhere; every call that starts is cancelled at once */
  t.base_url = (char *)"http://192.0.2.1/v1";
  llm_request q = request(&t, &PROMPT);
  char err[512] = "";
  rec r = {0};
  r.f = f;

  setenv(KEY_ENV, "sk-secret-key-0042", 1);
  assert_null(llm_call_start(f->client, &q, &CBS, &r, err, sizeof(err)));
  assert_non_null(strstr(err, "http.allow_insecure_key"));
  assert_non_null(strstr(err, "192.0.2.1"));
  assert_null(strstr(err, "sk-secret"));
  /* the same with the key from a command, refused before the command runs */
  t.api_key_cmd = (char *)"echo sk-from-cmd-0042";
  err[0] = '\0';
  assert_null(llm_call_start(f->client, &q, &CBS, &r, err, sizeof(err)));
  assert_non_null(strstr(err, "http.allow_insecure_key"));
  t.api_key_cmd = NULL;

  /* opted in: the call starts */
  q.allow_insecure_key = 1;
  r.call = llm_call_start(f->client, &q, &CBS, &r, err, sizeof(err));
  assert_non_null(r.call);
  llm_call_cancel(r.call);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_CANCELLED);
  q.allow_insecure_key = 0;

  /* no key to leak: sent as before */
  unsetenv(KEY_ENV);
  rec r2 = {0};
  r2.f = f;
  r2.call = llm_call_start(f->client, &q, &CBS, &r2, err, sizeof(err));
  assert_non_null(r2.call);
  llm_call_cancel(r2.call);
  run_until(f, &r2.done, 1, 3000);

  /* loopback over http needs no opt-in, whatever its spelling */
  setenv(KEY_ENV, "sk-secret-key-0042", 1);
  const char *local[] = {"http://localhost:1/v1", "http://LOCALHOST:1/v1", "http://127.0.0.9:1/v1",
                         "http://[::1]:1/v1", "http://dev.localhost:1/v1",
                         "http://[::ffff:127.0.0.1]:1/v1"};
  for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
    t.base_url = (char *)local[i];
    rec r3 = {0};
    r3.f = f;
    r3.call = llm_call_start(f->client, &q, &CBS, &r3, err, sizeof(err));
    if (!r3.call) {
      fail_msg("%s refused: %s", local[i], err);
    }
    llm_call_cancel(r3.call);
    run_until(f, &r3.done, 1, 3000);
    rec_free(&r3);
  }
  /* ...and names that only look local are remote */
  const char *remote[] = {"http://127.1/v1", "http://localhost.example.com/v1",
                          "http://[::2]/v1", "http://user@192.0.2.1/v1"};
  for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
    t.base_url = (char *)remote[i];
    if (llm_call_start(f->client, &q, &CBS, &r, err, sizeof(err))) {
      fail_msg("%s was accepted", remote[i]);
    }
  }
  rec_free(&r);
  rec_free(&r2);
  fx_free(f);
}

/* ---- keys from a command ---- */

static void make_tmp(fx *f)
{
  snprintf(f->tmp, sizeof(f->tmp), "/tmp/frugal-llm-XXXXXX");
  assert_non_null(mkdtemp(f->tmp));
}

static int count_lines(const char *path)
{
  FILE *fp = fopen(path, "r");
  if (!fp) {
    return 0;
  }
  int n = 0, ch;
  while ((ch = fgetc(fp)) != EOF) {
    n += ch == '\n';
  }
  fclose(fp);
  return n;
}

static void test_api_key_cmd_runs_once_for_concurrent_and_later_calls(void **state)
{
  fx *f = fx_new(route_body, NULL);
  size_t len;
  char *stream = read_fixture("openai-chat-stream-usage.sse", &len);
  f->body = stream;
  f->body_len = len;
  make_tmp(f);
  setenv(KEY_ENV, "sk-from-env-not-used", 1); /* api_key_cmd wins */
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "echo run >> '%s/runs'; printf sk-test-123", f->tmp);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, cmd);
  llm_request q = request(&t, &PROMPT);
  rec r1 = {0}, r2 = {0}, r3 = {0};
  start(f, &r1, &q);
  start(f, &r2, &q);
  run_until(f, &r1.done, 1, 3000);
  run_until(f, &r2.done, 1, 3000);
  start(f, &r3, &q);
  run_until(f, &r3.done, 1, 3000);
  assert_int_equal(r1.status, LLM_OK);
  assert_int_equal(r2.status, LLM_OK);
  assert_int_equal(r3.status, LLM_OK);
  char runs[128];
  snprintf(runs, sizeof(runs), "%s/runs", f->tmp);
  assert_int_equal(count_lines(runs), 1);
  assert_int_equal(f->srv.nreqs, 3);
  for (int i = 0; i < 3; i++) {
    assert_string_equal(header(&f->srv.reqs[i], "Authorization"), "Bearer sk-test-123");
  }
  rec_free(&r1);
  rec_free(&r2);
  rec_free(&r3);
  free(stream);
  fx_free(f);
}

static void test_failing_api_key_cmd_is_a_key_error_without_its_output(void **state)
{
  fx *f = fx_new(route_body, NULL);
  make_tmp(f);
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "echo run >> '%s/runs'; echo sk-leaked-9999; exit 3", f->tmp);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, cmd);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_KEY_ERROR);
  assert_string_equal(r.msg, "api_key_cmd exited with status 3");
  assert_null(strstr(r.msg, "sk-leaked"));
  assert_int_equal(f->hits, 0);
  assert_int_equal(r.attempts, 0);
  /* a failure is not cached: the next call runs the command again */
  rec r2 = {0};
  start(f, &r2, &q);
  run_until(f, &r2.done, 1, 3000);
  assert_int_equal(r2.status, LLM_KEY_ERROR);
  char runs[128];
  snprintf(runs, sizeof(runs), "%s/runs", f->tmp);
  assert_int_equal(count_lines(runs), 2);
  rec_free(&r);
  rec_free(&r2);
  fx_free(f);
}

static void test_api_key_cmd_with_two_lines_or_nothing_is_refused(void **state)
{
  fx *f = fx_new(route_body, NULL);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, "printf 'sk-a\\nsk-b\\n'");
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.status, LLM_KEY_ERROR);
  assert_non_null(strstr(r.msg, "more than one line"));
  assert_null(strstr(r.msg, "sk-"));

  tier_set(f, &t, PROVIDER_OPENAI, "true");
  q = request(&t, &PROMPT);
  rec r2 = {0};
  start(f, &r2, &q);
  run_until(f, &r2.done, 1, 3000);
  assert_int_equal(r2.status, LLM_KEY_ERROR);
  assert_string_equal(r2.msg, "api_key_cmd printed nothing");
  assert_int_equal(f->hits, 0);
  rec_free(&r);
  rec_free(&r2);
  fx_free(f);
}

static void test_api_key_cmd_that_hangs_is_killed_after_the_timeout(void **state)
{
  llm_client_opts o = {.key_cmd_timeout_ms = 150};
  fx *f = fx_new(route_body, &o);
  make_tmp(f);
  /* sleep is a child of sh: the whole process group must die, or the pipe stays open */
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "sleep 5; echo late >> '%s/late'", f->tmp);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, cmd);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  uint64_t t0 = uv_hrtime();
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000);
  double ms = (double)(uv_hrtime() - t0) / 1e6;
  assert_int_equal(r.status, LLM_KEY_ERROR);
  assert_string_equal(r.msg, "api_key_cmd timed out after 150 ms");
  assert_true(ms >= 140); /* it waited the timeout; the message says the command was killed */
  rec_free(&r);
  fx_free(f);
}

/* ---- cancellation ---- */

static void test_cancel_during_retry_wait_ends_at_once(void **state)
{
  memset(CANNED, 0, sizeof(CANNED));
  CANNED[0] = (canned){503, "Retry-After: 30\r\n", NULL, "{\"error\":\"busy\"}"};
  fx *f = fx_new(route_canned, NULL);
  f->body = "";
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  run_until(f, &r.retries, 1, 3000);
  assert_true(r.retry_delay == 30000.0);
  llm_call_cancel(r.call);
  r.cancelled = 1;
  assert_int_equal(r.done, 0); /* deferred to the loop */
  llm_call_cancel(r.call);     /* twice is harmless */
  run_until(f, &r.done, 1, 1000); /* not the 30 s the server asked for */
  assert_int_equal(r.status, LLM_CANCELLED);
  assert_int_equal(r.attempts, 1);
  run_for(f, 20);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.after_cancel, 0);
  assert_int_equal(f->hits, 1);
  rec_free(&r);
  fx_free(f);
}

/* Sends the head and the first three events, then stalls for a long time. */
static void route_stall(fx *f, ts_conn *conn, const ts_request *r, int n)
{
  char *head = fixture_events("openai-chat-stream-usage.sse", 0, 3, NULL);
  ts_writef(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n");
  ts_chunk(conn, head);
  ts_delay(conn, 10000);
  ts_chunk(conn, "data: [DONE]\n\n");
  free(head);
}

static void test_cancel_mid_stream_from_on_delta(void **state)
{
  fx *f = fx_new(route_stall, NULL);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  r.cancel_at_delta = 1;
  start(f, &r, &q);
  run_until(f, &r.done, 1, 3000); /* the server stalls for 10 s after the first events */
  assert_int_equal(r.status, LLM_CANCELLED);
  assert_int_equal(r.text_deltas, 1); /* "I'm"; " unable" came in the same chunk, not delivered */
  assert_int_equal(r.after_cancel, 0);
  assert_string_equal(r.text, "I'm");
  rec_free(&r);
  fx_free(f);
}

/* 1 when process `pid` is gone or a zombie (killed, not yet reaped). */
static int process_dead(pid_t pid)
{
  char path[64], stat[256];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *fp = fopen(path, "r");
  if (!fp) {
    return 1;
  }
  size_t n = fread(stat, 1, sizeof(stat) - 1, fp);
  fclose(fp);
  stat[n] = '\0';
  const char *p = strrchr(stat, ')');
  return p && (p[2] == 'Z' || p[2] == 'X');
}

static void test_cancel_while_waiting_for_the_key_command(void **state)
{
  fx *f = fx_new(route_body, NULL);
  make_tmp(f);
  char cmd[512], pidfile[300];
  snprintf(pidfile, sizeof(pidfile), "%s/pid", f->tmp);
  /* exec: the pid written is the one that sleeps */
  snprintf(cmd, sizeof(cmd), "echo $$ > '%s'; exec sleep 30", pidfile);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI, cmd);
  llm_request q = request(&t, &PROMPT);
  rec r = {0};
  start(f, &r, &q);
  long pid = 0;
  for (int i = 0; i < 500 && pid <= 0; i++) {
    run_for(f, 10);
    FILE *fp = fopen(pidfile, "r");
    if (fp) {
      if (fscanf(fp, "%ld", &pid) != 1) {
        pid = 0;
      }
      fclose(fp);
    }
  }
  assert_true(pid > 0);
  llm_call_cancel(r.call);
  run_until(f, &r.done, 1, 1000);
  assert_int_equal(r.status, LLM_CANCELLED);
  assert_int_equal(r.attempts, 0);
  assert_int_equal(f->hits, 0);
  /* freeing the client kills the command rather than leaving it to sleep its 30 s */
  llm_client_free(f->client);
  f->client = NULL;
  int dead = 0;
  for (int i = 0; i < 1000 && !dead; i++) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    dead = process_dead((pid_t)pid);
    if (!dead) {
      usleep(10000);
    }
  }
  assert_true(dead);
  fx_free(f);
  rec_free(&r);
}

static void on_done_free_client(llm_call *call, const llm_result *res, void *data)
{
  on_done(call, res, data);
  rec *r = data;
  llm_client_free(r->f->client); /* from inside a callback */
  r->f->client = NULL;
}

static void test_client_free_cancels_calls_in_flight(void **state)
{
  fx *f = fx_new(route_stall, NULL);
  tier_config t;
  tier_set(f, &t, PROVIDER_OPENAI_CHAT, NULL);
  llm_request q = request(&t, &PROMPT);
  rec a = {0}, b = {0};
  start(f, &a, &q);
  start(f, &b, &q);
  run_until(f, &a.text_deltas, 1, 3000);
  llm_client_free(f->client);
  f->client = NULL;
  run_until(f, &a.done, 1, 1000);
  run_until(f, &b.done, 1, 1000);
  assert_int_equal(a.status, LLM_CANCELLED);
  assert_int_equal(b.status, LLM_CANCELLED);

  /* and freeing the client from inside on_done */
  char err[256];
  f->client = llm_client_new(&f->loop, NULL, err, sizeof(err));
  f->route = route_body;
  char *body = fixture_events("openai-chat-stream-usage.sse", 0, -1, NULL);
  f->body = body;
  f->body_len = strlen(body);
  rec c = {0};
  c.f = f;
  llm_callbacks cbs = CBS;
  cbs.on_done = on_done_free_client;
  c.call = llm_call_start(f->client, &q, &cbs, &c, err, sizeof(err));
  assert_non_null(c.call);
  run_until(f, &c.done, 1, 3000);
  assert_int_equal(c.status, LLM_OK);
  assert_null(f->client);
  rec_free(&a);
  rec_free(&b);
  rec_free(&c);
  fx_free(f);
  free(body);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_responses_request_has_instructions_input_cache_key_and_bearer_key),
      cmocka_unit_test(test_chat_request_to_local_server_sends_max_tokens_and_no_auth_without_key),
      cmocka_unit_test(test_chat_body_for_api_openai_com_uses_max_completion_tokens_and_cache_key),
      cmocka_unit_test(test_anthropic_request_caches_context_block_and_sends_its_headers),
      cmocka_unit_test(test_anthropic_no_cache_write_marks_no_block),
      cmocka_unit_test(test_bodies_without_context_skip_it_and_cache_the_system_block),
      cmocka_unit_test(test_invalid_utf8_prompt_and_bad_base_url_are_refused_at_start),
      cmocka_unit_test(test_429_with_retry_after_zero_is_retried_then_succeeds),
      cmocka_unit_test(test_429_insufficient_quota_is_not_retried),
      cmocka_unit_test(test_500_three_times_fails_after_three_attempts),
      cmocka_unit_test(test_retry_after_ms_wins_and_http_dates_are_read),
      cmocka_unit_test(test_cancel_from_on_retry_stops_the_call),
      cmocka_unit_test(test_retry_after_beyond_60s_is_not_waited_for),
      cmocka_unit_test(test_x_should_retry_false_wins_over_status),
      cmocka_unit_test(test_404_names_the_model),
      cmocka_unit_test(test_401_names_the_variable_and_never_the_key),
      cmocka_unit_test(test_connection_refused_is_retried_then_network_error),
      cmocka_unit_test(test_midstream_error_after_text_is_not_retried_and_keeps_the_text),
      cmocka_unit_test(test_retryable_stream_error_before_text_is_retried),
      cmocka_unit_test(test_stream_without_terminator_is_truncated),
      cmocka_unit_test(test_usage_is_estimated_when_the_provider_sends_none),
      cmocka_unit_test(test_json_answer_from_a_server_that_does_not_stream_is_used),
      cmocka_unit_test(test_json_error_sent_as_an_event_stream_is_reported),
      cmocka_unit_test(test_an_answer_past_the_output_cap_is_stopped_at_once),
      cmocka_unit_test(test_oversized_bodies_stop_downloading_at_their_cap),
      cmocka_unit_test(test_impossible_usage_is_replaced_by_an_estimate_and_said_so),
      cmocka_unit_test(test_anthropic_counts_near_int64_max_do_not_overflow),
      cmocka_unit_test(test_a_key_never_goes_in_clear_to_a_remote_host),
      cmocka_unit_test(test_api_key_cmd_runs_once_for_concurrent_and_later_calls),
      cmocka_unit_test(test_failing_api_key_cmd_is_a_key_error_without_its_output),
      cmocka_unit_test(test_api_key_cmd_with_two_lines_or_nothing_is_refused),
      cmocka_unit_test(test_api_key_cmd_that_hangs_is_killed_after_the_timeout),
      cmocka_unit_test(test_cancel_during_retry_wait_ends_at_once),
      cmocka_unit_test(test_cancel_mid_stream_from_on_delta),
      cmocka_unit_test(test_cancel_while_waiting_for_the_key_command),
      cmocka_unit_test(test_client_free_cancels_calls_in_flight),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
