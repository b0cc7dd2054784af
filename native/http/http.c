#include "http/http.h"

#include <frugal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/curl_api.h"
#include "util/buf.h"

/* A response head larger than this is refused: provider heads are a few hundred bytes, and the
 * parsed copy is kept for the whole request. */
#define HTTP_MAX_HEADERS 128
#define HTTP_MAX_HEAD_BYTES (64 * 1024)

typedef struct http_sock {
  uv_poll_t poll;
  http_client *client;
  curl_socket_t fd;
  struct http_sock *prev, *next;
} http_sock;

typedef enum {
  REQ_QUEUED,    /* started from inside a curl callback; handed to curl by the defer timer */
  REQ_ACTIVE,    /* in the multi handle */
  REQ_CANCELLED, /* cancel requested; on_done pending on the defer timer */
  REQ_DONE       /* on_done called or running; memory goes when the idle timer has closed */
} req_state;

struct http_request {
  http_client *client;
  http_request *prev, *next;
  CURL *easy;
  struct curl_slist *headers;
  char *body;
  http_callbacks cb;
  void *data;
  req_state state;
  int added; /* the easy handle is in the multi handle */
  uv_timer_t idle;
  long idle_ms, connect_ms, total_ms;
  uint64_t start_ns, first_byte_ns, last_rx_ns;
  /* Response head: "name\0value\0" pairs in `head`, indexed by `hdrs` once complete. */
  buf_t head;
  size_t nhdr;
  http_header *hdrs;
  int head_done;
  int line_status; /* status from the latest status line */
  http_response resp;
  uint64_t body_bytes;
  char proto_err[96]; /* set when we refused the response ourselves */
  char errbuf[CURL_ERROR_SIZE];
  char msg[CURL_ERROR_SIZE + 96];
};

struct http_client {
  uv_loop_t *loop;
  curl_api api;
  CURLM *multi;
  uv_timer_t timer; /* curl's own timeouts */
  uv_timer_t defer; /* queued starts and cancellations, run outside curl */
  http_sock *socks;
  http_request *reqs;
  char *user_agent, *proxy, *no_proxy, *ca_path, *ca_file;
  char *ca_blob; /* system bundle + extra bundle, when ca_file is set */
  size_t ca_blob_len;
  int in_curl;      /* > 0 while a user callback runs from inside a curl callback */
  int depth;        /* > 0 while one of our loop callbacks (or the teardown) runs */
  int closing;      /* http_client_free() was called */
  int free_pending; /* ... from inside a callback: tear down when it returns */
  int torn_down;
  int open_handles; /* uv handles not yet closed; the struct goes when this reaches 0 */
};

static void client_teardown(http_client *c);

/* ---- small helpers -------------------------------------------------------------------------- */

const char *http_code_name(http_code code)
{
  switch (code) {
  case HTTP_OK:
    return "ok";
  case HTTP_CANCELLED:
    return "cancelled";
  case HTTP_TIMEOUT_CONNECT:
    return "timeout_connect";
  case HTTP_TIMEOUT_IDLE:
    return "timeout_idle";
  case HTTP_TIMEOUT_TOTAL:
    return "timeout_total";
  case HTTP_FAILED_BEFORE_RESPONSE:
    return "failed_before_response";
  case HTTP_FAILED_AFTER_RESPONSE:
    return "failed_after_response";
  case HTTP_TLS_ERROR:
    return "tls_error";
  case HTTP_ERROR_OTHER:
    return "error";
  }
  return "error";
}

const char *http_header_find(const http_header *headers, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++) {
    if (strcasecmp(headers[i].name, name) == 0) {
      return headers[i].value;
    }
  }
  return NULL;
}

/* RFC 9110 tchar. */
static int is_tchar(unsigned char ch)
{
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) {
    return 1;
  }
  return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int is_token(const char *s, size_t n)
{
  if (n == 0) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (!is_tchar((unsigned char)s[i])) {
      return 0;
    }
  }
  return 1;
}

/* A request header must be "token: value" with no control byte but HT in the value: a CR or LF
 * would let a value smuggle extra headers or a second request. */
static int header_line_ok(const char *h)
{
  const char *colon = strchr(h, ':');
  if (!colon || !is_token(h, (size_t)(colon - h))) {
    return 0;
  }
  for (const unsigned char *p = (const unsigned char *)colon + 1; *p; p++) {
    if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
      return 0;
    }
  }
  return 1;
}

