#!/usr/bin/python3
"""bench/plan: multi-step features, Full-only (one request does the whole feature) against
hybrid (`frugal run plan --execute --apply`: the plan on Full, each step on Mini), on a copy of
bench/workload/project with the local provider server (tests/server/provider_server.py).
Then the mixed workload: bench/workload's measured per-task costs for its first 42 tasks plus
these 8 features, hybrid against Full-only. See README.md.

    /usr/bin/python3 bench/plan/run.py [--host build/frugal] [--workload FILE.json] [--json OUT]
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROJECT = os.path.join(ROOT, "bench", "workload", "project")
SERVER = os.path.join(ROOT, "tests", "server", "provider_server.py")
KEY_ENV = "FRUGAL_BENCH_KEY"

# (file, anchor: the first line holding it, the line to add at the top of the body)
FEATURES = [
    ("Trace every ring buffer transfer: writes, reads and growth report their sizes through "
     "trace_event(name, bytes) so a stall can be found from the trace.",
     [("src/ringbuf.c", "size_t ringbuf_write(", '  trace_event("ringbuf_write", n);'),
      ("src/ringbuf.c", "size_t ringbuf_read(", '  trace_event("ringbuf_read", n);'),
      ("src/ringbuf.c", "int ringbuf_grow(", '  trace_event("ringbuf_grow", min_cap);')]),
    ("Count CSV parse errors: every rejected record or row increments the reader's error "
     "counter, and the report's loader stops after 100 errors.",
     [("src/csv.c", "csv_status csv_next(", "  r->errors_seen += r->pending_error;"),
      ("src/csv.c", "csv_status csv_parse_stock_row(", "  r_errors_checked(r);"),
      ("src/report.c", "static int load_table(", "  long error_budget = 100;")]),
    ("Low-stock warnings in the report: summarize counts rows under the threshold, "
     "print_report prints a warning line per such row, main takes --warn-only.",
     [("src/report.c", "static stock_summary summarize(", "  long warn_rows = 0;"),
      ("src/report.c", "static int print_report(", "  int warned = 0;"),
      ("src/report.c", "int main(", "  int warn_only = 0;")]),
    ("An audit log for order state changes: reserve, cancel and ship each log the order id "
     "and the operator through the module logger before they change anything.",
     [("stock/orders.py", "    def reserve(self, order_id", 'log.info("reserve %s", order_id)'),
      ("stock/orders.py", "    def cancel(self, order_id", 'log.info("cancel %s: %s", order_id, reason)'),
      ("stock/orders.py", "    def ship(self, order_id", 'log.info("ship %s via %s", order_id, carrier)')]),
    ("Unknown regions are an error everywhere in pricing: tax_cents, shipping_cents and "
     "price_order raise ValueError naming the region instead of falling back to a default.",
     [("stock/pricing.py", "def tax_cents(", "_check_region(region)"),
      ("stock/pricing.py", "def shipping_cents(", "_check_region(region)"),
      ("stock/pricing.py", "def price_order(", "_check_region(region)")]),
    ("Revenue figures exclude cancelled orders and report margins: daily_revenue and top_skus "
     "skip cancelled orders, margin_pct refuses a zero price.",
     [("stock/orders.py", "    def daily_revenue(", "skip = {Status.CANCELLED}"),
      ("stock/orders.py", "    def top_skus(", "skip = {Status.CANCELLED}"),
      ("stock/pricing.py", "def margin_pct(", "_require_positive(price_cents)")]),
    ("Metrics for the stock service: Apply, Transfer and LowStock count their calls and "
     "failures in the store's metrics map, exposed later by the handler.",
     [("svc/inventory.go", "func (s *Store) Apply(", '\ts.count("apply")'),
      ("svc/inventory.go", "func (s *Store) Transfer(", '\ts.count("transfer")'),
      ("svc/inventory.go", "func (s *Store) LowStock(", '\ts.count("low_stock")'),
      ("svc/inventory.go", "func (h *Handler) postMovement(", '\th.store.count("http_post")')]),
    ("Validate quantities in the web cart: add and setQuantity reject non-integer or negative "
     "quantities with a RangeError, and renderCart shows the rejected input.",
     [("web/cart.js", "  add(sku, quantity = 1) {", "    assertQuantity(quantity);"),
      ("web/cart.js", "  setQuantity(sku, input) {", "    assertQuantity(Number(input));"),
      ("web/cart.js", "function renderCart(", "  const rejected = cart.rejectedInput || '';"),
      ("web/format.js", "function formatCents(", "  assertFinite(cents);")]),
]

INSTRUCTION = ("Add {what} at the start of {name}'s body in {path}. Inputs and outputs stay as "
               "they are; the existing cases keep their behaviour. This is part of: {goal} "
               "Do not change any other function, keep the file's style and indentation, and "
               "make sure every early return still happens after the new line.")


class Server:
    def __init__(self, tmp):
        port_file = os.path.join(tmp, "port")
        self.p = subprocess.Popen([sys.executable, SERVER, "--port-file", port_file,
                                   "--exit-on-stdin-eof"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        self.url = "http://127.0.0.1:%s" % open(port_file).read().strip()

    def post(self, path, payload):
        req = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def requests(self):
        with urllib.request.urlopen(self.url + "/__requests", timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.p.stdin.close()
        self.p.wait(timeout=5)


def config(url):
    def tier(provider, model):
        base = url if provider == "anthropic" else url + "/v1"
        return {"provider": provider, "model": model, "base_url": base, "api_key_env": KEY_ENV}
    return {"tiers": {"mini": tier("openai", "gpt-5.4-mini"),
                      "full": tier("anthropic", "claude-sonnet-4-5")}}


def frugal(args, proj, cfg, state, *argv):
    env = dict(os.environ, XDG_STATE_HOME=state, **{KEY_ENV: "sk-bench-plan-1234"})
    p = subprocess.run([args.host, *argv, "--config", cfg], cwd=proj, env=env,
                       capture_output=True, text=True, timeout=120)
    return p


def scope_of(args, proj, cfg, state, path, line):
    p = frugal(args, proj, cfg, state, "context", "%s:%d" % (path, line), "--action", "fix",
               "--json")
    s = json.loads(p.stdout)["scope"]
    return s["name"], s["start_line"], s["end_line"]


def line_of(proj, path, anchor):
    with open(os.path.join(proj, path)) as f:
        for i, l in enumerate(f, 1):
            if anchor in l:
                return i
    raise RuntimeError("%s: no line holds %r" % (path, anchor))


def new_scope(lines, start, end, add):
    """The scope with `add` as the first line of its body (after the signature)."""
    scope = lines[start - 1:end]
    py = scope[0].lstrip().startswith("def ")
    for i, l in enumerate(scope):
        if (py and l.rstrip().endswith(":")) or (not py and l.rstrip().endswith("{")):
            if py:
                indent = " " * (len(scope[0]) - len(scope[0].lstrip()) + 4)
                add = indent + add
            return scope[:i + 1] + [add] + scope[i + 1:]
    raise RuntimeError("no body in %r" % scope[0])


def steps_of(args, proj, cfg, state, feature):
    goal, edits = feature
    out = []
    for path, anchor, add in edits:
        line = line_of(proj, path, anchor)
        name, s, e = scope_of(args, proj, cfg, state, path, line)
        with open(os.path.join(proj, path)) as f:
            lines = f.read().split("\n")
        old = lines[s - 1:e]
        new = new_scope(lines, s, e, add)
        out.append({"path": path, "line": line, "name": name, "start": s, "end": e,
                    "old": "\n".join(old) + "\n", "new": "\n".join(new) + "\n",
                    "instruction": INSTRUCTION.format(what="`%s`" % add.strip(), name=name,
                                                      path=path, goal=goal)})
    return goal, out


def fence(path):
    ext = os.path.splitext(path)[1]
    return {".c": "c", ".py": "python", ".go": "go", ".js": "javascript"}[ext]


def full_only(args, proj, cfg, state, srv, feature):
    goal, steps = steps_of(args, proj, cfg, state, feature)
    blocks = "".join("%s\n```%s\n<<<<<<< SEARCH\n%s=======\n%s>>>>>>> REPLACE\n```\n\n"
                     % (s["path"], fence(s["path"]), s["old"], s["new"]) for s in steps)
    answer = "The feature touches %d functions; the edits:\n\n%s" % (len(steps), blocks)
    srv.post("/__script", [{"text": answer}])
    files = sorted({s["path"] for s in steps} - {steps[0]["path"]})
    argv = ["run", "refactor-files", "%s:%d" % (steps[0]["path"], steps[0]["line"]),
            "--instruction", goal, "--tier", "full", "--json"]
    for f in files:
        argv += ["--file", f]
    before = len(srv.requests())
    p = frugal(args, proj, cfg, state, *argv)
    r = json.loads(p.stdout)
    # the runner applies the blocks (each SEARCH occurs once: checked)
    for s in steps:
        fp = os.path.join(proj, s["path"])
        text = open(fp).read()
        assert text.count(s["old"]) == 1, (s["path"], s["name"])
        open(fp, "w").write(text.replace(s["old"], s["new"]))
    u = r["usage"]
    return {"goal": goal, "requests": len(srv.requests()) - before, "cost": r["cost_usd"],
            "input": u["input_tokens"], "output": u["output_tokens"], "steps": len(steps)}


def hybrid(args, proj, cfg, state, srv, feature):
    goal, steps = steps_of(args, proj, cfg, state, feature)
    plan = "".join("%d. fix %s:%d - %s\n" % (i + 1, s["path"], s["line"], s["instruction"])
                   for i, s in enumerate(steps))
    items = [{"text": plan}]
    for s in steps:
        items.append({"text": "The change, as asked:\n```%s\n%s```\n" % (fence(s["path"]),
                                                                       s["new"])})
    srv.post("/__script", items)
    files = sorted({s["path"] for s in steps} - {steps[0]["path"]})
    argv = ["run", "plan", "%s:%d" % (steps[0]["path"], steps[0]["line"]), "--instruction",
            goal, "--execute", "--apply", "--json"]
    for f in files:
        argv += ["--file", f]
    before = len(srv.requests())
    p = frugal(args, proj, cfg, state, *argv)
    if p.returncode != 0:
        raise RuntimeError("plan failed: %s\n%s" % (p.stderr, p.stdout[:2000]))
    r = json.loads(p.stdout)
    assert [x["status"] for x in r["results"]] == ["applied"] * len(steps), r["results"]
    reqs = srv.requests()[before:]
    return {"goal": goal, "requests": len(reqs), "cost": r["cost_usd"],
            "plan_cost": r["cost_usd"] - sum(x["cost_usd"] for x in r["results"]),
            "plan_input": r["usage"]["input_tokens"], "plan_output": r["usage"]["output_tokens"],
            "step_tiers": [x["tier"] for x in r["results"]],
            "step_cost": sum(x["cost_usd"] for x in r["results"]), "steps": len(steps)}


def run_pass(args, tmp, srv, name, fn):
    proj = os.path.join(tmp, name)
    shutil.copytree(PROJECT, proj)
    state = os.path.join(tmp, "state-" + name)
    cfg = os.path.join(tmp, "frugal-%s.json" % name)
    c = config(srv.url)
    c["ledger"] = {"path": os.path.join(tmp, "ledger-%s.jsonl" % name)}
    with open(cfg, "w") as f:
        json.dump(c, f)
    srv.post("/__reset", {})
    out = [fn(args, proj, cfg, state, srv, feat) for feat in FEATURES]
    files = {}
    for root, _, names in os.walk(proj):
        for n in names:
            p = os.path.join(root, n)
            files[os.path.relpath(p, proj)] = open(p, "rb").read()
    return out, files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default=os.environ.get("FRUGAL_HOST",
                                                     os.path.join(ROOT, "build", "frugal")))
    ap.add_argument("--workload", help="bench/workload/run.py --full anthropic --json output; "
                                       "run here when not given")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="frugal-bench-plan-")
    srv = Server(tmp)
    try:
        fo, fo_files = run_pass(args, tmp, srv, "full-only", full_only)
        hy, hy_files = run_pass(args, tmp, srv, "hybrid", hybrid)
    finally:
        srv.stop()
    same = fo_files == hy_files
    print("## Multi-step features: Full-only vs plan on Full + steps on Mini\n")
    print("| # | steps | Full-only: requests, in/out tokens, cost | hybrid: requests, plan "
          "in/out, plan + steps cost | saving |")
    print("|---|---|---|---|---|")
    for i, (a, b) in enumerate(zip(fo, hy), 1):
        print("| %d | %d | %d, %d/%d, $%.4f | %d, %d/%d, $%.4f + $%.4f = $%.4f | %.1f%% |" % (
            i, a["steps"], a["requests"], a["input"], a["output"], a["cost"], b["requests"],
            b["plan_input"], b["plan_output"], b["plan_cost"], b["step_cost"], b["cost"],
            100 * (1 - b["cost"] / a["cost"])))
    tfo = sum(a["cost"] for a in fo)
    thy = sum(b["cost"] for b in hy)
    print("\nfeatures: Full-only $%.4f (%d requests), hybrid $%.4f (%d requests; steps on %s); "
          "saving %.1f%%" % (tfo, sum(a["requests"] for a in fo), thy,
                             sum(b["requests"] for b in hy),
                             "/".join(sorted({t for b in hy for t in b["step_tiers"]})),
                             100 * (1 - thy / tfo)))
    print("the two passes leave every file of the project byte-identical: %s" % same)
    wl = args.workload
    if not wl:
        wl = os.path.join(tmp, "workload.json")
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "workload", "run.py"),
                        "--full", "anthropic", "--host", args.host, "--json", wl], check=True,
                       stdout=subprocess.DEVNULL)
    d = json.load(open(wl))["anthropic"]
    keep = 50 - len(FEATURES)
    whyb = sum(r["cost"] for r in d["hybrid"][:keep])
    wfo = sum(r["cost"] for r in d["full_only"][:keep])
    mh, mf = whyb + thy, wfo + tfo
    print("\n## The mixed workload: %d single tasks of bench/workload + %d features\n"
          % (keep, len(FEATURES)))
    print("| | hybrid | Full-only | saving |\n|---|---|---|---|")
    print("| %d workload tasks | $%.4f | $%.4f | %.1f%% |" % (keep, whyb, wfo,
                                                         100 * (1 - whyb / wfo)))
    print("| %d features | $%.4f | $%.4f | %.1f%% |" % (len(FEATURES), thy, tfo,
                                                      100 * (1 - thy / tfo)))
    print("| all 50 | $%.4f | $%.4f | **%.1f%%** |" % (mh, mf, 100 * (1 - mh / mf)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"full_only": fo, "hybrid": hy, "same_files": same,
                       "mixed": {"hybrid": mh, "full_only": mf}}, f, indent=1)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
