"""Every family of diffusion network as one denoiser (issue 31): VE score-SDE, EDM and flow-matching priors.

Three checks per family:
- against the reference implementation: a tiny random diffusers ``UNet2DModel`` saved with the family's diffusers
  scheduler, loaded by ``load_prior("hf:FOLDER")``; one sampling step of diffusers' own scheduler (the reverse-SDE
  predictor's mean for VE, Euler for EDM and flow) equals the same step written with our denoiser;
- the parametrisation is exact: a network that returns the family's output of a Gaussian prior's closed-form
  denoiser, wrapped by the family's prior, gives back that denoiser at every level of the family's grid;
- the Gaussian-posterior test (as ``tests/test_samplers.py``) passes with each parametrisation of the same prior on
  the family's own noise grid.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ddrm.checkpoints import load_prior
from ddrm.errors import CheckpointError
from ddrm.operators import build_operator
from ddrm.priors import (
    EDMPrior,
    FlowPrior,
    GaussianPrior,
    NoiseSchedule,
    ScoreSDEPrior,
    VPSchedule,
    gaussian_posterior,
)
from ddrm.samplers import SAMPLERS

DT = torch.float64
SHAPE = (3, 8, 12)

diffusers = pytest.importorskip(
    "diffusers", reason="the reference checks need diffusers (pip install 'ddrm[diffusers]')"
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------- schedules
def test_schedules_are_the_families_levels():
    vp = VPSchedule.linear()
    assert vp.num_timesteps == 1000 and vp.sigma_min == pytest.approx(0.01, rel=1e-3)
    geo = NoiseSchedule.geometric(0.02, 700.0, 2000)
    ratios = geo.sigmas[1:] / geo.sigmas[:-1]
    assert torch.allclose(ratios, ratios[0].expand_as(ratios)) and geo.sigma_max == pytest.approx(700.0)
    edm = NoiseSchedule.karras(0.002, 80.0, 1000)
    assert edm.sigma_min == pytest.approx(0.002) and edm.sigma_max == pytest.approx(80.0)
    # a uniform subset of a rho-spaced grid is rho-spaced: the sampler's 10 levels follow EDM's Eq. 5 with N = 10
    levels = edm.sigma_grid(10)[:-1].flip(0)
    i = edm.timesteps(10).flip(0).double() / 999
    expected = (80.0 ** (1 / 7) + (1 - i) * (0.002 ** (1 / 7) - 80.0 ** (1 / 7))) ** 7
    torch.testing.assert_close(levels, expected)
    flow = NoiseSchedule.flow(1000, shift=3.0)
    t = flow.sigmas / (1 + flow.sigmas)
    ref = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0).sigmas.double()
    torch.testing.assert_close(t, ref.flip(0)[:-1], atol=1e-6, rtol=0)  # diffusers' training times below t = 1
    with pytest.raises(ValueError, match="increasing"):
        NoiseSchedule(torch.tensor([1.0, 0.5]))


# ---------------------------------------------------------------------- against diffusers' own schedulers
def tiny_unet(fourier: bool = False) -> nn.Module:
    torch.manual_seed(0)  # diffusers initialises its weights from the global generator: a fixed network
    return diffusers.UNet2DModel(
        sample_size=16,
        in_channels=3,
        out_channels=3,
        layers_per_block=1,
        block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
        time_embedding_type="fourier" if fourier else "positional",
    ).eval()


def saved(tmp_path, unet, scheduler) -> str:
    unet.save_pretrained(tmp_path / "unet")
    scheduler.save_pretrained(tmp_path / "scheduler")
    return f"hf:{tmp_path}"


def test_ve_score_sde_matches_the_reverse_sde_predictor(tmp_path):
    unet = tiny_unet(fourier=True)
    sched = diffusers.ScoreSdeVeScheduler(sigma_min=0.01, sigma_max=50.0, num_train_timesteps=100)
    prior = load_prior(saved(tmp_path, unet, sched))
    assert isinstance(prior, ScoreSDEPrior) and prior.schedule.sigma_max == pytest.approx(100.0)
    sched.set_timesteps(10)
    sched.set_sigmas(10)
    x = torch.rand(2, 3, 16, 16, generator=gen(0)) * 3  # the network's [0, 1] data plus noise
    for i in (0, 4, 9):
        t = sched.timesteps[i]
        idx = int((t * (len(sched.timesteps) - 1)).long())
        sigma = sched.discrete_sigmas[idx]
        with torch.no_grad():
            score = unet(x, sigma.expand(2)).sample
            ref = sched.step_pred(score, t, x, generator=gen(1)).prev_sample_mean
            x0 = (prior.denoise(2 * x - 1, 2 * float(sigma)) + 1) / 2  # [0, 1] data <-> [-1, 1], sigma doubled
        adjacent = float(sched.get_adjacent_sigma(torch.tensor([idx]), t))
        ours = x + (float(sigma) ** 2 - adjacent**2) * (x0 - x) / float(sigma) ** 2  # score = (x0 - x) / sigma^2
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_edm_matches_diffusers_euler(tmp_path, prediction):
    unet = tiny_unet()
    sched = diffusers.EDMEulerScheduler(sigma_min=0.002, sigma_max=80.0, sigma_data=0.5, prediction_type=prediction)
    prior = load_prior(saved(tmp_path, unet, sched))
    assert isinstance(prior, EDMPrior) and prior.prediction == prediction
    sched.set_timesteps(8)
    x = 80.0 * torch.randn(2, 3, 16, 16, generator=gen(0))
    for i, t in enumerate(sched.timesteps):
        sigma, sigma_next = float(sched.sigmas[i]), float(sched.sigmas[i + 1])
        with torch.no_grad():
            out = unet(sched.scale_model_input(x, t), t).sample
            ref = sched.step(out, t, x).prev_sample
            x0 = prior.denoise(x, sigma)
        ours = x0 + sigma_next / sigma * (x - x0)  # DDIM (eta 0) in VE form is EDM's Euler step
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4 * max(1.0, sigma))
        x = ref


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_flow_matches_diffusers_flow_match_euler(tmp_path, shift):
    unet = tiny_unet()
    sched = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
    prior = load_prior(saved(tmp_path, unet, sched))
    assert isinstance(prior, FlowPrior)
    sched.set_timesteps(8)
    x = torch.randn(2, 3, 16, 16, generator=gen(0))
    for i, t in enumerate(sched.timesteps):
        tau, tau_next = float(sched.sigmas[i]), float(sched.sigmas[i + 1])
        with torch.no_grad():
            ref = sched.step(unet(x, t).sample, t, x).prev_sample
            if tau < 1:  # t = 1 is pure noise: an infinite VE level (the schedule's top is t = 1 - 1/N)
                s, s_next = tau / (1 - tau), tau_next / (1 - tau_next)
                x_ve = x / (1 - tau)
                x0 = prior.denoise(x_ve, s)
                ours = (1 - tau_next) * (x0 + s_next / s * (x_ve - x0))
                torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)
        x = ref


def test_unknown_scheduler_and_dynamic_shift_are_refused(tmp_path):
    unet = tiny_unet()
    with pytest.raises(CheckpointError, match="not one ddrm reads"):
        load_prior(saved(tmp_path / "a", unet, diffusers.CMStochasticIterativeScheduler()))
    flow = diffusers.FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True)
    with pytest.raises(CheckpointError, match="dynamic shifting"):
        load_prior(saved(tmp_path / "b", unet, flow))


# ---------------------------------------------------------------------- the same Gaussian prior, three ways
def gauss_prior() -> GaussianPrior:
    base = GaussianPrior.stationary(SHAPE, dtype=DT)
    return GaussianPrior(base.mean * 0.5, base.spectrum * 0.25)


class AsNetwork(nn.Module):
    """A Gaussian prior's closed-form denoiser, answering as a network of one family: the input and condition are
    turned back into ``(x, sigma)`` the family's way, and ``D(x, sigma)`` into the family's output."""

    def __init__(self, gauss: GaussianPrior, family: str, **kw):
        super().__init__()
        self.gauss, self.family, self.kw = gauss, family, kw

    def forward(self, x_in, cond):
        c = cond.double().view(-1, 1, 1, 1)
        if self.family == "ve":  # [0, 1] data, the network's own sigma; returns the score
            x0 = (self.gauss.denoise(2 * x_in - 1, 2 * c.flatten()) + 1) / 2
            return (x0 - x_in) / c**2
        if self.family == "edm":  # c_noise = ln(sigma) / 4, input c_in x; returns F
            sigma, sd = torch.exp(4 * c), self.kw["sigma_data"]
            x = x_in * (sigma**2 + sd**2).sqrt()
            d = self.gauss.denoise(x, sigma.flatten())
            c_skip, c_out = sd**2 / (sigma**2 + sd**2), sigma * sd / (sigma**2 + sd**2).sqrt()
            return (d - c_skip * x) / c_out
        t = c / self.kw["num_train_timesteps"]  # flow: time scaled by N, x_t = (1 - t) x0 + t eps; returns eps - x0
        sigma = t / (1 - t)
        return (x_in - self.gauss.denoise(x_in / (1 - t), sigma.flatten())) / t


def family_prior(family: str) -> torch.nn.Module:
    gauss = gauss_prior()
    if family == "vp":  # the closed form itself on the VP grid (DDPM's linear schedule): the reference row
        return gauss
    if family == "ve":
        return ScoreSDEPrior(AsNetwork(gauss, "ve"), NoiseSchedule.geometric(0.02, 200.0, 1000))
    if family == "edm":
        return EDMPrior(AsNetwork(gauss, "edm", sigma_data=0.5), NoiseSchedule.karras(0.002, 80.0), sigma_data=0.5)
    return FlowPrior(AsNetwork(gauss, "flow", num_train_timesteps=1000), NoiseSchedule.flow(1000, shift=3.0))


FAMILIES = ["ve", "edm", "flow"]


@pytest.mark.parametrize("family", FAMILIES)
def test_the_parametrisation_gives_back_the_denoiser(family):
    prior, gauss = family_prior(family), gauss_prior()
    levels = prior.schedule.sigmas[:: prior.schedule.num_timesteps // 10]
    x = gauss.sample(len(levels), gen(0)) + levels.view(-1, 1, 1, 1) * torch.randn(len(levels), *SHAPE, generator=gen(1), dtype=DT)  # fmt: skip
    got, want = prior.denoise(x, levels), gauss.denoise(x, levels)
    rel = ((got - want).flatten(1).norm(dim=1) / want.flatten(1).norm(dim=1)).max().item()
    assert rel < 1e-9, rel


# (worst error / prior-mean error, lowest and highest variance ratio) over draws 0-4 (x, y and chain) at 1 and 2 threads
# (the two agree to 5e-6); N = 256 samples. The bound is 1.5 x the worst plus 0.01, the variance band 0.8 x the lowest
# to 1.25 x the highest (plus 0.01), as tests/test_samplers.py. No method samples the exact posterior at its
# defaults; the grids differ (VP: DDPM's 1000 levels; VE geometric 0.02-200; EDM rho = 7, 0.002-80; flow: shift 3),
# so each family has its own band, and the figures show each family as close to the posterior as the VP network.
MEASURED = {
    ("vp", "ddrm", "sr"): (0.070, 0.200, 0.207),
    ("vp", "ddrm", "deblur_gauss"): (0.255, 0.293, 0.303),
    ("vp", "ddnm", "sr"): (0.023, 0.621, 0.634),
    ("vp", "ddnm", "deblur_gauss"): (0.068, 0.000, 0.000),
    ("vp", "pigdm", "sr"): (0.232, 0.396, 0.404),
    ("vp", "pigdm", "deblur_gauss"): (0.452, 0.479, 0.493),
    ("ve", "ddrm", "sr"): (0.065, 0.409, 0.421),
    ("ve", "ddrm", "deblur_gauss"): (0.433, 0.253, 0.257),
    ("ve", "ddnm", "sr"): (0.018, 0.694, 0.711),
    ("ve", "ddnm", "deblur_gauss"): (0.068, 0.000, 0.000),
    ("ve", "pigdm", "sr"): (0.357, 0.352, 0.359),
    ("ve", "pigdm", "deblur_gauss"): (0.594, 0.473, 0.477),
    ("edm", "ddrm", "sr"): (0.068, 0.346, 0.357),
    ("edm", "ddrm", "deblur_gauss"): (0.365, 0.269, 0.273),
    ("edm", "ddnm", "sr"): (0.019, 0.707, 0.720),
    ("edm", "ddnm", "deblur_gauss"): (0.068, 0.000, 0.000),
    ("edm", "pigdm", "sr"): (0.296, 0.403, 0.406),
    ("edm", "pigdm", "deblur_gauss"): (0.465, 0.520, 0.526),
    ("flow", "ddrm", "sr"): (0.071, 0.187, 0.194),
    ("flow", "ddrm", "deblur_gauss"): (0.245, 0.293, 0.303),
    ("flow", "ddnm", "sr"): (0.023, 0.628, 0.639),
    ("flow", "ddnm", "deblur_gauss"): (0.068, 0.000, 0.000),
    ("flow", "pigdm", "sr"): (0.224, 0.408, 0.416),
    ("flow", "pigdm", "deblur_gauss"): (0.431, 0.491, 0.506),
}


def posterior_errors(family: str, solver: str, op_name: str, seed: int = 0) -> tuple[float, float]:
    """The mean of 256 draws against the exact posterior mean (relative to the prior mean's distance) and the
    sample variance over the posterior's, for draw ``seed`` of (x, y, chain)."""
    prior, gauss = family_prior(family), gauss_prior()
    params = {"factor": 2} if op_name == "sr" else {}
    op = build_operator(op_name, SHAPE, dtype=DT, **params)
    sigma_y = 0.0 if solver == "ddnm" else 0.1  # DDNM's plain form is for noiseless measurements
    x = gauss.sample(1, gen(3 + 100 * seed))
    y = op.measure(x, sigma_y, gen(4 + 100 * seed))
    n = op.n
    dense = op.H(torch.eye(n, dtype=DT).reshape(n, *op.input_shape)).reshape(n, -1).T
    post_mean, post_cov = gaussian_posterior(
        gauss.mean.reshape(-1), gauss.covariance(), dense, y.reshape(1, -1), sigma_y
    )
    runs = 256
    out = SAMPLERS[solver].run(prior, op, y.expand(runs, *y.shape[1:]), sigma_y, generator=gen(1 + 100 * seed))
    out = out.reshape(runs, -1)
    err = (out.mean(0) - post_mean[0]).norm().item()
    prior_err = (gauss.mean.reshape(-1) - post_mean[0]).norm().item()
    mc = math.sqrt(max(post_cov.diagonal().sum().item(), 0.0) / runs)
    ratio = (out.var(0).mean() / post_cov.diagonal().mean()).item()
    print(f"{family:4s} {solver:6s} {op_name:12s} seed {seed}: error {err / prior_err:.3f} (Monte Carlo "
          f"{mc / prior_err:.3f}), variance ratio {ratio:.2f}")  # fmt: skip
    return err / prior_err, ratio


@pytest.mark.parametrize("family", ["vp", *FAMILIES])
@pytest.mark.parametrize("solver", ["ddrm", "ddnm", "pigdm"])
@pytest.mark.parametrize("op_name", ["sr", "deblur_gauss"])
def test_posterior_on_each_familys_grid(family, solver, op_name):
    """The Gaussian-posterior test with the same prior as a VP, VE, EDM and flow network, each sampler on the
    family's own grid: the sample mean within the measured band of the exact posterior mean, the sample variance
    within the measured band of the posterior's (the VP row is the reference the others are read against)."""
    err, ratio = posterior_errors(family, solver, op_name)
    worst, low, high = MEASURED[family, solver, op_name]
    assert err < 1.5 * worst + 0.01, (err, worst)
    assert 0.8 * low - 0.01 < ratio < 1.25 * high + 0.01, (ratio, low, high)


def test_levels_on_a_device_keep_their_values():
    """``levels_on``: the host levels in the asked dtype; one level shared by the batch is made on the device itself
    (a fill: no copy), different ones copied (checked on the CPU and on PyTorch's meta device, which has no data)."""
    from ddrm.priors import levels_on

    same, mixed = torch.full((3,), 0.25, dtype=torch.float64), torch.tensor([0.1, 2.0, 80.0], dtype=torch.float64)
    for levels in (same, mixed):
        got = levels_on(levels, torch.device("cpu"), torch.float32)
        assert got.dtype == torch.float32 and torch.equal(got, levels.float())
        meta = levels_on(levels, torch.device("meta"), torch.bfloat16)
        assert meta.device.type == "meta" and meta.dtype == torch.bfloat16 and meta.shape == (3,)
