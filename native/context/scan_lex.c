#include "context/scan_lex.h"

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "context/scan.h"
#include "context/scan_int.h"

/* Character classes, so the hot loop does one table load per byte. */
enum { CC_OTHER = 0, CC_SPACE, CC_NL, CC_IDENT, CC_DIGIT };

static const unsigned char scan_cc[256] = {
  [' '] = CC_SPACE, ['\t'] = CC_SPACE, ['\r'] = CC_SPACE, ['\f'] = CC_SPACE, ['\v'] = CC_SPACE,
  ['\n'] = CC_NL,
  ['0'] = CC_DIGIT, ['1'] = CC_DIGIT, ['2'] = CC_DIGIT, ['3'] = CC_DIGIT, ['4'] = CC_DIGIT,
  ['5'] = CC_DIGIT, ['6'] = CC_DIGIT, ['7'] = CC_DIGIT, ['8'] = CC_DIGIT, ['9'] = CC_DIGIT,
  ['_'] = CC_IDENT, ['$'] = CC_IDENT,
  ['a'] = CC_IDENT, ['b'] = CC_IDENT, ['c'] = CC_IDENT, ['d'] = CC_IDENT, ['e'] = CC_IDENT,
  ['f'] = CC_IDENT, ['g'] = CC_IDENT, ['h'] = CC_IDENT, ['i'] = CC_IDENT, ['j'] = CC_IDENT,
  ['k'] = CC_IDENT, ['l'] = CC_IDENT, ['m'] = CC_IDENT, ['n'] = CC_IDENT, ['o'] = CC_IDENT,
  ['p'] = CC_IDENT, ['q'] = CC_IDENT, ['r'] = CC_IDENT, ['s'] = CC_IDENT, ['t'] = CC_IDENT,
  ['u'] = CC_IDENT, ['v'] = CC_IDENT, ['w'] = CC_IDENT, ['x'] = CC_IDENT, ['y'] = CC_IDENT,
  ['z'] = CC_IDENT,
  ['A'] = CC_IDENT, ['B'] = CC_IDENT, ['C'] = CC_IDENT, ['D'] = CC_IDENT, ['E'] = CC_IDENT,
  ['F'] = CC_IDENT, ['G'] = CC_IDENT, ['H'] = CC_IDENT, ['I'] = CC_IDENT, ['J'] = CC_IDENT,
  ['K'] = CC_IDENT, ['L'] = CC_IDENT, ['M'] = CC_IDENT, ['N'] = CC_IDENT, ['O'] = CC_IDENT,
  ['P'] = CC_IDENT, ['Q'] = CC_IDENT, ['R'] = CC_IDENT, ['S'] = CC_IDENT, ['T'] = CC_IDENT,
  ['U'] = CC_IDENT, ['V'] = CC_IDENT, ['W'] = CC_IDENT, ['X'] = CC_IDENT, ['Y'] = CC_IDENT,
  ['Z'] = CC_IDENT,
  /* UTF-8 bytes: identifiers in every language here may contain them. */
  [0x80 ... 0xFF] = CC_IDENT,
};

void scan_lex_init(scan_lex *lx, lang_id lang, const char *s, size_t from, size_t to,
                   scan_ctx *sc)
{
  memset(lx, 0, sizeof(*lx));
  lx->lang = lang;
  lx->s = s;
  lx->len = to;
  lx->p = from;
  lx->sc = sc;
  lx->bol = 1;
  lx->cfam = lang == LANG_C || lang == LANG_CPP;
  lx->js = lang == LANG_JAVASCRIPT || lang == LANG_TYPESCRIPT;
  lx->go = lang == LANG_GO;
  lx->rust = lang == LANG_RUST;
  lx->java = lang == LANG_JAVA;
}

/* End of a (non-nesting) block comment whose text starts at p: the offset after its `*` `/`, or
 * len if it is not closed. memchr looks for the slash, not the star: many projects start every
 * comment line with `**` or ` *` (SQLite: two stars a line), slashes are rare in prose. */
static size_t lex_block_comment_end(const char *s, size_t p, size_t len)
{
  size_t q = p + 1; /* the earliest slash that can close: a star at p before it */
  while (q < len) {
    const char *slash = memchr(s + q, '/', len - q);
    if (!slash) {
      return len;
    }
    q = (size_t)(slash - s);
    if (s[q - 1] == '*') {
      return q + 1;
    }
    q++;
  }
  return len;
}

/* A comment from the '/' at p (followed by '/' or '*'); records it and returns its end. A line
 * comment's end is its newline (left for the caller). */
