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
  last_call {method=}  the params of the latest call of `method` (nil when none)
  count {method=}      how many calls of `method` were received
  ledger {on=}   with on = true, results carry the ledger's fields (ledger = {id, task_id,
                 path}, spent_today_usd); without it they have the shape of a host before the
                 ledger, so the plugin's fallbacks are tested too. The fake ledger (in memory)
                 records every answered run either way.
  outcomes {}    the `outcome` calls received: [{id, outcome}, ...]

The ledger's methods are served like the real host's, from the fake ledger: `cost` {period}
(the report and its text), `outcome` {id, outcome}. Budgets (config budget.daily_usd) refuse a
run or follow-up estimated at $0.0012 that would pass the limit, and warn in the start event past
80%, unless budget_override. `again` {id, instruction, tier?, budget_override?} continues the
conversation of an answered run or follow-up (scripted like a run; results carry turn and
max_turns, config conversation.max_turns, default 10, for the mini tier).
"""
import json
import os
import re
import select
import sys
import time

import msgpack

VERSION = {"version": "0.1.0", "libuv": "fake", "msgpack": "fake", "curl": "fake",
           "jansson": "fake"}
TOP_KEYS = {"tiers", "prices", "actions", "ledger", "budget", "escalation", "http",
            "conversation"}
ESTIMATE_USD = 0.0012
LEDGER_PATH = "/fake/state/frugal/ledger.jsonl"
OUTPUTS = {"fix": "replace", "refactor": "replace", "docs": "replace", "implement": "replace",
           "review": "review", "review-all": "review", "tests": "tests"}
ESCAPE = "surrogateescape"  # raw bytes (cut UTF-8) pass through strings unchanged


def limit_text(usd):
    """A budget limit as the host says it: whole cents as $5.00, else as written ($0.083)."""
    s = "%.6f" % usd
    while len(s) - s.index(".") > 3 and s.endswith("0"):
        s = s[:-1]
    return s


class Run:
    """A `run` in flight: its scripted steps and what has been sent."""

    def __init__(self, call_id, params, script, lines, warning=None, conv=None):
        self.id = call_id
        self.params = params
        self.warning = warning
        self.conv = conv  # the conversation a follow-up continues, or None for a run
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
        self.last_calls = {}
        self.counts = {}
        self.early_releases = 0
        self.ledger_on = False
        self.ledger = []  # {id, action, tier, cost_usd, date}
        self.outcomes = []
        self.convs = {}  # id of an answered run or follow-up -> {params, lines, turn}

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
            if isinstance(other, dict):
                other = other["path"]
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

    def spent_today(self):
        today = time.strftime("%Y-%m-%d", time.gmtime())
        return sum(e["cost_usd"] for e in self.ledger if e["date"] == today)

    def check_budget(self, params):
        """Returns (refusal or None, warning or None) for a request estimated at $0.0012."""
        limit = self.config.get("budget", {}).get("daily_usd")
        if limit is None:
            return None, None
        spent = self.spent_today()
        if spent + ESTIMATE_USD > limit and not params.get("budget_override"):
            return ("daily budget of $%s %s: $%.4f spent today and this request is estimated "
                    "at $%.4f (budget.daily_usd); add budget=ignore (frugal run --over-budget) "
                    "to send it anyway" % (limit_text(limit), "reached" if spent >= limit else
                                           "would be passed", spent, ESTIMATE_USD)), None
        if spent + ESTIMATE_USD > 0.8 * limit:
            return None, ("this request would bring today's spend to $%.4f of the $%s daily "
                          "budget (%.0f%%)" % (spent + ESTIMATE_USD, limit_text(limit),
                                               100.0 * (spent + ESTIMATE_USD) / limit))
        return None, None

    def start_run(self, call_id, params):
        self.last_params = params
        refusal, warning = self.check_budget(params)
        if refusal:
            self.reply(call_id, refusal, None)
            return
        script = self.scripts.pop(0) if self.scripts else {
            "events": [{"kind": "start"}, {"kind": "text", "text": "A fake answer.\n"}]}
        lines = self.request("nvim_buf_get_lines", [params["bufnr"], 0, -1, False])
        self.runs[call_id] = Run(call_id, params, script, lines, warning)

    def max_turns(self):
        return self.config.get("conversation", {}).get("max_turns", 10)

    def start_again(self, call_id, params):
        conv = self.convs.get(params.get("id"))
        if conv is None:
            self.reply(call_id, "no conversation %s (it ended or the host restarted)"
                       % params.get("id"), None)
            return
        tier = params.get("tier") or conv["params"].get("tier") or "mini"
        if tier == "mini" and conv["turn"] >= self.max_turns():
            self.reply(call_id, "this mini conversation has reached %d turns: start a fresh "
                       "request (:Frugal %s) or continue on full (:Frugal! again ...)"
                       % (self.max_turns(), conv["params"]["action"]), None)
            return
        refusal, warning = self.check_budget(params)
        if refusal:
            self.reply(call_id, refusal, None)
            return
        run_params = dict(conv["params"], instruction=params.get("instruction"), tier=tier)
        script = self.scripts.pop(0) if self.scripts else {
            "events": [{"kind": "start"}, {"kind": "text", "text": "A fake follow-up.\n"}]}
        self.runs[call_id] = Run(call_id, run_params, script, conv["lines"], warning, conv)

    def result(self, run):
        params, script = run.params, run.script
        action = params["action"]
        tier = params.get("tier") or "mini"
        result = {"action": action, "tier": tier, "model": self.tier_model(tier),
                  "text": run.text, "output": OUTPUTS.get(action, "markdown"),
                  "usage": {"input_tokens": 1200, "cached_input_tokens": 0,
                            "cache_write_tokens": 0, "output_tokens": max(1, len(run.text) // 4),
                            "reasoning_tokens": 0, "estimated": False},
                  "cost_usd": ESTIMATE_USD, "latency_ms": 50, "attempts": 1,
                  "turn": (run.conv["turn"] + 1) if run.conv else 1,
                  "max_turns": self.max_turns()}
        result.update(script.get("result", {}))
        return result

    def answered(self, run, result):
        """Records an answered run in the fake ledger and its conversation."""
        entry = {"id": "fake-%d" % (len(self.ledger) + 1), "action": run.params["action"],
                 "tier": result.get("tier") or "mini", "cost_usd": result.get("cost_usd") or 0,
                 "date": time.strftime("%Y-%m-%d", time.gmtime())}
        self.ledger.append(entry)
        if self.ledger_on and "ledger" not in run.script.get("result", {}):
            result["ledger"] = {"id": entry["id"], "task_id": entry["id"], "path": LEDGER_PATH}
        if self.ledger_on and "spent_today_usd" not in run.script.get("result", {}):
            result["spent_today_usd"] = self.spent_today()
        self.convs[run.id] = {"params": run.conv["params"] if run.conv else run.params,
                              "lines": run.lines, "turn": result["turn"]}

    def cost(self, params):
        period = params.get("period", "today")
        path = self.config.get("ledger", {}).get("path") or ""
        if "unreadable" in path:
            return "cannot read the ledger %s: Permission denied" % path, None
        today = time.strftime("%Y-%m-%d", time.gmtime())
        date = r"\d{4}-\d{2}-\d{2}"
        if period in ("week", "month", "all"):
            entries = self.ledger
        elif period == "today":
            entries = [e for e in self.ledger if e["date"] == today]
        elif re.fullmatch(date, period):
            entries = [e for e in self.ledger if e["date"] == period]
        elif re.fullmatch(date + r"\.\." + date, period):
            a, b = period.split("..")
            entries = [e for e in self.ledger if a <= e["date"] <= b]
        else:
            return ("cost: unknown period '%s' (today, week, month, all, YYYY-MM-DD or "
                    "YYYY-MM-DD..YYYY-MM-DD)" % period), None
        total = sum(e["cost_usd"] for e in entries)
        actions = sorted({e["action"] for e in entries})
        by_action = [{"action": a, "tasks": sum(1 for e in entries if e["action"] == a),
                      "cost_usd": sum(e["cost_usd"] for e in entries if e["action"] == a)}
                     for a in actions]
        text = ["fake cost report: %s" % period, ""]
        text += ["  %-10s %d tasks  $%.4f" % (a["action"], a["tasks"], a["cost_usd"])
                 for a in by_action]
        text += ["", "Full-only: $%.4f" % (total * 3), "",
                 "%s %s $%.4f" % (today, "#" * len(entries), total)]
        report = {"tasks": len(entries), "cost_usd": total, "full_only_usd": total * 3,
                  "savings_usd": total * 2, "savings_pct": 66.7 if entries else 0,
                  "by_tier": [], "by_action": by_action,
                  "by_day": [{"date": today, "cost_usd": total}], "warnings": []}
        return None, {"report": report, "text": "\n".join(text) + "\n", "path": LEDGER_PATH}

    def step(self, run):
        """Sends the run's next scripted event, or its reply after the last one."""
        if not run.steps:
            if run.script.get("hold"):
                run.paused = True  # stays until cancelled
                return
            del self.runs[run.id]
            result = self.result(run)
            if not run.script.get("err"):
                self.answered(run, result)
            self.reply(run.id, run.script.get("err"), result)
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
            if ev.get("kind") == "start" and run.warning:
                ev["warning"] = run.warning
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
        self.last_calls[method] = params
        self.counts[method] = self.counts.get(method, 0) + 1
        if method == "crash":
            sys.stderr.write("fake host: crashing as asked (call %d)\n" % self.calls)
            sys.stderr.flush()
            sys.exit(int(params.get("code", 3)))
        if method == "hold":
            return
        if method == "run":
            self.start_run(call_id, params)
            return
        if method == "again":
            self.start_again(call_id, params)
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
        elif method == "last_call":
            err, result = None, self.last_calls.get(params.get("method"))
        elif method == "count":
            err, result = None, self.counts.get(params.get("method"), 0)
        elif method == "ledger":
            self.ledger_on = bool(params.get("on"))
            err, result = None, {"ok": True}
        elif method == "outcomes":
            err, result = None, self.outcomes
        elif method == "outcome":
            if not params.get("id") or params.get("outcome") not in ("applied", "rejected"):
                err, result = "outcome needs 'id' (a ledger id) and 'outcome'", None
            else:
                self.outcomes.append({"id": params["id"], "outcome": params["outcome"]})
                err, result = None, {"ok": True}
        elif method == "cost":
            err, result = self.cost(params)
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
