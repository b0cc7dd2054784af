#!/usr/bin/python3
"""A stand-in for `frugal --stdio` that speaks the same protocol as the real host.

It lets the plugin's own behaviour be tested without the native build: the request/reply
cycle, rendering of every field (including nil ones), configure errors, and what happens when
the host dies. Its answers are made up but shaped exactly like the real ones.

Protocol: Neovim sends the notification `frugal_call` [id, method, params]; the host answers
with the request nvim_exec_lua("return require('frugal.host')._reply(...)", [id, err, result]).

Runs (`run`, `cancel`) stream events with `_event(id, event)` before the reply, as scripted:

Extra methods for tests:
  crash {code=}  writes a line to stderr and exits with `code` (default 3), never answering
  hold {}        never answers (so a later crash has a pending call to fail)
  script {...}   queues the script of the next `run` (FIFO; without one a run gets a short
                 default answer). Keys, all optional:
                   events    list of events sent in order; each may carry `pause_ms` (default
                             20: the pause before it), `hex` (a `text` event's text as raw
                             bytes, to cut UTF-8 characters), or be {wait = true}: pause until
                             `release`. A `start` event without fields gets the usual ones.
                   err       the reply's error (the result is still sent)
                   result    fields merged into the reply's result (output, edit, tests,
                             findings, problem, ...)
                   hold      true: never reply (until cancelled)
                   reply_pause_ms  pause before the reply (default 20)
  release {}     resumes the runs paused at a {wait = true} event (or, when none is paused
                 yet, lets the next one pass)
  last_run {}    the params of the latest `run`, as received
"""
import json
import os
import select
import sys
import time

import msgpack

VERSION = {"version": "0.1.0", "libuv": "fake", "msgpack": "fake", "curl": "fake",
           "jansson": "fake"}
TOP_KEYS = {"tiers", "prices", "actions", "ledger", "budget"}
OUTPUTS = {"fix": "replace", "refactor": "replace", "docs": "replace", "implement": "replace",
           "review": "review", "review-all": "review", "tests": "tests"}
ESCAPE = "surrogateescape"  # raw bytes (cut UTF-8) pass through strings unchanged


class Run:
    """A `run` in flight: its scripted steps and what has been sent."""

    def __init__(self, call_id, params, script, lines):
        self.id = call_id
        self.params = params
        self.script = script
        self.lines = lines
        self.steps = list(script.get("events", []))
        self.text = ""
        self.paused = False
        self.due = time.monotonic() + self.delay(self.steps[0] if self.steps else None)

    def delay(self, step):
        if step is None:
            return self.script.get("reply_pause_ms", 20) / 1000.0
        return step.get("pause_ms", 20) / 1000.0


