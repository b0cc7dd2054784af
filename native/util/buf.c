#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void)
{
  fputs("frugal: out of memory\n", stderr);
  abort();
}

void *xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p) {
    oom();
  }
  return p;
}

void *xcalloc(size_t n, size_t size)
{
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) {
    oom();
  }
  return p;
}

void *xrealloc(void *p, size_t n)
{
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    oom();
  }
  return q;
}

char *xstrndup(const char *s, size_t n)
{
  char *p = xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *xstrdup(const char *s)
{
  return xstrndup(s, strlen(s));
}

void buf_reserve(buf_t *b, size_t extra)
{
  size_t need = b->len + extra + 1;
  if (need <= b->cap) {
    return;
  }
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) {
    cap *= 2;
  }
  b->data = xrealloc(b->data, cap);
  b->cap = cap;
}

void buf_append(buf_t *b, const void *p, size_t n)
{
  buf_reserve(b, n);
  if (n) {
    memcpy(b->data + b->len, p, n);
  }
  b->len += n;
  b->data[b->len] = '\0';
}

void buf_puts(buf_t *b, const char *s)
{
  buf_append(b, s, strlen(s));
}

void buf_putc(buf_t *b, char c)
{
  buf_append(b, &c, 1);
}

void buf_vprintf(buf_t *b, const char *fmt, va_list ap)
{
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    return;
  }
  buf_reserve(b, (size_t)n);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void buf_printf(buf_t *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void buf_consume(buf_t *b, size_t n)
{
  if (n >= b->len) {
    buf_clear(b);
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = '\0';
}

void buf_clear(buf_t *b)
{
  b->len = 0;
  if (b->data) {
    b->data[0] = '\0';
  }
}

char *buf_detach(buf_t *b)
{
  char *p = b->data;
  if (!p) {
    p = xstrdup("");
  }
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

void buf_free(buf_t *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
