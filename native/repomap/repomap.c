/* The repo map: per-file scan results cached by size and mtime, a PageRank over "file uses a
 * name another file defines", and the cut to a token budget. See repomap.h. */
#include "repomap/repomap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context/scan.h"
#include "context/tokens.h"
#include "repomap/repomap_int.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/text.h"

/* A signature longer than this is cut: the name and the first parameters say enough. */
#define RM_SIG_MAX 160
/* Signature lines kept from head_line on (a K&R or heavily wrapped declaration). */
#define RM_SIG_LINES 4
/* A name defined in more files than this says nothing about which file is meant ("init",
 * "main", "new"): its uses make no edges. */
#define RM_NAME_MAX_FILES 24
/* Candidates kept for the cut; more never fit a budget of a few thousand tokens. */
#define RM_MAX_CANDIDATES 6000
#define RM_PR_ITERATIONS 30
/* A name the scope uses ranks first only when few files define it: `count` or `result` used as
 * a method of something says nothing about which of fifty classes is meant. */
#define RM_SCOPE_MAX_FILES 4
#define RM_TEST_WEIGHT 0.1
#define RM_LOOSE_METHOD_WEIGHT 0.1
#define RM_PR_DAMPING 0.5

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
static void evict_unseen(repomap_cache *c, const char *root)
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

