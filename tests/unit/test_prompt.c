/* Tests for native/prompt: the per-action prompts (content, layout for prompt caches) and the
 * checks on model answers (fenced blocks, elided code, brackets, review findings).
 *
 * Packages are built with the real package_build() over small inline sources, so the prompts
 * are checked on what the host would really send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "context/package.h"
#include "edit/blocks.h"
#include "prompt/prompt.h"
#include "util/buf.h"

/* ---- Helpers -------------------------------------------------------------------------------- */

typedef struct {
  char *data;
  text_t text;
  pkg_result pkg;
} pkg_fixture;

static void pkg_make(pkg_fixture *f, const char *src, const char *path, const char *action,
                     int line, const pkg_diag *diags, size_t ndiags)
{
  f->data = strdup(src);
  assert_int_equal(text_init(&f->text, f->data, strlen(src)), 0);
  pkg_request q;
  memset(&q, 0, sizeof(q));
  q.path = path;
  q.action = action;
  q.cursor_line = line;
  q.diags = diags;
  q.ndiags = ndiags;
  char err[256];
  if (package_build(&f->text, &q, &f->pkg, err, sizeof(err)) != 0) {
    fail_msg("package_build: %s", err);
  }
}

static void pkg_drop(pkg_fixture *f)
{
  pkg_result_free(&f->pkg);
  text_free(&f->text);
  free(f->data);
}

static prompt_request preq(const char *action, const char *path, const pkg_result *pkg,
                           const char *instruction)
{
  prompt_request r;
  memset(&r, 0, sizeof(r));
  r.action = action;
  r.path = path;
  r.lang = lang_from_path(path);
  r.pkg = pkg;
  r.instruction = instruction;
  return r;
}

static void build_ok(const prompt_request *r, prompt *p)
{
  char err[256];
  if (prompt_build(r, p, err, sizeof(err)) != 0) {
    fail_msg("prompt_build(%s): %s", r->action, err);
  }
}

#define assert_contains(hay, needle)                                                               \
  do {                                                                                             \
    if (!strstr((hay), (needle))) {                                                                \
      fail_msg("expected to find \"%s\" in:\n%s", (needle), (hay));                                \
    }                                                                                              \
  } while (0)

#define assert_lacks(hay, needle)                                                                  \
  do {                                                                                             \
    if (strstr((hay), (needle))) {                                                                 \
      fail_msg("did not expect \"%s\" in:\n%s", (needle), (hay));                                  \
    }                                                                                              \
  } while (0)

static const char *const all_actions[] = {
    "explain", "fix",    "refactor", "docs",           "implement",  "tests", "review",
    "ask",     "design", "optimize", "refactor-files", "review-all", "plan",  NULL,
};

/* Inventory: `add` and `remove` are methods of one class, both call `_check`: their packages
 * have the same non-scope items. `restock` calls `add` instead. */
static const char py_src[] = "\"\"\"Inventory tracking.\"\"\"\n"                            /* 1 */
                             "import json\n"                                                /* 2 */
                             "from dataclasses import dataclass\n"                          /* 3 */
                             "\n"                                                           /* 4 */
                             "\n"                                                           /* 5 */
                             "class Inventory:\n"                                           /* 6 */
                             "    \"\"\"Items in stock, by name.\"\"\"\n"                   /* 7 */
                             "\n"                                                           /* 8 */
                             "    def add(self, name, count=1):\n"                          /* 9 */
                             "        self._check(name)\n"                                  /* 10 */
                             "        self.items[name] = self.items.get(name, 0) + count\n" /* 11 */
                             "\n"                                                           /* 12 */
                             "    def remove(self, name, count=1):\n"                       /* 13 */
                             "        self._check(name)\n"                                  /* 14 */
                             "        if self.items.get(name, 0) < count:\n"                /* 15 */
                             "            raise ValueError(f\"not enough {name}\")\n"       /* 16 */
                             "        self.items[name] -= count\n"                          /* 17 */
                             "\n"                                                           /* 18 */
                             "    def _check(self, name):\n"                                /* 19 */
                             "        if not name:\n"                                       /* 20 */
                             "            raise ValueError(\"empty name\")\n"               /* 21 */
                             "\n"                                                           /* 22 */
                             "    def restock(self, name):\n"                               /* 23 */
                             "        self.add(name, 10)\n"                                 /* 24 */
                             "        return json.dumps(self.items)\n";                     /* 25 */

/* C: `ring_read` and `ring_write` both call `ring_used` and name `ring_t`. */
static const char c_src[] = "#include <stddef.h>\n"                                     /* 1 */
                            "#include <string.h>\n"                                     /* 2 */
                            "\n"                                                        /* 3 */
                            "typedef struct {\n"                                        /* 4 */
                            "  char *data;\n"                                           /* 5 */
                            "  size_t cap, head, tail;\n"                               /* 6 */
                            "} ring_t;\n"                                               /* 7 */
                            "\n"                                                        /* 8 */
                            "static size_t ring_used(const ring_t *r)\n"                /* 9 */
                            "{\n"                                                       /* 10 */
                            "  return r->head - r->tail;\n"                             /* 11 */
                            "}\n"                                                       /* 12 */
                            "\n"                                                        /* 13 */
                            "size_t ring_write(ring_t *r, const char *src, size_t n)\n" /* 14 */
                            "{\n"                                                       /* 15 */
                            "  size_t room = r->cap - ring_used(r);\n"                  /* 16 */
                            "  n = n < room ? n : room;\n"                              /* 17 */
                            "  memcpy(r->data + r->head, src, n);\n"                    /* 18 */
                            "  r->head += n;\n"                                         /* 19 */
                            "  return n;\n"                                             /* 20 */
                            "}\n"                                                       /* 21 */
                            "\n"                                                        /* 22 */
                            "size_t ring_read(ring_t *r, char *dst, size_t n)\n"        /* 23 */
                            "{\n"                                                       /* 24 */
                            "  size_t used = ring_used(r);\n"                           /* 25 */
                            "  n = n < used ? n : used;\n"                              /* 26 */
                            "  memcpy(dst, r->data + r->tail, n);\n"                    /* 27 */
                            "  r->tail += n;\n"                                         /* 28 */
                            "  return n;\n"                                             /* 29 */
                            "}\n";                                                      /* 30 */

