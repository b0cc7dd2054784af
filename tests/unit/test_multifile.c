/* The service layer's multi-file pieces: review-all findings, SEARCH/REPLACE answers checked
 * against exactly what a plan sent (a scope narrower than the file included), and the scope of
 * other files (unreadable ones refused, sets kept inside the project, the editor's text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "context/scan.h"
#include "core/tokens.h"
#include "service/chunks.h"
#include "service/findings.h"
#include "service/multifile.h"
#include "service/plan.h"
#include "util/buf.h"

static void findings_shapes(void **state)
{
  (void)state;
  static const char answer[] =
      "Here is the review.\n"
      "src/a.c:12: [error] leak of buf on the error path: free it\n"
      "- `lib/b.py:3-7`: [Warning] the loop is quadratic: use a set\n"
      "c:d.lua:9: [nit] odd severity: counted as warning\n"
      "x.c:4: no severity given\n"
      "```\n"
      "inside.c:1: [error] inside a fence: not a finding\n"
      "```\n"
      "bad.c:0: [error] line 0 is not a line\n"
      "bad.c:5-2: [error] a range backwards\n"
      ":5: [error] no path\n"
      "no findings\n";
  json_t *f = findings_parse(answer, strlen(answer));
  assert_int_equal(json_array_size(f), 4);
  const struct {
    const char *path, *severity, *message;
    int line, end;
  } want[] = {
      {"src/a.c", "error", "leak of buf on the error path: free it", 12, 12},
      {"lib/b.py", "warning", "the loop is quadratic: use a set", 3, 7},
      {"c:d.lua", "warning", "odd severity: counted as warning", 9, 9},
      {"x.c", "warning", "no severity given", 4, 4},
  };
  for (size_t i = 0; i < 4; i++) {
    json_t *o = json_array_get(f, i);
    assert_string_equal(json_string_value(json_object_get(o, "path")), want[i].path);
    assert_string_equal(json_string_value(json_object_get(o, "severity")), want[i].severity);
    assert_string_equal(json_string_value(json_object_get(o, "message")), want[i].message);
    assert_int_equal(json_integer_value(json_object_get(o, "line")), want[i].line);
    assert_int_equal(json_integer_value(json_object_get(o, "end_line")), want[i].end);
  }
  json_decref(f);
  f = findings_parse("no findings\n", 12);
  assert_int_equal(json_array_size(f), 0);
  json_decref(f);
}

static void has_blocks_only_at_a_line_start(void **state)
{
  (void)state;
  assert_true(multifile_has_blocks("x\n<<<<<<< SEARCH\n", 17));
  assert_false(multifile_has_blocks("say <<<<<<< SEARCH\n", 19));
  assert_false(multifile_has_blocks("", 0));
}

static const char big_c[] = "#include <stdio.h>\n"    /* 1 */
                            "\n"                      /* 2 */
                            "int f(void)\n"           /* 3 */
                            "{\n"                     /* 4 */
                            "  return 1;\n"           /* 5 */
                            "}\n"                     /* 6 */
                            "\n"                      /* 7 */
                            "int g(void)\n"           /* 8 */
                            "{\n"                     /* 9 */
                            "  return 1;\n"           /* 10 */
                            "}\n";                    /* 11 */

/* A plan whose scope is lines 8-11 of big_c (as a large file's package would be) plus one
 * other file. */
static void partial_plan(action_plan *p)
{
  memset(p, 0, sizeof(*p));
  assert_int_equal(text_init(&p->text, big_c, strlen(big_c)), 0);
  p->pkg.items = xcalloc(2, sizeof(pkg_item));
  p->pkg.nitems = 2;
  p->pkg.items[0] = (pkg_item){ITEM_SCOPE, 8, 11, 5, xstrdup("g"),
                               xstrdup("int g(void)\n{\n  return 1;\n}\n")};
  p->pkg.items[1] = (pkg_item){ITEM_FILE, 1, 1, 3, xstrdup("other.c"),
                               xstrdup("int h(void) { return g(); }\n")};
  p->path_sent = xstrdup("big.c");
}

