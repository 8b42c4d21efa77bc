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
from blind_real import blurred, kernels, true_kernel_into  # benchmarks/blind_real.py, beside this script
from heldout import photo_arguments, photo_files  # benchmarks/heldout.py, beside this script
from provenance import command_line, show, write_result  # benchmarks/provenance.py, beside this script
from summaries import grey_blind_table  # benchmarks/summaries.py, beside this script

import ddrm
from ddrm.checkpoints import load_prior
from ddrm.metrics import psnr
from ddrm.pipeline import kernel_error

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = photo_arguments(__doc__, size=128, steps=20)
    ap.add_argument("--levels", default="0.01,0.02")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "grey_blind.json"))
    args = ap.parse_args()
    prior, rows = load_prior(args.prior, args.checkpoint), []
    files = photo_files(args)
    for family, (a, b) in kernels().items():
        k = torch.outer(a, b)
        for seed, y, truth, row in blurred(args, files, family, k, grey=True):
            out, info = ddrm.restore(y, "deblur_blind", sigma_y=row["sigma_y"], steps=args.steps, prior=prior,
                                     seed=seed, task_params={"size": a.numel()}, samples=1, details=True)  # fmt: skip
            assert out.shape == truth.shape  # the grey result, in the measurement's frame
            row["blind"], row["blind kernel error"] = psnr(out, truth), kernel_error(info.kernels[0], k)
            true_kernel_into(row, y, truth, a, b, prior, args, seed)
            rows.append(row)
            show(row)
    out = write_result(args.out, command_line(), rows, args.prior, size=args.size, steps=args.steps,
                       photos=args.heldout)  # fmt: skip
    print(grey_blind_table(out))


if __name__ == "__main__":
    main()
