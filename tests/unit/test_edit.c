/* SEARCH/REPLACE blocks: the parser's every malformed shape, the matcher (exact, loose, refused)
 * and the all-or-nothing writer, including a failure in the middle of writing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edit/apply.h"
#include "edit/blocks.h"

#define S "<<<<<<< SEARCH\n"
#define D "=======\n"
#define R ">>>>>>> REPLACE\n"
#define F "```\n"

static char err[512];

static void parse_ok(const char *answer, edit_blocks *b)
{
  err[0] = '\0';
  int rc = edit_blocks_parse(answer, strlen(answer), b, err, sizeof(err));
  if (rc != 0) {
    fail_msg("unexpected parse error: %s", err);
  }
}

/* Parsing fails and the message holds every one of the `want` fragments. */
static void parse_fails(const char *answer, const char *want1, const char *want2)
{
  edit_blocks b;
  err[0] = '\0';
  assert_int_equal(edit_blocks_parse(answer, strlen(answer), &b, err, sizeof(err)), -1);
  assert_int_equal(b.n, 0);
  if (!strstr(err, want1) || (want2 && !strstr(err, want2))) {
    fail_msg("message '%s' lacks '%s' / '%s'", err, want1, want2 ? want2 : "");
  }
}

static void blocks_of_several_files_are_read_in_order(void **state)
{
  const char *a = "Here are the edits.\n\n"
                  "src/a.c\n```c\n" S "int x;\n" D "int y;\n" R "\n" S "old\n" D R F
                  "\nThen the header:\n\n**include/b.h**\n" F S "b\n" D "c\nd\n" R F
                  "new/file.py\n" F S D "print(1)\n" R F;
  edit_blocks b;
  parse_ok(a, &b);
  assert_int_equal(b.n, 4);
  assert_string_equal(b.v[0].path, "src/a.c");
  assert_string_equal(b.v[0].search, "int x;\n");
  assert_string_equal(b.v[0].replace, "int y;\n");
  assert_int_equal(b.v[0].line, 5);
  assert_string_equal(b.v[1].path, "src/a.c");
  assert_string_equal(b.v[1].replace, "");
  assert_int_equal(b.v[1].replace_lines, 0);
  assert_string_equal(b.v[2].path, "include/b.h");
  assert_int_equal(b.v[2].replace_lines, 2);
  assert_string_equal(b.v[3].path, "new/file.py");
  assert_int_equal(b.v[3].search_len, 0);
  for (size_t i = 0; i < b.n; i++) {
    assert_int_equal(b.v[i].number, (int)i + 1);
  }
  edit_blocks_free(&b);
}

static void the_path_may_be_the_fences_first_line(void **state)
{
  edit_blocks b;
  parse_ok("Changes:\n```python\nlib/x.py\n" S "a\n" D "b\n" R F, &b);
  assert_int_equal(b.n, 1);
  assert_string_equal(b.v[0].path, "lib/x.py");
  edit_blocks_free(&b);
  /* Written in both places. */
  parse_ok("`lib/x.py`:\n```python\nlib/x.py\n" S "a\n" D "b\n" R F, &b);
  assert_string_equal(b.v[0].path, "lib/x.py");
  edit_blocks_free(&b);
}

static void block_content_may_hold_fences_and_conflict_like_lines(void **state)
{
  edit_blocks b;
  parse_ok("README.md\n" F S "```sh\nmake\n```\n" D "```sh\nmake test\n```\n" R F, &b);
  assert_string_equal(b.v[0].search, "```sh\nmake\n```\n");
  assert_string_equal(b.v[0].replace, "```sh\nmake test\n```\n");
  edit_blocks_free(&b);
  parse_ok("a.txt\n" F S "<<<<<<< HEAD\n" D "========\n" R F, &b);
  assert_string_equal(b.v[0].search, "<<<<<<< HEAD\n");
  assert_string_equal(b.v[0].replace, "========\n");
  edit_blocks_free(&b);
}

