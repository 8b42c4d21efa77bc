"""What the held-out-photo benchmarks share: their common options and the photo list (see ../shared/DATA.md)."""

from __future__ import annotations

import argparse
from pathlib import Path


def photo_arguments(doc: str, *, size: int, steps: int | None) -> argparse.ArgumentParser:
    """A parser with ``--heldout --size --prior --checkpoint --steps --seed`` (``steps=None``: the solver's own)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--heldout", default="data/photos/heldout", help="folder of held-out photos (PNG)")
    ap.add_argument("--size", type=int, default=size, help="side of the centre crops")
    ap.add_argument("--prior", default="builtin")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--seed", type=int, default=0)
    return ap


def photo_files(args: argparse.Namespace) -> list[Path]:
    """The held-out photos, or a one-line exit when there are none."""
    files = sorted(Path(args.heldout).glob("*.png"))
    if not files:
        raise SystemExit(f"no held-out photos in {args.heldout}; run 'ddrm prepare-data' (see ../shared/DATA.md)")
    return files


def part(text: str) -> tuple[int, int]:
    """``--part i/n`` (an argparse type): the rows whose index is ``i`` modulo ``n``, as ``(i, n)``."""
    i, _, n = text.partition("/")
    if not (i.isdigit() and n.isdigit() and int(i) < int(n)):
        raise argparse.ArgumentTypeError(f"i/n with 0 <= i < n, got {text!r}")
    return int(i), int(n)
