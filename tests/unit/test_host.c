/* The RPC host: methods answered over a real channel, including the editor round trip
 * (frugal_call -> nvim_buf_get_lines -> nvim_exec_lua _reply). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "config/config.h"
#include "host/host.h"
#include "rpc/rpc.h"
#include "util/buf.h"

typedef struct {
  buf_t out; /* bytes the host wrote */
  msgpack_unpacked msgs[16];
  size_t nmsgs;
} capture;

static void cap_write(void *data, const char *bytes, size_t len)
{
  buf_append(&((capture *)data)->out, bytes, len);
}

static void cap_error(void *data, const char *message, int fatal)
{
  fail_msg("unexpected rpc error: %s", message);
}

/* Decodes everything written so far into cap->msgs (consuming the bytes). */
static void cap_decode(capture *c)
{
  size_t off = 0;
  while (off < c->out.len) {
    assert_true(c->nmsgs < 16);
    msgpack_unpacked_init(&c->msgs[c->nmsgs]);
    assert_int_equal(msgpack_unpack_next(&c->msgs[c->nmsgs], c->out.data, c->out.len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    c->nmsgs++;
  }
  buf_clear(&c->out);
}

static void cap_free(capture *c)
{
  for (size_t i = 0; i < c->nmsgs; i++) {
    msgpack_unpacked_destroy(&c->msgs[i]);
  }
  buf_free(&c->out);
}

typedef struct {
  rpc_channel *ch;
  host *h;
  capture cap;
} fixture;

static int setup(void **state)
{
  fixture *f = test_calloc(1, sizeof(*f));
  f->ch = rpc_channel_new(1 << 20, cap_write, cap_error, &f->cap);
  frugal_config cfg;
  config_init(&cfg);
  f->h = host_new(&cfg, f->ch, NULL);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  host_free(f->h);
  rpc_channel_free(f->ch);
  cap_free(&f->cap);
  test_free(f);
  return 0;
}

/* Feeds one message built with msgpack_pack_* calls in `build`. */
static void feed(fixture *f, void (*build)(msgpack_packer *pk))
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  build(&pk);
  assert_int_equal(rpc_channel_feed(f->ch, sb.data, sb.size), 0);
  msgpack_sbuffer_destroy(&sb);
}

static const msgpack_object *map_get(const msgpack_object *m, const char *key)
{
  const msgpack_object *v = rpc_map_get(m, key);
  if (!v) {
    fail_msg("key '%s' missing", key);
  }
  return v;
}

static void str_equal(const msgpack_object *o, const char *want)
{
  assert_int_equal(o->type, MSGPACK_OBJECT_STR);
  assert_int_equal(o->via.str.size, strlen(want));
  assert_memory_equal(o->via.str.ptr, want, strlen(want));
}

static const char source[] = "#include <stdio.h>\n"
                             "\n"
                             "static int square(int x)\n"
                             "{\n"
                             "  return x * x;\n"
                             "}\n"
                             "\n"
                             "int sum_squares(int n)\n"
                             "{\n"
                             "  int s = 0;\n"
                             "  for (int i = 1; i <= n; i++) {\n"
                             "    s += square(i);\n"
                             "  }\n"
                             "  return s;\n"
                             "}\n";

static void pack_preview_params(msgpack_packer *pk, int with_text)
{
  msgpack_pack_map(pk, with_text ? 4 : 4);
  rpc_pack_cstr(pk, "path");
  rpc_pack_cstr(pk, "sum.c");
  rpc_pack_cstr(pk, "action");
  rpc_pack_cstr(pk, "tests");
  rpc_pack_cstr(pk, "line");
  msgpack_pack_int(pk, 11);
  if (with_text) {
    rpc_pack_cstr(pk, "text");
    rpc_pack_cstr(pk, source);
  } else {
    rpc_pack_cstr(pk, "bufnr");
    msgpack_pack_int(pk, 7);
  }
}

static void build_preview_request(msgpack_packer *pk)
{
  msgpack_pack_array(pk, 4);
  msgpack_pack_int(pk, 0);
  msgpack_pack_uint32(pk, 42);
  rpc_pack_cstr(pk, "preview");
  msgpack_pack_array(pk, 1);
  pack_preview_params(pk, 1);
}

static void check_preview_result(const msgpack_object *result)
{
  const msgpack_object *route = map_get(result, "route");
  str_equal(map_get(route, "tier"), "mini");
  str_equal(map_get(route, "model"), "gpt-5.4-mini");
  const msgpack_object *ctx = map_get(result, "context");
  const msgpack_object *scope = map_get(ctx, "scope");
  str_equal(map_get(scope, "kind"), "function");
  str_equal(map_get(scope, "name"), "sum_squares");
  assert_int_equal(map_get(scope, "start_line")->via.u64, 8);
  assert_int_equal(map_get(scope, "end_line")->via.u64, 15);
  const msgpack_object *items = map_get(ctx, "items");
  assert_int_equal(items->type, MSGPACK_OBJECT_ARRAY);
  /* the scope, the include, and the signature of square() that it calls */
  int saw_sig = 0, saw_imports = 0;
  for (uint32_t i = 0; i < items->via.array.size; i++) {
    const msgpack_object *kind = map_get(&items->via.array.ptr[i], "kind");
    saw_sig += kind->via.str.size == 9 && memcmp(kind->via.str.ptr, "signature", 9) == 0;
    saw_imports += kind->via.str.size == 7 && memcmp(kind->via.str.ptr, "imports", 7) == 0;
  }
  assert_int_equal(saw_sig, 1);
  assert_int_equal(saw_imports, 1);
}

static void preview_request_is_answered_with_route_and_context(void **state)
{
  fixture *f = *state;
  feed(f, build_preview_request);
  cap_decode(&f->cap);
  assert_int_equal(f->cap.nmsgs, 1);
  const msgpack_object *msg = &f->cap.msgs[0].data;
  assert_int_equal(msg->via.array.size, 4);
  assert_int_equal(msg->via.array.ptr[0].via.u64, 1);  /* response */
  assert_int_equal(msg->via.array.ptr[1].via.u64, 42); /* our msgid */
  assert_int_equal(msg->via.array.ptr[2].type, MSGPACK_OBJECT_NIL);
  check_preview_result(&msg->via.array.ptr[3]);
}

static void build_frugal_call_bufnr(msgpack_packer *pk)
{
  msgpack_pack_array(pk, 3);
  msgpack_pack_int(pk, 2);
  rpc_pack_cstr(pk, "frugal_call");
  msgpack_pack_array(pk, 3);
  msgpack_pack_int(pk, 5); /* call id */
  rpc_pack_cstr(pk, "preview");
  pack_preview_params(pk, 0);
}

static uint64_t lines_request_id;

static void build_lines_response(msgpack_packer *pk)
{
  msgpack_pack_array(pk, 4);
  msgpack_pack_int(pk, 1);
  msgpack_pack_uint64(pk, lines_request_id);
  msgpack_pack_nil(pk);
  /* the buffer's lines, as nvim_buf_get_lines returns them (no newlines) */
  const char *p = source;
  int n = 0;
  for (const char *q = p; *q; q++) {
    n += *q == '\n';
  }
  msgpack_pack_array(pk, (size_t)n);
  while (*p) {
    const char *nl = strchr(p, '\n');
    rpc_pack_str(pk, p, (size_t)(nl - p));
    p = nl + 1;
  }
}

static uint64_t size_request_id;
static int64_t size_lines, size_bytes;

/* The editor's answer to the host's size question: [line count, byte size]. */
static void build_size_response(msgpack_packer *pk)
{
  msgpack_pack_array(pk, 4);
  msgpack_pack_int(pk, 1);
  msgpack_pack_uint64(pk, size_request_id);
  msgpack_pack_nil(pk);
  msgpack_pack_array(pk, 2);
  msgpack_pack_int64(pk, size_lines);
  msgpack_pack_int64(pk, size_bytes);
}

/* Checks that msgs[i] asks the editor for buffer 7's size, and answers it. */
static void answer_size_question(fixture *f, size_t i, int64_t lines, int64_t bytes)
{
  const msgpack_object *q = &f->cap.msgs[i].data;
  assert_int_equal(q->via.array.ptr[0].via.u64, 0);
  str_equal(&q->via.array.ptr[2], "nvim_exec_lua");
  const msgpack_object *qa = &q->via.array.ptr[3];
  assert_non_null(memmem(qa->via.array.ptr[0].via.str.ptr, qa->via.array.ptr[0].via.str.size,
                         "nvim_buf_get_offset", 19));
  assert_int_equal(qa->via.array.ptr[1].via.array.ptr[0].via.i64, 7);
  size_request_id = q->via.array.ptr[1].via.u64;
  size_lines = lines;
  size_bytes = bytes;
  feed(f, build_size_response);
}

static void frugal_call_reads_the_buffer_then_replies_through_exec_lua(void **state)
{
  fixture *f = *state;
  feed(f, build_frugal_call_bufnr);
  cap_decode(&f->cap);
  assert_int_equal(f->cap.nmsgs, 1);
  answer_size_question(f, 0, 12, (int64_t)strlen(source));
  cap_decode(&f->cap);
  assert_int_equal(f->cap.nmsgs, 2);
  const msgpack_object *req = &f->cap.msgs[1].data;
  assert_int_equal(req->via.array.ptr[0].via.u64, 0); /* a request to the editor */
  str_equal(&req->via.array.ptr[2], "nvim_buf_get_lines");
  const msgpack_object *args = &req->via.array.ptr[3];
  assert_int_equal(args->via.array.size, 4);
  assert_int_equal(args->via.array.ptr[0].via.i64, 7);
  lines_request_id = req->via.array.ptr[1].via.u64;

  feed(f, build_lines_response);
  cap_decode(&f->cap);
  assert_int_equal(f->cap.nmsgs, 3);
  const msgpack_object *reply = &f->cap.msgs[2].data;
  str_equal(&reply->via.array.ptr[2], "nvim_exec_lua");
  const msgpack_object *params = &reply->via.array.ptr[3];
  str_equal(&params->via.array.ptr[0], "return require('frugal.host')._reply(...)");
  const msgpack_object *lua_args = &params->via.array.ptr[1];
  assert_int_equal(lua_args->via.array.size, 3);
  assert_int_equal(lua_args->via.array.ptr[0].via.i64, 5);
  assert_int_equal(lua_args->via.array.ptr[1].type, MSGPACK_OBJECT_NIL);
  check_preview_result(&lua_args->via.array.ptr[2]);
}

static void build_bad_preview(msgpack_packer *pk)
{
  msgpack_pack_array(pk, 4);
  msgpack_pack_int(pk, 0);
  msgpack_pack_uint32(pk, 9);
  rpc_pack_cstr(pk, "preview");
  msgpack_pack_array(pk, 1);
  msgpack_pack_map(pk, 3);
  rpc_pack_cstr(pk, "action");
  rpc_pack_cstr(pk, "tests");
  rpc_pack_cstr(pk, "line");
  rpc_pack_cstr(pk, "eleven"); /* wrong type */
  rpc_pack_cstr(pk, "text");
  rpc_pack_cstr(pk, source);
}

static void bad_params_get_an_error_naming_the_key(void **state)
{
  fixture *f = *state;
  feed(f, build_bad_preview);
  cap_decode(&f->cap);
  assert_int_equal(f->cap.nmsgs, 1);
  const msgpack_object *err = &f->cap.msgs[0].data.via.array.ptr[2];
  size_t n = 0;
  const char *text = rpc_error_text(err, &n);
  assert_non_null(text);
  char msg[256];
  snprintf(msg, sizeof(msg), "%.*s", (int)n, text);
  assert_non_null(strstr(msg, "'line' must be an integer"));
}

static void build_cursor_past_end(msgpack_packer *pk)
{
  msgpack_pack_array(pk, 4);
  msgpack_pack_int(pk, 0);
  msgpack_pack_uint32(pk, 10);
  rpc_pack_cstr(pk, "context");
  msgpack_pack_array(pk, 1);
  msgpack_pack_map(pk, 3);
  rpc_pack_cstr(pk, "action");
  rpc_pack_cstr(pk, "explain");
  rpc_pack_cstr(pk, "line");
  msgpack_pack_int(pk, 400);
  rpc_pack_cstr(pk, "text");
  rpc_pack_cstr(pk, source);
}

static void cursor_past_the_end_is_an_error(void **state)
{
  fixture *f = *state;
  feed(f, build_cursor_past_end);
  cap_decode(&f->cap);
  const msgpack_object *err = &f->cap.msgs[0].data.via.array.ptr[2];
  assert_int_not_equal(err->type, MSGPACK_OBJECT_NIL);
  size_t n = 0;
  assert_non_null(rpc_error_text(err, &n));
  assert_true(n > 0);
}

static void build_configure_bad(msgpack_packer *pk)
{
  msgpack_pack_array(pk, 4);
  msgpack_pack_int(pk, 0);
  msgpack_pack_uint32(pk, 11);
  rpc_pack_cstr(pk, "configure");
  msgpack_pack_array(pk, 1);
  msgpack_pack_map(pk, 1);
  rpc_pack_cstr(pk, "config_json");
  rpc_pack_cstr(pk, "{\"tiers\":{\"mini\":{\"modle\":\"x\"}}}");
}

static void build_configure_good(msgpack_packer *pk)
{
  msgpack_pack_array(pk, 4);
  msgpack_pack_int(pk, 0);
  msgpack_pack_uint32(pk, 12);
  rpc_pack_cstr(pk, "configure");
  msgpack_pack_array(pk, 1);
  msgpack_pack_map(pk, 1);
  rpc_pack_cstr(pk, "config_json");
  rpc_pack_cstr(pk, "{\"tiers\":{\"mini\":{\"model\":\"gpt-4.1-mini\"}}}");
}

static void configure_validates_and_then_applies(void **state)
{
  fixture *f = *state;
  feed(f, build_configure_bad);
  feed(f, build_configure_good);
  feed(f, build_preview_request);
  cap_decode(&f->cap);
  assert_int_equal(f->cap.nmsgs, 3);
  size_t n = 0;
  const char *text = rpc_error_text(&f->cap.msgs[0].data.via.array.ptr[2], &n);
  char msg[300];
  snprintf(msg, sizeof(msg), "%.*s", (int)n, text ? text : "");
  assert_non_null(strstr(msg, "tiers.mini.modle"));
  assert_int_equal(f->cap.msgs[1].data.via.array.ptr[2].type, MSGPACK_OBJECT_NIL);
  const msgpack_object *route = map_get(&f->cap.msgs[2].data.via.array.ptr[3], "route");
  str_equal(map_get(route, "model"), "gpt-4.1-mini");
}

static void a_buffer_too_large_for_one_frame_is_refused_by_size_not_read(void **state)
{
  fixture *f = *state;
  feed(f, build_frugal_call_bufnr);
  cap_decode(&f->cap);
  answer_size_question(f, 0, 3, 70LL * 1000 * 1000);
  cap_decode(&f->cap);
  assert_int_equal(f->cap.nmsgs, 2); /* the reply: no nvim_buf_get_lines */
  const msgpack_object *params = &f->cap.msgs[1].data.via.array.ptr[3];
  str_equal(&params->via.array.ptr[0], "return require('frugal.host')._reply(...)");
  const msgpack_object *err = &params->via.array.ptr[1].via.array.ptr[1];
  assert_int_equal(err->type, MSGPACK_OBJECT_STR);
  char text[400];
  snprintf(text, sizeof(text), "%.*s", (int)err->via.str.size, err->via.str.ptr);
  assert_string_equal(text, "buffer 7 is 70.0 MB (3 lines): larger than the 48 MB frugal reads "
                            "from the editor; select the part you mean, or use the CLI on the "
                            "file");
}

static void pending_buffer_read_is_dropped_when_the_host_closes(void **state)
{
  fixture *f = *state;
  feed(f, build_frugal_call_bufnr);
  assert_int_equal(rpc_channel_pending(f->ch), 1);
  /* teardown frees the host, then the channel, which fails the pending read: no reply, no leak */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(preview_request_is_answered_with_route_and_context, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(frugal_call_reads_the_buffer_then_replies_through_exec_lua,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(bad_params_get_an_error_naming_the_key, setup, teardown),
    cmocka_unit_test_setup_teardown(cursor_past_the_end_is_an_error, setup, teardown),
    cmocka_unit_test_setup_teardown(configure_validates_and_then_applies, setup, teardown),
    cmocka_unit_test_setup_teardown(a_buffer_too_large_for_one_frame_is_refused_by_size_not_read,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(pending_buffer_read_is_dropped_when_the_host_closes, setup,
                                    teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
