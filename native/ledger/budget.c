#include "ledger/budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"
#include "util/buf.h"

void ledger_day_month_start(int64_t now_ms, int64_t *day_ms, int64_t *month_ms)
{
  int64_t days = now_ms / 86400000;
  int64_t y;
  int m, d;
  ledger_civil_from_days(days, &y, &m, &d);
  *day_ms = days * 86400000;
  *month_ms = ledger_days_from_civil(y, m, 1) * 86400000;
}

int ledger_spend_read(const char *path, const ledger_budget *b, int64_t now_ms, ledger_spend *out,
                      char *err, size_t errlen)
{
  int64_t day0, month0;
  ledger_day_month_start(now_ms, &day0, &month0);
  out->today_usd = 0;
  out->month_usd = 0;
  /* Today's spend is always wanted (a run's result reports it); the month only for a monthly
   * budget, so without one only today's lines are parsed. */
  int64_t since = b->monthly_usd >= 0 && month0 < day0 ? month0 : day0;
  /* Summed as it is read, never held: the check runs before every request and a busy day's
   * ledger would otherwise grow the host with it. */
  int rc = ledger_sum_cost(path, since, day0, &out->month_usd, &out->today_usd, err, errlen);
  return rc;
}

/* A limit as the user wrote it: cents when it is whole cents ($5.00), else up to six decimals
 * without trailing zeros ($0.083, not a rounded $0.08 that a spend of $0.081 would pass). */
static void limit_text(char out[32], double usd)
{
  snprintf(out, 32, "%.6f", usd);
  char *end = out + strlen(out);
  char *dot = strchr(out, '.');
  while (dot && end > dot + 3 && end[-1] == '0') {
    *--end = '\0';
  }
}

int ledger_budget_check(const ledger_budget *b, const ledger_spend *spent, double estimate_usd,
                        int override, char **warning, char *err, size_t errlen)
{
  double est = estimate_usd > 0 ? estimate_usd : 0;
  const struct {
    const char *name;
    double limit, spent;
  } lim[] = {{"daily", b->daily_usd, spent->today_usd},
             {"monthly", b->monthly_usd, spent->month_usd}};
  *warning = NULL;
  for (size_t i = 0; i < 2; i++) {
    if (lim[i].limit < 0) {
      continue;
    }
    const char *when = i == 0 ? "today" : "this month";
    char limit[32];
    limit_text(limit, lim[i].limit);
    if (lim[i].spent + est > lim[i].limit && !override) {
      snprintf(err, errlen,
               "%s budget of $%s %s: $%.4f spent %s and this request is estimated at $%.4f "
               "(budget.%s_usd); add budget=ignore (frugal run --over-budget) to send it anyway",
               lim[i].name, limit,
               lim[i].spent >= lim[i].limit ? "reached" : "would be passed", lim[i].spent, when,
               est, lim[i].name);
      free(*warning);
      *warning = NULL;
      return -1;
    }
    if (lim[i].spent + est > 0.8 * lim[i].limit && !*warning) {
      buf_t w = BUF_INIT;
      buf_printf(&w, "this request would bring %s spend to $%.4f of the $%s %s budget (%.0f%%)",
                 i == 0 ? "today's" : "this month's", lim[i].spent + est, limit,
                 lim[i].name,
                 lim[i].limit > 0 ? 100.0 * (lim[i].spent + est) / lim[i].limit : 100.0);
      *warning = buf_detach(&w);
    }
  }
  return 0;
}
