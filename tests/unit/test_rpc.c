/* Tests for native/rpc: framing, dispatch, errors, re-entrancy, and the libuv transport. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpc/rpc.h"
#include "util/buf.h"

/* ---- building and showing msgpack ----------------------------------------------------------
 * Messages are written in a JSON-like notation ("[0, 7, \"echo\", [\"hi\"]]", nil, true,
 * {k: v}) and decoded output is shown in the same notation, so assertions read like the wire. */

static void parse_value(const char **s, msgpack_packer *pk);

static const char *skip_sep(const char *s)
{
  while (*s == ' ' || *s == ',' || *s == ':' || *s == '\n') {
    s++;
  }
  return s;
}

/* Packs the values up to `close` into a scratch buffer, then the header and the bytes. */
static void parse_container(const char **s, msgpack_packer *pk, char close)
{
  msgpack_sbuffer sb;
  msgpack_packer sub;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&sub, &sb, msgpack_sbuffer_write);
  uint32_t n = 0;
  (*s)++;
  for (*s = skip_sep(*s); **s != close; *s = skip_sep(*s)) {
    assert_true(**s != '\0');
    parse_value(s, &sub);
    n++;
  }
  (*s)++;
  if (close == ']') {
    msgpack_pack_array(pk, n);
  } else {
    assert_int_equal(n % 2, 0);
    msgpack_pack_map(pk, n / 2);
  }
  if (sb.size) {
    pk->callback(pk->data, sb.data, sb.size);
  }
  msgpack_sbuffer_destroy(&sb);
}

static void parse_value(const char **s, msgpack_packer *pk)
{
  *s = skip_sep(*s);
  const char *p = *s;
  if (*p == '[' || *p == '{') {
    parse_container(s, pk, *p == '[' ? ']' : '}');
  } else if (*p == '"') {
    const char *end = strchr(p + 1, '"');
    assert_non_null(end);
    rpc_pack_str(pk, p + 1, (size_t)(end - p - 1));
    *s = end + 1;
  } else if (strncmp(p, "nil", 3) == 0) {
    msgpack_pack_nil(pk);
    *s = p + 3;
  } else if (strncmp(p, "true", 4) == 0) {
    msgpack_pack_true(pk);
    *s = p + 4;
  } else if (strncmp(p, "false", 5) == 0) {
    msgpack_pack_false(pk);
    *s = p + 5;
  } else {
    char *end;
    if (*p == '-') {
      msgpack_pack_int64(pk, strtoll(p, &end, 10));
    } else {
      msgpack_pack_uint64(pk, strtoull(p, &end, 10));
    }
    assert_true(end != p);
    *s = end;
  }
}

/* Appends the msgpack encoding of `text` to `b`. */
static void mp(buf_t *b, const char *text)
{
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  const char *s = text;
  parse_value(&s, &pk);
  assert_string_equal(skip_sep(s), "");
  buf_append(b, sb.data, sb.size);
  msgpack_sbuffer_destroy(&sb);
}

static void show(buf_t *b, const msgpack_object *o)
{
  switch (o->type) {
  case MSGPACK_OBJECT_NIL:
    buf_puts(b, "nil");
    break;
  case MSGPACK_OBJECT_BOOLEAN:
    buf_puts(b, o->via.boolean ? "true" : "false");
    break;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    buf_printf(b, "%llu", (unsigned long long)o->via.u64);
    break;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    buf_printf(b, "%lld", (long long)o->via.i64);
    break;
  case MSGPACK_OBJECT_STR:
    buf_printf(b, "\"%.*s\"", (int)o->via.str.size, o->via.str.ptr);
    break;
  case MSGPACK_OBJECT_ARRAY:
    buf_putc(b, '[');
    for (uint32_t i = 0; i < o->via.array.size; i++) {
      buf_puts(b, i ? "," : "");
      show(b, &o->via.array.ptr[i]);
    }
    buf_putc(b, ']');
    break;
  case MSGPACK_OBJECT_MAP:
    buf_putc(b, '{');
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      buf_puts(b, i ? "," : "");
      show(b, &o->via.map.ptr[i].key);
      buf_putc(b, ':');
      show(b, &o->via.map.ptr[i].val);
    }
    buf_putc(b, '}');
    break;
  default:
    buf_printf(b, "<type %d>", (int)o->type);
    break;
  }
}

/* Every message in `bytes`, one per line; the bytes must be whole messages. */
static char *show_stream(const char *bytes, size_t len)
{
  buf_t b = BUF_INIT;
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  while (off < len) {
    msgpack_unpack_return r = msgpack_unpack_next(&u, bytes, len, &off);
    assert_int_equal(r, MSGPACK_UNPACK_SUCCESS);
    show(&b, &u.data);
    buf_putc(&b, '\n');
  }
  msgpack_unpacked_destroy(&u);
  return buf_detach(&b);
}

/* ---- harness ----------------------------------------------------------------------------- */

typedef struct {
  rpc_channel *ch;
  buf_t out; /* everything the channel wrote */
  buf_t log; /* handler calls, responses and reports, one per line */
  int fatal_reports;
  uint64_t saved_msgid;
} harness;

static void h_write(void *data, const char *bytes, size_t len)
{
  harness *h = data;
  buf_append(&h->out, bytes, len);
}

