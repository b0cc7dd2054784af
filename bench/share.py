#!/usr/bin/env python3
"""Focused package vs whole file, for function actions on real code.

For each language, takes the evaluation files of bench/tokens/run.sh (it must have run once:
it gathers the corpora and writes $TOKENS_WORK/<lang>.eval, default /tmp/frugal-tokens) and
reports the median and p90 of package tokens / whole-file tokens for `fix` two ways:
- per function: up to 4 functions or methods of each file, evenly spread, cursor on the line
  that opens the body (every function counts once, as when a user picks one to work on);
- per cursor: the cursor at 1/4, 1/2 and 3/4 of each file, kept when it falls in a function
  (weighted towards big functions, and towards the whole-file wrapper functions of bundled JS).

    /usr/bin/python3 bench/share.py [--frugal build/frugal] [--work /tmp/frugal-tokens]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "boundaries"))
import compare  # noqa: E402  (builds the scanner driver, bench/boundaries/scandefs.c)

LANGS = ["c", "cpp", "python", "javascript", "typescript", "go", "rust", "java", "lua"]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--frugal", default=os.path.join(here, "..", "build", "frugal"))
    ap.add_argument("--work", default=os.environ.get("TOKENS_WORK", "/tmp/frugal-tokens"))
    args = ap.parse_args()
    driver = compare.build_driver()
    print("%-11s %6s %6s %8s %8s   %8s %8s" % ("", "", "", "per func", "", "per cursor", ""))
    print("%-11s %6s %6s %8s %8s   %8s %8s" % ("language", "files", "funcs", "median", "p90",
                                              "median", "p90"))
    everything, cursor_all = [], []
    for lang in LANGS:
        listing = os.path.join(args.work, lang + ".eval")
        if not os.path.exists(listing):
            print("%-11s (no corpus: run bench/tokens/run.sh first)" % lang)
            continue
        with open(listing) as f:
            files = [line.strip() for line in f if line.strip()]
        shares, by_cursor = [], []
        for path in files:
            with open(path, "rb") as f:
                nlines = f.read().count(b"\n") + 1
            defs = subprocess.run([driver, "--lang", lang, path], capture_output=True,
                                  text=True).stdout.splitlines()
            funcs = [d.split("\t") for d in defs]
            funcs = [d for d in funcs if len(d) > 6 and d[1] in ("function", "method")]
            step = max(1, len(funcs) // 4)
            cursors = [(shares, int(d[5])) for d in funcs[::step][:4]]
            cursors += [(by_cursor, max(1, int(nlines * fr))) for fr in (0.25, 0.5, 0.75)]
            seen = set()
            for dest, line in cursors:
                p = subprocess.run([args.frugal, "context", "%s:%d" % (path, line), "--action",
                                    "fix", "--filetype", lang, "--json"], capture_output=True)
                if p.returncode != 0:
                    continue
                out = json.loads(p.stdout)
                scope = out["scope"]
                key = (id(dest), scope["start_line"], scope["end_line"])
                if scope["kind"] not in ("function", "method") or key in seen:
                    continue
                seen.add(key)
                if out["file_tokens"] > 0:
                    dest.append(100.0 * out["tokens"] / out["file_tokens"])
        cursor_all += by_cursor
        if shares:
            print("%-11s %6d %6d %7.1f%% %7.1f%%   %7.1f%% %7.1f%%" % (
                lang, len(files), len(shares), statistics.median(shares), pct(shares, 90),
                statistics.median(by_cursor) if by_cursor else 0,
                pct(by_cursor, 90) if by_cursor else 0))
        everything += shares
    if everything:
        print("%-11s %6s %6d %7.1f%% %7.1f%%   %7.1f%% %7.1f%%" % (
            "all", "", len(everything), statistics.median(everything), pct(everything, 90),
            statistics.median(cursor_all), pct(cursor_all, 90)))


if __name__ == "__main__":
    main()
