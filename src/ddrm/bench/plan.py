"""A protocol's plan: its groups (the cells of a table), the operator and measurement of each task, which methods
apply, their resolved step counts, and the classical baselines' weights tuned on the tuning split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..metrics import psnr
from ..operators import Operator
from ..pipeline import image_generator
from ..samplers import SAMPLERS
from ..tasks import make_task
from .baselines import BASELINES
from .data import load_image
from .layout import config_hash, row_folder
from .protocol import DatasetSpec, MethodEntry, Protocol, ProtocolError, TaskEntry

__all__ = ["Group", "plan", "task_operator", "measure", "applies", "resolved_steps", "tuning_key", "tune_baselines"]


@dataclass(frozen=True)
class Group:
    """One cell of a table: a method at a step count on a task at a noise level, over one dataset and seed."""

    dataset: DatasetSpec
    task: TaskEntry
    sigma_y: float
    seed: int
    method: MethodEntry
    steps: int | None  # resolved; None for the baselines

    @property
    def config(self) -> str:
        return config_hash(self.dataset, self.task, self.method)

    def row_id(self, image: str) -> str:
        steps = "-" if self.steps is None else str(self.steps)
        return "|".join(
            [self.dataset.name, self.task.label, f"{self.sigma_y:g}", self.method.label, steps, str(self.seed),
             self.config, image]
        )  # fmt: skip

    @property
    def folder(self) -> Path:
        return row_folder(self.dataset.name, self.task.label, self.sigma_y, self.method.label, self.steps, self.seed)


def task_operator(task: TaskEntry, shape: tuple[int, int, int], seed: int) -> Operator:
    """The operator of a task: its random choices (mask, kernel, permutation) drawn once per task label and seed."""
    return make_task(task.name, shape, task.params, image_generator(seed, f"task|{task.label}")).operator()


def measure(op: Operator, x01: Tensor, group: Group, image: str) -> Tensor:
    """y = H x + sigma_y z for one image, the same for every method (common random numbers)."""
    g = image_generator(group.seed, f"y|{group.dataset.name}|{group.task.label}|{group.sigma_y:g}|{image}")
    return op.measure(x01[None].to(torch.float32), group.sigma_y, g)[0]


def applies(method: MethodEntry, task: TaskEntry, op: Operator) -> bool:
    if method.tasks is not None and task.label not in method.tasks:
        return False
    if method.init is not None and not applies(method.init, task, op):
        return False
    if method.kind == "solver":
        ok = SAMPLERS[method.method].accepts(op)
    elif method.kind == "baseline":
        ok = BASELINES[method.method].applies(task.name, task.params)
    else:
        ok = task.name in ("sr", "sr_bicubic") and task.params.get("factor") == 4 and op.input_shape[0] == 3
    if not ok and method.tasks is not None:
        raise ProtocolError(f"method {method.label} does not apply to task {task.label}")
    return ok


def resolved_steps(method: MethodEntry, task: TaskEntry) -> list[int | None]:
    if method.kind == "baseline":
        return [None]
    if method.kind == "srldm":
        return [100 if s is None else s for s in method.steps]
    rec = SAMPLERS[method.method].defaults(task.name)["steps"]
    return [rec if s is None else s for s in method.steps]


def tuning_key(group: Group) -> str:
    return f"{group.dataset.name}|{group.task.label}|{group.sigma_y:g}|{group.method.label}|{group.config}"


def tune_baselines(groups: list[Group], tune_files: dict[str, list[Path]], known: dict[str, float], report) -> dict:
    """Choose each tuned baseline's weight by the best mean PSNR on its dataset's tuning split (never the
    evaluation images); without a split the baseline's default is used and said once."""
    out = dict(known)
    told = set()
    images: dict[str, list[Tensor]] = {}
    for g in groups:
        b = BASELINES.get(g.method.method) if g.method.kind == "baseline" else None
        if b is None or not b.tuned or b.tuned in g.method.params or tuning_key(g) in out:
            continue
        files = tune_files.get(g.dataset.name) or []
        if not files:
            if g.dataset.name not in told:
                report(f"tuning: dataset {g.dataset.name} has no tuning split; classical baselines use their defaults")
                told.add(g.dataset.name)
            continue
        if g.dataset.name not in images:
            images[g.dataset.name] = [load_image(f, g.dataset) for f in files]
        xs = images[g.dataset.name]
        op = task_operator(g.task, tuple(xs[0].shape), g.seed)
        ys = torch.stack([measure(op, x, g, "tune|" + f.name) for x, f in zip(xs, files)])
        best, best_value = -float("inf"), b.default
        for value in b.grid:
            with torch.no_grad():
                out01 = b.run(op, ys, g.task.name, **{**g.method.params, b.tuned: value}).clamp(0, 1)
            score = sum(psnr(o, x) for o, x in zip(out01, xs)) / len(xs)
            if score > best:
                best, best_value = score, value
        out[tuning_key(g)] = best_value
    return out


def plan(protocol: Protocol, files: dict[str, list[Path]]) -> list[Group]:
    """Every group of the protocol, in run order (datasets, tasks, noise levels, seeds, methods, steps)."""
    groups = []
    for ds in protocol.datasets:
        shape = (1 if ds.grey else 3, ds.size, ds.size)
        for task in protocol.tasks:
            for seed in protocol.seeds:
                op = task_operator(task, shape, seed)
                for sigma in task.sigma_y:
                    for m in protocol.methods:
                        if not applies(m, task, op):
                            continue
                        for steps in resolved_steps(m, task):
                            groups.append(Group(ds, task, sigma, seed, m, steps))
    return groups
