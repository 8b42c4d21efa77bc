"""Pieces every sampler shares, written once.

Samplers work in the variance-exploding (VE) coordinates of DDRM Sec. 3.2: ``x = x0 + sigma * eps`` with
``sigma = sqrt((1 - abar) / abar)``, which is the VP iterate divided by ``sqrt(abar)``. Papers written in VP form
convert with ``x_vp = sqrt(abar) * x_ve`` and ``grad_{x_vp} = grad_{x_ve} / sqrt(abar)``; each sampler's comments
say where that conversion enters. Here: the DDIM / DDPM step, VE forward noising (RePaint's "undo", DDNM's time
travel), the jump and DiffPIR time schedules, and the vector-Jacobian product through the denoiser.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import SolverError
from ..operators.base import Generators, LinearOperator, SVDOperator, randn
from ..priors.base import Prior
from ..priors.schedule import NoiseSchedule

__all__ = [
    "OperatorUpdate",
    "StepInfo",
    "check_inputs",
    "progress",
    "abar",
    "ddim_step",
    "renoise",
    "noise_like",
    "jump_schedule",
    "level_sigmas",
    "quad_sigmas",
    "GRIDS",
    "GRID_PARAM_HELP",
    "noise_floor",
    "sigma_levels",
    "ascending",
    "denoise_vjp",
    "batch_norm",
    "per_image",
    "pinv_start",
    "noise_level_cutoff",
]


@dataclass(frozen=True)
class StepInfo:
    """What a sampler hands to ``callback`` after step ``index`` (of ``steps``): the noise level it denoised
    at (``sigma``), the level it moved to (``sigma_next``), the noisy iterate ``x`` (VE form) and the
    denoiser's estimate ``x0``."""

    index: int
    steps: int
    sigma: float
    sigma_next: float
    x: Tensor
    x0: Tensor


# a hook a solver calls after each denoising: returns a new operator to continue with, or None (ddrm.pipeline.blind)
OperatorUpdate = Callable[[StepInfo, Any], Any]


def check_inputs(operator: SVDOperator, y: Tensor, sigma_y_model: float) -> None:
    if not isinstance(y, Tensor):
        raise TypeError("y must be a torch.Tensor")
    if not (isinstance(sigma_y_model, (int, float)) and math.isfinite(sigma_y_model) and sigma_y_model >= 0):
        raise ValueError(f"sigma_y_model must be a finite number >= 0, got {sigma_y_model!r}")
    if tuple(y.shape[1:]) != tuple(operator.measurement_shape):
        raise ValueError(
            f"y has shape {tuple(y.shape)} but the operator measures (B, {', '.join(map(str, operator.measurement_shape))})"
        )
    if not torch.isfinite(y).all():
        raise ValueError("y contains NaN or infinite values")


def progress(it: Iterable, *, enabled: bool, desc: str, total: int | None = None) -> Iterable:
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, leave=False, total=total)


# ---------------------------------------------------------------------- noise levels
def abar(sigma: float) -> float:
    """``abar = 1 / (1 + sigma^2)``: the VP signal level of a VE noise level."""
    return 1.0 / (1.0 + sigma * sigma)


def noise_like(x: Tensor, generator: Generators) -> Tensor:
    """Standard normal noise shaped like ``x``, one generator per image when given a list."""
    return randn(x.shape, generator=generator, like=x)


def ddim_step(
    x0: Tensor,
    eps: Tensor,
    z: Tensor | None,
    sigma: float,
    sigma_next: float,
    eta: float,
    *,
    ddrm_variance: bool = False,
) -> Tensor:
    """One DDIM step (Song et al. 2021, Eq. 12) from level ``sigma`` to ``sigma_next``, in VE form.

    VP: ``x_s = sqrt(abar_s) x0 + c2 eps + c1 z`` with DDIM's ``c1 = eta sqrt((1 - abar_s) / (1 - abar_t))
    sqrt(1 - abar_t / abar_s)`` (Eq. 16) and ``c2 = sqrt(1 - abar_s - c1^2)``. Divided by ``sqrt(abar_s)`` the noise
    std is ``eta sigma_s sqrt(1 - sigma_s^2 / sigma_t^2)`` and the eps weight ``sqrt(sigma_s^2 - std^2)``; ``eta = 1``
    is DDPM's ancestral step with the posterior variance ``beta_tilde``. ``ddrm_variance`` uses DDRM's and DDNM's
    ``c1 = eta sqrt(1 - abar_s)`` instead (std ``eta sigma_s``, eps weight ``sqrt(1 - eta^2) sigma_s``).
    """
    if sigma_next == 0.0:
        return x0
    if ddrm_variance:
        std = eta * sigma_next
    else:
        std = eta * sigma_next * math.sqrt(max(0.0, 1.0 - (sigma_next / sigma) ** 2))
    out = x0 + math.sqrt(max(0.0, sigma_next**2 - std**2)) * eps
    if std > 0:
        out = out + std * z
    return out


