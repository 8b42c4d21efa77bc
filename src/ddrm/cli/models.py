"""``ddrm models``: the prior presets, the built-in prior and the diffusers option, with sizes and sources."""

from __future__ import annotations

import argparse

from ..checkpoints import BUILTIN_DIR, BUILTIN_NAMES, builtin_manifest, cache_dir
from ..errors import CheckpointError
from ..models import PRESETS, count_parameters

__all__ = ["add_commands"]


PREDICTS = {"epsilon": "predicts the noise", "v_prediction": "predicts v (a mix of noise and image)",
            "sample": "predicts the clean image"}  # fmt: skip


def _local(name: str) -> str:
    """Whether a preset's file is in the cache: its path and size, and whether its digest is recorded (verified)."""
    path = cache_dir() / PRESETS[name].files[0]
    if not path.is_file():
        return f"not downloaded ('ddrm download {name}')" if PRESETS[name].url else "not here: fetch by hand"
    size = f"{path.stat().st_size / 2**20:.0f} MiB"
    verified = "verified" if path.with_name(path.name + ".sha256.json").is_file() else "not yet verified"
    return f"{path} ({size}, {verified})"


def cmd_models(args: argparse.Namespace) -> int:
    rows = []
    for p in PRESETS.values():
        rows.append(
            (
                p.name,
                f"{p.image_size}x{p.image_size}",
                f"{count_parameters(p.build) / 1e6:.1f}M",
                f"{', '.join(p.files)}: {_local(p.name)}",
                f"{p.source}; {PREDICTS.get(p.prediction, p.prediction)}",
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
                f"{meta['source']}; {PREDICTS.get(meta.get('prediction', 'epsilon'), meta.get('prediction'))}",
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
    from ..app.demo import BUILTIN_NOTE

    print(f"\nnote: {BUILTIN_NOTE}")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("models", help="list the prior presets and the built-in prior")
    p.set_defaults(func=cmd_models)
