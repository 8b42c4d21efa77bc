"""``ddrm bench``: run an evaluation protocol into a run folder (a thin front end over :mod:`ddrm.bench`; under
torchrun each process takes its share, named here from the launcher's environment)."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

from ..errors import InputError
from .args import add_device, add_pixel_limit, number

__all__ = ["add_commands"]


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench import load_protocol, run_protocol, shipped_protocols
    from ..pipeline import dist, output_lock, resolve_device

    if args.list:
        for name, path in shipped_protocols().items():
            p = load_protocol(path)
            first = (p.description.strip().splitlines() or [""])[0]
            print(f"{name:22s} {first}")
        return 0
    if args.protocol is None or args.output is None:
        raise InputError("bench: give a PROTOCOL (a .toml file or a shipped name, see --list) and -o RUN_DIR")
    data = {}
    for item in args.data:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(f"bench: --data takes NAME=FOLDER, got {item!r}")
        data[name] = path
    protocol = load_protocol(args.protocol)
    rank, world, local_rank = dist.world()  # torchrun: this process's share of the images
    device = dist.local_device(resolve_device(args.device), local_rank, world)
    dist.init(device, world)

    def report(line: str) -> None:
        if not args.quiet or line.startswith(("LPIPS", "FID", "plots", "tuning")):
            print(line, file=sys.stderr if not line.startswith("bench") else sys.stdout, flush=True)

    try:
        with output_lock(Path(args.output)) if rank == 0 else nullcontext():  # one run (of any size) per folder
            run_protocol(protocol, args.output, device=device, data=data, limit=args.limit,
                         progress_bar=not args.quiet, report=report, rank=rank, world_size=world)  # fmt: skip
    finally:
        dist.finish()
    if rank == 0:
        print(f"tables: {args.output}/summary.md, {args.output}/summary.csv; rows: {args.output}/rows.jsonl")
        if not args.quiet:
            print((Path(args.output) / "summary.md").read_text())
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="run an evaluation protocol (datasets x tasks x methods) into a run folder",
        description="Run a benchmark protocol; an interrupted run resumes where it stopped. Under torchrun the "
        "images are shared among the processes (rows do not depend on their number).",
    )
    p.add_argument("protocol", nargs="?", help="a protocol .toml file, or the name of a shipped one (see --list)")
    p.add_argument("-o", "--output", help="the run folder (created; rerun to resume)")
    p.add_argument("--list", action="store_true", help="list the shipped protocols")
    p.add_argument("--data", action="append", default=[], metavar="NAME=FOLDER", help="replace a dataset's folder")
    p.add_argument("--limit", type=number(int, 1), help="evaluate at most N images per dataset")
    add_device(p)
    add_pixel_limit(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars or tables")
    p.set_defaults(func=cmd_bench)