/* ---- Layout and caching --------------------------------------------------------------------- */

static void system_is_identical_for_every_request_of_an_action(void **state)
{
  (void)state;
  for (size_t i = 0; all_actions[i]; i++) {
    const char *a = all_actions[i];
    pkg_fixture fp, fc;
    pkg_make(&fp, py_src, "shop/inventory.py", a, 14, NULL, 0);
    pkg_make(&fc, c_src, "src/ring.c", a, 25, NULL, 0);
    prompt_request rp = preq(a, "shop/inventory.py", &fp.pkg, "make it shorter");
    prompt_request rc = preq(a, "src/ring.c", &fc.pkg, "make it shorter");
    prompt pp, pc;
    build_ok(&rp, &pp);
    build_ok(&rc, &pc);
    assert_string_equal(pp.system, pc.system);
    /* Nothing request-specific: no path, scope name, line number or language in it. */
    assert_lacks(pp.system, "inventory.py");
    assert_lacks(pp.system, "def remove(");
    assert_lacks(pc.system, "ring_read");
    assert_lacks(pc.system, "lines 23");
    /* The edit rules' worked example is C on purpose (the same for every request): the rest of
     * the system text names no language. */
    const char *rules = edit_blocks_rules();
    const char *at = strstr(pc.system, rules);
    char *rest = at ? xstrdup(pc.system) : NULL;
    if (rest) {
      memmove(rest + (at - pc.system), rest + (at - pc.system) + strlen(rules),
              strlen(at + strlen(rules)) + 1);
    }
    assert_lacks(rest ? rest : pc.system, "```c");
    free(rest);
    assert_lacks(pp.system, "```python");
    assert_contains(pp.task, "make it shorter");
    prompt_free(&pp);
    prompt_free(&pc);
    pkg_drop(&fp);
    pkg_drop(&fc);
  }
}

static void two_methods_of_one_file_share_the_cached_prefix_byte_for_byte(void **state)
{
  (void)state;
  static const char *const acts[] = {"fix", "explain", "docs", "tests", "refactor", NULL};
  for (size_t i = 0; acts[i]; i++) {
    pkg_fixture fa, fr;
    pkg_make(&fa, py_src, "shop/inventory.py", acts[i], 10, NULL, 0);
    pkg_make(&fr, py_src, "shop/inventory.py", acts[i], 15, NULL, 0);
    assert_string_equal(fa.pkg.scope_name, "add");
    assert_string_equal(fr.pkg.scope_name, "remove");
    /* The precondition: the same non-scope items, in the same order. */
    assert_int_equal(fa.pkg.nitems, fr.pkg.nitems);
    assert_true(fa.pkg.nitems >= 3);
    for (size_t k = 1; k < fa.pkg.nitems; k++) {
      assert_int_equal(fa.pkg.items[k].kind, fr.pkg.items[k].kind);
      assert_string_equal(fa.pkg.items[k].text, fr.pkg.items[k].text);
    }
    prompt_request ra = preq(acts[i], "shop/inventory.py", &fa.pkg, NULL);
    prompt_request rr = preq(acts[i], "shop/inventory.py", &fr.pkg, NULL);
    ra.test_framework = rr.test_framework = "pytest";
    ra.test_path = rr.test_path = "tests/test_inventory.py";
    ra.test_sample = rr.test_sample = "import pytest\n\nfrom shop.inventory import Inventory\n";
    ra.test_sample_path = rr.test_sample_path = "tests/test_inventory.py";
    prompt pa, pr;
    build_ok(&ra, &pa);
    build_ok(&rr, &pr);
    /* What a provider cache sees: system then context, concatenated. */
    size_t la = strlen(pa.system) + strlen(pa.context);
    char *prefix_a = malloc(la + 1), *prefix_r = malloc(la + 1);
    snprintf(prefix_a, la + 1, "%s%s", pa.system, pa.context);
    snprintf(prefix_r, la + 1, "%s%s", pr.system, pr.context);
    assert_int_equal(strlen(pr.system) + strlen(pr.context), la);
    assert_memory_equal(prefix_a, prefix_r, la);
    assert_true(strlen(pa.context) > 0);
    assert_contains(pa.context, "def _check(self, name):");
    assert_contains(pa.context, "class Inventory:");
    assert_contains(pa.context, "import json");
    /* The scope lives in the task only. */
    assert_contains(pa.task, "def add(self, name, count=1):");
    assert_contains(pr.task, "def remove(self, name, count=1):");
    assert_lacks(pa.context, "def add(");
    assert_lacks(pr.context, "def remove(");
    assert_string_not_equal(pa.task, pr.task);
    free(prefix_a);
    free(prefix_r);
    prompt_free(&pa);
    prompt_free(&pr);
    pkg_drop(&fa);
    pkg_drop(&fr);
  }
}

static void two_c_functions_share_the_prefix_and_a_different_callee_changes_it(void **state)
{
  (void)state;
  pkg_fixture fw, fr, fx;
  pkg_make(&fw, c_src, "src/ring.c", "fix", 17, NULL, 0);
  pkg_make(&fr, c_src, "src/ring.c", "fix", 26, NULL, 0);
  pkg_make(&fx, py_src, "shop/inventory.py", "fix", 24, NULL, 0); /* restock calls add */
  prompt_request rw = preq("fix", "src/ring.c", &fw.pkg, NULL);
  prompt_request rr = preq("fix", "src/ring.c", &fr.pkg, NULL);
  prompt pw, pr;
  build_ok(&rw, &pw);
  build_ok(&rr, &pr);
  assert_string_equal(pw.system, pr.system);
  assert_string_equal(pw.context, pr.context);
  assert_contains(pw.context, "static size_t ring_used(const ring_t *r)");
  assert_contains(pw.context, "} ring_t;");
  assert_contains(pw.task, "lines 14-21 of src/ring.c");
  assert_contains(pr.task, "lines 23-30 of src/ring.c");

  /* The context follows the items: restock's callee is `add`, not `_check`. */
  pkg_fixture fa;
  pkg_make(&fa, py_src, "shop/inventory.py", "fix", 10, NULL, 0);
  prompt_request ra = preq("fix", "shop/inventory.py", &fa.pkg, NULL);
  prompt_request rx = preq("fix", "shop/inventory.py", &fx.pkg, NULL);
  prompt pa, px;
  build_ok(&ra, &pa);
  build_ok(&rx, &px);
  assert_string_equal(pa.system, px.system);
  assert_string_not_equal(pa.context, px.context);
  assert_contains(px.context, "## Signature: add");
  prompt_free(&pa);
  prompt_free(&px);
  prompt_free(&pw);
  prompt_free(&pr);
  pkg_drop(&fw);
  pkg_drop(&fr);
  pkg_drop(&fx);
  pkg_drop(&fa);
}