static void h_error(void *data, const char *message, int fatal)
{
  harness *h = data;
  buf_printf(&h->log, "error%s: %s\n", fatal ? " (fatal)" : "", message);
  h->fatal_reports += fatal;
}

static void pack_first_param(msgpack_packer *pk, void *data)
{
  const msgpack_object *params = data;
  if (params->via.array.size > 0) {
    msgpack_pack_object(pk, params->via.array.ptr[0]);
  } else {
    msgpack_pack_nil(pk);
  }
}

static void m_echo(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  harness *h = data;
  buf_printf(&h->log, "echo %llu ", (unsigned long long)msgid);
  show(&h->log, params);
  buf_putc(&h->log, '\n');
  rpc_respond(ch, msgid, pack_first_param, (void *)params);
}

static void m_note(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  harness *h = data;
  buf_puts(&h->log, msgid == RPC_NOTIFY ? "note " : "note(request!) ");
  show(&h->log, params);
  buf_putc(&h->log, '\n');
}

static void on_response(rpc_channel *ch, const msgpack_object *error, const msgpack_object *result,
                        void *data)
{
  harness *h = data;
  buf_puts(&h->log, "response error=");
  if (error) {
    show(&h->log, error);
  } else {
    buf_puts(&h->log, "NULL");
  }
  buf_puts(&h->log, " result=");
  if (result) {
    show(&h->log, result);
  } else {
    buf_puts(&h->log, "NULL");
  }
  buf_putc(&h->log, '\n');
}

static void harness_init(harness *h, size_t max_message)
{
  memset(h, 0, sizeof(*h));
  h->ch = rpc_channel_new(max_message, h_write, h_error, h);
  rpc_channel_add_method(h->ch, "echo", m_echo, h);
  rpc_channel_add_method(h->ch, "note", m_note, h);
}

static void harness_free(harness *h)
{
  rpc_channel_free(h->ch);
  buf_free(&h->out);
  buf_free(&h->log);
}

static void assert_output(harness *h, const char *expected)
{
  char *got = show_stream(h->out.data, h->out.len);
  assert_string_equal(got, expected);
  free(got);
}

static const char *log_text(harness *h)
{
  return h->log.data ? h->log.data : "";
}

/* ---- framing ----------------------------------------------------------------------------- */

/* A request, a notification, a response to our request 1, and a request with nested params. */
static void framing_stream(buf_t *in)
{
  mp(in, "[0, 7, \"echo\", [\"hi\"]]");
  mp(in, "[2, \"note\", [1, -2]]");
  mp(in, "[1, 1, nil, \"ok\"]");
  mp(in, "[0, 8, \"echo\", [{\"a\": [true, nil]}]]");
}

static const char framing_log[] = "echo 7 [\"hi\"]\n"
                                  "note [1,-2]\n"
                                  "response error=NULL result=\"ok\"\n"
                                  "echo 8 [{\"a\":[true,nil]}]\n";

static void framing_setup(harness *h)
{
  harness_init(h, 0);
  assert_int_equal(rpc_request(h->ch, "ask", NULL, NULL, on_response, h), 1);
  buf_clear(&h->out);
}

static void test_stream_split_at_any_two_points_decodes_identically(void **state)
{
  buf_t in = BUF_INIT;
  framing_stream(&in);
  harness ref;
  framing_setup(&ref);
  assert_int_equal(rpc_channel_feed(ref.ch, in.data, in.len), 0);
  assert_string_equal(log_text(&ref), framing_log);
  assert_output(&ref, "[1,7,nil,\"hi\"]\n[1,8,nil,{\"a\":[true,nil]}]\n");

  for (size_t i = 0; i <= in.len; i++) {
    for (size_t j = i; j <= in.len; j++) {
      harness h;
      framing_setup(&h);
      assert_int_equal(rpc_channel_feed(h.ch, in.data, i), 0);
      assert_int_equal(rpc_channel_feed(h.ch, in.data + i, j - i), 0);
      assert_int_equal(rpc_channel_feed(h.ch, in.data + j, in.len - j), 0);
      assert_string_equal(log_text(&h), framing_log);
      assert_int_equal(h.out.len, ref.out.len);
      assert_memory_equal(h.out.data, ref.out.data, ref.out.len);
      assert_int_equal(rpc_channel_pending(h.ch), 0);
      harness_free(&h);
    }
  }
  harness_free(&ref);
  buf_free(&in);
}

static void test_stream_fed_one_byte_at_a_time_decodes_identically(void **state)
{
  buf_t in = BUF_INIT;
  framing_stream(&in);
  harness h;
  framing_setup(&h);
  for (size_t i = 0; i < in.len; i++) {
    assert_int_equal(rpc_channel_feed(h.ch, in.data + i, 1), 0);
  }
  assert_string_equal(log_text(&h), framing_log);
  assert_output(&h, "[1,7,nil,\"hi\"]\n[1,8,nil,{\"a\":[true,nil]}]\n");
  harness_free(&h);
  buf_free(&in);
}

