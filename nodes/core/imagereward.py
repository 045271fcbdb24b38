"""ImageReward v1.0 (Xu et al., NeurIPS 2023), the reward I4VGen ranks its anchor candidates with (arXiv 2406.02230,
Sec. 3.1), rebuilt from transformers' BLIP components so that `ImageReward.pt` loads without the image-reward
package, its pinned libraries or a tokenizer download.

Scoring: BLIP ViT-L/16 image tokens -> a BERT-base text encoder whose every layer cross-attends to them (BLIP's
"multimodal" mode, bidirectional self-attention) over the prompt ([CLS] ... [SEP], padded to 35 tokens) -> the
[CLS] feature -> a linear MLP -> (r - 0.16717) / 1.03334.

Key mapping from `ImageReward.pt` (a plain state dict) to this module:
  blip.visual_encoder.cls_token / pos_embed / patch_embed.proj.*  -> vision.embeddings.class_embedding /
                                                                     position_embedding / patch_embedding.*
  blip.visual_encoder.blocks.{i}.norm1 / attn.qkv / attn.proj / norm2 / mlp.fc1 / mlp.fc2
                                -> vision.encoder.layers.{i}.layer_norm1 / self_attn.qkv / self_attn.projection /
                                   layer_norm2 / mlp.fc1 / mlp.fc2     (same tensors: both fuse q, k, v)
  blip.visual_encoder.norm.*    -> vision.post_layernorm.*
  blip.text_encoder.*           -> text.*  (transformers' BlipTextModel keeps BLIP's med.py names)
  mlp.layers.{0,2,4,6,7}.*      -> mlp.layers.{0,2,4,6,7}.*
  blip.vision_proj.*, blip.text_proj.*, *.position_ids: not used for scoring, dropped.
"""
import torch
from transformers import BertTokenizerFast, BlipTextConfig, BlipTextModel, BlipVisionConfig, BlipVisionModel

from .reward_base import LinearHead, RewardModel, preprocess
from .reward_files import RewardFileError, build, first, load_strict, load_tokenizer, read_json, read_state_dict, \
    resolve

