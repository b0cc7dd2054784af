#!/usr/bin/python3
"""How often the editor's tree-sitter hint and the library's scan agree on real code.

For every line of every file, the hint the plugin would send for a cursor on the line's first
non-blank character (lua/frugal/treesitter.lua, run by Neovim 0.10 / 0.12 inside the Debian
roots of tests/roots.sh, on a tree parsed from the file) is checked the way package_build()
checks it against the scanner's definitions (bench/boundaries/scandefs):
  agrees   the scan's function at the line has the hint's last line and its first line is
           the hint's (declaration or doc-comment start)
  differs  the scan has another function there (the scan's is used)
  used     the scan has no function there (the hint becomes the scope)
Reported per line that gets a hint, and per function tree-sitter finds (cursor on its first
line).

    bench/treesitter/agree.py [--suite trixie|sid] [--lang c|lua] [--show N]

Needs the root (tests/roots.sh ensure trixie) and runs Neovim in it under the lock the tests
use (/var/tmp/frugal-roots.lock). Corpora, from Debian packages: C, SQLite's src/*.c
(`apt-get source sqlite3`, unpacked under $FRUGAL_DEBIAN_SRC, default /var/tmp/src); Lua,
Neovim's own runtime Lua (package neovim, from the root) and Penlight (package lua-penlight).
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "boundaries"))
import compare  # noqa: E402  (builds the scandefs driver)

ROOTS = os.environ.get("FRUGAL_ROOTS", "/var/tmp/frugal-roots")
SRC = os.environ.get("FRUGAL_DEBIAN_SRC", "/var/tmp/src")
LOCK = "/var/tmp/frugal-roots.lock"


def corpus(lang, root):
    if lang == "c":
        return sorted(glob.glob(SRC + "/sqlite3-*/src/*.c"))
    files = sorted(glob.glob(root + "/usr/share/nvim/runtime/lua/**/*.lua", recursive=True))
    files += sorted(glob.glob("/usr/share/lua/5.1/pl/*.lua"))
    return files


def tree_sitter_hints(suite, lang, files):
    """{path: {line: (first, last)}}, {path: error count} from Neovim in the root."""
    root = os.path.join(ROOTS, suite)
    work = os.path.join(root, "tmp", "frugal-ts-bench")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "lua", "frugal"))
    shutil.copy(os.path.join(ROOT, "lua", "frugal", "treesitter.lua"),
                os.path.join(work, "lua", "frugal"))
    shutil.copy(os.path.join(HERE, "ts_ranges.lua"), work)
    inside = {}
    for i, f in enumerate(files):
        dst = os.path.join(work, "files", "%04d_%s" % (i, os.path.basename(f)))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(f, dst)
        inside["/" + os.path.relpath(dst, root)] = f
    cmd = ["flock", LOCK, "chroot", root, "env", "-i", "PATH=/usr/bin:/bin", "HOME=/root",
           "LANG=C.UTF-8", "VIMRUNTIME=/usr/share/nvim/runtime", "nvim", "--headless", "-u",
           "NONE", "-l", "/tmp/frugal-ts-bench/ts_ranges.lua", "/tmp/frugal-ts-bench/out.tsv",
           lang] + sorted(inside)
    version = subprocess.run(["chroot", root, "nvim", "--version"], capture_output=True,
                             text=True).stdout.splitlines()[0]
    subprocess.run(cmd, check=True)
    hints, errors = defaultdict(dict), {}
    with open(os.path.join(work, "out.tsv")) as fh:
        for line in fh:
            f = line.rstrip("\n").split("\t")
            path = inside[f[0]]
            if f[1] == "errors":
                errors[path] = int(f[2])
            else:
                hints[path][int(f[1])] = (int(f[2]), int(f[3]))
    shutil.rmtree(work, ignore_errors=True)
    return version, hints, errors


def scan_find_at(defs, line):
    """What scan_find_at() picks: the innermost function or method holding the line, else the
    innermost class."""
    best = {}
    for d in defs:
        if d["start"] <= line <= d["end"]:
            k = "class" if d["kind"] == "class" else "fn"
            if k not in best or d["start"] >= best[k]["start"]:
                best[k] = d
    return best.get("fn") or best.get("class")


def verdict(found, first, last):
    """package_build()'s check of a hint (first, last) against the scan's answer."""
    if found is not None and found["kind"] != "class":
        same = first in (found["head"], found["start"]) and last == found["end"]
        return "agrees" if same else "differs"
    if found is None or (first >= found["start"] and last <= found["end"] and
                         not (first <= found["head"] and last == found["end"])):
        return "used"
    return "differs"


def all_defs(driver, files, slang):
    defs = defaultdict(list)
    for i in range(0, len(files), 200):
        p = subprocess.run([driver, "--lang", slang] + files[i:i + 200], capture_output=True,
                           text=True, errors="replace")
        for line in p.stdout.splitlines():
            f = line.split("\t")
            defs[f[0]].append({"kind": f[1], "name": f[2], "start": int(f[3]),
                               "head": int(f[4]), "end": int(f[6])})
    return defs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="trixie", choices=["trixie", "sid"])
    ap.add_argument("--lang", action="append", choices=["c", "lua"])
    ap.add_argument("--show", type=int, default=8)
    a = ap.parse_args()
    driver = compare.build_driver()
    for lang in a.lang or ["c", "lua"]:
        files = corpus(lang, os.path.join(ROOTS, a.suite))
        if not files:
            print("%s: no corpus on this machine" % lang)
            continue
        version, hints, errors = tree_sitter_hints(a.suite, lang, files)
        defs = all_defs(driver, files, lang)
        per_line, per_fn = Counter(), Counter()
        examples = defaultdict(list)
        for path in files:
            seen = set()
            for line, (first, last) in sorted(hints[path].items()):
                found = scan_find_at(defs[path], line)
                v = verdict(found, first, last)
                per_line[v] += 1
                if (first, last) not in seen:
                    seen.add((first, last))
                    # its first line: a function nested in it starts later
                    f = scan_find_at(defs[path], first)
                    vf = verdict(f, first, last)
                    per_fn[vf] += 1
                    if vf != "agrees" and len(examples[vf]) < a.show:
                        examples[vf].append((os.path.relpath(path, SRC) if path.startswith(SRC)
                                             else path, first, last,
                                             (f["name"], f["head"], f["end"]) if f else None))
        nl, nf = sum(per_line.values()), sum(per_fn.values())
        print("%s, %s: %d files (%d with syntax errors in the tree), %d lines with a hint, "
              "%d tree-sitter functions" % (lang, version, len(files), len(errors), nl, nf))
        for v in ("agrees", "differs", "used"):
            print("  %-8s %6.2f%% of lines  %6.2f%% of functions" % (
                v, 100.0 * per_line[v] / max(nl, 1), 100.0 * per_fn[v] / max(nf, 1)))
        for v in ("differs", "used"):
            for e in examples[v]:
                print("    %s: %s" % (v, e))


if __name__ == "__main__":
    main()
