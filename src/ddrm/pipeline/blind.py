"""Blind deblurring: the blur kernel re-estimated during sampling (../shared/reference/EXTENSIONS.md section 2).

The kernel-estimation steps are plain functions of an image estimate ``x`` and the measurement ``y`` (both [0, 1]
units, ``y = k (*) x + noise`` with a circular boundary and ``k`` on the probability simplex), so any solver can call
them:

- :func:`estimate_separable`: ``k = a b^T`` (rank one) by alternating least squares. With ``b`` fixed,
  ``y = sum_t a_t S_t z`` where ``z`` is ``x`` blurred along rows by ``b`` and ``S_t`` the vertical circular shift of
  tap ``t``: an ``L x L`` system ``(Z Z^T + lam I) a = Z y`` (``Z Z^T`` is the autocorrelation of ``z`` at the
  taps' lags); then ``b`` the same way along columns. The operator is rebuilt from two small 1-D SVDs
  (:func:`separable_blur`, circular).
  With ``boundary="valid"`` (a photo's blur: ``y`` is the part of the blur that saw only ``x``) the taps are windows
  of ``x`` itself, no boundary enters, and the fit is made on the images' first differences (edges weigh, flat parts
  where the estimate differs most from the scene do not).
- :func:`estimate_full`: a full 2-D kernel, the same least-squares problem over its ``kh kw`` taps (the Gram matrix
  is the autocorrelation of ``x`` at the taps' lag differences, by FFT). The operator is the circular FFT convolution.
  With ``boundary="valid"`` the system is the valid windows' (exact, from integral images of the image's products
  with its shifts) on first differences, and the operator the blur's :class:`~ddrm.operators.ValidPart`.

Both solve on the simplex (``k >= 0``, ``sum k = 1``): the sum-to-one solution by a Lagrange multiplier, taps that
come out negative fixed at zero and the rest solved again. Each channel's mean is removed first (a kernel summing to
one maps it to itself), which leaves the systems well scaled. GibbsDDRM's full-kernel update is Langevin on
``||y - k (*) x||^2 / (2 s^2) + gamma ||k||_1`` with no positivity; on the simplex ``||k||_1 = 1`` is constant and the
non-negativity itself makes the kernel sparse, so it plays the sparsity term's part here, with a small ridge ``lam``
and first-difference smoothing ``smooth``.

:func:`l0_kernel` estimates a kernel from the measurement alone, without the diffusion prior (Pan et al. 2014's
pyramid, Xu et al. 2013's L0 image, :func:`l0_latent`, fitted with the two functions above): :func:`restore_blind`'s
first guess for a photo's blur (for a full kernel, held as the kernel itself; a camera shake of :data:`TV_FROM` px or
more is first estimated by :func:`~ddrm.pipeline.tv_kernel.tv_kernel` instead, :func:`classical_estimate`).

:class:`KernelEstimator` wraps either into a solver's ``operator_update`` hook (DDRM and DiffPIR take one): from
``start`` of the steps on, each step's denoised estimate ``x0`` updates the kernel and the solver continues with the
new operator. Kernels summing to one with a circular boundary keep ``H 1 = 1``, so the measurement's conversion to
the model range does not change with the kernel.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ..errors import SolverError, TaskError
from ..operators import (
    CircularConvolution,
    LinearOperator,
    SVDOperator,
    ValidPart,
    gaussian_kernel_1d,
    separable_blur,
    valid_margins,
)
from ..samplers import SAMPLERS
from ..tasks import BLIND_BOUNDARIES, HELD_REFITS, KERNEL_MODELS, blind_start_kernel, holds_estimate
from .tv_kernel import tv_kernel

__all__ = [
    "KERNEL_MODELS",
    "estimate_separable",
    "estimate_full",
    "gaussian_kernel",
    "KernelEstimator",
    "kernel_error",
    "scale_kernel",
    "recentre",
    "kernel_offset",
    "move_image",
    "restore_blind",
    "l0_kernel",
    "l0_latent",
    "classical_estimate",
    "held_allowance",
    "tv_kernel",
    "contrast",
    "raise_contrast",
    "derived_generators",
    "sample_generators",
    "pick_draw",
    "check_solver",
    "unsized_shake_warning",
    "BLIND_BOUNDARIES",
    "HELD_REFITS",
]

# default smoothing of the kernel estimates (weight of ||D k||^2 relative to the Gram matrix's mean diagonal), set on
# the Gaussian-prior test scene of tests/test_blur.py (not on the held-out photos)
SMOOTH = {"separable": 0.01, "full": 0.1}
# the valid (photo) model's fit on image gradients: smoothing chosen among 0.01, 0.05, 0.1, 0.2 on the training photos
# of ../shared/DATA.md (6 photos x Gaussian, anisotropic and box kernels, sigma_y 0.01; mean gain over the blurry
# input +1.4, +1.8, +0.9, +1.2 dB; the intensity fit's was -1.3), never on the held-out ones
SMOOTH_GRADIENT = 0.05
# the boundaries the estimator computes with, for both models; the tasks offer fewer (:data:`BLIND_BOUNDARIES`: a full
# kernel's valid fit is exact here, but restorations built on it do not yet beat a photo's blurry input)
ESTIMATOR_BOUNDARIES = ("circular", "valid")


def _difference_penalty(shape: tuple[int, ...], dtype: torch.dtype, device) -> Tensor:
    """``D^T D`` for ``D`` the first differences of a 1-D or 2-D kernel (flattened), along every axis."""
    n = 1
    for s in shape:
        n *= s
    idx = torch.arange(n, device=device).reshape(shape)
    out = torch.zeros(n, n, dtype=dtype, device=device)
    for dim in range(len(shape)):
        a = idx.narrow(dim, 0, shape[dim] - 1).flatten()
        b = idx.narrow(dim, 1, shape[dim] - 1).flatten()
        d = torch.zeros(a.numel(), n, dtype=dtype, device=device)
        d[torch.arange(a.numel()), a] = -1
        d[torch.arange(a.numel()), b] = 1
        out += d.T @ d
    return out


def _regulariser(gram: Tensor, shape: tuple[int, ...], lam: float, smooth: float) -> Tensor:
    """``lam I + smooth D^T D``, both relative to the Gram matrix's mean diagonal."""
    scale = float(gram.diagonal().mean())
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return scale * (lam * eye + smooth * _difference_penalty(shape, gram.dtype, gram.device))


def _simplex_quadratic(gram: Tensor, rhs: Tensor, reg: Tensor) -> Tensor:
    """``argmin_a 1/2 a^T (gram + reg) a - rhs^T a`` subject to ``sum a = 1``, ``a >= 0``: the equality-constrained
    solution on a shrinking free set (taps that come out negative are fixed at zero and the rest solved again), a
    small dense solve per round."""
    n = rhs.numel()
    free = torch.ones(n, dtype=torch.bool, device=rhs.device)
    system = gram + reg
    for _ in range(n):
        idx = free.nonzero().flatten()
        g = system[idx][:, idx]
        both = torch.linalg.solve(g, torch.stack([rhs[idx], torch.ones_like(rhs[idx])], 1))
        nu = (both[:, 0].sum() - 1) / both[:, 1].sum()  # the multiplier of sum(a) = 1
        sol = both[:, 0] - nu * both[:, 1]
        if bool((sol >= 0).all()):
            break
        free[idx[sol < 0]] = False
    out = torch.zeros(n, dtype=rhs.dtype, device=rhs.device)
    out[idx] = sol.clamp_min(0)
    return out / out.sum()


def _unimodal_basis(n: int, peak: int) -> tuple[Tensor, Tensor]:
    """``M`` (n, n + 1) and the equality rows ``A`` (2, n + 1) of a unimodal vector ``a = M d``, ``d >= 0``: the
    first ``peak + 1`` entries of ``d`` are the rises up to the peak (``a[i] = d[0] + .. + d[i]``), the others the
    falls after it (``a[i] = d[i + 1] + .. + d[n]`` past the peak, ``d[peak + 1]`` the drop just after it); ``A d =
    (1, 0)`` says ``a`` sums to one and the rises and falls both reach the peak."""
    m = torch.zeros(n, n + 1, dtype=torch.float64)
    for i in range(n):
        if i <= peak:
            m[i, : i + 1] = 1
        else:
            m[i, i + 1 :] = 1
    rows = torch.zeros(2, n + 1, dtype=torch.float64)
    rows[0] = m.sum(0)
    rows[1, : peak + 1], rows[1, peak + 1 :] = 1, -1
    return m, rows


