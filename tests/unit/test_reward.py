"""Reward models for I4VGen's anchor selection, on tiny random checkpoints with the real key names."""
import json
import os
import pickle
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import CLIPModel

import reward_fakes as rf
from tfv_core import imagereward as ir
from tfv_core import reward_base as base
from tfv_core import reward_files as files
from tfv_core import reward_models as rm

TEXT_KINDS = ["imagereward", "hpsv2", "pickscore", "clip_score"]
IMAGE_KINDS = ["aesthetic", "demo"]
ALL_KINDS = TEXT_KINDS + IMAGE_KINDS


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return rf.write_all(str(tmp_path_factory.mktemp("reward_models")))


@pytest.fixture(scope="module")
def models(folders):
    out = {kind: rm.load_reward_model(folder, kind) for kind, folder in folders.items()}
    out["demo"] = rm.DemoAesthetic()
    return out


@pytest.fixture(scope="module")
def images():
    """Six non-square candidates: noise of different colour, contrast and smoothness."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 40, 56, 3, generator=g)
    x = x * torch.linspace(0.2, 1.0, 6)[:, None, None, None] + torch.rand(6, 1, 1, 3, generator=g) * 0.3
    return x.clamp(0, 1)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_scores_are_deterministic(models, images, kind):
    a = rm.score_images(models[kind], images, "a photo of a cat", 6)
    b = rm.score_images(models[kind], images.clone(), "a photo of a cat", 6)
    assert a.shape == (6,) and a.dtype == torch.float32 and torch.isfinite(a).all()
    assert torch.equal(a, b)
    assert a.std() > 0                                              # the candidates are told apart


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_batched_scores_equal_one_by_one(models, images, kind):
    batched = rm.score_images(models[kind], images, "a red dog on mars", 6)
    one_by_one = rm.score_images(models[kind], images, "a red dog on mars", 1)
    torch.testing.assert_close(one_by_one, batched, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_ranking_follows_scores(models, images, kind):
    scores = rm.score_images(models[kind], images, "sunset clouds", 3)
    order = rm.ranking(scores)
    assert sorted(order) == list(range(6))
    assert all(scores[a] >= scores[b] for a, b in zip(order, order[1:]))
    assert order[0] == int(scores.argmax())


# --- preprocessing, written again from the official recipes with PIL and numpy only ---------------------------------

CLIP_MEAN, CLIP_STD = np.array([0.48145466, 0.4578275, 0.40821073]), np.array([0.26862954, 0.26130258, 0.27577711])


def _pil(img: torch.Tensor) -> Image.Image:
    return Image.fromarray((img.numpy() * 255).round().astype(np.uint8))


def _normalised(arr: np.ndarray, mean=CLIP_MEAN, std=CLIP_STD) -> torch.Tensor:
    return torch.from_numpy(((arr - np.asarray(mean)) / np.asarray(std)).transpose(2, 0, 1).astype(np.float32))


def reference_crop(img: torch.Tensor, size: int, floor: bool, mean=CLIP_MEAN, std=CLIP_STD) -> torch.Tensor:
    """[H, W, 3] -> [3, size, size]. PIL BICUBIC of the short side to `size` (long side int(size * long / short)),
    then the centre crop at int(round(d / 2.0)) (torchvision's CenterCrop: OpenAI CLIP, ImageReward, the aesthetic
    predictor) or at d // 2 (transformers' CLIPImageProcessor: PickScore, CLIP score), then Normalize."""
    h, w = img.shape[:2]
    nh, nw = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    arr = np.asarray(_pil(img).resize((nw, nh), Image.BICUBIC), dtype=np.float64) / 255
    dy, dx = nh - size, nw - size
    top, left = (dy // 2, dx // 2) if floor else (int(round(dy / 2.0)), int(round(dx / 2.0)))
    return _normalised(arr[top:top + size, left:left + size], mean, std)


def reference_letterbox(img: torch.Tensor, size: int) -> torch.Tensor:
    """HPSv2's preprocess_val: ResizeMaxSize(size, fill=0) (each side times size / long side, Python's round;
    padding left/top = half the gap rounded down, the rest right/bottom), then Normalize."""
    h, w = img.shape[:2]
    scale = size / max(h, w)
    nh, nw = round(h * scale), round(w * scale)
    canvas = np.zeros((size, size, 3))
    top, left = (size - nh) // 2, (size - nw) // 2
    canvas[top:top + nh, left:left + nw] = np.asarray(_pil(img).resize((nw, nh), Image.BICUBIC), np.float64) / 255
    return _normalised(canvas)


def reference(img, size, recipe, mean=CLIP_MEAN, std=CLIP_STD):
    if recipe == "letterbox":
        return reference_letterbox(img, size)
    return reference_crop(img, size, recipe == "hf", mean, std)


def frame(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A decoded frame [H, W, 3] (uint8 levels): detail at two-pixel scale, values 0.3..0.7 so that no resampling
    overshoots 0..1 (where PIL would clip and a float tensor would not)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, h // 2 + 1, w // 2 + 1, generator=g) * 0.4 + 0.3
    x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    return ((x * 255).round() / 255)[0].permute(1, 2, 0).contiguous()


# (H, W): video frames, and overhangs after the resize of 115 (centre offsets 57 floored, 58 rounded), 113 (both 56)
# and the letterbox's .5 cases (225 -> 112.5 -> 112, 227 -> 113.5 -> 114).
FRAME_SIZES = [(512, 768), (768, 512), (480, 832), (448, 678), (678, 448), (448, 674), (225, 448), (448, 227)]


@pytest.mark.parametrize("recipe", ["torchvision", "hf", "letterbox"])
@pytest.mark.parametrize("hw", FRAME_SIZES)
def test_preprocess_matches_the_official_recipes(hw, recipe):
    img = frame(*hw, seed=hw[0] + hw[1])
    ours = base.preprocess(img[None], 224, recipe=recipe)[0]
    assert ours.shape == (3, 224, 224)
    assert (ours - reference(img, 224, recipe)).abs().max() * CLIP_STD.min() < 2.5 / 255


def test_the_recipes_differ_where_the_official_code_differs():
    """The checks above can fail: a one-pixel crop shift or a crop instead of the letterbox is far outside 2.5/255."""
    img = frame(448, 678, seed=5)
    floor, rounded = reference_crop(img, 224, True), reference_crop(img, 224, False)
    assert (floor - rounded).abs().max() * CLIP_STD.min() > 20 / 255
    assert (base.preprocess(img[None], 224, recipe="hf")[0] - rounded).abs().max() * CLIP_STD.min() > 20 / 255
    assert (base.preprocess(img[None], 224, recipe="letterbox")[0] - floor).abs().max() * CLIP_STD.min() > 0.2


@pytest.mark.parametrize("hw", [(224, 339), (339, 224), (224, 337)])
def test_crop_offsets_are_exact_without_resampling(hw):
    """Short side already 224: no resampling, so the crop must match to float precision (offsets 57 / 58 / 56)."""
    img = (torch.rand(*hw, 3, generator=torch.Generator().manual_seed(1)) * 255).round() / 255
    for recipe in ("torchvision", "hf"):
        torch.testing.assert_close(base.preprocess(img[None], 224, recipe=recipe)[0], reference(img, 224, recipe),
                                   rtol=0, atol=1e-5)


@pytest.mark.parametrize("hw", [(150, 224), (224, 150), (224, 224)])
def test_letterbox_pads_an_image_whose_long_side_already_fits(hw):
    img = (torch.rand(*hw, 3, generator=torch.Generator().manual_seed(2)) * 255).round() / 255
    torch.testing.assert_close(base.preprocess(img[None], 224, recipe="letterbox")[0], reference_letterbox(img, 224),
                               rtol=0, atol=1e-5)


# 32-px towers: the short side 48 -> 32 leaves an overhang of 23 (offset 11 floored, 12 rounded); 40 x 56 -> 45.
ODD_FRAMES = [(48, 83), (83, 48), (40, 56), (48, 64)]
OFFICIAL = {"imagereward": "torchvision", "aesthetic": "torchvision", "pickscore": "hf", "clip_score": "hf",
            "hpsv2": "letterbox"}


def reference_scores(kind, folder, model, frames, prompt, recipe):
    """Scores from pixels made by the reference preprocessing above and the original architectures' forwards."""
    mean, std = ((0.5,) * 3, (0.25,) * 3) if kind == "pickscore" else (CLIP_MEAN, CLIP_STD)   # preprocessor_config
    pixels = torch.stack([reference(f, 32, recipe, mean, std) for f in frames])
    if kind == "imagereward":
        ids, mask = model.encode_prompt(prompt)
        n = len(frames)
        return rf.imagereward_reference(rf.imagereward_state_dict(), rf.MED, pixels, ids.expand(n, -1),
                                        mask.expand(n, -1), vit_heads=2)
    if kind == "hpsv2":
        tok = model.tokenizer([prompt], padding="max_length", truncation=True, max_length=16, return_tensors="pt")
        img, txt = rf.openclip_reference(rf.openclip_state_dict(), pixels, tok["input_ids"], v_heads=2, t_heads=1)
        return img @ txt[0]
    clip = CLIPModel.from_pretrained(folder).eval()
    with torch.no_grad():
        pooled = clip.vision_model(pixel_values=pixels).pooler_output
        img = torch.nn.functional.normalize(clip.visual_projection(pooled))
        if kind == "aesthetic":
            r = img
            for j in (0, 2, 4, 6, 7):
                sd = rf.aesthetic_head_state_dict()
                r = torch.nn.functional.linear(r, sd[f"layers.{j}.weight"], sd[f"layers.{j}.bias"])
            return r[:, 0]
        tok = model.tokenizer([prompt], padding="max_length", truncation=True, max_length=16, return_tensors="pt")
        txt = clip.text_projection(clip.text_model(**tok).pooler_output)
        cos = img @ torch.nn.functional.normalize(txt)[0]
        return clip.logit_scale.exp() * cos if kind == "pickscore" else 100 * cos


@pytest.mark.parametrize("kind", TEXT_KINDS + ["aesthetic"])
def test_each_model_scores_non_square_frames_as_its_official_code(folders, models, kind):
    """Each model's scores are close to those from its official preprocessing (PIL resampling against ours: about
    1/255 per pixel) and at least 5 x farther from those of every other recipe."""
    frames = [frame(h, w, seed=i) for i, (h, w) in enumerate(ODD_FRAMES)]
    prompt = "a red cat on mars"
    ours = torch.cat([rm.score_images(models[kind], f[None], prompt, 1) for f in frames])
    official = reference_scores(kind, folders[kind], models[kind], frames, prompt, OFFICIAL[kind])
    error = (ours - official).abs().max()
    assert error <= 0.06 * (official.max() - official.min())
    for recipe in set(base.RECIPES) - {OFFICIAL[kind]}:
        other = reference_scores(kind, folders[kind], models[kind], frames, prompt, recipe)
        assert (other - official).abs().max() > 5 * error, recipe


def test_hpsv2_ranks_non_square_frames_by_the_letterbox(models):
    """Four 48 x 80 frames with the same centre and different sides: a centre crop cannot tell them apart (equal
    scores), the official letterbox sees the sides. Our ranking is the letterbox's."""
    model, sd = models["hpsv2"], rf.openclip_state_dict()
    frames = torch.stack([frame(48, 80, seed=10 + i) for i in range(4)])
    frames[:, :, 12:68] = frames[0, :, 12:68]
    prompt = "a red cat on mars"
    tok = model.tokenizer([prompt], padding="max_length", truncation=True, max_length=16, return_tensors="pt")

    def official(prep):
        img, txt = rf.openclip_reference(sd, torch.stack([prep(f) for f in frames]), tok["input_ids"], 2, 1)
        return img @ txt[0]
    cropped = official(lambda f: reference_crop(f, 32, floor=False))
    letterboxed = official(lambda f: reference_letterbox(f, 32))
    assert (cropped - cropped[0]).abs().max() < 1e-6                   # the crop sees one image four times
    ours = rm.score_images(model, frames, prompt, 4)
    assert rm.ranking(ours) == rm.ranking(letterboxed) != [0, 1, 2, 3]
    assert (ours - letterboxed).abs().max() < 0.1 * (letterboxed.max() - letterboxed.min())


def test_ranking_breaks_ties_by_candidate_order():
    assert rm.ranking([0.5, 2.0, 0.5, 2.0, -1.0]) == [1, 3, 0, 2, 4]


@pytest.mark.parametrize("kind", TEXT_KINDS)
def test_prompt_changes_text_dependent_scores(models, images, kind):
    a = rm.score_images(models[kind], images, "a photo of a cat", 6)
    b = rm.score_images(models[kind], images, "blue clouds on mars", 6)
    assert models[kind].text_dependent
    assert (a - b).abs().max() > 1e-3


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_prompt_does_not_change_aesthetic_scores(models, images, kind):
    a = rm.score_images(models[kind], images, "a photo of a cat", 6)
    b = rm.score_images(models[kind], images, "blue clouds on mars", 6)
    assert not models[kind].text_dependent
    assert torch.equal(a, b)


def test_demo_prefers_colourful_detailed_images_to_flat_grey():
    flat = torch.full((1, 64, 64, 3), 0.45)
    g = torch.Generator().manual_seed(1)
    rich = torch.rand(1, 64, 64, 3, generator=g) * torch.tensor([1.0, 0.4, 0.1])
    s = rm.score_images(rm.DemoAesthetic(), torch.cat([flat, rich]), "", 2)
    assert s[1] > s[0] + 1


# --- checkpoint loaders: real key names, strict mapping -------------------------------------------------------------

def test_imagereward_maps_every_real_key(folders):
    sd = rf.imagereward_state_dict()
    model = rm.load_reward_model(folders["imagereward"], "imagereward")
    mapped = ir.map_keys(sd)
    assert set(mapped) == set(model.state_dict())                  # nothing missing, nothing unexpected
    dropped = set(sd) - {k for k in sd if not k.startswith(ir.UNUSED) and not k.endswith("position_ids")}
    assert dropped == {"blip.vision_proj.weight", "blip.vision_proj.bias", "blip.text_proj.weight",
                       "blip.text_proj.bias", "blip.text_encoder.embeddings.position_ids"}
    own = model.state_dict()
    assert torch.equal(own["vision.encoder.layers.1.self_attn.qkv.weight"], sd["blip.visual_encoder.blocks.1.attn.qkv.weight"])
    assert torch.equal(own["vision.embeddings.class_embedding"], sd["blip.visual_encoder.cls_token"])
    assert torch.equal(own["text.encoder.layer.0.crossattention.self.key.weight"],
                       sd["blip.text_encoder.encoder.layer.0.crossattention.self.key.weight"])
    assert torch.equal(own["mlp.layers.7.weight"], sd["mlp.layers.7.weight"])


def test_imagereward_equals_the_original_architecture(models, images):
    """Our transformers-built model against a from-the-description forward of BLIP ViT + med BERT + MLP."""
    sd, model = rf.imagereward_state_dict(), models["imagereward"]
    ids, mask = model.encode_prompt("a photo of a red cat")
    assert ids[0, 0].item() == rf.BERT_WORDS.index("[CLS]") and ids.shape == (1, ir.MAX_TOKENS)
    pixels = base.preprocess(images, 32, recipe="torchvision")
    expected = rf.imagereward_reference(sd, rf.MED, pixels, ids.expand(6, -1), mask.expand(6, -1), vit_heads=2)
    torch.testing.assert_close(model.score(images, (ids, mask)), expected, rtol=1e-4, atol=1e-4)


def test_hpsv2_maps_every_real_key(folders):
    sd = rf.openclip_state_dict()
    model = rm.load_reward_model(folders["hpsv2"], "hpsv2")
    own = model.clip.state_dict()
    assert set(rm.openclip_to_hf(sd)) == set(own)
    w = sd["transformer.resblocks.1.attn.in_proj_weight"]
    assert torch.equal(own["text_model.encoder.layers.1.self_attn.k_proj.weight"], w[64:128])
    assert torch.equal(own["visual_projection.weight"], sd["visual.proj"].t())
    assert model.clip.config.vision_config.num_attention_heads == 2


def test_hpsv2_equals_the_original_openclip_architecture(models, images):
    sd, model = rf.openclip_state_dict(), models["hpsv2"]
    tok = model.tokenizer(["a cat on mars"], padding="max_length", truncation=True, max_length=16, return_tensors="pt")
    img, txt = rf.openclip_reference(sd, base.preprocess(images, 32, recipe="letterbox"), tok["input_ids"], v_heads=2,
                                     t_heads=1)
    torch.testing.assert_close(model.score(images, model.encode_prompt("a cat on mars")), img @ txt[0],
                               rtol=1e-4, atol=1e-5)


def test_a_tokenizer_json_replaces_vocab_and_merges(folders, models, images, tmp_path):
    folder = _copy_without(folders["hpsv2"], str(tmp_path / "hps"), ("vocab.json", "merges.txt"))
    models["hpsv2"].tokenizer.backend_tokenizer.save(os.path.join(folder, "tokenizer.json"))
    model = rm.load_reward_model(folder, "hpsv2")
    torch.testing.assert_close(rm.score_images(model, images, "a cat on mars", 6),
                               rm.score_images(models["hpsv2"], images, "a cat on mars", 6))


def test_openclip_vit_h_config_from_shapes():
    """The real HPSv2 checkpoint's shapes give OpenCLIP's ViT-H-14 (heads of width 80 in the image tower)."""
    shapes = {"visual.conv1.weight": (1280, 3, 14, 14), "visual.positional_embedding": (257, 1280),
              "token_embedding.weight": (49408, 1024), "positional_embedding": (77, 1024),
              "visual.transformer.resblocks.31.ln_1.weight": (1280,), "transformer.resblocks.23.ln_1.weight": (1024,),
              "visual.transformer.resblocks.0.mlp.c_fc.weight": (5120, 1280),
              "transformer.resblocks.0.mlp.c_fc.weight": (4096, 1024), "text_projection": (1024, 1024)}
    cfg = rm.openclip_config({k: torch.empty(s, device="meta") for k, s in shapes.items()}, 49407)
    v, t = cfg.vision_config, cfg.text_config
    assert (v.hidden_size, v.num_hidden_layers, v.num_attention_heads, v.image_size, v.patch_size) == (1280, 32, 16, 224, 14)
    assert (t.hidden_size, t.num_hidden_layers, t.num_attention_heads, t.max_position_embeddings) == (1024, 24, 16, 77)
    assert cfg.projection_dim == 1024 and v.hidden_act == t.hidden_act == "gelu"


@pytest.mark.parametrize("kind", ["pickscore", "clip_score", "aesthetic"])
def test_hf_clip_folders_load_strictly(folders, kind):
    model = rm.load_reward_model(folders[kind], kind)
    tower = model.tower if kind == "aesthetic" else model.clip
    assert not any(p.is_meta for p in model.parameters()) and not any(b.is_meta for b in model.buffers())
    ref = CLIPModel.from_pretrained(folders[kind])
    assert torch.equal(tower.state_dict()["visual_projection.weight"], ref.visual_projection.weight)
    if kind == "pickscore":                     # preprocessor_config.json is honoured
        assert (model.image_size, model.mean, model.std) == (32, (0.5,) * 3, (0.25,) * 3)


def test_aesthetic_head_keys(folders):
    sd = rf.aesthetic_head_state_dict()
    model = rm.load_reward_model(folders["aesthetic"], "aesthetic")
    assert set(model.head.state_dict()) == set(sd)
    assert model.head.layers[0].weight.dtype == torch.float32


@pytest.mark.parametrize("name", ["sac+logos+ava1-l14-linearMSE.safetensors", "ava+logos-l14-linearMSE.pth",
                                  "aesthetic_predictor.safetensors"])
def test_aesthetic_head_under_its_re_release_names(folders, models, images, tmp_path, name):
    from safetensors.torch import save_file
    folder = _copy_without(folders["aesthetic"], str(tmp_path / "aes"), ("sac+logos+ava1-l14-linearMSE.pth",))
    path = os.path.join(folder, name)
    if name.endswith(".safetensors"):
        save_file(rf.aesthetic_head_state_dict(), path)
    else:
        torch.save(rf.aesthetic_head_state_dict(), path)
    assert files.detect_kind(folder) == "aesthetic"
    torch.testing.assert_close(rm.score_images(rm.load_reward_model(folder, "aesthetic"), images, "", 6),
                               rm.score_images(models["aesthetic"], images, "", 6))


def test_hf_clip_weights_as_pytorch_model_bin(folders, models, images, tmp_path):
    from safetensors.torch import load_file
    folder = _copy_without(folders["pickscore"], str(tmp_path / "PickScore_v1"), ("model.safetensors",))
    torch.save(load_file(os.path.join(folders["pickscore"], "model.safetensors")),
               os.path.join(folder, "pytorch_model.bin"))
    assert files.detect_kind(folder) == "pickscore"
    torch.testing.assert_close(rm.score_images(rm.load_reward_model(folder, "pickscore"), images, "a cat", 6),
                               rm.score_images(models["pickscore"], images, "a cat", 6))


# --- wrong and missing files ---------------------------------------------------------------------------------------

def _copy_without(src, dst, drop=()):
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        if name not in drop:
            os.link(os.path.join(src, name), os.path.join(dst, name))
    return dst


@pytest.mark.parametrize("kind,drop,named", [
    ("imagereward", ("vocab.txt",), ["ImageReward.pt", "med_config.json", "vocab.txt", "bert-base-uncased"]),
    ("imagereward", ("ImageReward.pt", "med_config.json"), ["ImageReward.pt", "med_config.json", "THUDM/ImageReward"]),
    ("hpsv2", ("merges.txt",), ["HPS_v2.1_compressed.pt", "vocab.json + merges.txt", "tokenizer.json"]),
    ("pickscore", ("model.safetensors",), ["config.json", "model.safetensors", "PickScore_v1"]),
    ("aesthetic", ("sac+logos+ava1-l14-linearMSE.pth",), ["sac+logos+ava1-l14-linearMSE.pth", "clip-vit-large-patch14"]),
])
def test_missing_files_are_named_with_their_folder(folders, tmp_path, kind, drop, named):
    folder = _copy_without(folders[kind], str(tmp_path / "partial"), drop)
    with pytest.raises(files.RewardFileError) as e:
        rm.load_reward_model(folder, kind)
    msg = str(e.value)
    assert folder in msg and "Missing: " in msg
    for name in named + list(drop):
        assert name in msg
    assert all(d in msg.split("Missing: ")[1] for d in drop)


def test_wrong_checkpoint_in_imagereward_folder(folders, tmp_path):
    folder = _copy_without(folders["imagereward"], str(tmp_path / "ir"), ("ImageReward.pt",))
    torch.save(rf.openclip_state_dict(), os.path.join(folder, "ImageReward.pt"))
    with pytest.raises(files.RewardFileError, match=r"ImageReward\.pt is not an ImageReward v1\.0 checkpoint"):
        rm.load_reward_model(folder, "imagereward")
    sd = rf.imagereward_state_dict()
    del sd["blip.text_encoder.encoder.layer.1.crossattention.self.key.weight"]
    torch.save(sd, os.path.join(folder, "ImageReward.pt"))
    with pytest.raises(files.RewardFileError, match=r"1 expected weights are missing .*crossattention\.self\.key"):
        rm.load_reward_model(folder, "imagereward")


def test_med_config_must_match_the_checkpoint(folders, tmp_path):
    folder = _copy_without(folders["imagereward"], str(tmp_path / "ir"), ("med_config.json",))
    with open(os.path.join(folder, "med_config.json"), "w") as f:
        json.dump(dict(rf.MED, intermediate_size=256), f)
    with pytest.raises(files.RewardFileError, match="shape mismatch .*intermediate"):
        rm.load_reward_model(folder, "imagereward")


def test_wrong_checkpoint_in_hpsv2_folder(folders, tmp_path):
    folder = _copy_without(folders["hpsv2"], str(tmp_path / "hps"), ("HPS_v2.1_compressed.pt",))
    torch.save({"state_dict": rf.imagereward_state_dict()}, os.path.join(folder, "HPS_v2.1_compressed.pt"))
    with pytest.raises(files.RewardFileError, match=r"HPS_v2\.1_compressed\.pt is not an HPSv2 checkpoint"):
        rm.load_reward_model(folder, "hpsv2")
    sd = rf.openclip_state_dict()
    sd["visual.extra.weight"] = torch.zeros(2)
    torch.save({"state_dict": sd}, os.path.join(folder, "HPS_v2.1_compressed.pt"))
    with pytest.raises(files.RewardFileError, match=r"1 are unexpected .*visual\.extra\.weight"):
        rm.load_reward_model(folder, "hpsv2")


def test_wrong_aesthetic_head_and_wrong_clip(folders, tmp_path):
    folder = _copy_without(folders["aesthetic"], str(tmp_path / "aes"), ("sac+logos+ava1-l14-linearMSE.pth",))
    head = os.path.join(folder, "sac+logos+ava1-l14-linearMSE.pth")
    torch.save({"layers.0.weight": torch.zeros(4, 32)}, head)
    with pytest.raises(files.RewardFileError, match="is not a LAION aesthetic predictor head"):
        rm.load_reward_model(folder, "aesthetic")
    torch.save(rf.aesthetic_head_state_dict(dim=512), head)         # a ViT-B/16 head next to our "CLIP-L"
    with pytest.raises(files.RewardFileError, match="expects 512-d CLIP embeddings .* makes 32-d"):
        rm.load_reward_model(folder, "aesthetic")


def test_hf_folder_missing_a_tower_is_refused(folders, tmp_path):
    from safetensors.torch import load_file, save_file
    folder = _copy_without(folders["clip_score"], str(tmp_path / "clip"), ("model.safetensors",))
    sd = load_file(os.path.join(folders["clip_score"], "model.safetensors"))
    save_file({k: v for k, v in sd.items() if not k.startswith("text_model.")}, os.path.join(folder, "model.safetensors"))
    with pytest.raises(files.RewardFileError, match="is not a Hugging Face CLIPModel: .* missing"):
        rm.load_reward_model(folder, "clip_score")


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def _truncated(path, keep=0.5):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:int(len(data) * keep)])


