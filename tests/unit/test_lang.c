#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "context/lang.h"

static void test_lang_from_path_maps_extensions(void **state)
{
  (void)state;
  assert_int_equal(lang_from_path("src/main.c"), LANG_C);
  assert_int_equal(lang_from_path("include/x.h"), LANG_C);
  assert_int_equal(lang_from_path("a/b.hpp"), LANG_CPP);
  assert_int_equal(lang_from_path("a.cc"), LANG_CPP);
  assert_int_equal(lang_from_path("A.C"), LANG_CPP);
  assert_int_equal(lang_from_path("tool.py"), LANG_PYTHON);
  assert_int_equal(lang_from_path("stub.pyi"), LANG_PYTHON);
  assert_int_equal(lang_from_path("app.jsx"), LANG_JAVASCRIPT);
  assert_int_equal(lang_from_path("app.mjs"), LANG_JAVASCRIPT);
  assert_int_equal(lang_from_path("view.tsx"), LANG_TYPESCRIPT);
  assert_int_equal(lang_from_path("main.go"), LANG_GO);
  assert_int_equal(lang_from_path("lib.rs"), LANG_RUST);
  assert_int_equal(lang_from_path("Main.java"), LANG_JAVA);
  assert_int_equal(lang_from_path("init.LUA"), LANG_LUA);
}

static void test_lang_from_path_rejects_unknown_and_hidden_files(void **state)
{
  (void)state;
  assert_int_equal(lang_from_path("README"), LANG_UNKNOWN);
  assert_int_equal(lang_from_path("notes.txt"), LANG_UNKNOWN);
  assert_int_equal(lang_from_path("dir.c/file"), LANG_UNKNOWN);
  assert_int_equal(lang_from_path(".c"), LANG_UNKNOWN);
  assert_int_equal(lang_from_path("trailing."), LANG_UNKNOWN);
  assert_int_equal(lang_from_path(NULL), LANG_UNKNOWN);
}

static void test_lang_from_name_accepts_editor_filetypes(void **state)
{
  (void)state;
  assert_int_equal(lang_from_name("c"), LANG_C);
  assert_int_equal(lang_from_name("cpp"), LANG_CPP);
  assert_int_equal(lang_from_name("python"), LANG_PYTHON);
  assert_int_equal(lang_from_name("javascriptreact"), LANG_JAVASCRIPT);
  assert_int_equal(lang_from_name("typescriptreact"), LANG_TYPESCRIPT);
  assert_int_equal(lang_from_name("go"), LANG_GO);
  assert_int_equal(lang_from_name("rust"), LANG_RUST);
  assert_int_equal(lang_from_name("java"), LANG_JAVA);
  assert_int_equal(lang_from_name("lua"), LANG_LUA);
  assert_int_equal(lang_from_name("markdown"), LANG_UNKNOWN);
  assert_int_equal(lang_from_name(NULL), LANG_UNKNOWN);
}

static void test_lang_name_round_trips(void **state)
{
  (void)state;
  for (int l = LANG_C; l < LANG__COUNT; l++) {
    assert_int_equal(lang_from_name(lang_name((lang_id)l)), l);
  }
  assert_string_equal(lang_name(LANG_UNKNOWN), "text");
  assert_string_equal(lang_name((lang_id)99), "text");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_lang_from_path_maps_extensions),
    cmocka_unit_test(test_lang_from_path_rejects_unknown_and_hidden_files),
    cmocka_unit_test(test_lang_from_name_accepts_editor_filetypes),
    cmocka_unit_test(test_lang_name_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
