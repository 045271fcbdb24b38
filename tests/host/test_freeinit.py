"""FreeInit inside the real ComfyUI: through KSampler, KSamplerAdvanced, SamplerCustom and SamplerCustomAdvanced,
on tiny EPS / v-prediction / flow models in both latent layouts, and on the analytic demo model."""
import logging
import math

import pytest
import torch

import comfy.model_management
import comfy.model_sampling
import comfy.sample
import comfy.samplers
import comfy.patcher_extension as pe
import comfy.utils
import latent_preview
from comfy.cli_args import LatentPreviewMethod, args
from comfy_extras import nodes_custom_sampler as ncs
from comfy_test_nodes import tiny_models
from host_utils import count_model_calls, custom_advanced, empty_video, ksampler, ksampler_advanced, result
from tfv_core import freeinit as fi
from tfv_core.analytic import VideoPrior
from tfv_core.spectral import freq_mix, lowpass, lowpass_for

STEPS = 3


@pytest.fixture(scope="module")
def mod():
    from training_free_video.nodes import freeinit
    return freeinit


@pytest.fixture(scope="module")
def host():
    from training_free_video.nodes import host
    return host


def attach(mod, model, iterations=3, filter="gaussian", d_s=0.25, d_t=0.25, order=4, fast=False, flow_sigma=0.98):
    return result(mod.FreeInitNode.execute(model, iterations, filter, d_s, d_t, order, fast, flow_sigma))[0]


def tiny(kind):
    """(model, empty latent, positive, negative) for a tiny real model."""
    if kind == "wan_flow_5d":
        dim, model, lat = tiny_models.WAN_TEXT_DIM, tiny_models.tiny_wan(), empty_video("5d", 5, 8)
    else:
        par = "eps" if kind == "ad_eps_fib" else "v_prediction"
        dim, model, lat = tiny_models.UNET_CONTEXT_DIM, tiny_models.tiny_animatediff(0, par), empty_video("fib", 5, 8)
    return model, lat, tiny_models.conditioning(dim, 1), tiny_models.conditioning(dim, 2)


@pytest.fixture(scope="module", params=["ad_eps_fib", "ad_v_fib", "wan_flow_5d"])
def setup(request):
    return (request.param, *tiny(request.param))


def record_passes(model):
    """Clone with a SAMPLER_SAMPLE wrapper recording each pass's unit noise, sigmas and output (model space)."""
    passes = []
    m = model.clone()

    def wrapper(executor, guider, sigmas, extra_args, callback, noise, *args, **kwargs):
        out = executor(guider, sigmas, extra_args, callback, noise, *args, **kwargs)
        passes.append({"noise": noise.clone(), "sigmas": sigmas.clone(), "out": out.clone()})
        return out
    m.add_wrapper_with_key(pe.WrappersMP.SAMPLER_SAMPLE, "tfv_test_record", wrapper)
    return m, passes


def sampler_custom(model, lat, pos, neg, seed=0, steps=STEPS, cfg=3.0, add_noise=True):
    sampler = result(ncs.KSamplerSelect.execute("euler"))[0]
    sigmas = result(ncs.BasicScheduler.execute(model, "normal", steps, 1.0))[0]
    out = ncs.SamplerCustom.execute(model, add_noise, seed, cfg, pos, neg, sampler, sigmas, {"samples": lat})
    return result(out)[0]["samples"]


