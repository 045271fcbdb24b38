"""FIFO-Diffusion inside the real ComfyUI: exactness against an independent FIFO written from the paper, on a
model whose frames interact; prompt schedules by absolute frame, snapshot semantics, determinism, batching,
continuation, constant memory, the 5D path, errors, cancel, progress."""
import gc
import math

import pytest
import torch

import comfy.model_management
import comfy.model_sampling
import comfy.samplers
import comfy.utils
from comfy.cli_args import LatentPreviewMethod, args
from comfy_extras import nodes_custom_sampler as ncs
from comfy_test_nodes import tiny_models
from host_utils import count_model_calls, ksampler, result

from training_free_video.nodes import demo, fifo, host
from tfv_core import fifo as F

POS = [[demo.toy_embedding("red sunset"), {}]]
NEG = [[demo.toy_embedding(""), {}]]
SIZE = 4  # latent pixels: small keeps the CPU tests fast


def empty(layout, frames=2, size=SIZE):
    shape = (1, 16, frames, size, size) if layout == "video_5d" else (frames, 4, size, size)
    return {"samples": torch.zeros(shape)}


def run(model, latent, **kw):
    args_ = dict(seed=3, num_frames=10, window_frames=4, partitions=2, lookahead=True, cfg=2.0, eta=1.0)
    args_.update(kw)
    pos, neg = args_.pop("positive", POS), args_.pop("negative", NEG)
    return fifo.fifo_sample(model, pos, neg, latent, **args_)["samples"]


class FrameNoise:
    """A NOISE object for SamplerCustomAdvanced: given per-frame noise instead of one seed's."""
    seed = 0

    def __init__(self, z):
        self.z = z

    def generate_noise(self, latent):
        return self.z


# An independent FIFO-Diffusion, written out from the paper (arXiv:2405.11473: diagonal denoising, latent
# partitioning, lookahead) and ../shared/specs/fifo.md (a.3, b.1) as a plain loop over the queue; it uses no
# arrangement code of nodes/core/fifo.py (only its frame-indexed noise, so both draw the same numbers).

def frames_to_latent(frames, layout):
    """[T, C, H, W] frames -> the latent of one video in `layout`."""
    return frames.movedim(0, 1)[None] if layout == "video_5d" else frames


def latent_to_frames(latent, layout):
    return latent[0].movedim(1, 0) if layout == "video_5d" else latent


def network_denoised(model, layout, x, sigma, context):
    """The model's denoised estimate of the frames x [f, C, H, W], frame i at its own noise level sigma[i]:
    frames in the batch take one sigma per batch row natively; a 5D network gets one timestep per frame [1, f]
    and each frame's input and output are scaled at its own sigma."""
    base = model.model
    ms = base.model_sampling
    if layout == "frames_in_batch":
        return base.apply_model(x, sigma, c_crossattn=context.repeat(len(x), 1, 1),
                                transformer_options={"sigmas": sigma})
    xc = ms.calculate_input(sigma, x)
    out = base.diffusion_model(frames_to_latent(xc, layout), ms.timestep(sigma)[None].float(), context=context,
                               transformer_options={})
    return ms.calculate_denoised(sigma, latent_to_frames(out, layout).float(), x)


def window_denoised(model, layout, x, sigma, prompts, negative, cfg):
    """CFG estimate of one window (uncond + cfg * (cond - uncond); cond alone at cfg 1); prompts[i] is frame i's
    conditioning. The window is run once per prompt among its frames and each frame keeps the estimate made with
    its own prompt."""
    uncond = network_denoised(model, layout, x, sigma, negative[0][0]) if cfg != 1 else 0
    out = torch.empty_like(x)
    for prompt in {id(p): p for p in prompts}.values():
        cond = network_denoised(model, layout, x, sigma, prompt[0][0])
        d = uncond + cfg * (cond - uncond) if cfg != 1 else cond
        for i, p in enumerate(prompts):
            if p is prompt:
                out[i] = d[i]
    return out


