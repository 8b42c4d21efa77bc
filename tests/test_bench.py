"""The evaluation harness (ddrm.bench): protocols, rows, resume, torchrun sharding, baselines, metrics, SRLDM."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ddrm.bench import ProtocolError, load_protocol, parse_protocol, read_rows, run_protocol, shipped_protocols
from ddrm.bench.baselines import BASELINES, conjugate_gradient, div, grad, regularised_least_squares, tv_denoise
from ddrm.bench.runner import TIMING_FIELDS
from ddrm.metrics import frechet_distance, kernel_inception_distance, mean_ci, psnr, t_quantile
from ddrm.operators import build_operator

TINY = """
name = "tiny"
seeds = [3]
batch_size = 2
metrics = ["psnr", "ssim", "consistency"]
prior = "gaussian"

[[datasets]]
name = "gen"
path = "{path}"
size = 16
tune = 1

[[tasks]]
name = "sr2"
sigma_y = [0.0, 0.1]
units = "[-1,1]"

[[tasks]]
name = "inpaint"
sigma_y = 0.05

[[tasks]]
name = "denoise"
sigma_y = 0.1

[[methods]]
method = "ddrm"
steps = [3, 5]

[[methods]]
method = "pinv"

[[methods]]
method = "tikhonov"

[[methods]]
method = "tv"
"""


def make_images(folder: Path, n: int = 6, size: int = 20) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        f = rng.uniform(1, 3, size=3)
        img = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (f[c] * xx + (i + c) * yy / 3)) for c in range(3)], -1)
        Image.fromarray((img * 255).round().astype(np.uint8)).save(folder / f"img {i}.png")
    return folder


@pytest.fixture()
def tiny(tmp_path):
    data = make_images(tmp_path / "data")
    proto = tmp_path / "tiny.toml"
    proto.write_text(TINY.format(path=data.as_posix()))
    return load_protocol(proto), proto


def strip(rows):
    return sorted(({k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in rows), key=lambda r: r["id"])


def test_tiny_protocol_end_to_end(tiny, tmp_path):
    protocol, _ = tiny
    rows = run_protocol(protocol, tmp_path / "run", report=lambda s: None)
    # 5 evaluation images (1 held out for tuning); sr2: 2 sigmas x (ddrm 3 + ddrm 5 + pinv + tikhonov);
    # inpaint: ddrm x2, pinv, tikhonov; denoise: ddrm x2, pinv, tikhonov, tv
    assert len(rows) == 5 * (2 * 4 + 4 + 5)
    assert len({r["id"] for r in rows}) == len(rows)
    run = tmp_path / "run"
    for name in ("summary.md", "summary.csv", "rows.jsonl", "tuning.json", "protocol.json"):
        assert (run / name).is_file()
    assert len(list((run / "grids").glob("*.png"))) == 4
    tuning = json.loads((run / "tuning.json").read_text())
    assert len(tuning) == 4 + 1  # tikhonov on 4 (task, sigma) cells, tv on denoise
    # units: sigma_y = 0.1 in [-1,1] is 0.05 in [0,1]
    assert {r["sigma_y"] for r in rows if r["task"] == "sr2"} == {0.0, 0.05}
    # values against an independent computation from the files the run wrote (PNG rounding: < 0.05 dB)
    for r in rows[:8]:
        steps = "" if r["steps"] is None else f"_s{r['steps']}"
        out = (
            run
            / "images"
            / r["dataset"]
            / f"{r['task']}_sy{r['sigma_y']:g}"
            / f"{r['method']}{steps}_seed3"
            / f"{r['image']}.png"
        )
        a = np.asarray(Image.open(out), dtype=np.float64) / 255
        b = np.asarray(Image.open(run / "refs" / "gen" / f"{r['image']}.png"), dtype=np.float64) / 255
        assert abs(10 * math.log10(1 / np.mean((a - b) ** 2)) - r["psnr"]) < 0.05
    # noiseless pinv / ddrm are consistent with y; noisy rows have consistency near sigma_y
    for r in rows:
        if r["sigma_y"] == 0 and r["method"] in ("pinv", "ddrm"):
            assert r["consistency"] < 1e-3
    md = (run / "summary.md").read_text()
    assert "| sr2 | 0.05 | ddrm | 5 | 5 |" in md
    assert "PSNR / SSIM" in md
    mean = {}
    for r in rows:
        mean.setdefault((r["task"], r["sigma_y"], r["method"], r["steps"]), []).append(r["psnr"])
    # the measurement's noise is what the protocol says: sigma 0.1 -> about 20 dB (a little more: clamping to [0, 1])
    assert 20 <= np.mean(mean[("denoise", 0.1, "pinv", None)]) < 21
    # the tuned baselines beat the pseudo-inverse on noisy denoising of this smooth data
    for m in ("tikhonov", "tv"):
        assert np.mean(mean[("denoise", 0.1, m, None)]) > np.mean(mean[("denoise", 0.1, "pinv", None)]) + 1


def test_runs_record_their_prior_and_never_resume_with_another(tiny, tmp_path):
    """run.json records each solver's prior and the identity of its weights, the version, torch and the device; the
    rows of a solver carry the prior and weights; a rerun with other weights in the same folder is refused."""
    from ddrm.checkpoints import weights_identity

    protocol, proto = tiny
    rows = run_protocol(protocol, tmp_path / "run", report=lambda s: None)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["priors"]["ddrm"] == {"name": "gaussian", "checkpoint": None, "weights": "analytic"}
    assert record["torch"] == torch.__version__ and record["device"].startswith("cpu") and record["ddrm"]
    assert {(r.get("prior"), r.get("weights")) for r in rows if r["method"] == "ddrm"} == {("gaussian", "analytic")}
    assert all("weights" not in r for r in rows if r["method"] != "ddrm")
    changed = tmp_path / "other.toml"
    changed.write_text(proto.read_text().replace('prior = "gaussian"', 'prior = "builtin"'))
    other = load_protocol(changed)
    with pytest.raises(ProtocolError, match="was run with prior gaussian .* choose another run folder"):
        run_protocol(other, tmp_path / "run", report=lambda s: None, limit=1)
    assert weights_identity("builtin").count("+") == 1  # two experts, each by its SHA-256
    assert len(weights_identity("builtin").split("+")[0]) == 64


def test_the_report_puts_published_figures_beside_the_measured(tiny, tmp_path):
    protocol, proto = tiny
    text = proto.read_text() + (
        '\n[[published]]\nmethod = "ddrm"\ntask = "sr2"\nsigma_y = 0.1\nunits = "[-1,1]"\npsnr = 30.0\n'
        'source = "a paper, Table 1 [P]"\n'
    )
    changed = tmp_path / "published.toml"
    changed.write_text(text)
    rows = run_protocol(load_protocol(changed), tmp_path / "run", report=lambda s: None)
    summary = (tmp_path / "run" / "summary.md").read_text()
    assert "## Published and measured" in summary
    line = next(ln for ln in summary.splitlines() if "a paper, Table 1 [P]" in ln)
    cells = [c.strip() for c in line.strip("|").split("|")]
    measured = np.mean([r["psnr"] for r in rows if r["task"] == "sr2" and r["sigma_y"] == 0.05
                        and r["method"] == "ddrm" and r["steps"] == 3])  # fmt: skip
    assert cells[:5] == ["sr2", "0.05", "ddrm", "PSNR", "30.00"]
    assert cells[5].startswith(f"{measured:.2f}") and cells[6] == f"{measured - 30.0:+.2f}"


def test_interrupted_run_resumes_without_redoing_rows(tiny, tmp_path, monkeypatch):
    from ddrm.bench import runner

    protocol, _ = tiny
    full = run_protocol(protocol, tmp_path / "a", report=lambda s: None)
    calls = []
    original = runner._Methods.run

    def counting(self, group, op, y, gens):
        calls.append(len(gens))
        if len(calls) == 7:
            raise KeyboardInterrupt  # an interruption in the middle of the run
        return original(self, group, op, y, gens)

    monkeypatch.setattr(runner._Methods, "run", counting)
    with pytest.raises(KeyboardInterrupt):
        run_protocol(protocol, tmp_path / "b", report=lambda s: None)
    done_before = len(read_rows(tmp_path / "b"))
    assert 0 < done_before < len(full)
    part = tmp_path / "b" / "rows" / "part-0.jsonl"
    part.write_text(part.read_text() + '{"id": "cut sho')  # a line cut short by the interruption is ignored
    calls.clear()
    monkeypatch.setattr(runner._Methods, "run", original)
    monkeypatch.setattr(
        runner._Methods,
        "run",
        lambda self, g, op, y, gens: (calls.append(len(gens)), original(self, g, op, y, gens))[1],
    )
    resumed = run_protocol(protocol, tmp_path / "b", report=lambda s: None)
    assert sum(calls) == len(full) - done_before  # only the missing rows were computed
    assert strip(resumed) == strip(full)
    # a rerun of a finished run computes nothing
    calls.clear()
    run_protocol(protocol, tmp_path / "b", report=lambda s: None)
    assert calls == []


def test_changing_a_method_reruns_only_its_rows(tiny, tmp_path):
    protocol, path = tiny
    first = run_protocol(protocol, tmp_path / "r", report=lambda s: None)
    changed = path.read_text().replace(
        'method = "ddrm"\nsteps = [3, 5]', 'method = "ddrm"\nsteps = [3, 5]\nparams = { eta = 0.5 }'
    )
    path.write_text(changed)
    rows = run_protocol(load_protocol(path), tmp_path / "r", report=lambda s: None)
    ddrm = [r for r in rows if r["method"] == "ddrm"]
    assert len(ddrm) == 5 * 2 * 4
    assert not {r["config"] for r in ddrm} & {r["config"] for r in first if r["method"] == "ddrm"}
    others = [r for r in rows if r["method"] != "ddrm"]
    assert strip(others) == strip([r for r in first if r["method"] != "ddrm"])
    recorded = json.loads((tmp_path / "r" / "protocol.json").read_text())
    assert recorded["methods"][0]["params"]["eta"] == 0.5


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a POSIX system")
def test_two_processes_give_the_rows_of_one(tiny, tmp_path):
    _, proto = tiny
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    one = subprocess.run(
        [sys.executable, "-m", "ddrm.cli", "bench", str(proto), "-o", str(tmp_path / "one"), "--quiet"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ddrm.cli",
         "bench", str(proto), "-o", str(tmp_path / "two"), "--quiet"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert two.returncode == 0, two.stderr[-2000:]
    assert (tmp_path / "two" / "rows" / "part-1.jsonl").is_file()  # the second process did its share
    a = [json.loads(line) for line in (tmp_path / "one" / "rows.jsonl").read_text().splitlines()]
    b = [json.loads(line) for line in (tmp_path / "two" / "rows.jsonl").read_text().splitlines()]
    assert strip(a) == strip(b)
    for f in (tmp_path / "one" / "images").rglob("*.png"):
        assert f.read_bytes() == (tmp_path / "two" / "images" / f.relative_to(tmp_path / "one" / "images")).read_bytes()


# ------------------------------------------------------------------------------------------------ protocols
BAD = {
    "no datasets": ("datasets = []", "datasets"),
    "unknown method": ('[[methods]]\nmethod = "magic"', "unknown method 'magic'"),
    "bad steps": ('[[methods]]\nmethod = "ddrm"\nsteps = 0', "steps"),
    "bad sigma": ('[[tasks]]\nname = "sr4"\nsigma_y = 2.0', "sigma_y"),
    "bad task": ('[[tasks]]\nname = "sr_magic"\nsigma_y = 0.1', "unknown task"),
    "unknown key": ("colour = true", "unknown key(s) colour"),
    "bad solver param": ('[[methods]]\nmethod = "ddrm"\nparams = { eta = 5.0 }', "eta"),
    "bad metric": ('metrics = ["psnr", "iq"]', "unknown metric(s) iq"),
    "baseline steps": ('[[methods]]\nmethod = "pinv"\nsteps = 3', "not iterative"),
    "init unknown": ('[[methods]]\nmethod = "ddrm"\ninit = "srldm"', "must name another method's label"),
    "init itself": ('[[methods]]\nmethod = "ddrm"\ninit = "ddrm"', "must name another method's label"),
    "init on baseline": (
        '[[methods]]\nmethod = "pinv"\n[[methods]]\nmethod = "tikhonov"\ninit = "pinv"',
        "tikhonov cannot start from an image (solvers that can: ddrm",
    ),
    "init chain": (
        '[[methods]]\nmethod = "pinv"\n[[methods]]\nmethod = "ddrm"\ninit = "pinv"\n'
        '[[methods]]\nmethod = "ddrm"\nlabel = "d2"\ninit = "ddrm"',
        "chains are one level deep",
    ),
    "init steps": (
        '[[methods]]\nmethod = "ddim"\nsteps = [2, 3]\n[[methods]]\nmethod = "ddrm"\ninit = "ddim"',
        "must have a single step count",
    ),
    "published unknown method": (
        '[[published]]\nmethod = "dps"\ntask = "sr4"\nsigma_y = 0.05\npsnr = 1\nsource = "x"',
        "names no method",
    ),
    "published other noise": (
        '[[published]]\nmethod = "ddrm"\ntask = "sr4"\nsigma_y = 0.1\npsnr = 1\nsource = "x"',
        "is not run at 0.1",
    ),
    "published no figure": (
        '[[published]]\nmethod = "ddrm"\ntask = "sr4"\nsigma_y = 0.05\nsource = "x"',
        "gives no figure",
    ),
}


def _base() -> dict:
    return {
        "datasets": [{"name": "d", "path": "."}],
        "tasks": [{"name": "sr4", "sigma_y": 0.05}],
        "methods": [{"method": "ddrm"}],
    }


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_protocols_are_one_line(case):
    import tomllib

    text, expected = BAD[case]
    extra = tomllib.loads(text)
    data = _base()
    for k, v in extra.items():
        data[k] = v if not isinstance(v, list) or not v or k not in data else v
    with pytest.raises(ProtocolError) as err:
        parse_protocol(data, "bad.toml")
    msg = str(err.value)
    assert "\n" not in msg and expected in msg and msg.startswith("bad.toml: ")


def test_cli_bench_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    for args in (["bench", str(bad), "-o", str(tmp_path / "r")], ["bench", "nonesuch", "-o", str(tmp_path / "r")]):
        res = subprocess.run([sys.executable, "-m", "ddrm.cli", *args], capture_output=True, text=True)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    res = subprocess.run([sys.executable, "-m", "ddrm.cli", "bench", "--list"], capture_output=True, text=True)
    assert res.returncode == 0 and "quick" in res.stdout and "diffpir_comparison" in res.stdout


@pytest.mark.parametrize("name", sorted(shipped_protocols()))
def test_shipped_protocols_parse_and_plan(name, tmp_path):
    from ddrm.bench.plan import plan

    protocol = load_protocol(name)
    assert protocol.tasks and protocol.methods
    groups = plan(protocol, {})
    assert groups and all(g.steps is None or g.steps > 0 for g in groups)
    labels = {g.method.label for g in groups}
    assert labels == {m.label for m in protocol.methods}  # every method runs on some task


def test_diffpir_protocol_kernels():
    protocol = load_protocol("diffpir_comparison")
    gauss = next(t for t in protocol.tasks if t.label == "deblur_gauss61")
    assert gauss.params == {"size": 61, "std": 3.0} and gauss.sigma_y == (0.05,)
    op = build_operator("deblur_gauss", (1, 64, 64), size=61, std=3.0)
    x = torch.zeros(1, 1, 64, 64)
    x[0, 0, 32, 32] = 1
    psf = op.H(x)[0, 0]
    assert abs(psf.sum().item() - 1) < 1e-5 and abs(psf[32, 32].item() - (1 / (2 * math.pi * 9))) < 2e-3


# ------------------------------------------------------------------------------------------------ baselines
def test_regularised_least_squares_solves_its_normal_equations():
    torch.manual_seed(0)
    op = build_operator("sr", (1, 8, 8), factor=2, dtype=torch.float64)
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    y = op.H(x)
    lam = 0.05
    n = 64
    eye = torch.eye(n, dtype=torch.float64).view(n, 1, 8, 8)
    H = op.H(eye).reshape(n, -1).T
    gx, gy = grad(eye)
    D = torch.cat([gx.reshape(n, -1), gy.reshape(n, -1)], 1).T
    dense = torch.linalg.solve(H.T @ H + lam * D.T @ D, H.T @ y.reshape(-1))
    got = regularised_least_squares(op, y, lam, order=1, iters=500)
    assert torch.allclose(got.reshape(-1), dense, atol=1e-6)
    # div is the negative adjoint of grad
    p, q = torch.randn(2, 1, 1, 8, 8, dtype=torch.float64)
    a, b = grad(x)
    assert abs((a * p + b * q).sum() + (x * div(p, q)).sum()) < 1e-10


def test_conjugate_gradient_batches_stop_independently():
    A = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    b = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    x = conjugate_gradient(lambda v: v @ A, b, torch.zeros_like(b))
    assert torch.allclose(x[0], torch.tensor([1, 0.5, 1 / 3, 0.25], dtype=torch.float64)) and (x[1] == 0).all()


def test_tv_denoise_matches_scikit_image():
    from skimage.restoration import denoise_tv_chambolle

    rng = np.random.default_rng(1)
    img = np.kron(rng.uniform(size=(4, 4)), np.ones((8, 8))) + 0.1 * rng.standard_normal((32, 32))
    ours = tv_denoise(torch.from_numpy(img)[None, None], 0.1, iters=2000)[0, 0].numpy()
    ref = denoise_tv_chambolle(img, weight=0.1, max_num_iter=2000, eps=1e-8)
    assert np.abs(ours - ref).max() < 5e-3


def test_baselines_apply_where_they_should():
    assert BASELINES["bicubic"].applies("sr", {}) and not BASELINES["bicubic"].applies("inpaint", {})
    assert BASELINES["tv"].applies("denoise", {}) and BASELINES["biharmonic"].applies("inpaint", {})
    op = build_operator("inpaint", (3, 16, 16), mask=torch.rand(16, 16) > 0.3)
    x = torch.rand(1, 3, 16, 16)
    out = BASELINES["biharmonic"].run(op, op.H(x), "inpaint", lam=1e-5)
    assert torch.allclose(op.H(out), op.H(x), atol=5e-3)  # nearly interpolates the known pixels


# ------------------------------------------------------------------------------------------------ metrics
def test_frechet_distance_and_kid_against_direct_formulas():
    from scipy import linalg

    g = torch.Generator().manual_seed(0)
    a = torch.randn(200, 8, generator=g, dtype=torch.float64)
    b = (
        torch.randn(150, 8, generator=g, dtype=torch.float64)
        @ torch.randn(8, 8, generator=g, dtype=torch.float64)
        * 0.5
        + 0.3
    )
    s1, s2 = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    root = linalg.sqrtm(s1 @ s2).real
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum().item() + np.trace(s1 + s2 - 2 * root)
    assert abs(frechet_distance(a, b) - ref) < 1e-6 * max(1, abs(ref))
    assert abs(frechet_distance(a, a)) < 1e-8
    # KID with one subset of everything equals the unbiased MMD^2 written out pairwise
    k = lambda x, y: (x @ y / 8 + 1) ** 3  # noqa: E731
    n = 50
    x, y = a[:n], b[:n]
    kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(x[i], y[j]) for i in range(n) for j in range(n)) / n**2
    mean, _ = kernel_inception_distance(x, y, subsets=1, subset_size=n)
    assert abs(mean - float(kxx + kyy - 2 * kxy)) < 1e-9


def test_confidence_interval_uses_students_t():
    from scipy import stats

    for df in (1, 2, 5, 10, 29, 30, 31, 50, 200):
        assert abs(t_quantile(df) - stats.t.ppf(0.975, df)) < 2e-3
    v = [1.0, 2.0, 4.0, 7.0]
    m, h = mean_ci(v)
    ref = stats.t.interval(0.95, len(v) - 1, loc=np.mean(v), scale=stats.sem(v))
    assert abs(m - 3.5) < 1e-12 and abs(h - (ref[1] - ref[0]) / 2) < 1e-3
    assert math.isnan(mean_ci([1.0])[1])


def test_lpips_is_skipped_without_weights_and_runs_with_them(tmp_path, monkeypatch):
    from ddrm.bench import perceptual

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("DDRM_HOME", str(tmp_path / "ddrm"))
    monkeypatch.setattr(perceptual, "_package_dir", lambda name: None)
    perceptual._MODEL.clear()
    said = []
    assert perceptual.lpips_model(said.append) is None
    assert len(said) == 1 and said[0].startswith("LPIPS skipped") and "alexnet-owt-7be5be79.pth" in said[0]
    # random weight files of the official layouts load strictly and give a metric with d(x, x) = 0
    torch.manual_seed(0)
    net = perceptual.LPIPS()
    backbone = {f"features.{k}": v for k, v in net.features.state_dict().items()}
    heads = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate((64, 192, 384, 256, 256))}
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(backbone, tmp_path / "torch" / "hub" / "checkpoints" / perceptual.ALEXNET_FILE)
    (tmp_path / "ddrm" / "lpips").mkdir(parents=True)
    torch.save(heads, tmp_path / "ddrm" / "lpips" / "alex.pth")
    perceptual._MODEL.clear()
    model = perceptual.lpips_model(said.append)
    assert model is not None
    x = torch.rand(2, 3, 64, 64)
    d = model(x, x.clone())
    assert d.shape == (2,) and d.abs().max() < 1e-6
    assert (model(x, x.flip(0)) > 0).all()
    perceptual._MODEL.clear()


# ------------------------------------------------------------------------------------------------ SRLDM
def _tiny_srldm(folder: Path) -> Path:
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=6, out_channels=3,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    )  # fmt: skip
    vq = diffusers.VQModel(
        block_out_channels=[32, 32, 32], down_block_types=["DownEncoderBlock2D"] * 3,
        up_block_types=["UpDecoderBlock2D"] * 3, latent_channels=3, layers_per_block=1,
    )  # fmt: skip
    sched = diffusers.DDIMScheduler(
        beta_start=0.0015, beta_end=0.0155, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=True,
        steps_offset=1,
    )  # fmt: skip
    from diffusers.pipelines.latent_diffusion.pipeline_latent_diffusion_superresolution import (
        LDMSuperResolutionPipeline,
    )

    LDMSuperResolutionPipeline(vqvae=vq, unet=unet, scheduler=sched).save_pretrained(folder)
    return folder


def test_srldm_offline_seeded_and_in_a_protocol(tmp_path):
    from ddrm.bench.srldm import SRLDM
    from ddrm.pipeline import image_generator

    model = _tiny_srldm(tmp_path / "srldm")
    sr = SRLDM.load(str(model))
    y = torch.rand(2, 3, 8, 8)
    g = lambda: [image_generator(0, "a"), image_generator(0, "b")]  # noqa: E731
    out = sr.restore(y, g(), steps=3)
    assert out.shape == (2, 3, 32, 32) and out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, sr.restore(y, g(), steps=3))  # same seeds, same result (no global RNG)
    assert torch.equal(out[1:], sr.restore(y[1:], g()[1:], steps=3))  # independent of the batch
    with pytest.raises(ValueError, match="divisible by 8"):
        sr.restore(torch.rand(1, 3, 6, 6), [image_generator(0, "c")])
    with pytest.raises(ValueError, match="cannot load"):
        SRLDM.load(str(tmp_path / "missing"))
    data = make_images(tmp_path / "data", n=2, size=32)
    proto = tmp_path / "p.toml"
    proto.write_text(
        f'[[datasets]]\nname = "d"\npath = "{data.as_posix()}"\nsize = 32\n'
        '[[tasks]]\nname = "sr_bicubic4"\nsigma_y = 0.0\n'
        f'[[methods]]\nmethod = "srldm"\nmodel = "{model.as_posix()}"\nsteps = 2\n'
        '[[methods]]\nmethod = "bicubic"\n'
    )
    rows = run_protocol(load_protocol(proto), tmp_path / "run", report=lambda s: None)
    assert sorted(r["method"] for r in rows) == ["bicubic", "bicubic", "srldm", "srldm"]
    assert all(r["nfe"] == 2 for r in rows if r["method"] == "srldm")
    # the combination: DDRM started from SRLDM's result; its rows are consistent with y, SRLDM's are not
    proto.write_text(
        'prior = "gaussian"\n'
        + proto.read_text()
        + '[[methods]]\nmethod = "ddrm"\nlabel = "srldm+ddrm"\ninit = "srldm"\nsteps = 3\n'
        "params = { start = 0.2 }\n"
    )
    rows = {(r["method"], r["image"]): r for r in run_protocol(load_protocol(proto), tmp_path / "run2", report=print)}
    for image in ("img 0", "img 1"):
        combo, first = rows["srldm+ddrm", image], rows["srldm", image]
        # (the untrained SRLDM is far from y: 0.29 rms; the combination only by the [0, 1] clamp: 0.004)
        assert combo["nfe"] == 2 + 3 and combo["consistency"] < first["consistency"] / 20


def test_a_solver_started_from_another_methods_output(tiny, tmp_path):
    """``init``: the first method's output is the chain's start; at a tiny ``start`` DDRM (sigma_y = 0) returns it
    nearly unchanged (one step from sigma ~ 0.01), at ``start = 1`` it does not; the rows say what each cost."""
    _, path = tiny
    text = path.read_text().split("[[tasks]]")[0] + (
        '[[tasks]]\nname = "sr2"\nsigma_y = 0.0\n'
        '[[methods]]\nmethod = "tikhonov"\n'
        '[[methods]]\nmethod = "ddrm"\nlabel = "near"\ninit = "tikhonov"\nsteps = 1\nparams = { start = 0.001 }\n'
        '[[methods]]\nmethod = "ddrm"\nlabel = "full"\ninit = "tikhonov"\nsteps = 4\n'
    )
    path.write_text(text)
    run = tmp_path / "run"
    rows = run_protocol(load_protocol(path), run, report=lambda s: None)
    by = {(r["method"], r["image"]): r for r in rows}
    images = sorted({r["image"] for r in rows})
    assert len(rows) == 3 * len(images)

    def img(method, name):
        folder = next((run / "images").rglob(f"{method}*"))
        return torch.from_numpy(np.asarray(Image.open(folder / f"{name}.png"), dtype=np.float32) / 255)

    for name in images:
        assert by["near", name]["nfe"] == 1 and by["full", name]["nfe"] == 4
        assert psnr(img("near", name), img("tikhonov", name)) > 40
        assert psnr(img("full", name), img("tikhonov", name)) < 35


def test_quick_protocol_on_generated_photos(tmp_path):
    """The shipped quick protocol's plumbing on stand-in photos (two images evaluated, 10 steps, Gaussian prior)."""
    data = make_images(tmp_path / "photos", n=4, size=40)
    text = shipped_protocols()["quick"].read_text().replace('prior = "builtin"', 'prior = "gaussian"')
    text = (
        text.replace("steps = [10, 20]", "steps = 3")
        .replace("steps = 20", "steps = 3")
        .replace("size = 128", "size = 32")
    )
    proto = tmp_path / "quick.toml"
    proto.write_text(text)
    rows = run_protocol(load_protocol(proto), tmp_path / "run", data={"heldout": str(data)}, report=lambda s: None)
    methods = {"ddrm", "diffpir", "measurement", "bicubic", "tikhonov", "biharmonic", "tv", "mmse"}
    assert {r["method"] for r in rows} == methods
    assert {r["task"] for r in rows if r["method"] == "mmse"} == {"denoise"}  # one denoiser call: denoising only
    assert len({r["image"] for r in rows}) == 2
    shutil.rmtree(tmp_path / "run")