PATHS = {
    "KSampler": lambda m, lat, p, n, seed=0: ksampler(m, lat, p, n, seed=seed, steps=STEPS),
    "KSamplerAdvanced": lambda m, lat, p, n, seed=0: ksampler_advanced(m, lat, p, n, seed=seed, steps=STEPS),
    "SamplerCustom": lambda m, lat, p, n, seed=0: sampler_custom(m, lat, p, n, seed=seed),
    "SamplerCustomAdvanced": lambda m, lat, p, n, seed=0: custom_advanced(m, lat, p, n, seed=seed, steps=STEPS),
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("fast", [False, True])
def test_every_sampler_node_runs_the_loop(mod, path, fast):
    """N passes cost exactly N x the plain model calls (fast mode: the coarse-to-fine sum), and the
    wrapper returns a changed result of the same shape."""
    model, lat, pos, neg = tiny("ad_eps_fib")
    run = PATHS[path]
    plain_model, plain = count_model_calls(model)
    base = run(plain_model, lat, pos, neg)
    fm, calls = count_model_calls(attach(mod, model, iterations=3, fast=fast))
    out = run(fm, lat, pos, neg)
    per_step = plain["calls"] / STEPS
    steps = sum(fi.fast_steps(STEPS, 3, i) for i in range(3)) if fast else 3 * STEPS
    assert calls["calls"] == steps * per_step
    assert out.shape == base.shape and torch.isfinite(out).all() and not torch.equal(out, base)


def test_iterations_one_is_bit_identical_and_logged_once(mod, host, caplog):
    model, lat, pos, neg = tiny("ad_eps_fib")
    host._said.discard("freeinit:iterations is 1")
    caplog.set_level(logging.INFO, logger="training-free-video")
    fm = attach(mod, model, iterations=1)
    assert torch.equal(ksampler(fm, lat, pos, neg, seed=4), ksampler(model, lat, pos, neg, seed=4))
    assert torch.equal(custom_advanced(fm, lat, pos, neg, seed=4), custom_advanced(model, lat, pos, neg, seed=4))
    lines = [r for r in caplog.records if "FreeInit changes nothing here: iterations is 1" in r.getMessage()]
    assert len(lines) == 1


PASS_THROUGH = {
    "added noise is disabled": lambda m, lat, p, n: ksampler_advanced(m, lat, p, n, seed=2, steps=STEPS,
                                                                      add_noise=False),
    "the sampler returns leftover noise": lambda m, lat, p, n: ksampler_advanced(m, lat, p, n, seed=2, steps=4,
                                                                                 end=2, leftover=True),
    "partial denoise": lambda m, lat, p, n: ksampler(m, lat, p, n, seed=2, steps=STEPS, denoise=0.6),
    "partial denoise (start step)": lambda m, lat, p, n: ksampler_advanced(m, lat, p, n, seed=2, steps=4, start=1),
}


@pytest.mark.parametrize("case", list(PASS_THROUGH))
def test_honest_pass_through(mod, host, caplog, case):
    """No added noise, leftover noise, partial denoise: one plain sampling, bit for bit, said once in the log."""
    model, lat, pos, neg = tiny("ad_eps_fib")
    lat = lat + 0.5  # a non-empty latent, as img2img would give
    run = PASS_THROUGH[case]
    for k in [k for k in host._said if k.startswith("freeinit:")]:
        host._said.discard(k)
    caplog.set_level(logging.INFO, logger="training-free-video")
    plain_model, plain = count_model_calls(model)
    fm, calls = count_model_calls(attach(mod, model, iterations=3))
    base = run(plain_model, lat, pos, neg)
    assert torch.equal(run(fm, lat, pos, neg), base)
    run(fm, lat, pos, neg)
    assert calls["calls"] == 2 * plain["calls"]
    said = [r.getMessage() for r in caplog.records if "FreeInit changes nothing here" in r.getMessage()]
    assert len(said) == 1 and case.split(" (")[0] in said[0]


def ddpm_abar_T():
    """abar at t = 999 of SD1.5's schedule, computed here from its betas (not from ComfyUI)."""
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0)[-1].item()


def test_rediffused_latent_is_the_forward_process_with_the_same_noise(mod, host, setup):
    """With an all-pass filter, pass 2 starts from sqrt(abar) x0 + sqrt(1 - abar) eps0 (EPS and v: the model's
    first step; flow: flow_renoise_sigma), x0 being pass 1's result and eps0 the sampler's own first noise."""
    kind, model, lat, pos, neg = setup
    m, passes = record_passes(attach(mod, model, iterations=2, filter="box", d_s=1.0, d_t=1.0, flow_sigma=0.9))
    ksampler(m, lat, pos, neg, seed=5, steps=STEPS)
    eps0 = host.prepare_noise(lat, 5)
    x0 = passes[0]["out"]
    if kind == "wan_flow_5d":  # flow rule, all-pass: phases of 0.1 W(x0) + 0.9 eps0 at white power (W: |F| = 1)
        dims = (2, 3, 4)
        w = lambda f: f / f.abs()
        fx, fe = (torch.fft.fftn(t.double(), dim=dims, norm="ortho") for t in (x0, eps0))
        expect = torch.fft.ifftn(w(0.1 * w(fx) + 0.9 * fe), dim=dims, norm="ortho").real.float()
    else:
        a, b = ddpm_abar_T() ** 0.5, (1 - ddpm_abar_T()) ** 0.5
        expect = a * x0 + b * eps0
    assert torch.equal(passes[0]["noise"], eps0)
    assert (passes[1]["noise"] - expect).abs().max() < 1e-5 * max(1.0, expect.abs().max().item())
    assert torch.equal(passes[0]["sigmas"], passes[1]["sigmas"])


