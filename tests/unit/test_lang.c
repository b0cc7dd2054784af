#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

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

/* A .h file is C++ when its text has what C cannot have, C otherwise; what a C header writes
 * for C++ callers (extern "C", #ifdef __cplusplus blocks) does not make it C++; the editor's
 * filetype wins unless it is the generic "c" for a .h. */
static void test_lang_detect_reads_headers_and_lets_the_filetype_win(void **state)
{
  (void)state;
  static const char c_header[] =
      "#ifndef LIB_H\n#define LIB_H\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n"
      "/* a class of errors; see namespace docs */\n"
      "int lib_open(const char *path, int flags);\n"
      "#if defined(__cplusplus)\n}\ntemplate <class T> T lib_cast(void *p);\n#endif\n"
      "#ifndef __cplusplus\nint lib_c_only(void);\n#else\nnamespace lib { int x; }\n#endif\n"
      "struct s { int public_; };\n#endif\n";
  static const char *const cpp_headers[] = {
    "namespace fmt {\nint x;\n}\n",
    "namespace {\nint x;\n}\n",
    "template <typename T> T id(T v) { return v; }\n",
    "class Widget {\n int x;\n};\n",
    "class Widget : public Base {};\n",
    "struct S {\npublic:\n  int f();\n};\n",
    "inline int f() { return std::max(1, 2); }\n",
    "constexpr int n = 3;\n",
    "void *p = nullptr;\n",
    "struct V { virtual ~V(); };\n",
    "bool operator==(const A &a, const A &b);\n",
  };
  assert_int_equal(lang_detect("lib.h", NULL, c_header, strlen(c_header)), LANG_C);
  for (size_t i = 0; i < sizeof(cpp_headers) / sizeof(cpp_headers[0]); i++) {
    const char *h = cpp_headers[i];
    if (lang_detect("x.h", NULL, h, strlen(h)) != LANG_CPP) {
      fail_msg("not read as C++: %s", h);
    }
    assert_int_equal(lang_detect("x.h", "c", h, strlen(h)), LANG_CPP);
    assert_int_equal(lang_text_is_cpp(h, strlen(h)), 1);
  }
  /* C23 attributes use ::, Objective-C's @class is not C++'s class */
  static const char c23[] = "[[gnu::unused]] static int x;\n";
  static const char objc[] = "#import <Foundation/Foundation.h>\n@class Engine;\n"
                             "@interface Car : NSObject\n- (void)drive;\n@end\n";
  assert_int_equal(lang_detect("a.h", NULL, c23, strlen(c23)), LANG_C);
  assert_int_equal(lang_detect("car.h", NULL, objc, strlen(objc)), LANG_C);
  assert_int_equal(lang_detect("car.h", "objc", objc, strlen(objc)), LANG_C);
  assert_int_equal(lang_detect("car.h", "objcpp", objc, strlen(objc)), LANG_CPP);
  /* the filetype wins, except the generic "c" for a .h */
  const char *t = cpp_headers[0];
  assert_int_equal(lang_detect("x.h", "cpp", c_header, strlen(c_header)), LANG_CPP);
  assert_int_equal(lang_detect("x.h", "c", c_header, strlen(c_header)), LANG_C);
  assert_int_equal(lang_detect("x.c", "c", t, strlen(t)), LANG_C);
  assert_int_equal(lang_detect("x.c", NULL, t, strlen(t)), LANG_C);
  assert_int_equal(lang_detect("x.py", "cpp", t, strlen(t)), LANG_CPP);
  assert_int_equal(lang_detect("x.py", "markdown", t, strlen(t)), LANG_PYTHON);
  assert_int_equal(lang_detect("x.hpp", NULL, c_header, strlen(c_header)), LANG_CPP);
  assert_int_equal(lang_detect("X.H", NULL, c_header, strlen(c_header)), LANG_CPP);
  assert_int_equal(lang_detect(NULL, NULL, t, strlen(t)), LANG_UNKNOWN);
  assert_int_equal(lang_detect("x.h", NULL, NULL, 0), LANG_C);
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
    cmocka_unit_test(test_lang_detect_reads_headers_and_lets_the_filetype_win),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
