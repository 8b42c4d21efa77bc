"""Priors whose MMSE denoiser is closed-form: stationary Gaussians and Gaussian mixtures.

They make every sampler testable against the exact posterior and let the pipeline run with no weights.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Prior, sigma_tensor
from .schedule import NoiseSchedule

__all__ = ["GaussianPrior", "GaussianMixturePrior", "gaussian_posterior"]


class GaussianPrior(Prior):
    """``x ~ N(mu, Sigma)`` with a stationary (circulant) covariance per channel.

    ``Sigma = F^* diag(p) F`` where ``p`` (C, H, W) is the power spectrum (real, >= 0, ``p(k) = p(-k)``).
    Its MMSE denoiser is the Wiener filter ``mu + F^* (p / (p + sigma^2)) F (x - mu)``.
    """

    def __init__(self, mean: Tensor, spectrum: Tensor, schedule: NoiseSchedule | None = None):
        super().__init__(schedule)
        mean = torch.as_tensor(mean)
        spectrum = torch.as_tensor(spectrum, dtype=mean.dtype)
        if mean.ndim != 3 or spectrum.shape != mean.shape:
            raise ValueError("mean and spectrum must both have shape (C, H, W)")
        if (spectrum < 0).any():
            raise ValueError("power spectrum must be non-negative")
        mirrored = torch.roll(torch.flip(spectrum, (-2, -1)), shifts=(1, 1), dims=(-2, -1))
        if not torch.allclose(spectrum, mirrored):
            raise ValueError("power spectrum must satisfy p(k) = p(-k) for a real covariance")
        self.channels = mean.shape[0]
        self.image_size, self.fixed_size = tuple(mean.shape[1:]), True
        self.register_buffer("mean", mean)
        self.register_buffer("spectrum", spectrum)

    @classmethod
    def stationary(
        cls,
        shape: tuple[int, int, int],
        variance: float = 0.2,
        length: float = 1.5,
        nugget: float = 0.02,
        mean: Tensor | None = None,
        dtype: torch.dtype | None = None,
    ) -> GaussianPrior:
        """Smooth random images: a Gaussian-shaped power spectrum (correlation ``length`` pixels) plus a
        white ``nugget``, scaled so each pixel has variance ``variance``. ``dtype`` defaults to torch's default
        (float32), as the operators' does, so the two work together; tests comparing with closed forms use float64."""
        dtype = dtype or torch.get_default_dtype()
        c, h, w = shape
        fy = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]
        fx = torch.fft.fftfreq(w, dtype=torch.float64)[None, :]
        g = torch.exp(-2 * math.pi**2 * length**2 * (fx**2 + fy**2))
        p = g / g.mean() * (1 - nugget) + nugget
        p = (variance * p).expand(c, h, w).contiguous()
        if mean is None:
            yy = torch.linspace(-0.5, 0.5, h, dtype=torch.float64)[:, None]
            xx = torch.linspace(-0.5, 0.5, w, dtype=torch.float64)[None, :]
            levels = torch.linspace(-0.4, 0.4, c, dtype=torch.float64)[:, None, None]
            mean = levels + 0.3 * yy - 0.2 * xx
        return cls(torch.as_tensor(mean, dtype=dtype).expand(c, h, w).contiguous(), p.to(dtype))

    def _filter(self, x: Tensor, gain: Tensor) -> Tensor:
        return torch.fft.ifft2(torch.fft.fft2(x) * gain).real

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        sig = sigma_tensor(sigma, x.shape[0]).to(x).view(-1, 1, 1, 1)
        gain = self.spectrum / (self.spectrum + sig * sig)
        return self.mean + self._filter(x - self.mean, gain)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        noise = torch.randn(batch, *self.mean.shape, generator=generator, dtype=self.mean.dtype)
        return self.mean + self._filter(noise.to(self.mean.device), self.spectrum.sqrt())

    def covariance(self) -> Tensor:
        """Dense ``n x n`` covariance (small images only)."""
        n = self.mean.numel()
        eye = torch.eye(n, dtype=self.mean.dtype, device=self.mean.device).reshape(n, *self.mean.shape)
        return self._filter(eye, self.spectrum).reshape(n, n).T


