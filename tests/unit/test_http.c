/* http client: real HTTP/1.1 over loopback TCP against a scripted server on the same loop. */
/* cmocka.h needs these four first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <frugal.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "http_test_server.h"
#include "util/buf.h"

/* ---- fixture -------------------------------------------------------------------------------- */

typedef struct fixture fixture;
typedef void (*route_fn)(fixture *f, ts_conn *conn, const ts_request *r);

typedef struct {
  fixture *f;
  http_request *req;
  int responses;
  int status_at_response;
  int body_calls;
  int body_before_response;
  int body_after_cancel;
  int cancelled;
  buf_t body;
  int done;
  int done_inside_cancel; /* on_done ran while http_request_cancel was on the stack */
  http_code code;
  char msg[512];
  int status;
  uint64_t body_bytes;
  double ttfb_ms, total_ms;
  int reused;
  int http_version;
  uint64_t last_body_ns, done_ns;
  char retry_after[32]; /* captured in on_done, to prove headers live that long */
  /* behaviour */
  int cancel_in_response;
  int cancel_at_body_call; /* 0: never */
  int start_in_body;
  int free_client_in_body;
  int chain_left; /* start another request from on_done this many times */
  void *extra;
} rec;

struct fixture {
  uv_loop_t loop;
  ts_server srv;
  http_client *client;
  route_fn route;
  char base[64];
  int in_cancel;
  int done_total;
  unsigned stream_gap_ms; /* pause between the chunks of route_stream */
  void *state;
};

static const http_callbacks CALLBACKS;

static void route_cb(ts_server *s, ts_conn *conn, const ts_request *r, void *ud)
{
  fixture *f = ud;
  f->route(f, conn, r);
}

static fixture *fixture_new(route_fn route)
{
  fixture *f = calloc(1, sizeof(*f));
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->route = route;
  f->stream_gap_ms = 5;
  assert_int_equal(ts_start(&f->srv, &f->loop, route_cb, f), 0);
  snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->srv.port);
  char err[256] = "";
  f->client = http_client_new(&f->loop, NULL, err, sizeof(err));
  assert_non_null(f->client);
  return f;
}

/* Frees everything and proves that no handle was left behind: uv_loop_close fails with
 * UV_EBUSY while any handle is open. */
static void fixture_free(fixture *f)
{
  http_client_free(f->client);
  ts_stop(&f->srv);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
}

static void guard_fired(uv_timer_t *t)
{
  *(int *)t->data = 1;
}

