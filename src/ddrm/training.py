"""The built-in prior: data preparation from offline sources, and our own training loop.

``ddrm prepare-data`` builds a training set of real photographs from Debian's ``plasma-workspace-wallpapers``
(GPL-2+; only the photographs, listed in ``TRAIN_PHOTOS``) and a held-out set from the sample photos bundled
with scikit-image and scikit-learn. ``ddrm train-prior`` trains a fully convolutional ADM-style UNet with
v-prediction (or epsilon prediction) on the VP linear schedule (T = 1000), random crops with flips, EMA weights,
resumable checkpoints (``--max-minutes`` for chunks), optionally starting from exported weights (``--init``), a
progress bar and a CSV loss log; ``--export`` writes the EMA weights as safetensors with a manifest (config,
prediction, SHA-256) that ``load_prior("builtin")`` checks.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import subprocess
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .models import ADMConfig, ADMUNet
from .priors import VPSchedule

__all__ = [
    "TRAIN_PHOTOS",
    "HELDOUT_PHOTOS",
    "BUILTIN_CONFIG",
    "prepare_data",
    "train",
    "training_target",
    "export_builtin",
    "add_commands",
]

# Photographs among the Plasma wallpapers (the others are illustrations); all 2560x1600 but MilkyWay (5120x2880).
TRAIN_PHOTOS = (
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Grey",
    "Kite",
    "MilkyWay",
    "OneStandsOut",
    "Path",
    "summer_1am",
)
# Held out of training, for benchmarks/prior_quality.py: scikit-image and scikit-learn sample photos.
HELDOUT_PHOTOS = (
    ("skimage", "astronaut"),
    ("skimage", "coffee"),
    ("skimage", "chelsea"),
    ("skimage", "rocket"),
    ("sklearn", "china.jpg"),
    ("sklearn", "flower.jpg"),
)

BUILTIN_CONFIG = ADMConfig(
    image_size=64,
    model_channels=32,
    out_channels=3,
    channel_mult=(1, 2, 2, 2),
    num_res_blocks=2,
    attention_ds=(),
    middle_attention=False,
    num_head_channels=32,
    use_scale_shift_norm=True,
    resblock_updown=True,
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save_png(array: np.ndarray, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(array).save(tmp, format="PNG")
    tmp.replace(path)


# ---------------------------------------------------------------------- data
def prepare_data(out: Path, work: Path | None = None, max_side: int = 2560) -> dict:
    """Download the wallpaper package with ``apt-get download``, extract the photographs, and export the held-out
    sample photos. Writes ``out/train/*.png``, ``out/heldout/*.png`` and ``out/manifest.json``."""
    out = Path(out)
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "heldout").mkdir(parents=True, exist_ok=True)
    manifest: dict = {"train": [], "heldout": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(work) if work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        debs = list(work.glob("plasma-workspace-wallpapers_*.deb"))
        if not debs:
            res = subprocess.run(
                ["apt-get", "download", "plasma-workspace-wallpapers"], cwd=work, capture_output=True, text=True
            )
            debs = list(work.glob("plasma-workspace-wallpapers_*.deb"))
            if res.returncode != 0 or not debs:
                raise RuntimeError(
                    "apt-get download plasma-workspace-wallpapers failed (run 'apt-get update' first?): "
                    + (res.stderr.strip().splitlines() or ["no output"])[-1]
                )
        deb = debs[0]
        extracted = work / "extracted"
        subprocess.run(["dpkg", "-x", str(deb), str(extracted)], check=True)
        root = extracted / "usr/share/wallpapers"
        for name in TRAIN_PHOTOS:
            images = sorted((root / name / "contents/images").glob("*.*"), key=lambda p: _pixels(p.stem))
            if not images:
                raise RuntimeError(f"wallpaper {name} not found in {deb.name}")
            src = images[-1]
            with Image.open(src) as im:
                im = im.convert("RGB")
                if max(im.size) > max_side:
                    scale = max_side / max(im.size)
                    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
                arr = np.asarray(im)
            dst = out / "train" / f"{name}.png"
            _save_png(arr, dst)
            manifest["train"].append(
                {
                    "name": name,
                    "source": f"{deb.name}:{src.relative_to(extracted)}",
                    "licence": "GPL-2+ (KDE Visual Design Group)",
                    "size": list(arr.shape[:2]),
                    "sha256": _sha256(dst),
                }
            )
    for origin, name in HELDOUT_PHOTOS:
        arr = _heldout_image(origin, name)
        dst = out / "heldout" / f"{Path(name).stem}.png"
        _save_png(arr, dst)
        manifest["heldout"].append(
            {"name": Path(name).stem, "source": f"{origin}:{name}", "size": list(arr.shape[:2]), "sha256": _sha256(dst)}
        )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _pixels(stem: str) -> int:
    try:
        w, h = stem.split("x")
        return int(w) * int(h)
    except ValueError:
        return 0


def _heldout_image(origin: str, name: str) -> np.ndarray:
    if origin == "skimage":
        try:
            import skimage.data
        except ImportError:
            raise RuntimeError("the held-out photos need scikit-image: pip install scikit-image") from None
        return np.ascontiguousarray(getattr(skimage.data, name)()[..., :3])
    try:
        from sklearn.datasets import load_sample_image
    except ImportError:
        raise RuntimeError("the held-out photos need scikit-learn: pip install scikit-learn") from None
    return np.ascontiguousarray(load_sample_image(name))


class PatchSampler:
    """Random crops with horizontal flips from photos kept in memory at several scales (real photos at
    2560 px are much smoother per pixel than the 256-512 px images the prior restores)."""

    def __init__(
        self, folder: Path, crop: int, scales=(0.5, 0.35, 0.25, 0.18), generator: torch.Generator | None = None
    ):
        files = sorted(Path(folder).glob("*.png"))
        if not files:
            raise RuntimeError(f"no training photos (*.png) in {folder}; run 'ddrm prepare-data' first")
        self.crop = crop
        self.g = generator or torch.Generator().manual_seed(0)
        self.images: list[torch.Tensor] = []
        for f in files:
            with Image.open(f) as im:
                im = im.convert("RGB")
                for s in scales:
                    w, h = round(im.width * s), round(im.height * s)
                    if min(w, h) >= crop:
                        small = im.resize((w, h), Image.Resampling.LANCZOS)
                        self.images.append(torch.from_numpy(np.asarray(small).copy()).permute(2, 0, 1))
        if not self.images:
            raise RuntimeError(f"all photos in {folder} are smaller than the {crop}px crop")
        areas = torch.tensor([float(im.shape[1] * im.shape[2]) for im in self.images])
        self.weights = areas / areas.sum()

    def batch(self, n: int) -> torch.Tensor:
        idx = torch.multinomial(self.weights, n, replacement=True, generator=self.g)
        out = torch.empty(n, 3, self.crop, self.crop, dtype=torch.uint8)
        for k, i in enumerate(idx.tolist()):
            im = self.images[i]
            top = int(torch.randint(0, im.shape[1] - self.crop + 1, (1,), generator=self.g))
            left = int(torch.randint(0, im.shape[2] - self.crop + 1, (1,), generator=self.g))
            patch = im[:, top : top + self.crop, left : left + self.crop]
            if torch.rand((), generator=self.g) < 0.5:
                patch = patch.flip(-1)
            out[k] = patch
        return out.float() / 127.5 - 1.0


# ---------------------------------------------------------------------- training
PREDICTIONS = ("v_prediction", "epsilon")


def _check_prediction(prediction: str) -> None:
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {', '.join(PREDICTIONS)}, got {prediction!r}")


def training_target(x0: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor, prediction: str) -> torch.Tensor:
    """The regression target for ``x_t = (x0 + sigma eps) / sqrt(1 + sigma^2)``: eps, or
    ``v = sqrt(abar) eps - sqrt(1 - abar) x0`` (Salimans & Ho 2022, Eq. in Sec. 4) with sqrt(abar) = 1/sqrt(1 + sigma^2)."""
    _check_prediction(prediction)
    if prediction == "epsilon":
        return eps
    return (eps - sigma * x0) / (1 + sigma * sigma).sqrt()


def learning_rate(step: int, lr: float, steps: int, decay_from: int | None = None, warmup: int = 500) -> float:
    """Linear warm-up over ``warmup`` steps, then constant, or a cosine to 0 between ``decay_from`` and ``steps``."""
    cur = lr * min(1.0, (step + 1) / max(1, warmup))
    if decay_from is not None and step >= decay_from:
        cur *= 0.5 * (1 + math.cos(math.pi * min(1.0, (step - decay_from) / (steps - decay_from))))
    return cur


def sample_levels(
    n: int,
    sched: VPSchedule,
    gen: torch.Generator,
    t_sampling: str = "lognormal",
    uniform_fraction: float = 0.25,
    sigma_range: tuple[float, float] | None = None,
) -> torch.Tensor:
    """``n`` training noise levels (float64 VE sigmas) inside ``sigma_range`` (default: the whole schedule).

    ``"lognormal"``: ``log sigma ~ N(-1.2, 1.2^2)`` (EDM's training distribution, Karras et al. 2022, Sec. 5)
    truncated to the range by inverse-CDF sampling, with a share ``uniform_fraction`` replaced by timesteps drawn
    uniformly among those whose sigma lies in the range. ``"uniform"``: only the latter (DDPM). A range narrower
    than the schedule trains a noise-level expert (eDiff-I, Balaji et al. 2022, Sec. 4) on its own levels only.
    """
    s_min, s_max = sched.sigmas[0].item(), sched.sigmas[-1].item()
    lo, hi = (s_min, s_max) if sigma_range is None else map(float, sigma_range)
    grid = ((sched.sigmas >= lo * (1 - 1e-9)) & (sched.sigmas <= hi * (1 + 1e-9))).nonzero().flatten()
    if not 0 < lo < hi or grid.numel() == 0:
        raise ValueError(f"sigma_range must be 0 < low < high and hold a timestep of the schedule, got ({lo}, {hi})")
    lo, hi = max(lo, s_min), min(hi, s_max)  # the schedule's own levels only
    t_uniform = grid[torch.randint(0, grid.numel(), (n,), generator=gen)]
    if t_sampling == "uniform":
        return sched.sigmas[t_uniform]
    mean, std = -1.2, 1.2
    a = torch.special.ndtr(torch.tensor((math.log(lo) - mean) / std, dtype=torch.float64))
    b = torch.special.ndtr(torch.tensor((math.log(hi) - mean) / std, dtype=torch.float64))
    u = a + (b - a) * torch.rand(n, generator=gen, dtype=torch.float64)
    sigma = torch.exp(mean + std * torch.special.ndtri(u)).clamp(lo, hi)
    uniform = torch.rand(n, generator=gen) < uniform_fraction
    return torch.where(uniform, sched.sigmas[t_uniform], sigma)


def train(
    data: Path,
    out: Path,
    *,
    steps: int = 20000,
    batch: int = 16,
    crop: int = 64,
    lr: float = 2e-4,
    ema_decay: float = 0.999,
    config: ADMConfig = BUILTIN_CONFIG,
    device: str | torch.device = "cpu",
    seed: int = 0,
    save_every: int = 500,
    progress: bool = True,
    max_minutes: float | None = None,
    t_sampling: str = "lognormal",
    decay_from: int | None = None,
    prediction: str = "v_prediction",
    uniform_fraction: float = 0.25,
    init: Path | None = None,
    warmup: int = 500,
    sigma_range: tuple[float, float] | None = None,
) -> Path:
    """Denoiser training (v or eps target) on the linear VP schedule; resumes from ``out/checkpoint.pt`` if present.

    ``t_sampling="uniform"`` draws integer timesteps uniformly (DDPM); ``"lognormal"`` draws the noise level
    ``log sigma ~ N(-1.2, 1.2^2)`` (EDM's training distribution, truncated to the schedule or ``sigma_range``, with
    the matching fractional timestep; ``sample_levels``) for most of the batch, which spends a small network's capacity on the levels that shape
    image detail, and uniform timesteps for a share ``uniform_fraction`` of it, to cover the high levels.

    ``prediction="epsilon"`` regresses eps (DDPM's L_simple); ``"v_prediction"`` regresses
    ``v = sqrt(abar) eps - sqrt(1 - abar) x0`` (Salimans & Ho 2022, Sec. 4), i.e. EDM's preconditioning with
    sigma_data = 1: in x0 terms the loss weight is (1 + sigma^2) / sigma^2, which stays >= 1 at the highest levels
    where eps-prediction's weight 1 / sigma^2 vanishes, so the clean-image estimate x0 = sqrt(abar) x_t -
    sqrt(1 - abar) v is trained (and bounded) at every level. Every target has the same MMSE denoiser as minimiser.
    ``sigma_range=(low, high)`` trains only on those levels (a noise-level expert, see ``sample_levels``).
    ``init`` starts from the weights of an exported prior (a ``.safetensors`` file with the same architecture);
    an eps network is a good start for v because v -> eps as sigma -> 0.
    The learning rate warms up linearly over ``warmup`` steps; with ``decay_from`` it then follows a cosine from
    ``lr`` at that step down to 0 at ``steps`` (the schedule is a function of the step, so resuming keeps it).
    """
    _check_prediction(prediction)
    if not 0 <= uniform_fraction <= 1:
        raise ValueError(f"uniform_fraction must lie in [0, 1], got {uniform_fraction}")
    if decay_from is not None and not 0 <= decay_from < steps:
        raise ValueError(f"decay_from must lie in [0, steps), got {decay_from} with steps={steps}")
    if t_sampling not in ("uniform", "lognormal"):
        raise ValueError(f"t_sampling must be 'uniform' or 'lognormal', got {t_sampling!r}")
    sched = VPSchedule.linear()
    sample_levels(1, sched, torch.Generator(), t_sampling, uniform_fraction, sigma_range)  # a bad range fails here
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, without touching the caller's global RNG
        torch.manual_seed(seed)
        net = ADMUNet(config).to(device)
    if init is not None:
        from .loading import load_network, read_state_dict

        load_network(net, read_state_dict(init), str(init)).train().requires_grad_(True)
    ema = ADMUNet(config).to(device)
    ema.load_state_dict(net.state_dict())
    ema.requires_grad_(False)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed + 1)
    sampler = PatchSampler(Path(data), crop, generator=torch.Generator().manual_seed(seed + 2))
    ckpt = out / "checkpoint.pt"
    step = 0
    if ckpt.is_file():
        state = torch.load(ckpt, map_location=device, weights_only=True)
        was = state.get("prediction", "epsilon")
        if was != prediction:
            raise ValueError(f"{ckpt} was trained with prediction={was!r}, not {prediction!r}; use another --out")
        net.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"])
        sampler.g.set_state(state["sampler_gen"])
        step = int(state["step"])
    log_path = out / "loss.csv"
    new_log = not log_path.is_file()
    log = open(log_path, "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "loss", "lr", "seconds"])
    t_start = time.time()
    from tqdm.auto import tqdm

    bar = tqdm(total=steps, initial=step, disable=not progress, desc="train-prior")
    running = None

    def save() -> None:
        state = {
            "model": net.state_dict(),
            "ema": ema.state_dict(),
            "opt": opt.state_dict(),
            "gen": gen.get_state(),
            "sampler_gen": sampler.g.get_state(),
            "step": torch.tensor(step),
            "config": json.dumps(asdict(config)),
            "prediction": prediction,
            "sigma_range": json.dumps(sigma_range and [float(v) for v in sigma_range]),
        }
        tmp = ckpt.with_name(ckpt.name + ".tmp")
        torch.save(state, tmp)
        tmp.replace(ckpt)

    try:
        while step < steps:
            x0 = sampler.batch(batch).to(device)
            sigma = sample_levels(batch, sched, gen, t_sampling, uniform_fraction, sigma_range)
            t = sched.sigma_to_t(sigma).float().to(device)
            eps = torch.randn(x0.shape, generator=gen).to(device)
            sig = sigma.float().to(device).view(-1, 1, 1, 1)
            x_t = (x0 + sig * eps) / (1 + sig * sig).sqrt()  # = sqrt(abar) x0 + sqrt(1 - abar) eps
            cur_lr = learning_rate(step, lr, steps, decay_from, warmup)
            for group in opt.param_groups:
                group["lr"] = cur_lr
            loss = F.mse_loss(net(x_t, t), training_target(x0, eps, sig, prediction))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            decay = min(ema_decay, (1 + step) / (10 + step))
            with torch.no_grad():
                for pe, pn in zip(ema.parameters(), net.parameters()):
                    pe.lerp_(pn, 1 - decay)
            step += 1
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            writer.writerow([step, f"{loss.item():.6f}", f"{cur_lr:.3g}", f"{time.time() - t_start:.1f}"])
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}")
            if step % save_every == 0:
                save()
                log.flush()
            if max_minutes is not None and time.time() - t_start > 60 * max_minutes:
                break
    finally:
        save()
        log.close()
        bar.close()
    return ckpt


def export_builtin(checkpoint: Path, dest_dir: Path, notes: dict | None = None) -> Path:
    """Write the EMA weights of a training checkpoint as ``builtin.safetensors`` plus ``builtin.json``."""
    from safetensors.torch import save_file

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    cfg = json.loads(state["config"])
    sigma_range = json.loads(state.get("sigma_range", "null"))
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    weights = dest_dir / "builtin.safetensors"
    tensors = {k: v.contiguous() for k, v in state["ema"].items()}
    tmp = weights.with_name(weights.name + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(weights)
    meta = {
        "weights": weights.name,
        "sha256": _sha256(weights),
        "config": cfg,
        "schedule": "linear",
        "num_timesteps": 1000,
        "prediction": state.get("prediction", "epsilon"),
        **({"train_sigma_range": sigma_range} if sigma_range else {}),
        "train_size": cfg["image_size"],
        "train_steps": int(state["step"]),
        "parameters": int(sum(v.numel() for v in tensors.values())),
        "source": "ddrm's own prior: trained with 'ddrm train-prior' on the photos of 'ddrm prepare-data'",
        **(notes or {}),
    }
    (dest_dir / "builtin.json").write_text(json.dumps(meta, indent=1))
    return weights


# ---------------------------------------------------------------------- CLI
def _cmd_prepare(args: argparse.Namespace) -> int:
    manifest = prepare_data(Path(args.out), Path(args.work) if args.work else None)
    print(f"{len(manifest['train'])} training photos and {len(manifest['heldout'])} held-out photos in {args.out}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .restore import describe_device, resolve_device

    device = resolve_device(args.device)
    if args.export_only:
        ckpt = Path(args.out) / "checkpoint.pt"
    else:
        torch.set_num_threads(args.threads) if args.threads else None
        if not args.quiet:
            print(describe_device(device))
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
    from .cli import SEED, number

    p = sub.add_parser("prepare-data", help="build the training and held-out photo sets (offline sources)")
    p.add_argument("--out", default="data/photos", help="output folder (default: data/photos)")
    p.add_argument("--work", default=None, help="folder for the downloaded .deb (default: a temporary one)")
    p.set_defaults(func=_cmd_prepare)
    p = sub.add_parser("train-prior", help="train the built-in diffusion prior (CPU or GPU)")
    p.add_argument("--data", default="data/photos/train")
    p.add_argument("--out", default="runs/prior", help="checkpoint, loss log (resumes from here)")
    p.add_argument("--steps", type=number(int, 1), default=20000)
    p.add_argument("--batch", type=number(int, 1), default=16)
    p.add_argument("--crop", type=number(int, 8), default=64)
    p.add_argument("--lr", type=number(float, 0), default=2e-4)
    p.add_argument("--ema", type=number(float, 0, 1, below_high=True), default=0.999)
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU; default), cpu, cuda, cuda:N, mps")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--save-every", type=number(int, 1), default=500)
    p.add_argument("--threads", type=number(int, 1), default=None)
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
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_train)
