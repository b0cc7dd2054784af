/* catalogue: the actions frugal knows (explain, fix, ...), with what routing needs of each: the
 * tier the seed article's decision matrix gives it and the size of its prompt and answer. The
 * one list the config, the router, the planner and the editor's completion all read. */
#ifndef FRUGAL_CORE_CATALOGUE_H
#define FRUGAL_CORE_CATALOGUE_H

#include <stddef.h>

#include "core/vocab.h"

typedef struct {
  const char *name;
  tier_id tier;
  const char *matrix_row; /* the article's task type and its "why", quoted in route reasons */
  int prompt_tokens;      /* the fixed instructions the action's prompt adds to the package */
  /* Expected answer: base + per_100 x (context tokens) / 100. */
  int out_base;
  int out_per_100;
} catalogue_action;

/* Known action names, NULL-terminated, in the order the editor completes them. */
extern const char *const catalogue_actions[];

/* The entry for `name`, or NULL when it is not an action (NULL included). Static storage. */
const catalogue_action *catalogue_action_find(const char *name);

/* Returns 1 if `action` is a known action name. */
int catalogue_action_known(const char *action);

/* "explain, fix, ..." for error messages: writes the known action names to out[0..outlen),
 * cut to fit (always NUL-terminated when outlen > 0). */
void catalogue_actions_join(char *out, size_t outlen);

#endif