/* Runs the loop until *counter >= target; fails the test after timeout_ms. */
static void run_until(fixture *f, const int *counter, int target, unsigned timeout_ms)
{
  int expired = 0;
  uv_timer_t guard;
  uv_timer_init(&f->loop, &guard);
  guard.data = &expired;
  uv_timer_start(&guard, guard_fired, timeout_ms, 0);
  while (*counter < target && !expired) {
    uv_run(&f->loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_false(expired);
}

static void run_for(fixture *f, unsigned ms)
{
  int expired = 0;
  uv_timer_t guard;
  uv_timer_init(&f->loop, &guard);
  guard.data = &expired;
  uv_timer_start(&guard, guard_fired, ms, 0);
  while (!expired) {
    uv_run(&f->loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

static http_request *start(fixture *f, rec *r, const http_request_opts *o)
{
  char err[256] = "";
  r->f = f;
  r->req = http_request_start(f->client, o, &CALLBACKS, r, err, sizeof(err));
  if (!r->req) {
    fail_msg("http_request_start: %s", err);
  }
  return r->req;
}

static http_request *get(fixture *f, rec *r, const char *path)
{
  char url[256];
  snprintf(url, sizeof(url), "%s%s", f->base, path);
  http_request_opts o = {.url = url, .total_timeout_ms = 5000};
  return start(f, r, &o);
}

static void cancel(fixture *f, http_request *req)
{
  f->in_cancel++;
  http_request_cancel(req);
  f->in_cancel--;
}

static void rec_free(rec *r)
{
  buf_free(&r->body);
}

/* ---- callbacks ------------------------------------------------------------------------------ */

static void on_response(http_request *req, const http_response *resp, void *data)
{
  rec *r = data;
  r->responses++;
  r->status_at_response = resp->status;
  if (r->cancel_in_response) {
    r->cancelled = 1;
    cancel(r->f, req);
  }
}

static void on_done(http_request *req, const http_result *res, void *data);

static void on_body(http_request *req, const char *bytes, size_t len, void *data)
{
  rec *r = data;
  r->body_calls++;
  r->body_before_response += r->responses == 0;
  r->body_after_cancel += r->cancelled;
  r->last_body_ns = uv_hrtime();
  buf_append(&r->body, bytes, len);
  if (r->cancel_at_body_call && r->body_calls == r->cancel_at_body_call) {
    r->cancelled = 1;
    cancel(r->f, req);
  }
  if (r->start_in_body && r->body_calls == 1) {
    get(r->f, (rec *)r->extra, "/from-body");
  }
  if (r->free_client_in_body && r->body_calls == 1) {
    http_client_free(r->f->client);
    r->f->client = NULL;
  }
}

static void on_done(http_request *req, const http_result *res, void *data)
{
  rec *r = data;
  r->done++;
  r->done_inside_cancel += r->f->in_cancel;
  r->code = res->code;
  snprintf(r->msg, sizeof(r->msg), "%s", res->message);
  r->status = res->status;
  r->body_bytes = res->body_bytes;
  r->ttfb_ms = res->ttfb_ms;
  r->total_ms = res->total_ms;
  r->reused = res->reused;
  r->http_version = res->http_version;
  r->done_ns = uv_hrtime();
  const char *ra = http_header_find(res->headers, res->nheaders, "retry-after");
  snprintf(r->retry_after, sizeof(r->retry_after), "%s", ra ? ra : "");
  r->f->done_total++;
  if (r->chain_left > 0) {
    rec *next = r + 1;
    next->chain_left = r->chain_left - 1;
    get(r->f, next, "/chain");
  }
}

static const http_callbacks CALLBACKS = {on_response, on_body, on_done};

/* ---- routes --------------------------------------------------------------------------------- */

static const char *JSON_BODY = "{\"id\":\"resp_1\",\"output\":[{\"type\":\"message\"}]}";

static void route_json(fixture *f, ts_conn *c, const ts_request *r)
{
  ts_respond(c, 200, "application/json", JSON_BODY);
}

/* 15 chunks, f->stream_gap_ms apart. */
static void route_stream(fixture *f, ts_conn *c, const ts_request *r)
{
  ts_writef(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
               "Transfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 15; i++) {
    char ev[64];
    snprintf(ev, sizeof(ev), "data: {\"n\":%d}\n\n", i);
    ts_delay(c, f->stream_gap_ms);
    ts_chunk(c, ev);
  }
  ts_writef(c, "0\r\n\r\n");
}

static void expected_stream(buf_t *b)
{
  for (int i = 0; i < 15; i++) {
    buf_printf(b, "data: {\"n\":%d}\n\n", i);
  }
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void post_delivers_status_headers_and_body_and_sends_ours(void **state)
{
  fixture *f = fixture_new(route_json);
  rec r = {0};
  char url[128];
  snprintf(url, sizeof(url), "%s/v1/responses?x=1", f->base);
  const char *headers[] = {"Content-Type: application/json", "Authorization: Bearer sk-test-1",
                           "X-Custom:   spaced value"};
  const char *body = "{\"model\":\"gpt-5.4-mini\",\"input\":\"hi\"}";
  http_request_opts o = {.url = url,
                         .headers = headers,
                         .nheaders = 3,
                         .body = body,
                         .body_len = strlen(body),
                         .total_timeout_ms = 5000};
  start(f, &r, &o);
  run_until(f, &r.done, 1, 3000);

  assert_int_equal(r.code, HTTP_OK);
  assert_string_equal(r.msg, "");
  assert_int_equal(r.status, 200);
  assert_int_equal(r.status_at_response, 200);
  assert_int_equal(r.responses, 1);
  assert_int_equal(r.body_before_response, 0);
  assert_int_equal(r.body.len, strlen(JSON_BODY));
  assert_memory_equal(r.body.data, JSON_BODY, strlen(JSON_BODY));
  assert_int_equal(r.body_bytes, strlen(JSON_BODY));
  assert_int_equal(r.http_version, 11);
  assert_int_equal(r.reused, 0);
  assert_true(r.ttfb_ms > 0 && r.ttfb_ms <= r.total_ms);

  assert_int_equal(f->srv.nreqs, 1);
  const ts_request *got = &f->srv.reqs[0];
  assert_string_equal(got->method, "POST");
  assert_string_equal(got->target, "/v1/responses?x=1");
  assert_int_equal(got->body_len, strlen(body));
  assert_memory_equal(got->body, body, strlen(body));
  char v[128];
  assert_int_equal(ts_header(got, "authorization", v, sizeof(v)), 0);
  assert_string_equal(v, "Bearer sk-test-1");
  assert_int_equal(ts_header(got, "content-type", v, sizeof(v)), 0);
  assert_string_equal(v, "application/json");
  assert_int_equal(ts_header(got, "x-custom", v, sizeof(v)), 0);
  assert_string_equal(v, "spaced value");
  assert_int_equal(ts_header(got, "user-agent", v, sizeof(v)), 0);
  assert_string_equal(v, "frugal/" FRUGAL_VERSION_STRING);
  assert_int_equal(ts_header(got, "expect", v, sizeof(v)), -1);
  rec_free(&r);
  fixture_free(f);
}

static void chunked_stream_arrives_in_pieces_and_rearms_the_idle_timer(void **state)
{
  fixture *f = fixture_new(route_stream);
  f->stream_gap_ms = 20;
  rec r = {0};
  char url[128];
  snprintf(url, sizeof(url), "%s/stream", f->base);
  /* 15 gaps of 20 ms: 300 ms in all, twice the idle limit, so only a re-armed timer passes
   * (the limit is generous for valgrind's sake). */
  http_request_opts o = {.url = url, .idle_timeout_ms = 150, .total_timeout_ms = 5000};
  start(f, &r, &o);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.code, HTTP_OK);
  assert_int_equal(r.responses, 1);
  assert_int_equal(r.body_before_response, 0);
  assert_true(r.body_calls >= 10); /* delivered as it came, not buffered */
  buf_t want = BUF_INIT;
  expected_stream(&want);
  assert_int_equal(r.body.len, want.len);
  assert_memory_equal(r.body.data, want.data, want.len);
  assert_true(r.total_ms >= 290);
  buf_free(&want);
  rec_free(&r);
  fixture_free(f);
}

static void second_request_reuses_the_keep_alive_connection(void **state)
{
  fixture *f = fixture_new(route_json);
  rec a = {0}, b = {0};
  get(f, &a, "/one");
  run_until(f, &a.done, 1, 3000);
  get(f, &b, "/two");
  run_until(f, &b.done, 1, 3000);
  assert_int_equal(a.code, HTTP_OK);
  assert_int_equal(b.code, HTTP_OK);
  assert_int_equal(a.reused, 0);
  assert_int_equal(b.reused, 1);
  assert_int_equal(f->srv.connections, 1);
  assert_int_equal(f->srv.nreqs, 2);
  assert_int_equal(f->srv.reqs[0].conn_id, f->srv.reqs[1].conn_id);
  assert_string_equal(f->srv.reqs[1].target, "/two");
  assert_string_equal(f->srv.reqs[1].method, "GET");
  rec_free(&a);
  rec_free(&b);
  fixture_free(f);
}

static void route_429(fixture *f, ts_conn *c, const ts_request *r)
{
  const char *body = "{\"error\":{\"type\":\"rate_limit\"}}";
  ts_writef(c,
            "HTTP/1.1 429 Too Many Requests\r\n"
            "Content-Type: application/json\r\n"
            "Retry-After: 7\r\n"
            "retry-after-ms:   6500  \r\n"
            "X-Should-Retry: true\r\n"
            "x-request-id: req_abc123\r\n"
            "X-Folded: first\r\n"
            "\t second\r\n"
            "Content-Length: %zu\r\n\r\n%s",
            strlen(body), body);
}

/* Scalars only: the header array itself dies with the request. */
static http_response last_resp_copy_status;
static char last_headers[10][64];

static void on_response_capture(http_request *req, const http_response *resp, void *data)
{
  const char *names[] = {
      "RETRY-AFTER", "Retry-After-Ms", "x-should-retry", "content-type", "X-Request-Id",
      "request-id",  "x-folded",       "content-length", "x-final",      "link"};
  for (int i = 0; i < 10; i++) {
    const char *v = http_header_find(resp->headers, resp->nheaders, names[i]);
    snprintf(last_headers[i], sizeof(last_headers[i]), "%s", v ? v : "(none)");
  }
  last_resp_copy_status = *resp;
  on_response(req, resp, data);
}

static void rate_limit_response_headers_are_parsed(void **state)
{
  fixture *f = fixture_new(route_429);
  rec r = {0};
  char url[128];
  snprintf(url, sizeof(url), "%s/limited", f->base);
  http_callbacks cb = CALLBACKS;
  cb.on_response = on_response_capture;
  http_request_opts o = {.url = url, .total_timeout_ms = 5000};
  char err[128];
  r.f = f;
  assert_non_null(http_request_start(f->client, &o, &cb, &r, err, sizeof(err)));
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.code, HTTP_OK); /* an HTTP error status is the caller's business */
  assert_int_equal(r.status, 429);
  assert_int_equal(last_resp_copy_status.status, 429);
  assert_int_equal(last_resp_copy_status.nheaders, 7);
  assert_string_equal(last_headers[0], "7");
  assert_string_equal(last_headers[1], "6500");
  assert_string_equal(last_headers[2], "true");
  assert_string_equal(last_headers[3], "application/json");
  assert_string_equal(last_headers[4], "req_abc123");
  assert_string_equal(last_headers[5], "(none)");
  assert_string_equal(last_headers[6], "first second");
  assert_string_equal(r.retry_after, "7"); /* still there in on_done */
  assert_memory_equal(r.body.data, "{\"error\"", 8);
  rec_free(&r);
  fixture_free(f);
}

static void route_early_hints(fixture *f, ts_conn *c, const ts_request *r)
{
  ts_writef(c, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n");
  ts_delay(c, 5);
  ts_writef(c, "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\nok");
}

static void interim_1xx_heads_are_skipped(void **state)
{
  fixture *f = fixture_new(route_early_hints);
  rec r = {0};
  http_callbacks cb = CALLBACKS;
  cb.on_response = on_response_capture;
  char url[128];
  snprintf(url, sizeof(url), "%s/hints", f->base);
  http_request_opts o = {.url = url, .total_timeout_ms = 5000};
  char err[128];
  r.f = f;
  assert_non_null(http_request_start(f->client, &o, &cb, &r, err, sizeof(err)));
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.code, HTTP_OK);
  assert_int_equal(r.responses, 1);
  assert_int_equal(r.status_at_response, 200);
  assert_int_equal(last_resp_copy_status.nheaders, 2);
  assert_string_equal(last_headers[8], "yes");
  assert_string_equal(last_headers[9], "(none)");
  assert_string_equal(last_headers[7], "2");
  rec_free(&r);
  fixture_free(f);
}

static void route_garbage_header(fixture *f, ts_conn *c, const ts_request *r)
{
  if (strcmp(r->target, "/no-colon") == 0) {
    ts_writef(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nthis is not a header\r\n\r\nok");
  } else if (strcmp(r->target, "/bad-name") == 0) {
    ts_writef(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nBad(Name): 1\r\n\r\nok");
  } else {
    ts_writef(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");
    for (int i = 0; i < 200; i++) {
      ts_writef(c, "X-H%d: %d\r\n", i, i);
    }
    ts_writef(c, "\r\nok");
  }
}

static void malformed_response_heads_are_errors(void **state)
{
  fixture *f = fixture_new(route_garbage_header);
  const char *paths[] = {"/no-colon", "/bad-name", "/many"};
  const char *why[] = {"malformed response", "not 'name: value'", "too many headers"};
  for (int i = 0; i < 3; i++) {
    rec r = {0};
    get(f, &r, paths[i]);
    run_until(f, &r.done, 1, 3000);
    assert_int_equal(r.code, HTTP_ERROR_OTHER);
    assert_non_null(strstr(r.msg, why[i]));
    assert_int_equal(r.responses, 0);
    assert_int_equal(r.body_calls, 0);
    rec_free(&r);
  }
  fixture_free(f);
}

static void route_stall_mid_body(fixture *f, ts_conn *c, const ts_request *r)
{
  if (strcmp(r->target, "/warm") == 0) {
    route_json(f, c, r);
    return;
  }
  ts_writef(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
}

static void idle_timeout_fires_when_the_server_stalls_mid_body(void **state)
{
  fixture *f = fixture_new(route_stall_mid_body);
  /* A first request warms the connection, so the limit below only times the stall, even
   * under valgrind. */
  rec warm = {0};
  get(f, &warm, "/warm");
  run_until(f, &warm.done, 1, 3000);
  rec_free(&warm);
  rec r = {0};
  char url[128];
  snprintf(url, sizeof(url), "%s/stall", f->base);
  http_request_opts o = {.url = url, .idle_timeout_ms = 100, .total_timeout_ms = 5000};
  start(f, &r, &o);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.code, HTTP_TIMEOUT_IDLE);
  assert_string_equal(http_code_name(r.code), "timeout_idle");
  assert_non_null(strstr(r.msg, "100 ms"));
  assert_int_equal(r.body_bytes, 10);
  assert_int_equal(r.status, 200);
  double quiet_ms = (double)(r.done_ns - r.last_body_ns) / 1e6;
  assert_true(quiet_ms >= 99.0); /* it waited the idle limit; the code says which timer fired */
  rec_free(&r);
  fixture_free(f);
}

static void route_silent(fixture *f, ts_conn *c, const ts_request *r)
{
}

static void total_timeout_fires_when_no_response_comes(void **state)
{
  fixture *f = fixture_new(route_silent);
  rec r = {0};
  char url[128];
  snprintf(url, sizeof(url), "%s/never", f->base);
  http_request_opts o = {.url = url, .connect_timeout_ms = 1000, .total_timeout_ms = 150};
  start(f, &r, &o);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.code, HTTP_TIMEOUT_TOTAL);
  assert_true(r.total_ms >= 149.0); /* the total limit, not the 1000 ms connect one: the code */
  assert_int_equal(r.responses, 0);
  assert_true(r.ttfb_ms < 0);
  rec_free(&r);
  fixture_free(f);
}

static void connect_timeout_fires_when_the_handshake_never_completes(void **state)
{
  fixture *f = fixture_new(route_json);
  /* A listener with backlog 0 and one unaccepted connection: Linux drops further SYNs, so a
   * connect hangs until its deadline. */
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t alen = sizeof(a);
  assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
  assert_int_equal(listen(lfd, 0), 0);
  int filler = socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(connect(filler, (struct sockaddr *)&a, sizeof(a)), 0);
  rec r = {0};
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", ntohs(a.sin_port));
  http_request_opts o = {.url = url, .connect_timeout_ms = 100, .total_timeout_ms = 5000};
  start(f, &r, &o);
  run_until(f, &r.done, 1, 3000);
  close(filler);
  close(lfd);
  assert_int_equal(r.code, HTTP_TIMEOUT_CONNECT);
  assert_true(r.total_ms >= 99.0);
  rec_free(&r);
  fixture_free(f);
}

static void route_close_mid_body(fixture *f, ts_conn *c, const ts_request *r)
{
  ts_writef(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
  ts_delay(c, 10);
  ts_close_after(c);
}

static void connection_closed_mid_body_fails_after_the_first_byte(void **state)
{
  fixture *f = fixture_new(route_close_mid_body);
  rec r = {0};
  get(f, &r, "/cut");
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.code, HTTP_FAILED_AFTER_RESPONSE);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_bytes, 10);
  assert_true(r.ttfb_ms > 0);
  rec_free(&r);
  fixture_free(f);
}

static void connecting_to_a_closed_port_fails_before_the_first_byte(void **state)
{
  fixture *f = fixture_new(route_json);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t alen = sizeof(a);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
  close(fd); /* bound then closed: nothing listens there */
  rec r = {0};
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", ntohs(a.sin_port));
  http_request_opts o = {.url = url, .total_timeout_ms = 5000};
  start(f, &r, &o);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.code, HTTP_FAILED_BEFORE_RESPONSE);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.responses, 0);
  assert_true(r.ttfb_ms < 0);
  assert_int_equal(r.reused, 0);
  rec_free(&r);
  fixture_free(f);
}

static void https_to_a_plain_http_server_is_a_tls_error(void **state)
{
  fixture *f = fixture_new(route_json);
  rec r = {0};
  char url[128];
  snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", f->srv.port);
  http_request_opts o = {.url = url, .total_timeout_ms = 5000};
  start(f, &r, &o);
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.code, HTTP_TLS_ERROR);
  assert_int_equal(r.responses, 0);
  rec_free(&r);
  fixture_free(f);
}

static void cancel_before_the_response_calls_on_done_later_and_only_once(void **state)
{
  fixture *f = fixture_new(route_silent);
  rec r = {0};
  http_request *req = get(f, &r, "/slow");
  cancel(f, req);
  cancel(f, req);              /* twice is harmless */
  assert_int_equal(r.done, 0); /* deferred, never inside cancel */
  run_until(f, &r.done, 1, 3000);
  run_for(f, 20);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.done_inside_cancel, 0);
  assert_int_equal(r.code, HTTP_CANCELLED);
  assert_int_equal(r.responses, 0);
  assert_int_equal(r.body_calls, 0);
  rec_free(&r);
  fixture_free(f);
}

typedef struct {
  rec *r;
  http_request *req;
} cancel_later;

static void cancel_later_fired(uv_timer_t *t)
{
  cancel_later *cl = t->data;
  cl->r->cancelled = 1;
  cancel(cl->r->f, cl->req);
  uv_close((uv_handle_t *)t, NULL);
}

static void cancel_during_the_body_stops_delivery(void **state)
{
  fixture *f = fixture_new(route_stream);
  rec r = {0};
  f->stream_gap_ms = 20;
  cancel_later cl = {&r, get(f, &r, "/stream")};
  uv_timer_t t;
  uv_timer_init(&f->loop, &t);
  t.data = &cl;
  run_until(f, &r.body_calls, 2, 3000);
  uv_timer_start(&t, cancel_later_fired, 5, 0);
  run_until(f, &r.done, 1, 3000);
  run_for(f, 350); /* the rest of the stream would have arrived by now */
  assert_int_equal(r.code, HTTP_CANCELLED);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.body_after_cancel, 0);
  assert_true(r.body_calls >= 2 && r.body_calls < 15);
  rec_free(&r);
  fixture_free(f);
}

