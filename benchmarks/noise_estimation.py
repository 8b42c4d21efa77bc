"""``--sigma-y auto`` against the truth: the noise level estimated from the measurement (PCA of patches, Chen et al.
2015; Donoho's MAD for comparison) over true levels 0-0.2 on the held-out photos and four tasks, and DDRM's PSNR with
the estimate against DDRM's PSNR with the true level (20 steps, built-in prior).

    python benchmarks/noise_estimation.py          # writes benchmarks/results/noise_estimation.json

Measurements are made as ``ddrm degrade`` makes them (the task's operator, Gaussian noise) and saved as 8-bit images
would be (rounded to 1/255), so the estimator also sees the rounding a real file carries.
"""

from __future__ import annotations

from pathlib import Path

from heldout import photo_arguments, photo_files  # benchmarks/heldout.py, beside this script
from provenance import command_line, show, write_result  # benchmarks/provenance.py, beside this script
from summaries import noise_estimation_table  # benchmarks/summaries.py, beside this script

from ddrm.bench.data import prepare
from ddrm.checkpoints import load_prior
from ddrm.io import read_image
from ddrm.metrics import psnr
from ddrm.pipeline import image_generator, restore_batch
from ddrm.samplers import SAMPLERS
from ddrm.tasks import estimate_sigma_y, make_task, parse_task

ROOT = Path(__file__).resolve().parent.parent
TASKS = ("denoise", "sr_bicubic4", "deblur_gauss", "color")
LEVELS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)


def main() -> None:
    ap = photo_arguments(__doc__, size=128, steps=20)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "noise_estimation.json"))
    args = ap.parse_args()
    photos = {f.stem: prepare(read_image(f), args.size, "center-crop") for f in photo_files(args)}
    prior, ddrm = load_prior(args.prior, args.checkpoint), SAMPLERS["ddrm"]
    rows = []
    for task in TASKS:
        name, params = parse_task(task)
        for level in LEVELS:
            for stem, x in photos.items():
                g = image_generator(args.seed, f"{task}|{level}|{stem}")
                spec = make_task(name, tuple(x.shape), params, g)
                op = spec.operator()
                y = (op.measure(x[None], level, g)[0].clamp(0, 1) * 255).round() / 255  # an 8-bit file
                row = {"task": task, "sigma_y": level, "image": stem,
                       "pca": estimate_sigma_y(y, name), "mad": estimate_sigma_y(y, name, method="mad")}  # fmt: skip
                for label, sy in (("true", level), ("estimated", row["pca"])):
                    out = restore_batch(prior, ddrm, spec, op, y[None], sy, [image_generator(args.seed, stem)],
                                        {"steps": args.steps}).images[0]  # fmt: skip
                    row[f"psnr {label}"] = psnr(out, x)
                rows.append(row)
                show(row, 4)
    out = write_result(args.out, command_line(), rows, args.prior, size=args.size,
                       steps=args.steps)  # fmt: skip
    print(noise_estimation_table(out))


if __name__ == "__main__":
    main()
