/* Tests for native/context/package.c: the focused context for an action at a cursor.
 *
 * Fixture files live in tests/fixtures/package/; line numbers in the assertions refer to them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "context/package.h"
#include "core/tokens.h"
#include "util/buf.h"

#ifndef FRUGAL_SOURCE_DIR
#define FRUGAL_SOURCE_DIR "."
#endif

typedef struct {
  char *data;
  text_t text;
} fixture;

static void fixture_load(fixture *f, const char *name)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/tests/fixtures/package/%s", FRUGAL_SOURCE_DIR, name);
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    fail_msg("cannot open fixture %s", path);
  }
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  f->data = malloc((size_t)n + 1);
  assert_int_equal(fread(f->data, 1, (size_t)n, fp), (size_t)n);
  f->data[n] = '\0';
  fclose(fp);
  assert_int_equal(text_init(&f->text, f->data, (size_t)n), 0);
}

static void fixture_from(fixture *f, const char *s)
{
  f->data = strdup(s);
  assert_int_equal(text_init(&f->text, f->data, strlen(s)), 0);
}

static void fixture_free(fixture *f)
{
  text_free(&f->text);
  free(f->data);
}

static pkg_request request(const char *path, const char *action, int line)
{
  pkg_request q;
  memset(&q, 0, sizeof(q));
  q.path = path;
  q.lang = LANG_UNKNOWN;
  q.action = action;
  q.cursor_line = line;
  return q;
}

static void build_ok(const fixture *f, const pkg_request *q, pkg_result *r)
{
  char err[256];
  int rc = package_build(&f->text, q, r, err, sizeof(err));
  if (rc != 0) {
    fail_msg("package_build failed: %s", err);
  }
}

static void assert_item(const pkg_result *r, size_t i, item_kind kind, int first, int last,
                        const char *label)
{
  if (i >= r->nitems) {
    fail_msg("item %zu missing (package has %zu items)", i, r->nitems);
  }
  const pkg_item *it = &r->items[i];
  if (it->kind != kind || it->start_line != first || it->end_line != last) {
    fail_msg("item %zu: got %s %d-%d, want %s %d-%d", i, item_kind_name(it->kind),
             it->start_line, it->end_line, item_kind_name(kind), first, last);
  }
  if (label) {
    assert_non_null(it->label);
    assert_string_equal(it->label, label);
  }
  assert_non_null(it->text);
  assert_int_equal(it->tokens, tokens_estimate(kind == ITEM_DIAGNOSTIC ? LANG_UNKNOWN : r->lang,
                                               it->text, strlen(it->text)));
}

static int sum_tokens(const pkg_result *r)
{
  int s = 0;
  for (size_t i = 0; i < r->nitems; i++) {
    s += r->items[i].tokens;
  }
  return s;
}

/* The exact bytes of lines first..last of a fixture. */
static char *lines_of(const fixture *f, int first, int last)
{
  size_t a = text_line_start(&f->text, first), b = text_line_end(&f->text, last);
  return strndup(f->data + a, b - a);
}

