"""FreeInit: wall time of N passes against N plain samplings (same model, steps and seed), fast mode against
plain samplings of its step counts, and the cost of the filter and of one re-initialisation on a Wan-sized latent.
Tiny real models on the CPU (one thread); every ratio is measured in this run, best of REPEATS interleaved runs."""

import torch

PASSES, STEPS, REPEATS = 3, 10, 3
WAN_480P_81F = (1, 16, 21, 60, 104)  # Wan 2.1 latent of an 81-frame 832x480 video


def best(fn, repeats=REPEATS):
    from host_utils import best_of
    return best_of(fn, repeats)


def run() -> list[dict]:
    import testenv
    testenv.load_host()
    from comfy_test_nodes import tiny_models as tm
    from host_utils import empty_video, ksampler, result
    from tfv_core import freeinit as fi
    from tfv_core.spectral import lowpass_for
    from training_free_video.nodes import freeinit, host

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows = []
    try:
        cases = [("tiny AnimateDiff EPS, 8 frames 16x16", tm.tiny_animatediff(0), empty_video("fib", 8, 16),
                  tm.conditioning(tm.UNET_CONTEXT_DIM, 1)),
                 ("tiny Wan 2.1 flow, [1,16,9,16,16]", tm.tiny_wan(0), empty_video("5d", 9, 16),
                  tm.conditioning(tm.WAN_TEXT_DIM, 1))]
        for name, model, latent, cond in cases:
            def sample(m, steps=STEPS):
                return ksampler(m, latent, cond, cond, seed=1, steps=steps)
            slow = result(freeinit.FreeInitNode.execute(model, PASSES, "gaussian", 0.25, 0.25, 4, False, 0.98))[0]
            fast = result(freeinit.FreeInitNode.execute(model, PASSES, "gaussian", 0.25, 0.25, 4, True, 0.98))[0]
            ks = [fi.fast_steps(STEPS, PASSES, i) for i in range(PASSES)]
            sample(model), sample(slow)  # warm-up
            plain = best(lambda: [sample(model) for _ in range(PASSES)])
            loop = best(lambda: sample(slow))
            fast_floor = best(lambda: [sample(model, k) for k in ks])
            fast_loop = best(lambda: sample(fast))
            rows.append({"benchmark": f"{PASSES} passes / {PASSES} plain samplings ({name})",
                         "ratio": loop / plain,
                         "detail": f"{loop:.3f} s vs {plain:.3f} s, {STEPS} euler steps each"})
            rows.append({"benchmark": f"fast mode / plain samplings of {ks} steps ({name})",
                         "ratio": fast_loop / fast_floor,
                         "detail": f"{fast_loop:.3f} s vs {fast_floor:.3f} s; {sum(ks)} steps instead of "
                                   f"{PASSES * STEPS} ({fast_loop / plain:.2f} of the full loop's floor)"})

        latent = torch.zeros(WAN_480P_81F)
        axes = (2, 3, 4)
        build = best(lambda: lowpass_for(latent.shape, axes, "butterworth", 0.25, 0.25, 4), 5)
        x = torch.randn(WAN_480P_81F)
        fft = best(lambda: torch.fft.rfftn(x, dim=axes), 5)
        rows.append({"benchmark": "filter build / one rfftn of the latent (Wan 81f 480p latent)",
                     "ratio": build / fft, "detail": f"{build * 1e3:.1f} ms vs {fft * 1e3:.1f} ms, {tuple(x.shape)}"})
        lpf = lowpass_for(latent.shape, axes)
        noise = host.prepare_noise(latent, 1)
        reinit = best(lambda: fi.reinit(x, noise, host.prepare_noise(latent, fi.pass_seed(1, 1)), 0.07, 1.0,
                                        lpf, axes), 5)
        draw = best(lambda: host.prepare_noise(latent, 1), 5)
        rows.append({"benchmark": "one re-initialisation / drawing the noise (Wan 81f 480p latent)",
                     "ratio": reinit / draw,
                     "detail": f"{reinit * 1e3:.0f} ms vs {draw * 1e3:.0f} ms per pass, CPU one thread"})
    finally:
        torch.set_num_threads(threads)
    return rows


if __name__ == "__main__":
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    for row in run():
        print(f"{row['benchmark']:<72} {row['ratio']:8.3f}  {row['detail']}")
