/* The repo map's cache: interned names, per-file scan results (definitions with their
 * signatures, the names each file uses) kept while a file's size and mtime are unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repomap/repomap_int.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/text.h"

/* A signature longer than this is cut: the name and the first parameters say enough. */
#define RM_SIG_MAX 160
/* Signature lines kept from head_line on (a K&R or heavily wrapped declaration). */
#define RM_SIG_LINES 4

static size_t hash_bytes(const char *s, size_t n)
{
  size_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++) {
    h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  }
  return h;
}

repomap_cache *repomap_cache_new(void)
{
  repomap_cache *c = xcalloc(1, sizeof(*c));
  uv_mutex_init(&c->lock);
  return c;
}

void rm_file_clear(rm_file *f)
{
  for (int i = 0; i < f->ndefs; i++) {
    free(f->defs[i].sig);
  }
  free(f->defs);
  free(f->refs);
  free(f->called);
  f->called = NULL;
  f->defs = NULL;
  f->refs = NULL;
  f->ndefs = f->nrefs = 0;
}

void repomap_cache_free(repomap_cache *c)
{
  if (!c) {
    return;
  }
  for (size_t i = 0; i < c->file_cap; i++) {
    rm_file_clear(&c->files[i]);
    free(c->files[i].abs);
  }
  free(c->files);
  for (size_t i = 0; i < c->nnames; i++) {
    free(c->names[i]);
  }
  free(c->names);
  free(c->name_slot);
  uv_mutex_destroy(&c->lock);
  free(c);
}

/* The id of name s[0..n), interned when `add`; -1 when absent and not added. */
int rm_name_id(repomap_cache *c, const char *s, size_t n, int add)
{
  if (add && (c->nnames + 1) * 2 > c->name_cap) {
    size_t cap = c->name_cap ? c->name_cap * 2 : 1024;
    int *slot = xmalloc(cap * sizeof(int));
    memset(slot, 0xff, cap * sizeof(int));
    for (size_t id = 0; id < c->nnames; id++) {
      size_t j = hash_bytes(c->names[id], strlen(c->names[id])) & (cap - 1);
      while (slot[j] >= 0) {
        j = (j + 1) & (cap - 1);
      }
      slot[j] = (int)id;
    }
    free(c->name_slot);
    c->name_slot = slot;
    c->name_cap = cap;
    c->names = xrealloc(c->names, cap / 2 * sizeof(char *));
  }
  if (c->name_cap == 0) {
    return -1;
  }
  size_t j = hash_bytes(s, n) & (c->name_cap - 1);
  while (c->name_slot[j] >= 0) {
    const char *k = c->names[c->name_slot[j]];
    if (strncmp(k, s, n) == 0 && k[n] == '\0') {
      return c->name_slot[j];
    }
    j = (j + 1) & (c->name_cap - 1);
  }
  if (!add) {
    return -1;
  }
  c->names[c->nnames] = xstrndup(s, n);
  c->name_slot[j] = (int)c->nnames;
  return (int)c->nnames++;
}

/* The cache slot for `abs` (found or empty). */
rm_file *rm_file_slot(repomap_cache *c, const char *abs)
{
  if ((c->nfiles + 1) * 2 > c->file_cap) {
    size_t cap = c->file_cap ? c->file_cap * 2 : 256;
    rm_file *files = xcalloc(cap, sizeof(rm_file));
    for (size_t i = 0; i < c->file_cap; i++) {
      if (c->files[i].abs) {
        size_t j = hash_bytes(c->files[i].abs, strlen(c->files[i].abs)) & (cap - 1);
        while (files[j].abs) {
          j = (j + 1) & (cap - 1);
        }
        files[j] = c->files[i];
      }
    }
    free(c->files);
    c->files = files;
    c->file_cap = cap;
  }
  size_t j = hash_bytes(abs, strlen(abs)) & (c->file_cap - 1);
  while (c->files[j].abs && strcmp(c->files[j].abs, abs) != 0) {
    j = (j + 1) & (c->file_cap - 1);
  }
  return &c->files[j];
}

