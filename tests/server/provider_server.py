#!/usr/bin/python3
"""A local stand-in for the LLM providers frugal talks to, for tests and benchmarks.

Serves, on 127.0.0.1 only, the three wire formats with their real event shapes and realistic
usage objects:

  POST /v1/responses         OpenAI Responses API (SSE with `event:` lines, no [DONE])
  POST /v1/chat/completions  OpenAI Chat Completions (SSE `data:` chunks, then `data: [DONE]`)
  POST /v1/messages          Anthropic Messages (message_start ... message_stop, with ping)

and a control API for tests (`/__script`, `/__requests`, `/__reset`, `/__health`, `/__answer`).
See README.md beside this file for the scripting format. Python 3 standard library only.
"""
import argparse
import collections
import email.utils
import hashlib
import http
import http.server
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse

# OpenAI and Anthropic only cache prompts of at least this many tokens; OpenAI then caches in
# steps of 128 tokens.
MIN_CACHE_TOKENS = 1024
OPENAI_CACHE_STEP = 128
# How many earlier prompts per cache key are compared against a new one.
OPENAI_CACHE_DEPTH = 64
# Streams with no delay are written in batches of about this size: the benchmark wants the
# bytes as fast as the socket takes them, and one syscall per 200-byte event would make the
# Python server, not the client, the bottleneck.
WRITE_BATCH = 64 * 1024
MAX_REQUEST_BODY = 64 * 1024 * 1024
FINGERPRINT = "fp_local0test"

ITEM_KEYS = {
    "text", "words", "events", "chunk_chars", "delay_ms", "first_byte_delay_ms", "status",
    "headers", "body", "error_type", "error_code", "error_message", "fault", "finish", "usage",
    "reasoning",
}

VOCAB = (
    "the", "buffer", "streams", "tokens", "while", "editor", "stays", "responsive", "each",
    "request", "reuses", "one", "connection", "and", "server", "answers", "with", "small",
    "events", "that", "arrive", "quickly", "native", "code", "parses", "every", "byte", "before",
    "lua", "sees", "text", "plugin", "appends", "only", "what", "is", "new", "so", "nothing",
    "blocks", "main", "loop", "function", "returns", "value", "cache", "keeps", "prefix",
    "stable", "cost", "falls", "model", "writes", "short", "answer", "lines", "change", "under",
    "cursor", "test", "checks", "result", "again", "later",
)


# ---------------------------------------------------------------------------------------------
# Text helpers


