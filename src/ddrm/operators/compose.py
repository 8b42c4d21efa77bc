"""Composition of operators: products that keep an implicit SVD, and the valid part of a blur (a crop after it)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..errors import TaskError
from .base import LinearOperator, SVDOperator
from .kronecker import Kronecker
from .simple import Denoising, Inpainting

__all__ = ["compose", "ValidPart", "valid_margins"]


def _mul(outer: Tensor | None, inner: Tensor | None) -> Tensor | None:
    if outer is None:
        return inner
    if inner is None:
        return outer
    return outer.double() @ inner.double()


def compose(outer: SVDOperator, inner: SVDOperator) -> SVDOperator:
    """The operator ``H = H_outer H_inner`` (apply ``inner`` first), when its SVD is still implicit.

    Supported: the identity with anything, and any two separable operators (blur, bicubic or block
    downsampling, colorization), whose product is again a Kronecker product of 1-D matrices.
    """
    if tuple(inner.measurement_shape) != tuple(outer.input_shape):
        raise TaskError(
            f"cannot compose: inner measurement shape {tuple(inner.measurement_shape)} "
            f"differs from outer input shape {tuple(outer.input_shape)}"
        )
    if type(outer) is Denoising:
        return inner
    if type(inner) is Denoising:
        return outer
    if hasattr(outer, "kron_factors") and hasattr(inner, "kron_factors") and not isinstance(inner, Inpainting):
        factors = [_mul(a, b) for a, b in zip(outer.kron_factors(), inner.kron_factors())]
        dtype = inner.singulars().dtype
        return Kronecker(inner.input_shape, *factors, dtype=dtype)
    raise TaskError(
        f"composing {type(outer).__name__} after {type(inner).__name__} has no implicit SVD; "
        "supported: separable operators (blur, super-resolution, colorization) and the identity"
    )


def valid_margins(kernel_shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right): the rows and columns of a blur's output (kernel of ``kernel_shape``, centred at
    ``(kh // 2, kw // 2)``) that saw pixels beyond the image; the rest is the 'valid' part."""
    kh, kw = kernel_shape
    return (kh - 1 - kh // 2, kh // 2, kw - 1 - kw // 2, kw // 2)


class ValidPart(LinearOperator):
    """``H = C B``: a blur ``B`` of the whole image (any boundary: ``B`` is circular for speed) followed by the crop
    ``C`` to the outputs that saw only the image, so the boundary model never enters: the measurement of a real photo,
    whose border pixels saw the scene beyond the frame. The unknown is larger than the measurement by the margins
    (:func:`valid_margins` of the largest kernel); ``H^T = B^T C^T`` pads with zeros. No SVD: pseudo-inverse and prox
    by conjugate gradients (:class:`LinearOperator`)."""

    def __init__(self, inner: LinearOperator, margins: tuple[int, int, int, int]):
        super().__init__(inner.input_shape)
        c, h, w = inner.measurement_shape
        top, bottom, left, right = (int(v) for v in margins)
        if min(margins) < 0 or top + bottom >= h or left + right >= w:
            raise TaskError(f"margins {tuple(margins)} leave nothing of a {h}x{w} measurement")
        self.inner, self.margins = inner, (top, bottom, left, right)
        self.measurement_shape = (c, h - top - bottom, w - left - right)

    def H(self, x: Tensor) -> Tensor:  # noqa: N802
        top, bottom, left, right = self.margins
        full = self.inner.H(x)
        return full[..., top : full.shape[-2] - bottom, left : full.shape[-1] - right]

    def Ht(self, y: Tensor) -> Tensor:  # noqa: N802
        self._check_measurement(y)
        top, bottom, left, right = self.margins
        return self.inner.Ht(F.pad(y, (left, right, top, bottom)))
