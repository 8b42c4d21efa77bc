"""The harness's run: protocol -> datasets -> measurements -> methods -> per-image rows -> tables, plots, grids.

Rows are appended to ``RUN_DIR/rows/part-RANK.jsonl`` as each image finishes, so an interrupted run resumes without
redoing a row. A row's id names everything it depends on (dataset, task, sigma_y, method with a hash of its
configuration, steps, seed, image); every image has its own generators, seeded from the seed and the row's names, so
its values do not depend on the batch, the order, or the number of processes (torchrun) that computed it.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..io import remove_stale_temporaries, write_image, write_text
from ..metrics import psnr, ssim
from ..operators import Operator
from ..pipeline import (
    PriorLoader,
    Remedies,
    check_batch,
    check_memory,
    consistency_residual,
    describe_device,
    image_generator,
    restore_batch,
)
from ..pipeline import dist as pdist
from ..samplers import SAMPLERS
from ..tasks import TaskSpec
from .baselines import BASELINES
from .data import check_names, list_dataset, load_image
from .layout import TIMING_FIELDS, append_row, read_rows, safe_name
from .plan import Group, measure, plan, resolved_steps, task_operator, tune_baselines, tuning_key
from .protocol import Protocol, ProtocolError
from .report import write_report

__all__ = ["run_protocol", "read_rows", "Group", "plan", "TIMING_FIELDS", "run_record", "source_commit"]


class _Methods:
    """Runs a group's method on a batch: ``(x01, nfe per image, solver seconds)``."""

    def __init__(self, device: torch.device, tuning: dict[str, float]):
        self.device = device
        self.priors: dict[tuple, PriorLoader] = {}
        self.srldm: dict[str, Any] = {}
        self.tuning = tuning

    def _loader(self, m: Any) -> PriorLoader:
        key = (m.prior.name, m.prior.checkpoint)
        if key not in self.priors:
            self.priors[key] = PriorLoader(m.prior.name, m.prior.checkpoint, device=self.device)
        return self.priors[key]

    def check(self, group: Group, op: Operator, batch: int) -> str | None:
        """What running ``group`` on batches of ``batch`` images would refuse, before the first row: the solver
        against the operator, the prior against the task (channels, a fixed size), the memory estimate."""
        m = group.method
        if m.init is not None:
            self.check(replace(group, method=m.init, steps=resolved_steps(m.init, group.task)[0]), op, batch)
        if m.kind != "solver":
            return None
        spec, shape = SAMPLERS[m.method], tuple(op.input_shape)
        prior = self._loader(m)(shape)
        spec.check_operator(op)
        y = torch.zeros(batch, *op.measurement_shape)
        check_batch(prior, spec, TaskSpec(group.task.name, shape, group.task.params), op, y, None, m.samples,
                    m.estimate)  # fmt: skip
        args = {**m.params, "steps": group.steps}
        words = Remedies(batch="batch_size = {} in the protocol", samples=f"samples = {{}} for method {m.label}",
                         checkpointing=f"params.checkpointing = true for method {m.label}")  # fmt: skip
        return check_memory(prior, spec, shape, batch * m.samples, self.device, args, samples=m.samples, remedies=words)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, group: Group, op: Operator, y01: Tensor, gens: list[torch.Generator]) -> tuple[Tensor, int, float]:
        m, task = group.method, group.task
        y01 = y01.to(self.device)
        x_init01, nfe0, seconds0 = None, 0, 0.0
        if m.init is not None:  # the starting method draws from copies: its part equals its own rows
            first = replace(group, method=m.init, steps=resolved_steps(m.init, task)[0])
            copies = [torch.Generator(device=g.device).set_state(g.get_state()) for g in gens]
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
            spec = SAMPLERS[m.method]
            prior = self._loader(m)(op.input_shape)
            args = {**m.params, "steps": group.steps}
            spec_task = TaskSpec(task.name, tuple(op.input_shape), task.params)
            x01 = restore_batch(prior, spec, spec_task, op, y01, group.sigma_y, gens, args, x_init01=x_init01,
                                samples=m.samples, estimate=m.estimate).images  # fmt: skip
            nfe = spec.count_nfe(task=task.name, **args) * m.samples
        self._sync()
        return x01.float(), nfe0 + nfe, seconds0 + time.perf_counter() - t0


def _peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB; the process's peak RSS


