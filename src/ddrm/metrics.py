"""Image quality metrics on images in [0, 1]: PSNR, SSIM (Wang et al. 2004, Gaussian window), measurement
consistency; the set metrics FID (Heusel et al. 2017) and KID (Binkowski et al. 2018) on given features; and the
mean with its 95 % confidence interval (Student's t) for the harness's tables."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["psnr", "ssim", "frechet_distance", "kernel_inception_distance", "mean_ci", "t_quantile"]


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


def frechet_distance(f1: Tensor, f2: Tensor) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between two feature sets (N, D) (FID's formula).

    Tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of S1^(1/2) S2 S1^(1/2), which is symmetric
    positive semi-definite, so it is computed with two symmetric eigendecompositions in float64."""
    f1, f2 = f1.double(), f2.double()
    if f1.shape[0] < 2 or f2.shape[0] < 2:
        raise ValueError("the Frechet distance needs at least 2 samples per set")
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = torch.cov(f1.T).reshape(f1.shape[1], -1), torch.cov(f2.T).reshape(f2.shape[1], -1)
    w, v = torch.linalg.eigh(s1)
    root1 = (v * w.clamp_min(0).sqrt()) @ v.T
    m = root1 @ s2 @ root1
    ev = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0)
    return float(((mu1 - mu2) ** 2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * ev.sqrt().sum())


def kernel_inception_distance(
    f1: Tensor, f2: Tensor, subsets: int = 100, subset_size: int = 1000, generator: torch.Generator | None = None
) -> tuple[float, float]:
    """Unbiased MMD^2 with the kernel k(a, b) = (a.b / D + 1)^3, averaged over random subsets (mean, std)."""
    f1, f2 = f1.double(), f2.double()
    n = min(subset_size, f1.shape[0], f2.shape[0])
    if n < 2:
        raise ValueError("KID needs at least 2 samples per set")
    d = f1.shape[1]
    g = generator or torch.Generator().manual_seed(0)
    values = []
    for _ in range(subsets):
        a = f1[torch.randperm(f1.shape[0], generator=g)[:n]]
        b = f2[torch.randperm(f2.shape[0], generator=g)[:n]]
        kaa, kbb, kab = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3
        mmd = (kaa.sum() - kaa.diagonal().sum() + kbb.sum() - kbb.diagonal().sum()) / (n * (n - 1)) - 2 * kab.mean()
        values.append(float(mmd))
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), float(t.std(unbiased=False))


# two-sided 95 % quantiles of Student's t, df = 1..30; the normal approximation with a 1/df correction beyond
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


def t_quantile(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (Cornish-Fisher beyond df = 30)."""
    if df < 1:
        raise ValueError("t quantile needs df >= 1")
    if df <= 30:
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci(values: list[float]) -> tuple[float, float]:
    """(mean, half-width of its 95 % confidence interval); the half-width is nan for fewer than 2 values."""
    v = [x for x in values if math.isfinite(x)]
    if not v:
        return math.nan, math.nan
    m = sum(v) / len(v)
    if len(v) < 2:
        return m, math.nan
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    return m, t_quantile(len(v) - 1) * sd / math.sqrt(len(v))
