"""Greyscale photos as users hold them: the held-out photos turned grey by Pillow (its luma, as a grey scan or camera
gives), as 8-bit files, noisy (denoising) or reduced by Pillow's bicubic (super-resolution x4), restored by
``ddrm.restore`` three ways:

* grey (the default): the one-channel measurement, the task's operator on the image's grey (``grey=True``), its noise
  estimated on the grey image from its weak-texture patches;
* grey, true sigma_y: the same with the true level (0 for the reduction: its 8-bit rounding only);
* three equal channels: the grey image repeated to RGB, a grey photo saved as RGB, restored by ``ddrm.restore`` (since
  the commit after 6597729, as its grey: the same measurement as the first);
* as colour: the same three channels restored with the colour model, as ``ddrm.restore`` read them before (and as the
  web page read a grey upload before 059e731), its noise level the grey image's.

    python benchmarks/grey_photos.py          # writes benchmarks/results/grey_photos.json

The result's grey (the mean of its channels, what the grey measurement models) is scored against the grey photo. Each
row also records the noise estimates: weak-texture patches (the default on one channel), all patches (Chen et al.'s,
the default on one channel before) and the three equal channels'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from heldout import photo_arguments, photo_files  # benchmarks/heldout.py, beside this script
from PIL import Image
from provenance import command_line, show, write_result  # benchmarks/provenance.py, beside this script
from summaries import grey_photos_table  # benchmarks/summaries.py, beside this script

import ddrm
from ddrm.bench.data import prepare
from ddrm.checkpoints import load_prior
from ddrm.errors import InputError
from ddrm.io import read_image
from ddrm.metrics import psnr
from ddrm.pipeline import image_generator, restore_batch
from ddrm.samplers import SAMPLERS
from ddrm.tasks import estimate_sigma_y, parse_task, pca_noise_level, spec_for_measurement

ROOT = Path(__file__).resolve().parent.parent
LEVELS = (0.01, 0.02, 0.05)


def grey_of(x: torch.Tensor) -> Image.Image:
    """A photo (3, H, W) in [0, 1] as an 8-bit greyscale image, by Pillow's luma (ITU-R 601-2)."""
    return Image.fromarray((x.permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)).convert("L")


def tensor(im: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(im, dtype=np.float32) / 255)[None]


def all_patches(y: torch.Tensor) -> float:
    """Chen et al.'s estimate on every patch: the one-channel default before (8 px, 4 px on a thumbnail)."""
    try:
        return pca_noise_level(y, 8)
    except InputError:
        return pca_noise_level(y, 4)


def restore_three_ways(row: dict, y: torch.Tensor, task: str, truth: torch.Tensor, true_sigma: float, prior, args):  # noqa: ANN001
    """The row's PSNRs (the result's grey against the grey photo) and noise estimates for measurement ``y``."""
    common = dict(prior=prior, seed=args.seed, steps=args.steps)
    out, info = ddrm.restore(y, task, details=True, **common)
    row["grey"], row["sigma_y estimated"] = psnr(out.mean(0, keepdim=True), truth), info.sigma_y[0]
    out = ddrm.restore(y, task, sigma_y=true_sigma, **common)
    row["grey, true sigma_y"] = psnr(out.mean(0, keepdim=True), truth)
    rgb = y.expand(3, -1, -1).contiguous()
    out, info = ddrm.restore(rgb, task, details=True, **common)
    row["three equal channels"], row["sigma_y three channels"] = psnr(out.mean(0, keepdim=True), truth), info.sigma_y[0]
    # the colour model on the same three channels, as ddrm.restore had it before: the first image's generator, the
    # solver's default steps given, the level estimated on the three channels
    spec = spec_for_measurement(*parse_task(task), tuple(rgb.shape))
    assert not spec.measures_grey
    res = restore_batch(prior, SAMPLERS["ddrm"], spec, spec.operator(), rgb[None], info.sigma_y[0],
                        [image_generator(args.seed, "image 0")], {"steps": args.steps})  # fmt: skip
    row["as colour"] = psnr(res.images[0].mean(0, keepdim=True), truth)
    row["sigma_y all patches"] = all_patches(y)
    assert row["sigma_y estimated"] == estimate_sigma_y(y, task.rstrip("0123456789"))


def main() -> None:
    ap = photo_arguments(__doc__, size=128, steps=20)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "grey_photos.json"))
    args = ap.parse_args()
    prior = load_prior(args.prior, args.checkpoint)
    rows = []
    for f in photo_files(args):
        photo = grey_of(prepare(read_image(f), args.size, "center-crop"))
        truth = tensor(photo)
        for level in LEVELS:
            g = image_generator(args.seed, f"{level}|{f.stem}")
            noisy = tensor(grey_of((truth + level * torch.randn(truth.shape, generator=g)).expand(3, -1, -1)))
            row = {"task": "denoise", "image": f.stem, "sigma_y": level, "input": psnr(noisy, truth)}
            restore_three_ways(row, noisy, "denoise", truth, level, prior, args)
            rows.append(row)
            show(row, 4)
        side = args.size // 4
        low = photo.resize((side, side), Image.Resampling.BICUBIC)  # as a resize makes a thumbnail
        row = {"task": "sr_bicubic4", "image": f.stem, "sigma_y": 0.0,
               "input": psnr(tensor(low.resize(photo.size, Image.Resampling.BICUBIC)), truth)}  # fmt: skip
        restore_three_ways(row, tensor(low), "sr_bicubic4", truth, 0.0, prior, args)
        rows.append(row)
        show(row, 4)
    out = write_result(args.out, command_line(), rows, args.prior, size=args.size, steps=args.steps)
    print(grey_photos_table(out))


if __name__ == "__main__":
    main()
