#include "action/run.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "route/prices.h"
#include "util/buf.h"

struct action_run {
  action_run_callbacks cb;
  void *data;
  llm_client *llm;
  llm_call *call;
  char *action;
  buf_t text;         /* the file, copied: the plan indexes it */
  action_plan plan;
  tier_config tier;   /* the tier answering now; copied: a `configure` during the run must not
                         pull it away */
  price_entry price;  /* valid when has_price */
  int has_price;
  int can_escalate;   /* an unusable answer goes once more, to the full tier */
  tier_config full;   /* valid when can_escalate */
  price_entry full_price;
  int has_full_price;
  json_t *escalated;  /* the first attempt's figures once escalated, else NULL */
  char cache_key[96];
  /* ledger */
  char *ledger_path;  /* NULL: no ledger could be placed (no HOME); the run still works */
  char *project;
  price_entry cf_price; /* the Full tier's prices: the "Full for everything" counterfactual */
  int has_cf_price;
  char task_id[LEDGER_ID_SIZE];
  json_t *ledger;     /* {id, task_id, path} of the last entry, or {error} */
  double spent_today; /* before this run */
  char *warning;      /* budget warning, or NULL */
};

static void run_free(action_run *r)
{
  action_plan_free(&r->plan);
  buf_free(&r->text);
  config_tier_free(&r->tier);
  if (r->can_escalate || r->escalated) {
    config_tier_free(&r->full);
  }
  json_decref(r->escalated);
  json_decref(r->ledger);
  free(r->ledger_path);
  free(r->project);
  free(r->warning);
  free(r->action);
  free(r);
}

static void price_to_ledger(const price_entry *p, ledger_price *lp)
{
  lp->input = p->input;
  lp->cached_input = p->cached_input;
  lp->output = p->output;
  lp->cache_write = p->cache_write;
}

/* Appends the call that just ended to the ledger. Returns its cost when known, else -1. */
static double record(action_run *r, const llm_result *res, ledger_outcome outcome)
{
  ledger_entry e;
  ledger_entry_init(&e);
  if (r->task_id[0]) {
    memcpy(e.task_id, r->task_id, sizeof(e.task_id));
  } else {
    memcpy(r->task_id, e.task_id, sizeof(r->task_id));
  }
  e.project = r->project;
  e.action = r->action;
  e.tier = tier_name(r->plan.route.tier);
  e.provider = provider_name(r->tier.provider);
  e.model = r->tier.model;
  stream_usage u = res->usage;
  int estimated = res->usage_estimated;
  if (u.input_tokens == STREAM_UNKNOWN || u.output_tokens == STREAM_UNKNOWN) {
    /* A failed or cancelled call may have no usage at all; what was sent still counts. */
    if (u.input_tokens == STREAM_UNKNOWN) {
      u.input_tokens = r->plan.route.input_tokens;
    }
    if (u.output_tokens == STREAM_UNKNOWN) {
      u.output_tokens = (int64_t)(res->text_len / 4);
    }
    estimated = 1;
  }
  ledger_entry_set_usage(&e, &u);
  e.estimated = estimated;
  double cost = -1;
  if (r->has_price) {
    price_to_ledger(&r->price, &e.price);
    e.price_known = true;
    e.cost_known = ledger_cost(&e.price, &u, &e.cost_usd) == 0;
    cost = e.cost_known ? e.cost_usd : -1;
  }
  if (r->has_cf_price) {
    ledger_price fp;
    price_to_ledger(&r->cf_price, &fp);
    e.full_cost_known = ledger_cost(&fp, &u, &e.full_cost_usd) == 0;
  }
  e.latency_ms = (int64_t)res->latency_ms;
  e.outcome = outcome;
  e.error = res->status == LLM_OK || !res->message || !*res->message ? NULL : res->message;
  json_decref(r->ledger);
  char err[400];
  if (!r->ledger_path) {
    r->ledger = json_pack("{s:s}", "error", "no ledger path: set ledger.path or HOME");
  } else if (ledger_append(r->ledger_path, &e, err, sizeof(err)) != 0) {
    r->ledger = json_pack("{s:s}", "error", err);
  } else {
    r->ledger = json_pack("{s:s,s:s,s:s}", "id", e.id, "task_id", e.task_id, "path",
                          r->ledger_path);
  }
  return cost;
}

static void day_and_month_start(int64_t now_ms, int64_t *day, int64_t *month)
{
  int64_t days = now_ms / 86400000;
  int64_t y;
  int m, d;
  ledger_civil_from_days(days, &y, &m, &d);
  *day = days * 86400000;
  *month = ledger_days_from_civil(y, m, 1) * 86400000;
}

/* Checks the budgets against the ledger. Returns 0 (r->warning set when past 80%), or -1 with
 * the refusal in `err`. */
