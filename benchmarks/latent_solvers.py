"""Latent solvers on what this machine can run: a tiny random Stable-Diffusion-type pipeline (the parts of
tests/test_latent.py: a text-conditioned U-Net, an autoencoder with a factor of 2, a one-layer text encoder) at 32, 64
and 128 px, SR x2 (block averaging) at sigma_y 0.02; per solver the seconds per step, the network evaluations, the growth
of the peak RSS of its own child process and the memory guard's estimate for the same run, and the measurement
residual over the unconditional sample's. The commands that run the real checkpoints on a GPU (SD 1.5 and SD 2.1-base
at 512 px, PSLD's protocol: SR x8 and box inpainting) are recorded beside them, as not run where no GPU was lent.

    python benchmarks/latent_solvers.py [--write]

Writes benchmarks/results/latent_solvers.json with its provenance (``--write``); the table is rendered into
docs/benchmarks.md by benchmarks/summaries.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETTINGS = {  # steps the tiny models run here (the defaults, 1000 / 500 / 50 levels, are for real checkpoints)
    "psld": {"steps": 100},
    "resample": {
        "steps": 20,
        "interval": 5,
        "lookahead": 2,
        "pixel_iters": 50,
        "latent_iters": 50,
        "latent_window": 10,
    },  # fmt: skip
    "latent-daps": {"steps": 5, "mcmc_steps": 10, "lr": 1e-3},
}
CHILD = r"""
import json, resource, sys, time, torch
from ddrm.checkpoints import load_prior
from ddrm.operators import build_operator
from ddrm.pipeline import estimate_peak_bytes
from ddrm.samplers import SAMPLERS
folder, name, side, settings = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
torch.set_num_threads(2)
prior = load_prior(f"hf:{folder}")
op = build_operator("sr", (3, side, side), factor=2)
g = lambda s: torch.Generator().manual_seed(s)
with torch.no_grad():
    x = prior.decode(torch.randn(1, *prior.latent_shape((3, side, side)), generator=g(2)))
y = op.measure(x, 0.02, g(3))
spec = SAMPLERS[name]
estimate = estimate_peak_bytes(prior, spec, (3, side, side), 1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
start = time.perf_counter()
out = spec(prior, op, y, 0.04, generator=g(20), **settings)
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
free = SAMPLERS["psld"](prior, op, y, 0.04, generator=g(20), steps=20, omega=0.0, gamma=0.0)
ratio = ((y - op.H(out)).norm() / (y - op.H(free)).norm()).item()
print(json.dumps({"solver": name, "side": side, "steps": settings["steps"], "nfe": spec.count_nfe(**settings),
                  "seconds_per_step": seconds / settings["steps"], "measured": after - before, "estimate": estimate,
                  "residual_ratio": ratio}))
"""
GPU = [  # PSLD's protocol (../shared/reference/PRIORS_LATENT.md section 3): sigma_y 0.05 in [-1, 1] units
    {"prior": "hf:runwayml/stable-diffusion-v1-5 and hf:stabilityai/stable-diffusion-2-1-base",
     "task": "SR x8 (bicubic) and a 256 px box, FFHQ at 512 px (PSLD, ReSample, latent DAPS)",
     "command": "ddrm bench psld_sd --data ffhq=FOLDER --device cuda"},
    {"prior": "hf:runwayml/stable-diffusion-v1-5", "task": "one photo, SR x8",
     "command": "ddrm degrade photo.png -o y_sr8.png --task sr_bicubic8 --sigma-y 0.025 && "
                "ddrm restore y_sr8.png --prior hf:runwayml/stable-diffusion-v1-5 --solver psld --device cuda"},
]  # fmt: skip


def build(folder: Path) -> None:
    """The tiny pipeline folder (tests/test_latent.py's parts)."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    import test_latent

    test_latent.save_tiny_pipeline(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/latent_solvers.json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "sd-tiny"
        build(folder)
        for side in (32, 64, 128):
            for name, settings in SETTINGS.items():
                env = {**os.environ, "DDRM_HOME": str(Path(tmp) / "home")}
                out = subprocess.run([sys.executable, "-c", CHILD, str(folder), name, str(side), json.dumps(settings)],
                                     capture_output=True, text=True, check=True, env=env)  # fmt: skip
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(json.dumps(rows[-1]), flush=True)
        if args.write:
            sys.path.insert(0, str(HERE))
            from provenance import write_result

            path = write_result(HERE / "results" / "latent_solvers.json", "python benchmarks/latent_solvers.py --write",
                                rows, f"hf:{folder}", settings=SETTINGS, gpu=[{**g, "status": "not run: no GPU was lent"}
                                                                            for g in GPU])  # fmt: skip
            record = json.loads(path.read_text())
            record["prior"] = "tiny random SD-type pipeline (tests/test_latent.py's parts, seeded)"
            path.write_text(json.dumps(record, indent=1) + "\n")
    sys.path.insert(0, str(HERE))
    from summaries import latent_solvers_table

    print(latent_solvers_table() if args.write else json.dumps(rows, indent=1))
    for g in GPU:
        print(f"on a GPU ({g['prior']}, {g['task']}): {g['command']}")


if __name__ == "__main__":
    main()
