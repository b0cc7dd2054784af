#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context/lang.h"
#include "context/scan.h"
#include "util/text.h"

#ifndef FRUGAL_SOURCE_DIR
#define FRUGAL_SOURCE_DIR "."
#endif

typedef struct {
  char *data;
  text_t text;
  scan_result r;
} scanned;

static void scan_string(scanned *s, lang_id lang, const char *src)
{
  s->data = strdup(src);
  assert_int_equal(text_init(&s->text, s->data, strlen(src)), 0);
  assert_int_equal(scan_file(lang, &s->text, &s->r), 0);
}

static void scan_fixture(scanned *s, const char *name)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/tests/fixtures/scan/%s", FRUGAL_SOURCE_DIR, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  s->data = malloc((size_t)n + 1);
  assert_int_equal(fread(s->data, 1, (size_t)n, f), (size_t)n);
  s->data[n] = '\0';
  fclose(f);
  assert_int_equal(text_init(&s->text, s->data, (size_t)n), 0);
  assert_int_equal(scan_file(lang_from_path(name), &s->text, &s->r), 0);
}

static void scanned_free(scanned *s)
{
  scan_result_free(&s->r);
  text_free(&s->text);
  free(s->data);
}

/* The definition called `name` (the nth one if several); fails the test if absent. */
static const scan_def *def_named(const scanned *s, const char *name, int nth)
{
  for (size_t i = 0; i < s->r.ndefs; i++) {
    if (strcmp(s->r.defs[i].name, name) == 0 && nth-- == 0) {
      return &s->r.defs[i];
    }
  }
  fail_msg("no definition named %s", name);
  return NULL;
}

static int has_def(const scanned *s, const char *name)
{
  for (size_t i = 0; i < s->r.ndefs; i++) {
    if (strcmp(s->r.defs[i].name, name) == 0) {
      return 1;
    }
  }
  return 0;
}

static void expect_def(const scanned *s, const char *name, def_kind kind, int start, int head,
                       int body, int end)
{
  const scan_def *d = def_named(s, name, 0);
  assert_int_equal(d->kind, kind);
  assert_int_equal(d->start_line, start);
  assert_int_equal(d->head_line, head);
  assert_int_equal(d->body_line, body);
  assert_int_equal(d->end_line, end);
}

static const char *parent_name(const scanned *s, const char *name)
{
  const scan_def *d = def_named(s, name, 0);
  return d->parent < 0 ? "" : s->r.defs[d->parent].name;
}

static void expect_import(const scanned *s, size_t i, int start, int end)
{
  assert_true(i < s->r.nimports);
  assert_int_equal(s->r.imports[i].start_line, start);
  assert_int_equal(s->r.imports[i].end_line, end);
}

static void test_c_functions_skip_braces_in_strings_comments_and_macros(void **state)
{
  (void)state;
  scanned s;
  scan_fixture(&s, "sample.c");
  /* doc comment 10-11, K&R-style return type on 12, multi-line parameters, body on 15 */
  expect_def(&s, "add", DEF_FUNCTION, 10, 12, 15, 22);
  expect_def(&s, "point", DEF_CLASS, 24, 24, 24, 26);
  expect_def(&s, "unused_fn", DEF_FUNCTION, 30, 30, 30, 30);
  expect_def(&s, "old_style", DEF_FUNCTION, 32, 32, 35, 37);
  /* #ifdef/#else repeating the opening line: the first branch is read */
  expect_def(&s, "twice", DEF_FUNCTION, 40, 40, 40, 45);
  /* missing closing braces: ends at end of file */
  expect_def(&s, "unterminated", DEF_FUNCTION, 47, 47, 48, 50);
  assert_false(has_def(&s, "table"));
  assert_int_equal(s.r.ndefs, 6);
  assert_int_equal(s.r.nimports, 1);
  expect_import(&s, 0, 1, 2);
  scanned_free(&s);
}

/* In C the lexer hands out only the braces of a function body, found by a scan for the bytes
 * that can start a brace, a literal, a comment or a preprocessor line: every kind of literal,
 * comment and conditional inside a body must leave the same braces as token-by-token lexing. */