static void cancel_from_inside_on_body_then_the_client_still_works(void **state)
{
  fixture *f = fixture_new(route_stream);
  rec r = {.cancel_at_body_call = 1};
  get(f, &r, "/stream");
  run_until(f, &r.done, 1, 3000);
  run_for(f, 100);
  assert_int_equal(r.code, HTTP_CANCELLED);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.done_inside_cancel, 0);
  assert_int_equal(r.body_calls, 1);
  assert_int_equal(r.body_after_cancel, 0);

  rec again = {0};
  get(f, &again, "/stream");
  run_until(f, &again.done, 1, 3000);
  assert_int_equal(again.code, HTTP_OK);
  buf_t want = BUF_INIT;
  expected_stream(&want);
  assert_int_equal(again.body.len, want.len);
  buf_free(&want);
  rec_free(&r);
  rec_free(&again);
  fixture_free(f);
}

static void cancel_from_inside_on_response_delivers_no_body(void **state)
{
  fixture *f = fixture_new(route_json);
  rec r = {.cancel_in_response = 1};
  get(f, &r, "/x");
  run_until(f, &r.done, 1, 3000);
  run_for(f, 30);
  assert_int_equal(r.code, HTTP_CANCELLED);
  assert_int_equal(r.responses, 1);
  assert_int_equal(r.body_calls, 0);
  assert_int_equal(r.done, 1);
  rec_free(&r);
  fixture_free(f);
}