static void partial_scope_edits_in_file_lines(void **state)
{
  (void)state;
  action_plan p;
  partial_plan(&p);
  /* "  return 1;" occurs twice in the file but once in what was sent: it matches. */
  static const char answer[] = "big.c\n```c\n<<<<<<< SEARCH\n  return 1;\n=======\n"
                               "  return 2;\n>>>>>>> REPLACE\n```\n"
                               "other.c\n```c\n<<<<<<< SEARCH\nint h(void) { return g(); }\n"
                               "=======\nint h(void) { return g() + 1; }\n>>>>>>> REPLACE\n```\n";
  multifile_edits m;
  char err[600];
  assert_int_equal(multifile_check(&p, answer, strlen(answer), &m, err, sizeof(err)), 0);
  assert_int_equal(m.prop.nfiles, 2);
  edit_file *f = &m.prop.files[0];
  assert_string_equal(f->path, "big.c");
  assert_int_equal(f->nedits, 1);
  assert_int_equal(f->edits[0].start_line, 10);
  assert_int_equal(f->edits[0].end_line, 10);
  /* The new text is the whole file, the first function untouched. */
  char want[sizeof(big_c)];
  snprintf(want, sizeof(want), "%s", big_c);
  memcpy(strstr(strstr(want, "int g"), "return 1"), "return 2", 8);
  assert_int_equal(f->len, strlen(want));
  assert_memory_equal(f->text, want, f->len);
  json_t *j = multifile_files_json(&m);
  assert_int_equal(json_array_size(j), 2);
  json_decref(j);
  multifile_edits_free(&m);

  /* A block for a file that was not sent refuses everything, naming the file. */
  static const char stray[] = "big.c\n```c\n<<<<<<< SEARCH\n  return 1;\n=======\n"
                              "  return 2;\n>>>>>>> REPLACE\n```\n"
                              "unsent.c\n```c\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n";
  assert_int_equal(multifile_check(&p, stray, strlen(stray), &m, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "unsent.c"));
  assert_int_equal(m.prop.nfiles, 0);
  /* A malformed answer too. */
  assert_int_equal(multifile_check(&p, "no blocks here\n", 15, &m, err, sizeof(err)), -1);
  action_plan_free(&p);
}

typedef struct {
  char dir[64];
  char old[4096];
} tmpdir;

static void enter_tmp(tmpdir *t)
{
  assert_non_null(getcwd(t->old, sizeof(t->old)));
  snprintf(t->dir, sizeof(t->dir), "/tmp/frugal-mf-XXXXXX");
  assert_non_null(mkdtemp(t->dir));
  assert_int_equal(chdir(t->dir), 0);
}

static void leave_tmp(tmpdir *t, const char *const *files)
{
  for (size_t i = 0; files[i]; i++) {
    unlink(files[i]);
  }
  assert_int_equal(chdir(t->old), 0);
  rmdir(t->dir);
}

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void scope_of_other_files(void **state)
{
  (void)state;
  tmpdir t;
  enter_tmp(&t);
  write_file("a.c", "int a(void) { return 0; }\n");
  write_file("b.c", "int b(void) { return a(); }\n");
  frugal_config cfg;
  config_init(&cfg);
  static const char src[] = "int main(void) { return b(); }\n";
  char err[600];
  action_plan p;

  /* A missing file is an error naming it, before anything is built to be sent. */
  const char *missing[] = {"a.c", "nonexistent.c"};
  action_request r = {.path = "main.c", .action = "refactor-files", .line = 1, .nfiles = 3,
                      .forced_tier = -1, .files = missing, .nfile_paths = 2};
  assert_int_equal(action_plan_build(&cfg, &r, src, strlen(src), 1, &p, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "nonexistent.c"));

  /* A file from a set outside the project is left out by name; named, it is sent. The
   * editor's text stands for b.c's disk text. */
  const char *files[] = {"a.c", "b.c", "/etc/hostname"};
  const char *texts[] = {NULL, "int b(void) { return 42; } /* unsaved */\n", NULL};
  unsigned char from_set[] = {1, 0, 1};
  r.files = files;
  r.nfile_paths = 3;
  r.nfiles = 4;
  r.file_texts = texts;
  r.file_from_set = from_set;
  if (access("/etc/hostname", R_OK) == 0) {
    assert_int_equal(action_plan_build(&cfg, &r, src, strlen(src), 1, &p, err, sizeof(err)), 0);
    json_t *c = action_context_json(&r, &p, 1);
    json_t *left = json_object_get(c, "left_out");
    assert_int_equal(json_array_size(left), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(left, 0), "path")),
                        "/etc/hostname");
    assert_string_equal(json_string_value(json_object_get(json_array_get(left, 0), "why")),
                        "outside the project");
    assert_non_null(strstr(p.prompt.context, "return 42; } /* unsaved */"));
    assert_null(strstr(p.prompt.context, "return a();"));
    assert_non_null(strstr(p.prompt.context, "int a(void)"));
    json_decref(c);
    action_plan_free(&p);
    from_set[2] = 0;
    assert_int_equal(action_plan_build(&cfg, &r, src, strlen(src), 1, &p, err, sizeof(err)), 0);
    c = action_context_json(&r, &p, 0);
    assert_int_equal(json_array_size(json_object_get(c, "left_out")), 0);
    json_decref(c);
    action_plan_free(&p);
  }
  config_free(&cfg);
  const char *made[] = {"a.c", "b.c", NULL};
  leave_tmp(&t, made);
}