static void context_lists_items_in_fixed_order_even_when_the_package_does_not(void **state)
{
  (void)state;
  pkg_item items[4];
  memset(items, 0, sizeof(items));
  items[0] = (pkg_item){ITEM_SCOPE, 5, 6, 0, "f", "int f(void)\n{ return g(); }\n"};
  items[1] = (pkg_item){ITEM_SIGNATURE, 1, 1, 0, "g", "int g(void);\n"};
  items[2] = (pkg_item){ITEM_IMPORTS, 2, 2, 0, "imports", "#include <stdio.h>\n"};
  items[3] = (pkg_item){ITEM_DIAGNOSTIC, 6, 6, 0, "error", "line 6: error: boom"};
  pkg_result pkg;
  memset(&pkg, 0, sizeof(pkg));
  pkg.lang = LANG_C;
  pkg.scope = SCOPE_FUNCTION;
  pkg.scope_name = "f";
  pkg.start_line = 5;
  pkg.end_line = 6;
  pkg.items = items;
  pkg.nitems = 4;
  prompt_request r = preq("fix", "a.c", &pkg, NULL);
  prompt p;
  build_ok(&r, &p);
  const char *imp = strstr(p.context, "## Imports");
  const char *sig = strstr(p.context, "## Signature: g");
  assert_non_null(imp);
  assert_non_null(sig);
  assert_true(imp < sig);
  assert_contains(p.context, "Path: a.c\nLanguage: c\n");
  /* Diagnostics are per scope: task, never context. */
  assert_lacks(p.context, "boom");
  assert_contains(p.task, "- line 6: error: boom\n");
  prompt_free(&p);

  /* Nothing but the scope: the context is empty, as the header promises. */
  pkg.nitems = 1;
  build_ok(&r, &p);
  assert_string_equal(p.context, "");
  prompt_free(&p);
}

static void code_holding_backtick_fences_gets_a_longer_fence(void **state)
{
  (void)state;
  const char *src = "def usage():\n    return \"\"\"\n```sh\nrun it\n```\n\"\"\"\n";
  pkg_fixture f;
  pkg_make(&f, src, "cli.py", "explain", 1, NULL, 0);
  prompt_request r = preq("explain", "cli.py", &f.pkg, NULL);
  prompt p;
  build_ok(&r, &p);
  assert_contains(p.task, "````python\ndef usage():\n");
  assert_contains(p.task, "\"\"\"\n````\n");
  prompt_free(&p);
  pkg_drop(&f);
}

/* ---- Each action's instruction -------------------------------------------------------------- */

typedef struct {
  const char *action;
  prompt_output out;
  const char *in_system; /* the action's key instruction */
  const char *in_task;   /* the output reminder */
} action_case;

