"""VBench dimensions (nodes/core/metrics.py) against values computed by hand from VBench's definitions
(Huang et al., arXiv 2311.17982), and RAFT loading (nodes/core/optical_flow.py), without ComfyUI.

Reference numbers (8-bit levels are written k + 1/2 so that floor(255 x) = k exactly):
- consistency, features (1,0), (0.6,0.8), (0,1): t=2: (0.6 + 0.6)/2 = 0.6; t=3: (0 + 0.8)/2 = 0.4; mean 0.5.
- temporal flickering, grey levels 100, 110, 100, 130: MAEs 10, 10, 30 -> (255 - 50/3) / 255 = 0.934640...
- motion smoothness, levels 10, 20, 40, 40, 100: evens 10, 40, 100 -> midpoints 25, 70 vs odds 20, 40:
  MAEs 5, 30 -> (255 - 17.5) / 255 = 0.931372...
- dynamic degree: threshold 6 max(1, 8/fps) min(H,W)/256 (fps 4, 512 x 320: 15); needed pairs round(4T/16)
  (T=16: 4, T=6: round(1.5) = 2, T=10: round(2.5) = 2, T=2: 0); top 5 % of 0..399: mean of 380..399 = 389.5.
"""
import math

import pytest
import torch

from tfv_core import metrics as vm
from tfv_core import optical_flow as of


def grey(levels, h=6, w=8):
    """A video [T, h, w, 3] of flat frames at the given 8-bit levels."""
    return torch.stack([torch.full((h, w, 3), (k + 0.5) / 255) for k in levels])