def generate_words(n):
    """Returns a deterministic text of exactly `n` whitespace-separated words: sentences of 12
    words, paragraphs of 5 sentences."""
    out = []
    for i in range(n):
        w = VOCAB[(i * 7 + i // 13) % len(VOCAB)]
        if i % 12 == 0:
            w = w.capitalize()
        if i % 12 == 11 or i == n - 1:
            w += "."
        out.append(w)
        if i != n - 1:
            out.append("\n\n" if i % 60 == 59 else " ")
    return "".join(out)


def split_text(text, chunk_chars, events):
    """Splits `text` into `events` near-equal pieces, or pieces of `chunk_chars` characters."""
    if not text:
        return []
    if events:
        n = len(text)
        return [text[(i * n) // events:((i + 1) * n) // events] for i in range(events)]
    return [text[i:i + chunk_chars] for i in range(0, len(text), chunk_chars)]


def estimate_tokens(chars):
    return (chars + 3) // 4


def common_prefix_len(a, b):
    """Length of the common prefix of two strings, by bisection on C-speed slice compares."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


FENCE_OPEN = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})(.*)$")


def fenced_blocks(text):
    """Returns [(info, code)] for every closed fenced block in `text`, in order."""
    blocks = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m or (m.group(1)[0] == "`" and "`" in m.group(2)):
            i += 1
            continue
        fence = m.group(1)
        close = re.compile(r"^[ \t]{0,3}" + re.escape(fence[0]) + "{%d,}[ \t]*$" % len(fence))
        for j in range(i + 1, len(lines)):
            if close.match(lines[j]):
                blocks.append((m.group(2).strip(), "\n".join(lines[i + 1:j])))
                i = j
                break
        i += 1
    return blocks


def strip_fenced(text):
    for info, code in fenced_blocks(text):
        text = text.replace(code, "", 1)
    return text


ASKS_FOR_CODE = re.compile(r"fenced|code block", re.IGNORECASE)

EXPLANATION = (
    "**What it does.** The code reads its input, checks each value, and returns the result "
    "to the caller; nothing in it needs to change.\n\n"
    "- It keeps the existing behaviour and error handling.\n"
    "- It has no side effects beyond its return value.\n"
)


def default_answer(prompt_text):
    """The answer given when nothing is scripted: an echo of the request's last fenced block
    when the prompt asks for a fenced code block (so an edit round trip is a no-op), otherwise a
    short markdown explanation."""
    if ASKS_FOR_CODE.search(strip_fenced(prompt_text)):
        blocks = fenced_blocks(prompt_text)
        if blocks:
            info, code = blocks[-1]
            longest = max([len(r) for r in re.findall(r"`+", code)] + [0])
            fence = "`" * max(3, longest + 1)
            return "Here is the code with the change applied:\n\n%s%s\n%s\n%s\n" % (
                fence, info, code, fence)
        return "The request contains no fenced code block to change, so there is nothing to do.\n"
    return EXPLANATION


# ---------------------------------------------------------------------------------------------
# Reading requests: the text a provider would count as prompt tokens


def texts_of(content):
    """The countable text pieces of a message `content` (string or list of parts/blocks)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return []
    out = []
    for part in content:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict):
            out.append(block_text(part))
    return out


def block_text(part):
    if isinstance(part.get("text"), str):
        return part["text"]
    kind = part.get("type")
    if kind == "tool_result":
        return "\n".join(texts_of(part.get("content")))
    if kind == "thinking" and isinstance(part.get("thinking"), str):
        return part["thinking"]
    if kind == "tool_use":
        return json.dumps(part.get("input"), sort_keys=True)
    if isinstance(part.get("arguments"), str):
        return part["arguments"]
    if isinstance(part.get("output"), str):
        return part["output"]
    if "content" in part:
        return "\n".join(texts_of(part.get("content")))
    return ""


def tool_texts(body):
    tools = body.get("tools")
    if not isinstance(tools, list):
        return []
    return [json.dumps({k: v for k, v in t.items() if k != "cache_control"}, sort_keys=True)
            if isinstance(t, dict) else str(t) for t in tools]


def chat_prompt_pieces(body):
    pieces = tool_texts(body)
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        pieces.extend(texts_of(msg.get("content")))
        for call in msg.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                args = call["function"].get("arguments")
                if isinstance(args, str):
                    pieces.append(args)
    return pieces


def responses_prompt_pieces(body):
    pieces = tool_texts(body)
    if isinstance(body.get("instructions"), str):
        pieces.append(body["instructions"])
    inp = body.get("input")
    if isinstance(inp, str):
        pieces.append(inp)
    elif isinstance(inp, list):
        for item in inp:
            if isinstance(item, str):
                pieces.append(item)
            elif isinstance(item, dict):
                if "content" in item:
                    pieces.extend(texts_of(item.get("content")))
                else:
                    pieces.append(block_text(item))
    return pieces


def anthropic_blocks(body):
    """The prompt as Anthropic caches it: tools, then system, then messages, one entry per
    block as (identity, text, cache_control or None)."""
    blocks = []
    for t in body.get("tools") or []:
        if isinstance(t, dict):
            text = json.dumps({k: v for k, v in t.items() if k != "cache_control"},
                              sort_keys=True)
            blocks.append((("tool", text), text, t.get("cache_control")))
    system = body.get("system")
    if isinstance(system, str):
        blocks.append((("system", system), system, None))
    elif isinstance(system, list):
        for b in system:
            if isinstance(b, dict):
                text = block_text(b)
                blocks.append((("system", text), text, b.get("cache_control")))
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        role = str(msg.get("role"))
        content = msg.get("content")
        if isinstance(content, str):
            blocks.append(((role, content), content, None))
        elif isinstance(content, list):
            for b in content:
                if isinstance(b, dict):
                    text = block_text(b)
                    blocks.append(((role, b.get("type"), text), text, b.get("cache_control")))
    top = body.get("cache_control")
    if isinstance(top, dict) and blocks:
        ident, text, cc = blocks[-1]
        blocks[-1] = (ident, text, cc or top)
    return blocks


# ---------------------------------------------------------------------------------------------
# Usage objects


class Accounting:
    """Token counts for one answered request, before they are put in an API's shape."""

    def __init__(self, total_input, output, reasoning):
        self.total_input = total_input  # the whole prompt, cached or not
        self.output = output            # includes reasoning
        self.reasoning = reasoning
        self.cached = 0                 # OpenAI cached_tokens / Anthropic cache_read
        self.cache_creation = 0         # Anthropic only
        self.creation_ttl = "5m"


def chat_usage(acc):
    return {
        "prompt_tokens": acc.total_input,
        "completion_tokens": acc.output,
        "total_tokens": acc.total_input + acc.output,
        "prompt_tokens_details": {"cached_tokens": acc.cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": acc.reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }


def responses_usage(acc):
    return {
        "input_tokens": acc.total_input,
        "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": acc.cached},
        "output_tokens": acc.output,
        "output_tokens_details": {"reasoning_tokens": acc.reasoning},
        "total_tokens": acc.total_input + acc.output,
    }


def anthropic_usage(acc):
    return {
        "input_tokens": acc.total_input - acc.cached - acc.cache_creation,
        "cache_creation_input_tokens": acc.cache_creation,
        "cache_read_input_tokens": acc.cached,
        "cache_creation": {
            "ephemeral_5m_input_tokens": acc.cache_creation if acc.creation_ttl != "1h" else 0,
            "ephemeral_1h_input_tokens": acc.cache_creation if acc.creation_ttl == "1h" else 0,
        },
        "output_tokens": acc.output,
        "service_tier": "standard",
    }


def deep_merge(base, override):
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def apply_usage_override(usage, override, input_key, output_key):
    """Merges a scripted `usage` into the generated one; total_tokens follows unless given."""
    merged = deep_merge(usage, override)
    if "total_tokens" in merged and "total_tokens" not in override:
        a, b = merged.get(input_key), merged.get(output_key)
        if isinstance(a, int) and isinstance(b, int):
            merged["total_tokens"] = a + b
    return merged


# ---------------------------------------------------------------------------------------------
# Scripts


class ScriptError(ValueError):
    pass


def parse_fault(fault):
    """Turns the `fault` field (null, a string or a list of strings) into a dict."""
    out = {}
    if fault is None:
        return out
    items = fault if isinstance(fault, list) else [fault]
    for f in items:
        if not isinstance(f, str):
            raise ScriptError("fault must be a string or a list of strings")
        name, _, arg = f.partition(":")
        if name in ("drop_after_bytes", "stall_ms"):
            if not arg.isdigit():
                raise ScriptError("fault %r needs a number: %s:N" % (f, name))
            out[name] = int(arg)
        elif name in ("midstream_error", "malformed", "no_terminator") and not arg:
            out[name] = True
        else:
            raise ScriptError("unknown fault %r" % f)
    return out


def validate_item(item, index):
    """Checks one scripted response and returns it normalised; raises ScriptError."""
    where = "item %d: " % index
    if not isinstance(item, dict):
        raise ScriptError(where + "must be an object")
    unknown = sorted(set(item) - ITEM_KEYS)
    if unknown:
        raise ScriptError(where + "unknown key(s) " + ", ".join(unknown))
    it = dict(item)

    def number(key, default, low=0):
        v = it.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise ScriptError(where + "%s must be an integer >= %d" % (key, low))
        return v

    it["chunk_chars"] = number("chunk_chars", 8, 1)
    it["delay_ms"] = number("delay_ms", 0)
    it["first_byte_delay_ms"] = number("first_byte_delay_ms", 0)
    it["status"] = number("status", 200, 100)
    if "text" in it and "words" in it:
        raise ScriptError(where + "give text or words, not both")
    if "words" in it:
        it["text"] = generate_words(number("words", 0))
    if "text" in it and not isinstance(it["text"], str):
        raise ScriptError(where + "text must be a string")
    if "events" in it:
        n = number("events", 1, 1)
        if "text" not in it:
            raise ScriptError(where + "events needs text or words")
        if n > len(it["text"]):
            raise ScriptError(where + "events (%d) exceeds the text's %d characters"
                              % (n, len(it["text"])))
    for key in ("reasoning", "body", "error_type", "error_code", "error_message"):
        if key in it and it[key] is not None and not isinstance(it[key], str):
            raise ScriptError(where + key + " must be a string")
    if it.get("finish", "stop") not in ("stop", "length"):
        raise ScriptError(where + 'finish must be "stop" or "length"')
    if "usage" in it and it["usage"] is not None and not isinstance(it["usage"], dict):
        raise ScriptError(where + "usage must be an object or null")
    headers = it.get("headers", {})
    if not isinstance(headers, dict):
        raise ScriptError(where + "headers must be an object")
    it["headers"] = {str(k): str(v) for k, v in headers.items()}
    it["fault"] = parse_fault(it.get("fault"))
    return it


# ---------------------------------------------------------------------------------------------
# Event streams. Each builder returns a list of events; an event is (kind, bytes) where kind is
# "text" for a visible-text delta, "end" for the API's terminator, or "other".


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def sse(name, obj):
    return b"event: " + name.encode() + b"\ndata: " + dumps(obj) + b"\n\n"


def sse_data(obj):
    return b"data: " + dumps(obj) + b"\n\n"


def new_id(server, prefix, length=24):
    return prefix + server.next_hex(length)


class Reply:
    """What one request is answered with: text, reasoning, finish and usage, plus ids."""

    def __init__(self, server, body, item):
        self.body = body
        self.model = body.get("model") if isinstance(body.get("model"), str) else "unknown"
        self.text = item.get("text", "")
        self.reasoning = item.get("reasoning") or ""
        self.finish = item.get("finish", "stop")
        self.chunk_chars = item.get("chunk_chars", 8)
        self.events = item.get("events")
        self.usage_override = item.get("usage", {})
        self.error_type = item.get("error_type")
        self.error_code = item.get("error_code")
        self.error_message = item.get("error_message")
        self.created = int(time.time())
        self.server = server
        self.acc = None

    def text_pieces(self):
        return split_text(self.text, self.chunk_chars, self.events)

    def reasoning_pieces(self):
        return split_text(self.reasoning, self.chunk_chars, None)


class ChatApi:
    name = "chat"
    input_key, output_key = "prompt_tokens", "completion_tokens"

    @staticmethod
    def prompt_pieces(body):
        return chat_prompt_pieces(body)

    @staticmethod
    def validate(body, headers):
        if not isinstance(body.get("model"), str):
            return "invalid_request_error", "model", "you must provide a model parameter"
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return ("invalid_request_error", "messages",
                    "Invalid 'messages': expected a non-empty array.")
        return None

    @staticmethod
    def usage(reply):
        if reply.usage_override is None:
            return None
        return apply_usage_override(chat_usage(reply.acc), reply.usage_override,
                                    "prompt_tokens", "completion_tokens")

    @staticmethod
    def stream(reply):
        cid = new_id(reply.server, "chatcmpl-", 29)
        opts = reply.body.get("stream_options")
        include_usage = isinstance(opts, dict) and opts.get("include_usage") is True
        head = {"id": cid, "object": "chat.completion.chunk", "created": reply.created,
                "model": reply.model, "service_tier": "default",
                "system_fingerprint": FINGERPRINT}

        def chunk(delta, finish=None, kind="other"):
            obj = dict(head)
            obj["choices"] = [{"index": 0, "delta": delta, "logprobs": None,
                               "finish_reason": finish}]
            if include_usage:
                obj["usage"] = None
            return (kind, sse_data(obj))

        out = [chunk({"role": "assistant", "content": "", "refusal": None})]
        # OpenAI itself streams no reasoning on this API; compatible servers (llama.cpp,
        # DeepSeek, vLLM) send it as reasoning_content.
        out += [chunk({"reasoning_content": p}) for p in reply.reasoning_pieces()]
        out += [chunk({"content": p}, kind="text") for p in reply.text_pieces()]
        out.append(chunk({}, finish=reply.finish))
        usage = ChatApi.usage(reply)
        if include_usage and usage is not None:
            obj = dict(head)
            obj["choices"] = []
            obj["usage"] = usage
            out.append(("other", sse_data(obj)))
        out.append(("end", b"data: [DONE]\n\n"))
        return out

    @staticmethod
    def midstream_error(reply, events_so_far):
        err = {"message": reply.error_message or
               "The server had an error while processing your request. Sorry about that!",
               "type": reply.error_type or "server_error", "param": None,
               "code": reply.error_code}
        return [("other", sse_data({"error": err})), ("end", b"data: [DONE]\n\n")]

    @staticmethod
    def json_body(reply):
        usage = ChatApi.usage(reply)
        obj = {
            "id": new_id(reply.server, "chatcmpl-", 29), "object": "chat.completion",
            "created": reply.created, "model": reply.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text,
                                                 "refusal": None, "annotations": []},
                         "logprobs": None, "finish_reason": reply.finish}],
            "service_tier": "default", "system_fingerprint": FINGERPRINT,
        }
        if reply.reasoning:
            obj["choices"][0]["message"]["reasoning_content"] = reply.reasoning
        if usage is not None:
            obj["usage"] = usage
        # OpenAI pretty-prints non-streaming bodies.
        return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()

    @staticmethod
    def error_body(server, status, etype, code, message, param=None, request_id=None):
        return dumps({"error": {"message": message, "type": etype, "param": param,
                                "code": code}})

    error_defaults = {
        400: ("invalid_request_error", None, "Invalid request."),
        401: ("invalid_request_error", "invalid_api_key",
              "Incorrect API key provided. You can find your API key at "
              "https://platform.openai.com/account/api-keys."),
        403: ("invalid_request_error", "unsupported_country_region_territory",
              "Country, region, or territory not supported"),
        404: ("invalid_request_error", "model_not_found",
              "The model does not exist or you do not have access to it."),
        408: ("server_error", "timeout", "Request timed out."),
        409: ("invalid_request_error", "conflict", "Conflict."),
        422: ("invalid_request_error", None, "Unprocessable request."),
        429: ("tokens", "rate_limit_exceeded",
              "Rate limit reached for gpt-5.4 in organization org-local on tokens per min "
              "(TPM): Limit 30000, Used 30000, Requested 1000. Please try again in 2s."),
        500: ("server_error", None,
              "The server had an error while processing your request. Sorry about that!"),
        502: ("server_error", None, "Bad gateway."),
        503: ("server_error", "server_is_overloaded",
              "The engine is currently overloaded, please try again later"),
    }

    @staticmethod
    def extra_headers(server, status):
        h = {"x-request-id": new_id(server, "req_", 32), "openai-processing-ms": "12",
             "openai-version": "2020-10-01"}
        if status == 200:
            h.update({"x-ratelimit-limit-requests": "5000",
                      "x-ratelimit-remaining-requests": "4999",
                      "x-ratelimit-limit-tokens": "2000000",
                      "x-ratelimit-remaining-tokens": "1999000",
                      "x-ratelimit-reset-requests": "12ms", "x-ratelimit-reset-tokens": "30ms"})
        return h


class ResponsesApi(ChatApi):
    name = "responses"
    input_key, output_key = "input_tokens", "output_tokens"

    @staticmethod
    def prompt_pieces(body):
        return responses_prompt_pieces(body)

    @staticmethod
    def validate(body, headers):
        if not isinstance(body.get("model"), str):
            return "invalid_request_error", "model", "Missing required parameter: 'model'."
        return None

    @staticmethod
    def usage(reply):
        if reply.usage_override is None:
            return None
        return apply_usage_override(responses_usage(reply.acc), reply.usage_override,
                                    "input_tokens", "output_tokens")

    @staticmethod
    def response_object(reply, rid, status):
        body = reply.body
        reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
        return {
            "id": rid, "object": "response", "created_at": reply.created, "status": status,
            "background": False, "completed_at": None, "error": None,
            "incomplete_details": None, "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"), "model": reply.model,
            "output": [], "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"),
            "prompt_cache_key": body.get("prompt_cache_key"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "safety_identifier": None, "service_tier": "default",
            "store": body.get("store", True), "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"}, "tool_choice": "auto",
            "tools": [], "top_p": 1.0, "truncation": "disabled", "usage": None, "user": None,
            "metadata": {},
        }

    @staticmethod
    def output_items(reply, rs_id, msg_id):
        items = []
        if reply.reasoning:
            items.append({"id": rs_id, "type": "reasoning",
                          "summary": [{"type": "summary_text", "text": reply.reasoning}]})
        items.append({"id": msg_id, "type": "message",
                      "status": "completed" if reply.finish == "stop" else "incomplete",
                      "content": [{"type": "output_text", "annotations": [], "logprobs": [],
                                   "text": reply.text}],
                      "role": "assistant"})
        return items

    @staticmethod
    def final_object(reply, rid, rs_id, msg_id):
        status = "completed" if reply.finish == "stop" else "incomplete"
        obj = ResponsesApi.response_object(reply, rid, status)
        obj["completed_at"] = int(time.time()) if status == "completed" else None
        if status == "incomplete":
            obj["incomplete_details"] = {"reason": "max_output_tokens"}
        obj["output"] = ResponsesApi.output_items(reply, rs_id, msg_id)
        obj["usage"] = ResponsesApi.usage(reply)
        return obj

    @staticmethod
    def stream(reply):
        server = reply.server
        rid = reply.response_id
        rs_id, msg_id = new_id(server, "rs_", 48), new_id(server, "msg_", 48)
        seq = [0]
        out = []

        def ev(kind, obj):
            obj = dict({"type": obj["type"]}, **obj)  # type first, as the API sends it
            obj["sequence_number"] = seq[0]
            seq[0] += 1
            out.append((kind, sse(obj["type"], obj)))

        ev("other", {"type": "response.created",
                     "response": ResponsesApi.response_object(reply, rid, "in_progress")})
        ev("other", {"type": "response.in_progress",
                     "response": ResponsesApi.response_object(reply, rid, "in_progress")})
        index = 0
        if reply.reasoning:
            ev("other", {"type": "response.output_item.added", "output_index": 0,
                         "item": {"id": rs_id, "type": "reasoning", "summary": []}})
            ref = {"item_id": rs_id, "output_index": 0, "summary_index": 0}
            ev("other", dict(ref, type="response.reasoning_summary_part.added",
                             part={"type": "summary_text", "text": ""}))
            for p in reply.reasoning_pieces():
                ev("other", dict(ref, type="response.reasoning_summary_text.delta", delta=p))
            ev("other", dict(ref, type="response.reasoning_summary_text.done",
                             text=reply.reasoning))
            ev("other", dict(ref, type="response.reasoning_summary_part.done",
                             part={"type": "summary_text", "text": reply.reasoning}))
            ev("other", {"type": "response.output_item.done", "output_index": 0,
                         "item": ResponsesApi.output_items(reply, rs_id, msg_id)[0]})
            index = 1
        ev("other", {"type": "response.output_item.added", "output_index": index,
                     "item": {"id": msg_id, "type": "message", "status": "in_progress",
                              "content": [], "role": "assistant"}})
        ref = {"item_id": msg_id, "output_index": index, "content_index": 0}
        empty_part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        ev("other", dict(ref, type="response.content_part.added", part=empty_part))
        for p in reply.text_pieces():
            ev("text", dict(ref, type="response.output_text.delta", delta=p, logprobs=[]))
        ev("other", dict(ref, type="response.output_text.done", text=reply.text, logprobs=[]))
        ev("other", dict(ref, type="response.content_part.done",
                         part=dict(empty_part, text=reply.text)))
        ev("other", {"type": "response.output_item.done", "output_index": index,
                     "item": ResponsesApi.output_items(reply, rs_id, msg_id)[-1]})
        final = ResponsesApi.final_object(reply, rid, rs_id, msg_id)
        name = "response.completed" if final["status"] == "completed" else "response.incomplete"
        ev("end", {"type": name, "response": final})
        reply.seq = seq
        return out

    @staticmethod
    def midstream_error(reply, events_so_far):
        seq = events_so_far  # sequence numbers start at 0, one per event
        code = reply.error_code or "server_error"
        message = reply.error_message or "The model failed to generate a response."
        failed = ResponsesApi.response_object(reply, reply.response_id, "failed")
        failed["error"] = {"code": code, "message": message}
        return [
            ("other", sse("error", {"type": "error", "code": code, "message": message,
                                    "param": None, "sequence_number": seq})),
            ("other", sse("response.failed", {"type": "response.failed", "response": failed,
                                              "sequence_number": seq + 1})),
        ]

    @staticmethod
    def json_body(reply):
        server = reply.server
        obj = ResponsesApi.final_object(reply, reply.response_id, new_id(server, "rs_", 48),
                                        new_id(server, "msg_", 48))
        return dumps(obj)


