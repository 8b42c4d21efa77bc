"""Restoring one batch of measurements in memory: the core every front end reaches (files, folders, clips, the web
app, the demo, the harness and :func:`ddrm.restore`).

Values in and out are in image units ([0, 1], ``sigma_y`` included); the conversion to the solvers' [-1, 1] is made
here once. Every image has its own generator, so a result does not depend on the batch it was restored in.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import InputError, SolverError, TaskError
from ..operators import OPERATORS, Operator, SVDOperator
from ..priors import Prior
from ..samplers import SAMPLERS, SamplerSpec
from ..tasks import BLIND_TASKS, TaskSpec, holds_estimate, parse_task
from .blind import HELD_SAMPLES, HELD_STEPS, check_solver, restore_blind, sample_generators, scale_kernel

__all__ = [
    "Restoration",
    "restore_batch",
    "pinv_image",
    "image_generator",
    "sample_generators",
    "consistency_residual",
    "default_solver",
    "DEFAULT_SOLVERS",
    "ESTIMATES",
    "consistency_warning",
    "noise_scale",
    "run_steps",
    "run_samples",
    "run_estimate",
    "step_warning",
    "check_samples",
    "check_batch",
]

# the solver a front end uses when none is named: the first of these that takes the task's operator contract
DEFAULT_SOLVERS = ("ddrm", "diffpir", "ddrm-jpeg")


def default_solver(task: str, params: dict[str, Any] | None = None, space: str = "pixel") -> str:
    """DDRM; for an operator without an SVD (``deblur_varying``, a 2-D kernel's valid part, a blind full kernel's
    valid part) DiffPIR, whose data step is a prox that conjugate gradients solve and which models the noise; for
    JPEG, DDRM-JPEG (the first of :data:`DEFAULT_SOLVERS` that takes the contract of the operator ``task`` with
    ``params`` builds). With a latent prior (``space="latent"``, :func:`ddrm.checkpoints.prior_space`): PSLD."""
    if space == "latent":
        return "psld"
    name, parsed = parse_task(task)
    if name in BLIND_TASKS:
        given = {**parsed, **{k: v for k, v in (params or {}).items() if v is not None}}
        return DEFAULT_SOLVERS[1 if _holds_estimate(name, given) else 0]
    contract = OPERATORS[name].contract_for({**parsed, **(params or {})})
    return next(s for s in DEFAULT_SOLVERS if SAMPLERS[s].takes(contract))


def image_generator(seed: int, name: str, device: torch.device | str | None = None) -> torch.Generator:
    """The generator of one image: the run's seed plus the CRC-32 of its name, on ``device`` (the CPU when not given).

    The front ends make it on the run's device, so a GPU run draws its noise there (no host draw and copy per step);
    a seed then gives the same result on every run on that kind of device, not the CPU's numbers."""
    return torch.Generator(device=device or "cpu").manual_seed(seed + zlib.crc32(name.encode()))


ESTIMATES = ("sample", "mean")


@dataclass(frozen=True)
class Restoration:
    """A restored batch: ``images`` (B, C, H, W) in [0, 1], the estimate asked for (one sample, or the mean of
    ``samples``); with several samples their per-pixel standard deviation ``std``; for a blind task the estimated
    ``kernels`` (B, k, k); and ``residual``, the consistency ``||y - H x|| / sqrt(m)`` per image in [0, 1] units (m
    the measured entries), to compare with ``sigma_y``."""

    images: Tensor
    kernels: Tensor | None = None
    std: Tensor | None = None
    residual: Tensor | None = None
    samples: int = 1
    estimate: str = "sample"
    sigma_y: tuple[float, ...] | None = None  # each image's noise level, as given or estimated ([0, 1] units)


def consistency_residual(op: Operator, y01: Tensor, x01: Tensor) -> Tensor:
    """``||y - H x|| / sqrt(m)`` per image in [0, 1] units, through the model range so that any operator (JPEG too)
    is measured the same way; ``m`` counts the measured entries (an inpainting mask's observed pixels)."""
    with torch.no_grad():
        r = (op.to_model_range(y01) - op.H(2 * x01.to(y01) - 1)) / 2
    m = op.support().sum(-1).clamp_min(1).to(r) if isinstance(op, SVDOperator) else torch.tensor(float(op.m))
    return (r.flatten(1).double().norm(dim=1) / m.double().sqrt()).float().cpu()


