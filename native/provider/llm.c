/* llm: one model call end to end (see llm.h).
 *
 * A call moves through these states; the one uv timer of the call serves the retry wait and
 * the deferred delivery of on_done:
 *
 *   KEY --> HTTP --> DONE            (the usual path; KEY only while api_key_cmd runs)
 *            |  ^
 *            v  |
 *         RETRY_WAIT
 *   any --cancel / early error--> DELIVER (timer at 0 ms) --> DONE
 *
 * Lifetime: a call is freed when nothing refers to it any more: its timer handle (closed after
 * on_done) and its HTTP request (until the HTTP client's on_done). The client is reference
 * counted the same way (its owner, each call, each running key command), so a callback may
 * free the client or cancel anything without pulling memory from under the code that called it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, strptime, timegm, explicit_bzero */
#endif
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/tokens.h"
#include "http/http.h"
#include "provider/llm_int.h"
#include "util/buf.h"

#define LLM_KEY_MAX 8192 /* bytes of api_key_cmd output */
#define LLM_KEY_TIMEOUT_MS 10000
#define LLM_ERROR_BODY_MAX (64 * 1024)      /* a non-2xx body; the message is in the first bytes */
#define LLM_JSON_BODY_MAX (8 * 1024 * 1024) /* a whole answer from a server that did not stream */
#define LLM_RETRY_AFTER_MAX_MS 60000.0
#define LLM_BACKOFF_BASE_MS 500.0
#define LLM_BACKOFF_CAP_MS 8000.0
#define LLM_MESSAGE_MAX 300 /* bytes of a provider's message quoted in ours */

typedef struct key_entry key_entry;

struct key_entry {
  llm_client *c;
  char *cmd;
  char *key;    /* NULL until the command succeeded; wiped when freed */
  llm_cmd *run; /* while the command runs */
  key_entry *next;
};

struct llm_client {
  uv_loop_t *loop;
  http_client *http;
  llm_call *calls; /* not yet delivered */
  key_entry *keys;
  long key_timeout_ms;
  int refs;
  int freeing;
  uint64_t rng;
};

typedef enum { CALL_KEY, CALL_HTTP, CALL_RETRY_WAIT, CALL_DELIVER, CALL_DONE } call_state;
typedef enum { BODY_UNDECIDED, BODY_STREAM, BODY_BUFFER } body_mode;

struct llm_call {
  llm_client *c;
  llm_call *prev, *next;
  llm_callbacks cb;
  void *data;
  call_state state;
  int cancelled;
  int refs;
  uv_timer_t timer;
  uint64_t t_start;

  /* the request, fixed at start */
  provider_id provider;
  stream_api api;
  char *url;
  char host[256];
  char *model;
  char *body;
  char *key_env; /* the variable a 401 tells the user to set */
  int key_from_cmd;
  char *key; /* NULL: send no credentials; wiped when freed */
  key_entry *waiting;
  long connect_ms, idle_ms, total_ms;
  int max_attempts;
  double backoff_base_ms;
  int64_t prompt_tokens; /* estimate, for a provider that reports no usage */
  long max_out;          /* the output limit the request asks for */
  size_t answer_cap;     /* bytes of text and reasoning kept and shown per attempt */

  /* the current attempt */
  http_request *req;
  int attempts;
  int status;
  body_mode mode;
  stream_parser *parser;
  buf_t raw; /* buffered body: an error, a whole JSON answer, or leading whitespace */
  size_t raw_cap;
  int raw_overflow;
  stream_usage usage;
  stream_finish finish;
  char *finish_raw;
  int ev_error;
  char *ev_message;
  stream_error_class ev_class;
  int ev_retryable;
  int ended, truncated;
  size_t answer_bytes; /* text and reasoning admitted so far (<= answer_cap) */
  int over_cap;        /* the answer passed answer_cap */
  int stopped;         /* we stopped the transfer (a cap was passed); not a cancel */

  /* across attempts */
  buf_t text;
  int text_delivered;
  int got_2xx; /* the last attempt had a 2xx answer: the provider worked (and bills) */
  double ttfb_ms;
  int reused;

  /* the outcome */
  llm_status outcome;
  stream_error_class err_class;
  int http_status;
  char *message;
  char *usage_note; /* why the provider's usage was replaced by an estimate, or NULL */
};

static void attempt_begin(llm_call *call);

/* ---- small helpers ---- */

static void client_unref(llm_client *c)
{
  if (--c->refs > 0) {
    return;
  }
  while (c->keys) {
    key_entry *k = c->keys;
    c->keys = k->next;
    if (k->key) {
      llm__wipe(k->key, strlen(k->key));
    }
    free(k->key);
    free(k->cmd);
    free(k);
  }
  free(c);
}

static void call_unref(llm_call *call)
{
  if (--call->refs > 0) {
    return;
  }
  llm_client *c = call->c;
  stream_parser_free(call->parser);
  buf_free(&call->raw);
  buf_free(&call->text);
  if (call->key) {
    llm__wipe(call->key, strlen(call->key));
  }
  free(call->key);
  free(call->finish_raw);
  free(call->ev_message);
  free(call->message);
  free(call->usage_note);
  free(call->url);
  free(call->model);
  free(call->body);
  free(call->key_env);
  free(call);
  client_unref(c);
}

static void timer_closed(uv_handle_t *h)
{
  call_unref(h->data);
}

static double ms_since(uint64_t t0)
{
  return (double)(uv_hrtime() - t0) / 1e6;
}

