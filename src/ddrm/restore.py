"""Restoring measurements: one batch in memory (:func:`restore_batch`), or files and folders on disk
(:func:`plan_restore`, :func:`run_restore`), the path the CLI, the evaluation harness and the web app share.

Every image gets its own generator, seeded from the run's seed and the input's file name, so a result does not
depend on the batch it was restored in nor on an interrupted run being resumed. Outputs are written atomically; a
folder run skips inputs whose output exists (resume) unless told to overwrite.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .io import IMAGE_SUFFIXES, read_array, read_image, write_image
from .operators import LinearOperator
from .priors import Prior
from .samplers import SamplerSpec
from .tasks import SIDE_FILE_SUFFIXES, TaskError, TaskSpec, to_model_range

__all__ = [
    "RestoreJob",
    "degrade_to_files",
    "measurement_view",
    "default_solver",
    "PriorLoader",
    "restore_batch",
    "pinv_image",
    "list_inputs",
    "read_measurement",
    "plan_outputs",
    "check_outputs",
    "check_writable",
    "find_reference",
    "run_restore",
    "image_generator",
    "resolve_device",
    "describe_device",
    "estimate_peak_bytes",
    "check_memory",
]


def image_generator(seed: int, name: str) -> torch.Generator:
    """The generator of one image: the run's seed plus the CRC-32 of its file name."""
    return torch.Generator().manual_seed(seed + zlib.crc32(name.encode()))


