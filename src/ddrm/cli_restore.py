"""``ddrm degrade`` and ``ddrm restore``: thin front ends over :mod:`ddrm.tasks` and :mod:`ddrm.restore`.

Values on the command line and in files are in image units ([0, 1]); the library converts to the solvers' [-1, 1].
Every input is read and checked before any output is written; an output never replaces an input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cli import SEED, number
from .io import read_image, remove_stale_temporaries
from .operators import NONLINEAR, TASKS, LinearOperator
from .restore import (
    PriorLoader,
    RestoreJob,
    check_outputs,
    check_writable,
    default_solver,
    degrade_to_files,
    describe_device,
    find_reference,
    plan_outputs,
    read_measurement,
    resolve_device,
    run_restore,
)
from .samplers import SAMPLERS, SamplerSpec
from .tasks import (
    KERNEL_TASKS,
    TaskError,
    TaskSpec,
    as_measurement,
    make_task,
    merge_task_params,
    parse_task,
    sidecar_path,
    spec_for_measurement,
)
from .video import TEMPORAL_MODES, is_video

__all__ = ["add_commands"]

# flag -> the operator parameter it sets
TASK_FLAGS = {
    "factor": "factor",
    "ratio": "ratio",
    "missing": "missing",
    "intensity": "intensity",
    "kernel_size": "size",
    "grid": "grid",
}


def _fail(msg: str) -> None:
    raise TaskError(msg)


def _task_params(args: argparse.Namespace, name: str, params: dict) -> dict:
    """Merge explicit flags into the task's parameters, refusing flags the task does not take."""
    given = {}
    for flag, key in TASK_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None and key not in TASKS[name].params:
            _fail(f"--{flag.replace('_', '-')} does not apply to task {name}")
        given[key] = value
    return merge_task_params(name, params, given)


# ---------------------------------------------------------------------------------------------- degrade
def cmd_degrade(args: argparse.Namespace) -> int:
    src = Path(args.input)
    out = Path(args.output)
    name, params = parse_task(args.task)
    params = _task_params(args, name, params)
    x = read_image(src)
    if x.shape[0] != 3:
        _fail(f"{src}: expected an RGB image, got {x.shape[0]} channel(s)")
    g = torch.Generator().manual_seed(args.seed)
    # every random choice becomes an explicit tensor, so the sidecar rebuilds H exactly
    spec = make_task(name, tuple(x.shape), params, g, mask=args.mask, kernel=args.kernel)
    inputs = [src, *(Path(f) for f in (args.mask, args.kernel) if f)]
    _, sidecar = degrade_to_files(x, spec, args.sigma_y, out, g, args.seed, inputs)
    if not args.quiet:
        print(f"wrote {out} ({name}, sigma_y={args.sigma_y}) and {sidecar.name}")
    return 0


# ---------------------------------------------------------------------------------------------- restore
def _resolve(args: argparse.Namespace, path: Path, y: torch.Tensor) -> tuple[TaskSpec, float, list[Path]]:
    """The task and noise level of one measurement, and the files they were read from."""
    sidecar = Path(args.from_sidecar) if args.from_sidecar else None
    if sidecar is None and args.task is None:
        auto = sidecar_path(path)
        if not auto.is_file():
            _fail(f"{path}: give --task (or --from SIDECAR); no sidecar {auto.name} found")
        sidecar = auto
    if sidecar is not None:
        spec, meta = TaskSpec.from_sidecar(sidecar)
        sigma_y = args.sigma_y if args.sigma_y is not None else float(meta["sigma_y"])
        files = [sidecar, *(sidecar.parent / f for f in meta.get("param_files", {}).values())]
        return spec, sigma_y, files
    name, params = parse_task(args.task)
    params = _task_params(args, name, params)
    if name == "cs":
        _fail("a compressed-sensing measurement does not tell the image size: restore it with --from SIDECAR")
    if name == "inpaint" and not args.mask:
        _fail("inpainting needs --mask FILE (white = observed)")
    if name == "deblur_motion" and not args.kernel:
        _fail("deblur_motion needs --kernel FILE (.npy or image)")
    if name == "deblur_varying" and not args.kernel:
        _fail("deblur_varying needs --kernel FILE (.npy of shape (rows, cols, kh, kw)), or restore with its sidecar")
    for flag, applies in (("mask", name == "inpaint"), ("kernel", name in KERNEL_TASKS)):
        if getattr(args, flag) and not applies:
            _fail(f"--{flag} does not apply to task {name}")
    if args.sigma_y is None and name in NONLINEAR:
        args.sigma_y = 0.0  # JPEG: quantisation is the degradation
    if args.sigma_y is None:
        _fail("--sigma-y is required without a sidecar (noise level in [0, 1] image units)")
    spec = spec_for_measurement(name, params, tuple(y.shape), mask=args.mask, kernel=args.kernel)
    return spec, args.sigma_y, [Path(f) for f in (args.mask, args.kernel) if f]


