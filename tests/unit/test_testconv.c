/* Tests for native/project/testconv.c: a project's test conventions, discovered from its files.
 *
 * Small fake projects live in tests/fixtures/testconv/<name>/ (each with its own manifest, so
 * the repository's own root never wins); trees that git cannot hold or that are large (symlink
 * loops, 5,000 entries, projects without any marker) are built at run time under /tmp. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#endif
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "project/testconv.h"

#ifndef FRUGAL_SOURCE_DIR
#define FRUGAL_SOURCE_DIR "."
#endif

/* ---- helpers ------------------------------------------------------------------------------ */

static char *cat(const char *a, const char *b)
{
  size_t n = strlen(a) + strlen(b) + 2;
  char *r = malloc(n);
  assert_non_null(r);
  snprintf(r, n, "%s/%s", a, b);
  return r;
}

/* Absolute, resolved path of a fixture project (or of a file in it). */
static char *fixture(const char *rel)
{
  char *p = cat(FRUGAL_SOURCE_DIR "/tests/fixtures/testconv", rel);
  char *r = realpath(p, NULL);
  if (!r) {
    fail_msg("missing fixture %s", p);
  }
  free(p);
  return r;
}

static char *slurp(const char *path)
{
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    fail_msg("cannot open %s", path);
  }
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *d = malloc((size_t)n + 1);
  assert_non_null(d);
  assert_int_equal(fread(d, 1, (size_t)n, fp), (size_t)n);
  d[n] = '\0';
  fclose(fp);
  return d;
}

static void discover_ok(const char *path, lang_id lang, const char *function, testconv *t)
{
  char err[256] = "";
  if (testconv_discover(path, lang, function, t, err, sizeof(err)) != 0) {
    fail_msg("testconv_discover(%s) failed: %s", path, err);
  }
}

/* Checks every field. Paths are relative to `root`; `sample_rel` NULL means no sample; the
 * sample text must be `sample_text`, or the whole sample file when that is NULL. */
static void expect(const testconv *t, const char *root, const char *framework, const char *test_rel,
                   int exists, const char *sample_rel, const char *sample_text, const char *why)
{
  assert_non_null(t->root);
  assert_string_equal(t->root, root);
  if (framework) {
    assert_non_null(t->framework);
    assert_string_equal(t->framework, framework);
  } else {
    assert_null(t->framework);
  }
  char *want = cat(root, test_rel);
  assert_non_null(t->test_path);
  assert_string_equal(t->test_path, want);
  free(want);
  assert_int_equal(t->exists, exists);
  if (sample_rel) {
    char *sp = cat(root, sample_rel);
    assert_non_null(t->sample_path);
    assert_string_equal(t->sample_path, sp);
    assert_non_null(t->sample);
    if (sample_text) {
      assert_string_equal(t->sample, sample_text);
    } else {
      char *whole = slurp(sp);
      assert_string_equal(t->sample, whole);
      free(whole);
    }
    free(sp);
  } else {
    assert_null(t->sample_path);
    assert_null(t->sample);
  }
  assert_non_null(t->why);
  assert_string_equal(t->why, why);
}

/* A scratch project under /tmp. */
typedef struct {
  char dir[64];
  char *real; /* resolved */
} scratch;

static void scratch_make(scratch *s)
{
  snprintf(s->dir, sizeof(s->dir), "/tmp/testconv-XXXXXX");
  assert_non_null(mkdtemp(s->dir));
  s->real = realpath(s->dir, NULL);
  assert_non_null(s->real);
}

static void mkdirs(char *path)
{
  for (char *p = path + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(path, 0755);
      *p = '/';
    }
  }
}

static void put_bytes(const scratch *s, const char *rel, const char *data, size_t n)
{
  char *p = cat(s->real, rel);
  mkdirs(p);
  FILE *fp = fopen(p, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, n, fp), n);
  fclose(fp);
  free(p);
}

static void put(const scratch *s, const char *rel, const char *text)
{
  put_bytes(s, rel, text, strlen(text));
}

static void put_dir(const scratch *s, const char *rel)
{
  char *p = cat(s->real, rel);
  char *q = cat(p, "x");
  mkdirs(q);
  free(q);
  free(p);
}

static void put_link(const scratch *s, const char *rel, const char *target)
{
  char *p = cat(s->real, rel);
  mkdirs(p);
  assert_int_equal(symlink(target, p), 0);
  free(p);
}

