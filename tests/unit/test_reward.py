"""Reward models for I4VGen's anchor selection, on tiny random checkpoints with the real key names."""
import json
import os
import pickle

import pytest
import torch
from transformers import CLIPModel

import reward_fakes as rf
from tfv_core import imagereward as ir
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


def test_preprocess_matches_clips_pil_transform():
    """Resize(224, BICUBIC) + CenterCrop(224) + Normalize, as the reference models were trained, to about 1/255."""
    import numpy as np
    from PIL import Image
    g = torch.Generator().manual_seed(2)
    rgb = torch.nn.functional.interpolate(torch.rand(1, 3, 30, 19, generator=g), size=(451, 301), mode="bilinear")
    rgb = (rgb * 255).round() / 255                                   # what a decoded uint8 image holds
    pil = Image.fromarray((rgb[0].permute(1, 2, 0) * 255).round().byte().numpy()).resize((224, 335), Image.BICUBIC)
    top = round((335 - 224) / 2)
    ref = torch.from_numpy(np.asarray(pil)).permute(2, 0, 1).float()[:, top:top + 224] / 255
    ref = (ref - torch.tensor(rm.OPENAI_MEAN)[:, None, None]) / torch.tensor(rm.OPENAI_STD)[:, None, None]
    ours = rm.preprocess(rgb.permute(0, 2, 3, 1), 224)[0]
    assert ours.shape == (3, 224, 224)
    assert (ours - ref).abs().max() * min(rm.OPENAI_STD) < 2.5 / 255


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
    pixels = rm.preprocess(images, 32)
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
    img, txt = rf.openclip_reference(sd, rm.preprocess(images, 32), tok["input_ids"], v_heads=2, t_heads=1)
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


def test_pickled_code_and_non_weight_files_are_refused(tmp_path):
    bad = tmp_path / "ImageReward.pt"
    torch.save({"state_dict": Payload()}, bad)
    with pytest.raises(files.RewardFileError, match="never unpickles code"):
        files.read_state_dict(str(bad))
    bad.write_text("not weights")
    with pytest.raises(files.RewardFileError, match="is not a plain weight file"):
        files.read_state_dict(str(bad))
    bad.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(files.RewardFileError):
        files.read_state_dict(str(bad))


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
