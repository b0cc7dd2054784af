"""`frugal --stdio` when the world goes wrong around it: the editor leaving mid-run, buffers too
large for one frame, prompts too large for the tier, files that are not files."""
import json
import os
import subprocess
import threading
import time

import msgpack
import pytest

from conftest import wait_for
from test_actions import config
from test_stdio import EXAMPLE, FRUGAL, Host

pytestmark = pytest.mark.skipif(not os.access(FRUGAL, os.X_OK),
                                reason="host binary not built: run `make` first")
KEY = "sk-lifecycle-test-5678"




@pytest.fixture
def host(monkeypatch):
    monkeypatch.setenv("FRUGAL_E2E_KEY", KEY)
    h = Host()
    yield h
    if h.p.poll() is None:
        h.p.kill()
        h.p.wait()


class Peer:
    """Plays the editor: answers the host's nvim_exec_lua calls and collects _event/_reply."""

    def __init__(self, host):
        self.host = host
        self.events = []   # (id, event)
        self.replies = {}  # id -> (error, result)
        self.responses = {}  # msgid -> (error, result)
        self.requests = []   # (method, params) the host sent us, other than _event/_reply
        self.answer = None   # callable(method, params) -> (error, result) for other requests

    def send(self, msg):
        self.host.send(msgpack.packb(msg))

    def pump(self, until, timeout=20.0, what="the host"):
        deadline = time.monotonic() + timeout
        while not until():
            left = deadline - time.monotonic()
            assert left > 0, "timed out waiting for " + what
            for msg in self.host.read(1, timeout=left):
                self.handle(msg)

    def handle(self, msg):
        if msg[0] == 1:
            self.responses[msg[1]] = (msg[2], msg[3])
            return
        if msg[0] != 0:
            return
        msgid, method, params = msg[1], msg[2], msg[3]
        if method == "nvim_exec_lua" and "_event" in params[0]:
            self.events.append(tuple(params[1]))
            self.send([1, msgid, None, None])
        elif method == "nvim_exec_lua" and "_reply" in params[0]:
            call_id, err, result = params[1]
            self.replies[call_id] = (err, result)
            self.send([1, msgid, None, None])
        else:
            self.requests.append((method, params))
            err, result = self.answer(method, params) if self.answer else ("unexpected", None)
            self.send([1, msgid, err, result])


def configure(peer, cfg, msgid=100):
    peer.send([0, msgid, "configure", [{"config_json": json.dumps(cfg)}]])
    peer.pump(lambda: msgid in peer.responses)
    assert peer.responses[msgid][0] is None, peer.responses[msgid]


def example_text():
    with open(EXAMPLE) as f:
        return f.read()


def ledger_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_stdin_closing_mid_run_cancels_the_run_records_it_and_exits_0(host, server, tmp_path):
    # a slow answer: 40 events 250 ms apart
    server.script({"words": 200, "events": 40, "delay_ms": 250})
    ledger = tmp_path / "ledger.jsonl"
    cfg = config(server)
    cfg["ledger"] = {"path": str(ledger)}
    peer = Peer(host)
    configure(peer, cfg)
    peer.send([2, "frugal_call", [7, "run", {"path": EXAMPLE, "action": "explain", "line": 70,
                                             "text": example_text()}]])
    peer.pump(lambda: any(e[1]["kind"] == "text" for e in peer.events), what="the first text")
    host.p.stdin.close()  # the editor goes away mid-answer
    rc = host.p.wait(timeout=20)
    err = host.p.stderr.read().decode()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "double free" not in err
    lines = ledger_lines(ledger)
    assert [(l["action"], l["outcome"]) for l in lines] == [("explain", "cancelled")]


def test_a_preview_on_a_fifo_gets_an_error_while_the_next_request_is_answered(host, tmp_path):
    fifo = tmp_path / "pipe.c"
    os.mkfifo(fifo)  # nobody ever writes to it: opening it for reading would wait forever
    peer = Peer(host)
    params = {"path": EXAMPLE, "action": "refactor-files", "line": 70, "text": example_text(),
              "files": [str(fifo)]}
    peer.send([0, 1, "preview", [params]])
    peer.send([0, 2, "version", []])
    peer.pump(lambda: 1 in peer.responses and 2 in peer.responses)
    assert peer.responses[2][0] is None and peer.responses[2][1]["version"]
    err = peer.responses[1][0][1]
    assert err == ("cannot use '%s' as a file: it is a FIFO; frugal reads only regular files"
                   % fifo)


def test_dev_stdin_as_a_file_is_refused_not_read_from_the_rpc_stream(host):
    peer = Peer(host)
    params = {"path": EXAMPLE, "action": "refactor-files", "line": 70, "text": example_text(),
              "files": ["/dev/stdin"]}
    peer.send([0, 1, "preview", [params]])
    peer.send([0, 2, "version", []])
    peer.pump(lambda: 1 in peer.responses and 2 in peer.responses)
    assert "'/dev/stdin'" in peer.responses[1][0][1]
    assert "frugal reads only regular files" in peer.responses[1][0][1]
    assert peer.responses[2][0] is None


def test_a_fifo_as_the_ledger_is_named_in_the_cost_answer(host, tmp_path):
    fifo = tmp_path / "ledger.jsonl"
    os.mkfifo(fifo)
    peer = Peer(host)
    configure(peer, {"ledger": {"path": str(fifo)},
                     "tiers": {"mini": {"base_url": "http://127.0.0.1:9/v1"},
                               "full": {"base_url": "http://127.0.0.1:9/v1"}}})
    peer.send([0, 1, "cost", [{"period": "all"}]])
    peer.send([0, 2, "version", []])
    peer.pump(lambda: 1 in peer.responses and 2 in peer.responses)
    err, result = peer.responses[1]
    assert result is None
    assert err[1] == ("ledger: cannot use '%s' as a ledger: it is a FIFO; frugal reads only "
                      "regular files" % fifo)


def test_a_proc_file_that_says_it_is_empty_is_read_to_its_end():
    # /proc files report st_size 0 yet have content
    p = subprocess.run([FRUGAL, "context", "/proc/self/status:2", "--json"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["scope"]["start_line"] == 1 and out["scope"]["end_line"] > 10
    assert out["file_tokens"] > 0


def test_a_fifo_as_the_cli_file_is_refused_by_name(tmp_path):
    fifo = tmp_path / "x.c"
    os.mkfifo(fifo)
    p = subprocess.run([FRUGAL, "context", "%s:1" % fifo], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 2
    assert p.stderr.strip() == ("frugal: cannot use '%s' as a file: it is a FIFO; frugal reads "
                                "only regular files" % fifo)


def test_a_prompt_larger_than_the_tiers_context_is_refused_before_sending(server, tmp_path):
    server.script({"text": "never sent"})
    cfg = config(server)
    cfg["tiers"]["mini"]["context_tokens"] = 300
    cfg["ledger"] = {"path": str(tmp_path / "ledger.jsonl")}
    path = tmp_path / "frugal.json"
    path.write_text(json.dumps(cfg))
    env = dict(os.environ, FRUGAL_E2E_KEY=KEY)
    p = subprocess.run([FRUGAL, "run", "explain", EXAMPLE + ":70", "--config", str(path),
                        "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode != 0
    msg = p.stderr.strip()
    assert "more than the 300 of mini's context window (tiers.mini.context_tokens, model " \
           "gpt-5.4-mini)" in msg, msg
    assert "the prompt is about " in msg and "select the part you mean" in msg
    assert server.requests() == []
