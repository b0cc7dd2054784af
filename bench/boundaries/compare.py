#!/usr/bin/python3
"""Compare the context scanner's function boundaries with universal-ctags on real code.

For every function/method tag ctags reports (with its `end` field), look for a scanner
definition of the same (bare) name whose head_line equals ctags' line and whose end_line
equals ctags' end. Also reports the looser "name line" figure, where the line holding the
name counts (ctags puts a tag on the name's line; the scanner's head_line is where the
declaration starts, which differs for `static int\\nfoo(void)`).

Usage: bench/boundaries/compare.py [--lang L ...] [--max-files N] [--show N] [--json]
Builds bench/boundaries/scandefs with gcc against native/ first (into $TMPDIR).
Only the standard library and the `ctags` binary are needed.
"""
import argparse
import glob
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TMP = os.environ.get("TMPDIR", "/tmp")
SRC = os.environ.get("FRUGAL_DEBIAN_SRC", "/var/tmp/src")  # where `apt-get source` unpacked

# language -> (scanner --lang, ctags language, ctags kinds counted, default corpora)
LANGS = {
    "c": ("c", "C", {"function"}, [
        "/usr/share/go-1.19/src/runtime/cgo/*.c",
        "/usr/share/go-1.19/misc/cgo/**/*.c",
        "/usr/share/doc/*/examples/*.c",
        "/usr/src/rustc-1.63.0/src/**/*.c",
        "@cheaders",
    ]),
    "cpp": ("cpp", "C++", {"function"}, [
        "/usr/src/googletest/**/*.cc",
        "/usr/src/googletest/**/*.h",
        "/usr/src/rustc-1.63.0/compiler/rustc_llvm/llvm-wrapper/*.cpp",
        "/usr/src/rustc-1.63.0/src/**/*.cpp",
    ]),
    "python": ("python", "Python", {"function", "member"}, [
        "/usr/lib/python3.11/*.py",
        "/usr/lib/python3.11/email/*.py",
        "/usr/lib/python3.11/asyncio/*.py",
        "/usr/lib/python3.11/json/*.py",
    ]),
    "go": ("go", "Go", {"func"}, [
        "/usr/share/go-1.19/src/net/http/*.go",
        "/usr/share/go-1.19/src/strings/*.go",
        "/usr/share/go-1.19/src/fmt/*.go",
        "/usr/share/go-1.19/src/go/parser/*.go",
        "/usr/share/go-1.19/src/encoding/json/*.go",
        "/usr/share/go-1.19/src/sort/*.go",
    ]),
    "java": ("java", "Java", {"method"}, ["@jdk"]),
    "rust": ("rust", "Rust", {"function", "method"}, [
        "/usr/src/rustc-1.63.0/library/core/src/str/*.rs",
        "/usr/src/rustc-1.63.0/library/alloc/src/*.rs",
        "/usr/src/rustc-1.63.0/compiler/rustc_lexer/src/*.rs",
        "/usr/src/rustc-1.63.0/library/std/src/fs.rs",
    ]),
    "javascript": ("javascript", "JavaScript", {"function", "method", "generator"}, [
        "/tmp/frugal-npm/node_modules/lodash/*.js",
        "/tmp/frugal-npm/node_modules/express/lib/**/*.js",
        "/usr/src/rustc-1.63.0/src/librustdoc/html/static/js/*.js",
    ]),
    "typescript": ("typescript", "TypeScript", {"function", "method"}, [
        "/tmp/frugal-npm/node_modules/rxjs/src/internal/**/*.ts",
    ]),
    "lua": ("lua", "Lua", {"function"}, [
        "/usr/share/nvim/runtime/lua/**/*.lua",
    ]),
    # C++ headers named .h, language detected from their content as the CLI does (no --lang):
    # Debian source packages fmtlib and spdlog (apt-get source, see README.md).
    "cpp-h-fmt": (None, "C++", {"function"}, [SRC + "/fmtlib-*/include/fmt/*.h"]),
    "cpp-h-spdlog": (None, "C++", {"function"}, [SRC + "/spdlog-*/include/spdlog/**/*.h"]),
}