# a result whose residual lies outside [LOW scale - SLACK_LOW, HIGH scale + SLACK_HIGH] does not explain its
# measurement up to its noise: the multiples hold DDRM's results over the noise_sweep protocol (ratios 0.47-2.3,
# the extremes at sigma_y 0.005, where an 8-bit image's own rounding and the prior's fit are a few grey levels), with
# margin; the slack of a few grey levels keeps the rule meaningful at low noise (see docs/benchmarks.md, consistency)
RESIDUAL_LOW, RESIDUAL_HIGH = 0.5, 2.0
SLACK_LOW, SLACK_HIGH = 1 / 255, 2 / 255
RESIDUAL_NOISELESS = 2 / 255  # without noise: two grey levels


def noise_scale(op: Operator, sigma_y: float) -> float:
    """The residual a result that explains its measurement leaves: ``sigma_y``, or for a JPEG (no added noise) the
    rms error its quantisation leaves (:meth:`~ddrm.operators.JPEG.quantisation_noise`); 0 for a noiseless linear
    measurement."""
    if sigma_y > 0:
        return sigma_y
    quantised = getattr(op, "quantisation_noise", None)
    return quantised() if callable(quantised) else 0.0


def consistency_warning(residual: float, scale: float, exact_fit_expected: bool = False) -> str | None:
    """One line when a result's residual ``||y - H x|| / sqrt(m)`` is far from the measurement's noise ``scale``
    (:func:`noise_scale`): far above, the result ignores the measurement; far below, it copies the measurement's
    noise (not a fault where a close fit is the aim, ``exact_fit_expected``: JPEG's quantisation cells). ``None`` when
    it is fine."""
    if scale <= 0:
        if residual > RESIDUAL_NOISELESS:
            return f"the result misses the measurement by {residual:.4f} (rms, [0, 1] units) though it has no noise"
        return None
    ratio = residual / scale
    if residual > RESIDUAL_HIGH * scale + SLACK_HIGH:
        return (f"the result does not explain the measurement: its residual is {ratio:.2f} x the noise (too few steps, "
                "a wrong task or kernel, or sigma_y too low)")  # fmt: skip
    if residual < RESIDUAL_LOW * scale - SLACK_LOW and not exact_fit_expected:
        return (f"the result fits the measurement's noise: its residual is {ratio:.2f} x sigma_y (sigma_y too high, or "
                "a solver that ignores the noise)")  # fmt: skip
    return None


def _holds_estimate(name: str, params: dict[str, Any]) -> bool:
    """Whether blind task ``name`` with ``params`` (its defaults filled in) holds the classical kernel estimate
    (:func:`~ddrm.tasks.holds_estimate`: a photo's full kernel)."""
    blind = {**BLIND_TASKS[name], **{k: v for k, v in params.items() if v is not None}}
    return holds_estimate(blind["model"], blind["boundary"])


def run_steps(
    solver: SamplerSpec,
    solver_args: dict[str, Any] | None,
    task: str | None = None,
    params: dict[str, Any] | None = None,
) -> int:
    """The steps a run takes: ``solver_args``' ``steps``, else the solver's default for ``task``; a blind task's held
    estimate (``params``: the task's) takes :data:`~ddrm.pipeline.blind.HELD_STEPS`."""
    given = (solver_args or {}).get("steps")
    if given is not None:
        return int(given)
    if task in BLIND_TASKS and _holds_estimate(task, params or {}):
        return HELD_STEPS
    return int(solver.defaults(task)["steps"])


def run_samples(
    solver: SamplerSpec,
    task: str | None = None,
    params: dict[str, Any] | None = None,
    samples: int | None = None,
    estimate: str | None = None,
) -> int:
    """The samples a run draws: ``samples`` when given; else one, but a blind task's held estimate (``params``: the
    task's) draws :data:`~ddrm.pipeline.blind.HELD_SAMPLES` and returns their mean, unless ``estimate`` asks for one
    sample or the solver draws no noise."""
    if samples is not None:
        return samples
    held = task in BLIND_TASKS and _holds_estimate(task, params or {})
    return HELD_SAMPLES if held and estimate != "sample" and not solver.deterministic else 1


def run_estimate(samples: int, estimate: str | None = None) -> str:
    """The result of ``samples`` samples: ``estimate`` when given, else their mean (several) or the one sample."""
    return estimate or ("mean" if samples > 1 else "sample")


