#include "util/text.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "util/buf.h"

int text_init(text_t *t, const char *data, size_t len)
{
  /* One pass: guess the line count from the length (source lines average 25-40 bytes) and grow
   * if the guess was short. */
  size_t cap = len / 32 + 16, n = 0;
  size_t *off = xmalloc(cap * sizeof(size_t));
  if (len > 0) {
    off[n++] = 0;
  }
  const char *p = data, *end = data + len;
#if defined(__SSE2__)
  /* 64 bytes per step, the newlines' positions written without a branch per newline: a
   * memchr call per line mispredicts about once a line (lines average ~33 bytes), which cost
   * more than reading the bytes (SQLite's 193k lines: 2.0 ms before, 1.0 ms now, warm). Four
   * slots are written per block whatever its count (code has about two newlines in 64 bytes);
   * only the first `count` are kept, and a block with more newlines loops. */
  const __m128i nl = _mm_set1_epi8('\n'), one = _mm_set1_epi8(1), zero = _mm_setzero_si128();
  for (; p + 64 <= end; p += 64) {
    uint64_t m = 0;
    __m128i ones = zero;
    for (int k = 0; k < 4; k++) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
      __m128i eq = _mm_cmpeq_epi8(v, nl);
      m |= (uint64_t)(unsigned)_mm_movemask_epi8(eq) << (16 * k);
      ones = _mm_add_epi8(ones, _mm_and_si128(eq, one));
    }
    if (n + 65 >= cap) {
      while (n + 65 >= cap) {
        cap *= 2;
      }
      off = xrealloc(off, cap * sizeof(size_t));
    }
    /* The newline count without a popcount instruction (not in baseline x86-64). */
    __m128i sums = _mm_sad_epu8(ones, zero);
    size_t count = (size_t)_mm_cvtsi128_si32(sums) + (size_t)_mm_extract_epi16(sums, 4);
    size_t base = (size_t)(p - data) + 1;
    size_t *o = off + n;
    for (int k = 0; k < 4; k++) {
      /* The top bit keeps ctz defined once m runs out; those slots are past `count`. */
      o[k] = base + (unsigned)__builtin_ctzll(m | (1ull << 63));
      m &= m - 1;
    }
    for (size_t k = 4; k < count; k++) {
      o[k] = base + (unsigned)__builtin_ctzll(m);
      m &= m - 1;
    }
    n += count;
  }
  /* A newline that ends the text starts no line. */
  if (n > 1 && off[n - 1] == len) {
    n--;
  }
#endif
  for (; p < end; p++) {
    p = memchr(p, '\n', (size_t)(end - p));
    if (!p || p + 1 == end) {
      break;
    }
    if (n + 1 >= cap) {
      cap *= 2;
      off = xrealloc(off, cap * sizeof(size_t));
    }
    off[n++] = (size_t)(p + 1 - data);
  }
  if (n >= INT_MAX) {
    free(off);
    return -1;
  }
  off[n] = len;
  t->data = data;
  t->len = len;
  t->nlines = (int)n;
  t->line_off = off;
  return 0;
}

void text_free(text_t *t)
{
  free(t->line_off);
  t->line_off = NULL;
  t->nlines = 0;
}

int text_line_of(const text_t *t, size_t off)
{
  if (t->nlines == 0) {
    return 1;
  }
  int lo = 0, hi = t->nlines - 1;
  while (lo < hi) {
    int mid = lo + (hi - lo + 1) / 2;
    if (t->line_off[mid] <= off) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo + 1;
}

size_t text_line_start(const text_t *t, int line)
{
  if (line < 1) {
    line = 1;
  }
  if (line > t->nlines + 1) {
    line = t->nlines + 1;
  }
  return t->line_off[line - 1];
}

size_t text_line_end(const text_t *t, int line)
{
  if (line < 0) {
    line = 0;
  }
  if (line >= t->nlines) {
    return t->len;
  }
  return t->line_off[line];
}

int utf8_valid(const char *str, size_t n)
{
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    unsigned int cp;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (i + need >= n) {
      return 0;
    }
    for (size_t k = 1; k <= need; k++) {
      if ((s[i + k] & 0xC0) != 0x80) {
        return 0;
      }
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (need == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return 0;
    }
    i += need + 1;
  }
  return 1;
}

size_t utf8_seq_len(const char *str, size_t n)
{
  const unsigned char *s = (const unsigned char *)str;
  size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
                                : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || len > n || !utf8_valid(str, len)) {
    return 0;
  }
  return len;
}

size_t utf8_append_repaired(buf_t *out, const char *s, size_t n, const char *repl, size_t max)
{
  size_t rlen = strlen(repl), added = 0, i = 0;
  while (i < n) {
    size_t k = utf8_seq_len(s + i, n - i);
    if (added + (k ? k : rlen) > max) {
      break;
    }
    if (k == 0) {
      buf_append(out, repl, rlen);
      added += rlen;
      i++;
    } else {
      buf_append(out, s + i, k);
      added += k;
      i += k;
    }
  }
  return i;
}
