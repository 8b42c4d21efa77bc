"""The one-call public API: :func:`restore` takes a degraded image (a tensor, a NumPy array or a PIL image, in [0, 1]
image units) and gives the restored image back as the same kind, through :func:`~ddrm.pipeline.restore_batch`, the
core every front end shares."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..checkpoints import prior_space
from ..errors import InputError, SolverError
from ..priors import Prior
from ..samplers import SAMPLERS
from ..tasks import (
    BLIND_TASKS,
    as_measurement,
    check_sigma_y,
    estimate_sigma_y,
    jpeg_params,
    merge_task_params,
    parse_task,
    spec_for_measurement,
)
from .batch import (
    Restoration,
    default_solver,
    image_generator,
    restore_batch,
    run_estimate,
    run_samples,
    step_warning,
)
from .blind import unsized_shake_warning
from .memory import check_memory
from .priors import PriorLoader

__all__ = ["restore"]

_LOADERS: dict[tuple, PriorLoader] = {}  # the last priors loaded by name, kept for the next call


def _loader(name: str, checkpoint: str | None, device: torch.device) -> PriorLoader:
    key = (name, checkpoint, str(device))
    if key not in _LOADERS:
        while len(_LOADERS) >= 2:
            _LOADERS.pop(next(iter(_LOADERS)))
        _LOADERS[key] = PriorLoader(name, checkpoint, device)
    return _LOADERS[key]


def _as_batch(y: Any) -> tuple[Tensor, dict[str, Any]]:
    """A degraded image of any supported kind -> ``(B, C, H, W)`` float32 in [0, 1], and how to give it back."""
    kind: dict[str, Any] = {}
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        Image = None  # noqa: N806
    if Image is not None and isinstance(y, Image.Image):
        kind["pil"] = True
        y = np.asarray(y.convert("L" if y.mode in ("L", "1", "I;16", "I") else "RGB"))
    if isinstance(y, np.ndarray):
        kind.setdefault("numpy", True)
        kind["dtype"] = y.dtype
        if y.ndim not in (2, 3):
            raise InputError(f"an image array is (H, W) or (H, W, C), got shape {y.shape}")
        arr = y[..., None] if y.ndim == 2 else y
        kind["grey_2d"] = y.ndim == 2
        t = torch.from_numpy(np.array(arr)).permute(2, 0, 1)[None]  # a copy: the caller's array is never touched
    elif isinstance(y, Tensor):
        if y.ndim not in (3, 4):
            raise InputError(f"an image tensor is (C, H, W) or (B, C, H, W), got shape {tuple(y.shape)}")
        kind.update(tensor=True, ndim=y.ndim, dtype=y.dtype, device=y.device)
        t = y if y.ndim == 4 else y[None]
    else:
        raise InputError(f"restore takes a torch.Tensor, a NumPy array or a PIL image, got {type(y).__name__}")
    scale = 255.0 if t.dtype == torch.uint8 else 1.0
    t = t.float() / scale
    if not torch.isfinite(t).all():
        raise InputError("the image contains NaN or infinite values")
    return t, kind


def _as_kind(x01: Tensor, kind: dict[str, Any]) -> Any:
    """Restored images (B, C, H, W) in [0, 1] -> the kind the degraded image came as."""
    if kind.get("tensor"):
        out = (x01 if kind["ndim"] == 4 else x01[0]).to(kind["device"])
        return (out * 255).round().to(torch.uint8) if kind["dtype"] == torch.uint8 else out
    arr = x01[0].permute(1, 2, 0).cpu().numpy()
    if arr.shape[-1] == 1 and kind.get("grey_2d", False):
        arr = arr[..., 0]
    if kind.get("pil") or kind["dtype"] == np.uint8:
        arr = (arr * 255 + 0.5).astype(np.uint8)
    if kind.get("pil"):
        from PIL import Image

        return Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[-1] == 1 else arr)
    return arr if arr.dtype == np.uint8 else arr.astype(np.float32)


def restore(
    y: Any,
    task: str,
    *,
    sigma_y: float | str = "auto",
    prior: str | Prior = "builtin",
    solver: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    mask: Any = None,
    kernel: Any = None,
    task_params: dict[str, Any] | None = None,
    solver_args: dict[str, Any] | None = None,
    samples: int | None = None,
    estimate: str | None = None,
    device: str | torch.device | None = None,
    checkpoint: str | None = None,
    progress: bool = False,
    details: bool = False,
) -> Any:
    """Restore a degraded image ``y`` of ``task`` (``"sr4"``, ``"sr_bicubic4"``, ``"deblur_gauss"``, ``"inpaint"``,
    ``"color"``, ``"denoise"``, ``"jpeg10"``, ``"deblur_blind"``, ...) with noise ``sigma_y`` (image units, [0, 1];
    ``"auto"``, the default: estimated from each image, :func:`~ddrm.tasks.estimate_sigma_y`; JPEG: 0); returns the restored image as the kind ``y`` came as (a tensor (C, H, W) or (B, C, H, W) in [0, 1], a NumPy array
    (H, W[, C]) float in [0, 1] or uint8, a PIL image). A greyscale photo (one channel, or three equal ones: every image
    of the batch) is the grey of the image measured and comes back grey, in its channels
    (:meth:`~ddrm.tasks.TaskSpec.frame`).

    ``prior`` is a name for :func:`ddrm.load_prior` (``"builtin"``, a preset with ``checkpoint``, ``"hf:ORG/NAME"``)
    or a loaded :class:`~ddrm.priors.Prior`; ``solver`` a name of :data:`ddrm.SAMPLERS` (default: DDRM, DDRM-JPEG
    for JPEG, DiffPIR for a blur without an SVD) with ``steps`` and ``solver_args``; ``mask`` (inpainting; white =
    observed) and ``kernel`` (``deblur_motion``) are files or arrays; ``task_params`` the task's own (e.g.
    ``{"size": 15, "model": "full"}`` for ``deblur_blind``). ``samples`` draws that many samples of each image; the
    result is their mean (``estimate="mean"``, the default with several samples: more faithful) or the first
    (``"sample"``: sharper). Not given: one, but a blind photo's camera shake (the held estimate of a full kernel)
    returns the mean of :data:`~ddrm.pipeline.blind.HELD_SAMPLES` (:func:`~ddrm.pipeline.run_samples`). Image ``i``
    of a batch draws its noise from ``seed`` and its index. ``device`` defaults to the tensor's (the CPU for arrays
    and images); nothing moves by itself. ``details=True`` returns ``(image, restoration)``: the
    :class:`~ddrm.pipeline.Restoration` with the consistency residual ``||y - H x|| / sqrt(m)`` (compare with
    ``sigma_y``), the samples' per-pixel spread and the blind kernels."""
    y01, kind = _as_batch(y)
    device = torch.device(device) if device is not None else y01.device if kind.get("tensor") else torch.device("cpu")
    name, params = parse_task(task)
    named = {**params, **(task_params or {})}  # the parameters the caller named (the rest are the task's defaults)
    params = merge_task_params(name, params, task_params or {})
    if name == "jpeg" and "tables" not in params:  # the file's own tables (an opened JPEG), or QF checked against them
        params = jpeg_params(y if kind.get("pil") else None, params, "the image")
    check_sigma_y(name, sigma_y)
    channels = y01.shape[1]
    ys = [as_measurement(name, yi, grey_photo=True) for yi in y01]  # a grey photo stored as colour: its grey
    if len({yi.shape[0] for yi in ys}) > 1:  # a batch of grey and colour photos: one model for all, the colour one
        ys = [as_measurement(name, yi) for yi in y01]
    y01 = torch.stack(ys)
    spec = spec_for_measurement(name, params, tuple(y01.shape[1:]), mask=mask, kernel=kernel)
    mask_t = spec.params.get("mask")
    sigmas = [estimate_sigma_y(yi, name, mask_t) for yi in y01] if sigma_y == "auto" else [float(sigma_y)] * len(y01)
    solver = solver or default_solver(name, spec.params, prior_space(prior))
    if solver not in SAMPLERS:
        raise SolverError(f"unknown solver {solver!r}; choose from {', '.join(SAMPLERS)}")
    sampler = SAMPLERS[solver]
    args = {**(solver_args or {}), **({} if steps is None else {"steps": steps})}
    sampler.check(args)
    op = spec.operator(device)
    sampler.check_operator(op)
    net = prior if isinstance(prior, Prior) else _loader(prior, checkpoint, device)(spec.image_shape)
    blind = name in BLIND_TASKS
    samples = run_samples(sampler, name, spec.params, samples, estimate)
    estimate = run_estimate(samples, estimate)
    batch = (1 if blind else y01.shape[0]) * samples  # a blind task: one image, its samples drawn in one batch
    unknown = check_memory(net, sampler, spec.image_shape, batch, device, args, blind, samples)
    unsized = unsized_shake_warning(spec.params, named) if blind else None
    for line in (step_warning(sampler, args, name, spec.params), unknown, unsized):
        if line is not None:
            warnings.warn(line, stacklevel=2)
    gens = [image_generator(seed, f"image {i}", device) for i in range(y01.shape[0])]
    parts = []  # images with one noise level go in one batch (all of them unless estimated one by one)
    for level in dict.fromkeys(sigmas):
        idx = [i for i, s in enumerate(sigmas) if s == level]
        parts.append((idx, restore_batch(net, sampler, spec, op, y01[idx].to(device), level, [gens[i] for i in idx],
                                         args, samples=samples, estimate=estimate, progress_bar=progress)))  # fmt: skip
    res = _merge(parts, len(sigmas), sigmas)
    images = res.images.expand(-1, channels, -1, -1) if res.images.shape[1] == 1 < channels else res.images
    out = _as_kind(images, kind)  # a grey photo's grey result in the channels it came in
    return (out, res) if details else out


def _merge(parts: list[tuple[list[int], Restoration]], n: int, sigmas: list[float]) -> Restoration:
    """One :class:`Restoration` from batches of some of the images, in the images' order."""
    if len(parts) == 1:
        return replace(parts[0][1], sigma_y=tuple(sigmas))
    order = torch.tensor([i for idx, _ in parts for i in idx]).argsort()

    def cat(field: str) -> Tensor | None:
        values = [getattr(r, field) for _, r in parts]
        return None if values[0] is None else torch.cat(values)[order.to(values[0].device)]

    first = parts[0][1]
    return Restoration(cat("images"), cat("kernels"), cat("std"), cat("residual"), first.samples, first.estimate,
                       tuple(sigmas))  # fmt: skip
