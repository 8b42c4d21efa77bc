"""A denoiser applied tile by tile, so that images far above a network's training size fit in memory.

Only the denoiser is tiled: the solver, its operator and its spectral arithmetic stay global, so an SR or deblurring
measurement is still matched over the whole image. Overlapping tiles are denoised in batches and blended with a
window that rises linearly over the overlap (a partition of unity after normalisation), so seams do not show.
The network's receptive field and its GroupNorm statistics make a tile's result differ slightly from the untiled
call near tile borders; ``tests/test_models.py`` states how much for the built-in prior.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Prior, sigma_tensor

__all__ = ["TiledPrior", "tile_starts"]


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Offsets of tiles of length ``tile`` covering ``0..size`` with at least ``overlap`` shared samples."""
    if size <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step))
    return starts + [size - tile]


def _ramp(n: int, overlap: int, device, dtype) -> Tensor:
    """1-D blending weights of a tile of length ``n``: rising over ``overlap`` samples at both ends, 1 inside."""
    i = torch.arange(n, device=device, dtype=dtype)
    edge = torch.minimum(i + 0.5, n - i - 0.5)
    return (edge / max(overlap, 1)).clamp(max=1.0)


class TiledPrior(Prior):
    """``inner.denoise`` over overlapping ``tile`` x ``tile`` windows, ``batch`` tiles per network call.

    Images no larger than a tile go to ``inner`` unchanged. ``tile`` is rounded up to the inner prior's stride."""

    def __init__(self, inner: Prior, tile: int = 256, overlap: int = 64, batch: int = 4):
        super().__init__(inner.schedule)
        if tile < 8 or not 0 <= overlap < tile // 2 or batch < 1:
            raise ValueError(f"tiling needs tile >= 8, 0 <= overlap < tile / 2 and batch >= 1 (got {tile}, {overlap})")
        self.inner = inner
        self.channels, self.image_size, self.stride = inner.channels, inner.image_size, inner.stride
        self.tile = -(-tile // inner.stride) * inner.stride
        self.overlap, self.batch = overlap, batch

    @property
    def tile_pixels(self) -> int:
        """Pixels one network call sees at most (for the memory estimate)."""
        return self.tile * self.tile * self.batch

    def gradient_checkpointing(self, enabled: bool = True):
        return self.inner.gradient_checkpointing(enabled)

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        b, _, h, w = x.shape
        if h <= self.tile and w <= self.tile:
            return self.inner.denoise(x, sigma)
        sig = sigma_tensor(sigma, b)
        th, tw = min(self.tile, h), min(self.tile, w)
        win = _ramp(th, self.overlap, x.device, x.dtype)[:, None] * _ramp(tw, self.overlap, x.device, x.dtype)
        spots = [(i, j) for i in tile_starts(h, th, self.overlap) for j in tile_starts(w, tw, self.overlap)]
        weight = torch.zeros(h, w, device=x.device, dtype=x.dtype)
        for i, j in spots:
            weight[i : i + th, j : j + tw] += win
        jobs = [(n, i, j) for n in range(b) for i, j in spots]
        out = torch.zeros_like(x)
        for k in range(0, len(jobs), self.batch):
            chunk = jobs[k : k + self.batch]
            tiles = torch.stack([x[n, :, i : i + th, j : j + tw] for n, i, j in chunk])
            den = self.inner.denoise(tiles, sig[[n for n, _, _ in chunk]])
            for d, (n, i, j) in zip(den, chunk):
                out[n, :, i : i + th, j : j + tw] += d * win
        return out / weight
