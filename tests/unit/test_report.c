/* The cost report: tasks, hybrid vs Full-only, rows, days, JSON, the readable table, periods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "ledger/ledger.h"
#include "ledger/report.h"

#define assert_near(a, b, eps)                                                                 \
  do {                                                                                         \
    double a_ = (a), b_ = (b);                                                                 \
    if (!(fabs(a_ - b_) <= (eps))) {                                                           \
      fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                                      \
    }                                                                                          \
  } while (0)

static int64_t at(const char *ts)
{
  int64_t ms;
  assert_int_equal(ledger_parse_ts(ts, strlen(ts), &ms), 0);
  return ms;
}

/* A request priced the way the pipeline will price it: from the config's tables. */
static ledger_entry request(const frugal_config *cfg, const char *ts, const char *id,
                           const char *task, const char *action, const char *tier,
                           const char *model, int64_t in, int64_t cached, int64_t out,
                           ledger_outcome outcome)
{
  ledger_entry e;
  ledger_entry_init(&e);
  e.ts_ms = at(ts);
  snprintf(e.id, sizeof(e.id), "%s", id);
  snprintf(e.task_id, sizeof(e.task_id), "%s", task);
  e.project = "/src/app";
  e.action = action;
  e.tier = tier;
  e.provider = "openai";
  e.model = model;
  usage_counts u = {in, cached, 0, out, USAGE_UNKNOWN, USAGE_UNKNOWN, false};
  ledger_entry_set_usage(&e, &u);
  e.latency_ms = 900;
  e.outcome = outcome;
  ledger_entry_price(&e, cfg, PROVIDER_OPENAI);
  return e;
}

/* Three tasks over four requests (mini 0.75/0.075/4.50, full 2.50/0.25/15, $ per 1M):
 *   T1 tests  mini  10k in, 2k out               cost 0.0165   at Full 0.055
 *   T2 fix    mini   8k in, 1k out (escalated)   cost 0.0105   at Full 0.035
 *   T2 fix    full   8k in, 1.5k out             cost 0.0425   at Full 0.0425
 *   T3 design full  20k in (10k cached), 3k out  cost 0.0725   at Full 0.0725
 * Paid 0.142, Full-only 0.205, saving 0.063 = 30.73%. */
static void build_sample(ledger_entries *l, const char *path)
{
  frugal_config cfg;
  config_init(&cfg);
  ledger_entry es[4] = {
    request(&cfg, "2026-11-24T09:00:00.000Z", "r1", "T1", "tests", "mini", "gpt-5.4-mini", 10000,
            0, 2000, LEDGER_ANSWERED),
    request(&cfg, "2026-11-25T10:00:00.000Z", "r2", "T2", "fix", "mini", "gpt-5.4-mini", 8000, 0,
            1000, LEDGER_ESCALATED),
    request(&cfg, "2026-11-25T10:00:05.000Z", "r3", "T2", "fix", "full", "gpt-5.4", 8000, 0, 1500,
            LEDGER_ANSWERED),
    request(&cfg, "2026-11-27T16:30:00.000Z", "r4", "T3", "design", "full", "gpt-5.4", 20000,
            10000, 3000, LEDGER_ANSWERED),
  };
  char err[256];
  unlink(path);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(ledger_append(path, &es[i], err, sizeof(err)), 0);
  }
  assert_int_equal(ledger_append_outcome(path, "r1", LEDGER_APPLIED, err, sizeof(err)), 0);
  assert_int_equal(ledger_read(path, LEDGER_TS_MIN, LEDGER_TS_MAX, l, err, sizeof(err)), 0);
  assert_int_equal(l->count, 4);
  config_free(&cfg);
}

static char *temp_path(void)
{
  char *p = malloc(64);
  snprintf(p, 64, "/tmp/frugal-report-%ld.jsonl", (long)getpid());
  return p;
}

