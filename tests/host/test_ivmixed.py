"""IV-Mixed Guider inside the real ComfyUI host: tiny real models through SamplerCustomAdvanced's own code."""
import pytest
import torch
from einops import rearrange

import comfy.model_management
import comfy.model_sampling
import comfy.patcher_extension as pe
import comfy.samplers
import comfy.utils
from comfy_extras import nodes_custom_sampler as ncs
from comfy_test_nodes import tiny_models as tm
from host_utils import count_model_calls, custom_advanced, empty_video, result

from training_free_video.nodes import host, ivmixed

FRAMES = 4
SIGMAS = torch.tensor([8.0, 5.0, 3.0, 1.0, 0.0])  # uneven steps; step 2 mixes with s2 = 0 -> sigma_min


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models on a shared 2-core machine: one thread is several times faster."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def conds():
    d = tm.UNET_CONTEXT_DIM
    return {k: tm.conditioning(d, seed) for k, seed in (("vp", 1), ("vn", 2), ("ip", 3), ("in", 4))}


@pytest.fixture(scope="module")
def models():
    return tm.tiny_animatediff(0), tm.tiny_animatediff(1)


def make_guider(vdm, idm, c, **kw):
    args = dict(cfg=3.0, omega_image=4.0, omega_video=4.0, start_percent=0.0, end_percent=1.0,
                video_in_image_slot_every=0, variant="IVIV", timestep_labels="coherent")
    args.update(kw)
    return result(ivmixed.IVMixedGuiderNode.execute(vdm, c["vp"], c["vn"], idm, c["ip"], c["in"], **args))[0]


def sample(vdm, idm, c, latent=None, sigmas=SIGMAS, seed=0, sampler="euler", **kw):
    latent = empty_video("fib", FRAMES) if latent is None else latent
    sampler = result(ncs.KSamplerSelect.execute(sampler))[0]
    return custom_advanced(vdm, latent, None, None, seed=seed, sampler=sampler, sigmas=sigmas,
                           guider=make_guider(vdm, idm, c, **kw))


def plain(vdm, c, latent=None, sigmas=SIGMAS, seed=0, cfg=3.0):
    latent = empty_video("fib", FRAMES) if latent is None else latent
    return custom_advanced(vdm, latent, c["vp"], c["vn"], seed=seed, cfg=cfg, sigmas=sigmas)


def close(a, b, tol=1e-5):
    """Max abs difference within tol of the reference's scale."""
    return float((a - b).abs().max()) <= tol * float(b.abs().max())


# ---------------------------------------------------------------- an independent reference of spec A.3

def ref_denoise(base, pos, neg, x, s, w):
    """d_u + w (d_c - d_u) straight from BaseModel.apply_model, cond and uncond as one batch of two videos."""
    n = x.shape[0]
    ctx = torch.cat([pos[0][0].expand(n, -1, -1), neg[0][0].expand(n, -1, -1)])
    out = base.apply_model(torch.cat([x, x]), torch.full((2 * n,), float(s)), c_crossattn=ctx,
                           transformer_options={"cond_or_uncond": [0, 1]})
    dc, du = out.chunk(2)
    return du + w * (dc - du)


def ref_move_vp(m, z, s_read, s_write, w):
    """Spec A.3 `move`: one DDIM / DDIM-inversion step on the VP latent z = x / sqrt(1 + s^2)."""
    x_in = z * (1 + s_read ** 2) ** 0.5
    d = ref_denoise(*m, x_in, s_read, w)
    e = (x_in - d) / s_read
    return (d + s_write * e) / (1 + s_write ** 2) ** 0.5


# (model, read, write, sign) per sub-step, written out by hand from the spec for each variant and label mode
REF_MOVES = {
    ("IVIV", "coherent"): [("I", 0, 1, 1), ("V", 1, 2, 1), ("I", 2, 1, -1), ("V", 1, 0, -1)],
    ("IVIV", "official_animatediff"): [("I", 1, 2, 1), ("V", 0, 1, 1), ("I", 2, 1, -1), ("V", 1, 0, -1)],
    ("IIVV", "coherent"): [("I", 0, 1, 1), ("I", 1, 0, -1), ("V", 0, 1, 1), ("V", 1, 0, -1)],
    ("IIVV", "official_animatediff"): [("I", 1, 2, 1), ("I", 2, 1, -1), ("V", 0, 1, 1), ("V", 1, 0, -1)],
}


