"""Training-free video diffusion for ComfyUI: FreeInit, FIFO-Diffusion, IV-Mixed Sampler, I4VGen."""
from .nodes import comfy_entrypoint

WEB_DIRECTORY = "./js"

__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
