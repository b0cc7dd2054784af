/* route: decides which tier (mini or full) serves a request, deterministically and with reasons
 * a user can read, following the decision matrix in doc/frugal.txt (|frugal-routing|). */
#ifndef FRUGAL_ROUTE_ROUTE_H
#define FRUGAL_ROUTE_ROUTE_H

#include "config/config.h"

#define ROUTE_MAX_REASONS 8
#define ROUTE_REASON_LEN 200

typedef struct {
  const char *action;     /* "explain", "fix", ..., "design", "optimize" */
  int nfiles;             /* files in scope (>= 1) */
  int context_tokens;     /* the focused package's tokens */
  const char *scope_kind; /* "function", "selection", "file", ... (for the reasons) */
  const char *scope_name; /* may be NULL */
  int forced_tier;        /* -1, or a tier_id from `:Frugal!` / --tier */
  const char *instruction; /* free text from the user (`ask`); may be NULL */
} route_input;

typedef struct {
  tier_id tier;
  const char *model;      /* borrowed from the config */
  char reasons[ROUTE_MAX_REASONS][ROUTE_REASON_LEN];
  int nreasons;
  long input_tokens;      /* package plus the prompt's fixed instructions */
  long output_tokens;     /* expected answer size for the action */
  double usd;             /* estimate on the chosen tier; < 0 when the model has no price */
  double usd_full;        /* the same tokens on the full tier; < 0 when unknown */
} route_decision;

/* How specific a free-form request is, by the seed article's rules: a named target, a defined
 * output, the code at hand, a bounded scope make it fit for Mini; multi-step verbs and vague
 * scopes ("review my entire ...", "fix the performance issues in my app") need Full. Returns 1
 * for specific, 0 for vague, and a short reason in `why` quoting what decided. */
int route_request_is_specific(const char *text, const char *scope_name, char *why, size_t n);

/* Decides. Returns 0, or -1 with a message in `err` for an unknown action. */
int route_decide(const frugal_config *cfg, const route_input *in, route_decision *out, char *err,
                 size_t errlen);

/* Sets the estimate's input tokens (the real prompt's count, once it is written) and prices
 * the estimate again. */
void route_set_input_tokens(const frugal_config *cfg, route_decision *d, long input_tokens);

#endif
