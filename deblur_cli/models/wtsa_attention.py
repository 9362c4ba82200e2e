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

from deblur_cli.models.compiling import compiling

# Fused CUDA attention kernels put the batch on a grid axis limited to 65535 blocks.
_MAX_WINDOWS_PER_CALL = 2**15
# Off CUDA, a WTSA module runs a chunk of windows at a time, its largest temporary (the qkv
# projection, the MLP's hidden layer or the attention scores) at most this many bytes: small enough
# for glibc to serve from memory it has already mapped (it maps blocks over 32 MiB afresh each time,
# and the page faults cost as much as the arithmetic), large enough that the matrix products stay
# efficient.
_CPU_CHUNK_BYTES = 2**24


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
    (2m−1)² bias table for their offset, (i1 − i2 + m − 1)·(2m − 1) + (j1 − j2 + m − 1). Made on the CPU
    whatever the default device: on the meta device (checkpoint.build_to_fit) its stack costs torch 1.7 s
    of set-up the first time."""
    arange = torch.arange(m, device="cpu")
    rows, cols = torch.meshgrid(arange, arange, indexing="ij")
    coords = torch.stack([rows.flatten(), cols.flatten()])  # (2, m²)
    offset = coords[:, :, None] - coords[:, None, :] + (m - 1)  # (2, m², m²), each in [0, 2m−2]
    return offset[0] * (2 * m - 1) + offset[1]


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each F×M×M window, with the relative position bias as the
    float mask of scaled_dot_product_attention (so GPUs can use a fused kernel)."""

    no_weight_decay = ("bias_table",)  # a table of offsets, not a weight: training leaves it undecayed, as Swin does

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

    def forward(self, tokens: Tensor, bias: Tensor) -> Tensor:
        """tokens: (windows, F·M², C) as window_partition lays them out; bias: self.bias(F).
        Returns the same shape."""
        q, k, v = rearrange(self.qkv(tokens), "n t (three h d) -> three n h t d", three=3, h=self.heads)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        return self.proj(rearrange(out, "n h t d -> n t (h d)"))


class WTSA(nn.Module):
    """One WTSA module: pre-norm window attention and a pre-norm MLP, each with a residual.

    Both norms, the MLP and the residuals act on each token alone, so the whole module runs in the
    window layout: x is partitioned once, every step runs on one chunk of windows at a time (off
    CUDA, chunks small enough that no temporary is large), and the result is put back once. H and W
    are padded to multiples of M and cropped back; the padding tokens enter attention as zeros, as
    if the normalised features were zero-padded (Swin's convention), so border windows see the same
    padding whatever the image holds.
    """

    def __init__(self, dim: int, heads: int, window: int, mlp_ratio: float):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, F, H, W, C), any H and W -> same shape."""
        b, f, h, w, _ = x.shape
        m = self.attn.window
        pad = (0, 0, 0, -w % m, 0, -h % m)
        tokens = window_partition(F.pad(x, pad) if any(pad) else x, m)  # a copy
        # 1 for image tokens, 0 for padding: (windows, F·M², 1), None without padding.
        inside = window_partition(F.pad(x.new_ones(b, f, h, w, 1), pad), m) if any(pad) else None
        bias = self.attn.bias(f)
        # Without autograd each chunk's result overwrites its input, which nothing reads again, unless
        # the partition needed no copy and `tokens` is the caller's x.
        records_graph = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in self.parameters()))
        in_place = not (records_graph or compiling()) and (
            tokens.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()
        )
        out = tokens if in_place else torch.empty_like(tokens)
        chunk = self._windows_per_call(tokens)
        for start in range(0, len(tokens), chunk):
            part = tokens[start : start + chunk]
            normed = self.norm1(part)
            if inside is not None:
                normed = normed * inside[start : start + chunk]
            part = part + self.attn(normed, bias)
            out[start : start + chunk] = part + self.mlp(self.norm2(part))
        return window_unpartition(out, m, b, h + pad[5], w + pad[3])[:, :, :h, :w]

    def _windows_per_call(self, tokens: Tensor) -> int:
        _, n, dim = tokens.shape
        if tokens.is_cuda:
            return _MAX_WINDOWS_PER_CALL
        widest = max(3 * dim, self.mlp[0].out_features, self.attn.heads * n)  # per token
        return max(1, _CPU_CHUNK_BYTES // (n * widest * tokens.element_size()))