@dataclass
class _Datasets:
    """The protocol's images: evaluation and tuning files per dataset, and each file's name in the rows."""

    files: dict[str, list[Path]] = field(default_factory=dict)
    tune: dict[str, list[Path]] = field(default_factory=dict)
    names: dict[str, dict[Path, str]] = field(default_factory=dict)

    @classmethod
    def read(cls, protocol: Protocol, data: dict[str, str], limit: int | None) -> _Datasets:
        unknown = sorted(set(data) - {d.name for d in protocol.datasets})
        if unknown:
            raise ProtocolError(f"--data names no dataset of this protocol: {', '.join(unknown)}")
        out = cls()
        for ds in protocol.datasets:
            out.files[ds.name], out.tune[ds.name] = list_dataset(ds, path=data.get(ds.name))
            if limit is not None:
                out.files[ds.name] = out.files[ds.name][:limit]
            folder = Path(data.get(ds.name, ds.path))
            out.names[ds.name] = check_names(out.files[ds.name], folder, f"dataset {ds.name}")
        return out

    def row_ids(self, g: Group) -> list[str]:
        return [g.row_id(self.names[g.dataset.name][f]) for f in self.files[g.dataset.name]]


def _prepare_folder(protocol: Protocol, run_dir: Path, rank: int) -> None:
    if rank == 0:
        (run_dir / "rows").mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(run_dir)
        write_text(protocol.to_json() + "\n", run_dir / "protocol.json")
    pdist.barrier()
    if not (run_dir / "rows").is_dir():
        raise ProtocolError(f"{run_dir}: the run folder must be shared by all processes")


def _tuning(groups: list[Group], sets: _Datasets, run_dir: Path, rank: int, report: Callable[[str], None]) -> dict:
    """The baselines' tuned weights, from ``tuning.json`` where already chosen, else chosen now (and recorded)."""
    tuning_file = run_dir / "tuning.json"
    known = json.loads(tuning_file.read_text()) if tuning_file.is_file() else {}
    tuning = tune_baselines(groups, sets.tune, known, report if rank == 0 else lambda s: None)
    if rank == 0 and tuning != known:
        write_text(json.dumps(tuning, indent=1, sort_keys=True) + "\n", tuning_file)
    return tuning


class _Batch:
    """One batch of a group's images on this process: measured, restored by the group's method, scored, written."""

    def __init__(self, run: _Runner, g: Group, files: list[Path]):
        self.run, self.g, self.files = run, g, files
        self.names = [run.sets.names[g.dataset.name][f] for f in files]

    def rows(self) -> list[dict]:
        run, g, t_start = self.run, self.g, time.perf_counter()
        xs = [run.image(f, g) for f in self.files]
        shape = tuple(xs[0].shape)
        op, op_dev = run.operator(g, shape)
        ys = torch.stack([measure(op, x, g, n) for x, n in zip(xs, self.names)])  # on the CPU, for every device
        gens = [
            image_generator(g.seed, f"x|{g.dataset.name}|{g.task.label}|{g.sigma_y:g}|{n}", run.device)
            for n in self.names
        ]
        if run.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(run.device)
        x01, nfe, seconds = run.methods.run(g, op_dev, ys, gens)
        x01 = x01.cpu()
        warm = (g.method.label, g.steps, shape) not in run.warmed
        run.warmed.add((g.method.label, g.steps, shape))
        rows = self._score(xs, ys, x01, op, nfe, seconds, warm, _peak_mib(run.device))
        overhead = (time.perf_counter() - t_start - seconds) / len(self.files)
        for row in rows:
            row["overhead_seconds"] = overhead
        return rows

    def _score(self, xs, ys, x01, op, nfe, seconds, warm, peak) -> list[dict]:  # noqa: ANN001
        run, g, metrics = self.run, self.g, self.run.protocol.metrics
        cons = consistency_residual(op, ys, x01) if "consistency" in metrics else None
        lp = _lpips_scores(run.protocol, x01, torch.stack(xs))
        rows = []
        for j, (n, x, xr) in enumerate(zip(self.names, xs, x01)):
            self._write(n, x, xr, op, ys[j : j + 1])
            ok = bool(torch.isfinite(xr).all())
            row = {"id": g.row_id(n), "dataset": g.dataset.name, "image": n, "task": g.task.label, **self.run.weights(g),
                   "sigma_y": g.sigma_y, "method": g.method.label, "steps": g.steps, "seed": g.seed,
                   "config": g.config, "nfe": nfe, "seconds": seconds / len(self.files), "batch": len(self.files),
                   "warmup": warm, "peak_mib": round(peak, 1)}  # fmt: skip
            if "psnr" in metrics:
                row["psnr"] = psnr(xr, x) if ok else float("nan")
            if "ssim" in metrics:
                row["ssim"] = ssim(xr, x) if ok else float("nan")
            if cons is not None:
                row["consistency"] = float(cons[j])
            if lp is not None:
                row["lpips"] = float(lp[j])
            rows.append(row)
        return rows

    def _write(self, name: str, x: Tensor, xr: Tensor, op: Operator, y: Tensor) -> None:
        """The restored image, and once per image and group folder its reference and its measurement."""
        run_dir, g = self.run.run_dir, self.g
        write_image(xr, run_dir / "images" / g.folder / f"{name}.png")
        ref = run_dir / "refs" / safe_name(g.dataset.name) / f"{name}.png"
        if not ref.exists():
            write_image(x, ref)
        meas = run_dir / "measurements" / g.folder.parent / f"{name}.png"
        if not meas.exists():
            shown = BASELINES["measurement"].run(op, y, g.task.name)[0]
            write_image(shown.clamp(0, 1).cpu(), meas)


