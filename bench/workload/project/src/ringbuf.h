/* ringbuf: a fixed-capacity byte ring used to buffer sensor samples between the reader thread
 * and the report writer. Single producer, single consumer; no locking inside. */
#ifndef STOCKROOM_RINGBUF_H
#define STOCKROOM_RINGBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t *data;
  size_t cap;   /* always a power of two */
  size_t head;  /* next write position, grows without bound */
  size_t tail;  /* next read position, grows without bound */
  size_t high_water;
} ringbuf;

int ringbuf_init(ringbuf *rb, size_t min_cap);
void ringbuf_free(ringbuf *rb);
size_t ringbuf_len(const ringbuf *rb);
size_t ringbuf_space(const ringbuf *rb);
size_t ringbuf_write(ringbuf *rb, const void *src, size_t n);
size_t ringbuf_read(ringbuf *rb, void *dst, size_t n);
size_t ringbuf_peek(const ringbuf *rb, void *dst, size_t n);
size_t ringbuf_skip(ringbuf *rb, size_t n);
long ringbuf_find(const ringbuf *rb, uint8_t byte);
size_t ringbuf_read_line(ringbuf *rb, char *dst, size_t dstlen);
int ringbuf_grow(ringbuf *rb, size_t min_cap);

#endif
