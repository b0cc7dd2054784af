#include "edit/apply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/text.h"

/* A line as compared: its bytes without '\n' and without a CRLF file's '\r'. */
typedef struct {
  const char *s;
  size_t n;
} span;

typedef struct {
  span *v;
  int n;
} lines;

static int fail(char *err, size_t errlen, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static void split_lines(const char *s, size_t len, lines *out)
{
  out->v = NULL;
  out->n = 0;
  size_t off = 0;
  int cap = 0;
  while (off < len) {
    const char *nl = memchr(s + off, '\n', len - off);
    size_t end = nl ? (size_t)(nl - s) : len;
    size_t n = end - off;
    if (nl && n > 0 && s[end - 1] == '\r') {
      n--;
    }
    if (out->n == cap) {
      cap = cap ? cap * 2 : 16;
      out->v = xrealloc(out->v, (size_t)cap * sizeof(span));
    }
    out->v[out->n++] = (span){s + off, n};
    off = nl ? end + 1 : len;
  }
}

static int is_blank_char(char c)
{
  return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r';
}

/* Equal after trimming both ends and counting each inner run of blanks as one. */
static int loose_equal(span a, span b)
{
  size_t i = 0, j = 0;
  while (i < a.n && is_blank_char(a.s[i])) {
    i++;
  }
  while (j < b.n && is_blank_char(b.s[j])) {
    j++;
  }
  size_t an = a.n, bn = b.n;
  while (an > i && is_blank_char(a.s[an - 1])) {
    an--;
  }
  while (bn > j && is_blank_char(b.s[bn - 1])) {
    bn--;
  }
  while (i < an && j < bn) {
    int wa = is_blank_char(a.s[i]), wb = is_blank_char(b.s[j]);
    if (wa != wb) {
      return 0;
    }
    if (wa) {
      while (i < an && is_blank_char(a.s[i])) {
        i++;
      }
      while (j < bn && is_blank_char(b.s[j])) {
        j++;
      }
      continue;
    }
    if (a.s[i] != b.s[j]) {
      return 0;
    }
    i++, j++;
  }
  return i == an && j == bn;
}

static int span_equal(span a, span b)
{
  return a.n == b.n && memcmp(a.s, b.s, a.n) == 0;
}

/* Counts the places where `pat` occurs in `file` (comparing with `eq`); the first three start
 * lines (1-based) go to `at`. */
static int find_all(const lines *file, const lines *pat, int (*eq)(span, span), int at[3])
{
  int count = 0;
  for (int i = 0; i + pat->n <= file->n; i++) {
    int k = 0;
    while (k < pat->n && eq(file->v[i + k], pat->v[k])) {
      k++;
    }
    if (k == pat->n) {
      if (count < 3) {
        at[count] = i + 1;
      }
      count++;
    }
  }
  return count;
}

static size_t lead_len(span s)
{
  size_t i = 0;
  while (i < s.n && (s.s[i] == ' ' || s.s[i] == '\t')) {
    i++;
  }
  return i;
}

/* For a loose match: the prefix the file's lines have in front of the block's indentation, the
 * same on every non-blank line, or (sign -1) the prefix the block has in front of the file's.
 * Returns 0 when the difference is not one constant prefix (the replacement is then kept). */
static int indent_delta(const lines *file, int at, const lines *pat, span *prefix, int *sign)
{
  int found = 0;
  for (int dir = 1; dir >= -1; dir -= 2) {
    found = 0;
    for (int k = 0; k < pat->n; k++) {
      span f = file->v[at - 1 + k], b = pat->v[k];
      if (lead_len(f) == f.n || lead_len(b) == b.n) {
        continue;
      }
      span longer = dir > 0 ? f : b, shorter = dir > 0 ? b : f;
      size_t ll = lead_len(longer), ls = lead_len(shorter);
      if (ll < ls || memcmp(longer.s + ll - ls, shorter.s, ls) != 0) {
        found = -1;
        break;
      }
      span p = {longer.s, ll - ls};
      if (found == 0) {
        *prefix = p;
        found = 1;
      } else if (!span_equal(p, *prefix)) {
        found = -1;
        break;
      }
    }
    if (found == 1 && prefix->n > 0) {
      *sign = dir;
      return 1;
    }
  }
  return 0;
}

static char *reindent(const char *s, size_t len, span prefix, int sign, size_t *outlen)
{
  buf_t b = BUF_INIT;
  size_t off = 0;
  while (off < len) {
    const char *nl = memchr(s + off, '\n', len - off);
    size_t end = nl ? (size_t)(nl - s) + 1 : len;
    span line = {s + off, end - off};
    int blank = lead_len(line) + (nl ? 1 : 0) >= line.n;
    if (!blank && sign > 0) {
      buf_append(&b, prefix.s, prefix.n);
    } else if (!blank && line.n >= prefix.n && memcmp(line.s, prefix.s, prefix.n) == 0) {
      line.s += prefix.n;
      line.n -= prefix.n;
    }
    buf_append(&b, line.s, line.n);
    off = end;
  }
  *outlen = b.len;
  return b.data ? buf_detach(&b) : xstrdup("");
}

static const char *strip_dot(const char *p)
{
  while (p[0] == '.' && p[1] == '/') {
    p += 2;
  }
  return p;
}

static int find_source(const char *path, const edit_source *src, size_t n)
{
  const char *want = strip_dot(path);
  for (size_t i = 0; i < n; i++) {
    if (src[i].path && strcmp(strip_dot(src[i].path), want) == 0) {
      return (int)i;
    }
  }
  return -1;
}

/* A new file must stay inside the project: relative, no ".." component. */
static int safe_new_path(const char *p)
{
  if (p[0] == '/' || p[0] == '~') {
    return 0;
  }
  const char *s = p;
  while (*s) {
    const char *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n == 2 && s[0] == '.' && s[1] == '.') {
      return 0;
    }
    if (!e) {
      break;
    }
    s = e + 1;
  }
  return p[strlen(p) - 1] != '/';
}