static void a_last_line_without_newline_still_counts(void **state)
{
  edit_blocks b;
  parse_ok("a.c\n" F S "x\n" D "y\n" R "```", &b);
  assert_int_equal(b.n, 1);
  edit_blocks_free(&b);
}

static void every_malformed_shape_is_named(void **state)
{
  parse_fails("", "no SEARCH/REPLACE blocks", NULL);
  parse_fails("Just prose, no edits.\n", "no SEARCH/REPLACE blocks", NULL);
  /* unterminated block */
  parse_fails("a.c\n" F S "x\n" D "y\n", "block 1 (a.c) is not closed", NULL);
  parse_fails("a.c\n" F S "x\n", "block 1 (a.c) is not closed", NULL);
  /* missing divider */
  parse_fails("a.c\n" F S "x\n" R F, "block 1 (a.c)", "missing '======='");
  /* duplicate markers */
  parse_fails("a.c\n" F S "x\n" D "y\n" D "z\n" R F, "block 1 (a.c)", "a second '======='");
  parse_fails("a.c\n" F S "x\n" S "y\n" D R F, "block 1 (a.c)", "a second '<<<<<<< SEARCH'");
  parse_fails("a.c\n" F S "x\n" D "y\n" S D R F, "block 1 (a.c)", "not closed with");
  /* markers outside a block */
  parse_fails("a.c\n" F D "y\n" R F, "outside a block", "a.c");
  parse_fails("a.c\n" F R F, "outside a block", NULL);
  parse_fails("a.c\n" S "x\n" D "y\n" R, "block 1", "outside a fenced block");
  /* path missing */
  parse_fails(F S "x\n" D "y\n" R F, "block 1", "path missing");
  parse_fails("Here is the change:\n" F S "x\n" D "y\n" R F, "block 1", "path missing");
  parse_fails("a.c\n" F S "x\n" D "y\n" R F F S "p\n" D "q\n" R F, "block 2", "path missing");
  /* a fence without blocks */
  parse_fails("a.c\n" F "int main(void) {}\n" F, "holds no SEARCH/REPLACE block", "a.c");
  parse_fails("a.c\n" F S "x\n" D R F "b.c\n" F F, "answer line 9", "holds no");
  /* a fence left open */
  parse_fails("a.c\n" F S "x\n" D "y\n" R, "fence opened at answer line 2 (a.c) is not closed",
              NULL);
  /* CRLF */
  parse_fails("a.c\r\n```\r\n" S "x\n" D R F, "carriage return", "answer line 2");
  parse_fails("a.c\n" F S "x\r\n" D R F, "block 1 (a.c): carriage return", "answer line 4");
  /* trailing text */
  parse_fails("a.c\n" F S "x\n" D "y\n" ">>>>>>> REPLACE please\n" F, "block 1 (a.c)",
              "text after '>>>>>>> REPLACE'");
  parse_fails("a.c\n" F "<<<<<<< SEARCH old\n" "x\n" D R F, "block 1 (a.c)",
              "text after '<<<<<<< SEARCH'");
  parse_fails("a.c\n" F S "x\n" D "y\n" R "trailing words\n" F, "block 1 (a.c)",
              "text after the last block");
  parse_fails("a.c\n" F S "x\n" D R "stray\n" S "y\n" D R F, "block 2 (a.c)",
              "text between blocks");
  parse_fails("a.c\n" F "some code\n" S "x\n" D R F, "block 1 (a.c)", "before the first block");
  /* NUL */
  edit_blocks b;
  const char nul[] = "a.c\n```\n" S "x\0y\n" D R F;
  assert_int_equal(edit_blocks_parse(nul, sizeof(nul) - 1, &b, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "NUL"));
}

