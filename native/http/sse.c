#include "http/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* Buffers that grew past this are released after use rather than kept: one 16 MiB event should
 * not pin 16 MiB for the rest of a long stream, while ordinary events reuse their memory. */
#define SSE_KEEP_CAPACITY ((size_t)1 << 20)

struct sse_decoder {
  sse_event_cb cb;
  void *userdata;
  size_t max_event;
  buf_t line;    /* a line whose end has not arrived yet (only across feeds) */
  buf_t data;    /* data lines of the pending event, joined with "\n" */
  buf_t event;   /* event name of the pending event */
  buf_t id;      /* last event ID; persists across events */
  buf_t scratch; /* finish(): copy of the pending event name */
  bool has_id;
  bool event_set;
  bool data_seen;
  bool pending; /* a field that makes a blank line dispatch was seen since the last dispatch */
  bool last_cr; /* the previous chunk ended with CR: a leading LF of the next one is its pair */
  bool finished;
  unsigned bom; /* bytes of a leading UTF-8 BOM matched so far; 3 once decided */
  int err;
  int64_t retry;
  char msg[96];
};

static const char BOM[3] = {'\xEF', '\xBB', '\xBF'};

sse_decoder *sse_decoder_new(sse_event_cb cb, void *userdata, size_t max_event_bytes)
{
  sse_decoder *d = xcalloc(1, sizeof(*d));
  d->cb = cb;
  d->userdata = userdata;
  d->max_event = max_event_bytes ? max_event_bytes : SSE_DEFAULT_MAX_EVENT;
  d->retry = -1;
  return d;
}

void sse_decoder_free(sse_decoder *d)
{
  if (!d) {
    return;
  }
  buf_free(&d->line);
  buf_free(&d->data);
  buf_free(&d->event);
  buf_free(&d->id);
  buf_free(&d->scratch);
  free(d);
}

static int fail(sse_decoder *d, int err)
{
  d->err = err;
  if (err == SSE_ETOOBIG) {
    snprintf(d->msg, sizeof(d->msg), "sse: event larger than %zu bytes", d->max_event);
  } else {
    snprintf(d->msg, sizeof(d->msg), "sse: stopped by the event handler");
  }
  return err;
}

static void release_if_big(buf_t *b)
{
  if (b->cap > SSE_KEEP_CAPACITY) {
    buf_free(b);
  } else {
    buf_clear(b);
  }
}

static void fill_event(const sse_decoder *d, sse_event *ev)
{
  ev->event_set = d->event_set;
  ev->event = d->event_set ? d->event.data : "message";
  ev->event_len = d->event_set ? d->event.len : 7;
  ev->data = d->data.data ? d->data.data : "";
  ev->data_len = d->data.len;
  ev->empty_data = !d->data_seen;
  ev->id = d->has_id ? (d->id.data ? d->id.data : "") : NULL;
  ev->id_len = d->has_id ? d->id.len : 0;
}

static int dispatch(sse_decoder *d)
{
  if (!d->pending) {
    return SSE_OK;
  }
  sse_event ev;
  fill_event(d, &ev);
  int rc = d->cb ? d->cb(d->userdata, &ev) : 0;
  release_if_big(&d->data);
  buf_clear(&d->event);
  d->event_set = false;
  d->data_seen = false;
  d->pending = false;
  return rc ? fail(d, SSE_ESTOPPED) : SSE_OK;
}

static void set_retry(sse_decoder *d, const char *v, size_t n)
{
  if (n == 0) {
    return;
  }
  int64_t r = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') {
      return;
    }
  }
  for (size_t i = 0; i < n; i++) {
    int digit = v[i] - '0';
    r = r > (INT64_MAX - digit) / 10 ? INT64_MAX : r * 10 + digit;
  }
  d->retry = r;
  d->pending = true;
}

/* One complete line without its terminator. Only a blank line can call the callback. */
static int process_line(sse_decoder *d, const char *l, size_t n)
{
  if (n == 0) {
    return dispatch(d);
  }
  if (l[0] == ':') {
    return SSE_OK;
  }
  const char *colon = memchr(l, ':', n);
  size_t name_len = colon ? (size_t)(colon - l) : n;
  const char *v = colon ? colon + 1 : l + n;
  size_t vlen = (size_t)(l + n - v);
  if (vlen && *v == ' ') {
    v++;
    vlen--;
  }
  if (name_len == 4 && memcmp(l, "data", 4) == 0) {
    if (d->data.len + vlen + 1 > d->max_event) {
      return fail(d, SSE_ETOOBIG);
    }
    if (d->data_seen) {
      buf_putc(&d->data, '\n');
    }
    buf_append(&d->data, v, vlen);
    d->data_seen = true;
    d->pending = true;
  } else if (name_len == 5 && memcmp(l, "event", 5) == 0) {
    buf_clear(&d->event);
    buf_append(&d->event, v, vlen);
    d->event_set = vlen > 0;
    d->pending = true;
  } else if (name_len == 2 && memcmp(l, "id", 2) == 0) {
    if (!memchr(v, '\0', vlen)) {
      buf_clear(&d->id);
      buf_append(&d->id, v, vlen);
      d->has_id = true;
      d->pending = true;
    }
  } else if (name_len == 5 && memcmp(l, "retry", 5) == 0) {
    set_retry(d, v, vlen);
  }
  return SSE_OK;
}

