/* The repo map: what the walk skips, how definitions rank (names the scope uses first, then by
 * use across the project), the token budget, the per-file cache, the bounds, the async job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/tokens.h"
#include "repomap/repomap.h"

static char root[64];

static void put(const char *rel, const char *text)
{
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", root, rel);
  for (char *p = path + strlen(root) + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(path, 0755);
      *p = '/';
    }
  }
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state)
{
  strcpy(root, "/tmp/frugal-repomap-XXXXXX");
  assert_non_null(mkdtemp(root));
  put("core/store.h", "struct store {\n  int n;\n};\n");
  put("core/store.c", "#include \"store.h\"\n"
                      "int store_open(struct store *s, const char *path)\n{\n  return 0;\n}\n"
                      "static int store_private(void)\n{\n  return 1;\n}\n"
                      "void store_close(struct store *s)\n{\n  s->n = 0;\n}\n"
                      "int store_unused(int x)\n{\n  return x;\n}\n");
  put("app/main.c", "#include \"store.h\"\n"
                    "int main(void)\n{\n  struct store s;\n  store_open(&s, \"x\");\n"
                    "  store_close(&s);\n  return 0;\n}\n");
  put("app/cli.c", "void cli_run(void *s)\n{\n  store_close(s);\n}\n");
  put("tools/report.py", "class Report:\n    def render(self, rows):\n"
                         "        def inner():\n            pass\n        return rows\n\n"
                         "def make_report(rows):\n    return Report().render(rows)\n");
  put("lua/plug.lua", "local M = {}\nlocal function hidden()\nend\n"
                      "function M.setup(opts)\n  return opts\nend\nreturn M\n");
  /* what the walk must skip */
  put("build/gen.c", "int built_thing(void)\n{\n  return 0;\n}\n");
  put("node_modules/dep/index.js", "function vendored_js() {}\n");
  put("vendor/lib.c", "int vendored_c(void)\n{\n  return 0;\n}\n");
  put(".git/hook.py", "def git_internal():\n    pass\n");
  put("gen/out.c", "int ignored_dir_fn(void)\n{\n  return 0;\n}\n");
  put("core/table.gen.c", "int ignored_glob_fn(void)\n{\n  return 0;\n}\n");
  put(".gitignore", "# generated\ngen/\n*.gen.c\n!keep.c\n");
  put("notes.txt", "int not_code(void) {}\n");
  char bin[256];
  snprintf(bin, sizeof(bin), "%s/core/blob.c", root);
  FILE *f = fopen(bin, "wb");
  fwrite("int binary_fn(void)\n{\0\0\0}\n", 1, 26, f);
  fclose(f);
  char link[256];
  snprintf(link, sizeof(link), "%s/app/link.c", root);
  assert_int_equal(symlink(bin, link), 0);
  return 0;
}

static int teardown(void **state)
{
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  return system(cmd) == 0 ? 0 : -1;
}

static void build(repomap_cache *c, const char *const *scope, size_t nscope, int budget,
                  repomap_result *r)
{
  repomap_request q = {.root = root, .scope = scope, .nscope = nscope, .budget_tokens = budget};
  char err[256];
  if (repomap_build(c, &q, r, err, sizeof(err))) {
    fail_msg("build failed: %s", err);
  }
}

static void the_walk_keeps_the_projects_own_source_only(void **state)
{
  repomap_cache *c = repomap_cache_new();
  repomap_result r;
  build(c, NULL, 0, 100000, &r);
  assert_int_equal(r.files_walked, 7); /* store.h store.c blob.c main.c cli.c report.py plug.lua */
  assert_null(r.bound);
  assert_non_null(strstr(r.text, "core/store.c:\n  int store_open(struct store *s, const char "
                                 "*path)\n"));
  assert_non_null(strstr(r.text, "core/store.h:\n  struct store\n"));
  assert_non_null(strstr(r.text, "tools/report.py:\n"));
  assert_non_null(strstr(r.text, "  class Report\n    def render(self, rows)\n"));
  assert_non_null(strstr(r.text, "  def make_report(rows)\n"));
  assert_non_null(strstr(r.text, "  function M.setup(opts)\n"));
  static const char *const absent[] = {
    "built_thing", "vendored_js", "vendored_c", "git_internal", "ignored_dir_fn",
    "ignored_glob_fn", "not_code", "binary_fn", "link.c",
    "store_private", "hidden", "inner", /* file-private and local definitions */
  };
  for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
    if (strstr(r.text, absent[i])) {
      fail_msg("'%s' is in the map:\n%s", absent[i], r.text);
    }
  }
  assert_int_equal(r.tokens, tokens_estimate(LANG_UNKNOWN, r.text, strlen(r.text)));
  repomap_result_free(&r);
  repomap_cache_free(c);
}

