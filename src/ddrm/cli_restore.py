"""``ddrm degrade`` and ``ddrm restore``: synthesise measurements with a sidecar, restore real images.

Values on the command line and in files are in image units ([0, 1]); the library works in [-1, 1]. For a linear
``H``, ``y01 = H x01 + n`` becomes ``y = 2 y01 - H 1`` with noise ``2 sigma_y``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .io import IMAGE_SUFFIXES, read_array, read_image, write_array, write_image, write_text
from .operators import OPERATORS, SVDOperator, build_operator, default_motion_size, motion_kernel, random_mask
from .samplers import SAMPLERS, SamplerSpec

__all__ = ["add_commands", "parse_task", "TaskSpec", "load_kernel", "load_mask"]

SIDECAR_VERSION = 1
NUMERIC_SUFFIX = {"sr": "factor", "sr_bicubic": "factor", "cs": "ratio"}  # "sr4" = task sr with factor 4
TENSOR_PARAMS = {"mask": ".mask.png", "kernel": ".kernel.npy", "permutation": ".perm.npy"}


def _fail(msg: str) -> None:
    raise ValueError(msg)


def parse_task(text: str) -> tuple[str, dict]:
    """``"sr4"`` -> ``("sr", {"factor": 4})``; a registered name maps to itself."""
    if text in OPERATORS:
        return text, {}
    m = re.fullmatch(r"([a-z_]+?)(\d+)", text)
    if m and m.group(1) in NUMERIC_SUFFIX:
        return m.group(1), {NUMERIC_SUFFIX[m.group(1)]: int(m.group(2))}
    examples = ", ".join(["sr4", "sr_bicubic4", "cs4", *[n for n in OPERATORS if n not in NUMERIC_SUFFIX]])
    _fail(f"unknown task {text!r}; choose from {examples}")
    raise AssertionError


def load_kernel(path: Path) -> Tensor:
    """A blur kernel from ``.npy`` (must sum to 1 within 1%) or an image (normalised by its sum)."""
    if path.suffix.lower() == ".npy":
        k = read_array(path).double()
        if k.ndim != 2:
            _fail(f"{path}: a kernel must be a 2-D array, got shape {tuple(k.shape)}")
        total = k.sum().item()
        if not np.isfinite(total) or abs(total - 1.0) > 0.01:
            _fail(f"{path}: kernel sums to {total:.4g}, expected 1 (normalise it)")
    else:
        k = read_image(path).double()
        if k.shape[0] != 1:
            k = k.mean(0, keepdim=True)
        k = k[0]
        total = k.sum().item()
        if total <= 0:
            _fail(f"{path}: kernel image is black")
        k = k / total
    if (k < 0).any():
        _fail(f"{path}: kernel has negative entries")
    return k


def load_mask(path: Path, shape: tuple[int, int, int]) -> Tensor:
    """A mask image: white (>= 0.5) = observed, black = missing; must match the image size."""
    m = read_image(path)
    if tuple(m.shape[-2:]) != tuple(shape[-2:]):
        _fail(f"{path}: mask is {m.shape[-1]}x{m.shape[-2]} but the image is {shape[-1]}x{shape[-2]}")
    return (m.mean(0) >= 0.5) if m.shape[0] > 1 else (m[0] >= 0.5)


@dataclass
class TaskSpec:
    """A degradation, fully resolved: task name, parameters (tensors included) and image shape."""

    name: str
    image_shape: tuple[int, int, int]
    params: dict = field(default_factory=dict)

    def operator(self, device="cpu") -> SVDOperator:
        return build_operator(self.name, self.image_shape, dtype=torch.float32, **self.params).to(device)

    def key(self) -> str:
        """Identity of the operator (for batching images that share one)."""
        parts = {k: (zlib.crc32(v.numpy().tobytes()) if isinstance(v, Tensor) else v) for k, v in self.params.items()}
        return json.dumps([self.name, self.image_shape, parts], sort_keys=True, default=str)

    def to_sidecar(self, stem: Path, sigma_y: float, seed: int | None, measurement: str) -> dict[str, Any]:
        """The JSON record, plus the side files ``{suffix: tensor}`` it refers to."""
        scalars, files = {}, {}
        for k, v in self.params.items():
            if isinstance(v, Tensor):
                files[k] = stem.name + TENSOR_PARAMS[k]
            elif v is not None:
                scalars[k] = v
        return {
            "ddrm_sidecar": SIDECAR_VERSION,
            "task": self.name,
            "params": scalars,
            "param_files": files,
            "image_shape": list(self.image_shape),
            "sigma_y": sigma_y,
            "value_range": [0, 1],
            "seed": seed,
            "measurement": measurement,
        }

    @classmethod
    def from_sidecar(cls, path: Path) -> tuple[TaskSpec, dict]:
        try:
            meta = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            _fail(f"{path}: not a readable sidecar ({str(exc).splitlines()[0][:100]})")
        if not isinstance(meta, dict) or meta.get("ddrm_sidecar") != SIDECAR_VERSION:
            _fail(f"{path}: not a ddrm sidecar (version {SIDECAR_VERSION})")
        if meta.get("task") not in OPERATORS:
            _fail(f"{path}: unknown task {meta.get('task')!r}")
        shape = tuple(int(v) for v in meta["image_shape"])
        params = dict(meta.get("params", {}))
        for k, fname in meta.get("param_files", {}).items():
            fpath = Path(path).parent / fname
            if k == "mask":
                params[k] = load_mask(fpath, shape)
            elif k == "kernel":
                params[k] = load_kernel(fpath)
            elif k == "permutation":
                params[k] = read_array(fpath).long()
            else:
                _fail(f"{path}: unknown parameter file {k!r}")
        return cls(meta["task"], shape, params), meta


def _task_params(args: argparse.Namespace, name: str, params: dict) -> dict:
    """Merge explicit flags into the task's parameters, refusing flags the task does not take."""
    accepted = OPERATORS[name].params
    for flag, key in (
        ("factor", "factor"),
        ("ratio", "ratio"),
        ("missing", "missing"),
        ("intensity", "intensity"),
        ("kernel_size", "size"),
    ):
        value = getattr(args, flag, None)
        if value is None:
            continue
        if key not in accepted:
            _fail(f"--{flag.replace('_', '-')} does not apply to task {name}")
        params[key] = value
    return params


