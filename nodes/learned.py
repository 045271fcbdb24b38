"""Learned demo video models: small real ComfyUI models trained on the synthetic world of core/world.py
(tests/train_learned.py; weights in nodes/learned/), so that each method's effect on objects, identity and
motion can be seen and measured on a CPU:
- "video_unet": SD1.5-config UNet with temporal layers, frames in the batch, EPS on SD's scaled-linear schedule;
- "image_unet": its image-only sibling (no temporal layers), trained on single frames (IV-Mixed's image model);
- "wan21": a tiny Wan 2.1 DiT (5D, flow), loaded through comfy.sd.load_diffusion_model_state_dict.
Prompts go through a fixed word table (colour, shape, direction slots); latents decode by the world's code."""
import os

import torch
from comfy_api.latest import io
from safetensors.torch import load_file

import comfy.latent_formats
import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.ops
import comfy.sd
import comfy.supported_models
from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

from . import host
from .core import world
from .core.reward_models import RewardModel

CATEGORY = "training-free-video/demo"
WEIGHTS = os.path.join(os.path.dirname(__file__), "learned")
MODELS = ("video_unet", "image_unet", "wan21")
TEXT_DIM = 32
WAN_TEXT_DIM = 4096   # ComfyUI's Wan detector assumes umT5's width; our table fills the first TEXT_DIM
SLOTS = (tuple(world.COLOURS), world.SHAPES, tuple(world.DIRECTIONS))
WorldText = io.Custom("TFV_WORLD_TEXT")
WorldDecoder = io.Custom("TFV_DEMO_DECODER")

UNET = dict(
    in_channels=4, out_channels=4, model_channels=32, num_res_blocks=[1, 1], channel_mult=[1, 1],
    transformer_depth=[0, 1], transformer_depth_output=[0, 0, 1, 1], transformer_depth_middle=1,
    num_heads=-1, num_head_channels=32, context_dim=TEXT_DIM, use_linear_in_transformer=True,
    use_spatial_transformer=True, legacy=False, adm_in_channels=None, image_size=8, dtype=torch.float32)
TEMPORAL = dict(use_temporal_resblock=True, use_temporal_attention=True, extra_ff_mix_layer=True,
                merge_strategy="learned", merge_factor=0.0, video_kernel_size=[3, 1, 1])
WAN = dict(model_type="t2v", dim=128, num_heads=1, num_layers=2, ffn_dim=256, in_dim=16, out_dim=16)


class WorldLatent(comfy.latent_formats.LatentFormat):
    """The world's latent code: no scaling or shift (the code already has about unit scale)."""
    scale_factor = 1.0

    def __init__(self, channels: int):
        self.latent_channels = channels
        self.latent_dimensions = 2 if channels == 4 else 3


class WorldUNet(UNetModel):
    """ComfyUI's UNet; with temporal layers the video length is the batch of one cond/uncond chunk."""

    def forward(self, x, timesteps=None, context=None, y=None, control=None, transformer_options={}, **kwargs):
        chunks = len(transformer_options.get("cond_or_uncond", [0]))
        kwargs["num_video_frames"] = x.shape[0] // chunks
        return super().forward(x, timesteps, context, y, control, transformer_options, **kwargs)


class WorldSD15(comfy.supported_models.SD15):
    unet_extra_config = {}
    memory_usage_factor = 0.01


def patcher(model):
    return comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                            offload_device=comfy.model_management.unet_offload_device())


def build_unet(temporal: bool):
    """The BaseModel (EPS, SD1.5's scaled-linear schedule) with untrained weights."""
    config = WorldSD15(dict(UNET, **(TEMPORAL if temporal else {})))
    config.latent_format = WorldLatent(4)
    model = comfy.model_base.BaseModel(config, comfy.model_base.ModelType.EPS,
                                       unet_model=WorldUNet if temporal else UNetModel)
    model.latent_format = config.latent_format
    return model


def build_wan_net(text_dim: int = TEXT_DIM):
    from comfy.ldm.wan.model import WanModel
    return WanModel(**WAN, text_dim=text_dim, device="cpu", dtype=torch.float32,
                    operations=comfy.ops.disable_weight_init)


