"""The three contracts of degradation operators, each a subclass of the one before (as deepinv's Physics >
LinearPhysics > DecomposablePhysics):

* :class:`Operator`: any degradation ``y = A(x)`` (JPEG): the forward map, a simulated measurement, and the conversion
  of a measurement of a [0, 1] image to the model's [-1, 1] range;
* :class:`LinearOperator`: ``H`` and ``H^T`` only, pseudo-inverse and prox by conjugate gradients;
* :class:`SVDOperator`: an implicit, full SVD, with the exact spectral formulas.

A linear degradation ``y = H x`` with ``H = U S V^T`` (DDRM, Kawar et al. 2022, Sec. 3.1) is described by
five methods. Images ``x`` have shape ``(B, C, H, W)``; ``n = C*H*W``. The *spectral* space has length
``n`` for both sides of the SVD:

* ``Vt(x) -> (B, n)`` and ``V(z) -> (B, C, H, W)``: an orthogonal ``n x n`` basis (null space included);
* ``singulars() -> (1 or B, n)``: ``s_i >= 0``, zero on the null space of ``H``;
* ``Ut(y) -> (B, n)`` and ``U(z) -> (B, *measurement_shape)``: ``U`` is orthogonal on the ``m``
  *measured* spectral coordinates; ``Ut`` writes zeros to the others and ``U`` ignores them.

Everything else (``H``, ``Ht``, ``pinv``, ``prox``) is derived here once, so no sampler ever needs to know
which task it is solving.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["Operator", "LinearOperator", "SVDOperator", "randn", "Generators", "conjugate_gradient"]


Generators = torch.Generator | Sequence[torch.Generator] | None


def randn(shape, *, generator: Generators, like: Tensor) -> Tensor:
    """Standard normal noise drawn from ``generator`` (on the generator's device), placed like ``like``.

    A sequence of generators draws each row of the batch from its own generator, so an image's result does
    not depend on which other images share its batch.
    """
    if generator is None:
        return torch.randn(shape, device=like.device, dtype=like.dtype)
    if isinstance(generator, torch.Generator):
        out = torch.randn(shape, generator=generator, device=generator.device, dtype=like.dtype)
        return out.to(like.device)
    if len(generator) != shape[0]:
        raise ValueError(f"got {len(generator)} generators for a batch of {shape[0]}")
    return torch.cat([randn((1, *shape[1:]), generator=g, like=like) for g in generator])


def conjugate_gradient(
    apply: Callable[[Tensor], Tensor], b: Tensor, x0: Tensor, *, iters: int = 300, tol: float = 1e-6
) -> Tensor:
    """Batched conjugate gradients for a symmetric positive (semi-)definite ``apply``, started at ``x0``; each batch
    item stops when its residual falls below ``tol`` times its right-hand side's norm (its updates are masked from
    then on), all stop after ``iters`` iterations. On a consistent singular system started in the range of ``apply``
    the iterates stay there, so they converge to the minimum-norm solution."""
    dims = tuple(range(1, b.ndim))
    x = x0.clone()
    r = b - apply(x)
    p = r.clone()
    rs = (r * r).sum(dims, keepdim=True)
    target = tol**2 * (b * b).sum(dims, keepdim=True).clamp_min(torch.finfo(b.dtype).tiny)
    for _ in range(iters):
        active = rs > target
        if not bool(active.any()):
            break
        ap = apply(p)
        curvature = (p * ap).sum(dims, keepdim=True)
        active = active & (curvature > 0)
        alpha = torch.where(active, rs / curvature.clamp_min(torch.finfo(b.dtype).tiny), torch.zeros_like(rs))
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = (r * r).sum(dims, keepdim=True)
        p = r + torch.where(active, rs_new / rs.clamp_min(torch.finfo(b.dtype).tiny), torch.zeros_like(rs)) * p
        rs = torch.where(active, rs_new, rs)
    return x


class Operator(nn.Module):
    """A degradation ``y = A(x)`` of images of shape ``input_shape`` (C, H, W) into ``measurement_shape``.

    Subclasses implement :meth:`H` (the forward map; it works in whatever range ``x`` is in, [-1, 1] for the
    solvers) and may override :meth:`pinv` (an image-space preimage of a measurement), :meth:`measure` and
    :meth:`to_model_range`. Parameters live in buffers, so ``.to(device, dtype)`` moves them.
    """

    input_shape: tuple[int, int, int]
    measurement_shape: tuple[int, ...]

    def __init__(self, input_shape: tuple[int, int, int]):
        super().__init__()
        if len(input_shape) != 3 or min(input_shape) < 1:
            raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {tuple(input_shape)}")
        self.input_shape = tuple(int(v) for v in input_shape)  # type: ignore[assignment]

    def H(self, x: Tensor) -> Tensor:  # noqa: N802 - names follow the papers
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.H(x)

    def pinv(self, y: Tensor) -> Tensor:
        """An image whose measurement is (close to) ``y``."""
        raise NotImplementedError

    def measure(self, x: Tensor, noise_std: float, generator: Generators = None) -> Tensor:
        """Simulate a measurement ``y = A(x) + noise_std z`` with ``z ~ N(0, I_m)``; ``noise_std`` is in the units of
        ``x`` (the pipeline measures [0, 1] images with ``sigma_y`` in [0, 1] units)."""
        if not noise_std >= 0:
            raise ValueError(f"the noise std must be >= 0, got {noise_std}")
        y = self.H(x)
        if noise_std > 0:
            y = y + noise_std * self.measurement_noise(y, generator)
        return y

    def measurement_noise(self, y: Tensor, generator: Generators) -> Tensor:
        """White noise in measurement space (an operator whose ``y`` carries placeholder entries overrides this)."""
        return randn(y.shape, generator=generator, like=y)

    def to_model_range(self, y01: Tensor) -> Tensor:
        """The measurement of a [0, 1] image -> the measurement of the same image in the model's [-1, 1] range."""
        raise NotImplementedError

    # ------------------------------------------------------------------ sizes
    @property
    def n(self) -> int:
        """Length of the image vectors, C*H*W."""
        return math.prod(self.input_shape)

    @property
    def m(self) -> int:
        """Length of the measurement vector."""
        return math.prod(self.measurement_shape)

    def extra_repr(self) -> str:
        return f"input_shape={self.input_shape}, measurement_shape={self.measurement_shape}"

    # ------------------------------------------------------------------ helpers for subclasses
    def _check_image(self, x: Tensor) -> None:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"expected images of shape (B, {', '.join(map(str, self.input_shape))}), got {tuple(x.shape)}"
            )

    def _check_measurement(self, y: Tensor) -> None:
        if tuple(y.shape[1:]) != tuple(self.measurement_shape):
            raise ValueError(
                f"expected measurements of shape (B, {', '.join(map(str, self.measurement_shape))}), got {tuple(y.shape)}"
            )


