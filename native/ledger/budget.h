/* budget: the one budget check (config budget.daily_usd / budget.monthly_usd) against the spend
 * the ledger records. The CLI, the host and every run use it, so they refuse and warn alike. */
#ifndef FRUGAL_LEDGER_BUDGET_H
#define FRUGAL_LEDGER_BUDGET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  double daily_usd;   /* < 0: no daily budget */
  double monthly_usd; /* < 0: no monthly budget */
} ledger_budget;

typedef struct {
  double today_usd; /* spent since 00:00 UTC today */
  double month_usd; /* since the first of this month (only read when a monthly budget is set;
                       else equal to today_usd) */
} ledger_spend;

/* Start of the UTC day and of the UTC month holding `now_ms`, in ms since the epoch. */
void ledger_day_month_start(int64_t now_ms, int64_t *day_ms, int64_t *month_ms);

/* Sums the known costs in the ledger at `path` for today and, when `b` has a monthly budget,
 * this month. A missing file spends nothing. Returns 0, or -1 with a message in `err` when the
 * file exists but cannot be read (then `out` holds what was read before the failure). */
int ledger_spend_read(const char *path, const ledger_budget *b, int64_t now_ms, ledger_spend *out,
                      char *err, size_t errlen);

/* Checks a request estimated at `estimate_usd` against `b` given `spent`. Returns 0, setting
 * *warning to a new string (free() it) when the request takes a budget past 80% and NULL
 * otherwise; or -1 with the refusal in `err` (naming the limit, the spend, the config key and
 * the override) when it would pass a budget and `override` is 0. */
int ledger_budget_check(const ledger_budget *b, const ledger_spend *spent, double estimate_usd,
                        int override, char **warning, char *err, size_t errlen);

#endif