static void test_c_function_gets_includes_and_called_helper_signature(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "ring.c");
  pkg_request q = request("ring.c", "explain", 45);
  pkg_result r;
  build_ok(&f, &q, &r);
  assert_int_equal(r.lang, LANG_C);
  assert_int_equal(r.scope, SCOPE_FUNCTION);
  assert_string_equal(r.scope_name, "ring_write");
  assert_int_equal(r.start_line, 41);
  assert_int_equal(r.end_line, 53);
  assert_int_equal(r.nitems, 3);
  assert_item(&r, 0, ITEM_SCOPE, 41, 53, NULL);
  assert_item(&r, 1, ITEM_IMPORTS, 2, 5, "imports");
  assert_item(&r, 2, ITEM_SIGNATURE, 19, 19, "ring_free_space");
  char *want = lines_of(&f, 41, 53);
  assert_string_equal(r.items[0].text, want);
  free(want);
  assert_string_equal(r.items[2].text,
                      "static size_t ring_free_space(const ring_t *r)\n");
  assert_int_equal(r.tokens, sum_tokens(&r));
  assert_int_equal(r.file_tokens, tokens_estimate(LANG_C, f.data, f.text.len));
  assert_int_equal(r.dropped, 0);
  assert_int_equal(r.over_budget, 0);
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_c_signature_carries_its_short_doc_comment(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "ring.c");
  pkg_request q = request("ring.c", "tests", 30);
  pkg_result r;
  build_ok(&f, &q, &r);
  assert_string_equal(r.scope_name, "ring_new");
  assert_int_equal(r.nitems, 3);
  assert_item(&r, 0, ITEM_SCOPE, 24, 39, NULL);
  assert_item(&r, 1, ITEM_IMPORTS, 2, 5, NULL);
  assert_item(&r, 2, ITEM_SIGNATURE, 9, 10, "round_pow2");
  assert_string_equal(r.items[2].text, "/* Rounds n up to a power of two. */\n"
                                       "static size_t round_pow2(size_t n)\n");
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_small_budget_drops_signatures_then_imports_but_keeps_scope(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "ring.c");
  pkg_request q = request("ring.c", "fix", 30);
  pkg_result full;
  build_ok(&f, &q, &full);
  int scope_tokens = full.items[0].tokens;
  int imports_tokens = full.items[1].tokens;

  pkg_result r;
  q.budget_tokens = scope_tokens + imports_tokens; /* the signature no longer fits */
  build_ok(&f, &q, &r);
  assert_int_equal(r.nitems, 2);
  assert_item(&r, 1, ITEM_IMPORTS, 2, 5, NULL);
  assert_int_equal(r.dropped, 1);
  assert_int_equal(r.over_budget, 0);
  assert_int_equal(r.tokens, scope_tokens + imports_tokens);
  pkg_result_free(&r);

  q.budget_tokens = scope_tokens + 1;
  build_ok(&f, &q, &r);
  assert_int_equal(r.nitems, 1);
  assert_int_equal(r.dropped, 2);
  assert_int_equal(r.over_budget, 0);
  pkg_result_free(&r);

  q.budget_tokens = scope_tokens / 2;
  build_ok(&f, &q, &r);
  assert_int_equal(r.nitems, 1);
  assert_item(&r, 0, ITEM_SCOPE, 24, 39, NULL);
  assert_string_equal(r.items[0].text, full.items[0].text);
  assert_int_equal(r.over_budget, 1);
  assert_int_equal(r.dropped, 2);
  pkg_result_free(&r);
  pkg_result_free(&full);
  fixture_free(&f);
}

static void test_diagnostics_inside_the_scope_are_kept_outside_ones_left_out(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "ring.c");
  pkg_diag diags[] = {
    {33, 33, "error", "implicit declaration of function 'mallocx'", "clang"},
    {5, 5, "error", "'ring.h' file not found", "clang"},
    {36, 38, "warning", "unreachable code", NULL},
    {39, 39, NULL, "missing return", ""},
  };
  pkg_request q = request("ring.c", "fix", 30);
  q.diags = diags;
  q.ndiags = 4;
  q.budget_tokens = 1; /* diagnostics survive any budget */
  pkg_result r;
  build_ok(&f, &q, &r);
  assert_int_equal(r.nitems, 4);
  assert_item(&r, 1, ITEM_DIAGNOSTIC, 33, 33, "error");
  assert_string_equal(r.items[1].text,
                      "line 33: error: implicit declaration of function 'mallocx' [clang]");
  assert_item(&r, 2, ITEM_DIAGNOSTIC, 36, 38, "warning");
  assert_string_equal(r.items[2].text, "lines 36-38: warning: unreachable code");
  assert_item(&r, 3, ITEM_DIAGNOSTIC, 39, 39, "error");
  assert_string_equal(r.items[3].text, "line 39: error: missing return");
  assert_int_equal(r.dropped, 2);
  assert_int_equal(r.over_budget, 1);
  assert_int_equal(r.tokens, sum_tokens(&r));
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_python_method_gets_class_header_and_sibling_signature(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "inventory.py");
  pkg_request q = request("inventory.py", "refactor", 23);
  pkg_result r;
  build_ok(&f, &q, &r);
  assert_int_equal(r.lang, LANG_PYTHON);
  assert_int_equal(r.scope, SCOPE_METHOD);
  assert_string_equal(r.scope_name, "remove");
  assert_int_equal(r.nitems, 4);
  assert_item(&r, 0, ITEM_SCOPE, 21, 25, NULL);
  assert_item(&r, 1, ITEM_IMPORTS, 2, 3, NULL);
  assert_item(&r, 2, ITEM_CLASS_HEADER, 11, 11, "Inventory");
  assert_string_equal(r.items[2].text, "class Inventory:\n");
  assert_item(&r, 3, ITEM_SIGNATURE, 27, 27, "_check");
  assert_string_equal(r.items[3].text, "    def _check(self, name):\n");
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_python_budget_drops_the_farthest_signature_first(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "inventory.py");
  pkg_request q = request("inventory.py", "docs", 32);
  pkg_result full;
  build_ok(&f, &q, &full);
  assert_int_equal(full.scope, SCOPE_METHOD);
  assert_string_equal(full.scope_name, "load");
  assert_int_equal(full.nitems, 5);
  assert_item(&full, 0, ITEM_SCOPE, 31, 33, NULL);
  assert_item(&full, 1, ITEM_IMPORTS, 2, 3, NULL);
  assert_item(&full, 2, ITEM_CLASS_HEADER, 11, 11, NULL);
  assert_item(&full, 3, ITEM_SIGNATURE, 6, 6, "load_rows");
  assert_item(&full, 4, ITEM_SIGNATURE, 17, 17, "add");

  pkg_result r;
  q.budget_tokens = full.tokens - 1;
  build_ok(&f, &q, &r);
  assert_int_equal(r.dropped, 1);
  assert_int_equal(r.nitems, 4);
  assert_item(&r, 3, ITEM_SIGNATURE, 17, 17, "add");
  pkg_result_free(&r);

  /* Room for the scope and the class header only: signatures go, then imports. */
  q.budget_tokens = full.items[0].tokens + full.items[2].tokens;
  build_ok(&f, &q, &r);
  assert_int_equal(r.dropped, 3);
  assert_int_equal(r.nitems, 2);
  assert_item(&r, 1, ITEM_CLASS_HEADER, 11, 11, "Inventory");
  assert_int_equal(r.tokens, q.budget_tokens);
  pkg_result_free(&r);
  pkg_result_free(&full);
  fixture_free(&f);
}

