"""One entry point for priors: ``load_prior(name, checkpoint=...)``.

* a preset name (``ddrm models`` lists them) with ``checkpoint=PATH`` (``.safetensors``, or ``.pt``/``.ckpt``/``.pth``
  read with ``torch.load(weights_only=True)``: files that need code to be unpickled are refused);
* ``"hf:ORG/NAME"`` or ``"hf:/local/folder"``: a diffusers ``UNet2DModel`` with its scheduler (extra ``ddrm[diffusers]``),
  whose class says the family: VP (DDPM/DDIM-type, betas), VE score-SDE (``ScoreSdeVeScheduler``), EDM
  (``EDMEulerScheduler``) or flow matching (``FlowMatchEulerDiscreteScheduler``);
* ``"builtin"``: the small natural-image prior shipped in the package (SHA-256 checked at load): two expert
  networks by noise level, ``"builtin-low"`` (epsilon prediction, trained on sigma <= 10) below sigma 8 and
  ``"builtin-high"`` (v-prediction, bounded x0, trained on sigma >= 6) above; each loads on its own too, as does
  the first network ``"builtin-v1"``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import CheckpointError, SetupError
from ..models import PRESETS, ADMConfig, ADMUNet
from ..priors import (
    DiffusersModule,
    EDMPrior,
    FlowPrior,
    NetworkPrior,
    NoiseLevelExperts,
    NoiseSchedule,
    Prior,
    ScoreSDEPrior,
    VPSchedule,
)
from ..priors.latent import LatentPrior
from .download import download_checkpoint
from .reading import PathLike, load_network, read_state_dict

__all__ = [
    "load_prior",
    "prior_space",
    "BUILTIN_DIR",
    "BUILTIN_NAMES",
    "builtin_manifest",
    "DiffusersUNet",
    "weights_identity",
]

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


class DiffusersUNet(DiffusersModule):
    """Adapter: a diffusers ``UNet2DModel`` as ``net(x_t, t) -> output tensor``."""

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        return self.unet(x, t).sample


# diffusers scheduler classes -> the family of the network they drive (the scheduler's config gives its levels)
VP_SCHEDULERS = ("DDPMScheduler", "DDIMScheduler", "PNDMScheduler", "DPMSolverMultistepScheduler",
                 "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "LMSDiscreteScheduler",
                 "HeunDiscreteScheduler", "UniPCMultistepScheduler", "DEISMultistepScheduler")  # fmt: skip
FAMILY_SCHEDULERS = {
    **dict.fromkeys(VP_SCHEDULERS, "vp"),
    "ScoreSdeVeScheduler": "ve",
    "EDMEulerScheduler": "edm",
    "EDMDPMSolverMultistepScheduler": "edm",
    "FlowMatchEulerDiscreteScheduler": "flow",
    "FlowMatchHeunDiscreteScheduler": "flow",
}


def _scheduler_config(local: Path | None, source: str) -> dict:
    """The scheduler's config (``scheduler/`` or beside the UNet, with its ``_class_name``), ``{}`` when there is
    none."""
    from diffusers import DDPMScheduler

    if local is not None:
        folder = next((d for d in (local / "scheduler", local) if (d / "scheduler_config.json").is_file()), None)
        return json.loads((folder / "scheduler_config.json").read_text()) if folder else {}
    for sub in ("scheduler", None):
        try:
            return dict(DDPMScheduler.load_config(source, subfolder=sub))
        except Exception:
            continue
    return {}


def _family_prior(net: nn.Module, config: dict, source: str, **kw) -> Prior:
    """The prior of a diffusers network from its scheduler's config: VP (betas), VE score-SDE, EDM or flow."""
    import diffusers

    name = config.get("_class_name", "DDPMScheduler")
    family = FAMILY_SCHEDULERS.get(name)
    if family is None:
        known = ", ".join(sorted(FAMILY_SCHEDULERS))
        raise CheckpointError(f"{source}: scheduler {name} is not one ddrm reads; its scheduler_config.json must name "
                              f"one of {known}")  # fmt: skip
    scheduler = (getattr(diffusers, name, None) or diffusers.DDPMScheduler).from_config(
        {k: v for k, v in config.items() if not k.startswith("_")}
    )
    sched = scheduler.config  # the config with the class's defaults filled in
    if family == "vp":
        schedule = VPSchedule(scheduler.betas.double(), "diffusers")
        return NetworkPrior(net, schedule, prediction=sched.get("prediction_type", "epsilon"), **kw)
    if family == "ve":  # score-SDE's VE models hold [0, 1] data: levels in [-1, 1] units are twice theirs
        schedule = NoiseSchedule.geometric(2 * sched["sigma_min"], 2 * sched["sigma_max"], sched["num_train_timesteps"])
        return ScoreSDEPrior(net, schedule, data_range=(0.0, 1.0), **kw)
    if family == "edm":
        schedule = NoiseSchedule.karras(sched["sigma_min"], sched["sigma_max"], sched["num_train_timesteps"],
                                        sched.get("rho", 7.0))  # fmt: skip
        return EDMPrior(net, schedule, sigma_data=sched["sigma_data"], prediction=sched["prediction_type"], **kw)
    if sched.get("use_dynamic_shifting"):
        raise CheckpointError(f"{source}: a flow scheduler with dynamic shifting (by image size) is not supported; "
                              "set a fixed shift in scheduler_config.json")  # fmt: skip
    n = sched["num_train_timesteps"]
    return FlowPrior(net, NoiseSchedule.flow(n, sched.get("shift", 1.0)), num_train_timesteps=n, **kw)


