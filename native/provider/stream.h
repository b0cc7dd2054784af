/* stream: turns a provider's streamed HTTP body into one normalised sequence of events.
 *
 * A stream_parser is made for one API (OpenAI Chat Completions and every compatible server,
 * OpenAI Responses, Anthropic Messages, Ollama's native NDJSON API). It owns the framing
 * decoder (http/sse.h or http/ndjson.h), parses each event's JSON with Jansson, checks the type
 * of every field it reads, and calls back with stream_event values:
 *
 *   TEXT / REASONING / REFUSAL  a piece of text for a choice (the library uses choice 0)
 *   TOOL_CALL                   a piece of a tool call's arguments, with its id and name once known
 *   USAGE                       token counts so far (cumulative; the last one wins)
 *   FINISH                      why generation stopped (raw provider word + a normalised class)
 *   ERROR                       a provider error, or malformed stream data (cls MALFORMED)
 *   END                         exactly once: the stream's terminator, or "eof"
 *
 * Malformed JSON or a field of an unexpected type never crashes and never yields a silent wrong
 * value: the rest of the event it was in is dropped and an ERROR with error_class
 * STREAM_ERR_MALFORMED says where (what came before it in the same event was already emitted).
 * Unknown event types and unknown fields are ignored, as every provider's versioning policy asks.
 *
 * Terminators (stream_event.terminator): "[DONE]" (Chat Completions), "message_stop" and "error"
 * (Anthropic's error event), "response.completed", "response.incomplete", "response.failed"
 * (Responses), "done" (Ollama's done:true line) and "error" (Ollama's error line); "error" also
 * when the body ends after a provider error and nothing else (Chat's error chunk and Responses'
 * error event are not terminal by themselves: [DONE] or response.failed may follow); "eof" when
 * the body ends without any of these. After END the parser ignores further input.
 *
 * Memory: the parser owns everything; the pointers in a stream_event are valid during the
 * callback only. Allocation failure aborts (util/buf.h). No global state: parsers are
 * independent and may live on different threads. */
#ifndef FRUGAL_PROVIDER_STREAM_H
#define FRUGAL_PROVIDER_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/vocab.h"
#include "http/sse.h"

typedef enum {
  STREAM_API_OPENAI_CHAT,      /* /v1/chat/completions: OpenAI, Ollama /v1, llama.cpp, OpenRouter */
  STREAM_API_OPENAI_RESPONSES, /* /v1/responses */
  STREAM_API_ANTHROPIC,        /* /v1/messages */
  STREAM_API_OLLAMA,           /* Ollama /api/chat and /api/generate (NDJSON) */
} stream_api;

enum {
  STREAM_OK = 0,
  STREAM_ETOOBIG = -1,   /* one event or line exceeded the size cap */
  STREAM_ESTOPPED = -2,  /* the callback returned non-zero */
  STREAM_EFINISHED = -3, /* fed after stream_parser_finish() */
};

/* Token counts (core/vocab.h); each field is STREAM_UNKNOWN when the provider did not say. */
#define STREAM_UNKNOWN USAGE_UNKNOWN
typedef usage_counts stream_usage;

typedef enum {
  STREAM_FINISH_STOP,   /* natural end, stop sequence */
  STREAM_FINISH_LENGTH, /* output token limit or context window */
  STREAM_FINISH_TOOL_CALLS,
  STREAM_FINISH_CONTENT_FILTER,
  STREAM_FINISH_REFUSAL,
  STREAM_FINISH_FAILED, /* Responses status "failed" */
  STREAM_FINISH_OTHER,  /* anything else; see finish_raw */
} stream_finish;

typedef enum {
  STREAM_ERR_OTHER,
  STREAM_ERR_RATE_LIMIT, /* retry later */
  STREAM_ERR_QUOTA,      /* out of credit or billing problem: do not retry */
  STREAM_ERR_OVERLOADED, /* provider busy (Anthropic 529, server_is_overloaded, 503) */
  STREAM_ERR_SERVER,     /* 5xx, server_error, api_error */
  STREAM_ERR_TIMEOUT,
  STREAM_ERR_AUTH, /* missing or wrong key */
  STREAM_ERR_PERMISSION,
  STREAM_ERR_NOT_FOUND, /* unknown model or endpoint */
  STREAM_ERR_INVALID_REQUEST,
  STREAM_ERR_CONTEXT_LENGTH, /* prompt too long for the model */
  STREAM_ERR_MALFORMED,      /* this library could not parse what the server sent */
} stream_error_class;

typedef enum {
  STREAM_EV_TEXT,
  STREAM_EV_REASONING,
  STREAM_EV_REFUSAL,
  STREAM_EV_TOOL_CALL,
  STREAM_EV_USAGE,
  STREAM_EV_FINISH,
  STREAM_EV_ERROR,
  STREAM_EV_END,
} stream_event_kind;