static edit_file *file_for(edit_proposal *p, const char *path, int source, int is_new)
{
  const char *want = strip_dot(path);
  for (size_t i = 0; i < p->nfiles; i++) {
    if (strcmp(strip_dot(p->files[i].path), want) == 0) {
      return &p->files[i];
    }
  }
  p->files = xrealloc(p->files, (p->nfiles + 1) * sizeof(edit_file));
  edit_file *f = &p->files[p->nfiles++];
  memset(f, 0, sizeof(*f));
  f->path = xstrdup(path);
  f->source = source;
  f->is_new = is_new;
  return f;
}

static edit_hunk *add_hunk(edit_file *f)
{
  f->edits = xrealloc(f->edits, (f->nedits + 1) * sizeof(edit_hunk));
  edit_hunk *h = &f->edits[f->nedits++];
  memset(h, 0, sizeof(*h));
  return h;
}

static int hunk_cmp(const void *a, const void *b)
{
  const edit_hunk *x = a, *y = b;
  if (x->start_line != y->start_line) {
    return x->start_line < y->start_line ? -1 : 1;
  }
  return x->block < y->block ? -1 : x->block > y->block;
}

/* Matches one block with a non-empty SEARCH against its source's lines. */
static int match_block(const edit_block *b, const lines *file, edit_file *f, buf_t *notes,
                       char *err, size_t errlen)
{
  lines pat;
  split_lines(b->search, b->search_len, &pat);
  int at[3] = {0, 0, 0};
  int loose = 0;
  int count = find_all(file, &pat, span_equal, at);
  if (count == 0) {
    count = find_all(file, &pat, loose_equal, at);
    loose = 1;
  }
  if (count != 1) {
    free(pat.v);
    if (count == 0) {
      return fail(err, errlen,
                  "block %d (%s): the SEARCH lines do not match the text that was sent "
                  "(first: \"%.60s\")",
                  b->number, b->path, b->search_len ? b->search : "");
    }
    return fail(err, errlen,
                "block %d (%s): the SEARCH lines match %d places%s (lines %d, %d%s); a block "
                "must match exactly once",
                b->number, b->path, count, loose ? " ignoring blanks" : "", at[0], at[1],
                count > 2 ? ", ..." : "");
  }
  edit_hunk *h = add_hunk(f);
  h->block = b->number;
  h->start_line = at[0];
  h->end_line = at[0] + pat.n - 1;
  h->loose = loose;
  span prefix = {NULL, 0};
  int sign = 0;
  if (loose && indent_delta(file, at[0], &pat, &prefix, &sign)) {
    h->replacement = reindent(b->replace, b->replace_len, prefix, sign, &h->replacement_len);
  } else {
    h->replacement = xstrndup(b->replace, b->replace_len);
    h->replacement_len = b->replace_len;
  }
  if (loose) {
    buf_printf(notes, "block %d (%s): matched lines %d-%d ignoring blanks%s\n", b->number,
               b->path, h->start_line, h->end_line, sign ? ", replacement re-indented" : "");
  }
  free(pat.v);
  return 0;
}