@contextmanager
def _quiet(*libraries: str) -> Iterator[None]:
    """diffusers' and transformers' loading chatter (progress bars, advice to install accelerate) off while loading:
    ddrm prints what it loads itself; their verbosity is restored after."""
    import importlib

    saved = []
    for name in libraries:
        try:
            logging = importlib.import_module(f"{name}.utils.logging")
        except ImportError:
            continue
        saved.append((logging, logging.get_verbosity()))
        logging.set_verbosity_error()
        logging.disable_progress_bar()
    try:
        yield
    finally:
        for logging, level in saved:
            logging.set_verbosity(level)
            logging.enable_progress_bar()


def _is_latent(local: Path | None, source: str) -> bool:
    """Whether a diffusers folder (or hub id) is a latent pipeline: its U-Net is a ``UNet2DConditionModel``."""
    from diffusers import UNet2DConditionModel

    if local is not None:
        config = local / "unet" / "config.json"
        return config.is_file() and json.loads(config.read_text()).get("_class_name") == "UNet2DConditionModel"
    try:
        return UNet2DConditionModel.load_config(source, subfolder="unet").get("_class_name") == "UNet2DConditionModel"
    except Exception:
        return False


def prior_space(prior: Any) -> str:
    """``"latent"`` for a latent prior (an object with ``latent``, or an ``hf:`` pipeline whose U-Net is text
    conditioned: its config is read, no weights), else ``"pixel"``; known before the prior is loaded, so a front end
    can choose a solver of its space first."""
    if not isinstance(prior, str):
        return "latent" if getattr(prior, "latent", False) else "pixel"
    if not prior.startswith("hf:"):
        return "pixel"
    try:
        local = Path(prior[3:])
        return "latent" if _is_latent(local if local.is_dir() else None, prior[3:]) else "pixel"
    except ImportError:  # without diffusers the loader says so in one line when the prior is loaded
        return "pixel"


