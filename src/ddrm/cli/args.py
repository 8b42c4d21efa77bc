"""Argument helpers shared by the subcommands: checked number types, the parser that reports on one line, the
options every restoring command takes (device, prior), and the solver settings from ``--solver-arg KEY=VALUE``."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from ..errors import InputError, SolverError

__all__ = [
    "number",
    "SEED",
    "Parser",
    "add_device",
    "add_prior",
    "add_pixel_limit",
    "solver_settings",
    "sigma_or_auto",
    "DTYPES",
]


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


def sigma_or_auto(text: str) -> float | str:
    """An argparse type: a noise level in [0, 1], or ``auto`` (estimated from the measurement)."""
    if text.strip().lower() == "auto":
        return "auto"
    return number(float, 0, 1)(text)


sigma_or_auto.__name__ = "sigma_y"


class Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (``ddrm: error: ...``) and exit code 2."""

    def error(self, message: str):
        print(
            f"ddrm: error: {self.prog.removeprefix('ddrm').strip() or 'ddrm'}: {' '.join(message.split())}",
            file=sys.stderr,
        )
        sys.exit(2)


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU; default), cpu, cuda, cuda:N, mps")


def add_prior(
    p: argparse.ArgumentParser, help: str = "builtin | gaussian | a preset (see 'ddrm models') | hf:ORG/NAME"
) -> None:  # noqa: A002
    p.add_argument("--prior", default="builtin", help=help)
    p.add_argument("--checkpoint", default=None, help="checkpoint file for a preset prior")


def add_prompt(p: argparse.ArgumentParser) -> None:
    """``--prompt`` and ``--guidance-scale``: the text a latent (Stable-Diffusion type) prior is conditioned on."""
    p.add_argument("--prompt", default=None,
                   help="text a latent (Stable-Diffusion type) --prior hf:PIPELINE is conditioned on (default: the "
                        "empty prompt, whose embedding is computed once and cached)")  # fmt: skip
    p.add_argument("--guidance-scale", type=number(float, 0.0), default=1.0,
                   help="classifier-free guidance scale of a latent prior (default 1: no guidance)")  # fmt: skip


def add_pixel_limit(p: argparse.ArgumentParser) -> None:
    """``--max-pixels``: the largest image read (a guard against damaged or hostile files); see
    :data:`ddrm.io.MAX_PIXELS`."""
    from ..io import MAX_PIXELS

    p.add_argument(
        "--max-pixels",
        type=number(int, 1),
        default=None,
        help=f"refuse images above this many pixels before decoding them ({MAX_PIXELS}, about 11600 x 11600)",
    )


DTYPES = {"float32": None, "float16": "float16", "bfloat16": "bfloat16"}


def solver_settings(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The solver named by ``--solver`` and the parameters given for it (``--solver-arg``, ``--eta``, ``--eta-b``,
    ``--steps``), typed and checked by the solver's spec."""
    from ..samplers import SAMPLERS

    if args.solver not in SAMPLERS:
        raise SolverError(f"unknown solver {args.solver!r}; choose from {', '.join(SAMPLERS)} (see 'ddrm solvers')")
    solver = SAMPLERS[args.solver]
    given: dict[str, Any] = {}
    for item in args.solver_arg:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not value.strip():
            raise InputError(f"--solver-arg takes KEY=VALUE, got {item!r}")
        if key == "steps":
            raise InputError("give the number of steps with --steps")
        given[key] = solver.parse(key, value.strip())
    for flag, key in (("eta", "eta"), ("eta_b", "eta_b")):
        value = getattr(args, flag)
        if value is None:
            continue
        if key not in {p.name for p in solver.params}:
            raise InputError(
                f"--{flag.replace('_', '-')} does not apply to solver {solver.name} (see 'ddrm solvers {solver.name}')"
            )
        solver.check({key: value})
        given[key] = value
    if args.steps is not None:
        solver.check({"steps": args.steps})
        given["steps"] = args.steps
    return solver, given
