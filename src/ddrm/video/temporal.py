"""Video restoration frame by frame with an image prior (extra ``ddrm[video]``: PyAV and OpenCV, imported lazily).

A clip is a video file (decoded with PyAV) or a folder of frames. Each frame is restored as an image through
:func:`ddrm.pipeline.run_restore`, and written as a lossless PNG into a frames folder, so an interrupted run resumes at
the first missing frame; the restored video is encoded from those frames at the source's frame rate, with the
source's audio copied packet for packet (no re-encoding).

Temporal consistency with an image prior (the cheapest recipe of ../shared/reference/EXTENSIONS.md section 4):

- ``shared`` (the default): every frame uses the same generator, so the initial noise and every step's noise are the
  same across frames; static content is restored the same way in every frame.
- ``independent``: each frame its own generator (seeded from the frame's name); flickers most.
- ``warm-start``: shared noise, and frame t starts from the restored frame t-1 warped onto frame t by optical flow
  (OpenCV's Farneback, computed on the pseudo-inverses of the two measurements; no weights) and re-noised to the level
  ``warm_level`` of the diffusion (SDEdit), sampled with ``warm_level`` of the steps; the first frame runs the full
  chain. The previous frame is always the 8-bit one on disk, so a resumed run continues exactly as an uninterrupted
  one would.

:func:`flicker` measures temporal (in)consistency: the mean absolute difference between each frame and the previous
one warped onto it, along flow computed on guide frames (the clean clip in a benchmark).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError, SolverError
from ..io import read_image, remove_stale_temporaries, write_text
from ..metrics import psnr, ssim
from ..pipeline import RestoreJob, pinv_image, run_restore, run_steps
from ..samplers import SamplerSpec
from ..tasks import TaskSpec, as_grey_reference, as_measurement
from .container import Clip
from .flow import _cv2, flicker_along, optical_flow, warp

__all__ = ["TEMPORAL_MODES", "restore_clip", "score_clip", "frames_folder", "clip_record"]

TEMPORAL_MODES = ("shared", "independent", "warm-start")


def clip_record(clip: Clip, task: TaskSpec, sigma_y: float, solver: SamplerSpec, solver_args: dict[str, Any],
                seed: int, temporal: str, warm_level: float, settings: dict[str, Any] | None) -> dict[str, Any]:  # fmt: skip
    """The settings a clip's frames were restored with (``restore.json``): a resumed run must match them. ``steps``
    is the count each frame's chain runs (:func:`~ddrm.pipeline.run_steps`), as an image's record writes it."""
    record = {
        "source": clip.path.name,
        "source_sha256": clip.digest(),
        "frames": clip.count,
        "task": task.key(),
        "sigma_y": sigma_y,
        "solver": solver.name,
        "solver_args": dict(sorted(solver_args.items())),
        "steps": run_steps(solver, solver_args, task.name, task.params),  # the given count, else the solver's default
        "seed": seed,
        "temporal": temporal,
        **({"warm_level": warm_level} if temporal == "warm-start" else {}),
        **(settings or {}),
    }
    return json.loads(json.dumps(record, default=str))


def _check_resume(frames_dir: Path, record: dict[str, Any], targets: list[Path], overwrite: bool) -> None:
    """Frames on disk are resumed from only when their ``restore.json`` says they were made with these settings."""
    if overwrite or not any(t.exists() for t in targets):
        return
    try:
        before = json.loads((frames_dir / "restore.json").read_text())
    except (OSError, ValueError):
        before = None
    if not isinstance(before, dict):
        raise InputError(
            f"{frames_dir}: holds frames but no readable restore.json, so they cannot be resumed from; "
            "use --overwrite, or another output"
        )
    if before != record:
        changed = sorted(k for k in set(record) | set(before) if before.get(k) != record.get(k))
        if "source_sha256" in changed:
            raise InputError(
                f"{frames_dir}: its frames were restored from another clip ({record['source']} has changed since); "
                "use --overwrite, or another output"
            )
        raise InputError(
            f"{frames_dir}: its frames were restored with other settings ({', '.join(changed)}); "
            "use --overwrite, or another output"
        )


def _check_temporal(temporal: str, warm_level: float, solver: SamplerSpec) -> None:
    if temporal not in TEMPORAL_MODES:
        raise InputError(f"unknown temporal mode {temporal!r}; choose from {', '.join(TEMPORAL_MODES)}")
    if temporal == "warm-start":
        if not solver.starts_from_image or "start" not in {p.name for p in solver.params}:
            raise SolverError(
                f"--temporal warm-start needs a solver that starts from an image (ddrm), not {solver.name}"
            )
        if not 0 < warm_level <= 1:
            raise InputError(f"the warm-start level must lie in (0, 1], got {warm_level}")
        _cv2()


def restore_clip(
    clip: Clip,
    frames_dir: Path,
    task: TaskSpec,
    sigma_y: float,
    solver: SamplerSpec,
    solver_args: dict[str, Any],
    prior_for: Callable[[tuple[int, int, int]], Any],
    *,
    temporal: str = "shared",
    warm_level: float = 0.5,
    seed: int = 0,
    batch_size: int = 4,
    device: str | torch.device = "cpu",
    overwrite: bool = False,
    progress_bar: bool = False,
    on_start: Callable[[], None] | None = None,
    settings: dict[str, Any] | None = None,
) -> list[Path]:
    """Restore every frame of ``clip`` (measurements of ``task`` with noise ``sigma_y``, [0, 1] units) into
    ``frames_dir/NAME.png`` through :func:`~ddrm.pipeline.run_restore`; returns the frame files in order.

    Frames already in ``frames_dir`` are kept (unless ``overwrite``): with ``shared`` / ``independent`` noise only the
    missing ones are restored (in the batches an uninterrupted run forms, so the bytes are the same); with
    ``warm-start`` the run restarts at the first missing frame, since later frames depend on it. The run's settings
    (``settings`` — prior, solver arguments, ... — plus the task, noise, seed and temporal mode) are recorded in
    ``frames_dir/restore.json``; frames restored with other settings are not resumed from."""
    from tqdm.auto import tqdm

    _check_temporal(temporal, warm_level, solver)
    frames_dir = Path(frames_dir)
    targets = [frames_dir / f"{name}.png" for name in clip.names]
    record = clip_record(clip, task, sigma_y, solver, solver_args, seed, temporal, warm_level, settings)
    for t in targets:
        remove_stale_temporaries(t)
    _check_resume(frames_dir, record, targets, overwrite)
    write_text(json.dumps(record, indent=1) + "\n", frames_dir / "restore.json")
    done = [not overwrite and t.exists() for t in targets]
    if all(done):
        return targets
    frames = _FrameJobs(clip, task, sigma_y, targets, temporal)
    # one sample each (a blind shake estimate too: a clip writes no spread beside its frames)
    common = dict(solver=solver, prior_for=prior_for, seed=seed, device=device, on_start=_once(on_start), samples=1)
    bar = tqdm(total=sum(not d for d in done), desc="frames", disable=not progress_bar)
    if temporal == "warm-start":
        _restore_warm(frames, done, solver_args, warm_level, bar, **common)
    else:
        _restore_chunks(frames, done, solver_args, batch_size, bar, **common)
    bar.close()
    return targets


def _once(fn: Callable[[], None] | None) -> Callable[[], None]:
    """``fn`` called the first time only (the device line before the first chunk of frames)."""
    called = [False]

    def call() -> None:
        if not called[0] and fn is not None:
            fn()
        called[0] = True

    return call


class _FrameJobs:
    """The restore jobs of a clip's frames: the measurement checked against the task, the generator named by the
    temporal mode (one for the whole clip, or one per frame)."""

    def __init__(self, clip: Clip, task: TaskSpec, sigma_y: float, targets: list[Path], temporal: str):
        self.clip, self.task, self.sigma_y, self.targets, self.temporal = clip, task, sigma_y, targets, temporal
        self.shape = tuple(task.operator().measurement_shape)

    def measurement(self, i: int, y: Tensor) -> Tensor:
        label = f"{self.clip.path.name} frame {i}"
        y = as_measurement(self.task.name, y, label, grey_photo=self.task.measures_grey)  # Clip.is_grey
        if tuple(y.shape) != self.shape:
            raise InputError(f"{label}: measurement {tuple(y.shape)} does not fit the task ({self.shape})")
        return y

    def job(self, i: int, y: Tensor, x_init01: Tensor | None = None) -> RestoreJob:
        seed_name = self.clip.names[i] if self.temporal == "independent" else "clip"
        return RestoreJob(self.clip.path / self.clip.names[i], self.targets[i], self.measurement(i, y), self.task,
                          self.sigma_y, seed_name, x_init01)  # fmt: skip


def _restore_chunks(frames: _FrameJobs, done: list[bool], solver_args: dict[str, Any], batch_size: int, bar,
                    **common: Any) -> None:  # fmt: skip
    """Shared or independent noise: chunks of ``batch_size`` frames, those of an uninterrupted run (so a resumed
    one writes the same bytes), decoded in one pass; a chunk whose frames are all on disk is skipped."""
    chunk: list[tuple[int, RestoreJob]] = []

    def flush() -> None:
        only = {j.source for i, j in chunk if not done[i]}
        if only:
            run_restore([j for _, j in chunk], solver_args=solver_args, batch_size=batch_size, only=only, **common)
            bar.update(len(only))
        chunk.clear()

    for i, y in frames.clip.frames():
        start = i - i % batch_size
        if all(done[start : start + batch_size]):
            continue
        chunk.append((i, frames.job(i, y)))
        if len(chunk) == batch_size:
            flush()
    flush()


def _restore_warm(frames: _FrameJobs, done: list[bool], solver_args: dict[str, Any], warm_level: float, bar,
                  *, solver: SamplerSpec, device: str | torch.device, **common: Any) -> None:  # fmt: skip
    """Warm start: strictly in order from the first missing frame; each frame starts from the previous restored one
    (the 8-bit file, as a resumed run reads it), warped along the flow between the two measurements' pseudo-inverses."""
    first = done.index(False)
    steps = int(solver_args.get("steps") or solver.defaults(frames.task.name)["steps"])
    warm_args = {**solver_args, "start": warm_level, "steps": max(1, round(steps * warm_level))}
    op = frames.task.operator().to(device)
    prev_guide = prev = None
    for i, y in frames.clip.frames(max(0, first - 1)):
        y = frames.measurement(i, y)
        guide = pinv_image(op, y[None].to(device))[0].cpu()
        if i == first - 1:
            prev_guide, prev = guide, read_image(frames.targets[i])
            continue
        x_init01 = None if prev is None else warp(prev, optical_flow(guide, prev_guide)).clamp(0, 1)
        run_restore([frames.job(i, y, x_init01)], solver=solver, solver_args=solver_args if x_init01 is None else warm_args,
                    device=device, **common)  # fmt: skip
        prev_guide, prev = guide, read_image(frames.targets[i])
        bar.update(1)


