"""Spatially varying blur on the held-out photos (never used in training): the solvers that take an operator without
an SVD (conjugate-gradient pseudo-inverse / prox) with the true product-convolution operator, against restoring with
the average kernel (a spatially invariant blur: DDRM can then run, and DiffPIR with the wrong operator).

    python benchmarks/varying_blur.py [--heldout data/photos/heldout] [--size 128] [--grid 2] [--kernel-size 15]
                                      [--sigma-y 0.02] [--prior builtin] [--methods ddnm diffpir pigdm dps]

Each photo is blurred by a ``grid x grid`` set of random motion kernels blended by smooth masks (``deblur_varying``,
drawn from the seed) with Gaussian noise ``sigma_y`` ([0, 1] units). Solvers run at their official step counts unless
``--steps`` is given (DPS: 1000 steps with back-propagation, ~0.3 s per step at 128 px on 2 CPU cores). Prints a
Markdown table of PSNR / SSIM and seconds per image.
"""

from __future__ import annotations

import statistics
import time

import torch
from heldout import photo_arguments, photo_files

from ddrm.bench.data import prepare
from ddrm.checkpoints import load_prior
from ddrm.io import read_image
from ddrm.metrics import psnr, ssim
from ddrm.operators import CircularConvolution
from ddrm.pipeline import image_generator, restore_batch
from ddrm.samplers import SAMPLERS
from ddrm.tasks import TaskSpec, make_task


def main() -> None:
    ap = photo_arguments(__doc__, size=128, steps=None)
    ap.add_argument("--grid", type=int, default=2)
    ap.add_argument("--kernel-size", type=int, default=15)
    ap.add_argument("--sigma-y", type=float, default=0.02)
    ap.add_argument("--methods", nargs="+", default=["ddnm", "diffpir", "pigdm"])
    args = ap.parse_args()
    files = photo_files(args)
    prior = load_prior(args.prior, args.checkpoint)
    runs = [(m, "true") for m in args.methods] + [("ddrm", "average"), ("diffpir", "average")]
    rows = []
    for f in files:
        x = prepare(read_image(f), args.size, "crop")
        g = torch.Generator().manual_seed(args.seed)
        task = make_task("deblur_varying", tuple(x.shape), {"grid": args.grid, "size": args.kernel_size}, g)
        op = task.operator()
        y = op.measure(x[None], args.sigma_y, image_generator(args.seed, f.stem))
        mean_kernel = task.params["kernels"].mean((0, 1))
        avg_task = TaskSpec("deblur_motion", task.image_shape, {"kernel": mean_kernel})
        scores = {"blurred": (psnr(y[0].clamp(0, 1), x), ssim(y[0].clamp(0, 1), x), 0.0)}
        for method, which in runs:
            t, o = (task, op) if which == "true" else (avg_task, CircularConvolution(task.image_shape, mean_kernel))
            extra = {} if args.steps is None else {"steps": args.steps}
            t0 = time.perf_counter()
            out = restore_batch(prior, SAMPLERS[method], t, o, y, args.sigma_y, [image_generator(args.seed, "x")],
                                extra).images[0]  # fmt: skip
            scores[f"{method} ({which})"] = (psnr(out, x), ssim(out, x), time.perf_counter() - t0)
        rows.append((f.stem, scores))
        print(f.stem + "  " + "  ".join(f"{k} {v[0]:.2f}" for k, v in scores.items()), flush=True)
    print(
        f"\n{len(files)} held-out photos at {args.size}x{args.size}; {args.grid}x{args.grid} random motion kernels of "
        f"{args.kernel_size} px blended by smooth masks; sigma_y {args.sigma_y}; prior {args.prior}; "
        f"{torch.get_num_threads()} CPU threads"
    )
    print("| restoration | operator | PSNR | SSIM | worst photo vs blurred | s / image |")
    print("|---|---|---:|---:|---:|---:|")
    for key in rows[0][1]:
        vals = [r[1][key] for r in rows]
        method, _, which = key.partition(" (")
        worst = min(v[0] - r[1]["blurred"][0] for v, r in zip(vals, rows))
        op_text = {"true)": "varying (CG)", "average)": "average kernel"}.get(which, "-")
        print(
            f"| {method} | {op_text} | {statistics.mean(v[0] for v in vals):.2f} dB | "
            f"{statistics.mean(v[1] for v in vals):.4f} | {worst:+.2f} dB | {statistics.mean(v[2] for v in vals):.0f} |"
        )


if __name__ == "__main__":
    main()
