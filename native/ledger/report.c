#include "ledger/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_PER_DAY 86400000LL
/* Gaps between spending days are filled (for an honest bar chart) up to this span. */
#define MAX_FILLED_DAYS 366
#define BAR_WIDTH 40

static int64_t floor_div(int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- grouping ------------------------------------------------------------------------------ */

typedef struct {
  const char *k1;
  const char *k2;
  const ledger_entry *e;
} keyed;

/* By row key, then task: one pass over the sorted array then counts rows and distinct tasks
 * without a hash table, in O(n log n) however many distinct models a ledger holds. */
static int cmp_keyed(const void *a, const void *b)
{
  const keyed *x = a, *y = b;
  int c = strcmp(x->k1, y->k1);
  if (c == 0) {
    c = strcmp(x->k2, y->k2);
  }
  return c != 0 ? c : strcmp(x->e->task_id, y->e->task_id);
}

static void add_to_row(ledger_report_row *row, const ledger_entry *e)
{
  row->entries++;
  row->input_tokens += e->input_tokens > 0 ? e->input_tokens : 0;
  row->cached_input_tokens += e->cached_input_tokens > 0 ? e->cached_input_tokens : 0;
  row->cache_write_tokens += e->cache_write_tokens > 0 ? e->cache_write_tokens : 0;
  row->output_tokens += e->output_tokens > 0 ? e->output_tokens : 0;
  if (e->cost_known) {
    row->cost_usd += e->cost_usd;
  } else {
    row->unpriced_entries++;
  }
  if (e->full_cost_known) {
    row->full_only_usd += e->full_cost_usd;
  } else {
    row->full_unpriced_entries++;
  }
}

enum { GROUP_TIER, GROUP_ACTION, GROUP_ALL };

/* Groups the entries into rows; returns the rows (owned by the caller) and their number. For
 * GROUP_ALL there is one row (when there are entries) and *multi counts the tasks with an
 * escalated call. */
static ledger_report_row *group(const ledger_entries *l, int how, size_t *nrows, size_t *multi)
{
  *nrows = 0;
  if (l->count == 0) {
    return NULL;
  }
  keyed *k = xmalloc(l->count * sizeof(*k));
  for (size_t i = 0; i < l->count; i++) {
    const ledger_entry *e = &l->items[i];
    k[i].k1 = how == GROUP_TIER ? e->tier : how == GROUP_ACTION ? e->action : "";
    k[i].k2 = how == GROUP_TIER ? e->model : "";
    k[i].e = e;
  }
  qsort(k, l->count, sizeof(*k), cmp_keyed);
  ledger_report_row *rows = NULL;
  size_t n = 0, cap = 0, run = 0;
  for (size_t i = 0; i < l->count; i++) {
    bool new_row = i == 0 || strcmp(k[i].k1, k[i - 1].k1) != 0 || strcmp(k[i].k2, k[i - 1].k2);
    bool new_task = new_row || strcmp(k[i].e->task_id, k[i - 1].e->task_id) != 0;
    if (new_row) {
      if (n == cap) {
        cap = cap ? cap * 2 : 8;
        rows = xrealloc(rows, cap * sizeof(*rows));
      }
      memset(&rows[n], 0, sizeof(rows[n]));
      if (how == GROUP_TIER) {
        rows[n].tier = xstrdup(k[i].k1);
        rows[n].model = xstrdup(k[i].k2);
      } else if (how == GROUP_ACTION) {
        rows[n].action = xstrdup(k[i].k1);
      }
      n++;
    }
    if (new_task) {
      rows[n - 1].tasks++;
      run = 0;
    }
    /* a task escalated when one of its calls ended so (a plan's steps share one task too) */
    if (multi && !run && k[i].e->outcome == LEDGER_ESCALATED) {
      (*multi)++;
      run = 1;
    }
    add_to_row(&rows[n - 1], k[i].e);
  }
  free(k);
  *nrows = n;
  return rows;
}

static int tier_rank(const char *tier)
{
  int t = tier_from_name(tier);
  return t < 0 ? TIER__COUNT : t;
}

static int cmp_tier_rows(const void *a, const void *b)
{
  const ledger_report_row *x = a, *y = b;
  int rx = tier_rank(x->tier), ry = tier_rank(y->tier);
  if (rx != ry) {
    return rx < ry ? -1 : 1;
  }
  int c = strcmp(x->tier, y->tier);
  return c != 0 ? c : strcmp(x->model, y->model);
}

static int cmp_action_rows(const void *a, const void *b)
{
  const ledger_report_row *x = a, *y = b;
  if (x->cost_usd != y->cost_usd) {
    return x->cost_usd > y->cost_usd ? -1 : 1;
  }
  return strcmp(x->action, y->action);
}

static int cmp_days(const void *a, const void *b)
{
  const ledger_report_day *x = a, *y = b;
  return x->day < y->day ? -1 : x->day > y->day;
}

static void build_days(ledger_report *r, const ledger_entries *l)
{
  if (l->count == 0) {
    return;
  }
  ledger_report_day *d = xmalloc(l->count * sizeof(*d));
  for (size_t i = 0; i < l->count; i++) {
    d[i].day = floor_div(l->items[i].ts_ms, MS_PER_DAY);
    d[i].cost_usd = l->items[i].cost_known ? l->items[i].cost_usd : 0;
    d[i].entries = 1;
  }
  qsort(d, l->count, sizeof(*d), cmp_days);
  size_t n = 0;
  for (size_t i = 0; i < l->count; i++) {
    if (n > 0 && d[n - 1].day == d[i].day) {
      d[n - 1].cost_usd += d[i].cost_usd;
      d[n - 1].entries++;
    } else {
      d[n++] = d[i];
    }
  }
  int64_t span = d[n - 1].day - d[0].day + 1;
  if (span <= MAX_FILLED_DAYS && (size_t)span > n) {
    ledger_report_day *full = xcalloc((size_t)span, sizeof(*full));
    for (int64_t i = 0; i < span; i++) {
      full[i].day = d[0].day + i;
    }
    for (size_t i = 0; i < n; i++) {
      full[d[i].day - d[0].day] = d[i];
    }
    free(d);
    d = full;
    n = (size_t)span;
  }
  r->by_day = d;
  r->nday = n;
}

static void add_warning(void *data, const char *text)
{
  ledger_report *r = data;
  r->warnings = xrealloc(r->warnings, (r->nwarnings + 1) * sizeof(*r->warnings));
  r->warnings[r->nwarnings++] = xstrdup(text);
}

void ledger_report_build(ledger_report *r, const ledger_entries *l, int64_t since_ms,
                         int64_t until_ms)
{
  memset(r, 0, sizeof(*r));
  r->since_ms = since_ms;
  r->until_ms = until_ms;
  /* The report counts only the period even if handed more. */
  ledger_entries in = *l;
  ledger_entry *kept = NULL;
  size_t nkept = 0;
  for (size_t i = 0; i < l->count; i++) {
    if (l->items[i].ts_ms < since_ms || l->items[i].ts_ms >= until_ms) {
      kept = xmalloc((l->count ? l->count : 1) * sizeof(*kept));
      for (size_t j = 0; j < l->count; j++) {
        if (l->items[j].ts_ms >= since_ms && l->items[j].ts_ms < until_ms) {
          kept[nkept++] = l->items[j];
        }
      }
      in.items = kept;
      in.count = nkept;
      break;
    }
  }

  size_t nall = 0, multi = 0;
  ledger_report_row *all = group(&in, GROUP_ALL, &nall, &multi);
  double compared_cost = 0, compared_full = 0;
  for (size_t i = 0; i < in.count; i++) {
    const ledger_entry *e = &in.items[i];
    r->estimated_entries += e->estimated;
    if (e->cost_known && e->full_cost_known) {
      r->compared_entries++;
      compared_cost += e->cost_usd;
      compared_full += e->full_cost_usd;
    }
  }
  if (nall == 1) {
    r->entries = all[0].entries;
    r->tasks = all[0].tasks;
    r->cost_usd = all[0].cost_usd;
    r->full_only_usd = all[0].full_only_usd;
    r->unpriced_entries = all[0].unpriced_entries;
    r->full_unpriced_entries = all[0].full_unpriced_entries;
    r->escalated_tasks = multi;
    free(all[0].tier);
    free(all[0].model);
    free(all[0].action);
  }
  free(all);
  if (r->compared_entries > 0) {
    r->savings_known = true;
    r->savings_usd = compared_full - compared_cost;
    if (compared_full > 0) {
      r->savings_pct_known = true;
      r->savings_pct = r->savings_usd / compared_full * 100.0;
    }
  }
  if (r->tasks > 0) {
    r->avg_known = true;
    r->avg_cost_per_task = r->cost_usd / (double)r->tasks;
  }
  r->by_tier = group(&in, GROUP_TIER, &r->ntier, NULL);
  if (r->ntier > 1) {
    qsort(r->by_tier, r->ntier, sizeof(*r->by_tier), cmp_tier_rows);
  }
  r->by_action = group(&in, GROUP_ACTION, &r->naction, NULL);
  if (r->naction > 1) {
    qsort(r->by_action, r->naction, sizeof(*r->by_action), cmp_action_rows);
  }
  build_days(r, &in);
  ledger_warnings(l, add_warning, r);
  free(kept);
}

static void free_rows(ledger_report_row *rows, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(rows[i].tier);
    free(rows[i].model);
    free(rows[i].action);
  }
  free(rows);
}

