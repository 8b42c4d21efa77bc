"""RED-diff: variational diffusion sampling (Mardani, Song, Kautz, Vahdat; "A Variational Perspective on Solving
Inverse Problems with Diffusion Models", ICLR 2024).

The posterior is approximated by a point mass at ``mu``, fitted by Adam (beta = 0.9, 0.99) while the timestep
sweeps from ``T`` to 0 (Algorithm 1). Each step draws ``x_t = sqrt(abar_t) mu + sqrt(1 - abar_t) eps`` and
descends ``||y - H mu||^2 / 2 + lambda sigma_t <sg(eps_hat - eps), mu>`` (Eq. 14, "linear" weighting, both terms
as means over an image's entries as the official code), whose gradient in VE terms is
``-H^T (y - H mu) / m + lambda (mu - D(mu + sigma_t eps, sigma_t)) / n``: regularisation by denoising with the
diffusion denoiser, and no network gradient. ``mu`` starts at ``H^+ y`` and is the output. The means are per image
(the official code averages over the batch too, which Adam almost cancels). ``sigma_y`` is not used in the loss.

Clamping: not checked against the official code; ``mu`` is not clamped here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..operators.base import Generators, SVDOperator
from ..priors.base import Prior
from .common import StepInfo, noise_like, per_image, pinv_start, progress, sigma_levels
from .registry import GRID_PARAM, Param, sampler

__all__ = ["red_diff"]

BETAS = (0.9, 0.99)  # the official Adam betas (second one lowered from torch's 0.999)
ADAM_EPS = 1e-8


@sampler(
    "red-diff",
    paper="Mardani, Song, Kautz, Vahdat. A Variational Perspective on Solving Inverse Problems with Diffusion Models. ICLR 2024",
    summary="Adam on mu: data fit + lambda sigma_t <eps_hat - eps, mu> (RED with the diffusion denoiser)",
    params=(
        GRID_PARAM,
        Param("lam", "weight lambda of the denoising regulariser", 0.0, None),
        Param("lr", "Adam learning rate", 0.0, None),
        Param("obs_weight", "weight of the data term", 0.0, None),
    ),
    consistency="approximate",
    noise="not modelled (the data term is unweighted); official runs use sigma_y in [0, 1] units, doubled",
)
@torch.no_grad()
def red_diff(
    prior: Prior,
    operator: SVDOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 50,
    grid: str = "auto",
    lam: float = 0.25,
    lr: float = 0.1,
    obs_weight: float = 1.0,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """RED-diff (Algorithm 1) with the official defaults (50 steps, Adam lr 0.1, lambda 0.25)."""
    sigmas = sigma_levels(prior.schedule, steps, operator, sigma_y_model, grid)[:-1]
    mu = pinv_start(operator, y, sigma_y_model)
    n = mu[0].numel()
    m = per_image(operator.support().expand(y.shape[0], -1).sum(-1).clamp_min(1), mu)  # measured entries per image
    first, second = torch.zeros_like(mu), torch.zeros_like(mu)
    for k in progress(range(steps), enabled=progress_bar, desc="red-diff"):
        sig = sigmas[k]
        x = mu + sig * noise_like(mu, generator)  # x_t / sqrt(abar_t), VE form
        x0 = prior.denoise(x, sig)
        # sigma_t (eps_hat - eps) = mu - D(x_t): Eq. 14's regulariser gradient
        grad = -obs_weight * operator.Ht(y - operator.H(mu)) / m + lam * (mu - x0) / n
        first.mul_(BETAS[0]).add_(grad, alpha=1 - BETAS[0])
        second.mul_(BETAS[1]).addcmul_(grad, grad, value=1 - BETAS[1])
        denom = (second / (1 - BETAS[1] ** (k + 1))).sqrt_().add_(ADAM_EPS)
        mu = mu - lr / (1 - BETAS[0] ** (k + 1)) * first / denom
        if callback is not None:
            callback(StepInfo(k, steps, sig, sigmas[k + 1] if k + 1 < steps else 0.0, x, x0))
    return mu