static void test_thousand_messages_in_one_feed_all_dispatched_in_order(void **state)
{
  buf_t in = BUF_INIT, expected_log = BUF_INIT, expected_out = BUF_INIT;
  char text[64];
  for (int i = 0; i < 1000; i++) {
    snprintf(text, sizeof(text), "[2, \"note\", [%d]]", i);
    mp(&in, text);
    snprintf(text, sizeof(text), "[0, %d, \"echo\", [%d]]", i + 1, -i);
    mp(&in, text);
    buf_printf(&expected_log, "note [%d]\necho %d [%d]\n", i, i + 1, -i);
    buf_printf(&expected_out, "[1,%d,nil,%d]\n", i + 1, -i);
  }
  harness h;
  harness_init(&h, 0);
  assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), 0);
  assert_string_equal(log_text(&h), expected_log.data);
  assert_output(&h, expected_out.data);
  harness_free(&h);
  buf_free(&in);
  buf_free(&expected_log);
  buf_free(&expected_out);
}

/* ---- requests and bad shapes -------------------------------------------------------------- */

static void test_unknown_method_gets_kind_0_error_response(void **state)
{
  harness h;
  harness_init(&h, 0);
  buf_t in = BUF_INIT;
  mp(&in, "[0, 9, \"nope\", [1]]");
  assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), 0);
  assert_output(&h, "[1,9,[0,\"unknown method: nope\"],nil]\n");
  assert_string_equal(log_text(&h), "");
  harness_free(&h);
  buf_free(&in);
}

static void test_bad_shapes_answered_or_reported_and_channel_keeps_working(void **state)
{
  static const struct {
    const char *in, *out, *log;
  } cases[] = {
      {"42", "", "error: rpc: message is not a non-empty array\n"},
      {"[]", "", "error: rpc: message is not a non-empty array\n"},
      {"{\"a\": 1}", "", "error: rpc: message is not a non-empty array\n"},
      {"[\"x\", 1]", "", "error: rpc: message type is not an integer\n"},
      {"[7, 1, 2, 3]", "", "error: rpc: unknown message type 7\n"},
      {"[0, 3, 42, []]", "[1,3,[1,\"rpc: request method is not a string\"],nil]\n", ""},
      {"[0, 3, \"echo\"]", "[1,3,[1,\"rpc: a request has 4 elements, got 3\"],nil]\n", ""},
      {"[0, 3, \"echo\", [], 5]", "[1,3,[1,\"rpc: a request has 4 elements, got 5\"],nil]\n", ""},
      {"[0, 3, \"echo\", {}]", "[1,3,[1,\"rpc: request params are not an array\"],nil]\n", ""},
      {"[0, 3, \"echo\", \"hi\"]", "[1,3,[1,\"rpc: request params are not an array\"],nil]\n", ""},
      {"[0, -1, \"echo\", []]", "", "error: rpc: request without a valid msgid\n"},
      {"[0, \"x\", \"echo\", []]", "", "error: rpc: request without a valid msgid\n"},
      {"[0]", "", "error: rpc: request without a valid msgid\n"},
      {"[2, 5, []]", "", "error: rpc: notification method is not a string\n"},
      {"[2, \"note\", 7]", "", "error: rpc: notification params are not an array\n"},
      {"[2, \"note\"]", "", "error: rpc: a notification has 3 elements, got 2\n"},
      {"[2, \"nope\", []]", "", "error: rpc: notification for unknown method: nope\n"},
      {"[1, \"x\", nil, nil]", "", "error: rpc: response without a valid msgid\n"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    harness h;
    harness_init(&h, 0);
    buf_t in = BUF_INIT;
    mp(&in, cases[i].in);
    assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), 0);
    assert_output(&h, cases[i].out);
    assert_string_equal(log_text(&h), cases[i].log);
    assert_int_equal(h.fatal_reports, 0);
    buf_clear(&in);
    mp(&in, "[2, \"note\", [\"still here\"]]");
    buf_clear(&h.log);
    assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), 0);
    assert_string_equal(log_text(&h), "note [\"still here\"]\n");
    harness_free(&h);
    buf_free(&in);
  }
}

static void test_unknown_method_name_quoted_at_most_200_bytes(void **state)
{
  harness h;
  harness_init(&h, 0);
  buf_t in = BUF_INIT, name = BUF_INIT;
  for (int i = 0; i < 300; i++) {
    buf_putc(&name, 'm');
  }
  buf_t text = BUF_INIT;
  buf_printf(&text, "[0, 4, \"%s\", []]", name.data);
  mp(&in, text.data);
  assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), 0);
  buf_t expected = BUF_INIT;
  buf_printf(&expected, "[1,4,[0,\"unknown method: %.200s\"],nil]\n", name.data);
  assert_output(&h, expected.data);
  harness_free(&h);
  buf_free(&in);
  buf_free(&name);
  buf_free(&text);
  buf_free(&expected);
}

/* ---- fatal framing errors ------------------------------------------------------------------ */

/* [2, "note", [str of `len` bytes]]: 10 + len bytes for 32 <= len < 256. */
static void pack_note_with_string(buf_t *b, size_t len)
{
  buf_t text = BUF_INIT;
  buf_puts(&text, "[2, \"note\", [\"");
  for (size_t i = 0; i < len; i++) {
    buf_putc(&text, 'x');
  }
  buf_puts(&text, "\"]]");
  mp(b, text.data);
  buf_free(&text);
}

