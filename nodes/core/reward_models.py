"""Reward models for I4VGen's anchor selection (Guo et al., arXiv 2406.02230, Sec. 3.1): every candidate image is
scored against the prompt and the argmax becomes the anchor. CLIP score, PickScore, HPSv2 (OpenCLIP ViT-H mapped
onto transformers' CLIPModel), the LAION aesthetic predictor, and a weight-free demo score; ImageReward v1.0 is in
imagereward.py. torch + transformers components only; nothing here touches the network."""
import json
import os

import kornia
import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import nn
from transformers import CLIPConfig, CLIPModel, CLIPTokenizerFast, CLIPVisionModelWithProjection

from .reward_files import RewardFileError, first, load_strict, read_state_dict, resolve

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
DEMO_NAME = "demo_aesthetic (no weights)"


def resize_short(x: torch.Tensor, size: int) -> torch.Tensor:
    """[B, C, H, W] with the short side resized to `size` like torchvision's Resize(size): antialiased bicubic, which
    matches PIL's BICUBIC (what these models were trained with) to about 1/255."""
    h, w = x.shape[-2:]
    hw = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    return x if hw == (h, w) else F.interpolate(x, size=hw, mode="bicubic", antialias=True, align_corners=False)


def preprocess(images: torch.Tensor, size: int, mean=OPENAI_MEAN, std=OPENAI_STD) -> torch.Tensor:
    """IMAGE [B, H, W, C] in 0..1 -> normalised [B, 3, size, size]: CLIP's transform (resize of the short side,
    centre crop), on the images' device."""
    x = resize_short(images[..., :3].movedim(-1, 1).float(), size)
    top, left = (round((n - size) / 2) for n in x.shape[-2:])      # torchvision's CenterCrop offsets
    x = x[..., top:top + size, left:left + size].clamp(0, 1)
    return kornia.enhance.normalize(x, torch.tensor(mean, device=x.device), torch.tensor(std, device=x.device))


def ranking(scores) -> list[int]:
    """Candidate indices, best first; ties keep candidate order."""
    s = [float(v) for v in scores]
    return sorted(range(len(s)), key=lambda i: (-s[i], i))


class RewardModel(nn.Module):
    """Scores a batch of images against a prompt (higher is better). Subclasses set `kind`, `text_dependent`."""
    kind = "reward"
    text_dependent = True

    def encode_prompt(self, prompt: str):
        """Whatever `score` needs from the prompt, computed once per ranking."""
        return prompt

    def score(self, images: torch.Tensor, prompt_state) -> torch.Tensor:
        raise NotImplementedError

    def _param(self):
        return next(self.parameters())

    def cast(self, dtype: torch.dtype) -> "RewardModel":
        """Backbone in `dtype`; the small linear heads stay float32 (scores are compared with each other)."""
        self.to(dtype)
        for m in self.modules():
            if isinstance(m, LinearHead):
                m.float()
        return self


@torch.no_grad()
def score_images(model: RewardModel, images: torch.Tensor, prompt: str, batch_size: int, on_batch=None):
    """float32 scores of all candidates in candidate order, `batch_size` images per forward pass."""
    state = model.encode_prompt(prompt)
    out = []
    for start in range(0, images.shape[0], batch_size):
        chunk = images[start:start + batch_size]
        out.append(model.score(chunk, state).float().cpu())
        if on_batch is not None:
            on_batch(chunk.shape[0])
    return torch.cat(out)


