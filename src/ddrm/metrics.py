"""Image quality metrics on images in [0, 1]: PSNR and SSIM (Wang et al. 2004, Gaussian window)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["psnr", "ssim"]


def psnr(x: Tensor, ref: Tensor, data_range: float = 1.0) -> float:
    mse = torch.mean((x.double() - ref.double()) ** 2).item()
    return math.inf if mse == 0 else 10 * math.log10(data_range**2 / mse)


def ssim(x: Tensor, ref: Tensor, data_range: float = 1.0, sigma: float = 1.5, radius: int = 5) -> float:
    """Mean SSIM over channels and pixels of (C, H, W) images: 11x11 Gaussian window (sigma 1.5), K1 = 0.01,
    K2 = 0.03, population statistics, 'valid' region (as scikit-image with ``gaussian_weights=True``)."""
    x = x.double()[None] if x.ndim == 3 else x.double()
    ref = ref.double()[None] if ref.ndim == 3 else ref.double()
    c = x.shape[1]
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    g = g / g.sum()
    w = (g[:, None] * g[None, :]).expand(c, 1, -1, -1)

    def blur(v: Tensor) -> Tensor:
        return F.conv2d(v, w, groups=c)

    mx, my = blur(x), blur(ref)
    vx = blur(x * x) - mx * mx
    vy = blur(ref * ref) - my * my
    cxy = blur(x * ref) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean().item()
