"""``ddrm demo`` (the first run), ``ddrm serve`` (the web page) and ``ddrm download`` (public checkpoints): thin front
ends over :mod:`ddrm.app` and :mod:`ddrm.checkpoints`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import SetupError
from .args import SEED, add_device, add_pixel_limit, add_prior, number

__all__ = ["add_commands"]


def cmd_demo(args: argparse.Namespace) -> int:
    import time

    from ..app.demo import example_credit, run_demo
    from ..pipeline import describe_device, output_lock, resolve_device

    device = resolve_device(args.device)

    def start() -> None:
        print(describe_device(device), file=sys.stderr)
        if args.image is None:
            print(f"example photo: {example_credit()}", file=sys.stderr)

    t0 = time.perf_counter()
    with output_lock(Path(args.output)):
        res = run_demo(
            Path(args.output), args.image, args.task, args.sigma_y, args.solver, args.steps, args.seed, args.prior,
            args.checkpoint, device, progress_bar=not args.quiet, on_start=None if args.quiet else start,
            overwrite=args.overwrite,
        )  # fmt: skip
    print(
        f"{args.task}, sigma_y {res.sigma_y:g}: restored PSNR {res.psnr:.2f} dB, SSIM {res.ssim:.4f} "
        f"(pseudo-inverse of the measurement: {res.psnr_pinv:.2f} dB) in {time.perf_counter() - t0:.0f} s"
    )
    print(f"files in {args.output}: {res.original.name}, {res.measurement.name}, {res.restored.name}, {res.grid.name}")
    if args.prior.startswith("builtin") and not args.quiet:
        from ..app.demo import BUILTIN_NOTE

        print(f"note: {BUILTIN_NOTE}")
    if args.image is not None:
        from PIL import Image

        with Image.open(args.image) as a, Image.open(res.original) as b:
            if a.size != b.size:
                print(f"your photo ({a.width}x{a.height}) was centre-cropped to {b.width}x{b.height} (sides a multiple "
                      "of 8 times the task's factor) for the demo; 'ddrm restore' takes any size")  # fmt: skip
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser(
        "demo", help="degrade the bundled example photo, restore it with the built-in prior, and score it (offline)"
    )
    p.add_argument("-o", "--output", default="ddrm-demo", help="folder for the files (default ./ddrm-demo)")
    p.add_argument("--image", default=None, help="your own photo (RGB or greyscale) instead of the bundled example")
    p.add_argument("--task", default="sr4", help="degradation (default sr4; see 'ddrm degrade --help')")
    p.add_argument(
        "--sigma-y", type=number(float, 0, 1), default=None, help="noise std in [0, 1] units (0.05; JPEG: 0)"
    )
    p.add_argument("--solver", default=None, help="ddrm (default; ddrm-jpeg for JPEG tasks) or a peer")
    p.add_argument("--steps", type=number(int, 1), default=None, help="sampling steps (default: the solver's)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the degradation and the restoration (0)")
    add_prior(p, help="builtin (default) | a preset (see 'ddrm models') | hf:ORG/NAME")
    add_device(p)
    add_pixel_limit(p)
    p.add_argument(
        "--overwrite", action="store_true", help="replace files in the output folder that an earlier demo did not write"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)
    add_download(sub)
    add_serve(sub)


def cmd_download(args: argparse.Namespace) -> int:
    from ..checkpoints import cache_dir, download_checkpoint

    home = Path(args.dir) if args.dir else cache_dir()
    path = download_checkpoint(args.name, home, url=args.url, progress=not args.quiet)
    print(f"{args.name}: {path} (sha256 recorded in {path.name}.sha256.json)")
    return 0


def add_download(sub) -> None:
    p = sub.add_parser("download", help="fetch a preset's public checkpoint into the cache (DDRM_HOME)")
    p.add_argument("name", help="a preset (see 'ddrm models')")
    p.add_argument("--dir", default=None, help="cache folder (default $DDRM_HOME or the user cache dir + /ddrm)")
    p.add_argument("--url", default=None, help="a mirror of the file instead of the preset's address")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_download)


def cmd_serve(args: argparse.Namespace) -> int:
    import importlib.util

    from ..app.webapp import AppSettings, serve
    from ..pipeline import describe_device, resolve_device

    if importlib.util.find_spec("gradio") is None:
        raise SetupError("ddrm serve needs the web-app extra: pip install 'ddrm[demo]'")
    device = resolve_device(args.device)
    settings = AppSettings(args.prior, args.checkpoint, str(device), args.max_side, args.workdir)

    def ready(url: str) -> None:  # once the prior is loaded and the page listens: a refusal stays one line
        print(describe_device(device), file=sys.stderr)
        print(f"serving on {url} (Ctrl-C stops)", file=sys.stderr)

    serve(settings, args.host, args.port, block=True, on_ready=ready)
    return 0


def add_serve(sub) -> None:
    p = sub.add_parser("serve", help="a web page to degrade, restore and compare images (needs ddrm[demo])")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=number(int, 1, 65535), default=7860, help="port to listen on (7860)")
    add_prior(p, help="builtin, a preset (see 'ddrm models') or a diffusers id")
    add_device(p)
    p.add_argument("--max-side", type=number(int, 16), default=512, help="clean photos are scaled down to this (512)")
    p.add_argument("--workdir", default=None, help="folder for the runs' files (default: a temporary folder)")
    add_pixel_limit(p)
    p.set_defaults(func=cmd_serve)
