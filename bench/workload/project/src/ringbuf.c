#include "ringbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RINGBUF_MIN_CAP 64u
#define RINGBUF_MAX_CAP ((size_t)1 << 30)

/* Smallest power of two >= n, or 0 when it would exceed RINGBUF_MAX_CAP. */
static size_t round_up_pow2(size_t n)
{
  size_t p = RINGBUF_MIN_CAP;
  while (p < n) {
    if (p >= RINGBUF_MAX_CAP) {
      return 0;
    }
    p <<= 1;
  }
  return p;
}

int ringbuf_init(ringbuf *rb, size_t min_cap)
{
  size_t cap = round_up_pow2(min_cap);
  if (cap == 0) {
    return -EINVAL;
  }
  rb->data = malloc(cap);
  if (!rb->data) {
    return -ENOMEM;
  }
  rb->cap = cap;
  rb->head = 0;
  rb->tail = 0;
  rb->high_water = 0;
  return 0;
}

void ringbuf_free(ringbuf *rb)
{
  free(rb->data);
  rb->data = NULL;
  rb->cap = 0;
  rb->head = rb->tail = 0;
}

size_t ringbuf_len(const ringbuf *rb)
{
  return rb->head - rb->tail;
}

size_t ringbuf_space(const ringbuf *rb)
{
  return rb->cap - ringbuf_len(rb);
}

/* Copies up to n bytes in, never overwriting unread data. Returns the number copied. */
size_t ringbuf_write(ringbuf *rb, const void *src, size_t n)
{
  const uint8_t *p = src;
  size_t space = ringbuf_space(rb);
  if (n > space) {
    n = space;
  }
  size_t off = rb->head & (rb->cap - 1);
  size_t first = rb->cap - off;
  if (first > n) {
    first = n;
  }
  memcpy(rb->data + off, p, first);
  memcpy(rb->data, p + first, n - first);
  rb->head += n;
  size_t len = ringbuf_len(rb);
  if (len > rb->high_water) {
    rb->high_water = len;
  }
  return n;
}

size_t ringbuf_peek(const ringbuf *rb, void *dst, size_t n)
{
  uint8_t *p = dst;
  size_t len = ringbuf_len(rb);
  if (n > len) {
    n = len;
  }
  size_t off = rb->tail & (rb->cap - 1);
  size_t first = rb->cap - off;
  if (first > n) {
    first = n;
  }
  memcpy(p, rb->data + off, first);
  memcpy(p + first, rb->data, n - first);
  return n;
}

size_t ringbuf_read(ringbuf *rb, void *dst, size_t n)
{
  n = ringbuf_peek(rb, dst, n);
  rb->tail += n;
  return n;
}

size_t ringbuf_skip(ringbuf *rb, size_t n)
{
  size_t len = ringbuf_len(rb);
  if (n > len) {
    n = len;
  }
  rb->tail += n;
  return n;
}

/* Offset of the first `byte` among the unread data, or -1. */
long ringbuf_find(const ringbuf *rb, uint8_t byte)
{
  size_t len = ringbuf_len(rb);
  for (size_t i = 0; i <= len; i++) {
    if (rb->data[(rb->tail + i) & (rb->cap - 1)] == byte) {
      return (long)i;
    }
  }
  return -1;
}

/* Reads one '\n'-terminated line into dst (without the newline, NUL-terminated). Returns the
 * line's length, or 0 when no complete line is buffered. A line longer than dstlen - 1 is
 * truncated, and the rest of it is dropped. */
size_t ringbuf_read_line(ringbuf *rb, char *dst, size_t dstlen)
{
  /* TODO: find the newline with ringbuf_find, copy at most dstlen - 1 bytes, skip the rest of
   * the line and the newline itself, and always NUL-terminate dst. */
  (void)rb;
  (void)dst;
  (void)dstlen;
  return 0;
}

/* Doubles the capacity until it is at least min_cap, keeping the unread bytes in order. */
int ringbuf_grow(ringbuf *rb, size_t min_cap)
{
  if (min_cap <= rb->cap) {
    return 0;
  }
  size_t cap = round_up_pow2(min_cap);
  if (cap == 0) {
    return -EINVAL;
  }
  uint8_t *data = malloc(cap);
  if (!data) {
    return -ENOMEM;
  }
  size_t len = ringbuf_len(rb);
  ringbuf_peek(rb, data, len);
  free(rb->data);
  rb->data = data;
  rb->cap = cap;
  rb->tail = 0;
  rb->head = len;
  return 0;
}

/* Debug helper: renders the buffer state for logs. */
int ringbuf_describe(const ringbuf *rb, char *out, size_t outlen)
{
  size_t len = ringbuf_len(rb);
  unsigned pct = rb->cap ? (unsigned)(len * 100 / rb->cap) : 0;
  int n = snprintf(out, outlen, "ringbuf cap=%zu len=%zu (%u%%) high=%zu head=%zu tail=%zu",
                   rb->cap, len, pct, rb->high_water, rb->head, rb->tail);
  if (n < 0 || (size_t)n >= outlen) {
    return -1;
  }
  return n;
}

/* Moves everything from src into dst, growing dst when needed. Returns bytes moved or -errno. */
long ringbuf_drain_into(ringbuf *dst, ringbuf *src)
{
  size_t len = ringbuf_len(src);
  if (len > ringbuf_space(dst)) {
    int rc = ringbuf_grow(dst, ringbuf_len(dst) + len);
    if (rc != 0) {
      return rc;
    }
  }
  uint8_t chunk[512];
  size_t moved = 0;
  while (moved < len) {
    size_t n = ringbuf_read(src, chunk, sizeof(chunk));
    ringbuf_write(dst, chunk, n);
    moved += n;
  }
  return (long)moved;
}

/* Sums the unread bytes as unsigned 8-bit samples (used by the checksum in report.c). */
uint32_t ringbuf_checksum(const ringbuf *rb)
{
  uint32_t a = 1, b = 0;
  size_t len = ringbuf_len(rb);
  for (size_t i = 0; i < len; i++) {
    a = (a + rb->data[(rb->tail + i) & (rb->cap - 1)]) % 65521u;
    b = (b + a) % 65521u;
  }
  return (b << 16) | a;
}
