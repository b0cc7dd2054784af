/* Builds the repo map of a project several times in one process and prints one JSON line per
 * build: run 1 with an empty cache (cold), the next ones from the cache (files unchanged), and
 * with --touch FILE one more after that file's mtime changed.
 *
 *   repomap_bench ROOT [--scope FILE]... [--budget N] [--runs N] [--touch FILE] [--print]
 *
 * "shown_file_tokens" is the baseline the map replaces: the token estimate of the files the map
 * draws its definitions from, were they sent whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <utime.h>

#include "context/lang.h"
#include "core/tokens.h"
#include "repomap/repomap.h"
#include "util/buf.h"
#include "util/file.h"

static long shown_file_tokens(const char *root, const char *map)
{
  long sum = 0;
  const char *p = map;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    if (n > 1 && p[0] != ' ' && p[n - 1] == ':') {
      buf_t path = BUF_INIT;
      buf_printf(&path, "%s/%.*s", root, (int)(n - 1), p);
      file_contents f;
      char err[256];
      if (file_load(&f, path.data, 64u << 20, err, sizeof(err)) == 0) {
        sum += tokens_estimate_file(lang_from_path(path.data), f.data, f.len);
        file_release(&f);
      }
      buf_free(&path);
    }
    p += n + (nl ? 1 : 0);
  }
  return sum;
}

static int run_once(repomap_cache *cache, const repomap_request *req, int run, int print)
{
  repomap_result res;
  char err[256];
  if (repomap_build(cache, req, &res, err, sizeof(err))) {
    fprintf(stderr, "repomap_bench: %s\n", err);
    return -1;
  }
  printf("{\"run\": %d, \"ms\": %.1f, \"files\": %d, \"scanned\": %d, \"cached\": %d, "
         "\"defs\": %d, \"tokens\": %d, \"budget\": %d, \"files_shown\": %d, "
         "\"defs_shown\": %d, \"bytes\": %zu, \"shown_file_tokens\": %ld, \"bound\": %s%s%s}\n",
         run, res.ms, res.files_walked, res.files_scanned, res.files_cached, res.defs_total,
         res.tokens, res.budget, res.files_shown, res.defs_shown, strlen(res.text),
         shown_file_tokens(req->root, res.text), res.bound ? "\"" : "",
         res.bound ? res.bound : "null", res.bound ? "\"" : "");
  if (print) {
    fputs(res.text, stdout);
  }
  repomap_result_free(&res);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: repomap_bench ROOT [--scope FILE]... [--budget N] [--runs N] "
                    "[--touch FILE] [--print]\n");
    return 2;
  }
  const char *scope[64], *touch = NULL;
  size_t nscope = 0;
  int budget = 0, runs = 2, print = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--scope") == 0 && i + 1 < argc && nscope < 64) {
      scope[nscope++] = argv[++i];
    } else if (strcmp(argv[i], "--budget") == 0 && i + 1 < argc) {
      budget = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--touch") == 0 && i + 1 < argc) {
      touch = argv[++i];
    } else if (strcmp(argv[i], "--print") == 0) {
      print = 1;
    } else {
      fprintf(stderr, "repomap_bench: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  repomap_cache *cache = repomap_cache_new();
  repomap_request req = {.root = argv[1], .scope = scope, .nscope = nscope,
                         .budget_tokens = budget};
  int rc = 0;
  for (int r = 0; r < runs && rc == 0; r++) {
    rc = run_once(cache, &req, r + 1, print && r == runs - 1 && !touch);
  }
  if (rc == 0 && touch) {
    buf_t path = BUF_INIT;
    buf_printf(&path, "%s/%s", argv[1], touch);
    struct stat st;
    if (stat(path.data, &st) == 0) {
      struct utimbuf t = {st.st_atime, st.st_mtime + 1};
      utime(path.data, &t);
      rc = run_once(cache, &req, runs + 1, print);
      t.modtime = st.st_mtime;
      utime(path.data, &t); /* leave the tree as it was */
    } else {
      fprintf(stderr, "repomap_bench: cannot stat %s\n", path.data);
      rc = -1;
    }
    buf_free(&path);
  }
  repomap_cache_free(cache);
  return rc ? 1 : 0;
}
