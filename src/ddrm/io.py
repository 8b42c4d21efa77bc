"""Reading and writing images and arrays: clear errors, atomic writes (temp file, then rename)."""

from __future__ import annotations

import glob
import hashlib
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .errors import InputError

__all__ = [
    "read_image",
    "image_profile",
    "image_orientation",
    "turn_upright",
    "read_array",
    "write_image",
    "write_array",
    "write_text",
    "atomic_write",
    "write_together",
    "image_writer",
    "array_writer",
    "text_writer",
    "remove_stale_temporaries",
    "name_max",
    "hidden_name",
    "MAX_PIXELS",
    "set_max_pixels",
    "IMAGE_SUFFIXES",
    "LOSSY_SUFFIXES",
    "HEIF_SUFFIXES",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jfif", ".jpe", ".bmp", ".tif", ".tiff", ".webp", ".avif")
# the suffixes whose files are always lossy (WebP is written lossless): no measurement is written in them
LOSSY_SUFFIXES = (".jpg", ".jpeg", ".jfif", ".jpe", ".avif")
# read, not written: a phone's HEIF photos (an iPhone's default), through the optional pillow-heif (ddrm[heif])
HEIF_SUFFIXES = (".heic", ".heif")
PathLike = str | Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


NAME_MAX = 255  # bytes in a file name on the common file systems (ext4, XFS, APFS, NTFS's UTF-16 units)


def name_max(folder: PathLike) -> int:
    """The longest file name (in bytes) the file system of ``folder`` (or of its nearest existing parent) takes."""
    folder = Path(folder)
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or the system does not say
        return NAME_MAX


def hidden_name(path: PathLike, tail: str) -> Path:
    """A hidden file beside ``path``: ``.NAME.TAIL``, or, for a name too long to take them, ``.`` and a digest of the
    name and ``.TAIL`` (so it fits whenever ``path`` does, and is found again from ``path``)."""
    path = Path(path)
    name = f".{path.name}.{tail}"
    if len(os.fsencode(name)) > NAME_MAX:
        name = "." + hashlib.sha256(os.fsencode(path.name)).hexdigest()[:32] + f".{tail}"
    return path.with_name(name)


def _temporary_prefix(path: Path) -> str:
    """The prefix of ``path``'s temporaries (``.NAME.`` + 8 random characters + ``.tmp``; see :func:`hidden_name`)."""
    return hidden_name(path, "x" * 12).name[:-12]


def atomic_write(path: PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    The file gets the permissions a plain ``open()`` would give it (``0o666`` less the umask), not the temporary
    file's ``0o600``; the temporary file is removed whatever happens, an interruption included (see
    :func:`remove_stale_temporaries` for one a killed process left behind)."""
    return write_together([(Path(path), write)])[0]


def write_together(files: Sequence[tuple[PathLike, Callable[[Path], None]]]) -> list[Path]:
    """Write several files as one unit: each ``write(tmp)`` on its own temporary beside its path, and only when all
    have been written, every temporary renamed over its path, in order (put the file whose presence means "done"
    last). If any write fails, nothing is renamed and every temporary is removed, so a result is never left with
    only some of its files."""
    pending: list[tuple[Path, Path]] = []
    try:
        for path, write in files:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=path.parent)
            os.close(fd)
            pending.append((Path(tmp), path))
            write(Path(tmp))
            os.chmod(tmp, 0o666 & ~_umask())
        for tmp, path in pending:
            os.replace(tmp, path)
    finally:
        for tmp, _ in pending:
            if tmp.exists():
                tmp.unlink()
    return [path for _, path in pending]


def remove_stale_temporaries(path: PathLike) -> int:
    """Remove the temporary files an interrupted :func:`atomic_write` of ``path`` left (``.NAME.XXXX.tmp``)."""
    path = Path(path)
    removed = 0
    if path.parent.is_dir():
        for tmp in path.parent.glob(f"{glob.escape(_temporary_prefix(path))}*.tmp"):
            if tmp.is_file():
                tmp.unlink()
                removed += 1
    return removed


# images above this many pixels are refused before they are decoded (a "decompression bomb": a small file whose
# header claims a huge image); 2^27 (134 million, 11585 x 11585) is above any camera's sensor, and far above what a
# diffusion prior restores in one piece; front ends raise it with --max-pixels (:func:`set_max_pixels`)
MAX_PIXELS = 2**27


def set_max_pixels(limit: int) -> int:
    """Set the largest image (in pixels) :func:`read_image` decodes; returns the previous limit."""
    from PIL import Image

    global MAX_PIXELS
    if not (isinstance(limit, int) and limit > 0):
        raise InputError(f"the pixel limit must be a positive integer, got {limit!r}")
    previous, MAX_PIXELS = MAX_PIXELS, limit
    if Image.MAX_IMAGE_PIXELS is not None and limit >= 2 * Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit // 2 + 1  # Pillow's own bomb check refuses at twice its limit
    return previous


def _too_many_pixels(path: Path, pixels: int | None) -> InputError:
    size = f"{pixels / 1e6:.0f} million pixels" if pixels else "too many pixels"
    return InputError(
        f"{path}: the image has {size}, above the limit of {MAX_PIXELS / 1e6:.0f} million (a damaged or hostile file, "
        "or a very large image: --max-pixels N raises the limit)"
    )


# a file's EXIF orientation (tag 274) -> the turn that shows it upright, as viewers and Pillow's exif_transpose do
_UPRIGHT: dict[int, Callable[[Tensor], Tensor]] = {
    2: lambda t: t.flip(-1),
    3: lambda t: t.flip(-1, -2),
    4: lambda t: t.flip(-2),
    5: lambda t: t.transpose(-1, -2),
    6: lambda t: t.rot90(-1, (-2, -1)),
    7: lambda t: t.transpose(-1, -2).flip(-1, -2),
    8: lambda t: t.rot90(1, (-2, -1)),
}


def read_image(path: PathLike, *, upright: bool = False) -> Tensor:
    """An image file as a float32 tensor (C, H, W) in [0, 1], C = 3 (RGB) or 1 (grey). ``upright``: turned as its
    EXIF orientation says (a phone stores a portrait photo sideways with that tag, and viewers show it upright);
    without it, the pixel grid as stored (a JPEG's blocks are on that grid)."""
    if Path(path).suffix.lower() in HEIF_SUFFIXES:
        _heif_opener(path)
    elif Path(path).suffix.lower() == ".avif":
        _check_avif(path)
    x, orientation = _read_image(path)
    return turn_upright(x, orientation) if upright else x


def turn_upright(x: Tensor, orientation: int, *, back: bool = False) -> Tensor:
    """``x`` (..., H, W), an image on a file's stored grid, turned as the file's EXIF ``orientation`` says (1, or a
    value outside 1-8: unchanged): what viewers show. ``back``: the inverse turn, an upright image onto the stored
    grid (the turns are their own inverses but for 6 and 8, each the other's)."""
    turn = _UPRIGHT.get({6: 8, 8: 6}.get(orientation, orientation) if back else orientation)
    return turn(x).contiguous() if turn else x


def image_orientation(path: PathLike) -> int:
    """An image file's EXIF orientation (1 to 8; 1 for none, for a damaged EXIF block or a file that is no image),
    read from its header: a result restored on the file's stored grid is written turned by it (:func:`turn_upright`)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return _orientation(im)
    except (OSError, SyntaxError, ValueError):
        return 1


def _orientation(im: Any) -> int:
    """An opened image's EXIF orientation (tag 274; 1 for none, or for a damaged EXIF block: the grid as stored)."""
    try:
        return int(im.getexif().get(274, 1))
    except (ValueError, TypeError, SyntaxError, OSError):
        return 1


def _heif_opener(path: PathLike) -> None:
    """Pillow's opener for HEIF files (pillow-heif; registering it again is harmless): it decodes a photo upright."""
    try:
        import pillow_heif
    except ImportError:
        raise InputError(
            f"{path}: a HEIF photo needs the pillow-heif package: pip install 'ddrm[heif]' (or save it as PNG or JPEG)"
        ) from None
    pillow_heif.register_heif_opener()


def _check_avif(path: PathLike) -> None:
    """AVIF files are read by a Pillow with AVIF support (recent wheels bring the codec); without it, one line."""
    from PIL import features

    if not features.check("avif"):
        raise InputError(f"{path}: reading AVIF needs a Pillow with AVIF support (recent ones: pip install -U pillow)")


# the formats whose several frames are an animation (not a JPEG's second picture, MPO, nor a TIFF's pages): an image
# read from one would be its first frame alone
_ANIMATIONS = ("GIF", "PNG", "WEBP", "AVIF")


def _read_image(path: PathLike) -> tuple[Tensor, int]:
    """The image as :func:`read_image` returns it, on its stored grid, and its EXIF orientation (1: none)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit is ours (MAX_PIXELS)
            im = Image.open(path)
        with im:
            if im.width * im.height > MAX_PIXELS:
                raise _too_many_pixels(path, im.width * im.height)
            if getattr(im, "is_animated", False) and im.format in _ANIMATIONS:  # not a camera's MPO or TIFF pages
                raise InputError(
                    f"{path}: an animation of {im.n_frames} frames; restore it as a video (e.g. ffmpeg -i "
                    f"{path.name} {path.stem}.mp4), or save the frame to restore as PNG"
                )
            im.load()
            orientation = _orientation(im)
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
            if mode == "CMYK":  # a print file's inks, to the sRGB a result is written in
                im, mode = _cmyk_to_rgb(im), "RGB"
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                arr = arr / (65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0)
                return torch.from_numpy(arr[None].astype(np.float32)), orientation
            if mode not in ("RGB", "L", "1"):
                raise InputError(f"{path}: unsupported image mode {mode} (use RGB or greyscale)")
            arr = np.asarray(im.convert("L") if mode == "1" else im, dtype=np.float32) / 255.0
    except Image.DecompressionBombError as exc:
        match = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_many_pixels(path, int(match.group(1)) if match else None) from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InputError(
            f"{path}: cannot read the image ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
        ) from None
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr)), orientation


def _cmyk_to_rgb(im: Any) -> Any:
    """A CMYK image (a print workflow's JPEG or TIFF) in sRGB: through its embedded ICC profile (LittleCMS, the
    perceptual intent, as colour-managed viewers show it), else, or with a profile LittleCMS cannot use, Pillow's
    plain conversion (each ink's complement times black's: what viewers without colour management show)."""
    from PIL import ImageCms

    profile = im.info.get("icc_profile")
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(BytesIO(profile))
            return ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return im.convert("RGB")


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


def image_writer(
    img: Tensor, path: PathLike, jpeg_quality: int | None = None, icc_profile: bytes | None = None
) -> Callable[[Path], None]:
    """What :func:`write_image` writes, as a ``write(tmp)`` for :func:`write_together`; ``icc_profile``: the colour
    profile to embed (:func:`image_profile` of the file the image was restored from). ``jpeg_quality``: a JPEG made at
    that libjpeg quality (4:2:0), the JPEG task's measurement; else the suffix's format, in the quality that keeps
    the image (:data:`_KEEP`)."""
    from PIL import Image

    arr = (img.detach().float().clamp(0, 1).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
    arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    if jpeg_quality is not None:
        options = {"format": "JPEG", "quality": int(jpeg_quality), "subsampling": 2}
    else:
        fmt = Image.registered_extensions().get(Path(path).suffix.lower(), "PNG")
        options = {"format": fmt, **_KEEP.get(fmt, {})}
    if icc_profile:
        options["icc_profile"] = icc_profile
    return lambda tmp: Image.fromarray(arr).save(tmp, **options)


# a restoration asked for in a lossy format is written so as to keep it: at Pillow's defaults (JPEG quality 75 with
# 4:2:0 chroma, WebP 80, AVIF 75) the bundled photo denoised at sigma_y 0.02 (39.28 dB against the clean photo) was
# written at 32.33, 33.71 and 35.17 dB, below the noisy input (34 dB); with these, 39.00, 39.28 (exact) and 39.05
# (tests/test_cli.py checks the written files)
_KEEP: dict[str, dict[str, Any]] = {
    "JPEG": {"quality": 98, "subsampling": 0},
    "WEBP": {"lossless": True},
    "AVIF": {"quality": 98, "subsampling": "4:4:4"},
}


def image_profile(path: PathLike) -> bytes | None:
    """The ICC colour profile embedded in an image file (a phone's photo is often Display P3), ``None`` for none or
    for a file that is no image: a result written with it is shown in the colours its input was."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            profile = im.info.get("icc_profile") if im.mode != "CMYK" else None  # a CMYK file is read as sRGB
    except (OSError, SyntaxError, ValueError):
        return None
    return profile if isinstance(profile, bytes) and profile else None


def array_writer(arr: Tensor) -> Callable[[Path], None]:
    """What :func:`write_array` writes, as a ``write(tmp)`` for :func:`write_together`."""
    data = arr.detach().cpu().numpy()

    def _save(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, data)

    return _save


def text_writer(text: str) -> Callable[[Path], None]:
    """What :func:`write_text` writes, as a ``write(tmp)`` for :func:`write_together`."""
    return lambda tmp: tmp.write_text(text)


def write_image(img: Tensor, path: PathLike, jpeg_quality: int | None = None) -> Path:
    """Save a (C, H, W) tensor in [0, 1] as an 8-bit image (clipped), atomically. ``jpeg_quality`` writes a real
    baseline JPEG at that quality factor with 4:2:0 chroma subsampling (libjpeg's standard tables)."""
    return atomic_write(path, image_writer(img, path, jpeg_quality))


def write_array(arr: Tensor, path: PathLike) -> Path:
    return atomic_write(path, array_writer(arr))


def write_text(text: str, path: PathLike) -> Path:
    return atomic_write(path, text_writer(text))
