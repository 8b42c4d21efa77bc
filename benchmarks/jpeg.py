"""JPEG artefact removal on held-out photos (never used in training): the JPEG itself, classical POCS deblocking
(TV + quantisation-cell projection) and DDRM-JPEG with a prior (official settings: 20 steps, eta 1, eta_b 0.4,
start 0.3).

    python benchmarks/jpeg.py [--heldout data/photos/heldout] [--size 256] [--qf 10 20] [--prior builtin]

The JPEGs are written and decoded by Pillow (libjpeg, 4:2:0), as ``ddrm degrade --task jpegQF`` does. The TV weight
of the deblocking baseline is the best of a small grid per photo (an oracle, so that bar is conservative). PSNR in
dB and SSIM on [0, 1] images.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch
from heldout import photo_arguments, photo_files

from ddrm import build_operator
from ddrm.bench.baselines import jpeg_deblock
from ddrm.bench.data import prepare
from ddrm.checkpoints import load_prior
from ddrm.io import read_image, write_image
from ddrm.metrics import psnr, ssim
from ddrm.samplers import SAMPLERS


def pillow_jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """The JPEG ``ddrm degrade --task jpegQF`` writes (Pillow/libjpeg, 4:2:0), read back."""
    with tempfile.TemporaryDirectory() as tmp:
        return read_image(write_image(x, Path(tmp) / "y.jpg", jpeg_quality=quality))


def main() -> None:
    ap = photo_arguments(__doc__, size=256, steps=20)
    ap.add_argument("--qf", type=int, nargs="+", default=[10, 20])
    args = ap.parse_args()
    files = photo_files(args)
    prior = load_prior(args.prior, args.checkpoint)
    solver = SAMPLERS["ddrm-jpeg"]
    rows = []
    for qf in args.qf:
        for f in files:
            x = prepare(read_image(f), args.size, "crop")
            y = pillow_jpeg(x, qf)
            best = max((jpeg_deblock(y[None], qf, lam)[0] for lam in (0.01, 0.02, 0.04)), key=lambda d: psnr(d, x))
            op = build_operator("jpeg", tuple(x.shape), quality=qf, dtype=torch.float32)
            t0 = time.perf_counter()
            g = torch.Generator().manual_seed(args.seed)
            out = solver(prior, op, y[None] * 2 - 1, 0.0, steps=args.steps, generator=g)
            seconds = time.perf_counter() - t0
            restored = ((out[0] + 1) / 2).clamp(0, 1)
            rows.append((qf, f.stem, [(psnr(v, x), ssim(v, x)) for v in (y, best, restored)], seconds))
            r = rows[-1][2]
            print(f"QF {qf:3d} {f.stem:10s} JPEG {r[0][0]:6.2f}  POCS-TV {r[1][0]:6.2f}  DDRM-JPEG {r[2][0]:6.2f}  "
                  f"({seconds:.0f} s)", flush=True)  # fmt: skip
    print(
        f"\nheld-out photos: {len(files)} at {args.size}x{args.size}; prior {args.prior}; DDRM-JPEG {args.steps} steps"
    )
    print("| QF | JPEG PSNR / SSIM | POCS-TV deblocking (oracle weight) | DDRM-JPEG | DDRM-JPEG - JPEG (worst photo) |")
    print("|---:|---|---|---|---|")
    for qf in args.qf:
        sel = [r for r in rows if r[0] == qf]
        cols = []
        for k in range(3):
            cols.append(
                f"{statistics.mean(r[2][k][0] for r in sel):.2f} / {statistics.mean(r[2][k][1] for r in sel):.4f}"
            )
        gains = [r[2][2][0] - r[2][0][0] for r in sel]
        print(f"| {qf} | {cols[0]} | {cols[1]} | {cols[2]} | {statistics.mean(gains):+.2f} ({min(gains):+.2f}) |")


if __name__ == "__main__":
    main()
