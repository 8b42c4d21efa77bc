"""The supervised latent-diffusion x4 super-resolver (Rombach et al. 2022, LDM-BSR) through diffusers.

Uses the components of ``LDMSuperResolutionPipeline`` (``CompVis/ldm-super-resolution-4x-openimages`` or a local
folder saved by ``save_pretrained``) with its own sampling loop, so that every image has its own generator: the
pipeline's ``__call__`` passes no generator to ``scheduler.step`` and, with eta > 0, draws the DDIM noise from the
global RNG. The loop is the pipeline's: latents of the low-resolution size, ``unet([latents, y])`` with y in
[-1, 1] concatenated raw in pixel space, a DDIM step, then the VQ decoder (which quantises by default, as the
pipeline does) and a clamp. Needs ``pip install 'ddrm[diffusers]'``; the hub id needs the network once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from ..errors import CheckpointError, SetupError, TaskError

__all__ = ["SRLDM", "DEFAULT_MODEL"]

DEFAULT_MODEL = "CompVis/ldm-super-resolution-4x-openimages"


class SRLDM:
    def __init__(self, pipeline, device: torch.device):
        self.unet = pipeline.unet.to(device).eval()
        self.vqvae = pipeline.vqvae.to(device).eval()
        self.scheduler = pipeline.scheduler
        self.device = device

    @classmethod
    def load(cls, source: str = DEFAULT_MODEL, device: str | torch.device = "cpu") -> SRLDM:
        try:  # the module itself: diffusers hides the class from its top level unless transformers is installed
            from diffusers.pipelines.latent_diffusion.pipeline_latent_diffusion_superresolution import (
                LDMSuperResolutionPipeline,
            )
        except ImportError:
            raise SetupError("SRLDM needs diffusers: pip install 'ddrm[diffusers]'") from None
        local = Path(source).expanduser()
        try:
            pipe = LDMSuperResolutionPipeline.from_pretrained(str(local) if local.is_dir() else source)
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"SRLDM {source}: cannot load ({' '.join(str(exc).split())[:200]})") from None
        return cls(pipe, torch.device(device))

    @torch.no_grad()
    def restore(self, y01: Tensor, generators: Sequence[torch.Generator], steps: int = 100, eta: float = 1.0) -> Tensor:
        """x4 super-resolution of a batch (B, 3, h, w) in [0, 1] (h, w multiples of 8); returns (B, 3, 4h, 4w)."""
        b, c, h, w = y01.shape
        if c != 3 or h % 8 or w % 8:
            raise TaskError(f"SRLDM takes RGB inputs with sides divisible by 8, got {c}x{h}x{w}")
        if len(generators) != b:
            raise ValueError("one generator per image")
        lr = (2 * y01 - 1).to(self.device, self.unet.dtype)
        latent_ch = self.unet.config.in_channels - c
        sched = self.scheduler
        sched.set_timesteps(steps, device=self.device)
        outs = []
        for i in range(b):  # image by image: each with its own generator for the start and every DDIM step
            g = generators[i]
            lat = torch.randn((1, latent_ch, h, w), generator=g, device=g.device, dtype=torch.float32)
            lat = lat.to(self.device, self.unet.dtype) * sched.init_noise_sigma
            for t in sched.timesteps:
                inp = sched.scale_model_input(torch.cat([lat, lr[i : i + 1]], dim=1), t)
                eps = self.unet(inp, t).sample
                noise = torch.randn(lat.shape, generator=g, device=g.device, dtype=torch.float32).to(lat)
                lat = sched.step(eps, t, lat, eta=eta, variance_noise=noise).prev_sample
            img = self.vqvae.decode(lat).sample.clamp(-1, 1)
            outs.append((img.float() + 1) / 2)
        return torch.cat(outs)