static double ms_between(uint64_t from_ns, uint64_t to_ns)
{
  return (double)(to_ns - from_ns) / 1e6;
}

static void enter(http_client *c)
{
  c->depth++;
}

/* Every loop callback ends here: a free requested from inside a user callback runs now, with
 * curl no longer on the stack. */
static void leave(http_client *c)
{
  if (--c->depth == 0 && c->free_pending && !c->torn_down) {
    client_teardown(c);
  }
}

static void client_maybe_release(http_client *c)
{
  if (c->torn_down && c->open_handles == 0) {
    free(c->user_agent);
    free(c->proxy);
    free(c->no_proxy);
    free(c->ca_path);
    free(c->ca_file);
    free(c->ca_blob);
    free(c);
  }
}

static void on_handle_closed(uv_handle_t *h)
{
  http_client *c = h->data;
  c->open_handles--;
  client_maybe_release(c);
}

/* ---- sockets and curl's timer --------------------------------------------------------------- */

static void check_done(http_client *c);

static void on_sock_closed(uv_handle_t *h)
{
  http_sock *s = h->data;
  http_client *c = s->client;
  free(s);
  c->open_handles--;
  client_maybe_release(c);
}

static void sock_close(http_sock *s)
{
  http_client *c = s->client;
  if (s->prev) {
    s->prev->next = s->next;
  } else {
    c->socks = s->next;
  }
  if (s->next) {
    s->next->prev = s->prev;
  }
  uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
  http_sock *s = p->data;
  http_client *c = s->client;
  int flags = 0;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    flags |= (events & UV_READABLE) ? CURL_CSELECT_IN : 0;
    flags |= (events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0;
  }
  int running = 0;
  enter(c);
  c->api.multi_socket_action(c->multi, s->fd, flags, &running);
  check_done(c);
  leave(c);
}

static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
  http_client *c = userp;
  http_sock *s = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      sock_close(s);
    }
    return 0;
  }
  if (!s) {
    s = xcalloc(1, sizeof(*s));
    if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->poll.data = s;
    s->client = c;
    s->fd = fd;
    s->next = c->socks;
    if (c->socks) {
      c->socks->prev = s;
    }
    c->socks = s;
    c->open_handles++;
    c->api.multi_assign(c->multi, fd, s);
  }
  int events = 0;
  events |= (what & CURL_POLL_IN) ? UV_READABLE : 0;
  events |= (what & CURL_POLL_OUT) ? UV_WRITABLE : 0;
  uv_poll_start(&s->poll, events, on_poll);
  return 0;
}

static void on_curl_timer(uv_timer_t *t)
{
  http_client *c = t->data;
  int running = 0;
  enter(c);
  c->api.multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(c);
  leave(c);
}

/* curl asks for "call me in N ms"; it must not be called back from inside this function, so
 * even N == 0 goes through the loop. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
  http_client *c = userp;
  if (timeout_ms < 0) {
    uv_timer_stop(&c->timer);
  } else {
    uv_timer_start(&c->timer, on_curl_timer, (uint64_t)timeout_ms, 0);
  }
  return 0;
}

/* ---- finishing a request -------------------------------------------------------------------- */

static void on_req_closed(uv_handle_t *h)
{
  http_request *req = h->data;
  http_client *c = req->client;
  free(req);
  c->open_handles--;
  client_maybe_release(c);
}

static void req_unlink(http_request *req)
{
  http_client *c = req->client;
  if (req->prev) {
    req->prev->next = req->next;
  } else if (c->reqs == req) {
    c->reqs = req->next;
  }
  if (req->next) {
    req->next->prev = req->prev;
  }
  req->prev = req->next = NULL;
}

static void req_release(http_request *req)
{
  http_client *c = req->client;
  if (req->easy) {
    c->api.easy_cleanup(req->easy);
  }
  if (req->headers) {
    c->api.slist_free_all(req->headers);
  }
  free(req->body);
  free(req->hdrs);
  buf_free(&req->head);
  uv_close((uv_handle_t *)&req->idle, on_req_closed);
}

