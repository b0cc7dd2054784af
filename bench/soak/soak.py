#!/usr/bin/env python3
"""Soak: many runs through one `frugal --stdio` host with faults mixed in, and what the host
holds at the start and at the end (RSS, open descriptors).

The script plays the editor as bench/memory.py does: it starts the host on pipes and the local
provider server (tests/server/provider_server.py), answers the host's nvim_exec_lua calls, and
sends `run` calls one after the other. Before each run it scripts the server for that run's
case, in a fixed rotation:

    ok          a 300-word answer
    retry429    429 (retry-after 0), then the answer
    retry503    503 (retry-after 0) twice, then the answer
    drop        the connection closes after 400 bytes of the stream
    midstream   the provider's error event in the middle of the answer
    malformed   one event with broken JSON (the answer fails: a lost event is lost text)
    unauth      401
    overcap     an answer far past the tier's output cap (stopped by the host)
    cancel      a slow answer, cancelled by the "editor" at its first text batch

RSS and descriptors are read from /proc after a warm-up of one run of each case (libcurl
loaded, the connection pool and the ledger opened) and again after the last run; the figure
that matters is the difference. It is a measurement, not a test: nothing here fails on a slow
machine, it reports.

    /usr/bin/python3 bench/soak/soak.py [--frugal build/frugal] [--runs 1000]
"""
import argparse
import collections
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import urllib.request