/* Every line in exactly one chunk, in order; cuts only between top-level definitions; each
 * chunk within the bound unless a single definition is larger. */
static void chunks_cover_the_file_between_definitions(void **state)
{
  (void)state;
  buf_t b = BUF_INIT;
  buf_puts(&b, "#include <stdio.h>\n\nstruct s {\n  int a;\n};\n\n");
  for (int i = 0; i < 60; i++) {
    buf_printf(&b, "/* fn%d */\nint fn%d(int x)\n{\n  return x * %d + %d;\n}\n\n", i, i, i, i);
  }
  /* one function much larger than the bound */
  buf_puts(&b, "int huge(int x)\n{\n");
  for (int i = 0; i < 200; i++) {
    buf_printf(&b, "  x = x * 3 + %d;\n", i);
  }
  buf_puts(&b, "  return x;\n}\n");
  text_t t;
  assert_int_equal(text_init(&t, b.data, b.len), 0);
  scan_result sr;
  assert_int_equal(scan_file(LANG_C, &t, &sr), 0);
  int *r;
  size_t n = chunks_cut(LANG_C, &t, 300, &r);
  assert_true(n >= 3);
  assert_int_equal(r[0], 1);
  assert_int_equal(r[2 * n - 1], t.nlines);
  for (size_t i = 0; i < n; i++) {
    assert_true(r[2 * i] <= r[2 * i + 1]);
    if (i > 0) {
      assert_int_equal(r[2 * i], r[2 * i - 1] + 1);
    }
    /* no definition is cut: a chunk's end is never strictly inside one */
    for (size_t d = 0; d < sr.ndefs; d++) {
      if (sr.defs[d].parent == -1) {
        assert_false(sr.defs[d].start_line <= r[2 * i + 1] && r[2 * i + 1] < sr.defs[d].end_line);
      }
    }
    size_t s0 = text_line_start(&t, r[2 * i]), e0 = text_line_end(&t, r[2 * i + 1]);
    int tok = tokens_estimate(LANG_C, t.data + s0, e0 - s0);
    int huge = strstr(t.data + s0, "int huge(") && strstr(t.data + s0, "int huge(") < t.data + e0;
    assert_true(tok <= 300 || huge);
  }
  free(r);
  /* no definitions (unknown language): one chunk, the whole file */
  n = chunks_cut(LANG_UNKNOWN, &t, 300, &r);
  assert_int_equal(n, 1);
  assert_int_equal(r[0], 1);
  assert_int_equal(r[1], t.nlines);
  free(r);
  scan_result_free(&sr);
  text_free(&t);
  buf_free(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(findings_shapes),
      cmocka_unit_test(has_blocks_only_at_a_line_start),
      cmocka_unit_test(partial_scope_edits_in_file_lines),
      cmocka_unit_test(scope_of_other_files),
      cmocka_unit_test(chunks_cover_the_file_between_definitions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
