"""The training loop of the built-in prior: runs, resumes, exports, and the export loads as 'builtin'."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

import ddrm.loading as loading
from ddrm.loading import CheckpointError, load_prior
from ddrm.models import ADMConfig
from ddrm.training import PatchSampler, export_builtin, learning_rate, train

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
