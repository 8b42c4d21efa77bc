"""Variance-preserving noise schedules and their variance-exploding noise levels.

A VP diffusion has ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``. Dividing by ``sqrt(abar_t)`` gives the
VE form used by DDRM (Sec. 3.2): ``x_t / sqrt(abar_t) = x_0 + sigma_t eps`` with
``sigma_t = sqrt((1 - abar_t) / abar_t)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import SolverError

__all__ = ["VPSchedule"]


class VPSchedule:
    """Discrete VP schedule with ``T`` steps, indexed ``t = 0..T-1`` as in DDPM/ADM code."""

    def __init__(self, betas: Tensor, name: str = "custom"):
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.ndim != 1 or not ((betas > 0) & (betas < 1)).all():
            raise ValueError("betas must be a 1-D tensor with values in (0, 1)")
        self.name = name
        self.betas = betas
        self.alphas_cumprod = torch.cumprod(1.0 - betas, 0)
        self.sigmas = ((1.0 - self.alphas_cumprod) / self.alphas_cumprod).sqrt()
        self._log_sigmas = self.sigmas.log()

    @property
    def num_timesteps(self) -> int:
        return self.betas.numel()

    @classmethod
    def linear(cls, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> VPSchedule:
        """DDPM's linear betas (Ho et al. 2020), used by every checkpoint DDRM evaluates."""
        return cls(torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64), "linear")

    @classmethod
    def cosine(cls, num_timesteps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> VPSchedule:
        """Nichol & Dhariwal's cosine schedule, ``abar(t) = cos^2((t/T + s)/(1 + s) pi/2)``, betas clipped."""
        t = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
        f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(max=max_beta)
        return cls(betas, "cosine")

    @classmethod
    def from_name(cls, name: str, num_timesteps: int = 1000) -> VPSchedule:
        if name == "linear":
            return cls.linear(num_timesteps)
        if name == "cosine":
            return cls.cosine(num_timesteps)
        raise ValueError(f"unknown schedule {name!r}; choose 'linear' or 'cosine'")

    def sigma_to_t(self, sigma: Tensor | float) -> Tensor:
        """Continuous timestep for a VE noise level: linear interpolation in ``log sigma`` (exact on the grid)."""
        sigma = torch.as_tensor(sigma, dtype=torch.float64)
        log_sigma = sigma.clamp(min=self.sigmas[0].item(), max=self.sigmas[-1].item()).log()
        idx = torch.searchsorted(self._log_sigmas, log_sigma.reshape(-1)).clamp(1, self.num_timesteps - 1)
        lo, hi = self._log_sigmas[idx - 1], self._log_sigmas[idx]
        w = ((log_sigma.reshape(-1) - lo) / (hi - lo)).clamp(0, 1)
        return ((idx - 1).double() + w).reshape(sigma.shape)

    def timesteps(self, steps: int, start: float = 1.0) -> Tensor:
        """``steps`` indices ``floor(i T0 / steps)``, descending, with ``T0 = round(start T)`` (DDRM's
        ``range(0, T0, T0 // steps)`` when it divides). ``start < 1`` runs only the low-noise part of the diffusion,
        for a chain started from an image noised to the first level (SDEdit, Meng et al. 2022; DDRM-JPEG's
        ``init_timestep``)."""
        if not (isinstance(start, (int, float)) and 0 < start <= 1):
            raise SolverError(f"start must lie in (0, 1], got {start!r}")
        top = round(start * self.num_timesteps)
        if not 1 <= steps <= top:
            raise SolverError(f"steps must lie in 1..{top} (start {start:g} of {self.num_timesteps}), got {steps}")
        i = torch.arange(steps, dtype=torch.float64)
        return torch.floor(i * top / steps).long().flip(0)

    def sigma_grid(self, steps: int, start: float = 1.0) -> Tensor:
        """Descending VE noise levels ``sigma_{t_N} > ... > sigma_{t_1} > 0`` for a sampler with ``steps`` steps
        over the first ``start`` of the timesteps (:meth:`timesteps`).

        The trailing 0 is the clean level reached by the last step (DDIM/DDRM's ``t = -1``, ``abar = 1``).
        """
        return torch.cat([self.sigmas[self.timesteps(steps, start)], torch.zeros(1, dtype=torch.float64)])

    def __repr__(self) -> str:
        return f"VPSchedule({self.name}, T={self.num_timesteps})"
