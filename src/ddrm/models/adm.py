"""The ADM UNet of "Diffusion Models Beat GANs on Image Synthesis" (Dhariwal & Nichol 2021).

Written from the architecture description so that ``state_dict`` keys and shapes equal those of OpenAI's
guided-diffusion checkpoints (``256x256_diffusion_uncond.pt``, DPS's ``ffhq_10m.pt``) and the forward pass
computes the same function (see ``tests/test_models.py``). Only the loader matters here: sampling logic lives
in the priors and samplers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpointing import run_block

__all__ = ["ADMConfig", "ADMUNet", "adm_timestep_embedding"]


@dataclass(frozen=True)
class ADMConfig:
    """Resolved ADM hyper-parameters (guided-diffusion's ``create_model`` arguments after defaults)."""

    image_size: int = 256
    in_channels: int = 3
    model_channels: int = 256
    out_channels: int = 6
    num_res_blocks: int = 2
    attention_ds: Sequence[int] = (8, 16, 32)  # downsampling rates that get attention
    channel_mult: Sequence[int] = (1, 1, 2, 2, 4, 4)
    num_heads: int = 4
    num_head_channels: int = 64  # -1: use num_heads
    num_heads_upsample: int = -1  # -1: same as num_heads
    use_scale_shift_norm: bool = True
    resblock_updown: bool = True
    conv_resample: bool = True
    dropout: float = 0.0
    middle_attention: bool = True  # False: a purely convolutional net (not a guided-diffusion layout)

    @property
    def learn_sigma(self) -> bool:
        return self.out_channels == 2 * self.in_channels


def _at_least_float32(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


def adm_timestep_embedding(
    t: Tensor, dim: int, max_period: float = 10000.0, dtype: torch.dtype = torch.float32
) -> Tensor:
    """``[cos(t f), sin(t f)]`` with ``f_i = max_period^(-i / half)``, cos first (ADM convention).

    Computed in float32 (or float64 when ``dtype`` asks for it)."""
    dtype = _at_least_float32(dtype)
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=dtype, device=t.device) / half)
    args = t.to(dtype)[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class GroupNorm32(nn.GroupNorm):
    """GroupNorm(32, C) computed in (at least) float32 and cast back, as ADM does for fp16 safety."""

    def __init__(self, channels: int):
        super().__init__(32, channels, eps=1e-5)

    def forward(self, x: Tensor) -> Tensor:
        dt = _at_least_float32(x.dtype)
        return F.group_norm(x.to(dt), self.num_groups, self.weight.to(dt), self.bias.to(dt), self.eps).to(x.dtype)


class _Resample(nn.Module):
    """Parameter-free 2x resampling used inside up/down ResBlocks."""

    def __init__(self, up: bool):
        super().__init__()
        self.up = up

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=2, mode="nearest") if self.up else F.avg_pool2d(x, 2, 2)


class Upsample(nn.Module):
    def __init__(self, channels: int, use_conv: bool, out_channels: int | None = None):
        super().__init__()
        out_channels = out_channels or channels
        self.use_conv = use_conv
        if use_conv:
            self.conv = nn.Conv2d(channels, out_channels, 3, padding=1)

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv(x) if self.use_conv else x


