"""Sidecars: the JSON record beside a measurement that rebuilds its operator exactly (``ddrm degrade`` writes it,
``ddrm restore`` reads it), with the tensors (mask, kernel, kernels, permutation) in side files beside it.

Values are in image units ([0, 1]); a record is validated as a whole, one short phrase per problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import TaskError
from ..io import array_writer, image_writer, read_array, text_writer, write_together
from ..operators import GREY_OWN, OPERATORS
from .inputs import load_kernel, load_kernel_grid, load_mask
from .spec import TaskSpec

__all__ = [
    "SIDECAR_VERSION",
    "SIDE_FILE_SUFFIXES",
    "sidecar_path",
    "sidecar_record",
    "side_files",
    "write_sidecar",
    "sidecar_writers",
    "read_sidecar",
    "validate_sidecar",
]

SIDECAR_VERSION = 1
SIDE_FILE_SUFFIXES = {
    "mask": ".mask.png",
    "kernel": ".kernel.npy",
    "kernels": ".kernels.npy",
    "permutation": ".perm.npy",
}


def sidecar_record(spec: TaskSpec, stem: Path, sigma_y: float, seed: int | None, measurement: str) -> dict[str, Any]:
    """The JSON record of a measurement of ``spec``; tensors go to side files named after ``stem``."""
    scalars, files = {}, {}
    for k, v in spec.params.items():
        if isinstance(v, Tensor):
            files[k] = Path(stem).name + SIDE_FILE_SUFFIXES[k]
        elif v is not None:
            scalars[k] = v
    return {
        "ddrm_sidecar": SIDECAR_VERSION,
        "task": spec.name,
        "params": scalars,
        "param_files": files,
        "image_shape": list(spec.image_shape),
        "sigma_y": sigma_y,
        "value_range": [0, 1],
        "seed": seed,
        "measurement": measurement,
    }


def side_files(spec: TaskSpec, record: dict[str, Any], folder: Path) -> list[tuple[Path, Tensor]]:
    """``(path, tensor)`` for each side file a sidecar record names."""
    return [(folder / record["param_files"][k], v) for k, v in spec.params.items() if isinstance(v, Tensor)]


def sidecar_writers(spec: TaskSpec, record: dict[str, Any], path: Path) -> list[tuple[Path, Callable[[Path], None]]]:
    """``(path, write)`` for the side files, then the JSON, for :func:`ddrm.io.write_together`."""
    files = [
        (fpath, image_writer(v.float()[None], fpath) if fpath.name.endswith(".png") else array_writer(v))
        for fpath, v in side_files(spec, record, path.parent)
    ]
    return [*files, (path, text_writer(json.dumps(record, indent=1)))]


def write_sidecar(spec: TaskSpec, record: dict[str, Any], path: Path) -> None:
    """Write the side files and the JSON as one unit: a sidecar never points at a missing file."""
    write_together(sidecar_writers(spec, record, path))


def read_sidecar(path: str | Path) -> tuple[TaskSpec, dict]:
    """Read and validate a sidecar, and load its side files: ``(task, record)``."""
    path = Path(path)
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TaskError(f"{path}: not a readable sidecar ({str(exc).splitlines()[0][:100]})") from None
    problems = validate_sidecar(meta)
    if problems:
        raise TaskError(f"{path}: bad sidecar: " + "; ".join(problems))
    shape = tuple(int(v) for v in meta["image_shape"])
    params = dict(meta.get("params", {}))
    for k, fname in meta.get("param_files", {}).items():
        fpath = path.parent / fname
        if k == "mask":
            params[k] = load_mask(fpath, shape)
        elif k == "kernel":
            params[k] = load_kernel(fpath)
        elif k == "kernels":
            params[k] = load_kernel_grid(fpath)
        else:
            perm = read_array(fpath, integer=True)
            n = shape[1] * shape[2]
            if perm.shape != (n,) or not torch.equal(torch.sort(perm).values, torch.arange(n)):
                raise TaskError(f"{fpath}: not a permutation of the {n} pixel positions")
            params[k] = perm
    return TaskSpec(meta["task"], shape, params), meta


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def sidecar_path(measurement: str | Path) -> Path:
    """The sidecar of a measurement file: its name with the last suffix replaced by ``.json`` (``photo.y.png`` ->
    ``photo.y.json``; dots and spaces elsewhere in the name are kept)."""
    path = Path(measurement)
    return path.with_name(path.stem + ".json")


def validate_sidecar(meta: Any) -> list[str]:
    """Every problem of a sidecar record, one short phrase each (empty: the record is usable)."""
    if not isinstance(meta, dict):
        return ["not a JSON object"]
    if meta.get("ddrm_sidecar") != SIDECAR_VERSION:
        return [f"not a ddrm sidecar (ddrm_sidecar must be {SIDECAR_VERSION})"]
    problems = []
    task = meta.get("task")
    if task not in OPERATORS:
        problems.append(f"unknown task {task!r}" if "task" in meta else "task missing")
    shape = meta.get("image_shape")
    if shape is None:
        problems.append("image_shape missing")
    elif not (
        isinstance(shape, list)
        and len(shape) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)
    ):
        problems.append(f"image_shape must be three positive integers [C, H, W], got {shape!r}")
    if "sigma_y" not in meta:
        problems.append("sigma_y missing")
    elif not (_is_number(meta["sigma_y"]) and meta["sigma_y"] >= 0):
        problems.append(f"sigma_y must be a finite number >= 0, got {meta['sigma_y']!r}")
    accepted = dict(OPERATORS[task].params) if task in OPERATORS else {}
    if task in OPERATORS and task not in GREY_OWN:
        accepted["grey"] = False  # the measurement of a greyscale photo (the grey of an image with colours)
    params = meta.get("params", {})
    if not isinstance(params, dict):
        problems.append("params must be an object")
    else:
        for k, v in params.items():
            if task in OPERATORS and k not in accepted:
                problems.append(f"task {task} takes no parameter {k!r}")
            elif k in SIDE_FILE_SUFFIXES:
                problems.append(f"parameter {k!r} belongs in param_files")
            elif isinstance(accepted.get(k), bool):
                if not isinstance(v, bool):
                    problems.append(f"parameter {k!r} must be true or false, got {v!r}")
            elif isinstance(accepted.get(k), str):  # a named choice (a blur's boundary), checked when built
                if not isinstance(v, str):
                    problems.append(f"parameter {k!r} must be a name, got {v!r}")
            elif not _is_number(v):
                problems.append(f"parameter {k!r} must be a finite number, got {v!r}")
            elif isinstance(accepted.get(k), int) and not (isinstance(v, int) and v > 0):
                problems.append(f"parameter {k!r} must be a positive integer, got {v!r}")
    files = meta.get("param_files", {})
    if not isinstance(files, dict):
        problems.append(f"param_files must be an object mapping a parameter to a file name, got {type(files).__name__}")
    else:
        for k, fname in files.items():
            if k not in SIDE_FILE_SUFFIXES:
                problems.append(f"unknown parameter file {k!r}")
            elif task in OPERATORS and k not in accepted:
                problems.append(f"task {task} takes no {k}")
            elif not isinstance(fname, str) or not fname or Path(fname).name != fname:
                problems.append(f"param_files[{k!r}] must be a file name beside the sidecar, got {fname!r}")
    if meta.get("value_range", [0, 1]) != [0, 1]:
        problems.append(f"value_range must be [0, 1], got {meta['value_range']!r}")
    seed = meta.get("seed")
    if seed is not None and not (isinstance(seed, int) and not isinstance(seed, bool)):
        problems.append(f"seed must be an integer or null, got {seed!r}")
    return problems
