/* Error classification and non-2xx HTTP error bodies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/stream_int.h"
#include "util/buf.h"

/* The words providers put in error.type / error.code, most specific first. */
static const struct {
  const char *word;
  stream_error_class cls;
} ERROR_WORDS[] = {
    {"insufficient_quota", STREAM_ERR_QUOTA},
    {"billing_error", STREAM_ERR_QUOTA},
    {"billing_hard_limit_reached", STREAM_ERR_QUOTA},
    {"rate_limit_exceeded", STREAM_ERR_RATE_LIMIT},
    {"rate_limit_error", STREAM_ERR_RATE_LIMIT},
    {"slow_down", STREAM_ERR_RATE_LIMIT},
    {"overloaded_error", STREAM_ERR_OVERLOADED},
    {"server_is_overloaded", STREAM_ERR_OVERLOADED},
    {"service_unavailable_error", STREAM_ERR_OVERLOADED},
    {"unavailable_error", STREAM_ERR_OVERLOADED},
    {"timeout_error", STREAM_ERR_TIMEOUT},
    {"server_error", STREAM_ERR_SERVER},
    {"api_error", STREAM_ERR_SERVER},
    {"internal_server_error", STREAM_ERR_SERVER},
    {"invalid_api_key", STREAM_ERR_AUTH},
    {"authentication_error", STREAM_ERR_AUTH},
    {"permission_error", STREAM_ERR_PERMISSION},
    {"permission_denied", STREAM_ERR_PERMISSION},
    {"model_not_found", STREAM_ERR_NOT_FOUND},
    {"not_found_error", STREAM_ERR_NOT_FOUND},
    {"context_length_exceeded", STREAM_ERR_CONTEXT_LENGTH},
    {"exceed_context_size_error", STREAM_ERR_CONTEXT_LENGTH},
    {"request_too_large", STREAM_ERR_INVALID_REQUEST},
    {"invalid_prompt", STREAM_ERR_INVALID_REQUEST},
    {"invalid_request_error", STREAM_ERR_INVALID_REQUEST},
};

static stream_error_class word_class(const char *w)
{
  if (!w) {
    return STREAM_ERR_OTHER;
  }
  for (size_t i = 0; i < sizeof(ERROR_WORDS) / sizeof(ERROR_WORDS[0]); i++) {
    if (strcmp(w, ERROR_WORDS[i].word) == 0) {
      return ERROR_WORDS[i].cls;
    }
  }
  return STREAM_ERR_OTHER;
}

stream_error_class stream_error_classify(const char *type, const char *code, int http_status)
{
  /* OpenAI's 429 "tokens"/"requests" types say what ran out; the code says what happened, so
   * the code wins (invalid_request_error + invalid_api_key is an auth problem). Quota beats
   * everything: retrying an empty account only burns time. */
  stream_error_class c = word_class(code), t = word_class(type);
  if (c == STREAM_ERR_QUOTA || t == STREAM_ERR_QUOTA) {
    return STREAM_ERR_QUOTA;
  }
  if (c != STREAM_ERR_OTHER) {
    return c;
  }
  if (t != STREAM_ERR_OTHER) {
    return t;
  }
  switch (http_status) {
  case 400:
  case 413:
  case 422:
    return STREAM_ERR_INVALID_REQUEST;
  case 401:
    return STREAM_ERR_AUTH;
  case 402:
    return STREAM_ERR_QUOTA;
  case 403:
    return STREAM_ERR_PERMISSION;
  case 404:
    return STREAM_ERR_NOT_FOUND;
  case 408:
  case 504:
    return STREAM_ERR_TIMEOUT;
  case 429:
    return STREAM_ERR_RATE_LIMIT;
  case 503:
  case 529:
    return STREAM_ERR_OVERLOADED;
  default:
    return http_status >= 500 && http_status < 600 ? STREAM_ERR_SERVER : STREAM_ERR_OTHER;
  }
}