MEAN, STD = 0.16717362830052426, 1.0333394966054072
MAX_TOKENS = 35
UNUSED = ("blip.vision_proj.", "blip.text_proj.")
_VIT_BLOCK = {"norm1": "layer_norm1", "attn.qkv": "self_attn.qkv", "attn.proj": "self_attn.projection",
              "norm2": "layer_norm2", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
_VIT_TOP = {"cls_token": "embeddings.class_embedding", "pos_embed": "embeddings.position_embedding",
            "patch_embed.proj.weight": "embeddings.patch_embedding.weight",
            "patch_embed.proj.bias": "embeddings.patch_embedding.bias",
            "norm.weight": "post_layernorm.weight", "norm.bias": "post_layernorm.bias"}


class ImageReward(RewardModel):
    kind = "imagereward"

    def __init__(self, vision: BlipVisionModel, text: BlipTextModel, mlp: LinearHead, tokenizer):
        super().__init__()
        self.vision, self.text, self.mlp, self.tokenizer = vision, text, mlp, tokenizer
        self.image_size = vision.config.image_size

    def encode_prompt(self, prompt: str):
        tok = self.tokenizer([prompt], padding="max_length", truncation=True, max_length=MAX_TOKENS,
                             return_tensors="pt")
        return tok["input_ids"], tok["attention_mask"]

    def score(self, images, tokens):
        p = self._param()
        pixels = preprocess(images.to(p.device), self.image_size, recipe="torchvision").to(p.dtype)  # CLIP's transform
        image_embeds = self.vision(pixel_values=pixels).last_hidden_state
        b = image_embeds.shape[0]
        ids, mask = (t.to(p.device).expand(b, -1) for t in tokens)
        h = self.text(input_ids=ids, attention_mask=mask, encoder_hidden_states=image_embeds,
                      encoder_attention_mask=torch.ones(image_embeds.shape[:2], dtype=torch.long, device=p.device),
                      is_decoder=False).last_hidden_state[:, 0]
        return (self.mlp(h.float()).float() - MEAN) / STD


def map_keys(sd: dict) -> dict:
    """ImageReward.pt keys -> this module's keys (see the module docstring)."""
    out = {}
    for k, v in sd.items():
        if k.startswith(UNUSED) or k.endswith("position_ids"):
            continue
        if k.startswith("blip.visual_encoder."):
            rest = k[len("blip.visual_encoder."):]
            if rest in _VIT_TOP:
                rest = _VIT_TOP[rest]
            elif rest.startswith("blocks."):
                _, layer, name = rest.split(".", 2)
                module, _, param = name.rpartition(".")
                rest = f"encoder.layers.{layer}.{_VIT_BLOCK.get(module, module)}.{param}"
            out["vision." + rest] = v
        elif k.startswith("blip.text_encoder."):
            out["text." + k[len("blip.text_encoder."):]] = v
        else:
            out[k] = v
    return out


def vision_config(sd: dict) -> BlipVisionConfig:
    """BLIP ViT config from the checkpoint's shapes (head width 64, LayerNorm eps 1e-6, exact GELU)."""
    try:
        width, _, patch, _ = sd["blip.visual_encoder.patch_embed.proj.weight"].shape
        grid = round((sd["blip.visual_encoder.pos_embed"].shape[1] - 1) ** 0.5)
        mlp = sd["blip.visual_encoder.blocks.0.mlp.fc1.weight"].shape[0]
        layers = 1 + max(int(k.split(".")[3]) for k in sd if k.startswith("blip.visual_encoder.blocks."))
    except KeyError as e:
        raise RewardFileError(f"no BLIP image encoder (missing {e})") from None
    except ValueError:
        raise RewardFileError("no BLIP image encoder of the expected shapes") from None
    return BlipVisionConfig(hidden_size=width, intermediate_size=mlp, num_hidden_layers=layers,
                            num_attention_heads=width // 64, image_size=grid * patch, patch_size=patch,
                            hidden_act="gelu", layer_norm_eps=1e-6)


def text_config(med: dict, width: int) -> BlipTextConfig:
    """The text encoder's config from med_config.json, with the image width as its cross-attention width."""
    keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "max_position_embeddings", "layer_norm_eps", "hidden_act", "pad_token_id")
    return BlipTextConfig(**{k: med[k] for k in keys if k in med}, encoder_hidden_size=width, is_decoder=True,
                          bos_token_id=None, sep_token_id=None, eos_token_id=None)


def load_imagereward(folder: str, dtype: torch.dtype = torch.float32) -> ImageReward:
    """ImageReward.pt + med_config.json + the bert-base-uncased vocab.txt from `folder`, fully offline."""
    found = resolve(folder, "imagereward")
    path, med_path = first(found, "ImageReward.pt", "ImageReward.safetensors"), found["med_config.json"]
    sd = read_state_dict(path)
    med = read_json(med_path)
    try:
        vision_cfg = vision_config(sd)
    except RewardFileError as e:
        raise RewardFileError(f"{path} is not an ImageReward v1.0 checkpoint: {e}.") from None
    dims = LinearHead.dims_from(sd, "mlp.layers.")
    if dims is None:
        raise RewardFileError(f"{path} is not an ImageReward v1.0 checkpoint: it lacks the five linear layers "
                              "mlp.layers.0/2/4/6/7.")
    text_cfg = build(lambda: text_config(med, vision_cfg.hidden_size), med_path, "a BLIP text encoder")
    vision = build(lambda: BlipVisionModel(vision_cfg), path, "a BLIP image encoder")
    text = build(lambda: BlipTextModel(text_cfg, add_pooling_layer=False), med_path, "a BLIP text encoder")
    mlp = build(lambda: LinearHead(dims), path, "an ImageReward head")
    tokenizer = load_tokenizer(BertTokenizerFast, folder, "imagereward", text_cfg.vocab_size)
    model = ImageReward(vision, text, mlp, tokenizer)
    load_strict(model, map_keys(sd), "an ImageReward v1.0 checkpoint", path)
    return model.eval().cast(dtype)
