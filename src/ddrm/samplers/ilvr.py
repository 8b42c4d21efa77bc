"""ILVR: iterative latent variable refinement (Choi, Kim, Jeong, Gwon, Yoon; ICCV 2021), generalised to any ``H``.

Algorithm 1: after each ancestral step, ``x_{t-1} = phi_N(y_{t-1}) + (I - phi_N)(x'_{t-1})`` where ``phi_N`` is a
low-pass filter (down- then up-sampling by N) and ``y_{t-1}`` the reference noised to level ``t - 1``. Here the
low-pass filter is replaced by the projection onto the row space of ``H``: ``phi = H^+ H``, and
``phi(y_{t-1})`` by ``H^+ y`` plus forward noise through ``H``, i.e. ``x <- x + H^+ (y_{t-1} - H x)``, which
sets the observed spectral coordinates to ``ybar + sigma_{t-1} z``. For ``H`` = block averaging this is ILVR with a
box filter (DDRM, App. H); for inpainting it is RePaint without resampling. Conditioning is applied on the steps
that start at timesteps ``t >= range_t`` (the README's image-translation example stops at 20; with
``range_t = 0``, the default for restoration, ``H x = y`` holds at the end). The ancestral step uses the
posterior variance ``beta_tilde``; the measurement noise is not modelled.

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

__all__ = ["ilvr"]


@sampler(
    "ilvr",
    paper="Choi et al. ILVR: Conditioning Method for Denoising Diffusion Probabilistic Models. ICCV 2021",
    summary="ancestral step, then the range-space refinement x <- x + H^+ (y_t - H x) (ILVR's low-pass for any H)",
    params=(
        GRID_PARAM,
        Param("range_t", "refine only on steps starting at timesteps t >= range_t (0..T)", 0, None),
    ),
    consistency="exact",
    noise="ignored: the refinement copies y's row-space content",
)
@torch.no_grad()
def ilvr(
    prior: Prior,
    operator: SVDOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 100,
    grid: str = "auto",
    range_t: int = 0,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """ILVR (Algorithm 1) with ``phi_N`` = ``H^+ H``."""
    meas = Spectral(operator, y, sigma_y_model)
    sigmas = sigma_levels(prior.schedule, steps, operator, sigma_y_model, grid)
    timesteps = prior.schedule.sigma_to_t(torch.tensor(sigmas[:-1])).tolist()
    x = sigmas[0] * randn((y.shape[0], *operator.input_shape), generator=generator, like=y)
    for i in progress(range(steps), enabled=progress_bar, desc="ilvr"):
        sig, sig_next = sigmas[i], sigmas[i + 1]
        x0 = prior.denoise(x, sig)
        x_next = ddim_step(x0, (x - x0) / sig, noise_like(x, generator), sig, sig_next, 1.0)  # x'_{t-1}
        z = randn(meas.shape, generator=generator, like=meas.ut_y)
        if timesteps[i] >= range_t:
            x_next = meas.project(x_next, sig_next, z)  # phi(y_{t-1}) + (I - phi) x'_{t-1}
        if callback is not None:
            callback(StepInfo(i, steps, sig, sig_next, x, x0))
        x = x_next
    return x
