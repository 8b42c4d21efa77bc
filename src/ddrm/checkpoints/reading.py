"""Reading weights safely (safetensors, or a torch pickle restricted to tensors) and checking them key by key and
shape by shape against a network; nothing that would need code unpickled is ever loaded."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import CheckpointError

__all__ = ["read_state_dict", "check_state_dict", "check_archive", "load_network", "PathLike"]

PathLike = str | Path


def _unwrap(obj: Any, path: Path) -> dict[str, Tensor]:
    """Find the tensor dict inside common checkpoint layouts and drop a DataParallel ``module.`` prefix."""
    for _ in range(3):
        if isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], dict):
            obj = obj[0]  # DDIM-style [model_state, optimizer_state, ...]
        elif isinstance(obj, dict) and not all(isinstance(v, Tensor) for v in obj.values()):
            for key in ("ema", "state_dict", "model", "params_ema", "net"):
                if isinstance(obj.get(key), dict):
                    obj = obj[key]
                    break
            else:
                break
        else:
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: no state dict of tensors found in the checkpoint")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def _not_a_checkpoint(path: Path) -> str | None:
    """What the file is, when its first bytes show it is no checkpoint at all (``None``: it may be one)."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "an empty file"
    if head.startswith((b"PK\x03\x04", b"\x80")) or head[:8] == b"\x89HDF\r\n\x1a\n":
        return None  # a zip (PyTorch >= 1.6), a legacy pickle
    start = head.lstrip()[:16].lower()
    if start.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        return "an HTML page, not a checkpoint (a download that got a web page: a login, a quota or an error page)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return f"a text file, not a checkpoint (it starts with {head.strip()[:24].decode('utf-8', 'replace')!r})"


def _truncated_zip(path: Path) -> bool:
    """A file that starts as a zip archive but whose central directory cannot be found (cut short)."""
    import zipfile

    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04" and not zipfile.is_zipfile(path)


def check_archive(path: PathLike) -> None:
    """Refuse a PyTorch zip checkpoint whose archive is truncated or whose entries fail their CRC-32 (a damaged
    download); other formats pass (they carry no checksums)."""
    import zipfile

    path = Path(path)
    described = _not_a_checkpoint(path)
    if described is not None:
        raise CheckpointError(f"{path}: {described}")
    if _truncated_zip(path):
        raise CheckpointError(f"{path}: a truncated or damaged zip archive (an interrupted or corrupted download)")
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CheckpointError(f"{path}: a damaged zip archive ({exc})") from None
    if bad is not None:
        raise CheckpointError(f"{path}: entry {bad} fails its CRC-32 check: the file is corrupted; download it again")


def read_state_dict(path: PathLike) -> dict[str, Tensor]:
    """Read weights safely: safetensors, or a torch pickle restricted to tensors (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises several types for corrupt files
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    described = _not_a_checkpoint(path)
    if described is not None:
        raise CheckpointError(f"{path}: {described}")
    if _truncated_zip(path):
        raise CheckpointError(f"{path}: a truncated or damaged zip archive (an interrupted download?); fetch it again")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsupported object"
        raise CheckpointError(
            f"{path}: refused to load, the file needs arbitrary code to be unpickled ({first[:200]}); "
            "convert it to safetensors or a plain state dict"
        ) from None
    except Exception as exc:  # a text or truncated file raises KeyError, EOFError, RuntimeError, ... in the unpickler
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}{': ' + detail if detail else ''})"
        ) from None
    return _unwrap(obj, path)


def check_state_dict(want: dict[str, Tensor], state: dict[str, Tensor], name: str = "network") -> None:
    """Refuse ``state`` unless it has exactly the keys of ``want`` with the same shapes (``want`` may live on the
    meta device); the error names the first missing/unexpected keys or the first wrong shape."""
    missing = [k for k in want if k not in state]
    unexpected = [k for k in state if k not in want]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first: {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first: {', '.join(unexpected[:3])})")
        raise CheckpointError(f"checkpoint does not match {name}: " + "; ".join(parts))
    bad = [k for k, v in want.items() if tuple(state[k].shape) != tuple(v.shape)]
    if bad:
        k = bad[0]
        raise CheckpointError(
            f"checkpoint does not match {name}: {len(bad)} tensors of the wrong shape "
            f"(first: {k} is {tuple(state[k].shape)}, expected {tuple(want[k].shape)})"
        )


def load_network(net: nn.Module, state: dict[str, Tensor], name: str = "network") -> nn.Module:
    """Strictly load ``state`` into ``net``; mismatches name the first missing/unexpected keys."""
    want = net.state_dict()
    check_state_dict(want, state, name)
    net.load_state_dict({k: v.to(want[k].dtype) for k, v in state.items()}, strict=True)
    return net.eval().requires_grad_(False)
