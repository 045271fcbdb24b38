"""Baselines: what ComfyUI's own sampler loop costs on top of the model calls, on the models the
method benchmarks use. Ratios above 1 are the host's overhead; every method is measured against these."""
import torch

from comfy_test_nodes import tiny_models
from host_utils import best_of, count_model_calls, empty_video, ksampler


def model_call_time(model, latent, context):
    """Seconds of one batched model call (cond + uncond) at a mid sigma."""
    bm = model.model
    x = torch.cat([latent, latent])
    sigma = torch.full((x.shape[0],), float(bm.model_sampling.sigma(torch.tensor(500.0))))
    ctx = context.expand(x.shape[0], -1, -1)
    opts = {"transformer_options": {"cond_or_uncond": [0, 1]}}
    with torch.no_grad():
        return best_of(lambda: bm.apply_model(x, sigma, c_crossattn=ctx, **opts), repeats=5)


def run():
    from training_free_video.nodes import demo
    rows = []
    cases = [("tiny AnimateDiff (EPS, 16 frames 16x16)", tiny_models.tiny_animatediff(),
              empty_video("fib", 16, 16), tiny_models.conditioning(tiny_models.UNET_CONTEXT_DIM)),
             ("tiny Wan 2.1 (flow, 5D 9 frames 16x16)", tiny_models.tiny_wan(), empty_video("5d", 9, 16),
              tiny_models.conditioning(tiny_models.WAN_TEXT_DIM)),
             ("demo model (EPS, 16 frames 16x16)", demo.demo_model(), empty_video("fib", 16, 16),
              [[demo.toy_embedding("clouds"), {}]])]
    steps = 10
    for name, model, lat, cond in cases:
        counted, counter = count_model_calls(model)
        ksampler(counted, lat, cond, cond, steps=steps, cfg=2.0)
        calls = counter["calls"]
        wall = best_of(lambda: ksampler(model, lat, cond, cond, steps=steps, cfg=2.0))
        floor = calls * model_call_time(model, lat, cond[0][0])
        rows.append({"benchmark": f"KSampler {steps} steps / model-call floor: {name}", "ratio": wall / floor,
                     "detail": f"{calls} calls, wall {wall * 1000:.0f} ms, floor {floor * 1000:.0f} ms"})
    return rows
