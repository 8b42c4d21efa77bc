"""Degradation tasks as data: parse a task name, resolve its random choices, read and write sidecars.

One path for the CLI (``ddrm degrade`` / ``ddrm restore``), the evaluation harness and the web app. A
:class:`TaskSpec` holds everything that rebuilds ``H`` exactly (the mask, the kernel, the permutation are tensors, not
seeds); a sidecar is its JSON record beside a measurement, with the tensors in side files.

Values in files are in image units ([0, 1]); the solvers work in [-1, 1]. For a linear ``H``,
``y01 = H x01 + n`` becomes ``y = 2 y01 - H 1`` with noise ``2 sigma_y`` (:func:`to_model_range`).
"""

from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .io import read_array, read_image, write_array, write_image, write_text
from .operators import (
    TASKS,
    LinearOperator,
    SVDOperator,
    build_operator,
    default_motion_size,
    motion_kernel,
    random_kernel_grid,
    random_mask,
)

__all__ = [
    "TaskError",
    "TaskSpec",
    "SIDECAR_VERSION",
    "SIDE_FILE_SUFFIXES",
    "parse_task",
    "load_kernel",
    "load_kernel_grid",
    "load_mask",
    "as_kernel",
    "as_kernel_grid",
    "KERNEL_TASKS",
    "as_mask",
    "as_measurement",
    "spec_for_measurement",
    "merge_task_params",
    "image_shape_for_measurement",
    "make_task",
    "to_model_range",
    "validate_sidecar",
    "sidecar_path",
]

SIDECAR_VERSION = 1
NUMERIC_SUFFIX = {"sr": "factor", "sr_bicubic": "factor", "cs": "ratio", "jpeg": "quality"}  # "sr4": factor 4
SIDE_FILE_SUFFIXES = {
    "mask": ".mask.png",
    "kernel": ".kernel.npy",
    "kernels": ".kernels.npy",
    "permutation": ".perm.npy",
}
KERNEL_TASKS = ("deblur_motion", "deblur_varying")  # the tasks a --kernel file applies to


class TaskError(ValueError):
    """A task, a sidecar or a task file that cannot be used; the message is one line for the user."""


def parse_task(text: str) -> tuple[str, dict]:
    """``"sr4"`` -> ``("sr", {"factor": 4})``; a registered name maps to itself."""
    if text in TASKS:
        return text, {}
    m = re.fullmatch(r"([a-z_]+?)(\d+)", text)
    if m and m.group(1) in NUMERIC_SUFFIX:
        return m.group(1), {NUMERIC_SUFFIX[m.group(1)]: int(m.group(2))}
    examples = ", ".join(["sr4", "sr_bicubic4", "cs4", "jpeg10", *[n for n in TASKS if n not in NUMERIC_SUFFIX]])
    raise TaskError(f"unknown task {text!r}; choose from {examples}")


def load_kernel(path: str | Path) -> Tensor:
    """A blur kernel from ``.npy`` (must sum to 1 within 1%) or an image (normalised by its sum)."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        return as_kernel(read_array(path), str(path), normalise=False)
    k = read_image(path).double()
    return as_kernel(k.mean(0) if k.shape[0] != 1 else k[0], str(path), normalise=True)


def as_kernel(k: Tensor, label: str = "kernel", normalise: bool = False) -> Tensor:
    """Check a 2-D blur kernel: non-empty, finite, non-negative, and summing to 1 within 1% (or, with ``normalise``,
    divided by its positive sum, as for a kernel drawn as an image)."""
    k = torch.as_tensor(k).double()
    if k.ndim != 2 or min(k.shape) < 1:
        raise TaskError(f"{label}: a kernel must be a non-empty 2-D array, got shape {tuple(k.shape)}")
    total = k.sum().item()
    if not np.isfinite(total):
        raise TaskError(f"{label}: kernel has non-finite entries")
    if (k < 0).any():
        raise TaskError(f"{label}: kernel has negative entries")
    if normalise:
        if total <= 0:
            raise TaskError(f"{label}: kernel image is black")
        return k / total
    if abs(total - 1.0) > 0.01:
        raise TaskError(f"{label}: kernel sums to {total:.4g}, expected 1 (normalise it)")
    return k


def load_kernel_grid(path: str | Path) -> Tensor:
    """A grid of blur kernels, one per region of a spatially varying blur: ``.npy`` of shape (rows, cols, kh, kw)."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise TaskError(f"{path}: a grid of kernels is a .npy array of shape (rows, cols, kh, kw)")
    return as_kernel_grid(read_array(path), str(path))


