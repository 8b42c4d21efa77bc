"""``ddrm restore``: a measurement, a folder of them, a video or a folder of frames, with a known degradation or a
blur to estimate (``--task deblur_blind``), all through :func:`ddrm.pipeline.run_restore` (clips through
:func:`ddrm.video.restore_clip`, which builds on it). Values on the command line and in files are in image units
([0, 1]). Every input is read and checked before any output is written; an output never replaces an input; an option
that does not apply is refused in one line.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from ..checkpoints import prior_space
from ..errors import InputError
from ..io import image_orientation, image_profile, read_image, turn_upright
from ..operators import BOUNDARIES
from ..pipeline import (
    ESTIMATES,
    RestoreJob,
    check_outputs,
    check_writable,
    companion_paths,
    default_solver,
    describe_device,
    dist,
    find_reference,
    grid_path,
    job_outputs,
    job_samples,
    output_lock,
    plan_outputs,
    resolve_device,
    run_restore,
)
from ..tasks import (
    BLIND_TASKS,
    as_grey_reference,
    as_measurement,
    parse_task,
    read_measurement,
)
from ..video import TEMPORAL_MODES, is_video
from .args import (
    DTYPES,
    SEED,
    add_device,
    add_pixel_limit,
    add_prior,
    add_prompt,
    number,
    sigma_or_auto,
    solver_settings,
)
from .clip import restore_clip_command
from .resolve import TASKS_HELP, prior_loader, resolve_task

__all__ = ["add_commands"]

RESTORE_EXAMPLES = """examples:
  ddrm restore y.png                                       # a measurement made by 'ddrm degrade' (sidecar y.json)
  ddrm restore photo.png --task sr_bicubic4 -o big.png     # your own low-resolution photo; noise level estimated
  ddrm restore blurry.png --task deblur_blind --kernel-size 21 --sigma-y 0.02   # blur unknown: kernel estimated
