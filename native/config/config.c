#include "config/config.h"

#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/prices.h"
#include "core/catalogue.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/path.h"

/* Largest config file we read: configs are a few hundred bytes; anything this large is a
 * mistake (a wrong path), and reading it whole would be silly. */
#define CONFIG_MAX_FILE (1024 * 1024)

int config_price_lookup(const frugal_config *cfg, const char *model, provider_id provider,
                        price_entry *out)
{
  return prices_resolve(cfg->prices, cfg->nprices, model, provider, out);
}

const char *config_base_url(const tier_config *t)
{
  if (t->base_url) {
    return t->base_url;
  }
  return t->provider == PROVIDER_ANTHROPIC ? "https://api.anthropic.com"
                                           : "https://api.openai.com/v1";
}

const char *config_api_key_env(const tier_config *t)
{
  if (t->api_key_env) {
    return t->api_key_env;
  }
  return t->provider == PROVIDER_ANTHROPIC ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY";
}

static void tier_defaults(tier_config *t, const char *model, long budget)
{
  memset(t, 0, sizeof(*t));
  t->provider = PROVIDER_OPENAI;
  t->model = xstrdup(model);
  t->max_output_tokens = 8192;
  t->context_tokens = 400000;
  t->context_budget = budget;
}

void config_init(frugal_config *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  /* Mini gets a focused package; a function with its imports and callee signatures is rarely
   * over a few thousand tokens, so 12k leaves room while keeping Mini on single-step work. */
  tier_defaults(&cfg->tiers[TIER_MINI], "gpt-5.4-mini", 12000);
  tier_defaults(&cfg->tiers[TIER_FULL], "gpt-5.4", 100000);
  cfg->budget_daily_usd = -1;
  cfg->budget_monthly_usd = -1;
  cfg->escalate = 1;
  cfg->max_turns = 10;
}

void config_tier_free(tier_config *t)
{
  free(t->model);
  free(t->base_url);
  free(t->api_key_env);
  free(t->api_key_cmd);
  memset(t, 0, sizeof(*t));
}

void config_free(frugal_config *cfg)
{
  for (int i = 0; i < TIER__COUNT; i++) {
    config_tier_free(&cfg->tiers[i]);
  }
  for (size_t i = 0; i < cfg->nprices; i++) {
    free(cfg->prices[i].model);
  }
  free(cfg->prices);
  for (size_t i = 0; i < cfg->nactions; i++) {
    free(cfg->actions[i].action);
  }
  free(cfg->actions);
  free(cfg->ledger_path);
  free(cfg->http_proxy);
  free(cfg->http_ca_file);
  memset(cfg, 0, sizeof(*cfg));
}

static char *dup_or_null(const char *s)
{
  return s ? xstrdup(s) : NULL;
}

void config_tier_copy(tier_config *dst, const tier_config *src)
{
  *dst = *src;
  dst->model = dup_or_null(src->model);
  dst->base_url = dup_or_null(src->base_url);
  dst->api_key_env = dup_or_null(src->api_key_env);
  dst->api_key_cmd = dup_or_null(src->api_key_cmd);
}

/* Deep copy, so a failed apply can leave the original untouched. */
static void config_copy(frugal_config *dst, const frugal_config *src)
{
  *dst = *src;
  for (int i = 0; i < TIER__COUNT; i++) {
    config_tier_copy(&dst->tiers[i], &src->tiers[i]);
  }
  dst->prices = src->nprices ? xmalloc(src->nprices * sizeof(price_entry)) : NULL;
  for (size_t i = 0; i < src->nprices; i++) {
    dst->prices[i] = src->prices[i];
    dst->prices[i].model = xstrdup(src->prices[i].model);
  }
  dst->actions = src->nactions ? xmalloc(src->nactions * sizeof(action_config)) : NULL;
  for (size_t i = 0; i < src->nactions; i++) {
    dst->actions[i] = src->actions[i];
    dst->actions[i].action = xstrdup(src->actions[i].action);
  }
  dst->ledger_path = dup_or_null(src->ledger_path);
  dst->http_proxy = dup_or_null(src->http_proxy);
  dst->http_ca_file = dup_or_null(src->http_ca_file);
}

