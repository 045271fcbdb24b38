"""A real ComfyUI server (`main.py --cpu`) on 127.0.0.1 for tests, the demo and the browser test."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMFY = Path(os.environ.get("TFV_COMFYUI", REPO / ".host" / "ComfyUI"))
PYTHON = REPO / ".host" / "venv" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    """Start with `with ComfyServer(test_nodes=True) as srv:`; the log is in srv.log_path."""

    def __init__(self, test_nodes: bool = False, workdir: str | None = None, extra_args=()):
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="tfv-comfy-"))
        self.output_dir = self.workdir / "output"
        self.reward_dir = self.workdir / "reward_models"   # searched after models/reward_models
        self.log_path = self.workdir / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.test_nodes = test_nodes
        self.extra_args = list(extra_args)
        self.proc = None
        self.client_id = uuid.uuid4().hex

    def _extra_paths(self) -> Path:
        nodes_dir = self.workdir / "custom_nodes"
        nodes_dir.mkdir(parents=True, exist_ok=True)
        if self.test_nodes and not (nodes_dir / "tfv_test_nodes").exists():
            (nodes_dir / "tfv_test_nodes").symlink_to(REPO / "tests" / "comfy_test_nodes")
        cfg = self.workdir / "extra_model_paths.yaml"
        cfg.write_text(f"tfv_tests:\n  custom_nodes: {nodes_dir}\n  reward_models: {self.reward_dir}\n")
        return cfg

    def command(self, *more) -> list[str]:
        return [str(PYTHON), "main.py", "--cpu", "--disable-auto-launch", "--listen", "127.0.0.1",
                "--port", str(self.port), "--output-directory", str(self.output_dir),
                "--temp-directory", str(self.workdir / "temp"), "--user-directory", str(self.workdir / "user"),
                "--database-url", f"sqlite:///{self.workdir / 'user' / 'comfyui.db'}",
                "--extra-model-paths-config", str(self._extra_paths()), *self.extra_args, *more]

    def start(self, timeout: float = 180) -> "ComfyServer":
        for d in ("output", "temp", "user/default", "reward_models"):
            (self.workdir / d).mkdir(parents=True, exist_ok=True)
        # a browser session should open on the graph, not on the first-run template browser
        settings = self.workdir / "user" / "default" / "comfy.settings.json"
        if not settings.exists():
            settings.write_text(json.dumps({"Comfy.TutorialCompleted": True}))
        log = open(self.log_path, "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(self.command(), cwd=COMFY, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                self.get("/system_stats", timeout=2)
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"ComfyUI did not answer within {timeout}s:\n{self.log()[-4000:]}")

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=30)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str, timeout: float = 30):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return json.loads(r.read())

    def post(self, path: str, payload: dict, timeout: float = 30):
        req = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"POST {path} failed ({e.code}): {e.read().decode(errors='replace')}") from None

    def queue(self, prompt: dict) -> str:
        return self.post("/prompt", {"prompt": prompt, "client_id": self.client_id})["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = 600) -> dict:
        """The /history entry of a finished prompt; raises with ComfyUI's error text if it failed."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            hist = self.get(f"/history/{prompt_id}")
            if prompt_id in hist and hist[prompt_id].get("status", {}).get("completed") is not None:
                entry = hist[prompt_id]
                if entry["status"].get("status_str") != "success":
                    msgs = [m for m in entry["status"].get("messages", []) if m[0] == "execution_error"]
                    raise RuntimeError(f"prompt failed: {json.dumps(msgs)[:4000]}")
                return entry
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI died:\n{self.log()[-4000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout}s")

    def run(self, prompt: dict, timeout: float = 600) -> dict:
        return self.wait(self.queue(prompt), timeout)

    def output_files(self, entry: dict) -> list[Path]:
        files = []
        for out in entry.get("outputs", {}).values():
            for items in out.values():
                for item in items if isinstance(items, list) else []:
                    if isinstance(item, dict) and "filename" in item and item.get("type") == "output":
                        files.append(self.output_dir / item.get("subfolder", "") / item["filename"])
        return files


def quick_test(test_nodes: bool = False) -> tuple[int, str]:
    """`main.py --quick-test-for-ci`: loads every node and exits. Returns (exit code, log)."""
    srv = ComfyServer(test_nodes=test_nodes)
    for d in ("output", "temp", "user"):
        (srv.workdir / d).mkdir(parents=True, exist_ok=True)
    r = subprocess.run(srv.command("--quick-test-for-ci"), cwd=COMFY, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


if __name__ == "__main__":
    code, log = quick_test(test_nodes="--test-nodes" in sys.argv)
    print(log)
    sys.exit(code)