static void each_action_states_its_task_format_and_scope(void **state)
{
  (void)state;
  static const action_case cases[] = {
      {"explain", PROMPT_OUT_MARKDOWN, "Explain the given code", "at most 300 words"},
      {"fix", PROMPT_OUT_REPLACE, "Fix the defect", "complete replacement for lines 23-30"},
      {"refactor", PROMPT_OUT_REPLACE, "without changing its behaviour",
       "complete replacement for lines 23-30"},
      {"docs", PROMPT_OUT_REPLACE, "the code unchanged with its documentation comment",
       "complete replacement for lines 23-30"},
      {"implement", PROMPT_OUT_REPLACE, "complete the stub",
       "complete replacement for lines 23-30"},
      {"tests", PROMPT_OUT_TESTS, "the error paths", "whole test file, runnable as it is"},
      {"review", PROMPT_OUT_REVIEW, "LINE: [severity] message", "LINE between 1 and 30"},
      {"ask", PROMPT_OUT_MARKDOWN, "Answer the user's question", "Question: why size_t?"},
      {"design", PROMPT_OUT_MARKDOWN, "Do not implement it", "Goal, Design, Steps, Risks"},
      {"optimize", PROMPT_OUT_MARKDOWN, "not micro-optimisations", "at most 3 optimisations"},
      {"refactor-files", PROMPT_OUT_EDITS, "<<<<<<< SEARCH", "SEARCH/REPLACE blocks"},
      {"review-all", PROMPT_OUT_MARKDOWN, "PATH:LINE: [severity] message", "at most 20"},
      {"plan", PROMPT_OUT_MARKDOWN, "single-step tasks", "Goal: why size_t?"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const action_case *c = &cases[i];
    pkg_fixture f;
    pkg_make(&f, c_src, "src/ring.c", c->action, 26, NULL, 0);
    int wants_text = strcmp(c->action, "ask") == 0 || strcmp(c->action, "plan") == 0;
    prompt_request r = preq(c->action, "src/ring.c", &f.pkg, wants_text ? "why size_t?" : NULL);
    prompt p;
    build_ok(&r, &p);
    assert_int_equal(p.output, c->out);
    assert_int_equal(prompt_output_for(c->action), c->out);
    assert_contains(p.system, c->in_system);
    assert_contains(p.task, c->in_task);
    assert_contains(p.task, "# Task: ");
    /* The scope's code is in the task, whatever the action. */
    assert_contains(p.task, "memcpy(dst, r->data + r->tail, n);");
    /* Every prompt says what not to do. */
    assert_contains(p.system, "# Rules\n- ");
    /* Multi-file edits and code for regions are asked for as SEARCH/REPLACE blocks. */
    if (c->out == PROMPT_OUT_EDITS || strcmp(c->action, "optimize") == 0 ||
        strcmp(c->action, "design") == 0) {
      assert_contains(p.system, edit_blocks_rules());
    } else {
      assert_lacks(p.system, "<<<<<<< SEARCH");
    }
    if (c->out == PROMPT_OUT_REPLACE) {
      assert_contains(p.system, "Never elide code");
      assert_contains(p.system, "no unrelated changes");
      assert_contains(p.system, "No explanations inside the code block");
      assert_contains(p.system, "Keep the name, parameters and return type");
      assert_contains(p.task, "Code: lines 23-30 of src/ring.c (the function `ring_read`)\n"
                              "```c\nsize_t ring_read(");
    }
    prompt_free(&p);
    pkg_drop(&f);
  }
}

static void fix_uses_the_diagnostics_or_asks_for_the_likeliest_defect(void **state)
{
  (void)state;
  pkg_diag d = {17, 17, "warning", "comparison of integers of different signs", "clang"};
  pkg_fixture f;
  pkg_make(&f, c_src, "src/ring.c", "fix", 17, &d, 1);
  prompt_request r = preq("fix", "src/ring.c", &f.pkg, NULL);
  prompt p;
  build_ok(&r, &p);
  assert_contains(p.system, "fix exactly the problems they report");
  assert_contains(p.task, "Diagnostics from the editor for these lines:\n"
                          "- line 17: warning: comparison of integers of different signs "
                          "[clang]\n");
  assert_contains(p.task, "one sentence naming the defect");
  prompt_free(&p);
  pkg_drop(&f);

  pkg_make(&f, c_src, "src/ring.c", "fix", 17, NULL, 0);
  r = preq("fix", "src/ring.c", &f.pkg, NULL);
  build_ok(&r, &p);
  assert_lacks(p.task, "Diagnostics");
  assert_contains(p.task, "find the most likely defect in these lines");
  assert_contains(p.task, "name it in your first sentence");
  prompt_free(&p);

  r = preq("fix", "src/ring.c", &f.pkg, "writes past the end when head wraps");
  build_ok(&r, &p);
  assert_contains(p.task, "The bug, as the user describes it: writes past the end when head "
                          "wraps\n");
  prompt_free(&p);
  pkg_drop(&f);
}

static void refactor_takes_the_instruction_or_defaults_to_clarity(void **state)
{
  (void)state;
  pkg_fixture f;
  pkg_make(&f, c_src, "src/ring.c", "refactor", 17, NULL, 0);
  prompt_request r = preq("refactor", "src/ring.c", &f.pkg, "use early returns");
  prompt p;
  build_ok(&r, &p);
  assert_contains(p.task, "Instruction: use early returns\n");
  prompt_free(&p);
  r.instruction = "   ";
  build_ok(&r, &p);
  assert_contains(p.task, "No instruction was given: improve clarity without changing "
                          "behaviour.");
  prompt_free(&p);
  pkg_drop(&f);
}

static void docs_names_the_convention_of_each_language(void **state)
{
  (void)state;
  static const struct {
    const char *path, *src, *convention;
  } cases[] = {
      {"a.c", "int twice(int x)\n{\n  return 2 * x;\n}\n", "Doxygen /** ... */"},
      {"a.cpp", "int twice(int x)\n{\n  return 2 * x;\n}\n", "Doxygen /** ... */"},
      {"A.java", "class A {\n  int twice(int x) {\n    return 2 * x;\n  }\n}\n", "Javadoc"},
      {"a.js", "function twice(x) {\n  return 2 * x;\n}\n", "JSDoc /** ... */"},
      {"a.ts", "function twice(x: number): number {\n  return 2 * x;\n}\n", "TSDoc /** ... */"},
      {"a.py", "def twice(x):\n    return 2 * x\n", "docstring in triple double quotes"},
      {"a.rs", "fn twice(x: i32) -> i32 {\n    2 * x\n}\n", "/// lines directly above"},
      {"a.go", "package a\n\nfunc Twice(x int) int {\n\treturn 2 * x\n}\n",
       "the first sentence starting with the name"},
      {"a.lua", "local function twice(x)\n  return 2 * x\nend\n", "---@param and ---@return"},
  };
  char *system0 = NULL;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pkg_fixture f;
    int line = strstr(cases[i].src, "package") ? 4 : 2;
    pkg_make(&f, cases[i].src, cases[i].path, "docs", line, NULL, 0);
    prompt_request r = preq("docs", cases[i].path, &f.pkg, NULL);
    prompt p;
    build_ok(&r, &p);
    assert_contains(p.task, cases[i].convention);
    assert_contains(p.system, "Leave the code itself exactly as it is");
    assert_contains(p.system, "complete replacement for lines A-B");
    if (!system0) {
      system0 = strdup(p.system);
    } else {
      assert_string_equal(system0, p.system);
    }
    prompt_free(&p);
    pkg_drop(&f);
  }
  free(system0);
}

static void implement_asks_for_the_stub_or_the_comment(void **state)
{
  (void)state;
  const char *src = "/* Returns the number of set bits in x. */\n"
                    "int popcount(unsigned x)\n{\n  /* TODO */\n  return 0;\n}\n";
  pkg_fixture f;
  pkg_make(&f, src, "bits.c", "implement", 4, NULL, 0);
  prompt_request r = preq("implement", "bits.c", &f.pkg, NULL);
  prompt p;
  build_ok(&r, &p);
  assert_contains(p.system, "write what the comment in the code describes");
  assert_contains(p.system, "Never leave a placeholder, a stub or a TODO");
  /* The describing comment is part of the scope the model sees. */
  assert_contains(p.task, "lines 1-6 of bits.c");
  assert_contains(p.task, "/* Returns the number of set bits in x. */");
  prompt_free(&p);
  pkg_drop(&f);
}

