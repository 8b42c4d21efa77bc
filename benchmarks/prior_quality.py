"""Quality of the built-in prior on held-out photos (never used in training), against classical baselines.

    python benchmarks/prior_quality.py [--heldout data/photos/heldout] [--size 256] [--prior builtin]

1. One call of ``denoise`` at sigma = 25/255 vs a Gaussian blur and scikit-image's ``denoise_tv_chambolle``
   (both with their parameter tuned per image on the clean image: an oracle, so the bar is conservative).
2. DDRM (50 steps by default, ``--steps``; eta 0.85, eta_b 1) on SR x4 (block averaging) at sigma_y = 0.05 vs
   bicubic upsampling of y.
3. DDRM on Gaussian deblurring (DDRM's kernel) at sigma_y = 0.05 vs Wiener / Tikhonov (oracle-tuned) and the
   pseudo-inverse.
4. Per-call denoise time at 256x256 on this CPU.
All PSNRs are in dB on [0, 1] images.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from heldout import photo_arguments, photo_files

from ddrm import build_operator, ddrm
from ddrm.bench.data import prepare
from ddrm.io import read_image
from ddrm.loading import load_prior
from ddrm.metrics import psnr


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[0]
    xp = F.pad(x[None], (r, r, r, r), mode="reflect")
    xp = F.conv2d(xp, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(xp, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)[0]


def main() -> None:
    ap = photo_arguments(__doc__, size=256, steps=50)
    args = ap.parse_args()
    from skimage.restoration import denoise_tv_chambolle

    files = photo_files(args)
    prior = load_prior(args.prior, args.checkpoint)
    sigma = 25 / 255
    rows = []
    for f in files:
        x = prepare(read_image(f), args.size, "crop")
        shape = tuple(x.shape)
        g = torch.Generator().manual_seed(args.seed)
        row = {"image": f.stem}
        # 1. denoising
        noisy = x + sigma * torch.randn(shape, generator=g)
        with torch.no_grad():
            den = (prior.denoise(2 * noisy[None] - 1, 2 * sigma)[0] + 1) / 2
        row["noisy"] = psnr(noisy.clamp(0, 1), x)
        row["prior"] = psnr(den.clamp(0, 1), x)
        row["blur*"] = max(psnr(gaussian_blur(noisy, s).clamp(0, 1), x) for s in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0))
        nz = noisy.permute(1, 2, 0).double().numpy()
        row["tv*"] = max(
            psnr(torch.from_numpy(denoise_tv_chambolle(nz, weight=w, channel_axis=-1)).permute(2, 0, 1).clamp(0, 1), x)
            for w in (0.04, 0.06, 0.08, 0.1, 0.12, 0.15)
        )
        # 2. SR x4 by block averaging, sigma_y = 0.05
        for task, params in (("sr", {"factor": 4}), ("deblur_gauss", {})):
            op = build_operator(task, shape, **params)
            y01 = op.measure(x[None], 0.05, g)
            y = 2 * y01 - op.H(torch.ones(1, *shape))
            with torch.no_grad():
                out = ddrm(prior, op, y, 0.1, steps=args.steps, generator=g)
            row[f"{task} ddrm"] = psnr(((out[0] + 1) / 2).clamp(0, 1), x)
            if task == "sr":
                up = F.interpolate(y01, scale_factor=4, mode="bicubic", align_corners=False)[0]
                row["sr bicubic"] = psnr(up.clamp(0, 1), x)
            else:
                row["deblur pinv"] = psnr(((op.pinv(y)[0] + 1) / 2).clamp(0, 1), x)
                row["deblur wiener*"] = max(
                    psnr(((op.prox(y, torch.zeros(1, *shape), rho)[0] + 1) / 2).clamp(0, 1), x)
                    for rho in (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)
                )
        rows.append(row)
        print(" ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    keys = [k for k in rows[0] if k != "image"]
    print()
    print(f"{'image':12s} " + " ".join(f"{k:>15s}" for k in keys))
    for r in rows + [{"image": "mean", **{k: statistics.mean(r[k] for r in rows) for k in keys}}]:
        print(f"{r['image']:12s} " + " ".join(f"{r[k]:15.2f}" for k in keys))
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        prior.denoise(x, 0.5)
        t0 = time.perf_counter()
        for _ in range(5):
            prior.denoise(x, 0.5)
    print(
        f"\ndenoise call at 256x256 on CPU ({torch.get_num_threads()} threads): {(time.perf_counter() - t0) / 5 * 1e3:.0f} ms"
    )
    print("(* = parameter tuned per image on the clean image)")


if __name__ == "__main__":
    main()