/* Builds f->text: the source with every hunk applied, keeping the file's line ends. */
static void render_file(edit_file *f, const edit_source *src)
{
  buf_t out = BUF_INIT;
  const char *s = src && src->text ? src->text : "";
  size_t len = src && src->text ? src->len : 0;
  text_t t;
  if (text_init(&t, s, len)) {
    t.nlines = 0;
    t.line_off = NULL;
  }
  int crlf = t.nlines > 0 && text_line_end(&t, 1) >= 2 && s[text_line_end(&t, 1) - 1] == '\n' &&
             s[text_line_end(&t, 1) - 2] == '\r';
  int final_nl = len == 0 || s[len - 1] == '\n';
  int line = 1;
  for (size_t i = 0; i <= f->nedits; i++) {
    int upto = i < f->nedits ? f->edits[i].start_line : t.nlines + 1;
    if (upto > line) {
      size_t a = text_line_start(&t, line), e = text_line_end(&t, upto - 1);
      buf_append(&out, s + a, e - a);
    }
    if (i == f->nedits) {
      break;
    }
    const edit_hunk *h = &f->edits[i];
    for (size_t k = 0; k < h->replacement_len; k++) {
      if (h->replacement[k] == '\n' && crlf) {
        buf_putc(&out, '\r');
      }
      buf_putc(&out, h->replacement[k]);
    }
    line = h->end_line + 1;
  }
  /* A file that did not end in a newline still does not, unless its last line was replaced by
   * nothing. */
  if (!final_nl && out.len > 0 && out.data[out.len - 1] == '\n' &&
      f->nedits > 0 && f->edits[f->nedits - 1].end_line == t.nlines) {
    out.len--;
    if (crlf && out.len > 0 && out.data[out.len - 1] == '\r') {
      out.len--;
    }
    out.data[out.len] = '\0';
  }
  f->len = out.len;
  f->text = out.data ? buf_detach(&out) : xstrdup("");
  if (t.line_off) {
    text_free(&t);
  }
}

static int check_overlaps(const edit_file *f, char *err, size_t errlen)
{
  for (size_t i = 1; i < f->nedits; i++) {
    const edit_hunk *a = &f->edits[i - 1], *b = &f->edits[i];
    int a_end = a->end_line >= a->start_line ? a->end_line : a->start_line - 1;
    if (b->start_line <= a_end || (b->start_line == a->start_line)) {
      return fail(err, errlen, "blocks %d and %d (%s) change the same lines (%d-%d)", a->block,
                  b->block, f->path, b->start_line, a_end > b->end_line ? a_end : b->end_line);
    }
  }
  return 0;
}

