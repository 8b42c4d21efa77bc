"""The camera-shake route's kernel refits (``restore_blind``'s ``refits``, an EM alternation) run further and made
otherwise, on the training photos of ``../shared/DATA.md``: whether more rounds, an allowance that falls as the kernel
improves, or a refit regularised or damped beat the default (:data:`~ddrm.pipeline.blind.HELD_REFITS` rounds of the
plain fit under the fixed allowance :data:`~ddrm.pipeline.blind.KERNEL_NOISE`). Made on a GPU: each row is many runs
of the route (2 CPU cores take about 40 s a run at 128 px).

    python benchmarks/blind_refit_sweep.py --variants schedules --rounds 6 --device cuda --workers 12 --minutes 4.5
    python benchmarks/blind_refit_sweep.py --variants fits --rounds 2 --levels 0.01 --device cuda --workers 14 \\
        --minutes 3.3

Each row: a training photo (six of them) under a camera shake of 9-31 px (``motion_kernel(n, 0.5)`` seeded by
``n``), blurred as ``blind_real.py`` blurs (the valid part of a larger crop's blur, 128 px frames); the route's
classical estimate (``l0_kernel``, full, valid) restored as the route restores (DiffPIR 20 steps, the mean of 4
samples, the allowance, the image put back in place), round 0; then each variant's rounds, from round 0: the kernel
fitted to the last round's samples' mean (``estimate_full`` with the estimator's ``lam`` and ``smooth``), cleaned
(``clean_kernel``), re-centred, and the photo restored again under the same noise draws. Columns ``r0`` and ``VARIANT
rR`` (PSNR of the mean in the frame; ``r0 one``: its first sample), ``... kerr`` (kernel error), ``... noise`` (the allowance of that round).

``--variants allowances`` (on 2 CPU cores, about 20 min): round 0 alone, the classical estimate restored at the
allowances of :data:`ROUND0_ALLOWANCES` beside the route's (``r0 A``): how much an allowance chosen for each photo
could be worth where the estimate is near the shake or far from it::

    python benchmarks/blind_refit_sweep.py --variants allowances --rounds 0 --levels 0.01 --threads 2

``--variants schedules``: the allowance in the refit rounds held at 0.05 (``const``: the route's), 0.05 x 0.7^r,
0.05 x 0.5^r, or the residual's excess over the photo's noise (``resid``: the rms of ``y - k (*) x`` over the
samples' mean, less sigma_y in quadrature); and the true kernel through the route at allowances 0.05, 0.025, 0.0125
and 0 (``true A``; 0 is the non-blind run at the photo's noise). ``--variants fits``: the refit as the route makes it
(``const``), averaged with the kernel before it (``damp``), with ten times the ridge (``lam10``) or four times the
smoothing (``smooth4``). ``--variants tv``: round 0 from the total-variation estimate (``tv_kernel``, Perrone &
Favaro 2014) in place of the L0 one, and the route's refits (``const``)::

    python benchmarks/blind_refit_sweep.py --variants tv --rounds 2 --levels 0.01 --workers 2

``--variants route`` (the allowance chosen again for the route's own estimate, on 2 CPU cores): round 0 from the
route's first guess itself (``classical_estimate``: the TV estimate from ``TV_FROM`` taps, the L0 one below, the
contrast floor), restored at 0.05 and at the first of :data:`ROUND0_ALLOWANCES` (``r0 A``), then the route's refits
at each, the allowance held (``const rR``: the route itself when made, at 0.05 throughout; ``half rR``)::

    python benchmarks/blind_refit_sweep.py --variants route --rounds 2 --levels 0.01 --workers 2

``--variants joint`` (on 2 CPU cores): round 0 from the route's first guess at the route's allowance
(:func:`~ddrm.pipeline.blind.held_allowance`), then two refits fitted to all the samples at once (``joint rR``: the sum
of each sample's normal equations, a Monte Carlo estimate of EM's second moment of the image, Levin et al. 2011)
instead of to their mean; its round 0 and the route's refits are ``blind_refit_route_train.json``'s (``r0`` and
``const rR`` at 0.05, ``r0 0.025`` and ``half rR`` under 15 taps)::

    python benchmarks/blind_refit_sweep.py --variants joint --rounds 2 --levels 0.01 --workers 2

Rows run in worker processes, the largest shakes first; ``--minutes``: no row is begun after that many minutes
(a run on a lent GPU stops within its lease: the file says how many rows it holds).
"""

from __future__ import annotations

import argparse
import functools
import math
import time
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.multiprocessing as mp
from blind_real import blurred, motion_kernels  # benchmarks/blind_real.py, beside this script
from provenance import command_line, write_result  # benchmarks/provenance.py, beside this script