static void test_c_body_scan_sees_the_braces_the_token_lexer_sees(void **state)
{
  (void)state;
  scanned s;
  scan_string(&s, LANG_C,
              "#include <a.h>\n"                                 /* 1 */
              "static int f(int x)\n"                            /* 2 */
              "{\n"                                              /* 3 */
              "  const char *s = \"}{\\\"}\"; char c = '}';\n"   /* 4 */
              "  char d = '\\'', e = '{'; int n = 1'000'000;\n"  /* 5 */
              "  const char *r = R\"x(})\")x\";\n"               /* 6 */
              "  // a line comment } \\\n"                       /* 7 */
              "     continued on this line }\n"                  /* 8 */
              "  /* } */ #if 0\n"                                /* 9 */
              "  }\n"                                            /* 10 */
              "  #endif\n"                                       /* 11 */
              "  x = x / 2; x = y #z;\n"                         /* 12 */
              "#ifdef A\n"                                       /* 13 */
              "  if (x) {\n"                                     /* 14 */
              "#else\n"                                          /* 15 */
              "  if (!x) {\n"                                    /* 16 */
              "#endif\n"                                         /* 17 */
              "    static const struct { int a; } t[] = {{1}};\n" /* 18 */
              "  }\n"                                            /* 19 */
              "#include \"inner.h\"\n"                           /* 20 */
              "  return x;\n"                                    /* 21 */
              "}\n"                                              /* 22 */
              "/* g's doc */\n"                                  /* 23 */
              "int g(void) { return '{'; }\n");                  /* 24 */
  expect_def(&s, "f", DEF_FUNCTION, 2, 2, 3, 22);
  expect_def(&s, "g", DEF_FUNCTION, 23, 24, 24, 24);
  /* A type declared inside a body is part of the function's text, not a definition. */
  assert_int_equal(s.r.ndefs, 2);
  assert_int_equal(s.r.nimports, 2);
  expect_import(&s, 0, 1, 1);
  expect_import(&s, 1, 20, 20);
  scanned_free(&s);
}

/* The same, on random bodies: C (braces-only body scan) and C++ (every token lexed; the two
 * languages lex literals, comments and preprocessor lines alike) find the same functions with
 * the same lines, and the same #include lines. */
static void test_c_body_scan_agrees_with_token_lexing_on_random_bodies(void **state)
{
  (void)state;
  static const char *const parts[] = {
    "{", "}", "{ x; }", "\"}\"", "\"{\\\"\"", "'}'", "'\\''", "'{'", "1'000", "R\"(})\"",
    "u8R\"d({)d\"", "L\"}\"", "// }\n", "// \\\n }\n", "/* } */", "/* { */ ", "\n#if 0\n}\n#endif\n",
    "\n#ifdef X\n{\n#else\n{\n#endif\n", "\n#include <b.h>\n", "\n  # define M {\n", " # ",
    "x / y", "a = b;", "\n", "  ", "(", ")", "[", "]", "f(a, b)", "'", "\"", "/*", "*/", "\\\n",
  };
  unsigned seed = 12345;
  for (int round = 0; round < 300; round++) {
    char buf[4096];
    size_t n = 0;
    int nfn = 1 + (int)(seed % 4);
    for (int k = 0; k < nfn && n < sizeof(buf) - 600; k++) {
      n += (size_t)snprintf(buf + n, sizeof(buf) - n, "int fn%d(void)\n{\n", k);
      int nparts = (int)((seed >> 8) % 12);
      for (int i = 0; i < nparts; i++) {
        seed = seed * 1103515245u + 12345u;
        const char *p = parts[(seed >> 16) % (sizeof(parts) / sizeof(parts[0]))];
        size_t pl = strlen(p);
        if (n + pl + 40 < sizeof(buf)) {
          memcpy(buf + n, p, pl);
          n += pl;
        }
      }
      n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\n}\n");
      seed = seed * 1103515245u + 12345u;
    }
    buf[n] = '\0';
    scanned c, cpp;
    scan_string(&c, LANG_C, buf);
    scan_string(&cpp, LANG_CPP, buf);
    size_t k = 0;
    for (size_t i = 0; i < cpp.r.ndefs; i++) {
      const scan_def *d = &cpp.r.defs[i];
      if (d->kind != DEF_FUNCTION) {
        continue;
      }
      while (k < c.r.ndefs && c.r.defs[k].kind != DEF_FUNCTION) {
        k++;
      }
      assert_true(k < c.r.ndefs);
      const scan_def *e = &c.r.defs[k++];
      if (strcmp(d->name, e->name) != 0 || d->start_line != e->start_line ||
          d->head_line != e->head_line || d->body_line != e->body_line ||
          d->end_line != e->end_line) {
        fail_msg("round %d: %s %d-%d (C++) vs %s %d-%d (C) in:\n%s", round, d->name,
                 d->start_line, d->end_line, e->name, e->start_line, e->end_line, buf);
      }
    }
    assert_int_equal(c.r.nimports, cpp.r.nimports);
    for (size_t i = 0; i < c.r.nimports; i++) {
      assert_int_equal(c.r.imports[i].start_line, cpp.r.imports[i].start_line);
      assert_int_equal(c.r.imports[i].end_line, cpp.r.imports[i].end_line);
    }
    scanned_free(&c);
    scanned_free(&cpp);
  }
}