def _write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def _legacy_pickle(path):
    torch.save(rf.aesthetic_head_state_dict(), path, _use_new_zipfile_serialization=False)
    _truncated(path, 0.6)


def _bin_weights(folder):
    from safetensors.torch import load_file
    st = os.path.join(folder, "model.safetensors")
    torch.save(load_file(st), os.path.join(folder, "pytorch_model.bin"))
    os.remove(st)
    _truncated(os.path.join(folder, "pytorch_model.bin"))


def _config_value(name, **changes):
    def damage(path):
        with open(path) as f:
            cfg = json.load(f)
        for k, v in changes.items():
            section, _, key = k.rpartition("__")
            (cfg[section] if section else cfg)[key] = v
        _write(path, json.dumps(cfg))
    return damage


def _tokenizer_json(folder):
    _write(os.path.join(folder, "tokenizer.json"), '{"version": "1.0", "model": {"type": "BPE", "voc')


# (kind, the damaged file, the damage: bytes written over it, or a function of its path / of the folder)
DAMAGED = {
    "vocab.json truncated": ("hpsv2", "vocab.json", b'{"a": 0, "b'),
    "vocab.json not ids": ("hpsv2", "vocab.json", b'{"a": "zero"}'),
    "merges.txt bad line": ("pickscore", "merges.txt", "#version: 0.2\nc a\nca t </w>\n"),
    "merges.txt binary": ("hpsv2", "merges.txt", b"\xff\xfe\x00\x81\n"),
    "tokenizer.json truncated": ("hpsv2", "tokenizer.json", _tokenizer_json),
    "vocab.txt binary": ("imagereward", "vocab.txt", b"\xff\xfe\x00\x81\n"),
    "vocab.txt empty": ("imagereward", "vocab.txt", b""),
    "config.json truncated": ("pickscore", "config.json", _truncated),
    "config.json bad value": ("clip_score", "config.json", _config_value("cfg", vision_config__num_attention_heads=5)),
    "med_config.json truncated": ("imagereward", "med_config.json", _truncated),
    "med_config.json bad value": ("imagereward", "med_config.json", _config_value("med", num_attention_heads=5)),
    "preprocessor_config.json truncated": ("pickscore", "preprocessor_config.json", _truncated),
    "preprocessor_config.json bad value": ("pickscore", "preprocessor_config.json",
                                           _config_value("pre", crop_size="large")),
    "model.safetensors truncated": ("clip_score", "model.safetensors", _truncated),
    "model.safetensors no header": ("aesthetic", "model.safetensors", b"\x10" + bytes(7) + b"not a json table"),
    "pytorch_model.bin truncated": ("clip_score", "pytorch_model.bin", _bin_weights),
    "ImageReward.pt truncated": ("imagereward", "ImageReward.pt", _truncated),
    "HPS .pt text": ("hpsv2", "HPS_v2.1_compressed.pt", "not weights at all\n"),
    "aesthetic .pth empty": ("aesthetic", "sac+logos+ava1-l14-linearMSE.pth", b""),
    "aesthetic .pth legacy truncated": ("aesthetic", "sac+logos+ava1-l14-linearMSE.pth", _legacy_pickle),
    "ImageReward.pt not tensors": ("imagereward", "ImageReward.pt", pickle.dumps({"a": 1})),
    "ImageReward.pt pickled code": ("imagereward", "ImageReward.pt",
                                    lambda p: torch.save({"state_dict": Payload()}, p)),
}


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("case", list(DAMAGED))
def test_damaged_files_are_named_with_their_folder(folders, tmp_path, case):
    kind, name, damage = DAMAGED[case]
    folder = _copy_without(folders[kind], str(tmp_path / "models" / kind), (name,))
    path = os.path.join(folder, name)
    if os.path.exists(os.path.join(folders[kind], name)):
        shutil.copy(os.path.join(folders[kind], name), path)     # a private copy to damage (the rest are links)
    if callable(damage):
        damage(folder) if damage in (_bin_weights, _tokenizer_json) else damage(path)
    else:
        _write(path, damage)
    with pytest.raises(files.RewardFileError) as e:
        rm.load_reward_model(folder, kind)
    msg = str(e.value)
    assert folder in msg and name in msg
    assert ("pickled" in msg or "unpickles" in msg) == (case == "ImageReward.pt pickled code")
    assert msg.endswith(".") and msg.count("(") == msg.count(")") and len(msg) < 700


def test_loading_never_touches_the_network(folders, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for kind, folder in folders.items():
        assert rm.load_reward_model(folder, kind).kind == kind


def test_detect_kind(folders, tmp_path):
    for kind, folder in folders.items():
        assert files.detect_kind(folder) == kind
    assert files.detect_kind(str(tmp_path)) is None