static long info_long(http_client *c, CURL *easy, CURLINFO what)
{
  long v = 0;
  if (c->api.easy_getinfo(easy, what, &v) != CURLE_OK) {
    return 0;
  }
  return v;
}

static curl_off_t info_off(http_client *c, CURL *easy, CURLINFO what)
{
  curl_off_t v = 0;
  if (c->api.easy_getinfo(easy, what, &v) != CURLE_OK) {
    return 0;
  }
  return v;
}

static int version_number(long v)
{
  switch (v) {
  case CURL_HTTP_VERSION_1_0:
    return 10;
  case CURL_HTTP_VERSION_1_1:
    return 11;
  case CURL_HTTP_VERSION_2_0:
    return 20;
  case CURL_HTTP_VERSION_3:
    return 30;
  default:
    return 0;
  }
}

/* Decides the outcome once: takes the handle out of curl, reports through on_done and lets the
 * request go. Never called from inside a curl callback. */
static void req_finish(http_request *req, http_code code, const char *message)
{
  http_client *c = req->client;
  http_result res;
  memset(&res, 0, sizeof(res));
  req->state = REQ_DONE;
  uv_timer_stop(&req->idle);
  req_unlink(req);
  if (req->added) {
    c->api.multi_remove_handle(c->multi, req->easy);
    req->added = 0;
  }
  uint64_t now = uv_hrtime();
  res.code = code;
  res.message = message ? message : "";
  res.status = req->resp.status;
  if (!res.status && req->first_byte_ns) {
    res.status = (int)info_long(c, req->easy, CURLINFO_RESPONSE_CODE);
  }
  res.headers = req->hdrs;
  res.nheaders = req->hdrs ? req->nhdr : 0;
  res.body_bytes = req->body_bytes;
  res.ttfb_ms = req->first_byte_ns ? ms_between(req->start_ns, req->first_byte_ns) : -1.0;
  res.total_ms = ms_between(req->start_ns, now);
  /* Reused: a response came over a connection this transfer did not open. (Timing infos are
   * no guide: newer libcurl versions fill some of them in for transfers that never connected.) */
  res.reused = req->first_byte_ns && info_long(c, req->easy, CURLINFO_NUM_CONNECTS) == 0;
  res.http_version =
      req->first_byte_ns ? version_number(info_long(c, req->easy, CURLINFO_HTTP_VERSION)) : 0;
  if (req->cb.on_done) {
    req->cb.on_done(req, &res, req->data);
  }
  req_release(req);
}

static int is_tls_error(CURLcode cc)
{
  switch (cc) {
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_USE_SSL_FAILED:
    return 1;
  default:
    return 0;
  }
}

static int is_connection_error(CURLcode cc)
{
  switch (cc) {
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_HTTP3:
  case CURLE_QUIC_CONNECT_ERROR:
  case CURLE_PROXY:
    return 1;
  default:
    return 0;
  }
}

/* Maps curl's verdict on a finished transfer to ours. curl reports every timeout as
 * CURLE_OPERATION_TIMEDOUT; a transfer that never got past connecting (no pretransfer time)
 * hit the connect limit unless the total limit was the shorter one. */
