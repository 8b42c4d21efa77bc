"""Compressed sensing with a randomly permuted Walsh-Hadamard transform (DDRM's ``cs`` task)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import TaskError
from .base import SVDOperator

__all__ = ["WalshHadamardCS", "fwht"]

_CHUNK_BITS = 4  # apply H_N = H_16 (x) H_16 (x) ... as small dense products along reshaped axes


def _hadamard(size: int, dtype, device) -> Tensor:
    h = torch.ones(1, 1, dtype=dtype, device=device)
    while h.shape[0] < size:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


def fwht(x: Tensor) -> Tensor:
    """Orthonormal Walsh-Hadamard transform (Sylvester order) along the last axis, length a power of 2.

    The transform is symmetric and orthogonal, hence its own inverse.
    """
    n = x.shape[-1]
    bits = int(round(math.log2(n))) if n > 0 else -1
    if n < 1 or 2**bits != n:
        raise TaskError(f"Walsh-Hadamard transform needs a power-of-two length, got {n}")
    lead = x.shape[:-1]
    chunks = [_CHUNK_BITS] * (bits // _CHUNK_BITS) + ([bits % _CHUNK_BITS] if bits % _CHUNK_BITS else [])
    dims = [2**b for b in chunks]
    y = x.reshape(-1, *dims)
    for axis, d in enumerate(dims, start=1):
        h = _hadamard(d, x.dtype, x.device)
        y = torch.movedim(torch.movedim(y, axis, -1) @ h, -1, axis)
    return y.reshape(*lead, n) / math.sqrt(n)


class WalshHadamardCS(SVDOperator):
    """Keep the first ``H*W // ratio`` Walsh-Hadamard coefficients of each channel after a pixel permutation.

    ``V^T x = W P x`` per channel (orthogonal), ``s = 1`` on the kept coefficients, ``U = I``.
    Needs ``H*W`` to be a power of two. The permutation is drawn from ``generator`` unless given.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        ratio: int,
        *,
        permutation: Tensor | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ):
        super().__init__(input_shape)
        dtype = dtype or torch.get_default_dtype()
        c, h, w = self.input_shape
        npix = h * w
        if 2 ** int(round(math.log2(npix))) != npix:
            raise TaskError(f"compressed sensing needs H*W to be a power of two, got {h}x{w}")
        if ratio < 1 or npix % ratio:
            raise TaskError(f"compression ratio {ratio} must divide the pixel count {npix}")
        if permutation is None:
            gen_device = generator.device if generator is not None else "cpu"
            permutation = torch.randperm(npix, generator=generator, device=gen_device).cpu()
        permutation = torch.as_tensor(permutation, dtype=torch.long)
        if permutation.shape != (npix,) or not torch.equal(permutation.sort().values, torch.arange(npix)):
            raise TaskError("permutation must be a permutation of range(H*W)")
        self.ratio = int(ratio)
        self.kept = npix // ratio
        self.measurement_shape = (c, self.kept)
        self.register_buffer("perm", permutation)
        self.register_buffer("inv_perm", torch.argsort(permutation))
        s = torch.zeros(c, npix, dtype=dtype)
        s[:, : self.kept] = 1.0
        self.register_buffer("s", s.reshape(1, -1))

    def Vt(self, x: Tensor) -> Tensor:  # noqa: N802
        self._check_image(x)
        b, c = x.shape[:2]
        return fwht(x.reshape(b, c, -1)[..., self.perm]).reshape(b, -1)

    def V(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        c, h, w = self.input_shape
        pixels = fwht(z.reshape(z.shape[0], c, h * w))[..., self.inv_perm]
        return pixels.reshape(z.shape[0], c, h, w)

    def Ut(self, y: Tensor) -> Tensor:  # noqa: N802
        self._check_measurement(y)
        c, h, w = self.input_shape
        return torch.nn.functional.pad(y, (0, h * w - self.kept)).reshape(y.shape[0], -1)

    def U(self, z: Tensor) -> Tensor:  # noqa: N802
        self._check_spectral(z)
        c, h, w = self.input_shape
        return z.reshape(z.shape[0], c, h * w)[..., : self.kept]

    def singulars(self) -> Tensor:
        return self.s
