"""Inputs a task needs besides the measurement: masks, blur kernels, grids of kernels, read from files or given as
arrays, and the measurement itself; each checked, with one line naming the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError
from ..io import read_array, read_image
from ..operators import GREY_OWN

__all__ = [
    "MaskOrKernel",
    "load_kernel",
    "as_kernel",
    "load_kernel_grid",
    "as_kernel_grid",
    "load_mask",
    "as_mask",
    "as_measurement",
    "is_grey_photo",
    "as_grey_reference",
    "GREY_TOLERANCE",
    "read_measurement",
    "jpeg_settings",
    "jpeg_params",
    "is_jpeg",
]

MaskOrKernel = str | Path | Tensor | None
GREY_TOLERANCE = 2 / 255  # channels this close everywhere are one grey image (an encoder's chroma rounding)


def load_kernel(path: str | Path) -> Tensor:
    """A blur kernel from ``.npy`` (must sum to 1 within 1%) or an image (normalised by its sum)."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        return as_kernel(read_array(path), str(path), normalise=False)
    k = read_image(path).double()
    return as_kernel(k.mean(0) if k.shape[0] != 1 else k[0], str(path), normalise=True)


def as_kernel(k: Tensor, label: str = "kernel", normalise: bool = False) -> Tensor:
    """Check a 2-D blur kernel: non-empty, finite, non-negative, and summing to 1 within 1% (or, with ``normalise``,
    divided by its positive sum, as for a kernel drawn as an image)."""
    k = torch.as_tensor(k).double()
    if k.ndim != 2 or min(k.shape) < 1:
        raise InputError(f"{label}: a kernel must be a non-empty 2-D array, got shape {tuple(k.shape)}")
    total = k.sum().item()
    if not np.isfinite(total):
        raise InputError(f"{label}: kernel has non-finite entries")
    if (k < 0).any():
        raise InputError(f"{label}: kernel has negative entries")
    if normalise:
        if total <= 0:
            raise InputError(f"{label}: kernel image is black")
        return k / total
    if abs(total - 1.0) > 0.01:
        raise InputError(f"{label}: kernel sums to {total:.4g}, expected 1 (normalise it)")
    return k


def load_kernel_grid(path: str | Path) -> Tensor:
    """A grid of blur kernels, one per region of a spatially varying blur: ``.npy`` of shape (rows, cols, kh, kw)."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise InputError(f"{path}: a grid of kernels is a .npy array of shape (rows, cols, kh, kw)")
    return as_kernel_grid(read_array(path), str(path))


def as_kernel_grid(k: Tensor, label: str = "kernels") -> Tensor:
    """Check a (rows, cols, kh, kw) grid of kernels, each as :func:`as_kernel` checks one."""
    k = torch.as_tensor(k).double()
    if k.ndim != 4 or min(k.shape) < 1:
        raise InputError(f"{label}: a grid of kernels has shape (rows, cols, kh, kw), got {tuple(k.shape)}")
    for r in range(k.shape[0]):
        for c in range(k.shape[1]):
            as_kernel(k[r, c], f"{label} [{r}, {c}]")
    return k


def load_mask(path: str | Path, shape: tuple[int, int, int]) -> Tensor:
    """A mask image: white (>= 0.5) = observed, black = missing; must match the image size."""
    return as_mask(read_image(path), shape, str(path))


def as_mask(m: Tensor, shape: tuple[int, int, int], label: str = "mask") -> Tensor:
    """A mask given as an (H, W) or (C, H, W) array in [0, 1] -> boolean (H, W), True = observed (>= 0.5); its size
    must be the image's."""
    m = torch.as_tensor(m)
    m = m[None] if m.ndim == 2 else m
    if m.ndim != 3:
        raise InputError(f"{label}: a mask must be an image, got an array of shape {tuple(m.shape)}")
    if tuple(m.shape[-2:]) != tuple(shape[-2:]):
        raise InputError(f"{label}: mask is {m.shape[-1]}x{m.shape[-2]} but the image is {shape[-1]}x{shape[-2]}")
    m = m.double()
    return (m.mean(0) >= 0.5) if m.shape[0] > 1 else (m[0] >= 0.5)