/* xorshift64*: jitter only, so quality hardly matters; per client, no global state. */
static double rand01(llm_client *c)
{
  c->rng ^= c->rng >> 12;
  c->rng ^= c->rng << 25;
  c->rng ^= c->rng >> 27;
  return (double)((c->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* Trims ASCII whitespace; rejects what cannot go into a header. Returns a malloc'd key, or
 * NULL with `why` set. */
static char *key_clean(const char *s, size_t n, const char **why)
{
  while (n && isspace((unsigned char)*s)) {
    s++;
    n--;
  }
  while (n && isspace((unsigned char)s[n - 1])) {
    n--;
  }
  if (n == 0) {
    *why = "printed nothing";
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch >= 0x7f) {
      *why = "printed more than one line, a control character or a non-ASCII byte";
      return NULL;
    }
  }
  return xstrndup(s, n);
}

/* Does `word` hold 8 or more consecutive bytes of `key` (a partly masked key)? */
static int word_leaks_key(const char *word, size_t wlen, const char *key)
{
  if (memmem(word, wlen, "***", 3)) {
    return 1; /* a masked key, "sk-proj-****abcd": still says more than the user needs */
  }
  if (!key) {
    return 0;
  }
  size_t klen = strlen(key);
  size_t win = klen < 8 ? klen : 8;
  if (win == 0 || wlen < win) {
    return 0;
  }
  for (size_t i = 0; i + win <= wlen; i++) {
    if (memmem(key, klen, word + i, win)) {
      return 1;
    }
  }
  return 0;
}

/* A provider's message made fit to quote: one line, no control bytes, no part of the key,
 * at most LLM_MESSAGE_MAX bytes (cut at a character boundary). Appends to b. */
static void put_provider_message(buf_t *b, const char *msg, const char *key)
{
  buf_t clean = BUF_INIT;
  const char *p = msg;
  while (*p) {
    while (*p && isspace((unsigned char)*p)) {
      p++;
    }
    const char *w = p;
    while (*p && !isspace((unsigned char)*p)) {
      p++;
    }
    size_t wlen = (size_t)(p - w);
    if (wlen == 0) {
      break;
    }
    if (word_leaks_key(w, wlen, key)) {
      /* "provided: sk-..." reads well as "provided" */
      while (clean.len && (clean.data[clean.len - 1] == ':' || clean.data[clean.len - 1] == ' ')) {
        clean.len--;
      }
      /* ...but keep the sentence's end: "provided: sk-...abcd." */
      if (strchr(".,;!?)", w[wlen - 1])) {
        buf_putc(&clean, w[wlen - 1]);
      }
      continue;
    }
    if (clean.len) {
      buf_putc(&clean, ' ');
    }
    for (size_t i = 0; i < wlen; i++) {
      unsigned char ch = (unsigned char)w[i];
      buf_putc(&clean, ch < 0x20 || ch == 0x7f ? '?' : (char)ch);
    }
  }
  size_t n = clean.len;
  if (n > LLM_MESSAGE_MAX) {
    n = LLM_MESSAGE_MAX;
    while (n > 0 && ((unsigned char)clean.data[n] & 0xC0) == 0x80) {
      n--; /* never split a UTF-8 sequence */
    }
  }
  if (n) {
    buf_append(b, clean.data, n);
    if (n < clean.len) {
      buf_puts(b, "...");
    }
  }
  buf_free(&clean);
}

/* The statuses worth another attempt (llm.h); 429 only when it is not about quota. */
static int status_retryable(int status)
{
  switch (status) {
  case 408:
  case 409:
  case 429:
  case 500:
  case 502:
  case 503:
  case 504:
  case 529:
    return 1;
  default:
    return 0;
  }
}

/* retry-after-ms, then retry-after in seconds or as an HTTP date; -1 when absent or
 * unreadable. */
static double retry_after_ms(const http_header *h, size_t n)
{
  const char *v = http_header_find(h, n, "retry-after-ms");
  char *end;
  if (v && isdigit((unsigned char)v[0])) {
    double d = strtod(v, &end);
    if (*end == '\0' && isfinite(d)) {
      return d;
    }
  }
  v = http_header_find(h, n, "retry-after");
  if (!v) {
    return -1;
  }
  if (isdigit((unsigned char)v[0])) {
    double d = strtod(v, &end);
    return *end == '\0' && isfinite(d) ? d * 1000.0 : -1;
  }
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  const char *rest = strptime(v, "%a, %d %b %Y %H:%M:%S", &tm);
  if (!rest) {
    return -1;
  }
  double d = difftime(timegm(&tm), time(NULL));
  return d > 0 ? d * 1000.0 : 0.0;
}

/* ---- finishing ---- */

static void call_unlink(llm_call *call)
{
  if (call->prev) {
    call->prev->next = call->next;
  } else if (call->c->calls == call) {
    call->c->calls = call->next;
  }
  if (call->next) {
    call->next->prev = call->prev;
  }
  call->prev = call->next = NULL;
}

static void set_outcome(llm_call *call, llm_status st, stream_error_class cls, char *message)
{
  call->outcome = st;
  call->err_class = cls;
  free(call->message);
  call->message = message;
}

static char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Replaces usage that cannot be true for what this call sent and received by the library's
 * estimates and says why in call->usage_note (llm.h, "Limits"). A provider that counts more
 * input tokens than the request had bytes, or more output tokens than both the limit it was
 * given and the bytes it sent, is broken or hostile: believing it would put any amount in the
 * ledger and block every later request on the budget. */
static void usage_check(llm_call *call, llm_result *r)
{
  const stream_usage *u = &r->usage;
  int64_t in_lim = (int64_t)strlen(call->body) + LLM_USAGE_SLACK;
  int64_t out_lim = ((int64_t)call->answer_bytes > (int64_t)call->max_out
                         ? (int64_t)call->answer_bytes
                         : (int64_t)call->max_out) +
                    LLM_USAGE_SLACK;
  const struct {
    const char *what;
    int64_t v, lim;
  } f[] = {
    {"input", u->input_tokens, in_lim},
    {"cached input", u->cached_input_tokens, in_lim},
    {"cache-write", u->cache_write_tokens, in_lim},
    {"output", u->output_tokens, out_lim},
    {"reasoning", u->reasoning_tokens, out_lim},
  };
  size_t i = 0;
  while (i < sizeof(f) / sizeof(f[0]) && f[i].v <= f[i].lim) {
    i++;
  }
  if (i == sizeof(f) / sizeof(f[0])) {
    return;
  }
  free(call->usage_note);
  if (i < 3) {
    call->usage_note = strf("%s reported %lld %s tokens for a request of %zu bytes; estimated "
                            "instead",
                            call->host, (long long)f[i].v, f[i].what, strlen(call->body));
  } else {
    call->usage_note = strf("%s reported %lld %s tokens for an answer of %zu bytes "
                            "(max_output_tokens %ld); estimated instead",
                            call->host, (long long)f[i].v, f[i].what, call->answer_bytes,
                            call->max_out);
  }
  r->usage.cached_input_tokens = r->usage.cache_write_tokens = STREAM_UNKNOWN;
  r->usage.reasoning_tokens = r->usage.total_tokens = STREAM_UNKNOWN;
  r->usage.from_timings = false;
  r->usage.input_tokens = call->prompt_tokens;
  r->usage.output_tokens = tokens_estimate(LANG_UNKNOWN, r->text, r->text_len);
  r->usage_estimated = 1;
}

/* Runs on_done (from the loop) and lets the call go. */
static void deliver(llm_call *call)
{
  if (call->state == CALL_DONE) {
    return;
  }
  call->state = CALL_DONE;
  uv_timer_stop(&call->timer);
  call_unlink(call);

  llm_result r;
  memset(&r, 0, sizeof(r));
  r.status = call->outcome;
  r.message = call->outcome == LLM_OK || !call->message ? "" : call->message;
  r.error_class = call->err_class;
  r.http_status = call->http_status;
  r.text = call->text.data ? call->text.data : "";
  r.text_len = call->text.len;
  r.usage = call->usage;
  usage_check(call, &r);
  if (call->got_2xx) {
    /* The provider answered (and bills) but did not say for how much: estimate, and say so. */
    if (r.usage.input_tokens == STREAM_UNKNOWN) {
      r.usage.input_tokens = call->prompt_tokens;
      r.usage_estimated = 1;
    }
    if (r.usage.output_tokens == STREAM_UNKNOWN) {
      r.usage.output_tokens = tokens_estimate(LANG_UNKNOWN, r.text, r.text_len);
      r.usage_estimated = 1;
    }
  }
  r.usage_note = call->usage_note;
  r.finish = call->finish;
  r.finish_raw = call->finish_raw;
  r.attempts = call->attempts;
  r.ttfb_ms = call->ttfb_ms;
  r.reused_connection = call->reused;
  r.latency_ms = ms_since(call->t_start);
  if (call->cb.on_done) {
    call->cb.on_done(call, &r, call->data);
  }
  uv_close((uv_handle_t *)&call->timer, timer_closed);
}

static void finish(llm_call *call, llm_status st, stream_error_class cls, char *message)
{
  set_outcome(call, st, cls, message);
  deliver(call);
}

static void on_timer(uv_timer_t *t);

/* Delivers from the next loop iteration: for outcomes decided inside an API call. */
static void finish_later(llm_call *call, llm_status st, stream_error_class cls, char *message)
{
  set_outcome(call, st, cls, message);
  call->state = CALL_DELIVER;
  uv_timer_start(&call->timer, on_timer, 0, 0);
}

static char *strf(const char *fmt, ...)
{
  buf_t b = BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  return buf_detach(&b);
}

/* Appends " (retried N times)" when there were retries. */
static void put_retries(buf_t *b, const llm_call *call)
{
  int n = call->attempts - 1;
  if (n > 0) {
    buf_printf(b, " (retried %d time%s)", n, n == 1 ? "" : "s");
  }
}

/* What the user can do about an error of class `cls`, when it is theirs to fix. */
static void put_hint(buf_t *b, const llm_call *call, stream_error_class cls)
{
  if (cls == STREAM_ERR_AUTH) {
    if (call->key_from_cmd) {
      buf_puts(b, " (check api_key_cmd)");
    } else {
      buf_printf(b, " (set %s)", call->key_env);
    }
  } else if (cls == STREAM_ERR_NOT_FOUND) {
    buf_puts(b, " (check base_url)");
  }
}

/* ---- retries ---- */

/* Schedules another attempt after delay_ms (< 0: backoff). Returns 0 when no attempt is left
 * (the caller reports the failure), 1 when the call is taken care of (retry scheduled, or
 * cancelled from on_retry). */
static int try_retry(llm_call *call, const char *why, double delay_ms)
{
  if (call->attempts >= call->max_attempts) {
    return 0;
  }
  if (delay_ms < 0) {
    double d = call->backoff_base_ms * pow(2.0, call->attempts - 1);
    if (d > LLM_BACKOFF_CAP_MS) {
      d = LLM_BACKOFF_CAP_MS;
    }
    delay_ms = d * (1.0 - 0.25 * rand01(call->c));
  }
  call->state = CALL_RETRY_WAIT;
  if (call->cb.on_retry) {
    call->cb.on_retry(call, call->attempts + 1, delay_ms, why, call->data);
  }
  if (call->cancelled || call->state != CALL_RETRY_WAIT) {
    return 1;
  }
  uv_timer_start(&call->timer, on_timer, (uint64_t)ceil(delay_ms), 0);
  return 1;
}

static void on_timer(uv_timer_t *t)
{
  llm_call *call = t->data;
  if (call->state == CALL_RETRY_WAIT) {
    attempt_begin(call);
  } else if (call->state == CALL_DELIVER) {
    deliver(call);
  }
}

/* ---- the stream ---- */

/* Stops the current transfer because a cap was passed; on_http_done then decides the outcome
 * on what came before (it is not a cancel). Safe from inside the HTTP callbacks: curl aborts
 * the transfer when the body callback returns. */
static void stop_transfer(llm_call *call)
{
  call->stopped = 1;
  if (call->req) {
    http_request_cancel(call->req);
  }
}

/* How many of `len` answer bytes (text or reasoning) may be kept and shown: all of them while
 * the attempt stays under answer_cap; past it, what fits (cut at a UTF-8 boundary), and the
 * transfer is stopped. */
static size_t answer_admit(llm_call *call, const char *text, size_t len)
{
  size_t room = call->answer_cap - call->answer_bytes;
  if (len <= room) {
    call->answer_bytes += len;
    return len;
  }
  size_t n = room;
  while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) {
    n--;
  }
  call->answer_bytes += n;
  call->over_cap = 1;
  stop_transfer(call);
  return n;
}

static int on_stream_event(void *ud, const stream_event *ev)
{
  llm_call *call = ud;
  if (call->cancelled || call->over_cap) {
    return 1;
  }
  size_t n;
  switch (ev->kind) {
  case STREAM_EV_TEXT:
  case STREAM_EV_REFUSAL: /* a refusal is the answer the user gets to read */
    if (ev->choice == 0 && ev->len > 0 && (n = answer_admit(call, ev->text, ev->len)) > 0) {
      buf_append(&call->text, ev->text, n);
      call->text_delivered = 1;
      if (call->cb.on_delta) {
        call->cb.on_delta(call, STREAM_EV_TEXT, ev->text, n, call->data);
      }
    }
    break;
  case STREAM_EV_REASONING:
    if (ev->choice == 0 && ev->len > 0 && (n = answer_admit(call, ev->text, ev->len)) > 0 &&
        call->cb.on_delta) {
      call->cb.on_delta(call, STREAM_EV_REASONING, ev->text, n, call->data);
    }
    break;
  case STREAM_EV_USAGE:
    call->usage = ev->usage;
    break;
  case STREAM_EV_FINISH:
    if (ev->choice == 0) {
      call->finish = ev->finish;
      free(call->finish_raw);
      call->finish_raw = ev->finish_raw ? xstrdup(ev->finish_raw) : NULL;
    }
    break;
  case STREAM_EV_ERROR:
    /* The first provider error says what happened; a malformed event is kept only until one
     * comes. */
    if (!call->ev_error ||
        (call->ev_class == STREAM_ERR_MALFORMED && ev->error_class != STREAM_ERR_MALFORMED)) {
      call->ev_error = 1;
      free(call->ev_message);
      call->ev_message = xstrdup(ev->message);
      call->ev_class = ev->error_class;
      call->ev_retryable = ev->retryable;
    }
    break;
  case STREAM_EV_END:
    call->ended = 1;
    call->truncated = ev->truncated;
    break;
  default:
    break;
  }
  return call->cancelled || call->over_cap ? 1 : 0;
}

static void feed_stream(llm_call *call, const char *bytes, size_t len)
{
  if (!call->parser) {
    call->parser = stream_parser_new(call->api, on_stream_event, call, 0);
  }
  /* A failed parser has reported an ERROR already and ignores the rest. */
  stream_parser_feed(call->parser, bytes, len);
}

static void buffer_body(llm_call *call, const char *bytes, size_t len)
{
  size_t room = call->raw_cap > call->raw.len ? call->raw_cap - call->raw.len : 0;
  if (len > room) {
    /* The outcome is decided by what fits: downloading the rest would only cost time. */
    call->raw_overflow = 1;
    len = room;
    stop_transfer(call);
  }
  buf_append(&call->raw, bytes, len);
}

/* ---- HTTP callbacks ---- */

static void on_http_response(http_request *req, const http_response *resp, void *data)
{
  (void)req;
  llm_call *call = data;
  call->status = resp->status;
  if (resp->status < 200 || resp->status > 299) {
    call->mode = BODY_BUFFER;
    call->raw_cap = LLM_ERROR_BODY_MAX;
    return;
  }
  call->got_2xx = 1;
  call->mode = BODY_UNDECIDED;
}

static void on_http_body(http_request *req, const char *bytes, size_t len, void *data)
{
  (void)req;
  llm_call *call = data;
  if (call->cancelled) {
    return;
  }
  if (call->mode == BODY_UNDECIDED) {
    /* Decided by the first byte that is not whitespace, whatever the Content-Type says: an
     * event stream starts with a field name, a colon or a blank line, never with '{'. This
     * catches a JSON body sent as text/event-stream (seen from OpenAI-compatible proxies) as
     * well as a server that ignored "stream": true. */
    size_t i = 0;
    while (i < len && isspace((unsigned char)bytes[i])) {
      i++;
    }
    if (i == len && call->raw.len + len <= LLM_ERROR_BODY_MAX) {
      buf_append(&call->raw, bytes, len);
      return;
    }
    if (i < len && bytes[i] == '{') {
      call->mode = BODY_BUFFER;
      call->raw_cap = LLM_JSON_BODY_MAX;
    } else {
      call->mode = BODY_STREAM;
      if (call->raw.len) {
        feed_stream(call, call->raw.data, call->raw.len);
        buf_clear(&call->raw);
      }
    }
  }
  if (call->mode == BODY_BUFFER) {
    if (!call->stopped) {
      buffer_body(call, bytes, len);
    }
  } else if (!call->cancelled && !call->over_cap) {
    feed_stream(call, bytes, len);
  }
}

static char *network_message(const llm_call *call, const http_result *res)
{
  const char *h = call->host;
  switch (res->code) {
  case HTTP_TIMEOUT_CONNECT:
    return strf("could not connect to %s within %ld ms", h, call->connect_ms);
  case HTTP_TIMEOUT_IDLE:
    return strf("%s sent nothing for %ld ms", h, call->idle_ms);
  case HTTP_TIMEOUT_TOTAL:
    return strf("the request to %s took longer than %ld ms", h, call->total_ms);
  case HTTP_TLS_ERROR:
    return strf("TLS error with %s: %s", h, res->message);
  case HTTP_FAILED_BEFORE_RESPONSE:
    return strf("cannot reach %s: %s", h, res->message);
  case HTTP_FAILED_AFTER_RESPONSE:
    return strf("the connection to %s broke during the answer: %s", h, res->message);
  default:
    return strf("HTTP failure with %s: %s", h, res->message);
  }
}

static void http_error_outcome(llm_call *call, const http_result *res)
{
  stream_http_error e;
  stream_http_error_parse(call->status, call->raw.data, call->raw.len, &e);
  stream_error_class cls = e.error_class;
  int retry = status_retryable(call->status) && cls != STREAM_ERR_QUOTA;
  const char *xsr = http_header_find(res->headers, res->nheaders, "x-should-retry");
  if (xsr && strcasecmp(xsr, "true") == 0) {
    retry = 1;
  } else if (xsr && strcasecmp(xsr, "false") == 0) {
    retry = 0;
  }
  double after = retry_after_ms(res->headers, res->nheaders);
  int too_long = after > LLM_RETRY_AFTER_MAX_MS;

  buf_t b = BUF_INIT;
  int model_missing =
      cls == STREAM_ERR_NOT_FOUND &&
      ((e.code && strcmp(e.code, "model_not_found") == 0) || strstr(e.message, call->model));
  if (model_missing) {
    buf_printf(&b, "%d model not found: %s (%s: ", call->status, call->model, call->host);
    put_provider_message(&b, e.message, call->key);
    buf_putc(&b, ')');
  } else {
    buf_printf(&b, "%d %s at %s", call->status, stream_error_class_name(cls), call->host);
    buf_t m = BUF_INIT;
    put_provider_message(&m, e.message, call->key);
    if (m.len) {
      buf_printf(&b, ": %s", m.data);
    }
    buf_free(&m);
    put_hint(&b, call, cls);
  }
  stream_http_error_free(&e);

  if (retry && !too_long && try_retry(call, b.data, after)) {
    buf_free(&b);
    return;
  }
  if (too_long) {
    buf_printf(&b, " (the provider asks to wait %.0f s; not retried)", after / 1000.0);
  } else if (call->attempts > 1) {
    put_retries(&b, call);
  } else if (status_retryable(call->status) && call->max_attempts > 1) {
    buf_puts(&b, " (not retried)");
  }
  finish(call, LLM_HTTP_ERROR, cls, buf_detach(&b));
}

static char *over_cap_message(const llm_call *call)
{
  return strf("the answer from %s passed %zu KB, more than max_output_tokens (%ld) allows; "
              "stopped there (raise the tier's max_output_tokens if it should be that long)",
              call->host, call->answer_cap >> 10, call->max_out);
}

/* A 2xx JSON body: a whole answer, or an error envelope sent with a success status. */
static void json_body_outcome(llm_call *call)
{
  if (call->raw_overflow) {
    finish(call, LLM_STREAM_ERROR, STREAM_ERR_MALFORMED,
           strf("the answer from %s is larger than %d MB", call->host, LLM_JSON_BODY_MAX >> 20));
    return;
  }
  llm_complete whole;
  if (llm__complete_parse(call->api, call->raw.data ? call->raw.data : "", call->raw.len, &whole) ==
      0) {
    size_t n = answer_admit(call, whole.text, strlen(whole.text));
    if (n) {
      buf_append(&call->text, whole.text, n);
      call->text_delivered = 1;
      if (call->cb.on_delta) {
        call->cb.on_delta(call, STREAM_EV_TEXT, whole.text, n, call->data);
      }
    }
    call->usage = whole.usage;
    call->finish = whole.finish;
    free(call->finish_raw);
    call->finish_raw = whole.finish_raw;
    whole.finish_raw = NULL;
    llm__complete_free(&whole);
    if (call->cancelled) {
      return;
    }
    if (call->over_cap) {
      finish(call, LLM_TRUNCATED, STREAM_ERR_OTHER, over_cap_message(call));
      return;
    }
    finish(call, LLM_OK, STREAM_ERR_OTHER, NULL);
    return;
  }
  stream_http_error e;
  int unknown = stream_http_error_parse(call->status, call->raw.data, call->raw.len, &e);
  buf_t b = BUF_INIT;
  if (unknown) {
    buf_printf(&b, "%s answered with a JSON body that is not a model response", call->host);
    stream_http_error_free(&e);
    finish(call, LLM_STREAM_ERROR, STREAM_ERR_MALFORMED, buf_detach(&b));
    return;
  }
  buf_printf(&b, "%s at %s: ", stream_error_class_name(e.error_class), call->host);
  put_provider_message(&b, e.message, call->key);
  stream_error_class cls = e.error_class;
  int retryable = e.retryable;
  put_hint(&b, call, cls);
  stream_http_error_free(&e);
  if (retryable && try_retry(call, b.data, -1)) {
    buf_free(&b);
    return;
  }
  put_retries(&b, call);
  finish(call, LLM_STREAM_ERROR, cls, buf_detach(&b));
}

static void stream_outcome(llm_call *call)
{
  if (!call->parser) {
    call->parser = stream_parser_new(call->api, on_stream_event, call, 0);
    if (call->raw.len) {
      stream_parser_feed(call->parser, call->raw.data, call->raw.len);
    }
  }
  stream_parser_finish(call->parser);
  if (call->cancelled) {
    return;
  }
  if (call->ev_error) {
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s during the answer from %s: ", stream_error_class_name(call->ev_class), call->host);
    put_provider_message(&b, call->ev_message, call->key);
    if (call->ev_retryable && !call->text_delivered && try_retry(call, b.data, -1)) {
      buf_free(&b);
      return;
    }
    put_retries(&b, call);
    finish(call, LLM_STREAM_ERROR, call->ev_class, buf_detach(&b));
    return;
  }
  if (call->truncated) {
    finish(call, LLM_TRUNCATED, STREAM_ERR_OTHER,
           strf("the answer from %s stopped before its end (%zu bytes of text)", call->host,
                call->text.len));
    return;
  }
  finish(call, LLM_OK, STREAM_ERR_OTHER, NULL);
}

static void on_http_done(http_request *req, const http_result *res, void *data)
{
  (void)req;
  llm_call *call = data;
  call->req = NULL;
  /* A transfer we stopped at a cap ends like a complete one: the outcome is decided on what
   * came before the cap. */
  int stopped = call->stopped && !call->cancelled;
  if (!stopped && (call->cancelled || res->code == HTTP_CANCELLED)) {
    if (!call->cancelled) {
      /* Only the HTTP client's teardown cancels behind our back, and that cancels calls
       * first; handled anyway. */
      call->cancelled = 1;
      finish_later(call, LLM_CANCELLED, STREAM_ERR_OTHER, xstrdup("cancelled"));
    }
    call_unref(call);
    return;
  }
  call->ttfb_ms = res->ttfb_ms;
  call->reused = res->reused;
  call->http_status = res->status;
  int ok2xx = call->status >= 200 && call->status <= 299;
  if (stopped && call->over_cap && call->mode == BODY_STREAM) {
    finish(call, LLM_TRUNCATED, STREAM_ERR_OTHER, over_cap_message(call));
  } else if (!stopped && res->code != HTTP_OK && !(ok2xx && call->ended && !call->truncated)) {
    /* A transfer that failed after a complete stream (a server that never closes after
     * [DONE]) lost nothing and falls through to the stream's outcome. */
    char *msg = network_message(call, res);
    int before = res->code == HTTP_FAILED_BEFORE_RESPONSE || res->code == HTTP_TIMEOUT_CONNECT;
    if (!(before && !call->text_delivered && try_retry(call, msg, -1))) {
      buf_t b = BUF_INIT;
      buf_puts(&b, msg);
      put_retries(&b, call);
      int timeout = res->code == HTTP_TIMEOUT_CONNECT || res->code == HTTP_TIMEOUT_IDLE ||
                    res->code == HTTP_TIMEOUT_TOTAL;
      finish(call, LLM_NETWORK_ERROR, timeout ? STREAM_ERR_TIMEOUT : STREAM_ERR_OTHER,
             buf_detach(&b));
    }
    free(msg);
  } else if (!ok2xx) {
    http_error_outcome(call, res);
  } else if (call->mode == BODY_BUFFER) {
    json_body_outcome(call);
  } else {
    stream_outcome(call);
  }
  call_unref(call);
}

static const http_callbacks HTTP_CALLBACKS = {on_http_response, on_http_body, on_http_done};

/* ---- attempts ---- */

static void attempt_reset(llm_call *call)
{
  stream_parser_free(call->parser);
  call->parser = NULL;
  buf_clear(&call->raw);
  call->raw_cap = 0;
  call->raw_overflow = 0;
  call->status = 0;
  call->mode = BODY_UNDECIDED;
  call->got_2xx = 0;
  call->usage.input_tokens = call->usage.cached_input_tokens = STREAM_UNKNOWN;
  call->usage.cache_write_tokens = call->usage.output_tokens = STREAM_UNKNOWN;
  call->usage.reasoning_tokens = call->usage.total_tokens = STREAM_UNKNOWN;
  call->usage.from_timings = false;
  call->finish = STREAM_FINISH_OTHER;
  free(call->finish_raw);
  call->finish_raw = NULL;
  call->ev_error = 0;
  free(call->ev_message);
  call->ev_message = NULL;
  call->ev_class = STREAM_ERR_OTHER;
  call->ev_retryable = 0;
  call->ended = call->truncated = 0;
  call->answer_bytes = 0;
  call->over_cap = 0;
  call->stopped = 0;
}

/* Starts one HTTP request. Returns 0, or -1 with a message. */
static int attempt_start(llm_call *call, char *err, size_t errlen)
{
  attempt_reset(call);
  const char *headers[5];
  size_t nh = 0;
  char *auth = NULL;
  headers[nh++] = "Content-Type: application/json";
  headers[nh++] = "Accept: text/event-stream";
  if (call->provider == PROVIDER_ANTHROPIC) {
    headers[nh++] = "anthropic-version: 2023-06-01";
  }
  if (call->key) {
    auth = strf(call->provider == PROVIDER_ANTHROPIC ? "x-api-key: %s" : "Authorization: Bearer %s",
                call->key);
    headers[nh++] = auth;
  }
  http_request_opts o;
  memset(&o, 0, sizeof(o));
  o.method = "POST";
  o.url = call->url;
  o.headers = headers;
  o.nheaders = nh;
  o.body = call->body;
  o.body_len = strlen(call->body);
  o.connect_timeout_ms = call->connect_ms;
  o.idle_timeout_ms = call->idle_ms;
  o.total_timeout_ms = call->total_ms;
  http_request *req = http_request_start(call->c->http, &o, &HTTP_CALLBACKS, call, err, errlen);
  if (auth) {
    llm__wipe(auth, strlen(auth));
    free(auth);
  }
  if (!req) {
    return -1;
  }
  call->req = req;
  call->refs++;
  call->attempts++;
  call->state = CALL_HTTP;
  return 0;
}

/* An attempt started from the loop (key ready, retry timer). */
static void attempt_begin(llm_call *call)
{
  char err[256] = "";
  if (attempt_start(call, err, sizeof(err)) != 0) {
    finish(call, LLM_NETWORK_ERROR, STREAM_ERR_OTHER, strf("cannot start the request: %s", err));
  }
}

/* ---- keys ---- */

static void on_key_cmd_done(llm_cmd *cmd, int ok, const char *out, size_t len, const char *why,
                            void *data)
{
  (void)cmd;
  key_entry *k = data;
  llm_client *c = k->c;
  k->run = NULL;
  const char *bad = why;
  char *key = ok ? key_clean(out, len, &bad) : NULL;
  char *message = NULL;
  if (key) {
    k->key = key;
  } else {
    message = strf("api_key_cmd %s", bad);
    /* A failure is not cached: the next call runs the command again (the user may have
     * unlocked their password store meanwhile). */
    for (key_entry **p = &c->keys; *p; p = &(*p)->next) {
      if (*p == k) {
        *p = k->next;
        break;
      }
    }
  }
  /* Each resolution may run user callbacks that start or cancel calls, or free the client:
   * look for the next waiter afresh every time. */
  for (;;) {
    llm_call *w = c->calls;
    while (w && !(w->state == CALL_KEY && w->waiting == k)) {
      w = w->next;
    }
    if (!w) {
      break;
    }
    w->waiting = NULL;
    if (key) {
      w->key = xstrdup(key);
      attempt_begin(w);
    } else {
      finish(w, LLM_KEY_ERROR, STREAM_ERR_AUTH, xstrdup(message));
    }
  }
  free(message);
  if (!key) {
    free(k->cmd);
    free(k);
  }
  client_unref(c);
}

/* Resolves the key for a new call: fills call->key, or makes it wait for api_key_cmd, or
 * schedules a LLM_KEY_ERROR. */
static void key_resolve(llm_call *call, const tier_config *t)
{
  llm_client *c = call->c;
  if (t->api_key_cmd && t->api_key_cmd[0]) {
    call->key_from_cmd = 1;
    key_entry *k = c->keys;
    while (k && strcmp(k->cmd, t->api_key_cmd) != 0) {
      k = k->next;
    }
    if (k && k->key) {
      call->key = xstrdup(k->key);
      return;
    }
    if (!k) {
      k = xcalloc(1, sizeof(*k));
      k->c = c;
      k->cmd = xstrdup(t->api_key_cmd);
      char err[256] = "";
      k->run = llm__cmd_run(c->loop, k->cmd, LLM_KEY_MAX, (uint64_t)c->key_timeout_ms,
                            on_key_cmd_done, k, err, sizeof(err));
      if (!k->run) {
        free(k->cmd);
        free(k);
        finish_later(call, LLM_KEY_ERROR, STREAM_ERR_AUTH, xstrdup(err));
        return;
      }
      c->refs++;
      k->next = c->keys;
      c->keys = k;
    }
    call->state = CALL_KEY;
    call->waiting = k;
    return;
  }
  /* Read at every call, so a key exported after the editor started is picked up. */
  const char *v = getenv(call->key_env);
  if (!v || !v[0]) {
    return; /* local servers need none; a 401 will name the variable */
  }
  const char *bad = NULL;
  call->key = key_clean(v, strlen(v), &bad);
  if (!call->key) {
    finish_later(call, LLM_KEY_ERROR, STREAM_ERR_AUTH,
                 strf("%s %s", call->key_env,
                      strcmp(bad, "printed nothing") == 0 ? "holds only whitespace"
                                                          : "holds a control character, a line "
                                                            "break or a non-ASCII byte"));
  }
}

/* 1 (with the refusal in err) when the call would send the tier's key as clear text to
 * another machine: a plain http:// URL whose host is not loopback, and a key to send. Decided
 * before api_key_cmd runs, so no key is even fetched. */
static int key_in_clear(const tier_config *t, const char *url, char *err, size_t errlen)
{
  if (strncasecmp(url, "http://", 7) != 0) {
    return 0;
  }
  char host[256];
  llm__url_host(url, host, sizeof(host));
  if (llm__is_loopback_host(host)) {
    return 0;
  }
  const char *env = getenv(config_api_key_env(t));
  if (!(t->api_key_cmd && t->api_key_cmd[0]) && !(env && env[0])) {
    return 0; /* nothing secret goes out */
  }
  snprintf(err, errlen,
           "refusing to send the API key in clear text to %s (base_url is http://): use "
           "https://, or set http.allow_insecure_key = true to send it anyway",
           host);
  return 1;
}

/* ---- public API ---- */

llm_client *llm_client_new(uv_loop_t *loop, const llm_client_opts *opts, char *err, size_t errlen)
{
  http_client_opts ho;
  memset(&ho, 0, sizeof(ho));
  if (opts) {
    ho.ca_file = opts->ca_file;
    ho.proxy = opts->proxy;
  }
  http_client *http = http_client_new(loop, &ho, err, errlen);
  if (!http) {
    return NULL;
  }
  llm_client *c = xcalloc(1, sizeof(*c));
  c->loop = loop;
  c->http = http;
  c->refs = 1;
  c->key_timeout_ms =
      opts && opts->key_cmd_timeout_ms > 0 ? opts->key_cmd_timeout_ms : LLM_KEY_TIMEOUT_MS;
  c->rng = uv_hrtime() ^ ((uint64_t)(uintptr_t)c << 16) ^ 0x9E3779B97F4A7C15ULL;
  if (c->rng == 0) {
    c->rng = 1;
  }
  return c;
}

uv_loop_t *llm_client_loop(const llm_client *c)
{
  return c->loop;
}

void llm_client_free(llm_client *c)
{
  if (!c || c->freeing) {
    return;
  }
  c->freeing = 1;
  for (llm_call *call = c->calls; call; call = call->next) {
    llm_call_cancel(call);
  }
  for (key_entry *k = c->keys, *next; k; k = next) {
    next = k->next;
    if (k->run) {
      llm__cmd_kill(k->run);
    }
  }
  http_client_free(c->http);
  client_unref(c);
}

llm_call *llm_call_start(llm_client *c, const llm_request *req, const llm_callbacks *cb, void *data,
                         char *err, size_t errlen)
{
  if (!c || c->freeing) {
    snprintf(err, errlen, "the client is being freed");
    return NULL;
  }
  if (!req || !req->tier || !req->prompt) {
    snprintf(err, errlen, "no tier or no prompt");
    return NULL;
  }
  char *url = llm__url(req->tier, err, errlen);
  if (!url) {
    return NULL;
  }
  char *body = llm_request_body(req, err, errlen);
  if (!body) {
    free(url);
    return NULL;
  }
  if (!req->allow_insecure_key && key_in_clear(req->tier, url, err, errlen)) {
    free(body);
    free(url);
    return NULL;
  }
  llm_call *call = xcalloc(1, sizeof(*call));
  call->c = c;
  c->refs++;
  call->refs = 1; /* the timer handle */
  call->t_start = uv_hrtime();
  uv_timer_init(c->loop, &call->timer);
  call->timer.data = call;
  if (cb) {
    call->cb = *cb;
  }
  call->data = data;
  call->provider = req->tier->provider;
  call->api = llm__stream_api(call->provider);
  call->url = url;
  llm__url_host(url, call->host, sizeof(call->host));
  call->model = xstrdup(req->tier->model);
  call->body = body;
  call->key_env = xstrdup(config_api_key_env(req->tier));
  call->connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000;
  call->idle_ms = req->idle_timeout_ms > 0 ? req->idle_timeout_ms : 120000;
  call->total_ms = req->total_timeout_ms > 0 ? req->total_timeout_ms : 600000;
  call->max_attempts = req->max_attempts > 0 ? req->max_attempts : 3;
  call->backoff_base_ms = req->retry_base_ms > 0 ? req->retry_base_ms : LLM_BACKOFF_BASE_MS;
  const prompt *p = req->prompt;
  call->prompt_tokens = 0;
  if (p->system) {
    call->prompt_tokens += tokens_estimate(LANG_UNKNOWN, p->system, strlen(p->system));
  }
  if (p->context) {
    call->prompt_tokens += tokens_estimate(LANG_UNKNOWN, p->context, strlen(p->context));
  }
  call->prompt_tokens += tokens_estimate(LANG_UNKNOWN, p->task, strlen(p->task));
  for (size_t i = 0; i < req->nturns; i++) {
    const char *t = req->turns[i].text ? req->turns[i].text : "";
    call->prompt_tokens += tokens_estimate(LANG_UNKNOWN, t, strlen(t));
  }
  call->max_out = llm__max_output(req);
  call->answer_cap = (size_t)call->max_out * LLM_BYTES_PER_TOKEN + LLM_ANSWER_MARGIN;
  call->err_class = STREAM_ERR_OTHER;
  call->finish = STREAM_FINISH_OTHER;
  call->ttfb_ms = -1; /* as in http_result: no response byte (yet) */
  attempt_reset(call);
  call->state = CALL_HTTP;
  call->next = c->calls;
  if (c->calls) {
    c->calls->prev = call;
  }
  c->calls = call;

  key_resolve(call, req->tier);
  if (call->state == CALL_HTTP && attempt_start(call, err, errlen) != 0) {
    /* Nothing has been promised to the caller yet: undo quietly. */
    call_unlink(call);
    call->state = CALL_DONE;
    uv_close((uv_handle_t *)&call->timer, timer_closed);
    return NULL;
  }
  return call;
}

void llm_call_cancel(llm_call *call)
{
  if (!call || call->cancelled || call->state == CALL_DONE) {
    return;
  }
  call->cancelled = 1;
  if (call->req) {
    http_request_cancel(call->req);
  }
  call->waiting = NULL;
  uv_timer_stop(&call->timer);
  finish_later(call, LLM_CANCELLED, STREAM_ERR_OTHER, xstrdup("cancelled"));
}
