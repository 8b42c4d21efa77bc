"""DDRM-JPEG: JPEG Artifact Correction using Denoising Diffusion Restoration Models (Kawar, Song, Ermon, Elad; NeurIPS
2022 workshop, arXiv 2209.11888).

DDRM's update with the pseudo-inverse replaced by the codec (Sec. 3 of the paper): with ``x0`` the denoiser's
estimate, ``xt = x0 - J(x0) + J(y)`` keeps what JPEG discards from ``x0`` and what it keeps from ``y``, and

    x_{t-1} = sqrt(abar') [eta_b xt + (1 - eta_b) x0] + sqrt(1 - abar') [eta z + (1 - eta) eps_hat]

(the official code's ``jpeg_steps``; VE form here: divide by ``sqrt(abar')``). The chain starts from ``y`` noised to
the first of the ``steps`` levels spread over the first ``start`` of the diffusion (official: ``init_timestep`` 300,
20 steps -> timesteps 285, 270, ..., 0; ``y`` is noised to 285, where the first step denoises). Measurement noise
is not modelled. Written through the operator contract, ``J(x) = pinv(H(x))`` and ``J(y) = pinv(H(pinv(y)))``
(the JPEG operator's ``pinv`` is the identity). For a linear ``H`` the same step would be a DDNM-like update with a
partial projection (``eta_b`` = 0.4 leaves 0.6 of the residual), so the method takes only the JPEG operator.

Clamping: not checked against the official code; ``x0_hat`` is used unclamped here.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..operators.base import Generators
from ..operators.jpeg import JPEG, quantisation_noise, quantisation_tables
from ..priors.base import Prior
from ..priors.schedule import NoiseSchedule
from .common import StepInfo, noise_like, progress
from .registry import Param, sampler

__all__ = ["ddrm_jpeg", "auto_start", "OFFICIAL_START"]

OFFICIAL_START = 0.3  # the official configuration's init_timestep 300 of 1000, for its quality factors 10-20


def auto_start(schedule: NoiseSchedule, operator: JPEG, steps: int) -> float:
    """The share of the diffusion to run for this file: the official 0.3 at quality 10 (the chain starts at
    timestep 285 for 20 steps), and for other tables the level that keeps the same ratio to the quantisation noise
    (:func:`~ddrm.operators.jpeg.quantisation_noise`): a finely quantised file is started close to itself, so the
    prior does not repaint what the file still holds (quality 95: timestep ~10; quality 30: ~200)."""
    first = math.floor((steps - 1) * round(OFFICIAL_START * schedule.num_timesteps) / steps)  # 285 for 20 steps
    reference = quantisation_noise(*quantisation_tables(10))
    target = schedule.sigmas[first].item() * operator.quantisation_noise() / reference
    t = float(schedule.sigma_to_t(target))
    return min(1.0, max(steps / schedule.num_timesteps, OFFICIAL_START * t / first if first > 0 else 1.0))


@sampler(
    "ddrm-jpeg",
    paper="Kawar, Song, Ermon, Elad. JPEG Artifact Correction using Denoising Diffusion Restoration Models. 2022",
    summary="DDRM with the codec as degradation: x0 - J(x0) + J(y), started from y noised to a level set by the tables",
    params=(
        Param("eta", "share of fresh noise in the step's noise (eta_A in the code)", 0.0, 1.0),
        Param("eta_b", "weight of the measurement-corrected estimate (eta_B)", 0.0, 1.0),
        Param(
            "start",
            "share of the diffusion run: the chain starts from y noised to timestep start T (default: from the "
            "file's quantisation noise; 0.3, the official, at quality 10)",
            1e-3,
            1.0,
        ),
    ),
    operators=(JPEG,),
    consistency="approximate",
    noise="not modelled (JPEG quantisation is the degradation); sigma_y is ignored",
)
@torch.no_grad()
def ddrm_jpeg(
    prior: Prior,
    operator: JPEG,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 20,
    eta: float = 1.0,
    eta_b: float = 0.4,
    start: float | None = None,
    schedule: NoiseSchedule | None = None,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """Restore a JPEG-degraded ``y`` (B, 3, H, W) in [-1, 1]; returns images in [-1, 1]. ``y`` is never modified.

    ``start`` (``None``: :func:`auto_start`) is the share of the diffusion the chain runs."""
    schedule = schedule or prior.schedule
    sigmas = schedule.sigma_grid(steps, auto_start(schedule, operator, steps) if start is None else start).tolist()

    def codec(x: Tensor) -> Tensor:  # J(x), or H^+ H x for a linear operator
        return operator.pinv(operator.H(x))

    jy = codec(operator.pinv(y))
    x = operator.pinv(y) + sigmas[0] * noise_like(jy, generator)  # VP: sqrt(abar) y + sqrt(1 - abar) z
    for i in progress(range(steps), enabled=progress_bar, desc="ddrm-jpeg"):
        sig, sig_next = sigmas[i], sigmas[i + 1]
        x0 = prior.denoise(x, sig)
        corrected = x0 - codec(x0) + jy
        mix = eta_b * corrected + (1 - eta_b) * x0
        if sig_next > 0:
            eps = (x - x0) / sig
            z = noise_like(x, generator)
            x_next = mix + sig_next * (eta * z + (1 - eta) * eps)
        else:
            x_next = mix
        if callback is not None:
            callback(StepInfo(i, steps, sig, sig_next, x, x0))
        x = x_next
    return x
