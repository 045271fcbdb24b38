"""NI-VSDS wall time against its model evaluations (I4VGen, arXiv 2406.02230).

The floor of NI-VSDS is one CFG model evaluation per optimised level. Two ratios per model, each measured
in one run (best of a few interleaved repeats, one CPU thread so shared machines time steadily):
NI-VSDS wall time / time spent inside the model's apply_model, and NI-VSDS wall time / a plain KSampler
making the same number of model evaluations on the same latent.
"""
import time

import torch

REPEATS = 3


def _setup():
    import testenv
    testenv.load_host()


def _case(name, model, pos, neg, static, steps, scheduler, etas):
    from host_utils import count_model_calls, ksampler
    from training_free_video.nodes import nivsds
    timed, spent = count_model_calls(model)
    levels = int((nivsds.plan(model, steps, scheduler, 0.6, etas, 1.0)[3] > 0).sum())

    def run():
        return nivsds.animate(timed, pos, neg, 7.5, static, 0, steps, scheduler, 0.6, etas, 1.0)

    def plain():
        return ksampler(timed, static, pos, neg, steps=levels, cfg=7.5, sampler="euler", scheduler=scheduler)
    run(), plain()                                                      # warm-up
    best, inside, calls, floor = float("inf"), 0.0, 0, float("inf")
    for _ in range(REPEATS):
        spent.update(seconds=0.0, calls=0)
        t0 = time.perf_counter()
        run()
        wall = time.perf_counter() - t0
        if wall < best:
            best, inside, calls = wall, spent["seconds"], spent["calls"]
        t0 = time.perf_counter()
        plain()
        floor = min(floor, time.perf_counter() - t0)
    shape = "x".join(map(str, static.shape))
    return [
        {"benchmark": f"NI-VSDS wall / time in model calls ({name})", "ratio": best / inside,
         "detail": f"{best * 1e3:.0f} ms for {calls} model calls ({inside * 1e3:.0f} ms inside), latent {shape}"},
        {"benchmark": f"NI-VSDS wall / KSampler with equal model calls ({name})", "ratio": best / floor,
         "detail": f"{best * 1e3:.0f} ms vs {floor * 1e3:.0f} ms for a {levels}-step euler KSampler, cfg 7.5"},
    ]


def run() -> list[dict]:
    _setup()
    from comfy_test_nodes import tiny_models
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _rows(tiny_models)
    finally:
        torch.set_num_threads(threads)


def _rows(tiny_models) -> list[dict]:
    torch.manual_seed(0)
    rows = []
    ad = tiny_models.tiny_animatediff(0)
    pos, neg = (tiny_models.conditioning(tiny_models.UNET_CONTEXT_DIM, s) for s in (1, 2))
    static = torch.randn(1, 4, 8, 8).repeat(16, 1, 1, 1)
    rows += _case("tiny AnimateDiff-like UNet, EPS, 16 frames in the batch, 16 levels", ad, pos, neg, static,
                  25, "ddim_uniform", [10.0, 10.0, 10.0, 1.0])
    wan = tiny_models.tiny_wan(0)
    pos, neg = (tiny_models.conditioning(tiny_models.WAN_TEXT_DIM, s) for s in (1, 2))
    static = torch.randn(1, 16, 1, 16, 16).repeat(1, 1, 5, 1, 1)
    rows += _case("tiny Wan 2.1 DiT, flow, 5D, 16 levels", wan, pos, neg, static, 25, "ddim_uniform",
                  [10.0, 10.0, 10.0, 1.0])
    return rows


if __name__ == "__main__":
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    for row in run():
        print(f"{row['benchmark']:<100} {row['ratio']:6.2f}  {row['detail']}")
