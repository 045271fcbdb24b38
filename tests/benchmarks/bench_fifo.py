"""FIFO-Diffusion benchmark on the tiny Wan 2.1 DiT (5D, CPU): peak memory against output length (flat apart from
the output latent), and time per output frame against its model-call floor, with and without lookahead and
window batching. Ratios measured in one run."""
import ctypes
import time

import torch

WINDOW, PARTITIONS, SIZE = 4, 2, 8


class _MallInfo(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]


def _heap() -> int:
    """Bytes allocated on the C heap now (glibc mallinfo2: torch's CPU tensors live there)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def _setup():
    import testenv
    testenv.load_host()
    from comfy_test_nodes import tiny_models
    from training_free_video.nodes import fifo
    model = tiny_models.tiny_wan()
    ctx = tiny_models.conditioning(tiny_models.WAN_TEXT_DIM, 1)
    return fifo, model, ctx


def _fifo(fifo, model, ctx, frames, size=SIZE, probe=None, **kw):
    latent = {"samples": torch.zeros(1, 16, 2, size, size)}
    kw = dict(dict(num_frames=frames, window_frames=WINDOW, partitions=PARTITIONS, cfg=1.0, eta=1.0), **kw)
    return fifo.fifo_sample(model, ctx, ctx, latent, probe=probe, **kw)["samples"]


def memory_rows(fifo, model, ctx):
    """Peak heap above the level before the run, sampled after every transformer block and every iteration,
    minus the output latent, at 64, 256 and 1024 output frames (16 x 16 latents, f = 2, n = 1)."""
    size, frame_bytes = 16, 16 * 16 * 16 * 4
    seen = {}

    def sample(*_):
        seen["peak"] = max(seen["peak"], _heap() - seen["before"])
    hooks = [b.register_forward_hook(sample) for b in model.model.diffusion_model.blocks]
    peaks = {}
    try:
        for frames in (8, 64, 256, 1024):                              # the first run warms the allocator
            seen.update(before=_heap(), peak=0)
            _fifo(fifo, model, ctx, frames, size, probe=sample, window_frames=2, partitions=1, lookahead=False)
            peaks[frames] = seen["peak"] - frames * frame_bytes
    finally:
        for h in hooks:
            h.remove()
    rows = []
    for frames in (256, 1024):
        rows.append({"benchmark": f"fifo peak memory {frames} / 64 frames (without output)",
                     "ratio": round(peaks[frames] / peaks[64], 3),
                     "detail": f"peak heap above start minus output: {peaks[frames] / 2**20:.2f} MiB vs "
                               f"{peaks[64] / 2**20:.2f} MiB; output {frames * frame_bytes / 2**20:.1f} MiB"})
    return rows


def speed_rows(fifo, model, ctx):
    """Time per output frame (one queue iteration: one frame out) over the floor, the time spent inside its
    model calls; medians over the iterations of a 24-frame run, so load spikes on a shared machine drop out."""
    import statistics
    from host_utils import count_model_calls
    from tfv_core import fifo as F
    timed_model, inside = count_model_calls(model)
    rows, per_frame = [], {}
    for lookahead in (False, True):
        windows = 2 * PARTITIONS if lookahead else PARTITIONS
        for per_call in (1, windows):
            its = []

            def probe(run, t):
                now = time.perf_counter()
                its.append((now - inside["t0"], inside["seconds"], inside["calls"]))
                inside.update(t0=now, seconds=0.0, calls=0)
            inside.update(t0=time.perf_counter(), seconds=0.0, calls=0)
            _fifo(fifo, timed_model, ctx, 24, probe=probe, lookahead=lookahead, windows_per_call=per_call)
            its = its[1:]                                              # the first one includes the base clip
            expected = F.cost(WINDOW, PARTITIONS, lookahead, per_call, cfg=False)["calls_per_frame"]
            assert all(calls == expected for _, _, calls in its), (its, expected)
            wall = statistics.median(w for w, _, _ in its)
            ratio = statistics.median(w / m for w, m, _ in its)
            per_frame[(lookahead, per_call)] = wall
            rows.append({"benchmark": f"fifo time/frame over model time (lookahead {'on' if lookahead else 'off'}, "
                                      f"{per_call} window(s)/call)",
                         "ratio": round(ratio, 3),
                         "detail": f"{wall * 1000:.1f} ms per frame (median), {expected} model calls per frame"})
    for lookahead in (False, True):
        windows = 2 * PARTITIONS if lookahead else PARTITIONS
        rows.append({"benchmark": f"fifo speed-up from window batching (lookahead {'on' if lookahead else 'off'})",
                     "ratio": round(per_frame[(lookahead, 1)] / per_frame[(lookahead, windows)], 3),
                     "detail": f"time per frame, 1 window per call / all {windows} windows in one call"})
    rows.append({"benchmark": "fifo lookahead cost (time per frame on / off, 1 window per call)",
                 "ratio": round(per_frame[(True, 1)] / per_frame[(False, 1)], 3),
                 "detail": "lookahead doubles the model calls (2n windows instead of n)"})
    return rows


def run() -> list[dict]:
    fifo, model, ctx = _setup()
    with torch.inference_mode():
        return memory_rows(fifo, model, ctx) + speed_rows(fifo, model, ctx)


if __name__ == "__main__":
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    for row in run():
        print(f"{row['benchmark']:<80} {row['ratio']:>8}  {row['detail']}")