def ddim_step(x, d, sigma, sigma_next, eta, z, flow):
    """The paper's DDIM(eta) step of one frame in sigma space: k-diffusion's ancestral Euler step (spec a.4), or
    for flow models ComfyUI's rectified-flow ancestral step; the last step lands on the denoised estimate."""
    if sigma_next == 0:
        return d
    if flow:
        down = sigma_next * (1 + (sigma_next / sigma - 1) * eta)
        x = down / sigma * x + (1 - down / sigma) * d
        if eta == 0:
            return x
        renoise = (sigma_next ** 2 - down ** 2 * (1 - sigma_next) ** 2 / (1 - down) ** 2) ** 0.5
        return (1 - sigma_next) / (1 - down) * x + renoise * z
    up = min(sigma_next, eta * sigma_next * (sigma ** 2 - sigma_next ** 2) ** 0.5 / sigma)
    down = (sigma_next ** 2 - up ** 2) ** 0.5
    return d + down * (x - d) / sigma + (up * z if up > 0 else 0)


def base_clip(model, layout, shape, seed, f, eta, sigmas, prompt, negative, cfg):
    """Spec b.1: an f-frame clip sampled by ComfyUI's own euler / euler_ancestral (SamplerCustomAdvanced) from
    the frame-indexed base noise; returned as model-space frames [f, C, H, W]."""
    z = frames_to_latent(torch.stack([F.frame_noise(seed, F.BASE_ENTRY, k, 0, shape) for k in range(f)]), layout)

    def noise_sampler(sigma, sigma_next):
        i = int((sigmas - sigma).abs().argmin())
        return frames_to_latent(torch.stack([F.frame_noise(seed, F.BASE_STEP, k, i, shape) for k in range(f)]),
                                layout)
    kd = comfy.samplers.k_diffusion_sampling
    sampler = (comfy.samplers.KSAMPLER(kd.sample_euler_ancestral, {"eta": eta, "noise_sampler": noise_sampler})
               if eta else comfy.samplers.KSAMPLER(kd.sample_euler))
    guider = result(ncs.CFGGuider.execute(model, prompt, negative, cfg))[0]
    out = result(ncs.SamplerCustomAdvanced.execute(FrameNoise(z), guider, sampler, sigmas,
                                                   {"samples": torch.zeros_like(z)}))[0]["samples"]
    return latent_to_frames(model.model.latent_format.process_in(out), layout)