void ledger_report_free(ledger_report *r)
{
  free_rows(r->by_tier, r->ntier);
  free_rows(r->by_action, r->naction);
  free(r->by_day);
  for (size_t i = 0; i < r->nwarnings; i++) {
    free(r->warnings[i]);
  }
  free(r->warnings);
  memset(r, 0, sizeof(*r));
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static void format_date(int64_t day, char out[11])
{
  int64_t y;
  int m, d;
  ledger_civil_from_days(day, &y, &m, &d);
  y = y < 0 ? 0 : y > 9999 ? 9999 : y;
  snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
           (unsigned)d % 100u);
}

static json_t *json_bound(int64_t ms, int64_t open)
{
  if (ms == open) {
    return json_null();
  }
  char ts[LEDGER_TS_SIZE];
  ledger_format_ts(ms, ts);
  return json_string(ts);
}

static json_t *json_maybe(bool known, double v)
{
  return known ? json_real(v) : json_null();
}

static json_t *json_size(size_t n)
{
  return json_integer((json_int_t)n);
}

json_t *ledger_report_json(const ledger_report *r)
{
  json_t *o = json_object();
  json_object_set_new(o, "since", json_bound(r->since_ms, LEDGER_TS_MIN));
  json_object_set_new(o, "until", json_bound(r->until_ms, LEDGER_TS_MAX));
  json_object_set_new(o, "entries", json_size(r->entries));
  json_object_set_new(o, "tasks", json_size(r->tasks));
  json_object_set_new(o, "cost_usd", json_real(r->cost_usd));
  json_object_set_new(o, "full_only_usd", json_real(r->full_only_usd));
  json_object_set_new(o, "savings_usd", json_maybe(r->savings_known, r->savings_usd));
  json_object_set_new(o, "savings_pct", json_maybe(r->savings_pct_known, r->savings_pct));
  json_object_set_new(o, "avg_cost_per_task", json_maybe(r->avg_known, r->avg_cost_per_task));
  json_object_set_new(o, "unpriced_entries", json_size(r->unpriced_entries));
  json_object_set_new(o, "full_unpriced_entries", json_size(r->full_unpriced_entries));
  json_object_set_new(o, "compared_entries", json_size(r->compared_entries));
  json_object_set_new(o, "estimated_entries", json_size(r->estimated_entries));
  json_object_set_new(o, "escalated_tasks", json_size(r->escalated_tasks));
  json_t *tiers = json_array();
  for (size_t i = 0; i < r->ntier; i++) {
    const ledger_report_row *row = &r->by_tier[i];
    json_array_append_new(
      tiers, json_pack("{s:s,s:s,s:o,s:o,s:I,s:I,s:I,s:f,s:o}", "tier", row->tier, "model",
                       row->model, "tasks", json_size(row->tasks), "entries",
                       json_size(row->entries), "input_tokens", (json_int_t)row->input_tokens,
                       "cached_input_tokens", (json_int_t)row->cached_input_tokens,
                       "output_tokens", (json_int_t)row->output_tokens, "cost_usd",
                       row->cost_usd, "unpriced_entries", json_size(row->unpriced_entries)));
  }
  json_object_set_new(o, "by_tier", tiers);
  json_t *actions = json_array();
  for (size_t i = 0; i < r->naction; i++) {
    const ledger_report_row *row = &r->by_action[i];
    json_array_append_new(
      actions, json_pack("{s:s,s:o,s:o,s:f,s:f,s:o}", "action", row->action, "tasks",
                         json_size(row->tasks), "entries", json_size(row->entries), "cost_usd",
                         row->cost_usd, "full_only_usd", row->full_only_usd,
                         "unpriced_entries", json_size(row->unpriced_entries)));
  }
  json_object_set_new(o, "by_action", actions);
  json_t *days = json_array();
  for (size_t i = 0; i < r->nday; i++) {
    char date[11];
    format_date(r->by_day[i].day, date);
    json_array_append_new(days, json_pack("{s:s,s:f}", "date", date, "cost_usd",
                                          r->by_day[i].cost_usd));
  }
  json_object_set_new(o, "by_day", days);
  json_t *warnings = json_array();
  for (size_t i = 0; i < r->nwarnings; i++) {
    json_array_append_new(warnings, json_string(r->warnings[i]));
  }
  json_object_set_new(o, "warnings", warnings);
  return o;
}

