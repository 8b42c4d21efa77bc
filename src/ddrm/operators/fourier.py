"""Circular 2-D convolution with any kernel, through a *real* orthonormal Fourier basis.

A circulant ``H`` is diagonal in the complex DFT basis, ``F(h * x) = K . F(x)``. DDRM needs real U and V,
so we use the real Fourier basis: for each pair of frequencies ``(k, -k)`` the coordinates
``sqrt(2) Re X[k]`` and ``-sqrt(2) Im X[-k]`` (self-conjugate frequencies keep ``Re X[k]``). In it ``H`` is a
rotation by ``arg K[k]`` times ``|K[k]|`` on each pair, so ``V`` is the real Fourier basis, ``U`` the same basis
rotated by the phase of ``K``, and the singular values are ``|K|``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import TaskError
from .base import SVDOperator

__all__ = ["CircularConvolution"]


class CircularConvolution(SVDOperator):
    """``y = k (*) x`` per channel, periodic boundary, for any 2-D kernel (e.g. motion blur).

    ``kernel`` has shape (kh, kw) with ``kh <= H`` and ``kw <= W``; its centre is ``(kh // 2, kw // 2)``, and the
    operation is a true convolution (``out[i] = sum_t k[t] x[i + c - t]``, indices modulo the image size).
    """

    def __init__(self, input_shape: tuple[int, int, int], kernel: Tensor, *, dtype: torch.dtype | None = None):
        super().__init__(input_shape)
        dtype = dtype or torch.get_default_dtype()
        c, h, w = self.input_shape
        k = torch.as_tensor(kernel, dtype=torch.float64)
        if k.ndim != 2 or k.shape[0] > h or k.shape[1] > w:
            raise TaskError(f"kernel of shape {tuple(k.shape)} must be 2-D and fit in a {h}x{w} image")
        self.measurement_shape = self.input_shape
        padded = torch.zeros(h, w, dtype=torch.float64)
        padded[: k.shape[0], : k.shape[1]] = k
        padded = torch.roll(padded, shifts=(-(k.shape[0] // 2), -(k.shape[1] // 2)), dims=(0, 1))
        spectrum = torch.fft.fft2(padded)
        mag = spectrum.abs()
        phase = torch.where(
            mag > 0, spectrum / torch.where(mag > 0, mag, torch.ones_like(mag)), torch.ones_like(spectrum)
        )
        # Which frequencies carry the real part (P), which the imaginary part (N), which are self-conjugate (S).
        idx = torch.arange(h * w).reshape(h, w)
        partner = torch.roll(torch.flip(idx, (0, 1)), shifts=(1, 1), dims=(0, 1))
        self.register_buffer("kernel", k.to(dtype))
        self.register_buffer("is_pos", (idx < partner)[None])
        self.register_buffer("is_self", (idx == partner)[None])
        # complex buffers would not survive Module.to(dtype): keep the phase as two real planes
        self.register_buffer("phase_re", phase.real[None].to(dtype))
        self.register_buffer("phase_im", phase.imag[None].to(dtype))
        self.register_buffer("s", mag[None].expand(c, h, w).reshape(1, -1).to(dtype))

    # real coordinates <-> Hermitian spectra
    def _to_real(self, spec: Tensor) -> Tensor:
        r2 = math.sqrt(2.0)
        z = torch.where(self.is_pos, r2 * spec.real, torch.where(self.is_self, spec.real, -r2 * spec.imag))
        return z.reshape(z.shape[0], -1)

    def _from_real(self, z: Tensor) -> Tensor:
        c, h, w = self.input_shape
        z = z.reshape(z.shape[0], c, h, w)
        zp = torch.roll(torch.flip(z, (-2, -1)), shifts=(1, 1), dims=(-2, -1))  # value at the partner frequency
        r2 = 1.0 / math.sqrt(2.0)
        re = torch.where(self.is_self, z, torch.where(self.is_pos, z, zp) * r2)
        im = torch.where(self.is_self, torch.zeros_like(z), torch.where(self.is_pos, zp, -z) * r2)
        return torch.complex(re, im)

    def Vt(self, x: Tensor) -> Tensor:  # noqa: N802
        self._check_image(x)
        return self._to_real(torch.fft.fft2(x, norm="ortho"))

    def V(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        return torch.fft.ifft2(self._from_real(z), norm="ortho").real

    def Ut(self, y: Tensor) -> Tensor:  # noqa: N802
        self._check_measurement(y)
        return self._to_real(torch.fft.fft2(y, norm="ortho") * torch.complex(self.phase_re, -self.phase_im))

    def U(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        return torch.fft.ifft2(self._from_real(z) * torch.complex(self.phase_re, self.phase_im), norm="ortho").real

    def singulars(self) -> Tensor:
        return self.s