from ddrm.metrics import psnr
from ddrm.pipeline import PriorLoader
from ddrm.pipeline.batch import image_generator, sample_generators
from ddrm.pipeline.blind import (
    KERNEL_NOISE,
    L0_CONTRAST,
    KernelEstimator,
    _copy_generators,  # the route's replay of one round's noise draws (the refit rounds are replayed here)
    classical_estimate,
    clean_kernel,
    estimate_full,
    held_allowance,
    kernel_error,
    kernel_offset,
    l0_kernel,
    move_image,
    raise_contrast,
    recentre,
)
from ddrm.pipeline.tv_kernel import tv_kernel
from ddrm.samplers import SAMPLERS

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf")
SCHEDULES = ("const", "g0.7", "g0.5", "resid")
FITS = {"const": (1.0, 1.0, 0.0), "damp": (1.0, 1.0, 0.5), "lam10": (10.0, 1.0, 0.0), "smooth4": (1.0, 4.0, 0.0)}
TRUE_ALLOWANCES = (0.05, 0.025, 0.0125, 0.0)
ROUND0_ALLOWANCES = (0.025,)  # --variants allowances: round 0 at these beside the route's KERNEL_NOISE
VARIANTS = {
    "schedules": SCHEDULES,
    "fits": tuple(FITS),
    "allowances": (),
    "tv": ("const",),
    "route": ("const", "half"),
    "joint": ("joint",),
}


def make_rows(levels: str, sizes: tuple[int, ...], heldout: str) -> list[dict]:
    """The cases, in order: each shake, each level, each photo; ``y`` as the GPU run read them (8-bit values)."""
    args = SimpleNamespace(levels=levels, size=128, seed=0)
    files = [ROOT / heldout / f"{p}.png" for p in PHOTOS]
    rows = []
    for family, k in motion_kernels(sizes).items():
        for seed, y, truth, row in blurred(args, files, family, k):
            rows.append({**row, "seed": seed, "y": (y * 255).round().to(torch.uint8), "truth": truth.clone(),
                         "k": k.float().clone()})  # fmt: skip
    return rows


def allowance(schedule: str, r: int, base: float, resid: float) -> float:
    """The allowance of refit round ``r`` under ``schedule``."""
    return {"const": base, "g0.7": base * 0.7**r, "g0.5": base * 0.5**r, "resid": resid}[schedule]


@functools.cache
def loader(device: str) -> PriorLoader:
    """The built-in prior's loader on ``device``, one per process (its weights read once)."""
    return PriorLoader("builtin", None, torch.device(device))


