"""The prior interface: every prior is a denoiser ``D(x, sigma) -> x0_hat``.

``x = x0 + sigma * eps`` is in the VE parameterisation (DDRM Sec. 3.2) and in the data range [-1, 1].
Network priors hide everything else behind this call: the eps / x0 / v parameterisation, the VP input
scaling ``sqrt(abar_t) = 1 / sqrt(1 + sigma^2)``, the timestep lookup and any learned-variance channels
(the denoiser view of k-diffusion's ``DiscreteEpsDDPMDenoiser`` and EDM's ``iDDPMPrecond``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .schedule import VPSchedule

__all__ = ["Prior", "NetworkPrior", "sigma_tensor"]


def sigma_tensor(sigma: Tensor | float, batch: int) -> Tensor:
    """Noise levels as a float64 tensor of shape (batch,)."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64).detach().cpu()
    if sigma.ndim == 0:
        sigma = sigma.expand(batch)
    if sigma.shape != (batch,):
        raise ValueError(f"sigma must be a scalar or have shape ({batch},), got {tuple(sigma.shape)}")
    if (sigma < 0).any() or not torch.isfinite(sigma).all():
        raise ValueError("sigma must be finite and >= 0")
    return sigma


class Prior(nn.Module):
    """A denoiser on images in [-1, 1]. Subclasses implement :meth:`denoise`.

    ``schedule`` gives the noise levels a sampler should visit (the ones a network was trained on);
    analytic priors accept any level and default to DDPM's linear schedule.
    ``image_size`` is the native (H, W) or ``None`` when the prior takes any size; ``stride`` is the
    size multiple the prior needs; ``fixed_size``: the prior is defined on ``image_size`` only (an analytic prior's
    mean and covariance), where a network also runs on other sizes.
    """

    channels: int = 3
    image_size: tuple[int, int] | None = None
    stride: int = 1
    fixed_size: bool = False

    def __init__(self, schedule: VPSchedule | None = None):
        super().__init__()
        self.schedule = schedule or VPSchedule.linear()

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        """MMSE estimate ``E[x0 | x0 + sigma eps = x]`` (or a network's approximation of it)."""
        raise NotImplementedError

    def forward(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        return self.denoise(x, sigma)

    @contextmanager
    def gradient_checkpointing(self, enabled: bool = True) -> Iterator[bool]:
        """Within the block, backpropagation through :meth:`denoise` recomputes activations instead of storing
        them, where the prior supports it (yields whether it does); analytic priors store nothing to begin with."""
        yield False


class NetworkPrior(Prior):
    """Wrap a discrete-time diffusion network ``net(x_t, t)`` (t in 0..T-1) as a denoiser.

    ``prediction`` is ``"epsilon"`` (DDPM/ADM), ``"sample"`` (x0) or ``"v_prediction"``. Output channels beyond
    ``channels`` (ADM's learned variance) are dropped. ``compute_dtype`` (``torch.float16`` or ``torch.bfloat16``,
    for GPUs) runs the network under autocast in that precision; weights, inputs and outputs keep theirs. Images whose sides are not
    multiples of ``stride`` are reflect-padded for the network and cropped back.
    ``clip_x0`` clamps the clean-image estimate to the data range [-1, 1] (DDPM's ``clip_denoised``); it is off
    by default, as the papers run the public checkpoints without it (the built-in prior's manifest sets it).
    """

    def __init__(
        self,
        net: nn.Module,
        schedule: VPSchedule | None = None,
        *,
        prediction: str = "epsilon",
        channels: int = 3,
        image_size: tuple[int, int] | None = None,
        stride: int = 1,
        compute_dtype: torch.dtype | None = None,
        clip_x0: bool = False,
    ):
        super().__init__(schedule)
        if prediction not in ("epsilon", "sample", "v_prediction"):
            raise ValueError(f"unknown prediction type {prediction!r}")
        self.net = net
        self.prediction = prediction
        self.channels = channels
        self.image_size = image_size
        self.stride = stride
        self.compute_dtype = compute_dtype
        self.clip_x0 = clip_x0

    @contextmanager
    def gradient_checkpointing(self, enabled: bool = True) -> Iterator[bool]:
        supported = hasattr(self.net, "gradient_checkpointing")
        before = getattr(self.net, "gradient_checkpointing", False)
        if supported:
            self.net.gradient_checkpointing = enabled
        try:
            yield supported
        finally:
            if supported:
                self.net.gradient_checkpointing = before

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        b, _, h, w = x.shape
        sig64 = sigma_tensor(sigma, b)
        t = self.schedule.sigma_to_t(sig64).to(device=x.device, dtype=torch.float32)
        sig = sig64.to(device=x.device, dtype=x.dtype).view(b, 1, 1, 1)
        scale = (1.0 + sig * sig).rsqrt()  # sqrt(abar_t)
        x_t = x * scale
        pad_h, pad_w = (-h) % self.stride, (-w) % self.stride
        if pad_h or pad_w:
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x_t = F.pad(x_t, (0, pad_w, 0, pad_h), mode=mode)
        with torch.autocast(x.device.type, dtype=self.compute_dtype, enabled=self.compute_dtype is not None):
            out = self.net(x_t, t)
        out = out[:, : self.channels, :h, :w].to(x.dtype)
        if self.prediction == "epsilon":
            x0 = x - sig * out
        elif self.prediction == "sample":
            x0 = out
        else:  # v = sqrt(abar) eps - sqrt(1 - abar) x0  =>  x0 = sqrt(abar) x_t - sqrt(1 - abar) v
            x0 = scale * x_t[:, :, :h, :w] - sig * scale * out
        return x0.clamp(-1, 1) if self.clip_x0 else x0
