/* libFuzzer target for native/http/sse.c and the provider stream parsers: differential
 * chunking.
 *
 * Input layout: byte 0 picks the size cap (bits 0-1: default, 32, 200 or 4096 bytes) and the
 * parser API (bits 2-3: OpenAI chat, Anthropic, Responses, Ollama NDJSON); byte 1 (mod 16) is
 * the number N of piece lengths that follow, the next N bytes are those lengths (cycled; 0
 * feeds an empty chunk, N == 0 feeds one byte at a time); the rest is the body.
 *
 * The body goes through the SSE decoder, and through a stream parser, once whole and once in
 * pieces. Everything they report (events, EOF discard record, return codes, error messages)
 * is logged, and the two logs must be byte-identical. Stream invariants are checked on the way:
 * END exactly once and last, ERROR messages never NULL, text lengths consistent. Any
 * difference calls abort().
 *
 * Build (clang 14 with libclang-rt-14-dev):
 *   clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=undefined -Iinclude -Inative tests/fuzz/fuzz_sse.c \
 *     native/http/sse.c native/http/ndjson.c native/provider/stream*.c native/util/buf.c \
 *     $(pkg-config --cflags --libs jansson) -o /tmp/fuzz_sse
 *   mkdir -p /tmp/sse_corpus && cp tests/wire/fixtures/[a-z]*.sse /tmp/sse_corpus/
 *   /tmp/fuzz_sse -max_total_time=60 /tmp/sse_corpus
 * (Seeds without the two header bytes still work: their first bytes are read as the header.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/sse.h"
#include "provider/stream.h"
#include "util/buf.h"

static const size_t CAPS[4] = {0, 32, 200, 4096};
static const stream_api APIS[4] = {STREAM_API_OPENAI_CHAT, STREAM_API_ANTHROPIC,
                                   STREAM_API_OPENAI_RESPONSES, STREAM_API_OLLAMA};

typedef struct {
  const uint8_t *lens;
  size_t nlens;
} pieces;

static void log_bytes(buf_t *log, const char *tag, const char *s, size_t n)
{
  buf_printf(log, "%s%zu:", tag, n);
  if (n) {
    buf_append(log, s, n);
  }
  buf_putc(log, '\n');
}

static int sse_log(void *userdata, const sse_event *ev)
{
  buf_t *log = userdata;
  if (!ev->event || ev->event[ev->event_len] != '\0' || ev->data[ev->data_len] != '\0') {
    abort();
  }
  log_bytes(log, "E", ev->event, ev->event_len);
  log_bytes(log, "D", ev->data, ev->data_len);
  log_bytes(log, "I", ev->id ? ev->id : "", ev->id ? ev->id_len : 0);
  buf_printf(log, "F%d%d%d\n", ev->event_set, ev->empty_data, ev->id != NULL);
  return 0;
}

typedef struct {
  buf_t log;
  int ends;
} stream_log;

static int stream_cb(void *userdata, const stream_event *ev)
{
  stream_log *l = userdata;
  if (l->ends) {
    abort(); /* nothing after END */
  }
  buf_printf(&l->log, "K%d c%u\n", ev->kind, ev->choice);
  switch (ev->kind) {
  case STREAM_EV_TEXT:
  case STREAM_EV_REASONING:
  case STREAM_EV_REFUSAL:
  case STREAM_EV_TOOL_CALL:
    if (!ev->text) {
      abort();
    }
    log_bytes(&l->log, "T", ev->text, ev->len);
    if (ev->kind == STREAM_EV_TOOL_CALL) {
      buf_printf(&l->log, "i%u %s %s\n", ev->tool_index, ev->tool_id ? ev->tool_id : "-",
                 ev->tool_name ? ev->tool_name : "-");
    }
    break;
  case STREAM_EV_USAGE:
    buf_printf(&l->log, "U%lld %lld %lld %lld %lld %lld %d\n", (long long)ev->usage.input_tokens,
               (long long)ev->usage.cached_input_tokens, (long long)ev->usage.cache_write_tokens,
               (long long)ev->usage.output_tokens, (long long)ev->usage.reasoning_tokens,
               (long long)ev->usage.total_tokens, ev->usage.from_timings);
    break;
  case STREAM_EV_FINISH:
    if (!ev->finish_raw) {
      abort();
    }
    buf_printf(&l->log, "R%s %d\n", ev->finish_raw, ev->finish);
    break;
  case STREAM_EV_ERROR:
    if (!ev->message) {
      abort();
    }
    buf_printf(&l->log, "X%s|%s|%s|%s|%d%d\n", ev->message, ev->type ? ev->type : "-",
               ev->code ? ev->code : "-", ev->param ? ev->param : "-", ev->error_class,
               ev->retryable);
    break;
  case STREAM_EV_END:
    l->ends++;
    buf_printf(&l->log, "Z%s %d %s\n", ev->terminator, ev->truncated,
               ev->pending_terminal ? ev->pending_terminal : "-");
    break;
  }
  return 0;
}

