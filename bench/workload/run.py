#!/usr/bin/python3
"""The 50-task mixed workload: hybrid (Mini + Full) against Full-only, through the editor.

Copies the stockroom project (bench/workload/project) into a temp dir, starts the local
provider server (tests/server/provider_server.py, 127.0.0.1 only), a headless Neovim with the
plugin and the real host, and runs the 50 tasks of tasks.py as `:Frugal ...` commands, accepting
every edit and test proposal. Then it runs the same 50 tasks again, each with `:Frugal!` (Full
forced), on a fresh copy of the project and a fresh cache, into a second ledger, and compares:
the hybrid ledger's own Full-only counterfactual (`frugal cost --json`: full_only_usd) and the
measured Full-only run.

  /usr/bin/python3 bench/workload/run.py [--full anthropic|openai|both] [--keep]
                                         [--json FILE] [--host PATH] [--nvim PATH]

Prints the `frugal cost` tables and a summary in markdown (README.md holds a copy).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import pynvim

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from tasks import FULL, MINI, TASKS  # noqa: E402

SERVER = os.path.join(REPO, "tests", "server", "provider_server.py")
PROJECT = os.path.join(HERE, "project")
KEY_ENV = "FRUGAL_WORKLOAD_KEY"
LANGS = {".c": "c", ".h": "c", ".py": "python", ".js": "javascript", ".go": "go"}
OUTPUT = {"fix": "edit", "refactor": "edit", "docs": "edit", "implement": "edit",
          "tests": "tests", "review": "review"}
TIMEOUT = 20.0

# What the e2e tests capture too: every vim.notify, so errors can be reported.
CAPTURE = """
_G.wl_notes = {}
vim.notify = function(msg, level)
  table.insert(_G.wl_notes, { msg = tostring(msg), level = level or 2 })