static size_t lex_comment(scan_lex *lx, size_t p)
{
  const char *s = lx->s;
  size_t len = lx->len;
  size_t e;
  if (s[p + 1] == '/') {
    e = p;
    for (;;) {
      const char *nl = memchr(s + e, '\n', len - e);
      e = nl ? (size_t)(nl - s) : len;
      /* A C line comment ending in a backslash swallows the next line too. */
      if (lx->cfam && e < len && e > p && s[e - 1] == '\\') {
        e++;
        continue;
      }
      break;
    }
  } else if (!lx->rust) {
    e = lex_block_comment_end(s, p + 2, len);
  } else {
    e = p + 2;
    int depth = 1;
    while (e < len) {
      if (s[e] == '*' && e + 1 < len && s[e + 1] == '/') {
        e += 2;
        if (--depth == 0) {
          break;
        }
      } else if (s[e] == '/' && e + 1 < len && s[e + 1] == '*') {
        depth++; /* Rust block comments nest */
        e += 2;
      } else {
        e++;
      }
    }
    if (e > len) {
      e = len;
    }
  }
  if (lx->sc) {
    scan_add_comment(lx->sc, p, e);
  }
  return e;
}

/* Skips a quoted literal starting at the opening quote p; stops after the closing quote, at an
 * unescaped newline when the language's strings cannot span lines, or at the end. */
static size_t lex_quoted(const char *s, size_t p, size_t len, char q, int multiline)
{
  p++;
  while (p < len) {
    char c = s[p];
    if (c == q) {
      return p + 1;
    }
    if (c == '\\') {
      p += 2;
      continue;
    }
    if (c == '\n' && !multiline) {
      return p;
    }
    p++;
  }
  return len;
}

/* C++ raw string: p at the opening quote of R"delim( ... )delim". */
static size_t lex_cpp_raw(const char *s, size_t p, size_t len)
{
  size_t d = p + 1;
  size_t q = d;
  while (q < len && q - d < 16 && s[q] != '(' && s[q] != '\n' && s[q] != '"') {
    q++;
  }
  if (q >= len || s[q] != '(') {
    return lex_quoted(s, p, len, '"', 0);
  }
  size_t dl = q - d;
  for (size_t i = q + 1; i < len; i++) {
    if (s[i] == ')' && i + 1 + dl < len && s[i + 1 + dl] == '"' &&
        memcmp(s + i + 1, s + d, dl) == 0) {
      return i + dl + 2;
    }
  }
  return len;
}

/* Rust raw string: p at the first '#' or '"' after the r prefix. */
static size_t lex_rust_raw(const char *s, size_t p, size_t len)
{
  size_t hashes = 0;
  while (p < len && s[p] == '#') {
    hashes++;
    p++;
  }
  if (p >= len || s[p] != '"') {
    return p;
  }
  for (size_t i = p + 1; i < len; i++) {
    if (s[i] == '"') {
      size_t k = 0;
      while (k < hashes && i + 1 + k < len && s[i + 1 + k] == '#') {
        k++;
      }
      if (k == hashes) {
        return i + 1 + k;
      }
    }
  }
  return len;
}

/* Java text block: p at the first of three quotes. */
static size_t lex_text_block(const char *s, size_t p, size_t len)
{
  for (size_t i = p + 3; i < len; i++) {
    if (s[i] == '\\') {
      i++;
    } else if (s[i] == '"' && i + 2 < len && s[i + 1] == '"' && s[i + 2] == '"') {
      return i + 3;
    }
  }
  return len;
}

/* Rest of a JS template literal from p (just after '`' or after the '}' closing a `${`).
 * Returns the offset after the closing backtick, or after a `${` (then *opened is set). */
static size_t lex_template(const char *s, size_t p, size_t len, int *opened)
{
  *opened = 0;
  while (p < len) {
    char c = s[p];
    if (c == '\\') {
      p += 2;
    } else if (c == '`') {
      return p + 1;
    } else if (c == '$' && p + 1 < len && s[p + 1] == '{') {
      *opened = 1;
      return p + 2;
    } else {
      p++;
    }
  }
  return len;
}

/* A regex literal body from the opening '/'; returns 0 if it is not one (no closing slash on
 * the line), else the offset after its flags. */
static size_t lex_regex(const char *s, size_t p, size_t len)
{
  int cls = 0;
  for (size_t i = p + 1; i < len; i++) {
    char c = s[i];
    if (c == '\n') {
      return 0;
    }
    if (c == '\\') {
      i++;
    } else if (c == '[') {
      cls = 1;
    } else if (c == ']') {
      cls = 0;
    } else if (c == '/' && !cls) {
      i++;
      while (i < len && scan_cc[(unsigned char)s[i]] == CC_IDENT) {
        i++;
      }
      return i;
    }
  }
  return 0;
}

static const char *const js_regex_after[] = {
  "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case",
  "do", "else", "yield", "await", NULL,
};