int edit_match(const edit_blocks *blocks, const edit_source *sources, size_t nsources,
               edit_proposal *out, char *err, size_t errlen)
{
  memset(out, 0, sizeof(*out));
  buf_t notes = BUF_INIT;
  lines *cache = xcalloc(nsources ? nsources : 1, sizeof(lines));
  int rc = 0;
  for (size_t i = 0; i < blocks->n && rc == 0; i++) {
    const edit_block *b = &blocks->v[i];
    int si = find_source(b->path, sources, nsources);
    int exists = si >= 0 && sources[si].text != NULL;
    if (b->search_len == 0) {
      if (exists && sources[si].len > 0) {
        rc = fail(err, errlen,
                  "block %d (%s): an empty SEARCH creates a new file, but this file exists "
                  "and is not empty",
                  b->number, b->path);
        break;
      }
      if (!exists && !safe_new_path(b->path)) {
        rc = fail(err, errlen,
                  "block %d (%s): a new file must be inside the project (a relative path "
                  "without '..')",
                  b->number, b->path);
        break;
      }
      edit_file *f = file_for(out, b->path, exists ? si : -1, !exists);
      if (f->nedits > 0 && f->edits[f->nedits - 1].end_line == 0) {
        /* Several blocks for one new file: their texts follow each other. */
        edit_hunk *h = &f->edits[f->nedits - 1];
        h->replacement = xrealloc(h->replacement, h->replacement_len + b->replace_len + 1);
        memcpy(h->replacement + h->replacement_len, b->replace, b->replace_len + 1);
        h->replacement_len += b->replace_len;
        continue;
      }
      if (f->nedits > 0) {
        rc = fail(err, errlen, "block %d (%s): an empty SEARCH after other blocks for the file",
                  b->number, b->path);
        break;
      }
      edit_hunk *h = add_hunk(f);
      h->block = b->number;
      h->start_line = 1;
      h->end_line = 0;
      h->replacement = xstrndup(b->replace, b->replace_len);
      h->replacement_len = b->replace_len;
      continue;
    }
    if (!exists) {
      rc = fail(err, errlen,
                si >= 0 ? "block %d (%s): the file did not exist when the request was sent; "
                          "a new file needs an empty SEARCH"
                        : "block %d (%s): this file was not sent, so it cannot be edited "
                          "(only files in scope can be)",
                b->number, b->path);
      break;
    }
    edit_file *f = file_for(out, b->path, si, 0);
    if (f->nedits > 0 && f->edits[0].end_line == 0) {
      rc = fail(err, errlen, "block %d (%s): the file is empty; only an empty SEARCH applies",
                b->number, b->path);
      break;
    }
    if (!cache[si].v && sources[si].len > 0) {
      split_lines(sources[si].text, sources[si].len, &cache[si]);
    }
    rc = match_block(b, &cache[si], f, &notes, err, errlen);
  }
  for (size_t i = 0; i < out->nfiles && rc == 0; i++) {
    edit_file *f = &out->files[i];
    qsort(f->edits, f->nedits, sizeof(edit_hunk), hunk_cmp);
    rc = check_overlaps(f, err, errlen);
    if (rc == 0) {
      render_file(f, f->source >= 0 ? &sources[f->source] : NULL);
    }
  }
  for (size_t i = 0; i < nsources; i++) {
    free(cache[i].v);
  }
  free(cache);
  out->notes = notes.data ? buf_detach(&notes) : xstrdup("");
  if (rc) {
    edit_proposal_free(out);
  }
  return rc;
}

void edit_proposal_free(edit_proposal *p)
{
  for (size_t i = 0; i < p->nfiles; i++) {
    edit_file *f = &p->files[i];
    for (size_t k = 0; k < f->nedits; k++) {
      free(f->edits[k].replacement);
    }
    free(f->edits);
    free(f->path);
    free(f->text);
  }
  free(p->files);
  free(p->notes);
  memset(p, 0, sizeof(*p));
}

/* JSON text must be UTF-8; what the model wrote may not be. */
static json_t *json_text(const char *s, size_t n)
{
  if (utf8_valid(s, n)) {
    return json_stringn(s, n);
  }
  buf_t b = BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      buf_putc(&b, (char)c);
    } else {
      size_t k = 2;
      while (k <= 4 && i + k <= n && !utf8_valid(s + i, k)) {
        k++;
      }
      if (k <= 4 && i + k <= n) {
        buf_append(&b, s + i, k);
        i += k - 1;
      } else {
        buf_puts(&b, "\xef\xbf\xbd");
      }
    }
  }
  json_t *j = json_stringn(b.data ? b.data : "", b.len);
  buf_free(&b);
  return j;
}

json_t *edit_proposal_json(const edit_proposal *p)
{
  json_t *files = json_array();
  for (size_t i = 0; i < p->nfiles; i++) {
    const edit_file *f = &p->files[i];
    json_t *edits = json_array();
    for (size_t k = 0; k < f->nedits; k++) {
      const edit_hunk *h = &f->edits[k];
      json_t *e = json_object();
      json_object_set_new(e, "start_line", json_integer(h->start_line));
      json_object_set_new(e, "end_line", json_integer(h->end_line));
      json_object_set_new(e, "replacement", json_text(h->replacement, h->replacement_len));
      json_array_append_new(edits, e);
    }
    json_t *o = json_object();
    json_object_set_new(o, "path", json_text(f->path, strlen(f->path)));
    json_object_set_new(o, "new", json_boolean(f->is_new));
    json_object_set_new(o, "edits", edits);
    json_array_append_new(files, o);
  }
  return files;
}