static void test_message_of_exactly_max_bytes_is_accepted(void **state)
{
  harness h;
  harness_init(&h, 64);
  buf_t in = BUF_INIT;
  pack_note_with_string(&in, 54);
  assert_int_equal(in.len, 64);
  assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), 0);
  assert_int_equal(h.fatal_reports, 0);
  assert_true(strncmp(log_text(&h), "note [\"xxx", 10) == 0);
  harness_free(&h);
  buf_free(&in);
}

static void test_oversized_message_fed_in_pieces_is_fatal_and_later_feeds_fail(void **state)
{
  harness h;
  harness_init(&h, 64);
  buf_t in = BUF_INIT;
  pack_note_with_string(&in, 55);
  assert_int_equal(in.len, 65);
  int rc = 0;
  size_t off = 0;
  /* The string header already proves the message is too big: no need to wait for it. */
  for (; off < in.len && rc == 0; off += 5) {
    rc = rpc_channel_feed(h.ch, in.data + off, in.len - off < 5 ? in.len - off : 5);
  }
  assert_int_equal(rc, -1);
  assert_true(off < in.len);
  assert_string_equal(log_text(&h), "error (fatal): rpc: message larger than 64 bytes\n");
  buf_clear(&in);
  mp(&in, "[2, \"note\", [1]]");
  assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), -1);
  assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), -1);
  assert_string_equal(log_text(&h), "error (fatal): rpc: message larger than 64 bytes\n");
  assert_int_equal(h.fatal_reports, 1);
  harness_free(&h);
  buf_free(&in);
}

static void test_oversized_message_of_many_small_elements_is_fatal(void **state)
{
  harness h;
  harness_init(&h, 64);
  /* fixarray of 15 elements, each a nested fixarray of 15 nils, fed byte by byte: the size is
   * only known as the elements arrive. */
  buf_t in = BUF_INIT;
  buf_putc(&in, (char)0x9f);
  for (int i = 0; i < 15; i++) {
    buf_putc(&in, (char)0x9f);
    for (int j = 0; j < 15; j++) {
      buf_putc(&in, (char)0xc0);
    }
  }
  int rc = 0;
  size_t i = 0;
  for (; i < in.len && rc == 0; i++) {
    rc = rpc_channel_feed(h.ch, in.data + i, 1);
  }
  assert_int_equal(rc, -1);
  assert_true(i <= 65);
  assert_string_equal(log_text(&h), "error (fatal): rpc: message larger than 64 bytes\n");
  harness_free(&h);
  buf_free(&in);
}

static void test_huge_claimed_sizes_fail_from_the_header_alone(void **state)
{
  static const struct {
    const char *bytes;
    size_t len;
  } claims[] = {
      {"\xdd\xff\xff\xff\xff", 5},                      /* array32 of 4G elements */
      {"\xdf\x00\x08\x00\x00", 5},                      /* map32 of 512k pairs = 1M elements */
      {"\x93\x02\xa4note\x91\xdb\x00\x10\x00\x01", 13}, /* str32 of 1 MiB + 1 */
      {"\x91\x91\x91\xdd\x00\x10\x00\x00", 8},          /* nested array32 of 1M elements */
  };
  for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
    harness h;
    harness_init(&h, 1024 * 1024);
    assert_int_equal(rpc_channel_feed(h.ch, claims[i].bytes, claims[i].len), -1);
    assert_string_equal(log_text(&h), "error (fatal): rpc: message larger than 1048576 bytes\n");
    harness_free(&h);
  }
}

static void test_max_message_limits_each_message_not_the_stream(void **state)
{
  harness h;
  harness_init(&h, 64);
  buf_t in = BUF_INIT;
  for (int i = 0; i < 100; i++) {
    pack_note_with_string(&in, 40);
  }
  assert_int_equal(in.len, 5000);
  assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), 0);
  assert_int_equal(h.fatal_reports, 0);
  int notes = 0;
  for (const char *p = log_text(&h); (p = strstr(p, "note [")) != NULL; p++) {
    notes++;
  }
  assert_int_equal(notes, 100);
  harness_free(&h);
  buf_free(&in);
}

static void test_invalid_byte_is_fatal_with_its_offset(void **state)
{
  harness h;
  harness_init(&h, 0);
  buf_t in = BUF_INIT;
  mp(&in, "[2, \"note\", [1]]");
  buf_append(&in, "\x93\x02\xa4note\x91\xc1", 9);
  mp(&in, "[2, \"note\", [2]]");
  assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), -1);
  assert_string_equal(log_text(&h), "note [1]\n"
                                    "error (fatal): rpc: input is not msgpack (byte 0xc1 at "
                                    "offset 8 of a message)\n");
  assert_int_equal(rpc_channel_feed(h.ch, in.data, 9), -1);
  assert_int_equal(h.fatal_reports, 1);
  harness_free(&h);
  buf_free(&in);
}

