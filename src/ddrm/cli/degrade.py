"""``ddrm degrade``: a measurement ``y = H x + noise`` of a clean image, written with its sidecar (a thin front end over
:func:`ddrm.pipeline.degrade_to_files`). Values on the command line are in image units ([0, 1])."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..io import read_image
from ..operators import BOUNDARIES
from ..pipeline import degrade_to_files
from ..tasks import clean_photo_task, default_sigma_y, make_task, parse_task
from .args import SEED, add_pixel_limit, number
from .resolve import TASKS_HELP, task_flags

__all__ = ["add_commands"]


def cmd_degrade(args: argparse.Namespace) -> int:
    src = Path(args.input)
    out = Path(args.output)
    name, params = parse_task(args.task)
    params = task_flags(args, name, params)
    x = read_image(src, upright=True)  # a photo as viewers show it (a phone's portrait is stored sideways)
    params, x = clean_photo_task(name, params, x, src)  # a greyscale photo: its grey measured, as restored
    g = torch.Generator().manual_seed(args.seed)
    # every random choice becomes an explicit tensor, so the sidecar rebuilds H exactly
    spec = make_task(name, tuple(x.shape), params, g, mask=args.mask, kernel=args.kernel)
    inputs = [src, *(Path(f) for f in (args.mask, args.kernel) if f)]
    sigma_y = args.sigma_y if args.sigma_y is not None else default_sigma_y(name)
    _, sidecar = degrade_to_files(x, spec, sigma_y, out, g, args.seed, inputs)
    if not args.quiet:
        print(f"wrote {out} ({name}, sigma_y={sigma_y}) and {sidecar.name}")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("degrade", help="make a measurement y = H x + noise from a clean image, with a sidecar")
    p.add_argument("input", help="clean image (RGB, or greyscale: its grey measured)")
    p.add_argument("-o", "--output", required=True, help="measurement file (.png, or .npy for exact values / cs)")
    p.add_argument("--task", required=True, help=TASKS_HELP)
    p.add_argument(
        "--sigma-y",
        type=number(float, 0, 1),
        default=None,
        help="noise std in [0, 1] image units (default 0.05; 0 for JPEG, whose quantisation is the degradation)",
    )
    p.add_argument("--seed", type=SEED, default=0, help="seed of the noise and of the random mask/kernel (0)")
    p.add_argument("--mask", default=None, help="inpainting mask image (white = observed); default: random")
    p.add_argument(
        "--missing",
        type=number(float, 0, 1, below_high=True),
        default=None,
        help="fraction of missing pixels of a random mask (0.5)",
    )
    p.add_argument(
        "--kernel",
        default=None,
        help="blur kernel for deblur_motion (.npy summing to 1, or an image); for deblur_varying a .npy grid of "
        "kernels (rows, cols, kh, kw)",
    )
    p.add_argument("--kernel-size", type=number(int, 3), default=None, help="size of the random motion kernel(s)")
    p.add_argument(
        "--grid", type=number(int, 1), default=None, help="deblur_varying: regions per side, one random kernel each (2)"
    )
    p.add_argument(
        "--intensity", type=number(float, 0, 1), default=None, help="curvature of the random motion kernel, 0..1"
    )
    p.add_argument(
        "--boundary",
        choices=BOUNDARIES,
        default=None,
        help="blur boundary: zero (DDRM's protocol; separable blurs' default), circular (deblur_motion's and "
        "deblur_varying's default) or valid (a real photo's: the measurement is the part of the blur that saw only "
        "the image, smaller by the kernel's size minus one)",
    )
    p.add_argument("--factor", type=number(int, 1), default=None, help="super-resolution factor (also: --task sr4)")
    p.add_argument("--ratio", type=number(int, 1), default=None, help="compressed-sensing ratio (also: --task cs4)")
    add_pixel_limit(p)
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_degrade)
