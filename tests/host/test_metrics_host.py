"""Video Metrics and Compare Videos inside the real ComfyUI host: ComfyUI's CLIP_VISION, the pack's reward models,
RAFT from models/optical_flow, JSON in the output folder, batch splitting and the errors raised before any work."""
import json
import os

import pytest
import torch

import folder_paths
import reward_fakes as rf
from host_utils import result

NO_FLOW = "none (weight-free proxies)"


@pytest.fixture(scope="module")
def mx():
    from training_free_video.nodes import metrics
    return metrics


@pytest.fixture(scope="module")
def vm():
    from training_free_video.nodes.core import metrics
    return metrics


def video(frames=8, h=40, w=48, seed=0, speed=1):
    """A smooth pattern drifting `speed` px a frame, with a little noise."""
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.rand(1, 3, 6, 6, generator=g), size=(h, w + speed * frames),
                                           mode="bicubic", align_corners=False)
    x = torch.cat([base[..., speed * t:speed * t + w] for t in range(frames)]).movedim(1, -1)
    return (x + 0.02 * torch.rand(x.shape, generator=g)).clamp(0, 1)


def run(mx, images, **kw):
    args = dict(frames_per_video=0, fps=8.0, label="test", flow_model=NO_FLOW, batch_size=16,
                filename_prefix="metrics/test")
    args.update(kw)
    return mx.VideoMetrics.execute(images, **args)


@pytest.fixture(scope="module")
def rewards(tmp_path_factory):
    from training_free_video.nodes import reward
    root = str(tmp_path_factory.mktemp("reward_models"))
    rf.write_aesthetic(os.path.join(root, "laion-aesthetic"))
    rf.write_hf_clip(os.path.join(root, "clip-vit-large-patch14"), seed=5)
    folder_paths.add_model_folder_path(reward.FOLDER, root)
    with torch.inference_mode():
        out = {name: result(reward.RewardModelLoader.execute(name, "auto", "fp32"))[0]
               for name in ("laion-aesthetic", "clip-vit-large-patch14", reward.rm.DEMO_NAME)}
    yield out
    folder_paths.folder_names_and_paths[reward.FOLDER][0].remove(root)


@pytest.fixture(scope="module")
def clip_vision(tmp_path_factory):
    """ComfyUI's own ClipVisionModel at a tiny size with seeded weights."""
    import comfy.clip_vision
    cfg = dict(attention_dropout=0.0, dropout=0.0, hidden_act="quick_gelu", hidden_size=32, image_size=32,
               intermediate_size=64, layer_norm_eps=1e-5, model_type="clip_vision_model", num_attention_heads=2,
               num_channels=3, num_hidden_layers=2, patch_size=8, projection_dim=16)
    path = tmp_path_factory.mktemp("clip_vision") / "tiny.json"
    path.write_text(json.dumps(cfg))
    cv = comfy.clip_vision.ClipVisionModel(str(path))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in cv.model.named_parameters():
            p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g) if "norm" in name and name.endswith("weight")
                    else 0.2 * torch.randn(p.shape, generator=g))
    return cv


def test_nodes_are_registered(pack):
    from training_free_video.nodes import node_list
    ids = {n.define_schema().node_id for n in node_list()}
    assert {"TFV_VideoMetrics", "TFV_CompareVideos"} <= ids


def test_outputs_summary_plot_and_json_in_the_output_folder(mx, vm):
    frames = video(8)
    out = run(mx, frames, label="drift")
    res, text, plot = out.result
    m = res.videos[0]["metrics"]
    assert m["temporal_flickering"] == vm.temporal_flickering(frames)
    assert m["motion_smoothness"] == vm.motion_smoothness(frames)
    assert m["subject_consistency"] == pytest.approx(vm.consistency(vm.pixel_features(frames)), abs=1e-6)
    assert len(res.videos) == 1 and res.videos[0]["label"] == "drift" and res.videos[0]["frames"] == 8
    assert "| temporal flickering |" in text and mx.PIXELS in text and mx.HORN_SCHUNCK in text
    assert plot.ndim == 4 and plot.shape[0] == 1 and plot.shape[-1] == 3 and 0 <= plot.min() and plot.max() <= 1
    entry = out.ui["tfv_metrics_json"][0]
    path = os.path.join(folder_paths.get_output_directory(), entry["subfolder"], entry["filename"])
    saved = json.loads(open(path).read())
    assert saved["videos"][0]["metrics"] == pytest.approx(res.videos[0]["metrics"])
    assert out.ui["images"] and out.ui["text"] == [text]


def test_batch_of_videos_equals_each_video_alone(mx):
    a, b, c = video(8, seed=1), video(8, seed=2, speed=3), video(8, seed=3, speed=0)
    together = run(mx, torch.cat([a, b, c]), frames_per_video=8, batch_size=5).result[0].videos
    assert [v["label"] for v in together] == ["test #1", "test #2", "test #3"]
    for v, alone in zip(together, (a, b, c)):
        single = run(mx, alone, batch_size=16).result[0].videos[0]
        assert v["metrics"] == pytest.approx(single["metrics"], abs=1e-6)
        assert v["per_frame"].keys() == single["per_frame"].keys()
        for key, curve in v["per_frame"].items():
            assert curve == pytest.approx(single["per_frame"][key], abs=1e-6), key


def test_metrics_are_deterministic_and_see_motion(mx):
    still, moving = video(8, speed=0), video(8, speed=4)
    r1 = run(mx, torch.cat([still, moving]), frames_per_video=8).result[0].videos
    r2 = run(mx, torch.cat([still, moving]), frames_per_video=8).result[0].videos
    assert r1[0]["metrics"] == r2[0]["metrics"] and r1[1]["metrics"] == r2[1]["metrics"]
    s, m = r1[0]["metrics"], r1[1]["metrics"]
    assert s["temporal_flickering"] > m["temporal_flickering"]
    assert s["subject_consistency"] > m["subject_consistency"]
    assert s["flow_top5"] < 0.5 < 2 < m["flow_top5"]