def build_driver():
    out = os.path.join(TMP, "frugal-scandefs")
    srcs = [os.path.join(HERE, "scandefs.c"), os.path.join(ROOT, "native/util/text.c"),
            os.path.join(ROOT, "native/util/buf.c"), os.path.join(ROOT, "native/context/lang.c")]
    srcs += sorted(glob.glob(os.path.join(ROOT, "native/context/scan*.c")))
    cmd = ["gcc", "-std=gnu11", "-O2", "-D_GNU_SOURCE", "-I" + os.path.join(ROOT, "include"),
           "-I" + os.path.join(ROOT, "native"), "-o", out] + srcs
    subprocess.run(cmd, check=True)
    return out


def jdk_files(limit):
    dest = os.path.join(TMP, "frugal-jdk-src")
    zips = sorted(glob.glob("/usr/lib/jvm/*17*/lib/src.zip")) + \
        sorted(glob.glob("/usr/lib/jvm/*/lib/src.zip"))
    if not zips:
        return []
    if not os.path.isdir(dest):
        with zipfile.ZipFile(zips[0]) as z:
            for n in z.namelist():
                if n.startswith("java.base/java/util/") and n.endswith(".java") \
                        and n.count("/") <= 3:
                    z.extract(n, dest)
                elif n.startswith("java.base/java/io/") and n.endswith(".java"):
                    z.extract(n, dest)
    return sorted(glob.glob(dest + "/**/*.java", recursive=True))


def c_headers():
    """Headers under /usr/include that are C (C++ headers there are skipped)."""
    out = []
    for pat in ("/usr/include/*.h", "/usr/include/linux/*.h", "/usr/include/uv/*.h",
                "/usr/include/x86_64-linux-gnu/sys/*.h", "/usr/include/msgpack/*.h",
                "/usr/include/curl/*.h", "/usr/include/*/*.h"):
        for f in sorted(glob.glob(pat)):
            try:
                with open(f, errors="replace") as fh:
                    txt = fh.read()
            except OSError:
                continue
            if "{" in txt and not any(w in txt for w in ("class ", "template", "namespace")):
                out.append(f)
    return out


def collect(patterns, max_files):
    files = []
    for pat in patterns:
        if pat == "@cheaders":
            files += c_headers()
        elif pat == "@jdk":
            files += jdk_files(max_files)
        else:
            files += sorted(glob.glob(pat, recursive=True))
    files = [f for f in dict.fromkeys(files) if os.path.isfile(f)]
    random.Random(7).shuffle(files)
    return sorted(files[:max_files])


def strip_template_args(name):
    """`base_sink<Mutex>::log` -> `base_sink::log` (the scanner keeps a qualified C++ name's
    template arguments; ctags puts them in the scope). The `operator...` tail is left alone."""
    head, sep, tail = name.partition("operator")
    out, depth = [], 0
    for ch in head:
        if ch == "<":
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    return "".join(out) + sep + tail


def bare(name):
    if name.startswith('["') and name.endswith('"]'):
        return name[2:-2]
    if "<" in name:
        name = strip_template_args(name)
    if not re.match(r"^[~\w$#]+(?:(?:::|[.:])[~\w$#]+)*$", name) and \
            not name.startswith("operator") and "::operator" not in name:
        return name
    if name.startswith("operator") or "::operator" in name:
        return name.split("::")[-1].replace(" ", "")
    for sep in ("::", ":", "."):
        name = name.split(sep)[-1]
    return name


_lines = {}


def is_bodyless(path, t):
    """A declaration without a body (abstract or interface method, prototype): no '{'
    between ctags' line and end."""
    if path not in _lines:
        with open(path, errors="replace") as fh:
            _lines[path] = fh.read().split("\n")
    text = "\n".join(_lines[path][t["line"] - 1:t["end"]])
    return "{" not in text