/* Validation context: the origin for messages and the error buffer. */
typedef struct {
  const char *origin;
  char *err;
  size_t errlen;
} vctx;

static int fail(vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(vctx *v, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(v->err, v->errlen, "config (%s): %s", v->origin, msg);
  return -1;
}

static const char *json_kind(const json_t *j)
{
  switch (json_typeof(j)) {
  case JSON_OBJECT:
    return "an object";
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
  case JSON_REAL:
    return "a number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  case JSON_NULL:
    return "null";
  }
  return "?";
}

static int expect_object(vctx *v, const json_t *j, const char *path)
{
  if (!json_is_object(j)) {
    return fail(v, "'%s' must be an object, got %s", path, json_kind(j));
  }
  return 0;
}

/* Checks that every key of `obj` is in the NULL-terminated `allowed` list. */
static int check_keys(vctx *v, const json_t *obj, const char *path, const char *const *allowed)
{
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)obj, key, val) {
    int ok = 0;
    for (const char *const *a = allowed; *a; a++) {
      if (strcmp(key, *a) == 0) {
        ok = 1;
        break;
      }
    }
    if (!ok) {
      buf_t list = BUF_INIT;
      for (const char *const *a = allowed; *a; a++) {
        buf_printf(&list, "%s%s", a == allowed ? "" : ", ", *a);
      }
      fail(v, "unknown key '%s%s%s' (expected one of: %s)", path, *path ? "." : "", key,
           list.data);
      buf_free(&list);
      return -1;
    }
  }
  return 0;
}

/* A string value, or NULL for JSON null when `nullable`. Sets *out to a new copy (or NULL). */
static int get_string(vctx *v, const json_t *j, const char *path, int nullable, char **out)
{
  if (json_is_null(j) && nullable) {
    *out = NULL;
    return 0;
  }
  if (!json_is_string(j)) {
    return fail(v, "'%s' must be a string%s, got %s", path, nullable ? " or null" : "",
                json_kind(j));
  }
  if (json_string_length(j) == 0 || strlen(json_string_value(j)) != json_string_length(j)) {
    return fail(v, "'%s' must be a non-empty string without NUL bytes", path);
  }
  *out = xstrdup(json_string_value(j));
  return 0;
}

static int get_positive_int(vctx *v, const json_t *j, const char *path, long *out)
{
  if (!json_is_integer(j) || json_integer_value(j) <= 0 || json_integer_value(j) > 100000000) {
    return fail(v, "'%s' must be a positive integer (at most 100000000), got %s", path,
                json_is_integer(j) ? "a value out of range" : json_kind(j));
  }
  *out = (long)json_integer_value(j);
  return 0;
}

/* A non-negative number, or -1 for null when `nullable`. */
static int get_money(vctx *v, const json_t *j, const char *path, int nullable, double *out)
{
  if (json_is_null(j) && nullable) {
    *out = -1;
    return 0;
  }
  if (!json_is_number(j) || json_number_value(j) < 0 || json_number_value(j) > 1e9) {
    return fail(v, "'%s' must be a number >= 0%s, got %s", path, nullable ? " or null" : "",
                json_is_number(j) ? "a value out of range" : json_kind(j));
  }
  *out = json_number_value(j);
  return 0;
}

static void replace_str(char **slot, char *value)
{
  free(*slot);
  *slot = value;
}

