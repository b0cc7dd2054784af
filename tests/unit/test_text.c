/* The line index and UTF-8 validation every module relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/text.h"

static void lines_are_counted_like_an_editor(void **state)
{
  static const struct {
    const char *s;
    int nlines;
  } cases[] = {
    {"", 0}, {"a", 1}, {"a\n", 1}, {"a\nb", 2}, {"a\nb\n", 2}, {"\n", 1}, {"\n\n", 2},
    {"a\r\nb\r\n", 2},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    text_t t;
    assert_int_equal(text_init(&t, cases[i].s, strlen(cases[i].s)), 0);
    assert_int_equal(t.nlines, cases[i].nlines);
    text_free(&t);
  }
}

static void line_offsets_and_lookup_agree(void **state)
{
  const char *s = "int a;\n\nint main(void)\n{\n}\nlast";
  text_t t;
  assert_int_equal(text_init(&t, s, strlen(s)), 0);
  assert_int_equal(t.nlines, 6);
  assert_int_equal(text_line_start(&t, 1), 0);
  assert_int_equal(text_line_start(&t, 2), 7);
  assert_int_equal(text_line_start(&t, 3), 8);
  assert_int_equal(text_line_end(&t, 3), 23);
  assert_int_equal(text_line_start(&t, 6), 27);
  assert_int_equal(text_line_end(&t, 6), strlen(s));
  for (size_t off = 0; off <= strlen(s); off++) {
    int line = text_line_of(&t, off);
    assert_true(text_line_start(&t, line) <= off);
    assert_true(off < text_line_end(&t, line) || off == strlen(s));
  }
  text_free(&t);
}

/* The index is built 64 bytes at a time with a fixed number of slots per block: blocks with
 * no newline, with more than eight, newlines on block edges and at the very end all give the
 * offsets a byte-by-byte count gives. */
static void line_index_matches_a_byte_count_at_every_length_and_density(void **state)
{
  (void)state;
  static char buf[1200];
  static size_t want[1201];
  /* newlines per 16 bytes, by round: none, 1, 2, 8, all */
  static const unsigned per16[] = {0, 1, 2, 8, 16};
  unsigned seed = 7;
  for (int round = 0; round < 400; round++) {
    size_t len = (size_t)(round * 3) % sizeof(buf);
    unsigned density = per16[round % 5];
    for (size_t i = 0; i < len; i++) {
      seed = seed * 1103515245u + 12345u;
      buf[i] = (seed >> 16) % 16 < density ? '\n' : 'x';
    }
    size_t n = 0;
    if (len > 0) {
      want[n++] = 0;
    }
    for (size_t i = 0; i + 1 < len; i++) {
      if (buf[i] == '\n') {
        want[n++] = i + 1;
      }
    }
    text_t t;
    assert_int_equal(text_init(&t, buf, len), 0);
    assert_int_equal(t.nlines, (int)n);
    for (size_t i = 0; i < n; i++) {
      assert_int_equal(t.line_off[i], want[i]);
    }
    assert_int_equal(t.line_off[n], len);
    text_free(&t);
  }
}

static void utf8_validation_rejects_what_json_cannot_carry(void **state)
{
  assert_true(utf8_valid("plain", 5));
  assert_true(utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
  assert_false(utf8_valid("\xc3", 1));             /* truncated */
  assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong */
  assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
  assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
  assert_false(utf8_valid("ab\xff", 3));
}

static void repair_replaces_each_bad_byte_and_cuts_on_a_character_boundary(void **state)
{
  buf_t b = BUF_INIT;
  /* 0xff is never UTF-8; 0xc3 0x28 is a lead byte without its continuation */
  const char in[] = "a\xff\xc3\x28\xc3\xa9z";
  assert_int_equal(utf8_append_repaired(&b, in, sizeof(in) - 1, "\xEF\xBF\xBD", SIZE_MAX),
                   sizeof(in) - 1);
  const char want[] = "a\xEF\xBF\xBD\xEF\xBF\xBD(\xc3\xa9z";
  assert_int_equal(b.len, sizeof(want) - 1);
  assert_memory_equal(b.data, want, b.len);
  assert_true(utf8_valid(b.data, b.len));
  buf_clear(&b);
  /* "?" and a cut at 3 bytes: the two-byte character that would pass it is left out */
  assert_int_equal(utf8_append_repaired(&b, "x\xff\xc3\xa9", 4, "?", 3), 2);
  assert_int_equal(b.len, 2);
  assert_memory_equal(b.data, "x?", 2);
  assert_int_equal(utf8_seq_len("\xe2\x82\xac", 3), 3);
  assert_int_equal(utf8_seq_len("\xe2\x82", 2), 0);
  assert_int_equal(utf8_seq_len("\xed\xa0\x80", 3), 0); /* a surrogate */
  buf_free(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(lines_are_counted_like_an_editor),
    cmocka_unit_test(line_offsets_and_lookup_agree),
    cmocka_unit_test(line_index_matches_a_byte_count_at_every_length_and_density),
    cmocka_unit_test(utf8_validation_rejects_what_json_cannot_carry),
    cmocka_unit_test(repair_replaces_each_bad_byte_and_cuts_on_a_character_boundary),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
