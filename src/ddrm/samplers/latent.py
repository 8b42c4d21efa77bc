"""Latent solvers: posterior sampling with a latent prior (:class:`~ddrm.priors.latent.LatentPrior`), where the
measurement ``y = H D(z) + n`` reaches the latent only through the decoder ``D``.

Same call as every sampler (``fn(prior, operator, y, sigma_y_model, *, steps, generator, ...)``, ``y`` and
``sigma_y_model`` in [-1, 1] pixel units, images (B, C, H, W) returned in that range, decoded), the latent iterate in
the VE form of the latent diffusion (``z = z0 + sigma eps``, scaled-latent units). VP equations convert as in
:mod:`ddrm.samplers.common`: ``z_vp = sqrt(abar) z_ve``, ``grad_{z_vp} = grad_{z_ve} / sqrt(abar)``. Every loss is
per image (summed over the batch, so an image's gradient never depends on the others). Each method back-propagates
through the decoder at full image size (PSLD also through the encoder); ``../shared/reference/PRIORS_LATENT.md``
section 3 gives the official settings these defaults follow.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..errors import SolverError
from ..operators.base import Generators, LinearOperator, randn
from .common import StepInfo, abar, batch_norm, ddim_step, noise_like, progress, sigma_levels
from .daps import edm_sigmas
from .registry import Param, sampler

__all__ = ["psld", "resample", "latent_daps"]


def _start(prior, operator: LinearOperator, y: Tensor, sigma: float, generator: Generators) -> Tensor:  # noqa: ANN001
    """The first latent: ``sigma`` times standard noise of the latent shape of the operator's image."""
    return sigma * randn((y.shape[0], *prior.latent_shape(operator.input_shape)), generator=generator, like=y)


def _residual_norms(operator: LinearOperator, y: Tensor, x: Tensor) -> Tensor:
    """``||y - H x||`` per image, (B,)."""
    return batch_norm(y - operator.H(x)).flatten()


def _project(operator: LinearOperator, y: Tensor, x: Tensor) -> Tensor:
    """The projection of ``x`` onto ``{H x = y}``: ``x + H^+ (y - H x)`` (PSLD's ``A^T y + (I - A^T A) x`` for ``H``
    with orthonormal rows, e.g. inpainting; for block-averaging super-resolution it is the official code's
    nearest-upsampling ``A^T``)."""
    return x + operator.pinv(y - operator.H(x))


