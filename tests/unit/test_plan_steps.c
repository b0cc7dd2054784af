/* Plan steps: the line format (every malformed line named), the checks against the disk (outside
 * the project, past the end, missing files), and the plan store (round trip, atomic write,
 * damaged files refused). */
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

#include "service/plan_steps.h"
#include "service/plan_store.h"

static char err[600];

static void parse(const char *text, plan_steps *s)
{
  err[0] = '\0';
  if (plan_steps_parse(text, strlen(text), s, err, sizeof(err)) != 0) {
    fail_msg("unexpected parse error: %s", err);
  }
}

/* One line that must be refused with a problem holding `want`. */
static void bad_line(const char *line, const char *want)
{
  plan_steps s;
  parse(line, &s);
  assert_int_equal(s.count, 1);
  if (!s.steps[0].problem || !strstr(s.steps[0].problem, want)) {
    fail_msg("'%s': problem '%s', wanted '%s'", line,
             s.steps[0].problem ? s.steps[0].problem : "(none)", want);
  }
  plan_steps_free(&s);
}

static void good_lines_are_read(void **state)
{
  (void)state;
  plan_steps s;
  parse("# goal: add a cache\n"
        "\n"
        "1. implement src/cache.c:12 - Write cache_get(key): return the value or NULL.\n"
        "2) fix `src/a b.c` - x\n"
        "3. **Refactor** lib/x.py:7 -- Split parse() in two.\n"
        "- 4. tests t/test_x.py \xe2\x80\x94 Cover the empty input.\n"
        "```\n"
        "9. docs C:/odd:path.c:3 - ok\n"
        "10. explain a.c: - the trailing colon is no line\n"
        "11. fix `b.c`:4 - quoted\n"
        "12. fix b.c:: - colons\n",
        &s);
  assert_string_equal(s.goal, "add a cache");
  assert_int_equal(s.count, 8);
  assert_string_equal(s.steps[6].path, "b.c");
  assert_int_equal(s.steps[6].line, 4);
  assert_string_equal(s.steps[7].path, "b.c");
  assert_int_equal(s.steps[7].line, 0);
  plan_step *t = s.steps;
  assert_int_equal(t[0].n, 1);
  assert_string_equal(t[0].action, "implement");
  assert_string_equal(t[0].path, "src/cache.c");
  assert_int_equal(t[0].line, 12);
  assert_string_equal(t[0].instruction, "Write cache_get(key): return the value or NULL.");
  assert_null(t[0].problem);
  assert_int_equal(t[0].text_line, 3);
  /* a path with a blank is refused, not split */
  assert_non_null(t[1].problem);
  assert_string_equal(t[2].action, "refactor");
  assert_string_equal(t[2].path, "lib/x.py");
  assert_int_equal(t[2].line, 7);
  assert_string_equal(t[2].instruction, "Split parse() in two.");
  assert_string_equal(t[3].action, "tests");
  assert_int_equal(t[3].line, 0);
  assert_string_equal(t[3].instruction, "Cover the empty input.");
  /* numbers follow the order, not what was written */
  assert_int_equal(t[4].n, 5);
  assert_string_equal(t[4].path, "C:/odd:path.c");
  assert_int_equal(t[4].line, 3);
  assert_string_equal(t[5].path, "a.c");
  assert_int_equal(t[5].line, 0);
  json_t *j = plan_steps_json(&s, 0);
  assert_true(json_is_null(json_object_get(json_array_get(j, 3), "line")));
  assert_null(json_object_get(json_array_get(j, 0), "problem"));
  json_decref(j);
  plan_steps_free(&s);
}

static void every_malformed_line_is_named(void **state)
{
  (void)state;
  bad_line("fix a.c:1 - no number", "expected 'N. ACTION");
  bad_line("Here is the plan:", "expected 'N. ACTION");
  bad_line("1 fix a.c - no dot", "no 'N.' at the start");
  bad_line("12345. fix a.c - too long a number", "no 'N.'");
  bad_line("1.fix a.c - no blank", "blank after the step number");
  bad_line("1.", "nothing after the step number");
  bad_line("1. ", "nothing after the step number");
  bad_line("1. ** a.c - x", "names no action");
  bad_line("1. deploy a.c - x", "unknown action 'deploy'");
  bad_line("1. implementeverythingatoncepleaseandthankyouverymuch a.c - x", "unknown action");
  bad_line("1. fix", "names no PATH");
  bad_line("1. fix - x", "names no PATH");
  bad_line("1. fix a.c", "expected ' - ' and the instruction");
  bad_line("1. fix a.c: do it", "expected ' - ' and the instruction");
  bad_line("1. fix a.c -", "the instruction after ' - ' is empty");
  bad_line("1. fix a.c -   ", "the instruction after ' - ' is empty");
  bad_line("1. fix a.c:0 - x", "LINE must be 1 or more");
  bad_line("1. fix a.c:99999999999 - x", "LINE is too large");
  bad_line("1. fix :12 - x", "names no PATH");
  bad_line("1. fix a.c x.c - x", "must be one word");
  bad_line("1. fix -x.c - x", "must not start with '-'");
  bad_line("1. fix -: - x", "must not start with '-'");
  bad_line("1. fix `a.c\r` - x", "holds a control character");
  bad_line("1. fix a\001.c - x", "holds a control character");
}

