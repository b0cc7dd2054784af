#!/usr/bin/env bash
# Runs every benchmark; see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
/usr/bin/python3 bench/packaging.py "$@"
if [ -x bench/tokens/run.sh ]; then bash bench/tokens/run.sh; fi
if [ -x bench/boundaries/run.sh ]; then bash bench/boundaries/run.sh; fi