static void names_the_scope_uses_rank_first_then_use_across_the_project(void **state)
{
  repomap_cache *c = repomap_cache_new();
  repomap_result all;
  build(c, NULL, 0, 100000, &all);
  /* A budget for about one definition: from app/cli.c, the one it calls. */
  const char *const scope[] = {"app/cli.c"};
  repomap_result r;
  build(c, scope, 1, 20, &r);
  assert_int_equal(r.defs_shown, 1);
  assert_string_equal(r.text, "core/store.c:\n  void store_close(struct store *s)\n");
  assert_true(r.tokens <= 20);
  repomap_result_free(&r);
  /* With no scope, the definitions two files use beat the ones nobody uses. */
  build(c, NULL, 0, 20, &r);
  assert_int_equal(r.defs_shown, 1);
  assert_true(strstr(r.text, "store_close") || strstr(r.text, "struct store"));
  repomap_result_free(&r);
  build(c, NULL, 0, 40, &r);
  assert_non_null(strstr(r.text, "store_open"));
  assert_null(strstr(r.text, "store_unused"));
  assert_true(r.tokens <= 40 && r.tokens < all.tokens);
  repomap_result_free(&r);
  /* The scope's own definitions are sent whole, so the map leaves them out. */
  build(c, scope, 1, 100000, &r);
  assert_null(strstr(r.text, "cli_run"));
  assert_non_null(strstr(all.text, "cli_run"));
  repomap_result_free(&r);
  repomap_result_free(&all);
  repomap_cache_free(c);
}

static void a_use_reaches_only_definitions_in_a_related_language(void **state)
{
  put("tools/shim.py", "def store_close(handle):\n    pass\n");
  put("web/app.ts", "export function store_close(h: number): void {}\n");
  repomap_cache *c = repomap_cache_new();
  const char *const scope[] = {"app/cli.c"};
  repomap_result r;
  build(c, scope, 1, 20, &r);
  assert_string_equal(r.text, "core/store.c:\n  void store_close(struct store *s)\n");
  repomap_result_free(&r);
  /* A bare mention is a use of a type, not of a function: `s` in cli.c is no use of this. */
  put("lib/s.c", "int s(void)\n{\n  return 0;\n}\n");
  build(c, scope, 1, 100000, &r);
  assert_non_null(strstr(r.text, "int s(void)"));
  repomap_result_free(&r);
  build(c, scope, 1, 20, &r);
  assert_null(strstr(r.text, "int s(void)"));
  repomap_result_free(&r);
  repomap_cache_free(c);
}

static void mentions_rank_like_scope_names(void **state)
{
  repomap_cache *c = repomap_cache_new();
  const char *const mentions[] = {"make_report"};
  repomap_request q = {.root = root, .mentions = mentions, .nmentions = 1, .budget_tokens = 12};
  repomap_result r;
  char err[256];
  assert_int_equal(repomap_build(c, &q, &r, err, sizeof(err)), 0);
  assert_string_equal(r.text, "tools/report.py:\n  def make_report(rows)\n");
  repomap_result_free(&r);
  repomap_cache_free(c);
}

/* For a planner: only what is connected to the files in scope (what they use, what calls
 * into them) and what the mentions name, however much budget is left. */