def cmd_restore(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.dtype != "float32" and device.type == "cpu":
        _fail(f"--dtype {args.dtype} needs a GPU (--device cuda); the CPU runs float32")
    if args.solver is not None:
        solver_settings(args)  # an unknown solver or a bad parameter fails before any file is read
    src = Path(args.input)
    if args.task == "deblur_blind":
        return _restore_blind(args, device)
    for flag in ("kernel_model", "kernel_size"):
        if getattr(args, flag) is not None:
            _fail(f"--{flag.replace('_', '-')} applies to --task deblur_blind")
    if is_video(src) or (args.temporal is not None and src.is_dir()):
        return _restore_clip(args, device)
    for flag in ("temporal", "warm_level", "fps"):
        if getattr(args, flag) is not None:
            _fail(f"--{flag.replace('_', '-')} applies to a video file or a folder of frames restored with --temporal")
    pairs, out_root, folder = plan_outputs(src, Path(args.output) if args.output else None)
    ref_root = Path(args.reference) if args.reference else None
    if ref_root is not None and not ref_root.exists():
        _fail(f"{ref_root}: reference not found")

    # read and check every input before any work: a bad file fails fast and nothing is written
    jobs, inputs, references, missing_refs = [], [], {}, []
    for f, target in pairs:
        y = read_measurement(f)
        if args.task:
            y = as_measurement(parse_task(args.task)[0], y, str(f))  # e.g. a grey image saved as RGB
        spec, sigma_y, task_files = _resolve(args, f, y)
        if not (np.isfinite(sigma_y) and 0 <= sigma_y <= 1):
            _fail(f"sigma_y must lie in [0, 1] (image units), got {sigma_y}")
        inputs += [f, *task_files]
        if ref_root is not None:
            ref_path = find_reference(ref_root, f)
            if ref_path is None:
                missing_refs.append(f.name)
            else:
                ref = read_image(ref_path)
                if tuple(ref.shape) != tuple(spec.image_shape):
                    _fail(f"{ref_path}: reference is {tuple(ref.shape)}, the restored image will be {spec.image_shape}")
                references[f] = ref
                inputs.append(ref_path)
        jobs.append(RestoreJob(f, target, y, spec, sigma_y))
    if args.solver is None:
        args.solver = default_solver(jobs[0].task.name) if jobs else "ddrm"
    solver, solver_args = solver_settings(args)
    outputs = [j.target for j in jobs]
    grids = [t.with_name(t.stem + "_grid.png") for t in outputs] if args.save_grid else []
    check_outputs(outputs + grids, inputs)
    for path in outputs[:1]:
        check_writable(path)
    for name in missing_refs:
        print(f"ddrm: warning: no reference for {name} in {ref_root}", file=sys.stderr)

    # resume: a folder run skips the batches already written; a batch with some outputs missing is redone whole
    # (and only the missing ones written), so a resumed run reproduces an uninterrupted one exactly
    todo = jobs if (args.overwrite or not folder) else [j for j in jobs if not j.target.exists()]
    skipped = len(jobs) - len(todo)
    if skipped and not args.quiet:
        print(f"{skipped} image(s) already restored; skipping them (use --overwrite to redo)", file=sys.stderr)
    for path in outputs + grids:
        remove_stale_temporaries(path)
    dtype = {"float32": None, "float16": torch.float16, "bfloat16": torch.bfloat16}[args.dtype]
    loader = PriorLoader(args.prior, args.checkpoint, device, dtype, tile=0 if args.no_tile else args.tile)
    scores = run_restore(
        jobs,
        solver,
        solver_args,
        loader,
        seed=args.seed,
        batch_size=args.batch_size,
        device=device,
        only={j.source for j in todo},
        references=references,
        save_grid=args.save_grid,
        progress_bar=not args.quiet,
        report=print,
        on_start=None if args.quiet else lambda: print(describe_device(device), file=sys.stderr),
    )
    if len(scores) > 1:
        print(
            f"mean over {len(scores)} images: PSNR {np.mean([s[0] for s in scores]):.2f} dB  "
            f"SSIM {np.mean([s[1] for s in scores]):.4f}"
        )
    if not args.quiet:
        print(f"restored {len(todo)} image(s) into {out_root}")
    return 0


def _restore_blind(args: argparse.Namespace, device: torch.device) -> int:
    """``--task deblur_blind``: the kernel is estimated during sampling (:mod:`ddrm.blind`) and written beside the
    result (``NAME.kernel.npy`` and a picture of it, ``NAME.kernel.png``)."""
    from .blind import KERNEL_MODELS, check_solver, restore_blind
    from .io import write_array, write_image
    from .metrics import psnr, ssim
    from .restore import image_generator

    for flag in ("mask", "kernel", "from_sidecar", "temporal", "factor", "ratio"):
        if getattr(args, flag, None):
            _fail(f"--{flag.replace('_', '-')} does not apply to --task deblur_blind")
    if args.sigma_y is None:
        _fail("--sigma-y is required for blind deblurring (noise level in [0, 1] image units)")
    model = args.kernel_model or "separable"
    if model not in KERNEL_MODELS:
        _fail(f"unknown kernel model {model!r}; choose from {', '.join(KERNEL_MODELS)}")
    size = args.kernel_size or 21
    if size % 2 == 0:
        _fail(f"--kernel-size must be odd, got {size}")
    args.solver = args.solver or "ddrm"
    solver, solver_args = solver_settings(args)
    check_solver(solver)  # before the device line: a refusal stays one line
    src = Path(args.input)
    pairs, out_root, folder = plan_outputs(src, Path(args.output) if args.output else None)
    ref_root = Path(args.reference) if args.reference else None
    jobs = []
    for f, target in pairs:
        y = read_measurement(f)
        if y.ndim != 3 or y.shape[0] != 3:
            _fail(f"{f}: blind deblurring takes an RGB image")
        if size > min(y.shape[1:]):
            _fail(f"--kernel-size {size} does not fit the {y.shape[2]}x{y.shape[1]} image {f.name}")
        ref = None
        if ref_root is not None:
            ref_path = find_reference(ref_root, f)
            ref = read_image(ref_path) if ref_path is not None else None
            if ref is not None and ref.shape != y.shape:
                _fail(f"{ref_path}: reference is {tuple(ref.shape)}, the image {tuple(y.shape)}")
        jobs.append((f, target, y, ref))
    side = [t.with_name(t.stem + s) for _, t, _, _ in jobs for s in (".kernel.npy", ".kernel.png")]
    check_outputs([t for _, t, _, _ in jobs] + side, [f for f, _, _, _ in jobs])
    check_writable(jobs[0][1])
    loader = PriorLoader(args.prior, args.checkpoint, device, tile=0)
    if not args.quiet:
        print(describe_device(device), file=sys.stderr)
    done = 0
    for f, target, y, ref in jobs:
        if folder and target.exists() and not args.overwrite:
            continue
        prior = loader(tuple(y.shape))
        x, kernel = restore_blind(prior, solver, y[None].to(device), args.sigma_y, size, model,
                                  solver_args=solver_args, generator=image_generator(args.seed, f.name),
                                  progress_bar=not args.quiet)  # fmt: skip
        write_array(kernel.float(), target.with_name(target.stem + ".kernel.npy"))
        write_image((kernel / kernel.max())[None].float(), target.with_name(target.stem + ".kernel.png"))
        write_image(x[0].cpu(), target)
        done += 1
        if ref is not None:
            print(f"{f.name}: PSNR {psnr(x[0].cpu(), ref):.2f} dB  SSIM {ssim(x[0].cpu(), ref):.4f}")
    if not args.quiet:
        print(f"restored {done} image(s) into {out_root} with {model} kernels of {size} px (written beside them)")
    return 0


def _restore_clip(args: argparse.Namespace, device: torch.device) -> int:
    """A video file, or a folder of frames with ``--temporal``: frame by frame, resumable (:mod:`ddrm.video`)."""
    from .video import VIDEO_SUFFIXES, frames_folder, open_clip, restore_clip, score_clip, write_video

    src = Path(args.input)
    if args.fps is not None and not src.is_dir():
        _fail("--fps applies to a folder of frames; a video keeps its own frame rate")
    temporal = args.temporal or "shared"
    if args.warm_level is not None and temporal != "warm-start":
        _fail("--warm-level applies to --temporal warm-start")
    if args.save_grid:
        _fail("--save-grid applies to images; a clip's frames are written to a folder")
    clip = open_clip(src, fps=args.fps)
    out = (
        Path(args.output)
        if args.output
        else src.with_name(src.stem + "_restored" + (src.suffix if clip.is_video else ""))
    )
    video_out = is_video(out)
    if out.suffix and not video_out:
        _fail(f"{out}: a clip is restored into a video ({', '.join(VIDEO_SUFFIXES)}) or a folder of frames")
    frames_dir = frames_folder(out) if video_out else out
    _, y0 = next(clip.frames())
    if args.task:
        y0 = as_measurement(parse_task(args.task)[0], y0, f"{src} frame 0")
    spec, sigma_y, task_files = _resolve(args, src, y0)
    if not (np.isfinite(sigma_y) and 0 <= sigma_y <= 1):
        _fail(f"sigma_y must lie in [0, 1] (image units), got {sigma_y}")
    inputs = [src, *clip.files, *task_files]
    reference = None
    if args.reference:
        reference = open_clip(args.reference, fps=clip.fps)
        c, h, w = spec.image_shape
        if (reference.height, reference.width, reference.count) != (h, w, clip.count):
            _fail(
                f"{args.reference}: the reference has {reference.count} frames of {reference.width}x{reference.height}, "
                f"the restored clip will have {clip.count} of {w}x{h}"
            )
        inputs += [reference.path, *reference.files]
    if args.solver is None:
        args.solver = default_solver(spec.name)
    solver, solver_args = solver_settings(args)
    check_outputs([out, frames_dir], inputs)
    check_writable(out)
    dtype = {"float32": None, "float16": torch.float16, "bfloat16": torch.bfloat16}[args.dtype]
    loader = PriorLoader(args.prior, args.checkpoint, device, dtype, tile=0 if args.no_tile else args.tile)
    kept = 0 if args.overwrite else sum((frames_dir / f"{n}.png").exists() for n in clip.names)

    def on_start() -> None:
        print(describe_device(device), file=sys.stderr)
        if kept:
            print(f"{kept} of {clip.count} frame(s) already restored in {frames_dir}; resuming", file=sys.stderr)

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
        batch_size=args.batch_size,
        device=device,
        overwrite=args.overwrite,
        progress_bar=not args.quiet,
        on_start=None if args.quiet else on_start,
        settings={"prior": args.prior, "checkpoint": args.checkpoint, "dtype": args.dtype},
    )
    if video_out:
        write_video(frames, out, clip.fps, audio_from=src if clip.is_video and clip.audio else None)
    if reference is not None:
        s = score_clip(frames, reference)
        line = f"mean over {clip.count} frames: PSNR {s['psnr']:.2f} dB  SSIM {s['ssim']:.4f}"
        if "flicker" in s:
            line += f"  flicker {s['flicker']:.2f} (clean clip {s['flicker_clean']:.2f}, 8-bit levels)"
        print(line)
    if not args.quiet:
        where = f" (lossless frames in {frames_dir})" if video_out else ""
        print(f"restored {clip.count} frame(s) into {out}{where}, {temporal} noise")
    return 0


