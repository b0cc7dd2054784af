#include "service/run.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/budget.h"
#include "ledger/ledger.h"
#include "core/prices.h"
#include "core/tokens.h"
#include "service/findings.h"
#include "service/multifile.h"
#include "util/buf.h"

/* What a follow-up needs of a conversation: the first request's plan and prompt, and the turns
 * since. Owned by the runs and by whoever keeps it between runs (the host), by reference count. */
struct action_conv {
  int refs;
  int busy;           /* a run is using it */
  char *action;
  char *ledger_action; /* what the ledger records as the action (a plan's step: "plan") */
  char task_id[LEDGER_ID_SIZE]; /* the task the calls join; "" for a new one */
  buf_t text;         /* the file, copied: the plan indexes it */
  action_plan plan;
  llm_turn *turns;    /* answers and follow-ups after the first question; texts owned */
  size_t nturns;
  size_t cap;
  int answers;        /* model answers so far: the conversation's turn count */
  /* The ledger's spend read by action_run_prepare (off the loop), used once by the launch that
   * follows it; a follow-up reads it again. */
  int have_spend;
  ledger_spend spend;
  /* Why the ledger cannot be written (NULL: it can), checked by action_run_prepare off the loop
   * with the spend; the conversation's later runs say the same. */
  char *ledger_problem;
};

static void conv_push(action_conv *c, int assistant, const char *text, size_t len)
{
  if (c->nturns == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 8;
    c->turns = xrealloc(c->turns, c->cap * sizeof(*c->turns));
  }
  c->turns[c->nturns].assistant = assistant;
  c->turns[c->nturns].text = xstrndup(text, len);
  c->nturns++;
}

/* Drops turns after the first `keep` (a follow-up whose call failed). */
static void conv_truncate(action_conv *c, size_t keep)
{
  while (c->nturns > keep) {
    free((char *)c->turns[--c->nturns].text);
  }
}

void action_conv_ref(action_conv *c)
{
  c->refs++;
}

void action_conv_unref(action_conv *c)
{
  if (!c || --c->refs > 0) {
    return;
  }
  conv_truncate(c, 0);
  free(c->turns);
  action_plan_free(&c->plan);
  buf_free(&c->text);
  free(c->action);
  free(c->ledger_action);
  free(c->ledger_problem);
  free(c);
}

int action_conv_busy(const action_conv *c)
{
  return c->busy;
}

struct action_run {
  action_run_callbacks cb;
  void *data;
  llm_client *llm;
  llm_call *call;
  action_conv *conv;  /* referenced for the run's life */
  size_t turns_before; /* conv->nturns when the run began: restored if the call fails */
  tier_id tier_id;    /* the tier of the call in flight */
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
  buf_t pending;      /* ledger lines made but not yet written (an escalated attempt's waits
                         for the final one's, so they land in order) */
  /* the end of the run, kept while its ledger lines are written off the loop */
  uv_work_t work;
  json_t *result;
  char *error;
  char write_err[400];
  int write_rc;
  double spent_today; /* before this run */
  char *warning;      /* budget warning, or NULL */
  int max_turns;      /* conversation.max_turns, for the result */
  int allow_insecure_key; /* http.allow_insecure_key */
  multifile_edits edits;  /* the answer's SEARCH/REPLACE blocks, checked, when have_edits */
  int have_edits;
  /* a big file's review in pieces (plan.chunks), one call per chunk on one task id */
  int chunked;            /* 1 while this run goes through the chunks */
  size_t chunk;           /* the chunk being answered */
  buf_t chunk_text;       /* the answers so far, one after another */
  stream_usage chunk_usage; /* summed over the chunks answered */
  int chunk_estimated;
  int chunk_attempts;
  double chunk_latency;
  double chunk_cost;      /* of the chunks recorded before the last; -1 once unknown */
  prompt_answer chunk_found; /* the findings so far, with the file's line numbers */
};

