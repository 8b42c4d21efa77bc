"""DDRM and its peers side by side: overhead per step, peak memory, quality on held-out photos.

    python benchmarks/solvers.py overhead [--size 256] [--task sr]
    python benchmarks/solvers.py memory   [--size 256] [--device cpu|cuda]
    python benchmarks/solvers.py quality  [--steps recommended|20|N] [--size 256] [--images 6] [--out results.json]
                                          [--solvers "ddrm dps ddrm+mcg:w=0.1"]
    python benchmarks/solvers.py table    --out results.json [--out more.json ...]

overhead: seconds of solver arithmetic per network evaluation, with a zero-cost prior (the exact MMSE denoiser of
    N(0, I) data, ``x / (1 + sigma^2)``) on one 3 x size x size image; and what that adds to one run at the
    solver's default steps.
memory: peak memory of one run (3 sampling steps) with the built-in prior on one image, each solver in a fresh
    process: resident-set growth over the loaded model on CPU (VmHWM after resetting it), allocator peak on CUDA.
    DPS with and without gradient checkpointing shows the price of back-propagation.
quality: PSNR / SSIM on the held-out photos (``data/photos/heldout``, made by ``ddrm prepare-data``; taken from
    scikit-image / scikit-learn when the folder is missing), size x size centre crops, sigma_y = 0.05 in [0, 1]
    units (0.1 in the solvers' [-1, 1] units), for SR x4 (block averaging), Gaussian deblurring (DDRM's kernel) and
    inpainting (50 % random pixels), with each solver at its recommended (official) steps for the task or at a
    fixed step count; baselines bicubic upsampling (SR) and the pseudo-inverse. Results accumulate in ``--out``
    (a run resumes where it stopped); ``table`` prints them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ddrm import build_operator
from ddrm.io import read_image
from ddrm.metrics import psnr, ssim
from ddrm.operators import random_mask
from ddrm.priors import Prior
from ddrm.samplers import SAMPLERS

TASKS = {"sr4": ("sr", {"factor": 4}), "deblur_gauss": ("deblur_gauss", {}), "inpaint": ("inpaint", {})}
SIGMA_Y01 = 0.05  # [0, 1] units; the solvers get 2 x this
SOLVERS = [n for n in SAMPLERS if n != "ddim"]


class ZeroCostPrior(Prior):
    """The exact denoiser of x0 ~ N(0, I): ``x / (1 + sigma^2)``; differentiable and almost free."""

    def denoise(self, x, sigma):
        return x / (1.0 + float(sigma) ** 2)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def heldout_photos(folder: str, size: int, count: int) -> list[tuple[str, torch.Tensor]]:
    files = sorted(Path(folder).glob("*.png"))
    if files:
        images = [(f.stem, read_image(f)) for f in files]
    else:
        from ddrm.training.data import HELDOUT_PHOTOS, _heldout_image

        images = [
            (Path(name).stem, torch.from_numpy(_heldout_image(origin, name)).permute(2, 0, 1).float() / 255)
            for origin, name in HELDOUT_PHOTOS
        ]
    out = []
    for name, x in sorted(images)[:count]:
        _, h, w = x.shape
        s = min(size, h, w)
        out.append((name, x[:, (h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s].contiguous()))
    return out


# ---------------------------------------------------------------------- overhead
def small_settings(name: str) -> dict:
    """A few steps of the default configuration (jumps included), enough to time the per-step arithmetic."""
    return {"daps": {"steps": 4}, "repaint": {"steps": 30}}.get(name, {"steps": 10})


def cmd_overhead(args) -> None:
    torch.set_num_threads(args.threads)
    shape = (3, args.size, args.size)
    task, params = TASKS[args.task]
    op = build_operator(task, shape, generator=gen(0), **params)
    prior = ZeroCostPrior()
    x = torch.rand(1, *shape) * 2 - 1
    y = op.measure(x, 0.1, gen(1))
    print(
        f"solver arithmetic per network evaluation, zero-cost prior, {args.task} on 1x{shape}, {args.threads} threads"
    )
    print(f"{'solver':10s} {'ms / NFE':>10s} {'default NFE':>12s} {'s / default run':>16s}")
    for name in SOLVERS:
        spec = SAMPLERS[name]
        if not spec.accepts(op):
            print(f"{name:10s} {'(does not support ' + task + ')':>40s}")
            continue
        settings = small_settings(name)
        spec.run(prior, op, y, 0.1, task=task, generator=gen(2), **settings)  # warm-up
        t0 = time.perf_counter()
        spec.run(prior, op, y, 0.1, task=task, generator=gen(2), **settings)
        per_nfe = (time.perf_counter() - t0) / spec.count_nfe(task=task, **settings)
        nfe = spec.count_nfe(task=task)
        print(f"{name:10s} {per_nfe * 1e3:10.2f} {nfe:12d} {per_nfe * nfe:16.2f}")


# ---------------------------------------------------------------------- memory
def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def probe_memory(name: str, args) -> float:
    """Peak memory (MiB) of 3 sampling steps of ``name`` beyond the loaded prior and inputs; run in a fresh process."""
    from ddrm.checkpoints import load_prior

    torch.set_num_threads(args.threads)
    prior = load_prior(args.prior, args.checkpoint, device=args.device)
    shape = (3, args.size, args.size)
    op = build_operator("sr", shape, factor=4).to(args.device)
    y = op.measure(torch.rand(1, *shape, device=args.device) * 2 - 1, 0.1, gen(0))
    spec_name, _, variant = name.partition(":")
    settings = {"steps": 3} | ({"checkpointing": True} if variant == "checkpointing" else {})
    if spec_name == "daps":
        settings |= {"langevin_steps": 10}
    if spec_name == "repaint":
        settings = {"steps": 3, "jump_length": 1, "jump_n_sample": 1}
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        SAMPLERS[spec_name].run(prior, op, y, 0.1, task="sr", generator=gen(1), **settings)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    base = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    SAMPLERS[spec_name].run(prior, op, y, 0.1, task="sr", generator=gen(1), **settings)
    return (_rss_kib("VmHWM") - base) / 1024


def cmd_memory(args) -> None:
    names = [n for n in SOLVERS if n != "repaint"] + ["dps:checkpointing", "pigdm:checkpointing"]
    where = "CUDA allocator peak" if args.device.startswith("cuda") else "resident-set peak (VmHWM)"
    print(f"peak memory beyond the loaded prior, {args.prior} prior, 3 steps on 1x3x{args.size}x{args.size}: {where}")
    print(f"{'solver':22s} {'MiB':>8s}")
    for name in names:
        cmd = [sys.executable, __file__, "_probe", name, "--size", str(args.size), "--device", args.device]
        cmd += ["--prior", args.prior, "--threads", str(args.threads)] + (
            ["--checkpoint", args.checkpoint] if args.checkpoint else []
        )
        res = subprocess.run(cmd, capture_output=True, text=True)
        value = res.stdout.strip().splitlines()[-1] if res.returncode == 0 else "failed: " + res.stderr.strip()[-200:]
        print(f"{name:22s} {value:>8s}", flush=True)


# ---------------------------------------------------------------------- quality
def restore_row(prior, name, task_key, x01, seed, steps) -> dict:
    task, params = TASKS[task_key]
    shape = tuple(x01.shape)
    g = gen(seed)
    if task == "inpaint":
        params = {"mask": random_mask(shape, 0.5, g)}
    op = build_operator(task, shape, **params)
    y01 = op.measure(x01[None], SIGMA_Y01, g)
    y = 2 * y01 - op.H(torch.ones(1, *shape))
    if name in ("pinv", "bicubic"):
        t0 = time.perf_counter()
        if name == "bicubic":
            out01 = F.interpolate(y01, scale_factor=params["factor"], mode="bicubic", align_corners=False)[0]
        else:
            out01 = (op.pinv(y)[0] + 1) / 2
        nfe, seconds = 0, time.perf_counter() - t0
    else:
        spec, overrides = solver_variant(name)
        kw = {"steps": int(steps.rstrip("*")), **overrides}
        nfe = spec.count_nfe(task=task, **kw)
        t0 = time.perf_counter()
        with torch.no_grad():
            out = spec.run(prior, op, y, 2 * SIGMA_Y01, task=task, generator=gen(seed + 1), **kw)
        seconds = time.perf_counter() - t0
        out01 = (out[0] + 1) / 2
    out01 = out01.clamp(0, 1)
    ok = bool(torch.isfinite(out01).all())
    return {
        "psnr": psnr(out01, x01) if ok else float("nan"),
        "ssim": ssim(out01, x01) if ok else float("nan"),
        "nfe": nfe,
        "seconds": seconds,
    }


def solver_variant(text: str) -> tuple:
    """``"ddrm+mcg:w=0.1,eta=1"`` -> (the spec, {"w": 0.1, "eta": 1.0}): a solver with some parameters changed."""
    name, _, rest = text.partition(":")
    spec = SAMPLERS[name]
    overrides = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        overrides[key] = spec.parse(key, value)
    return spec, overrides


def resolved_steps(name: str, task_key: str, steps: str) -> str:
    """The step count a quality row runs at, marked ``*`` when it is the solver's recommendation for the task."""
    recommended = solver_variant(name)[0].defaults(TASKS[task_key][0])["steps"]
    n = recommended if steps == "recommended" else int(steps)
    return f"{n}*" if n == recommended else str(n)


