"""Noise schedules: the levels a network was trained on, as variance-exploding noise levels.

Every prior is a denoiser in the VE form ``x = x0 + sigma eps`` (DDRM Sec. 3.2); a schedule is the ascending list of
levels ``sigma_0 < ... < sigma_{N-1}`` a sampler may visit, indexed ``t = 0..N-1``, so that the samplers' grids
(the paper's uniform timesteps, DiffPIR's quadratic one, Karras et al.'s rho-spacing) are written once for every
family of network:

- VP (DDPM/ADM): ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``; dividing by ``sqrt(abar_t)`` gives
  ``sigma_t = sqrt((1 - abar_t) / abar_t)`` (:class:`VPSchedule`).
- VE / score-SDE (NCSN, NCSN++): the network's own levels, geometric between ``sigma_min`` and ``sigma_max``
  (:meth:`NoiseSchedule.geometric`).
- EDM (Karras et al. 2022): continuous sigma; a dense rho = 7 grid between ``sigma_min`` and ``sigma_max``
  (:meth:`NoiseSchedule.karras`), whose uniform subsets are again rho-spaced.
- Flow matching / rectified flow: ``x_t = (1 - t) x_0 + t eps`` is ``(1 - t)`` times the VE iterate at
  ``sigma = t / (1 - t)``; the training times ``t = k / N`` (diffusers' flow-match grid, with its ``shift``) below
  ``t = 1`` (:meth:`NoiseSchedule.flow`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import SolverError

__all__ = ["NoiseSchedule", "VPSchedule"]


class NoiseSchedule:
    """Ascending VE noise levels ``sigmas`` (float64, positive, finite), indexed ``t = 0..N-1``: the levels a
    network was trained on (or a dense grid of a continuous-sigma network's), named ``name``."""

    def __init__(self, sigmas: Tensor, name: str = "custom"):
        sigmas = torch.as_tensor(sigmas, dtype=torch.float64).detach().cpu()
        if sigmas.ndim != 1 or sigmas.numel() < 2:
            raise ValueError("a schedule needs a 1-D tensor of at least two noise levels")
        if not (torch.isfinite(sigmas).all() and (sigmas > 0).all() and (sigmas[1:] > sigmas[:-1]).all()):
            raise ValueError("a schedule's noise levels must be finite, positive and increasing")
        self.name = name
        self.sigmas = sigmas
        self._log_sigmas = sigmas.log()

    @classmethod
    def geometric(cls, sigma_min: float, sigma_max: float, num_levels: int = 1000) -> NoiseSchedule:
        """Levels evenly spaced in ``log sigma`` (score-SDE's VE levels, NCSN's geometric sequence)."""
        levels = torch.linspace(math.log(sigma_min), math.log(sigma_max), num_levels, dtype=torch.float64).exp()
        return cls(levels, "geometric")

    @classmethod
    def karras(cls, sigma_min: float, sigma_max: float, num_levels: int = 1000, rho: float = 7.0) -> NoiseSchedule:
        """Karras et al.'s (2022, Eq. 5) levels ``(sigma_max^(1/rho) + u (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho``
        for ``u`` evenly spaced in [0, 1], ascending: the grid of a continuous-sigma (EDM) network."""
        u = torch.linspace(1, 0, num_levels, dtype=torch.float64)
        lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
        return cls((hi + u * (lo - hi)) ** rho, "karras")

    @classmethod
    def flow(cls, num_train_timesteps: int = 1000, shift: float = 1.0) -> NoiseSchedule:
        """A flow-matching network's training times ``t = k / N`` (``k = 1..N-1``; diffusers'
        ``FlowMatchEulerDiscreteScheduler``, ``t -> shift t / (1 + (shift - 1) t)``) as VE levels ``t / (1 - t)``;
        ``t = 1`` (pure noise, an infinite VE level) is left out, the top level being ``t = 1 - 1 / N``."""
        t = torch.arange(1, num_train_timesteps, dtype=torch.float64) / num_train_timesteps
        t = shift * t / (1 + (shift - 1) * t)
        return cls(t / (1 - t), "flow")

    @property
    def num_timesteps(self) -> int:
        return self.sigmas.numel()

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[-1])

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
        return f"{type(self).__name__}({self.name}, {self.num_timesteps} levels, {self.sigma_min:.3g}..{self.sigma_max:.3g})"


class VPSchedule(NoiseSchedule):
    """Discrete VP schedule with ``T`` steps, indexed ``t = 0..T-1`` as in DDPM/ADM code: ``betas``, ``abar_t``
    and the VE levels ``sigma_t = sqrt((1 - abar_t) / abar_t)``."""

    def __init__(self, betas: Tensor, name: str = "custom"):
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.ndim != 1 or not ((betas > 0) & (betas < 1)).all():
            raise ValueError("betas must be a 1-D tensor with values in (0, 1)")
        self.betas = betas
        self.alphas_cumprod = torch.cumprod(1.0 - betas, 0)
        super().__init__(((1.0 - self.alphas_cumprod) / self.alphas_cumprod).sqrt(), name)

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

    def __repr__(self) -> str:
        return f"VPSchedule({self.name}, T={self.num_timesteps})"
