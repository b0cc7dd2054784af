/* The SSE decoder and the NDJSON splitter: every recorded stream in tests/wire reproduces its
 * oracle (tests/wire/expected/<name>.events.jsonl) however the bytes are cut into reads, and
 * the edge cases of the event-stream format behave as the WHATWG algorithm says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/ndjson.h"
#include "http/sse.h"
#include "util/buf.h"

#ifndef FRUGAL_SOURCE_DIR
#define FRUGAL_SOURCE_DIR "."
#endif
#define WIRE FRUGAL_SOURCE_DIR "/tests/wire"

/* Files up to this size are split at every position; larger ones at pseudo-random ones. */
#define SPLIT_ALL_MAX 4096

static char *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    return NULL;
  }
  buf_t b = BUF_INIT;
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
    buf_append(&b, tmp, n);
  }
  fclose(f);
  *len = b.len;
  return buf_detach(&b);
}

/* ---- recording decoder output in the oracle's format ---- */

static json_t *str_or_null(const char *s, size_t n)
{
  return s ? json_stringn_nocheck(s, n) : json_null();
}

static int record_event(void *userdata, const sse_event *ev)
{
  json_t *o = json_object();
  json_object_set_new(o, "event",
                      ev->event_set ? json_stringn_nocheck(ev->event, ev->event_len) : json_null());
  json_object_set_new(o, "data", json_stringn_nocheck(ev->data, ev->data_len));
  json_object_set_new(o, "id", str_or_null(ev->id, ev->id_len));
  if (ev->empty_data) {
    json_object_set_new(o, "empty_data", json_true());
  }
  /* The contract: NUL-terminated name and data. */
  assert_int_equal(ev->event[ev->event_len], '\0');
  assert_int_equal(ev->data[ev->data_len], '\0');
  json_array_append_new(userdata, o);
  return 0;
}

static json_t *discard_record(const sse_discarded *d)
{
  json_t *o = json_object();
  json_object_set_new(o, "discarded_at_eof", json_true());
  json_object_set_new(o, "partial_data",
                      json_stringn_nocheck(d->partial_data, d->partial_data_len));
  json_object_set_new(o, "partial_event",
                      d->partial_event ? json_string(d->partial_event) : json_null());
  json_object_set_new(o, "unterminated_line",
                      str_or_null(d->unterminated_line, d->unterminated_len));
  return o;
}

/* Decodes s fed in pieces ending at cuts[0..ncuts) (increasing), then finishes. */
static json_t *decode_cut(const char *s, size_t len, const size_t *cuts, size_t ncuts)
{
  json_t *out = json_array();
  sse_decoder *d = sse_decoder_new(record_event, out, 0);
  size_t pos = 0;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t end = i < ncuts ? cuts[i] : len;
    assert_int_equal(sse_decoder_feed(d, s + pos, end - pos), SSE_OK);
    pos = end;
  }
  sse_discarded disc;
  int rc = sse_decoder_finish(d, &disc);
  assert_true(rc == 0 || rc == 1);
  if (rc == 1) {
    json_array_append_new(out, discard_record(&disc));
  }
  sse_decoder_free(d);
  return out;
}

static json_t *decode_bytewise(const char *s, size_t len)
{
  json_t *out = json_array();
  sse_decoder *d = sse_decoder_new(record_event, out, 0);
  for (size_t i = 0; i < len; i++) {
    assert_int_equal(sse_decoder_feed(d, s + i, 1), SSE_OK);
    assert_int_equal(sse_decoder_feed(d, s + i, 0), SSE_OK);
  }
  sse_discarded disc;
  if (sse_decoder_finish(d, &disc) == 1) {
    json_array_append_new(out, discard_record(&disc));
  }
  sse_decoder_free(d);
  return out;
}