@torch.no_grad()
def reference_eps(vdm, idm, c, sigmas, seed, cfg, wi, wv, variant, labels, every=0):
    """Spec A.3's loop with an Euler/DDIM main step, for EPS models and frames in the batch."""
    latent = empty_video("fib", FRAMES)
    sig, n = sigmas.tolist(), len(sigmas) - 1
    sigma_min = float(host.model_sampling(vdm).sigma_min)
    v, i_model = (vdm.model, c["vp"], c["vn"]), (idm.model, c["ip"], c["in"])
    x = host.prepare_noise(latent, seed) * sig[0]
    for i in range(n):
        s0, s1 = sig[i], sig[i + 1]
        if i < n - 1:  # s1 > 0 and sigma_i+2 exists
            lv = (s0, s1, max(sig[i + 2], sigma_min))
            image = v if every and i % every == every - 1 else i_model
            z = x / (1 + s0 ** 2) ** 0.5
            for who, r, wr, sign in REF_MOVES[(variant, labels)]:
                # the video model standing in for the image model keeps its own omega (official code)
                z = ref_move_vp(image if who == "I" else v, z, lv[r], lv[wr],
                                sign * (wi if who == "I" and image is i_model else wv))
            x = z * (1 + s0 ** 2) ** 0.5
        d = ref_denoise(*v, x, s0, cfg)
        x = x + (s1 - s0) * (x - d) / s0
    return vdm.model.process_latent_out(x)


@pytest.mark.parametrize("variant,labels,cfg,wi,wv,every", [
    ("IVIV", "coherent", 3.0, 4.0, 4.0, 0),
    ("IVIV", "official_animatediff", 3.0, 4.0, 4.0, 0),
    ("IIVV", "coherent", 2.0, 1.5, 3.0, 2),
    ("IIVV", "official_animatediff", 2.0, 1.5, 3.0, 0),
    ("IVIV", "coherent", -1.5, -3.0, 2.5, 0),  # negative scales are used as given, not clamped
])
def test_euler_matches_the_papers_step_by_step_algorithm(models, conds, variant, labels, cfg, wi, wv, every):
    vdm, idm = models
    out = sample(vdm, idm, conds, seed=3, cfg=cfg, omega_image=wi, omega_video=wv, variant=variant,
                 timestep_labels=labels, video_in_image_slot_every=every)
    ref = reference_eps(vdm, idm, conds, SIGMAS, 3, cfg, wi, wv, variant, labels, every)
    assert close(out, ref), float((out - ref).abs().max() / ref.abs().max())
    assert not close(out, plain(vdm, conds, seed=3, cfg=cfg), 1e-3)  # the zigzag did something


def test_negative_scales_reach_the_models(models, conds):
    vdm, idm = models
    neg = sample(vdm, idm, conds, omega_image=-4.0, omega_video=-4.0)
    pos = sample(vdm, idm, conds, omega_image=4.0, omega_video=4.0)
    zero = sample(vdm, idm, conds, omega_image=0.0, omega_video=0.0)
    assert not close(neg, pos, 1e-3) and not close(neg, zero, 1e-3)
    spec = ivmixed.IVMixedGuiderNode.define_schema()
    mins = {i.id: i.min for i in spec.inputs if i.id in ("cfg", "omega_image", "omega_video")}
    assert all(v < 0 for v in mins.values()), mins


def test_empty_interval_is_core_cfg_guider_bit_for_bit(models, conds):
    vdm, idm = models
    idm_counted, calls = count_model_calls(idm)
    expected = plain(vdm, conds, seed=5)
    for start, end in ((0.5, 0.5), (0.9, 0.1)):
        assert torch.equal(sample(vdm, idm_counted, conds, seed=5, start_percent=start, end_percent=end), expected)
    assert calls["calls"] == 0


