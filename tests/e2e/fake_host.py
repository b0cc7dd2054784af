#!/usr/bin/python3
"""A stand-in for `frugal --stdio` that speaks the same protocol as the real host.

It lets the plugin's own behaviour be tested without the native build: the request/reply
cycle, rendering of every field (including nil ones), configure errors, and what happens when
the host dies. Its answers are made up but shaped exactly like the real ones.

Protocol: Neovim sends the notification `frugal_call` [id, method, params]; the host answers
with the request nvim_exec_lua("return require('frugal.host')._reply(...)", [id, err, result]).

Extra methods for tests:
  crash {code=}  writes a line to stderr and exits with `code` (default 3), never answering
  hold {}        never answers (so a later crash has a pending call to fail)
"""
import json
import sys

import msgpack

VERSION = {"version": "0.1.0", "libuv": "fake", "msgpack": "fake", "curl": "fake",
           "jansson": "fake"}
TOP_KEYS = {"tiers", "prices", "actions", "ledger", "budget"}


class Host:
    def __init__(self):
        self.out = sys.stdout.buffer
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        self.next_msgid = 0
        self.backlog = []
        self.config = {}
        self.calls = 0

    def send(self, obj):
        self.out.write(msgpack.packb(obj, use_bin_type=True))
        self.out.flush()

    def messages(self):
        while True:
            if self.backlog:
                yield self.backlog.pop(0)
                continue
            chunk = sys.stdin.buffer.read1(65536)
            if not chunk:
                return
            self.unpacker.feed(chunk)
            for msg in self.unpacker:
                self.backlog.append(msg)

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
                    chunk = sys.stdin.buffer.read1(65536)
                    if not chunk:
                        sys.exit(0)
                    self.unpacker.feed(chunk)
                    self.backlog.extend(self.unpacker)
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

    def handle(self, call_id, method, params):
        self.calls += 1
        if method == "crash":
            sys.stderr.write("fake host: crashing as asked (call %d)\n" % self.calls)
            sys.stderr.flush()
            sys.exit(int(params.get("code", 3)))
        if method == "hold":
            return
        if method == "version":
            err, result = None, VERSION
        elif method == "configure":
            err, result = self.configure(params)
        elif method in ("preview", "context", "route"):
            err, result = self.preview(params, method)
        else:
            err, result = "unknown method: %s" % method, None
        self.reply(call_id, err, result)

    def run(self):
        for msg in self.messages():
            if msg[0] == 2 and msg[1] == "frugal_call":
                call_id, method, params = msg[2]
                self.handle(call_id, method, params or {})
            elif msg[0] == 0:
                self.send([1, msg[1], [0, "fake host: no methods"], None])


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