/* Whether a '/' here starts a regex: only where an operand is expected. */
static int lex_regex_allowed(const scan_lex *lx)
{
  switch (lx->prev_type) {
  case 0:
    return 1;
  case TK_NUM:
  case TK_STR:
    return 0;
  case TK_IDENT:
    return scan_word_in(lx->s + lx->prev_off, lx->prev_end - lx->prev_off, js_regex_after);
  default:
    return lx->prev_ch != ')' && lx->prev_ch != ']' && lx->prev_ch != '}' &&
           lx->prev_ch != P_INCDEC;
  }
}

static const char *const pp_elif[] = {"elif", "elifdef", "elifndef", NULL};

/* `#if 0`? p is just after the `if`. */
static int pp_is_zero(const char *s, size_t p, size_t len)
{
  while (p < len && scan_is_space((unsigned char)s[p])) {
    p++;
  }
  return p < len && s[p] == '0' && (p + 1 >= len || scan_cc[(unsigned char)s[p + 1]] == CC_SPACE ||
                                    s[p + 1] == '\n' || s[p + 1] == '/');
}

/* Skips lines from p up to the `#endif` closing the current conditional (left for the caller
 * to read). With stop_at_else, also stops after a same-level `#else`/`#elif` line (the branch
 * after `#if 0` is live). Returns the offset to continue lexing from. */
static size_t pp_skip(const char *s, size_t p, size_t len, int stop_at_else)
{
  int depth = 0;
  while (p < len) {
    size_t q = p;
    while (q < len && scan_is_space((unsigned char)s[q])) {
      q++;
    }
    if (q < len && s[q] == '#') {
      q++;
      while (q < len && scan_is_space((unsigned char)s[q])) {
        q++;
      }
      size_t w = q;
      while (q < len && scan_cc[(unsigned char)s[q]] == CC_IDENT) {
        q++;
      }
      if (q - w >= 2 && s[w] == 'i' && s[w + 1] == 'f') {
        depth++;
      } else if (scan_word_is(s + w, q - w, "endif")) {
        if (depth-- == 0) {
          return p;
        }
      } else if (depth == 0 && stop_at_else &&
                 (scan_word_is(s + w, q - w, "else") || scan_word_in(s + w, q - w, pp_elif))) {
        const char *nl = memchr(s + q, '\n', len - q);
        return nl ? (size_t)(nl - s) : len;
      }
    }
    const char *nl = memchr(s + p, '\n', len - p);
    if (!nl) {
      return len;
    }
    p = (size_t)(nl - s) + 1;
  }
  return len;
}

/* Offset of the first byte at or after p that can change how a preprocessor line is read (its
 * newline, a backslash, a slash, a quote), or len. Sixteen bytes per step where SSE2 is there:
 * most #define and #if lines hold none of them before their newline. */
static inline size_t lex_pp_stop(const char *s, size_t p, size_t len)
{
#if defined(__SSE2__)
  const __m128i c1 = _mm_set1_epi8('\n'), c2 = _mm_set1_epi8('\\'), c3 = _mm_set1_epi8('/'),
                c4 = _mm_set1_epi8('"'), c5 = _mm_set1_epi8('\'');
  while (p + 16 <= len) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + p));
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, c1), _mm_cmpeq_epi8(v, c2)),
                             _mm_or_si128(_mm_cmpeq_epi8(v, c3), _mm_cmpeq_epi8(v, c4)));
    unsigned mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(m, _mm_cmpeq_epi8(v, c5)));
    if (mask) {
      return p + (unsigned)__builtin_ctz(mask);
    }
    p += 16;
  }
#endif
  while (p < len && s[p] != '\n' && s[p] != '\\' && s[p] != '/' && s[p] != '"' &&
         s[p] != '\'') {
    p++;
  }
  return p;
}

