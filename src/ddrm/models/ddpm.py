"""The DDPM/DDIM "Model" UNet (Ho et al. 2020, as ported to PyTorch by DDIM and used by DDRM for CelebA-HQ).

State-dict keys and shapes equal those of DDRM's ``celeba_hq.ckpt``; the forward pass follows the same
formulas (sin-first timestep embedding, GroupNorm eps 1e-6, single-head attention, asymmetric padding
before the stride-2 convolution).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpointing import run_block

__all__ = ["DDPMConfig", "DDPMUNet", "ddpm_timestep_embedding"]


@dataclass(frozen=True)
class DDPMConfig:
    image_size: int = 256
    in_channels: int = 3
    out_channels: int = 3
    ch: int = 128
    ch_mult: Sequence[int] = (1, 1, 2, 2, 4, 4)
    num_res_blocks: int = 2
    attn_resolutions: Sequence[int] = (16,)
    dropout: float = 0.0
    resamp_with_conv: bool = True


def ddpm_timestep_embedding(t: Tensor, dim: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """``[sin(t f), cos(t f)]`` with ``f_i = 10000^(-i / (half - 1))``, sin first (DDPM convention)."""
    dtype = torch.promote_types(dtype, torch.float32)
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=dtype, device=t.device) * -(math.log(10000) / (half - 1)))
    args = t.to(dtype)[:, None] * freqs[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels, eps=1e-6, affine=True)


def _swish(x: Tensor) -> Tensor:
    return x * torch.sigmoid(x)


class Upsample(nn.Module):
    def __init__(self, channels: int, with_conv: bool):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(x) if self.with_conv else x


class Downsample(nn.Module):
    def __init__(self, channels: int, with_conv: bool):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: Tensor) -> Tensor:
        if self.with_conv:
            return self.conv(F.pad(x, (0, 1, 0, 1)))  # right and bottom only
        return F.avg_pool2d(x, 2, 2)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, temb_channels: int, dropout: float):
        super().__init__()
        self.norm1 = _norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.temb_proj = nn.Linear(temb_channels, out_channels)
        self.norm2 = _norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(_swish(self.norm1(x)))
        h = h + self.temb_proj(_swish(temb))[:, :, None, None]
        h = self.conv2(self.dropout(_swish(self.norm2(h))))
        skip = self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x
        return skip + h


class AttnBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.norm = _norm(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(x)
        b, c, hh, ww = x.shape
        q = self.q(h).reshape(b, c, -1)
        k = self.k(h).reshape(b, c, -1)
        v = self.v(h).reshape(b, c, -1)
        # softmax over j of q_i . k_j / sqrt(c), applied to v: the fused attention kernel on (B, pixels, C)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        out = out.transpose(1, 2).reshape(b, c, hh, ww)
        return x + self.proj_out(out)


class _Level(nn.Module):
    """One resolution level: ``block`` and ``attn`` lists plus an optional resampler (keys as upstream)."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.ModuleList()
        self.attn = nn.ModuleList()


class _Temb(nn.Module):
    def __init__(self, ch: int, temb_ch: int):
        super().__init__()
        self.dense = nn.ModuleList([nn.Linear(ch, temb_ch), nn.Linear(temb_ch, temb_ch)])


class _Mid(nn.Module):
    def __init__(self, ch: int, temb_ch: int, dropout: float):
        super().__init__()
        self.block_1 = ResnetBlock(ch, ch, temb_ch, dropout)
        self.attn_1 = AttnBlock(ch)
        self.block_2 = ResnetBlock(ch, ch, temb_ch, dropout)


class DDPMUNet(nn.Module):
    """DDPM UNet; ``forward(x, t)`` returns eps for VP-scaled images and timesteps 0..T-1.

    ``gradient_checkpointing = True`` recomputes each block's activations in the backward pass.
    """

    gradient_checkpointing: bool = False

    def __init__(self, config: DDPMConfig):
        super().__init__()
        self.config = cfg = config
        ch, temb_ch = cfg.ch, 4 * cfg.ch
        levels = len(cfg.ch_mult)
        in_mult = (1,) + tuple(cfg.ch_mult)
        self.temb = _Temb(ch, temb_ch)
        self.conv_in = nn.Conv2d(cfg.in_channels, ch, 3, padding=1)

        res = cfg.image_size
        self.down = nn.ModuleList()
        block_in = ch
        for i in range(levels):
            level = _Level()
            block_in, block_out = ch * in_mult[i], ch * cfg.ch_mult[i]
            for _ in range(cfg.num_res_blocks):
                level.block.append(ResnetBlock(block_in, block_out, temb_ch, cfg.dropout))
                block_in = block_out
                if res in cfg.attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i != levels - 1:
                level.downsample = Downsample(block_in, cfg.resamp_with_conv)
                res //= 2
            self.down.append(level)

        self.mid = _Mid(block_in, temb_ch, cfg.dropout)

        up_levels = []
        for i in reversed(range(levels)):
            level = _Level()
            block_out = ch * cfg.ch_mult[i]
            for j in range(cfg.num_res_blocks + 1):
                skip_in = ch * (in_mult[i] if j == cfg.num_res_blocks else cfg.ch_mult[i])
                level.block.append(ResnetBlock(block_in + skip_in, block_out, temb_ch, cfg.dropout))
                block_in = block_out
                if res in cfg.attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i != 0:
                level.upsample = Upsample(block_in, cfg.resamp_with_conv)
                res *= 2
            up_levels.insert(0, level)
        self.up = nn.ModuleList(up_levels)
        self.norm_out = _norm(block_in)
        self.conv_out = nn.Conv2d(block_in, cfg.out_channels, 3, padding=1)

    @property
    def stride(self) -> int:
        return 2 ** (len(self.config.ch_mult) - 1)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        temb = ddpm_timestep_embedding(t, self.config.ch, dtype=x.dtype).to(x.dtype)
        temb = self.temb.dense[1](_swish(self.temb.dense[0](temb)))
        ckpt = self.gradient_checkpointing
        hs = [self.conv_in(x)]
        for level in self.down:
            for j, block in enumerate(level.block):
                h = run_block(ckpt, block, hs[-1], temb)
                if len(level.attn):
                    h = run_block(ckpt, level.attn[j], h)
                hs.append(h)
            if hasattr(level, "downsample"):
                hs.append(level.downsample(hs[-1]))
        h = run_block(ckpt, self.mid.block_1, hs[-1], temb)
        h = run_block(ckpt, self.mid.block_2, run_block(ckpt, self.mid.attn_1, h), temb)
        for level in reversed(self.up):
            for j, block in enumerate(level.block):
                h = run_block(ckpt, block, torch.cat([h, hs.pop()], dim=1), temb)
                if len(level.attn):
                    h = run_block(ckpt, level.attn[j], h)
            if hasattr(level, "upsample"):
                h = level.upsample(h)
        return self.conv_out(_swish(self.norm_out(h)))