static int check_budget(action_run *r, const frugal_config *cfg, int override, char *err,
                        size_t errlen)
{
  int64_t now = ledger_now_ms(), day0, month0;
  day_and_month_start(now, &day0, &month0);
  double today = 0, month = 0;
  if (r->ledger_path) {
    ledger_entries l;
    char rerr[256];
    ledger_read(r->ledger_path, month0 < day0 ? month0 : day0, LEDGER_TS_MAX, &l, rerr,
                sizeof(rerr));
    for (size_t i = 0; i < l.count; i++) {
      if (l.items[i].cost_known) {
        month += l.items[i].cost_usd;
        today += l.items[i].ts_ms >= day0 ? l.items[i].cost_usd : 0;
      }
    }
    ledger_entries_free(&l);
  }
  r->spent_today = today;
  double est = r->plan.route.usd > 0 ? r->plan.route.usd : 0;
  const struct {
    const char *name;
    double limit, spent;
  } b[] = {{"daily", cfg->budget_daily_usd, today}, {"monthly", cfg->budget_monthly_usd, month}};
  for (size_t i = 0; i < 2; i++) {
    if (b[i].limit < 0) {
      continue;
    }
    const char *when = i == 0 ? "today" : "this month";
    if (b[i].spent + est > b[i].limit && !override) {
      snprintf(err, errlen,
               "%s budget of $%.2f %s: $%.4f spent %s and this request is estimated at $%.4f "
               "(budget.%s_usd); add budget=ignore (frugal run --over-budget) to send it anyway",
               b[i].name, b[i].limit, b[i].spent >= b[i].limit ? "reached" : "would be passed",
               b[i].spent, when, est, b[i].name);
      return -1;
    }
    if (b[i].spent + est > 0.8 * b[i].limit && !r->warning) {
      buf_t w = BUF_INIT;
      buf_printf(&w, "this request would bring %s spend to $%.4f of the $%.2f %s budget (%.0f%%)",
                 i == 0 ? "today's" : "this month's", b[i].spent + est, b[i].limit, b[i].name,
                 b[i].limit > 0 ? 100.0 * (b[i].spent + est) / b[i].limit : 100.0);
      r->warning = buf_detach(&w);
    }
  }
  return 0;
}

const char *action_run_warning(const action_run *run)
{
  return run->warning;
}

static long known(int64_t v)
{
  return v == STREAM_UNKNOWN ? 0 : (long)v;
}

static json_t *cost_json(const action_run *r, const llm_result *res)
{
  if (!r->has_price) {
    return json_null();
  }
  const stream_usage *u = &res->usage;
  return json_real(prices_cost(&r->price, known(u->input_tokens), known(u->cached_input_tokens),
                               known(u->cache_write_tokens), known(u->output_tokens)));
}

static json_t *usage_json(const stream_usage *u, int estimated)
{
  json_t *o = json_object();
  const struct {
    const char *name;
    int64_t v;
  } f[] = {
    {"input_tokens", u->input_tokens},         {"cached_input_tokens", u->cached_input_tokens},
    {"cache_write_tokens", u->cache_write_tokens}, {"output_tokens", u->output_tokens},
    {"reasoning_tokens", u->reasoning_tokens},
  };
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    json_object_set_new(o, f[i].name, f[i].v == STREAM_UNKNOWN ? json_null() : json_integer(f[i].v));
  }
  json_object_set_new(o, "estimated", json_boolean(estimated));
  return o;
}

static const char *output_name(prompt_output o)
{
  switch (o) {
  case PROMPT_OUT_MARKDOWN:
    return "markdown";
  case PROMPT_OUT_REPLACE:
    return "replace";
  case PROMPT_OUT_REVIEW:
    return "review";
  case PROMPT_OUT_TESTS:
    return "tests";
  }
  return "markdown";
}

/* The result object for a finished call (see run.h); `a` is the parsed answer, or NULL when
 * the call failed or the output is markdown. */
