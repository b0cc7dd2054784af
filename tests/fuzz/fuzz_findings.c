/* libFuzzer target for the multi-file service pieces: arbitrary bytes as a review-all answer
 * (service/findings.c) and as a source file cut into review chunks (service/chunks.c).
 *
 * Input layout: the first byte picks the language (modulo the languages the scanner knows) and
 * the chunk bound (1 + the second byte * 8 tokens); the rest is both the answer and the file.
 *
 * Invariants: every finding has a non-empty path, 1 <= line <= end_line, a severity of error,
 * warning or info and a non-empty message, and the array dumps as JSON; the chunks cover lines
 * 1..nlines once, in order, each non-empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "context/lang.h"
#include "service/chunks.h"
#include "service/findings.h"
#include "util/text.h"

static void check(int ok)
{
  if (!ok) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 2) {
    return 0;
  }
  lang_id lang = (lang_id)(data[0] % LANG__COUNT);
  int bound = 1 + data[1] * 8;
  const char *s = (const char *)data + 2;
  size_t n = size - 2;

  json_t *f = findings_parse(s, n);
  check(json_is_array(f));
  size_t i;
  json_t *o;
  json_array_foreach(f, i, o) {
    const char *path = json_string_value(json_object_get(o, "path"));
    const char *sev = json_string_value(json_object_get(o, "severity"));
    const char *msg = json_string_value(json_object_get(o, "message"));
    json_int_t line = json_integer_value(json_object_get(o, "line"));
    json_int_t end = json_integer_value(json_object_get(o, "end_line"));
    check(path && *path && msg && *msg && sev);
    check(strcmp(sev, "error") == 0 || strcmp(sev, "warning") == 0 || strcmp(sev, "info") == 0);
    check(line >= 1 && end >= line);
  }
  char *dump = json_dumps(f, JSON_COMPACT);
  check(dump != NULL);
  free(dump);
  json_decref(f);

  text_t t;
  if (text_init(&t, s, n) == 0) {
    int *r;
    size_t k = chunks_cut(lang, &t, bound, &r);
    if (t.nlines <= 0) {
      check(k == 0);
    } else {
      check(k >= 1 && r[0] == 1 && r[2 * k - 1] == t.nlines);
      for (size_t j = 0; j < k; j++) {
        check(r[2 * j] <= r[2 * j + 1]);
        check(j == 0 || r[2 * j] == r[2 * j - 1] + 1);
      }
    }
    free(r);
    text_free(&t);
  }
  return 0;
}
