"""The memory guard: a run that will not fit is refused before it starts, with its estimate and what to change.

The estimate comes from one probe call of the network (its layers' output sizes per pixel), scaled to the run's
images, batch and tiles; see :func:`estimate_peak_bytes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..errors import SetupError
from ..priors import Prior
from ..samplers import SamplerSpec

__all__ = ["estimate_peak_bytes", "available_bytes", "check_memory", "Remedies"]

# peak memory of a network call over the summed sizes of all its layers' outputs: measured for the built-in prior
# on CPU at 256 and 512 px (0.19, 0.15; 2.1-2.7 KB per pixel); with back-propagation every output is kept, and
# benchmarks/solvers.py measures DPS at 1.2x the sum at 256 px
_LIVE_FRACTION = 0.2
_GRAD_FRACTION = 1.25
_PROBE = 64
# the estimate over the measured peak growth (benchmarks/memory_guard.py): 1.02-1.25 for the built-in prior at
# 128-512 px, 1.01-1.07 for the tiny ADM at 128-256 px, and one measured peak varies between runs by up to a quarter
# (270 and 201 MiB for the same 256 px run); a run is refused when the estimate times this exceeds the free memory
_MARGIN = 1.3
_BLIND_COPIES = 8


@dataclass(frozen=True)
class Remedies:
    """The words a memory refusal asks for a change in: ``batch`` and ``samples`` take the number to use. The
    defaults are ``ddrm restore``'s options; ``ddrm bench`` names its protocol's keys."""

    batch: str = "--batch-size {}"
    samples: str = "--samples {}"
    checkpointing: str = "--solver-arg checkpointing=true"


@dataclass(frozen=True)
class _Profile:
    """A network's memory per call: ``per_pixel`` bytes of layer outputs per image pixel (linear in the image), and
    ``attention`` bytes per pixel squared of its largest self-attention (the logits and their softmax, heads x
    tokens^2 floats each, quadratic in the image); ``attention_sum`` the same summed over the blocks (all kept for
    back-propagation)."""

    per_pixel: float
    attention: float = 0.0
    attention_sum: float = 0.0


def _attention_heads(module: torch.nn.Module) -> int | None:
    """The heads of a self-attention block (ADM's, DDPM's, diffusers'), ``None`` for other modules."""
    name = type(module).__name__
    if "Attn" not in name and "Attention" not in name:
        return None
    if "2_0" in type(getattr(module, "processor", None)).__name__:  # diffusers' scaled_dot_product_attention:
        return None  # memory-efficient kernels never hold the tokens^2 matrix (its outputs are counted as any layer's)
    return int(getattr(module, "num_heads", None) or getattr(module, "heads", None) or 1)


def _measure(root: torch.nn.Module, call) -> tuple[int, list[int]]:  # noqa: ANN001
    """Bytes of every leaf layer's output of ``root`` during ``call()``, and each self-attention block's logits and
    softmax (heads x tokens^2 float32 each)."""
    total, attention = [0], []

    def hook(_module, _inputs, output):
        if isinstance(output, Tensor):
            total[0] += output.numel() * output.element_size()

    def attention_hook(module, inputs):
        x = inputs[0] if inputs else None
        if isinstance(x, Tensor) and x.ndim >= 3:
            tokens = x.shape[1] if x.ndim == 3 and x.shape[1] > x.shape[2] else int(torch.tensor(x.shape[2:]).prod())
            attention.append(2 * _attention_heads(module) * tokens * tokens * 4)  # logits + softmax, float32

    leaves = [m for m in root.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    handles += [m.register_forward_pre_hook(attention_hook) for m in root.modules() if _attention_heads(m)]
    try:
        with torch.no_grad():
            call()
    finally:
        for handle in handles:
            handle.remove()
    return total[0], attention


def _profile(prior: Prior) -> _Profile | None:
    """The network's memory profile from one call on a probe (a network pinned to its own size, as the public
    checkpoints are, is probed at that size); a prior without a network (the analytic ones) has none beyond the
    solvers' workspace. A latent prior counts its U-Net on the latent, the decoder and the encoder, per image pixel
    (the latent solvers back-propagate through the decoder at full size, PSLD also through the encoder)."""
    experts = getattr(prior, "experts", None)
    if experts is not None:  # noise-level experts: one network per call, the largest counts
        values = [_profile(e) for e in experts]
        if None in values:
            return None
        return _Profile(*(max(getattr(v, f) for v in values) for f in ("per_pixel", "attention", "attention_sum")))
    latent = getattr(prior, "latent", False)
    net = prior.denoiser.net if latent else getattr(prior, "net", None)
    if net is None:
        return _Profile(0.0) if hasattr(prior, "denoise") else None
    cached = getattr(prior, "_ddrm_memory_profile", None)
    if cached is not None:
        return cached
    pinned = getattr(prior, "image_size", None)
    stride = getattr(prior, "stride", 1)
    h, w = tuple(pinned) if pinned is not None else (-(-_PROBE // stride) * stride,) * 2
    device = next(net.parameters()).device
    if latent:
        z = torch.zeros(1, *prior.latent_shape((prior.channels, h, w)), device=device)
        x = torch.zeros(1, prior.channels, h, w, device=device)
        parts = [_measure(net, lambda: prior.denoise(z, 0.5)), _measure(prior.vae, lambda: prior.decode(z)),
                 _measure(prior.vae, lambda: prior.encode(x))]  # fmt: skip
        total, attention = sum(p[0] for p in parts), [a for p in parts for a in p[1]]
    else:
        total, attention = _measure(
            net, lambda: prior.denoise(torch.zeros(1, prior.channels, h, w, device=device), 0.5)
        )
    pixels2 = float(h * w) ** 2
    value = _Profile(total / (h * w), max(attention, default=0) / pixels2, sum(attention) / pixels2)
    prior._ddrm_memory_profile = value
    return value


def estimate_peak_bytes(
    prior: Prior | None,
    solver: SamplerSpec,
    image_shape: tuple[int, int, int],
    batch: int,
    checkpointing: bool = False,
    blind: bool = False,
) -> int | None:
    """Bytes a restoration needs beyond the loaded weights (``None``: not estimable). ``prior=None``: the solvers'
    own workspace only, a lower bound known before any prior is built. ``blind``: the kernel estimation's float64
    copies of the image are added (the coarse-to-fine chain runs before the full-scale one, never beside it)."""
    profile = _Profile(0.0) if prior is None else _profile(getattr(prior, "inner", prior))
    if profile is None:
        return None
    per_pixel = profile.per_pixel
    c, h, w = image_shape
    stride = getattr(prior, "stride", 1)
    one = (-(-h // stride) * stride) * (-(-w // stride) * stride)  # the pixels of one image as the network sees it
    pixels, calls = batch * one, batch  # calls: images (or tiles) in a network call, each with its own attention
    grad = solver.needs_grad and not checkpointing
    tiled = getattr(prior, "tile_pixels", None)
    if tiled is not None and (h > prior.tile or w > prior.tile):
        one = prior.tile * prior.tile
        # a tiled denoiser sees a few tiles per call; with back-propagation every tile's graph is kept
        pixels = batch * h * w if grad else min(pixels, tiled)
        calls = max(1, -(-pixels // one))
    fraction = _GRAD_FRACTION if grad else _LIVE_FRACTION
    attention = calls * float(one) ** 2 * (profile.attention_sum if grad else profile.attention)
    workspace = 40 * c * h * w * 4  # the solvers' own image-sized tensors (spectral copies, noise, estimates)
    if blind:  # blind deblurring at 3012 x 3012 px peaked 1.5 GiB above the rest (benchmarks: 8 float64 copies)
        workspace += _BLIND_COPIES * c * h * w * 8
    return int(fraction * per_pixel * pixels + attention + batch * workspace)


def available_bytes(device: torch.device) -> int | None:
    """Memory free for a run (``None``: this system does not say): a CUDA GPU's free memory; on Apple's MPS what
    Metal recommends less what is allocated; on the CPU the system's available memory (psutil: Linux, macOS,
    Windows; ``/proc/meminfo`` without it)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "mps":
        try:
            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
        except (AttributeError, RuntimeError):
            return None
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        return int(psutil.virtual_memory().available)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_memory(
    prior: Prior | None,
    solver: SamplerSpec,
    image_shape: tuple[int, int, int],
    batch: int,
    device,
    solver_args=None,
    blind: bool = False,
    samples: int = 1,
    remedies: Remedies = Remedies(),
) -> str | None:
    """Refuse a run that will not fit, before it starts, with the estimate and what to change (``prior=None``: on the
    solvers' workspace alone, checked before a prior is built for the image's shape). ``batch`` counts every sample
    of the batch's images (``samples`` each): what to change is fewer images per batch, or fewer samples where one
    image's do not fit (a blind image's samples always go in one batch), in the front end's words (``remedies``).
    Returns a warning line when the free memory cannot be known (the run is then not checked), else ``None``."""
    need = estimate_peak_bytes(prior, solver, image_shape, batch, bool((solver_args or {}).get("checkpointing")), blind)
    have = available_bytes(torch.device(device))
    if have is None:
        return f"cannot tell how much memory is free on {device}: the run is not checked to fit before it starts"
    if need is None or need * _MARGIN <= have:
        return None
    one = estimate_peak_bytes(prior, solver, image_shape, 1, blind=blind) or need
    fits, images = int(have // (one * _MARGIN)), batch // samples  # samples that fit in one batch
    if batch == 1 or fits < 1:
        remedy = "restore a smaller image (or crops of it)"
    elif images > 1 and fits >= samples:
        remedy = "use " + remedies.batch.format(fits // samples)
    else:
        remedy = "use " + remedies.samples.format(fits) + (" and " + remedies.batch.format(1) if images > 1 else "")
    if solver.needs_grad and not (solver_args or {}).get("checkpointing"):
        remedy += ", or " + remedies.checkpointing
    what = f"{images} image(s)" + (f" x {samples} samples" if samples > 1 else "")
    raise SetupError(
        f"restoring {what} of {image_shape[2]}x{image_shape[1]} needs about {_size(need)} "
        f"but {_size(have)} is free on {device}: {remedy}"
    )


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"