bool stream_error_retryable(stream_error_class cls, int http_status)
{
  switch (cls) {
  case STREAM_ERR_RATE_LIMIT:
  case STREAM_ERR_OVERLOADED:
  case STREAM_ERR_SERVER:
  case STREAM_ERR_TIMEOUT:
    return true;
  case STREAM_ERR_OTHER:
    /* The SDKs also retry 409 (lock timeout) and any 5xx they cannot name. */
    return http_status == 408 || http_status == 409 || http_status >= 500;
  default:
    return false;
  }
}

const char *stream_error_class_name(stream_error_class cls)
{
  switch (cls) {
  case STREAM_ERR_RATE_LIMIT:
    return "rate limited";
  case STREAM_ERR_QUOTA:
    return "quota exhausted";
  case STREAM_ERR_OVERLOADED:
    return "overloaded";
  case STREAM_ERR_SERVER:
    return "server error";
  case STREAM_ERR_TIMEOUT:
    return "timed out";
  case STREAM_ERR_AUTH:
    return "authentication failed";
  case STREAM_ERR_PERMISSION:
    return "permission denied";
  case STREAM_ERR_NOT_FOUND:
    return "not found";
  case STREAM_ERR_INVALID_REQUEST:
    return "invalid request";
  case STREAM_ERR_CONTEXT_LENGTH:
    return "context too long";
  case STREAM_ERR_MALFORMED:
    return "malformed response";
  default:
    return "error";
  }
}

/* A copy of a JSON value as text (see error_field in stream.c), or NULL. */
static char *field_text(json_t *v)
{
  if (!v || json_is_null(v)) {
    return NULL;
  }
  if (json_is_string(v)) {
    return xstrndup(json_string_value(v), json_string_length(v));
  }
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  char *copy = s ? xstrdup(s) : NULL;
  free(s);
  return copy;
}

/* The message for a body that is not a known envelope: its first line of printable ASCII
 * (an HTML error page says enough in its first 200 bytes), or just the status. */
static char *raw_message(int status, const char *body, size_t len)
{
  buf_t b = BUF_INIT;
  size_t i = 0;
  while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) {
    i++;
  }
  for (; i < len && b.len < 200; i++) {
    unsigned char c = (unsigned char)body[i];
    if (c == '\n' || c == '\r') {
      break;
    }
    buf_putc(&b, c >= 0x20 && c < 0x7f ? (char)c : '?');
  }
  if (b.len == 0) {
    buf_printf(&b, "HTTP status %d with %s body", status, len ? "an unreadable" : "an empty");
  }
  return buf_detach(&b);
}

int stream_http_error_parse(int status, const char *body, size_t len, stream_http_error *out)
{
  memset(out, 0, sizeof(*out));
  out->status = status;
  json_t *root = body && len ? json_loadb(body, len, JSON_ALLOW_NUL, NULL) : NULL;
  int found = 0;
  if (json_is_object(root)) {
    json_t *err = json_object_get(root, "error");
    if (json_is_object(err)) {
      out->message = field_text(json_object_get(err, "message"));
      out->type = field_text(json_object_get(err, "type"));
      out->code = field_text(json_object_get(err, "code"));
      out->param = field_text(json_object_get(err, "param"));
      found = 1;
    } else if (json_is_string(err)) {
      out->message = field_text(err);
      found = 1;
    } else if (json_is_string(json_object_get(root, "message"))) {
      /* Some OpenAI-compatible proxies put the fields at the top level. */
      out->message = field_text(json_object_get(root, "message"));
      out->code = field_text(json_object_get(root, "code"));
      found = 1;
    }
    if (found) {
      out->request_id = field_text(json_object_get(root, "request_id"));
    }
  }
  json_decref(root);
  if (!out->message) {
    out->message = found && (out->type || out->code) ? xstrdup(out->type ? out->type : out->code)
                                                     : raw_message(status, body, len);
  }
  out->error_class = stream_error_classify(out->type, out->code, status);
  out->retryable = stream_error_retryable(out->error_class, status);
  return found ? 0 : 1;
}

void stream_http_error_free(stream_http_error *e)
{
  free(e->message);
  free(e->type);
  free(e->code);
  free(e->param);
  free(e->request_id);
  memset(e, 0, sizeof(*e));
}
