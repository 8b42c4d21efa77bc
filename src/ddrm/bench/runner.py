"""The harness's run: protocol -> datasets -> measurements -> methods -> per-image rows -> tables, plots, grids.

Rows are appended to ``RUN_DIR/rows/part-RANK.jsonl`` as each image finishes, so an interrupted run resumes without
redoing a row. A row's id names everything it depends on (dataset, task, sigma_y, method with a hash of its
configuration, steps, seed, image); every image has its own generators, seeded from the seed and the row's names, so
its values do not depend on the batch, the order, or the number of processes (torchrun) that computed it.
"""

from __future__ import annotations

import json
import os
import resource
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..io import remove_stale_temporaries, write_image, write_text
from ..metrics import consistency, psnr, ssim
from ..operators import SVDOperator
from ..restore import PriorLoader, image_generator
from ..tasks import make_task
from . import dist
from .baselines import BASELINES
from .data import image_name, list_dataset, load_image
from .protocol import DatasetSpec, MethodEntry, Protocol, ProtocolError, TaskEntry

__all__ = ["run_protocol", "read_rows", "Group", "plan", "TIMING_FIELDS"]

TIMING_FIELDS = ("seconds", "overhead_seconds", "peak_mib", "warmup", "batch")


def _hash(*objs: Any) -> str:
    text = json.dumps([asdict(o) if hasattr(o, "__dataclass_fields__") else o for o in objs], sort_keys=True)
    return f"{zlib.crc32(text.encode()):08x}"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in text)


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
        return _hash(self.dataset, self.task, self.method)

    def row_id(self, image: str) -> str:
        steps = "-" if self.steps is None else str(self.steps)
        return "|".join(
            [self.dataset.name, self.task.label, f"{self.sigma_y:g}", self.method.label, steps, str(self.seed),
             self.config, image]
        )  # fmt: skip

    @property
    def folder(self) -> Path:
        return row_folder(self.dataset.name, self.task.label, self.sigma_y, self.method.label, self.steps, self.seed)


def row_folder(dataset: str, task: str, sigma_y: float, method: str, steps: int | None, seed: int) -> Path:
    """Where a group's restored images go, under ``RUN_DIR/images``."""
    tail = "" if steps is None else f"_s{steps}"
    return Path(_safe(dataset)) / _safe(f"{task}_sy{sigma_y:g}") / _safe(f"{method}{tail}_seed{seed}")


# ------------------------------------------------------------------------------------------------ methods
def task_operator(task: TaskEntry, shape: tuple[int, int, int], seed: int) -> SVDOperator:
    """The operator of a task: its random choices (mask, kernel, permutation) drawn once per task label and seed."""
    return make_task(task.name, shape, task.params, image_generator(seed, f"task|{task.label}")).operator()


def measure(op: SVDOperator, x01: Tensor, group: Group, image: str) -> Tensor:
    """y = H x + sigma_y z for one image, the same for every method (common random numbers)."""
    g = image_generator(group.seed, f"y|{group.dataset.name}|{group.task.label}|{group.sigma_y:g}|{image}")
    return op.measure(x01[None].to(torch.float32), group.sigma_y, g)[0]


def applies(method: MethodEntry, task: TaskEntry, op: SVDOperator) -> bool:
    if method.tasks is not None and task.label not in method.tasks:
        return False
    if method.init is not None and not applies(method.init, task, op):
        return False
    if method.kind == "solver":
        from ..samplers import SAMPLERS

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
    from ..samplers import SAMPLERS

    rec = SAMPLERS[method.method].defaults(task.name)["steps"]
    return [rec if s is None else s for s in method.steps]