def test_unguided_zigzag_effect_shrinks_like_step_squared(models, conds):
    """omega = 0: denoise/inversion pairs of unconditional predictions cancel only to first order."""
    vdm, idm = models
    effects = []
    for steps in (4, 8):  # uniform steps over [3, 2]; only the first one mixes
        sigmas = torch.linspace(3.0, 2.0, steps + 1)
        mixed = sample(vdm, idm, conds, sigmas=sigmas, omega_image=0.0, omega_video=0.0, end_percent=0.5 / steps)
        effects.append(float((mixed - plain(vdm, conds, sigmas=sigmas)).abs().max()))
    assert effects[1] > 0 and 3.0 < effects[0] / effects[1] < 5.0, effects


def record_calls(model, key="tfv_test_sigmas"):
    """Clone with an APPLY_MODEL wrapper that records each call's sigma and input shape."""
    m, seen = model.clone(), []

    def wrapper(executor, *args, **kwargs):
        seen.append((round(float(args[1].flatten()[0]), 5), tuple(args[0].shape)))
        return executor(*args, **kwargs)
    m.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, key, wrapper)
    return m, seen


def test_interval_boundaries(models, conds):
    vdm, idm = models
    sigmas = torch.linspace(8.0, 1.0, 8).tolist() + [0.0]  # 8 steps
    sig = torch.tensor(sigmas)
    sigma_min = round(float(host.model_sampling(vdm).sigma_min), 5)
    r = [round(s, 5) for s in sig.tolist()]
    for start, end, steps in ((0.25, 0.5, [2, 3]), (0.3, 0.5, [3]), (0.75, 1.0, [6])):
        idm_rec, seen = record_calls(idm)
        sample(vdm, idm_rec, conds, sigmas=sig, start_percent=start, end_percent=end)
        # coherent IV-IV: the image model reads at s0 (denoise) and at s2 (inversion)
        expected = {r[i] for i in steps} | {r[i + 2] if r[i + 2] > 0 else sigma_min for i in steps}
        assert {s for s, _ in seen} == expected, (start, end)
        assert len(seen) == 2 * len(steps)


def test_cost_is_two_image_and_three_video_evaluations_per_mixed_step(models, conds):
    vdm, idm = models
    (vdm_c, vc), (idm_c, ic) = count_model_calls(vdm), count_model_calls(idm)
    sample(vdm_c, idm_c, conds)
    mixed, steps = len(SIGMAS) - 2, len(SIGMAS) - 1
    assert (ic["calls"], ic["batch"]) == (2 * mixed, 2 * mixed * 2 * FRAMES)  # cond + uncond in one batch
    assert (vc["calls"], vc["batch"]) == (2 * mixed + steps, (2 * mixed + steps) * 2 * FRAMES)
    (vdm_c, vc), (idm_c, ic) = count_model_calls(vdm), count_model_calls(idm)
    sample(vdm_c, idm_c, conds, video_in_image_slot_every=1)  # the video model fills both image slots
    assert ic["calls"] == 0 and vc["calls"] == 4 * mixed + steps


def test_deterministic_for_a_seed(models, conds):
    vdm, idm = models
    sig = SIGMAS[2:]
    a, b = sample(vdm, idm, conds, sigmas=sig, seed=11), sample(vdm, idm, conds, sigmas=sig, seed=11)
    assert torch.equal(a, b)
    assert not torch.equal(a, sample(vdm, idm, conds, sigmas=sig, seed=12))


@pytest.fixture(scope="module")
def demo_pair():
    """Analytic demo models (smooth, exact) as video (frames correlated) and image (frames independent) models."""
    from training_free_video.nodes import demo
    c = {k: [[demo.toy_embedding(t), {}]] for k, t in (("vp", "red ball"), ("vn", ""), ("ip", "red ball"), ("in", ""))}
    vdm, idm = demo.demo_model("frames_in_batch", "eps", rho=0.9), demo.demo_model("frames_in_batch", "eps", rho=0.0)
    sig = result(ncs.BasicScheduler.execute(vdm, "normal", 8, 1.0))[0]
    cache = {}

    def effect(name):
        """The zigzag's effect on the sample, omega 4 minus omega 0, and the image model's calls."""
        if name not in cache:
            idm_counted, calls = count_model_calls(idm)
            runs = [sample(vdm, idm_counted, c, latent=torch.zeros(6, 4, 8, 8), sigmas=sig, seed=1, sampler=name,
                           omega_image=w, omega_video=w, timestep_labels="official_animatediff") for w in (4.0, 0.0)]
            cache[name] = ((runs[0] - runs[1]).flatten(), calls["calls"])
        return cache[name]
    return vdm, idm, c, sig, effect


