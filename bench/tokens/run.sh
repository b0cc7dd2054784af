#!/usr/bin/env bash
# Measures native/core/tokens.c against the real o200k tokenizer on real source files, per
# language, and compares it with the bytes/4 rule of thumb.
#
#   bench/tokens/run.sh          evaluate the weights in tokens.c on the evaluation files
#   bench/tokens/run.sh --fit    refit the weights on the calibration files, write them into
#                                tokens.c, rebuild, then evaluate on the evaluation files
#
# Files of each language are sorted, sampled evenly, and dealt alternately into a calibration
# and an evaluation half, so the reported figures are for files the fit never saw.
# Environment: TOKENS_WORK (scratch dir, default /tmp/frugal-tokens), TOKENS_PER_LANG (files
# per half, default 150).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${TOKENS_WORK:-/tmp/frugal-tokens}
per=${TOKENS_PER_LANG:-150}
fit=0
[[ ${1:-} == --fit ]] && fit=1
mkdir -p "$work"

if [[ ! -d $here/node_modules/gpt-tokenizer ]]; then
  (cd "$here" && npm install --no-audit --no-fund >/dev/null)
fi

build() {
  gcc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$root/native" -o "$work/estimate" \
    "$here/estimate.c" "$root/native/core/tokens.c" "$root/native/context/lang.c"
}
build

# Corpora that are not on a stock machine: JS/TS from npm into the scratch dir, Java from the
# JDK's src.zip. Go, Rust and Java sources come from Debian (golang-1.19-src, rust-src,
# openjdk-17-source); a language whose sources are missing is skipped.
if [[ ! -d $work/js/node_modules/typescript ]]; then
  mkdir -p "$work/js"
  (cd "$work/js" && npm init -y >/dev/null && \
    npm install --no-audit --no-fund typescript rxjs lodash-es >/dev/null) || true
fi
jdkzip=$(ls /usr/lib/jvm/*/lib/src.zip 2>/dev/null | head -n1 || true)
if [[ -n $jdkzip && ! -d $work/jdk ]]; then
  mkdir -p "$work/jdk"
  (cd "$work/jdk" && unzip -q -o "$jdkzip" 'java.base/java/*' 'java.net.http/*') || true
fi

list() { # lang -> candidate paths on stdout
  case $1 in
    c) { find /usr/include -maxdepth 3 -name '*.h' -not -path '*/c++/*' 2>/dev/null
         find /usr/share/go-1.19 /usr/src /usr/share/doc -name '*.c' 2>/dev/null; } ;;
    cpp) { find /usr/include/c++ -path '*/bits/*' -type f 2>/dev/null
           find /usr/include /usr/src \( -name '*.hpp' -o -name '*.cc' -o -name '*.cpp' \) \
             2>/dev/null; } ;;
    python) find /usr/lib/python3.11 -name '*.py' -not -path '*/site-packages/*' 2>/dev/null ;;
    javascript) find "$work/js/node_modules" \( -name '*.js' -o -name '*.mjs' \) 2>/dev/null ;;
    typescript) find "$work/js/node_modules" -name '*.ts' 2>/dev/null ;;
    go) find /usr/share/go-1.19/src -name '*.go' -not -path '*/testdata/*' 2>/dev/null ;;
    rust) find /usr/src/rustc-*/library /usr/src/rustc-*/compiler -name '*.rs' 2>/dev/null ;;
    java) find "$work/jdk" -name '*.java' 2>/dev/null ;;
    lua) find /usr/share/nvim/runtime /usr/share/luajit-* /usr/share/lua -name '*.lua' 2>/dev/null ;;
    text) { find /usr/share/doc/git -maxdepth 1 -name '*.txt' 2>/dev/null
            find /usr/src/rustc-*/src/doc -name '*.md' 2>/dev/null
            find /usr/share/common-licenses -type f 2>/dev/null; } ;;
  esac
}

langs="c cpp python javascript typescript go rust java lua text"
present=""
for lang in $langs; do
  # Keep files of 1..200 kB (smaller ones say little, bigger ones are generated bundles),
  # sample 2*per evenly from the sorted list, deal them alternately.
  list "$lang" | sort -u | while read -r f; do
    s=$(stat -c %s "$f" 2>/dev/null || echo 0)
    if ((s >= 1000 && s <= 200000)); then echo "$f"; fi
  done > "$work/$lang.all"
  total=$(wc -l < "$work/$lang.all")
  if ((total < 10)); then
    echo "skip $lang: only $total files found" >&2
    continue
  fi
  present="$present $lang"
  awk -v total="$total" -v want=$((2 * per)) -v dir="$work/$lang" '
    BEGIN { step = total > want ? total / want : 1; next_pick = 0; k = 0 }
    NR - 1 >= next_pick { print > ((k % 2 == 0) ? dir ".calib" : dir ".eval"); k++;
                          next_pick += step }' "$work/$lang.all"
  for half in calib eval; do
    node "$here/o200k.mjs" < "$work/$lang.$half" > "$work/$lang.$half.real"
    "$work/estimate" --features "$lang" < "$work/$lang.$half" > "$work/$lang.$half.feat"
  done
done

if ((fit)); then
  /usr/bin/python3 "$here/fit.py" fit "$work" "$root/native/core/tokens.c" $present
  build
fi
/usr/bin/python3 "$here/fit.py" chunk "$work" $present
for lang in $present; do
  "$work/estimate" "$lang" < "$work/$lang.eval" > "$work/$lang.eval.est"
  node "$here/o200k.mjs" < "$work/$lang.chunks" > "$work/$lang.chunks.real"
  "$work/estimate" "$lang" < "$work/$lang.chunks" > "$work/$lang.chunks.est"
done
echo "Whole files (evaluation half):"
/usr/bin/python3 "$here/fit.py" report "$work" eval $present
echo
echo "40-line pieces of the evaluation files:"
/usr/bin/python3 "$here/fit.py" report "$work" chunks $present
echo
big=$(mktemp "$work/big.XXXXXX")
cat /usr/include/*.h > "$big"
echo "speed: $("$work/estimate" --speed c "$big")"
rm -f "$big"
