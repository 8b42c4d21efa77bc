"""Spatially varying blur as a product-convolution (a sum of a few blurs weighted by smooth masks).

``H x = sum_k k_k (*) (w_k . x)``: the image is split softly by weights ``w_k >= 0`` that sum to one at every pixel,
each part is blurred by its own kernel, and the parts are added (Nagy and O'Leary's piecewise-constant-PSF
interpolation; ../shared/reference/EXTENSIONS.md section 3). Inside a region whose weight is one the blur is that
region's kernel; across the boundaries it changes smoothly. Convolutions are circular (FFT) and channel-wise, as in
:class:`~ddrm.operators.CircularConvolution`. The operator has no SVD: it is a :class:`LinearOperator`, with
``H^T y = sum_k w_k . (flip(k_k) (*) y)`` exact and the pseudo-inverse / prox by conjugate gradients.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import TaskError
from .base import LinearOperator

__all__ = ["SpatiallyVaryingBlur", "grid_weights"]


def _hat_1d(length: int, parts: int, dtype: torch.dtype) -> Tensor:
    """(parts, length) piecewise-linear weights peaking at the parts' centres, summing to one everywhere."""
    if parts == 1:
        return torch.ones(1, length, dtype=dtype)
    centres = (torch.arange(parts, dtype=torch.float64) + 0.5) * length / parts
    pos = torch.arange(length, dtype=torch.float64) + 0.5
    spacing = length / parts
    w = (1 - (pos[None] - centres[:, None]).abs() / spacing).clamp_min(0)
    w[0, pos <= centres[0]] = 1.0  # flat beyond the outer centres
    w[-1, pos >= centres[-1]] = 1.0
    return (w / w.sum(0, keepdim=True)).to(dtype)


def grid_weights(height: int, width: int, rows: int, cols: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """(rows * cols, H, W) smooth masks of a ``rows x cols`` grid of regions: bilinear "hat" weights centred on the
    regions' centres (one in a region's middle, blending linearly to the next centre), summing to one."""
    wy, wx = _hat_1d(height, rows, dtype), _hat_1d(width, cols, dtype)
    return (wy[:, None, :, None] * wx[None, :, None, :]).reshape(rows * cols, height, width)


class SpatiallyVaryingBlur(LinearOperator):
    """``y = sum_k k_k (*) (w_k . x)`` per channel, circular boundary.

    ``kernels`` (K, kh, kw), each centred at ``(kh // 2, kw // 2)``; ``weights`` (K, H, W), non-negative and summing
    to one at every pixel. :meth:`from_grid` builds the weights of a grid of regions from a (rows, cols, kh, kw) array
    of kernels."""

    def __init__(
        self, input_shape: tuple[int, int, int], kernels: Tensor, weights: Tensor, *, dtype: torch.dtype | None = None
    ):
        super().__init__(input_shape)
        dtype = dtype or torch.get_default_dtype()
        c, h, w = self.input_shape
        k = torch.as_tensor(kernels, dtype=torch.float64)
        wts = torch.as_tensor(weights, dtype=torch.float64)
        if k.ndim != 3 or k.shape[1] > h or k.shape[2] > w:
            raise TaskError(f"kernels of shape {tuple(k.shape)} must be (K, kh, kw) and fit in a {h}x{w} image")
        if tuple(wts.shape) != (k.shape[0], h, w):
            raise TaskError(f"weights must have shape ({k.shape[0]}, {h}, {w}), got {tuple(wts.shape)}")
        if bool((wts < 0).any()) or not torch.allclose(wts.sum(0), torch.ones(h, w, dtype=torch.float64), atol=1e-6):
            raise TaskError("weights must be non-negative and sum to one at every pixel")
        self.measurement_shape = self.input_shape
        padded = torch.zeros(k.shape[0], h, w, dtype=torch.float64)
        padded[:, : k.shape[1], : k.shape[2]] = k
        padded = torch.roll(padded, shifts=(-(k.shape[1] // 2), -(k.shape[2] // 2)), dims=(1, 2))
        spectrum = torch.fft.rfft2(padded)  # (K, H, W // 2 + 1)
        self.register_buffer("kernels", k.to(dtype))
        self.register_buffer("weights", wts[:, None].to(dtype))  # (K, 1, H, W): broadcast over channels
        # complex buffers would not survive Module.to(dtype): keep the spectra as two real planes
        self.register_buffer("spec_re", spectrum.real[:, None].to(dtype))
        self.register_buffer("spec_im", spectrum.imag[:, None].to(dtype))

    @classmethod
    def from_grid(
        cls, input_shape: tuple[int, int, int], kernels: Tensor, *, dtype: torch.dtype | None = None
    ) -> SpatiallyVaryingBlur:
        """A ``rows x cols`` grid of regions with one kernel each: ``kernels`` (rows, cols, kh, kw)."""
        k = torch.as_tensor(kernels)
        if k.ndim != 4:
            raise TaskError(f"a grid of kernels has shape (rows, cols, kh, kw), got {tuple(k.shape)}")
        rows, cols = k.shape[:2]
        _, h, w = input_shape
        if rows > h or cols > w:
            raise TaskError(f"a {rows}x{cols} grid does not fit a {h}x{w} image")
        weights = grid_weights(h, w, rows, cols)
        return cls(input_shape, k.reshape(rows * cols, *k.shape[2:]), weights, dtype=dtype)

    @property
    def grid(self) -> int:
        return self.kernels.shape[0]

    def _spectrum(self, conj: bool) -> Tensor:
        return torch.complex(self.spec_re, -self.spec_im if conj else self.spec_im)

    def H(self, x: Tensor) -> Tensor:  # noqa: N802
        self._check_image(x)
        h, w = self.input_shape[1:]
        parts = torch.fft.rfft2(x[:, None] * self.weights)  # (B, K, C, H, W // 2 + 1)
        return torch.fft.irfft2((parts * self._spectrum(False)).sum(1), s=(h, w))

    def Ht(self, y: Tensor) -> Tensor:  # noqa: N802
        self._check_measurement(y)
        h, w = self.input_shape[1:]
        spec = torch.fft.rfft2(y)[:, None] * self._spectrum(True)  # correlation with each kernel
        return (torch.fft.irfft2(spec, s=(h, w)) * self.weights).sum(1)

    def kernel_at(self, row: int, col: int) -> Tensor:
        """The blur a point source at pixel ``(row, col)`` gets: the kernels weighted by the masks there."""
        return (self.weights[:, 0, row, col, None, None] * self.kernels).sum(0)