static void req_complete(http_request *req, CURLcode cc)
{
  http_client *c = req->client;
  const char *why = req->errbuf[0] ? req->errbuf : c->api.easy_strerror(cc);
  http_code code;
  if (req->proto_err[0]) {
    snprintf(req->msg, sizeof(req->msg), "%s", req->proto_err);
    req_finish(req, HTTP_ERROR_OTHER, req->msg);
    return;
  }
  if (cc == CURLE_OK) {
    req_finish(req, HTTP_OK, "");
    return;
  }
  if (cc == CURLE_OPERATION_TIMEDOUT) {
    /* CONNECT_TIME stays 0 until the TCP connect completes (libcurl 7.88 and 8.x alike);
     * PRETRANSFER_TIME does not in libcurl 8. */
    int connected = req->first_byte_ns || info_off(c, req->easy, CURLINFO_CONNECT_TIME_T) > 0;
    long connect_limit = req->connect_ms > 0 ? req->connect_ms : 300000; /* curl's default */
    if (!connected && (req->total_ms == 0 || connect_limit < req->total_ms)) {
      code = HTTP_TIMEOUT_CONNECT;
      snprintf(req->msg, sizeof(req->msg), "connect timed out after %ld ms (%s)", connect_limit,
               why);
    } else {
      code = HTTP_TIMEOUT_TOTAL;
      snprintf(req->msg, sizeof(req->msg), "request took longer than %ld ms (%s)", req->total_ms,
               why);
    }
  } else if (is_tls_error(cc)) {
    code = HTTP_TLS_ERROR;
    snprintf(req->msg, sizeof(req->msg), "TLS error: %s", why);
  } else if (is_connection_error(cc)) {
    if (req->first_byte_ns) {
      code = HTTP_FAILED_AFTER_RESPONSE;
      snprintf(req->msg, sizeof(req->msg), "connection failed after %llu body bytes: %s",
               (unsigned long long)req->body_bytes, why);
    } else {
      code = HTTP_FAILED_BEFORE_RESPONSE;
      snprintf(req->msg, sizeof(req->msg), "connection failed before any response: %s", why);
    }
  } else if (cc == CURLE_WEIRD_SERVER_REPLY) {
    code = HTTP_ERROR_OTHER;
    snprintf(req->msg, sizeof(req->msg), "malformed response: %s", why);
  } else {
    code = HTTP_ERROR_OTHER;
    snprintf(req->msg, sizeof(req->msg), "%s", why);
  }
  req_finish(req, code, req->msg);
}

