/* llm wire formats: request URLs and bodies per provider, and whole (non-streamed) JSON
 * answers from servers that ignored "stream": true. */
#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "provider/llm_int.h"
#include "util/buf.h"

/* Used when neither the request nor the tier sets a limit: Anthropic requires one, and an
 * unlimited local model can ramble until its context is full. */
#define LLM_DEFAULT_MAX_OUTPUT 8192

stream_api llm__stream_api(provider_id p)
{
  switch (p) {
  case PROVIDER_OPENAI_CHAT:
    return STREAM_API_OPENAI_CHAT;
  case PROVIDER_ANTHROPIC:
    return STREAM_API_ANTHROPIC;
  default:
    return STREAM_API_OPENAI_RESPONSES;
  }
}

/* ---- URLs ---- */

/* Length of the scheme prefix ("http://", "https://"), 0 for anything else. */
static size_t scheme_len(const char *url)
{
  if (strncasecmp(url, "https://", 8) == 0) {
    return 8;
  }
  if (strncasecmp(url, "http://", 7) == 0) {
    return 7;
  }
  return 0;
}

char *llm__url(const tier_config *t, char *err, size_t errlen)
{
  const char *base = config_base_url(t);
  size_t n = strlen(base);
  if (scheme_len(base) == 0) {
    snprintf(err, errlen, "base_url must start with http:// or https://");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)base[i];
    if (ch <= 0x20 || ch == 0x7f) {
      snprintf(err, errlen, "base_url contains a space or control character at byte %zu", i);
      return NULL;
    }
  }
  if (n == scheme_len(base)) {
    snprintf(err, errlen, "base_url has no host");
    return NULL;
  }
  while (n > 0 && base[n - 1] == '/') {
    n--;
  }
  const char *path = t->provider == PROVIDER_OPENAI        ? "/responses"
                     : t->provider == PROVIDER_OPENAI_CHAT ? "/chat/completions"
                                                           : "/v1/messages";
  buf_t b = BUF_INIT;
  buf_append(&b, base, n);
  buf_puts(&b, path);
  return buf_detach(&b);
}

void llm__url_host(const char *url, char *out, size_t outlen)
{
  if (outlen == 0) {
    return;
  }
  out[0] = '\0';
  size_t s = scheme_len(url);
  if (s == 0) {
    return;
  }
  const char *a = url + s;
  size_t alen = strcspn(a, "/?#");
  /* user info ends at the last '@' of the authority */
  for (size_t i = alen; i-- > 0;) {
    if (a[i] == '@') {
      a += i + 1;
      alen -= i + 1;
      break;
    }
  }
  size_t hlen;
  if (alen > 0 && a[0] == '[') {
    const char *close = memchr(a, ']', alen);
    hlen = close ? (size_t)(close - a) + 1 : alen;
  } else {
    const char *colon = memchr(a, ':', alen);
    hlen = colon ? (size_t)(colon - a) : alen;
  }
  size_t i = 0;
  for (; i < hlen && i + 1 < outlen; i++) {
    out[i] = (char)tolower((unsigned char)a[i]);
  }
  out[i] = '\0';
}

int llm__is_openai_host(const char *base_url)
{
  char host[256];
  llm__url_host(base_url, host, sizeof(host));
  return strcmp(host, "api.openai.com") == 0;
}

int llm__is_loopback_host(const char *host)
{
  size_t n = strlen(host);
  if (strcmp(host, "localhost") == 0 ||
      (n > 10 && strcmp(host + n - 10, ".localhost") == 0)) {
    return 1;
  }
  struct in_addr a4;
  if (inet_pton(AF_INET, host, &a4) == 1) {
    return (ntohl(a4.s_addr) >> 24) == 127;
  }
  if (n > 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < INET6_ADDRSTRLEN) {
    char inner[INET6_ADDRSTRLEN];
    memcpy(inner, host + 1, n - 2);
    inner[n - 2] = '\0';
    struct in6_addr a6;
    if (inet_pton(AF_INET6, inner, &a6) != 1) {
      return 0;
    }
    if (IN6_IS_ADDR_LOOPBACK(&a6)) {
      return 1;
    }
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
  }
  return 0;
}