static void review_numbers_every_line_with_its_file_line(void **state)
{
  (void)state;
  pkg_fixture f;
  pkg_make(&f, c_src, "src/ring.c", "review", 1, NULL, 0);
  prompt_request r = preq("review", "src/ring.c", &f.pkg, NULL);
  prompt p;
  build_ok(&r, &p);
  assert_contains(p.system, "every line starts with its line number in the file");
  assert_contains(p.system, "At most 10 findings, the most important first");
  assert_contains(p.system, "no findings\n");
  assert_contains(p.task, "```c\n 1| #include <stddef.h>\n");
  assert_contains(p.task, "\n 3|\n");
  assert_contains(p.task, "\n27|   memcpy(dst, r->data + r->tail, n);\n");
  assert_contains(p.task, "\n30| }\n```\n");
  prompt_free(&p);
  pkg_drop(&f);
}

/* The article's own examples: a specific request for unit tests names the framework, the file
 * and the cases; the optimisation request asks for 3 algorithmic optimisations. */
static void article_unit_test_request_names_framework_file_and_cases(void **state)
{
  (void)state;
  const char *src = "import { NotFoundException } from './errors';\n"
                    "\n"
                    "export class NotificationService {\n"
                    "  constructor(private repo: NotificationRepo) {}\n"
                    "\n"
                    "  async markAsRead(id: string): Promise<void> {\n"
                    "    const n = await this.repo.find(id);\n"
                    "    if (!n) {\n"
                    "      throw new NotFoundException(id);\n"
                    "    }\n"
                    "    n.readAt = new Date();\n"
                    "    await this.repo.save(n);\n"
                    "  }\n"
                    "}\n";
  pkg_fixture f;
  pkg_make(&f, src, "src/services/notification.service.ts", "tests", 8, NULL, 0);
  assert_string_equal(f.pkg.scope_name, "markAsRead");
  prompt_request r = preq("tests", "src/services/notification.service.ts", &f.pkg,
                          "1. Marks notification as read with valid ID\n"
                          "2. Throws NotFoundException for invalid ID\n"
                          "3. Handles concurrent reads gracefully\n"
                          "4. Updates read_at timestamp correctly");
  r.test_framework = "jest";
  r.test_path = "tests/services/notification.service.spec.ts";
  r.test_file_exists = 0;
  r.test_sample = "import { UserService } from '../../src/services/user.service';\n\n"
                  "describe('UserService', () => {\n";
  r.test_sample_path = "tests/services/user.service.spec.ts";
  prompt p;
  build_ok(&r, &p);
  assert_int_equal(p.output, PROMPT_OUT_TESTS);
  assert_contains(p.task, "Framework: jest\n");
  assert_contains(p.task, "Test file: tests/services/notification.service.spec.ts\n");
  assert_contains(p.task, "write the whole file, runnable as it is, with every import");
  assert_contains(p.task, "Test only the method `markAsRead`, shown above.\n");
  assert_contains(p.task, "2. Throws NotFoundException for invalid ID\n");
  assert_contains(p.task, "4. Updates read_at timestamp correctly\n");
  assert_contains(p.system, "the edge cases");
  assert_contains(p.system, "the error paths");
  assert_contains(p.system, "No tests for functions that appear only in the file context");
  assert_contains(p.context, "## Style sample: the first lines of "
                             "tests/services/user.service.spec.ts\n```typescript\n");
  assert_contains(p.context, "## Enclosing class: NotificationService");
  prompt_free(&p);

  /* Appending to an existing file, and no framework detected: the language's usual one. */
  r.test_file_exists = 1;
  r.test_framework = NULL;
  build_ok(&r, &p);
  assert_contains(p.task, "Framework: Jest (no framework was detected");
  assert_contains(p.task, "write only the new tests, to be appended at the end of "
                          "tests/services/notification.service.spec.ts");
  assert_contains(p.task, "only the new tests to append to");
  prompt_free(&p);
  pkg_drop(&f);
}

static void article_optimisation_request_asks_for_three_algorithmic_changes(void **state)
{
  (void)state;
  const char *src = "function processData(items) {\n"
                    "  let result = [];\n"
                    "  for (let i = 0; i < items.length; i++) {\n"
                    "    for (let j = 0; j < items[i].children.length; j++) {\n"
                    "      result.push(items[i].children[j].value);\n"
                    "    }\n"
                    "  }\n"
                    "  return result;\n"
                    "}\n";
  pkg_fixture f;
  pkg_make(&f, src, "app/data.js", "optimize", 3, NULL, 0);
  prompt_request r = preq("optimize", "app/data.js", &f.pkg, NULL);
  prompt p;
  build_ok(&r, &p);
  assert_contains(p.system, "At most 3 optimisations, the most valuable first");
  assert_contains(p.system, "algorithmic improvements first");
  assert_contains(p.task, "result.push(items[i].children[j].value);");
  prompt_free(&p);
  pkg_drop(&f);
}

static void bad_requests_are_refused_with_a_reason(void **state)
{
  (void)state;
  pkg_fixture f;
  pkg_make(&f, c_src, "src/ring.c", "ask", 17, NULL, 0);
  char err[512];
  prompt p;
  prompt_request r = preq("summarise", "src/ring.c", &f.pkg, NULL);
  assert_int_equal(prompt_build(&r, &p, err, sizeof(err)), -1);
  assert_contains(err, "unknown action 'summarise'");
  assert_contains(err, "refactor-files");
  assert_null(p.system);

  r = preq("ask", "src/ring.c", &f.pkg, NULL);
  assert_int_equal(prompt_build(&r, &p, err, sizeof(err)), -1);
  assert_contains(err, "the question");
  r = preq("plan", "src/ring.c", &f.pkg, " \n");
  assert_int_equal(prompt_build(&r, &p, err, sizeof(err)), -1);
  assert_contains(err, "the goal");
  r = preq("fix", "src/ring.c", NULL, NULL);
  assert_int_equal(prompt_build(&r, &p, err, sizeof(err)), -1);
  assert_contains(err, "no code to work on");
  assert_int_equal(prompt_build(NULL, &p, err, sizeof(err)), -1);
  /* A NULL error buffer is allowed. */
  assert_int_equal(prompt_build(&r, &p, NULL, 0), -1);
  assert_int_equal(prompt_output_for("nope"), PROMPT_OUT_MARKDOWN);
  assert_int_equal(prompt_output_for(NULL), PROMPT_OUT_MARKDOWN);
  prompt_free(&p);
  pkg_drop(&f);
}

