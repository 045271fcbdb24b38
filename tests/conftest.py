"""Test set-up shared by the three tiers.

- unit/: pure maths; imports `tfv_core` (nodes/core loaded on its own), never ComfyUI.
- host/: the real ComfyUI 0.3.75 in-process (tests/setup_host.sh builds it) with the pack loaded as
  the package `training_free_video`, on tiny real models (tests/tiny_models.py).
- server/: a real `main.py --cpu` server over HTTP.
- browser/: Debian chromium + Playwright against that server and the real ComfyUI frontend.
"""
from pathlib import Path

import testenv  # noqa: F401  (registers tfv_core)


def pytest_collection_modifyitems(config, items):
    tiers = {"unit": 0, "host": 1, "server": 2, "browser": 3}
    items.sort(key=lambda it: tiers.get(Path(str(it.fspath)).parent.name, 4))
