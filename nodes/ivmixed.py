"""IV-Mixed Sampler (Shao et al., ICLR 2025, arXiv:2410.04171): image/video zigzag steps as a GUIDER."""
import math

import torch
from comfy_api.latest import io

import comfy.hooks
import comfy.model_management
import comfy.model_patcher
import comfy.sampler_helpers
import comfy.samplers

from . import host
from .core import zigzag

NODE = "IV-Mixed Guider"
PARTS = zigzag.SUBSTEPS + 1     # progress units per step: the zigzag's sub-steps and the main step
PROBE_SIGMAS = (0.1, 1.0, 7.0)
# Samplers that evaluate the model between schedule sigmas before a step ends (heun's predictor, UniPC's corrector)
# or that damp the zigzag's effect by more than 30 % against Euler (measured on every sampler ComfyUI lists, see
# tests/host/test_ivmixed.py): the guider refuses them and names the others.
REFUSED_SAMPLERS = frozenset({"heun", "heunpp2", "sa_solver_pece", "uni_pc", "uni_pc_bh2", "dpm_fast", "dpm_adaptive",
                              "dpm_2_ancestral", "dpmpp_2s_ancestral", "dpmpp_2s_ancestral_cfg_pp", "lcm"})
SAMPLERS_THAT_WORK = tuple(n for n in comfy.samplers.SAMPLER_NAMES if n not in REFUSED_SAMPLERS)
COST = ("Each mixed step costs 2 image-model and 3 video-model CFG evaluations (each a cond + uncond pair) "
        "against 1 video-model evaluation for a plain step: about 4-5x the time of plain sampling.")


def noise_param(model) -> zigzag.NoiseParam:
    """a(s), b(s) and c_in(s) of the model's parameterization (EPS, v, flow...), from its model_sampling."""
    ms = host.model_sampling(model)
    return zigzag.NoiseParam(
        a=lambda s: ms.noise_scaling(s, torch.zeros_like(s), torch.ones_like(s)),
        b=lambda s: ms.noise_scaling(s, torch.ones_like(s), torch.zeros_like(s)),
        c_in=lambda s: ms.calculate_input(s, torch.ones_like(s)))


def check_models(video_model, image_model) -> None:
    """Both models must share one latent space and one noise parameterization, so one sigma means one level."""
    fv, fi = host.latent_format(video_model), host.latent_format(image_model)
    if fv.latent_channels != fi.latent_channels:
        host.fail(NODE, f"the video model's latents have {fv.latent_channels} channels but the image model's have "
                        f"{fi.latent_channels}: pick an image model of the same family (SD1.5 with AnimateDiff).")
    if type(fv) is not type(fi):
        host.fail(NODE, f"the video model uses the {type(fv).__name__} latent format but the image model uses "
                        f"{type(fi).__name__}: both must decode with the same VAE.")
    pv, pi = noise_param(video_model), noise_param(image_model)
    for s in map(torch.tensor, PROBE_SIGMAS):
        if not all(torch.isclose(f(s), g(s)) for f, g in ((pv.a, pi.a), (pv.b, pi.b), (pv.c_in, pi.c_in))):
            host.fail(NODE, "the two models use different noise parameterizations (e.g. an EPS model and a flow "
                            "model), so one sigma would mean two noise levels: pair models of one family.")


def cfg_denoise(model, x, sigma, cond, uncond, cfg, model_options):
    """ComfyUI's sampling_function for the image model, kept apart: AnimateDiff-Evolved swaps that function, while
    it samples, for one that needs the video model's state. Always evaluates both conds; cfg may be negative."""
    out = comfy.samplers.calc_cond_batch(model, [cond, uncond], x, sigma, model_options)
    for fn in model_options.get("sampler_pre_cfg_function", []):
        out = fn({"conds": [cond, uncond], "conds_out": out, "cond_scale": cfg, "timestep": sigma, "input": x,
                  "sigma": sigma, "model": model, "model_options": model_options})
    return comfy.samplers.cfg_function(model, out[0], out[1], cfg, x, sigma, model_options=model_options,
                                       cond=cond, uncond=uncond)


