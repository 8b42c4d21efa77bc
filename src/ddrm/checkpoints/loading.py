"""One entry point for priors: ``load_prior(name, checkpoint=...)``.

* a preset name (``ddrm models`` lists them) with ``checkpoint=PATH`` (``.safetensors``, or ``.pt``/``.ckpt``/``.pth``
  read with ``torch.load(weights_only=True)``: files that need code to be unpickled are refused);
* ``"hf:ORG/NAME"`` or ``"hf:/local/folder"``: a diffusers ``UNet2DModel`` with its scheduler (extra ``ddrm[diffusers]``);
* ``"builtin"``: the small natural-image prior shipped in the package (SHA-256 checked at load): two expert
  networks by noise level, ``"builtin-low"`` (epsilon prediction, trained on sigma <= 10) below sigma 8 and
  ``"builtin-high"`` (v-prediction, bounded x0, trained on sigma >= 6) above; each loads on its own too, as does
  the first network ``"builtin-v1"``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import CheckpointError, SetupError
from ..models import PRESETS, ADMConfig, ADMUNet
from ..priors import NetworkPrior, NoiseLevelExperts, Prior, VPSchedule
from .download import download_checkpoint
from .reading import PathLike, load_network, read_state_dict

__all__ = ["load_prior", "BUILTIN_DIR", "BUILTIN_NAMES", "builtin_manifest", "DiffusersUNet", "weights_identity"]

BUILTIN_DIR = Path(__file__).parent.parent / "weights"
BUILTIN_NAMES = ("builtin", "builtin-low", "builtin-high", "builtin-v1")


def _load_preset(name: str, checkpoint: PathLike | None, **kw) -> NetworkPrior:
    preset = PRESETS[name]
    if checkpoint is None:
        checkpoint = download_checkpoint(preset)  # the cached file, fetched first when missing
    state = read_state_dict(checkpoint)
    net = load_network(preset.build(), state, name)
    return NetworkPrior(
        net,
        VPSchedule.from_name(preset.schedule),
        prediction=preset.prediction,
        channels=preset.channels,
        image_size=(preset.image_size, preset.image_size),
        stride=net.stride,
        **kw,
    )


class DiffusersUNet(nn.Module):
    """Adapter: a diffusers ``UNet2DModel`` as ``net(x_t, t) -> output tensor``."""

    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet

    @property
    def gradient_checkpointing(self) -> bool:
        return bool(getattr(self.unet, "gradient_checkpointing", False))

    @gradient_checkpointing.setter
    def gradient_checkpointing(self, enabled: bool) -> None:
        # diffusers models that support it expose enable/disable_gradient_checkpointing()
        method = "enable_gradient_checkpointing" if enabled else "disable_gradient_checkpointing"
        if getattr(self.unet, "_supports_gradient_checkpointing", False) and hasattr(self.unet, method):
            getattr(self.unet, method)()

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        return self.unet(x, t).sample


def _load_diffusers(source: str, **kw) -> NetworkPrior:
    try:
        from diffusers import DDPMScheduler, UNet2DModel
    except ImportError:
        raise SetupError("hf: priors need the optional dependency: pip install 'ddrm[diffusers]'") from None
    local = Path(source)
    if local.exists() and not local.is_dir():
        raise CheckpointError(f"{source}: a diffusers model is a folder (config.json + weights)")
    try:
        if local.is_dir():
            unet_dir = local / "unet" if (local / "unet" / "config.json").is_file() else local
            if not (unet_dir / "config.json").is_file():
                raise CheckpointError(f"{source}: no config.json for a UNet2DModel (in the folder or its unet/)")
            unet = UNet2DModel.from_pretrained(str(unet_dir))
            sched_dir = next((d for d in (local / "scheduler", local) if (d / "scheduler_config.json").is_file()), None)
            scheduler = DDPMScheduler.from_pretrained(str(sched_dir)) if sched_dir else None
        else:
            try:
                unet = UNet2DModel.from_pretrained(source, subfolder="unet")
            except Exception:
                unet = UNet2DModel.from_pretrained(source)
            try:
                scheduler = DDPMScheduler.from_pretrained(source, subfolder="scheduler")
            except Exception:
                scheduler = DDPMScheduler.from_pretrained(source)
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"could not load diffusers model {source!r}: {str(exc).splitlines()[0][:200]}") from None
    schedule = VPSchedule(scheduler.betas.double(), "diffusers") if scheduler is not None else VPSchedule.linear()
    prediction = scheduler.config.prediction_type if scheduler is not None else "epsilon"
    size = unet.config.sample_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    stride = 2 ** sum(1 for b in unet.config.down_block_types[:-1])
    net = DiffusersUNet(unet.eval().requires_grad_(False))
    return NetworkPrior(
        net, schedule, prediction=prediction, channels=unet.config.in_channels, image_size=size, stride=stride, **kw
    )


def builtin_manifest(name: str = "builtin") -> dict:
    """The manifest (``NAME.json``: weights file, SHA-256, network config, prediction, ...) of a shipped prior."""
    path = BUILTIN_DIR / f"{name}.json"
    if not path.is_file():
        raise CheckpointError(f"the built-in prior is not installed ({path} is missing)")
    return json.loads(path.read_text())


def _load_builtin(name: str = "builtin", clip_x0: bool | None = None, **kw) -> Prior:
    meta = builtin_manifest(name)
    if "experts" in meta:  # noise-level experts (priors.NoiseLevelExperts), each a shipped network
        experts = [_load_builtin(e, clip_x0, **kw) for e in meta["experts"]]
        return NoiseLevelExperts(experts, meta["boundaries"])
    weights = BUILTIN_DIR / meta["weights"]
    if not weights.is_file():
        raise CheckpointError(f"the built-in prior's weights are missing: {weights}")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    if digest != meta["sha256"]:
        raise CheckpointError(f"{weights}: SHA-256 {digest[:12]}... differs from the recorded {meta['sha256'][:12]}...")
    cfg = meta["config"]
    net = load_network(ADMUNet(ADMConfig(**cfg)), read_state_dict(weights), name)
    return NetworkPrior(
        net,
        VPSchedule.from_name(meta.get("schedule", "linear"), meta.get("num_timesteps", 1000)),
        prediction=meta.get("prediction", "epsilon"),
        channels=cfg.get("in_channels", 3),
        image_size=None,
        stride=net.stride,
        clip_x0=bool(meta.get("clip_x0", False)) if clip_x0 is None else clip_x0,
        **kw,
    )


def weights_identity(name: str, checkpoint: PathLike | None = None) -> str:
    """What identifies a prior's weights, for records that must not mix two: the SHA-256 of a shipped prior (its
    experts' joined), of a preset's checkpoint file (the digest recorded at its download, else the file's own),
    ``"analytic"`` for the Gaussian prior; a diffusers prior by the SHA-256 of its weight files when the folder is
    local, else its hub id."""
    from .download import _record_path, cache_dir, sha256_file

    if name == "gaussian":
        return "analytic"
    if name in BUILTIN_NAMES:
        meta = builtin_manifest(name)
        return "+".join(builtin_manifest(n)["sha256"] for n in meta.get("experts", [name]))
    if name in PRESETS:
        path = Path(checkpoint) if checkpoint is not None else cache_dir() / PRESETS[name].files[0]
        if not path.is_file():
            raise CheckpointError(f"{name}: no checkpoint at {path} to identify")
        record = _record_path(path)
        if checkpoint is None and record.is_file():
            return json.loads(record.read_text())["sha256"]
        return sha256_file(path)
    if name.startswith("hf:"):
        folder = Path(name[3:])
        files = sorted(folder.rglob("*.safetensors")) + sorted(folder.rglob("*.bin")) if folder.is_dir() else []
        return "+".join(sha256_file(p) for p in files) if files else name
    raise CheckpointError(f"unknown prior {name!r}")


def load_prior(
    name: str,
    checkpoint: PathLike | None = None,
    *,
    device: str | torch.device = "cpu",
    compute_dtype: torch.dtype | None = None,
    clip_x0: bool | None = None,
) -> Prior:
    """Load a prior by preset name (with ``checkpoint``), ``"hf:ORG/NAME"`` / ``"hf:FOLDER"``, or ``"builtin"``
    (``"builtin-v1"``).

    ``compute_dtype`` (``torch.float16`` / ``torch.bfloat16``) runs the network under autocast, for GPUs;
    the default is float32. ``clip_x0`` clamps the network's x0 estimate to [-1, 1]; ``None`` keeps the prior's
    own setting (off for the public checkpoints, as in their papers; the built-in prior's manifest says).
    The prior is moved to ``device`` explicitly (nothing moves by itself).
    """
    kw = {"compute_dtype": compute_dtype}
    if name in BUILTIN_NAMES:
        prior = _load_builtin(name, clip_x0, **kw)
    elif name.startswith("hf:"):
        prior = _load_diffusers(name[3:], clip_x0=bool(clip_x0), **kw)
    elif name in PRESETS:
        prior = _load_preset(name, checkpoint, clip_x0=bool(clip_x0), **kw)
    else:
        choices = ", ".join([*BUILTIN_NAMES, "hf:ORG/NAME", *PRESETS])
        raise CheckpointError(f"unknown prior {name!r}; choose from {choices}")
    return prior.to(device)