long llm__max_output(const llm_request *req)
{
  return req->max_output_tokens > 0         ? req->max_output_tokens
         : req->tier->max_output_tokens > 0 ? req->tier->max_output_tokens
                                            : LLM_DEFAULT_MAX_OUTPUT;
}

/* ---- request bodies ---- */

typedef struct {
  char *err;
  size_t errlen;
  int failed;
} body_ctx;

/* A JSON string from UTF-8 text; NULL (and a message naming `what`) when it is not valid
 * UTF-8. */
static json_t *text_value(body_ctx *bc, const char *s, const char *what)
{
  json_t *v = json_stringn(s, strlen(s));
  if (!v && !bc->failed) {
    bc->failed = 1;
    snprintf(bc->err, bc->errlen, "the prompt's %s is not valid UTF-8", what);
  }
  return v;
}

static void set(json_t *obj, const char *key, json_t *v)
{
  if (v) {
    json_object_set_new(obj, key, v);
  }
}

static json_t *ephemeral(void)
{
  return json_pack("{s:s}", "type", "ephemeral");
}

/* {"type": type, "text": text}, with cache_control when `cached`. */
static json_t *text_block(body_ctx *bc, const char *type, const char *text, const char *what,
                          int cached)
{
  json_t *b = json_object();
  set(b, "type", json_string(type));
  set(b, "text", text_value(bc, text, what));
  if (cached) {
    set(b, "cache_control", ephemeral());
  }
  return b;
}

/* The conversation's later turns as plain {role, content} messages, which all three APIs accept
 * (Responses as input items). */
static void append_turns(body_ctx *bc, const llm_request *req, json_t *list)
{
  for (size_t i = 0; i < req->nturns; i++) {
    json_t *m = json_object();
    set(m, "role", json_string(req->turns[i].assistant ? "assistant" : "user"));
    set(m, "content", text_value(bc, req->turns[i].text, "conversation turn"));
    json_array_append_new(list, m);
  }
}

static json_t *responses_body(body_ctx *bc, const llm_request *req, long max_out)
{
  const prompt *p = req->prompt;
  json_t *root = json_object();
  set(root, "model", text_value(bc, req->tier->model, "model name"));
  if (p->system && p->system[0]) {
    set(root, "instructions", text_value(bc, p->system, "system text"));
  }
  json_t *content = json_array();
  if (p->context && p->context[0]) {
    json_array_append_new(content, text_block(bc, "input_text", p->context, "context", 0));
  }
  json_array_append_new(content, text_block(bc, "input_text", p->task, "task", 0));
  json_t *msg = json_object();
  set(msg, "role", json_string("user"));
  set(msg, "content", content);
  json_t *input = json_array();
  json_array_append_new(input, msg);
  append_turns(bc, req, input);
  set(root, "input", input);
  set(root, "stream", json_true());
  set(root, "max_output_tokens", json_integer(max_out));
  if (req->cache_key && req->cache_key[0]) {
    set(root, "prompt_cache_key", text_value(bc, req->cache_key, "cache key"));
  }
  /* Nothing here chains responses, and a stored response would keep the user's code on the
   * provider's side for no benefit. */
  set(root, "store", json_false());
  return root;
}