def _image_shape_from_measurement(name: str, params: dict, y_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if name == "cs":
        _fail("a compressed-sensing measurement does not tell the image size: restore it with --from SIDECAR")
    if len(y_shape) != 3:
        _fail(f"expected an image measurement, got an array of shape {y_shape}")
    c, h, w = y_shape
    if name == "color":
        if c != 1:
            _fail(f"colorization restores from a greyscale image, got {c} channels")
        return (3, h, w)
    if c != 3:
        _fail(f"task {name} expects an RGB measurement, got {c} channel(s)")
    if name in ("sr", "sr_bicubic"):
        f = params.get("factor", OPERATORS[name].params["factor"])
        return (c, h * f, w * f)
    return (c, h, w)


# ---------------------------------------------------------------------------------------------- degrade
def cmd_degrade(args: argparse.Namespace) -> int:
    if args.sigma_y < 0 or not np.isfinite(args.sigma_y):
        _fail(f"--sigma-y must be >= 0, got {args.sigma_y}")
    x = read_image(args.input)
    if x.shape[0] != 3:
        _fail(f"{args.input}: expected an RGB image, got {x.shape[0]} channel(s)")
    name, params = parse_task(args.task)
    params = _task_params(args, name, params)
    shape = tuple(x.shape)
    g = torch.Generator().manual_seed(args.seed)
    # resolve every random choice into an explicit tensor, so the sidecar rebuilds H exactly
    if name == "inpaint":
        params["mask"] = (
            load_mask(Path(args.mask), shape) if args.mask else random_mask(shape, params.pop("missing", 0.5), g)
        )
        params.pop("missing", None)
    elif args.mask:
        _fail(f"--mask does not apply to task {name}")
    if name == "deblur_motion":
        if args.kernel:
            params["kernel"] = load_kernel(Path(args.kernel))
        else:
            size = params.pop("size", None) or default_motion_size(shape)
            params["kernel"] = motion_kernel(size, params.pop("intensity", 0.5), g)
        params.pop("size", None)
        params.pop("intensity", None)
    elif args.kernel:
        _fail(f"--kernel does not apply to task {name}")
    if name == "cs":
        params["permutation"] = torch.randperm(shape[1] * shape[2], generator=g)
    spec = TaskSpec(name, shape, params)
    op = spec.operator()
    y = op.measure(x[None], args.sigma_y, g)[0]
    out = Path(args.output)
    image_like = len(op.measurement_shape) == 3 and op.measurement_shape[0] in (1, 3)
    if out.suffix.lower() in IMAGE_SUFFIXES:
        if not image_like:
            _fail(f"a {name} measurement is not an image; write it as .npy")
        if out.suffix.lower() in (".jpg", ".jpeg"):
            _fail("JPEG would add compression artefacts to the measurement; use .png or .npy")
    elif out.suffix.lower() != ".npy":
        _fail(f"{out}: output must be .png or .npy")
    stem = out.with_suffix("")
    meta = spec.to_sidecar(stem, args.sigma_y, args.seed, out.name)
    # write the side files first and the measurement last: a sidecar never points at a missing file
    for k, v in params.items():
        if isinstance(v, Tensor):
            fpath = out.parent / meta["param_files"][k]
            write_image(v.float()[None], fpath) if k == "mask" else write_array(v, fpath)
    write_text(json.dumps(meta, indent=1), stem.with_suffix(".json"))
    write_image(y, out) if out.suffix.lower() != ".npy" else write_array(y.float(), out)
    if not args.quiet:
        print(f"wrote {out} ({name}, sigma_y={args.sigma_y}) and {stem.with_suffix('.json').name}")
    return 0


# ---------------------------------------------------------------------------------------------- restore
def _list_inputs(path: Path) -> list[Path]:
    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES + (".npy",)]
        files = [p for p in files if not any(p.name.endswith(s) for s in TENSOR_PARAMS.values())]
        if not files:
            _fail(f"{path}: no images or .npy measurements in the folder")
        return files
    if not path.is_file():
        _fail(f"{path}: no such file or folder")
    return [path]


