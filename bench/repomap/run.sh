#!/usr/bin/env bash
# Repo map build time and size on a real project; see bench/repomap/README.md.
#   bench/repomap/run.sh [ROOT [SCOPE_FILE [TOUCH_FILE]]]
# Default: the Python 3.11 source package (apt-get source python3.11 in /var/tmp/src).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=${1:-/var/tmp/src/python3.11-3.11.2}
scope=${2:-Lib/json/decoder.py}
touch_file=${3:-$scope}
if [ ! -d "$root" ]; then
  echo "bench/repomap: $root not found, skipped (bench/repomap/README.md says how to fetch it)" >&2
  exit 0
fi
[ -f build/libfrugal_core.a ] || make build >/dev/null
out=build/repomap_bench
gcc -O2 -g -std=gnu11 -D_GNU_SOURCE -Iinclude -Inative bench/repomap/repomap_bench.c \
  build/libfrugal_core.a $(pkg-config --libs libuv jansson) -lm -ldl -o "$out"
echo "== $root, scope $scope: cold, cached x2, one file touched (default budget)"
"$out" "$root" --scope "$scope" --runs 3 --touch "$touch_file"
for b in 1024 4096; do
  echo "== budget $b (one process, cold then cached)"
  "$out" "$root" --scope "$scope" --budget "$b" --runs 2
done
echo "== no scope (the whole project's ranking)"
"$out" "$root" --runs 1
echo "== outlines of files in scope (repomap_outline) against the whole files, $root"
gcc -O2 -g -std=gnu11 -D_GNU_SOURCE -Iinclude -Inative bench/repomap/outline_share.c \
  build/libfrugal_core.a $(pkg-config --libs libuv jansson) -lm -ldl -o build/outline_share
find "$root" -type f \( -name '*.c' -o -name '*.h' -o -name '*.py' -o -name '*.lua' \) \
  -not -path '*/test*' | build/outline_share
