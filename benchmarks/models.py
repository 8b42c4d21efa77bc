"""Forward time of each preset network at its native size on CPU, random weights, batch 1, as a table.

python benchmarks/models.py [--reps 2] [--presets adm-ffhq256 ...]
"""

from __future__ import annotations

import argparse
import time

import torch

from ddrm.models import PRESETS, count_parameters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--presets", nargs="*", default=list(PRESETS))
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, batch 1")
    print(f"{'preset':24s} {'params':>12s} {'size':>5s} {'build s':>8s} {'forward s':>10s}")
    for name in args.presets:
        p = PRESETS[name]
        t0 = time.perf_counter()
        net = p.build().eval()
        build = time.perf_counter() - t0
        x = torch.randn(1, p.channels, p.image_size, p.image_size)
        t = torch.tensor([500.0])
        with torch.no_grad():
            net(x, t)  # warm-up
            times = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                net(x, t)
                times.append(time.perf_counter() - t0)
        print(f"{name:24s} {count_parameters(p.build):12,d} {p.image_size:5d} {build:8.1f} {min(times):10.2f}")
        del net


if __name__ == "__main__":
    main()