static void a_models_prose_around_the_list_is_skipped(void **state)
{
  (void)state;
  plan_steps s;
  const char *answer = "Here is the plan:\n\n1. fix a.c:3 - x\n**Then:**\n2. docs a.c - y\n"
                       "Good luck.\n";
  assert_int_equal(plan_steps_parse_answer(answer, strlen(answer), &s, err, sizeof(err)), 0);
  assert_int_equal(s.count, 2);
  assert_null(s.steps[0].problem);
  assert_int_equal(s.steps[1].n, 2);
  assert_string_equal(s.steps[1].action, "docs");
  plan_steps_free(&s);
  /* an edited plan marks the same lines */
  parse(answer, &s);
  assert_int_equal(s.count, 5);
  assert_non_null(s.steps[0].problem);
  plan_steps_free(&s);
}

static void texts_that_are_no_plan_fail_whole(void **state)
{
  (void)state;
  plan_steps s;
  const char nul[] = "1. fix a.c - x\0y\n";
  assert_int_equal(plan_steps_parse(nul, sizeof(nul) - 1, &s, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "NUL"));
  assert_int_equal(plan_steps_parse("1. fix a.c - \xff\n", 15, &s, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "UTF-8"));
  char *many = malloc(30 * (PLAN_STEPS_MAX + 1) + 1);
  many[0] = '\0';
  for (int i = 0; i <= PLAN_STEPS_MAX; i++) {
    strcat(many, "1. fix a.c - x\n");
  }
  assert_int_equal(plan_steps_parse(many, strlen(many), &s, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "more than"));
  assert_int_equal(s.count, 0);
  free(many);
  /* an empty text is a plan without steps */
  parse("", &s);
  assert_int_equal(s.count, 0);
  plan_steps_free(&s);
}

static char root[256];

