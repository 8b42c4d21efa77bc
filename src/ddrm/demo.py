"""The first run: a bundled photo degraded, restored and scored, end to end on any machine without a network.

:func:`run_demo` is what ``ddrm demo`` calls. It goes through the library path every front end shares:
:func:`ddrm.restore.degrade_to_files` writes the measurement and its sidecar as ``ddrm degrade`` does, and
:func:`ddrm.restore.run_restore` restores it as ``ddrm restore`` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .io import read_image, write_image
from .metrics import psnr
from .restore import (
    PriorLoader,
    RestoreJob,
    degrade_to_files,
    pinv_image,
    read_measurement,
    resolve_device,
    run_restore,
)
from .samplers import SAMPLERS
from .tasks import TaskError, make_task, parse_task

__all__ = ["EXAMPLE_IMAGE", "example_credit", "centre_crop", "run_demo", "DemoResult"]

EXAMPLE_IMAGE = Path(__file__).with_name("data") / "example.png"


def example_credit() -> str:
    """Who made the bundled photo and under which licence (from ``data/example.json``)."""
    meta = json.loads(EXAMPLE_IMAGE.with_suffix(".json").read_text())
    return f"{meta['title']}, {meta['photographer']}; {meta['licence']}"


def centre_crop(x: Tensor, multiple: int) -> Tensor:
    """The largest centred crop of ``x`` (C, H, W) whose sides are multiples of ``multiple``."""
    h, w = (x.shape[-2] // multiple) * multiple, (x.shape[-1] // multiple) * multiple
    if h == 0 or w == 0:
        raise TaskError(f"the image ({x.shape[-2]}x{x.shape[-1]}) is smaller than the task's factor {multiple}")
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[..., top : top + h, left : left + w]


@dataclass(frozen=True)
class DemoResult:
    original: Path
    measurement: Path
    restored: Path
    grid: Path
    psnr: float
    psnr_pinv: float
    ssim: float


def run_demo(
    out_dir: Path,
    image: Path | None = None,
    task: str = "sr4",
    sigma_y: float = 0.05,
    solver: str = "ddrm",
    steps: int | None = None,
    seed: int = 0,
    prior: str = "builtin",
    checkpoint: str | None = None,
    device: str | torch.device = "auto",
    progress_bar: bool = True,
    report: Callable[[str], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> DemoResult:
    """Degrade ``image`` (default: the bundled photo) by ``task`` with noise ``sigma_y`` ([0, 1] units), restore it
    with ``solver`` and the prior, and write ``original.png``, ``measurement.png`` (+ sidecar), ``restored.png`` and
    ``restored_grid.png`` (measurement | pseudo-inverse | restored | original) into ``out_dir``."""
    device = resolve_device(device)
    if solver not in SAMPLERS:
        raise TaskError(f"unknown solver {solver!r}; choose from {', '.join(SAMPLERS)}")
    name, params = parse_task(task)
    source = EXAMPLE_IMAGE if image is None else Path(image)
    x = read_image(source)
    if x.shape[0] != 3:
        raise TaskError(f"{source}: the demo takes an RGB photo, got {x.shape[0]} channel(s)")
    x = centre_crop(x, int(params.get("factor", 1)) * 8)
    g = torch.Generator().manual_seed(seed)
    spec = make_task(name, tuple(x.shape), params, g)
    out_dir = Path(out_dir)
    original, measurement = out_dir / "original.png", out_dir / "measurement.png"
    restored = out_dir / "restored.png"
    write_image(x, original)
    degrade_to_files(x, spec, sigma_y, measurement, g, seed, [source])
    y = read_measurement(measurement)  # restored from the file, as written (8-bit), like `ddrm restore` does
    pinv = pinv_image(spec.operator(), y[None])[0]
    args = {} if steps is None else {"steps": steps}
    job = RestoreJob(measurement, restored, y, spec, sigma_y)
    scores = run_restore(
        [job], SAMPLERS[solver], args, PriorLoader(prior, checkpoint, device), seed=seed, device=device,
        references={measurement: x}, save_grid=True, progress_bar=progress_bar, report=report, on_start=on_start,
    )  # fmt: skip
    ((p, s),) = scores
    return DemoResult(original, measurement, restored, restored.with_name("restored_grid.png"), p, psnr(pinv, x), s)
