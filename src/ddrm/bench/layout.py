"""A run folder's layout: row ids and the folders of a group's images (``RUN_DIR/images``), and the rows themselves,
appended to ``RUN_DIR/rows/part-RANK.jsonl`` and fsynced as each image finishes."""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

__all__ = ["config_hash", "safe_name", "row_folder", "row_folder_of", "read_rows", "append_row", "TIMING_FIELDS"]

TIMING_FIELDS = ("seconds", "overhead_seconds", "peak_mib", "warmup", "batch")


def config_hash(*objs: Any) -> str:
    """A short hash of the configuration a row depends on (change a parameter and only its rows are redone)."""
    text = json.dumps([asdict(o) if hasattr(o, "__dataclass_fields__") else o for o in objs], sort_keys=True)
    return f"{zlib.crc32(text.encode()):08x}"


def safe_name(text: str) -> str:
    """``text`` with every character but letters, digits and ``-_.+`` replaced by ``_`` (a file or folder name)."""
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in text)


def row_folder(dataset: str, task: str, sigma_y: float, method: str, steps: int | None, seed: int) -> Path:
    """Where a group's restored images go, under ``RUN_DIR/images``."""
    tail = "" if steps is None else f"_s{steps}"
    return Path(safe_name(dataset)) / safe_name(f"{task}_sy{sigma_y:g}") / safe_name(f"{method}{tail}_seed{seed}")


def row_folder_of(row: dict) -> Path:
    """The folder of a row's restored image, under ``RUN_DIR/images``."""
    return row_folder(row["dataset"], row["task"], row["sigma_y"], row["method"], row["steps"], row["seed"])


def read_rows(run_dir: Path) -> dict[str, dict]:
    """Every finished row of a run folder (part files of all processes and the merged file); a line cut short by
    an interruption is ignored (its image is redone)."""
    rows: dict[str, dict] = {}
    files = [run_dir / "rows.jsonl", *sorted((run_dir / "rows").glob("part-*.jsonl"))]
    for f in files:
        if not f.is_file():
            continue
        for line in f.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "id" in row:
                rows[row["id"]] = row
    return rows


def append_row(path: Path, row: dict) -> None:
    line = json.dumps(row, sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
