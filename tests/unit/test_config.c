/* Configuration: defaults, every key of the contract, and errors that name the wrong key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/prices.h"

static int apply(frugal_config *cfg, const char *json, char *err)
{
  return config_apply_json(cfg, json, strlen(json), "test.json", err, 600);
}

static void defaults_are_openai_mini_and_full(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  assert_string_equal(cfg.tiers[TIER_MINI].model, "gpt-5.4-mini");
  assert_string_equal(cfg.tiers[TIER_FULL].model, "gpt-5.4");
  assert_int_equal(cfg.tiers[TIER_FULL].provider, PROVIDER_OPENAI);
  assert_string_equal(config_base_url(&cfg.tiers[TIER_FULL]), "https://api.openai.com/v1");
  assert_string_equal(config_api_key_env(&cfg.tiers[TIER_FULL]), "OPENAI_API_KEY");
  assert_int_equal(cfg.tiers[TIER_FULL].max_output_tokens, 8192);
  assert_int_equal(cfg.tiers[TIER_FULL].context_tokens, 400000);
  assert_true(cfg.budget_daily_usd < 0);
  assert_null(cfg.ledger_path);
  config_free(&cfg);
}

static void the_design_example_config_is_accepted(void **state)
{
  const char *json =
    "{\"tiers\": {\"mini\": {\"provider\": \"openai\", \"model\": \"gpt-5.4-mini\"},"
    " \"full\": {\"provider\": \"openai\", \"model\": \"gpt-5.4\","
    "  \"base_url\": \"https://api.openai.com/v1\", \"api_key_env\": \"OPENAI_API_KEY\","
    "  \"api_key_cmd\": null, \"max_output_tokens\": 8192, \"context_tokens\": 400000}},"
    " \"prices\": {\"my-model\": {\"input\": 0.75, \"cached_input\": 0.075, \"output\": 4.50,"
    "  \"cache_write\": 0.9375}},"
    " \"actions\": {\"review\": {\"tier\": \"full\"}},"
    " \"ledger\": {\"path\": null},"
    " \"budget\": {\"daily_usd\": null, \"monthly_usd\": null}}";
  frugal_config cfg;
  config_init(&cfg);
  char err[600] = "";
  assert_int_equal(apply(&cfg, json, err), 0);
  assert_int_equal(config_action_tier(&cfg, "review"), TIER_FULL);
  assert_int_equal(config_action_tier(&cfg, "tests"), -1);
  price_entry p;
  assert_int_equal(config_price_lookup(&cfg, "my-model", PROVIDER_OPENAI, &p), 0);
  assert_true(p.cache_write > 0.93 && p.cache_write < 0.94);
  config_free(&cfg);
}

static void anthropic_provider_gets_its_own_url_and_key_variable(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  char err[600] = "";
  assert_int_equal(apply(&cfg,
                         "{\"tiers\":{\"full\":{\"provider\":\"anthropic\","
                         "\"model\":\"claude-sonnet-4-5\"},\"mini\":{\"provider\":\"openai-chat\","
                         "\"model\":\"qwen\",\"base_url\":\"http://127.0.0.1:11434/v1/\"}}}",
                         err),
                   0);
  assert_string_equal(config_base_url(&cfg.tiers[TIER_FULL]), "https://api.anthropic.com");
  assert_string_equal(config_api_key_env(&cfg.tiers[TIER_FULL]), "ANTHROPIC_API_KEY");
  /* the trailing slash is dropped so "{base_url}/chat/completions" has one slash */
  assert_string_equal(config_base_url(&cfg.tiers[TIER_MINI]), "http://127.0.0.1:11434/v1");
  assert_int_equal(cfg.tiers[TIER_MINI].provider, PROVIDER_OPENAI_CHAT);
  config_free(&cfg);
}