def score_clip(frames: Sequence[Path], reference: Clip) -> dict[str, float]:
    """Mean PSNR / SSIM of restored frames against a clean clip, and the flicker of both on the clean clip's flow."""
    if reference.count != len(frames):
        raise InputError(
            f"{reference.path}: the reference has {reference.count} frames, the restored clip {len(frames)}"
        )
    restored, clean = [], []
    for (i, ref), path in zip(reference.frames(), frames):
        x = read_image(path)
        if x.shape[0] == 1:  # a grey result: a grey reference (one stored as colour read as grey)
            ref = as_grey_reference(ref, f"{reference.path} frame {i}")
        if tuple(ref.shape) != tuple(x.shape):
            raise InputError(f"{reference.path}: reference frames are {tuple(ref.shape)}, restored {tuple(x.shape)}")
        restored.append(x)
        clean.append(ref)
    out = {
        "psnr": float(np.mean([psnr(x, r) for x, r in zip(restored, clean)])),
        "ssim": float(np.mean([ssim(x, r) for x, r in zip(restored, clean)])),
    }
    if len(frames) > 1:
        flows = [optical_flow(clean[t], clean[t - 1]) for t in range(1, len(clean))]  # once, for both measures
        out["flicker"] = flicker_along(restored, flows)
        out["flicker_clean"] = flicker_along(clean, flows)
    return out


def frames_folder(output: Path) -> Path:
    """Where the lossless frames of a restored video go: ``NAME_frames`` beside ``NAME.mp4``."""
    return output.with_name(output.stem + "_frames")