static void test_nesting_32_deep_is_decoded_and_33_is_fatal(void **state)
{
  harness h;
  harness_init(&h, 0);
  char deep[40];
  memset(deep, 0x91, sizeof(deep));
  deep[32] = (char)0xc0;
  assert_int_equal(rpc_channel_feed(h.ch, deep, 33), 0);
  assert_string_equal(log_text(&h), "error: rpc: message type is not an integer\n");
  deep[32] = (char)0x91;
  deep[33] = (char)0xc0;
  assert_int_equal(rpc_channel_feed(h.ch, deep, 34), -1);
  assert_string_equal(log_text(&h), "error: rpc: message type is not an integer\n"
                                    "error (fatal): rpc: message nested deeper than 32 levels\n");
  harness_free(&h);
  /* an empty container inside 32 open ones counts too: msgpack-c refuses it */
  harness_init(&h, 0);
  deep[32] = (char)0x90;
  assert_int_equal(rpc_channel_feed(h.ch, deep, 33), -1);
  assert_string_equal(log_text(&h),
                      "error (fatal): rpc: message nested deeper than 32 levels\n");
  harness_free(&h);
}

/* ---- responses ------------------------------------------------------------------------------ */

static void pack_five(msgpack_packer *pk, void *data)
{
  msgpack_pack_array(pk, 1);
  msgpack_pack_int(pk, 5);
}

static void on_response_text(rpc_channel *ch, const msgpack_object *error,
                             const msgpack_object *result, void *data)
{
  harness *h = data;
  size_t len;
  const char *text = rpc_error_text(error, &len);
  buf_printf(&h->log, "error text: %.*s (result %s)\n", (int)len, text ? text : "",
             result ? "set" : "NULL");
}

static void test_responses_matched_by_msgid_in_any_order(void **state)
{
  harness h;
  harness_init(&h, 0);
  assert_int_equal(rpc_request(h.ch, "a", NULL, NULL, on_response_text, &h), 1);
  assert_int_equal(rpc_request(h.ch, "b", pack_five, NULL, on_response, &h), 2);
  assert_int_equal(rpc_request(h.ch, "c", NULL, NULL, on_response, &h), 3);
  assert_output(&h, "[0,1,\"a\",[]]\n[0,2,\"b\",[5]]\n[0,3,\"c\",[]]\n");
  assert_int_equal(rpc_channel_pending(h.ch), 3);

  buf_t in = BUF_INIT;
  mp(&in, "[1, 2, nil, \"two\"]");
  mp(&in, "[1, 1, [0, \"boom\"], nil]");
  mp(&in, "[1, 99, nil, nil]");
  mp(&in, "[1, 2, nil, \"again\"]");
  mp(&in, "[1, 3, nil]");
  assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), 0);
  assert_string_equal(log_text(&h), "response error=NULL result=\"two\"\n"
                                    "error text: boom (result NULL)\n"
                                    "error: rpc: response to unknown msgid 99\n"
                                    "error: rpc: response to unknown msgid 2\n"
                                    "error: rpc: a response has 4 elements, got 3\n"
                                    "response error=\"malformed response\" result=NULL\n");
  assert_int_equal(rpc_channel_pending(h.ch), 0);
  assert_int_equal(h.fatal_reports, 0);
  harness_free(&h);
  buf_free(&in);
}

static void test_pending_requests_fail_with_channel_closed_on_free(void **state)
{
  harness h;
  harness_init(&h, 0);
  rpc_request(h.ch, "a", NULL, NULL, on_response, &h);
  rpc_request(h.ch, "b", NULL, NULL, on_response_text, &h);
  rpc_channel_free(h.ch);
  h.ch = NULL;
  assert_string_equal(log_text(&h), "response error=\"channel closed\" result=NULL\n"
                                    "error text: channel closed (result NULL)\n");
  harness_free(&h);
}

/* ---- re-entrancy --------------------------------------------------------------------------- */

static void pack_done(msgpack_packer *pk, void *data)
{
  rpc_pack_cstr(pk, "done");
}

static void m_busy(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  harness *h = data;
  rpc_notify(ch, "progress", NULL, NULL);
  rpc_respond(ch, msgid, pack_done, NULL);
  rpc_request(ch, "inner", pack_five, NULL, on_response, h);
}

static void test_handler_may_notify_respond_and_request_from_inside(void **state)
{
  harness h;
  harness_init(&h, 0);
  rpc_channel_add_method(h.ch, "busy", m_busy, &h);
  buf_t in = BUF_INIT;
  mp(&in, "[0, 11, \"busy\", []]");
  mp(&in, "[0, 12, \"busy\", []]");
  mp(&in, "[1, 2, nil, 6]");
  assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), 0);
  assert_output(&h, "[2,\"progress\",[]]\n[1,11,nil,\"done\"]\n[0,1,\"inner\",[5]]\n"
                    "[2,\"progress\",[]]\n[1,12,nil,\"done\"]\n[0,2,\"inner\",[5]]\n");
  assert_string_equal(log_text(&h), "response error=NULL result=6\n");
  assert_int_equal(rpc_channel_pending(h.ch), 1);
  harness_free(&h);
  buf_free(&in);
}

static void m_later(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  harness *h = data;
  h->saved_msgid = msgid;
}

static void pack_answer(msgpack_packer *pk, void *data)
{
  msgpack_pack_int(pk, 42);
}