class LinearOperator(Operator):
    """A linear degradation ``y = H x`` known only through ``H`` and its adjoint ``Ht``.

    Subclasses implement ``H`` and ``Ht`` and set ``input_shape`` (C, H, W) and ``measurement_shape``. The
    pseudo-inverse and the prox are computed by batched conjugate gradients (``cg_iters`` iterations at most, relative
    tolerance ``cg_tol``): :meth:`pinv` on the normal equations from zero (the minimum-norm least-squares solution),
    :meth:`prox` on ``(H^T H + rho I) x = H^T y + rho z`` warm-started at ``z``. Solvers that need only these run on
    every linear operator; those written in the SVD's coordinates (DDRM) need an :class:`SVDOperator`.
    """

    cg_iters = 200
    cg_tol = 1e-6

    # ------------------------------------------------------------------ contract
    def H(self, x: Tensor) -> Tensor:  # noqa: N802 - names follow the papers
        raise NotImplementedError

    def Ht(self, y: Tensor) -> Tensor:  # noqa: N802
        raise NotImplementedError

    def to_model_range(self, y01: Tensor) -> Tensor:
        """``y01 = H x01 + n`` -> ``2 y01 - H 1``, the measurement of ``x = 2 x01 - 1`` (noise doubled)."""
        ones = torch.ones(1, *self.input_shape, device=y01.device, dtype=y01.dtype)
        return 2 * y01 - self.H(ones)

    def largest_singular(self, iters: int = 50) -> float:
        """The largest singular value of ``H`` (its spectral norm), by power iteration on ``H^T H`` from a fixed start
        (an :class:`SVDOperator` reads it off its singular values)."""
        g = torch.Generator().manual_seed(0)
        buffer = next(self.buffers(), None)
        dtype = buffer.dtype if buffer is not None and buffer.is_floating_point() else torch.get_default_dtype()
        v = torch.randn(1, *self.input_shape, generator=g, dtype=torch.float64).to(dtype)
        if buffer is not None:
            v = v.to(buffer.device)
        norm = 0.0
        for _ in range(iters):
            w = self.Ht(self.H(v / v.norm()))
            norm = float(w.norm())
            if norm == 0:
                return 0.0
            v = w
        return norm**0.5

    # ------------------------------------------------------------------ by conjugate gradients
    def _normal(self, rho: float | Tensor = 0.0) -> Callable[[Tensor], Tensor]:
        def apply(x: Tensor) -> Tensor:
            return self.Ht(self.H(x)) + rho * x

        return apply

    def pinv(self, y: Tensor, *, tol: float | None = None, x0: Tensor | None = None) -> Tensor:
        """``H^+ y``: conjugate gradients on ``H^T H x = H^T y`` from ``x0`` (default zero). Started in the range of
        ``H^T`` (zero, or an earlier ``H^T``-range solution such as the previous step's correction) the iterates stay
        there, so the limit is the minimum-norm least-squares solution. ``tol`` (relative residual) overrides
        ``cg_tol``."""
        b = self.Ht(y)
        start = torch.zeros_like(b) if x0 is None else x0.to(b)
        return conjugate_gradient(self._normal(), b, start, iters=self.cg_iters, tol=tol or self.cg_tol)

    def prox(self, y: Tensor, z: Tensor, rho: float | Tensor) -> Tensor:
        """``argmin_x ||y - H x||^2 + rho ||x - z||^2`` by conjugate gradients warm-started at ``z``; ``rho`` a float or
        per-sample (B,) tensor. At ``rho = 0``: ``z + H^+ (y - H z)``, the projection of ``z`` onto ``{H x = y}``."""
        if isinstance(rho, Tensor) and rho.ndim > 0:
            rho = rho.reshape(-1, *([1] * (z.ndim - 1))).to(z)
            if bool((rho == 0).any()):
                if bool((rho == 0).all()):
                    return z + self.pinv(y - self.H(z))
                # mixed batch: each item by its own rule
                return torch.cat([self.prox(y[i : i + 1], z[i : i + 1], rho[i].reshape(())) for i in range(z.shape[0])])
        elif float(rho) == 0:
            return z + self.pinv(y - self.H(z))
        b = self.Ht(y) + rho * z
        return conjugate_gradient(self._normal(rho), b, z, iters=self.cg_iters, tol=self.cg_tol)


