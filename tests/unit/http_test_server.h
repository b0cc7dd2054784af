/* http_test_server: a tiny scripted HTTP/1.1 server on a libuv loop, for tests/unit/test_http.c.
 *
 * It listens on 127.0.0.1, port chosen by the kernel, records every request it reads (method,
 * target, head, body, connection number) and asks the test's handler what to answer. The
 * handler queues steps on the connection: write bytes, wait N ms, close. Steps run in order;
 * with no step left the connection just waits (for a keep-alive request, or forever: a stall).
 * A connection whose first byte is not a letter (a TLS ClientHello) gets a 400 and is closed.
 *
 * Header-only with static functions because every tests/unit/test_*.c is its own program. */
#ifndef FRUGAL_TESTS_HTTP_TEST_SERVER_H
#define FRUGAL_TESTS_HTTP_TEST_SERVER_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "util/buf.h"

#define TS_MAX_REQUESTS 64

typedef struct ts_server ts_server;
typedef struct ts_conn ts_conn;

typedef struct {
  char method[16];
  char target[512];
  char *head; /* header lines after the request line, CRLF-separated, NUL-terminated */
  char *body;
  size_t body_len;
  int conn_id; /* 1-based, in accept order */
} ts_request;

typedef enum { TS_WRITE, TS_DELAY, TS_CLOSE } ts_kind;

typedef struct ts_step {
  ts_kind kind;
  char *data;
  size_t len;
  unsigned ms;
  struct ts_step *next;
} ts_step;

typedef void (*ts_handler)(ts_server *s, ts_conn *conn, const ts_request *r, void *ud);

struct ts_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  ts_server *srv;
  int id;
  buf_t in;
  ts_step *steps, *tail;
  int waiting; /* a delay step is running */
  int closing;
  int open; /* handles not yet closed */
  ts_conn *next;
};

struct ts_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int port;
  ts_handler handler;
  void *ud;
  int connections;
  ts_request reqs[TS_MAX_REQUESTS];
  int nreqs;
  ts_conn *conns;
};

static void ts_run_steps(ts_conn *c);

static void ts_conn_closed(uv_handle_t *h)
{
  ts_conn *c = h->data;
  if (--c->open > 0) {
    return;
  }
  ts_server *s = c->srv;
  for (ts_conn **p = &s->conns; *p; p = &(*p)->next) {
    if (*p == c) {
      *p = c->next;
      break;
    }
  }
  while (c->steps) {
    ts_step *n = c->steps->next;
    free(c->steps->data);
    free(c->steps);
    c->steps = n;
  }
  buf_free(&c->in);
  free(c);
}

static void ts_conn_close(ts_conn *c)
{
  if (c->closing) {
    return;
  }
  c->closing = 1;
  uv_close((uv_handle_t *)&c->tcp, ts_conn_closed);
  uv_close((uv_handle_t *)&c->timer, ts_conn_closed);
}

static void ts_push(ts_conn *c, ts_kind kind, const void *data, size_t len, unsigned ms)
{
  ts_step *st = calloc(1, sizeof(*st));
  st->kind = kind;
  if (data) {
    st->data = malloc(len ? len : 1);
    memcpy(st->data, data, len);
    st->len = len;
  }
  st->ms = ms;
  if (c->tail) {
    c->tail->next = st;
  } else {
    c->steps = st;
  }
  c->tail = st;
  ts_run_steps(c);
}

static void ts_write(ts_conn *c, const void *data, size_t len)
{
  ts_push(c, TS_WRITE, data, len, 0);
}

static void ts_writef(ts_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ts_writef(ts_conn *c, const char *fmt, ...)
{
  buf_t b = BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  ts_write(c, b.data, b.len);
  buf_free(&b);
}

static void ts_delay(ts_conn *c, unsigned ms)
{
  ts_push(c, TS_DELAY, NULL, 0, ms);
}

static void ts_close_after(ts_conn *c)
{
  ts_push(c, TS_CLOSE, NULL, 0, 0);
}

/* A complete response with Content-Length. */
static void ts_respond(ts_conn *c, int status, const char *ctype, const char *body)
{
  ts_writef(c, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s", status, ctype,
            strlen(body), body);
}

static void ts_chunk(ts_conn *c, const char *data)
{
  ts_writef(c, "%zx\r\n%s\r\n", strlen(data), data);
}

static void ts_write_done(uv_write_t *w, int status)
{
  free(w->data);
  free(w);
}

static void ts_delay_done(uv_timer_t *t)
{
  ts_conn *c = t->data;
  c->waiting = 0;
  ts_run_steps(c);
}

static void ts_run_steps(ts_conn *c)
{
  while (c->steps && !c->waiting && !c->closing) {
    ts_step *st = c->steps;
    c->steps = st->next;
    if (!c->steps) {
      c->tail = NULL;
    }
    if (st->kind == TS_WRITE) {
      uv_write_t *w = malloc(sizeof(*w));
      w->data = st->data;
      uv_buf_t b = uv_buf_init(st->data, (unsigned)st->len);
      if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, ts_write_done) != 0) {
        free(st->data);
        free(w);
      }
      st->data = NULL;
    } else if (st->kind == TS_DELAY) {
      c->waiting = 1;
      uv_timer_start(&c->timer, ts_delay_done, st->ms, 0);
    } else {
      ts_conn_close(c);
    }
    free(st->data);
    free(st);
  }
}