def function_name(sampler) -> str:
    fn = getattr(sampler, "sampler_function", None)
    return getattr(fn, "__name__", type(sampler).__name__)


WORKING_FUNCTIONS = frozenset(function_name(comfy.samplers.sampler_object(n)) for n in SAMPLERS_THAT_WORK)


class StepBoundaries:
    """Stands for the sampler's model: at the first evaluation of each mixed step (at that step's sigma, matched
    with a tolerance, in order) it runs the zigzag and moves the sampler's own latent there, in place, before the
    evaluation. So the sampler's step starts from the zigzagged latent, as in the paper, whatever the sampler."""

    def __init__(self, model_k, sigmas, guider):
        self.model_k, self.guider = model_k, guider
        self.sigmas, self.levels = sigmas, sigmas.tolist()
        self.mixed = set(zigzag.mixed_steps(len(sigmas) - 1, *guider.window))
        self.next = 0

    def __getattr__(self, name):  # samplers read inner_model, sigmas, noise... of the model they get
        return getattr(self.model_k, name)

    def step_of(self, sigma: torch.Tensor):
        """The step this evaluation starts, or None (a sub-step, a midpoint, per-frame sigmas)."""
        s = sigma.flatten()
        if s.numel() > 1 and not torch.allclose(s, s[0]):
            return None
        s = float(s[0])
        for j in range(self.next, len(self.levels) - 1):
            if math.isclose(s, self.levels[j], rel_tol=1e-4, abs_tol=1e-7):
                self.next = j + 1
                return j
            if s > self.levels[j]:
                break
        return None

    def __call__(self, x, sigma, *args, **kwargs):
        i = self.step_of(sigma)
        if i in self.mixed:
            x.copy_(self.guider.zigzag_step(i, x, sigma, self.sigmas, kwargs.get("model_options", {}),
                                            kwargs.get("seed")))
        return self.model_k(x, sigma, *args, **kwargs)


class ZigzagSampler(comfy.samplers.KSAMPLER):
    """A ComfyUI sampler whose model is wrapped in StepBoundaries; refuses samplers that cannot take it."""

    def __init__(self, guider, sampler):
        name = function_name(sampler)
        if not isinstance(sampler, comfy.samplers.KSAMPLER) or name not in WORKING_FUNCTIONS:
            host.fail(NODE, f"the sampler '{name.removeprefix('sample_')}' cannot take the zigzag at its step "
                            "boundaries (it evaluates the model off its schedule before a step ends, or damps the "
                            f"zigzag's effect): pick one of {', '.join(SAMPLERS_THAT_WORK)}.")
        fn = sampler.sampler_function

        def sampler_function(model_k, x, sigmas, *args, **kwargs):
            return fn(StepBoundaries(model_k, sigmas, guider), x, sigmas, *args, **kwargs)
        sampler_function.__name__ = fn.__name__
        super().__init__(sampler_function, sampler.extra_options, sampler.inpaint_options)


