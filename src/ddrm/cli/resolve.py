"""From the command line's arguments to the library's objects, for ``degrade`` and ``restore`` (images, folders and
clips alike): the task flags, the task and noise level of a measurement (from ``--task`` or its sidecar), the prior
loader."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..errors import InputError
from ..pipeline import PriorLoader, unsized_shake_warning
from ..tasks import (
    KERNEL_TASKS,
    TaskSpec,
    as_measurement,
    check_sigma_y,
    estimate_sigma_y,
    jpeg_params,
    merge_task_params,
    parse_task,
    read_sidecar,
    sidecar_path,
    spec_for_measurement,
    task_params,
)

__all__ = ["TASK_FLAGS", "TASKS_HELP", "task_flags", "resolve_task", "prior_loader"]

# flag -> the task parameter it sets
TASK_FLAGS = {
    "factor": "factor",
    "ratio": "ratio",
    "missing": "missing",
    "intensity": "intensity",
    "kernel_size": "size",
    "kernel_model": "model",
    "kernel_narrow": "narrow",
    "kernel_draws": "draws",
    "kernel_refits": "refits",
    "grid": "grid",
    "boundary": "boundary",
}
TASKS_HELP = (
    "sr_bicubic4|sr4|deblur_gauss|deblur_uni|deblur_aniso|deblur_motion|deblur_varying|inpaint|color|cs4|denoise|jpeg10"
)


def task_flags(args: argparse.Namespace, name: str, params: dict) -> dict:
    """Merge the task flags given on the command line into the task's parameters, refusing flags it does not take."""
    given = {}
    accepted = task_params(name)
    for flag, key in TASK_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None and key not in accepted:
            raise InputError(f"--{flag.replace('_', '-')} does not apply to task {name}")
        given[key] = value
    return merge_task_params(name, params, given)


def resolve_task(
    args: argparse.Namespace, path: Path, y: torch.Tensor
) -> tuple[TaskSpec, float, list[Path], str, torch.Tensor]:
    """The task and noise level of one measurement, the files read for them, where the noise level came from, and the
    measurement as the task takes it: ``--task`` or the measurement's sidecar; ``--sigma-y``, the sidecar's value, or
    (``auto``, the default without a sidecar) estimated from the measurement itself
    (:func:`ddrm.tasks.estimate_sigma_y`). A sidecar's one-channel measurement (a colourisation's input, a greyscale
    photo's grey) stored as a grey picture in three channels (an editor saved it as RGB) is taken as its one channel,
    as ``--task`` takes it (:func:`ddrm.tasks.as_measurement`)."""
    sidecar = Path(args.from_sidecar) if args.from_sidecar else None
    if sidecar is None and args.task is None:
        auto = sidecar_path(path)
        if not auto.is_file():
            raise InputError(f"{path}: give --task (or --from SIDECAR); no sidecar {auto.name} found")
        sidecar = auto
    if sidecar is not None:
        spec, meta = read_sidecar(sidecar)
        y = as_measurement(spec.name, y, str(path), grey_photo=spec.measures_grey)
        files = [sidecar, *(sidecar.parent / f for f in meta.get("param_files", {}).values())]
        sigma_y, source = (args.sigma_y, "given") if args.sigma_y is not None else (float(meta["sigma_y"]), "sidecar")
    else:
        if sidecar_path(path).is_file():  # said once the run starts (a refusal stays one line)
            args.notes = [*getattr(args, "notes", []), f"{path.name}: --task given, so its sidecar "
                          f"{sidecar_path(path).name} is not used (its mask, kernel and noise level included); leave "
                          "--task out to restore from it"]  # fmt: skip
        spec, files = _task_without_sidecar(args, path, y)
        given = {key: v for flag, key in TASK_FLAGS.items() if (v := getattr(args, flag, None)) is not None}
        unsized = unsized_shake_warning(spec.params, given) if spec.name == "deblur_blind" else None
        if unsized is not None:  # said once the run starts, with the other notes
            args.notes = [*getattr(args, "notes", []), unsized]
        sigma_y, source = (args.sigma_y, "given") if args.sigma_y is not None else ("auto", "given")
        if spec.name == "jpeg" and args.sigma_y is None:
            sigma_y = 0.0  # JPEG: quantisation is the degradation
    check_sigma_y(spec.name, sigma_y)
    if sigma_y == "auto":
        sigma_y, source = estimate_sigma_y(y, spec.name, mask=spec.params.get("mask")), "estimated"
    return spec, sigma_y, files, source, y


def _task_without_sidecar(args: argparse.Namespace, path: Path, y: torch.Tensor) -> tuple[TaskSpec, list[Path]]:
    name, params = parse_task(args.task)
    params = task_flags(args, name, params)
    if name == "jpeg":
        params = jpeg_params(path, params, str(path))
    if name == "cs":
        raise InputError(
            "a compressed-sensing measurement does not tell the image size: restore it with --from SIDECAR"
        )
    for flag, needed in (("mask", name == "inpaint"), ("kernel", name in KERNEL_TASKS)):
        if needed and not getattr(args, flag):
            raise InputError({"inpaint": "inpainting needs --mask FILE (white = observed)",
                              "deblur_motion": "deblur_motion needs --kernel FILE (.npy or image)",
                              "deblur_varying": "deblur_varying needs --kernel FILE (.npy of shape (rows, cols, kh, "
                                                "kw)), or restore with its sidecar"}[name])  # fmt: skip
        if getattr(args, flag) and not needed:
            raise InputError(f"--{flag} does not apply to task {name}")
    spec = spec_for_measurement(name, params, tuple(y.shape), mask=args.mask, kernel=args.kernel)
    return spec, [Path(f) for f in (args.mask, args.kernel) if f]


def prior_loader(args: argparse.Namespace, device: torch.device) -> PriorLoader:
    dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(args.dtype)
    return PriorLoader(args.prior, args.checkpoint, device, dtype, tile=0 if args.no_tile else args.tile,
                       prompt=args.prompt, guidance_scale=args.guidance_scale)  # fmt: skip