/* C++ headers as real projects write them: export/namespace macros on lines of their own,
 * attribute macros before the return type (FMT_CONSTEXPR FMT_INLINE, FMT_API, Q_INVOKABLE,
 * [[nodiscard]]), trailing return types holding templates and expressions, explicit
 * specialisations, a noexcept macro before a constructor's initialisers. */
static void test_cpp_header_macros_trailing_returns_and_specialisations(void **state)
{
  (void)state;
  scanned s;
  scan_string(&s, LANG_CPP,
              "#pragma once\n"
              "#include <string>\n"
              "\n"
              "FMT_BEGIN_NAMESPACE\n"
              "namespace detail {\n"
              "\n"
              "// Reports a broken format string.\n"
              "FMT_NORETURN FMT_API void report_error(const char* message);\n"
              "\n"
              "template <typename T> constexpr auto bit_count() -> int {\n"
              "  return sizeof(T) * 8;\n"
              "}\n"
              "template <> constexpr auto bit_count<wide_int>() -> int { return 128; }\n"
              "\n"
              "template <typename Char>\n"
              "FMT_CONSTEXPR FMT_INLINE auto fill_n(Char* out, int n, Char value)\n"
              "    -> enable_if_t<std::is_integral<Char>::value && (sizeof(Char) > 1), Char*> {\n"
              "  for (int i = 0; i < n; ++i) out[i] = value;\n"
              "  return out + n;\n"
              "}\n"
              "\n"
              "[[nodiscard]] inline auto first_of(const std::string& s) noexcept -> char {\n"
              "  return s.empty() ? '\\0' : s[0];\n"
              "}\n"
              "}  // namespace detail\n"
              "\n"
              "FMT_MODULE_EXPORT_BEGIN\n"
              "\n"
              "template <typename... Args>\n"
              "auto make_pack(Args&&... args) -> pack<std::decay_t<Args>...> {\n"
              "  return {args...};\n"
              "}\n"
              "\n"
              "class Counter : public QObject {\n"
              "  Q_OBJECT\n"
              " public:\n"
              "  Q_INVOKABLE int value() const { return value_; }\n"
              "  Counter(Counter&& other) SAFE_NOEXCEPT : value_(other.value_) {}\n"
              " public slots:\n"
              "  void reset() { value_ = 0; }\n"
              " private:\n"
              "  int value_ = 0;\n"
              "};\n"
              "FMT_END_NAMESPACE\n");
  expect_def(&s, "bit_count", DEF_FUNCTION, 10, 10, 10, 12);
  /* bit_count<wide_int>, named by its template */
  assert_int_equal(def_named(&s, "bit_count", 1)->start_line, 13);
  assert_int_equal(def_named(&s, "bit_count", 1)->end_line, 13);
  expect_def(&s, "fill_n", DEF_FUNCTION, 15, 16, 17, 20);
  expect_def(&s, "first_of", DEF_FUNCTION, 22, 22, 22, 24);
  /* the export macro and the blank line above the template are not part of it */
  expect_def(&s, "make_pack", DEF_FUNCTION, 29, 30, 30, 32);
  expect_def(&s, "Counter", DEF_CLASS, 34, 34, 34, 43);
  expect_def(&s, "value", DEF_METHOD, 37, 37, 37, 37);
  assert_int_equal(def_named(&s, "Counter", 1)->kind, DEF_METHOD);
  assert_int_equal(def_named(&s, "Counter", 1)->head_line, 38);
  expect_def(&s, "reset", DEF_METHOD, 40, 40, 40, 40);
  assert_false(has_def(&s, "report_error"));
  assert_int_equal(s.r.ndefs, 9);
  scanned_free(&s);
}

static void test_cpp_methods_ctors_operators_and_qualified_names(void **state)
{
  (void)state;
  scanned s;
  scan_fixture(&s, "sample.cpp");
  /* `///` comment, then template<> line, then the class line */
  expect_def(&s, "Widget", DEF_CLASS, 5, 7, 7, 21);
  const scan_def *ctor = def_named(&s, "Widget", 1);
  assert_int_equal(ctor->kind, DEF_METHOD);
  assert_int_equal(ctor->head_line, 9);
  assert_int_equal(ctor->end_line, 9);
  expect_def(&s, "~Widget", DEF_METHOD, 10, 10, 10, 10);
  expect_def(&s, "operator==", DEF_METHOD, 12, 12, 12, 12);
  expect_def(&s, "size", DEF_METHOD, 14, 14, 14, 17);
  assert_string_equal(parent_name(&s, "size"), "Widget");
  /* extern "C" is not a definition, its contents are; the raw string hides its braces */
  expect_def(&s, "c_entry", DEF_FUNCTION, 26, 26, 26, 29);
  expect_def(&s, "app::Widget<int>::helper", DEF_FUNCTION, 32, 32, 33, 35);
  assert_int_equal(s.r.ndefs, 7); /* the lambda in size() is not a definition */
  scanned_free(&s);
}

