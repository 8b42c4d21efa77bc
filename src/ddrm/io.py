"""Reading and writing images and arrays: clear errors, atomic writes (temp file, then rename)."""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .errors import InputError

__all__ = [
    "read_image",
    "read_array",
    "write_image",
    "write_array",
    "write_text",
    "atomic_write",
    "remove_stale_temporaries",
    "IMAGE_SUFFIXES",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
PathLike = str | Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    The file gets the permissions a plain ``open()`` would give it (``0o666`` less the umask), not the temporary
    file's ``0o600``; the temporary file is removed whatever happens, an interruption included (see
    :func:`remove_stale_temporaries` for one a killed process left behind)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        tmp_path = Path(tmp)
        os.close(fd)
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()
    return path


def remove_stale_temporaries(path: PathLike) -> int:
    """Remove the temporary files an interrupted :func:`atomic_write` of ``path`` left (``.NAME.XXXX.tmp``)."""
    path = Path(path)
    removed = 0
    if path.parent.is_dir():
        for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            if tmp.is_file():
                tmp.unlink()
                removed += 1
    return removed


def read_image(path: PathLike) -> Tensor:
    """An image file as a float32 tensor (C, H, W) in [0, 1], C = 3 (RGB) or 1 (grey)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                mode = im.mode
            if mode in ("RGBA", "LA"):
                alpha = np.asarray(im.getchannel("A"))
                if alpha.min() < 255:
                    raise InputError(f"{path}: image has transparent pixels; save it without an alpha channel")
                im = im.convert("RGB" if mode == "RGBA" else "L")
                mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                arr = arr / (65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0)
                return torch.from_numpy(arr[None].astype(np.float32))
            if mode not in ("RGB", "L", "1"):
                raise InputError(f"{path}: unsupported image mode {mode} (use RGB or greyscale)")
            arr = np.asarray(im.convert("L") if mode == "1" else im, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InputError(
            f"{path}: cannot read the image ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
        ) from None
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr))


def read_array(path: PathLike, *, integer: bool = False) -> Tensor:
    """A ``.npy`` file (no pickles) of real numbers as a float tensor (int64 with ``integer``, which refuses
    floating-point arrays)."""
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # ValueError, OSError, EOFError (empty file), ... for a broken file
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise InputError(f"{path}: cannot read the array ({detail})") from None
    if not isinstance(arr, np.ndarray):
        raise InputError(f"{path}: not a single .npy array")
    if integer:
        if not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"{path}: expected an array of integers, got {arr.dtype}")
        return torch.from_numpy(np.ascontiguousarray(arr).astype(np.int64))
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"{path}: array of type {arr.dtype} is not real-valued numbers")
    return torch.from_numpy(np.ascontiguousarray(arr).astype(np.float32 if arr.dtype != np.float64 else np.float64))


def write_image(img: Tensor, path: PathLike, jpeg_quality: int | None = None) -> Path:
    """Save a (C, H, W) tensor in [0, 1] as an 8-bit image (clipped), atomically. ``jpeg_quality`` writes a real
    baseline JPEG at that quality factor with 4:2:0 chroma subsampling (libjpeg's standard tables)."""
    from PIL import Image

    arr = (img.detach().float().clamp(0, 1).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
    arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    if jpeg_quality is not None:
        options = {"format": "JPEG", "quality": int(jpeg_quality), "subsampling": 2}
        return atomic_write(path, lambda tmp: Image.fromarray(arr).save(tmp, **options))
    fmt = Image.registered_extensions().get(Path(path).suffix.lower(), "PNG")
    return atomic_write(path, lambda tmp: Image.fromarray(arr).save(tmp, format=fmt))


def write_array(arr: Tensor, path: PathLike) -> Path:
    def _save(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, arr.detach().cpu().numpy())

    return atomic_write(path, _save)


def write_text(text: str, path: PathLike) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))
