/* plan_exec: one step of a plan as a request of its own (for `frugal run plan --execute` and the
 * host's `run` with a `plan` param), and a plan text checked for the editor's plan buffer.
 *
 * A step's request is the action it names at its own target: the function at PATH:LINE, else
 * the function of PATH the instruction names, else (a function to create) the end of the file,
 * with the file's outline in the instruction. The instruction is a short excerpt of the plan
 * (its goal and this step), never the conversation; the ledger records the call under the
 * action "plan" and the plan's task. */
#ifndef FRUGAL_SERVICE_PLAN_EXEC_H
#define FRUGAL_SERVICE_PLAN_EXEC_H

#include <jansson.h>
#include <stddef.h>

#include "service/plan.h"
#include "service/plan_steps.h"
#include "util/buf.h"

/* Fills `req` for step `n` (1-based) of `s` over the step's file text[0..len): action, path,
 * line, instruction (written into `instr`, which must outlive `req`), ledger_action "plan",
 * nfiles 1, forced_tier -1; the caller sets task_id, ledger_path and budget_override. `goal`
 * may be NULL. Returns 0, or -1 with a message in `err` (no such step, or the step is marked
 * invalid: its problem). */
int plan_step_request(const plan_steps *s, int n, const char *goal, const char *text, size_t len,
                      action_request *req, buf_t *instr, char *err, size_t errlen);

/* The editor's plan buffer checked: {"goal": string|null, "steps": [{"n", "action", "path",
 * "line", "instruction", "problem"}], "invalid": count of steps with a problem} (a new
 * reference), with paths checked against `root` and the editor's buffers in `known`
 * (plan_steps_validate_known: reads the disk, not for the host's loop). `answer`: the text is the planner's answer, whose prose around the list is
 * skipped (plan_steps_parse_answer). Returns NULL with a message in `err` when the text cannot
 * be a plan. */
json_t *plan_validate_json(const char *text, size_t len, const char *root, int answer,
                           const plan_known_file *known, size_t nknown, char *err,
                           size_t errlen);

#endif
