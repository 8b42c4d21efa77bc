"""Benchmark datasets: the images of a folder (or a file list), cropped / resized to one size."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError
from ..io import IMAGE_SUFFIXES, read_image
from .protocol import DatasetSpec, ProtocolError

__all__ = ["list_dataset", "load_image", "prepare", "check_names", "image_name"]


def prepare(x: Tensor, size: int, policy: str, name: str = "image") -> Tensor:
    """A (C, H, W) image in [0, 1] -> (C, size, size) by the dataset's policy."""
    _, h, w = x.shape
    if policy == "crop":
        if h < size or w < size:
            raise ProtocolError(f"{name}: {w}x{h} is smaller than the {size}x{size} crop (use resize = 'center-crop')")
        top, left = (h - size) // 2, (w - size) // 2
        return x[:, top : top + size, left : left + size].contiguous()
    if policy == "center-crop":
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        x = x[:, top : top + s, left : left + s]
    if x.shape[1:] == (size, size):
        return x.contiguous()
    out = F.interpolate(x[None].double(), size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    return out[0].clamp(0, 1).to(x.dtype)


def _files(folder: Path, file_list: Path | None, where: str) -> list[Path]:
    if not folder.is_dir():
        raise ProtocolError(f"{where}: {folder}: no such folder")
    if file_list is not None:
        if not file_list.is_file():
            raise ProtocolError(f"{where}: {file_list}: no such file list")
        names = [ln.strip() for ln in file_list.read_text(encoding="utf-8").splitlines()]
        files = [folder / n for n in names if n and not n.startswith("#")]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ProtocolError(f"{where}: {len(missing)} listed image(s) missing, e.g. {missing[0]}")
        return files
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ProtocolError(f"{where}: {folder}: no images (looked for {', '.join(IMAGE_SUFFIXES)})")
    return files


def list_dataset(ds: DatasetSpec, root: Path | None = None, path: str | None = None) -> tuple[list[Path], list[Path]]:
    """(evaluation files, tuning files) of a dataset; ``path`` replaces the protocol's folder."""
    base = Path(root or ".")
    folder = base / (path or ds.path)
    where = f"dataset {ds.name}"
    files = _files(folder, base / ds.files if ds.files else None, where)
    tune: list[Path] = []
    if ds.tune_path:
        tune = _files(base / ds.tune_path, None, where + " (tune_path)")
    elif ds.tune:
        if ds.tune >= len(files):
            raise ProtocolError(f"{where}: tune = {ds.tune} leaves no image to evaluate ({len(files)} images)")
        files, tune = files[: -ds.tune], files[-ds.tune :]
    if ds.limit is not None:
        files = files[: ds.limit]
    return files, tune


def check_names(files: list[Path], folder: Path, where: str) -> dict[Path, str]:
    """Each file's row name (:func:`image_name`), refusing two files of one name (``im0.png`` and ``im0.jpg``)."""
    names: dict[str, Path] = {}
    for f in files:
        name = image_name(f, folder)
        if name in names:
            raise ProtocolError(
                f"{where}: {names[name].name} and {f.name} would share the row name {name!r}; keep one of them"
            )
        names[name] = f
    return {f: n for n, f in names.items()}


def image_name(path: Path, folder: Path) -> str:
    """A stable name for an image: its path under the dataset folder, '/' replaced by '__'."""
    try:
        rel = path.relative_to(folder)
    except ValueError:
        rel = Path(path.name)
    return "__".join(rel.with_suffix("").parts)


def load_image(path: Path, ds: DatasetSpec) -> Tensor:
    """One dataset image, in [0, 1], (C, size, size); colour images are kept RGB, grey datasets averaged."""
    try:
        x = read_image(path)
    except (OSError, ValueError, InputError) as exc:
        detail = " ".join(str(exc).split())
        raise ProtocolError(f"dataset {ds.name}: {detail if str(path) in detail else f'{path}: {detail}'}") from None
    if ds.grey:
        x = x.mean(0, keepdim=True)
    elif x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return prepare(x.float(), ds.size, ds.resize, str(path)).to(torch.float32)
