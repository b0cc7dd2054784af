/* Ollama's native NDJSON streams (/api/chat: message.content, /api/generate: response). The
 * last line has done:true, done_reason (older servers omit it: reported as "done") and the
 * counts prompt_eval_count / eval_count, which are omitempty. Errors are {"error":"string"}
 * lines, also mid-stream while the status stays 200. Tool call arguments are JSON objects
 * here, not strings: they are passed on re-serialised. */
#include <stdlib.h>
#include <string.h>

#include "provider/stream_int.h"

static int tool_calls(stream_parser *p, json_t *calls)
{
  size_t i;
  json_t *tc;
  json_array_foreach(calls, i, tc)
  {
    json_t *fn = NULL;
    const char *id = NULL, *name = NULL;
    size_t id_len = 0, name_len = 0;
    if (!json_is_object(tc)) {
      stream_emit_malformed(p, "message.tool_calls[%zu] is not an object", i);
      return -1;
    }
    if (stream_get_str(p, tc, "message.tool_calls[]", "id", &id, &id_len) < 0 ||
        stream_get_obj(p, tc, "message.tool_calls[]", "function", &fn) < 0) {
      return -1;
    }
    if (fn &&
        stream_get_str(p, fn, "message.tool_calls[].function", "name", &name, &name_len) < 0) {
      return -1;
    }
    json_t *args = fn ? json_object_get(fn, "arguments") : NULL;
    char *owned = NULL;
    const char *text = "";
    size_t len = 0;
    if (json_is_string(args)) {
      text = json_string_value(args);
      len = json_string_length(args);
    } else if (json_is_object(args)) {
      owned = json_dumps(args, JSON_COMPACT);
      text = owned ? owned : "";
      len = strlen(text);
    } else if (args && !json_is_null(args)) {
      stream_emit_malformed(p, "message.tool_calls[%zu].function.arguments is not an object", i);
      return -1;
    }
    uint32_t index = p->ollama_tools;
    stream_tool *t = index <= STREAM_MAX_INDEX ? stream_tool_get(p, 0, index) : NULL;
    if (!t) {
      free(owned);
      if (index > STREAM_MAX_INDEX) {
        stream_emit_malformed(p, "too many tool calls");
      }
      return -1;
    }
    p->ollama_tools++;
    if (id) {
      stream_tool_set(&t->id, id, id_len);
    }
    if (name) {
      stream_tool_set(&t->name, name, name_len);
    }
    stream_event ev = {.kind = STREAM_EV_TOOL_CALL,
                       .text = text,
                       .len = len,
                       .tool_index = index,
                       .tool_id = t->id,
                       .tool_name = t->name};
    stream_emit(p, &ev);
    free(owned);
  }
  return 0;
}

static void line(stream_parser *p, json_t *root)
{
  json_t *err = json_object_get(root, "error");
  if (err && !json_is_null(err)) {
    stream_emit_provider_error(p, err);
    stream_terminal(p, "error");
    return;
  }
  json_t *msg = NULL, *calls = NULL;
  const char *s;
  size_t n;
  int r;
  if (stream_get_obj(p, root, "", "message", &msg) < 0) {
    return;
  }
  json_t *src[2] = {msg, root}; /* /api/chat nests the text, /api/generate does not */
  const char *text_key[2] = {"content", "response"};
  const char *where[2] = {"message", ""};
  for (int k = 0; k < 2; k++) {
    if (!src[k]) {
      continue;
    }
    if ((r = stream_get_str(p, src[k], where[k], "thinking", &s, &n)) < 0) {
      return;
    }
    if (r > 0) {
      stream_emit_text(p, STREAM_EV_REASONING, 0, s, n);
    }
    if ((r = stream_get_str(p, src[k], where[k], text_key[k], &s, &n)) < 0) {
      return;
    }
    if (r > 0) {
      stream_emit_text(p, STREAM_EV_TEXT, 0, s, n);
    }
  }
  if (msg) {
    r = stream_get_arr(p, msg, "message", "tool_calls", &calls);
    if (r < 0 || (r > 0 && tool_calls(p, calls) < 0)) {
      return;
    }
  }
  bool done = false;
  if (stream_get_bool(p, root, "", "done", &done) < 0 || !done) {
    return;
  }
  const char *reason = "done";
  stream_usage u;
  stream_usage_init(&u);
  if (stream_get_str(p, root, "", "done_reason", &reason, &n) < 0 ||
      stream_get_count(p, root, "", "prompt_eval_count", &u.input_tokens) < 0 ||
      stream_get_count(p, root, "", "eval_count", &u.output_tokens) < 0) {
    return;
  }
  stream_emit_usage(p, &u);
  stream_finish fin = STREAM_FINISH_OTHER;
  if (strcmp(reason, "stop") == 0 || strcmp(reason, "done") == 0) {
    fin = p->ollama_tools ? STREAM_FINISH_TOOL_CALLS : STREAM_FINISH_STOP;
  } else if (strcmp(reason, "length") == 0) {
    fin = STREAM_FINISH_LENGTH;
  }
  stream_emit_finish(p, 0, reason, fin);
  stream_terminal(p, "done");
}

void stream_ollama_line(stream_parser *p, const char *data, size_t len)
{
  json_t *root = stream_json_object(p, data, len, "line");
  if (root) {
    line(p, root);
    json_decref(root);
  }
}
