/* run: one action run end to end: package and route (action.h), find the project's test
 * conventions for `tests` (context/testconv.h), build the prompt (prompt/prompt.h), call the
 * model (provider/llm.h), and check the answer's shape. Shared by the RPC host (which streams
 * to the editor) and `frugal run` (which streams to stdout).
 *
 * The result object (doc/frugal.txt |frugal-rpc|, method `run`):
 *   {action, tier, model, text, output: "markdown"|"replace"|"review"|"tests"|"edits",
 *    edit: {start_line, end_line, replacement} | null,
 *    files: [{path, new, edits: [{start_line, end_line, replacement}]}] | null (the checked
 *      SEARCH/REPLACE edits, lines of each file as sent; service/multifile.h),
 *    findings: [{line, message}] (review) | [{path, line, end_line, severity, message}]
 *      (review-all, service/findings.h) | null,
 *    tests: {path, exists, append, content, framework, why} | null, problem: string | null,
 *    usage: {input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
 *            reasoning_tokens, estimated}, cost_usd: number | null, latency_ms, attempts,
 *    escalated: {from_tier, from_model, problem, usage, cost_usd} | null,
 *    ledger: {id, task_id, path} | {error} | null, spent_today_usd: number,
 *    budget_warning: string | null, turn: answers in this conversation so far,
 *    max_turns: conversation.max_turns}
 *
 * Ledger: every model call (the escalated first attempt too, under the same task_id) is appended
 * to the ledger (config ledger.path, else ledger/ledger.h's default) when it ends, with its
 * outcome: answered, escalated, failed or cancelled; the editor later adds applied/rejected.
 * Budgets (config budget.daily_usd / monthly_usd): a request whose estimate would take the
 * day's or the month's spend past the limit is refused (unless req->budget_override) with a
 * message naming the limit and the override; past 80% it runs with a warning.
 *
 * Escalation (config escalation.enabled, on by default): when the Mini tier's answer does not
 * have the shape the action needs (no usable code block, unbalanced brackets, elided code, no
 * findings in the review format) and the tier was not forced, the same request goes once to the
 * Full tier with the problem explained at the end of the task. The result is then the Full
 * answer's, with the first attempt's figures under `escalated`. */
#ifndef FRUGAL_SERVICE_RUN_H
#define FRUGAL_SERVICE_RUN_H

#include <jansson.h>
#include <stddef.h>

#include "service/multifile.h"
#include "service/plan.h"
#include "ledger/budget.h"
#include "provider/llm.h"

typedef struct action_run action_run;
/* A conversation: the first request's plan and prompt, and the answers and follow-ups since.
 * Reference counted; a run holds a reference while it lives. */
typedef struct action_conv action_conv;

typedef struct {
  /* Before the model is called: the plan (package and decision). May be NULL. */
  void (*on_start)(action_run *run, const action_plan *plan, void *data);
  /* Answer text and reasoning as they arrive. May be NULL. */
  void (*on_delta)(action_run *run, stream_event_kind kind, const char *text, size_t len,
                   void *data);
  /* A retry is scheduled. May be NULL. */
  void (*on_retry)(action_run *run, int attempt, double delay_ms, const char *why, void *data);
  /* The Mini answer could not be used (`why`) and the request goes once more to `model` on the
   * full tier; the new answer's text follows through on_delta. May be NULL. */
  void (*on_escalate)(action_run *run, const char *why, const char *model, void *data);
  /* Exactly once, from the loop. `error` is NULL on success, else one line ("cancelled", the
   * provider's error, ...). `result` (borrowed; json_incref to keep it) is the object above,
   * also after an error when anything is known (text so far, usage); NULL when the run never
   * reached the model. */
  void (*on_done)(action_run *run, const char *error, json_t *result, void *data);
} action_run_callbacks;

/* Starts a run of `req` over text[0..len) (copied). Returns NULL with a
 * one-line message when the request is invalid (unknown action, cursor outside the file, no
 * prompt for it); otherwise every callback comes later from the loop. */
action_run *action_run_start(llm_client *llm, const frugal_config *cfg, const action_request *req,
                             const char *text, size_t len, const action_run_callbacks *cb,
                             void *data, char *err, size_t errlen);
/* action_run_start in two halves, for callers that keep their loop free of disk work:
 * action_run_prepare packages the request, reads the other files in scope and finds the
 * project's test conventions, writes the prompt, and reads the day's spend from the ledger for
 * the budget check. It touches no loop and no shared state, so
 * it may run on a worker thread (uv_queue_work) while the loop goes on; `cfg` must stay unchanged
 * meanwhile. Returns the conversation (one reference, drop it with action_conv_unref), or NULL
 * with a one-line message. */
action_conv *action_run_prepare(const frugal_config *cfg, const action_request *req,
                                const char *text, size_t len, char *err, size_t errlen);
/* On the loop: prices, budgets, the ledger, then the model call, for a prepared conversation
 * (which the run references; the caller keeps its own reference). Returns NULL with a one-line
 * message when the run cannot start (budget, prompt larger than the tier's context). */
action_run *action_run_launch(llm_client *llm, const frugal_config *cfg, action_conv *conv,
                              const action_request *req, const action_run_callbacks *cb,
                              void *data, char *err, size_t errlen);

/* Continues the conversation of an earlier run (`:Frugal again`): the model sees the first
 * question, every answer and follow-up since, then `instruction`. The output kind and the region
 * are the first run's. The tier is the first run's unless `forced_tier` >= 0; on the mini tier a
 * conversation stops after config conversation.max_turns answers (Mini loses track after 10-15
 * turns), with a message suggesting a fresh request or the full tier. Returns NULL with a
 * one-line message when it cannot start (busy, over the limit, budget). */
action_run *action_run_continue(llm_client *llm, const frugal_config *cfg, action_conv *conv,
                                const char *instruction, int forced_tier, int budget_override,
                                const action_run_callbacks *cb, void *data, char *err,
                                size_t errlen);
/* The same with the day's spend already read (ledger_spend_read, e.g. on a worker thread) for
 * the budget check, instead of reading the ledger here. */
action_run *action_run_continue_spent(llm_client *llm, const frugal_config *cfg, action_conv *conv,
                                      const char *instruction, int forced_tier,
                                      int budget_override, const ledger_spend *spent,
                                      const action_run_callbacks *cb, void *data, char *err,
                                      size_t errlen);

/* The checked edits of the answer (refactor-files; optimize and design when they carry
 * SEARCH/REPLACE blocks), or NULL when there are none or they were refused (the result's
 * `problem` says why). Valid while the run lives, e.g. in on_done. */
const multifile_edits *action_run_edits(const action_run *run);

/* The run's conversation (valid while the run lives). To keep it past on_done, take a
 * reference with action_conv_ref() there, and drop it with action_conv_unref(). */
action_conv *action_run_conversation(action_run *run);
void action_conv_ref(action_conv *c);
void action_conv_unref(action_conv *c);
/* 1 while a run is using the conversation. */
int action_conv_busy(const action_conv *c);

/* Cancels; on_done follows with "cancelled" (from the loop). */
void action_run_cancel(action_run *run);

/* A budget warning for this run ("this request would bring today's spend to $4.10 of the $5.00
 * daily budget (82%)"), or NULL. Valid while the run lives (e.g. in on_start). */
const char *action_run_warning(const action_run *run);

#endif