class _Methods:
    """Runs a group's method on a batch: ``(x01, nfe per image, solver seconds)``."""

    def __init__(self, device: torch.device, tuning: dict[str, float]):
        self.device = device
        self.priors: dict[tuple, PriorLoader] = {}
        self.srldm: dict[str, Any] = {}
        self.tuning = tuning

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, group: Group, op: SVDOperator, y01: Tensor, gens: list[torch.Generator]) -> tuple[Tensor, int, float]:
        m, task = group.method, group.task
        y01 = y01.to(self.device)
        x_init01, nfe0, seconds0 = None, 0, 0.0
        if m.init is not None:  # the starting method draws from copies: its part equals its own rows
            first = replace(group, method=m.init, steps=resolved_steps(m.init, task)[0])
            copies = [torch.Generator().set_state(g.get_state()) for g in gens]
            x_init01, nfe0, seconds0 = self.run(first, op, y01, copies)
        self._sync()
        t0 = time.perf_counter()
        if m.kind == "baseline":
            b = BASELINES[m.method]
            params = dict(m.params)
            if b.tuned and b.tuned not in params:
                params[b.tuned] = self.tuning.get(tuning_key(group), b.default)
            with torch.no_grad():
                x01, nfe = b.run(op, y01, task.name, **params).clamp(0, 1), 0
        elif m.kind == "srldm":
            from .srldm import SRLDM

            if m.model not in self.srldm:
                self.srldm[m.model] = SRLDM.load(m.model, device=self.device)
            x01 = self.srldm[m.model].restore(y01, gens, steps=group.steps, **m.params)
            nfe = group.steps
        else:
            from ..restore import restore_batch
            from ..samplers import SAMPLERS
            from ..tasks import TaskSpec

            spec = SAMPLERS[m.method]
            key = (m.prior.name, m.prior.checkpoint)
            if key not in self.priors:
                self.priors[key] = PriorLoader(m.prior.name, m.prior.checkpoint, device=self.device)
            prior = self.priors[key](op.input_shape)
            args = {**m.params, "steps": group.steps}
            spec_task = TaskSpec(task.name, tuple(op.input_shape), task.params)
            x01 = restore_batch(prior, spec, spec_task, op, y01, group.sigma_y, gens, args, x_init01=x_init01)
            nfe = spec.count_nfe(task=task.name, **args)
        self._sync()
        return x01.float(), nfe0 + nfe, seconds0 + time.perf_counter() - t0


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


# ------------------------------------------------------------------------------------------------ rows
def read_rows(run_dir: Path) -> dict[str, dict]:
    """Every finished row of a run folder (part files of all processes and the merged file); a line cut short by
    an interruption is ignored (its image is redone)."""
    rows: dict[str, dict] = {}
    files = [run_dir / "rows.jsonl", *sorted((run_dir / "rows").glob("part-*.jsonl"))]
    for f in files:
        if not f.is_file():
            continue
        for line in f.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "id" in row:
                rows[row["id"]] = row
    return rows


