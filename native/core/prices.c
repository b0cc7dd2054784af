#include "core/prices.h"

#include <ctype.h>
#include <string.h>

/* Built-in prices, $ per 1M tokens: input, cached input, output, cache write (-1: the default
 * rule in prices_lookup). Users extend or override these with the `prices` config key. */
static const price_entry builtin_prices[] = {
  {"gpt-5.4", 2.50, 0.25, 15.00, -1},
  {"gpt-5.4-mini", 0.75, 0.075, 4.50, -1},
  {"gpt-5", 1.25, 0.125, 10.00, -1},
  {"gpt-5-mini", 0.25, 0.025, 2.00, -1},
  {"gpt-5-nano", 0.05, 0.005, 0.40, -1},
  {"gpt-4.1", 2.00, 0.50, 8.00, -1},
  {"gpt-4.1-mini", 0.40, 0.10, 1.60, -1},
  {"gpt-4.1-nano", 0.10, 0.025, 0.40, -1},
  {"gpt-4o", 2.50, 1.25, 10.00, -1},
  {"gpt-4o-mini", 0.15, 0.075, 0.60, -1},
  {"o4-mini", 1.10, 0.275, 4.40, -1},
  {"o3", 2.00, 0.50, 8.00, -1},
  {"claude-opus-4-5", 5.00, 0.50, 25.00, 6.25},
  {"claude-opus-4-1", 15.00, 1.50, 75.00, 18.75},
  {"claude-sonnet-4-5", 3.00, 0.30, 15.00, 3.75},
  {"claude-sonnet-4", 3.00, 0.30, 15.00, 3.75},
  {"claude-haiku-4-5", 1.00, 0.10, 5.00, 1.25},
  {"claude-3-5-haiku", 0.80, 0.08, 4.00, 1.00},
};

/* "gpt-5.4-2026-03-05" is a dated snapshot of "gpt-5.4"; "gpt-5.4-nano" is another model. */
static int is_snapshot_of(const char *model, const char *base)
{
  size_t n = strlen(base);
  return strncmp(model, base, n) == 0 &&
         (model[n] == '\0' || (model[n] == '-' && isdigit((unsigned char)model[n + 1])) ||
          model[n] == '@' || model[n] == ':');
}

int prices_builtin(const char *model, price_entry *out)
{
  const price_entry *best = NULL;
  size_t best_len = 0;
  for (size_t i = 0; i < sizeof(builtin_prices) / sizeof(builtin_prices[0]); i++) {
    size_t n = strlen(builtin_prices[i].model);
    if (n > best_len && is_snapshot_of(model, builtin_prices[i].model)) {
      best = &builtin_prices[i];
      best_len = n;
    }
  }
  if (!best) {
    return -1;
  }
  *out = *best;
  return 0;
}

int prices_resolve(const price_entry *user, size_t nuser, const char *model, provider_id provider,
                   price_entry *out)
{
  int found = -1;
  for (size_t i = 0; i < nuser; i++) {
    if (strcmp(user[i].model, model) == 0) {
      *out = user[i];
      found = 0;
      break;
    }
  }
  if (found) {
    found = prices_builtin(model, out);
  }
  if (found) {
    return -1;
  }
  if (out->cached_input < 0) {
    out->cached_input = out->input;
  }
  if (out->cache_write < 0) {
    /* Anthropic bills 5-minute cache writes at 1.25x input; OpenAI does not bill them extra. */
    int anthropic = provider == PROVIDER_ANTHROPIC || strncmp(model, "claude", 6) == 0;
    out->cache_write = anthropic ? out->input * 1.25 : out->input;
  }
  return 0;
}

double prices_cost(const price_entry *p, long input, long cached, long cache_write, long output)
{
  long uncached = input - cached - cache_write;
  if (uncached < 0) {
    uncached = 0;
  }
  return ((double)uncached * p->input + (double)cached * p->cached_input +
          (double)cache_write * p->cache_write + (double)output * p->output) /
         1e6;
}

int prices_usage_cost(const price_entry *p, const usage_counts *u, double *usd)
{
  if (u->input_tokens < 0 || u->output_tokens < 0) {
    return -1;
  }
  long cached = u->cached_input_tokens > 0 ? (long)u->cached_input_tokens : 0;
  long written = u->cache_write_tokens > 0 ? (long)u->cache_write_tokens : 0;
  /* reasoning_tokens is deliberately not passed: output_tokens includes it. */
  *usd = prices_cost(p, (long)u->input_tokens, cached, written, (long)u->output_tokens);
  return 0;
}
