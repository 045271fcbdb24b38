"""FreeInit: Bridging Initialization Gap in Video Diffusion Models (Wu et al., ECCV 2024, arXiv 2312.07537)."""
import math
from dataclasses import dataclass, field

import torch
from comfy_api.latest import io

import comfy.patcher_extension

from . import host
from .core import freeinit as fi
from .core.layout import spectral_axes
from .core.spectral import FILTERS, freq_mix, lowpass_for

NAME = "FreeInit"
KEY = "training_free_video.freeinit"
WRAPPER = comfy.patcher_extension.WrappersMP.SAMPLER_SAMPLE  # inside AnimateDiff-Evolved's OUTER_SAMPLE noise
CATEGORY = "training-free-video/freeinit"
MIN_SIGNAL = 0.01  # signal fraction a/sqrt(a^2+b^2) at the schedule's top below which the paper's rule erases x0
PAPER_RATIO = 14.6146  # noise/signal ratio sqrt((1-abar)/abar) at t = 999 of SD1.5's schedule: the paper's level


def coefficients(ms, sigma: float) -> tuple[float, float]:
    """(a, b) of the model's forward process x_sigma = a x0 + b eps, read off its own noise_scaling."""
    s = torch.tensor(sigma, dtype=torch.float64)
    one, zero = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    a = ms.noise_scaling(s, zero.clone(), one.clone(), max_denoise=False)
    b = ms.noise_scaling(s, one.clone(), zero.clone(), max_denoise=False)
    return float(a), float(b)


@dataclass(frozen=True)
class Rule:
    """Where the previous result is re-diffused: coefficients (a, b), and whether the next noise is kept exactly
    white (the heuristic rules: the previous result sets only its low frequencies' phases, so nothing can grow)."""
    name: str
    sigma: float
    a: float
    b: float
    whiten: bool


def renoise_rule(ms, flow_sigma: float) -> Rule:
    """paper: DDPM-type models (EPS, v) re-diffuse to the top of their schedule, as the paper does.
    flow: flow-matching models keep no signal at their top: the white variant at flow sigma `flow_sigma`.
    edm: EDM/SVD and zero-terminal-SNR models (almost no signal at their top): the white variant at the paper's
    noise/signal ratio."""
    top = float(ms.sigma_max)
    a, b = coefficients(ms, 0.5)
    if abs(a + b - 1) < 1e-6 and top <= 1 + 1e-6:  # x = (1 - s) x0 + s eps
        a, b = coefficients(ms, flow_sigma)
        return Rule("flow", flow_sigma, a, b, True)
    a, b = coefficients(ms, top)
    if a / math.hypot(a, b) >= MIN_SIGNAL:
        return Rule("paper", top, a, b, False)

    def ratio(sigma):
        a, b = coefficients(ms, sigma)
        return b / a if a > 0 else math.inf
    sigma = fi.level_for_ratio(ratio, PAPER_RATIO, top)
    return Rule("edm", sigma, *coefficients(ms, sigma), True)


def pass_callback(callback, done: int, total: int):
    """A sampler callback for one pass that reports overall progress (and previews) and honours cancel."""
    def cb(step, x0, x, steps):
        host.check_cancel()
        if callback is not None:
            callback(done + step, x0, x, total)
    return cb