/* ---- text ---------------------------------------------------------------------------------- */

/* Dollars with cents, and with four decimals below a dollar where single requests live. */
static void money(char out[32], double usd)
{
  if (usd >= 1 || usd <= -1 || usd == 0) {
    snprintf(out, 32, "$%.2f", usd);
  } else {
    snprintf(out, 32, "$%.4f", usd);
  }
}

static void period_text(const ledger_report *r, buf_t *out)
{
  char a[11], b[11];
  bool open_since = r->since_ms == LEDGER_TS_MIN, open_until = r->until_ms == LEDGER_TS_MAX;
  if (!open_since) {
    format_date(floor_div(r->since_ms, MS_PER_DAY), a);
  }
  if (!open_until) {
    format_date(floor_div(r->until_ms - 1, MS_PER_DAY), b);
  }
  if (open_since && open_until) {
    buf_puts(out, "all time");
  } else if (open_since) {
    buf_printf(out, "up to %s", b);
  } else if (open_until) {
    buf_printf(out, "since %s", a);
  } else if (strcmp(a, b) == 0) {
    buf_puts(out, a);
  } else {
    buf_printf(out, "%s to %s", a, b);
  }
}

static void table_line(buf_t *out, int width, const char *label, const char *tasks,
                       const char *cost, const char *avg)
{
  buf_printf(out, "%-*s %7s %11s %11s\n", width, label, tasks, cost, avg);
}

