import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tfv_core.analytic import VideoPrior

REPO = Path(__file__).resolve().parents[2]


def dense_covariance(prior, t, h, w):
    e = torch.eye(h * w, dtype=torch.float64).reshape(h * w, h, w)
    spatial = torch.fft.irfft2(torch.fft.rfft2(e) * prior.spectrum(h, w), s=(h, w)).reshape(h * w, h * w)
    return torch.kron(prior.temporal(t), spatial)


@pytest.mark.parametrize("hw", [(4, 5), (6, 6)])
def test_denoiser_equals_dense_gaussian_posterior_mean(hw):
    """E[x0|x] for x = a x0 + b eps, per-frame (a, b), against the dense-matrix formula."""
    h, w = hw
    prior, t = VideoPrior(rho=0.8, ell=1.5), 3
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, t, 1, h, w, dtype=torch.float64, generator=g)
    mu = torch.randn(1, t, 1, dtype=torch.float64, generator=g)
    a = torch.tensor([[0.5, 0.9, 0.2]], dtype=torch.float64)
    b = torch.tensor([[0.7, 0.3, 2.0]], dtype=torch.float64)
    cov = dense_covariance(prior, t, h, w)
    A = torch.diag(a[0].repeat_interleave(h * w))
    B2 = torch.diag((b[0] ** 2).repeat_interleave(h * w))
    m = mu[0, :, 0].repeat_interleave(h * w)
    expect = m + cov @ A @ torch.linalg.solve(A @ cov @ A + B2, x.flatten() - A @ m)
    assert torch.allclose(prior.denoise(x, a, b, mu).flatten(), expect, atol=1e-10)


def test_spectrum_gives_unit_pixel_variance_and_samples_match_prior():
    prior = VideoPrior(rho=0.9, ell=2.0)
    for h, w in [(8, 8), (7, 9)]:
        full_mean = torch.fft.irfft2(prior.spectrum(h, w), s=(h, w))[0, 0]  # covariance at lag 0
        assert abs(full_mean.item() - 1.0) < 1e-9
    x = prior.sample((64, 6, 2, 8, 8), generator=torch.Generator().manual_seed(1))
    assert abs(x.var().item() - 1) < 0.05
    lag1 = (x[:, 1:] * x[:, :-1]).mean().item()
    assert abs(lag1 - 0.9) < 0.05


def test_denoiser_limits():
    prior = VideoPrior()
    x = torch.randn(1, 4, 2, 6, 6, dtype=torch.float64)
    one, tiny, huge = torch.ones(1, 4), torch.full((1, 4), 1e-6), torch.full((1, 4), 1e6)
    assert torch.allclose(prior.denoise(x, one, tiny), x, atol=1e-4)      # no noise: identity
    assert prior.denoise(x, one, huge).abs().max() < 1e-6                  # all noise: the prior mean


def test_core_imports_no_comfyui():
    code = ("import sys, importlib.util as u; p=sys.argv[1]; "
            "s=u.spec_from_file_location('c', p + '/__init__.py', submodule_search_locations=[p]); "
            "m=u.module_from_spec(s); sys.modules['c']=m; s.loader.exec_module(m); import pkgutil, importlib; "
            "[importlib.import_module('c.'+i.name) for i in pkgutil.iter_modules([p])]; "
            "bad=[k for k in sys.modules if k.split('.')[0] in ('comfy','comfy_api','folder_paths','nodes')]; "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code, str(REPO / "nodes" / "core")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
