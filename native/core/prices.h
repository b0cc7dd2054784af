/* prices: $ per 1M tokens for known models, overridable from the config. */
#ifndef FRUGAL_CORE_PRICES_H
#define FRUGAL_CORE_PRICES_H

#include <stddef.h>

#include "core/vocab.h"

/* A model's price, $ per 1M tokens. `model` is owned by whoever made the entry (the config's
 * table owns its names; a looked-up copy borrows them); NULL where no name is needed. */
typedef struct {
  char *model;
  double input;
  double cached_input;
  double output;
  double cache_write; /* < 0: not set (defaults to input, or 1.25x input for Anthropic) */
} price_entry;

/* Looks up `model`: first in user[0..nuser) (exact name), then the built-in table (exact name,
 * then the longest built-in name that prefixes `model`, so "gpt-5.4-mini-2026-03-01" prices as
 * gpt-5.4-mini). Returns 0 and fills `out` (cached_input and cache_write resolved: never
 * negative), or -1 if the model has no known price. */
int prices_resolve(const price_entry *user, size_t nuser, const char *model, provider_id provider,
                   price_entry *out);

/* Looks up `model` in the built-in table only (same matching as prices_lookup, fields not
 * resolved: cached_input / cache_write may be -1). Returns 0, or -1 if unknown. */
int prices_builtin(const char *model, price_entry *out);

/* Cost in dollars of the given token counts: `input` is the whole prompt, including `cached`
 * (read from cache) and `cache_write` (written to cache); cached tokens are billed at the cached
 * price, cache writes at the write price, the rest at the input price, and output (reasoning
 * included) at the output price. */
double prices_cost(const price_entry *p, long input, long cached, long cache_write, long output);

/* The same for a call's usage: unknown cached or cache-write counts count as 0; reasoning tokens
 * are part of output_tokens and are not added again. Returns 0, or -1 (and *usd untouched) when
 * the input or output count is unknown. */
int prices_usage_cost(const price_entry *p, const usage_counts *u, double *usd);

#endif