static void tier_rows_text(const ledger_report *r, buf_t *out)
{
  const char *hybrid = "Hybrid (what you paid)";
  const char *full = "Full-only (same tokens)";
  int tierw = 4;
  for (size_t i = 0; i < r->ntier; i++) {
    int n = (int)strlen(r->by_tier[i].tier);
    tierw = n > tierw ? n : tierw;
  }
  int width = (int)strlen(full);
  for (size_t i = 0; i < r->ntier; i++) {
    int n = tierw + 2 + (int)strlen(r->by_tier[i].model);
    width = n > width ? n : width;
  }
  char label[256], tasks[32], cost[32], avg[32];
  snprintf(label, sizeof(label), "%-*s  %s", tierw, "tier", "model");
  table_line(out, width, label, "tasks", "cost", "avg/task");
  for (size_t i = 0; i < r->ntier; i++) {
    const ledger_report_row *row = &r->by_tier[i];
    snprintf(label, sizeof(label), "%-*s  %s", tierw, row->tier, row->model);
    snprintf(tasks, sizeof(tasks), "%zu", row->tasks);
    if (row->unpriced_entries == row->entries) {
      snprintf(cost, sizeof(cost), "unpriced");
      snprintf(avg, sizeof(avg), "-");
    } else {
      money(cost, row->cost_usd);
      money(avg, row->cost_usd / (double)row->tasks);
    }
    table_line(out, width, label, tasks, cost, avg);
  }
  snprintf(tasks, sizeof(tasks), "%zu", r->tasks);
  money(cost, r->cost_usd);
  money(avg, r->avg_cost_per_task);
  table_line(out, width, hybrid, tasks, cost, avg);
  money(cost, r->full_only_usd);
  money(avg, r->full_only_usd / (double)r->tasks);
  table_line(out, width, full, tasks, cost, avg);
  if (r->savings_known) {
    money(cost, r->savings_usd);
    if (r->savings_pct_known) {
      snprintf(avg, sizeof(avg), "%.1f%%", r->savings_pct);
    } else {
      snprintf(avg, sizeof(avg), "-");
    }
  } else {
    snprintf(cost, sizeof(cost), "unknown");
    snprintf(avg, sizeof(avg), "-");
  }
  table_line(out, width, "Saving", "", cost, avg);
}

