/* llm: one model call, end to end: build the provider's request from a prompt and a tier,
 * resolve the API key, send it through the HTTP client, decode the stream into normalised
 * events, retry what is worth retrying, and report one result.
 *
 * Providers (config.h provider_id): PROVIDER_OPENAI -> POST {base_url}/responses;
 * PROVIDER_OPENAI_CHAT -> POST {base_url}/chat/completions (OpenAI, Ollama /v1, llama.cpp,
 * vLLM, OpenRouter: stream_options.include_usage is requested; the output limit goes in
 * `max_completion_tokens` to api.openai.com, which deprecated `max_tokens`, and in `max_tokens`
 * to every other server, since Ollama and llama.cpp read only that); PROVIDER_ANTHROPIC ->
 * POST {base_url}/v1/messages with anthropic-version 2023-06-01. All requests stream.
 *
 * Prompt caching: the prompt's stable parts (system, context) come first and byte-identical;
 * OpenAI requests carry `prompt_cache_key` (Chat Completions only to api.openai.com: other
 * servers may reject unknown fields); Anthropic requests mark the end of the stable prefix (the
 * context block, or the system block when there is no context) with cache_control
 * {"type":"ephemeral"}, unless the request says no later one will share its prefix
 * (llm_request.no_cache_write). Responses requests send "store": false.
 *
 * Keys: from the tier's api_key_env variable, or the stdout of api_key_cmd (run once through
 * /bin/sh with uv_spawn on first use, never blocking the loop, trimmed, cached in memory for the
 * client's life; its failure is reported without the command's output, and is not cached).
 * api_key_cmd, when set, takes precedence over api_key_env. The command's stdout is bounded
 * (8 KB) and must be one line; stderr is discarded; it is killed with its process group after
 * llm_client_opts.key_cmd_timeout_ms. Concurrent calls share one run. A missing key is not
 * an error by itself (local servers need none): the request goes without one, and a 401 then
 * says which variable to set. Keys never appear in messages, logs or process arguments.
 *
 * Retries (before any output reached the caller only): HTTP 408, 409, 429 (not
 * insufficient_quota), 500, 502, 503, 504, 529, connection failures before the first response
 * byte, and retryable mid-stream errors that came before any text. `x-should-retry` wins;
 * `retry-after-ms`, then `retry-after` (seconds or HTTP date) are honoured when <= 60 s
 * (longer: no retry, the message says when to try again); otherwise 0.5 s x 2^n, capped at 8 s,
 * with up to 25% jitter. At most `max_attempts` attempts (default 3).
 *
 * Limits (a hostile or broken server cannot make the process grow): the answer's text and
 * reasoning together are kept and shown up to LLM_BYTES_PER_TOKEN bytes per output token the
 * request allows plus LLM_ANSWER_MARGIN; past that the transfer is stopped at once and the call
 * ends LLM_TRUNCATED with a message naming max_output_tokens (the text up to the cap is kept).
 * A body that is buffered whole (an error, a server that did not stream) is stopped the same
 * way at its cap (64 KB for an error, 8 MB for an answer), and the outcome is decided on what
 * came before. Usage that cannot be true for what was sent and received (more input tokens
 * than request bytes, more output tokens than both the limit asked for and the bytes received,
 * with a margin of LLM_USAGE_SLACK tokens) is replaced by the library's estimate: see
 * llm_result.usage_note. */
#ifndef FRUGAL_PROVIDER_LLM_H
#define FRUGAL_PROVIDER_LLM_H

#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include "prompt/prompt.h"
#include "provider/stream.h"

/* The answer cap (see the limits above): a token of a byte-level BPE tokenizer is rarely more
 * than a few bytes of text; 16 leaves room for long runs of spaces and rare long tokens. */
#define LLM_BYTES_PER_TOKEN 16
#define LLM_ANSWER_MARGIN (64 * 1024)
/* Tokens a provider may count beyond the bytes it got or sent: chat templates, special tokens. */
#define LLM_USAGE_SLACK 1024

typedef struct llm_client llm_client;
typedef struct llm_call llm_call;

/* One message of a conversation after the first question. */
typedef struct llm_turn {
  int assistant;    /* 1: the model's answer; 0: the user's follow-up */
  const char *text; /* UTF-8 */
} llm_turn;

typedef struct {
  const char *ca_file; /* extra CA bundle (http_client_opts.ca_file); NULL: none */
  const char *proxy;   /* NULL: the environment's proxy variables */
  long key_cmd_timeout_ms; /* api_key_cmd is killed after this; 0: 10 s */
} llm_client_opts;

/* One per process (the host) or per command (frugal run). Returns NULL with a message when
 * libcurl cannot be loaded. Free with llm_client_free() (cancels calls in flight; their
 * on_done runs with LLM_CANCELLED, from the loop: run it before uv_loop_close(), which also
 * lets running key commands be killed and reaped). Safe to call from any callback. */
/* The loop the client runs on (for callers that queue their own work beside its calls). */
uv_loop_t *llm_client_loop(const llm_client *c);

llm_client *llm_client_new(uv_loop_t *loop, const llm_client_opts *opts, char *err,
                           size_t errlen);
void llm_client_free(llm_client *c);

