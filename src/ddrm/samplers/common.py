"""Pieces every sampler shares: input checks, the per-step callback record and the progress bar."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..operators.base import SVDOperator

__all__ = ["StepInfo", "check_inputs", "progress"]


@dataclass(frozen=True)
class StepInfo:
    """What a sampler hands to ``callback`` after step ``index`` (of ``steps``): the noise level it denoised
    at (``sigma``), the level it moved to (``sigma_next``), the noisy iterate ``x`` (VE form) and the
    denoiser's estimate ``x0``."""

    index: int
    steps: int
    sigma: float
    sigma_next: float
    x: Tensor
    x0: Tensor


def check_inputs(operator: SVDOperator, y: Tensor, sigma_y: float) -> None:
    if not isinstance(y, Tensor):
        raise TypeError("y must be a torch.Tensor")
    if not (isinstance(sigma_y, (int, float)) and math.isfinite(sigma_y) and sigma_y >= 0):
        raise ValueError(f"sigma_y must be a finite number >= 0, got {sigma_y!r}")
    if tuple(y.shape[1:]) != tuple(operator.measurement_shape):
        raise ValueError(
            f"y has shape {tuple(y.shape)} but the operator measures (B, {', '.join(map(str, operator.measurement_shape))})"
        )
    if not torch.isfinite(y).all():
        raise ValueError("y contains NaN or infinite values")


def progress(it: Iterable, *, enabled: bool, desc: str) -> Iterable:
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, leave=False)