static void requests_started_from_on_done_run_on_the_same_connection(void **state)
{
  fixture *f = fixture_new(route_json);
  rec r[4] = {{0}};
  r[0].chain_left = 3;
  get(f, &r[0], "/first");
  run_until(f, &r[3].done, 1, 3000);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(r[i].code, HTTP_OK);
    assert_int_equal(r[i].done, 1);
    assert_int_equal(r[i].reused, i > 0);
  }
  assert_int_equal(f->srv.nreqs, 4);
  assert_int_equal(f->srv.connections, 1);
  assert_string_equal(f->srv.reqs[3].target, "/chain");
  for (int i = 0; i < 4; i++) {
    rec_free(&r[i]);
  }
  fixture_free(f);
}

static void request_started_from_inside_on_body_completes(void **state)
{
  fixture *f = fixture_new(route_stream);
  rec inner = {0};
  rec outer = {.start_in_body = 1, .extra = &inner};
  get(f, &outer, "/stream");
  run_until(f, &f->done_total, 2, 3000);
  assert_int_equal(outer.code, HTTP_OK);
  assert_int_equal(inner.code, HTTP_OK);
  assert_int_equal(inner.body.len, outer.body.len);
  assert_string_equal(f->srv.reqs[1].target, "/from-body");
  rec_free(&inner);
  rec_free(&outer);
  fixture_free(f);
}