/* Splits s[0..n) into lines. The positions of the next CR and LF are remembered between
 * lines, so each byte is searched once even when one of the two never occurs. */
static int feed_lines(sse_decoder *d, const char *s, size_t n)
{
  size_t pos = 0;
  if (d->last_cr && n > 0) {
    d->last_cr = false;
    if (s[0] == '\n') {
      pos = 1;
    }
  }
  size_t lf = 0, cr = 0;
  bool lf_known = false, cr_known = false;
  while (pos < n) {
    if (!lf_known || lf < pos) {
      const char *q = memchr(s + pos, '\n', n - pos);
      lf = q ? (size_t)(q - s) : n;
      lf_known = true;
    }
    if (!cr_known || cr < pos) {
      const char *q = memchr(s + pos, '\r', n - pos);
      cr = q ? (size_t)(q - s) : n;
      cr_known = true;
    }
    size_t e = lf < cr ? lf : cr;
    if (e == n) {
      if (d->line.len + (n - pos) > d->max_event) {
        return fail(d, SSE_ETOOBIG);
      }
      buf_append(&d->line, s + pos, n - pos);
      return SSE_OK;
    }
    int rc;
    if (d->line.len) {
      if (d->line.len + (e - pos) > d->max_event) {
        return fail(d, SSE_ETOOBIG);
      }
      buf_append(&d->line, s + pos, e - pos);
      rc = process_line(d, d->line.data, d->line.len);
      release_if_big(&d->line);
    } else {
      if (e - pos > d->max_event) {
        return fail(d, SSE_ETOOBIG);
      }
      rc = process_line(d, s + pos, e - pos);
    }
    if (rc) {
      return rc;
    }
    if (s[e] == '\r') {
      if (e + 1 < n) {
        if (s[e + 1] == '\n') {
          e++;
        }
      } else {
        d->last_cr = true;
      }
    }
    pos = e + 1;
  }
  return SSE_OK;
}

int sse_decoder_feed(sse_decoder *d, const void *bytes, size_t len)
{
  if (d->err) {
    return d->err;
  }
  if (d->finished) {
    return SSE_EFINISHED;
  }
  const char *s = bytes;
  /* A BOM may itself arrive split; bytes that turn out not to be one are replayed. */
  while (d->bom < 3 && len > 0) {
    if (*s == BOM[d->bom]) {
      d->bom++;
      s++;
      len--;
    } else {
      unsigned matched = d->bom;
      d->bom = 3;
      if (matched) {
        int rc = feed_lines(d, BOM, matched);
        if (rc) {
          return rc;
        }
      }
    }
  }
  return len ? feed_lines(d, s, len) : SSE_OK;
}

int sse_decoder_finish(sse_decoder *d, sse_discarded *out)
{
  if (d->err) {
    return d->err;
  }
  if (d->finished) {
    return SSE_EFINISHED;
  }
  if (d->bom > 0 && d->bom < 3) {
    unsigned matched = d->bom;
    d->bom = 3;
    int rc = feed_lines(d, BOM, matched);
    if (rc) {
      return rc;
    }
  }
  d->finished = true;
  bool has_line = d->line.len > 0;
  if (!d->pending && !has_line) {
    return 0;
  }
  buf_clear(&d->scratch);
  bool had_event = d->event_set;
  if (had_event) {
    buf_append(&d->scratch, d->event.data, d->event.len);
  }
  size_t partial_len = d->data.len;
  if (has_line) {
    /* A non-blank line never dispatches, so this only updates the pending state. */
    int rc = process_line(d, d->line.data, d->line.len);
    if (rc) {
      return rc;
    }
  }
  if (out) {
    memset(out, 0, sizeof(*out));
    out->partial_event = had_event ? d->scratch.data : NULL;
    out->partial_data = d->data.data ? d->data.data : "";
    out->partial_data_len = partial_len;
    out->unterminated_line = has_line ? d->line.data : NULL;
    out->unterminated_len = d->line.len;
    out->would_dispatch = d->pending;
    if (d->pending) {
      fill_event(d, &out->would_be);
    }
  }
  return 1;
}

int64_t sse_decoder_retry(const sse_decoder *d)
{
  return d->retry;
}

const char *sse_decoder_error(const sse_decoder *d)
{
  return d->err ? d->msg : NULL;
}
