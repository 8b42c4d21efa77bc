"""``ddrm prepare-data`` and ``ddrm train-prior``: the built-in prior's data and training (thin front ends over
:mod:`ddrm.training`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..pipeline import describe_device, output_lock, resolve_device
from ..training import PREDICTIONS, export_builtin, prepare_data, train
from .args import SEED, add_pixel_limit, number

__all__ = ["add_commands"]


def _cmd_prepare(args: argparse.Namespace) -> int:
    manifest = prepare_data(Path(args.out), Path(args.work) if args.work else None)
    print(f"{len(manifest['train'])} training photos and {len(manifest['heldout'])} held-out photos in {args.out}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.export_only:
        ckpt = Path(args.out) / "checkpoint.pt"
    else:
        torch.set_num_threads(args.threads) if args.threads else None
        if not args.quiet:
            print(describe_device(device))
        with output_lock(Path(args.out)):  # one training run per folder
            ckpt = train(
                Path(args.data),
                Path(args.out),
                steps=args.steps,
                batch=args.batch,
                crop=args.crop,
                lr=args.lr,
                ema_decay=args.ema,
                device=device,
                seed=args.seed,
                save_every=args.save_every,
                progress=not args.quiet,
                max_minutes=args.max_minutes,
                t_sampling=args.t_sampling,
                decay_from=args.decay_from,
                prediction=args.prediction,
                uniform_fraction=args.uniform_t,
                init=Path(args.init) if args.init else None,
                warmup=args.warmup,
                sigma_range=tuple(args.sigma_range) if args.sigma_range else None,
            )
    if args.export:
        path = export_builtin(ckpt, Path(args.export), {"licence": args.licence} if args.licence else None)
        print(f"exported EMA weights to {path}")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("prepare-data", help="build the training and held-out photo sets (offline sources)")
    p.add_argument("--out", default="data/photos", help="output folder (default: data/photos)")
    p.add_argument("--work", default=None, help="folder for the downloaded .deb (default: a temporary one)")
    p.set_defaults(func=_cmd_prepare)
    p = sub.add_parser("train-prior", help="train the built-in diffusion prior (CPU or GPU)")
    p.add_argument("--data", default="data/photos/train", help="folder of training photos (data/photos/train)")
    p.add_argument("--out", default="runs/prior", help="checkpoint, loss log (resumes from here)")
    p.add_argument("--steps", type=number(int, 1), default=20000, help="optimiser steps in all (20000)")
    p.add_argument("--batch", type=number(int, 1), default=16, help="crops per step (16)")
    p.add_argument("--crop", type=number(int, 8), default=64, help="side of the random crops in pixels (64)")
    p.add_argument("--lr", type=number(float, 0), default=2e-4, help="AdamW learning rate (2e-4)")
    p.add_argument(
        "--ema", type=number(float, 0, 1, below_high=True), default=0.999, help="decay of the exported EMA (0.999)"
    )
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU; default), cpu, cuda, cuda:N, mps")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the initial weights, crops and noise (0)")
    p.add_argument("--save-every", type=number(int, 1), default=500, help="steps between checkpoints (500)")
    p.add_argument("--threads", type=number(int, 1), default=None, help="CPU threads (default: torch's choice)")
    p.add_argument(
        "--decay-from",
        type=number(int, 0),
        default=None,
        help="cosine learning-rate decay from this step to 0 at --steps",
    )
    p.add_argument("--max-minutes", type=number(float, 0), default=None, help="stop (and save) after this long")
    p.add_argument(
        "--prediction",
        default="v_prediction",
        choices=PREDICTIONS,
        help="network target (default v_prediction: x0 stays bounded at every noise level)",
    )
    p.add_argument(
        "--uniform-t",
        type=number(float, 0, 1),
        default=0.25,
        help="share of each batch at uniform timesteps (the rest log-normal in sigma; default 0.25)",
    )
    p.add_argument("--init", default=None, help="start from these weights (.safetensors of the same network)")
    p.add_argument("--warmup", type=number(int, 0), default=500, help="learning-rate warm-up steps (default 500)")
    p.add_argument(
        "--sigma-range",
        nargs=2,
        type=number(float, 0),
        metavar=("LOW", "HIGH"),
        default=None,
        help="train only on noise levels in [LOW, HIGH] ([-1, 1] units): a noise-level expert (default: all)",
    )
    p.add_argument(
        "--t-sampling", default="lognormal", choices=["lognormal", "uniform"], help="noise-level distribution"
    )
    p.add_argument("--export", default=None, help="folder to write builtin.safetensors + builtin.json into")
    p.add_argument("--export-only", action="store_true", help="only export the checkpoint in --out")
    p.add_argument(
        "--licence",
        default="GPL-2.0-or-later (trained on GPL-2+ wallpapers)",
        help="licence recorded with the exported weights (default: that of 'ddrm prepare-data's photos)",
    )
    add_pixel_limit(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)
