"""NI-VSDS, noise-invariant video score distillation sampling, from I4VGen (Guo et al., arXiv 2406.02230).

SDS moves x0 along w(t) * (eps_hat - eps) with w = 1 - alpha_bar and, here, one fixed noise eps.
Written with the model's denoised output D instead of eps_hat: for a noisy input x_t = a*x0 + b*eps
the signal-to-noise sigma is s = b/a, eps_hat - eps = (x0 - D)/s and w = s^2/(1 + s^2), so one step is

    x0 <- x0 - lam * (x0 - D),   lam = eta * s/(1 + s^2) = eta * a*b/(a^2 + b^2).

EPS and v-prediction models: a = 1, b = sigma, lam = eta*sigma/(1 + sigma^2).
Flow models: a = 1 - sigma, b = sigma, lam = eta*sigma*(1 - sigma)/((1 - sigma)^2 + sigma^2).
No gradient flows through the network: D is an ordinary forward pass.
"""
import math

import torch


def iterations(steps: int, fraction: float) -> int:
    """Optimised steps: the first int(steps*fraction)+1 of the schedule (I4VGen's tau), at most all."""
    return min(int(steps * fraction) + 1, steps)


def parse_step_sizes(text: str) -> list[float]:
    """'10, 10, 10, 1' -> [10.0, 10.0, 10.0, 1.0]; raises ValueError on anything else."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if not parts:
        raise ValueError("give at least one step size, e.g. '10, 10, 10, 1' or '1'")
    try:
        etas = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"step sizes must be numbers separated by commas, got '{text}'") from None
    if any(not math.isfinite(e) or e < 0 for e in etas):
        raise ValueError(f"step sizes must be finite and >= 0, got '{text}'")
    return etas


def step_sizes(etas: list[float], n: int) -> list[float]:
    """eta for each of n steps: the list in order, its last value repeated."""
    return [etas[min(k, len(etas) - 1)] for k in range(n)]


def pull_weights(a: torch.Tensor, b: torch.Tensor, etas: list[float], max_weight: float):
    """(lam, raw): per-step weights lam = min(eta*a*b/(a^2 + b^2), max_weight) and the unclamped ones."""
    raw = torch.tensor(etas, dtype=torch.float64) * a.double() * b.double() / (a.double() ** 2 + b.double() ** 2)
    return raw.clamp(max=max_weight), raw


@torch.no_grad()
def ni_vsds(denoise, x0: torch.Tensor, noise: torch.Tensor, sigmas, a, b, lam, callback=None) -> torch.Tensor:
    """Algorithm 1 of I4VGen: coarse to fine over `sigmas`, one update per level with the same `noise`.
    denoise(x, sigma) -> D; a, b: x_t = a*x0 + b*noise at each level; lam: pull weights."""
    for k, sigma in enumerate(sigmas):
        if lam[k] > 0:
            d = denoise(float(a[k]) * x0 + float(b[k]) * noise, sigma)
            x0 = x0 - float(lam[k]) * (x0 - d)
        if callback is not None:
            callback(k, x0)
    return x0
