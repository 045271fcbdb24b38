"""IV-Mixed Guider: wall time against the time spent in counted model evaluations, and against plain sampling.

Tiny real models on the CPU (one thread), all measured in one run: plain CFG sampling, IV-mixed with two separate
models, and IV-mixed with two ModelPatchers over one BaseModel (the AnimateDiff-Evolved set-up), where the guider
swaps the video model's patches out for every image-model evaluation.
"""
import time

import torch

FRAMES, SIZE, STEPS, CFG, REPEATS = 8, 16, 8, 5.0, 2


def timed(model):
    """Clone that counts model calls and the seconds spent inside them."""
    from host_utils import count_model_calls
    return count_model_calls(model)


def video_clone(patcher, weight_patch=False):
    """A clone that stands for AnimateDiff-Evolved's video model: an injected module, optionally a LoRA-like patch."""
    import comfy.patcher_extension as pe

    def inject(p):
        p.model.diffusion_model.out.append(torch.nn.Identity())

    def eject(p):
        del p.model.diffusion_model.out[-1]
    v = patcher.clone()
    v.set_injections("tfv_bench_motion", [pe.PatcherInjection(inject=inject, eject=eject)])
    if weight_patch:
        key = "diffusion_model.input_blocks.0.0.weight"
        v.add_patches({key: (torch.zeros_like(v.model.state_dict()[key]),)})
    return v


def run() -> list[dict]:
    import testenv
    testenv.load_host()
    from comfy_test_nodes import tiny_models as tm
    from host_utils import custom_advanced, empty_video, result
    from training_free_video.nodes import ivmixed

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pos, neg = tm.conditioning(tm.UNET_CONTEXT_DIM, 1), tm.conditioning(tm.UNET_CONTEXT_DIM, 2)
        latent = empty_video("fib", FRAMES, SIZE)

        def sample(vdm, idm=None):
            guider = None
            if idm is not None:
                guider = result(ivmixed.IVMixedGuiderNode.execute(
                    vdm, pos, neg, idm, pos, neg, CFG, 4.0, 4.0, 0.0, 1.0, 0, "IVIV", "coherent"))[0]
            t = time.perf_counter()
            custom_advanced(vdm, latent, pos, neg, steps=STEPS, cfg=CFG, guider=guider)
            return time.perf_counter() - t

        def measure(vdm, idm=None):
            """(wall, calls, seconds inside the models) of one sampling, each model timed."""
            v, vs = timed(vdm)
            i, is_ = timed(idm) if idm is not None else (None, {"calls": 0, "seconds": 0.0})
            wall = sample(v, i)
            return wall, vs["calls"] + is_["calls"], vs["seconds"] + is_["seconds"]

        base = tm.tiny_animatediff(0)
        sample(base)  # warm-up
        cases = {"two separate models": (base, tm.tiny_animatediff(1)),
                 "shared BaseModel": (video_clone(base), base),
                 "shared BaseModel + weight patch": (video_clone(base, weight_patch=True), base)}
        rows = []
        for name, (vdm, idm) in cases.items():
            # plain and mixed alternate, best of REPEATS each: the machine's load drifts
            plain = min((measure(base) for _ in range(REPEATS)), key=lambda r: r[0])
            mix = min((measure(vdm, idm) for _ in range(REPEATS)), key=lambda r: r[0])
            rows.append({"benchmark": f"ivmixed {name}: wall / time in model calls", "ratio": mix[0] / mix[2],
                         "detail": f"{mix[2]:.2f} s of {mix[0]:.2f} s inside {mix[1]} model calls (plain "
                                   f"sampling: {plain[2]:.2f} s of {plain[0]:.2f} s, {plain[0] / plain[2]:.2f})"})
            rows.append({"benchmark": f"ivmixed {name}: wall / plain sampling", "ratio": mix[0] / plain[0],
                         "detail": f"{mix[1]} vs {plain[1]} model calls (x{mix[1] / plain[1]:.2f}); {STEPS} euler "
                                   f"steps, {FRAMES} frames {SIZE}x{SIZE}, tiny UNet, CPU, 1 thread"})
        return rows
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    for row in run():
        print(f"{row['benchmark']:<62} {row['ratio']:7.2f}  {row['detail']}")