class IVMixedGuider(comfy.samplers.CFGGuider):
    """A CFGGuider over the video model whose sampler runs the zigzag at the start of each step in the mixing
    interval (ZigzagSampler), moving the sampler's own latent before its step."""

    def __init__(self, video_model, image_model, cfg, omega_image, omega_video, start, end, every, variant, labels):
        super().__init__(video_model)
        self.set_cfg(cfg)
        self.image_model = image_model
        self.omega = {zigzag.IMAGE: omega_image, zigzag.VIDEO: omega_video}
        self.window = (start, end)
        self.every = every
        self.plan = zigzag.plan(variant, labels)
        # two ModelPatchers over one BaseModel (AnimateDiff-Evolved's clone with the motion module)
        self.shared = video_model is not image_model and video_model.is_clone(image_model)
        self.image_original_conds = {}
        self.node_id = host.executing_node_id()  # the guider node: notices show there, not only on the sampler

    def set_image_conds(self, positive, negative):
        self.image_original_conds = {"positive": comfy.sampler_helpers.convert_cond(positive),
                                     "negative": comfy.sampler_helpers.convert_cond(negative)}

    def sample(self, noise, latent_image, sampler, sigmas, denoise_mask=None, callback=None, disable_pbar=False,
               seed=None, **kwargs):
        if latent_image.is_nested:
            host.fail(NODE, "nested (multi-part) latents are not supported: sample the video latent alone.")
        if zigzag.mixed_steps(len(sigmas) - 1, *self.window):
            sampler = ZigzagSampler(self, sampler)
        self.layout = host.video_layout(self.model_patcher, latent_image, NODE)
        im = self.image_model
        if self.layout.is_5d:
            host.notice("ivmixed-5d", f"{NODE}: 5D latent, the image model sees each latent frame as a one-frame "
                                      "video (experimental: with a causal VAE only frame 0 is an image latent).",
                        self.node_id)
        if host.sigma_max(self.model_patcher) > host.sigma_max(im) * 1.001:
            host.notice("ivmixed-clamp", f"{NODE}: the video model's schedule reaches sigma "
                                         f"{host.sigma_max(self.model_patcher):.1f}, the image model's only "
                                         f"{host.sigma_max(im):.1f}: above that the image model is told its highest "
                                         "timestep (same sigma, clamped label).", self.node_id)
        self.image_conds = {k: [c.copy() for c in v] for k, v in self.image_original_conds.items()}
        comfy.samplers.preprocess_conds_hooks(self.image_conds)
        self.image_options = comfy.model_patcher.create_model_options_clone(im.model_options)
        hook_mode = im.hook_mode
        try:
            if comfy.samplers.get_total_hook_groups_in_conds(self.image_conds) <= 1:
                im.hook_mode = comfy.hooks.EnumHookMode.MinVram
            comfy.sampler_helpers.prepare_model_patcher(im, self.image_conds, self.image_options)
            comfy.samplers.filter_registered_hooks_on_conds(self.image_conds, self.image_options)
            return super().sample(noise, latent_image, sampler, sigmas, denoise_mask, callback, disable_pbar, seed,
                                  **kwargs)
        finally:
            im.hook_mode = hook_mode
            im.restore_hook_patches()
            del self.image_conds, self.image_options

    def outer_sample(self, noise, latent_image, sampler, sigmas, denoise_mask=None, callback=None,
                     disable_pbar=False, seed=None, **kwargs):
        im = self.image_model
        shape = zigzag.frames_as_images(noise, self.layout).shape
        # the image model first: with a shared BaseModel, loading the video model last leaves it in place
        self.image_base, self.image_conds, self.image_loaded = comfy.sampler_helpers.prepare_sampling(
            im, shape, self.image_conds, self.image_options)
        comfy.samplers.cast_to_load_options(self.image_options, device=im.load_device, dtype=im.model_dtype())
        try:
            im.pre_run()
            return super().outer_sample(noise, latent_image, sampler, sigmas, denoise_mask, callback, disable_pbar,
                                        seed, **kwargs)
        finally:
            im.cleanup()
            comfy.sampler_helpers.cleanup_models(self.image_conds, self.image_loaded)
            comfy.samplers.cast_to_load_options(self.image_options, device=im.offload_device)
            del self.image_base, self.image_loaded

    def inner_sample(self, noise, latent_image, device, sampler, sigmas, denoise_mask, callback, disable_pbar, seed,
                     **kwargs):
        lay, base = self.layout, self.image_base
        latent = base.process_latent_in(latent_image) if torch.count_nonzero(latent_image) > 0 else latent_image
        mask = None if denoise_mask is None else zigzag.frames_as_images(denoise_mask, lay)
        noise_i, extra = zigzag.frames_as_images(noise, lay), {}
        if host.accepts_kwarg(comfy.samplers.process_conds, "latent_shapes"):
            extra["latent_shapes"] = [noise_i.shape]
        self.image_conds = comfy.samplers.process_conds(base, noise_i, self.image_conds, device,
                                                        zigzag.frames_as_images(latent, lay), mask, seed, **extra)
        self.image_run_options = comfy.model_patcher.create_model_options_clone(self.image_options)
        self.image_run_options["transformer_options"]["sample_sigmas"] = sigmas
        self.active = self.model_patcher
        self.sigma_min = float(host.model_sampling(self.model_patcher).sigma_min)
        self.param = noise_param(self.model_patcher)
        self.progress = None if disable_pbar else host.Progress((len(sigmas) - 1) * PARTS, self.model_patcher)
        try:
            return super().inner_sample(noise, latent_image, device, sampler, sigmas, denoise_mask, callback,
                                        disable_pbar, seed, **kwargs)
        finally:
            del self.image_run_options, self.progress

    def predict_noise(self, x, timestep, model_options={}, seed=None):
        return self.video_denoise(x, timestep, self.cfg, model_options, seed)

    def zigzag_step(self, i, x, timestep, sigmas, model_options, seed):
        """The latent after step i's zigzag, from x at sigmas[i] back to sigmas[i]."""
        lv = zigzag.levels(sigmas, i, self.sigma_min)
        image_slot = zigzag.slot_model(i, self.every)

        def denoise(st, xr, s):
            sigma = torch.full_like(timestep, float(s))
            if st.slot == zigzag.IMAGE and image_slot == zigzag.IMAGE:
                return self.image_denoise(xr, sigma, st.sign * self.omega[zigzag.IMAGE])
            # the video model in its own slot, or standing in for the image model with its own omega
            return self.video_denoise(xr, sigma, st.sign * self.omega[zigzag.VIDEO], model_options, seed)

        return zigzag.zigzag(x, lv, self.plan, denoise, self.param, after=lambda k, d: self.tick(i, k, d))

    def video_denoise(self, x, sigma, cfg, model_options, seed):
        self.use(self.model_patcher, self.loaded_models)
        return comfy.samplers.sampling_function(self.inner_model, x, sigma, self.conds.get("negative"),
                                                self.conds.get("positive"), cfg, model_options=model_options, seed=seed)

    def image_denoise(self, x, sigma, cfg):
        self.use(self.image_model, self.image_loaded)
        lay, c = self.layout, self.image_conds
        d = cfg_denoise(self.image_base, zigzag.frames_as_images(x, lay), zigzag.sigma_as_images(sigma, lay),
                        c.get("positive"), c.get("negative"), cfg, self.image_run_options)
        return zigzag.images_as_frames(d, lay)

    def use(self, patcher, loaded):
        """Make `patcher` the one its BaseModel runs. With a shared BaseModel, loading one clone makes ComfyUI swap
        weight patches, object patches (model_sampling) and injections (motion modules) over from the other."""
        if (self.shared and self.active is not patcher) or patcher.current_loaded_device() != patcher.load_device:
            comfy.model_management.load_models_gpu([patcher] + loaded)
            self.active = patcher
        if self.shared:
            patcher.model.current_patcher = patcher  # hooks are looked up there

    def tick(self, i, k, x0):
        """After zigzag sub-step k of step i: progress inside the step (the sampler marks its end), cancel."""
        if self.progress is None:
            return host.check_cancel()
        self.progress.update_to(i * PARTS + k + 1, x0)