/* A preprocessor line from '#' at p, with its continuations; records #include as an import. */
static size_t lex_preproc(scan_lex *lx, size_t p)
{
  const char *s = lx->s;
  size_t len = lx->len;
  size_t q = p + 1;
  while (q < len && scan_is_space((unsigned char)s[q])) {
    q++;
  }
  size_t w = q;
  while (q < len && scan_cc[(unsigned char)s[q]] == CC_IDENT) {
    q++;
  }
  int is_include = scan_word_is(s + w, q - w, "include") ||
                   scan_word_is(s + w, q - w, "include_next") ||
                   scan_word_is(s + w, q - w, "import");
  while (q < len) {
    q = lex_pp_stop(s, q, len);
    if (q >= len) {
      break;
    }
    char c = s[q];
    if (c == '\n') {
      break;
    }
    if (c == '\\' && q + 1 < len && (s[q + 1] == '\n' || s[q + 1] == '\r')) {
      q += s[q + 1] == '\r' && q + 2 < len && s[q + 2] == '\n' ? 3 : 2;
      continue;
    }
    if (c == '/' && q + 1 < len && s[q + 1] == '*') {
      q = lex_block_comment_end(s, q + 2, len); /* a comment after `#endif` */
      continue;
    }
    if (c == '/' && q + 1 < len && s[q + 1] == '/') {
      const char *e = memchr(s + q, '\n', len - q);
      q = e ? (size_t)(e - s) : len;
      continue;
    }
    if (c == '"' || c == '\'') {
      q = lex_quoted(s, q, len, c, 0);
      continue;
    }
    q++;
  }
  if (is_include && lx->sc) {
    scan_add_import(lx->sc, scan_line_of(lx->sc, p), scan_line_of(lx->sc, q > p ? q - 1 : p));
  }
  size_t wl = 0;
  while (w + wl < len && scan_cc[(unsigned char)s[w + wl]] == CC_IDENT) {
    wl++;
  }
  int is_if = wl >= 2 && s[w] == 'i' && s[w + 1] == 'f';
  if (is_if && wl == 2 && pp_is_zero(s, w + wl, len)) {
    return pp_skip(s, q, len, 1);
  }
  if (is_if) {
    if (lx->npp < SCAN_PP_MAX) {
      lx->pp_depth[lx->npp] = lx->braces;
    }
    lx->npp++;
  } else if (scan_word_is(s + w, wl, "endif")) {
    lx->npp -= lx->npp > 0;
  } else if (scan_word_is(s + w, wl, "else") || scan_word_in(s + w, wl, pp_elif)) {
    /* A branch that left braces open is followed by alternatives that open them again
     * (`#ifdef X\nint f(a) {\n#else\nint f(b) {\n#endif`): read only the first then. */
    if (lx->npp > 0 && lx->npp <= SCAN_PP_MAX && lx->pp_depth[lx->npp - 1] != lx->braces) {
      return pp_skip(s, q, len, 0);
    }
  }
  return q;
}

/* Rust: after a quote, a char literal ('a', '\n', 'é') or a lifetime ('a, 'static). */
static size_t lex_rust_quote(const char *s, size_t p, size_t len, int *is_char)
{
  *is_char = 1;
  if (p + 1 < len && s[p + 1] == '\\') {
    return lex_quoted(s, p, len, '\'', 0);
  }
  size_t q = p + 1;
  if (q < len && (unsigned char)s[q] >= 0x80) {
    q++;
    while (q < len && ((unsigned char)s[q] & 0xC0) == 0x80) {
      q++;
    }
  } else if (q < len) {
    q++;
  }
  if (q < len && s[q] == '\'') {
    return q + 1;
  }
  *is_char = 0;
  q = p + 1;
  while (q < len && scan_cc[(unsigned char)s[q]] >= CC_IDENT) {
    q++;
  }
  return q;
}

static int lex_is_prefix(const char *s, size_t n, const char *const *list)
{
  return scan_word_in(s, n, list);
}

static const char *const cpp_raw_prefix[] = {"R", "LR", "uR", "UR", "u8R", NULL};
static const char *const c_str_prefix[] = {"L", "u", "U", "u8", NULL};
static const char *const rust_raw_prefix[] = {"r", "br", "cr", NULL};
static const char *const rust_str_prefix[] = {"b", "c", NULL};

/* Ends one token inside scan_lex_fill. */
#define EMIT(ty, c_, o, e)                                                                       \
  do {                                                                                           \
    type = (ty);                                                                                 \
    ch = (c_);                                                                                   \
    off = (o);                                                                                   \
    end = (e);                                                                                   \
    goto emit;                                                                                   \
  } while (0)

/* Skips a run of spaces from p (s[p] is one) eight bytes at a time: indentation is most of the
 * whitespace in code, and a byte loop ends each run with a mispredicted branch anyway. */
static inline size_t lex_skip_blanks(const char *s, size_t p, size_t len)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  while (p + 8 <= len) {
    uint64_t w;
    memcpy(&w, s + p, sizeof(w));
    w ^= 0x2020202020202020ull;
    if (w) {
      return p + ((unsigned)__builtin_ctzll(w) >> 3);
    }
    p += 8;
  }
#endif
  while (p < len && s[p] == ' ') {
    p++;
  }
  return p;
}

/* Bytes that end a run of plain code inside brackets (C/C++). */
static const unsigned char scan_group_stop[256] = {
  ['('] = 1, [')'] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1,
  ['"'] = 1, ['\''] = 1, ['/'] = 1, ['#'] = 1,
};

/* Start of the run of identifier and digit characters ending at p (p if none), not before
 * `floor`: the word glued to a quote, which may be a literal's prefix. */
