"""Where the host is, and how tests load the pack and its pure core."""
import importlib.util
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMFY = Path(os.environ.get("TFV_COMFYUI", REPO / ".host" / "ComfyUI"))


def _load_package(name: str, init: Path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_load_package("tfv_core", REPO / "nodes" / "core" / "__init__.py")


def load_host():
    """Put ComfyUI on sys.path and import the pack as `training_free_video`."""
    if not (COMFY / "comfy").is_dir():
        raise RuntimeError(f"ComfyUI host not found at {COMFY}: run `bash tests/setup_host.sh` first")
    if str(COMFY) not in sys.path:
        sys.path.insert(0, str(COMFY))
    if str(REPO / "tests") not in sys.path:
        sys.path.insert(0, str(REPO / "tests"))
    import torch
    from comfy.cli_args import args
    args.cpu = args.cpu or not torch.cuda.is_available()
    return _load_package("training_free_video", REPO / "__init__.py")
