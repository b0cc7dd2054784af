#include "core/catalogue.h"

#include <stdio.h>
#include <string.h>

/* The seed article's decision matrix, one row per action. */
static const catalogue_action table[] = {
  {"explain", TIER_MINI, "explain code: a single focused question about the code given", 260,
   450, 25},
  {"fix", TIER_MINI, "debug one error: focused, defined scope", 320, 150, 100},
  {"refactor", TIER_MINI, "refactor a single file or function: limited context needed", 320, 150,
   105},
  {"docs", TIER_MINI, "documentation update: single step with clear requirements", 300, 200, 15},
  {"implement", TIER_MINI, "write a specific function: single step with clear requirements", 320,
   500, 60},
  {"tests", TIER_MINI, "generate unit tests: clear, single-purpose task", 380, 600, 180},
  {"review", TIER_MINI, "code review of one file: one file at a time", 300, 300, 8},
  {"ask", TIER_MINI, "a question about the code at hand", 220, 500, 20},
  {"design", TIER_FULL, "design system architecture: multi-step reasoning required", 300, 2000,
   10},
  {"optimize", TIER_FULL, "performance optimization: requires deep analysis", 320, 800, 60},
  {"refactor-files", TIER_FULL, "multi-file refactoring: complex context", 340, 400, 90},
  {"review-all", TIER_FULL, "review across files: analyse several files and the flow", 320, 1500,
   5},
  /* a plan is a list of steps of 20-60 words, no code: 3-6 steps for most goals */
  {"plan", TIER_FULL, "plan a change: Full designs the steps, Mini executes each", 340, 300, 3},
};

#define NACTIONS (sizeof(table) / sizeof(table[0]))

const char *const catalogue_actions[] = {"explain",   "fix",      "refactor",       "docs",
                                         "implement", "tests",    "review",         "ask",
                                         "design",    "optimize", "refactor-files", "review-all",
                                         "plan",      NULL};

const catalogue_action *catalogue_action_find(const char *name)
{
  for (size_t i = 0; name && i < NACTIONS; i++) {
    if (strcmp(table[i].name, name) == 0) {
      return &table[i];
    }
  }
  return NULL;
}

int catalogue_action_known(const char *action)
{
  return catalogue_action_find(action) != NULL;
}

void catalogue_actions_join(char *out, size_t outlen)
{
  size_t o = 0;
  if (outlen) {
    out[0] = '\0';
  }
  for (const char *const *a = catalogue_actions; *a && o < outlen; a++) {
    int n = snprintf(out + o, outlen - o, "%s%s", a == catalogue_actions ? "" : ", ", *a);
    o += n > 0 ? (size_t)n : 0;
  }
}