/* One package built without a budget and cut per tier (what a request routed to Full after a
 * Mini-sized build does) equals the package built for that budget, and the cut leaves the
 * uncut package whole. */
static void test_fitting_one_package_equals_building_for_each_budget(void **state)
{
  (void)state;
  static const struct {
    const char *file, *action;
    int line;
  } cases[] = {{"inventory.py", "docs", 32}, {"inventory.py", "fix", 6}};
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    fixture f;
    fixture_load(&f, cases[c].file);
    pkg_request q = request(cases[c].file, cases[c].action, cases[c].line);
    pkg_result all;
    build_ok(&f, &q, &all);
    size_t nall = all.nitems;
    for (int budget = 1; budget <= all.tokens + 1; budget++) {
      pkg_result want, got;
      q.budget_tokens = budget;
      build_ok(&f, &q, &want);
      pkg_result_copy(&got, &all);
      package_fit(&got, budget);
      assert_int_equal(got.nitems, want.nitems);
      assert_int_equal(got.tokens, want.tokens);
      assert_int_equal(got.dropped, want.dropped);
      assert_int_equal(got.over_budget, want.over_budget);
      assert_true(got.tokens <= budget || got.over_budget);
      for (size_t i = 0; i < got.nitems; i++) {
        assert_int_equal(got.items[i].kind, want.items[i].kind);
        assert_int_equal(got.items[i].start_line, want.items[i].start_line);
        assert_string_equal(got.items[i].text, want.items[i].text);
      }
      pkg_result_free(&got);
      pkg_result_free(&want);
    }
    assert_int_equal(all.nitems, nall);
    assert_int_equal(all.dropped, 0);
    assert_int_equal(all.tokens, sum_tokens(&all));
    pkg_result_free(&all);
    fixture_free(&f);
  }
}

/* The editor's tree-sitter range is a hint: the scan's function wins when there is one (the
 * hint is only compared), the hint is the scope where the scan has no function (a language it
 * does not read, a line of a class body that is in no method), and a hint that does not hold
 * the cursor is ignored. */
