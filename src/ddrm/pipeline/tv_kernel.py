"""A camera shake's full kernel from the photo alone by total-variation blind deconvolution (Perrone & Favaro, "Total
variation blind deconvolution: the devil is in the details", CVPR 2014; and TPAMI's "A clearer picture of blind
deconvolution").

The energy is ``1/2 ||valid(k (*) u) - y||^2 + lam TV(u)`` over the image ``u`` (larger than the photo ``y`` by the
kernel's side less one: the scene a photo's blur saw) and the kernel ``k`` on the simplex. It is minimised by
alternating one gradient step on ``u`` and one on ``k``, the kernel then projected by clipping its negative taps and
dividing by its sum: the *delayed* normalisation, taken after the step rather than built into the energy, is what
keeps the alternation from the no-blur solution that the energy itself prefers (the paper's analysis). Each step is
normalised by the largest entry of its gradient (a fixed fraction of the image's, or of the kernel's, largest
value). Coarse to fine, the weight growing by a fixed factor per coarser scale, each coarser scale ends with
non-blind steps on ``u`` under its final kernel, which start the next scale's image.

Chosen for the camera-shake route because on the training photos of ``../shared/DATA.md`` (low in texture, many of
them) it lands far nearer the true shake than the L0 estimate (:func:`ddrm.pipeline.blind.l0_kernel`), where the
L0 image keeps too few edges to pin a long kernel (``docs/benchmarks.md``, "Camera shake: total-variation blind
deconvolution").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..samplers.common import progress

__all__ = ["tv_kernel", "tv_pyramid", "TV_WEIGHT", "TV_ITERATIONS"]

# the published settings (the authors' code for Levin et al.'s set): the TV weight at the finest scale, the image's and
# the kernel's step (fractions of their largest value per step), the steps per scale, and the pyramid's kernel ratio,
# weight factor per scale, largest weight and smallest kernel side; none tuned here
TV_WEIGHT, TV_ITERATIONS = 6e-4, 1000
TV_IMAGE_STEP, TV_KERNEL_STEP = 5e-3, 1e-3
TV_RATIO, TV_WEIGHT_FACTOR, TV_WEIGHT_MAX, TV_SMALLEST = 1.1, 1.9, 0.11, 3
TV_EPSILON = 1e-3  # the gradient magnitude's floor in TV's derivative (a smoothed TV: sqrt(|grad u|^2 + eps^2))


def tv_pyramid(height: int, width: int, size: int, weight: float = TV_WEIGHT) -> list[tuple[int, int, int, float]]:
    """The scales ``(height, width, kernel side, weight)`` finest first: each coarser one's kernel the side over
    :data:`TV_RATIO`, rounded to an odd side at least two taps smaller (and at least :data:`TV_SMALLEST`), the photo
    scaled by the same ratio to odd sides, the weight times :data:`TV_WEIGHT_FACTOR`; they stop at the smallest
    kernel or before the weight would reach :data:`TV_WEIGHT_MAX`."""
    scales = [(height, width, size, weight)]
    while scales[-1][2] > TV_SMALLEST and scales[-1][3] * TV_WEIGHT_FACTOR < TV_WEIGHT_MAX:
        h, w, n, lam = scales[-1]
        side = round(n / TV_RATIO)
        side -= 1 - side % 2  # odd
        side = max(n - 2 if side >= n else side, TV_SMALLEST)
        ratio = n / side
        h2, w2 = (max(1, round(v / ratio)) for v in (h, w))
        scales.append((h2 - 1 + h2 % 2, w2 - 1 + w2 % 2, side, lam * TV_WEIGHT_FACTOR))
    return scales


def _resize(x: Tensor, shape: tuple[int, int]) -> Tensor:
    """``x`` (C, H, W) resized bicubically (antialiased when shrinking)."""
    return F.interpolate(x[None], size=shape, mode="bicubic", align_corners=False, antialias=True)[0]


def _spectrum(k: Tensor, shape: tuple[int, int]) -> Tensor:
    """The real FFT of ``k`` at the top-left of a zero grid of ``shape``."""
    return torch.fft.rfft2(F.pad(k, (0, shape[1] - k.shape[1], 0, shape[0] - k.shape[0])))


def _residual(uf: Tensor, kf: Tensor, y: Tensor, n: int, shape: tuple[int, int]) -> Tensor:
    """The real FFT of ``valid(k (*) u) - y`` zero-padded to ``u``'s grid (``shape``) where the valid part lies (rows
    and columns ``n - 1`` on), from the spectra ``uf`` of ``u`` and ``kf`` of ``k``: the circular convolution of ``u``
    by ``k`` agrees with the true one there."""
    blurred = torch.fft.irfft2(uf * kf, s=shape)
    return torch.fft.rfft2(F.pad(blurred[..., n - 1 :, n - 1 :] - y, (n - 1, 0, n - 1, 0)))


def _tv_gradient(u: Tensor) -> Tensor:
    """The derivative of each channel's smoothed TV, ``sum sqrt(dx^2 + dy^2 + eps^2)`` with forward differences (zero
    past the last row and column)."""
    dx = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    dy = F.pad(u[..., :, 1:] - u[..., :, :-1], (0, 1))
    norm = (dx**2 + dy**2 + TV_EPSILON**2).sqrt()
    px, py = dx / norm, dy / norm
    return F.pad(px[..., :-1, :], (0, 0, 1, 0)) - px + F.pad(py[..., :, :-1], (1, 0)) - py


def _steps(u: Tensor, k: Tensor, y: Tensor, weight: float, iterations: int, blind: bool) -> tuple[Tensor, Tensor]:
    """``iterations`` gradient steps on the image (and, ``blind``, each followed by one on the kernel and its
    projection on the simplex) at one scale."""
    n, shape = k.shape[-1], u.shape[-2:]
    kf = _spectrum(k, shape)
    for _ in range(iterations):
        r = _residual(torch.fft.rfft2(u), kf, y, n, shape)
        grad = torch.fft.irfft2(r * kf.conj(), s=shape) + weight * _tv_gradient(u)
        u = u - TV_IMAGE_STEP * u.max() / grad.abs().max().clamp_min(1e-31) * grad
        if blind:  # the kernel's gradient under the new image: the residual's correlation with it, over channels
            uf = torch.fft.rfft2(u)
            gk = torch.fft.irfft2(_residual(uf, kf, y, n, shape) * uf.conj(), s=shape).sum(0)[:n, :n]
            k = (k - TV_KERNEL_STEP * k.max() / gk.abs().max().clamp_min(1e-31) * gk).clamp_min(0)
            k = k / k.sum()
            kf = _spectrum(k, u.shape[-2:])
    return u, k


def tv_kernel(
    y01: Tensor,
    size: int,
    *,
    weight: float = TV_WEIGHT,
    iterations: int = TV_ITERATIONS,
    start: Tensor | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """The full kernel (``size`` x ``size``, float64, on the CPU, summing to one) of the valid blur that made ``y01``
    (1, C, H, W) in [0, 1], by TV blind deconvolution coarse to fine (see the module): at each scale of
    :func:`tv_pyramid`, ``iterations`` alternating steps, then at the coarser scales as many on the image alone; the
    image starts as the photo with its edges repeated, the kernel as uniform over the window. Deterministic; the
    photo is not modified. ``weight``: the TV weight at the finest scale; ``progress_bar``: one tick per scale (about a
    minute in all for a 21 px kernel on a 128 px photo on one CPU core, the time growing with the photo's pixels).
    ``start``: the finest scale alone, from that kernel (``size`` x ``size``, non-negative, scaled to sum to one)
    instead of the pyramid's: ``iterations`` steps on the image under it, then ``iterations`` alternating ones; with
    the true kernel, whether the energy keeps it (``docs/benchmarks.md``, "The TV estimate started at the true
    shake")."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"the steps per scale must be an integer >= 1, got {iterations!r}")
    if not weight > 0:
        raise ValueError(f"the TV weight must be positive, got {weight}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the kernel's side must be odd, got {size}")
    y = y01[0].double()
    u = F.pad(y[None], (size // 2,) * 4, mode="replicate")[0]
    if start is not None:
        if tuple(start.shape) != (size, size):
            raise ValueError(f"the start kernel must be {size} x {size}, got {tuple(start.shape)}")
        k = start.to(y)
        if not (bool(torch.isfinite(k).all()) and float(k.min()) >= 0 and float(k.sum()) > 0):
            raise ValueError("the start kernel must be finite and non-negative, with a positive sum")
        k = k / k.sum()  # a new tensor: the caller's is not touched
        u, _ = _steps(u, k, y, weight, iterations, blind=False)  # the image under the start first
        return _steps(u, k, y, weight, iterations, blind=True)[1].cpu()
    scales = tv_pyramid(y.shape[-2], y.shape[-1], size, weight)
    k = torch.full((size, size), 1 / size**2, dtype=y.dtype, device=y.device)
    for level in progress(range(len(scales) - 1, -1, -1), enabled=progress_bar, desc="kernel (TV)"):
        h, w, n, lam = scales[level]
        ys = y if level == 0 else _resize(y, (h, w))
        u = _resize(u, (h + n - 1, w + n - 1))
        k = _resize(k[None], (n, n))[0].clamp_min(0)
        k = k / k.sum()
        u, k = _steps(u, k, ys, lam, iterations, blind=True)
        if level:  # the coarser scale's image under its final kernel starts the next one
            u, _ = _steps(u, k, ys, lam, iterations, blind=False)
    return k.cpu()
