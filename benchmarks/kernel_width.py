"""How a wrong kernel width spoils a photo's deblurring: non-blind DDRM (valid boundary, 20 steps, built-in prior)
restoring photos blurred as a camera blurs them (:mod:`blind_real`'s protocol, 128 px frames, sigma_y 0.01 given)
with the true kernel's spread scaled by 0.7-1.3 (:func:`ddrm.pipeline.blind.scale_kernel`), against the blurry photo.
On the training photos of ../shared/DATA.md: it is a design measurement (what ``deblur_blind``'s ``narrow`` rests
on), not an evaluation.

    python benchmarks/kernel_width.py   # writes benchmarks/results/kernel_width.json
"""

from __future__ import annotations

import torch
from blind_real import blurred, true_kernel_into  # benchmarks/blind_real.py, beside this script
from heldout import photo_arguments, photo_files  # benchmarks/heldout.py, beside this script
from provenance import command_line, show, write_result  # benchmarks/provenance.py, beside this script
from summaries import kernel_width_table

from ddrm.checkpoints import load_prior
from ddrm.operators import gaussian_kernel_1d, uniform_kernel_1d
from ddrm.pipeline.blind import scale_kernel

FACTORS = (0.7, 0.85, 1.0, 1.15, 1.3)


def families() -> dict[str, torch.Tensor]:
    """family -> the 1-D factor of the true separable kernel (both axes), 15 taps: room to widen it by 1.3."""
    return {
        "Gaussian, std 2": gaussian_kernel_1d(2.0, 7),
        "box 9 px": torch.nn.functional.pad(uniform_kernel_1d(9), (3, 3)),
    }


def main() -> None:
    ap = photo_arguments(__doc__, size=128, steps=20)
    ap.set_defaults(heldout="data/photos/train")
    ap.add_argument("--levels", default="0.01")
    ap.add_argument("--out", default="benchmarks/results/kernel_width.json")
    args = ap.parse_args()
    files, prior, rows = photo_files(args), load_prior(args.prior, args.checkpoint), []
    for family, a in families().items():
        for seed, y, truth, row in blurred(args, files, family, torch.outer(a, a)):
            for factor in FACTORS:
                f = scale_kernel(a.double(), factor)
                true_kernel_into(row, y, truth, f, f, prior, args, seed, key=f"width x{factor:g}")
            rows.append(row)
            show(row)
    out = write_result(
        args.out, command_line(), rows, args.prior, size=args.size, steps=args.steps, photos=args.heldout
    )
    print(kernel_width_table(out))


if __name__ == "__main__":
    main()
