#!/usr/bin/python3
"""Main-loop stall while a long answer streams into Neovim: frugal against a naive Lua client.

For each case (client x API x UI) and run, a fresh `nvim --embed --headless --clean` is driven
through pynvim; the local provider server (tests/server/provider_server.py, 127.0.0.1 only)
streams a {"words": W, "events": E} answer as fast as the socket takes it. probe.lua measures,
from the moment the request is sent until the whole answer is in its window:
  - the gaps between ticks of a 1 ms libuv timer (max and p99);
  - the wait of vim.schedule() callbacks queued from those ticks (max): what a key press feels;
  - the time until all of the text is shown.
The window's text is then compared, exactly, with the server's /__answer.

Each case gets one small warm-up request first (plugin loaded, host started, window open), so
the figures are those of a second request in a running editor. See README.md.
"""
import argparse
import difflib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import pynvim

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SERVER = os.path.join(REPO, "tests", "server", "provider_server.py")
KEY_ENV = "FRUGAL_STALL_KEY"

SOURCE = """#include <stdio.h>

/* the total of a and b */
static int add(int a, int b)
{
\treturn a + b;
}

int main(void)
{
\tprintf("%d\\n", add(1, 2));
\treturn 0;
}
"""

# client, provider (frugal's name for the API)
CASES = {
    "frugal-chat": ("frugal", "openai-chat"),
    "naive-chat": ("naive", "openai-chat"),
    "frugal-responses": ("frugal", "openai"),
    "frugal-anthropic": ("frugal", "anthropic"),
    # the same with backend = "inprocess" (the library inside Neovim, |frugal-backends|)
    "frugal-chat-inprocess": ("frugal", "openai-chat"),
    "frugal-responses-inprocess": ("frugal", "openai"),
}

NOTIFY = """
_G.stall_notes = {}
vim.notify = function(msg, level)
  table.insert(_G.stall_notes, { msg = tostring(msg), level = level or vim.log.levels.INFO })
end
"""


