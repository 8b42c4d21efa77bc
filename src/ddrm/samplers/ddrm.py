"""DDRM: Denoising Diffusion Restoration Models (Kawar, Elad, Ermon, Song; NeurIPS 2022).

The diffusion runs in the spectral space of ``H = U S V^T``: with ``xbar = V^T x`` and
``ybar = S^+ U^T y``, each coordinate is updated by one of three Gaussians (Eq. 7) depending on whether it
is unobserved (``s_i = 0``), observed with more noise than the current level (``sigma_t < sigma_y / s_i``)
or with less (``sigma_t >= sigma_y / s_i``). The chain starts from Eq. 8 and ends at ``sigma = 0``.

Clamping: the official ``efficient_generalized_steps`` uses ``x0_t`` unclamped; so does this one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..errors import SolverError
from ..operators.base import Generators, SVDOperator, randn
from ..priors.base import Prior
from ..priors.schedule import NoiseSchedule
from .common import OperatorUpdate, StepInfo, progress, sigma_levels
from .registry import GRID_PARAM, Param, sampler
from .spectral import EtaB, Spectral

__all__ = ["ddrm", "posterior_eta_b"]


def posterior_eta_b(sigma_t: float, sigma_y_model: float, s: Tensor) -> Tensor:
    """Theorem 1's ``eta_b = 2 sigma_t^2 / (sigma_t^2 + sigma_y^2 / s_i^2)`` (with ``eta = 1``), for which the
    DDRM objective equals the DDPM one; written as ``2 (sigma_t s)^2 / ((sigma_t s)^2 + sigma_y^2)``."""
    a = (sigma_t * s) ** 2
    return 2 * a / (a + sigma_y_model**2).clamp_min(torch.finfo(s.dtype).tiny)


@sampler(
    "ddrm",
    paper="Kawar, Elad, Ermon, Song. Denoising Diffusion Restoration Models. NeurIPS 2022",
    summary="spectral-space diffusion, three Gaussians per singular value (Eq. 7)",
    params=(
        GRID_PARAM,
        Param("eta", "noise of the unobserved / noisier-than-measured coordinates (Eq. 7)", 0.0, 1.0),
        Param("eta_b", "weight of the measurement where it is cleaner than the current level (Eq. 7)", 0.0, 2.0),
        Param("start", "share of the diffusion run when starting from x_init (SDEdit); 1 = the full chain", 1e-3, 1.0),
    ),
    consistency="exact",
    noise="modelled per singular value (Eq. 7); sigma_y_model (in [-1, 1] units) = 2 x the paper's [0, 1] sigma_y",
)
@torch.no_grad()
def ddrm(
    prior: Prior,
    operator: SVDOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 20,
    grid: str = "auto",
    eta: float = 0.85,
    eta_b: EtaB = 1.0,
    start: float = 1.0,
    x_init: Tensor | None = None,
    schedule: NoiseSchedule | None = None,
    operator_update: OperatorUpdate | None = None,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """Sample ``x0 ~ p(x | y)`` approximately with DDRM; returns images (B, C, H, W) in [-1, 1] units.

    ``y`` and ``sigma_y_model`` are in the prior's data range ([-1, 1]). ``eta_b`` is a float or a function
    ``(sigma_t, sigma_y_model, s) -> tensor`` (e.g. :func:`posterior_eta_b`). ``y`` is never modified.

    ``x_init`` (B, C, H, W) in [-1, 1] starts the chain from an image instead of noise: Eq. 8 with ``V^T x_init`` as
    the mean of the coordinates ``y`` does not fix, at the level of timestep ``start T``, and the ``steps`` steps
    spread over the timesteps below it (e.g. DDRM started from a supervised super-resolver's output).

    ``operator_update(info, operator)`` (e.g. :class:`ddrm.pipeline.blind.KernelEstimator`) is called after each denoising
    with the step's :class:`StepInfo`; when it returns an operator, the chain continues with it: the current ``x_t``
    is re-expressed in the new spectral basis and Eq. 7 uses the new singular values (blind deblurring).
    """
    sigmas = sigma_levels(schedule or prior.schedule, steps, operator, sigma_y_model, grid, start=start)
    meas = Spectral(operator, y, sigma_y_model)
    mean = None
    if x_init is not None:
        if tuple(x_init.shape) != (y.shape[0], *operator.input_shape):
            raise ValueError(
                f"x_init has shape {tuple(x_init.shape)}, expected (B, {', '.join(map(str, operator.input_shape))})"
            )
        mean = meas.to_spec(x_init.to(y.dtype))
    elif start < 1:
        raise SolverError("ddrm: start < 1 needs x_init, the image the shortened chain starts from")
    xbar = meas.ddrm_init(sigmas[0], randn(meas.shape, generator=generator, like=meas.ut_y), mean)
    for i in progress(range(steps), enabled=progress_bar, desc="ddrm"):
        sig, sig_next = sigmas[i], sigmas[i + 1]
        x = meas.to_image(xbar)  # x_t in VE form, x0 + sigma_t eps
        x0 = prior.denoise(x, sig)
        if operator_update is not None:
            new = operator_update(StepInfo(i, steps, sig, sig_next, x, x0), operator)
            if new is not None:
                operator, meas = new, Spectral(new, y, sigma_y_model)
                xbar = meas.to_spec(x)
        z = randn(meas.shape, generator=generator, like=xbar)
        xbar = meas.ddrm_step(xbar, meas.to_spec(x0), sig, sig_next, eta, eta_b, z)
        if callback is not None:
            callback(StepInfo(i, steps, sig, sig_next, x, x0))
    return meas.to_image(xbar)
