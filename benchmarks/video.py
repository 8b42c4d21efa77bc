"""Video restoration frame by frame: independent noise, shared noise and warm start, on clips made from the held-out
photos (never used in training) by a camera pan.

    python benchmarks/video.py [--heldout data/photos/heldout] [--size 128] [--frames 8] [--task sr4]
                               [--sigma-y 0.05] [--prior builtin] [--steps 20] [--warm-level 0.5]

Each clip is a ``size`` x ``size`` window moving 3 px right and 1 px down per frame across a photo (whole-pixel
motion, so the clean frames are exact crops). The measurements are written as 8-bit PNG frames, as a user's frames
would be, and restored through the library path ``ddrm restore`` uses (:func:`ddrm.video.restore_clip`). Flicker is
the mean absolute difference (8-bit levels) between each restored frame and the previous one warped onto it along the
clean clip's optical flow; the clean clip's own value is the floor set by the flow's errors. Prints a Markdown table.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch
from heldout import photo_arguments, photo_files

from ddrm.io import read_image, write_image
from ddrm.pipeline import PriorLoader, image_generator
from ddrm.samplers import SAMPLERS
from ddrm.tasks import make_task, parse_task
from ddrm.video import open_clip, restore_clip, score_clip

MODES = ("independent", "shared", "warm-start")


def pan(photo: torch.Tensor, size: int, frames: int, dx: int = 3, dy: int = 1) -> list[torch.Tensor]:
    """``frames`` crops of ``size`` px moving by (dx, dy) px per frame, centred on the photo."""
    _, h, w = photo.shape
    span_x, span_y = dx * (frames - 1), dy * (frames - 1)
    if size + span_x > w or size + span_y > h:
        raise SystemExit(f"a {size} px pan over {frames} frames needs a {size + span_x}x{size + span_y} photo")
    left, top = (w - size - span_x) // 2, (h - size - span_y) // 2
    return [photo[:, top + dy * i : top + dy * i + size, left + dx * i : left + dx * i + size] for i in range(frames)]


def main() -> None:
    ap = photo_arguments(__doc__, size=128, steps=20)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--task", default="sr4")
    ap.add_argument("--sigma-y", type=float, default=0.05)
    ap.add_argument("--warm-level", type=float, default=0.5)
    args = ap.parse_args()
    files = photo_files(args)
    name, params = parse_task(args.task)
    loader = PriorLoader(args.prior, args.checkpoint)
    solver = SAMPLERS["ddrm"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for f in files:
            clean = pan(read_image(f), args.size, args.frames)
            spec = make_task(name, tuple(clean[0].shape), params, torch.Generator().manual_seed(args.seed))
            op = spec.operator()
            for i, x in enumerate(clean):
                write_image(x, root / f.stem / "clean" / f"{i:03d}.png")
                y = op.measure(x[None], args.sigma_y, image_generator(args.seed, f"{f.stem}{i}"))[0]
                write_image(y, root / f.stem / "y" / f"{i:03d}.png")
            clip, reference = open_clip(root / f.stem / "y"), open_clip(root / f.stem / "clean")
            for mode in MODES:
                t0 = time.perf_counter()
                out = restore_clip(clip, root / f.stem / mode, spec, args.sigma_y, solver, {"steps": args.steps},
                                   loader, temporal=mode, warm_level=args.warm_level, seed=args.seed,
                                   batch_size=1)  # fmt: skip
                seconds = (time.perf_counter() - t0) / args.frames
                s = score_clip(out, reference)
                rows.append((f.stem, mode, s, seconds))
                print(f"{f.stem:10s} {mode:12s} PSNR {s['psnr']:6.2f}  SSIM {s['ssim']:.4f}  flicker {s['flicker']:5.2f} "
                      f"(clean {s['flicker_clean']:.2f})  {seconds:.1f} s/frame", flush=True)  # fmt: skip
    print(
        f"\n{len(files)} clips of {args.frames} frames at {args.size}x{args.size} (pan 3 px right, 1 px down per frame); "
        f"task {args.task}, sigma_y {args.sigma_y}; DDRM, prior {args.prior}, {args.steps} steps; "
        f"warm start from {args.warm_level:g} of the chain ({round(args.steps * args.warm_level)} steps); "
        f"{torch.get_num_threads()} CPU threads"
    )
    warm_steps = round(args.steps * args.warm_level)
    nfe = {"warm-start": (args.steps + (args.frames - 1) * warm_steps) / args.frames}
    print(
        "| noise across frames | PSNR | SSIM | flicker (clean clip) | flicker - clean, worst clip | NFE / frame | s / frame |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode in MODES:
        sel = [r for r in rows if r[1] == mode]
        mean = {k: statistics.mean(r[2][k] for r in sel) for k in ("psnr", "ssim", "flicker", "flicker_clean")}
        excess = max(r[2]["flicker"] - r[2]["flicker_clean"] for r in sel)
        print(
            f"| {mode} | {mean['psnr']:.2f} dB | {mean['ssim']:.4f} | {mean['flicker']:.2f} ({mean['flicker_clean']:.2f})"
            f" | {excess:+.2f} | {nfe.get(mode, args.steps):.1f} | {statistics.mean(r[3] for r in sel):.1f} |"
        )


if __name__ == "__main__":
    main()