@pytest.mark.parametrize("name", comfy.samplers.KSampler.SAMPLERS)
def test_every_sampler_has_eulers_zigzag_effect_or_is_refused(demo_pair, name):
    """The zigzag moves the sampler's own latent at each step boundary, so every accepted sampler gets Euler's
    effect (direction cosine > 0.9, size within 30 %) with the same image-model calls (2 per mixed step); the
    others are refused before any model call, with the list of samplers that work."""
    vdm, idm, c, sig, effect = demo_pair
    if name in ivmixed.REFUSED_SAMPLERS:
        counted, calls = count_model_calls(vdm)
        with pytest.raises(host.NodeInputError, match=r"^\[IV-Mixed Guider\] the sampler .* pick one of euler, "):
            sample(counted, idm, c, latent=torch.zeros(6, 4, 8, 8), sigmas=sig, sampler=name)
        assert calls["calls"] == 0
        return
    ref, ref_calls = effect("euler")
    got, calls = effect(name)
    cos = float(torch.nn.functional.cosine_similarity(got, ref, 0))
    size = float(got.norm() / ref.norm())
    assert calls == ref_calls == 2 * 2 * (len(sig) - 2)  # two runs (omega 4 and 0), 2 per mixed step
    assert cos > 0.9 and 0.7 < size < 1.3, (cos, size)


def test_step_boundaries_match_with_a_tolerance_in_order():
    """A schedule sigma evaluated again (a predictor) or a midpoint starts no step; float noise still matches."""
    sig = torch.tensor([8.0, 5.0, 3.0, 1.0, 0.0])

    class Guider:
        window = (0.0, 1.0)
    b = ivmixed.StepBoundaries(None, sig, Guider())
    seen = [b.step_of(torch.tensor([s, s])) for s in (8.0 * (1 + 1e-6), 6.3, 5.0, 5.0, 3.9, 3.0 - 1e-6, 1.0, 0.5)]
    assert seen == [0, None, 1, None, None, 2, 3, None]
    assert b.step_of(torch.tensor([3.0, 1.0])) is None  # per-frame sigmas


# ---------------------------------------------------------------- progress and cancel

def test_progress_moves_through_sub_steps_and_cancel_stops_them(models, conds):
    vdm, idm = models
    updates = []
    old = comfy.utils.PROGRESS_BAR_HOOK
    comfy.utils.set_progress_bar_global_hook(lambda v, t, p, node_id=None, **kw: updates.append((v, t)))
    try:
        sample(vdm, idm, conds, sigmas=SIGMAS[2:])  # 2 steps, step 0 mixes
    finally:
        comfy.utils.set_progress_bar_global_hook(old)
    ours = [v for v, t in updates if t == 2 * ivmixed.PARTS]
    assert ours == [1, 2, 3, 4]  # the four zigzag sub-steps of step 0; the sampler marks (1, 2) and (2, 2)
    assert (1, 2) in updates and (2, 2) in updates

    idm_c, seen = record_calls(idm)

    def interrupt(executor, *args, **kwargs):
        comfy.model_management.interrupt_current_processing(True)
        return executor(*args, **kwargs)
    idm_c.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "tfv_test_interrupt", interrupt)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            sample(vdm, idm_c, conds)
    finally:
        comfy.model_management.interrupt_current_processing(False)
    assert len(seen) == 1  # stopped right after the first sub-step


# ---------------------------------------------------------------- 5D latents (frames given as single images)