def as_kernel_grid(k: Tensor, label: str = "kernels") -> Tensor:
    """Check a (rows, cols, kh, kw) grid of kernels, each as :func:`as_kernel` checks one."""
    k = torch.as_tensor(k).double()
    if k.ndim != 4 or min(k.shape) < 1:
        raise TaskError(f"{label}: a grid of kernels has shape (rows, cols, kh, kw), got {tuple(k.shape)}")
    for r in range(k.shape[0]):
        for c in range(k.shape[1]):
            as_kernel(k[r, c], f"{label} [{r}, {c}]")
    return k


def load_mask(path: str | Path, shape: tuple[int, int, int]) -> Tensor:
    """A mask image: white (>= 0.5) = observed, black = missing; must match the image size."""
    return as_mask(read_image(path), shape, str(path))


def as_mask(m: Tensor, shape: tuple[int, int, int], label: str = "mask") -> Tensor:
    """A mask given as an (H, W) or (C, H, W) array in [0, 1] -> boolean (H, W), True = observed (>= 0.5); its size
    must be the image's."""
    m = torch.as_tensor(m)
    m = m[None] if m.ndim == 2 else m
    if m.ndim != 3:
        raise TaskError(f"{label}: a mask must be an image, got an array of shape {tuple(m.shape)}")
    if tuple(m.shape[-2:]) != tuple(shape[-2:]):
        raise TaskError(f"{label}: mask is {m.shape[-1]}x{m.shape[-2]} but the image is {shape[-1]}x{shape[-2]}")
    m = m.double()
    return (m.mean(0) >= 0.5) if m.shape[0] > 1 else (m[0] >= 0.5)


def merge_task_params(name: str, params: dict, given: dict[str, Any]) -> dict:
    """Add the parameters the user gave (``None`` = not given) to a task's, refusing those it does not take."""
    accepted = TASKS[name].params
    out = dict(params)
    for key, value in given.items():
        if value is None:
            continue
        if key not in accepted:
            raise TaskError(f"{key} does not apply to task {name}")
        out[key] = value
    return out