static json_t *result_json(action_run *r, const llm_result *res, const prompt_answer *a)
{
  const action_plan *p = &r->plan;
  json_t *o = json_object();
  json_object_set_new(o, "action", json_string(r->action));
  json_object_set_new(o, "tier", json_string(tier_name(p->route.tier)));
  json_object_set_new(o, "model", action_json_text(r->tier.model, strlen(r->tier.model)));
  json_object_set_new(o, "text", action_json_text(res->text ? res->text : "", res->text_len));
  json_object_set_new(o, "output", json_string(output_name(r->plan.prompt.output)));
  json_t *edit = json_null(), *findings = json_null(), *tests = json_null();
  json_t *problem = json_null();
  if (a) {
    if (!a->ok) {
      problem = action_json_text(a->problem ? a->problem : "unusable answer",
                                 a->problem ? strlen(a->problem) : 15);
    } else if (r->plan.prompt.output == PROMPT_OUT_REPLACE) {
      edit = json_object();
      json_object_set_new(edit, "start_line", json_integer(p->pkg.start_line));
      json_object_set_new(edit, "end_line", json_integer(p->pkg.end_line));
      json_object_set_new(edit, "replacement",
                          action_json_text(a->replacement, strlen(a->replacement)));
    } else if (r->plan.prompt.output == PROMPT_OUT_REVIEW) {
      findings = json_array();
      for (size_t i = 0; i < a->nfindings; i++) {
        json_t *f = json_object();
        json_object_set_new(f, "line", json_integer(a->findings[i].line));
        json_object_set_new(f, "message", action_json_text(a->findings[i].message,
                                                           strlen(a->findings[i].message)));
        json_array_append_new(findings, f);
      }
    } else if (r->plan.prompt.output == PROMPT_OUT_TESTS && r->plan.has_tests) {
      const testconv *t = &r->plan.tests;
      tests = json_object();
      json_object_set_new(tests, "path", action_json_text(t->test_path, strlen(t->test_path)));
      json_object_set_new(tests, "exists", json_boolean(t->exists));
      json_object_set_new(tests, "append", json_boolean(t->exists));
      json_object_set_new(tests, "content",
                          action_json_text(a->replacement, strlen(a->replacement)));
      json_object_set_new(tests, "framework",
                          t->framework ? json_string(t->framework) : json_null());
      json_object_set_new(tests, "why", t->why ? action_json_text(t->why, strlen(t->why))
                                               : json_null());
    }
  }
  json_object_set_new(o, "edit", edit);
  json_object_set_new(o, "findings", findings);
  json_object_set_new(o, "tests", tests);
  json_object_set_new(o, "problem", problem);
  json_object_set_new(o, "usage", usage_json(&res->usage, res->usage_estimated));
  json_object_set_new(o, "cost_usd", cost_json(r, res));
  json_object_set_new(o, "latency_ms", json_real(res->latency_ms));
  json_object_set_new(o, "attempts", json_integer(res->attempts));
  json_object_set_new(o, "escalated", r->escalated ? json_incref(r->escalated) : json_null());
  return o;
}

static void on_delta(llm_call *call, stream_event_kind kind, const char *text, size_t len,
                     void *data)
{
  action_run *r = data;
  if (r->cb.on_delta) {
    r->cb.on_delta(r, kind, text, len, r->data);
  }
}

static void on_retry(llm_call *call, int attempt, double delay_ms, const char *why, void *data)
{
  action_run *r = data;
  if (r->cb.on_retry) {
    r->cb.on_retry(r, attempt, delay_ms, why, r->data);
  }
}

static const llm_callbacks llm_cb;

/* Sends the request once more to the full tier, with the reason the first answer failed at the
 * end of the task (the prompt's cached prefix stays the same). Returns 0, or -1 if the call
 * could not start. */
static int escalate(action_run *r, const llm_result *res, const char *problem)
{
  record(r, res, LEDGER_ESCALATED);
  json_t *first = json_object();
  json_object_set_new(first, "from_tier", json_string(tier_name(r->plan.route.tier)));
  json_object_set_new(first, "from_model", json_string(r->tier.model));
  json_object_set_new(first, "problem", json_string(problem));
  json_object_set_new(first, "usage", usage_json(&res->usage, res->usage_estimated));
  json_object_set_new(first, "cost_usd", cost_json(r, res));
  json_object_set_new(first, "attempts", json_integer(res->attempts));
  r->escalated = first;
  r->can_escalate = 0;
  config_tier_free(&r->tier);
  config_tier_copy(&r->tier, &r->full);
  r->price = r->full_price;
  r->has_price = r->has_full_price;
  r->plan.route.tier = TIER_FULL;
  buf_t task = BUF_INIT;
  buf_puts(&task, r->plan.prompt.task);
  buf_printf(&task,
             "\n\nAn earlier answer to this task could not be used: %s. Answer again, and follow "
             "the output format exactly.\n",
             problem);
  free(r->plan.prompt.task);
  r->plan.prompt.task = buf_detach(&task);
  if (r->cb.on_escalate) {
    r->cb.on_escalate(r, problem, r->tier.model, r->data);
  }
  llm_request lr = {.tier = &r->tier, .prompt = &r->plan.prompt, .cache_key = r->cache_key};
  char err[256];
  r->call = llm_call_start(r->llm, &lr, &llm_cb, r, err, sizeof(err));
  return r->call ? 0 : -1;
}

