"""Peak memory and time of restoring a large image on the CPU, with the tiled denoiser and the untiled estimate.

A 2048x1536 photo (the bundled example, upscaled) reduced 4x (sr4, sigma_y 0.05) is restored by DDRM with the
built-in prior through ``ddrm restore`` in a child process per setting, which reports its own peak RSS. The step
count is small by default: memory does not grow with steps, time does linearly (``--steps``).

    python benchmarks/large_images.py [--steps 2] [--size 2048x1536]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--size", default="2048x1536")
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    from ddrm.app.demo import EXAMPLE_IMAGE
    from ddrm.pipeline import PriorLoader, estimate_peak_bytes
    from ddrm.samplers import SAMPLERS

    ddrm = str(Path(sys.executable).parent / "ddrm")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / "clean.png"
        Image.open(EXAMPLE_IMAGE).resize((w, h), Image.Resampling.BICUBIC).save(clean)
        y = Path(tmp) / "y.png"
        subprocess.run([ddrm, "degrade", clean, "-o", y, "--task", "sr4", "--sigma-y", "0.05", "--quiet"], check=True)
        untiled = estimate_peak_bytes(PriorLoader("builtin", tile=0)((3, h, w)), SAMPLERS["ddrm"], (3, h, w), 1)
        for label, flags in [("tiled 256 (default)", []), ("tiled 512", ["--tile", "512"])]:
            t0 = time.perf_counter()
            subprocess.run(
                [ddrm, "restore", y, "-o", Path(tmp) / "x.png", "--steps", str(args.steps), "--quiet", *flags],
                check=True,
            )
            seconds = time.perf_counter() - t0
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB -> MiB (max over children)
            rows.append((label, seconds, peak))
    print(f"DDRM, built-in prior, sr4 to {w}x{h}, {args.steps} steps, CPU; untiled estimate {untiled / 2**20:.0f} MiB")
    print("| setting | seconds | peak RSS MiB (max so far over runs) |")
    print("|---|---|---|")
    for label, seconds, peak in rows:
        print(f"| {label} | {seconds:.0f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