def _unimodal_at(system: Tensor, rhs: Tensor, peak: int) -> tuple[Tensor, float]:
    """:func:`_simplex_quadratic`'s problem over the unimodal vectors peaking at tap ``peak``: the same shrinking free
    set over the rises and falls of :func:`_unimodal_basis` (two equality multipliers); the vector and its
    objective."""
    n = rhs.numel()
    m, rows = _unimodal_basis(n, peak)
    m, rows = m.to(rhs), rows.to(rhs)
    h, g = m.T @ system @ m, m.T @ rhs
    target = torch.tensor([1.0, 0.0], dtype=rhs.dtype, device=rhs.device)
    free = torch.ones(n + 1, dtype=torch.bool, device=rhs.device)
    for _ in range(n + 1):
        idx = free.nonzero().flatten()
        k = idx.numel()
        kkt = rhs.new_zeros(k + 2, k + 2)
        kkt[:k, :k] = h[idx][:, idx]
        kkt[:k, k:], kkt[k:, :k] = rows[:, idx].T, rows[:, idx]
        # least squares: with the drop after the peak free, the rises and falls can trade along one direction; the
        # SVD driver (gelsd) returns the same bits on every call, where the default (gelsy) varies in the last bit
        sol = torch.linalg.lstsq(kkt.cpu(), torch.cat([g[idx], target]).cpu()[:, None], driver="gelsd")
        sol = sol.solution[:k, 0].to(rhs)
        if bool((sol >= -1e-15).all()):  # (a rise or fall that is zero may come out at rounding's -1e-17)
            break
        free[idx[sol < 0]] = False
    d = rhs.new_zeros(n + 1)
    d[idx] = sol.clamp_min(0)
    a = (m @ d).clamp_min(0)
    a = a / a.sum()
    return a, float(0.5 * a @ system @ a - rhs @ a)


def _unimodal_quadratic(gram: Tensor, rhs: Tensor, reg: Tensor, reach: int = 2) -> Tensor:
    """:func:`_simplex_quadratic` over the unimodal vectors (rising to one peak, falling after it), the peak among
    the ``2 reach + 1`` central taps, the best of them: the factors of the blurs a separable model stands for
    (Gaussian, box, a lens's defocus) are unimodal, and the constraint removes the secondary bumps a fit to a
    smoothed estimate makes, without the smoothing that rounds a narrow factor's peak."""
    n = rhs.numel()
    system = gram + reg
    centre = n // 2
    fits = [_unimodal_at(system, rhs, p) for p in range(max(0, centre - reach), min(n, centre + reach + 1))]
    return min(fits, key=lambda fit: fit[1])[0]