/* The C/C++ pass skips the inside of brackets without making tokens of it; what it skips must
 * never hide a brace, and braces inside brackets (lambdas, statement expressions, compound
 * literals) must still be seen. */
static void test_cpp_brackets_with_literals_comments_and_braces_inside(void **state)
{
  (void)state;
  scanned s;
  scan_string(&s, LANG_CPP,
              "int a(int x = f(R\"d(})d\", u8R\"(){)\"), int y = 1'000, char c = '}')\n" /* 1 */
              "{\n"
              "  g(u8'{', L\"}\", 0x1'F, /* } */ b, // {\n"
              "    c);\n"
              "  n(\n" /* 5 */
              "#if 0\n"
              "    }\n"
              "#endif\n"
              "    1);\n"
              "  auto l = h([](int q) -> int { return q; }, (int[]){1, 2});\n" /* 10 */
              "  return ({ int z = 1; z; });\n"
              "}\n"
              "struct S { int f(int (*cb)(int)) const { return cb(1); } };\n"
              "void esc(const char *s = \"\\\")\", char d = '\\'') { }\n"
              "int last(int x) { return x; }\n"); /* 15 */
  expect_def(&s, "a", DEF_FUNCTION, 1, 1, 2, 12);
  expect_def(&s, "S", DEF_CLASS, 13, 13, 13, 13);
  expect_def(&s, "f", DEF_METHOD, 13, 13, 13, 13);
  assert_string_equal(parent_name(&s, "f"), "S");
  expect_def(&s, "esc", DEF_FUNCTION, 14, 14, 14, 14);
  expect_def(&s, "last", DEF_FUNCTION, 15, 15, 15, 15);
  assert_int_equal(s.r.ndefs, 5);
  scanned_free(&s);

  /* Unbalanced input: a brace inside parentheses still opens and closes a level. */
  scan_string(&s, LANG_C,
              "int f(void) { return g(({ 1; })); }\n"
              "int h(void) { return (1 +\n"
              "  2); }\n");
  expect_def(&s, "f", DEF_FUNCTION, 1, 1, 1, 1);
  expect_def(&s, "h", DEF_FUNCTION, 2, 2, 2, 3);
  assert_int_equal(s.r.ndefs, 2);
  scanned_free(&s);
}

static void test_python_decorators_nesting_and_indentation_ends(void **state)
{
  (void)state;
  scanned s;
  scan_fixture(&s, "sample.py");
  /* comment at 8, decorators 9-11, multi-line signature 12-13; the column-0 comment on 21
   * ends it at 20 */
  expect_def(&s, "helper", DEF_FUNCTION, 8, 12, 13, 20);
  expect_def(&s, "inner", DEF_FUNCTION, 17, 17, 17, 18);
  assert_string_equal(parent_name(&s, "inner"), "helper");
  expect_def(&s, "Box", DEF_CLASS, 23, 23, 23, 32);
  /* bracket continuation lines at column 4 do not end the method */
  expect_def(&s, "open", DEF_METHOD, 26, 26, 26, 30);
  expect_def(&s, "close", DEF_METHOD, 32, 32, 32, 32);
  /* a comment indented deeper than the def belongs to it */
  expect_def(&s, "tail", DEF_FUNCTION, 35, 35, 35, 37);
  assert_false(has_def(&s, "fake"));
  assert_int_equal(s.r.ndefs, 6);
  expect_import(&s, 0, 1, 5);
  scanned_free(&s);
}

static void test_js_functions_arrows_classes_and_object_methods(void **state)
{
  (void)state;
  scanned s;
  scan_fixture(&s, "sample.js");
  /* template literal with nested ${} and a regex with braces */
  expect_def(&s, "add", DEF_FUNCTION, 5, 6, 6, 10);
  expect_def(&s, "arrow", DEF_FUNCTION, 12, 12, 12, 14);
  expect_def(&s, "Counter", DEF_CLASS, 16, 16, 16, 25);
  expect_def(&s, "create", DEF_METHOD, 18, 18, 18, 18);
  expect_def(&s, "value", DEF_METHOD, 19, 19, 19, 21);
  expect_def(&s, "handle", DEF_METHOD, 22, 22, 22, 24);
  expect_def(&s, "fetch", DEF_FUNCTION, 28, 28, 28, 30);
  expect_def(&s, "parse", DEF_FUNCTION, 31, 31, 31, 33);
  assert_int_equal(s.r.ndefs, 8); /* the anonymous callback is not a definition */
  expect_import(&s, 0, 1, 3);
  scanned_free(&s);
}

