"""The noise level of a measurement, estimated from the measurement itself (``--sigma-y auto``).

The estimate is made in the measurement's own domain (the low-resolution image for super-resolution, the grey image
for colourisation, the observed pixels for inpainting), where the noise is the ``sigma_y`` of ``y = H x + sigma_y z``.

* :func:`pca_noise_level` (the default): Chen, Zhu & Heng, "An Efficient Statistical Method for Image Noise Level
  Estimation", ICCV 2015. Natural images' patches occupy a low-dimensional subspace, so most eigenvalues of the patch
  covariance are the noise variance alone; they are found as the largest set of smallest eigenvalues whose mean is
  also their median (the larger eigenvalues, carrying signal, are dropped one by one until it is).
* :func:`mad_noise_level`: Donoho's median absolute deviation of the finest diagonal Haar coefficients, divided by
  0.6745 (Donoho & Johnstone 1994): the simple baseline, biased upwards by texture.

Both see an 8-bit image's own rounding (about 0.001 in [0, 1] units), so a clean image comes out near 0.001.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError

__all__ = [
    "pca_noise_level",
    "mad_noise_level",
    "estimate_sigma_y",
    "NOISE_ESTIMATORS",
    "DEFAULT_SIGMA_Y",
    "default_sigma_y",
    "check_sigma_y",
]

NOISE_ESTIMATORS = ("pca", "mad")

DEFAULT_SIGMA_Y = 0.05  # the noise a synthetic measurement gets when none is named (DDRM's paper's level)
NOISELESS_TASKS = ("jpeg",)  # the degradation is the quantisation itself: no Gaussian noise is modelled


def default_sigma_y(task: str) -> float:
    """The noise level a synthetic measurement of ``task`` (an operator's name) gets when none is named: 0 for JPEG
    (its quantisation is the degradation), else :data:`DEFAULT_SIGMA_Y`."""
    return 0.0 if task in NOISELESS_TASKS else DEFAULT_SIGMA_Y


def check_sigma_y(task: str, sigma_y: float | str) -> None:
    """The one rule every front end applies: ``sigma_y`` in [0, 1] (image units) or ``"auto"``, and 0 (or
    ``"auto"``, which gives 0) for a task that models no Gaussian noise (JPEG)."""
    if sigma_y == "auto":
        return
    if isinstance(sigma_y, bool) or not isinstance(sigma_y, (int, float)) or not 0 <= sigma_y <= 1:
        raise InputError(f"sigma_y must lie in [0, 1] (image units) or be 'auto', got {sigma_y!r}")
    if task in NOISELESS_TASKS and sigma_y > 0:
        raise InputError(
            f"JPEG artefact removal models no Gaussian noise (the quantisation is the degradation), so sigma_y is 0; "
            f"got {sigma_y:g}: leave --sigma-y out"
        )


def _patches(y: Tensor, size: int, stride: int, valid: Tensor | None) -> Tensor:
    """Overlapping ``size x size`` patches of ``y`` (C, H, W) as rows (N, C size^2); with ``valid`` (H, W) only the
    patches lying wholly inside it."""
    cols = F.unfold(y[None].double(), size, stride=stride)[0].T  # (N, C size^2)
    if valid is not None:
        inside = F.unfold(valid[None, None].double(), size, stride=stride)[0].min(0).values > 0.5
        cols = cols[inside]
    return cols


PATCH_SIZES = (8, 4)  # Chen et al.'s 8 px; 4 px where an image has too few 8 px patches (a thumbnail)
MAX_PATCHES = 100_000  # beyond, patches are taken on a coarser grid: the statistics are settled long before


def pca_noise_level(y: Tensor, patch: int = 8, stride: int | None = None, valid: Tensor | None = None) -> float:
    """The noise standard deviation of an image ``y`` (C, H, W), Chen et al. 2015 (see the module's docstring), from
    the ``C patch^2``-dimensional patches at every pixel (``stride`` 1; coarser on images with more than
    ``MAX_PATCHES`` of them); ``valid`` (H, W) restricts the patches to observed pixels."""
    if stride is None:
        count = max(1, (y.shape[-2] - patch + 1) * (y.shape[-1] - patch + 1))
        stride = max(1, math.ceil(math.sqrt(count / MAX_PATCHES)))
    x = _patches(y, patch, stride, valid)
    if x.shape[0] < 2 * x.shape[1]:
        raise InputError(
            f"the measurement is too small to estimate its noise ({x.shape[0]} patches of {patch} px); give --sigma-y"
        )
    x = x - x.mean(0, keepdim=True)
    eig = torch.linalg.eigvalsh(x.T @ x / x.shape[0]).clamp_min(0)  # ascending
    for keep in range(eig.numel(), 0, -1):
        tail = eig[:keep]
        tau = tail.mean()
        if int((tail > tau).sum()) == int((tail < tau).sum()):
            return float(tau.sqrt())
    return float(eig[0].sqrt())


def mad_noise_level(y: Tensor, valid: Tensor | None = None) -> float:
    """Donoho's wavelet estimate: ``median(|HH|) / 0.6745`` of the finest diagonal Haar coefficients of ``y``
    (C, H, W), over the 2x2 blocks inside ``valid`` (H, W) when given."""
    h, w = (y.shape[-2] // 2) * 2, (y.shape[-1] // 2) * 2
    v = y[..., :h, :w].double()
    hh = (v[..., 0::2, 0::2] - v[..., 0::2, 1::2] - v[..., 1::2, 0::2] + v[..., 1::2, 1::2]) / 2
    if valid is not None:
        ok = F.avg_pool2d(valid[None, :h, :w].double(), 2)[0] == 1
        hh = hh[..., ok]
    if hh.numel() == 0:
        raise InputError("the measurement has no observed 2x2 block to estimate its noise from; give --sigma-y")
    return float(hh.abs().flatten().median() / 0.6745)


def estimate_sigma_y(y01: Tensor, task: str, mask: Tensor | None = None, method: str = "pca") -> float:
    """The noise level ``sigma_y`` ([0, 1] units) of a measurement ``y01`` of ``task`` (an operator's name), in the
    measurement's own domain: the image as measured (a low-resolution or grey image), the observed pixels of an
    inpainting measurement (``mask``: True = observed). Refused where the measurement is not an image (compressed
    sensing) or the degradation is not additive noise (JPEG: its quantisation is the degradation)."""
    if method not in NOISE_ESTIMATORS:
        raise InputError(f"unknown noise estimator {method!r}; choose from {', '.join(NOISE_ESTIMATORS)}")
    if task == "jpeg":
        return 0.0
    if y01.ndim != 3 or task == "cs":
        raise InputError("sigma_y auto needs an image measurement; give the noise level with --sigma-y")
    valid = None
    if mask is not None:
        valid = torch.as_tensor(mask).to(torch.bool)
        valid = valid.reshape(valid.shape[-2:]) if valid.numel() == valid.shape[-1] * valid.shape[-2] else valid.all(0)
    if method == "mad":
        return mad_noise_level(y01, valid)
    for patch in PATCH_SIZES[:-1]:  # a thumbnail has too few 8 px patches for their covariance: smaller ones
        try:
            return pca_noise_level(y01, patch, valid=valid)
        except InputError:
            continue
    return pca_noise_level(y01, PATCH_SIZES[-1], valid=valid)