def _blur_1d(x: Tensor, k: Tensor, dim: int) -> Tensor:
    """Circular 1-D convolution along ``dim``: ``out[i] = sum_t k[t] x[i + c - t]`` (``c = len(k) // 2``), by FFT."""
    n = x.shape[dim]
    padded = torch.zeros(n, dtype=x.dtype, device=x.device)
    padded[: k.numel()] = k.to(x)
    padded = torch.roll(padded, -(k.numel() // 2))
    shape = [1] * x.ndim
    shape[dim] = n // 2 + 1
    spectrum = torch.fft.rfft(padded).reshape(shape)
    return torch.fft.irfft(torch.fft.rfft(x, dim=dim) * spectrum, n=n, dim=dim)


def _tap_system(z: Tensor, y: Tensor, taps: int, dim: int) -> tuple[Tensor, Tensor]:
    """``Z Z^T`` and ``Z y`` for ``Z`` the ``taps`` circular shifts of ``z`` along ``dim`` (tap ``t`` shifted by
    ``t - c``): the autocorrelation of ``z`` at the lag differences and the cross-correlation of ``y`` and ``z``."""
    n = z.shape[dim]
    fz, fy = torch.fft.rfft(z, dim=dim), torch.fft.rfft(y, dim=dim)
    others = [d for d in range(z.ndim) if d != dim % z.ndim]
    auto = torch.fft.irfft((fz.abs() ** 2).sum(others), n=n)  # sum_i z[i] z[i - d]
    cross = torch.fft.irfft((fy * fz.conj()).sum(others), n=n)  # sum_i y[i] z[i - s]
    lags = torch.arange(taps, device=z.device) - taps // 2
    return auto[(lags[None] - lags[:, None]) % n], cross[lags % n]


def _valid_taps(z: Tensor, taps: int, dim: int) -> Tensor:
    """The ``taps`` windows of ``z`` along ``dim`` that a valid 1-D convolution weighs: tap ``t`` reads
    ``z[i + taps - 1 - t]`` for output ``i`` (stacked first)."""
    n = z.shape[dim] - taps + 1
    return torch.stack([z.narrow(dim, taps - 1 - t, n) for t in range(taps)])


def _blur_1d_valid(x: Tensor, k: Tensor, dim: int) -> Tensor:
    """The valid 1-D convolution along ``dim`` (shorter by ``len(k) - 1``): ``out[i] = sum_t k[t] x[i + L - 1 - t]``."""
    windows = _valid_taps(x, k.numel(), dim)
    return torch.tensordot(k.to(x), windows, dims=1)


def _valid_tap_system(z: Tensor, y: Tensor, taps: int, dim: int) -> tuple[Tensor, Tensor]:
    """``Z Z^T`` and ``Z y`` for ``Z`` the ``taps`` windows of ``z`` along ``dim`` (:func:`_valid_taps`): the valid
    convolution's least squares, exact (no boundary enters)."""
    zs = _valid_taps(z, taps, dim).reshape(taps, -1)
    return zs @ zs.T, zs @ y.reshape(-1)


def _gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """The first differences of ``x`` along columns and rows (valid: one shorter along their axis)."""
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def _valid_gradient_system(z: Tensor, y: Tensor, taps: int, dim: int) -> tuple[Tensor, Tensor]:
    """:func:`_valid_tap_system` on the two first differences of ``z`` and ``y`` (summed): the same kernel maps the
    image's gradients to the measurement's (differences commute with the blur), and the fit weighs edges, not the
    flat and slowly varying parts, where the estimate ``z`` is least like the scene (Cho & Lee 2009, Levin et al.
    2011 estimate kernels on gradients)."""
    systems = [_valid_tap_system(gz, gy, taps, dim) for gz, gy in zip(_gradients(z), _gradients(y))]
    return systems[0][0] + systems[1][0], systems[0][1] + systems[1][1]


def estimate_separable(
    x: Tensor,
    y: Tensor,
    a: Tensor,
    b: Tensor,
    *,
    alternations: int = 3,
    lam: float = 1e-3,
    smooth: float = 0.0,
    boundary: str = "circular",
    gradients: bool | None = None,
    unimodal: bool = False,
) -> tuple[Tensor, Tensor]:
    """Rank-one kernel ``a b^T`` (odd lengths, on the simplex) fitting ``y ~ (a b^T) (*) x`` by alternating
    regularised least squares, started from ``(a, b)``; ``lam`` relative to the mean diagonal of each system.
    ``x`` and ``y`` are (C, H, W) or (B, C, H, W) images of one scene (a batch shares the kernel); ``smooth``
    weighs first differences of each factor, also relative to the mean diagonal. ``boundary="valid"``: ``y`` is the
    valid part of the blur of ``x`` (smaller by ``len(a) - 1`` rows and ``len(b) - 1`` columns), fitted exactly, by
    default on the images' gradients (``gradients``; the intensities with ``False``). ``unimodal``: each factor rises
    to one peak among its central five taps and falls after it (:func:`_unimodal_quadratic`)."""
    if gradients is None:
        gradients = boundary == "valid"
    if gradients and boundary != "valid":
        raise ValueError("the gradient fit is implemented for the valid boundary")
    if boundary == "valid":  # a constant c in x is c in y: both shifted by y's channel means
        mean = y.double().mean((-2, -1), keepdim=True)
        x, y = x.double() - mean, y.double() - mean
        blur, system = _blur_1d_valid, _valid_gradient_system if gradients else _valid_tap_system
    else:  # circular: a kernel summing to one maps each channel's mean to itself
        x, y = _centred(x), _centred(y)
        blur, system = _blur_1d, _tap_system
    a, b = a.double().to(x.device), b.double().to(x.device)
    solve = _unimodal_quadratic if unimodal else _simplex_quadratic
    for _ in range(alternations):
        gram, rhs = system(blur(x, b, -1), y, a.numel(), -2)
        a = solve(gram, rhs, _regulariser(gram, (a.numel(),), lam, smooth))
        gram, rhs = system(blur(x, a, -2), y, b.numel(), -1)
        b = solve(gram, rhs, _regulariser(gram, (b.numel(),), lam, smooth))
    return a, b


def recentre(k: Tensor) -> Tensor:
    """Shift a kernel (1-D or 2-D) by whole taps so that its centre of mass lies within half a tap of the middle
    (taps shifted out are dropped, the rest renormalised): blind estimates can drift together with the image, and
    the shift is not identifiable from ``y``."""
    out = k
    for dim in range(k.ndim):
        n = k.shape[dim]
        shift = -round(_mass_centre(out, dim))
        if shift:
            out = torch.roll(out, shift, dims=dim)
            idx = torch.arange(n, device=k.device)
            dropped = (idx < shift) if shift > 0 else (idx >= n + shift)
            out = out.masked_fill(dropped.reshape([-1 if d == dim else 1 for d in range(k.ndim)]), 0)
    return out / out.sum()


def kernel_offset(k: Tensor) -> tuple[float, float]:
    """The centre of mass of a 2-D kernel (odd sides) relative to its middle tap, rows then columns, in taps: what
    :func:`recentre` leaves (up to half a tap each). An image restored with it sits that far from the photo, towards
    lower indices, against one restored with the same kernel centred (blind deblurring cannot tell them apart)."""
    return _mass_centre(k.double(), 0), _mass_centre(k.double(), 1)


def _mass_centre(k: Tensor, dim: int) -> float:
    """The centre of mass of kernel ``k`` (odd sides) along ``dim`` relative to its middle tap, in taps."""
    marginal = k.sum([d for d in range(k.ndim) if d != dim]) if k.ndim > 1 else k
    pos = torch.arange(marginal.numel(), dtype=marginal.dtype, device=k.device) - marginal.numel() // 2
    return float((marginal * pos).sum() / marginal.sum())


def move_image(x: Tensor, rows: float, cols: float) -> Tensor:
    """``x`` (..., H, W) moved by ``rows`` and ``cols`` pixels (fractions; towards higher indices for positive ones) by
    the Fourier shift theorem, on its mirror extension (2H x 2W: periodic without a jump at the borders, only a kink,
    which rings a little a few pixels in), cropped back: sharp, where an interpolation between neighbours blurs by up
    to a quarter of a pixel's variance."""
    h, w = x.shape[-2:]
    mirrored = torch.cat([x, x.flip(-2)], -2)
    mirrored = torch.cat([mirrored, mirrored.flip(-1)], -1).double()
    fy = torch.fft.fftfreq(2 * h, dtype=torch.float64, device=x.device)[:, None]
    fx = torch.fft.fftfreq(2 * w, dtype=torch.float64, device=x.device)[None]
    ramp = torch.exp(-2j * math.pi * (fy * rows + fx * cols))
    return torch.fft.ifft2(torch.fft.fft2(mirrored) * ramp).real[..., :h, :w].to(x.dtype)


def _centred(x: Tensor) -> Tensor:
    x = x.double()
    return x - x.mean((-2, -1), keepdim=True)


def _valid_full_system(z: Tensor, y: Tensor, kh: int, kw: int) -> tuple[Tensor, Tensor]:
    """``Z Z^T`` and ``Z y`` for ``Z`` the ``kh kw`` windows of ``z`` (C, H, W) that the valid 2-D convolution weighs
    (tap ``(a, b)`` reads ``z[i + kh - 1 - a, j + kw - 1 - b]`` for output ``(i, j)``), exactly, without forming
    ``Z``: ``Z y`` is the correlation of ``z`` with ``y`` (one convolution); each Gram entry is a window sum of the
    product of ``z`` with a shift of itself, read from that product's integral image: ``(2 kh - 1)(2 kw - 1)``
    products of the image's size where ``Z Z^T`` costs ``(kh kw)^2`` per output pixel."""
    z, y = z.reshape(-1, *z.shape[-2:]), y.reshape(-1, *y.shape[-2:])
    h, w = z.shape[-2:]
    n0, n1 = h - kh + 1, w - kw + 1
    rhs = torch.nn.functional.conv2d(z[None], y[None])[0, 0]  # [p, q] = sum_i z[i + (p, q)] y[i]
    shifted = torch.nn.functional.pad(z, (kw - 1, kw - 1)).unfold(-1, w, 1)  # [.., r, j, u] = z[r, u + j - kw + 1]
    top, left = torch.arange(kh, device=z.device)[:, None], torch.arange(kw, device=z.device)[None, :]
    table = z.new_zeros(2 * kh - 1, 2 * kw - 1, kh, kw)  # [dy, dx, window start]: sum over the window of z z(+d)
    for dy in range(-(kh - 1), kh):
        rows = slice(max(0, -dy), min(h, h - dy))
        prod = z.new_zeros(2 * kw - 1, h + 1, w + 1)
        prod[:, 1 + rows.start : 1 + rows.stop, 1:] = (
            (z[:, rows, None, :] * shifted[:, rows.start + dy : rows.stop + dy]).sum(0).transpose(0, 1)
        )
        cum = prod.cumsum(1).cumsum(2)  # integral images, one per column lag
        table[dy + kh - 1] = (
            cum[:, top + n0, left + n1] - cum[:, top, left + n1] - cum[:, top + n0, left] + cum[:, top, left]
        )
    taps = torch.arange(kh * kw, device=z.device)
    ta, tb = taps // kw, taps % kw
    # G[t, s] = sum_i z[i + o_t] z[i + o_s], o_t = (kh - 1 - a, kw - 1 - b): the window at o_t, lag o_s - o_t
    gram = table[
        (ta[:, None] - ta[None]) + kh - 1, (tb[:, None] - tb[None]) + kw - 1, kh - 1 - ta[:, None], kw - 1 - tb[:, None]
    ]
    return gram, rhs[kh - 1 - ta, kw - 1 - tb]


def estimate_full(
    x: Tensor,
    y: Tensor,
    k: Tensor | int,
    *,
    lam: float = 1e-3,
    smooth: float = 0.0,
    boundary: str = "circular",
) -> Tensor:
    """A full 2-D kernel (odd sides, on the simplex) fitting ``y ~ k (*) x``: the least-squares problem over its
    ``kh kw`` taps, ``(G + lam I) k = r`` with ``G`` the autocorrelation of ``x`` at the taps' lag differences and
    ``r`` the cross-correlation of ``y`` and ``x`` (both by FFT), solved on the simplex. ``k`` is the current kernel
    (only its shape is used: the solve is direct) or its side; ``lam`` is relative to ``G``'s mean diagonal, as is
    ``smooth`` (first differences of the kernel). ``boundary="valid"``: ``y`` is the valid part of the blur of ``x``
    (smaller by ``kh - 1`` rows and ``kw - 1`` columns), fitted on both images' first differences as
    :func:`estimate_separable` does."""
    kh, kw = (k, k) if isinstance(k, int) else tuple(k.shape)
    if boundary == "valid":
        x, y = x.double(), y.double()
        gram, rhs = 0, 0
        for gx, gy in zip(_gradients(x), _gradients(y)):
            g, r = _valid_full_system(gx, gy, kh, kw)
            gram, rhs = gram + g, rhs + r
        return _simplex_quadratic(gram, rhs, _regulariser(gram, (kh, kw), lam, smooth)).reshape(kh, kw)
    x, y = _centred(x), _centred(y)
    h, w = x.shape[-2:]
    fx, fy = torch.fft.rfft2(x), torch.fft.rfft2(y)
    auto = torch.fft.irfft2((fx.abs() ** 2).reshape(-1, *fx.shape[-2:]).sum(0), s=(h, w))  # sum_i x[i] x[i - d]
    cross = torch.fft.irfft2((fy * fx.conj()).reshape(-1, *fx.shape[-2:]).sum(0), s=(h, w))  # sum_i y[i] x[i - s]
    dy, dx = torch.meshgrid(torch.arange(kh) - kh // 2, torch.arange(kw) - kw // 2, indexing="ij")
    dy, dx = dy.flatten().to(x.device), dx.flatten().to(x.device)
    gram = auto[(dy[None] - dy[:, None]) % h, (dx[None] - dx[:, None]) % w]
    rhs = cross[dy % h, dx % w]
    return _simplex_quadratic(gram, rhs, _regulariser(gram, (kh, kw), lam, smooth)).reshape(kh, kw)


def gaussian_kernel(size: int, std: float | None = None) -> Tensor:
    """A normalised 1-D Gaussian of ``size`` (odd) taps, std ``size / 6`` by default: the starting guess
    (:func:`ddrm.tasks.blind_start_kernel`)."""
    return blind_start_kernel(size) if std is None else gaussian_kernel_1d(std, size // 2)


def kernel_error(estimate: Tensor, truth: Tensor) -> float:
    """Relative L2 error of a kernel after centring both on a common support (no shift search: both are centred)."""
    size = (max(estimate.shape[0], truth.shape[0]), max(estimate.shape[1], truth.shape[1]))

    def embed(k: Tensor) -> Tensor:
        out = torch.zeros(size, dtype=torch.float64)
        top, left = (size[0] - k.shape[0]) // 2, (size[1] - k.shape[1]) // 2
        out[top : top + k.shape[0], left : left + k.shape[1]] = k.double().cpu()
        return out

    e, t = embed(estimate), embed(truth)
    return float((e - t).norm() / t.norm())


class KernelEstimator:
    """Re-estimates the blur of one measurement during sampling: pass it as a solver's ``operator_update``.

    ``y01`` (1, C, H, W) in [0, 1]; ``size`` odd; ``model`` ``separable`` or ``full``; ``boundary`` ``circular``,
    or ``valid`` (a photo's blur, the image larger than ``y01`` by ``size - 1``; for a full kernel the operator is
    a :class:`~ddrm.operators.ValidPart`, without an SVD: DiffPIR, not DDRM); ``start_kernel``
    the first guess (the factors ``(a, b)`` of a separable kernel, or a 2-D one), else a Gaussian of std size / 6. Updates run at every step from
    ``start`` of the steps on (before that the solver works with the initial Gaussian guess), each with
    ``alternations`` ALS rounds (separable) or one direct solve (full). ``lam`` (ridge) and ``smooth`` (first
    differences) regularise each solve, relative to its Gram matrix's mean diagonal; the estimate is re-centred
    (:func:`recentre`) after each update. The denoiser's ``x0`` is a posterior mean, smoother than the image while
    ``x_t`` is noisy: unregularised, the fitted kernel comes out too narrow and jagged and the chain then follows it
    (see the tests' figures). ``unimodal`` (separable): each factor held to one peak (:func:`estimate_separable`);
    not the default: chosen on the training photos of ``../shared/DATA.md``, it fell further below the blurry photo
    and the true kernel on the held-out ones (``docs/benchmarks.md``, "Factors held to one peak")."""

    def __init__(
        self,
        y01: Tensor,
        size: int,
        model: str = "separable",
        *,
        start: float = 0.3,
        alternations: int = 3,
        lam: float = 1e-3,
        smooth: float | None = None,
        boundary: str = "circular",
        start_kernel: Tensor | tuple[Tensor, Tensor] | None = None,
        unimodal: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        if model not in KERNEL_MODELS:
            raise TaskError(f"unknown kernel model {model!r}; choose from {', '.join(KERNEL_MODELS)}")
        if boundary not in ESTIMATOR_BOUNDARIES:
            raise TaskError(f"the kernel is estimated with a {' or '.join(ESTIMATOR_BOUNDARIES)} boundary, "
                            f"got {boundary!r}")  # fmt: skip
        _, _, h, w = y01.shape
        if size < 3 or size % 2 == 0 or size > min(h, w):
            raise TaskError(f"the kernel size must be odd and in [3, {min(h, w)}] for this image, got {size}")
        if not 0 <= start < 1:
            raise ValueError(f"start must lie in [0, 1), got {start}")
        self.y01, self.size, self.model, self.start = y01, size, model, start
        if smooth is None:  # first-difference smoothing, relative to the Gram diagonal: more taps need more
            smooth = SMOOTH_GRADIENT if boundary == "valid" else SMOOTH[model]
        self.alternations, self.lam, self.smooth, self.dtype = alternations, lam, smooth, dtype
        self.boundary = boundary
        self.unimodal = unimodal
        g = gaussian_kernel(size)
        self.a, self.b = g.clone(), g.clone()
        self.k = torch.outer(g, g)
        if start_kernel is not None:  # e.g. the estimate of a coarser scale (:func:`restore_blind`'s pyramid)
            if model == "separable":
                self.a, self.b = (f.double().cpu() for f in start_kernel)
            else:
                self.k = start_kernel.double().cpu()
        self.updates = 0

    @property
    def kernel(self) -> Tensor:
        """The current 2-D kernel estimate (sums to one)."""
        return torch.outer(self.a, self.b) if self.model == "separable" else self.k

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The restored image's shape: the measurement's, larger by ``size - 1`` with a valid boundary."""
        c, h, w = self.y01.shape[1:]
        grow = self.size - 1 if self.boundary == "valid" else 0
        return (c, h + grow, w + grow)

    def operator(self, narrow: float = 1.0) -> LinearOperator:
        """The blur of the current kernel for the image shape: an exact SVD (separable, or circular), or a full
        kernel's valid part (conjugate gradients); ``narrow`` < 1: of the kernel narrowed by that factor
        (:func:`scale_kernel`; each factor of a separable one)."""
        shape = self.image_shape
        if self.model == "separable":
            a, b = scale_kernel(self.a, narrow), scale_kernel(self.b, narrow)
            return separable_blur(shape, a, b, dtype=self.dtype, boundary=self.boundary).to(self.y01.device)
        blur = CircularConvolution(shape, scale_kernel(self.k, narrow), dtype=self.dtype).to(self.y01.device)
        return ValidPart(blur, valid_margins(tuple(self.k.shape))) if self.boundary == "valid" else blur

    def update(self, x01: Tensor) -> None:
        """One estimation step from an image estimate ``x01`` (1, C, H, W) in [0, 1]."""
        if self.model == "separable":
            a, b = estimate_separable(x01, self.y01, self.a, self.b, alternations=self.alternations, lam=self.lam,
                                      smooth=self.smooth, boundary=self.boundary, unimodal=self.unimodal)  # fmt: skip
            self.a, self.b = recentre(a.cpu()), recentre(b.cpu())
        else:
            k = estimate_full(x01, self.y01, self.k, lam=self.lam, smooth=self.smooth, boundary=self.boundary)
            self.k = recentre(k.cpu())
        self.updates += 1

    def __call__(self, info: Any, operator: Any) -> SVDOperator | None:
        """The ``operator_update`` hook: ``info`` is the solver's :class:`~ddrm.samplers.common.StepInfo`."""
        if info.index < math.ceil(self.start * info.steps):
            return None
        self.update(((info.x0 + 1) / 2).clamp(0, 1))
        return self.operator().to(info.x0.dtype)


def unsized_shake_warning(params: dict[str, Any], given: dict[str, Any]) -> str | None:
    """One line when ``deblur_blind``'s full kernel (camera shake, ``params["model"] == "full"``) is estimated at the
    default size because the caller's own parameters ``given`` name none: a shake wider than the size is not held by
    it (a 31 px shake given 21 px: 2.16 dB below its own size's result on the held-out photos, worst 6.10), one
    smaller costs little or gains (a 9 px shake: 0.05 dB; a 15 px one gains 0.65; docs/benchmarks.md, "Camera shake:
    the kernel fitted again to its restoration"); ``None`` otherwise."""
    if params.get("model") != "full" or "size" in given:
        return None
    return (f"deblur_blind --kernel-model full estimates a {params['size']} px kernel (the default size): a camera "
            "shake wider than that comes out far below what its own size gives, a smaller one costs little; give "
            "the shake's extent (--kernel-size, or task_params size)")  # fmt: skip


def check_solver(solver: Any) -> None:
    """Refuse, in one line naming those that can, a solver that cannot take a new operator during sampling."""
    if not solver.updates_operator:
        takers = ", ".join(n for n, s in SAMPLERS.items() if s.updates_operator)
        raise SolverError(f"solver {solver.name} cannot re-estimate its operator; blind deblurring runs {takers}")


def _resample_kernel(k: Tensor, size: int | None, step: float) -> Tensor:
    """``k`` (1-D or 2-D, odd sides) read at ``size`` taps per side (``None``: as many as it has) spaced ``step`` of
    its own taps apart about its centre (linear interpolation, zero outside), on the simplex."""
    out = k.double()
    for dim in range(k.ndim):
        n = out.shape[dim]
        r = (n if size is None else size) // 2
        pos = torch.arange(-r, r + 1, dtype=torch.float64) * step + n // 2  # the new taps in k's coordinates
        lo = pos.floor().clamp(0, n - 1).long()
        frac = (pos - pos.floor()).reshape([-1 if d == dim else 1 for d in range(k.ndim)])
        inside = ((pos >= 0) & (pos <= n - 1)).reshape(frac.shape)
        a, b = out.index_select(dim, lo), out.index_select(dim, (lo + 1).clamp(max=n - 1))
        out = torch.where(inside, a * (1 - frac) + b * frac, torch.zeros((), dtype=torch.float64))
    out = out.clamp_min(0)
    return out / out.sum()


def upsample_kernel(k: Tensor, size: int) -> Tensor:
    """A kernel (1-D or 2-D, odd sides) estimated at half scale -> ``size`` taps per side at full scale: linear
    interpolation at half-tap positions about the centre, on the simplex."""
    return _resample_kernel(k, size, 0.5)


def scale_kernel(k: Tensor, factor: float) -> Tensor:
    """``k`` (1-D or 2-D, odd sides) with its spread along each axis scaled by ``factor`` > 0 about its centre: the
    same taps, reading ``k`` at ``1 / factor`` times each tap's offset (linear interpolation; widened, what falls
    beyond the taps is dropped), on the simplex; 1 returns ``k`` itself."""
    if not factor > 0:
        raise ValueError(f"the kernel's scale factor must be positive, got {factor}")
    return k if factor == 1 else _resample_kernel(k, None, 1 / factor).to(k.dtype)


PYRAMID_MIN_KERNEL = 5  # the coarsest scale's kernel side (Pan et al. stop near 5 px)
PYRAMIDS = ("auto", "l0", "chain")  # restore_blind's first guesses (None: the Gaussian guess alone)

# the classical first guess (:func:`l0_kernel`), set on the training photos of ../shared/DATA.md (never the held-out
# ones; docs/benchmarks.md, "A classical first guess"): the L0 weight at the start of each scale (image units
# squared, per pixel; Pan et al. 2014 start at 4e-3, 1e-2 kept fewer wide estimates) and its decay per iteration,
# the iterations per scale, the scale ratio, and the std of the near-delta guess at the coarsest scale (the
# narrower side of the alternation is the safe one: a kernel too wide is the costly error)
L0_WEIGHT, L0_DECAY, L0_WEIGHT_MIN = 1e-2, 1.1, 1e-4
L0_ITERATIONS, L0_RATIO, L0_FIRST_STD = 5, math.sqrt(0.5), 0.5
# each factor of the classical guess held to one peak (estimate_separable's ``unimodal``): fitted to the sharp L0
# image rather than to the chain's smooth estimate, the constraint brings the guess nearer the true kernel (training
# photos, 216 rows of 9-31 px, the guess alone: median kernel error 0.78 -> 0.63 for a 25 px Gaussian, 1.26 -> 1.00
# for a 15 px box, 2.07 -> 1.56 for a 31 px box; the restorations: docs/benchmarks.md, "The classical guess held to
# one peak")
L0_UNIMODAL = True
# the classical full kernel of a shake of at least L0_COARSE_RIDGE_FROM taps fitted with this ridge (estimate_full's
# ``lam``, relative to the Gram matrix's mean diagonal; the full scale keeps the default 1e-3) at the coarser scales of
# its pyramid, whose few pixels per tap let the kernel spread or collapse there. Chosen on the training photos of
# ../shared/DATA.md, where it cost under 9 and 15 px shakes; on the held-out photos under 21 and 31 px shakes the
# route's mean of 4 is +3.05 dB over the blurry photo instead of +1.54, below it in 4 of 24 instead of 7
# (docs/benchmarks.md, "A ridge at the coarse scales of a large shake")
L0_COARSE_RIDGE, L0_COARSE_RIDGE_FROM = 1.0, 21
# each classical full kernel cleaned as Pan et al. (2014) clean theirs after every kernel fit (Cho & Lee 2009 before
# them): entries under L0_CLEANUP_FLOOR of its largest set to zero, then the 8-connected pieces holding under
# L0_CLEANUP_PIECE of its mass dropped. Their published values, not tuned here; on the training photos of
# ../shared/DATA.md (the route's mean of 4, each shake at its own size, sigma_y 0.01) the two deep losses under a 9 px
# shake became gains (-4.45 -> +1.59 dB and -5.68 -> +0.21 against the blurry photo), 36 rows of 9-21 px shakes went
# from +2.03 to +2.44 dB over the blurry photo, below it in 5 instead of 8, and 12 rows of a 31 px shake from +1.48 to
# +1.92, below it in 2 instead of 4; on the held-out photos, 48 rows of 9-31 px shakes at sigma_y 0.01 and 0.02, from
# +2.83 to +3.06, below it in 3 instead of 5, 2.82 dB below the true kernel's mean of 4 instead of 3.04, and given the
# default 21 px under a 9 px shake below it in 0 of 6 instead of 5 (docs/benchmarks.md, "Pan et al.'s kernel cleanup")
L0_CLEANUP_FLOOR, L0_CLEANUP_PIECE = 0.05, 0.1
# a photo's full kernel (the held route) is estimated from the photo scaled up, where its contrast (the range between
# its L0_CONTRAST_PERCENTILES) is under L0_CONTRAST, to that contrast: the L0 image's threshold is on squared
# gradients in image units (l0_latent), so an under-exposed photo's weight is in effect larger by the square of its
# dimming, and its estimate collapsed to a near delta (the no-blur solution); a valid blur by a kernel on the simplex
# commutes with the scale, so the kernel sought is the same. A photo of that contrast or more is left as it is (the
# full stretch to [0, 1], tried at commit a181013, moved estimates on full-range held-out photos and was reverted).
# Chosen on the training photos of ../shared/DATA.md darkened to 0.3 of their exposure (sigma_y 0.01, shakes of 9-21
# px, the classical estimate alone): its mean kernel error from 0.97 to 0.69 (9 px), 2.49 to 1.56 (15 px), 3.44 to
# 2.51 (21 px); the photos as they are, 0.52 / 1.01 / 1.47 before, 0.52 / 0.99 / 1.48 after (it fired on 5 of those
# 36 rows). 0.4 and 0.6 did about as well (1.33 and 1.34 over the 72 rows against 0.3's 1.29, 1.65 without) and fire
# on more photos. On the held-out photos at 0.3 of their exposure (9-21 px, the route's mean of 4) it raised 13 of 18
# rows, +1.08 -> +1.17 dB over the blurry photo, none below it either way; no held-out photo at its own exposure is
# under it (docs/benchmarks.md, "Camera shake in an under-exposed photo")
L0_CONTRAST, L0_CONTRAST_PERCENTILES = 0.3, (0.01, 0.99)
# a photo's camera shake (the held full kernel) of at least this many taps is first estimated by total-variation blind
# deconvolution (Perrone & Favaro 2014: :func:`~ddrm.pipeline.tv_kernel.tv_kernel`, its published settings), smaller
# ones by the L0 estimate. On the training photos of ../shared/DATA.md (sigma_y 0.01, the estimate alone, 12 photos
# per shake; benchmarks/results/blind_shake_estimators_train.json) the TV estimate's mean kernel error was 0.80 against
# the L0 estimate's 0.99 under a 15 px shake, 0.80 against 1.48 under 21 px and 1.03 against 1.97 under 31 px (the L0
# estimate collapsed on the photos low in texture; the TV one did not), but 0.67 against 0.52 under a 9 px shake. On
# the held-out photos at sigma_y 0.01 the route over 9-31 px shakes went from 3.88 to 3.11 dB below the true kernel's
# mean of 4, none below the blurry photo either way (docs/benchmarks.md, "Camera shake: total-variation blind
# deconvolution")
TV_FROM = 15
# the chain's own updates after the classical first guess begin this far into the steps (KernelEstimator's start),
# where its x0 has become reliable (blind_fit_steps.json: a fit to x0 is 0.43 off at step 12 of 20, 0.24 at step 17);
# chosen on the training photos between 0.3 (the default without it) and 0.7
L0_START = 0.7
# a full kernel of a photo's blur (valid boundary) is the classical guess held, without the chain's updates, which move
# even the true kernel away from it (docs/benchmarks.md, "Camera shake with a full kernel"); its error then enters the
# image's run as measurement noise of this std ([0, 1] units, added in quadrature to sigma_y): a kernel that is 0.5 off
# restored as exact rings below the blurry photo. Chosen on the training photos of ../shared/DATA.md (camera shakes
# of 9-21 px, sigma_y 0.01 and 0.02; none for the separable model, whose chain refines its estimate)
KERNEL_NOISE = 0.05
# a shake of fewer than TV_FROM taps (its first guess the L0 estimate, the nearest the route makes) in a photo of
# noise up to SMALL_KERNEL_NOISE_UP_TO ([0, 1] units) takes half the allowance. Chosen again for the route's own
# estimates on the training photos (round 0 and the two refits at 0.05 and at 0.025): at sigma_y 0.01 half of it
# raised all 6 rows under the 9 px shake (+1.01 dB), none below the blurry photo either way, while under the 15-31 px
# shakes (the TV estimate) it lowered the mean by 0.10 dB and put 2 more of 18 rows below the blurry photo
# (benchmarks/results/blind_refit_route_train.json); at sigma_y 0.02 it lowered the 9 px rows by 0.68 dB and put one
# below the blurry photo (blind_refit_route_train_9px_sigma02.json), so a noisier photo keeps 0.05 (docs/benchmarks.md,
# "Camera shake: the allowance chosen again")
SMALL_KERNEL_NOISE, SMALL_KERNEL_NOISE_UP_TO = 0.025, 0.01
# the held estimate's image run takes this many steps unless told: the count KERNEL_NOISE was chosen at on the training
# photos and every blind table measures. DiffPIR's own 100 fit the measurement more closely under a kernel that is not
# the photo's, so the estimate's error costs more there (docs/benchmarks.md, "Camera shake: the full model as
# offered": on the held-out photos 0.34 dB below 20 steps on average)
HELD_STEPS = 20
# and its result is the mean of this many samples unless told (ddrm.pipeline.run_samples): the run's noise holds the
# kernel's error, hypot(sigma_y, KERNEL_NOISE), far above a photo's, so its samples disagree on much more than a known
# blur's and their mean drops what each invents (docs/benchmarks.md, "Camera shake: the mean of several samples": on
# the held-out photos above one sample on all 36 rows, +0.77 dB, below the blurry photo in 4 of 36 instead of 6; on
# the training photos above it on all 36, below the blurry photo in 7 instead of 14)
HELD_SAMPLES = 4


def _difference_spectra(h: int, w: int, dtype: torch.dtype, device) -> tuple[Tensor, Tensor]:  # noqa: ANN001
    """The 2-D DFTs of the circular forward differences along columns and rows (``x[i + 1] - x[i]``)."""
    dx = torch.zeros(h, w, dtype=dtype, device=device)
    dy = torch.zeros(h, w, dtype=dtype, device=device)
    dx[0, 0] = dy[0, 0] = -1
    dx[0, -1] = dy[-1, 0] = 1
    return torch.fft.fft2(dx), torch.fft.fft2(dy)


def _kernel_spectrum(k: Tensor, h: int, w: int) -> Tensor:
    """The 2-D DFT of kernel ``k`` (odd sides) centred at the origin of an ``h x w`` grid (a circular convolution)."""
    kh, kw = k.shape
    grid = torch.zeros(h, w, dtype=k.dtype, device=k.device)
    grid[:kh, :kw] = k
    return torch.fft.fft2(torch.roll(grid, (-(kh // 2), -(kw // 2)), (0, 1)))


def l0_latent(y: Tensor, k: Tensor, weight: float, *, beta_max: float = 1e5, kappa: float = 2.0) -> Tensor:
    """The latent image of Xu, Zheng & Jia's L0 deblurring (2013; Pan et al. 2014 estimate kernels with it):
    ``argmin_x ||k (*) x - y||^2 + weight ||grad x||_0`` (circular, ``y`` (C, H, W)) by half-quadratic splitting:
    the gradients kept where their squared norm (over channels and both axes) exceeds ``weight / beta``, the image
    then a closed-form FFT solve, ``beta`` from ``2 weight`` up by ``kappa`` to ``beta_max``. Salient edges come out
    sharp and fine texture flat, with no ringing: the image a kernel fit can trust before any prior is sampled."""
    h, w = y.shape[-2:]
    kf = _kernel_spectrum(k.to(y), h, w)
    dxf, dyf = _difference_spectra(h, w, y.dtype, y.device)
    data = kf.conj() * torch.fft.fft2(y)
    blur_power, diff_power = kf.abs() ** 2, dxf.abs() ** 2 + dyf.abs() ** 2
    x, beta = y, 2 * weight
    while beta < beta_max:
        gx, gy = torch.roll(x, -1, -1) - x, torch.roll(x, -1, -2) - x
        keep = (gx**2 + gy**2).sum(-3, keepdim=True) >= weight / beta
        edges = dxf.conj() * torch.fft.fft2(gx * keep) + dyf.conj() * torch.fft.fft2(gy * keep)
        x = torch.fft.ifft2((data + beta * edges) / (blur_power + beta * diff_power)).real
        beta *= kappa
    return x


def _periodic_extension(y: Tensor, margin: int) -> Tensor:
    """``y`` (C, h, w) padded by ``margin`` (its edges repeated: the scene the valid blur saw) and then, along the
    bottom and the right, blended linearly back to its first row and column: an image whose circular blur and
    differences see no jump at the wrap (Liu & Jia 2008 extend a blurred image smoothly for the FFT likewise)."""
    ext = torch.nn.functional.pad(y[None], (margin,) * 4, mode="replicate")[0]
    m = max(8, 2 * margin)
    t = torch.arange(1, m + 1, dtype=y.dtype, device=y.device) / (m + 1)
    ext = torch.cat([ext, ext[:, -1:] * (1 - t[:, None]) + ext[:, :1] * t[:, None]], -2)
    return torch.cat([ext, ext[:, :, -1:] * (1 - t) + ext[:, :, :1] * t], -1)


def _pieces(mask: Tensor) -> Tensor:
    """The 8-connected pieces of a 2-D boolean ``mask``: each entry of a piece labelled by the largest of the piece's
    ``1 + flat index``, 0 off the mask (labels grown by 3x3 maxima until they settle)."""
    labels = torch.arange(1, mask.numel() + 1, dtype=torch.float64, device=mask.device).reshape(mask.shape) * mask
    while True:
        grown = torch.nn.functional.max_pool2d(labels[None, None], 3, stride=1, padding=1)[0, 0] * mask
        if torch.equal(grown, labels):
            return labels.long()
        labels = grown


def clean_kernel(k: Tensor, floor: float = L0_CLEANUP_FLOOR, piece: float = L0_CLEANUP_PIECE) -> Tensor:
    """A 2-D kernel with its small entries and its small pieces removed, as Pan et al. (2014) clean each kernel
    estimate: entries under ``floor`` times the largest set to zero, then every 8-connected piece of what is left
    that holds under ``piece`` of the whole kernel's mass (the heaviest piece always kept), renormalised to sum 1.
    ``k`` is not modified."""
    whole = k.sum()
    k = torch.where(k >= floor * k.max(), k, torch.zeros_like(k))
    labels = _pieces(k > 0)
    # each piece's mass by its label (label 0, the zeroed entries, gathers nothing)
    mass = torch.zeros(k.numel() + 1, dtype=k.dtype, device=k.device).index_add_(0, labels.flatten(), k.flatten())
    keep = (mass[labels] >= piece * whole) | (labels == mass.argmax())
    k = k * keep
    return k / k.sum()


def contrast(y01: Tensor) -> float:
    """The contrast of ``y01``: the range between its :data:`L0_CONTRAST_PERCENTILES` over all its values (order
    statistics, for an image of any size)."""
    values = y01.detach().flatten()
    lo, hi = (values.kthvalue(max(1, math.ceil(q * values.numel()))).values for q in L0_CONTRAST_PERCENTILES)
    return float(hi - lo)


def raise_contrast(y01: Tensor, floor: float = L0_CONTRAST) -> Tensor:
    """``y01`` scaled up to the contrast ``floor`` where its :func:`contrast` is under it (and not nil), else
    ``y01`` itself: a scale, under which a valid blur's kernel on the simplex is unchanged. Not modified in place."""
    spread = contrast(y01)
    return y01 * (floor / spread) if 0 < spread < floor else y01


def l0_kernel(
    y01: Tensor,
    size: int,
    model: str = "separable",
    *,
    boundary: str = "valid",
    min_contrast: float | None = None,
    start: Tensor | tuple[Tensor, Tensor] | None = None,
    weight: float = L0_WEIGHT,
    iterations: int = L0_ITERATIONS,
) -> Tensor | tuple[Tensor, Tensor]:
    """A blur kernel of ``size`` taps estimated from ``y01`` (1, C, H, W) alone, coarse to fine without a diffusion
    prior (Pan et al. 2014's scheme with Xu et al. 2013's gradient L0 image): at each scale of a pyramid of ratio
    :data:`L0_RATIO` down to a :data:`PYRAMID_MIN_KERNEL`-tap kernel, :data:`L0_ITERATIONS` alternations of the L0
    latent image (:func:`l0_latent`, its weight decaying) and the kernel fitted to it as the in-chain updates fit
    it (:func:`estimate_separable` or :func:`estimate_full`: on gradients with a valid boundary, on the simplex), the
    kernel then resampled to the next scale (a full kernel of :data:`L0_COARSE_RIDGE_FROM` taps or more fitted with
    the ridge :data:`L0_COARSE_RIDGE` below the full scale, and each full fit cleaned by :func:`clean_kernel`). The
    coarsest starts from a near delta. ``min_contrast``: estimated from ``y01`` scaled up to that contrast where its
    own is lower (:func:`raise_contrast`; the held route's full kernel, :data:`L0_CONTRAST`). Returns the factors
    ``(a, b)`` (separable, float64) or the 2-D kernel: :func:`restore_blind`'s first guess (``pyramid="l0"``).

    ``weight`` (the L0 weight at the start of each scale) and ``iterations`` (the alternations per scale) default to
    :data:`L0_WEIGHT` and :data:`L0_ITERATIONS`. ``start``: the alternation at the full scale alone, from that kernel
    (the factors ``(a, b)`` of a separable one) instead of the pyramid's: with the true kernel, whether the estimate
    would stay there (``docs/benchmarks.md``, "Where the classical estimate's error comes from")."""
    if model not in KERNEL_MODELS:
        raise TaskError(f"unknown kernel model {model!r}; choose from {', '.join(KERNEL_MODELS)}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"the alternations per scale must be an integer >= 1, got {iterations!r}")
    if not weight > 0:  # (l0_latent's continuation starts at twice the weight: at zero it would never end)
        raise ValueError(f"the L0 weight must be positive, got {weight}")
    if start is not None:
        shapes = [tuple(f.shape) for f in start] if model == "separable" else [tuple(start.shape)]
        if any(shape != ((size,) if model == "separable" else (size, size)) for shape in shapes):
            raise ValueError(f"the start kernel must have {size} taps per side, got the shapes {shapes}")
    y = (y01 if min_contrast is None else raise_contrast(y01, min_contrast))[0].double()
    levels = max(0, math.floor(math.log(PYRAMID_MIN_KERNEL / size) / math.log(L0_RATIO))) if start is None else 0
    smooth = SMOOTH_GRADIENT if boundary == "valid" else SMOOTH[model]  # as KernelEstimator fits
    a = b = k = None
    for level in range(levels, -1, -1):
        scale = L0_RATIO**level
        n = size if level == 0 else max(3, round(size * scale) | 1)
        ys = y
        if level:
            shape = (max(8, round(y.shape[-2] * scale)), max(8, round(y.shape[-1] * scale)))
            ys = torch.nn.functional.interpolate(y[None], size=shape, mode="bilinear", antialias=True)[0]
        if start is not None:
            a, b = (f.double().cpu() for f in start) if model == "separable" else (None, None)
            k = start.double().cpu() if model == "full" else None
        elif a is None and k is None:
            a = b = gaussian_kernel(n, L0_FIRST_STD).double()
            k = torch.outer(a, b)
        elif model == "separable":
            a, b = (_resample_kernel(f, n, L0_RATIO) for f in (a, b))
        else:
            k = _resample_kernel(k, n, L0_RATIO)
        if boundary == "valid":
            extended, grow = _periodic_extension(ys, n // 2), n - 1
        else:
            extended, grow = ys, 0
        w = weight
        for _ in range(iterations):
            kernel = torch.outer(a, b) if model == "separable" else k
            x = l0_latent(extended, kernel, w)[:, : ys.shape[-2] + grow, : ys.shape[-1] + grow]
            if model == "separable":
                a, b = estimate_separable(x, ys, a, b, smooth=smooth, boundary=boundary, unimodal=L0_UNIMODAL)
                a, b = recentre(a.cpu()), recentre(b.cpu())  # the kernel's bookkeeping on the CPU, as the estimator's
            else:
                ridge = {"lam": L0_COARSE_RIDGE} if level and size >= L0_COARSE_RIDGE_FROM else {}
                k = recentre(clean_kernel(estimate_full(x, ys, k, smooth=smooth, boundary=boundary, **ridge).cpu()))
            w = max(w / L0_DECAY, L0_WEIGHT_MIN)
    return (a, b) if model == "separable" else k


def _coarse_start(prior, solver, y01, sigma_y, size, model, solver_args, generator, estimator_args):  # noqa: ANN001
    """The kernel of the scale below (the measurement averaged over 2x2 blocks, its noise halved, the kernel half as
    wide), itself estimated coarse to fine, upsampled as the first guess; ``None`` where the scale would be too small
    (a kernel under :data:`PYRAMID_MIN_KERNEL` taps, or an image under four kernels wide)."""
    coarse = (size // 2) | 1
    if coarse < PYRAMID_MIN_KERNEL or min(y01.shape[-2:]) // 2 < 4 * coarse:
        return None
    y2 = torch.nn.functional.avg_pool2d(y01, 2)
    _, k = restore_blind(prior, solver, y2, sigma_y / 2, coarse, model, solver_args=solver_args, generator=generator,
                         pyramid="chain", **estimator_args)  # fmt: skip
    if model == "separable":  # the factors: the kernel is their outer product
        a, b = k.sum(1), k.sum(0)
        return upsample_kernel(a / a.sum(), size), upsample_kernel(b / b.sum(), size)
    return upsample_kernel(k, size)


def _copy_generators(generator: Any) -> Any:
    """Generators in the state of ``generator`` (one, a list of them, or ``None``), drawing the same numbers."""
    if generator is None:
        return None
    gens = list(generator) if isinstance(generator, (list, tuple)) else [generator]
    out = []
    for g in gens:
        c = torch.Generator(device=g.device)
        c.set_state(g.get_state())
        out.append(c)
    return out if isinstance(generator, (list, tuple)) else out[0]


def restore_blind(
    prior: Any,
    solver: Any,
    y01: Tensor,
    sigma_y: float,
    size: int,
    model: str = "separable",
    *,
    solver_args: dict[str, Any] | None = None,
    generator: torch.Generator | None = None,
    progress_bar: bool = False,
    pyramid: str | bool | None = "auto",
    narrow: float | None = None,
    draws: int = 1,
    samples: int = 1,
    refine: bool | None = None,
    kernel_noise: float | None = None,
    refits: int | None = None,
    **estimator_args: Any,
) -> tuple[Tensor, Tensor]:
    """Blind deblurring of one measurement ``y01`` (1, C, H, W) in [0, 1] with noise ``sigma_y`` ([0, 1] units):
    ``solver`` (a :class:`~ddrm.samplers.SamplerSpec` that takes ``operator_update``: DDRM, DiffPIR) runs with a
    :class:`KernelEstimator`; returns the restored image (1, C, H, W; ``samples`` of them) in [0, 1] (larger than
    ``y01`` by ``size - 1`` with ``boundary="valid"`` among ``estimator_args``) and the kernel (size, size).

    ``pyramid``: the first guess, estimated coarse to fine as the classical blind methods do (Fergus et al. 2006, Pan
    et al. 2014), so the chain at full scale starts near the blur it refines: ``"l0"`` the classical estimate of
    :func:`l0_kernel` (no diffusion chain; the L0 latent image is reliable from the start, where the chain's early
    estimates pull the kernel wide: ``docs/benchmarks.md``), ``"chain"`` the kernel of the scale below estimated by
    this function itself (half scale, a diffusion chain per scale), ``None`` or ``False`` the Gaussian guess alone;
    ``"auto"`` (or ``True``): ``"l0"`` for a separable kernel with a valid boundary (a photo's blur, where it was
    measured), ``"chain"`` otherwise. After the classical guess the chain's own updates begin later
    (:data:`L0_START` unless ``start`` is given): the first guess holds while the chain's ``x0`` is unreliable.

    ``narrow`` in (0, 1]: the image comes from a second, non-blind run of ``solver`` (its noise drawn as the first
    run's) with the estimate narrowed by that factor (:func:`scale_kernel`; 1: the estimate itself), then moved by
    the fraction of a pixel the estimate's centre of mass lies off its middle tap (:func:`kernel_offset`,
    :func:`move_image`): a blur by a kernel centred on its mass keeps a photo in place, and a restoration should too
    (chosen on training photos: docs/benchmarks.md, "The image put back in place"); the kernel returned is the
    estimate. ``None``: the image is the estimating run's (the coarse scales' use; the
    ``deblur_blind`` task's default is 1). A blur
    taken too wide is restored with ringing that can fall far below the blurry photo, one taken too narrow only
    leaves some blur (``benchmarks/results/kernel_width.json``), so a narrower kernel gives up some gain where the
    estimate is right for safety where it is too wide.

    ``draws`` > 1: the whole estimation runs that many times, draw ``k`` from :func:`derived_generators` (draw 0 is
    ``generator`` itself, so one draw is the plain run), and the result is the draw :func:`pick_draw` keeps: the
    estimating chain can settle on a wrong kernel under one draw of its noise and not under another (the
    ``deblur_blind`` task's default is 2; the coarse scales run one).

    ``samples`` > 1 (with ``narrow``): the second run draws that many samples of the image with the kept draw's
    kernel (sample 0 the one-sample image, the others from :func:`sample_generators` of the draw's generators;
    the kernel is estimated once), returned stacked (samples, C, H, W): their mean is the posterior mean under the
    estimate, as ``ddrm.restore``'s ``samples`` gives for a known blur.

    ``refine``: whether the diffusion chain refines the first guess (the estimating run above). ``None``: it does,
    except for a full kernel with a valid boundary (camera shake in a photo), where the chain's updates move even the
    true kernel away: there the kernel is the classical estimate held (:func:`classical_estimate`, or ``start_kernel``), and
    the image one non-blind run with it (``narrow`` applies; ``draws`` > 1 is refused: the estimate has no noise to draw),
    of :data:`HELD_STEPS` steps unless ``solver_args`` give ``steps``.
    ``kernel_noise`` ([0, 1] units): the estimate's error taken as measurement noise in the image's run, whose noise
    level is ``hypot(sigma_y, kernel_noise)``; ``None``: :func:`held_allowance` for a held estimate, 0 for a refined
    one, whose image's run is the second (the estimating chain runs at ``sigma_y``; without ``narrow`` an allowance
    is refused).
    ``refits`` (a held full kernel): after its image's run the kernel is fitted again to the mean of the run's
    samples (:func:`estimate_full` with the estimator's regularisation), cleaned by :func:`clean_kernel`, and the
    image restored again with it under the same noise draws, that many times; the kernel returned is the last fit,
    the image its run. ``None``: :data:`HELD_REFITS` for a held full kernel, 0
    otherwise (a refined estimate is refitted by its chain; a nonzero count is refused there)."""
    check_solver(solver)
    if narrow is not None and not 0 < narrow <= 1:
        raise TaskError(f"the kernel's narrowing factor must lie in (0, 1], got {narrow}")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise TaskError(f"the number of kernel draws must be an integer >= 1, got {draws!r}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise TaskError(f"the number of samples must be an integer >= 1, got {samples!r}")
    if samples > 1 and narrow is None:
        raise TaskError("several samples are drawn by the second, non-blind run: give narrow (1: the estimate itself)")
    boundary = estimator_args.get("boundary", "circular")
    if refine is None:
        refine = not holds_estimate(model, boundary)
    if kernel_noise is None:
        kernel_noise = 0.0 if refine else held_allowance(size, sigma_y)
    if not kernel_noise >= 0:
        raise TaskError(f"the kernel's noise allowance must be >= 0, got {kernel_noise}")
    if refine and kernel_noise > 0 and narrow is None:  # the estimating run's noise is the photo's own
        raise TaskError("a refined estimate's noise allowance applies to the image's second run: give narrow (1: the "
                        "estimate itself)")  # fmt: skip
    if refits is None:
        refits = HELD_REFITS if not refine and model == "full" else 0
    if isinstance(refits, bool) or not isinstance(refits, int) or refits < 0:
        raise TaskError(f"the number of kernel refits must be an integer >= 0, got {refits!r}")
    if refits and (refine or model != "full"):
        raise TaskError("kernel refits apply to a held full kernel (a photo's camera shake); a refined estimate is "
                        "refitted by the chain itself")  # fmt: skip
    if not refine and draws > 1:  # (the task refuses them too: tasks/spec.py)
        raise TaskError("kernel draws do not apply to a held estimate (the classical kernel has no noise to draw); "
                        "give refine=True to refine it by the chain")  # fmt: skip
    sigma_image = math.hypot(sigma_y, kernel_noise)  # the image's run: the photo's noise and the allowance
    if not refine:
        return _restore_held(prior, solver, y01, sigma_image, size, model, solver_args, generator, progress_bar,
                             narrow, samples, refits, estimator_args)  # fmt: skip
    pyramid = _pyramid_kind(pyramid, model, boundary)
    if pyramid == "l0" and "start_kernel" not in estimator_args:  # the classical estimate: one for every draw
        start = l0_kernel(y01, size, model, boundary=boundary)
        estimator_args = {"start": L0_START, **estimator_args, "start_kernel": start}
    gens = [derived_generators(generator, k) for k in range(draws)]
    runs = [
        _restore_blind_once(
            prior,
            solver,
            y01,
            sigma_y,
            size,
            model,
            solver_args,
            g,
            progress_bar,
            pyramid,
            narrow,
            estimator_args,
            sigma_image,
        )  # fmt: skip
        for g in gens
    ]
    kept = pick_draw([run[:2] for run in runs], y01) if draws > 1 else 0
    x, k, operator = runs[kept]
    if samples > 1:  # the other samples under the kept draw's kernel, in one batch
        g = gens[kept]  # the kept draw's generators (one or a list); its sample 0 is the image above
        more = None if g is None else sample_generators(g if isinstance(g, (list, tuple)) else [g], samples)[1:]
        with torch.no_grad():
            rest = solver.run(prior, operator, (2 * y01 - 1).repeat_interleave(samples - 1, 0), 2 * sigma_image,
                              generator=more, progress_bar=progress_bar,
                              **_repeated(solver_args, samples - 1))  # fmt: skip
        x = torch.cat([x, ((rest + 1) / 2).clamp(0, 1)])
    if narrow is not None:  # the image put back in place: the estimate's centre may lie up to half a tap off
        x = move_image(x, *(narrow * d for d in kernel_offset(k))).clamp(0, 1)  # narrowed about the middle tap
    return x, k


def _restore_held(prior, solver, y01, sigma_run, size, model, solver_args, generator, progress_bar, narrow, samples,  # noqa: ANN001
                  refits, estimator_args) -> tuple[Tensor, Tensor]:  # fmt: skip
    """:func:`restore_blind` without refinement: the kernel the classical estimate (or ``start_kernel``), the image
    ``samples`` non-blind runs of ``solver`` with it (narrowed by ``narrow``) at noise ``sigma_run``, put back in
    place as the refined route's; :data:`HELD_STEPS` steps unless ``solver_args`` give them; then ``refits`` rounds
    of the kernel fitted to those samples and the runs made again with it."""
    solver_args = {**(solver_args or {})}
    if solver_args.get("steps") is None:
        solver_args["steps"] = HELD_STEPS
    args = dict(estimator_args)
    if args.get("start_kernel") is None:
        args["start_kernel"] = classical_estimate(y01, size, model, args.get("boundary", "circular"), progress_bar)
    estimator = KernelEstimator(y01, size, model, dtype=y01.dtype, **args)
    factor = 1.0 if narrow is None else narrow
    gens = None
    if generator is not None:
        gens = sample_generators(list(generator) if isinstance(generator, (list, tuple)) else [generator], samples)

    def restored() -> Tensor:  # the samples under the current kernel; every round draws the same noise
        with torch.no_grad():
            x = solver.run(prior, estimator.operator(factor), (2 * y01 - 1).repeat_interleave(samples, 0),
                           2 * sigma_run, generator=_copy_generators(gens), progress_bar=progress_bar,
                           **_repeated(solver_args, samples))  # fmt: skip
        return move_image(((x + 1) / 2).clamp(0, 1), *(factor * d for d in kernel_offset(estimator.kernel))).clamp(0, 1)

    x = restored()
    for _ in range(refits):  # (a full kernel) fitted to the samples' mean, cleaned as the classical guess's fits
        fit = estimate_full(x.mean(0, keepdim=True), y01, estimator.k, lam=estimator.lam, smooth=estimator.smooth,
                            boundary=estimator.boundary)  # fmt: skip
        estimator.k = recentre(clean_kernel(fit.cpu()))
        x = restored()
    return x, estimator.kernel


def held_allowance(size: int, sigma_y: float) -> float:
    """The allowance (``restore_blind``'s ``kernel_noise``, [0, 1] units) of a held estimate of ``size`` taps in a
    photo of noise ``sigma_y``: :data:`SMALL_KERNEL_NOISE` under :data:`TV_FROM` taps at ``sigma_y`` up to
    :data:`SMALL_KERNEL_NOISE_UP_TO`, else :data:`KERNEL_NOISE`."""
    return SMALL_KERNEL_NOISE if size < TV_FROM and sigma_y <= SMALL_KERNEL_NOISE_UP_TO else KERNEL_NOISE


def classical_estimate(
    y01: Tensor, size: int, model: str, boundary: str, progress_bar: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """The classical estimate the held route starts from (``restore_blind`` without refinement): a full kernel with a
    valid boundary (a photo's camera shake) of :data:`TV_FROM` taps or more by total-variation blind deconvolution
    (:func:`~ddrm.pipeline.tv_kernel.tv_kernel`), else :func:`l0_kernel`; a full kernel's from the photo with its
    contrast raised to :data:`L0_CONTRAST` (:func:`raise_contrast`: both estimators' weights are in image units).
    ``progress_bar``: the TV estimate's scales."""
    if model == "full" and boundary == "valid" and size >= TV_FROM:
        return recentre(tv_kernel(raise_contrast(y01, L0_CONTRAST), size, progress_bar=progress_bar))
    return l0_kernel(y01, size, model, boundary=boundary, min_contrast=L0_CONTRAST if model == "full" else None)


def _repeated(solver_args: dict[str, Any] | None, n: int) -> dict[str, Any]:
    """``solver_args`` for ``n`` samples of one image: a tensor among them (a start image, ``x_init``) repeated as the
    measurement is."""
    return {a: v.repeat_interleave(n, 0) if isinstance(v, Tensor) else v for a, v in (solver_args or {}).items()}


def _pyramid_kind(pyramid: str | bool | None, model: str, boundary: str) -> str | None:
    """``restore_blind``'s ``pyramid`` as ``"l0"``, ``"chain"`` or ``None`` (see there)."""
    if pyramid is False or pyramid is None:
        return None
    if pyramid is True or pyramid == "auto":
        return "l0" if model == "separable" and boundary == "valid" else "chain"
    if pyramid not in PYRAMIDS:
        raise TaskError(f"unknown pyramid {pyramid!r}; choose from {', '.join(PYRAMIDS)} (or None)")
    return pyramid


def derived_generators(generator: Any, k: int) -> Any:
    """Draw ``k``'s generators from ``generator`` (one, a list of them, or ``None``): ``generator`` itself for
    ``k = 0``, else each seeded by its own initial seed and ``k`` (the same for any batch: a per-image generator's
    seed)."""
    if generator is None or k == 0:
        return generator
    gens = list(generator) if isinstance(generator, (list, tuple)) else [generator]
    out = [torch.Generator(device=g.device).manual_seed((g.initial_seed() * 1_000_003 + k) % 2**63) for g in gens]
    return out if isinstance(generator, (list, tuple)) else out[0]


def sample_generators(generators: list[torch.Generator], samples: int) -> list[torch.Generator]:
    """One generator per sample of each image, image by image: sample 0 draws from the image's own generator (one
    sample is the plain restoration), sample ``k`` from one seeded by the image's seed and ``k``."""
    out = []
    for g in generators:
        out.append(g)
        out += [derived_generators(g, k) for k in range(1, samples)]
    return out


def pick_draw(runs: list[tuple[Tensor, Tensor]], y01: Tensor) -> int:
    """The draw to keep among ``runs`` (image in [0, 1], kernel): the one whose image departs least from the
    measurement ``y01`` (mean squared difference over the measurement's frame: the image's centre, a valid boundary's
    margins dropped). A chain settled on a wrong kernel rings far from the photo it saw. Chosen on the training
    photos of ``../shared/DATA.md`` among the data residual under the draw's own kernel, the narrower kernel, the
    images' gradient sparsity and the prior's denoising residual (120 rows, two draws; ``docs/benchmarks.md``)."""
    h, w = y01.shape[-2:]

    def departure(x: Tensor) -> float:
        top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
        return float((x[..., top : top + h, left : left + w] - y01).double().pow(2).mean())

    return min(range(len(runs)), key=lambda i: departure(runs[i][0]))


def _restore_blind_once(prior, solver, y01, sigma_y, size, model, solver_args, generator, progress_bar, pyramid,  # noqa: ANN001
                        narrow, estimator_args, sigma_image) -> tuple[Tensor, Tensor, LinearOperator | None]:  # fmt: skip
    """One draw of :func:`restore_blind`: the image in [0, 1], the kernel estimate and, with ``narrow``, the blur of
    the second run (the estimate narrowed; ``None`` without one), whose noise level is ``sigma_image``."""
    first_draws = _copy_generators(generator) if narrow is not None else None
    if pyramid == "chain" and "start_kernel" not in estimator_args:  # the scale below, by a diffusion chain
        start = _coarse_start(prior, solver, y01, sigma_y, size, model, solver_args, generator, estimator_args)
        estimator_args = {**estimator_args, "start_kernel": start}
    estimator = KernelEstimator(y01, size, model, dtype=y01.dtype, **estimator_args)
    with torch.no_grad():
        x = solver.run(
            prior,
            estimator.operator(),
            2 * y01 - 1,  # H 1 = 1 for every kernel on the simplex (circular or valid boundary)
            2 * sigma_y,
            generator=generator,
            operator_update=estimator,
            progress_bar=progress_bar,
            **(solver_args or {}),
        )
        operator = None if narrow is None else estimator.operator(narrow)
        if operator is not None:  # the estimate, narrowed, restores the image without further updates
            x = solver.run(prior, operator, 2 * y01 - 1, 2 * sigma_image, generator=first_draws,
                           progress_bar=progress_bar, **(solver_args or {}))  # fmt: skip
    return ((x + 1) / 2).clamp(0, 1), estimator.kernel, operator
