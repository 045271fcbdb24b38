"""NI-VSDS wall time against its model evaluations (I4VGen, arXiv 2406.02230).

The floor of NI-VSDS is one CFG model evaluation per optimised level. Two ratios per model, each measured
in one run (best of a few repeats): NI-VSDS wall time / time spent inside the model's apply_model, and
NI-VSDS wall time / a plain KSampler making the same number of model evaluations on the same latent.
"""
import time

import torch

REPEATS = 2


def _setup():
    import testenv
    testenv.load_host()


def _timed_model(model):
    """Clone with an APPLY_MODEL wrapper that adds up the seconds spent in the model."""
    import comfy.patcher_extension as pe
    spent = {"s": 0.0, "calls": 0}
    m = model.clone()

    def wrapper(executor, *args, **kwargs):
        t0 = time.perf_counter()
        out = executor(*args, **kwargs)
        spent["s"] += time.perf_counter() - t0
        spent["calls"] += 1
        return out
    m.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "tfv_bench_timer", wrapper)
    return m, spent


def _best(fn):
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _case(name, model, pos, neg, static, steps, scheduler, etas):
    from host_utils import ksampler
    from training_free_video.nodes import nivsds
    timed, spent = _timed_model(model)
    levels = int((nivsds.plan(model, steps, scheduler, 0.6, etas, 1.0)[3] > 0).sum())
    run = lambda: nivsds.animate(timed, pos, neg, 7.5, static, 0, steps, scheduler, 0.6, etas, 1.0)  # noqa: E731
    run()                                                               # warm-up
    best, inside = float("inf"), 0.0
    for _ in range(REPEATS):
        spent.update(s=0.0, calls=0)
        t0 = time.perf_counter()
        run()
        wall = time.perf_counter() - t0
        if wall < best:
            best, inside, calls = wall, spent["s"], spent["calls"]
    plain = _best(lambda: ksampler(model, static, pos, neg, steps=levels, cfg=7.5, sampler="euler",
                                   scheduler=scheduler))
    shape = "x".join(map(str, static.shape))
    return [
        {"benchmark": f"NI-VSDS wall / time in model calls ({name})", "ratio": best / inside,
         "detail": f"{best * 1e3:.0f} ms for {calls} model calls ({inside * 1e3:.0f} ms inside), latent {shape}"},
        {"benchmark": f"NI-VSDS wall / KSampler with equal model calls ({name})", "ratio": best / plain,
         "detail": f"{best * 1e3:.0f} ms vs {plain * 1e3:.0f} ms for a {levels}-step euler KSampler, cfg 7.5"},
    ]


def run() -> list[dict]:
    _setup()
    from comfy_test_nodes import tiny_models
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