static void a_connected_only_map_leaves_unrelated_files_out(void **state)
{
  repomap_cache *c = repomap_cache_new();
  const char *const scope[] = {"core/store.c"};
  repomap_request q = {.root = root, .scope = scope, .nscope = 1, .budget_tokens = 100000,
                       .connected_only = 1};
  repomap_result r;
  char err[256];
  assert_int_equal(repomap_build(c, &q, &r, err, sizeof(err)), 0);
  assert_non_null(strstr(r.text, "core/store.h:\n  struct store\n")); /* what it uses */
  assert_non_null(strstr(r.text, "app/main.c:\n"));                   /* its callers */
  assert_non_null(strstr(r.text, "app/cli.c:\n  void cli_run(void *s)\n"));
  assert_null(strstr(r.text, "report.py"));
  assert_null(strstr(r.text, "plug.lua"));
  assert_null(strstr(r.text, "store_open")); /* the scope's own, sent whole */
  repomap_result_free(&r);
  /* a mention brings its definition in from a file nothing connects */
  put("lib/extra.c", "int extra_fn(int x)\n{\n  return x;\n}\n"
                     "int extra_other(int x)\n{\n  return -x;\n}\n");
  const char *const mentions[] = {"extra_fn"};
  q.mentions = mentions;
  q.nmentions = 1;
  assert_int_equal(repomap_build(c, &q, &r, err, sizeof(err)), 0);
  assert_non_null(strstr(r.text, "lib/extra.c:\n  int extra_fn(int x)\n"));
  assert_null(strstr(r.text, "extra_other"));
  assert_null(strstr(r.text, "plug.lua"));
  repomap_result_free(&r);
  /* the same request without the flag shows the whole project */
  q.connected_only = 0;
  assert_int_equal(repomap_build(c, &q, &r, err, sizeof(err)), 0);
  assert_non_null(strstr(r.text, "plug.lua"));
  repomap_result_free(&r);
  repomap_cache_free(c);
}

static void unchanged_files_come_from_the_cache(void **state)
{
  repomap_cache *c = repomap_cache_new();
  repomap_result a, b;
  build(c, NULL, 0, 100000, &a);
  assert_int_equal(a.files_scanned, 7);
  assert_int_equal(a.files_cached, 0);
  build(c, NULL, 0, 100000, &b);
  assert_int_equal(b.files_scanned, 0);
  assert_int_equal(b.files_cached, 7);
  assert_string_equal(a.text, b.text);
  repomap_result_free(&b);
  /* A changed file is scanned again; a deleted one leaves the map. */
  put("app/cli.c", "void cli_run(void)\n{\n}\nvoid cli_help(int verbose)\n{\n}\n");
  char path[256];
  snprintf(path, sizeof(path), "%s/tools/report.py", root);
  unlink(path);
  build(c, NULL, 0, 100000, &b);
  assert_int_equal(b.files_scanned, 1);
  assert_int_equal(b.files_cached, 5);
  assert_non_null(strstr(b.text, "void cli_help(int verbose)"));
  assert_null(strstr(b.text, "make_report"));
  repomap_result_free(&a);
  repomap_result_free(&b);
  repomap_cache_free(c);
}

static void bounds_are_reported_when_hit(void **state)
{
  repomap_cache *c = repomap_cache_new();
  repomap_request q = {.root = root, .budget_tokens = 100000, .limits = {.max_files = 2}};
  repomap_result r;
  char err[256];
  assert_int_equal(repomap_build(c, &q, &r, err, sizeof(err)), 0);
  assert_int_equal(r.files_walked, 2);
  assert_string_equal(r.bound, "2 files");
  repomap_result_free(&r);
  q.limits = (repomap_limits){.max_depth = 1};
  put("a/b/deep.c", "int deep_fn(void)\n{\n  return 0;\n}\n");
  assert_int_equal(repomap_build(c, &q, &r, err, sizeof(err)), 0);
  assert_string_equal(r.bound, "depth 1");
  assert_null(strstr(r.text, "deep_fn"));
  assert_non_null(strstr(r.text, "store_open"));
  repomap_result_free(&r);
  q.limits = (repomap_limits){0};
  assert_int_equal(repomap_build(c, &q, &r, err, sizeof(err)), 0);
  assert_null(r.bound);
  assert_non_null(strstr(r.text, "a/b/deep.c:\n  int deep_fn(void)\n"));
  repomap_result_free(&r);
  q.root = "/nonexistent/frugal";
  assert_int_equal(repomap_build(c, &q, &r, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "/nonexistent/frugal"));
  repomap_cache_free(c);
}

