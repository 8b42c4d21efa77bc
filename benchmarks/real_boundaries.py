"""Blur with real boundaries: photos blurred as a camera blurs them, where the border pixels saw the scene beyond the
frame (the 'valid' part of the convolution of a larger crop), restored with the boundary model the photo has
(``boundary="valid"``, the default for an image without a sidecar) against the synthetic models (zero boundary for
separable kernels, DDRM's protocol; circular for a 2-D kernel). Held-out photos (128 px frames), four kernel families,
sigma_y 0.01 and 0.02 (true value given; the motion kernel at 0.02), built-in prior, through ``ddrm.restore``: DDRM
at 20 steps where the operator has an SVD (separable kernels), else the default solver, DiffPIR, at its 100.

    python benchmarks/real_boundaries.py          # writes benchmarks/results/real_boundaries.json

PSNR in the measurement's frame against the scene there; "blurry" is the measurement itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from heldout import photo_arguments, photo_files  # benchmarks/heldout.py, beside this script
from provenance import command_line, show, write_result  # benchmarks/provenance.py, beside this script
from summaries import real_boundaries_table  # benchmarks/summaries.py, beside this script

import ddrm
from ddrm.bench.data import prepare
from ddrm.checkpoints import load_prior
from ddrm.io import read_image
from ddrm.metrics import psnr
from ddrm.operators import ddrm_anisotropic_kernels, gaussian_kernel_1d, motion_kernel, uniform_kernel_1d
from ddrm.pipeline import default_solver

ROOT = Path(__file__).resolve().parent.parent


def kernels() -> dict[str, tuple[str, dict, torch.Tensor]]:
    """family -> (task, task parameters, the 2-D kernel that blurs the scene)."""
    g = gaussian_kernel_1d(2.5, 7)
    rows, cols = ddrm_anisotropic_kernels()
    box = uniform_kernel_1d(9)
    motion = motion_kernel(21, 0.5, torch.Generator().manual_seed(3))
    return {
        "Gaussian 15 px, std 2.5": ("deblur_gauss", {"size": 15, "std": 2.5}, torch.outer(g, g)),
        "anisotropic 9 px (std 1 / 20)": ("deblur_aniso", {}, torch.outer(rows, cols)),
        "box 9 px": ("deblur_uni", {"size": 9}, torch.outer(box, box)),
        "motion 21 px": ("deblur_motion", {}, motion),
    }


def blur_valid(scene: torch.Tensor, k: torch.Tensor, level: float, seed: int) -> torch.Tensor:
    """The valid part of the scene's blur plus noise, rounded to 8 bits as a file holds it."""
    c, h, w = scene.shape
    y = F.conv2d(scene.double().reshape(c, 1, h, w), k.flip(0, 1)[None, None]).reshape(c, h - k.shape[0] + 1, -1)
    y = y + level * torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return ((y.clamp(0, 1) * 255).round() / 255).float()


def main() -> None:
    ap = photo_arguments(__doc__, size=128, steps=20)
    ap.add_argument("--levels", default="0.01,0.02")
    ap.add_argument("--motion-levels", default="0.02", help="the 2-D kernel's levels (its CG solves are the slow part)")
    ap.add_argument("--motion-photos", type=int, default=None, help="the 2-D kernel on the first N photos only")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "real_boundaries.json"))
    args = ap.parse_args()
    files = photo_files(args)
    prior = load_prior(args.prior, args.checkpoint)
    partial = Path(args.out).with_suffix(".partial.jsonl")  # rows so far: a rerun resumes after them
    done = [json.loads(line) for line in partial.read_text().splitlines()] if partial.is_file() else []
    rows = list(done)
    for family, (task, params, k) in kernels().items():
        kh, kw = k.shape
        levels = args.motion_levels if task == "deblur_motion" else args.levels
        for level in (float(v) for v in levels.split(",")):
            for i, f in enumerate(files[: args.motion_photos] if task == "deblur_motion" else files):
                seed = args.seed + i
                if any((r["kernel"], r["sigma_y"], r["image"]) == (family, level, f.stem) for r in done):
                    continue
                scene = prepare(read_image(f), args.size + max(kh, kw) - 1, "center-crop")  # the frame and beyond
                y = blur_valid(scene[:, : args.size + kh - 1, : args.size + kw - 1], k, level, seed)
                truth = scene[:, (kh - 1) // 2 : (kh - 1) // 2 + y.shape[1], (kw - 1) // 2 : (kw - 1) // 2 + y.shape[2]]
                extra = {"kernel": k} if task == "deblur_motion" else {}
                synthetic = "circular" if task == "deblur_motion" else "zero"
                row = {"kernel": family, "task": task, "sigma_y": level, "image": f.stem, "blurry": psnr(y, truth)}
                runs = {
                    f"ddrm, {synthetic} boundary": ("ddrm", synthetic),
                    "valid boundary (default)": (None, "valid"),
                }
                for label, (solver, boundary) in runs.items():
                    steps = None if (solver or default_solver(task, {"boundary": boundary})) != "ddrm" else args.steps
                    out, info = ddrm.restore(y, task, sigma_y=level, solver=solver, steps=steps, prior=prior,
                                             task_params={**params, "boundary": boundary}, seed=seed, details=True,
                                             **extra)  # fmt: skip
                    row[label] = psnr(out, truth)
                    row[label + " residual"] = float(info.residual[0])
                rows.append(row)
                with partial.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                show(row)
    out = write_result(args.out, command_line(), rows, args.prior, size=args.size, steps=args.steps)
    partial.unlink()
    print(real_boundaries_table(out))


if __name__ == "__main__":
    main()
