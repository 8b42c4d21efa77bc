"""Throughput and peak memory of DDRM and its peers on a GPU at 256 x 256, random weights of the public architectures.

    python benchmarks/gpu.py [--device cuda] [--parts flops pipeline sync ddrm solvers generators compile]
                             [--budget-min 8] [--rows rows.jsonl] [--result benchmarks/results/gpu.json]
    python benchmarks/gpu.py --tiny --device cpu --budget-min 2      # the script's own check, on any machine

The networks are the ADM ImageNet 256 (unconditional) and DDPM CelebA-HQ architectures with random weights: a
network's cost does not depend on its weights. The task is SR x4 (block averaging) at sigma_y 0.05 ([0, 1] units),
the images random. Each row: one warm-up run of 2 steps at the row's shapes (and its compilation, timed apart), then
one timed run of ``--steps`` steps between device synchronisations; images per second = batch / seconds, peak memory
= the allocator's peak over the timed run (weights included), TFLOP/s from the network's counted FLOPs per
evaluation (``torch.utils.flop_counter``) times the run's network evaluations. Rows are appended to ``--rows`` as
they come (a run stopped by its budget keeps what it measured) and gathered into ``--result`` at the end.

Parts, in the order they run (each row is skipped once ``--budget-min`` has passed):

- ``flops``: FLOPs of one network evaluation per image, each architecture.
- ``fixtures``: the tiny fixture networks of the tests on the device in float32 against their recorded outputs
  (attention through ``F.scaled_dot_product_attention``), cuDNN's TF32 convolutions off and on.
- ``pipeline``: :func:`ddrm.restore` on the device with the built-in prior, a few tasks at 64 px: runs, finite,
  PSNR against the clean image (compare with the same call on the CPU).
- ``sync``: DDRM's step loop under ``torch.cuda.set_sync_debug_mode("warn")``: the synchronising calls it makes.
- ``ddrm``: DDRM at 20 steps, each architecture x precision (float32; bfloat16 and float16 through the prior's
  autocast, weights in float32; and with the weights cast) x batch, eager, then channels-last.
- ``solvers``: every other solver taking the SR operator, ADM, bfloat16, batch 1 and 4, 20 steps (DPS and the other
  gradient methods back-propagate through the network: their peak memory is the price).
- ``generators``: DDRM with one CPU generator per image (noise drawn on the host and copied) against generators on
  the device.
- ``compile``: ``torch.compile`` of the network (``--compile-mode``), ADM and DDPM in bfloat16; compilation time apart.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ddrm import build_operator
from ddrm.models import PRESETS, ADMConfig, ADMUNet
from ddrm.priors import NetworkPrior
from ddrm.samplers import SAMPLERS

SIGMA_Y01 = 0.05
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
PARTS = ("flops", "fixtures", "pipeline", "sync", "ddrm", "solvers", "generators", "compile")


class Budget:
    """Stops starting rows once ``minutes`` have passed since the run began."""

    def __init__(self, minutes: float):
        self.end = time.monotonic() + 60 * minutes

    def left(self) -> bool:
        return time.monotonic() < self.end


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_net(preset: str, tiny: bool, device: torch.device) -> torch.nn.Module:
    """The architecture with random weights, built on ``device``; ``tiny``: a small ADM for the script's own check."""
    with torch.device(device):
        if tiny:
            return ADMUNet(
                ADMConfig(image_size=32, model_channels=32, channel_mult=(1, 2), num_head_channels=32)
            ).eval()
        return PRESETS[preset].build().eval()


def make_prior(net: torch.nn.Module, dtype: str, size: int) -> NetworkPrior:
    compute = None if dtype == "float32" else DTYPES[dtype]
    stride = getattr(net, "stride", 1)
    return NetworkPrior(net, prediction="epsilon", image_size=(size, size), stride=stride, compute_dtype=compute)


def gens(batch: int, device: torch.device, seed: int = 0) -> list[torch.Generator]:
    return [torch.Generator(device=device).manual_seed(seed + i) for i in range(batch)]


