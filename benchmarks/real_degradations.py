"""Never lose to the input, on photos degraded the way users' photos are: the held-out photos (256 px centre crops)
with additive noise at a given level saved as 8-bit PNGs (denoising, the true sigma_y given), and reduced 4x by
Pillow's bicubic resize (super-resolution; sigma_y estimated from the low-resolution image, as ``ddrm restore`` does
without a sidecar). Restored through ``ddrm.restore`` (the library path of the command line) with the built-in prior.

    python benchmarks/real_degradations.py            # writes benchmarks/results/real_degradations.json

Prints per photo and on average: the input (the noisy photo; Pillow's bicubic upsampling for SR), DDRM's default
result (one sample), for SR the mean of 4 samples, and for denoising the one-call MMSE denoiser.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from heldout import photo_arguments, photo_files  # benchmarks/heldout.py, beside this script
from PIL import Image
from provenance import command_line, show, write_result  # benchmarks/provenance.py, beside this script
from summaries import real_degradations_table  # benchmarks/summaries.py, beside this script

import ddrm
from ddrm.bench.data import prepare
from ddrm.checkpoints import load_prior
from ddrm.io import read_image
from ddrm.metrics import psnr
from ddrm.priors import Prior

ROOT = Path(__file__).resolve().parent.parent


def to_pil(x: torch.Tensor) -> Image.Image:
    return Image.fromarray((x.permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8))


def from_pil(im: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)


def denoising(
    prior: Prior, photos: dict[str, torch.Tensor], levels: list[float], seed: int, steps: int | None
) -> list[dict]:
    rows = []
    for name, x in photos.items():
        for sy in levels:
            g = torch.Generator().manual_seed(seed)
            noisy = from_pil(to_pil(x + sy * torch.randn(x.shape, generator=g)))  # an 8-bit file, as users hold them
            row = {"task": "denoise", "image": name, "sigma_y": sy, "input": psnr(noisy, x)}
            for label, kw in (("ddrm", {"steps": steps}), ("mmse", {"solver": "mmse"})):
                t0 = time.perf_counter()
                row[label] = psnr(ddrm.restore(noisy, "denoise", sigma_y=sy, seed=seed, prior=prior, **kw), x)
                row[label + " s"] = time.perf_counter() - t0
            rows.append(row)
            show(row)
    return rows


def super_resolution(prior: Prior, photos: dict[str, torch.Tensor], seed: int, steps: int | None) -> list[dict]:
    rows = []
    for name, x in photos.items():
        h, w = x.shape[-2:]
        low = to_pil(x).resize((w // 4, h // 4), Image.Resampling.BICUBIC)  # as a resize makes a thumbnail
        bicubic = from_pil(low.resize((w, h), Image.Resampling.BICUBIC))
        row = {"task": "sr_bicubic4", "image": name, "input": psnr(bicubic, x)}
        for label, samples in (("ddrm", 1), ("ddrm mean of 4", 4)):
            t0 = time.perf_counter()
            out, info = ddrm.restore(
                low, "sr_bicubic4", samples=samples, seed=seed, prior=prior, steps=steps, details=True
            )
            row[label] = psnr(from_pil(out), x)
            row[label + " s"] = time.perf_counter() - t0
            row["sigma_y estimated"] = info.sigma_y[0]
        rows.append(row)
        show(row, 4)
    return rows


def main() -> None:
    ap = photo_arguments(__doc__, size=256, steps=None)
    ap.add_argument("--levels", default="0.01,0.015,0.02,0.04,0.08")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "real_degradations.json"))
    args = ap.parse_args()
    photos = {f.stem: prepare(read_image(f), args.size, "center-crop") for f in photo_files(args)}
    prior = load_prior(args.prior, args.checkpoint)
    rows = denoising(prior, photos, [float(v) for v in args.levels.split(",")], args.seed, args.steps)
    rows += super_resolution(prior, photos, args.seed, args.steps)
    out = write_result(args.out, command_line(), rows, args.prior, size=args.size)
    print(real_degradations_table(out))


if __name__ == "__main__":
    main()
