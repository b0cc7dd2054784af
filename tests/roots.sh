#!/usr/bin/env bash
# Builds and tests frugal inside Debian roots that carry other Neovim versions:
# trixie (Debian 13, Neovim 0.10) and sid (Neovim 0.12). Debian 12's own Neovim (0.7.2) is
# tested on the machine itself by `make test`.
#
#   tests/roots.sh ensure trixie|sid     create the root if missing (debootstrap, ~1 minute)
#   tests/roots.sh test trixie|sid       build in the root and run the unit and e2e tests there
#
# Roots live in $FRUGAL_ROOTS (default /var/tmp/frugal-roots) and are reused between runs.
# Needs root (debootstrap, mount, chroot).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
roots=${FRUGAL_ROOTS:-/var/tmp/frugal-roots}
mirror=${FRUGAL_MIRROR:-http://deb.debian.org/debian}
pkgs=neovim,cmake,make,gcc,libc6-dev,pkg-config,libuv1-dev,libmsgpack-c-dev,libcurl4-openssl-dev,libjansson-dev,libcmocka-dev,python3-pynvim,python3-pytest,ca-certificates

usage() { echo "usage: $0 ensure|test trixie|sid" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1 suite=$2
case $suite in trixie|sid) ;; *) usage ;; esac
root=$roots/$suite

ensure() {
  if [ -f "$root/.frugal-pkgs" ] && [ "$(cat "$root/.frugal-pkgs")" = "$pkgs" ]; then
    return 0
  fi
  mkdir -p "$roots"
  if [ -x "$root/usr/bin/nvim" ]; then
    # An existing root from an older package list: add what is missing.
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    chroot "$root" apt-get -o Acquire::Check-Valid-Until=false -qq update
    chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -qq install -y ${pkgs//,/ }
  else
    rm -rf "$root"
    echo "roots: creating $suite root in $root (debootstrap)"
    debootstrap --variant=minbase --include="$pkgs" "$suite" "$root" "$mirror" \
      >"$roots/$suite.log" 2>&1 || { tail -20 "$roots/$suite.log"; exit 1; }
  fi
  echo "$pkgs" >"$root/.frugal-pkgs"
}

cleanup() {
  umount "$root/proc" 2>/dev/null || true
  umount "$root/shared" 2>/dev/null || true
  umount "$root/frugal" 2>/dev/null || true
}

run_tests() {
  ensure
  mnt=$root/frugal
  mkdir -p "$mnt" "$root/shared" "$root/proc"
  trap cleanup EXIT
  mountpoint -q "$mnt" || mount --bind "$here" "$mnt"
  if [ -d "$here/../shared" ] && ! mountpoint -q "$root/shared"; then
    mount --bind "$here/../shared" "$root/shared"
  fi
  mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
  local build=build-$suite
  chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    bash -c "set -e
      cd /frugal
      nvim --version | head -n 1
      cmake -S . -B $build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
      cmake --build $build -j \$(nproc)
      (cd $build && ctest --output-on-failure)
      FRUGAL_HOST=/frugal/$build/frugal python3 -m pytest -q -p no:cacheprovider tests/e2e
      FRUGAL_BACKEND=inprocess FRUGAL_HOST=/frugal/$build/frugal \
        python3 -m pytest -q -p no:cacheprovider tests/e2e"
}

case $cmd in
  ensure) ensure ;;
  test) run_tests ;;
  *) usage ;;
esac