/* Drops the entries under `root` that this build did not see (deleted files), re-inserting the
 * others so that probing stays correct. */
void rm_cache_evict_unseen(repomap_cache *c, const char *root)
{
  size_t rn = strlen(root);
  rm_file *old = c->files;
  size_t cap = c->file_cap;
  c->files = xcalloc(cap, sizeof(rm_file));
  c->nfiles = 0;
  for (size_t i = 0; i < cap; i++) {
    rm_file *f = &old[i];
    if (!f->abs) {
      continue;
    }
    if (f->gen != c->gen && strncmp(f->abs, root, rn) == 0 && f->abs[rn] == '/') {
      rm_file_clear(f);
      free(f->abs);
      continue;
    }
    size_t j = hash_bytes(f->abs, strlen(f->abs)) & (cap - 1);
    while (c->files[j].abs) {
      j = (j + 1) & (cap - 1);
    }
    c->files[j] = *f;
    c->nfiles++;
  }
  free(old);
}

const char *repomap_bare_name(const char *name)
{
  const char *b = name;
  for (const char *p = name; *p; p++) {
    if (p[0] == ':' && p[1] == ':') {
      b = p + 2;
    } else if (p[0] == '.' && p[1]) {
      b = p + 1;
    }
  }
  return b;
}

/* The declaration lines head_line..body_line as one line: blanks collapsed, cut before the
 * body (the first '{' outside parentheses for brace languages, the first ':' for Python, after
 * the parameter list for Lua). */
static char *signature(const text_t *t, const scan_def *d, lang_id lang)
{
  int to = d->body_line >= d->head_line ? d->body_line : d->head_line;
  if (to > d->head_line + RM_SIG_LINES - 1) {
    to = d->head_line + RM_SIG_LINES - 1;
  }
  buf_t b = BUF_INIT;
  int depth = 0, seen_paren = 0, done = 0, space = 0;
  for (int line = d->head_line; line <= to && !done; line++) {
    size_t a = text_line_start(t, line), e = text_line_end(t, line);
    for (size_t i = a; i < e && !done; i++) {
      char ch = t->data[i];
      if ((unsigned char)ch < 0x20 || ch == ' ' || ch == 0x7f) {
        space = b.len > 0;
        continue;
      }
      if (ch == '(' || ch == '[') {
        depth++;
        seen_paren = 1;
      } else if (ch == ')' || ch == ']') {
        depth--;
      }
      if (depth <= 0) {
        if (lang == LANG_PYTHON && ch == ':') {
          done = 1;
          break;
        }
        if (lang != LANG_PYTHON && lang != LANG_LUA && ch == '{') {
          done = 1;
          break;
        }
      }
      if (space) {
        buf_putc(&b, ' ');
        space = 0;
      }
      buf_putc(&b, ch);
      if (lang == LANG_LUA && seen_paren && depth == 0 && ch == ')') {
        done = 1;
      }
      if (b.len > RM_SIG_MAX) {
        /* Cut at a character boundary. */
        while (b.len > 0 && ((unsigned char)b.data[b.len - 1] & 0xc0) == 0x80) {
          b.len--;
        }
        if (b.len > 0 && (unsigned char)b.data[b.len - 1] >= 0xc0) {
          b.len--;
        }
        b.data[b.len] = '\0';
        buf_puts(&b, "...");
        done = 1;
      }
    }
  }
  const char *bare = *repomap_bare_name(d->name) ? repomap_bare_name(d->name) : "?";
  if (!b.data || !strstr(b.data, bare)) {
    /* typedef struct { ... } name_t; the name comes after the body. */
    buf_printf(&b, "%s%s", b.len ? " {...} " : "", bare);
  }
  /* The map is prompt text: what is not UTF-8 becomes '?'. */
  buf_t clean = BUF_INIT;
  for (size_t i = 0; i < b.len; i++) {
    unsigned char c = (unsigned char)b.data[i];
    size_t k = 1;
    if (c >= 0x80) {
      for (k = 2; k <= 4 && !(i + k <= b.len && utf8_valid(b.data + i, k)); k++) {
      }
    }
    if (k > 4) {
      buf_putc(&clean, '?');
    } else {
      buf_append(&clean, b.data + i, k);
      i += k - 1;
    }
  }
  buf_free(&b);
  return buf_detach(&clean);
}

