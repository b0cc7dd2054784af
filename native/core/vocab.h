/* vocab: the words every module shares: the model tiers, the providers, the token counts a
 * model call reports. A leaf: it includes nothing of frugal's, so config, route, provider and
 * ledger can all speak it without reaching into each other. */
#ifndef FRUGAL_CORE_VOCAB_H
#define FRUGAL_CORE_VOCAB_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { TIER_MINI = 0, TIER_FULL = 1, TIER__COUNT } tier_id;

typedef enum {
  PROVIDER_OPENAI = 0,  /* OpenAI Responses API */
  PROVIDER_OPENAI_CHAT, /* Chat Completions and compatible servers */
  PROVIDER_ANTHROPIC,   /* Anthropic Messages */
} provider_id;

/* "mini", "full"; "?" out of range. Static storage. */
const char *tier_name(tier_id t);
/* Parses "mini"/"full"; returns -1 for anything else (NULL included). */
int tier_from_name(const char *name);
/* "openai", "openai-chat", "anthropic"; "?" out of range. Static storage. */
const char *provider_name(provider_id p);
/* Parses a provider name; returns -1 for anything else. */
int provider_from_name(const char *name);

/* Token counts of one model call; each field is USAGE_UNKNOWN when the provider did not say
 * (never a silent 0). */
#define USAGE_UNKNOWN ((int64_t)-1)
typedef struct {
  int64_t input_tokens;        /* every prompt token, cached ones INCLUDED */
  int64_t cached_input_tokens; /* read from the prompt cache */
  int64_t cache_write_tokens;  /* written to the prompt cache (Anthropic cache creation) */
  int64_t output_tokens;       /* reasoning tokens INCLUDED */
  int64_t reasoning_tokens;
  int64_t total_tokens; /* only when the provider reports it */
  bool from_timings;    /* derived from llama.cpp `timings`, no usage object seen yet */
} usage_counts;

#endif