class LinearHead(nn.Module):
    """The MLP of ImageReward and of the LAION aesthetic predictor: five Linear layers at indices 0, 2, 4, 6, 7
    (1, 3, 5 are dropouts, identities at inference; there is no activation in between)."""

    def __init__(self, dims):
        super().__init__()
        layers = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            if i < 3:
                layers.append(nn.Identity())
        self.layers = nn.Sequential(*layers)

    @staticmethod
    def dims_from(sd: dict, prefix: str = "layers.") -> list[int]:
        ws = [sd.get(f"{prefix}{i}.weight") for i in (0, 2, 4, 6, 7)]
        if any(w is None or w.ndim != 2 for w in ws):
            raise RewardFileError(f"expected five linear layers {prefix}0/2/4/6/7")
        return [ws[0].shape[1]] + [w.shape[0] for w in ws]

    def forward(self, x):
        return self.layers(x.to(self.layers[0].weight.dtype)).squeeze(-1)


def image_features(tower, pixels: torch.Tensor) -> torch.Tensor:
    """L2-normalised projected image embedding of a CLIPModel / CLIPVisionModelWithProjection."""
    pooled = tower.vision_model(pixel_values=pixels).pooler_output
    return F.normalize(tower.visual_projection(pooled).float(), dim=-1)


class ClipReward(RewardModel):
    """CLIP score (100 cos), PickScore (logit_scale.exp() cos, Kirstain et al. 2023) and HPSv2 (cos, Wu et al.
    2023): one dual encoder, three scorings of the cosine between image and prompt embeddings."""

    def __init__(self, clip: CLIPModel, tokenizer, kind: str, image_size: int, mean=OPENAI_MEAN, std=OPENAI_STD):
        super().__init__()
        self.clip, self.tokenizer, self.kind = clip, tokenizer, kind
        self.image_size, self.mean, self.std = image_size, tuple(mean), tuple(std)

    def encode_prompt(self, prompt: str) -> torch.Tensor:
        p = self._param()
        tok = self.tokenizer([prompt], padding="max_length", truncation=True, return_tensors="pt",
                             max_length=self.clip.config.text_config.max_position_embeddings)
        pooled = self.clip.text_model(input_ids=tok["input_ids"].to(p.device),
                                      attention_mask=tok["attention_mask"].to(p.device)).pooler_output
        return F.normalize(self.clip.text_projection(pooled).float(), dim=-1)[0]

    def score(self, images, text):
        p = self._param()
        pixels = preprocess(images.to(p.device), self.image_size, self.mean, self.std).to(p.dtype)
        cos = image_features(self.clip, pixels) @ text
        if self.kind == "pickscore":
            return self.clip.logit_scale.float().exp() * cos
        return 100 * cos if self.kind == "clip_score" else cos


class AestheticReward(RewardModel):
    """LAION improved aesthetic predictor: LinearHead on the L2-normalised CLIP ViT-L/14 image embedding."""
    kind, text_dependent = "aesthetic", False

    def __init__(self, tower, head: LinearHead, image_size: int, mean=OPENAI_MEAN, std=OPENAI_STD):
        super().__init__()
        self.tower, self.head = tower, head
        self.image_size, self.mean, self.std = image_size, tuple(mean), tuple(std)

    def score(self, images, _prompt):
        p = self._param()
        pixels = preprocess(images.to(p.device), self.image_size, self.mean, self.std).to(p.dtype)
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

def image_settings(folder: str, default_size: int):
    """Input size, mean and std from a preprocessor_config.json if present, else CLIP's."""
    path = os.path.join(folder, "preprocessor_config.json")
    if not os.path.isfile(path):
        return default_size, OPENAI_MEAN, OPENAI_STD
    with open(path) as f:
        cfg = json.load(f)
    crop = cfg.get("crop_size", default_size)
    size = crop.get("height", default_size) if isinstance(crop, dict) else crop
    return int(size), cfg.get("image_mean", OPENAI_MEAN), cfg.get("image_std", OPENAI_STD)


