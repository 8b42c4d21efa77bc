"""RePaint (Lugmayr, Danelljan, Romero, Yu, Timofte, Van Gool; "RePaint: Inpainting using Denoising Diffusion
Probabilistic Models", CVPR 2022). Inpainting only.

Algorithm 1: at each reverse step the known pixels come from the measurement noised to the new level,
``x_{t-1}^known ~ N(sqrt(abar_{t-1}) y, (1 - abar_{t-1}) I)`` (Eq. 8a), the unknown ones from the ancestral step
``x_{t-1}^unknown ~ p(x_{t-1} | x_t)`` (Eq. 8b), merged by the mask (Eq. 8c). Resampling ("jumps", Sec. 4.2): at
every ``jump_length``-th level the chain goes back ``jump_length`` levels by forward diffusion
``x_t ~ N(sqrt(1 - beta_t) x_{t-1}, beta_t I)``, ``jump_n_sample - 1`` times (:func:`jump_schedule`). The official
configuration (250 respaced steps, j = 10, r = 10) costs 2410 network evaluations. At the last step the known
pixels are ``y`` itself. The ancestral step uses the posterior variance ``beta_tilde``.

For another ``H`` the same merge in spectral coordinates is the range-space refinement of ``ilvr``.

Clamping: the official configs set ``clip_denoised: true``; ``x0_hat`` is clamped here too (``clip``, default on).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..operators.base import Generators, SVDOperator, randn
from ..operators.simple import Inpainting
from ..priors.base import Prior
from .common import StepInfo, ascending, ddim_step, jump_schedule, noise_like, progress, renoise, sigma_levels
from .ddnm import jump_nfe
from .registry import GRID_PARAM, Param, sampler
from .spectral import Spectral

__all__ = ["repaint"]


def _nfe(steps: int, jump_length: int, jump_n_sample: int, **_: object) -> int:
    return jump_nfe(steps, jump_length, jump_n_sample)


@sampler(
    "repaint",
    paper="Lugmayr et al. RePaint: Inpainting using Denoising Diffusion Probabilistic Models. CVPR 2022",
    summary="inpainting: known pixels from the noised measurement, unknown from the prior, resampling jumps",
    params=(
        GRID_PARAM,
        Param("jump_length", "resampling jump length j (levels)", 1, None),
        Param("jump_n_sample", "resampling count r (1 = no resampling)", 1, None),
        Param("clip", "clip x0_hat to [-1, 1] (the official clip_denoised: true)"),
    ),
    nfe=_nfe,
    operators=(Inpainting,),
    consistency="exact",
    noise="ignored: the known pixels are copied from y",
)
@torch.no_grad()
def repaint(
    prior: Prior,
    operator: SVDOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 250,
    grid: str = "auto",
    jump_length: int = 10,
    jump_n_sample: int = 10,
    clip: bool = True,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """RePaint (Algorithm 1) with the resampling schedule; ``operator`` must be an :class:`Inpainting`."""
    meas = Spectral(operator, y, sigma_y_model)
    sig = ascending(sigma_levels(prior.schedule, steps, operator, sigma_y_model, grid))
    levels = jump_schedule(steps, jump_length, jump_n_sample)
    total = jump_nfe(steps, jump_length, jump_n_sample)
    x = sig[levels[0]] * randn((y.shape[0], *operator.input_shape), generator=generator, like=y)
    done = 0
    for i, j in progress(zip(levels[:-1], levels[1:]), enabled=progress_bar, desc="repaint", total=len(levels) - 1):
        z = noise_like(x, generator)
        if j > i:  # resampling: one level of forward diffusion
            x = renoise(x, sig[i], sig[j], z)
            continue
        x0 = prior.denoise(x, sig[i])
        x0 = x0.clamp(-1.0, 1.0) if clip else x0  # the official configs' clip_denoised
        unknown = ddim_step(x0, (x - x0) / sig[i], z, sig[i], sig[j], 1.0)  # Eq. 8b, ancestral
        z_known = randn(meas.shape, generator=generator, like=meas.ut_y)
        x_next = meas.project(unknown, sig[j], z_known)  # Eq. 8a + 8c: known pixels = y noised to the new level
        if callback is not None:
            callback(StepInfo(done, total, sig[i], sig[j], x, x0))
        x, done = x_next, done + 1
    return x
