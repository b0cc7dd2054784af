/* Chat Completions streams (chat.completion.chunk), as sent by OpenAI and the compatible
 * servers: Ollama /v1 (delta.reasoning), llama.cpp (content:null, delta.reasoning_content,
 * top-level timings, integer error codes), OpenRouter (comment keep-alives, an error object
 * inside an ordinary chunk next to choices and usage). */
#include <string.h>

#include "provider/stream_int.h"

static stream_finish finish_class(const char *r)
{
  if (strcmp(r, "stop") == 0) {
    return STREAM_FINISH_STOP;
  }
  if (strcmp(r, "length") == 0) {
    return STREAM_FINISH_LENGTH;
  }
  if (strcmp(r, "tool_calls") == 0 || strcmp(r, "function_call") == 0) {
    return STREAM_FINISH_TOOL_CALLS;
  }
  if (strcmp(r, "content_filter") == 0) {
    return STREAM_FINISH_CONTENT_FILTER;
  }
  return STREAM_FINISH_OTHER;
}

static int tool_calls(stream_parser *p, uint32_t choice, json_t *calls)
{
  size_t i;
  json_t *tc;
  json_array_foreach(calls, i, tc)
  {
    if (!json_is_object(tc)) {
      stream_emit_malformed(p, "choices[].delta.tool_calls[%zu] is not an object", i);
      return -1;
    }
    uint32_t index = (uint32_t)(i < STREAM_MAX_INDEX ? i : STREAM_MAX_INDEX);
    const char *id = NULL, *name = NULL, *args = "";
    size_t id_len = 0, name_len = 0, args_len = 0;
    json_t *fn = NULL;
    if (stream_get_index(p, tc, "choices[].delta.tool_calls[]", "index", &index) < 0 ||
        stream_get_str(p, tc, "choices[].delta.tool_calls[]", "id", &id, &id_len) < 0 ||
        stream_get_obj(p, tc, "choices[].delta.tool_calls[]", "function", &fn) < 0) {
      return -1;
    }
    if (fn && (stream_get_str(p, fn, "choices[].delta.tool_calls[].function", "name", &name,
                              &name_len) < 0 ||
               stream_get_str(p, fn, "choices[].delta.tool_calls[].function", "arguments", &args,
                              &args_len) < 0)) {
      return -1;
    }
    stream_tool *t = stream_tool_get(p, choice, index);
    if (!t) {
      return -1;
    }
    if (id) {
      stream_tool_set(&t->id, id, id_len);
    }
    if (name) {
      stream_tool_set(&t->name, name, name_len);
    }
    stream_event ev = {.kind = STREAM_EV_TOOL_CALL,
                       .choice = choice,
                       .text = args,
                       .len = args_len,
                       .tool_index = index,
                       .tool_id = t->id,
                       .tool_name = t->name};
    stream_emit(p, &ev);
  }
  return 0;
}

static int one_choice(stream_parser *p, json_t *c, size_t pos)
{
  if (!json_is_object(c)) {
    stream_emit_malformed(p, "choices[%zu] is not an object", pos);
    return -1;
  }
  uint32_t index = (uint32_t)(pos < STREAM_MAX_INDEX ? pos : STREAM_MAX_INDEX);
  json_t *delta = NULL;
  if (stream_get_index(p, c, "choices[]", "index", &index) < 0 ||
      stream_get_obj(p, c, "choices[]", "delta", &delta) < 0) {
    return -1;
  }
  /* A whole (non-streamed) completion says `message` where a chunk says `delta`. */
  if (!delta && stream_get_obj(p, c, "choices[]", "message", &delta) < 0) {
    return -1;
  }
  if (delta) {
    const char *s;
    size_t n;
    int r = stream_get_str(p, delta, "choices[].delta", "content", &s, &n);
    if (r < 0) {
      return -1;
    }
    if (r > 0) {
      stream_emit_text(p, STREAM_EV_TEXT, index, s, n);
    }
    /* llama.cpp and DeepSeek say reasoning_content, Ollama and OpenRouter say reasoning; a
     * server sending both means the same text. */
    r = stream_get_str(p, delta, "choices[].delta", "reasoning_content", &s, &n);
    if (r == 0) {
      r = stream_get_str(p, delta, "choices[].delta", "reasoning", &s, &n);
    }
    if (r < 0) {
      return -1;
    }
    if (r > 0) {
      stream_emit_text(p, STREAM_EV_REASONING, index, s, n);
    }
    r = stream_get_str(p, delta, "choices[].delta", "refusal", &s, &n);
    if (r < 0) {
      return -1;
    }
    if (r > 0) {
      stream_emit_text(p, STREAM_EV_REFUSAL, index, s, n);
    }
    json_t *calls = NULL;
    r = stream_get_arr(p, delta, "choices[].delta", "tool_calls", &calls);
    if (r < 0 || (r > 0 && tool_calls(p, index, calls) < 0)) {
      return -1;
    }
  }
  const char *reason;
  size_t reason_len;
  int r = stream_get_str(p, c, "choices[]", "finish_reason", &reason, &reason_len);
  if (r < 0) {
    return -1;
  }
  if (r > 0) {
    stream_emit_finish(p, index, reason, finish_class(reason));
  }
  return 0;
}