static void check_done(http_client *c)
{
  CURLMsg *m;
  int left = 0;
  while (!c->closing && (m = c->api.multi_info_read(c->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) {
      continue;
    }
    char *priv = NULL;
    c->api.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
    http_request *req = (http_request *)(void *)priv;
    CURLcode cc = m->data.result;
    /* A cancelled request is finished by the defer timer, with its own code. */
    if (req && req->state == REQ_ACTIVE) {
      req_complete(req, cc);
    }
  }
}

/* ---- the defer timer and the idle timer ----------------------------------------------------- */

static void on_defer(uv_timer_t *t)
{
  http_client *c = t->data;
  enter(c);
  /* Callbacks may start, cancel or free anything, so rescan from the head after each step. */
  while (!c->closing) {
    http_request *req = c->reqs;
    while (req && req->state != REQ_QUEUED && req->state != REQ_CANCELLED) {
      req = req->next;
    }
    if (!req) {
      break;
    }
    if (req->state == REQ_CANCELLED) {
      req_finish(req, HTTP_CANCELLED, "cancelled");
      continue;
    }
    CURLMcode mc = c->api.multi_add_handle(c->multi, req->easy);
    if (mc != CURLM_OK) {
      snprintf(req->msg, sizeof(req->msg), "cannot start request: %s", c->api.multi_strerror(mc));
      req_finish(req, HTTP_ERROR_OTHER, req->msg);
      continue;
    }
    req->added = 1;
    req->state = REQ_ACTIVE;
  }
  leave(c);
}

static void defer_kick(http_client *c)
{
  if (!c->closing) {
    uv_timer_start(&c->defer, on_defer, 0, 0);
  }
}

/* The timer is not re-armed on every byte (that would be a heap update per chunk); it checks
 * the time since the last byte when it fires and sleeps again for the remainder. */
static void on_idle(uv_timer_t *t)
{
  http_request *req = t->data;
  http_client *c = req->client;
  if (req->state != REQ_ACTIVE && req->state != REQ_QUEUED) {
    return;
  }
  uint64_t limit_ns = (uint64_t)req->idle_ms * 1000000u;
  uint64_t since = uv_hrtime() - req->last_rx_ns;
  if (since < limit_ns) {
    uv_timer_start(t, on_idle, (limit_ns - since + 999999u) / 1000000u, 0);
    return;
  }
  enter(c);
  snprintf(req->msg, sizeof(req->msg), "no data received for %ld ms", req->idle_ms);
  req_finish(req, HTTP_TIMEOUT_IDLE, req->msg);
  leave(c);
}

/* ---- curl's data callbacks ------------------------------------------------------------------ */

static int req_live(const http_request *req)
{
  return req->state == REQ_ACTIVE && !req->client->closing;
}

static void deliver_head(http_request *req)
{
  http_client *c = req->client;
  req->hdrs = xrealloc(req->hdrs, (req->nhdr ? req->nhdr : 1) * sizeof(http_header));
  const char *p = req->head.data;
  for (size_t i = 0; i < req->nhdr; i++) {
    req->hdrs[i].name = p;
    p += strlen(p) + 1;
    req->hdrs[i].value = p;
    p += strlen(p) + 1;
  }
  req->head_done = 1;
  req->resp.status = (int)info_long(c, req->easy, CURLINFO_RESPONSE_CODE);
  req->resp.http_version = version_number(info_long(c, req->easy, CURLINFO_HTTP_VERSION));
  req->resp.headers = req->hdrs;
  req->resp.nheaders = req->nhdr;
  if (req->cb.on_response) {
    c->in_curl++;
    req->cb.on_response(req, &req->resp, req->data);
    c->in_curl--;
  }
}

static size_t refuse_head(http_request *req, const char *why)
{
  snprintf(req->proto_err, sizeof(req->proto_err), "malformed response: %s", why);
  return CURL_WRITEFUNC_ERROR;
}

/* curl hands over one complete head line per call, CRLF included, for every response it reads
 * (1xx interim ones too). Only the final head is kept; trailers after the body are ignored. */
static size_t header_cb(char *line, size_t size, size_t n, void *ud)
{
  http_request *req = ud;
  size_t len = size * n;
  if (!req_live(req)) {
    return CURL_WRITEFUNC_ERROR;
  }
  uint64_t now = uv_hrtime();
  if (!req->first_byte_ns) {
    req->first_byte_ns = now;
  }
  req->last_rx_ns = now;
  if (req->head_done) {
    return len;
  }
  size_t end = len;
  while (end > 0 && (line[end - 1] == '\n' || line[end - 1] == '\r')) {
    end--;
  }
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    /* "HTTP/1.1 103 Early Hints", "HTTP/2 200": remember the status to spot interim heads. */
    const char *sp = memchr(line, ' ', end);
    req->line_status = 0;
    for (const char *d = sp ? sp + 1 : line + end; d < line + end && *d >= '0' && *d <= '9'; d++) {
      req->line_status = req->line_status * 10 + (*d - '0');
      if (req->line_status > 999) {
        return refuse_head(req, "bad status line");
      }
    }
    buf_clear(&req->head);
    req->nhdr = 0;
    return len;
  }
  if (end == 0) {
    if (req->line_status >= 100 && req->line_status < 200) {
      buf_clear(&req->head);
      req->nhdr = 0;
      return len;
    }
    deliver_head(req);
    return req_live(req) ? len : CURL_WRITEFUNC_ERROR;
  }
  if (memchr(line, '\0', end)) {
    return refuse_head(req, "NUL byte in a header");
  }
  if (req->head.len + end + 2 > HTTP_MAX_HEAD_BYTES) {
    return refuse_head(req, "response head too large");
  }
  if (line[0] == ' ' || line[0] == '\t') {
    /* Obsolete line folding: join to the previous value with one space. */
    if (req->nhdr == 0) {
      return refuse_head(req, "continuation line without a header");
    }
    size_t s = 0;
    while (s < end && (line[s] == ' ' || line[s] == '\t')) {
      s++;
    }
    req->head.len--; /* drop the value's NUL */
    buf_putc(&req->head, ' ');
    buf_append(&req->head, line + s, end - s);
    buf_putc(&req->head, '\0');
    return len;
  }
  const char *colon = memchr(line, ':', end);
  if (!colon || !is_token(line, (size_t)(colon - line))) {
    return refuse_head(req, "header line is not 'name: value'");
  }
  if (req->nhdr >= HTTP_MAX_HEADERS) {
    return refuse_head(req, "too many headers");
  }
  size_t vs = (size_t)(colon - line) + 1;
  size_t ve = end;
  while (vs < ve && (line[vs] == ' ' || line[vs] == '\t')) {
    vs++;
  }
  while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t')) {
    ve--;
  }
  buf_append(&req->head, line, (size_t)(colon - line));
  buf_putc(&req->head, '\0');
  buf_append(&req->head, line + vs, ve - vs);
  buf_putc(&req->head, '\0');
  req->nhdr++;
  return len;
}