def test_high_frequencies_come_from_fresh_seeded_noise(mod, host):
    """z' = iFFT(L F(z_T) + (1 - L) F(eta_i)), eta_i drawn from the sampler seed and the pass number."""
    model, lat, pos, neg = tiny("ad_eps_fib")
    m, passes = record_passes(attach(mod, model, iterations=3, filter="butterworth", d_s=0.3, d_t=0.4, order=2))
    custom_advanced(m, lat, pos, neg, seed=11, steps=STEPS)
    eps0, abar = host.prepare_noise(lat, 11), ddpm_abar_T()
    axes = (0, 2, 3)
    lpf = lowpass_for(lat.shape, axes, "butterworth", 0.3, 0.4, 2)
    for i in (1, 2):
        z_t = abar ** 0.5 * passes[i - 1]["out"] + (1 - abar) ** 0.5 * eps0
        eta = host.prepare_noise(lat, fi.pass_seed(11, i))
        got = torch.fft.rfftn(passes[i]["noise"], dim=axes)
        expect = lpf * torch.fft.rfftn(z_t, dim=axes) + (1 - lpf) * torch.fft.rfftn(eta, dim=axes)
        assert (got - expect).abs().max() < 1e-4 * expect.abs().max()
    assert not torch.allclose(host.prepare_noise(lat, fi.pass_seed(11, 1)), host.prepare_noise(lat, fi.pass_seed(11, 2)))


def test_deterministic_for_a_fixed_seed(mod, setup):
    kind, model, lat, pos, neg = setup
    fm = attach(mod, model, iterations=2)
    a = ksampler(fm, lat, pos, neg, seed=7, steps=STEPS)
    assert torch.equal(a, ksampler(fm, lat, pos, neg, seed=7, steps=STEPS))
    assert not torch.equal(a, ksampler(fm, lat, pos, neg, seed=8, steps=STEPS))
    assert a.shape == lat.shape and a.dtype == torch.float32


def test_renoise_rule_per_model_family(mod):
    """DDPM-type EPS/v: the top of the schedule (the paper). Flow: flow_renoise_sigma, at unit power. EDM-like
    (zero-terminal-SNR v-prediction, SVD's EDM): the paper's noise/signal ratio at t = 999 of SD1.5, 14.61."""
    class VZsnr(comfy.model_sampling.ModelSamplingDiscrete, comfy.model_sampling.V_PREDICTION):
        pass

    class Flow(comfy.model_sampling.ModelSamplingDiscreteFlow, comfy.model_sampling.CONST):
        pass

    class EDM(comfy.model_sampling.ModelSamplingContinuousEDM, comfy.model_sampling.EDM):
        pass
    sd = tiny_models.tiny_animatediff().get_model_object("model_sampling")
    rule = mod.renoise_rule(sd, 0.9)
    assert (rule.name, rule.sigma, rule.whiten) == ("paper", float(sd.sigma_max), False)
    assert rule.a / math.hypot(rule.a, rule.b) == pytest.approx(ddpm_abar_T() ** 0.5, rel=1e-5)
    paper_ratio = ((1 - ddpm_abar_T()) / ddpm_abar_T()) ** 0.5
    zsnr = VZsnr(zsnr=True)
    assert float(zsnr.sigma_max) > 1000
    edm = EDM()
    edm.set_parameters(0.002, 700.0, 1.0)
    for ms in (zsnr, edm):
        rule = mod.renoise_rule(ms, 0.98)
        assert rule.name == "edm" and rule.whiten
        assert rule.b / rule.a == pytest.approx(paper_ratio, rel=1e-4)
    flow = Flow()
    rule = mod.renoise_rule(flow, 0.9)
    assert (rule.name, rule.whiten) == ("flow", True)
    assert (rule.sigma, rule.a, rule.b) == pytest.approx((0.9, 0.1, 0.9))