static void on_done(llm_call *call, const llm_result *res, void *data)
{
  action_run *r = data;
  r->call = NULL;
  prompt_answer a;
  int parsed = 0;
  if (res->status == LLM_OK && r->plan.prompt.output != PROMPT_OUT_MARKDOWN) {
    prompt_parse_answer(r->plan.prompt.output, r->plan.lang, res->text ? res->text : "",
                        res->text_len, r->plan.pkg.start_line, r->plan.pkg.end_line, &a);
    parsed = 1;
    if (!a.ok && r->can_escalate) {
      char problem[300];
      snprintf(problem, sizeof(problem), "%s", a.problem ? a.problem : "unusable answer");
      prompt_answer_free(&a);
      if (escalate(r, res, problem) == 0) {
        return;
      }
      parsed = 0;
    }
  }
  ledger_outcome outcome = res->status == LLM_OK          ? LEDGER_ANSWERED
                           : res->status == LLM_CANCELLED ? LEDGER_CANCELLED
                                                          : LEDGER_FAILED;
  double cost = record(r, res, outcome);
  json_t *result = result_json(r, res, parsed ? &a : NULL);
  if (parsed) {
    prompt_answer_free(&a);
  }
  json_object_set(result, "ledger", r->ledger ? r->ledger : json_null());
  json_object_set_new(result, "spent_today_usd",
                      json_real(r->spent_today + (cost > 0 ? cost : 0) +
                                (r->escalated ? json_number_value(json_object_get(
                                                    r->escalated, "cost_usd"))
                                              : 0)));
  json_object_set_new(result, "budget_warning",
                      r->warning ? json_string(r->warning) : json_null());
  const char *error = NULL;
  if (res->status == LLM_CANCELLED) {
    error = "cancelled";
  } else if (res->status != LLM_OK) {
    error = res->message && *res->message ? res->message : "the model call failed";
  }
  r->cb.on_done(r, error, result, r->data);
  json_decref(result);
  run_free(r);
}

static const llm_callbacks llm_cb = {on_delta, on_retry, on_done};

action_run *action_run_start(llm_client *llm, const frugal_config *cfg, const action_request *req,
                             const char *text, size_t len, const action_run_callbacks *cb,
                             void *data, char *err, size_t errlen)
{
  action_run *r = xcalloc(1, sizeof(*r));
  r->llm = llm;
  r->cb = *cb;
  r->data = data;
  r->action = xstrdup(req->action ? req->action : "");
  buf_append(&r->text, text, len);
  if (action_plan_build(cfg, req, r->text.data ? r->text.data : "", r->text.len, 1, &r->plan, err,
                        errlen)) {
    buf_free(&r->text);
    free(r->action);
    free(r);
    return NULL;
  }
  const tier_config *tier = &cfg->tiers[r->plan.route.tier];
  config_tier_copy(&r->tier, tier);
  r->has_price = prices_lookup(cfg, tier->model, tier->provider, &r->price) == 0;
  r->can_escalate = cfg->escalate && r->plan.route.tier == TIER_MINI && req->forced_tier < 0 &&
                    r->plan.prompt.output != PROMPT_OUT_MARKDOWN;
  const tier_config *full = &cfg->tiers[TIER_FULL];
  if (r->can_escalate) {
    config_tier_copy(&r->full, full);
    r->has_full_price = prices_lookup(cfg, full->model, full->provider, &r->full_price) == 0;
  }
  r->has_cf_price = prices_lookup(cfg, full->model, full->provider, &r->cf_price) == 0;
  char lpath[4096];
  if (req->ledger_path || cfg->ledger_path) {
    r->ledger_path = xstrdup(req->ledger_path ? req->ledger_path : cfg->ledger_path);
  } else if (ledger_default_path(lpath, sizeof(lpath)) == 0) {
    r->ledger_path = xstrdup(lpath);
  }
  if (check_budget(r, cfg, req->budget_override, err, errlen)) {
    run_free(r);
    return NULL;
  }

  if (r->cb.on_start) {
    r->cb.on_start(r, &r->plan, r->data);
  }
  /* Requests on the same project and action share a cache key, so the provider routes them to
   * the machine that holds their common prefix. */
  char cwd[PATH_MAX];
  const char *base = r->plan.has_tests ? r->plan.tests.root : getcwd(cwd, sizeof(cwd));
  r->project = base ? xstrdup(base) : NULL;
  unsigned long h = 5381;
  for (const char *s = base ? base : ""; *s; s++) {
    h = h * 33 + (unsigned char)*s;
  }
  snprintf(r->cache_key, sizeof(r->cache_key), "frugal:%08lx:%s", h & 0xffffffffUL, r->action);
  llm_request lr = {
    .tier = &r->tier,
    .prompt = &r->plan.prompt,
    .cache_key = r->cache_key,
  };
  r->call = llm_call_start(llm, &lr, &llm_cb, r, err, errlen);
  if (!r->call) {
    run_free(r);
    return NULL;
  }
  return r;
}

void action_run_cancel(action_run *run)
{
  if (run->call) {
    llm_call_cancel(run->call);
  }
}
