/* cli_plan: `frugal run plan FILE:LINE --instruction GOAL [--execute [--apply]] [--plan FILE]`:
 * the plan from Full (or an edited plan file), its steps, and their execution one by one, each
 * a fresh request with its own focused context (README "Command line", doc/frugal.txt
 * |frugal-plan|). */
#ifndef FRUGAL_CLI_PLAN_H
#define FRUGAL_CLI_PLAN_H

#include <stddef.h>

#include "config/config.h"
#include "service/plan.h"

typedef struct {
  int json;
  int execute;           /* run the steps */
  int apply;             /* write each step's edit before the next runs */
  const char *plan_file; /* an edited plan to execute instead of asking for one; NULL */
} cli_plan_opts;

/* Runs the plan command for `req` (the plan action at FILE:LINE) over text[0..len), printing the
 * result. Returns the exit status: 0, 1 when the planner or a step failed, 2 for bad input. */
int cli_plan_run(const frugal_config *cfg, const action_request *req, const char *text, size_t len,
                 const cli_plan_opts *o);

#endif
