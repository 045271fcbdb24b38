"""Load Reward Model and Rank by Reward inside the real ComfyUI host (folder_paths, ModelPatcher, temp previews)."""
import json
import os
import shutil

import pytest
import torch
from PIL import Image

import comfy.model_management
import comfy.model_patcher
import folder_paths
import reward_fakes as rf
from comfy_execution.graph_utils import ExecutionBlocker
from host_utils import result


@pytest.fixture(scope="module")
def reward():
    from training_free_video.nodes import reward
    return reward


@pytest.fixture(scope="module")
def models_root(reward, tmp_path_factory):
    """A second reward_models path (as extra_model_paths.yaml would add) holding one tiny model of each kind."""
    root = str(tmp_path_factory.mktemp("reward_models"))
    rf.write_all(root)
    os.makedirs(os.path.join(root, "empty_folder"))
    folder_paths.add_model_folder_path(reward.FOLDER, root)
    yield root
    folder_paths.folder_names_and_paths[reward.FOLDER][0].remove(root)


@pytest.fixture(scope="module")
def imagereward(reward, models_root):
    return result(reward.RewardModelLoader.execute("ImageReward", "auto", "auto"))[0]


@pytest.fixture(scope="module")
def demo(reward):
    return result(reward.RewardModelLoader.execute(reward.rm.DEMO_NAME, "auto", "auto"))[0]


def candidates(n=5, h=48, w=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, h, w, 3, generator=g) * torch.linspace(0.1, 1, n)[:, None, None, None]).clamp(0, 1)


def rank(reward, model, images, prompt="a photo of a cat", top_k=1, batch_size=16, latents=None):
    out = reward.RankByReward.execute(model, images, prompt, top_k, batch_size, latents)
    return out.result, out.ui


def test_reward_models_folder_is_registered(reward):
    paths = folder_paths.get_folder_paths("reward_models")
    assert paths[0] == os.path.join(folder_paths.models_dir, "reward_models")


def test_loader_lists_every_folder_and_always_the_demo(reward, models_root):
    options = reward.RewardModelLoader.INPUT_TYPES()["required"]["model_name"][1]["options"]
    assert options[0] == "demo_aesthetic (no weights)"
    assert {"ImageReward", "HPSv2.1", "PickScore_v1", "clip-vit-large-patch14", "laion-aesthetic",
            "empty_folder"} <= set(options)


@pytest.mark.parametrize("name,kind", [("ImageReward", "imagereward"), ("HPSv2.1", "hpsv2"),
                                       ("PickScore_v1", "pickscore"), ("clip-vit-large-patch14", "clip_score"),
                                       ("laion-aesthetic", "aesthetic")])
def test_loader_detects_and_loads_each_kind(reward, models_root, name, kind):
    with torch.inference_mode():                                            # as ComfyUI runs nodes
        handle = result(reward.RewardModelLoader.execute(name, "auto", "auto"))[0]
    assert handle.model.kind == kind and name in handle.name
    assert isinstance(handle.patcher, comfy.model_patcher.ModelPatcher)
    expected = torch.float16 if comfy.model_management.should_use_fp16(handle.patcher.load_device) else torch.float32
    assert handle.model._param().dtype == expected
    with torch.inference_mode():
        scores = handle.score(candidates(3), "a red dog", 2)
    assert scores.shape == (3,) and torch.isfinite(scores).all()


@pytest.mark.parametrize("name", ["ImageReward", "HPSv2.1"])
def test_fp16_scores_follow_fp32(reward, models_root, name):
    full, half = (result(reward.RewardModelLoader.execute(name, "auto", p))[0] for p in ("fp32", "fp16"))
    assert half.model._param().dtype == torch.float16
    heads = [m for m in half.model.modules() if isinstance(m, reward.rm.LinearHead)]
    assert all(h.layers[0].weight.dtype == torch.float32 for h in heads)            # scored in fp32
    images = candidates(4)
    with torch.inference_mode():
        a, b = full.score(images, "a red dog", 4), half.score(images, "a red dog", 4)
    assert b.dtype == torch.float32
    torch.testing.assert_close(b, a, rtol=0, atol=2e-3 * a.abs().max().item())


def test_kind_can_be_overridden(reward, models_root):
    handle = result(reward.RewardModelLoader.execute("laion-aesthetic", "clip_score", "fp32"))[0]
    assert handle.model.kind == "clip_score" and handle.text_dependent


def test_loader_errors_name_the_files_and_the_folder(reward, models_root):
    with pytest.raises(reward.host.NodeInputError, match=r"\[Load Reward Model\] cannot tell .*empty_folder.*"
                                                         r"ImageReward\.pt.*HPS_v2\.1_compressed\.pt.*linearMSE"):
        reward.RewardModelLoader.execute("empty_folder", "auto", "auto")
    with pytest.raises(reward.host.NodeInputError, match=r"\[Load Reward Model\] ImageReward v1\.0 needs .*"
                                                         r"empty_folder.*Missing: ImageReward\.pt"):
        reward.RewardModelLoader.execute("empty_folder", "imagereward", "auto")
    with pytest.raises(reward.host.NodeInputError, match=r"no folder 'gone'"):
        reward.RewardModelLoader.execute("gone", "auto", "auto")


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize("kind,folder,name,damage", [
    ("hpsv2", "HPSv2.1", "vocab.json", b'{"a": 0, "b'),
    ("hpsv2", "HPSv2.1", "merges.txt", b"\xff\xfe\x00\x81\n"),
    ("clip_score", "clip-vit-large-patch14", "config.json", b'{"model_type": "clip", '),
    ("pickscore", "PickScore_v1", "model.safetensors", b"\x10" + bytes(7) + b"not a header"),
    ("aesthetic", "laion-aesthetic", "sac+logos+ava1-l14-linearMSE.pth", b"PK\x03\x04 cut short"),
    ("imagereward", "ImageReward", "ImageReward.pt", "pickled code"),
])
def test_loader_names_folder_and_file_of_a_damaged_file(reward, models_root, kind, folder, name, damage):
    copy = os.path.join(models_root, f"damaged-{kind}-{os.path.splitext(name)[1][1:]}")
    shutil.copytree(os.path.join(models_root, folder), copy)
    if damage == "pickled code":
        torch.save({"state_dict": Payload()}, os.path.join(copy, name))
    else:
        with open(os.path.join(copy, name), "wb") as f:
            f.write(damage)
    with pytest.raises(reward.host.NodeInputError) as e:
        reward.RewardModelLoader.execute(os.path.basename(copy), kind, "fp32")
    msg = str(e.value)
    assert msg.startswith("[Load Reward Model] ") and copy in msg and name in msg
    assert ("unpickles" in msg) == (damage == "pickled code")