typedef struct {
  ts_conn *conns[8];
  char paths[8][32];
  int n;
} held;

/* Answers nothing until all eight requests are in, so they can only pass if they are in flight
 * at the same time. */
static void route_hold_eight(fixture *f, ts_conn *c, const ts_request *r)
{
  held *h = f->state;
  h->conns[h->n] = c;
  snprintf(h->paths[h->n], sizeof(h->paths[0]), "%.31s", r->target);
  if (++h->n < 8) {
    return;
  }
  for (int i = 0; i < 8; i++) {
    ts_respond(h->conns[i], 200, "text/plain", h->paths[i]);
  }
}

static void eight_concurrent_requests_all_complete(void **state)
{
  fixture *f = fixture_new(route_hold_eight);
  held h = {0};
  f->state = &h;
  rec r[8] = {{0}};
  for (int i = 0; i < 8; i++) {
    char path[32];
    snprintf(path, sizeof(path), "/n/%d", i);
    get(f, &r[i], path);
  }
  run_until(f, &f->done_total, 8, 4000);
  for (int i = 0; i < 8; i++) {
    char path[32];
    snprintf(path, sizeof(path), "/n/%d", i);
    assert_int_equal(r[i].code, HTTP_OK);
    assert_int_equal(r[i].body.len, strlen(path));
    assert_memory_equal(r[i].body.data, path, strlen(path));
    rec_free(&r[i]);
  }
  assert_int_equal(f->srv.connections, 8);
  fixture_free(f);
}

