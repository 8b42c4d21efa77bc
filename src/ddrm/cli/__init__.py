"""The ``ddrm`` command line: one module per subcommand (``models``, ``degrade``, ``restore``, ``solvers``, ``demo``,
``serve``, ``download``, ``bench``, ``prepare-data``, ``train-prior``), each only turning its arguments into the
library's calls; argument helpers in :mod:`ddrm.cli.args`. The only package that imports argparse.

A user error (a :class:`~ddrm.errors.DDRMError`: bad file, bad parameter, missing checkpoint; or a file's
``OSError``) ends with one line on stderr and exit code 2 (set ``DDRM_DEBUG=1`` to see its traceback); anything else
is a bug and keeps its traceback (exit code 1). Ctrl-C exits with 130, SIGTERM with 143, after the clean-up of
temporary files.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

__all__ = ["main", "build_parser"]


def build_parser():
    from .. import __version__
    from . import bench, degrade, models, restore, serve, solvers, train
    from .args import Parser

    parser = Parser(prog="ddrm", description="Zero-shot image restoration with diffusion priors (DDRM).")
    parser.add_argument("--version", action="version", version=f"ddrm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (models, degrade, restore, solvers, serve, bench, train):
        module.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)  # clean up (temporary files) as for Ctrl-C
    try:
        args = build_parser().parse_args(argv)  # inside: an interruption while torch is imported is quiet too
        func: Callable = args.func
        if getattr(args, "max_pixels", None) is None:
            return func(args)
        from ..io import set_max_pixels

        limit = set_max_pixels(args.max_pixels)
        try:
            return func(args)
        finally:
            set_max_pixels(limit)
    except KeyboardInterrupt:
        print("ddrm: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("ddrm: terminated", file=sys.stderr)
        return 143
    except Exception as exc:
        from ..errors import DDRMError

        if not isinstance(exc, (DDRMError, OSError)) or os.environ.get("DDRM_DEBUG"):
            raise  # a bug: its traceback, exit code 1
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
