"""``ddrm solvers``: DDRM and its peers, or one solver's parameters, bounds and official defaults per task."""

from __future__ import annotations

import argparse

from ..errors import SolverError
from ..operators import LinearOperator, SVDOperator
from ..samplers import SAMPLERS

__all__ = ["add_commands"]


def cmd_solvers(args: argparse.Namespace) -> int:
    """List the solvers, or describe one (parameters, bounds, official defaults per task)."""
    if args.name is None:
        rows = [("name", "prior", "steps", "NFE", "grad", "operators", "summary")]
        for spec in SAMPLERS.values():
            ops = {(SVDOperator,): "SVD", (LinearOperator,): "any linear"}.get(
                spec.operators, ", ".join(t.__name__ for t in spec.operators)
            )
            rows.append(
                (
                    spec.name,
                    spec.space,
                    str(spec.steps),
                    str(spec.count_nfe()),
                    "yes" if spec.needs_grad else "no",
                    ops,
                    spec.summary,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for r in rows:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[6])
        print("\nprior: pixel = a prior of images (--prior builtin, presets, hf: UNet2DModel of any family); latent =")
        print("a latent (Stable-Diffusion type) prior, --prior hf:PIPELINE, reached through its decoder.")
        print("NFE = network evaluations per run at the default steps; grad = backpropagates through the network;")
        print("operators: SVD = linear with an SVD; any linear = also H and H^T only (CG pseudo-inverse / prox).")
        print("'ddrm solvers NAME' shows a solver's parameters; set them with --solver-arg KEY=VALUE.")
        return 0
    if args.name not in SAMPLERS:
        raise SolverError(f"unknown solver {args.name!r}; choose from {', '.join(SAMPLERS)}")
    spec = SAMPLERS[args.name]
    defaults = spec.defaults()
    print(f"{spec.name}: {spec.summary}")
    print(f"paper: {spec.paper}")
    print(
        f"steps: {spec.steps} (network evaluations: {spec.count_nfe()}); gradients through the network: {'yes' if spec.needs_grad else 'no'}"
    )
    print(f"operators: {spec.operator_kinds}")
    print(f"prior: {'a latent (Stable-Diffusion type) prior' if spec.space == 'latent' else 'a pixel-space prior'}")
    print(f"measurement noise: {spec.noise}")
    print(f"H x = y when sigma_y = 0: {spec.consistency}")
    if spec.params:
        print("parameters (--solver-arg KEY=VALUE):")
        for p in spec.params:
            bounds = f" in {{{', '.join(p.choices)}}}" if p.choices else ""
            if p.low is not None or p.high is not None:
                bounds = (
                    f" in [{'-inf' if p.low is None else f'{p.low:g}'}, {'inf' if p.high is None else f'{p.high:g}'}]"
                )
            print(f"  {p.name} = {defaults[p.name]!r}{bounds}: {p.help}")
    for task, values in spec.task_defaults.items():
        print(f"defaults for {task}: " + ", ".join(f"{k}={v!r}" for k, v in values.items()))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("solvers", help="list the solvers (DDRM and its peers), or show one solver's parameters")
    p.add_argument("name", nargs="?", default=None, help="a solver to describe")
    p.set_defaults(func=cmd_solvers)
