/* repomap_build on libuv's thread pool: the walk and the scans read the disk, which the host's
 * loop must never wait on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repomap/repomap.h"
#include "util/buf.h"

typedef struct {
  uv_work_t work;
  repomap_cache *cache;
  repomap_request req;  /* strings below are owned copies */
  char **strings;       /* root, scope..., mentions... */
  size_t nstrings;
  repomap_done_cb cb;
  void *data;
  int status;
  repomap_result *result;
  char err[256];
} repomap_job;

static char **copy_list(repomap_job *j, const char *const *v, size_t n)
{
  char **out = xcalloc(n ? n : 1, sizeof(char *));
  for (size_t i = 0; i < n; i++) {
    out[i] = v[i] ? xstrdup(v[i]) : NULL;
  }
  j->strings = xrealloc(j->strings, (j->nstrings + 1) * sizeof(char *));
  j->strings[j->nstrings++] = (char *)out;
  return out;
}

static void job_free(repomap_job *j, size_t nscope, size_t nmentions)
{
  char **scope = (char **)j->req.scope, **mentions = (char **)j->req.mentions;
  for (size_t i = 0; i < nscope; i++) {
    free(scope[i]);
  }
  for (size_t i = 0; i < nmentions; i++) {
    free(mentions[i]);
  }
  for (size_t i = 0; i < j->nstrings; i++) {
    free(j->strings[i]);
  }
  free(j->strings);
  free((char *)j->req.root);
  free(j);
}

static void job_run(uv_work_t *w)
{
  repomap_job *j = w->data;
  j->result = xcalloc(1, sizeof(repomap_result));
  j->status = repomap_build(j->cache, &j->req, j->result, j->err, sizeof(j->err));
  if (j->status) {
    free(j->result);
    j->result = NULL;
  }
}

static void job_done(uv_work_t *w, int status)
{
  repomap_job *j = w->data;
  if (status == UV_ECANCELED) {
    j->status = -1;
    snprintf(j->err, sizeof(j->err), "repo map: cancelled");
  }
  j->cb(j->status, j->result, j->status ? j->err : NULL, j->data);
  job_free(j, j->req.nscope, j->req.nmentions);
}

int repomap_build_async(uv_loop_t *loop, repomap_cache *cache, const repomap_request *req,
                        repomap_done_cb cb, void *data)
{
  repomap_job *j = xcalloc(1, sizeof(*j));
  j->cache = cache;
  j->req = *req;
  j->req.root = req->root ? xstrdup(req->root) : NULL;
  j->req.scope = (const char *const *)copy_list(j, req->scope, req->nscope);
  j->req.mentions = (const char *const *)copy_list(j, req->mentions, req->nmentions);
  if (req->sent) {
    unsigned char *sent = xmalloc(req->nscope ? req->nscope : 1);
    memcpy(sent, req->sent, req->nscope);
    j->strings = xrealloc(j->strings, (j->nstrings + 1) * sizeof(char *));
    j->strings[j->nstrings++] = (char *)sent;
    j->req.sent = sent;
  }
  j->cb = cb;
  j->data = data;
  j->work.data = j;
  int rc = uv_queue_work(loop, &j->work, job_run, job_done);
  if (rc) {
    job_free(j, j->req.nscope, j->req.nmentions);
  }
  return rc;
}