def renoise(x: Tensor, sigma: float, sigma_up: float, z: Tensor) -> Tensor:
    """Forward diffusion ``q(x_up | x)`` from ``sigma`` up to ``sigma_up`` in VE form: add ``sqrt(up^2 - sigma^2) z``.

    (VP: ``x_up = sqrt(abar_up / abar) x + sqrt(1 - abar_up / abar) z``, RePaint's "undo" step.)"""
    return x + math.sqrt(max(0.0, sigma_up**2 - sigma**2)) * z


def noise_level_cutoff(operator: SVDOperator, sigma_y_model: float) -> float | None:
    """The ``cutoff`` of ``operator.support`` / ``operator.pinv`` that keeps only singular values above the noise
    level, ``s_i > sigma_y`` (``None``, the round-off default, when ``sigma_y = 0``): where ``H^+`` can be applied to a
    noisy ``y`` without amplifying its noise beyond the image range. The reference implementations get a similar
    cut from DDRM's operators, which drop singular values below 3e-2 for deblurring; with all kept, ``H^+ y``
    amplifies the noise by up to ``1 / s_min`` (1e8 for DDRM's Gaussian kernel on small images)."""
    smax = operator.singulars().amax().item()
    return sigma_y_model / smax if sigma_y_model > 0 and smax > 0 else None


def pinv_start(operator: LinearOperator, y: Tensor, sigma_y_model: float) -> Tensor:
    """``H^+ y`` above the noise level (:func:`noise_level_cutoff`): RED-diff's and PiGDM's starting point. Without an
    SVD, the Tikhonov solution ``(H^T H + sigma_y^2 I)^{-1} H^T y`` damps the same singular values smoothly."""
    if not isinstance(operator, SVDOperator):
        return operator.prox(y, torch.zeros(y.shape[0], *operator.input_shape, dtype=y.dtype, device=y.device),
                             sigma_y_model**2)  # fmt: skip
    return operator.pinv(y, cutoff=noise_level_cutoff(operator, sigma_y_model))


# ---------------------------------------------------------------------- schedules
GRIDS = ("auto", "uniform", "karras")
GRID_PARAM_HELP = (
    "noise levels visited: auto (the paper's, with the level nearest the measurement's own noise level moved onto "
    "it), uniform (the paper's timesteps, for reproducing its tables), karras (rho = 7 down to the measurement's "
    "noise level)"
)
KARRAS_RHO = 7.0


def noise_floor(operator: Any, sigma_y_model: float) -> float:
    """The level at which the best-measured coordinate hands over from the measurement to the prior: ``sigma_y /
    s_max`` (DDRM's case boundary ``sigma_t = sigma_y / s_i`` for the largest singular value; for denoising and
    inpainting, ``sigma_y`` itself)."""
    if sigma_y_model <= 0 or not isinstance(operator, LinearOperator):
        return 0.0
    smax = operator.largest_singular()
    return sigma_y_model / smax if smax > 0 else 0.0


