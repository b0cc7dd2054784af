"""Tests of the local provider server itself: framing, event shapes, usage, scripting, faults,
keep-alive, the request log and the process lifecycle.

Run: /usr/bin/python3 -m pytest -q tests/server
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "provider_server.py")
PYTHON = "/usr/bin/python3"

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
MESSAGES = "/v1/messages"
ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01"}


def ceil4(n):
    return (n + 3) // 4


def start_server(tmp_dir, *extra):
    port_file = os.path.join(str(tmp_dir), "port")
    proc = subprocess.Popen([PYTHON, SERVER, "--port", "0", "--port-file", port_file] +
                            list(extra), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    line = proc.stdout.readline().decode()
    assert line.startswith("PORT "), "server said %r, stderr %r" % (
        line, proc.stderr.read() if proc.poll() is not None else b"")
    return proc, int(line.split()[1]), port_file


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, port, port_file = start_server(tmp_path_factory.mktemp("srv"), "--exit-on-stdin-eof")
    try:
        yield {"port": port, "port_file": port_file, "proc": proc}
    finally:
        stop(proc)


def stop(proc):
    """Closes stdin and waits; kills the server if it did not exit by itself."""
    if proc.poll() is None:
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@pytest.fixture
def port(server):
    call(server["port"], "POST", "/__reset")
    return server["port"]


def call(port, method, path, body=None, headers=None, conn=None):
    """One request; returns (status, lower-cased headers, raw body bytes)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    raw = resp.read()
    result = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw)
    if own:
        conn.close()
    return result


def script(port, items):
    status, _, raw = call(port, "POST", "/__script", items)
    assert status == 200, raw
    return json.loads(raw)


def requests_log(port):
    return json.loads(call(port, "GET", "/__requests")[2])


def parse_sse(raw):
    """A small WHATWG-style parser: returns [{"event", "data"}] and checks that the stream
    ends on an event boundary."""
    events, name, data = [], None, []
    text = raw.decode("utf-8")
    assert text.endswith("\n\n") or text == "", "stream ends mid-event: %r" % text[-80:]
    for line in text.split("\n"):
        if line == "":
            if data or name is not None:
                events.append({"event": name, "data": "\n".join(data)})
            name, data = None, []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    return events


def chat_body(text="Explain this function.", **extra):
    body = {"model": "gpt-5.4-mini", "stream": True,
            "messages": [{"role": "developer", "content": "You are terse."},
                         {"role": "user", "content": text}]}
    body.update(extra)
    return body


def responses_body(text="Explain this function.", **extra):
    body = {"model": "gpt-5.4", "stream": True, "instructions": "You are terse.",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": text}]}]}
    body.update(extra)
    return body


def anthropic_body(text="Explain this function.", **extra):
    body = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": True,
            "system": "You are terse.", "messages": [{"role": "user", "content": text}]}
    body.update(extra)
    return body


BODIES = {CHAT: chat_body, RESPONSES: responses_body, MESSAGES: anthropic_body}


def post(port, path, body, conn=None, headers=None):
    hdrs = dict(ANTHROPIC_HEADERS) if path == MESSAGES else {}
    hdrs.update(headers or {})
    return call(port, "POST", path, body, hdrs, conn)


def visible_text(path, events):
    out = []
    for ev in events:
        if ev["data"] == "[DONE]":
            continue
        d = json.loads(ev["data"])
        if path == CHAT and d.get("choices"):
            out.append(d["choices"][0]["delta"].get("content") or "")
        elif path == RESPONSES and d["type"] == "response.output_text.delta":
            out.append(d["delta"])
        elif path == MESSAGES and d["type"] == "content_block_delta" and \
                d["delta"]["type"] == "text_delta":
            out.append(d["delta"]["text"])
    return "".join(out)


def collapse(types):
    """Event types with runs of the same type folded into one."""
    out = []
    for t in types:
        if not out or out[-1] != t:
            out.append(t)
    return out


# --- process, port file, health ---------------------------------------------------------------

def test_port_file_and_stdout_name_the_same_listening_port(server):
    with open(server["port_file"]) as f:
        assert int(f.read().strip()) == server["port"]
    status, _, raw = call(server["port"], "GET", "/__health")
    assert status == 200 and json.loads(raw) == {"ok": True, "port": server["port"]}


