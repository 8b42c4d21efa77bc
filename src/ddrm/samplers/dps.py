"""DPS: diffusion posterior sampling (Chung, Kim, Mccann, Klasky, Ye; ICLR 2023).

Algorithm 1: an ancestral DDPM step ``x'_{t-1} ~ p(x_{t-1} | x_t)`` followed by
``x_{t-1} = x'_{t-1} - zeta_t grad_{x_t} ||y - H x0_hat(x_t)||^2`` with ``zeta_t = zeta' / ||y - H x0_hat||``.
As the official code, this takes the gradient of the non-squared norm with a constant ``scale``
(``scale grad ||r|| = (scale / 2) / ||r|| grad ||r||^2``, DPS issues #6, #20), but per image (issue #12: the
official norm spans the whole batch, so a result depended on its batch).

VE form: ``grad_{x_vp} = grad_{x_ve} / sqrt(abar_t)`` and the iterate scales by ``1 / sqrt(abar_{t-1})``, so the
correction is ``scale sqrt((1 + sigma_t^2)(1 + sigma_{t-1}^2)) grad_{x_ve} ||r||``; one vector-Jacobian product
through the denoiser per step. ``x0_hat`` is clipped to [-1, 1] (the official ``clip_denoised``) for both the
step and the residual. The ancestral step uses the posterior variance ``beta_tilde`` (our priors drop ADM's learned
variance). ``sigma_y`` enters only through the data: DPS's configs add sigma = 0.05 in [-1, 1] units, i.e.
0.025 in [0, 1] units. With fewer than 1000 steps the schedule is respaced (``floor(i T / steps)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..operators.base import Generators, LinearOperator, randn
from ..priors.base import Prior
from .common import StepInfo, batch_norm, ddim_step, denoise_vjp, noise_like, progress, sigma_levels
from .registry import GRID_PARAM, Param, sampler

__all__ = ["dps", "residual_norm_cotangent", "DPS_PARAMS"]

DPS_PARAMS = (
    Param("clip", "clip x0_hat to [-1, 1] (official clip_denoised)"),
    Param("checkpointing", "recompute network activations in the backward pass (less memory)"),
)


def residual_norm_cotangent(operator: LinearOperator, y: Tensor, clip: bool) -> Callable[[Tensor], Tensor]:
    """``x0 -> d||y - H c(x0)|| / dx0`` per image, ``c`` = clipping to [-1, 1] or the identity."""

    def cotangent(x0: Tensor) -> Tensor:
        xc = x0.clamp(-1.0, 1.0) if clip else x0
        r = y - operator.H(xc)
        c = -operator.Ht(r / batch_norm(r).clamp_min(torch.finfo(r.dtype).tiny))
        return c * (x0.abs() <= 1.0) if clip else c

    return cotangent


def guided_ancestral_step(
    prior: Prior,
    x: Tensor,
    sig: float,
    sig_next: float,
    cotangent: Callable[[Tensor], Tensor],
    scale: float,
    clip: bool,
    z: Tensor,
) -> tuple[Tensor, Tensor]:
    """DPS's Algorithm 1 body in VE form: ancestral step from the (clipped) ``x0_hat`` minus the scaled gradient.

    Returns the next iterate and ``x0_hat``. Shared with MCG, whose step 2 is this one."""
    x0, grad = denoise_vjp(prior, x, sig, cotangent)
    x0c = x0.clamp(-1.0, 1.0) if clip else x0
    x_prime = ddim_step(x0c, (x - x0c) / sig, z, sig, sig_next, 1.0)  # x'_{t-1} ~ p(x_{t-1} | x_t)
    factor = scale * math.sqrt((1.0 + sig**2) * (1.0 + sig_next**2))  # VP -> VE conversion of the gradient step
    return x_prime - factor * grad, x0


@sampler(
    "dps",
    paper="Chung, Kim, Mccann, Klasky, Ye. Diffusion Posterior Sampling for General Noisy Inverse Problems. ICLR 2023",
    summary="ancestral DDPM + gradient of ||y - H x0_hat(x_t)|| through the network, per image",
    params=(GRID_PARAM, Param("scale", "step size zeta (of the non-squared residual norm)", 0.0, None), *DPS_PARAMS),
    task_defaults={"inpaint": {"scale": 0.5}},
    needs_grad=True,
    consistency="approximate",
    noise="not modelled (the step size absorbs it); configs use sigma = 0.05 in [-1, 1] units",
    operators=(LinearOperator,),
)
@torch.no_grad()
def dps(
    prior: Prior,
    operator: LinearOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 1000,
    grid: str = "auto",
    scale: float = 0.3,
    clip: bool = True,
    checkpointing: bool = False,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """DPS (Algorithm 1, Gaussian noise) with the official per-task step sizes."""
    sigmas = sigma_levels(prior.schedule, steps, operator, sigma_y_model, grid)
    x = sigmas[0] * randn((y.shape[0], *operator.input_shape), generator=generator, like=y)
    cotangent = residual_norm_cotangent(operator, y, clip)
    with prior.gradient_checkpointing(checkpointing):
        for i in progress(range(steps), enabled=progress_bar, desc="dps"):
            sig, sig_next = sigmas[i], sigmas[i + 1]
            x_next, x0 = guided_ancestral_step(
                prior, x, sig, sig_next, cotangent, scale, clip, noise_like(x, generator)
            )
            if callback is not None:
                callback(StepInfo(i, steps, sig, sig_next, x, x0))
            x = x_next
    return x