def fifo_reference(model, layout, num_frames, f, n, lookahead, eta, prompt_of, negative=NEG, size=SIZE, seed=3,
                   cfg=2.0, scheduler="normal", given=None, keep_given=True, marked=lambda prompt: False):
    """FIFO-Diffusion's output latent and, per output frame, whether its value can depend on the prompts for which
    marked(prompt) is true (a frame depends on them once it is updated with such a prompt or from a window whose
    input depends on them).

    The queue holds N = f*n frames; slot j (0 = head) is at level lv[j] = sigmas[N-1-j] and every iteration steps
    it to lv[j-1] (the head to 0). The model sees windows of f slots with one sigma per frame: without lookahead
    the n partitions [k*f, (k+1)*f), each updated whole; with lookahead f/2 clean frames (the last ones dequeued,
    labelled sigma_min) sit before the head and 2n windows start every f/2 slots, each updating its second half.
    All windows read the queue as it was before the iteration. Then the clean head leaves and noise enters.
    Generate (given None): the queue starts as the base clip forward-noised, frames before 0 being copies of its
    first frame, and the N - f warm-up frames are dropped. Continue (given: a latent of G frames): the queue starts
    at frame G - N and every slot that holds a given frame is set to it, forward-noised to the slot's level, before
    each iteration; the output is the given frames (keep_given) and then the new ones."""
    ms = model.get_model_object("model_sampling")
    fmt = model.model.latent_format
    flow = isinstance(ms, comfy.model_sampling.CONST)
    big_n = f * n
    sigmas = comfy.samplers.calculate_sigmas(ms, scheduler, big_n).float()
    lv = [sigmas[big_n - 1 - j] for j in range(big_n)]
    pre = f // 2 if lookahead else 0
    level = [ms.sigma_min.float()] * pre + lv                           # the model's label of each slot
    goal = [None] * pre + [torch.tensor(0.0)] + lv[:-1]                # the level each slot steps to
    if lookahead:
        wins = [(r * f // 2, r * f // 2 + f, r * f // 2 + f // 2) for r in range(2 * n)]
    else:
        wins = [(k * f, (k + 1) * f, k * f) for k in range(n)]
    assert sorted(e for _, stop, upd in wins for e in range(upd, stop)) == list(range(pre, pre + big_n))
    top = float(sigmas[0]) > float(ms.sigma_max) or math.isclose(float(sigmas[0]), float(ms.sigma_max), rel_tol=1e-5)
    shape = (16 if layout == "video_5d" else 4, size, size)

    def noise(stream, s, j=0):
        return F.frame_noise(seed, stream, s, j, shape)

    def prompt(s):
        return prompt_of(max(s, 0))                                    # warm-up copies: frame 0's

    if given is None:
        src = base_clip(model, layout, shape, seed, f, eta, sigmas, prompt(0), negative, cfg)
        count, head, first_out = 0, f - big_n, 0
    else:
        src = latent_to_frames(fmt.process_in(given), layout)
        count = len(src)
        head, first_out = count - big_n, 0 if keep_given else count

    def frame(t, e):                                                   # the frame in slot e at iteration t
        return head + t + e - pre

    def source(t, e):                                                  # a known frame, forward-noised to its slot
        s = frame(t, e)
        x0 = src[min(max(s, 0), len(src) - 1)]
        return x0.clone() if e < pre else ms.noise_scaling(level[e], noise(F.ENTRY, s), x0)

    queue, dep = [source(0, e) for e in range(pre + big_n)], [False] * (pre + big_n)
    out, out_dep = [None] * (first_out + num_frames - count), [False] * num_frames
    for t in range(first_out + num_frames - head):
        for e in range(pre + big_n):
            if given is not None and frame(t, e) < count:
                queue[e], dep[e] = source(t, e), False
        snap, snap_dep = [q.clone() for q in queue], list(dep)
        for start, stop, update in wins:
            ids = [frame(t, e) for e in range(start, stop)]
            prompts = [prompt(s) for s in ids]
            d = window_denoised(model, layout, torch.stack(snap[start:stop]), torch.stack(level[start:stop]),
                                prompts, negative, cfg)
            for e in range(update, stop):
                z = noise(F.STEP, ids[e - start], e - pre) if eta else None
                queue[e] = ddim_step(snap[e], d[e - start], level[e], goal[e], eta, z, flow)
                dep[e] = any(snap_dep[start:stop]) or marked(prompts[e - start])
        s = frame(t, pre)
        if s >= count and 0 <= s - first_out < num_frames:
            out[s - count], out_dep[s - first_out] = queue[pre], dep[pre]
        tail = noise(F.ENTRY, frame(t + 1, pre + big_n - 1))
        queue = queue[1:] + [ms.noise_scaling(lv[-1], tail, torch.zeros_like(tail), top)]
        dep = dep[1:] + [False]
    new = fmt.process_out(frames_to_latent(torch.stack(out), layout))
    if given is None or not keep_given:
        return new, out_dep
    return torch.cat([given, new], dim=2 if layout == "video_5d" else 0), out_dep    # given frames unchanged


REFERENCE = [  # layout, parameterization, partitions, lookahead, eta, scheduler, windows_per_call
    ("frames_in_batch", "eps", 2, False, 0.0, "normal", 1),         # diagonal denoising + latent partitioning
    ("frames_in_batch", "eps", 2, True, 1.0, "normal", 1),          # + lookahead, the paper's eta
    ("frames_in_batch", "v_prediction", 3, True, 0.5, "normal", 6),  # all six windows in one call
    ("frames_in_batch", "flow", 2, True, 1.0, "simple", 3),
    ("frames_in_batch", "eps", 1, True, 1.0, "normal", 1),
    ("video_5d", "flow", 2, True, 1.0, "normal", 2),
    ("video_5d", "flow", 2, False, 0.5, "normal", 1),
    ("video_5d", "eps", 1, False, 0.5, "simple", 1),
]


@pytest.mark.parametrize("layout,par,n,lookahead,eta,scheduler,per_call", REFERENCE)
def test_equals_an_independent_fifo_on_a_model_whose_frames_interact(layout, par, n, lookahead, eta, scheduler,
                                                                      per_call):
    """Temporal correlation 0.9: each frame's denoised estimate depends on every frame of its window, so a window
    arrangement that differs from the paper's (frame order, per-slot levels, window offsets, partition and
    lookahead halves, the prefix, the queue shift) changes the output."""
    model = demo.demo_model(layout, par, rho=0.9)
    f, frames = 4, 10
    out = run(model, empty(layout), num_frames=frames, partitions=n, lookahead=lookahead, eta=eta,
              scheduler=scheduler, windows_per_call=per_call)
    ref, _ = fifo_reference(model, layout, frames, f, n, lookahead, eta, lambda s: POS, scheduler=scheduler)
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, atol=5e-5, rtol=0), (out - ref).abs().max()


def test_equals_the_independent_fifo_on_a_network_that_knows_frame_order():
    """The analytic prior is time-symmetric (correlation rho^|i-j|), so it cannot tell a window from the same
    window reversed with its levels; the tiny SD-style UNet with temporal layers (seeded random weights) can."""
    model = tiny_models.tiny_animatediff(0)
    pos, neg = (tiny_models.conditioning(tiny_models.UNET_CONTEXT_DIM, s) for s in (1, 2))
    out = run(model, empty("frames_in_batch"), num_frames=3, partitions=1, cfg=1.0, positive=pos, negative=neg)
    ref, _ = fifo_reference(model, "frames_in_batch", 3, 4, 1, True, 1.0, lambda s: pos, negative=neg, cfg=1.0)
    assert torch.allclose(out, ref, atol=5e-5, rtol=1e-5), (out - ref).abs().max()


CONTINUE = [  # layout, parameterization, partitions, lookahead, keep_given_frames, given frames
    ("frames_in_batch", "eps", 2, True, True, 5),                   # fewer given frames than queue slots
    ("frames_in_batch", "v_prediction", 1, False, False, 6),
    ("video_5d", "flow", 1, True, True, 7),
]


@pytest.mark.parametrize("layout,par,n,lookahead,keep,count", CONTINUE)
def test_continue_equals_the_independent_fifo(layout, par, n, lookahead, keep, count):
    """Continue: the given frames fill the queue and stay pinned (forward-noised to each slot's level) while new
    frames are made next to them, frames interacting (rho 0.9)."""
    model = demo.demo_model(layout, par, rho=0.9)
    given = torch.randn(empty(layout, frames=count)["samples"].shape, generator=torch.Generator().manual_seed(0))
    frames = count + 4 if keep else 4
    out = run(model, {"samples": given}, start="continue", num_frames=frames, partitions=n, lookahead=lookahead,
              keep_given_frames=keep)
    ref, _ = fifo_reference(model, layout, frames, 4, n, lookahead, 1.0, lambda s: POS, given=given,
                            keep_given=keep)
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, atol=5e-5, rtol=0), (out - ref).abs().max()


