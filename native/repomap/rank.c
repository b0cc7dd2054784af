/* The repo map's ranking: which file uses which file's names, a PageRank over that restarted
 * at the files in scope, and a score per definition. */
#include <stdlib.h>
#include <string.h>

#include "repomap/repomap_int.h"
#include "util/buf.h"

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

void rm_graph_free(rm_graph *g)
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

/* Per walked file, 1 when it is in scope, reached from the files in scope by the ranking's
 * walk (they use its names, or a file they use does), or uses a name a file in scope defines
 * (a caller of the code in scope). */
static unsigned char *connected_files(const rm_graph *g)
{
  unsigned char *on = xcalloc(g->nf ? (size_t)g->nf : 1, 1);
  for (int i = 0; i < g->nf; i++) {
    const rm_file *f = g->files[i];
    on[i] = g->in_scope[i] != 0 || g->pr[i] > 0;
    for (int r = 0; f && !on[i] && r < f->nrefs; r++) {
      int x = f->refs[r];
      if (x < 0 || g->kr[i][r] == 0) {
        continue;
      }
      for (int k = g->name_start[x]; k < g->name_start[x + 1] && !on[i]; k++) {
        on[i] = g->in_scope[g->def_file[k]] != 0 && g->def_file[k] != i &&
                receives(g, k, f->called[r]) && same_family(g, i, k);
      }
    }
  }
  return on;
}

/* Scores every definition and returns the candidates, best first (*ncand of them). With
 * `connected_only`, a definition of a file that is not connected to the files in scope
 * (connected_files) is left out unless its name is marked. */
static rm_cand *rank_defs(rm_graph *g, const unsigned char *marks, int connected_only,
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
  unsigned char *on = connected_only ? connected_files(g) : NULL;
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
      int scoped = g->in_scope[i] == 2 ? 2 : scoped_def(g, f, d, marks);
      if (on && !on[i] && !scoped) {
        continue;
      }
      cand[n++] = (rm_cand){i, d, sc, scoped};
    }
  }
  free(on);
  qsort(cand, (size_t)n, sizeof(rm_cand), cand_cmp);
  *ncand = n < RM_MAX_CANDIDATES ? n : RM_MAX_CANDIDATES;
  free(score);
  free(base);
  return cand;
}

rm_cand *rm_rank(rm_graph *g, repomap_cache *c, const repomap_request *req, char **scope_abs,
                 unsigned char *marks, int *ncand, int *total_defs)
{
  g->families = req->nscope ? 0 : ~0u;
  for (size_t i = 0; i < req->nscope; i++) {
    if (scope_abs[i]) {
      g->families |= 1u << lang_family(lang_from_path(scope_abs[i]));
    }
  }
  g->builtin = xcalloc(c->nnames + 1, 1);
  mark_builtins(g, c, builtins_py, LANG_PYTHON);
  mark_builtins(g, c, builtins_js, LANG_JAVASCRIPT);
  mark_builtins(g, c, builtins_lua, LANG_LUA);
  mark_builtins(g, c, builtins_c, LANG_C);
  for (size_t x = 0; x < c->nnames; x++) {
    if (g->builtin[x] && marks[x]) {
      /* A scope calling str() does not name locale.str. Which language the scope is in is
         what matters: scope files of other languages are rare enough to ignore. */
      for (size_t s = 0; s < req->nscope; s++) {
        if (scope_abs[s] && ((g->builtin[x] >> lang_family(lang_from_path(scope_abs[s]))) & 1)) {
          marks[x] = 0;
        }
      }
    }
  }
  build_index(g, c->nnames);
  page_rank(g);
  return rank_defs(g, marks, req->connected_only, ncand, total_defs);
}
