/* Outline tokens against whole-file tokens (repomap_outline, what a planner is sent for a file
 * in scope instead of the file): reads file paths on stdin, prints per-language totals and the
 * median share.
 *
 *   find ROOT -name '*.c' | outline_share
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tokens.h"
#include "repomap/repomap.h"
#include "util/file.h"

static int dcmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(void)
{
  char line[4096];
  long whole[LANG__COUNT] = {0}, outl[LANG__COUNT] = {0};
  double *share[LANG__COUNT] = {0};
  size_t n[LANG__COUNT] = {0}, cap[LANG__COUNT] = {0};
  while (fgets(line, sizeof(line), stdin)) {
    line[strcspn(line, "\n")] = '\0';
    lang_id lang = lang_from_path(line);
    file_contents f;
    char err[256];
    if (lang == LANG_UNKNOWN || file_load(&f, line, 1u << 22, err, sizeof(err))) {
      continue;
    }
    text_t t;
    if (f.len > 0 && text_init(&t, f.data, f.len) == 0) {
      buf_t b = BUF_INIT;
      int o = repomap_outline(lang, &t, NULL, &b);
      int w = tokens_estimate_file(lang, f.data, f.len);
      whole[lang] += w;
      outl[lang] += o;
      if (n[lang] == cap[lang]) {
        cap[lang] = cap[lang] ? cap[lang] * 2 : 256;
        share[lang] = realloc(share[lang], cap[lang] * sizeof(double));
      }
      share[lang][n[lang]++] = w > 0 ? (double)o / w : 1.0;
      buf_free(&b);
      text_free(&t);
    }
    file_release(&f);
  }
  printf("| language | files | whole tokens | outline tokens | total share | median share |\n");
  printf("|---|---|---|---|---|---|\n");
  for (int l = 1; l < LANG__COUNT; l++) {
    if (n[l] == 0) {
      continue;
    }
    qsort(share[l], n[l], sizeof(double), dcmp);
    printf("| %s | %zu | %ld | %ld | %.1f%% | %.1f%% |\n", lang_name((lang_id)l), n[l], whole[l],
           outl[l], 100.0 * (double)outl[l] / (double)whole[l], 100.0 * share[l][n[l] / 2]);
    free(share[l]);
  }
  return 0;
}
