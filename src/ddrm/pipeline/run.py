"""Restoring files: the one path every front end takes for measurements on disk (``ddrm restore`` for images,
folders, blind deblurring and the frames of a clip; the web app; the demo).

Every kind of job gets the same guarantees: every input and operator checked and the memory estimate made before the
first output is written, batches formed over all jobs (so a resumed run writes the very bytes of an uninterrupted
one), atomic writes, temporaries a killed run left removed, and per-image generators (a result does not depend on the
batch, the resume, or the number of processes sharing the work).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import InputError, TaskError
from ..io import remove_stale_temporaries, write_array, write_image
from ..metrics import psnr, ssim
from ..operators import CircularConvolution, Operator
from ..priors import Prior
from ..samplers import SamplerSpec
from ..tasks import TaskSpec
from .batch import image_generator, pinv_image, restore_batch
from .blind import check_solver
from .dist import shard as shard_items
from .memory import check_memory
from .outputs import grid_image, grid_path, kernel_paths, measurement_view

__all__ = ["RestoreJob", "job_outputs", "run_restore"]


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

    @property
    def kind(self) -> str:
        """``"blind"``, ``"frame"`` or ``"image"``."""
        return "blind" if self.task.is_blind else "frame" if self.seed_name is not None else "image"


def job_outputs(job: RestoreJob, save_grid: bool = False) -> list[Path]:
    """Every file restoring ``job`` writes: the result, a blind job's kernel files, the grid."""
    return [job.target, *(kernel_paths(job.target) if job.task.is_blind else ()),
            *([grid_path(job.target)] if save_grid else [])]  # fmt: skip


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
) -> dict[str, Operator]:
    """Each operator built once and checked against the solver (before the prior is loaded), each measurement against
    its operator; then the prior loaded and every batch checked to fit in memory. Returns the operators by task key."""
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
        check_memory(prior_for(task.image_shape), solver, task.image_shape, len(batch), device, solver_args)
    return operators


def _write(
    job: RestoreJob,
    x01: Tensor,
    y01: Tensor,
    kernel: Tensor | None,
    op: Operator,
    reference: Tensor | None,
    save_grid: bool,
    device: str | torch.device,
) -> None:
    """The result of one job, a blind job's kernel (array and picture), and the grid (measurement | pseudo-inverse |
    restored | reference; for a blind job the pseudo-inverse of the estimated blur)."""
    if kernel is not None:
        npy, png = kernel_paths(job.target)
        write_array(kernel.float(), npy)
        write_image((kernel / kernel.max())[None].float(), png)
        op = CircularConvolution(job.task.image_shape, kernel, dtype=torch.float32)
    write_image(x01, job.target)
    if save_grid:
        pinv = pinv_image(op.to(device), y01[None].to(device))[0].cpu()
        panels = [measurement_view(op, y01, job.task.image_shape), pinv, x01] + (
            [reference] if reference is not None else []
        )
        write_image(grid_image(panels), grid_path(job.target))


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
    progress_bar: bool = False,
    report: Callable[[str], None] | None = None,
    on_start: Callable[[], None] | None = None,
    shard: tuple[int, int] = (0, 1),
) -> list[tuple[float, float]]:
    """Restore the jobs and write their outputs (and grids); returns (PSNR, SSIM) of each job with a reference.

    Batches are formed over all ``jobs`` (:func:`_batches`). With ``only``, just those sources are written, but a
    batch holding some of them is computed whole, so a resumed run gives the very bytes of an uninterrupted one
    (batched network calls may round differently from single ones). ``shard = (rank, world)``: this process takes
    every world-th batch, counted over all jobs (the caller says; under torchrun the command line passes the
    process's rank). ``references`` maps a job's source to its clean image: PSNR / SSIM are reported and returned.
    ``on_start`` is called once every input, operator, the prior and the memory estimate have been checked, before
    the first batch (the command line prints the device there)."""
    from tqdm.auto import tqdm

    batches = [
        b for b in shard_items(_batches(jobs, batch_size), *shard) if only is None or any(j.source in only for j in b)
    ]
    operators = _check_before_work(batches, solver, solver_args, prior_for, device)
    wanted = [j for batch in batches for j in batch if only is None or j.source in only]
    for job in wanted:
        for path in job_outputs(job, save_grid):
            remove_stale_temporaries(path)
    if on_start is not None:
        on_start()
    scores = []
    bar = tqdm(total=len(wanted), desc="images", disable=not progress_bar or len(wanted) < 2)
    for batch in batches:
        task = batch[0].task
        op = operators[task.key()].to(device)
        y01 = torch.stack([b.y01 for b in batch]).to(device)
        gens = [image_generator(seed, b.seed_name or b.source.name) for b in batch]
        x_init01 = torch.stack([b.x_init01 for b in batch]).to(device) if batch[0].x_init01 is not None else None
        res = restore_batch(prior_for(task.image_shape), solver, task, op, y01, batch[0].sigma_y, gens, solver_args,
                            x_init01=x_init01, progress_bar=progress_bar)  # fmt: skip
        for i, job in enumerate(batch):
            if only is not None and job.source not in only:
                continue
            x01, ref = res.images[i].cpu(), (references or {}).get(job.source)
            kernel = None if res.kernels is None else res.kernels[i].cpu()
            _write(job, x01, job.y01, kernel, op, ref, save_grid, device)
            if ref is not None:
                scores.append((psnr(x01, ref), ssim(x01, ref)))
                if report is not None:
                    report(f"{job.source.name}: PSNR {scores[-1][0]:.2f} dB  SSIM {scores[-1][1]:.4f}")
            bar.update(1)
    bar.close()
    return scores