static size_t lex_word_back(const char *s, size_t floor, size_t p)
{
  size_t r = p;
  while (r > floor && scan_cc[(unsigned char)s[r - 1]] >= CC_IDENT) {
    r--;
  }
  return r;
}

/* C/C++: the offset after the string or character literal whose quote is at p (a raw string when
 * the word glued to it is a raw prefix), or p + 1 for a `'` that is a digit separator inside a
 * number (1'000). `floor` bounds the look back for that word. */
static inline size_t lex_c_literal_end(const char *s, size_t floor, size_t p, size_t len)
{
  size_t r = lex_word_back(s, floor, p);
  if (s[p] == '"') {
    return lex_is_prefix(s + r, p - r, cpp_raw_prefix) ? lex_cpp_raw(s, p, len)
                                                        : lex_quoted(s, p, len, '"', 0);
  }
  if (r < p && scan_cc[(unsigned char)s[r]] == CC_DIGIT && p + 1 < len &&
      scan_cc[(unsigned char)s[p + 1]] >= CC_IDENT) {
    return p + 1;
  }
  return lex_quoted(s, p, len, '\'', 0);
}

/* C/C++: the end of the bracket group whose text starts at p (just after its opening bracket),
 * skipping strings and character literals, when nothing in it needs a closer look: returns the
 * offset after the matching closing bracket, or 0 if a brace, a comment, a `#` or the end of
 * the input comes first (*stop is then where; the caller lexes the group token by token). Has
 * no side effects, so giving up costs only the bytes read. */
static size_t lex_group_end(const scan_lex *lx, size_t p, size_t *stop)
{
  const char *s = lx->s;
  size_t len = lx->len;
  size_t floor = p;
  int depth = 1;
  for (;;) {
    /* Eight bytes per test while none of them can stop the run (most of them can't). */
    while (p + 8 <= len) {
      const unsigned char *u = (const unsigned char *)s + p;
      if (scan_group_stop[u[0]] | scan_group_stop[u[1]] | scan_group_stop[u[2]] |
          scan_group_stop[u[3]] | scan_group_stop[u[4]] | scan_group_stop[u[5]] |
          scan_group_stop[u[6]] | scan_group_stop[u[7]]) {
        break;
      }
      p += 8;
    }
    while (p < len && !scan_group_stop[(unsigned char)s[p]]) {
      p++;
    }
    if (p >= len) {
      *stop = len;
      return 0;
    }
    switch (s[p]) {
    case '(':
    case '[':
      depth++;
      p++;
      break;
    case ')':
    case ']':
      if (--depth == 0) {
        *stop = p + 1;
        return p + 1;
      }
      p++;
      break;
    case '"':
    case '\'':
      p = lex_c_literal_end(s, floor, p, len);
      break;
    case '/':
      if (p + 1 < len && (s[p + 1] == '/' || s[p + 1] == '*')) {
        *stop = p; /* comments are recorded for doc comments: leave them to the lexer */
        return 0;
      }
      p++;
      break;
    default: /* { } # */
      *stop = p;
      return 0;
    }
  }
}

/* Bytes a function body's brace scan stops at (C): braces, the quotes, the slash of a comment
 * and the `#` of a preprocessor line. Everything else inside a body is skipped unread. */
static const unsigned char scan_body_stop[256] = {
  ['{'] = 1, ['}'] = 1, ['"'] = 1, ['\''] = 1, ['/'] = 1, ['#'] = 1,
};

/* Offset of the first stop byte at or after p, or len. Sixteen bytes per step where SSE2 is
 * there (every x86-64): on SQLite's sources a stop comes every ~40 bytes of body text, so the
 * per-byte table loop this replaces spent most of the scan's time. */
static inline size_t lex_body_stop(const char *s, size_t p, size_t len)
{
#if defined(__SSE2__)
  const __m128i c1 = _mm_set1_epi8('{'), c2 = _mm_set1_epi8('}'), c3 = _mm_set1_epi8('"'),
                c4 = _mm_set1_epi8('\''), c5 = _mm_set1_epi8('/'), c6 = _mm_set1_epi8('#');
  while (p + 16 <= len) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + p));
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, c1), _mm_cmpeq_epi8(v, c2)),
                             _mm_or_si128(_mm_cmpeq_epi8(v, c3), _mm_cmpeq_epi8(v, c4)));
    m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, c5), _mm_cmpeq_epi8(v, c6)));
    unsigned mask = (unsigned)_mm_movemask_epi8(m);
    if (mask) {
      return p + (unsigned)__builtin_ctz(mask);
    }
    p += 16;
  }
#endif
  while (p < len && !scan_body_stop[(unsigned char)s[p]]) {
    p++;
  }
  return p;
}

/* Whether the `#` at p starts a preprocessor line as the token lexer's `bol` decides it: no
 * token since the last newline (blanks and comments do not count). Reads backwards over the
 * comments just recorded; at the body's floor (just after its `{`, a token) the answer is no. */
