"""Priors: denoisers ``D(x, sigma) -> x0_hat`` on images in [-1, 1], and noise schedules."""

from .analytic import GaussianMixturePrior, GaussianPrior, gaussian_posterior
from .base import DiffusersModule, NetworkDenoiser, NetworkPrior, Prior, levels_on, sigma_tensor
from .experts import NoiseLevelExperts
from .families import EDMPrior, FlowPrior, ScoreSDEPrior
from .schedule import NoiseSchedule, VPSchedule
from .tiled import TiledPrior

__all__ = [
    "Prior",
    "NetworkPrior",
    "NetworkDenoiser",
    "DiffusersModule",
    "ScoreSDEPrior",
    "EDMPrior",
    "FlowPrior",
    "NoiseSchedule",
    "GaussianPrior",
    "GaussianMixturePrior",
    "gaussian_posterior",
    "VPSchedule",
    "TiledPrior",
    "NoiseLevelExperts",
    "sigma_tensor",
    "levels_on",
]
