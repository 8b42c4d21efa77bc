"""Making a measurement of a clean image, as ``ddrm degrade`` does: ``y = H x + sigma_y z`` written with its sidecar
and side files, so that ``ddrm restore`` rebuilds ``H`` exactly."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from ..errors import InputError, TaskError
from ..io import IMAGE_SUFFIXES, LOSSY_SUFFIXES, array_writer, image_writer, read_image, write_together
from ..operators import LinearOperator
from ..tasks import TaskSpec, check_sigma_y, side_files, sidecar_path, sidecar_record, sidecar_writers
from .outputs import check_outputs, check_writable

__all__ = ["degrade_to_files", "degrade_outputs"]


def degrade_to_files(
    x01: Tensor,
    spec: TaskSpec,
    sigma_y: float,
    out: Path,
    generator: torch.Generator,
    seed: int | None = None,
    inputs: Sequence[Path] = (),
) -> tuple[Tensor, Path]:
    """``y = H x + sigma_y z`` (noise from ``generator``; ``seed``, recorded in the sidecar, is the one that drew the
    task's random choices) written to ``out`` (an image, or ``.npy``) with its sidecar and side files; returns
    ``(y, sidecar)``.

    Outputs never replace ``inputs``; the side files, the JSON and the measurement are written as one unit
    (:func:`~ddrm.io.write_together`, the measurement last), so nothing half-made is left behind."""
    outputs, meta = _planned(spec, sigma_y, out, seed)
    check_outputs(outputs, list(inputs))
    for path in outputs:
        check_writable(path)
    op, suffix, sidecar = spec.operator(), out.suffix.lower(), outputs[1]
    jpeg = not isinstance(op, LinearOperator)
    # JPEG: the real codec (Pillow) below, on the photo's grey for a greyscale JPEG
    y = spec.frame(x01) if jpeg else op.measure(x01[None], sigma_y, generator)[0]
    measurement = array_writer(y.float()) if suffix == ".npy" else image_writer(y, out, op.quality if jpeg else None)
    write_together([*sidecar_writers(spec, meta, sidecar), (out, measurement)])
    return (read_image(out) if jpeg else y), sidecar


def degrade_outputs(spec: TaskSpec, sigma_y: float, out: Path, seed: int | None = None) -> list[Path]:
    """The files :func:`degrade_to_files` writes (the measurement, its sidecar, the side files), every option
    checked: for a front end that checks all its outputs before writing any."""
    return _planned(spec, sigma_y, out, seed)[0]


def _planned(spec: TaskSpec, sigma_y: float, out: Path, seed: int | None) -> tuple[list[Path], dict]:
    suffix = out.suffix.lower()
    check_sigma_y(spec.name, sigma_y)
    op = spec.operator()
    jpeg = not isinstance(op, LinearOperator)  # the codec: a real JPEG file is the measurement
    if jpeg:
        if suffix not in (".jpg", ".jpeg"):
            raise TaskError(f"{out}: a {spec.name} measurement is a JPEG file; name it .jpg")
    elif suffix not in IMAGE_SUFFIXES + (".npy",):
        raise InputError(f"{out}: output must be a lossless image (.png, .webp, .tif, .bmp) or .npy")
    elif suffix in LOSSY_SUFFIXES:
        raise TaskError(f"{suffix} would add compression artefacts to the measurement; use .png or .npy")
    image_like = len(op.measurement_shape) == 3 and op.measurement_shape[0] in (1, 3)
    if suffix != ".npy" and not image_like:
        raise TaskError(f"a {spec.name} measurement is not an image; write it as .npy")
    sidecar = sidecar_path(out)
    meta = sidecar_record(spec, sidecar.with_suffix(""), sigma_y, seed, out.name)
    return [out, sidecar, *(p for p, _ in side_files(spec, meta, out.parent))], meta