/* ---- Answer parsing ------------------------------------------------------------------------- */

static prompt_answer parse(prompt_output kind, lang_id lang, const char *text, int a, int b)
{
  prompt_answer ans;
  assert_int_equal(prompt_parse_answer(kind, lang, text, text ? strlen(text) : 0, a, b, &ans), 0);
  return ans;
}

static void expect_code(prompt_output kind, lang_id lang, const char *text, const char *code)
{
  prompt_answer a = parse(kind, lang, text, 10, 20);
  if (!a.ok) {
    fail_msg("rejected: %s\n---\n%s", a.problem, text);
  }
  assert_null(a.problem);
  assert_string_equal(a.replacement, code);
  prompt_answer_free(&a);
}

static void expect_problem(prompt_output kind, lang_id lang, const char *text, const char *why)
{
  prompt_answer a = parse(kind, lang, text, 10, 20);
  if (a.ok) {
    fail_msg("accepted, expected \"%s\"\n---\n%s", why, text);
  }
  assert_null(a.replacement);
  assert_non_null(a.problem);
  assert_contains(a.problem, why);
  prompt_answer_free(&a);
}

static void replace_takes_the_one_block_among_prose(void **state)
{
  (void)state;
  expect_code(PROMPT_OUT_REPLACE, LANG_C,
              "The loop read one byte past the end; it now stops at `n`.\n\n"
              "```c\nint sum(const int *v, int n)\n{\n  int s = 0;\n"
              "  for (int i = 0; i < n; i++) {\n    s += v[i];\n  }\n  return s;\n}\n```\n\n"
              "This keeps the signature.\n",
              "int sum(const int *v, int n)\n{\n  int s = 0;\n"
              "  for (int i = 0; i < n; i++) {\n    s += v[i];\n  }\n  return s;\n}\n");
  /* No trailing newline after the closing fence, no language tag, CRLF fence lines. */
  expect_code(PROMPT_OUT_REPLACE, LANG_PYTHON, "```\r\ndef f():\n    return 1\n```",
              "def f():\n    return 1\n");
  /* ~~~ fences work the same. */
  expect_code(PROMPT_OUT_REPLACE, LANG_GO, "~~~go\nfunc f() int {\n\treturn 1\n}\n~~~\n",
              "func f() int {\n\treturn 1\n}\n");
  /* A block inside a list item loses the list's indentation. */
  expect_code(PROMPT_OUT_REPLACE, LANG_PYTHON,
              "1. Replace the function:\n   ```python\n   def f(x):\n       return x\n   ```\n",
              "def f(x):\n    return x\n");
}

static void replace_rejects_zero_or_several_blocks(void **state)
{
  (void)state;
  expect_problem(PROMPT_OUT_REPLACE, LANG_C, "int f(void) { return 1; }\n",
                 "no fenced code block in the answer");
  expect_problem(PROMPT_OUT_REPLACE, LANG_C,
                 "Before:\n```c\nint f(void) { return 0; }\n```\nAfter:\n"
                 "```c\nint f(void) { return 1; }\n```\n",
                 "the answer has 2 fenced code blocks; exactly one is expected, holding the "
                 "complete replacement for lines 10-20");
  expect_problem(PROMPT_OUT_TESTS, LANG_PYTHON,
                 "```python\ndef test_a():\n    assert 1\n```\n```bash\npytest\n```\n",
                 "exactly one is expected, holding the tests");
  expect_problem(PROMPT_OUT_REPLACE, LANG_C, "```c\n\n   \n```\n", "the code block is empty");
  expect_problem(PROMPT_OUT_REPLACE, LANG_C, "Here it is:\n```c\nint f(void)\n{\n",
                 "opened on line 2 of the answer is never closed");
  expect_problem(PROMPT_OUT_REPLACE, LANG_C, "```diff\n-  return 0;\n+  return 1;\n```\n",
                 "the answer is a diff");
  expect_problem(PROMPT_OUT_REPLACE, LANG_C, "", "the answer is empty");
  expect_problem(PROMPT_OUT_REPLACE, LANG_C, NULL, "the answer is empty");
  expect_problem(PROMPT_OUT_REPLACE, LANG_C, "```c\nchar *s = \"\xc3\x28\";\n```\n",
                 "not valid UTF-8");
  /* ```inline``` on one line is not a fence. */
  expect_problem(PROMPT_OUT_REPLACE, LANG_C, "Use ```x = 1``` here.\n", "no fenced code block");
}

static void longer_fence_keeps_inner_fences_as_code(void **state)
{
  (void)state;
  /* A Python function that returns markdown: the model used a longer fence around it. */
  expect_code(PROMPT_OUT_REPLACE, LANG_PYTHON,
              "````python\ndef usage():\n    return \"\"\"\n```sh\nrun\n```\n\"\"\"\n````\n",
              "def usage():\n    return \"\"\"\n```sh\nrun\n```\n\"\"\"\n");
  /* A ``` line with an info string cannot close a block; ~~~ cannot close ```. */
  expect_code(PROMPT_OUT_REPLACE, LANG_LUA, "```lua\nlocal s = [[\n```lua\n~~~\n]]\n```\n",
              "local s = [[\n```lua\n~~~\n]]\n");
}

static void markdown_answers_need_only_text(void **state)
{
  (void)state;
  const char *explain = "`usage` returns the help text.\n\n"
                        "- lines 1-2: builds a markdown string:\n"
                        "  ````markdown\n  ```sh\n  run\n  ```\n  ````\n"
                        "Watch out: nothing.\n";
  prompt_answer a = parse(PROMPT_OUT_MARKDOWN, LANG_PYTHON, explain, 1, 5);
  assert_true(a.ok);
  assert_null(a.problem);
  assert_null(a.replacement);
  assert_int_equal(a.nfindings, 0);
  prompt_answer_free(&a);
  a = parse(PROMPT_OUT_MARKDOWN, LANG_PYTHON, " \n\t\n", 1, 5);
  assert_false(a.ok);
  assert_string_equal(a.problem, "the answer is empty");
  prompt_answer_free(&a);
}

