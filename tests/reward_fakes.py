"""Tiny stand-ins for the real reward-model files, for tests and the benchmark: seeded random weights under the
real checkpoints' key names (ImageReward.pt = BLIP ViT + med BERT + MLP; HPS_v2*.pt = OpenCLIP CLIP; the LAION
aesthetic .pth), Hugging Face CLIP folders written by transformers itself, and small real tokenizers. Also
reference forwards of the original architectures, written from their descriptions, to check our mappings."""
import json
import math
import os

import torch
import torch.nn.functional as F
from transformers import CLIPConfig, CLIPModel


def _rand(shape, name, g):
    if name.endswith(("LayerNorm.weight", "norm1.weight", "norm2.weight", "norm.weight", "ln_1.weight",
                      "ln_2.weight", "ln_pre.weight", "ln_post.weight", "ln_final.weight")):
        return 1 + 0.1 * torch.randn(shape, generator=g)
    if name.endswith("bias") or len(shape) < 2:
        return 0.05 * torch.randn(shape, generator=g)
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
    return torch.randn(shape, generator=g) / math.sqrt(fan_in)


def _fill(shapes: dict, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {k: _rand(s, k, g) for k, s in shapes.items()}


# --- tokenizers ------------------------------------------------------------------------------------------------

def _byte_chars():
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    extra = [b for b in range(256) if b not in keep]
    return [chr(c) for c in keep] + [chr(256 + i) for i in range(len(extra))]


CLIP_MERGES = ["c a", "ca t</w>", "d o", "do g</w>", "o n</w>", "m a", "ma r", "mar s</w>"]
CLIP_VOCAB = 256 * 2 + len(CLIP_MERGES) + 2                      # bytes, bytes</w>, merges, sot, eot


def write_clip_tokenizer(folder: str) -> None:
    """A byte-level BPE like CLIP's (a few merges), start/end tokens last, as vocab.json + merges.txt."""
    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
    for m in CLIP_MERGES:
        vocab[m.replace(" ", "")] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "\n".join(CLIP_MERGES) + "\n")


BERT_WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "an", "the", "cat", "dog", "on", "mars", "red",
              "blue", "photo", "of", "sunset", "clouds", "##s", "!", ",", "."]


def write_bert_vocab(folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(BERT_WORDS) + "\n")


# --- ImageReward.pt ----------------------------------------------------------------------------------------------

MED = dict(architectures=["BertModel"], attention_probs_dropout_prob=0.1, hidden_act="gelu", hidden_dropout_prob=0.1,
           hidden_size=64, initializer_range=0.02, intermediate_size=128, layer_norm_eps=1e-12,
           max_position_embeddings=40, model_type="bert", num_attention_heads=2, num_hidden_layers=2,
           pad_token_id=0, type_vocab_size=2, vocab_size=len(BERT_WORDS) + 2, encoder_width=128,
           add_cross_attention=True)


