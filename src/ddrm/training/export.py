"""Exporting a trained prior: the EMA weights as safetensors with a manifest (config, prediction, SHA-256, training
settings) that :func:`ddrm.load_prior` checks."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .data import sha256_of

__all__ = ["export_builtin"]


def export_builtin(checkpoint: Path, dest_dir: Path, notes: dict | None = None) -> Path:
    """Write the EMA weights of a training checkpoint as ``builtin.safetensors`` plus ``builtin.json``."""
    from safetensors.torch import save_file

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    cfg = json.loads(state["config"])
    sigma_range = json.loads(state.get("sigma_range", "null"))
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    weights = dest_dir / "builtin.safetensors"
    tensors = {k: v.contiguous() for k, v in state["ema"].items()}
    tmp = weights.with_name(weights.name + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(weights)
    meta = {
        "weights": weights.name,
        "sha256": sha256_of(weights),
        "config": cfg,
        "schedule": "linear",
        "num_timesteps": 1000,
        "prediction": state.get("prediction", "epsilon"),
        **({"train_sigma_range": sigma_range} if sigma_range else {}),
        "train_size": cfg["image_size"],
        "train_steps": int(state["step"]),
        "parameters": int(sum(v.numel() for v in tensors.values())),
        "source": "ddrm's own prior: trained with 'ddrm train-prior' on the photos of 'ddrm prepare-data'",
        **(notes or {}),
    }
    (dest_dir / "builtin.json").write_text(json.dumps(meta, indent=1))
    return weights