static void a_scope_file_left_out_by_the_budget_is_carried_by_the_map(void **state)
{
  char cli[256], main_c[256], cwd[4096];
  snprintf(cli, sizeof(cli), "%s/app/cli.c", root);
  snprintf(main_c, sizeof(main_c), "%s/app/main.c", root);
  assert_non_null(getcwd(cwd, sizeof(cwd)));
  /* main.c went into the package whole, cli.c did not fit */
  pkg_result pkg;
  memset(&pkg, 0, sizeof(pkg));
  pkg.items = calloc(1, sizeof(pkg_item));
  pkg.items[0] = (pkg_item){.kind = ITEM_FILE, .tokens = 30, .label = strdup(main_c),
                            .text = strdup("")};
  pkg.nitems = 1;
  pkg.tokens = 30;
  const char *const files[] = {main_c, cli};
  snprintf(cwd, sizeof(cwd), "%s/core/store.c", root);
  assert_int_equal(repomap_package_add(NULL, "refactor-files", cwd, files, 2, NULL, 100000, &pkg), 1);
  assert_int_equal(pkg.nitems, 2);
  const pkg_item *m = &pkg.items[1];
  assert_int_equal(m->kind, ITEM_REPO_MAP);
  assert_non_null(strstr(m->text, "app/cli.c:\n  void cli_run(void *s)\n"));
  assert_null(strstr(m->text, "int main(void)"));   /* sent whole */
  assert_null(strstr(m->text, "store_open")); /* the file at the cursor: sent whole */
  assert_int_equal(pkg.tokens, 30 + m->tokens);
  assert_int_equal(m->tokens, tokens_estimate(LANG_UNKNOWN, m->text, strlen(m->text)));
  pkg_result_free(&pkg);
  /* the first definition in a small budget is the left-out file's, before what main.c calls */
  repomap_cache *c = repomap_cache_new();
  const unsigned char sent[] = {1, 0};
  repomap_request q = {.root = root, .scope = files, .nscope = 2, .sent = sent,
                       .budget_tokens = 20};
  repomap_result r;
  char err[256];
  assert_int_equal(repomap_build(c, &q, &r, err, sizeof(err)), 0);
  assert_string_equal(r.text, "app/cli.c:\n  void cli_run(void *s)\n");
  repomap_result_free(&r);
  repomap_cache_free(c);
  /* single-function actions get none; no room left is counted as dropped */
  memset(&pkg, 0, sizeof(pkg));
  assert_int_equal(repomap_package_add(NULL, "fix", main_c, NULL, 0, NULL, 0, &pkg), 0);
  assert_int_equal(pkg.nitems, 0);
  pkg.tokens = 4000;
  assert_int_equal(repomap_package_add(NULL, "design", main_c, NULL, 0, NULL, 4050, &pkg), 0);
  assert_int_equal(pkg.dropped, 1);
  assert_int_equal(pkg.nitems, 0);
}