def imagereward_state_dict(width=128, layers=2, patch=16, image=32, seed=0, med=MED) -> dict:
    """BLIP_Pretrain (ViT + med BertModel with cross-attention + vision/text proj) under `blip.`, MLP under `mlp.`"""
    v, t, n = "blip.visual_encoder.", "blip.text_encoder.", (image // patch) ** 2 + 1
    tw, tv, tp = med["hidden_size"], med["vocab_size"], med["max_position_embeddings"]
    s = {v + "cls_token": (1, 1, width), v + "pos_embed": (1, n, width),
         v + "patch_embed.proj.weight": (width, 3, patch, patch), v + "patch_embed.proj.bias": (width,),
         v + "norm.weight": (width,), v + "norm.bias": (width,)}
    for i in range(layers):
        b = f"{v}blocks.{i}."
        s.update({b + "norm1.weight": (width,), b + "norm1.bias": (width,), b + "attn.qkv.weight": (3 * width, width),
                  b + "attn.qkv.bias": (3 * width,), b + "attn.proj.weight": (width, width),
                  b + "attn.proj.bias": (width,), b + "norm2.weight": (width,), b + "norm2.bias": (width,),
                  b + "mlp.fc1.weight": (4 * width, width), b + "mlp.fc1.bias": (4 * width,),
                  b + "mlp.fc2.weight": (width, 4 * width), b + "mlp.fc2.bias": (width,)})
    s.update({t + "embeddings.word_embeddings.weight": (tv, tw), t + "embeddings.position_embeddings.weight": (tp, tw),
              t + "embeddings.LayerNorm.weight": (tw,), t + "embeddings.LayerNorm.bias": (tw,)})
    for i in range(med["num_hidden_layers"]):
        b = f"{t}encoder.layer.{i}."
        for att, kv in (("attention", tw), ("crossattention", width)):
            for name, fan in (("query", tw), ("key", kv), ("value", kv)):
                s.update({f"{b}{att}.self.{name}.weight": (tw, fan), f"{b}{att}.self.{name}.bias": (tw,)})
            s.update({f"{b}{att}.output.dense.weight": (tw, tw), f"{b}{att}.output.dense.bias": (tw,),
                      f"{b}{att}.output.LayerNorm.weight": (tw,), f"{b}{att}.output.LayerNorm.bias": (tw,)})
        mid = med["intermediate_size"]
        s.update({b + "intermediate.dense.weight": (mid, tw), b + "intermediate.dense.bias": (mid,),
                  b + "output.dense.weight": (tw, mid), b + "output.dense.bias": (tw,),
                  b + "output.LayerNorm.weight": (tw,), b + "output.LayerNorm.bias": (tw,)})
    s.update({"blip.vision_proj.weight": (16, width), "blip.vision_proj.bias": (16,),
              "blip.text_proj.weight": (16, tw), "blip.text_proj.bias": (16,)})
    dims = [tw, 24, 12, 8, 4, 1]
    for j, (a, b_) in zip((0, 2, 4, 6, 7), zip(dims[:-1], dims[1:])):
        s.update({f"mlp.layers.{j}.weight": (b_, a), f"mlp.layers.{j}.bias": (b_,)})
    sd = _fill(s, seed)
    sd[t + "embeddings.position_ids"] = torch.arange(tp)[None]   # a persistent buffer in BLIP's med.py
    return sd


def write_imagereward(folder: str, seed=0, sd=None) -> str:
    os.makedirs(folder, exist_ok=True)
    torch.save(imagereward_state_dict(seed=seed) if sd is None else sd, os.path.join(folder, "ImageReward.pt"))
    with open(os.path.join(folder, "med_config.json"), "w") as f:
        json.dump(MED, f)
    write_bert_vocab(folder)
    return folder


# --- HPS_v2*.pt (OpenCLIP) ----------------------------------------------------------------------------------------

def openclip_state_dict(v_width=128, v_layers=2, patch=8, image=32, t_width=64, t_layers=2, ctx=16, embed=32, seed=1):
    n = (image // patch) ** 2 + 1
    s = {"positional_embedding": (ctx, t_width), "text_projection": (t_width, embed),
         "token_embedding.weight": (CLIP_VOCAB, t_width), "ln_final.weight": (t_width,), "ln_final.bias": (t_width,),
         "visual.class_embedding": (v_width,), "visual.positional_embedding": (n, v_width),
         "visual.proj": (v_width, embed), "visual.conv1.weight": (v_width, 3, patch, patch),
         "visual.ln_pre.weight": (v_width,), "visual.ln_pre.bias": (v_width,),
         "visual.ln_post.weight": (v_width,), "visual.ln_post.bias": (v_width,)}
    for prefix, w, layers in (("transformer.", t_width, t_layers), ("visual.transformer.", v_width, v_layers)):
        for i in range(layers):
            b = f"{prefix}resblocks.{i}."
            s.update({b + "ln_1.weight": (w,), b + "ln_1.bias": (w,), b + "attn.in_proj_weight": (3 * w, w),
                      b + "attn.in_proj_bias": (3 * w,), b + "attn.out_proj.weight": (w, w),
                      b + "attn.out_proj.bias": (w,), b + "ln_2.weight": (w,), b + "ln_2.bias": (w,),
                      b + "mlp.c_fc.weight": (4 * w, w), b + "mlp.c_fc.bias": (4 * w,),
                      b + "mlp.c_proj.weight": (w, 4 * w), b + "mlp.c_proj.bias": (w,)})
    sd = _fill(s, seed)
    sd["logit_scale"] = torch.tensor(math.log(100.0))
    return sd


def write_hpsv2(folder: str, seed=1, sd=None, name="HPS_v2.1_compressed.pt") -> str:
    os.makedirs(folder, exist_ok=True)
    torch.save({"state_dict": openclip_state_dict(seed=seed) if sd is None else sd}, os.path.join(folder, name))
    write_clip_tokenizer(folder)
    return folder


# --- Hugging Face CLIP folders and the aesthetic head ----------------------------------------------------------------

def write_hf_clip(folder: str, seed=2, projection=32, image=32, preprocessor=False) -> str:
    cfg = CLIPConfig(
        text_config=dict(vocab_size=CLIP_VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=16, eos_token_id=CLIP_VOCAB - 1,
                         bos_token_id=CLIP_VOCAB - 2, pad_token_id=CLIP_VOCAB - 1),
        vision_config=dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=2,
                           image_size=image, patch_size=8),
        projection_dim=projection)
    torch.manual_seed(seed)
    model = CLIPModel(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.save_pretrained(folder, safe_serialization=True)
    write_clip_tokenizer(folder)
    if preprocessor:
        with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
            json.dump({"crop_size": {"height": image, "width": image}, "image_mean": [0.5, 0.5, 0.5],
                       "image_std": [0.25, 0.25, 0.25]}, f)
    return folder


def aesthetic_head_state_dict(dim=32, seed=3) -> dict:
    dims = [dim, 24, 12, 8, 4, 1]
    s = {}
    for j, (a, b) in zip((0, 2, 4, 6, 7), zip(dims[:-1], dims[1:])):
        s.update({f"layers.{j}.weight": (b, a), f"layers.{j}.bias": (b,)})
    return _fill(s, seed)


def write_aesthetic(folder: str, seed=3, sd=None) -> str:
    write_hf_clip(folder, seed=seed + 10)
    torch.save(aesthetic_head_state_dict(seed=seed) if sd is None else sd,
               os.path.join(folder, "sac+logos+ava1-l14-linearMSE.pth"))
    return folder


def write_all(root: str) -> dict:
    """One folder of every kind under `root`, named as a user would."""
    return {"imagereward": write_imagereward(os.path.join(root, "ImageReward")),
            "hpsv2": write_hpsv2(os.path.join(root, "HPSv2.1")),
            "pickscore": write_hf_clip(os.path.join(root, "PickScore_v1"), seed=4, preprocessor=True),
            "clip_score": write_hf_clip(os.path.join(root, "clip-vit-large-patch14"), seed=5),
            "aesthetic": write_aesthetic(os.path.join(root, "laion-aesthetic"))}


# --- reference forwards of the original architectures -----------------------------------------------------------------

def _mha(x, sd, p, heads, mask=None):
    """torch.nn.MultiheadAttention as OpenCLIP uses it (fused in_proj), x [B, N, W]."""
    y, _ = F.multi_head_attention_forward(
        x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), x.shape[-1], heads, sd[p + "in_proj_weight"],
        sd[p + "in_proj_bias"], None, None, False, 0.0, sd[p + "out_proj.weight"], sd[p + "out_proj.bias"],
        training=False, need_weights=False, attn_mask=mask)
    return y.transpose(0, 1)


def _ln(x, sd, p, eps=1e-5):
    return F.layer_norm(x, x.shape[-1:], sd[p + "weight"], sd[p + "bias"], eps)


def _openclip_tower(x, sd, prefix, heads, mask=None):
    i = 0
    while f"{prefix}resblocks.{i}.ln_1.weight" in sd:
        b = f"{prefix}resblocks.{i}."
        x = x + _mha(_ln(x, sd, b + "ln_1."), sd, b + "attn.", heads, mask)
        h = F.gelu(F.linear(_ln(x, sd, b + "ln_2."), sd[b + "mlp.c_fc.weight"], sd[b + "mlp.c_fc.bias"]))
        x = x + F.linear(h, sd[b + "mlp.c_proj.weight"], sd[b + "mlp.c_proj.bias"])
        i += 1
    return x


def openclip_reference(sd, pixels, ids, v_heads, t_heads):
    """OpenCLIP CLIP.encode_image / encode_text (L2-normalised) straight from the checkpoint tensors."""
    p = sd["visual.conv1.weight"].shape[-1]
    x = F.conv2d(pixels, sd["visual.conv1.weight"], stride=p).flatten(2).transpose(1, 2)
    cls = sd["visual.class_embedding"].expand(x.shape[0], 1, -1)
    x = _ln(torch.cat([cls, x], 1) + sd["visual.positional_embedding"], sd, "visual.ln_pre.")
    x = _openclip_tower(x, sd, "visual.transformer.", v_heads)
    img = _ln(x[:, 0], sd, "visual.ln_post.") @ sd["visual.proj"]
    n = ids.shape[1]
    causal = torch.full((n, n), float("-inf")).triu(1)
    t = sd["token_embedding.weight"][ids] + sd["positional_embedding"][:n]
    t = _ln(_openclip_tower(t, sd, "transformer.", t_heads, causal), sd, "ln_final.")
    txt = t[torch.arange(ids.shape[0]), ids.argmax(-1)] @ sd["text_projection"]
    return F.normalize(img, dim=-1), F.normalize(txt, dim=-1)


def _attention(q, k, v, heads, bias=None):
    b, n, w = q.shape
    split = lambda t: t.reshape(b, t.shape[1], heads, w // heads).transpose(1, 2)    # noqa: E731
    a = split(q) @ split(k).transpose(-1, -2) / math.sqrt(w // heads)
    if bias is not None:
        a = a + bias
    return (a.softmax(-1) @ split(v)).transpose(1, 2).reshape(b, n, w)


def blip_vit_reference(sd, pixels, heads):
    """BLIP's VisionTransformer (timm blocks, LayerNorm eps 1e-6) from ImageReward.pt tensors: all tokens, normed."""
    v = "blip.visual_encoder."
    p = sd[v + "patch_embed.proj.weight"].shape[-1]
    x = F.conv2d(pixels, sd[v + "patch_embed.proj.weight"], sd[v + "patch_embed.proj.bias"], stride=p)
    x = torch.cat([sd[v + "cls_token"].expand(x.shape[0], -1, -1), x.flatten(2).transpose(1, 2)], 1)
    x = x + sd[v + "pos_embed"]
    i = 0
    while f"{v}blocks.{i}.norm1.weight" in sd:
        b = f"{v}blocks.{i}."
        q, k, val = F.linear(_ln(x, sd, b + "norm1.", 1e-6), sd[b + "attn.qkv.weight"], sd[b + "attn.qkv.bias"]).chunk(3, -1)
        x = x + F.linear(_attention(q, k, val, heads), sd[b + "attn.proj.weight"], sd[b + "attn.proj.bias"])
        h = F.gelu(F.linear(_ln(x, sd, b + "norm2.", 1e-6), sd[b + "mlp.fc1.weight"], sd[b + "mlp.fc1.bias"]))
        x = x + F.linear(h, sd[b + "mlp.fc2.weight"], sd[b + "mlp.fc2.bias"])
        i += 1
    return _ln(x, sd, v + "norm.", 1e-6)


def imagereward_reference(sd, med, pixels, ids, mask, vit_heads):
    """ImageReward.score: BLIP image tokens, med BERT in multimodal mode over the prompt, [CLS] -> MLP -> z-score."""
    img = blip_vit_reference(sd, pixels, vit_heads)
    t, eps, heads = "blip.text_encoder.", med["layer_norm_eps"], med["num_attention_heads"]
    lin = lambda x, p: F.linear(x, sd[p + "weight"], sd[p + "bias"])              # noqa: E731
    x = sd[t + "embeddings.word_embeddings.weight"][ids] + sd[t + "embeddings.position_embeddings.weight"][:ids.shape[1]]
    x = _ln(x, sd, t + "embeddings.LayerNorm.", eps)
    pad = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    for i in range(med["num_hidden_layers"]):
        b = f"{t}encoder.layer.{i}."
        a = _attention(lin(x, b + "attention.self.query."), lin(x, b + "attention.self.key."),
                       lin(x, b + "attention.self.value."), heads, pad)
        x = _ln(lin(a, b + "attention.output.dense.") + x, sd, b + "attention.output.LayerNorm.", eps)
        c = _attention(lin(x, b + "crossattention.self.query."), lin(img, b + "crossattention.self.key."),
                       lin(img, b + "crossattention.self.value."), heads)
        x = _ln(lin(c, b + "crossattention.output.dense.") + x, sd, b + "crossattention.output.LayerNorm.", eps)
        h = F.gelu(lin(x, b + "intermediate.dense."))
        x = _ln(lin(h, b + "output.dense.") + x, sd, b + "output.LayerNorm.", eps)
    r = x[:, 0]
    for j in (0, 2, 4, 6, 7):
        r = lin(r, f"mlp.layers.{j}.")
    return (r[:, 0] - 0.16717362830052426) / 1.0333394966054072
