#!/usr/bin/env bash
# Runs every benchmark; see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
/usr/bin/python3 bench/packaging.py "$@"
/usr/bin/python3 bench/memory.py
/usr/bin/python3 bench/soak/soak.py
bash bench/tokens/run.sh
/usr/bin/python3 bench/share.py
/usr/bin/python3 bench/boundaries/compare.py
bash bench/repomap/run.sh
# Needs the Neovim 0.10 root of tests/roots.sh (and runs Neovim in it under its lock).
if [ -x "${FRUGAL_ROOTS:-/var/tmp/frugal-roots}/trixie/usr/bin/nvim" ]; then
  /usr/bin/python3 bench/treesitter/agree.py --show 0
else
  echo "bench/treesitter: no root (tests/roots.sh ensure trixie); skipped"
fi
bash bench/http/run.sh
bash bench/stall/run.sh --runs 3
/usr/bin/python3 bench/backends/bench.py --runs 5
/usr/bin/python3 bench/workload/run.py
/usr/bin/python3 bench/plan/run.py