class AnthropicApi:
    name = "anthropic"
    input_key, output_key = "input_tokens", "output_tokens"

    @staticmethod
    def validate(body, headers):
        if "anthropic-version" not in headers:
            return ("invalid_request_error", None,
                    "anthropic-version: header is required")
        if not isinstance(body.get("model"), str):
            return "invalid_request_error", None, "model: Field required"
        if not isinstance(body.get("max_tokens"), int):
            return "invalid_request_error", None, "max_tokens: Field required"
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return "invalid_request_error", None, "messages: at least one message is required"
        return None

    @staticmethod
    def usage(reply):
        if reply.usage_override is None:
            return None
        return deep_merge(anthropic_usage(reply.acc), reply.usage_override)

    @staticmethod
    def stop_reason(reply):
        return "end_turn" if reply.finish == "stop" else "max_tokens"

    @staticmethod
    def stream(reply):
        server = reply.server
        out = []
        usage = AnthropicApi.usage(reply)
        message = {"id": new_id(server, "msg_01", 22), "type": "message", "role": "assistant",
                   "model": reply.model, "content": [], "stop_reason": None,
                   "stop_sequence": None}
        if usage is not None:
            # Output tokens so far: the API reports a small number here and the total later.
            message["usage"] = dict(usage, output_tokens=min(1, usage.get("output_tokens", 1)))
        out.append(("other", sse("message_start", {"type": "message_start",
                                                   "message": message})))
        index = 0
        if reply.reasoning:
            out.append(("other", sse("content_block_start", {
                "type": "content_block_start", "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""}})))
            for p in reply.reasoning_pieces():
                out.append(("other", sse("content_block_delta", {
                    "type": "content_block_delta", "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": p}})))
            out.append(("other", sse("content_block_delta", {
                "type": "content_block_delta", "index": 0,
                "delta": {"type": "signature_delta",
                          "signature": "sig" + server.next_hex(40)}})))
            out.append(("other", sse("content_block_stop",
                                     {"type": "content_block_stop", "index": 0})))
            index = 1
        out.append(("other", sse("content_block_start", {
            "type": "content_block_start", "index": index,
            "content_block": {"type": "text", "text": ""}})))
        out.append(("other", b'event: ping\ndata: {"type": "ping"}\n\n'))
        for p in reply.text_pieces():
            out.append(("text", sse("content_block_delta", {
                "type": "content_block_delta", "index": index,
                "delta": {"type": "text_delta", "text": p}})))
        out.append(("other", sse("content_block_stop",
                                 {"type": "content_block_stop", "index": index})))
        delta = {"type": "message_delta",
                 "delta": {"stop_reason": AnthropicApi.stop_reason(reply),
                           "stop_sequence": None}}
        if usage is not None:
            # message_delta usage is cumulative and repeats the input side.
            delta["usage"] = {k: usage[k] for k in (
                "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
                "output_tokens") if k in usage}
        out.append(("other", sse("message_delta", delta)))
        out.append(("end", sse("message_stop", {"type": "message_stop"})))
        return out

    @staticmethod
    def midstream_error(reply, events_so_far):
        err = {"type": reply.error_type or "overloaded_error",
               "message": reply.error_message or "Overloaded"}
        return [("other", sse("error", {"type": "error", "error": err}))]

    @staticmethod
    def json_body(reply):
        server = reply.server
        content = []
        if reply.reasoning:
            content.append({"type": "thinking", "thinking": reply.reasoning,
                             "signature": "sig" + server.next_hex(40)})
        content.append({"type": "text", "text": reply.text})
        obj = {"id": new_id(server, "msg_01", 22), "type": "message", "role": "assistant",
               "model": reply.model, "content": content,
               "stop_reason": AnthropicApi.stop_reason(reply), "stop_sequence": None}
        usage = AnthropicApi.usage(reply)
        if usage is not None:
            obj["usage"] = usage
        return dumps(obj)

    @staticmethod
    def error_body(server, status, etype, code, message, param=None, request_id=None):
        return dumps({"type": "error", "error": {"type": etype, "message": message},
                      "request_id": request_id or new_id(server, "req_011C", 20)})

    error_defaults = {
        400: ("invalid_request_error", None, "Invalid request."),
        401: ("authentication_error", None, "invalid x-api-key"),
        402: ("billing_error", None, "Your credit balance is too low to access the API."),
        403: ("permission_error", None, "Your API key does not have permission to use the "
              "specified resource."),
        404: ("not_found_error", None, "The requested resource could not be found."),
        413: ("request_too_large", None, "Request exceeds the maximum allowed number of bytes."),
        429: ("rate_limit_error", None, "This request would exceed the rate limit for your "
              "organization of 30,000 input tokens per minute. Please try again later."),
        500: ("api_error", None, "Internal server error"),
        504: ("timeout_error", None, "Request timed out"),
        529: ("overloaded_error", None, "Overloaded"),
    }

    @staticmethod
    def extra_headers(server, status):
        h = {"request-id": new_id(server, "req_011C", 20)}
        if status == 200:
            reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
            for kind, limit in (("requests", 4000), ("tokens", 2000000),
                                ("input-tokens", 2000000), ("output-tokens", 400000)):
                h["anthropic-ratelimit-%s-limit" % kind] = str(limit)
                h["anthropic-ratelimit-%s-remaining" % kind] = str(limit - 1)
                h["anthropic-ratelimit-%s-reset" % kind] = reset
        else:
            retry = status in (408, 409, 429) or status >= 500
            h["x-should-retry"] = "true" if retry else "false"
        return h


API_PATHS = {
    "/v1/chat/completions": ChatApi,
    "/v1/responses": ResponsesApi,
    "/v1/messages": AnthropicApi,
}


def default_error(api, status):
    if status in api.error_defaults:
        return api.error_defaults[status]
    if api is AnthropicApi:
        return ("api_error" if status >= 500 else "invalid_request_error", None,
                "Error %d." % status)
    return ("server_error" if status >= 500 else "invalid_request_error", None,
            "Error %d." % status)


# ---------------------------------------------------------------------------------------------
# Server state


class State:
    """Everything the control API can see or change; one lock guards it all."""

    def __init__(self):
        self.lock = threading.Lock()
        self.script = collections.deque()
        self.log = []
        self.openai_cache = {}      # (path, prompt_cache_key or "") -> deque of prompt texts
        self.anthropic_cache = {}   # prefix digest -> prefix tokens
        self.stored_responses = {}  # response id -> conversation text up to and incl. answer
        self.counter = 0
        self.seed = os.urandom(8).hex()

    def reset(self, keep_cache=False):
        with self.lock:
            self.script.clear()
            self.log = []
            if not keep_cache:
                self.openai_cache = {}
                self.anthropic_cache = {}
                self.stored_responses = {}

    def next_hex(self, length):
        with self.lock:
            self.counter += 1
            n = self.counter
        h = hashlib.sha256(("%s:%d" % (self.seed, n)).encode()).hexdigest()
        while len(h) < length:
            h += hashlib.sha256(h.encode()).hexdigest()
        return h[:length]

    def account_openai(self, path, key, prompt, output, reasoning):
        acc = Accounting(max(1, estimate_tokens(len(prompt))), output, reasoning)
        with self.lock:
            seen = self.openai_cache.setdefault((path, key), collections.deque(
                maxlen=OPENAI_CACHE_DEPTH))
            best = max([common_prefix_len(prompt, p) for p in seen] + [0])
            seen.append(prompt)
        tokens = best // 4
        if tokens >= MIN_CACHE_TOKENS:
            acc.cached = min(tokens // OPENAI_CACHE_STEP * OPENAI_CACHE_STEP, acc.total_input)
        return acc

    def account_anthropic(self, blocks, output, reasoning):
        texts = [b[1] for b in blocks]
        total = max(1, estimate_tokens(len("\n".join(texts))))
        acc = Accounting(total, output, reasoning)
        breakpoints = [i for i, b in enumerate(blocks) if isinstance(b[2], dict)]
        if not breakpoints:
            return acc
        last = breakpoints[-1]
        digests, tokens, h, chars = [], [], hashlib.sha256(), -1
        for i, b in enumerate(blocks[:last + 1]):
            h.update(json.dumps(b[0]).encode())
            digests.append(h.copy().hexdigest())
            chars += len(b[1]) + 1
            tokens.append(estimate_tokens(chars))
        with self.lock:
            hit = -1
            for i in range(last, -1, -1):
                if digests[i] in self.anthropic_cache:
                    hit = i
                    break
            read = tokens[hit] if hit >= 0 else 0
            for i in breakpoints:
                if tokens[i] >= MIN_CACHE_TOKENS:
                    self.anthropic_cache[digests[i]] = tokens[i]
        acc.cached = read
        if last > hit and tokens[last] >= MIN_CACHE_TOKENS:
            acc.cache_creation = tokens[last] - read
            acc.creation_ttl = blocks[last][2].get("ttl", "5m")
        return acc


REDACTED_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "api-key")


def redact(name, value):
    """Hides a credential, keeping the scheme and (for values of 8+ chars) the last 4 chars."""
    scheme = ""
    token = value
    if name.endswith("authorization") and " " in value:
        scheme, _, token = value.partition(" ")
        scheme += " "
    last4 = token[-4:] if len(token) >= 8 else None
    shown = scheme + "REDACTED" + ("..." + last4 if last4 else "")
    return shown, {"present": True, "scheme": scheme.strip() or None, "last4": last4}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "frugal-test-provider/1"
    sys_version = ""

    def setup(self):
        super().setup()
        self.conn_id = self.server.next_connection()
        self.conn_requests = 0

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("provider_server: %s\n" % (fmt % args))

    # -- plumbing ---------------------------------------------------------------------------

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                if len(data) + size > MAX_REQUEST_BODY:
                    raise ValueError("request body too large")
                data += self.rfile.read(size)
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def head_bytes(self, status, headers):
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = {529: "Overloaded"}.get(status, "Status %d" % status)
        lines = ["HTTP/1.1 %d %s" % (status, phrase),
                 "Date: " + email.utils.formatdate(usegmt=True),
                 "Server: " + self.server_version]
        if self.close_connection:
            headers = dict(headers, Connection="close")
        lines += ["%s: %s" % (k, v) for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send_simple(self, status, body, content_type="application/json", extra=None):
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        headers.update(extra or {})
        self.wfile.write(self.head_bytes(status, headers) + body)

    def send_json(self, status, obj):
        self.send_simple(status, dumps(obj) + b"\n")

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- methods ----------------------------------------------------------------------------

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        self.conn_requests += 1
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if self.headers.get("Connection", "").lower() == "close":
            self.close_connection = True
        try:
            raw = self.read_body()
        except (ValueError, OSError) as e:
            self.close_connection = True
            self.send_json(413, {"error": {"message": str(e), "type": "invalid_request_error",
                                           "param": None, "code": None}})
            return
        try:
            if path.startswith("/__"):
                self.control(method, path, url.query, raw)
            else:
                self.api(method, path, url.query, raw)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- control API ------------------------------------------------------------------------

    def control(self, method, path, query, raw):
        state = self.server.state
        if path == "/__health" and method == "GET":
            self.send_json(200, {"ok": True, "port": self.server.server_address[1]})
        elif path == "/__script" and method == "POST":
            try:
                spec = json.loads(raw or b"[]")
                append = False
                if isinstance(spec, dict):
                    append = bool(spec.get("append"))
                    spec = spec.get("responses")
                if not isinstance(spec, list):
                    raise ScriptError("expected a JSON list of responses")
                items = [validate_item(it, i) for i, it in enumerate(spec)]
            except (ValueError, ScriptError) as e:
                self.send_json(400, {"error": str(e)})
                return
            with state.lock:
                if not append:
                    state.script.clear()
                state.script.extend(items)
                n = len(state.script)
            self.send_json(200, {"queued": n})
        elif path == "/__script" and method == "GET":
            with state.lock:
                n = len(state.script)
            self.send_json(200, {"pending": n})
        elif path == "/__requests" and method == "GET":
            with state.lock:
                entries = json.loads(json.dumps(state.log))
            self.send_json(200, entries)
        elif path == "/__reset" and method == "POST":
            try:
                opts = json.loads(raw) if raw.strip() else {}
            except ValueError:
                opts = {}
            state.reset(keep_cache=isinstance(opts, dict) and bool(opts.get("keep_cache")))
            self.send_json(200, {"ok": True})
        elif path == "/__answer" and method == "GET":
            q = urllib.parse.parse_qs(query)
            try:
                n = int(q.get("words", ["0"])[0])
            except ValueError:
                n = -1
            if n < 0:
                self.send_json(400, {"error": "words must be a number >= 0"})
                return
            self.send_simple(200, generate_words(n).encode(), "text/plain; charset=utf-8")
        else:
            self.send_json(404, {"error": "unknown control endpoint %s %s" % (method, path)})

    # -- provider API -----------------------------------------------------------------------

    def log_request_entry(self, method, path, query, raw):
        headers = {}
        auth = {}
        for name, value in self.headers.items():
            lname = name.lower()
            if lname in REDACTED_HEADERS:
                value, auth[lname] = redact(lname, value)
            headers[lname] = headers[lname] + ", " + value if lname in headers else value
        try:
            body = json.loads(raw) if raw else None
            body_error = None
        except ValueError as e:
            body, body_error = None, str(e)
        entry = {"method": method, "path": path, "query": query,
                 "http_version": self.request_version, "connection": self.conn_id,
                 "connection_request": self.conn_requests, "time": time.time(),
                 "headers": headers, "auth": auth, "body": body, "body_bytes": len(raw),
                 "status": None, "outcome": "pending", "scripted": False, "answer": None,
                 "usage": None}
        if body_error is not None:
            entry["body_error"] = body_error
            entry["body_raw"] = raw[:65536].decode("utf-8", "replace")
        with self.server.state.lock:
            entry["seq"] = len(self.server.state.log)
            self.server.state.log.append(entry)
        return entry, body, body_error

    def finish_entry(self, entry, **fields):
        with self.server.state.lock:
            entry.update(fields)

    def api(self, method, path, query, raw):
        entry, body, body_error = self.log_request_entry(method, path, query, raw)
        api = API_PATHS.get(path)
        envelope = api or (AnthropicApi if path.endswith("/messages") else ChatApi)
        server = self.server.state

        def reject(status, etype, code, message, param=None):
            extra = envelope.extra_headers(server, status)
            self.send_simple(status, envelope.error_body(server, status, etype, code, message,
                                                         param, extra.get("request-id")),
                             extra=extra)
            self.finish_entry(entry, status=status, outcome="rejected")

        if api is None:
            return reject(404, "not_found_error" if envelope is AnthropicApi
                          else "invalid_request_error", "unknown_url",
                          "Unknown request URL: %s %s." % (method, path))
        if method != "POST":
            return reject(405, "invalid_request_error", "method_not_allowed",
                          "Method %s is not allowed on %s; use POST." % (method, path))
        if body_error is not None or not isinstance(body, dict):
            return reject(400, "invalid_request_error", None,
                          "We could not parse the JSON body of your request. (%s)"
                          % (body_error or "expected a JSON object"))
        lower_headers = {k.lower() for k in self.headers.keys()}
        problem = api.validate(body, lower_headers)
        if problem:
            return reject(400, problem[0], None, problem[2], problem[1])
        prev = body.get("previous_response_id") if api is ResponsesApi else None
        if prev is not None:
            with server.lock:
                prev_text = server.stored_responses.get(prev)
            if prev_text is None:
                return reject(400, "invalid_request_error", "previous_response_not_found",
                              "Previous response with id '%s' not found." % prev,
                              "previous_response_id")
        with server.lock:
            item = server.script.popleft() if server.script else None
        scripted = item is not None
        if item is None:
            item = validate_item({}, 0)
        self.finish_entry(entry, scripted=scripted)
        if item["first_byte_delay_ms"]:
            time.sleep(item["first_byte_delay_ms"] / 1000.0)
        status = item["status"]
        # Logged now, not after the last byte: a client that has read the whole response and
        # then reads the log must find the status there (the outcome stays "pending" until the
        # handler is done).
        self.finish_entry(entry, status=status)
        headers = api.extra_headers(server, status)
        fault = item["fault"]
        stream = body.get("stream") is True

        if status != 200:
            if item.get("body") is not None:
                payload = item["body"].encode()
            else:
                etype, code, message = default_error(api, status)
                etype = item.get("error_type") or etype
                code = item.get("error_code") or code
                message = item.get("error_message") or message
                payload = api.error_body(server, status, etype, code, message, None,
                                         headers.get("request-id"))
            headers["Content-Type"] = "application/json"
            headers.update(item["headers"])
            self.send_fixed(entry, status, headers, payload, fault)
            return

        pieces = api.prompt_pieces(body) if api is not AnthropicApi else None
        prompt = "\n".join(pieces) if pieces is not None else "\n".join(
            b[1] for b in anthropic_blocks(body))
        if prev is not None:
            prompt = prev_text + "\n" + prompt
        if "text" not in item:
            item = dict(item, text=default_answer(prompt))
        reply = Reply(server, body, item)
        reasoning_tokens = estimate_tokens(len(reply.reasoning))
        output = max(1, estimate_tokens(len(reply.text))) + reasoning_tokens
        if api is AnthropicApi:
            reply.acc = server.account_anthropic(anthropic_blocks(body), output,
                                                 reasoning_tokens)
        else:
            key = body.get("prompt_cache_key")
            reply.acc = server.account_openai(path, key if isinstance(key, str) else "",
                                              prompt, output, reasoning_tokens)
        if api is ResponsesApi:
            reply.response_id = new_id(server, "resp_", 50)
            if body.get("store", True) is not False:
                with server.lock:
                    server.stored_responses[reply.response_id] = prompt + "\n" + reply.text
            headers["x-response-id"] = reply.response_id
        self.finish_entry(entry, answer=reply.text, usage=api.usage(reply))

        if item.get("body") is not None:
            headers["Content-Type"] = ("text/event-stream; charset=utf-8" if stream
                                       else "application/json")
            headers.update(item["headers"])
            if stream:
                self.send_stream(entry, headers, [("other", item["body"].encode())], fault,
                                 item["delay_ms"])
            else:
                self.send_fixed(entry, 200, headers, item["body"].encode(), fault)
            return
        if not stream:
            headers["Content-Type"] = "application/json"
            headers.update(item["headers"])
            self.send_fixed(entry, 200, headers, api.json_body(reply), fault)
            return
        events = api.stream(reply)
        events = self.apply_faults(api, reply, events, fault)
        headers["Content-Type"] = "text/event-stream; charset=utf-8"
        headers["Cache-Control"] = "no-cache"
        headers.update(item["headers"])
        self.send_stream(entry, headers, events, fault, item["delay_ms"])

    @staticmethod
    def apply_faults(api, reply, events, fault):
        """Applies the faults that change the event list (the rest act while sending)."""
        text_at = [i for i, e in enumerate(events) if e[0] == "text"]
        # The middle of the visible text, or just after the first event when there is none.
        mid = text_at[(len(text_at) - 1) // 2] if text_at else 0
        if fault.get("no_terminator"):
            events = [e for e in events if e[0] != "end"]
        if fault.get("malformed"):
            kind, data = events[mid]
            # Cut the closing brace of the JSON: the event still frames correctly.
            cut = data.rstrip(b"\n")
            events[mid] = (kind, cut[:-1] + b"\n\n")
        if fault.get("stall_ms") is not None:
            events = events[:mid + 1] + [("sleep", fault["stall_ms"])] + events[mid + 1:]
        if fault.get("midstream_error"):
            kept = events[:mid + 1]
            n = len([e for e in kept if e[0] != "sleep"])
            tail = api.midstream_error(reply, n)
            if fault.get("no_terminator"):
                tail = [e for e in tail if e[0] != "end"]
            events = kept + tail
        return events

    def send_fixed(self, entry, status, headers, payload, fault):
        """Sends a body with Content-Length, honouring drop_after_bytes and stall_ms."""
        headers = dict(headers, **{"Content-Length": str(len(payload))})
        head = self.head_bytes(status, headers)
        drop = fault.get("drop_after_bytes")
        stall = fault.get("stall_ms")
        if fault.get("malformed") and payload.rstrip().endswith(b"}"):
            payload = payload.rstrip()[:-1]
            head = self.head_bytes(status, dict(headers, **{"Content-Length":
                                                            str(len(payload))}))
        try:
            if drop is not None:
                self.wfile.write(head + payload[:drop])
                # Recorded before the close: a client that reads the log right after EOF must see it.
                self.finish_entry(entry, status=status, outcome="dropped")
                self.drop()
                return
            if stall is not None:
                half = len(payload) // 2
                self.wfile.write(head + payload[:half])
                time.sleep(stall / 1000.0)
                self.wfile.write(payload[half:])
            else:
                self.wfile.write(head + payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            self.finish_entry(entry, status=status, outcome="client_closed")
            return
        self.finish_entry(entry, status=status, outcome="ok")

    def send_stream(self, entry, headers, events, fault, delay_ms):
        """Sends the events, each as one HTTP chunk (or raw bytes for an HTTP/1.0 client)."""
        chunked = self.request_version != "HTTP/1.0"
        if chunked:
            headers = dict(headers, **{"Transfer-Encoding": "chunked"})
        else:
            self.close_connection = True
        drop = fault.get("drop_after_bytes")
        out = bytearray(self.head_bytes(200, headers))
        sent = 0
        delay = delay_ms / 1000.0
        write = self.wfile.write

        def frame(data):
            return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

        try:
            payload_events = [e for e in events if e[0] != "sleep"]
            last = payload_events[-1] if payload_events else None
            for ev in events:
                if ev[0] == "sleep":
                    write(bytes(out))
                    out.clear()
                    time.sleep(ev[1] / 1000.0)
                    continue
                data = ev[1]
                if drop is not None and sent + len(data) > drop:
                    part = data[:drop - sent]
                    if part:
                        out += frame(part)
                    write(bytes(out))
                    self.finish_entry(entry, status=200, outcome="dropped")
                    self.drop()
                    return
                out += frame(data)
                sent += len(data)
                if delay and ev is not last:
                    write(bytes(out))
                    out.clear()
                    time.sleep(delay)
                elif len(out) >= WRITE_BATCH:
                    write(bytes(out))
                    out.clear()
            if drop is not None:
                write(bytes(out))
                self.finish_entry(entry, status=200, outcome="dropped")
                self.drop()
                return
            if chunked:
                out += b"0\r\n\r\n"
            write(bytes(out))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            self.finish_entry(entry, status=200, outcome="client_closed")
            return
        self.finish_entry(entry, status=200, outcome="ok", body_bytes_sent=sent)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port, verbose=False):
        self.state = State()
        self.verbose = verbose
        self._conn_lock = threading.Lock()
        self._conn_count = 0
        super().__init__(("127.0.0.1", port), Handler)

    def next_connection(self):
        with self._conn_lock:
            self._conn_count += 1
            return self._conn_count

    def handle_error(self, request, client_address):
        if self.verbose:
            traceback.print_exc()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Local LLM provider stand-in for frugal's tests.")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--port-file", help="write the port number to this file")
    ap.add_argument("--exit-on-stdin-eof", action="store_true",
                    help="stop when stdin is closed (the parent went away)")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    ap.add_argument("--print-words", type=int, metavar="N",
                    help="print the deterministic N-word answer and exit")
    args = ap.parse_args(argv)
    if args.print_words is not None:
        sys.stdout.write(generate_words(args.print_words))
        return 0

    srv = Server(args.port, args.verbose)
    port = srv.server_address[1]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.port_file:
        tmp = args.port_file + ".tmp%d" % os.getpid()
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)  # readers never see a half-written file
    print("PORT %d" % port, flush=True)
    if args.exit_on_stdin_eof:
        def watch_stdin():
            try:
                while os.read(0, 65536):
                    pass
            except OSError:
                pass
            stop.set()
        threading.Thread(target=watch_stdin, daemon=True).start()
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                     daemon=True).start()
    while not stop.wait(0.2):
        pass
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