static void test_treesitter_hint_is_checked_against_the_scan(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "ring.c");
  pkg_request q = request("ring.c", "explain", 45);
  pkg_result r;
  q.hint_start = 42; /* ring_write from its declaration, as tree-sitter has it */
  q.hint_end = 53;
  build_ok(&f, &q, &r);
  assert_int_equal(r.hint, PKG_HINT_AGREES);
  assert_string_equal(r.scope_name, "ring_write");
  assert_int_equal(r.start_line, 41); /* the scan's: with its doc comment */
  pkg_result_free(&r);
  q.hint_start = 41; /* or from its doc comment */
  build_ok(&f, &q, &r);
  assert_int_equal(r.hint, PKG_HINT_AGREES);
  pkg_result_free(&r);
  q.hint_start = 43; /* a range of its own: the scan still decides */
  q.hint_end = 50;
  build_ok(&f, &q, &r);
  assert_int_equal(r.hint, PKG_HINT_DIFFERS);
  assert_int_equal(r.start_line, 41);
  assert_int_equal(r.end_line, 53);
  pkg_result_free(&r);
  q.hint_start = 46; /* does not hold the cursor */
  q.hint_end = 50;
  build_ok(&f, &q, &r);
  assert_int_equal(r.hint, PKG_HINT_IGNORED);
  assert_int_equal(r.start_line, 41);
  pkg_result_free(&r);
  q.hint_start = 41; /* past the end of the file */
  q.hint_end = 100000;
  build_ok(&f, &q, &r);
  assert_int_equal(r.hint, PKG_HINT_IGNORED);
  pkg_result_free(&r);
  q.hint_start = q.hint_end = 0;
  build_ok(&f, &q, &r);
  assert_int_equal(r.hint, PKG_HINT_NONE);
  pkg_result_free(&r);
  /* a selection is its own scope: the hint plays no part */
  q.hint_start = 41;
  q.hint_end = 53;
  q.sel_start = 44;
  q.sel_end = 46;
  build_ok(&f, &q, &r);
  assert_int_equal(r.hint, PKG_HINT_NONE);
  assert_int_equal(r.scope, SCOPE_SELECTION);
  pkg_result_free(&r);
  fixture_free(&f);

  /* Vimscript: the scanner does not read it, the editor's function is the scope */
  fixture_from(&f, "\" a plugin\nlet g:x = 1\nfunction! s:Greet(name) abort\n"
                   "  echo 'hi ' . a:name\nendfunction\n\ncall s:Greet('a')\n");
  q = request("plugin.vim", "explain", 4);
  q.hint_start = 3;
  q.hint_end = 5;
  build_ok(&f, &q, &r);
  assert_int_equal(r.hint, PKG_HINT_USED);
  assert_int_equal(r.scope, SCOPE_FUNCTION);
  assert_int_equal(r.start_line, 3);
  assert_int_equal(r.end_line, 5);
  assert_item(&r, 0, ITEM_SCOPE, 3, 5, NULL);
  pkg_result_free(&r);
  q.hint_start = q.hint_end = 0; /* without it: a window of lines */
  build_ok(&f, &q, &r);
  assert_int_equal(r.scope, SCOPE_LINES);
  pkg_result_free(&r);
  fixture_free(&f);

  /* A class-body line in no method (the scan answers with the class): a hint inside the class
   * is more precise, one crossing its edge is not taken. */
  fixture_load(&f, "inventory.py");
  q = request("inventory.py", "explain", 13);
  q.hint_start = 12;
  q.hint_end = 13;
  build_ok(&f, &q, &r);
  assert_int_equal(r.hint, PKG_HINT_USED);
  assert_int_equal(r.start_line, 12);
  assert_int_equal(r.end_line, 13);
  pkg_result_free(&r);
  q.hint_start = 9;
  build_ok(&f, &q, &r);
  assert_int_equal(r.hint, PKG_HINT_DIFFERS);
  assert_int_equal(r.scope, SCOPE_CLASS);
  pkg_result_free(&r);
  fixture_free(&f);
  assert_string_equal(pkg_hint_name(PKG_HINT_AGREES), "agrees");
  assert_string_equal(pkg_hint_name(PKG_HINT_USED), "used");
}