def run_ctags(files, clang, kinds):
    tags = defaultdict(list)
    for i in range(0, len(files), 200):
        chunk = files[i:i + 200]
        p = subprocess.run(["ctags", "--fields=+neK", "--output-format=json", "-o", "-",
                            "--language-force=" + clang] + chunk,
                           capture_output=True, text=True, errors="replace")
        for line in p.stdout.splitlines():
            try:
                t = json.loads(line)
            except ValueError:
                continue
            if t.get("_type") == "tag" and t.get("kind") in kinds:
                tags[t["path"]].append(t)
    return tags


def run_scanner(driver, files, slang):
    defs = defaultdict(list)
    for i in range(0, len(files), 200):
        lang = ["--lang", slang] if slang else []
        p = subprocess.run([driver] + lang + files[i:i + 200], capture_output=True,
                           text=True, errors="replace")
        for line in p.stdout.splitlines():
            f = line.split("\t")
            if len(f) < 9 or f[1] == "class":
                continue
            defs[f[0]].append({"kind": f[1], "name": f[2], "start": int(f[3]),
                               "head": int(f[4]), "body": int(f[5]), "end": int(f[6]),
                               "nameline": int(f[7])})
    return defs


def compare(lang, driver, max_files, show):
    slang, clang, kinds, pats = LANGS[lang]
    files = collect(pats, max_files)
    if not files:
        return None
    tags = run_ctags(files, clang, kinds)
    defs = run_scanner(driver, files, slang)
    total = head_ok = name_ok = found = 0
    no_end = 0
    lambdas = 0
    decls = 0
    misses = []
    counted = set()
    for path, tl in tags.items():
        by_name = defaultdict(list)
        for d in defs.get(path, []):
            by_name[bare(d["name"])].append(d)
        for t in tl:
            pat = t.get("pattern", "")
            if t.get("scopeKind") == "interface" and lang == "typescript":
                decls += 1  # interface members have no bodies
                continue
            if (t["name"].startswith("__anon") or t["name"].startswith("AnonymousFunction") or
                    (lang == "python" and "lambda" in pat)):
                lambdas += 1  # ctags tags lambdas; the scanner treats them as not definitions
                continue
            if "end" not in t:
                no_end += 1
                if pat.rstrip("$/").rstrip().endswith(";") and "{" not in pat:
                    decls += 1  # a signature without a body (interface, extern block)
                    continue
            elif lang not in ("python", "lua") and is_bodyless(path, t):
                decls += 1  # a declaration without a body (abstract/interface method)
                continue
            total += 1
            counted.add((path, t["line"], t["name"]))
            cands = by_name.get(bare(t["name"]), [])
            end = t.get("end")
            h = [d for d in cands if d["head"] == t["line"] and (end is None or d["end"] == end)]
            n = [d for d in cands if (d["nameline"] == t["line"] or d["head"] == t["line"]) and
                 (end is None or d["end"] == end)]
            if cands:
                found += 1
            head_ok += bool(h)
            name_ok += bool(n)
            if not n:
                near = min(cands, key=lambda d: abs(d["head"] - t["line"]), default=None)
                misses.append((path, t["name"], t["line"], end,
                               (near["head"], near["nameline"], near["end"]) if near else None))
    cur_total, cur_ok, cur_misses = at_cursor(tags, defs, counted)
    res = {"lang": lang, "files": len(files), "ctags_functions": total,
           "at_cursor": cur_total, "at_cursor_same": cur_ok,
           "head_and_end": head_ok, "nameline_and_end": name_ok, "name_found": found,
           "ctags_without_end": no_end, "ctags_bodyless_skipped": decls,
           "ctags_lambdas_skipped": lambdas,
           "scanner_functions": sum(len(v) for v in defs.values())}
    if total:
        res["pct_head_end"] = round(100.0 * head_ok / total, 2)
        res["pct_nameline_end"] = round(100.0 * name_ok / total, 2)
    if cur_total:
        res["pct_at_cursor"] = round(100.0 * cur_ok / cur_total, 2)
    res["misses"] = misses[:show]
    res["cursor_misses"] = cur_misses[:show]
    return res


