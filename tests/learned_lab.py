"""Experiments on the learned demo models (nodes/learned.py): each method with and without its node, through
ComfyUI's own samplers, measured with the world's metrics (nodes/core/world.py). Shared by the effect tests
(tests/host/test_learned_effects.py) and the quality benchmark (tests/benchmarks/bench_quality.py).
Every function returns {"off": metrics, "on": metrics, "calls_off": n, "calls_on": n} (metrics: a dict)."""
import functools
import math

import torch

import testenv

testenv.load_host()
from comfy_extras import nodes_custom_sampler as ncs  # noqa: E402
from host_utils import count_model_calls, custom_advanced, ksampler, result  # noqa: E402
from tfv_core import world  # noqa: E402
from training_free_video.nodes import fifo, freeinit, ivmixed, learned, nivsds  # noqa: E402
from training_free_video.nodes.core import zigzag  # noqa: E402

FRAMES, LATENT = world.FRAMES, world.SIZE // 2
PROMPTS = world.prompts()
CFG = 5.0


@functools.cache
def model(name: str):
    return learned.load_model(name)


@functools.cache
def _text(width: int):
    return learned.TextTable(width)


def cond(prompt: str, wan: bool = False):
    return _text(learned.WAN_TEXT_DIM if wan else learned.TEXT_DIM).conditioning(prompt)


def empty(frames: int = FRAMES, wan: bool = False) -> torch.Tensor:
    return torch.zeros(1, 16, frames, LATENT, LATENT) if wan else torch.zeros(frames, 4, LATENT, LATENT)


def measure(latent: torch.Tensor, prompt: str) -> dict:
    """World metrics of one video latent (frames in the batch, or 5D with one video)."""
    return learned.world_metrics(latent, prompt)[0]


def _pair(off, on, c_off, c_on, prompt):
    return {"off": measure(off, prompt), "on": measure(on, prompt), "calls_off": c_off["calls"],
            "calls_on": c_on["calls"]}


def freeinit_effect(seed: int, prompt: str, iterations: int = 3, fast: bool = False, steps: int = 10,
                    wan: bool = False, sampler: str = "ddim", scheduler: str = "ddim_uniform"):
    """KSampler with and without FreeInit (gaussian, d_s = d_t = 0.25) on the video model."""
    base = model("wan21" if wan else "video_unet")
    pos, neg = cond(prompt, wan), cond("", wan)
    plain, c_off = count_model_calls(base)
    patched = result(freeinit.FreeInitNode.execute(base, iterations, "gaussian", 0.25, 0.25, 4, fast, 0.98))[0]
    patched, c_on = count_model_calls(patched)
    if wan:
        sampler, scheduler = "euler", "simple"
    off = ksampler(plain, empty(wan=wan), pos, neg, seed, steps, CFG, sampler, scheduler)
    on = ksampler(patched, empty(wan=wan), pos, neg, seed, steps, CFG, sampler, scheduler)
    return _pair(off, on, c_off, c_on, prompt)


def fifo_effect(seed: int, prompt: str, multiple: int = 2, partitions: int = 2, wan: bool = False):
    """FIFO-Diffusion (window = the trained 8 frames) against plain sampling of the same length, same steps."""
    base = model("wan21" if wan else "video_unet")
    pos, neg = cond(prompt, wan), cond("", wan)
    frames = FRAMES * multiple
    plain, c_off = count_model_calls(base)
    counted, c_on = count_model_calls(base)
    steps = FRAMES * partitions
    off = ksampler(plain, empty(frames, wan), pos, neg, seed, steps, CFG, "euler_ancestral", "normal")
    on = fifo.fifo_sample(counted, pos, neg, {"samples": empty(2, wan)}, seed, frames, FRAMES, partitions, True,
                          4, CFG, 1.0, "normal")["samples"]
    return _pair(off, on, c_off, c_on, prompt)


def ivmixed_effect(seed: int, prompt: str, variant: str = "IVIV", steps: int = 10, omega: float = 4.0):
    """SamplerCustomAdvanced with IV-Mixed (image_unet + video_unet) against CFGGuider on the video model."""
    vdm, idm = model("video_unet"), model("image_unet")
    pos, neg = cond(prompt), cond("")
    v_off, c_off = count_model_calls(vdm)
    v_on, c_on = count_model_calls(vdm)
    i_on, c_img = count_model_calls(idm)
    off = custom_advanced(v_off, empty(), pos, neg, seed=seed, steps=steps, cfg=CFG)
    guider = result(ivmixed.IVMixedGuiderNode.execute(v_on, pos, neg, i_on, pos, neg, CFG, omega, omega, 0.0, 1.0,
                                                      0, variant, zigzag.OFFICIAL))[0]
    on = custom_advanced(v_on, empty(), None, None, seed=seed, steps=steps, guider=guider)
    out = _pair(off, on, c_off, c_on, prompt)
    out["calls_on"] += c_img["calls"]
    return out


def candidates(seed: int, prompt: str, n: int = 8, steps: int = 10):
    """I4VGen stage 1: n images from the image model, their latents and world rewards."""
    lat = ksampler(model("image_unet"), torch.zeros(n, 4, LATENT, LATENT), cond(prompt), cond(""), seed, steps,
                   CFG, "ddim", "ddim_uniform")
    images = world.decode(lat).movedim(1, -1)
    scores = learned.WorldReward().score(images, learned.WorldReward().encode_prompt(prompt))
    return lat, scores


def nivsds_effect(seed: int, prompt: str, steps: int = 10, n: int = 8):
    """I4VGen: best candidate -> static video -> (NI-VSDS) -> regeneration with the video model; off = the same
    regeneration of the static video without NI-VSDS."""
    vdm = model("video_unet")
    pos, neg = cond(prompt), cond("")
    lat, scores = candidates(seed, prompt, n, steps)
    best = int(scores.argmax())
    static = result(nivsds.StaticVideo.execute({"samples": lat}, best, FRAMES, "frames_in_batch"))[0]
    counted, c_on = count_model_calls(vdm)
    plain, c_off = count_model_calls(vdm)
    animated = result(nivsds.NIVSDS.execute(counted, pos, neg, static, seed, steps, CFG, "ddim_uniform", 0.6,
                                            "10, 10, 10, 1", 1.0))[0]
    on = ksampler(counted, animated["samples"], pos, neg, seed, steps, CFG, "ddim", "ddim_uniform")
    off = ksampler(plain, static["samples"], pos, neg, seed, steps, CFG, "ddim", "ddim_uniform")
    out = _pair(off, on, c_off, c_on, prompt)
    out["reward_best"], out["reward_mean"], out["reward_first"] = float(scores.max()), float(scores.mean()), \
        float(scores[0])
    return out


def paired(rows: list[dict], key: str) -> tuple[float, float, float, float]:
    """(mean off, mean on, mean difference on - off, its standard error) of metric `key` over rows."""
    off = torch.tensor([r["off"][key] for r in rows], dtype=torch.float64)
    on = torch.tensor([r["on"][key] for r in rows], dtype=torch.float64)
    d = on - off
    se = float(d.std() / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    return float(off.mean()), float(on.mean()), float(d.mean()), se
