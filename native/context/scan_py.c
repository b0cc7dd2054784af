/* Python: blocks are indentation. The file is read one logical line at a time (brackets,
 * backslash continuations and multi-line strings join physical lines); a def or class ends
 * at the last non-blank line indented deeper than it, and a comment at its own indentation or
 * lower ends it too. */
#include <stdlib.h>
#include <string.h>

#include "context/scan_int.h"
#include "util/buf.h"

#define PY_NEST_MAX 16

static size_t py_string(const char *s, size_t p, size_t len, int fmt, int nest);

/* Code inside an f-string replacement field, from just after '{' to just after its '}'. */
static size_t py_fexpr(const char *s, size_t p, size_t len, int nest)
{
  int depth = 0;
  while (p < len) {
    char c = s[p];
    if (c == '"' || c == '\'') {
      p = py_string(s, p, len, 0, nest + 1);
      continue;
    }
    if (c == '(' || c == '[' || c == '{') {
      depth++;
    } else if (c == ')' || c == ']') {
      depth--;
    } else if (c == '}') {
      if (depth-- == 0) {
        return p + 1;
      }
    }
    p++;
  }
  return len;
}

/* Skips a string literal whose opening quote is at p (prefix already consumed). Single-quoted
 * strings stop at an unescaped newline, so an unterminated one cannot swallow the file. */
static size_t py_string(const char *s, size_t p, size_t len, int fmt, int nest)
{
  char q = s[p];
  int triple = p + 2 < len && s[p + 1] == q && s[p + 2] == q;
  p += triple ? 3 : 1;
  while (p < len) {
    char c = s[p];
    if (c == '\\') {
      p += 2;
      continue;
    }
    if (c == q) {
      if (!triple) {
        return p + 1;
      }
      if (p + 2 < len && s[p + 1] == q && s[p + 2] == q) {
        return p + 3;
      }
    } else if (c == '\n' && !triple) {
      return p;
    } else if (fmt && c == '{' && nest < PY_NEST_MAX) {
      if (p + 1 < len && s[p + 1] == '{') {
        p += 2;
        continue;
      }
      p = py_fexpr(s, p + 1, len, nest);
      continue;
    }
    p++;
  }
  return len;
}

/* If an identifier s[p, q) is a string prefix glued to a quote, returns 1 and sets *fmt. */
static int py_prefix(const char *s, size_t p, size_t q, size_t len, int *fmt)
{
  if (q >= len || (s[q] != '"' && s[q] != '\'') || q - p > 2) {
    return 0;
  }
  *fmt = 0;
  for (size_t i = p; i < q; i++) {
    switch (s[i]) {
    case 'f':
    case 'F':
      *fmt = 1;
      break;
    case 'r':
    case 'R':
    case 'b':
    case 'B':
    case 'u':
    case 'U':
      break;
    default:
      return 0;
    }
  }
  return 1;
}

typedef struct {
  int def;
  int indent;
  int is_class;
} py_open;

typedef struct {
  size_t end;       /* offset after the logical line's last character (before its newline) */
  size_t colon;     /* first ':' at bracket depth 0, or 0 */
} py_logical;

/* Reads one logical line starting at p (at its first non-blank character). */
static void py_read_logical(const char *s, size_t p, size_t len, py_logical *out)
{
  int depth = 0;
  out->colon = 0;
  size_t last = p;
  while (p < len) {
    unsigned char c = (unsigned char)s[p];
    if (c == '\n') {
      if (depth <= 0) {
        break;
      }
      p++;
      continue;
    }
    if (c == '\\' && p + 1 < len && (s[p + 1] == '\n' || s[p + 1] == '\r')) {
      p += 2;
      continue;
    }
    if (c == '#') {
      const char *nl = memchr(s + p, '\n', len - p);
      p = nl ? (size_t)(nl - s) : len;
      continue;
    }
    if (scan_is_space(c)) {
      p++;
      continue;
    }
    last = p;
    if (c == '"' || c == '\'') {
      p = py_string(s, p, len, 0, 0);
      last = p - 1;
      continue;
    }
    if (scan_is_ident_start(c)) {
      size_t q = p + 1;
      while (q < len && scan_is_ident_char((unsigned char)s[q])) {
        q++;
      }
      int fmt;
      if (py_prefix(s, p, q, len, &fmt)) {
        p = py_string(s, q, len, fmt, 0);
        last = p - 1;
        continue;
      }
      last = q - 1;
      p = q;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') {
      depth++;
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth > 0) {
        depth--;
      }
    } else if (c == ':' && depth == 0 && !out->colon && !(p + 1 < len && s[p + 1] == '=')) {
      out->colon = p;
    }
    p++;
  }
  out->end = last + 1;
}

static size_t py_word(const char *s, size_t p, size_t len)
{
  size_t q = p;
  while (q < len && scan_is_ident_char((unsigned char)s[q])) {
    q++;
  }
  return q - p;
}

