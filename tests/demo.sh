#!/usr/bin/env bash
# The demo command (README "Run"): sets up the host if needed, then runs the example workflows on the
# weight-free demo model through a real ComfyUI server; results go to demo_output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup_host.sh >/dev/null
exec .host/venv/bin/python tests/demo.py "$@"