import msgpack

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ANSWER = {"words": 300, "events": 60}
CASES = [
    ("ok", [ANSWER], "answered"),
    ("retry429", [{"status": 429, "headers": {"retry-after": "0"}}, ANSWER], "answered"),
    ("retry503", [{"status": 503, "headers": {"retry-after": "0"}}] * 2 + [ANSWER], "answered"),
    ("drop", [dict(ANSWER, fault="drop_after_bytes:400")], "failed"),
    ("midstream", [dict(ANSWER, fault="midstream_error")], "failed"),
    ("malformed", [dict(ANSWER, fault="malformed")], "failed"),
    ("unauth", [{"status": 401}], "failed"),
    ("overcap", [{"words": 20000, "events": 2000}], "failed"),
    ("cancel", [{"words": 2000, "events": 400, "delay_ms": 2}], "cancelled"),
]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Editor:
    """The editor's side of the host's RPC: sends frugal_call notifications, answers every
    nvim_exec_lua request, and collects events and replies per call id."""

    def __init__(self, host):
        self.host = host
        self.unpacker = msgpack.Unpacker(raw=False)
        self.replies = {}
        self.events = collections.defaultdict(list)

    def call(self, cid, method, params):
        self.host.stdin.write(msgpack.packb([2, "frugal_call", [cid, method, params]]))
        self.host.stdin.flush()

    def pump(self, timeout):
        r, _, _ = select.select([self.host.stdout], [], [], timeout)
        if not r:
            return
        chunk = os.read(self.host.stdout.fileno(), 1 << 16)
        if not chunk:
            raise RuntimeError("the host closed its stdout")
        self.unpacker.feed(chunk)
        for msg in self.unpacker:
            if msg[0] != 0:
                continue
            code, lua_args = msg[3]
            if "_reply" in code:
                self.replies[lua_args[0]] = (lua_args[1], lua_args[2])
            elif "_event" in code:
                self.events[lua_args[0]].append(lua_args[1])
            self.host.stdin.write(msgpack.packb([1, msg[1], None, None]))
            self.host.stdin.flush()

    def wait_reply(self, cid, deadline_s=60, on_event=None):
        end = time.monotonic() + deadline_s
        while cid not in self.replies:
            if time.monotonic() > end:
                raise RuntimeError("no reply for call %d" % cid)
            self.pump(0.05)
            if on_event:
                on_event(self.events[cid])
        return self.replies.pop(cid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frugal", default=os.path.join(ROOT, "build", "frugal"))
    ap.add_argument("--runs", type=int, default=1000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="frugal-soak-")
    port_file = os.path.join(tmp, "port")
    srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "server",
                                                         "provider_server.py"),
                            "--port-file", port_file, "--exit-on-stdin-eof"],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    while not (os.path.exists(port_file) and open(port_file).read().strip()):
        time.sleep(0.02)
    url = "http://127.0.0.1:%s" % open(port_file).read().strip()

    def script(items):
        urllib.request.urlopen(urllib.request.Request(url + "/__script",
                                                      data=json.dumps(items).encode())).read()

    ledger = os.path.join(tmp, "ledger.jsonl")
    tier = {"provider": "openai-chat", "model": "gpt-5.4-mini", "base_url": url + "/v1",
            "api_key_env": "FRUGAL_SOAK_KEY", "max_output_tokens": 1000}
    cfg = {"tiers": {"mini": tier, "full": dict(tier, model="gpt-5.4")},
           "ledger": {"path": ledger}, "escalation": {"enabled": False}}
    env = dict(os.environ, FRUGAL_CONFIG="", FRUGAL_SOAK_KEY="sk-soak-0000")
    host = subprocess.Popen([args.frugal, "--stdio"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)
    ed = Editor(host)
    ed.call(1, "configure", {"config_json": json.dumps(cfg)})
    ed.wait_reply(1)
    path = os.path.join(ROOT, "examples", "wordfreq.c")
    with open(path) as f:
        text = f.read()

    cid = [100]
    tally = collections.Counter()
    wrong = []

    def one_run(case):
        name, items, want = case
        script(items)
        cid[0] += 1
        run_id = cid[0]
        ed.call(run_id, "run", {"path": path, "action": "explain", "line": 70, "text": text})
        cancelled = []

        def maybe_cancel(events):
            if name == "cancel" and not cancelled and any(e.get("kind") == "text"
                                                          for e in events):
                cid[0] += 1
                cancelled.append(cid[0])
                ed.call(cid[0], "cancel", {"id": run_id})

        err, result = ed.wait_reply(run_id, on_event=maybe_cancel)
        for c in cancelled:
            ed.wait_reply(c)
        ed.events.pop(run_id, None)
        got = "answered" if err is None else "cancelled" if err == "cancelled" else "failed"
        tally[(name, got)] += 1
        if got != want:
            wrong.append((name, got, err))

    time.sleep(0.2)
    idle_rss, idle_fds = rss_kb(host.pid), fds(host.pid)
    for case in CASES:  # warm-up: every path once
        one_run(case)
    start_rss, start_fds = rss_kb(host.pid), fds(host.pid)
    t0 = time.monotonic()
    samples = []
    for i in range(args.runs):
        one_run(CASES[i % len(CASES)])
        if (i + 1) % max(1, args.runs // 4) == 0:
            samples.append((i + 1, rss_kb(host.pid), fds(host.pid)))
    elapsed = time.monotonic() - t0
    end_rss, end_fds = rss_kb(host.pid), fds(host.pid)
    host.stdin.close()
    rc = host.wait(timeout=10)
    srv.stdin.close()
    srv.wait(timeout=10)
    with open(ledger) as f:
        outcomes = collections.Counter(json.loads(l)["outcome"] for l in f)

    print("soak: %d runs (+%d warm-up) through one host in %.1f s, faults in rotation: %s"
          % (args.runs, len(CASES), elapsed, ", ".join(c[0] for c in CASES)))
    print("host RSS: %.2f MB idle, %.2f MB after warm-up -> %.2f MB after the last run "
          "(%+.2f MB)" % (idle_rss / 1024.0, start_rss / 1024.0, end_rss / 1024.0,
                          (end_rss - start_rss) / 1024.0))
    print("open descriptors: %d idle, %d after warm-up -> %d after the last run"
          % (idle_fds, start_fds, end_fds))
    print("along the way (runs: MB, descriptors): %s"
          % ", ".join("%d: %.2f, %d" % (n, r / 1024.0, d) for n, r, d in samples))
    print("ledger outcomes: %s; host exit status %d" % (dict(outcomes), rc))
    if wrong:
        print("UNEXPECTED: %d runs ended otherwise than their case wants, first: %r"
              % (len(wrong), wrong[:3]))


if __name__ == "__main__":
    main()
