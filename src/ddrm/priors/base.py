"""The prior interface: every prior is a denoiser ``D(x, sigma) -> x0_hat``.

``x = x0 + sigma * eps`` is in the VE parameterisation (DDRM Sec. 3.2) and in the data range [-1, 1].
Network priors hide everything else behind this call: the eps / x0 / v parameterisation, the VP input
scaling ``sqrt(abar_t) = 1 / sqrt(1 + sigma^2)``, the timestep lookup and any learned-variance channels
(the denoiser view of k-diffusion's ``DiscreteEpsDDPMDenoiser`` and EDM's ``iDDPMPrecond``); the other families
(VE score networks, EDM preconditioning, flow matching) are in :mod:`ddrm.priors.families`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .schedule import NoiseSchedule, VPSchedule

__all__ = ["Prior", "NetworkDenoiser", "NetworkPrior", "DiffusersModule", "sigma_tensor", "levels_on"]


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


def levels_on(levels: Tensor, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Host noise levels (:func:`sigma_tensor`'s) placed on ``device`` in ``dtype``, with no host synchronisation on
    an accelerator: one level for the whole batch (every sampler's case) becomes a fill on the device, different levels
    an asynchronous copy from pinned memory (a copy from ordinary host memory synchronises, once per network call)."""
    if device.type == "cpu":
        return levels.to(dtype)
    if bool((levels == levels[0]).all()):
        return torch.full(levels.shape, float(levels[0]), device=device, dtype=dtype)
    if device.type == "cuda":
        return levels.to(dtype).pin_memory().to(device, non_blocking=True)
    return levels.to(device=device, dtype=dtype)


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

    def __init__(self, schedule: NoiseSchedule | None = None):
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


class DiffusersModule(nn.Module):
    """A wrapper of a diffusers model (``self.unet``) whose ``gradient_checkpointing`` switches the model's own
    (``enable_gradient_checkpointing`` / ``disable_gradient_checkpointing``, where it supports them)."""

    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet

    @property
    def gradient_checkpointing(self) -> bool:
        return bool(getattr(self.unet, "gradient_checkpointing", False))

    @gradient_checkpointing.setter
    def gradient_checkpointing(self, enabled: bool) -> None:
        method = "enable_gradient_checkpointing" if enabled else "disable_gradient_checkpointing"
        if getattr(self.unet, "_supports_gradient_checkpointing", False) and hasattr(self.unet, method):
            getattr(self.unet, method)()


class NetworkDenoiser(Prior):
    """What every network prior shares: the network ``net(x_in, cond)``, its channels, native size and stride,
    half-precision autocast and the optional clamp of ``x0``. :meth:`_network` runs the network on an input
    reflect-padded to a multiple of ``stride`` (cropped back, extra output channels dropped); subclasses turn
    ``(x, sigma)`` into the network's input and condition and its output into ``x0``.

    ``compute_dtype`` (``torch.float16`` or ``torch.bfloat16``, for GPUs) runs the network under autocast in that
    precision; weights, inputs and outputs keep theirs. ``clip_x0`` clamps the clean-image estimate to the data
    range [-1, 1] (DDPM's ``clip_denoised``) for every solver; it is off by default: the solvers whose official code
    clamps ``x0_hat`` (DPS and MCG, DiffPIR's ``model_fn``, RePaint's configs: ``clip_denoised=True``) do it
    themselves through their ``clip`` parameter; the others run on the unclamped estimate unless the prior is given
    ``clip_x0`` (the built-in prior's manifest sets it)."""

    def __init__(
        self,
        net: nn.Module,
        schedule: NoiseSchedule | None = None,
        *,
        channels: int = 3,
        image_size: tuple[int, int] | None = None,
        stride: int = 1,
        compute_dtype: torch.dtype | None = None,
        clip_x0: bool = False,
    ):
        super().__init__(schedule)
        self.net = net
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

    def _network(self, x_in: Tensor, cond: Tensor) -> Tensor:
        """``net(x_in, cond)`` on the stride-padded input, cropped back to ``x_in``'s size and ``channels``."""
        h, w = x_in.shape[-2:]
        pad_h, pad_w = (-h) % self.stride, (-w) % self.stride
        if pad_h or pad_w:
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x_in = F.pad(x_in, (0, pad_w, 0, pad_h), mode=mode)
        with torch.autocast(x_in.device.type, dtype=self.compute_dtype, enabled=self.compute_dtype is not None):
            out = self.net(x_in, cond)
        return out[:, : self.channels, :h, :w].to(x_in.dtype)

    def _finish(self, x0: Tensor) -> Tensor:
        return x0.clamp(-1, 1) if self.clip_x0 else x0


class NetworkPrior(NetworkDenoiser):
    """Wrap a discrete-time VP diffusion network ``net(x_t, t)`` (t in 0..T-1) as a denoiser.

    ``prediction`` is ``"epsilon"`` (DDPM/ADM), ``"sample"`` (x0) or ``"v_prediction"``. Output channels beyond
    ``channels`` (ADM's learned variance) are dropped. Images whose sides are not multiples of ``stride`` are
    reflect-padded for the network and cropped back; ``compute_dtype`` and ``clip_x0`` as in
    :class:`NetworkDenoiser`.
    """

    def __init__(
        self,
        net: nn.Module,
        schedule: VPSchedule | None = None,
        *,
        prediction: str = "epsilon",
        **kw,
    ):
        super().__init__(net, schedule or VPSchedule.linear(), **kw)
        if prediction not in ("epsilon", "sample", "v_prediction"):
            raise ValueError(f"unknown prediction type {prediction!r}")
        if not isinstance(self.schedule, VPSchedule):
            raise ValueError("a VP network needs a VPSchedule (its betas give the timestep of each level)")
        self.prediction = prediction

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        b = x.shape[0]
        sig64 = sigma_tensor(sigma, b)
        t = levels_on(self.schedule.sigma_to_t(sig64), x.device, torch.float32)
        sig = levels_on(sig64, x.device, x.dtype).view(b, 1, 1, 1)
        scale = (1.0 + sig * sig).rsqrt()  # sqrt(abar_t)
        x_t = x * scale
        out = self._network(x_t, t)
        if self.prediction == "epsilon":
            x0 = x - sig * out
        elif self.prediction == "sample":
            x0 = out
        else:  # v = sqrt(abar) eps - sqrt(1 - abar) x0  =>  x0 = sqrt(abar) x_t - sqrt(1 - abar) v
            x0 = scale * x_t - sig * scale * out
        return self._finish(x0)
