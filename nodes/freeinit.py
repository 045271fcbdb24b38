"""FreeInit: Bridging Initialization Gap in Video Diffusion Models (Wu et al., ECCV 2024, arXiv 2312.07537)."""
import math
from dataclasses import dataclass

import torch
from comfy_api.latest import io

import comfy.patcher_extension

from . import host
from .core import freeinit as fi
from .core.layout import spectral_axes
from .core.spectral import FILTERS, freq_mix, lowpass_for

NAME = "FreeInit"
KEY = "training_free_video.freeinit"
CATEGORY = "training-free-video/freeinit"
MIN_SIGNAL = 0.01  # signal fraction a/sqrt(a^2+b^2) below which re-diffusing to the first sigma erases x0


def coefficients(ms, sigma: float) -> tuple[float, float]:
    """(a, b) of the model's forward process x_sigma = a x0 + b eps, read off its own noise_scaling."""
    s = torch.tensor(sigma, dtype=torch.float64)
    one, zero = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    a = ms.noise_scaling(s, zero.clone(), one.clone(), max_denoise=False)
    b = ms.noise_scaling(s, one.clone(), zero.clone(), max_denoise=False)
    return float(a), float(b)


def renoise_level(ms, sigma_start: float, flow_sigma: float) -> float:
    """Where the previous result is re-diffused: the first sigma, as in the paper, unless the model keeps
    (almost) no signal there (flow and zero-terminal-SNR models); then the level with the noise/signal
    ratio of the flow sigma `flow_sigma`, i.e. flow_sigma / (1 - flow_sigma)."""
    a, b = coefficients(ms, sigma_start)
    if flow_sigma >= 1 or a / math.hypot(a, b) >= MIN_SIGNAL:
        return sigma_start

    def ratio(sigma):
        a, b = coefficients(ms, sigma)
        return b / a if a > 0 else math.inf
    return fi.level_for_ratio(ratio, flow_sigma / (1 - flow_sigma), sigma_start)


def pass_callback(callback, done: int, total: int):
    """A sampler callback for one pass that reports overall progress (and previews) and honours cancel."""
    def cb(step, x0, x, steps):
        host.check_cancel()
        if callback is not None:
            callback(done + step, x0, x, total)
    return cb