@dataclass(frozen=True)
class FreeInit:
    """SAMPLER_SAMPLE wrapper: runs the sampler `iterations` times, re-initialising the noise between passes.
    It sits inside every OUTER_SAMPLE wrapper (AnimateDiff-Evolved re-creates the noise there), so the node's
    place in the model chain does not matter."""
    iterations: int = 5
    filter: str = "gaussian"
    d_s: float = 0.25
    d_t: float = 0.25
    butterworth_order: int = 4
    fast_mode: bool = False
    flow_renoise_sigma: float = 0.98
    node_id: str | None = field(default=None, compare=False)

    def pass_through(self, ms, noise, latent, sigmas, denoise_mask, owner: str | None = None) -> str | None:
        """Why FreeInit must leave this sampling alone, or None."""
        if self.iterations <= 1:
            return "iterations is 1"
        if owner:
            return f"{owner} runs its own loop through the sampler"
        if noise.ndim not in (4, 5):
            return "the sampler got several latents packed together"
        if len(sigmas) < 2:
            return "the schedule has no steps"
        if float(sigmas[-1]) != 0:
            return ("the sampler returns leftover noise (the schedule stops before sigma 0; two-stage samplings "
                    "such as Wan 2.2 A14B's need FreeInit in one sampler that runs from noise to the end)")
        if not torch.any(noise):
            return "added noise is disabled"
        if denoise_mask is not None:
            return "a noise mask (inpainting) is set"
        start, top = float(sigmas[0]), float(ms.sigma_max)
        if torch.any(latent) and start < top and not math.isclose(start, top, rel_tol=1e-5):
            return (f"partial denoise: the latent is not empty and the schedule starts at sigma {start:.4g}, below "
                    f"the model's maximum {top:.4g} (denoise < 1 or a later start step)")
        return None

    def schedules(self, sigmas):
        steps = len(sigmas) - 1
        if not self.fast_mode:
            return [sigmas] * self.iterations
        return [fi.subsample(sigmas, fi.fast_steps(steps, self.iterations, i)) for i in range(self.iterations)]

    def show(self, text: str) -> None:
        host.show_text(text, node_id=self.node_id)

    def __call__(self, executor, guider, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
                 disable_pbar=False, *args, **kwargs):
        model = guider.model_patcher
        ms = host.model_sampling(model)
        options = extra_args.get("model_options", {}).get("transformer_options", {})
        latent = noise if latent_image is None else latent_image
        reason = self.pass_through(ms, noise, latent, sigmas, denoise_mask, options.get(host.OWN_LOOP))
        if reason is not None:
            host.log_once(f"freeinit:{reason.split(':')[0]}", f"FreeInit changes nothing here: {reason}.")
            self.show(f"FreeInit skipped: {reason}.")
            return executor(guider, sigmas, extra_args, callback, noise, latent_image, denoise_mask, disable_pbar,
                            *args, **kwargs)

        layout = host.video_layout(model, noise, NAME, min_frames=1, name="latent")
        axes = spectral_axes(layout)
        device = noise.device
        lpf = lowpass_for(noise.shape, axes, self.filter, self.d_s, self.d_t, self.butterworth_order, device)
        rule = renoise_rule(ms, self.flow_renoise_sigma)
        eps = noise.to(torch.float32)
        seed = extra_args.get("seed") or 0
        schedules = self.schedules(sigmas)
        total, done = sum(len(s) - 1 for s in schedules), 0
        note = "" if rule.name == "paper" else f", {rule.name} rule at sigma {rule.sigma:.4g}: experimental"

        z = noise
        for i, pass_sigmas in enumerate(schedules):
            host.check_cancel()
            if i > 0:
                eta = host.prepare_noise(noise, fi.pass_seed(seed, i)).to(device)
                z = (fi.reinit_white if rule.whiten else fi.reinit)(x, eps, eta, rule.a, rule.b, lpf, axes)
                z = z.to(noise.dtype)
            if "sample_sigmas" in options:
                options["sample_sigmas"] = pass_sigmas
            steps = len(pass_sigmas) - 1
            self.show(f"FreeInit pass {i + 1}/{self.iterations} ({steps} steps{note})")
            x = executor(guider, pass_sigmas, extra_args, pass_callback(callback, done, total), z, latent_image,
                         denoise_mask, disable_pbar, *args, **kwargs)
            done += steps
        if "sample_sigmas" in options:
            options["sample_sigmas"] = sigmas
        return x


def filter_inputs():
    """The filter widgets shared by FreeInit and Frequency Mix."""
    return [
        io.Combo.Input("filter", options=list(FILTERS), default="gaussian",
                       tooltip="Low-pass filter shape. gaussian (the paper's choice): soft, gain 0.61 at the "
                               "cut-off. butterworth: flatter pass band, gain 0.5 at the cut-off. ideal: hard "
                               "ellipsoid of radii d_t, d_s, d_s. box: hard box |f_t| <= d_t, |f_h|, |f_w| <= d_s."),
        io.Float.Input("d_s", default=0.25, min=0.0, max=1.0, step=0.01,
                       tooltip="Spatial cut-off as a fraction of the highest spatial frequency (1 = Nyquist). "
                               "Lower frequencies are kept (FreeInit: from the previous pass; Frequency Mix: from "
                               "the low input). Paper: 0.25."),
        io.Float.Input("d_t", default=0.25, min=0.0, max=1.0, step=0.01,
                       tooltip="Temporal cut-off as a fraction of the highest temporal (frame-to-frame) "
                               "frequency. Paper: 0.25. 0 keeps only the average over frames."),
        io.Int.Input("butterworth_order", default=4, min=1, max=16,
                     tooltip="Butterworth filter only: steepness of the edge (higher = closer to ideal). Paper: 4."),
    ]


