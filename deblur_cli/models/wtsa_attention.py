"""WTSA: window-based temporal-spatial self-attention (DIVD paper, eq. 3–4).

Features (B, F, H, W, C) are cut into non-overlapping M×M windows that span all F frames, so each
window holds F·M² tokens and attention mixes space and time at once. The relative position bias is
Swin's: B_img (M² × M²) read from a learnable (2M−1)² table, then repeated over every frame pair,
so it encodes where two tokens sit in the window but not which frames they come from (the
per-frame positional encoding of the enclosing block does that).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor, nn

# Fused CUDA attention kernels put the batch on a grid axis limited to 65535 blocks.
_MAX_WINDOWS_PER_CALL = 2**15
# Off CUDA, attention scores are materialised: bound them to this many elements per call.
_SCORE_BUDGET = 2**26


def window_partition(x: Tensor, m: int) -> Tensor:
    """x: (B, F, H, W, C) with H and W multiples of m; returns (B·H/m·W/m, F·m·m, C), one row per window.

    Tokens in a window are ordered frame-major: index f·m² + i·m + j for frame f, row i, column j.
    """
    return rearrange(x, "b f (nh i) (nw j) c -> (b nh nw) (f i j) c", i=m, j=m)


def window_unpartition(windows: Tensor, m: int, batch: int, height: int, width: int) -> Tensor:
    """The inverse of window_partition: (B·H/m·W/m, F·m·m, C) -> (B, F, H, W, C)."""
    return rearrange(
        windows, "(b nh nw) (f i j) c -> b f (nh i) (nw j) c", b=batch, nh=height // m, nw=width // m, i=m, j=m
    )


def relative_position_index(m: int) -> Tensor:
    """(m², m²) int64: for tokens p = (i1, j1) and q = (i2, j2) of an m×m window, the row of the
    (2m−1)² bias table for their offset, (i1 − i2 + m − 1)·(2m − 1) + (j1 − j2 + m − 1)."""
    rows, cols = torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")
    coords = torch.stack([rows.flatten(), cols.flatten()])  # (2, m²)
    offset = coords[:, :, None] - coords[:, None, :] + (m - 1)  # (2, m², m²), each in [0, 2m−2]
    return offset[0] * (2 * m - 1) + offset[1]


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each F×M×M window, with the relative position bias as the
    float mask of scaled_dot_product_attention (so GPUs can use a fused kernel)."""

    def __init__(self, dim: int, heads: int, window: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"{dim} channels cannot be split into {heads} heads")
        self.heads = heads
        self.window = window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_index", relative_position_index(window), persistent=False)

    def bias(self, frames: int) -> Tensor:
        """(1, heads, F·M², F·M²): B_img repeated over all frame pairs (paper eq. 4). Four dimensions,
        batch broadcast, is the mask layout the fused CPU and GPU kernels accept."""
        b_img = self.bias_table[self.bias_index]  # (M², M², heads)
        return repeat(b_img, "p q h -> 1 h (f1 p) (f2 q)", f1=frames, f2=frames)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, F, H, W, C), any H and W; returns the same shape.

        H and W are zero-padded to multiples of M and cropped back, so border windows also see
        padding tokens (as in Swin); the padding never depends on the image content.
        """
        b, f, h, w, _ = x.shape
        m = self.window
        if h % m or w % m:
            x = F.pad(x, (0, 0, 0, -w % m, 0, -h % m))
        tokens = window_partition(x, m)
        bias = self.bias(f)
        n = tokens.shape[1]
        if tokens.is_cuda:
            chunk = _MAX_WINDOWS_PER_CALL
        else:
            chunk = max(1, _SCORE_BUDGET // (self.heads * n * n))
        out = torch.empty_like(tokens)  # filled chunk by chunk: no second full-size copy from a concatenation
        for start in range(0, len(tokens), chunk):
            out[start : start + chunk] = self._attend(tokens[start : start + chunk], bias)
        out = window_unpartition(out, m, b, x.shape[2], x.shape[3])
        return out[:, :, :h, :w]

    def _attend(self, tokens: Tensor, bias: Tensor) -> Tensor:
        """tokens: (windows, F·M², C) -> same shape."""
        q, k, v = rearrange(self.qkv(tokens), "n t (three h d) -> three n h t d", three=3, h=self.heads)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        return self.proj(rearrange(out, "n h t d -> n t (h d)"))


class WTSA(nn.Module):
    """One WTSA module: pre-norm window attention and a pre-norm MLP, each with a residual."""

    def __init__(self, dim: int, heads: int, window: int, mlp_ratio: float):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, F, H, W, C) -> same shape."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))