static void action_rows_text(const ledger_report *r, buf_t *out)
{
  int width = 6;
  for (size_t i = 0; i < r->naction; i++) {
    int n = (int)strlen(r->by_action[i].action);
    width = n > width ? n : width;
  }
  char tasks[32], cost[32], full[32];
  table_line(out, width, "action", "tasks", "cost", "full-only");
  for (size_t i = 0; i < r->naction; i++) {
    const ledger_report_row *row = &r->by_action[i];
    snprintf(tasks, sizeof(tasks), "%zu", row->tasks);
    money(cost, row->cost_usd);
    money(full, row->full_only_usd);
    table_line(out, width, row->action, tasks, cost, full);
  }
}

static void notes_text(const ledger_report *r, buf_t *out)
{
  if (r->escalated_tasks > 0) {
    buf_printf(out, "- %zu task%s escalated from Mini to Full: one task in the total, one in "
               "each tier row.\n", r->escalated_tasks, r->escalated_tasks == 1 ? "" : "s");
  }
  if (r->unpriced_entries > 0) {
    buf_printf(out, "- %zu request%s used a model without a known price: not in the cost "
               "(add it under \"prices\" in the config).\n", r->unpriced_entries,
               r->unpriced_entries == 1 ? "" : "s");
  }
  if (r->full_unpriced_entries > 0) {
    buf_printf(out, "- %zu request%s had no Full-tier price: not in the Full-only line.\n",
               r->full_unpriced_entries, r->full_unpriced_entries == 1 ? "" : "s");
  }
  if (r->compared_entries < r->entries) {
    buf_printf(out, "- The saving compares the %zu of %zu requests that have both prices.\n",
               r->compared_entries, r->entries);
  }
  if (r->estimated_entries > 0) {
    buf_printf(out, "- %zu request%s used token counts estimated by frugal (no usage from the "
               "provider).\n", r->estimated_entries, r->estimated_entries == 1 ? "" : "s");
  }
  for (size_t i = 0; i < r->nwarnings; i++) {
    buf_printf(out, "- warning: %s\n", r->warnings[i]);
  }
}

static void days_text(const ledger_report *r, buf_t *out)
{
  double max = 0;
  for (size_t i = 0; i < r->nday; i++) {
    max = r->by_day[i].cost_usd > max ? r->by_day[i].cost_usd : max;
  }
  buf_puts(out, "Cost per day (UTC)\n");
  for (size_t i = 0; i < r->nday; i++) {
    char date[11], cost[32];
    format_date(r->by_day[i].day, date);
    money(cost, r->by_day[i].cost_usd);
    int bar = max > 0 ? (int)(r->by_day[i].cost_usd / max * BAR_WIDTH + 0.5) : 0;
    if (bar == 0 && r->by_day[i].cost_usd > 0) {
      bar = 1; /* any spending shows */
    }
    buf_printf(out, "%s ", date);
    for (int k = 0; k < bar; k++) {
      buf_putc(out, '#');
    }
    buf_printf(out, "%s%s\n", bar ? " " : "", cost);
  }
}

