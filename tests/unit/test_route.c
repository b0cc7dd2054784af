/* Routing: the decision matrix, overrides, reasons, and the price estimate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "config/config.h"
#include "core/prices.h"
#include "route/route.h"

static route_decision decide(const frugal_config *cfg, const char *action, int nfiles, int tokens,
                             int forced)
{
  route_input in = {action, nfiles, tokens, "function", "parse_args", forced, NULL};
  route_decision d;
  char err[200];
  assert_int_equal(route_decide(cfg, &in, &d, err, sizeof(err)), 0);
  return d;
}

static int has_reason(const route_decision *d, const char *needle)
{
  for (int i = 0; i < d->nreasons; i++) {
    if (strstr(d->reasons[i], needle)) {
      return 1;
    }
  }
  return 0;
}

static void single_file_actions_go_to_mini(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  const char *mini[] = {"explain", "fix", "refactor", "docs", "implement", "tests", "review"};
  for (size_t i = 0; i < sizeof(mini) / sizeof(mini[0]); i++) {
    route_decision d = decide(&cfg, mini[i], 1, 1800, -1);
    assert_int_equal(d.tier, TIER_MINI);
    assert_string_equal(d.model, "gpt-5.4-mini");
    assert_true(has_reason(&d, "-> mini"));
    assert_true(has_reason(&d, "single function parse_args, 1.8k tokens"));
  }
  config_free(&cfg);
}

static void design_and_optimize_go_to_full_with_the_matrix_reason(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  route_decision d = decide(&cfg, "design", 1, 500, -1);
  assert_int_equal(d.tier, TIER_FULL);
  assert_true(has_reason(&d, "multi-step reasoning"));
  d = decide(&cfg, "optimize", 1, 500, -1);
  assert_int_equal(d.tier, TIER_FULL);
  assert_true(has_reason(&d, "deep analysis"));
  config_free(&cfg);
}

static void more_than_one_file_means_full(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  route_decision d = decide(&cfg, "refactor", 3, 900, -1);
  assert_int_equal(d.tier, TIER_FULL);
  assert_true(has_reason(&d, "3 files in scope"));
  config_free(&cfg);
}

static void context_over_the_mini_budget_goes_to_full(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  route_decision d = decide(&cfg, "explain", 1, 15000, -1);
  assert_int_equal(d.tier, TIER_FULL);
  assert_true(has_reason(&d, "exceeds the mini budget of 12.0k"));
  config_free(&cfg);
}

static void overrides_win_in_order_call_then_config_then_table(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  char err[600];
  const char *json = "{\"actions\":{\"tests\":{\"tier\":\"full\"}}}";
  assert_int_equal(config_apply_json(&cfg, json, strlen(json), "t", err, sizeof(err)), 0);
  route_decision d = decide(&cfg, "tests", 1, 100, -1);
  assert_int_equal(d.tier, TIER_FULL);
  assert_true(has_reason(&d, "actions.tests.tier"));
  d = decide(&cfg, "tests", 1, 100, TIER_MINI);
  assert_int_equal(d.tier, TIER_MINI);
  assert_true(has_reason(&d, "mini tier forced"));
  d = decide(&cfg, "design", 4, 100, TIER_MINI);
  assert_int_equal(d.tier, TIER_MINI);
  config_free(&cfg);
}

static void estimate_prices_tokens_on_the_tier_and_on_full(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  route_decision d = decide(&cfg, "explain", 1, 1000, -1);
  /* explain: 260 prompt tokens; output 450 + 25% of context */
  assert_int_equal(d.input_tokens, 1260);
  assert_int_equal(d.output_tokens, 700);
  double mini = (1260 * 0.75 + 700 * 4.50) / 1e6;
  double full = (1260 * 2.50 + 700 * 15.0) / 1e6;
  assert_true(fabs(d.usd - mini) < 1e-12);
  assert_true(fabs(d.usd_full - full) < 1e-12);
  config_free(&cfg);
}

static void unknown_model_price_is_reported_as_unknown(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  char err[600];
  const char *json = "{\"tiers\":{\"mini\":{\"provider\":\"openai-chat\",\"model\":\"qwen3:8b\"}}}";
  assert_int_equal(config_apply_json(&cfg, json, strlen(json), "t", err, sizeof(err)), 0);
  route_decision d = decide(&cfg, "fix", 1, 300, -1);
  assert_int_equal(d.tier, TIER_MINI);
  assert_true(d.usd < 0);
  assert_true(d.usd_full > 0);
  config_free(&cfg);
}