# ---------------------------------------------------------------------- PSLD
@sampler(
    "psld",
    paper="Rout, Raoof, Daras, Caramanis, Dimakis, Shakkottai. Solving Linear Inverse Problems Provably via "
    "Posterior Sampling with Latent Diffusion Models. NeurIPS 2023",
    summary="latent DDIM + gradient of ||y - H D(z0)|| and the gluing term ||E(proj D(z0)) - z0|| (latent prior)",
    params=(
        Param("omega", "weight of the measurement term ||y - H D(z0_hat)||", 0.0, None),
        Param("gamma", "weight of the gluing term ||E(x0 + H^+(y - H x0)) - z0_hat||", 0.0, None),
        Param("checkpointing", "recompute network activations in the backward pass (less memory)"),
    ),
    task_defaults={"inpaint": {"omega": 0.1, "gamma": 0.01}},
    needs_grad=True,
    operators=(LinearOperator,),
    consistency="approximate",
    noise="fresh noise of sigma_y added to H D(z0_hat) in the measurement term (official); configs use 0.05",
    space="latent",
)
@torch.no_grad()
def psld(
    prior,  # noqa: ANN001
    operator: LinearOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 1000,
    omega: float = 1.0,
    gamma: float = 0.1,
    checkpointing: bool = False,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """PSLD (Algorithm 2, DDIM with eta 0): ``z_{t-1} = DDIM(z_t) - grad_{z_t} [omega ||y - (H x0 + n)|| + gamma
    ||E(x0 + H^+ (y - H x0)) - z0_hat||]`` with ``x0 = D(z0_hat(z_t))``, unsquared norms and fresh noise ``n`` (as
    the official code), the gradient through the U-Net, the decoder and the encoder."""
    sigmas = sigma_levels(prior.schedule, steps, None, 0.0, "uniform")
    z = _start(prior, operator, y, sigmas[0], generator)
    with prior.gradient_checkpointing(checkpointing):
        for i in progress(range(steps), enabled=progress_bar, desc="psld"):
            sig, sig_next = sigmas[i], sigmas[i + 1]
            with torch.enable_grad():
                zg = z.detach().requires_grad_(True)
                z0 = prior.denoise(zg, sig)
                x0 = prior.decode(z0)
                noise = sigma_y_model * noise_like(y, generator)
                loss = omega * batch_norm(y - (operator.H(x0) + noise)).sum()
                if gamma > 0:
                    glued = prior.encode(_project(operator, y, x0))
                    loss = loss + gamma * batch_norm(glued - z0).sum()
                (grad,) = torch.autograd.grad(loss, zg)
            z0 = z0.detach()
            step = ddim_step(z0, (z - z0) / sig, None, sig, sig_next, 0.0)
            factor = math.sqrt((1.0 + sig**2) * (1.0 + sig_next**2))  # z_vp step with grad_{z_vp}, in VE form
            z_next = step - factor * grad if sig_next > 0 else z0
            if callback is not None:
                callback(StepInfo(i, steps, sig, sig_next, z, z0))
            z = z_next
    return prior.decode(z)


# ---------------------------------------------------------------------- ReSample
def _resample_levels(steps: int, interval: int) -> list[int]:
    """The steps ``i`` (0 = the noisiest) with hard data consistency: remaining steps ``index = steps - 1 - i`` a
    multiple of ``interval`` in ``(0, 2 steps / 3]`` (the official loop counts ``index`` down)."""
    return [i for i in range(steps) if 0 < (steps - 1 - i) <= 2 * steps // 3 and (steps - 1 - i) % interval == 0]


def _resample_nfe(steps: int, interval: int, lookahead: int, **_: object) -> int:
    return steps + lookahead * len(_resample_levels(steps, interval))


def _pixel_fit(operator: LinearOperator, y: Tensor, x: Tensor, lr: float, iters: int, tol: float) -> Tensor:
    """``argmin_x ||y - H x||^2`` from ``x`` by AdamW, one image at a time, stopping once the mean squared residual is
    under ``tol`` (ReSample's pixel-space optimisation)."""
    out = []
    for b in range(x.shape[0]):
        xb = x[b : b + 1].detach().clone().requires_grad_(True)
        opt = torch.optim.AdamW([xb], lr=lr)
        for _ in range(iters):
            with torch.enable_grad():
                loss = (y[b : b + 1] - operator.H(xb)).pow(2).mean()
                if loss.item() < tol:
                    break
                opt.zero_grad()
                loss.backward()
            opt.step()
        out.append(xb.detach())
    return torch.cat(out)


def _latent_fit(prior, operator: LinearOperator, y: Tensor, z: Tensor, lr: float, iters: int, window: int) -> Tensor:  # noqa: ANN001
    """``argmin_z ||y - H D(z)||^2`` from ``z`` by AdamW, one image at a time, keeping the best latent and stopping
    when ``window`` iterations bring no improvement (ReSample's latent-space optimisation)."""
    out = []
    for b in range(z.shape[0]):
        zb = z[b : b + 1].detach().clone().requires_grad_(True)
        opt = torch.optim.AdamW([zb], lr=lr)
        best, best_z, since = math.inf, zb.detach().clone(), 0
        for _ in range(iters):
            with torch.enable_grad():
                loss = (y[b : b + 1] - operator.H(prior.decode(zb))).pow(2).mean()
                opt.zero_grad()
                loss.backward()
            if loss.item() < best:
                best, best_z, since = loss.item(), zb.detach().clone(), 0
            else:
                since += 1
                if since >= window:
                    break
            opt.step()
        out.append(best_z)
    return torch.cat(out)


@sampler(
    "resample",
    paper="Song, Kwon, Zhang, Hu, Qu, Shen. Solving Inverse Problems with Latent Diffusion Models via Hard Data "
    "Consistency. ICLR 2024",
    summary="latent DDIM; every few steps a latent (or pixel) fit to y and stochastic resampling back to the chain",
    params=(
        Param("interval", "hard data consistency every this many steps (within the last two thirds)", 1, None),
        Param("gamma", "stochastic resampling: the variance ratio gamma", 0.0, None),
        Param("grad_scale", "the per-step gradient of ||y - H D(z0_hat)|| (times abar_t; official 0.5)", 0.0, None),
        Param("lookahead", "DDIM steps from z'_{t-1} to the z0_hat that is fitted", 1, None),
        Param("pixel_lr", "AdamW step of the pixel-space fit", 0.0, None),
        Param("pixel_iters", "iterations of the pixel-space fit", 0, None),
        Param("pixel_tol", "the pixel-space fit stops under this mean squared residual", 0.0, None),
        Param("latent_lr", "AdamW step of the latent-space fit", 0.0, None),
        Param("latent_iters", "iterations of the latent-space fit", 0, None),
        Param("latent_window", "the latent fit stops after this many iterations without improvement", 1, None),
    ),
    nfe=_resample_nfe,
    needs_grad=True,
    operators=(LinearOperator,),
    consistency="approximate",
    noise="not modelled: the fits stop at a fixed residual whatever sigma_y (official); configs use 0.01",
    space="latent",
)
@torch.no_grad()
def resample(
    prior,  # noqa: ANN001
    operator: LinearOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 500,
    interval: int = 10,
    gamma: float = 40.0,
    grad_scale: float = 0.5,
    lookahead: int = 5,
    pixel_lr: float = 1e-2,
    pixel_iters: int = 2000,
    pixel_tol: float = 1e-6,
    latent_lr: float = 5e-3,
    latent_iters: int = 500,
    latent_window: int = 200,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """ReSample (Algorithm 1 with the official code's settings). Each DDIM step (eta 0) is followed by
    ``- grad_scale abar_t grad_{z_t} ||y - H D(z0_hat)||``; at the steps of :func:`_resample_levels` the ``z0_hat``
    of a ``lookahead``-step DDIM run from ``z'_{t-1}`` is fitted to ``y`` (in pixel space, then encoded, while
    ``index >= steps / 3``; in latent space after), and ``z_{t-1}`` is drawn by stochastic resampling (Eq. 13, VP):
    ``N((s^2 sqrt(abar) z_hat + (1 - abar) z') / (s^2 + 1 - abar), s^2 (1 - abar) / (s^2 + 1 - abar))`` with
    ``abar = abar_{t-1}`` and ``s^2 = gamma (1 - abar_{t-1}) / (1 - abar_t) (1 - abar_t / abar_{t-1})``. A latent
    fit of the final latent ends the run (as the official code). The per-step gradient goes through the denoiser's
    ``z0_hat``; the official code forms that estimate with ``(1 - abar_t) eps_hat`` instead of
    ``sqrt(1 - abar_t) eps_hat``, which we read as a slip and do not follow."""
    sigmas = sigma_levels(prior.schedule, steps, None, 0.0, "uniform")
    hard = set(_resample_levels(steps, interval))
    z = _start(prior, operator, y, sigmas[0], generator)
    for i in progress(range(steps), enabled=progress_bar, desc="resample"):
        sig, sig_next = sigmas[i], sigmas[i + 1]
        with torch.enable_grad():
            zg = z.detach().requires_grad_(True)
            z0 = prior.denoise(zg, sig)
            (grad,) = torch.autograd.grad(_residual_norms(operator, y, prior.decode(z0)).sum(), zg)
        z0 = z0.detach()
        z_prime = ddim_step(z0, (z - z0) / sig, None, sig, sig_next, 0.0)
        if sig_next > 0:  # VP: z' -= grad_scale abar_t grad_{z_vp}; in VE form the factor below
            z_prime = z_prime - grad_scale * math.sqrt((1.0 + sig_next**2) / (1.0 + sig**2)) * grad
        if i in hard and sig_next > 0:
            ahead = [a for a in sigmas[i + 1 :: max(1, (steps - 1 - i) // lookahead)] if a > 0][:lookahead] + [0.0]
            z_hat = z_prime
            for a, b in zip(ahead[:-1], ahead[1:]):  # DDIM (eta 0) look-ahead to z0_hat
                d = prior.denoise(z_hat, a)
                z_hat = ddim_step(d, (z_hat - d) / a, None, a, b, 0.0)
            if steps - 1 - i >= steps // 3:
                x_fit = _pixel_fit(operator, y, prior.decode(z_hat), pixel_lr, pixel_iters, pixel_tol)
                z_hat = prior.encode(x_fit)
            else:
                z_hat = _latent_fit(prior, operator, y, z_hat, latent_lr, latent_iters, latent_window)
            a_prev, a_t = abar(sig_next), abar(sig)
            s2 = gamma * (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
            mean = (s2 * math.sqrt(a_prev) * z_hat + (1 - a_prev) * math.sqrt(a_prev) * z_prime) / (s2 + 1 - a_prev)
            std = math.sqrt(s2 * (1 - a_prev) / (s2 + 1 - a_prev))
            z_prime = (mean + std * noise_like(z_prime, generator)) / math.sqrt(a_prev)
        if callback is not None:
            callback(StepInfo(i, steps, sig, sig_next, z, z0))
        z = z_prime
    z = _latent_fit(prior, operator, y, z, latent_lr, latent_iters, latent_window)
    return prior.decode(z)


# ---------------------------------------------------------------------- latent DAPS
def _daps_nfe(steps: int, ode_steps: int, **_: object) -> int:
    return steps * ode_steps


@sampler(
    "latent-daps",
    paper="Zhang, Chu, Berner, Meng, Anandkumar, Song. Improving Diffusion Inverse Problem Solving with Decoupled "
    "Noise Annealing. CVPR 2025 (LatentDAPS)",
    summary="annealing on the latent: ODE estimate of z0, HMC/Langevin on p(z0 | z_t, y) through the decoder",
    params=(
        Param("ode_steps", "Euler steps of the probability-flow ODE per annealing level", 1, None),
        Param("mcmc_steps", "MCMC steps per annealing level", 0, None),
        Param("mcmc", "hmc (official for SD) or langevin", choices=("hmc", "langevin")),
        Param("lr", "MCMC step size at the first level", 0.0, None),
        Param("lr_min_ratio", "final step size as a fraction of lr", 0.0, None),
        Param("momentum", "HMC momentum", 0.0, 1.0),
        Param(
            "tau",
            "likelihood temperature: the gradient of ||H D(z) - y||^2 is clipped to +-1 and divided by tau^2",
            1e-12,
            None,
        ),  # fmt: skip
        Param("sigma_max", "first annealing level (latent VE)", 1e-6, None),
        Param("sigma_min", "last annealing level before 0 (latent VE)", 1e-6, None),
    ),
    nfe=_daps_nfe,
    needs_grad=True,
    operators=(LinearOperator,),
    consistency="approximate",
    noise="not modelled: tau fixes the likelihood width (official 0.01)",
    space="latent",
)
@torch.no_grad()
def latent_daps(
    prior,  # noqa: ANN001
    operator: LinearOperator,
    y: Tensor,
    sigma_y_model: float,
    *,
    steps: int = 50,
    ode_steps: int = 2,
    mcmc_steps: int = 30,
    mcmc: str = "hmc",
    lr: float = 1e-4,
    lr_min_ratio: float = 1.0,
    momentum: float = 0.45,
    tau: float = 0.01,
    sigma_max: float = 10.0,
    sigma_min: float = 0.1,
    generator: Generators = None,
    callback: Callable[[StepInfo], None] | None = None,
    progress_bar: bool = False,
) -> Tensor:
    """Latent DAPS with the official SD settings (SR x4): ``steps`` annealing levels (rho = 7 from ``sigma_max`` to
    ``sigma_min``, then 0); per level the ODE estimate ``z0_hat`` (``ode_steps`` Euler steps down to 0.001), then
    ``mcmc_steps`` of HMC (``v <- m v + sqrt(lr) g + sqrt(2 (1 - m)) xi``, ``z += sqrt(lr) v``) or Langevin
    (``z += lr g + sqrt(2 lr) xi``) with ``g = -clip(grad ||H D(z) - y||^2, +-1) / tau^2 + (z0_hat - z) /
    sigma_k^2``, the step ``lr (1 + k / steps (lr_min_ratio - 1))``; then ``z + sigma_{k+1} xi``."""
    if sigma_min > sigma_max:
        raise SolverError(f"solver latent-daps: sigma_min ({sigma_min}) must not exceed sigma_max ({sigma_max})")
    anneal = edm_sigmas(sigma_max, sigma_min, steps) + [0.0]
    z = _start(prior, operator, y, sigma_max, generator)
    for k in progress(range(steps), enabled=progress_bar, desc="latent-daps"):
        sig = anneal[k]
        ode = edm_sigmas(sig, min(1e-3, sig), ode_steps + 1)
        z0_hat = z
        for a, b in zip(ode[:-1], ode[1:]):
            z0_hat = z0_hat + (b - a) / a * (z0_hat - prior.denoise(z0_hat, a))
        step = lr * (1.0 + k / steps * (lr_min_ratio - 1.0))
        zk, v = z0_hat, torch.zeros_like(z0_hat)
        for _ in range(mcmc_steps):
            with torch.enable_grad():
                zg = zk.detach().requires_grad_(True)
                loss = (operator.H(prior.decode(zg)) - y).pow(2).flatten(1).sum(1).sum()
                (lik,) = torch.autograd.grad(loss, zg)
            g = -lik.clamp(-1.0, 1.0) / tau**2 + (z0_hat - zk) / sig**2
            if mcmc == "hmc":
                v = momentum * v + math.sqrt(step) * g + math.sqrt(2 * (1 - momentum)) * noise_like(v, generator)
                zk = zk + math.sqrt(step) * v
            else:
                zk = zk + step * g + math.sqrt(2 * step) * noise_like(zk, generator)
        z_next = zk + anneal[k + 1] * noise_like(zk, generator) if anneal[k + 1] > 0 else zk
        if callback is not None:
            callback(StepInfo(k, steps, sig, anneal[k + 1], z, z0_hat))
        z = z_next
    return prior.decode(z)
