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
    json_array_append_new(sys, text_block(bc, "text", p->system, "system text",
                                          !has_context && !req->no_cache_write));
    set(root, "system", sys);
  }
  json_t *content = json_array();
  if (has_context) {
    json_array_append_new(content, text_block(bc, "text", p->context, "context",
                                              !req->no_cache_write));
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

/* Collects a whole body's events (stream_parse_body) into an llm_complete. */
typedef struct {
  llm_complete *out;
  buf_t text;
  int error; /* the body held a provider error or data that could not be read */
} complete_sink;

static int on_body_event(void *data, const stream_event *ev)
{
  complete_sink *c = data;
  switch (ev->kind) {
  case STREAM_EV_TEXT:
  case STREAM_EV_REFUSAL:
    buf_append(&c->text, ev->text, ev->len);
    break;
  case STREAM_EV_USAGE:
    c->out->usage = ev->usage;
    break;
  case STREAM_EV_FINISH:
    free(c->out->finish_raw);
    c->out->finish_raw = xstrdup(ev->finish_raw);
    c->out->finish = ev->finish;
    break;
  case STREAM_EV_ERROR:
    c->error = 1;
    break;
  default:
    break;
  }
  return 0;
}

int llm__complete_parse(stream_api api, const char *body, size_t len, llm_complete *out)
{
  memset(out, 0, sizeof(*out));
  out->usage = (stream_usage){STREAM_UNKNOWN, STREAM_UNKNOWN, STREAM_UNKNOWN, STREAM_UNKNOWN,
                              STREAM_UNKNOWN, STREAM_UNKNOWN, false};
  out->finish = STREAM_FINISH_OTHER;
  complete_sink c = {out, BUF_INIT, 0};
  if (stream_parse_body(api, body, len, on_body_event, &c) != STREAM_OK || c.error) {
    buf_free(&c.text);
    free(out->finish_raw);
    memset(out, 0, sizeof(*out));
    return -1;
  }
  out->text = c.text.data ? buf_detach(&c.text) : xstrdup("");
  return 0;
}

void llm__complete_free(llm_complete *c)
{
  free(c->text);
  free(c->finish_raw);
  memset(c, 0, sizeof(*c));
}
