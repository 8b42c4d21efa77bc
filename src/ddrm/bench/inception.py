"""Features for FID and KID: the FID Inception-v3 (Szegedy et al. 2016, the TensorFlow 2015-12-05 graph as ported by
pytorch-fid), 2048-d pool features of images resized to 299 x 299.

The weights are pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (a plain state dict, read with
``weights_only=True``), looked for in ``$DDRM_FID_WEIGHTS``, ``$DDRM_HOME/inception`` and
``$TORCH_HOME/hub/checkpoints`` (where pytorch-fid puts it after its one-time download). Absent, the FID and KID
columns are skipped with one line. The FID variant differs from torchvision's Inception-v3 in its pooling: average
pools exclude the padding, and the last block's pool branch takes a max.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FIDInception", "find_weights", "feature_extractor", "WEIGHTS_FILE"]

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
INPUT_SIZE = 299  # the network's input side (FID is defined at 299; tests use less to save time)


class _Conv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class _A(nn.Module):
    def __init__(self, cin: int, pool: int):
        super().__init__()
        self.branch1x1 = _Conv(cin, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = _Conv(cin, 48, 1), _Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _Conv(cin, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = _Conv(64, 96, 3, padding=1), _Conv(96, 96, 3, padding=1)
        self.branch_pool = _Conv(cin, pool, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg(x)),
            ],
            1,
        )


class _B(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = _Conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = _Conv(cin, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = _Conv(64, 96, 3, padding=1), _Conv(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), dbl, F.max_pool2d(x, 3, 2)], 1)


class _C(nn.Module):
    def __init__(self, cin: int, c7: int):
        super().__init__()
        row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        self.branch1x1 = _Conv(cin, 192, 1)
        self.branch7x7_1, self.branch7x7_2, self.branch7x7_3 = (
            _Conv(cin, c7, 1),
            _Conv(c7, c7, **row),
            _Conv(c7, 192, **col),
        )
        self.branch7x7dbl_1 = _Conv(cin, c7, 1)
        self.branch7x7dbl_2, self.branch7x7dbl_3 = _Conv(c7, c7, **col), _Conv(c7, c7, **row)
        self.branch7x7dbl_4, self.branch7x7dbl_5 = _Conv(c7, c7, **col), _Conv(c7, 192, **row)
        self.branch_pool = _Conv(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg(x))], 1)


class _D(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = _Conv(cin, 192, 1), _Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _Conv(cin, 192, 1)
        self.branch7x7x3_2 = _Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _Conv(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, 2)], 1)


class _E(nn.Module):
    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = _Conv(cin, 320, 1)
        self.branch3x3_1 = _Conv(cin, 384, 1)
        self.branch3x3_2a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1, self.branch3x3dbl_2 = _Conv(cin, 448, 1), _Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _Conv(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pool = F.max_pool2d(x, 3, 1, 1) if self.max_pool else _avg(x)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(b3),
                self.branch3x3_2b(b3),
                self.branch3x3dbl_3a(d),
                self.branch3x3dbl_3b(d),
                self.branch_pool(pool),
            ],
            1,
        )


class FIDInception(nn.Module):
    """Inception-v3 up to its 2048-d average pool; ``fc`` (1008 classes) is kept so the weight file loads strictly."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = _Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _Conv(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = _A(192, 32), _A(256, 64), _A(288, 64)
        self.Mixed_6a = _B(288)
        self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e = (
            _C(768, 128),
            _C(768, 160),
            _C(768, 160),
            _C(768, 192),
        )
        self.Mixed_7a = _D(768)
        self.Mixed_7b, self.Mixed_7c = _E(1280, max_pool=False), _E(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x01: Tensor) -> Tensor:
        """Images (B, 3, H, W) in [0, 1] -> features (B, 2048)."""
        x = F.interpolate(x01.float(), size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
        x = F.max_pool2d(x, 3, 2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):  # fmt: skip
            x = block(x)
        return x.mean((2, 3))


def find_weights() -> Path | None:
    """The FID Inception weight file on this machine, or None."""
    candidates = []
    if os.environ.get("DDRM_FID_WEIGHTS"):
        candidates.append(Path(os.environ["DDRM_FID_WEIGHTS"]))
    if os.environ.get("DDRM_HOME"):
        candidates.append(Path(os.environ["DDRM_HOME"]) / "inception" / WEIGHTS_FILE)
    from .perceptual import torch_home

    candidates.append(torch_home() / "hub" / "checkpoints" / WEIGHTS_FILE)
    return next((c for c in candidates if c.is_file()), None)


def feature_extractor(report: Callable[[str], None], device="cpu", batch: int = 32) -> Callable | None:
    """A function from a list of (C, H, W) images in [0, 1] to their (N, 2048) float64 features, or None (said in
    one line) when the weights are not on this machine."""
    path = find_weights()
    if path is None:
        report(
            f"FID/KID skipped: Inception weights {WEIGHTS_FILE} not found (set DDRM_FID_WEIGHTS, or put the file in "
            "$TORCH_HOME/hub/checkpoints)"
        )
        return None
    net = FIDInception()
    try:
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (RuntimeError, OSError, ValueError) as exc:
        report(f"FID/KID skipped: {path}: not the FID Inception weights ({' '.join(str(exc).split())[:160]})")
        return None
    net = net.to(device).eval()

    @torch.no_grad()
    def extract(images: list[Tensor]) -> Tensor:
        out = []
        for i in range(0, len(images), batch):
            x = torch.stack([im.expand(3, -1, -1) for im in images[i : i + batch]]).to(device)
            out.append(net(x).double().cpu())
        return torch.cat(out)

    return extract