/* An arrow function with an expression body has no brace: it ends where its expression does
 * (`;`, `,`, the closing bracket of its level, or a newline where the statement cannot go on). */
static void test_js_expression_arrow_functions_end_with_their_expression(void **state)
{
  (void)state;
  scanned s;
  scan_string(&s, LANG_JAVASCRIPT,
              "export const isComment = (line) => line.startsWith('#');\n" /* 1 */
              "const add = (a, b) => a + b;\n"
              "const total = (items) =>\n"
              "  items\n"
              "    .map((it) => it.price * (it.qty + 1))\n" /* 5 */
              "    .reduce((s, p) => s + p, 0)\n"
              "const after = 1\n"
              "const point = (x, y) => ({\n"
              "  x,\n"
              "  y: { v: [y, (z) => z] },\n" /* 10 */
              "});\n"
              "const api = {\n"
              "  inc: (n) => n + 1,\n"
              "  dec: n => n - 1\n"
              "};\n" /* 15 */
              "items.map((x) => x * 2);\n"
              "const curry = (a) => (b) =>\n"
              "  a + b;\n"
              "function later() {\n"
              "  const sq = (v) => v * v\n" /* 20 */
              "  return sq(2);\n"
              "}\n");
  expect_def(&s, "isComment", DEF_FUNCTION, 1, 1, 1, 1);
  expect_def(&s, "add", DEF_FUNCTION, 2, 2, 2, 2);
  /* the leading-dot lines continue the expression; `const after` starts a new statement */
  expect_def(&s, "total", DEF_FUNCTION, 3, 3, 3, 6);
  assert_false(has_def(&s, "after"));
  /* an object-literal body with nested braces, brackets and an inner arrow */
  expect_def(&s, "point", DEF_FUNCTION, 8, 8, 8, 11);
  assert_false(has_def(&s, "z"));
  /* object members end at the comma and at the closing brace */
  expect_def(&s, "inc", DEF_FUNCTION, 13, 13, 13, 13);
  expect_def(&s, "dec", DEF_FUNCTION, 14, 14, 14, 14);
  expect_def(&s, "curry", DEF_FUNCTION, 17, 17, 17, 18);
  expect_def(&s, "later", DEF_FUNCTION, 19, 19, 19, 22);
  expect_def(&s, "sq", DEF_FUNCTION, 20, 20, 20, 20);
  assert_string_equal(parent_name(&s, "sq"), "later");
  assert_int_equal(s.r.ndefs, 9); /* the callbacks passed to map/reduce are not definitions */
  assert_string_equal(s.r.defs[scan_find_at(&s.r, 5)].name, "total");
  assert_int_equal(scan_find_at(&s.r, 7), -1);
  scanned_free(&s);

  /* TypeScript annotations between the parameters and the arrow; a class field; no `;` at
   * the end of the file. */
  scan_string(&s, LANG_TYPESCRIPT,
              "const f = (x: number): number => x * 2;\n"
              "export const pick = <T,>(xs: T[], i: number): T | undefined =>\n"
              "  xs[i];\n"
              "class Box {\n"
              "  get = (k: string): string => this.map[k]\n" /* 5 */
              "  size(): number {\n"
              "    return 1;\n"
              "  }\n"
              "}\n"
              "const tail = (q: string) => q\n" /* 10 */
              "  .trim()");
  expect_def(&s, "f", DEF_FUNCTION, 1, 1, 1, 1);
  expect_def(&s, "pick", DEF_FUNCTION, 2, 2, 2, 3);
  expect_def(&s, "Box", DEF_CLASS, 4, 4, 4, 9);
  expect_def(&s, "get", DEF_METHOD, 5, 5, 5, 5);
  assert_string_equal(parent_name(&s, "get"), "Box");
  expect_def(&s, "size", DEF_METHOD, 6, 6, 6, 8);
  expect_def(&s, "tail", DEF_FUNCTION, 10, 10, 10, 11);
  assert_int_equal(s.r.ndefs, 6);
  scanned_free(&s);
}

static void test_ts_return_types_decorators_and_interfaces(void **state)
{
  (void)state;
  scanned s;
  scan_fixture(&s, "sample.ts");
  expect_def(&s, "Shape", DEF_CLASS, 3, 3, 3, 5);
  /* the object type in the return annotation is not the body */
  expect_def(&s, "measure", DEF_FUNCTION, 7, 7, 7, 9);
  expect_def(&s, "Circle", DEF_CLASS, 11, 11, 11, 18);
  expect_def(&s, "constructor", DEF_METHOD, 12, 12, 12, 12);
  expect_def(&s, "area", DEF_METHOD, 14, 15, 15, 17);
  expect_def(&s, "toTsx", DEF_FUNCTION, 20, 20, 20, 22);
  assert_int_equal(s.r.ndefs, 6);
  expect_import(&s, 0, 1, 1);
  scanned_free(&s);
}