class IVMixedGuiderNode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        omega = "CFG scale of the {} model in the zigzag: +omega when denoising, -omega when inverting (paper: 4). " \
                "Negative values are used as given. Adds to the main CFG: the zigzag acts like ~2*omega extra guidance."
        return io.Schema(
            node_id="TFV_IVMixedGuider",
            display_name=NODE,
            category="training-free-video/ivmixed",
            description="IV-Mixed Sampler (ICLR 2025): at each step an image model (per-frame detail) and the video "
                        "model (coherence) take turns denoising and inverting the latent before the video model's "
                        "ordinary step. Plug into SamplerCustomAdvanced: the zigzag moves the sampler's latent at "
                        "each step boundary, so most samplers work (euler/ddim reproduce the paper exactly); "
                        "heun-like, UniPC, dpm_fast/adaptive, lcm and midpoint-ancestral samplers are refused. "
                        + COST,
            inputs=[
                io.Model.Input("video_model", tooltip="The video model (e.g. SD1.5 + an AnimateDiff motion module)."),
                io.Conditioning.Input("video_positive", tooltip="Positive prompt for the video model."),
                io.Conditioning.Input("video_negative", tooltip="Negative prompt for the video model."),
                io.Model.Input("image_model", tooltip="The image model, in the video model's latent space (SD1.5 "
                                                      "for AnimateDiff; the plain checkpoint works). It sees the "
                                                      "frames as a batch of images and never the motion module."),
                io.Conditioning.Input("image_positive", tooltip="Positive prompt for the image model."),
                io.Conditioning.Input("image_negative", tooltip="Negative prompt for the image model."),
                io.Float.Input("cfg", default=7.5, min=-100.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Main CFG of the video model's ordinary step (paper: 7.5 for AnimateDiff)."),
                io.Float.Input("omega_image", default=4.0, min=-100.0, max=100.0, step=0.1, round=0.01,
                               tooltip=omega.format("image")),
                io.Float.Input("omega_video", default=4.0, min=-100.0, max=100.0, step=0.1, round=0.01,
                               tooltip=omega.format("video")),
                io.Float.Input("start_percent", default=0.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Mixing runs from step ceil(start*steps) (paper: 0, all steps)."),
                io.Float.Input("end_percent", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="...up to, not including, step ceil(end*steps) (paper: 1). The last step never "
                                       "mixes. start >= end: plain CFG sampling, bit for bit."),
                io.Int.Input("video_in_image_slot_every", default=0, min=0, max=1000,
                             tooltip="Every n-th step (i % n == n-1) the video model takes the image model's slots "
                                     "(official 'zz'; 0 = never, the AnimateDiff default; 1 = video model only)."),
                io.Combo.Input("variant", options=list(zigzag.VARIANTS), default="IVIV",
                               tooltip="Order of the four sub-steps (I/V = image/video model, in order: denoise, "
                                       "denoise, invert, invert for IVIV). IVIV is the paper's IV-IV."),
                io.Combo.Input("timestep_labels", options=list(zigzag.LABEL_MODES), default=zigzag.OFFICIAL,
                               tooltip="official_animatediff (default): the image model is told one step lower "
                                       "than the latent's level, as in the official AnimateDiff file behind the "
                                       "paper's headline number. coherent: each model is told the latent's true "
                                       "noise level (the official ModelScope/VideoCrafter files)."),
            ],
            outputs=[io.Guider.Output(tooltip="For SamplerCustomAdvanced. " + COST)],
        )

    @classmethod
    def execute(cls, video_model, video_positive, video_negative, image_model, image_positive, image_negative, cfg,
                omega_image, omega_video, start_percent, end_percent, video_in_image_slot_every, variant,
                timestep_labels) -> io.NodeOutput:
        host.check_inputs(cls, locals())
        check_models(video_model, image_model)
        guider = IVMixedGuider(video_model, image_model, cfg, omega_image, omega_video, start_percent, end_percent,
                               video_in_image_slot_every, variant, timestep_labels)
        guider.set_conds(video_positive, video_negative)
        guider.set_image_conds(image_positive, image_negative)
        return io.NodeOutput(guider)


NODES = [IVMixedGuiderNode]
