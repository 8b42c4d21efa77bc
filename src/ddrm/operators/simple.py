"""Operators whose SVD is trivial (denoising, inpainting) and the dense reference operator."""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import TaskError
from .base import Generators, SVDOperator, randn

__all__ = ["Denoising", "Inpainting", "DenseOperator"]


class _PixelDiagonal(SVDOperator):
    """A diagonal ``H`` in the pixel basis: U = V = I (the singular values are the diagonal)."""

    def __init__(self, input_shape: tuple[int, int, int], *, dtype: torch.dtype | None = None):
        super().__init__(input_shape)
        self.measurement_shape = self.input_shape
        self.register_buffer(
            "_anchor", torch.zeros((), dtype=dtype or torch.get_default_dtype()), persistent=False
        )  # carries device/dtype

    def Vt(self, x: Tensor) -> Tensor:  # noqa: N802
        self._check_image(x)
        return x.reshape(x.shape[0], -1)

    def V(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        return z.reshape(z.shape[0], *self.input_shape)

    def Ut(self, y: Tensor) -> Tensor:  # noqa: N802
        self._check_measurement(y)
        return y.reshape(y.shape[0], -1)

    def U(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        return z.reshape(z.shape[0], *self.measurement_shape)


class Denoising(_PixelDiagonal):
    """``H = I``: U = V = I and every singular value is 1."""

    def singulars(self) -> Tensor:
        return torch.ones(1, self.n, dtype=self._anchor.dtype, device=self._anchor.device)


class Inpainting(_PixelDiagonal):
    """Missing pixels: ``H = diag(mask)``, so U = V = I and ``s = mask``.

    The measurement keeps the image layout, with zeros where pixels are missing (the null space).
    ``mask`` is boolean, ``True`` where the pixel is observed, of shape (H, W), (C, H, W) or
    (B, 1 or C, H, W) for a different mask per image. Building it costs one ``expand``.
    """

    def __init__(self, input_shape: tuple[int, int, int], mask: Tensor, *, dtype: torch.dtype | None = None):
        super().__init__(input_shape, dtype=dtype)
        c, h, w = self.input_shape
        mask = torch.as_tensor(mask)
        if mask.dtype != torch.bool:
            if not torch.all((mask == 0) | (mask == 1)):
                raise TaskError("inpainting mask must be boolean (or hold only 0 and 1)")
            mask = mask.bool()
        if mask.ndim == 2:
            mask = mask[None, None]
        elif mask.ndim == 3:
            mask = mask[None]
        if mask.ndim != 4 or tuple(mask.shape[-2:]) != (h, w) or mask.shape[1] not in (1, c):
            raise TaskError(f"mask of shape {tuple(mask.shape)} does not fit images of shape {self.input_shape}")
        self.register_buffer("mask", mask.expand(mask.shape[0], c, h, w).contiguous())

    def singulars(self) -> Tensor:
        return self.mask.reshape(self.mask.shape[0], -1).to(self._anchor.dtype)

    def measurement_noise(self, y: Tensor, generator: Generators) -> Tensor:
        # Missing pixels hold zeros in y, not noise: only observed pixels are measured.
        return randn(y.shape, generator=generator, like=y) * self.mask


class DenseOperator(SVDOperator):
    """Any ``m x n`` matrix (``m <= n``) through ``torch.linalg.svd``; for small problems and tests.

    The matrix acts on images flattened in (C, H, W) order; ``measurement_shape`` defaults to ``(m,)``.
    """

    def __init__(self, matrix: Tensor, input_shape: tuple[int, int, int], measurement_shape: tuple | None = None):
        super().__init__(input_shape)
        matrix = torch.as_tensor(matrix)
        m, n = matrix.shape
        if n != self.n:
            raise TaskError(f"matrix has {n} columns but images have {self.n} entries")
        if m > n:
            raise TaskError(f"DenseOperator needs m <= n, got a {m}x{n} matrix")
        self.measurement_shape = tuple(measurement_shape) if measurement_shape is not None else (m,)
        if self.m != m:
            raise TaskError(f"measurement_shape {self.measurement_shape} does not hold {m} entries")
        u, s, vh = torch.linalg.svd(matrix.double(), full_matrices=True)
        dtype = matrix.dtype if matrix.is_floating_point() else torch.get_default_dtype()
        s_full = torch.zeros(1, n, dtype=torch.float64)
        s_full[0, :m] = s
        self.register_buffer("u", u.to(dtype))
        self.register_buffer("v", vh.T.contiguous().to(dtype))
        self.register_buffer("s", s_full.to(dtype))

    def Vt(self, x: Tensor) -> Tensor:  # noqa: N802
        self._check_image(x)
        return x.reshape(x.shape[0], -1) @ self.v

    def V(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        return (z @ self.v.T).reshape(z.shape[0], *self.input_shape)

    def Ut(self, y: Tensor) -> Tensor:  # noqa: N802
        self._check_measurement(y)
        coeffs = y.reshape(y.shape[0], -1) @ self.u
        return torch.nn.functional.pad(coeffs, (0, self.n - self.m))

    def U(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        return (z[:, : self.m] @ self.u.T).reshape(z.shape[0], *self.measurement_shape)

    def singulars(self) -> Tensor:
        return self.s
