"""The device a run uses: named by the user and checked to exist here, or chosen (``auto``), and said in one line."""

from __future__ import annotations

import torch

from ..errors import SetupError

__all__ = ["resolve_device", "describe_device"]


def resolve_device(text: str | torch.device = "auto") -> torch.device:
    """A device the user named, checked to exist here (``cpu``, ``cuda``, ``cuda:1``, ``mps``); ``auto`` takes CUDA,
    then MPS, then the CPU."""
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, TypeError):
        raise SetupError(f"unknown device {text!r}; use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SetupError(
                f"device {text!r}: CUDA is not available here (no GPU, or a CPU-only PyTorch); use --device cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise SetupError(f"device {text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise SetupError(f"device {text!r}: MPS is not available here; use --device cpu")
    elif device.type != "cpu":
        raise SetupError(f"device {text!r} is not supported; use cpu, cuda, cuda:N or mps")
    return device


def describe_device(device: torch.device) -> str:
    """One line naming the device a run uses (printed once by the front ends)."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"device: cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "cpu":
        return f"device: cpu ({torch.get_num_threads()} threads)"
    return f"device: {device.type}"
