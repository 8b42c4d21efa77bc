"""How a committed result was made: the prior's weights digest, the commit (``-dirty`` when the tree had changes),
torch and the device. Every result file under ``benchmarks/results`` and every figure record carries it."""

from __future__ import annotations

import json
import platform
import shlex
import sys
from pathlib import Path

import torch

from ddrm.bench.runner import source_commit
from ddrm.checkpoints import weights_identity


def weights_digest(prior: str) -> str:
    """The SHA-256 of the built-in prior's weights (each expert's, joined; 16 hex digits each): the library's
    :func:`~ddrm.checkpoints.weights_identity`, which loading checks against the files."""
    return "+".join(part[:16] for part in weights_identity(prior).split("+"))


def commit() -> str:
    """``git describe --always --dirty --abbrev=40`` of this checkout."""
    return source_commit() or ""


def command_line() -> str:
    """The command this run was started with: ``python benchmarks/SCRIPT`` and its arguments as given, quoted for a
    shell. With the commit and the settings recorded beside it, what makes the file again (a command rebuilt from the
    options a script chose to name left out others that were given: the photos, the crops' size, the steps)."""
    return shlex.join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def provenance(prior: str = "builtin", device: str | None = None) -> dict[str, str]:
    """The fields a result file records about how it was made; ``device``: the device the run used when not this
    machine's CPU (e.g. ``"cuda (NVIDIA H200)"``)."""
    return {
        "prior": prior,
        "weights_sha256": weights_digest(prior),
        "commit": commit(),
        "torch": torch.__version__,
        "device": device or f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
    }


def show(row: dict, digits: int = 3) -> None:
    """One result row as a JSON line, floats rounded (the run's progress)."""
    print(json.dumps({k: round(v, digits) if isinstance(v, float) else v for k, v in row.items()}), flush=True)


def write_result(
    path: str | Path,
    command: str,
    rows: list[dict],
    prior: str = "builtin",
    device: str | None = None,
    **fields: object,
) -> Path:
    """The result file ``path`` (JSON): the command, the run's settings, :func:`provenance` (of ``device``) and the
    rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"command": command, **fields, **provenance(prior, device), "rows": rows}
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path
