/* The in-process entry point (frugal_inprocess_start/stop, native/host/inproc.c) against a fake
 * editor: a Unix socket this test listens on and speaks msgpack-RPC over with blocking calls, as
 * Neovim's server would. */
#include <errno.h>
#include <msgpack.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "frugal.h"

typedef struct {
  char path[108];
  int listen_fd;
  int fd;
  msgpack_unpacker up;
  msgpack_unpacked msg;
} editor;

static int editor_setup(void **state)
{
  editor *e = calloc(1, sizeof(*e));
  snprintf(e->path, sizeof(e->path), "/tmp/frugal-inproc-%d.sock", (int)getpid());
  unlink(e->path);
  e->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->path);
  assert_int_equal(bind(e->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(e->listen_fd, 4), 0);
  e->fd = -1;
  msgpack_unpacker_init(&e->up, MSGPACK_UNPACKER_INIT_BUFFER_SIZE);
  msgpack_unpacked_init(&e->msg);
  *state = e;
  return 0;
}

static int editor_teardown(void **state)
{
  editor *e = *state;
  if (e->fd >= 0) {
    close(e->fd);
  }
  close(e->listen_fd);
  unlink(e->path);
  msgpack_unpacked_destroy(&e->msg);
  msgpack_unpacker_destroy(&e->up);
  free(e);
  return 0;
}

static void editor_accept(editor *e)
{
  if (e->fd >= 0) {
    close(e->fd);
  }
  msgpack_unpacked_destroy(&e->msg);
  msgpack_unpacker_destroy(&e->up);
  msgpack_unpacker_init(&e->up, MSGPACK_UNPACKER_INIT_BUFFER_SIZE);
  msgpack_unpacked_init(&e->msg);
  struct pollfd p = {e->listen_fd, POLLIN, 0};
  assert_int_equal(poll(&p, 1, 5000), 1);
  e->fd = accept(e->listen_fd, NULL, NULL);
  assert_true(e->fd >= 0);
}

/* The next message from the library (valid until the next call); NULL at EOF. */
static const msgpack_object *editor_next(editor *e)
{
  for (;;) {
    if (msgpack_unpacker_next(&e->up, &e->msg) == MSGPACK_UNPACK_SUCCESS) {
      return &e->msg.data;
    }
    struct pollfd p = {e->fd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 5000), 1);
    msgpack_unpacker_reserve_buffer(&e->up, 4096);
    ssize_t n = read(e->fd, msgpack_unpacker_buffer(&e->up), 4096);
    if (n <= 0) {
      return NULL;
    }
    msgpack_unpacker_buffer_consumed(&e->up, (size_t)n);
  }
}

static int str_is(const msgpack_object *o, const char *s)
{
  return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
         memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static void editor_send(editor *e, msgpack_sbuffer *sb)
{
  assert_int_equal(write(e->fd, sb->data, sb->size), (ssize_t)sb->size);
  msgpack_sbuffer_clear(sb);
}

/* Expects request `method` and returns its msgid. */
static uint64_t expect_request(editor *e, const char *method, const msgpack_object **params)
{
  const msgpack_object *m = editor_next(e);
  assert_non_null(m);
  assert_int_equal(m->type, MSGPACK_OBJECT_ARRAY);
  assert_int_equal(m->via.array.size, 4);
  assert_int_equal(m->via.array.ptr[0].via.u64, 0);
  assert_true(str_is(&m->via.array.ptr[2], method));
  *params = &m->via.array.ptr[3];
  return m->via.array.ptr[1].via.u64;
}

static void respond_nil(editor *e, uint64_t msgid, msgpack_sbuffer *sb, msgpack_packer *pk)
{
  msgpack_pack_array(pk, 4);
  msgpack_pack_int(pk, 1);
  msgpack_pack_uint64(pk, msgid);
  msgpack_pack_nil(pk);
  msgpack_pack_true(pk);
  editor_send(e, sb);
}

/* The library's greeting: nvim_get_api_info, then _attach(token, channel). */
static void editor_greet(editor *e, long long token, int64_t chan)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  const msgpack_object *params;
  uint64_t id = expect_request(e, "nvim_get_api_info", &params);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_uint64(&pk, id);
  msgpack_pack_nil(&pk);
  msgpack_pack_array(&pk, 2);
  msgpack_pack_int64(&pk, chan);
  msgpack_pack_map(&pk, 0);
  editor_send(e, &sb);
  id = expect_request(e, "nvim_exec_lua", &params);
  assert_int_equal(params->via.array.size, 2);
  assert_non_null(strstr(params->via.array.ptr[0].via.str.ptr, "_attach("));
  const msgpack_object *args = &params->via.array.ptr[1];
  assert_int_equal(args->via.array.size, 2);
  assert_int_equal(args->via.array.ptr[0].via.i64, token);
  assert_int_equal(args->via.array.ptr[1].via.i64, chan);
  respond_nil(e, id, &sb, &pk);
  msgpack_sbuffer_destroy(&sb);
}

/* Sends frugal_call [id, "version", {}] and checks the _reply that comes back. */
static void editor_version_call(editor *e, int64_t call_id)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 3);
  msgpack_pack_int(&pk, 2);
  msgpack_pack_str_with_body(&pk, "frugal_call", 11);
  msgpack_pack_array(&pk, 3);
  msgpack_pack_int64(&pk, call_id);
  msgpack_pack_str_with_body(&pk, "version", 7);
  msgpack_pack_map(&pk, 0);
  editor_send(e, &sb);
  const msgpack_object *params;
  uint64_t id = expect_request(e, "nvim_exec_lua", &params);
  assert_non_null(strstr(params->via.array.ptr[0].via.str.ptr, "_reply("));
  const msgpack_object *args = &params->via.array.ptr[1];
  assert_int_equal(args->via.array.ptr[0].via.i64, call_id);
  assert_int_equal(args->via.array.ptr[1].type, MSGPACK_OBJECT_NIL);
  const msgpack_object *result = &args->via.array.ptr[2];
  assert_int_equal(result->type, MSGPACK_OBJECT_MAP);
  int found = 0;
  for (uint32_t i = 0; i < result->via.map.size; i++) {
    if (str_is(&result->via.map.ptr[i].key, "version")) {
      found = str_is(&result->via.map.ptr[i].val, FRUGAL_VERSION_STRING);
    }
  }
  assert_true(found);
  respond_nil(e, id, &sb, &pk);
  msgpack_sbuffer_destroy(&sb);
}