static void test_go_funcs_methods_types_and_raw_strings(void **state)
{
  (void)state;
  scanned s;
  scan_fixture(&s, "sample.go");
  expect_def(&s, "Point", DEF_CLASS, 8, 9, 9, 11);
  expect_def(&s, "Norm", DEF_METHOD, 13, 14, 14, 19);
  expect_def(&s, "main", DEF_FUNCTION, 21, 21, 21, 29);
  /* `struct{}` in the result type does not open the body */
  expect_def(&s, "Done", DEF_METHOD, 31, 31, 31, 33);
  assert_int_equal(s.r.ndefs, 4);
  expect_import(&s, 0, 3, 6);
  scanned_free(&s);
}

static void test_rust_impl_trait_nested_fn_and_lifetimes(void **state)
{
  (void)state;
  scanned s;
  scan_fixture(&s, "sample.rs");
  expect_def(&s, "Thing", DEF_CLASS, 5, 7, 7, 9);
  const scan_def *impl = def_named(&s, "Thing", 1);
  assert_int_equal(impl->head_line, 11);
  assert_int_equal(impl->end_line, 23);
  expect_def(&s, "new", DEF_METHOD, 12, 12, 12, 16);
  expect_def(&s, "helper", DEF_METHOD, 18, 18, 18, 22);
  expect_def(&s, "nested", DEF_FUNCTION, 19, 19, 19, 19);
  assert_string_equal(parent_name(&s, "nested"), "helper");
  expect_def(&s, "speak", DEF_METHOD, 26, 26, 26, 28);
  assert_int_equal(s.r.ndefs, 7); /* the closure is not a definition */
  expect_import(&s, 0, 1, 3);
  scanned_free(&s);
}

static void test_java_annotations_text_blocks_and_anonymous_classes(void **state)
{
  (void)state;
  scanned s;
  scan_fixture(&s, "Sample.java");
  expect_def(&s, "Sample", DEF_CLASS, 6, 7, 7, 32);
  expect_def(&s, "toString", DEF_METHOD, 12, 13, 13, 16);
  expect_def(&s, "map", DEF_METHOD, 18, 18, 19, 26);
  expect_def(&s, "run", DEF_METHOD, 21, 21, 21, 23);
  assert_string_equal(parent_name(&s, "run"), "map");
  expect_def(&s, "Inner", DEF_CLASS, 28, 28, 28, 31);
  expect_def(&s, "done", DEF_METHOD, 30, 30, 30, 30);
  assert_false(has_def(&s, "todo")); /* abstract: no body */
  expect_import(&s, 0, 1, 1);
  expect_import(&s, 1, 3, 4);
  scanned_free(&s);
}

static void test_lua_functions_long_strings_and_blocks(void **state)
{
  (void)state;
  scanned s;
  scan_fixture(&s, "sample.lua");
  expect_def(&s, "M.add", DEF_FUNCTION, 6, 8, 8, 15);
  expect_def(&s, "M:method", DEF_METHOD, 17, 17, 18, 22);
  expect_def(&s, "helper", DEF_FUNCTION, 24, 24, 24, 26);
  expect_def(&s, "M.handler", DEF_FUNCTION, 28, 28, 28, 32);
  assert_int_equal(s.r.ndefs, 4);
  expect_import(&s, 0, 1, 2);
  scanned_free(&s);
}

static void test_find_at_prefers_innermost_function_then_class(void **state)
{
  (void)state;
  scanned s;
  scan_fixture(&s, "sample.py");
  assert_string_equal(s.r.defs[scan_find_at(&s.r, 18)].name, "inner");
  assert_string_equal(s.r.defs[scan_find_at(&s.r, 15)].name, "helper");
  assert_string_equal(s.r.defs[scan_find_at(&s.r, 8)].name, "helper"); /* its comment */
  assert_string_equal(s.r.defs[scan_find_at(&s.r, 24)].name, "Box");
  assert_string_equal(s.r.defs[scan_find_at(&s.r, 28)].name, "open");
  assert_int_equal(scan_find_at(&s.r, 22), -1);
  assert_int_equal(scan_find_at(&s.r, 1), -1);
  scanned_free(&s);
}

typedef struct {
  char names[32][32];
  int n;
} call_list;

