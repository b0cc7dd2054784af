/* stream_parse_body (native/provider/stream.c): whole non-streamed bodies read with the stream's
 * own field readers, so a body and a stream of the same answer say the same thing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "provider/stream.h"
#include "util/buf.h"

typedef struct {
  buf_t text;
  buf_t reasoning;
  stream_usage usage;
  int usages;
  char finish_raw[64];
  stream_finish finish;
  int errors;
  char terminator[32];
} got;

static int on_event(void *data, const stream_event *ev)
{
  got *g = data;
  switch (ev->kind) {
  case STREAM_EV_TEXT:
  case STREAM_EV_REFUSAL:
    buf_append(&g->text, ev->text, ev->len);
    break;
  case STREAM_EV_REASONING:
    buf_append(&g->reasoning, ev->text, ev->len);
    break;
  case STREAM_EV_USAGE:
    g->usage = ev->usage;
    g->usages++;
    break;
  case STREAM_EV_FINISH:
    snprintf(g->finish_raw, sizeof(g->finish_raw), "%s", ev->finish_raw);
    g->finish = ev->finish;
    break;
  case STREAM_EV_ERROR:
    g->errors++;
    break;
  case STREAM_EV_END:
    snprintf(g->terminator, sizeof(g->terminator), "%s", ev->terminator);
    break;
  default:
    break;
  }
  return 0;
}

static int parse(stream_api api, const char *body, got *g)
{
  memset(g, 0, sizeof(*g));
  return stream_parse_body(api, body, strlen(body), on_event, g);
}

static void done(got *g)
{
  buf_free(&g->text);
  buf_free(&g->reasoning);
}

static void chat_completion_keeps_cache_writes_as_the_stream_does(void **state)
{
  got g;
  const char *body =
      "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
      "\"assistant\",\"content\":\"Hello.\",\"refusal\":null},\"finish_reason\":\"length\"}],"
      "\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":7,\"total_tokens\":127,"
      "\"prompt_tokens_details\":{\"cached_tokens\":100,\"cache_write_tokens\":12},"
      "\"completion_tokens_details\":{\"reasoning_tokens\":3}}}";
  assert_int_equal(parse(STREAM_API_OPENAI_CHAT, body, &g), STREAM_OK);
  assert_string_equal(g.text.data, "Hello.");
  assert_int_equal(g.usage.input_tokens, 120);
  assert_int_equal(g.usage.cached_input_tokens, 100);
  assert_int_equal(g.usage.cache_write_tokens, 12); /* the old body parser dropped this */
  assert_int_equal(g.usage.output_tokens, 7);
  assert_int_equal(g.usage.reasoning_tokens, 3);
  assert_string_equal(g.finish_raw, "length");
  assert_int_equal(g.finish, STREAM_FINISH_LENGTH);
  assert_string_equal(g.terminator, "body");
  assert_int_equal(g.errors, 0);
  done(&g);
}

static void responses_body_reads_output_text_usage_and_status(void **state)
{
  got g;
  const char *body =
      "{\"object\":\"response\",\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
      "\"max_output_tokens\"},\"output\":[{\"type\":\"reasoning\",\"summary\":[]},{\"type\":"
      "\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Part\"},{\"type\":"
      "\"output_text\",\"text\":\"ial\"}]}],\"usage\":{\"input_tokens\":50,\"output_tokens\":9,"
      "\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens_details\":"
      "{\"reasoning_tokens\":4}}}";
  assert_int_equal(parse(STREAM_API_OPENAI_RESPONSES, body, &g), STREAM_OK);
  assert_string_equal(g.text.data, "Partial");
  assert_int_equal(g.usage.input_tokens, 50);
  assert_int_equal(g.usage.output_tokens, 9);
  assert_int_equal(g.usage.reasoning_tokens, 4);
  assert_string_equal(g.finish_raw, "incomplete");
  assert_int_equal(g.finish, STREAM_FINISH_LENGTH);
  done(&g);
}

static void anthropic_message_counts_cache_reads_and_writes_into_input(void **state)
{
  got g;
  const char *body =
      "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
      "\"thinking\":\"hm\"},{\"type\":\"text\",\"text\":\"Done.\"}],\"stop_reason\":\"end_turn\","
      "\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":200,"
      "\"cache_creation_input_tokens\":30,\"output_tokens\":5}}";
  assert_int_equal(parse(STREAM_API_ANTHROPIC, body, &g), STREAM_OK);
  assert_string_equal(g.text.data, "Done.");
  assert_string_equal(g.reasoning.data, "hm");
  assert_int_equal(g.usage.input_tokens, 240);
  assert_int_equal(g.usage.cached_input_tokens, 200);
  assert_int_equal(g.usage.cache_write_tokens, 30);
  assert_int_equal(g.finish, STREAM_FINISH_STOP);
  done(&g);
}

static void error_envelopes_and_other_apis_bodies_are_not_answers(void **state)
{
  got g;
  assert_int_equal(parse(STREAM_API_OPENAI_CHAT, "{\"error\":{\"message\":\"no\"}}", &g),
                   STREAM_ENOTBODY);
  assert_int_equal(parse(STREAM_API_ANTHROPIC, "{\"choices\":[]}", &g), STREAM_ENOTBODY);
  assert_int_equal(parse(STREAM_API_OPENAI_RESPONSES, "not json", &g), STREAM_ENOTBODY);
  assert_int_equal(g.terminator[0], '\0');
  /* a field of the wrong type is an error event, as in a stream */
  assert_int_equal(parse(STREAM_API_OPENAI_CHAT,
                         "{\"choices\":[],\"usage\":{\"prompt_tokens\":\"many\"}}", &g),
                   STREAM_OK);
  assert_int_equal(g.errors, 1);
  assert_int_equal(g.usages, 0);
  done(&g);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(chat_completion_keeps_cache_writes_as_the_stream_does),
    cmocka_unit_test(responses_body_reads_output_text_usage_and_status),
    cmocka_unit_test(anthropic_message_counts_cache_reads_and_writes_into_input),
    cmocka_unit_test(error_envelopes_and_other_apis_bodies_are_not_answers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