static void write_file(const char *rel, const char *text)
{
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", root, rel);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void validation_looks_at_the_disk(void **state)
{
  (void)state;
  snprintf(root, sizeof(root), "/tmp/frugal-plan-steps-%ld", (long)getpid());
  mkdir(root, 0700);
  char sub[300];
  snprintf(sub, sizeof(sub), "%s/sub", root);
  mkdir(sub, 0700);
  write_file("a.c", "int a;\nint b;\nint c;\n");
  char link[300];
  snprintf(link, sizeof(link), "%s/out.c", root);
  unlink(link);
  assert_int_equal(symlink("/etc/hostname", link), 0);
  plan_steps s;
  parse("1. fix a.c:3 - ok\n"
        "2. fix a.c:4 - past\n"
        "3. fix ../x.c - up\n"
        "4. fix /etc/hostname - absolute\n"
        "5. fix out.c - a link out\n"
        "6. fix sub - a directory\n"
        "7. fix new.c - missing\n"
        "8. implement new.c - a new file\n"
        "9. implement new2.c:2 - no line in a new file\n"
        "10. implement ../../new.c - a new file outside\n"
        "11. bogus a.c - kept\n",
        &s);
  assert_int_equal(plan_steps_validate(&s, root), 9);
  plan_step *t = s.steps;
  assert_null(t[0].problem);
  assert_string_equal(t[1].problem, "line 4 is past the end of a.c (3 lines)");
  assert_string_equal(t[2].problem, "../x.c is outside the project");
  assert_string_equal(t[3].problem, "/etc/hostname is outside the project");
  assert_string_equal(t[4].problem, "out.c is outside the project");
  assert_string_equal(t[5].problem, "sub is a directory, not a file");
  assert_non_null(strstr(t[6].problem, "new.c does not exist"));
  assert_null(t[7].problem);
  assert_string_equal(t[8].problem, "new2.c does not exist, so it has no line 2");
  assert_string_equal(t[9].problem, "../../new.c is outside the project");
  assert_non_null(strstr(t[10].problem, "unknown action"));
  plan_steps_free(&s);
  /* the editor's buffers: their lines, not the disk's; a buffer exists before it is written,
   * but never outside the project */
  parse("1. fix a.c:5 - past the disk, inside the buffer\n"
        "2. fix a.c:7 - past the buffer\n"
        "3. fix new.c:2 - a buffer not yet written\n"
        "4. fix ../x.c:1 - a buffer outside\n",
        &s);
  char abs_a[400], up[400];
  snprintf(abs_a, sizeof(abs_a), "%s/a.c", root);
  snprintf(up, sizeof(up), "%s/../x.c", root);
  const plan_known_file known[] = {{abs_a, 6}, {"new.c", 4}, {up, 9}};
  assert_int_equal(plan_steps_validate_known(&s, root, known, 3), 2);
  assert_null(s.steps[0].problem);
  assert_string_equal(s.steps[1].problem, "line 7 is past the end of a.c (6 lines)");
  assert_null(s.steps[2].problem);
  assert_string_equal(s.steps[3].problem, "../x.c is outside the project");
  plan_steps_free(&s);
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  assert_int_equal(system(cmd), 0);
}

static void the_store_round_trips_and_refuses_damage(void **state)
{
  (void)state;
  char dir[300], path[400];
  snprintf(dir, sizeof(dir), "/tmp/frugal-plan-store-%ld", (long)getpid());
  snprintf(path, sizeof(path), "%s/deep/plans/p.json", dir);
  json_t *doc = json_pack("{s:i,s:s,s:s,s:s,s:n,s:[{s:i,s:s,s:s,s:i,s:s,s:s,s:n,s:n,s:n,s:n}]}",
                          "version", 1, "root", "/r", "goal", "g", "task_id", "t-1", "planner",
                          "steps", "n", 1, "action", "fix", "path", "a.c", "line", 3,
                          "instruction", "x", "status", "applied", "tier", "model", "cost_usd",
                          "problem");
  assert_int_equal(plan_store_save(path, doc, err, sizeof(err)), 0);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  json_t *back = plan_store_load(path, err, sizeof(err));
  assert_non_null(back);
  assert_true(json_equal(doc, back));
  json_decref(back);
  /* missing: no plan, no error */
  char missing[420];
  snprintf(missing, sizeof(missing), "%s/none.json", dir);
  assert_null(plan_store_load(missing, err, sizeof(err)));
  assert_string_equal(err, "");
  /* each damage is named */
  static const struct {
    const char *text;
    const char *want;
  } bad[] = {
    {"{", "not valid JSON"},
    {"[]", "not a version 1 plan"},
    {"{\"version\":2}", "not a version 1 plan"},
    {"{\"version\":1,\"root\":\"/r\",\"steps\":[]}", "task_id"},
    {"{\"version\":1,\"root\":\"/r\",\"task_id\":\"t\"}", "no steps array"},
    {"{\"version\":1,\"root\":\"/r\",\"task_id\":\"t\",\"steps\":[1]}", "not an object"},
    {"{\"version\":1,\"root\":\"/r\",\"task_id\":\"t\",\"steps\":[{\"n\":2,\"action\":\"fix\","
     "\"path\":\"a\",\"instruction\":\"x\",\"line\":null,\"status\":\"applied\"}]}",
     "n is not its position"},
    {"{\"version\":1,\"root\":\"/r\",\"task_id\":\"t\",\"steps\":[{\"n\":1,\"action\":\"rm\","
     "\"path\":\"a\",\"instruction\":\"x\",\"line\":null,\"status\":\"applied\"}]}",
     "not a step action"},
    {"{\"version\":1,\"root\":\"/r\",\"task_id\":\"t\",\"steps\":[{\"n\":1,\"action\":\"fix\","
     "\"path\":\"a\",\"instruction\":\"x\",\"line\":-1,\"status\":\"applied\"}]}",
     "line is not a positive number"},
    {"{\"version\":1,\"root\":\"/r\",\"task_id\":\"t\",\"steps\":[{\"n\":1,\"action\":\"fix\","
     "\"path\":\"a\",\"instruction\":\"x\",\"line\":null,\"status\":\"done\"}]}",
     "status is unknown"},
    {"{\"version\":1,\"root\":\"/r\",\"task_id\":\"t\",\"steps\":[{\"n\":1,\"action\":\"fix\","
     "\"path\":\"a\",\"instruction\":\"x\",\"line\":null,\"status\":\"applied\","
     "\"cost_usd\":-1}]}",
     "cost_usd is not a price"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    FILE *f = fopen(path, "w");
    fputs(bad[i].text, f);
    fclose(f);
    assert_null(plan_store_load(path, err, sizeof(err)));
    if (!strstr(err, bad[i].want) || !strstr(err, "damaged")) {
      fail_msg("'%s': got '%s', wanted '%s'", bad[i].text, err, bad[i].want);
    }
  }
  /* a save over the damaged file replaces it whole */
  assert_int_equal(plan_store_save(path, doc, err, sizeof(err)), 0);
  back = plan_store_load(path, err, sizeof(err));
  assert_true(json_equal(doc, back));
  json_decref(back);
  json_decref(doc);
  /* the store's place is per project, beside the ledger */
  char p1[4096], p2[4096];
  setenv("XDG_STATE_HOME", dir, 1);
  assert_int_equal(plan_store_path("/a", p1, sizeof(p1)), 0);
  assert_int_equal(plan_store_path("/b", p2, sizeof(p2)), 0);
  assert_string_not_equal(p1, p2);
  assert_non_null(strstr(p1, "/frugal/plans/"));
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(good_lines_are_read),
    cmocka_unit_test(every_malformed_line_is_named),
    cmocka_unit_test(a_models_prose_around_the_list_is_skipped),
    cmocka_unit_test(texts_that_are_no_plan_fail_whole),
    cmocka_unit_test(validation_looks_at_the_disk),
    cmocka_unit_test(the_store_round_trips_and_refuses_damage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
