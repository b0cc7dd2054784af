/* Anthropic Messages streams. Usage starts in message_start and is overwritten field by field
 * by every non-null field of message_delta's usage, which is cumulative (the SDK's rule; it
 * also takes a cache_read_input_tokens of 0 after compaction at its word). Anthropic's
 * input_tokens excludes cached tokens, so the normalised input adds cache reads and writes. */
#include <string.h>

#include "provider/stream_int.h"

static bool is_terminal(const char *type)
{
  return strcmp(type, "message_stop") == 0 || strcmp(type, "error") == 0;
}

static int merge_usage(stream_parser *p, json_t *u, const char *where)
{
  stream_anthropic_usage n = p->au;
  json_t *details = NULL;
  if (stream_get_count(p, u, where, "input_tokens", &n.input) < 0 ||
      stream_get_count(p, u, where, "cache_read_input_tokens", &n.cache_read) < 0 ||
      stream_get_count(p, u, where, "cache_creation_input_tokens", &n.cache_creation) < 0 ||
      stream_get_count(p, u, where, "output_tokens", &n.output) < 0 ||
      stream_get_obj(p, u, where, "output_tokens_details", &details) < 0) {
    return -1;
  }
  if (details && stream_get_count(p, details, "usage.output_tokens_details", "thinking_tokens",
                                  &n.thinking) < 0) {
    return -1;
  }
  p->au = n;
  stream_usage out;
  stream_usage_init(&out);
  if (n.input >= 0) {
    /* Saturating: a hostile server may send counts near INT64_MAX (the caller judges them). */
    int64_t sum = n.input;
    int64_t parts[2] = {n.cache_read, n.cache_creation};
    for (int i = 0; i < 2; i++) {
      if (parts[i] > 0) {
        sum = parts[i] > INT64_MAX - sum ? INT64_MAX : sum + parts[i];
      }
    }
    out.input_tokens = sum;
  }
  out.cached_input_tokens = n.cache_read;
  out.cache_write_tokens = n.cache_creation;
  out.output_tokens = n.output;
  out.reasoning_tokens = n.thinking;
  stream_emit_usage(p, &out);
  return 0;
}

static stream_finish finish_class(const char *r)
{
  if (strcmp(r, "end_turn") == 0 || strcmp(r, "stop_sequence") == 0) {
    return STREAM_FINISH_STOP;
  }
  if (strcmp(r, "max_tokens") == 0 || strcmp(r, "model_context_window_exceeded") == 0) {
    return STREAM_FINISH_LENGTH;
  }
  if (strcmp(r, "tool_use") == 0) {
    return STREAM_FINISH_TOOL_CALLS;
  }
  if (strcmp(r, "refusal") == 0) {
    return STREAM_FINISH_REFUSAL;
  }
  return STREAM_FINISH_OTHER;
}

static void block_start(stream_parser *p, json_t *root)
{
  uint32_t index = 0;
  json_t *block = NULL;
  const char *btype = NULL, *id = NULL, *name = NULL;
  size_t n, id_len = 0, name_len = 0;
  if (stream_get_index(p, root, "content_block_start", "index", &index) < 0 ||
      stream_get_obj(p, root, "content_block_start", "content_block", &block) <= 0 ||
      stream_get_str(p, block, "content_block", "type", &btype, &n) <= 0 ||
      strcmp(btype, "tool_use") != 0) {
    return;
  }
  if (stream_get_str(p, block, "content_block", "id", &id, &id_len) < 0 ||
      stream_get_str(p, block, "content_block", "name", &name, &name_len) < 0) {
    return;
  }
  stream_tool *t = stream_tool_get(p, 0, index);
  if (!t) {
    return;
  }
  if (id) {
    stream_tool_set(&t->id, id, id_len);
  }
  if (name) {
    stream_tool_set(&t->name, name, name_len);
  }
  stream_event ev = {.kind = STREAM_EV_TOOL_CALL,
                     .text = "",
                     .tool_index = index,
                     .tool_id = t->id,
                     .tool_name = t->name};
  stream_emit(p, &ev);
}

