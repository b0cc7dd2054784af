/* Tests for native/ledger/budget.c: the one budget check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/budget.h"
#include "ledger/ledger.h"

static void day_and_month_start_are_utc_midnights(void **state)
{
  int64_t now;
  assert_int_equal(ledger_parse_ts("2026-03-17T15:04:05.123Z", 24, &now), 0);
  int64_t day, month, want;
  ledger_day_month_start(now, &day, &month);
  assert_int_equal(ledger_parse_ts("2026-03-17T00:00:00Z", 20, &want), 0);
  assert_true(day == want);
  assert_int_equal(ledger_parse_ts("2026-03-01T00:00:00Z", 20, &want), 0);
  assert_true(month == want);
}

static void under_80_percent_runs_quietly_past_it_warns_past_the_limit_refuses(void **state)
{
  ledger_budget b = {5.00, -1};
  ledger_spend s = {3.00, 3.00};
  char *w = (char *)"x", err[400] = "";
  assert_int_equal(ledger_budget_check(&b, &s, 0.50, 0, &w, err, sizeof(err)), 0);
  assert_null(w);
  assert_int_equal(ledger_budget_check(&b, &s, 1.20, 0, &w, err, sizeof(err)), 0);
  assert_string_equal(w, "this request would bring today's spend to $4.2000 of the $5.00 daily "
                         "budget (84%)");
  free(w);
  assert_int_equal(ledger_budget_check(&b, &s, 2.50, 0, &w, err, sizeof(err)), -1);
  assert_null(w);
  assert_string_equal(err, "daily budget of $5.00 would be passed: $3.0000 spent today and this "
                           "request is estimated at $2.5000 (budget.daily_usd); add "
                           "budget=ignore (frugal run --over-budget) to send it anyway");
  /* the override sends it, with the warning */
  assert_int_equal(ledger_budget_check(&b, &s, 2.50, 1, &w, err, sizeof(err)), 0);
  assert_non_null(strstr(w, "(110%)"));
  free(w);
}

/* A limit that is not whole cents is said as written: $0.08 would read as passed by $0.081. */
static void a_limit_is_said_as_written(void **state)
{
  ledger_budget b = {0.083, 1.5};
  ledger_spend s = {0.081, 0.081};
  char *w = NULL, err[400] = "";
  assert_int_equal(ledger_budget_check(&b, &s, 0.01, 0, &w, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "daily budget of $0.083 would be passed: $0.0810 spent today"));
  assert_int_equal(ledger_budget_check(&b, &s, 0.0005, 0, &w, err, sizeof(err)), 0);
  assert_string_equal(w, "this request would bring today's spend to $0.0815 of the $0.083 daily "
                         "budget (98%)");
  free(w);
  ledger_budget m = {-1, 1.5};
  ledger_spend t = {1.45, 1.45};
  assert_int_equal(ledger_budget_check(&m, &t, 0.1, 0, &w, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "monthly budget of $1.50 would be passed"));
}

static void the_monthly_budget_counts_the_month(void **state)
{
  ledger_budget b = {-1, 10.00};
  ledger_spend s = {0.10, 9.95};
  char *w = NULL, err[400] = "";
  assert_int_equal(ledger_budget_check(&b, &s, 0.10, 0, &w, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "monthly budget of $10.00 would be passed: $9.9500 spent this month"));
  assert_non_null(strstr(err, "budget.monthly_usd"));
}

static void spend_sums_today_and_the_month_from_the_ledger(void **state)
{
  char dir[] = "/tmp/frugal-budget-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/ledger.jsonl", dir);
  int64_t now = ledger_now_ms(), day, month;
  ledger_day_month_start(now, &day, &month);
  const struct {
    int64_t ts;
    double usd;
  } lines[] = {{now, 0.25}, {day, 0.5}, {day - 1, 2.0}, {month - 1, 100.0}};
  for (size_t i = 0; i < 4; i++) {
    ledger_entry e;
    ledger_entry_init(&e);
    e.ts_ms = lines[i].ts;
    e.action = "fix";
    e.tier = "mini";
    e.provider = "openai";
    e.model = "gpt-5.4-mini";
    e.cost_known = true;
    e.cost_usd = lines[i].usd;
    char err[300];
    assert_int_equal(ledger_append(path, &e, err, sizeof(err)), 0);
  }
  ledger_spend s;
  char err[300];
  ledger_budget daily = {1.0, -1}, monthly = {-1, 50.0};
  assert_int_equal(ledger_spend_read(path, &daily, now, &s, err, sizeof(err)), 0);
  assert_true(s.today_usd == 0.75);
  assert_int_equal(ledger_spend_read(path, &monthly, now, &s, err, sizeof(err)), 0);
  assert_true(s.today_usd == 0.75);
  /* the day before today counts for the month when today is not the first */
  assert_true(s.month_usd == (day > month ? 2.75 : 0.75));
  unlink(path);
  rmdir(dir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(day_and_month_start_are_utc_midnights),
    cmocka_unit_test(under_80_percent_runs_quietly_past_it_warns_past_the_limit_refuses),
    cmocka_unit_test(a_limit_is_said_as_written),
      cmocka_unit_test(the_monthly_budget_counts_the_month),
    cmocka_unit_test(spend_sums_today_and_the_month_from_the_ledger),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