class Host:
    def __init__(self):
        self.out = sys.stdout.buffer
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, unicode_errors=ESCAPE)
        self.next_msgid = 0
        self.backlog = []
        self.config = {}
        self.calls = 0
        self.runs = {}  # call id -> Run
        self.scripts = []
        self.last_params = None
        self.early_releases = 0

    def send(self, obj):
        self.out.write(msgpack.packb(obj, use_bin_type=True, unicode_errors=ESCAPE))
        self.out.flush()

    def read_more(self, timeout=None):
        """Waits up to `timeout` s (None: forever) for input; False at end of input."""
        ready, _, _ = select.select([0], [], [], timeout)
        if not ready:
            return True
        chunk = os.read(0, 65536)
        if not chunk:
            return False
        self.unpacker.feed(chunk)
        self.backlog.extend(self.unpacker)
        return True

    def request(self, method, args):
        """Calls a Neovim API function and waits for its answer, keeping other messages."""
        self.next_msgid += 1
        msgid = self.next_msgid
        self.send([0, msgid, method, args])
        kept = []
        try:
            while True:
                if self.backlog:
                    msg = self.backlog.pop(0)
                else:
                    if not self.read_more():
                        sys.exit(0)
                    continue
                if msg[0] == 1 and msg[1] == msgid:
                    if msg[2] is not None:
                        raise RuntimeError(str(msg[2]))
                    return msg[3]
                kept.append(msg)
        finally:
            self.backlog = kept + self.backlog

    def reply(self, call_id, err, result):
        self.request("nvim_exec_lua",
                     ["return require('frugal.host')._reply(...)", [call_id, err, result]])

    def configure(self, params):
        cfg = json.loads(params["config_json"])
        if not isinstance(cfg, dict):
            return "config: setup(): expected an object", None
        for key in cfg:
            if key not in TOP_KEYS:
                return "config: setup(): unknown key '%s'" % key, None
        mini = cfg.get("tiers", {}).get("mini", {})
        if mini.get("model") == "rejected-by-host":
            return "config: setup(): tiers.mini.model: the fake host refuses this model", None
        self.config = cfg
        return None, {"ok": True}

    def tier_model(self, tier):
        tiers = self.config.get("tiers", {})
        default = "gpt-5.4-mini" if tier == "mini" else "gpt-5.4"
        return tiers.get(tier, {}).get("model", default)

    def preview(self, params, method):
        if params.get("instruction") == "please fail":
            return "fake host: refused the request", None
        lines = self.request("nvim_buf_get_lines", [params["bufnr"], 0, -1, False])
        line = params["line"]
        if params.get("sel_start"):
            start, end, kind, name = params["sel_start"], params["sel_end"], "selection", None
        else:
            start, end = max(1, line - 1), min(len(lines), line + 1)
            kind, name = "function", "fake_scope"
        tier = params.get("tier")
        reasons = []
        if tier:
            reasons.append("tier forced by the user -> %s" % tier.capitalize())
        else:
            action_tier = self.config.get("actions", {}).get(params["action"], {}).get("tier")
            tier = action_tier or ("full" if params.get("files") else "mini")
            reasons.append("fake host: %s -> %s" % (params["action"], tier.capitalize()))
        for other in params.get("files", []):
            reasons.append("other file: %s" % other)
        model = self.tier_model(tier)
        text = "\n".join(lines[start - 1:end])
        scope_tokens = max(1, len(text) // 4)
        file_tokens = max(1, len("\n".join(lines)) // 4)
        items = [{"kind": "scope", "label": name or "selection", "start_line": start,
                  "end_line": end, "tokens": scope_tokens, "text": text}]
        for d in params.get("diagnostics", []):
            items.append({"kind": "diagnostic", "label": d["severity"], "start_line": d["line"],
                          "end_line": d["end_line"], "tokens": 7, "text": d["message"]})
        tokens = sum(i["tokens"] for i in items)
        priced = not model.startswith("no-price")
        usd = (tokens + 300) * 0.75e-6 + 900 * 4.5e-6 if priced else None
        route = {"tier": tier, "model": model, "reasons": reasons,
                 "estimate": {"input_tokens": tokens + 300, "output_tokens": 900, "usd": usd,
                              "usd_full": (tokens + 300) * 2.5e-6 + 900 * 15e-6}}
        context = {"file": params["path"], "language": params.get("filetype") or None,
                   "scope": {"kind": kind, "name": name, "start_line": start, "end_line": end},
                   "items": items, "tokens": tokens, "file_tokens": file_tokens,
                   "dropped": 0, "over_budget": False}
        if method == "route":
            return None, {"route": route}
        if method == "context":
            return None, {"context": context}
        return None, {"route": route, "context": context}

    def event(self, call_id, event):
        self.request("nvim_exec_lua",
                     ["return require('frugal.host')._event(...)", [call_id, event]])

    def start_run(self, call_id, params):
        self.last_params = params
        script = self.scripts.pop(0) if self.scripts else {
            "events": [{"kind": "start"}, {"kind": "text", "text": "A fake answer.\n"}]}
        lines = self.request("nvim_buf_get_lines", [params["bufnr"], 0, -1, False])
        self.runs[call_id] = Run(call_id, params, script, lines)

    def result(self, run):
        params, script = run.params, run.script
        action = params["action"]
        tier = params.get("tier") or "mini"
        result = {"action": action, "tier": tier, "model": self.tier_model(tier),
                  "text": run.text, "output": OUTPUTS.get(action, "markdown"),
                  "usage": {"input_tokens": 1200, "cached_input_tokens": 0,
                            "cache_write_tokens": 0, "output_tokens": max(1, len(run.text) // 4),
                            "reasoning_tokens": 0, "estimated": False},
                  "cost_usd": 0.0012, "latency_ms": 50, "attempts": 1}
        result.update(script.get("result", {}))
        return result

    def step(self, run):
        """Sends the run's next scripted event, or its reply after the last one."""
        if not run.steps:
            if run.script.get("hold"):
                run.paused = True  # stays until cancelled
                return
            del self.runs[run.id]
            self.reply(run.id, run.script.get("err"), self.result(run))
            return
        ev = dict(run.steps.pop(0))
        ev.pop("pause_ms", None)
        if ev.get("wait"):
            if self.early_releases > 0:
                self.early_releases -= 1  # released before it got here
            else:
                run.paused = True
        else:
            if "hex" in ev:
                ev["text"] = bytes.fromhex(ev.pop("hex")).decode("utf-8", ESCAPE)
            if ev.get("kind") == "start" and len(ev) == 1:
                line = run.params["line"]
                start = run.params.get("sel_start") or max(1, line - 1)
                end = run.params.get("sel_end") or min(len(run.lines), line + 1)
                tier = run.params.get("tier") or "mini"
                ev.update({"tier": tier, "model": self.tier_model(tier),
                           "reasons": ["fake host: %s -> %s" % (run.params["action"], tier)],
                           "scope": {"kind": "function", "name": "fake_scope",
                                     "start_line": start, "end_line": end},
                           "estimate": {"input_tokens": 1200, "output_tokens": 900}})
            if ev.get("kind") == "text":
                run.text += ev["text"]
            self.event(run.id, ev)
        run.due = time.monotonic() + run.delay(run.steps[0] if run.steps else None)

    def cancel(self, call_id, params):
        run = self.runs.pop(params.get("id"), None)
        if run is None:
            self.reply(call_id, None, {"cancelled": False})
            return
        self.reply(call_id, None, {"cancelled": True})
        self.reply(run.id, "cancelled", {"action": run.params["action"], "text": run.text})

    def handle(self, call_id, method, params):
        self.calls += 1
        if method == "crash":
            sys.stderr.write("fake host: crashing as asked (call %d)\n" % self.calls)
            sys.stderr.flush()
            sys.exit(int(params.get("code", 3)))
        if method == "hold":
            return
        if method == "run":
            self.start_run(call_id, params)
            return
        if method == "cancel":
            self.cancel(call_id, params)
            return
        if method == "script":
            self.scripts.append(params)
            err, result = None, {"ok": True}
        elif method == "release":
            paused = [r for r in self.runs.values() if r.paused]
            for run in paused:
                run.paused = False
                run.due = time.monotonic() + run.delay(run.steps[0] if run.steps else None)
            if not paused:
                self.early_releases += 1
            err, result = None, {"ok": True}
        elif method == "last_run":
            err, result = None, self.last_params or {}
        elif method == "version":
            err, result = None, VERSION
        elif method == "configure":
            err, result = self.configure(params)
        elif method in ("preview", "context", "route"):
            err, result = self.preview(params, method)
        else:
            err, result = "unknown method: %s" % method, None
        self.reply(call_id, err, result)

    def run(self):
        while True:
            while self.backlog:
                msg = self.backlog.pop(0)
                if msg[0] == 2 and msg[1] == "frugal_call":
                    call_id, method, params = msg[2]
                    self.handle(call_id, method, params or {})
                elif msg[0] == 0:
                    self.send([1, msg[1], [0, "fake host: no methods"], None])
            now = time.monotonic()
            due = [r for r in self.runs.values() if not r.paused]
            ready = [r for r in due if r.due <= now]
            if ready:
                self.step(min(ready, key=lambda r: r.due))
                continue
            timeout = max(0.0, min(r.due for r in due) - now) if due else None
            if not self.read_more(timeout):
                return


def main(argv):
    if "--version" in argv:
        if "--json" in argv:
            print(json.dumps(VERSION))
        else:
            print("frugal %s (fake)" % VERSION["version"])
        return 0
    if "--stdio" not in argv:
        sys.stderr.write("usage: fake_host.py --stdio | --version [--json]\n")
        return 2
    Host().run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
