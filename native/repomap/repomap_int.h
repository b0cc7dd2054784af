/* Internal to native/repomap/: the cache's layout (shared by the build and the file cache) and
 * the bounded walk. */
#ifndef FRUGAL_REPOMAP_INT_H
#define FRUGAL_REPOMAP_INT_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "context/lang.h"
#include "context/scan.h"
#include "repomap/repomap.h"

typedef struct {
  int name;      /* interned bare name */
  def_kind kind;
  int line;
  int parent;    /* index in the file's defs, or -1 */
  char *sig;     /* owned */
} rm_def;

typedef struct {
  char *abs;     /* owned; NULL for an empty slot */
  off_t size;
  int64_t mtime_ns;
  rm_def *defs;
  int ndefs;
  int *refs;     /* distinct name ids the file uses */
  unsigned char *called; /* per ref: 1 when the name is also called (`name(`) */
  int nrefs;
  unsigned gen;  /* last build that saw the file */
  lang_id lang;
} rm_file;

struct repomap_cache {
  uv_mutex_t lock;
  char **names;     /* id -> name */
  size_t nnames;
  int *name_slot;   /* open addressing over ids; -1 empty */
  size_t name_cap;  /* power of two */
  rm_file *files;   /* open addressing by path */
  size_t file_cap;  /* power of two */
  size_t nfiles;
  unsigned gen;
};

/* The id of name s[0..n), interned when `add`; -1 when absent and not added. */
int rm_name_id(repomap_cache *c, const char *s, size_t n, int add);
/* The cache slot for `abs` (found, or the empty slot where it goes; abs NULL). The table may
 * grow on any call: pointers from earlier calls are then stale. */
rm_file *rm_file_slot(repomap_cache *c, const char *abs);
/* Frees a slot's definitions and uses (not its path). */
void rm_file_clear(rm_file *f);
/* The cache entry for `abs`, scanned again unless its size and mtime are unchanged; *scanned
 * says which. The pointer is valid until the next rm_file_slot(). */
rm_file *rm_cached_file(repomap_cache *c, const char *abs, off_t size, int64_t mtime,
                        lang_id lang, size_t max, int *scanned);
/* Drops the entries under `root` that the current build did not see (deleted files). */
void rm_cache_evict_unseen(repomap_cache *c, const char *root);

typedef struct {
  char *rel;     /* owned; path relative to the root, '/'-separated */
  char *abs;     /* owned; root + "/" + rel */
  off_t size;
  int64_t mtime_ns;
  lang_id lang;
} rm_entry;

typedef struct {
  rm_entry *v;
  size_t n;
  char *bound;   /* owned; NULL, or the bound that stopped the walk */
} rm_walk;

/* Milliseconds on a monotonic clock. */
double rm_now_ms(void);

/* Walks `root` within `lim` (defaults applied by the caller), stopping at `deadline_ms`
 * (rm_now_ms() scale). Returns 0 and fills `out` (free with rm_walk_free), or -1 with a message
 * when the root is not a readable directory. */
int rm_walk_run(const char *root, const repomap_limits *lim, double deadline_ms, rm_walk *out,
                char *err, size_t errlen);
void rm_walk_free(rm_walk *w);

/* 1 when a directory of this name is never walked (build output, vendored code, caches). */
int rm_skip_dir_name(const char *name);

/* ---- ranking (rank.c) ---- */

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

/* Scores the definitions of the walked files in `g` (files, in_scope and walk set by the
 * caller): the builtins of the scope's languages are unmarked in `marks`, the rank computed,
 * and the candidates returned best first (*ncand kept of *total_defs; free() them). */
rm_cand *rm_rank(rm_graph *g, repomap_cache *c, const repomap_request *req, char **scope_abs,
                 unsigned char *marks, int *ncand, int *total_defs);
void rm_graph_free(rm_graph *g);

#endif
