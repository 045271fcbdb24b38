"""The one place that talks to ComfyUI's sampling internals: model_sampling, latent layout checks,
seeded noise, progress, cancel and one-time log lines. Method code imports these, not comfy."""
import inspect
import logging

import torch

import comfy.model_management
import comfy.sample
import comfy.utils
import latent_preview

from .core.layout import Layout, LayoutError, detect

log = logging.getLogger("training-free-video")
_said: set[str] = set()


class NodeInputError(ValueError):
    """Bad input to one of our nodes, raised before any work is done; the text says what to change."""


def fail(node: str, message: str):
    raise NodeInputError(f"[{node}] {message}")


def log_once(key: str, message: str) -> None:
    """Log a message the first time its key is seen in this process."""
    if key not in _said:
        _said.add(key)
        log.info(message)


def model_sampling(model):
    """The (possibly patched) model_sampling object of a MODEL (ModelPatcher)."""
    return model.get_model_object("model_sampling")


def latent_format(model):
    return model.get_model_object("latent_format")


def sigma_max(model) -> float:
    return float(model_sampling(model).sigma_max)


def video_layout(model, latent: torch.Tensor, node: str, min_frames: int = 2) -> Layout:
    """Layout of `latent`, checked against what `model` expects (rank and channel count) unless model is None."""
    try:
        layout = detect(latent, node, min_frames)
    except LayoutError as e:
        raise NodeInputError(str(e)) from None
    fmt = None if model is None else latent_format(model)
    if fmt is not None:
        # no channel count in these two: inside a sampler it is already the model's (as_sampled)
        native_5d = getattr(fmt, "latent_dimensions", 2) == 3
        size = f"{latent.shape[-2]}x{latent.shape[-1]}"
        if native_5d and not layout.is_5d:
            fail(node, f"this model makes 5D video latents [B, C, T, H, W] but got frames in the batch "
                       f"({layout.frames} frames of {size}): use the model's own empty video latent node "
                       "(e.g. EmptyHunyuanLatentVideo for Wan).")
        if layout.is_5d and not native_5d:
            fail(node, f"this model works on frames in the batch [F, C, H, W] but got a 5D latent ({layout.videos} "
                       f"video(s) of {layout.frames} frames of {size}): use an image model's empty latent with "
                       "batch size = frames.")
        channels = latent.shape[1]
        if channels != fmt.latent_channels:
            fail(node, f"the latent has {channels} channels but the model expects {fmt.latent_channels}: "
                       "use a latent made for this model.")
    return layout


def as_sampled(model, latent: torch.Tensor) -> torch.Tensor:
    """The latent as ComfyUI's samplers hand it on: an empty latent takes the model's channel count (and a
    5D model's frame axis). Nodes that sample on their own use it, so that they accept and report what
    a patch inside KSampler (FreeInit) sees."""
    if latent.ndim == 4 and getattr(latent_format(model), "latent_dimensions", 2) == 3:
        return latent  # frames in the batch for a 5D model: left for video_layout to refuse
    return comfy.sample.fix_empty_latent_channels(model, latent)


def prepare_noise(latent: torch.Tensor, seed: int) -> torch.Tensor:
    """Unit Gaussian noise exactly as ComfyUI's KSampler makes it for this latent and seed."""
    return comfy.sample.prepare_noise(latent, seed)


def show_text(text: str) -> None:
    """Log a line and show it on the node that is running (if any) in the UI."""
    log.info(text)
    from comfy_execution.utils import get_executing_context
    ctx = get_executing_context()
    if ctx is None:  # outside a prompt (scripts, tests) there is no node to show it on
        return
    from server import PromptServer
    srv = getattr(PromptServer, "instance", None)
    if srv is not None:
        srv.send_progress_text(text, ctx.node_id)


def check_cancel() -> None:
    """Raise ComfyUI's interrupt exception if the user pressed cancel."""
    comfy.model_management.throw_exception_if_processing_interrupted()


class Progress:
    """A progress bar on the running node that also honours cancel, with optional latent previews."""

    def __init__(self, total: int, model=None):
        self.total = max(int(total), 1)
        self.bar = comfy.utils.ProgressBar(self.total)
        self.previewer = None
        if model is not None:
            self.previewer = latent_preview.get_previewer(model.load_device, latent_format(model))
        self.done = 0

    def update(self, n: int = 1, x0: torch.Tensor | None = None) -> None:
        self.update_to(self.done + n, x0)

    def update_to(self, done: int, x0: torch.Tensor | None = None) -> None:
        """Set the progress to `done` of `total` (checks cancel first), with a preview of x0 if given."""
        check_cancel()
        self.done = min(done, self.total)
        preview = None
        if self.previewer is not None and x0 is not None:
            preview = self.previewer.decode_latent_to_preview_image("JPEG", x0)
        self.bar.update_absolute(self.done, self.total, preview)


OWN_LOOP = "tfv_own_loop"


def own_loop(model, name: str):
    """A clone of `model` marked as driving its own loop through a guider (FIFO, NI-VSDS), so that
    sampling-level patches such as FreeInit leave that inner use of the sampler alone."""
    m = model.clone()
    m.model_options = {**m.model_options,
                       "transformer_options": {**m.model_options.get("transformer_options", {}), OWN_LOOP: name}}
    return m


def accepts_kwarg(fn, name: str) -> bool:
    """True if `fn` takes keyword `name` (newer ComfyUI adds arguments that 0.3.75 rejects)."""
    params = inspect.signature(fn).parameters
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