def problem(size: int, batch: int, device: torch.device):  # noqa: ANN201
    op = build_operator("sr", (3, size, size), factor=4).to(device)
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(1)).to(device) * 2 - 1
    y = op.measure(x, 2 * SIGMA_Y01, gens(batch, device, 100))
    return op, x, y


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, float]:
    """Seconds of ``fn`` between synchronisations and the allocator's peak (MiB) over it (0 on the CPU)."""
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else 0.0
    return seconds, peak


def flops_per_eval(net: torch.nn.Module, size: int, device: torch.device) -> float:
    """FLOPs of one evaluation on one image (matrix products, convolutions and attention, as torch counts them)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 3, size, size, device=device)
    t = torch.full((1,), 500.0, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x, t)
    return float(counter.get_total_flops())


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.device = torch.device(args.device)
        self.size = 32 if args.tiny else 256
        self.budget = Budget(args.budget_min)
        self.rows: list[dict] = []
        self.flops: dict[str, float] = {}
        self.rows_path = Path(args.rows)
        self.rows_path.parent.mkdir(parents=True, exist_ok=True)
        self.rows_path.write_text("")

    def record(self, row: dict) -> None:
        self.rows.append(row)
        with self.rows_path.open("a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)

    def attempt(self, part: str, fields: dict, fn: Callable[[], dict]) -> None:
        """One row: ``fn``'s fields, or the error's last lines (a failed row does not stop the run)."""
        if not self.budget.left():
            self.record({"part": part, **fields, "skipped": "budget"})
            return
        try:
            self.record({"part": part, **fields, **fn()})
        except Exception as exc:  # noqa: BLE001 - the run goes on; the error is the row's result
            tail = traceback.format_exc().strip().splitlines()[-6:]
            self.record({"part": part, **fields, "error": f"{type(exc).__name__}: {exc}"[:400], "trace": tail})
        finally:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()

    # ------------------------------------------------------------------ the measured run
    def throughput(
        self, prior: NetworkPrior, preset: str, solver: str, batch: int, steps: int, generators: str = "device"
    ) -> dict:
        spec = SAMPLERS[solver]
        op, _, y = problem(self.size, batch, self.device)
        gen_device = self.device if generators == "device" else torch.device("cpu")

        def run(n: int) -> None:
            spec.run(prior, op, y, 2 * SIGMA_Y01, task="sr", steps=n, generator=gens(batch, gen_device))

        warm, _ = timed(lambda: run(2), self.device)
        seconds, peak = timed(lambda: run(steps), self.device)
        nfe = spec.count_nfe(steps=steps, task="sr")
        row = {"nfe": nfe, "warmup_s": warm, "seconds": seconds, "images_per_s": batch / seconds, "peak_mib": peak}
        flops = self.flops.get(preset)
        if flops:
            row["tflops_per_s"] = flops * nfe * batch / seconds / 1e12
        return row

    def prior(self, preset: str, dtype: str, *, cast: bool = False, channels_last: bool = False) -> NetworkPrior:
        net = build_net(preset, self.args.tiny, self.device)
        if cast:
            net = net.to(DTYPES[dtype])
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        return make_prior(net, dtype, self.size)

    # ------------------------------------------------------------------ parts
    def part_flops(self) -> None:
        for preset in self.args.presets:

            def one(preset: str = preset) -> dict:
                net = build_net(preset, self.args.tiny, self.device)
                params = sum(p.numel() for p in net.parameters())
                self.flops[preset] = flops_per_eval(net, self.size, self.device)
                return {"params": params, "gflops_per_eval": self.flops[preset] / 1e9}

            self.attempt("flops", {"preset": preset}, one)

    def part_fixtures(self) -> None:
        """The tiny fixture networks (tests/data) on the device in float32: largest difference from the recorded
        reference outputs (the CPU test's bound is 1e-5), with cuDNN's TF32 convolutions off (exact float32) and on
        (PyTorch's default for convolutions)."""
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from safetensors.torch import load_file
        from test_models import DATA, tiny_net

        from ddrm.checkpoints.loading import load_network
        from ddrm.checkpoints.reading import read_state_dict

        for stem in ("adm_tiny", "adm_tiny_plain", "ddpm_tiny"):

            def one(stem: str = stem) -> dict:
                net = load_network(tiny_net(stem), read_state_dict(DATA / f"{stem}.safetensors"), stem)
                net = net.to(self.device)
                io = {k: v.to(self.device) for k, v in load_file(str(DATA / f"{stem}_io.safetensors")).items()}
                out = {}
                before = torch.backends.cudnn.allow_tf32
                for tf32 in (False, True):
                    torch.backends.cudnn.allow_tf32 = tf32
                    with torch.no_grad():
                        diff = (net(io["x"], io["t"]) - io["out"]).abs().max()
                        low = (net(io["x_lowamp"], io["t"]) - io["out_lowamp"]).abs().max()
                    out[f"max_diff_tf32_{'on' if tf32 else 'off'}"] = float(diff)
                    out[f"max_diff_lowamp_tf32_{'on' if tf32 else 'off'}"] = float(low)
                torch.backends.cudnn.allow_tf32 = before
                return out

            self.attempt("fixtures", {"stem": stem}, one)

    def part_pipeline(self) -> None:
        import ddrm
        from ddrm.metrics import psnr
        from ddrm.tasks import make_task, parse_task

        photo = Image.open(ddrm.EXAMPLE_IMAGE).convert("RGB").resize((64, 64), Image.Resampling.BICUBIC)
        clean = torch.from_numpy(np.asarray(photo).copy()).permute(2, 0, 1).float()[None] / 255
        for task in ("denoise", "sr_bicubic4", "sr4", "deblur_gauss", "color", "deblur_blind"):

            def one(task: str = task) -> dict:
                made = "deblur_gauss" if task == "deblur_blind" else task  # a blind task restores a blur made apart
                name, params = parse_task(made)
                op = make_task(name, (3, 64, 64), params, torch.Generator().manual_seed(0)).operator()
                y = op.measure(clean, 0.02, torch.Generator().manual_seed(1)).clamp(0, 1)
                extra = {"task_params": {"size": 5}} if task == "deblur_blind" else {}
                out = {}
                for dev in ("cpu", str(self.device)):
                    key = dev.split(":")[0]
                    t0 = time.perf_counter()
                    x = ddrm.restore(y.to(dev), task, sigma_y=0.02, steps=20, seed=0, device=dev, **extra)
                    sync(torch.device(dev))
                    x = x.cpu()
                    out |= {f"{key}_psnr": float(psnr(x, clean)), f"{key}_s": time.perf_counter() - t0}
                    out[f"{key}_finite"] = bool(torch.isfinite(x).all())
                return out

            self.attempt("pipeline", {"task": task}, one)

    def part_sync(self) -> None:
        if self.device.type != "cuda":
            return
        preset = self.args.presets[0]

        def one() -> dict:
            prior = self.prior(preset, "bfloat16")
            op, _, y = problem(self.size, 1, self.device)
            SAMPLERS["ddrm"].run(prior, op, y, 2 * SIGMA_Y01, task="sr", steps=2, generator=gens(1, self.device))
            sync(self.device)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn")
                marks: list[int] = []  # calls seen when each step ended
                try:
                    SAMPLERS["ddrm"].run(prior, op, y, 2 * SIGMA_Y01, task="sr", steps=20, generator=gens(1, self.device),
                                         callback=lambda info: marks.append(len(caught)))  # fmt: skip
                finally:
                    torch.cuda.set_sync_debug_mode("default")
            where = sorted({str(w.message).splitlines()[0][:160] + f" @ {w.filename}:{w.lineno}" for w in caught})
            # steps 2..20: between the first step's end and the last's (the first holds the run's set-up checks)
            return {"steps": 20, "synchronising_calls": len(caught), "in_steps_2_to_20": marks[-1] - marks[0],
                    "where": where[:12]}  # fmt: skip

        self.attempt("sync", {"preset": preset, "solver": "ddrm"}, one)

    def part_ddrm(self) -> None:
        a = self.args
        for channels_last in (False, True):
            for preset in a.presets:
                for dtype in a.dtypes if not channels_last else ["bfloat16"]:
                    casts = [False, True] if dtype != "float32" and not channels_last else [False]
                    for cast in casts:
                        batches = a.batches if not cast else [a.batches[0], a.batches[-1]]
                        fields = {"preset": preset, "solver": "ddrm", "dtype": dtype, "cast_weights": cast,
                                  "channels_last": channels_last, "compile": False}  # fmt: skip
                        if not self.budget.left():
                            for b in batches:
                                self.attempt("ddrm", {**fields, "batch": b}, dict)
                            continue
                        prior = self.prior(preset, dtype, cast=cast, channels_last=channels_last)
                        for b in batches:
                            run = functools.partial(self.throughput, prior, preset, "ddrm", b, a.steps)
                            self.attempt("ddrm", {**fields, "batch": b}, run)
                        prior = None  # the next configuration's network replaces this one on the device

    def part_solvers(self) -> None:
        a = self.args
        preset = a.presets[0]
        op, _, _ = problem(self.size, 1, self.device)
        names = [n for n in SAMPLERS if n != "ddrm" and SAMPLERS[n].accepts(op) and SAMPLERS[n].space == "pixel"]
        prior = self.prior(preset, "bfloat16")
        for name in names:
            for b in (a.batches[0], min(4, a.batches[-1])):
                fields = {"preset": preset, "solver": name, "dtype": "bfloat16", "batch": b,
                          "needs_grad": SAMPLERS[name].needs_grad}  # fmt: skip
                self.attempt("solvers", fields, lambda name=name, b=b: self.throughput(prior, preset, name, b, a.steps))

    def part_generators(self) -> None:
        a = self.args
        preset = a.presets[0]
        prior = self.prior(preset, "bfloat16")
        for where in ("cpu", "device"):
            b = a.batches[-1]
            fields = {"preset": preset, "solver": "ddrm", "dtype": "bfloat16", "batch": b, "generators": where}
            self.attempt(
                "generators", fields, lambda where=where, b=b: self.throughput(prior, preset, "ddrm", b, a.steps, where)
            )

    def part_compile(self) -> None:
        a = self.args
        for preset in a.presets:
            if not self.budget.left():
                for b in a.compile_batches:
                    self.attempt("compile", {"preset": preset, "batch": b}, dict)
                continue
            prior = self.prior(preset, "bfloat16")
            prior.net = torch.compile(prior.net, mode=a.compile_mode)
            for b in a.compile_batches:
                fields = {
                    "preset": preset,
                    "solver": "ddrm",
                    "dtype": "bfloat16",
                    "batch": b,
                    "compile": a.compile_mode,
                }
                self.attempt("compile", fields, lambda b=b: self.throughput(prior, preset, "ddrm", b, a.steps))


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    ap.add_argument("--presets", nargs="+", default=["adm-imagenet256-uncond", "ddpm-celebahq256"])
    ap.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 4, 8, 16])
    ap.add_argument("--compile-batches", nargs="+", type=int, default=[1, 16])
    ap.add_argument("--compile-mode", default="default", help="torch.compile's mode (default, reduce-overhead, ...)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--budget-min", type=float, default=8.0)
    ap.add_argument("--tiny", action="store_true", help="a small ADM at 32 px: the script's own check")
    ap.add_argument("--rows", default="gpu_rows.jsonl")
    ap.add_argument("--result", default=None)
    ap.add_argument("--commit", default=None, help="the commit measured (the device's copy has no git history)")
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    bench = Bench(args)
    started = time.time()
    for part in args.parts:
        getattr(bench, f"part_{part}")()
    if args.result:
        from provenance import commit  # noqa: PLC0415 - beside this script

        record = {
            "command": " ".join(["python", "benchmarks/gpu.py", *sys.argv[1:]]),
            "prior": "random weights of the public architectures (cost does not depend on weights)",
            "weights_sha256": "none: random weights",
            "commit": args.commit or commit(),
            "torch": torch.__version__,
            "device": device_name(bench.device),
            "cudnn_benchmark": True,
            "task": f"sr x4 (block averaging), sigma_y {SIGMA_Y01}, {bench.size} px",
            "steps": args.steps,
            "seconds": time.time() - started,
            "rows": bench.rows,
        }
        Path(args.result).write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