typedef struct {
  repomap_cache *c;
  int *ids;
  int n, cap;
} ref_sink;

static void collect_ref(const char *name, size_t len, void *data)
{
  ref_sink *s = data;
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 64;
    s->ids = xrealloc(s->ids, (size_t)s->cap * sizeof(int));
  }
  s->ids[s->n++] = rm_name_id(s->c, name, len, 1);
}

static int int_cmp(const void *a, const void *b)
{
  int x = *(const int *)a, y = *(const int *)b;
  return x < y ? -1 : x > y;
}

/* (Re)scans `f` from `abs`. A file that cannot be read or looks binary keeps no definitions. */
static void scan_one(repomap_cache *c, rm_file *f, const char *abs, lang_id lang, size_t max)
{
  rm_file_clear(f);
  file_contents fc;
  char err[256];
  if (file_load(&fc, abs, max, err, sizeof(err))) {
    return;
  }
  if (memchr(fc.data, '\0', fc.len < 8192 ? fc.len : 8192)) {
    file_release(&fc);
    return;
  }
  text_t t;
  scan_result r;
  memset(&r, 0, sizeof(r));
  if (text_init(&t, fc.data, fc.len) == 0) {
    if (scan_file(lang, &t, &r) == 0 && r.ndefs > 0) {
      f->defs = xcalloc(r.ndefs, sizeof(rm_def));
      for (size_t i = 0; i < r.ndefs; i++) {
        const scan_def *d = &r.defs[i];
        const char *bare = repomap_bare_name(d->name);
        if (!*bare) {
          bare = "?"; /* the scanner found a definition it could not name */
        }
        f->defs[i] = (rm_def){
          .name = rm_name_id(c, bare, strlen(bare), 1),
          .kind = d->kind,
          .line = d->head_line,
          .parent = d->parent,
          .sig = signature(&t, d, lang),
        };
      }
      f->ndefs = (int)r.ndefs;
    }
    ref_sink idents = {c, NULL, 0, 0}, calls = {c, NULL, 0, 0};
    scan_idents(lang, &t, 1, t.nlines, collect_ref, &idents);
    scan_calls(lang, &t, 1, t.nlines, collect_ref, &calls);
    f->refs = idents.ids;
    f->nrefs = idents.n;
    f->called = xcalloc(idents.n ? (size_t)idents.n : 1, 1);
    if (idents.n > 1) {
      qsort(idents.ids, (size_t)idents.n, sizeof(int), int_cmp);
    }
    if (calls.n > 1) {
      qsort(calls.ids, (size_t)calls.n, sizeof(int), int_cmp);
    }
    for (int i = 0, j = 0; i < idents.n && j < calls.n;) {
      if (idents.ids[i] == calls.ids[j]) {
        f->called[i++] = 1;
        j++;
      } else if (idents.ids[i] < calls.ids[j]) {
        i++;
      } else {
        j++;
      }
    }
    free(calls.ids);
    scan_result_free(&r);
    text_free(&t);
  }
  file_release(&fc);
}

/* The cache entry for `abs`, scanned again unless its size and mtime are unchanged. */
rm_file *rm_cached_file(repomap_cache *c, const char *abs, off_t size, int64_t mtime,
                        lang_id lang, size_t max, int *scanned)
{
  rm_file *f = rm_file_slot(c, abs);
  if (!f->abs) {
    f->abs = xstrdup(abs);
    c->nfiles++;
  } else if (f->size == size && f->mtime_ns == mtime) {
    f->gen = c->gen;
    *scanned = 0;
    return f;
  }
  scan_one(c, f, abs, lang, max);
  f->lang = lang;
  f->size = size;
  f->mtime_ns = mtime;
  f->gen = c->gen;
  *scanned = 1;
  return f;
}