static int lex_body_bol(const scan_lex *lx, size_t p)
{
  const char *s = lx->s;
  const scan_ctx *sc = lx->sc;
  size_t k = sc ? sc->ncomments : 0;
  while (p > lx->body_floor) {
    unsigned char c = (unsigned char)s[p - 1];
    if (c == '\n') {
      return 1;
    }
    if (scan_is_space(c)) {
      p--;
      continue;
    }
    while (k > 0 && sc->comments[k - 1].end > p) {
      k--;
    }
    if (k > 0 && sc->comments[k - 1].end == p && sc->comments[k - 1].off >= lx->body_floor) {
      p = sc->comments[--k].off;
      continue;
    }
    return 0;
  }
  return 0;
}

/* Inside a C function body: the offset of the next `{` or `}` that is code, or len. Strings,
 * character literals, comments and preprocessor lines on the way are skipped exactly as the
 * token lexer skips them (comments and #include lines are recorded, conditionals counted), so
 * the braces found are the ones the token lexer would hand out. */
static size_t lex_body_next(scan_lex *lx, size_t p)
{
  const char *s = lx->s;
  size_t len = lx->len;
  size_t floor = lx->body_floor;
  for (;;) {
    p = lex_body_stop(s, p, len);
    if (p >= len) {
      return len;
    }
    switch (s[p]) {
    case '{':
    case '}':
      return p;
    case '"':
    case '\'':
      p = lex_c_literal_end(s, floor, p, len);
      break;
    case '/':
      p = p + 1 < len && (s[p + 1] == '/' || s[p + 1] == '*') ? lex_comment(lx, p) : p + 1;
      break;
    default: /* '#' */
      p = lex_body_bol(lx, p) ? lex_preproc(lx, p) : p + 1;
      break;
    }
  }
}

void scan_lex_enter_body(scan_lex *lx)
{
  lx->body_depth = 1;
  lx->body_floor = lx->p;
  lx->body_ncomments = lx->sc ? lx->sc->ncomments : 0;
}

/* Go inserts a semicolon at a newline after these tokens. */
static int lex_go_semi_after(const scan_lex *lx)
{
  switch (lx->prev_type) {
  case TK_IDENT:
  case TK_NUM:
  case TK_STR:
    return 1;
  case TK_PUNCT:
    return lx->prev_ch == ')' || lx->prev_ch == ']' || lx->prev_ch == '}' ||
           lx->prev_ch == P_INCDEC;
  default:
    return 0;
  }
}