void ledger_report_text(const ledger_report *r, buf_t *out)
{
  buf_puts(out, "frugal cost, ");
  period_text(r, out);
  buf_puts(out, " (UTC)\n\n");
  if (r->entries == 0) {
    buf_puts(out, "No requests recorded in this period.\n");
    if (r->nwarnings > 0) {
      buf_putc(out, '\n');
      notes_text(r, out);
    }
    return;
  }
  tier_rows_text(r, out);
  buf_putc(out, '\n');
  action_rows_text(r, out);
  buf_t notes = BUF_INIT;
  notes_text(r, &notes);
  if (notes.len > 0) {
    buf_putc(out, '\n');
    buf_append(out, notes.data, notes.len);
  }
  buf_free(&notes);
  buf_putc(out, '\n');
  days_text(r, out);
}

/* ---- periods ------------------------------------------------------------------------------- */

static int parse_date(const char *s, size_t n, int64_t *day)
{
  if (n != 10 || s[4] != '-' || s[7] != '-') {
    return -1;
  }
  int v[3] = {0, 0, 0};
  const int at[3] = {0, 5, 8}, len[3] = {4, 2, 2};
  for (int f = 0; f < 3; f++) {
    for (int i = 0; i < len[f]; i++) {
      char c = s[at[f] + i];
      if (c < '0' || c > '9') {
        return -1;
      }
      v[f] = v[f] * 10 + (c - '0');
    }
  }
  if (v[1] < 1 || v[1] > 12 || v[2] < 1) {
    return -1;
  }
  /* Reject Feb 30 and the like by a round trip instead of a second month table. */
  int64_t d = ledger_days_from_civil(v[0], v[1], v[2]);
  int64_t y;
  int m, dd;
  ledger_civil_from_days(d, &y, &m, &dd);
  if (y != v[0] || m != v[1] || dd != v[2]) {
    return -1;
  }
  *day = d;
  return 0;
}

int ledger_period_parse(const char *spec, int64_t now_ms, int64_t *since_ms, int64_t *until_ms,
                        char *err, size_t errlen)
{
  int64_t today = floor_div(now_ms, MS_PER_DAY);
  int64_t first, last; /* days, both included */
  const char *dots = spec ? strstr(spec, "..") : NULL;
  if (!spec) {
    spec = "";
  }
  if (strcmp(spec, "all") == 0) {
    *since_ms = LEDGER_TS_MIN;
    *until_ms = LEDGER_TS_MAX;
    return 0;
  } else if (strcmp(spec, "today") == 0) {
    first = last = today;
  } else if (strcmp(spec, "week") == 0) {
    first = today - 6;
    last = today;
  } else if (strcmp(spec, "month") == 0) {
    int64_t y;
    int m, d;
    ledger_civil_from_days(today, &y, &m, &d);
    first = ledger_days_from_civil(y, m, 1);
    last = (m == 12 ? ledger_days_from_civil(y + 1, 1, 1) : ledger_days_from_civil(y, m + 1, 1)) -
           1;
  } else if (dots) {
    if (parse_date(spec, (size_t)(dots - spec), &first) != 0 ||
        parse_date(dots + 2, strlen(dots + 2), &last) != 0 || last < first) {
      goto bad;
    }
  } else if (parse_date(spec, strlen(spec), &first) == 0) {
    last = first;
  } else {
    goto bad;
  }
  *since_ms = first * MS_PER_DAY;
  *until_ms = (last + 1) * MS_PER_DAY;
  return 0;
bad:
  snprintf(err, errlen,
           "cost: unknown period '%.60s' (today, week, month, all, YYYY-MM-DD or "
           "YYYY-MM-DD..YYYY-MM-DD)",
           spec);
  return -1;
}
