"""Samplers for linear inverse problems. Each takes ``(prior, operator, y, sigma_y, *, steps, generator,
callback, ...)`` and returns restored images in the prior's data range."""

from .common import StepInfo
from .ddrm import ddrm, posterior_eta_b

SAMPLERS = {"ddrm": ddrm}

__all__ = ["ddrm", "posterior_eta_b", "StepInfo", "SAMPLERS"]
