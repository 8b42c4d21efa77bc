"""Degradation operators: three contracts (:class:`Operator` > :class:`LinearOperator` > :class:`SVDOperator`), one
module per family, and the registry of named operators (:data:`OPERATORS`, :func:`build_operator`).

No dense ``H`` is ever built (except by :class:`DenseOperator`, for small problems and tests).
"""

from .base import Generators, LinearOperator, Operator, SVDOperator, conjugate_gradient, randn
from .compose import OnGrey, OnGreySVD, ValidPart, compose, on_grey, valid_margins
from .fourier import CircularConvolution
from .hadamard import WalshHadamardCS, fwht
from .jpeg import JPEG, LUMA_WEIGHTS
from .kernels import ddrm_anisotropic_kernels, ddrm_gaussian_kernel_1d, motion_kernel, uniform_kernel_1d
from .kronecker import (
    BOUNDARIES,
    BlockSuperResolution,
    Kronecker,
    bicubic_matrix_1d,
    bicubic_super_resolution,
    block_average_matrix_1d,
    circulant_matrix_1d,
    colorization,
    conv_matrix_1d,
    gaussian_kernel_1d,
    separable_blur,
    valid_conv_matrix_1d,
)
from .registry import (
    BOX_MARGIN,
    GREY_OWN,
    OPERATORS,
    OperatorSpec,
    box_mask,
    build_operator,
    default_motion_size,
    random_kernel_grid,
    random_mask,
)
from .simple import Denoising, DenseOperator, Inpainting
from .varying import SpatiallyVaryingBlur, grid_weights

__all__ = [
    "Operator",
    "LinearOperator",
    "SVDOperator",
    "Generators",
    "conjugate_gradient",
    "randn",
    "Denoising",
    "Inpainting",
    "DenseOperator",
    "Kronecker",
    "BlockSuperResolution",
    "CircularConvolution",
    "SpatiallyVaryingBlur",
    "WalshHadamardCS",
    "JPEG",
    "LUMA_WEIGHTS",
    "grid_weights",
    "compose",
    "ValidPart",
    "valid_margins",
    "OnGrey",
    "OnGreySVD",
    "on_grey",
    "fwht",
    "separable_blur",
    "bicubic_super_resolution",
    "colorization",
    "conv_matrix_1d",
    "circulant_matrix_1d",
    "valid_conv_matrix_1d",
    "BOUNDARIES",
    "bicubic_matrix_1d",
    "block_average_matrix_1d",
    "gaussian_kernel_1d",
    "uniform_kernel_1d",
    "ddrm_gaussian_kernel_1d",
    "ddrm_anisotropic_kernels",
    "motion_kernel",
    "random_mask",
    "box_mask",
    "BOX_MARGIN",
    "random_kernel_grid",
    "default_motion_size",
    "OperatorSpec",
    "OPERATORS",
    "build_operator",
    "GREY_OWN",
]
