/* repomap_outline: one file as signatures, types and doc comments, with line numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context/scan.h"
#include "core/tokens.h"
#include "repomap/repomap.h"

#define OUTLINE_DOC_LINES 8
#define OUTLINE_SIG_LINES 6
#define OUTLINE_TYPE_LINES 40

static int brace_lang(lang_id l)
{
  return l != LANG_PYTHON && l != LANG_LUA && l != LANG_UNKNOWN;
}

static void keep_range(unsigned char *keep, int nlines, int a, int b)
{
  if (a < 1) {
    a = 1;
  }
  for (int i = a; i <= b && i <= nlines; i++) {
    keep[i] = 1;
  }
}

static const char *line_at(const text_t *t, int line, size_t *len)
{
  size_t a = text_line_start(t, line), e = text_line_end(t, line);
  while (e > a && (t->data[e - 1] == '\n' || t->data[e - 1] == '\r')) {
    e--;
  }
  *len = e - a;
  return t->data + a;
}

static int starts_with_word(const char *s, size_t n, const char *w)
{
  size_t i = 0, k = strlen(w);
  while (i < n && (s[i] == ' ' || s[i] == '\t')) {
    i++;
  }
  return n - i >= k && memcmp(s + i, w, k) == 0;
}

static int is_comment_start(lang_id lang, const char *s, size_t n)
{
  if (lang == LANG_PYTHON) {
    return starts_with_word(s, n, "#") || starts_with_word(s, n, "\"\"\"") ||
           starts_with_word(s, n, "'''");
  }
  if (lang == LANG_LUA) {
    return starts_with_word(s, n, "--");
  }
  return starts_with_word(s, n, "/*") || starts_with_word(s, n, "//") ||
         starts_with_word(s, n, "*") || starts_with_word(s, n, "#!");
}

static int wanted_whole(const repomap_outline_opts *o, const char *name)
{
  const char *bare = repomap_bare_name(name);
  for (size_t i = 0; o && i < o->nkeep; i++) {
    if (o->keep_whole[i] && (strcmp(o->keep_whole[i], name) == 0 ||
                             strcmp(o->keep_whole[i], bare) == 0)) {
      return 1;
    }
  }
  return 0;
}

int repomap_outline(lang_id lang, const text_t *t, const repomap_outline_opts *opts,
                    buf_t *out)
{
  int n = t->nlines;
  if (n == 0) {
    return 0;
  }
  int type_max = opts && opts->type_max_lines > 0 ? opts->type_max_lines : OUTLINE_TYPE_LINES;
  unsigned char *keep = calloc((size_t)n + 2, 1);
  scan_result r;
  memset(&r, 0, sizeof(r));
  scan_file(lang, t, &r);
  unsigned char *in_def = calloc((size_t)n + 2, 1);
  for (size_t i = 0; i < r.ndefs; i++) {
    for (int l = r.defs[i].start_line; l <= r.defs[i].end_line && l <= n; l++) {
      in_def[l] = 1;
    }
  }
  /* The leading comment says what the file is for. */
  for (int l = 1, k = 0; l <= n && k < OUTLINE_DOC_LINES; l++, k++) {
    size_t len;
    const char *s = line_at(t, l, &len);
    if (len == 0 || in_def[l] || (l == 1 && !is_comment_start(lang, s, len))) {
      break;
    }
    keep[l] = 1;
  }
  for (size_t i = 0; i < r.nimports; i++) {
    keep_range(keep, n, r.imports[i].start_line, r.imports[i].end_line);
  }
  if (brace_lang(lang)) {
    for (int l = 1; l <= n; l++) {
      size_t len;
      const char *s = line_at(t, l, &len);
      if (!in_def[l] && (starts_with_word(s, len, "#define") || starts_with_word(s, len, "#if") ||
                         starts_with_word(s, len, "#endif"))) {
        keep[l] = 1;
      }
    }
  }
  for (size_t i = 0; i < r.ndefs; i++) {
    const scan_def *d = &r.defs[i];
    int local = 0;
    for (int p = d->parent; p >= 0 && !local; p = r.defs[p].parent) {
      local = r.defs[p].kind != DEF_CLASS;
    }
    if (local) {
      continue;
    }
    int doc_end = d->head_line - 1;
    int doc_start = d->start_line;
    if (doc_end - doc_start + 1 > OUTLINE_DOC_LINES) {
      doc_end = doc_start + OUTLINE_DOC_LINES - 1;
    }
    keep_range(keep, n, doc_start, doc_end);
    int sig_end = d->body_line >= d->head_line ? d->body_line : d->head_line;
    if (sig_end - d->head_line + 1 > OUTLINE_SIG_LINES) {
      sig_end = d->head_line + OUTLINE_SIG_LINES - 1;
    }
    keep_range(keep, n, d->head_line, sig_end);
    if (lang == LANG_PYTHON && sig_end + 1 <= d->end_line) {
      /* A docstring's first line right under the def. */
      size_t len;
      const char *s = line_at(t, sig_end + 1, &len);
      if (starts_with_word(s, len, "\"\"\"") || starts_with_word(s, len, "'''")) {
        keep[sig_end + 1] = 1;
      }
    }
    /* A function the goal names is kept whole; a class it names keeps its methods'
     * signatures (their bodies are what an outline is for leaving out). */
    int whole = (d->kind != DEF_CLASS && wanted_whole(opts, d->name)) ||
                (d->kind == DEF_CLASS && d->end_line - d->start_line + 1 <= type_max &&
                 (brace_lang(lang) || d->end_line == d->head_line));
    if (whole) {
      keep_range(keep, n, d->start_line, d->end_line);
    } else if (brace_lang(lang) && d->end_line > sig_end) {
      keep[d->end_line] = 1; /* the closing brace: the outline keeps the nesting visible */
    }
  }
  int width = snprintf(NULL, 0, "%d", n);
  size_t start = out->len;
  int gap = 0;
  for (int l = 1; l <= n; l++) {
    if (!keep[l]) {
      size_t len;
      const char *s = line_at(t, l, &len);
      while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        len--;
      }
      gap |= len > 0; /* blank lines left out are not worth a "..." */
      continue;
    }
    if (gap && out->len > start) {
      buf_printf(out, "%*s| ...\n", width, "");
    }
    gap = 0;
    size_t len;
    const char *s = line_at(t, l, &len);
    buf_printf(out, len ? "%*d| " : "%*d|", width, l);
    buf_append(out, s, len);
    buf_putc(out, '\n');
  }
  if (gap && out->len > start) {
    buf_printf(out, "%*s| ...\n", width, "");
  }
  scan_result_free(&r);
  free(keep);
  free(in_def);
  return tokens_estimate(lang, out->data ? out->data + start : "", out->len - start);
}
