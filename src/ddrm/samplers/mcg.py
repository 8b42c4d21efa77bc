"""Manifold-constrained gradients (Chung, Sim, Ryu, Ye; "Improving Diffusion Models for Inverse Problems using
Manifold Constraints", NeurIPS 2022), alone and inside DDRM.

``mcg`` (Algorithm 1, Eq. 11-13): an ancestral step, the gradient step of DPS (the official inpainting code uses
the non-squared norm ``||y - H x0_hat||`` with ``alpha = 1``, shared with :mod:`dps`), then the projection onto
``{x : H x = y_{t-1}}`` with the measurement noised to the new level. For a general ``H`` the projection replaces
the observed spectral coordinates by ``ybar + sigma_{t-1} z`` (the official code handles inpainting only, and
noises ``y`` to level ``t`` rather than ``t - 1``). The projection copies the noise of ``y`` into ``x``: MCG is a
noiseless method.

``ddrm+mcg``: a DDRM step (Eq. 7) followed by the manifold-constrained gradient on the null space, as in the DDRM
code path of NVlabs/RED-diff (``algos/mcg.py``): ``x_s <- x_s - w sqrt(abar_t) grad_{x_t^vp} ||H^+ y - H^+ H x0_hat||^2``
on the coordinates with ``s_i = 0``. In VE form the correction is ``w / sqrt(abar_s) grad_{x_ve}``; ``H^+`` in the
loss ignores singular values ``s_i <= sigma_y``. Proposed as an extension of DDRM; ``benchmarks/solvers.py``
measures whether it helps.

Clamping: the DPS step clamps ``x0_hat`` as DPS's ``clip_denoised`` (``clip``, default on).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..operators.base import Generators, SVDOperator, randn
from ..priors.base import Prior
from .common import StepInfo, denoise_vjp, noise_level_cutoff, noise_like, progress, sigma_levels
from .dps import DPS_PARAMS, guided_ancestral_step, residual_norm_cotangent
from .registry import GRID_PARAM, Param, sampler
from .spectral import EtaB, Spectral

__all__ = ["mcg", "ddrm_mcg"]

PAPER = "Chung, Sim, Ryu, Ye. Improving Diffusion Models for Inverse Problems using Manifold Constraints. NeurIPS 2022"


@sampler(
    "mcg",
    paper=PAPER,
    summary="DPS gradient step, then projection onto H x = y noised to the current level",
    params=(
        GRID_PARAM,
        Param("scale", "gradient step alpha (of the non-squared residual norm)", 0.0, None),
        *DPS_PARAMS,
    ),
    needs_grad=True,
    consistency="exact",
    noise="ignored: the projection imposes H x = y (unsuitable for noisy y)",
)
@torch.no_grad()
def mcg(
    prior: Prior,
    operator: SVDOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 1000,
    grid: str = "auto",
    scale: float = 1.0,
    clip: bool = True,
    checkpointing: bool = False,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """MCG (Algorithm 1) for any ``H`` with an SVD."""
    meas = Spectral(operator, y, sigma_y_model)
    sigmas = sigma_levels(prior.schedule, steps, operator, sigma_y_model, grid)
    x = sigmas[0] * randn((y.shape[0], *operator.input_shape), generator=generator, like=y)
    cotangent = residual_norm_cotangent(operator, y, clip)
    with prior.gradient_checkpointing(checkpointing):
        for i in progress(range(steps), enabled=progress_bar, desc="mcg"):
            sig, sig_next = sigmas[i], sigmas[i + 1]
            x_grad, x0 = guided_ancestral_step(
                prior, x, sig, sig_next, cotangent, scale, clip, noise_like(x, generator)
            )
            z = randn(meas.shape, generator=generator, like=meas.ut_y)
            x_next = meas.project(x_grad, sig_next, z)  # Eq. 13: onto H x = y_{t-1}
            if callback is not None:
                callback(StepInfo(i, steps, sig, sig_next, x, x0))
            x = x_next
    return x


@sampler(
    "ddrm+mcg",
    paper=PAPER + "; inside DDRM (Kawar et al. 2022) as in NVlabs/RED-diff algos/mcg.py",
    summary="a DDRM step (Eq. 7), then the manifold-constrained gradient on the null space",
    params=(
        GRID_PARAM,
        Param("eta", "DDRM's eta (Eq. 7)", 0.0, 1.0),
        Param("eta_b", "DDRM's eta_b (Eq. 7)", 0.0, 2.0),
        Param("w", "weight of the manifold-constrained gradient", 0.0, None),
        Param("checkpointing", "recompute network activations in the backward pass (less memory)"),
    ),
    needs_grad=True,
    consistency="exact",
    noise="as DDRM (Eq. 7); the gradient acts on the null space only",
)
@torch.no_grad()
def ddrm_mcg(
    prior: Prior,
    operator: SVDOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 20,
    grid: str = "auto",
    eta: float = 0.85,
    eta_b: EtaB = 1.0,
    w: float = 1.0,
    checkpointing: bool = False,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """DDRM with the MCG correction of the unobserved spectral coordinates after every step."""
    meas = Spectral(operator, y, sigma_y_model)
    sigmas = sigma_levels(prior.schedule, steps, operator, sigma_y_model, grid)
    xbar = meas.ddrm_init(sigmas[0], randn(meas.shape, generator=generator, like=meas.ut_y))
    unobserved = (~meas.observed).to(xbar.dtype)

    # H^+ on the coordinates above the noise level: with all of them, H^+ y amplifies the noise of y by up to
    # 1 / s_min and the gradient explodes (the reference's operators drop s < 3e-2 for deblurring)
    keep = operator.support(noise_level_cutoff(operator, sigma_y_model))
    pinv_weight = torch.where(keep, 1.0 / meas.s_safe, torch.zeros_like(meas.s))

    def cotangent(x0: Tensor) -> Tensor:
        return -2.0 * meas.weighted_residual(x0, pinv_weight)  # d/dx0 ||H^+ y - H^+ H x0||^2 = -2 H^+ (y - H x0)

    with prior.gradient_checkpointing(checkpointing):
        for i in progress(range(steps), enabled=progress_bar, desc="ddrm+mcg"):
            sig, sig_next = sigmas[i], sigmas[i + 1]
            x = meas.to_image(xbar)
            x0, grad = denoise_vjp(prior, x, sig, cotangent)
            z = randn(meas.shape, generator=generator, like=xbar)
            xbar = meas.ddrm_step(xbar, meas.to_spec(x0), sig, sig_next, eta, eta_b, z)
            xbar = xbar - (w * math.sqrt(1.0 + sig_next**2)) * unobserved * meas.to_spec(grad)
            if callback is not None:
                callback(StepInfo(i, steps, sig, sig_next, x, x0))
    return meas.to_image(xbar)
