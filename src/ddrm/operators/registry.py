"""The registry of degradation operators: each name maps to its builder, its parameters (with the DDRM paper's
defaults) and its contract (:class:`SVDOperator`, :class:`LinearOperator` or :class:`Operator`); solvers declare the
contract they need. The CLI, the tests, the benchmarks and the harness all build operators through
:func:`build_operator`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..errors import TaskError
from .base import LinearOperator, Operator, SVDOperator
from .compose import ValidPart, on_grey, valid_margins
from .fourier import CircularConvolution
from .hadamard import WalshHadamardCS
from .jpeg import JPEG
from .kernels import ddrm_anisotropic_kernels, ddrm_gaussian_kernel_1d, motion_kernel, uniform_kernel_1d
from .kronecker import (
    BlockSuperResolution,
    bicubic_super_resolution,
    check_boundary,
    colorization,
    gaussian_kernel_1d,
    separable_blur,
)
from .simple import Denoising, Inpainting
from .varying import SpatiallyVaryingBlur

__all__ = [
    "OperatorSpec",
    "OPERATORS",
    "build_operator",
    "random_mask",
    "random_kernel_grid",
    "default_motion_size",
    "box_mask",
    "BOX_MARGIN",
]


def random_mask(
    input_shape: tuple[int, int, int], missing: float = 0.5, generator: torch.Generator | None = None
) -> Tensor:
    """A (H, W) boolean mask with ``round(missing * H * W)`` pixels missing, chosen uniformly (one ``randperm``)."""
    if not 0.0 <= missing < 1.0:
        raise TaskError(f"missing fraction must lie in [0, 1), got {missing}")
    _, h, w = input_shape
    gen_device = generator.device if generator is not None else "cpu"
    order = torch.randperm(h * w, generator=generator, device=gen_device).cpu()
    mask = torch.ones(h * w, dtype=torch.bool)
    mask[order[: round(missing * h * w)]] = False
    return mask.reshape(h, w)


BOX_MARGIN = 16  # DPS's box inpainting: the box lies at least this far from every edge


def box_mask(input_shape: tuple[int, int, int], side: int, generator: torch.Generator | None = None) -> Tensor:
    """A (H, W) boolean mask missing one ``side`` x ``side`` square at a uniformly random position at least
    :data:`BOX_MARGIN` px from the edges (DPS's box inpainting: 128 px on 256 px images)."""
    _, h, w = input_shape
    room_h, room_w = h - side - 2 * BOX_MARGIN, w - side - 2 * BOX_MARGIN
    if side < 1 or room_h < 0 or room_w < 0:
        raise TaskError(f"a {side} px box with a {BOX_MARGIN} px margin does not fit a {w}x{h} image")
    gen_device = generator.device if generator is not None else "cpu"
    top, left = (int(torch.randint(0, r + 1, (1,), generator=generator, device=gen_device)) + BOX_MARGIN
                 for r in (room_h, room_w))  # fmt: skip
    mask = torch.ones(h, w, dtype=torch.bool)
    mask[top : top + side, left : left + side] = False
    return mask


@dataclass(frozen=True)
class OperatorSpec:
    """A registered operator: how to build it, what it is, the parameters it accepts (with defaults) and its
    contract: the operator class every build is an instance of and solvers declare (:class:`SVDOperator`,
    :class:`LinearOperator`, or for a degradation that is not linear its own :class:`Operator` subclass, e.g.
    :class:`JPEG`)."""

    name: str
    build: Callable[..., Operator]
    description: str
    params: dict[str, Any] = field(default_factory=dict)
    contract: type[Operator] = SVDOperator
    # where a parameter changes it (a blur's valid boundary has no SVD for a 2-D kernel): the contract of a build
    # with given parameters; ``contract`` is that of the defaults
    contract_of: Callable[[dict[str, Any]], type[Operator]] | None = None

    def contract_for(self, params: dict[str, Any] | None = None) -> type[Operator]:
        """The contract of a build with ``params`` (the registry's defaults where not given)."""
        if self.contract_of is None:
            return self.contract
        return self.contract_of({**self.params, **{k: v for k, v in (params or {}).items() if v is not None}})


def _no_svd_when_valid(params: dict[str, Any]) -> type[Operator]:
    return LinearOperator if params.get("boundary") == "valid" else SVDOperator


def _inpaint(shape, *, generator=None, dtype=None, mask=None, missing=0.5, box=0):
    if mask is None:
        mask = box_mask(shape, box, generator) if box else random_mask(shape, missing, generator)
    return Inpainting(shape, mask, dtype=dtype)


def default_motion_size(input_shape: tuple[int, int, int]) -> int:
    """31, or the largest odd size that fits a smaller image."""
    limit = min(input_shape[1], input_shape[2])
    return min(31, limit - 1 + limit % 2)


def _motion(shape, *, generator=None, dtype=None, kernel=None, size=None, intensity=0.5, boundary="circular"):
    if kernel is None:
        kernel = motion_kernel(size or default_motion_size(shape), intensity, generator)
    if check_boundary(boundary) == "zero":
        raise TaskError("a 2-D kernel's blur is circular or valid (the zero boundary is for separable kernels)")
    blur = CircularConvolution(shape, kernel, dtype=dtype)
    return ValidPart(blur, valid_margins(tuple(kernel.shape))) if boundary == "valid" else blur


def random_kernel_grid(
    input_shape: tuple[int, int, int],
    grid: int = 2,
    size: int | None = None,
    intensity: float = 0.5,
    generator: torch.Generator | None = None,
) -> Tensor:
    """(grid, grid, size, size) random motion kernels, one per region of a ``grid x grid`` split of the image (row by
    row from one generator); ``size`` defaults to :func:`default_motion_size`."""
    if grid < 1:
        raise TaskError(f"the grid must have at least one region per side, got {grid}")
    size = size or default_motion_size(input_shape)
    kernels = [motion_kernel(size, intensity, generator) for _ in range(grid * grid)]
    return torch.stack(kernels).reshape(grid, grid, size, size)


def _varying(shape, *, generator=None, dtype=None, kernels=None, grid=2, size=None, intensity=0.5, boundary="circular"):
    if kernels is None:
        kernels = random_kernel_grid(shape, int(grid), size, intensity, generator)
    if check_boundary(boundary) == "zero":
        raise TaskError("a spatially varying blur is circular or valid (the zero boundary is for separable kernels)")
    blur = SpatiallyVaryingBlur.from_grid(shape, kernels, dtype=dtype)
    return ValidPart(blur, valid_margins(tuple(kernels.shape[-2:]))) if boundary == "valid" else blur


def _gauss(shape, *, generator=None, dtype=None, size=None, std=None, boundary="zero"):
    if size is None and std is None:
        kernel = ddrm_gaussian_kernel_1d()
    else:  # e.g. DiffPIR's protocol: 61 taps, std 3
        size = 5 if size is None else int(size)
        if size < 1 or size % 2 == 0:
            raise TaskError(f"the Gaussian kernel size must be a positive odd number, got {size}")
        if std is not None and not (math.isfinite(std) and std > 0):
            raise TaskError(f"the Gaussian kernel std must be positive, got {std}")
        kernel = gaussian_kernel_1d(10.0 if std is None else float(std), size // 2)
    return separable_blur(shape, kernel, dtype=dtype, boundary=boundary)


def _aniso(shape, *, generator=None, dtype=None, boundary="zero"):
    rows, cols = ddrm_anisotropic_kernels()
    return separable_blur(shape, rows, cols, dtype=dtype, boundary=boundary)


OPERATORS: dict[str, OperatorSpec] = {
    spec.name: spec
    for spec in [
        OperatorSpec("denoise", lambda shape, generator=None, dtype=None: Denoising(shape, dtype=dtype), "H = I"),
        OperatorSpec(
            "inpaint",
            _inpaint,
            "missing pixels (mask, a random fraction missing, or a random box of side `box`)",
            {"mask": None, "missing": 0.5, "box": 0},
        ),
        OperatorSpec(
            "sr",
            lambda shape, generator=None, dtype=None, factor=4: BlockSuperResolution(shape, factor, dtype=dtype),
            "super-resolution: average of factor x factor blocks",
            {"factor": 4},
        ),
        OperatorSpec(
            "sr_bicubic",
            lambda shape, generator=None, dtype=None, factor=4: bicubic_super_resolution(shape, factor, dtype=dtype),
            "super-resolution: antialiased bicubic downsampling (a = -0.5)",
            {"factor": 4},
        ),
        OperatorSpec(
            "deblur_uni",
            lambda shape, generator=None, dtype=None, size=9, boundary="zero": separable_blur(
                shape, uniform_kernel_1d(size), dtype=dtype, boundary=boundary
            ),
            "separable uniform blur (9 taps); zero boundary (or circular, valid)",
            {"size": 9, "boundary": "zero"},
        ),
        OperatorSpec(
            "deblur_gauss",
            _gauss,
            "separable Gaussian blur (std 10, 5 taps, as DDRM; or size/std); zero boundary (or circular, valid)",
            {"size": None, "std": None, "boundary": "zero"},
        ),
        OperatorSpec(
            "deblur_aniso",
            _aniso,
            "anisotropic Gaussian blur (std 1 rows, std 20 columns, 9 taps); zero boundary (or circular, valid)",
            {"boundary": "zero"},
        ),
        OperatorSpec(
            "deblur_motion",
            _motion,
            "any 2-D kernel (random motion blur by default); circular boundary, or valid (no SVD: conjugate gradients)",
            {"kernel": None, "size": None, "intensity": 0.5, "boundary": "circular"},
            contract_of=_no_svd_when_valid,
        ),
        OperatorSpec(
            "color",
            lambda shape, generator=None, dtype=None: colorization(shape, dtype=dtype),
            "grayscale: mean of channels",
        ),
        OperatorSpec(
            "cs",
            lambda shape, generator=None, dtype=None, ratio=4, permutation=None: WalshHadamardCS(
                shape, ratio, permutation=permutation, generator=generator, dtype=dtype
            ),
            "compressed sensing: permuted Walsh-Hadamard, keep 1/ratio",
            {"ratio": 4, "permutation": None},
        ),
        OperatorSpec(
            "deblur_varying",
            _varying,
            "spatially varying blur: a grid of kernels blended by smooth masks (product-convolution); circular "
            "boundary, or valid; no SVD (pseudo-inverse and prox by conjugate gradients)",
            {"kernels": None, "grid": 2, "size": None, "intensity": 0.5, "boundary": "circular"},
            contract=LinearOperator,
        ),
        OperatorSpec(
            "jpeg",
            lambda shape, generator=None, dtype=None, quality=10, tables=None, subsampling="4:2:0": JPEG(
                shape, None if quality is None else int(quality), tables=tables, subsampling=subsampling, dtype=dtype
            ),
            "JPEG compression: libjpeg's tables at a quality factor, or a file's own tables and chroma layout "
            "(4:2:0, 4:2:2, 4:4:4, grey); not linear: DDRM-JPEG",
            {"quality": 10, "tables": None, "subsampling": "4:2:0"},
            contract=JPEG,  # an Operator that is not linear: only a solver made for the codec takes it
        ),
    ]
}


# the operators whose measurement is grey already (colorization) or has its own grey layout (a greyscale JPEG)
GREY_OWN = ("color", "jpeg")


def build_operator(
    name: str,
    input_shape: tuple[int, int, int],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    **params: Any,
) -> Operator:
    """Build the registered operator ``name`` (of ``OPERATORS``) for images of shape (C, H, W); an instance of the
    spec's ``contract``. ``dtype`` defaults to torch's default (float32). ``grey=True``: the measurement is of the
    image's grey (a greyscale photo), the operator built for one channel and applied to the channels' mean
    (:func:`ddrm.operators.on_grey`); not for the tasks with a grey measurement of their own (:data:`GREY_OWN`)."""
    try:
        spec = OPERATORS[name]
    except KeyError:
        raise TaskError(f"unknown operator {name!r}; choose from {', '.join(OPERATORS)}") from None
    grey = bool(params.pop("grey", False))
    unknown = set(params) - set(spec.params)
    if unknown:
        raise TaskError(f"operator {name!r} takes no parameter(s) {', '.join(sorted(unknown))}")
    if grey:  # the measurement of a greyscale photo: the operator on one channel, of the image's grey
        if name in GREY_OWN:
            raise TaskError(f"operator {name!r} has its own grey measurement; grey does not apply")
        c, h, w = input_shape
        op = on_grey(spec.build((1, h, w), generator=generator, dtype=dtype, **params), c)
    else:
        op = spec.build(tuple(input_shape), generator=generator, dtype=dtype, **params)
    op.task_name = name  # messages speak in task names, not class names
    return op
