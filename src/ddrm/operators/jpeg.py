"""JPEG encode + decode as a differentiable torch operator (the degradation of DDRM-JPEG, Kawar, Song, Ermon, Elad,
2022): baseline JFIF with YCbCr, 4:2:0 chroma subsampling, 8x8 orthonormal DCT-II and the IJG (Annex K) quantisation
tables scaled by the quality factor as libjpeg does (``s = 5000 / QF`` below 50, ``200 - 2 QF`` from 50).

The operator is not linear: it has no SVD and only DDRM-JPEG (``ddrm-jpeg``) takes it. Rounding uses a
straight-through estimator (exact value, identity gradient), so ``J`` is differentiable for gradient-based uses. The
decoder upsamples chroma bilinearly (libjpeg's "fancy" triangle filter) and replicates edges when the image is not
a multiple of 16, as libjpeg does; against Pillow's libjpeg the decodes agree to the PSNR figures in
``tests/test_jpeg.py``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import TaskError
from .base import Generators, Operator, randn

__all__ = [
    "JPEG",
    "SUBSAMPLINGS",
    "LUMA_WEIGHTS",
    "quantisation_tables",
    "quantisation_noise",
    "dct_matrix",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
]

# ITU-T T.81 Annex K, tables K.1 (luminance) and K.2 (chrominance), in row-major (not zig-zag) order
_LUMA = [
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
]
_CHROMA = (
    [[17, 18, 24, 47, 99, 99, 99, 99], [18, 21, 26, 66, 99, 99, 99, 99], [24, 26, 56, 99, 99, 99, 99, 99]]
    + [[47, 66, 99, 99, 99, 99, 99, 99]]
    + [[99] * 8] * 4
)


def _check_tables(tables: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """A file's quantisation tables (1, 2 or 3, 8, 8) -> (luma, Cb, Cr): two tables are luma's and both chroma
    planes' (libjpeg's layout), three one per plane; steps are integers in 1..65535."""
    if tables.ndim != 3 or tables.shape[1:] != (8, 8) or tables.shape[0] not in (1, 2, 3):
        raise TaskError(f"JPEG quantisation tables are (1, 2 or 3, 8, 8), got {tuple(tables.shape)}")
    if not bool(((tables >= 1) & (tables <= 65535) & (tables == tables.round())).all()):
        raise TaskError("JPEG quantisation steps must be integers in 1..65535")
    return tables[0], tables[min(1, len(tables) - 1)], tables[-1]


def quantisation_noise(
    q_luma: Tensor, q_chroma: Tensor, subsampling: str = "4:2:0", q_cr: Tensor | None = None
) -> float:
    """The rms error JPEG's quantisation leaves, as image noise in [0, 1] units: ``q / sqrt(12)`` per coefficient (a
    uniform error over the step; the DCT is orthonormal), luma and chroma averaged over the pixels by the chroma
    layout (``q_cr``: Cr's own table, where a file has three; else ``q_chroma`` quantises both). A scale for the
    degradation: 0.177 at quality 10, 0.006 at 95 (4:2:0)."""
    luma = float((q_luma.double() ** 2).mean() / 12)
    if subsampling == "grey":
        return luma**0.5 / 255
    fh, fw = SUBSAMPLINGS[subsampling]
    cr = q_chroma if q_cr is None else q_cr
    chroma = float((q_chroma.double() ** 2).mean() / 12 + (cr.double() ** 2).mean() / 12) / (fh * fw)
    return ((luma + chroma) / 3) ** 0.5 / 255


def quantisation_tables(quality: int) -> tuple[Tensor, Tensor]:
    """The (8, 8) luminance and chrominance step sizes libjpeg uses at ``quality`` (1..100, baseline: 1..255)."""
    if not (isinstance(quality, int) and 1 <= quality <= 100):
        raise TaskError(f"JPEG quality must be an integer in 1..100, got {quality!r}")
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    out = []
    for base in (_LUMA, _CHROMA):
        q = (torch.tensor(base, dtype=torch.float64) * scale + 50).div(100).floor()
        out.append(q.clamp(1, 255))
    return out[0], out[1]


def dct_matrix(n: int = 8, dtype: torch.dtype = torch.float64) -> Tensor:
    """The orthonormal DCT-II matrix ``D`` (``D @ D.T = I``); JPEG's 2-D FDCT of a block ``B`` is ``D B D^T``."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    d[0] /= math.sqrt(2)
    return d.to(dtype)


LUMA_WEIGHTS = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64)  # JFIF's Y from R, G, B (ITU-R BT.601)
_TO_YCBCR = [LUMA_WEIGHTS.tolist(), [-0.168735892, -0.331264108, 0.5], [0.5, -0.418687589, -0.081312411]]
_TO_RGB = [[1.0, 0.0, 1.402], [1.0, -0.344136286, -0.714136286], [1.0, 1.772, 0.0]]


