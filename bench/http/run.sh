#!/bin/sh
# bench/http: time to first byte on a reused connection, frugal's client vs a curl process.
# Usage: bench/http/run.sh [ROUNDS]   (default 200; needs gcc, libuv-dev, libcurl headers, curl)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=${1:-200}
out=$(mktemp -d)
trap 'kill "$srv_pid" 2>/dev/null || true; rm -rf "$out"' EXIT INT TERM

gcc -std=gnu11 -O2 -D_GNU_SOURCE -I"$root/include" -I"$root/native" \
  $(pkg-config --cflags libcurl libuv) \
  "$here/http_bench.c" "$root/native/http/http.c" "$root/native/http/curl_api.c" \
  "$root/native/util/buf.c" -o "$out/http_bench" $(pkg-config --libs libuv) -ldl

/usr/bin/python3 "$here/server.py" > "$out/port" &
srv_pid=$!
i=0
while [ ! -s "$out/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat "$out/port")
# No proxy from the environment may sit between the bench and loopback.
env -u http_proxy -u HTTP_PROXY -u all_proxy -u ALL_PROXY "$out/http_bench" "$port" "$rounds"