@torch.no_grad()
def reference_flow_coherent(vdm, idm, ctx, latent, sigmas, seed, cfg, w):
    """Coherent IV-IV for a flow model: every move is an Euler step in the sampler's space (spec A.3)."""
    lay = host.video_layout(vdm, latent, "test")
    sig, n = sigmas.tolist(), len(sigmas) - 1
    sigma_min = float(host.model_sampling(vdm).sigma_min)
    pos, neg = ctx

    def image_d(x, s, w_):
        xi = rearrange(x, "b c t h w -> (b t) c 1 h w")
        return rearrange(ref_denoise(idm.model, pos, neg, xi, s, w_), "(b t) c 1 h w -> b c t h w", t=lay.frames)

    def euler(d_fn, x, s_r, s_w, w_):
        return x + (s_w - s_r) * (x - d_fn(x, s_r, w_)) / s_r

    def video_d(x, s, w_):
        return ref_denoise(vdm.model, pos, neg, x, s, w_)
    x = host.prepare_noise(latent, seed) * sig[0]
    for i in range(n):
        s0, s1 = sig[i], sig[i + 1]
        if i < n - 1:
            s2 = max(sig[i + 2], sigma_min)
            x = euler(image_d, x, s0, s1, w)
            x = euler(video_d, x, s1, s2, w)
            x = euler(image_d, x, s2, s1, -w)
            x = euler(video_d, x, s1, s0, -w)
        x = euler(video_d, x, s0, s1, cfg)
    return vdm.model.process_latent_out(x)


def test_5d_video_gives_the_image_model_single_frames():
    vdm, idm = tm.tiny_wan(0), tm.tiny_wan(1)
    c = {k: tm.conditioning(tm.WAN_TEXT_DIM, s) for k, s in (("vp", 1), ("vn", 2))}
    c["ip"], c["in"] = c["vp"], c["vn"]
    latent = empty_video("5d", 3)
    sigmas = torch.tensor([0.9, 0.6, 0.3, 0.0])
    idm_rec, seen = record_calls(idm)
    out = sample(vdm, idm_rec, c, latent=latent, sigmas=sigmas, cfg=2.0, omega_image=1.5, omega_video=1.5)
    assert out.shape == latent.shape
    assert {shape for _, shape in seen} == {(2 * 3, 16, 1, 8, 8)}  # cond + uncond of 3 one-frame videos
    ref = reference_flow_coherent(vdm, idm, (c["vp"], c["vn"]), latent, sigmas, 0, 2.0, 1.5)
    assert close(out, ref), float((out - ref).abs().max() / ref.abs().max())


# ---------------------------------------------------------------- two ModelPatchers over one BaseModel

