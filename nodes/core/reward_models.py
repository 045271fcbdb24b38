"""Reward models for I4VGen's anchor selection (Guo et al., arXiv 2406.02230, Sec. 3.1): every candidate image is
scored against the prompt and the argmax becomes the anchor. CLIP score, PickScore, HPSv2 (OpenCLIP ViT-H mapped
onto transformers' CLIPModel), the LAION aesthetic predictor, and a weight-free demo score; ImageReward v1.0 is in
imagereward.py, the shared pieces in reward_base.py. torch + transformers components only; nothing here touches
the network."""
import os

import kornia
import torch
import torch.nn.functional as F
from transformers import CLIPConfig, CLIPModel, CLIPTokenizerFast, CLIPVisionModelWithProjection

from .imagereward import load_imagereward
from .reward_base import OPENAI_MEAN, OPENAI_STD, LinearHead, RewardModel, preprocess, resize_short
from .reward_base import ranking, score_images  # noqa: F401  (the node uses them from here)
from .reward_files import AESTHETIC_HEADS, HF_CLIP_WEIGHTS, RewardFileError, build, first, load_strict, \
    load_tokenizer, read_json, read_state_dict, resolve

DEMO_NAME = "demo_aesthetic (no weights)"
# The preprocessing of each model's official scorer (see reward_base.RECIPES).
RECIPE = {"clip_score": "hf", "pickscore": "hf", "hpsv2": "letterbox", "aesthetic": "torchvision"}


def image_features(tower, pixels: torch.Tensor) -> torch.Tensor:
    """L2-normalised projected image embedding of a CLIPModel / CLIPVisionModelWithProjection."""
    pooled = tower.vision_model(pixel_values=pixels).pooler_output
    return F.normalize(tower.visual_projection(pooled).float(), dim=-1)


class ClipReward(RewardModel):
    """CLIP score (100 cos), PickScore (logit_scale.exp() cos, Kirstain et al. 2023) and HPSv2 (cos, Wu et al.
    2023): one dual encoder, three scorings of the cosine between image and prompt embeddings."""

    def __init__(self, clip: CLIPModel, tokenizer, kind: str, image_size: int, mean=OPENAI_MEAN, std=OPENAI_STD,
                 short: int | None = None):
        super().__init__()
        self.clip, self.tokenizer, self.kind = clip, tokenizer, kind
        self.image_size, self.mean, self.std, self.short = image_size, tuple(mean), tuple(std), short
        self.recipe = RECIPE[kind]

    def encode_prompt(self, prompt: str) -> torch.Tensor:
        p = self._param()
        tok = self.tokenizer([prompt], padding="max_length", truncation=True, return_tensors="pt",
                             max_length=self.clip.config.text_config.max_position_embeddings)
        pooled = self.clip.text_model(input_ids=tok["input_ids"].to(p.device),
                                      attention_mask=tok["attention_mask"].to(p.device)).pooler_output
        return F.normalize(self.clip.text_projection(pooled).float(), dim=-1)[0]

    def score(self, images, text):
        p = self._param()
        pixels = preprocess(images.to(p.device), self.image_size, self.mean, self.std, self.recipe, self.short)
        cos = image_features(self.clip, pixels.to(p.dtype)) @ text
        if self.kind == "pickscore":
            return self.clip.logit_scale.float().exp() * cos
        return 100 * cos if self.kind == "clip_score" else cos


class AestheticReward(RewardModel):
    """LAION improved aesthetic predictor: LinearHead on the L2-normalised CLIP ViT-L/14 image embedding."""
    kind, text_dependent = "aesthetic", False

    def __init__(self, tower, head: LinearHead, image_size: int, mean=OPENAI_MEAN, std=OPENAI_STD,
                 short: int | None = None):
        super().__init__()
        self.tower, self.head = tower, head
        self.image_size, self.mean, self.std, self.short = image_size, tuple(mean), tuple(std), short

    def score(self, images, _prompt):
        p = self._param()
        pixels = preprocess(images.to(p.device), self.image_size, self.mean, self.std, RECIPE[self.kind],
                            self.short).to(p.dtype)
        return self.head(image_features(self.tower, pixels))


