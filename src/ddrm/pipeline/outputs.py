"""Inputs and outputs on disk: the measurements of a file or folder, where each result goes, the checks made before any
work (an output never replaces an input; two outputs never share a name; the folder is writable), and the pictures
written beside a result (grid, measurement view)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError
from ..io import HEIF_SUFFIXES, IMAGE_SUFFIXES, hidden_name, name_max
from ..operators import Operator
from ..tasks import SIDE_FILE_SUFFIXES

__all__ = [
    "list_inputs",
    "plan_outputs",
    "find_reference",
    "check_outputs",
    "check_writable",
    "output_lock",
    "grid_path",
    "kernel_paths",
    "result_path",
    "std_paths",
    "STD_PICTURE_SCALE",
    "measurement_view",
    "grid_image",
    "companion_paths",
    "CAPTION_HEIGHT",
]


def list_inputs(path: Path) -> list[Path]:
    """The measurements in a folder (images and ``.npy``, side files excluded), or the one file given."""
    if path.is_dir():
        readable = (*IMAGE_SUFFIXES, *HEIF_SUFFIXES, ".npy")
        files = [p for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in readable]
        files = [
            p for p in files if not any(p.name.endswith(s) for s in (*SIDE_FILE_SUFFIXES.values(), *RESULT_PICTURES))
        ]
        if not files:
            raise InputError(f"{path}: no images or .npy measurements in the folder")
        return files
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder")
    return [path]


def plan_outputs(src: Path, output: Path | None) -> tuple[list[tuple[Path, Path]], Path, bool]:
    """``([(input, output file)], output root, is_folder)`` for restoring ``src`` (a file or a folder)."""
    files = list_inputs(src)
    folder = src.is_dir()
    if output is not None:
        out_root = Path(output)
    else:
        out_root = src.with_name(src.name + "_restored") if folder else src.with_name(src.stem + "_restored.png")
    if folder and out_root.suffix:
        raise InputError(f"{out_root}: restoring a folder needs an output folder")
    if not folder and out_root.suffix.lower() not in IMAGE_SUFFIXES:
        out_root = out_root / (src.stem + ".png")
    return [(f, (out_root / (f.stem + ".png")) if folder else out_root) for f in files], out_root, folder


def find_reference(ref_root: Path, source: Path) -> Path | None:
    """The clean image for ``source``: ``ref_root`` itself if a file, else the image of the same stem in it."""
    if ref_root.is_file():
        return ref_root
    return next(
        (ref_root / (source.stem + s) for s in IMAGE_SUFFIXES if (ref_root / (source.stem + s)).is_file()), None
    )


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return a.samefile(b)
    return a.resolve() == b.resolve()


def check_outputs(outputs: list[Path], inputs: list[Path], folders: Sequence[Path] = ()) -> None:
    """Refuse an output that would replace an input, two outputs of the same name, an output file that is an existing
    folder, or a name too long for its file system (``folders``: the outputs that are folders)."""
    for out in outputs:  # first: a name too long cannot even be looked up
        longest = name_max(out.parent)
        if len(os.fsencode(out.name)) > longest:
            raise InputError(
                f"{out.name[:40]}...{out.suffix}: this output's name is {len(os.fsencode(out.name))} bytes, over the "
                f"{longest} its file system takes; choose a shorter output name"
            )
    for out in outputs:
        for inp in inputs:
            if _same_file(out, inp):
                raise InputError(f"{out}: the output would overwrite the input {inp}; choose another output name")
    seen: set[Path] = set()
    for out in outputs:
        if out.resolve() in seen:
            raise InputError(f"two outputs would be written to {out}; rename one of the inputs")
        seen.add(out.resolve())
    folder_set = {Path(f).resolve() for f in folders}
    for out in outputs:
        if out.is_dir() and out.resolve() not in folder_set:
            raise InputError(f"{out}: is a folder; the output is a file, so choose another name")


def check_writable(path: Path) -> None:
    """The output's folder exists and is writable, or can be created (checked before any work)."""
    parent = path.parent
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{path}: cannot create the output, {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot write the output, {parent} is not writable")


@contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold ``output`` (a file or a folder) for this process while it is written: another run writing the same
    output is refused in one line naming this one (a lock file ``.NAME.lock`` beside it, by :mod:`filelock`,
    removed when the run ends; a lock a killed run left holds nothing, the system releases it)."""
    from filelock import FileLock, Timeout

    output = Path(output)
    lock_path = hidden_name(output, "lock")
    created = [p for p in reversed(lock_path.parents) if not p.exists()]  # removed again if the run leaves them empty
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = lock_path.read_text().strip() or "another process"
        except OSError:
            holder = "another process"
        raise InputError(
            f"{output}: another ddrm run ({holder}) is writing it; wait for it to end, or choose another output"
        ) from None
    try:
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(lock_path, "r+") as f:  # the holder, for the message another run gives
            f.write(f"pid {os.getpid()} on {socket.gethostname()}, since {started}")
            f.truncate()
        yield
    finally:
        lock_path.unlink(missing_ok=True)  # while still held: a run waiting on this inode sees it is gone
        lock.release()
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:  # not empty: the run wrote there
                break


def grid_path(target: Path) -> Path:
    """Where ``--save-grid`` writes the grid of a result: ``NAME_grid.png`` beside it."""
    return target.with_name(target.stem + "_grid.png")


RESULT_PICTURES = (".kernel.png", ".std.png")  # written beside results: never measurements themselves
STD_PICTURE_SCALE = 4.0  # the spread's picture: white = a standard deviation of 0.25 (a quarter of the range)


def result_path(target: Path) -> Path:
    """Where a result's record goes: ``NAME.result.json`` beside it (not ``NAME.json``, a measurement's sidecar)."""
    return target.with_name(target.stem + ".result.json")


def std_paths(target: Path) -> tuple[Path, Path]:
    """Where the per-pixel standard deviation of several samples goes: ``NAME.std.npy`` (exact, [0, 1] units) and a
    picture of it, ``NAME.std.png`` (the channels' mean, x 4: white = 0.25)."""
    return target.with_name(target.stem + ".std.npy"), target.with_name(target.stem + ".std.png")


def kernel_paths(target: Path) -> tuple[Path, Path]:
    """Where a blind restoration writes its estimated kernel beside the result: ``NAME.kernel.npy`` and a picture of it,
    ``NAME.kernel.png``."""
    return target.with_name(target.stem + ".kernel.npy"), target.with_name(target.stem + ".kernel.png")


def measurement_view(op: Operator, y01: Tensor, shape) -> Tensor:
    """The measurement drawn at the image's size (nearest upsampling by a whole factor, else centred on grey, as a
    blur's valid part; grey replicated), or grey if not an image."""
    c, h, w = shape
    if y01.ndim != 3:
        return torch.full(shape, 0.5)
    mh, mw = y01.shape[-2:]
    if h % mh or w % mw:
        top, left = (h - mh) // 2, (w - mw) // 2
        img = torch.nn.functional.pad(y01, (left, w - mw - left, top, h - mh - top), value=0.5)
    else:
        img = torch.nn.functional.interpolate(y01[None], size=(h, w), mode="nearest")[0]
    return img.expand(c, h, w) if img.shape[0] == 1 else img


CAPTION_HEIGHT = 16  # the white strip above each panel of a grid, with the panel's name


def _caption(text: str, width: int, channels: int) -> Tensor:
    """A white strip ``CAPTION_HEIGHT`` x ``width`` with ``text`` in black (Pillow's default font, cut to fit)."""
    from PIL import Image, ImageDraw, ImageFont

    strip = Image.new("L", (width, CAPTION_HEIGHT), 255)
    draw = ImageDraw.Draw(strip)
    try:
        font = ImageFont.load_default(size=11)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        font = ImageFont.load_default()
    while text and draw.textlength(text, font=font) > width - 4:
        text = text[:-1]
    draw.text((2, 2), text, fill=0, font=font)
    out = torch.from_numpy(np.asarray(strip, dtype=np.float32) / 255.0)
    return out.expand(channels, -1, -1)


def grid_image(panels: list[Tensor], captions: Sequence[str] | None = None) -> Tensor:
    """Panels (C, H, W) side by side with 4 px white gaps; with ``captions``, each panel's name above it."""
    c, h = panels[0].shape[0], panels[0].shape[1]
    gap = torch.ones(c, h + (CAPTION_HEIGHT if captions else 0), 4)
    parts = []
    for i, p in enumerate(panels):
        p = p.clamp(0, 1)
        if captions:
            p = torch.cat([_caption(captions[i], p.shape[-1], c), p], dim=1)
        parts += [p, gap]
    return torch.cat(parts[:-1], dim=2)


def companion_paths(target: Path) -> list[Path]:
    """Every file a result may have beside it (record, grid, spread, kernel): what ``--overwrite`` replaces as a
    set, so that no file of an earlier result stays beside a new one."""
    return [result_path(target), grid_path(target), *std_paths(target), *kernel_paths(target)]