#define LARGE_BYTES (6u * 1024 * 1024 + 123)

static unsigned char pattern_byte(size_t i)
{
  return (unsigned char)((i * 2654435761u) >> 13);
}

static void route_large(fixture *f, ts_conn *c, const ts_request *r)
{
  char *body = malloc(LARGE_BYTES);
  for (size_t i = 0; i < LARGE_BYTES; i++) {
    body[i] = (char)pattern_byte(i);
  }
  ts_writef(c,
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            "Content-Length: %u\r\n\r\n",
            LARGE_BYTES);
  ts_write(c, body, LARGE_BYTES);
  free(body);
}

static void large_bodies_arrive_intact_both_ways(void **state)
{
  fixture *f = fixture_new(route_large);
  size_t up_len = 2u * 1024 * 1024 + 7; /* past curl's 1 MiB Expect: 100-continue threshold */
  char *up = malloc(up_len);
  for (size_t i = 0; i < up_len; i++) {
    up[i] = (char)pattern_byte(i + 99);
  }
  rec r = {0};
  char url[128];
  snprintf(url, sizeof(url), "%s/large", f->base);
  const char *headers[] = {"Content-Type: application/octet-stream"};
  http_request_opts o = {.url = url,
                         .headers = headers,
                         .nheaders = 1,
                         .body = up,
                         .body_len = up_len,
                         .total_timeout_ms = 10000};
  start(f, &r, &o);
  free(up); /* the client copied it */
  run_until(f, &r.done, 1, 8000);
  assert_int_equal(r.code, HTTP_OK);
  assert_int_equal(r.body_bytes, LARGE_BYTES);
  assert_int_equal(r.body.len, LARGE_BYTES);
  size_t bad = 0;
  for (size_t i = 0; i < LARGE_BYTES; i++) {
    bad += (unsigned char)r.body.data[i] != pattern_byte(i);
  }
  assert_int_equal(bad, 0);
  assert_true(r.body_calls > 1);
  const ts_request *got = &f->srv.reqs[0];
  assert_int_equal(got->body_len, up_len);
  bad = 0;
  for (size_t i = 0; i < up_len; i++) {
    bad += (unsigned char)got->body[i] != pattern_byte(i + 99);
  }
  assert_int_equal(bad, 0);
  assert_true(r.total_ms < 900.0); /* no one-second wait for "100 Continue" */
  rec_free(&r);
  fixture_free(f);
}

static void freeing_the_client_cancels_requests_in_flight(void **state)
{
  fixture *f = fixture_new(route_silent);
  rec r[3] = {{0}};
  for (int i = 0; i < 3; i++) {
    get(f, &r[i], "/wait");
  }
  run_until(f, &f->srv.nreqs, 3, 3000);
  http_client_free(f->client);
  f->client = NULL;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(r[i].done, 1);
    assert_int_equal(r[i].code, HTTP_CANCELLED);
    rec_free(&r[i]);
  }
  fixture_free(f); /* asserts that every handle closed */
}

static void freeing_the_client_from_inside_on_body_is_deferred_safely(void **state)
{
  fixture *f = fixture_new(route_stream);
  rec a = {.free_client_in_body = 1};
  rec b = {0};
  get(f, &a, "/stream");
  get(f, &b, "/stream");
  run_until(f, &f->done_total, 2, 3000);
  assert_int_equal(a.code, HTTP_CANCELLED);
  assert_int_equal(b.code, HTTP_CANCELLED);
  assert_int_equal(a.body_calls, 1);
  assert_int_equal(a.done, 1);
  assert_int_equal(b.done, 1);
  rec_free(&a);
  rec_free(&b);
  fixture_free(f);
}