static void test_handler_may_respond_after_returning(void **state)
{
  harness h;
  harness_init(&h, 0);
  rpc_channel_add_method(h.ch, "later", m_later, &h);
  buf_t in = BUF_INIT;
  mp(&in, "[0, 5, \"later\", [{\"big\": \"object gone after the call\"}]]");
  assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), 0);
  assert_int_equal(h.out.len, 0);
  assert_int_equal(h.saved_msgid, 5);
  rpc_respond(h.ch, h.saved_msgid, pack_answer, NULL);
  rpc_respond_error(h.ch, 6, 1, "bad argument");
  assert_output(&h, "[1,5,nil,42]\n[1,6,[1,\"bad argument\"],nil]\n");
  harness_free(&h);
  buf_free(&in);
}

/* Two channels wired back to back with synchronous writes: every write is fed to the peer at
 * once, so feeds nest inside feeds. */
typedef struct {
  rpc_channel *a, *b;
  int rounds;
  buf_t log;
} loopback;

static void write_to_b(void *data, const char *bytes, size_t len)
{
  loopback *l = data;
  assert_int_equal(rpc_channel_feed(l->b, bytes, len), 0);
}

static void write_to_a(void *data, const char *bytes, size_t len)
{
  loopback *l = data;
  assert_int_equal(rpc_channel_feed(l->a, bytes, len), 0);
}

static void pack_int_param(msgpack_packer *pk, void *data)
{
  msgpack_pack_array(pk, 1);
  msgpack_pack_int(pk, *(int *)data);
}

static void pack_first_int(msgpack_packer *pk, void *data)
{
  msgpack_pack_object(pk, ((const msgpack_object *)data)->via.array.ptr[0]);
}

static void pack_object(msgpack_packer *pk, void *data)
{
  msgpack_pack_object(pk, *(const msgpack_object *)data);
}

static void b_count(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  /* B tells A something before answering; from the second round on, A is inside its own feed
   * (the response callback that sent this request), so the bytes take A's backlog path. */
  rpc_notify(ch, "seen", pack_object, (void *)params);
  rpc_respond(ch, msgid, pack_first_int, (void *)params);
}

static void a_seen(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  loopback *l = data;
  buf_printf(&l->log, "seen %lld\n", (long long)params->via.array.ptr[0].via.i64);
}

static void a_counted(rpc_channel *ch, const msgpack_object *error, const msgpack_object *result,
                      void *data)
{
  loopback *l = data;
  assert_null(error);
  int n = (int)result->via.i64;
  buf_printf(&l->log, "counted %d\n", n);
  l->rounds++;
  if (n < 20) {
    int next = n + 1;
    rpc_request(ch, "count", pack_int_param, &next, a_counted, l);
  }
}

static void test_synchronous_loopback_keeps_message_order(void **state)
{
  loopback l = {0};
  l.a = rpc_channel_new(0, write_to_b, NULL, &l);
  l.b = rpc_channel_new(0, write_to_a, NULL, &l);
  rpc_channel_add_method(l.b, "count", b_count, &l);
  rpc_channel_add_method(l.a, "seen", a_seen, &l);
  int first = 1;
  rpc_request(l.a, "count", pack_int_param, &first, a_counted, &l);
  buf_t expected = BUF_INIT;
  for (int i = 1; i <= 20; i++) {
    buf_printf(&expected, "seen %d\ncounted %d\n", i, i);
  }
  assert_string_equal(l.log.data, expected.data);
  assert_int_equal(l.rounds, 20);
  assert_int_equal(rpc_channel_pending(l.a), 0);
  rpc_channel_free(l.a);
  rpc_channel_free(l.b);
  buf_free(&l.log);
  buf_free(&expected);
}

static void m_quit(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  harness *h = data;
  buf_puts(&h->log, "quit\n");
  rpc_channel_free(ch);
  rpc_channel_free(ch); /* a second call while the first is pending does nothing */
}

static void test_handler_may_free_its_channel(void **state)
{
  harness h;
  harness_init(&h, 0);
  rpc_channel_add_method(h.ch, "quit", m_quit, &h);
  rpc_request(h.ch, "a", NULL, NULL, on_response, &h);
  buf_t in = BUF_INIT;
  mp(&in, "[2, \"quit\", []]");
  mp(&in, "[2, \"note\", [1]]");
  assert_int_equal(rpc_channel_feed(h.ch, in.data, in.len), -1);
  h.ch = NULL;
  assert_string_equal(log_text(&h), "quit\nresponse error=\"channel closed\" result=NULL\n");
  harness_free(&h);
  buf_free(&in);
}

/* ---- reading params ---------------------------------------------------------------------- */

