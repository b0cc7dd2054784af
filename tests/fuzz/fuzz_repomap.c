/* libFuzzer target for the repo map (native/repomap/): arbitrary bytes as up to four source
 * files of a small project, mapped with the first file in scope. Checks the invariants a
 * caller relies on; any violation aborts.
 *
 * Input layout: byte 0 picks each file's language (two bits per file, from c, py, lua, ts),
 * byte 1 the budget (8 * byte + 1 tokens), then the files' texts separated by NUL bytes.
 *
 * Invariants: the build succeeds; the map fits the budget and its token count is the
 * estimator's; every line is a walked file's path followed by ':' or an indented signature;
 * the map is valid UTF-8 whatever the files hold (long signatures are cut at character
 * boundaries, other bytes become '?');
 * a second build from the cache gives the same map, and so does one from the cache saved to a
 * file and loaded again; a damaged cache file is refused or, when it still parses, gives a map
 * within the budget. The first file's outline (repomap_outline) shows lines of the file only,
 * each under its own number. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/tokens.h"
#include "repomap/repomap.h"
#include "util/text.h"

static char dir[64];

static void check(int ok)
{
  if (!ok) {
    abort();
  }
}

/* Every numbered line of the outline is that line of the file, in increasing order; the rest
 * are "..." markers. */
static void check_outline(const char *src, size_t len, lang_id lang)
{
  text_t t;
  check(text_init(&t, src, len) == 0);
  buf_t b = BUF_INIT;
  int tokens = repomap_outline(lang, &t, NULL, &b);
  check(tokens == tokens_estimate(lang, b.data ? b.data : "", b.len));
  int last = 0;
  for (const char *l = b.data ? b.data : ""; *l;) {
    const char *nl = strchr(l, '\n');
    check(nl != NULL);
    const char *bar = memchr(l, '|', (size_t)(nl - l));
    check(bar != NULL);
    int num = atoi(l);
    if (num == 0) {
      check(strncmp(bar, "| ...", 5) == 0 && bar + 5 == nl);
    } else {
      check(num > last && num <= t.nlines);
      last = num;
      size_t a = text_line_start(&t, num), e = text_line_end(&t, num);
      while (e > a && (src[e - 1] == '\n' || src[e - 1] == '\r')) {
        e--;
      }
      const char *text = bar + 1 + (bar + 1 < nl && bar[1] == ' ');
      check((size_t)(nl - text) == e - a && memcmp(text, src + a, e - a) == 0);
    }
    l = nl + 1;
  }
  buf_free(&b);
  text_free(&t);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const exts[] = {"c", "py", "lua", "ts"};

static void remove_files(void)
{
  for (int i = 0; i < 16; i++) {
    char path[128];
    snprintf(path, sizeof(path), "%s/f%d.%s", dir, i / 4, exts[i % 4]);
    unlink(path);
  }
}

static void remove_dir(void)
{
  char store[128];
  snprintf(store, sizeof(store), "%s/map.store", dir);
  unlink(store);
  remove_files();
  rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  snprintf(dir, sizeof(dir), "/tmp/fuzz-repomap-XXXXXX");
  check(mkdtemp(dir) != NULL);
  atexit(remove_dir);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 2) {
    return 0;
  }
  int budget = data[1] * 8 + 1;
  const char *p = (const char *)data + 2, *end = (const char *)data + size;
  char names[4][32];
  int nfiles = 0;
  const char *first_nul = memchr(p, '\0', (size_t)(end - p));
  size_t first_len = first_nul ? (size_t)(first_nul - p) : (size_t)(end - p);
  remove_files(); /* what earlier inputs wrote */
  for (int i = 0; i < 4; i++) {
    char path[128];
    snprintf(names[i], sizeof(names[i]), "f%d.%s", i, exts[(data[0] >> (2 * i)) & 3]);
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    if (p > end || (p == end && i > 0)) {
      continue;
    }
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    size_t n = nul ? (size_t)(nul - p) : (size_t)(end - p);
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    check(fwrite(p, 1, n, f) == n);
    fclose(f);
    nfiles++;
    p += n + 1;
  }
  check_outline((const char *)data + 2, first_len, lang_from_path(names[0]));

  repomap_cache *c = repomap_cache_new();
  const char *scope[] = {names[0]};
  repomap_request req = {.root = dir, .scope = scope, .nscope = 1, .budget_tokens = budget};
  repomap_result r, again;
  char err[256];
  check(repomap_build(c, &req, &r, err, sizeof(err)) == 0);
  check(r.tokens <= budget);
  check(r.tokens == tokens_estimate(LANG_UNKNOWN, r.text, strlen(r.text)));
  check(r.files_walked <= nfiles && r.files_shown <= r.files_walked);
  check(r.defs_shown <= r.defs_total && r.bound == NULL);
  check(utf8_valid(r.text, strlen(r.text))); /* whatever the files hold */
  for (const char *l = r.text; *l;) {
    const char *nl = strchr(l, '\n');
    check(nl != NULL);
    if (l[0] != ' ') {
      int known = 0;
      for (int i = 0; i < 4; i++) {
        size_t k = strlen(names[i]);
        known |= (size_t)(nl - l) == k + 1 && strncmp(l, names[i], k) == 0 && l[k] == ':';
      }
      check(known);
    } else {
      check(nl - l > 2 && l[1] == ' ');
    }
    l = nl + 1;
  }
  check(repomap_build(c, &req, &again, err, sizeof(err)) == 0);
  check(again.files_scanned == 0 && strcmp(again.text, r.text) == 0);
  repomap_result_free(&again);
  /* The planner's map: what is connected to the scope, within the same bounds. */
  repomap_request conn = req;
  conn.connected_only = 1;
  check(repomap_build(c, &conn, &again, err, sizeof(err)) == 0);
  check(again.tokens <= budget && again.defs_shown <= again.defs_total);
  check(utf8_valid(again.text, strlen(again.text)));
  repomap_result_free(&again);

  /* The file cache: saved and loaded, the same map without a scan; damaged (one byte changed
   * and the file cut, where the input says), refused or, if still valid, a map that keeps the
   * budget. */
  char store[128];
  snprintf(store, sizeof(store), "%s/map.store", dir);
  check(repomap_cache_save(c, store, err, sizeof(err)) == 0);
  repomap_cache *d = repomap_cache_new();
  check(repomap_cache_load(d, store, err, sizeof(err)) == 0);
  check(repomap_build(d, &req, &again, err, sizeof(err)) == 0);
  check(again.files_scanned == 0 && strcmp(again.text, r.text) == 0);
  repomap_result_free(&again);
  repomap_cache_free(d);
  FILE *f = fopen(store, "rb");
  static unsigned char bytes[1 << 20];
  size_t n = fread(bytes, 1, sizeof(bytes), f);
  fclose(f);
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; i++) {
    h = (h ^ data[i]) * 16777619u;
  }
  if (n > 0) {
    bytes[h % n] ^= (unsigned char)(1u << (h >> 29));
    size_t keep = (h >> 8) % 4 == 0 ? (h >> 10) % (n + 1) : n;
    f = fopen(store, "wb");
    fwrite(bytes, 1, keep, f);
    fclose(f);
  }
  d = repomap_cache_new();
  if (repomap_cache_load(d, store, err, sizeof(err)) == 0) {
    check(repomap_build(d, &req, &again, err, sizeof(err)) == 0);
    check(again.tokens <= budget);
    repomap_result_free(&again);
  } else {
    check(err[0] != '\0');
  }
  repomap_cache_free(d);
  unlink(store);
  repomap_result_free(&r);
  repomap_cache_free(c);
  return 0;
}