static void collect_call(const char *name, size_t len, void *data)
{
  call_list *c = data;
  assert_true(c->n < 32 && len < 32);
  memcpy(c->names[c->n], name, len);
  c->names[c->n][len] = '\0';
  c->n++;
}

static int called(const call_list *c, const char *name)
{
  for (int i = 0; i < c->n; i++) {
    if (strcmp(c->names[i], name) == 0) {
      return 1;
    }
  }
  return 0;
}

static void test_calls_skip_keywords_strings_and_repeat_names_once(void **state)
{
  (void)state;
  scanned s;
  scan_string(&s, LANG_C,
              "int f(void)\n{\n  if (x) { g(1); }\n  while (y) obj.h (2);\n"
              "  /* k(3) */ \"m(4)\";\n  g(5); ns::q(6); return sizeof(int) + r(7);\n}\n");
  call_list c = {0};
  scan_calls(LANG_C, &s.text, 2, 7, collect_call, &c);
  assert_int_equal(c.n, 4);
  assert_true(called(&c, "g") && called(&c, "h") && called(&c, "q") && called(&c, "r"));
  assert_false(called(&c, "k") || called(&c, "m") || called(&c, "if") || called(&c, "sizeof"));
  scanned_free(&s);

  scan_string(&s, LANG_PYTHON, "def a():\n    print(b(1), 'c(2)')  # d(3)\n    e.f(1)\n");
  memset(&c, 0, sizeof(c));
  scan_calls(LANG_PYTHON, &s.text, 1, 3, collect_call, &c);
  assert_int_equal(c.n, 3);
  assert_true(called(&c, "b") && called(&c, "f"));
  assert_false(called(&c, "a") || called(&c, "c") || called(&c, "d"));
  scanned_free(&s);

  scan_string(&s, LANG_LUA, "local function a()\n  M:b(1) -- c(2)\n  if d then e() end\nend\n");
  memset(&c, 0, sizeof(c));
  scan_calls(LANG_LUA, &s.text, 1, 4, collect_call, &c);
  assert_int_equal(c.n, 2);
  assert_true(called(&c, "b") && called(&c, "e"));
  scanned_free(&s);
}

typedef struct {
  char text[16384];
  size_t len;
} name_text;

static void append_name(const char *name, size_t len, void *data)
{
  name_text *t = data;
  assert_true(t->len + len + 1 < sizeof(t->text));
  memcpy(t->text + t->len, name, len);
  t->len += len;
  t->text[t->len++] = ' ';
  t->text[t->len] = '\0';
}

/* The one-pass finder reports, in the same order, exactly what scan_calls() and scan_idents()
 * report one at a time, in every language. */
static void test_calls_and_idents_in_one_pass_equal_the_two_passes(void **state)
{
  (void)state;
  static const char *const files[] = {"sample.c", "sample.cpp", "sample.go", "sample.js",
                                      "sample.ts", "sample.rs", "Sample.java", "sample.py",
                                      "sample.lua"};
  static name_text calls, idents, calls2, idents2;
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    scanned s;
    scan_fixture(&s, files[i]);
    lang_id lang = lang_from_path(files[i]);
    calls.len = idents.len = calls2.len = idents2.len = 0;
    calls.text[0] = idents.text[0] = calls2.text[0] = idents2.text[0] = '\0';
    scan_calls(lang, &s.text, 1, s.text.nlines, append_name, &calls);
    scan_idents(lang, &s.text, 1, s.text.nlines, append_name, &idents);
    scan_calls_and_idents(lang, &s.text, 1, s.text.nlines, append_name, &calls2, append_name,
                          &idents2);
    assert_true(calls.len > 0 && idents.len > calls.len);
    assert_string_equal(calls.text, calls2.text);
    assert_string_equal(idents.text, idents2.text);
    calls2.len = 0;
    calls2.text[0] = '\0';
    scan_calls_and_idents(lang, &s.text, 1, s.text.nlines, append_name, &calls2, NULL, NULL);
    assert_string_equal(calls.text, calls2.text);
    scanned_free(&s);
  }
}

