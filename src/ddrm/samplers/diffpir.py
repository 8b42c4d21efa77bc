"""DiffPIR (Zhu, Zhang, Liang, Cao, Wen, Timofte, Van Gool; "Denoising Diffusion Models for Plug-and-Play Image
Restoration", CVPR-W NTIRE 2023).

Half-quadratic splitting inside the diffusion (Algorithm 1): the denoiser is the prior step (Eq. 11), then the
data step solves ``x0' = argmin ||y - H x||^2 + rho_t ||x - x0||^2`` with ``rho_t = lambda sigma_y^2 / sigma_t^2``
(Eq. 12-13) through ``operator.prox`` (exact with an SVD, conjugate gradients without; no FFT special cases), then
``x_{t-1} = sqrt(abar_{t-1}) x0' + sqrt(1 - abar_{t-1}) (sqrt(1 - zeta) eps' + sqrt(zeta) z)`` with ``eps'``
recomputed from the corrected ``x0'`` (Eq. 14-15). Timesteps follow the official "quad" grid.

Units. Here ``sigma_y_model`` and ``sigma_t`` are both in the prior's [-1, 1] units, so ``lambda`` is unit-free. The
official code multiplies ``sigma_n^2`` in [0, 1] units with ``1 / sigma_t^2`` in [-1, 1] units: its ``lambda``
equals 4 x ours. Defaults follow the per-task scripts the README names as the inference code (the YAML configs,
added later, say lambda = 1, zeta = 0.1 for every task): ``main_ddpir_deblur.py`` runs lambda = 7, zeta = 0.3
(``lam = 1.75`` here; the default for every task without its own), ``main_ddpir_sisr.py`` sweeps lambda = 2..12
with zeta = 0.25 (``zeta = 0.25`` for SR), ``main_ddpir_inpainting.py`` runs 20 steps with lambda = 1, zeta = 1
(``lam = 0.25``). It also floors ``sigma_n`` at 0.001 in
[0, 1] units (0.002 here), so ``rho_t > 0`` even for noiseless ``y``; ``lam = 0`` gives the exact projection
``H x = y``. Unlike the official loop, which skips the data step on its last iteration and returns the iterate
at ``t = 0``, the paper's algorithm (kept here) applies it on every step down to ``sigma = 0``.

Clamping: the official ``utils_model.model_fn`` calls ``p_sample(..., clip_denoised=True)``, so ``x0_hat`` is
clamped to [-1, 1] before the data step; so is it here (``clip``, default on).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..operators.base import Generators, LinearOperator, randn
from ..priors.base import Prior
from .common import OperatorUpdate, StepInfo, ddim_step, noise_like, progress, sigma_levels
from .registry import GRID_PARAM, Param, sampler

__all__ = ["diffpir"]

SIGMA_FLOOR = 0.002  # the official max(0.001, sigma_n) in [0, 1] units, here in [-1, 1] units


@sampler(
    "diffpir",
    paper="Zhu et al. Denoising Diffusion Models for Plug-and-Play Image Restoration. CVPR-W 2023",
    summary="plug-and-play HQS: exact data step prox(rho_t = lam sigma_y^2 / sigma_t^2), then a DDIM step",
    params=(
        GRID_PARAM,
        Param("lam", "data-step weight lambda (unit-free: the official code's lambda / 4)", 0.0, None),
        Param("zeta", "fresh-noise share of the step (Eq. 15): 0 deterministic, 1 all fresh noise", 0.0, 1.0),
        Param("clip", "clip x0_hat to [-1, 1] (the official model_fn's clip_denoised=True)"),
    ),
    task_defaults={
        "inpaint": {"steps": 20, "lam": 0.25, "zeta": 1.0},
        "sr": {"zeta": 0.25},
        "sr_bicubic": {"zeta": 0.25},
    },
    consistency="approximate",
    noise="in rho_t = lam sigma_y^2 / sigma_t^2 (both in [-1, 1] units); exact H x = y with lam = 0",
    operators=(LinearOperator,),
)
@torch.no_grad()
def diffpir(
    prior: Prior,
    operator: LinearOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 100,
    grid: str = "auto",
    lam: float = 1.75,
    zeta: float = 0.3,
    clip: bool = True,
    operator_update: OperatorUpdate | None = None,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """DiffPIR (Algorithm 1) with the exact SVD data step."""
    sigmas = sigma_levels(prior.schedule, steps, operator, sigma_y_model, grid, spacing="quad")
    noise2 = max(sigma_y_model, SIGMA_FLOOR) ** 2
    x = sigmas[0] * randn((y.shape[0], *operator.input_shape), generator=generator, like=y)
    for i in progress(range(steps), enabled=progress_bar, desc="diffpir"):
        sig, sig_next = sigmas[i], sigmas[i + 1]
        x0 = prior.denoise(x, sig)  # Eq. 11: prior step
        x0 = x0.clamp(-1.0, 1.0) if clip else x0  # the official code's clip_denoised
        if operator_update is not None:  # e.g. a blur kernel re-estimated from x0 (ddrm.pipeline.blind)
            operator = operator_update(StepInfo(i, steps, sig, sig_next, x, x0), operator) or operator
        x0_data = operator.prox(y, x0, lam * noise2 / sig**2)  # Eq. 13: data step, rho_t = lambda sigma_n^2 / sigma_t^2
        eps = (x - x0_data) / sig  # Eq. 14: eps recomputed from the corrected estimate
        z = noise_like(x, generator)
        x_next = ddim_step(x0_data, eps, z, sig, sig_next, math.sqrt(zeta), ddrm_variance=True)  # Eq. 15
        if callback is not None:
            callback(StepInfo(i, steps, sig, sig_next, x, x0))
        x = x_next
    return x