def text_embedding(source: str, prompt: str) -> Tensor:
    """The text encoder's embedding (1, L, D) of ``prompt`` for the pipeline at ``source`` (its ``tokenizer`` and
    ``text_encoder``, extra ``transformers``), computed once and cached in ``cache_dir()/embeddings`` (keyed by the
    text encoder's files, or the hub id, and the prompt), so later runs need neither."""
    from safetensors.torch import load_file, save_file

    from ..io import atomic_write
    from .download import cache_dir

    local = Path(source)
    if local.is_dir():
        files = sorted((local / "text_encoder").glob("*")) if (local / "text_encoder").is_dir() else []
        identity = "+".join(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files if f.is_file())
        identity = f"{local.resolve()}|{identity}"
    else:
        identity = source
    key = hashlib.sha256(f"{identity}\n{prompt}".encode()).hexdigest()[:32]
    cached = cache_dir() / "embeddings" / f"{key}.safetensors"
    if cached.is_file():
        return load_file(str(cached))["embedding"]
    try:
        from transformers import CLIPTextModel, CLIPTokenizer
    except ImportError:
        raise SetupError("a latent prior's text embedding is computed once with its text encoder, which needs "
                         "transformers: pip install transformers (the embedding is then cached)") from None  # fmt: skip
    try:
        where = {"pretrained_model_name_or_path": str(local) if local.is_dir() else source}
        with _quiet("transformers"):
            tokenizer = CLIPTokenizer.from_pretrained(**where, subfolder="tokenizer")
            encoder = CLIPTextModel.from_pretrained(**where, subfolder="text_encoder").eval()
    except Exception as exc:
        raise CheckpointError(f"{source}: could not load the tokenizer and text encoder "
                              f"({str(exc).splitlines()[0][:200]})") from None  # fmt: skip
    ids = tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids  # fmt: skip
    with torch.no_grad():
        embedding = encoder(ids)[0].float().contiguous()
    cached.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(cached, lambda tmp: save_file({"embedding": embedding}, str(tmp)))
    return embedding


