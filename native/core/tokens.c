#include "core/tokens.h"

#include <string.h>

#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The walk below reproduces o200k's pre-tokenizer (the regex that cuts text into pieces before
 * byte-pair merging) exactly for ASCII and approximately for other scripts: letter runs with
 * case rules and one optional leading non-letter, digit groups of at most three, punctuation
 * runs with an optional leading space and trailing newlines, and whitespace runs. BPE never
 * merges across pieces, so the count of pieces is a hard floor; how many tokens a piece costs
 * depends mostly on its class and length, which the per-language weights capture. */

enum {
  F_WORD_1_3,
  F_WORD_4_5,
  F_WORD_6_7,
  F_WORD_8_9,
  F_WORD_10_12,
  F_WORD_13P,
  F_WORD_LETTERS_13P,
  F_WORD_PREFIX_PUNCT,
  F_WORD_CAPS,
  F_WORD_CAPS_LETTERS,
  F_WORD_MIXED,
  F_NONASCII_2,
  F_NONASCII_3,
  F_DIGITS,
  F_PUNCT_1,
  F_PUNCT_2,
  F_PUNCT_3P,
  F_PUNCT_EXTRA,
  F_PUNCT_NONASCII,
  F_PUNCT_TRAIL,
  F_NL,
  F_NL_EXTRA,
  F_WS,
  F_WS_LONG,
  F__COUNT
};

_Static_assert((int)F__COUNT == (int)TOKENS_NFEATURES, "tokens.h feature count is out of date");

static const char *const feature_names[F__COUNT] = {
  "word_1_3",    "word_4_5",       "word_6_7",          "word_8_9",       "word_10_12",
  "word_13p",    "word_letters_13p", "word_prefix_punct", "word_caps",    "word_caps_letters",
  "word_mixed",  "nonascii_2",     "nonascii_3",        "digits",         "punct_1",
  "punct_2",     "punct_3p",       "punct_extra",       "punct_nonascii", "punct_trail",
  "nl",          "nl_extra",       "ws",                "ws_long",
};

/* Character classes. Code points outside ASCII are guessed from their lead bytes: U+0080..U+00BF
 * (Latin-1 symbols), U+2000..U+2FFF (punctuation, arrows, maths, box drawing) and U+3000..U+303F
 * (CJK punctuation) count as punctuation, everything else as a letter. */
enum {
  C_LOWER,
  C_UPPER,
  C_DIGIT,
  C_NL,    /* \r \n */
  C_SPACE, /* space \t \v \f */
  C_PUNCT,
};

#define L C_LOWER
#define U C_UPPER
#define D C_DIGIT
#define N C_NL
#define S C_SPACE
#define P C_PUNCT
static const uint8_t ascii_class[128] = {
  P, P, P, P, P, P, P, P, P, S, N, S, S, N, P, P, /* 0x00 */
  P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x10 */
  S, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x20 */
  D, D, D, D, D, D, D, D, D, D, P, P, P, P, P, P, /* 0x30 */
  P, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, /* 0x40 */
  U, U, U, U, U, U, U, U, U, U, U, P, P, P, P, P, /* 0x50 */
  P, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0x60 */
  L, L, L, L, L, L, L, L, L, L, L, P, P, P, P, P, /* 0x70 */
};
#undef L
#undef U
#undef D
#undef N
#undef S
#undef P

/* Class of the code point at s[i] and its length in bytes (invalid bytes are one-byte
 * punctuation, so any byte sequence is walked safely). */
static inline int class_at(const unsigned char *s, size_t n, size_t i, size_t *len)
{
  unsigned char c = s[i];
  if (c < 0x80) {
    *len = 1;
    return ascii_class[c];
  }
  size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  if (need == 1 || i + need > n) {
    *len = 1;
    return C_PUNCT;
  }
  for (size_t k = 1; k < need; k++) {
    if ((s[i + k] & 0xC0) != 0x80) {
      *len = 1;
      return C_PUNCT;
    }
  }
  *len = need;
  if (c == 0xC2 || c == 0xE2 || (c == 0xE3 && s[i + 1] == 0x80)) {
    return C_PUNCT;
  }
  return C_LOWER;
}

