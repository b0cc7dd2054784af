#include "core/vocab.h"

#include <stddef.h>
#include <string.h>

static const char *const tier_names[TIER__COUNT] = {"mini", "full"};
static const char *const provider_names[] = {"openai", "openai-chat", "anthropic"};
#define NPROVIDERS (sizeof(provider_names) / sizeof(provider_names[0]))

const char *tier_name(tier_id t)
{
  return (unsigned)t < TIER__COUNT ? tier_names[t] : "?";
}

int tier_from_name(const char *name)
{
  for (int i = 0; i < TIER__COUNT; i++) {
    if (name && strcmp(name, tier_names[i]) == 0) {
      return i;
    }
  }
  return -1;
}

const char *provider_name(provider_id p)
{
  return (unsigned)p < NPROVIDERS ? provider_names[p] : "?";
}

int provider_from_name(const char *name)
{
  for (size_t i = 0; name && i < NPROVIDERS; i++) {
    if (strcmp(name, provider_names[i]) == 0) {
      return (int)i;
    }
  }
  return -1;
}