def cmd_quality(args) -> None:
    from ddrm.checkpoints import load_prior

    torch.set_num_threads(args.threads)
    prior = load_prior(args.prior, args.checkpoint, device="cpu")
    photos = heldout_photos(args.heldout, args.size, args.images)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    solvers = args.solvers.split() if args.solvers else SOLVERS
    tasks = args.tasks.split(",")
    for task_key in tasks:
        for name in ["bicubic", "pinv", *solvers] if task_key == "sr4" else ["pinv", *solvers]:
            baseline = name in ("bicubic", "pinv")
            probe = build_operator(TASKS[task_key][0], (3, 8, 8), **TASKS[task_key][1])
            if not baseline and not solver_variant(name)[0].accepts(probe):
                continue
            steps = "-" if baseline else resolved_steps(name, task_key, args.steps)
            for i, (img, x01) in enumerate(photos):
                key = f"{task_key}|{name}|{steps}|{args.size}|{img}"
                if key in results:
                    continue
                row = restore_row(prior, name, task_key, x01, 1000 * i + 7, steps)
                results[key] = row
                tmp = out.with_name(out.name + ".tmp")
                tmp.write_text(json.dumps(results, indent=1))
                tmp.replace(out)
                print(
                    f"{key}: PSNR {row['psnr']:.2f} SSIM {row['ssim']:.3f} NFE {row['nfe']} {row['seconds']:.1f}s",
                    flush=True,
                )
    print_table(results)