@pytest.mark.parametrize("layout,par,lookahead", [("frames_in_batch", "eps", True), ("frames_in_batch", "eps", False),
                                                 ("video_5d", "flow", True)])
def test_prompt_schedule_reaches_its_absolute_frame(layout, par, lookahead):
    """Prompt B from absolute frame 11 on (past the first queue), frames interacting (rho 0.9): the output equals
    the independent FIFO with B on frames 11.. and not with B from 10 or 12 on. Frames before 11 equal the run
    without the change bit for bit where the paper's windows keep B out of their reach, and differ where a window
    mixes B's frames into theirs."""
    model = demo.demo_model(layout, par, rho=0.9)
    a, b = [[demo.toy_embedding("blue ocean"), {}]], [[demo.toy_embedding("red fire"), {}]]
    k, frames, n = 11, 13, 2
    schedule = result(fifo.FIFOPromptSchedule.execute(conditioning_1=a, from_frame_1=0, conditioning_2=b,
                                                      from_frame_2=k, from_frame_3=0, from_frame_4=0))[0]
    kw = dict(num_frames=frames, partitions=n, lookahead=lookahead)
    out = run(model, empty(layout), prompt_schedule=schedule, positive=NEG, **kw)

    def reference(change):
        return fifo_reference(model, layout, frames, 4, n, lookahead, 1.0, lambda s: b if s >= change else a,
                              marked=lambda p: p is b)
    ref, reached = reference(k)
    assert torch.allclose(out, ref, atol=5e-5, rtol=0), (out - ref).abs().max()
    out = latent_to_frames(out, layout)
    assert (out[k] - latent_to_frames(reference(k + 1)[0], layout)[k]).abs().max() > 0.1          # B reaches k
    assert (out[k - 1] - latent_to_frames(reference(k - 1)[0], layout)[k - 1]).abs().max() > 0.1  # not k - 1

    plain = latent_to_frames(run(model, empty(layout), positive=a, **kw), layout)
    change = (out - plain).abs().amax((1, 2, 3))
    kept = [s for s in range(k) if not reached[s]]
    assert all(reached[k:]) and kept and kept == list(range(len(kept))) and len(kept) < k - 1
    assert torch.equal(out[kept], plain[kept])
    assert (change[len(kept):k] > 0).all() and change[k - 1] > 1e-2


