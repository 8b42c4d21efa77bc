"""ddrm: zero-shot image restoration with pretrained diffusion models (DDRM and peers)."""

from .operators import OPERATORS, SVDOperator, build_operator
from .priors import GaussianMixturePrior, GaussianPrior, NetworkPrior, Prior, VPSchedule
from .samplers import SAMPLERS, ddrm

__version__ = "0.1.0"

__all__ = [
    "SVDOperator",
    "OPERATORS",
    "build_operator",
    "Prior",
    "NetworkPrior",
    "GaussianPrior",
    "GaussianMixturePrior",
    "VPSchedule",
    "ddrm",
    "SAMPLERS",
]
