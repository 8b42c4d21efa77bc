"""The built-in prior's training loop: a fully convolutional ADM-style UNet with v-prediction (or epsilon prediction)
on the VP linear schedule (T = 1000), random crops with flips, EMA weights, resumable checkpoints (``max_minutes``
for chunks), optionally starting from exported weights (``init``), a progress bar and a CSV loss log.
"""

from __future__ import annotations

import csv
import json
import math
import pickle
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from ..checkpoints import check_archive, load_network, read_state_dict
from ..errors import CheckpointError, InputError
from ..io import atomic_write
from ..models import ADMConfig, ADMUNet
from ..priors import VPSchedule
from .data import PatchSampler

__all__ = ["BUILTIN_CONFIG", "PREDICTIONS", "train", "training_target", "learning_rate", "sample_levels"]

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


# ---------------------------------------------------------------------- training
PREDICTIONS = ("v_prediction", "epsilon")


def _check_prediction(prediction: str) -> None:
    if prediction not in PREDICTIONS:
        raise InputError(f"prediction must be one of {', '.join(PREDICTIONS)}, got {prediction!r}")


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
        raise InputError(f"sigma_range must be 0 < low < high and hold a timestep of the schedule, got ({lo}, {hi})")
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
    _check_options(prediction, uniform_fraction, decay_from, steps, t_sampling)
    sched = VPSchedule.linear()
    sample_levels(1, sched, torch.Generator(), t_sampling, uniform_fraction, sigma_range)  # a bad range fails here
    out = Path(out)
    run = _Run(config, device, seed, lr, Path(data), crop, init, out / "checkpoint.pt", prediction, sigma_range)
    out.mkdir(parents=True, exist_ok=True)  # after every check: a refused run leaves no folder behind
    log_path = out / "loss.csv"
    _trim_log(log_path, run.step)
    new_log = not log_path.is_file()
    from tqdm.auto import tqdm

    with open(log_path, "a", newline="") as log:
        writer = csv.writer(log)
        if new_log:
            writer.writerow(["step", "loss", "lr", "seconds"])
        t_start = time.time()
        bar = tqdm(total=steps, initial=run.step, disable=not progress, desc="train-prior")
        running = None
        try:
            while run.step < steps:
                cur_lr = learning_rate(run.step, lr, steps, decay_from, warmup)
                loss = run.update(batch, sched, t_sampling, uniform_fraction, ema_decay, cur_lr)
                running = loss if running is None else 0.98 * running + 0.02 * loss
                writer.writerow([run.step, f"{loss:.6f}", f"{cur_lr:.3g}", f"{time.time() - t_start:.1f}"])
                bar.update(1)
                bar.set_postfix(loss=f"{running:.4f}")
                if run.step % save_every == 0:
                    run.save()
                    log.flush()
                if max_minutes is not None and time.time() - t_start > 60 * max_minutes:
                    break
        finally:
            run.save()
            bar.close()
    return run.ckpt