static const char *bare_name(const char *name)
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
  const char *bare = *bare_name(d->name) ? bare_name(d->name) : "?";
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
        const char *bare = bare_name(d->name);
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
static rm_file *cached_file(repomap_cache *c, const char *abs, off_t size, int64_t mtime,
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

static void limits_default(repomap_limits *l)
{
  if (l->max_files <= 0) {
    l->max_files = 20000;
  }
  if (l->max_depth <= 0) {
    l->max_depth = 24;
  }
  if (l->max_ms <= 0) {
    l->max_ms = 5000;
  }
  if (l->max_file_bytes == 0) {
    l->max_file_bytes = 1024 * 1024;
  }
}

/* ---- ranking ---- */

typedef struct {
  int file;   /* index among the walked files */
  int def;    /* index in that file's defs */
  double score;
  int scoped; /* 2: in a scope file not sent whole; 1: its name is used by a file in scope or
                 mentioned; 0 */
} rm_cand;

typedef struct {
  const rm_walk *walk;
  rm_file **files;  /* per walked file */
  int nf;
  int *in_scope;    /* per walked file: 0, 1 in scope and sent whole, 2 in scope not sent */
  /* definitions by name (CSR over name ids): def_at[name_start[x] .. name_start[x+1]) */
  int *name_start;
  int *def_file;
  int *def_idx;
  int *nfiles_of;   /* per name: files defining it */
  double *pr;       /* per walked file */
  double *outw;     /* per walked file: names it uses that make edges */
  int **kr;         /* per walked file, per ref: how many files its use reaches (0: none) */
  unsigned char *builtin; /* per name: bit lang_family(l) when a builtin of l (< 8 families) */
  unsigned families; /* bit lang_family(l) set for each language of the files in scope (all
                        bits when there are only mentions) */
} rm_graph;

static int owns_name(const rm_graph *g, int file, int name)
{
  for (int k = g->name_start[name]; k < g->name_start[name + 1]; k++) {
    if (g->def_file[k] == file) {
      return 1;
    }
  }
  return 0;
}

/* Whether the definition at CSR position k receives a use of its name: a call reaches any
 * definition of the name, a bare mention only a type (a local variable called `pos` is not a
 * use of some other file's function `pos`). */
static int receives(const rm_graph *g, int k, int is_call)
{
  return is_call || g->files[g->def_file[k]]->defs[g->def_idx[k]].kind == DEF_CLASS;
}

/* Languages whose files can use each other's names: C with C++, JavaScript with TypeScript. A
 * C file calling die() does not use a Python script's die(). */
static int lang_family(lang_id l)
{
  return l == LANG_CPP ? LANG_C : l == LANG_TYPESCRIPT ? LANG_JAVASCRIPT : (int)l;
}

static int same_family(const rm_graph *g, int a, int k)
{
  return lang_family(g->files[a]->lang) == lang_family(g->files[g->def_file[k]]->lang);
}

/* Names every program of the language has without defining them: a call of one is not a use
 * of a project definition that happens to share the name (locale.str, idlelib's any). */
static const char *const builtins_py[] = {
  "abs", "all", "any", "ascii", "bin", "bool", "breakpoint", "bytearray", "bytes", "callable",
  "chr", "classmethod", "compile", "complex", "delattr", "dict", "dir", "divmod", "enumerate",
  "eval", "exec", "filter", "float", "format", "frozenset", "getattr", "globals", "hasattr",
  "hash", "help", "hex", "id", "input", "int", "isinstance", "issubclass", "iter", "len",
  "list", "locals", "map", "max", "memoryview", "min", "next", "object", "oct", "open", "ord",
  "pow", "print", "property", "range", "repr", "reversed", "round", "set", "setattr", "slice",
  "sorted", "staticmethod", "str", "sum", "super", "tuple", "type", "vars", "zip", "Ellipsis",
  "NotImplemented", "Exception", "BaseException", "ValueError", "TypeError", "KeyError",
  "IndexError", "RuntimeError", "OSError", "StopIteration", "AttributeError", "TimeoutError",
  "NotImplementedError", "EOFError", "ImportError", "LookupError", NULL,
};
static const char *const builtins_js[] = {
  "Array", "Boolean", "Date", "Error", "JSON", "Map", "Math", "Number", "Object", "Promise",
  "RegExp", "Set", "String", "Symbol", "TypeError", "WeakMap", "console", "parseInt",
  "parseFloat", "require", "setTimeout", "clearTimeout", "setInterval", "fetch", NULL,
};
static const char *const builtins_lua[] = {
  "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "print", "rawget",
  "rawset", "require", "select", "setmetatable", "tonumber", "tostring", "type", "unpack",
  "xpcall", NULL,
};
static const char *const builtins_c[] = {
  "malloc", "calloc", "realloc", "free", "memcpy", "memmove", "memset", "memcmp", "strlen",
  "strcmp", "strncmp", "strcpy", "strncpy", "strchr", "strrchr", "strstr", "strdup", "printf",
  "fprintf", "snprintf", "sprintf", "vsnprintf", "fopen", "fclose", "fread", "fwrite", "exit",
  "abort", "assert", "open", "close", "read", "write", "qsort", "getenv", NULL,
};

/* Marks in g->builtin the names of `list` for languages of `family`. */
static void mark_builtins(rm_graph *g, repomap_cache *c, const char *const *list, int family)
{
  for (size_t i = 0; list[i]; i++) {
    int x = rm_name_id(c, list[i], strlen(list[i]), 0);
    if (x >= 0) {
      g->builtin[x] |= (unsigned char)(1u << family);
    }
  }
}

static int is_builtin(const rm_graph *g, const rm_file *user, int x)
{
  return (g->builtin[x] >> lang_family(user->lang)) & 1;
}

/* How many files file `a`'s use of name `x` reaches: none when `a` defines the name itself (a
 * C file's static helper, a class's own method) or too many files define it to tell. */
static int reach(const rm_graph *g, int a, int x, int is_call)
{
  if (x < 0 || g->nfiles_of[x] == 0 || g->nfiles_of[x] > RM_NAME_MAX_FILES ||
      is_builtin(g, g->files[a], x) || owns_name(g, a, x)) {
    return 0;
  }
  int n = 0, last = -1;
  for (int k = g->name_start[x]; k < g->name_start[x + 1]; k++) {
    if (g->def_file[k] != last && receives(g, k, is_call) && same_family(g, a, k)) {
      last = g->def_file[k];
      n++;
    }
  }
  return n;
}

static void build_index(rm_graph *g, size_t nnames)
{
  g->name_start = xcalloc(nnames + 2, sizeof(int));
  g->nfiles_of = xcalloc(nnames + 1, sizeof(int));
  int *last_file = xmalloc((nnames + 1) * sizeof(int));
  memset(last_file, 0xff, (nnames + 1) * sizeof(int));
  int total = 0;
  for (int i = 0; i < g->nf; i++) {
    for (int d = 0; d < g->files[i]->ndefs; d++) {
      int x = g->files[i]->defs[d].name;
      g->name_start[x + 1]++;
      total++;
      if (last_file[x] != i) {
        last_file[x] = i;
        g->nfiles_of[x]++;
      }
    }
  }
  for (size_t x = 0; x < nnames; x++) {
    g->name_start[x + 1] += g->name_start[x];
  }
  g->name_start[nnames + 1] = g->name_start[nnames];
  g->def_file = xmalloc((total ? total : 1) * sizeof(int));
  g->def_idx = xmalloc((total ? total : 1) * sizeof(int));
  int *fill = xmalloc((nnames + 1) * sizeof(int));
  memcpy(fill, g->name_start, (nnames + 1) * sizeof(int));
  for (int i = 0; i < g->nf; i++) {
    for (int d = 0; d < g->files[i]->ndefs; d++) {
      int x = g->files[i]->defs[d].name;
      g->def_file[fill[x]] = i;
      g->def_idx[fill[x]++] = d;
    }
  }
  free(fill);
  free(last_file);
}

/* PageRank over files: A -> B with weight 1/k for each name A uses that reaches k files (B
 * among them). The restart vector is the files in scope (all files when none is in the walk),
 * so the rank measures closeness to what the user is working on. */
static void page_rank(rm_graph *g)
{
  int n = g->nf;
  g->pr = xcalloc(n ? (size_t)n : 1, sizeof(double));
  g->outw = xcalloc(n ? (size_t)n : 1, sizeof(double));
  g->kr = xcalloc(n ? (size_t)n : 1, sizeof(int *));
  double *restart = xcalloc(n ? (size_t)n : 1, sizeof(double));
  double *next = xcalloc(n ? (size_t)n : 1, sizeof(double));
  int nscope = 0;
  for (int i = 0; i < n; i++) {
    nscope += g->in_scope[i];
  }
  for (int i = 0; i < n; i++) {
    restart[i] = nscope ? (g->in_scope[i] ? 1.0 / nscope : 0) : 1.0 / n;
    g->pr[i] = restart[i];
    const rm_file *f = g->files[i];
    g->kr[i] = xmalloc((f->nrefs ? (size_t)f->nrefs : 1) * sizeof(int));
    for (int r = 0; r < f->nrefs; r++) {
      g->kr[i][r] = reach(g, i, f->refs[r], f->called[r]);
      g->outw[i] += g->kr[i][r] > 0; /* each use's 1/k over its k files sums to 1 */
    }
  }
  /* The edges, merged per pair of files, once: the iterations then only multiply. */
  int *estart = xcalloc((size_t)n + 1, sizeof(int));
  int *edst = NULL, ecap = 0, ne = 0;
  float *ew = NULL;
  double *acc = xcalloc(n ? (size_t)n : 1, sizeof(double));
  int *touched = xmalloc((n ? (size_t)n : 1) * sizeof(int));
  for (int i = 0; i < n; i++) {
    const rm_file *f = g->files[i];
    int nt = 0;
    for (int r = 0; r < f->nrefs; r++) {
      if (g->kr[i][r] == 0) {
        continue;
      }
      int x = f->refs[r], last = -1;
      for (int k = g->name_start[x]; k < g->name_start[x + 1]; k++) {
        if (g->def_file[k] != last && receives(g, k, f->called[r]) && same_family(g, i, k)) {
          last = g->def_file[k];
          if (acc[last] == 0) {
            touched[nt++] = last;
          }
          acc[last] += 1.0 / g->kr[i][r];
        }
      }
    }
    estart[i] = ne;
    for (int t = 0; t < nt; t++) {
      if (ne == ecap) {
        ecap = ecap ? ecap * 2 : 4096;
        edst = xrealloc(edst, (size_t)ecap * sizeof(int));
        ew = xrealloc(ew, (size_t)ecap * sizeof(float));
      }
      edst[ne] = touched[t];
      ew[ne++] = (float)(acc[touched[t]] / g->outw[i]);
      acc[touched[t]] = 0;
    }
  }
  estart[n] = ne;
  free(acc);
  free(touched);
  for (int it = 0; it < RM_PR_ITERATIONS; it++) {
    double dangling = 0;
    memset(next, 0, (size_t)n * sizeof(double));
    for (int i = 0; i < n; i++) {
      if (estart[i] == estart[i + 1]) {
        dangling += g->pr[i];
        continue;
      }
      for (int e = estart[i]; e < estart[i + 1]; e++) {
        next[edst[e]] += g->pr[i] * ew[e];
      }
    }
    for (int i = 0; i < n; i++) {
      g->pr[i] =
        (1 - RM_PR_DAMPING) * restart[i] + RM_PR_DAMPING * (next[i] + dangling * restart[i]);
    }
  }
  free(estart);
  free(edst);
  free(ew);
  free(next);
  free(restart);
}

static int cand_cmp(const void *a, const void *b)
{
  const rm_cand *x = a, *y = b;
  if (x->scoped != y->scoped) {
    return y->scoped - x->scoped;
  }
  if (x->score != y->score) {
    return x->score < y->score ? 1 : -1;
  }
  if (x->file != y->file) {
    return x->file - y->file;
  }
  return x->def - y->def;
}

/* Files in path order, so the outline reads like a tree listing and stays the same from one
 * build to the next for a stable prompt prefix. */
static int rel_cmp(const void *a, const void *b, void *walk)
{
  const rm_walk *w = walk;
  return strcmp(w->v[*(const int *)a].rel, w->v[*(const int *)b].rel);
}

typedef struct {
  int order; /* the file's rank in path order */
  int file;
  int def;
} rm_pick;

static int pick_cmp(const void *a, const void *b)
{
  const rm_pick *x = a, *y = b;
  return x->order != y->order ? x->order - y->order : x->def - y->def;
}

/* Renders the first `k` candidates; `shown` gets the number of definitions printed (the picks
 * plus the classes printed as their context) and `files` the files. */
static void render(const rm_graph *g, const rm_cand *cand, int k, const int *path_order,
                   buf_t *out, int *shown, int *files)
{
  buf_clear(out);
  *shown = *files = 0;
  if (k == 0) {
    return;
  }
  rm_pick *picks = xmalloc((size_t)k * sizeof(rm_pick));
  for (int i = 0; i < k; i++) {
    picks[i] = (rm_pick){path_order[cand[i].file], cand[i].file, cand[i].def};
  }
  qsort(picks, (size_t)k, sizeof(rm_pick), pick_cmp);
  unsigned char *printed = NULL;
  int printed_cap = 0, cur = -1;
  for (int i = 0; i < k; i++) {
    const rm_file *f = g->files[picks[i].file];
    if (picks[i].file != cur) {
      cur = picks[i].file;
      if (f->ndefs > printed_cap) {
        printed_cap = f->ndefs;
        printed = xrealloc(printed, (size_t)printed_cap);
      }
      memset(printed, 0, (size_t)f->ndefs);
      buf_printf(out, "%s:\n", g->walk->v[cur].rel);
      (*files)++;
    }
    /* The definition and the enclosing ones not yet printed, outermost first. */
    int chain[16], n = 0;
    for (int d = picks[i].def; d >= 0 && n < 16; d = f->defs[d].parent) {
      chain[n++] = d;
    }
    for (int j = n - 1; j >= 0; j--) {
      int d = chain[j];
      if (printed[d]) {
        continue;
      }
      printed[d] = 1;
      for (int s = 0; s < n - j; s++) {
        buf_puts(out, "  ");
      }
      buf_printf(out, "%s\n", f->defs[d].sig);
      (*shown)++;
    }
  }
  free(printed);
  free(picks);
}

static char *resolve_path(const char *root, const char *path)
{
  buf_t b = BUF_INIT;
  if (path[0] == '/') {
    buf_puts(&b, path);
  } else {
    buf_printf(&b, "%s/%s", root, path);
  }
  char *real = realpath(b.data, NULL);
  buf_free(&b);
  return real;
}

/* Marks the names the files in scope use (not their own definitions) and the mentions. */
static unsigned char *scoped_names(repomap_cache *c, const repomap_request *req,
                                   const repomap_limits *lim, char **scope_abs)
{
  /* Scanning the scope files may intern new names: size the marks afterwards. */
  rm_file **sf = xcalloc(req->nscope ? req->nscope : 1, sizeof(rm_file *));
  for (size_t i = 0; i < req->nscope; i++) {
    struct stat st;
    if (!scope_abs[i] || stat(scope_abs[i], &st) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    lang_id lang = lang_from_path(scope_abs[i]);
    if (lang == LANG_UNKNOWN) {
      continue;
    }
    int scanned;
    sf[i] = cached_file(c, scope_abs[i], st.st_size,
                        (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec, lang,
                        lim->max_file_bytes, &scanned);
  }
  unsigned char *marks = xcalloc(c->nnames + 1, 1);
  for (size_t i = 0; i < req->nscope; i++) {
    /* Re-find the entry: later scans may have grown the table. */
    if (!sf[i]) {
      continue;
    }
    const rm_file *f = rm_file_slot(c, scope_abs[i]);
    for (int r = 0; r < f->nrefs; r++) {
      int own = 0;
      for (int d = 0; d < f->ndefs && !own; d++) {
        own = f->defs[d].name == f->refs[r];
      }
      if (!own && f->refs[r] >= 0 && marks[f->refs[r]] < 1 + f->called[r]) {
        marks[f->refs[r]] = (unsigned char)(1 + f->called[r]);
      }
    }
  }
  for (size_t i = 0; i < req->nmentions; i++) {
    if (req->mentions[i]) {
      int x = rm_name_id(c, req->mentions[i], strlen(req->mentions[i]), 0);
      if (x >= 0) {
        marks[x] = 2; /* a name the user wrote may be any definition */
      }
    }
  }
  free(sf);
  return marks;
}

static void graph_free(rm_graph *g)
{
  free(g->files);
  free(g->in_scope);
  free(g->name_start);
  free(g->def_file);
  free(g->def_idx);
  free(g->nfiles_of);
  free(g->pr);
  free(g->builtin);
  free(g->outw);
  for (int i = 0; g->kr && i < g->nf; i++) {
    free(g->kr[i]);
  }
  free(g->kr);
}

/* Tests are seldom what a plan across files needs to see: their definitions count this much. */
static int test_path(const char *rel)
{
  const char *base = strrchr(rel, '/');
  base = base ? base + 1 : rel;
  if (strncmp(base, "test_", 5) == 0 || strstr(base, "_test.") || strstr(base, ".test.") ||
      strstr(base, "_spec.")) {
    return 1;
  }
  for (const char *p = rel; (p = strstr(p, "test")) != NULL; p += 4) {
    int starts = p == rel || p[-1] == '/';
    const char *e = p + 4;
    if (*e == 's') {
      e++;
    }
    if (starts && *e == '/') {
      return 1;
    }
  }
  return 0;
}

/* Whether a definition belongs in the map at all: not one local to a function (a nested helper,
 * a struct declared for one variable, a C struct's member types), nor a file-private one (C's
 * `static`, Lua's top-level `local function`) that no other file can use. */
static int shown_def(const rm_file *f, int d)
{
  const rm_def *def = &f->defs[d];
  for (int p = def->parent; p >= 0; p = f->defs[p].parent) {
    if (f->defs[p].kind != DEF_CLASS || f->lang == LANG_C) {
      return 0; /* C structs hold member types, not methods */
    }
  }
  if (strncmp(def->sig, "static ", 7) == 0 || strncmp(def->sig, "local function ", 15) == 0) {
    return 0;
  }
  return 1;
}

/* Whether the scope names this definition: its name is used there and few files define it; for
 * a method, also its class is used there, unless no other file defines the name (a method name
 * like `strip` or `result`, called on a value of any type, does not say which class is meant). */
static int scoped_def(const rm_graph *g, const rm_file *f, int d, const unsigned char *marks)
{
  const rm_def *def = &f->defs[d];
  int x = def->name;
  if (x < 0 || !marks[x] || g->nfiles_of[x] > RM_SCOPE_MAX_FILES) {
    return 0;
  }
  if (!(g->families & (1u << lang_family(f->lang)))) {
    return 0;
  }
  if (def->kind != DEF_CLASS && marks[x] < 2) {
    return 0; /* mentioned, never called: a variable or a parameter of that name */
  }
  if (def->kind == DEF_METHOD && g->nfiles_of[x] > 1) {
    return def->parent >= 0 && f->defs[def->parent].name >= 0 && marks[f->defs[def->parent].name];
  }
  return 1;
}

static int has_ref(const rm_file *f, int name)
{
  int lo = 0, hi = f->nrefs - 1; /* refs are sorted */
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    if (f->refs[mid] == name) {
      return 1;
    }
    if (f->refs[mid] < name) {
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return 0;
}

/* A call of `name` reaches a method of that name fully only when the calling file also names
 * the method's class: `x.count()` alone may be any of twenty classes' count(). */
static double method_weight(const rm_graph *g, const rm_file *user, int k)
{
  const rm_file *f = g->files[g->def_file[k]];
  const rm_def *d = &f->defs[g->def_idx[k]];
  if (d->kind != DEF_METHOD || d->parent < 0) {
    return 1.0;
  }
  return has_ref(user, f->defs[d->parent].name) ? 1.0 : RM_LOOSE_METHOD_WEIGHT;
}

/* Scores every definition and returns the candidates, best first (*ncand of them). */
static rm_cand *rank_defs(rm_graph *g, const unsigned char *marks,
                          int *ncand, int *total_defs)
{
  int *base = xmalloc(((size_t)g->nf + 1) * sizeof(int));
  int total = 0;
  for (int i = 0; i < g->nf; i++) {
    base[i] = total;
    total += g->files[i]->ndefs;
  }
  base[g->nf] = total;
  *total_defs = total;
  double *score = xcalloc(total ? (size_t)total : 1, sizeof(double));
  for (int a = 0; a < g->nf; a++) {
    const rm_file *f = g->files[a];
    if (g->outw[a] == 0) {
      continue;
    }
    for (int r = 0; r < f->nrefs; r++) {
      if (g->kr[a][r] == 0) {
        continue;
      }
      int x = f->refs[r], call = f->called[r];
      double share = g->pr[a] / g->outw[a] / g->kr[a][r];
      int k = g->name_start[x], end = g->name_start[x + 1];
      while (k < end) {
        /* The file's share goes in equal parts to its definitions the use reaches. */
        int j = k, m = 0;
        while (j < end && g->def_file[j] == g->def_file[k]) {
          m += receives(g, j, call) && same_family(g, a, j);
          j++;
        }
        for (int q = k; q < j; q++) {
          if (receives(g, q, call) && same_family(g, a, q)) {
            score[base[g->def_file[q]] + g->def_idx[q]] += share / m * method_weight(g, f, q);
          }
        }
        k = j;
      }
    }
  }
  rm_cand *cand = xmalloc((total ? (size_t)total : 1) * sizeof(rm_cand));
  int n = 0;
  for (int i = 0; i < g->nf; i++) {
    if (g->in_scope[i] == 1) {
      continue; /* sent whole */
    }
    const rm_file *f = g->files[i];
    for (int d = 0; d < f->ndefs; d++) {
      if (!shown_def(f, d)) {
        continue;
      }
      /* A tiny share of the file's own rank orders the definitions nobody uses. */
      double sc = score[base[i] + d] + 1e-6 * g->pr[i] / (f->ndefs + 1);
      if (test_path(g->walk->v[i].rel)) {
        sc *= RM_TEST_WEIGHT;
      }
      /* A scope file the budget left out is carried by the map: all of it first. */
      cand[n++] = (rm_cand){i, d, sc, g->in_scope[i] == 2 ? 2 : scoped_def(g, f, d, marks)};
    }
  }
  qsort(cand, (size_t)n, sizeof(rm_cand), cand_cmp);
  *ncand = n < RM_MAX_CANDIDATES ? n : RM_MAX_CANDIDATES;
  free(score);
  free(base);
  return cand;
}

int repomap_build(repomap_cache *cache, const repomap_request *req, repomap_result *out,
                  char *err, size_t errlen)
{
  memset(out, 0, sizeof(*out));
  double t0 = rm_now_ms();
  repomap_limits lim = req->limits;
  limits_default(&lim);
  int budget = req->budget_tokens > 0 ? req->budget_tokens : REPOMAP_DEFAULT_BUDGET;
  char *root = req->root ? realpath(req->root, NULL) : NULL;
  if (!root) {
    snprintf(err, errlen, "repo map: %s: %s", req->root ? req->root : "(no root)",
             req->root ? strerror(errno) : "no project directory");
    return -1;
  }
  rm_walk walk;
  if (rm_walk_run(root, &lim, t0 + lim.max_ms, &walk, err, errlen)) {
    free(root);
    return -1;
  }
  uv_mutex_lock(&cache->lock);
  cache->gen++;
  rm_graph g;
  memset(&g, 0, sizeof(g));
  g.walk = &walk;
  g.nf = (int)walk.n;
  g.files = xcalloc(walk.n ? walk.n : 1, sizeof(rm_file *));
  g.in_scope = xcalloc(walk.n ? walk.n : 1, sizeof(int));
  int timed_out = 0;
  for (size_t i = 0; i < walk.n; i++) {
    const rm_entry *e = &walk.v[i];
    rm_file *f = rm_file_slot(cache, e->abs);
    if (!timed_out && rm_now_ms() > t0 + lim.max_ms) {
      timed_out = 1;
      if (!walk.bound) {
        buf_t b = BUF_INIT;
        buf_printf(&b, "%d ms", lim.max_ms);
        walk.bound = buf_detach(&b);
      }
    }
    if (timed_out && !(f->abs && f->size == e->size && f->mtime_ns == e->mtime_ns)) {
      continue; /* out of time: only what the cache already holds */
    }
    int scanned;
    cached_file(cache, e->abs, e->size, e->mtime_ns, e->lang, lim.max_file_bytes, &scanned);
    out->files_scanned += scanned;
    out->files_cached += !scanned;
  }
  /* The table may have moved while scanning: take the pointers now. */
  int nf = 0;
  for (size_t i = 0; i < walk.n; i++) {
    rm_file *f = rm_file_slot(cache, walk.v[i].abs);
    if (f->abs && f->gen == cache->gen) {
      walk.v[nf] = walk.v[i];
      g.files[nf++] = f;
    } else {
      free(walk.v[i].rel);
      free(walk.v[i].abs);
    }
  }
  walk.n = (size_t)nf;
  g.nf = nf;
  out->files_walked = nf;

  char **scope_abs = xcalloc(req->nscope ? req->nscope : 1, sizeof(char *));
  for (size_t i = 0; i < req->nscope; i++) {
    scope_abs[i] = req->scope[i] ? resolve_path(root, req->scope[i]) : NULL;
  }
  unsigned char *marks = scoped_names(cache, req, &lim, scope_abs);
  for (int i = 0; i < nf; i++) {
    g.files[i] = rm_file_slot(cache, walk.v[i].abs); /* scoped_names may have grown the table */
    for (size_t s = 0; s < req->nscope && !g.in_scope[i]; s++) {
      if (scope_abs[s] && strcmp(scope_abs[s], walk.v[i].abs) == 0) {
        g.in_scope[i] = req->sent && !req->sent[s] ? 2 : 1;
      }
    }
  }
  g.families = req->nscope ? 0 : ~0u;
  for (size_t i = 0; i < req->nscope; i++) {
    if (scope_abs[i]) {
      g.families |= 1u << lang_family(lang_from_path(scope_abs[i]));
    }
  }
  g.builtin = xcalloc(cache->nnames + 1, 1);
  mark_builtins(&g, cache, builtins_py, LANG_PYTHON);
  mark_builtins(&g, cache, builtins_js, LANG_JAVASCRIPT);
  mark_builtins(&g, cache, builtins_lua, LANG_LUA);
  mark_builtins(&g, cache, builtins_c, LANG_C);
  for (size_t x = 0; x < cache->nnames; x++) {
    if (g.builtin[x] && marks[x]) {
      /* A scope calling str() does not name locale.str. Which language the scope is in is
         what matters: scope files of other languages are rare enough to ignore. */
      for (size_t s = 0; s < req->nscope; s++) {
        if (scope_abs[s] && ((g.builtin[x] >> lang_family(lang_from_path(scope_abs[s]))) & 1)) {
          marks[x] = 0;
        }
      }
    }
  }
  build_index(&g, cache->nnames);
  page_rank(&g);
  int ncand = 0;
  rm_cand *cand = rank_defs(&g, marks, &ncand, &out->defs_total);

  int *path_order = xmalloc((nf ? (size_t)nf : 1) * sizeof(int));
  int *by_path = xmalloc((nf ? (size_t)nf : 1) * sizeof(int));
  for (int i = 0; i < nf; i++) {
    by_path[i] = i;
  }
  qsort_r(by_path, (size_t)nf, sizeof(int), rel_cmp, &walk);
  for (int i = 0; i < nf; i++) {
    path_order[by_path[i]] = i;
  }
  buf_t text = BUF_INIT;
  int lo = 0, hi = ncand, shown, files;
  while (lo < hi) {
    int mid = lo + (hi - lo + 1) / 2;
    render(&g, cand, mid, path_order, &text, &shown, &files);
    if (tokens_estimate(LANG_UNKNOWN, text.data ? text.data : "", text.len) <= budget) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  render(&g, cand, lo, path_order, &text, &out->defs_shown, &out->files_shown);
  out->tokens = tokens_estimate(LANG_UNKNOWN, text.data ? text.data : "", text.len);
  out->text = buf_detach(&text);
  out->budget = budget;
  if (!walk.bound) {
    evict_unseen(cache, root); /* a complete walk: what it did not see was deleted */
  }
  uv_mutex_unlock(&cache->lock);

  out->bound = walk.bound;
  walk.bound = NULL;
  out->ms = rm_now_ms() - t0;
  free(path_order);
  free(by_path);
  free(cand);
  free(marks);
  for (size_t i = 0; i < req->nscope; i++) {
    free(scope_abs[i]);
  }
  free(scope_abs);
  graph_free(&g);
  rm_walk_free(&walk);
  free(root);
  return 0;
}

void repomap_result_free(repomap_result *r)
{
  free(r->text);
  free(r->bound);
  memset(r, 0, sizeof(*r));
}

json_t *repomap_item_json(const repomap_result *r, int with_text)
{
  json_t *o = json_object();
  json_object_set_new(o, "kind", json_string("repo_map"));
  json_object_set_new(o, "label", json_string("repo map"));
  json_object_set_new(o, "tokens", json_integer(r->tokens));
  json_object_set_new(o, "budget", json_integer(r->budget));
  json_object_set_new(o, "files", json_integer(r->files_walked));
  json_object_set_new(o, "files_shown", json_integer(r->files_shown));
  json_object_set_new(o, "defs", json_integer(r->defs_total));
  json_object_set_new(o, "defs_shown", json_integer(r->defs_shown));
  json_object_set_new(o, "bound", r->bound ? json_string(r->bound) : json_null());
  if (with_text) {
    const char *t = r->text ? r->text : "";
    json_object_set_new(o, "text", utf8_valid(t, strlen(t)) ? json_string(t) : json_string(""));
  }
  return o;
}

char *repomap_project_root(const char *path)
{
  char *real = realpath(path, NULL);
  if (!real) {
    return NULL;
  }
  struct stat st;
  if (stat(real, &st) == 0 && !S_ISDIR(st.st_mode)) {
    char *slash = strrchr(real, '/');
    if (slash && slash != real) {
      *slash = '\0';
    } else if (slash) {
      slash[1] = '\0';
    }
  }
  static const char *const markers[] = {".git", ".hg", ".svn", ".jj", NULL};
  buf_t probe = BUF_INIT;
  char *dir = xstrdup(real);
  for (;;) {
    for (size_t i = 0; markers[i]; i++) {
      buf_clear(&probe);
      buf_printf(&probe, "%s/%s", dir, markers[i]);
      if (access(probe.data, F_OK) == 0) {
        buf_free(&probe);
        free(real);
        return dir;
      }
    }
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
      break;
    }
    *slash = '\0';
  }
  buf_free(&probe);
  free(dir);
  /* No repository: the directory the command runs in, when the file is inside it (a source
   * tree unpacked from an archive), else the file's own directory. */
  char *cwd = getcwd(NULL, 0);
  char *rcwd = cwd ? realpath(cwd, NULL) : NULL;
  free(cwd);
  size_t n = rcwd ? strlen(rcwd) : 0;
  const char *home = getenv("HOME");
  char *rhome = home && *home ? realpath(home, NULL) : NULL;
  int is_home = rhome && rcwd && strcmp(rhome, rcwd) == 0; /* a home is no project */
  free(rhome);
  if (n > 1 && !is_home && strncmp(real, rcwd, n) == 0 && (real[n] == '/' || real[n] == '\0')) {
    free(real);
    return rcwd;
  }
  free(rcwd);
  return real;
}