class DemoAesthetic(RewardModel):
    """A weight-free, prompt-independent stand-in for an aesthetic score, for demos only: on a 224-px copy,
    10 x (colourfulness (Hasler & Suesstrunk 2003) + luminance contrast + 2 x detail (mean |Laplacian|)
    - |mean luminance - 0.45|)."""
    kind, text_dependent = "demo", False

    def score(self, images, _prompt):
        x = resize_short(images[..., :3].movedim(-1, 1).float(), 224).clamp(0, 1)
        r, g, b = x.unbind(1)
        rg, yb = r - g, 0.5 * (r + g) - b
        colour = (rg.var((1, 2)) + yb.var((1, 2))).sqrt() + 0.3 * (rg.mean((1, 2)) ** 2 + yb.mean((1, 2)) ** 2).sqrt()
        luma = kornia.color.rgb_to_grayscale(x)
        detail = kornia.filters.laplacian(luma, 3).abs().mean((1, 2, 3))
        exposure = (luma.mean((1, 2, 3)) - 0.45).abs()
        return 10 * (colour + luma.std((1, 2, 3)) + 2 * detail - exposure)


# --- loading -------------------------------------------------------------------------------------------------

def image_settings(folder: str, image_size: int) -> tuple[int, int, tuple, tuple]:
    """(crop size, short-side size, mean, std) from a preprocessor_config.json if present, else CLIP's; the crop
    must be the size the image tower was built for."""
    path = os.path.join(folder, "preprocessor_config.json")
    if not os.path.isfile(path):
        return image_size, image_size, OPENAI_MEAN, OPENAI_STD
    cfg = read_json(path)
    try:
        crop = cfg.get("crop_size", image_size)
        crop = crop["height"] if isinstance(crop, dict) else crop
        short = cfg.get("size", crop)
        short = short["shortest_edge"] if isinstance(short, dict) else short
        mean, std = (tuple(float(v) for v in cfg.get(k, d)) for k, d in (("image_mean", OPENAI_MEAN),
                                                                         ("image_std", OPENAI_STD)))
        usable = isinstance(crop, int) and isinstance(short, int) and short >= crop > 0 and len(mean) == 3 \
            and len(std) == 3 and min(std) > 0
    except (KeyError, TypeError, ValueError):
        usable = False
    if not usable:
        raise RewardFileError(f"{path} does not hold usable CLIP image settings (crop_size, size.shortest_edge, "
                              "image_mean, image_std): it is damaged or belongs to another model. Download it again, "
                              "or delete it to use CLIP's.")
    if crop != image_size:
        raise RewardFileError(f"{path} crops images to {crop} px but the image tower in {folder} takes {image_size} "
                              "px: it belongs to another model. Download it again, or delete it to use CLIP's.")
    return crop, short, mean, std


def read_hf_clip(folder: str, found: dict, prefixes=None) -> tuple[CLIPConfig, dict, str]:
    """config.json, the tensors of model.safetensors / pytorch_model.bin (only keys starting with `prefixes`, if
    given) and the weights' path."""
    path = os.path.join(folder, "config.json")
    model_type = read_json(path).get("model_type")
    if model_type != "clip":
        raise RewardFileError(f"{path} describes a '{model_type}' model, not a Hugging Face CLIP ('clip'): it belongs "
                              "to another model. Use the config.json of the CLIP these weights come from.")
    config = build(lambda: CLIPConfig.from_pretrained(folder, local_files_only=True), path, "a CLIP configuration")
    weights = first(found, *HF_CLIP_WEIGHTS)
    sd = {k: v for k, v in read_state_dict(weights, prefixes).items() if not k.endswith("position_ids")}
    return config, sd, weights