def rgb_to_ycbcr(x: Tensor) -> Tensor:
    """JFIF full-range RGB -> YCbCr on (B, 3, H, W) in [0, 255] (Cb, Cr centred on 128)."""
    m = torch.tensor(_TO_YCBCR, dtype=x.dtype, device=x.device)
    out = torch.einsum("ij,bjhw->bihw", m, x)
    return out + torch.tensor([0.0, 128.0, 128.0], dtype=x.dtype, device=x.device)[:, None, None]


def ycbcr_to_rgb(x: Tensor) -> Tensor:
    """The inverse of :func:`rgb_to_ycbcr`."""
    m = torch.tensor(_TO_RGB, dtype=x.dtype, device=x.device)
    shifted = x - torch.tensor([0.0, 128.0, 128.0], dtype=x.dtype, device=x.device)[:, None, None]
    return torch.einsum("ij,bjhw->bihw", m, shifted)


def _round(x: Tensor) -> Tensor:
    """Round to the nearest integer with an identity gradient (straight-through)."""
    return x + (torch.round(x) - x).detach()


def _blocks(x: Tensor) -> Tensor:
    """(B, H, W) with H, W multiples of 8 -> (B, H/8, W/8, 8, 8)."""
    b, h, w = x.shape
    return x.reshape(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4)


def _unblocks(x: Tensor) -> Tensor:
    b, nh, nw, _, _ = x.shape
    return x.permute(0, 1, 3, 2, 4).reshape(b, nh * 8, nw * 8)


SUBSAMPLINGS = {"4:2:0": (2, 2), "4:2:2": (1, 2), "4:4:4": (1, 1), "grey": None}  # chroma factors (rows, columns)


