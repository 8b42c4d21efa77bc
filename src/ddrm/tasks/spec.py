"""A task fully resolved: :class:`TaskSpec` holds everything that rebuilds ``H`` exactly (the mask, the kernel, the
permutation are tensors, not seeds). :func:`make_task` resolves a task's random choices for a clean image;
:func:`spec_for_measurement` infers the task behind a measurement given without a sidecar.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..errors import InputError, TaskError
from ..operators import (
    GREY_OWN,
    LUMA_WEIGHTS,
    OPERATORS,
    CircularConvolution,
    Operator,
    ValidPart,
    box_mask,
    build_operator,
    ddrm_anisotropic_kernels,
    default_motion_size,
    gaussian_kernel_1d,
    motion_kernel,
    on_grey,
    random_kernel_grid,
    random_mask,
    separable_blur,
    valid_margins,
)
from .inputs import (
    GREY_TOLERANCE,
    MaskOrKernel,
    as_kernel,
    as_kernel_grid,
    as_mask,
    is_grey_photo,
    load_kernel,
    load_kernel_grid,
    load_mask,
)
from .names import (
    BLIND_BOUNDARIES,
    BLIND_TASKS,
    BLUR_TASKS,
    HELD_REFITS,
    KERNEL_MODELS,
    KERNEL_TASKS,
    holds_estimate,
    task_params,
)

__all__ = ["TaskSpec", "make_task", "spec_for_measurement", "image_shape_for_measurement", "blind_start_kernel"]


def blind_start_kernel(size: int) -> Tensor:
    """The blind estimator's starting guess: a normalised 1-D Gaussian of ``size`` (odd) taps, std ``size / 6``."""
    return gaussian_kernel_1d(size / 6, size // 2)


@dataclass
class TaskSpec:
    """A degradation, fully resolved: task name, parameters (tensors included) and image shape.

    A blind task (``deblur_blind``) carries the settings of its kernel estimator instead of an operator's: its
    :meth:`operator` is the estimator's starting guess, replaced while restoring. ``crop``: the image is restored on a
    domain larger than the measurement (a blur's valid part, of an own photo) and cropped to the measurement's frame
    (:meth:`frame`)."""

    name: str
    image_shape: tuple[int, int, int]
    params: dict = field(default_factory=dict)
    crop: bool = False

    def frame(self, x: Tensor) -> Tensor:
        """Images (..., C, H, W) of the restored domain -> the result as written: the part in the measurement's frame
        (the whole unless ``crop``: the centre, less the margins the blur's valid part leaves,
        :func:`ddrm.operators.valid_margins`), and for a greyscale photo the grey its measurement sees
        (:meth:`grey_of`)."""
        if self.crop:
            (h, w), (mh, mw) = self.image_shape[1:], self.measurement_size
            top, left = (h - mh) // 2, (w - mw) // 2
            x = x[..., top : top + mh, left : left + mw]
        return self.grey_of(x) if self.measures_grey else x

    @property
    def measures_grey(self) -> bool:
        """Whether the measurement is a greyscale photo's (``grey``, or a greyscale JPEG): the image is restored with
        colours, which nothing measured, and written as its grey, as the photo was."""
        return bool(self.params.get("grey")) or (self.name == "jpeg" and self.params.get("subsampling") == "grey")

    def grey_of(self, x: Tensor) -> Tensor:
        """The grey of colour images (..., 3, H, W) as the measurement sees it, (..., 1, H, W): the channels' mean
        (:func:`ddrm.operators.on_grey`), a JPEG's luma (ITU-R BT.601, JFIF's)."""
        if self.name == "jpeg":
            return torch.einsum("c,...chw->...hw", LUMA_WEIGHTS.to(x), x).unsqueeze(-3)
        return x.mean(-3, keepdim=True)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """The shape of a result as written: the image, or its part in the measurement's frame (``crop``); one
        channel for a greyscale photo (:attr:`measures_grey`)."""
        c = 1 if self.measures_grey else self.image_shape[0]
        return (c, *self.measurement_size) if self.crop else (c, *self.image_shape[1:])

    @property
    def measurement_size(self) -> tuple[int, int]:
        """(H, W) of a blur's valid part: the image less the kernel's extent minus one."""
        kh, kw = kernel_extent(self.name, self.params)
        return self.image_shape[1] - kh + 1, self.image_shape[2] - kw + 1

    @property
    def is_blind(self) -> bool:
        """Whether the operator is estimated while restoring (each measurement its own)."""
        return self.name in BLIND_TASKS

    def operator(self, device: str | torch.device = "cpu") -> Operator:
        if self.is_blind:  # the estimator's starting guess
            g = blind_start_kernel(int(self.params.get("size", BLIND_TASKS[self.name]["size"])))
            if self.params.get("boundary") == "valid":
                blur = separable_blur(self._blurred_shape, g, g, dtype=torch.float32, boundary="valid")
            else:
                blur = CircularConvolution(self._blurred_shape, torch.outer(g, g), dtype=torch.float32)
            return self._measured(blur).to(device)
        return build_operator(self.name, self.image_shape, dtype=torch.float32, **self.params).to(device)

    def blur_of(self, kernel: Tensor) -> Operator:
        """A blind task's blur with an estimated ``kernel``, with the task's boundary (the result's residual, its
        grid's pseudo-inverse), on the image's grey for a greyscale photo (:func:`ddrm.operators.on_grey`)."""
        blur = CircularConvolution(self._blurred_shape, kernel, dtype=torch.float32)
        if self.params.get("boundary") == "valid":
            blur = ValidPart(blur, valid_margins(tuple(kernel.shape)))
        return self._measured(blur)

    @property
    def _blurred_shape(self) -> tuple[int, int, int]:
        """The images a blind task's blur is built for: the image's, or one channel (its grey) for a grey photo."""
        return (1, *self.image_shape[1:]) if self.measures_grey else self.image_shape

    def _measured(self, blur: Operator) -> Operator:
        """A blind task's blur as the measurement sees the image: of its grey for a greyscale photo."""
        return on_grey(blur, self.image_shape[0]) if self.measures_grey else blur

    def key(self) -> str:
        """Identity of the operator (images that share it can be restored in one batch)."""
        parts = {
            k: (zlib.crc32(v.cpu().numpy().tobytes()) if isinstance(v, Tensor) else v) for k, v in self.params.items()
        }
        return json.dumps([self.name, self.image_shape, parts], sort_keys=True, default=str)


def kernel_extent(name: str, params: dict) -> tuple[int, int]:
    """(kh, kw): the extent of a blur task's kernel (the largest of a grid's), from its parameters."""
    if name == "deblur_motion":
        return tuple(params["kernel"].shape)
    if name == "deblur_varying":
        return tuple(params["kernels"].shape[-2:])
    if name == "deblur_aniso":
        rows, cols = ddrm_anisotropic_kernels()
        return rows.numel(), cols.numel()
    if name in BLIND_TASKS:
        size = params.get("size") or BLIND_TASKS[name]["size"]
        return size, size
    if name in ("deblur_uni", "deblur_gauss"):
        n = params.get("size") or OPERATORS[name].params["size"] or 5  # deblur_gauss: DDRM's 5 taps by default
        return n, n
    raise TaskError(f"task {name} is not a blur")


def image_shape_for_measurement(name: str, params: dict, y_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The shape of the image behind a measurement of shape ``y_shape`` (image-like tasks only); for a blur's valid
    part (``boundary="valid"``), larger by the kernel's extent minus one."""
    if name == "cs":
        raise TaskError("a compressed-sensing measurement does not tell the image size: restore it with a sidecar")
    if len(y_shape) != 3:
        raise TaskError(f"expected an image measurement, got an array of shape {tuple(y_shape)}")
    c, h, w = y_shape
    if name == "jpeg" and params.get("subsampling") == "grey":
        if c != 1:
            raise TaskError(f"a greyscale JPEG has one channel, got {c}")
        return (3, h, w)
    if name == "color":
        if c != 1:
            raise TaskError(f"colorization restores from a greyscale image, got {c} channels")
        return (3, h, w)
    if params.get("grey"):  # a greyscale photo: its grey is measured, the image has colours
        if c != 1:
            raise TaskError(f"the measurement of a greyscale photo has one channel, got {c}")
        c = 3
    if c != 3:
        raise TaskError(f"task {name} expects an RGB or greyscale measurement, got {c} channel(s)")
    if name in ("sr", "sr_bicubic"):
        f = params.get("factor", OPERATORS[name].params["factor"])
        return (c, h * f, w * f)
    if (name in BLUR_TASKS or name in BLIND_TASKS) and params.get("boundary") == "valid":
        kh, kw = kernel_extent(name, params)
        return (c, h + kh - 1, w + kw - 1)
    return (c, h, w)


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
    if name in BLIND_TASKS:
        raise TaskError(f"{name} restores an unknown blur; make the measurement with deblur_gauss, deblur_motion, ...")
    if mask is not None and name != "inpaint":
        raise TaskError(f"a mask does not apply to task {name}")
    if kernel is not None and name not in KERNEL_TASKS:
        raise TaskError(f"a kernel does not apply to task {name}")
    if name == "inpaint":
        missing, box = params.pop("missing", 0.5), params.pop("box", 0)
        if mask is not None:
            params["mask"] = _mask(mask, shape)
        else:
            params["mask"] = box_mask(shape, box, generator) if box else random_mask(shape, missing, generator)
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


def _grey(params: dict) -> dict:
    """The ``grey`` flag of a task's parameters, kept where they are rebuilt."""
    return {"grey": True} if params.get("grey") else {}


def _check_motion(shape: tuple[int, int, int], size: int | None, intensity: float) -> None:
    """The size and curvature of random motion kernels, checked for the image."""
    limit = min(shape[1], shape[2])
    if size is not None and not (3 <= size <= limit and size % 2 == 1):
        raise TaskError(f"the motion kernel size must be odd and in [3, {limit}] for this image, got {size}")
    if not 0.0 <= intensity <= 1.0:
        raise TaskError(f"the motion kernel intensity must lie in [0, 1], got {intensity}")


def _blind_params(name: str, params: dict, shape: tuple[int, int, int]) -> dict[str, Any]:
    """A blind task's estimator settings, checked for the image: an odd kernel size that fits, a known model, no
    narrowing factor or one in (0, 1], a whole number of draws (one for a photo's full kernel, which is not drawn),
    refits only for a photo's full kernel."""
    out = {**task_params(name), **{k: v for k, v in params.items() if v is not None}}
    size, limit = out["size"], min(shape[1], shape[2])
    if not (isinstance(size, int) and 3 <= size <= limit and size % 2 == 1):
        raise TaskError(f"the kernel size must be odd and in [3, {limit}] for this image, got {size}")
    if out["model"] not in KERNEL_MODELS:
        raise TaskError(f"unknown kernel model {out['model']!r}; choose from {', '.join(KERNEL_MODELS)}")
    narrow = out["narrow"]
    if narrow is not None and (isinstance(narrow, bool) or not isinstance(narrow, (int, float)) or not 0 < narrow <= 1):
        raise TaskError(f"the kernel's narrowing factor must lie in (0, 1], got {narrow}")
    draws = out["draws"]
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise TaskError(f"the number of kernel draws must be an integer >= 1, got {draws!r}")
    if out["boundary"] not in BLIND_BOUNDARIES[out["model"]]:
        raise TaskError(f"the {out['model']} kernel model is estimated with a "
                        f"{' or '.join(BLIND_BOUNDARIES[out['model']])} boundary, got {out['boundary']!r}")  # fmt: skip
    refits = out["refits"]
    if refits is not None and (isinstance(refits, bool) or not isinstance(refits, int) or refits < 0):
        raise TaskError(f"the number of kernel refits must be an integer >= 0, got {refits!r}")
    if refits and not holds_estimate(out["model"], out["boundary"]):
        raise TaskError("kernel refits apply to a photo's full kernel (--kernel-model full, valid boundary); the "
                        "diffusion chain refines every other estimate itself")  # fmt: skip
    if holds_estimate(out["model"], out["boundary"]):  # the classical estimate held: nothing to draw
        if params.get("draws") not in (None, 1):
            raise TaskError("kernel draws do not apply to a photo's full kernel (its classical estimate is held, "
                            "not drawn); leave them out")  # fmt: skip
        out["draws"] = 1
        out["refits"] = HELD_REFITS if refits is None else refits
    else:
        out["refits"] = 0
    return out


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


def photo_params(name: str, params: dict) -> dict:
    """``params`` of task ``name`` with what a measurement given without a sidecar (a photo) is restored with where
    they leave it open: a blur's boundary the valid one (the photo's border saw the scene beyond it), and a blind
    kernel model's the last it is offered with (:data:`~ddrm.tasks.names.BLIND_BOUNDARIES`: valid where it can)."""
    params = dict(params)
    if name in BLUR_TASKS:
        params["boundary"] = params.get("boundary") or "valid"
    if name in BLIND_TASKS:
        model = params.get("model") or BLIND_TASKS[name]["model"]
        params["boundary"] = params.get("boundary") or BLIND_BOUNDARIES.get(model, ("circular",))[-1]
    return params


def clean_photo_task(name: str, params: dict, x: Tensor, source: object = None) -> tuple[dict, Tensor]:
    """The ``params`` of task ``name`` and the (3, H, W) image a clean photo ``x`` is measured with (``ddrm degrade``,
    the demo). A colour photo as it is; a greyscale one ((1, H, W)) as a greyscale photo is restored
    (:func:`spec_for_measurement`): the grey of an image with colours (``grey``), for ``jpeg`` a greyscale JPEG, and
    the image its grey in every channel; so is a grey photo stored as colour (:func:`~ddrm.tasks.is_grey_photo`, the
    rule ``ddrm restore`` reads a photo's measurement by). Colourisation of a grey photo is refused (it has no colours
    to take away), as is any other channel count (``source`` names the photo in the message)."""
    if x.ndim != 3 or x.shape[0] not in (1, 3):
        got = f"{x.shape[0]} channel(s)" if x.ndim == 3 else f"an array of shape {tuple(x.shape)}"
        raise InputError(f"{f'{source}: ' if source else ''}expected an RGB or greyscale photo, got {got}")
    if x.shape[0] == 3 and not is_grey_photo(x):
        return dict(params), x
    if name == "color":
        equal = f"its channels equal within {GREY_TOLERANCE * 255:g}/255"
        kind = "a greyscale photo" if x.shape[0] == 1 else f"a grey photo ({equal})"
        raise TaskError(f"{kind} has no colours to take away: colourise the photo itself (task color)")
    x = x.mean(0, keepdim=True)  # a grey photo stored as colour too, as ddrm restore takes its measurement
    return {**params, **({"subsampling": "grey"} if name == "jpeg" else {"grey": True})}, x.expand(3, -1, -1)


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
    arrays); CS cannot be restored this way (the measurement does not tell the image size). A blur is taken as a
    real photo's (``boundary="valid"`` unless given): the image is restored beyond the frame by the kernel's extent
    and cropped back to it (:meth:`TaskSpec.frame`). A one-channel measurement (a greyscale photo) of a task without a
    grey measurement of its own is the grey of the image measured (``grey=True``: :func:`ddrm.operators.on_grey`);
    the image is restored with colours and written as its grey (:meth:`TaskSpec.frame`)."""
    params = photo_params(name, params)
    if len(y_shape) == 3 and y_shape[0] == 1 and name not in GREY_OWN:  # a greyscale photo (own grey: color, jpeg)
        params["grey"] = True
    if name in BLIND_TASKS:
        if mask is not None or kernel is not None:
            raise TaskError(f"{name} estimates its kernel; a {'mask' if mask is not None else 'kernel'} does not apply")
        shape = image_shape_for_measurement(name, params, tuple(y_shape))
        if params["boundary"] == "valid":  # the size checked against the measurement's frame
            _blind_params(name, params, tuple(y_shape))
        return TaskSpec(name, shape, _blind_params(name, params, shape), crop=params["boundary"] == "valid")
    if mask is not None and name != "inpaint":
        raise TaskError(f"a mask does not apply to task {name}")
    if kernel is not None and name not in KERNEL_TASKS:
        raise TaskError(f"a kernel does not apply to task {name}")
    if name == "deblur_motion":
        if kernel is None:
            raise TaskError("deblur_motion needs a kernel (.npy or image)")
        params = {"kernel": _kernel(kernel), "boundary": params["boundary"], **_grey(params)}
    elif name == "deblur_varying":
        if kernel is None:
            raise TaskError("deblur_varying needs its kernels (.npy of shape (rows, cols, kh, kw))")
        params = {"kernels": as_kernel_grid(kernel) if isinstance(kernel, Tensor) else load_kernel_grid(kernel),
                  "boundary": params["boundary"], **_grey(params)}  # fmt: skip
    shape = image_shape_for_measurement(name, params, tuple(y_shape))
    if name == "inpaint":
        if mask is None:
            raise TaskError("inpainting needs a mask (white = observed)")
        params = {"mask": _mask(mask, shape), **_grey(params)}
    elif name == "deblur_varying":
        _kernel_grid(params["kernels"], shape)  # fits the image
    return TaskSpec(name, shape, params, crop=params.get("boundary") == "valid")