/* Calls feed(ctx, piece) over body, whole (p == NULL) or cut as the header says. */
static void feed_pieces(const uint8_t *body, size_t len, const pieces *p,
                        int (*feed)(void *, const void *, size_t), void *ctx, buf_t *log)
{
  if (!p) {
    buf_printf(log, "r%d\n", feed(ctx, body, len));
    return;
  }
  size_t pos = 0, k = 0, zeros = 0;
  int last = 0;
  while (pos < len) {
    size_t n = p->nlens ? p->lens[k++ % p->nlens] : 1;
    /* empty chunks are fed too, but a header of only zeros must still make progress */
    zeros = n ? 0 : zeros + 1;
    if (n == 0 && zeros > p->nlens) {
      n = 1;
      zeros = 0;
    }
    if (n > len - pos) {
      n = len - pos;
    }
    int rc = feed(ctx, body + pos, n);
    /* An error repeats on every later feed; log only the first occurrence. */
    if (rc != last) {
      buf_printf(log, "r%d\n", rc);
      last = rc;
    }
    pos += n;
  }
  if (last == 0) {
    buf_printf(log, "r0\n");
  }
}

static int sse_feed(void *ctx, const void *b, size_t n)
{
  return sse_decoder_feed(ctx, b, n);
}

static int parser_feed(void *ctx, const void *b, size_t n)
{
  return stream_parser_feed(ctx, b, n);
}

static void run_sse(const uint8_t *body, size_t len, size_t cap, const pieces *p, buf_t *log)
{
  sse_decoder *d = sse_decoder_new(sse_log, log, cap);
  feed_pieces(body, len, p, sse_feed, d, log);
  sse_discarded x;
  int rc = sse_decoder_finish(d, &x);
  buf_printf(log, "f%d\n", rc);
  if (rc == 1) {
    log_bytes(log, "pe", x.partial_event ? x.partial_event : "",
              x.partial_event ? strlen(x.partial_event) : 0);
    log_bytes(log, "pd", x.partial_data, x.partial_data_len);
    log_bytes(log, "pl", x.unterminated_line ? x.unterminated_line : "", x.unterminated_len);
    buf_printf(log, "w%d\n", x.would_dispatch);
  }
  const char *err = sse_decoder_error(d);
  buf_printf(log, "e%s\n", err ? err : "-");
  sse_decoder_free(d);
}

static void run_stream(stream_api api, const uint8_t *body, size_t len, size_t cap, const pieces *p,
                       stream_log *l)
{
  stream_parser *sp = stream_parser_new(api, stream_cb, l, cap);
  /* A framing error makes an ERROR event inside the feed; its log goes to the same buffer. */
  feed_pieces(body, len, p, parser_feed, sp, &l->log);
  buf_printf(&l->log, "f%d\n", stream_parser_finish(sp));
  if (l->ends != 1) {
    abort();
  }
  stream_parser_free(sp);
}

static void same(const buf_t *a, const buf_t *b, const char *what)
{
  if (a->len != b->len || (a->len && memcmp(a->data, b->data, a->len) != 0)) {
    fprintf(stderr, "%s: whole and chunked runs differ\n--- whole\n%.*s\n--- chunked\n%.*s\n", what,
            (int)a->len, a->data, (int)b->len, b->data);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 2) {
    return 0;
  }
  size_t cap = CAPS[data[0] & 3];
  stream_api api = APIS[(data[0] >> 2) & 3];
  pieces p = {data + 2, data[1] % 16};
  if (p.nlens > size - 2) {
    p.nlens = size - 2;
  }
  const uint8_t *body = data + 2 + p.nlens;
  size_t len = size - 2 - p.nlens;

  buf_t whole = BUF_INIT, cut = BUF_INIT;
  run_sse(body, len, cap, NULL, &whole);
  run_sse(body, len, cap, &p, &cut);
  same(&whole, &cut, "sse");
  buf_free(&whole);
  buf_free(&cut);

  stream_log a = {BUF_INIT, 0}, b = {BUF_INIT, 0};
  run_stream(api, body, len, cap, NULL, &a);
  run_stream(api, body, len, cap, &p, &b);
  same(&a.log, &b.log, "stream");
  buf_free(&a.log);
  buf_free(&b.log);
  return 0;
}
