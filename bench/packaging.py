#!/usr/bin/env python3
"""Packaging latency and host memory.

Generates C files of 10k and 200k lines (deterministic), then times, as whole processes,
`frugal context FILE:LINE --json` for a function in the middle of the file against
`ctags --fields=+ne` scanning the same file, in the same run (p50/p99 over N runs each,
interleaved so both see the same machine state). Then reads the RSS of an idle
`frugal --stdio` host, and of the same host after it packaged a function of the 200k-line file
sent over RPC.

With --sqlite DIR (Debian's sqlite3 source package, unpacked: `apt-get source sqlite3`), it also
builds the real 193k-line C file DIR/src/*.c concatenated in name order (what `cat src/*.c`
gives in the C locale) and times packaging, against ctags on that file, for: the last function,
the largest (most package work: sqlite3VdbeExec, 8,150 lines), the first, and --sample more
picked at random (fixed seed) from the functions ctags lists. Each one: --runs interleaved
pairs (frugal, ctags); reported as medians, the spread (min-max) and the ratio ctags/frugal of
each pair (min, median).

    /usr/bin/python3 bench/packaging.py [--runs N] [--frugal build/frugal]
    /usr/bin/python3 bench/packaging.py --sqlite /var/tmp/src/sqlite3-3.40.1 --only-sqlite
"""
import argparse
import glob
import hashlib
import json
import os
import random
import statistics
import subprocess
import tempfile
import time

import msgpack

FUNC = """\
/* {name}: folds the {kind} records of a batch into the running totals. Returns the number of
 * records used, or -1 when a record is malformed. */
static int {name}(struct batch *b, const struct record *recs, size_t n, int flags)
{{
  int used = 0;
  for (size_t i = 0; i < n; i++) {{
    const struct record *r = &recs[i];
    if (r->kind != {k} || (flags & FLAG_SKIP_{up})) {{
      continue;
    }}
    if (r->len > sizeof(b->scratch)) {{
      log_warn("{name}: record %zu too long (%zu bytes)", i, r->len);
      return -1;
    }}
    switch (r->op) {{
    case OP_ADD:
      b->total += r->value * {m};
      break;
    case OP_SUB:
      b->total -= r->value;
      break;
    default:
      b->errors++;
    }}
    memcpy(b->scratch, r->data, r->len);
    used += {helper}(b, r) ? 1 : 0;
  }}
  return used;
}}

"""

HEADER = """\
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "log.h"

#define FLAG_SKIP_A 1
#define FLAG_SKIP_B 2

"""


def generate(path, lines):
    rnd = random.Random(lines)
    out = [HEADER]
    n = HEADER.count("\n")
    i = 0
    prev = "check_record"
    while n < lines:
        name = "fold_%s_%d" % (rnd.choice(["alpha", "beta", "gamma", "delta"]), i)
        text = FUNC.format(name=name, kind=rnd.choice(["input", "output", "audit"]),
                           k=rnd.randint(0, 9), up=rnd.choice("AB"), m=rnd.randint(2, 99),
                           helper=prev)
        out.append(text)
        n += text.count("\n")
        prev = name
        i += 1
    with open(path, "w") as f:
        f.write("".join(out))
    return n


def middle_function_line(path):
    with open(path) as f:
        lines = f.read().split("\n")
    mid = len(lines) // 2
    for k in range(mid, len(lines)):
        if lines[k].startswith("static int fold_"):
            return k + 3  # a line inside its body
    raise SystemExit("no function found")