static size_t write_cb(char *bytes, size_t size, size_t n, void *ud)
{
  http_request *req = ud;
  size_t len = size * n;
  if (!req_live(req)) {
    return CURL_WRITEFUNC_ERROR;
  }
  req->last_rx_ns = uv_hrtime();
  if (!req->head_done) {
    deliver_head(req);
    if (!req_live(req)) {
      return CURL_WRITEFUNC_ERROR;
    }
  }
  req->body_bytes += len;
  if (req->cb.on_body && len > 0) {
    req->client->in_curl++;
    req->cb.on_body(req, bytes, len, req->data);
    req->client->in_curl--;
  }
  return req_live(req) ? len : CURL_WRITEFUNC_ERROR;
}

/* ---- the client ----------------------------------------------------------------------------- */

static char *dup_opt(const char *s)
{
  return s ? xstrdup(s) : NULL;
}

static int read_file(const char *path, buf_t *out, char *err, size_t errlen)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cannot read CA bundle %s", path);
    return -1;
  }
  char chunk[8192];
  size_t got;
  while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    buf_append(out, chunk, got);
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    snprintf(err, errlen, "cannot read CA bundle %s", path);
    return -1;
  }
  return 0;
}

/* libcurl's CAINFO replaces the system bundle; to *add* a bundle we hand the TLS library both,
 * concatenated, as one in-memory PEM blob. Read once here (a small blocking read at client
 * creation, before any transfer) rather than on every connection. */
static int build_ca_blob(http_client *c, const char *extra, char *err, size_t errlen)
{
  buf_t b = BUF_INIT;
  curl_version_info_data *vi = c->api.version_info(CURLVERSION_NOW);
  if (vi && vi->age >= CURLVERSION_SEVENTH && vi->cainfo) {
    if (read_file(vi->cainfo, &b, err, errlen)) {
      buf_free(&b);
      return -1;
    }
    buf_putc(&b, '\n');
  }
  size_t before = b.len;
  if (read_file(extra, &b, err, errlen)) {
    buf_free(&b);
    return -1;
  }
  if (!memmem(b.data + before, b.len - before, "-----BEGIN CERTIFICATE-----", 27)) {
    snprintf(err, errlen, "CA bundle %s holds no PEM certificate", extra);
    buf_free(&b);
    return -1;
  }
  c->ca_blob_len = b.len;
  c->ca_blob = buf_detach(&b);
  return 0;
}

http_client *http_client_new(uv_loop_t *loop, const http_client_opts *opts, char *err,
                             size_t errlen)
{
  http_client_opts none;
  memset(&none, 0, sizeof(none));
  if (!opts) {
    opts = &none;
  }
  http_client *c = xcalloc(1, sizeof(*c));
  c->loop = loop;
  if (curl_api_global_init(&c->api, err, errlen)) {
    free(c);
    return NULL;
  }
  if (opts->ca_file && build_ca_blob(c, opts->ca_file, err, errlen)) {
    curl_api_unload(&c->api);
    free(c);
    return NULL;
  }
  c->multi = c->api.multi_init();
  if (!c->multi) {
    snprintf(err, errlen, "cannot create a curl multi handle");
    curl_api_unload(&c->api);
    free(c->ca_blob);
    free(c);
    return NULL;
  }
  c->api.multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
  c->api.multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  c->api.multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  c->api.multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  c->api.multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  uv_timer_init(loop, &c->defer);
  c->defer.data = c;
  c->open_handles = 2;
  c->user_agent =
      opts->user_agent ? xstrdup(opts->user_agent) : xstrdup("frugal/" FRUGAL_VERSION_STRING);
  c->proxy = dup_opt(opts->proxy);
  c->no_proxy = dup_opt(opts->no_proxy);
  c->ca_path = dup_opt(opts->ca_path);
  return c;
}

static void client_teardown(http_client *c)
{
  c->depth++;
  /* Every outstanding request still gets its on_done; a callback that starts a request now
   * is refused because `closing` is set. */
  while (c->reqs) {
    req_finish(c->reqs, HTTP_CANCELLED, "cancelled: client freed");
  }
  /* Stop watching curl's sockets before curl closes them (a closed descriptor must not stay
   * in the poll set), then let curl close its cached connections. */
  while (c->socks) {
    c->api.multi_assign(c->multi, c->socks->fd, NULL);
    sock_close(c->socks);
  }
  c->api.multi_cleanup(c->multi);
  c->multi = NULL;
  curl_api_unload(&c->api);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->defer, on_handle_closed);
  c->depth--;
  c->torn_down = 1;
  client_maybe_release(c);
}

