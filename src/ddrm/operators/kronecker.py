"""Separable operators ``H = A_c (x) A_h (x) A_w`` and their SVDs from 1-D SVDs.

Blur with separable kernels (zero boundary), bicubic and block downsampling, and colorization are all
Kronecker products of small matrices acting on the channel, row and column axes. The SVD of a Kronecker
product is the Kronecker product of the factors' SVDs, so only three tiny ``torch.linalg.svd`` calls are
needed, and applying ``V^T`` costs one small matrix product per axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ..errors import TaskError
from .base import SVDOperator

__all__ = [
    "Kronecker",
    "BlockSuperResolution",
    "conv_matrix_1d",
    "valid_conv_matrix_1d",
    "BOUNDARIES",
    "check_boundary",
    "bicubic_matrix_1d",
    "block_average_matrix_1d",
    "gaussian_kernel_1d",
    "bicubic_weight",
    "separable_blur",
    "bicubic_super_resolution",
    "colorization",
]

Factors = tuple[Tensor | None, Tensor | None, Tensor | None]


# ---------------------------------------------------------------------- 1-D building blocks
def gaussian_kernel_1d(sigma: float, radius: int) -> Tensor:
    """Samples of ``exp(-x^2 / (2 sigma^2))`` at ``x = -radius..radius``, normalised to sum 1."""
    if sigma <= 0 or radius < 0:
        raise TaskError("gaussian kernel needs sigma > 0 and radius >= 0")
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def conv_matrix_1d(kernel: Tensor, size: int) -> Tensor:
    """Matrix of the 'same'-size 1-D convolution ``out[i] = sum_t k[t] x[i + c - t]``, zero boundary.

    ``c = len(k) // 2`` is the kernel centre; every tap is kept (odd lengths only, so 'same' is symmetric).
    """
    k = torch.as_tensor(kernel, dtype=torch.float64).flatten()
    if k.numel() % 2 != 1:
        raise TaskError(f"1-D blur kernels must have odd length, got {k.numel()}")
    c = k.numel() // 2
    i = torch.arange(size)[:, None]
    j = torch.arange(size)[None, :]
    t = i + c - j
    valid = (t >= 0) & (t < k.numel())
    return torch.where(valid, k[t.clamp(0, k.numel() - 1)], torch.zeros((), dtype=torch.float64))


def valid_conv_matrix_1d(kernel: Tensor, size: int) -> Tensor:
    """Matrix of the 'valid' 1-D convolution of a signal of ``size`` samples: the ``size - len(k) + 1`` outputs whose
    taps all fall inside it, ``out[i] = sum_t k[t] x[i + len(k) - 1 - t]``; a real photo's blur, whose border pixels
    saw the scene beyond the frame (the unknown is larger than the measurement by ``len(k) - 1``)."""
    k = torch.as_tensor(kernel, dtype=torch.float64).flatten()
    if k.numel() > size:
        raise TaskError(f"a {k.numel()}-tap kernel leaves no valid output of a {size}-sample signal")
    t = torch.arange(size - k.numel() + 1)[:, None] + k.numel() - 1 - torch.arange(size)[None, :]
    valid = (t >= 0) & (t < k.numel())
    return torch.where(valid, k[t.clamp(0, k.numel() - 1)], torch.zeros((), dtype=torch.float64))


def circulant_matrix_1d(kernel: Tensor, size: int) -> Tensor:
    """Matrix of the circular 1-D convolution ``out[i] = sum_t k[t] x[(i + c - t) mod size]``, ``c = len(k) // 2``
    (odd lengths; the kernel must fit in ``size``)."""
    k = torch.as_tensor(kernel, dtype=torch.float64).flatten()
    if k.numel() % 2 != 1 or k.numel() > size:
        raise TaskError(f"1-D circular kernels must have odd length <= {size}, got {k.numel()}")
    c = k.numel() // 2
    t = (torch.arange(size)[:, None] + c - torch.arange(size)[None, :]) % size
    return torch.where(t < k.numel(), k[t.clamp(max=k.numel() - 1)], torch.zeros((), dtype=torch.float64))


def bicubic_weight(x: Tensor, a: float = -0.5) -> Tensor:
    """Keys' cubic convolution kernel with parameter ``a`` (a = -0.5 as PIL and antialiased torch)."""
    ax = x.abs()
    near = ((a + 2) * ax - (a + 3)) * ax * ax + 1
    far = ((a * ax - 5 * a) * ax + 8 * a) * ax - 4 * a
    return torch.where(ax <= 1, near, torch.where(ax < 2, far, torch.zeros_like(ax)))