def sigma_levels(
    schedule: NoiseSchedule,
    steps: int,
    operator: Any = None,
    sigma_y_model: float = 0.0,
    grid: str = "auto",
    *,
    start: float = 1.0,
    spacing: str = "uniform",
) -> list[float]:
    """The descending noise levels of a sampler's ``steps`` steps over the first ``start`` of the diffusion, then the
    clean level 0.

    ``"uniform"``: the paper's timesteps ``floor(i T0 / steps)`` (:meth:`NoiseSchedule.sigma_grid`; ``spacing="quad"``:
    DiffPIR's). ``"auto"``: the same levels with the one nearest (in log) the measurement's noise floor
    (:func:`noise_floor`, a hair above it, so that Eq. 7 takes the measurement whole there) moved onto it: the same
    network calls, and one of them at the measurement's own noise level. The paper's 20 levels end 0.342, 0.176, 0.01:
    a denoising problem at sigma_y 0.03 was never denoised at its own level, and its last real denoising (at 0.176)
    threw away what the measurement held; with the level at 0.03 the chain's denoising there is the one-call MMSE
    estimate of ``y``, and the levels below refine it. Where the measurement leaves no null space (every coordinate
    measured above the noise: denoising), the levels instead end where the last coordinate hands over
    (:func:`_last_handover`), spread evenly in timestep from the first: the chain's denoising is then the MMSE
    estimate exactly, with nothing sampled onto it. ``"karras"``: Karras et al.'s rho = 7 spacing in sigma from the
    first level down to the floor (none below it). Without noise, or with a floor outside the levels, ``"auto"`` is
    ``"uniform"``."""
    if grid not in GRIDS:
        raise SolverError(f"unknown grid {grid!r}; choose from {', '.join(GRIDS)}")
    paper = quad_sigmas(schedule, steps) if spacing == "quad" else schedule.sigma_grid(steps, start).tolist()
    floor = noise_floor(operator, sigma_y_model) * (1 + 1e-4)
    levels, top = paper[:-1], paper[0]
    if grid == "auto" and steps == 1 and floor > top:
        return [floor, 0.0]  # one step: the denoising at the measurement's own level
    if grid == "uniform" or floor <= levels[-1] or floor >= top:
        return paper
    if grid == "karras":
        u = torch.linspace(0, 1, steps, dtype=torch.float64)
        out = (top ** (1 / KARRAS_RHO) + u * (floor ** (1 / KARRAS_RHO) - top ** (1 / KARRAS_RHO))) ** KARRAS_RHO
        return out.tolist() + [0.0]
    last = _last_handover(operator, sigma_y_model)
    if grid == "auto" and last is not None and floor <= last < top and steps > 1:
        return _spread(schedule, top, last, steps)
    gaps = (torch.tensor(levels[1:] if steps > 1 else levels).log() - math.log(floor)).abs()
    i = int(gaps.argmin()) + (1 if steps > 1 else 0)  # the first level stays: the chain starts where the paper's does
    levels[i] = floor
    return sorted(levels, reverse=True) + [0.0]


def _last_handover(operator: Any, sigma_y_model: float) -> float | None:
    """The level below which every coordinate is measured better than the iterate (``sigma_y / s_min``), when the
    measurement leaves no null space (denoising): there the measurement determines the image and a chain continued
    below it would only sample the prior's detail onto it. ``None`` when some coordinate is not measured, or measured
    below the noise (``s_i <= sigma_y``: a blur's lost frequencies)."""
    if not isinstance(operator, SVDOperator) or sigma_y_model <= 0:
        return None
    smin = float(operator.singulars().amin())
    if not bool(operator.support().all()) or smin <= sigma_y_model:  # a coordinate below the noise: not measured
        return None
    return sigma_y_model / smin * (1 + 1e-4)


def _spread(schedule: NoiseSchedule, top: float, end: float, steps: int) -> list[float]:
    """``steps`` levels from ``top`` down to ``end``, evenly in timestep (the intermediate ones on integer
    timesteps), then 0."""
    t_top, t_end = float(schedule.sigma_to_t(top)), float(schedule.sigma_to_t(end))
    t = torch.linspace(t_top, t_end, steps, dtype=torch.float64).round().clamp(min=math.ceil(t_end))
    levels = schedule.sigmas[t.long().clamp(0, schedule.num_timesteps - 1)]
    levels[0], levels[-1] = top, end
    return sorted(levels.tolist(), reverse=True) + [0.0]


def ascending(levels: list[float]) -> list[float]:
    """Descending levels ending in 0 (:func:`sigma_levels`) -> the levels of steps ``0..steps-1`` in ascending order,
    plus ``0.0`` last: index ``-1`` is the clean image, as the jump schedules (:func:`jump_schedule`) count."""
    return levels[-2::-1] + [0.0]