static int usage_object(stream_parser *p, json_t *u)
{
  stream_usage out;
  stream_usage_init(&out);
  json_t *in = NULL, *outd = NULL;
  if (stream_get_count(p, u, "usage", "prompt_tokens", &out.input_tokens) < 0 ||
      stream_get_count(p, u, "usage", "completion_tokens", &out.output_tokens) < 0 ||
      stream_get_count(p, u, "usage", "total_tokens", &out.total_tokens) < 0 ||
      stream_get_obj(p, u, "usage", "prompt_tokens_details", &in) < 0 ||
      stream_get_obj(p, u, "usage", "completion_tokens_details", &outd) < 0) {
    return -1;
  }
  if (in && (stream_get_count(p, in, "usage.prompt_tokens_details", "cached_tokens",
                              &out.cached_input_tokens) < 0 ||
             stream_get_count(p, in, "usage.prompt_tokens_details", "cache_write_tokens",
                              &out.cache_write_tokens) < 0)) {
    return -1;
  }
  if (outd && stream_get_count(p, outd, "usage.completion_tokens_details", "reasoning_tokens",
                               &out.reasoning_tokens) < 0) {
    return -1;
  }
  p->usage_seen = true;
  stream_emit_usage(p, &out);
  return 0;
}

/* llama.cpp's timings stand in for usage when the request did not ask for usage: prompt_n
 * counts the evaluated prompt tokens, cache_n those taken from its cache. */
static int timings_object(stream_parser *p, json_t *t)
{
  int64_t prompt = -1, cache = -1, predicted = -1;
  if (stream_get_count(p, t, "timings", "prompt_n", &prompt) < 0 ||
      stream_get_count(p, t, "timings", "cache_n", &cache) < 0 ||
      stream_get_count(p, t, "timings", "predicted_n", &predicted) < 0) {
    return -1;
  }
  if (prompt < 0 && predicted < 0) {
    return 0;
  }
  stream_usage out;
  stream_usage_init(&out);
  out.from_timings = true;
  if (prompt >= 0) {
    out.input_tokens = prompt + (cache > 0 ? cache : 0);
  }
  out.cached_input_tokens = cache;
  out.output_tokens = predicted;
  stream_emit_usage(p, &out);
  return 0;
}

static void chunk(stream_parser *p, json_t *root)
{
  json_t *choices = NULL, *usage = NULL, *timings = NULL;
  if (stream_get_arr(p, root, "", "choices", &choices) < 0) {
    return;
  }
  if (choices) {
    size_t i;
    json_t *c;
    json_array_foreach(choices, i, c)
    {
      if (one_choice(p, c, i) < 0) {
        return;
      }
    }
  }
  int r = stream_get_obj(p, root, "", "usage", &usage);
  if (r < 0 || (r > 0 && usage_object(p, usage) < 0)) {
    return;
  }
  if (!p->usage_seen) {
    r = stream_get_obj(p, root, "", "timings", &timings);
    if (r < 0 || (r > 0 && timings_object(p, timings) < 0)) {
      return;
    }
  }
  json_t *err = json_object_get(root, "error");
  if (err && !json_is_null(err)) {
    stream_emit_provider_error(p, err);
  }
}

void stream_openai_chat_event(stream_parser *p, const char *data, size_t len)
{
  data = stream_trim(data, &len);
  if (len == 0) {
    return; /* llama.cpp-based servers send empty data: frames as keep-alives */
  }
  if (len >= 6 && memcmp(data, "[DONE]", 6) == 0) {
    stream_terminal(p, "[DONE]");
    return;
  }
  if (p->at_eof) {
    return;
  }
  json_t *root = stream_json_object(p, data, len, "chunk");
  if (root) {
    chunk(p, root);
    json_decref(root);
  }
}

int stream_openai_chat_body(stream_parser *p, json_t *root)
{
  if (!json_is_array(json_object_get(root, "choices"))) {
    return -1;
  }
  chunk(p, root);
  return 0;
}
