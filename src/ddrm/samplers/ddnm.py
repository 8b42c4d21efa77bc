"""DDNM and DDNM+ (Wang, Yu, Zhang; "Zero-Shot Image Restoration Using Denoising Diffusion Null-Space Model",
ICLR 2023).

``ddnm`` (noise-free, Sec. 3.2): every step replaces the range-space part of the denoised estimate by the
measurement, ``x0' = H^+ y + (I - H^+ H) x0`` (Eq. 13), then takes a DDIM step with the network's ``eps``
(``c1 = eta sqrt(1 - abar_s)``, ``c2 = sqrt(1 - eta^2) sqrt(1 - abar_s)``, as the official ``svd_ddnm.py``).

``ddnm+`` (noisy, Sec. 3.3, Eq. 17/19 with the SVD): per singular value, the correction is scaled by
``lambda_i`` and the fresh noise by ``gamma_i`` so that ``(sqrt(abar_s) lambda_i sigma_y / s_i)^2 + gamma_i =
1 - abar_s``. In VE coordinates this is, case by case, exactly DDRM's Eq. 7 with ``eta_b = 1`` (``lambda_i = 1``
where ``sigma_s >= sigma_y / s_i``; ``lambda_i = sqrt(1 - eta^2) s_i sigma_s / sigma_y`` and noise ``eta sigma_s``
below it; plain DDIM on the null space), so it calls the shared :meth:`Spectral.ddrm_step`. What differs from
DDRM is the start (pure noise, not Eq. 8) and the time travel.

Time travel (Sec. 3.4, L, s, r): at every ``s``-th level the sampler goes back ``L`` levels, ``r - 1`` times (the
schedule of :func:`jump_schedule`), by forward diffusion ``q(x_{t+1} | x_t)`` from the current iterate. The official
code re-noises the last *uncorrected* ``x0`` instead (``x_{t+L} = sqrt(abar) x0_t + sqrt(1 - abar) z``); the paper's
form is used here. The official configurations use no time travel (L = r = 1) for every paper task.

Clamping: the official ``simplified_ddnm_plus`` / ``svd_based_ddnm_plus`` use ``x0_t`` unclamped; so does this one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..operators.base import Generators, LinearOperator, SVDOperator, randn
from ..priors.base import Prior
from .common import StepInfo, ascending, ddim_step, jump_schedule, noise_like, progress, renoise, sigma_levels
from .registry import GRID_PARAM, Param, sampler
from .spectral import Spectral

__all__ = ["ddnm", "ddnm_plus", "jump_nfe"]

TRAVEL = (
    Param("travel_length", "time travel L: levels to jump back", 1, None),
    Param("travel_repeat", "time travel r: how often each jump happens (1 = no travel)", 1, None),
    Param("travel_interval", "time travel s: levels between jump points (0 = L)", 0, None),
)
PAPER = "Wang, Yu, Zhang. Zero-Shot Image Restoration Using Denoising Diffusion Null-Space Model. ICLR 2023"


def jump_nfe(steps: int, length: int, repeat: int, interval: int | None = None) -> int:
    """Network evaluations of a jump schedule: its descending moves."""
    levels = jump_schedule(steps, length, repeat, interval or None)
    return sum(1 for a, b in zip(levels[:-1], levels[1:]) if b < a)


def _nfe(steps: int, travel_length: int, travel_repeat: int, travel_interval: int, **_: object) -> int:
    return jump_nfe(steps, travel_length, travel_repeat, travel_interval)


@sampler(
    "ddnm",
    paper=PAPER,
    summary="range-null space decomposition: x0 <- H^+ y + (I - H^+ H) x0 (Eq. 13), noise-free",
    params=(GRID_PARAM, Param("eta", "DDIM stochasticity (official c1 = eta sqrt(1 - abar))", 0.0, 1.0), *TRAVEL),
    nfe=_nfe,
    consistency="exact",
    noise="ignored: H x = y is imposed (use ddnm+ for noisy y)",
    operators=(LinearOperator,),
)
@torch.no_grad()
def ddnm(
    prior: Prior,
    operator: LinearOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 100,
    grid: str = "auto",
    eta: float = 0.85,
    travel_length: int = 1,
    travel_repeat: int = 1,
    travel_interval: int = 0,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """DDNM (Algorithm 1 with the DDIM step of the official code, and optional time travel). ``H^+`` is exact with an
    SVD (with ``U^T y`` computed once); without one it is conjugate gradients, warm-started from the previous step's
    correction."""
    meas = Spectral(operator, y, sigma_y_model) if isinstance(operator, SVDOperator) else None
    correction = None
    sig = ascending(sigma_levels(prior.schedule, steps, operator, sigma_y_model, grid))
    levels = jump_schedule(steps, travel_length, travel_repeat, travel_interval or None)
    total = jump_nfe(steps, travel_length, travel_repeat, travel_interval)
    x = sig[levels[0]] * randn((y.shape[0], *operator.input_shape), generator=generator, like=y)
    done = 0
    for i, j in progress(zip(levels[:-1], levels[1:]), enabled=progress_bar, desc="ddnm", total=len(levels) - 1):
        z = noise_like(x, generator)
        if j > i:  # time travel: forward diffusion one level up
            x = renoise(x, sig[i], sig[j], z)
            continue
        x0 = prior.denoise(x, sig[i])
        if meas is not None:
            correction = meas.pinv_residual(x0)
        else:
            correction = operator.pinv(y - operator.H(x0), x0=correction)
        x0_hat = x0 + correction  # Eq. 13: H^+ y + (I - H^+ H) x0
        x_next = ddim_step(x0_hat, (x - x0) / sig[i], z, sig[i], sig[j], eta, ddrm_variance=True)
        if callback is not None:
            callback(StepInfo(done, total, sig[i], sig[j], x, x0))
        x, done = x_next, done + 1
    return x


@sampler(
    "ddnm+",
    paper=PAPER,
    summary="DDNM for noisy y: per-singular-value Sigma_t / Phi_t scaling (Eq. 17/19), time travel",
    params=(
        GRID_PARAM,
        Param("eta", "stochasticity of the null space and of the noisier-than-measured coordinates", 0.0, 1.0),
        *TRAVEL,
    ),
    nfe=_nfe,
    consistency="exact",
    noise="modelled per singular value (Eq. 17/19); sigma_y_model (in [-1, 1] units) = 2 x the paper's [0, 1] sigma_y",
)
@torch.no_grad()
def ddnm_plus(
    prior: Prior,
    operator: SVDOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 100,
    grid: str = "auto",
    eta: float = 0.85,
    travel_length: int = 1,
    travel_repeat: int = 1,
    travel_interval: int = 0,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """DDNM+ with the SVD (Eq. 17/19), from pure noise, with optional time travel."""
    meas = Spectral(operator, y, sigma_y_model)
    sig = ascending(sigma_levels(prior.schedule, steps, operator, sigma_y_model, grid))
    levels = jump_schedule(steps, travel_length, travel_repeat, travel_interval or None)
    total = jump_nfe(steps, travel_length, travel_repeat, travel_interval)
    xbar = sig[levels[0]] * randn(meas.shape, generator=generator, like=meas.ut_y)
    done = 0
    for i, j in progress(zip(levels[:-1], levels[1:]), enabled=progress_bar, desc="ddnm+", total=len(levels) - 1):
        z = randn(meas.shape, generator=generator, like=xbar)
        if j > i:
            xbar = renoise(xbar, sig[i], sig[j], z)  # V is orthogonal: white noise stays white
            continue
        x = meas.to_image(xbar)
        x0 = prior.denoise(x, sig[i])
        xbar = meas.ddrm_step(xbar, meas.to_spec(x0), sig[i], sig[j], eta, 1.0, z)
        if callback is not None:
            callback(StepInfo(done, total, sig[i], sig[j], x, x0))
        done += 1
    return meas.to_image(xbar)