def test_fid_and_kid_columns_with_weights_and_one_line_without(tmp_path, monkeypatch):
    from ddrm.bench import inception

    data = make_images(tmp_path / "data", n=4, size=16)
    path = tmp_path / "fid.toml"
    path.write_text(
        f'metrics = ["psnr", "fid", "kid"]\n[[datasets]]\nname = "d"\npath = "{data.as_posix()}"\nsize = 16\n'
        '[[tasks]]\nname = "denoise"\nsigma_y = 0.1\n[[methods]]\nmethod = "pinv"\n[[methods]]\nmethod = "tv"\n'
    )
    protocol = load_protocol(path)
    monkeypatch.setattr(inception, "INPUT_SIZE", 75)  # the smallest input Inception-v3 takes: the plumbing, faster
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("DDRM_FID_WEIGHTS", raising=False)
    monkeypatch.delenv("DDRM_HOME", raising=False)
    said = []
    run_protocol(protocol, tmp_path / "a", report=said.append)
    assert sum(s.startswith("FID/KID skipped") for s in said) == 1
    assert (
        "FID"
        not in (tmp_path / "a" / "summary.md").read_text().split("PSNR / SSIM")[0].split("| task")[1].split("\n")[0]
    )
    # a weight file of the official layout (random values) loads strictly; the columns appear
    torch.manual_seed(0)
    weights = tmp_path / "inception.pth"
    torch.save(inception.FIDInception().state_dict(), weights)
    monkeypatch.setenv("DDRM_FID_WEIGHTS", str(weights))
    said.clear()
    run_protocol(protocol, tmp_path / "a", report=said.append)
    assert not any(s.startswith("FID") for s in said)
    import csv

    lines = list(csv.DictReader((tmp_path / "a" / "summary.csv").open()))
    assert all(line["fid"] != "" and float(line["kid"]) == float(line["kid"]) for line in lines)
    extract = inception.feature_extractor(said.append)
    feats = extract([torch.rand(3, 40, 40), torch.rand(1, 40, 40)])
    assert feats.shape == (2, 2048) and feats.dtype == torch.float64