class Downsample(nn.Module):
    def __init__(self, channels: int, use_conv: bool, out_channels: int | None = None):
        super().__init__()
        out_channels = out_channels or channels
        self.use_conv = use_conv
        if use_conv:
            self.op = nn.Conv2d(channels, out_channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        return self.op(x) if self.use_conv else F.avg_pool2d(x, 2, 2)


class ResBlock(nn.Module):
    """GN-SiLU-conv, timestep injection (additive or scale-shift), GN-SiLU-dropout-conv, plus a skip."""

    def __init__(
        self,
        channels: int,
        emb_channels: int,
        dropout: float,
        out_channels: int | None = None,
        use_scale_shift_norm: bool = False,
        up: bool = False,
        down: bool = False,
    ):
        super().__init__()
        out_channels = out_channels or channels
        self.use_scale_shift_norm = use_scale_shift_norm
        self.in_layers = nn.Sequential(
            GroupNorm32(channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1)
        )
        self.updown = up or down
        if self.updown:
            self.h_upd = _Resample(up)
            self.x_upd = _Resample(up)
        self.emb_layers = nn.Sequential(
            nn.SiLU(), nn.Linear(emb_channels, 2 * out_channels if use_scale_shift_norm else out_channels)
        )
        self.out_layers = nn.Sequential(
            GroupNorm32(out_channels),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.skip_connection = nn.Identity() if out_channels == channels else nn.Conv2d(channels, out_channels, 1)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        if self.updown:
            h = self.in_layers[:-1](x)
            h = self.in_layers[-1](self.h_upd(h))
            x = self.x_upd(x)
        else:
            h = self.in_layers(x)
        emb_out = self.emb_layers(emb).to(h.dtype)[..., None, None]
        if self.use_scale_shift_norm:
            scale, shift = emb_out.chunk(2, dim=1)
            h = self.out_layers[0](h) * (1 + scale) + shift
            h = self.out_layers[1:](h)
        else:
            h = self.out_layers(h + emb_out)
        return self.skip_connection(x) + h


class AttentionBlock(nn.Module):
    """Multi-head self-attention over pixels with the legacy QKV layout ``[h0: q k v | h1: q k v | ...]``."""

    def __init__(self, channels: int, num_heads: int = 1, num_head_channels: int = -1):
        super().__init__()
        if num_head_channels == -1:
            self.num_heads = num_heads
        else:
            if channels % num_head_channels:
                raise ValueError(f"{channels} channels are not divisible by {num_head_channels} channels per head")
            self.num_heads = channels // num_head_channels
        self.norm = GroupNorm32(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        b, c, *spatial = x.shape
        flat = x.reshape(b, c, -1)
        qkv = self.qkv(self.norm(flat))
        length = qkv.shape[-1]
        ch = c // self.num_heads
        q, k, v = qkv.reshape(b * self.num_heads, 3 * ch, length).split(ch, dim=1)
        # softmax(q^T k / sqrt(ch)) v^T through the fused kernel (flash / memory-efficient on GPUs, which keep the
        # softmax in float32 for half inputs, as the legacy code's float32 softmax does)
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        a = a.transpose(1, 2).reshape(b, c, length)
        return (flat + self.proj_out(a)).reshape(b, c, *spatial)


class TimestepSequential(nn.Sequential):
    """A sequence whose ResBlocks receive the timestep embedding."""

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:  # type: ignore[override]
        for layer in self:
            x = layer(x, emb) if isinstance(layer, (ResBlock, AttentionBlock, Upsample, Downsample)) else layer(x)
        return x


class ADMUNet(nn.Module):
    """ADM UNet; ``forward(x, t)`` takes VP-scaled images and (possibly fractional) timesteps 0..T-1.

    ``gradient_checkpointing = True`` recomputes each block's activations in the backward pass.
    """

    gradient_checkpointing: bool = False

    def __init__(self, config: ADMConfig):
        super().__init__()
        self.config = cfg = config
        mc = cfg.model_channels
        emb_dim = 4 * mc
        heads_up = cfg.num_heads if cfg.num_heads_upsample == -1 else cfg.num_heads_upsample
        self.time_embed = nn.Sequential(nn.Linear(mc, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))

        ch = int(cfg.channel_mult[0] * mc)
        self.input_blocks = nn.ModuleList([TimestepSequential(nn.Conv2d(cfg.in_channels, ch, 3, padding=1))])
        skip_channels = [ch]
        ds = 1
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks):
                layers: list[nn.Module] = [ResBlock(ch, emb_dim, cfg.dropout, int(mult * mc), cfg.use_scale_shift_norm)]
                ch = int(mult * mc)
                if ds in cfg.attention_ds:
                    layers.append(AttentionBlock(ch, cfg.num_heads, cfg.num_head_channels))
                self.input_blocks.append(TimestepSequential(*layers))
                skip_channels.append(ch)
            if level != len(cfg.channel_mult) - 1:
                down = (
                    ResBlock(ch, emb_dim, cfg.dropout, ch, cfg.use_scale_shift_norm, down=True)
                    if cfg.resblock_updown
                    else Downsample(ch, cfg.conv_resample, ch)
                )
                self.input_blocks.append(TimestepSequential(down))
                skip_channels.append(ch)
                ds *= 2

        middle: list[nn.Module] = [ResBlock(ch, emb_dim, cfg.dropout, use_scale_shift_norm=cfg.use_scale_shift_norm)]
        if cfg.middle_attention:
            middle.append(AttentionBlock(ch, cfg.num_heads, cfg.num_head_channels))
        middle.append(ResBlock(ch, emb_dim, cfg.dropout, use_scale_shift_norm=cfg.use_scale_shift_norm))
        self.middle_block = TimestepSequential(*middle)

        self.output_blocks = nn.ModuleList()
        for level, mult in list(enumerate(cfg.channel_mult))[::-1]:
            for i in range(cfg.num_res_blocks + 1):
                skip = skip_channels.pop()
                layers = [ResBlock(ch + skip, emb_dim, cfg.dropout, int(mc * mult), cfg.use_scale_shift_norm)]
                ch = int(mc * mult)
                if ds in cfg.attention_ds:
                    layers.append(AttentionBlock(ch, heads_up, cfg.num_head_channels))
                if level and i == cfg.num_res_blocks:
                    layers.append(
                        ResBlock(ch, emb_dim, cfg.dropout, ch, cfg.use_scale_shift_norm, up=True)
                        if cfg.resblock_updown
                        else Upsample(ch, cfg.conv_resample, ch)
                    )
                    ds //= 2
                self.output_blocks.append(TimestepSequential(*layers))

        self.out = nn.Sequential(GroupNorm32(ch), nn.SiLU(), nn.Conv2d(ch, cfg.out_channels, 3, padding=1))

    @property
    def stride(self) -> int:
        """Input sides must be multiples of this (one 2x downsampling per level but the last)."""
        return 2 ** (len(self.config.channel_mult) - 1)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        emb = self.time_embed(adm_timestep_embedding(t, self.config.model_channels, dtype=x.dtype).to(x.dtype))
        hs = []
        h = x
        ckpt = self.gradient_checkpointing
        for block in self.input_blocks:
            h = run_block(ckpt, block, h, emb)
            hs.append(h)
        h = run_block(ckpt, self.middle_block, h, emb)
        for block in self.output_blocks:
            h = run_block(ckpt, block, torch.cat([h, hs.pop()], dim=1), emb)
        return self.out(h)
