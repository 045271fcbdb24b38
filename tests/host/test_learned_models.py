"""The learned demo models: committed weights load through the nodes (Wan through ComfyUI's own detector),
sample with the core KSampler, and show the prompted object."""
from pathlib import Path

import torch

import learned_lab as lab
from host_utils import ksampler, result
from tfv_core import world
from training_free_video.nodes import demo, learned, reward


def test_weights_are_committed_small_safetensors():
    sizes = {n: (Path(learned.WEIGHTS) / f"{n}.safetensors").stat().st_size for n in learned.MODELS}
    assert sum(sizes.values()) < 6e6, sizes


def test_loader_outputs_and_wan_is_detected_by_comfyui():
    import comfy.model_base
    for name in learned.MODELS:
        model, text, dec = result(learned.LearnedModelLoader.execute(name))
        wan = name == "wan21"
        assert isinstance(model.model, comfy.model_base.WAN21) == wan
        assert model.model.latent_format.latent_channels == (16 if wan else 4)
        c = result(learned.LearnedTextEncode.execute(text, "blue square moving up"))[0]
        assert c[0][0].shape == (1, 3, learned.WAN_TEXT_DIM if wan else learned.TEXT_DIM)
        img = result(demo.DemoDecode.execute(dec, {"samples": lab.empty(wan=wan)}))[0]
        assert img.shape == (8, 64, 64, 3)
    e = learned.TextTable()
    assert torch.equal(e.encode(""), torch.zeros(1, 3, learned.TEXT_DIM))
    assert torch.equal(e.encode("red circle moving left"), e.encode("a circle, red, moving to the left"))


def test_video_model_draws_the_prompted_object():
    """Trained, not random: the prompt's colour wins over the other colours in the sampled video."""
    fid = {}
    for colour in ("red", "blue"):
        p = f"{colour} square moving right"
        out = ksampler(lab.model("video_unet"), lab.empty(), lab.cond(p), lab.cond(""), 0, 10, lab.CFG, "ddim",
                       "ddim_uniform")
        fid[colour] = {c: lab.measure(out, f"{c} square moving right")["fidelity"] for c in ("red", "blue")}
    assert fid["red"]["red"] > fid["red"]["blue"] + 0.2 and fid["blue"]["blue"] > fid["blue"]["red"] + 0.2, fid


def test_world_reward_ranks_the_truth_first():
    clean = world.clip("green circle moving up", 0)["video"][:1]
    noisy = (clean + 0.3 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    wrong = world.clip("red circle moving up", 0)["video"][:1]
    images = torch.nn.functional.interpolate(torch.cat([wrong, noisy, clean]), scale_factor=4).movedim(1, -1)
    handle = result(learned.WorldRewardLoader.execute())[0]
    out = result(reward.RankByReward.execute(handle, images, "green circle", 1, 16))
    assert out[2] == "2"