class Motion(torch.nn.Module):
    """Stands in for a motion module injected into the UNet: mixes every frame with the batch mean."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        y = self.inner(x)
        return y + 0.3 * torch.tanh(y.mean(0, keepdim=True))


def inject(patcher):
    dm = patcher.model.diffusion_model
    dm.out = Motion(dm.out)


def eject(patcher):
    dm = patcher.model.diffusion_model
    dm.out = dm.out.inner


class AnimateDiffSchedule(comfy.model_sampling.ModelSamplingDiscrete, comfy.model_sampling.EPS):
    """AnimateDiff's beta schedule ('sqrt_linear'): reaches a higher sigma than SD1.5's."""

    def __init__(self):
        super().__init__()
        self._register_schedule(beta_schedule="sqrt_linear", linear_start=0.00085, linear_end=0.012)


def as_video_model(patcher):
    """What AnimateDiff-Evolved makes: a clone with a motion module injection, its own beta schedule, and here also
    a weight patch (e.g. a LoRA on the video model only)."""
    v = patcher.clone()
    v.set_injections("tfv_test_motion", [pe.PatcherInjection(inject=inject, eject=eject)])
    v.add_object_patch("model_sampling", AnimateDiffSchedule())
    key = "diffusion_model.input_blocks.0.0.weight"
    w = v.model.state_dict()[key]
    v.add_patches({key: (torch.randn(w.shape, generator=torch.Generator().manual_seed(9)) * 0.05,)})
    return v


def watch(patcher, log):
    """Clone recording, per call, whether the motion module is in the UNet and the timestep label the UNet gets."""
    m = patcher.clone()

    def wrapper(executor, *args, **kwargs):
        base = executor.class_obj
        log.append((isinstance(base.diffusion_model.out, Motion), float(args[1].flatten()[0]),
                    int(base.model_sampling.timestep(args[1]).flatten()[0]), args[0].shape[0]))
        return executor(*args, **kwargs)
    m.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "tfv_test_watch", wrapper)
    return m


def test_shared_base_model_equals_two_separate_models(conds):
    sigmas = torch.tensor([20.0, 10.0, 4.0, 0.0])  # above SD1.5's sigma_max 14.6: the image model clamps
    sep_idm = tm.tiny_animatediff(0)
    separate = sample(as_video_model(tm.tiny_animatediff(0)), sep_idm, conds, sigmas=sigmas)

    shared_idm = tm.tiny_animatediff(0)
    vlog, ilog = [], []
    vdm = watch(as_video_model(shared_idm), vlog)
    idm = watch(shared_idm, ilog)
    assert vdm.is_clone(idm)
    shared = sample(vdm, idm, conds, sigmas=sigmas)
    assert close(shared, separate, 1e-6)
    assert len(ilog) == 2 * 2 and len(vlog) == 2 * 2 + 3         # each model's wrappers see only its own calls
    assert all(motion for motion, *_ in vlog)                    # the video model always has its motion module
    assert ilog and not any(motion for motion, *_ in ilog)       # the image model never sees it
    assert all(batch == 2 * FRAMES for *_, batch in ilog)        # frames as a batch of images (cond + uncond)
    own = host.model_sampling(idm)
    for _, sigma, label, _ in ilog:                              # same sigma, its own schedule's label
        assert label == int(own.timestep(torch.tensor(sigma)))
    assert any(label == 999 for _, sigma, label, _ in ilog if sigma > float(own.sigma_max))
    assert host.sigma_max(vdm) > 20.0 > host.sigma_max(idm) and "ivmixed-clamp" in host._said  # said once
    # the video model runs with its own schedule and weight patch: the result is not the unpatched model's
    assert not close(shared, sample(tm.tiny_animatediff(0), shared_idm, conds, sigmas=sigmas), 1e-3)


# ---------------------------------------------------------------- clear errors before any work

class FlowSampling(comfy.model_sampling.ModelSamplingDiscreteFlow, comfy.model_sampling.CONST):
    pass


def test_mismatched_models_are_refused_by_the_node(models, conds):
    vdm, idm = models
    with pytest.raises(host.NodeInputError, match=r"\[IV-Mixed Guider\] .*4 channels but the image model's have 16"):
        make_guider(vdm, tm.tiny_wan(0), conds)
    sdxl = idm.clone()
    sdxl.add_object_patch("latent_format", comfy.latent_formats.SDXL())
    with pytest.raises(host.NodeInputError, match="SD15 latent format but the image model uses SDXL"):
        make_guider(vdm, sdxl, conds)
    flow = idm.clone()
    flow.add_object_patch("model_sampling", FlowSampling())
    with pytest.raises(host.NodeInputError, match="different noise parameterizations"):
        make_guider(vdm, flow, conds)


@pytest.mark.parametrize("latent,match", [
    (torch.randn(1, 4, FRAMES, 8, 8), "works on frames in the batch"),
    (torch.randn(1, 4, 8, 8), "image latent"),
])
def test_wrong_latent_is_refused_before_sampling(models, conds, latent, match):
    vdm, idm = models
    (vdm_c, vc), (idm_c, ic) = count_model_calls(vdm), count_model_calls(idm)
    with pytest.raises(host.NodeInputError, match=r"IV-Mixed Guider\]?:? .*" + match):
        sample(vdm_c, idm_c, conds, latent=latent)
    assert vc["calls"] == ic["calls"] == 0


def test_schema_has_tooltips_and_states_the_cost():
    spec = ivmixed.IVMixedGuiderNode.define_schema()
    assert spec.node_id == "TFV_IVMixedGuider" and spec.category == "training-free-video/ivmixed"
    assert all(i.tooltip for i in spec.inputs) and all(o.tooltip for o in spec.outputs)
    assert "2 image-model and 3 video-model CFG evaluations" in spec.description
    defaults = {i.id: i.default for i in spec.inputs if hasattr(i, "default")}
    assert defaults["omega_image"] == defaults["omega_video"] == 4.0
    assert defaults["variant"] == "IVIV" and defaults["timestep_labels"] == "official_animatediff"  # the headline
    assert defaults["video_in_image_slot_every"] == 0