def test_refuses_a_latent_the_model_cannot_use_before_any_work(mod, host):
    model, _, pos, neg = tiny("ad_eps_fib")
    fm, calls = count_model_calls(attach(mod, model))
    with pytest.raises(host.NodeInputError, match=r"^\[FreeInit\] latent: this model works on frames in the batch"):
        ksampler(fm, torch.zeros(1, 4, 3, 8, 8), pos, neg)
    assert calls["calls"] == 0


def test_never_mutates_the_input_and_stacks_by_key(mod):
    model, lat, pos, neg = tiny("ad_eps_fib")
    before = {k: {kk: list(v) for kk, v in w.items()} for k, w in model.wrappers.items()}
    fm = attach(mod, model, iterations=2)
    assert {k: {kk: list(v) for kk, v in w.items()} for k, w in model.wrappers.items()} == before
    again = attach(mod, fm, iterations=3)  # a second FreeInit replaces the first: 3 passes, not 6
    outer = []
    other = again.clone()
    other.add_wrapper_with_key(pe.WrappersMP.OUTER_SAMPLE, "someone_else",
                               lambda ex, *a, **k: outer.append(1) or ex(*a, **k))
    counted, calls = count_model_calls(other)
    ksampler(counted, lat, pos, neg, steps=STEPS)
    plain, pcalls = count_model_calls(model)
    base = ksampler(plain, lat, pos, neg, steps=STEPS)
    assert calls["calls"] == 3 * pcalls["calls"] and len(outer) == 1  # the passes run inside OUTER_SAMPLE
    assert len(again.get_wrappers(mod.WRAPPER, mod.KEY)) == 1
    assert torch.equal(ksampler(model, lat, pos, neg, steps=STEPS), base)


def test_overall_progress_previews_and_cancel(mod, monkeypatch):
    model, lat, pos, neg = tiny("ad_eps_fib")
    monkeypatch.setattr(args, "preview_method", LatentPreviewMethod.Latent2RGB)
    seen = []
    monkeypatch.setattr(comfy.utils, "PROGRESS_BAR_HOOK", lambda v, t, p, node_id=None: seen.append((v, t, p)))
    fm = attach(mod, model, iterations=3)
    ksampler(fm, lat, pos, neg, steps=4)
    assert [(v, t) for v, t, _ in seen] == [(i, 12) for i in range(1, 13)]
    assert all(p is not None for _, _, p in seen)
    assert latent_preview.get_previewer(model.load_device, model.model.latent_format) is not None

    counted, calls = count_model_calls(fm)

    def cancel_in_pass_2(v, t, p, node_id=None):
        if v == 6:
            comfy.model_management.interrupt_current_processing(True)
    monkeypatch.setattr(comfy.utils, "PROGRESS_BAR_HOOK", cancel_in_pass_2)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            ksampler(counted, lat, pos, neg, steps=4)
    finally:
        comfy.model_management.interrupt_current_processing(False)
    assert 6 <= calls["calls"] <= 7  # stopped in pass 2: at most the call in flight when cancel came


def test_frequency_mix_node(mod, host):
    g = torch.Generator().manual_seed(0)
    for shape in [(6, 4, 8, 8), (2, 16, 5, 7, 9)]:
        low, high = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
        run = lambda f, ds, dt: result(mod.FrequencyMix.execute({"samples": low, "batch_index": [0]},
                                                                {"samples": high}, f, ds, dt, 4))[0]
        out = run("box", 1.0, 1.0)
        assert torch.allclose(out["samples"], low, atol=1e-5) and out["batch_index"] == [0]
        axes = (2, 3, 4) if len(shape) == 5 else (0, 2, 3)
        only_dc = run("ideal", 0.0, 0.0)["samples"]
        assert torch.allclose(only_dc, high - high.mean(axes, keepdim=True) + low.mean(axes, keepdim=True), atol=1e-5)
        gauss = run("gaussian", 0.25, 0.25)["samples"]
        assert torch.allclose(gauss, freq_mix(low, high, lowpass_for(shape, axes), axes))
    with pytest.raises(host.NodeInputError, match=r"^\[Frequency Mix\] low .* must have the same shape"):
        mod.FrequencyMix.execute({"samples": torch.zeros(4, 4, 8, 8)}, {"samples": torch.zeros(5, 4, 8, 8)},
                                 "gaussian", 0.25, 0.25, 4)
    half = mod.FrequencyMix.execute({"samples": torch.zeros(4, 4, 8, 8).half()}, {"samples": torch.ones(4, 4, 8, 8)},
                                    "gaussian", 0.25, 0.25, 4)
    assert result(half)[0]["samples"].dtype == torch.float16


