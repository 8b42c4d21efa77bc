"""Activation checkpointing for the networks' blocks (gradient methods such as DPS backpropagate through them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

__all__ = ["run_block"]


def run_block(enabled: bool, block: Callable[..., Any], *args: Any) -> Any:
    """``block(*args)``; when ``enabled`` and autograd is recording, its activations are not stored but recomputed
    during the backward pass (memory traded for one more forward pass of the block)."""
    if enabled and torch.is_grad_enabled():
        return checkpoint(block, *args, use_reentrant=False)
    return block(*args)
