/* Tests for native/core/tokens.c: the o200k token estimate.
 *
 * The pinned counts below are real o200k_base counts, produced by
 * `node bench/tokens/o200k.mjs --stdin-text < sample` (gpt-tokenizer 4.0.0) on exactly these
 * strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/tokens.h"

typedef struct {
  lang_id lang;
  const char *text;
  int o200k;
} pinned;

static const pinned samples[] = {
  {LANG_C,
   "static int buf_grow(buf_t *b, size_t extra)\n"
   "{\n"
   "  if (b->len + extra <= b->cap) {\n"
   "    return 0;\n"
   "  }\n"
   "  size_t cap = b->cap ? b->cap * 2 : 64;\n"
   "  while (cap < b->len + extra) {\n"
   "    cap *= 2;\n"
   "  }\n"
   "  char *p = realloc(b->data, cap);\n"
   "  if (!p) {\n"
   "    return -1;\n"
   "  }\n"
   "  b->data = p;\n"
   "  b->cap = cap;\n"
   "  return 0;\n"
   "}\n",
   120},
  {LANG_PYTHON,
   "class LineCounter:\n"
   "    \"\"\"Counts non-empty lines in a set of files.\"\"\"\n"
   "\n"
   "    def __init__(self, paths):\n"
   "        self.paths = list(paths)\n"
   "        self.totals = {}\n"
   "\n"
   "    def run(self):\n"
   "        for path in self.paths:\n"
   "            with open(path, encoding=\"utf-8\") as f:\n"
   "                self.totals[path] = sum(1 for line in f if line.strip())\n"
   "        return self.totals\n",
   91},
  {LANG_JAVASCRIPT,
   "export async function fetchUserProfile(userId, { signal } = {}) {\n"
   "  const response = await fetch(`/api/users/${encodeURIComponent(userId)}`, { signal });\n"
   "  if (!response.ok) {\n"
   "    throw new Error(`request failed with status ${response.status}`);\n"
   "  }\n"
   "  return response.json();\n"
   "}\n",
   62},
  {LANG_UNKNOWN,
   "Cheap models do excellent work on single-step tasks when they get a thorough instruction "
   "and\n"
   "exactly the right context. Larger models are worth their price for work that spans many "
   "files\n"
   "and many steps. The assistant decides which one to use, and keeps an honest record of the "
   "cost.\n",
   57},
  {LANG_C, "getHTTPResponseHeaderValueForRequestIdentifier", 8},
  {LANG_UNKNOWN,
   "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9"
   "\xe3\x83\x88\xe3\x81\xaf\xe8\x8b\xb1\xe8\xaa\x9e\xe3\x82\x88\xe3\x82\x8a\xe3\x82\x82"
   "\xe5\xa4\x9a\xe3\x81\x8f\xe3\x81\xae\xe3\x83\x88\xe3\x83\xbc\xe3\x82\xaf\xe3\x83\xb3"
   "\xe3\x82\x92\xe4\xbd\xbf\xe3\x81\x84\xe3\x81\xbe\xe3\x81\x99\xe3\x80\x82",
   21},
};

static int estimate(lang_id lang, const char *s)
{
  return tokens_estimate(lang, s, strlen(s));
}

static void test_empty_text_is_zero_tokens(void **state)
{
  (void)state;
  assert_int_equal(tokens_estimate(LANG_C, "", 0), 0);
  assert_int_equal(tokens_estimate(LANG_PYTHON, NULL, 0), 0);
  assert_int_equal(tokens_estimate(LANG_UNKNOWN, "abc", 0), 0);
}

static void test_any_nonempty_text_is_at_least_one_token(void **state)
{
  (void)state;
  static const char *const bits[] = {"x", " ", "\n", "{", "7", "\t\t", "\xff", "\xe6\x97"};
  for (int lang = 0; lang < LANG__COUNT; lang++) {
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
      assert_true(estimate((lang_id)lang, bits[i]) >= 1);
    }
  }
}

static void test_pinned_samples_within_fifteen_percent_of_o200k(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
    int got = estimate(samples[i].lang, samples[i].text);
    int want = samples[i].o200k;
    int slack = want * 15 / 100 > 1 ? want * 15 / 100 : 1;
    if (abs(got - want) > slack) {
      fail_msg("sample %zu: estimate %d, o200k %d", i, got, want);
    }
  }
}

static void test_estimate_beats_bytes_over_four_on_pinned_samples(void **state)
{
  (void)state;
  int err_est = 0, err_bytes = 0;
  for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
    int want = samples[i].o200k;
    err_est += abs(estimate(samples[i].lang, samples[i].text) - want);
    err_bytes += abs((int)((strlen(samples[i].text) + 3) / 4) - want);
  }
  assert_true(err_est * 3 < err_bytes);
}

static void test_repeating_text_scales_the_estimate(void **state)
{
  (void)state;
  const char *one = samples[0].text;
  size_t n = strlen(one);
  char *many = malloc(n * 10 + 1);
  for (int k = 0; k < 10; k++) {
    memcpy(many + (size_t)k * n, one, n);
  }
  many[n * 10] = '\0';
  int single = estimate(LANG_C, one);
  int ten = estimate(LANG_C, many);
  assert_true(ten >= single * 10 - single / 2 && ten <= single * 10 + single / 2);
  free(many);
}

static void test_appending_text_never_lowers_the_estimate_much(void **state)
{
  (void)state;
  const char *s = samples[1].text;
  size_t n = strlen(s);
  int prev = 0;
  for (size_t len = 1; len <= n; len++) {
    int t = tokens_estimate(LANG_PYTHON, s, len);
    /* A character can merge with the piece before it (a word grows), so allow one token of
     * wobble, never more. */
    assert_true(t >= prev - 1);
    if (t > prev) {
      prev = t;
    }
  }
}