@pytest.mark.parametrize("scheduler", comfy.samplers.KSampler.SCHEDULERS)
def test_every_scheduler_runs_the_passes_from_an_empty_latent(mod, scheduler):
    """From an empty latent at full denoise FreeInit runs under every scheduler ComfyUI lists, ddim_uniform
    (AnimateDiff's DDIM, first sigma 11.68 < sigma_max 14.61) included: N x the calls, each pass starting where
    the sampler's own schedule starts, and a result different from plain sampling."""
    model, lat, pos, neg = tiny("ad_eps_fib")
    plain_model, plain = count_model_calls(model)
    base = ksampler(plain_model, lat, pos, neg, seed=3, steps=STEPS, scheduler=scheduler)
    fm, rec = record_passes(attach(mod, model, iterations=3))
    fm, calls = count_model_calls(fm)
    out = ksampler(fm, lat, pos, neg, seed=3, steps=STEPS, scheduler=scheduler)
    assert calls["calls"] == 3 * plain["calls"] and len(rec) == 3
    assert all(torch.equal(r["sigmas"], rec[0]["sigmas"]) for r in rec)
    assert torch.isfinite(out).all() and not torch.allclose(out, base, atol=1e-4)


def test_ddim_uniform_rediffuses_to_the_top_of_the_schedule(mod, host):
    """The paper re-diffuses to t = 999 (sigma_max) whatever the sampler's first step, then samples from there."""
    model, lat, pos, neg = tiny("ad_eps_fib")
    m, passes = record_passes(attach(mod, model, iterations=2, filter="box", d_s=1.0, d_t=1.0))
    ksampler(m, lat, pos, neg, seed=5, steps=STEPS, scheduler="ddim_uniform")
    assert float(passes[0]["sigmas"][0]) < 0.9 * float(host.model_sampling(model).sigma_max)
    abar = ddpm_abar_T()
    expect = abar ** 0.5 * passes[0]["out"] + (1 - abar) ** 0.5 * host.prepare_noise(lat, 5)
    assert (passes[1]["noise"] - expect).abs().max() < 1e-5 * expect.abs().max()


def animatediff_like(model, offset=7):
    """A clone with an OUTER_SAMPLE wrapper that re-creates the noise from the seed, as AnimateDiff-Evolved's
    does for its non-default noise types and seed offsets."""
    m = model.clone()

    def wrapper(executor, noise, latent_image, sampler, sigmas, denoise_mask=None, callback=None,
                disable_pbar=False, seed=None, **kwargs):
        fresh = comfy.sample.prepare_noise(latent_image, seed + offset).to(noise.device)
        return executor(fresh, latent_image, sampler, sigmas, denoise_mask, callback, disable_pbar, seed, **kwargs)
    m.add_wrapper_with_key(pe.WrappersMP.OUTER_SAMPLE, "ADE_like", wrapper)
    return m


def test_order_with_animatediff_does_not_matter(mod):
    """FreeInit before or after an AnimateDiff-like wrapper that re-creates the noise: the same passes, the same
    result, and not the plain result."""
    model, lat, pos, neg = tiny("ad_eps_fib")
    plain_model, plain = count_model_calls(animatediff_like(model))
    base = ksampler(plain_model, lat, pos, neg, seed=2, steps=STEPS)
    after, calls_after = count_model_calls(attach(mod, animatediff_like(model), iterations=3))
    before, calls_before = count_model_calls(animatediff_like(attach(mod, model, iterations=3)))
    out_after = ksampler(after, lat, pos, neg, seed=2, steps=STEPS)
    out_before = ksampler(before, lat, pos, neg, seed=2, steps=STEPS)
    assert calls_after["calls"] == calls_before["calls"] == 3 * plain["calls"]
    assert torch.equal(out_after, out_before)
    assert not torch.allclose(out_before, base, atol=1e-4)


