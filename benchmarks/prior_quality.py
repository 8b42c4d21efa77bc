"""Quality of the built-in prior on held-out photos (never used in training), against classical baselines.

    python benchmarks/prior_quality.py [--heldout data/photos/heldout] [--size 256] [--steps 20]
                                       [--prior builtin] [--reference builtin-v1]

Per photo (256x256 centre crops; all PSNRs in dB on [0, 1] images; measurement noise drawn once per photo and
task, the same for every prior):

1. x0 at sigma_max: the rms error (in [-1, 1] units) of one ``denoise`` call at the schedule's largest noise level,
   against predicting the data mean, the MMSE estimate when the input holds no information: the mean colour of the
   training photos (``--train-data``; the bar: no larger). The mean colour of the six held-out photos themselves,
   which no prior can know, is printed beside it as an oracle.
2. Denoising: one ``denoise`` call at sigma = 25/255 against total variation (scikit-image's Chambolle).
3. DDRM (``--steps`` 20; eta 0.85, eta_b 1) at sigma_y = 0.05 on
   - SR x4 (block averaging) against bicubic upsampling of y and gradient-regularised Tikhonov,
   - Gaussian deblurring (DDRM's kernel) against Wiener and gradient-regularised Tikhonov,
   - colourisation against the grey input itself,
   - inpainting (80 % of the pixels missing at random) against biharmonic (Laplacian-regularised) inpainting.
   Baselines marked * have their weight tuned per photo on the clean photo (an oracle: a conservative bar).
4. One ``denoise`` call at 256x256 on this CPU.

With ``--reference PRIOR`` the prior-dependent rows are also computed for that prior (e.g. the previous weights),
and the bars of issue 12 are checked at the end (PASS / FAIL lines).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from heldout import photo_arguments, photo_files
from PIL import Image

from ddrm import build_operator, ddrm
from ddrm.bench.baselines import BASELINES, regularised_least_squares
from ddrm.bench.data import prepare
from ddrm.checkpoints import load_prior
from ddrm.io import read_image
from ddrm.metrics import psnr

SIGMA_Y = 0.05  # [0, 1] units
TASKS = {
    "sr": ("sr", {"factor": 4}),
    "deblur": ("deblur_gauss", {}),
    "color": ("color", {}),
    "inpaint": ("inpaint", {"missing": 0.8}),
}
TIKHONOV = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)


def p01(x: torch.Tensor, ref: torch.Tensor) -> float:
    """PSNR of an image in [-1, 1] units against ``ref`` in [0, 1]."""
    return psnr(((x + 1) / 2).clamp(0, 1), ref)


def measurements(x: torch.Tensor, seed: int) -> dict:
    """Every task's operator and noisy measurement (y01 in [0, 1], y in [-1, 1]), drawn once per photo."""
    shape = tuple(x.shape)
    out = {}
    for i, (key, (task, params)) in enumerate(TASKS.items()):
        g = torch.Generator().manual_seed(seed * 100 + i)
        op = build_operator(task, shape, generator=g, **params)
        y01 = op.measure(x[None], SIGMA_Y, g)
        out[key] = (op, y01, 2 * y01 - op.H(torch.ones(1, *shape)))
    g = torch.Generator().manual_seed(seed * 100 + 99)
    out["noisy"] = x + 25 / 255 * torch.randn(shape, generator=g)
    out["x_T"] = torch.randn(shape, generator=g)
    return out


def baseline_rows(x: torch.Tensor, meas: dict, means: dict) -> dict:
    from skimage.restoration import denoise_tv_chambolle

    row = {f"{k} rms": (m.view(3, 1, 1) - (2 * x - 1)).pow(2).mean().sqrt().item() for k, m in means.items()}
    row["noisy"] = psnr(meas["noisy"].clamp(0, 1), x)
    nz = meas["noisy"].permute(1, 2, 0).double().numpy()
    row["tv*"] = max(
        psnr(torch.from_numpy(denoise_tv_chambolle(nz, weight=w, channel_axis=-1)).permute(2, 0, 1).clamp(0, 1), x)
        for w in (0.04, 0.06, 0.08, 0.1, 0.12, 0.15)
    )

    def tikhonov(op, y01, order=1):
        return max(psnr(regularised_least_squares(op, y01, lam, order)[0].clamp(0, 1), x) for lam in TIKHONOV)

    op, y01, y = meas["sr"]
    row["sr bicubic"] = psnr(F.interpolate(y01, scale_factor=4, mode="bicubic")[0].clamp(0, 1), x)
    row["sr tikhonov*"] = tikhonov(op, y01)
    op, y01, y = meas["deblur"]
    zeros = torch.zeros(1, *x.shape)
    row["deblur wiener*"] = max(p01(op.prox(y, zeros, rho)[0], x) for rho in (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3))
    row["deblur tikhonov*"] = tikhonov(op, y01)
    op, y01, y = meas["color"]
    row["color grey"] = psnr(BASELINES["measurement"].run(op, y01, "color")[0].clamp(0, 1), x)
    op, y01, y = meas["inpaint"]
    row["inpaint biharmonic*"] = tikhonov(op, y01, order=2)
    return row