static int apply_tier(vctx *v, tier_config *t, const json_t *obj, const char *path)
{
  static const char *const keys[] = {"provider",          "model",          "base_url",
                                     "api_key_env",       "api_key_cmd",    "max_output_tokens",
                                     "context_tokens",    "context_budget", NULL};
  if (expect_object(v, obj, path) || check_keys(v, obj, path, keys)) {
    return -1;
  }
  char p[128];
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)obj, key, val) {
    snprintf(p, sizeof(p), "%s.%s", path, key);
    char *s = NULL;
    if (strcmp(key, "provider") == 0) {
      if (get_string(v, val, p, 0, &s)) {
        return -1;
      }
      int prov = provider_from_name(s);
      free(s);
      if (prov < 0) {
        return fail(v, "'%s' must be one of openai, openai-chat, anthropic, got \"%s\"", p,
                    json_string_value(val));
      }
      t->provider = (provider_id)prov;
    } else if (strcmp(key, "model") == 0) {
      if (get_string(v, val, p, 0, &s)) {
        return -1;
      }
      replace_str(&t->model, s);
    } else if (strcmp(key, "base_url") == 0) {
      if (get_string(v, val, p, 1, &s)) {
        return -1;
      }
      if (s && strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) {
        free(s);
        return fail(v, "'%s' must start with http:// or https://", p);
      }
      if (s) {
        /* "{base_url}/responses": drop trailing slashes so the join never doubles them. */
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '/') {
          s[--n] = '\0';
        }
      }
      replace_str(&t->base_url, s);
    } else if (strcmp(key, "api_key_env") == 0) {
      if (get_string(v, val, p, 1, &s)) {
        return -1;
      }
      replace_str(&t->api_key_env, s);
    } else if (strcmp(key, "api_key_cmd") == 0) {
      if (get_string(v, val, p, 1, &s)) {
        return -1;
      }
      replace_str(&t->api_key_cmd, s);
    } else if (strcmp(key, "max_output_tokens") == 0) {
      if (get_positive_int(v, val, p, &t->max_output_tokens)) {
        return -1;
      }
    } else if (strcmp(key, "context_tokens") == 0) {
      if (get_positive_int(v, val, p, &t->context_tokens)) {
        return -1;
      }
    } else if (strcmp(key, "context_budget") == 0) {
      if (get_positive_int(v, val, p, &t->context_budget)) {
        return -1;
      }
    }
  }
  return 0;
}

static price_entry *find_price(frugal_config *cfg, const char *model)
{
  for (size_t i = 0; i < cfg->nprices; i++) {
    if (strcmp(cfg->prices[i].model, model) == 0) {
      return &cfg->prices[i];
    }
  }
  return NULL;
}

static int apply_prices(vctx *v, frugal_config *cfg, const json_t *obj)
{
  static const char *const keys[] = {"input", "cached_input", "output", "cache_write", NULL};
  if (expect_object(v, obj, "prices")) {
    return -1;
  }
  const char *model;
  json_t *entry;
  json_object_foreach((json_t *)obj, model, entry) {
    char path[256];
    snprintf(path, sizeof(path), "prices.%s", model);
    if (*model == '\0') {
      return fail(v, "'prices' has an empty model name");
    }
    if (expect_object(v, entry, path) || check_keys(v, entry, path, keys)) {
      return -1;
    }
    price_entry pe = {NULL, -1, -1, -1, -1};
    price_entry builtin;
    if (prices_builtin(model, &builtin) == 0) {
      pe = builtin; /* a partial override keeps the built-in values it does not name */
    }
    price_entry *old = find_price(cfg, model);
    if (old) {
      pe = *old;
    }
    const char *k;
    json_t *val;
    json_object_foreach(entry, k, val) {
      char p[300];
      snprintf(p, sizeof(p), "%s.%s", path, k);
      double *slot = strcmp(k, "input") == 0          ? &pe.input
                     : strcmp(k, "cached_input") == 0 ? &pe.cached_input
                     : strcmp(k, "output") == 0       ? &pe.output
                                                      : &pe.cache_write;
      if (get_money(v, val, p, 0, slot)) {
        return -1;
      }
    }
    if (pe.input < 0 || pe.output < 0) {
      return fail(v, "'%s' needs both 'input' and 'output' ($ per 1M tokens): the model has no "
                     "built-in price",
                  path);
    }
    if (old) {
      pe.model = old->model;
      *old = pe;
    } else {
      cfg->prices = xrealloc(cfg->prices, (cfg->nprices + 1) * sizeof(price_entry));
      pe.model = xstrdup(model);
      cfg->prices[cfg->nprices++] = pe;
    }
  }
  return 0;
}

