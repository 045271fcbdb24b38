"""The demo model and the tiny test models run through ComfyUI's own KSampler and SamplerCustomAdvanced."""
import pytest
import torch

from comfy_test_nodes import tiny_models
from host_utils import custom_advanced, empty_video, ksampler


@pytest.fixture(scope="module")
def demo():
    from training_free_video.nodes import demo
    return demo


LAYOUTS = [("frames_in_batch", "fib"), ("video_5d", "5d")]


@pytest.mark.parametrize("layout,kind", LAYOUTS)
@pytest.mark.parametrize("par", ["eps", "v_prediction", "flow"])
def test_demo_model_samples_its_prior_through_ksampler(demo, layout, kind, par):
    """Exact denoiser + many Euler steps: samples have the prior's statistics (unit variance, lag-1 rho)."""
    model = demo.demo_model(layout, par, rho=0.8, ell=1.5)
    lat = torch.zeros(4, 16, 16, 16, 16) if kind == "5d" else empty_video(kind, frames=16, size=16)
    neg = [[torch.zeros(1, 1, demo.EMBED_DIM), {}]]
    out = ksampler(model, lat, neg, neg, seed=3, steps=40, cfg=1.0)
    z = model.model.latent_format.process_in(out)
    v = z.movedim(2, 1) if z.ndim == 5 else z[None]                    # [B, T, C, H, W]
    assert abs(v.var().item() - 1) < 0.2
    lag1 = (v[:, 1:] * v[:, :-1]).mean().item() / v.var().item()
    assert abs(lag1 - 0.8) < 0.05


def test_demo_prompt_moves_the_mean_and_cfg_scales_it(demo):
    """Same noise, prompt vs empty prompt: the samples move along the prompt's mean, linearly in CFG
    (the exact denoiser is affine in the mean, so CFG 3 equals a 3x mean)."""
    model = demo.demo_model("frames_in_batch", "eps")
    lat = empty_video("fib", 8, 8)
    pos, empty = [[demo.toy_embedding("red sunset"), {}]], [[demo.toy_embedding(""), {}]]
    fmt = model.model.latent_format

    def shift(cfg):
        a = fmt.process_in(ksampler(model, lat, pos, empty, cfg=cfg))
        b = fmt.process_in(ksampler(model, lat, empty, empty, cfg=cfg))
        return (a - b).mean((0, 2, 3))
    mu = demo.toy_embedding("red sunset")[0, 0, :4]
    assert mu.abs().max() > 0.3
    one = shift(1.0)
    assert torch.nn.functional.cosine_similarity(one, mu, dim=0) > 0.99
    assert torch.allclose(shift(3.0), 3 * one, atol=1e-3)


def test_demo_model_both_sampler_paths_agree(demo):
    model = demo.demo_model("video_5d", "flow")
    lat = empty_video("5d", 5, 8)
    c = [[demo.toy_embedding("clouds"), {}]]
    a = ksampler(model, lat, c, c, seed=7, steps=6, cfg=2.0)
    b = custom_advanced(model, lat, c, c, seed=7, steps=6, cfg=2.0)
    assert torch.equal(a, b)


def test_demo_decoder_gives_rgb_frames(demo):
    model = demo.demo_model("video_5d", "flow")
    dec = demo.Decoder(model.model.latent_format, 16, "video_5d")
    img = dec.decode(torch.randn(2, 16, 3, 4, 5))
    assert img.shape == (6, 32, 40, 3) and 0 <= img.min() and img.max() <= 1


@pytest.mark.parametrize("kind", ["wan21_5d_flow", "animatediff_eps", "animatediff_v"])
def test_tiny_models_run_through_both_sampler_nodes(kind):
    if kind == "wan21_5d_flow":
        model, lat, dim = tiny_models.tiny_wan(), empty_video("5d", 5, 8), tiny_models.WAN_TEXT_DIM
    else:
        par = "eps" if kind.endswith("eps") else "v_prediction"
        model, lat, dim = tiny_models.tiny_animatediff(0, par), empty_video("fib", 6, 8), tiny_models.UNET_CONTEXT_DIM
    pos, neg = tiny_models.conditioning(dim, 1), tiny_models.conditioning(dim, 2)
    a = ksampler(model, lat, pos, neg, seed=1, steps=4)
    b = custom_advanced(model, lat, pos, neg, seed=1, steps=4)
    assert a.shape == lat.shape and torch.isfinite(a).all()
    assert torch.allclose(a, b, atol=1e-5)
    expected_type = {"wan21_5d_flow": "FLOW", "animatediff_eps": "EPS", "animatediff_v": "V_PREDICTION"}[kind]
    assert model.model.model_type.name == expected_type


def test_tiny_animatediff_frames_interact():
    """Like a motion module: changing one frame's input changes the other frames' outputs."""
    model = tiny_models.tiny_animatediff(0)
    bm = model.model
    x = torch.randn(6, 4, 8, 8)
    sigma = torch.full((6,), 2.0)
    ctx = tiny_models.conditioning(tiny_models.UNET_CONTEXT_DIM)[0][0].expand(6, -1, -1)
    opts = {"transformer_options": {"cond_or_uncond": [0]}}
    y0 = bm.apply_model(x, sigma, c_crossattn=ctx, **opts)
    x2 = x.clone()
    x2[0] += 1.0
    y1 = bm.apply_model(x2, sigma, c_crossattn=ctx, **opts)
    assert (y1[3] - y0[3]).abs().max() > 1e-4


def test_tiny_wan_accepts_per_frame_timesteps():
    model = tiny_models.tiny_wan()
    dm = model.model.diffusion_model
    x = torch.randn(1, 16, 3, 8, 8)
    ctx = torch.randn(1, 4, tiny_models.WAN_TEXT_DIM)
    per_frame = dm(x, torch.tensor([[900.0, 500.0, 100.0]]), context=ctx)
    uniform = dm(x, torch.tensor([500.0]), context=ctx)
    assert per_frame.shape == x.shape and not torch.allclose(per_frame, uniform)