static void hybrid_vs_full_only_on_a_hand_built_ledger(void **state)
{
  char *path = temp_path();
  ledger_entries l;
  build_sample(&l, path);
  ledger_report r;
  ledger_report_build(&r, &l, LEDGER_TS_MIN, LEDGER_TS_MAX);
  assert_int_equal(r.entries, 4);
  assert_int_equal(r.tasks, 3); /* the escalated pair is one task */
  assert_int_equal(r.escalated_tasks, 1);
  assert_near(r.cost_usd, 0.142, 1e-12);
  assert_near(r.full_only_usd, 0.205, 1e-12);
  assert_true(r.savings_known);
  assert_near(r.savings_usd, 0.063, 1e-12);
  assert_true(r.savings_pct_known);
  assert_near(r.savings_pct, 0.063 / 0.205 * 100, 1e-9);
  assert_near(r.avg_cost_per_task, 0.142 / 3, 1e-12);
  assert_int_equal(r.unpriced_entries, 0);
  assert_int_equal(r.compared_entries, 4);

  assert_int_equal(r.ntier, 2);
  assert_string_equal(r.by_tier[0].tier, "mini");
  assert_string_equal(r.by_tier[0].model, "gpt-5.4-mini");
  assert_int_equal(r.by_tier[0].tasks, 2);
  assert_int_equal(r.by_tier[0].input_tokens, 18000);
  assert_int_equal(r.by_tier[0].output_tokens, 3000);
  assert_near(r.by_tier[0].cost_usd, 0.027, 1e-12);
  assert_string_equal(r.by_tier[1].tier, "full");
  assert_int_equal(r.by_tier[1].tasks, 2); /* T2's retry and T3 */
  assert_int_equal(r.by_tier[1].input_tokens, 28000);
  assert_int_equal(r.by_tier[1].cached_input_tokens, 10000);
  assert_int_equal(r.by_tier[1].output_tokens, 4500);
  assert_near(r.by_tier[1].cost_usd, 0.115, 1e-12);

  assert_int_equal(r.naction, 3); /* most expensive first */
  assert_string_equal(r.by_action[0].action, "design");
  assert_string_equal(r.by_action[1].action, "fix");
  assert_int_equal(r.by_action[1].tasks, 1);
  assert_int_equal(r.by_action[1].entries, 2);
  assert_near(r.by_action[1].cost_usd, 0.053, 1e-12);
  assert_near(r.by_action[1].full_only_usd, 0.0775, 1e-12);
  assert_string_equal(r.by_action[2].action, "tests");

  assert_int_equal(r.nday, 4); /* the 26th had no spending and still has its bar */
  assert_int_equal(r.by_day[0].day, ledger_days_from_civil(2026, 11, 24));
  assert_near(r.by_day[0].cost_usd, 0.0165, 1e-12);
  assert_near(r.by_day[1].cost_usd, 0.053, 1e-12);
  assert_near(r.by_day[2].cost_usd, 0, 0);
  assert_near(r.by_day[3].cost_usd, 0.0725, 1e-12);
  ledger_report_free(&r);
  ledger_entries_free(&l);
  unlink(path);
  free(path);
}

/* The article's two weeks, on one task set: $0.356 per task against $0.728 is a 51% saving
 * (the article printed 49%). */
static void the_articles_per_task_figures_give_51_percent(void **state)
{
  enum { N = 52 };
  ledger_entries l;
  memset(&l, 0, sizeof(l));
  l.items = calloc(N, sizeof(*l.items));
  l.count = l.cap = N;
  for (int i = 0; i < N; i++) {
    ledger_entry *e = &l.items[i];
    e->ts_ms = at("2026-11-10T12:00:00.000Z") + (int64_t)i * 3600000;
    snprintf(e->id, sizeof(e->id), "r%d", i);
    snprintf(e->task_id, sizeof(e->task_id), "t%d", i);
    e->action = "tests";
    e->tier = i % 4 == 0 ? "full" : "mini";
    e->provider = "openai";
    e->model = i % 4 == 0 ? "gpt-5.4" : "gpt-5.4-mini";
    e->cost_known = e->full_cost_known = true;
    e->cost_usd = 0.356;
    e->full_cost_usd = 0.728;
  }
  ledger_report r;
  ledger_report_build(&r, &l, LEDGER_TS_MIN, LEDGER_TS_MAX);
  assert_int_equal(r.tasks, 52);
  assert_near(r.cost_usd, 18.512, 1e-9);
  assert_near(r.full_only_usd, 37.856, 1e-9);
  assert_near(r.savings_usd, 19.344, 1e-9);
  assert_near(r.savings_pct, 51.0989010989011, 1e-9);
  buf_t text = BUF_INIT;
  ledger_report_text(&r, &text);
  assert_non_null(strstr(text.data, "51.1%"));
  buf_free(&text);
  ledger_report_free(&r);
  free(l.items);
}

