"""Network architectures (loaders only) and the named presets of public checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .adm import ADMConfig, ADMUNet
from .ddpm import DDPMConfig, DDPMUNet

__all__ = ["ADMConfig", "ADMUNet", "DDPMConfig", "DDPMUNet", "Preset", "PRESETS", "count_parameters"]


@dataclass(frozen=True)
class Preset:
    """A public checkpoint: how to build its network and what it expects."""

    name: str
    build: Callable[[], nn.Module]
    source: str
    files: tuple[str, ...]
    image_size: int
    schedule: str = "linear"
    prediction: str = "epsilon"
    channels: int = 3
    url: str | None = None  # where ``ddrm download`` fetches ``files[0]`` (None: by hand only; see ``source``)
    # the publisher's file, where known: checked before the file is used or its digest recorded (None: unknown here;
    # the zip's own CRC-32s and the architecture check still apply)
    sha256: str | None = None
    size: int | None = None


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "adm-imagenet256-uncond",
            lambda: ADMUNet(ADMConfig()),
            "OpenAI guided-diffusion, ImageNet 256x256 unconditional (used by DDRM, DDNM, DiffPIR, DPS)",
            ("256x256_diffusion_uncond.pt",),
            256,
            url="https://openaipublic.blob.core.windows.net/diffusion/jul-2021/256x256_diffusion_uncond.pt",
        ),
        Preset(
            "adm-ffhq256",
            lambda: ADMUNet(
                ADMConfig(model_channels=128, num_res_blocks=1, attention_ds=(16,), num_heads=4, num_head_channels=64)
            ),
            "DPS / DiffPIR FFHQ 256x256 ADM (Google Drive only: file id 1BGwhRWUoguF-D8wlZ65tf227gp3cDUDh)",
            ("ffhq_10m.pt",),
            256,
        ),
        Preset(
            "ddpm-celebahq256",
            lambda: DDPMUNet(DDPMConfig()),
            "DDPM CelebA-HQ 256x256 as used by DDRM (ermongroup/ddim Model)",
            ("celeba_hq.ckpt",),
            256,
            url="https://image-editing-test-12345.s3-us-west-2.amazonaws.com/checkpoints/celeba_hq.ckpt",
        ),
    ]
}


def count_parameters(build: Callable[[], nn.Module]) -> int:
    """Parameter count of a network built on the meta device (no memory is allocated)."""
    with torch.device("meta"):
        net = build()
    return sum(p.numel() for p in net.parameters())
