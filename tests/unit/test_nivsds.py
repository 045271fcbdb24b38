"""NI-VSDS maths (nodes/core/sds.py) on toy denoisers, without ComfyUI."""
import math

import pytest
import torch

from tfv_core import sds


@pytest.mark.parametrize("steps,fraction,expected", [(25, 0.6, 16), (50, 0.6, 31), (25, 0.0, 1), (25, 1.0, 25),
                                                     (10, 0.6, 7)])
def test_iterations_follow_i4vgen_tau(steps, fraction, expected):
    """tau = int(T * p) + 1 (AnimateDiff: t 961 -> 361 is 16 levels; LaVie 50 steps: 31), capped at T."""
    assert sds.iterations(steps, fraction) == expected


def test_step_sizes_parse_and_repeat_the_last():
    assert sds.parse_step_sizes("10, 10, 10, 1") == [10.0, 10.0, 10.0, 1.0]
    assert sds.parse_step_sizes(" 2.5 0") == [2.5, 0.0]
    assert sds.step_sizes([10.0, 10.0, 10.0, 1.0], 6) == [10.0, 10.0, 10.0, 1.0, 1.0, 1.0]
    assert sds.step_sizes([3.0], 2) == [3.0, 3.0]
    assert sds.step_sizes([1.0, 2.0, 3.0], 2) == [1.0, 2.0]


@pytest.mark.parametrize("text", ["", " , ", "ten", "10, -1", "nan", "inf"])
def test_step_sizes_reject_bad_text(text):
    with pytest.raises(ValueError):
        sds.parse_step_sizes(text)


def test_pull_weight_is_eta_sigma_over_one_plus_sigma_squared_for_eps():
    sigmas = torch.tensor([20.0, 11.7, 3.0, 1.0, 0.5])
    etas = [10.0, 10.0, 10.0, 1.0, 1.0]
    lam, raw = sds.pull_weights(torch.ones(5), sigmas, etas, max_weight=1.0)
    expected = [e * s / (1 + s * s) for e, s in zip(etas, sigmas.tolist())]
    assert raw.tolist() == pytest.approx(expected, rel=1e-6)
    assert lam.tolist() == pytest.approx([min(x, 1.0) for x in expected], rel=1e-6)
    assert (raw > 1).tolist() == [False, False, True, False, False]      # 10*3/10 = 3: clamped
    assert lam[2] == 1.0 and lam[0] == raw[0]


def test_pull_weight_for_flow_is_the_eps_weight_at_equal_snr():
    """Flow x_t = (1-s)x0 + s*eps is (1-s)(x0 + r*eps) with r = s/(1-s): the weight is eta*r/(1+r^2)."""
    s = torch.tensor([0.995, 0.9, 0.5, 0.2])
    lam, raw = sds.pull_weights(1 - s, s, [2.0] * 4, max_weight=1.0)
    r = (s / (1 - s)).double()
    assert torch.allclose(raw, 2 * r / (1 + r ** 2))
    one, _ = sds.pull_weights(torch.zeros(1), torch.ones(1), [10.0], 1.0)   # sigma = 1: pure noise
    assert one.item() == 0.0


class ToyPrior:
    """x0 ~ N(0, v) per element: the exact denoiser of x = a*x0 + b*eps is E[x0|x] = a*v*x/(a^2 v + b^2)."""

    def __init__(self, v=2.0):
        self.v, self.calls = v, []

    def denoise(self, a, b):
        def d(x, sigma):
            self.calls.append((x.clone(), float(sigma)))
            return a(sigma) * self.v * x / (a(sigma) ** 2 * self.v + b(sigma) ** 2)
        return d


@pytest.mark.parametrize("kind", ["eps", "flow"])
def test_ni_vsds_equals_the_closed_form_step_by_step_with_one_noise(kind):
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(6, 3, 4, 4, generator=g)
    noise = torch.randn(6, 3, 4, 4, generator=g)
    if kind == "eps":
        sigmas = torch.tensor([14.0, 8.0, 3.0, 1.5, 0.7])
        fa, fb = (lambda s: 1.0), (lambda s: float(s))
    else:
        sigmas = torch.tensor([0.99, 0.9, 0.7, 0.5, 0.3])
        fa, fb = (lambda s: 1.0 - float(s)), (lambda s: float(s))
    a = torch.tensor([fa(s) for s in sigmas])
    b = torch.tensor([fb(s) for s in sigmas])
    etas = sds.step_sizes([10.0, 10.0, 1.0], len(sigmas))
    lam, raw = sds.pull_weights(a, b, etas, max_weight=0.9)
    prior = ToyPrior()
    seen = []
    out = sds.ni_vsds(prior.denoise(fa, fb), x0, noise, sigmas, a, b, lam, callback=lambda k, x: seen.append(x))

    ref = x0.clone()
    for k, s in enumerate(sigmas.tolist()):
        ak, bk = fa(s), fb(s)
        x_t, _ = prior.calls[k]
        assert torch.allclose(x_t, ak * ref + bk * noise, atol=1e-6)           # the same noise at every level
        d = ak * prior.v * (ak * ref + bk * noise) / (ak ** 2 * prior.v + bk ** 2)
        w = min(etas[k] * ak * bk / (ak ** 2 + bk ** 2), 0.9)
        ref = ref - w * (ref - d)
        assert torch.allclose(seen[k], ref, atol=1e-5), k
    assert torch.allclose(out, ref, atol=1e-5)
    assert (raw > 0.9).any() and (raw <= 0.9).any()                          # the clamp was exercised
    assert math.isclose(float(lam.max()), 0.9)


def test_ni_vsds_skips_levels_with_zero_weight_and_leaves_x0_alone():
    x0, noise = torch.randn(2, 3), torch.randn(2, 3)
    prior = ToyPrior()
    sigmas = torch.tensor([1.0, 0.5])
    a, b = 1 - sigmas, sigmas
    lam, _ = sds.pull_weights(a, b, [1.0, 0.0], 1.0)                          # flow at sigma 1, then eta 0
    out = sds.ni_vsds(prior.denoise(lambda s: 1 - s, lambda s: s), x0, noise, sigmas, a, b, lam)
    assert prior.calls == [] and torch.equal(out, x0)


def test_ni_vsds_does_not_touch_its_inputs():
    x0, noise = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    keep = x0.clone(), noise.clone()
    sigmas = torch.tensor([5.0, 1.0])
    lam, _ = sds.pull_weights(torch.ones(2), sigmas, [1.0], 1.0)
    out = sds.ni_vsds(ToyPrior().denoise(lambda s: 1.0, float), x0, noise, sigmas, torch.ones(2), sigmas, lam)
    assert torch.equal(x0, keep[0]) and torch.equal(noise, keep[1]) and not torch.equal(out, x0)
