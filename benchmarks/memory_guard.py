"""The memory guard's estimate against the measured peak: DDRM (20 steps, sr4, sigma_y 0.05) with the built-in prior
and with the tiny ADM fixture (tests/data, attention at 1/2 and 1/4 scale, under no pinned size) at three sizes each,
one child process per run, which reports the growth of its peak RSS from just before the restoration (the prior
loaded, the measurement made) to its end; the estimate is :func:`ddrm.pipeline.estimate_peak_bytes` for the same run.

    python benchmarks/memory_guard.py [--write]

Writes benchmarks/results/memory_guard.json with its provenance (``--write``); the table is rendered into
docs/benchmarks.md by benchmarks/summaries.py.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = r"""
import json, resource, sys, torch
from ddrm.pipeline import PriorLoader, estimate_peak_bytes, restore_batch, image_generator
from ddrm.samplers import SAMPLERS
from ddrm.tasks import make_task
name, side, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(2)
if name == "builtin":
    prior = PriorLoader("builtin", tile=0)((3, side, side))
else:
    sys.path.insert(0, sys.argv[4])
    from test_models import tiny_net, DATA
    from safetensors.torch import load_file
    from ddrm.priors import NetworkPrior
    from ddrm.checkpoints import load_network
    net = load_network(tiny_net("adm_tiny"), load_file(str(DATA / "adm_tiny.safetensors")))
    prior = NetworkPrior(net, stride=net.stride)
shape = (3, side, side)
task = make_task("sr", shape, {"factor": 4}, torch.Generator().manual_seed(0))
op = task.operator()
x = torch.rand(batch, *shape, generator=torch.Generator().manual_seed(1))
y = op.measure(x, 0.05, torch.Generator().manual_seed(2))
estimate = estimate_peak_bytes(prior, SAMPLERS["ddrm"], shape, batch)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with torch.no_grad():
    restore_batch(prior, SAMPLERS["ddrm"], task, op, y, 0.05, [image_generator(0, str(i)) for i in range(batch)],
                  {"steps": 20})
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"prior": name, "side": side, "batch": batch, "estimate": estimate, "measured": after - before}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/memory_guard.json")
    args = ap.parse_args()
    runs = [("builtin", s, 1) for s in (128, 256, 512)] + [("adm_tiny", s, 1) for s in (64, 128, 256)]
    rows = []
    for name, side, batch in runs:
        out = subprocess.run([sys.executable, "-c", CHILD, name, str(side), str(batch), str(HERE.parent / "tests")],
                             check=True, capture_output=True, text=True)  # fmt: skip
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{name:9s} {side:4d} px: estimate {row['estimate'] / 2**20:7.0f} MiB, measured peak growth "
              f"{row['measured'] / 2**20:7.0f} MiB, ratio {row['estimate'] / max(row['measured'], 1):.2f}")  # fmt: skip
    if args.write:
        sys.path.insert(0, str(HERE))
        from provenance import write_result

        write_result(HERE / "results" / "memory_guard.json", "python benchmarks/memory_guard.py --write", rows)


if __name__ == "__main__":
    main()
