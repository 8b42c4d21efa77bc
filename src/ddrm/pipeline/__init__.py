"""The restore pipeline: one batch in memory (:func:`restore_batch`), files and folders on disk (:func:`run_restore`),
the one-call API (:func:`restore`), and what every run needs around them (devices, the memory guard, the prior
loader, outputs and their checks, blind kernel estimation, sharding across processes)."""

from .api import restore
from .batch import (
    DEFAULT_SOLVERS,
    ESTIMATES,
    Restoration,
    consistency_residual,
    consistency_warning,
    default_solver,
    image_generator,
    noise_scale,
    pinv_image,
    restore_batch,
    sample_generators,
    step_warning,
)
from .blind import KernelEstimator, check_solver, estimate_full, estimate_separable, kernel_error, restore_blind
from .degrade import degrade_to_files
from .device import describe_device, resolve_device
from .memory import available_bytes, check_memory, estimate_peak_bytes
from .outputs import (
    STD_PICTURE_SCALE,
    check_outputs,
    check_writable,
    find_reference,
    grid_image,
    grid_path,
    kernel_paths,
    list_inputs,
    measurement_view,
    plan_outputs,
    result_path,
    std_paths,
)
from .priors import AUTO_TILE_PIXELS, DEFAULT_TILE, PriorLoader
from .run import RestoreJob, job_outputs, result_record, run_restore

__all__ = [
    "restore",
    "Restoration",
    "restore_batch",
    "pinv_image",
    "image_generator",
    "default_solver",
    "DEFAULT_SOLVERS",
    "ESTIMATES",
    "consistency_residual",
    "consistency_warning",
    "sample_generators",
    "step_warning",
    "noise_scale",
    "KernelEstimator",
    "estimate_separable",
    "estimate_full",
    "kernel_error",
    "restore_blind",
    "check_solver",
    "degrade_to_files",
    "resolve_device",
    "describe_device",
    "estimate_peak_bytes",
    "available_bytes",
    "check_memory",
    "list_inputs",
    "plan_outputs",
    "find_reference",
    "check_outputs",
    "check_writable",
    "grid_path",
    "grid_image",
    "kernel_paths",
    "result_path",
    "std_paths",
    "STD_PICTURE_SCALE",
    "measurement_view",
    "PriorLoader",
    "AUTO_TILE_PIXELS",
    "DEFAULT_TILE",
    "RestoreJob",
    "job_outputs",
    "result_record",
    "run_restore",
]
