/* The repo map's build: the walk, the scans through the cache, the ranking, and the cut to a
 * token budget. See repomap.h. */
#include "repomap/repomap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context/scan.h"
#include "core/tokens.h"
#include "repomap/repomap_int.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/text.h"

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
    sf[i] = rm_cached_file(c, scope_abs[i], st.st_size,
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
    rm_cached_file(cache, e->abs, e->size, e->mtime_ns, e->lang, lim.max_file_bytes, &scanned);
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
  int ncand = 0;
  rm_cand *cand = rm_rank(&g, cache, req, scope_abs, marks, &ncand, &out->defs_total);

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
    rm_cache_evict_unseen(cache, root); /* a complete walk: what it did not see was deleted */
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
  rm_graph_free(&g);
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