static void test_python_same_named_methods_prefer_the_sibling(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "inventory.py");
  pkg_request q = request("inventory.py", "explain", 46);
  pkg_result r;
  build_ok(&f, &q, &r);
  assert_int_equal(r.scope, SCOPE_METHOD);
  assert_string_equal(r.scope_name, "replay");
  assert_int_equal(r.nitems, 4);
  assert_item(&r, 0, ITEM_SCOPE, 45, 48, NULL);
  assert_item(&r, 1, ITEM_IMPORTS, 2, 3, NULL);
  assert_item(&r, 2, ITEM_CLASS_HEADER, 41, 41, "Ledger");
  /* Journal.reset (line 37) has the same name but is not what self.reset() means here. */
  assert_item(&r, 3, ITEM_SIGNATURE, 42, 42, "reset");
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_python_cursor_outside_definitions_takes_a_window_of_lines(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "inventory.py");
  pkg_request q = request("inventory.py", "explain", 1);
  pkg_result r;
  build_ok(&f, &q, &r);
  assert_int_equal(r.scope, SCOPE_LINES);
  assert_null(r.scope_name);
  assert_int_equal(r.start_line, 1);
  assert_int_equal(r.end_line, 31);
  assert_item(&r, 0, ITEM_SCOPE, 1, 31, NULL);
  for (size_t i = 1; i < r.nitems; i++) {
    assert_int_not_equal(r.items[i].kind, ITEM_IMPORTS); /* they are inside the window */
  }
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_go_function_gets_import_block_and_both_callee_signatures(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "cache.go");
  pkg_request q = request("cache.go", "tests", 38);
  pkg_result r;
  build_ok(&f, &q, &r);
  assert_int_equal(r.lang, LANG_GO);
  assert_true(r.scope == SCOPE_FUNCTION || r.scope == SCOPE_METHOD);
  assert_string_equal(r.scope_name, "Swap");
  assert_int_equal(r.nitems, 5);
  assert_item(&r, 0, ITEM_SCOPE, 37, 41, NULL);
  assert_item(&r, 1, ITEM_IMPORTS, 3, 6, NULL);
  /* the receiver's type, whole: its fields are what a test of Swap has to set up */
  assert_item(&r, 2, ITEM_TYPE, 11, 14, "Cache");
  assert_item(&r, 3, ITEM_SIGNATURE, 21, 21, "Get");
  assert_item(&r, 4, ITEM_SIGNATURE, 31, 31, "Put");
  assert_string_equal(r.items[3].text, "func (c *Cache) Get(key string) (string, error) {\n");
  pkg_result_free(&r);

  q.cursor_line = 18;
  build_ok(&f, &q, &r);
  assert_string_equal(r.scope_name, "New");
  assert_int_equal(r.nitems, 3);
  assert_item(&r, 0, ITEM_SCOPE, 16, 19, NULL);
  assert_item(&r, 1, ITEM_IMPORTS, 3, 6, NULL);
  assert_item(&r, 2, ITEM_TYPE, 11, 14, "Cache");
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_js_function_gets_imports_and_callee_signature(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "config.js");
  pkg_request q = request("config.js", "explain", 17);
  pkg_result r;
  build_ok(&f, &q, &r);
  assert_int_equal(r.lang, LANG_JAVASCRIPT);
  assert_int_equal(r.scope, SCOPE_FUNCTION);
  assert_string_equal(r.scope_name, "loadConfig");
  assert_item(&r, 0, ITEM_SCOPE, 13, 24, NULL);
  assert_item(&r, 1, ITEM_IMPORTS, 1, 2, NULL);
  assert_item(&r, 2, ITEM_SIGNATURE, 6, 6, "parseLine");
  assert_string_equal(r.items[2].text, "function parseLine(line) {\n");
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_js_arrow_function_callee_gets_a_signature(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "config.js");
  pkg_request q = request("config.js", "explain", 17);
  pkg_result r;
  build_ok(&f, &q, &r);
  /* `export const isComment = (line) => ...` is a function bound to a name (scan.h). */
  assert_int_equal(r.nitems, 4);
  assert_item(&r, 2, ITEM_SIGNATURE, 6, 6, "parseLine");
  assert_item(&r, 3, ITEM_SIGNATURE, 11, 11, "isComment");
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_java_method_gets_class_header_and_documented_callee(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "Cart.java");
  pkg_request q = request("Cart.java", "implement", 27);
  pkg_result r;
  build_ok(&f, &q, &r);
  assert_int_equal(r.lang, LANG_JAVA);
  assert_int_equal(r.scope, SCOPE_METHOD);
  assert_string_equal(r.scope_name, "totalWithTax");
  /* The scanner counts the package line as file-level context, like the imports. */
  assert_int_equal(r.nitems, 5);
  assert_item(&r, 0, ITEM_SCOPE, 26, 29, NULL);
  assert_item(&r, 1, ITEM_IMPORTS, 1, 1, NULL);
  assert_string_equal(r.items[1].text, "package com.example.shop;\n");
  assert_item(&r, 2, ITEM_IMPORTS, 3, 4, NULL);
  assert_item(&r, 3, ITEM_CLASS_HEADER, 7, 7, "Cart");
  assert_string_equal(r.items[3].text, "public class Cart {\n");
  assert_item(&r, 4, ITEM_SIGNATURE, 17, 18, "total");
  assert_string_equal(r.items[4].text, "  /** Sum of all prices. */\n  public int total() {\n");
  pkg_result_free(&r);

  /* `prices.add(price)` inside add() names add itself: no signature for the scope. */
  q.cursor_line = 12;
  build_ok(&f, &q, &r);
  assert_string_equal(r.scope_name, "add");
  assert_int_equal(r.nitems, 4);
  assert_item(&r, 0, ITEM_SCOPE, 10, 15, NULL);
  assert_item(&r, 2, ITEM_IMPORTS, 3, 4, NULL);
  assert_item(&r, 3, ITEM_CLASS_HEADER, 7, 7, NULL);
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_selection_is_the_scope_for_function_actions_and_review(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "ring.c");
  static const char *const actions[] = {"explain", "review", "ask", "frobnicate", NULL};
  for (size_t i = 0; actions[i]; i++) {
    pkg_request q = request("ring.c", actions[i], 44);
    q.sel_start = 44;
    q.sel_end = 47;
    pkg_result r;
    build_ok(&f, &q, &r);
    assert_int_equal(r.scope, SCOPE_SELECTION);
    assert_null(r.scope_name);
    assert_int_equal(r.start_line, 44);
    assert_int_equal(r.end_line, 47);
    assert_item(&r, 0, ITEM_SCOPE, 44, 47, NULL);
    assert_string_equal(r.items[0].text, "  size_t room = ring_free_space(r);\n"
                                         "  if (n > room) {\n"
                                         "    n = room;\n"
                                         "  }\n");
    assert_item(&r, 1, ITEM_IMPORTS, 2, 5, NULL);
    assert_item(&r, 2, ITEM_SIGNATURE, 19, 19, "ring_free_space");
    pkg_result_free(&r);
  }
  fixture_free(&f);
}

