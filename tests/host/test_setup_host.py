"""tests/setup_host.sh is safe to start twice at once: a second run waits for the first (a lock in the cache)."""
import fcntl
import os
import subprocess
import time
from pathlib import Path

from testenv import REPO


def test_a_second_setup_waits_for_the_running_one():
    cache = Path(os.environ.get("TFV_HOST_CACHE", Path.home() / ".cache" / "training-free-video"))
    with open(cache / "setup.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # stands for a setup_host.sh that is building right now
        second = subprocess.Popen(["bash", str(REPO / "tests" / "setup_host.sh")], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        waited = second.poll() is None
    out, err = second.communicate(timeout=120)
    assert waited, f"setup_host.sh did not wait for the lock: {err}"
    assert second.returncode == 0 and "waiting for it" in err and out.strip().endswith(".host")