static json_t *chat_body(body_ctx *bc, const llm_request *req, long max_out)
{
  const prompt *p = req->prompt;
  int openai = llm__is_openai_host(config_base_url(req->tier));
  json_t *root = json_object();
  set(root, "model", text_value(bc, req->tier->model, "model name"));
  json_t *msgs = json_array();
  if (p->system && p->system[0]) {
    json_t *sys = json_object();
    set(sys, "role", json_string("system"));
    set(sys, "content", text_value(bc, p->system, "system text"));
    json_array_append_new(msgs, sys);
  }
  json_t *user = json_object();
  set(user, "role", json_string("user"));
  if (p->context && p->context[0]) {
    buf_t b = BUF_INIT;
    buf_puts(&b, p->context);
    buf_puts(&b, "\n\n");
    buf_puts(&b, p->task);
    json_t *v = json_stringn(b.data, b.len);
    if (!v && !bc->failed) {
      bc->failed = 1;
      snprintf(bc->err, bc->errlen, "the prompt's context or task is not valid UTF-8");
    }
    set(user, "content", v);
    buf_free(&b);
  } else {
    set(user, "content", text_value(bc, p->task, "task"));
  }
  json_array_append_new(msgs, user);
  append_turns(bc, req, msgs);
  set(root, "messages", msgs);
  set(root, "stream", json_true());
  set(root, "stream_options", json_pack("{s:b}", "include_usage", 1));
  /* OpenAI deprecated max_tokens (o-series and gpt-5 reject it); Ollama, llama.cpp and vLLM
   * read only max_tokens. */
  set(root, openai ? "max_completion_tokens" : "max_tokens", json_integer(max_out));
  if (openai && req->cache_key && req->cache_key[0]) {
    set(root, "prompt_cache_key", text_value(bc, req->cache_key, "cache key"));
  }
  return root;
}

static json_t *anthropic_body(body_ctx *bc, const llm_request *req, long max_out)
{
  const prompt *p = req->prompt;
  int has_context = p->context && p->context[0];
  json_t *root = json_object();
  set(root, "model", text_value(bc, req->tier->model, "model name"));
  set(root, "max_tokens", json_integer(max_out));
  /* One breakpoint at the end of the stable prefix caches system and context together; the
   * system alone is cached when there is no context. Anthropic rejects empty text blocks. */
  if (p->system && p->system[0]) {
    json_t *sys = json_array();
    json_array_append_new(sys, text_block(bc, "text", p->system, "system text", !has_context));
    set(root, "system", sys);
  }
  json_t *content = json_array();
  if (has_context) {
    json_array_append_new(content, text_block(bc, "text", p->context, "context", 1));
  }
  json_array_append_new(content, text_block(bc, "text", p->task, "task", 0));
  json_t *user = json_object();
  set(user, "role", json_string("user"));
  set(user, "content", content);
  json_t *msgs = json_array();
  json_array_append_new(msgs, user);
  append_turns(bc, req, msgs);
  set(root, "messages", msgs);
  set(root, "stream", json_true());
  return root;
}

char *llm_request_body(const llm_request *req, char *err, size_t errlen)
{
  if (!req || !req->tier || !req->prompt) {
    snprintf(err, errlen, "no tier or no prompt");
    return NULL;
  }
  if (!req->tier->model || !req->tier->model[0]) {
    snprintf(err, errlen, "the tier names no model");
    return NULL;
  }
  if (!req->prompt->task || !req->prompt->task[0]) {
    snprintf(err, errlen, "the prompt has no task");
    return NULL;
  }
  long max_out = llm__max_output(req);
  body_ctx bc = {err, errlen, 0};
  json_t *root;
  switch (req->tier->provider) {
  case PROVIDER_OPENAI_CHAT:
    root = chat_body(&bc, req, max_out);
    break;
  case PROVIDER_ANTHROPIC:
    root = anthropic_body(&bc, req, max_out);
    break;
  default:
    root = responses_body(&bc, req, max_out);
    break;
  }
  char *s = bc.failed ? NULL : json_dumps(root, JSON_COMPACT);
  json_decref(root);
  if (!s && !bc.failed) {
    snprintf(err, errlen, "cannot encode the request body");
  }
  if (!s) {
    return NULL;
  }
  /* Jansson allocates with malloc by default; hand back our own copy anyway so the caller's
   * free() is right whatever allocator Jansson was set up with. */
  char *copy = xstrdup(s);
  free(s);
  return copy;
}

