"""Clips: a video file (decoded with PyAV, extra ``ddrm[video]``, imported lazily) or a folder of frames; every frame
is decoded once before any work, so a corrupt file is refused in one line. Encoding restored frames into a video,
with the source's audio copied packet for packet."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError, SetupError
from ..io import IMAGE_SUFFIXES, atomic_write, read_image
from ..pipeline import list_inputs
from ..tasks import is_grey_photo, read_measurement

__all__ = ["VIDEO_SUFFIXES", "DEFAULT_FPS", "Clip", "is_video", "open_clip", "write_video", "check_video_output"]

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mkv", ".mov", ".avi", ".webm")
_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mkv": "matroska", ".mov": "mov", ".avi": "avi", ".webm": "webm"}
DEFAULT_FPS = Fraction(25)


def _av():
    try:
        import av
    except ImportError:
        raise SetupError("video files need PyAV: pip install 'ddrm[video]'") from None
    return av


def is_video(path: str | Path) -> bool:
    """Whether ``path`` names a video file (by its suffix)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _ffmpeg_detail(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:160]


def _video_error(path: Path, exc: Exception) -> InputError:
    return InputError(f"{path}: cannot read the video ({_ffmpeg_detail(exc)})")


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

    def digest(self) -> str:
        """SHA-256 of the clip's bytes (the video file, or the frame files in order, each with its name): what a
        resumed run checks to be sure the frames on disk came from this very clip."""
        h = hashlib.sha256()
        for path in self.files or (self.path,):
            if self.files:
                h.update(path.name.encode() + b"\0")
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        return h.hexdigest()

    def is_grey(self) -> bool:
        """Whether every frame is grey: one channel, or a grey picture stored as colour
        (:func:`ddrm.tasks.is_grey_photo`: a black-and-white film in a colour container, whose decoded channels
        agree). Decoded once more, stopping at the first frame with colours: decided for the whole clip before its
        first frame is restored, so a clip that turns to colour keeps the colour model throughout."""
        return all(frame.shape[0] == 1 or is_grey_photo(frame) for _, frame in self.frames())

    def frames(self, start: int = 0) -> Iterator[tuple[int, Tensor]]:
        """``(index, frame)`` from frame ``start`` on; frames are (C, H, W) float32 in [0, 1]."""
        if self.files:
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
        raise InputError(f"the frame rate must be positive, got {fps}")
    if path.is_dir():
        from PIL import Image

        files = tuple(list_inputs(path))
        sizes = set()
        for f in files:
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                raise InputError(f"{f}: a folder of frames holds images only")
            try:
                with Image.open(f) as im:
                    sizes.add(im.size)
            except OSError as exc:
                raise InputError(f"{f}: cannot read the image ({type(exc).__name__})") from None
            if len(sizes) > 1:
                raise InputError(f"{f}: frames differ in size ({' vs '.join(f'{w}x{h}' for w, h in sizes)})")
        ((w, h),) = sizes
        return Clip(path, len(files), h, w, Fraction(fps or DEFAULT_FPS).limit_denominator(1001), files=files)
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder")
    av = _av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path}: the file has no video stream")
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
        raise InputError(f"{path}: the video has no frames")
    if fps is not None:
        rate = Fraction(fps).limit_denominator(1001)
    if not rate:
        raise InputError(f"{path}: the video does not tell its frame rate; give --fps")
    return Clip(path, count, h, w, Fraction(rate), audio)


def _encoding(out: Path, height: int, width: int) -> tuple[str, str, bool]:
    """``(container format, codec, even)`` for a video of ``width x height`` frames written to ``out``; refuses a
    suffix that is not a video, or a size the codec cannot take."""
    av = _av()
    container_format = _CONTAINERS.get(out.suffix.lower())
    if container_format is None:
        raise InputError(f"{out}: a video must be one of {', '.join(VIDEO_SUFFIXES)}")
    codec = {"webm": "libvpx-vp9", "avi": "mpeg4"}.get(container_format, "libx264")
    if codec not in av.codecs_available:
        codec = "mpeg4"
    even = height % 2 == 0 and width % 2 == 0
    if codec == "mpeg4" and not even:
        raise InputError(f"{out}: {width}x{height} frames need an even size for MPEG-4 part 2; use .mp4 or .mkv")
    return container_format, codec, even


def _encode(target, out: Path, frames: Iterator[Tensor], height: int, width: int, fps: Fraction,
            audio_from: Path | None, quality: int) -> None:  # fmt: skip
    """Encode ``frames`` ((C, H, W) in [0, 1]) into ``target`` (a path or a file object) as the video ``out`` names,
    with the audio of ``audio_from`` copied packet for packet; refuses, in one line, what the container or the codec
    cannot take."""
    av = _av()
    container_format, codec, even = _encoding(out, height, width)
    source = av.open(str(audio_from)) if audio_from is not None else None
    copies: dict = {}
    try:
        with av.open(target, "w", format=container_format) as container:
            stream = container.add_stream(codec, rate=fps)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p" if even or codec == "mpeg4" else "yuv444p"
            if codec == "libx264":
                stream.options = {"crf": str(quality), "preset": "medium"}
            elif codec == "libvpx-vp9":
                stream.options = {"crf": str(quality + 12), "b": "0"}
            else:
                stream.bit_rate = 8 * width * height * int(round(float(fps)))  # ~1 byte per pixel per frame
            if source is not None:
                for a in source.streams.audio:
                    copies[a.index] = container.add_stream_from_template(a)
            for i, img in enumerate(frames):
                if img.shape[0] == 1:
                    img = img.expand(3, height, width)
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
    except (av.FFmpegError, ValueError) as exc:
        why = _ffmpeg_detail(exc)
        if copies:
            why += "; .mkv takes any audio codec"
        raise InputError(f"{out}: cannot write the video ({why})") from None
    finally:
        if source is not None:
            source.close()


def check_video_output(out: str | Path, height: int, width: int, fps: Fraction | float,
                       audio_from: Path | None = None) -> None:  # fmt: skip
    """Refuse, before any frame is restored, a video output its container or codec cannot take: the suffix, the
    frame size, the source's audio codec, an existing folder of that name (a trial encode of one grey frame and the
    audio into memory)."""
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out}: is a folder; the output video is a file, so choose another name")
    fps = Fraction(fps).limit_denominator(1001)
    grey = torch.full((3, height, width), 0.5)
    _encode(io.BytesIO(), out, iter([grey]), height, width, fps, audio_from, quality=51)


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
    out = Path(out)
    if not frames:
        raise InputError(f"{out}: no frames to encode")
    fps = Fraction(fps).limit_denominator(1001)
    first = read_image(frames[0])
    _, h, w = first.shape
    _encoding(out, h, w)

    def _frames() -> Iterator[Tensor]:
        for i, path in enumerate(frames):
            img = first if i == 0 else read_image(path)
            if img.shape != first.shape:
                raise InputError(f"{path}: frame is {tuple(img.shape)}, the first one {tuple(first.shape)}")
            yield img

    return atomic_write(out, lambda tmp: _encode(str(tmp), out, _frames(), h, w, fps, audio_from, quality))