static void unknown_prices_are_counted_not_priced_at_zero(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  char *path = temp_path();
  unlink(path);
  char err[256];
  ledger_entry a = request(&cfg, "2026-11-25T10:00:00.000Z", "a", "A", "explain", "mini",
                           "gpt-5.4-mini", 10000, 0, 2000, LEDGER_ANSWERED);
  ledger_entry b = request(&cfg, "2026-11-25T11:00:00.000Z", "b", "B", "explain", "mini",
                           "qwen2.5-coder-local", 50000, 0, 9000, LEDGER_ANSWERED);
  assert_false(b.cost_known);
  assert_true(b.full_cost_known);
  assert_int_equal(ledger_append(path, &a, err, sizeof(err)), 0);
  assert_int_equal(ledger_append(path, &b, err, sizeof(err)), 0);
  ledger_entries l;
  assert_int_equal(ledger_read(path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  ledger_report r;
  ledger_report_build(&r, &l, LEDGER_TS_MIN, LEDGER_TS_MAX);
  assert_int_equal(r.unpriced_entries, 1);
  assert_int_equal(r.compared_entries, 1);
  assert_near(r.cost_usd, 0.0165, 1e-12);
  /* Full-only has both requests, but the saving only compares the one with both prices: the
   * free-looking local request must not inflate it. */
  assert_near(r.full_only_usd, 0.055 + (50000 * 2.5 + 9000 * 15.0) / 1e6, 1e-12);
  assert_near(r.savings_usd, 0.055 - 0.0165, 1e-12);
  assert_near(r.savings_pct, 70, 1e-9);
  json_t *j = ledger_report_json(&r);
  assert_int_equal(json_integer_value(json_object_get(j, "unpriced_entries")), 1);
  json_t *row = json_array_get(json_object_get(j, "by_tier"), 1);
  assert_string_equal(json_string_value(json_object_get(row, "model")), "qwen2.5-coder-local");
  assert_int_equal(json_integer_value(json_object_get(row, "unpriced_entries")), 1);
  json_decref(j);
  buf_t text = BUF_INIT;
  ledger_report_text(&r, &text);
  assert_non_null(strstr(text.data, "unpriced"));
  assert_non_null(strstr(text.data, "1 request used a model without a known price"));
  assert_non_null(strstr(text.data, "compares the 1 of 2 requests"));
  buf_free(&text);
  ledger_report_free(&r);
  ledger_entries_free(&l);
  config_free(&cfg);
  unlink(path);
  free(path);
}

static void json_has_every_field_with_the_right_values(void **state)
{
  char *path = temp_path();
  ledger_entries l;
  build_sample(&l, path);
  ledger_report r;
  int64_t since = at("2026-11-01T00:00:00Z"), until = at("2026-12-01T00:00:00Z");
  ledger_report_build(&r, &l, since, until);
  json_t *j = ledger_report_json(&r);
  assert_string_equal(json_string_value(json_object_get(j, "since")), "2026-11-01T00:00:00.000Z");
  assert_string_equal(json_string_value(json_object_get(j, "until")), "2026-12-01T00:00:00.000Z");
  assert_int_equal(json_integer_value(json_object_get(j, "tasks")), 3);
  assert_near(json_real_value(json_object_get(j, "cost_usd")), 0.142, 1e-12);
  assert_near(json_real_value(json_object_get(j, "full_only_usd")), 0.205, 1e-12);
  assert_near(json_real_value(json_object_get(j, "savings_usd")), 0.063, 1e-12);
  assert_near(json_real_value(json_object_get(j, "savings_pct")), 30.731707317, 1e-6);
  assert_near(json_real_value(json_object_get(j, "avg_cost_per_task")), 0.142 / 3, 1e-12);
  assert_int_equal(json_integer_value(json_object_get(j, "unpriced_entries")), 0);
  json_t *tiers = json_object_get(j, "by_tier");
  assert_int_equal(json_array_size(tiers), 2);
  json_t *full = json_array_get(tiers, 1);
  assert_string_equal(json_string_value(json_object_get(full, "tier")), "full");
  assert_string_equal(json_string_value(json_object_get(full, "model")), "gpt-5.4");
  assert_int_equal(json_integer_value(json_object_get(full, "tasks")), 2);
  assert_int_equal(json_integer_value(json_object_get(full, "input_tokens")), 28000);
  assert_int_equal(json_integer_value(json_object_get(full, "cached_input_tokens")), 10000);
  assert_int_equal(json_integer_value(json_object_get(full, "output_tokens")), 4500);
  assert_near(json_real_value(json_object_get(full, "cost_usd")), 0.115, 1e-12);
  json_t *fix = json_array_get(json_object_get(j, "by_action"), 1);
  assert_string_equal(json_string_value(json_object_get(fix, "action")), "fix");
  assert_int_equal(json_integer_value(json_object_get(fix, "tasks")), 1);
  assert_near(json_real_value(json_object_get(fix, "full_only_usd")), 0.0775, 1e-12);
  json_t *days = json_object_get(j, "by_day");
  assert_int_equal(json_array_size(days), 4);
  assert_string_equal(json_string_value(json_object_get(json_array_get(days, 2), "date")),
                      "2026-11-26");
  assert_int_equal(json_array_size(json_object_get(j, "warnings")), 0);
  /* Dumped as the CLI will, sums print as decimals. */
  char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
  assert_non_null(strstr(s, "\"cost_usd\":0.142,"));
  free(s);
  json_decref(j);
  ledger_report_free(&r);
  ledger_entries_free(&l);
  unlink(path);
  free(path);
}

static void empty_period_has_nulls_not_zeros_for_what_is_unknown(void **state)
{
  ledger_entries l;
  memset(&l, 0, sizeof(l));
  ledger_report r;
  ledger_report_build(&r, &l, LEDGER_TS_MIN, LEDGER_TS_MAX);
  json_t *j = ledger_report_json(&r);
  assert_true(json_is_null(json_object_get(j, "since")));
  assert_true(json_is_null(json_object_get(j, "until")));
  assert_true(json_is_null(json_object_get(j, "savings_usd")));
  assert_true(json_is_null(json_object_get(j, "savings_pct")));
  assert_true(json_is_null(json_object_get(j, "avg_cost_per_task")));
  assert_int_equal(json_integer_value(json_object_get(j, "tasks")), 0);
  json_decref(j);
  buf_t text = BUF_INIT;
  ledger_report_text(&r, &text);
  assert_string_equal(text.data, "frugal cost, all time (UTC)\n\nNo requests recorded in this "
                                 "period.\n");
  buf_free(&text);
  ledger_report_free(&r);
}

static void text_table_reads_like_the_article(void **state)
{
  char *path = temp_path();
  ledger_entries l;
  build_sample(&l, path);
  ledger_report r;
  ledger_report_build(&r, &l, at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z"));
  buf_t text = BUF_INIT;
  ledger_report_text(&r, &text);
  const char *expect[] = {
    "frugal cost, 2026-11-01 to 2026-11-30 (UTC)\n",
    "tier  model               tasks        cost    avg/task\n",
    "mini  gpt-5.4-mini            2     $0.0270     $0.0135\n",
    "full  gpt-5.4                 2     $0.1150     $0.0575\n",
    "Hybrid (what you paid)        3     $0.1420     $0.0473\n",
    "Full-only (same tokens)       3     $0.2050     $0.0683\n",
    "Saving                              $0.0630       30.7%\n",
    "action   tasks        cost   full-only\n",
    "design       1     $0.0725     $0.0725\n",
    "fix          1     $0.0530     $0.0775\n",
    "- 1 task escalated from Mini to Full",
    "2026-11-24 ######### $0.0165\n",
    "2026-11-25 ############################# $0.0530\n",
    "2026-11-26 $0.00\n",
    "2026-11-27 ######################################## $0.0725\n",
  };
  for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
    if (!strstr(text.data, expect[i])) {
      fail_msg("missing \"%s\" in:\n%s", expect[i], text.data);
    }
  }
  buf_free(&text);
  ledger_report_free(&r);
  ledger_entries_free(&l);
  unlink(path);
  free(path);
}

static void report_counts_only_its_period_and_carries_reader_warnings(void **state)
{
  char *path = temp_path();
  ledger_entries l;
  build_sample(&l, path);
  ledger_entries_free(&l);
  FILE *fp = fopen(path, "a");
  fputs("{\"ts\":\"2026-11-25T1", fp); /* torn */
  fclose(fp);
  char err[256];
  assert_int_equal(ledger_read(path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  ledger_report r;
  /* Handed every entry, the report still keeps to the 25th. */
  ledger_report_build(&r, &l, at("2026-11-25T00:00:00Z"), at("2026-11-26T00:00:00Z"));
  assert_int_equal(r.entries, 2);
  assert_int_equal(r.tasks, 1);
  assert_near(r.cost_usd, 0.053, 1e-12);
  assert_int_equal(r.nday, 1);
  assert_int_equal(r.nwarnings, 1);
  assert_string_equal(r.warnings[0], "skipped 1 corrupt line (line 6)");
  json_t *j = ledger_report_json(&r);
  assert_string_equal(json_string_value(json_array_get(json_object_get(j, "warnings"), 0)),
                      "skipped 1 corrupt line (line 6)");
  json_decref(j);
  buf_t text = BUF_INIT;
  ledger_report_text(&r, &text);
  assert_non_null(strstr(text.data, "frugal cost, 2026-11-25 (UTC)"));
  assert_non_null(strstr(text.data, "- warning: skipped 1 corrupt line (line 6)\n"));
  buf_free(&text);
  ledger_report_free(&r);
  ledger_entries_free(&l);
  unlink(path);
  free(path);
}

/* A request line as another program (or a broken version) might have written it. */
static void append_line(const char *path, const char *id, const char *cost, const char *tokens)
{
  FILE *fp = fopen(path, "a");
  assert_non_null(fp);
  fprintf(fp,
          "{\"ts\":\"2026-11-25T11:00:00.000Z\",\"id\":\"%s\",\"task_id\":\"%s\",\"project\":null,"
          "\"action\":\"fix\",\"tier\":\"full\",\"provider\":\"openai\",\"model\":\"gpt-5.4\","
          "\"input_tokens\":%s,\"cached_input_tokens\":null,\"cache_write_tokens\":null,"
          "\"output_tokens\":10,\"reasoning_tokens\":null,\"estimated\":false,\"price\":null,"
          "\"cost_usd\":%s,\"full_cost_usd\":%s,\"latency_ms\":5,\"outcome\":\"answered\","
          "\"error\":null}\n",
          id, id, tokens, cost, cost);
  fclose(fp);
}

static void absurd_amounts_are_skipped_as_corrupt_and_never_shown_as_inf(void **state)
{
  char *path = temp_path();
  ledger_entries l;
  build_sample(&l, path);
  ledger_entries_free(&l);
  append_line(path, "x1", "1e308", "100");                 /* line 6 */
  append_line(path, "x2", "1e308", "100");                 /* line 7 */
  append_line(path, "x3", "48422703193487.5", "100");      /* line 8: no request costs that */
  append_line(path, "x4", "0.01", "9223372036854775807");  /* line 9: nor has that many tokens */
  append_line(path, "x5", "0.01", "4611686018427387904");  /* line 10: two of those overflow */
  append_line(path, "x6", "0.01", "4611686018427387904");  /* line 11 */
  char err[256];
  assert_int_equal(ledger_read(path, LEDGER_TS_MIN, LEDGER_TS_MAX, &l, err, sizeof(err)), 0);
  assert_int_equal(l.count, 4);
  assert_int_equal(l.corrupt, 6);
  ledger_report r;
  ledger_report_build(&r, &l, LEDGER_TS_MIN, LEDGER_TS_MAX);
  assert_near(r.cost_usd, 0.142, 1e-12);
  assert_string_equal(r.warnings[0], "skipped 6 corrupt lines (line 6, 7, 8, 9, 10, 11)");
  json_t *j = ledger_report_json(&r);
  assert_true(json_is_real(json_object_get(j, "cost_usd")));
  assert_true(json_is_real(json_object_get(j, "full_only_usd")));
  assert_true(json_is_object(json_object_get(j, "by_tier")) ||
              json_is_array(json_object_get(j, "by_tier")));
  json_decref(j);
  buf_t text = BUF_INIT;
  ledger_report_text(&r, &text);
  assert_null(strstr(text.data, "inf"));
  assert_null(strstr(text.data, "nan"));
  buf_free(&text);
  ledger_report_free(&r);
  ledger_entries_free(&l);
  unlink(path);
  free(path);
}

static void periods_parse_to_utc_day_bounds(void **state)
{
  int64_t now = at("2026-11-25T14:03:07.123Z");
  int64_t since, until;
  char err[200];
  assert_int_equal(ledger_period_parse("today", now, &since, &until, err, sizeof(err)), 0);
  assert_int_equal(since, at("2026-11-25T00:00:00Z"));
  assert_int_equal(until, at("2026-11-26T00:00:00Z"));
  assert_int_equal(ledger_period_parse("week", now, &since, &until, err, sizeof(err)), 0);
  assert_int_equal(since, at("2026-11-19T00:00:00Z"));
  assert_int_equal(until, at("2026-11-26T00:00:00Z"));
  assert_int_equal(ledger_period_parse("month", now, &since, &until, err, sizeof(err)), 0);
  assert_int_equal(since, at("2026-11-01T00:00:00Z"));
  assert_int_equal(until, at("2026-12-01T00:00:00Z"));
  int64_t dec = at("2026-12-31T23:59:59.999Z");
  assert_int_equal(ledger_period_parse("month", dec, &since, &until, err, sizeof(err)), 0);
  assert_int_equal(since, at("2026-12-01T00:00:00Z"));
  assert_int_equal(until, at("2027-01-01T00:00:00Z"));
  int64_t feb = at("2028-02-10T08:00:00Z");
  assert_int_equal(ledger_period_parse("month", feb, &since, &until, err, sizeof(err)), 0);
  assert_int_equal(until - since, 29LL * 86400000);
  assert_int_equal(ledger_period_parse("all", now, &since, &until, err, sizeof(err)), 0);
  assert_true(since == LEDGER_TS_MIN && until == LEDGER_TS_MAX);
  assert_int_equal(ledger_period_parse("2026-11-03", now, &since, &until, err, sizeof(err)), 0);
  assert_int_equal(since, at("2026-11-03T00:00:00Z"));
  assert_int_equal(until, at("2026-11-04T00:00:00Z"));
  assert_int_equal(
    ledger_period_parse("2026-10-30..2026-11-02", now, &since, &until, err, sizeof(err)), 0);
  assert_int_equal(since, at("2026-10-30T00:00:00Z"));
  assert_int_equal(until, at("2026-11-03T00:00:00Z"));
  const char *const bad[] = {"yesterday", "2026-02-30", "2026-11-3", "2026-11-25..2026-11-01",
                             "", "Today", "2026-11-25..", "2026-11-25T00:00:00Z"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (ledger_period_parse(bad[i], now, &since, &until, err, sizeof(err)) != -1) {
      fail_msg("accepted '%s'", bad[i]);
    }
    assert_non_null(strstr(err, "today, week, month, all"));
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(hybrid_vs_full_only_on_a_hand_built_ledger),
    cmocka_unit_test(the_articles_per_task_figures_give_51_percent),
    cmocka_unit_test(unknown_prices_are_counted_not_priced_at_zero),
    cmocka_unit_test(json_has_every_field_with_the_right_values),
    cmocka_unit_test(empty_period_has_nulls_not_zeros_for_what_is_unknown),
    cmocka_unit_test(text_table_reads_like_the_article),
    cmocka_unit_test(report_counts_only_its_period_and_carries_reader_warnings),
    cmocka_unit_test(absurd_amounts_are_skipped_as_corrupt_and_never_shown_as_inf),
    cmocka_unit_test(periods_parse_to_utc_day_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