static void format_then_parse_gives_the_same_blocks(void **state)
{
  edit_blocks a, b;
  parse_ok("x/y.c\n" F S "1\n2\n" D R F "z.md\n" F S D "```\n# t\n" R F, &a);
  buf_t out = BUF_INIT;
  edit_blocks_format(&a, &out);
  parse_ok(out.data, &b);
  assert_int_equal(a.n, b.n);
  for (size_t i = 0; i < a.n; i++) {
    assert_string_equal(a.v[i].path, b.v[i].path);
    assert_string_equal(a.v[i].search, b.v[i].search);
    assert_string_equal(a.v[i].replace, b.v[i].replace);
  }
  buf_free(&out);
  edit_blocks_free(&a);
  edit_blocks_free(&b);
}

static void the_rules_example_is_what_the_parser_accepts(void **state)
{
  const char *rules = edit_blocks_rules();
  const char *example = strstr(rules, "Example:\n");
  assert_non_null(example);
  edit_blocks b;
  parse_ok(example + strlen("Example:\n"), &b);
  assert_int_equal(b.n, 2);
  assert_string_equal(b.v[0].path, "src/stack.c");
  assert_int_equal(b.v[0].search_lines, 3);
  assert_int_equal(b.v[0].replace_lines, 6);
  assert_string_equal(b.v[1].path, "src/stack.h");
  edit_blocks_free(&b);
}

/* ---- matcher ---- */

static int match(const char *answer, const edit_source *src, size_t n, edit_proposal *p)
{
  edit_blocks b;
  parse_ok(answer, &b);
  err[0] = '\0';
  int rc = edit_match(&b, src, n, p, err, sizeof(err));
  edit_blocks_free(&b);
  return rc;
}

#define SRC(p, t) {p, t, sizeof(t) - 1}

static void exact_matches_become_edits_in_the_sent_lines(void **state)
{
  edit_source src[] = {SRC("a.c", "one\ntwo\nthree\nfour\n"), SRC("b.c", "x\ny\n")};
  edit_proposal p;
  assert_int_equal(match("b.c\n" F S "y\n" D "why\n" R F "a.c\n" F S "three\n" D "3\n3b\n" R
                         "\n" S "one\n" D R F,
                         src, 2, &p),
                   0);
  assert_int_equal(p.nfiles, 2);
  assert_string_equal(p.files[0].path, "b.c");
  assert_string_equal(p.files[0].text, "x\nwhy\n");
  edit_file *a = &p.files[1];
  assert_false(a->is_new);
  assert_int_equal(a->nedits, 2);
  assert_int_equal(a->edits[0].start_line, 1); /* sorted by line, not block order */
  assert_int_equal(a->edits[0].end_line, 1);
  assert_string_equal(a->edits[0].replacement, "");
  assert_int_equal(a->edits[1].start_line, 3);
  assert_int_equal(a->edits[1].end_line, 3);
  assert_string_equal(a->edits[1].replacement, "3\n3b\n");
  assert_string_equal(a->text, "two\n3\n3b\nfour\n");
  assert_string_equal(p.notes, "");

  json_t *j = edit_proposal_json(&p);
  char *s = json_dumps(j, JSON_COMPACT);
  assert_string_equal(s, "[{\"path\":\"b.c\",\"new\":false,\"edits\":[{\"start_line\":2,"
                         "\"end_line\":2,\"replacement\":\"why\\n\"}]},{\"path\":\"a.c\","
                         "\"new\":false,\"edits\":[{\"start_line\":1,\"end_line\":1,"
                         "\"replacement\":\"\"},{\"start_line\":3,\"end_line\":3,"
                         "\"replacement\":\"3\\n3b\\n\"}]}]");
  free(s);
  json_decref(j);
  edit_proposal_free(&p);
}

