"""Checkpoints: safe reading and key checks, resumable downloads with recorded digests, and :func:`load_prior`, the
one entry point for priors (presets of public checkpoints, diffusers folders or hub ids, the built-in prior)."""

from ..errors import CheckpointError, DownloadError
from .download import cache_dir, download_checkpoint, fetch, sha256_file
from .loading import (
    BUILTIN_DIR,
    BUILTIN_NAMES,
    DiffusersUNet,
    builtin_manifest,
    load_prior,
    prior_space,
    weights_identity,
)
from .reading import check_archive, check_state_dict, load_network, read_state_dict

__all__ = [
    "CheckpointError",
    "DownloadError",
    "load_prior",
    "prior_space",
    "weights_identity",
    "builtin_manifest",
    "BUILTIN_DIR",
    "BUILTIN_NAMES",
    "DiffusersUNet",
    "read_state_dict",
    "check_state_dict",
    "check_archive",
    "load_network",
    "cache_dir",
    "download_checkpoint",
    "fetch",
    "sha256_file",
]