static void unknown_action_is_an_error(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  route_input in = {"summon", 1, 10, "function", NULL, -1, NULL};
  route_decision d;
  char err[200];
  assert_int_equal(route_decide(&cfg, &in, &d, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "unknown action 'summon'"));
  config_free(&cfg);
}

static void prices_match_dated_snapshots_but_not_other_models(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  price_entry p;
  assert_int_equal(config_price_lookup(&cfg, "gpt-5.4-mini-2026-03-17", PROVIDER_OPENAI, &p), 0);
  assert_true(p.input == 0.75 && p.cached_input == 0.075 && p.output == 4.50);
  assert_int_equal(config_price_lookup(&cfg, "gpt-5.4-nano", PROVIDER_OPENAI, &p), -1);
  assert_int_equal(config_price_lookup(&cfg, "claude-sonnet-4-5-20250929", PROVIDER_ANTHROPIC, &p), 0);
  assert_true(p.cache_write == 3.75);
  config_free(&cfg);
}

static void cost_bills_cached_and_cache_write_tokens_at_their_prices(void **state)
{
  price_entry p = {"m", 2.50, 0.25, 15.0, 3.125};
  /* 10,000 prompt tokens of which 8,000 cached and 1,000 written; 500 output */
  double usd = prices_cost(&p, 10000, 8000, 1000, 500);
  double want = (1000 * 2.50 + 8000 * 0.25 + 1000 * 3.125 + 500 * 15.0) / 1e6;
  assert_true(fabs(usd - want) < 1e-12);
}

static route_decision ask(const frugal_config *cfg, const char *text, const char *scope)
{
  route_input in = {"ask", 1, 900, "function", scope, -1, text};
  route_decision d;
  char err[200];
  assert_int_equal(route_decide(cfg, &in, &d, err, sizeof(err)), 0);
  return d;
}

/* The seed article's own examples: the prompts it says fail on Mini, and their rewrites that
 * succeed. */
static void ask_routes_the_articles_vague_prompts_to_full_and_specific_ones_to_mini(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  static const char *const vague[] = {
    "Fix the performance issues in my app",
    "Review my entire authentication flow and suggest security improvements",
    "Add error handling to the user module",
    "Design the data model and API endpoints for a user notification system.",
  };
  for (size_t i = 0; i < sizeof(vague) / sizeof(vague[0]); i++) {
    route_decision d = ask(&cfg, vague[i], "processData");
    if (d.tier != TIER_FULL) {
      fail_msg("'%s' went to mini: %s", vague[i], d.reasons[0]);
    }
    assert_true(has_reason(&d, "-> full"));
  }
  static const char *const specific[] = {
    "Analyze this function and suggest 3 specific optimizations. Focus on algorithmic "
    "improvements, not micro-optimizations.",
    "Add try-catch blocks to these three functions in user.service.ts: createUser(), "
    "updateUser(), deleteUser()",
    "Review this password hashing function for security issues. Check for: 1. Salt usage "
    "2. Appropriate algorithm 3. Timing attack resistance",
    "Why does processData copy the children twice?",
  };
  for (size_t i = 0; i < sizeof(specific) / sizeof(specific[0]); i++) {
    route_decision d = ask(&cfg, specific[i], "processData");
    if (d.tier != TIER_MINI) {
      fail_msg("'%s' went to full: %s", specific[i], d.reasons[0]);
    }
    assert_true(has_reason(&d, "specific request"));
  }
  route_decision d = ask(&cfg, "Review my entire authentication flow", NULL);
  assert_true(has_reason(&d, "\"entire\""));
  config_free(&cfg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(single_file_actions_go_to_mini),
    cmocka_unit_test(design_and_optimize_go_to_full_with_the_matrix_reason),
    cmocka_unit_test(more_than_one_file_means_full),
    cmocka_unit_test(context_over_the_mini_budget_goes_to_full),
    cmocka_unit_test(overrides_win_in_order_call_then_config_then_table),
    cmocka_unit_test(estimate_prices_tokens_on_the_tier_and_on_full),
    cmocka_unit_test(unknown_model_price_is_reported_as_unknown),
    cmocka_unit_test(unknown_action_is_an_error),
    cmocka_unit_test(ask_routes_the_articles_vague_prompts_to_full_and_specific_ones_to_mini),
    cmocka_unit_test(prices_match_dated_snapshots_but_not_other_models),
    cmocka_unit_test(cost_bills_cached_and_cache_write_tokens_at_their_prices),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
