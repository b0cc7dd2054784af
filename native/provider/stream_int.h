/* Internals shared by stream.c and the per-API parsers (stream_*.c). Not a public contract. */
#ifndef FRUGAL_PROVIDER_STREAM_INT_H
#define FRUGAL_PROVIDER_STREAM_INT_H

#include <jansson.h>

#include "http/ndjson.h"
#include "provider/stream.h"

/* Limits on indexes taken from the wire: tables are searched linearly and never indexed by a
 * number a server chose. */
#define STREAM_MAX_INDEX 65535u
#define STREAM_MAX_TOOLS 1024u

typedef struct {
  uint32_t choice;
  uint32_t index;
  char *id;   /* owned, NULL until known */
  char *name; /* owned, NULL until known */
} stream_tool;

/* Anthropic usage as the SDK merges it: fields from message_start, overwritten by every
 * non-null field of a (cumulative) message_delta usage. -1 = not seen. */
typedef struct {
  int64_t input, cache_read, cache_creation, output, thinking;
} stream_anthropic_usage;

struct stream_parser {
  stream_api api;
  stream_event_cb cb;
  void *userdata;
  sse_decoder *sse;
  ndjson_splitter *nd;
  const char *name; /* API name for messages: "openai-chat", ... */
  bool stopped;     /* the callback asked to stop */
  bool ended;       /* END was emitted, or a terminal event recorded at EOF */
  bool at_eof;      /* processing the event discarded by SSE at EOF: terminals only */
  bool error_seen;  /* a provider error was reported */
  bool failed;      /* framing error */
  bool finished;
  bool have_discarded;
  const char *eof_terminal; /* terminal seen in the EOF event (static string) */
  sse_discarded discarded;
  stream_tool *tools;
  size_t ntools, tools_cap;
  /* per-API state */
  bool usage_seen;         /* Chat: a real usage object arrived (timings no longer used) */
  bool function_call_seen; /* Responses */
  uint32_t ollama_tools;   /* Ollama: tool calls seen so far */
  stream_anthropic_usage au;
};

/* Emitting. All of them do nothing once the callback has asked to stop. */
void stream_emit(stream_parser *p, stream_event *ev);
void stream_emit_text(stream_parser *p, stream_event_kind kind, uint32_t choice, const char *s,
                      size_t len);
void stream_emit_finish(stream_parser *p, uint32_t choice, const char *raw, stream_finish fin);
void stream_emit_usage(stream_parser *p, const stream_usage *u);
void stream_emit_malformed(stream_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A provider error object (or string): message/type/code/param are taken leniently (any JSON
 * value is shown rather than lost). err may be a JSON object or string. */
void stream_emit_provider_error(stream_parser *p, json_t *err);
/* The same from separate values (Responses' flat error event); any of them may be NULL. */
void stream_emit_error_fields(stream_parser *p, json_t *message, json_t *type, json_t *code,
                              json_t *param);
/* A terminal event: END now, or recorded for finish() when the event came from EOF. */
void stream_terminal(stream_parser *p, const char *terminator);
void stream_usage_init(stream_usage *u);

/* Tool table: finds or adds (choice, index). Returns NULL (after a MALFORMED error) when the
 * table is full. */
stream_tool *stream_tool_get(stream_parser *p, uint32_t choice, uint32_t index);
void stream_tool_set(char **slot, const char *s, size_t len);

/* Parses one JSON object; on failure emits MALFORMED naming `what` and returns NULL. */
json_t *stream_json_object(stream_parser *p, const char *data, size_t len, const char *what);

/* For APIs whose events are typed (Responses, Anthropic): parses the event's JSON object and
 * finds its type (the SSE event name wins over data.type when it is not the default
 * "message"). Returns the root (the caller json_decref()s it) with *type set, or NULL when the
 * event is to be skipped: malformed (reported), untyped, or a non-terminal event found at EOF
 * (`is_terminal` decides). */
json_t *stream_typed_event(stream_parser *p, const char *event, const char *data, size_t len,
                           bool (*is_terminal)(const char *type), const char **type);

/* Field readers. Each returns 1 when the key holds a value of the right type (stored in *out),
 * 0 when the key is absent or null, -1 when it holds another type (a MALFORMED error naming
 * `where`.key has been emitted: the caller drops the event). */
int stream_get_str(stream_parser *p, json_t *obj, const char *where, const char *key,
                   const char **out, size_t *len);
int stream_get_count(stream_parser *p, json_t *obj, const char *where, const char *key,
                     int64_t *out); /* a non-negative integer */
int stream_get_index(stream_parser *p, json_t *obj, const char *where, const char *key,
                     uint32_t *out); /* 0..STREAM_MAX_INDEX */
int stream_get_obj(stream_parser *p, json_t *obj, const char *where, const char *key, json_t **out);
int stream_get_arr(stream_parser *p, json_t *obj, const char *where, const char *key, json_t **out);
int stream_get_bool(stream_parser *p, json_t *obj, const char *where, const char *key, bool *out);

/* Drops JSON whitespace around s[0..*len). */
static inline const char *stream_trim(const char *s, size_t *len)
{
  size_t n = *len;
  while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
    s++;
    n--;
  }
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) {
    n--;
  }
  *len = n;
  return s;
}

/* Per-API handlers. data is one SSE event's data (event its name) or one NDJSON line. */
void stream_openai_chat_event(stream_parser *p, const char *data, size_t len);
void stream_openai_responses_event(stream_parser *p, const char *event, const char *data,
                                   size_t len);
void stream_anthropic_event(stream_parser *p, const char *event, const char *data, size_t len);
/* Whole (non-streamed) bodies, read with the same field readers: return 0, or -1 when `root`
 * is not a response of that API (nothing emitted then). */
int stream_openai_chat_body(stream_parser *p, json_t *root);
int stream_openai_responses_body(stream_parser *p, json_t *root);
int stream_anthropic_body(stream_parser *p, json_t *root);
void stream_ollama_line(stream_parser *p, const char *line, size_t len);

#endif
