"""IV-Mixed zigzag maths (tfv_core.zigzag) on toy denoisers, without ComfyUI."""
import math

import pytest
import torch

from tfv_core import zigzag
from tfv_core.layout import detect

EPS = zigzag.NoiseParam(a=lambda s: torch.ones_like(s), b=lambda s: s, c_in=lambda s: (1 + s * s) ** -0.5)
FLOW = zigzag.NoiseParam(a=lambda s: 1 - s, b=lambda s: s, c_in=lambda s: torch.ones_like(s))


def gaussian_denoiser(mean, scale=1.0):
    """Exact E[x0|x] for x0 ~ N(mean, scale^2) and x = x0 + s*eps (a toy, linear in x)."""
    return lambda x, s: mean + (x - mean) * scale ** 2 / (scale ** 2 + s * s)


def test_plan_orders_and_labels():
    levels = [(st.slot, st.sign, st.read, st.write) for st in zigzag.plan("IVIV", zigzag.COHERENT)]
    assert levels == [("I", 1, 0, 1), ("V", 1, 1, 2), ("I", -1, 2, 1), ("V", -1, 1, 0)]
    official = [(st.read, st.write) for st in zigzag.plan("IVIV", zigzag.OFFICIAL)]
    assert official == [(1, 2), (0, 1), (2, 1), (1, 0)]  # the image model is told one level lower
    assert [(st.read, st.write) for st in zigzag.plan("VVII", zigzag.COHERENT)] == [(0, 1), (1, 0), (0, 1), (1, 0)]
    for variant in zigzag.VARIANTS:
        steps = zigzag.plan(variant, zigzag.COHERENT)
        assert sorted((st.slot, st.sign) for st in steps) == [("I", -1), ("I", 1), ("V", -1), ("V", 1)]
        assert steps[-1].write == 0 and all(st.write == st.read + st.sign for st in steps)


@pytest.mark.parametrize("n,start,end,expected", [
    (8, 0.0, 1.0, list(range(7))),        # every step but the last
    (8, 0.25, 0.5, [2, 3]),               # start inclusive, end exclusive
    (10, 0.3, 0.7, [3, 4, 5, 6]),         # 0.3*10 is not quite 3 in floating point
    (8, 0.26, 0.5, [3]),
    (8, 0.5, 0.5, []),
    (8, 0.9, 0.2, []),
    (50, 0.0, 1.0, list(range(49))),      # the official [0, 49]: step 49 has no sigma_i+2 / reaches 0
])
def test_mixed_steps_interval(n, start, end, expected):
    assert list(zigzag.mixed_steps(n, start, end)) == expected


def test_video_takes_image_slot_like_official_zz():
    assert [zigzag.slot_model(i, 0) for i in range(4)] == ["I"] * 4
    assert [zigzag.slot_model(i, 1) for i in range(3)] == ["V"] * 3
    assert [zigzag.slot_model(i, 3) for i in range(6)] == ["I", "I", "V", "I", "I", "V"]  # official i % 3 == 2


def test_levels_clamp_the_final_zero_to_sigma_min():
    sig = torch.tensor([3.0, 2.0, 1.0, 0.0])
    assert [float(v) for v in zigzag.levels(sig, 0, 0.03)] == [3.0, 2.0, 1.0]
    assert [float(v) for v in zigzag.levels(sig, 1, 0.03)] == pytest.approx([2.0, 1.0, 0.03])


@pytest.mark.parametrize("p", [EPS, FLOW], ids=["eps", "flow"])
def test_move_at_true_labels_is_euler(p):
    """Coherent labels: DDIM denoising and inversion are exactly Euler steps in the sampler's space."""
    g = torch.Generator().manual_seed(0)
    x, den = torch.randn(3, 4, generator=g), gaussian_denoiser(0.3)
    s_r, s_w = torch.tensor(0.8), torch.tensor(0.5)
    for a, b in ((s_r, s_w), (s_w, s_r)):
        z, d = zigzag.move(den, p.c_in(a) * x, a, b, p)
        assert torch.allclose(z / p.c_in(b), x + (b - a) * (x - den(x, a)) / a, atol=1e-6)


def test_official_labels_read_the_same_native_latent():
    """A move told a different level hands the network the same native latent z (what diffusers does)."""
    seen = []

    def den(x, s):
        seen.append(EPS.c_in(s) * x)
        return x * 0.5
    z = torch.randn(5)
    zigzag.move(den, z, torch.tensor(2.0), torch.tensor(1.0), EPS)
    zigzag.move(den, z, torch.tensor(7.0), torch.tensor(1.0), EPS)
    assert all(torch.allclose(v, z) for v in seen)


