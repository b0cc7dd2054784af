/* report: what the ledger says for a period: tasks, what was paid, what the same tokens would
 * have cost on the Full tier alone, the saving, and where the money went (per tier and model,
 * per action, per day). Backs `:Frugal cost` and `frugal cost [--json]`.
 *
 * Counting rules:
 *   - A task is a task_id: a Mini attempt that escalated and its retry on Full are one task in
 *     the totals and in the action rows, and one task in each tier row they touched.
 *   - cost_usd sums the entries whose cost is known; entries without a known price are counted
 *     (unpriced_entries), never priced at 0 silently.
 *   - full_only_usd sums full_cost_usd (every entry's tokens at the Full tier's prices); entries
 *     without it are counted (full_unpriced_entries).
 *   - The saving compares like with like: it is taken over the entries that have both costs
 *     (compared_entries). When every entry has both, savings_usd = full_only_usd - cost_usd. */
#ifndef FRUGAL_LEDGER_REPORT_H
#define FRUGAL_LEDGER_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"
#include "util/buf.h"

/* One row: per (tier, model) in by_tier (action NULL), per action in by_action (tier and model
 * NULL). Strings are owned by the report. */
typedef struct {
  char *tier;
  char *model;
  char *action;
  size_t entries;
  size_t tasks;
  int64_t input_tokens; /* sums; unknown counts add nothing */
  int64_t cached_input_tokens;
  int64_t cache_write_tokens;
  int64_t output_tokens;
  double cost_usd;
  size_t unpriced_entries;
  double full_only_usd;
  size_t full_unpriced_entries;
} ledger_report_row;

typedef struct {
  int64_t day; /* days since 1970-01-01, UTC */
  double cost_usd;
  size_t entries;
} ledger_report_day;

typedef struct {
  int64_t since_ms; /* LEDGER_TS_MIN / LEDGER_TS_MAX: open */
  int64_t until_ms;
  size_t entries;
  size_t tasks;
  double cost_usd;
  double full_only_usd;
  size_t unpriced_entries;
  size_t full_unpriced_entries;
  size_t estimated_entries; /* token counts estimated by frugal */
  size_t escalated_tasks;   /* tasks with an escalated call (a plan of many calls is not one) */
  size_t compared_entries;  /* entries with both costs: the base of the saving */
  bool savings_known;       /* false when no entry has both costs */
  double savings_usd;
  bool savings_pct_known; /* false also when the Full-only base is 0 */
  double savings_pct;     /* 0..100 (negative if hybrid cost more) */
  bool avg_known;         /* false when there are no tasks */
  double avg_cost_per_task;
  ledger_report_row *by_tier; /* mini first, then full, then other tiers; models by name */
  size_t ntier;
  ledger_report_row *by_action; /* most expensive first */
  size_t naction;
  ledger_report_day *by_day; /* oldest first; days without spending between the first and the
                              * last are included as 0 when the span is at most 366 days */
  size_t nday;
  char **warnings; /* from reading the ledger */
  size_t nwarnings;
} ledger_report;

/* Aggregates the entries whose ts is in [since_ms, until_ms) (the reader normally filtered them
 * already) and copies the reader's warnings. Never fails; free with ledger_report_free(). */
void ledger_report_build(ledger_report *r, const ledger_entries *l, int64_t since_ms,
                         int64_t until_ms);
void ledger_report_free(ledger_report *r);

/* The report as the JSON object of `frugal cost --json`:
 *   {"since","until","entries","tasks","cost_usd","full_only_usd","savings_usd","savings_pct",
 *    "avg_cost_per_task","unpriced_entries","full_unpriced_entries","compared_entries",
 *    "estimated_entries","escalated_tasks",
 *    "by_tier":[{"tier","model","tasks","entries","input_tokens","cached_input_tokens",
 *                "output_tokens","cost_usd","unpriced_entries"}],
 *    "by_action":[{"action","tasks","entries","cost_usd","full_only_usd","unpriced_entries"}],
 *    "by_day":[{"date":"YYYY-MM-DD","cost_usd"}], "warnings":[string]}
 * since/until are RFC 3339 strings, null when open; savings_* and avg_* are null when unknown.
 * Returns a new reference (never NULL). Dump with JSON_REAL_PRECISION(15) or fewer digits to
 * avoid binary noise in the sums. */
json_t *ledger_report_json(const ledger_report *r);

/* Appends the readable report to `out`: per tier and model (tasks, cost, average per task), the
 * hybrid total, the Full-only line, the saving in $ and %, per action, notes on what could not
 * be priced, and a bar chart of cost per day ("2026-11-25 ######## $0.42"). */
void ledger_report_text(const ledger_report *r, buf_t *out);

/* Turns a period into [since_ms, until_ms), UTC, relative to now_ms:
 *   "today"   the current day
 *   "week"    the last 7 days: today and the 6 before
 *   "month"   the current calendar month
 *   "all"     everything (LEDGER_TS_MIN, LEDGER_TS_MAX)
 *   "YYYY-MM-DD"              that day
 *   "YYYY-MM-DD..YYYY-MM-DD"  from the first day to the last, both included
 * Returns 0, or -1 with a message in `err` naming what is accepted. */
int ledger_period_parse(const char *spec, int64_t now_ms, int64_t *since_ms, int64_t *until_ms,
                        char *err, size_t errlen);

#endif