class Server:
    def __init__(self, tmp):
        port_file = os.path.join(tmp, "port")
        self.p = subprocess.Popen([sys.executable, SERVER, "--port-file", port_file,
                                   "--exit-on-stdin-eof"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.monotonic() > deadline:
                raise SystemExit("stall: the provider server did not start")
            time.sleep(0.02)
        self.url = "http://127.0.0.1:%s" % open(port_file).read().strip()

    def post(self, path, payload):
        req = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return r.read()

    def stop(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def word_diff(want, got):
    """(lost, extra, where) words between two texts, by an alignment of their word lists;
    where lists the differing spans as (op, index in the answer's words, lost, extra)."""
    a, b = want.split(), got.split()
    if a == b:
        return 0, 0, []
    lost = extra = 0
    where = []
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        where.append((op, i1, i2 - i1, j2 - j1))
        if op in ("delete", "replace"):
            lost += i2 - i1
        if op in ("insert", "replace"):
            extra += j2 - j1
    return lost, extra, where


def start_nvim(args, ui):
    argv = [args.nvim, "--embed", "--headless", "--clean", "-n",
            "--cmd", "set rtp^=" + REPO.replace(" ", "\\ ").replace(",", "\\,")]
    for c in args.cmd or []:
        argv += ["-c", c]
    nvim = pynvim.attach("child", argv=argv)
    if ui:
        nvim.ui_attach(args.columns, args.lines, rgb=True)
    return nvim


def wait_lua(nvim, code, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = nvim.exec_lua(code)
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


def measure(args, server, want, case, ui, tmp):
    client, provider = CASES[case]
    nvim = start_nvim(args, ui)
    try:
        nvim.exec_lua(NOTIFY)
        nvim.exec_lua("_G.stall_probe = dofile(...)", os.path.join(HERE, "probe.lua"))
        src = os.path.join(tmp, "calc.c")
        with open(src, "w") as f:
            f.write(SOURCE)
        nvim.command("edit " + src)
        nvim.current.window.cursor = (6, 0)
        v1 = server.url + "/v1"
        if client == "frugal":
            base = server.url if provider == "anthropic" else v1
            tier = {"provider": provider, "model": "bench-model", "base_url": base,
                    "api_key_env": KEY_ENV}
            nvim.exec_lua("require('frugal').setup(...)",
                          {"tiers": {"mini": tier, "full": tier},
                           "backend": "inprocess" if case.endswith("-inprocess") else "process",
                           "editor": {"host_cmd": [args.host]}})
            in_flight = "return require('frugal.run').in_flight() == 0"
            # warm-up: loads the plugin, starts the host, opens the answer window
            nvim.command("Frugal explain")
            wait_lua(nvim, "return package.loaded['frugal.run'] ~= nil", 10, "the plugin")
            wait_lua(nvim, in_flight, 10, "the warm-up answer")
            go = "vim.cmd('Frugal explain')"
            pattern = "^frugal://%d+/explain$"
        else:
            nvim.exec_lua("_G.stall_naive = dofile(...)", os.path.join(HERE, "naive.lua"))
            server.post("/__script", [{"words": 50, "events": 10}])
            nvim.exec_lua("_G.stall_warm = false; stall_naive.start({url = ..., "
                          "on_exit = function() _G.stall_warm = true end})", v1)
            wait_lua(nvim, "return _G.stall_warm", 10, "the warm-up answer")
            go = ("stall_naive.start({url = '%s', on_exit = function() stall_probe.finished() "
                  "end})" % v1)
            pattern = "^naive://%d+$"
        server.post("/__script", [{"words": args.words, "events": args.events}])
        perf = None
        if args.perf:
            pid = nvim.exec_lua("return vim.fn.getpid()")
            out = os.path.join(args.perf, "%s-%s-%d.data" % (case, "ui" if ui else "headless",
                                                            int(time.time() * 1000)))
            perf = subprocess.Popen(["perf", "record", "-q", "-F", "4999", "-g", "-p", str(pid),
                                     "-o", out], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(0.3)  # perf attaches
        wb = want.encode()
        nvim.exec_lua("stall_probe.start(...)\n" + go,
                      {"expect_bytes": len(wb) + 1, "expect_lines": wb.count(b"\n") + 1,
                       "pattern": pattern, "frugal": client == "frugal"})
        deadline = time.monotonic() + args.timeout
        timed_out = False
        while True:
            s = nvim.exec_lua("return stall_probe.status()")
            if s["done"]:
                break
            fin = s.get("finished_ms")
            if fin is not None and s["elapsed_ms"] - fin > args.grace * 1000:
                break  # the stream ended and the text never became complete
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.02)
        r = nvim.exec_lua("return stall_probe.result()")
        if perf:
            perf.send_signal(2)
            perf.wait(timeout=30)
        if client == "frugal" and not timed_out:
            wait_lua(nvim, in_flight, 10, "the run to end")
        elif not timed_out:
            wait_lua(nvim, "return stall_probe.status().finished_ms ~= nil", 10,
                     "curl to exit")
        got = None
        if r["buf"] is not None:
            got = "\n".join(nvim.exec_lua(
                "return vim.api.nvim_buf_get_lines(..., 0, -1, false)", r["buf"]))
        naive_stats = nvim.exec_lua("return stall_naive.stats") if client == "naive" else {}
        # Lua errors raised in callbacks (on_stdout, scheduled handlers) land in :messages
        messages = nvim.exec_lua("return vim.fn.execute('messages')")
        lua_errors = [m for m in messages.split("\n") if m.startswith("Error") or "E5108" in m
                      or m.startswith("vim/") or ".lua:" in m and "stack traceback" not in m]
        errors = [n["msg"] for n in nvim.exec_lua("return _G.stall_notes") if n["level"] >= 4]
    finally:
        try:
            nvim.command("qa!", async_=True)
        except Exception:
            pass
        nvim.close()
    lost, extra, where = word_diff(want, got or "")
    if got is not None and got != want and args.keep_bad:
        bad = os.path.join(args.keep_bad, "%s-%s-%d.txt" % (case, "ui" if ui else "headless",
                                                           int(time.time() * 1000)))
        with open(bad, "w") as f:
            f.write(got)
    gaps = r["gaps"] or [0.0]
    return {
        "case": case, "ui": ui,
        "max_ms": max(gaps), "p99_ms": percentile(gaps, 99),
        "sched_max_ms": max(r["lat"] or [0.0]),
        "sched_max_at_ms": r["lat_at"][r["lat"].index(max(r["lat"]))] if r["lat"] else None,
        "gap_max_at_ms": sum(gaps[:gaps.index(max(gaps)) + 1]),
        "gap_max_cpu_ms": r["gap_cpu"][gaps.index(max(gaps))] if r["gap_cpu"] else None,
        "cpu_max_ms": max(r["gap_cpu"] or [0.0]),
        "shown_ms": r["shown_ms"], "finished_ms": r["finished_ms"],
        "exact": got == want, "lost": lost, "extra": extra, "diff": where[:10],
        "batches": r["batches"], "batch_max_bytes": r["batch_max_bytes"],
        "batch_max_ms": r["batch_max_ms"], "timed_out": timed_out, "errors": errors,
        "lua_errors": lua_errors[:6],
        "naive_bytes": naive_stats.get("bytes"), "naive_bad_lines": naive_stats.get("bad_lines"),
        "naive_first_bad": (naive_stats.get("first_bad") or "")[:300],
    }


def med(rows, key):
    vals = [r[key] for r in rows if r[key] is not None]
    return statistics.median(vals) if vals else None


def fmt(v, digits=1):
    return "-" if v is None else "%.*f" % (digits, v)


def table(results, runs, nvim_version):
    print("%s, %d words / %d events, median of %d run(s); times in ms" %
          (nvim_version, ARGS.words, ARGS.events, runs))
    head = ("case", "ui", "max stall", "p99 gap", "cpu max", "sched max", "all shown", "exact",
            "lost/extra", "batches", "max batch")
    print("%-17s %-8s %9s %8s %7s %9s %9s %5s %10s %7s %11s" % head)
    for (case, ui), rows in results.items():
        exact = sum(1 for r in rows if r["exact"])
        print("%-17s %-8s %9s %8s %7s %9s %9s %5s %10s %7s %11s" % (
            case, "ui" if ui else "headless", fmt(med(rows, "max_ms")), fmt(med(rows, "p99_ms")),
            fmt(med(rows, "cpu_max_ms")),
            fmt(med(rows, "sched_max_ms")), fmt(med(rows, "shown_ms"), 0),
            "%d/%d" % (exact, len(rows)),
            "%d/%d" % (max(r["lost"] for r in rows), max(r["extra"] for r in rows)),
            "-" if rows[0]["case"].startswith("naive") else "%.0f" % med(rows, "batches"),
            "-" if rows[0]["case"].startswith("naive") else
            "%.0fKB %sms" % (med(rows, "batch_max_bytes") / 1024,
                             fmt(med(rows, "batch_max_ms")))))
        for r in rows:
            if r["timed_out"] or r["errors"] or not r["exact"] or r["lua_errors"]:
                print("  run: timed_out=%s notified=%s diff=%s lua error: %s" % (
                    r["timed_out"], r["errors"][:2], r["diff"][:3],
                    (r["lua_errors"] or [""])[0][-160:]))


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nvim", default="nvim")
    ap.add_argument("--host", default=os.path.join(REPO, "build", "frugal"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--words", type=int, default=20000)
    ap.add_argument("--events", type=int, default=11000)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--ui", choices=("both", "headless", "ui"), default="both")
    ap.add_argument("--columns", type=int, default=80)
    ap.add_argument("--lines", type=int, default=24)
    ap.add_argument("--timeout", type=float, default=120.0, help="per run, seconds")
    ap.add_argument("--grace", type=float, default=3.0,
                    help="seconds after the stream ended before incomplete text is reported")
    ap.add_argument("--json", help="also write every run's figures to this file")
    ap.add_argument("--cmd", action="append",
                    help="an Ex command Neovim runs after startup (repeatable), e.g. 'syntax off'")
    ap.add_argument("--perf", help="directory: record Neovim with `perf record -g` during each "
                    "measured request")
    ap.add_argument("--keep-bad", help="directory to keep the window text of inexact runs in")
    ARGS = args = ap.parse_args()
    if not os.access(args.host, os.X_OK):
        raise SystemExit("stall: host not built: %s" % args.host)
    os.environ[KEY_ENV] = "sk-stall-0000"
    cases = args.cases.split(",")
    for c in cases:
        if c not in CASES:
            raise SystemExit("stall: unknown case %r (known: %s)" % (c, ", ".join(CASES)))
    uis = {"both": [False, True], "headless": [False], "ui": [True]}[args.ui]
    version = subprocess.run([args.nvim, "--version"], capture_output=True, text=True,
                             timeout=10).stdout.split("\n")[0]
    results = {}
    with tempfile.TemporaryDirectory(prefix="frugal-stall-") as tmp:
        server = Server(tmp)
        try:
            want = server.get("/__answer?words=%d" % args.words).decode()
            # runs interleaved, so a slow moment of the machine does not hit one case only
            for _ in range(args.runs):
                for case in cases:
                    for ui in uis:
                        row = measure(args, server, want, case, ui, tmp)
                        results.setdefault((case, ui), []).append(row)
                        print("  %-17s %-8s max %6.1f  p99 %5.1f  shown %7.0f  exact %s" % (
                            case, "ui" if ui else "headless", row["max_ms"], row["p99_ms"],
                            row["shown_ms"] or -1, row["exact"]), file=sys.stderr, flush=True)
        finally:
            server.stop()
    table(results, args.runs, version)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"nvim": version, "runs": [r for rows in results.values() for r in rows]},
                      f, indent=1)


if __name__ == "__main__":
    main()