static void unknown_keys_are_named_by_full_path(void **state)
{
  static const struct {
    const char *json;
    const char *needle;
  } cases[] = {
    {"{\"tier\": {}}", "unknown key 'tier'"},
    {"{\"tiers\": {\"mini\": {\"modle\": \"x\"}}}", "unknown key 'tiers.mini.modle'"},
    {"{\"tiers\": {\"medium\": {}}}", "unknown key 'tiers.medium'"},
    {"{\"prices\": {\"gpt-5.4\": {\"inptu\": 1}}}", "unknown key 'prices.gpt-5.4.inptu'"},
    {"{\"actions\": {\"review\": {\"teir\": \"full\"}}}", "unknown key 'actions.review.teir'"},
    {"{\"actions\": {\"reveiw\": {\"tier\": \"full\"}}}", "unknown action 'actions.reveiw'"},
    {"{\"budget\": {\"daily\": 3}}", "unknown key 'budget.daily'"},
    {"{\"ledger\": {\"file\": \"x\"}}", "unknown key 'ledger.file'"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    frugal_config cfg;
    config_init(&cfg);
    char err[600] = "";
    assert_int_equal(apply(&cfg, cases[i].json, err), -1);
    if (!strstr(err, cases[i].needle)) {
      fail_msg("case %zu: '%s' does not contain '%s'", i, err, cases[i].needle);
    }
    assert_non_null(strstr(err, "test.json"));
    config_free(&cfg);
  }
}

static void wrong_types_and_values_are_rejected_with_the_key(void **state)
{
  static const struct {
    const char *json;
    const char *needle;
  } cases[] = {
    {"{\"tiers\": {\"mini\": {\"model\": 5}}}", "'tiers.mini.model' must be a string"},
    {"{\"tiers\": {\"mini\": {\"model\": \"\"}}}", "'tiers.mini.model' must be a non-empty"},
    {"{\"tiers\": {\"full\": {\"provider\": \"gemini\"}}}", "'tiers.full.provider' must be one of"},
    {"{\"tiers\": {\"full\": {\"max_output_tokens\": -1}}}", "'tiers.full.max_output_tokens'"},
    {"{\"tiers\": {\"full\": {\"context_tokens\": 1.5}}}", "'tiers.full.context_tokens'"},
    {"{\"tiers\": {\"full\": {\"base_url\": \"ftp://x\"}}}", "http:// or https://"},
    {"{\"prices\": {\"new-model\": {\"input\": 1}}}", "needs both 'input' and 'output'"},
    {"{\"prices\": {\"gpt-5.4\": {\"input\": -2}}}", "'prices.gpt-5.4.input' must be a number"},
    {"{\"actions\": {\"review\": {\"tier\": \"huge\"}}}", "'actions.review.tier' must be"},
    {"{\"budget\": {\"daily_usd\": \"5\"}}", "'budget.daily_usd' must be a number"},
    {"[1, 2]", "must be an object"},
    {"{\"tiers\": ", "invalid JSON at line 1"},
    {"{\"tiers\": {}, \"tiers\": {}}", "invalid JSON"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    frugal_config cfg;
    config_init(&cfg);
    char err[600] = "";
    assert_int_equal(apply(&cfg, cases[i].json, err), -1);
    if (!strstr(err, cases[i].needle)) {
      fail_msg("case %zu: '%s' does not contain '%s'", i, err, cases[i].needle);
    }
    config_free(&cfg);
  }
}

static void a_failed_apply_leaves_the_config_unchanged(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  char err[600];
  assert_int_equal(apply(&cfg, "{\"tiers\":{\"mini\":{\"model\":\"a\"}}}", err), 0);
  /* the model is valid, the later key is not: nothing of this document may stick */
  assert_int_equal(apply(&cfg, "{\"tiers\":{\"mini\":{\"model\":\"b\",\"context_budget\":0}}}", err),
                   -1);
  assert_string_equal(cfg.tiers[TIER_MINI].model, "a");
  config_free(&cfg);
}

static void http_escalation_and_proxy_keys_are_read(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  char err[600];
  assert_null(cfg.http_proxy);
  assert_int_equal(apply(&cfg, "{\"http\":{\"proxy\":\"\",\"ca_file\":\"/etc/corp.pem\"}}", err), 0);
  assert_string_equal(cfg.http_proxy, ""); /* "": no proxy, whatever the environment says */
  assert_string_equal(cfg.http_ca_file, "/etc/corp.pem");
  assert_int_equal(cfg.max_turns, 10); /* Mini loses track after 10-15 turns */
  assert_int_equal(apply(&cfg, "{\"conversation\":{\"max_turns\":4}}", err), 0);
  assert_int_equal(cfg.max_turns, 4);
  assert_int_equal(apply(&cfg, "{\"conversation\":{\"max_turns\":0}}", err), -1);
  assert_non_null(strstr(err, "'conversation.max_turns'"));
  assert_int_equal(cfg.escalate, 1); /* on by default */
  assert_int_equal(apply(&cfg, "{\"escalation\":{\"enabled\":false}}", err), 0);
  assert_int_equal(cfg.escalate, 0);
  assert_int_equal(apply(&cfg, "{\"escalation\":{\"enabled\":\"no\"}}", err), -1);
  assert_non_null(strstr(err, "'escalation.enabled' must be true or false"));
  assert_int_equal(apply(&cfg, "{\"http\":{\"insecure\":true}}", err), -1);
  assert_non_null(strstr(err, "unknown key 'http.insecure'"));
  config_free(&cfg);
}

static void http_allow_insecure_key_is_an_opt_in_boolean(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  char err[600];
  assert_int_equal(cfg.http_allow_insecure_key, 0); /* off unless asked for */
  assert_int_equal(apply(&cfg, "{\"http\":{\"allow_insecure_key\":true}}", err), 0);
  assert_int_equal(cfg.http_allow_insecure_key, 1);
  assert_int_equal(apply(&cfg, "{\"http\":{\"allow_insecure_key\":\"yes\"}}", err), -1);
  assert_non_null(strstr(err, "'http.allow_insecure_key' must be true or false"));
  assert_int_equal(cfg.http_allow_insecure_key, 1); /* a failed apply changes nothing */
  assert_int_equal(apply(&cfg, "{\"http\":{\"allow_insecure_key\":false}}", err), 0);
  assert_int_equal(cfg.http_allow_insecure_key, 0);
  config_free(&cfg);
}

/* The plugin's backend key may sit in a config file the command line reads too: it is checked,
 * not refused as unknown. */
static void backend_is_process_or_inprocess(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  char err[600];
  assert_int_equal(apply(&cfg, "{\"backend\":\"inprocess\"}", err), 0);
  assert_int_equal(apply(&cfg, "{\"backend\":\"process\"}", err), 0);
  assert_int_equal(apply(&cfg, "{\"backend\":\"thread\"}", err), -1);
  assert_non_null(strstr(err, "'backend' must be \"process\" or \"inprocess\", got thread"));
  assert_int_equal(apply(&cfg, "{\"backend\":1}", err), -1);
  assert_non_null(strstr(err, "'backend' must be"));
  config_free(&cfg);
}

static void partial_price_override_keeps_builtin_fields(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  char err[600];
  assert_int_equal(apply(&cfg, "{\"prices\":{\"gpt-5.4\":{\"output\":12}}}", err), 0);
  price_entry p;
  assert_int_equal(config_price_lookup(&cfg, "gpt-5.4", PROVIDER_OPENAI, &p), 0);
  assert_true(p.input == 2.50 && p.cached_input == 0.25 && p.output == 12.0);
  config_free(&cfg);
}

static void config_file_errors_name_the_file(void **state)
{
  frugal_config cfg;
  config_init(&cfg);
  char err[600];
  assert_int_equal(config_apply_file(&cfg, "/nonexistent/frugal.json", err, sizeof(err)), -1);
  assert_non_null(strstr(err, "/nonexistent/frugal.json"));
  char path[] = "/tmp/frugal-test-config-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *doc = "{\"budget\": {\"daily_usd\": 2.5}}";
  assert_int_equal(write(fd, doc, strlen(doc)), (int)strlen(doc));
  close(fd);
  assert_int_equal(config_apply_file(&cfg, path, err, sizeof(err)), 0);
  assert_true(cfg.budget_daily_usd == 2.5);
  unlink(path);
  config_free(&cfg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(defaults_are_openai_mini_and_full),
    cmocka_unit_test(the_design_example_config_is_accepted),
    cmocka_unit_test(anthropic_provider_gets_its_own_url_and_key_variable),
    cmocka_unit_test(unknown_keys_are_named_by_full_path),
    cmocka_unit_test(wrong_types_and_values_are_rejected_with_the_key),
    cmocka_unit_test(a_failed_apply_leaves_the_config_unchanged),
    cmocka_unit_test(partial_price_override_keeps_builtin_fields),
    cmocka_unit_test(http_escalation_and_proxy_keys_are_read),
    cmocka_unit_test(http_allow_insecure_key_is_an_opt_in_boolean),
    cmocka_unit_test(backend_is_process_or_inprocess),
    cmocka_unit_test(config_file_errors_name_the_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
