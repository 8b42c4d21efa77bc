"""The memory guard: a run that will not fit is refused before it starts, with its estimate and what to change.

The estimate comes from one probe call of the network (its layers' output sizes per pixel), scaled to the run's
images, batch and tiles; see :func:`estimate_peak_bytes`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ..errors import SetupError
from ..priors import Prior
from ..samplers import SamplerSpec

__all__ = ["estimate_peak_bytes", "available_bytes", "check_memory"]

# peak memory of a network call over the summed sizes of all its layers' outputs: measured for the built-in prior
# on CPU at 256 and 512 px (0.19, 0.15; 2.1-2.7 KB per pixel); with back-propagation every output is kept, and
# benchmarks/solvers.py measures DPS at 1.2x the sum at 256 px
_LIVE_FRACTION = 0.2
_GRAD_FRACTION = 1.25
_PROBE = 64
_BLIND_COPIES = 8


def _layer_bytes_per_pixel(prior: Prior) -> float | None:
    """Summed bytes of the network's layer outputs per image pixel, from one call on a small probe (a network
    pinned to its own size, as the public checkpoints are, is probed at that size: its attention's cost grows faster
    than the pixels); 0 for a prior without a network (the analytic ones: the solvers' workspace is all)."""
    experts = getattr(prior, "experts", None)
    if experts is not None:  # noise-level experts: one network per call, the largest counts
        values = [_layer_bytes_per_pixel(e) for e in experts]
        return None if None in values else max(values)
    net = getattr(prior, "net", None)
    if net is None:
        return 0.0 if hasattr(prior, "denoise") else None
    cached = getattr(prior, "_ddrm_layer_bytes", None)
    if cached is not None:
        return cached
    total = [0]

    def hook(_module, _inputs, output):
        if isinstance(output, Tensor):
            total[0] += output.numel() * output.element_size()

    leaves = [m for m in net.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        pinned = getattr(prior, "image_size", None)
        stride = getattr(prior, "stride", 1)
        h, w = tuple(pinned) if pinned is not None else (-(-_PROBE // stride) * stride,) * 2
        param = next(net.parameters())
        with torch.no_grad():
            prior.denoise(torch.zeros(1, prior.channels, h, w, device=param.device), 0.5)
    finally:
        for handle in handles:
            handle.remove()
    value = total[0] / (h * w)
    prior._ddrm_layer_bytes = value
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
    per_pixel = 0.0 if prior is None else _layer_bytes_per_pixel(getattr(prior, "inner", prior))
    if per_pixel is None:
        return None
    c, h, w = image_shape
    stride = getattr(prior, "stride", 1)
    pixels = batch * (-(-h // stride) * stride) * (-(-w // stride) * stride)
    tiled = getattr(prior, "tile_pixels", None)
    if tiled is not None and (h > prior.tile or w > prior.tile):
        pixels = min(pixels, tiled)  # a tiled denoiser sees a few tiles per call
    fraction = _GRAD_FRACTION if solver.needs_grad and not checkpointing else _LIVE_FRACTION
    workspace = 40 * c * h * w * 4  # the solvers' own image-sized tensors (spectral copies, noise, estimates)
    if blind:  # blind deblurring at 3012 x 3012 px peaked 1.5 GiB above the rest (benchmarks: 8 float64 copies)
        workspace += _BLIND_COPIES * c * h * w * 8
    if tiled is not None and solver.needs_grad and not checkpointing:  # every tile's graph is kept for backward
        pixels = batch * h * w
    return int(fraction * per_pixel * pixels + batch * workspace)


def available_bytes(device: torch.device) -> int | None:
    """Memory free for a run: the GPU's free memory, or the system's MemAvailable (``None``: unknown)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
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
) -> None:
    """Refuse a run that will not fit, before it starts, with the estimate and what to change (``prior=None``: on the
    solvers' workspace alone, checked before a prior is built for the image's shape)."""
    need = estimate_peak_bytes(prior, solver, image_shape, batch, bool((solver_args or {}).get("checkpointing")), blind)
    have = available_bytes(torch.device(device))
    if need is None or have is None or need <= have:
        return
    one = estimate_peak_bytes(prior, solver, image_shape, 1, blind=blind) or need
    remedy = (
        f"use --batch-size {max(1, int(have // one))}"
        if batch > 1 and one <= have
        else "restore a smaller image (or crops of it)"
    )
    if solver.needs_grad and not (solver_args or {}).get("checkpointing"):
        remedy += ", or --solver-arg checkpointing=true"
    raise SetupError(
        f"restoring {batch} image(s) of {image_shape[2]}x{image_shape[1]} needs about {_size(need)} "
        f"but {_size(have)} is free on {device}: {remedy}"
    )


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"