def load_hf_clip(folder: str, kind: str, dtype: torch.dtype) -> RewardModel:
    """CLIP score / PickScore from a Hugging Face CLIP folder, or the aesthetic predictor (its head next to
    CLIP-L). Weights load strictly: a folder with a missing tower is refused, never filled with random weights."""
    found = resolve(folder, kind)
    config_path = os.path.join(folder, "config.json")
    if kind != "aesthetic":
        config, sd, weights = read_hf_clip(folder, found)
        clip = build(lambda: CLIPModel(config), config_path, "a CLIP model")
        load_strict(clip, sd, "a Hugging Face CLIPModel", weights)
        tokenizer = load_tokenizer(CLIPTokenizerFast, folder, kind, config.text_config.vocab_size)
        size, short, mean, std = image_settings(folder, config.vision_config.image_size)
        return ClipReward(clip.eval(), tokenizer, kind, size, mean, std, short).cast(dtype)
    head_path = first(found, *AESTHETIC_HEADS)
    sd = read_state_dict(head_path)
    dims = LinearHead.dims_from(sd)
    if dims is None:
        raise RewardFileError(f"{head_path} is not a LAION aesthetic predictor head: it lacks the five linear layers "
                              "layers.0/2/4/6/7. Use sac+logos+ava1-l14-linearMSE.pth or a conversion of it.")
    head = LinearHead(dims)
    load_strict(head, sd, "a LAION aesthetic predictor head", head_path)
    config, sd, weights = read_hf_clip(folder, found, ("vision_model.", "visual_projection."))
    if config.projection_dim != head.layers[0].in_features:
        raise RewardFileError(
            f"{head_path} expects {head.layers[0].in_features}-d CLIP embeddings but the CLIP in {folder} makes "
            f"{config.projection_dim}-d ones: the predictor needs openai/clip-vit-large-patch14.")
    vision_config = config.vision_config
    vision_config.projection_dim = config.projection_dim
    tower = build(lambda: CLIPVisionModelWithProjection(vision_config), config_path, "a CLIP image tower")
    load_strict(tower, sd, "a Hugging Face CLIP image tower", weights)
    size, short, mean, std = image_settings(folder, vision_config.image_size)
    return AestheticReward(tower.eval(), head, size, mean, std, short).cast(dtype)


# OpenCLIP head widths that are not 64: ViT-H/14, ViT-g/14 and ViT-bigG/14 image towers.
OPENCLIP_VISION_HEAD_WIDTH = {1280: 80, 1408: 88, 1664: 104}
_OPENCLIP_BLOCK = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2",
                   "attn.out_proj": "self_attn.out_proj"}
_OPENCLIP_TOP = {"token_embedding.weight": "text_model.embeddings.token_embedding.weight",
                 "positional_embedding": "text_model.embeddings.position_embedding.weight",
                 "visual.class_embedding": "vision_model.embeddings.class_embedding",
                 "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
                 "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
                 "logit_scale": "logit_scale"}
_OPENCLIP_PREFIX = {"ln_final.": "text_model.final_layer_norm.", "visual.ln_pre.": "vision_model.pre_layrnorm.",
                    "visual.ln_post.": "vision_model.post_layernorm.",
                    "visual.transformer.resblocks.": "vision_model.encoder.layers.",
                    "transformer.resblocks.": "text_model.encoder.layers."}


def openclip_to_hf(sd: dict) -> dict:
    """OpenCLIP CLIP keys -> transformers CLIPModel keys. The fused attention in_proj is split into q/k/v, the
    [width, embed] projections are transposed into Linear weights; anything unknown is kept (and then refused)."""
    out = {}
    for k, v in sd.items():
        if k in _OPENCLIP_TOP:
            out[_OPENCLIP_TOP[k]] = v
        elif k in ("text_projection", "visual.proj"):
            out["text_projection.weight" if k == "text_projection" else "visual_projection.weight"] = v.t()
        elif k.endswith("attn_mask"):
            continue                                   # a causal-mask buffer, rebuilt by CLIPTextTransformer
        else:
            prefix = next((p for p in _OPENCLIP_PREFIX if k.startswith(p)), None)
            if prefix is None:
                out[k] = v
                continue
            rest = k[len(prefix):]
            if prefix.endswith("resblocks."):
                layer, _, name = rest.partition(".")
                if name.startswith("attn.in_proj_"):
                    kind = "weight" if name.endswith("weight") else "bias"
                    for part, t in zip(("q", "k", "v"), v.chunk(3, dim=0)):
                        out[f"{_OPENCLIP_PREFIX[prefix]}{layer}.self_attn.{part}_proj.{kind}"] = t
                    continue
                module, _, param = name.rpartition(".")
                rest = f"{layer}.{_OPENCLIP_BLOCK.get(module, module)}.{param}"
            out[_OPENCLIP_PREFIX[prefix] + rest] = v
    return out


