/* mapshare: one repo map cache shared by every plan a long-lived caller (the host) builds, each
 * on a worker thread. The cache is not thread-safe, so one plan at a time uses it (a mutex);
 * the others wait on their own worker thread, never on the loop. Scans are kept for the
 * caller's life, keyed by absolute path, size and mtime, so several projects may share it. */
#ifndef FRUGAL_SERVICE_MAPSHARE_H
#define FRUGAL_SERVICE_MAPSHARE_H

#include <stddef.h>

#include "context/package.h"

typedef struct plan_mapshare plan_mapshare;

/* A new shared cache. Never NULL. Free it once no plan uses it. */
plan_mapshare *plan_mapshare_new(void);
void plan_mapshare_free(plan_mapshare *m);

/* repomap_package_add (repomap/repomap.h) with the shared cache, under its lock. Returns what
 * that returns. Waits for the disk and for other plans: off the loop only. */
int plan_mapshare_add(plan_mapshare *m, const char *action, const char *path,
                      const char *const *files, size_t nfiles, const char *instruction,
                      int budget, pkg_result *pkg);

#endif
