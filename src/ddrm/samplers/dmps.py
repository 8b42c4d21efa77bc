"""DMPS: diffusion model based posterior sampling (Meng, Kabashima; "Diffusion Model Based Posterior Sampling for
Noisy Linear Inverse Problems", 2022).

The uninformative-prior approximation ``p(x0 | x_t) ~ N(x_t / sqrt(abar_t), (1 - abar_t) / abar_t I)`` gives the
closed-form pseudo-likelihood ``p(y | x_t) ~ N(H x_t / sqrt(abar_t), sigma_y^2 I + sigma_t^2 H H^T)`` (Eq. 10-11,
``sigma_t^2 = (1 - abar_t) / abar_t``), whose score through the SVD is
``(1 / sqrt(abar_t)) V diag(s / (s^2 sigma_t^2 + sigma_y^2)) U^T (y - H x_t / sqrt(abar_t))`` (Eq. 12): no
network gradient. Algorithm 1 adds ``lambda (beta_t / sqrt(alpha_t))`` times it to the ancestral step. In VE
coordinates the factors collapse: ``beta_t / (sqrt(alpha_t) sqrt(abar_{t-1}) sqrt(abar_t)) = sigma_t^2 - sigma_{t-1}^2``,
so ``x_{t-1} = x'_{t-1} + lambda (sigma_t^2 - sigma_{t-1}^2) V diag(s / (s^2 sigma_t^2 + sigma_y^2)) U^T (y - H x_t)``,
an Euler step of the likelihood score. The score is taken at ``x_t`` as in the paper (the official code evaluates
it at the already-updated ``x'_{t-1}`` with ``abar_t``). The ancestral step uses the posterior variance.

Clamping: not checked against the official code; ``x0_hat`` is used unclamped here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..operators.base import Generators, SVDOperator, randn
from ..priors.base import Prior
from .common import StepInfo, ddim_step, noise_like, progress, sigma_levels
from .registry import GRID_PARAM, Param, sampler
from .spectral import Spectral

__all__ = ["dmps"]


@sampler(
    "dmps",
    paper="Meng, Kabashima. Diffusion Model Based Posterior Sampling for Noisy Linear Inverse Problems. 2022",
    summary="closed-form pseudo-likelihood score through the SVD (Eq. 12), no network gradient",
    params=(
        GRID_PARAM,
        Param("scale", "weight lambda of the likelihood score", 0.0, None),
    ),
    consistency="approximate",
    noise="in the pseudo-likelihood covariance sigma_y^2 I + sigma_t^2 H H^T; configs: sigma = 0.05 in [-1, 1] units",
)
@torch.no_grad()
def dmps(
    prior: Prior,
    operator: SVDOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 1000,
    grid: str = "auto",
    scale: float = 1.75,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """DMPS (Algorithm 1)."""
    meas = Spectral(operator, y, sigma_y_model)
    sigmas = sigma_levels(prior.schedule, steps, operator, sigma_y_model, grid)
    x = sigmas[0] * randn((y.shape[0], *operator.input_shape), generator=generator, like=y)
    s2 = meas.s * meas.s
    for i in progress(range(steps), enabled=progress_bar, desc="dmps"):
        sig, sig_next = sigmas[i], sigmas[i + 1]
        weight = meas.s / (s2 * sig**2 + sigma_y_model**2).clamp_min(torch.finfo(s2.dtype).tiny)
        score = meas.weighted_residual(x, weight)  # Eq. 12 at x_t, VE form
        x0 = prior.denoise(x, sig)
        x_next = ddim_step(x0, (x - x0) / sig, noise_like(x, generator), sig, sig_next, 1.0)  # x'_{t-1}
        x_next = x_next + scale * (sig**2 - sig_next**2) * score
        if callback is not None:
            callback(StepInfo(i, steps, sig, sig_next, x, x0))
        x = x_next
    return x
