/* rpc_uv: connects an rpc_channel to a pair of libuv streams.
 *
 * Writes never block the loop: uv_try_write takes what the kernel accepts now and the rest is
 * copied into a uv_write request that owns its bytes until its callback. The struct outlives
 * rpc_uv_free() while close or write callbacks are still due, so the caller may free it from
 * any callback (on_eof included) without a use-after-free in libuv's later callbacks. */
#include "rpc/rpc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define RPC_UV_READ_SIZE (64 * 1024)

struct rpc_uv {
  uv_loop_t *loop;
  uv_stream_t *in, *out;
  rpc_channel *ch;
  rpc_eof_fn on_eof;
  void *data;
  bool reading, eof_reported, closing, free_requested;
  unsigned open_closes; /* uv_close calls whose callback has not run */
  size_t writes;        /* uv_write requests whose callback has not run */
  char rbuf[RPC_UV_READ_SIZE];
};

typedef struct {
  uv_write_t req;
  rpc_uv *t;
  char bytes[];
} rpc_uv_write_req;

rpc_uv *rpc_uv_new(uv_loop_t *loop, uv_stream_t *in, uv_stream_t *out)
{
  rpc_uv *t = xcalloc(1, sizeof(*t));
  t->loop = loop;
  t->in = in;
  t->out = out;
  in->data = t;
  out->data = t;
  return t;
}

static void maybe_release(rpc_uv *t)
{
  if (t->free_requested && t->open_closes == 0 && t->writes == 0) {
    free(t);
  }
}

/* Reports the end of input once; the peer is gone or unusable, so reading stops too. */
static void report_eof(rpc_uv *t)
{
  if (t->eof_reported || t->closing) {
    return;
  }
  t->eof_reported = true;
  if (t->reading) {
    uv_read_stop(t->in);
    t->reading = false;
  }
  if (t->on_eof) {
    t->on_eof(t->data);
  }
}

static void on_write(uv_write_t *req, int status)
{
  rpc_uv_write_req *w = (rpc_uv_write_req *)req;
  rpc_uv *t = w->t;
  free(w);
  t->writes--;
  if (status < 0 && status != UV_ECANCELED) {
    /* EPIPE and friends: nobody reads us any more, which ends the session like EOF does. */
    report_eof(t);
  }
  maybe_release(t);
}

void rpc_uv_write(void *rpc_uv_ptr, const char *bytes, size_t len)
{
  rpc_uv *t = rpc_uv_ptr;
  if (t->closing || t->free_requested || len == 0) {
    return;
  }
  size_t done = 0;
  uv_buf_t b = uv_buf_init((char *)bytes, (unsigned)len);
  /* uv_try_write refuses (EAGAIN) while earlier writes are queued, so order is kept. Other
   * errors fall through to uv_write, which reports them asynchronously in on_write: reporting
   * here would run on_eof inside whatever channel callback is writing. */
  int n = uv_try_write(t->out, &b, 1);
  if (n > 0) {
    done = (size_t)n;
  }
  if (done == len) {
    return;
  }
  rpc_uv_write_req *w = xmalloc(sizeof(*w) + (len - done));
  w->t = t;
  memcpy(w->bytes, bytes + done, len - done);
  b = uv_buf_init(w->bytes, (unsigned)(len - done));
  if (uv_write(&w->req, t->out, &b, 1, on_write) < 0) {
    /* Only for a stream that is not writable at all (closed, not a stream): dropping is all
     * that can be done, and the read side reports the end. */
    free(w);
    return;
  }
  t->writes++;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
  rpc_uv *t = h->data;
  *b = uv_buf_init(t->rbuf, sizeof(t->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
  rpc_uv *t = s->data;
  if (nread > 0) {
    if (rpc_channel_feed(t->ch, b->base, (size_t)nread) < 0) {
      report_eof(t);
    }
  } else if (nread < 0) {
    report_eof(t);
  }
}

int rpc_uv_start(rpc_uv *t, rpc_channel *ch, rpc_eof_fn on_eof, void *data)
{
  t->ch = ch;
  t->on_eof = on_eof;
  t->data = data;
  int rc = uv_read_start(t->in, on_alloc, on_read);
  if (rc == 0) {
    t->reading = true;
  }
  return rc;
}

void *rpc_uv_data(const rpc_uv *t)
{
  return t->data;
}

static void on_close(uv_handle_t *h)
{
  rpc_uv *t = h->data;
  t->open_closes--;
  maybe_release(t);
}

void rpc_uv_close(rpc_uv *t)
{
  if (t->closing) {
    return;
  }
  t->closing = true;
  if (t->reading) {
    uv_read_stop(t->in);
    t->reading = false;
  }
  t->open_closes++;
  uv_close((uv_handle_t *)t->in, on_close);
  if (t->out != t->in) {
    t->open_closes++;
    uv_close((uv_handle_t *)t->out, on_close);
  }
}

void rpc_uv_free(rpc_uv *t)
{
  if (!t) {
    return;
  }
  rpc_uv_close(t);
  t->free_requested = true;
  maybe_release(t);
}
