"""Spatio-temporal low-pass filters and frequency mixing, in closed form (FreeInit, arXiv 2312.07537).

Frequencies are normalised per axis so that 1 is the Nyquist frequency: bin k of an axis of n samples
(signed index, torch.fft.fftfreq order) sits at f = 2k/n, which is exact for odd n too. With
    D^2 = (f_t / d_t)^2 + (f_h / d_s)^2 + (f_w / d_s)^2
the gain of each filter is
    gaussian     exp(-D^2 / 2)                 (exp(-1/2) = 0.61 at the cut-off)
    butterworth  1 / (1 + D^(2n))              (1/2 at the cut-off)
    ideal        1 if D <= 1 else 0            (the ellipsoid of radii d_t, d_s, d_s)
    box          1 if |f_t| <= d_t and |f_h| <= d_s and |f_w| <= d_s else 0
so the gain at zero frequency is exactly 1 and every gain is even in each f. A cut-off of 0 keeps only
that axis' zero frequency (the limit of every filter as the cut-off goes to 0).
"""
import math

import torch

FILTERS = ("gaussian", "butterworth", "ideal", "box")


def freq_grid(n: int, half: bool = False, device=None) -> torch.Tensor:
    """Normalised frequencies f = 2k/n of the n FFT bins (the n//2+1 rfft bins if half), in [-1, 1]."""
    k = torch.fft.rfftfreq(n, d=0.5, dtype=torch.float64) if half else torch.fft.fftfreq(n, d=0.5, dtype=torch.float64)
    return k.to(device)


def _scaled(f: torch.Tensor, d: float) -> torch.Tensor:
    """|f| / d, with its d -> 0 limit: 0 at f = 0 and infinity elsewhere."""
    if d > 0:
        return f.abs() / d
    return torch.where(f == 0, 0.0, math.inf).to(f)


def _gain(d2: torch.Tensor, dmax: torch.Tensor, filter: str, order: int) -> torch.Tensor:
    """Gain from D^2 (radial filters) or from max_axis |f|/d (box)."""
    if filter == "gaussian":
        return torch.exp(-d2 / 2)
    if filter == "butterworth":
        return 1 / (1 + d2 ** order)
    if filter == "ideal":
        return (d2 <= 1).to(d2)
    if filter == "box":
        return (dmax <= 1).to(d2)
    raise ValueError(f"unknown filter '{filter}': use one of {', '.join(FILTERS)}")


def profile(f: torch.Tensor, d: float, filter: str, order: int = 4) -> torch.Tensor:
    """1-D gain along one axis with the other axes at zero frequency (d = d_s spatially, d_t in time)."""
    u = _scaled(torch.as_tensor(f, dtype=torch.float64), d)
    return _gain(u * u, u, filter, order)


def lowpass(t: int, h: int, w: int, filter: str = "gaussian", d_s: float = 0.25, d_t: float = 0.25,
            order: int = 4, device=None) -> torch.Tensor:
    """Gain on the rfftn grid of a (t, h, w) signal: [t, h, w//2+1] float32, unshifted FFT order."""
    ut = _scaled(freq_grid(t, device=device), d_t)[:, None, None]
    uh = _scaled(freq_grid(h, device=device), d_s)[None, :, None]
    uw = _scaled(freq_grid(w, half=True, device=device), d_s)[None, None, :]
    d2 = ut * ut + uh * uh + uw * uw
    dmax = torch.maximum(torch.maximum(ut, uh), uw)
    return _gain(d2, dmax, filter, order).float()


def lowpass_for(shape, axes, filter: str = "gaussian", d_s: float = 0.25, d_t: float = 0.25,
                order: int = 4, device=None) -> torch.Tensor:
    """lowpass() for a latent of `shape` whose (time, height, width) axes are `axes` (ascending),
    shaped to broadcast against torch.fft.rfftn(latent, dim=axes)."""
    t, h, w = (shape[a] for a in axes)
    view = [1] * len(shape)
    view[axes[0]], view[axes[1]], view[axes[2]] = t, h, w // 2 + 1
    return lowpass(t, h, w, filter, d_s, d_t, order, device).reshape(view)


def freq_mix(low: torch.Tensor, high: torch.Tensor, lpf: torch.Tensor, axes) -> torch.Tensor:
    """Low frequencies of `low` and high frequencies of `high`: iFFT(L F(low) + (1 - L) F(high)).
    FFTs in float32; the result has low's dtype and device. `lpf` comes from lowpass_for(low.shape, axes)."""
    a = torch.fft.rfftn(low.float(), dim=axes)
    b = torch.fft.rfftn(high.to(low.device).float(), dim=axes)
    mixed = torch.fft.irfftn(b + lpf.to(low.device) * (a - b), s=[low.shape[i] for i in axes], dim=axes)
    return mixed.to(low.dtype)
