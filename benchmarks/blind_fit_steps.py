"""What the blind estimator's fit sees at each step: non-blind DDRM with the TRUE kernel (valid boundary, 20 steps,
built-in prior) restores photos blurred as a camera blurs them (:mod:`blind_real`'s protocol: 128 px frames, the
9-25 px separable kernels, sigma_y 0.01), and at every step the separable kernel is fitted to that step's denoised
estimate ``x0`` exactly as :class:`~ddrm.pipeline.blind.KernelEstimator` fits it (valid boundary, gradients, its
smoothing), from the Gaussian first guess of a run without the pyramid (std size / 6), with enough alternations to converge (10); and once to the scene itself. Per row and
step: ``x0``'s PSNR in the frame, the fitted kernel's error against the truth and each factor's spread (standard
deviation) over the true factor's. A chain that already has the true kernel should give the truth back at every step;
where it does not, the in-chain estimate is pulled off the truth whatever it started from.

On the training photos of ../shared/DATA.md: a design measurement, not an evaluation.

    python benchmarks/blind_fit_steps.py   # writes benchmarks/results/blind_fit_steps.json
"""

from __future__ import annotations

import torch
from blind_real import blurred, kernels  # benchmarks/blind_real.py, beside this script
from heldout import photo_arguments, photo_files  # benchmarks/heldout.py, beside this script
from provenance import command_line, show, write_result  # benchmarks/provenance.py, beside this script
from summaries import blind_fit_steps_table

from ddrm.bench.data import prepare
from ddrm.checkpoints import load_prior
from ddrm.io import read_image
from ddrm.metrics import psnr
from ddrm.operators import separable_blur
from ddrm.pipeline import image_generator
from ddrm.pipeline.blind import SMOOTH_GRADIENT, estimate_separable, gaussian_kernel, kernel_error
from ddrm.samplers import SAMPLERS

ALTERNATIONS = 10  # the estimator runs 3 per step from the previous estimate; from the first guess 10 converge


def spread(f: torch.Tensor) -> float:
    """The standard deviation of a 1-D kernel's taps about their mean position."""
    f = f.double() / f.sum()
    pos = torch.arange(f.numel(), dtype=torch.float64)
    mean = (f * pos).sum()
    return float((f * (pos - mean) ** 2).sum().sqrt())


def fit(x01: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> dict:
    """The estimator's separable fit of ``y`` (C, h, w) from ``x01`` (1, C, H, W), started from its Gaussian guess: the
    kernel error against ``a b^T`` and each factor's spread over the true factor's."""
    g = gaussian_kernel(a.numel())
    fa, fb = estimate_separable(x01, y[None], g, g, alternations=ALTERNATIONS, smooth=SMOOTH_GRADIENT, boundary="valid")
    return {"kernel error": kernel_error(torch.outer(fa, fb), torch.outer(a, b)),
            "spread": [spread(fa) / spread(a), spread(fb) / spread(b)]}  # fmt: skip


def main() -> None:
    ap = photo_arguments(__doc__, size=128, steps=20)
    ap.set_defaults(heldout="data/photos/train")
    ap.add_argument("--levels", default="0.01")
    ap.add_argument("--out", default="benchmarks/results/blind_fit_steps.json")
    args = ap.parse_args()
    files, prior, rows = photo_files(args), load_prior(args.prior, args.checkpoint), []
    by_name = {f.stem: f for f in files}
    for family, (a, b) in kernels().items():
        n = a.numel()
        c = (n - 1) // 2
        for seed, y, truth, row in blurred(args, files, family, torch.outer(a, b)):
            op = separable_blur((y.shape[0], y.shape[1] + n - 1, y.shape[2] + n - 1), a, b, boundary="valid")
            steps: list[dict] = []

            def record(info, operator, steps=steps, y=y, truth=truth, a=a, b=b, c=c):  # noqa: ANN001, ANN202
                x01 = ((info.x0 + 1) / 2).clamp(0, 1)
                frame = x01[0, :, c : c + truth.shape[1], c : c + truth.shape[2]]
                steps.append({"step": info.index, "psnr": psnr(frame, truth), **fit(x01, y, a, b)})
                return None  # the chain keeps the true kernel

            with torch.no_grad():
                SAMPLERS["ddrm"].run(prior, op, op.to_model_range(y[None]), 2 * row["sigma_y"], steps=args.steps,
                                     generator=[image_generator(seed, row["image"])], operator_update=record)  # fmt: skip
            scene = prepare(read_image(by_name[row["image"]]), args.size + n - 1, "center-crop")  # what the blur saw
            row.update({f"scene {k}": v for k, v in fit(scene[None], y, a, b).items()})
            row["steps"] = steps
            rows.append(row)
            show({k: v for k, v in row.items() if k != "steps"})
    out = write_result(args.out, command_line(), rows, args.prior, size=args.size, steps=args.steps, photos=args.heldout,
                       levels=args.levels, alternations=ALTERNATIONS)  # fmt: skip
    print(blind_fit_steps_table(out))


if __name__ == "__main__":
    main()
