"""Video restoration frame by frame with an image prior (extra ``ddrm[video]``: PyAV and OpenCV, imported lazily).

A clip is a video file (decoded with PyAV) or a folder of frames. Each frame is restored as an image through
:func:`ddrm.restore.run_restore`, and written as a lossless PNG into a frames folder, so an interrupted run resumes at
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .io import IMAGE_SUFFIXES, atomic_write, read_image, remove_stale_temporaries, write_text
from .tasks import TaskError, TaskSpec, as_measurement

__all__ = [
    "VIDEO_SUFFIXES",
    "TEMPORAL_MODES",
    "Clip",
    "is_video",
    "open_clip",
    "write_video",
    "optical_flow",
    "warp",
    "flicker",
    "restore_clip",
    "score_clip",
    "frames_folder",
]

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mkv", ".mov", ".avi", ".webm")
_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mkv": "matroska", ".mov": "mov", ".avi": "avi", ".webm": "webm"}
TEMPORAL_MODES = ("shared", "independent", "warm-start")
DEFAULT_FPS = Fraction(25)


def _av():
    try:
        import av
    except ImportError:
        raise TaskError("video files need PyAV: pip install 'ddrm[video]'") from None
    return av


def _cv2():
    try:
        import cv2
    except ImportError:
        raise TaskError("optical flow needs OpenCV: pip install 'ddrm[video]'") from None
    return cv2


def is_video(path: str | Path) -> bool:
    """Whether ``path`` names a video file (by its suffix)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _ffmpeg_detail(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:160]


def _video_error(path: Path, exc: Exception) -> TaskError:
    return TaskError(f"{path}: cannot read the video ({_ffmpeg_detail(exc)})")


@dataclass(frozen=True)
class Clip:
    """A clip to restore: a video file, or a folder of frames (``files``, in name order)."""

    path: Path
    count: int
    height: int
    width: int
    fps: Fraction
    audio: bool = False
    files: tuple[Path, ...] = ()

    @property
    def is_video(self) -> bool:
        return not self.files

    @property
    def names(self) -> list[str]:
        """The frames' names: the file stems of a folder, ``000000``, ``000001``, ... for a video."""
        return [f.stem for f in self.files] if self.files else [f"{i:06d}" for i in range(self.count)]

    def frames(self, start: int = 0) -> Iterator[tuple[int, Tensor]]:
        """``(index, frame)`` from frame ``start`` on; frames are (C, H, W) float32 in [0, 1]."""
        if self.files:
            from .restore import read_measurement

            for i in range(start, self.count):
                yield i, read_measurement(self.files[i])
            return
        av = _av()
        try:
            with av.open(str(self.path)) as container:
                for i, frame in enumerate(container.decode(video=0)):
                    if i < start:
                        continue
                    if i >= self.count:
                        break
                    arr = frame.to_ndarray(format="rgb24")
                    yield i, torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float() / 255
        except av.FFmpegError as exc:
            raise _video_error(self.path, exc) from None


