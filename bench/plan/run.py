#!/usr/bin/python3
"""bench/plan: multi-step features, Full-only (one request does the whole feature) against
hybrid (`frugal run plan --execute --apply`: the plan on Full, each step on Mini), on a copy of
bench/workload/project with the local provider server (tests/server/provider_server.py).
Then the mixed workload: bench/workload's measured per-task costs with the features in place
of Full-class tasks, hybrid against Full-only. See README.md.

    /usr/bin/python3 bench/plan/run.py [--minimal | --large] [--host build/frugal]
                                       [--workload FILE.json] [--json OUT]

--large runs features_large.py's features on a project built at run time from real files of
this machine (Python 3.11's standard library, SQLite's CSV virtual table) instead.
"""
import argparse
import difflib
import itertools
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
# claude-sonnet-4-5's built-in prices (native/core/prices.c), per token: a cache write costs
# $3.75/M against $3.00/M for plain input
CACHE_WRITE_PREMIUM = (3.75 - 3.00) / 1e6
sys.path.insert(0, HERE)

from features import FEATURES, MINIMAL, edited_scope  # noqa: E402


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
    return subprocess.run([args.host, *argv, "--config", cfg], cwd=proj, env=env,
                          capture_output=True, text=True, timeout=120)


def fence(path):
    return {".c": "c", ".py": "python", ".go": "go", ".js": "javascript"}[
        os.path.splitext(path)[1]]


def read(proj, path):
    with open(os.path.join(proj, path)) as f:
        return f.read()


def line_of(text, path, anchor):
    for i, l in enumerate(text.split("\n"), 1):
        if anchor in l:
            return i
    raise RuntimeError("%s: no line holds %r" % (path, anchor))


def offset_of_line(text, n):
    """Character offset where 1-based line n starts."""
    off = 0
    for _ in range(n - 1):
        off = text.index("\n", off) + 1
    return off


def changed_lines(old, new):
    """(added, removed) lines between two texts."""
    add = rem = 0
    for l in difflib.ndiff(old.splitlines(), new.splitlines()):
        add += l.startswith("+ ")
        rem += l.startswith("- ")
    return add, rem


def resolve(args, proj, cfg, state, feature):
    """The feature's steps on the project as it is now: each step's LINE, scope, its text
    before and after, and its edits as (start, end, new) offsets in the file; plus the text
    every touched file must hold once the feature is done. A `tests` step (features_large.py)
    adds a new test file, where the host's test conventions put it (`new_files`)."""
    steps, texts, edits, new_files = [], {}, {}, {}
    for st in feature["steps"]:
        path = st["path"]
        text = texts.setdefault(path, read(proj, path))
        line = line_of(text, path, st["anchor"])
        p = frugal(args, proj, cfg, state, "context", "%s:%d" % (path, line), "--action",
                   st["action"], "--json")
        ctx = json.loads(p.stdout)
        scope = ctx["scope"]
        s, e = scope["start_line"], scope["end_line"]
        if st["action"] == "tests":  # where the host puts the tests: preview's context says
            p = frugal(args, proj, cfg, state, "preview", "%s:%d" % (path, line), "--action",
                       "tests", "--json")
            tests = json.loads(p.stdout)["context"]["tests"]
            tp = os.path.relpath(tests["path"], os.path.realpath(proj))
            assert not tests["exists"] and tp not in new_files, tp
            new_files[tp] = st["tests"]
            steps.append({"action": "tests", "path": path, "line": line, "name": scope["name"],
                          "start": s, "end": e, "new": st["tests"], "tests_path": tp,
                          "instruction": st["instruction"], "added": st["tests"].count("\n"),
                          "removed": 0, "edits": []})
            continue
        lines = text.split("\n")
        old = "\n".join(lines[s - 1:e]) + "\n"
        blank = 0
        while e + blank < len(lines) - 1 and lines[e + blank].strip() == "":
            blank += 1
        new, subs = edited_scope(st, old, "\n" * max(blank, 1))
        base = offset_of_line(text, s)
        assert text[base:base + len(old)] == old
        mine = []
        for o, n in subs:
            assert old.count(o) == 1, (path, scope["name"], o[:60])
            i = old.index(o)
            mine.append((base + i, base + i + len(o), n))
        if st["append"]:
            mine.append((base + len(old), base + len(old), new[len(old):]))
        for other in steps:
            assert other["action"] == "tests" or other["path"] != path or \
                other["end"] < s or other["start"] > e, \
                "two steps of one feature on %s:%d" % (path, line)
        edits.setdefault(path, []).extend(mine)
        add, rem = changed_lines(old, new)
        instruction = st["instruction"] or ("%s: add the line `%s` at the start of the body."
                                            % (scope["name"], st["add"].strip()))
        steps.append({"action": st["action"], "path": path, "line": line,
                      "name": scope["name"], "start": s, "end": e, "old": old, "new": new,
                      "instruction": instruction, "added": add, "removed": rem,
                      "edits": mine})
    expected = {}
    for path, es in edits.items():
        t = texts[path]
        for a, b, n in sorted(es, reverse=True):
            t = t[:a] + n + t[b:]
        expected[path] = t
    for s in steps:  # the hybrid answers (each scope replaced whole) give the same files
        assert s["action"] == "tests" or expected[s["path"]].count(s["new"]) == 1, \
            (s["path"], s["name"])
    expected.update(new_files)
    return {"goal": feature["goal"], "steps": steps, "texts": texts, "edits": edits,
            "new_files": new_files, "expected": expected}


