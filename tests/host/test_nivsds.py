"""Static Video and NI-VSDS nodes in the real ComfyUI host, on tiny real models and the analytic demo model."""
import pytest
import torch

import comfy.model_management
import comfy.model_sampling
import comfy.samplers
import comfy.utils
from comfy_test_nodes import tiny_models
from host_utils import count_model_calls, result

PAPER_ETAS = [10.0, 10.0, 10.0, 1.0]


@pytest.fixture(scope="module")
def nv():
    from training_free_video.nodes import nivsds
    return nivsds


@pytest.fixture(scope="module")
def demo():
    from training_free_video.nodes import demo
    return demo


@pytest.fixture(scope="module")
def wan():
    return tiny_models.tiny_wan(0)


def with_beta_schedule(model, schedule, parameterization=comfy.model_sampling.EPS):
    """A clone on another SD beta schedule, as AnimateDiff-Evolved's beta_schedule option does.
    ComfyUI names: 'linear' is SD's scaled_linear, 'sqrt_linear' is AnimateDiff's linear."""
    class Config:
        sampling_settings = {"beta_schedule": schedule}

    class Sampling(comfy.model_sampling.ModelSamplingDiscrete, parameterization):
        pass
    m = model.clone()
    m.add_object_patch("model_sampling", Sampling(Config()))
    return m


def run_node(nv, model, pos, neg, latent, seed=0, steps=25, cfg=7.5, scheduler="ddim_uniform", fraction=0.6,
             step_sizes="10, 10, 10, 1", max_weight=1.0):
    out = result(nv.NIVSDS.execute(model, pos, neg, {"samples": latent}, seed, steps, cfg, scheduler, fraction,
                                   step_sizes, max_weight))
    return out[0]["samples"]


