#!/usr/bin/env python3
"""Host memory: RSS of an idle `frugal --stdio`, and its peak while streaming 4 requests at once.

The script plays the editor: it starts the host on pipes, starts the local provider server
(tests/server/provider_server.py), sends 4 `run` calls (explain, each answered by a
20,000-word stream), answers the host's nvim_exec_lua calls (the text batches and the replies)
the way Neovim does, and samples the host's VmRSS every 5 ms until all 4 replies are in.

    /usr/bin/python3 bench/memory.py [--frugal build/frugal] [--words 20000]
"""
import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import urllib.request

import msgpack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frugal", default=os.path.join(ROOT, "build", "frugal"))
    ap.add_argument("--words", type=int, default=20000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="frugal-mem-")
    port_file = os.path.join(tmp, "port")
    srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "server",
                                                         "provider_server.py"),
                            "--port-file", port_file, "--exit-on-stdin-eof"],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    while not (os.path.exists(port_file) and open(port_file).read().strip()):
        time.sleep(0.02)
    url = "http://127.0.0.1:%s" % open(port_file).read().strip()
    script = [{"words": args.words, "events": args.words // 2}] * 4
    urllib.request.urlopen(urllib.request.Request(url + "/__script",
                                                  data=json.dumps(script).encode()))
    cfg = {"tiers": {"mini": {"provider": "openai-chat", "model": "gpt-5.4-mini",
                              "base_url": url + "/v1"}},
           "ledger": {"path": os.path.join(tmp, "ledger.jsonl")}}
    env = dict(os.environ, FRUGAL_CONFIG="")
    host = subprocess.Popen([args.frugal, "--stdio"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)
    time.sleep(0.3)
    idle = rss_kb(host.pid)
    with open(os.path.join(ROOT, "examples", "wordfreq.c")) as f:
        text = f.read()
    out = msgpack.packb([2, "frugal_call", [1, "configure", {"config_json": json.dumps(cfg)}]])
    for i in range(4):
        out += msgpack.packb([2, "frugal_call", [10 + i, "run", {
            "path": os.path.join(ROOT, "examples", "wordfreq.c"), "action": "explain",
            "line": 70, "text": text}]])
    host.stdin.write(out)
    host.stdin.flush()
    unpacker = msgpack.Unpacker(raw=False)
    replies, received, peak = 0, 0, idle
    deadline = time.monotonic() + 60
    while replies < 5 and time.monotonic() < deadline:
        r, _, _ = select.select([host.stdout], [], [], 0.005)
        peak = max(peak, rss_kb(host.pid))
        if not r:
            continue
        chunk = os.read(host.stdout.fileno(), 1 << 16)
        if not chunk:
            break
        unpacker.feed(chunk)
        for msg in unpacker:
            if msg[0] != 0:
                continue
            code, lua_args = msg[3]
            if "_reply" in code:
                replies += 1
            elif "_event" in code and lua_args[1].get("kind") == "text":
                received += len(lua_args[1]["text"])
            host.stdin.write(msgpack.packb([1, msg[1], None, None]))
            host.stdin.flush()
    host.stdin.close()
    host.wait(timeout=10)
    srv.stdin.close()
    srv.wait(timeout=10)
    print("host RSS: %.1f MB idle, %.1f MB peak while streaming 4 answers of %d words "
          "(%d replies, %.1f MB of text received)" % (idle / 1024.0, peak / 1024.0, args.words,
                                                      replies - 1, received / 1e6))


if __name__ == "__main__":
    main()