def test_skip_and_passes_are_shown_on_the_freeinit_node(mod, host, monkeypatch):
    """The node that made the patch shows why it was skipped (e.g. a Wan 2.2 two-stage KSamplerAdvanced pair)
    and which pass runs, not only the log."""
    shown = []
    monkeypatch.setattr(host, "executing_node_id", lambda: "42")
    model, lat, pos, neg = tiny("ad_eps_fib")
    fm = attach(mod, model, iterations=2)
    monkeypatch.setattr(host, "executing_node_id", lambda: None)
    monkeypatch.setattr(host, "show_text", lambda text, node_id=None: shown.append((text, node_id)))
    stage1 = ksampler_advanced(fm, lat, pos, neg, seed=2, steps=4, end=2, leftover=True)
    ksampler_advanced(fm, stage1, pos, neg, seed=2, steps=4, start=2, add_noise=False)
    assert [n for _, n in shown] == ["42", "42"]
    assert "FreeInit skipped: the sampler returns leftover noise" in shown[0][0] and "Wan 2.2" in shown[0][0]
    assert "FreeInit skipped: added noise is disabled" in shown[1][0]
    shown.clear()
    ksampler(fm, lat, pos, neg, seed=2, steps=STEPS)
    assert shown == [(f"FreeInit pass {i}/2 ({STEPS} steps)", "42") for i in (1, 2)]


# --- The analytic demo model: what FreeInit does to low-frequency statistics -----------------------------

RHO, ELL, T, HW, B = 0.9, 2.0, 16, 12, 4


