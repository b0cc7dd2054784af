#include "service/catalogue.h"


#include "config/config.h"
#include "core/catalogue.h"
#include "frugal.h"
#include "prompt/prompt.h"
#include "route/route.h"

/* The tier the router picks for `action` with the built-in configuration and a small, specific
 * request: the action's own tier in the decision matrix, before any size or scope reason. */
static const char *default_tier(const frugal_config *cfg, const char *action)
{
  route_input in = {.action = action, .nfiles = 1, .context_tokens = 100,
                    .scope_kind = "function", .scope_name = "f", .forced_tier = -1,
                    .instruction = NULL};
  route_decision d;
  char err[200];
  if (route_decide(cfg, &in, &d, err, sizeof(err)) != 0) {
    return NULL;
  }
  return tier_name(d.tier);
}

json_t *service_catalogue_json(void)
{
  json_t *o = json_object();
  json_t *actions = json_array();
  json_t *tiers = json_array();
  json_t *providers = json_array();
  if (!o || !actions || !tiers || !providers) {
    json_decref(o);
    json_decref(actions);
    json_decref(tiers);
    json_decref(providers);
    return NULL;
  }
  frugal_config cfg;
  config_init(&cfg);
  for (const char *const *a = catalogue_actions; *a; a++) {
    json_t *row = json_object();
    const char *tier = default_tier(&cfg, *a);
    json_object_set_new(row, "name", json_string(*a));
    json_object_set_new(row, "tier", tier ? json_string(tier) : json_null());
    json_object_set_new(row, "output", json_string(prompt_output_name(prompt_output_for(*a))));
    json_array_append_new(actions, row);
  }
  /* What each tier is without a configuration, and each provider's URL and key variable
   * (for :checkhealth, which shows the tiers as the host will use them). */
  json_t *tier_defaults = json_object();
  json_t *provider_defaults = json_object();
  for (int t = 0; t < TIER__COUNT; t++) {
    json_array_append_new(tiers, json_string(tier_name((tier_id)t)));
    json_t *d = json_object();
    json_object_set_new(d, "provider", json_string(provider_name(cfg.tiers[t].provider)));
    json_object_set_new(d, "model", json_string(cfg.tiers[t].model ? cfg.tiers[t].model : ""));
    json_object_set_new(tier_defaults, tier_name((tier_id)t), d);
  }
  for (int p = 0; p <= PROVIDER_ANTHROPIC; p++) {
    json_array_append_new(providers, json_string(provider_name((provider_id)p)));
    tier_config t = {.provider = (provider_id)p};
    json_t *d = json_object();
    json_object_set_new(d, "base_url", json_string(config_base_url(&t)));
    json_object_set_new(d, "api_key_env", json_string(config_api_key_env(&t)));
    json_object_set_new(provider_defaults, provider_name((provider_id)p), d);
  }
  config_free(&cfg);
  json_object_set_new(o, "version", json_string(FRUGAL_VERSION_STRING));
  json_object_set_new(o, "actions", actions);
  json_object_set_new(o, "tiers", tiers);
  json_object_set_new(o, "providers", providers);
  json_object_set_new(o, "tier_defaults", tier_defaults);
  json_object_set_new(o, "provider_defaults", provider_defaults);
  return o;
}
