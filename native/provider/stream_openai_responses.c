/* Responses API streams: typed events, usage only in the final response object, no [DONE].
 * The `error` event comes flat ({type,code,message,param}) per the spec and nested
 * ({type,error:{type,code,message}}) in the wild; both are read. */
#include <string.h>

#include "provider/stream_int.h"

static bool is_terminal(const char *type)
{
  return strcmp(type, "response.completed") == 0 || strcmp(type, "response.incomplete") == 0 ||
         strcmp(type, "response.failed") == 0 || strcmp(type, "error") == 0;
}

static int usage_object(stream_parser *p, json_t *u)
{
  stream_usage out;
  stream_usage_init(&out);
  json_t *in = NULL, *outd = NULL;
  const char *w = "response.usage";
  if (stream_get_count(p, u, w, "input_tokens", &out.input_tokens) < 0 ||
      stream_get_count(p, u, w, "output_tokens", &out.output_tokens) < 0 ||
      stream_get_count(p, u, w, "total_tokens", &out.total_tokens) < 0 ||
      stream_get_obj(p, u, w, "input_tokens_details", &in) < 0 ||
      stream_get_obj(p, u, w, "output_tokens_details", &outd) < 0) {
    return -1;
  }
  if (in && (stream_get_count(p, in, "response.usage.input_tokens_details", "cached_tokens",
                              &out.cached_input_tokens) < 0 ||
             stream_get_count(p, in, "response.usage.input_tokens_details", "cache_write_tokens",
                              &out.cache_write_tokens) < 0)) {
    return -1;
  }
  if (outd && stream_get_count(p, outd, "response.usage.output_tokens_details", "reasoning_tokens",
                               &out.reasoning_tokens) < 0) {
    return -1;
  }
  stream_emit_usage(p, &out);
  return 0;
}

static void final_response(stream_parser *p, const char *type, json_t *root)
{
  json_t *resp = NULL, *usage = NULL, *err = NULL, *inc = NULL;
  const char *status = NULL, *reason = NULL;
  size_t n;
  if (stream_get_obj(p, root, type, "response", &resp) < 0) {
    return;
  }
  if (resp) {
    if (stream_get_str(p, resp, "response", "status", &status, &n) < 0 ||
        stream_get_obj(p, resp, "response", "usage", &usage) < 0 ||
        stream_get_obj(p, resp, "response", "incomplete_details", &inc) < 0) {
      return;
    }
    if (inc && stream_get_str(p, inc, "response.incomplete_details", "reason", &reason, &n) < 0) {
      return;
    }
    if (usage && usage_object(p, usage) < 0) {
      return;
    }
    err = json_object_get(resp, "error");
    if (err && !json_is_null(err)) {
      stream_emit_provider_error(p, err);
    }
  }
  if (!status) {
    status = type + strlen("response.");
  }
  stream_finish fin = STREAM_FINISH_OTHER;
  if (strcmp(status, "completed") == 0) {
    fin = p->function_call_seen ? STREAM_FINISH_TOOL_CALLS : STREAM_FINISH_STOP;
  } else if (strcmp(status, "failed") == 0) {
    fin = STREAM_FINISH_FAILED;
  } else if (strcmp(status, "incomplete") == 0 && reason) {
    if (strcmp(reason, "max_output_tokens") == 0) {
      fin = STREAM_FINISH_LENGTH;
    } else if (strcmp(reason, "content_filter") == 0) {
      fin = STREAM_FINISH_CONTENT_FILTER;
    }
  }
  stream_emit_finish(p, 0, status, fin);
}

static void function_call_item(stream_parser *p, json_t *root)
{
  json_t *item = NULL;
  const char *itype = NULL, *call_id = NULL, *name = NULL, *args = "";
  size_t n, id_len = 0, name_len = 0, args_len = 0;
  uint32_t index = 0;
  if (stream_get_obj(p, root, "response.output_item.added", "item", &item) <= 0 ||
      stream_get_str(p, item, "item", "type", &itype, &n) <= 0 ||
      strcmp(itype, "function_call") != 0) {
    return;
  }
  if (stream_get_index(p, root, "response.output_item.added", "output_index", &index) < 0 ||
      stream_get_str(p, item, "item", "call_id", &call_id, &id_len) < 0 ||
      stream_get_str(p, item, "item", "name", &name, &name_len) < 0 ||
      stream_get_str(p, item, "item", "arguments", &args, &args_len) < 0) {
    return;
  }
  stream_tool *t = stream_tool_get(p, 0, index);
  if (!t) {
    return;
  }
  if (call_id) {
    stream_tool_set(&t->id, call_id, id_len);
  }
  if (name) {
    stream_tool_set(&t->name, name, name_len);
  }
  p->function_call_seen = true;
  stream_event ev = {.kind = STREAM_EV_TOOL_CALL,
                     .text = args,
                     .len = args_len,
                     .tool_index = index,
                     .tool_id = t->id,
                     .tool_name = t->name};
  stream_emit(p, &ev);
}