def occurrences(text, s):
    """How many times s occurs in text, overlapping ones included (as the edit check counts)."""
    n, i = 0, text.find(s)
    while i >= 0:
        n, i = n + 1, text.find(s, i + 1)
    return n


def blocks_for(text, edits):
    """Minimal SEARCH/REPLACE blocks for `edits` in `text`: each edit's lines, grown by whole
    neighbouring lines until they occur exactly once (an insertion after a function: that
    function's last lines, grown upwards); overlapping blocks are merged."""
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    nlines = len(starts) - 1 if text.endswith("\n") else len(starts)

    def line_at(off):
        lo, hi = 0, nlines - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= off:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def span(a, b):
        return text[starts[a]:starts[b + 1] if b + 1 < len(starts) else len(text)]

    blocks = []
    for a0, b0, new in edits:
        insert = a0 == b0
        a = line_at(a0 - 1 if insert else a0)
        b = line_at(b0 - 1)
        while occurrences(text, span(a, b)) != 1:
            if insert:
                a -= 1
            else:
                a, b = max(a - 1, 0), min(b + 1, nlines - 1)
        blocks.append([a, b, [(a0, b0, new)]])
    blocks.sort()
    merged = []
    for blk in blocks:
        if merged and blk[0] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], blk[1])
            merged[-1][2] += blk[2]
        else:
            merged.append(blk)
    out = []
    for a, b, es in merged:
        lo = starts[a]
        search = span(a, b)
        replace = search
        for x, y, n in sorted(es, reverse=True):
            replace = replace[:x - lo] + n + replace[y - lo:]
        out.append((search, replace))
    return out


def full_only(args, proj, cfg, state, srv, feature):
    f = resolve(args, proj, cfg, state, feature)
    steps = f["steps"]
    parts, nblocks, search_lines = [], 0, 0
    for path in sorted(f["edits"]):
        bl = blocks_for(f["texts"][path], f["edits"][path])
        nblocks += len(bl)
        search_lines += sum(s.count("\n") for s, _ in bl)
        parts.append("%s\n```%s\n%s```\n" % (path, fence(path), "\n".join(
            "<<<<<<< SEARCH\n%s=======\n%s>>>>>>> REPLACE\n" % b for b in bl)))
    for path, content in sorted(f["new_files"].items()):  # a block with an empty SEARCH
        nblocks += 1
        parts.append("%s\n```%s\n<<<<<<< SEARCH\n=======\n%s>>>>>>> REPLACE\n```\n"
                     % (path, fence(path), content))
    answer = ("The feature touches %d functions in %d files; the edits:\n\n%s"
              % (len(steps), len(f["edits"]), "\n".join(parts)))
    srv.post("/__script", [{"text": answer}])
    first = steps[0]
    argv = ["run", "refactor-files", "%s:%d" % (first["path"], first["line"]),
            "--instruction", f["goal"], "--tier", "full", "--json", "--apply"]
    for p in sorted(set(f["edits"]) - {first["path"]}):
        argv += ["--file", p]
    before = len(srv.requests())
    p = frugal(args, proj, cfg, state, *argv)
    r = json.loads(p.stdout) if p.stdout.strip() else {}
    if p.returncode != 0 or r.get("problem"):
        raise RuntimeError("refactor-files --apply failed (%d): %s %s"
                           % (p.returncode, r.get("problem"), p.stderr.strip()))
    for path, want in f["expected"].items():
        assert read(proj, path) == want, "Full-only: %s is not as expected" % path
    u = r["usage"]
    return {"goal": f["goal"], "requests": len(srv.requests()) - before, "cost": r["cost_usd"],
            "input": u["input_tokens"], "output": u["output_tokens"], "steps": len(steps),
            "cached": u.get("cached_input_tokens", 0), "cache_write": u.get("cache_write_tokens", 0),
            "blocks": nblocks, "search_lines": search_lines,
            "files": sorted(set(f["edits"]) | set(f["new_files"])),
            "step_sizes": [{"action": s["action"], "path": s["path"], "name": s["name"],
                            "added": s["added"], "removed": s["removed"]} for s in steps]}


