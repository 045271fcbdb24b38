"""Tiny real ComfyUI models with seeded random weights (no weights exist here).

- tiny_wan():        ComfyUI's Wan 2.1 DiT (5D [B,16,T,H,W], flow, shift 8) loaded through
                     comfy.sd.load_diffusion_model_state_dict, auto-detected as WAN21.
- tiny_animatediff(): an SD1.5-config UNet (4 channels, frames in the batch, EPS) with ComfyUI's
                     temporal resblocks and temporal attention, so frames interact like an
                     AnimateDiff motion module. `parameterization="v_prediction"` gives the v variant.
"""
import torch

import comfy.latent_formats
import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.sd
import comfy.supported_models
from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel
from comfy.ldm.wan.model import WanModel

UNET_CONTEXT_DIM = 32
WAN_TEXT_DIM = 4096  # the Wan detector does not read text_dim from the weights


def _seeded_(module: torch.nn.Module, seed: int, scale: float = 0.05) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(module.named_parameters()):
            if name.endswith("norm.weight") or ".norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * scale)


def _patcher(model):
    return comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                            offload_device=comfy.model_management.unet_offload_device())


def tiny_wan(seed: int = 0):
    net = WanModel(model_type="t2v", dim=128, num_heads=1, num_layers=2, ffn_dim=256, in_dim=16, out_dim=16,
                   text_dim=WAN_TEXT_DIM, device="cpu", dtype=torch.float32,
                   operations=comfy.ops.disable_weight_init)
    _seeded_(net, seed, 0.02)
    sd = net.state_dict()
    model = comfy.sd.load_diffusion_model_state_dict(sd, model_options={"dtype": torch.float32})
    if model is None:
        raise RuntimeError("ComfyUI did not recognise the tiny Wan state dict")
    return model


class TemporalUNet(UNetModel):
    """ComfyUI's UNet with temporal layers; the video length is the batch of one cond/uncond chunk."""

    def forward(self, x, timesteps=None, context=None, y=None, control=None, transformer_options={}, **kwargs):
        chunks = len(transformer_options.get("cond_or_uncond", [0]))
        kwargs["num_video_frames"] = x.shape[0] // chunks
        return super().forward(x, timesteps, context, y, control, transformer_options, **kwargs)


UNET_CONFIG = dict(
    in_channels=4, out_channels=4, model_channels=32, num_res_blocks=[1, 1], channel_mult=[1, 2],
    transformer_depth=[1, 1], transformer_depth_output=[1, 1, 1, 1], transformer_depth_middle=1,
    num_heads=-1, num_head_channels=16, context_dim=UNET_CONTEXT_DIM, use_linear_in_transformer=True,
    use_spatial_transformer=True, legacy=False, adm_in_channels=None, image_size=32, dtype=torch.float32,
    use_temporal_resblock=True, use_temporal_attention=True, extra_ff_mix_layer=True,
    merge_strategy="fixed", merge_factor=0.5, video_kernel_size=[3, 1, 1],
)


class TinySD15(comfy.supported_models.SD15):
    unet_extra_config = {}


def tiny_animatediff(seed: int = 0, parameterization: str = "eps"):
    config = TinySD15(dict(UNET_CONFIG))
    model_type = {"eps": comfy.model_base.ModelType.EPS,
                  "v_prediction": comfy.model_base.ModelType.V_PREDICTION}[parameterization]
    model = comfy.model_base.BaseModel(config, model_type, unet_model=TemporalUNet)
    _seeded_(model.diffusion_model, seed)
    return _patcher(model)


def conditioning(dim: int, seed: int = 0, tokens: int = 4):
    """A CONDITIONING with a seeded random context of width `dim`."""
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, tokens, dim, generator=g), {}]]