def _layers(sd, prefix):
    idx = {int(k[len(prefix):].split(".")[0]) for k in sd if k.startswith(prefix)}
    return max(idx) + 1 if idx else 0


def openclip_config(sd: dict, eos_token_id: int) -> CLIPConfig:
    """A CLIPConfig for an OpenCLIP state dict, from its tensor shapes (HPSv2: ViT-H/14, GELU, eps 1e-5)."""
    try:
        v_width, _, patch, _ = sd["visual.conv1.weight"].shape
        grid = round((sd["visual.positional_embedding"].shape[0] - 1) ** 0.5)
        vocab, t_width = sd["token_embedding.weight"].shape
        v_mlp = sd["visual.transformer.resblocks.0.mlp.c_fc.weight"].shape[0]
        vision = dict(hidden_size=v_width, intermediate_size=v_mlp,
                      num_hidden_layers=_layers(sd, "visual.transformer.resblocks."),
                      num_attention_heads=v_width // OPENCLIP_VISION_HEAD_WIDTH.get(v_width, 64),
                      image_size=grid * patch, patch_size=patch, hidden_act="gelu", layer_norm_eps=1e-5)
        text = dict(vocab_size=vocab, hidden_size=t_width, num_attention_heads=t_width // 64,
                    intermediate_size=sd["transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
                    num_hidden_layers=_layers(sd, "transformer.resblocks."),
                    max_position_embeddings=sd["positional_embedding"].shape[0], hidden_act="gelu",
                    layer_norm_eps=1e-5, eos_token_id=eos_token_id, bos_token_id=eos_token_id - 1,
                    pad_token_id=eos_token_id)
        proj = sd["text_projection"].shape[1]
    except (KeyError, ValueError) as e:
        raise RewardFileError(f"not an OpenCLIP CLIP state dict (no {e})") from None
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=proj)


def load_hpsv2(folder: str, dtype: torch.dtype) -> ClipReward:
    """HPSv2 / v2.1: the OpenCLIP ViT-H/14 checkpoint mapped onto transformers' CLIPModel (open_clip not needed)."""
    found = resolve(folder, "hpsv2")
    path = first(found, "HPS_v2.1_compressed.pt", "HPS_v2_compressed.pt", "HPS_v2*.safetensors")
    sd = read_state_dict(path)
    vocab = sd.get("token_embedding.weight")
    tokenizer = load_tokenizer(CLIPTokenizerFast, folder, "hpsv2", None if vocab is None else vocab.shape[0])
    try:
        config = openclip_config(sd, tokenizer.eos_token_id)
    except RewardFileError as e:
        raise RewardFileError(f"{path} is not an HPSv2 checkpoint: {e}.") from None
    clip = build(lambda: CLIPModel(config), path, "an OpenCLIP model")
    load_strict(clip, openclip_to_hf(sd), "an HPSv2 (OpenCLIP ViT-H/14) checkpoint", path)
    return ClipReward(clip.eval(), tokenizer, "hpsv2", config.vision_config.image_size).cast(dtype)


def load_reward_model(folder: str, kind: str, dtype: torch.dtype = torch.float32) -> RewardModel:
    """The reward model of `kind` from the files in `folder` (see reward_files.NEEDS), on the CPU in `dtype`."""
    if kind == "imagereward":
        return load_imagereward(folder, dtype)
    if kind == "hpsv2":
        return load_hpsv2(folder, dtype)
    return load_hf_clip(folder, kind, dtype)
