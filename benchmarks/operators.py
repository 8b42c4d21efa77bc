"""Per-call time of H, Ht, V, Vt for every registered operator on one 3x256x256 image, the time to build
each operator, and DDRM's own overhead per step (a zero-cost prior), as a table.

    python benchmarks/operators.py [--size 256] [--reps 20] [--threads N]

Target: sampler overhead < 3 ms/step at 256x256 on a 2-core CPU (the official DDRM code: 5.6-13.5 ms/step).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ddrm import ddrm
from ddrm.operators import OPERATORS, SVDOperator, build_operator
from ddrm.priors import Prior


class ZeroCostPrior(Prior):
    """Returns its input: isolates the sampler's own work."""

    def denoise(self, x, sigma):
        return x


def timeit(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = (3, args.size, args.size)
    x = torch.rand(1, *shape) * 2 - 1
    prior = ZeroCostPrior()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, image 1x{shape[0]}x{shape[1]}x{shape[2]}, float32"
    )
    print(
        f"{'operator':14s} {'build ms':>9s} {'H ms':>8s} {'Ht ms':>8s} {'V ms':>8s} {'Vt ms':>8s} {'ddrm ms/step':>13s}"
    )
    for name in [n for n, spec in OPERATORS.items() if spec.contract is SVDOperator]:  # DDRM's operators
        build_ms = timeit(lambda: build_operator(name, shape, generator=torch.Generator().manual_seed(0)), 3)
        op = build_operator(name, shape, generator=torch.Generator().manual_seed(0))
        y = op.H(x)
        z = op.Vt(x)
        with torch.no_grad():
            row = [timeit(lambda: op.H(x), args.reps), timeit(lambda: op.Ht(y), args.reps)]
            row += [timeit(lambda: op.V(z), args.reps), timeit(lambda: op.Vt(x), args.reps)]
            g = torch.Generator().manual_seed(0)
            total = timeit(lambda: ddrm(prior, op, y, 0.1, steps=args.steps, generator=g), max(3, args.reps // 4))
        print(f"{name:14s} {build_ms:9.2f} " + " ".join(f"{v:8.2f}" for v in row) + f" {total / args.steps:13.2f}")


if __name__ == "__main__":
    main()
