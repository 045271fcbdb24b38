"""The one place that talks to ComfyUI's sampling internals: input checks against a node's schema, model_sampling,
latent layout checks, model capabilities, free memory, seeded noise, progress, cancel and one-time log lines.
Method code imports these, not comfy."""
import inspect
import logging

import torch
from comfy_api.latest import io

import comfy.model_management
import comfy.sample
import comfy.utils
import latent_preview

from .core import checks
from .core.layout import Layout, LayoutError, detect

log = logging.getLogger("training-free-video")
_said: set[str] = set()


class NodeInputError(ValueError):
    """Bad input to one of our nodes, raised before any work is done; the text says what to change."""


def fail(node: str, message: str):
    raise NodeInputError(f"[{node}] {message}")


def input_specs(schema) -> list[checks.Spec]:
    """The checkable widget inputs of a V3 schema (combos, integers, floats, booleans)."""
    specs = []
    for inp in schema.inputs:
        if isinstance(inp, io.Combo.Input):
            specs.append(checks.Spec(inp.id, checks.COMBO, tuple(inp.options or ()), optional=inp.optional))
        elif isinstance(inp, (io.Int.Input, io.Float.Input)):
            kind = checks.INT if isinstance(inp, io.Int.Input) else checks.FLOAT
            specs.append(checks.Spec(inp.id, kind, (), inp.min, inp.max, inp.optional))
        elif isinstance(inp, io.Boolean.Input):
            specs.append(checks.Spec(inp.id, checks.BOOLEAN, optional=inp.optional))
    return specs


def check_inputs(node_cls, values: dict) -> None:
    """Every widget value of a node's `execute` call checked against the node's own schema (options, finite,
    min/max), before any work: over the API ComfyUI 0.3.75 checks neither V3 combos nor NaN, and no linked value.
    Call first in `execute` as `host.check_inputs(cls, locals())`. Inputs named in the node's SELF_CHECKED
    (e.g. a folder list, whose own message says where to put the files) are left to the node."""
    schema = node_cls.define_schema()
    own = set(getattr(node_cls, "SELF_CHECKED", ()))
    problem = checks.first_problem([s for s in input_specs(schema) if s.name not in own], values)
    if problem:
        fail(schema.display_name or schema.node_id, problem)


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


def video_layout(model, latent: torch.Tensor, node: str, min_frames: int = 2, name: str | None = None) -> Layout:
    """Layout of `latent`, checked against what `model` expects (rank and channel count) unless model is None;
    `name` (the node's input) starts the messages when given."""
    lead = f"{name}: " if name else ""
    try:
        layout = detect(latent, node, min_frames)
    except LayoutError as e:
        raise NodeInputError(str(e).replace(f"[{node}] ", f"[{node}] {lead}", 1)) from None
    fmt = None if model is None else latent_format(model)
    if fmt is not None:
        # no channel count in these two: inside a sampler it is already the model's (as_sampled)
        native_5d = getattr(fmt, "latent_dimensions", 2) == 3
        size = f"{latent.shape[-2]}x{latent.shape[-1]}"
        if native_5d and not layout.is_5d:
            fail(node, f"{lead}this model makes 5D video latents [B, C, T, H, W] but got frames in the batch "
                       f"({layout.frames} frames of {size}): use the model's own empty video latent node "
                       "(e.g. EmptyHunyuanLatentVideo for Wan).")
        if layout.is_5d and not native_5d:
            fail(node, f"{lead}this model works on frames in the batch [F, C, H, W] but got a 5D latent "
                       f"({layout.videos} video(s) of {layout.frames} frames of {size}): use an image model's empty "
                       "latent with batch size = frames.")
        channels = latent.shape[1]
        if channels != fmt.latent_channels:
            fail(node, f"{lead}the latent has {channels} channels but the model expects {fmt.latent_channels}: "
                       "use a latent made for this model.")
    return layout


def per_frame_timesteps(model) -> bool:
    """Whether a model's network takes one timestep per latent frame in 5D (timesteps [B, T] instead of [B]).
    A network says so with a `per_frame_timesteps` attribute (the demo model does). ComfyUI's own text-to-video
    Wan 2.1 / 2.2 network (WanModel with no image channels concatenated) takes them without saying: it embeds
    t.flatten(), reshapes the embedding per frame and spreads it over that frame's tokens (repeat_e)."""
    net = model.model.diffusion_model
    flag = getattr(net, "per_frame_timesteps", None)
    if flag is not None:
        return bool(flag)
    import comfy.ldm.wan.model
    import comfy.model_base
    return (type(model.model) in (comfy.model_base.WAN21, comfy.model_base.WAN22)
            and type(net) is comfy.ldm.wan.model.WanModel
            and net.patch_embedding.weight.shape[1] == latent_format(model).latent_channels)


def output_device() -> torch.device:
    """Where ComfyUI keeps node outputs between nodes (the CPU unless --gpu-only)."""
    return comfy.model_management.intermediate_device()


def memory_limit(device) -> int:
    """Bytes a node may still allocate on `device`: the available RAM on the CPU; on an accelerator its total
    memory, since ComfyUI unloads other models to make room."""
    device = torch.device(device)
    if device.type in ("cpu", "mps"):
        return int(comfy.model_management.get_free_memory(device))
    return int(comfy.model_management.get_total_memory(device))


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


def executing_node_id() -> str | None:
    """The id of the node that is running now (inside a prompt), else None."""
    from comfy_execution.utils import get_executing_context
    ctx = get_executing_context()
    return None if ctx is None else ctx.node_id


def show_text(text: str, node_id: str | None = None) -> None:
    """Log a line and show it in the UI on the node that is running (if any) and on node `node_id` (the node
    that made a patch, which the sampler node runs later)."""
    log.info(text)
    targets = {n for n in (executing_node_id(), node_id) if n is not None}
    if not targets:  # outside a prompt (scripts, tests) there is no node to show it on
        return
    from server import PromptServer
    srv = getattr(PromptServer, "instance", None)
    if srv is not None:
        for n in sorted(targets):
            srv.send_progress_text(text, n)


def notice(key: str, text: str, node_id: str | None = None) -> None:
    """A pass-through or degraded mode: shown on the node every time, logged once per process."""
    log_once(key, text)
    show_text(text, node_id=node_id)


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
