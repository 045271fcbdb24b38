#!/usr/bin/env bash
# The test command (README "Test"): builds the host if needed, then runs all three tiers.
# Extra arguments go to pytest, e.g. `bash tests/run.sh tests/unit -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
bash tests/setup_host.sh >/dev/null
echo "[tests] host ready after $(( $(date +%s) - t0 )) s"
.host/venv/bin/python -m pytest -c tests/pytest.ini "${@:-tests}"
