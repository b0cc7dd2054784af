#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../src/ringbuf.h"

static void write_then_read_returns_the_same_bytes(void **state)
{
  (void)state;
  ringbuf rb;
  assert_int_equal(ringbuf_init(&rb, 64), 0);
  assert_int_equal(ringbuf_write(&rb, "hello", 5), 5);
  char out[8] = {0};
  assert_int_equal(ringbuf_read(&rb, out, sizeof(out)), 5);
  assert_string_equal(out, "hello");
  ringbuf_free(&rb);
}

static void write_stops_when_full(void **state)
{
  (void)state;
  ringbuf rb;
  assert_int_equal(ringbuf_init(&rb, 64), 0);
  uint8_t big[100];
  memset(big, 'x', sizeof(big));
  assert_int_equal(ringbuf_write(&rb, big, sizeof(big)), 64);
  assert_int_equal(ringbuf_space(&rb), 0);
  ringbuf_free(&rb);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(write_then_read_returns_the_same_bytes),
    cmocka_unit_test(write_stops_when_full),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