def hybrid(args, proj, cfg, state, srv, feature):
    f = resolve(args, proj, cfg, state, feature)
    steps = f["steps"]
    plan = "".join("%d. %s %s:%d - %s\n" % (i + 1, s["action"], s["path"], s["line"],
                                            s["instruction"]) for i, s in enumerate(steps))
    items = [{"text": plan}]
    for s in steps:
        lead = "The tests, as asked" if s["action"] == "tests" else "The change, as asked"
        items.append({"text": "%s:\n```%s\n%s```\n" % (lead, fence(s["path"]), s["new"])})
    srv.post("/__script", items)
    first = steps[0]
    argv = ["run", "plan", "%s:%d" % (first["path"], first["line"]), "--instruction",
            f["goal"], "--execute", "--apply", "--json"]
    for p in sorted(set(f["edits"]) - {first["path"]}):
        argv += ["--file", p]
    before = len(srv.requests())
    p = frugal(args, proj, cfg, state, *argv)
    if p.returncode != 0:
        raise RuntimeError("plan failed: %s\n%s" % (p.stderr, p.stdout[:2000]))
    r = json.loads(p.stdout)
    assert [x["status"] for x in r["results"]] == ["applied"] * len(steps), r["results"]
    for path, want in f["expected"].items():
        assert read(proj, path) == want, "hybrid: %s is not as expected" % path
    reqs = srv.requests()[before:]
    return {"goal": f["goal"], "requests": len(reqs), "cost": r["cost_usd"],
            "plan_cost": r["cost_usd"] - sum(x["cost_usd"] for x in r["results"]),
            "plan_input": r["usage"]["input_tokens"], "plan_output": r["usage"]["output_tokens"],
            "plan_cached": r["usage"].get("cached_input_tokens", 0),
            "plan_words": [len(s["instruction"].split()) for s in steps],
            "step_tiers": [x["tier"] for x in r["results"]],
            "step_cost": sum(x["cost_usd"] for x in r["results"]), "steps": len(steps)}


CHECKERS = {".c": ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"],
            ".js": ["node", "--check"], ".go": ["gofmt", "-l", "-e"]}
# SQLite's C is not -Wextra clean (sign compares, unused parameters) and is gnu99
CHECKERS_LARGE = dict(CHECKERS, **{".c": ["cc", "-Wall", "-Werror", "-fsyntax-only"]})


def check_files(proj, paths, checkers=CHECKERS):
    """Compiles or parses each file with its language's tools where they are installed
    (C: cc -fsyntax-only -Werror; Python: compile(); JavaScript: node --check; Go: gofmt -l,
    then go vet on its package): {path: None (passed), "not checked: ...", or the
    diagnostics}."""
    out = {}
    for path in sorted(paths):
        ext = os.path.splitext(path)[1]
        if ext == ".py":
            try:
                compile(read(proj, path), path, "exec")
                out[path] = None
            except SyntaxError as e:
                out[path] = str(e)
            continue
        argv = checkers[ext] + [path]
        if not shutil.which(argv[0]):
            out[path] = "not checked: no %s" % argv[0]
            continue
        p = subprocess.run(argv, cwd=proj, capture_output=True, text=True, timeout=120)
        out[path] = None if p.returncode == 0 and not p.stdout.strip() else \
            (p.stdout + p.stderr).strip() or "%s failed" % argv[0]
        if ext == ".go" and out[path] is None:
            if not shutil.which("go"):
                out[path] = "not checked: no go (gofmt passed)"
                continue
            cache = tempfile.mkdtemp(prefix="frugal-bench-plan-go-")
            p = subprocess.run(["go", "vet", "./" + os.path.dirname(path)], cwd=proj,
                               capture_output=True, text=True, timeout=300,
                               env=dict(os.environ, GOCACHE=cache, GOPATH=cache,
                                        GOTOOLCHAIN="local", GOFLAGS="-mod=mod -modcacherw"))
            shutil.rmtree(cache, ignore_errors=True)
            out[path] = None if p.returncode == 0 else (p.stdout + p.stderr).strip()
    return out