def level_sigmas(schedule: NoiseSchedule, steps: int) -> list[float]:
    """Noise level of each sampling level ``i = 0..steps-1`` (timestep ``floor(i T / steps)``), plus ``0.0`` last.

    Indexing with ``-1`` gives 0: level ``-1`` is the clean image (DDIM/DDRM's ``t = -1``, ``abar = 1``).
    """
    return schedule.sigma_grid(steps).flip(0)[1:].tolist() + [0.0]


def jump_schedule(steps: int, length: int = 1, repeat: int = 1, interval: int | None = None) -> list[int]:
    """Levels a sampler visits: ``steps - 1`` down to ``-1``, going back ``length`` levels ``repeat - 1`` times at
    every ``interval``-th level (``interval = length`` by default).

    This is RePaint's resampling schedule (jump length j, jump count r; Lugmayr et al. 2022, Sec. 4.2) and DDNM's
    time travel (L, s, r; Wang et al. 2023, Sec. 3.4). ``length = repeat = 1`` is the plain descent. Consecutive
    levels differ by one: a decrease is a denoising step (one network evaluation), an increase a forward-noising step.
    """
    if steps < 1 or length < 1 or repeat < 1:
        raise SolverError("steps, travel/jump length and repeat count must be >= 1")
    interval = length if interval is None else interval
    if interval < 1:
        raise SolverError("the travel interval must be >= 1")
    remaining = {level: repeat - 1 for level in range(0, steps - length, interval)}
    t = steps
    out = []
    while t >= 1:
        t -= 1
        out.append(t)
        if remaining.get(t, 0) > 0:
            remaining[t] -= 1
            for _ in range(length):
                t += 1
                out.append(t)
    out.append(-1)
    return out


def quad_sigmas(schedule: NoiseSchedule, steps: int) -> list[float]:
    """DiffPIR's "quad" grid (Zhu et al. 2023, code ``skip_type='quad'``): timesteps ``T - 1 - floor(sqrt(u))`` for
    ``u`` evenly spaced in ``[0, T^2]`` (the last one moved to 0), dense near ``t = 0``; then the clean level 0."""
    if not 1 <= steps <= schedule.num_timesteps:
        raise SolverError(f"steps must lie in 1..{schedule.num_timesteps}, got {steps}")
    big_t = schedule.num_timesteps
    seq = torch.linspace(0, big_t**2, steps, dtype=torch.float64).sqrt().floor().long()
    if steps > 1:
        seq[-1] -= 1
    t = (big_t - 1 - seq).clamp(0, big_t - 1)
    return schedule.sigmas[t].tolist() + [0.0]


# ---------------------------------------------------------------------- gradients through the denoiser
def denoise_vjp(prior: Prior, x: Tensor, sigma: float, cotangent: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
    """``x0 = D(x, sigma)`` and the vector-Jacobian product ``(dx0/dx)^T c`` with ``c = cotangent(x0)``.

    ``cotangent`` sees the detached ``x0`` and returns ``dL/dx0`` of the guidance loss, so ``L`` itself is never
    differentiated through the operator: one backward pass through the network per step, whatever the loss.
    Gradients are taken w.r.t. the VE input; runs under ``torch.no_grad`` callers too. The network's own
    parameters get no ``.grad``.
    """
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        x0 = prior.denoise(xg, sigma)
        c = cotangent(x0.detach())
        (grad,) = torch.autograd.grad(x0, xg, grad_outputs=c)
    return x0.detach(), grad


def batch_norm(r: Tensor) -> Tensor:
    """Per-image Euclidean norm, shaped to broadcast against ``r`` (DPS issue #12: never over the whole batch)."""
    return r.reshape(r.shape[0], -1).norm(dim=1).reshape(-1, *([1] * (r.ndim - 1)))


def per_image(values: Sequence[float] | Tensor, like: Tensor) -> Tensor:
    """A (B,) vector shaped ``(B, 1, 1, ...)`` to scale images like ``like``."""
    v = torch.as_tensor(values, dtype=like.dtype, device=like.device)
    return v.reshape(-1, *([1] * (like.ndim - 1)))