def _load_latent(source: str, local: Path | None, prompt: str | None, guidance_scale: float, **kw) -> LatentPrior:
    """A Stable-Diffusion-type pipeline (``unet``: ``UNet2DConditionModel``, ``vae``: ``AutoencoderKL``,
    ``scheduler``) as a :class:`LatentPrior` on the embedding of ``prompt`` (the empty prompt's by default)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    where = str(local) if local is not None else source
    try:
        with _quiet("diffusers"):
            unet = UNet2DConditionModel.from_pretrained(where, subfolder="unet").eval().requires_grad_(False)
            vae = AutoencoderKL.from_pretrained(where, subfolder="vae").eval().requires_grad_(False)
    except Exception as exc:
        raise CheckpointError(
            f"could not load the latent pipeline {source!r}: {str(exc).splitlines()[0][:200]}"
        ) from None
    config = _scheduler_config(local, source)
    vp = _family_prior(torch.nn.Identity(), config, source)
    if not isinstance(vp, NetworkPrior):
        raise CheckpointError(f"{source}: a latent pipeline's scheduler must be a VP (DDPM-type) one")
    context = text_embedding(source, prompt or "")
    uncond = text_embedding(source, "") if guidance_scale != 1.0 else None
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    size = unet.config.sample_size
    size = (size * factor,) * 2 if isinstance(size, int) else tuple(v * factor for v in size)
    return LatentPrior(
        unet,
        vae,
        vp.schedule,
        context=context,
        uncond=uncond,
        guidance_scale=guidance_scale,
        prediction=vp.prediction,
        scaling_factor=vae.config.scaling_factor,
        shift_factor=getattr(vae.config, "shift_factor", None) or 0.0,
        latent_channels=unet.config.in_channels,
        downscale=factor,
        image_size=size,
        compute_dtype=kw.get("compute_dtype"),
    )


def _load_diffusers(source: str, prompt: str | None = None, guidance_scale: float = 1.0, **kw) -> Prior:
    try:
        import diffusers  # noqa: F401  (the extra is installed)
    except ImportError:
        raise SetupError("hf: priors need the optional dependency: pip install 'ddrm[diffusers]'") from None
    local = Path(source)
    if local.exists() and not local.is_dir():
        if local.suffix == ".pkl":
            raise CheckpointError(f"{source}: a pickled network (NVlabs' EDM .pkl) needs its code unpickled, which "
                                  "ddrm never does; convert it once, where that code runs, to a diffusers folder "
                                  "(UNet2DModel.save_pretrained with an EDMEulerScheduler's save_pretrained)")  # fmt: skip
        raise CheckpointError(f"{source}: a diffusers model is a folder (config.json + weights)")
    if _is_latent(local if local.is_dir() else None, source):
        return _load_latent(source, local if local.is_dir() else None, prompt, guidance_scale, **kw)
    if prompt is not None or guidance_scale != 1.0:
        raise CheckpointError(f"{source}: a prompt and guidance apply to text-conditioned (latent) priors only")
    try:
        with _quiet("diffusers"):
            return _read_unet(source, local, **kw)
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"could not load diffusers model {source!r}: {str(exc).splitlines()[0][:200]}") from None


def _read_unet(source: str, local: Path, **kw) -> Prior:
    """A diffusers ``UNet2DModel`` (folder or hub id) with the prior its scheduler's config says."""
    from diffusers import UNet2DModel

    if local.is_dir():
        unet_dir = local / "unet" if (local / "unet" / "config.json").is_file() else local
        if not (unet_dir / "config.json").is_file():
            raise CheckpointError(f"{source}: no config.json for a UNet2DModel (in the folder or its unet/)")
        unet = UNet2DModel.from_pretrained(str(unet_dir))
        config = _scheduler_config(local, source)
    else:
        try:
            unet = UNet2DModel.from_pretrained(source, subfolder="unet")
        except Exception:
            unet = UNet2DModel.from_pretrained(source)
        config = _scheduler_config(None, source)
    size = unet.config.sample_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    stride = 2 ** sum(1 for b in unet.config.down_block_types[:-1])
    net = DiffusersUNet(unet.eval().requires_grad_(False))
    return _family_prior(net, config, source, channels=unet.config.in_channels, image_size=size, stride=stride, **kw)


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
    prompt: str | None = None,
    guidance_scale: float = 1.0,
) -> Prior:
    """Load a prior by preset name (with ``checkpoint``), ``"hf:ORG/NAME"`` / ``"hf:FOLDER"``, or ``"builtin"``
    (``"builtin-v1"``).

    ``compute_dtype`` (``torch.float16`` / ``torch.bfloat16``) runs the network under autocast, for GPUs;
    the default is float32. ``clip_x0`` clamps the network's x0 estimate to [-1, 1]; ``None`` keeps the prior's
    own setting (off for the public checkpoints, as in their papers; the built-in prior's manifest says).
    The prior is moved to ``device`` explicitly (nothing moves by itself). ``prompt`` and ``guidance_scale``
    (classifier-free guidance) apply to a latent, text-conditioned pipeline (``hf:`` folder or id of a
    Stable-Diffusion-type pipeline, loaded as a :class:`~ddrm.priors.latent.LatentPrior`).
    """
    kw = {"compute_dtype": compute_dtype}
    if (prompt is not None or guidance_scale != 1.0) and not name.startswith("hf:"):
        raise CheckpointError(f"a prompt and guidance apply to text-conditioned (latent) priors, not {name!r}")
    if name in BUILTIN_NAMES:
        prior = _load_builtin(name, clip_x0, **kw)
    elif name.startswith("hf:"):
        prior = _load_diffusers(name[3:], prompt, guidance_scale, clip_x0=bool(clip_x0), **kw)
    elif name in PRESETS:
        prior = _load_preset(name, checkpoint, clip_x0=bool(clip_x0), **kw)
    else:
        choices = ", ".join([*BUILTIN_NAMES, "hf:ORG/NAME", *PRESETS])
        raise CheckpointError(f"unknown prior {name!r}; choose from {choices}")
    return prior.to(device)