def bicubic_matrix_1d(size: int, factor: int, a: float = -0.5) -> Tensor:
    """Antialiased bicubic downsampling by an integer ``factor`` (the kernel is stretched by ``factor``).

    Output pixel ``i`` is centred at ``(i + 0.5) * factor`` in input coordinates; weights are truncated at the
    border and each row renormalised to sum 1, as PIL's and torch's antialiased bicubic resize do.
    """
    if size % factor:
        raise TaskError(f"bicubic downsampling by {factor} needs sizes divisible by {factor}, got {size}")
    out = size // factor
    centre = (torch.arange(out, dtype=torch.float64)[:, None] + 0.5) * factor
    pos = torch.arange(size, dtype=torch.float64)[None, :] + 0.5
    w = bicubic_weight((pos - centre) / factor, a)
    return w / w.sum(dim=1, keepdim=True)


def block_average_matrix_1d(size: int, factor: int) -> Tensor:
    """Averaging of consecutive blocks of ``factor`` samples."""
    if size % factor:
        raise TaskError(f"block downsampling by {factor} needs sizes divisible by {factor}, got {size}")
    rows = torch.arange(size) // factor
    return (rows[None, :] == torch.arange(size // factor)[:, None]).double() / factor


def _svd_full(a: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    m, n = a.shape
    if m > n:
        raise TaskError(f"each Kronecker factor needs at most as many rows as columns, got {m}x{n}")
    u, s, vh = torch.linalg.svd(a.double(), full_matrices=True)
    return u, s, vh.T.contiguous()


def _apply_axes(x: Tensor, mats: Sequence[Tensor | None]) -> Tensor:
    """Multiply the channel, row and column axes of ``x`` (B, c, h, w) by ``mats`` (None = identity)."""
    mc, mh, mw = mats
    if mw is not None:
        x = x @ mw.T
    if mh is not None:
        x = mh @ x
    if mc is not None:
        x = torch.einsum("ij,bjhw->bihw", mc, x)
    return x


# ---------------------------------------------------------------------- the operator
class Kronecker(SVDOperator):
    """``H = A_c (x) A_h (x) A_w``: ``y[b] = A_h x_c A_w^T`` mixed over channels by ``A_c``.

    Each factor is a dense ``m_k x n_k`` matrix (``m_k <= n_k``) or ``None`` for the identity. The spectral
    layout is the image layout (C, H, W); measured coordinates are the leading ``m_c x m_h x m_w`` corner.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        channel: Tensor | None = None,
        rows: Tensor | None = None,
        cols: Tensor | None = None,
        *,
        dtype: torch.dtype | None = None,
    ):
        super().__init__(input_shape)
        dtype = dtype or torch.get_default_dtype()
        factors = (channel, rows, cols)
        sizes = []
        svals = []
        for name, axis_len, a in zip(("channel", "rows", "cols"), self.input_shape, factors):
            if a is None:
                self.register_buffer(f"u_{name}", None)
                self.register_buffer(f"v_{name}", None)
                self.register_buffer(f"a_{name}", None)
                sizes.append(axis_len)
                svals.append(torch.ones(axis_len, dtype=torch.float64))
                continue
            a = torch.as_tensor(a, dtype=torch.float64)
            if a.ndim != 2 or a.shape[1] != axis_len:
                raise TaskError(f"{name} factor of shape {tuple(a.shape)} does not act on an axis of length {axis_len}")
            u, s, v = _svd_full(a)
            self.register_buffer(f"u_{name}", u.to(dtype))
            self.register_buffer(f"v_{name}", v.to(dtype))
            self.register_buffer(f"a_{name}", a.to(dtype))
            sizes.append(a.shape[0])
            svals.append(s)
        self.measurement_shape = tuple(sizes)
        grid = torch.zeros(self.input_shape, dtype=torch.float64)
        mc, mh, mw = sizes
        grid[:mc, :mh, :mw] = svals[0][:, None, None] * svals[1][None, :, None] * svals[2][None, None, :]
        self.register_buffer("s", grid.reshape(1, -1).to(dtype))

    def _mats(self, kind: str, transpose: bool) -> list[Tensor | None]:
        out = []
        for name in ("channel", "rows", "cols"):
            m = getattr(self, f"{kind}_{name}")
            out.append(None if m is None else (m.T if transpose else m))
        return out

    def Vt(self, x: Tensor) -> Tensor:  # noqa: N802
        self._check_image(x)
        return _apply_axes(x, self._mats("v", True)).reshape(x.shape[0], -1)

    def V(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        return _apply_axes(z.reshape(z.shape[0], *self.input_shape), self._mats("v", False))

    def Ut(self, y: Tensor) -> Tensor:  # noqa: N802
        self._check_measurement(y)
        coeffs = _apply_axes(y, self._mats("u", True))
        c, h, w = self.input_shape
        mc, mh, mw = self.measurement_shape
        coeffs = torch.nn.functional.pad(coeffs, (0, w - mw, 0, h - mh, 0, c - mc))
        return coeffs.reshape(y.shape[0], -1)

    def U(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        mc, mh, mw = self.measurement_shape
        lead = z.reshape(z.shape[0], *self.input_shape)[:, :mc, :mh, :mw]
        return _apply_axes(lead, self._mats("u", False))

    def singulars(self) -> Tensor:
        return self.s

    def kron_factors(self) -> Factors:
        return (self.a_channel, self.a_rows, self.a_cols)


class BlockSuperResolution(SVDOperator):
    """Downsampling by averaging ``r x r`` blocks (DDRM's ``sr`` task), with a block-local SVD.

    Inside each block an orthonormal DCT-II basis ``Q`` (first vector constant) diagonalises the average:
    the only non-zero singular value per block is ``1/r``. Spectral layout (C, r, r, H/r, W/r); the
    measured coordinates are ``[:, 0, 0]``. Cost per call: two tiny ``r x r`` products per pixel.
    """

    def __init__(self, input_shape: tuple[int, int, int], factor: int, *, dtype: torch.dtype | None = None):
        super().__init__(input_shape)
        dtype = dtype or torch.get_default_dtype()
        c, h, w = self.input_shape
        if factor < 1 or h % factor or w % factor:
            raise TaskError(f"super-resolution factor {factor} must divide the image size {h}x{w}")
        self.factor = int(factor)
        self.measurement_shape = (c, h // factor, w // factor)
        r = self.factor
        a = torch.arange(r, dtype=torch.float64)[:, None]
        p = torch.arange(r, dtype=torch.float64)[None, :]
        q = torch.cos(math.pi * (a + 0.5) * p / r) * math.sqrt(2.0 / r)
        q[:, 0] = 1.0 / math.sqrt(r)
        self.register_buffer("q", q.to(dtype))
        # K[(a, d), (p, q)] = Q[a, p] Q[d, q]: the r^2 x r^2 basis of one block, applied by one matmul
        self.register_buffer("k", torch.kron(q, q).to(dtype))
        s = torch.zeros(c, r, r, h // r, w // r, dtype=torch.float64)
        s[:, 0, 0] = 1.0 / r
        self.register_buffer("s", s.reshape(1, -1).to(dtype))

    def Vt(self, x: Tensor) -> Tensor:  # noqa: N802
        self._check_image(x)
        b, c, h, w = x.shape
        r = self.factor
        blocks = x.reshape(b, c, h // r, r, w // r, r).permute(0, 1, 2, 4, 3, 5).reshape(b, c, h // r, w // r, r * r)
        return (blocks @ self.k).permute(0, 1, 4, 2, 3).reshape(b, -1)

    def V(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        c, h, w = self.input_shape
        r = self.factor
        coeffs = z.reshape(z.shape[0], c, r * r, h // r, w // r).permute(0, 1, 3, 4, 2)
        blocks = (coeffs @ self.k.T).reshape(z.shape[0], c, h // r, w // r, r, r)
        return blocks.permute(0, 1, 2, 4, 3, 5).reshape(z.shape[0], c, h, w)

    def Ut(self, y: Tensor) -> Tensor:  # noqa: N802
        self._check_measurement(y)
        c, h, w = self.input_shape
        r = self.factor
        out = y.new_zeros(y.shape[0], c, r, r, h // r, w // r)
        out[:, :, 0, 0] = y
        return out.reshape(y.shape[0], -1)

    def U(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        c, h, w = self.input_shape
        r = self.factor
        return z.reshape(z.shape[0], c, r, r, h // r, w // r)[:, :, 0, 0]

    def singulars(self) -> Tensor:
        return self.s

    def kron_factors(self) -> Factors:
        _, h, w = self.input_shape
        dtype = self.q.dtype
        return (
            None,
            block_average_matrix_1d(h, self.factor).to(dtype),
            block_average_matrix_1d(w, self.factor).to(dtype),
        )


# ---------------------------------------------------------------------- named constructors
BOUNDARIES = ("zero", "circular", "valid")


def check_boundary(boundary: str) -> str:
    """A blur's boundary model, checked: one of :data:`BOUNDARIES`."""
    if boundary not in BOUNDARIES:
        raise TaskError(f"unknown blur boundary {boundary!r}; choose from {', '.join(BOUNDARIES)}")
    return boundary


def separable_blur(
    input_shape: tuple[int, int, int],
    kernel_rows: Tensor,
    kernel_cols: Tensor | None = None,
    *,
    dtype=None,
    boundary: str = "zero",
) -> Kronecker:
    """Blur with the separable kernel ``k_rows k_cols^T``: ``boundary`` ``"zero"`` ('same' output size, the scene
    black beyond the frame: DDRM's protocol), ``"circular"`` (periodic) or ``"valid"`` (the measurement is the part of
    the blur that saw only the image: smaller by the kernel's size minus one, as a real photo's crop)."""
    _, h, w = input_shape
    kernel_cols = kernel_rows if kernel_cols is None else kernel_cols
    matrix = {"zero": conv_matrix_1d, "circular": circulant_matrix_1d, "valid": valid_conv_matrix_1d}[
        check_boundary(boundary)
    ]
    return Kronecker(input_shape, None, matrix(kernel_rows, h), matrix(kernel_cols, w), dtype=dtype)


def bicubic_super_resolution(
    input_shape: tuple[int, int, int], factor: int, a: float = -0.5, *, dtype=None
) -> Kronecker:
    """Antialiased bicubic downsampling by ``factor`` (matches ``F.interpolate(..., antialias=True)``)."""
    _, h, w = input_shape
    return Kronecker(input_shape, None, bicubic_matrix_1d(h, factor, a), bicubic_matrix_1d(w, factor, a), dtype=dtype)


def colorization(input_shape: tuple[int, int, int], *, dtype=None) -> Kronecker:
    """Grayscale as the mean of the colour channels; the measurement has one channel."""
    c = input_shape[0]
    return Kronecker(input_shape, torch.full((1, c), 1.0 / c, dtype=torch.float64), None, None, dtype=dtype)