class FreeInitNode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_FreeInit",
            display_name="FreeInit",
            category=CATEGORY,
            description="Improves temporal consistency of video models (FreeInit, ECCV 2024): every sampler that "
                        "uses the returned model samples several times; between passes the result is re-noised "
                        "with the same starting noise and its low spatio-temporal frequencies become the next "
                        "pass's starting noise. Costs `iterations` samplings (about half with fast_mode).",
            inputs=[
                io.Model.Input("model", tooltip="A video model (AnimateDiff, Wan, ...). It is not changed."),
                io.Int.Input("iterations", default=5, min=1, max=10,
                             tooltip="Total sampling passes; 1 = off. Each pass costs one full sampling. The "
                                     "paper uses 5 (4 FreeInit iterations after the first pass); 2-3 gets most "
                                     "of the gain."),
                *filter_inputs(),
                io.Boolean.Input("fast_mode", default=False,
                                 tooltip="Coarse-to-fine: pass i of N uses int(steps*i/N) steps (the last pass "
                                         "all), costing about (N+1)/2 samplings instead of N. May lose detail."),
                io.Float.Input("flow_renoise_sigma", default=0.98, min=0.0, max=1.0, step=0.001,
                               tooltip="Flow-matching models only (Wan, HunyuanVideo; experimental): their first "
                                       "sigma keeps nothing of the previous result, so it is re-noised at this flow "
                                       "sigma instead, scaled to unit power so no value can blow up. Lower = the "
                                       "previous pass steers more (low frequencies stronger and smoother); 1 = passes "
                                       "independent. EPS/v models use the paper's rule, EDM/SVD the paper's level."),
            ],
            outputs=[io.Model.Output(tooltip="The model with FreeInit attached; use it in any sampler node.")],
        )

    @classmethod
    def execute(cls, model, iterations, filter, d_s, d_t, butterworth_order, fast_mode, flow_renoise_sigma):
        host.check_inputs(cls, locals())
        m = model.clone()
        for kind in (WRAPPER, comfy.patcher_extension.WrappersMP.OUTER_SAMPLE):  # one FreeInit per model
            m.remove_wrappers_with_key(kind, KEY)
        m.add_wrapper_with_key(WRAPPER, KEY, FreeInit(iterations, filter, d_s, d_t, butterworth_order, fast_mode,
                                                      flow_renoise_sigma, host.executing_node_id()))
        return io.NodeOutput(m)


class FrequencyMix(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_FrequencyMix",
            display_name="Frequency Mix",
            category=CATEGORY,
            description="Low spatio-temporal frequencies of one latent with the high frequencies of another, "
                        "with FreeInit's filters. With high = an empty latent it shows what the filter keeps.",
            inputs=[
                io.Latent.Input("low", tooltip="Latent whose low frequencies are kept."),
                io.Latent.Input("high", tooltip="Latent whose high frequencies are kept (same shape as low)."),
                *filter_inputs(),
            ],
            outputs=[io.Latent.Output(tooltip="The mixed latent (dtype and extra fields of low).")],
        )

    @classmethod
    def execute(cls, low, high, filter, d_s, d_t, butterworth_order):
        host.check_inputs(cls, locals())
        a, b = low["samples"], high["samples"]
        if a.is_nested or b.is_nested:
            host.fail("Frequency Mix", "nested (several-part) latents are not supported: mix each part alone.")
        if a.shape != b.shape:
            host.fail("Frequency Mix", f"low {tuple(a.shape)} and high {tuple(b.shape)} must have the same "
                                       "shape: make both latents with the same size and frame count.")
        axes = spectral_axes(host.video_layout(None, a, "Frequency Mix", min_frames=1))
        lpf = lowpass_for(a.shape, axes, filter, d_s, d_t, butterworth_order, a.device)
        out = low.copy()
        out["samples"] = freq_mix(a, b, lpf, axes)
        return io.NodeOutput(out)


NODES = [FreeInitNode, FrequencyMix]
