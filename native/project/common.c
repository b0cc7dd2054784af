#include "project/project_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/text.h"

/* ---- small helpers ------------------------------------------------------------------------ */

void tc_strs_push(tc_strs *s, char *owned)
{
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 16;
    s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
  }
  s->v[s->n++] = owned;
}

void tc_strs_free(tc_strs *s)
{
  for (size_t i = 0; i < s->n; i++) {
    free(s->v[i]);
  }
  free(s->v);
  memset(s, 0, sizeof(*s));
}

int tc_cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int tc_starts_with(const char *s, const char *p)
{
  return strncmp(s, p, strlen(p)) == 0;
}

int tc_ends_with(const char *s, const char *suf)
{
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && memcmp(s + n - m, suf, m) == 0;
}

int tc_rel_is_dir(const char *root, const char *rel)
{
  char *p = path_join(root, rel);
  int r = path_is_dir(p);
  free(p);
  return r;
}

int tc_rel_is_file(const char *root, const char *rel)
{
  char *p = path_join(root, rel);
  int r = path_is_file(p);
  free(p);
  return r;
}

/* file_read_prefix() of a file of the project, refused when a link leads out of the root. */
char *tc_read_in_root(const char *root, const char *rel, size_t max, size_t *len, int *complete)
{
  char *p = path_join(root, rel);
  char *real = realpath(p, NULL);
  free(p);
  char *d = real && path_inside(root, real) ? file_read_prefix(real, max, len, complete) : NULL;
  free(real);
  return d;
}

char *tc_read_rel(const char *root, const char *rel, size_t max)
{
  return tc_read_in_root(root, rel, max, NULL, NULL);
}


/* The first lines of `data` within the sample bounds, cut at a line end; NULL when nothing
 * fits or the bytes are not text. Caller frees. */
char *tc_excerpt(const char *data, size_t len, int complete)
{
  size_t end = 0, lines = 0;
  for (size_t i = 0; i < len && i < TC_SAMPLE_BYTES; i++) {
    if (data[i] == '\n') {
      end = i + 1;
      if (++lines == TC_SAMPLE_LINES) {
        break;
      }
    }
  }
  if (lines < TC_SAMPLE_LINES && complete && len <= TC_SAMPLE_BYTES) {
    end = len;
  }
  /* strict UTF-8 without NUL: the sample goes into a prompt encoded as JSON */
  if (end == 0 || memchr(data, 0, end) || !utf8_valid(data, end)) {
    return NULL;
  }
  return xstrndup(data, end);
}

/* `w` as a whole word in `s` (letters, digits and '_' make words). */
int tc_has_word(const char *s, const char *w)
{
  size_t m = strlen(w);
  for (const char *p = strstr(s, w); p; p = strstr(p + 1, w)) {
    int before = p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
    int after = !(isalnum((unsigned char)p[m]) || p[m] == '_');
    if (before && after) {
      return 1;
    }
  }
  return 0;
}
