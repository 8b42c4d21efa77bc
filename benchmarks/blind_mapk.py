"""A marginal-likelihood (MAP_k) first guess for a photo's camera shake, against the route's TV one, on the rows of
``blind_real.py --estimators own`` (the training photos of ``../shared/DATA.md``): Levin, Weiss, Durand & Freeman,
"Efficient marginal likelihood optimization in blind deconvolution" (CVPR 2011), its best variant (a diagonal
free-energy covariance, in the derivative domain), with the settings of the authors' released code. No restoration,
no diffusion prior.

    python benchmarks/blind_mapk.py --part 0/2 --out benchmarks/results/blind_mapk_train_part0.json
    python benchmarks/blind_mapk.py --part 1/2 --out benchmarks/results/blind_mapk_train_part1.json

The estimate, on the photo made grey (the mean of its channels) after the route's contrast floor (``raise_contrast``,
as both classical estimates are made), its horizontal and vertical first differences ``g`` each the valid blur of a
latent derivative image ``x`` (larger by the kernel's side less one) plus noise of variance ``eta^2``:

- E-step: ``q(x)`` Gaussian with a diagonal covariance. Its mean solves ``(K^T K / eta^2 + W) mu = K^T g / eta^2`` by
  15 conjugate-gradient steps; ``W`` the prior's expected precision per pixel, starting from the mixture's mean
  precision and read twice more from ``mu^2 + c``; ``c = 1 / (diag K^T K / eta^2 + W)``.
- The prior: a zero-mean mixture of 4 Gaussians on the derivatives, fitted here by EM to the first differences of the
  12 training photos resized to 128 px on the short side (the released code ships its own, fitted on other photos).
- M-step: the kernel minimising the expected data term, ``k^T (X X^T + diag C) k - 2 k^T X g``, ``C`` the window sums
  of ``c`` (the covariance's part, which keeps the kernel from the no-blur solution), nonnegative; then twice with
  the sparsity ``0.01 sum |k|^0.5`` by reweighting. Its sum is left free within a scale, as in the released code
  (divided by it after every step instead, at commit 94716b9, whose runs were stopped, the estimate started at the
  true kernel moved from it: 1.05 off on ``ColorfulCups`` under the 9 px shake against 0.20), except where it falls under :data:`RESCUE` (the kernel's
  scale drifting to nothing and the image's to infinity: NaN on ``DarkestHour`` under the 9 px shake): there it is
  divided by its sum, and the row counts the ``rescues``. Divided by its sum between scales and at the end.
- Per scale 11 iterations, ``eta`` falling by 1.15 per iteration to ``sigma_y`` (in the contrast-raised units); coarse
  to fine by sqrt(1/2) down to a 5 px kernel, starting from two taps.

``from truth``: the finest scale's 11 iterations started at the true kernel, the estimate's error where the method
starts at the answer. ``--part i/n``: the rows whose index is ``i`` modulo ``n``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from blind_real import shake_cases  # beside this script
from heldout import part  # beside this script
from provenance import command_line, show, write_result  # beside this script
from torch import Tensor

from ddrm.io import read_image
from ddrm.pipeline.blind import L0_CONTRAST, contrast, kernel_error, raise_contrast, recentre
from ddrm.pipeline.blind import _valid_full_system as valid_system  # the route's exact windowed Gram matrix

ROOT = Path(__file__).resolve().parent.parent
# the released code's settings: the noise's fall per iteration and the iterations per scale, the CG steps and the
# prior's reweighting passes, the kernel's sparsity weight, power and floor, the pyramid's ratio and smallest kernel
NOISE_FALL, ITERATIONS, CG_STEPS, PASSES = 1.15, 11, 15, 3
SPARSITY, SPARSITY_POWER, SPARSITY_FLOOR = 0.01, 0.5, 1e-4
RATIO, SMALLEST = 0.5**0.5, 5
RESCUE = 1e-2  # a kernel summing to less is divided by its sum (see the module)
COMPONENTS = 4


def fit_mixture(files: list[Path], side: int = 128, rounds: int = 300) -> tuple[Tensor, Tensor]:
    """Weights and precisions of a zero-mean mixture of :data:`COMPONENTS` Gaussians fitted by EM to the horizontal
    and vertical first differences of ``files`` (grey, resized to ``side`` px on the short side); the precisions
    capped at 1e6 (a std of 0.001: the 8-bit photos' many exact zeros would drive one to infinity)."""
    values = []
    for f in files:
        x = read_image(f).double().mean(0, keepdim=True)[None]
        h, w = x.shape[-2:]
        s = side / min(h, w)
        x = F.interpolate(x, size=(round(h * s), round(w * s)), mode="bicubic", antialias=True)[0, 0]
        values += [(x[:, 1:] - x[:, :-1]).flatten(), (x[1:] - x[:-1]).flatten()]
    v2 = torch.cat(values).pow(2)[:, None]
    precision = torch.tensor([1e-3, 1e-2, 3e-2, 1e-1], dtype=torch.float64) ** -2
    weight = torch.full((COMPONENTS,), 1 / COMPONENTS, dtype=torch.float64)
    for _ in range(rounds):
        r = torch.softmax(-0.5 * v2 * precision + 0.5 * precision.log() + weight.log(), 1)
        weight = r.mean(0)
        precision = (r.sum(0) / (r * v2).sum(0)).clamp_max(1e6)
    return weight, precision


def _blur(x: Tensor, k: Tensor) -> Tensor:
    """The valid blur of each image of ``x`` (B, H, W) by ``k``."""
    return F.conv2d(x[:, None], k.flip(0, 1)[None, None])[:, 0]


def _blur_t(r: Tensor, k: Tensor) -> Tensor:
    """The adjoint of :func:`_blur`."""
    return F.conv_transpose2d(r[:, None], k.flip(0, 1)[None, None])[:, 0]


def _cg(apply, b: Tensor, x: Tensor, steps: int) -> Tensor:  # noqa: ANN001
    """``steps`` conjugate-gradient steps on ``apply(x) = b`` (symmetric positive definite) from ``x``."""
    r = b - apply(x)
    p, rr = r, (r * r).sum()
    for _ in range(steps):
        ap = apply(p)
        a = rr / (p * ap).sum().clamp_min(1e-300)
        x, r = x + a * p, r - a * ap
        rr, rr_old = (r * r).sum(), rr
        p = r + rr / rr_old * p
    return x


def e_step(g: Tensor, k: Tensor, eta: float, mixture: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """The mean and diagonal variance of the latent derivative image under ``k`` (see the module)."""
    weight, precision = mixture
    seen = _blur_t(torch.ones_like(g), k * k) / eta**2  # the diagonal of K^T K / eta^2
    w = torch.full_like(seen, float((weight * precision).sum()))
    rhs, mu, var = _blur_t(g, k) / eta**2, torch.zeros_like(seen), 1 / (seen + w)
    for p in range(PASSES):
        if p:
            e2 = (mu.pow(2) + var)[..., None]
            w = (torch.softmax(-0.5 * e2 * precision + 0.5 * precision.log() + weight.log(), -1) * precision).sum(-1)
        mu = _cg(lambda v, w=w: _blur_t(_blur(v, k), k) / eta**2 + w * v, rhs, mu, CG_STEPS)
        var = 1 / (seen + w)
    return mu, var


def _nonnegative(system: Tensor, rhs: Tensor) -> Tensor:
    """``argmin 1/2 a^T system a - rhs^T a`` over ``a >= 0``: solved on a free set that drops the taps coming out
    negative until none does (as the route's simplex solve)."""
    free = torch.ones_like(rhs, dtype=torch.bool)
    for _ in range(rhs.numel()):
        idx = free.nonzero().flatten()
        sol = torch.linalg.solve(system[idx][:, idx], rhs[idx])
        if bool((sol >= 0).all()):
            break
        free[idx[sol < 0]] = False
    out = torch.zeros_like(rhs)
    out[idx] = sol.clamp_min(0)
    return out


def m_step(gs: list[Tensor], mus: list[Tensor], variances: list[Tensor], n: int) -> Tensor:
    """The kernel of the expected data term plus the sparsity, its sum free (see the module)."""
    system, rhs = 0, 0
    ta, tb = torch.arange(n * n) // n, torch.arange(n * n) % n
    for g, mu, var in zip(gs, mus, variances):
        gram, r = valid_system(mu, g, n, n)
        # tap (a, b) reads the window of the latent image at (n - 1 - a, n - 1 - b): its variances' sum
        sums = F.conv2d(var.sum(0)[None, None], torch.ones(1, 1, *g.shape[-2:], dtype=var.dtype))[0, 0]
        system, rhs = system + gram + torch.diag(sums[n - 1 - ta, n - 1 - tb]), rhs + r
    system = (system + system.T) / 2
    k = _nonnegative(system, rhs)
    for _ in range(2):
        penalty = k.clamp_min(SPARSITY_FLOOR) ** (SPARSITY_POWER - 2)
        k = _nonnegative(system + SPARSITY * torch.diag(penalty), rhs)
    return k.reshape(n, n)


def _scale(gs: list[Tensor], k: Tensor, sigma: float, mixture: tuple[Tensor, Tensor]) -> tuple[Tensor, int]:
    """One scale's iterations, the noise falling to ``sigma``: the kernel (summing to one) and the rescues."""
    rescues = 0
    for e in range(ITERATIONS - 1, -1, -1):
        mus, variances = zip(*(e_step(g, k, sigma * NOISE_FALL**e, mixture) for g in gs))
        k = m_step(gs, list(mus), list(variances), k.shape[0])
        if k.sum() < RESCUE:
            k, rescues = k / k.sum(), rescues + 1
    return k / k.sum(), rescues


def _differences(y: Tensor) -> list[Tensor]:
    return [y[..., :, 1:] - y[..., :, :-1], y[..., 1:, :] - y[..., :-1, :]]


def mapk_kernel(y01: Tensor, size: int, sigma: float, mixture: tuple[Tensor, Tensor]) -> tuple[Tensor, int]:
    """The MAP_k estimate (``size`` square, centred, summing to one) of the valid blur that made ``y01`` (1, C, H, W),
    ``sigma``: its noise in its own units; and the rescues it took."""
    y = y01[0].double().mean(0, keepdim=True)
    levels = max(math.floor(math.log(SMALLEST / size) / math.log(RATIO)), 0)
    sides = [math.ceil(size * RATIO**i) for i in range(levels + 1)]
    sides = [s + 1 - s % 2 for s in sides]
    k = torch.zeros(sides[-1], sides[-1], dtype=torch.float64)
    k[sides[-1] // 2, sides[-1] // 2 : sides[-1] // 2 + 2] = 0.5
    rescues = 0
    for level in range(levels, -1, -1):
        n = sides[level]
        shape = tuple(max(1, round(v * RATIO**level)) for v in y.shape[-2:])
        ys = F.interpolate(y[None], size=shape, mode="bicubic", antialias=True)[0] if level else y
        if k.shape[0] != n:
            k = F.interpolate(k[None, None], size=(n, n), mode="bicubic")[0, 0].clamp_min(0)
            k = k / k.sum()
        k, r = _scale(_differences(ys), k, sigma, mixture)
        rescues += r
    return recentre(k), rescues


def mapk_rows(args: argparse.Namespace, files: list[Path], mixture: tuple[Tensor, Tensor]) -> list[dict]:
    """Each shake and photo (the ``--estimators own`` rows): the MAP_k estimate's kernel error and seconds, and the
    error of the finest scale started at the true kernel."""
    run = SimpleNamespace(size=128, seed=0, levels=args.levels)
    rows = []
    for k, _, y, _, row in shake_cases(run, files, args.shake_sizes, args.part):
        spread = contrast(y[None])
        sigma = row["sigma_y"] * (L0_CONTRAST / spread if 0 < spread < L0_CONTRAST else 1.0)
        y01 = raise_contrast(y[None], L0_CONTRAST)
        t0 = time.perf_counter()
        est, row["rescues"] = mapk_kernel(y01, k.shape[0], sigma, mixture)
        row["mapk"], row["mapk seconds"] = kernel_error(est, k), time.perf_counter() - t0
        grey = y01[0].double().mean(0, keepdim=True)
        est, row["rescues from truth"] = _scale(_differences(grey), k.double(), sigma, mixture)
        row["mapk from truth"] = kernel_error(recentre(est), k)
        rows.append(row)
        show(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shake-sizes", default="9,15,21,31")
    ap.add_argument("--levels", default="0.01")
    ap.add_argument("--photos", default="data/photos/train")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--part", type=part, default="0/1", help="i/n: the rows whose index is i modulo n")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    args.shake_sizes = tuple(int(v) for v in args.shake_sizes.split(","))
    torch.set_num_threads(args.threads)
    files = sorted((ROOT / args.photos).glob("*.png"))
    if not files:
        raise SystemExit(f"no photos in {args.photos}; run 'ddrm prepare-data' (see ../shared/DATA.md)")
    mixture = fit_mixture(files)
    rows = mapk_rows(args, files, mixture)
    write_result(args.out, command_line(), rows, size=128, photos=args.photos, part=list(args.part),
                 restores="no: the MAP_k estimate alone, the prior unused",
                 mixture={"weights": mixture[0].tolist(), "precisions": mixture[1].tolist()})  # fmt: skip


if __name__ == "__main__":
    main()
