/* Internal to native/repomap/: the bounded walk. */
#ifndef FRUGAL_REPOMAP_INT_H
#define FRUGAL_REPOMAP_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "context/lang.h"
#include "repomap/repomap.h"

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

#endif
