"""Reward ranking throughput (I4VGen's anchor selection): 16 candidates scored in one batch against one by one,
as the image-reward package does. Random weights at the real architectures' sizes on a GPU (ImageReward's
BLIP ViT-L + BERT-base, HPSv2's ViT-H/14 CLIP); reduced widths on a CPU so the run stays short."""
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import BertTokenizerFast, BlipTextConfig, BlipTextModel, BlipVisionConfig, BlipVisionModel
from transformers import CLIPConfig, CLIPModel, CLIPTokenizerFast

if str(Path(__file__).resolve().parents[1]) not in sys.path:           # run directly: tests/ on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import reward_fakes as rf  # noqa: E402
import testenv  # noqa: E402,F401  (registers tfv_core: the pure core, no ComfyUI needed)
from tfv_core import imagereward as ir  # noqa: E402
from tfv_core import reward_models as rm  # noqa: E402

CANDIDATES, SIZE = 16, 512


def imagereward_model(full: bool, folder: str) -> rm.RewardModel:
    w, layers, tw, tl = (1024, 24, 768, 12) if full else (256, 4, 256, 4)
    vision = BlipVisionConfig(hidden_size=w, intermediate_size=4 * w, num_hidden_layers=layers,
                              num_attention_heads=w // 64, image_size=224, patch_size=16, layer_norm_eps=1e-6)
    text = BlipTextConfig(vocab_size=30524, hidden_size=tw, num_hidden_layers=tl, num_attention_heads=tw // 64,
                          intermediate_size=4 * tw, encoder_hidden_size=w, is_decoder=True,
                          bos_token_id=None, sep_token_id=None, eos_token_id=None)
    rf.write_bert_vocab(folder)
    return ir.ImageReward(BlipVisionModel(vision), BlipTextModel(text, add_pooling_layer=False),
                          rm.LinearHead([tw, 1024, 128, 64, 16, 1]), BertTokenizerFast.from_pretrained(folder))


def hps_model(full: bool, folder: str) -> rm.RewardModel:
    v, vl, t, tl = (1280, 32, 1024, 24) if full else (256, 4, 256, 4)
    cfg = CLIPConfig(text_config=dict(vocab_size=rf.CLIP_VOCAB, hidden_size=t, num_hidden_layers=tl,
                                      num_attention_heads=t // 64, intermediate_size=4 * t, hidden_act="gelu",
                                      eos_token_id=rf.CLIP_VOCAB - 1, bos_token_id=rf.CLIP_VOCAB - 2,
                                      pad_token_id=rf.CLIP_VOCAB - 1),
                     vision_config=dict(hidden_size=v, num_hidden_layers=vl, num_attention_heads=v // 80 if full else 4,
                                        intermediate_size=4 * v, image_size=224, patch_size=14, hidden_act="gelu"),
                     projection_dim=t)
    rf.write_clip_tokenizer(folder)
    return rm.ClipReward(CLIPModel(cfg), CLIPTokenizerFast.from_pretrained(folder), "hpsv2", 224)


def timed(model, images, batch_size, sync, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        sync()
        t0 = time.perf_counter()
        rm.score_images(model, images, "a photo of an astronaut riding a horse on mars", batch_size)
        sync()
        best = min(best, time.perf_counter() - t0)
    return best


def run():
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.float16 if cuda else torch.float32
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    images = torch.rand(CANDIDATES, SIZE, SIZE, 3, generator=torch.Generator().manual_seed(0))  # IMAGE stays on CPU
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, build in (("ImageReward (BLIP ViT-L/16 + BERT-base)", imagereward_model),
                            ("HPSv2 (OpenCLIP ViT-H/14)", hps_model), ("demo aesthetic", None)):
            with torch.device(device):
                model = rm.DemoAesthetic() if build is None else build(cuda, folder).eval().cast(dtype)
            arch = "full size" if cuda or build is None else "reduced widths"
            rm.score_images(model, images[:2], "warm up", 2)
            one = timed(model, images, 1, sync)
            batched = timed(model, images, CANDIDATES, sync)
            rows.append({"benchmark": f"rank {CANDIDATES} candidates, one by one / batched: {name}",
                         "ratio": one / batched,
                         "detail": f"{device.type} {str(dtype).removeprefix('torch.')} {arch}, {SIZE}px: "
                                   f"{CANDIDATES / one:.1f} vs {CANDIDATES / batched:.1f} images/s"})
            del model
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['benchmark']:<70} {row['ratio']:>7.2f}  {row['detail']}")