def solver_settings(args: argparse.Namespace) -> tuple[SamplerSpec, dict[str, Any]]:
    """The solver chosen on the command line and the parameters given for it, typed and checked."""
    if args.solver not in SAMPLERS:
        _fail(f"unknown solver {args.solver!r}; choose from {', '.join(SAMPLERS)} (see 'ddrm solvers')")
    solver = SAMPLERS[args.solver]
    given: dict[str, Any] = {}
    for item in args.solver_arg:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not value.strip():
            _fail(f"--solver-arg takes KEY=VALUE, got {item!r}")
        if key == "steps":
            _fail("give the number of steps with --steps")
        given[key] = solver.parse(key, value.strip())
    for flag, key in (("eta", "eta"), ("eta_b", "eta_b")):
        value = getattr(args, flag)
        if value is None:
            continue
        if key not in {p.name for p in solver.params}:
            _fail(
                f"--{flag.replace('_', '-')} does not apply to solver {solver.name} (see 'ddrm solvers {solver.name}')"
            )
        solver.check({key: value})
        given[key] = value
    if args.steps is not None:
        solver.check({"steps": args.steps})
        given["steps"] = args.steps
    return solver, given


def cmd_solvers(args: argparse.Namespace) -> int:
    """List the solvers, or describe one (parameters, bounds, official defaults per task)."""
    if args.name is None:
        rows = [("name", "steps", "NFE", "grad", "operators", "summary")]
        for spec in SAMPLERS.values():
            ops = {None: "SVD", (LinearOperator,): "any linear"}.get(
                spec.operators, ", ".join(t.__name__ for t in spec.operators or ())
            )
            rows.append(
                (
                    spec.name,
                    str(spec.steps),
                    str(spec.count_nfe()),
                    "yes" if spec.needs_grad else "no",
                    ops,
                    spec.summary,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[5])
        print("\nNFE = network evaluations per run at the default steps; grad = backpropagates through the network;")
        print("operators: SVD = linear with an SVD; any linear = also H and H^T only (CG pseudo-inverse / prox).")
        print("'ddrm solvers NAME' shows a solver's parameters; set them with --solver-arg KEY=VALUE.")
        return 0
    if args.name not in SAMPLERS:
        _fail(f"unknown solver {args.name!r}; choose from {', '.join(SAMPLERS)}")
    spec = SAMPLERS[args.name]
    defaults = spec.defaults()
    print(f"{spec.name}: {spec.summary}")
    print(f"paper: {spec.paper}")
    print(
        f"steps: {spec.steps} (network evaluations: {spec.count_nfe()}); gradients through the network: {'yes' if spec.needs_grad else 'no'}"
    )
    print(f"operators: {spec.operator_kinds}")
    print(f"measurement noise: {spec.noise}")
    print(f"H x = y when sigma_y = 0: {spec.consistency}")
    if spec.params:
        print("parameters (--solver-arg KEY=VALUE):")
        for p in spec.params:
            bounds = ""
            if p.low is not None or p.high is not None:
                bounds = (
                    f" in [{'-inf' if p.low is None else f'{p.low:g}'}, {'inf' if p.high is None else f'{p.high:g}'}]"
                )
            print(f"  {p.name} = {defaults[p.name]!r}{bounds}: {p.help}")
    for task, values in spec.task_defaults.items():
        print(f"defaults for {task}: " + ", ".join(f"{k}={v!r}" for k, v in values.items()))
    return 0


def add_commands(sub) -> None:
    tasks = "sr4|sr_bicubic4|deblur_gauss|deblur_uni|deblur_aniso|deblur_motion|deblur_varying|inpaint|color|cs4|denoise|jpeg10"
    p = sub.add_parser("degrade", help="make a measurement y = H x + noise from a clean image, with a sidecar")
    p.add_argument("input", help="clean RGB image")
    p.add_argument("-o", "--output", required=True, help="measurement file (.png, or .npy for exact values / cs)")
    p.add_argument("--task", required=True, help=tasks)
    p.add_argument(
        "--sigma-y", type=number(float, 0, 1), default=0.05, help="noise std in [0, 1] image units (default 0.05)"
    )
    p.add_argument("--seed", type=SEED, default=0)
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
    p.add_argument("--factor", type=number(int, 1), default=None, help="super-resolution factor (also: --task sr4)")
    p.add_argument("--ratio", type=number(int, 1), default=None, help="compressed-sensing ratio (also: --task cs4)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_degrade)

    p = sub.add_parser("restore", help="restore a measurement (or a folder of them) with a diffusion prior")
    p.add_argument("input", help="measurement image/.npy, a folder of them, or a video (.mp4, .mkv, ...)")
    p.add_argument("-o", "--output", default=None, help="output image (or folder for a folder input)")
    p.add_argument("--task", default=None, help=tasks + "|deblur_blind (or read from a sidecar)")
    p.add_argument("--from", dest="from_sidecar", default=None, help="sidecar JSON written by 'ddrm degrade'")
    p.add_argument(
        "--sigma-y",
        type=number(float, 0, 1),
        default=None,
        help="noise std in [0, 1] units (default: from the sidecar)",
    )
    p.add_argument("--mask", default=None, help="inpainting mask image (white = observed)")
    p.add_argument(
        "--kernel", default=None, help="deblur_motion kernel (.npy or image); deblur_varying kernel grid (.npy)"
    )
    p.add_argument("--factor", type=number(int, 1), default=None)
    p.add_argument("--ratio", type=number(int, 1), default=None)
    p.add_argument(
        "--kernel-size", type=number(int, 3), default=None, help="deblur_blind: side of the estimated kernel (21)"
    )
    p.add_argument(
        "--kernel-model",
        default=None,
        help="deblur_blind: separable (rank one, a b^T; default) or full (any 2-D kernel)",
    )
    p.add_argument("--prior", default="builtin", help="builtin | gaussian | a preset (see 'ddrm models') | hf:ORG/NAME")
    p.add_argument("--checkpoint", default=None, help="checkpoint file for a preset prior")
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
        "--steps", type=number(int, 1), default=None, help="sampling steps (default: the solver's, for the task)"
    )
    p.add_argument("--eta", type=number(float), default=None, help="shorthand for --solver-arg eta=VALUE")
    p.add_argument("--eta-b", type=number(float), default=None, help="shorthand for --solver-arg eta_b=VALUE")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--batch-size", type=number(int, 1), default=4)
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU; default), cpu, cuda, cuda:N, mps")
    p.add_argument(
        "--dtype", default="float32", choices=["float32", "float16", "bfloat16"], help="network precision (GPU)"
    )
    tiling = p.add_mutually_exclusive_group()
    tiling.add_argument(
        "--tile",
        type=number(int, 16),
        default=None,
        help="denoise in overlapping tiles of this many pixels (default: 256 px tiles above 1024x1024 images)",
    )
    tiling.add_argument("--no-tile", action="store_true", help="never tile the denoiser")
    p.add_argument("--save-grid", action="store_true", help="also write measurement | pinv | restored | reference")
    p.add_argument("--reference", default=None, help="clean image (or folder) to report PSNR/SSIM against")
    p.add_argument("--overwrite", action="store_true", help="folder runs: redo images whose output exists")
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
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("solvers", help="list the solvers (DDRM and its peers), or show one solver's parameters")
    p.add_argument("name", nargs="?", default=None, help="a solver to describe")
    p.set_defaults(func=cmd_solvers)
