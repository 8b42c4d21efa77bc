"""Restoring files: the one path every front end takes for measurements on disk (``ddrm restore`` for images,
folders, blind deblurring and the frames of a clip; the web app; the demo).

Every kind of job gets the same guarantees: every input and operator checked and the memory estimate made before the
first output is written, batches formed over all jobs (so a resumed run writes the very bytes of an uninterrupted
one), atomic writes, temporaries a killed run left removed, and per-image generators (a result does not depend on the
batch, the resume, or the number of processes sharing the work).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import InputError, TaskError
from ..io import array_writer, image_writer, remove_stale_temporaries, text_writer, turn_upright, write_together
from ..metrics import psnr, ssim
from ..operators import Operator
from ..priors import Prior
from ..samplers import SamplerSpec
from ..tasks import TaskSpec
from .batch import (
    Restoration,
    check_samples,
    consistency_warning,
    image_generator,
    noise_scale,
    pinv_image,
    restore_batch,
    run_estimate,
    run_samples,
    run_steps,
    step_warning,
)
from .blind import check_solver
from .dist import shard as shard_items
from .memory import check_memory
from .outputs import STD_PICTURE_SCALE, grid_image, grid_path, kernel_paths, measurement_view, result_path, std_paths

__all__ = ["RestoreJob", "job_outputs", "job_samples", "run_restore", "check_restore", "result_record"]


@dataclass
class RestoreJob:
    """One measurement to restore: where it comes from and goes, its task and noise level ([0, 1] units).

    Its kind follows from what it carries: an image; a blind deblurring (``task.is_blind``: the kernel is estimated
    while restoring and written beside the result); a frame of a clip (``seed_name`` names the generator, shared by
    the frames of a clip to share their noise; ``x_init01`` an image the chain starts from, a warm start)."""

    source: Path
    target: Path
    y01: Tensor
    task: TaskSpec
    sigma_y: float
    seed_name: str | None = None
    x_init01: Tensor | None = None
    sigma_y_from: str = "given"  # or "sidecar", or "estimated" (from the measurement itself)
    icc_profile: bytes | None = None  # the measurement file's colour profile, embedded in the result
    # the measurement file's EXIF orientation where it is restored on its stored grid (a JPEG's blocks are on that
    # grid): the result and the grid are written turned by it, as viewers show the file (1: as restored)
    orientation: int = 1

    @property
    def kind(self) -> str:
        """``"blind"``, ``"frame"`` or ``"image"``."""
        return "blind" if self.task.is_blind else "frame" if self.seed_name is not None else "image"


def job_outputs(job: RestoreJob, save_grid: bool = False, samples: int = 1) -> list[Path]:
    """Every file restoring ``job`` writes: the result and its record, a blind job's kernel files, the spread of
    several samples (``samples``: the count the run draws, :func:`job_samples`), the grid."""
    return [job.target, result_path(job.target), *(kernel_paths(job.target) if job.task.is_blind else ()),
            *(std_paths(job.target) if samples > 1 else ()), *([grid_path(job.target)] if save_grid else [])]  # fmt: skip


def job_samples(job: RestoreJob, solver: SamplerSpec, samples: int | None = None, estimate: str | None = None) -> int:
    """The samples restoring ``job`` draws with ``solver`` when the run asks for ``samples`` / ``estimate`` (``None``:
    the task's default, :func:`~ddrm.pipeline.run_samples`)."""
    return run_samples(solver, job.task.name, job.task.params, samples, estimate)


def _batches(jobs: Sequence[RestoreJob], batch_size: int) -> list[list[RestoreJob]]:
    """Consecutive jobs sharing an operator and a noise level, up to ``batch_size`` each; a blind job alone (each has
    its own operator)."""
    keys = [j.task.key() for j in jobs]
    batches, i = [], 0
    while i < len(jobs):
        n = 1
        while (
            not jobs[i].task.is_blind
            and n < batch_size
            and i + n < len(jobs)
            and keys[i + n] == keys[i]
            and jobs[i + n].sigma_y == jobs[i].sigma_y
        ):
            n += 1
        batches.append(list(jobs[i : i + n]))
        i += n
    return batches


def _check_before_work(
    batches: list[list[RestoreJob]],
    solver: SamplerSpec,
    solver_args: dict[str, Any],
    prior_for: Callable[[tuple[int, int, int]], Prior],
    device: str | torch.device,
    samples: int | None = None,
    estimate: str | None = None,
) -> tuple[dict[str, Operator], str | None]:
    """Each operator built once and checked against the solver (before the prior is loaded), each measurement against
    its operator; then the prior loaded and every batch checked to fit in memory. Returns the operators by task key
    and a warning when the free memory cannot be known."""
    notes = []
    # one image of each size before anything is built (an image too large to build its operator or prior); the
    # batches are checked with the prior below, which also says which --batch-size fits
    sizes = {(b[0].task.image_shape, b[0].task.is_blind, job_samples(b[0], solver, samples, estimate)) for b in batches}
    for shape, blind, n in sorted(sizes, key=lambda s: -s[0][0] * s[0][1] * s[0][2]):
        notes.append(check_memory(None, solver, shape, n, device, solver_args, blind, n))
    operators: dict[str, Operator] = {}
    for batch in batches:
        key = batch[0].task.key()
        if key not in operators:
            operators[key] = op = batch[0].task.operator()
            solver.check_operator(op)
            if batch[0].task.is_blind:
                check_solver(solver)
        for job in batch:
            if tuple(job.y01.shape) != tuple(operators[key].measurement_shape):
                raise TaskError(
                    f"{job.source}: measurement shape {tuple(job.y01.shape)} does not fit the task "
                    f"({tuple(operators[key].measurement_shape)})"
                )
            if (job.x_init01 is None) != (batch[0].x_init01 is None):
                raise InputError("a batch mixes jobs with and without a starting image; restore them apart")
    for batch in {(b[0].task.key(), len(b)): b for b in batches}.values():
        task = batch[0].task
        n = job_samples(batch[0], solver, samples, estimate)
        notes.append(check_memory(prior_for(task.image_shape), solver, task.image_shape, len(batch) * n, device,
                                  solver_args, task.is_blind, n))  # fmt: skip
    return operators, next((n for n in notes if n is not None), None)


@dataclass(frozen=True)
class _Written:
    """What a run records beside each result (``NAME.result.json``)."""

    solver: SamplerSpec
    solver_args: dict[str, Any]
    seed: int
    prior: str | None
    save_grid: bool
    device: str | torch.device


def _write(job: RestoreJob, res: Restoration, i: int, op: Operator, reference: Tensor | None, how: _Written) -> dict:
    """The result of one job and its record, a blind job's kernel (array and picture), the spread of several samples
    (array and picture), and the grid (measurement | pseudo-inverse | restored | reference; for a blind job the
    pseudo-inverse of the estimated blur). Returns the record."""
    x01, y01 = res.images[i].cpu(), job.y01
    files: list[tuple[Path, Callable[[Path], None]]] = []
    if res.kernels is not None:
        kernel = res.kernels[i].cpu()
        npy, png = kernel_paths(job.target)
        files += [(npy, array_writer(kernel.float())), (png, image_writer((kernel / kernel.max())[None].float(), png))]
        op = job.task.blur_of(kernel)
    if res.std is not None:
        npy, png = std_paths(job.target)
        std = turn_upright(res.std[i].cpu(), job.orientation)  # beside the result, as it is written
        picture = (std.mean(0, keepdim=True) * STD_PICTURE_SCALE).clamp(0, 1)
        files += [(npy, array_writer(std.float())), (png, image_writer(picture, png))]
    pinv = None
    if how.save_grid or reference is not None:
        pinv = job.task.frame(pinv_image(op.to(how.device), y01[None].to(how.device))[0].cpu())
    if how.save_grid:
        panels = [measurement_view(op, y01, tuple(x01.shape)), pinv, x01] + ([reference] if reference is not None else [])  # fmt: skip
        panels = [turn_upright(p, job.orientation) for p in panels]
        captions = ["measurement", "pseudo-inverse", "restored", "reference"][: len(panels)]
        files.append((grid_path(job.target), image_writer(grid_image(panels, captions), grid_path(job.target))))
    record = result_record(job, res, i, how, reference, noise_scale(op, job.sigma_y))
    if reference is not None:  # the baseline beside the score: the measurement's pseudo-inverse
        record.update(psnr_pinv=psnr(pinv, reference), ssim_pinv=ssim(pinv, reference))
    files.append((result_path(job.target), text_writer(json.dumps(record, indent=1) + "\n")))
    # one unit, the result last: a resumed run redoes a result that is missing, so its files are all or none
    result = image_writer(turn_upright(x01, job.orientation), job.target, icc_profile=job.icc_profile)
    write_together([*files, (job.target, result)])
    return record


def result_record(
    job: RestoreJob, res: Restoration, i: int, how: _Written, reference: Tensor | None, scale: float
) -> dict:
    """How a result was made and how well it explains its measurement: the consistency residual
    ``||y - H x|| / sqrt(m)`` in [0, 1] units and its ratio to ``sigma_y`` (about 1 for a result that explains the
    measurement up to its noise)."""
    residual = float(res.residual[i])
    record: dict[str, Any] = {
        "ddrm_result": 1,
        "source": job.source.name,
        "task": job.task.name,
        "task_params": {k: v for k, v in job.task.params.items() if not isinstance(v, Tensor)},
        "image_shape": list(job.task.image_shape),
        "sigma_y": job.sigma_y,
        "sigma_y_from": job.sigma_y_from,
        "solver": how.solver.name,
        "solver_args": {k: v for k, v in sorted(how.solver_args.items()) if isinstance(v, (int, float, str, bool))},
        "steps": run_steps(how.solver, how.solver_args, job.task.name, job.task.params),  # given or the default
        "seed": how.seed,
        "prior": how.prior,
        "samples": res.samples,
        "estimate": res.estimate,
        "residual": residual,
        "noise_scale": scale,  # what the residual should be near: sigma_y (JPEG: its quantisation noise)
        "residual_ratio": residual / scale if scale > 0 else None,
    }
    if job.orientation != 1:  # the result is written turned; image_shape and the scores are the stored grid's
        record["exif_orientation"] = job.orientation
    if reference is not None:
        x01 = res.images[i].cpu()
        record.update(psnr=psnr(x01, reference), ssim=ssim(x01, reference))
    return record


def _planned(jobs, solver, solver_args, prior_for, batch_size, device, only, samples, estimate, shard):  # noqa: ANN001, ANN202
    """This process's batches (those holding a job of ``only``) and their operators, every check made."""
    batches = [
        b for b in shard_items(_batches(jobs, batch_size), *shard) if only is None or any(j.source in only for j in b)
    ]
    for job in {b[0].task.key(): b[0] for b in batches}.values():
        n = job_samples(job, solver, samples, estimate)
        check_samples(solver, job.task, n, run_estimate(n, estimate))
    return batches, *_check_before_work(batches, solver, solver_args, prior_for, device, samples, estimate)


def check_restore(
    jobs: list[RestoreJob],
    solver: SamplerSpec,
    solver_args: dict[str, Any],
    prior_for: Callable[[tuple[int, int, int]], Prior],
    *,
    batch_size: int = 4,
    device: str | torch.device = "cpu",
    samples: int | None = None,
    estimate: str | None = None,
) -> str | None:
    """Every check :func:`run_restore` makes before its first output (operators against the solver, measurements
    against their operators, samples, the memory estimate), for a front end that writes files of its own first
    (the demo writes the photo and its measurement): check, then write, then restore. Returns a warning line when
    the free memory cannot be known."""
    return _planned(jobs, solver, solver_args, prior_for, batch_size, device, None, samples, estimate, (0, 1))[2]


def run_restore(
    jobs: list[RestoreJob],
    solver: SamplerSpec,
    solver_args: dict[str, Any],
    prior_for: Callable[[tuple[int, int, int]], Prior],
    *,
    seed: int = 0,
    batch_size: int = 4,
    device: str | torch.device = "cpu",
    only: set[Path] | None = None,
    references: dict[Path, Tensor] | None = None,
    save_grid: bool = False,
    samples: int | None = None,
    estimate: str | None = None,
    progress_bar: bool = False,
    report: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
    on_start: Callable[[], None] | None = None,
    shard: tuple[int, int] = (0, 1),
) -> list[dict]:
    """Restore the jobs and write their outputs: each result, its record (``NAME.result.json``: settings, the
    consistency residual, scores), and what the options ask for (grids, the spread of ``samples``). Returns the
    records of the jobs written.

    Batches are formed over all ``jobs`` (:func:`_batches`). With ``only``, just those sources are written, but a
    batch holding some of them is computed whole, so a resumed run gives the very bytes of an uninterrupted one
    (batched network calls may round differently from single ones). ``shard = (rank, world)``: this process takes
    every world-th batch, counted over all jobs (the caller says; under torchrun the command line passes the
    process's rank). ``samples`` / ``estimate``: see :func:`~ddrm.pipeline.restore_batch` (not given: each task's
    default, :func:`job_samples`; the memory guard counts the samples). ``references`` maps a job's source to its
    clean image: PSNR / SSIM are reported and recorded.
    ``report`` gets a line per result (its consistency, its scores), ``warn`` a line when a result does not explain
    its measurement (:func:`~ddrm.pipeline.consistency_warning`). ``on_start`` is called once every input, operator,
    the prior and the memory estimate have been checked, before the first batch."""
    from tqdm.auto import tqdm

    batches, operators, unknown = _planned(jobs, solver, solver_args, prior_for, batch_size, device, only, samples,
                                           estimate, shard)  # fmt: skip
    wanted = [j for batch in batches for j in batch if only is None or j.source in only]
    for job in wanted:
        for path in job_outputs(job, save_grid, job_samples(job, solver, samples, estimate)):
            remove_stale_temporaries(path)
    few = step_warning(solver, solver_args, *((jobs[0].task.name, jobs[0].task.params) if jobs else ()))
    if few is not None and (warn or report) is not None:
        (warn or report)(few)
    if unknown is not None and (warn or report) is not None:
        (warn or report)(unknown)
    if on_start is not None:
        on_start()
    how = _Written(solver, solver_args, seed, getattr(prior_for, "name", None), save_grid, device)
    records = []
    # the images' bar only over several images (a bar of one image beside its steps' bar says nothing; not even
    # created then: a disabled bar still shows in trackers such as the web page's)
    bar = tqdm(total=len(wanted), desc="images") if progress_bar and len(wanted) > 1 else None
    for batch in batches:
        task = batch[0].task
        op = operators[task.key()].to(device)
        y01 = torch.stack([b.y01 for b in batch]).to(device)
        gens = [image_generator(seed, b.seed_name or b.source.name, device) for b in batch]
        x_init01 = torch.stack([b.x_init01 for b in batch]).to(device) if batch[0].x_init01 is not None else None
        res = restore_batch(prior_for(task.image_shape), solver, task, op, y01, batch[0].sigma_y, gens, solver_args,
                            x_init01=x_init01, samples=samples, estimate=estimate, progress_bar=progress_bar)  # fmt: skip
        for i, job in enumerate(batch):
            if only is None or job.source in only:
                records.append(_write(job, res, i, op, (references or {}).get(job.source), how))
                _tell(job, records[-1], report, warn)
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    return records


def _tell(
    job: RestoreJob, record: dict, report: Callable[[str], None] | None, warn: Callable[[str], None] | None
) -> None:
    """The result's line (consistency, and scores against a reference) and, when it does not explain its
    measurement, a warning."""
    if report is not None:
        ratio = record["residual_ratio"]
        line = f"{job.source.name}: residual {record['residual']:.4f}" + (
            f" ({ratio:.2f} x the noise)" if ratio is not None else ""
        )
        if "psnr" in record:
            line += f"  PSNR {record['psnr']:.2f} dB  SSIM {record['ssim']:.4f}"
            if "psnr_pinv" in record:
                line += (
                    f"  (pseudo-inverse of the measurement: {record['psnr_pinv']:.2f} dB, {record['ssim_pinv']:.4f})"
                )
        report(line)
    problem = consistency_warning(record["residual"], record["noise_scale"], exact_fit_expected=job.sigma_y == 0)
    if problem is not None and (warn or report) is not None:
        (warn or report)(f"{job.source.name}: {problem}")