static void a_whitespace_tolerant_match_says_so_and_reindents(void **state)
{
  edit_source src[] = {SRC("m.py", "class A:\n    def f(self):\n        return  1\n")};
  edit_proposal p;
  assert_int_equal(match("m.py\n" F S "def f(self):\n    return 1\n" D
                         "def f(self):\n    return 2\n" R F,
                         src, 1, &p),
                   0);
  assert_int_equal(p.files[0].edits[0].start_line, 2);
  assert_int_equal(p.files[0].edits[0].end_line, 3);
  assert_true(p.files[0].edits[0].loose);
  assert_string_equal(p.files[0].text, "class A:\n    def f(self):\n        return 2\n");
  assert_non_null(strstr(p.notes, "block 1 (m.py): matched lines 2-3 ignoring blanks"));
  assert_non_null(strstr(p.notes, "re-indented"));
  edit_proposal_free(&p);
}

static void ambiguous_or_missing_matches_refuse_the_whole_proposal(void **state)
{
  edit_source src[] = {SRC("a.c", "x = 1;\ny = 2;\nx = 1;\n"), SRC("b.c", "ok\n")};
  edit_proposal p;
  assert_int_equal(match("b.c\n" F S "ok\n" D "fine\n" R F "a.c\n" F S "x = 1;\n" D "z\n" R F,
                         src, 2, &p),
                   -1);
  assert_non_null(strstr(err, "block 2 (a.c)"));
  assert_non_null(strstr(err, "match 2 places"));
  assert_non_null(strstr(err, "lines 1, 3"));
  assert_int_equal(p.nfiles, 0);
  assert_int_equal(match("b.c\n" F S "ok\n" D "fine\n" R F "a.c\n" F S "w = 0;\n" D "z\n" R F,
                         src, 2, &p),
                   -1);
  assert_non_null(strstr(err, "block 2 (a.c): the SEARCH lines do not match"));
  /* loose matching that is ambiguous is refused too */
  assert_int_equal(match("a.c\n" F S "x  =  1;\n" D "z\n" R F, src, 2, &p), -1);
  assert_non_null(strstr(err, "ignoring blanks"));
  /* two blocks on the same lines */
  assert_int_equal(match("a.c\n" F S "y = 2;\n" D "q\n" R S "y = 2;\nx = 1;\n" D R F, src, 2,
                         &p),
                   -1);
  assert_non_null(strstr(err, "blocks 1 and 2 (a.c) change the same lines"));
  /* a file that was not sent */
  assert_int_equal(match("c.c\n" F S "ok\n" D "x\n" R F, src, 2, &p), -1);
  assert_non_null(strstr(err, "block 1 (c.c): this file was not sent"));
}

static void new_files_and_their_limits(void **state)
{
  edit_source src[] = {SRC("a.c", "x\n"), SRC("empty.c", ""), {"gone.c", NULL, 0}};
  edit_proposal p;
  assert_int_equal(match("dir/n.c\n" F S D "int n;\n" R S D "int m;\n" R F "empty.c\n" F S D
                         "first\n" R F "./gone.c\n" F S D "back\n" R F,
                         src, 3, &p),
                   0);
  if (p.nfiles != 3) {
    fail_msg("%s", err);
  }
  assert_true(p.files[0].is_new);
  assert_int_equal(p.files[0].source, -1);
  assert_int_equal(p.files[0].nedits, 1);
  assert_int_equal(p.files[0].edits[0].start_line, 1);
  assert_int_equal(p.files[0].edits[0].end_line, 0);
  assert_string_equal(p.files[0].text, "int n;\nint m;\n");
  assert_false(p.files[1].is_new);
  assert_string_equal(p.files[1].text, "first\n");
  assert_true(p.files[2].is_new);
  assert_int_equal(p.files[2].source, -1);
  edit_proposal_free(&p);

  assert_int_equal(match("a.c\n" F S D "again\n" R F, src, 3, &p), -1);
  assert_non_null(strstr(err, "block 1 (a.c): an empty SEARCH creates a new file, but"));
  assert_int_equal(match("../up.c\n" F S D "x\n" R F, src, 3, &p), -1);
  assert_non_null(strstr(err, "inside the project"));
  assert_int_equal(match("/etc/x\n" F S D "x\n" R F, src, 3, &p), -1);
  assert_int_equal(match("gone.c\n" F S "x\n" D "y\n" R F, src, 3, &p), -1);
  assert_non_null(strstr(err, "did not exist"));
}

