"""Blur kernels: the DDRM paper's 1-D kernels and random motion-blur kernels."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import TaskError
from .kronecker import gaussian_kernel_1d

__all__ = ["uniform_kernel_1d", "ddrm_gaussian_kernel_1d", "ddrm_anisotropic_kernels", "motion_kernel"]


def uniform_kernel_1d(size: int = 9) -> Tensor:
    """``size`` equal taps summing to 1 (DDRM's ``deblur_uni`` uses 9)."""
    return torch.full((size,), 1.0 / size, dtype=torch.float64)


def ddrm_gaussian_kernel_1d() -> Tensor:
    """DDRM's ``deblur_gauss``: a Gaussian of standard deviation 10 sampled at -2..2 (5 taps)."""
    return gaussian_kernel_1d(10.0, 2)


def ddrm_anisotropic_kernels() -> tuple[Tensor, Tensor]:
    """DDRM's ``deblur_aniso``: 9 taps of a Gaussian with std 1 on the rows and std 20 on the columns."""
    return gaussian_kernel_1d(1.0, 4), gaussian_kernel_1d(20.0, 4)


def motion_kernel(size: int = 31, intensity: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """A random camera-shake kernel: a smooth random trajectory rasterised with bilinear weights.

    The trajectory has constant speed and a heading that turns by random increments whose spread grows
    with ``intensity`` (0: a straight line, 1: strongly curved). The kernel is centred on its centre of
    mass (up to the border clipping), lies inside a ``size x size`` square (odd ``size``) and sums to 1.
    """
    if size < 3 or size % 2 == 0:
        raise TaskError(f"motion kernel size must be odd and >= 3, got {size}")
    if not 0.0 <= intensity <= 1.0:
        raise TaskError(f"motion intensity must lie in [0, 1], got {intensity}")
    steps = 4 * size
    rand = torch.rand(steps + 1, generator=generator, dtype=torch.float64)
    turns = (rand[1:] - 0.5) * 2 * math.pi * intensity * 0.25
    heading = 2 * math.pi * rand[0] + torch.cumsum(turns, 0)
    path = torch.cumsum(torch.stack([torch.sin(heading), torch.cos(heading)], 1), 0)
    path = path - path.mean(0)
    extent = path.abs().max().clamp_min(1e-12)
    path = path * ((size // 2 - 1) / extent).clamp(max=1.0) + size // 2
    k = torch.zeros(size, size, dtype=torch.float64)
    base = path.floor()
    frac = path - base
    for di in (0, 1):
        for dj in (0, 1):
            wgt = (frac[:, 0] if di else 1 - frac[:, 0]) * (frac[:, 1] if dj else 1 - frac[:, 1])
            ii = (base[:, 0].long() + di).clamp(0, size - 1)
            jj = (base[:, 1].long() + dj).clamp(0, size - 1)
            k.index_put_((ii, jj), wgt, accumulate=True)
    return k / k.sum()
