"""ddrm: zero-shot image restoration with pretrained diffusion models (DDRM and peers).

The public API, in [0, 1] image units throughout:

* :func:`restore` (``ddrm.restore(y, "sr_bicubic4", sigma_y=0.02)``): a degraded image in (tensor, NumPy array or PIL
  image), the restored image out, as the same kind;
* :func:`load_prior`, :func:`build_operator`, :data:`OPERATORS`, :data:`SAMPLERS` (each solver, callable, in the
  prior's [-1, 1] units: ``sigma_y_model = 2 sigma_y``), the operator contracts and the priors;
* :class:`DDRMError`, the base of every error a user can cause.

The names are imported on first use (PEP 562), so that ``import ddrm.cli`` starts without PyTorch and an
interruption while it loads is handled like any other.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "restore": ".pipeline",
    "Restoration": ".pipeline",
    "load_prior": ".checkpoints",
    "Operator": ".operators",
    "LinearOperator": ".operators",
    "SVDOperator": ".operators",
    "OPERATORS": ".operators",
    "build_operator": ".operators",
    "Prior": ".priors",
    "NetworkPrior": ".priors",
    "GaussianPrior": ".priors",
    "GaussianMixturePrior": ".priors",
    "VPSchedule": ".priors",
    "NoiseSchedule": ".priors",
    "ScoreSDEPrior": ".priors",
    "EDMPrior": ".priors",
    "FlowPrior": ".priors",
    "ddrm": ".samplers",
    "SAMPLERS": ".samplers",
    "EXAMPLE_IMAGE": ".app.demo",
    "DDRMError": ".errors",
    "TaskError": ".errors",
    "InputError": ".errors",
    "SolverError": ".errors",
    "CheckpointError": ".errors",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ddrm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