def test_sigterm_and_stdin_eof_each_stop_the_server(tmp_path):
    (tmp_path / "a").mkdir()
    a, _, _ = start_server(tmp_path / "a")
    try:
        a.send_signal(signal.SIGTERM)
        assert a.wait(timeout=5) == 0
    finally:
        a.kill() if a.poll() is None else None
    b, port_b, _ = start_server(tmp_path, "--exit-on-stdin-eof")
    try:
        assert call(port_b, "GET", "/__health")[0] == 200
        b.stdin.close()
        assert b.wait(timeout=5) == 0
    finally:
        b.kill() if b.poll() is None else None
    with pytest.raises(OSError):
        call(port_b, "GET", "/__health")


# --- Chat Completions ---------------------------------------------------------------------------

def test_chat_stream_is_data_only_chunks_then_done(port):
    text = "Hello, streaming world! Ünïcode ✓ too."
    script(port, [{"text": text, "chunk_chars": 5}])
    status, headers, raw = post(port, CHAT, chat_body())
    assert status == 200
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    assert headers["transfer-encoding"] == "chunked"
    events = parse_sse(raw)
    assert all(ev["event"] is None for ev in events)
    assert events[-1]["data"] == "[DONE]"
    chunks = [json.loads(ev["data"]) for ev in events[:-1]]
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert all(c["object"] == "chat.completion.chunk" and "usage" not in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "",
                                                "refusal": None}
    content = [c for c in chunks if "content" in c["choices"][0]["delta"]][1:]
    assert len(content) == -(-len(text) // 5)
    assert visible_text(CHAT, events) == text
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                        "finish_reason": "stop"}


def test_chat_include_usage_adds_a_usage_chunk_counting_chars_over_four(port):
    text = "x" * 41
    script(port, [{"text": text, "finish": "length"}])
    user = "Explain why " * 30
    body = chat_body(user, stream_options={"include_usage": True})
    events = parse_sse(post(port, CHAT, body)[2])
    chunks = [json.loads(ev["data"]) for ev in events[:-1]]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    last = chunks[-1]
    assert last["choices"] == []
    prompt = ceil4(len("You are terse.\n" + user))
    assert last["usage"] == {
        "prompt_tokens": prompt, "completion_tokens": 11, "total_tokens": prompt + 11,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0}}