static void test_review_and_multi_file_actions_take_the_whole_file(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "inventory.py");
  static const char *const actions[] = {"review", "design", "optimize", "refactor-files",
                                        "review-all", NULL};
  for (size_t i = 0; actions[i]; i++) {
    pkg_request q = request("inventory.py", actions[i], 23);
    if (strcmp(actions[i], "review") != 0) {
      q.sel_start = 21; /* a multi-file action ignores the selection */
      q.sel_end = 22;
    }
    pkg_result r;
    build_ok(&f, &q, &r);
    assert_int_equal(r.scope, SCOPE_FILE);
    assert_int_equal(r.start_line, 1);
    assert_int_equal(r.end_line, 48);
    assert_int_equal(r.nitems, 1);
    assert_string_equal(r.items[0].text, f.data);
    assert_int_equal(r.tokens, r.file_tokens);
    pkg_result_free(&r);
  }
  assert_int_equal(package_default_scope("review", 0), SCOPE_FILE);
  assert_int_equal(package_default_scope("review", 1), SCOPE_SELECTION);
  assert_int_equal(package_default_scope("design", 1), SCOPE_FILE);
  assert_int_equal(package_default_scope(NULL, 0), SCOPE_FUNCTION);
  assert_int_equal(package_default_scope("tests", 1), SCOPE_SELECTION);
  fixture_free(&f);
}