static json_t *load_jsonl(const char *path)
{
  size_t len;
  char *text = read_file(path, &len);
  if (!text) {
    return NULL;
  }
  json_t *arr = json_array();
  char *line = text;
  while (*line) {
    char *nl = strchr(line, '\n');
    size_t n = nl ? (size_t)(nl - line) : strlen(line);
    if (n) {
      json_error_t e;
      json_t *o = json_loadb(line, n, 0, &e);
      if (!o) {
        fail_msg("%s: %s", path, e.text);
      }
      json_array_append_new(arr, o);
    }
    line += n + (nl ? 1 : 0);
  }
  free(text);
  return arr;
}

static void expect_same(const json_t *want, json_t *got, const char *name, const char *how)
{
  if (!json_equal(want, got)) {
    char *w = json_dumps(want, JSON_COMPACT), *g = json_dumps(got, JSON_COMPACT);
    print_error("%s (%s):\nwant %.2000s\ngot  %.2000s\n", name, how, w, g);
    free(w);
    free(g);
    fail();
  }
  json_decref(got);
}

/* xorshift64: the tests' own deterministic generator (no global state). */
static uint64_t next_rand(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static int cmp_size(const void *a, const void *b)
{
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

static void check_fixture(const char *name, const char *s, size_t len, const json_t *want)
{
  expect_same(want, decode_cut(s, len, NULL, 0), name, "whole");
  expect_same(want, decode_bytewise(s, len), name, "one byte at a time");
  if (len <= SPLIT_ALL_MAX) {
    for (size_t cut = 0; cut <= len; cut++) {
      expect_same(want, decode_cut(s, len, &cut, 1), name, "split in two");
    }
  } else {
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ len;
    for (int round = 0; round < 300; round++) {
      size_t cuts[8];
      size_t n = 1 + next_rand(&seed) % 8;
      for (size_t i = 0; i < n; i++) {
        cuts[i] = next_rand(&seed) % (len + 1);
      }
      qsort(cuts, n, sizeof(cuts[0]), cmp_size);
      expect_same(want, decode_cut(s, len, cuts, n), name, "random pieces");
    }
  }
}

static void every_recorded_stream_matches_its_oracle_in_any_chunking(void **state)
{
  DIR *dir = opendir(WIRE "/fixtures");
  assert_non_null(dir);
  struct dirent *de;
  int checked = 0;
  while ((de = readdir(dir))) {
    size_t n = strlen(de->d_name);
    if (n < 5 || strcmp(de->d_name + n - 4, ".sse") != 0) {
      continue;
    }
    char path[512];
    snprintf(path, sizeof(path), WIRE "/expected/%.*s.events.jsonl", (int)(n - 4), de->d_name);
    json_t *want = load_jsonl(path);
    if (!want) {
      fail_msg("no oracle for %s", de->d_name);
    }
    snprintf(path, sizeof(path), WIRE "/fixtures/%s", de->d_name);
    size_t len;
    char *s = read_file(path, &len);
    assert_non_null(s);
    check_fixture(de->d_name, s, len, want);
    free(s);
    json_decref(want);
    checked++;
  }
  closedir(dir);
  assert_int_equal(checked, 33); /* every .sse fixture has an oracle */
}

/* ---- framing rules, one by one ---- */

static void expect_events(const char *input, const char *want_json)
{
  json_error_t e;
  json_t *want = json_loads(want_json, 0, &e);
  if (!want) {
    fail_msg("bad expectation: %s", e.text);
  }
  size_t len = strlen(input);
  check_fixture(input, input, len, want);
  json_decref(want);
}

static void line_ends_cr_lf_and_crlf_are_all_line_ends(void **state)
{
  expect_events("data: a\rdata: b\ndata: c\r\n\r\n",
                "[{\"event\":null,\"data\":\"a\\nb\\nc\",\"id\":null}]");
  /* CR then LF in the next read is one line end, not an empty line in between. */
  expect_events("data: x\r\ndata: y\r\n\r\n", "[{\"event\":null,\"data\":\"x\\ny\",\"id\":null}]");
  /* CR CR is two line ends: the second line is blank and dispatches. */
  expect_events("data: x\r\rdata: y\n\n", "[{\"event\":null,\"data\":\"x\",\"id\":null},"
                                          "{\"event\":null,\"data\":\"y\",\"id\":null}]");
}

static void unicode_line_separators_stay_inside_the_data(void **state)
{
  expect_events("data: a\xe2\x80\xa8"
                "b\xe2\x80\xa9"
                "c\xc2\x85"
                "d\n\n",
                "[{\"event\":null,\"data\":\"a\\u2028b\\u2029c\\u0085d\",\"id\":null}]");
}

static void fields_follow_the_event_stream_rules(void **state)
{
  /* one optional space removed, not two; no colon = empty value; comments and unknown fields
   * ignored; "event:" empty means "message"; a line "data" alone adds an empty line. */
  expect_events(": comment\nfoo: bar\ndata:  two spaces\ndata\nevent:\n\n",
                "[{\"event\":null,\"data\":\" two spaces\\n\",\"id\":null}]");
  expect_events("event: update\ndata:x\n\n", "[{\"event\":\"update\",\"data\":\"x\",\"id\":null}]");
  /* unknown fields alone do not make an event (llama.cpp's legacy error: line) */
  expect_events("error: {\"code\":400}\n\nretry: 1x\n\n", "[]");
  /* field names are case-sensitive */
  expect_events("Data: x\n\n", "[]");
}

static void ids_persist_and_ids_with_nul_are_ignored(void **state)
{
  static const char s[] = "id: 7\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\nid\ndata: d\n\n";
  json_t *got = decode_cut(s, sizeof(s) - 1, NULL, 0);
  json_error_t e;
  json_t *want = json_loads("[{\"event\":null,\"data\":\"a\",\"id\":\"7\"},"
                            "{\"event\":null,\"data\":\"b\",\"id\":\"7\"},"
                            "{\"event\":null,\"data\":\"c\",\"id\":\"7\"},"
                            "{\"event\":null,\"data\":\"d\",\"id\":\"\"}]",
                            0, &e);
  expect_same(want, got, "ids", "whole");
  json_decref(want);
}

static void retry_takes_digits_only(void **state)
{
  sse_decoder *d = sse_decoder_new(NULL, NULL, 0);
  assert_int_equal(sse_decoder_retry(d), -1);
  const char *s = "retry: 1500\n\nretry: 20x\n\nretry:\n\nretry: -5\n\n";
  assert_int_equal(sse_decoder_feed(d, s, strlen(s)), SSE_OK);
  assert_int_equal(sse_decoder_retry(d), 1500);
  s = "retry: 99999999999999999999999\n\n";
  assert_int_equal(sse_decoder_feed(d, s, strlen(s)), SSE_OK);
  assert_true(sse_decoder_retry(d) == INT64_MAX);
  sse_decoder_free(d);
}

static void events_without_data_are_reported_with_empty_data(void **state)
{
  expect_events("event: ping\n\ndata:\n\n",
                "[{\"event\":\"ping\",\"data\":\"\",\"id\":null,\"empty_data\":true},"
                "{\"event\":null,\"data\":\"\",\"id\":null}]");
  /* blank lines with nothing pending dispatch nothing */
  expect_events("\n\n\r\n: keep-alive\n\n", "[]");
}

static void a_leading_bom_is_skipped_even_when_split(void **state)
{
  expect_events("\xef\xbb\xbf"
                "data: a\n\n",
                "[{\"event\":null,\"data\":\"a\",\"id\":null}]");
  /* only one BOM, only at the start */
  expect_events("\xef\xbb\xbf\xef\xbb\xbf"
                "data: a\n\n",
                "[]");
  /* bytes that start like a BOM but are not one are kept */
  expect_events("\xef"
                "data: a\n\ndata: b\n\n",
                "[{\"event\":null,\"data\":\"b\",\"id\":null}]");
  sse_decoder *d = sse_decoder_new(NULL, NULL, 0);
  assert_int_equal(sse_decoder_feed(d, "\xef", 1), SSE_OK);
  assert_int_equal(sse_decoder_feed(d, "\xbb", 1), SSE_OK);
  sse_discarded x;
  assert_int_equal(sse_decoder_finish(d, &x), 1);
  assert_int_equal(x.unterminated_len, 2);
  assert_memory_equal(x.unterminated_line, "\xef\xbb", 2);
  sse_decoder_free(d);
}

static void eof_reports_the_event_it_discards_and_what_it_would_have_been(void **state)
{
  sse_decoder *d = sse_decoder_new(NULL, NULL, 0);
  const char *s = "event: message_stop\ndata: {\"type\":\"message_stop\"}";
  assert_int_equal(sse_decoder_feed(d, s, strlen(s)), SSE_OK);
  sse_discarded x;
  assert_int_equal(sse_decoder_finish(d, &x), 1);
  assert_string_equal(x.partial_event, "message_stop");
  assert_int_equal(x.partial_data_len, 0);
  assert_int_equal(x.unterminated_len, strlen("data: {\"type\":\"message_stop\"}"));
  assert_true(x.would_dispatch);
  assert_string_equal(x.would_be.event, "message_stop");
  assert_string_equal(x.would_be.data, "{\"type\":\"message_stop\"}");
  assert_int_equal(sse_decoder_feed(d, "x", 1), SSE_EFINISHED);
  assert_int_equal(sse_decoder_finish(d, &x), SSE_EFINISHED);
  sse_decoder_free(d);

  d = sse_decoder_new(NULL, NULL, 0);
  s = "data: [DONE]\n";
  assert_int_equal(sse_decoder_feed(d, s, strlen(s)), SSE_OK);
  assert_int_equal(sse_decoder_finish(d, &x), 1);
  assert_null(x.unterminated_line);
  assert_true(x.would_dispatch);
  assert_string_equal(x.would_be.data, "[DONE]");
  sse_decoder_free(d);

  /* a comment left unterminated is reported but would not make an event */
  d = sse_decoder_new(NULL, NULL, 0);
  assert_int_equal(sse_decoder_feed(d, "data: a\n\n: ping", 15), SSE_OK);
  assert_int_equal(sse_decoder_finish(d, &x), 1);
  assert_false(x.would_dispatch);
  sse_decoder_free(d);

  /* a body ending with a lone CR ended its last line */
  d = sse_decoder_new(NULL, NULL, 0);
  assert_int_equal(sse_decoder_feed(d, "data: a\r\r", 9), SSE_OK);
  assert_int_equal(sse_decoder_finish(d, &x), 0);
  sse_decoder_free(d);
}

static int count_events(void *userdata, const sse_event *ev)
{
  (*(size_t *)userdata)++;
  return 0;
}

static void the_event_size_cap_fails_cleanly(void **state)
{
  size_t n = 0;
  sse_decoder *d = sse_decoder_new(count_events, &n, 64);
  char big[200];
  memset(big, 'x', sizeof(big));
  /* exactly at the cap passes: 63 data bytes + the terminator reserve */
  assert_int_equal(sse_decoder_feed(d, "data: ", 6), SSE_OK);
  assert_int_equal(sse_decoder_feed(d, big, 57), SSE_OK);
  assert_int_equal(sse_decoder_feed(d, "\n\n", 2), SSE_OK);
  assert_int_equal(n, 1);
  /* one long line, arriving in pieces without a line end */
  assert_int_equal(sse_decoder_feed(d, "data: ", 6), SSE_OK);
  assert_int_equal(sse_decoder_feed(d, big, 40), SSE_OK);
  assert_int_equal(sse_decoder_feed(d, big, 40), SSE_ETOOBIG);
  assert_string_equal(sse_decoder_error(d), "sse: event larger than 64 bytes");
  assert_int_equal(sse_decoder_feed(d, "\n\n", 2), SSE_ETOOBIG);
  assert_int_equal(sse_decoder_finish(d, NULL), SSE_ETOOBIG);
  sse_decoder_free(d);

  /* many short data lines adding up */
  n = 0;
  d = sse_decoder_new(count_events, &n, 64);
  int rc = SSE_OK;
  for (int i = 0; i < 40 && rc == SSE_OK; i++) {
    rc = sse_decoder_feed(d, "data: abc\n", 10);
  }
  assert_int_equal(rc, SSE_ETOOBIG);
  assert_int_equal(n, 0);
  sse_decoder_free(d);
}

static int stop_after_first(void *userdata, const sse_event *ev)
{
  (*(int *)userdata)++;
  return 1;
}

static void a_callback_can_stop_the_decoder(void **state)
{
  int calls = 0;
  sse_decoder *d = sse_decoder_new(stop_after_first, &calls, 0);
  const char *s = "data: 1\n\ndata: 2\n\n";
  assert_int_equal(sse_decoder_feed(d, s, strlen(s)), SSE_ESTOPPED);
  assert_int_equal(calls, 1);
  assert_int_equal(sse_decoder_feed(d, s, strlen(s)), SSE_ESTOPPED);
  assert_int_equal(calls, 1);
  sse_decoder_free(d);
}

typedef struct {
  size_t events, bytes;
} tally;

static int tally_event(void *userdata, const sse_event *ev)
{
  tally *t = userdata;
  t->events++;
  t->bytes += ev->data_len;
  return 0;
}

static void big_events_and_many_lines_are_decoded_in_linear_time(void **state)
{
  /* one 4 MiB data line in 64 KiB reads, then 10,000 data lines in one event */
  size_t big = (size_t)4 << 20;
  char *chunk = malloc(65536);
  memset(chunk, 'y', 65536);
  tally t = {0, 0};
  sse_decoder *d = sse_decoder_new(tally_event, &t, 0);
  assert_int_equal(sse_decoder_feed(d, "data: ", 6), SSE_OK);
  for (size_t i = 0; i < big / 65536; i++) {
    assert_int_equal(sse_decoder_feed(d, chunk, 65536), SSE_OK);
  }
  assert_int_equal(sse_decoder_feed(d, "\n\n", 2), SSE_OK);
  assert_int_equal(t.events, 1);
  assert_int_equal(t.bytes, big);
  buf_t b = BUF_INIT;
  for (int i = 0; i < 10000; i++) {
    buf_puts(&b, "data: z\n");
  }
  buf_puts(&b, "\n");
  assert_int_equal(sse_decoder_feed(d, b.data, b.len), SSE_OK);
  assert_int_equal(t.events, 2);
  assert_int_equal(t.bytes, big + 10000 * 2 - 1);
  /* a stream with CRs only (no LF anywhere) */
  buf_clear(&b);
  for (int i = 0; i < 20000; i++) {
    buf_puts(&b, "data: q\r\r");
  }
  assert_int_equal(sse_decoder_feed(d, b.data, b.len), SSE_OK);
  assert_int_equal(t.events, 20002);
  buf_free(&b);
  free(chunk);
  sse_decoder_free(d);
}

/* ---- NDJSON ---- */

static int record_line(void *userdata, const char *line, size_t len)
{
  json_array_append_new(userdata, json_stringn_nocheck(line, len));
  return 0;
}

static json_t *split_cut(const char *s, size_t len, size_t cut, size_t max)
{
  json_t *out = json_array();
  ndjson_splitter *sp = ndjson_splitter_new(record_line, out, max);
  assert_int_equal(ndjson_splitter_feed(sp, s, cut), NDJSON_OK);
  assert_int_equal(ndjson_splitter_feed(sp, s + cut, len - cut), NDJSON_OK);
  assert_int_equal(ndjson_splitter_finish(sp), NDJSON_OK);
  assert_int_equal(ndjson_splitter_feed(sp, "x", 1), NDJSON_EFINISHED);
  ndjson_splitter_free(sp);
  return out;
}

static void ndjson_lines_survive_any_split(void **state)
{
  const char *s = "{\"a\":1}\r\n\n  \r\n{\"b\":\"x\\ny\"}\n\t\n{\"c\":3}";
  json_t *want = json_pack("[sss]", "{\"a\":1}", "{\"b\":\"x\\ny\"}", "{\"c\":3}");
  size_t len = strlen(s);
  for (size_t cut = 0; cut <= len; cut++) {
    expect_same(want, split_cut(s, len, cut, 0), "ndjson", "split in two");
  }
  json_t *out = json_array();
  ndjson_splitter *sp = ndjson_splitter_new(record_line, out, 0);
  for (size_t i = 0; i < len; i++) {
    assert_int_equal(ndjson_splitter_feed(sp, s + i, 1), NDJSON_OK);
  }
  assert_int_equal(ndjson_splitter_finish(sp), NDJSON_OK);
  ndjson_splitter_free(sp);
  expect_same(want, out, "ndjson", "one byte at a time");
  json_decref(want);
}

static void ndjson_fixtures_split_into_their_lines(void **state)
{
  static const struct {
    const char *file;
    size_t lines;
  } files[] = {
      {"ollama-chat-stream-docs.ndjson", 2},
      {"ollama-generate-stream.ndjson", 7},
      {"ollama-stream-midstream-error.ndjson", 5},
  };
  for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
    char path[512];
    snprintf(path, sizeof(path), WIRE "/fixtures/%s", files[f].file);
    size_t len;
    char *s = read_file(path, &len);
    assert_non_null(s);
    json_t *whole = split_cut(s, len, len, 0);
    assert_int_equal(json_array_size(whole), files[f].lines);
    for (size_t i = 0; i < json_array_size(whole); i++) {
      json_t *line = json_array_get(whole, i);
      json_t *parsed = json_loads(json_string_value(line), 0, NULL);
      assert_true(json_is_object(parsed));
      json_decref(parsed);
    }
    for (size_t cut = 0; cut <= len; cut++) {
      expect_same(whole, split_cut(s, len, cut, 0), files[f].file, "split in two");
    }
    json_decref(whole);
    free(s);
  }
}

static int stop_line(void *userdata, const char *line, size_t len)
{
  (*(int *)userdata)++;
  return 1;
}

static void ndjson_cap_and_stop(void **state)
{
  json_t *out = json_array();
  ndjson_splitter *sp = ndjson_splitter_new(record_line, out, 8);
  assert_int_equal(ndjson_splitter_feed(sp, "12345678\n", 9), NDJSON_OK);
  assert_int_equal(ndjson_splitter_feed(sp, "12345", 5), NDJSON_OK);
  assert_int_equal(ndjson_splitter_feed(sp, "6789\n", 5), NDJSON_ETOOBIG);
  assert_string_equal(ndjson_splitter_error(sp), "ndjson: line longer than 8 bytes");
  assert_int_equal(ndjson_splitter_finish(sp), NDJSON_ETOOBIG);
  assert_int_equal(json_array_size(out), 1);
  ndjson_splitter_free(sp);
  json_decref(out);

  int calls = 0;
  sp = ndjson_splitter_new(stop_line, &calls, 0);
  assert_int_equal(ndjson_splitter_feed(sp, "a\nb\n", 4), NDJSON_ESTOPPED);
  assert_int_equal(calls, 1);
  ndjson_splitter_free(sp);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_recorded_stream_matches_its_oracle_in_any_chunking),
      cmocka_unit_test(line_ends_cr_lf_and_crlf_are_all_line_ends),
      cmocka_unit_test(unicode_line_separators_stay_inside_the_data),
      cmocka_unit_test(fields_follow_the_event_stream_rules),
      cmocka_unit_test(ids_persist_and_ids_with_nul_are_ignored),
      cmocka_unit_test(retry_takes_digits_only),
      cmocka_unit_test(events_without_data_are_reported_with_empty_data),
      cmocka_unit_test(a_leading_bom_is_skipped_even_when_split),
      cmocka_unit_test(eof_reports_the_event_it_discards_and_what_it_would_have_been),
      cmocka_unit_test(the_event_size_cap_fails_cleanly),
      cmocka_unit_test(a_callback_can_stop_the_decoder),
      cmocka_unit_test(big_events_and_many_lines_are_decoded_in_linear_time),
      cmocka_unit_test(ndjson_lines_survive_any_split),
      cmocka_unit_test(ndjson_fixtures_split_into_their_lines),
      cmocka_unit_test(ndjson_cap_and_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
