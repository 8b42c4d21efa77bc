"""Classical baselines, the bar a diffusion method has to clear: the measurement itself, the pseudo-inverse,
bicubic upsampling, and regularised least squares with their weight tuned on a held-out split.

All work in [0, 1] image units on a batch ``y01`` (B, *measurement_shape) of one operator ``op``:

- ``tikhonov``: argmin_x ||H x - y||^2 + lam ||D x||^2, D the forward differences (gradient regularisation),
  solved by conjugate gradients on (H^T H + lam D^T D) x = H^T y.
- ``biharmonic``: the same with the Laplacian, ||H x - y||^2 + lam ||L x||^2: for inpainting, biharmonic
  interpolation of the missing pixels (Damelin & Hoang 2018, as scikit-image's ``inpaint_biharmonic``) that also
  smooths the noisy known ones.
- ``tv``: total-variation denoising, argmin_x 1/2 ||x - y||^2 + lam TV(x), by Chambolle's (2004) dual projection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..operators import SVDOperator
from ..operators.base import conjugate_gradient

__all__ = [
    "Baseline",
    "BASELINES",
    "conjugate_gradient",
    "regularised_least_squares",
    "tv_denoise",
    "jpeg_deblock",
    "grad",
    "div",
]


def grad(x: Tensor) -> tuple[Tensor, Tensor]:
    """Forward differences with a Neumann boundary (zero across the last row / column)."""
    gx = torch.zeros_like(x)
    gy = torch.zeros_like(x)
    gx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    gy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    return gx, gy


def div(gx: Tensor, gy: Tensor) -> Tensor:
    """The negative adjoint of :func:`grad`: <grad x, p> = -<x, div p>."""
    dx = torch.zeros_like(gx)
    dy = torch.zeros_like(gy)
    dx[..., :, 0] = gx[..., :, 0]
    dx[..., :, 1:-1] = gx[..., :, 1:-1] - gx[..., :, :-2]
    dx[..., :, -1] = -gx[..., :, -2]
    dy[..., 0, :] = gy[..., 0, :]
    dy[..., 1:-1, :] = gy[..., 1:-1, :] - gy[..., :-2, :]
    dy[..., -1, :] = -gy[..., -2, :]
    return dx + dy


def _laplacian(x: Tensor) -> Tensor:
    """D^T D x (a positive semi-definite graph Laplacian with Neumann boundary)."""
    return -div(*grad(x))


def regularised_least_squares(op: SVDOperator, y01: Tensor, lam: float, order: int = 1, iters: int = 300) -> Tensor:
    """argmin_x ||H x - y||^2 + lam ||R x||^2 with R the gradient (``order`` 1) or the Laplacian (``order`` 2)."""
    if order == 1:
        reg = _laplacian
    else:

        def reg(v: Tensor) -> Tensor:
            return _laplacian(_laplacian(v))

    def normal(v: Tensor) -> Tensor:
        return op.Ht(op.H(v)) + lam * reg(v)

    b = op.Ht(y01)
    x0 = op.pinv(y01).clamp(0, 1)
    return conjugate_gradient(normal, b, x0, iters=iters)


def tv_denoise(y: Tensor, lam: float, iters: int = 200) -> Tensor:
    """Isotropic TV denoising of each channel, Chambolle (2004) Eq. (9) with step tau = 1/4 (< 1/8 bound x 2)."""
    if lam <= 0:
        return y.clone()
    px = torch.zeros_like(y)
    py = torch.zeros_like(y)
    tau = 0.125
    for _ in range(iters):
        gx, gy = grad(div(px, py) - y / lam)
        norm = torch.sqrt(gx * gx + gy * gy)
        px = (px + tau * gx) / (1 + tau * norm)
        py = (py + tau * gy) / (1 + tau * norm)
    return y - lam * div(px, py)


def jpeg_deblock(y01: Tensor, quality: int, lam: float = 0.02, outer: int = 8, tv_iters: int = 40) -> Tensor:
    """Classical JPEG deblocking by projections onto convex sets: alternate TV smoothing (Chambolle) with the
    projection onto the images whose DCT coefficients lie in the quantisation cells of ``y01`` (B, 3, H, W)."""
    from ..operators.jpeg import JPEG

    op = JPEG(tuple(y01.shape[1:]), quality, dtype=y01.dtype).to(y01.device)
    x = y01.clone()
    for _ in range(outer):
        x = op.project(tv_denoise(x, lam, tv_iters).clamp(0, 1), y01)
    return x


@dataclass(frozen=True)
class Baseline:
    """A classical method: ``run(op, y01, task, **params) -> x01``; ``grid`` lists the values its parameter
    ``tuned`` is chosen from on the tuning split (the best mean PSNR), ``default`` when there is no split."""

    name: str
    summary: str
    run: Callable[..., Tensor]
    applies: Callable[[str, dict], bool]
    params: tuple[str, ...] = ()
    tuned: str | None = None
    grid: tuple[float, ...] = ()
    default: float | None = None


def _measurement(op: SVDOperator, y01: Tensor, task: str, **_) -> Tensor:
    """The measurement drawn at the image's size: nearest-neighbour upsampling, grey replicated to colour."""
    c, h, w = op.input_shape
    if y01.ndim != 4:
        return op.pinv(y01)  # not image-like (compressed sensing): its pseudo-inverse is its only picture
    img = F.interpolate(y01, size=(h, w), mode="nearest")
    return img.expand(-1, c, h, w) if img.shape[1] == 1 and c > 1 else img


def _bicubic(op: SVDOperator, y01: Tensor, task: str, **_) -> Tensor:
    _, h, w = op.input_shape
    return F.interpolate(y01, size=(h, w), mode="bicubic", align_corners=False)


BASELINES: dict[str, Baseline] = {
    b.name: b
    for b in [
        Baseline("measurement", "the degraded image itself (nearest upsampling)", _measurement, lambda t, p: True),
        Baseline("pinv", "the pseudo-inverse H^+ y", lambda op, y01, task, **_: op.pinv(y01), lambda t, p: True),
        Baseline(
            "bicubic", "bicubic upsampling of y (super-resolution)", _bicubic, lambda t, p: t in ("sr", "sr_bicubic")
        ),
        Baseline(
            "tikhonov",
            "gradient-regularised least squares, weight tuned",
            lambda op, y01, task, lam: regularised_least_squares(op, y01, lam, order=1),
            lambda t, p: True,
            ("lam",),
            "lam",
            (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0),
            1e-2,
        ),
        Baseline(
            "biharmonic",
            "Laplacian-regularised least squares (biharmonic inpainting), weight tuned",
            lambda op, y01, task, lam: regularised_least_squares(op, y01, lam, order=2),
            lambda t, p: t == "inpaint",
            ("lam",),
            "lam",
            (1e-4, 1e-3, 1e-2, 0.1, 1.0),
            1e-2,
        ),
        Baseline(
            "tv",
            "total-variation denoising (Chambolle), weight tuned",
            lambda op, y01, task, lam: tv_denoise(y01, lam),
            lambda t, p: t == "denoise",
            ("lam",),
            "lam",
            (0.01, 0.02, 0.04, 0.06, 0.08, 0.12, 0.16, 0.24),
            0.06,
        ),
    ]
}