def anchor_video(kind, frames=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    if kind == "5d":
        return torch.randn(1, 16, 1, 8, 8, generator=g).repeat(1, 1, frames, 1, 1)
    return torch.randn(1, 4, 8, 8, generator=g).repeat(frames, 1, 1, 1)


# ---------------------------------------------------------------- Static Video from Image Latent

@pytest.mark.parametrize("shape,layout,expected", [
    ((3, 4, 8, 8), "frames_in_batch", (16, 4, 8, 8)),
    ((3, 4, 8, 8), "video_5d", (1, 4, 16, 8, 8)),
    ((3, 16, 1, 8, 8), "video_5d", (1, 16, 16, 8, 8)),
    ((3, 16, 1, 8, 8), "frames_in_batch", (16, 16, 8, 8)),
])
def test_static_video_shapes_and_content(nv, shape, layout, expected):
    images = torch.randn(shape)
    keep = images.clone()
    out = result(nv.StaticVideo.execute({"samples": images}, 2, 16, layout))[0]["samples"]
    assert out.shape == expected
    frames = out.movedim(2, 0)[:, 0] if out.ndim == 5 else out
    anchor = images[2, :, 0] if images.ndim == 5 else images[2]
    assert all(torch.equal(f, anchor) for f in frames)
    out += 1                                                            # a copy, not a view of the input
    assert torch.equal(images, keep)


@pytest.mark.parametrize("shape,index,frames,layout,match", [
    ((1, 16, 5, 8, 8), 0, 16, "video_5d", "not a video"),
    ((8, 8), 0, 16, "frames_in_batch", "needs an image latent"),
    ((2, 4, 8, 8), 2, 16, "frames_in_batch", "batch_index: 2 is outside the batch of 2"),
    ((2, 4, 8, 8), 0, 1, "frames_in_batch", "frames: 1 is below the minimum 2"),
    ((2, 4, 8, 8), 0, 16, "5d", "layout: '5d' is not one of its options"),
])
def test_static_video_refuses_bad_input(nv, shape, index, frames, layout, match):
    from training_free_video.nodes.host import NodeInputError
    with pytest.raises(NodeInputError, match=rf"\[Static Video from Image Latent\].*{match}"):
        nv.StaticVideo.execute({"samples": torch.randn(shape)}, index, frames, layout)


# ---------------------------------------------------------------- NI-VSDS against its closed form

def cfg_denoised(model, x, sigma, pos, neg, cfg):
    """D = D_u + cfg (D_c - D_u), straight from the BaseModel (one call, a video per chunk)."""
    n = x.shape[0]
    ctx = torch.cat([pos[0][0].expand(n, -1, -1), neg[0][0].expand(n, -1, -1)])
    d = model.model.apply_model(torch.cat([x, x]), torch.full((2 * n,), float(sigma)), c_crossattn=ctx,
                                transformer_options={"cond_or_uncond": [0, 1]})
    d_c, d_u = d.chunk(2)
    return d_u + cfg * (d_c - d_u)


@pytest.mark.parametrize("schedule,expected,clamped", [
    ("sqrt_linear", [0.497, 0.624, 0.777, 0.096, 0.117], []),     # AnimateDiff's linear betas
    ("linear", [0.850, 1.059, 1.300, 0.157, 0.188], [1, 2]),       # SD's scaled_linear: overshoots
])
def test_paper_levels_and_weights_and_where_the_clamp_engages(nv, schedule, expected, clamped):
    """25 DDIM steps, fraction 0.6: t = 961, 921, ..., 361 (16 levels); eta 10, 10, 10, 1."""
    model = with_beta_schedule(tiny_models.tiny_animatediff(0), schedule)
    sigmas, a, b, lam, raw = nv.plan(model, 25, "ddim_uniform", 0.6, PAPER_ETAS, 1.0)
    ms = model.get_model_object("model_sampling")
    assert ms.timestep(sigmas).tolist() == list(range(961, 360, -40))
    assert torch.equal(a, torch.ones(16)) and torch.allclose(b, sigmas)
    assert raw[:5].tolist() == pytest.approx(expected, abs=1e-3)
    assert [k for k in range(16) if raw[k] > 1] == clamped
    assert torch.equal(lam, raw.clamp(max=1.0)) and lam.max() <= 1.0


@pytest.mark.parametrize("schedule,par", [("sqrt_linear", "eps"), ("linear", "v_prediction")])
def test_nivsds_eps_is_the_closed_form_step_by_step(nv, schedule, par):
    """x0 <- x0 - min(eta*sigma/(1+sigma^2), 1) * (x0 - D(x0 + sigma*eps)) with eps fixed, on the paper's
    first DDIM levels (t = 961, 921, 881, 841), frames in the batch, tiny AnimateDiff-like UNet."""
    pred = comfy.model_sampling.EPS if par == "eps" else comfy.model_sampling.V_PREDICTION
    model = with_beta_schedule(tiny_models.tiny_animatediff(0, par), schedule, pred)
    pos, neg = (tiny_models.conditioning(tiny_models.UNET_CONTEXT_DIM, s) for s in (1, 2))
    static = anchor_video("fib", frames=4)
    ms = model.get_model_object("model_sampling")
    sigmas = ms.sigma(torch.tensor([961.0, 921.0, 881.0, 841.0]))

    seen = []
    nv.animate(model, pos, neg, 7.5, static, 3, 25, "ddim_uniform", 0.12, PAPER_ETAS, 1.0,
               callback=lambda k, x0: seen.append(x0.cpu()))
    assert len(seen) == 4

    fmt = model.get_model_object("latent_format")
    eps = torch.randn(static.shape, generator=torch.Generator().manual_seed(3))   # KSampler's noise for seed 3
    x0 = fmt.process_in(static)
    for k, sigma in enumerate(sigmas.tolist()):
        d = cfg_denoised(model, x0 + sigma * eps, sigma, pos, neg, 7.5)
        raw = PAPER_ETAS[k] * sigma / (1 + sigma ** 2)
        x0 = x0 - min(raw, 1.0) * (x0 - d)
        assert torch.allclose(seen[k], x0, rtol=1e-4, atol=1e-4), k
        if raw > 1.0:
            assert torch.allclose(seen[k], d, atol=1e-4)                  # clamped at 1: onto D exactly
    assert (x0 - fmt.process_in(static)).abs().mean() > 0.01


def test_nivsds_flow_is_the_closed_form_on_5d(nv, wan):
    """Flow: x_t = (1-s) x0 + s eps and weight eta*s(1-s)/((1-s)^2 + s^2), on the tiny Wan 2.1 DiT (5D);
    through the node itself."""
    pos, neg = (tiny_models.conditioning(tiny_models.WAN_TEXT_DIM, s) for s in (1, 2))
    static = anchor_video("5d", frames=3)
    ms = wan.get_model_object("model_sampling")
    sigmas = comfy.samplers.calculate_sigmas(ms, "simple", 10)[:4]
    out = run_node(nv, wan, pos, neg, static, seed=5, steps=10, cfg=4.0, scheduler="simple", fraction=0.3,
                   step_sizes="60, 10", max_weight=0.5)
    fmt = wan.get_model_object("latent_format")
    eps = torch.randn(static.shape, generator=torch.Generator().manual_seed(5))
    x0 = fmt.process_in(static)
    weights = []
    for k, s in enumerate(sigmas.tolist()):
        w = min([60.0, 10.0][min(k, 1)] * s * (1 - s) / ((1 - s) ** 2 + s ** 2), 0.5)
        weights.append(w)
        if w > 0:
            x0 = x0 - w * (x0 - cfg_denoised(wan, (1 - s) * x0 + s * eps, s, pos, neg, 4.0))
    assert weights[0] == 0.0 and 0.5 in weights and 0 < min(weights[1:]) < 0.5  # sigma 1 carries no weight
    assert out.shape == static.shape
    assert torch.allclose(out, fmt.process_out(x0), rtol=1e-4, atol=1e-4)
    assert (out - static).abs().mean() > 1e-3


def test_one_model_evaluation_per_weighted_level_and_deterministic(nv, wan):
    counted, calls = count_model_calls(wan)
    pos, neg = (tiny_models.conditioning(tiny_models.WAN_TEXT_DIM, s) for s in (1, 2))
    static = anchor_video("5d", frames=3)
    run = dict(steps=10, scheduler="simple", fraction=0.2)
    a = run_node(nv, counted, pos, neg, static, seed=1, **run)
    assert calls["calls"] == 2 and calls["batch"] == 4       # 3 levels, sigma = 1 skipped; cond+uncond batched
    b = run_node(nv, counted, pos, neg, static, seed=1, **run)
    c = run_node(nv, counted, pos, neg, static, seed=2, **run)
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_runs_inside_inference_mode_without_touching_inputs(nv):
    """ComfyUI executes nodes under torch.inference_mode(): same result, inputs and model untouched."""
    model = tiny_models.tiny_animatediff(0)
    pos, neg = (tiny_models.conditioning(tiny_models.UNET_CONTEXT_DIM, s) for s in (1, 2))
    static = anchor_video("fib", frames=4)
    keep, options = static.clone(), repr(model.model_options)
    plain = run_node(nv, model, pos, neg, static, steps=10, fraction=0.1)
    with torch.inference_mode():
        inside = run_node(nv, model, pos, neg, static, steps=10, fraction=0.1)
    assert torch.equal(plain, inside)
    assert not plain.requires_grad                                      # no autograd graph through the network
    assert torch.equal(static, keep) and repr(model.model_options) == options
    assert plain.device == comfy.model_management.intermediate_device() and plain.dtype == torch.float32


# ---------------------------------------------------------------- the analytic demo model

@pytest.mark.parametrize("layout", ["frames_in_batch", "video_5d"])
def test_demo_static_video_gains_the_priors_frame_to_frame_variance(nv, demo, layout):
    """A static video (a prior sample repeated) has no frame-to-frame change; NI-VSDS with the paper's
    settings raises the variance of x[t+1] - x[t] at every level toward the prior's 2(1 - rho)."""
    rho, frames = 0.9, 16
    model = demo.demo_model(layout, "eps", rho=rho, ell=1.5)
    fmt = model.model.latent_format
    image = model.model.diffusion_model.prior.sample((1, 1, fmt.latent_channels, 16, 16),
                                                    generator=torch.Generator().manual_seed(0)).float()[0]
    image = fmt.process_out(image[:, :, None] if layout == "video_5d" else image)
    static = result(nv.StaticVideo.execute({"samples": image}, 0, frames, layout))[0]["samples"]
    empty = [[demo.toy_embedding(""), {}]]

    def diff_var(z):
        v = z.movedim(2, 1) if z.ndim == 5 else z[None]             # [B, T, C, H, W]
        return (v[:, 1:] - v[:, :-1]).var().item()
    trace = []
    nv.animate(model, empty, empty, 1.0, static, 0, 25, "ddim_uniform", 0.6, PAPER_ETAS, 1.0,
               callback=lambda k, x0: trace.append(diff_var(x0)))
    prior = 2 * (1 - rho)
    print(f"{layout}: frame-difference variance 0 -> " + ", ".join(f"{v:.3f}" for v in trace) + f" (prior {prior})")
    assert diff_var(fmt.process_in(static)) == 0.0
    assert all(b > a for a, b in zip(trace, trace[1:]))
    assert 0.4 * prior < trace[-1] < prior


# ---------------------------------------------------------------- errors, progress, cancel

@pytest.mark.parametrize("case,match", [
    ("image", "got an image latent .* put 'Static Video from Image Latent'"),
    ("5d_for_frames_model", "this model works on frames in the batch"),
    ("channels", "16 channels but the model expects 4"),
    ("mask", "noise mask"),
    ("zeros", "all zeros"),
    ("fraction", "fraction: 1.5 is above the maximum 1"),
    ("max_weight", "max_weight: 0 is below the minimum 0.01"),
    ("step_sizes", "step_sizes: step sizes must be numbers"),
    ("steps", "steps: 0 is below the minimum 1"),
    ("scheduler", "scheduler: 'nope' is not one of its options"),
])
def test_bad_input_fails_before_any_model_evaluation(nv, case, match):
    from training_free_video.nodes.host import NodeInputError
    model, calls = count_model_calls(tiny_models.tiny_animatediff(0))
    c = tiny_models.conditioning(tiny_models.UNET_CONTEXT_DIM)
    latent = {"samples": anchor_video("fib")}
    args = dict(seed=0, steps=10, cfg=5.0, scheduler="ddim_uniform", fraction=0.6, step_sizes="10, 1", max_weight=1.0)
    if case == "image":
        latent = {"samples": torch.randn(1, 4, 8, 8)}
    elif case == "5d_for_frames_model":
        latent = {"samples": anchor_video("5d")[:, :4]}
    elif case == "channels":
        latent = {"samples": torch.randn(6, 16, 8, 8)}
    elif case == "mask":
        latent["noise_mask"] = torch.ones(1, 8, 8)
    elif case == "zeros":
        latent = {"samples": torch.zeros(6, 4, 8, 8)}
    elif case == "step_sizes":
        args["step_sizes"] = "ten"
    elif case == "scheduler":
        args["scheduler"] = "nope"
    else:
        args[case] = {"fraction": 1.5, "max_weight": 0.0, "steps": 0}[case]
    with pytest.raises(NodeInputError, match=rf"\[NI-VSDS \(animate anchor\)\] .*{match}"):
        nv.NIVSDS.execute(model, c, c, latent, **args)
    assert calls["calls"] == 0


def test_progress_reports_each_level_and_cancel_stops_promptly(nv, monkeypatch):
    import comfy.patcher_extension as pe
    model = tiny_models.tiny_animatediff(0)
    c = tiny_models.conditioning(tiny_models.UNET_CONTEXT_DIM)
    static = anchor_video("fib", frames=4)
    updates = []
    monkeypatch.setattr(comfy.utils, "PROGRESS_BAR_HOOK", lambda v, total, preview, **kw: updates.append((v, total)))
    run_node(nv, model, c, c, static, steps=10, fraction=0.3)            # 4 levels
    assert updates == [(k, 4) for k in range(1, 5)]

    calls = []

    def cancel_during_second_call(executor, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            comfy.model_management.interrupt_current_processing(True)   # the user presses cancel
        return executor(*args, **kwargs)
    stop = model.clone()
    stop.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "tfv_test_cancel", cancel_during_second_call)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            run_node(nv, stop, c, c, static, steps=10, fraction=0.3)
    finally:
        comfy.model_management.interrupt_current_processing(False)
    assert len(calls) == 2