typedef struct {
  const tier_config *tier;     /* provider, model, base_url, key; borrowed for the call */
  const prompt *prompt;        /* borrowed for the call's start only (the body is built then) */
  const char *cache_key;       /* OpenAI prompt_cache_key ("frugal:<project>:<action>"); NULL */
  /* A conversation's later turns, after the prompt's own user message: assistant and user
   * messages alternating, starting with an assistant answer and ending with a user message.
   * Borrowed for the call's start only. NULL/0 for a single question. */
  const struct llm_turn *turns;
  size_t nturns;
  long max_output_tokens;      /* 0: the tier's max_output_tokens */
  int max_attempts;            /* 0: 3 */
  long connect_timeout_ms;     /* 0: 10 s */
  long idle_timeout_ms;        /* 0: 120 s (reasoning models can think a long time) */
  long total_timeout_ms;       /* 0: 600 s */
  double retry_base_ms;        /* TESTS ONLY: the first backoff step; 0: 500 ms (keep it so) */
  /* http.allow_insecure_key: 1 lets the key go over plain http:// to a host that is not this
   * machine. 0 (the default): llm_call_start refuses such a call when the tier has a key
   * (api_key_cmd set, or api_key_env holding one), before any command runs or byte leaves,
   * with a message naming that config key. Loopback hosts (localhost, 127.0.0.0/8, [::1])
   * need no opt-in; a tier without a key is sent as before. */
  int allow_insecure_key;
  /* 1: no prompt-cache breakpoint (Anthropic's cache_control) for a request whose prefix no
   * later request is expected to share: a cache write costs 1.25x input and pays only when it is
   * read. 0 (the default): system and context are marked, as llm.h's top comment says. */
  int no_cache_write;
} llm_request;

typedef enum {
  LLM_OK = 0,
  LLM_CANCELLED,
  LLM_HTTP_ERROR,     /* a non-2xx status that was not retried (or retries ran out) */
  LLM_STREAM_ERROR,   /* the provider reported an error inside the stream */
  LLM_NETWORK_ERROR,  /* connection, TLS or timeout */
  LLM_TRUNCATED,      /* the stream ended without its terminator */
  LLM_KEY_ERROR,      /* api_key_cmd failed */
} llm_status;

typedef struct {
  llm_status status;
  const char *message;        /* "" when ok; else one line for the user, e.g.
                                 "429 rate limited by api.openai.com: ... (retried 2 times)" */
  stream_error_class error_class;
  int http_status;            /* 0 if none */
  const char *text;           /* the whole answer text (choice 0), NUL-terminated */
  size_t text_len;
  stream_usage usage;         /* from the provider; fields STREAM_UNKNOWN when not reported */
  /* NULL, or one line saying why the provider's usage was not believed ("127.0.0.1 reported
   * 9223372036854775807 input tokens for a request of 2,345 bytes; estimated instead"); then
   * usage holds estimates and usage_estimated is 1. */
  const char *usage_note;
  int usage_estimated;        /* 1: the provider sent no usage; input/output below are the
                                 library's estimates (tokens.h) and must be shown as such.
                                 Only when the last attempt got a 2xx answer (an error
                                 status costs nothing); a count the provider did send is kept */
  stream_finish finish;
  const char *finish_raw;     /* NULL if no finish reason came */
  int attempts;               /* HTTP requests made */
  double ttfb_ms;             /* first response byte of the last attempt; -1 if none */
  double latency_ms;          /* start of the call to on_done */
  int reused_connection;      /* the last attempt went over an existing connection */
} llm_result;

typedef struct {
  /* Text (kind STREAM_EV_TEXT) and reasoning (STREAM_EV_REASONING) as it arrives. Once the
   * first TEXT has been delivered, the call is never retried. May be NULL. */
  void (*on_delta)(llm_call *call, stream_event_kind kind, const char *text, size_t len,
                   void *data);
  /* A retry is scheduled in `delay_ms` because of `why` (the failed attempt's message);
   * `attempt` is the number of the attempt that will follow (2 for the first retry). Reasoning
   * deltas of a failed attempt may come again. May be NULL. */
  void (*on_retry)(llm_call *call, int attempt, double delay_ms, const char *why, void *data);
  /* Exactly once. `res` and its strings are valid during the call only; so is `call`: never
   * use it after on_done has returned. */
  void (*on_done)(llm_call *call, const llm_result *res, void *data);
} llm_callbacks;

/* Starts a call. Returns NULL with a message for a request that cannot be made (bad URL, no
 * prompt); otherwise callbacks follow from the loop (never from inside this function). */
llm_call *llm_call_start(llm_client *c, const llm_request *req, const llm_callbacks *cb,
                         void *data, char *err, size_t errlen);
/* Cancels at any time, also from a callback; on_done follows with LLM_CANCELLED (deferred to
 * the loop). No other callback after this returns. A no-op once on_done has started. */
void llm_call_cancel(llm_call *call);

/* The JSON request body for `req` (what llm_call_start sends), for tests and `--dry-run`.
 * Returns a malloc'd string, or NULL with a message. The key is never part of the body. */
char *llm_request_body(const llm_request *req, char *err, size_t errlen);

#endif
