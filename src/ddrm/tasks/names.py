"""Task strings: what a user types (``sr4``, ``jpeg10``, ``deblur_blind``) and the parameters each task takes.

A task names a registered operator (:data:`ddrm.operators.OPERATORS`) with parameters, or a restoration whose
operator is estimated while restoring (``deblur_blind``: the kernel, see :mod:`ddrm.pipeline.blind`).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import TaskError
from ..operators import OPERATORS

__all__ = [
    "NUMERIC_SUFFIX",
    "KERNEL_TASKS",
    "BLUR_TASKS",
    "BLIND_TASKS",
    "BLIND_BOUNDARIES",
    "KERNEL_MODELS",
    "parse_task",
    "task_params",
    "merge_task_params",
]

NUMERIC_SUFFIX = {"sr": "factor", "sr_bicubic": "factor", "cs": "ratio", "jpeg": "quality"}  # "sr4": factor 4
KERNEL_TASKS = ("deblur_motion", "deblur_varying")  # the tasks a kernel file applies to
# the blurs that take a boundary model; a measurement given without a sidecar (an own photo) is their valid part
BLUR_TASKS = ("deblur_uni", "deblur_gauss", "deblur_aniso", "deblur_motion", "deblur_varying")
KERNEL_MODELS = ("separable", "full")
# restorations whose operator is estimated while restoring: their parameters (with defaults)
# (narrow: the image is a second, non-blind run with the final estimate narrowed by this factor in (0, 1]; 1, the
# default: the estimate itself, which put fewer rows below the blurry photo than the estimating run's own image on the
# training and the held-out photos alike: ddrm.pipeline.blind.restore_blind, docs/benchmarks.md; draws: the kernel
# estimated under that many draws of the solver's noise, the image departing least from the photo kept; 2, the
# default: fewer rows below the blurry photo than one draw on the training photos and on the held-out ones under each
# seed tried, docs/benchmarks.md "Several draws of the kernel"; refits: a held full kernel (a photo's camera shake)
# fitted again to its restored samples and restored again, that many times; None, the default: HELD_REFITS there, 0
# for every other model, whose chain refines its estimate itself)
BLIND_TASKS: dict[str, dict[str, Any]] = {
    "deblur_blind": {
        "size": 21,
        "model": "separable",
        "boundary": "circular",
        "narrow": 1.0,
        "draws": 2,
        "refits": None,
    }
}
# a photo's full kernel (the classical estimate held) is fitted again this many times, each time to the mean of the
# samples its run restored, and the photo restored again with the fit (an EM alternation, as Laroche et al. 2024
# alternate a diffusion restoration and a kernel fit): a restored image is far nearer the scene than the L0 image the
# classical guess was fitted to (ddrm.pipeline.blind.restore_blind's refits). Chosen on the training photos of
# ../shared/DATA.md. On the held-out photos (24 shakes of 9-31 px at sigma_y 0.01, each at its own size): below the
# blurry photo in 0 instead of 3, 3.94 -> 3.88 dB below the true kernel's mean of 4 (docs/benchmarks.md, "Camera
# shake: the kernel fitted again to its restoration"). Run further on a lent GPU, on the training photos, six rounds
# (the kernel error rising with each), an allowance falling over the rounds and three other refits (damped, with more
# ridge, smoother) did not beat two rounds of this fit (docs/benchmarks.md, "Camera shake: the refits run further and
# made otherwise")
HELD_REFITS = 2
# the boundaries each kernel model is offered with (the last: a photo's blur, the default without a sidecar); a full
# kernel of a photo's blur is the classical estimate held, its error taken as noise (ddrm.pipeline.blind.restore_blind)
BLIND_BOUNDARIES = {"separable": ("circular", "valid"), "full": ("circular", "valid")}


def holds_estimate(model: str, boundary: str) -> bool:
    """Whether a blind kernel of ``model`` with ``boundary`` is the classical estimate held rather than refined by the
    diffusion chain (``ddrm.pipeline.blind.restore_blind``'s ``refine=None``): a full kernel with a valid boundary, a
    photo's camera shake. It is not drawn, runs its own step count and has DiffPIR as its default solver."""
    return model == "full" and boundary == "valid"


def task_params(name: str) -> dict[str, Any]:
    """The parameters task ``name`` takes, with their defaults."""
    return dict(BLIND_TASKS[name]) if name in BLIND_TASKS else dict(OPERATORS[name].params)


def parse_task(text: str) -> tuple[str, dict]:
    """``"sr4"`` -> ``("sr", {"factor": 4})``; a registered name maps to itself."""
    if text in OPERATORS or text in BLIND_TASKS:
        return text, {}
    m = re.fullmatch(r"([a-z_]+?)(\d+)", text)
    if m and m.group(1) in NUMERIC_SUFFIX:
        return m.group(1), {NUMERIC_SUFFIX[m.group(1)]: int(m.group(2))}
    others = [n for n in [*OPERATORS, *BLIND_TASKS] if n not in NUMERIC_SUFFIX]
    examples = ", ".join(["sr4", "sr_bicubic4", "cs4", "jpeg10", *others])
    raise TaskError(f"unknown task {text!r}; choose from {examples}")


def merge_task_params(name: str, params: dict, given: dict[str, Any]) -> dict:
    """Add the parameters the user gave (``None`` = not given) to a task's, refusing those it does not take."""
    accepted = task_params(name)
    out = dict(params)
    for key, value in given.items():
        if value is None:
            continue
        if key not in accepted:
            raise TaskError(f"{key} does not apply to task {name}")
        out[key] = value
    return out