static void test_map_getters_validate_types(void **state)
{
  buf_t in = BUF_INIT;
  mp(&in, "{\"path\": \"a.c\", \"line\": 12, \"neg\": -3, \"force\": true, \"none\": nil, "
          "\"huge\": 18446744073709551615, 7: \"int key\"}");
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  assert_int_equal(msgpack_unpack_next(&u, in.data, in.len, NULL), MSGPACK_UNPACK_SUCCESS);
  const msgpack_object *m = &u.data;

  const char *s = NULL;
  size_t len = 0;
  int64_t n = 0;
  int b = -1;
  assert_int_equal(rpc_map_str(m, "path", &s, &len), RPC_GET_OK);
  assert_int_equal(len, 3);
  assert_memory_equal(s, "a.c", 3);
  assert_int_equal(rpc_map_int(m, "line", &n), RPC_GET_OK);
  assert_int_equal(n, 12);
  assert_int_equal(rpc_map_int(m, "neg", &n), RPC_GET_OK);
  assert_int_equal(n, -3);
  assert_int_equal(rpc_map_bool(m, "force", &b), RPC_GET_OK);
  assert_int_equal(b, 1);

  assert_int_equal(rpc_map_str(m, "line", &s, &len), RPC_GET_WRONG_TYPE);
  assert_int_equal(rpc_map_int(m, "path", &n), RPC_GET_WRONG_TYPE);
  assert_int_equal(rpc_map_int(m, "huge", &n), RPC_GET_WRONG_TYPE);
  assert_int_equal(rpc_map_bool(m, "line", &b), RPC_GET_WRONG_TYPE);
  assert_int_equal(rpc_map_int(m, "none", &n), RPC_GET_MISSING);
  assert_int_equal(rpc_map_str(m, "absent", &s, &len), RPC_GET_MISSING);
  assert_int_equal(n, -3); /* untouched by the failures */
  assert_int_equal(b, 1);

  assert_non_null(rpc_map_get(m, "none"));
  assert_int_equal(rpc_map_get(m, "none")->type, MSGPACK_OBJECT_NIL);
  assert_null(rpc_map_get(m, "absent"));
  assert_null(rpc_map_get(rpc_map_get(m, "path"), "x"));
  assert_int_equal(rpc_map_int(rpc_map_get(m, "path"), "x", &n), RPC_GET_WRONG_TYPE);
  assert_int_equal(rpc_obj_int(NULL, &n), RPC_GET_MISSING);
  assert_int_equal(rpc_obj_str(rpc_map_get(m, "path"), &s, &len), RPC_GET_OK);

  size_t tl = 99;
  assert_null(rpc_error_text(NULL, &tl));
  assert_int_equal(tl, 0);
  assert_null(rpc_error_text(rpc_map_get(m, "line"), &tl));
  msgpack_unpacked_destroy(&u);
  buf_free(&in);
}

/* ---- libuv transport ------------------------------------------------------------------------ */

#define BIG_LEN (3 * 1024 * 1024)

typedef struct {
  uv_loop_t *loop;
  uv_pipe_t pipe_in, pipe_out;
  rpc_uv *t;
  rpc_channel *ch;
  int eofs;
  int responses;
  buf_t log;
  char *big;
} endpoint;

static void ep_error(void *data, const char *message, int fatal)
{
  endpoint *e = rpc_uv_data(data); /* the channel's io_data is the transport */
  buf_printf(&e->log, "error%s: %s\n", fatal ? " (fatal)" : "", message);
}

static void ep_response(rpc_channel *ch, const msgpack_object *error, const msgpack_object *result,
                        void *data)
{
  endpoint *e = data;
  buf_puts(&e->log, "response ");
  show(&e->log, error ? error : result);
  buf_putc(&e->log, '\n');
}

static void ep_eof_close(void *data)
{
  endpoint *e = data;
  e->eofs++;
  rpc_uv_close(e->t);
}

static void ep_eof_free(void *data)
{
  endpoint *e = data;
  e->eofs++;
  rpc_uv_free(e->t); /* released once libuv is done with it */
  e->t = NULL;
}

static void pack_add(msgpack_packer *pk, void *data)
{
  const msgpack_object *params = data;
  msgpack_pack_int64(pk, params->via.array.ptr[0].via.i64 + params->via.array.ptr[1].via.i64);
}

static void m_add(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  rpc_respond(ch, msgid, pack_add, (void *)params);
}

static void pack_pair(msgpack_packer *pk, void *data)
{
  msgpack_pack_array(pk, 2);
  msgpack_pack_int(pk, 2);
  msgpack_pack_int(pk, 3);
}

static void pack_big(msgpack_packer *pk, void *data)
{
  msgpack_pack_array(pk, 1);
  rpc_pack_str(pk, data, BIG_LEN);
}

static void peer_got_big(rpc_channel *ch, const msgpack_object *error, const msgpack_object *result,
                         void *data)
{
  endpoint *e = data;
  assert_null(error);
  assert_int_equal(result->type, MSGPACK_OBJECT_STR);
  assert_int_equal(result->via.str.size, BIG_LEN);
  assert_memory_equal(result->via.str.ptr, e->big, BIG_LEN);
  e->responses++;
  rpc_uv_close(e->t); /* the host sees EOF */
}

static void peer_got_sum(rpc_channel *ch, const msgpack_object *error, const msgpack_object *result,
                         void *data)
{
  endpoint *e = data;
  assert_null(error);
  assert_int_equal(result->via.i64, 5);
  e->responses++;
  rpc_request(ch, "echo", pack_big, e->big, peer_got_big, e);
}

static void m_echo_uv(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  rpc_respond(ch, msgid, pack_first_param, (void *)params);
}

