"""Composition of operators: products that keep an implicit SVD, the valid part of a blur (a crop after it), and a
one-channel degradation of an image's grey (a greyscale photo's measurement)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import TaskError
from .base import Generators, LinearOperator, SVDOperator
from .kronecker import Kronecker
from .simple import Denoising, Inpainting

__all__ = ["compose", "ValidPart", "valid_margins", "OnGrey", "OnGreySVD", "on_grey"]


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


def _grey_basis(channels: int) -> Tensor:
    """An orthonormal ``channels x channels`` matrix whose first row is the grey direction ``1 / sqrt(channels)``."""
    first = torch.ones(channels, 1, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.cat([first, torch.eye(channels, dtype=torch.float64)[:, 1:]], 1))
    return (q * torch.sign(q[0, 0])).T.contiguous()


class OnGrey(LinearOperator):
    """``H = H_1 G``: ``inner`` (an operator on one-channel images) applied to the image's grey, the mean ``G`` of its
    ``channels`` channels: the measurement of a greyscale photo (its luma measured, its colours left to the prior).
    Every per-channel degradation commutes with ``G``, so this is also the grey of the degraded colour image. ``H^T``
    spreads ``H_1^T y / channels`` over the channels; pseudo-inverse and prox by conjugate gradients (an
    :class:`SVDOperator` ``inner`` gives :class:`OnGreySVD`: :func:`on_grey`)."""

    def __init__(self, inner: LinearOperator, channels: int = 3):
        if inner.input_shape[0] != 1:
            raise TaskError(f"the grey of an image is measured by a one-channel operator, got {inner.input_shape}")
        super().__init__((channels, *inner.input_shape[1:]))
        self.inner = inner
        self.measurement_shape = tuple(inner.measurement_shape)

    def H(self, x: Tensor) -> Tensor:  # noqa: N802
        return self.inner.H(x.mean(-3, keepdim=True))

    def Ht(self, y: Tensor) -> Tensor:  # noqa: N802
        return (self.inner.Ht(y) / self.input_shape[0]).repeat(1, self.input_shape[0], 1, 1)

    def measurement_noise(self, y: Tensor, generator: Generators) -> Tensor:
        return self.inner.measurement_noise(y, generator)

    def to_model_range(self, y01: Tensor) -> Tensor:
        """The grey of ``2 x01 - 1`` is ``2 G x01 - 1``: the inner operator's conversion."""
        return self.inner.to_model_range(y01)


class OnGreySVD(OnGrey, SVDOperator):
    """:class:`OnGrey` of an :class:`SVDOperator`, with its SVD: in a channel basis whose first direction is the grey
    one (``sqrt(C) G x``), ``H = H_1 / sqrt(C)`` on that coordinate and zero on the ``C - 1`` chroma ones; the
    spectral vector is the inner operator's (singular values divided by ``sqrt(C)``) followed by the chroma
    coordinates (null space)."""

    def __init__(self, inner: SVDOperator, channels: int = 3):
        super().__init__(inner, channels)
        self.register_buffer("basis", _grey_basis(channels).to(inner.singulars().dtype), persistent=False)

    def _channels(self, x: Tensor) -> Tensor:
        return torch.einsum("kc,bchw->bkhw", self.basis.to(x), x)

    def Vt(self, x: Tensor) -> Tensor:  # noqa: N802
        t = self._channels(x)
        return torch.cat([self.inner.Vt(t[:, :1]), t[:, 1:].flatten(1)], 1)

    def V(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        n1, (c, h, w) = self.inner.n, self.input_shape
        t = torch.cat([self.inner.V(z[:, :n1]), z[:, n1:].reshape(-1, c - 1, h, w)], 1)
        return torch.einsum("kc,bkhw->bchw", self.basis.to(t), t)

    def U(self, z: Tensor) -> Tensor:  # noqa: N802
        return self.inner.U(z[:, : self.inner.n])

    def Ut(self, y: Tensor) -> Tensor:  # noqa: N802
        inner = self.inner.Ut(y)
        return torch.cat([inner, inner.new_zeros(inner.shape[0], self.n - self.inner.n)], 1)

    def singulars(self) -> Tensor:
        s = self.inner.singulars() / math.sqrt(self.input_shape[0])
        return torch.cat([s, s.new_zeros(s.shape[0], self.n - self.inner.n)], 1)


def on_grey(inner: LinearOperator, channels: int = 3) -> OnGrey:
    """``inner`` (built for one-channel images) measuring the grey of ``channels``-channel images: with the inner
    operator's SVD where it has one."""
    return OnGreySVD(inner, channels) if isinstance(inner, SVDOperator) else OnGrey(inner, channels)