static void line_ends_and_a_missing_final_newline_are_kept(void **state)
{
  edit_source src[] = {SRC("w.c", "a\r\nb\r\nc\r\n"), SRC("n.c", "a\nb")};
  edit_proposal p;
  assert_int_equal(match("w.c\n" F S "b\n" D "B\nB2\n" R F "n.c\n" F S "b\n" D "B\n" R F, src,
                         2, &p),
                   0);
  assert_string_equal(p.files[0].text, "a\r\nB\r\nB2\r\nc\r\n");
  assert_string_equal(p.files[0].edits[0].replacement, "B\nB2\n");
  assert_string_equal(p.files[1].text, "a\nB");
  edit_proposal_free(&p);
}

/* ---- writer ---- */

static char dir[64];

static void write_file(const char *name, const char *s)
{
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(s, f);
  fclose(f);
}

static char *read_back(const char *name)
{
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    return NULL;
  }
  static char data[4096];
  size_t n = fread(data, 1, sizeof(data) - 1, f);
  data[n] = '\0';
  fclose(f);
  return data;
}

static int entries(const char *sub)
{
  char path[256];
  snprintf(path, sizeof(path), "%s%s%s", dir, sub ? "/" : "", sub ? sub : "");
  DIR *d = opendir(path);
  if (!d) {
    return -1;
  }
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  }
  closedir(d);
  return n;
}

static int setup_dir(void **state)
{
  strcpy(dir, "/tmp/frugal-edit-XXXXXX");
  assert_non_null(mkdtemp(dir));
  write_file("a.c", "a1\na2\n");
  write_file("b.c", "b1\nb2\n");
  write_file("c.c", "c1\nc2\n");
  return 0;
}

static int teardown_dir(void **state)
{
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const edit_source three[] = {SRC("a.c", "a1\na2\n"), SRC("b.c", "b1\nb2\n"),
                                    SRC("c.c", "c1\nc2\n")};
static const char *three_edits = "a.c\n" F S "a2\n" D "A2\n" R F "b.c\n" F S "b1\n" D "B1\n" R F
                                 "c.c\n" F S "c2\n" D "C2\n" R F "sub/deeper/new.c\n" F S D
                                 "fresh\n" R F;

typedef struct {
  const char *step;
  const char *path;
  int calls;
} hook_plan;

static int fail_at(const char *step, const char *path, void *data)
{
  hook_plan *h = data;
  h->calls++;
  return strcmp(step, h->step) == 0 && strcmp(path, h->path) == 0;
}

static void all_files_are_written_when_all_check(void **state)
{
  edit_proposal p;
  assert_int_equal(match(three_edits, three, 3, &p), 0);
  char path[256];
  snprintf(path, sizeof(path), "%s/b.c", dir);
  chmod(path, 0600);
  edit_write_opts o = {.root = dir};
  assert_int_equal(edit_write_all(&p, three, 3, &o, err, sizeof(err)), 0);
  assert_string_equal(read_back("a.c"), "a1\nA2\n");
  assert_string_equal(read_back("b.c"), "B1\nb2\n");
  assert_string_equal(read_back("c.c"), "c1\nC2\n");
  assert_string_equal(read_back("sub/deeper/new.c"), "fresh\n");
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(entries(NULL), 4); /* no temporary or backup left behind */
  assert_int_equal(entries("sub/deeper"), 1);
  edit_proposal_free(&p);
}

static void expect_untouched(void)
{
  assert_string_equal(read_back("a.c"), "a1\na2\n");
  assert_string_equal(read_back("b.c"), "b1\nb2\n");
  assert_string_equal(read_back("c.c"), "c1\nc2\n");
  assert_null(read_back("sub/deeper/new.c"));
  assert_int_equal(entries(NULL), 3); /* not even the new directories */
}

static void a_failure_at_any_step_leaves_every_file_byte_identical(void **state)
{
  static const struct {
    const char *step, *path;
  } at[] = {
    {"temp", "c.c"},   {"write", "b.c"},  {"backup", "c.c"}, {"mkdir", "sub/deeper/new.c"},
    {"rename", "a.c"}, {"rename", "c.c"}, {"link", "sub/deeper/new.c"},
  };
  for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
    edit_proposal p;
    assert_int_equal(match(three_edits, three, 3, &p), 0);
    hook_plan h = {at[i].step, at[i].path, 0};
    edit_write_opts o = {.root = dir, .hook = fail_at, .hook_data = &h};
    assert_int_equal(edit_write_all(&p, three, 3, &o, err, sizeof(err)), -1);
    if (!strstr(err, at[i].path)) {
      fail_msg("step %s: message '%s' does not name %s", at[i].step, err, at[i].path);
    }
    assert_true(h.calls > 0);
    expect_untouched();
    edit_proposal_free(&p);
  }
}

