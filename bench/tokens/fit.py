#!/usr/bin/python3
"""Fits and reports the weights of native/core/tokens.c (driven by run.sh).

  fit.py fit WORK TOKENS_C LANG...   fit each language's weights on WORK/LANG.calib.* and
                                     rewrite the table between the WEIGHTS markers of TOKENS_C
  fit.py report WORK SET LANG...     median and p90 absolute % error on WORK/LANG.SET.*
                                     (SET: eval or chunks), for the estimate and for bytes/4
  fit.py chunk WORK LANG...          cut the evaluation files into 40-line pieces (the size of
                                     a function in a package) listed in WORK/LANG.chunks

The fit minimises the squared relative error per file with non-negative weights, pulled
gently towards the previous weights so that piece classes a language hardly uses keep sane
values."""
import re
import sys

# Row order of the table: the lang_id enum of native/context/lang.h.
ORDER = ["text", "c", "cpp", "python", "javascript", "typescript", "go", "rust", "java", "lua"]


def read_real(path):
    out = {}
    with open(path) as f:
        for line in f:
            n, p = line.rstrip("\n").split("\t", 1)
            out[p] = int(n)
    return out


def read_feat(path):
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            out[parts[0]] = [int(x) for x in parts[1:]]
    return out


def read_table(src):
    m = re.search(r"/\* BEGIN WEIGHTS \*/\n(.*?)  /\* END WEIGHTS \*/", src, re.S)
    rows = re.findall(r"\{([^}]*)\}", m.group(1))
    return [[int(x) for x in r.split(",") if x.strip()] for r in rows]


def nnls_relative(feats, ys, prior, lam):
    k = len(prior)
    g = [[0.0] * k for _ in range(k)]
    h = [0.0] * k
    for f, y in zip(feats, ys):
        a = [x / y for x in f]
        nz = [j for j in range(k) if a[j]]
        for i in nz:
            h[i] += a[i]
            for j in nz:
                g[i][j] += a[i] * a[j]
    reg = lam * len(ys)
    for j in range(k):
        g[j][j] += reg
        h[j] += reg * prior[j]
    w = list(prior)
    for _ in range(3000):
        for j in range(k):
            grad = sum(g[j][i] * w[i] for i in range(k)) - h[j]
            w[j] = max(0.0, w[j] - grad / g[j][j])
    return w


def fit(work, tokens_c, langs):
    src = open(tokens_c).read()
    table = read_table(src)
    for lang in langs:
        real = read_real(f"{work}/{lang}.calib.real")
        feat = read_feat(f"{work}/{lang}.calib.feat")
        paths = [p for p in real if p in feat and real[p] > 0]
        row = ORDER.index(lang)
        prior = [x / 1000 for x in table[row]]
        w = nnls_relative([feat[p] for p in paths], [real[p] for p in paths], prior, 1e-4)
        table[row] = [min(65535, round(x * 1000)) for x in w]
        print(f"fitted {lang} on {len(paths)} files", file=sys.stderr)
    body = ""
    for i, r in enumerate(table):
        half = (len(r) + 1) // 2
        body += (f"  /* {ORDER[i]} */\n  {{" + ", ".join(str(x) for x in r[:half]) + ",\n   "
                 + ", ".join(str(x) for x in r[half:]) + "},\n")
    src = re.sub(r"(/\* BEGIN WEIGHTS \*/\n).*?(  /\* END WEIGHTS \*/)",
                 lambda m: m.group(1) + body + m.group(2), src, flags=re.S)
    open(tokens_c, "w").write(src)


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))
    return xs[i]


def chunk(work, langs):
    import os
    for lang in langs:
        d = f"{work}/chunks/{lang}"
        os.makedirs(d, exist_ok=True)
        k = 0
        with open(f"{work}/{lang}.chunks", "w") as out:
            for p in [line.strip() for line in open(f"{work}/{lang}.eval")]:
                lines = open(p, encoding="utf-8", errors="replace").read().split("\n")
                for i in range(0, len(lines), 40):
                    piece = "\n".join(lines[i:i + 40])
                    if len(piece.strip()) < 200:
                        continue
                    fn = f"{d}/{k}.txt"
                    with open(fn, "w", encoding="utf-8") as f:
                        f.write(piece)
                    out.write(fn + "\n")
                    k += 1
                    if k >= 400:
                        break
                if k >= 400:
                    break


def report(work, kind, langs):
    print(f"{'lang':<11}{kind:>6}  {'estimate: median':>16} {'p90':>6} {'bias':>6}"
          f"   {'bytes/4: median':>15} {'p90':>6}")
    all_e, all_c = [], []
    for lang in langs:
        real = read_real(f"{work}/{lang}.{kind}.real")
        e, c, bias = [], [], []
        with open(f"{work}/{lang}.{kind}.est") as f:
            for line in f:
                est, c4, p = line.rstrip("\n").split("\t", 2)
                r = real.get(p)
                if not r:
                    continue
                e.append(abs(int(est) - r) / r * 100)
                bias.append((int(est) - r) / r * 100)
                c.append(abs(int(c4) - r) / r * 100)
        all_e += e
        all_c += c
        print(f"{lang:<11}{len(e):>6}  {pct(e, .5):>15.1f}% {pct(e, .9):>5.1f}% "
              f"{pct(bias, .5):>+5.1f}%   {pct(c, .5):>14.1f}% {pct(c, .9):>5.1f}%")
    print(f"{'all':<11}{len(all_e):>6}  {pct(all_e, .5):>15.1f}% {pct(all_e, .9):>5.1f}% "
          f"{'':>6}   {pct(all_c, .5):>14.1f}% {pct(all_c, .9):>5.1f}%")


if __name__ == "__main__":
    if sys.argv[1] == "fit":
        fit(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif sys.argv[1] == "chunk":
        chunk(sys.argv[2], sys.argv[3:])
    else:
        report(sys.argv[2], sys.argv[3], sys.argv[4:])
