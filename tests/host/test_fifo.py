"""FIFO-Diffusion inside the real ComfyUI: exactness against ComfyUI's own samplers, snapshot semantics,
determinism, batching, continuation, prompt schedules, constant memory, the 5D path, errors, cancel, progress."""
import gc

import pytest
import torch

import comfy.model_management
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


def per_frame_reference(model, layout, frames, seed, steps, eta, scheduler, prompts):
    """Plain sampling of each frame on its own (ComfyUI's euler / euler_ancestral through SamplerCustomAdvanced)
    from FIFO's noise of that frame, along the same levels; prompts[k] is frame k's conditioning."""
    five = layout == "video_5d"
    shape = (1, 16 if five else 4, SIZE, SIZE)
    sigmas = comfy.samplers.calculate_sigmas(host.model_sampling(model), scheduler, steps).float()
    outs = []
    for k, prompt in zip(frames, prompts):
        z = F.frame_noise(seed, F.ENTRY, k, 0, shape)
        z = z[:, :, None] if five else z

        def noise_sampler(sigma, sigma_next, k=k):
            level = steps - 1 - int((sigmas - sigma).abs().argmin())
            n = F.frame_noise(seed, F.STEP, k, level, shape)
            return n[:, :, None] if five else n
        kd = comfy.samplers.k_diffusion_sampling
        fn = kd.sample_euler_ancestral if eta else kd.sample_euler
        opts = {"eta": eta, "noise_sampler": noise_sampler} if eta else {}
        guider = result(ncs.CFGGuider.execute(model, prompt, NEG, 2.0))[0]
        out = result(ncs.SamplerCustomAdvanced.execute(FrameNoise(z), guider, comfy.samplers.KSAMPLER(fn, opts), sigmas,
                                                       {"samples": torch.zeros_like(z)}))[0]["samples"]
        outs.append(out)
    return torch.cat(outs, dim=2 if five else 0)


EXACT = [  # layout, parameterization, partitions, lookahead, eta, scheduler, windows_per_call
    ("frames_in_batch", "eps", 1, False, 0.0, "normal", 1),         # the paper's plain diagonal denoising
    ("frames_in_batch", "v_prediction", 2, True, 1.0, "normal", 3),
    ("frames_in_batch", "flow", 2, True, 1.0, "normal", 1),
    ("video_5d", "flow", 2, True, 1.0, "normal", 2),
    ("video_5d", "eps", 1, False, 0.5, "simple", 1),
]


@pytest.mark.parametrize("layout,par,n,lookahead,eta,scheduler,per_call", EXACT)
def test_frame_k_equals_plain_sampling_of_frame_k(layout, par, n, lookahead, eta, scheduler, per_call):
    """With frame-independent data (temporal correlation 0), every frame that entered the queue as noise comes
    out exactly as ordinary sampling of that frame alone from the same noise along the same sigma levels."""
    model = demo.demo_model(layout, par, rho=0.0)
    f, frames = 4, 9
    out = run(model, empty(layout), num_frames=frames, partitions=n, lookahead=lookahead, eta=eta,
              scheduler=scheduler, windows_per_call=per_call)
    new = list(range(f, frames))                                      # frames 0..f-1 re-make the base clip
    ref = per_frame_reference(model, layout, new, 3, f * n, eta, scheduler, [POS] * len(new))
    got = out[:, :, f:] if layout == "video_5d" else out[f:]
    assert torch.allclose(got, ref, atol=1e-4, rtol=1e-4), (got - ref).abs().max()


def test_prompt_schedule_reaches_its_absolute_frame():
    """Schedule change at frame 100: frame 99 is still made with prompt A, frame 100 already with B, exactly as
    sampling those frames alone with their own prompt, although their windows mix both prompts."""
    model = demo.demo_model("frames_in_batch", "eps", rho=0.0)
    a, b = [[demo.toy_embedding("blue ocean"), {}]], [[demo.toy_embedding("red fire"), {}]]
    schedule = result(fifo.FIFOPromptSchedule.execute(conditioning_1=a, from_frame_1=0, conditioning_2=b,
                                                      from_frame_2=100, from_frame_3=0, from_frame_4=0))[0]
    out = run(model, empty("frames_in_batch"), num_frames=102, partitions=1, lookahead=False,
              prompt_schedule=schedule, positive=NEG)
    frames = [98, 99, 100, 101]                                       # one window holds all four
    ref = per_frame_reference(model, "frames_in_batch", frames, 3, 4, 1.0, "normal", [a, a, b, b])
    assert torch.allclose(out[frames], ref, atol=1e-4, rtol=1e-4)
    other = per_frame_reference(model, "frames_in_batch", frames, 3, 4, 1.0, "normal", [b, b, a, a])
    assert (out[frames] - other).abs().amax((1, 2, 3)).min() > 0.1


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
