"""Blind deblurring on the held-out photos (never used in training): DDRM with the kernel re-estimated during
sampling (separable and full models) against non-blind DDRM with the true kernel and with a generic guessed kernel.

    python benchmarks/blind_deblur.py [--heldout data/photos/heldout] [--size 128] [--kernel-size 15]
                                      [--sigma-y 0.02] [--prior builtin] [--steps 20]

Blurs (circular boundary, ``--kernel-size`` taps): an anisotropic Gaussian (std 1 x 2.5 px, separable), a uniform
box (separable), and a random motion kernel (intensity 0.5, not separable). The generic guess is an isotropic
Gaussian of std size / 6, the estimator's starting point. Kernel error: relative L2 distance to the true kernel, both
centred. Prints a Markdown table.
"""

from __future__ import annotations

import statistics
import time

import torch
from heldout import photo_arguments, photo_files

from ddrm.bench.data import prepare
from ddrm.checkpoints import load_prior
from ddrm.io import read_image
from ddrm.metrics import psnr
from ddrm.operators import CircularConvolution, motion_kernel
from ddrm.pipeline import image_generator
from ddrm.pipeline.blind import gaussian_kernel, kernel_error, restore_blind
from ddrm.samplers import SAMPLERS


def kernels(size: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "gaussian": torch.outer(gaussian_kernel(size, 1.0), gaussian_kernel(size, 2.5)),
        "uniform": torch.full((size, size), 1.0 / size**2, dtype=torch.float64),
        "motion": motion_kernel(size, 0.5, g).double(),
    }


def main() -> None:
    ap = photo_arguments(__doc__, size=128, steps=20)
    ap.add_argument("--kernel-size", type=int, default=15)
    ap.add_argument("--sigma-y", type=float, default=0.02)
    args = ap.parse_args()
    files = photo_files(args)
    prior = load_prior(args.prior, args.checkpoint)
    ddrm = SAMPLERS["ddrm"]
    guess = torch.outer(gaussian_kernel(args.kernel_size), gaussian_kernel(args.kernel_size))
    rows = []
    for f in files:
        x = prepare(read_image(f), args.size, "crop")
        for name, k in kernels(args.kernel_size, args.seed).items():
            op = CircularConvolution(tuple(x.shape), k)
            y01 = op.measure(x[None], args.sigma_y, image_generator(args.seed, f.stem + name))
            res = {"blurred": (psnr(y01[0].clamp(0, 1), x), float("nan"), 0.0)}
            for label, kernel in (("true kernel", k), ("guessed kernel", guess)):
                t0 = time.perf_counter()
                out = ddrm.run(prior, CircularConvolution(tuple(x.shape), kernel), 2 * y01 - 1, 2 * args.sigma_y,
                               steps=args.steps, generator=image_generator(args.seed, "x"))  # fmt: skip
                res[label] = (
                    psnr(((out[0] + 1) / 2).clamp(0, 1), x),
                    kernel_error(kernel, k),
                    time.perf_counter() - t0,
                )
            for model in ("separable", "full"):
                t0 = time.perf_counter()
                out, est = restore_blind(prior, ddrm, y01, args.sigma_y, args.kernel_size, model,
                                         solver_args={"steps": args.steps},
                                         generator=image_generator(args.seed, "x"))  # fmt: skip
                res[f"blind {model}"] = (psnr(out[0], x), kernel_error(est, k), time.perf_counter() - t0)
            rows.append((f.stem, name, res))
            print(f"{f.stem:10s} {name:9s} " + "  ".join(f"{k_}: {v[0]:.2f} dB (k err {v[1]:.2f})"
                                                         for k_, v in res.items()), flush=True)  # fmt: skip
    print(
        f"\n{len(files)} held-out photos at {args.size}x{args.size}; kernels of {args.kernel_size} px, circular "
        f"boundary; sigma_y {args.sigma_y}; DDRM, prior {args.prior}, {args.steps} steps; "
        f"{torch.get_num_threads()} CPU threads"
    )
    print("| blur | blurred | DDRM, true kernel | DDRM, guessed kernel | blind separable | blind full |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in ("gaussian", "uniform", "motion"):
        sel = [r[2] for r in rows if r[1] == name]
        cells = []
        for key in ("blurred", "true kernel", "guessed kernel", "blind separable", "blind full"):
            p = statistics.mean(s[key][0] for s in sel)
            e = statistics.mean(s[key][1] for s in sel)
            cells.append(f"{p:.2f} dB" + ("" if key in ("blurred", "true kernel") else f" (k err {e:.2f})"))
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("seconds per image: " + ", ".join(
        f"{key} {statistics.mean(r[2][key][2] for r in rows):.0f}"
        for key in ("true kernel", "guessed kernel", "blind separable", "blind full")))  # fmt: skip


if __name__ == "__main__":
    main()