def test_schedule_node_orders_entries_and_later_wins():
    a, b, c = ([[demo.toy_embedding(w), {}]] for w in ("a", "b", "c"))
    first = result(fifo.FIFOPromptSchedule.execute(conditioning_1=a, from_frame_1=50, conditioning_2=b,
                                                   from_frame_2=10, from_frame_3=0, from_frame_4=0))[0]
    chained = result(fifo.FIFOPromptSchedule.execute(previous=first, conditioning_1=c, from_frame_1=50,
                                                     from_frame_2=0, from_frame_3=0, from_frame_4=0))[0]
    assert [s for s, _ in chained] == [10, 50, 50]
    starts = [s for s, _ in chained]
    assert chained[F.schedule_index(starts, 60) - 1][1] is c and chained[F.schedule_index(starts, 20) - 1][1] is b


def test_window_order_cannot_change_the_result():
    """Snapshot semantics: with lookahead the windows overlap, yet reversing their order changes nothing."""
    model = demo.demo_model("frames_in_batch", "eps", rho=0.9)
    forward = run(model, empty("frames_in_batch"), num_frames=8, partitions=2)
    backward = run(model, empty("frames_in_batch"), num_frames=8, partitions=2, window_order=lambda ws: ws[::-1])
    assert torch.equal(forward, backward)


@pytest.mark.parametrize("layout", ["frames_in_batch", "video_5d"])
def test_deterministic_and_independent_of_window_batching_and_length(layout):
    model = demo.demo_model(layout, "eps" if layout == "frames_in_batch" else "flow", rho=0.9)
    n = 2 if layout == "frames_in_batch" else 1
    base = run(model, empty(layout), num_frames=7, partitions=n)
    longer = run(model, empty(layout), num_frames=9, partitions=n)    # same frames: frame k depends on seed and k
    assert torch.equal(longer[:, :, :7] if layout == "video_5d" else longer[:7], base)
    assert torch.allclose(base, run(model, empty(layout), num_frames=7, partitions=n, windows_per_call=4), atol=1e-5)
    other = run(model, empty(layout), num_frames=1, partitions=n, seed=4)
    assert not torch.allclose(base[:, :, :1] if layout == "video_5d" else base[:1], other)


