#include "http/ndjson.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define NDJSON_KEEP_CAPACITY ((size_t)1 << 20)

struct ndjson_splitter {
  ndjson_line_cb cb;
  void *userdata;
  size_t max_line;
  buf_t line; /* a line whose newline has not arrived yet */
  bool finished;
  int err;
  char msg[80];
};

ndjson_splitter *ndjson_splitter_new(ndjson_line_cb cb, void *userdata, size_t max_line_bytes)
{
  ndjson_splitter *s = xcalloc(1, sizeof(*s));
  s->cb = cb;
  s->userdata = userdata;
  s->max_line = max_line_bytes ? max_line_bytes : NDJSON_DEFAULT_MAX_LINE;
  return s;
}

void ndjson_splitter_free(ndjson_splitter *s)
{
  if (s) {
    buf_free(&s->line);
    free(s);
  }
}

static int fail(ndjson_splitter *s, int err)
{
  s->err = err;
  if (err == NDJSON_ETOOBIG) {
    snprintf(s->msg, sizeof(s->msg), "ndjson: line longer than %zu bytes", s->max_line);
  } else {
    snprintf(s->msg, sizeof(s->msg), "ndjson: stopped by the line handler");
  }
  return err;
}

static int deliver(ndjson_splitter *s, const char *l, size_t n)
{
  if (n && l[n - 1] == '\r') {
    n--;
  }
  size_t i = 0;
  while (i < n && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r')) {
    i++;
  }
  if (i == n) {
    return NDJSON_OK;
  }
  return s->cb && s->cb(s->userdata, l, n) ? fail(s, NDJSON_ESTOPPED) : NDJSON_OK;
}

int ndjson_splitter_feed(ndjson_splitter *s, const void *bytes, size_t len)
{
  if (s->err) {
    return s->err;
  }
  if (s->finished) {
    return NDJSON_EFINISHED;
  }
  const char *p = bytes;
  const char *end = p + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((nl ? nl : end) - p);
    if (s->line.len + n > s->max_line) {
      return fail(s, NDJSON_ETOOBIG);
    }
    if (!nl) {
      buf_append(&s->line, p, n);
      break;
    }
    int rc;
    if (s->line.len) {
      buf_append(&s->line, p, n);
      rc = deliver(s, s->line.data, s->line.len);
      if (s->line.cap > NDJSON_KEEP_CAPACITY) {
        buf_free(&s->line);
      } else {
        buf_clear(&s->line);
      }
    } else {
      rc = deliver(s, p, n);
    }
    if (rc) {
      return rc;
    }
    p = nl + 1;
  }
  return NDJSON_OK;
}

int ndjson_splitter_finish(ndjson_splitter *s)
{
  if (s->err) {
    return s->err;
  }
  if (s->finished) {
    return NDJSON_EFINISHED;
  }
  s->finished = true;
  int rc = s->line.len ? deliver(s, s->line.data, s->line.len) : NDJSON_OK;
  buf_free(&s->line);
  return rc;
}

const char *ndjson_splitter_error(const ndjson_splitter *s)
{
  return s->err ? s->msg : NULL;
}
