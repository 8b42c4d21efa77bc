"""Priors: denoisers ``D(x, sigma) -> x0_hat`` on images in [-1, 1], and noise schedules."""

from .analytic import GaussianMixturePrior, GaussianPrior, gaussian_posterior
from .base import NetworkPrior, Prior, sigma_tensor
from .experts import NoiseLevelExperts
from .schedule import VPSchedule
from .tiled import TiledPrior

__all__ = [
    "Prior",
    "NetworkPrior",
    "GaussianPrior",
    "GaussianMixturePrior",
    "gaussian_posterior",
    "VPSchedule",
    "TiledPrior",
    "NoiseLevelExperts",
    "sigma_tensor",
]