def test_continue_keeps_the_given_frames_and_extends_them():
    model = demo.demo_model("frames_in_batch", "eps", rho=0.95, ell=1.0)
    fmt = model.model.latent_format
    given = ksampler(model, torch.zeros(6, 4, 8, 8), POS, POS, seed=5, steps=12, cfg=1.0)
    kw = dict(start="continue", cfg=1.0, positive=POS, partitions=1)
    kept = run(model, {"samples": given}, num_frames=10, **kw)
    assert torch.equal(kept[:6], given)                                # unchanged, bit for bit
    dropped = run(model, {"samples": given}, num_frames=4, keep_given_frames=False, **kw)
    assert torch.equal(dropped, kept[6:])                              # same new frames either way

    def corr(a, b):
        a, b = a - a.mean(), b - b.mean()
        return float((a * b).sum() / (a.norm() * b.norm()))
    z = fmt.process_in(kept)
    assert corr(z[5], z[6]) > 0.8                                     # the seam is as smooth as the data (0.95)
    unrelated = fmt.process_in(ksampler(model, torch.zeros(1, 4, 8, 8), POS, POS, seed=9, steps=12, cfg=1.0))
    assert abs(corr(unrelated[0], z[6])) < 0.3


def test_memory_does_not_grow_with_the_output_length():
    """Instrumented: the sampler's buffers, and every live tensor the size of latent frames (found by the garbage
    collector after each iteration), are the same for 8 and 40 output frames; only the output grows."""
    model = demo.demo_model("frames_in_batch", "eps", rho=0.9)
    frame = 4 * SIZE * SIZE

    def measure(frames):
        seen = []

        def probe(r, t):
            if t % 6 and t != r.plan.iterations - 1:
                return
            gc.collect()
            storages = {}
            for o in gc.get_objects():
                if isinstance(o, torch.Tensor) and o.numel() >= frame and o.numel() % frame == 0:
                    st = o.untyped_storage()
                    if st.data_ptr() != r.out.untyped_storage().data_ptr():
                        storages[st.data_ptr()] = st.nbytes()
            seen.append((len(storages), sum(storages.values()), tuple(r.q.shape), tuple(r.x.shape)))
        run(model, empty("frames_in_batch"), num_frames=frames, partitions=1, probe=probe)
        return seen
    short, long = measure(6), measure(30)
    assert len(long) > 2 * len(short)
    assert max(short) == max(long)
    assert short[-1][2] == (1, 2 + 4, 4, SIZE, SIZE)                   # queue: f/2 prefix + f*n slots


def test_5d_wan_gets_one_timestep_per_frame():
    """The tiny Wan 2.1 DiT through the DIFFUSION_MODEL wrapper: [B, T] timesteps equal to each frame's level."""
    model = tiny_models.tiny_wan()
    dm = model.model.diffusion_model
    seen = []
    original = dm.forward_orig

    def recording(x, t, *a, **kw):
        seen.append(t.clone())
        return original(x, t, *a, **kw)
    dm.forward_orig = recording
    try:
        ctx = tiny_models.conditioning(tiny_models.WAN_TEXT_DIM, 1)
        out = run(model, empty("video_5d"), num_frames=5, partitions=1, cfg=1.0, windows_per_call=2, positive=ctx,
                  negative=ctx)
    finally:
        del dm.forward_orig
    assert out.shape == (1, 16, 5, SIZE, SIZE) and torch.isfinite(out).all()
    ms = host.model_sampling(model)
    levels = comfy.samplers.calculate_sigmas(ms, "normal", 4).float()
    fifo_calls = seen[4:]                                              # after the 4 base-clip steps
    assert all(t.shape == (2, 4) for t in fifo_calls)                  # 2 windows per call, 4 frames each
    allowed = torch.cat([levels[:-1], ms.sigma_min[None]]) * 1000
    for t in fifo_calls:
        assert (t[:, :, None] - allowed).abs().amin(-1).max() < 1e-2  # each frame at its own level
        assert (t[:, 1:] >= t[:, :-1]).all() and (t[:, -1] > t[:, 0]).all()


