"""Motion between frames and temporal (in)consistency: dense optical flow (OpenCV's Farneback, extra ``ddrm[video]``,
imported lazily), warping along it, and the flicker measure."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from ..errors import SetupError

__all__ = ["optical_flow", "warp", "flicker", "flicker_along"]


def _cv2():
    try:
        import cv2
    except ImportError:
        raise SetupError("optical flow needs OpenCV: pip install 'ddrm[video]'") from None
    return cv2


def _grey8(img: Tensor) -> np.ndarray:
    x = img.detach().float().cpu()
    x = x.mean(0) if x.shape[0] == 3 else x[0]
    return (x.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)


def optical_flow(target: Tensor, source: Tensor) -> np.ndarray:
    """Dense flow (H, W, 2) in pixels, ``(dx, dy)``, such that ``target[y, x] ~ source[y + dy, x + dx]`` (OpenCV's
    Farneback on the grey images; pyramid of 4 levels, 15 px windows)."""
    cv2 = _cv2()
    return cv2.calcOpticalFlowFarneback(_grey8(target), _grey8(source), None, 0.5, 4, 15, 3, 5, 1.2, 0)


def _sample_points(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return gx + flow[..., 0], gy + flow[..., 1]


def warp(source: Tensor, flow: np.ndarray) -> Tensor:
    """``source`` (C, H, W) resampled along ``flow`` (from :func:`optical_flow`) onto the target's grid, bilinear,
    edges replicated."""
    cv2 = _cv2()
    map_x, map_y = _sample_points(flow)
    arr = source.detach().float().cpu().permute(1, 2, 0).numpy()
    out = cv2.remap(np.ascontiguousarray(arr), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if out.ndim == 2:
        out = out[..., None]
    return torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1).to(source.dtype)


def flicker(frames: Sequence[Tensor], guide: Sequence[Tensor] | None = None) -> float:
    """Temporal inconsistency of a clip: the mean absolute difference, in 8-bit levels, between each frame and the
    previous frame warped onto it, along flow computed on ``guide`` (default: the frames themselves). Pixels whose
    flow leaves the frame are left out. Compare a restored clip with the clean one on the clean one's flow."""
    guide = frames if guide is None else guide
    if len(frames) != len(guide):
        raise ValueError(f"{len(frames)} frames but {len(guide)} guide frames")
    if len(frames) < 2:
        raise ValueError("flicker needs at least two frames")
    return flicker_along(frames, [optical_flow(guide[t], guide[t - 1]) for t in range(1, len(guide))])


def flicker_along(frames: Sequence[Tensor], flows: Sequence[np.ndarray]) -> float:
    """:func:`flicker` along given flows (``flows[t - 1]`` maps frame t - 1 onto frame t)."""
    total = 0.0
    for t, flow in enumerate(flows, start=1):
        map_x, map_y = _sample_points(flow)
        h, w = flow.shape[:2]
        inside = torch.from_numpy((map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1))
        diff = (frames[t].float() - warp(frames[t - 1], flow).float()).abs().mean(0)
        total += float(diff[inside].mean()) if inside.any() else 0.0
    return 255 * total / (len(frames) - 1)