static int apply_actions(vctx *v, frugal_config *cfg, const json_t *obj)
{
  static const char *const keys[] = {"tier", NULL};
  if (expect_object(v, obj, "actions")) {
    return -1;
  }
  const char *action;
  json_t *entry;
  json_object_foreach((json_t *)obj, action, entry) {
    char path[256];
    snprintf(path, sizeof(path), "actions.%s", action);
    if (!catalogue_action_known(action)) {
      char list[300];
      catalogue_actions_join(list, sizeof(list));
      return fail(v, "unknown action '%s' (expected one of: %s)", path, list);
    }
    if (expect_object(v, entry, path) || check_keys(v, entry, path, keys)) {
      return -1;
    }
    int tier = -1;
    json_t *t = json_object_get(entry, "tier");
    if (t && !json_is_null(t)) {
      tier = json_is_string(t) ? tier_from_name(json_string_value(t)) : -1;
      if (tier < 0) {
        return fail(v, "'%s.tier' must be \"mini\" or \"full\"", path);
      }
    }
    size_t i = 0;
    while (i < cfg->nactions && strcmp(cfg->actions[i].action, action) != 0) {
      i++;
    }
    if (i == cfg->nactions) {
      cfg->actions = xrealloc(cfg->actions, (cfg->nactions + 1) * sizeof(action_config));
      cfg->actions[i].action = xstrdup(action);
      cfg->nactions++;
    }
    cfg->actions[i].tier = tier;
  }
  return 0;
}

