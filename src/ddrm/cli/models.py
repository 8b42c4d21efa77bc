"""``ddrm models``: the prior presets, the built-in prior and the diffusers option, with sizes and sources."""

from __future__ import annotations

import argparse

from ..checkpoints import BUILTIN_DIR, BUILTIN_NAMES, builtin_manifest
from ..errors import CheckpointError
from ..models import PRESETS, count_parameters

__all__ = ["add_commands"]


def cmd_models(args: argparse.Namespace) -> int:
    rows = []
    for p in PRESETS.values():
        rows.append(
            (
                p.name,
                f"{p.image_size}x{p.image_size}",
                f"{count_parameters(p.build) / 1e6:.1f}M",
                ", ".join(p.files),
                p.source,
            )
        )
    for name in BUILTIN_NAMES:
        try:
            meta = builtin_manifest(name)
        except CheckpointError:
            rows.append((name, "-", "-", f"not installed ({BUILTIN_DIR})", "ddrm's own prior"))
            continue
        size = meta.get("train_size", "any")
        rows.append(
            (
                name,
                f"any (trained {size}x{size})",
                f"{meta['parameters'] / 1e6:.1f}M",
                f"shipped ({meta['weights']})",
                f"{meta['source']}; {meta.get('prediction', 'epsilon')} prediction",
            )
        )
    rows.append(
        ("hf:ORG/NAME", "from config", "-", "diffusers folder or hub id", "diffusers UNet2DModel (ddrm[diffusers])")
    )
    head = ("name", "image size", "params", "checkpoint file", "source")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(4)]
    line = "  ".join(f"{{:{w}s}}" for w in widths) + "  {}"
    print(line.format(*head))
    for r in rows:
        print(line.format(*r))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("models", help="list the prior presets and the built-in prior")
    p.set_defaults(func=cmd_models)