def _append(path: Path, row: dict) -> None:
    line = json.dumps(row, sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB; the process's peak RSS


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


def run_protocol(
    protocol: Protocol,
    run_dir: str | Path,
    *,
    device: str | torch.device = "cpu",
    data: dict[str, str] | None = None,
    limit: int | None = None,
    progress_bar: bool = False,
    report: Callable[[str], None] = print,
    summarise: bool = True,
) -> list[dict]:
    """Run (or resume) a protocol into ``run_dir``; returns the rows of the protocol (rank 0; others: their own).

    ``data`` maps a dataset name to a folder replacing the protocol's; ``limit`` caps the evaluation images per
    dataset (for a quick look)."""
    from tqdm.auto import tqdm

    device = dist.local_device(torch.device(device))
    dist.init(device)
    rank, size = dist.world()
    run_dir = Path(run_dir)
    data = data or {}
    unknown = sorted(set(data) - {d.name for d in protocol.datasets})
    if unknown:
        raise ProtocolError(f"--data names no dataset of this protocol: {', '.join(unknown)}")
    files: dict[str, list[Path]] = {}
    tune_files: dict[str, list[Path]] = {}
    folders: dict[str, Path] = {}
    for ds in protocol.datasets:
        files[ds.name], tune_files[ds.name] = list_dataset(ds, path=data.get(ds.name))
        if limit is not None:
            files[ds.name] = files[ds.name][:limit]
        folders[ds.name] = Path(data.get(ds.name, ds.path))
    groups = plan(protocol, files)
    if rank == 0:
        (run_dir / "rows").mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(run_dir)
        write_text(protocol.to_json() + "\n", run_dir / "protocol.json")
    dist.barrier()
    if not (run_dir / "rows").is_dir():
        raise ProtocolError(f"{run_dir}: the run folder must be shared by all processes")
    done = read_rows(run_dir)
    tuning_file = run_dir / "tuning.json"
    known = json.loads(tuning_file.read_text()) if tuning_file.is_file() else {}
    tuning = tune_baselines(groups, tune_files, known, report if rank == 0 else lambda s: None)
    if rank == 0 and tuning != known:
        write_text(json.dumps(tuning, indent=1, sort_keys=True) + "\n", tuning_file)

    names = {ds: {f: image_name(f, folders[ds]) for f in fs} for ds, fs in files.items()}
    work = []  # (group, [files of this process still to do])
    for g in groups:
        mine = [
            f for f in dist.shard(files[g.dataset.name], rank, size) if g.row_id(names[g.dataset.name][f]) not in done
        ]
        if mine:
            work.append((g, mine))
    total = sum(len(m) for _, m in work)
    n_all = sum(len(files[g.dataset.name]) for g in groups)
    if rank == 0:
        finished = sum(1 for g in groups for f in files[g.dataset.name] if g.row_id(names[g.dataset.name][f]) in done)
        report(
            f"bench {protocol.name}: {len(groups)} groups, {n_all} rows ({finished} done before), "
            f"{size} process(es), device {device}"
        )
    part = run_dir / "rows" / f"part-{rank}.jsonl"
    methods = _Methods(device, tuning)
    images: dict[Path, Tensor] = {}
    ops: dict[tuple, SVDOperator] = {}
    warmed: set[tuple] = set()
    new_rows = []
    bar = tqdm(total=total, desc="rows", disable=not progress_bar or total < 2)
    for g, mine in work:
        bar.set_description(f"{g.task.label} sy{g.sigma_y:g} {g.method.label}")
        for i in range(0, len(mine), protocol.batch_size):
            t_start = time.perf_counter()
            batch = mine[i : i + protocol.batch_size]
            xs = []
            for f in batch:
                if f not in images:
                    images[f] = load_image(f, g.dataset)
                xs.append(images[f])
            shape = tuple(xs[0].shape)
            okey = (g.task.label, shape, g.seed)
            if okey not in ops:
                ops[okey] = task_operator(g.task, shape, g.seed).to(device)
            op = ops[okey]
            img_names = [names[g.dataset.name][f] for f in batch]
            ys = torch.stack([measure(op, x, g, n) for x, n in zip(xs, img_names)])
            gens = [image_generator(g.seed, f"x|{g.dataset.name}|{g.task.label}|{g.sigma_y:g}|{n}") for n in img_names]
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            x01, nfe, seconds = methods.run(g, op, ys, gens)
            x01 = x01.cpu()
            wkey = (g.method.label, g.steps, shape)
            warm = wkey not in warmed
            warmed.add(wkey)
            peak = _peak_mib(device)
            cons = consistency(op.cpu(), x01, ys) if "consistency" in protocol.metrics else None
            rows = []
            for j, (n, x, xr) in enumerate(zip(img_names, xs, x01)):
                write_image(xr, run_dir / "images" / g.folder / f"{n}.png")
                ref = run_dir / "refs" / _safe(g.dataset.name) / f"{n}.png"
                if not ref.exists():
                    write_image(x, ref)
                meas = run_dir / "measurements" / g.folder.parent / f"{n}.png"
                if not meas.exists():
                    shown = BASELINES["measurement"].run(op, ys[j : j + 1].to(device), g.task.name)[0]
                    write_image(shown.clamp(0, 1).cpu(), meas)
                ok = bool(torch.isfinite(xr).all())
                row = {
                    "id": g.row_id(n),
                    "dataset": g.dataset.name,
                    "image": n,
                    "task": g.task.label,
                    "sigma_y": g.sigma_y,
                    "method": g.method.label,
                    "steps": g.steps,
                    "seed": g.seed,
                    "config": g.config,
                    "nfe": nfe,
                    "seconds": seconds / len(batch),
                    "batch": len(batch),
                    "warmup": warm,
                    "peak_mib": round(peak, 1),
                }
                if "psnr" in protocol.metrics:
                    row["psnr"] = psnr(xr, x) if ok else float("nan")
                if "ssim" in protocol.metrics:
                    row["ssim"] = ssim(xr, x) if ok else float("nan")
                if cons is not None:
                    row["consistency"] = float(cons[j])
                rows.append(row)
            lp = _lpips_scores(protocol, x01, torch.stack(xs))
            overhead = (time.perf_counter() - t_start - seconds) / len(batch)
            for j, row in enumerate(rows):
                if lp is not None:
                    row["lpips"] = float(lp[j])
                row["overhead_seconds"] = overhead
                _append(part, row)
                new_rows.append(row)
            bar.update(len(batch))
    bar.close()
    gathered = dist.gather(new_rows)
    dist.barrier()
    if rank != 0:
        dist.finish()
        return new_rows
    all_rows = read_rows(run_dir)
    for rows in gathered:
        for row in rows:
            all_rows[row["id"]] = row
    wanted = [g.row_id(names[g.dataset.name][f]) for g in groups for f in files[g.dataset.name]]
    result = [all_rows[i] for i in wanted if i in all_rows]
    write_text(
        "".join(json.dumps(r, sort_keys=True) + "\n" for r in sorted(all_rows.values(), key=lambda r: r["id"])),
        run_dir / "rows.jsonl",
    )
    if summarise:
        from .report import write_report

        write_report(protocol, groups, result, run_dir, report=report, device=device)
    dist.finish()
    return result


_LPIPS: dict = {}


def _lpips_scores(protocol: Protocol, x01: Tensor, ref: Tensor) -> Tensor | None:
    if "lpips" not in protocol.metrics:
        return None
    from .perceptual import lpips_model

    model = lpips_model()
    if model is None:
        return None
    with torch.no_grad():
        return model(x01, ref).cpu()