static void run_free(action_run *r)
{
  r->conv->busy = 0;
  action_conv_unref(r->conv);
  config_tier_free(&r->tier);
  if (r->can_escalate || r->escalated) {
    config_tier_free(&r->full);
  }
  json_decref(r->escalated);
  json_decref(r->ledger);
  json_decref(r->result);
  free(r->error);
  buf_free(&r->pending);
  free(r->ledger_path);
  free(r->project);
  free(r->warning);
  multifile_edits_free(&r->edits);
  buf_free(&r->chunk_text);
  prompt_answer_free(&r->chunk_found);
  free(r);
}

/* Makes the ledger line of the call that just ended (written by write_ledger). Returns its cost
 * when known, else -1. */
static double record(action_run *r, const llm_result *res, ledger_outcome outcome)
{
  ledger_entry e;
  ledger_entry_init(&e);
  if (!r->task_id[0] && r->conv->task_id[0]) {
    memcpy(r->task_id, r->conv->task_id, sizeof(r->task_id));
  }
  if (r->task_id[0]) {
    memcpy(e.task_id, r->task_id, sizeof(e.task_id));
  } else {
    memcpy(r->task_id, e.task_id, sizeof(r->task_id));
  }
  e.project = r->project;
  e.action = r->conv->ledger_action ? r->conv->ledger_action : r->conv->action;
  e.tier = tier_name(r->tier_id);
  e.provider = provider_name(r->tier.provider);
  e.model = r->tier.model;
  /* Counts the provider layer left unknown are calls the provider never answered (an error
   * status, no connection, cancelled before the answer began) and did not bill: 0, as in the
   * result, never a guess that would count against the budget. */
  stream_usage u = res->usage;
  if (u.input_tokens == STREAM_UNKNOWN) {
    u.input_tokens = 0;
  }
  if (u.output_tokens == STREAM_UNKNOWN) {
    u.output_tokens = 0;
  }
  ledger_entry_set_usage(&e, &u);
  e.estimated = res->usage_estimated;
  ledger_entry_set_cost(&e, r->has_price ? &r->price : NULL, r->has_cf_price ? &r->cf_price : NULL);
  double cost = e.cost_known ? e.cost_usd : -1;
  e.latency_ms = (int64_t)res->latency_ms;
  e.outcome = outcome;
  e.error = res->status == LLM_OK || !res->message || !*res->message ? NULL : res->message;
  json_decref(r->ledger);
  char err[400];
  if (!r->ledger_path) {
    r->ledger = json_pack("{s:s}", "error", "no ledger path: set ledger.path or HOME");
  } else if (ledger_format_entry(&e, &r->pending, err, sizeof(err)) != 0) {
    r->ledger = json_pack("{s:s}", "error", err);
  } else {
    r->ledger = json_pack("{s:s,s:s,s:s}", "id", e.id, "task_id", e.task_id, "path",
                          r->ledger_path);
  }
  return cost;
}

/* Checks the budgets against the ledger. Returns 0 (r->warning set when past 80%), or -1 with
 * the refusal in `err`. An unreadable ledger counts what could be read. */