def wan_state_dict_for_comfy(sd: dict) -> dict:
    """Widen the text projection from TEXT_DIM to the width ComfyUI's Wan detector assumes (zeros beyond)."""
    sd = {k: v.float() for k, v in sd.items()}
    w = sd["text_embedding.0.weight"]
    sd["text_embedding.0.weight"] = torch.cat([w, w.new_zeros(w.shape[0], WAN_TEXT_DIM - w.shape[1])], 1)
    return sd


def load_model(name: str):
    """A ModelPatcher of the learned model `name` (one of MODELS) from nodes/learned/<name>.safetensors."""
    path = os.path.join(WEIGHTS, f"{name}.safetensors")
    if name not in MODELS:
        host.fail("Learned Demo Model", f"unknown model '{name}': pick one of {list(MODELS)}.")
    if not os.path.isfile(path):
        host.fail("Learned Demo Model", f"missing weights {path}: reinstall the pack (the weights ship with it) or "
                                        "run tests/train_learned.py.")
    sd = load_file(path)
    if name == "wan21":
        m = comfy.sd.load_diffusion_model_state_dict(wan_state_dict_for_comfy(sd), model_options={"dtype": torch.float32})
        if m is None:
            host.fail("Learned Demo Model", f"ComfyUI did not recognise {path} as a Wan 2.1 model.")
        m.model.latent_format = WorldLatent(16)
        return m
    model = build_unet(temporal=name == "video_unet")
    model.diffusion_model.load_state_dict({k: v.float() for k, v in sd.items()})
    return patcher(model)


class TextTable:
    """The prompt encoder: one fixed seeded vector per word in three slots (colour, shape, direction);
    a slot without a vocabulary word gets that slot's null vector (the empty prompt is the unconditional)."""

    def __init__(self, width: int = TEXT_DIM, seed: int = 7):
        g = torch.Generator().manual_seed(seed)
        self.table = {w: torch.randn(TEXT_DIM, generator=g) for slot in SLOTS for w in slot}
        self.null = [torch.zeros(TEXT_DIM) for _ in SLOTS]
        self.width = width

    def encode(self, prompt: str) -> torch.Tensor:
        """[1, 3, width]"""
        words = prompt.lower().replace(",", " ").split()
        rows = [next((self.table[w] for w in words if w in slot), null) for slot, null in zip(SLOTS, self.null)]
        e = torch.stack(rows)[None]
        return torch.nn.functional.pad(e, (0, self.width - TEXT_DIM))

    def conditioning(self, prompt: str):
        return [[self.encode(prompt), {}]]


class WorldDecode:
    """Latents (either layout) -> IMAGE frames [N, H, W, 3], each world pixel shown as `scale`x`scale`."""

    def __init__(self, scale: int = 4):
        self.scale = scale

    def problem(self, latent) -> str | None:
        """What stops this decoder from decoding `latent` (Demo Decode asks before any work), or None."""
        if latent.ndim not in (4, 5) or latent.shape[1] not in (4, 16):
            return (f"samples: the learned models' decoder takes [frames, 4 or 16, H, W] or [B, 16, T, H, W] "
                    f"latents, got {tuple(latent.shape)}: connect the decoder of the learned model that made it.")
        return None

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        z = latent.float()
        if z.ndim == 5:
            z = z.movedim(2, 1).flatten(0, 1)
        rgb = world.decode(z)
        rgb = torch.nn.functional.interpolate(rgb, scale_factor=self.scale, mode="nearest")
        return rgb.movedim(1, -1).cpu()


class WorldReward(RewardModel):
    """A reward defined on the world: the per-frame fidelity (core/world.py) of each image to the prompt's
    colour and shape, on the image shrunk to world pixels. Higher is better; 0 to 1."""
    kind, text_dependent = "world", True

    def encode_prompt(self, prompt: str) -> str:
        p = world.parse(prompt)
        if p["colour"] is None or p["shape"] is None:
            host.fail("Rank by Reward", f"the world reward needs a colour {list(world.COLOURS)} and a shape "
                                        f"{list(world.SHAPES)} in the prompt, got {prompt!r}.")
        return f"{p['colour']} {p['shape']} moving {p['direction'] or 'left'}"

    def score(self, images: torch.Tensor, prompt: str) -> torch.Tensor:
        x = images[..., :3].movedim(-1, 1).float()
        x = torch.nn.functional.adaptive_avg_pool2d(x, world.SIZE)
        return torch.tensor([world.metrics(im[None], prompt)["fidelity"] for im in x])