def step_warning(
    solver: SamplerSpec,
    solver_args: dict[str, Any] | None,
    task: str | None = None,
    params: dict[str, Any] | None = None,
) -> str | None:
    """One line when a run makes fewer than a quarter of the network evaluations the solver is made for (DPS at 20 of
    its 1000 steps returns little more than the prior's mean); ``None`` otherwise. A blind task's held estimate
    (``params``: the task's) is made for :data:`~ddrm.pipeline.blind.HELD_STEPS` steps, its default."""
    args = {k: v for k, v in (solver_args or {}).items() if k != "steps" and k in {p.name for p in solver.params}}
    steps = run_steps(solver, None, task, params)  # the count the run is made for
    made_for = solver.count_nfe(steps, task=task)
    runs = solver.count_nfe(run_steps(solver, solver_args, task, params), task=task, **args)
    if runs * 4 >= made_for:
        return None
    return (f"{solver.name} makes {runs} network evaluations here, under a quarter of the {made_for} it is made for: "
            f"expect a poor result (its default is --steps {steps})")  # fmt: skip


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
    samples: int | None = None,
    estimate: str | None = None,
    progress_bar: bool = False,
) -> Restoration:
    """Restore a batch of measurements ``y01`` (B, *measurement_shape) of one task with noise ``sigma_y``, both in
    [0, 1] units, one generator per image; the images come back in [0, 1] on the measurements' device.

    ``samples`` draws that many samples of each image in one batch (per-sample generators,
    :func:`sample_generators`) and returns their per-pixel standard deviation; ``estimate`` says which is the
    result, the first sample or the mean of all (the posterior mean: more faithful, less sharp; the default with
    several). Not given: :func:`run_samples` (one; a blind task's held estimate, the mean of several). ``x_init01``
    (images in [0, 1]) starts the chain of a solver that can start from an image (``solver.starts_from_image``). A
    blind task estimates each image's kernel while restoring it (one at a time: each image has its own operator)."""
    samples = run_samples(solver, task.name, task.params, samples, estimate)
    estimate = run_estimate(samples, estimate)
    check_batch(prior, solver, task, op, y01, x_init01, samples, estimate)
    extra: dict[str, Any] = {}
    if x_init01 is not None:
        extra["x_init"] = _to_domain(task, x_init01.to(y01)) * 2 - 1
    if task.is_blind:
        check_solver(solver)
        images, kernels = [], []
        for i, g in enumerate(generators):
            one = {k: v[i : i + 1] for k, v in extra.items()}
            yi, level = y01[i : i + 1], sigma_y
            if task.measures_grey:  # a greyscale photo: its grey in every channel, the colour estimator's measurement,
                # whose one noise, repeated, is sqrt(C) times the noise of the channels' grey coordinate (sum / sqrt(C))
                c = task.image_shape[0]
                yi, level = yi.expand(-1, c, -1, -1), sigma_y * math.sqrt(c)
            x, k = restore_blind(prior, solver, yi, level, task.params["size"], task.params["model"],
                                 solver_args={**(solver_args or {}), **one}, generator=[g], progress_bar=progress_bar,
                                 boundary=task.params.get("boundary", "circular"),
                                 narrow=task.params.get("narrow"), draws=task.params.get("draws", 1),
                                 samples=samples, refits=task.params.get("refits"))  # fmt: skip
            images.append(x)
            kernels.append(k)
        draws = torch.stack(images)
        whole = _pick(draws, estimate)  # the restored domain, which the measurement saw
        narrow = task.params.get("narrow") or 1.0  # the residual under the blur the image was restored with
        blind_op = [task.blur_of(scale_kernel(k, narrow)).to(y01.device, y01.dtype) for k in kernels]
        residual = torch.cat(
            [consistency_residual(o, y01[i : i + 1], whole[i : i + 1]) for i, o in enumerate(blind_op)]
        )
        x01, std = _estimate(task.frame(draws), estimate)  # the result as written, its samples' spread
        return Restoration(x01, torch.stack(kernels), std=std, residual=residual, samples=samples,
                           estimate=estimate)  # fmt: skip
    reps = {k: v.repeat_interleave(samples, 0) for k, v in extra.items()}
    with torch.no_grad():  # gradient methods enable autograd themselves, around the network only
        x = solver.run(
            prior,
            op,
            op.to_model_range(y01).repeat_interleave(samples, 0),
            2 * sigma_y,
            task=task.name,
            generator=sample_generators(generators, samples),
            progress_bar=progress_bar,
            **(solver_args or {}),
            **reps,
        )
    draws = ((x + 1) / 2).clamp(0, 1).reshape(y01.shape[0], samples, *x.shape[1:])
    residual = consistency_residual(op, y01, _pick(draws, estimate))  # the whole domain the measurement saw
    x01, std = _estimate(task.frame(draws), estimate)  # the result as written (a grey photo's grey), its spread
    return Restoration(x01, std=std, residual=residual, samples=samples, estimate=estimate)