def print_table(results: dict) -> None:
    """Mean PSNR / SSIM per (solver, steps, size) and task, over the photos each cell has (``*``: the solver's
    recommended steps for the task)."""
    cells: dict = {}
    for key, row in results.items():
        task, name, steps, size, _ = key.split("|")
        cells.setdefault((name, steps, size), {}).setdefault(task, []).append(row)
    tasks = [t for t in TASKS if any(t in v for v in cells.values())]
    head = f"{'solver':16s} {'steps':>6s} {'size':>4s} " + " ".join(
        f"{t + ' PSNR/SSIM (n, NFE, s)':>34s}" for t in tasks
    )
    print(head)
    order = {n: i for i, n in enumerate(["bicubic", "pinv", *SOLVERS])}

    def rank(kv):
        (name, steps, size), _ = kv
        return (size, order.get(name.partition(":")[0], 99), name, int(steps.rstrip("*-") or 0))

    for (name, steps, size), per_task in sorted(cells.items(), key=rank):
        parts = []
        for t in tasks:
            rows = per_task.get(t)
            if not rows:
                parts.append(f"{'-':>34s}")
                continue
            p = statistics.mean(r["psnr"] for r in rows)
            s = statistics.mean(r["ssim"] for r in rows)
            sec = statistics.mean(r["seconds"] for r in rows)
            cell = f"{p:6.2f}/{s:.3f} ({len(rows)}, {rows[0]['nfe']}, {sec:.0f})" if math.isfinite(p) else "diverged"
            parts.append(f"{cell:>34s}")
        print(f"{name:16s} {steps:>6s} {size:>4s} " + " ".join(parts))


def cmd_table(args) -> None:
    results: dict = {}
    for path in args.out_files:
        results.update(json.loads(Path(path).read_text()))
    print_table(results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--size", type=int, default=256)
    common.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1))
    common.add_argument("--prior", default="builtin")
    common.add_argument("--checkpoint", default=None)
    p = sub.add_parser("overhead", parents=[common])
    p.add_argument("--task", default="sr4", choices=list(TASKS))
    p = sub.add_parser("memory", parents=[common])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p = sub.add_parser("_probe", parents=[common])
    p.add_argument("name")
    p.add_argument("--device", default="cpu")
    p = sub.add_parser("quality", parents=[common])
    p.add_argument("--steps", default="recommended", help="'recommended' (each solver's default for the task) or N")
    p.add_argument("--heldout", default="data/photos/heldout")
    p.add_argument("--images", type=int, default=6)
    p.add_argument(
        "--solvers", default=None, help="space-separated; NAME:KEY=VALUE,... for a variant (default: all but ddim)"
    )
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--out", default="runs/solvers.json")
    p = sub.add_parser("table")
    p.add_argument("--out", dest="out_files", action="append", required=True)
    args = ap.parse_args()
    if args.command == "overhead":
        cmd_overhead(args)
    elif args.command == "memory":
        cmd_memory(args)
    elif args.command == "_probe":
        print(f"{probe_memory(args.name, args):.0f}")
    elif args.command == "quality":
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        cmd_quality(args)
    else:
        cmd_table(args)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
