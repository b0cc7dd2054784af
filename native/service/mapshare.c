#include "service/mapshare.h"

#include <stdlib.h>
#include <uv.h>

#include "repomap/repomap.h"
#include "util/buf.h"

struct plan_mapshare {
  uv_mutex_t lock;
  repomap_cache *cache;
};

plan_mapshare *plan_mapshare_new(void)
{
  plan_mapshare *m = xcalloc(1, sizeof(*m));
  if (uv_mutex_init(&m->lock) != 0) {
    abort(); /* only fails without memory, which xcalloc already treats as fatal */
  }
  m->cache = repomap_cache_new();
  return m;
}

void plan_mapshare_free(plan_mapshare *m)
{
  if (!m) {
    return;
  }
  repomap_cache_free(m->cache);
  uv_mutex_destroy(&m->lock);
  free(m);
}

int plan_mapshare_add(plan_mapshare *m, const char *action, const char *path,
                      const char *const *files, size_t nfiles, const char *instruction,
                      int budget, pkg_result *pkg)
{
  uv_mutex_lock(&m->lock);
  int rc = repomap_package_add(m->cache, action, path, files, nfiles, instruction, budget, pkg);
  uv_mutex_unlock(&m->lock);
  return rc;
}