def zigzag_effect(delta, p=EPS, sigma=2.0):
    """|zigzag(x) - x| for one unconditional (omega = 0) IV-IV zigzag at step size delta, two different models."""
    image, video = gaussian_denoiser(0.5, 0.7), gaussian_denoiser(-0.2, 1.3)
    x = torch.linspace(-3, 3, 11, dtype=torch.float64)
    lv = tuple(torch.tensor(sigma - k * delta, dtype=torch.float64) for k in range(3))
    out = zigzag.zigzag(x, lv, zigzag.plan("IVIV", zigzag.COHERENT),
                        lambda st, xr, s: (image if st.slot == "I" else video)(xr, s), p)
    return float((out - x).abs().max())


@pytest.mark.parametrize("p", [EPS, FLOW], ids=["eps", "flow"])
def test_unguided_zigzag_cancels_to_first_order(p):
    sigma = 2.0 if p is EPS else 0.6
    e1, e2 = zigzag_effect(0.04, p, sigma), zigzag_effect(0.02, p, sigma)
    assert e1 > 0 and 3.5 < e1 / e2 < 4.5  # O(delta^2)


def test_guided_zigzag_is_first_order_extra_guidance():
    """With omega > 0 the zigzag moves x by ~ (2 delta / sigma) * omega * (D_c - D_u) per model: first order."""
    cond, uncond = gaussian_denoiser(1.0), gaussian_denoiser(0.0)
    w = 4.0

    def den(st, xr, s):
        return uncond(xr, s) + st.sign * w * (cond(xr, s) - uncond(xr, s))
    x = torch.zeros(1, dtype=torch.float64)
    effects = []
    for delta in (0.02, 0.01):
        lv = tuple(torch.tensor(2.0 - k * delta, dtype=torch.float64) for k in range(3))
        out = zigzag.zigzag(x, lv, zigzag.plan("IVIV", zigzag.COHERENT), den, EPS)
        gap = cond(x, lv[0]) - uncond(x, lv[0])
        effects.append(float(out - x))
        # both models here have the same guidance gap: 2 * (2 delta / sigma) * w * gap
        assert float(out - x) == pytest.approx(float(2 * 2 * delta / 2.0 * w * gap), rel=0.05)
    assert effects[0] / effects[1] == pytest.approx(2.0, rel=0.05)


def test_after_hook_sees_every_sub_step():
    seen = []
    lv = (torch.tensor(1.0), torch.tensor(0.5), torch.tensor(0.25))
    zigzag.zigzag(torch.ones(2), lv, zigzag.plan("VIVI", zigzag.OFFICIAL), lambda st, xr, s: xr * 0, EPS,
                  after=lambda k, d: seen.append(k))
    assert seen == list(range(zigzag.SUBSTEPS))


def test_frames_as_images_round_trip():
    v5 = torch.randn(2, 16, 3, 4, 5)
    lay5 = detect(v5)
    imgs = zigzag.frames_as_images(v5, lay5)
    assert imgs.shape == (6, 16, 1, 4, 5)
    assert torch.equal(imgs[4, :, 0], v5[1, :, 1])  # video 1, frame 1
    assert torch.equal(zigzag.images_as_frames(imgs, lay5), v5)
    assert torch.equal(zigzag.sigma_as_images(torch.tensor([1.0, 2.0]), lay5), torch.tensor([1.0] * 3 + [2.0] * 3))
    fib = torch.randn(4, 4, 8, 8)
    assert zigzag.frames_as_images(fib, detect(fib)) is fib


def test_first_order_formula_matches_spec_small_step():
    """Spec A.4: one coherent zigzag moves x by ~(2 delta/sigma)[w_I (D_Ic - D_Iu) + w_V (D_Vc - D_Vu)]."""
    ic, iu, vc, vu = (gaussian_denoiser(m) for m in (0.8, 0.1, -0.5, 0.2))
    wi, wv, sigma, delta = 3.0, 5.0, 1.5, 1e-3

    def den(st, xr, s):
        c, u, w = (ic, iu, wi) if st.slot == "I" else (vc, vu, wv)
        return u(xr, s) + st.sign * w * (c(xr, s) - u(xr, s))
    x = torch.tensor([0.4], dtype=torch.float64)
    lv = tuple(torch.tensor(sigma - k * delta, dtype=torch.float64) for k in range(3))
    out = zigzag.zigzag(x, lv, zigzag.plan("IVIV", zigzag.COHERENT), den, EPS)
    s = torch.tensor(sigma, dtype=torch.float64)
    predicted = 2 * delta / sigma * (wi * (ic(x, s) - iu(x, s)) + wv * (vc(x, s) - vu(x, s)))
    assert float(out - x) == pytest.approx(float(predicted), rel=0.01)
    assert not math.isclose(float(out - x), 0.0)
