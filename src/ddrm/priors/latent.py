"""Latent diffusion priors (Stable-Diffusion type): an autoencoder and a denoiser of its latents.

A :class:`LatentPrior` is a denoiser like every prior, but of latents: ``denoise(z, sigma) -> z0_hat`` in the VE
form of the latent diffusion (``z = z0 + sigma eps``, ``sigma`` in scaled-latent units, never comparable with an
image's ``sigma_y``), plus ``encode`` (image in [-1, 1] -> latent ``z = s (E(x) - shift)``) and ``decode``
(``x = D(z / s + shift)``). A measurement ``y = H x + n`` is nonlinear in the latent (``y = H D(z) + n``): the
pixel-space solvers, which need ``H`` linear in the diffusion variable, refuse a latent prior; the latent solvers
(:mod:`ddrm.samplers.latent`: PSLD, ReSample, latent DAPS) reach ``y`` through the decoder.

The network is a VP text-conditioned U-Net (diffusers' ``UNet2DConditionModel``: epsilon or v prediction) called on
a fixed text embedding ``context`` (the empty prompt's unless a prompt is given; classifier-free guidance
``out_u + g (out_c - out_u)`` with the empty prompt's embedding as ``out_u`` when ``guidance_scale`` is not 1).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..errors import TaskError
from .base import DiffusersModule, NetworkPrior, Prior
from .schedule import VPSchedule

__all__ = ["LatentPrior", "GuidedUNet"]


class GuidedUNet(DiffusersModule):
    """``net(z_t, t)`` of a text-conditioned U-Net on fixed embeddings: ``unet(z_t, t, context)``, or with
    classifier-free guidance (``guidance_scale != 1``) ``out_u + g (out_c - out_u)`` with ``uncond`` the unconditional
    embedding. Embeddings are (1, L, D) and broadcast over the batch."""

    def __init__(self, unet: nn.Module, context: Tensor, uncond: Tensor | None = None, guidance_scale: float = 1.0):
        super().__init__(unet)
        if guidance_scale != 1.0 and uncond is None:
            raise ValueError("classifier-free guidance needs the unconditional embedding")
        self.guidance_scale = float(guidance_scale)
        self.register_buffer("context", context.detach())
        self.register_buffer("uncond", uncond.detach() if uncond is not None else None)

    def forward(self, z: Tensor, t: Tensor) -> Tensor:
        b = z.shape[0]
        ctx = self.context.to(z.dtype).expand(b, -1, -1)
        if self.guidance_scale == 1.0:
            return self.unet(z, t, encoder_hidden_states=ctx).sample
        both = torch.cat([self.uncond.to(z.dtype).expand(b, -1, -1), ctx])
        out = self.unet(torch.cat([z, z]), torch.cat([t, t]), encoder_hidden_states=both).sample
        out_u, out_c = out.chunk(2)
        return out_u + self.guidance_scale * (out_c - out_u)


class LatentPrior(Prior):
    """A latent diffusion prior: ``vae`` (diffusers ``AutoencoderKL``-like: ``encode(x).latent_dist``,
    ``decode(z).sample``) with ``scaling_factor`` ``s`` and ``shift_factor``, and the latent denoiser of ``unet``
    on ``schedule`` (VP, ``prediction`` ``"epsilon"`` or ``"v_prediction"``) with the text embedding ``context``
    (and ``uncond``, ``guidance_scale`` for classifier-free guidance). ``downscale`` is the autoencoder's factor
    (8 for SD). ``compute_dtype`` runs the U-Net under autocast; the autoencoder keeps float32 (its half-precision
    decode overflows)."""

    latent = True

    def __init__(
        self,
        unet: nn.Module,
        vae: nn.Module,
        schedule: VPSchedule,
        *,
        context: Tensor,
        uncond: Tensor | None = None,
        guidance_scale: float = 1.0,
        prediction: str = "epsilon",
        scaling_factor: float = 0.18215,
        shift_factor: float = 0.0,
        latent_channels: int = 4,
        downscale: int = 8,
        image_size: tuple[int, int] | None = None,
        compute_dtype: torch.dtype | None = None,
    ):
        super().__init__(schedule)
        self.vae = vae
        self.denoiser = NetworkPrior(
            GuidedUNet(unet, context, uncond, guidance_scale),
            schedule,
            prediction=prediction,
            channels=latent_channels,
            compute_dtype=compute_dtype,
        )
        self.scaling_factor, self.shift_factor = float(scaling_factor), float(shift_factor)
        self.latent_channels, self.downscale = int(latent_channels), int(downscale)
        self.channels, self.image_size, self.stride = 3, image_size, self.downscale

    def latent_shape(self, image_shape: tuple[int, ...]) -> tuple[int, int, int]:
        """The latent's (C, H / f, W / f) of an image (C, H, W) whose sides are multiples of the factor ``f``."""
        c, h, w = image_shape[-3:]
        f = self.downscale
        if h % f or w % f or c != self.channels:
            raise TaskError(f"a latent prior with factor {f} takes {self.channels}-channel images whose sides are "
                            f"multiples of {f}, got {c}x{h}x{w}")  # fmt: skip
        return (self.latent_channels, h // f, w // f)

    def encode(self, x: Tensor, generator: Any = None) -> Tensor:
        """Image(s) in [-1, 1] -> scaled latents: the encoder's mean (its mode), or a draw with ``generator``."""
        dist = self.vae.encode(x).latent_dist
        z = dist.mode() if generator is None else dist.sample(generator=generator)
        return self.scaling_factor * (z - self.shift_factor)

    def decode(self, z: Tensor) -> Tensor:
        """Scaled latents -> images in [-1, 1] (not clamped: the solvers differentiate through it)."""
        return self.vae.decode(z / self.scaling_factor + self.shift_factor).sample

    def denoise(self, z: Tensor, sigma: Tensor | float) -> Tensor:
        """The latent MMSE estimate ``E[z0 | z0 + sigma eps = z]`` (VE form, scaled-latent units)."""
        return self.denoiser.denoise(z, sigma)

    def gradient_checkpointing(self, enabled: bool = True):  # noqa: ANN201
        return self.denoiser.gradient_checkpointing(enabled)