def low_band_power(z, prior, lpf):
    """L-weighted spatio-temporal power of samples [B, C, T, H, W] over the prior's, in the filter's band."""
    t, h, w = z.shape[2:]
    weights = torch.full((w // 2 + 1,), 2.0, dtype=torch.float64)  # rfft bins that stand for two
    weights[0] = 1
    if w % 2 == 0:
        weights[-1] = 1
    power = (torch.fft.rfftn(z.double(), dim=(2, 3, 4)).abs() ** 2).mean((0, 1)) / (t * h * w)
    f = torch.fft.fft(torch.eye(t, dtype=torch.float64), dim=0)
    temporal = (f @ prior.temporal(t).to(f.dtype) @ f.conj().T).diagonal().real / t
    expect = temporal[:, None, None] * prior.spectrum(h, w)[None]
    return ((lpf * power * weights).sum() / (lpf * expect * weights).sum()).item()


def exact_ode_prediction(prior, lpf, a_s, b_s, a_r, b_r, passes, t=T, h=HW, w=HW):
    """The same statistic for an exact probability-flow ODE: per spatial frequency the sampler maps start noise z
    to x0 = G z with G = S^1/2 (a_s^2 S + b_s^2)^-1/2 c_s (S = that frequency's T x T prior covariance), and FreeInit
    sets z' = M (a_r x0 + b_r eps0) / c_r + (I - M) eta, M the temporal filter. Linear-Gaussian, so exact."""
    c_s, c_r = math.hypot(a_s, b_s), math.hypot(a_r, b_r)
    p, st = prior.spectrum(h, w), prior.temporal(t)
    e, v = torch.linalg.eigh(st)
    f = torch.fft.fft(torch.eye(t, dtype=torch.float64), dim=0)
    eye = torch.eye(t, dtype=torch.float64)
    num, den = torch.zeros(passes, dtype=torch.float64), 0.0
    for kh in range(h):
        for kw in range(w // 2 + 1):
            weight = 1 if kw == 0 or 2 * kw == w else 2
            lam = p[kh, kw] * e
            g = v @ torch.diag(lam.sqrt() / (a_s ** 2 * lam + b_s ** 2).sqrt() * c_s) @ v.T
            m = (torch.linalg.inv(f) @ torch.diag(lpf[:, kh, kw].to(f.dtype)) @ f).real
            band = lambda c: (lpf[:, kh, kw] * (f @ c.to(f.dtype) @ f.conj().T).diagonal().real).sum() / t
            den += weight * band(p[kh, kw] * st)
            u, q = g, torch.zeros_like(eye)   # x0 = u eps0 + (independent part with covariance q)
            for n in range(passes):
                num[n] += weight * band(u @ u.T + q)
                u = g @ m @ (a_r * u + b_r * eye) / c_r
                q = g @ (a_r ** 2 * m @ q @ m.T / c_r ** 2 + (eye - m) @ (eye - m).T) @ g.T
    return (num / den).tolist()


def demo_passes(mod, par, flow_sigma, sampler, scheduler, steps, passes=3):
    from training_free_video.nodes import demo
    model = demo.demo_model("video_5d", par, rho=RHO, ell=ELL)
    m, rec = record_passes(attach(mod, model, iterations=passes, flow_sigma=flow_sigma))
    empty = [[torch.zeros(1, 1, demo.EMBED_DIM), {}]]
    ksampler(m, torch.zeros(B, 16, T, HW, HW), empty, empty, seed=0, steps=steps, cfg=1.0, sampler=sampler,
             scheduler=scheduler)
    return [r["out"] for r in rec]


def test_demo_eps_freeinit_closes_the_low_frequency_gap(mod):
    """SD1.5's schedule leaks signal at its first step, so plain sampling from white noise under-produces the
    prior's low-frequency power (the paper's initialisation gap). One FreeInit iteration moves it to the prior;
    further passes keep adding (the exact-ODE prediction overshoots: 0.70, 0.98, 1.24)."""
    prior, lpf = VideoPrior(RHO, ELL), lowpass(T, HW, HW).double()
    got = [low_band_power(x, prior, lpf) for x in demo_passes(mod, "eps", 0.98, "dpmpp_2m", "karras", 10)]
    sigma = 14.614641
    theory = exact_ode_prediction(prior, lpf, 1.0, sigma, 1.0, sigma, 3)
    assert got[0] < 0.85                                   # the gap: plain sampling is short of the prior
    assert abs(got[1] - 1) < abs(got[0] - 1) / 2           # FreeInit moves it to the prior
    assert got[2] > got[1]                                 # and keeps adding, as the theory says
    assert_matches_theory(got, theory)


def assert_matches_theory(got, theory):
    """Plain sampling within 15 % of the exact ODE (a few-step solver's error), and FreeInit's change over plain
    sampling within 10 % of the predicted change (the solver's bias largely cancels in the ratio)."""
    assert abs(got[0] / theory[0] - 1) < 0.15, (got, theory)
    for g, t in zip(got[1:], theory[1:]):
        assert abs((g / got[0]) / (t / theory[0]) - 1) < 0.10, (got, theory)


@pytest.mark.parametrize("flow_sigma", [0.0, 0.5, 0.936, 0.98, 1.0])
def test_demo_flow_is_bounded_and_neutral_at_every_allowed_value(mod, flow_sigma):
    """A flow model starts from pure noise (no leakage): plain sampling already has the prior's low band, so the
    paper's premise does not hold. The flow rule keeps the next noise exactly white, so no allowed value makes the
    loop grow (the old rule reached 1e6 at 0.5): five passes stay within 10 % of plain sampling's low band. It
    still acts: the last pass differs from the first."""
    prior, lpf = VideoPrior(RHO, ELL), lowpass(T, HW, HW).double()
    outs = demo_passes(mod, "flow", flow_sigma, "euler", "normal", 6, 5)
    bands = [low_band_power(x, prior, lpf) for x in outs]
    assert all(abs(b / bands[0] - 1) < 0.10 for b in bands), bands
    assert not torch.allclose(outs[-1], outs[0], atol=1e-3)


def edm_demo(mod, passes):
    """The demo model on an SVD-like continuous EDM schedule (sigma 0.002 .. 700), EPS output."""
    from comfy_extras.nodes_model_advanced import ModelSamplingContinuousEDM
    from training_free_video.nodes import demo
    model = ModelSamplingContinuousEDM().patch(demo.demo_model("video_5d", "eps", rho=RHO, ell=ELL), "eps",
                                               700.0, 0.002)[0]
    m, rec = record_passes(attach(mod, model, iterations=passes))
    empty = [[torch.zeros(1, 1, demo.EMBED_DIM), {}]]
    ksampler(m, torch.zeros(B, 16, T, HW, HW), empty, empty, seed=0, steps=12, cfg=1.0, sampler="euler",
             scheduler="karras")
    return [r["out"] for r in rec]


def test_demo_edm_rule_is_bounded_and_neutral(mod):
    """EDM/SVD (sigma_max 700 keeps 0.14 % signal, no leakage): the white variant at the paper's noise/signal
    ratio; the low band stays within 10 % of plain sampling's, and the passes act."""
    prior, lpf = VideoPrior(RHO, ELL), lowpass(T, HW, HW).double()
    outs = edm_demo(mod, 3)
    bands = [low_band_power(x, prior, lpf) for x in outs]
    assert all(abs(b / bands[0] - 1) < 0.10 for b in bands), bands
    assert not torch.allclose(outs[-1], outs[0], atol=1e-3)
