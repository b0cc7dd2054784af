#!/usr/bin/env bash
# Main-loop stall while a 20,000-word answer streams into Neovim: frugal against a naive
# jobstart+curl client, every API, headless and with a UI attached. See bench/stall/README.md.
#
#   bench/stall/run.sh [stall.py options]            this machine's nvim and build/frugal
#   bench/stall/run.sh --root trixie|sid [options]   Neovim 0.10 / 0.12 in the Debian root that
#                                                    tests/roots.sh keeps (needs root): the host
#                                                    is built inside the root first
#
# Options go to stall.py (--runs 3, --cases, --ui both|headless|ui, --json FILE, ...).
# Every run is bounded (--timeout, per run) and everything talks to 127.0.0.1 only.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3

if [ "${1:-}" != "--root" ]; then
  exec timeout 3600 "$py" "$here/bench/stall/stall.py" "$@"
fi

suite=${2:-}
shift 2
case $suite in trixie|sid) ;; *) echo "usage: $0 --root trixie|sid [options]" >&2; exit 2 ;; esac
root=${FRUGAL_ROOTS:-/var/tmp/frugal-roots}/$suite
[ -x "$root/usr/bin/nvim" ] || { echo "stall: no $suite root; run tests/roots.sh ensure $suite" >&2; exit 1; }

if [ ! -x "$root/usr/bin/curl" ]; then
  # the naive client runs curl; the root's package list (tests/roots.sh) does not carry it
  echo "stall: installing curl in the $suite root" >&2
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -qq install -y curl >/dev/null
fi

# A private mount namespace: the bind mounts vanish with it, whatever happens, and never touch
# the mounts that tests/roots.sh makes in the same root.
args=$(printf ' %q' "$@")
exec timeout 3600 unshare --mount --propagation private bash -c "
  set -e
  mkdir -p '$root$here' '$root/proc'
  mount --bind '$here' '$root$here'
  mount -t proc proc '$root/proc'
  chroot '$root' env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 bash -c \"
    set -e
    build=/var/tmp/frugal-stall/build
    # -Wno-error=format-truncation: newer gcc in the roots warns where Debian 12's does not;
    # the benchmark measures, it does not lint
    cmake -S '$here' -B \\\$build -DCMAKE_BUILD_TYPE=RelWithDebInfo \\
      -DCMAKE_C_FLAGS=-Wno-error=format-truncation >/dev/null
    cmake --build \\\$build -j \\\$(nproc) --target frugal_bin >/dev/null
    python3 '$here/bench/stall/stall.py' --nvim /usr/bin/nvim --host \\\$build/frugal $args
  \"
"
