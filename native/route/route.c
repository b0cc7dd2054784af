#include "route/route.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/catalogue.h"
#include "core/prices.h"

static void reason(route_decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason(route_decision *d, const char *fmt, ...)
{
  if (d->nreasons >= ROUTE_MAX_REASONS) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->reasons[d->nreasons++], ROUTE_REASON_LEN, fmt, ap);
  va_end(ap);
}

/* "1.8k" for readable reasons. */
static void fmt_tokens(char *out, size_t n, long tokens)
{
  if (tokens >= 1000) {
    snprintf(out, n, "%.1fk", (double)tokens / 1000.0);
  } else {
    snprintf(out, n, "%ld", tokens);
  }
}

static double estimate_usd(const frugal_config *cfg, tier_id tier, long in, long out)
{
  const tier_config *t = &cfg->tiers[tier];
  price_entry p;
  if (config_price_lookup(cfg, t->model, t->provider, &p)) {
    return -1;
  }
  return prices_cost(&p, in, 0, 0, out);
}

/* Phrases that make a request multi-step or unbounded (the article's failing prompts). */
static const char *const vague_phrases[] = {
  "entire", "whole app", "whole codebase", "the codebase", "my app", "the app", "all files",
  "every file", "across", "everything", "architecture", "design a", "redesign", "end to end",
  "end-to-end", "the project", "my project", "the module", "performance issues", "improve it",
  "make it better", "clean up", "best practices", "security improvements", "overall", "flow",
  NULL};

/* Signs of a specific, single-step request. */
static const char *const specific_phrases[] = {
  "this function", "this method", "this class", "this code", "this loop", "this line",
  "this block", "these", "line ", "lines ", "focus on", "only", "not ", "check for",
  "test cases", "return ", "rename", "extract", "throw", "raise", "wrap", "instead of", NULL};

static const char *find_ci(const char *hay, const char *needle)
{
  size_t n = strlen(needle);
  for (const char *p = hay; *p; p++) {
    if (strncasecmp(p, needle, n) == 0) {
      return p;
    }
  }
  return NULL;
}

int route_request_is_specific(const char *text, const char *scope_name, char *why, size_t n)
{
  if (!text || !*text) {
    snprintf(why, n, "no question: nothing to judge");
    return 1;
  }
  const char *vague = NULL, *specific = NULL;
  for (const char *const *v = vague_phrases; *v && !vague; v++) {
    vague = find_ci(text, *v) ? *v : NULL;
  }
  for (const char *const *s = specific_phrases; *s && !specific; s++) {
    specific = find_ci(text, *s) ? *s : NULL;
  }
  /* A named target: the scope's own name, a call like `createUser()`, code in backticks, or a
   * file name. A defined output: a count ("3 optimizations", "1. ..."). */
  int named = (scope_name && *scope_name && find_ci(text, scope_name)) || strchr(text, '`') ||
              strstr(text, "()") || strstr(text, ".c") || strstr(text, ".py") ||
              strstr(text, ".ts") || strstr(text, ".js") || strstr(text, ".go");
  int counted = 0;
  for (const char *p = text; *p; p++) {
    if (*p >= '1' && *p <= '9' && (p[1] == ' ' || p[1] == '.' || p[1] == ')')) {
      counted = 1;
    }
  }
  int score = (named ? 2 : 0) + (counted ? 1 : 0) + (specific ? 1 : 0) - (vague ? 2 : 0);
  if (score >= 1) {
    snprintf(why, n, "specific request (%s%s%s%s%s)", named ? "names its target" : "",
             named && (counted || specific) ? ", " : "", counted ? "asks for a defined output" : "",
             counted && specific ? ", " : "", specific ? "bounded scope" : "");
    return 1;
  }
  if (vague) {
    snprintf(why, n, "vague or multi-step request (\"%s\", no named target)", vague);
  } else {
    snprintf(why, n, "open-ended request: no named target, output or bounds");
  }
  return 0;
}

int route_decide(const frugal_config *cfg, const route_input *in, route_decision *out, char *err,
                 size_t errlen)
{
  const catalogue_action *row = catalogue_action_find(in->action);
  if (!row) {
    snprintf(err, errlen, "unknown action '%s'", in->action ? in->action : "");
    return -1;
  }
  memset(out, 0, sizeof(*out));
  const tier_config *mini = &cfg->tiers[TIER_MINI];
  char tok[32], budget[32], why[160] = "";
  fmt_tokens(tok, sizeof(tok), in->context_tokens);
  fmt_tokens(budget, sizeof(budget), mini->context_budget);
  int nfiles = in->nfiles < 1 ? 1 : in->nfiles;
  const char *scope = in->scope_kind ? in->scope_kind : "code";

  /* Order matters: an explicit choice by the user beats configuration, which beats the table. */
  int cfg_tier = config_action_tier(cfg, row->name);
  if (in->forced_tier >= 0 && in->forced_tier < TIER__COUNT) {
    out->tier = (tier_id)in->forced_tier;
    reason(out, "%s tier forced for this request", tier_name(out->tier));
  } else if (cfg_tier >= 0) {
    out->tier = (tier_id)cfg_tier;
    reason(out, "config: actions.%s.tier = \"%s\"", row->name, tier_name(out->tier));
  } else if (nfiles > 1) {
    out->tier = TIER_FULL;
    reason(out, "%d files in scope: multi-file work needs the full tier", nfiles);
  } else if (row->tier == TIER_FULL) {
    out->tier = TIER_FULL;
    reason(out, "%s: %s -> full", row->name, row->matrix_row);
  } else if (strcmp(row->name, "ask") == 0 &&
             !route_request_is_specific(in->instruction, in->scope_name, why, sizeof(why))) {
    out->tier = TIER_FULL;
    reason(out, "ask: %s -> full", why);
  } else if (in->context_tokens > mini->context_budget) {
    out->tier = TIER_FULL;
    reason(out, "%s: %s", row->name, row->matrix_row);
    reason(out, "context of %s tokens exceeds the mini budget of %s -> full", tok, budget);
  } else if (strcmp(row->name, "ask") == 0) {
    out->tier = TIER_MINI;
    reason(out, "ask: %s -> mini", why);
  } else {
    out->tier = TIER_MINI;
    reason(out, "%s: %s -> mini", row->name, row->matrix_row);
  }
  if (in->scope_name && *in->scope_name) {
    reason(out, "single %s %s, %s tokens of context", scope, in->scope_name, tok);
  } else if (nfiles <= 1) {
    reason(out, "single %s, %s tokens of context", scope, tok);
  }

  const tier_config *t = &cfg->tiers[out->tier];
  out->model = t->model;
  out->input_tokens = (long)in->context_tokens + row->prompt_tokens;
  long expected = row->out_base + (long)in->context_tokens * row->out_per_100 / 100;
  if (expected > t->max_output_tokens) {
    expected = t->max_output_tokens;
  }
  out->output_tokens = expected;
  route_set_input_tokens(cfg, out, out->input_tokens);
  return 0;
}

void route_set_input_tokens(const frugal_config *cfg, route_decision *d, long input_tokens)
{
  d->input_tokens = input_tokens;
  d->usd = estimate_usd(cfg, d->tier, d->input_tokens, d->output_tokens);
  d->usd_full = estimate_usd(cfg, TIER_FULL, d->input_tokens, d->output_tokens);
}
