"""Benchmark protocols: a TOML file read into checked dataclasses.

A protocol names datasets (image folders, a crop/resize policy, an optional file list, a tuning split), tasks
(operator, parameters, sigma_y with its unit), methods (a diffusion solver with its prior and steps, a classical
baseline, or the supervised SRLDM), seeds and metrics. Every problem is reported as one line naming the key, e.g.
``quick.toml: methods[2].steps: must be a positive integer, "recommended", or a list of them``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from ..errors import ProtocolError
from ..samplers import SAMPLERS
from ..tasks import TaskError, merge_task_params, parse_task
from .baselines import BASELINES

__all__ = [
    "ProtocolError",
    "DatasetSpec",
    "TaskEntry",
    "MethodEntry",
    "PriorEntry",
    "Protocol",
    "load_protocol",
    "shipped_protocols",
    "METRICS",
    "RESIZE_POLICIES",
]

PROTOCOL_DIR = Path(__file__).parent / "protocols"
METRICS = ("psnr", "ssim", "consistency", "lpips", "fid", "kid")
RESIZE_POLICIES = ("center-crop", "crop", "resize")
UNITS = {"[0,1]": 1.0, "[-1,1]": 0.5}  # multiply to get sigma_y in [0, 1] image units


@dataclass(frozen=True)
class DatasetSpec:
    """Images from a folder. ``resize``: ``center-crop`` (largest centred square, resized to ``size``), ``crop``
    (centred ``size`` x ``size`` crop, no resampling), ``resize`` (whole image to ``size`` x ``size``). ``files``: a
    text file listing the images to use (one relative path per line). ``tune``: how many images (the last ones of the
    sorted list) are held out to tune the classical baselines' regularisation, or ``tune_path``, a folder of its own."""

    name: str
    path: str
    size: int = 256
    resize: str = "center-crop"
    files: str | None = None
    limit: int | None = None
    tune: int = 0
    tune_path: str | None = None
    grey: bool = False


@dataclass(frozen=True)
class TaskEntry:
    """A degradation: ``label`` (as in the tables), operator ``name`` and ``params``, noise levels in [0, 1] units."""

    label: str
    name: str
    params: dict
    sigma_y: tuple[float, ...]


@dataclass(frozen=True)
class PriorEntry:
    name: str = "builtin"
    checkpoint: str | None = None


@dataclass(frozen=True)
class MethodEntry:
    """``kind``: ``solver`` (a registered diffusion sampler), ``baseline`` (a classical method) or ``srldm``.
    ``steps``: a list; ``None`` stands for the method's recommended count. ``init``: another method whose output
    starts this solver's chain (``x_init``; e.g. DDRM from an SRLDM result noised to the level ``params.start``)."""

    label: str
    kind: str
    method: str
    steps: tuple[int | None, ...] = (None,)
    params: dict = field(default_factory=dict)
    prior: PriorEntry | None = None
    tasks: tuple[str, ...] | None = None
    model: str | None = None  # SRLDM: hub id or local folder
    init: MethodEntry | None = None
    samples: int = 1  # solvers: samples drawn per image
    estimate: str = "sample"  # solvers: the first sample, or the mean of the samples


@dataclass(frozen=True)
class PublishedEntry:
    """A figure a paper published for a cell of the protocol's table (``method`` and ``task`` labels of the protocol,
    ``sigma_y`` in [0, 1] units): ``values`` by metric (``psnr``, ``ssim``, ``lpips``, ``fid``), and where it comes
    from (``source``: the paper, table and reliability tag)."""

    method: str
    task: str
    sigma_y: float
    values: dict
    source: str


@dataclass(frozen=True)
class Protocol:
    name: str
    description: str
    datasets: tuple[DatasetSpec, ...]
    tasks: tuple[TaskEntry, ...]
    methods: tuple[MethodEntry, ...]
    seeds: tuple[int, ...] = (0,)
    metrics: tuple[str, ...] = ("psnr", "ssim", "consistency")
    batch_size: int = 1
    prior: PriorEntry = PriorEntry()
    grid_images: int = 3
    source: str = ""
    published: tuple[PublishedEntry, ...] = ()

    def to_json(self) -> str:
        """The resolved protocol, as recorded in a run folder (a resumed run must match it)."""
        d = asdict(self)
        d.pop("source")
        return json.dumps(d, sort_keys=True, indent=1)

    def dataset(self, name: str) -> DatasetSpec:
        return next(d for d in self.datasets if d.name == name)


def shipped_protocols() -> dict[str, Path]:
    """The protocols shipped with ddrm, by name (``quick``, ``ddrm_table``, ...)."""
    return {p.stem: p for p in sorted(PROTOCOL_DIR.glob("*.toml"))}


