"""Helpers for host-tier tests and benchmarks: run ComfyUI's own sampler nodes in-process, count and time
model calls."""
import time

import torch

import comfy.samplers
import nodes as comfy_nodes
from comfy_extras import nodes_custom_sampler as ncs


def result(out):
    """The output tuple of a V1 node call or a V3 NodeOutput."""
    return out.result if hasattr(out, "result") else out


def ksampler(model, latent, positive, negative, seed=0, steps=8, cfg=3.0, sampler="euler",
             scheduler="normal", denoise=1.0):
    """The core KSampler node's code path."""
    return comfy_nodes.KSampler().sample(model, seed, steps, cfg, sampler, scheduler, positive, negative,
                                         {"samples": latent}, denoise=denoise)[0]["samples"]


def ksampler_advanced(model, latent, positive, negative, seed=0, steps=8, cfg=3.0, sampler="euler",
                      scheduler="normal", add_noise=True, start=0, end=10000, leftover=False):
    return comfy_nodes.KSamplerAdvanced().sample(
        model, "enable" if add_noise else "disable", seed, steps, cfg, sampler, scheduler, positive, negative,
        {"samples": latent}, start, end, "enable" if leftover else "disable")[0]["samples"]


def custom_advanced(model, latent, positive, negative, seed=0, steps=8, cfg=3.0, sampler="euler",
                    scheduler="normal", guider=None, sigmas=None):
    """The core SamplerCustomAdvanced node's code path (RandomNoise, CFGGuider, KSamplerSelect, BasicScheduler)."""
    noise = result(ncs.RandomNoise.execute(seed))[0]
    if guider is None:
        guider = result(ncs.CFGGuider.execute(model, positive, negative, cfg))[0]
    samp = result(ncs.KSamplerSelect.execute(sampler))[0] if isinstance(sampler, str) else sampler
    if sigmas is None:
        sigmas = result(ncs.BasicScheduler.execute(model, scheduler, steps, 1.0))[0]
    out = result(ncs.SamplerCustomAdvanced.execute(noise, guider, samp, sigmas, {"samples": latent}))
    return out[0]["samples"]


def count_model_calls(model):
    """Clone `model` with an APPLY_MODEL wrapper that counts calls, batch rows and the seconds spent inside;
    returns (clone, counter dict with keys calls, batch, seconds)."""
    import comfy.patcher_extension as pe
    counter = {"calls": 0, "batch": 0, "seconds": 0.0}
    m = model.clone()

    def wrapper(executor, *args, **kwargs):
        t = time.perf_counter()
        try:
            return executor(*args, **kwargs)
        finally:
            counter["calls"] += 1
            counter["batch"] += args[0].shape[0]
            counter["seconds"] += time.perf_counter() - t
    m.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "tfv_test_counter", wrapper)
    return m, counter


def best_of(fn, repeats: int = 3) -> float:
    """The shortest wall time of `repeats` calls of fn(), in seconds."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def empty_video(kind: str, frames: int = 8, size: int = 8) -> torch.Tensor:
    """Empty latents as the core nodes make them: frames in the batch (4 ch) or 5D (16 ch)."""
    if kind == "5d":
        return torch.zeros(1, 16, frames, size, size)
    return torch.zeros(frames, 4, size, size)


SAMPLERS = comfy.samplers.KSampler.SAMPLERS