def test_reward_models_give_aesthetic_text_and_background_features(mx, vm, rewards):
    frames = video(6)
    aes, clip = rewards["laion-aesthetic"], rewards["clip-vit-large-patch14"]
    with torch.inference_mode():
        v = run(mx, frames, aesthetic_model=aes, text_model=clip, prompt="a red dog").result[0].videos[0]
        expected_aes = aes.score(frames, "", 16) / 10
        expected_text = clip.score(frames, "a red dog", 16)
        tower = mx.tower_features(clip, frames, 4)
    assert v["metrics"]["aesthetic_quality"] == pytest.approx(expected_aes.mean().item(), abs=1e-5)
    assert v["per_frame"]["text_score"] == pytest.approx(expected_text.tolist(), abs=1e-4)
    assert v["backbones"]["background_consistency"] == f"{clip.name} image tower"
    assert v["metrics"]["background_consistency"] == pytest.approx(vm.consistency(tower), abs=1e-5)
    assert v["backbones"]["aesthetic_quality"] == aes.name and v["backbones"]["text_score"] == clip.name


def test_clip_vision_serves_subject_consistency(mx, vm, clip_vision, rewards):
    frames = video(6)
    with torch.inference_mode():
        v = run(mx, frames, clip_vision=clip_vision, text_model=rewards["clip-vit-large-patch14"],
                prompt="a cat").result[0].videos[0]
        emb = clip_vision.encode_image(frames)["image_embeds"]
    assert v["backbones"]["subject_consistency"] == "CLIP_VISION CLIPVisionModelProjection"
    assert v["metrics"]["subject_consistency"] == pytest.approx(vm.consistency(emb), abs=1e-5)
    assert v["backbones"]["background_consistency"].endswith("image tower")


def test_raft_from_the_optical_flow_folder(mx, tmp_path):
    from torchvision.models.optical_flow import raft_small
    torch.manual_seed(0)
    torch.save(raft_small(weights=None).state_dict(), tmp_path / "raft_small_test.pth")
    folder_paths.add_model_folder_path(mx.FLOW_FOLDER, str(tmp_path))
    try:
        assert "raft_small_test.pth" in mx.flow_files()
        with torch.inference_mode():
            v = run(mx, video(3), flow_model="raft_small_test.pth").result[0].videos[0]
    finally:
        folder_paths.folder_names_and_paths[mx.FLOW_FOLDER][0].remove(str(tmp_path))
    assert v["backbones"]["dynamic_degree"] == "RAFT (raft_small_test.pth)"
    assert v["backbones"]["motion_smoothness"].startswith("flow warp (RAFT")
    assert len(v["per_frame"]["flow_top5"]) == 2 and len(v["per_frame"]["motion_smoothness"]) == 1


@pytest.mark.parametrize("kw,match", [
    (dict(frames_per_video=3), "not a whole number of videos"),
    (dict(frames_per_video=2), "at least 3"),
    (dict(fps=float("nan")), "fps: NaN is not a finite number"),
    (dict(flow_model="missing.pth"), "flow_model 'missing.pth' is not in"),
])
def test_bad_inputs_fail_before_any_work(mx, kw, match):
    from training_free_video.nodes.host import NodeInputError
    with pytest.raises(NodeInputError, match=r"^\[Video Metrics\] .*" + match):
        run(mx, video(8), **kw)


def test_wrong_reward_models_and_missing_prompt_are_refused(mx, rewards):
    from training_free_video.nodes.host import NodeInputError
    with pytest.raises(NodeInputError, match="aesthetic_model is CLIP score"):
        run(mx, video(4), aesthetic_model=rewards["clip-vit-large-patch14"])
    with pytest.raises(NodeInputError, match="text_model is .* ignores the prompt"):
        run(mx, video(4), text_model=rewards["demo_aesthetic (no weights)"], prompt="x")
    with pytest.raises(NodeInputError, match="prompt is empty"):
        run(mx, video(4), text_model=rewards["clip-vit-large-patch14"], prompt=" ")


def test_bad_flow_file_is_named(mx, tmp_path):
    from training_free_video.nodes.host import NodeInputError
    torch.save({"w": torch.zeros(2)}, tmp_path / "bad.pth")
    folder_paths.add_model_folder_path(mx.FLOW_FOLDER, str(tmp_path))
    try:
        with pytest.raises(NodeInputError, match=r"\[Video Metrics\] .*bad.pth is not a torchvision RAFT"):
            run(mx, video(4), flow_model="bad.pth")
    finally:
        folder_paths.folder_names_and_paths[mx.FLOW_FOLDER][0].remove(str(tmp_path))


def test_compare_videos_tables_the_differences(mx):
    a = run(mx, video(8, speed=0), label="off").result[0]
    b = run(mx, video(8, speed=4), label="on").result[0]
    text, plot = mx.CompareVideos.execute(a, b).result
    row = next(line for line in text.splitlines() if line.startswith("| temporal flickering"))
    off, on = a.videos[0]["metrics"]["temporal_flickering"], b.videos[0]["metrics"]["temporal_flickering"]
    assert row == f"| temporal flickering | {off:.4f} | {on:.4f} | {on - off:+.4f} |"
    assert "Δ on − off" in text and plot.shape[0] == 1
    from training_free_video.nodes.host import NodeInputError
    with pytest.raises(NodeInputError, match=r"^\[Compare Videos\] there is 1 video"):
        mx.CompareVideos.execute(a)
