/* estimate: the calibration and measurement driver for native/core/tokens.c.
 *
 *   estimate LANG [FILE...]            "<estimate>\t<bytes/4>\t<path>" per file
 *   estimate --features LANG [FILE...] "<path>\t<count of each piece class...>" per file
 *   estimate --speed LANG FILE         MB/s of tokens_estimate over the file
 *
 * LANG is a name lang_from_name() knows, or "text" for prose. Without FILE arguments the paths
 * are read from stdin, one per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context/lang.h"
#include "core/tokens.h"

static char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *p = malloc(cap);
  size_t got;
  while (p && (got = fread(p + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      cap *= 2;
      p = realloc(p, cap);
    }
  }
  fclose(f);
  *len = n;
  return p;
}

static void one(int mode, lang_id lang, const char *path)
{
  size_t n;
  char *s = slurp(path, &n);
  if (!s) {
    fprintf(stderr, "estimate: cannot read %s\n", path);
    return;
  }
  if (mode == 1) {
    unsigned long f[TOKENS_NFEATURES] = {0};
    tokens_features(s, n, f);
    printf("%s", path);
    for (int k = 0; k < TOKENS_NFEATURES; k++) {
      printf("\t%lu", f[k]);
    }
    printf("\n");
  } else {
    printf("%d\t%zu\t%s\n", tokens_estimate(lang, s, n), (n + 3) / 4, path);
  }
  free(s);
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
  int mode = 0;
  int a = 1;
  if (a < argc && strcmp(argv[a], "--features") == 0) {
    mode = 1;
    a++;
  } else if (a < argc && strcmp(argv[a], "--speed") == 0) {
    mode = 2;
    a++;
  }
  if (a >= argc) {
    fprintf(stderr, "usage: estimate [--features|--speed] LANG [FILE...]\n");
    return 2;
  }
  lang_id lang = strcmp(argv[a], "text") == 0 ? LANG_UNKNOWN : lang_from_name(argv[a]);
  if (lang == LANG_UNKNOWN && strcmp(argv[a], "text") != 0) {
    fprintf(stderr, "estimate: unknown language %s\n", argv[a]);
    return 2;
  }
  a++;
  if (mode == 2) {
    if (a >= argc) {
      fprintf(stderr, "estimate: --speed needs a file\n");
      return 2;
    }
    size_t n;
    char *s = slurp(argv[a], &n);
    if (!s) {
      fprintf(stderr, "estimate: cannot read %s\n", argv[a]);
      return 1;
    }
    long total = 0;
    int rounds = 0;
    double t0 = now(), t;
    do {
      total += tokens_estimate(lang, s, n);
      rounds++;
      t = now() - t0;
    } while (t < 1.0);
    printf("%.0f MB/s (%zu bytes, %d tokens, %d rounds)\n", (double)n * rounds / t / 1e6, n,
           (int)(total / rounds), rounds);
    free(s);
    return 0;
  }
  if (a < argc) {
    for (; a < argc; a++) {
      one(mode, lang, argv[a]);
    }
  } else {
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
      line[strcspn(line, "\n")] = '\0';
      if (line[0]) {
        one(mode, lang, line);
      }
    }
  }
  return 0;
}