def test_samples_and_the_paper_grid_in_protocols(tmp_path):
    """A method's ``samples`` / ``estimate`` reach the pipeline (NFE counted per sample); the paper protocols keep
    the paper's uniform step grid; mistakes are one line naming the key."""
    data = make_images(tmp_path / "data", n=2, size=16)
    proto = tmp_path / "p.toml"
    proto.write_text(
        f'[[datasets]]\nname = "d"\npath = "{data.as_posix()}"\nsize = 16\n[[tasks]]\nname = "denoise"\nsigma_y = 0.1\n'
        '[[methods]]\nmethod = "ddrm"\nsteps = 3\nprior = "gaussian"\n'
        '[[methods]]\nmethod = "ddrm"\nlabel = "mean"\nsteps = 3\nsamples = 3\nprior = "gaussian"\n'
    )
    rows = run_protocol(load_protocol(proto), tmp_path / "run", report=lambda s: None)
    by = {(r["method"], r["image"]): r for r in rows}
    assert {r["nfe"] for r in rows if r["method"] == "mean"} == {9} and {
        r["nfe"] for r in rows if r["method"] == "ddrm"
    } == {3}
    for image in {r["image"] for r in rows}:
        assert by[("mean", image)]["psnr"] != by[("ddrm", image)]["psnr"]
    for name in ("ddrm_table", "diffpir_comparison", "ddrm_vs_srldm"):
        solvers = [m for m in load_protocol(name).methods if m.kind == "solver"]
        assert solvers and all(m.params.get("grid") == "uniform" for m in solvers), name
    bad = proto.read_text().replace("samples = 3", 'samples = 3\nestimate = "median"')
    proto.write_text(bad)
    with pytest.raises(ProtocolError, match=r"methods\[1\].estimate: must be one of sample, mean"):
        load_protocol(proto)


