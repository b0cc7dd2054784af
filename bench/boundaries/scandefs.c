/* scandefs: prints what the context scanner finds in source files, one definition per line:
 *   path<TAB>kind<TAB>name<TAB>start<TAB>head<TAB>body<TAB>end<TAB>name_line<TAB>parent
 * name_line is the first line in head..body where the name appears as a word (what ctags
 * calls a tag's line when the return type sits on the line above).
 * Usage: scandefs [--lang NAME] [--time N] [--imports] FILE...
 *   without --lang, the language is detected as the CLI does (a .h file from its content)
 *   --time N   scan each file N times and print the best and median time per file instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context/lang.h"
#include "context/scan.h"
#include "util/text.h"

static char *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  size_t r;
  while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
  }
  fclose(f);
  *len = n;
  return buf;
}

static int is_word(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '$';
}

static int name_line(const text_t *t, const scan_def *d)
{
  const char *name = d->name;
  const char *sep = NULL;
  for (const char *p = name; *p; p++) {
    if (*p == ':' || *p == '.') {
      sep = p;
    }
  }
  if (sep && strncmp(name, "operator", 8) != 0) {
    name = sep + 1;
  }
  size_t nl = strlen(name);
  if (nl == 0) {
    return d->head_line;
  }
  for (int line = d->head_line; line <= d->body_line; line++) {
    size_t a = text_line_start(t, line), b = text_line_end(t, line);
    for (size_t i = a; i + nl <= b; i++) {
      if (memcmp(t->data + i, name, nl) == 0 && (i == a || !is_word(t->data[i - 1])) &&
          (i + nl == b || !is_word(t->data[i + nl]))) {
        return line;
      }
    }
  }
  return d->head_line;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
  static const char *kinds[] = {"function", "method", "class"};
  lang_id forced = LANG_UNKNOWN;
  int times = 0, imports = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--lang") == 0 && i + 1 < argc) {
      forced = lang_from_name(argv[++i]);
      continue;
    }
    if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
      times = atoi(argv[++i]);
      continue;
    }
    if (strcmp(argv[i], "--imports") == 0) {
      imports = 1;
      continue;
    }
    size_t len;
    char *data = read_file(argv[i], &len);
    if (!data) {
      fprintf(stderr, "scandefs: cannot read %s\n", argv[i]);
      continue;
    }
    lang_id lang = forced != LANG_UNKNOWN ? forced : lang_detect(argv[i], NULL, data, len);
    text_t t;
    if (text_init(&t, data, len) != 0) {
      free(data);
      continue;
    }
    scan_result r;
    if (times > 0) {
      double *dts = malloc((size_t)times * sizeof(*dts));
      size_t ndefs = 0;
      for (int k = 0; k < times; k++) {
        double t0 = now();
        scan_file(lang, &t, &r);
        dts[k] = now() - t0;
        ndefs = r.ndefs;
        scan_result_free(&r);
      }
      qsort(dts, (size_t)times, sizeof(*dts), cmp_double);
      printf("%s\t%d lines\t%zu bytes\t%zu defs\tbest %.3f ms\tmedian %.3f ms\n", argv[i],
             t.nlines, len, ndefs, dts[0] * 1e3, dts[times / 2] * 1e3);
      free(dts);
    } else {
      scan_file(lang, &t, &r);
      for (size_t k = 0; k < r.ndefs; k++) {
        const scan_def *d = &r.defs[k];
        printf("%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", argv[i], kinds[d->kind], d->name,
               d->start_line, d->head_line, d->body_line, d->end_line, name_line(&t, d),
               d->parent);
      }
      if (imports) {
        for (size_t k = 0; k < r.nimports; k++) {
          printf("%s\timport\t-\t%d\t%d\n", argv[i], r.imports[k].start_line,
                 r.imports[k].end_line);
        }
      }
      scan_result_free(&r);
    }
    text_free(&t);
    free(data);
  }
  return 0;
}
