"""DAPS: decoupled annealing posterior sampling (Zhang, Chu, Berner, Meng, Anandkumar, Song; CVPR 2025).

Native VE form on the denoiser (Algorithm 1). For each annealing level ``sigma_k`` (EDM's rho = 7 grid from
``sigma_max`` to ``sigma_min``, then 0):

1. ``x0_hat``: the probability-flow ODE ``dx/dsigma = (x - D(x, sigma)) / sigma`` from ``sigma_k`` down to 0.01 with
   ``ode_steps`` Euler steps on a rho = 7 grid (``ode_steps`` network evaluations);
2. Langevin dynamics on ``p(x0 | x_t, y)`` ~ ``N(x0_hat, sigma_k^2 I)`` times the likelihood:
   ``x0 <- x0 - lr_k [2 H^T (H x0 - y) / tau^2 + (x0 - x0_hat) / sigma_k^2] + sqrt(2 lr_k) z`` for
   ``langevin_steps`` steps, ``lr_k`` decaying linearly from ``lr`` to ``lr * lr_min_ratio`` over the annealing
   (the official loss ``||H x - y||^2 / tau^2``, i.e. a likelihood std of ``tau / sqrt(2)``);
3. ``x_{k+1} = x0 + sigma_{k+1} z``.

The likelihood needs ``H`` and ``H^T`` only (no network gradient). ``tau`` is a fixed hyper-parameter (the official
0.01 whatever the noise): ``sigma_y`` is not used, and the configs' sigma = 0.05 is in [-1, 1] units.
Defaults are DAPS-1K: 200 annealing levels x 5 ODE steps = 1000 network evaluations.

Clamping: not checked against the official code; the ODE's ``x0_hat`` is used unclamped here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..errors import SolverError
from ..operators.base import Generators, SVDOperator, randn
from ..priors.base import Prior
from .common import StepInfo, noise_like, progress
from .registry import Param, sampler

__all__ = ["daps", "edm_sigmas"]

ODE_SIGMA_MIN = 0.01  # the official diffusion_scheduler_config sigma_min


def edm_sigmas(sigma_max: float, sigma_min: float, n: int, rho: float = 7.0) -> list[float]:
    """``n`` levels ``(sigma_max^(1/rho) + u (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho``, ``u`` from 0 to 1
    (Karras et al. 2022, Eq. 5)."""
    if n == 1:
        return [sigma_max]
    a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return [(a + k / (n - 1) * (b - a)) ** rho for k in range(n)]


def _nfe(steps: int, ode_steps: int, **_: object) -> int:
    return steps * ode_steps


@sampler(
    "daps",
    paper="Zhang et al. Improving Diffusion Inverse Problem Solving with Decoupled Noise Annealing. CVPR 2025",
    summary="annealing: ODE estimate of x0, Langevin on p(x0 | x_t, y), re-noise to the next level",
    params=(
        Param("ode_steps", "Euler steps of the probability-flow ODE per annealing level", 1, None),
        Param("langevin_steps", "Langevin steps per annealing level", 0, None),
        Param("lr", "Langevin step size at the first level", 0.0, None),
        Param("lr_min_ratio", "final step size as a fraction of lr", 0.0, 1.0),
        Param("tau", "likelihood temperature: the loss is ||H x - y||^2 / tau^2", 1e-12, None),
        Param("sigma_max", "first annealing level (VE)", 1e-6, None),
        Param("sigma_min", "last annealing level before 0 (VE)", 1e-6, None),
    ),
    task_defaults={"deblur_motion": {"lr": 5e-5}},
    nfe=_nfe,
    consistency="approximate",
    noise="not modelled: tau fixes the likelihood width (official 0.01); configs use sigma = 0.05 in [-1, 1] units",
)
@torch.no_grad()
def daps(
    prior: Prior,
    operator: SVDOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 200,
    ode_steps: int = 5,
    langevin_steps: int = 100,
    lr: float = 1e-4,
    lr_min_ratio: float = 0.01,
    tau: float = 0.01,
    sigma_max: float = 100.0,
    sigma_min: float = 0.1,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """DAPS with Langevin dynamics (Algorithm 1); ``steps`` is the number of annealing levels."""
    if sigma_min > sigma_max:
        raise SolverError(f"solver daps: sigma_min ({sigma_min}) must not exceed sigma_max ({sigma_max})")
    anneal = edm_sigmas(sigma_max, sigma_min, steps) + [0.0]
    x = sigma_max * randn((y.shape[0], *operator.input_shape), generator=generator, like=y)
    for k in progress(range(steps), enabled=progress_bar, desc="daps"):
        sig = anneal[k]
        # 1. x0_hat by the probability-flow ODE (Euler), sigma_k -> 0.01
        ode = edm_sigmas(sig, min(ODE_SIGMA_MIN, sig), ode_steps + 1)
        x0_hat = x
        for a, b in zip(ode[:-1], ode[1:]):
            x0_hat = x0_hat + (b - a) / a * (x0_hat - prior.denoise(x0_hat, a))
        # 2. Langevin dynamics on p(x0 | x_t, y)
        step = lr * (1.0 + k / steps * (lr_min_ratio - 1.0))
        x0 = x0_hat
        for _ in range(langevin_steps):
            grad = 2.0 / tau**2 * operator.Ht(operator.H(x0) - y) + (x0 - x0_hat) / sig**2
            x0 = x0 - step * grad + (2.0 * step) ** 0.5 * noise_like(x0, generator)
        # 3. forward diffusion to the next level
        x_next = x0 + anneal[k + 1] * noise_like(x0, generator) if anneal[k + 1] > 0 else x0
        if callback is not None:
            callback(StepInfo(k, steps, sig, anneal[k + 1], x, x0_hat))
        x = x_next
    return x
