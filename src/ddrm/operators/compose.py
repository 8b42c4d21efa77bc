"""Composition of operators whose product keeps an implicit SVD."""

from __future__ import annotations

from torch import Tensor

from ..errors import TaskError
from .base import SVDOperator
from .kronecker import Kronecker
from .simple import Denoising, Inpainting

__all__ = ["compose"]


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
