"""The WTSA UNet of DIVD: a 2D UNet run on all frames of a window at once, whose blocks mix the
frames through window-based temporal-spatial attention (see wtsa_attention.py and docs/wtsa.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor, nn

from deblur_cli.models.wtsa_attention import WTSA


@dataclass(frozen=True)
class WTSAConfig:
    channels: tuple[int, ...] = (64, 128, 256)  # feature channels per UNet stage, full resolution first (paper)
    blocks_per_stage: int = 2  # ResBlock + WTSA blocks per stage, in the encoder and again in the decoder (paper)
    windows: tuple[int, ...] = (6, 4, 3, 2)  # window side M of each WTSA module of a block, in order (paper)
    heads: tuple[int, ...] = (2, 4, 8)  # attention heads per stage (32 channels per head)
    mlp_ratio: float = 2.0  # hidden width of a WTSA module's MLP, in multiples of the stage's channels
    max_frames: int = 8  # rows of the learned per-frame positional table = most frames per window
    time_dim: int = 256  # width of the timestep embedding after its MLP
    groups: int = 8  # GroupNorm groups in the ResBlocks (paper)
    in_channels: int = 6  # per frame: the noisy sample x_t (3) then the condition (3)
    out_channels: int = 3  # per frame: the prediction (v or ε, see diffusion/schedule.py)

    def __post_init__(self):
        if len(self.heads) != len(self.channels):
            raise ValueError(f"heads {self.heads} needs one entry per stage of channels {self.channels}")
        if any(c % self.groups for c in self.channels):
            raise ValueError(f"channels {self.channels} must be multiples of groups={self.groups}")

    @property
    def multiple(self) -> int:
        """H and W must be multiples of this: one halving per stage after the first (WTSA pads for its own
        windows)."""
        return 2 ** (len(self.channels) - 1)


WTSA_VARIANTS: dict[str, WTSAConfig] = {
    "wtsa": WTSAConfig(),
    # Small enough to sample on a CPU: half the width, one block per stage, two WTSA modules whose
    # window grids (4 and 3) do not nest, so consecutive modules still mix across window borders.
    "wtsa-s": WTSAConfig(
        channels=(32, 64, 128), blocks_per_stage=1, windows=(4, 3), heads=(1, 2, 4), time_dim=128
    ),
}


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of integer timesteps t (B,) -> (B, dim) float32."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ResBlock(nn.Module):
    """GroupNorm, Swish, 3×3 conv, + timestep embedding, GroupNorm, Swish, 3×3 conv; residual."""

    def __init__(self, c_in: int, c_out: int, time_dim: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(time_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        # Each residual branch starts as the identity, which keeps a deep UNet stable early in training.
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        """x: (N, C_in, H, W); temb: (N, time_dim); returns (N, C_out, H, W)."""
        # In place where autograd allows it (GroupNorm and conv keep their inputs, not their outputs):
        # at 720p each full-size temporary saved is hundreds of MB.
        h = self.conv1(F.silu(self.norm1(x), inplace=True))
        h += rearrange(self.time(F.silu(temb)), "n c -> n c 1 1")
        h = self.conv2(F.silu(self.norm2(h), inplace=True))
        return self.skip(x) + h


class WTSABlock(nn.Module):
    """A ResBlock, the learned per-frame positional encoding, then one WTSA module per window size."""

    no_weight_decay = ("frame_pos",)  # a table of frame positions, not a weight: training leaves it undecayed

    def __init__(self, c_in: int, c_out: int, heads: int, config: WTSAConfig):
        super().__init__()
        self.res = ResBlock(c_in, c_out, config.time_dim, config.groups)
        self.frame_pos = nn.Parameter(torch.zeros(config.max_frames, c_out))
        self.attn = nn.ModuleList(WTSA(c_out, heads, m, config.mlp_ratio) for m in config.windows)

    def forward(self, x: Tensor, temb: Tensor, frames: int) -> Tensor:
        """x: (B·F, C_in, H, W) frame-major per clip; temb: (B·F, time_dim); returns (B·F, C_out, H, W)."""
        x = self.res(x, temb)
        x = rearrange(x, "(b f) c h w -> b f h w c", f=frames)
        x = x + rearrange(self.frame_pos[:frames], "f c -> f 1 1 c")
        for module in self.attn:
            x = module(x)
        return rearrange(x, "b f h w c -> (b f) c h w")


def learned_frames(tables: list[Tensor], max_frames: int) -> int:
    """How many frames the positional tables `tables` (each (max_frames, C)) learned: the rows up to the last
    that is not zero in some table (see WTSAUNet.learned_frames); `max_frames` where all are zero."""
    learned = 0
    for table in tables:
        rows = (table != 0).any(dim=1).nonzero()
        learned = max(learned, int(rows[-1]) + 1 if len(rows) else 0)
    return learned or max_frames


class WTSAUNet(nn.Module):
    """Predicts v (or ε) for every frame of a window from the noisy frames, the condition and t."""

    def __init__(self, config: WTSAConfig = WTSAConfig()):
        super().__init__()
        self.config = config
        stages = len(config.channels)
        self.multiple = config.multiple
        self.max_frames = config.max_frames
        c0 = config.channels[0]
        self.time_mlp = nn.Sequential(nn.Linear(c0, config.time_dim), nn.SiLU(), nn.Linear(config.time_dim, config.time_dim))
        self.stem = nn.Conv2d(config.in_channels, c0, 3, padding=1)

        self.encoder = nn.ModuleList()
        self.down = nn.ModuleList()
        c_prev = c0
        for s, (c, heads) in enumerate(zip(config.channels, config.heads)):
            blocks = []
            for _ in range(config.blocks_per_stage):
                blocks.append(WTSABlock(c_prev, c, heads, config))
                c_prev = c
            self.encoder.append(nn.ModuleList(blocks))
            if s < stages - 1:
                self.down.append(nn.Conv2d(c, config.channels[s + 1], 3, stride=2, padding=1))
                c_prev = config.channels[s + 1]

        self.up = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for s in reversed(range(stages - 1)):
            c, heads = config.channels[s], config.heads[s]
            self.up.append(nn.Conv2d(config.channels[s + 1], c, 3, padding=1))
            blocks = [WTSABlock(2 * c if i == 0 else c, c, heads, config) for i in range(config.blocks_per_stage)]
            self.decoder.append(nn.ModuleList(blocks))

        self.head_norm = nn.GroupNorm(config.groups, c0)
        self.head = nn.Conv2d(c0, config.out_channels, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def learned_frames(self) -> int:
        """How many frames of a window the positional tables learned: each starts at zero, and training
        with windows of F frames changes only its first F rows, so rows that are zero in every table are
        positions the network never saw. `max_frames` for a network whose tables are all zero (untrained)."""
        tables = [module.frame_pos.detach() for module in self.modules() if isinstance(module, WTSABlock)]
        return learned_frames(tables, self.max_frames)

    def forward(self, x_t: Tensor, cond: Tensor, t: Tensor) -> Tensor:
        """x_t, cond: (B, F, 3, H, W) float, H and W multiples of `multiple`, 1 ≤ F ≤ max_frames;
        t: (B,) int64 timesteps in [0, T). Returns the prediction (B, F, out_channels, H, W)."""
        b, f, _, h, w = x_t.shape
        if cond.shape[:2] != x_t.shape[:2] or cond.shape[3:] != x_t.shape[3:]:
            raise ValueError(f"condition {tuple(cond.shape)} does not match the sample {tuple(x_t.shape)}")
        if x_t.shape[2] + cond.shape[2] != self.config.in_channels:
            raise ValueError(f"sample and condition have {x_t.shape[2]}+{cond.shape[2]} channels, "
                             f"the model takes {self.config.in_channels}")
        if f > self.max_frames:
            raise ValueError(f"{f} frames per window exceed this model's positional table of {self.max_frames}")
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"frame size {h}x{w} is not a multiple of {self.multiple}")
        if t.shape != (b,):
            raise ValueError(f"timesteps must have shape ({b},), got {tuple(t.shape)}")

        temb = self.time_mlp(timestep_embedding(t, self.config.channels[0]).to(x_t.dtype))
        temb = repeat(temb, "b d -> (b f) d", f=f)
        x = self.stem(rearrange(torch.cat([x_t, cond], dim=2), "b f c h w -> (b f) c h w"))
        # Channels-last memory makes the convolutions' (b f) c h w and the attention's b f h w c
        # two views of one buffer, so no copy is needed between them.
        x = x.contiguous(memory_format=torch.channels_last)

        skips = []
        for s, blocks in enumerate(self.encoder):
            for block in blocks:
                x = block(x, temb, f)
            if s < len(self.down):
                skips.append(x)
                x = self.down[s](x)
        for up, blocks in zip(self.up, self.decoder):
            x = up(F.interpolate(x, scale_factor=2.0, mode="nearest"))
            x = torch.cat([x, skips.pop()], dim=1)
            for block in blocks:
                x = block(x, temb, f)

        x = self.head(F.silu(self.head_norm(x)))
        return rearrange(x, "(b f) c h w -> b f c h w", b=b).contiguous()