def world_metrics(samples: torch.Tensor, prompt: str) -> list[dict]:
    """The world's metrics of each video in a latent (either layout; frames in the batch is one video)."""
    videos = [samples] if samples.ndim == 4 else list(samples.movedim(2, 1))
    return [world.metrics(world.decode(v.float()), prompt) for v in videos]


class LearnedModelLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_LearnedModelLoader",
            display_name="Learned Demo Video Model (shapes world)",
            category=CATEGORY,
            description="Small real video models trained on a synthetic world of coloured shapes that move and "
                        "bounce (prompts like 'red circle moving left'). The weights ship with the pack (a few "
                        "MB), so FreeInit, FIFO, IV-Mixed and I4VGen can be seen working on objects and motion "
                        "on a CPU.",
            inputs=[io.Combo.Input("model", options=list(MODELS), default="video_unet",
                                   tooltip="video_unet: SD1.5-config UNet with temporal layers, frames in the "
                                           "batch (Empty Latent Image 64x64, batch size = frames, 8 trained), EPS "
                                           "like AnimateDiff. image_unet: its image-only sibling (IV-Mixed's "
                                           "image model, I4VGen's candidates). wan21: a tiny Wan 2.1 DiT, 5D flow "
                                           "(EmptyHunyuanLatentVideo 64x64, length 29 = 8 latent frames).")],
            outputs=[io.Model.Output(tooltip="The learned model (a real ComfyUI model)."),
                     WorldText.Output("text_encoder", display_name="text_encoder",
                                      tooltip="Its prompt encoder (Learned Demo Text Encode)."),
                     WorldDecoder.Output("decoder", display_name="decoder",
                                         tooltip="Latents to RGB (Demo Decode node).")],
        )

    @classmethod
    def execute(cls, model):
        host.check_inputs(cls, locals())
        m = load_model(model)
        return io.NodeOutput(m, TextTable(WAN_TEXT_DIM if model == "wan21" else TEXT_DIM), WorldDecode())


class LearnedTextEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_LearnedTextEncode",
            display_name="Learned Demo Text Encode",
            category=CATEGORY,
            description="Encodes a prompt of the shapes world: a colour (red, green, blue, yellow), a shape "
                        "(circle, square) and a direction (left, right, up, down). Other words are ignored; an "
                        "empty prompt is the unconditional (use it as the negative).",
            inputs=[WorldText.Input("text_encoder", tooltip="From the Learned Demo Video Model loader."),
                    io.String.Input("text", multiline=True, default="red circle moving right",
                                    tooltip="e.g. 'blue square moving up'; leave empty for the negative prompt.")],
            outputs=[io.Conditioning.Output(tooltip="Conditioning for the learned model.")],
        )

    @classmethod
    def execute(cls, text_encoder, text):
        host.check_inputs(cls, locals())
        return io.NodeOutput(text_encoder.conditioning(text))


class WorldRewardLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        from .reward import RewardModelType
        return io.Schema(
            node_id="TFV_WorldRewardLoader",
            display_name="World Reward (shapes world)",
            category=CATEGORY,
            description="A reward for Rank by Reward defined on the shapes world: how cleanly an image shows an "
                        "object of the prompt's colour and shape (per-frame fidelity, 0 to 1). No weights.",
            inputs=[],
            outputs=[RewardModelType.Output(tooltip="Connect to Rank by Reward.")],
        )

    @classmethod
    def execute(cls):
        host.check_inputs(cls, locals())
        from .reward import RewardModelHandle
        return io.NodeOutput(RewardModelHandle(WorldReward(), "world fidelity"))


NODES = [LearnedModelLoader, LearnedTextEncode, WorldRewardLoader]