def is_grey_photo(y: Tensor) -> bool:
    """Whether an image (C, H, W) is a grey photo stored as colour: its channels within :data:`GREY_TOLERANCE` of
    each other everywhere (a scan or a black-and-white photo saved as RGB; an encoder's chroma rounding)."""
    return y.ndim == 3 and y.shape[0] > 1 and float((y - y.mean(0, keepdim=True)).abs().max()) <= GREY_TOLERANCE


def as_measurement(name: str, y: Tensor, label: str = "measurement", *, grey_photo: bool = False) -> Tensor:
    """A measurement image as the task expects it: for colourisation a grey image saved as RGB becomes one channel
    (an image with colours is refused). ``grey_photo`` (a photo restored without a sidecar): a grey photo stored as
    colour (:func:`is_grey_photo`) becomes one channel for every task that measures a greyscale photo's grey (all but
    JPEG, whose file keeps its colour layout): its one noise is then one noise, not three, and the result is grey, as
    the photo."""
    if name == "color" and y.ndim == 3 and y.shape[0] == 3:
        if not is_grey_photo(y):
            raise InputError(f"{label}: colorization needs a greyscale image, this one has colours")
        return y.mean(0, keepdim=True)
    if grey_photo and name not in GREY_OWN and is_grey_photo(y):
        return y.mean(0, keepdim=True)
    return y


def as_grey_reference(ref: Tensor, label: str = "reference") -> Tensor:
    """A reference for a greyscale result: a grey image (one channel, or a grey photo stored as colour); a reference
    with colours is refused (the result's colours are not measured)."""
    if ref.shape[0] == 1:
        return ref
    if not is_grey_photo(ref):
        raise InputError(
            f"{label}: the restored image is greyscale (so is its measurement), this reference has colours"
        )
    return ref.mean(0, keepdim=True)


def read_measurement(path: Path, *, upright: bool = False) -> Tensor:
    """A measurement file (image or ``.npy``) as float32, refusing NaN / infinite values; ``upright``: an image
    turned as its EXIF orientation says (:func:`ddrm.io.read_image`)."""
    y = read_array(path) if path.suffix.lower() == ".npy" else read_image(path, upright=upright)
    if not torch.isfinite(y).all():
        raise InputError(f"{path}: measurement contains NaN or infinite values")
    return y.float()


_SAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}  # Pillow's get_sampling -> the chroma layout


# Pillow's names for a JPEG file: one that carries a second picture in the Multi-Picture Format (a camera's preview,
# a depth map, the HDR gain map of some phones' files) opens as "MPO", its first picture the photo, a JPEG as any
JPEG_FORMATS = ("JPEG", "MPO")