@dataclass(frozen=True)
class FreeInit:
    """OUTER_SAMPLE wrapper: runs the sampler `iterations` times, re-initialising the noise between passes."""
    iterations: int = 5
    filter: str = "gaussian"
    d_s: float = 0.25
    d_t: float = 0.25
    butterworth_order: int = 4
    fast_mode: bool = False
    flow_renoise_sigma: float = 0.98

    def pass_through(self, ms, noise, sigmas, kwargs, owner: str | None = None) -> str | None:
        """Why FreeInit must leave this sampling alone, or None."""
        if self.iterations <= 1:
            return "iterations is 1"
        if owner:
            return f"{owner} runs its own loop through the sampler"
        if len(kwargs.get("latent_shapes") or [()]) > 1:
            return "the sampler got several latents packed together"
        if len(sigmas) < 2:
            return "the schedule has no steps"
        if float(sigmas[-1]) != 0:
            return "the sampler returns leftover noise (the schedule stops before sigma 0)"
        start, top = float(sigmas[0]), float(ms.sigma_max)
        if start < top and not math.isclose(start, top, rel_tol=1e-5):
            return (f"partial denoise: the schedule starts at sigma {start:.4g}, below the model's maximum "
                    f"{top:.4g} (denoise < 1 or a later start step)")
        if not torch.any(noise):
            return "added noise is disabled"
        return None

    def schedules(self, sigmas):
        steps = len(sigmas) - 1
        if not self.fast_mode:
            return [sigmas] * self.iterations
        return [fi.subsample(sigmas, fi.fast_steps(steps, self.iterations, i)) for i in range(self.iterations)]

    def __call__(self, executor, noise, latent_image, sampler, sigmas, denoise_mask=None, callback=None,
                 disable_pbar=False, seed=None, **kwargs):
        guider = executor.class_obj
        model = guider.model_patcher
        ms = host.model_sampling(model)
        owner = guider.model_options.get("transformer_options", {}).get(host.OWN_LOOP)
        reason = self.pass_through(ms, noise, sigmas, kwargs, owner)
        if reason is not None:
            host.log_once(f"freeinit:{reason.split(':')[0]}", f"FreeInit changes nothing here: {reason}.")
            return executor(noise, latent_image, sampler, sigmas, denoise_mask, callback, disable_pbar, seed, **kwargs)

        axes = spectral_axes(host.video_layout(model, latent_image, NAME, min_frames=1))
        device = model.load_device
        lpf = lowpass_for(noise.shape, axes, self.filter, self.d_s, self.d_t, self.butterworth_order, device)
        a, b = coefficients(ms, renoise_level(ms, float(sigmas[0]), self.flow_renoise_sigma))
        eps = noise.to(device, torch.float32)
        fmt = host.latent_format(model)
        conds = getattr(guider, "conds", None)
        schedules = self.schedules(sigmas)
        total, done = sum(len(s) - 1 for s in schedules), 0

        z = noise
        for i, pass_sigmas in enumerate(schedules):
            host.check_cancel()
            if i > 0:
                x0 = fmt.process_in(x.to(device, torch.float32))
                eta = host.prepare_noise(latent_image, fi.pass_seed(seed or 0, i))
                z = fi.reinit(x0, eps, eta, a, b, lpf, axes).to(noise.dtype)
            if isinstance(conds, dict):  # each pass processes fresh copies, as one sampling would
                guider.conds = {k: [c.copy() for c in v] for k, v in conds.items()}
            steps = len(pass_sigmas) - 1
            host.show_text(f"FreeInit pass {i + 1}/{self.iterations} ({steps} steps)")
            x = executor(z, latent_image, sampler, pass_sigmas, denoise_mask, pass_callback(callback, done, total),
                         disable_pbar, seed, **kwargs)
            done += steps
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
                               tooltip="Flow-matching (Wan, Hunyuan) and zero-terminal-SNR models only, whose first "
                                       "sigma keeps nothing of the previous result: the flow sigma at which it is "
                                       "re-noised instead. Lower = the previous pass steers more, but strong low "
                                       "frequencies grow each pass (0.936, SD1.5's level, doubles them on the demo "
                                       "model); 1 = passes independent. Other models use the paper's first step."),
            ],
            outputs=[io.Model.Output(tooltip="The model with FreeInit attached; use it in any sampler node.")],
        )

    @classmethod
    def execute(cls, model, iterations, filter, d_s, d_t, butterworth_order, fast_mode, flow_renoise_sigma):
        if filter not in FILTERS:
            host.fail(NAME, f"unknown filter '{filter}': pick one of {', '.join(FILTERS)}.")
        m = model.clone()
        m.remove_wrappers_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, KEY)  # one FreeInit per model
        m.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, KEY,
                               FreeInit(iterations, filter, d_s, d_t, butterworth_order, fast_mode, flow_renoise_sigma))
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
        a, b = low["samples"], high["samples"]
        if a.is_nested or b.is_nested:
            host.fail("Frequency Mix", "nested (several-part) latents are not supported: mix each part alone.")
        if a.shape != b.shape:
            host.fail("Frequency Mix", f"low {tuple(a.shape)} and high {tuple(b.shape)} must have the same "
                                       "shape: make both latents with the same size and frame count.")
        if filter not in FILTERS:
            host.fail("Frequency Mix", f"unknown filter '{filter}': pick one of {', '.join(FILTERS)}.")
        axes = spectral_axes(host.video_layout(None, a, "Frequency Mix", min_frames=1))
        lpf = lowpass_for(a.shape, axes, filter, d_s, d_t, butterworth_order, a.device)
        out = low.copy()
        out["samples"] = freq_mix(a, b, lpf, axes)
        return io.NodeOutput(out)


NODES = [FreeInitNode, FrequencyMix]