static void unbalanced_brackets_are_reported_with_their_line(void **state)
{
  (void)state;
  expect_problem(PROMPT_OUT_REPLACE, LANG_C,
                 "```c\nint f(int x)\n{\n  if (x) {\n    return 1;\n  return 0;\n}\n```\n",
                 "the '{' opened on line 2 of the code block is never closed");
  expect_problem(PROMPT_OUT_REPLACE, LANG_JAVASCRIPT,
                 "```js\nfunction f(a) {\n  return g(a];\n}\n```\n",
                 "']' on line 2 of the code block does not match the '(' opened on line 2");
  expect_problem(PROMPT_OUT_REPLACE, LANG_RUST, "```rust\nfn f() {}\n}\n```\n",
                 "'}' on line 2 of the code block closes nothing");
  /* Brackets inside strings, characters, comments, templates and lifetimes do not count. */
  expect_code(PROMPT_OUT_REPLACE, LANG_C,
              "```c\nvoid f(void)\n{\n  puts(\"{ ( [\"); /* } */ char c = '}'; // )\n}\n```\n",
              "void f(void)\n{\n  puts(\"{ ( [\"); /* } */ char c = '}'; // )\n}\n");
  expect_code(PROMPT_OUT_REPLACE, LANG_RUST,
              "```rust\nfn first<'a>(s: &'a str) -> char {\n    let b = '{';\n"
              "    s.chars().next().unwrap_or(b)\n}\n```\n",
              "fn first<'a>(s: &'a str) -> char {\n    let b = '{';\n"
              "    s.chars().next().unwrap_or(b)\n}\n");
  expect_code(PROMPT_OUT_REPLACE, LANG_TYPESCRIPT,
              "```ts\nconst f = (x: number) => `a ${x} } b`;\n```\n",
              "const f = (x: number) => `a ${x} } b`;\n");
  expect_code(PROMPT_OUT_REPLACE, LANG_JAVA,
              "```java\nString s() {\n  return \"\"\"\n    }\n    \"\"\";\n}\n```\n",
              "String s() {\n  return \"\"\"\n    }\n    \"\"\";\n}\n");
  /* Python is only checked for content, not brackets. */
  expect_code(PROMPT_OUT_REPLACE, LANG_PYTHON, "```python\nx = (1,\n```\n", "x = (1,\n");
}

static void elided_code_is_rejected(void **state)
{
  (void)state;
  expect_problem(PROMPT_OUT_REPLACE, LANG_C,
                 "```c\nint f(int x)\n{\n  // ... rest unchanged\n  return x;\n}\n```\n",
                 "the answer elides code with '...' (line 3 of the code block: "
                 "// ... rest unchanged)");
  expect_problem(PROMPT_OUT_REPLACE, LANG_PYTHON,
                 "```python\ndef f(x):\n    # ... existing code ...\n    return x\n```\n",
                 "line 2 of the code block: # ... existing code ...");
  expect_problem(PROMPT_OUT_REPLACE, LANG_JAVASCRIPT,
                 "```js\nfunction f(x) {\n  if (x) {\n    ...\n  }\n  return x;\n}\n```\n",
                 "line 3 of the code block: ...");
  expect_problem(PROMPT_OUT_REPLACE, LANG_JAVA,
                 "```java\nint f(int x) {\n  if (x > 0) { /* ... */ }\n  return x;\n}\n```\n",
                 "line 2 of the code block");
  expect_problem(PROMPT_OUT_REPLACE, LANG_CPP,
                 "```cpp\nint f(int x) {\n  if (x > 0) { ... }\n  return x;\n}\n```\n",
                 "elides code");
  expect_problem(PROMPT_OUT_REPLACE, LANG_LUA,
                 "```lua\nlocal function f(x)\n  -- rest of the function unchanged\nend\n```\n",
                 "-- rest of the function unchanged");
  /* U+2026, the one-character ellipsis. */
  expect_problem(PROMPT_OUT_REPLACE, LANG_GO,
                 "```go\nfunc f() {\n\t// \xe2\x80\xa6 same as before\n}\n```\n", "elides code");
  /* Elision wins over the brackets it leaves unbalanced. */
  expect_problem(PROMPT_OUT_REPLACE, LANG_C,
                 "```c\nint f(int x)\n{\n  if (x) {\n  /* ... */\n  return 0;\n}\n```\n",
                 "elides code");
  expect_problem(PROMPT_OUT_TESTS, LANG_PYTHON,
                 "```python\ndef test_a():\n    assert f(1) == 2\n\n# ... more tests here\n```\n",
                 "elides code");
  expect_problem(PROMPT_OUT_REPLACE, LANG_UNKNOWN, "```\nfoo:\n  # ... existing code\n```\n",
                 "elides code");
}

static void legitimate_dots_are_not_elisions(void **state)
{
  (void)state;
  const char *c = "```c\nint logf(const char *fmt, ...)\n{\n  /* Wait for it... */\n"
                  "  puts(\"loading...\");\n  return 0;\n}\n```\n";
  prompt_answer a = parse(PROMPT_OUT_REPLACE, LANG_C, c, 1, 9);
  assert_true(a.ok);
  prompt_answer_free(&a);
  expect_code(PROMPT_OUT_REPLACE, LANG_JAVASCRIPT,
              "```js\nfunction f(...args) {\n  return { ...args[0], b: [...args] };\n}\n```\n",
              "function f(...args) {\n  return { ...args[0], b: [...args] };\n}\n");
  expect_code(PROMPT_OUT_REPLACE, LANG_GO, "```go\nfunc f(xs ...int) {\n\tg(xs...)\n}\n```\n",
              "func f(xs ...int) {\n\tg(xs...)\n}\n");
  /* A Python stub body and an Ellipsis in a string are fine; so is "..." in a docstring. */
  expect_code(PROMPT_OUT_REPLACE, LANG_PYTHON,
              "```python\nclass P(Protocol):\n    def f(self) -> int:\n        ...\n"
              "    s = \"# ... not a comment\"\n```\n",
              "class P(Protocol):\n    def f(self) -> int:\n        ...\n"
              "    s = \"# ... not a comment\"\n");
  expect_code(PROMPT_OUT_REPLACE, LANG_LUA,
              "```lua\nlocal function f(...)\n  local s = \"-- ... x\"\n  return select('#', ...)\n"
              "end\n```\n",
              "local function f(...)\n  local s = \"-- ... x\"\n  return select('#', ...)\nend\n");
}

