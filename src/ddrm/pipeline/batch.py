"""Restoring one batch of measurements in memory: the core every front end reaches (files, folders, clips, the web
app, the demo, the harness and :func:`ddrm.restore`).

Values in and out are in image units ([0, 1], ``sigma_y`` included); the conversion to the solvers' [-1, 1] is made
here once. Every image has its own generator, so a result does not depend on the batch it was restored in.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import SolverError, TaskError
from ..operators import OPERATORS, Operator
from ..priors import Prior
from ..samplers import SAMPLERS, SamplerSpec
from ..tasks import BLIND_TASKS, TaskSpec, parse_task
from .blind import check_solver, restore_blind

__all__ = ["Restoration", "restore_batch", "pinv_image", "image_generator", "default_solver", "DEFAULT_SOLVERS"]

# the solver a front end uses when none is named: the first of these that takes the task's operator contract
DEFAULT_SOLVERS = ("ddrm", "diffpir", "ddrm-jpeg")


def default_solver(task: str) -> str:
    """DDRM; for an operator without an SVD (``deblur_varying``) DiffPIR, whose data step is a prox that conjugate
    gradients solve and which models the noise; for JPEG, DDRM-JPEG (the first of :data:`DEFAULT_SOLVERS` that takes
    the operator's contract)."""
    name = parse_task(task)[0]
    if name in BLIND_TASKS:
        return DEFAULT_SOLVERS[0]
    contract = OPERATORS[name].contract
    return next(s for s in DEFAULT_SOLVERS if SAMPLERS[s].takes(contract))


def image_generator(seed: int, name: str) -> torch.Generator:
    """The generator of one image: the run's seed plus the CRC-32 of its name."""
    return torch.Generator().manual_seed(seed + zlib.crc32(name.encode()))


@dataclass(frozen=True)
class Restoration:
    """A restored batch: ``images`` (B, C, H, W) in [0, 1]; for a blind task the estimated ``kernels`` (B, k, k)."""

    images: Tensor
    kernels: Tensor | None = None


def restore_batch(
    prior: Prior,
    solver: SamplerSpec,
    task: TaskSpec,
    op: Operator,
    y01: Tensor,
    sigma_y: float,
    generators: Sequence[torch.Generator],
    solver_args: dict[str, Any] | None = None,
    *,
    x_init01: Tensor | None = None,
    progress_bar: bool = False,
) -> Restoration:
    """Restore a batch of measurements ``y01`` (B, *measurement_shape) of one task with noise ``sigma_y``, both in
    [0, 1] units, one generator per image; the images come back in [0, 1] on the measurements' device.

    ``x_init01`` (images in [0, 1]) starts the chain of a solver that can start from an image
    (``solver.starts_from_image``). A blind task estimates each image's kernel while restoring it (one at a time:
    each image has its own operator)."""
    if tuple(y01.shape[1:]) != tuple(op.measurement_shape):
        raise TaskError(
            f"measurement shape {tuple(y01.shape[1:])} does not fit the task ({tuple(op.measurement_shape)})"
        )
    if getattr(prior, "channels", task.image_shape[0]) != task.image_shape[0]:
        raise TaskError(f"the prior works on {prior.channels}-channel images, the task on {task.image_shape[0]}")
    extra: dict[str, Any] = {}
    if x_init01 is not None:
        if not solver.starts_from_image:
            raise SolverError(f"solver {solver.name} cannot start from an image")
        extra["x_init"] = x_init01.to(y01) * 2 - 1
    if task.is_blind:
        check_solver(solver)
        images, kernels = [], []
        for i, g in enumerate(generators):
            one = {k: v[i : i + 1] for k, v in extra.items()}
            x, k = restore_blind(prior, solver, y01[i : i + 1], sigma_y, task.params["size"], task.params["model"],
                                 solver_args={**(solver_args or {}), **one}, generator=[g], progress_bar=progress_bar)  # fmt: skip
            images.append(x)
            kernels.append(k)
        return Restoration(torch.cat(images), torch.stack(kernels))
    with torch.no_grad():  # gradient methods enable autograd themselves, around the network only
        x = solver.run(
            prior,
            op,
            op.to_model_range(y01),
            2 * sigma_y,
            task=task.name,
            generator=list(generators),
            progress_bar=progress_bar,
            **(solver_args or {}),
            **extra,
        )
    return Restoration(((x + 1) / 2).clamp(0, 1))


def pinv_image(op: Operator, y01: Tensor) -> Tensor:
    """``H^+ y`` shown as images in [0, 1], computed in the model range (the null space comes out mid-grey)."""
    with torch.no_grad():
        return ((op.pinv(op.to_model_range(y01)) + 1) / 2).clamp(0, 1)
