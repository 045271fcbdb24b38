"""Weight-free demo model: the analytic video prior of core/analytic.py as a real ComfyUI MODEL,
with a toy text encoder and a tiny decoder to RGB, so every node can be tried on a CPU in seconds."""
import hashlib
import weakref

import torch
import torch.nn.functional as F
from comfy_api.latest import io

import comfy.latent_formats
import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.patcher_extension
import comfy.supported_models_base

from . import host
from .core.analytic import VideoPrior
from .core.layout import FRAMES_IN_BATCH, VIDEO_5D

CATEGORY = "training-free-video/demo"
DECODE = "Demo Decode"
EMBED_DIM = 16
PARAMETERIZATIONS = {
    "eps": comfy.model_base.ModelType.EPS,
    "v_prediction": comfy.model_base.ModelType.V_PREDICTION,
    "flow": comfy.model_base.ModelType.FLOW,
}
DemoDecoder = io.Custom("TFV_DEMO_DECODER")


class AnalyticNet(torch.nn.Module):
    """Stands where a UNet/DiT would: returns the exact model output (eps, v or flow velocity)."""
    per_frame_timesteps = True  # takes timesteps [B, T] in 5D (see host.per_frame_timesteps)

    def __init__(self, rho=0.9, ell=2.0, mean_strength=1.0, layout=FRAMES_IN_BATCH,
                 parameterization="eps", device=None, operations=None, **kwargs):
        super().__init__()
        self.prior = VideoPrior(rho=rho, ell=ell)
        self.mean_strength = mean_strength
        self.layout = layout
        self.parameterization = parameterization
        self.dtype = torch.float32
        self.owner_ref = None  # set by demo_model(): a weak reference to the BaseModel (its model_sampling
        # may be patched); a strong one would make a cycle that keeps the model alive until a full gc

    @property
    def owner(self):
        return self.owner_ref()

    def frame_sigmas(self, t, transformer_options, batch, frames):
        """Per-(video, frame) sigma [batch, frames]: per-frame timesteps if given, else the sampler's sigmas."""
        ms = self.owner.model_sampling
        if t.ndim == 2:  # per-frame timesteps [B, T] (FIFO on 5D models): invert ms.timestep
            sigma = t.float() / ms.multiplier if hasattr(ms, "multiplier") else ms.sigma(t.float())
            return sigma.reshape(batch, frames)
        sigma = transformer_options.get("sigmas", None)  # exact, but one cond/uncond chunk's worth
        sigma = ms.sigma(t.float()) if sigma is None else sigma.float().flatten()
        if self.layout == VIDEO_5D:
            sigma = sigma[:, None].expand(-1, frames)
        else:
            sigma = sigma.reshape(-1, frames)                 # frames in the batch: one sigma per frame
        return sigma.repeat(batch // sigma.shape[0], 1)

    def mean(self, context, batch, frames, channels):
        """Prior mean per (video, frame, channel) from the toy prompt embedding."""
        if context is None:
            return None
        e = F.pad(context.float().mean(1)[:, :EMBED_DIM], (0, max(0, EMBED_DIM - context.shape[-1])))
        e = e.repeat(1, -(-channels // EMBED_DIM))[:, :channels] * self.mean_strength
        if self.layout == VIDEO_5D:
            return e.reshape(batch, 1, channels).expand(batch, frames, channels)
        return e.expand(batch * frames, channels).reshape(batch, frames, channels)

    def forward(self, xc, t, context=None, transformer_options={}, **kwargs):
        return comfy.patcher_extension.WrapperExecutor.new_class_executor(
            self._forward, self, comfy.patcher_extension.get_all_wrappers(
                comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, transformer_options)
        ).execute(xc, t, context, transformer_options, **kwargs)

    def _forward(self, xc, t, context=None, transformer_options={}, **kwargs):
        want = 5 if self.layout == VIDEO_5D else 4
        if xc.ndim != want:
            rows = len(transformer_options.get("cond_or_uncond", [0]))  # CFG stacks cond and uncond
            shape = (xc.shape[0] // rows, *xc.shape[1:])
            raise ValueError(f"[Demo Video Model] this demo model was loaded with layout '{self.layout}' and "
                             f"needs {want}D latents, got {shape}: change the loader's layout or "
                             "the empty latent node.")
        if self.layout == VIDEO_5D:
            batch, c, frames = xc.shape[:3]
            x = xc.movedim(2, 1)                                        # [B, T, C, H, W]
        else:
            batch = len(transformer_options.get("cond_or_uncond", [0]))
            frames, c = xc.shape[0] // batch, xc.shape[1]
            x = xc.reshape(batch, frames, *xc.shape[1:])
        sigma = self.frame_sigmas(t, transformer_options, batch, frames).to(x.device)
        s = sigma[..., None, None, None]
        if self.parameterization == "flow":
            a, b = 1 - sigma, sigma
        else:                                                          # EPS and v: x_noisy = x0 + sigma*eps
            x = x * (s ** 2 + 1).sqrt()
            a, b = torch.ones_like(sigma), sigma
        d = self.prior.denoise(x, a, b, self.mean(context, batch, frames, c))
        if self.parameterization == "v_prediction":
            out = (x / (s ** 2 + 1) - d) * (s ** 2 + 1).sqrt() / s
        else:                                                          # eps, and flow's velocity
            out = (x - d) / s
        out = out.to(xc.dtype)
        return out.movedim(1, 2) if self.layout == VIDEO_5D else out.reshape(xc.shape)


class DemoConfig(comfy.supported_models_base.BASE):
    unet_extra_config = {}
    memory_usage_factor = 0.01

    def __init__(self, unet_config, latent_format, sampling_settings):
        super().__init__(unet_config)
        self.latent_format = latent_format()
        self.sampling_settings = sampling_settings


def demo_model(layout=FRAMES_IN_BATCH, parameterization="eps", rho=0.9, ell=2.0, shift=3.0,
               mean_strength=1.0):
    """A ModelPatcher around the analytic model: SD1.5-like 4-channel frames-in-batch latents, or
    Wan-like 16-channel 5D latents; EPS / v-prediction on SD's beta schedule, or flow with `shift`."""
    fmt = comfy.latent_formats.Wan21 if layout == VIDEO_5D else comfy.latent_formats.SD15
    settings = {"shift": shift, "multiplier": 1000} if parameterization == "flow" else {}
    unet = dict(rho=rho, ell=ell, mean_strength=mean_strength, layout=layout, parameterization=parameterization)
    config = DemoConfig(unet, fmt, settings)
    model = comfy.model_base.BaseModel(config, PARAMETERIZATIONS[parameterization], unet_model=AnalyticNet)
    model.diffusion_model.owner_ref = weakref.ref(model)
    return comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                            offload_device=comfy.model_management.unet_offload_device())


def toy_embedding(text: str) -> torch.Tensor:
    """A deterministic [1, 1, EMBED_DIM] embedding: the mean of per-word seeded vectors (empty text: zeros)."""
    words = text.lower().split()
    if not words:
        return torch.zeros(1, 1, EMBED_DIM)
    vecs = []
    for w in words:
        seed = int.from_bytes(hashlib.sha256(w.encode()).digest()[:8], "little")
        vecs.append(torch.randn(EMBED_DIM, generator=torch.Generator().manual_seed(seed)))
    e = torch.stack(vecs).mean(0)
    return (e / e.norm().clamp_min(1e-6) * EMBED_DIM ** 0.5 * 0.8).reshape(1, 1, EMBED_DIM)


class Decoder:
    """Latent -> RGB frames: undo the latent format, project channels to RGB, upsample 8x."""

    def __init__(self, latent_format, channels: int, layout: str):
        self.latent_format, self.channels, self.layout = latent_format, channels, layout
        g = torch.Generator().manual_seed(1234)
        self.rgb = torch.linalg.qr(torch.randn(max(channels, 3), 3, generator=g))[0][:channels] * 0.9

    def problem(self, latent) -> str | None:
        """What stops this decoder from decoding `latent` (layout, channels), as '<input>: ...: <fix>', or None."""
        want = 5 if self.layout == VIDEO_5D else 4
        shape = tuple(latent.shape)
        if latent.ndim != want:
            made = ("[B, C, T, H, W] (5D video latents)" if want == 5 else
                    "[frames, C, H, W] (frames in the batch)")
            return (f"samples: this decoder belongs to a {self.layout} demo model, which makes {made}, but the "
                    f"latent has shape {shape}: decode latents of that demo model, or load the demo model with "
                    "the layout of this latent.")
        if shape[1] != self.channels:
            return (f"samples: the latent has {shape[1]} channels but this decoder expects {self.channels}: "
                    "connect the decoder of the demo model that made the latent.")
        return None

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        z = self.latent_format.process_in(latent.float())
        if z.ndim == 5:
            z = z.movedim(2, 1).flatten(0, 1)                          # [B*T, C, H, W]
        rgb = torch.einsum("nchw,cd->ndhw", z, self.rgb.to(z.device))
        rgb = F.interpolate(rgb, scale_factor=8, mode="bilinear", align_corners=False)
        return torch.sigmoid(rgb).movedim(1, -1).cpu()                 # IMAGE: [frames, H, W, 3]


class DemoModelLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_DemoModelLoader",
            display_name="Demo Video Model (analytic, no weights)",
            category=CATEGORY,
            description="A video model that needs no download: its data are Gaussian 'drifting clouds' with a known "
                        "prior, so its denoiser is exact. Try every node of this pack on a CPU in seconds.",
            inputs=[
                io.Combo.Input("layout", options=[FRAMES_IN_BATCH, VIDEO_5D], default=FRAMES_IN_BATCH,
                               tooltip="frames_in_batch: 4-channel [frames, C, H, W] latents like AnimateDiff "
                                       "(use Empty Latent Image with batch size = frames). video_5d: 16-channel "
                                       "[B, C, T, H, W] latents like Wan 2.1 (use EmptyHunyuanLatentVideo)."),
                io.Combo.Input("parameterization", options=list(PARAMETERIZATIONS), default="eps",
                               tooltip="What the network predicts: eps and v_prediction use SD1.5's beta schedule; "
                                       "flow is rectified flow like Wan (sigma from 1 to 0, shifted)."),
                io.Float.Input("temporal_correlation", default=0.9, min=0.0, max=0.99, step=0.01,
                               tooltip="Correlation of neighbouring frames in the data: higher = slower motion."),
                io.Float.Input("spatial_scale", default=2.0, min=0.5, max=8.0, step=0.1,
                               tooltip="Size of the clouds, in latent pixels (x8 image pixels)."),
                io.Float.Input("shift", default=3.0, min=1.0, max=20.0, step=0.1,
                               tooltip="Flow models only: the sigma shift of the schedule (Wan uses 3 to 8)."),
            ],
            outputs=[io.Model.Output(tooltip="The analytic demo model."),
                     DemoDecoder.Output("decoder", display_name="decoder", tooltip="Turns this model's latents into RGB frames "
                                                           "(Demo Decode node).")],
        )

    @classmethod
    def execute(cls, layout, parameterization, temporal_correlation, spatial_scale, shift):
        host.check_inputs(cls, locals())
        model = demo_model(layout, parameterization, temporal_correlation, spatial_scale, shift)
        fmt = model.model.latent_format
        return io.NodeOutput(model, Decoder(fmt, fmt.latent_channels, layout))


class DemoTextEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_DemoTextEncode",
            display_name="Demo Text Encode (toy)",
            category=CATEGORY,
            description="A toy prompt encoder for the demo model: each word pulls the colour of the clouds "
                        "its own way, so prompts, CFG and prompt schedules have a visible effect.",
            inputs=[io.String.Input("text", multiline=True, default="sunset clouds",
                                    tooltip="Any words; the same words always give the same colour.")],
            outputs=[io.Conditioning.Output(tooltip="Conditioning for the demo model.")],
        )

    @classmethod
    def execute(cls, text):
        host.check_inputs(cls, locals())
        return io.NodeOutput([[toy_embedding(text), {}]])


class DemoDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_DemoDecode",
            display_name=DECODE,
            category=CATEGORY,
            description="Decodes demo-model latents (either layout) into RGB frames, like a VAE decode.",
            inputs=[DemoDecoder.Input("decoder", tooltip="From the Demo Video Model loader."),
                    io.Latent.Input("samples", tooltip="Latent video from a sampler, made for the same demo model "
                                                       "(its layout and channel count).")],
            outputs=[io.Image.Output(tooltip="Frames as an IMAGE batch.")],
        )

    @classmethod
    def execute(cls, decoder, samples):
        host.check_inputs(cls, locals())
        z = samples["samples"]
        if z.is_nested:
            host.fail(DECODE, "samples: nested (several-part) latents are not supported: decode the video part.")
        problem = decoder.problem(z)
        if problem:
            host.fail(DECODE, problem)
        return io.NodeOutput(decoder.decode(z))


NODES = [DemoModelLoader, DemoTextEncode, DemoDecode]
