/* buf: a growable byte buffer, always NUL-terminated.
 *
 * Ownership: the buffer owns `data`; buf_free() releases it. buf_detach() hands it to the
 * caller (free() it). Allocation failure aborts the process: a host that cannot allocate a few
 * kilobytes cannot do anything useful, and unchecked NULLs are worse. */
#ifndef FRUGAL_UTIL_BUF_H
#define FRUGAL_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
  char *data;
  size_t len;
  size_t cap;
} buf_t;

#define BUF_INIT {NULL, 0, 0}

void buf_reserve(buf_t *b, size_t extra);
void buf_append(buf_t *b, const void *p, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_putc(buf_t *b, char c);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(buf_t *b, const char *fmt, va_list ap);
/* Removes the first n bytes (n <= len). */
void buf_consume(buf_t *b, size_t n);
void buf_clear(buf_t *b);
char *buf_detach(buf_t *b);
void buf_free(buf_t *b);

/* Allocation helpers that abort on failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