def restore_batch(
    prior: Prior,
    solver: SamplerSpec,
    task: TaskSpec,
    op: LinearOperator,
    y01: Tensor,
    sigma_y: float,
    generators: Sequence[torch.Generator],
    solver_args: dict[str, Any] | None = None,
    *,
    x_init01: Tensor | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """Restore a batch of measurements ``y01`` (B, *measurement_shape) in [0, 1] units with noise ``sigma_y`` (also
    [0, 1] units) of one task; returns images in [0, 1] on the measurements' device. ``x_init01`` (images in [0, 1])
    starts the chain of a solver that can start from an image (``solver.starts_from_image``)."""
    if tuple(y01.shape[1:]) != tuple(op.measurement_shape):
        raise TaskError(
            f"measurement shape {tuple(y01.shape[1:])} does not fit the task ({tuple(op.measurement_shape)})"
        )
    if getattr(prior, "channels", task.image_shape[0]) != task.image_shape[0]:
        raise TaskError(f"the prior works on {prior.channels}-channel images, the task on {task.image_shape[0]}")
    y = to_model_range(op, y01)
    extra = {}
    if x_init01 is not None:
        if not solver.starts_from_image:
            raise TaskError(f"solver {solver.name} cannot start from an image")
        extra["x_init"] = x_init01.to(y) * 2 - 1
    with torch.no_grad():  # gradient methods enable autograd themselves, around the network only
        x = solver.run(
            prior,
            op,
            y,
            2 * sigma_y,
            task=task.name,
            generator=list(generators),
            progress_bar=progress_bar,
            **(solver_args or {}),
            **extra,
        )
    return ((x + 1) / 2).clamp(0, 1)


def pinv_image(op: LinearOperator, y01: Tensor) -> Tensor:
    """``H^+ y`` shown as images in [0, 1], computed in the model range (the null space comes out mid-grey)."""
    with torch.no_grad():
        return ((op.pinv(to_model_range(op, y01)) + 1) / 2).clamp(0, 1)


AUTO_TILE_PIXELS = 1024 * 1024  # above this many pixels per image the denoiser is tiled unless told otherwise
DEFAULT_TILE = 256


class PriorLoader:
    """Loads the chosen prior once (the analytic ``"gaussian"`` prior is built per image shape)."""

    def __init__(
        self,
        name: str,
        checkpoint: str | None = None,
        device: str | torch.device = "cpu",
        compute_dtype: torch.dtype | None = None,
        tile: int | None = None,
    ):
        """``tile``: ``None`` tiles the denoiser (:class:`~ddrm.priors.TiledPrior`, 256 px tiles) for images above
        ``AUTO_TILE_PIXELS``; ``0`` never tiles; ``N`` always tiles with N px tiles."""
        self.name, self.checkpoint, self.device, self.compute_dtype = name, checkpoint, device, compute_dtype
        if tile is not None and (tile < 0 or 0 < tile < 16):
            raise TaskError(f"tile size must be 0 (off) or >= 16 pixels, got {tile}")
        self.tile = tile
        self.cache: dict = {}

    def __call__(self, shape: tuple[int, int, int]) -> Prior:
        if self.name == "gaussian":
            if shape not in self.cache:
                from .priors import GaussianPrior

                self.cache[shape] = GaussianPrior.stationary(
                    shape, variance=0.25, length=2.0, mean=torch.zeros(shape), dtype=torch.float32
                ).to(self.device)
            return self.cache[shape]
        if "net" not in self.cache:
            from .loading import load_prior

            self.cache["net"] = load_prior(
                self.name, self.checkpoint, device=self.device, compute_dtype=self.compute_dtype
            )
        tile = self.tile
        if tile is None:
            tile = DEFAULT_TILE if shape[1] * shape[2] > AUTO_TILE_PIXELS else 0
        if not tile:
            return self.cache["net"]
        if ("tiled", tile) not in self.cache:
            from .priors import TiledPrior

            self.cache["tiled", tile] = TiledPrior(self.cache["net"], tile, overlap=tile // 4)
        return self.cache["tiled", tile]


# ---------------------------------------------------------------------------------------------- files
def list_inputs(path: Path) -> list[Path]:
    """The measurements in a folder (images and ``.npy``, side files excluded), or the one file given."""
    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + (".npy",)]
        files = [p for p in files if not any(p.name.endswith(s) for s in SIDE_FILE_SUFFIXES.values())]
        if not files:
            raise TaskError(f"{path}: no images or .npy measurements in the folder")
        return files
    if not path.is_file():
        raise TaskError(f"{path}: no such file or folder")
    return [path]


def read_measurement(path: Path) -> Tensor:
    """A measurement file (image or ``.npy``) as float32, refusing NaN / infinite values."""
    y = read_array(path) if path.suffix.lower() == ".npy" else read_image(path)
    if not torch.isfinite(y).all():
        raise TaskError(f"{path}: measurement contains NaN or infinite values")
    return y.float()


def plan_outputs(src: Path, output: Path | None) -> tuple[list[tuple[Path, Path]], Path, bool]:
    """``([(input, output file)], output root, is_folder)`` for restoring ``src`` (a file or a folder)."""
    files = list_inputs(src)
    folder = src.is_dir()
    if output is not None:
        out_root = Path(output)
    else:
        out_root = src.with_name(src.name + "_restored") if folder else src.with_name(src.stem + "_restored.png")
    if folder and out_root.suffix:
        raise TaskError(f"{out_root}: restoring a folder needs an output folder")
    if not folder and out_root.suffix.lower() not in IMAGE_SUFFIXES:
        out_root = out_root / (src.stem + ".png")
    return [(f, (out_root / (f.stem + ".png")) if folder else out_root) for f in files], out_root, folder


def find_reference(ref_root: Path, source: Path) -> Path | None:
    """The clean image for ``source``: ``ref_root`` itself if a file, else the image of the same stem in it."""
    if ref_root.is_file():
        return ref_root
    return next(
        (ref_root / (source.stem + s) for s in IMAGE_SUFFIXES if (ref_root / (source.stem + s)).is_file()), None
    )


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return a.samefile(b)
    return a.resolve() == b.resolve()


def check_outputs(outputs: list[Path], inputs: list[Path]) -> None:
    """Refuse an output that would replace an input, or two outputs of the same name."""
    for out in outputs:
        for inp in inputs:
            if _same_file(out, inp):
                raise TaskError(f"{out}: the output would overwrite the input {inp}; choose another output name")
    seen: set[Path] = set()
    for out in outputs:
        if out.resolve() in seen:
            raise TaskError(f"two outputs would be written to {out}; rename one of the inputs")
        seen.add(out.resolve())


def check_writable(path: Path) -> None:
    """The output's folder exists and is writable, or can be created (checked before any work)."""
    parent = path.parent
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if not parent.is_dir():
        raise TaskError(f"{path}: cannot create the output, {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise TaskError(f"{path}: cannot write the output, {parent} is not writable")


def degrade_to_files(
    x01: Tensor,
    spec: TaskSpec,
    sigma_y: float,
    out: Path,
    generator: torch.Generator,
    seed: int | None = None,
    inputs: Sequence[Path] = (),
) -> tuple[Tensor, Path]:
    """``y = H x + sigma_y z`` (noise from ``generator``; ``seed``, recorded in the sidecar, is the one that drew the
    task's random choices) written to ``out`` (an image, or ``.npy``) with its sidecar and side files; returns
    ``(y, sidecar)``.

    Outputs never replace ``inputs``; the side files and the JSON are written before the measurement, and all are
    removed again if writing fails, so nothing half-made is left behind."""
    from .io import write_array
    from .tasks import sidecar_path

    suffix = out.suffix.lower()
    op = spec.operator()
    jpeg = not getattr(op, "linear", True)
    if jpeg:
        if suffix not in (".jpg", ".jpeg"):
            raise TaskError(f"{out}: a {spec.name} measurement is a JPEG file; name it .jpg")
        if sigma_y > 0:
            raise TaskError("JPEG artefact removal (DDRM-JPEG) models no Gaussian noise; use --sigma-y 0")
    elif suffix not in IMAGE_SUFFIXES + (".npy",):
        raise TaskError(f"{out}: output must be .png or .npy")
    elif suffix in (".jpg", ".jpeg"):
        raise TaskError("JPEG would add compression artefacts to the measurement; use .png or .npy")
    image_like = len(op.measurement_shape) == 3 and op.measurement_shape[0] in (1, 3)
    if suffix != ".npy" and not image_like:
        raise TaskError(f"a {spec.name} measurement is not an image; write it as .npy")
    sidecar = sidecar_path(out)
    meta = spec.to_sidecar(sidecar.with_suffix(""), sigma_y, seed, out.name)
    outputs = [out, sidecar, *(p for p, _ in spec.side_files(meta, out.parent))]
    check_outputs(outputs, list(inputs))
    for path in outputs:
        check_writable(path)
    y = x01 if jpeg else op.measure(x01[None], sigma_y, generator)[0]  # JPEG: the real codec (Pillow) below
    written = [path for path in outputs if not path.exists()]
    try:
        spec.write_sidecar(meta, sidecar)  # the side files, then the JSON
        if suffix == ".npy":
            write_array(y.float(), out)  # the measurement last
        else:
            write_image(y, out, jpeg_quality=op.quality if jpeg else None)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return (read_image(out) if jpeg else y), sidecar


@dataclass
class RestoreJob:
    """One measurement to restore: where it comes from and goes, its task and noise level ([0, 1] units).

    ``seed_name`` names the image's generator (default: the source's file name; the frames of a clip share one name
    to share their noise), ``x_init01`` an image the chain starts from (a warm start, [0, 1] units)."""

    source: Path
    target: Path
    y01: Tensor
    task: TaskSpec
    sigma_y: float
    seed_name: str | None = None
    x_init01: Tensor | None = None


def default_solver(task: str) -> str:
    """The solver a front end uses when none is named: DDRM; DDRM-JPEG for a JPEG task (``jpeg`` or ``jpeg10``);
    DiffPIR for a linear task without an SVD (``deblur_varying``: DDRM needs the SVD, DiffPIR's data step is a prox
    that conjugate gradients solve, and it models the noise)."""
    from .operators import MATRIX_FREE, NONLINEAR
    from .tasks import parse_task

    name = parse_task(task)[0]
    return "ddrm-jpeg" if name in NONLINEAR else "diffpir" if name in MATRIX_FREE else "ddrm"


def measurement_view(op: LinearOperator, y01: Tensor, shape) -> Tensor:
    """The measurement drawn at the image's size (nearest upsampling; grey replicated), or grey if not an image."""
    c, h, w = shape
    if y01.ndim != 3:
        return torch.full(shape, 0.5)
    img = torch.nn.functional.interpolate(y01[None], size=(h, w), mode="nearest")[0]
    return img.expand(c, h, w) if img.shape[0] == 1 else img


def _grid(panels: list[Tensor]) -> Tensor:
    gap = torch.ones(panels[0].shape[0], panels[0].shape[1], 4)
    parts = []
    for p in panels:
        parts += [p.clamp(0, 1), gap]
    return torch.cat(parts[:-1], dim=2)


def run_restore(
    jobs: list[RestoreJob],
    solver: SamplerSpec,
    solver_args: dict[str, Any],
    prior_for: Callable[[tuple[int, int, int]], Prior],
    *,
    seed: int = 0,
    batch_size: int = 4,
    device: str | torch.device = "cpu",
    only: set[Path] | None = None,
    references: dict[Path, Tensor] | None = None,
    save_grid: bool = False,
    progress_bar: bool = False,
    report: Callable[[str], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> list[tuple[float, float]]:
    """Restore the jobs and write their outputs (and grids).

    Consecutive jobs sharing an operator and a noise level go in one batch of up to ``batch_size``. With ``only``,
    just those sources are written, but the batches are still formed over all ``jobs`` (a batch holding none of them
    is skipped, one holding some is computed whole): a resumed run then gives the very bytes of an uninterrupted
    one, since batched network calls may round differently from single ones. ``references`` maps a job's source to
    its clean image: PSNR / SSIM are reported and returned. ``on_start`` is called once every input, operator,
    the prior and the memory estimate have been checked, before the first batch (the CLI prints the device there)."""
    from tqdm.auto import tqdm

    from .metrics import psnr, ssim

    keys = [j.task.key() for j in jobs]
    batches: list[tuple[str, list[RestoreJob]]] = []
    i = 0
    while i < len(jobs):
        n = 1
        while (
            n < batch_size and i + n < len(jobs) and keys[i + n] == keys[i] and jobs[i + n].sigma_y == jobs[i].sigma_y
        ):
            n += 1
        batches.append((keys[i], jobs[i : i + n]))
        i += n
    # under torchrun each process takes every world-th batch, counted over all jobs (so the files are those of a
    # single-process run, and a resumed process keeps its share)
    from .bench.dist import shard, world

    batches = [(k, b) for k, b in shard(batches, *world()) if only is None or any(j.source in only for j in b)]
    # before any work: each operator built once and checked against the solver (before the prior is loaded), each
    # measurement against its operator; then the prior loaded and every batch checked to fit in memory
    operators: dict[str, LinearOperator] = {}
    for key, batch in batches:
        if key not in operators:
            operators[key] = op = batch[0].task.operator()
            solver.check_operator(op)
        for job in batch:
            if tuple(job.y01.shape) != tuple(operators[key].measurement_shape):
                raise TaskError(
                    f"{job.source}: measurement shape {tuple(job.y01.shape)} does not fit the task "
                    f"({tuple(operators[key].measurement_shape)})"
                )
    for batch in {(k, len(b)): b for k, b in batches}.values():
        task = batch[0].task
        check_memory(prior_for(task.image_shape), solver, task.image_shape, len(batch), device, solver_args)
    if on_start is not None:
        on_start()
    wanted = sum(1 for _, batch in batches for j in batch if only is None or j.source in only)
    scores = []
    bar = tqdm(total=wanted, desc="images", disable=not progress_bar or wanted < 2)
    for key, batch in batches:
        task = batch[0].task
        op = operators[key].to(device)
        y01 = torch.stack([b.y01 for b in batch]).to(device)
        gens = [image_generator(seed, b.seed_name or b.source.name) for b in batch]
        prior = prior_for(task.image_shape)
        x_init01 = None
        if any(b.x_init01 is not None for b in batch):
            if any(b.x_init01 is None for b in batch):
                raise TaskError("a batch mixes jobs with and without a starting image; restore them apart")
            x_init01 = torch.stack([b.x_init01 for b in batch]).to(device)
        x01 = restore_batch(
            prior, solver, task, op, y01, batch[0].sigma_y, gens, solver_args,
            x_init01=x_init01, progress_bar=progress_bar,
        ).cpu()  # fmt: skip
        for job, xi, yb in zip(batch, x01, y01.cpu()):
            if only is not None and job.source not in only:
                continue
            write_image(xi, job.target)
            ref = (references or {}).get(job.source)
            if ref is not None:
                p, s = psnr(xi, ref), ssim(xi, ref)
                scores.append((p, s))
                if report is not None:
                    report(f"{job.source.name}: PSNR {p:.2f} dB  SSIM {s:.4f}")
            if save_grid:
                pinv = pinv_image(op, yb[None].to(device))[0].cpu()
                panels = [measurement_view(op, yb, task.image_shape), pinv, xi] + ([ref] if ref is not None else [])
                write_image(_grid(panels), job.target.with_name(job.target.stem + "_grid.png"))
        bar.update(sum(1 for b in batch if only is None or b.source in only))
    bar.close()
    return scores


def resolve_device(text: str | torch.device = "auto") -> torch.device:
    """A device the user named, checked to exist here (``cpu``, ``cuda``, ``cuda:1``, ``mps``); ``auto`` takes CUDA,
    then MPS, then the CPU."""
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, TypeError):
        raise TaskError(f"unknown device {text!r}; use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise TaskError(
                f"device {text!r}: CUDA is not available here (no GPU, or a CPU-only PyTorch); use --device cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise TaskError(f"device {text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise TaskError(f"device {text!r}: MPS is not available here; use --device cpu")
    elif device.type != "cpu":
        raise TaskError(f"device {text!r} is not supported; use cpu, cuda, cuda:N or mps")
    return device


def describe_device(device: torch.device) -> str:
    """One line naming the device a run uses (printed once by the front ends)."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"device: cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "cpu":
        return f"device: cpu ({torch.get_num_threads()} threads)"
    return f"device: {device.type}"


# ---------------------------------------------------------------------------------------------- memory
# peak memory of a network call over the summed sizes of all its layers' outputs: measured for the built-in prior
# on CPU at 256 and 512 px (0.19, 0.15; 2.1-2.7 KB per pixel); with back-propagation every output is kept, and
# benchmarks/solvers.py measures DPS at 1.2x the sum at 256 px
_LIVE_FRACTION = 0.2
_GRAD_FRACTION = 1.25
_PROBE = 64


def _layer_bytes_per_pixel(prior: Prior) -> float | None:
    """Summed bytes of the network's layer outputs per image pixel, from one call on a small probe."""
    experts = getattr(prior, "experts", None)
    if experts is not None:  # noise-level experts: one network per call, the largest counts
        values = [_layer_bytes_per_pixel(e) for e in experts]
        return None if None in values else max(values)
    net = getattr(prior, "net", None)
    if net is None or getattr(prior, "image_size", None) is not None:
        return None  # analytic priors, or a network pinned to its own (small) size
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
        size = -(-_PROBE // prior.stride) * prior.stride
        param = next(net.parameters())
        with torch.no_grad():
            prior.denoise(torch.zeros(1, prior.channels, size, size, device=param.device), 0.5)
    finally:
        for h in handles:
            h.remove()
    value = total[0] / (size * size)
    prior._ddrm_layer_bytes = value
    return value


def estimate_peak_bytes(
    prior: Prior, solver: SamplerSpec, image_shape: tuple[int, int, int], batch: int, checkpointing: bool = False
) -> int | None:
    """Bytes a restoration needs beyond the loaded weights (``None``: small, or not estimable)."""
    per_pixel = _layer_bytes_per_pixel(getattr(prior, "inner", prior))
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
    prior: Prior, solver: SamplerSpec, image_shape: tuple[int, int, int], batch: int, device, solver_args=None
) -> None:
    """Refuse a run that will not fit, before it starts, with the estimate and what to change."""
    need = estimate_peak_bytes(prior, solver, image_shape, batch, bool((solver_args or {}).get("checkpointing")))
    have = available_bytes(torch.device(device))
    if need is None or have is None or need <= have:
        return
    one = estimate_peak_bytes(prior, solver, image_shape, 1) or need
    remedy = (
        f"use --batch-size {max(1, int(have // one))}"
        if batch > 1 and one <= have
        else "restore a smaller image (or crops of it)"
    )
    if solver.needs_grad and not (solver_args or {}).get("checkpointing"):
        remedy += ", or --solver-arg checkpointing=true"
    raise TaskError(
        f"restoring {batch} image(s) of {image_shape[2]}x{image_shape[1]} needs about {_size(need)} "
        f"but {_size(have)} is free on {device}: {remedy}"
    )


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"