static void route_echo_target(fixture *f, ts_conn *c, const ts_request *r)
{
  ts_respond(c, 200, "text/plain", r->target);
}

static void explicit_and_environment_proxies_are_used(void **state)
{
  fixture *f = fixture_new(route_echo_target);
  char proxy[64], err[256];
  snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", f->srv.port);

  http_client_opts po = {.proxy = proxy};
  http_client *via = http_client_new(&f->loop, &po, err, sizeof(err));
  assert_non_null(via);
  rec r = {.f = f};
  http_request_opts o = {.url = "http://api.example.invalid/v1/models", .total_timeout_ms = 5000};
  assert_non_null(http_request_start(via, &o, &CALLBACKS, &r, err, sizeof(err)));
  run_until(f, &r.done, 1, 3000);
  assert_int_equal(r.code, HTTP_OK);
  assert_string_equal(f->srv.reqs[0].target, "http://api.example.invalid/v1/models");
  http_client_free(via);

  /* NULL proxy: the environment decides, as with curl. */
  setenv("http_proxy", proxy, 1);
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
  http_client *env = http_client_new(&f->loop, NULL, err, sizeof(err));
  rec e = {.f = f};
  o.url = "http://env.example.invalid/x";
  assert_non_null(http_request_start(env, &o, &CALLBACKS, &e, err, sizeof(err)));
  run_until(f, &e.done, 1, 3000);
  assert_int_equal(e.code, HTTP_OK);
  assert_string_equal(f->srv.reqs[1].target, "http://env.example.invalid/x");
  http_client_free(env);

  /* "" turns the proxy off even when the environment names one. */
  setenv("http_proxy", "http://127.0.0.1:1", 1);
  http_client_opts off = {.proxy = ""};
  http_client *direct = http_client_new(&f->loop, &off, err, sizeof(err));
  rec d = {.f = f};
  char url[128];
  snprintf(url, sizeof(url), "%s/direct", f->base);
  o.url = url;
  assert_non_null(http_request_start(direct, &o, &CALLBACKS, &d, err, sizeof(err)));
  run_until(f, &d.done, 1, 3000);
  unsetenv("http_proxy");
  assert_int_equal(d.code, HTTP_OK);
  assert_string_equal(f->srv.reqs[2].target, "/direct");
  http_client_free(direct);
  rec_free(&r);
  rec_free(&e);
  rec_free(&d);
  fixture_free(f);
}

static void invalid_requests_are_refused_without_echoing_secrets(void **state)
{
  fixture *f = fixture_new(route_json);
  char err[256] = "";
  rec r = {.f = f};
  const char *smuggle[] = {"Accept: */*", "Authorization: Bearer sk-SECRET\r\nX-Evil: 1"};
  http_request_opts o = {.url = "http://127.0.0.1:1/", .headers = smuggle, .nheaders = 2};
  assert_null(http_request_start(f->client, &o, &CALLBACKS, &r, err, sizeof(err)));
  assert_non_null(strstr(err, "header 1"));
  assert_null(strstr(err, "SECRET"));

  const char *noname[] = {": value"};
  o.headers = noname;
  o.nheaders = 1;
  assert_null(http_request_start(f->client, &o, &CALLBACKS, &r, err, sizeof(err)));
  assert_non_null(strstr(err, "header 0"));

  http_request_opts ftp = {.url = "ftp://127.0.0.1/file"};
  assert_null(http_request_start(f->client, &ftp, &CALLBACKS, &r, err, sizeof(err)));
  assert_non_null(strstr(err, "http://"));

  http_request_opts bad_method = {.url = "http://127.0.0.1:1/", .method = "GET /x HTTP/1.1\r\n"};
  assert_null(http_request_start(f->client, &bad_method, &CALLBACKS, &r, err, sizeof(err)));
  assert_non_null(strstr(err, "method"));

  http_request_opts neg = {.url = "http://127.0.0.1:1/", .idle_timeout_ms = -1};
  assert_null(http_request_start(f->client, &neg, &CALLBACKS, &r, err, sizeof(err)));
  assert_int_equal(r.done, 0);
  fixture_free(f);
}

static void extra_ca_bundle_must_exist_and_hold_certificates(void **state)
{
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[256] = "";
  http_client_opts missing = {.ca_file = "/nonexistent/ca.pem"};
  assert_null(http_client_new(&loop, &missing, err, sizeof(err)));
  assert_non_null(strstr(err, "cannot read CA bundle"));

  char path[] = "/tmp/frugal-http-ca-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "not a certificate\n", 18), 18);
  close(fd);
  http_client_opts junk = {.ca_file = path};
  assert_null(http_client_new(&loop, &junk, err, sizeof(err)));
  assert_non_null(strstr(err, "no PEM certificate"));
  unlink(path);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- TLS against `openssl s_server` --------------------------------------------------------- */

typedef struct {
  uv_process_t proc;
  int exited;
} child;

static void child_exit(uv_process_t *p, int64_t status, int sig)
{
  child *ch = p->data;
  ch->exited = 1;
  uv_close((uv_handle_t *)p, NULL);
}

static int free_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(fd, (struct sockaddr *)&a, sizeof(a));
  socklen_t alen = sizeof(a);
  getsockname(fd, (struct sockaddr *)&a, &alen);
  close(fd);
  return ntohs(a.sin_port);
}