/* ---- whole JSON answers ---- */

/* A non-negative integer field, or STREAM_UNKNOWN. */
static int64_t count(json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v)
                                                          : STREAM_UNKNOWN;
}

static int64_t sum_known(int64_t a, int64_t b)
{
  if (a == STREAM_UNKNOWN) {
    return b;
  }
  return b == STREAM_UNKNOWN ? a : a + b;
}

static void append_text(buf_t *b, json_t *v)
{
  if (json_is_string(v)) {
    buf_append(b, json_string_value(v), json_string_length(v));
  }
}

static stream_finish finish_of(const char *raw)
{
  static const struct {
    const char *word;
    stream_finish f;
  } map[] = {
      {"stop", STREAM_FINISH_STOP},
      {"end_turn", STREAM_FINISH_STOP},
      {"stop_sequence", STREAM_FINISH_STOP},
      {"completed", STREAM_FINISH_STOP},
      {"length", STREAM_FINISH_LENGTH},
      {"max_tokens", STREAM_FINISH_LENGTH},
      {"max_output_tokens", STREAM_FINISH_LENGTH},
      {"model_context_window_exceeded", STREAM_FINISH_LENGTH},
      {"tool_calls", STREAM_FINISH_TOOL_CALLS},
      {"function_call", STREAM_FINISH_TOOL_CALLS},
      {"tool_use", STREAM_FINISH_TOOL_CALLS},
      {"content_filter", STREAM_FINISH_CONTENT_FILTER},
      {"refusal", STREAM_FINISH_REFUSAL},
      {"failed", STREAM_FINISH_FAILED},
  };
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
    if (strcmp(raw, map[i].word) == 0) {
      return map[i].f;
    }
  }
  return STREAM_FINISH_OTHER;
}

static int parse_chat(json_t *root, buf_t *text, llm_complete *out)
{
  json_t *choices = json_object_get(root, "choices");
  if (!json_is_array(choices)) {
    return -1;
  }
  json_t *c0 = json_array_get(choices, 0);
  json_t *msg = json_object_get(c0, "message");
  append_text(text, json_object_get(msg, "content"));
  append_text(text, json_object_get(msg, "refusal"));
  json_t *fr = json_object_get(c0, "finish_reason");
  if (json_is_string(fr)) {
    out->finish_raw = xstrdup(json_string_value(fr));
  }
  json_t *u = json_object_get(root, "usage");
  if (json_is_object(u)) {
    out->usage.input_tokens = count(u, "prompt_tokens");
    out->usage.output_tokens = count(u, "completion_tokens");
    out->usage.total_tokens = count(u, "total_tokens");
    out->usage.cached_input_tokens =
        count(json_object_get(u, "prompt_tokens_details"), "cached_tokens");
    out->usage.reasoning_tokens =
        count(json_object_get(u, "completion_tokens_details"), "reasoning_tokens");
  }
  return 0;
}