def mean_colour(files: list[Path], side: int = 512) -> torch.Tensor:
    """Pixel-weighted mean colour in [-1, 1] units of the photos in ``files`` (each shrunk to ``side`` px wide)."""
    total, count = torch.zeros(3, dtype=torch.float64), 0
    for f in files:
        with Image.open(f) as im:
            im = im.convert("RGB")
            small = im.resize((side, max(1, round(im.height * side / im.width))), Image.Resampling.BOX)
            px = torch.from_numpy(np.asarray(small, dtype=np.float64).reshape(-1, 3))
        weight = im.width * im.height / px.shape[0]
        total += weight * px.sum(0)
        count += weight * px.shape[0]
    return (total / count / 127.5 - 1).float()


def prior_rows(prior, x: torch.Tensor, meas: dict, steps: int, seed: int) -> dict:
    sig_max = float(prior.schedule.sigmas[-1])
    x11 = 2 * x - 1
    with torch.no_grad():
        x0 = prior.denoise((x11 + sig_max * meas["x_T"])[None], sig_max)[0]
        den = prior.denoise(2 * meas["noisy"][None] - 1, 2 * 25 / 255)[0]
    row = {
        "x0 rms@max": (x0 - x11).pow(2).mean().sqrt().item(),
        "denoise": p01(den, x),
    }
    for key, (op, _, y) in ((k, meas[k]) for k in TASKS):
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            out = ddrm(prior, op, y, 2 * SIGMA_Y, steps=steps, generator=g)
        row[f"{key} ddrm"] = p01(out[0], x)
    return row


def table(title: str, rows: list[dict]) -> None:
    keys = [k for k in rows[0] if k != "image"]
    print(f"\n{title}")
    print(f"{'image':10s} " + " ".join(f"{k:>19s}" for k in keys))
    for r in rows + [{"image": "mean", **{k: statistics.mean(r[k] for r in rows) for k in keys}}]:
        print(f"{r['image']:10s} " + " ".join(f"{r[k]:19.3f}" for k in keys))


def check_bars(base: list[dict], new: list[dict], ref: list[dict] | None) -> None:
    def mean(rows, k):
        return statistics.mean(r[k] for r in rows)

    sr_gain = [n["sr ddrm"] - b["sr bicubic"] for n, b in zip(new, base)]
    bars = [
        (
            f"x0 rms at sigma_max <= the training data mean's ({mean(new, 'x0 rms@max'):.3f} vs "
            f"{mean(base, 'train mean rms'):.3f}; held-out photos' own mean, an oracle: {mean(base, 'oracle mean rms'):.3f})",
            mean(new, "x0 rms@max") <= mean(base, "train mean rms"),
        ),
        ("colourisation above the grey input", mean(new, "color ddrm") > mean(base, "color grey")),
        (
            f"SR x4 >= +1.5 dB over bicubic on average ({statistics.mean(sr_gain):+.2f})",
            statistics.mean(sr_gain) >= 1.5,
        ),
        (f"SR x4: no photo below bicubic (worst {min(sr_gain):+.2f})", min(sr_gain) >= 0),
    ]
    if ref is not None:
        for k in ("denoise", "deblur ddrm", "inpaint ddrm"):
            d = mean(new, k) - mean(ref, k)
            bars.append((f"{k} at least as good as the reference ({d:+.2f} dB)", d >= 0))
    print()
    for text, ok in bars:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")


def main() -> None:
    ap = photo_arguments(__doc__, size=256, steps=20)
    ap.add_argument("--reference", default=None, help="a second prior to compare with (e.g. builtin-v1)")
    ap.add_argument("--train-data", default="data/photos/train", help="the training photos (for the data mean)")
    args = ap.parse_args()
    files = photo_files(args)
    prior = load_prior(args.prior, args.checkpoint)
    ref = load_prior(args.reference) if args.reference else None
    photos = [prepare(read_image(f), args.size, "crop") for f in files]
    train_files = sorted(Path(args.train_data).glob("*.png"))
    if not train_files:
        raise SystemExit(f"no training photos in {args.train_data}; run 'ddrm prepare-data'")
    means = {
        "train mean": mean_colour(train_files),
        "oracle mean": torch.stack([2 * p - 1 for p in photos]).mean(dim=(0, 2, 3)),
    }
    base, new, old = [], [], []
    for f, x in zip(files, photos):
        meas = measurements(x, args.seed)
        base.append({"image": f.stem, **baseline_rows(x, meas, means)})
        new.append({"image": f.stem, **prior_rows(prior, x, meas, args.steps, args.seed)})
        if ref is not None:
            old.append({"image": f.stem, **prior_rows(ref, x, meas, args.steps, args.seed)})
        print(f.stem, " ".join(f"{k}={v:.2f}" for r in (base[-1], new[-1]) for k, v in r.items() if k != "image"))
    table("classical baselines (* = weight tuned per photo on the clean photo)", base)
    table(f"{args.prior} (DDRM {args.steps} steps)", new)
    if ref is not None:
        table(f"{args.reference} (DDRM {args.steps} steps)", old)
    check_bars(base, new, old or None)
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        prior.denoise(x, 0.5)
        t0 = time.perf_counter()
        for _ in range(5):
            prior.denoise(x, 0.5)
    ms = (time.perf_counter() - t0) / 5 * 1e3
    print(f"\ndenoise call at 256x256 on CPU ({torch.get_num_threads()} threads): {ms:.0f} ms")


if __name__ == "__main__":
    main()