static char *in(const scratch *s, const char *rel)
{
  return cat(s->real, rel);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void scratch_free(scratch *s)
{
  nftw(s->real, remove_one, 16, FTW_DEPTH | FTW_PHYS);
  free(s->real);
}

/* ---- fixture projects --------------------------------------------------------------------- */

static void test_pytest_project_puts_a_new_test_beside_the_neighbours_in_tests_unit(void **state)
{
  (void)state;
  char *root = fixture("py_pytest"), *src = fixture("py_pytest/src/shop/cart.py");
  testconv t;
  discover_ok(src, LANG_PYTHON, "total", &t);
  /* tests/unit holds the tests of cart.py's neighbours (price, tax); integration/ does not */
  expect(&t, root, "pytest", "tests/unit/test_cart.py", 0, "tests/unit/test_price.py", NULL,
         "pytest (conftest.py at the root); tests/unit/test_<module>.py like 2 existing tests");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_an_existing_test_of_the_module_is_extended_and_is_the_sample(void **state)
{
  (void)state;
  char *root = fixture("py_pytest"), *src = fixture("py_pytest/src/shop/price.py");
  testconv t;
  discover_ok(src, LANG_UNKNOWN, NULL, &t);
  expect(&t, root, "pytest", "tests/unit/test_price.py", 1, "tests/unit/test_price.py", NULL,
         "pytest (conftest.py at the root); tests/unit/test_<module>.py like 2 existing tests");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_asked_from_a_test_file_the_tests_go_into_it(void **state)
{
  (void)state;
  char *root = fixture("py_pytest"), *src = fixture("py_pytest/tests/unit/test_tax.py");
  testconv t;
  discover_ok(src, LANG_UNKNOWN, "test_unknown_country_has_no_tax", &t);
  expect(&t, root, "pytest", "tests/unit/test_tax.py", 1, "tests/unit/test_tax.py", NULL,
         "pytest (conftest.py at the root); tests/unit/test_tax.py is itself a test file: add to "
         "it");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_a_new_unsaved_source_file_gets_a_target_too(void **state)
{
  (void)state;
  char *root = fixture("py_pytest");
  char *src = cat(root, "src/shop/new_module.py");
  testconv t;
  discover_ok(src, LANG_UNKNOWN, NULL, &t);
  expect(&t, root, "pytest", "tests/unit/test_new_module.py", 0, "tests/unit/test_price.py", NULL,
         "pytest (conftest.py at the root); tests/unit/test_<module>.py like 2 existing tests");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_unittest_project_is_recognised_by_its_testcase_classes(void **state)
{
  (void)state;
  char *root = fixture("py_unittest"), *src = fixture("py_unittest/mylib/strings.py");
  testconv t;
  discover_ok(src, LANG_PYTHON, "shout", &t);
  expect(&t, root, "unittest", "test/test_strings.py", 0, "test/test_numbers.py", NULL,
         "unittest (unittest.TestCase in 1 test file); test/test_<module>.py like 1 existing "
         "test");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_a_relative_source_path_is_resolved_from_the_current_directory(void **state)
{
  (void)state;
  char *root = fixture("py_unittest");
  char *cwd = getcwd(NULL, 0);
  assert_non_null(cwd);
  assert_int_equal(chdir(root), 0);
  testconv t;
  discover_ok("mylib/strings.py", LANG_UNKNOWN, NULL, &t);
  assert_int_equal(chdir(cwd), 0);
  expect(&t, root, "unittest", "test/test_strings.py", 0, "test/test_numbers.py", NULL,
         "unittest (unittest.TestCase in 1 test file); test/test_<module>.py like 1 existing "
         "test");
  testconv_free(&t);
  free(cwd);
  free(root);
}

static void test_a_test_tree_that_mirrors_src_gets_the_mirrored_folder(void **state)
{
  (void)state;
  char *root = fixture("py_mirror"), *src = fixture("py_mirror/src/app/views/page.py");
  testconv t;
  discover_ok(src, LANG_PYTHON, "render", &t);
  expect(&t, root, "pytest", "tests/app/views/test_page.py", 0, "tests/app/models/test_user.py",
         NULL,
         "pytest (import pytest in 1 test file); tests/app/views/test_<module>.py like 1 "
         "existing test, mirroring the source folders");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_jest_project_with___tests___folders_beside_the_sources(void **state)
{
  (void)state;
  char *root = fixture("js_jest"), *src = fixture("js_jest/src/utils/format.js");
  testconv t;
  discover_ok(src, LANG_JAVASCRIPT, "money", &t);
  /* @testing-library/jest-dom does not count; "jest" does */
  expect(&t, root, "jest", "src/utils/__tests__/format.test.js", 0,
         "src/utils/__tests__/parse.test.js", NULL,
         "jest (jest in package.json devDependencies); src/utils/__tests__/<module>.test.js like "
         "2 existing tests");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_vitest_project_with_test_files_beside_the_sources(void **state)
{
  (void)state;
  char *root = fixture("ts_vitest"), *src = fixture("ts_vitest/src/math.ts");
  testconv t;
  discover_ok(src, LANG_TYPESCRIPT, "add", &t);
  /* src/date.test.ts is in the target's folder: it wins over src/lib/strings.test.ts */
  expect(&t, root, "vitest", "src/math.test.ts", 0, "src/date.test.ts", NULL,
         "vitest (vitest in package.json devDependencies); src/<module>.test.ts like 2 existing "
         "tests, beside the source");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_go_tests_go_beside_the_source_with_a_table_driven_sample(void **state)
{
  (void)state;
  char *root = fixture("go_mod"), *src = fixture("go_mod/calc/mul.go");
  testconv t;
  discover_ok(src, LANG_GO, "Mul", &t);
  expect(&t, root, "go test", "calc/mul_test.go", 0, "calc/add_test.go", NULL,
         "go test (go.mod); calc/<file>_test.go beside the source, as go test requires (1 "
         "existing test here, 1 in the module); table-driven style");
  testconv_free(&t);
  free(src);
  src = fixture("go_mod/calc/add.go");
  discover_ok(src, LANG_UNKNOWN, "Add", &t);
  expect(&t, root, "go test", "calc/add_test.go", 1, "calc/add_test.go", NULL,
         "go test (go.mod); calc/<file>_test.go beside the source, as go test requires (1 "
         "existing test here, 1 in the module); table-driven style");
  testconv_free(&t);
  free(src);
  free(root);
}

static const char rust_lib_module[] = "#[cfg(test)]\n"
                                      "mod tests {\n"
                                      "    use super::*;\n"
                                      "\n"
                                      "    #[test]\n"
                                      "    fn counts_words() {\n"
                                      "        assert_eq!(count(\"a b  c\"), 3);\n"
                                      "    }\n"
                                      "}\n";

static void test_rust_file_with_a_tests_module_is_its_own_target(void **state)
{
  (void)state;
  char *root = fixture("rust_inline"), *src = fixture("rust_inline/src/lib.rs");
  testconv t;
  discover_ok(src, LANG_RUST, "count", &t);
  /* the sample is the tests module, not the top of the file */
  expect(&t, root, "cargo test", "src/lib.rs", 1, "src/lib.rs", rust_lib_module,
         "cargo test (Cargo.toml); src/lib.rs already has a #[cfg(test)] mod tests: add the "
         "tests to it");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_rust_file_of_a_crate_with_inline_tests_gets_a_tests_module(void **state)
{
  (void)state;
  char *root = fixture("rust_inline"), *src = fixture("rust_inline/src/parse.rs");
  testconv t;
  discover_ok(src, LANG_UNKNOWN, "first", &t);
  expect(&t, root, "cargo test", "src/parse.rs", 1, "src/lib.rs", rust_lib_module,
         "cargo test (Cargo.toml); inline tests like 1 file of the crate: append a #[cfg(test)] "
         "mod tests to src/parse.rs");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_rust_crate_with_integration_tests_gets_a_tests_file(void **state)
{
  (void)state;
  char *root = fixture("rust_integ"), *src = fixture("rust_integ/src/codec.rs");
  testconv t;
  discover_ok(src, LANG_RUST, "encode", &t);
  expect(&t, root, "cargo test", "tests/codec.rs", 0, "tests/api.rs", NULL,
         "cargo test (Cargo.toml); tests/<module>.rs integration tests like 1 existing test");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_java_maven_junit5_mirrors_the_package_under_src_test_java(void **state)
{
  (void)state;
  char *root = fixture("java_maven");
  char *src = fixture("java_maven/src/main/java/com/acme/billing/Invoice.java");
  testconv t;
  discover_ok(src, LANG_JAVA, "total", &t);
  expect(&t, root, "junit5", "src/test/java/com/acme/billing/InvoiceTest.java", 0,
         "src/test/java/com/acme/billing/TaxTest.java", NULL,
         "junit5 (org.junit.jupiter imports in 1 test); src/test/java/com/acme/billing/"
         "<Class>Test.java (Maven layout) like 1 existing test");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_lua_busted_project_uses_spec(void **state)
{
  (void)state;
  char *root = fixture("lua_busted"), *src = fixture("lua_busted/lua/mylib/text.lua");
  testconv t;
  discover_ok(src, LANG_LUA, "words", &t);
  expect(&t, root, "busted", "spec/text_spec.lua", 0, "spec/util_spec.lua", NULL,
         "busted (.busted at the root); spec/<module>_spec.lua like 1 existing test");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_lua_plenary_project_mirrors_the_lua_folder_under_tests(void **state)
{
  (void)state;
  char *root = fixture("lua_plenary"), *src = fixture("lua_plenary/lua/plug/ui/window.lua");
  testconv t;
  discover_ok(src, LANG_LUA, "size", &t);
  /* tests/minimal_init.lua is not a test: no _spec */
  expect(&t, root, "plenary", "tests/plug/ui/window_spec.lua", 0, "tests/plug/core_spec.lua", NULL,
         "plenary (PlenaryBusted in the Makefile); tests/plug/ui/<module>_spec.lua like 1 "
         "existing test, mirroring the source folders");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_c_cmocka_project_root_is_above_the_src_cmakelists(void **state)
{
  (void)state;
  char *root = fixture("c_cmocka"), *src = fixture("c_cmocka/src/queue.c");
  testconv t;
  discover_ok(src, LANG_C, "queue_empty", &t);
  /* tests/helpers.c is not counted: the project names its tests test_*.c */
  expect(&t, root, "cmocka", "tests/test_queue.c", 0, "tests/test_ring.c", NULL,
         "cmocka (#include <cmocka.h> in 1 test file); tests/test_<module>.c like 1 existing "
         "test");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_project_without_tests_gets_the_python_defaults(void **state)
{
  (void)state;
  char *root = fixture("no_tests"), *src = fixture("no_tests/app/main.py");
  testconv t;
  discover_ok(src, LANG_PYTHON, "main", &t);
  expect(&t, root, "pytest", "tests/test_main.py", 0, NULL, NULL,
         "pytest (the default for Python: no framework found); no tests yet: "
         "tests/test_<module>.py (the usual layout)");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_the_nearest_manifest_is_the_root(void **state)
{
  (void)state;
  /* nearest/ (jest, __tests__) and the repository above it (.git, CMakeLists.txt) both hold
   * markers; packages/app/package.json is closer */
  char *root = fixture("nearest/packages/app");
  char *src = fixture("nearest/packages/app/lib/router.js");
  testconv t;
  discover_ok(src, LANG_JAVASCRIPT, "route", &t);
  expect(&t, root, "mocha", "test/router.spec.js", 0, "test/server.spec.js", NULL,
         "mocha (mocha in package.json devDependencies); test/<module>.spec.js like 1 existing "
         "test");
  testconv_free(&t);
  free(src);
  free(root);
}

static void test_this_repository_is_discovered_like_any_project(void **state)
{
  (void)state;
  char *root = realpath(FRUGAL_SOURCE_DIR, NULL);
  assert_non_null(root);
  char *src = cat(root, "native/project/testconv.c");
  testconv t;
  discover_ok(src, LANG_C, "testconv_discover", &t);
  assert_string_equal(t.root, root);
  assert_string_equal(t.framework, "cmocka");
  char *want = cat(root, "tests/unit/test_testconv.c");
  assert_string_equal(t.test_path, want);
  assert_int_equal(t.exists, 1);
  assert_string_equal(t.sample_path, want);
  assert_non_null(strstr(t.sample, "Tests for native/project/testconv.c"));
  /* the count moves as the suite grows; the fixtures' test_*.c files are data, not tests */
  assert_true(strncmp(t.why, "cmocka (#include <cmocka.h> in ", 31) == 0);
  assert_non_null(strstr(t.why, "); tests/unit/test_<module>.c like "));
  free(want);
  testconv_free(&t);
  free(src);
  free(root);
}

/* ---- scratch projects --------------------------------------------------------------------- */

static void test_a_git_file_marks_the_root(void **state)
{
  (void)state;
  scratch s;
  scratch_make(&s);
  put(&s, "repo/.git", "gitdir: ../elsewhere\n");
  put(&s, "repo/a/b/tool.py", "def run():\n    pass\n");
  char *src = in(&s, "repo/a/b/tool.py"), *root = in(&s, "repo");
  testconv t;
  discover_ok(src, LANG_UNKNOWN, NULL, &t);
  expect(&t, root, "pytest", "tests/test_tool.py", 0, NULL, NULL,
         "pytest (the default for Python: no framework found); no tests yet: "
         "tests/test_<module>.py (the usual layout)");
  testconv_free(&t);
  free(root);
  free(src);
  scratch_free(&s);
}

static int has_any_marker(const char *dir)
{
  static const char *const names[] = {
      ".git",           "CMakeLists.txt", "Makefile",         "meson.build", "package.json",
      "pyproject.toml", "setup.py",       "setup.cfg",        "go.mod",      "Cargo.toml",
      "pom.xml",        "build.gradle",   "build.gradle.kts", ".busted",     NULL};
  for (size_t i = 0; names[i]; i++) {
    char *p = cat(dir, names[i]);
    struct stat st;
    int r = lstat(p, &st) == 0;
    free(p);
    if (r) {
      return 1;
    }
  }
  return 0;
}

static void test_without_any_marker_the_root_is_the_file_folder(void **state)
{
  (void)state;
  scratch s;
  scratch_make(&s);
  /* only meaningful when nothing above the scratch folder is a project */
  char *up = strdup(s.real);
  for (char *slash = strrchr(up, '/'); slash; slash = strrchr(up, '/')) {
    *slash = '\0';
    if (has_any_marker(*up ? up : "/")) {
      free(up);
      scratch_free(&s);
      skip();
    }
  }
  free(up);
  put(&s, "loose/deeper/notes.lua", "return {}\n");
  char *src = in(&s, "loose/deeper/notes.lua"), *root = in(&s, "loose/deeper");
  testconv t;
  discover_ok(src, LANG_UNKNOWN, NULL, &t);
  expect(&t, root, "busted", "spec/notes_spec.lua", 0, NULL, NULL,
         "busted (the default for Lua: no framework found); no tests yet: "
         "spec/<module>_spec.lua (the usual layout)");
  testconv_free(&t);
  free(root);
  free(src);
  scratch_free(&s);
}

static void test_defaults_when_no_tests_exist_for_each_language(void **state)
{
  (void)state;
  scratch s;
  scratch_make(&s);
  testconv t;

  put(&s, "js/package.json", "{ \"name\": \"x\", \"dependencies\": { \"left-pad\": \"1\" } }\n");
  put(&s, "js/src/pad.js", "module.exports = (s) => s;\n");
  char *src = in(&s, "js/src/pad.js"), *root = in(&s, "js");
  discover_ok(src, LANG_UNKNOWN, NULL, &t);
  expect(&t, root, "jest", "src/pad.test.js", 0, NULL, NULL,
         "jest (the default for JavaScript: no framework found); no tests yet: "
         "src/<module>.test.js beside the source (the usual layout)");
  testconv_free(&t);
  free(src);
  free(root);

  put(&s, "go/go.mod", "module x\n");
  put(&s, "go/main.go", "package main\n\nfunc main() {}\n");
  src = in(&s, "go/main.go"), root = in(&s, "go");
  discover_ok(src, LANG_UNKNOWN, NULL, &t);
  expect(&t, root, "go test", "main_test.go", 0, NULL, NULL,
         "go test (go.mod); <file>_test.go beside the source, as go test requires; no tests "
         "yet: table-driven subtests are Go's custom");
  testconv_free(&t);
  free(src);
  free(root);

  /* not in a Maven layout: the package statement names the folder; JUnit 4 from the pom */
  put(&s, "java/pom.xml",
      "<project><dependencies><dependency><groupId>junit</groupId>"
      "<artifactId>junit</artifactId><version>4.13.2</version></dependency></dependencies>"
      "</project>\n");
  put(&s, "java/Greeter.java", "package org.example.hello;\n\npublic class Greeter {}\n");
  src = in(&s, "java/Greeter.java"), root = in(&s, "java");
  discover_ok(src, LANG_UNKNOWN, NULL, &t);
  expect(&t, root, "junit4", "src/test/java/org/example/hello/GreeterTest.java", 0, NULL, NULL,
         "junit4 (JUnit 4 in pom.xml); no tests yet: src/test/java/org/example/hello/"
         "<Class>Test.java (Maven layout)");
  testconv_free(&t);
  free(src);
  free(root);

  put(&s, "c/Makefile", "all:\n\tcc -o ring ring.c\n");
  put(&s, "c/src/ring.c", "int ring(void) { return 0; }\n");
  src = in(&s, "c/src/ring.c"), root = in(&s, "c");
  discover_ok(src, LANG_UNKNOWN, NULL, &t);
  expect(&t, root, NULL, "tests/test_ring.c", 0, NULL, NULL,
         "no test framework found; no tests yet: tests/test_<module>.c (the usual layout)");
  testconv_free(&t);
  free(src);
  free(root);

  put(&s, "cpp/CMakeLists.txt", "project(a CXX)\nfind_package(GTest REQUIRED)\n");
  put(&s, "cpp/src/shape.cc", "int area() { return 0; }\n");
  put_dir(&s, "cpp/test");
  src = in(&s, "cpp/src/shape.cc"), root = in(&s, "cpp");
  discover_ok(src, LANG_UNKNOWN, NULL, &t);
  expect(&t, root, "googletest", "test/test_shape.cc", 0, NULL, NULL,
         "googletest (googletest in CMakeLists.txt); no tests yet: test/test_<module>.cc (the "
         "existing test/ folder)");
  testconv_free(&t);
  free(src);
  free(root);

  put(&s, "lua/thing-1.0-1.rockspec", "package = \"thing\"\n");
  put(&s, "lua/lua/thing.lua", "return {}\n");
  src = in(&s, "lua/lua/thing.lua"), root = in(&s, "lua");
  discover_ok(src, LANG_UNKNOWN, NULL, &t);
  expect(&t, root, "busted", "spec/thing_spec.lua", 0, NULL, NULL,
         "busted (the default for Lua: no framework found); no tests yet: "
         "spec/<module>_spec.lua (the usual layout)");
  testconv_free(&t);
  free(src);
  free(root);

  put(&s, "rs/Cargo.toml", "[package]\nname = \"x\"\n");
  put(&s, "rs/src/main.rs", "fn main() {}\n");
  src = in(&s, "rs/src/main.rs"), root = in(&s, "rs");
  discover_ok(src, LANG_UNKNOWN, NULL, &t);
  expect(&t, root, "cargo test", "src/main.rs", 1, NULL, NULL,
         "cargo test (Cargo.toml); no tests yet: append a #[cfg(test)] mod tests to src/main.rs, "
         "Rust's place for unit tests");
  testconv_free(&t);
  free(src);
  free(root);

  scratch_free(&s);
}

static void test_symlink_loops_and_links_out_of_the_root_are_not_followed(void **state)
{
  (void)state;
  scratch s;
  scratch_make(&s);
  put(&s, "proj/pyproject.toml", "[project]\nname = \"p\"\n");
  put(&s, "proj/src/m.py", "def f():\n    return 1\n");
  put(&s, "proj/tests/test_a.py", "def test_a():\n    assert True\n");
  put(&s, "outside/tests/test_b.py", "import pytest\n");
  put(&s, "outside/tests/conftest.py", "\n");
  put_link(&s, "proj/tests/loop", "..");
  put_link(&s, "proj/tests/again", ".");
  put_link(&s, "proj/ext", "../outside");
  put_link(&s, "proj/tests/test_link.py", "../../outside/tests/test_b.py");
  char *src = in(&s, "proj/src/m.py"), *root = in(&s, "proj");
  testconv t;
  discover_ok(src, LANG_PYTHON, "f", &t);
  /* one test, no conftest: nothing was read through the links */
  expect(&t, root, "pytest", "tests/test_m.py", 0, "tests/test_a.py", NULL,
         "pytest (the default for Python: no framework found); tests/test_<module>.py like 1 "
         "existing test");
  testconv_free(&t);
  /* a target that is a link out of the root exists, but is not read for a sample */
  put_link(&s, "proj/tests/test_m.py", "../../outside/tests/test_b.py");
  discover_ok(src, LANG_PYTHON, "f", &t);
  expect(&t, root, "pytest", "tests/test_m.py", 1, NULL, NULL,
         "pytest (the default for Python: no framework found); tests/test_<module>.py like 1 "
         "existing test");
  testconv_free(&t);
  free(src);
  free(root);
  scratch_free(&s);
}

static void test_a_folder_reached_twice_through_links_is_walked_once(void **state)
{
  (void)state;
  scratch s;
  scratch_make(&s);
  put(&s, "mod/go.mod", "module m\n");
  put(&s, "mod/calc/add.go", "package calc\n");
  put(&s, "mod/calc/add_test.go", "package calc\n");
  put(&s, "mod/calc/mul.go", "package calc\n");
  put_link(&s, "mod/calc/up", "..");
  put_link(&s, "mod/calc/self", ".");
  put_link(&s, "mod/alias", "calc");
  char *src = in(&s, "mod/calc/mul.go"), *root = in(&s, "mod");
  testconv t;
  discover_ok(src, LANG_GO, NULL, &t);
  /* "1 in the module": add_test.go was not found again as calc/up/calc/add_test.go, ... */
  expect(&t, root, "go test", "calc/mul_test.go", 0, "calc/add_test.go", NULL,
         "go test (go.mod); calc/<file>_test.go beside the source, as go test requires (1 "
         "existing test here, 1 in the module)");
  testconv_free(&t);
  free(src);
  free(root);
  scratch_free(&s);
}

static void test_sources_in_fixture_folders_are_not_tests(void **state)
{
  (void)state;
  scratch s;
  scratch_make(&s);
  put(&s, "proj/CMakeLists.txt", "project(p C)\n");
  put(&s, "proj/src/m.c", "int m;\n");
  put(&s, "proj/tests/test_a.c", "#include <criterion/criterion.h>\n");
  put(&s, "proj/tests/fixtures/scan/test_b.c", "#include <cmocka.h>\n");
  put(&s, "proj/tests/fixtures/scan/test_c.c", "#include <cmocka.h>\n");
  char *src = in(&s, "proj/src/m.c"), *root = in(&s, "proj");
  testconv t;
  discover_ok(src, LANG_C, NULL, &t);
  expect(&t, root, "criterion", "tests/test_m.c", 0, "tests/test_a.c", NULL,
         "criterion (#include <criterion/criterion.h> in 1 test file); tests/test_<module>.c "
         "like 1 existing test");
  testconv_free(&t);
  free(src);
  free(root);
  scratch_free(&s);
}

static void test_folders_deeper_than_six_levels_are_not_walked(void **state)
{
  (void)state;
  scratch s;
  scratch_make(&s);
  put(&s, "proj/pyproject.toml", "[project]\nname = \"p\"\n");
  put(&s, "proj/src/m.py", "x = 1\n");
  /* tests/a/b/c/d/e is level 6: read; its f/ is level 7: not */
  put(&s, "proj/tests/a/b/c/d/e/test_six.py", "def test_six():\n    pass\n");
  put(&s, "proj/tests/a/b/c/d/e/f/test_seven.py", "import pytest\n");
  put(&s, "proj/tests/a/b/c/d/e/f/test_eight.py", "import pytest\n");
  char *src = in(&s, "proj/src/m.py"), *root = in(&s, "proj");
  testconv t;
  discover_ok(src, LANG_PYTHON, NULL, &t);
  expect(&t, root, "pytest", "tests/a/b/c/d/e/test_m.py", 0, "tests/a/b/c/d/e/test_six.py", NULL,
         "pytest (the default for Python: no framework found); tests/a/b/c/d/e/test_<module>.py "
         "like 1 existing test");
  testconv_free(&t);
  free(src);
  free(root);
  scratch_free(&s);
}

static void test_the_walk_stops_at_five_thousand_entries(void **state)
{
  (void)state;
  scratch s;
  scratch_make(&s);
  put(&s, "proj/pyproject.toml", "[project]\nname = \"p\"\n");
  put(&s, "proj/src/m.py", "x = 1\n");
  put(&s, "proj/tests/test_x.py", "def test_x():\n    pass\n");
  /* the root has aaa, pyproject.toml, src, tests (4 entries), src has 1, tests has 1: with
   * 4994 files in aaa (read before src and tests) the walk sees exactly 5,000 entries */
  char name[64];
  for (int i = 0; i < 4994; i++) {
    snprintf(name, sizeof(name), "proj/aaa/f%04d.txt", i);
    put(&s, name, "");
  }
  char *src = in(&s, "proj/src/m.py"), *root = in(&s, "proj");
  testconv t;
  discover_ok(src, LANG_PYTHON, NULL, &t);
  expect(&t, root, "pytest", "tests/test_m.py", 0, "tests/test_x.py", NULL,
         "pytest (the default for Python: no framework found); tests/test_<module>.py like 1 "
         "existing test");
  testconv_free(&t);
  /* one more entry and tests/ is never read */
  put(&s, "proj/aaa/one-more.txt", "");
  discover_ok(src, LANG_PYTHON, NULL, &t);
  expect(&t, root, "pytest", "tests/test_m.py", 0, NULL, NULL,
         "pytest (the default for Python: no framework found); no tests yet: "
         "tests/test_<module>.py (the usual layout) (scan stopped at 5000 entries)");
  testconv_free(&t);
  free(src);
  free(root);
  scratch_free(&s);
}

static void test_one_test_file_per_function_in_a_folder_per_module(void **state)
{
  (void)state;
  scratch s;
  scratch_make(&s);
  put(&s, "proj/setup.cfg", "[tool:pytest]\ntestpaths = tests\n");
  put(&s, "proj/src/text.py", "def upper(s):\n    return s.upper()\n");
  put(&s, "proj/tests/text/test_lower.py", "def test_lower():\n    pass\n");
  char *src = in(&s, "proj/src/text.py"), *root = in(&s, "proj");
  testconv t;
  discover_ok(src, LANG_PYTHON, "upper", &t);
  expect(&t, root, "pytest", "tests/text/test_upper.py", 0, "tests/text/test_lower.py", NULL,
         "pytest (pytest in setup.cfg); tests/text/test_<function>.py, one file per function");
  testconv_free(&t);
  /* a name that cannot be a file name is ignored */
  discover_ok(src, LANG_PYTHON, "../../etc/passwd", &t);
  expect(&t, root, "pytest", "tests/text/test_text.py", 0, "tests/text/test_lower.py", NULL,
         "pytest (pytest in setup.cfg); tests/text/test_<module>.py like 1 existing test");
  testconv_free(&t);
  free(src);
  free(root);
  scratch_free(&s);
}

static void test_an_existing_test_of_the_module_elsewhere_is_extended(void **state)
{
  (void)state;
  scratch s;
  scratch_make(&s);
  put(&s, "proj/pyproject.toml", "[tool.pytest.ini_options]\n");
  put(&s, "proj/src/a.py", "A = 1\n");
  put(&s, "proj/src/b.py", "B = 2\n");
  put(&s, "proj/tests/unit/test_a.py", "from unittest import mock\n\ndef test_a():\n    pass\n");
  put(&s, "proj/tests/integration/test_b.py", "def test_b():\n    pass\n");
  char *src = in(&s, "proj/src/b.py"), *root = in(&s, "proj");
  testconv t;
  discover_ok(src, LANG_PYTHON, NULL, &t);
  expect(&t, root, "pytest", "tests/integration/test_b.py", 1, "tests/integration/test_b.py", NULL,
         "pytest (pytest in pyproject.toml); tests/integration/test_b.py, the existing test of "
         "this module");
  testconv_free(&t);
  free(src);
  free(root);
  scratch_free(&s);
}

static void test_a_package_json_cut_at_64_kib_is_still_searched(void **state)
{
  (void)state;
  scratch s;
  scratch_make(&s);
  size_t n = 70 * 1024;
  char *big = malloc(n + 1);
  assert_non_null(big);
  int head = snprintf(big, n, "{\"devDependencies\": {\"vitest\": \"1\"}, \"pad\": \"");
  memset(big + head, 'x', n - (size_t)head - 3);
  memcpy(big + n - 3, "\"}\n", 3);
  put_bytes(&s, "proj/package.json", big, n);
  free(big);
  put(&s, "proj/src/a.ts", "export const a = 1;\n");
  char *src = in(&s, "proj/src/a.ts"), *root = in(&s, "proj");
  testconv t;
  discover_ok(src, LANG_UNKNOWN, NULL, &t);
  expect(&t, root, "vitest", "src/a.test.ts", 0, NULL, NULL,
         "vitest (vitest in package.json); no tests yet: src/<module>.test.ts beside the source "
         "(the usual layout)");
  testconv_free(&t);
  free(src);
  free(root);
  scratch_free(&s);
}

static void test_samples_are_cut_at_sixty_lines_or_3_kib_and_must_be_text(void **state)
{
  (void)state;
  scratch s;
  scratch_make(&s);
  put(&s, "proj/pyproject.toml", "[project]\n");
  put(&s, "proj/src/m.py", "x = 1\n");
  /* test_a.py is first in line but is not UTF-8; test_b.py has 100 short lines */
  put(&s, "proj/tests/test_a.py", "s = '\xff\xfe'\n");
  char lines[1024] = "", want60[1024] = "";
  for (int i = 0; i < 100; i++) {
    char l[16];
    snprintf(l, sizeof(l), "x%d = %d\n", i, i % 10);
    strcat(lines, l);
    if (i < 60) {
      strcat(want60, l);
    }
  }
  put(&s, "proj/tests/test_b.py", lines);
  char *src = in(&s, "proj/src/m.py"), *root = in(&s, "proj");
  testconv t;
  discover_ok(src, LANG_PYTHON, NULL, &t);
  expect(&t, root, "pytest", "tests/test_m.py", 0, "tests/test_b.py", want60,
         "pytest (the default for Python: no framework found); tests/test_<module>.py like 2 "
         "existing tests");
  testconv_free(&t);

  /* 40 lines of 101 bytes: 30 fit in 3 KiB, the 31st would cross it */
  char *wide = malloc(40 * 101 + 1);
  assert_non_null(wide);
  for (int i = 0; i < 40; i++) {
    memset(wide + i * 101, 'a' + i % 26, 100);
    wide[i * 101 + 100] = '\n';
  }
  wide[40 * 101] = '\0';
  put(&s, "proj/tests/test_m.py", wide);
  wide[30 * 101] = '\0';
  discover_ok(src, LANG_PYTHON, NULL, &t);
  expect(&t, root, "pytest", "tests/test_m.py", 1, "tests/test_m.py", wide,
         "pytest (the default for Python: no framework found); tests/test_<module>.py like 3 "
         "existing tests");
  testconv_free(&t);
  free(wide);
  free(src);
  free(root);
  scratch_free(&s);
}

static void test_bad_paths_are_refused_with_a_message(void **state)
{
  (void)state;
  testconv t;
  char err[256];
  memset(&t, 0x5a, sizeof(t));
  assert_int_equal(
      testconv_discover("/nonexistent-testconv/dir/a.py", LANG_PYTHON, NULL, &t, err, sizeof(err)),
      -1);
  assert_string_equal(err, "cannot resolve '/nonexistent-testconv/dir/a.py': No such file or "
                           "directory");
  assert_null(t.root);
  assert_null(t.why);
  testconv_free(&t); /* safe on a failed result */

  char *dir = fixture("py_pytest/src");
  assert_int_equal(testconv_discover(dir, LANG_PYTHON, NULL, &t, err, sizeof(err)), -1);
  char want[512];
  snprintf(want, sizeof(want), "'%s' is a directory, not a source file", dir);
  assert_string_equal(err, want);
  free(dir);

  assert_int_equal(testconv_discover("", LANG_PYTHON, NULL, &t, err, sizeof(err)), -1);
  assert_string_equal(err, "no source file to write tests for");
  assert_int_equal(testconv_discover(NULL, LANG_PYTHON, NULL, &t, err, sizeof(err)), -1);
  assert_string_equal(err, "no source file to write tests for");
  testconv_free(NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pytest_project_puts_a_new_test_beside_the_neighbours_in_tests_unit),
      cmocka_unit_test(test_an_existing_test_of_the_module_is_extended_and_is_the_sample),
      cmocka_unit_test(test_asked_from_a_test_file_the_tests_go_into_it),
      cmocka_unit_test(test_a_new_unsaved_source_file_gets_a_target_too),
      cmocka_unit_test(test_unittest_project_is_recognised_by_its_testcase_classes),
      cmocka_unit_test(test_a_relative_source_path_is_resolved_from_the_current_directory),
      cmocka_unit_test(test_a_test_tree_that_mirrors_src_gets_the_mirrored_folder),
      cmocka_unit_test(test_jest_project_with___tests___folders_beside_the_sources),
      cmocka_unit_test(test_vitest_project_with_test_files_beside_the_sources),
      cmocka_unit_test(test_go_tests_go_beside_the_source_with_a_table_driven_sample),
      cmocka_unit_test(test_rust_file_with_a_tests_module_is_its_own_target),
      cmocka_unit_test(test_rust_file_of_a_crate_with_inline_tests_gets_a_tests_module),
      cmocka_unit_test(test_rust_crate_with_integration_tests_gets_a_tests_file),
      cmocka_unit_test(test_java_maven_junit5_mirrors_the_package_under_src_test_java),
      cmocka_unit_test(test_lua_busted_project_uses_spec),
      cmocka_unit_test(test_lua_plenary_project_mirrors_the_lua_folder_under_tests),
      cmocka_unit_test(test_c_cmocka_project_root_is_above_the_src_cmakelists),
      cmocka_unit_test(test_project_without_tests_gets_the_python_defaults),
      cmocka_unit_test(test_the_nearest_manifest_is_the_root),
      cmocka_unit_test(test_this_repository_is_discovered_like_any_project),
      cmocka_unit_test(test_a_git_file_marks_the_root),
      cmocka_unit_test(test_without_any_marker_the_root_is_the_file_folder),
      cmocka_unit_test(test_defaults_when_no_tests_exist_for_each_language),
      cmocka_unit_test(test_symlink_loops_and_links_out_of_the_root_are_not_followed),
      cmocka_unit_test(test_a_folder_reached_twice_through_links_is_walked_once),
      cmocka_unit_test(test_sources_in_fixture_folders_are_not_tests),
      cmocka_unit_test(test_folders_deeper_than_six_levels_are_not_walked),
      cmocka_unit_test(test_the_walk_stops_at_five_thousand_entries),
      cmocka_unit_test(test_one_test_file_per_function_in_a_folder_per_module),
      cmocka_unit_test(test_an_existing_test_of_the_module_elsewhere_is_extended),
      cmocka_unit_test(test_a_package_json_cut_at_64_kib_is_still_searched),
      cmocka_unit_test(test_samples_are_cut_at_sixty_lines_or_3_kib_and_must_be_text),
      cmocka_unit_test(test_bad_paths_are_refused_with_a_message),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