static int apply_root(vctx *v, frugal_config *cfg, const json_t *root)
{
  static const char *const keys[] = {"tiers",      "prices", "actions",      "ledger", "budget",
                                     "escalation", "http",   "conversation", "editor",
                                     "backend",    NULL};
  if (expect_object(v, root, "the top level") || check_keys(v, root, "", keys)) {
    return -1;
  }
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)root, key, val) {
    if (strcmp(key, "tiers") == 0) {
      static const char *const tkeys[] = {"mini", "full", NULL};
      if (expect_object(v, val, "tiers") || check_keys(v, val, "tiers", tkeys)) {
        return -1;
      }
      for (int i = 0; i < TIER__COUNT; i++) {
        json_t *t = json_object_get(val, tier_name((tier_id)i));
        char path[32];
        snprintf(path, sizeof(path), "tiers.%s", tier_name((tier_id)i));
        if (t && apply_tier(v, &cfg->tiers[i], t, path)) {
          return -1;
        }
      }
    } else if (strcmp(key, "prices") == 0) {
      if (apply_prices(v, cfg, val)) {
        return -1;
      }
    } else if (strcmp(key, "actions") == 0) {
      if (apply_actions(v, cfg, val)) {
        return -1;
      }
    } else if (strcmp(key, "ledger") == 0) {
      static const char *const lkeys[] = {"path", NULL};
      if (expect_object(v, val, "ledger") || check_keys(v, val, "ledger", lkeys)) {
        return -1;
      }
      json_t *p = json_object_get(val, "path");
      char *s = NULL;
      if (p && get_string(v, p, "ledger.path", 1, &s)) {
        return -1;
      }
      char expanded[4096], why[200];
      if (s && path_expand(s, expanded, sizeof(expanded), why, sizeof(why)) != 0) {
        free(s);
        return fail(v, "'ledger.path': %s", why);
      }
      if (p) {
        replace_str(&cfg->ledger_path, s);
      }
    } else if (strcmp(key, "budget") == 0) {
      static const char *const bkeys[] = {"daily_usd", "monthly_usd", NULL};
      if (expect_object(v, val, "budget") || check_keys(v, val, "budget", bkeys)) {
        return -1;
      }
      json_t *d = json_object_get(val, "daily_usd");
      json_t *m = json_object_get(val, "monthly_usd");
      if ((d && get_money(v, d, "budget.daily_usd", 1, &cfg->budget_daily_usd)) ||
          (m && get_money(v, m, "budget.monthly_usd", 1, &cfg->budget_monthly_usd))) {
        return -1;
      }
    } else if (strcmp(key, "conversation") == 0) {
      static const char *const ckeys[] = {"max_turns", NULL};
      if (expect_object(v, val, "conversation") ||
          check_keys(v, val, "conversation", ckeys)) {
        return -1;
      }
      json_t *m = json_object_get(val, "max_turns");
      long turns;
      if (m && get_positive_int(v, m, "conversation.max_turns", &turns)) {
        return -1;
      }
      if (m) {
        cfg->max_turns = turns > 1000 ? 1000 : (int)turns;
      }
    } else if (strcmp(key, "escalation") == 0) {
      static const char *const ekeys[] = {"enabled", NULL};
      if (expect_object(v, val, "escalation") || check_keys(v, val, "escalation", ekeys)) {
        return -1;
      }
      json_t *e = json_object_get(val, "enabled");
      if (e && !json_is_boolean(e)) {
        return fail(v, "'escalation.enabled' must be true or false, got %s", json_kind(e));
      }
      if (e) {
        cfg->escalate = json_is_true(e);
      }
    } else if (strcmp(key, "http") == 0) {
      static const char *const hkeys[] = {"proxy", "ca_file", "allow_insecure_key", NULL};
      if (expect_object(v, val, "http") || check_keys(v, val, "http", hkeys)) {
        return -1;
      }
      json_t *p = json_object_get(val, "proxy");
      json_t *ca = json_object_get(val, "ca_file");
      char *s = NULL;
      if (p) {
        /* "" is meaningful (no proxy, whatever the environment says), so not get_string. */
        if (!json_is_null(p) && !json_is_string(p)) {
          return fail(v, "'http.proxy' must be a string or null, got %s", json_kind(p));
        }
        replace_str(&cfg->http_proxy, json_is_null(p) ? NULL : xstrdup(json_string_value(p)));
      }
      if (ca) {
        if (get_string(v, ca, "http.ca_file", 1, &s)) {
          return -1;
        }
        replace_str(&cfg->http_ca_file, s);
      }
      json_t *ak = json_object_get(val, "allow_insecure_key");
      if (ak && !json_is_boolean(ak)) {
        return fail(v, "'http.allow_insecure_key' must be true or false, got %s", json_kind(ak));
      }
      if (ak) {
        cfg->http_allow_insecure_key = json_is_true(ak);
      }
    } else if (strcmp(key, "editor") == 0) {
      /* Editor-only options (windows, host command): the plugin validates them. */
      if (expect_object(v, val, "editor")) {
        return -1;
      }
    } else if (strcmp(key, "backend") == 0) {
      /* How the plugin runs the library (plugin only; a shared config file may carry it). */
      const char *b = json_is_string(val) ? json_string_value(val) : NULL;
      if (!b || (strcmp(b, "process") != 0 && strcmp(b, "inprocess") != 0)) {
        return fail(v, "'backend' must be \"process\" or \"inprocess\", got %s",
                    b ? b : json_kind(val));
      }
    }
  }
  return 0;
}

int config_apply_json(frugal_config *cfg, const char *json, size_t len, const char *origin,
                      char *err, size_t errlen)
{
  vctx v = {origin ? origin : "config", err, errlen};
  json_error_t jerr;
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    return fail(&v, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
  }
  frugal_config next;
  config_copy(&next, cfg);
  int rc = apply_root(&v, &next, root);
  json_decref(root);
  if (rc) {
    config_free(&next);
    return -1;
  }
  config_free(cfg);
  *cfg = next;
  return 0;
}

int config_apply_file(frugal_config *cfg, const char *path, char *err, size_t errlen)
{
  file_contents f;
  char why[400];
  if (file_load(&f, path, CONFIG_MAX_FILE, why, sizeof(why))) {
    snprintf(err, errlen, "config: %s", why);
    return -1;
  }
  int rc = config_apply_json(cfg, f.data, f.len, path, err, errlen);
  file_release(&f);
  return rc;
}

int config_action_tier(const frugal_config *cfg, const char *action)
{
  for (size_t i = 0; i < cfg->nactions; i++) {
    if (strcmp(cfg->actions[i].action, action) == 0) {
      return cfg->actions[i].tier;
    }
  }
  return -1;
}