static int parse_responses(json_t *root, buf_t *text, llm_complete *out)
{
  json_t *output = json_object_get(root, "output");
  json_t *status = json_object_get(root, "status");
  if (!json_is_array(output) || !json_is_string(status)) {
    return -1;
  }
  size_t i;
  json_t *item;
  json_array_foreach(output, i, item)
  {
    if (!json_is_string(json_object_get(item, "type")) ||
        strcmp(json_string_value(json_object_get(item, "type")), "message") != 0) {
      continue;
    }
    size_t j;
    json_t *part;
    json_array_foreach(json_object_get(item, "content"), j, part)
    {
      json_t *type = json_object_get(part, "type");
      if (json_is_string(type) && strcmp(json_string_value(type), "output_text") == 0) {
        append_text(text, json_object_get(part, "text"));
      } else if (json_is_string(type) && strcmp(json_string_value(type), "refusal") == 0) {
        append_text(text, json_object_get(part, "refusal"));
      }
    }
  }
  const char *st = json_string_value(status);
  json_t *reason = json_object_get(json_object_get(root, "incomplete_details"), "reason");
  out->finish_raw = xstrdup(
      strcmp(st, "incomplete") == 0 && json_is_string(reason) ? json_string_value(reason) : st);
  json_t *u = json_object_get(root, "usage");
  if (json_is_object(u)) {
    out->usage.input_tokens = count(u, "input_tokens");
    out->usage.output_tokens = count(u, "output_tokens");
    out->usage.total_tokens = count(u, "total_tokens");
    json_t *in = json_object_get(u, "input_tokens_details");
    out->usage.cached_input_tokens = count(in, "cached_tokens");
    out->usage.cache_write_tokens = count(in, "cache_write_tokens");
    out->usage.reasoning_tokens =
        count(json_object_get(u, "output_tokens_details"), "reasoning_tokens");
  }
  return 0;
}

static int parse_anthropic(json_t *root, buf_t *text, llm_complete *out)
{
  json_t *content = json_object_get(root, "content");
  if (!json_is_array(content)) {
    return -1;
  }
  size_t i;
  json_t *block;
  json_array_foreach(content, i, block)
  {
    json_t *type = json_object_get(block, "type");
    if (json_is_string(type) && strcmp(json_string_value(type), "text") == 0) {
      append_text(text, json_object_get(block, "text"));
    }
  }
  json_t *sr = json_object_get(root, "stop_reason");
  if (json_is_string(sr)) {
    out->finish_raw = xstrdup(json_string_value(sr));
  }
  json_t *u = json_object_get(root, "usage");
  if (json_is_object(u)) {
    /* Anthropic counts cached and cache-written tokens apart from input_tokens. */
    int64_t read = count(u, "cache_read_input_tokens");
    int64_t write = count(u, "cache_creation_input_tokens");
    out->usage.input_tokens = sum_known(sum_known(count(u, "input_tokens"), read), write);
    out->usage.cached_input_tokens = read;
    out->usage.cache_write_tokens = write;
    out->usage.output_tokens = count(u, "output_tokens");
  }
  return 0;
}

int llm__complete_parse(stream_api api, const char *body, size_t len, llm_complete *out)
{
  memset(out, 0, sizeof(*out));
  json_t *root = json_loadb(body, len, 0, NULL);
  if (!json_is_object(root)) {
    json_decref(root);
    return -1;
  }
  out->usage.input_tokens = out->usage.cached_input_tokens = STREAM_UNKNOWN;
  out->usage.cache_write_tokens = out->usage.output_tokens = STREAM_UNKNOWN;
  out->usage.reasoning_tokens = out->usage.total_tokens = STREAM_UNKNOWN;
  buf_t text = BUF_INIT;
  int rc;
  switch (api) {
  case STREAM_API_OPENAI_CHAT:
    rc = parse_chat(root, &text, out);
    break;
  case STREAM_API_ANTHROPIC:
    rc = parse_anthropic(root, &text, out);
    break;
  case STREAM_API_OPENAI_RESPONSES:
    rc = parse_responses(root, &text, out);
    break;
  default:
    rc = -1;
    break;
  }
  json_decref(root);
  if (rc != 0) {
    buf_free(&text);
    free(out->finish_raw);
    memset(out, 0, sizeof(*out));
    return -1;
  }
  out->text = text.data ? buf_detach(&text) : xstrdup("");
  out->finish = out->finish_raw ? finish_of(out->finish_raw) : STREAM_FINISH_OTHER;
  return 0;
}

void llm__complete_free(llm_complete *c)
{
  free(c->text);
  free(c->finish_raw);
  memset(c, 0, sizeof(*c));
}