def _cloned(obj):  # noqa: ANN001, ANN202
    """``obj`` with every tensor inside (dicts, lists) cloned."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _cloned(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cloned(v) for v in obj)
    return obj


def _trim_log(path: Path, step: int) -> None:
    """Drop the loss log's rows after ``step`` (the checkpoint's): rows a killed run logged past its last save are
    logged again when the resumed run redoes those steps."""
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [ln for ln in lines[1:] if ln.split(",", 1)[0].isdigit() and int(ln.split(",", 1)[0]) <= step]
    if len(kept) != len(lines):
        atomic_write(path, lambda tmp: tmp.write_text("".join(kept)))


def _check_options(
    prediction: str, uniform_fraction: float, decay_from: int | None, steps: int, t_sampling: str
) -> None:
    _check_prediction(prediction)
    if not 0 <= uniform_fraction <= 1:
        raise InputError(f"uniform_fraction must lie in [0, 1], got {uniform_fraction}")
    if decay_from is not None and not 0 <= decay_from < steps:
        raise InputError(f"decay_from must lie in [0, steps), got {decay_from} with steps={steps}")
    if t_sampling not in ("uniform", "lognormal"):
        raise InputError(f"t_sampling must be 'uniform' or 'lognormal', got {t_sampling!r}")


class _Run:
    """A training run's state: network, EMA copy, optimiser, generators and step, resumed from ``ckpt`` if present."""

    def __init__(self, config: ADMConfig, device, seed: int, lr: float, data: Path, crop: int, init: Path | None,
                 ckpt: Path, prediction: str, sigma_range: tuple[float, float] | None):  # fmt: skip
        with torch.random.fork_rng(devices=[]):  # seeded initial weights, without touching the caller's global RNG
            torch.manual_seed(seed)
            self.net = ADMUNet(config).to(device)
        if init is not None:
            load_network(self.net, read_state_dict(init), str(init)).train().requires_grad_(True)
        self.ema = ADMUNet(config).to(device)
        self.ema.load_state_dict(self.net.state_dict())
        self.ema.requires_grad_(False)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=lr, weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.sampler = PatchSampler(data, crop, generator=torch.Generator().manual_seed(seed + 2))
        self.config, self.device, self.ckpt, self.prediction, self.sigma_range = (
            config,
            device,
            ckpt,
            prediction,
            sigma_range,
        )
        self.step = 0
        self._boundary: dict | None = None  # the state at the last step boundary, while a step is under way
        if ckpt.is_file():
            self._resume()

    def _resume(self) -> None:
        why = "cannot resume from it"
        try:
            check_archive(self.ckpt)  # text, HTML, a truncated or damaged zip: said plainly
            state = torch.load(self.ckpt, map_location=self.device, weights_only=True)
            missing = [k for k in ("model", "ema", "opt", "gen", "sampler_gen", "step") if k not in state]
            if not isinstance(state, dict) or missing:
                raise CheckpointError(f"{self.ckpt}: not a train-prior checkpoint (no {', '.join(missing) or 'dict'})")
            was = state.get("prediction", "epsilon")
            if was != self.prediction:
                raise CheckpointError(f"{self.ckpt} was trained with prediction={was!r}, not {self.prediction!r}")
            why = "it does not fit this run's network or options"
            self.net.load_state_dict(state["model"])
            self.ema.load_state_dict(state["ema"])
            self.opt.load_state_dict(state["opt"])
            self.gen.set_state(state["gen"])
            self.sampler.g.set_state(state["sampler_gen"])
            self.step = int(state["step"])
        except (InputError, CheckpointError) as exc:
            raise type(exc)(f"{exc}; move it away to start afresh, or choose another --out") from None
        except Exception as exc:  # a damaged file: the unpickler, a missing key, a wrong shape, ...
            detail = "" if isinstance(exc, pickle.UnpicklingError) else ": " + str(exc).strip().split("\n")[0][:120]
            raise CheckpointError(
                f"{self.ckpt}: {why} ({type(exc).__name__}{detail}); move it away to start afresh, or choose "
                "another --out"
            ) from None

    def update(self, batch: int, sched: VPSchedule, t_sampling: str, uniform_fraction: float, ema_decay: float,
               lr: float) -> float:  # fmt: skip
        """One optimiser step on a fresh batch, then the EMA update; returns the loss. Until it ends, :meth:`save`
        writes the state before it (an interruption mid-step never saves half a step)."""
        self._boundary = self._state(copy=True)
        x0 = self.sampler.batch(batch).to(self.device)
        sigma = sample_levels(batch, sched, self.gen, t_sampling, uniform_fraction, self.sigma_range)
        t = sched.sigma_to_t(sigma).float().to(self.device)
        eps = torch.randn(x0.shape, generator=self.gen).to(self.device)
        sig = sigma.float().to(self.device).view(-1, 1, 1, 1)
        x_t = (x0 + sig * eps) / (1 + sig * sig).sqrt()  # = sqrt(abar) x0 + sqrt(1 - abar) eps
        for group in self.opt.param_groups:
            group["lr"] = lr
        loss = F.mse_loss(self.net(x_t, t), training_target(x0, eps, sig, self.prediction))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.opt.step()
        decay = min(ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for pe, pn in zip(self.ema.parameters(), self.net.parameters()):
                pe.lerp_(pn, 1 - decay)
        self.step += 1
        self._boundary = None
        return loss.item()

    def _state(self, copy: bool = False) -> dict:
        """What a checkpoint holds; ``copy`` clones every tensor (a snapshot the next step cannot change)."""
        state = {
            "model": self.net.state_dict(),
            "ema": self.ema.state_dict(),
            "opt": self.opt.state_dict(),
            "gen": self.gen.get_state(),
            "sampler_gen": self.sampler.g.get_state(),
            "step": torch.tensor(self.step),
            "config": json.dumps(asdict(self.config)),
            "prediction": self.prediction,
            "sigma_range": json.dumps(self.sigma_range and [float(v) for v in self.sigma_range]),
        }
        return _cloned(state) if copy else state

    def save(self) -> None:
        """The checkpoint at the last step boundary, atomically."""
        state = self._boundary if self._boundary is not None else self._state()
        self.ckpt.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.ckpt.with_name(self.ckpt.name + ".tmp")
        torch.save(state, tmp)
        tmp.replace(self.ckpt)
