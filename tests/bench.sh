#!/usr/bin/env bash
# Benchmarks (README "Benchmarks"): prints a table of ratios measured in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup_host.sh >/dev/null
exec .host/venv/bin/python tests/bench.py "$@"