static void tests_answer_is_one_block(void **state)
{
  (void)state;
  expect_code(PROMPT_OUT_TESTS, LANG_PYTHON,
              "```python\nimport pytest\n\n\ndef test_add_rejects_empty_name():\n"
              "    with pytest.raises(ValueError):\n        Inventory().add(\"\")\n```\n",
              "import pytest\n\n\ndef test_add_rejects_empty_name():\n"
              "    with pytest.raises(ValueError):\n        Inventory().add(\"\")\n");
  expect_problem(PROMPT_OUT_TESTS, LANG_C, "Here are tests: test_a, test_b.\n",
                 "no fenced code block in the answer: the tests must be in one ``` block");
}

static void review_findings_are_parsed_in_their_variants(void **state)
{
  (void)state;
  const char *text = "Here is my review:\n"
                     "12: [error] `n` can exceed `room`; clamp it first.\n"
                     "- L14: [warning] memcpy overlaps when head wraps\n"
                     "* line 15-17: [info] name the magic number\n"
                     "3. 18: [warning] result unused\n"
                     "**L19**: [error] leak on the error path\n"
                     "src/ring.c:20: [info] comment is stale\n"
                     "Line 16 – 17: [info] en dash range\n"
                     "Overall: looks fine.\n"
                     "4: [error] outside the scope\n"
                     "25: [error] outside too\n";
  prompt_answer a = parse(PROMPT_OUT_REVIEW, LANG_C, text, 10, 20);
  assert_true(a.ok);
  assert_null(a.problem);
  assert_int_equal(a.nfindings, 7);
  static const int lines[] = {12, 14, 15, 18, 19, 20, 16};
  static const char *const msgs[] = {
      "[error] `n` can exceed `room`; clamp it first.",
      "[warning] memcpy overlaps when head wraps",
      "[info] name the magic number",
      "[warning] result unused",
      "[error] leak on the error path",
      "[info] comment is stale",
      "[info] en dash range",
  };
  for (size_t i = 0; i < 7; i++) {
    assert_int_equal(a.findings[i].line, lines[i]);
    assert_string_equal(a.findings[i].message, msgs[i]);
  }
  prompt_answer_free(&a);
}

static void review_no_findings_and_bad_answers(void **state)
{
  (void)state;
  prompt_answer a = parse(PROMPT_OUT_REVIEW, LANG_C, "no findings\n", 10, 20);
  assert_true(a.ok);
  assert_int_equal(a.nfindings, 0);
  assert_null(a.findings);
  prompt_answer_free(&a);
  a = parse(PROMPT_OUT_REVIEW, LANG_C, "**No findings.**", 10, 20);
  assert_true(a.ok);
  assert_int_equal(a.nfindings, 0);
  prompt_answer_free(&a);

  a = parse(PROMPT_OUT_REVIEW, LANG_C, "2: [error] a\n40: [warning] b\n", 10, 20);
  assert_false(a.ok);
  assert_int_equal(a.nfindings, 0);
  assert_string_equal(a.problem, "every finding (2) cites a line outside lines 10-20; cite the "
                                 "file's own line numbers, shown before the '|'");
  prompt_answer_free(&a);

  a = parse(PROMPT_OUT_REVIEW, LANG_C, "The code looks mostly fine but has a leak.\n", 10, 20);
  assert_false(a.ok);
  assert_contains(a.problem, "no finding in the \"LINE: [severity] message\" format");
  prompt_answer_free(&a);

  /* A number with no message, or a huge number, is not a finding. */
  a = parse(PROMPT_OUT_REVIEW, LANG_C, "12:\n99999999999: [error] x\n", 10, 20);
  assert_false(a.ok);
  prompt_answer_free(&a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(system_is_identical_for_every_request_of_an_action),
      cmocka_unit_test(two_methods_of_one_file_share_the_cached_prefix_byte_for_byte),
      cmocka_unit_test(two_c_functions_share_the_prefix_and_a_different_callee_changes_it),
      cmocka_unit_test(context_lists_items_in_fixed_order_even_when_the_package_does_not),
      cmocka_unit_test(code_holding_backtick_fences_gets_a_longer_fence),
      cmocka_unit_test(each_action_states_its_task_format_and_scope),
      cmocka_unit_test(fix_uses_the_diagnostics_or_asks_for_the_likeliest_defect),
      cmocka_unit_test(refactor_takes_the_instruction_or_defaults_to_clarity),
      cmocka_unit_test(docs_names_the_convention_of_each_language),
      cmocka_unit_test(implement_asks_for_the_stub_or_the_comment),
      cmocka_unit_test(review_numbers_every_line_with_its_file_line),
      cmocka_unit_test(article_unit_test_request_names_framework_file_and_cases),
      cmocka_unit_test(article_optimisation_request_asks_for_three_algorithmic_changes),
      cmocka_unit_test(bad_requests_are_refused_with_a_reason),
      cmocka_unit_test(replace_takes_the_one_block_among_prose),
      cmocka_unit_test(replace_rejects_zero_or_several_blocks),
      cmocka_unit_test(longer_fence_keeps_inner_fences_as_code),
      cmocka_unit_test(markdown_answers_need_only_text),
      cmocka_unit_test(unbalanced_brackets_are_reported_with_their_line),
      cmocka_unit_test(elided_code_is_rejected),
      cmocka_unit_test(legitimate_dots_are_not_elisions),
      cmocka_unit_test(tests_answer_is_one_block),
      cmocka_unit_test(review_findings_are_parsed_in_their_variants),
      cmocka_unit_test(review_no_findings_and_bad_answers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
