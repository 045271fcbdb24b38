"""FreeInit's noise re-initialisation, as pure functions (Wu et al., ECCV 2024, arXiv 2312.07537).

A pass starts from unit-scale noise z; FreeInit re-diffuses the previous result x0 with the first
pass's noise eps at a level with signal/noise coefficients (a, b),
    z_T = (a x0 + b eps) / sqrt(a^2 + b^2)        (= sqrt(abar) x0 + sqrt(1 - abar) eps for DDPM),
keeps its low frequencies and takes the high frequencies from fresh noise eta:
    z' = iFFT(L F(z_T) + (1 - L) F(eta)).
Flow and EDM models, where the paper's premise does not hold, get a bounded variant (reinit_white).
"""
import math

import torch

from .spectral import freq_mix

GOLDEN_64 = 0x9E3779B97F4A7C15  # odd 64-bit constant: spreads pass numbers over the seed space


def rediffuse(x0: torch.Tensor, eps: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """Forward-diffuse x0 with the given noise to a level with coefficients (a, b), at unit scale."""
    return (a * x0 + b * eps) / math.hypot(a, b)


def white(f: torch.Tensor, n: int) -> torch.Tensor:
    """A spectrum with white noise's power n in every bin, its phases kept."""
    return f / f.abs().clamp_min(1e-20) * math.sqrt(n)


def reinit_white(x0, eps, eta, a: float, b: float, lpf: torch.Tensor, axes) -> torch.Tensor:
    """The heuristic rules' next noise (flow, EDM): exactly white power in every bin, so no setting can make the
    loop grow and no train/test gap is created; the re-diffused x0 sets only the low frequencies' phases:
    z' = iFFT((L W(a W(F x0) + b F eps) + (1 - L) F eta) / sqrt(L^2 + (1 - L)^2))."""
    sizes = [x0.shape[i] for i in axes]
    n = math.prod(sizes)
    fx, fe, fh = (torch.fft.rfftn(t.float(), dim=axes) for t in (x0, eps, eta))
    low = white(a * white(fx, n) + b * fe, n)
    mixed = (lpf * low + (1 - lpf) * fh) / torch.sqrt(lpf ** 2 + (1 - lpf) ** 2)
    return torch.fft.irfftn(mixed, s=sizes, dim=axes)


def reinit(x0, eps, eta, a: float, b: float, lpf: torch.Tensor, axes) -> torch.Tensor:
    """The next pass's noise: low frequencies of the re-diffused x0, high frequencies of eta."""
    return freq_mix(rediffuse(x0.float(), eps.float(), a, b), eta, lpf, axes)


def fast_steps(steps: int, passes: int, i: int) -> int:
    """Coarse-to-fine step count of pass i (0-based): int(S (i+1) / N), at least 1; the last pass has S."""
    return max(1, int(steps * (i + 1) / passes))


def subsample(sigmas: torch.Tensor, k: int) -> torch.Tensor:
    """k steps of a schedule of len(sigmas)-1 steps, keeping its first and last sigma."""
    steps = len(sigmas) - 1
    if k >= steps:
        return sigmas
    idx = torch.linspace(0, steps, k + 1, dtype=torch.float64).round().long()
    return sigmas[idx.to(sigmas.device)]


def pass_seed(seed: int, i: int) -> int:
    """Seed of pass i's fresh high-frequency noise: deterministic, and not the next user seed."""
    return (int(seed) + i * GOLDEN_64) % 2 ** 64


def level_for_ratio(ratio, target: float, hi: float, iters: int = 64) -> float:
    """The sigma in [0, hi] where ratio(sigma) = noise/signal equals target (ratio increasing)."""
    lo = 0.0
    for _ in range(iters):
        mid = (lo + hi) / 2
        if ratio(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
