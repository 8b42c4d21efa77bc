"""The one contract every degradation operator follows: an implicit, full SVD.

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
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["SVDOperator", "randn", "Generators"]


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


class SVDOperator(nn.Module):
    """Base class of degradation operators with an implicit full SVD ``H = U diag(s) V^T``.

    Subclasses implement ``V, Vt, U, Ut, singulars`` and set ``input_shape`` (C, H, W) and
    ``measurement_shape``. Parameters live in buffers, so ``.to(device, dtype)`` moves them.
    """

    input_shape: tuple[int, int, int]
    measurement_shape: tuple[int, ...]

    def __init__(self, input_shape: tuple[int, int, int]):
        super().__init__()
        if len(input_shape) != 3 or min(input_shape) < 1:
            raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {tuple(input_shape)}")
        self.input_shape = tuple(int(v) for v in input_shape)  # type: ignore[assignment]

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

    # ------------------------------------------------------------------ sizes
    @property
    def n(self) -> int:
        """Length of the image (and spectral) vectors, C*H*W."""
        return math.prod(self.input_shape)

    @property
    def m(self) -> int:
        """Length of the measurement vector."""
        return math.prod(self.measurement_shape)

    def extra_repr(self) -> str:
        return f"input_shape={self.input_shape}, measurement_shape={self.measurement_shape}"

    # ------------------------------------------------------------------ derived once
    def H(self, x: Tensor) -> Tensor:  # noqa: N802
        """Apply the degradation: ``H x = U (s * V^T x)``."""
        return self.U(self.singulars() * self.Vt(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.H(x)

    def Ht(self, y: Tensor) -> Tensor:  # noqa: N802
        """Apply the adjoint: ``H^T y = V (s * U^T y)``."""
        return self.V(self.singulars() * self.Ut(y))

    def support(self, rtol: float | None = None) -> Tensor:
        """Boolean mask of the spectral coordinates whose singular value counts as non-zero.

        The threshold is ``rtol * max(s)`` with ``rtol`` defaulting to ``n * eps(dtype)`` (as NumPy's
        ``matrix_rank``), so exact zeros and round-off are treated as the null space.
        """
        s = self.singulars()
        if rtol is None:
            rtol = self.n * torch.finfo(s.dtype).eps
        smax = s.amax(dim=-1, keepdim=True)
        return s > rtol * smax

    def pinv(self, y: Tensor, rtol: float | None = None) -> Tensor:
        """Moore-Penrose pseudo-inverse ``H^+ y = V (S^+ U^T y)``."""
        s = self.singulars()
        keep = self.support(rtol)
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

    def measure(self, x: Tensor, sigma_y: float, generator: Generators = None) -> Tensor:
        """Simulate a measurement ``y = H x + sigma_y z`` with ``z ~ N(0, I_m)``."""
        if sigma_y < 0:
            raise ValueError(f"sigma_y must be >= 0, got {sigma_y}")
        y = self.H(x)
        if sigma_y > 0:
            y = y + sigma_y * self.measurement_noise(y, generator)
        return y

    def measurement_noise(self, y: Tensor, generator: Generators) -> Tensor:
        """White noise in measurement space (an operator whose ``y`` carries placeholder entries overrides this)."""
        return randn(y.shape, generator=generator, like=y)

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

    def _check_spectral(self, z: Tensor) -> None:
        if z.ndim != 2 or z.shape[1] != self.n:
            raise ValueError(f"expected spectral vectors of shape (B, {self.n}), got {tuple(z.shape)}")