static void the_file_cache_carries_scans_to_the_next_process(void **state)
{
  char store[256];
  snprintf(store, sizeof(store), "%s/cache.bin", root);
  repomap_cache *a = repomap_cache_new();
  repomap_result r1, r2;
  build(a, NULL, 0, 100000, &r1);
  char err[256];
  assert_int_equal(repomap_cache_save(a, store, err, sizeof(err)), 0);
  repomap_cache_free(a);

  repomap_cache *b = repomap_cache_new();
  assert_int_equal(repomap_cache_load(b, store, err, sizeof(err)), 0);
  build(b, NULL, 0, 100000, &r2);
  assert_int_equal(r2.files_scanned, 0);
  assert_int_equal(r2.files_cached, 7);
  assert_string_equal(r1.text, r2.text);
  repomap_result_free(&r2);
  /* the ranking needs the loaded uses sorted again: a scope still ranks the same */
  const char *const scope[] = {"app/cli.c"};
  build(b, scope, 1, 20, &r2);
  assert_string_equal(r2.text, "core/store.c:\n  void store_close(struct store *s)\n");
  repomap_result_free(&r2);
  repomap_cache_free(b);

  /* every damaged file is refused and leaves the cache as it was */
  FILE *f = fopen(store, "rb");
  assert_non_null(f);
  static char data[1 << 16];
  size_t n = fread(data, 1, sizeof(data), f);
  fclose(f);
  assert_true(n > 100 && n < sizeof(data));
  char bad[256];
  snprintf(bad, sizeof(bad), "%s/bad.bin", root);
  size_t cuts[] = {0, 7, 20, n / 2, n - 1};
  for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
    f = fopen(bad, "wb");
    fwrite(data, 1, cuts[i], f);
    fclose(f);
    b = repomap_cache_new();
    assert_int_equal(repomap_cache_load(b, bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad.bin"));
    build(b, NULL, 0, 100000, &r2);
    assert_int_equal(r2.files_scanned, 7);
    assert_string_equal(r1.text, r2.text);
    repomap_result_free(&r2);
    repomap_cache_free(b);
  }
  data[12] ^= 0x7f; /* the format version */
  f = fopen(bad, "wb");
  fwrite(data, 1, n, f);
  fclose(f);
  b = repomap_cache_new();
  assert_int_equal(repomap_cache_load(b, bad, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "another version"));
  repomap_cache_free(b);
  assert_int_equal(repomap_cache_load(b = repomap_cache_new(), "/nonexistent/x", err,
                                      sizeof(err)), -1);
  repomap_cache_free(b);
  repomap_result_free(&r1);

  /* where it lives: under the state directory, one file per project */
  char p1[512], p2[512];
  setenv("XDG_STATE_HOME", "/tmp/frugal-state-test", 1);
  assert_int_equal(repomap_cache_path("/src/a", p1, sizeof(p1)), 0);
  assert_int_equal(repomap_cache_path("/src/b", p2, sizeof(p2)), 0);
  assert_int_equal(strncmp(p1, "/tmp/frugal-state-test/", 23), 0);
  assert_non_null(strstr(p1, "/frugal/repomap/"));
  assert_string_not_equal(p1, p2);
}

static void an_outline_keeps_signatures_types_and_docs_with_their_lines(void **state)
{
  const char *c = "/* util: small helpers. */\n"
                  "#include <stdio.h>\n"
                  "\n"
                  "#define LIMIT 8\n"
                  "struct pair {\n"
                  "  int a, b;\n"
                  "};\n"
                  "\n"
                  "/* Adds. */\n"
                  "int add(int a, int b)\n"
                  "{\n"
                  "  int s = a + b;\n"
                  "  return s;\n"
                  "}\n"
                  "\n"
                  "int twice(int a)\n"
                  "{\n"
                  "  return add(a, a);\n"
                  "}\n";
  text_t t;
  assert_int_equal(text_init(&t, c, strlen(c)), 0);
  buf_t b = BUF_INIT;
  int tokens = repomap_outline(LANG_C, &t, NULL, &b);
  assert_string_equal(b.data, " 1| /* util: small helpers. */\n"
                              " 2| #include <stdio.h>\n"
                              " 4| #define LIMIT 8\n"
                              " 5| struct pair {\n"
                              " 6|   int a, b;\n"
                              " 7| };\n"
                              " 9| /* Adds. */\n"
                              "10| int add(int a, int b)\n"
                              "11| {\n"
                              "  | ...\n"
                              "14| }\n"
                              "16| int twice(int a)\n"
                              "17| {\n"
                              "  | ...\n"
                              "19| }\n");
  assert_int_equal(tokens, tokens_estimate(LANG_C, b.data, b.len));
  /* the function the goal names is kept whole */
  buf_clear(&b);
  const char *const names[] = {"twice"};
  repomap_outline_opts o = {.keep_whole = names, .nkeep = 1};
  repomap_outline(LANG_C, &t, &o, &b);
  assert_non_null(strstr(b.data, "17| {\n18|   return add(a, a);\n19| }\n"));
  assert_null(strstr(b.data, "return s;"));
  buf_free(&b);
  text_free(&t);

  const char *py = "import os\n"
                   "\n"
                   "class Store:\n"
                   "    \"\"\"Keeps rows.\n"
                   "    More text.\"\"\"\n"
                   "    def put(self, row):\n"
                   "        self.rows.append(row)\n";
  assert_int_equal(text_init(&t, py, strlen(py)), 0);
  repomap_outline(LANG_PYTHON, &t, NULL, &b);
  assert_string_equal(b.data, "1| import os\n"
                              "3| class Store:\n"
                              "4|     \"\"\"Keeps rows.\n"
                              " | ...\n"
                              "6|     def put(self, row):\n"
                              " | ...\n");
  buf_free(&b);
  /* a class the goal names keeps its members' signatures; a method it names goes whole */
  const char *store[] = {"Store"}, *put[] = {"put"};
  repomap_outline_opts by_class = {.keep_whole = store, .nkeep = 1};
  repomap_outline(LANG_PYTHON, &t, &by_class, &b);
  assert_non_null(strstr(b.data, "6|     def put(self, row):\n | ...\n"));
  buf_free(&b);
  repomap_outline_opts by_method = {.keep_whole = put, .nkeep = 1};
  repomap_outline(LANG_PYTHON, &t, &by_method, &b);
  assert_non_null(strstr(b.data, "7|         self.rows.append(row)\n"));
  buf_free(&b);
  text_free(&t);
}

typedef struct {
  int calls;
  int status;
  char text[4096];
} async_seen;

static void on_done(int status, repomap_result *r, const char *err, void *data)
{
  async_seen *s = data;
  s->calls++;
  s->status = status;
  if (r) {
    snprintf(s->text, sizeof(s->text), "%s", r->text);
    repomap_result_free(r);
    free(r);
  } else {
    snprintf(s->text, sizeof(s->text), "%s", err);
  }
}

static void the_async_build_runs_off_the_loop_and_reports_once(void **state)
{
  uv_loop_t loop;
  uv_loop_init(&loop);
  repomap_cache *c = repomap_cache_new();
  char scope0[64];
  strcpy(scope0, "app/cli.c");
  const char *scope[] = {scope0};
  repomap_request q = {.root = root, .scope = scope, .nscope = 1, .budget_tokens = 20};
  async_seen seen = {0};
  assert_int_equal(repomap_build_async(&loop, c, &q, on_done, &seen), 0);
  strcpy(scope0, "changed"); /* the request was copied */
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(seen.calls, 1);
  assert_int_equal(seen.status, 0);
  assert_string_equal(seen.text, "core/store.c:\n  void store_close(struct store *s)\n");
  q.root = "/nonexistent/frugal";
  assert_int_equal(repomap_build_async(&loop, c, &q, on_done, &seen), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(seen.calls, 2);
  assert_int_equal(seen.status, -1);
  assert_non_null(strstr(seen.text, "nonexistent"));
  repomap_cache_free(c);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void the_item_and_the_project_root(void **state)
{
  repomap_cache *c = repomap_cache_new();
  repomap_result r;
  build(c, NULL, 0, 100000, &r);
  json_t *j = repomap_item_json(&r, 1);
  assert_string_equal(json_string_value(json_object_get(j, "kind")), "repo_map");
  assert_int_equal(json_integer_value(json_object_get(j, "tokens")), r.tokens);
  assert_int_equal(json_integer_value(json_object_get(j, "files")), 7);
  assert_string_equal(json_string_value(json_object_get(j, "text")), r.text);
  assert_true(json_is_null(json_object_get(j, "bound")));
  json_decref(j);
  repomap_result_free(&r);
  repomap_cache_free(c);

  char path[256], *real = realpath(root, NULL);
  snprintf(path, sizeof(path), "%s/app/main.c", root);
  char *p = repomap_project_root(path);
  assert_string_equal(p, real); /* root holds .git */
  free(p);
  snprintf(path, sizeof(path), "%s/.git", root);
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
  assert_int_equal(system(cmd), 0);
  snprintf(path, sizeof(path), "%s/app/main.c", root);
  p = repomap_project_root(path);
  snprintf(path, sizeof(path), "%s/app", real);
  if (strncmp(p, "/tmp/", 5) == 0) {
    /* no repository above /tmp on this machine, nor is it in the test's current directory:
       the file's directory */
    assert_string_equal(p, path);
  }
  free(p);
  /* inside the current directory: that directory */
  char cwd[4096];
  assert_non_null(getcwd(cwd, sizeof(cwd)));
  assert_int_equal(chdir(root), 0);
  snprintf(path, sizeof(path), "%s/app/main.c", root);
  p = repomap_project_root(path);
  assert_string_equal(p, real);
  free(p);
  assert_int_equal(chdir(cwd), 0);
  free(real);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(the_walk_keeps_the_projects_own_source_only, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(names_the_scope_uses_rank_first_then_use_across_the_project,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(a_use_reaches_only_definitions_in_a_related_language, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(mentions_rank_like_scope_names, setup, teardown),
    cmocka_unit_test_setup_teardown(a_connected_only_map_leaves_unrelated_files_out, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(unchanged_files_come_from_the_cache, setup, teardown),
    cmocka_unit_test_setup_teardown(bounds_are_reported_when_hit, setup, teardown),
    cmocka_unit_test_setup_teardown(a_scope_file_left_out_by_the_budget_is_carried_by_the_map,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(the_file_cache_carries_scans_to_the_next_process, setup,
                                    teardown),
    cmocka_unit_test(an_outline_keeps_signatures_types_and_docs_with_their_lines),
    cmocka_unit_test_setup_teardown(the_async_build_runs_off_the_loop_and_reports_once, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(the_item_and_the_project_root, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