static int check_budget(action_run *r, const frugal_config *cfg, int override, char *err,
                        size_t errlen)
{
  ledger_budget b = {cfg->budget_daily_usd, cfg->budget_monthly_usd};
  ledger_spend spent = {0, 0};
  if (r->conv->have_spend) {
    spent = r->conv->spend;
    r->conv->have_spend = 0;
  } else if (r->ledger_path) {
    char rerr[256];
    ledger_spend_read(r->ledger_path, &b, ledger_now_ms(), &spent, rerr, sizeof(rerr));
  }
  r->spent_today = spent.today_usd;
  return ledger_budget_check(&b, &spent, r->conv->plan.route.usd, override, &r->warning, err,
                             errlen);
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

static json_t *usage_json(const llm_result *res)
{
  const stream_usage *u = &res->usage;
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
  json_object_set_new(o, "estimated", json_boolean(res->usage_estimated));
  if (res->usage_note) {
    json_object_set_new(o, "note", action_json_text(res->usage_note, strlen(res->usage_note)));
  }
  return o;
}

/* The result object for a finished call (see run.h); `a` is the parsed answer, or NULL when
 * the call failed or the output is markdown. */
static json_t *result_json(action_run *r, const llm_result *res, const prompt_answer *a)
{
  const action_plan *p = &r->conv->plan;
  json_t *o = json_object();
  json_object_set_new(o, "action", json_string(r->conv->action));
  json_object_set_new(o, "tier", json_string(tier_name(r->tier_id)));
  json_object_set_new(o, "model", action_json_text(r->tier.model, strlen(r->tier.model)));
  json_object_set_new(o, "text", action_json_text(res->text ? res->text : "", res->text_len));
  json_object_set_new(o, "output", json_string(prompt_output_name(r->conv->plan.prompt.output)));
  json_t *edit = json_null(), *findings = json_null(), *tests = json_null();
  json_t *problem = json_null();
  if (a) {
    if (!a->ok) {
      problem = action_json_text(a->problem ? a->problem : "unusable answer",
                                 a->problem ? strlen(a->problem) : 15);
    } else if (r->conv->plan.prompt.output == PROMPT_OUT_REPLACE) {
      edit = json_object();
      json_object_set_new(edit, "start_line", json_integer(p->pkg.start_line));
      json_object_set_new(edit, "end_line", json_integer(p->pkg.end_line));
      json_object_set_new(edit, "replacement",
                          action_json_text(a->replacement, strlen(a->replacement)));
    } else if (r->conv->plan.prompt.output == PROMPT_OUT_REVIEW) {
      findings = json_array();
      for (size_t i = 0; i < a->nfindings; i++) {
        json_t *f = json_object();
        json_object_set_new(f, "line", json_integer(a->findings[i].line));
        json_object_set_new(f, "message", action_json_text(a->findings[i].message,
                                                           strlen(a->findings[i].message)));
        json_array_append_new(findings, f);
      }
    } else if (r->conv->plan.prompt.output == PROMPT_OUT_TESTS && r->conv->plan.has_tests) {
      const testconv *t = &r->conv->plan.tests;
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
  if (json_is_null(findings) && res->status == LLM_OK && strcmp(r->conv->action, "review-all") == 0) {
    findings = findings_parse(res->text ? res->text : "", res->text_len);
  }
  json_object_set_new(o, "edit", edit);
  json_object_set_new(o, "files", r->have_edits && a && a->ok ? multifile_files_json(&r->edits)
                                                              : json_null());
  json_object_set_new(o, "findings", findings);
  json_object_set_new(o, "tests", tests);
  json_object_set_new(o, "problem", problem);
  json_object_set_new(o, "usage", usage_json(res));
  json_object_set_new(o, "cost_usd", cost_json(r, res));
  json_object_set_new(o, "latency_ms", json_real(res->latency_ms));
  json_object_set_new(o, "attempts", json_integer(res->attempts));
  json_object_set_new(o, "escalated", r->escalated ? json_incref(r->escalated) : json_null());
  if (r->chunked) {
    json_object_set_new(o, "chunks", json_integer((json_int_t)r->conv->plan.nchunks));
  }
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
static void write_ledger(action_run *r);

/* Calls the model with the conversation so far. Returns 0, or -1 with a message. */
static int call_model(action_run *r, char *err, size_t errlen)
{
  llm_request lr = {
    .tier = &r->tier,
    .prompt = r->chunked ? &r->conv->plan.chunks[r->chunk].prompt : &r->conv->plan.prompt,
    .cache_key = r->cache_key,
    .turns = r->conv->turns,
    .nturns = r->conv->nturns,
    .allow_insecure_key = r->allow_insecure_key,
    /* The planner is asked once: its steps go out as requests of their own, with other
     * prompts, so a cache write of its prefix would never be read. */
    .no_cache_write = strcmp(r->conv->action, "plan") == 0,
  };
  r->call = llm_call_start(r->llm, &lr, &llm_cb, r, err, errlen);
  return r->call ? 0 : -1;
}

/* Sends the request once more to the full tier, with the reason the first answer failed at the
 * end of the task (the prompt's cached prefix stays the same). Returns 0, or -1 if the call
 * could not start. */
static int escalate(action_run *r, const llm_result *res, const char *problem)
{
  record(r, res, LEDGER_ESCALATED);
  json_t *first = json_object();
  json_object_set_new(first, "from_tier", json_string(tier_name(r->tier_id)));
  json_object_set_new(first, "from_model", json_string(r->tier.model));
  json_object_set_new(first, "problem", json_string(problem));
  json_object_set_new(first, "usage", usage_json(res));
  json_object_set_new(first, "cost_usd", cost_json(r, res));
  json_object_set_new(first, "attempts", json_integer(res->attempts));
  r->escalated = first;
  r->can_escalate = 0;
  config_tier_free(&r->tier);
  config_tier_copy(&r->tier, &r->full);
  r->price = r->full_price;
  r->has_price = r->has_full_price;
  r->tier_id = TIER_FULL;
  /* The refused answer and the reason go in as a turn of the conversation: the prompt's
   * cached prefix stays byte for byte the same. */
  conv_push(r->conv, 1, res->text ? res->text : "", res->text_len);
  buf_t why = BUF_INIT;
  buf_printf(&why,
             "That answer could not be used: %s. Answer the task again, and follow the output "
             "format exactly.",
             problem);
  conv_push(r->conv, 0, why.data, why.len);
  buf_free(&why);
  if (r->cb.on_escalate) {
    r->cb.on_escalate(r, problem, r->tier.model, r->data);
  }
  char err[256];
  return call_model(r, err, sizeof(err));
}

/* Worker thread: writes the run's pending ledger lines, in order, one write() each. */
static void ledger_work(uv_work_t *w)
{
  action_run *r = w->data;
  const char *p = r->pending.data, *end = p + r->pending.len;
  r->write_rc = 0;
  while (p < end && r->write_rc == 0) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
    r->write_rc = ledger_append_line(r->ledger_path, p, n, r->write_err, sizeof(r->write_err));
    p += n;
  }
}

/* Loop: the run's end, once its lines are on disk (or failed to get there). */
static void ledger_written(uv_work_t *w, int status)
{
  action_run *r = w->data;
  if (status == 0 && r->write_rc) {
    json_decref(r->ledger);
    r->ledger = json_pack("{s:s}", "error", r->write_err);
  }
  json_object_set(r->result, "ledger", r->ledger ? r->ledger : json_null());
  r->cb.on_done(r, r->error, r->result, r->data);
  run_free(r);
}

/* Writes the pending ledger lines on the loop's thread pool, then ends the run (on_done). The
 * append is one small write to a regular file, but a slow or full disk must cost a worker
 * thread, not the editor's stream of answers. */
static void write_ledger(action_run *r)
{
  r->work.data = r;
  if (r->pending.len == 0 || !r->ledger_path ||
      uv_queue_work(llm_client_loop(r->llm), &r->work, ledger_work, ledger_written) != 0) {
    if (r->pending.len && r->ledger_path) {
      ledger_work(&r->work); /* no thread to be had: write here rather than lose the lines */
    }
    ledger_written(&r->work, 0);
  }
}

static void usage_add(int64_t *sum, int64_t v)
{
  if (v != STREAM_UNKNOWN) {
    *sum = (*sum == STREAM_UNKNOWN ? 0 : *sum) + v;
  }
}

/* A chunk's answer came (chunked review). Adds its findings, text and figures to the run's;
 * then either asks for the next chunk (returns 1: the run goes on) or, after the last chunk or
 * a failure, fills `merged` and `a` with the whole review (returns 0: the run ends with them;
 * a->ok = 0 with the chunk named when a chunk's answer was unusable). */
static int chunk_answered(action_run *r, const llm_result *res, llm_result *merged,
                          prompt_answer *a)
{
  const action_plan *p = &r->conv->plan;
  const action_chunk *k = &p->chunks[r->chunk];
  prompt_answer one;
  memset(&one, 0, sizeof(one));
  int ok = res->status == LLM_OK;
  if (ok) {
    prompt_parse_answer(PROMPT_OUT_REVIEW, p->lang, res->text ? res->text : "", res->text_len,
                        k->start_line, k->end_line, &one);
  }
  const stream_usage *u = &res->usage;
  usage_add(&r->chunk_usage.input_tokens, u->input_tokens);
  usage_add(&r->chunk_usage.cached_input_tokens, u->cached_input_tokens);
  usage_add(&r->chunk_usage.cache_write_tokens, u->cache_write_tokens);
  usage_add(&r->chunk_usage.output_tokens, u->output_tokens);
  usage_add(&r->chunk_usage.reasoning_tokens, u->reasoning_tokens);
  r->chunk_estimated |= res->usage_estimated;
  r->chunk_attempts += res->attempts;
  r->chunk_latency += res->latency_ms;
  if (res->text_len) {
    buf_append(&r->chunk_text, res->text, res->text_len);
    if (res->text[res->text_len - 1] != '\n') {
      /* the stream says what the merged text says: one chunk's answer per line run */
      buf_putc(&r->chunk_text, '\n');
      if (r->cb.on_delta) {
        r->cb.on_delta(r, STREAM_EV_TEXT, "\n", 1, r->data);
      }
    }
  }
  if (ok && one.ok) {
    prompt_answer *f = &r->chunk_found;
    f->findings = xrealloc(f->findings, (f->nfindings + one.nfindings + 1) * sizeof(*f->findings));
    for (size_t i = 0; i < one.nfindings; i++) {
      f->findings[f->nfindings++] = one.findings[i];
    }
    one.nfindings = 0; /* moved */
  }
  char next_err[256] = "";
  if (ok && one.ok && r->chunk + 1 < p->nchunks) {
    r->chunk++;
    if (call_model(r, next_err, sizeof(next_err)) == 0) {
      double cost = record(r, res, LEDGER_ANSWERED);
      r->chunk_cost = cost < 0 || r->chunk_cost < 0 ? -1 : r->chunk_cost + cost;
      prompt_answer_free(&one);
      return 1;
    }
    r->chunk--;
    /* the next call could not start: the run ends with what was found, saying so */
  }
  *merged = *res;
  merged->text = r->chunk_text.data ? r->chunk_text.data : "";
  merged->text_len = r->chunk_text.len;
  merged->usage = r->chunk_usage;
  merged->usage_estimated = r->chunk_estimated;
  merged->attempts = r->chunk_attempts;
  merged->latency_ms = r->chunk_latency;
  *a = r->chunk_found;
  memset(&r->chunk_found, 0, sizeof(r->chunk_found));
  a->ok = 1;
  buf_t why = BUF_INIT;
  if (ok && !one.ok) {
    buf_printf(&why, "chunk %zu of %zu (lines %d-%d): %s", r->chunk + 1, p->nchunks,
               k->start_line, k->end_line, one.problem ? one.problem : "unusable answer");
  } else if (next_err[0]) {
    buf_printf(&why, "chunk %zu of %zu could not be sent: %s", r->chunk + 2, p->nchunks,
               next_err);
  }
  if (why.len) {
    a->ok = 0;
    a->problem = buf_detach(&why);
  }
  buf_free(&why);
  prompt_answer_free(&one);
  return 0;
}

static void on_done(llm_call *call, const llm_result *res, void *data)
{
  action_run *r = data;
  r->call = NULL;
  prompt_answer a;
  int parsed = 0;
  llm_result merged;
  const llm_result *own = res; /* this call's own figures, for its ledger line */
  if (r->chunked) {
    if (chunk_answered(r, res, &merged, &a)) {
      return;
    }
    parsed = res->status == LLM_OK;
    if (!parsed) {
      prompt_answer_free(&a);
    }
    res = &merged;
  }
  const char *text = res->text ? res->text : "";
  prompt_output out = r->conv->plan.prompt.output;
  /* Edits are checked for refactor-files, and for optimize and design when they carry code. */
  int edits = res->status == LLM_OK &&
              (out == PROMPT_OUT_EDITS ||
               ((strcmp(r->conv->action, "optimize") == 0 ||
                 strcmp(r->conv->action, "design") == 0) &&
                multifile_has_blocks(text, res->text_len)));
  if (!r->chunked && res->status == LLM_OK && (out != PROMPT_OUT_MARKDOWN || edits)) {
    prompt_parse_answer(out, r->conv->plan.lang, text, res->text_len,
                        r->conv->plan.pkg.start_line, r->conv->plan.pkg.end_line, &a);
    parsed = 1;
    multifile_edits_free(&r->edits);
    r->have_edits = 0;
    if (a.ok && edits) {
      char merr[600];
      if (multifile_check(&r->conv->plan, text, res->text_len, &r->edits, merr,
                          sizeof(merr)) == 0) {
        r->have_edits = 1;
      } else {
        buf_t why = BUF_INIT;
        buf_printf(&why, "the edits cannot be applied, none is: %s", merr);
        a.ok = 0;
        free(a.problem);
        a.problem = buf_detach(&why);
      }
    }
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
  if (res->status == LLM_OK) {
    conv_push(r->conv, 1, res->text ? res->text : "", res->text_len);
    r->conv->answers++;
  } else {
    conv_truncate(r->conv, r->turns_before);
  }
  double cost = record(r, own, outcome);
  if (r->chunked) {
    cost = cost < 0 || r->chunk_cost < 0 ? -1 : cost + r->chunk_cost;
  }
  json_t *result = result_json(r, res, parsed ? &a : NULL);
  if (parsed) {
    prompt_answer_free(&a);
  }
  json_object_set_new(result, "spent_today_usd",
                      json_real(r->spent_today + (cost > 0 ? cost : 0) +
                                (r->escalated ? json_number_value(json_object_get(
                                                    r->escalated, "cost_usd"))
                                              : 0)));
  json_object_set_new(result, "budget_warning",
                      r->warning ? json_string(r->warning) : json_null());
  json_object_set_new(result, "turn", json_integer(r->conv->answers));
  json_object_set_new(result, "max_turns", json_integer(r->max_turns));
  if (res->status == LLM_CANCELLED) {
    r->error = xstrdup("cancelled");
  } else if (res->status != LLM_OK) {
    r->error = xstrdup(res->message && *res->message ? res->message : "the model call failed");
  }
  r->result = result;
  write_ledger(r);
}

static const llm_callbacks llm_cb = {on_delta, on_retry, on_done};

/* The prompt's tokens as the model will see them: the first question (the plan's estimate) and
 * every turn since. */
static long conv_tokens(const action_conv *c)
{
  long n = c->plan.route.input_tokens;
  if (c->plan.nchunks > 0 && c->nturns == 0) {
    /* a review in pieces: each call carries one chunk's prompt, the estimate all of them */
    n = 0;
    for (size_t i = 0; i < c->plan.nchunks; i++) {
      n = c->plan.chunks[i].input_tokens > n ? c->plan.chunks[i].input_tokens : n;
    }
  }
  for (size_t i = 0; i < c->nturns; i++) {
    n += tokens_estimate(LANG_UNKNOWN, c->turns[i].text, strlen(c->turns[i].text));
  }
  return n;
}

/* Refuses a prompt larger than the tier's context window before anything is sent: the
 * provider would reject it after the upload, or silently cut it. Returns 0, or -1 with the
 * message in `err`. */
static int check_context(const action_conv *c, tier_id tier, const tier_config *t, char *err,
                         size_t errlen)
{
  long need = conv_tokens(c);
  if (t->context_tokens <= 0 || need <= t->context_tokens) {
    return 0;
  }
  snprintf(err, errlen,
           "the prompt is about %ld tokens, more than the %ld of %s's context window "
           "(tiers.%s.context_tokens, model %s): select the part you mean, run it on one "
           "function, or use a tier with a larger window",
           need, t->context_tokens, tier_name(tier), tier_name(tier), t->model);
  return -1;
}

/* Everything a run needs past its conversation: tier, prices, ledger, budget, cache key; then
 * the call. `conv` is referenced by the run. Returns NULL with a message (the run is freed). */
static action_run *launch(llm_client *llm, const frugal_config *cfg, action_conv *conv,
                          tier_id tier, int forced, int budget_override, const char *ledger_path,
                          const action_run_callbacks *cb, void *data, char *err, size_t errlen)
{
  if (check_context(conv, tier, &cfg->tiers[tier], err, errlen)) {
    return NULL;
  }
  action_run *r = xcalloc(1, sizeof(*r));
  r->llm = llm;
  r->cb = *cb;
  r->data = data;
  r->conv = conv;
  action_conv_ref(conv);
  conv->busy = 1;
  r->turns_before = conv->nturns;
  r->tier_id = tier;
  r->max_turns = cfg->max_turns;
  r->allow_insecure_key = cfg->http_allow_insecure_key;
  const tier_config *t = &cfg->tiers[tier];
  config_tier_copy(&r->tier, t);
  r->has_price = config_price_lookup(cfg, t->model, t->provider, &r->price) == 0;
  /* A big file's first review goes through its chunks, one call each, under one task id. */
  r->chunked = conv->plan.nchunks > 0 && conv->nturns == 0 && tier == TIER_MINI;
  if (r->chunked) {
    r->chunk_usage = (stream_usage){STREAM_UNKNOWN, STREAM_UNKNOWN, STREAM_UNKNOWN,
                                    STREAM_UNKNOWN, STREAM_UNKNOWN, STREAM_UNKNOWN, false};
  }
  r->can_escalate = cfg->escalate && tier == TIER_MINI && !forced && !r->chunked &&
                    conv->plan.prompt.output != PROMPT_OUT_MARKDOWN;
  const tier_config *full = &cfg->tiers[TIER_FULL];
  if (r->can_escalate) {
    config_tier_copy(&r->full, full);
    r->has_full_price = config_price_lookup(cfg, full->model, full->provider, &r->full_price) == 0;
  }
  r->has_cf_price = config_price_lookup(cfg, full->model, full->provider, &r->cf_price) == 0;
  char lpath[4096];
  if (ledger_path_resolve(ledger_path, cfg->ledger_path, lpath, sizeof(lpath)) == 0) {
    r->ledger_path = xstrdup(lpath);
  }
  if (check_budget(r, cfg, budget_override, err, errlen)) {
    conv_truncate(conv, r->turns_before);
    run_free(r);
    return NULL;
  }
  /* A ledger that cannot be written must not pass unnoticed (the call still goes): the warning
   * reaches the editor and the command line with the start of the run. */
  const char *lerr = !r->ledger_path ? "no ledger path (set ledger.path or HOME)"
                                     : conv->ledger_problem;
  if (lerr) {
    buf_t w = BUF_INIT;
    buf_printf(&w, "%s%sthe ledger cannot be written, this request will not be recorded: %s",
               r->warning ? r->warning : "", r->warning ? "; " : "", lerr);
    free(r->warning);
    r->warning = buf_detach(&w);
  }
  if (r->cb.on_start) {
    r->cb.on_start(r, &r->conv->plan, r->data);
  }
  /* Requests on the same project and action share a cache key, so the provider routes them to
   * the machine that holds their common prefix. */
  const char *base = conv->plan.root;
  r->project = base ? xstrdup(base) : NULL;
  unsigned long h = 5381;
  for (const char *s = base ? base : ""; *s; s++) {
    h = h * 33 + (unsigned char)*s;
  }
  snprintf(r->cache_key, sizeof(r->cache_key), "frugal:%08lx:%s", h & 0xffffffffUL,
           conv->action);
  if (call_model(r, err, errlen)) {
    conv_truncate(conv, r->turns_before);
    run_free(r);
    return NULL;
  }
  return r;
}

action_conv *action_run_prepare(const frugal_config *cfg, const action_request *req,
                                const char *text, size_t len, char *err, size_t errlen)
{
  action_conv *c = xcalloc(1, sizeof(*c));
  c->action = xstrdup(req->action ? req->action : "");
  c->ledger_action = req->ledger_action ? xstrdup(req->ledger_action) : NULL;
  if (req->task_id) {
    snprintf(c->task_id, sizeof(c->task_id), "%s", req->task_id);
  }
  buf_append(&c->text, text, len);
  if (action_plan_build(cfg, req, c->text.data ? c->text.data : "", c->text.len, 1, &c->plan, err,
                        errlen)) {
    buf_free(&c->text);
    free(c->action);
    free(c->ledger_action);
    free(c);
    return NULL;
  }
  c->refs = 1;
  /* The budget's reading of the ledger, here rather than at launch: a slow disk then costs the
   * worker thread, not the loop. */
  char lpath[4096], rerr[256];
  ledger_budget b = {cfg->budget_daily_usd, cfg->budget_monthly_usd};
  char lerr[600] = "";
  if (ledger_path_resolve(req->ledger_path, cfg->ledger_path, lpath, sizeof(lpath)) == 0) {
    ledger_spend_read(lpath, &b, ledger_now_ms(), &c->spend, rerr, sizeof(rerr));
    ledger_path_check(lpath, lerr, sizeof(lerr));
  } else {
    snprintf(lerr, sizeof(lerr), "no ledger path (set ledger.path or HOME)");
  }
  c->have_spend = 1;
  c->ledger_problem = lerr[0] ? xstrdup(lerr) : NULL;
  return c;
}

action_run *action_run_launch(llm_client *llm, const frugal_config *cfg, action_conv *conv,
                              const action_request *req, const action_run_callbacks *cb,
                              void *data, char *err, size_t errlen)
{
  action_run *r = launch(llm, cfg, conv, conv->plan.route.tier, req->forced_tier >= 0,
                         req->budget_override, req->ledger_path, cb, data, err, errlen);
  conv->have_spend = 0; /* used, or stale once the launch failed */
  return r;
}

action_run *action_run_start(llm_client *llm, const frugal_config *cfg, const action_request *req,
                             const char *text, size_t len, const action_run_callbacks *cb,
                             void *data, char *err, size_t errlen)
{
  action_conv *c = action_run_prepare(cfg, req, text, len, err, errlen);
  if (!c) {
    return NULL;
  }
  action_run *r = action_run_launch(llm, cfg, c, req, cb, data, err, errlen);
  action_conv_unref(c); /* the run holds its own reference */
  return r;
}

action_run *action_run_continue_spent(llm_client *llm, const frugal_config *cfg, action_conv *conv,
                                      const char *instruction, int forced_tier,
                                      int budget_override, const ledger_spend *spent,
                                      const action_run_callbacks *cb, void *data, char *err,
                                      size_t errlen)
{
  if (conv->busy) {
    snprintf(err, errlen, "that conversation is still answering; wait or cancel it first");
    return NULL;
  }
  if (!instruction || !*instruction) {
    snprintf(err, errlen, "again needs the follow-up text");
    return NULL;
  }
  tier_id tier = forced_tier >= 0 ? (tier_id)forced_tier : conv->plan.route.tier;
  if (tier == TIER_MINI && cfg->max_turns > 0 && conv->answers >= cfg->max_turns) {
    snprintf(err, errlen,
             "this mini conversation has reached %d turns (conversation.max_turns): start a "
             "fresh request (:Frugal %s) or continue on full (:Frugal! again ...)",
             cfg->max_turns, conv->action);
    return NULL;
  }
  if (spent) {
    conv->spend = *spent;
    conv->have_spend = 1;
  }
  conv_push(conv, 0, instruction, strlen(instruction));
  /* turns_before must not count the follow-up: a failed call drops it again */
  action_run *r = launch(llm, cfg, conv, tier, forced_tier >= 0, budget_override, NULL, cb, data,
                         err, errlen);
  conv->have_spend = 0; /* used, or stale once the launch failed */
  if (r) {
    r->turns_before = conv->nturns - 1;
  } else {
    conv_truncate(conv, conv->nturns - 1);
  }
  return r;
}

action_run *action_run_continue(llm_client *llm, const frugal_config *cfg, action_conv *conv,
                                const char *instruction, int forced_tier, int budget_override,
                                const action_run_callbacks *cb, void *data, char *err,
                                size_t errlen)
{
  return action_run_continue_spent(llm, cfg, conv, instruction, forced_tier, budget_override,
                                   NULL, cb, data, err, errlen);
}

const multifile_edits *action_run_edits(const action_run *run)
{
  return run->have_edits ? &run->edits : NULL;
}

action_conv *action_run_conversation(action_run *run)
{
  return run->conv;
}

void action_run_cancel(action_run *run)
{
  if (run->call) {
    llm_call_cancel(run->call);
  }
}