static void test_unknown_language_gets_a_clamped_window(void **state)
{
  (void)state;
  buf_t b = BUF_INIT;
  for (int i = 1; i <= 100; i++) {
    buf_printf(&b, "note %d: nothing to parse here\n", i);
  }
  fixture f;
  fixture_from(&f, b.data);
  buf_free(&b);
  pkg_request q = request("notes.txt", "explain", 50);
  pkg_result r;
  build_ok(&f, &q, &r);
  assert_int_equal(r.lang, LANG_UNKNOWN);
  assert_int_equal(r.scope, SCOPE_LINES);
  assert_int_equal(r.nitems, 1);
  assert_item(&r, 0, ITEM_SCOPE, 20, 80, NULL);
  pkg_result_free(&r);

  q.cursor_line = 95;
  build_ok(&f, &q, &r);
  assert_item(&r, 0, ITEM_SCOPE, 65, 100, NULL);
  pkg_result_free(&r);

  q.cursor_line = 3;
  build_ok(&f, &q, &r);
  assert_item(&r, 0, ITEM_SCOPE, 1, 33, NULL);
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_invalid_cursor_and_selection_are_refused_with_a_message(void **state)
{
  (void)state;
  buf_t b = BUF_INIT;
  for (int i = 1; i <= 80; i++) {
    buf_printf(&b, "int v%d = %d;\n", i, i);
  }
  fixture f;
  fixture_from(&f, b.data);
  buf_free(&b);
  char err[128];
  pkg_result r;
  pkg_request q = request("v.c", "explain", 120);
  assert_int_equal(package_build(&f.text, &q, &r, err, sizeof(err)), -1);
  assert_string_equal(err, "cursor line 120 is past the end of the file (80 lines)");
  assert_null(r.items);

  q.cursor_line = 0;
  assert_int_equal(package_build(&f.text, &q, &r, err, sizeof(err)), -1);
  assert_string_equal(err, "cursor line 0 is before the start of the file (lines start at 1)");

  q.cursor_line = 10;
  q.sel_start = 12;
  q.sel_end = 4;
  assert_int_equal(package_build(&f.text, &q, &r, err, sizeof(err)), -1);
  assert_string_equal(err, "selection 12-4 is reversed (start after end)");

  q.sel_start = 70;
  q.sel_end = 81;
  assert_int_equal(package_build(&f.text, &q, &r, err, sizeof(err)), -1);
  assert_string_equal(err, "selection 70-81 is past the end of the file (80 lines)");

  q.sel_start = 0;
  q.sel_end = 5;
  assert_int_equal(package_build(&f.text, &q, &r, err, sizeof(err)), -1);
  assert_string_equal(err, "selection 0-5 is invalid (lines start at 1)");

  /* A short error buffer is filled, never overrun. */
  char tiny[8];
  q.sel_start = q.sel_end = 0;
  q.cursor_line = 81;
  assert_int_equal(package_build(&f.text, &q, &r, tiny, sizeof(tiny)), -1);
  assert_string_equal(tiny, "cursor ");
  assert_int_equal(package_build(&f.text, &q, &r, NULL, 0), -1);

  q.cursor_line = 80;
  build_ok(&f, &q, &r);
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_empty_file_gives_an_empty_scope(void **state)
{
  (void)state;
  fixture f;
  fixture_from(&f, "");
  static const char *const actions[] = {"explain", "review", "design", NULL};
  static const lang_id langs[] = {LANG_C, LANG_PYTHON, LANG_UNKNOWN};
  for (size_t i = 0; actions[i]; i++) {
    for (size_t l = 0; l < 3; l++) {
      pkg_request q = request(NULL, actions[i], 1);
      q.lang = langs[l];
      pkg_result r;
      build_ok(&f, &q, &r);
      assert_true(r.scope == SCOPE_FILE || r.scope == SCOPE_LINES);
      assert_int_equal(r.nitems, 1);
      assert_int_equal(r.items[0].kind, ITEM_SCOPE);
      assert_string_equal(r.items[0].text, "");
      assert_int_equal(r.items[0].tokens, 0);
      assert_int_equal(r.tokens, 0);
      assert_int_equal(r.file_tokens, 0);
      pkg_result_free(&r);
    }
  }
  char err[128];
  pkg_result r;
  pkg_request q = request(NULL, "explain", 2);
  assert_int_equal(package_build(&f.text, &q, &r, err, sizeof(err)), -1);
  assert_string_equal(err, "cursor line 2 is past the end of the file (0 lines)");
  fixture_free(&f);
}

static void test_function_package_is_a_small_fraction_of_a_big_file(void **state)
{
  (void)state;
  buf_t b = BUF_INIT;
  buf_puts(&b, "#include <stdio.h>\n#include <stdlib.h>\n\n");
  /* 3000 functions of 10 lines each (doc comment, header, body, blank); step_i calls
   * step_{i-1}. */
  for (int i = 0; i < 3000; i++) {
    char callee[32] = "abs";
    if (i > 0) {
      snprintf(callee, sizeof(callee), "step_%d", i - 1);
    }
    buf_printf(&b,
               "/* Step %d of the pipeline. */\n"
               "static int step_%d(int x, const char *label)\n"
               "{\n"
               "  if (x < 0) {\n"
               "    fprintf(stderr, \"%%s: negative input at step %d\\n\", label);\n"
               "    return -1;\n"
               "  }\n"
               "  return %s(x + 1, label);\n"
               "}\n\n",
               i, i, i, callee);
  }
  fixture f;
  fixture_from(&f, b.data);
  buf_free(&b);
  /* Function i starts at line 4 + 10 * i. */
  pkg_request q = request("big.c", "explain", 4 + 10 * 1500 + 4);
  pkg_result r;
  build_ok(&f, &q, &r);
  assert_int_equal(r.scope, SCOPE_FUNCTION);
  assert_string_equal(r.scope_name, "step_1500");
  assert_item(&r, 0, ITEM_SCOPE, 15004, 15012, NULL);
  assert_item(&r, 1, ITEM_IMPORTS, 1, 2, NULL);
  assert_item(&r, 2, ITEM_SIGNATURE, 14994, 14995, "step_1499");
  assert_true(r.file_tokens > 100000);
  assert_true(r.tokens > 0);
  assert_true(r.tokens * 100 < r.file_tokens); /* under 1% of the file */
  pkg_result_free(&r);
  fixture_free(&f);
}

static void test_random_code_like_bytes_always_give_a_consistent_package(void **state)
{
  (void)state;
  static const char *const atoms[] = {
    "{", "}", "(", ")", "\n", "\n    ", "\"", "'", "`", "/*", "*/", "//", "#", "--", "[[", "]]",
    "def ", "class ", "function ", "func ", "fn ", "end", "import x\n", "#include <a.h>\n",
    "foo", "bar(", "self.baz(", ":", ";", "=>", " ", "\t", "\xc3\xa9", "\xff",
  };
  static const char *const paths[] = {"r.c", "r.cpp", "r.py", "r.js", "r.ts", "r.go", "r.rs",
                                      "r.java", "r.lua", "r.txt"};
  uint32_t x = 88172645u;
  for (int round = 0; round < 40; round++) {
    buf_t b = BUF_INIT;
    for (int k = 0; k < 600; k++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      buf_puts(&b, atoms[x % (sizeof(atoms) / sizeof(atoms[0]))]);
    }
    fixture f;
    fixture_from(&f, b.data);
    buf_free(&b);
    pkg_diag diag = {3, 9, "warning", "w", "lint"};
    for (int line = 1; line <= f.text.nlines; line += 7) {
      pkg_request q = request(paths[round % 10], round % 3 ? "explain" : "review", line);
      q.diags = &diag;
      q.ndiags = 1;
      q.budget_tokens = round % 4 == 0 ? 20 : 0;
      if (round % 5 == 0) {
        q.sel_start = line;
        q.sel_end = line + 3 <= f.text.nlines ? line + 3 : f.text.nlines;
      }
      pkg_result r;
      build_ok(&f, &q, &r);
      assert_true(r.nitems >= 1);
      assert_int_equal(r.items[0].kind, ITEM_SCOPE);
      assert_true(r.start_line >= 1 && r.start_line <= r.end_line);
      assert_true(r.end_line <= f.text.nlines);
      assert_int_equal(r.tokens, sum_tokens(&r));
      for (size_t i = 1; i < r.nitems; i++) {
        assert_true(r.items[i].start_line <= r.items[i].end_line);
      }
      pkg_result_free(&r);
    }
    fixture_free(&f);
  }
}

static void test_kind_names_are_stable(void **state)
{
  (void)state;
  assert_string_equal(scope_kind_name(SCOPE_FUNCTION), "function");
  assert_string_equal(scope_kind_name(SCOPE_METHOD), "method");
  assert_string_equal(scope_kind_name(SCOPE_CLASS), "class");
  assert_string_equal(scope_kind_name(SCOPE_SELECTION), "selection");
  assert_string_equal(scope_kind_name(SCOPE_FILE), "file");
  assert_string_equal(scope_kind_name(SCOPE_LINES), "lines");
  assert_string_equal(item_kind_name(ITEM_SCOPE), "scope");
  assert_string_equal(item_kind_name(ITEM_IMPORTS), "imports");
  assert_string_equal(item_kind_name(ITEM_CLASS_HEADER), "class_header");
  assert_string_equal(item_kind_name(ITEM_SIGNATURE), "signature");
  assert_string_equal(item_kind_name(ITEM_TYPE), "type");
  assert_string_equal(item_kind_name(ITEM_DIAGNOSTIC), "diagnostic");
}

static void test_c_function_gets_the_types_it_names(void **state)
{
  (void)state;
  fixture f;
  fixture_load(&f, "shapes.c");
  pkg_request q = request("shapes.c", "tests", 67);
  pkg_result r;
  build_ok(&f, &q, &r);
  assert_string_equal(r.scope_name, "area");
  assert_int_equal(r.nitems, 5);
  assert_item(&r, 0, ITEM_SCOPE, 64, 71, NULL);
  assert_item(&r, 1, ITEM_IMPORTS, 2, 2, NULL);
  /* short types whole, with their one-line doc comment; a long one as its header only; a type
   * the function never names is left out */
  assert_item(&r, 2, ITEM_TYPE, 4, 8, "point");
  assert_item(&r, 3, ITEM_TYPE, 10, 10, "shape_kind");
  assert_item(&r, 4, ITEM_TYPE, 12, 12, "registry");
  assert_string_equal(r.items[4].text, "struct registry {\n");
  int scope_tokens = r.items[0].tokens;
  pkg_result_free(&r);

  /* under a tight budget the optional items go, the scope stays */
  q.budget_tokens = scope_tokens + 1;
  build_ok(&f, &q, &r);
  assert_int_equal(r.nitems, 1);
  assert_int_equal(r.dropped, 4);
  pkg_result_free(&r);
  fixture_free(&f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_c_function_gets_includes_and_called_helper_signature),
    cmocka_unit_test(test_c_signature_carries_its_short_doc_comment),
    cmocka_unit_test(test_small_budget_drops_signatures_then_imports_but_keeps_scope),
    cmocka_unit_test(test_diagnostics_inside_the_scope_are_kept_outside_ones_left_out),
    cmocka_unit_test(test_python_method_gets_class_header_and_sibling_signature),
    cmocka_unit_test(test_python_budget_drops_the_farthest_signature_first),
    cmocka_unit_test(test_fitting_one_package_equals_building_for_each_budget),
    cmocka_unit_test(test_treesitter_hint_is_checked_against_the_scan),
    cmocka_unit_test(test_python_same_named_methods_prefer_the_sibling),
    cmocka_unit_test(test_python_cursor_outside_definitions_takes_a_window_of_lines),
    cmocka_unit_test(test_go_function_gets_import_block_and_both_callee_signatures),
    cmocka_unit_test(test_c_function_gets_the_types_it_names),
    cmocka_unit_test(test_js_function_gets_imports_and_callee_signature),
    cmocka_unit_test(test_js_arrow_function_callee_gets_a_signature),
    cmocka_unit_test(test_java_method_gets_class_header_and_documented_callee),
    cmocka_unit_test(test_selection_is_the_scope_for_function_actions_and_review),
    cmocka_unit_test(test_review_and_multi_file_actions_take_the_whole_file),
    cmocka_unit_test(test_unknown_language_gets_a_clamped_window),
    cmocka_unit_test(test_invalid_cursor_and_selection_are_refused_with_a_message),
    cmocka_unit_test(test_empty_file_gives_an_empty_scope),
    cmocka_unit_test(test_function_package_is_a_small_fraction_of_a_big_file),
    cmocka_unit_test(test_random_code_like_bytes_always_give_a_consistent_package),
    cmocka_unit_test(test_kind_names_are_stable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