static void test_unterminated_strings_and_comments_end_at_eof(void **state)
{
  (void)state;
  static const struct {
    lang_id lang;
    const char *src;
  } cases[] = {
    {LANG_C, "int f(void) {\n  /* never closed\n}\n"},
    {LANG_CPP, "int f() {\n  auto s = R\"d(open\n}\n"},
    {LANG_JAVASCRIPT, "function f() {\n  const s = `open ${ {\n}\n"},
    {LANG_PYTHON, "def f():\n    s = \"\"\"open\n\ndef g():\n    pass\n"},
    {LANG_RUST, "fn f() {\n    let s = r#\"open\n}\n"},
    {LANG_GO, "func f() {\n\ts := `open\n}\n"},
    {LANG_JAVA, "class A {\n  void f() {\n    String s = \"\"\"\n  }\n}\n"},
    {LANG_LUA, "function f()\n  local s = [==[ open\nend\n"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    scanned s;
    scan_string(&s, cases[i].lang, cases[i].src);
    assert_true(s.r.ndefs >= 1);
    const scan_def *last = &s.r.defs[s.r.ndefs - 1];
    assert_int_equal(last->end_line, s.text.nlines);
    scanned_free(&s);
  }
}

static void test_unknown_language_and_empty_input(void **state)
{
  (void)state;
  text_t t;
  assert_int_equal(text_init(&t, "", 0), 0);
  scan_result r;
  assert_int_equal(scan_file(LANG_UNKNOWN, &t, &r), -1);
  assert_int_equal(r.ndefs, 0);
  scan_result_free(&r);
  for (int l = LANG_C; l < LANG__COUNT; l++) {
    assert_int_equal(scan_file((lang_id)l, &t, &r), 0);
    assert_int_equal(r.ndefs, 0);
    assert_int_equal(r.nimports, 0);
    assert_int_equal(scan_find_at(&r, 1), -1);
    scan_result_free(&r);
  }
  text_free(&t);
}

/* Random bytes biased towards the characters that drive the scanners: every language must
 * return well-formed results (ordered, nested, in range) and never crash or hang. */
static void test_random_input_gives_well_formed_results(void **state)
{
  (void)state;
  static const char alphabet[] = "{}()[]\"'`/*#\\\n\n  \tabcdefRrx_:;=<>@$-[]=.,|!0";
  unsigned seed = 12345;
  char buf[600];
  for (int iter = 0; iter < 3000; iter++) {
    size_t n = (size_t)(iter % 599) + 1;
    for (size_t i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      unsigned v = seed >> 16;
      buf[i] = (v & 7) == 0 ? (char)(v >> 3) : alphabet[(v >> 3) % (sizeof(alphabet) - 1)];
    }
    text_t t;
    assert_int_equal(text_init(&t, buf, n), 0);
    lang_id lang = (lang_id)(LANG_C + iter % (LANG__COUNT - 1));
    scan_result r;
    assert_int_equal(scan_file(lang, &t, &r), 0);
    for (size_t i = 0; i < r.ndefs; i++) {
      const scan_def *d = &r.defs[i];
      assert_true(d->start_line >= 1 && d->start_line <= d->head_line);
      assert_true(d->head_line <= d->body_line && d->body_line <= d->end_line);
      assert_true(d->end_line <= (t.nlines > 0 ? t.nlines : 1));
      assert_true(d->parent < (int)i);
      if (i > 0) {
        assert_true(r.defs[i - 1].start_line <= d->start_line);
      }
    }
    for (size_t i = 0; i < r.nimports; i++) {
      assert_true(r.imports[i].start_line <= r.imports[i].end_line);
    }
    scan_result_free(&r);
    text_free(&t);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_c_functions_skip_braces_in_strings_comments_and_macros),
    cmocka_unit_test(test_c_body_scan_sees_the_braces_the_token_lexer_sees),
    cmocka_unit_test(test_c_body_scan_agrees_with_token_lexing_on_random_bodies),
    cmocka_unit_test(test_cpp_methods_ctors_operators_and_qualified_names),
    cmocka_unit_test(test_cpp_header_macros_trailing_returns_and_specialisations),
    cmocka_unit_test(test_cpp_brackets_with_literals_comments_and_braces_inside),
    cmocka_unit_test(test_python_decorators_nesting_and_indentation_ends),
    cmocka_unit_test(test_js_functions_arrows_classes_and_object_methods),
    cmocka_unit_test(test_js_expression_arrow_functions_end_with_their_expression),
    cmocka_unit_test(test_ts_return_types_decorators_and_interfaces),
    cmocka_unit_test(test_go_funcs_methods_types_and_raw_strings),
    cmocka_unit_test(test_rust_impl_trait_nested_fn_and_lifetimes),
    cmocka_unit_test(test_java_annotations_text_blocks_and_anonymous_classes),
    cmocka_unit_test(test_lua_functions_long_strings_and_blocks),
    cmocka_unit_test(test_find_at_prefers_innermost_function_then_class),
    cmocka_unit_test(test_calls_skip_keywords_strings_and_repeat_names_once),
    cmocka_unit_test(test_calls_and_idents_in_one_pass_equal_the_two_passes),
    cmocka_unit_test(test_unterminated_strings_and_comments_end_at_eof),
    cmocka_unit_test(test_unknown_language_and_empty_input),
    cmocka_unit_test(test_random_input_gives_well_formed_results),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