typedef struct {
  stream_event_kind kind;
  uint32_t choice; /* TEXT, REASONING, REFUSAL, TOOL_CALL, FINISH: choice index */
  /* TEXT, REASONING, REFUSAL: the new text. TOOL_CALL: the new piece of the arguments (a JSON
   * text once all pieces are joined). UTF-8 (checked by Jansson); may be empty, which still
   * tells that the choice or tool call exists. */
  const char *text;
  size_t len;
  /* TOOL_CALL: the provider's index (Chat: tool_calls[].index; Anthropic: content block index;
   * Responses: output_index; Ollama: position). id and name are NULL until known. */
  uint32_t tool_index;
  const char *tool_id;
  const char *tool_name;
  /* FINISH */
  const char *finish_raw; /* the provider's word: "stop", "end_turn", "completed", ... */
  stream_finish finish;
  /* USAGE */
  stream_usage usage;
  /* ERROR: message is never NULL; type, code and param are NULL when absent (an integer code
   * is given in decimal). */
  const char *message;
  const char *type;
  const char *code;
  const char *param;
  stream_error_class error_class;
  bool retryable;
  /* END */
  const char *terminator;       /* see the list above */
  bool truncated;               /* "eof" without any sign that the answer was complete */
  const char *pending_terminal; /* "eof" only: the terminal event the body ended inside, without
                                 * the blank line that would have delivered it ("[DONE]",
                                 * "message_stop", ...); it was processed; NULL otherwise */
} stream_event;

/* Return 0 to go on; non-zero stops the parser (feed/finish return STREAM_ESTOPPED). The
 * callback must not call back into the same parser. */
typedef int (*stream_event_cb)(void *userdata, const stream_event *ev);

typedef struct stream_parser stream_parser;

/* Creates a parser for one response body. max_event_bytes caps one SSE event or NDJSON line
 * (0: 16 MiB). Never returns NULL. Free with stream_parser_free(). */
stream_parser *stream_parser_new(stream_api api, stream_event_cb cb, void *userdata,
                                 size_t max_event_bytes);
void stream_parser_free(stream_parser *p);

/* Feeds body bytes in chunks of any size. Returns STREAM_OK or a negative STREAM_E* code; a
 * framing failure (ETOOBIG) is also reported as an ERROR event (cls MALFORMED), and the parser
 * stays failed. */
int stream_parser_feed(stream_parser *p, const void *bytes, size_t len);

/* Ends the body: handles an unterminated last event as described above and emits END if no
 * terminator came. Returns STREAM_OK or a negative STREAM_E* code (after a failure END "eof"
 * with truncated set is still emitted unless the callback stopped the parser). */
int stream_parser_finish(stream_parser *p);

/* Parses a whole non-streamed response body (a server that ignored "stream": true) with the
 * same field readers as the stream, so usage, finish reasons and errors mean the same either way:
 * calls `cb` with the events the stream would have given (TEXT / REASONING / REFUSAL, USAGE,
 * FINISH, ERROR) and END with terminator "body". Returns STREAM_OK, STREAM_ESTOPPED when the
 * callback stopped it, or -4 when the body is not a JSON response of `api` (then nothing was
 * emitted; it may be an error envelope: see stream_http_error_parse). Ollama's native API has
 * no non-streamed form here (-4). */
#define STREAM_ENOTBODY (-4)
int stream_parse_body(stream_api api, const char *body, size_t len, stream_event_cb cb,
                      void *userdata);

/* What the SSE decoder discarded at EOF (valid after stream_parser_finish() until
 * stream_parser_free()), or NULL when nothing was discarded or the API is not SSE. */
const sse_discarded *stream_parser_discarded(const stream_parser *p);

/* Error classification shared by stream errors and HTTP error bodies. type and code may be
 * NULL; http_status 0 means "not an HTTP status" (a mid-stream error). */
stream_error_class stream_error_classify(const char *type, const char *code, int http_status);
bool stream_error_retryable(stream_error_class cls, int http_status);
/* A short phrase for messages ("rate limited", "quota exhausted", ...). Static storage. */
const char *stream_error_class_name(stream_error_class cls);

/* A non-2xx HTTP response body, parsed. Every string is owned by the struct and freed by
 * stream_http_error_free(); message is never NULL after a parse. */
typedef struct {
  int status;
  char *message;
  char *type; /* OpenAI/Anthropic/llama.cpp error.type; NULL when absent */
  char *code; /* error.code (a llama.cpp integer code in decimal); NULL when absent */
  char *param;
  char *request_id; /* Anthropic's request_id; NULL when absent */
  stream_error_class error_class;
  bool retryable;
} stream_http_error;

/* Parses an error body in any of the OpenAI ({"error":{message,type,param,code}}), Anthropic
 * ({"type":"error","error":{type,message},"request_id"}), llama.cpp ({"error":{code:int,...}})
 * or Ollama ({"error":"string"}) envelopes. A body that is none of these (an HTML page from a
 * proxy, empty, not UTF-8) still yields a message: its first printable bytes or the status.
 * Returns 0 when a known envelope was found, 1 when the message was made from raw bytes. */
int stream_http_error_parse(int status, const char *body, size_t len, stream_http_error *out);
void stream_http_error_free(stream_http_error *e);

#endif