class _Runner:
    """The state of one process's run: caches of images and operators, the methods, the warm-up bookkeeping."""

    def __init__(self, protocol: Protocol, run_dir: Path, sets: _Datasets, device: torch.device, methods: _Methods):
        self.protocol, self.run_dir, self.sets, self.device = protocol, run_dir, sets, device
        self.methods = methods
        self.record: dict[str, Any] = {}
        self.images: dict[Path, Tensor] = {}
        self.ops: dict[tuple, tuple[Operator, Operator]] = {}
        self.warmed: set[tuple] = set()

    def weights(self, g: Group) -> dict[str, str]:
        """The prior and the identity of its weights a solver group's rows record (none for the baselines)."""
        if g.method.kind != "solver":
            return {}
        p = self.record["priors"][g.method.label]
        return {"prior": p["name"], "weights": p["weights"]}

    def image(self, f: Path, g: Group) -> Tensor:
        if f not in self.images:
            self.images[f] = load_image(f, g.dataset)
        return self.images[f]

    def operator(self, g: Group, shape: tuple[int, int, int]) -> tuple[Operator, Operator]:
        """The task's operator on the CPU (measurements and scores, the same on every device) and on the device."""
        key = (g.task.label, shape, g.seed)
        if key not in self.ops:
            cpu = task_operator(g.task, shape, g.seed)
            self.ops[key] = (
                cpu,
                cpu if self.device.type == "cpu" else task_operator(g.task, shape, g.seed).to(self.device),
            )
        return self.ops[key]


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
    rank: int = 0,
    world_size: int = 1,
) -> list[dict]:
    """Run (or resume) a protocol into ``run_dir``; returns the rows of the protocol (rank 0; others: their own).

    ``data`` maps a dataset name to a folder replacing the protocol's; ``limit`` caps the evaluation images per
    dataset (for a quick look). ``rank`` and ``world_size``: this process's share of the images when several
    processes run the protocol together (the command line passes torchrun's; the process group, if any, is joined
    by the caller)."""
    from tqdm.auto import tqdm

    device, run_dir = torch.device(device), Path(run_dir)
    sets = _Datasets.read(protocol, data or {}, limit)
    _check_folders(protocol, sets, run_dir, data or {})
    groups = plan(protocol, sets.files)
    record = run_record(protocol, device)
    _check_resume(run_dir, record)
    methods = _check_before_rows(protocol, sets, groups, device, report)
    _prepare_folder(protocol, run_dir, rank)
    if rank == 0:
        write_text(json.dumps(record, indent=1) + "\n", run_dir / "run.json")
    done = read_rows(run_dir)
    methods.tuning = _tuning(groups, sets, run_dir, rank, report)
    runner = _Runner(protocol, run_dir, sets, device, methods)
    runner.record = record
    work = []  # (group, [files of this process still to do])
    for g in groups:
        files = sets.files[g.dataset.name]
        mine = [f for f in pdist.shard(files, rank, world_size) if g.row_id(sets.names[g.dataset.name][f]) not in done]
        if mine:
            work.append((g, mine))
    if rank == 0:
        finished = sum(1 for g in groups for i in sets.row_ids(g) if i in done)
        report(f"bench {protocol.name}: {len(groups)} groups, {sum(len(sets.row_ids(g)) for g in groups)} rows "
               f"({finished} done before), {world_size} process(es), device {device}")  # fmt: skip
    part = run_dir / "rows" / f"part-{rank}.jsonl"
    new_rows = []
    total = sum(len(m) for _, m in work)
    bar = tqdm(total=total, desc="rows", disable=not progress_bar or total < 2)
    for g, mine in work:
        bar.set_description(f"{g.task.label} sy{g.sigma_y:g} {g.method.label}")
        for i in range(0, len(mine), protocol.batch_size):
            for row in _Batch(runner, g, mine[i : i + protocol.batch_size]).rows():
                append_row(part, row)
                new_rows.append(row)
            bar.update(len(mine[i : i + protocol.batch_size]))
    bar.close()
    return _merge(protocol, groups, sets, run_dir, new_rows, rank, device, report, summarise)