def smooth_image(h=48, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.interpolate(torch.rand(1, 3, 6, 8, generator=g), size=(h, w), mode="bicubic",
                                        align_corners=False)
    return x.clamp(0, 1)


def test_consistency_hand_computed():
    f = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    assert vm.consistency_curve(f).tolist() == pytest.approx([0.6, 0.4])
    assert vm.consistency(f) == pytest.approx(0.5)
    assert vm.consistency(f * torch.tensor([[2.0], [5.0], [0.5]])) == pytest.approx(0.5)   # L2-normalised first


def test_consistency_clamps_negative_cosines_at_zero():
    f = torch.tensor([[1.0, 0.0], [0.6, 0.8], [-1.0, 0.0]])                 # t=3: cos -1 and -0.6 -> 0
    assert vm.consistency_curve(f).tolist() == pytest.approx([0.6, 0.0])
    assert vm.consistency(f) == pytest.approx(0.3)


def test_consistency_of_a_still_video_is_one():
    f = torch.randn(1, 7).repeat(5, 1)
    assert vm.consistency(f) == pytest.approx(1.0)


def test_pixel_features_ignore_a_brightness_offset():
    x = smooth_image() * 0.8
    video = torch.cat([x, x + 0.1]).movedim(1, -1)
    assert vm.consistency(vm.pixel_features(video)) == pytest.approx(1.0, abs=1e-6)


def test_temporal_flickering_hand_computed():
    video = grey([100, 110, 100, 130])
    assert vm.flicker_curve(video).tolist() == pytest.approx([245 / 255, 245 / 255, 225 / 255])
    assert vm.temporal_flickering(video) == pytest.approx((255 - 50 / 3) / 255)
    assert vm.temporal_flickering(grey([7, 7, 7])) == 1.0


def test_temporal_flickering_counts_every_pixel_and_channel():
    video = grey([100, 100])
    video[1, :3] = (140 + 0.5) / 255                                         # half the rows change by 40
    assert vm.temporal_flickering(video) == pytest.approx((255 - 20) / 255)


def test_eight_bit_floors_like_comfyui_saves():
    x = torch.tensor([0.0, 0.5, 1.0, 1.2, -0.1, 100.7 / 255])
    assert vm.eight_bit(x.view(1, 1, 2, 3)).flatten().tolist() == [0, 127, 255, 255, 0, 100]


def test_motion_smoothness_hand_computed():
    video = grey([10, 20, 40, 40, 100])
    assert vm.motion_smoothness_curve(video).tolist() == pytest.approx([250 / 255, 225 / 255])
    assert vm.motion_smoothness(video) == pytest.approx((255 - 17.5) / 255)
    # an even frame count: the last odd frame has no following even frame and is not scored (as in VBench)
    assert vm.motion_smoothness(grey([10, 20, 40, 40, 100, 0])) == pytest.approx((255 - 17.5) / 255)


def test_motion_smoothness_of_linear_brightening_is_one():
    assert vm.motion_smoothness(grey([0, 10, 20, 30, 40, 50, 60])) == 1.0


def test_flow_midpoint_of_a_translation_is_the_half_translation():
    big = smooth_image(48, 96)
    a, b, half = big[..., 16:80], big[..., 12:76], big[..., 14:78]          # content moves +4 px from a to b
    flow_ab = torch.zeros(1, 2, 48, 64)
    flow_ab[:, 0] = 4.0
    mid = vm.flow_midpoint(a, b, flow_ab, -flow_ab)
    assert (mid - half)[..., 8:-8].abs().max() < 1e-5
    assert (vm.flow_midpoint(a, b, 0 * flow_ab, 0 * flow_ab) - (a + b) / 2).abs().max() < 1e-6


def test_backward_warp_by_zero_is_identity():
    x = smooth_image()
    assert (vm.backward_warp(x, torch.zeros(1, 2, 48, 64)) - x).abs().max() < 1e-6


def test_top_fraction_mean_hand_computed():
    assert vm.top_fraction_mean(torch.arange(400.0).view(20, 20)) == pytest.approx(389.5)
    assert vm.top_fraction_mean(torch.arange(100.0).view(10, 10)) == pytest.approx(97.0)   # top 5 = 95..99
    assert vm.top_fraction_mean(torch.tensor([[3.0]])) == 3.0                              # at least one pixel


@pytest.mark.parametrize("fps,h,w,expected", [(8, 256, 256, 6.0), (4, 512, 320, 15.0), (16, 128, 256, 3.0),
                                              (24, 480, 832, 11.25)])
def test_dynamic_threshold(fps, h, w, expected):
    assert vm.dynamic_threshold(fps, h, w) == pytest.approx(expected)


@pytest.mark.parametrize("frames,needed", [(16, 4), (8, 2), (6, 2), (10, 2), (2, 0), (48, 12)])
def test_dynamic_count_rounds_half_to_even(frames, needed):
    assert vm.dynamic_count(frames) == needed


@pytest.mark.parametrize("fps,interval", [(8, 1), (4, 1), (24, 3), (30, 4), (12, 2)])
def test_sample_interval(fps, interval):
    assert vm.sample_interval(fps) == interval


def test_is_dynamic():
    assert vm.is_dynamic([1, 7, 7, 1, 7], 6.0, 3)
    assert not vm.is_dynamic([1, 7, 7, 1, 7], 6.0, 4)
    assert not vm.is_dynamic([6, 6, 6], 6.0, 1)                              # strictly above the threshold
    assert not vm.is_dynamic([], 6.0, 0)


def test_dynamic_degree_with_a_given_flow():
    video = grey([0] * 9, 32, 64)
    calls = []

    def flow(a, b):
        calls.append(a.shape[0])
        f = torch.zeros(a.shape[0], 2, 32, 64)
        f[:, 0] = 10.0
        return f
    r = vm.dynamic_degree(video, 24.0, flow, chunk=1)                      # every 3rd frame: 0, 3, 6 -> 2 pairs
    assert calls == [1, 1] and r["pair_scores"] == [10.0, 10.0]
    assert r["threshold"] == pytest.approx(6 * 32 / 256) and r["dynamic"] == 1.0 and r["moving_fraction"] == 1.0


@pytest.mark.parametrize("shift", [1, 2])
def test_horn_schunck_recovers_a_translation(shift):
    big = smooth_image(64, 112)
    a, b = big[..., 24:88].movedim(1, -1), big[..., 24 + shift:88 + shift].movedim(1, -1)   # content moves -shift
    f = vm.horn_schunck(a, b)
    inner = f[0, :, 12:-12, 12:-12]
    assert inner[0].mean().item() == pytest.approx(-shift, abs=0.1)
    assert inner[1].abs().mean().item() < 0.1
    assert vm.horn_schunck(a, a).abs().max() < 1e-4


def ramp_video(frames: int, h=32, w=32) -> torch.Tensor:
    """A steady brightening (5 levels a frame) of a fixed pattern, so every frame pair looks alike."""
    pattern = (torch.arange(w) % 4 * 10).float().expand(h, w)
    levels = torch.stack([pattern + 5 * t + 40 for t in range(frames)])
    return ((levels + 0.5) / 255)[..., None].expand(-1, -1, -1, 3)


def features(video):
    return vm.pixel_features(video)


def test_evaluate_is_invariant_to_frame_count_and_chunk():
    short, long = ramp_video(9), ramp_video(17)
    a = vm.evaluate(short, 8.0, features(short), features(short), chunk=3)
    b = vm.evaluate(long, 8.0, features(long), features(long), chunk=16)
    for key in ("temporal_flickering", "motion_smoothness", "moving_pairs", "dynamic_degree"):
        assert a["metrics"][key] == pytest.approx(b["metrics"][key], abs=1e-6), key
    assert a["metrics"]["temporal_flickering"] == pytest.approx(250 / 255)
    c = vm.evaluate(long, 8.0, features(long), features(long), chunk=5)
    assert c["metrics"] == pytest.approx(b["metrics"])


def test_evaluate_is_deterministic_and_scales_aesthetic_by_ten():
    video = torch.rand(6, 24, 24, 3, generator=torch.Generator().manual_seed(3))
    runs = [vm.evaluate(video, 8.0, features(video), features(video), aesthetic=torch.tensor([5.0, 6, 7, 5, 6, 7]),
                        text=torch.tensor([20.0, 22, 24, 20, 22, 24])) for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0]["metrics"]["aesthetic_quality"] == pytest.approx(0.6)
    assert runs[0]["metrics"]["text_score"] == pytest.approx(22.0)
    assert set(runs[0]["per_frame"]) >= {"subject_consistency", "temporal_flickering", "motion_smoothness",
                                         "flow_top5", "aesthetic_quality", "text_score"}
    assert all(math.isfinite(v) for v in runs[0]["metrics"].values())


def test_split_videos():
    x = torch.rand(12, 4, 4, 3)
    parts = vm.split_videos(x, 4)
    assert len(parts) == 3 and torch.equal(torch.cat(parts), x)
    assert len(vm.split_videos(x, 0)) == 1
    with pytest.raises(ValueError):
        vm.split_videos(x, 5)


# --- RAFT from a user-supplied file -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def raft_file(tmp_path_factory):
    from torchvision.models.optical_flow import raft_small
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("optical_flow") / "raft_small_test.pth"
    torch.save(raft_small(weights=None).state_dict(), path)
    return str(path)


def test_raft_loads_from_a_state_dict_and_gives_flow_of_the_frame_size(raft_file):
    model = of.load_raft(raft_file)
    assert type(model).__name__ == "RAFT" and not model.training
    a = torch.rand(2, 36, 44, 3, generator=torch.Generator().manual_seed(0))
    f1 = of.raft_flow(model, a, a.flip(0), iterations=2)
    assert f1.shape == (2, 2, 36, 44) and torch.isfinite(f1).all()
    assert torch.equal(f1, of.raft_flow(model, a, a.flip(0), iterations=2))


def test_raft_refuses_other_files_naming_them(tmp_path):
    wrong = tmp_path / "not_raft.pth"
    torch.save({"weight": torch.zeros(3)}, wrong)
    with pytest.raises(of.FlowFileError, match="not_raft.pth.*torchvision RAFT"):
        of.load_raft(str(wrong))
    pickled = tmp_path / "pickled.pth"
    torch.save({"feature_encoder.convnormrelu.0.weight": torch.zeros(32, 3, 7, 7), "x": ValueError("code")}, pickled)
    with pytest.raises(of.FlowFileError, match="pickled.pth.*weights_only"):
        of.load_raft(str(pickled))
    partial = tmp_path / "partial.pth"
    torch.save({"feature_encoder.convnormrelu.0.weight": torch.zeros(32, 3, 7, 7)}, partial)
    with pytest.raises(of.FlowFileError, match="partial.pth.*missing"):
        of.load_raft(str(partial))