def pct(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


def time_cmd(argv):
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - t0) * 1000.0


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def host_rss(frugal, big_file, line):
    p = subprocess.Popen([frugal, "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    time.sleep(0.3)
    idle = rss_kb(p.pid)
    with open(big_file) as f:
        text = f.read()
    req = msgpack.packb([0, 1, "context", [{"path": big_file, "action": "tests", "line": line,
                                            "text": text}]])
    p.stdin.write(req)
    p.stdin.flush()
    unpacker = msgpack.Unpacker(raw=False)
    reply = None
    while reply is None:
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        unpacker.feed(chunk)
        for msg in unpacker:
            reply = msg
    busy = rss_kb(p.pid)
    p.stdin.close()
    p.wait(timeout=5)
    ok = reply is not None and reply[2] is None
    return idle, busy, ok


def sqlite_file(src_dir, tmp):
    """DIR/src/*.c concatenated in byte order of the names, as `cat src/*.c` in the C locale."""
    files = sorted(glob.glob(os.path.join(src_dir, "src", "*.c")), key=lambda p: p.encode())
    if not files:
        raise SystemExit("no src/*.c under %s (apt-get source sqlite3)" % src_dir)
    path = os.path.join(tmp, "sqlite-src.c")
    with open(path, "wb") as out:
        for f in files:
            with open(f, "rb") as fh:
                out.write(fh.read())
    with open(path, "rb") as fh:
        data = fh.read()
    return path, len(files), data.count(b"\n"), len(data), hashlib.sha256(data).hexdigest()


def ctags_functions(path):
    p = subprocess.run(["ctags", "--fields=+ne", "--output-format=json", "--kinds-C=f", "-o", "-",
                        path], capture_output=True, text=True, check=True)
    fns = []
    for line in p.stdout.splitlines():
        t = json.loads(line)
        if t.get("_type") == "tag" and t.get("kind") == "function" and "end" in t:
            fns.append((t["name"], t["line"], t["end"]))
    return fns


def bench_sqlite(frugal, src_dir, tmp, runs, sample):
    path, nfiles, nlines, nbytes, digest = sqlite_file(src_dir, tmp)
    print("\nreal C: %s/src/*.c (%d files) concatenated: %d lines, %d bytes, sha256 %s" % (
        src_dir, nfiles, nlines, nbytes, digest[:16]))
    fns = ctags_functions(path)
    picks = [("last", max(fns, key=lambda f: f[1])),
             ("largest", max(fns, key=lambda f: f[2] - f[1])),
             ("first", min(fns, key=lambda f: f[1]))]
    rnd = random.Random(12)
    picks += [("random", f) for f in rnd.sample(fns, min(sample, len(fns)))]
    ct_cmd = ["ctags", "--fields=+ne", "-o", "/dev/null", path]
    print("%d interleaved runs per function (frugal context --json, then ctags), whole processes"
          % runs)
    print("%-8s %-34s %8s %17s %8s %17s %13s  %s" % (
        "pick", "function (lines)", "frugal", "frugal min-max", "ctags", "ctags min-max",
        "ratio min/med", "scope found"))
    worst = None
    for tag, (name, first, last) in picks:
        line = (first + last) // 2
        fr_cmd = [frugal, "context", "%s:%d" % (path, line), "--action", "tests", "--json"]
        out = json.loads(subprocess.run(fr_cmd, capture_output=True, check=True).stdout)
        fr, ct = [], []
        for _ in range(runs):
            fr.append(time_cmd(fr_cmd))
            ct.append(time_cmd(ct_cmd))
        ratios = sorted(c / f for f, c in zip(fr, ct))
        med_ratio = statistics.median(ratios)
        sc = out["scope"]
        print("%-8s %-34s %6.2fms %7.2f-%6.2fms %6.1fms %7.1f-%6.1fms %5.1fx/%5.1fx  %s %d-%d" % (
            tag, "%s (%d)" % (name[:26], last - first + 1), statistics.median(fr), min(fr),
            max(fr), statistics.median(ct), min(ct), max(ct), ratios[0], med_ratio,
            sc.get("name"), sc["start_line"], sc["end_line"]))
        if worst is None or med_ratio < worst[0]:
            worst = (med_ratio, name)
    print("lowest median per-run ratio: %.1fx (%s); target >= 10x" % worst)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--frugal", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                      "frugal"))
    ap.add_argument("--sqlite", metavar="DIR",
                    help="unpacked sqlite3 source package (apt-get source sqlite3)")
    ap.add_argument("--sample", type=int, default=8,
                    help="random functions of the SQLite file to time besides the fixed picks")
    ap.add_argument("--only-sqlite", action="store_true")
    args = ap.parse_args()
    frugal = os.path.abspath(args.frugal)
    tmp = tempfile.mkdtemp(prefix="frugal-bench-")
    if args.sqlite:
        bench_sqlite(frugal, os.path.abspath(args.sqlite), tmp, max(15, args.runs), args.sample)
        if args.only_sqlite:
            return
    print("packaging the function at the cursor, whole process, %d runs each" % args.runs)
    print("%-12s %9s %9s %9s %9s %8s %s" % ("file", "frugal50", "frugal99", "ctags50", "ctags99",
                                             "speedup", "package/file tokens"))
    big = None
    for lines in (10000, 200000):
        path = os.path.join(tmp, "gen%d.c" % lines)
        n = generate(path, lines)
        line = middle_function_line(path)
        fr_cmd = [frugal, "context", "%s:%d" % (path, line), "--action", "tests", "--json"]
        ct_cmd = ["ctags", "--fields=+ne", "-o", "/dev/null", path]
        out = json.loads(subprocess.run(fr_cmd, capture_output=True, check=True).stdout)
        fr, ct = [], []
        for _ in range(args.runs):
            fr.append(time_cmd(fr_cmd))
            ct.append(time_cmd(ct_cmd))
        print("%-12s %8.2fms %8.2fms %8.2fms %8.2fms %7.1fx %d/%d (%s %s, lines %d-%d)" % (
            "%dk lines" % (n // 1000), statistics.median(fr), pct(fr, 99), statistics.median(ct),
            pct(ct, 99), statistics.median(ct) / statistics.median(fr), out["tokens"],
            out["file_tokens"], out["scope"]["kind"], out["scope"]["name"],
            out["scope"]["start_line"], out["scope"]["end_line"]))
        big = (path, line)
    idle, busy, ok = host_rss(frugal, *big)
    print("host RSS: %.1f MB idle, %.1f MB after packaging the 200k-line file over RPC (%s)" % (
        idle / 1024.0, busy / 1024.0, "ok" if ok else "FAILED"))


if __name__ == "__main__":
    main()