void http_client_free(http_client *c)
{
  if (!c || c->closing) {
    return;
  }
  c->closing = 1;
  if (c->depth > 0) {
    c->free_pending = 1;
    return;
  }
  client_teardown(c);
}

/* ---- starting and cancelling ---------------------------------------------------------------- */

static int scheme_ok(const char *url)
{
  return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* Applies every option; returns the first failure's code. */
static CURLcode req_setup(http_client *c, http_request *req, const http_request_opts *o,
                          const char *method)
{
  CURL *e = req->easy;
  curl_api *a = &c->api;
  CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
  do {                                                                                             \
    CURLcode r_ = a->easy_setopt(e, opt, val);                                                     \
    if (r_ != CURLE_OK && rc == CURLE_OK) {                                                        \
      rc = r_;                                                                                     \
    }                                                                                              \
  } while (0)
  SET(CURLOPT_PRIVATE, (void *)req);
  SET(CURLOPT_URL, o->url);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_ERRORBUFFER, req->errbuf);
  SET(CURLOPT_HEADERFUNCTION, header_cb);
  SET(CURLOPT_HEADERDATA, (void *)req);
  SET(CURLOPT_WRITEFUNCTION, write_cb);
  SET(CURLOPT_WRITEDATA, (void *)req);
  SET(CURLOPT_USERAGENT, c->user_agent);
  SET(CURLOPT_SSL_VERIFYPEER, 1L);
  SET(CURLOPT_SSL_VERIFYHOST, 2L);
  SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  /* Over TLS, ALPN tells at handshake time whether the connection multiplexes, so waiting for
   * it beats opening a second connection. Over plain HTTP curl learns it only from the first
   * response, and waiting would serialise concurrent requests behind a slow one. */
  if (strncasecmp(o->url, "https://", 8) == 0) {
    SET(CURLOPT_PIPEWAIT, 1L);
  }
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_TCP_KEEPIDLE, 30L);
  SET(CURLOPT_TCP_KEEPINTVL, 15L);
  if (c->proxy) {
    SET(CURLOPT_PROXY, c->proxy);
  }
  if (c->no_proxy) {
    SET(CURLOPT_NOPROXY, c->no_proxy);
  }
  if (c->ca_blob) {
    struct curl_blob blob = {c->ca_blob, c->ca_blob_len, CURL_BLOB_NOCOPY};
    SET(CURLOPT_CAINFO_BLOB, &blob);
  }
  if (c->ca_path) {
    SET(CURLOPT_CAPATH, c->ca_path);
  }
  if (o->connect_timeout_ms > 0) {
    SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
  }
  if (o->total_timeout_ms > 0) {
    SET(CURLOPT_TIMEOUT_MS, o->total_timeout_ms);
  }
  SET(CURLOPT_HTTPHEADER, req->headers);
  int has_body = o->body != NULL || o->body_len > 0;
  if (has_body || strcmp(method, "POST") == 0) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
    SET(CURLOPT_POSTFIELDS, (void *)req->body);
    if (strcmp(method, "POST") != 0) {
      SET(CURLOPT_CUSTOMREQUEST, method);
    }
  } else if (strcmp(method, "HEAD") == 0) {
    SET(CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "GET") == 0) {
    SET(CURLOPT_HTTPGET, 1L);
  } else {
    SET(CURLOPT_CUSTOMREQUEST, method);
  }
#undef SET
  /* Older libcurl lacks PROTOCOLS_STR; the scheme was already checked, so that is no loss. */
  a->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  return rc;
}