static void test_digits_group_by_three_like_o200k(void **state)
{
  (void)state;
  /* o200k: 300 digits -> 100 tokens (pinned with the npm tokenizer). */
  char digits[301];
  for (int i = 0; i < 300; i++) {
    digits[i] = (char)('0' + (i + 1) % 10);
  }
  digits[300] = '\0';
  int d = estimate(LANG_UNKNOWN, digits);
  assert_true(d >= 90 && d <= 110);
}

static void test_indentation_runs_are_cheap(void **state)
{
  (void)state;
  char spaces[1001];
  memset(spaces, ' ', 1000);
  spaces[1000] = '\0';
  /* o200k: 1000 spaces -> 9 tokens; bytes/4 would say 250. */
  int sp = estimate(LANG_C, spaces);
  assert_true(sp >= 1 && sp <= 20);
  int flat = estimate(LANG_PYTHON, "return value\n");
  int deep = estimate(LANG_PYTHON, "                return value\n");
  assert_true(deep - flat <= 1);
}

static void test_arbitrary_bytes_are_walked_safely(void **state)
{
  (void)state;
  unsigned char junk[4096];
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < sizeof(junk); i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    junk[i] = (unsigned char)x;
  }
  for (size_t len = 1; len < sizeof(junk); len += 97) {
    int t = tokens_estimate(LANG_RUST, (const char *)junk, len);
    assert_true(t >= 1);
    assert_true(t <= (int)len * 2);
  }
  /* A truncated multi-byte sequence at the very end must not be read past. */
  const char cut[] = {'a', (char)0xe6, (char)0x97};
  assert_true(tokens_estimate(LANG_UNKNOWN, cut, sizeof(cut)) >= 1);
}

static void test_unknown_language_ids_fall_back_to_prose(void **state)
{
  (void)state;
  const char *s = samples[3].text;
  assert_int_equal(estimate((lang_id)99, s), estimate(LANG_UNKNOWN, s));
}

static void test_feature_names_cover_every_feature(void **state)
{
  (void)state;
  for (int i = 0; i < TOKENS_NFEATURES; i++) {
    assert_non_null(tokens_feature_name(i));
  }
  assert_null(tokens_feature_name(TOKENS_NFEATURES));
  assert_null(tokens_feature_name(-1));
  unsigned long f[TOKENS_NFEATURES] = {0};
  const char *code = "if (x) {\n  return 12345;\n}\n";
  tokens_features(code, strlen(code), f);
  unsigned long pieces = 0;
  for (int i = 0; i < TOKENS_NFEATURES; i++) {
    pieces += f[i];
  }
  assert_true(pieces >= 8);
}

/* A whole-file count of a large file samples it; on code of mixed shapes (long comments, dense
 * tables, short lines) the sampled figure stays within 2% of the exact one. */
static void test_large_file_estimate_samples_within_two_percent(void **state)
{
  (void)state;
  size_t cap = 3u << 20, n = 0;
  char *buf = malloc(cap + 512);
  assert_non_null(buf);
  unsigned seed = 7;
  for (int i = 0; n < cap; i++) {
    seed = seed * 1103515245u + 12345u;
    int shape = (int)((seed >> 16) % 3);
    int w;
    if (shape == 0) {
      w = snprintf(buf + n, 512, "/* step %d folds the running totals of batch %u into place */\n", i, seed % 977);
    } else if (shape == 1) {
      w = snprintf(buf + n, 512, "  {%d, %u, 0x%08x, \"%s\"},\n", i, seed % 65536, seed, i % 2 ? "alpha" : "beta_gamma");
    } else {
      w = snprintf(buf + n, 512, "static int fold_%d(struct batch *b) { return b->total += %d; }\n", i, i % 97);
    }
    n += (size_t)w;
  }
  int exact = tokens_estimate(LANG_C, buf, n);
  int sampled = tokens_estimate_file(LANG_C, buf, n);
  double err = (double)(sampled - exact) / (double)exact;
  assert_true(err < 0.02 && err > -0.02);
  /* small files are counted exactly */
  assert_int_equal(tokens_estimate_file(LANG_C, buf, 100000), tokens_estimate(LANG_C, buf, 100000));
  free(buf);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_empty_text_is_zero_tokens),
    cmocka_unit_test(test_any_nonempty_text_is_at_least_one_token),
    cmocka_unit_test(test_pinned_samples_within_fifteen_percent_of_o200k),
    cmocka_unit_test(test_estimate_beats_bytes_over_four_on_pinned_samples),
    cmocka_unit_test(test_repeating_text_scales_the_estimate),
    cmocka_unit_test(test_appending_text_never_lowers_the_estimate_much),
    cmocka_unit_test(test_digits_group_by_three_like_o200k),
    cmocka_unit_test(test_indentation_runs_are_cheap),
    cmocka_unit_test(test_arbitrary_bytes_are_walked_safely),
    cmocka_unit_test(test_unknown_language_ids_fall_back_to_prose),
    cmocka_unit_test(test_feature_names_cover_every_feature),
    cmocka_unit_test(test_large_file_estimate_samples_within_two_percent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
