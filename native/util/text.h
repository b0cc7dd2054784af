/* text: a read-only view of a source file with a line index.
 *
 * Lines are 1-based. A file of N newline characters that does not end in a newline has N+1
 * lines; one that ends in a newline has N (the empty remainder is not a line), matching how
 * editors count. The view borrows `data`; the caller keeps it alive and unchanged. */
#ifndef FRUGAL_UTIL_TEXT_H
#define FRUGAL_UTIL_TEXT_H

#include <stddef.h>

#include "util/buf.h"

typedef struct {
  const char *data;
  size_t len;
  size_t *line_off; /* line_off[i] = offset of line i+1; line_off[nlines] = len */
  int nlines;
} text_t;

/* Builds the line index. Returns 0, or -1 if the text has more lines than an int can count. */
int text_init(text_t *t, const char *data, size_t len);
void text_free(text_t *t);
/* Line containing byte offset `off` (1-based); `off` == len maps to the last line. */
int text_line_of(const text_t *t, size_t off);
/* Start offset of line `line` (1-based, clamped to [1, nlines+1]). */
size_t text_line_start(const text_t *t, int line);
/* Offset one past the end of line `line`, including its newline. */
size_t text_line_end(const text_t *t, int line);

/* Returns 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates), else 0. */
int utf8_valid(const char *s, size_t n);

/* Length of the valid UTF-8 sequence at s[0..n) (1 to 4), or 0 if the bytes there are not one
 * (n > 0). */
size_t utf8_seq_len(const char *s, size_t n);

/* The one UTF-8 sanitiser: appends s[0..n) to `out` with every byte that does not start a valid
 * sequence replaced by `repl` (U+FFFD "\xEF\xBF\xBD", or "?" where the reader wants ASCII),
 * stopping at a character boundary before the bytes appended would pass `max` (SIZE_MAX: no
 * cut). Returns the number of bytes of `s` consumed. */
size_t utf8_append_repaired(buf_t *out, const char *s, size_t n, const char *repl, size_t max);

#endif