/* Verification is always on: a self-signed server is refused until its certificate is added as
 * an extra CA bundle, and then the system bundle still loads alongside it. */
static void tls_verifies_peers_and_accepts_an_extra_ca_bundle(void **state)
{
  if (access("/usr/bin/openssl", X_OK) != 0) {
    skip();
  }
  char dir[] = "/tmp/frugal-http-tls-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "/usr/bin/openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
           "-nodes -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,"
           "IP:127.0.0.1 -keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1",
           dir, dir);
  assert_int_equal(system(cmd), 0);
  fixture *f = fixture_new(route_json);
  int port = free_port();
  char portarg[16], cert[512], key[512];
  snprintf(portarg, sizeof(portarg), "%d", port);
  snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
  snprintf(key, sizeof(key), "%s/key.pem", dir);
  char *args[] = {"/usr/bin/openssl",
                  "s_server",
                  "-quiet",
                  "-accept",
                  portarg,
                  "-cert",
                  cert,
                  "-key",
                  key,
                  "-www",
                  NULL};
  child ch = {0};
  uv_stdio_container_t io[3] = {{.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_IGNORE}};
  uv_process_options_t po = {
      .file = args[0], .args = args, .exit_cb = child_exit, .stdio = io, .stdio_count = 3};
  ch.proc.data = &ch;
  assert_int_equal(uv_spawn(&f->loop, &ch.proc, &po), 0);

  char url[128];
  snprintf(url, sizeof(url), "https://localhost:%d/", port);
  http_request_opts o = {.url = url, .total_timeout_ms = 5000};
  /* s_server needs a moment to listen: retry the plain connection refusal for up to 2 s. */
  rec untrusted;
  for (int tries = 0; tries < 40; tries++) {
    memset(&untrusted, 0, sizeof(untrusted));
    start(f, &untrusted, &o);
    run_until(f, &untrusted.done, 1, 3000);
    rec_free(&untrusted);
    if (untrusted.code != HTTP_FAILED_BEFORE_RESPONSE) {
      break;
    }
    run_for(f, 50);
  }
  assert_int_equal(untrusted.code, HTTP_TLS_ERROR);

  char err[256] = "";
  http_client_opts trust = {.ca_file = cert};
  http_client *c = http_client_new(&f->loop, &trust, err, sizeof(err));
  assert_non_null(c);
  rec ok = {.f = f};
  assert_non_null(http_request_start(c, &o, &CALLBACKS, &ok, err, sizeof(err)));
  run_until(f, &ok.done, 1, 3000);
  assert_int_equal(ok.code, HTTP_OK);
  assert_int_equal(ok.status, 200);
  assert_true(ok.body.len > 0);
  http_client_free(c);
  rec_free(&ok);

  uv_process_kill(&ch.proc, SIGTERM);
  run_until(f, &ch.exited, 1, 3000);
  fixture_free(f);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(post_delivers_status_headers_and_body_and_sends_ours),
      cmocka_unit_test(chunked_stream_arrives_in_pieces_and_rearms_the_idle_timer),
      cmocka_unit_test(second_request_reuses_the_keep_alive_connection),
      cmocka_unit_test(rate_limit_response_headers_are_parsed),
      cmocka_unit_test(interim_1xx_heads_are_skipped),
      cmocka_unit_test(malformed_response_heads_are_errors),
      cmocka_unit_test(idle_timeout_fires_when_the_server_stalls_mid_body),
      cmocka_unit_test(total_timeout_fires_when_no_response_comes),
      cmocka_unit_test(connect_timeout_fires_when_the_handshake_never_completes),
      cmocka_unit_test(connection_closed_mid_body_fails_after_the_first_byte),
      cmocka_unit_test(connecting_to_a_closed_port_fails_before_the_first_byte),
      cmocka_unit_test(https_to_a_plain_http_server_is_a_tls_error),
      cmocka_unit_test(cancel_before_the_response_calls_on_done_later_and_only_once),
      cmocka_unit_test(cancel_during_the_body_stops_delivery),
      cmocka_unit_test(cancel_from_inside_on_body_then_the_client_still_works),
      cmocka_unit_test(cancel_from_inside_on_response_delivers_no_body),
      cmocka_unit_test(requests_started_from_on_done_run_on_the_same_connection),
      cmocka_unit_test(request_started_from_inside_on_body_completes),
      cmocka_unit_test(eight_concurrent_requests_all_complete),
      cmocka_unit_test(large_bodies_arrive_intact_both_ways),
      cmocka_unit_test(freeing_the_client_cancels_requests_in_flight),
      cmocka_unit_test(freeing_the_client_from_inside_on_body_is_deferred_safely),
      cmocka_unit_test(explicit_and_environment_proxies_are_used),
      cmocka_unit_test(invalid_requests_are_refused_without_echoing_secrets),
      cmocka_unit_test(extra_ca_bundle_must_exist_and_hold_certificates),
      cmocka_unit_test(tls_verifies_peers_and_accepts_an_extra_ca_bundle),
  };
  /* The test server may write to a connection the client has just dropped (a cancel). */
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