static void serves_the_editor_over_its_socket_and_stops(void **state)
{
  editor *e = *state;
  char err[256] = "";
  frugal_inprocess *p = frugal_inprocess_start(e->path, 41, err, sizeof(err));
  assert_non_null(p);
  editor_accept(e);
  editor_greet(e, 41, 7);
  editor_version_call(e, 1);
  editor_version_call(e, 2);
  frugal_inprocess_stop(p);
  assert_null(editor_next(e)); /* the library closed its end */
}

static void a_second_start_after_a_stop_works(void **state)
{
  editor *e = *state;
  char err[256];
  for (int round = 0; round < 3; round++) {
    frugal_inprocess *p = frugal_inprocess_start(e->path, 100 + round, err, sizeof(err));
    assert_non_null(p);
    editor_accept(e);
    editor_greet(e, 100 + round, 3);
    editor_version_call(e, round + 1);
    frugal_inprocess_stop(p);
  }
}

static void the_editor_hanging_up_ends_the_thread_and_stop_still_works(void **state)
{
  editor *e = *state;
  char err[256];
  frugal_inprocess *p = frugal_inprocess_start(e->path, 5, err, sizeof(err));
  assert_non_null(p);
  editor_accept(e);
  editor_greet(e, 5, 9);
  close(e->fd);
  e->fd = -1;
  usleep(50 * 1000);
  frugal_inprocess_stop(p);
}

static void refusing_the_attach_closes_the_connection(void **state)
{
  editor *e = *state;
  char err[256];
  frugal_inprocess *p = frugal_inprocess_start(e->path, 6, err, sizeof(err));
  assert_non_null(p);
  editor_accept(e);
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  const msgpack_object *params;
  uint64_t id = expect_request(e, "nvim_get_api_info", &params);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_uint64(&pk, id);
  msgpack_pack_nil(&pk);
  msgpack_pack_array(&pk, 2);
  msgpack_pack_int64(&pk, 4);
  msgpack_pack_map(&pk, 0);
  editor_send(e, &sb);
  id = expect_request(e, "nvim_exec_lua", &params);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_uint64(&pk, id);
  msgpack_pack_array(&pk, 2);
  msgpack_pack_int(&pk, 0);
  msgpack_pack_str_with_body(&pk, "no", 2);
  msgpack_pack_nil(&pk);
  editor_send(e, &sb);
  msgpack_sbuffer_destroy(&sb);
  /* the log line about it, then EOF */
  const msgpack_object *m;
  int logged = 0;
  while ((m = editor_next(e)) != NULL) {
    if (m->via.array.size == 3 && str_is(&m->via.array.ptr[1], "nvim_exec_lua")) {
      logged = 1;
    }
  }
  assert_true(logged);
  frugal_inprocess_stop(p);
}

static void a_missing_socket_is_an_error_naming_it(void **state)
{
  char err[256] = "";
  frugal_inprocess *p = frugal_inprocess_start("/nonexistent/dir/nvim.sock", 1, err, sizeof(err));
  assert_null(p);
  assert_non_null(strstr(err, "cannot connect to /nonexistent/dir/nvim.sock"));
  p = frugal_inprocess_start("", 1, err, sizeof(err));
  assert_null(p);
  assert_non_null(strstr(err, "v:servername"));
  /* a closed TCP port on loopback */
  p = frugal_inprocess_start("127.0.0.1:9", 1, err, sizeof(err));
  assert_null(p);
  assert_non_null(strstr(err, "cannot connect to 127.0.0.1:9"));
}

static void isolation_reports_each_probe(void **state)
{
  char out[1024];
  int rc = frugal_inprocess_isolation(out, sizeof(out));
  /* this test program links the shared libuv, msgpack-c and Jansson: each probe names one */
  assert_int_equal(rc, 1);
  assert_non_null(strstr(out, "uv_run -> "));
  assert_non_null(strstr(out, "libuv"));
  assert_non_null(strstr(out, "msgpack_unpack_next -> "));
  assert_non_null(strstr(out, "libmsgpack"));
  assert_non_null(strstr(out, "json_loads -> "));
  assert_non_null(strstr(out, "libjansson"));
  assert_null(strstr(out, "the program"));
  /* a buffer too small still ends in NUL */
  char small[8];
  frugal_inprocess_isolation(small, sizeof(small));
  assert_int_equal(strlen(small), 7);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(serves_the_editor_over_its_socket_and_stops, editor_setup,
                                    editor_teardown),
    cmocka_unit_test_setup_teardown(a_second_start_after_a_stop_works, editor_setup,
                                    editor_teardown),
    cmocka_unit_test_setup_teardown(the_editor_hanging_up_ends_the_thread_and_stop_still_works,
                                    editor_setup, editor_teardown),
    cmocka_unit_test_setup_teardown(refusing_the_attach_closes_the_connection, editor_setup,
                                    editor_teardown),
    cmocka_unit_test(a_missing_socket_is_an_error_naming_it),
    cmocka_unit_test(isolation_reports_each_probe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
