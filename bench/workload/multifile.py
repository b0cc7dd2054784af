#!/usr/bin/python3
"""The workload's multi-file tasks with edits: refactor-files answers as SEARCH/REPLACE blocks
against the same change written as whole-file rewrites, input and output tokens of each.

Each task of MULTIFILE_TASKS (tasks.py) is a rename across 2-3 files of a fresh copy of the
stockroom project, run from the command line against the local provider server:

  frugal run refactor-files FILE:LINE --file OTHER... --instruction TEXT --json --apply

first with the answer in blocks (what the prompt asks for: checked, applied all or nothing; the
runner checks every file on disk against the expected result), then with the same change as
the whole-file rewrites the earlier prompt asked for ("File: PATH" and each changed file
whole). The server counts both sides as ceil(chars / 4), so the ratio is the answers' size.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from run import KEY_ENV, PROJECT, Server  # noqa: E402
from tasks import MULTIFILE_TASKS  # noqa: E402

LANG = {".c": "c", ".h": "c", ".py": "python", ".js": "javascript", ".go": "go"}


def renamed(text, old, new):
    return re.sub(r"\b%s\b" % re.escape(old), new, text)


def blocks_for(path, text, old, new):
    """SEARCH/REPLACE blocks turning `old` into `new` in `text`: each run of changed lines,
    widened by a line of context until it occurs exactly once."""
    lines = text.splitlines(keepends=True)
    hit = [i for i, l in enumerate(lines) if re.search(r"\b%s\b" % re.escape(old), l)]
    runs = []
    for i in hit:
        if runs and i <= runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    out, last_end = [], -1
    for a, b in runs:
        while text.count("".join(lines[a:b + 1])) != 1:
            a, b = max(a - 1, last_end + 1), min(b + 1, len(lines) - 1)
        last_end = b
        search = "".join(lines[a:b + 1])
        out.append("<<<<<<< SEARCH\n%s=======\n%s>>>>>>> REPLACE\n" % (
            search, renamed(search, old, new)))
    lang = LANG.get(os.path.splitext(path)[1], "")
    return "%s\n```%s\n%s```\n" % (path, lang, "\n".join(out))


def answers(task, root):
    summary = "".join("- %s: rename %s to %s\n" % (p, task["old"], task["new"])
                      for p in task["files"])
    blocks, whole, expected = [summary], [summary], {}
    for p in task["files"]:
        with open(os.path.join(root, p)) as f:
            text = f.read()
        expected[p] = renamed(text, task["old"], task["new"])
        blocks.append("\n" + blocks_for(p, text, task["old"], task["new"]))
        lang = LANG.get(os.path.splitext(p)[1], "")
        whole.append("\nFile: %s\n```%s\n%s```\n" % (p, lang, expected[p]))
    return "".join(blocks), "".join(whole), expected


def frugal_run(host, cfg, root, task, apply):
    at = "%s:%d" % (task["files"][0], task["line"])
    args = [host, "run", "refactor-files", at, "--instruction",
            "rename %s to %s everywhere" % (task["old"], task["new"]), "--json",
            "--config", cfg, "--ledger", os.path.join(root, "..", "ledger.jsonl")]
    for p in task["files"][1:]:
        args += ["--file", p]
    if apply:
        args.append("--apply")
    env = dict(os.environ, **{KEY_ENV: "sk-workload-multifile"})
    p = subprocess.run(args, capture_output=True, text=True, cwd=root, env=env, timeout=120)
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None, p.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default=os.environ.get("FRUGAL_HOST",
                                                     os.path.join(REPO, "build", "frugal")))
    ap.add_argument("--json", help="write every task's figures to this file")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="frugal-mf-bench-")
    srv = Server(tmp)
    rows, failures = [], 0
    try:
        cfg = os.path.join(tmp, "frugal.json")
        tier = {"provider": "openai", "base_url": srv.url + "/v1", "api_key_env": KEY_ENV}
        with open(cfg, "w") as f:
            json.dump({"tiers": {"mini": dict(tier, model="gpt-5.4-mini"),
                                 "full": dict(tier, model="gpt-5.4")}}, f)
        for n, task in enumerate(MULTIFILE_TASKS):
            root = os.path.join(tmp, "p%d" % n)
            shutil.copytree(PROJECT, root)
            blocks, whole, expected = answers(task, root)
            srv.script({"text": blocks})
            rc, out, err = frugal_run(args.host, cfg, root, task, apply=True)
            ok = rc == 0 and out and not out.get("problem")
            for p, want in expected.items():
                with open(os.path.join(root, p)) as f:
                    ok = ok and f.read() == want
            if not ok:
                failures += 1
                print("FAILED %s: rc %d %s" % (task["name"], rc, err.strip()), file=sys.stderr)
            srv.script({"text": whole})
            shutil.copytree(PROJECT, root + "-whole")
            _, out2, _ = frugal_run(args.host, cfg, root + "-whole", task, apply=False)
            u1, u2 = out["usage"], out2["usage"]
            rows.append({"task": task["name"], "files": len(task["files"]),
                         "applied": bool(ok),
                         "input_tokens": u1["input_tokens"],
                         "output_blocks": u1["output_tokens"],
                         "output_whole": u2["output_tokens"],
                         "whole_file_refused": bool(out2.get("problem")),
                         "usd_blocks": out["cost_usd"], "usd_whole": out2["cost_usd"]})
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%-28s %5s %8s %14s %14s %7s" % ("task", "files", "input", "output blocks",
                                            "output whole", "ratio"))
    for r in rows:
        print("%-28s %5d %8d %14d %14d %6.1f%%" % (
            r["task"], r["files"], r["input_tokens"], r["output_blocks"], r["output_whole"],
            100.0 * r["output_blocks"] / r["output_whole"]))
    ti = sum(r["input_tokens"] for r in rows)
    tb = sum(r["output_blocks"] for r in rows)
    tw = sum(r["output_whole"] for r in rows)
    ub = sum(r["usd_blocks"] for r in rows)
    uw = sum(r["usd_whole"] for r in rows)
    print("%-28s %5s %8d %14d %14d %6.1f%%" % ("all", "", ti, tb, tw, 100.0 * tb / tw))
    print("cost on Full (gpt-5.4): $%.4f with blocks, $%.4f with whole files (%.1f%%); "
          "%d of %d applied all-or-nothing and checked on disk" % (
              ub, uw, 100.0 * ub / uw, len(rows) - failures, len(rows)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
