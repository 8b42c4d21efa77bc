"""The first run and the web app: a photo degraded, restored and scored, or a measurement in hand restored, end to
end on any machine without a network.

:func:`run_demo` is what ``ddrm demo`` and the web app's "degrade a clean photo" call; :func:`restore_measurement`
is the web app's "restore a degraded image". It goes through the library path every front end shares:
:func:`ddrm.pipeline.degrade_to_files` writes the measurement and its sidecar as ``ddrm degrade`` does, and
:func:`ddrm.pipeline.run_restore` restores it as ``ddrm restore`` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError, SolverError
from ..io import image_orientation, read_image, turn_upright, write_image
from ..operators import OPERATORS, LinearOperator
from ..pipeline import (
    PriorLoader,
    RestoreJob,
    check_outputs,
    check_restore,
    check_writable,
    default_solver,
    degrade_outputs,
    degrade_to_files,
    job_outputs,
    measurement_view,
    pinv_image,
    resolve_device,
    run_restore,
)
from ..samplers import SAMPLERS
from ..tasks import (
    TaskSpec,
    as_grey_reference,
    as_mask,
    as_measurement,
    check_sigma_y,
    clean_photo_task,
    default_sigma_y,
    estimate_sigma_y,
    jpeg_params,
    load_mask,
    make_task,
    merge_task_params,
    parse_task,
    read_measurement,
    spec_for_measurement,
)

__all__ = [
    "EXAMPLE_IMAGE",
    "example_credit",
    "centre_crop",
    "fit_image",
    "run_demo",
    "restore_measurement",
    "DemoResult",
    "BUILTIN_NOTE",
]

EXAMPLE_IMAGE = Path(__file__).parent.parent / "data" / "example.png"

# what the user meets first should say what the built-in prior is, and where the real quality is
BUILTIN_NOTE = (
    "the built-in prior is small (two 2.6M-parameter networks trained on 12 photos on a CPU), for trying ddrm "
    "offline: expect soft detail and painted-looking textures. For real quality use a public checkpoint on a GPU: "
    "'ddrm download adm-imagenet256-uncond', then --prior adm-imagenet256-uncond --device cuda (see 'ddrm models')."
)


def example_credit() -> str:
    """Who made the bundled photo and under which licence (from ``data/example.json``)."""
    meta = json.loads(EXAMPLE_IMAGE.with_suffix(".json").read_text())
    return f"{meta['title']}, {meta['photographer']}; {meta['licence']}"


def centre_crop(x: Tensor, multiple: int) -> Tensor:
    """The largest centred crop of ``x`` (C, H, W) whose sides are multiples of ``multiple``."""
    h, w = (x.shape[-2] // multiple) * multiple, (x.shape[-1] // multiple) * multiple
    if h == 0 or w == 0:
        raise InputError(f"the image ({x.shape[-2]}x{x.shape[-1]}) is smaller than the task's factor {multiple}")
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[..., top : top + h, left : left + w]


def fit_image(x: Tensor, max_side: int | None) -> Tensor:
    """``x`` (C, H, W) in [0, 1] scaled down (antialiased bicubic) so that its longer side is at most ``max_side``."""
    if max_side is None or max(x.shape[-2:]) <= max_side:
        return x
    scale = max_side / max(x.shape[-2:])
    size = (max(1, round(x.shape[-2] * scale)), max(1, round(x.shape[-1] * scale)))
    return F.interpolate(x[None].float(), size=size, mode="bicubic", antialias=True, align_corners=False)[0].clamp(0, 1)


@dataclass(frozen=True)
class DemoResult:
    """What a demo or web-app run wrote (files in its folder) and its scores (``None`` without a reference).

    ``before`` is the measurement drawn at the image's size (the pseudo-inverse when the measurement is not an
    image), the left side of a before/after comparison with ``restored``."""

    measurement: Path
    restored: Path
    grid: Path
    before: Path
    original: Path | None = None
    psnr: float | None = None
    psnr_pinv: float | None = None
    ssim: float | None = None
    residual: float | None = None  # the consistency residual over sigma_y (None without noise)
    sigma_y: float | None = None  # the noise level restored with (given, or estimated from the measurement)


def _photo(image: Path | Tensor | None) -> tuple[Tensor, Path | None]:
    source = EXAMPLE_IMAGE if image is None else image
    if isinstance(source, Tensor):
        return source.float(), None
    return read_image(source, upright=True), Path(source)  # a photo as viewers show it (EXIF orientation)


def run_demo(
    out_dir: Path,
    image: Path | Tensor | None = None,
    task: str = "sr4",
    sigma_y: float | None = None,
    solver: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    prior: str = "builtin",
    checkpoint: str | None = None,
    device: str | torch.device = "auto",
    progress_bar: bool = True,
    report: Callable[[str], None] | None = None,
    on_start: Callable[[], None] | None = None,
    *,
    mask: str | Path | Tensor | None = None,
    kernel: str | Path | Tensor | None = None,
    max_side: int | None = None,
    loader: PriorLoader | None = None,
    samples: int = 1,
    overwrite: bool = False,
) -> DemoResult:
    """Degrade a clean photo ``image`` (a file or a (3, H, W) tensor in [0, 1]; default: the bundled photo) by
    ``task`` with noise ``sigma_y`` ([0, 1] units; default 0.05, JPEG 0), restore it with ``solver`` and the prior, and
    score it. A greyscale photo ((1, H, W)) is measured as ``ddrm degrade`` measures one (its grey,
    :func:`ddrm.tasks.clean_photo_task`) and its result written grey.

    The photo is scaled down to ``max_side`` if larger, then centre-cropped to a multiple of 8 times the task's
    factor; a ``mask`` (white = observed; the photo's size) and a ``kernel`` go through the same steps as
    ``ddrm degrade --mask/--kernel``. ``samples > 1`` restores the mean of that many samples. Writes ``original.png``,
    ``measurement.png`` (+ sidecar), ``restored.png``,
    ``before.png`` and ``restored_grid.png`` (measurement | pseudo-inverse | restored | original) into ``out_dir``.
    ``loader`` reuses a loaded prior (the web app keeps one for all requests).

    Everything is checked before the first file is written (the outputs never replace the photo, the mask or the
    kernel; files in ``out_dir`` that a previous demo did not write are not replaced unless ``overwrite``; the
    restoration fits in memory)."""
    device = resolve_device(device)
    name, params = parse_task(task)
    sigma_y = default_sigma_y(name) if sigma_y is None else sigma_y
    check_sigma_y(name, sigma_y)
    solver = solver or default_solver(name)
    _check_solver(solver)
    x, source = _photo(image)
    params, x = clean_photo_task(name, params, x, source or "image")  # a grey photo: its grey measured
    if mask is not None:
        if name != "inpaint":
            raise InputError(f"a mask does not apply to task {name}")
        m = (as_mask(mask, tuple(x.shape)) if isinstance(mask, Tensor) else load_mask(mask, tuple(x.shape))).float()
        mask = centre_crop(F.interpolate(m[None, None], size=fit_image(x, max_side).shape[-2:], mode="nearest")[0], 8)
    x = centre_crop(fit_image(x, max_side), int(params.get("factor", 1)) * 8)
    g = torch.Generator().manual_seed(seed)
    spec = make_task(name, tuple(x.shape), params, g, mask=mask, kernel=kernel)
    out_dir = Path(out_dir)
    original = out_dir / "original.png"
    jpeg = not issubclass(OPERATORS[name].contract, LinearOperator)
    measurement = out_dir / ("measurement.jpg" if jpeg else "measurement.png")  # JPEG: the real codec
    loader = loader or PriorLoader(prior, checkpoint, device)
    inputs = [Path(p) for p in (source, mask, kernel) if isinstance(p, (str, Path))]
    _check_first(out_dir, measurement, [original, *degrade_outputs(spec, sigma_y, measurement, seed)], inputs, spec,
                 sigma_y, solver, steps, loader, device, samples, overwrite)  # fmt: skip
    truth = spec.frame(x)  # the photo as the result is written (a greyscale photo's grey)
    write_image(truth, original)
    degrade_to_files(x, spec, sigma_y, measurement, g, seed, inputs)
    y = read_measurement(measurement)  # restored from the file, as written (8-bit), like `ddrm restore` does
    res = _restore_and_score(
        out_dir, measurement, y, spec, sigma_y, truth, solver, steps, seed, loader, device, progress_bar, report,
        on_start, samples,
    )  # fmt: skip
    return replace(res, original=original)


def restore_measurement(
    out_dir: Path,
    y01: Tensor,
    task: str,
    sigma_y: float | str,
    solver: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    *,
    mask: str | Path | Tensor | None = None,
    kernel: str | Path | Tensor | None = None,
    reference: Tensor | None = None,
    prior: str = "builtin",
    checkpoint: str | None = None,
    device: str | torch.device = "auto",
    loader: PriorLoader | None = None,
    progress_bar: bool = True,
    report: Callable[[str], None] | None = None,
    on_start: Callable[[], None] | None = None,
    samples: int = 1,
    overwrite: bool = False,
    source: str | Path | None = None,
    task_params: dict | None = None,
) -> DemoResult:
    """Restore a measurement already in hand (an image in [0, 1], e.g. an uploaded low-resolution photo) of ``task``
    with noise ``sigma_y`` ([0, 1] units, or ``"auto"``: estimated from the measurement), as ``ddrm restore --task
    ... --sigma-y ...`` does without a sidecar;
    scored against ``reference`` (the clean image, at the restored size) when given. ``source`` is the file the
    measurement was read from: for ``jpeg`` a JPEG file's own quantisation tables and chroma layout are read from it,
    and ``jpegQF`` is checked against them (:func:`ddrm.tasks.jpeg_params`); ``y01`` is then the file on its stored
    grid (its blocks' grid, :func:`ddrm.io.read_image` without ``upright``), and the images written and ``reference``
    are upright, as viewers show the file (its EXIF orientation). ``task_params``: the task's parameters beyond its
    name (``{"size": 15, "model": "full"}`` for ``deblur_blind``, as ``--kernel-size`` and ``--kernel-model``).
    Writes ``measurement.png``, ``restored.png``, ``before.png`` and ``restored_grid.png`` into ``out_dir``, each
    checked before the first."""
    device = resolve_device(device)
    name, params = parse_task(task)
    params = merge_task_params(name, params, task_params or {})
    orientation = 1
    if name == "jpeg":
        params = jpeg_params(source, params, str(source) if source is not None else "the image")
        orientation = 1 if source is None else image_orientation(source)
        if reference is not None:  # onto the grid the JPEG is restored on
            reference = turn_upright(reference, orientation, back=True)
    check_sigma_y(name, sigma_y)
    y = as_measurement(name, y01.float(), grey_photo=True)  # a grey photo stored as colour: its grey
    spec = spec_for_measurement(name, params, tuple(y.shape), mask=mask, kernel=kernel)
    solver = solver or default_solver(name, spec.params)
    _check_solver(solver)
    if reference is not None and spec.output_shape[0] == 1:  # a grey result: a grey reference
        reference = as_grey_reference(reference)
    if reference is not None and tuple(reference.shape) != tuple(spec.output_shape):
        c, h, w = spec.output_shape
        raise InputError(
            f"the reference is {reference.shape[-1]}x{reference.shape[-2]}, the restored image will be {w}x{h}"
        )
    source = "estimated" if sigma_y == "auto" else "given"  # recorded beside the result, as ddrm restore does
    if sigma_y == "auto":
        sigma_y = estimate_sigma_y(y, spec.name, spec.params.get("mask"))
    out_dir = Path(out_dir)
    measurement = out_dir / "measurement.png"
    loader = loader or PriorLoader(prior, checkpoint, device)
    inputs = [Path(p) for p in (mask, kernel) if isinstance(p, (str, Path))]
    _check_first(out_dir, measurement, [measurement], inputs, spec, sigma_y, solver, steps, loader, device, samples,
                 overwrite)  # fmt: skip
    write_image(turn_upright(y, orientation), measurement)
    return _restore_and_score(
        out_dir, measurement, y, spec, sigma_y, reference, solver, steps, seed, loader, device, progress_bar, report,
        on_start, samples, orientation, source,
    )  # fmt: skip


def _outputs(out_dir: Path, measurement: Path, spec: TaskSpec, sigma_y: float) -> tuple[RestoreJob, list[Path]]:
    """The restoration's job (a stand-in measurement of the right shape) and every file it writes."""
    y = torch.zeros(spec.operator().measurement_shape)
    job = RestoreJob(measurement, out_dir / "restored.png", y, spec, sigma_y)
    return job, [out_dir / "before.png", *job_outputs(job, save_grid=True)]


def _check_first(out_dir: Path, measurement: Path, written: list[Path], inputs: list[Path], spec: TaskSpec, sigma_y: float,
                 solver: str, steps: int | None, loader: PriorLoader, device: torch.device, samples: int,
                 overwrite: bool) -> None:  # fmt: skip
    """Every check before the first file: no output replaces an input; files of the folder that a previous demo
    did not write stay (unless ``overwrite``); the folder is writable; the restoration fits in memory."""
    job, restoring = _outputs(out_dir, measurement, spec, sigma_y)
    outputs = [*written, *restoring]
    check_outputs(outputs, inputs)
    for path in outputs:
        check_writable(path)
    existing = [p for p in outputs if p.exists()]
    if existing and not overwrite and not _previous_demo(out_dir):
        raise InputError(
            f"{existing[0]}: exists, and {out_dir} holds no earlier demo's result; choose another output folder, "
            "or overwrite its files (--overwrite)"
        )
    args = {} if steps is None else {"steps": steps}
    check_restore([job], SAMPLERS[solver], args, loader, device=device, samples=samples,
                  estimate="mean" if samples > 1 else "sample")  # fmt: skip


def _previous_demo(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds an earlier demo's result (its record names the demo's measurement)."""
    try:
        record = json.loads((out_dir / "restored.result.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and str(record.get("source", "")).startswith("measurement.")


def _check_solver(solver: str) -> None:
    if solver not in SAMPLERS:
        raise SolverError(f"unknown solver {solver!r}; choose from {', '.join(SAMPLERS)}")


def _restore_and_score(
    out_dir: Path,
    measurement: Path,
    y: Tensor,
    spec: TaskSpec,
    sigma_y: float,
    reference: Tensor | None,
    solver: str,
    steps: int | None,
    seed: int,
    loader: PriorLoader,
    device: torch.device,
    progress_bar: bool,
    report: Callable[[str], None] | None,
    on_start: Callable[[], None] | None,
    samples: int = 1,
    orientation: int = 1,
    sigma_y_from: str = "given",
) -> DemoResult:
    op = spec.operator()
    pinv = spec.frame(pinv_image(op, y[None])[0])
    before = out_dir / "before.png"
    write_image(turn_upright(pinv if y.ndim != 3 else measurement_view(op, y, spec.output_shape), orientation), before)
    restored = out_dir / "restored.png"
    args = {} if steps is None else {"steps": steps}
    job = RestoreJob(measurement, restored, y, spec, sigma_y, sigma_y_from=sigma_y_from, orientation=orientation)
    refs = {} if reference is None else {measurement: reference}
    (record,) = run_restore(
        [job], SAMPLERS[solver], args, loader, seed=seed, device=device, references=refs, save_grid=True,
        samples=samples, estimate="mean" if samples > 1 else "sample", progress_bar=progress_bar, report=report,
        on_start=on_start,
    )  # fmt: skip
    grid = restored.with_name("restored_grid.png")
    if reference is None:
        return DemoResult(measurement, restored, grid, before, residual=record["residual_ratio"], sigma_y=sigma_y)
    return DemoResult(measurement, restored, grid, before, psnr=record["psnr"], psnr_pinv=record["psnr_pinv"],
                      ssim=record["ssim"], residual=record["residual_ratio"], sigma_y=sigma_y)  # fmt: skip