def _estimate(draws: Tensor, estimate: str) -> tuple[Tensor, Tensor | None]:
    """``draws`` (B, samples, C, H, W) in [0, 1] -> the result asked for (the first sample or the mean) and, with
    several samples, their per-pixel standard deviation."""
    return _pick(draws, estimate), (draws.std(1) if draws.shape[1] > 1 else None)


def _pick(draws: Tensor, estimate: str) -> Tensor:
    """``draws`` (B, samples, C, H, W) -> the result asked for: the first sample or the mean of all."""
    return draws.mean(1) if estimate == "mean" else draws[:, 0]


def _to_domain(task: TaskSpec, x01: Tensor) -> Tensor:
    """Images in the measurement's frame -> the restored domain (a blur's valid part: the border replicated; a
    greyscale photo's grey result: its channels, grey)."""
    if x01.shape[-3] == 1 < task.image_shape[0]:
        x01 = x01.expand(*x01.shape[:-3], task.image_shape[0], *x01.shape[-2:])
    (h, w), (fh, fw) = task.image_shape[1:], x01.shape[-2:]
    if (fh, fw) == (h, w):
        return x01
    top, left = (h - fh) // 2, (w - fw) // 2
    return torch.nn.functional.pad(x01, (left, w - fw - left, top, h - fh - top), mode="replicate")


def check_batch(prior, solver, task, op, y01, x_init01=None, samples: int = 1, estimate: str = "sample") -> None:  # noqa: ANN001
    """What :func:`restore_batch` refuses before any work: a measurement that does not fit the operator, a prior of
    other channels or of another fixed size, a start image the solver cannot take, samples that do not apply."""
    if tuple(y01.shape[1:]) != tuple(op.measurement_shape):
        raise TaskError(
            f"measurement shape {tuple(y01.shape[1:])} does not fit the task ({tuple(op.measurement_shape)})"
        )
    if getattr(prior, "channels", task.image_shape[0]) != task.image_shape[0]:
        raise TaskError(f"the prior works on {prior.channels}-channel images, the task on {task.image_shape[0]}")
    if getattr(prior, "fixed_size", False) and tuple(prior.image_size) != tuple(task.image_shape[1:]):
        grown = " (a blur's valid part is restored beyond the measurement's frame)" if task.crop else ""
        raise TaskError(f"the prior is defined on {prior.image_size[1]}x{prior.image_size[0]} images, the task restores "
                        f"{task.image_shape[2]}x{task.image_shape[1]}{grown}")  # fmt: skip
    if x_init01 is not None and not solver.starts_from_image:
        raise SolverError(f"solver {solver.name} cannot start from an image")
    check_samples(solver, task, samples, estimate)


def check_samples(solver: SamplerSpec, task: TaskSpec, samples: int, estimate: str) -> None:
    """Refuse, in one line, a number of samples or an estimate that does not apply (checked before any work)."""
    if not (isinstance(samples, int) and samples >= 1):
        raise InputError(f"the number of samples must be an integer >= 1, got {samples!r}")
    if estimate not in ESTIMATES:
        raise InputError(f"the estimate is one of {', '.join(ESTIMATES)}, got {estimate!r}")
    if estimate == "mean" and samples < 2:
        raise InputError("the mean estimate needs several samples (--samples N, N >= 2)")
    if samples > 1 and solver.deterministic:
        raise InputError(f"several samples do not apply to {solver.name}: it draws no noise")


def pinv_image(op: Operator, y01: Tensor) -> Tensor:
    """``H^+ y`` shown as images in [0, 1], computed in the model range (the null space comes out mid-grey)."""
    with torch.no_grad():
        return ((op.pinv(op.to_model_range(y01)) + 1) / 2).clamp(0, 1)
