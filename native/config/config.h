/* config: frugal's configuration, read from JSON (`frugal --config FILE`, $FRUGAL_CONFIG, and the
 * editor's setup() table, which the plugin sends as JSON).
 *
 * The key names are a contract shared with other tools (see doc/frugal.txt): keys are added,
 * never renamed. Every key is optional; an unknown key or a value of the wrong type is an error
 * that names the key by its full path ("tiers.mini.modle"). */
#ifndef FRUGAL_CONFIG_CONFIG_H
#define FRUGAL_CONFIG_CONFIG_H

#include <stddef.h>

#include "core/prices.h"
#include "core/vocab.h"

typedef struct {
  provider_id provider;
  char *model;
  char *base_url;       /* NULL: the provider's default (config_base_url) */
  char *api_key_env;    /* NULL: the provider's default (config_api_key_env) */
  char *api_key_cmd;    /* NULL if unset */
  long max_output_tokens;
  long context_tokens;  /* the model's context window */
  long context_budget;  /* tokens of focused context this tier is given (routing input) */
} tier_config;

typedef struct {
  char *action;
  int tier;            /* tier_id, or -1 when the action entry sets no tier */
} action_config;

typedef struct {
  tier_config tiers[TIER__COUNT];
  price_entry *prices; /* user prices; they extend and override the built-in table */
  size_t nprices;
  action_config *actions;
  size_t nactions;
  char *ledger_path;   /* NULL: the default */
  int escalate;        /* escalation.enabled: retry an unusable Mini answer once on Full */
  int max_turns;       /* conversation.max_turns: answers a Mini conversation may have */
  char *http_proxy;    /* http.proxy: NULL: the usual proxy environment variables; "": none */
  char *http_ca_file;  /* http.ca_file: a PEM bundle trusted in addition to the system's */
  int http_allow_insecure_key; /* http.allow_insecure_key: send a key over plain http:// to a
                                  host that is not loopback (default 0: refused) */
  double budget_daily_usd;   /* < 0: no budget */
  double budget_monthly_usd;
} frugal_config;

/* Fills `cfg` with the defaults (mini = gpt-5.4-mini, full = gpt-5.4, both on OpenAI). */
void config_init(frugal_config *cfg);
void config_free(frugal_config *cfg);

/* Applies a JSON document on top of `cfg`. Returns 0, or -1 with a one-line message in `err`
 * naming the offending key ("config: unknown key 'tiers.mini.modle'"); on error `cfg` is left as
 * it was. `origin` names the source for messages (a file name, "setup()"). */
int config_apply_json(frugal_config *cfg, const char *json, size_t len, const char *origin,
                      char *err, size_t errlen);
/* Reads and applies a JSON file; errors name the file. */
int config_apply_file(frugal_config *cfg, const char *path, char *err, size_t errlen);

/* Deep copy of one tier (free with config_tier_free). */
void config_tier_copy(tier_config *dst, const tier_config *src);
void config_tier_free(tier_config *t);

/* Tier of a per-action override in the config, or -1 if the config sets none for `action`. */
int config_action_tier(const frugal_config *cfg, const char *action);

/* The tier's base URL / key variable, falling back to the provider's default when unset. */
const char *config_base_url(const tier_config *t);
const char *config_api_key_env(const tier_config *t);

/* The price of `model`: the config's `prices` first, then the built-in table (see
 * prices_resolve). Returns 0 and fills `out`, or -1 if the model has no known price. */
int config_price_lookup(const frugal_config *cfg, const char *model, provider_id provider,
                        price_entry *out);

#endif
