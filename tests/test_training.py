"""The training loop of the built-in prior: runs, resumes, exports, and the export loads as 'builtin'."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

import ddrm.checkpoints.loading as loading
from ddrm.checkpoints import CheckpointError, load_prior
from ddrm.models import ADMConfig
from ddrm.priors import NetworkPrior, VPSchedule
from ddrm.training import PatchSampler, export_builtin, learning_rate, train, training_target

TINY = ADMConfig(
    image_size=32,
    model_channels=32,
    out_channels=3,
    channel_mult=(1, 2),
    num_res_blocks=1,
    attention_ds=(),
    middle_attention=False,
    num_head_channels=32,
)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        small = (rng.random((12, 16, 3)) * 255).astype(np.uint8)
        Image.fromarray(small).resize((160, 120), Image.Resampling.BICUBIC).save(folder / f"p{i}.png")
    return folder


def test_learning_rate_schedule():
    lr = [learning_rate(s, 1e-3, 2000, decay_from=1000) for s in range(2000)]
    assert lr[0] == pytest.approx(1e-3 / 500) and lr[499] == pytest.approx(1e-3)  # linear warm-up
    assert lr[999] == lr[1000] == pytest.approx(1e-3)  # constant until the decay starts
    assert lr[1500] == pytest.approx(0.5e-3)  # half-way down the cosine
    assert all(a >= b for a, b in zip(lr[1000:], lr[1001:])) and lr[-1] < 1e-8
    assert learning_rate(1500, 1e-3, 2000) == 1e-3  # no decay asked
    with pytest.raises(ValueError, match="decay_from"):
        train(None, None, steps=100, decay_from=100)


def test_patch_sampler(photos):
    s = PatchSampler(photos, 32, generator=torch.Generator().manual_seed(0))
    b = s.batch(5)
    assert b.shape == (5, 3, 32, 32) and b.min() >= -1 and b.max() <= 1
    s2 = PatchSampler(photos, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(b, s2.batch(5))  # explicit generator: same seed, same crops


def test_train_resume_export_and_load(photos, tmp_path, monkeypatch):
    out = tmp_path / "run"
    ckpt = train(photos, out, steps=3, batch=2, crop=32, config=TINY, progress=False, save_every=2)
    state = torch.load(ckpt, weights_only=True)
    assert int(state["step"]) == 3
    train(photos, out, steps=5, batch=2, crop=32, config=TINY, progress=False)  # resumes at step 3
    assert int(torch.load(ckpt, weights_only=True)["step"]) == 5
    rows = list(csv.reader(open(out / "loss.csv")))
    assert rows[0] == ["step", "loss", "lr", "seconds"] and [int(r[0]) for r in rows[1:]] == [1, 2, 3, 4, 5]
    assert all(np.isfinite(float(r[1])) for r in rows[1:])

    dest = tmp_path / "weights"
    export_builtin(ckpt, dest)
    meta = json.loads((dest / "builtin.json").read_text())
    assert meta["train_steps"] == 5 and len(meta["sha256"]) == 64
    monkeypatch.setattr(loading, "BUILTIN_DIR", dest)
    prior = load_prior("builtin")
    x = torch.randn(1, 3, 20, 28)  # any size: padded to the stride inside the prior
    with torch.no_grad():
        assert prior.denoise(x, 0.5).shape == x.shape
    raw = bytearray((dest / "builtin.safetensors").read_bytes())
    raw[-1] ^= 1
    (dest / "builtin.safetensors").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_prior("builtin")


class Oracle(torch.nn.Module):
    """A 'network' returning the training target of a known (x0, eps): the wrapper must turn it back into x0."""

    def __init__(self, x0, eps, sigma, prediction):
        super().__init__()
        self.target = training_target(x0, eps, sigma.view(-1, 1, 1, 1), prediction)

    def forward(self, x_t, t):
        return self.target


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_training_target_inverts_in_the_prior(prediction):
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 3, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    sigma = torch.tensor([0.01, 1.0, 150.0], dtype=torch.float64)
    prior = NetworkPrior(Oracle(x0, eps, sigma, prediction), VPSchedule.linear(), prediction=prediction)
    x = x0 + sigma.view(-1, 1, 1, 1) * eps  # the VE point the sampler holds
    torch.testing.assert_close(prior.denoise(x, sigma), x0, rtol=0, atol=1e-9 * (1 + 150.0 * (prediction == "epsilon")))
    if prediction == "v_prediction":  # at sigma_max, v ~ -x0: the target stays O(1) where eps's x0 error is x sigma
        assert training_target(x0, eps, sigma.view(-1, 1, 1, 1), prediction)[2].abs().max() < 1.1
    with pytest.raises(ValueError, match="prediction"):
        training_target(x0, eps, sigma, "score")


def test_clip_x0():
    class Wild(torch.nn.Module):
        def forward(self, x_t, t):
            return torch.full_like(x_t, 5.0)

    x = torch.zeros(1, 3, 4, 4)
    assert NetworkPrior(Wild(), prediction="sample").denoise(x, 1.0).max() == 5.0  # off by default
    clipped = NetworkPrior(Wild(), prediction="sample", clip_x0=True).denoise(x, 1.0)
    assert clipped.max() == 1.0 and clipped.min() == 1.0


def test_v_prediction_training_init_and_export(photos, tmp_path, monkeypatch):
    eps_run = tmp_path / "eps"
    train(photos, eps_run, steps=2, batch=2, crop=32, config=TINY, progress=False, prediction="epsilon")
    dest = tmp_path / "w1"
    export_builtin(eps_run / "checkpoint.pt", dest)
    assert json.loads((dest / "builtin.json").read_text())["prediction"] == "epsilon"
    # start a v-prediction run from the exported eps weights; lr 0 keeps them, so the init is visible
    v_run = tmp_path / "v"
    ckpt = train(
        photos,
        v_run,
        steps=1,
        batch=2,
        crop=32,
        config=TINY,
        progress=False,
        prediction="v_prediction",
        init=dest / "builtin.safetensors",
        lr=0.0,
    )
    state = torch.load(ckpt, weights_only=True)
    from safetensors.torch import load_file

    init = load_file(dest / "builtin.safetensors")
    assert state["prediction"] == "v_prediction"
    assert all(torch.equal(state["model"][k], v) for k, v in init.items())
    with pytest.raises(ValueError, match="prediction='v_prediction'"):  # resuming must not switch targets
        train(photos, v_run, steps=2, batch=2, crop=32, config=TINY, progress=False, prediction="epsilon")
    dest2 = tmp_path / "w2"
    export_builtin(ckpt, dest2, {"clip_x0": True})
    monkeypatch.setattr(loading, "BUILTIN_DIR", dest2)
    prior = load_prior("builtin")
    assert prior.prediction == "v_prediction" and prior.clip_x0
    assert not load_prior("builtin", clip_x0=False).clip_x0


def test_sample_levels_range_and_distribution():
    from ddrm.training import sample_levels

    sched = VPSchedule.linear()
    lo, hi = 0.05, 10.0
    gen = torch.Generator().manual_seed(0)
    s = sample_levels(40000, sched, gen, "lognormal", 0.0, (lo, hi))
    assert s.min() >= lo and s.max() <= hi
    # truncated log-normal: the empirical CDF of log sigma matches N(-1.2, 1.2^2) restricted to [log lo, log hi]
    z = (s.log() + 1.2) / 1.2
    a, b = [torch.special.ndtr(torch.tensor((np.log(v) + 1.2) / 1.2, dtype=torch.float64)) for v in (lo, hi)]
    for q in (-1.0, 0.0, 1.0, 2.0):  # inside the range (z from -1.5 to 2.9)
        expected = ((torch.special.ndtr(torch.tensor(q, dtype=torch.float64)) - a) / (b - a)).item()
        assert abs((z <= q).double().mean().item() - expected) < 0.01
    # the uniform share draws grid timesteps whose sigma lies in the range, uniformly among them
    u = sample_levels(40000, sched, torch.Generator().manual_seed(1), "uniform", sigma_range=(lo, hi))
    grid = sched.sigmas[(sched.sigmas >= lo) & (sched.sigmas <= hi)]
    assert torch.isin(u, grid).all() and abs(u.unique().numel() - grid.numel()) <= 2
    assert abs((u <= grid[len(grid) // 2]).double().mean().item() - 0.5) < 0.02
    mixed = sample_levels(40000, sched, torch.Generator().manual_seed(2), "lognormal", 0.3, (lo, hi))
    assert abs(torch.isin(mixed, grid).double().mean().item() - 0.3) < 0.02
    # same generator seed, same levels; the whole schedule by default
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(sample_levels(64, sched, g1), sample_levels(64, sched, g2))
    full = sample_levels(40000, sched, torch.Generator().manual_seed(4), "uniform")
    assert full.min() == sched.sigmas[0] and full.max() == sched.sigmas[-1]
    top = sample_levels(4000, sched, torch.Generator().manual_seed(5), "lognormal", 0.5, (8.0, 1e4))
    assert top.min() >= 8.0 and top.max() <= sched.sigmas[-1]  # a range beyond the schedule is cut to it
    for bad in ((5.0, 2.0), (0.0, 1.0), (200.0, 300.0)):
        with pytest.raises(ValueError, match="sigma_range"):
            sample_levels(4, sched, gen, "lognormal", 0.2, bad)


def test_expert_training_records_its_range(photos, tmp_path, capsys):
    from ddrm.cli import main

    run = tmp_path / "expert"
    ckpt = train(photos, run, steps=1, batch=2, crop=32, config=TINY, progress=False, sigma_range=(0.01, 8.0))
    dest = tmp_path / "w"
    export_builtin(ckpt, dest)
    assert json.loads((dest / "builtin.json").read_text())["train_sigma_range"] == [0.01, 8.0]
    args = ["train-prior", "--data", str(photos), "--out", str(tmp_path / "bad"), "--sigma-range", "5", "2"]
    assert main(args + ["--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ddrm: error: sigma_range") and "\n" not in err
    assert not (tmp_path / "bad").exists()  # refused before anything is written