def open_clip(path: str | Path, fps: float | Fraction | None = None) -> Clip:
    """A video file or a folder of frames, checked whole before any work: every frame of a video is decoded once
    (a corrupt file fails here, in one line), every frame of a folder has the first one's size. ``fps`` is the frame
    rate of a folder (default 25); a video keeps its own."""
    path = Path(path)
    if fps is not None and not fps > 0:
        raise TaskError(f"the frame rate must be positive, got {fps}")
    if path.is_dir():
        from PIL import Image

        from .restore import list_inputs

        files = tuple(list_inputs(path))
        sizes = set()
        for f in files:
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                raise TaskError(f"{f}: a folder of frames holds images only")
            try:
                with Image.open(f) as im:
                    sizes.add(im.size)
            except OSError as exc:
                raise TaskError(f"{f}: cannot read the image ({type(exc).__name__})") from None
            if len(sizes) > 1:
                raise TaskError(f"{f}: frames differ in size ({' vs '.join(f'{w}x{h}' for w, h in sizes)})")
        ((w, h),) = sizes
        return Clip(path, len(files), h, w, Fraction(fps or DEFAULT_FPS).limit_denominator(1001), files=files)
    if not path.is_file():
        raise TaskError(f"{path}: no such file or folder")
    av = _av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise TaskError(f"{path}: the file has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            audio = bool(container.streams.audio)
            count = 0
            for frame in container.decode(stream):
                if count == 0:
                    h, w = frame.height, frame.width
                count += 1
    except av.FFmpegError as exc:
        raise _video_error(path, exc) from None
    if count == 0:
        raise TaskError(f"{path}: the video has no frames")
    if fps is not None:
        rate = Fraction(fps).limit_denominator(1001)
    if not rate:
        raise TaskError(f"{path}: the video does not tell its frame rate; give --fps")
    return Clip(path, count, h, w, Fraction(rate), audio)


def write_video(
    frames: Sequence[Path],
    out: str | Path,
    fps: Fraction | float,
    audio_from: Path | None = None,
    quality: int = 18,
) -> Path:
    """Encode image files into a video (H.264 in .mp4/.mkv/.mov, VP9 in .webm, MPEG-4 part 2 in .avi), atomically,
    at ``fps``; the audio streams of ``audio_from`` are copied packet for packet. ``quality`` is x264's / VP9's CRF
    (lower is better; 18 is visually lossless for x264). Sides of odd length are encoded in 4:4:4."""
    av = _av()
    out = Path(out)
    container_format = _CONTAINERS.get(out.suffix.lower())
    if container_format is None:
        raise TaskError(f"{out}: a video must be one of {', '.join(VIDEO_SUFFIXES)}")
    if not frames:
        raise TaskError(f"{out}: no frames to encode")
    fps = Fraction(fps).limit_denominator(1001)
    first = read_image(frames[0])
    _, h, w = first.shape
    codec = {"webm": "libvpx-vp9", "avi": "mpeg4"}.get(container_format, "libx264")
    if codec not in av.codecs_available:
        codec = "mpeg4"
    even = h % 2 == 0 and w % 2 == 0
    if codec == "mpeg4" and not even:
        raise TaskError(f"{out}: {w}x{h} frames need an even size for MPEG-4 part 2; use .mp4 or .mkv")

    def _write(tmp: Path) -> None:
        source = av.open(str(audio_from)) if audio_from is not None else None
        try:
            with av.open(str(tmp), "w", format=container_format) as container:
                stream = container.add_stream(codec, rate=fps)
                stream.width, stream.height = w, h
                stream.pix_fmt = "yuv420p" if even or codec == "mpeg4" else "yuv444p"
                if codec == "libx264":
                    stream.options = {"crf": str(quality), "preset": "medium"}
                elif codec == "libvpx-vp9":
                    stream.options = {"crf": str(quality + 12), "b": "0"}
                else:
                    stream.bit_rate = 8 * w * h * int(round(float(fps)))  # ~1 byte per pixel per frame
                copies = {}
                if source is not None:
                    for a in source.streams.audio:
                        copies[a.index] = container.add_stream_from_template(a)
                for i, path in enumerate(frames):
                    img = first if i == 0 else read_image(path)
                    if img.shape != first.shape:
                        raise TaskError(f"{path}: frame is {tuple(img.shape)}, the first one {tuple(first.shape)}")
                    if img.shape[0] == 1:
                        img = img.expand(3, h, w)
                    arr = (img.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
                    frame.pts, frame.time_base = i, 1 / fps
                    container.mux(stream.encode(frame))
                container.mux(stream.encode(None))
                if copies:
                    for packet in source.demux(*[source.streams[k] for k in copies]):
                        if packet.dts is None:  # the demuxer's flush packets
                            continue
                        packet.stream = copies[packet.stream.index]
                        container.mux(packet)
        except av.FFmpegError as exc:
            raise TaskError(
                f"{out}: cannot write the video ({_ffmpeg_detail(exc)}); .mkv takes any audio codec"
            ) from None
        finally:
            if source is not None:
                source.close()

    return atomic_write(out, _write)


# ---------------------------------------------------------------------------------------------- flow
def _grey8(img: Tensor) -> np.ndarray:
    x = img.detach().float().cpu()
    x = x.mean(0) if x.shape[0] == 3 else x[0]
    return (x.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)


def optical_flow(target: Tensor, source: Tensor) -> np.ndarray:
    """Dense flow (H, W, 2) in pixels, ``(dx, dy)``, such that ``target[y, x] ~ source[y + dy, x + dx]`` (OpenCV's
    Farneback on the grey images; pyramid of 4 levels, 15 px windows)."""
    cv2 = _cv2()
    return cv2.calcOpticalFlowFarneback(_grey8(target), _grey8(source), None, 0.5, 4, 15, 3, 5, 1.2, 0)


def _sample_points(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return gx + flow[..., 0], gy + flow[..., 1]


def warp(source: Tensor, flow: np.ndarray) -> Tensor:
    """``source`` (C, H, W) resampled along ``flow`` (from :func:`optical_flow`) onto the target's grid, bilinear,
    edges replicated."""
    cv2 = _cv2()
    map_x, map_y = _sample_points(flow)
    arr = source.detach().float().cpu().permute(1, 2, 0).numpy()
    out = cv2.remap(np.ascontiguousarray(arr), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if out.ndim == 2:
        out = out[..., None]
    return torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1).to(source.dtype)


def flicker(frames: Sequence[Tensor], guide: Sequence[Tensor] | None = None) -> float:
    """Temporal inconsistency of a clip: the mean absolute difference, in 8-bit levels, between each frame and the
    previous frame warped onto it, along flow computed on ``guide`` (default: the frames themselves). Pixels whose
    flow leaves the frame are left out. Compare a restored clip with the clean one on the clean one's flow."""
    guide = frames if guide is None else guide
    if len(frames) != len(guide):
        raise ValueError(f"{len(frames)} frames but {len(guide)} guide frames")
    if len(frames) < 2:
        raise ValueError("flicker needs at least two frames")
    return _flicker(frames, [optical_flow(guide[t], guide[t - 1]) for t in range(1, len(guide))])


def _flicker(frames: Sequence[Tensor], flows: Sequence[np.ndarray]) -> float:
    """:func:`flicker` along given flows (``flows[t - 1]`` maps frame t - 1 onto frame t)."""
    total = 0.0
    for t, flow in enumerate(flows, start=1):
        map_x, map_y = _sample_points(flow)
        h, w = flow.shape[:2]
        inside = torch.from_numpy((map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1))
        diff = (frames[t].float() - warp(frames[t - 1], flow).float()).abs().mean(0)
        total += float(diff[inside].mean()) if inside.any() else 0.0
    return 255 * total / (len(frames) - 1)


# ---------------------------------------------------------------------------------------------- restore
def restore_clip(
    clip: Clip,
    frames_dir: Path,
    task: TaskSpec,
    sigma_y: float,
    solver: Any,
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
    ``frames_dir/NAME.png``; returns the frame files in order.

    Frames already in ``frames_dir`` are kept (unless ``overwrite``): with ``shared`` / ``independent`` noise only the
    missing ones are restored (in the batches an uninterrupted run forms, so the bytes are the same); with
    ``warm-start`` the run restarts at the first missing frame, since later frames depend on it. The run's settings
    (``settings`` — prior, solver arguments, ... — plus the task, noise, seed and temporal mode) are recorded in
    ``frames_dir/restore.json``; frames restored with other settings are not resumed from."""
    from tqdm.auto import tqdm

    from .restore import RestoreJob, pinv_image, run_restore

    if temporal not in TEMPORAL_MODES:
        raise TaskError(f"unknown temporal mode {temporal!r}; choose from {', '.join(TEMPORAL_MODES)}")
    if temporal == "warm-start":
        if not solver.starts_from_image or "start" not in {p.name for p in solver.params}:
            raise TaskError(f"--temporal warm-start needs a solver that starts from an image (ddrm), not {solver.name}")
        if not 0 < warm_level <= 1:
            raise TaskError(f"the warm-start level must lie in (0, 1], got {warm_level}")
        _cv2()
    frames_dir = Path(frames_dir)
    targets = [frames_dir / f"{name}.png" for name in clip.names]
    for t in targets:
        remove_stale_temporaries(t)
    record = {
        "source": clip.path.name,
        "frames": clip.count,
        "task": task.key(),
        "sigma_y": sigma_y,
        "solver": solver.name,
        "solver_args": dict(sorted(solver_args.items())),
        "seed": seed,
        "temporal": temporal,
        **({"warm_level": warm_level} if temporal == "warm-start" else {}),
        **(settings or {}),
    }
    record = json.loads(json.dumps(record, default=str))
    record_path = frames_dir / "restore.json"
    if not overwrite and any(t.exists() for t in targets):
        try:
            before = json.loads(record_path.read_text())
        except (OSError, ValueError):
            before = None
        if not isinstance(before, dict):
            raise TaskError(
                f"{frames_dir}: holds frames but no readable restore.json, so they cannot be resumed from; "
                "use --overwrite, or another output"
            )
        if before != record:
            changed = sorted(k for k in set(record) | set(before) if before.get(k) != record.get(k))
            raise TaskError(
                f"{frames_dir}: its frames were restored with other settings ({', '.join(changed)}); "
                "use --overwrite, or another output"
            )
    write_text(json.dumps(record, indent=1) + "\n", record_path)
    done = [not overwrite and t.exists() for t in targets]
    if all(done):
        return targets
    measurement_shape = tuple(task.operator().measurement_shape)
    label = f"{clip.path.name} frame"

    def job(i: int, y: Tensor, x_init01: Tensor | None = None) -> RestoreJob:
        y = as_measurement(task.name, y, f"{label} {i}")
        if tuple(y.shape) != measurement_shape:
            raise TaskError(f"{label} {i}: measurement {tuple(y.shape)} does not fit the task ({measurement_shape})")
        seed_name = clip.names[i] if temporal == "independent" else "clip"
        return RestoreJob(clip.path / clip.names[i], targets[i], y, task, sigma_y, seed_name, x_init01)

    common = dict(seed=seed, device=device, progress_bar=False)
    started = [False]

    def start_once() -> None:
        if not started[0] and on_start is not None:
            on_start()
        started[0] = True

    bar = tqdm(total=sum(not d for d in done), desc="frames", disable=not progress_bar)
    if temporal != "warm-start":
        chunk: list[tuple[int, RestoreJob]] = []

        def flush() -> None:
            only = {j.source for i, j in chunk if not done[i]}
            if only:
                jobs = [j for _, j in chunk]
                run_restore(jobs, solver, solver_args, prior_for, batch_size=batch_size, only=only, on_start=start_once,
                            **common)  # fmt: skip
                bar.update(len(only))
            chunk.clear()

        for i, y in clip.frames():
            first_of_chunk = i - i % batch_size
            if all(done[first_of_chunk : first_of_chunk + batch_size]):
                continue  # the chunks are those of an uninterrupted run, so a resumed one writes the same bytes
            chunk.append((i, job(i, y)))
            if len(chunk) == batch_size:
                flush()
        flush()
        bar.close()
        return targets

    # warm start: strictly in order from the first missing frame
    first = done.index(False)
    steps = int(solver_args.get("steps") or solver.defaults(task.name)["steps"])
    warm_args = {**solver_args, "start": warm_level, "steps": max(1, round(steps * warm_level))}
    op = task.operator().to(device)
    prev_guide = prev = None
    for i, y in clip.frames(max(0, first - 1)):
        y = as_measurement(task.name, y, f"{label} {i}")
        guide = pinv_image(op, y[None].to(device))[0].cpu()
        if i == first - 1:
            prev_guide, prev = guide, read_image(targets[i])
            continue
        x_init01 = None if prev is None else warp(prev, optical_flow(guide, prev_guide)).clamp(0, 1)
        run_restore([job(i, y, x_init01)], solver, solver_args if x_init01 is None else warm_args, prior_for,
                    on_start=start_once, **common)  # fmt: skip
        prev_guide, prev = guide, read_image(targets[i])  # the 8-bit frame, as a resumed run reads it
        bar.update(1)
    bar.close()
    return targets


def score_clip(frames: Sequence[Path], reference: Clip) -> dict[str, float]:
    """Mean PSNR / SSIM of restored frames against a clean clip, and the flicker of both on the clean clip's flow."""
    from .metrics import psnr, ssim

    if reference.count != len(frames):
        raise TaskError(
            f"{reference.path}: the reference has {reference.count} frames, the restored clip {len(frames)}"
        )
    restored, clean = [], []
    for (_, ref), path in zip(reference.frames(), frames):
        x = read_image(path)
        if tuple(ref.shape) != tuple(x.shape):
            raise TaskError(f"{reference.path}: reference frames are {tuple(ref.shape)}, restored {tuple(x.shape)}")
        restored.append(x)
        clean.append(ref)
    out = {
        "psnr": float(np.mean([psnr(x, r) for x, r in zip(restored, clean)])),
        "ssim": float(np.mean([ssim(x, r) for x, r in zip(restored, clean)])),
    }
    if len(frames) > 1:
        flows = [optical_flow(clean[t], clean[t - 1]) for t in range(1, len(clean))]  # once, for both measures
        out["flicker"] = _flicker(restored, flows)
        out["flicker_clean"] = _flicker(clean, flows)
    return out


def frames_folder(output: Path) -> Path:
    """Where the lossless frames of a restored video go: ``NAME_frames`` beside ``NAME.mp4``."""
    return output.with_name(output.stem + "_frames")