def run_record(protocol: Protocol, device: torch.device) -> dict[str, Any]:
    """How a run is made (``run.json``): each solver's prior and the identity of its weights
    (:func:`~ddrm.checkpoints.weights_identity`), the package version and git commit, torch and the device."""
    from ..checkpoints import weights_identity

    priors = {}
    for m in protocol.methods:
        for entry in (m, m.init):
            if entry is not None and entry.kind == "solver":
                p = entry.prior
                priors[entry.label] = {"name": p.name, "checkpoint": p.checkpoint,
                                       "weights": weights_identity(p.name, p.checkpoint)}  # fmt: skip
    return {"priors": priors, "ddrm": _version(), "commit": source_commit(), "torch": torch.__version__,
            "device": describe_device(device).removeprefix("device: ")}  # fmt: skip


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ddrm")
    except PackageNotFoundError:
        return "unknown"


def source_commit() -> str | None:
    """``git describe --always --dirty --abbrev=40`` of the package's checkout (``None`` for an installed package)."""
    import subprocess

    root = Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return None
    cmd = ["git", "describe", "--always", "--dirty", "--abbrev=40"]
    try:
        return subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _check_resume(run_dir: Path, record: dict[str, Any]) -> None:
    """A run folder resumes only with the priors and weights it was started with (rows of two priors never mix)."""
    try:
        before = json.loads((run_dir / "run.json").read_text())["priors"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    for label, now in record["priors"].items():
        was = before.get(label)
        if was is not None and (was.get("name"), was.get("weights")) != (now["name"], now["weights"]):
            raise ProtocolError(
                f"{run_dir}: method {label} was run with prior {was.get('name')} (weights {str(was.get('weights'))[:16]}"
                f"...), this run has {now['name']} ({now['weights'][:16]}...); choose another run folder"
            )


def _check_folders(protocol: Protocol, sets: _Datasets, run_dir: Path, data: dict[str, str]) -> None:
    """Refuse a run folder inside a dataset's folder (a second run would read the first one's outputs as images),
    or a dataset inside the run folder."""
    run = run_dir.resolve()
    for ds in protocol.datasets:
        folders = [Path(data.get(ds.name, ds.path))] + ([Path(ds.tune_path)] if ds.tune_path else [])
        for folder in (f.resolve() for f in folders):
            if run == folder or folder in run.parents:
                raise ProtocolError(
                    f"{run_dir}: the run folder lies inside dataset {ds.name}'s folder {folder}, whose images it would "
                    "then include; choose a run folder outside it"
                )
            if run in folder.parents:
                raise ProtocolError(f"{run_dir}: the run folder holds dataset {ds.name}'s folder; choose another")


def _check_before_rows(protocol: Protocol, sets: _Datasets, groups: list[Group], device: torch.device,
                       report: Callable[[str], None]) -> _Methods:  # fmt: skip
    """Every image decoded and sized, and every group's method checked against its task, its prior and the memory,
    before the first row is written (a broken image or an impossible pairing is refused up front)."""
    for ds in protocol.datasets:
        for f in [*sets.files[ds.name], *sets.tune[ds.name]]:
            load_image(f, ds)
    methods = _Methods(device, {})
    notes = set()
    for g in groups:
        shape = (1 if g.dataset.grey else 3, g.dataset.size, g.dataset.size)
        n = min(protocol.batch_size, len(sets.files[g.dataset.name]))
        notes.add(methods.check(g, task_operator(g.task, shape, g.seed), n))
    for note in sorted(n for n in notes if n is not None):
        report(f"warning: {note}")
    return methods


def _merge(protocol: Protocol, groups: list[Group], sets: _Datasets, run_dir: Path, new_rows: list[dict], rank: int,
           device: torch.device, report: Callable[[str], None], summarise: bool) -> list[dict]:  # fmt: skip
    """Rank 0 gathers every process's rows, writes ``rows.jsonl`` and the report; returns the protocol's rows."""
    gathered = pdist.gather(new_rows)
    pdist.barrier()
    if rank != 0:
        return new_rows
    all_rows = read_rows(run_dir)
    for rows in gathered:
        for row in rows:
            all_rows[row["id"]] = row
    result = [all_rows[i] for g in groups for i in sets.row_ids(g) if i in all_rows]
    write_text(
        "".join(json.dumps(r, sort_keys=True) + "\n" for r in sorted(all_rows.values(), key=lambda r: r["id"])),
        run_dir / "rows.jsonl",
    )
    if summarise:
        write_report(protocol, groups, result, run_dir, report=report, device=device)
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
