"""Tasks: the strings users type (``sr4``), :class:`TaskSpec` (everything that rebuilds an operator), the inputs a
task needs (masks, kernels, the measurement) and the sidecar beside a measurement.

Values in files and in public signatures are in image units ([0, 1]); an operator's
:meth:`~ddrm.operators.Operator.to_model_range` converts a measurement to the solvers' [-1, 1].
"""

from ..errors import TaskError
from .inputs import (
    MaskOrKernel,
    as_kernel,
    as_kernel_grid,
    as_mask,
    as_measurement,
    is_jpeg,
    jpeg_params,
    jpeg_settings,
    load_kernel,
    load_kernel_grid,
    load_mask,
    read_measurement,
)
from .names import (
    BLIND_BOUNDARIES,
    BLIND_TASKS,
    BLUR_TASKS,
    KERNEL_MODELS,
    KERNEL_TASKS,
    NUMERIC_SUFFIX,
    merge_task_params,
    parse_task,
    task_params,
)
from .noise import (
    DEFAULT_SIGMA_Y,
    NOISE_ESTIMATORS,
    check_sigma_y,
    default_sigma_y,
    estimate_sigma_y,
    mad_noise_level,
    pca_noise_level,
)
from .sidecar import (
    SIDE_FILE_SUFFIXES,
    SIDECAR_VERSION,
    read_sidecar,
    side_files,
    sidecar_path,
    sidecar_record,
    sidecar_writers,
    validate_sidecar,
    write_sidecar,
)
from .spec import (
    TaskSpec,
    blind_start_kernel,
    image_shape_for_measurement,
    kernel_extent,
    make_task,
    spec_for_measurement,
)

__all__ = [
    "TaskError",
    "TaskSpec",
    "MaskOrKernel",
    "BLIND_TASKS",
    "BLIND_BOUNDARIES",
    "BLUR_TASKS",
    "KERNEL_MODELS",
    "KERNEL_TASKS",
    "NUMERIC_SUFFIX",
    "SIDECAR_VERSION",
    "SIDE_FILE_SUFFIXES",
    "parse_task",
    "task_params",
    "merge_task_params",
    "make_task",
    "spec_for_measurement",
    "image_shape_for_measurement",
    "kernel_extent",
    "blind_start_kernel",
    "load_kernel",
    "load_kernel_grid",
    "load_mask",
    "as_kernel",
    "as_kernel_grid",
    "as_mask",
    "as_measurement",
    "read_measurement",
    "jpeg_settings",
    "jpeg_params",
    "is_jpeg",
    "sidecar_path",
    "sidecar_record",
    "side_files",
    "write_sidecar",
    "sidecar_writers",
    "read_sidecar",
    "validate_sidecar",
    "estimate_sigma_y",
    "pca_noise_level",
    "mad_noise_level",
    "NOISE_ESTIMATORS",
    "DEFAULT_SIGMA_Y",
    "default_sigma_y",
    "check_sigma_y",
]
