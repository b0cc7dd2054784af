/* prices: $ per 1M tokens for known models, overridable from the config. */
#ifndef FRUGAL_CORE_PRICES_H
#define FRUGAL_CORE_PRICES_H

#include "config/config.h"

/* Looks up `model`: first the config's prices, then the built-in table (exact name, then the
 * longest built-in name that prefixes `model`, so "gpt-5.4-mini-2026-03-01" prices as
 * gpt-5.4-mini). Returns 0 and fills `out` (cache_write resolved: never negative), or -1 if the
 * model has no known price. */
int prices_lookup(const frugal_config *cfg, const char *model, provider_id provider,
                  price_entry *out);

/* Looks up `model` in the built-in table only (same matching as prices_lookup, fields not
 * resolved: cached_input / cache_write may be -1). Returns 0, or -1 if unknown. */
int prices_builtin(const char *model, price_entry *out);

/* Cost in dollars of the given token counts: `input` is the whole prompt, including `cached`
 * (read from cache) and `cache_write` (written to cache); cached tokens are billed at the cached
 * price, cache writes at the write price, the rest at the input price, and output (reasoning
 * included) at the output price. */
double prices_cost(const price_entry *p, long input, long cached, long cache_write, long output);

#endif
