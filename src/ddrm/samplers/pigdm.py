"""PiGDM: pseudo-inverse guided diffusion (Song, Vahdat, Mardani, Kautz; ICLR 2023).

The likelihood of ``y`` given ``x_t`` is approximated by ``N(H x0_hat, r_t^2 H H^T + sigma_y^2 I)`` with
``r_t^2 = 1 - abar_t`` (Eq. 5-6, data assumed ~ N(0, I)), so its score is
``(dx0/dx_t)^T H^T (r_t^2 H H^T + sigma_y^2 I)^{-1} (y - H x0_hat)`` (Eq. 7-8): one vector-Jacobian product
through the denoiser. Through the SVD the middle factor is ``V diag(s / (r_t^2 s^2 + sigma_y^2)) U^T``, so the
noisy case needs no dense matrix; with ``sigma_y = 0`` it is ``H^+ / r_t^2`` ("pseudo-inverse guidance").

The guidance is weighted by ``r_t^2`` ("adaptive weight", as the reference implementation in NVlabs/RED-diff
``algos/pgdm.py``, which handles only ``sigma_y = 0``) and added to a DDIM step: in VP form
``x_s = DDIM(x0_hat, eps) + w sqrt(abar_s) sqrt(abar_t) g_vp``, which in VE coordinates is simply ``+ w g`` with
``g = (dx0/dx)^T V diag(r_t^2 s / (r_t^2 s^2 + sigma_y^2)) U^T (y - H x0_hat)``. The chain starts from ``H^+ y``
noised to the first level, as the reference code. ``eta = 1`` follows the paper's image experiments (the
reference config says 0; RED-diff issue #2); the paper's SR runs also start at t = 500, not reproduced here.

Clamping: not checked against the official code; ``x0_hat`` is used unclamped here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..operators.base import Generators, LinearOperator, SVDOperator, randn
from ..priors.base import Prior
from .common import StepInfo, ddim_step, denoise_vjp, noise_like, pinv_start, progress, sigma_levels
from .registry import GRID_PARAM, Param, sampler
from .spectral import Spectral

__all__ = ["pigdm"]


def guidance(operator: LinearOperator, y: Tensor, sigma_y_model: float) -> Callable[[Tensor, float], Tensor]:
    """``g(x0, r2) = r2 H^T (r2 H H^T + sigma_y^2 I)^{-1} (y - H x0)`` (Eq. 7's vector before the Jacobian). With an
    SVD it is ``V diag(r2 s / (r2 s^2 + sigma_y^2)) U^T (y - H x0)``, with ``U^T y`` computed once; without one, by the
    push-through identity, ``(H^T H + rho I)^{-1} H^T (y - H x0)`` with ``rho = sigma_y^2 / r2``: the prox of the
    residual at zero, by conjugate gradients. At ``sigma_y = 0`` both are ``H^+ (y - H x0)``."""
    if isinstance(operator, SVDOperator):
        meas = Spectral(operator, y, sigma_y_model)
        s2 = meas.s * meas.s

        def spectral(x0: Tensor, r2: float) -> Tensor:
            weight = r2 * meas.s / (r2 * s2 + sigma_y_model**2).clamp_min(torch.finfo(s2.dtype).tiny)
            return meas.weighted_residual(x0, weight)

        return spectral

    def iterative(x0: Tensor, r2: float) -> Tensor:
        return operator.prox(y - operator.H(x0), torch.zeros_like(x0), sigma_y_model**2 / r2)

    return iterative


@sampler(
    "pigdm",
    paper="Song, Vahdat, Mardani, Kautz. Pseudoinverse-Guided Diffusion Models for Inverse Problems. ICLR 2023",
    summary="pseudo-inverse guidance: VJP of V diag(s/(r^2 s^2 + sigma_y^2)) U^T (y - H x0) through the denoiser",
    params=(
        GRID_PARAM,
        Param("eta", "DDIM stochasticity (Eq. 16 of DDIM)", 0.0, 1.0),
        Param("w", "guidance weight", 0.0, None),
        Param("checkpointing", "recompute network activations in the backward pass (less memory)"),
    ),
    needs_grad=True,
    consistency="approximate",
    noise="in the likelihood covariance r_t^2 H H^T + sigma_y^2 I (Eq. 5); exact with an SVD, CG without",
    operators=(LinearOperator,),
)
@torch.no_grad()
def pigdm(
    prior: Prior,
    operator: LinearOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 100,
    grid: str = "auto",
    eta: float = 1.0,
    w: float = 1.0,
    checkpointing: bool = False,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """PiGDM (Algorithm 1) for noisy or noiseless linear ``H``."""
    sigmas = sigma_levels(prior.schedule, steps, operator, sigma_y_model, grid)
    noise = randn((y.shape[0], *operator.input_shape), generator=generator, like=y)
    x = pinv_start(operator, y, sigma_y_model) + sigmas[0] * noise  # H^+ y noised to the first level
    weighted = guidance(operator, y, sigma_y_model)
    with prior.gradient_checkpointing(checkpointing):
        for i in progress(range(steps), enabled=progress_bar, desc="pigdm"):
            sig, sig_next = sigmas[i], sigmas[i + 1]
            r2 = sig**2 / (1.0 + sig**2)  # r_t^2 = 1 - abar_t
            x0, g = denoise_vjp(prior, x, sig, lambda x0: weighted(x0, r2))  # noqa: B023
            z = noise_like(x, generator)
            x_next = ddim_step(x0, (x - x0) / sig, z, sig, sig_next, eta) + w * g  # Eq. 8, VE form
            if callback is not None:
                callback(StepInfo(i, steps, sig, sig_next, x, x0))
            x = x_next
    return x