static void endpoint_start(endpoint *e, uv_loop_t *loop, int fd_in, int fd_out, rpc_eof_fn on_eof)
{
  e->loop = loop;
  assert_int_equal(uv_pipe_init(loop, &e->pipe_in, 0), 0);
  assert_int_equal(uv_pipe_open(&e->pipe_in, fd_in), 0);
  uv_stream_t *out = (uv_stream_t *)&e->pipe_in;
  if (fd_out != fd_in) {
    assert_int_equal(uv_pipe_init(loop, &e->pipe_out, 0), 0);
    assert_int_equal(uv_pipe_open(&e->pipe_out, fd_out), 0);
    out = (uv_stream_t *)&e->pipe_out;
  }
  e->t = rpc_uv_new(loop, (uv_stream_t *)&e->pipe_in, out);
  e->ch = rpc_channel_new(0, rpc_uv_write, ep_error, e->t);
  assert_int_equal(rpc_uv_start(e->t, e->ch, on_eof, e), 0);
}

static void endpoint_finish(endpoint *e)
{
  rpc_uv_free(e->t);
  rpc_channel_free(e->ch);
  buf_free(&e->log);
}

static void test_uv_request_and_3mb_answer_over_a_socketpair_then_eof(void **state)
{
  /* in == out: one socket carries both directions. 3 MiB is far beyond the socket buffer, so
   * the answer goes out through queued uv_write requests. */
  int fds[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  endpoint host = {0}, peer = {0};
  endpoint_start(&host, &loop, fds[0], fds[0], ep_eof_close);
  endpoint_start(&peer, &loop, fds[1], fds[1], ep_eof_close);
  rpc_channel_add_method(host.ch, "add", m_add, &host);
  rpc_channel_add_method(host.ch, "echo", m_echo_uv, &host);
  peer.big = xmalloc(BIG_LEN);
  for (size_t i = 0; i < BIG_LEN; i++) {
    peer.big[i] = (char)('a' + i % 26);
  }
  rpc_request(peer.ch, "add", pack_pair, NULL, peer_got_sum, &peer);

  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(peer.responses, 2);
  assert_int_equal(host.eofs, 1);
  assert_int_equal(peer.eofs, 0); /* it closed first, so it never read an EOF */
  assert_string_equal(host.log.data ? host.log.data : "", "");
  free(peer.big);
  endpoint_finish(&host);
  endpoint_finish(&peer);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_uv_fatal_framing_error_ends_session_once_over_two_pipes(void **state)
{
  int to_host[2], to_peer[2];
  assert_int_equal(pipe(to_host), 0);
  assert_int_equal(pipe(to_peer), 0);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  endpoint host = {0}, peer = {0};
  endpoint_start(&host, &loop, to_host[0], to_peer[1], ep_eof_free);
  endpoint_start(&peer, &loop, to_peer[0], to_host[1], ep_eof_close);
  rpc_channel_add_method(host.ch, "add", m_add, &host);
  rpc_request(peer.ch, "add", pack_pair, NULL, ep_response, &peer);
  rpc_uv_write(peer.t, "\xc1\xc1\xc1", 3);

  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(host.eofs, 1);
  assert_null(host.t);
  assert_string_equal(host.log.data, "error (fatal): rpc: input is not msgpack (byte 0xc1 at "
                                     "offset 0 of a message)\n");
  /* The answer to the valid request went out before the host closed; then the peer saw EOF. */
  assert_int_equal(peer.eofs, 1);
  assert_string_equal(peer.log.data, "response 5\n");
  endpoint_finish(&host);
  endpoint_finish(&peer);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stream_split_at_any_two_points_decodes_identically),
      cmocka_unit_test(test_stream_fed_one_byte_at_a_time_decodes_identically),
      cmocka_unit_test(test_thousand_messages_in_one_feed_all_dispatched_in_order),
      cmocka_unit_test(test_unknown_method_gets_kind_0_error_response),
      cmocka_unit_test(test_bad_shapes_answered_or_reported_and_channel_keeps_working),
      cmocka_unit_test(test_unknown_method_name_quoted_at_most_200_bytes),
      cmocka_unit_test(test_message_of_exactly_max_bytes_is_accepted),
      cmocka_unit_test(test_oversized_message_fed_in_pieces_is_fatal_and_later_feeds_fail),
      cmocka_unit_test(test_oversized_message_of_many_small_elements_is_fatal),
      cmocka_unit_test(test_huge_claimed_sizes_fail_from_the_header_alone),
      cmocka_unit_test(test_max_message_limits_each_message_not_the_stream),
      cmocka_unit_test(test_invalid_byte_is_fatal_with_its_offset),
      cmocka_unit_test(test_nesting_32_deep_is_decoded_and_33_is_fatal),
      cmocka_unit_test(test_responses_matched_by_msgid_in_any_order),
      cmocka_unit_test(test_pending_requests_fail_with_channel_closed_on_free),
      cmocka_unit_test(test_handler_may_notify_respond_and_request_from_inside),
      cmocka_unit_test(test_handler_may_respond_after_returning),
      cmocka_unit_test(test_synchronous_loopback_keeps_message_order),
      cmocka_unit_test(test_handler_may_free_its_channel),
      cmocka_unit_test(test_map_getters_validate_types),
      cmocka_unit_test(test_uv_request_and_3mb_answer_over_a_socketpair_then_eof),
      cmocka_unit_test(test_uv_fatal_framing_error_ends_session_once_over_two_pipes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