# ------------------------------------------------------------------------------------------------ reading
class _Reader:
    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, msg: str):
        raise ProtocolError(f"{self.where}: {key}: {msg}")

    def table(self, d: Any, key: str, allowed: set[str]) -> dict:
        if not isinstance(d, dict):
            self.fail(key, "must be a table")
        unknown = sorted(set(d) - allowed)
        if unknown:
            self.fail(key, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        return d

    def array(self, data: dict, key: str) -> list:
        raw = data.get(key)
        if not isinstance(raw, list) or not raw:
            self.fail(key, f"must be a non-empty array of tables ([[{key}]])")
        return raw

    def string(self, d: dict, key: str, where: str, default: Any = ..., choices: tuple | None = None) -> Any:
        if key not in d:
            if default is ...:
                self.fail(f"{where}.{key}" if where else key, "is required")
            return default
        v = d[key]
        if not isinstance(v, str) or not v.strip():
            self.fail(f"{where}.{key}" if where else key, "must be a non-empty string")
        if choices is not None and v not in choices:
            self.fail(f"{where}.{key}" if where else key, f"must be one of {', '.join(choices)}, got {v!r}")
        return v

    def integer(self, d: dict, key: str, where: str, default: Any, low: int, high: int = 2**31) -> Any:
        if key not in d:
            return default
        v = d[key]
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            self.fail(f"{where}.{key}" if where else key, f"must be an integer in [{low}, {high}], got {v!r}")
        return v


def _sigma_list(r: _Reader, value: Any, key: str, scale: float) -> tuple[float, ...]:
    values = value if isinstance(value, list) else [value]
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v * scale <= 1:
            r.fail(key, f"must be a number in [0, 1] image units (or a list of them), got {v!r}")
        out.append(float(v) * scale)
    if not out or len(set(out)) != len(out):
        r.fail(key, "must list distinct noise levels")
    return tuple(out)


def _prior(r: _Reader, d: Any, key: str) -> PriorEntry:
    if isinstance(d, str):
        return PriorEntry(d)
    r.table(d, key, {"name", "checkpoint"})
    return PriorEntry(r.string(d, "name", key), r.string(d, "checkpoint", key, None))


def _steps(r: _Reader, value: Any, key: str) -> tuple[int | None, ...]:
    values = value if isinstance(value, list) else [value]
    out = []
    for v in values:
        if v == "recommended":
            out.append(None)
        elif isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 100_000:
            out.append(v)
        else:
            r.fail(key, f'must be a positive integer, "recommended", or a list of them, got {v!r}')
    if not out or len(set(out)) != len(out):
        r.fail(key, "must list distinct step counts")
    return tuple(out)


def _link_inits(r: _Reader, raw: list, methods: list[MethodEntry]) -> list[MethodEntry]:
    """Resolve each ``init = "LABEL"`` to that method's entry (one level: a started method starts nothing)."""
    by_label = {m.label: m for m in methods}
    named = {m.label: raw_m.get("init") for m, raw_m in zip(methods, raw)}
    out = []
    for i, m in enumerate(methods):
        label = named[m.label]
        if label is None:
            out.append(m)
            continue
        key = f"methods[{i}].init"
        if not isinstance(label, str) or label not in by_label or label == m.label:
            r.fail(key, f"must name another method's label ({', '.join(sorted(by_label))})")
        if named[label] is not None:
            r.fail(key, f"{label} is itself started from another method; chains are one level deep")
        if m.kind != "solver" or not SAMPLERS[m.method].starts_from_image:
            r.fail(key, f"{m.method} cannot start from an image (solvers that can: {', '.join(_starters())})")
        first = by_label[label]
        if len(first.steps) != 1:
            r.fail(key, f"the starting method {label} must have a single step count")
        out.append(replace(m, init=first))
    return out


def _starters() -> list[str]:
    return [name for name, spec in SAMPLERS.items() if spec.starts_from_image]


_TOP_KEYS = {"name", "description", "datasets", "tasks", "methods", "seeds", "metrics", "batch_size", "prior",
             "grid_images", "published"}  # fmt: skip
PUBLISHED_METRICS = ("psnr", "ssim", "lpips", "fid")


def parse_protocol(data: dict, where: str = "protocol") -> Protocol:
    """Check a protocol's parsed TOML and resolve it (units converted, task names parsed, methods classified)."""
    r = _Reader(where)
    r.table(data, "protocol", _TOP_KEYS)
    name = r.string(data, "name", "", Path(where).stem)
    description = data.get("description", "")
    if not isinstance(description, str):
        r.fail("description", "must be a string")
    datasets = [_dataset(r, d, f"datasets[{i}]") for i, d in enumerate(r.array(data, "datasets"))]
    if len({d.name for d in datasets}) != len(datasets):
        r.fail("datasets", "names must be distinct")
    tasks = [_task(r, t, f"tasks[{i}]") for i, t in enumerate(r.array(data, "tasks"))]
    if len({t.label for t in tasks}) != len(tasks):
        r.fail("tasks", "labels must be distinct (give 'label' to tell two variants of a task apart)")
    default_prior = _prior(r, data.get("prior", {"name": "builtin"}), "prior")
    raw = r.array(data, "methods")
    labels = {t.label for t in tasks}
    methods = [_method(r, m, f"methods[{i}]", labels, default_prior) for i, m in enumerate(raw)]
    if len({m.label for m in methods}) != len(methods):
        r.fail("methods", "labels must be distinct (give 'label' to tell two variants of a method apart)")
    methods = _link_inits(r, raw, methods)
    seeds, metrics = _seeds(r, data), _metrics(r, data)
    published = [_published(r, p, f"published[{i}]", tasks, methods) for i, p in enumerate(data.get("published", []))]
    return Protocol(
        name=name,
        description=description,
        datasets=tuple(datasets),
        tasks=tuple(tasks),
        methods=tuple(methods),
        seeds=tuple(seeds),
        metrics=tuple(m for m in METRICS if m in metrics),
        batch_size=r.integer(data, "batch_size", "", 1, 1, 4096),
        prior=default_prior,
        grid_images=r.integer(data, "grid_images", "", 3, 0, 64),
        source=where,
        published=tuple(published),
    )


def _published(r: _Reader, p: Any, key: str, tasks: list[TaskEntry], methods: list[MethodEntry]) -> PublishedEntry:
    r.table(p, key, {"method", "task", "sigma_y", "units", "source", *PUBLISHED_METRICS})
    method, task = r.string(p, "method", key), r.string(p, "task", key)
    if method not in {m.label for m in methods}:
        r.fail(f"{key}.method", f"names no method of this protocol: {method!r}")
    entry = next((t for t in tasks if t.label == task), None)
    if entry is None:
        r.fail(f"{key}.task", f"names no task of this protocol: {task!r}")
    units = r.string(p, "units", key, "[0,1]", tuple(UNITS))
    (sigma,) = _sigma_list(r, p.get("sigma_y"), f"{key}.sigma_y", UNITS[units])
    if not any(abs(sigma - s) < 1e-12 for s in entry.sigma_y):
        r.fail(f"{key}.sigma_y", f"task {task} is not run at {sigma:g} ([0, 1] units)")
    values = {}
    for m in PUBLISHED_METRICS:
        if m in p:
            v = p[m]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                r.fail(f"{key}.{m}", f"must be a number, got {v!r}")
            values[m] = float(v)
    if not values:
        r.fail(key, f"gives no figure (one of {', '.join(PUBLISHED_METRICS)})")
    return PublishedEntry(method, task, sigma, values, r.string(p, "source", key))


def _dataset(r: _Reader, d: Any, key: str) -> DatasetSpec:
    r.table(d, key, {"name", "path", "size", "resize", "files", "limit", "tune", "tune_path", "grey"})
    grey = d.get("grey", False)
    if not isinstance(grey, bool):
        r.fail(f"{key}.grey", "must be true or false")
    return DatasetSpec(
        name=r.string(d, "name", key),
        path=r.string(d, "path", key),
        size=r.integer(d, "size", key, 256, 8, 8192),
        resize=r.string(d, "resize", key, "center-crop", RESIZE_POLICIES),
        files=r.string(d, "files", key, None),
        limit=r.integer(d, "limit", key, None, 1),
        tune=r.integer(d, "tune", key, 0, 0),
        tune_path=r.string(d, "tune_path", key, None),
        grey=grey,
    )


def _task(r: _Reader, t: Any, key: str) -> TaskEntry:
    r.table(t, key, {"name", "label", "params", "sigma_y", "units"})
    text = r.string(t, "name", key)
    try:
        op_name, params = parse_task(text)
        params = merge_task_params(
            op_name, params, r.table(t.get("params", {}), f"{key}.params", set(t.get("params", {}) or {}))
        )
    except TaskError as exc:
        r.fail(f"{key}.name", str(exc))
    units = r.string(t, "units", key, "[0,1]", tuple(UNITS))
    if "sigma_y" not in t:
        r.fail(f"{key}.sigma_y", "is required (the measurement noise level, with its unit in 'units')")
    return TaskEntry(
        r.string(t, "label", key, text), op_name, params, _sigma_list(r, t["sigma_y"], f"{key}.sigma_y", UNITS[units])
    )


def _method_kind(r: _Reader, method: str, key: str) -> str:
    if method in SAMPLERS:
        return "solver"
    if method in BASELINES:
        return "baseline"
    if method == "srldm":
        return "srldm"
    r.fail(f"{key}.method", f"unknown method {method!r}; choose from {', '.join([*SAMPLERS, *BASELINES, 'srldm'])}")


def _method_params(r: _Reader, kind: str, method: str, params: dict, key: str) -> None:
    if kind == "solver":
        spec = SAMPLERS[method]
        try:
            for k in params:
                spec.param(k)
            spec.check({**spec.defaults(), **params})
        except (ValueError, KeyError) as exc:
            r.fail(f"{key}.params", " ".join(str(exc).split()))
    elif kind == "baseline":
        allowed = BASELINES[method].params
        bad = sorted(set(params) - set(allowed))
        if bad:
            r.fail(f"{key}.params", f"{method} takes {', '.join(allowed) or 'no parameters'}, not {', '.join(bad)}")
    else:
        bad = sorted(set(params) - {"eta"})
        if bad:
            r.fail(f"{key}.params", f"srldm takes eta, not {', '.join(bad)}")


def _method(r: _Reader, m: Any, key: str, labels: set[str], default_prior: PriorEntry) -> MethodEntry:
    r.table(m, key, {"method", "label", "steps", "params", "prior", "tasks", "model", "init", "samples", "estimate"})
    method = r.string(m, "method", key)
    kind = _method_kind(r, method, key)
    params = r.table(m.get("params", {}), f"{key}.params", set(m.get("params", {}) or {}))
    _method_params(r, kind, method, params, key)
    subset = m.get("tasks")
    if subset is not None:
        if not isinstance(subset, list) or not all(isinstance(s, str) for s in subset):
            r.fail(f"{key}.tasks", "must be a list of task labels")
        missing = sorted(set(subset) - labels)
        if missing:
            r.fail(f"{key}.tasks", f"no task labelled {', '.join(missing)} in this protocol")
        subset = tuple(subset)
    steps = (None,) if kind == "baseline" else _steps(r, m.get("steps", "recommended"), f"{key}.steps")
    if kind == "baseline" and "steps" in m:
        r.fail(f"{key}.steps", f"{method} is not iterative over diffusion steps")
    model = r.string(m, "model", key, "CompVis/ldm-super-resolution-4x-openimages" if kind == "srldm" else None)
    prior = _prior(r, m["prior"], f"{key}.prior") if "prior" in m else (default_prior if kind == "solver" else None)
    samples = r.integer(m, "samples", key, 1, 1, 1024)
    estimate = r.string(m, "estimate", key, "mean" if samples > 1 else "sample", ("sample", "mean"))
    if (samples > 1 or "estimate" in m) and kind != "solver":
        r.fail(f"{key}.samples", f"{method} is not a diffusion solver: it has no samples")
    if estimate == "mean" and samples < 2:
        r.fail(f"{key}.estimate", "the mean needs samples >= 2")
    label = r.string(m, "label", key, method)
    return MethodEntry(label, kind, method, steps, params, prior, subset, model, samples=samples, estimate=estimate)


def _seeds(r: _Reader, data: dict) -> list[int]:
    seeds = data.get("seeds", [0])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**62 for s in seeds)
    ):
        r.fail("seeds", "must be a non-empty list of non-negative integers")
    if len(set(seeds)) != len(seeds):
        r.fail("seeds", "must be distinct")
    return seeds


def _metrics(r: _Reader, data: dict) -> list[str]:
    metrics = data.get("metrics", ["psnr", "ssim", "consistency"])
    if not isinstance(metrics, list) or not metrics or not all(isinstance(s, str) for s in metrics):
        r.fail("metrics", f"must be a list drawn from {', '.join(METRICS)}")
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        r.fail("metrics", f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    return metrics


def load_protocol(path_or_name: str | Path) -> Protocol:
    """Read a protocol file, or a shipped protocol by name (``quick``, ``ddrm_table``, ...)."""
    path = Path(path_or_name)
    shipped = shipped_protocols()
    if not path.exists() and str(path_or_name) in shipped:
        path = shipped[str(path_or_name)]
    if not path.is_file():
        raise ProtocolError(
            f"{path_or_name}: no such protocol file (shipped protocols: {', '.join(shipped) or 'none'})"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ProtocolError(f"{path}: not a text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"{path}: not valid TOML ({exc})") from None
    return parse_protocol(data, path.name)
