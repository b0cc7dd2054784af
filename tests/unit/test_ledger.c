/* The ledger file: private creation, one whole line per record, concurrent appenders, corrupt
 * and torn lines, outcome updates, exact costs per token class, and read speed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "ledger/ledger.h"

/* cmocka 1.1 compares floats only; costs need doubles. */
#define assert_near(a, b, eps)                                                                 \
  do {                                                                                         \
    double a_ = (a), b_ = (b);                                                                 \
    if (!(fabs(a_ - b_) <= (eps))) {                                                           \
      fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                                      \
    }                                                                                          \
  } while (0)

typedef struct {
  char dir[64];
  char path[256];
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/frugal-ledger-XXXXXX");
  if (!mkdtemp(f->dir)) {
    free(f);
    return -1;
  }
  snprintf(f->path, sizeof(f->path), "%s/ledger.jsonl", f->dir);
  *state = f;
  return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove(path);
}

static int teardown(void **state)
{
  fixture *f = *state;
  nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

/* A priced Mini request: 10k prompt tokens (8k cached), 1k output of which 400 reasoning. */
static ledger_entry sample_entry(const char *id, const char *task)
{
  ledger_entry e;
  ledger_entry_init(&e);
  snprintf(e.id, sizeof(e.id), "%s", id);
  snprintf(e.task_id, sizeof(e.task_id), "%s", task);
  assert_int_equal(ledger_parse_ts("2026-11-25T14:03:07.123Z", 24, &e.ts_ms), 0);
  e.project = "/home/ada/src/frugal";
  e.action = "tests";
  e.tier = "mini";
  e.provider = "openai";
  e.model = "gpt-5.4-mini";
  e.input_tokens = 10000;
  e.cached_input_tokens = 8000;
  e.cache_write_tokens = 0;
  e.output_tokens = 1000;
  e.reasoning_tokens = 400;
  e.price_known = true;
  e.price = (price_entry){NULL, 0.75, 0.075, 4.50, 0.75};
  e.cost_known = true;
  e.cost_usd = 0.006600;
  e.full_cost_known = true;
  e.full_cost_usd = 0.022;
  e.latency_ms = 1834;
  return e;
}

static void write_file(const char *path, const char *text)
{
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
}

static char *slurp(const char *path)
{
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
  s[n] = '\0';
  fclose(fp);
  return s;
}

static void append_ok(const char *path, const ledger_entry *e)
{
  char err[256] = "";
  if (ledger_append(path, e, err, sizeof(err)) != 0) {
    fail_msg("append failed: %s", err);
  }
}

static void append_creates_private_folders_and_file(void **state)
{
  fixture *f = *state;
  char path[300];
  snprintf(path, sizeof(path), "%s/state/nvim/frugal/ledger.jsonl", f->dir);
  mode_t old = umask(022); /* the usual umask would allow 0755 / 0644 */
  ledger_entry e = sample_entry("id-1", "id-1");
  append_ok(path, &e);
  umask(old);
  struct stat st;
  const char *const dirs[] = {"state", "state/nvim", "state/nvim/frugal"};
  for (size_t i = 0; i < 3; i++) {
    char d[300];
    snprintf(d, sizeof(d), "%s/%s", f->dir, dirs[i]);
    assert_int_equal(stat(d, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
  }
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
}

static void existing_file_keeps_its_mode(void **state)
{
  fixture *f = *state;
  int fd = open(f->path, O_CREAT | O_WRONLY, 0600);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(chmod(f->path, 0640), 0);
  ledger_entry e = sample_entry("id-1", "id-1");
  append_ok(f->path, &e);
  struct stat st;
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0640); /* left as the user set it, not reset or widened */
}

static void line_is_json_with_every_field(void **state)
{
  fixture *f = *state;
  ledger_entry e = sample_entry("id-1", "task-1");
  e.error = "rate limited";
  append_ok(f->path, &e);
  char *text = slurp(f->path);
  size_t len = strlen(text);
  assert_true(len > 0);
  assert_int_equal(text[len - 1], '\n');
  assert_null(memchr(text, '\n', len - 1)); /* exactly one line */
  json_error_t jerr;
  json_t *o = json_loads(text, 0, &jerr);
  assert_non_null(o);
  assert_string_equal(json_string_value(json_object_get(o, "ts")), "2026-11-25T14:03:07.123Z");
  assert_string_equal(json_string_value(json_object_get(o, "id")), "id-1");
  assert_string_equal(json_string_value(json_object_get(o, "task_id")), "task-1");
  assert_string_equal(json_string_value(json_object_get(o, "project")), "/home/ada/src/frugal");
  assert_string_equal(json_string_value(json_object_get(o, "action")), "tests");
  assert_string_equal(json_string_value(json_object_get(o, "tier")), "mini");
  assert_string_equal(json_string_value(json_object_get(o, "provider")), "openai");
  assert_string_equal(json_string_value(json_object_get(o, "model")), "gpt-5.4-mini");
  assert_int_equal(json_integer_value(json_object_get(o, "input_tokens")), 10000);
  assert_int_equal(json_integer_value(json_object_get(o, "cached_input_tokens")), 8000);
  assert_int_equal(json_integer_value(json_object_get(o, "cache_write_tokens")), 0);
  assert_int_equal(json_integer_value(json_object_get(o, "output_tokens")), 1000);
  assert_int_equal(json_integer_value(json_object_get(o, "reasoning_tokens")), 400);
  assert_true(json_is_false(json_object_get(o, "estimated")));
  json_t *price = json_object_get(o, "price");
  assert_true(json_is_object(price));
  assert_true(json_number_value(json_object_get(price, "input")) == 0.75);
  assert_true(json_number_value(json_object_get(price, "cached_input")) == 0.075);
  assert_true(json_number_value(json_object_get(price, "output")) == 4.5);
  assert_true(json_number_value(json_object_get(price, "cache_write")) == 0.75);
  assert_true(json_number_value(json_object_get(o, "cost_usd")) == 0.0066);
  assert_true(json_number_value(json_object_get(o, "full_cost_usd")) == 0.022);
  assert_int_equal(json_integer_value(json_object_get(o, "latency_ms")), 1834);
  assert_string_equal(json_string_value(json_object_get(o, "outcome")), "answered");
  assert_string_equal(json_string_value(json_object_get(o, "error")), "rate limited");
  assert_int_equal(json_object_size(o), 20);
  /* Prices are written as decimals, without binary noise. */
  assert_non_null(strstr(text, "\"cached_input\":0.075,"));
  json_decref(o);
  free(text);
}

static void unknown_counts_and_prices_are_written_as_null(void **state)
{
  fixture *f = *state;
  ledger_entry e = sample_entry("id-1", "id-1");
  e.cached_input_tokens = LEDGER_UNKNOWN;
  e.reasoning_tokens = LEDGER_UNKNOWN;
  e.price_known = false;
  e.cost_known = false;
  e.full_cost_known = false;
  e.project = NULL;
  append_ok(f->path, &e);
  char *text = slurp(f->path);
  json_t *o = json_loads(text, 0, NULL);
  const char *const nulls[] = {"cached_input_tokens", "reasoning_tokens", "price", "cost_usd",
                               "full_cost_usd", "project", "error"};
  for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
    json_t *v = json_object_get(o, nulls[i]);
    if (!json_is_null(v)) {
      fail_msg("%s is not null", nulls[i]);
    }
  }
  json_decref(o);
  free(text);
}

static void invalid_entries_are_refused_and_nothing_is_written(void **state)
{
  fixture *f = *state;
  char err[256];
  ledger_entry e = sample_entry("id-1", "id-1");
  e.model = NULL;
  assert_int_equal(ledger_append(f->path, &e, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "model"));
  e = sample_entry("id-1", "id-1");
  e.output_tokens = LEDGER_UNKNOWN;
  assert_int_equal(ledger_append(f->path, &e, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "output_tokens"));
  e = sample_entry("id with space", "id-1");
  assert_int_equal(ledger_append(f->path, &e, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "id"));
  e = sample_entry("id-1", "id-1");
  e.cost_usd = NAN;
  assert_int_equal(ledger_append(f->path, &e, err, sizeof(err)), -1);
  struct stat st;
  assert_int_equal(stat(f->path, &st), -1);
}

static void bad_utf8_in_project_is_replaced_and_long_errors_are_cut(void **state)
{
  fixture *f = *state;
  ledger_entry e = sample_entry("id-1", "id-1");
  e.project = "/home/\xff\xfe/caf\xc3\xa9";
  char long_error[1000];
  memset(long_error, 'x', sizeof(long_error));
  memcpy(long_error + LEDGER_ERROR_MAX - 1, "\xc3\xa9", 2); /* straddles the limit */
  long_error[sizeof(long_error) - 1] = '\0';
  e.error = long_error;
  append_ok(f->path, &e);
  ledger_entries l;
  char err[256];
  assert_int_equal(ledger_read(f->path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  assert_int_equal(l.count, 1);
  assert_string_equal(l.items[0].project, "/home/?" "?/caf\xc3\xa9");
  assert_int_equal(strlen(l.items[0].error), LEDGER_ERROR_MAX - 1); /* é did not fit whole */
  ledger_entries_free(&l);
}

/* Each child appends 1000 records of more than PIPE_BUF bytes (a 4000-byte project path), so a
 * writer that split its record, or a buffered stream flushing in pieces, would interleave. */
static void child_appends(const char *path, char who)
{
  char project[4001];
  memset(project, who, sizeof(project) - 1);
  project[0] = '/';
  project[sizeof(project) - 1] = '\0';
  for (int i = 0; i < 1000; i++) {
    char id[32];
    snprintf(id, sizeof(id), "%c-%d", who, i);
    ledger_entry e = sample_entry(id, id);
    e.project = project;
    char err[256];
    if (ledger_append(path, &e, err, sizeof(err)) != 0) {
      _exit(1);
    }
  }
  _exit(0);
}

static void concurrent_appends_from_two_processes_never_interleave(void **state)
{
  fixture *f = *state;
  pid_t kids[2];
  for (int k = 0; k < 2; k++) {
    kids[k] = fork();
    assert_true(kids[k] >= 0);
    if (kids[k] == 0) {
      child_appends(f->path, k == 0 ? 'a' : 'b');
    }
  }
  for (int k = 0; k < 2; k++) {
    int status;
    assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  ledger_entries l;
  char err[256];
  assert_int_equal(ledger_read(f->path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  assert_int_equal(l.corrupt, 0);
  assert_int_equal(l.count, 2000);
  int seen[2][1000] = {{0}};
  for (size_t i = 0; i < l.count; i++) {
    const ledger_entry *e = &l.items[i];
    int who = e->id[0] == 'a' ? 0 : 1;
    int n = atoi(e->id + 2);
    assert_true(n >= 0 && n <= 999);
    assert_int_equal(e->project[1], e->id[0]); /* the project came with its own record */
    assert_int_equal(strlen(e->project), 4000);
    seen[who][n]++;
  }
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < 1000; i++) {
      assert_int_equal(seen[k][i], 1);
    }
  }
  /* Each writer's records stay in its own order. */
  int last[2] = {-1, -1};
  for (size_t i = 0; i < l.count; i++) {
    int who = l.items[i].id[0] == 'a' ? 0 : 1;
    int n = atoi(l.items[i].id + 2);
    assert_true(n > last[who]);
    last[who] = n;
  }
  ledger_entries_free(&l);
}

static char *entry_line(const char *id)
{
  ledger_entry e = sample_entry(id, id);
  buf_t b = BUF_INIT;
  char err[256];
  assert_int_equal(ledger_format_entry(&e, &b, err, sizeof(err)), 0);
  return buf_detach(&b);
}

static void collect_warning(void *data, const char *text)
{
  buf_printf(data, "%s\n", text);
}

static void corrupt_middle_line_and_torn_last_line_are_skipped_with_a_warning(void **state)
{
  fixture *f = *state;
  buf_t file = BUF_INIT;
  char *line = NULL;
  for (int i = 1; i <= 40; i++) {
    char id[16];
    snprintf(id, sizeof(id), "id-%d", i);
    line = entry_line(id);
    if (i == 17) {
      /* Wrong type: a count as a string. */
      char *p = strstr(line, "\"output_tokens\":1000");
      assert_non_null(p);
      buf_append(&file, line, (size_t)(p - line));
      buf_puts(&file, "\"output_tokens\":\"1000\"");
      buf_puts(&file, p + strlen("\"output_tokens\":1000"));
    } else if (i == 40) {
      buf_append(&file, line, strlen(line) / 2); /* a crash mid-write */
    } else {
      buf_puts(&file, line);
    }
    free(line);
  }
  write_file(f->path, file.data);
  buf_free(&file);
  ledger_entries l;
  char err[256];
  assert_int_equal(ledger_read(f->path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  assert_int_equal(l.count, 38);
  assert_int_equal(l.corrupt, 2);
  assert_int_equal(l.corrupt_line[0], 17);
  assert_int_equal(l.corrupt_line[1], 40);
  assert_string_equal(l.items[15].id, "id-16");
  assert_string_equal(l.items[16].id, "id-18");
  buf_t w = BUF_INIT;
  assert_int_equal(ledger_warnings(&l, collect_warning, &w), 1);
  assert_string_equal(w.data, "skipped 2 corrupt lines (line 17, 40)\n");
  buf_free(&w);
  ledger_entries_free(&l);
}

static void other_corruptions_are_each_skipped(void **state)
{
  fixture *f = *state;
  char *good = entry_line("good");
  buf_t file = BUF_INIT;
  buf_puts(&file, "{\"ts\":\"2026-11-25T14:03:07.123Z\",\"id\":\"x\"\n"); /* 1: truncated JSON */
  buf_puts(&file, "[1,2,3]\n");                                            /* 2: not an object */
  buf_puts(&file, "\n");                                                   /* 3: blank, ignored */
  buf_puts(&file, "{\"type\":\"outcome\",\"ts\":\"2026-11-25T14:03:07.123Z\",\"id\":\"good\","
                  "\"outcome\":\"exploded\"}\n");                         /* 4: bad outcome */
  buf_puts(&file, "{\"type\":\"budget\",\"ts\":\"2026-11-25T14:03:07.123Z\"}\n"); /* 5: kind */
  buf_puts(&file, good);                                                   /* 6: good */
  char *bad_ts = entry_line("badts");
  char *p = strstr(bad_ts, "2026-11-25T14");
  memcpy(p, "2026-02-30T14", 13);
  buf_puts(&file, bad_ts);                                                 /* 7: Feb 30 */
  buf_puts(&file, "\xff\xfe garbage\n");                                   /* 8: not UTF-8 */
  write_file(f->path, file.data);
  ledger_entries l;
  char err[256];
  assert_int_equal(ledger_read(f->path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  assert_int_equal(l.count, 1);
  assert_string_equal(l.items[0].id, "good");
  assert_int_equal(l.corrupt, 5);
  const size_t expect[] = {1, 2, 4, 7, 8};
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(l.corrupt_line[i], expect[i]);
  }
  assert_int_equal(l.unknown_type, 1);
  ledger_entries_free(&l);
  free(good);
  free(bad_ts);
  buf_free(&file);
}

static void an_overlong_line_is_skipped_without_being_held(void **state)
{
  fixture *f = *state;
  FILE *fp = fopen(f->path, "w");
  char *good = entry_line("before");
  fputs(good, fp);
  free(good);
  fputc('{', fp);
  for (int i = 0; i < 3 * 1024 * 1024; i++) {
    fputc('x', fp);
  }
  fputc('\n', fp);
  good = entry_line("after");
  fputs(good, fp);
  free(good);
  fclose(fp);
  ledger_entries l;
  char err[256];
  assert_int_equal(ledger_read(f->path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  assert_int_equal(l.count, 2);
  assert_string_equal(l.items[1].id, "after");
  assert_int_equal(l.corrupt, 1);
  assert_int_equal(l.corrupt_line[0], 2);
  ledger_entries_free(&l);
}

static void append_after_a_torn_line_starts_a_fresh_line(void **state)
{
  fixture *f = *state;
  char *line = entry_line("torn");
  line[strlen(line) / 2] = '\0';
  write_file(f->path, line);
  free(line);
  ledger_entry e = sample_entry("next", "next");
  append_ok(f->path, &e);
  ledger_entries l;
  char err[256];
  assert_int_equal(ledger_read(f->path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  assert_int_equal(l.count, 1);
  assert_string_equal(l.items[0].id, "next");
  assert_int_equal(l.corrupt, 1);
  assert_int_equal(l.corrupt_line[0], 1);
  ledger_entries_free(&l);
}

static void missing_file_is_an_empty_ledger(void **state)
{
  fixture *f = *state;
  ledger_entries l;
  char err[256];
  assert_int_equal(ledger_read(f->path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  assert_int_equal(l.count, 0);
  assert_int_equal(l.corrupt, 0);
  ledger_entries_free(&l);
  /* A folder where the file should be is an error, not an empty ledger. */
  assert_int_equal(ledger_read(f->dir, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), -1);
  assert_non_null(strstr(err, f->dir));
  ledger_entries_free(&l);
}

static void outcome_updates_apply_and_the_last_one_wins(void **state)
{
  fixture *f = *state;
  char err[256];
  ledger_entry a = sample_entry("a", "a"), b = sample_entry("b", "b"), c = sample_entry("c", "c");
  append_ok(f->path, &a);
  append_ok(f->path, &b);
  assert_int_equal(ledger_append_outcome(f->path, "a", LEDGER_APPLIED, err, sizeof(err)), 0);
  assert_int_equal(ledger_append_outcome(f->path, "b", LEDGER_APPLIED, err, sizeof(err)), 0);
  assert_int_equal(ledger_append_outcome(f->path, "b", LEDGER_REJECTED, err, sizeof(err)), 0);
  assert_int_equal(ledger_append_outcome(f->path, "nobody", LEDGER_APPLIED, err, sizeof(err)), 0);
  append_ok(f->path, &c);
  assert_int_equal(ledger_append_outcome(f->path, "a", LEDGER_FAILED, err, sizeof(err)), -1);
  assert_int_equal(ledger_append_outcome(f->path, "a b", LEDGER_APPLIED, err, sizeof(err)), -1);
  ledger_entries l;
  assert_int_equal(ledger_read(f->path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  assert_int_equal(l.count, 3);
  assert_int_equal(l.corrupt, 0);
  assert_int_equal(l.items[0].outcome, LEDGER_APPLIED);
  assert_int_equal(l.items[1].outcome, LEDGER_REJECTED);
  assert_int_equal(l.items[2].outcome, LEDGER_ANSWERED);
  ledger_entries_free(&l);
  /* The update is a line of its own kind, with the id it refers to. */
  char *text = slurp(f->path);
  assert_non_null(strstr(text, "{\"type\":\"outcome\",\"ts\":\""));
  assert_non_null(strstr(text, "\",\"id\":\"b\",\"outcome\":\"rejected\"}\n"));
  free(text);
}

static void reading_keeps_only_the_period(void **state)
{
  fixture *f = *state;
  const char *const ts[] = {"2026-11-24T23:59:59.999Z", "2026-11-25T00:00:00.000Z",
                            "2026-11-25T23:59:59.999Z", "2026-11-26T00:00:00.000Z"};
  for (int i = 0; i < 4; i++) {
    char id[8];
    snprintf(id, sizeof(id), "e%d", i & 7);
    ledger_entry e = sample_entry(id, id);
    assert_int_equal(ledger_parse_ts(ts[i], strlen(ts[i]), &e.ts_ms), 0);
    append_ok(f->path, &e);
  }
  char err[256];
  /* An update written after the period still applies to an entry inside it. */
  assert_int_equal(ledger_append_outcome(f->path, "e1", LEDGER_APPLIED, err, sizeof(err)), 0);
  int64_t since, until;
  assert_int_equal(ledger_parse_ts("2026-11-25T00:00:00Z", 20, &since), 0);
  until = since + 86400000;
  ledger_entries l;
  assert_int_equal(ledger_read(f->path, since, until, &l, err, sizeof(err)), 0);
  assert_int_equal(l.count, 2);
  assert_string_equal(l.items[0].id, "e1");
  assert_string_equal(l.items[1].id, "e2");
  assert_int_equal(l.items[0].outcome, LEDGER_APPLIED);
  ledger_entries_free(&l);
}

static void sum_cost_adds_up_the_period_and_its_tail_without_keeping_entries(void **state)
{
  fixture *f = *state;
  const char *const ts[] = {"2026-11-24T23:59:59.999Z", "2026-11-25T00:00:00.000Z",
                            "2026-11-25T23:59:59.999Z", "2026-11-26T00:00:00.000Z"};
  for (int i = 0; i < 4; i++) {
    char id[8];
    snprintf(id, sizeof(id), "e%d", i);
    ledger_entry e = sample_entry(id, id);
    e.cost_usd = 0.001 * (i + 1);
    e.cost_known = i != 2; /* an unpriced model counts nothing */
    assert_int_equal(ledger_parse_ts(ts[i], strlen(ts[i]), &e.ts_ms), 0);
    append_ok(f->path, &e);
  }
  char err[256];
  assert_int_equal(ledger_append_outcome(f->path, "e1", LEDGER_APPLIED, err, sizeof(err)), 0);
  FILE *fp = fopen(f->path, "a");
  fputs("{\"ts\":\"2026-11-25T10:00:00.000Z\",\"cost_usd\":1e308}\n", fp); /* corrupt */
  fclose(fp);
  int64_t since, split;
  assert_int_equal(ledger_parse_ts("2026-11-25T00:00:00Z", 20, &since), 0);
  assert_int_equal(ledger_parse_ts("2026-11-26T00:00:00Z", 20, &split), 0);
  double total = -1, tail = -1;
  assert_int_equal(ledger_sum_cost(f->path, since, split, &total, &tail, err, sizeof(err)), 0);
  assert_near(total, 0.002 + 0.004, 1e-12);
  assert_near(tail, 0.004, 1e-12);
  char missing[300];
  snprintf(missing, sizeof(missing), "%s/none.jsonl", f->dir);
  assert_int_equal(ledger_sum_cost(missing, since, split, &total, &tail, err, sizeof(err)), 0);
  assert_true(total == 0 && tail == 0);
}

static void path_check_names_what_is_in_the_way(void **state)
{
  fixture *f = *state;
  char err[600], p[400];
  assert_int_equal(ledger_path_check(f->path, err, sizeof(err)), 0); /* missing, dir writable */
  snprintf(p, sizeof(p), "%s/new/deeper/l.jsonl", f->dir);
  assert_int_equal(ledger_path_check(p, err, sizeof(err)), 0); /* folders are created */
  assert_int_equal(ledger_path_check(f->dir, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "is a directory"));
  write_file(f->path, "");
  assert_int_equal(ledger_path_check(f->path, err, sizeof(err)), 0);
  snprintf(p, sizeof(p), "%s/sub/l.jsonl", f->path);
  assert_int_equal(ledger_path_check(p, err, sizeof(err)), -1);
  char want[400];
  snprintf(want, sizeof(want), "%s is not a directory", f->path);
  assert_non_null(strstr(err, want));
}

static void ledger_paths_expand_home_and_variables(void **state)
{
  fixture *f = *state;
  char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
  char *xdg = getenv("XDG_STATE_HOME") ? strdup(getenv("XDG_STATE_HOME")) : NULL;
  setenv("HOME", f->dir, 1);
  unsetenv("XDG_STATE_HOME");
  setenv("FRUGAL_TEST_LEDGER_DIR", "/srv/ledgers", 1);
  unsetenv("FRUGAL_TEST_UNSET");
  char out[512], want[512];
  assert_int_equal(ledger_path_resolve(NULL, "~/x.jsonl", out, sizeof(out)), 0);
  snprintf(want, sizeof(want), "%s/x.jsonl", f->dir);
  assert_string_equal(out, want);
  assert_int_equal(ledger_path_resolve("$XDG_STATE_HOME/f.jsonl", "ignored", out, sizeof(out)),
                   0);
  snprintf(want, sizeof(want), "%s/.local/state/f.jsonl", f->dir);
  assert_string_equal(out, want);
  assert_int_equal(ledger_path_resolve(NULL, "${FRUGAL_TEST_LEDGER_DIR}/a$b-$.jsonl", out,
                                       sizeof(out)),
                   -1); /* $b is not set */
  setenv("b", "B", 1);
  assert_int_equal(ledger_path_resolve(NULL, "${FRUGAL_TEST_LEDGER_DIR}/a$b-$.jsonl", out,
                                       sizeof(out)),
                   0);
  assert_string_equal(out, "/srv/ledgers/aB-$.jsonl");
  unsetenv("b");
  assert_int_equal(ledger_path_resolve(NULL, "rel/~/l.jsonl", out, sizeof(out)), 0);
  assert_string_equal(out, "rel/~/l.jsonl"); /* only a leading ~ is a home */
  assert_int_equal(ledger_path_resolve(NULL, "~root/l.jsonl", out, sizeof(out)), 0);
  assert_string_equal(out, "/root/l.jsonl");
  assert_int_equal(ledger_path_resolve(NULL, "$FRUGAL_TEST_UNSET/l.jsonl", out, sizeof(out)), -1);
  char small[8];
  assert_int_equal(ledger_path_resolve(NULL, "~/long-name.jsonl", small, sizeof(small)), -1);
  if (home) {
    setenv("HOME", home, 1);
  }
  if (xdg) {
    setenv("XDG_STATE_HOME", xdg, 1);
  }
  unsetenv("FRUGAL_TEST_LEDGER_DIR");
  free(home);
  free(xdg);
}

static void read_back_matches_what_was_written(void **state)
{
  fixture *f = *state;
  ledger_entry e = sample_entry("id-1", "task-1");
  e.estimated = true;
  e.outcome = LEDGER_ESCALATED;
  e.error = "no code block";
  e.cache_write_tokens = LEDGER_UNKNOWN;
  append_ok(f->path, &e);
  ledger_entries l;
  char err[256];
  assert_int_equal(ledger_read(f->path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  assert_int_equal(l.count, 1);
  const ledger_entry *r = &l.items[0];
  assert_int_equal(r->ts_ms, e.ts_ms);
  assert_string_equal(r->id, "id-1");
  assert_string_equal(r->task_id, "task-1");
  assert_string_equal(r->project, e.project);
  assert_string_equal(r->action, "tests");
  assert_string_equal(r->tier, "mini");
  assert_string_equal(r->provider, "openai");
  assert_string_equal(r->model, "gpt-5.4-mini");
  assert_int_equal(r->input_tokens, 10000);
  assert_int_equal(r->cached_input_tokens, 8000);
  assert_int_equal(r->cache_write_tokens, LEDGER_UNKNOWN);
  assert_int_equal(r->output_tokens, 1000);
  assert_int_equal(r->reasoning_tokens, 400);
  assert_true(r->estimated);
  assert_true(r->price_known);
  assert_true(r->price.cached_input == 0.075);
  assert_true(r->cost_known && r->cost_usd == 0.0066);
  assert_true(r->full_cost_known && r->full_cost_usd == 0.022);
  assert_int_equal(r->latency_ms, 1834);
  assert_int_equal(r->outcome, LEDGER_ESCALATED);
  assert_string_equal(r->error, "no code block");
  ledger_entries_free(&l);
}

static usage_counts usage(int64_t in, int64_t cached, int64_t written, int64_t out,
                          int64_t reasoning)
{
  usage_counts u = {in, cached, written, out, reasoning, USAGE_UNKNOWN, false};
  return u;
}

/* prices_usage_cost at `p` for the given counts; -1 when it refuses. */
static double cost_of(const price_entry *p, usage_counts u)
{
  double usd = -1;
  return prices_usage_cost(p, &u, &usd) == 0 ? usd : -1;
}

static void cost_prices_each_token_class_exactly(void **state)
{
  /* gpt-5.4: 2.50 in, 0.25 cached, 15 out. 10k prompt of which 8k cached, 1k out. */
  price_entry full = {NULL, 2.50, 0.25, 15.00, 2.50};
  double usd = cost_of(&full, usage(10000, 8000, 0, 1000, USAGE_UNKNOWN));
  assert_near(usd, (2000 * 2.50 + 8000 * 0.25 + 1000 * 15.00) / 1e6, 1e-15);
  assert_near(usd, 0.022, 1e-12);
  /* Cached tokens are never billed as full input: all cached costs a tenth. */
  assert_near(cost_of(&full, usage(10000, 10000, 0, 0, 0)), 0.0025, 1e-12);
  assert_near(cost_of(&full, usage(10000, 0, 0, 0, 0)), 0.025, 1e-12);
  /* Reasoning tokens are inside output_tokens: 800 of the 1000 change nothing. */
  assert_near(cost_of(&full, usage(10000, 8000, 0, 1000, 800)), usd, 1e-15);
  /* Cache writes at their own price (Anthropic-style 1.25x input). */
  price_entry claude = {NULL, 3.00, 0.30, 15.00, 3.75};
  assert_near(cost_of(&claude, usage(10000, 2000, 6000, 0, 0)),
                      (2000 * 3.00 + 2000 * 0.30 + 6000 * 3.75) / 1e6, 1e-15);
  /* Unknown cached count: nothing is assumed cached. */
  assert_near(cost_of(&full, usage(10000, USAGE_UNKNOWN, USAGE_UNKNOWN, 0, 0)), 0.025,
                      1e-12);
  /* No input or output count: no cost at all rather than a made-up one. */
  usage_counts u = usage(USAGE_UNKNOWN, 0, 0, 10, 0);
  usd = 42;
  assert_int_equal(prices_usage_cost(&full, &u, &usd), -1);
  u = usage(10, 0, 0, USAGE_UNKNOWN, 0);
  assert_int_equal(prices_usage_cost(&full, &u, &usd), -1);
  assert_true(usd == 42);
}

static void entry_price_uses_the_tables_anthropic_cache_writes_and_full_tier(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  char err[256];
  const char *json = "{\"prices\":{\"my-claude\":{\"input\":2.0,\"cached_input\":0.2,"
                     "\"output\":10.0}}}";
  assert_int_equal(config_apply_json(&cfg, json, strlen(json), "test", err, sizeof(err)), 0);

  /* Anthropic: cache writes at 1.25x input (no cache_write price given). 10k prompt = 1k plain
   * + 4k read from cache + 5k written to it; 200 out. */
  ledger_entry e;
  ledger_entry_init(&e);
  e.model = "my-claude";
  usage_counts u = usage(10000, 4000, 5000, 200, USAGE_UNKNOWN);
  ledger_entry_set_usage(&e, &u);
  ledger_entry_price(&e, &cfg, PROVIDER_ANTHROPIC);
  assert_true(e.price_known);
  assert_near(e.price.cache_write, 2.5, 1e-12);
  assert_true(e.cost_known);
  assert_near(e.cost_usd, (1000 * 2.0 + 4000 * 0.2 + 5000 * 2.5 + 200 * 10.0) / 1e6,
                      1e-15);
  assert_near(e.cost_usd, 0.0173, 1e-12);
  /* The same tokens at the Full tier (gpt-5.4 on OpenAI: cache writes at the input price). */
  assert_true(e.full_cost_known);
  assert_near(e.full_cost_usd, (1000 * 2.5 + 4000 * 0.25 + 5000 * 2.5 + 200 * 15.0) / 1e6,
                      1e-15);

  /* A built-in Anthropic price with its own cache write price. */
  ledger_entry_init(&e);
  e.model = "claude-sonnet-4-5";
  u = usage(2000, 0, 2000, 100, USAGE_UNKNOWN);
  ledger_entry_set_usage(&e, &u);
  ledger_entry_price(&e, &cfg, PROVIDER_ANTHROPIC);
  assert_near(e.cost_usd, (2000 * 3.75 + 100 * 15.0) / 1e6, 1e-15);

  /* A model nobody priced: cost unknown, the Full comparison still known. */
  ledger_entry_init(&e);
  e.model = "llama-3.3-local";
  u = usage(1000, USAGE_UNKNOWN, USAGE_UNKNOWN, 100, USAGE_UNKNOWN);
  ledger_entry_set_usage(&e, &u);
  ledger_entry_price(&e, &cfg, PROVIDER_OPENAI_CHAT);
  assert_false(e.price_known);
  assert_false(e.cost_known);
  assert_true(e.full_cost_known);
  assert_near(e.full_cost_usd, (1000 * 2.5 + 100 * 15.0) / 1e6, 1e-15);
  assert_int_equal(e.cached_input_tokens, LEDGER_UNKNOWN);
  config_free(&cfg);
}

static void timestamps_round_trip_and_match_the_c_library(void **state)
{
  char ts[LEDGER_TS_SIZE];
  ledger_format_ts(0, ts);
  assert_string_equal(ts, "1970-01-01T00:00:00.000Z");
  int64_t ms;
  assert_int_equal(ledger_parse_ts("2026-11-25T14:03:07.123Z", 24, &ms), 0);
  ledger_format_ts(ms, ts);
  assert_string_equal(ts, "2026-11-25T14:03:07.123Z");
  int64_t off;
  assert_int_equal(ledger_parse_ts("2026-11-25T16:03:07.123+02:00", 29, &off), 0);
  assert_int_equal(off, ms);
  assert_int_equal(ledger_parse_ts("2026-11-25T14:03:07Z", 20, &off), 0);
  assert_int_equal(off, ms - 123);
  ledger_format_ts(-1, ts);
  assert_string_equal(ts, "1969-12-31T23:59:59.999Z");
  const char *const bad[] = {"2026-11-25 14:03:07Z", "2026-13-01T00:00:00Z",
                             "2025-02-29T00:00:00Z", "2026-11-25T24:00:00Z",
                             "2026-11-25T14:03:07.Z", "2026-11-25T14:03:07", "2026-11-25",
                             "2026-11-25T14:03:07.123Zjunk"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (ledger_parse_ts(bad[i], strlen(bad[i]), &ms) == 0) {
      fail_msg("accepted '%s'", bad[i]);
    }
  }
  assert_int_equal(ledger_parse_ts("2024-02-29T00:00:00Z", 20, &ms), 0);
  /* Every 13th day over two millennia against gmtime_r. */
  for (int64_t day = -200000; day < 200000; day += 13) {
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    int64_t y;
    int m, d;
    ledger_civil_from_days(day, &y, &m, &d);
    if (y != tm.tm_year + 1900 || m != tm.tm_mon + 1 || d != tm.tm_mday) {
      fail_msg("day %lld: %lld-%d-%d", (long long)day, (long long)y, m, d);
    }
    assert_int_equal(ledger_days_from_civil(y, m, d), day);
  }
}

static void default_path_follows_neovims_state_dir(void **state)
{
  char path[512];
  unsetenv("NVIM_APPNAME");
  setenv("XDG_STATE_HOME", "/x/state", 1);
  setenv("HOME", "/home/ada", 1);
  assert_int_equal(ledger_default_path(path, sizeof(path)), 0);
  assert_string_equal(path, "/x/state/nvim/frugal/ledger.jsonl");
  setenv("XDG_STATE_HOME", "relative/state", 1); /* not absolute: ignored per the XDG spec */
  assert_int_equal(ledger_default_path(path, sizeof(path)), 0);
  assert_string_equal(path, "/home/ada/.local/state/nvim/frugal/ledger.jsonl");
  unsetenv("XDG_STATE_HOME");
  setenv("NVIM_APPNAME", "nvim-work", 1);
  assert_int_equal(ledger_default_path(path, sizeof(path)), 0);
  assert_string_equal(path, "/home/ada/.local/state/nvim-work/frugal/ledger.jsonl");
  unsetenv("NVIM_APPNAME");
  assert_int_equal(ledger_default_path(path, 20), -1); /* too small */
  unsetenv("HOME");
  assert_int_equal(ledger_default_path(path, sizeof(path)), -1);
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(a, b);
}

static void ids_are_unique(void **state)
{
  enum { N = 20000 };
  char(*ids)[LEDGER_ID_SIZE] = malloc(N * sizeof(*ids));
  for (int i = 0; i < N; i++) {
    assert_int_equal(ledger_new_id(ids[i]), 0);
    assert_true(strlen(ids[i]) <= 38);
  }
  qsort(ids, N, sizeof(*ids), cmp_str);
  for (int i = 1; i < N; i++) {
    assert_string_not_equal(ids[i - 1], ids[i]);
  }
  free(ids);
  ledger_entry e;
  assert_int_equal(ledger_entry_init(&e), 0);
  assert_string_equal(e.id, e.task_id);
  assert_int_equal(e.reasoning_tokens, LEDGER_UNKNOWN);
}

static double seconds_since(const struct timespec *t0)
{
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A large ledger reads whole and exactly, and a one-day period picks exactly that day. (How
 * fast is bench material, not a test's: see the figures printed here and bench/README.md.) */
static void a_100k_line_ledger_reads_whole_and_by_day(void **state)
{
  fixture *f = *state;
  enum { N = 100000 };
  buf_t file = BUF_INIT;
  const char *const actions[] = {"tests", "fix", "explain", "docs", "refactor"};
  char err[256];
  for (int i = 0; i < N; i++) {
    char id[32];
    snprintf(id, sizeof(id), "%08d-%x", i, (unsigned)(i * 2654435761u));
    ledger_entry e = sample_entry(id, id);
    e.ts_ms += (int64_t)i * 60000;
    e.action = actions[i % 5];
    e.input_tokens += i % 997;
    assert_int_equal(ledger_format_entry(&e, &file, err, sizeof(err)), 0);
    if (i % 50 == 0) {
      char oid[160];
      snprintf(oid, sizeof(oid), "{\"type\":\"outcome\",\"ts\":\"2026-12-01T00:00:00.000Z\","
                                 "\"id\":\"%s\",\"outcome\":\"applied\"}\n", id);
      buf_puts(&file, oid);
    }
  }
  write_file(f->path, file.data);
  size_t bytes = file.len;
  buf_free(&file);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ledger_entries l;
  assert_int_equal(ledger_read(f->path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  double took = seconds_since(&t0);
  assert_int_equal(l.count, N);
  assert_int_equal(l.corrupt, 0);
  assert_int_equal(l.items[50].outcome, LEDGER_APPLIED);
  assert_int_equal(l.items[51].outcome, LEDGER_ANSWERED);
  assert_int_equal(l.items[N - 1].input_tokens, 10000 + (N - 1) % 997);
  print_message("read %d entries (%.1f MB) in %.3f s\n", N, (double)bytes / 1e6, took);
  ledger_entries_free(&l);

  /* One day out of the 69: the lines outside it are passed over unparsed. */
  int64_t day0;
  assert_int_equal(ledger_parse_ts("2026-12-10T00:00:00Z", 20, &day0), 0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(ledger_read(f->path, day0, day0 + 86400000, &l, err, sizeof(err)), 0);
  took = seconds_since(&t0);
  print_message("read one day (%zu entries) in %.3f s\n", l.count, took);
  assert_int_equal(l.count, 1440);
  assert_int_equal(l.corrupt, 0);
  ledger_entries_free(&l);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(append_creates_private_folders_and_file, setup, teardown),
    cmocka_unit_test_setup_teardown(existing_file_keeps_its_mode, setup, teardown),
    cmocka_unit_test_setup_teardown(line_is_json_with_every_field, setup, teardown),
    cmocka_unit_test_setup_teardown(unknown_counts_and_prices_are_written_as_null, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(invalid_entries_are_refused_and_nothing_is_written, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(bad_utf8_in_project_is_replaced_and_long_errors_are_cut,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(concurrent_appends_from_two_processes_never_interleave,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(
      corrupt_middle_line_and_torn_last_line_are_skipped_with_a_warning, setup, teardown),
    cmocka_unit_test_setup_teardown(other_corruptions_are_each_skipped, setup, teardown),
    cmocka_unit_test_setup_teardown(an_overlong_line_is_skipped_without_being_held, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(append_after_a_torn_line_starts_a_fresh_line, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(missing_file_is_an_empty_ledger, setup, teardown),
    cmocka_unit_test_setup_teardown(outcome_updates_apply_and_the_last_one_wins, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(reading_keeps_only_the_period, setup, teardown),
    cmocka_unit_test_setup_teardown(read_back_matches_what_was_written, setup, teardown),
    cmocka_unit_test_setup_teardown(
        sum_cost_adds_up_the_period_and_its_tail_without_keeping_entries, setup, teardown),
    cmocka_unit_test_setup_teardown(path_check_names_what_is_in_the_way, setup, teardown),
    cmocka_unit_test_setup_teardown(ledger_paths_expand_home_and_variables, setup, teardown),
    cmocka_unit_test(cost_prices_each_token_class_exactly),
    cmocka_unit_test(entry_price_uses_the_tables_anthropic_cache_writes_and_full_tier),
    cmocka_unit_test(timestamps_round_trip_and_match_the_c_library),
    cmocka_unit_test(default_path_follows_neovims_state_dir),
    cmocka_unit_test(ids_are_unique),
    cmocka_unit_test_setup_teardown(
      a_100k_line_ledger_reads_whole_and_by_day, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