def _read_measurement(path: Path) -> Tensor:
    y = read_array(path) if path.suffix.lower() == ".npy" else read_image(path)
    if not torch.isfinite(y).all():
        _fail(f"{path}: measurement contains NaN or infinite values")
    return y.float()


def _resolve(args: argparse.Namespace, path: Path, y: Tensor) -> tuple[TaskSpec, float]:
    sidecar = Path(args.from_sidecar) if args.from_sidecar else None
    if sidecar is None and args.task is None:
        auto = path.with_suffix(".json")
        if auto.is_file():
            sidecar = auto
        else:
            _fail(f"{path}: give --task (or --from SIDECAR); no sidecar {auto.name} found")
    if sidecar is not None:
        spec, meta = TaskSpec.from_sidecar(sidecar)
        sigma_y = args.sigma_y if args.sigma_y is not None else float(meta["sigma_y"])
    else:
        name, params = parse_task(args.task)
        params = _task_params(args, name, params)
        shape = _image_shape_from_measurement(name, params, tuple(y.shape))
        if name == "inpaint":
            if not args.mask:
                _fail("inpainting needs --mask FILE (white = observed)")
            params["mask"] = load_mask(Path(args.mask), shape)
            params.pop("missing", None)
        if name == "deblur_motion":
            if not args.kernel:
                _fail("deblur_motion needs --kernel FILE (.npy or image)")
            params = {"kernel": load_kernel(Path(args.kernel))}
        spec = TaskSpec(name, shape, params)
        if args.sigma_y is None:
            _fail("--sigma-y is required without a sidecar (noise level in [0, 1] image units)")
        sigma_y = args.sigma_y
    if not (sigma_y >= 0 and np.isfinite(sigma_y)):
        _fail(f"sigma_y must be >= 0, got {sigma_y}")
    return spec, sigma_y


def _display(op: SVDOperator, y01: Tensor, shape) -> Tensor:
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