http_request *http_request_start(http_client *c, const http_request_opts *o,
                                 const http_callbacks *cb, void *data, char *err, size_t errlen)
{
  if (!c || !o || !cb) {
    snprintf(err, errlen, "missing client, options or callbacks");
    return NULL;
  }
  if (c->closing) {
    snprintf(err, errlen, "the HTTP client is shutting down");
    return NULL;
  }
  if (!o->url || !scheme_ok(o->url)) {
    snprintf(err, errlen, "the URL must start with http:// or https://");
    return NULL;
  }
  int has_body = o->body != NULL || o->body_len > 0;
  const char *method = o->method ? o->method : has_body ? "POST" : "GET";
  if (!is_token(method, strlen(method)) || strlen(method) > 32) {
    snprintf(err, errlen, "invalid HTTP method");
    return NULL;
  }
  if (o->connect_timeout_ms < 0 || o->idle_timeout_ms < 0 || o->total_timeout_ms < 0) {
    snprintf(err, errlen, "timeouts must be >= 0 ms");
    return NULL;
  }
  if (o->body_len > 0 && !o->body) {
    snprintf(err, errlen, "body_len is set but body is NULL");
    return NULL;
  }
  int has_expect = 0;
  for (size_t i = 0; i < o->nheaders; i++) {
    if (!o->headers[i] || !header_line_ok(o->headers[i])) {
      /* By index only: the value may be a key. */
      snprintf(err, errlen, "request header %zu is not 'Name: value' without control bytes", i);
      return NULL;
    }
    has_expect |= strncasecmp(o->headers[i], "expect:", 7) == 0;
  }

  http_request *req = xcalloc(1, sizeof(*req));
  req->client = c;
  req->cb = *cb;
  req->data = data;
  req->idle_ms = o->idle_timeout_ms;
  req->connect_ms = o->connect_timeout_ms;
  req->total_ms = o->total_timeout_ms;
  req->body = xmalloc(o->body_len + 1);
  if (o->body_len) {
    memcpy(req->body, o->body, o->body_len);
  }
  req->body[o->body_len] = '\0';
  req->easy = c->api.easy_init();
  if (!req->easy) {
    snprintf(err, errlen, "cannot create a curl handle");
    free(req->body);
    free(req);
    return NULL;
  }
  int slist_failed = 0;
  for (size_t i = 0; i < o->nheaders && !slist_failed; i++) {
    struct curl_slist *l = c->api.slist_append(req->headers, o->headers[i]);
    slist_failed = l == NULL;
    req->headers = l ? l : req->headers;
  }
  /* curl would otherwise wait up to a second for "100 Continue" before sending a large body. */
  if (!has_expect && !slist_failed) {
    struct curl_slist *l = c->api.slist_append(req->headers, "Expect:");
    slist_failed = l == NULL;
    req->headers = l ? l : req->headers;
  }
  CURLcode rc = slist_failed ? CURLE_OUT_OF_MEMORY : req_setup(c, req, o, method);
  if (rc != CURLE_OK) {
    snprintf(err, errlen, "cannot configure request: %s", c->api.easy_strerror(rc));
    if (req->headers) {
      c->api.slist_free_all(req->headers);
    }
    c->api.easy_cleanup(req->easy);
    free(req->body);
    free(req);
    return NULL;
  }
  if (c->in_curl == 0) {
    CURLMcode mc = c->api.multi_add_handle(c->multi, req->easy);
    if (mc != CURLM_OK) {
      snprintf(err, errlen, "cannot start request: %s", c->api.multi_strerror(mc));
      c->api.slist_free_all(req->headers);
      c->api.easy_cleanup(req->easy);
      free(req->body);
      free(req);
      return NULL;
    }
    req->added = 1;
    req->state = REQ_ACTIVE;
  } else {
    /* curl refuses new handles from inside its callbacks; hand it over from the loop. */
    req->state = REQ_QUEUED;
    defer_kick(c);
  }
  req->start_ns = uv_hrtime();
  req->last_rx_ns = req->start_ns;
  uv_timer_init(c->loop, &req->idle);
  req->idle.data = req;
  c->open_handles++;
  if (req->idle_ms > 0) {
    uv_timer_start(&req->idle, on_idle, (uint64_t)req->idle_ms, 0);
  }
  /* Appended, so deferred work (cancellations, queued starts) runs in the order it was asked. */
  http_request **tail = &c->reqs;
  http_request *last = NULL;
  while (*tail) {
    last = *tail;
    tail = &(*tail)->next;
  }
  req->prev = last;
  *tail = req;
  return req;
}

void http_request_cancel(http_request *req)
{
  if (!req || (req->state != REQ_ACTIVE && req->state != REQ_QUEUED)) {
    return;
  }
  req->state = REQ_CANCELLED;
  uv_timer_stop(&req->idle);
  defer_kick(req->client);
}
