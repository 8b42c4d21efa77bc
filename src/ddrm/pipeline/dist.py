"""torchrun support: strided sharding, the process group, gathering rows to rank 0.

Launched as ``torchrun --nproc_per_node=N -m ddrm.cli bench ...`` (or ``ddrm restore FOLDER``), each process takes
every N-th work item; since every image has its own seeds, a result never depends on the world size. The library
never reads the launcher's environment by itself: the command line calls :func:`world` (``RANK``, ``WORLD_SIZE``)
and :func:`local_device` (``LOCAL_RANK``) and passes what they say on.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeVar

import torch

__all__ = ["world", "init", "shard", "gather", "broadcast", "barrier", "finish", "local_device"]

T = TypeVar("T")


def world() -> tuple[int, int, int]:
    """``(rank, world size, local rank)`` from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``);
    ``(0, 1, 0)`` when run alone. Only the command line calls this; the library takes what it returns as arguments."""
    try:
        return (int(os.environ.get("RANK", 0)), max(1, int(os.environ.get("WORLD_SIZE", 1))),
                int(os.environ.get("LOCAL_RANK", 0)))  # fmt: skip
    except ValueError:
        return 0, 1, 0


def local_device(device: torch.device, local_rank: int, world_size: int) -> torch.device:
    """Under torchrun each process takes the GPU of its local rank when the device is a bare ``cuda``."""
    if device.type == "cuda" and device.index is None and world_size > 1:
        return torch.device("cuda", local_rank)
    return device


def init(device: torch.device, world_size: int) -> None:
    """Join the process group (NCCL on CUDA, gloo otherwise) when several processes share the work."""
    import torch.distributed as dist

    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def shard(items: Sequence[T], rank: int, size: int) -> list[T]:
    """The items of one process: every ``size``-th from ``rank`` (no padding, no duplicates)."""
    return list(items[rank::size])


def _active() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def gather(obj: Any) -> list[Any]:
    """Every process's ``obj`` on rank 0 (a list, by rank); other ranks get an empty list."""
    if not _active():
        return [obj]
    import torch.distributed as dist

    out: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out or []


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every process."""
    if not _active():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if _active():
        import torch.distributed as dist

        dist.barrier()


def finish() -> None:
    if _active():
        import torch.distributed as dist

        dist.destroy_process_group()
