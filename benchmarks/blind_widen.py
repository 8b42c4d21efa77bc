"""A rule that widens the camera-shake route's window where its first guess fills it, measured through the route on
the training photos of ``../shared/DATA.md``: where the TV first guess in the default window (``deblur_blind``'s
21 px, for a user who does not know the shake's size) holds over ``--mass`` of its mass in its outer two rings, the
route given ``--widen-to`` px instead, against the route given the default window, on the same photo and noise.

    python benchmarks/blind_widen.py --part 0/2 --out benchmarks/results/blind_widen_train_part0.json
    python benchmarks/blind_widen.py --part 1/2 --out benchmarks/results/blind_widen_train_part1.json

Each row: a photo of the refit sweeps' six (``blind_refit_sweep.PHOTOS``, their seeds: 0-5 in that order) under a
camera shake (``motion_kernel(n, 0.5)`` seeded by ``n``), blurred as ``blind_real.py`` blurs (the valid part of a
larger crop's blur, 128 px frames) at sigma_y 0.01; the route's first guess in the window
(:func:`~ddrm.pipeline.blind.classical_estimate`: the TV estimate there, from ``TV_FROM`` taps), its outer two rings'
mass (``blind_real.outer_mass``, as ``--estimators`` reads it) and kernel error; where the mass is over ``--mass``,
the route given the window and given ``--widen-to`` px (``restore_blind`` as ``deblur_blind`` runs it: DiffPIR 20
steps, the mean of 4 samples, the allowance, two refits): PSNR of the mean in the frame and the final kernel's error.
``--part i/n``: the rows whose index is ``i`` modulo ``n`` (the two commands above, side by side on two CPU cores,
took 42 and 56 min: a row the rule widens runs the route twice, about 8-15 min).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from blind_real import outer_mass, shake_cases, shake_samples_into  # beside this script
from blind_refit_sweep import PHOTOS  # beside this script
from heldout import part  # beside this script
from provenance import command_line, show, write_result  # beside this script

from ddrm.checkpoints import load_prior
from ddrm.pipeline.blind import classical_estimate, kernel_error

ROOT = Path(__file__).resolve().parent.parent
WINDOW = 21  # deblur_blind's default kernel size (ddrm.tasks.names)
WIDEN_TO = 31
# the outer two rings' share the rule widens at (docs/benchmarks.md, "A shake's size read from its estimate")
MASS = 0.1


def widen_rows(args: argparse.Namespace, files: list[Path], prior) -> list[dict]:  # noqa: ANN001
    """Each shake and photo: the first guess in ``args.window``, its outer mass and error, and where the rule fires
    the route given the window and given ``args.widen_to`` (columns ``route W`` and ``route W kernel error``)."""
    run = SimpleNamespace(size=128, steps=20, samples=4, allowance=None, seed=0, levels=args.levels)
    rows = []
    for k, seed, y, truth, row in shake_cases(run, files, args.shake_sizes, args.part):
        t0 = time.perf_counter()
        first = classical_estimate(y[None], args.window, "full", "valid")
        row["first outer mass"], row["first kernel error"] = outer_mass(first), kernel_error(first, k)
        row["widened"] = row["first outer mass"] > args.mass
        for n in (args.window, args.widen_to) if row["widened"] else ():
            shake_samples_into(row, y, truth, k, prior, run, seed, check=False, size=n)
            row[f"route {n}"] = row.pop(f"blind, full, size {n}, mean of 4")
            row[f"route {n} kernel error"] = row.pop(f"blind, full, size {n} kernel error")
            row.pop(f"blind, full, size {n}")  # the first sample alone
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        show(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shake-sizes", default="15,21,31", help="the shakes (9 px: the rule fires on 1 of 12 rows)")
    ap.add_argument("--levels", default="0.01")
    ap.add_argument("--photos", default="data/photos/train", help="the folder holding the six photos")
    ap.add_argument("--window", type=int, default=WINDOW)
    ap.add_argument("--widen-to", type=int, default=WIDEN_TO)
    ap.add_argument("--mass", type=float, default=MASS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--part", type=part, default="0/1", help="i/n: the rows whose index is i modulo n")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    args.shake_sizes = tuple(int(v) for v in args.shake_sizes.split(","))
    torch.set_num_threads(args.threads)
    files = [ROOT / args.photos / f"{p}.png" for p in PHOTOS]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise SystemExit(f"missing photos {missing} in {args.photos}; run 'ddrm prepare-data' (see ../shared/DATA.md)")
    rows = widen_rows(args, files, load_prior("builtin", None))
    write_result(args.out, command_line(), rows, size=128, steps=20, samples=4, photos=args.photos, window=args.window,
                 widen_to=args.widen_to, mass=args.mass, part=list(args.part))  # fmt: skip


if __name__ == "__main__":
    main()