def test_chat_reasoning_streams_as_reasoning_content_before_the_answer(port):
    script(port, [{"text": "Answer.", "reasoning": "Think first, then answer."}])
    events = parse_sse(post(port, CHAT, chat_body(stream_options={"include_usage": True}))[2])
    deltas = [json.loads(e["data"])["choices"] for e in events[:-1]]
    deltas = [c[0]["delta"] for c in deltas if c]
    reasoning = "".join(d.get("reasoning_content", "") for d in deltas)
    assert reasoning == "Think first, then answer."
    first_content = next(i for i, d in enumerate(deltas) if d.get("content"))
    assert all("reasoning_content" not in d for d in deltas[first_content:])
    usage = json.loads(events[-2]["data"])["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == ceil4(25)
    assert usage["completion_tokens"] == ceil4(7) + ceil4(25)


# --- Responses ----------------------------------------------------------------------------------

def test_responses_stream_has_named_events_sequence_numbers_and_final_usage(port):
    script(port, [{"text": "Paris is the capital.", "reasoning": "Geography.",
                   "chunk_chars": 4}])
    status, headers, raw = post(port, RESPONSES, responses_body("Capital of France?"))
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = parse_sse(raw)
    datas = [json.loads(e["data"]) for e in events]
    assert all(e["event"] == d["type"] for e, d in zip(events, datas))
    assert [d["sequence_number"] for d in datas] == list(range(len(datas)))
    assert b"[DONE]" not in raw
    assert collapse([d["type"] for d in datas]) == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done",
        "response.output_item.done", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"]
    assert visible_text(RESPONSES, events) == "Paris is the capital."
    assert all(d["output_index"] == 1 for d in datas if d["type"] ==
               "response.output_text.delta")
    final = datas[-1]["response"]
    assert final["status"] == "completed" and final["id"].startswith("resp_")
    assert final["id"] == headers["x-response-id"] == datas[0]["response"]["id"]
    assert datas[0]["response"]["usage"] is None
    assert final["output"][1]["content"][0]["text"] == "Paris is the capital."
    reasoning = ceil4(len("Geography."))
    prompt = ceil4(len("You are terse.\nCapital of France?"))
    assert final["usage"] == {
        "input_tokens": prompt,
        "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 0},
        "output_tokens": ceil4(21) + reasoning,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + ceil4(21) + reasoning}


def test_responses_finish_length_ends_with_response_incomplete(port):
    script(port, [{"text": "cut off", "finish": "length"}])
    datas = [json.loads(e["data"]) for e in parse_sse(post(port, RESPONSES,
                                                           responses_body())[2])]
    assert datas[-1]["type"] == "response.incomplete"
    assert datas[-1]["response"]["status"] == "incomplete"
    assert datas[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_responses_previous_response_id_counts_the_earlier_turn(port):
    script(port, [{"text": "First answer."}, {"text": "Second."}])
    first = json.loads(post(port, RESPONSES, responses_body("One", stream=False))[2])
    assert first["object"] == "response" and first["status"] == "completed"
    body = {"model": "gpt-5.4", "input": "Two", "previous_response_id": first["id"]}
    second = json.loads(post(port, RESPONSES, body)[2])
    expected = ceil4(len("You are terse.\nOne\nFirst answer.\nTwo"))
    assert second["usage"]["input_tokens"] == expected
    status, _, raw = post(port, RESPONSES, dict(body, previous_response_id="resp_nope"))
    assert status == 400
    assert json.loads(raw)["error"]["code"] == "previous_response_not_found"


# --- Anthropic ----------------------------------------------------------------------------------

def test_anthropic_stream_order_ping_and_cumulative_usage(port):
    script(port, [{"text": "Hi there, friend.", "reasoning": "Be kind.", "chunk_chars": 6}])
    status, headers, raw = post(port, MESSAGES, anthropic_body("Hello"))
    assert status == 200 and headers["request-id"].startswith("req_")
    events = parse_sse(raw)
    datas = [json.loads(e["data"]) for e in events]
    assert all(e["event"] == d["type"] for e, d in zip(events, datas))
    assert collapse([d["type"] for d in datas]) == [
        "message_start", "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "ping", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop"]
    assert [e["data"] for e in events if e["event"] == "ping"] == ['{"type": "ping"}']
    thinking = "".join(d["delta"].get("thinking", "") for d in datas
                       if d["type"] == "content_block_delta" and d["index"] == 0)
    assert thinking == "Be kind."
    assert visible_text(MESSAGES, events) == "Hi there, friend."
    start = datas[0]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    prompt = ceil4(len("You are terse.\nHello"))
    assert start["usage"]["input_tokens"] == prompt and start["usage"]["output_tokens"] == 1
    delta = datas[-2]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"] == {"input_tokens": prompt, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 0,
                              "output_tokens": ceil4(17) + ceil4(8)}


def test_anthropic_finish_length_is_max_tokens(port):
    script(port, [{"text": "cut", "finish": "length"}])
    datas = [json.loads(e["data"]) for e in parse_sse(post(port, MESSAGES,
                                                           anthropic_body())[2])]
    assert datas[-2]["delta"]["stop_reason"] == "max_tokens"


def test_anthropic_rejects_missing_version_or_max_tokens_without_using_the_script(port):
    script(port, [{"text": "kept for later"}])
    status, headers, raw = call(port, "POST", MESSAGES, anthropic_body())
    assert status == 400
    err = json.loads(raw)
    assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
    assert "anthropic-version" in err["error"]["message"]
    assert err["request_id"] == headers["request-id"]
    body = anthropic_body()
    del body["max_tokens"]
    status, _, raw = post(port, MESSAGES, body)
    assert status == 400 and "max_tokens" in json.loads(raw)["error"]["message"]
    assert visible_text(MESSAGES, parse_sse(post(port, MESSAGES, anthropic_body())[2])) == \
        "kept for later"


# --- prompt caching -----------------------------------------------------------------------------

def test_openai_reports_cached_tokens_for_a_repeated_long_prefix_on_the_same_key(port):
    system = "Rules: keep the code style. " * 200  # 5600 chars, 1400 tokens
    def usage(key, user):
        body = {"model": "gpt-5.4", "stream": False, "prompt_cache_key": key,
                "messages": [{"role": "system", "content": system},
                             {"role": "user", "content": user}]}
        return json.loads(post(port, CHAT, body)[2])["usage"]

    first = usage("k1", "fix function a")
    assert first["prompt_tokens_details"]["cached_tokens"] == 0
    second = usage("k1", "fix function b")
    common = len(system + "\nfix function ")
    assert second["prompt_tokens_details"]["cached_tokens"] == (common // 4) // 128 * 128
    assert second["prompt_tokens"] == ceil4(len(system + "\nfix function b"))
    assert usage("k2", "fix function b")["prompt_tokens_details"]["cached_tokens"] == 0

    short = {"model": "gpt-5.4", "input": "short prompt", "prompt_cache_key": "k3"}
    post(port, RESPONSES, short)
    again = json.loads(post(port, RESPONSES, short)[2])["usage"]
    assert again["input_tokens_details"]["cached_tokens"] == 0  # under 1024 tokens


def test_anthropic_cache_control_writes_then_reads_the_prefix(port):
    system = "You review C code carefully. " * 200  # 5800 chars
    def usage(user, ttl=None):
        cc = {"type": "ephemeral"}
        if ttl:
            cc["ttl"] = ttl
        body = anthropic_body(user, stream=False,
                              system=[{"type": "text", "text": system, "cache_control": cc}])
        return json.loads(post(port, MESSAGES, body)[2])["usage"]

    prefix = ceil4(len(system))
    first = usage("review a")
    assert first["cache_creation_input_tokens"] == prefix
    assert first["cache_read_input_tokens"] == 0
    assert first["cache_creation"] == {"ephemeral_5m_input_tokens": prefix,
                                       "ephemeral_1h_input_tokens": 0}
    total = ceil4(len(system + "\nreview a"))
    assert first["input_tokens"] == total - prefix
    second = usage("review b")
    assert second["cache_read_input_tokens"] == prefix
    assert second["cache_creation_input_tokens"] == 0
    assert second["input_tokens"] == ceil4(len(system + "\nreview b")) - prefix
    call(port, "POST", "/__reset")
    assert usage("review a", "1h")["cache_creation"]["ephemeral_1h_input_tokens"] == prefix


# --- scripting ----------------------------------------------------------------------------------

def test_events_splits_a_words_answer_into_exactly_n_deltas(port):
    script(port, [{"words": 500, "events": 37}] * 3)
    expected = call(port, "GET", "/__answer?words=500")[2].decode()
    assert len(expected.split()) == 500
    for path in (CHAT, RESPONSES, MESSAGES):
        events = parse_sse(post(port, path, BODIES[path]())[2])
        datas = [json.loads(e["data"]) for e in events if e["data"] != "[DONE]"]
        if path == CHAT:
            n = sum(1 for d in datas if d["choices"] and d["choices"][0]["delta"].get("content"))
        elif path == RESPONSES:
            n = sum(1 for d in datas if d["type"] == "response.output_text.delta")
        else:
            n = sum(1 for d in datas if d["type"] == "content_block_delta")
        assert n == 37, path
        assert visible_text(path, events) == expected


def test_benchmark_stream_of_20000_words_in_11000_events_arrives_whole(port):
    script(port, [{"words": 20000, "events": 11000}])
    t0 = time.monotonic()
    status, _, raw = post(port, CHAT, chat_body())
    elapsed = time.monotonic() - t0
    events = parse_sse(raw)
    assert len(events) == 11000 + 3  # role chunk, finish chunk, [DONE]
    text = visible_text(CHAT, events)
    assert len(text.split()) == 20000
    assert requests_log(port)[-1]["answer"] == text
    print("\n20,000 words / 11,000 events: %d bytes in %.3f s" % (len(raw), elapsed))


def test_script_is_consumed_in_order_then_the_default_answer(port):
    assert script(port, [{"text": "one"}, {"text": "two"}]) == {"queued": 2}
    assert script(port, {"responses": [{"text": "three"}], "append": True}) == {"queued": 3}
    got = [visible_text(CHAT, parse_sse(post(port, CHAT, chat_body())[2])) for _ in range(4)]
    assert got[:3] == ["one", "two", "three"]
    assert got[3].startswith("**What it does.**") and "```" not in got[3]
    log = requests_log(port)
    assert [e["scripted"] for e in log] == [True, True, True, False]


def test_script_rejects_unknown_keys_faults_and_impossible_event_counts(port):
    for bad in ([{"txt": "typo"}], [{"fault": "explode"}], [{"fault": "stall_ms:x"}],
                [{"text": "ab", "events": 3}], [{"finish": "done"}], {"not": "a list"}):
        status, _, raw = call(port, "POST", "/__script", bad)
        assert status == 400, bad
        assert json.loads(raw)["error"]
    assert json.loads(call(port, "GET", "/__script")[2]) == {"pending": 0}


def test_default_answer_echoes_the_last_fenced_block_when_code_is_asked_for(port):
    code = "int add(int a, int b)\n{\n  return a + b; /* ``` */\n}"
    prompt = ("Reply with exactly one fenced code block.\n\n```c\nint old;\n```\n\n"
              "```c\n" + code + "\n```\n")
    for path in (CHAT, RESPONSES, MESSAGES):
        text = visible_text(path, parse_sse(post(port, path, BODIES[path](prompt))[2]))
        assert "\n````c\n" + code + "\n````\n" in text, path
        assert text.count("````") == 2
    explain = visible_text(CHAT, parse_sse(post(port, CHAT, chat_body(
        "Explain:\n```c\nint x;\n```"))[2]))
    assert "```" not in explain and explain.startswith("**What it does.**")


def test_usage_override_merges_and_null_removes_usage(port):
    script(port, [{"text": "a", "usage": {"prompt_tokens": 1000,
                                          "prompt_tokens_details": {"cached_tokens": 900}}},
                  {"text": "b", "usage": None}])
    body = chat_body(stream_options={"include_usage": True})
    usage = json.loads(parse_sse(post(port, CHAT, body)[2])[-2]["data"])["usage"]
    assert usage["prompt_tokens"] == 1000
    assert usage["prompt_tokens_details"] == {"cached_tokens": 900, "audio_tokens": 0}
    assert usage["total_tokens"] == 1000 + usage["completion_tokens"]
    chunks = [json.loads(e["data"]) for e in parse_sse(post(port, CHAT, body)[2])[:-1]]
    assert all(c["choices"] for c in chunks)


def test_non_streaming_requests_get_each_apis_json_body(port):
    script(port, [{"text": "plain"}] * 3)
    chat = json.loads(post(port, CHAT, chat_body(stream=False))[2])
    assert chat["object"] == "chat.completion"
    assert chat["choices"][0]["message"]["content"] == "plain"
    assert chat["choices"][0]["finish_reason"] == "stop" and chat["usage"]["total_tokens"] > 0
    resp = json.loads(post(port, RESPONSES, responses_body(stream=False))[2])
    assert resp["output"][0]["content"][0]["text"] == "plain"
    msg = json.loads(post(port, MESSAGES, anthropic_body(stream=False))[2])
    assert msg["type"] == "message" and msg["content"] == [{"type": "text", "text": "plain"}]
    assert msg["stop_reason"] == "end_turn"


# --- errors -------------------------------------------------------------------------------------

def test_http_errors_use_each_apis_envelope_and_scripted_headers(port):
    script(port, [{"status": 429, "headers": {"retry-after": "3"}},
                  {"status": 529},
                  {"status": 401, "error_message": "bad key", "error_code": "invalid_api_key"},
                  {"status": 503, "body": "upstream down", "headers":
                   {"content-type": "text/plain"}}])
    status, headers, raw = post(port, CHAT, chat_body())
    assert status == 429 and headers["retry-after"] == "3"
    err = json.loads(raw)["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert (err["type"], err["code"]) == ("tokens", "rate_limit_exceeded")
    status, headers, raw = post(port, MESSAGES, anthropic_body())
    body = json.loads(raw)
    assert status == 529 and headers["x-should-retry"] == "true"
    assert body["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert body["request_id"] == headers["request-id"]
    status, _, raw = post(port, RESPONSES, responses_body())
    assert status == 401 and json.loads(raw)["error"]["message"] == "bad key"
    status, headers, raw = post(port, CHAT, chat_body())
    assert (status, headers["content-type"], raw) == (503, "text/plain", b"upstream down")


def test_unknown_path_is_a_404_in_the_openai_envelope_and_is_logged(port):
    status, _, raw = post(port, "/responses", {"model": "m", "input": "x"})
    assert status == 404 and "/responses" in json.loads(raw)["error"]["message"]
    assert requests_log(port)[-1]["path"] == "/responses"


# --- faults -------------------------------------------------------------------------------------

def raw_request(port, path, body, extra_headers=""):
    data = json.dumps(body).encode()
    head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "anthropic-version: 2023-06-01\r\n%sContent-Length: %d\r\n\r\n"
            % (path, extra_headers, len(data))).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head + data)
    return sock


def read_until_eof(sock):
    parts = []
    while True:
        b = sock.recv(65536)
        if not b:
            return b"".join(parts)
        parts.append((b))


def dechunk(raw):
    """Decodes a chunked body; returns (payload, saw_final_chunk)."""
    out, pos = bytearray(), 0
    while True:
        nl = raw.find(b"\r\n", pos)
        if nl < 0:
            return bytes(out), False
        size = int(raw[pos:nl], 16)
        if size == 0:
            return bytes(out), raw[nl:nl + 4] == b"\r\n\r\n"
        chunk = raw[nl + 2:nl + 2 + size]
        out += chunk
        if len(chunk) < size:
            return bytes(out), False
        pos = nl + 2 + size + 2


def test_drop_after_bytes_closes_the_connection_after_exactly_n_body_bytes(port):
    script(port, [{"text": "a" * 400, "fault": "drop_after_bytes:700"}])
    raw = read_until_eof(raw_request(port, CHAT, chat_body()))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in head
    payload, finished = dechunk(body)
    assert len(payload) == 700 and not finished
    assert payload.startswith(b"data: {")
    script(port, [{"text": "a" * 400, "fault": "drop_after_bytes:700"}])
    with pytest.raises(http.client.IncompleteRead):
        post(port, MESSAGES, anthropic_body())
    assert [e["outcome"] for e in requests_log(port)] == ["dropped", "dropped"]


@pytest.mark.parametrize("path", [CHAT, RESPONSES, MESSAGES])
def test_midstream_error_sends_the_apis_error_event_after_some_text(port, path):
    script(port, [{"text": "0123456789" * 4, "chunk_chars": 10, "fault": "midstream_error"}])
    events = parse_sse(post(port, path, BODIES[path]())[2])
    assert visible_text(path, events) == "0123456789" * 2
    if path == CHAT:
        assert json.loads(events[-2]["data"])["error"] == {
            "message": "The server had an error while processing your request. "
                       "Sorry about that!", "type": "server_error", "param": None,
            "code": None}
        assert events[-1]["data"] == "[DONE]"
    elif path == RESPONSES:
        err, failed = [json.loads(e["data"]) for e in events[-2:]]
        assert events[-2]["event"] == "error"
        assert (err["type"], err["code"], err["param"]) == ("error", "server_error", None)
        assert err["sequence_number"] == len(events) - 2
        assert failed["type"] == "response.failed"
        assert failed["response"]["error"]["code"] == "server_error"
    else:
        assert events[-1]["event"] == "error"
        assert json.loads(events[-1]["data"]) == {
            "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        assert all(e["event"] != "message_stop" for e in events)


def test_malformed_corrupts_exactly_one_event_and_the_stream_goes_on(port):
    script(port, [{"text": "abcdefghij" * 3, "chunk_chars": 10, "fault": "malformed"}])
    events = parse_sse(post(port, CHAT, chat_body())[2])
    bad = []
    for ev in events[:-1]:
        try:
            json.loads(ev["data"])
        except ValueError:
            bad.append(ev["data"])
    assert len(bad) == 1 and '"content":"abcdefghij"' in bad[0]
    assert events[-1]["data"] == "[DONE]"


def test_stall_pauses_mid_stream_after_some_text_was_sent(port):
    script(port, [{"text": "x" * 80, "chunk_chars": 10, "fault": "stall_ms:300"}])
    sock = raw_request(port, RESPONSES, responses_body())
    arrivals = []
    while True:
        b = sock.recv(65536)
        arrivals.append((time.monotonic(), b))
        if b.endswith(b"0\r\n\r\n") or not b:
            break
    gaps = [(arrivals[i + 1][0] - arrivals[i][0], i) for i in range(len(arrivals) - 1)]
    gap, i = max(gaps)
    assert gap >= 0.28
    before = b"".join(b for _, b in arrivals[:i + 1])
    assert before.count(b"response.output_text.delta\n") == 4
    assert b"response.completed" not in before
    sock.close()


@pytest.mark.parametrize("path,terminator", [(CHAT, "[DONE]"), (RESPONSES, "response.completed"),
                                             (MESSAGES, "message_stop")])
def test_no_terminator_ends_the_body_cleanly_without_the_apis_terminator(port, path,
                                                                          terminator):
    script(port, [{"text": "complete text", "fault": "no_terminator"}])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, _, raw = post(port, path, BODIES[path](), conn=conn)
    events = parse_sse(raw)
    assert visible_text(path, events) == "complete text"
    assert terminator not in raw.decode()
    assert post(port, path, BODIES[path](), conn=conn)[0] == 200  # body ended properly
    conn.close()


def test_delays_hold_back_the_first_byte_and_space_the_events(port):
    script(port, [{"text": "abcd", "chunk_chars": 1, "first_byte_delay_ms": 150,
                   "delay_ms": 30}])
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", CHAT, body=json.dumps(chat_body()))
    resp = conn.getresponse()
    t_head = time.monotonic() - t0
    resp.read()
    t_all = time.monotonic() - t0
    conn.close()
    assert t_head >= 0.15
    # 7 events (role, 4 deltas, finish, [DONE]): 6 gaps of 30 ms after the head
    assert t_all - t_head >= 0.17


# --- keep-alive and the request log -------------------------------------------------------------

def test_two_requests_reuse_one_connection_even_after_an_error(port):
    script(port, [{"text": "first"}, {"status": 429}, {"text": "third"}])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    assert visible_text(CHAT, parse_sse(post(port, CHAT, chat_body(), conn=conn)[2])) == "first"
    assert post(port, CHAT, chat_body(), conn=conn)[0] == 429
    assert visible_text(MESSAGES, parse_sse(post(port, MESSAGES, anthropic_body(),
                                                 conn=conn)[2])) == "third"
    conn.close()
    log = requests_log(port)
    assert len({e["connection"] for e in log}) == 1
    assert [e["connection_request"] for e in log] == [1, 2, 3]
    assert [e["status"] for e in log] == [200, 429, 200]


def test_request_log_redacts_credentials_but_keeps_presence_and_last_four(port):
    post(port, CHAT, chat_body("log me"),
         headers={"Authorization": "Bearer sk-live-SECRETVALUE9876"})
    post(port, MESSAGES, anthropic_body(), headers={"x-api-key": "ant-SECRETKEY-5432"})
    log = requests_log(port)
    dumped = json.dumps(log)
    assert "SECRET" not in dumped
    assert log[0]["headers"]["authorization"] == "Bearer REDACTED...9876"
    assert log[0]["auth"] == {"authorization": {"present": True, "scheme": "Bearer",
                                                "last4": "9876"}}
    assert log[1]["headers"]["x-api-key"] == "REDACTED...5432"
    assert "authorization" not in log[1]["auth"] and log[1]["auth"]["x-api-key"]["present"]
    assert log[0]["path"] == CHAT and log[0]["body"]["messages"][1]["content"] == "log me"
    assert log[1]["headers"]["anthropic-version"] == "2023-06-01"
    assert log[0]["answer"] and log[0]["usage"]["prompt_tokens"] > 0
    call(port, "POST", "/__reset")
    assert requests_log(port) == []
