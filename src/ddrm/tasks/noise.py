"""The noise level of a measurement, estimated from the measurement itself (``--sigma-y auto``).

The estimate is made in the measurement's own domain (the low-resolution image for super-resolution, the grey image
for colourisation, the observed pixels for inpainting), where the noise is the ``sigma_y`` of ``y = H x + sigma_y z``.

* :func:`pca_noise_level` (the default): Chen, Zhu & Heng, "An Efficient Statistical Method for Image Noise Level
  Estimation", ICCV 2015. Natural images' patches occupy a low-dimensional subspace, so most eigenvalues of the patch
  covariance are the noise variance alone; they are found as the largest set of smallest eigenvalues whose mean is
  also their median (the larger eigenvalues, carrying signal, are dropped one by one until it is).
* :func:`weak_texture_noise_level`, the default on a one-channel measurement (a grey photo, a colourisation's input):
  the same eigenvalue rule on the weak-texture patches alone, selected as Liu, Tanaka & Okutomi, "Single-Image Noise
  Level Estimation for Blind Denoising", IEEE TIP 2013, do. A colour image's patches are far from filling their
  space (its channels move together), so every patch can be used; a grey image's small patches are filled by texture
  (on the training photos at 128 px, all patches give +0.015 at sigma_y 0 and +0.009 at 0.01), and only the
  flattest ones leave directions to noise alone.
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
from .inputs import is_grey_photo

__all__ = [
    "pca_noise_level",
    "mad_noise_level",
    "weak_texture_noise_level",
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


def _grid_stride(y: Tensor, patch: int) -> int:
    """The step of the patch grid: 1, or coarser where ``y`` has more than :data:`MAX_PATCHES` patches."""
    count = max(1, (y.shape[-2] - patch + 1) * (y.shape[-1] - patch + 1))
    return max(1, math.ceil(math.sqrt(count / MAX_PATCHES)))


def pca_noise_level(y: Tensor, patch: int = 8, stride: int | None = None, valid: Tensor | None = None) -> float:
    """The noise standard deviation of an image ``y`` (C, H, W), Chen et al. 2015 (see the module's docstring), from
    the ``C patch^2``-dimensional patches at every pixel (``stride`` 1; coarser on images with more than
    ``MAX_PATCHES`` of them); ``valid`` (H, W) restricts the patches to observed pixels."""
    x = _patches(y, patch, _grid_stride(y, patch) if stride is None else stride, valid)
    if x.shape[0] < 2 * x.shape[1]:
        raise InputError(
            f"the measurement is too small to estimate its noise ({x.shape[0]} patches of {patch} px); give --sigma-y"
        )
    return _eigen_level(x)


WEAK_TEXTURE_PATCH = 5  # px: chosen on the training photos' grey images (5 and 7 tried; 5 holds at 32 px)
WEAK_TEXTURE_QUANTILE = 0.99  # Liu et al.'s: a patch of noise alone is taken as flat with this probability
WEAK_TEXTURE_ROUNDS = 5


def _gamma_quantile(q: float, shape: float, scale: float) -> float:
    """The ``q`` quantile of a Gamma(``shape``, ``scale``) law, by Wilson & Hilferty's cube-root normal approximation
    (relative error under 1e-3 from shape 5 up)."""
    z = float(torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(q, dtype=torch.float64)))
    return scale * shape * (1 - 1 / (9 * shape) + z * math.sqrt(1 / (9 * shape))) ** 3


def _eigen_level(x: Tensor) -> float:
    """Chen et al.'s rule on patches ``x`` (N, D): the mean of the largest set of smallest covariance eigenvalues whose
    mean is also their median, as a standard deviation."""
    x = x - x.mean(0, keepdim=True)
    eig = torch.linalg.eigvalsh(x.T @ x / x.shape[0]).clamp_min(0)  # ascending
    for keep in range(eig.numel(), 0, -1):
        tail = eig[:keep]
        tau = tail.mean()
        if int((tail > tau).sum()) == int((tail < tau).sum()):
            return float(tau.sqrt())
    return float(eig[0].sqrt())


def weak_texture_noise_level(y: Tensor, patch: int = WEAK_TEXTURE_PATCH, valid: Tensor | None = None) -> float:
    """The noise standard deviation of ``y`` (C, H, W) from its weak-texture patches (Liu, Tanaka & Okutomi 2013):
    a patch's texture is the sum of its squared first differences; for noise alone of level ``sigma`` it follows a
    Gamma law of shape ``D / 2`` (``D`` the patch's length) and mean ``sigma^2 tr(Dh^T Dh + Dv^T Dv)``, so the patches
    below that law's :data:`WEAK_TEXTURE_QUANTILE` quantile are kept and the level is estimated again from them (by
    :func:`_eigen_level`, Chen et al.'s rule), from all patches first, for :data:`WEAK_TEXTURE_ROUNDS` rounds or until
    it settles; the patches on :func:`pca_noise_level`'s grid. ``valid`` (H, W) restricts the patches to observed
    pixels."""
    x = _patches(y, patch, _grid_stride(y, patch), valid)
    c, d = y.shape[0], x.shape[1]
    if x.shape[0] < 2 * d:
        raise InputError(
            f"the measurement is too small to estimate its noise ({x.shape[0]} patches of {patch} px); give --sigma-y"
        )
    p = x.reshape(-1, c, patch, patch)
    texture = (p.diff(dim=-1) ** 2).sum((1, 2, 3)) + (p.diff(dim=-2) ** 2).sum((1, 2, 3))
    # tr(Dh^T Dh + Dv^T Dv) over a patch: each first difference sums two unit weights, c 2 patch (patch - 1) of them
    mean_per_variance = c * 2 * patch * (patch - 1) * 2
    sigma = _eigen_level(x)
    for _ in range(WEAK_TEXTURE_ROUNDS):
        limit = _gamma_quantile(WEAK_TEXTURE_QUANTILE, d / 2, 2 * sigma**2 * mean_per_variance / d)
        flat = x[texture < limit]
        if flat.shape[0] < 2 * d:  # too few flat patches to trust: the last level stands
            break
        new = _eigen_level(flat)
        if abs(new - sigma) < 1e-6:
            return new
        sigma = new
    return sigma


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
    inpainting measurement (``mask``: True = observed). Colour channels within 2/255 of each other everywhere are a
    grey photo stored as colour (:func:`~ddrm.tasks.inputs.is_grey_photo`): its level is estimated on the grey image
    (the same noise is in every channel; patches across the channels would find none). Refused where the measurement
    is not an image (compressed sensing) or the degradation is not additive noise (JPEG: its quantisation is the
    degradation)."""
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
    if is_grey_photo(y01):
        y01 = y01.mean(0, keepdim=True)  # a grey photo stored as colour: one noise in every channel, which the
        # patches across the channels cannot see (their differences are flat): its level is the grey image's
    if method == "mad":
        return mad_noise_level(y01, valid)
    if y01.shape[0] == 1:  # a grey image: its weak-texture patches (see the module's docstring)
        try:
            return weak_texture_noise_level(y01, valid=valid)
        except InputError:
            pass  # a thumbnail: smaller patches below
    for patch in PATCH_SIZES[:-1]:  # a thumbnail has too few 8 px patches for their covariance: smaller ones
        try:
            return pca_noise_level(y01, patch, valid=valid)
        except InputError:
            continue
    return pca_noise_level(y01, PATCH_SIZES[-1], valid=valid)