def test_frames_in_batch_tiny_animatediff_runs_and_batching_does_not_change_it():
    """The tiny SD-style UNet with temporal layers (reads the clip length as batch / chunks)."""
    model = tiny_models.tiny_animatediff(0)
    ctx = tiny_models.conditioning(tiny_models.UNET_CONTEXT_DIM, 1)
    kw = dict(num_frames=1, window_frames=2, partitions=1, cfg=1.0, positive=ctx, negative=ctx)
    one = run(model, empty("frames_in_batch", size=8), **kw)
    assert one.shape == (1, 4, 8, 8) and torch.isfinite(one).all()
    assert torch.allclose(one, run(model, empty("frames_in_batch", size=8), windows_per_call=2, **kw), atol=1e-4)


BAD = [
    ("image latent", lambda: demo.demo_model(), {"samples": torch.zeros(1, 4, 8, 8)}, {}, "image latent"),
    ("5D latent, frames model", lambda: demo.demo_model(), empty("video_5d"), {}, "works on frames in the batch"),
    ("frames latent, Wan", tiny_models.tiny_wan, {"samples": torch.zeros(4, 16, 8, 8)}, {}, "makes 5D video latents"),
    ("window 1", lambda: demo.demo_model(), empty("frames_in_batch"), {"window_frames": 1}, "at least 2"),
    ("partitions 0", lambda: demo.demo_model(), empty("frames_in_batch"), {"partitions": 0}, "partitions"),
    ("continue empty", lambda: demo.demo_model(), empty("frames_in_batch"), {"start": "continue"}, "latent is empty"),
    ("generate video", lambda: demo.demo_model(), {"samples": torch.ones(4, 4, 8, 8)}, {}, "not empty"),
    ("keep too few", lambda: demo.demo_model(), {"samples": torch.ones(12, 4, 8, 8)},
     {"start": "continue", "num_frames": 12}, "more than 12"),
    ("mask", lambda: demo.demo_model(), dict(empty("frames_in_batch"), noise_mask=torch.ones(1, SIZE, SIZE)), {},
     "noise mask"),
]