def read_hf_clip(folder: str, prefixes=None) -> tuple[CLIPConfig, dict]:
    """config.json and the tensors of model.safetensors (only keys starting with `prefixes`, if given)."""
    path = os.path.join(folder, "config.json")
    try:
        with open(path) as f:
            model_type = json.load(f).get("model_type")
    except (OSError, ValueError) as e:
        raise RewardFileError(f"{path} is not a readable JSON config ({e}).") from None
    if model_type != "clip":
        raise RewardFileError(f"{path} describes a '{model_type}' model, not a Hugging Face CLIP ('clip').")
    config = CLIPConfig.from_pretrained(folder, local_files_only=True)
    weights = os.path.join(folder, "model.safetensors")
    try:
        with safe_open(weights, "pt") as f:
            sd = {k: f.get_tensor(k) for k in f.keys()
                  if not k.endswith("position_ids") and (prefixes is None or k.startswith(prefixes))}
    except Exception as e:  # safetensors raises its own error types
        raise RewardFileError(f"{weights} is not a readable safetensors file ({e}).") from None
    return config, sd


def load_hf_clip(folder: str, kind: str, dtype: torch.dtype) -> RewardModel:
    """CLIP score / PickScore from a Hugging Face CLIP folder, or the aesthetic predictor (its .pth next to CLIP-L).
    Weights load strictly: a folder with a missing tower is refused, never filled with random weights."""
    found = resolve(folder, kind)
    weights = os.path.join(folder, "model.safetensors")
    if kind != "aesthetic":
        config, sd = read_hf_clip(folder)
        with torch.device("meta"):
            clip = CLIPModel(config)
        load_strict(clip, sd, "a Hugging Face CLIPModel", weights)
        tokenizer = CLIPTokenizerFast.from_pretrained(folder, local_files_only=True)
        size, mean, std = image_settings(folder, config.vision_config.image_size)
        return ClipReward(clip.eval(), tokenizer, kind, size, mean, std).cast(dtype)
    head_path = next(found[p] for p in found if p not in ("config.json", "model.safetensors"))
    sd = read_state_dict(head_path)
    try:
        head = LinearHead(LinearHead.dims_from(sd))
    except RewardFileError as e:
        raise RewardFileError(f"{head_path} is not a LAION aesthetic predictor head: {e}.") from None
    load_strict(head, sd, "a LAION aesthetic predictor head", head_path)
    config, sd = read_hf_clip(folder, ("vision_model.", "visual_projection."))
    if config.projection_dim != head.layers[0].in_features:
        raise RewardFileError(
            f"{head_path} expects {head.layers[0].in_features}-d CLIP embeddings but the CLIP in {folder} makes "
            f"{config.projection_dim}-d ones: the predictor needs openai/clip-vit-large-patch14.")
    vision_config = config.vision_config
    vision_config.projection_dim = config.projection_dim
    with torch.device("meta"):
        tower = CLIPVisionModelWithProjection(vision_config)
    load_strict(tower, sd, "a Hugging Face CLIP image tower", weights)
    size, mean, std = image_settings(folder, vision_config.image_size)
    return AestheticReward(tower.eval(), head, size, mean, std).cast(dtype)


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
    tokenizer = CLIPTokenizerFast.from_pretrained(folder, local_files_only=True)
    try:
        config = openclip_config(sd, tokenizer.eos_token_id)
    except RewardFileError as e:
        raise RewardFileError(f"{path} is not an HPSv2 checkpoint: {e}.") from None
    with torch.device("meta"):
        clip = CLIPModel(config)
    load_strict(clip, openclip_to_hf(sd), "an HPSv2 (OpenCLIP ViT-H/14) checkpoint", path)
    return ClipReward(clip.eval(), tokenizer, "hpsv2", config.vision_config.image_size).cast(dtype)


def load_reward_model(folder: str, kind: str, dtype: torch.dtype = torch.float32) -> RewardModel:
    """The reward model of `kind` from the files in `folder` (see reward_files.NEEDS), on the CPU in `dtype`."""
    if kind == "imagereward":
        from .imagereward import load_imagereward
        return load_imagereward(folder, dtype)
    if kind == "hpsv2":
        return load_hpsv2(folder, dtype)
    return load_hf_clip(folder, kind, dtype)