end
vim.o.hidden = true
"""

WINDOWS = """
local out = {}
for _, win in ipairs(vim.api.nvim_list_wins()) do
  local buf = vim.api.nvim_win_get_buf(win)
  if vim.api.nvim_buf_get_name(buf):match('^frugal://') then
    out[#out + 1] = { win = win, ft = vim.api.nvim_buf_get_option(buf, 'filetype') }
  end
end
return out
"""


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.01)


class Server:
    def __init__(self, tmp):
        port_file = os.path.join(tmp, "port")
        self.p = subprocess.Popen([sys.executable, SERVER, "--port-file", port_file,
                                   "--exit-on-stdin-eof"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(port_file) and open(port_file).read().strip(), 10,
                 "the provider server")
        self.url = "http://127.0.0.1:%s" % open(port_file).read().strip()

    def _req(self, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def script(self, item):
        self._req("/__script", [item])

    def pending(self):
        return self._req("/__script")["pending"]

    def reset(self):
        self._req("/__reset", {})

    def requests(self):
        return self._req("/__requests")

    def stop(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()


def config(url, full_provider, ledger, host):
    def tier(provider, model):
        base = url if provider == "anthropic" else url + "/v1"
        return {"provider": provider, "model": model, "base_url": base, "api_key_env": KEY_ENV}
    full_model = "claude-sonnet-4-5" if full_provider == "anthropic" else "gpt-5.4"
    return {"tiers": {"mini": tier("openai", "gpt-5.4-mini"), "full": tier(full_provider,
                                                                           full_model)},
            "ledger": {"path": ledger}, "editor": {"host_cmd": [host]}}


# Answers ----------------------------------------------------------------------------------

def fenced(lang, code):
    return "```%s\n%s%s```\n" % (lang, code, "" if code.endswith("\n") else "\n")


def add_doc(lang, scope, doc):
    if lang != "python":
        return doc + "\n" + scope
    lines = scope.split("\n")
    i = next(k for k, l in enumerate(lines) if l.lstrip().startswith("def "))
    indent = len(lines[i]) - len(lines[i].lstrip()) + 4
    while not lines[i].rstrip().endswith(":"):
        i += 1
    body = [(" " * indent + d) if d else "" for d in doc.split("\n")]
    return "\n".join(lines[:i + 1] + body + lines[i + 1:])


def answer_for(task, lang, scope_text, scope_start, scope_end, misses):
    kind = task["answer"][0]
    if kind == "sub":
        code = scope_text
        for old, new in task["answer"][1]:
            if old not in code:
                misses.append("%s %s: %r not in the scope" % (task["action"], task["file"],
                                                               old[:40]))
                continue
            code = code.replace(old, new, 1)
        lead = {"fix": "The defect is fixed at its cause.",
                "refactor": "Refactored as asked; behaviour is unchanged.",
                "implement": "Implemented as the comment describes."}.get(task["action"], "")
        return {"text": (lead + "\n\n" if lead else "") + fenced(lang, code)}
    if kind == "doc":
        return {"text": fenced(lang, add_doc(lang, scope_text, task["answer"][1]))}
    if kind == "tests":
        return {"text": fenced(task["answer"][1], task["answer"][2])}
    if kind == "review":
        out = []
        for off, sev, msg in task["answer"][1]:
            line = min(scope_start + off, scope_end)
            out.append("%d: [%s] %s" % (line, sev, msg))
        return {"text": "\n".join(out) + "\n"}
    if kind == "text":
        return {"text": task["answer"][1]}
    if kind == "words":
        words, code = task["answer"][1], task["answer"][2]
        if not code:
            return {"words": words}
        with urllib.request.urlopen(ANSWER_URL[0] + "/__answer?words=%d" % words) as r:
            prose = r.read().decode()
        return {"text": prose.rstrip("\n") + "\n\nReplaces the lines above:\n\n" +
                fenced(code[0], code[1])}
    raise ValueError(kind)


ANSWER_URL = [""]


# The editor -------------------------------------------------------------------------------

class Editor:
    def __init__(self, cwd, nvim_bin, cfg):
        old = os.getcwd()
        os.chdir(cwd)  # the host and the project root follow Neovim's working directory
        try:
            self.nvim = pynvim.attach("child", argv=[
                nvim_bin, "--embed", "--headless", "--clean", "-n",
                "--cmd", "set rtp^=" + REPO.replace(",", "\\,")])
        finally:
            os.chdir(old)
        self.lua(CAPTURE)
        self.lua("require('frugal').setup(...)", cfg)
        self.seen_notes = 0

    def lua(self, code, *args):
        return self.nvim.exec_lua(code, *args)

    def in_flight(self):
        return self.lua("return package.loaded['frugal.run'] and "
                        "require('frugal.run').in_flight() or 0")

    def windows(self, ft):
        return [w for w in self.lua(WINDOWS) if w["ft"] == ft]

    def new_notes(self):
        notes = self.lua("return _G.wl_notes")
        new = notes[self.seen_notes:]
        self.seen_notes = len(notes)
        return new

    def press(self, win, keys):
        self.nvim.api.set_current_win(win)
        self.nvim.feedkeys(self.nvim.replace_termcodes(keys), "x")

    def outcome(self, ledger_id, outcome):
        self.lua("_G.wl_outcome = nil; require('frugal.host').call('outcome', "
                 "{ id = ..., outcome = select(2, ...) }, function(err, res) "
                 "_G.wl_outcome = { err = err and tostring(err) or vim.NIL } end)",
                 ledger_id, outcome)
        res = wait_for(lambda: self.lua("return _G.wl_outcome"), TIMEOUT, "the outcome call")
        if res.get("err"):
            raise RuntimeError("outcome: " + res["err"])

    def close(self):
        try:
            self.nvim.command("qa!", async_=True)
        except Exception:
            pass
        self.nvim.close()


def find_line(lines, needle, path):
    for i, l in enumerate(lines):
        if needle in l:
            return i + 1
    raise RuntimeError("%s: no line contains %r" % (path, needle))


def read_ledger(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as fh:
        for raw in fh:
            raw = raw.strip()
            if raw:
                out.append(json.loads(raw))
    return out


def run_pass(args, srv, root, name, full_provider, force_full, misses):
    """Runs the 50 tasks once. Returns per-task records and the ledger path."""
    proj = os.path.join(root, "stockroom")
    if os.path.exists(proj):
        shutil.rmtree(proj)
    shutil.copytree(PROJECT, proj)
    ledger = os.path.join(root, "ledger-%s.jsonl" % name)
    if os.path.exists(ledger):
        os.unlink(ledger)
    srv.reset()  # the same cold prompt caches for every pass
    ed = Editor(proj, args.nvim, config(srv.url, full_provider, ledger, args.host))
    records = []
    ns = ed.lua("return vim.api.nvim_create_namespace('workload')")
    try:
        for n, task in enumerate(TASKS, 1):
            t0 = time.monotonic()
            path = os.path.join(proj, task["file"])
            ed.nvim.command("silent! only | cclose")
            ed.nvim.command("edit " + path)
            if ed.lua("return vim.bo.modified"):
                ed.nvim.command("silent write")
            lines = ed.nvim.current.buffer[:]
            line = find_line(lines, task["at"], task["file"])
            end = find_line(lines, task["at2"], task["file"]) if task["at2"] else None
            ed.nvim.current.window.cursor = (line, 0)
            cli = [args.host, "context", "%s:%d" % (path, line), "--action",
                   task["cmd"].split()[0], "--json"]
            if end:
                cli[3:3] = ["--end-line", str(end)]
            scope = json.loads(subprocess.run(cli, check=True, capture_output=True,
                                              text=True).stdout)["scope"]
            s, e = scope["start_line"], scope["end_line"]
            lang = LANGS[os.path.splitext(path)[1]]
            srv.script(answer_for(task, lang, "\n".join(lines[s - 1:e]) + "\n", s, e, misses))
            if task["diag"]:
                d = task["diag"]
                dl = find_line(lines, d.get("at", task["at"]), task["file"]) - 1
                ed.lua("vim.diagnostic.set(...)", ns, 0, [{
                    "lnum": dl, "col": 0, "message": d["message"], "source": d["source"],
                    "severity": d["severity"]}])
            rng = "%d,%d" % (line, end) if end else ""
            ed.nvim.command("%sFrugal%s %s" % (rng, "!" if force_full else "", task["cmd"]))
            wait_for(lambda: ed.in_flight() == 0, TIMEOUT, "task %d to finish" % n)
            kind = OUTPUT.get(task["cmd"].split()[0], "markdown")
            applied = False
            if kind in ("edit", "tests"):
                win = wait_for(lambda: ed.windows("diff"), TIMEOUT, "the proposal")[0]["win"]
                ed.press(win, "a")
                wait_for(lambda: not ed.windows("diff"), TIMEOUT, "the proposal to close")
                applied = True
                if kind == "tests":
                    ed.nvim.command("silent! wall")
                else:
                    ed.nvim.command("call win_gotoid(bufwinid(%d))" % ed.lua(
                        "return vim.fn.bufnr(...)", path))
                    ed.nvim.command("silent write")
            elif kind == "review":
                wait_for(lambda: ed.lua("return #vim.fn.getqflist()") > 0, TIMEOUT,
                         "the quickfix list")
            if task["diag"]:
                ed.lua("vim.diagnostic.reset(...)", ns)
            if srv.pending() != 0:
                raise RuntimeError("task %d did not use its scripted answer" % n)
            entries = [x for x in read_ledger(ledger) if x.get("type") != "outcome"]
            mine = [x for x in entries if x["task_id"] == entries[-1]["task_id"]]
            recorded_by = None
            if applied:
                # The plugin records what became of a proposal; an older one did not, and then
                # the runner records it through the host's `outcome` method.
                def has_outcome():
                    return any(x.get("type") == "outcome" and x["id"] == mine[-1]["id"]
                               for x in read_ledger(ledger))
                try:
                    wait_for(has_outcome, 1.0, "the outcome")
                    recorded_by = "plugin"
                except RuntimeError:
                    ed.outcome(mine[-1]["id"], "applied")
                    recorded_by = "runner"
            errors = [x["msg"] for x in ed.new_notes() if x["level"] >= 3]
            records.append({
                "n": n, "cls": task["cls"], "action": task["cmd"].split()[0],
                "file": task["file"], "scope": [s, e], "tier": mine[-1]["tier"],
                "model": mine[-1]["model"], "requests": len(mine),
                "input": sum(x["input_tokens"] for x in mine),
                "cached": sum(x["cached_input_tokens"] or 0 for x in mine),
                "cache_write": sum(x["cache_write_tokens"] or 0 for x in mine),
                "output": sum(x["output_tokens"] for x in mine),
                "cost": sum(x["cost_usd"] for x in mine),
                "full_cost": sum(x["full_cost_usd"] for x in mine),
                "applied": applied, "outcome_by": recorded_by, "errors": errors,
                "seconds": round(time.monotonic() - t0, 3)})
    finally:
        ed.close()
    if args.requests:
        with open("%s.%s.json" % (args.requests, name), "w") as fh:
            json.dump(srv.requests(), fh)
    return records, ledger


def cost(host, ledger, as_json):
    cmd = [host, "cost", "all", "--ledger", ledger] + (["--json"] if as_json else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out) if as_json else out


def usd(x):
    return "$%.4f" % x


def class_sums(records):
    out = {}
    for cls in (MINI, FULL):
        rs = [r for r in records if r["cls"] == cls]
        out[cls] = {"tasks": len(rs), "cost": sum(r["cost"] for r in rs),
                    "full_cost": sum(r["full_cost"] for r in rs),
                    "input": sum(r["input"] for r in rs), "cached": sum(r["cached"] for r in rs),
                    "cache_write": sum(r["cache_write"] for r in rs),
                    "output": sum(r["output"] for r in rs)}
    return out


def report(full_provider, hyb, hyb_rep, hyb_table, fo, fo_rep, fo_table):
    lines = []
    p = lines.append
    model = "claude-sonnet-4-5" if full_provider == "anthropic" else "gpt-5.4"
    p("### Full = %s (%s), Mini = gpt-5.4-mini (openai)\n" % (model, full_provider))
    p("`frugal cost all --ledger hybrid.jsonl`:\n\n```\n%s```\n" % hyb_table)
    p("`frugal cost all --ledger full-only.jsonl` (the same 50 tasks with `:Frugal!`):\n\n"
      "```\n%s```\n" % fo_table)
    n = len(hyb)
    hc, cf, fc = hyb_rep["cost_usd"], hyb_rep["full_only_usd"], fo_rep["cost_usd"]
    p("| run | tasks | requests | cost | avg per task |")
    p("|---|---|---|---|---|")
    p("| hybrid (measured) | %d | %d | %s | %s |" % (n, hyb_rep["entries"], usd(hc), usd(hc / n)))
    p("| Full-only, the hybrid ledger's counterfactual | %d | %d | %s | %s |"
      % (n, hyb_rep["entries"], usd(cf), usd(cf / n)))
    p("| Full-only (measured, `:Frugal!`) | %d | %d | %s | %s |"
      % (n, fo_rep["entries"], usd(fc), usd(fc / n)))
    p("")
    p("- saving by the ledger (counterfactual): **%.1f%%** (`savings_pct` %.1f)"
      % (100 * (1 - hc / cf), hyb_rep["savings_pct"]))
    p("- saving against the measured Full-only run: **%.1f%%**" % (100 * (1 - hc / fc)))
    p("- counterfactual vs measured Full-only: %+.2f%%" % (100 * (cf / fc - 1)))
    hs, fs = class_sums(hyb), class_sums(fo)
    p("")
    p("| class | tasks | hybrid cost | same tokens at Full prices | measured Full-only | "
      "share of Full-only cost | input tok (cached, cache-write) | output tok |")
    p("|---|---|---|---|---|---|---|---|")
    for cls in (MINI, FULL):
        h, f = hs[cls], fs[cls]
        p("| %s-class | %d | %s | %s | %s | %.0f%% | %d (%d, %d) | %d |"
          % (cls.capitalize(), h["tasks"], usd(h["cost"]), usd(h["full_cost"]), usd(f["cost"]),
             100 * f["cost"] / fc, h["input"], h["cached"], h["cache_write"], h["output"]))
    p("")
    p("Full-only run tokens: Mini-class input %d (cached %d, cache-write %d), output %d; "
      "Full-class input %d (cached %d, cache-write %d), output %d."
      % (fs[MINI]["input"], fs[MINI]["cached"], fs[MINI]["cache_write"], fs[MINI]["output"],
         fs[FULL]["input"], fs[FULL]["cached"], fs[FULL]["cache_write"], fs[FULL]["output"]))
    # What another mix would give, from the per-class averages measured here.
    am = hs[MINI]["cost"] / hs[MINI]["tasks"]
    af = hs[FULL]["cost"] / hs[FULL]["tasks"]
    fm = fs[MINI]["cost"] / fs[MINI]["tasks"]
    ff = fs[FULL]["cost"] / fs[FULL]["tasks"]
    p("")
    p("Saving for other mixes of 50 tasks (per-class averages of these runs):\n")
    p("| Mini-class / Full-class | hybrid | Full-only | saving |")
    p("|---|---|---|---|")
    for m in (50, 48, 45, 40, 35, 30):
        h = m * am + (50 - m) * af
        f = m * fm + (50 - m) * ff
        p("| %d / %d | %s | %s | %.1f%% |" % (m, 50 - m, usd(h), usd(f), 100 * (1 - h / f)))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", choices=["anthropic", "openai", "both"], default="both")
    ap.add_argument("--host", default=os.environ.get("FRUGAL_HOST",
                                                     os.path.join(REPO, "build", "frugal")))
    ap.add_argument("--nvim", default=os.environ.get("FRUGAL_NVIM", "nvim"))
    ap.add_argument("--json", help="write every task's figures to this file")
    ap.add_argument("--requests", help="save the server's request log to FILE.<pass>.json")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (ledgers, project)")
    args = ap.parse_args()
    os.environ[KEY_ENV] = "sk-workload-local-0000"
    root = tempfile.mkdtemp(prefix="frugal-workload-")
    os.environ["XDG_STATE_HOME"] = os.path.join(root, "state")
    srv = Server(root)
    ANSWER_URL[0] = srv.url
    started = time.monotonic()
    providers = ["openai", "anthropic"] if args.full == "both" else [args.full]
    out, dump, misses = [], {}, []
    try:
        for prov in providers:
            hyb, hyb_ledger = run_pass(args, srv, root, prov + "-hybrid", prov, False, misses)
            fo, fo_ledger = run_pass(args, srv, root, prov + "-full-only", prov, True, misses)
            text = report(prov, hyb, cost(args.host, hyb_ledger, True),
                          cost(args.host, hyb_ledger, False), fo,
                          cost(args.host, fo_ledger, True), cost(args.host, fo_ledger, False))
            print(text)
            sys.stdout.flush()
            out.append(text)
            dump[prov] = {"hybrid": hyb, "full_only": fo}
            for r in hyb + fo:
                if r["errors"]:
                    print("task %d (%s): %s" % (r["n"], r["action"], r["errors"]))
                if r["applied"] and r["outcome_by"] != "plugin":
                    print("task %d (%s): outcome recorded by the runner" % (r["n"], r["action"]))
                if r["requests"] != 1:
                    print("task %d (%s): %d requests" % (r["n"], r["action"], r["requests"]))
    finally:
        srv.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("kept", root)
    for m in sorted(set(misses)):
        print("answer not built as intended:", m)
    print("wall time: %.1f s for %d tasks" % (time.monotonic() - started,
                                               2 * len(TASKS) * len(providers)))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dump, fh, indent=1)


if __name__ == "__main__":
    main()
