"""The prior of a run, loaded once: by name (``load_prior``), or the analytic Gaussian built per image shape, tiled
for large images."""

from __future__ import annotations

import torch

from ..checkpoints import load_prior
from ..errors import InputError
from ..priors import GaussianPrior, Prior, TiledPrior

__all__ = ["PriorLoader", "AUTO_TILE_PIXELS", "DEFAULT_TILE"]

AUTO_TILE_PIXELS = 1024 * 1024  # above this many pixels per image the denoiser is tiled unless told otherwise
DEFAULT_TILE = 256


class PriorLoader:
    """Loads the chosen prior once (the analytic ``"gaussian"`` prior is built per image shape)."""

    def __init__(
        self,
        name: str,
        checkpoint: str | None = None,
        device: str | torch.device = "cpu",
        compute_dtype: torch.dtype | None = None,
        tile: int | None = None,
        prompt: str | None = None,
        guidance_scale: float = 1.0,
    ):
        """``tile``: ``None`` tiles the denoiser (:class:`~ddrm.priors.TiledPrior`, 256 px tiles) for images above
        ``AUTO_TILE_PIXELS``; ``0`` never tiles; ``N`` always tiles with N px tiles (a latent prior is never
        tiled: its denoiser works on latents). ``prompt`` and ``guidance_scale``: a latent prior's text condition."""
        self.name, self.checkpoint, self.device, self.compute_dtype = name, checkpoint, device, compute_dtype
        self.prompt, self.guidance_scale = prompt, guidance_scale
        if tile is not None and (tile < 0 or 0 < tile < 16):
            raise InputError(f"tile size must be 0 (off) or >= 16 pixels, got {tile}")
        self.tile = tile
        self.cache: dict = {}

    def __call__(self, shape: tuple[int, int, int]) -> Prior:
        if self.name == "gaussian":
            if shape not in self.cache:
                self.cache[shape] = GaussianPrior.stationary(
                    shape, variance=0.25, length=2.0, mean=torch.zeros(shape), dtype=torch.float32
                ).to(self.device)
            return self.cache[shape]
        if "net" not in self.cache:
            self.cache["net"] = load_prior(
                self.name,
                self.checkpoint,
                device=self.device,
                compute_dtype=self.compute_dtype,
                prompt=self.prompt,
                guidance_scale=self.guidance_scale,
            )
        if getattr(self.cache["net"], "latent", False):
            return self.cache["net"]
        tile = self.tile
        if tile is None:
            tile = DEFAULT_TILE if shape[1] * shape[2] > AUTO_TILE_PIXELS else 0
        if not tile:
            return self.cache["net"]
        if ("tiled", tile) not in self.cache:
            self.cache["tiled", tile] = TiledPrior(self.cache["net"], tile, overlap=tile // 4)
        return self.cache["tiled", tile]
