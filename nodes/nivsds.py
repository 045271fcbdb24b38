"""I4VGen's anchor animation (Guo et al., "I4VGen: Image as Free Stepping Stone for Text-to-Video
Generation", arXiv 2406.02230): a static video from an anchor image latent, then NI-VSDS."""
import torch
from comfy_api.latest import io
from einops import repeat

import comfy.model_management
import comfy.samplers

from . import host
from .core import sds
from .core.layout import FRAMES_IN_BATCH, VIDEO_5D

CATEGORY = "training-free-video/i4vgen"
STATIC_NAME = "Static Video from Image Latent"
NIVSDS_NAME = "NI-VSDS (animate anchor)"


def static_video(samples: torch.Tensor, index: int, frames: int, layout: str) -> torch.Tensor:
    """Image `index` of an image latent [B,C,H,W] (or [B,C,1,H,W]) repeated into a static video."""
    if samples.ndim == 5 and samples.shape[2] == 1:
        samples = samples[:, :, 0]
    elif samples.ndim != 4:
        host.fail(STATIC_NAME, f"samples: needs an image latent [B, C, H, W] (or [B, C, 1, H, W]), got "
                               f"{tuple(samples.shape)}: connect the anchor image's latent, not a video.")
    if not 0 <= index < samples.shape[0]:
        host.fail(STATIC_NAME, f"batch_index: {index} is outside the batch of {samples.shape[0]} image(s): "
                               f"use 0 to {samples.shape[0] - 1}.")
    pattern = "c h w -> 1 c t h w" if layout == VIDEO_5D else "c h w -> t c h w"
    return repeat(samples[index], pattern, t=frames).contiguous()  # a copy, never a view of the input


def signal_noise(model_sampling, sigmas: torch.Tensor):
    """(a, b) with x_t = a*x0 + b*noise at each sigma, read off the model's own noise_scaling."""
    one, zero = torch.ones(1), torch.zeros(1)
    a = torch.stack([model_sampling.noise_scaling(s, zero, one).reshape(()) for s in sigmas])
    b = torch.stack([model_sampling.noise_scaling(s, one, zero).reshape(()) for s in sigmas])
    return a.float(), b.float()


def plan(model, steps: int, scheduler: str, fraction: float, etas: list[float], max_weight: float):
    """The optimised noise levels (coarse to fine), their (a, b), and the clamped and raw pull weights."""
    ms = host.model_sampling(model)
    sigmas = comfy.samplers.calculate_sigmas(ms, scheduler, steps)[:sds.iterations(steps, fraction)]
    a, b = signal_noise(ms, sigmas)
    lam, raw = sds.pull_weights(a, b, sds.step_sizes(etas, len(sigmas)), max_weight)
    return sigmas, a, b, lam, raw


class NIVSDSSampler(comfy.samplers.Sampler):
    """Runs NI-VSDS where a sampler would run, so the guider, model loading and model wrappers
    (AnimateDiff-Evolved, ControlNets) are ComfyUI's own; `latent_image` is the static video x0."""

    def __init__(self, a, b, lam, callback=None):
        self.a, self.b, self.lam, self.callback = a, b, lam, callback

    def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
               disable_pbar=False, **kwargs):
        opts = {"model_options": extra_args["model_options"], "seed": extra_args.get("seed")}

        def denoise(x, sigma):
            return model_wrap(x, sigma * x.new_ones([x.shape[0]]), **opts)
        return sds.ni_vsds(denoise, latent_image, noise, sigmas, self.a, self.b, self.lam, self.callback)


def animate(model, positive, negative, cfg: float, samples: torch.Tensor, seed: int, steps: int, scheduler: str,
            fraction: float, etas: list[float], max_weight: float, callback=None) -> torch.Tensor:
    """NI-VSDS on a static video latent; callback(k, x0) sees x0 (model space) after each level."""
    sigmas, a, b, lam, raw = plan(model, steps, scheduler, fraction, etas, max_weight)
    clamped = [k for k in range(len(raw)) if raw[k] > max_weight]
    if clamped:
        host.notice("nivsds-clamp", f"{NIVSDS_NAME}: pull weight clamped to {max_weight} at step(s) {clamped} "
                                    f"(unclamped up to {float(raw.max()):.2f}).")
    noise = host.prepare_noise(samples, seed)
    progress = host.Progress(len(sigmas), model)

    def step(k, x0):
        if callback is not None:
            callback(k, x0)
        progress.update(1, x0)
    guider = comfy.samplers.CFGGuider(host.own_loop(model, NIVSDS_NAME))
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg)
    out = guider.sample(noise, samples, NIVSDSSampler(a, b, lam, step), sigmas, seed=seed)
    return out.to(comfy.model_management.intermediate_device())


def check(model, latent: dict, step_sizes: str) -> list[float]:
    """The latent and the step sizes checked before any work (host.check_inputs has checked the widgets);
    returns the parsed step sizes."""
    x = latent["samples"]
    if "noise_mask" in latent:
        host.fail(NIVSDS_NAME, "latent: the latent has a noise mask, which NI-VSDS does not support: "
                               "remove Set Latent Noise Mask.")
    if (x.ndim == 4 and x.shape[0] == 1) or (x.ndim == 5 and x.shape[2] == 1):
        host.fail(NIVSDS_NAME, f"latent: got an image latent {tuple(x.shape)}: NI-VSDS animates a static video, so put "
                               f"'{STATIC_NAME}' between the anchor image latent and this node.")
    host.video_layout(model, x, NIVSDS_NAME, name="latent")
    if not torch.count_nonzero(x):
        host.fail(NIVSDS_NAME, "latent: the latent is all zeros (an empty latent): connect a static video made from "
                               f"your anchor image with '{STATIC_NAME}'.")
    try:
        return sds.parse_step_sizes(step_sizes)
    except ValueError as e:
        host.fail(NIVSDS_NAME, f"step_sizes: {e}.")


class StaticVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_StaticVideo",
            display_name=STATIC_NAME,
            category=CATEGORY,
            description="I4VGen: repeats one image latent into a static video latent (every frame the same), "
                        "ready for NI-VSDS to animate. No model evaluations.",
            inputs=[
                io.Latent.Input("samples", tooltip="The anchor image latent [B, C, H, W] (e.g. the winner of Rank "
                                                   "by Reward, a text-to-image KSampler output or VAE Encode of a "
                                                   "photo). A one-frame 5D latent [B, C, 1, H, W] works too."),
                io.Int.Input("batch_index", default=0, min=0, max=4095,
                             tooltip="Which image of the batch becomes the anchor (0 = the first)."),
                io.Int.Input("frames", default=16, min=2, max=1024,
                             tooltip="Latent frames of the video. AnimateDiff: the video length (paper: 16). "
                                     "Wan and other causal-VAE models: (length - 1) / 4 + 1, e.g. 21 for 81 frames."),
                io.Combo.Input("layout", options=[FRAMES_IN_BATCH, VIDEO_5D], default=FRAMES_IN_BATCH,
                               tooltip="Match your video model. frames_in_batch: [frames, C, H, W] for AnimateDiff "
                                       "(SD1.5 image latents). video_5d: [1, C, frames, H, W] for native video "
                                       "models such as Wan 2.1, HunyuanVideo, LTXV."),
            ],
            outputs=[io.Latent.Output(tooltip="The static video latent: the anchor in every frame.")],
        )

    @classmethod
    def execute(cls, samples, batch_index, frames, layout):
        host.check_inputs(cls, locals())
        return io.NodeOutput({"samples": static_video(samples["samples"], batch_index, frames, layout)})


class NIVSDS(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_NIVSDS",
            display_name=NIVSDS_NAME,
            category=CATEGORY,
            description="I4VGen's noise-invariant video score distillation: animates a static video by pulling "
                        "it, coarse to fine, toward the video model's denoised estimate under one fixed noise. "
                        "One model evaluation (with CFG) per optimised step; no backpropagation. Then regenerate "
                        "with a KSampler (paper, AnimateDiff: denoise 1.0 from the same schedule).",
            inputs=[
                io.Model.Input("model", tooltip="The video model (AnimateDiff-Evolved model, Wan, ...)."),
                io.Conditioning.Input("positive", tooltip="The prompt, as for the KSampler."),
                io.Conditioning.Input("negative", tooltip="The negative prompt, as for the KSampler."),
                io.Latent.Input("latent", tooltip="The static video from 'Static Video from Image Latent' (or "
                                                  "VAE Encode of a repeated image)."),
                io.Int.Input("seed", default=0, min=0, max=0xffffffffffffffff, control_after_generate=True,
                             tooltip="Seed of the one fixed noise used at every step (the 'noise-invariant' part)."),
                io.Int.Input("steps", default=25, min=1, max=10000,
                             tooltip="Length of the noise schedule NI-VSDS walks down (paper: 25 for AnimateDiff, "
                                     "the same as the sampler's steps; 50 for LaVie)."),
                io.Float.Input("cfg", default=7.5, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance of the denoised estimate (paper: 7.5 AnimateDiff, "
                                       "7.0 LaVie)."),
                io.Combo.Input("scheduler", options=comfy.samplers.SCHEDULER_NAMES, default="ddim_uniform",
                               tooltip="Noise schedule. ddim_uniform gives the paper's DDIM timesteps "
                                       "(961, 921, ... for 25 steps)."),
                io.Float.Input("fraction", default=0.6, min=0.0, max=1.0, step=0.01,
                               tooltip="Part of the schedule to optimise, from the noisiest level down: the "
                                       "first int(steps x fraction) + 1 levels (paper: 0.6, i.e. 16 of 25)."),
                io.String.Input("step_sizes", default="10, 10, 10, 1",
                                tooltip="Step size eta per optimised level, comma separated; the last value "
                                        "repeats (paper: '10, 10, 10, 1' AnimateDiff, '1' LaVie)."),
                io.Float.Input("max_weight", default=1.0, min=0.01, max=1.0, step=0.01,
                               tooltip="Safety clamp on the pull weight eta*sigma/(1+sigma^2) of each step: 1 "
                                       "stops a step at the denoised video instead of overshooting past it (the "
                                       "paper's step sizes reach 1.3 on SD's scaled_linear schedule)."),
            ],
            outputs=[io.Latent.Output(tooltip="The animated video latent, same shape; regenerate it with a KSampler.")],
        )

    @classmethod
    def execute(cls, model, positive, negative, latent, seed, steps, cfg, scheduler, fraction, step_sizes,
                max_weight):
        host.check_inputs(cls, locals())
        etas = check(model, latent, step_sizes)
        out = animate(model, positive, negative, cfg, latent["samples"], seed, steps, scheduler, fraction, etas,
                      max_weight)
        return io.NodeOutput({"samples": out})


NODES = [StaticVideo, NIVSDS]
