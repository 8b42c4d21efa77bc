"""How a committed result was made: the prior's weights digest, the commit (``-dirty`` when the tree had changes),
torch and the device. Every result file under ``benchmarks/results`` and every figure record carries it."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from pathlib import Path

import torch

from ddrm.checkpoints import BUILTIN_DIR, builtin_manifest

ROOT = Path(__file__).resolve().parent.parent


def weights_digest(prior: str) -> str:
    """The SHA-256 of the built-in prior's weights (each expert's, joined)."""
    meta = builtin_manifest(prior)
    names = meta.get("experts", [prior])
    return "+".join(hashlib.sha256((BUILTIN_DIR / builtin_manifest(n)["weights"]).read_bytes()).hexdigest()[:16]
                    for n in names)  # fmt: skip


def commit() -> str:
    """``git describe --always --dirty --abbrev=40`` of this checkout."""
    cmd = ["git", "describe", "--always", "--dirty", "--abbrev=40"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True).stdout.strip()


def provenance(prior: str = "builtin") -> dict[str, str]:
    """The fields a result file records about how it was made."""
    return {
        "prior": prior,
        "weights_sha256": weights_digest(prior),
        "commit": commit(),
        "torch": torch.__version__,
        "device": f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
    }


def show(row: dict, digits: int = 3) -> None:
    """One result row as a JSON line, floats rounded (the run's progress)."""
    print(json.dumps({k: round(v, digits) if isinstance(v, float) else v for k, v in row.items()}), flush=True)


def write_result(path: str | Path, command: str, rows: list[dict], prior: str = "builtin", **fields: object) -> Path:
    """The result file ``path`` (JSON): the command, the run's settings, :func:`provenance` and the rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"command": command, **fields, **provenance(prior), "rows": rows}
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path
