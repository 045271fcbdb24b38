"""FreeInit's filters, mixing and re-initialisation maths (no ComfyUI)."""
import math

import pytest
import torch
from einops import rearrange

from tfv_core import freeinit as fi
from tfv_core.spectral import FILTERS, freq_grid, freq_mix, lowpass, lowpass_for, profile

SIZES = [(16, 8, 8), (5, 7, 9), (21, 6, 11), (1, 4, 4)]


def direct_gain(ft, fh, fw, filter, d_s, d_t, n):
    """The closed forms written out bin by bin (cut-offs > 0)."""
    d2 = (ft / d_t) ** 2 + (fh / d_s) ** 2 + (fw / d_s) ** 2
    if filter == "gaussian":
        return math.exp(-d2 / 2)
    if filter == "butterworth":
        return 1 / (1 + d2 ** n)
    if filter == "ideal":
        return float(d2 <= 1)
    return float(abs(ft) <= d_t and abs(fh) <= d_s and abs(fw) <= d_s)


def signed(k, n):
    """Normalised frequency of FFT bin k of n: 2*(signed index)/n."""
    return 2 * (k - n if k > (n - 1) // 2 else k) / n


@pytest.mark.parametrize("n", [1, 2, 7, 8, 21])
def test_grid_is_exact_for_even_and_odd_sizes(n):
    f = freq_grid(n)
    assert f.tolist() == [signed(k, n) for k in range(n)]
    assert f[0] == 0 and f.abs().max() <= 1
    if n % 2:  # odd: symmetric set of frequencies, no Nyquist bin
        assert sorted(f.tolist()) == sorted((-f).tolist())
    assert freq_grid(n, half=True).tolist() == [abs(signed(k, n)) for k in range(n // 2 + 1)]


@pytest.mark.parametrize("filter", FILTERS)
@pytest.mark.parametrize("size", SIZES)
def test_closed_forms_bin_by_bin(filter, size):
    t, h, w = size
    d_s, d_t, n = 0.3, 0.45, 3
    lpf = lowpass(t, h, w, filter, d_s, d_t, n)
    assert lpf.shape == (t, h, w // 2 + 1) and lpf.dtype == torch.float32
    for i in range(t):
        for j in range(h):
            for k in range(w // 2 + 1):
                expect = direct_gain(signed(i, t), signed(j, h), signed(k, w), filter, d_s, d_t, n)
                assert lpf[i, j, k].item() == pytest.approx(expect, abs=1e-6), (i, j, k)


@pytest.mark.parametrize("filter", FILTERS)
@pytest.mark.parametrize("size", SIZES)
def test_dc_gain_is_exactly_one_and_filters_are_even(filter, size):
    t, h, w = size
    for d_s, d_t in [(0.25, 0.25), (0.0, 0.5), (0.1, 0.0), (1.0, 1.0)]:
        lpf = lowpass(t, h, w, filter, d_s, d_t)
        assert lpf[0, 0, 0].item() == 1.0
        assert 0 <= lpf.min() and lpf.max() <= 1
        neg_t = (-torch.arange(t)) % t
        neg_h = (-torch.arange(h)) % h
        assert torch.equal(lpf, lpf[neg_t][:, neg_h])  # L(f) = L(-f) on the axes rfft keeps whole
    f = torch.linspace(-1, 1, 41, dtype=torch.float64)
    assert torch.equal(profile(f, 0.25, filter), profile(-f, 0.25, filter))


def test_ideal_filter_has_its_real_radius():
    """d_s = d_t = 0.25 passes the ellipsoid of radius 0.25 (peers pass radius sqrt(0.5) = 0.71)."""
    lpf = lowpass(16, 64, 64, "ideal", 0.25, 0.25)
    weights = torch.full((33,), 2.0)
    weights[0] = weights[-1] = 1
    passed = (lpf * weights).sum().item() / (16 * 64 * 64)
    count = sum(1 for a in range(16) for b in range(64) for c in range(64)
                if signed(a, 16) ** 2 + signed(b, 64) ** 2 + signed(c, 64) ** 2 <= 0.25 ** 2)
    assert passed == pytest.approx(count / (16 * 64 * 64))
    assert passed < 0.01  # about the ellipsoid's volume 4/3 pi 0.25^3 / 8 = 0.8 %, not 18.5 %
    f = freq_grid(64)
    assert profile(f, 0.25, "ideal").tolist() == [float(abs(x) <= 0.25) for x in f.tolist()]


def test_profiles_at_the_cut_off():
    one = torch.tensor([0.25])
    assert profile(one, 0.25, "gaussian").item() == pytest.approx(math.exp(-0.5))
    assert profile(one, 0.25, "butterworth", 4).item() == pytest.approx(0.5)
    assert profile(one, 0.25, "ideal").item() == 1 and profile(one * 1.01, 0.25, "ideal").item() == 0
    f = torch.linspace(-1, 1, 101, dtype=torch.float64)
    steep = profile(f, 0.5, "butterworth", 64)
    assert torch.allclose(steep[(f.abs() - 0.5).abs() > 0.05], profile(f, 0.5, "ideal")[(f.abs() - 0.5).abs() > 0.05],
                          atol=1e-3)


def test_zero_cut_off_keeps_only_that_axis_zero_frequency():
    for filter in FILTERS:
        lpf = lowpass(6, 5, 8, filter, 0.5, 0.0)
        assert lpf[1:].abs().max() == 0          # every non-zero temporal frequency stopped
        assert lpf[0, 0, 0] == 1


def test_box_is_symmetric_on_even_sizes():
    """The box keeps |f| <= d on every axis: 5 temporal bins at T = 16, d_t = 0.25 (peers keep 4, off-centre)."""
    lpf = lowpass(16, 8, 8, "box", 1.0, 0.25)
    kept_t = lpf[:, 0, 0].nonzero().flatten().tolist()
    assert kept_t == [0, 1, 2, 14, 15]


def test_mixing_identities_and_dtype():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 3, 5, 6, 7, generator=g), torch.randn(2, 3, 5, 6, 7, generator=g)
    axes = (2, 3, 4)
    ones = lowpass_for(a.shape, axes, "box", 1.0, 1.0)
    assert torch.allclose(freq_mix(a, b, ones, axes), a, atol=1e-5)              # all-pass: the first input
    assert torch.allclose(freq_mix(a, b, torch.zeros_like(ones), axes), b, atol=1e-5)  # all-stop: the second
    dc = freq_mix(a, b, lowpass_for(a.shape, axes, "gaussian", 0.0, 0.0), axes)  # only the mean of a
    assert torch.allclose(dc, b - b.mean(axes, keepdim=True) + a.mean(axes, keepdim=True), atol=1e-5)
    half = freq_mix(a.half(), b.half(), lowpass_for(a.shape, axes), axes)
    assert half.dtype == torch.float16
    assert torch.allclose(half.float(), freq_mix(a, b, lowpass_for(a.shape, axes), axes), atol=1e-2)


def test_frames_in_batch_axes_match_5d():
    """Mixing [F, C, H, W] over (0, 2, 3) equals mixing the same video as [1, C, F, H, W] over (2, 3, 4)."""
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(7, 4, 6, 5, generator=g), torch.randn(7, 4, 6, 5, generator=g)
    four = freq_mix(a, b, lowpass_for(a.shape, (0, 2, 3), "butterworth", 0.3, 0.2), (0, 2, 3))
    a5, b5 = (rearrange(x, "f c h w -> 1 c f h w") for x in (a, b))
    five = freq_mix(a5, b5, lowpass_for(a5.shape, (2, 3, 4), "butterworth", 0.3, 0.2), (2, 3, 4))
    assert torch.allclose(four, rearrange(five, "1 c f h w -> f c h w"), atol=1e-6)


def test_mixed_spectrum_is_the_filtered_sum():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(1, 2, 9, 8, 8, generator=g), torch.randn(1, 2, 9, 8, 8, generator=g)
    axes = (2, 3, 4)
    lpf = lowpass_for(a.shape, axes, "gaussian", 0.25, 0.25)
    fa, fb = torch.fft.rfftn(a, dim=axes), torch.fft.rfftn(b, dim=axes)
    got = torch.fft.rfftn(freq_mix(a, b, lpf, axes), dim=axes)
    assert torch.allclose(got, lpf * fa + (1 - lpf) * fb, atol=1e-4)


def test_rediffuse_is_ddpm_forward_process_for_eps_models():
    """(x0 + sigma eps) / sqrt(1 + sigma^2) = sqrt(abar) x0 + sqrt(1 - abar) eps with abar = 1 / (1 + sigma^2)."""
    g = torch.Generator().manual_seed(3)
    x0, eps = torch.randn(3, 4, 5, generator=g), torch.randn(3, 4, 5, generator=g)
    sigma = 14.6146
    abar = 1 / (1 + sigma ** 2)
    expect = abar ** 0.5 * x0 + (1 - abar) ** 0.5 * eps
    assert torch.allclose(fi.rediffuse(x0, eps, 1.0, sigma), expect, atol=1e-6)
    s = 0.9  # flow: ((1 - s) x0 + s eps) / sqrt((1 - s)^2 + s^2)
    assert torch.allclose(fi.rediffuse(x0, eps, 1 - s, s), ((1 - s) * x0 + s * eps) / math.hypot(1 - s, s))


def test_fast_schedule():
    assert [fi.fast_steps(25, 5, i) for i in range(5)] == [5, 10, 15, 20, 25]
    assert [fi.fast_steps(4, 5, i) for i in range(5)] == [1, 1, 2, 3, 4]
    sigmas = torch.linspace(10, 0, 21)
    for k in (1, 3, 7, 20):
        sub = fi.subsample(sigmas, k)
        assert len(sub) == k + 1 and sub[0] == 10 and sub[-1] == 0
        assert (sub[1:] < sub[:-1]).all()
    assert fi.subsample(sigmas, 20) is sigmas


def test_pass_seeds_are_distinct_and_valid():
    seeds = {fi.pass_seed(s, i) for s in (0, 1, 2, 2 ** 64 - 1) for i in range(1, 6)}
    assert len(seeds) == 20 and all(0 <= s < 2 ** 64 for s in seeds)
    assert fi.pass_seed(5, 1) != 6 and fi.pass_seed(5, 1) == fi.pass_seed(5, 1)


def test_level_for_ratio_inverts_a_monotone_ratio():
    assert fi.level_for_ratio(lambda s: s / (1 - s) if s < 1 else math.inf, 0.98 / 0.02, 1.0) == pytest.approx(0.98)
    assert fi.level_for_ratio(lambda s: s, 49.0, 4500.0) == pytest.approx(49.0)
