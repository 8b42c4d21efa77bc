"""A measurement seen in the spectral space of ``H = U S V^T``, and the updates that live there.

Several methods act coordinate-wise on ``xbar = V^T x`` with ``ybar = S^+ U^T y``: DDRM's Eq. 7 (also DDNM+'s
Eq. 17/19 with its SVD, and the DDRM step of DDRM+MCG), the replacement of the observed coordinates by a noised
measurement (MCG's projection, ILVR's range-space refinement, RePaint's known region), and the weighted residuals
``V diag(w(s)) U^T (y - H x)`` of PiGDM and DMPS. They are written here once, on :class:`Spectral`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import torch
from torch import Tensor

from ..operators.base import SVDOperator

__all__ = ["Spectral", "EtaB"]

EtaB = float | Callable[[float, float, Tensor], Tensor]


class Spectral:
    """``y`` and ``H`` in spectral coordinates: ``s`` (1 or B, n), the observed mask, ``U^T y`` and ``ybar``.

    Coordinates whose singular value is round-off (``operator.support()``) count as unobserved.
    """

    def __init__(self, operator: SVDOperator, y: Tensor, sigma_y_model: float):
        self.operator = operator
        self.sigma_y_model = float(sigma_y_model)
        self.s = operator.singulars().to(y.dtype)
        self.observed = operator.support()
        self.s_safe = torch.where(self.observed, self.s, torch.ones_like(self.s))
        ut_y = operator.Ut(y)
        self.ut_y = torch.where(self.observed, ut_y, torch.zeros_like(ut_y))  # U^T y, zero off the support
        self.ybar = self.ut_y / self.s_safe  # S^+ U^T y
        self.shape = ut_y.shape

    # ------------------------------------------------------------------ basis changes
    def to_spec(self, x: Tensor) -> Tensor:
        return self.operator.Vt(x)

    def to_image(self, xbar: Tensor) -> Tensor:
        return self.operator.V(xbar)

    # ------------------------------------------------------------------ residuals
    def residual(self, x: Tensor) -> Tensor:
        """``U^T (y - H x)`` in spectral coordinates (zero off the support)."""
        return self.ut_y - self.s * self.to_spec(x)

    def weighted_residual(self, x: Tensor, weight: Tensor) -> Tensor:
        """``V diag(weight) U^T (y - H x)``: e.g. ``weight = 1/s`` gives ``H^+ (y - H x)``, ``weight = s`` ``H^T (y - H x)``."""
        return self.to_image(torch.where(self.observed, weight, torch.zeros_like(weight)) * self.residual(x))

    def pinv_residual(self, x: Tensor) -> Tensor:
        """``H^+ (y - H x)``: the range-space correction of DDNM (Eq. 13) and the projection step of MCG."""
        return self.weighted_residual(x, 1.0 / self.s_safe)

    # ------------------------------------------------------------------ projections onto the measurement
    def replace_observed(self, xbar: Tensor, sigma: float, z: Tensor | None) -> Tensor:
        """Spectral coordinates with the observed ones set to ``ybar + sigma z`` (the measurement noised to level
        ``sigma``, as the forward process would noise ``V^T x0`` there); the null space is kept."""
        target = self.ybar if sigma == 0 or z is None else self.ybar + sigma * z
        return torch.where(self.observed, target, xbar)

    def project(self, x: Tensor, sigma: float, z: Tensor | None) -> Tensor:
        """Image-space version of :meth:`replace_observed`: ``x + H^+ (y_sigma - H x)`` with ``y_sigma`` noised to
        ``sigma`` through ``H`` (ILVR's ``x - phi(x) + phi(y_t)`` for any ``H``; MCG's projection)."""
        return self.to_image(self.replace_observed(self.to_spec(x), sigma, z))

    # ------------------------------------------------------------------ DDRM (Kawar et al. 2022)
    @cached_property
    def _ddrm(self) -> dict[str, Tensor]:
        """Constants of Eq. 7 computed once: ``nu^2 = (sigma_y / s)^2`` and the case-2 terms over ``sigma_y``."""
        obs, s = self.observed, self.s
        nu2 = torch.where(obs, (self.sigma_y_model / self.s_safe) ** 2, torch.full_like(s, float("inf")))
        inv_sy = 1.0 / self.sigma_y_model if self.sigma_y_model > 0 else 0.0
        # with sigma_y = 0 every observed coordinate is in case 3, so the case-2 terms stay zero
        return {
            "nu2": nu2,
            "nu2_obs": torch.where(obs, nu2, torch.zeros_like(nu2)),
            "unobserved": (~obs).to(s.dtype),
            "s_sy": torch.where(obs, s, torch.zeros_like(s)) * inv_sy,
            "uty_sy": self.ut_y * inv_sy,
        }

    def ddrm_init(self, sigma: float, z: Tensor, mean: Tensor | None = None) -> Tensor:
        """Eq. 8: ``xbar_T ~ N(ybar, sigma_T^2 - sigma_y^2 / s_i^2)`` where ``sigma_T >= sigma_y / s_i``, else
        ``N(0, sigma_T^2)``. With ``mean`` (spectral coordinates of a starting image) the second case is
        ``N(mean, sigma_T^2)``: the start image noised to ``sigma_T`` (SDEdit) wherever ``y`` does not pin the
        coordinate down better."""
        nu2 = self._ddrm["nu2"]
        init_obs = nu2 <= sigma**2
        free = sigma * z if mean is None else mean + sigma * z
        return torch.where(init_obs, self.ybar + (sigma**2 - nu2.clamp(max=sigma**2)).sqrt() * z, free)

    def ddrm_step(
        self, xbar: Tensor, x0bar: Tensor, sigma: float, sigma_next: float, eta: float, eta_b: EtaB, z: Tensor
    ) -> Tensor:
        """Eq. 7: the next spectral iterate from the current one ``xbar`` (level ``sigma``) and the denoised
        ``x0bar``, at level ``sigma_next``; written with fused arithmetic, as this runs every step."""
        c = self._ddrm
        keep = (1.0 - eta**2) ** 0.5 * sigma_next
        # Eq. 7 first two cases share the form  xbar0 + sqrt(1 - eta^2) sigma_t d + eta sigma_t z  with
        #   s_i = 0:                   d = (xbar_{t+1} - xbar0) / sigma_{t+1}
        #   sigma_t < sigma_y / s_i:   d = (ybar - xbar0) / (sigma_y / s_i) = (U^T y - s xbar0) / sigma_y
        d = torch.addcmul(c["uty_sy"], c["s_sy"], x0bar, value=-1.0)  # zero where unobserved
        d.addcmul_(c["unobserved"], xbar - x0bar, value=1.0 / sigma)
        # Eq. 7 third case, sigma_t >= sigma_y / s_i:
        #   (1 - eta_b) xbar0 + eta_b ybar + sqrt(sigma_t^2 - sigma_y^2 eta_b^2 / s_i^2) z
        eb = eta_b(sigma_next, self.sigma_y_model, self.s) if callable(eta_b) else eta_b
        case3 = (c["nu2"] <= sigma_next**2).to(xbar.dtype)
        std3 = (sigma_next**2 - c["nu2_obs"] * (eb * eb)).clamp_min(0.0).sqrt()  # only used where case3 = 1
        std = (std3 - eta * sigma_next).mul_(case3).add_(eta * sigma_next)  # eta sigma_t outside case 3
        d.mul_(1.0 - case3)  # masks by multiplication: cheaper than torch.where, and d is finite everywhere
        out = torch.add(x0bar, d, alpha=keep)
        out.addcmul_(case3 * eb, self.ybar - x0bar)
        out.addcmul_(std, z)
        return out