void scan_py_file(scan_ctx *sc)
{
  const char *s = sc->src;
  size_t len = sc->len;
  py_open *stack = NULL;
  size_t nstack = 0, cap = 0;
  size_t last_content = 0; /* offset of the last character of the last body content */
  int have_content = 0;
  size_t dec_off = 0;
  int dec_indent = -1;
  size_t p = 0;
  while (p < len) {
    int indent = 0;
    size_t q = p;
    while (q < len && (s[q] == ' ' || s[q] == '\t' || s[q] == '\f')) {
      indent = s[q] == '\t' ? (indent / 8 + 1) * 8 : indent + 1;
      q++;
    }
    if (q < len && s[q] == '\r') {
      q++;
    }
    if (q >= len) {
      break;
    }
    if (s[q] == '\n') {
      p = q + 1;
      continue;
    }
    int comment = s[q] == '#';
    /* A line at this indentation or lower ends every def indented as deep. */
    while (nstack > 0 && stack[nstack - 1].indent >= indent) {
      py_open *o = &stack[--nstack];
      sc->defs[o->def].end_line = have_content ? scan_line_of(sc, last_content) : 1;
      if (sc->defs[o->def].end_line < sc->defs[o->def].body_line) {
        sc->defs[o->def].end_line = sc->defs[o->def].body_line;
      }
    }
    if (comment) {
      const char *nl = memchr(s + q, '\n', len - q);
      size_t e = nl ? (size_t)(nl - s) : len;
      scan_add_comment(sc, q, e);
      if (nstack > 0) {
        last_content = e > q ? e - 1 : q;
        have_content = 1;
      }
      p = e < len ? e + 1 : len;
      continue;
    }
    py_logical lg;
    py_read_logical(s, q, len, &lg);
    size_t w = py_word(s, q, len);
    size_t kw = q;
    if (scan_word_is(s + q, w, "async")) {
      size_t r = q + w;
      while (r < len && scan_is_space((unsigned char)s[r])) {
        r++;
      }
      kw = r;
      w = py_word(s, r, len);
    }
    int is_def = scan_word_is(s + kw, w, "def");
    int is_class = scan_word_is(s + kw, w, "class") && kw == q;
    if (s[q] == '@') {
      if (dec_indent != indent) {
        dec_off = q;
        dec_indent = indent;
      }
    } else if ((is_def || is_class) && lg.colon) {
      size_t r = kw + w;
      while (r < len && scan_is_space((unsigned char)s[r])) {
        r++;
      }
      size_t nl = py_word(s, r, len);
      int parent = nstack > 0 ? stack[nstack - 1].def : -1;
      def_kind kind = is_class ? DEF_CLASS
                      : (nstack > 0 && stack[nstack - 1].is_class) ? DEF_METHOD
                                                                  : DEF_FUNCTION;
      size_t first = dec_indent == indent ? dec_off : q;
      int d = scan_add_def(sc, kind, r, nl, first, q, scan_line_of(sc, lg.colon), parent);
      if (nstack == cap) {
        cap = cap ? cap * 2 : 16;
        stack = xrealloc(stack, cap * sizeof(*stack));
      }
      stack[nstack].def = d;
      stack[nstack].indent = indent;
      stack[nstack].is_class = is_class;
      nstack++;
      dec_indent = -1;
    } else {
      dec_indent = -1;
      if (nstack == 0 && (scan_word_is(s + q, w, "import") || scan_word_is(s + q, w, "from"))) {
        scan_add_import(sc, scan_line_of(sc, q), scan_line_of(sc, lg.end - 1));
      }
    }
    last_content = lg.end - 1;
    have_content = 1;
    const char *nl = memchr(s + lg.end, '\n', len - lg.end);
    p = nl ? (size_t)(nl - s) + 1 : len;
  }
  while (nstack > 0) {
    py_open *o = &stack[--nstack];
    sc->defs[o->def].end_line = have_content ? scan_line_of(sc, last_content) : 1;
    if (sc->defs[o->def].end_line < sc->defs[o->def].body_line) {
      sc->defs[o->def].end_line = sc->defs[o->def].body_line;
    }
  }
  free(stack);
}

void scan_py_calls(const char *s, size_t from, size_t to, int mode, scan_call_fn fn, void *data)
{
  scan_nameset seen;
  scan_nameset_init(&seen);
  size_t p = from;
  size_t prev_off = 0, prev_len = 0; /* previous identifier, if it was the previous token */
  int prev_ident = 0;
  while (p < to) {
    unsigned char c = (unsigned char)s[p];
    if (scan_is_space(c) || c == '\n') {
      p++;
      continue;
    }
    if (c == '#') {
      const char *nl = memchr(s + p, '\n', to - p);
      p = nl ? (size_t)(nl - s) : to;
      continue;
    }
    if (c == '"' || c == '\'') {
      p = py_string(s, p, to, 0, 0);
      prev_ident = 0;
      continue;
    }
    if (scan_is_ident_start(c)) {
      size_t q = p + 1;
      while (q < to && scan_is_ident_char((unsigned char)s[q])) {
        q++;
      }
      int fmt;
      if (py_prefix(s, p, q, to, &fmt)) {
        p = py_string(s, q, to, fmt, 0);
        prev_ident = 0;
        continue;
      }
      if (mode == SCAN_REFS_IDENTS) {
        scan_emit_call(LANG_PYTHON, &seen, s + p, q - p, fn, data);
      }
      int after_def = prev_ident && (scan_word_is(s + prev_off, prev_len, "def") ||
                                     scan_word_is(s + prev_off, prev_len, "class"));
      prev_ident = !after_def;
      prev_off = p;
      prev_len = q - p;
      p = q;
      continue;
    }
    if (c == '(' && prev_ident && mode == SCAN_REFS_CALLS) {
      scan_emit_call(LANG_PYTHON, &seen, s + prev_off, prev_len, fn, data);
    }
    prev_ident = 0;
    p++;
  }
  scan_nameset_free(&seen);
}