def one_row(row: dict, variants: str, rounds: int, steps: int, samples: int, dev: torch.device) -> dict:  # noqa: C901
    """Round 0 and every variant's rounds (and, for ``schedules``, the true kernel's runs) of one case."""
    t0 = time.time()
    y01 = (row["y"].float() / 255)[None].to(dev)
    truth, k_true, sy = row["truth"], row["k"], row["sigma_y"]
    n = k_true.shape[0]
    c = (n - 1) // 2
    prior = loader(str(dev))((3, 128 + n - 1, 128 + n - 1))
    gens = sample_generators([image_generator(row["seed"], "image 0", dev)], samples)
    est = KernelEstimator(y01, n, "full", dtype=y01.dtype, boundary="valid", start_kernel=k_true.double())

    def run(k: torch.Tensor, noise: float, move: bool = True) -> torch.Tensor:
        est.k = k
        with torch.no_grad():
            x = SAMPLERS["diffpir"].run(prior, est.operator(1.0), (2 * y01 - 1).repeat_interleave(samples, 0),
                                        2 * math.hypot(sy, noise), generator=_copy_generators(gens), steps=steps)  # fmt: skip
        x = ((x + 1) / 2).clamp(0, 1)
        return move_image(x, *kernel_offset(est.kernel)).clamp(0, 1) if move else x

    def score(x: torch.Tensor, one: bool = False) -> float:  # the mean's PSNR in the frame (``one``: sample 0's)
        return psnr((x[0] if one else x.mean(0))[:, c : c + 128, c : c + 128].cpu(), truth)

    def refit(x: torch.Tensor, variant: str, k_prev: torch.Tensor) -> torch.Tensor:
        lam, smooth, damp = FITS[variant] if variants == "fits" else (1.0, 1.0, 0.0)
        xs, ys = x.mean(0, keepdim=True), y01
        if variant == "joint":  # every sample's channels as channels of one image, the photo repeated to match
            xs, ys = x.reshape(1, -1, *x.shape[-2:]), y01.repeat(1, x.shape[0], 1, 1)
        fit = estimate_full(xs, ys, n, lam=est.lam * lam, smooth=est.smooth * smooth, boundary="valid").cpu()
        if damp:
            fit = damp * k_prev.to(fit) + (1 - damp) * fit
        return recentre(clean_kernel(fit))

    def residual(x: torch.Tensor, k: torch.Tensor) -> float:  # rms of y - k (*) x over the samples' mean, [0, 1]
        est.k = k
        xm = move_image(x.mean(0, keepdim=True), *(-d for d in kernel_offset(est.kernel))) * 2 - 1
        return ((est.operator(1.0).H(xm).reshape(y01.shape) - (2 * y01 - 1)) / 2).pow(2).mean().sqrt().item()

    out = {k: row[k] for k in ("kernel", "sigma_y", "image", "blurry", "seed")}
    if variants == "tv":  # the TV estimate as the route makes it (its photo's contrast raised as the L0 one's)
        k0 = recentre(tv_kernel(raise_contrast(y01, L0_CONTRAST), n))
    elif variants in ("route", "joint"):  # the route's own first guess (TV from TV_FROM taps, else L0; the floor)
        k0 = classical_estimate(y01, n, "full", "valid")
    else:  # the L0 estimate as the GPU files made it (before the route's contrast floor, L0_CONTRAST)
        k0 = l0_kernel(y01, n, "full", boundary="valid")
    base = held_allowance(n, sy) if variants == "joint" else KERNEL_NOISE  # the library's allowance now
    x0 = run(k0, base)
    out["r0"], out["r0 one"], out["r0 kerr"] = score(x0), score(x0, one=True), kernel_error(k0, k_true)
    res0 = residual(x0, k0)
    out["r0 resid"] = res0
    starts = {"const": x0}  # each variant's round 0 (``route``: ``half``'s at its own allowance)
    for noise in ROUND0_ALLOWANCES if variants in ("allowances", "route") else ():
        starts[noise] = run(k0, noise)
        out[f"r0 {noise}"] = score(starts[noise])
    for variant in VARIANTS[variants]:
        x, k = starts[ROUND0_ALLOWANCES[0]] if variant == "half" else x0, k0
        resid = math.sqrt(max(res0**2 - sy**2, 0.0))
        for r in range(1, rounds + 1):
            k = refit(x, variant, k)
            if variants == "schedules":
                noise = allowance(variant, r, KERNEL_NOISE, resid)
            else:  # ``half``: the smaller allowance of round 0 held in its refits as the route holds its own
                noise = ROUND0_ALLOWANCES[0] if variant == "half" else base
            x = run(k, noise)
            out[f"{variant} r{r}"], out[f"{variant} r{r} kerr"] = score(x), kernel_error(k, k_true)
            out[f"{variant} r{r} noise"] = noise
            if variant == "resid":
                resid = math.sqrt(max(residual(x, k) ** 2 - sy**2, 0.0))
    for noise in TRUE_ALLOWANCES if variants == "schedules" else ():
        out[f"true {noise}"] = score(run(k_true.double(), noise, move=False))
    out["t"] = time.time() - t0
    return out


def worker(args: argparse.Namespace, rows: list[dict], order: list[int], queue) -> None:  # noqa: ANN001
    torch.set_num_threads(args.threads)
    for i in order:
        if time.time() > args.start + 60 * args.minutes:
            break
        queue.put(one_row(rows[i], args.variants, args.rounds, args.steps, args.samples, torch.device(args.device)))
    queue.put(None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", choices=tuple(VARIANTS), required=True)
    ap.add_argument("--levels", default="0.01,0.02")
    ap.add_argument("--shake-sizes", default="9,15,21,31")
    ap.add_argument("--heldout", default="data/photos/train", help="the photos' folder (the training photos)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch threads in each worker")
    ap.add_argument("--minutes", type=float, default=math.inf, help="no row begun after this many minutes")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    args.start = time.time()
    rows = make_rows(args.levels, tuple(int(s) for s in args.shake_sizes.split(",")), args.heldout)
    order = sorted(range(len(rows)), key=lambda i: -i)  # the largest shakes first
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=worker, args=(args, rows, order[w :: args.workers], queue)) for w in range(args.workers)
    ]
    for p in procs:
        p.start()
    done, out = 0, []
    while done < len(procs):
        r = queue.get()
        if r is None:
            done += 1
        else:
            out.append(r)
            print({k: round(v, 2) if isinstance(v, float) else v for k, v in r.items() if " " not in k}, flush=True)
    for p in procs:
        p.join()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    path = write_result(args.out or f"benchmarks/results/blind_refit_{args.variants}_train.json", command_line(), out,
                        photos=args.heldout, size=128, steps=args.steps, samples=args.samples, rounds=args.rounds,
                        cases=len(rows), processes=args.workers,
                        device=f"cuda ({name})" if name else None)  # fmt: skip
    print(path)


if __name__ == "__main__":
    main()