static void ts_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
  ts_conn *c = h->data;
  buf_reserve(&c->in, 65536 + 1); /* + 1: keep room for a NUL after what was read */
  out->base = c->in.data + c->in.len;
  out->len = 65536;
}

/* Parses every complete request in the input buffer; returns -1 on garbage. */
static int ts_parse(ts_conn *c)
{
  ts_server *s = c->srv;
  for (;;) {
    if (c->in.len == 0) {
      return 0;
    }
    if (c->in.data[0] < 'A' || c->in.data[0] > 'Z') {
      return -1;
    }
    char *end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
    if (!end) {
      return 0;
    }
    size_t head_len = (size_t)(end - c->in.data) + 4;
    char *line_end = memmem(c->in.data, head_len, "\r\n", 2);
    ts_request r;
    memset(&r, 0, sizeof(r));
    if (sscanf(c->in.data, "%15s %511s", r.method, r.target) != 2) {
      return -1;
    }
    size_t clen = 0;
    const char *cl = NULL;
    for (const char *p = line_end + 2; p < end; p = strstr(p, "\r\n") + 2) {
      if (strncasecmp(p, "content-length:", 15) == 0) {
        cl = p + 15;
      }
    }
    if (cl) {
      clen = strtoul(cl, NULL, 10);
    }
    if (c->in.len < head_len + clen) {
      return 0;
    }
    r.head = xstrndup(line_end + 2, (size_t)(end - line_end));
    r.body = xmalloc(clen + 1);
    memcpy(r.body, c->in.data + head_len, clen);
    r.body[clen] = '\0';
    r.body_len = clen;
    r.conn_id = c->id;
    buf_consume(&c->in, head_len + clen);
    if (s->nreqs < TS_MAX_REQUESTS) {
      s->reqs[s->nreqs++] = r;
      s->handler(s, c, &s->reqs[s->nreqs - 1], s->ud);
    } else {
      free(r.head);
      free(r.body);
    }
    if (c->closing) {
      return 0;
    }
  }
}

static void ts_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
  ts_conn *c = st->data;
  if (n < 0) {
    ts_conn_close(c);
    return;
  }
  c->in.len += (size_t)n;
  c->in.data[c->in.len] = '\0';
  if (ts_parse(c) < 0) {
    ts_writef(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    ts_close_after(c);
    uv_read_stop(st);
  }
}

static void ts_accept(uv_stream_t *l, int status)
{
  ts_server *s = l->data;
  if (status < 0) {
    return;
  }
  ts_conn *c = calloc(1, sizeof(*c));
  c->srv = s;
  c->id = ++s->connections;
  c->open = 2;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->next = s->conns;
  s->conns = c;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
    ts_conn_close(c);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, ts_alloc, ts_read);
}

/* Listens on 127.0.0.1:0; returns 0 or a libuv error. */
static int ts_start(ts_server *s, uv_loop_t *loop, ts_handler handler, void *ud)
{
  memset(s, 0, sizeof(*s));
  s->loop = loop;
  s->handler = handler;
  s->ud = ud;
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  int rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0);
  if (rc == 0) {
    rc = uv_listen((uv_stream_t *)&s->listener, 64, ts_accept);
  }
  struct sockaddr_in got;
  int len = sizeof(got);
  if (rc == 0) {
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
  }
  s->port = rc == 0 ? ntohs(got.sin_port) : 0;
  return rc;
}

/* Closes the listener and every connection, frees the records; run the loop afterwards. */
static void ts_stop(ts_server *s)
{
  uv_close((uv_handle_t *)&s->listener, NULL);
  for (ts_conn *c = s->conns; c; c = c->next) {
    ts_conn_close(c);
  }
  for (int i = 0; i < s->nreqs; i++) {
    free(s->reqs[i].head);
    free(s->reqs[i].body);
  }
  s->nreqs = 0;
}

/* Value of header `name` in a recorded request (first match, trimmed) copied into out; returns
 * 0 when found. */
static int ts_header(const ts_request *r, const char *name, char *out, size_t outlen)
{
  size_t nl = strlen(name);
  for (const char *p = r->head; *p;) {
    const char *e = strstr(p, "\r\n");
    if (!e) {
      e = p + strlen(p);
    }
    if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ') {
        v++;
      }
      snprintf(out, outlen, "%.*s", (int)(e - v), v);
      return 0;
    }
    p = *e ? e + 2 : e;
  }
  return -1;
}

#endif