class _Priors:
    """Loads the chosen prior once (analytic priors are built per image shape)."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.cache: dict = {}

    def get(self, shape):
        args = self.args
        if args.prior == "gaussian":
            if shape not in self.cache:
                from .priors import GaussianPrior

                self.cache[shape] = GaussianPrior.stationary(
                    shape, variance=0.25, length=2.0, mean=torch.zeros(shape), dtype=torch.float32
                )
            return self.cache[shape].to(args.device)
        if "net" not in self.cache:
            from .loading import load_prior

            dtype = {"float32": None, "float16": torch.float16, "bfloat16": torch.bfloat16}[args.dtype]
            self.cache["net"] = load_prior(args.prior, args.checkpoint, device=args.device, compute_dtype=dtype)
        return self.cache["net"]


def cmd_restore(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from .metrics import psnr, ssim

    if args.sigma_y is not None and not (args.sigma_y >= 0 and np.isfinite(args.sigma_y)):
        _fail(f"--sigma-y must be >= 0, got {args.sigma_y}")
    solver, solver_args = solver_settings(args)
    src = Path(args.input)
    files = _list_inputs(src)
    folder = src.is_dir()
    if args.output:
        out_root = Path(args.output)
    else:
        out_root = src.with_name(src.name + "_restored") if folder else src.with_name(src.stem + "_restored.png")
    if folder and out_root.suffix:
        _fail(f"{out_root}: restoring a folder needs an output folder")
    if not folder and out_root.suffix.lower() not in IMAGE_SUFFIXES:
        out_root = out_root / (src.stem + ".png")
    targets = [(f, (out_root / (f.stem + ".png")) if folder else out_root) for f in files]
    ref_root = Path(args.reference) if args.reference else None
    if ref_root is not None and not ref_root.exists():
        _fail(f"{ref_root}: reference not found")

    # read and check every input before any work, so a bad file fails fast and writes nothing
    jobs = []
    skipped = 0
    for f, target in targets:
        if folder and target.exists() and not args.overwrite:  # resume an interrupted folder run
            skipped += 1
            continue
        y = _read_measurement(f)
        if args.task and parse_task(args.task)[0] == "color" and y.ndim == 3 and y.shape[0] == 3:
            if (y - y.mean(0, keepdim=True)).abs().max() > 2 / 255:
                _fail(f"{f}: colorization needs a greyscale image, this one has colours")
            y = y.mean(0, keepdim=True)  # a grey image saved as RGB
        spec, sigma_y = _resolve(args, f, y)
        jobs.append((f, target, y, spec, sigma_y))
    if skipped and not args.quiet:
        print(f"{skipped} image(s) already restored; skipping them (use --overwrite to redo)", file=sys.stderr)
    operators: dict[str, SVDOperator] = {}
    for job in jobs:  # every task is checked against the solver before the prior is loaded
        if job[3].key() not in operators:
            operators[job[3].key()] = op = job[3].operator()
            solver.check_operator(op)
    priors = _Priors(args)
    scores = []
    bar = tqdm(total=len(jobs), desc="images", disable=args.quiet or len(jobs) < 2)
    i = 0
    while i < len(jobs):
        spec = jobs[i][3]
        batch = [jobs[i]]
        while len(batch) < args.batch_size and i + len(batch) < len(jobs):
            nxt = jobs[i + len(batch)]
            if nxt[3].key() != spec.key() or nxt[4] != jobs[i][4]:
                break
            batch.append(nxt)
        i += len(batch)
        op = operators[spec.key()].to(args.device)
        prior = priors.get(spec.image_shape)
        if getattr(prior, "channels", 3) != spec.image_shape[0]:
            _fail(f"the prior works on {prior.channels}-channel images, the task on {spec.image_shape[0]}")
        y01 = torch.stack([b[2] for b in batch]).to(args.device)
        if tuple(y01.shape[1:]) != tuple(op.measurement_shape):
            _fail(
                f"{batch[0][0]}: measurement shape {tuple(y01.shape[1:])} does not fit the task ({tuple(op.measurement_shape)})"
            )
        sigma_y = batch[0][4]
        ones = torch.ones(1, *spec.image_shape, device=args.device)
        y = 2 * y01 - op.H(ones)  # to the prior's [-1, 1] range
        gens = [torch.Generator().manual_seed(args.seed + zlib.crc32(b[0].name.encode())) for b in batch]
        with torch.no_grad():  # gradient methods enable autograd themselves, around the network only
            x = solver.run(
                prior, op, y, 2 * sigma_y, task=spec.name, generator=gens, progress_bar=not args.quiet, **solver_args
            )
        x01 = ((x + 1) / 2).clamp(0, 1).cpu()
        for (f, target, _yi, _, _), xi, yb in zip(batch, x01, y01.cpu()):
            write_image(xi, target)
            ref = None
            if ref_root is not None:
                ref_path = (
                    ref_root
                    if ref_root.is_file()
                    else next(
                        (ref_root / (f.stem + s) for s in IMAGE_SUFFIXES if (ref_root / (f.stem + s)).is_file()), None
                    )
                )
                if ref_path is None:
                    print(f"ddrm: warning: no reference for {f.name} in {ref_root}", file=sys.stderr)
                else:
                    ref = read_image(ref_path)
                    if ref.shape != xi.shape:
                        _fail(f"{ref_path}: reference is {tuple(ref.shape)}, restored image is {tuple(xi.shape)}")
                    p, s = psnr(xi, ref), ssim(xi, ref)
                    scores.append((p, s))
                    print(f"{f.name}: PSNR {p:.2f} dB  SSIM {s:.4f}")
            if args.save_grid:
                with torch.no_grad():
                    pinv = ((op.pinv(2 * yb[None].to(args.device) - op.H(ones)) + 1) / 2).clamp(0, 1)[0].cpu()
                panels = [_display(op, yb, spec.image_shape), pinv, xi] + ([ref] if ref is not None else [])
                write_image(_grid(panels), target.with_name(target.stem + "_grid.png"))
        bar.update(len(batch))
    bar.close()
    if len(scores) > 1:
        print(
            f"mean over {len(scores)} images: PSNR {np.mean([s[0] for s in scores]):.2f} dB  SSIM {np.mean([s[1] for s in scores]):.4f}"
        )
    if not args.quiet:
        print(f"restored {len(jobs)} image(s) into {out_root}")
    return 0


def solver_settings(args: argparse.Namespace) -> tuple[SamplerSpec, dict[str, Any]]:
    """The solver chosen on the command line and the parameters given for it, typed and checked."""
    if args.solver not in SAMPLERS:
        _fail(f"unknown solver {args.solver!r}; choose from {', '.join(SAMPLERS)} (see 'ddrm solvers')")
    solver = SAMPLERS[args.solver]
    given: dict[str, Any] = {}
    for item in args.solver_arg:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not value.strip():
            _fail(f"--solver-arg takes KEY=VALUE, got {item!r}")
        if key == "steps":
            _fail("give the number of steps with --steps")
        given[key] = solver.parse(key, value.strip())
    for flag, key in (("eta", "eta"), ("eta_b", "eta_b")):
        value = getattr(args, flag)
        if value is None:
            continue
        if key not in {p.name for p in solver.params}:
            _fail(
                f"--{flag.replace('_', '-')} does not apply to solver {solver.name} (see 'ddrm solvers {solver.name}')"
            )
        solver.check({key: value})
        given[key] = value
    if args.steps is not None:
        solver.check({"steps": args.steps})
        given["steps"] = args.steps
    return solver, given


def cmd_solvers(args: argparse.Namespace) -> int:
    """List the solvers, or describe one (parameters, bounds, official defaults per task)."""
    if args.name is None:
        rows = [("name", "steps", "NFE", "grad", "operators", "summary")]
        for spec in SAMPLERS.values():
            ops = "all" if spec.operators is None else ", ".join(t.__name__ for t in spec.operators)
            rows.append(
                (
                    spec.name,
                    str(spec.steps),
                    str(spec.count_nfe()),
                    "yes" if spec.needs_grad else "no",
                    ops,
                    spec.summary,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[5])
        print("\nNFE = network evaluations per run at the default steps; grad = backpropagates through the network.")
        print("'ddrm solvers NAME' shows a solver's parameters; set them with --solver-arg KEY=VALUE.")
        return 0
    if args.name not in SAMPLERS:
        _fail(f"unknown solver {args.name!r}; choose from {', '.join(SAMPLERS)}")
    spec = SAMPLERS[args.name]
    defaults = spec.defaults()
    print(f"{spec.name}: {spec.summary}")
    print(f"paper: {spec.paper}")
    print(
        f"steps: {spec.steps} (network evaluations: {spec.count_nfe()}); gradients through the network: {'yes' if spec.needs_grad else 'no'}"
    )
    print(f"operators: {'all' if spec.operators is None else ', '.join(t.__name__ for t in spec.operators)}")
    print(f"measurement noise: {spec.noise}")
    print(f"H x = y when sigma_y = 0: {spec.consistency}")
    if spec.params:
        print("parameters (--solver-arg KEY=VALUE):")
        for p in spec.params:
            bounds = ""
            if p.low is not None or p.high is not None:
                bounds = (
                    f" in [{'-inf' if p.low is None else f'{p.low:g}'}, {'inf' if p.high is None else f'{p.high:g}'}]"
                )
            print(f"  {p.name} = {defaults[p.name]!r}{bounds}: {p.help}")
    for task, values in spec.task_defaults.items():
        print(f"defaults for {task}: " + ", ".join(f"{k}={v!r}" for k, v in values.items()))
    return 0


def add_commands(sub) -> None:
    tasks = "sr4|sr_bicubic4|deblur_gauss|deblur_uni|deblur_aniso|deblur_motion|inpaint|color|cs4|denoise"
    p = sub.add_parser("degrade", help="make a measurement y = H x + noise from a clean image, with a sidecar")
    p.add_argument("input", help="clean RGB image")
    p.add_argument("-o", "--output", required=True, help="measurement file (.png, or .npy for exact values / cs)")
    p.add_argument("--task", required=True, help=tasks)
    p.add_argument("--sigma-y", type=float, default=0.05, help="noise std in [0, 1] image units (default 0.05)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mask", default=None, help="inpainting mask image (white = observed); default: random")
    p.add_argument("--missing", type=float, default=None, help="fraction of missing pixels of a random mask (0.5)")
    p.add_argument("--kernel", default=None, help="blur kernel for deblur_motion (.npy summing to 1, or an image)")
    p.add_argument("--kernel-size", type=int, default=None, help="size of the random motion kernel")
    p.add_argument("--intensity", type=float, default=None, help="curvature of the random motion kernel, 0..1")
    p.add_argument("--factor", type=int, default=None, help="super-resolution factor (also: --task sr4)")
    p.add_argument("--ratio", type=int, default=None, help="compressed-sensing ratio (also: --task cs4)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_degrade)

    p = sub.add_parser("restore", help="restore a measurement (or a folder of them) with a diffusion prior")
    p.add_argument("input", help="measurement image/.npy, or a folder of them")
    p.add_argument("-o", "--output", default=None, help="output image (or folder for a folder input)")
    p.add_argument("--task", default=None, help=tasks + " (or read from a sidecar)")
    p.add_argument("--from", dest="from_sidecar", default=None, help="sidecar JSON written by 'ddrm degrade'")
    p.add_argument("--sigma-y", type=float, default=None, help="noise std in [0, 1] units (default: from the sidecar)")
    p.add_argument("--mask", default=None, help="inpainting mask image (white = observed)")
    p.add_argument("--kernel", default=None, help="deblur_motion kernel (.npy or image)")
    p.add_argument("--factor", type=int, default=None)
    p.add_argument("--ratio", type=int, default=None)
    p.add_argument("--prior", default="builtin", help="builtin | gaussian | a preset (see 'ddrm models') | hf:ORG/NAME")
    p.add_argument("--checkpoint", default=None, help="checkpoint file for a preset prior")
    p.add_argument("--solver", default="ddrm", help="ddrm (default) or a peer; see 'ddrm solvers'")
    p.add_argument(
        "--solver-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the solver (repeatable), e.g. --solver-arg scale=0.5; see 'ddrm solvers NAME'",
    )
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the solver's, for the task)")
    p.add_argument("--eta", type=float, default=None, help="shorthand for --solver-arg eta=VALUE")
    p.add_argument("--eta-b", type=float, default=None, help="shorthand for --solver-arg eta_b=VALUE")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--dtype", default="float32", choices=["float32", "float16", "bfloat16"], help="network precision (GPU)"
    )
    p.add_argument("--save-grid", action="store_true", help="also write measurement | pinv | restored | reference")
    p.add_argument("--reference", default=None, help="clean image (or folder) to report PSNR/SSIM against")
    p.add_argument("--overwrite", action="store_true", help="folder runs: redo images whose output exists")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("solvers", help="list the solvers (DDRM and its peers), or show one solver's parameters")
    p.add_argument("name", nargs="?", default=None, help="a solver to describe")
    p.set_defaults(func=cmd_solvers)