static void block_delta(stream_parser *p, json_t *root)
{
  uint32_t index = 0;
  json_t *delta = NULL;
  const char *dtype = NULL, *s = NULL;
  size_t n, len = 0;
  if (stream_get_index(p, root, "content_block_delta", "index", &index) < 0 ||
      stream_get_obj(p, root, "content_block_delta", "delta", &delta) <= 0 ||
      stream_get_str(p, delta, "content_block_delta.delta", "type", &dtype, &n) <= 0) {
    return;
  }
  if (strcmp(dtype, "text_delta") == 0) {
    if (stream_get_str(p, delta, "content_block_delta.delta", "text", &s, &len) > 0) {
      stream_emit_text(p, STREAM_EV_TEXT, 0, s, len);
    }
  } else if (strcmp(dtype, "thinking_delta") == 0) {
    if (stream_get_str(p, delta, "content_block_delta.delta", "thinking", &s, &len) > 0) {
      stream_emit_text(p, STREAM_EV_REASONING, 0, s, len);
    }
  } else if (strcmp(dtype, "input_json_delta") == 0) {
    if (stream_get_str(p, delta, "content_block_delta.delta", "partial_json", &s, &len) > 0) {
      stream_tool *t = stream_tool_get(p, 0, index);
      if (t) {
        stream_event ev = {.kind = STREAM_EV_TOOL_CALL,
                           .text = s,
                           .len = len,
                           .tool_index = index,
                           .tool_id = t->id,
                           .tool_name = t->name};
        stream_emit(p, &ev);
      }
    }
  }
  /* signature_delta, citations_delta, compaction_delta, ...: nothing to show. */
}

static void message_delta(stream_parser *p, json_t *root)
{
  json_t *delta = NULL, *usage = NULL;
  const char *reason = NULL;
  size_t n;
  if (stream_get_obj(p, root, "message_delta", "delta", &delta) < 0 ||
      stream_get_obj(p, root, "message_delta", "usage", &usage) < 0) {
    return;
  }
  if (delta && stream_get_str(p, delta, "message_delta.delta", "stop_reason", &reason, &n) < 0) {
    return;
  }
  if (usage && merge_usage(p, usage, "message_delta.usage") < 0) {
    return;
  }
  if (reason) {
    stream_emit_finish(p, 0, reason, finish_class(reason));
  }
}

void stream_anthropic_event(stream_parser *p, const char *event, const char *data, size_t len)
{
  data = stream_trim(data, &len);
  if (len == 0) {
    return;
  }
  const char *type = NULL;
  json_t *root = stream_typed_event(p, event, data, len, is_terminal, &type);
  if (!root) {
    return;
  }
  if (strcmp(type, "content_block_delta") == 0) {
    block_delta(p, root);
  } else if (strcmp(type, "content_block_start") == 0) {
    block_start(p, root);
  } else if (strcmp(type, "message_start") == 0) {
    json_t *msg = NULL, *usage = NULL;
    if (stream_get_obj(p, root, "message_start", "message", &msg) > 0 &&
        stream_get_obj(p, msg, "message_start.message", "usage", &usage) > 0) {
      merge_usage(p, usage, "message_start.message.usage");
    }
  } else if (strcmp(type, "message_delta") == 0) {
    message_delta(p, root);
  } else if (strcmp(type, "message_stop") == 0) {
    stream_terminal(p, "message_stop");
  } else if (strcmp(type, "error") == 0) {
    json_t *err = json_object_get(root, "error");
    stream_emit_provider_error(p, err && !json_is_null(err) ? err : root);
    stream_terminal(p, "error");
  }
  json_decref(root);
}

/* A whole message: its text and thinking blocks, its stop reason and usage. */
int stream_anthropic_body(stream_parser *p, json_t *root)
{
  json_t *content = json_object_get(root, "content");
  if (!json_is_array(content)) {
    return -1;
  }
  size_t i;
  json_t *block;
  json_array_foreach(content, i, block)
  {
    const char *type = NULL, *s;
    size_t n;
    if (!json_is_object(block) || stream_get_str(p, block, "content[]", "type", &type, &n) <= 0) {
      continue;
    }
    if (strcmp(type, "text") == 0 && stream_get_str(p, block, "content[]", "text", &s, &n) > 0) {
      stream_emit_text(p, STREAM_EV_TEXT, 0, s, n);
    } else if (strcmp(type, "thinking") == 0 &&
               stream_get_str(p, block, "content[]", "thinking", &s, &n) > 0) {
      stream_emit_text(p, STREAM_EV_REASONING, 0, s, n);
    }
  }
  json_t *usage = NULL;
  const char *reason = NULL;
  size_t n;
  if (stream_get_obj(p, root, "message", "usage", &usage) < 0 ||
      stream_get_str(p, root, "message", "stop_reason", &reason, &n) < 0) {
    return 0;
  }
  if (usage && merge_usage(p, usage, "message.usage") < 0) {
    return 0;
  }
  if (reason) {
    stream_emit_finish(p, 0, reason, finish_class(reason));
  }
  return 0;
}
