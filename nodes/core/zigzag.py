"""IV-Mixed Sampler (Shao et al., ICLR 2025, arXiv:2410.04171): the zigzag step in sigma space.

A mixed step at sampler step i works on three noise levels s0 = sigma_i, s1 = sigma_i+1, s2 = sigma_i+2.
Four sub-steps, each a DDIM denoising move (CFG +omega) or DDIM inversion move (CFG -omega) of the image
model (I) or the video model (V), take the latent down and back up to s0; the video model's ordinary step
with the main CFG follows. The latent is x = a(s) x0 + b(s) eps in the sampler's space, and the network
reads the native latent z = c_in(s) x (for EPS models the VP latent x / sqrt(1 + s^2)), so a model can be
told a level (its timestep label) other than the latent's own, as the official AnimateDiff file does.
"""
import math
from dataclasses import dataclass
from typing import Callable

import torch
from einops import rearrange

from .layout import Layout

IMAGE, VIDEO = "I", "V"

# Sub-steps in execution order: slot and sign (+ denoise, - invert). Each has one I+, V+, I- and V-.
VARIANTS = {
    "IVIV": ("I+", "V+", "I-", "V-"),  # the paper's IV-IV, the released method
    "VIIV": ("V+", "I+", "I-", "V-"),
    "VIVI": ("V+", "I+", "V-", "I-"),
    "VVII": ("V+", "V-", "I+", "I-"),
    "IVVI": ("I+", "V+", "V-", "I-"),
    "IIVV": ("I+", "I-", "V+", "V-"),
}
COHERENT, OFFICIAL = "coherent", "official_animatediff"
LABEL_MODES = (COHERENT, OFFICIAL)
# The official AnimateDiff file's (read, write) levels per sub-step kind, whatever the order: the image
# model is told one level lower than the latent's own.
OFFICIAL_LEVELS = {"I+": (1, 2), "V+": (0, 1), "I-": (2, 1), "V-": (1, 0)}
SUBSTEPS = 4


@dataclass(frozen=True)
class SubStep:
    slot: str   # IMAGE or VIDEO
    sign: int   # +1: denoise with +omega; -1: invert with -omega
    read: int   # level the model is told: 0, 1, 2 for s0, s1, s2
    write: int  # level the moved latent is written at


@dataclass(frozen=True)
class NoiseParam:
    """x = a(s) x0 + b(s) eps in the sampler's space; the network reads z = c_in(s) x. Maps sigma -> scalar."""
    a: Callable
    b: Callable
    c_in: Callable


def plan(variant: str, labels: str) -> tuple[SubStep, ...]:
    """The four sub-steps of a variant: coherent labels follow the latent's level, official ones the table."""
    level, steps = 0, []
    for name in VARIANTS[variant]:
        sign = 1 if name[1] == "+" else -1
        read, write = (level, level + sign) if labels == COHERENT else OFFICIAL_LEVELS[name]
        steps.append(SubStep(name[0], sign, read, write))
        level += sign
    return tuple(steps)


def mixed_steps(n: int, start: float, end: float) -> range:
    """Steps whose zigzag runs, of n: from ceil(start*n) up to, not including, ceil(end*n); never the last
    step (a zigzag needs sigma_i+2)."""
    first = max(0, math.ceil(start * n - 1e-9))
    return range(first, min(n - 1, math.ceil(end * n - 1e-9)))


def levels(sigmas: torch.Tensor, i: int, sigma_min) -> tuple:
    """(s0, s1, s2) of step i; s2 = 0 becomes sigma_min, as diffusers clamps t - 2*1000//N at t = 0."""
    return sigmas[i], sigmas[i + 1], torch.clamp(sigmas[i + 2], min=sigma_min)


def slot_model(i: int, every: int) -> str:
    """Which model fills the image slot at step i: the video model on every `every`-th step (0: never)."""
    return VIDEO if every > 0 and i % every == every - 1 else IMAGE


def move(denoise, z: torch.Tensor, s_read, s_write, p: NoiseParam):
    """One DDIM step (s_write < s_read) or DDIM inversion step (s_write > s_read) of the native latent z, the
    model told s_read. Returns the moved z and the model's denoised estimate."""
    x = z / p.c_in(s_read)
    d = denoise(x, s_read)
    eps = (x - p.a(s_read) * d) / p.b(s_read)
    return p.c_in(s_write) * (p.a(s_write) * d + p.b(s_write) * eps), d


def zigzag(x: torch.Tensor, lv: tuple, steps: tuple[SubStep, ...], denoise, p: NoiseParam, after=None):
    """The zigzag from x at level lv[0] back to lv[0]. denoise(sub_step, x, sigma) is the slot model's
    denoised at CFG sign*omega; after(k, denoised) runs after sub-step k (progress, cancel)."""
    z = p.c_in(lv[0]) * x
    for k, st in enumerate(steps):
        z, d = move(lambda xr, s, st=st: denoise(st, xr, s), z, lv[st.read], lv[st.write], p)
        if after is not None:
            after(k, d)
    return z / p.c_in(lv[0])


def frames_as_images(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """The image model's view of a video latent: frames in the batch as they are; 5D as B*T one-frame videos."""
    return rearrange(x, "b c t h w -> (b t) c 1 h w") if layout.is_5d else x


def images_as_frames(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Inverse of frames_as_images."""
    return rearrange(x, "(b t) c 1 h w -> b c t h w", t=layout.frames) if layout.is_5d else x


def sigma_as_images(sigma: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Per-video sigmas [B] as per-image sigmas for frames_as_images."""
    return sigma.repeat_interleave(layout.frames) if layout.is_5d else sigma
