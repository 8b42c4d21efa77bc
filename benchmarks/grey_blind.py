"""Blind deblurring of greyscale photos: the held-out photos turned grey by Pillow's luma (as a grey scan or camera
gives them), blurred as a camera blurs them (the valid part of the blur of a larger crop, 8-bit, the protocol of
``blind_real.py``), restored by ``ddrm.restore(y, "deblur_blind")`` as a one-channel measurement (its kernel
estimated from the grey in every channel, with sqrt(3) times the noise level: the grey's one noise, repeated, on the
channels' grey coordinate; the image measured through its grey; the task's defaults, one sample),
against the blurry photo and non-blind DDRM with the true kernel on the grey (``on_grey`` of the valid separable
blur). Separable kernels of 9-25 px, sigma_y given, built-in prior, DDRM 20 steps; PSNR of the result (grey) in the
measurement's frame.

    python benchmarks/grey_blind.py          # writes benchmarks/results/grey_blind.json
"""

from __future__ import annotations

from pathlib import Path

import torch
from blind_real import kernels, scene_of  # benchmarks/blind_real.py, beside this script
from grey_photos import grey_of, tensor  # benchmarks/grey_photos.py, beside this script
from heldout import photo_arguments, photo_files  # benchmarks/heldout.py, beside this script
from provenance import show, write_result  # benchmarks/provenance.py, beside this script
from real_boundaries import blur_valid  # the same camera-like blur
from summaries import grey_blind_table  # benchmarks/summaries.py, beside this script

import ddrm
from ddrm.checkpoints import load_prior
from ddrm.metrics import psnr
from ddrm.operators import on_grey, separable_blur
from ddrm.pipeline import image_generator, kernel_error
from ddrm.samplers import SAMPLERS

ROOT = Path(__file__).resolve().parent.parent


def true_kernel(y: torch.Tensor, a: torch.Tensor, b: torch.Tensor, sigma_y: float, prior, args,  # noqa: ANN001
                seed: int, image: str) -> torch.Tensor:  # fmt: skip
    """Non-blind DDRM with the true separable kernel ``a b^T`` on the grey of the image (valid boundary), the result's
    grey in the frame."""
    n, c = a.numel(), (a.numel() - 1) // 2
    op = on_grey(separable_blur((1, y.shape[1] + n - 1, y.shape[2] + n - 1), a, b, boundary="valid"))
    with torch.no_grad():
        x = SAMPLERS["ddrm"].run(prior, op, op.to_model_range(y[None]), 2 * sigma_y, steps=args.steps,
                                 task="deblur_gauss", generator=[image_generator(seed, image)])  # fmt: skip
    x = ((x[0] + 1) / 2).clamp(0, 1)[:, c : c + args.size, c : c + args.size]
    return x.mean(0, keepdim=True)


def main() -> None:
    ap = photo_arguments(__doc__, size=128, steps=20)
    ap.add_argument("--levels", default="0.01,0.02")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "grey_blind.json"))
    args = ap.parse_args()
    prior, rows = load_prior(args.prior, args.checkpoint), []
    files = photo_files(args)
    for family, (a, b) in kernels().items():
        k, n = torch.outer(a, b), a.numel()
        c = (n - 1) // 2
        for level in (float(v) for v in args.levels.split(",")):
            for i, f in enumerate(files):
                seed = args.seed + i
                scene = tensor(grey_of(scene_of(args, f, n)))
                y = blur_valid(scene, k, level, seed)
                truth = scene[:, c : c + args.size, c : c + args.size]
                row = {"kernel": family, "sigma_y": level, "image": f.stem, "blurry": psnr(y, truth)}
                out, info = ddrm.restore(y, "deblur_blind", sigma_y=level, steps=args.steps,
                                         prior=prior, seed=seed, task_params={"size": n}, samples=1,
                                         details=True)  # fmt: skip
                assert out.shape == truth.shape  # the grey result, in the measurement's frame
                row["blind"], row["blind kernel error"] = psnr(out, truth), kernel_error(info.kernels[0], k)
                row["true kernel"] = psnr(true_kernel(y, a, b, level, prior, args, seed, f.stem), truth)
                rows.append(row)
                show(row)
    photos = "" if args.heldout == ap.get_default("heldout") else f" --heldout {args.heldout}"
    levels = "" if args.levels == ap.get_default("levels") else f" --levels {args.levels}"
    out = write_result(args.out, f"python benchmarks/grey_blind.py{photos}{levels}", rows, args.prior,
                       size=args.size, steps=args.steps, photos=args.heldout)  # fmt: skip
    print(grey_blind_table(out))


if __name__ == "__main__":
    main()