def test_rank_outputs_best_first_with_latents(reward, imagereward):
    images = candidates(5)
    latents = {"samples": torch.randn(5, 4, 6, 5), "batch_index": [10, 11, 12, 13, 14]}
    (top, lat, indices, scores, table), ui = rank(reward, imagereward, images, top_k=3, latents=latents)
    values = json.loads(scores)
    assert values == pytest.approx(imagereward.score(images, "a photo of a cat", 1).tolist(), abs=1e-5)
    order = sorted(range(5), key=lambda i: -values[i])
    assert [int(i) for i in indices.split(",")] == order[:3]
    assert torch.equal(top, images[order[:3]])
    assert torch.equal(lat["samples"], latents["samples"][order[:3]]) and lat["batch_index"] == [10 + i for i in order[:3]]
    assert latents["samples"].shape[0] == 5                                  # the input is untouched
    rows = table.splitlines()[2:]
    assert [int(r.split()[1]) for r in rows] == order and rows[2].endswith("*") and not rows[3].endswith("*")
    assert ui["tfv_scores"] == values and ui["tfv_ranking"] == order and ui["tfv_top_k"] == [3]


def test_rank_ui_previews_are_small_temp_images_in_candidate_order(reward, demo):
    images = candidates(3, h=600, w=300)
    images[1] = 0.5                                                          # a flat grey candidate
    _, ui = rank(reward, demo, images)
    assert len(ui["tfv_candidates"]) == 3
    for i, item in enumerate(ui["tfv_candidates"]):
        assert item["type"] == "temp"
        path = os.path.join(folder_paths.get_temp_directory(), item["subfolder"], item["filename"])
        with Image.open(path) as im:
            assert im.size == (128, 256)
            flat = max(im.convert("L").getextrema()) - min(im.convert("L").getextrema()) <= 1
            assert flat == (i == 1)


def test_rank_without_latents_blocks_only_the_latents_output(reward, demo):
    (top, lat, indices, _, _), _ = rank(reward, demo, candidates(4), top_k=2)
    assert top.shape[0] == 2 and len(indices.split(",")) == 2
    assert isinstance(lat, ExecutionBlocker) and "connect the LATENT batch" in lat.message


def test_rank_selects_5d_latents_and_masks(reward, demo):
    latents = {"samples": torch.randn(4, 16, 1, 3, 3), "noise_mask": torch.rand(4, 1, 24, 24)}
    (_, lat, indices, _, _), _ = rank(reward, demo, candidates(4), top_k=2, latents=latents)
    best = [int(i) for i in indices.split(",")]
    assert torch.equal(lat["samples"], latents["samples"][best])
    assert torch.equal(lat["noise_mask"], latents["noise_mask"][best])


def test_batch_size_does_not_change_the_ranking(reward, imagereward):
    images = candidates(5, seed=3)
    (_, _, i1, s1, _), _ = rank(reward, imagereward, images, batch_size=1)
    (_, _, i5, s5, _), _ = rank(reward, imagereward, images, batch_size=5)
    assert i1 == i5 and json.loads(s1) == pytest.approx(json.loads(s5), abs=1e-5)


class Spy:
    """A reward handle that records whether any scoring was attempted."""
    def __init__(self, handle):
        self.handle, self.calls, self.name, self.text_dependent = handle, 0, handle.name, handle.text_dependent

    def score(self, *args):
        self.calls += 1
        return self.handle.score(*args)


@pytest.mark.parametrize("case,pattern", [
    ("top_k", r"\[Rank by Reward\] top_k is 6 but there are only 5 candidate images"),
    ("prompt", r"\[Rank by Reward\] ImageReward v1\.0 \(ImageReward\) scores how well .* the prompt is empty"),
    ("latents", r"\[Rank by Reward\] the latents hold a batch of 4 but there are 5 images"),
])
def test_bad_input_is_refused_before_any_scoring(reward, imagereward, case, pattern):
    spy = Spy(imagereward)
    kwargs = {"top_k": 6} if case == "top_k" else {"prompt": "  "} if case == "prompt" else \
        {"latents": {"samples": torch.zeros(4, 4, 6, 5)}}
    with pytest.raises(reward.host.NodeInputError, match=pattern):
        rank(reward, spy, candidates(5), **kwargs)
    assert spy.calls == 0


def test_demo_needs_no_prompt(reward, demo):
    (_, _, indices, _, _), _ = rank(reward, demo, candidates(3), prompt="")
    assert indices in {"0", "1", "2"}


def test_ranking_honours_cancel(reward, imagereward):
    comfy.model_management.interrupt_current_processing(True)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            rank(reward, imagereward, candidates(4), batch_size=1)
    finally:
        comfy.model_management.interrupt_current_processing(False)