static inline int is_letter(int cls)
{
  return cls == C_LOWER || cls == C_UPPER;
}

/* Length of an English contraction suffix ('s 't 're 've 'm 'll 'd, any case) at s[i], or 0. */
static size_t contraction_at(const unsigned char *s, size_t n, size_t i)
{
  if (i + 1 >= n || s[i] != '\'') {
    return 0;
  }
  unsigned char a = (unsigned char)(s[i + 1] | 0x20);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') {
    return 2;
  }
  if (i + 2 < n) {
    unsigned char b = (unsigned char)(s[i + 2] | 0x20);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
      return 3;
    }
  }
  return 0;
}

/* Feature of a letter piece by its number of letters (1..12). */
static const uint8_t word_bucket[13] = {
  F_WORD_1_3, F_WORD_1_3,   F_WORD_1_3,   F_WORD_1_3,   F_WORD_4_5,   F_WORD_4_5,   F_WORD_6_7,
  F_WORD_6_7, F_WORD_8_9,   F_WORD_8_9,   F_WORD_10_12, F_WORD_10_12, F_WORD_10_12,
};

/* A letter piece starting at s[i] (after its optional prefix); returns its end. */
static size_t walk_word(const unsigned char *s, size_t n, size_t i, int prefixed_by_punct,
                        unsigned long *f)
{
  size_t letters = 0, upper = 0, lower = 0, multi2 = 0, multi3 = 0, len;
  /* [upper]*[lower]+ or [upper]+: an upper-case run, then a lower-case run. Only ASCII is
   * upper case here (other scripts count as lower), so the first loop needs no decoding. */
  while (i < n && s[i] >= 'A' && s[i] <= 'Z') {
    i++;
    upper++;
  }
  while (i < n) {
#if defined(__SSE2__)
    /* The ASCII lower-case run sixteen bytes at a time: its length comes from a mask, not
     * from a loop whose exit mispredicts at the end of nearly every word. */
    if (i + 16 <= n) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
      /* c - 'a' <= 25 unsigned: min(d, 25) == d */
      __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('a'));
      __m128i in = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(25)), d);
      unsigned m = (unsigned)_mm_movemask_epi8(in);
      unsigned run = (unsigned)__builtin_ctz(~m); /* ~m has bit 16 set: at most 16 */
      i += run;
      lower += run;
      if (run == 16) {
        continue;
      }
    }
#endif
    if (i >= n) {
      break;
    }
    if (s[i] >= 'a' && s[i] <= 'z') {
      i++;
      lower++;
      continue;
    }
    if (s[i] < 0x80 || class_at(s, n, i, &len) != C_LOWER) {
      break;
    }
    if (len == 2) {
      multi2++;
    } else {
      multi3++;
    }
    i += len;
    lower++;
  }
  if (i < n && s[i] == '\'') {
    i += contraction_at(s, n, i);
  }
  letters = upper + lower;
  if (letters <= 12) {
    f[word_bucket[letters]]++;
  } else {
    f[F_WORD_13P]++;
    f[F_WORD_LETTERS_13P] += letters - 12;
  }
  if (prefixed_by_punct) {
    f[F_WORD_PREFIX_PUNCT]++;
  }
  if (lower == 0 && upper >= 3) {
    f[F_WORD_CAPS]++;
    f[F_WORD_CAPS_LETTERS] += upper - 3;
  } else if (upper >= 2 && lower > 0) {
    f[F_WORD_MIXED]++;
  }
  f[F_NONASCII_2] += multi2;
  f[F_NONASCII_3] += multi3;
  return i;
}

