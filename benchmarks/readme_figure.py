"""The picture at the top of README: the demo's measurement | restored | original, made through ``ddrm demo``'s own
path (:func:`ddrm.app.demo.run_demo`), with a record of how it was made beside it.

    python benchmarks/readme_figure.py            # writes docs/images/demo_sr4.png and demo_sr4.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from provenance import provenance  # benchmarks/provenance.py, beside this script

from ddrm.app.demo import run_demo
from ddrm.io import read_image, write_image
from ddrm.pipeline import grid_image

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="sr4")
    ap.add_argument("--sigma-y", type=float, default=0.05)
    ap.add_argument("--prior", default="builtin")
    ap.add_argument("--out", default=str(ROOT / "docs" / "images" / "demo_sr4.png"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        res = run_demo(Path(tmp), task=args.task, sigma_y=args.sigma_y, prior=args.prior, device="cpu",
                       progress_bar=False)  # fmt: skip
        panels = [read_image(p) for p in (res.before, res.restored, res.original)]
        write_image(grid_image(panels), args.out)
    record = {
        "figure": Path(args.out).name,
        "panels": ["measurement (nearest upsampling)", "restored", "original"],
        "command": "python benchmarks/readme_figure.py",
        "task": args.task,
        "sigma_y": args.sigma_y,
        "solver": "ddrm (20 steps, the demo's defaults)",
        "psnr_db": round(res.psnr, 2),
        "ssim": round(res.ssim, 4),
        "psnr_pinv_db": round(res.psnr_pinv, 2),
        **provenance(args.prior),
    }
    Path(args.out).with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
