"""Network families beyond VP, each as the one denoiser ``D(x, sigma) -> x0_hat`` (VE form, data in [-1, 1]).

- :class:`ScoreSDEPrior`: variance-exploding score networks (NCSN, score-SDE's NCSN++; Song et al. 2021) that
  return the score ``grad log p_sigma(x) = (x0_hat - x) / sigma^2`` of data in their own range (score-SDE's VE
  models are trained on [0, 1]), so ``x0_hat = x + sigma^2 score`` after the range change.
- :class:`EDMPrior`: Karras et al.'s (2022, Table 1) preconditioning ``D(x, sigma) = c_skip x + c_out F(c_in x,
  c_noise)`` with ``c_skip = sigma_d^2 / (sigma^2 + sigma_d^2)``, ``c_out = sigma sigma_d / sqrt(sigma^2 +
  sigma_d^2)``, ``c_in = 1 / sqrt(sigma^2 + sigma_d^2)``, ``c_noise = ln(sigma) / 4``.
- :class:`FlowPrior`: flow matching / rectified flow (Lipman et al. 2023, Liu et al. 2023): ``x_t = (1 - t) x0 +
  t eps`` and the network's velocity ``v = eps - x0`` (diffusers' flow-match convention); ``x_t = (1 - t)`` times
  the VE iterate at ``sigma = t / (1 - t)``, so ``t = sigma / (1 + sigma)`` and ``x0_hat = x_t - t v``.

Each family's noise grid is its :class:`~ddrm.priors.schedule.NoiseSchedule` (geometric, Karras, flow times), so
every sampler runs on the levels the network was trained on. The network is called below the schedule's lowest
level with that level (where its conditioning would leave the trained range or be undefined: ``log 0``, ``1 / 0``).
"""

from __future__ import annotations

from torch import Tensor, nn

from .base import NetworkDenoiser, levels_on, sigma_tensor
from .schedule import NoiseSchedule

__all__ = ["ScoreSDEPrior", "EDMPrior", "FlowPrior", "EDM_PREDICTIONS"]

EDM_PREDICTIONS = ("epsilon", "v_prediction")  # diffusers' EDM output signs: c_out and -c_out


def _levels(prior: NetworkDenoiser, sigma: Tensor | float, x: Tensor) -> tuple[Tensor, Tensor]:
    """The levels as (B, 1, 1, 1) and the levels the network is conditioned on (B,), at least the schedule's lowest,
    both on ``x``'s device in its dtype (no float64 on an accelerator, no host synchronisation)."""
    sig64 = sigma_tensor(sigma, x.shape[0])
    cond = sig64.clamp(min=prior.schedule.sigma_min)
    return levels_on(sig64, x.device, x.dtype).view(-1, 1, 1, 1), levels_on(cond, x.device, x.dtype)


class ScoreSDEPrior(NetworkDenoiser):
    """A VE score network ``net(x, sigma) -> score`` (diffusers' ``UNet2DModel`` with Fourier time features divides
    by sigma itself and returns the score) on data in ``data_range`` (score-SDE's VE models: (0, 1)); ``schedule``
    holds its levels in [-1, 1] units (twice the network's own for a [0, 1] model). Other options as in
    :class:`~ddrm.priors.base.NetworkDenoiser`."""

    def __init__(self, net: nn.Module, schedule: NoiseSchedule, *, data_range: tuple[float, float] = (0.0, 1.0), **kw):
        super().__init__(net, schedule, **kw)
        lo, hi = (float(v) for v in data_range)
        if not hi > lo:
            raise ValueError(f"data_range must be (low, high) with high > low, got {data_range}")
        self.data_range = (lo, hi)

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        lo, hi = self.data_range
        half = (hi - lo) / 2  # [-1, 1] -> the network's range: x_net = lo + half (x + 1), sigma_net = half sigma
        sig, cond = _levels(self, sigma, x)
        x_net = lo + half * (x + 1)
        score = self._network(x_net, (half * cond).to(x.dtype))
        x0_net = x_net + (half * sig) ** 2 * score
        return self._finish((x0_net - lo) / half - 1)


class EDMPrior(NetworkDenoiser):
    """An EDM-preconditioned network ``F(c_in x, c_noise)`` (Karras et al. 2022) with data std ``sigma_data``;
    ``prediction`` ``"epsilon"`` (``x0 = c_skip x + c_out F``) or ``"v_prediction"`` (``- c_out F``), as diffusers'
    EDM schedulers; ``schedule`` defaults to EDM's dense grid between 0.002 and 80."""

    def __init__(
        self,
        net: nn.Module,
        schedule: NoiseSchedule | None = None,
        *,
        sigma_data: float = 0.5,
        prediction: str = "epsilon",
        **kw,
    ):
        super().__init__(net, schedule or NoiseSchedule.karras(0.002, 80.0), **kw)
        if prediction not in EDM_PREDICTIONS:
            raise ValueError(f"unknown EDM prediction {prediction!r}; choose from {', '.join(EDM_PREDICTIONS)}")
        if not sigma_data > 0:
            raise ValueError(f"sigma_data must be positive, got {sigma_data}")
        self.sigma_data, self.prediction = float(sigma_data), prediction

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        sig, cond = _levels(self, sigma, x)
        sd2 = self.sigma_data**2
        c_in = (sig * sig + sd2).rsqrt()
        c_skip = sd2 / (sig * sig + sd2)
        c_out = sig * self.sigma_data * c_in * (1 if self.prediction == "epsilon" else -1)
        out = self._network(c_in * x, (cond.log() / 4).to(x.dtype))
        return self._finish(c_skip * x + c_out * out)


class FlowPrior(NetworkDenoiser):
    """A flow-matching network ``net(x_t, N t) -> v = eps - x0`` with ``x_t = (1 - t) x0 + t eps`` and its time
    scaled by ``num_train_timesteps`` ``N`` (diffusers' flow-match schedulers); ``schedule`` defaults to its
    training times (:meth:`~ddrm.priors.schedule.NoiseSchedule.flow`)."""

    def __init__(self, net: nn.Module, schedule: NoiseSchedule | None = None, *, num_train_timesteps: int = 1000, **kw):
        super().__init__(net, schedule or NoiseSchedule.flow(num_train_timesteps), **kw)
        self.num_train_timesteps = int(num_train_timesteps)

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        sig, cond = _levels(self, sigma, x)
        t = sig / (1 + sig)
        x_t = (1 - t) * x
        v = self._network(x_t, (self.num_train_timesteps * cond / (1 + cond)).to(x.dtype))
        return self._finish(x_t - t * v)
