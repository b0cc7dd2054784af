/* ndjson: an incremental splitter for newline-delimited JSON bodies (Ollama's native API).
 *
 * Bytes go in with ndjson_splitter_feed() in chunks of any size. Lines end at LF; a CR right
 * before the LF is dropped (so CRLF works even when split across chunks). Blank lines (empty or
 * only spaces/tabs/CR) are skipped. A last line without a newline is delivered by
 * ndjson_splitter_finish(). The splitter does not parse JSON.
 *
 * Memory: the splitter owns the buffer that holds a line split across chunks. A line longer
 * than max_line_bytes fails with NDJSON_ETOOBIG instead of growing without bound. Allocation
 * failure aborts (util/buf.h). */
#ifndef FRUGAL_HTTP_NDJSON_H
#define FRUGAL_HTTP_NDJSON_H

#include <stddef.h>

#define NDJSON_DEFAULT_MAX_LINE ((size_t)16 << 20)

enum {
  NDJSON_OK = 0,
  NDJSON_ETOOBIG = -1,   /* a line exceeded max_line_bytes */
  NDJSON_ESTOPPED = -2,  /* the callback returned non-zero */
  NDJSON_EFINISHED = -3, /* fed after ndjson_splitter_finish() */
};

/* Called once per non-blank line, without its line end. The bytes are NOT NUL-terminated and
 * are valid during the call only (they may point into the caller's chunk). Return 0 to go on;
 * any other value stops the splitter (the feed returns NDJSON_ESTOPPED). */
typedef int (*ndjson_line_cb)(void *userdata, const char *line, size_t len);

typedef struct ndjson_splitter ndjson_splitter;

/* max_line_bytes 0 means NDJSON_DEFAULT_MAX_LINE. Never returns NULL. */
ndjson_splitter *ndjson_splitter_new(ndjson_line_cb cb, void *userdata, size_t max_line_bytes);
void ndjson_splitter_free(ndjson_splitter *s);

/* Returns NDJSON_OK or a negative NDJSON_E* code; after an error the splitter stays failed. */
int ndjson_splitter_feed(ndjson_splitter *s, const void *bytes, size_t len);

/* Delivers a last line that had no newline. Returns NDJSON_OK or a negative code. */
int ndjson_splitter_finish(ndjson_splitter *s);

/* A description of the splitter's error, or NULL. Owned by the splitter. */
const char *ndjson_splitter_error(const ndjson_splitter *s);

#endif
