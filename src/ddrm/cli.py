"""The ``ddrm`` command line: ``models``, ``degrade``, ``restore``, ``prepare-data``, ``train-prior``.

Every user error (bad file, bad parameter, missing checkpoint) ends with one line on stderr and exit code 2
(set ``DDRM_DEBUG=1`` to see the traceback instead).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

__all__ = ["main", "number", "SEED"]


def number(kind: type = float, low: float | None = None, high: float | None = None, *, below_high: bool = False):
    """An argparse type: a finite ``kind`` in ``[low, high]`` (``[low, high)`` with ``below_high``)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
            ) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite, got {text!r}") from None
        too_high = high is not None and (value >= high if below_high else value > high)
        if (low is not None and value < low) or too_high:
            lo = "-inf" if low is None else f"{low:g}"
            hi = "inf" if high is None else f"{high:g}"
            raise argparse.ArgumentTypeError(
                f"must lie in [{lo}, {hi}{')' if below_high else ']'}, got {text!r}"
            ) from None
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


SEED = number(int, 0, 2**62)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (``ddrm: error: ...``) and exit code 2."""

    def error(self, message: str):
        print(
            f"ddrm: error: {self.prog.removeprefix('ddrm').strip() or 'ddrm'}: {' '.join(message.split())}",
            file=sys.stderr,
        )
        sys.exit(2)


def cmd_models(args: argparse.Namespace) -> int:
    from .loading import BUILTIN_DIR, BUILTIN_NAMES, builtin_manifest
    from .models import PRESETS, count_parameters

    rows = []
    for p in PRESETS.values():
        rows.append(
            (
                p.name,
                f"{p.image_size}x{p.image_size}",
                f"{count_parameters(p.build) / 1e6:.1f}M",
                ", ".join(p.files),
                p.source,
            )
        )
    for name in BUILTIN_NAMES:
        try:
            meta = builtin_manifest(name)
        except ValueError:
            rows.append((name, "-", "-", f"not installed ({BUILTIN_DIR})", "ddrm's own prior"))
            continue
        size = meta.get("train_size", "any")
        rows.append(
            (
                name,
                f"any (trained {size}x{size})",
                f"{meta['parameters'] / 1e6:.1f}M",
                f"shipped ({meta['weights']})",
                f"{meta['source']}; {meta.get('prediction', 'epsilon')} prediction",
            )
        )
    rows.append(
        ("hf:ORG/NAME", "from config", "-", "diffusers folder or hub id", "diffusers UNet2DModel (ddrm[diffusers])")
    )
    head = ("name", "image size", "params", "checkpoint file", "source")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(4)]
    line = "  ".join(f"{{:{w}s}}" for w in widths) + "  {}"
    print(line.format(*head))
    for r in rows:
        print(line.format(*r))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ddrm", description="Zero-shot image restoration with diffusion priors (DDRM).")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("models", help="list the prior presets and the built-in prior")
    p.set_defaults(func=cmd_models)
    from . import cli_restore

    cli_restore.add_commands(sub)
    from . import cli_bench

    cli_bench.add_commands(sub)
    from . import cli_app

    cli_app.add_commands(sub)
    try:
        from . import training
    except ImportError:  # pragma: no cover - training is part of the package
        training = None
    if training is not None:
        training.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)  # clean up (temporary files) as for Ctrl-C
    try:
        args = build_parser().parse_args(argv)  # inside: an interruption while torch is imported is quiet too
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except KeyboardInterrupt:
        print("ddrm: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("ddrm: terminated", file=sys.stderr)
        return 143
    except (ValueError, OSError, RuntimeError) as exc:  # user errors (incl. CheckpointError) are ValueErrors
        if os.environ.get("DDRM_DEBUG"):
            raise
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"ddrm: error: {msg}", file=sys.stderr)
        return 2
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)


class _Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that ``finally`` blocks (atomic writes) clean up."""


def _terminate(signum, frame):
    raise _Terminated


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