def copy_project(dest):
    shutil.copytree(PROJECT, dest)


def run_pass(args, tmp, srv, name, fn, features, make_project=copy_project):
    proj = os.path.join(tmp, name)
    make_project(proj)
    state = os.path.join(tmp, "state-" + name)
    cfg = os.path.join(tmp, "frugal-%s.json" % name)
    c = config(srv.url)
    c["ledger"] = {"path": os.path.join(tmp, "ledger-%s.jsonl" % name)}
    with open(cfg, "w") as f:
        json.dump(c, f)
    srv.post("/__reset", {})
    out = [fn(args, proj, cfg, state, srv, feat) for feat in features]
    files = {}
    for root, _, names in os.walk(proj):
        for n in names:
            p = os.path.join(root, n)
            files[os.path.relpath(p, proj)] = open(p, "rb").read()
    return out, files


def saving(h, f):
    return 100 * (1 - h / f)


def task_name(i, t):
    return "#%d %s %s" % (i + 1, t["action"], t["file"])


def mixed(d, thy, tfo):
    """A: the workload's 40 Mini-class tasks, the features, and 2 of its 10 Full-class single
    tasks, over every pair; B: its first 50 - len(features) tasks and the features."""
    hyb, fo = d["hybrid"], d["full_only"]
    mini = [i for i, t in enumerate(hyb) if t["cls"] == "mini"]
    full = [i for i, t in enumerate(hyb) if t["cls"] == "full"]
    mh = sum(hyb[i]["cost"] for i in mini)
    mf = sum(fo[i]["cost"] for i in mini)
    pairs = []
    for a, b in itertools.combinations(full, 2):
        h = mh + thy + hyb[a]["cost"] + hyb[b]["cost"]
        f = mf + tfo + fo[a]["cost"] + fo[b]["cost"]
        pairs.append({"pair": [task_name(a, hyb[a]), task_name(b, hyb[b])], "hybrid": h,
                      "full_only": f, "saving": saving(h, f)})
    lo = min(pairs, key=lambda p: p["saving"])
    hi = max(pairs, key=lambda p: p["saving"])
    mean = sum(p["saving"] for p in pairs) / len(pairs)
    return {"mini_tasks": len(mini), "full_tasks": len(full), "pairs": len(pairs),
            "mini_hybrid": mh, "mini_full_only": mf,
            "mean_saving": mean, "min": lo, "max": hi, "all_pairs": pairs}


