"""An analytic video prior with an exact denoiser: the pack's weight-free demo model.

Data: per channel, x0 = mu + a stationary Gaussian field whose covariance is separable,
Cov = S_t (x) S_s, with S_t[i, j] = rho^|i-j| over frames (AR(1): slow drift) and S_s circular
with a Gaussian power spectrum of correlation length `ell` latent pixels (smooth clouds).
The noisy latent is x = a*x0 + b*eps with per-frame (a, b): a = 1, b = sigma for EPS and
v-prediction models, a = 1 - sigma, b = sigma for flow models. E[x0 | x] is exact:
    D(x) = mu + M A (A M A + B^2)^-1 (x - A mu),  with M = P(k) S_t per spatial frequency k.
"""
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class VideoPrior:
    rho: float = 0.9     # correlation of neighbouring frames
    ell: float = 2.0     # spatial correlation length, latent pixels
    floor: float = 1e-3  # smallest spectral power (keeps the covariance invertible)

    def temporal(self, frames: int, dtype=torch.float64, device=None) -> torch.Tensor:
        """S_t: [T, T] with S_t[i, j] = rho^|i-j|."""
        i = torch.arange(frames, dtype=dtype, device=device)
        return self.rho ** (i[:, None] - i[None, :]).abs()

    def spectrum(self, h: int, w: int, dtype=torch.float64, device=None) -> torch.Tensor:
        """P(k) on the rfft2 grid [H, W//2+1], normalised so each pixel has unit variance."""
        fy = torch.fft.fftfreq(h, dtype=dtype, device=device)[:, None]
        fx = torch.fft.rfftfreq(w, dtype=dtype, device=device)[None, :]
        p = torch.exp(-2 * torch.pi ** 2 * self.ell ** 2 * (fy ** 2 + fx ** 2)) + self.floor
        full = torch.cat([p, p[:, 1:(w + 1) // 2].flip(-1)], dim=1) if w > 1 else p
        return p * (h * w) / full.sum()

    def sample(self, shape, mu: torch.Tensor | None = None, generator=None) -> torch.Tensor:
        """Draw x0 of shape [B, T, C, H, W] from the prior (float64)."""
        b, t, c, h, w = shape
        white = torch.randn(shape, dtype=torch.float64, generator=generator)
        field = torch.fft.irfft2(torch.fft.rfft2(white) * self.spectrum(h, w).sqrt(), s=(h, w))
        chol = torch.linalg.cholesky(self.temporal(t))
        x0 = torch.einsum("ij,bjchw->bichw", chol, field)
        return x0 if mu is None else x0 + mu.double()[..., None, None].expand(b, t, c, 1, 1)

    def denoise(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                mu: torch.Tensor | None = None) -> torch.Tensor:
        """E[x0 | x] for x = a*x0 + b*eps. x: [B, T, C, H, W]; a, b: [B, T]; mu: [B, T, C] or None."""
        bsz, t, c, h, w = x.shape
        dev = x.device
        a, b = a.to(dev, torch.float64), b.to(dev, torch.float64)
        mu = torch.zeros(bsz, t, c, dtype=torch.float64, device=dev) if mu is None else mu.to(dev, torch.float64)
        r = x.double() - (a[..., None] * mu)[..., None, None]
        rk = torch.fft.rfft2(r)                                         # [B, T, C, H, Wr]
        rhs = torch.cat([rk.real, rk.imag], dim=2).permute(0, 3, 4, 1, 2)  # [B, H, Wr, T, 2C]
        m = self.spectrum(h, w, device=dev)[..., None, None] * self.temporal(t, device=dev)  # [H, Wr, T, T]
        am = a[:, None, None, :, None] * m[None]                        # A M   [B, H, Wr, T, T]
        k = am * a[:, None, None, None, :] + torch.diag_embed(b ** 2)[:, None, None]
        y = torch.linalg.solve(k, rhs)
        out = am.transpose(-1, -2) @ y                                  # M A y  (M symmetric)
        out = out.permute(0, 3, 4, 1, 2)                                # [B, T, 2C, H, Wr]
        d = torch.fft.irfft2(torch.complex(out[:, :, :c], out[:, :, c:]), s=(h, w))
        return (d + mu[..., None, None]).to(x.dtype)
