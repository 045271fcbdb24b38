"""No model outlives its prompt: each node of the pack runs on real ComfyUI models (tiny SD1.5-config UNet,
tiny Wan 2.1 DiT, the demo model), every reference the test holds is dropped, ComfyUI unloads its models,
and with the garbage collector off the ModelPatcher and its BaseModel must be gone (freed by reference
counting alone). A reference cycle through a BaseModel is what makes ComfyUI log "Potential memory leak
detected with model ..." and keeps the weights (VRAM on a GPU) until a full collection."""
import gc
import logging
import weakref

import pytest
import torch

import comfy.model_management as mm
from comfy_extras import nodes_custom_sampler as ncs
from comfy_test_nodes import tiny_models
from host_utils import custom_advanced, empty_video, ksampler, result

from training_free_video.nodes import demo, fifo, freeinit, ivmixed, nivsds, reward

DEMO_COND = [[demo.toy_embedding("sunset clouds"), {}]]


def models(kind):
    """(MODEL, empty latent, positive, negative) of one real model kind."""
    if kind == "demo":
        model = result(demo.DemoModelLoader.execute("frames_in_batch", "eps", 0.9, 2.0, 3.0))[0]
        return model, empty_video("fib", 6, 4), DEMO_COND, DEMO_COND
    if kind == "demo_5d":
        model = result(demo.DemoModelLoader.execute("video_5d", "flow", 0.9, 2.0, 3.0))[0]
        return model, empty_video("5d", 6, 4), DEMO_COND, DEMO_COND
    if kind == "wan":
        c = tiny_models.conditioning(tiny_models.WAN_TEXT_DIM, 1)
        return tiny_models.tiny_wan(0), empty_video("5d", 6, 4), c, c
    c = tiny_models.conditioning(tiny_models.UNET_CONTEXT_DIM, 1)
    return tiny_models.tiny_animatediff(0), empty_video("fib", 6, 4), c, c


def run_freeinit(model, lat, pos, neg):
    m = result(freeinit.FreeInitNode.execute(model, 2, "gaussian", 0.25, 0.25, 4, False, 0.98))[0]
    out = ksampler(m, lat, pos, neg, steps=2)
    result(freeinit.FrequencyMix.execute({"samples": out}, {"samples": lat}, "gaussian", 0.25, 0.25, 4))


def run_fifo(model, lat, pos, neg):
    schedule = result(fifo.FIFOPromptSchedule.execute(conditioning_1=pos, from_frame_1=3, from_frame_2=1000,
                                                      from_frame_3=1000, from_frame_4=1000))[0]
    result(fifo.FIFOSampler.execute(model, pos, neg, {"samples": torch.zeros_like(lat)}, 1, 6, 2, 1, True, 1, 2.0,
                                    1.0, "normal", "generate", True, schedule))


def run_ivmixed(model, lat, pos, neg):
    image = model.clone()  # shares the BaseModel, as AnimateDiff-Evolved's video model does with its image model
    guider = result(ivmixed.IVMixedGuiderNode.execute(model, pos, neg, image, pos, neg, 2.0, 1.0, 1.0, 0.0, 1.0, 0,
                                                      "IVIV", "coherent"))[0]
    sigmas = result(ncs.BasicScheduler.execute(model, "normal", 2, 1.0))[0]
    custom_advanced(model, lat, None, None, sampler="euler", sigmas=sigmas, guider=guider)


def run_i4vgen(model, lat, pos, neg):
    cands = ksampler(model, lat, pos, neg, steps=2)
    images = torch.rand(cands.shape[0], 16, 16, 3)
    scorer = result(reward.RewardModelLoader.execute("demo_aesthetic (no weights)", "auto", "auto"))[0]
    best = result(reward.RankByReward.execute(scorer, images, "sunset clouds", 1, 4, {"samples": cands}))[1]
    layout = "video_5d" if lat.ndim == 5 else "frames_in_batch"
    image_latent = {"samples": best["samples"][:, :, 0] if lat.ndim == 5 else best["samples"]}
    static = result(nivsds.StaticVideo.execute(image_latent, 0, 4, layout))[0]
    result(nivsds.NIVSDS.execute(model, pos, neg, static, 0, 4, 2.0, "normal", 0.6, "10, 1", 1.0))


CASES = [("freeinit", "demo", run_freeinit), ("freeinit", "demo_5d", run_freeinit),
         ("freeinit", "animatediff", run_freeinit), ("freeinit", "wan", run_freeinit),
         ("fifo", "demo", run_fifo), ("fifo", "animatediff", run_fifo), ("fifo", "wan", run_fifo),
         ("ivmixed", "demo", run_ivmixed), ("ivmixed", "animatediff", run_ivmixed),
         ("i4vgen", "demo", run_i4vgen), ("i4vgen", "animatediff", run_i4vgen), ("i4vgen", "wan", run_i4vgen)]


class LeakLog(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        if "memory leak" in record.getMessage():
            self.lines.append(record.getMessage())


@pytest.mark.parametrize("method,kind,run", CASES, ids=[f"{m}-{k}" for m, k, _ in CASES])
def test_model_is_freed_after_the_nodes_ran(method, kind, run):
    gc.collect()
    mm.unload_all_models()
    mm.cleanup_models()
    model, lat, pos, neg = models(kind)
    patcher, base = weakref.ref(model), weakref.ref(model.model)
    run(model, lat, pos, neg)
    assert any(m.model is model for m in mm.current_loaded_models), "the nodes never loaded the model"
    del model, lat, pos, neg
    leaks, root = LeakLog(), logging.getLogger()
    level = root.level
    root.addHandler(leaks)
    root.setLevel(logging.INFO)  # ComfyUI logs the first sign of a leak at INFO
    gc.disable()
    try:
        mm.unload_all_models()
        mm.cleanup_models()
        mm.cleanup_models_gc()  # what ComfyUI runs before each prompt; it logs a model kept by a cycle
        alive = [name for name, ref in (("ModelPatcher", patcher), ("BaseModel", base)) if ref() is not None]
    finally:
        gc.enable()
        root.removeHandler(leaks)
        root.setLevel(level)
    assert not leaks.lines, leaks.lines
    assert not alive, f"{method} on {kind}: {alive} still referenced after the prompt (a reference cycle or cache)"