def jpeg_settings(source: str | Path | Any) -> dict[str, Any]:
    """A JPEG file's own quantisation tables and chroma layout, as :class:`~ddrm.operators.JPEG` takes them
    (``{"quality": None, "tables": (1, 2 or 3, 8, 8), "subsampling": ...}``), from a path or an opened Pillow image:
    whatever encoder wrote the file, the restoration models the degradation it made."""
    from PIL import Image, JpegImagePlugin

    im = source if isinstance(source, Image.Image) else None
    try:
        if im is None:
            im = Image.open(source)
        qt, layers, mode = getattr(im, "quantization", None), getattr(im, "layer", None), im.mode
        sampling = JpegImagePlugin.get_sampling(im) if im.format in JPEG_FORMATS else None
        untransformed = im.info.get("adobe_transform") == 0  # Adobe's marker: the planes are R, G, B, not YCbCr
    except (OSError, SyntaxError) as exc:
        raise InputError(f"{source}: cannot read the JPEG file ({type(exc).__name__})") from None
    finally:
        if im is not None and im is not source:
            im.close()
    label = getattr(source, "filename", None) or str(source)
    if not qt or not layers:
        raise InputError(f"{label}: not a JPEG file: --task jpeg reads the file's own tables; for another file give "
                         "the quality it was saved at (jpegQF)")  # fmt: skip
    if mode == "L":
        return {"quality": None, "tables": torch.tensor([qt[layers[0][3]]], dtype=torch.float64).reshape(1, 8, 8),
                "subsampling": "grey"}  # fmt: skip
    if mode == "CMYK":
        raise InputError(f"{label}: a CMYK JPEG (a print file) is compressed in its inks, which the JPEG model "
                         "(YCbCr or grey) does not cover; restore it with another task (it is read in sRGB)")  # fmt: skip
    if mode != "RGB" or sampling not in _SAMPLING or len(layers) != 3:
        raise InputError(f"{label}: a {mode} JPEG with this chroma layout is not supported (RGB 4:4:4, 4:2:2, 4:2:0, "
                         "or greyscale)")  # fmt: skip
    if untransformed:  # the model is a colour JPEG's: YCbCr planes
        raise InputError(f"{label}: this JPEG stores its R, G, B planes without the YCbCr transform, which the JPEG "
                         "model does not cover; restore it with another task")  # fmt: skip
    # luma's table and Cb's (Cr's too, libjpeg's layout), or a table per plane where Cr has its own
    planes = [qt[layers[0][3]], qt[layers[1][3]]] + ([qt[layers[2][3]]] if qt[layers[2][3]] != qt[layers[1][3]] else [])
    tables = torch.tensor(planes, dtype=torch.float64).reshape(len(planes), 8, 8)
    return {"quality": None, "tables": tables, "subsampling": _SAMPLING[sampling]}


def is_jpeg(source: Any) -> bool:
    """Whether ``source`` (an opened Pillow image or a file) is a JPEG, by its content: a ``.jpe`` or ``.jfif``
    file, or one an upload renamed, is one too; a file Pillow cannot open (a ``.npy``) is not."""
    from PIL import Image

    if isinstance(source, Image.Image):
        return source.format in JPEG_FORMATS
    try:
        with Image.open(source) as im:
            return im.format in JPEG_FORMATS
    except (OSError, SyntaxError, ValueError):
        return False


def jpeg_params(source: Any, params: dict[str, Any], label: str = "measurement") -> dict[str, Any]:
    """The JPEG task's parameters for a measurement: ``jpeg`` (no quality given) takes the file's own tables and
    chroma layout (:func:`jpeg_settings`); ``jpegQF`` on a JPEG file is checked against the file, so that a file saved
    with other tables (another quality, another encoder, other chroma) is never restored as if it were QF. ``source``
    is the file's path or the opened Pillow image (``None``: a decoded image with no file behind it)."""
    from ..operators.jpeg import quantisation_tables

    own = jpeg_settings(source) if source is not None and is_jpeg(source) else None
    if "quality" not in params:
        if own is None:
            raise InputError(f"{label}: --task jpeg reads the quantisation tables of a JPEG file; for an image decoded "
                             "elsewhere give the quality it was saved at (jpegQF)")  # fmt: skip
        return {**params, **own}
    if own is not None:
        luma, chroma = quantisation_tables(int(params["quality"]))
        same = (
            own["subsampling"] == "4:2:0"
            and torch.equal(own["tables"][0], luma)
            and all(torch.equal(t, chroma) for t in own["tables"][1:])
        )
        if not same:
            raise InputError(f"{label}: the file was saved with other quantisation tables (or chroma layout: "
                             f"{own['subsampling']}) than libjpeg's 4:2:0 at quality {params['quality']}; restore it "
                             "with --task jpeg, which reads the file's own")  # fmt: skip
    return params
