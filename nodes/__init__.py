"""Node registration: every module in this package with a NODES list contributes its nodes."""
import importlib
import pkgutil

from comfy_api.latest import ComfyExtension, io

_SKIP = {"core", "host"}


def node_list() -> list[type[io.ComfyNode]]:
    nodes = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name not in _SKIP:
            nodes += getattr(importlib.import_module(f"{__name__}.{info.name}"), "NODES", [])
    return nodes


class TrainingFreeVideoExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return node_list()


async def comfy_entrypoint() -> ComfyExtension:
    return TrainingFreeVideoExtension()