def image_shape_for_measurement(name: str, params: dict, y_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The shape of the image behind a measurement of shape ``y_shape`` (image-like tasks only)."""
    if name == "cs":
        raise TaskError("a compressed-sensing measurement does not tell the image size: restore it with a sidecar")
    if len(y_shape) != 3:
        raise TaskError(f"expected an image measurement, got an array of shape {tuple(y_shape)}")
    c, h, w = y_shape
    if name == "color":
        if c != 1:
            raise TaskError(f"colorization restores from a greyscale image, got {c} channels")
        return (3, h, w)
    if c != 3:
        raise TaskError(f"task {name} expects an RGB measurement, got {c} channel(s)")
    if name in ("sr", "sr_bicubic"):
        f = params.get("factor", TASKS[name].params["factor"])
        return (c, h * f, w * f)
    return (c, h, w)


@dataclass
class TaskSpec:
    """A degradation, fully resolved: task name, parameters (tensors included) and image shape."""

    name: str
    image_shape: tuple[int, int, int]
    params: dict = field(default_factory=dict)

    def operator(self, device: str | torch.device = "cpu") -> LinearOperator:
        return build_operator(self.name, self.image_shape, dtype=torch.float32, **self.params).to(device)

    def key(self) -> str:
        """Identity of the operator (images that share it can be restored in one batch)."""
        parts = {
            k: (zlib.crc32(v.cpu().numpy().tobytes()) if isinstance(v, Tensor) else v) for k, v in self.params.items()
        }
        return json.dumps([self.name, self.image_shape, parts], sort_keys=True, default=str)

    def to_sidecar(self, stem: Path, sigma_y: float, seed: int | None, measurement: str) -> dict[str, Any]:
        """The JSON record; tensors go to side files named after ``stem`` (see :meth:`write`)."""
        scalars, files = {}, {}
        for k, v in self.params.items():
            if isinstance(v, Tensor):
                files[k] = Path(stem).name + SIDE_FILE_SUFFIXES[k]
            elif v is not None:
                scalars[k] = v
        return {
            "ddrm_sidecar": SIDECAR_VERSION,
            "task": self.name,
            "params": scalars,
            "param_files": files,
            "image_shape": list(self.image_shape),
            "sigma_y": sigma_y,
            "value_range": [0, 1],
            "seed": seed,
            "measurement": measurement,
        }

    def side_files(self, sidecar: dict[str, Any], folder: Path) -> list[tuple[Path, Tensor]]:
        """``(path, tensor)`` for each side file a sidecar record names."""
        return [(folder / sidecar["param_files"][k], v) for k, v in self.params.items() if isinstance(v, Tensor)]

    def write_sidecar(self, sidecar: dict[str, Any], path: Path) -> None:
        """Write the side files, then the JSON: a sidecar never points at a missing file."""
        for fpath, v in self.side_files(sidecar, path.parent):
            write_image(v.float()[None], fpath) if fpath.name.endswith(".png") else write_array(v, fpath)
        write_text(json.dumps(sidecar, indent=1), path)

    @classmethod
    def from_sidecar(cls, path: str | Path) -> tuple[TaskSpec, dict]:
        """Read and validate a sidecar, and load its side files."""
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
        return cls(meta["task"], shape, params), meta


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
    if task not in TASKS:
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
    accepted = TASKS[task].params if task in TASKS else {}
    params = meta.get("params", {})
    if not isinstance(params, dict):
        problems.append("params must be an object")
    else:
        for k, v in params.items():
            if task in TASKS and k not in accepted:
                problems.append(f"task {task} takes no parameter {k!r}")
            elif k in SIDE_FILE_SUFFIXES:
                problems.append(f"parameter {k!r} belongs in param_files")
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
            elif task in TASKS and k not in accepted:
                problems.append(f"task {task} takes no {k}")
            elif not isinstance(fname, str) or not fname or Path(fname).name != fname:
                problems.append(f"param_files[{k!r}] must be a file name beside the sidecar, got {fname!r}")
    if meta.get("value_range", [0, 1]) != [0, 1]:
        problems.append(f"value_range must be [0, 1], got {meta['value_range']!r}")
    seed = meta.get("seed")
    if seed is not None and not (isinstance(seed, int) and not isinstance(seed, bool)):
        problems.append(f"seed must be an integer or null, got {seed!r}")
    return problems


MaskOrKernel = str | Path | Tensor | None


def make_task(
    name: str,
    image_shape: tuple[int, int, int],
    params: dict,
    generator: torch.Generator,
    *,
    mask: MaskOrKernel = None,
    kernel: MaskOrKernel = None,
) -> TaskSpec:
    """Resolve a task's random choices into explicit tensors (random mask, motion kernel, CS permutation), so that
    its sidecar rebuilds ``H`` exactly; ``mask`` / ``kernel`` (files or arrays) replace the random ones."""
    params = dict(params)
    shape = tuple(image_shape)
    if mask is not None and name != "inpaint":
        raise TaskError(f"a mask does not apply to task {name}")
    if kernel is not None and name not in KERNEL_TASKS:
        raise TaskError(f"a kernel does not apply to task {name}")
    if name == "inpaint":
        missing = params.pop("missing", 0.5)
        params["mask"] = _mask(mask, shape) if mask is not None else random_mask(shape, missing, generator)
    elif name == "deblur_motion":
        size, intensity = params.pop("size", None), params.pop("intensity", 0.5)
        if kernel is not None:
            params["kernel"] = _kernel(kernel)
        else:
            _check_motion(shape, size, intensity)
            params["kernel"] = motion_kernel(size or default_motion_size(shape), intensity, generator)
    elif name == "deblur_varying":
        grid, size, intensity = params.pop("grid", 2), params.pop("size", None), params.pop("intensity", 0.5)
        if kernel is not None:
            params["kernels"] = _kernel_grid(kernel, shape)
        else:
            _check_motion(shape, size, intensity)
            limit = min(shape[1], shape[2])
            if not (isinstance(grid, int) and 1 <= grid <= limit):
                raise TaskError(f"the grid must have 1 to {limit} regions per side for this image, got {grid}")
            params["kernels"] = random_kernel_grid(shape, grid, size, intensity, generator)
    elif name == "cs":
        params["permutation"] = torch.randperm(shape[1] * shape[2], generator=generator)
    return TaskSpec(name, shape, params)


def _check_motion(shape: tuple[int, int, int], size: int | None, intensity: float) -> None:
    """The size and curvature of random motion kernels, checked for the image."""
    limit = min(shape[1], shape[2])
    if size is not None and not (3 <= size <= limit and size % 2 == 1):
        raise TaskError(f"the motion kernel size must be odd and in [3, {limit}] for this image, got {size}")
    if not 0.0 <= intensity <= 1.0:
        raise TaskError(f"the motion kernel intensity must lie in [0, 1], got {intensity}")


def _mask(mask: MaskOrKernel, shape: tuple[int, int, int]) -> Tensor:
    return as_mask(mask, shape) if isinstance(mask, Tensor) else load_mask(mask, shape)


def _kernel(kernel: MaskOrKernel) -> Tensor:
    return as_kernel(kernel) if isinstance(kernel, Tensor) else load_kernel(kernel)


def _kernel_grid(kernel: MaskOrKernel, shape: tuple[int, int, int]) -> Tensor:
    k = as_kernel_grid(kernel) if isinstance(kernel, Tensor) else load_kernel_grid(kernel)
    if k.shape[0] > shape[1] or k.shape[1] > shape[2] or k.shape[2] > shape[1] or k.shape[3] > shape[2]:
        raise TaskError(f"a {k.shape[0]}x{k.shape[1]} grid of {k.shape[2]}x{k.shape[3]} kernels does not fit a "
                        f"{shape[2]}x{shape[1]} image")  # fmt: skip
    return k


def as_measurement(name: str, y: Tensor, label: str = "measurement") -> Tensor:
    """A measurement image as the task expects it: for colourisation a grey image saved as RGB becomes one channel
    (an image with colours is refused)."""
    if name == "color" and y.ndim == 3 and y.shape[0] == 3:
        if (y - y.mean(0, keepdim=True)).abs().max() > 2 / 255:
            raise TaskError(f"{label}: colorization needs a greyscale image, this one has colours")
        return y.mean(0, keepdim=True)
    return y


def spec_for_measurement(
    name: str,
    params: dict,
    y_shape: tuple[int, ...],
    *,
    mask: MaskOrKernel = None,
    kernel: MaskOrKernel = None,
) -> TaskSpec:
    """The task behind a measurement given without a sidecar: the image size follows from the measurement's, and
    inpainting needs its ``mask``, ``deblur_motion`` its ``kernel``, ``deblur_varying`` its grid of kernels (files or
    arrays); CS cannot be restored this way (the measurement does not tell the image size)."""
    shape = image_shape_for_measurement(name, params, tuple(y_shape))
    if name == "inpaint":
        if mask is None:
            raise TaskError("inpainting needs a mask (white = observed)")
        params = {"mask": _mask(mask, shape)}
    elif mask is not None:
        raise TaskError(f"a mask does not apply to task {name}")
    if name == "deblur_motion":
        if kernel is None:
            raise TaskError("deblur_motion needs a kernel (.npy or image)")
        params = {"kernel": _kernel(kernel)}
    elif name == "deblur_varying":
        if kernel is None:
            raise TaskError("deblur_varying needs its kernels (.npy of shape (rows, cols, kh, kw))")
        params = {"kernels": _kernel_grid(kernel, shape)}
    elif kernel is not None:
        raise TaskError(f"a kernel does not apply to task {name}")
    return TaskSpec(name, shape, params)


def to_model_range(op: SVDOperator, y01: Tensor) -> Tensor:
    """A measurement of a [0, 1] image -> the measurement of the same image in [-1, 1]: ``2 y01 - H 1`` (a
    non-linear operator says its own, e.g. JPEG's ``2 y01 - 1``)."""
    if not getattr(op, "linear", True):
        return op.model_range(y01)
    ones = torch.ones(1, *op.input_shape, device=y01.device, dtype=y01.dtype)
    return 2 * y01 - op.H(ones)