@pytest.mark.parametrize("name,make,latent,kw,message", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_fail_before_any_work(name, make, latent, kw, message):
    model, counter = count_model_calls(make())
    with pytest.raises(host.NodeInputError, match=message) as e:
        run(model, latent, **kw)
    assert fifo.NODE in str(e.value) and counter["calls"] == 0


def test_unsupported_5d_model_is_refused():
    model = demo.demo_model("video_5d", "flow")
    model.model.diffusion_model = torch.nn.Identity()                  # a 5D net without per-frame timesteps
    with pytest.raises(host.NodeInputError, match="one timestep per video"):
        run(model, empty("video_5d"))


def test_cancel_stops_within_a_step():
    model, counter = count_model_calls(demo.demo_model("frames_in_batch", "eps"))
    inner = model.get_wrappers("apply_model", "tfv_test_counter")[0]

    def interrupting(executor, *a, **kw):
        comfy.model_management.interrupt_current_processing(True)
        return inner(executor, *a, **kw)
    model.remove_wrappers_with_key("apply_model", "tfv_test_counter")
    model.add_wrapper_with_key("apply_model", "tfv_test_counter", interrupting)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            run(model, empty("frames_in_batch"), cfg=1.0)
    finally:
        comfy.model_management.interrupt_current_processing(False)
    assert counter["calls"] == 1                                       # the next window's call never started


def test_progress_counts_frames_and_sends_previews(monkeypatch):
    updates = []
    monkeypatch.setattr(comfy.utils, "PROGRESS_BAR_HOOK", lambda v, t, p, node_id=None: updates.append((v, t, p)))
    monkeypatch.setattr(args, "preview_method", LatentPreviewMethod.Latent2RGB)
    run(demo.demo_model("frames_in_batch", "eps"), empty("frames_in_batch"), num_frames=6, partitions=1)
    plan = F.Plan(4, 1, True, F.GENERATE, 6, 0, True)
    total = plan.steps + plan.iterations
    assert [u[0] for u in updates] == list(range(1, total + 1)) and {u[1] for u in updates} == {total}
    assert all(u[2] is not None for u in updates[plan.steps:])        # each dequeued frame is previewed


def test_node_contract():
    schema = fifo.FIFOSampler.define_schema()
    names = [i.id for i in schema.inputs]
    for name in ("num_frames", "window_frames", "partitions", "lookahead", "windows_per_call", "seed", "cfg", "eta",
                 "start", "keep_given_frames", "prompt_schedule"):
        assert name in names
    defaults = {i.id: getattr(i, "default", None) for i in schema.inputs}
    assert (defaults["window_frames"], defaults["partitions"], defaults["lookahead"]) == (16, 4, True)
    assert schema.node_id == "TFV_FIFOSampler" and schema.display_name == "FIFO-Diffusion Sampler"
    assert schema.category == "training-free-video/fifo"
    assert fifo.FIFOPromptSchedule.define_schema().node_id == "TFV_FIFOPromptSchedule"
    out = result(fifo.FIFOSampler.execute(demo.demo_model(), POS, NEG, empty("frames_in_batch"), 1, 5, 4, 1, False, 1,
                                          1.0, 0.0, "normal", "generate", True))[0]
    assert out["samples"].shape == (5, 4, SIZE, SIZE)


@pytest.mark.parametrize("lookahead,per_call,start", [(True, 3, "generate"), (False, 1, "continue")])
@pytest.mark.parametrize("cfg", [1.0, 2.0])
def test_model_calls_match_the_cost_shown_to_the_user(lookahead, per_call, start, cfg):
    """Counted network calls and frames through the network equal core.fifo.cost (the node UI's formula)."""
    model, counter = count_model_calls(demo.demo_model("frames_in_batch", "eps"))
    latent = empty("frames_in_batch") if start == "generate" else {"samples": torch.ones(3, 4, SIZE, SIZE)}
    frames = 6
    run(model, latent, num_frames=frames, lookahead=lookahead, windows_per_call=per_call, start=start, cfg=cfg,
        keep_given_frames=False)
    c = F.cost(4, 2, lookahead, per_call, cfg=cfg != 1, start=start)
    iterations = frames + c["warmup_iterations"]
    assert counter["calls"] == c["base_calls"] + iterations * c["calls_per_frame"]
    base_frames = c["base_calls"] * 4 * (2 if cfg != 1 else 1)        # f frames per base call, cond + uncond
    assert counter["batch"] == base_frames + iterations * c["frame_evals_per_frame"]


@pytest.mark.parametrize("layout", ["frames_in_batch", "video_5d"])
def test_an_output_that_cannot_fit_is_refused_before_any_work(monkeypatch, layout):
    """The limit is set to the working buffers plus 6 output frames: 6 frames run, 7 are refused with the figures."""
    model, counter = count_model_calls(demo.demo_model(layout, "flow" if layout == "video_5d" else "eps"))
    lat = empty(layout)
    per_frame = lat["samples"].numel() // 2 * 4                        # float32, one frame
    working = F.memory(4, 2, True, 1, 7, 0, per_frame, per_frame, cfg=True)["working"]
    monkeypatch.setattr(host, "memory_limit", lambda device: working + 6 * per_frame)
    with pytest.raises(host.NodeInputError) as e:
        run(model, lat, num_frames=7)
    text = str(e.value)
    assert text.startswith(f"[{fifo.NODE}] num_frames: 7 frames of [") and "lower num_frames (at most 6 fit" in text
    assert F.size_text(7 * per_frame) in text and "the queue does not" in text
    assert counter["calls"] == 0
    assert run(model, lat, num_frames=6).shape[2 if layout == "video_5d" else 0] == 6
    assert counter["calls"] > 0


def test_a_million_frames_of_a_large_latent_are_refused_with_the_figure():
    """The declared maximum num_frames at 4096 px: terabytes, refused before the output is allocated."""
    model, counter = count_model_calls(demo.demo_model())
    with pytest.raises(host.NodeInputError, match=r"num_frames: 1000000 frames of \[4, 512, 512\] latents need "
                                                  r"3\.8 TB for the output"):
        run(model, {"samples": torch.zeros(2, 4, 512, 512)}, num_frames=1000000)
    assert counter["calls"] == 0
