"""DDIM (Song, Meng, Ermon; ICLR 2021), unconditional: a sanity baseline that ignores the measurement.

Its samples show what the prior alone produces on the same noise levels; the consistency tests compare every
solver's ``||H x - y||`` against this one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..operators.base import Generators, LinearOperator, randn
from ..priors.base import Prior
from .common import StepInfo, ddim_step, noise_like, progress
from .registry import Param, sampler

__all__ = ["ddim"]


@sampler(
    "ddim",
    paper="Song, Meng, Ermon. Denoising Diffusion Implicit Models. ICLR 2021",
    summary="unconditional DDIM (ignores y): what the prior alone produces",
    params=(Param("eta", "DDIM stochasticity (Eq. 16): 0 deterministic, 1 DDPM ancestral", 0.0, 1.0),),
    consistency="none",
    noise="ignored (unconditional)",
    operators=(LinearOperator,),
)
@torch.no_grad()
def ddim(
    prior: Prior,
    operator: LinearOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 50,
    eta: float = 0.0,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """Draw ``x0`` from the prior with DDIM (Eq. 12); ``operator`` and ``y`` only fix the batch and image shape."""
    sigmas = prior.schedule.sigma_grid(steps).tolist()
    x = sigmas[0] * randn((y.shape[0], *operator.input_shape), generator=generator, like=y)
    for i in progress(range(steps), enabled=progress_bar, desc="ddim"):
        sig, sig_next = sigmas[i], sigmas[i + 1]
        x0 = prior.denoise(x, sig)
        z = noise_like(x, generator) if eta > 0 else None
        x_next = ddim_step(x0, (x - x0) / sig, z, sig, sig_next, eta)
        if callback is not None:
            callback(StepInfo(i, steps, sig, sig_next, x, x0))
        x = x_next
    return x
