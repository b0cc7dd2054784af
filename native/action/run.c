#include "action/run.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "route/prices.h"
#include "util/buf.h"

struct action_run {
  action_run_callbacks cb;
  void *data;
  llm_call *call;
  char *action;
  buf_t text;         /* the file, copied: the plan indexes it */
  action_plan plan;
  tier_config tier;   /* copied: a `configure` during the run must not pull it away */
  price_entry price;  /* valid when has_price */
  int has_price;
};

static void run_free(action_run *r)
{
  action_plan_free(&r->plan);
  buf_free(&r->text);
  config_tier_free(&r->tier);
  free(r->action);
  free(r);
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

static long known(int64_t v)
{
  return v == STREAM_UNKNOWN ? 0 : (long)v;
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

/* The result object for a finished call (see run.h). */
static json_t *result_json(action_run *r, const llm_result *res)
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
  if (res->status == LLM_OK && r->plan.prompt.output != PROMPT_OUT_MARKDOWN) {
    prompt_answer a;
    prompt_parse_answer(r->plan.prompt.output, p->lang, res->text ? res->text : "", res->text_len,
                        p->pkg.start_line, p->pkg.end_line, &a);
    if (!a.ok) {
      problem = action_json_text(a.problem ? a.problem : "unusable answer",
                                 a.problem ? strlen(a.problem) : 15);
    } else if (r->plan.prompt.output == PROMPT_OUT_REPLACE) {
      edit = json_object();
      json_object_set_new(edit, "start_line", json_integer(p->pkg.start_line));
      json_object_set_new(edit, "end_line", json_integer(p->pkg.end_line));
      json_object_set_new(edit, "replacement",
                          action_json_text(a.replacement, strlen(a.replacement)));
    } else if (r->plan.prompt.output == PROMPT_OUT_REVIEW) {
      findings = json_array();
      for (size_t i = 0; i < a.nfindings; i++) {
        json_t *f = json_object();
        json_object_set_new(f, "line", json_integer(a.findings[i].line));
        json_object_set_new(f, "message", action_json_text(a.findings[i].message,
                                                           strlen(a.findings[i].message)));
        json_array_append_new(findings, f);
      }
    } else if (r->plan.prompt.output == PROMPT_OUT_TESTS && r->plan.has_tests) {
      const testconv *t = &r->plan.tests;
      tests = json_object();
      json_object_set_new(tests, "path", action_json_text(t->test_path, strlen(t->test_path)));
      json_object_set_new(tests, "exists", json_boolean(t->exists));
      json_object_set_new(tests, "append", json_boolean(t->exists));
      json_object_set_new(tests, "content", action_json_text(a.replacement, strlen(a.replacement)));
      json_object_set_new(tests, "framework",
                          t->framework ? json_string(t->framework) : json_null());
      json_object_set_new(tests, "why", t->why ? action_json_text(t->why, strlen(t->why))
                                               : json_null());
    }
    prompt_answer_free(&a);
  }
  json_object_set_new(o, "edit", edit);
  json_object_set_new(o, "findings", findings);
  json_object_set_new(o, "tests", tests);
  json_object_set_new(o, "problem", problem);
  json_object_set_new(o, "usage", usage_json(&res->usage, res->usage_estimated));
  if (r->has_price) {
    const stream_usage *u = &res->usage;
    json_object_set_new(o, "cost_usd",
                        json_real(prices_cost(&r->price, known(u->input_tokens),
                                              known(u->cached_input_tokens),
                                              known(u->cache_write_tokens),
                                              known(u->output_tokens))));
  } else {
    json_object_set_new(o, "cost_usd", json_null());
  }
  json_object_set_new(o, "latency_ms", json_real(res->latency_ms));
  json_object_set_new(o, "attempts", json_integer(res->attempts));
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

static void on_done(llm_call *call, const llm_result *res, void *data)
{
  action_run *r = data;
  json_t *result = result_json(r, res);
  const char *error = NULL;
  if (res->status == LLM_CANCELLED) {
    error = "cancelled";
  } else if (res->status != LLM_OK) {
    error = res->message && *res->message ? res->message : "the model call failed";
  }
  r->call = NULL;
  r->cb.on_done(r, error, result, r->data);
  json_decref(result);
  run_free(r);
}

action_run *action_run_start(llm_client *llm, const frugal_config *cfg, const action_request *req,
                             const char *text, size_t len, const action_run_callbacks *cb,
                             void *data, char *err, size_t errlen)
{
  action_run *r = xcalloc(1, sizeof(*r));
  r->cb = *cb;
  r->data = data;
  r->action = xstrdup(req->action ? req->action : "");
  buf_append(&r->text, text, len);
  if (action_plan_build(cfg, req, r->text.data ? r->text.data : "", r->text.len, &r->plan, err,
                        errlen)) {
    buf_free(&r->text);
    free(r->action);
    free(r);
    return NULL;
  }
  const tier_config *tier = &cfg->tiers[r->plan.route.tier];
  config_tier_copy(&r->tier, tier);
  r->has_price = prices_lookup(cfg, tier->model, tier->provider, &r->price) == 0;

  if (r->cb.on_start) {
    r->cb.on_start(r, &r->plan, r->data);
  }
  /* Requests on the same project and action share a cache key, so the provider routes them to
   * the machine that holds their common prefix. */
  char cache_key[96];
  char cwd[PATH_MAX];
  const char *base = r->plan.has_tests ? r->plan.tests.root : getcwd(cwd, sizeof(cwd));
  unsigned long h = 5381;
  for (const char *s = base ? base : ""; *s; s++) {
    h = h * 33 + (unsigned char)*s;
  }
  snprintf(cache_key, sizeof(cache_key), "frugal:%08lx:%s", h & 0xffffffffUL, r->action);
  llm_request lr = {
    .tier = &r->tier,
    .prompt = &r->plan.prompt,
    .cache_key = cache_key,
  };
  static const llm_callbacks llm_cb = {on_delta, on_retry, on_done};
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