class JPEG(Operator):
    """``J(x)``: JPEG-compress and decompress images of shape ``input_shape`` (3, H, W).

    The quantisation tables are libjpeg's at ``quality`` (the IJG tables scaled), or any file's own: ``tables``
    (2, 8, 8) for luma and chroma (3, 8, 8: luma, Cb and Cr, for a file with a table per plane; 1, 8, 8 for a
    greyscale file), in natural (row-major) order as Pillow reports them.
    ``subsampling``: the chroma layout, ``"4:2:0"`` (2x2 means), ``"4:2:2"`` (1x2), ``"4:4:4"`` (none), or ``"grey"``: a
    greyscale JPEG of the image's luma, measured as one channel.

    An :class:`~ddrm.operators.Operator` that is not linear: ``H`` works in the model range [-1, 1], ``measure`` on
    [0, 1] images; ``pinv`` is the identity (a decoded JPEG is its own best image-space preimage: ``J(J(x)) ~ J(x)``;
    a grey one is replicated into the three channels, whose luma it is), which turns DDRM-JPEG's
    ``x0 - J(x0) + J(y)`` into the shared form ``x0 - pinv(H(x0)) + pinv(H(pinv(y)))``."""

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        quality: int | None = 10,
        *,
        tables: Tensor | None = None,
        subsampling: str = "4:2:0",
        dtype: torch.dtype | None = None,
    ):
        super().__init__(input_shape)
        if self.input_shape[0] != 3:
            raise TaskError(f"JPEG restores RGB images (3, H, W), got shape {tuple(input_shape)}")
        if subsampling not in SUBSAMPLINGS:
            raise TaskError(f"unknown chroma subsampling {subsampling!r}; choose from {', '.join(SUBSAMPLINGS)}")
        self.subsampling = subsampling
        self.grey = subsampling == "grey"
        self.measurement_shape = (1, *self.input_shape[1:]) if self.grey else self.input_shape
        dtype = dtype or torch.get_default_dtype()
        if tables is None:
            self.quality = int(quality if quality is not None else 10)
            qy, qc = quantisation_tables(self.quality)
            qr = qc
        else:
            self.quality = None
            qy, qc, qr = _check_tables(torch.as_tensor(tables, dtype=torch.float64))
        self.register_buffer("q_luma", qy.to(dtype))
        self.register_buffer("q_chroma", qc.to(dtype))  # Cb's (and Cr's, but for a file with a table for Cr)
        self.register_buffer("q_cr", qr.to(dtype))
        self.register_buffer("d", dct_matrix(8, dtype))

    def quantisation_noise(self) -> float:
        """The rms error the quantisation leaves, as image noise in [0, 1] units (:func:`quantisation_noise`)."""
        return quantisation_noise(self.q_luma, self.q_chroma, self.subsampling, self.q_cr)

    @property
    def factors(self) -> tuple[int, int]:
        """Chroma subsampling factors (rows, columns); (1, 1) for a greyscale JPEG (it has no chroma)."""
        return SUBSAMPLINGS[self.subsampling] or (1, 1)

    def _pad(self, x: Tensor) -> Tensor:
        """Edge replication to whole MCUs (8 px times the chroma factor), as libjpeg encodes a ragged edge."""
        fh, fw = self.factors
        ph, pw = (-x.shape[-2]) % (8 * fh), (-x.shape[-1]) % (8 * fw)
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

    # ------------------------------------------------------------------ the codec, on [0, 255]
    def encode(self, x255: Tensor) -> tuple[Tensor, ...]:
        """(B, 3, H, W) in [0, 255] -> the quantised DCT coefficients (integers, as floats) of Y, Cb and Cr (of Y alone
        for a greyscale JPEG), each (B, H'/8, W'/8, 8, 8), with H', W' padded to whole MCUs."""
        ycc = rgb_to_ycbcr(self._pad(x255))
        if self.grey:
            planes = [(ycc[:, 0], self.q_luma)]
        else:
            fh, fw = self.factors
            chroma = F.avg_pool2d(ycc[:, 1:], (fh, fw)) if (fh, fw) != (1, 1) else ycc[:, 1:]  # means of each block
            planes = [(ycc[:, 0], self.q_luma), (chroma[:, 0], self.q_chroma), (chroma[:, 1], self.q_cr)]
        return tuple(_round((self.d @ _blocks(plane - 128.0) @ self.d.T) / q) for plane, q in planes)

    def decode(self, coefs: tuple[Tensor, ...], size: tuple[int, int]) -> Tensor:
        """Quantised coefficients -> (B, 3, H, W) in [0, 255] ((B, 1, H, W) for a greyscale JPEG), rounded to 8 bits
        like a decoder's output."""
        tables = (self.q_luma, self.q_chroma, self.q_cr)
        planes = [_unblocks(self.d.T @ (coef * q) @ self.d) + 128.0 for coef, q in zip(coefs, tables)]
        if self.grey:
            return _round(planes[0][:, None, : size[0], : size[1]].clamp(0, 255))
        chroma = torch.stack(planes[1:], 1)
        if self.factors != (1, 1):  # libjpeg's "fancy" (triangle) upsampling
            chroma = F.interpolate(chroma, scale_factor=self.factors, mode="bilinear", align_corners=False)
        rgb = ycbcr_to_rgb(torch.cat([planes[0][:, None], chroma], 1))[..., : size[0], : size[1]]
        return _round(rgb.clamp(0, 255))

    def compress(self, x01: Tensor) -> Tensor:
        """``J`` on [0, 1] images: the decoded JPEG of ``x01`` (B, 3, H, W) (one channel for a greyscale JPEG); the
        input is first rounded to 8 bits."""
        x255 = _round(x01.clamp(0, 1) * 255)
        return self.decode(self.encode(x255), tuple(x01.shape[-2:])) / 255

    def project(self, x01: Tensor, y01: Tensor) -> Tensor:
        """Move ``x01`` into the set of images whose DCT coefficients fall in the quantisation cells of the JPEG
        ``y01`` (the cells are re-derived from the decoded ``y01``): exact for luma; for the 4:2:0 chroma planes the
        correction of the subsampled coefficients is spread back by pixel replication (the pseudo-inverse of the 2x2
        mean). The constraint step of classical POCS deblocking (Zakhor 1992; Yang, Galatsanos, Katsaggelos 1995).
        Written for colour JPEGs with 4:2:0 chroma."""
        if self.subsampling != "4:2:0":
            raise TaskError(
                f"the quantisation-cell projection is written for 4:2:0 colour JPEGs, not {self.subsampling}"
            )
        h, w = x01.shape[-2:]
        ph, pw = (-h) % 16, (-w) % 16

        def planes(v: Tensor) -> tuple[Tensor, Tensor]:
            v = F.pad(v * 255, (0, pw, 0, ph), mode="replicate") if ph or pw else v * 255
            ycc = rgb_to_ycbcr(v)
            return ycc[:, :1], F.avg_pool2d(ycc[:, 1:], 2)

        (xl, xc), (yl, yc) = planes(x01), planes(y01)
        out = []
        for xp, yp, tables in ((xl, yl, [self.q_luma]), (xc, yc, [self.q_chroma, self.q_cr])):
            q = torch.stack(tables).repeat(xp.shape[0], 1, 1)[:, None, None]  # each plane's table, image by image
            bx = self.d @ _blocks(xp.flatten(0, 1) - 128.0) @ self.d.T
            cells = torch.round((self.d @ _blocks(yp.flatten(0, 1) - 128.0) @ self.d.T) / q)
            clipped = torch.minimum(torch.maximum(bx, (cells - 0.5) * q), (cells + 0.5) * q)
            delta = _unblocks(self.d.T @ (clipped - bx) @ self.d).reshape(xp.shape)
            out.append(delta)
        dl, dc = out
        dc = dc.repeat_interleave(2, -2).repeat_interleave(2, -1)
        ycc = rgb_to_ycbcr(F.pad(x01 * 255, (0, pw, 0, ph), mode="replicate") if ph or pw else x01 * 255)
        ycc = ycc + torch.cat([dl, dc], 1)
        return (ycbcr_to_rgb(ycc)[..., :h, :w] / 255).clamp(0, 1)

    # ------------------------------------------------------------------ the operator contract
    def H(self, x: Tensor) -> Tensor:  # noqa: N802
        """``J`` in the model range: ``2 J((x + 1) / 2) - 1``."""
        return self.compress((x + 1) / 2) * 2 - 1

    def pinv(self, y: Tensor) -> Tensor:
        return y.expand(-1, 3, -1, -1) if self.grey else y

    def to_model_range(self, y01: Tensor) -> Tensor:
        """A decoded JPEG in [0, 1] -> the model range [-1, 1]."""
        return 2 * y01 - 1

    def measure(self, x01: Tensor, noise_std: float = 0.0, generator: Generators = None) -> Tensor:
        """``J(x + noise_std z)`` of [0, 1] images: noise (if any) is added before compression, as in a camera."""
        if noise_std > 0:
            x01 = x01 + noise_std * randn(x01.shape, generator=generator, like=x01)
        return self.compress(x01)