"""


def _refuse_options(args: argparse.Namespace, device: torch.device, blind: bool, clip: bool) -> None:
    """Options that do not apply to this kind of restoration, refused in one line each."""
    if args.dtype != "float32" and device.type == "cpu":
        raise InputError(f"--dtype {args.dtype} needs a GPU (--device cuda); the CPU runs float32")
    for flag in ("kernel_model", "kernel_size", "kernel_narrow", "kernel_draws", "kernel_refits"):
        if getattr(args, flag) is not None and not blind:
            raise InputError(f"--{flag.replace('_', '-')} applies to --task deblur_blind")
    if blind:
        for flag in ("mask", "kernel", "from_sidecar", "factor", "ratio", "batch_size"):
            if getattr(args, flag, None):
                why = (
                    ": each image has its own kernel, so images are restored one at a time"
                    if flag == "batch_size"
                    else ""
                )
                raise InputError(f"--{flag.replace('_', '-')} does not apply to --task deblur_blind{why}")
    if clip:
        for flag in ("samples", "estimate"):
            if getattr(args, flag) is not None:
                raise InputError(f"--{flag} applies to images; a clip's frames are restored one sample each")
    if not clip:
        for flag in ("temporal", "warm_level", "fps"):
            if getattr(args, flag) is not None:
                raise InputError(
                    f"--{flag.replace('_', '-')} applies to a video file or a folder of frames restored with --temporal"
                )


def _read_jobs(args: argparse.Namespace, pairs: list[tuple[Path, Path]], ref_root: Path | None):
    """Every measurement read and checked, with its task, noise level and reference, before any work:
    ``(jobs, inputs read, references, images without a reference)``."""
    jobs, inputs, references, missing_refs = [], [], {}, []
    # a photo is restored as viewers show it (its EXIF orientation applied: a phone's portrait is stored sideways),
    # a JPEG restored as a JPEG on the grid its blocks were stored on
    upright = not (args.task and parse_task(args.task)[0] == "jpeg")
    for f, target in pairs:
        y = read_measurement(f, upright=upright)
        turn = 1 if upright else image_orientation(f)  # a JPEG restored as stored is written upright
        if args.task:  # a grey image saved as RGB: one channel (colourisation; without a sidecar, any photo's grey)
            y = as_measurement(parse_task(args.task)[0], y, str(f), grey_photo=not args.from_sidecar)
        spec, sigma_y, task_files, source, y = resolve_task(args, f, y)
        if source == "estimated" and not args.quiet:
            print(f"{f.name}: sigma_y estimated from the measurement: {sigma_y:.4f}", file=sys.stderr)
        if not (np.isfinite(sigma_y) and 0 <= sigma_y <= 1):
            raise InputError(f"sigma_y must lie in [0, 1] (image units), got {sigma_y}")
        inputs += [f, *task_files]
        if ref_root is not None:
            ref_path = find_reference(ref_root, f)
            if ref_path is None:
                missing_refs.append(f.name)
            else:
                # as viewers show it, then on the grid the image is restored on (a JPEG's stored grid)
                ref = turn_upright(read_image(ref_path, upright=True), turn, back=True)
                if spec.output_shape[0] == 1:  # a grey result: a grey reference (one stored as RGB read as grey)
                    ref = as_grey_reference(ref, str(ref_path))
                if tuple(ref.shape) != tuple(spec.output_shape):
                    raise InputError(
                        f"{ref_path}: reference is {tuple(ref.shape)}, the restored image will be {spec.output_shape}"
                    )
                references[f] = ref
                inputs.append(ref_path)
        jobs.append(RestoreJob(f, target, y, spec, sigma_y, sigma_y_from=source, icc_profile=image_profile(f),
                               orientation=turn))  # fmt: skip
    return jobs, inputs, references, missing_refs


def cmd_restore(args: argparse.Namespace) -> int:
    src = Path(args.input)
    clip = is_video(src) or (args.temporal is not None and src.is_dir())
    blind = args.task is not None and parse_task(args.task)[0] in BLIND_TASKS
    device = resolve_device(args.device)
    _refuse_options(args, device, blind, clip)
    if args.solver is not None:
        solver_settings(args)  # an unknown solver or a bad parameter fails before any file is read
    if clip:
        return restore_clip_command(args, device)
    pairs, out_root, folder = plan_outputs(src, Path(args.output) if args.output else None)
    ref_root = Path(args.reference) if args.reference else None
    if ref_root is not None and not ref_root.exists():
        raise InputError(f"{ref_root}: reference not found")
    jobs, inputs, references, missing_refs = _read_jobs(args, pairs, ref_root)
    args.solver = args.solver or (
        default_solver(jobs[0].task.name, jobs[0].task.params, prior_space(args.prior)) if jobs else "ddrm"
    )
    solver, solver_args = solver_settings(args)
    outputs = [
        p for j in jobs for p in job_outputs(j, args.save_grid, job_samples(j, solver, args.samples, args.estimate))
    ]
    check_outputs(outputs, inputs)
    check_writable(outputs[0])
    for name in missing_refs:
        print(f"ddrm: warning: no reference for {name} in {ref_root}", file=sys.stderr)
    # one rule for a file and a folder: an existing result is skipped (a folder run resumes: a batch with some
    # outputs missing is redone whole and only the missing ones written, so it reproduces an uninterrupted run), and
    # --overwrite redoes it, replacing the whole set of its files (no grid or record of an earlier run stays)
    todo = jobs if args.overwrite else [j for j in jobs if not j.target.exists()]
    if len(jobs) > len(todo):
        what = f"{jobs[0].target} exists" if not folder else f"{len(jobs) - len(todo)} image(s) already restored"
        print(f"ddrm: {what}; skipping {'it' if not folder else 'them'} (use --overwrite to redo)", file=sys.stderr)
    rank, world, _ = dist.world()  # torchrun: this process's share of the batches
    with output_lock(out_root) if world == 1 else nullcontext():  # torchrun's processes share the output
        records = _run(args, jobs, todo, solver, solver_args, device, references, rank, world)
        if args.overwrite and rank == 0:  # the new set written: files of an earlier result that it has not
            for j in todo:
                if j.target.exists():
                    written = set(job_outputs(j, args.save_grid, job_samples(j, solver, args.samples, args.estimate)))
                    for stale in companion_paths(j.target):
                        if stale not in written and stale.exists():
                            stale.unlink()
    _summary(args, [(r["psnr"], r["ssim"]) for r in records if "psnr" in r], todo, out_root, jobs)
    return 0


def _run(args, jobs, todo, solver, solver_args, device, references, rank, world) -> list[dict]:  # noqa: ANN001
    return run_restore(
        jobs, solver, solver_args, prior_loader(args, device), seed=args.seed, batch_size=args.batch_size or 4,
        device=device, only={j.source for j in todo}, references=references, save_grid=args.save_grid,
        samples=args.samples, estimate=args.estimate,
        progress_bar=not args.quiet, report=print, shard=(rank, world),
        warn=lambda line: print(f"ddrm: warning: {line}", file=sys.stderr),
        on_start=None if args.quiet else lambda: _start(args, device),
    )  # fmt: skip


def _start(args: argparse.Namespace, device: torch.device) -> None:
    """Once every check has passed: the device, and the notes gathered while reading the inputs."""
    print(describe_device(device), file=sys.stderr)
    for note in dict.fromkeys(getattr(args, "notes", [])):
        print(f"ddrm: note: {note}", file=sys.stderr)


def _summary(args: argparse.Namespace, scores: list, todo: list, out_root: Path, jobs: list[RestoreJob]) -> None:
    if len(scores) > 1:
        print(
            f"mean over {len(scores)} images: PSNR {np.mean([s[0] for s in scores]):.2f} dB  "
            f"SSIM {np.mean([s[1] for s in scores]):.4f}"
        )
    if not args.quiet:
        kernels = ""
        if jobs and jobs[0].task.is_blind:
            p = jobs[0].task.params
            kernels = f" with {p['model']} kernels of {p['size']} px (written beside them)"
        print(f"restored {len(todo)} image(s) into {out_root}{kernels}")
        if args.save_grid and todo:
            panels = "measurement | pseudo-inverse | restored" + (" | reference" if args.reference else "")
            print(
                f"grids ({panels}) beside them: {grid_path(todo[0].target).name}" + (", ..." if len(todo) > 1 else "")
            )


def add_commands(sub) -> None:
    p = sub.add_parser(
        "restore",
        help="restore a measurement (or a folder of them) with a diffusion prior",
        description="Restore a measurement y = H x + noise: an image or .npy, a folder of them, a video or a folder "
        "of frames. Values are in [0, 1] image units. The task and noise level come from the measurement's sidecar "
        "(written by 'ddrm degrade'), or from --task and --sigma-y (auto: estimated from the measurement).",
        epilog=RESTORE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="measurement image/.npy, a folder of them, or a video (.mp4, .mkv, ...)")
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="output image, or folder for a folder input (default: beside the input, NAME_restored.png; a folder: "
        "NAME_restored/; a video: NAME_restored.mp4)",
    )
    _task_options(p)
    _solver_options(p)
    _run_options(p)
    _clip_options(p)
    add_pixel_limit(p)
    p.add_argument(
        "--quiet", action="store_true", help="no progress bars or status lines (results and warnings still print)"
    )
    p.set_defaults(func=cmd_restore)


def _task_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--task",
        default=None,
        help=f"{TASKS_HELP}|jpeg|deblur_blind (or read from a sidecar); real photos: sr_bicubicN for a resized one, "
        "jpeg for a JPEG file (its own tables; jpegQF is for synthetic runs)",
    )
    p.add_argument("--from", dest="from_sidecar", default=None, help="sidecar JSON written by 'ddrm degrade'")
    p.add_argument(
        "--sigma-y",
        type=sigma_or_auto,
        default=None,
        help="noise std in [0, 1] image units, or auto: estimated from the measurement (the default without a "
        "sidecar; with one, its recorded value)",
    )
    p.add_argument("--mask", default=None, help="inpainting mask image (white = observed)")
    p.add_argument(
        "--kernel", default=None, help="deblur_motion kernel (.npy or image); deblur_varying kernel grid (.npy)"
    )
    p.add_argument(
        "--boundary",
        choices=BOUNDARIES,
        default=None,
        help="blur boundary of a measurement without a sidecar: valid (the default: a real photo, whose border saw "
        "the scene beyond the frame; restored beyond it and cropped back), circular or zero (synthetic blurs)",
    )
    p.add_argument(
        "--factor", type=number(int, 1), default=None, help="super-resolution factor without a sidecar (or: --task sr4)"
    )
    p.add_argument(
        "--ratio", type=number(int, 1), default=None, help="compressed-sensing ratio (or: --task cs4; needs --from)"
    )
    p.add_argument(
        "--kernel-size",
        type=number(int, 3),
        default=None,
        help="deblur_blind: side of the estimated kernel, the blur's extent or a little more (21; a blur wider than "
        "the kernel is not held by it)",
    )
    p.add_argument(
        "--kernel-model",
        default=None,
        help="deblur_blind: separable (rank one, a b^T; default) or full (any 2-D kernel: camera shake; of a photo, "
        "the classical estimate restored by diffpir, 20 steps)",
    )
    p.add_argument(
        "--kernel-narrow",
        type=number(float, 0, 1),
        default=None,
        help="deblur_blind: restore again, non-blind, with the estimate narrowed by this factor in (0, 1] (default 1: "
        "the estimate itself)",
    )
    p.add_argument(
        "--kernel-draws",
        type=number(int, 1),
        default=None,
        help="deblur_blind: estimate the kernel this many times, each under another draw of the solver's noise, and "
        "keep the one whose image departs least from the photo (default 2; 1: one estimate, half the time)",
    )
    p.add_argument(
        "--kernel-refits",
        type=number(int, 0),
        default=None,
        help="deblur_blind, a photo's full kernel (camera shake): fit the kernel again to the mean of the restored "
        "samples and restore again, this many times (default 2; 0: the classical estimate alone, a third of the time)",
    )


def _solver_options(p: argparse.ArgumentParser) -> None:
    add_prior(p)
    add_prompt(p)
    p.add_argument(
        "--solver",
        default=None,
        help="ddrm (default; ddrm-jpeg for JPEG tasks, diffpir for deblur_varying) or a peer; see 'ddrm solvers'",
    )
    p.add_argument(
        "--solver-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the solver (repeatable), e.g. --solver-arg scale=0.5; see 'ddrm solvers NAME'",
    )
    p.add_argument(
        "--steps",
        type=number(int, 1),
        default=None,
        help="sampling steps (default: the solver's, for the task; 20 for deblur_blind's full kernel of a photo)",
    )
    p.add_argument("--eta", type=number(float), default=None, help="shorthand for --solver-arg eta=VALUE")
    p.add_argument("--eta-b", type=number(float), default=None, help="shorthand for --solver-arg eta_b=VALUE")
    p.add_argument(
        "--seed", type=SEED, default=0, help="the run's seed (0); each image's generator adds its name's CRC-32"
    )
    p.add_argument(
        "--batch-size", type=number(int, 1), default=None, help="images per network call (4; blind: one at a time)"
    )
    add_device(p)
    p.add_argument("--dtype", default="float32", choices=list(DTYPES), help="network precision (GPU)")


def _run_options(p: argparse.ArgumentParser) -> None:
    tiling = p.add_mutually_exclusive_group()
    tiling.add_argument(
        "--tile",
        type=number(int, 16),
        default=None,
        help="denoise in overlapping tiles of this many pixels (default: 256 px tiles above 1024x1024 images)",
    )
    tiling.add_argument("--no-tile", action="store_true", help="never tile the denoiser")
    p.add_argument(
        "--samples",
        type=number(int, 1),
        default=None,
        help="draw N samples of each image; their mean is the result (see --estimate) and their per-pixel standard "
        "deviation is written beside it (NAME.std.png, NAME.std.npy). Default: 1; a photo's camera shake "
        "(deblur_blind --kernel-model full): 4",
    )
    p.add_argument(
        "--estimate",
        choices=ESTIMATES,
        default=None,
        help="the result: one sample (sharper; the default) or the mean of --samples (more faithful; the default with "
        "several, and for a photo's camera shake)",
    )
    p.add_argument("--save-grid", action="store_true", help="also write measurement | pinv | restored | reference")
    p.add_argument("--reference", default=None, help="clean image (or folder) to report PSNR/SSIM against")
    p.add_argument("--overwrite", action="store_true",
                   help="redo results whose output exists (a file or a folder's images; without it they are skipped), "
                        "replacing each result's whole set of files")  # fmt: skip


def _clip_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--temporal",
        default=None,
        choices=TEMPORAL_MODES,
        help="a clip's noise across frames: shared (default for a video), independent, or warm-start (the previous "
        "restored frame, warped by optical flow, starts the next); with a folder, restores it as a clip of frames",
    )
    p.add_argument(
        "--warm-level",
        type=number(float, 0, 1),
        default=None,
        help="warm-start: share of the diffusion (and of the steps) run from the warped previous frame (0.5)",
    )
    p.add_argument("--fps", type=number(float, 0), default=None, help="frame rate of a folder of frames (25)")