void tokens_features(const char *str, size_t n, unsigned long counts[TOKENS_NFEATURES])
{
  const unsigned char *s = (const unsigned char *)str;
  unsigned long *f = counts;
  size_t i = 0, len, len2;
  while (i < n) {
    int c = class_at(s, n, i, &len);
    if (is_letter(c)) {
      i = walk_word(s, n, i, 0, f);
      continue;
    }
    if (c == C_DIGIT) {
      size_t k = 0;
      while (i < n && k < 3 && s[i] >= '0' && s[i] <= '9') {
        i++;
        k++;
      }
      f[F_DIGITS]++;
      continue;
    }
    /* A single non-newline, non-letter, non-digit character may lead a letter piece. */
    if (c != C_NL && i + len < n && is_letter(class_at(s, n, i + len, &len2))) {
      i = walk_word(s, n, i + len, c == C_PUNCT, f);
      continue;
    }
    if (c == C_PUNCT || (s[i] == ' ' && i + 1 < n && class_at(s, n, i + 1, &len2) == C_PUNCT)) {
      if (s[i] == ' ') {
        i++;
      }
      size_t k = 0, multi = 0;
      while (i < n) {
        if (s[i] < 0x80) {
          if (ascii_class[s[i]] != C_PUNCT) {
            break;
          }
          i++;
        } else {
          if (class_at(s, n, i, &len) != C_PUNCT) {
            break;
          }
          multi += len > 1;
          i += len;
        }
        k++;
      }
      size_t trail = 0;
      while (i < n && (s[i] == '\n' || s[i] == '\r' || s[i] == '/')) {
        i++;
        trail++;
      }
      if (k == 1) {
        f[F_PUNCT_1]++;
      } else if (k == 2) {
        f[F_PUNCT_2]++;
      } else {
        f[F_PUNCT_3P]++;
        f[F_PUNCT_EXTRA] += k - 3;
      }
      f[F_PUNCT_NONASCII] += multi;
      if (trail) {
        f[F_PUNCT_TRAIL]++;
      }
      continue;
    }
    /* Whitespace: a run that holds a newline is cut after its last newline; otherwise the run
     * gives up its last character to the piece that follows (unless it ends the text). */
    size_t end = i, last_nl = 0, nls = 0;
    int has_nl = 0;
#if defined(__SSE2__)
    /* Indentation sixteen bytes at a time, as for words above. */
    while (end + 16 <= n) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + end));
      __m128i nlv = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')),
                                 _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
      __m128i sp = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
                                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'))),
                                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\v')),
                                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\f'))));
      unsigned ws = (unsigned)_mm_movemask_epi8(_mm_or_si128(sp, nlv));
      unsigned run = (unsigned)__builtin_ctz(~ws);
      unsigned nlm = (unsigned)_mm_movemask_epi8(nlv) & ((1u << run) - 1);
      if (nlm) {
        has_nl = 1;
        last_nl = end + 31 - (unsigned)__builtin_clz(nlm);
        for (; nlm; nlm &= nlm - 1) {
          nls++;
        }
      }
      end += run;
      if (run < 16) {
        break;
      }
    }
#endif
    while (end < n && s[end] < 0x80 && (ascii_class[s[end]] == C_SPACE ||
                                         ascii_class[s[end]] == C_NL)) {
      if (ascii_class[s[end]] == C_NL) {
        has_nl = 1;
        last_nl = end;
        nls++;
      }
      end++;
    }
    if (end == i) {
      /* Not reachable for valid classes, but never loop forever. */
      i++;
      continue;
    }
    if (has_nl) {
      f[F_NL]++;
      if (nls > 2) {
        f[F_NL_EXTRA] += nls - 2;
      }
      i = last_nl + 1;
      continue;
    }
    size_t run = end - i;
    if (end < n && run >= 2) {
      run--;
    }
    f[F_WS]++;
    if (run > 16) {
      f[F_WS_LONG] += run - 16;
    }
    i += run;
  }
}

const char *tokens_feature_name(int i)
{
  return i >= 0 && i < F__COUNT ? feature_names[i] : NULL;
}

/* Tokens per piece class, in thousandths, per language (LANG_UNKNOWN is English prose). Fitted
 * by bench/tokens/run.sh against the real o200k tokenizer on a calibration set of files. */