def test_a_protocol_that_cannot_fit_in_memory_is_refused_in_its_own_words(tmp_path, monkeypatch):
    """The memory guard's refusal names the protocol's keys (``batch_size``, a method's ``samples``), not
    ``ddrm restore``'s options, and counts a method's samples: fewer images per batch where one image's samples fit,
    else fewer samples."""
    import ddrm.pipeline.memory as memory
    from ddrm.errors import SetupError
    from ddrm.pipeline import PriorLoader
    from ddrm.samplers import SAMPLERS

    data = make_images(tmp_path / "data", n=2, size=16)
    proto = tmp_path / "p.toml"
    proto.write_text(
        f'batch_size = 2\n[[datasets]]\nname = "d"\npath = "{data.as_posix()}"\nsize = 16\n[[tasks]]\n'
        'name = "denoise"\nsigma_y = 0.1\n[[methods]]\nmethod = "ddrm"\nlabel = "mean"\nsteps = 3\nsamples = 2\n'
        'prior = "gaussian"\n'
    )
    one = memory.estimate_peak_bytes(PriorLoader("gaussian", None)((3, 16, 16)), SAMPLERS["ddrm"], (3, 16, 16), 1)
    for fit, remedy in ((2, "use batch_size = 1 in the protocol"),
                        (1, "use samples = 1 for method mean and batch_size = 1 in the protocol")):  # fmt: skip
        monkeypatch.setattr(memory, "available_bytes", lambda device, f=fit: int((f + 0.5) * one * memory._MARGIN))
        with pytest.raises(SetupError, match="needs about") as caught:
            run_protocol(load_protocol(proto), tmp_path / f"run{fit}", report=lambda s: None)
        line = str(caught.value)
        assert "2 image(s) x 2 samples of 16x16" in line and line.endswith(remedy), line
        assert "--" not in line
        assert not (tmp_path / f"run{fit}" / "rows.jsonl").exists()
