"""LPIPS (Zhang et al. 2018, v0.1, AlexNet) from weight files already on disk; never downloads.

Two files are needed: torchvision's AlexNet ``alexnet-owt-7be5be79.pth`` (in ``$TORCH_HOME/hub/checkpoints``, where
torchvision and torchmetrics put it after their one-time download) and the LPIPS linear heads ``alex.pth`` (shipped
inside the ``lpips`` and ``torchmetrics`` wheels, or in ``$DDRM_HOME/lpips``). Both are read with
``weights_only=True``. When either is missing the LPIPS column is skipped with one line saying which file.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["LPIPS", "lpips_model", "find_weights", "ALEXNET_FILE"]

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
_CHANNELS = (64, 192, 384, 256, 256)


def torch_home() -> Path:
    return Path(os.environ.get("TORCH_HOME", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "torch"))


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # a top-level package's location, without importing it
    return Path(spec.origin).parent if spec is not None and spec.origin else None


def find_weights() -> tuple[Path | None, Path | None]:
    """(AlexNet backbone file, LPIPS heads file), each None when not found on this machine."""
    backbone = torch_home() / "hub" / "checkpoints" / ALEXNET_FILE
    heads = []
    if os.environ.get("DDRM_HOME"):
        heads.append(Path(os.environ["DDRM_HOME"]) / "lpips" / "alex.pth")
    heads.append(Path.home() / ".cache" / "ddrm" / "lpips" / "alex.pth")
    for pkg, rel in (("lpips", "weights/v0.1/alex.pth"), ("torchmetrics", "functional/image/lpips_models/alex.pth")):
        d = _package_dir(pkg)
        if d is not None:
            heads.append(d / rel)
    head = next((h for h in heads if h.is_file()), None)
    return (backbone if backbone.is_file() else None), head


class LPIPS(nn.Module):
    """d(x, x0) = sum_l mean_hw || w_l * (f_l(x) / |f_l(x)| - f_l(x0) / |f_l(x0)|) ||^2 over AlexNet's five ReLU
    outputs (Eq. 1 of the paper); inputs in [0, 1], (B, 3, H, W)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
        )  # fmt: skip
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in _CHANNELS)
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))

    def load(self, backbone: dict[str, Tensor], heads: dict[str, Tensor]) -> LPIPS:
        self.features.load_state_dict(
            {k.removeprefix("features."): v for k, v in backbone.items() if k.startswith("features.")}
        )
        self.heads.load_state_dict({f"{i}.weight": heads[f"lin{i}.model.1.weight"] for i in range(5)})
        return self

    def _taps(self, x: Tensor) -> list[Tensor]:
        x = ((2 * x - 1) - self.shift) / self.scale
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in (1, 4, 7, 9, 11):
                out.append(x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10))
        return out

    def forward(self, x: Tensor, ref: Tensor) -> Tensor:
        if x.shape[1] == 1:
            x, ref = x.expand(-1, 3, -1, -1), ref.expand(-1, 3, -1, -1)
        fx, fr = self._taps(x.float()), self._taps(ref.float())
        return sum(h((a - b) ** 2).mean((1, 2, 3)) for h, a, b in zip(self.heads, fx, fr))


_MODEL: dict = {}


def lpips_model(report=print) -> LPIPS | None:
    """The LPIPS network, or None (said once) when its weight files are not on this machine."""
    if "model" in _MODEL:
        return _MODEL["model"]
    backbone, head = find_weights()
    model = None
    if backbone is None or head is None:
        missing = [] if backbone else [f"{ALEXNET_FILE} in {torch_home() / 'hub' / 'checkpoints'}"]
        missing += [] if head else ["the LPIPS heads alex.pth (pip install lpips, or put it in $DDRM_HOME/lpips)"]
        report(f"LPIPS skipped: weights not found ({'; '.join(missing)})")
    else:
        model = LPIPS().load(torch.load(backbone, weights_only=True), torch.load(head, weights_only=True)).eval()
    _MODEL["model"] = model
    return model