static const uint16_t weights[LANG__COUNT][F__COUNT] = {
  /* BEGIN WEIGHTS */
  /* text */
  {963, 992, 896, 1281, 1392, 1960, 174, 599, 347, 85, 526, 317,
   709, 992, 1056, 1088, 1329, 320, 405, 0, 1114, 95, 746, 0},
  /* c */
  {885, 1103, 968, 1164, 1785, 1835, 176, 271, 71, 88, 1099, 289,
   700, 1373, 861, 1171, 1454, 80, 505, 586, 643, 110, 761, 0},
  /* cpp */
  {881, 871, 974, 1105, 1882, 1887, 1, 355, 74, 7, 607, 300,
   700, 950, 1176, 1016, 1095, 17, 500, 45, 1342, 126, 904, 2},
  /* python */
  {824, 899, 1083, 792, 1763, 2019, 789, 248, 49, 109, 504, 301,
   700, 1206, 1125, 1034, 1352, 0, 500, 227, 1350, 78, 1044, 48},
  /* javascript */
  {974, 1067, 974, 1134, 1255, 2081, 349, 28, 105, 0, 672, 300,
   700, 1163, 1040, 1162, 1082, 0, 230, 0, 1064, 100, 792, 8},
  /* typescript */
  {993, 985, 1001, 1187, 1350, 2041, 331, 299, 0, 0, 688, 300,
   700, 1128, 930, 989, 1205, 26, 500, 0, 936, 100, 975, 0},
  /* go */
  {778, 1069, 1073, 1451, 1363, 2007, 343, 364, 277, 169, 732, 291,
   701, 1160, 1191, 1049, 1300, 361, 510, 0, 1553, 100, 821, 139},
  /* rust */
  {976, 1022, 1104, 1371, 1884, 2022, 203, 259, 164, 25, 549, 293,
   691, 1043, 1007, 1166, 959, 536, 518, 0, 798, 100, 859, 0},
  /* java */
  {947, 963, 954, 1045, 1361, 1870, 34, 338, 145, 0, 461, 300,
   700, 985, 993, 1142, 1209, 159, 500, 0, 908, 121, 1074, 18},
  /* lua */
  {1119, 864, 676, 902, 1619, 1857, 0, 408, 201, 0, 542, 289,
   397, 1114, 1123, 1343, 1288, 0, 683, 0, 1099, 0, 987, 55},
  /* END WEIGHTS */
};

int tokens_estimate(lang_id lang, const char *s, size_t n)
{
  if (n == 0 || !s) {
    return 0;
  }
  if ((unsigned)lang >= LANG__COUNT) {
    lang = LANG_UNKNOWN;
  }
  unsigned long f[F__COUNT] = {0};
  tokens_features(s, n, f);
  uint64_t sum = 0;
  for (int k = 0; k < F__COUNT; k++) {
    sum += (uint64_t)f[k] * weights[lang][k];
  }
  uint64_t t = (sum + 500) / 1000;
  if (t < 1) {
    t = 1;
  }
  return t > INT32_MAX ? INT32_MAX : (int)t;
}

/* Above this size a whole-file count samples the file instead of reading every byte. */
#define TOKENS_EXACT_MAX (1u << 20)
#define TOKENS_SAMPLES 64
#define TOKENS_SAMPLE_BYTES 2048

int tokens_estimate_file(lang_id lang, const char *s, size_t n)
{
  if (n <= TOKENS_EXACT_MAX) {
    return tokens_estimate(lang, s, n);
  }
  /* Windows spread evenly over the file, each cut at line boundaries so no piece is split
   * mid-word; the estimate scales their count by the share of bytes they cover. */
  uint64_t sampled_tokens = 0, sampled_bytes = 0;
  size_t stride = n / TOKENS_SAMPLES;
  for (size_t k = 0; k < TOKENS_SAMPLES; k++) {
    size_t a = k * stride;
    const char *nl = a == 0 ? NULL : memchr(s + a, '\n', n - a);
    if (a != 0) {
      if (!nl) {
        break;
      }
      a = (size_t)(nl - s) + 1;
    }
    size_t b = a + TOKENS_SAMPLE_BYTES < n ? a + TOKENS_SAMPLE_BYTES : n;
    const char *end = b < n ? memchr(s + b, '\n', n - b) : NULL;
    b = end ? (size_t)(end - s) + 1 : n;
    if (b <= a) {
      continue;
    }
    sampled_tokens += (uint64_t)tokens_estimate(lang, s + a, b - a);
    sampled_bytes += b - a;
  }
  if (sampled_bytes == 0) {
    return tokens_estimate(lang, s, n);
  }
  uint64_t t = (sampled_tokens * n + sampled_bytes / 2) / sampled_bytes;
  return t > INT32_MAX ? INT32_MAX : (int)t;
}
