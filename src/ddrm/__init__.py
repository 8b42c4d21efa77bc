"""ddrm: zero-shot image restoration with pretrained diffusion models (DDRM and peers).

The names below are imported on first use (PEP 562), so that ``import ddrm.cli`` starts without PyTorch and an
interruption while it loads is handled like any other.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "SVDOperator": ".operators",
    "OPERATORS": ".operators",
    "build_operator": ".operators",
    "Prior": ".priors",
    "NetworkPrior": ".priors",
    "GaussianPrior": ".priors",
    "GaussianMixturePrior": ".priors",
    "VPSchedule": ".priors",
    "ddrm": ".samplers",
    "SAMPLERS": ".samplers",
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