class GaussianMixturePrior(Prior):
    """``x ~ sum_k w_k N(mu_k, diag(v_k))``; the MMSE denoiser weighs each component's Wiener estimate
    by its responsibility ``w_k N(x; mu_k, diag(v_k) + sigma^2 I)``."""

    def __init__(self, weights: Tensor, means: Tensor, variances: Tensor, schedule: NoiseSchedule | None = None):
        super().__init__(schedule)
        means = torch.as_tensor(means)
        weights = torch.as_tensor(weights, dtype=means.dtype)
        variances = torch.as_tensor(variances, dtype=means.dtype)
        if means.ndim != 4 or weights.shape != means.shape[:1]:
            raise ValueError("means must be (K, C, H, W) and weights (K,)")
        if variances.ndim == 1:
            variances = variances.view(-1, 1, 1, 1).expand_as(means)
        if variances.shape != means.shape or (variances <= 0).any() or (weights <= 0).any():
            raise ValueError("variances must be positive, (K,) or (K, C, H, W); weights positive")
        self.channels = means.shape[1]
        self.image_size, self.fixed_size = tuple(means.shape[2:]), True
        self.register_buffer("log_weights", (weights / weights.sum()).log())
        self.register_buffer("means", means.contiguous())
        self.register_buffer("variances", variances.contiguous())

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        b = x.shape[0]
        sig2 = sigma_tensor(sigma, b).to(x).view(b, 1, 1) ** 2
        d = x.reshape(b, 1, -1) - self.means.reshape(1, self.means.shape[0], -1)  # (B, K, n)
        var = self.variances.reshape(1, self.means.shape[0], -1)
        tot = var + sig2
        logp = self.log_weights - 0.5 * ((d * d) / tot + tot.log()).sum(-1)
        resp = torch.softmax(logp, dim=1)  # (B, K)
        est = self.means.reshape(1, self.means.shape[0], -1) + var / tot * d
        return (resp.unsqueeze(-1) * est).sum(1).reshape_as(x)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        k = torch.multinomial(self.log_weights.exp().cpu(), batch, replacement=True, generator=generator)
        noise = torch.randn(batch, *self.means.shape[1:], generator=generator, dtype=self.means.dtype)
        return self.means[k] + self.variances[k].sqrt() * noise.to(self.means.device)


def gaussian_posterior(mean: Tensor, cov: Tensor, H: Tensor, y: Tensor, noise_std: float) -> tuple[Tensor, Tensor]:
    """Exact ``p(x | y)`` for ``x ~ N(mean, cov)`` and ``y = H x + noise_std z`` (dense, small problems; ``noise_std`` in the units of ``x``).

    Kalman form: ``K = cov H^T (H cov H^T + noise_std^2 I)^{-1}``, mean ``mean + K (y - H mean)``,
    covariance ``cov - K H cov`` (with a pseudo-inverse when ``noise_std = 0``). ``mean`` is (n,), ``y`` is (B, m);
    returns ((B, n), (n, n)).
    """
    s = H @ cov @ H.T + noise_std**2 * torch.eye(H.shape[0], dtype=cov.dtype, device=cov.device)
    if noise_std > 0:
        gain = torch.linalg.solve(s, H @ cov).T
    else:  # noiseless: rows of H that measure nothing (inpainting's missing pixels) make s singular
        gain = (torch.linalg.pinv(s, hermitian=True) @ (H @ cov)).T
    post_mean = mean + (y - mean @ H.T) @ gain.T
    post_cov = cov - gain @ H @ cov
    return post_mean, 0.5 * (post_cov + post_cov.T)