def old_mixed(d, n_features, thy, tfo):
    keep = 50 - n_features
    wh = sum(r["cost"] for r in d["hybrid"][:keep])
    wf = sum(r["cost"] for r in d["full_only"][:keep])
    return {"tasks": keep,
            "full_class_kept": sum(r["cls"] == "full" for r in d["hybrid"][:keep]),
            "workload_hybrid": wh, "workload_full_only": wf,
            "hybrid": wh + thy, "full_only": wf + tfo, "saving": saving(wh + thy, wf + tfo)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default=os.environ.get("FRUGAL_HOST",
                                                     os.path.join(ROOT, "build", "frugal")))
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--minimal", action="store_true",
                       help="the first version's one-line features instead of the real ones")
    which.add_argument("--large", action="store_true",
                       help="features_large.py's features on real files of 400-1000 lines "
                            "(Python 3.11's standard library, SQLite) instead")
    ap.add_argument("--workload", help="bench/workload/run.py --full anthropic --json output; "
                                       "run here when not given")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (both projects)")
    args = ap.parse_args()
    features = MINIMAL if args.minimal else FEATURES
    make_project, checkers, before_dir = copy_project, CHECKERS, PROJECT
    tmp = tempfile.mkdtemp(prefix="frugal-bench-plan-")
    if args.large:
        import features_large
        have, missing = features_large.available()
        if missing:
            print("note: %s\n" % missing)
        features = [f for f in features_large.FEATURES
                    if all(st["path"] in have for st in f["steps"])]

        def make_project(dest):
            features_large.build_project(dest, have)
        checkers, before_dir = CHECKERS_LARGE, os.path.join(tmp, "before")
        make_project(before_dir)
    srv = Server(tmp)
    try:
        fo, fo_files = run_pass(args, tmp, srv, "full-only", full_only, features, make_project)
        hy, hy_files = run_pass(args, tmp, srv, "hybrid", hybrid, features, make_project)
    finally:
        srv.stop()
    same = fo_files == hy_files
    touched = sorted({p for a in fo for p in a["files"]})
    checks_before = check_files(before_dir, [p for p in touched
                                             if os.path.exists(os.path.join(before_dir, p))],
                                checkers)
    for p in touched:  # a file the features created had nothing to fail before
        checks_before.setdefault(p, None)
    checks = check_files(os.path.join(tmp, "hybrid"), touched, checkers)
    kind = ("one-line features (--minimal)" if args.minimal else
            "large features (--large)" if args.large else "features")
    print("## Multi-step %s: Full-only vs plan on Full + steps on Mini\n" % kind)
    print("| # | steps | lines +/- | Full-only: blocks, in (cache read, write)/out tokens, "
          "cost | hybrid: requests, plan in/out, plan + steps cost | saving |")
    print("|---|---|---|---|---|---|")
    for i, (a, b) in enumerate(zip(fo, hy), 1):
        add = sum(s["added"] for s in a["step_sizes"])
        rem = sum(s["removed"] for s in a["step_sizes"])
        print("| %d | %d | +%d/-%d | %d, %d (%d, %d)/%d, $%.4f | %d, %d/%d, $%.4f + $%.4f = "
              "$%.4f | %.1f%% |" % (i, a["steps"], add, rem, a["blocks"], a["input"],
                                    a["cached"], a["cache_write"], a["output"], a["cost"],
                                    b["requests"], b["plan_input"], b["plan_output"],
                                    b["plan_cost"], b["step_cost"], b["cost"],
                                    saving(b["cost"], a["cost"])))
    tfo = sum(a["cost"] for a in fo)
    thy = sum(b["cost"] for b in hy)
    words = [w for b in hy for w in b["plan_words"]]
    print("\n%s: Full-only $%.4f (%d requests), hybrid $%.4f (%d requests; steps on %s); "
          "saving **%.1f%%**" % (kind, tfo, sum(a["requests"] for a in fo), thy,
                                 sum(b["requests"] for b in hy),
                                 "/".join(sorted({t for b in hy for t in b["step_tiers"]})),
                                 saving(thy, tfo)))
    tfo_nw = tfo - CACHE_WRITE_PREMIUM * sum(a["cache_write"] for a in fo)
    print("Full-only without the premium of its cache writes (%d tokens written; %d of its "
          "%d requests read a cached prefix): $%.4f, saving %.1f%%"
          % (sum(a["cache_write"] for a in fo), sum(a["cached"] > 0 for a in fo), len(fo),
             tfo_nw, saving(thy, tfo_nw)))
    print("plan step instructions: %d-%d words (mean %.0f)" % (min(words), max(words),
                                                              sum(words) / len(words)))
    print("the two passes leave every file of the project byte-identical: %s" % same)
    bad = {k: v for k, v in checks.items()
           if v and not v.startswith("not checked") and checks_before[k] is None}
    unchecked = sorted(k for k, v in checks.items() if v and v.startswith("not checked"))
    already = sorted(k for k, v in checks.items() if v and checks_before[k]
                     and not v.startswith("not checked"))
    print("the %d files the features touched, compiled or parsed after both passes: %d pass%s%s%s"
          % (len(touched), sum(v is None for v in checks.values()),
             "; already failing before the features: " + ", ".join(already) if already else "",
             "; not checked: " + ", ".join("%s (%s)" % (k, checks[k][13:]) for k in unchecked)
             if unchecked else "",
             "; FAILING NOW: " + ", ".join(sorted(bad)) if bad else ""))
    if args.minimal and bad:
        print("(as expected: the one-line steps use names that do not exist)")
    else:
        for k, v in sorted(bad.items()):
            print("\n%s:\n%s" % (k, "\n".join(v.split("\n")[:12])))

    print("\n### Steps: action, function, lines added/removed\n")
    print("| # | files | steps: action function +added/-removed |\n|---|---|---|")
    for i, a in enumerate(fo, 1):
        print("| %d | %s | %s |" % (i, ", ".join(a["files"]), "; ".join(
            "%s %s +%d/-%d" % (s["action"], s["name"], s["added"], s["removed"])
            for s in a["step_sizes"])))
    if args.large:
        print("\n### Input tokens: the Full-only request against the plan request\n")
        print("| # | files (lines) | Full-only input | plan input | plan / Full-only |")
        print("|---|---|---|---|---|")
        for i, (a, b) in enumerate(zip(fo, hy), 1):
            print("| %d | %s | %d | %d | %.0f%% |" % (
                i, ", ".join("%s (%s)" % (p, features_large.SOURCES[p][1]
                                         if p in features_large.SOURCES else "new")
                             for p in a["files"]),
                a["input"], b["plan_input"], 100.0 * b["plan_input"] / a["input"]))
        tin = sum(a["input"] for a in fo)
        tpl = sum(b["plan_input"] for b in hy)
        print("| all | | %d | %d | %.0f%% |" % (tin, tpl, 100.0 * tpl / tin))

    wl = args.workload
    if not wl:
        wl = os.path.join(tmp, "workload.json")
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "workload", "run.py"),
                        "--full", "anthropic", "--host", args.host, "--json", wl], check=True,
                       stdout=subprocess.DEVNULL)
    d = json.load(open(wl))["anthropic"]
    A = mixed(d, thy, tfo)
    B = old_mixed(d, len(features), thy, tfo)
    n = A["mini_tasks"] + len(features) + 2
    print("\n## The mixed workload\n")
    if args.large:
        print("(mixes bench/workload's small project, files of 117-313 lines, for the 42 "
              "single tasks with these %d features on the large files; the %d features stand "
              "in for 8 Full-class tasks, so there are %d tasks, not 50)\n"
              % (len(features), len(features), 42 + len(features)))
    print("A: the workload's %d Mini-class tasks + the %d %s + 2 of its %d Full-class single "
          "tasks (%d tasks: the workload's own %d/%d split, %d of the Full-class slots now "
          "multi-step features), over all %d pairs of Full-class tasks:\n"
          % (A["mini_tasks"], len(features), kind, A["full_tasks"], n, A["mini_tasks"],
             A["full_tasks"], len(features), A["pairs"]))
    print("| | hybrid | Full-only | saving |\n|---|---|---|---|")
    print("| %d Mini-class tasks | $%.4f | $%.4f | %.1f%% |" % (
        A["mini_tasks"], A["mini_hybrid"], A["mini_full_only"],
        saving(A["mini_hybrid"], A["mini_full_only"])))
    print("| %d %s | $%.4f | $%.4f | %.1f%% |" % (len(features), kind, thy, tfo,
                                                 saving(thy, tfo)))
    for label, p in (("lowest", A["min"]), ("highest", A["max"])):
        print("| all %d, %s: + %s | $%.4f | $%.4f | %.1f%% |" % (
            n, label, " and ".join(p["pair"]), p["hybrid"], p["full_only"], p["saving"]))
    print("| **all %d, mean over the %d pairs** | | | **%.1f%%** |" % (n, A["pairs"],
                                                                    A["mean_saving"]))
    A_nw = mixed(d, thy, tfo_nw)
    print("\nWith the features' Full-only requests priced without their cache-write premium: "
          "mean %.1f%% (%.1f%%-%.1f%%)." % (A_nw["mean_saving"], A_nw["min"]["saving"],
                                           A_nw["max"]["saving"]))
    print("\nB (the first definition, for comparison): the workload's first %d tasks (%d of "
          "them Full-class) + the %d %s: hybrid $%.4f, Full-only $%.4f, saving %.1f%%"
          % (B["tasks"], B["full_class_kept"], len(features), kind, B["hybrid"],
             B["full_only"], B["saving"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"features": "minimal" if args.minimal else
                       "large" if args.large else "real",
                       "full_only": fo, "hybrid": hy, "same_files": same,
                       "checks": checks,
                       "features_total": {"hybrid": thy, "full_only": tfo,
                                          "saving": saving(thy, tfo),
                                          "full_only_no_cache_write_premium": tfo_nw,
                                          "saving_no_cache_write_premium":
                                              saving(thy, tfo_nw)},
                       "mixed_a_no_cache_write_premium": {
                           k: A_nw[k] for k in ("mean_saving", "min", "max")},
                       "mixed_a": A, "mixed_b": B}, f, indent=1)
    if args.keep:
        print("\nkept: %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if same and (args.minimal or not bad) else 1


if __name__ == "__main__":
    sys.exit(main())
