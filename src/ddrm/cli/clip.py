"""``ddrm restore`` for a video file, or a folder of frames with ``--temporal``: frame by frame through
:func:`ddrm.video.restore_clip` (resumable), then encoded into a video with the source's audio."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..pipeline import check_outputs, check_writable, default_solver, describe_device, output_lock
from ..tasks import as_measurement, is_grey_photo, parse_task
from ..video import (
    VIDEO_SUFFIXES,
    check_video_output,
    frames_folder,
    is_video,
    open_clip,
    restore_clip,
    score_clip,
    write_video,
)
from .args import solver_settings
from .resolve import prior_loader, resolve_task

__all__ = ["restore_clip_command"]


def restore_clip_command(args: argparse.Namespace, device: torch.device) -> int:
    """A video file, or a folder of frames with ``--temporal``: frame by frame, resumable (:mod:`ddrm.video`)."""
    src = Path(args.input)
    if args.fps is not None and not src.is_dir():
        raise InputError("--fps applies to a folder of frames; a video keeps its own frame rate")
    temporal = args.temporal or "shared"
    if args.warm_level is not None and temporal != "warm-start":
        raise InputError("--warm-level applies to --temporal warm-start")
    if args.save_grid:
        raise InputError("--save-grid applies to images; a clip's frames are written to a folder")
    clip = open_clip(src, fps=args.fps)
    out = (
        Path(args.output)
        if args.output
        else src.with_name(src.stem + "_restored" + (src.suffix if clip.is_video else ""))
    )
    video_out = is_video(out)
    if out.suffix and not video_out:
        raise InputError(f"{out}: a clip is restored into a video ({', '.join(VIDEO_SUFFIXES)}) or a folder of frames")
    frames_dir = frames_folder(out) if video_out else out
    _, y0 = next(clip.frames())
    if args.task:
        # a black-and-white clip stored as colour (every frame grey): restored as the grey it is, as a photo is; the
        # clip is read again only when its first frame is such a picture
        grey = not args.from_sidecar and is_grey_photo(y0) and clip.is_grey()
        y0 = as_measurement(parse_task(args.task)[0], y0, f"{src} frame 0", grey_photo=grey)
    spec, sigma_y, task_files, source, y0 = resolve_task(args, src, y0)
    if source == "estimated" and not args.quiet:
        print(f"{src.name}: sigma_y estimated from its first frame: {sigma_y:.4f}", file=sys.stderr)
    if not (np.isfinite(sigma_y) and 0 <= sigma_y <= 1):
        raise InputError(f"sigma_y must lie in [0, 1] (image units), got {sigma_y}")
    inputs = [src, *clip.files, *task_files]
    reference = _reference(args, clip, spec.output_shape)
    if reference is not None:
        inputs += [reference.path, *reference.files]
    if args.solver is None:
        args.solver = default_solver(spec.name, spec.params)
    solver, solver_args = solver_settings(args)
    check_outputs(list(dict.fromkeys([out, frames_dir])), inputs, folders=[frames_dir])
    check_writable(out)
    _, h, w = spec.output_shape
    if video_out:  # the container, the codec, the size and the audio, before the first frame
        check_video_output(out, h, w, clip.fps, audio_from=src if clip.is_video and clip.audio else None)
    loader = prior_loader(args, device)
    kept = 0 if args.overwrite else sum((frames_dir / f"{n}.png").exists() for n in clip.names)

    def on_start() -> None:
        print(describe_device(device), file=sys.stderr)
        for note in dict.fromkeys(getattr(args, "notes", [])):
            print(f"ddrm: note: {note}", file=sys.stderr)
        if kept:
            print(f"{kept} of {clip.count} frame(s) already restored in {frames_dir}; resuming", file=sys.stderr)

    with output_lock(frames_dir):  # a video is made from its frames folder: one lock covers both
        frames = restore_clip(
            clip,
            frames_dir,
            spec,
            sigma_y,
            solver,
            solver_args,
            loader,
            temporal=temporal,
            warm_level=0.5 if args.warm_level is None else args.warm_level,
            seed=args.seed,
            batch_size=args.batch_size or 4,
            device=device,
            overwrite=args.overwrite,
            progress_bar=not args.quiet,
            on_start=None if args.quiet else on_start,
            settings={"prior": args.prior, "checkpoint": args.checkpoint, "dtype": args.dtype},
        )
        if video_out:
            write_video(frames, out, clip.fps, audio_from=src if clip.is_video and clip.audio else None)
    _report(args, clip, frames, reference, out, frames_dir, video_out, temporal)
    return 0


def _report(args, clip, frames, reference, out, frames_dir, video_out: bool, temporal: str) -> None:  # noqa: ANN001
    """Scores against the reference clip (PSNR, SSIM, flicker) and where the result went."""
    if reference is not None:
        s = score_clip(frames, reference)
        line = f"mean over {clip.count} frames: PSNR {s['psnr']:.2f} dB  SSIM {s['ssim']:.4f}"
        if "flicker" in s:
            line += f"  flicker {s['flicker']:.2f} (clean clip {s['flicker_clean']:.2f}, 8-bit levels)"
        print(line)
    if not args.quiet:
        where = f" (lossless frames in {frames_dir})" if video_out else ""
        print(f"restored {clip.count} frame(s) into {out}{where}, {temporal} noise")


def _reference(args, clip, image_shape):  # noqa: ANN001
    """The clean clip to score against (``--reference``), checked to match the restored clip's frames."""
    if not args.reference:
        return None
    reference = open_clip(args.reference, fps=clip.fps)
    c, h, w = image_shape
    if c == 1 and not reference.is_grey():  # checked before any frame is restored
        raise InputError(f"{args.reference}: the restored clip is greyscale (so is its measurement), this reference "
                         "has colours")  # fmt: skip
    if (reference.height, reference.width, reference.count) != (h, w, clip.count):
        raise InputError(
            f"{args.reference}: the reference has {reference.count} frames of {reference.width}x{reference.height}, "
            f"the restored clip will have {clip.count} of {w}x{h}"
        )
    return reference