size_t scan_lex_fill(scan_lex *lx, scan_tok *out, size_t max)
{
  const char *s = lx->s;
  size_t len = lx->len;
  size_t p = lx->p;
  size_t n = 0;
  int bol = lx->bol;
  int type, ch;
  size_t off, end;
  while (n < max) {
    if (p >= len) {
      break;
    }
    if (lx->body_depth > 0) {
      size_t q = lex_body_next(lx, p);
      if (q >= len) {
        p = len;
        break;
      }
      bol = 0;
      if (s[q] == '{') {
        lx->braces++;
        lx->body_depth++;
      } else {
        lx->braces--;
        if (--lx->body_depth == 0 && lx->sc) {
          /* A comment inside a body is never the doc comment of a definition (the body's
           * closing brace stands between): forget them, the array stays small. */
          lx->sc->ncomments = lx->body_ncomments;
        }
      }
      EMIT(TK_PUNCT, s[q], q, q + 1);
    }
    unsigned char c = (unsigned char)s[p];
    unsigned char cc = scan_cc[c];
    if (cc == CC_SPACE) {
      p = c == ' ' ? lex_skip_blanks(s, p, len) : p + 1;
      continue;
    }
    if (cc == CC_NL) {
      bol = 1;
      if (lx->go && lex_go_semi_after(lx)) {
        EMIT(TK_PUNCT, P_VSEMI, p, p + 1);
      }
      p++;
      if (p < len && s[p] == ' ') {
        p = lex_skip_blanks(s, p, len); /* indentation */
      }
      continue;
    }
    if (cc == CC_IDENT) {
      bol = 0;
      size_t q = p + 1;
      while (q < len && scan_cc[(unsigned char)s[q]] >= CC_IDENT) {
        q++;
      }
      if (q < len && (s[q] == '"' || s[q] == '\'' || s[q] == '#') && q - p <= 3) {
        /* A literal's prefix glued to its quote. */
        if (lx->cfam && s[q] == '"' && lex_is_prefix(s + p, q - p, cpp_raw_prefix)) {
          EMIT(TK_STR, 0, p, lex_cpp_raw(s, q, len));
        }
        if (lx->cfam && s[q] != '#' && lex_is_prefix(s + p, q - p, c_str_prefix)) {
          EMIT(TK_STR, 0, p, lex_quoted(s, q, len, s[q], 0));
        }
        if (lx->rust && s[q] != '\'' && lex_is_prefix(s + p, q - p, rust_raw_prefix)) {
          size_t e = lex_rust_raw(s, q, len);
          if (e > q) {
            EMIT(TK_STR, 0, p, e);
          }
        }
        if (lx->rust && s[q] != '#' && lex_is_prefix(s + p, q - p, rust_str_prefix)) {
          EMIT(TK_STR, 0, p, lex_quoted(s, q, len, s[q], s[q] == '"'));
        }
      }
      EMIT(TK_IDENT, 0, p, q);
    }
    if (cc == CC_DIGIT) {
      bol = 0;
      size_t q = p + 1;
      while (q < len) {
        unsigned char d = (unsigned char)s[q];
        if (scan_cc[d] >= CC_IDENT || d == '.') {
          q++;
        } else if ((d == '+' || d == '-') && (s[q - 1] == 'e' || s[q - 1] == 'E' ||
                                              s[q - 1] == 'p' || s[q - 1] == 'P')) {
          q++;
        } else if (d == '\'' && lx->cfam && q + 1 < len &&
                   scan_cc[(unsigned char)s[q + 1]] >= CC_IDENT) {
          q++; /* C++14 digit separator */
        } else {
          break;
        }
      }
      EMIT(TK_NUM, 0, p, q);
    }
    switch (c) {
    case '/':
      if (p + 1 < len && (s[p + 1] == '/' || s[p + 1] == '*')) {
        p = lex_comment(lx, p);
        continue;
      }
      bol = 0;
      if (lx->js && lex_regex_allowed(lx)) {
        size_t e = lex_regex(s, p, len);
        if (e) {
          EMIT(TK_STR, 0, p, e);
        }
      }
      if (p + 1 < len && s[p + 1] == '=') {
        EMIT(TK_PUNCT, P_OPEQ, p, p + 2);
      }
      EMIT(TK_PUNCT, '/', p, p + 1);
    case '#':
      if (lx->cfam && bol) {
        p = lex_preproc(lx, p);
        continue;
      }
      bol = 0;
      if (lx->js && p + 1 < len && scan_cc[(unsigned char)s[p + 1]] == CC_IDENT) {
        size_t q = p + 1;
        while (q < len && scan_cc[(unsigned char)s[q]] >= CC_IDENT) {
          q++;
        }
        EMIT(TK_IDENT, 0, p, q);
      }
      EMIT(TK_PUNCT, '#', p, p + 1);
    case '"':
      bol = 0;
      if (lx->java && p + 2 < len && s[p + 1] == '"' && s[p + 2] == '"') {
        EMIT(TK_STR, 0, p, lex_text_block(s, p, len));
      }
      EMIT(TK_STR, 0, p, lex_quoted(s, p, len, '"', lx->rust));
    case '\'':
      bol = 0;
      if (lx->rust) {
        int is_char;
        size_t e = lex_rust_quote(s, p, len, &is_char);
        EMIT(is_char ? TK_STR : TK_IDENT, 0, p, e);
      }
      EMIT(TK_STR, 0, p, lex_quoted(s, p, len, '\'', 0));
    case '`':
      bol = 0;
      if (lx->go) {
        const char *e = memchr(s + p + 1, '`', len - p - 1);
        EMIT(TK_STR, 0, p, e ? (size_t)(e - s) + 1 : len);
      }
      if (lx->js) {
        int opened;
        size_t e = lex_template(s, p + 1, len, &opened);
        if (opened) {
          if (lx->ntmpl < SCAN_TMPL_MAX) {
            lx->tmpl_depth[lx->ntmpl] = 0;
          }
          lx->ntmpl++;
        }
        EMIT(TK_STR, 0, p, e);
      }
      EMIT(TK_PUNCT, '`', p, p + 1);
    case '(':
    case '[':
      bol = 0;
      if (lx->elide_groups && p >= lx->no_elide_until) {
        size_t stop;
        size_t e = lex_group_end(lx, p + 1, &stop);
        if (e) {
          EMIT(c == '(' ? TK_GROUP : TK_BGROUP, c, p, e);
        }
        lx->no_elide_until = stop;
      }
      EMIT(TK_PUNCT, c, p, p + 1);
    case '{':
      bol = 0;
      if (lx->ntmpl > 0 && lx->ntmpl <= SCAN_TMPL_MAX) {
        lx->tmpl_depth[lx->ntmpl - 1]++;
      }
      lx->braces++;
      EMIT(TK_PUNCT, '{', p, p + 1);
    case '}':
      bol = 0;
      if (lx->ntmpl > 0) {
        if (lx->ntmpl > SCAN_TMPL_MAX || lx->tmpl_depth[lx->ntmpl - 1] == 0) {
          /* This brace ends a `${`: the template literal continues. */
          lx->ntmpl--;
          int opened;
          size_t e = lex_template(s, p + 1, len, &opened);
          if (opened) {
            if (lx->ntmpl < SCAN_TMPL_MAX) {
              lx->tmpl_depth[lx->ntmpl] = 0;
            }
            lx->ntmpl++;
          }
          EMIT(TK_STR, 0, p, e);
        }
        lx->tmpl_depth[lx->ntmpl - 1]--;
      }
      lx->braces--;
      EMIT(TK_PUNCT, '}', p, p + 1);
    case ':':
      bol = 0;
      if (p + 1 < len && s[p + 1] == ':') {
        EMIT(TK_PUNCT, P_SCOPE, p, p + 2);
      }
      EMIT(TK_PUNCT, ':', p, p + 1);
    case '=':
      bol = 0;
      if (p + 1 < len && s[p + 1] == '>') {
        EMIT(TK_PUNCT, P_FATARROW, p, p + 2);
      }
      if (p + 1 < len && s[p + 1] == '=') {
        size_t q = p + 2;
        if (q < len && s[q] == '=') {
          q++;
        }
        EMIT(TK_PUNCT, P_OPEQ, p, q);
      }
      EMIT(TK_PUNCT, '=', p, p + 1);
    case '-':
    case '+':
      bol = 0;
      if (p + 1 < len && s[p + 1] == (char)c) {
        EMIT(TK_PUNCT, P_INCDEC, p, p + 2);
      }
      if (c == '-' && p + 1 < len && s[p + 1] == '>') {
        EMIT(TK_PUNCT, P_ARROW, p, p + 2);
      }
      if (p + 1 < len && s[p + 1] == '=') {
        EMIT(TK_PUNCT, P_OPEQ, p, p + 2);
      }
      EMIT(TK_PUNCT, c, p, p + 1);
    case '!':
    case '<':
    case '>':
    case '*':
    case '%':
    case '^':
    case '|':
    case '&':
      bol = 0;
      if (p + 1 < len && s[p + 1] == '=') {
        EMIT(TK_PUNCT, P_OPEQ, p, p + 2);
      }
      EMIT(TK_PUNCT, c, p, p + 1);
    case '.':
      bol = 0;
      if (p + 2 < len && s[p + 1] == '.' && s[p + 2] == '.') {
        EMIT(TK_PUNCT, P_ELLIPSIS, p, p + 3);
      }
      if (p + 1 < len && scan_cc[(unsigned char)s[p + 1]] == CC_DIGIT) {
        size_t q = p + 1;
        while (q < len && (scan_cc[(unsigned char)s[q]] >= CC_IDENT)) {
          q++;
        }
        EMIT(TK_NUM, 0, p, q);
      }
      EMIT(TK_PUNCT, '.', p, p + 1);
    default:
      bol = 0;
      EMIT(TK_PUNCT, c, p, p + 1);
    }
  emit:
    out[n].type = type;
    out[n].ch = ch;
    out[n].off = off;
    out[n].end = end;
    n++;
    p = end;
    if (p < len && s[p] == ' ' && bol == 0) {
      p++; /* the usual single space after a token, without a trip through the dispatch */
    }
    lx->prev_type = type;
    lx->prev_ch = ch;
    lx->prev_off = off;
    lx->prev_end = end;
    if (ch == '{' && type == TK_PUNCT && lx->stop_after_brace && lx->body_depth == 0) {
      break; /* the caller may switch to body mode before anything after it is lexed */
    }
  }
  lx->p = p < len ? p : len;
  lx->bol = bol;
  return n;
}

int scan_lex_next(scan_lex *lx, scan_tok *t)
{
  return scan_lex_fill(lx, t, 1) == 1;
}

void scan_code_tokens(lang_id lang, const char *code, size_t len, scan_code_fn fn, void *data)
{
  scan_lex lx;
  scan_lex_init(&lx, lang, code, 0, len, NULL);
  scan_tok toks[256];
  size_t n;
  while ((n = scan_lex_fill(&lx, toks, sizeof(toks) / sizeof(toks[0]))) > 0) {
    for (size_t i = 0; i < n; i++) {
      const scan_tok *t = &toks[i];
      scan_code_token ct = {0, t->off, t->end};
      if (t->type == TK_PUNCT) {
        ct.punct = t->ch < 256             ? t->ch
                   : t->ch == P_ELLIPSIS ? SCAN_PUNCT_ELLIPSIS
                   : t->ch == P_VSEMI    ? SCAN_PUNCT_LINE_END
                                         : 0;
      }
      fn(&ct, data);
    }
  }
}
