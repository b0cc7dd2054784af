/* sse: an incremental decoder for text/event-stream bodies (the WHATWG "event stream"
 * algorithm, byte-oriented).
 *
 * Bytes go in with sse_decoder_feed() in chunks of any size; a line end (CR, LF or CRLF) may be
 * split across chunks. Each complete event is handed to the callback at the blank line that
 * ends it. The decoder never interprets the data: JSON and UTF-8 validation are the caller's
 * business (U+2028/U+2029 are ordinary bytes here, as the format requires).
 *
 * Rules implemented: a leading UTF-8 BOM is skipped; `:` lines are comments; `field:value`
 * with one optional space after the colon removed; a line without a colon is a field with an
 * empty value; `data` values are joined with "\n"; `event` names the event ("message" when
 * absent or empty); `id` persists across events and is ignored when it contains NUL; `retry`
 * is taken only when it is all ASCII digits; other fields are ignored. A blank line dispatches
 * the pending event when a data, event, id or retry field was seen since the previous dispatch,
 * even if there was no data line (like the official OpenAI/Anthropic SDKs; `empty_data` tells
 * a strict EventSource's view). At EOF, sse_decoder_finish() discards an event that was not
 * closed by a blank line, and reports what it discarded.
 *
 * Memory: the decoder owns every buffer it uses; pointers passed to the callback or returned
 * by sse_decoder_finish() point into them and stay valid only as stated. One event (its data
 * plus the line being read) may not exceed max_event_bytes: the decoder then fails with
 * SSE_ETOOBIG instead of growing without bound. Allocation failure aborts (util/buf.h). */
#ifndef FRUGAL_HTTP_SSE_H
#define FRUGAL_HTTP_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSE_DEFAULT_MAX_EVENT ((size_t)16 << 20)

enum {
  SSE_OK = 0,
  SSE_ETOOBIG = -1,   /* an event or line exceeded max_event_bytes */
  SSE_ESTOPPED = -2,  /* the callback returned non-zero */
  SSE_EFINISHED = -3, /* fed after sse_decoder_finish() */
};

typedef struct {
  const char *event; /* NUL-terminated; "message" when no non-empty event field was seen */
  size_t event_len;
  bool event_set;   /* an event field with a non-empty value was seen */
  const char *data; /* NUL-terminated, but may also contain NUL bytes: use data_len */
  size_t data_len;
  bool empty_data; /* no data line at all (a strict EventSource would not dispatch this) */
  const char *id;  /* last event ID (persists across events), NULL if none was ever set */
  size_t id_len;
} sse_event;

/* Called once per dispatched event. All pointers are valid during the call only. Return 0 to
 * go on; any other value stops the decoder (the feed returns SSE_ESTOPPED). The callback must
 * not call back into the same decoder. */
typedef int (*sse_event_cb)(void *userdata, const sse_event *ev);

/* What sse_decoder_finish() discarded. The first three fields are the raw state (they match
 * the wire fixtures' oracle records); `would_be` is the event as it would have been dispatched
 * had the body ended with a line end and a blank line, so a caller can recognise a final
 * `data: [DONE]` or a terminal JSON event that a server sent without the closing blank line. */
typedef struct {
  const char *partial_event; /* pending event name, NULL if none */
  const char *partial_data;  /* data joined from complete data lines (may be "") */
  size_t partial_data_len;
  const char *unterminated_line; /* last line without a line end, NULL if none */
  size_t unterminated_len;
  bool would_dispatch; /* false when the pending state would not make an event */
  sse_event would_be;  /* valid when would_dispatch */
} sse_discarded;

typedef struct sse_decoder sse_decoder;

/* Creates a decoder. max_event_bytes 0 means SSE_DEFAULT_MAX_EVENT. Never returns NULL (an
 * allocation failure aborts). Free it with sse_decoder_free(). */
sse_decoder *sse_decoder_new(sse_event_cb cb, void *userdata, size_t max_event_bytes);
void sse_decoder_free(sse_decoder *dec);

/* Decodes len bytes, calling the callback for each event completed by them. Returns SSE_OK,
 * or a negative SSE_E* code; after an error the decoder stays failed and returns the same code
 * (sse_decoder_error() describes it). */
int sse_decoder_feed(sse_decoder *dec, const void *bytes, size_t len);

/* Ends the stream. Returns 1 when a pending event or an unterminated line was discarded (and
 * fills *out if out is not NULL; its pointers stay valid until sse_decoder_free()), 0 when the
 * body ended cleanly, or the decoder's negative error code. Feeding afterwards fails with
 * SSE_EFINISHED. */
int sse_decoder_finish(sse_decoder *dec, sse_discarded *out);

/* The latest valid `retry` value in milliseconds, or -1 if none was received (values above
 * INT64_MAX saturate). */
int64_t sse_decoder_retry(const sse_decoder *dec);

/* A human-readable description of the decoder's error, or NULL when it has none. Owned by the
 * decoder. */
const char *sse_decoder_error(const sse_decoder *dec);

#endif