static void a_target_changed_since_the_request_is_refused(void **state)
{
  edit_proposal p;
  assert_int_equal(match(three_edits, three, 3, &p), 0);
  write_file("c.c", "c1\nc2 edited meanwhile\n");
  edit_write_opts o = {.root = dir};
  assert_int_equal(edit_write_all(&p, three, 3, &o, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "c.c: the file changed since the request was sent"));
  assert_string_equal(read_back("a.c"), "a1\na2\n");
  assert_string_equal(read_back("b.c"), "b1\nb2\n");
  assert_string_equal(read_back("c.c"), "c1\nc2 edited meanwhile\n");
  write_file("c.c", "c1\nc2\n");
  /* and a new file that appeared meanwhile is not overwritten */
  char path[256];
  snprintf(path, sizeof(path), "%s/sub", dir);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/sub/deeper", dir);
  mkdir(path, 0755);
  write_file("sub/deeper/new.c", "someone else's\n");
  assert_int_equal(edit_write_all(&p, three, 3, &o, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "sub/deeper/new.c: the file was created since"));
  assert_string_equal(read_back("sub/deeper/new.c"), "someone else's\n");
  assert_string_equal(read_back("a.c"), "a1\na2\n");
  edit_proposal_free(&p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(blocks_of_several_files_are_read_in_order),
    cmocka_unit_test(the_path_may_be_the_fences_first_line),
    cmocka_unit_test(block_content_may_hold_fences_and_conflict_like_lines),
    cmocka_unit_test(a_last_line_without_newline_still_counts),
    cmocka_unit_test(every_malformed_shape_is_named),
    cmocka_unit_test(format_then_parse_gives_the_same_blocks),
    cmocka_unit_test(the_rules_example_is_what_the_parser_accepts),
    cmocka_unit_test(exact_matches_become_edits_in_the_sent_lines),
    cmocka_unit_test(a_whitespace_tolerant_match_says_so_and_reindents),
    cmocka_unit_test(ambiguous_or_missing_matches_refuse_the_whole_proposal),
    cmocka_unit_test(new_files_and_their_limits),
    cmocka_unit_test(line_ends_and_a_missing_final_newline_are_kept),
    cmocka_unit_test_setup_teardown(all_files_are_written_when_all_check, setup_dir,
                                    teardown_dir),
    cmocka_unit_test_setup_teardown(a_failure_at_any_step_leaves_every_file_byte_identical,
                                    setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(a_target_changed_since_the_request_is_refused, setup_dir,
                                    teardown_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
