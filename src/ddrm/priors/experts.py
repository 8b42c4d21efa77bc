"""Expert denoisers by noise level (eDiff-I, Balaji et al. 2022, Sec. 4): one prior per interval of sigma."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

import torch
from torch import Tensor, nn

from .base import Prior, sigma_tensor

__all__ = ["NoiseLevelExperts"]


class NoiseLevelExperts(Prior):
    """``experts[k]`` denoises the samples whose sigma lies in ``[boundaries[k-1], boundaries[k])`` (the first from
    0, the last to infinity); each batch item goes to its own expert. The experts must share a schedule."""

    def __init__(self, experts: Sequence[Prior], boundaries: Sequence[float]):
        if len(experts) != len(boundaries) + 1:
            raise ValueError(f"{len(experts)} experts need {len(experts) - 1} boundaries, got {len(boundaries)}")
        if any(b <= a for a, b in zip(boundaries, boundaries[1:])) or any(b <= 0 for b in boundaries):
            raise ValueError(f"boundaries must be positive and increasing, got {list(boundaries)}")
        first = experts[0].schedule
        if any(not torch.equal(e.schedule.sigmas, first.sigmas) for e in experts[1:]):
            raise ValueError("the experts must share one noise schedule")
        super().__init__(first)
        self.experts = nn.ModuleList(experts)
        # compared with sigma_tensor's CPU float64 levels: kept on the CPU (not a buffer), so no transfer per call
        self.boundaries = torch.tensor(list(boundaries), dtype=torch.float64)
        self.channels = experts[0].channels
        self.stride = max(e.stride for e in experts)
        sizes = {e.image_size for e in experts}
        self.image_size = sizes.pop() if len(sizes) == 1 else None

    def expert_index(self, sigma: Tensor | float, batch: int) -> Tensor:
        """Which expert denoises each of ``batch`` samples at noise level(s) ``sigma``."""
        return torch.bucketize(sigma_tensor(sigma, batch).contiguous(), self.boundaries, right=True)

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        b = x.shape[0]
        sig = sigma_tensor(sigma, b)
        which = self.expert_index(sig, b)
        if bool((which == which[0]).all()):
            return self.experts[int(which[0])].denoise(x, sig)
        out = torch.empty_like(x)
        for k in which.unique().tolist():
            rows = (which == k).nonzero().flatten()
            on_device = rows.to(x.device)
            out[on_device] = self.experts[k].denoise(x[on_device], sig[rows])
        return out

    @contextmanager
    def gradient_checkpointing(self, enabled: bool = True) -> Iterator[bool]:
        with ExitStack() as stack:
            yield any([stack.enter_context(e.gradient_checkpointing(enabled)) for e in self.experts])
