import pytest
import torch

from tfv_core import world as w


def test_vocabulary_and_parse():
    ps = w.prompts()
    assert len(ps) == len(set(ps)) == 32 and "red circle moving left" in ps
    assert w.parse("A Blue square, moving up please") == {"colour": "blue", "shape": "square", "direction": "up"}
    with pytest.raises(ValueError, match="needs a colour"):
        w.clip("purple circle moving left", 0)


def test_clips_are_seeded_and_bounce_inside_the_frame():
    a, b = w.clip("red circle moving left", 3), w.clip("red circle moving left", 3)
    assert torch.equal(a["video"], b["video"]) and not torch.equal(a["video"], w.clip("red circle moving left", 4)["video"])
    c = w.trajectory(torch.tensor([8.0, 8.0]), torch.tensor([-3.0, 0.0]), 3.0, frames=20)
    assert (c[:, 0] >= 3 - 1e-5).all() and (c[:, 0] <= 13 + 1e-5).all() and (c[:, 1] == 8).all()
    step = (c[1:, 0] - c[:-1, 0]).abs()
    assert (step <= 3 + 1e-5).all() and (c[1:, 0] > c[:-1, 0]).any()  # it turned around


def test_codec_16_channels_is_exact_and_4_channels_keeps_block_colour():
    v = w.batch(w.prompts()[:3], 0)
    assert torch.allclose(w.decode(w.encode(v, 16)), v, atol=1e-5)
    z = w.encode(v, 4)
    assert z.shape == (3, 8, 4, 8, 8)
    mean = torch.nn.functional.avg_pool2d(v.flatten(0, 1), 2)
    assert torch.allclose(torch.nn.functional.avg_pool2d(w.decode(z).flatten(0, 1), 2), mean, atol=1e-5)


def test_metrics_reward_the_truth_and_punish_wrong_colour_shape_noise_and_flicker():
    p = "green square moving right"
    c = w.clip(p, 1)
    m = w.metrics(c["video"], p)
    assert m["fidelity"] > 0.7 and m["consistency"] > 0.85 and m["size_cv"] < 0.05 and m["flicker"] < 0.02
    assert abs(m["speed"] - c["speed"]) < 0.3
    assert w.metrics(c["video"], "red square moving right")["fidelity"] < 0.1
    assert w.metrics(c["video"], "green circle moving right")["fidelity"] < m["fidelity"] - 0.01
    noise = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    n = w.metrics(noise, p)
    assert n["fidelity"] < 0.2 and n["flicker"] > 0.2 and n["jerk"] > m["jerk"]
    static = w.metrics(c["video"][:1].expand(8, -1, -1, -1), p)
    assert static["speed"] < 1e-4 and static["jerk"] < 1e-4 and static["consistency"] > 0.99
