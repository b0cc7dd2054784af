/* Prompt caching: two requests on the same file and action share a byte-identical prefix (system
 * text and file-level context), and when the stable part is large it is at least the 1,024
 * tokens providers need before they cache anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context/package.h"
#include "core/tokens.h"
#include "prompt/prompt.h"
#include "util/buf.h"

/* A C file whose two public functions use the same types and call the same helpers, as the
 * functions of one module do. */
static char *make_source(int *line_a, int *line_b)
{
  buf_t b = BUF_INIT;
  int line = 1;
#define EMIT(...)                                                                               \
  do {                                                                                          \
    buf_printf(&b, __VA_ARGS__);                                                                \
    line++;                                                                                     \
  } while (0)
  EMIT("#include <stddef.h>\n");
  EMIT("#include <stdio.h>\n");
  EMIT("#include <string.h>\n");
  EMIT("\n");
  EMIT("typedef struct {\n");
  for (int i = 0; i < 30; i++) {
    EMIT("  long counter_%d; /* events of kind %d seen since the last reset */\n", i, i);
  }
  EMIT("} stats;\n");
  EMIT("\n");
  for (int i = 0; i < 40; i++) {
    EMIT("/* Folds record kind %d into the running statistics. */\n", i);
    EMIT("static int fold_kind_%d(stats *s, const char *record, size_t len, int flags)\n", i);
    EMIT("{\n");
    EMIT("  s->counter_%d += (long)len + flags;\n", i % 30);
    EMIT("  return record[0] == 'x';\n");
    EMIT("}\n");
    EMIT("\n");
  }
  for (int f = 0; f < 2; f++) {
    *(f == 0 ? line_a : line_b) = line + 2;
    EMIT("int process_%s(stats *s, const char *record, size_t len)\n", f == 0 ? "batch" : "stream");
    EMIT("{\n");
    EMIT("  int n = 0;\n");
    for (int i = 0; i < 40; i++) {
      EMIT("  n += fold_kind_%d(s, record, len, %d);\n", i, f);
    }
    EMIT("  return n;\n");
    EMIT("}\n");
    EMIT("\n");
  }
#undef EMIT
  return buf_detach(&b);
}

static void build(const text_t *t, int line, pkg_result *pkg, prompt *p)
{
  pkg_request q = {.path = "stats.c", .lang = LANG_C, .action = "tests", .cursor_line = line,
                   .budget_tokens = 100000};
  char err[256];
  assert_int_equal(package_build(t, &q, pkg, err, sizeof(err)), 0);
  prompt_request pr = {.action = "tests", .path = "src/stats.c", .lang = LANG_C, .pkg = pkg,
                       .test_framework = "cmocka", .test_path = "tests/test_stats.c"};
  assert_int_equal(prompt_build(&pr, p, err, sizeof(err)), 0);
}

static void two_functions_share_a_cacheable_prefix_of_over_1024_tokens(void **state)
{
  int la = 0, lb = 0;
  char *src = make_source(&la, &lb);
  text_t t;
  assert_int_equal(text_init(&t, src, strlen(src)), 0);
  pkg_result pa, pb;
  prompt a, b;
  build(&t, la, &pa, &a);
  build(&t, lb, &pb, &b);
  assert_string_equal(pa.scope_name, "process_batch");
  assert_string_equal(pb.scope_name, "process_stream");
  /* the stable parts are byte for byte the same ... */
  assert_string_equal(a.system, b.system);
  assert_string_equal(a.context, b.context);
  /* ... the volatile part is not, and comes last */
  assert_string_not_equal(a.task, b.task);
  int prefix = tokens_estimate(LANG_UNKNOWN, a.system, strlen(a.system)) +
               tokens_estimate(LANG_C, a.context, strlen(a.context));
  if (prefix < 1024) {
    fail_msg("shared prefix is only %d tokens", prefix);
  }
  /* caching never widens the context: the other function and the helpers' bodies are not in
   * it, only their signatures */
  assert_null(strstr(a.context, "process_stream"));
  assert_null(strstr(a.context, "return record[0]"));
  assert_non_null(strstr(a.context, "static int fold_kind_39(stats *s"));
  prompt_free(&a);
  prompt_free(&b);
  pkg_result_free(&pa);
  pkg_result_free(&pb);
  text_free(&t);
  free(src);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(two_functions_share_a_cacheable_prefix_of_over_1024_tokens),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
