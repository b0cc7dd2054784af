#!/usr/bin/env python3
"""bench/backends: the process and the in-process backend side by side, in the same run.

For each run and backend (interleaved): a fresh `nvim --embed --headless --clean`, a C file,
setup() with that backend; then
  - first preview: from `:Frugal preview explain` (the host not started yet) until the preview
    window is shown, measured inside Neovim (uv.hrtime at the command, and in a poll every 1 ms
    until the window exists);
  - round trip: `--calls` sequential `version` calls through require('frugal.host').call, each
    sent from the previous one's callback, timed inside Neovim; the median and p90 per call.
No model is called (a preview needs none); the tiers point at 127.0.0.1:9 anyway.
Prints the medians over runs and the in-process/process ratios.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import pynvim

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SOURCE = "static int add(int a, int b)\n{\n\treturn a - b;\n}\n"

FIRST_PREVIEW = """
local t0 = (vim.uv or vim.loop).hrtime()
_G.bench_first = nil
vim.cmd('Frugal preview explain')
local timer = (vim.uv or vim.loop).new_timer()
timer:start(1, 1, vim.schedule_wrap(function()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    local buf = vim.api.nvim_win_get_buf(win)
    if vim.api.nvim_buf_get_option(buf, 'filetype') == 'frugal-preview' then
      if not timer:is_closing() then
        timer:stop(); timer:close()
        _G.bench_first = ((vim.uv or vim.loop).hrtime() - t0) / 1e6
      end
      return
    end
  end
end))
"""

ROUND_TRIPS = """
local n = ...
local host = require('frugal.host')
local uv = vim.uv or vim.loop
_G.bench_rt = nil
local times, i, t = {}, 0, 0
local function one()
  if i == n then
    _G.bench_rt = times
    return
  end
  i = i + 1
  t = uv.hrtime()
  host.call('version', {}, function(err)
    times[#times + 1] = err and -1 or (uv.hrtime() - t) / 1e6
    one()
  end)
end
one()
"""


def wait_lua(nvim, code, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = nvim.exec_lua(code)
        if v:
            return v
        time.sleep(0.005)
    raise SystemExit("backends: timed out waiting for: " + code)


def one_run(args, backend, tmp):
    nvim = pynvim.attach("child", argv=[args.nvim, "--embed", "--headless", "--clean", "-n",
                                        "--cmd", "set rtp^=" + REPO])
    try:
        src = os.path.join(tmp, "calc.c")
        with open(src, "w") as f:
            f.write(SOURCE)
        nvim.command("edit " + src)
        nvim.current.window.cursor = (3, 0)
        tier = {"provider": "openai", "model": "bench", "base_url": "http://127.0.0.1:9/v1"}
        nvim.exec_lua("require('frugal').setup(...)",
                      {"tiers": {"mini": tier, "full": tier}, "backend": backend,
                       "editor": {"host_cmd": [args.host]}})
        nvim.exec_lua(FIRST_PREVIEW)
        first = wait_lua(nvim, "return _G.bench_first", 20)
        running = nvim.exec_lua("return require('frugal.host').running_backend()")
        if running != backend:
            raise SystemExit("backends: %s asked, %s running" % (backend, running))
        nvim.exec_lua(ROUND_TRIPS, args.calls)
        times = wait_lua(nvim, "return _G.bench_rt", 60)
        if any(t < 0 for t in times):
            raise SystemExit("backends: a version call failed on " + backend)
        times.sort()
        return {"first_ms": first, "rt_med_ms": statistics.median(times),
                "rt_p90_ms": times[int(0.9 * (len(times) - 1))]}
    finally:
        try:
            nvim.command("qa!", async_=True)
        except Exception:
            pass
        nvim.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--nvim", default=os.environ.get("FRUGAL_NVIM", "nvim"))
    ap.add_argument("--host", default=os.path.join(REPO, "build", "frugal"))
    args = ap.parse_args()
    backends = ("process", "inprocess")
    rows = {b: [] for b in backends}
    with tempfile.TemporaryDirectory(prefix="frugal-backends-") as tmp:
        os.environ["XDG_STATE_HOME"] = tmp
        for _ in range(args.runs):
            for b in backends:
                rows[b].append(one_run(args, b, tmp))
    med = {b: {k: statistics.median(r[k] for r in rows[b]) for k in rows[b][0]}
           for b in backends}
    print("median of %d runs, %d round trips each (ms)" % (args.runs, args.calls))
    print("%-10s %14s %14s %14s" % ("backend", "first preview", "round trip", "rt p90"))
    for b in backends:
        m = med[b]
        print("%-10s %14.2f %14.3f %14.3f" % (b, m["first_ms"], m["rt_med_ms"], m["rt_p90_ms"]))
    p, i = med["process"], med["inprocess"]
    print("inprocess/process: first preview %.2f, round trip %.2f"
          % (i["first_ms"] / p["first_ms"], i["rt_med_ms"] / p["rt_med_ms"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
