"""MMSE: the posterior mean of a denoising problem in one call of the prior's denoiser (Tweedie's formula).

For ``y = x + sigma_y z`` the prior's denoiser at level ``sigma_y`` is by definition the MMSE estimate
``E[x | y]`` (Robbins 1956; Efron 2011, "Tweedie's formula and selection bias"): no chain is needed, and no sampler
can beat it on average in PSNR with the same prior. It is the bar a restoration of a noisy image has to clear, and
what DDRM's noise-aware grid ends with on denoising (its last level is ``sigma_y``, where Eq. 7 takes ``y`` whole).
Defined for denoising only: for other operators the null space has no one-call estimate.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..errors import SolverError
from ..operators.base import Generators
from ..operators.simple import Denoising
from ..priors.base import Prior
from .common import StepInfo
from .registry import sampler

__all__ = ["mmse"]


@sampler(
    "mmse",
    paper="Efron. Tweedie's Formula and Selection Bias. JASA 2011 (Robbins 1956): E[x | y] is one denoiser call",
    summary="one call of the prior's denoiser at the measurement's noise level: the posterior mean (denoising)",
    operators=(Denoising,),
    consistency="exact",
    noise="the denoiser's level is sigma_y (sigma_y = 0 returns y)",
    deterministic=True,
)
@torch.no_grad()
def mmse(
    prior: Prior,
    operator: Denoising,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 1,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """``D(y, sigma_y_model)`` for ``y`` (B, C, H, W) in [-1, 1]; ``y`` itself when there is no noise. Deterministic
    (``generator`` is not used)."""
    if steps != 1:
        raise SolverError(f"solver mmse is one network call; steps must be 1, got {steps}")
    if sigma_y_model == 0:
        return y.clone()
    x0 = prior.denoise(y, sigma_y_model)
    if callback is not None:
        callback(StepInfo(0, 1, sigma_y_model, 0.0, y, x0))
    return x0