static void arguments_delta(stream_parser *p, const char *type, json_t *root)
{
  uint32_t index = 0;
  const char *delta = NULL;
  size_t len = 0;
  if (stream_get_index(p, root, type, "output_index", &index) < 0 ||
      stream_get_str(p, root, type, "delta", &delta, &len) < 0 || !delta) {
    return;
  }
  stream_tool *t = stream_tool_get(p, 0, index);
  if (!t) {
    return;
  }
  p->function_call_seen = true;
  stream_event ev = {.kind = STREAM_EV_TOOL_CALL,
                     .text = delta,
                     .len = len,
                     .tool_index = index,
                     .tool_id = t->id,
                     .tool_name = t->name};
  stream_emit(p, &ev);
}

static void text_delta(stream_parser *p, stream_event_kind kind, const char *type, json_t *root)
{
  const char *delta;
  size_t len;
  if (stream_get_str(p, root, type, "delta", &delta, &len) > 0) {
    stream_emit_text(p, kind, 0, delta, len);
  }
}

static void error_event(stream_parser *p, json_t *root)
{
  json_t *nested = json_object_get(root, "error");
  if (nested && !json_is_null(nested)) {
    stream_emit_provider_error(p, nested);
  } else {
    stream_emit_error_fields(p, json_object_get(root, "message"), NULL,
                             json_object_get(root, "code"), json_object_get(root, "param"));
  }
}

void stream_openai_responses_event(stream_parser *p, const char *event, const char *data,
                                   size_t len)
{
  data = stream_trim(data, &len);
  if (len == 0) {
    return;
  }
  if (len >= 6 && memcmp(data, "[DONE]", 6) == 0) {
    stream_terminal(p, "[DONE]"); /* not sent by OpenAI, but some proxies add it */
    return;
  }
  const char *type = NULL;
  json_t *root = stream_typed_event(p, event, data, len, is_terminal, &type);
  if (!root) {
    return;
  }
  if (strcmp(type, "response.output_text.delta") == 0) {
    text_delta(p, STREAM_EV_TEXT, type, root);
  } else if (strcmp(type, "response.reasoning_summary_text.delta") == 0 ||
             strcmp(type, "response.reasoning_text.delta") == 0) {
    text_delta(p, STREAM_EV_REASONING, type, root);
  } else if (strcmp(type, "response.refusal.delta") == 0) {
    text_delta(p, STREAM_EV_REFUSAL, type, root);
  } else if (strcmp(type, "response.output_item.added") == 0) {
    function_call_item(p, root);
  } else if (strcmp(type, "response.function_call_arguments.delta") == 0) {
    arguments_delta(p, type, root);
  } else if (strcmp(type, "response.completed") == 0) {
    final_response(p, type, root);
    stream_terminal(p, "response.completed");
  } else if (strcmp(type, "response.incomplete") == 0) {
    final_response(p, type, root);
    stream_terminal(p, "response.incomplete");
  } else if (strcmp(type, "response.failed") == 0) {
    final_response(p, type, root);
    stream_terminal(p, "response.failed");
  } else if (strcmp(type, "error") == 0) {
    /* Not terminal by itself: response.failed may follow; a body that ends after it reports
     * END "error" (see stream_parser_finish). */
    error_event(p, root);
    if (p->at_eof) {
      stream_terminal(p, "error");
    }
  }
  json_decref(root);
}

/* A whole response object: the texts of its output items, then what response.completed would
 * say of it. */
int stream_openai_responses_body(stream_parser *p, json_t *root)
{
  json_t *output = json_object_get(root, "output");
  if (!json_is_array(output) || !json_is_string(json_object_get(root, "status"))) {
    return -1;
  }
  size_t i;
  json_t *item;
  json_array_foreach(output, i, item)
  {
    const char *type = NULL, *s;
    size_t n;
    json_t *content = NULL;
    if (!json_is_object(item) || stream_get_str(p, item, "output[]", "type", &type, &n) <= 0) {
      continue;
    }
    if (strcmp(type, "function_call") == 0) {
      p->function_call_seen = true;
      continue;
    }
    if (strcmp(type, "message") != 0 ||
        stream_get_arr(p, item, "output[]", "content", &content) <= 0) {
      continue;
    }
    size_t j;
    json_t *part;
    json_array_foreach(content, j, part)
    {
      const char *ptype = NULL;
      if (!json_is_object(part) ||
          stream_get_str(p, part, "output[].content[]", "type", &ptype, &n) <= 0) {
        continue;
      }
      if (strcmp(ptype, "output_text") == 0 &&
          stream_get_str(p, part, "output[].content[]", "text", &s, &n) > 0) {
        stream_emit_text(p, STREAM_EV_TEXT, 0, s, n);
      } else if (strcmp(ptype, "refusal") == 0 &&
                 stream_get_str(p, part, "output[].content[]", "refusal", &s, &n) > 0) {
        stream_emit_text(p, STREAM_EV_REFUSAL, 0, s, n);
      }
    }
  }
  json_t *wrapped = json_pack("{s:O}", "response", root);
  final_response(p, "response.completed", wrapped);
  json_decref(wrapped);
  return 0;
}
