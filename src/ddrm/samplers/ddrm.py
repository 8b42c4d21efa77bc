"""DDRM: Denoising Diffusion Restoration Models (Kawar, Elad, Ermon, Song; NeurIPS 2022).

The diffusion runs in the spectral space of ``H = U S V^T``: with ``xbar = V^T x`` and
``ybar = S^+ U^T y``, each coordinate is updated by one of three Gaussians (Eq. 7) depending on whether it
is unobserved (``s_i = 0``), observed with more noise than the current level (``sigma_t < sigma_y / s_i``)
or with less (``sigma_t >= sigma_y / s_i``). The chain starts from Eq. 8 and ends at ``sigma = 0``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..operators.base import Generators, SVDOperator, randn
from ..priors.base import Prior
from ..priors.schedule import VPSchedule
from .common import StepInfo, check_inputs, progress

__all__ = ["ddrm", "posterior_eta_b"]

EtaB = float | Callable[[float, float, Tensor], Tensor]


def posterior_eta_b(sigma_t: float, sigma_y: float, s: Tensor) -> Tensor:
    """Theorem 1's ``eta_b = 2 sigma_t^2 / (sigma_t^2 + sigma_y^2 / s_i^2)`` (with ``eta = 1``), for which the
    DDRM objective equals the DDPM one; written as ``2 (sigma_t s)^2 / ((sigma_t s)^2 + sigma_y^2)``."""
    a = (sigma_t * s) ** 2
    return 2 * a / (a + sigma_y**2).clamp_min(torch.finfo(s.dtype).tiny)


@torch.no_grad()
def ddrm(
    prior: Prior,
    operator: SVDOperator,
    y: Tensor,
    sigma_y: float,
    *,
    steps: int = 20,
    eta: float = 0.85,
    eta_b: EtaB = 1.0,
    schedule: VPSchedule | None = None,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """Sample ``x0 ~ p(x | y)`` approximately with DDRM; returns images (B, C, H, W) in [-1, 1] units.

    ``y`` and ``sigma_y`` are in the prior's data range ([-1, 1]). ``eta_b`` is a float or a function
    ``(sigma_t, sigma_y, s) -> tensor`` (e.g. :func:`posterior_eta_b`). ``y`` is never modified.
    """
    check_inputs(operator, y, sigma_y)
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must lie in [0, 1], got {eta}")
    sigmas = (schedule or prior.schedule).sigma_grid(steps).tolist()
    s = operator.singulars().to(y.dtype)
    observed = operator.support()
    s_safe = torch.where(observed, s, torch.ones_like(s))
    ut_y = operator.Ut(y)
    ybar = torch.where(observed, ut_y / s_safe, torch.zeros_like(ut_y))  # ybar = S^+ U^T y
    nu2 = torch.where(observed, (sigma_y / s_safe) ** 2, torch.full_like(s, float("inf")))  # (sigma_y / s_i)^2
    nu2_obs = torch.where(observed, nu2, torch.zeros_like(nu2))  # finite copy for arithmetic
    shape = ut_y.shape
    # Float masks and y-terms computed once; the loop below then needs only cheap fused arithmetic.
    # (with sigma_y = 0 every observed coordinate is in case 3, so the case-2 terms stay zero)
    inv_sy = 1.0 / sigma_y if sigma_y > 0 else 0.0
    unobserved = (~observed).to(y.dtype)
    s_sy = torch.where(observed, s, torch.zeros_like(s)) * inv_sy
    uty_sy = torch.where(observed, ut_y, torch.zeros_like(ut_y)) * inv_sy

    # Eq. 8: xbar_T ~ N(ybar, sigma_T^2 - sigma_y^2 / s_i^2) where observed with sigma_T >= sigma_y / s_i,
    # N(0, sigma_T^2) elsewhere.
    sig_T = sigmas[0]
    init_obs = nu2 <= sig_T**2
    z = randn(shape, generator=generator, like=ut_y)
    xbar = torch.where(init_obs, ybar + (sig_T**2 - nu2.clamp(max=sig_T**2)).sqrt() * z, sig_T * z)

    for i in progress(range(steps), enabled=progress_bar, desc="ddrm"):
        sig, sig_next = sigmas[i], sigmas[i + 1]
        x = operator.V(xbar)  # x_t in VE form, x0 + sigma_t eps
        x0 = prior.denoise(x, sig)
        x0bar = operator.Vt(x0)  # xbar_{theta, t}
        z = randn(shape, generator=generator, like=xbar)
        keep = (1.0 - eta**2) ** 0.5 * sig_next
        # Eq. 7 first two cases share the form  xbar0 + sqrt(1 - eta^2) sigma_t d + eta sigma_t z  with
        #   s_i = 0:                   d = (xbar_{t+1} - xbar0) / sigma_{t+1}
        #   sigma_t < sigma_y / s_i:   d = (ybar - xbar0) / (sigma_y / s_i) = (U^T y - s xbar0) / sigma_y
        d = torch.addcmul(uty_sy, s_sy, x0bar, value=-1.0)  # zero where unobserved
        d.addcmul_(unobserved, xbar - x0bar, value=1.0 / sig)
        # Eq. 7 third case, sigma_t >= sigma_y / s_i:
        #   (1 - eta_b) xbar0 + eta_b ybar + sqrt(sigma_t^2 - sigma_y^2 eta_b^2 / s_i^2) z
        eb = eta_b(sig_next, sigma_y, s) if callable(eta_b) else eta_b
        case3 = (nu2 <= sig_next**2).to(y.dtype)
        std3 = (sig_next**2 - nu2_obs * (eb * eb)).clamp_min(0.0).sqrt()  # only used where case3 = 1
        std = (std3 - eta * sig_next).mul_(case3).add_(eta * sig_next)  # eta sigma_t outside case 3
        d.mul_(1.0 - case3)  # masks by multiplication: cheaper than torch.where, and d is finite everywhere
        xbar = torch.add(x0bar, d, alpha=keep)
        xbar.addcmul_(case3 * eb, ybar - x0bar)
        xbar.addcmul_(std, z)
        if callback is not None:
            callback(StepInfo(i, steps, sig, sig_next, x, x0))
    return operator.V(xbar)