def at_cursor(tags, defs, counted):
    """Function at the cursor, scanner vs ctags: for each counted ctags function, the cursor on
    its middle line; ctags' answer is the innermost ctags function holding that line, the
    scanner's the innermost function or method (what scan_find_at picks). Same when the bare
    names and end lines agree and the scanner's head or name line is ctags' line."""
    total = ok = 0
    misses = []
    for path, tl in tags.items():
        fl = [t for t in tl if (path, t["line"], t["name"]) in counted and "end" in t]
        sd = [d for d in defs.get(path, []) if d["kind"] in ("function", "method")]
        for t in fl:
            cur = (t["line"] + t["end"]) // 2
            want = max((u for u in fl if u["line"] <= cur <= u["end"]), key=lambda u: u["line"])
            got = [d for d in sd if d["start"] <= cur <= d["end"]]
            got = max(got, key=lambda d: d["start"]) if got else None
            total += 1
            same = got is not None and bare(got["name"]) == bare(want["name"]) and \
                got["end"] == want["end"] and want["line"] in (got["head"], got["nameline"])
            ok += same
            if not same:
                misses.append((path, cur, want["name"], want["line"], want["end"],
                               (got["name"], got["head"], got["end"]) if got else None))
    return total, ok, misses


def perf(driver):
    path = os.path.join(TMP, "frugal-big.c")
    lines = ["#include <stdio.h>", ""]
    i = 0
    while len(lines) < 200000:
        i += 1
        lines += [f"/* Computes thing {i}. Braces in comments: {{ }} */", "static int",
                  f"func_{i}(struct ctx *c, const char *s,", "        int n)", "{",
                  "  int total = 0; // trailing { comment",
                  f'  const char *msg = "value {{%d}} \\" }}";', "  char q = '}';",
                  "  for (int k = 0; k < n; k++) {", "    if (s[k] == q) {",
                  f"      total += helper_{i % 50}(c, k) * 3;", "    } else {",
                  "      total -= k;", "    }", "  }", "#ifdef DEBUG",
                  '  fprintf(stderr, "%s %d\\n", msg, total);', "#endif", "  return total;",
                  "}", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines[:200000]) + "\n")
    out = subprocess.run([driver, "--time", "20", path], capture_output=True, text=True)
    print("scanner (best and median of 20, scan_file only):", out.stdout.strip())
    import time
    best = 1e9
    for _ in range(3):
        t0 = time.monotonic()
        subprocess.run(["ctags", "--fields=+ne", "-o", os.path.join(TMP, "frugal-big.tags"),
                        path], check=True)
        best = min(best, time.monotonic() - t0)
    print(f"ctags --fields=+ne (best of 3, whole process): {best * 1e3:.1f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lang", action="append", choices=sorted(LANGS))
    ap.add_argument("--max-files", type=int, default=400)
    ap.add_argument("--show", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--perf", action="store_true",
                    help="time the scanner and ctags on a generated 200k-line C file")
    a = ap.parse_args()
    driver = build_driver()
    if a.perf:
        perf(driver)
        return
    results = []
    for lang in a.lang or list(LANGS):
        r = compare(lang, driver, a.max_files, a.show)
        if r is None:
            print(f"{lang:11s} no real code found on this machine", file=sys.stderr)
            continue
        results.append(r)
        if a.json:
            continue
        if not r["ctags_functions"]:
            print(f"{lang:11s} {r['files']} files, ctags found no functions with an end line")
            continue
        cur = f"{r['pct_at_cursor']:6.2f}%" if "pct_at_cursor" in r else "     -"
        print(f"{lang:11s} {r['files']:4d} files {r['ctags_functions']:6d} fns  "
              f"head+end {r['pct_head_end']:6.2f}%  nameline+end {r['pct_nameline_end']:6.2f}%"
              f"  at cursor {cur}"
              f"  (no end from ctags: {r['ctags_without_end']}, bodyless: "
              f"{r['ctags_bodyless_skipped']})")
        for m in r["misses"]:
            print("    miss:", m)
        for m in r["cursor_misses"]:
            print("    cursor miss:", m)
    if a.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