class SVDOperator(LinearOperator):
    """Base class of degradation operators with an implicit full SVD ``H = U diag(s) V^T``.

    Subclasses implement ``V, Vt, U, Ut, singulars`` and set ``input_shape`` (C, H, W) and
    ``measurement_shape``. Parameters live in buffers, so ``.to(device, dtype)`` moves them. ``H``, ``Ht``,
    ``pinv`` and ``prox`` are the exact spectral formulas (no iterations).
    """

    # ------------------------------------------------------------------ contract
    def V(self, z: Tensor) -> Tensor:  # noqa: N802 - names follow the paper
        raise NotImplementedError

    def Vt(self, x: Tensor) -> Tensor:  # noqa: N802
        raise NotImplementedError

    def U(self, z: Tensor) -> Tensor:  # noqa: N802
        raise NotImplementedError

    def Ut(self, y: Tensor) -> Tensor:  # noqa: N802
        raise NotImplementedError

    def singulars(self) -> Tensor:
        raise NotImplementedError

    # ------------------------------------------------------------------ derived once
    def H(self, x: Tensor) -> Tensor:  # noqa: N802
        """Apply the degradation: ``H x = U (s * V^T x)``."""
        return self.U(self.singulars() * self.Vt(x))

    def Ht(self, y: Tensor) -> Tensor:  # noqa: N802
        """Apply the adjoint: ``H^T y = V (s * U^T y)``."""
        return self.V(self.singulars() * self.Ut(y))

    def largest_singular(self, iters: int = 0) -> float:
        """The largest singular value, read off the SVD (``iters`` is not needed)."""
        return float(self.singulars().amax())

    def support(self, cutoff: float | None = None) -> Tensor:
        """Boolean mask of the spectral coordinates whose singular value counts as non-zero.

        The threshold is ``cutoff * max(s)`` with ``cutoff`` defaulting to ``n * eps(dtype)`` (as NumPy's
        ``matrix_rank``), so exact zeros and round-off are treated as the null space.
        """
        s = self.singulars()
        if cutoff is None:
            cutoff = self.n * torch.finfo(s.dtype).eps
        smax = s.amax(dim=-1, keepdim=True)
        return s > cutoff * smax

    def pinv(
        self, y: Tensor, *, cutoff: float | None = None, tol: float | None = None, x0: Tensor | None = None
    ) -> Tensor:
        """Moore-Penrose pseudo-inverse ``H^+ y = V (S^+ U^T y)``, exact (``tol`` and ``x0``, the iterative
        contract's tolerance and warm start, are not needed). ``cutoff``: singular values below ``cutoff * max(s)``
        count as zero."""
        s = self.singulars()
        keep = self.support(cutoff)
        inv = torch.where(keep, 1.0 / torch.where(keep, s, torch.ones_like(s)), torch.zeros_like(s))
        return self.V(inv * self.Ut(y))

    def prox(self, y: Tensor, z: Tensor, rho: float | Tensor) -> Tensor:
        """``argmin_x ||y - H x||^2 + rho ||x - z||^2``, solved exactly in the spectral basis.

        ``(H^T H + rho I) x = H^T y + rho z``  becomes  ``V^T x = (s U^T y + rho V^T z) / (s^2 + rho)``.
        ``rho`` may be a float or a per-sample tensor of shape (B,). At ``rho = 0`` this is the limit
        ``H^+ y + (I - H^+ H) z``: the projection of ``z`` onto ``{x : H x = y}`` (round-off singular values count
        as zero, as in :meth:`pinv`).
        """
        sv = self.singulars()
        s = torch.where(self.support(), sv, torch.zeros_like(sv))
        if isinstance(rho, Tensor) and rho.ndim > 0:
            rho = rho.reshape(-1, 1).to(s)
        zbar = self.Vt(z)
        den = s * s + rho
        solved = (s * self.Ut(y) + rho * zbar) / torch.where(den > 0, den, torch.ones_like(den))
        return self.V(torch.where(den > 0, solved, zbar))

    # ------------------------------------------------------------------ helpers for subclasses
    def _check_spectral(self, z: Tensor) -> None:
        if z.ndim != 2 or z.shape[1] != self.n:
            raise ValueError(f"expected spectral vectors of shape (B, {self.n}), got {tuple(z.shape)}")
