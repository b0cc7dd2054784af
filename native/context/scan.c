#include "context/scan.h"

#include <stdlib.h>
#include <string.h>

#include "context/scan_int.h"
#include "util/buf.h"

void scan_ctx_init(scan_ctx *sc, lang_id lang, const text_t *text)
{
  memset(sc, 0, sizeof(*sc));
  sc->lang = lang;
  sc->text = text;
  sc->src = text->data;
  sc->len = text->len;
}

int scan_line_of(scan_ctx *sc, size_t off)
{
  /* Lookups come in bursts close to each other (a definition's head, its doc comment just
   * above, its closing brace a few dozen lines below): gallop from the previous answer in the
   * direction of `off`, so the cost is logarithmic in the distance and touches only nearby
   * parts of the line index instead of a cold binary search over all of it. */
  const text_t *t = sc->text;
  const size_t *lo_off = t->line_off;
  int n = t->nlines;
  if (n <= 0) {
    return 1;
  }
  int h = sc->line_hint;
  if (h < 0 || h >= n) {
    h = 0;
  }
  int lo, hi; /* the answer (0-based) is in [lo, hi] */
  if (lo_off[h] <= off) {
    lo = h;
    int step = 1;
    for (;;) {
      int probe = h + step;
      if (probe >= n) {
        hi = n - 1;
        break;
      }
      if (lo_off[probe] > off) {
        hi = probe - 1;
        break;
      }
      lo = probe;
      step *= 2;
    }
  } else {
    hi = h - 1;
    int step = 1;
    for (;;) {
      int probe = h - step;
      if (probe <= 0) {
        lo = 0;
        break;
      }
      if (lo_off[probe] <= off) {
        lo = probe;
        break;
      }
      hi = probe - 1;
      step *= 2;
    }
  }
  while (lo < hi) {
    int mid = lo + (hi - lo + 1) / 2;
    if (lo_off[mid] <= off) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  sc->line_hint = lo;
  return lo + 1;
}

int scan_last_line(const scan_ctx *sc)
{
  return sc->text->nlines > 0 ? sc->text->nlines : 1;
}

void scan_add_comment(scan_ctx *sc, size_t off, size_t end)
{
  if (sc->ncomments == sc->cap_comments) {
    sc->cap_comments = sc->cap_comments ? sc->cap_comments * 2 : 64;
    sc->comments = xrealloc(sc->comments, sc->cap_comments * sizeof(*sc->comments));
  }
  sc->comments[sc->ncomments].off = off;
  sc->comments[sc->ncomments].end = end;
  sc->ncomments++;
}

void scan_add_import(scan_ctx *sc, int start_line, int end_line)
{
  if (end_line < start_line) {
    end_line = start_line;
  }
  if (sc->nimports > 0) {
    scan_range *last = &sc->imports[sc->nimports - 1];
    if (start_line <= last->end_line + 1 && end_line >= last->start_line) {
      if (end_line > last->end_line) {
        last->end_line = end_line;
      }
      if (start_line < last->start_line) {
        last->start_line = start_line;
      }
      return;
    }
  }
  if (sc->nimports == sc->cap_imports) {
    sc->cap_imports = sc->cap_imports ? sc->cap_imports * 2 : 8;
    sc->imports = xrealloc(sc->imports, sc->cap_imports * sizeof(*sc->imports));
  }
  sc->imports[sc->nimports].start_line = start_line;
  sc->imports[sc->nimports].end_line = end_line;
  sc->nimports++;
}

static int scan_blank(const char *s, size_t from, size_t to)
{
  for (size_t i = from; i < to; i++) {
    if (!scan_is_space((unsigned char)s[i]) && s[i] != '\n') {
      return 0;
    }
  }
  return 1;
}

int scan_doc_start(scan_ctx *sc, size_t first_off)
{
  int start = scan_line_of(sc, first_off);
  /* Comments are recorded in source order: find the last one that ends before the definition. */
  size_t lo = 0, hi = sc->ncomments;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (sc->comments[mid].end <= first_off) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  for (size_t i = lo; i-- > 0;) {
    const scan_span *c = &sc->comments[i];
    int end_line = scan_line_of(sc, c->end > c->off ? c->end - 1 : c->off);
    if (end_line != start - 1) {
      break;
    }
    int first = scan_line_of(sc, c->off);
    if (!scan_blank(sc->src, text_line_start(sc->text, first), c->off) ||
        !scan_blank(sc->src, c->end, text_line_end(sc->text, end_line))) {
      break;
    }
    start = first;
  }
  return start;
}

int scan_add_def(scan_ctx *sc, def_kind kind, size_t name_off, size_t name_len, size_t first_off,
                 size_t head_off, int body_line, int parent)
{
  if (sc->ndefs == sc->cap_defs) {
    sc->cap_defs = sc->cap_defs ? sc->cap_defs * 2 : 32;
    sc->defs = xrealloc(sc->defs, sc->cap_defs * sizeof(*sc->defs));
  }
  char *name = xmalloc(name_len + 1);
  size_t n = 0;
  for (size_t i = 0; i < name_len; i++) {
    char c = sc->src[name_off + i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      name[n++] = c;
    }
  }
  name[n] = '\0';
  scan_def *d = &sc->defs[sc->ndefs];
  d->kind = kind;
  d->name = name;
  d->head_line = scan_line_of(sc, head_off);
  d->start_line = scan_doc_start(sc, first_off);
  if (d->start_line > d->head_line) {
    d->start_line = d->head_line;
  }
  d->body_line = body_line < d->head_line ? d->head_line : body_line;
  d->end_line = scan_last_line(sc);
  d->parent = parent;
  return (int)sc->ndefs++;
}

typedef struct {
  int start;
  size_t idx;
} scan_order;

static int scan_order_cmp(const void *a, const void *b)
{
  const scan_order *x = a, *y = b;
  if (x->start != y->start) {
    return x->start < y->start ? -1 : 1;
  }
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Definitions are found in the order their bodies open, which is nearly always the promised
 * order; sort only when some doc comment or decorator made it differ. */
static void scan_sort_defs(scan_ctx *sc)
{
  int sorted = 1;
  for (size_t i = 1; i < sc->ndefs && sorted; i++) {
    sorted = sc->defs[i - 1].start_line <= sc->defs[i].start_line;
  }
  if (sorted) {
    return;
  }
  size_t n = sc->ndefs;
  scan_order *ord = xmalloc(n * sizeof(*ord));
  for (size_t i = 0; i < n; i++) {
    ord[i].start = sc->defs[i].start_line;
    ord[i].idx = i;
  }
  qsort(ord, n, sizeof(*ord), scan_order_cmp);
  int *where = xmalloc(n * sizeof(*where));
  scan_def *out = xmalloc(n * sizeof(*out));
  for (size_t i = 0; i < n; i++) {
    where[ord[i].idx] = (int)i;
  }
  for (size_t i = 0; i < n; i++) {
    out[i] = sc->defs[ord[i].idx];
    if (out[i].parent >= 0) {
      out[i].parent = where[out[i].parent];
    }
  }
  free(sc->defs);
  sc->defs = out;
  sc->cap_defs = n;
  free(where);
  free(ord);
}

void scan_ctx_finish(scan_ctx *sc, scan_result *out)
{
  scan_sort_defs(sc);
  out->lang = sc->lang;
  out->defs = sc->defs;
  out->ndefs = sc->ndefs;
  out->imports = sc->imports;
  out->nimports = sc->nimports;
  free(sc->comments);
  memset(sc, 0, sizeof(*sc));
}

void scan_ctx_free(scan_ctx *sc)
{
  for (size_t i = 0; i < sc->ndefs; i++) {
    free(sc->defs[i].name);
  }
  free(sc->defs);
  free(sc->imports);
  free(sc->comments);
  memset(sc, 0, sizeof(*sc));
}

int scan_file(lang_id lang, const text_t *text, scan_result *out)
{
  memset(out, 0, sizeof(*out));
  out->lang = lang;
  if (lang <= LANG_UNKNOWN || lang >= LANG__COUNT) {
    out->lang = LANG_UNKNOWN;
    return -1;
  }
  scan_ctx sc;
  scan_ctx_init(&sc, lang, text);
  switch (lang) {
  case LANG_PYTHON:
    scan_py_file(&sc);
    break;
  case LANG_LUA:
    scan_lua_file(&sc);
    break;
  default:
    scan_brace_file(&sc);
    break;
  }
  scan_ctx_finish(&sc, out);
  return 0;
}

void scan_result_free(scan_result *r)
{
  if (!r) {
    return;
  }
  for (size_t i = 0; i < r->ndefs; i++) {
    free(r->defs[i].name);
  }
  free(r->defs);
  free(r->imports);
  memset(r, 0, sizeof(*r));
}

int scan_find_at(const scan_result *r, int line)
{
  int best_fn = -1, best_cls = -1;
  for (size_t i = 0; i < r->ndefs; i++) {
    const scan_def *d = &r->defs[i];
    if (line < d->start_line || line > d->end_line) {
      continue;
    }
    /* Later entries with the same or a later start are nested deeper (outermost first). */
    int *best = d->kind == DEF_CLASS ? &best_cls : &best_fn;
    if (*best < 0 || d->start_line >= r->defs[*best].start_line) {
      *best = (int)i;
    }
  }
  return best_fn >= 0 ? best_fn : best_cls;
}

/* ---- calls ---- */

static const char *const kw_c[] = {
  "if", "for", "while", "switch", "return", "sizeof", "case", "do", "else", "goto",
  "_Alignof", "alignof", "_Static_assert", "static_assert", "__attribute__", "__attribute",
  "defined", "__typeof__", "typeof", "__asm__", "asm", "_Generic", "__builtin_offsetof",
  "__declspec", "__alignof__", "_Alignas", "alignas", "int", "char", "void", "long", "short",
  "unsigned", "signed", "float", "double", "const", "volatile", "struct", "union", "enum",
  NULL,
};
static const char *const kw_cpp[] = {
  "catch", "throw", "new", "delete", "decltype", "noexcept", "typeid", "operator", "template",
  "requires", "co_await", "co_return", "co_yield", "try", "static_cast", "dynamic_cast",
  "reinterpret_cast", "const_cast", "bool", "auto", "this", NULL,
};
static const char *const kw_py[] = {
  "if", "elif", "else", "for", "while", "return", "def", "class", "lambda", "and", "or",
  "not", "in", "is", "with", "as", "assert", "del", "except", "raise", "yield", "await",
  "async", "import", "from", "global", "nonlocal", "pass", "match", "case", "try",
  NULL,
};
static const char *const kw_js[] = {
  "if", "for", "while", "switch", "return", "catch", "function", "typeof", "instanceof",
  "new", "delete", "void", "do", "else", "in", "of", "with", "yield", "await", "async",
  "throw", "case", "super", "import", "class", "extends", "constructor", "get", "set", "try",
  "keyof", "as", "satisfies", "this", NULL,
};
static const char *const kw_go[] = {
  "if", "for", "switch", "return", "func", "go", "defer", "select", "case", "range", "else",
  "chan", "map", "interface", "struct", "type", NULL,
};
static const char *const kw_rust[] = {
  "if", "for", "while", "loop", "match", "return", "fn", "as", "in", "else", "unsafe",
  "move", "async", "await", "impl", "where", "dyn", "let", "mut", "ref", "Some", "Ok", "Err",
  "box", NULL,
};
static const char *const kw_java[] = {
  "if", "for", "while", "switch", "return", "catch", "synchronized", "new", "throw", "do",
  "else", "try", "assert", "case", "super", "this", "instanceof", "yield", NULL,
};
static const char *const kw_lua[] = {
  "if", "elseif", "while", "for", "return", "function", "and", "or", "not", "until", "in",
  "local", "then", "do", "else", "repeat", "end", NULL,
};

static int scan_is_call_keyword(lang_id lang, const char *s, size_t len)
{
  switch (lang) {
  case LANG_C:
    return scan_word_in(s, len, kw_c);
  case LANG_CPP:
    return scan_word_in(s, len, kw_c) || scan_word_in(s, len, kw_cpp);
  case LANG_PYTHON:
    return scan_word_in(s, len, kw_py);
  case LANG_JAVASCRIPT:
  case LANG_TYPESCRIPT:
    return scan_word_in(s, len, kw_js);
  case LANG_GO:
    return scan_word_in(s, len, kw_go);
  case LANG_RUST:
    return scan_word_in(s, len, kw_rust);
  case LANG_JAVA:
    return scan_word_in(s, len, kw_java);
  case LANG_LUA:
    return scan_word_in(s, len, kw_lua);
  default:
    return 0;
  }
}

void scan_nameset_init(scan_nameset *s)
{
  memset(s, 0, sizeof(*s));
}

static size_t scan_hash(const char *p, size_t n)
{
  size_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++) {
    h = (h ^ (unsigned char)p[i]) * 1099511628211u;
  }
  return h;
}

int scan_nameset_add(scan_nameset *s, const char *name, size_t len)
{
  if (s->n * 2 >= s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 64;
    const char **keys = xcalloc(ncap, sizeof(*keys));
    size_t *lens = xcalloc(ncap, sizeof(*lens));
    for (size_t i = 0; i < s->cap; i++) {
      if (s->keys[i]) {
        size_t j = scan_hash(s->keys[i], s->lens[i]) & (ncap - 1);
        while (keys[j]) {
          j = (j + 1) & (ncap - 1);
        }
        keys[j] = s->keys[i];
        lens[j] = s->lens[i];
      }
    }
    free(s->keys);
    free(s->lens);
    s->keys = keys;
    s->lens = lens;
    s->cap = ncap;
  }
  size_t j = scan_hash(name, len) & (s->cap - 1);
  while (s->keys[j]) {
    if (s->lens[j] == len && memcmp(s->keys[j], name, len) == 0) {
      return 0;
    }
    j = (j + 1) & (s->cap - 1);
  }
  s->keys[j] = name;
  s->lens[j] = len;
  s->n++;
  return 1;
}

void scan_nameset_free(scan_nameset *s)
{
  free(s->keys);
  free(s->lens);
  memset(s, 0, sizeof(*s));
}

void scan_emit_call(lang_id lang, scan_nameset *seen, const char *name, size_t len,
                    scan_call_fn fn, void *data)
{
  /* The set remembers keywords too, so each distinct word is checked against the keyword
   * list once: a scope of thousands of lines repeats a few hundred names. */
  if (len == 0 || !scan_nameset_add(seen, name, len)) {
    return;
  }
  if (!scan_is_call_keyword(lang, name, len)) {
    fn(name, len, data);
  }
}

/* Runs the language's reference finder over lines [start_line, end_line]. */
static void scan_refs(lang_id lang, const text_t *text, int start_line, int end_line, int mode,
                      scan_call_fn fn, void *data)
{
  if (!fn || text->nlines == 0 || lang <= LANG_UNKNOWN || lang >= LANG__COUNT) {
    return;
  }
  if (start_line < 1) {
    start_line = 1;
  }
  if (end_line > text->nlines) {
    end_line = text->nlines;
  }
  if (start_line > end_line) {
    return;
  }
  size_t from = text_line_start(text, start_line);
  size_t to = text_line_end(text, end_line);
  switch (lang) {
  case LANG_PYTHON:
    scan_py_calls(text->data, from, to, mode, fn, data);
    break;
  case LANG_LUA:
    scan_lua_calls(text->data, from, to, mode, fn, data);
    break;
  default:
    scan_brace_calls(lang, text->data, from, to, mode, fn, data);
    break;
  }
}

void scan_calls(lang_id lang, const text_t *text, int start_line, int end_line, scan_call_fn fn,
                void *data)
{
  scan_refs(lang, text, start_line, end_line, SCAN_REFS_CALLS, fn, data);
}

void scan_idents(lang_id lang, const text_t *text, int start_line, int end_line, scan_call_fn fn,
                 void *data)
{
  scan_refs(lang, text, start_line, end_line, SCAN_REFS_IDENTS, fn, data);
}

void scan_calls_and_idents(lang_id lang, const text_t *text, int start_line, int end_line,
                           scan_call_fn call_fn, void *call_data, scan_call_fn ident_fn,
                           void *ident_data)
{
  if (lang == LANG_PYTHON || lang == LANG_LUA) {
    scan_refs(lang, text, start_line, end_line, SCAN_REFS_CALLS, call_fn, call_data);
    scan_refs(lang, text, start_line, end_line, SCAN_REFS_IDENTS, ident_fn, ident_data);
    return;
  }
  if ((!call_fn && !ident_fn) || text->nlines == 0 || lang <= LANG_UNKNOWN ||
      lang >= LANG__COUNT) {
    return;
  }
  start_line = start_line < 1 ? 1 : start_line;
  end_line = end_line > text->nlines ? text->nlines : end_line;
  if (start_line > end_line) {
    return;
  }
  scan_brace_refs(lang, text->data, text_line_start(text, start_line),
                  text_line_end(text, end_line), call_fn, call_data, ident_fn, ident_data);
}
