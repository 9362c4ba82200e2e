"""Dynamic 3x3 filters: depthwise convolutions whose kernels are predicted from the features they filter.

Both run in plain PyTorch on any device and float dtype. The per-pixel filter never materialises the
nine-fold kernel tensor or an unfolded copy of its input: it upsamples one kernel tap at a time and
adds it as a shifted multiply-add, so its memory is about twice that of its input. On the CPU in
bf16 the upsampling is two matrix products with fixed interpolation matrices, one per axis, which
the CPU's matrix units run up to three times faster than PyTorch's bilinear kernel
(docs/dstnet.md, "The per-pixel filter on the CPU"). On CUDA, with DEBLUR_FUSED_FILTER=1 in the
environment, inference uses one fused Triton kernel instead (fused_filter.py; off by default until a GPU
benchmark shows it is faster).
"""

from __future__ import annotations

import os
from functools import lru_cache

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from deblur_cli.models.compiling import compiling
from deblur_cli.models.fused_filter import fused_pixel_filter_3x3, triton_installed

FUSED_FILTER_ENV = "DEBLUR_FUSED_FILTER"  # "1": the fused Triton kernel for CUDA inference

_TAPS = [(i, j) for i in range(3) for j in range(3) if (i, j) != (1, 1)]  # all but the centre


def channel_filter_3x3(x: Tensor, kernels: Tensor, bias: Tensor | None = None) -> Tensor:
    """One 3x3 kernel per sample and channel, zero padding.

    x: (N, C, H, W); kernels: (N, C, 3, 3); bias: (C,) or None. Returns (N, C, H, W):
    out[n, c] = conv(x[n, c], kernels[n, c]) + bias[c] (cross-correlation, as nn.Conv2d).
    """
    channels = x.shape[1]
    # split(1) keeps each sample's strides, so channels-last input gives channels-last output.
    filtered = [
        F.conv2d(sample, kernel.unsqueeze(1), bias, padding=1, groups=channels)
        for sample, kernel in zip(x.split(1), kernels)
    ]
    return filtered[0] if len(filtered) == 1 else torch.cat(filtered)


def pixel_filter_3x3(x: Tensor, kernels_low: Tensor, scale: int) -> Tensor:
    """One 3x3 kernel per sample, channel and pixel, predicted at 1/scale resolution.

    x: (N, C, H, W); kernels_low: (N, 9C, H/scale, W/scale), channel 9c + 3i + j holding tap (i, j)
    of channel c. With K the bilinear upsampling (align_corners=False) of kernels_low by `scale`:

        out[n, c, y, x] = sum_{i,j} K[n, 9c + 3i + j, y, x] * x[n, c, y + i - 1, x + j - 1]

    with x zero outside the image. Returns (N, C, H, W) in x's dtype, channels-last.
    """
    n, c, h, w = x.shape
    if kernels_low.shape != (n, 9 * c, h // scale, w // scale) or h % scale or w % scale:
        raise ValueError(f"kernels {tuple(kernels_low.shape)} do not fit features {tuple(x.shape)} at scale {scale}")
    taps_low = rearrange(kernels_low, "n (c i j) h w -> i j n c h w", i=3, j=3)
    records_graph = torch.is_grad_enabled() and (x.requires_grad or kernels_low.requires_grad)
    if not records_graph and use_fused_filter(x):
        return fused_pixel_filter_3x3(x, kernels_low, scale)
    x = x.contiguous(memory_format=torch.channels_last)
    # Without autograd one buffer serves all nine taps; a fresh tensor per tap costs page faults.
    # torch.compile plans its own buffers, and out= arguments would break its graph.
    buffer = None if records_graph or compiling() else torch.empty_like(x)

    def upsampled(i: int, j: int) -> Tensor:
        if x.device.type == "cpu" and x.dtype == torch.bfloat16:
            return upsample_by_products(taps_low[i, j], scale, out=buffer)
        tap = taps_low[i, j].contiguous(memory_format=torch.channels_last)
        if buffer is None:
            return F.interpolate(tap, scale_factor=scale, mode="bilinear", align_corners=False)
        return torch.ops.aten.upsample_bilinear2d.out(tap, [h, w], False, float(scale), float(scale), out=buffer)

    out = x * upsampled(1, 1)
    for i, j in _TAPS:
        dy, dx = i - 1, j - 1
        rows_out, cols_out = slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx))
        rows_in, cols_in = slice(max(0, dy), h - max(0, -dy)), slice(max(0, dx), w - max(0, -dx))
        kernel = upsampled(i, j)
        out[:, :, rows_out, cols_out].addcmul_(x[:, :, rows_in, cols_in], kernel[:, :, rows_out, cols_out])
    return out


def use_fused_filter(x: Tensor) -> bool:
    """Whether inference on `x` takes the fused Triton kernel: asked for (FUSED_FILTER_ENV), on CUDA (or
    on Triton's CPU interpreter, TRITON_INTERPRET=1, as the tests run it), with Triton installed, and not
    while torch.compile traces (it fuses the PyTorch path itself)."""
    # compiling() first: torch 2.3's Dynamo cannot trace os.environ.get, and broke the graph there
    if compiling() or os.environ.get(FUSED_FILTER_ENV) != "1" or not triton_installed():
        return False
    return x.device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


def upsample_by_products(low: Tensor, scale: int, out: Tensor | None = None) -> Tensor:
    """F.interpolate(low, scale_factor=scale, mode="bilinear", align_corners=False) as two matrix
    products, along the width then along the height. low: (N, C, h, w); returns (N, C, h·scale,
    w·scale) channels-last, written into `out` (channels-last, that shape) when given. In half
    precision the width pass is rounded once more than the fused kernel rounds."""
    n, c, h, w = low.shape
    rows = interpolation_matrix(h, scale, low.dtype, low.device)  # (H, h)
    cols = interpolation_matrix(w, scale, low.dtype, low.device)  # (W, w)
    along_width = torch.matmul(cols, low.permute(0, 2, 3, 1))  # (N, h, W, C)
    flat = along_width.reshape(n, h, -1)  # (N, h, W·C)
    if out is None:
        result = torch.matmul(rows, flat)
    else:
        result = torch.matmul(rows, flat, out=out.permute(0, 2, 3, 1).view(n, h * scale, -1))
    return result.view(n, h * scale, w * scale, c).permute(0, 3, 1, 2)


@lru_cache(maxsize=32)
def interpolation_matrix(size: int, scale: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """(size·scale, size): row k holds the weights of linear interpolation at output sample k, with
    the sample grid of align_corners=False, source position (k + 0.5)/scale − 0.5 clamped to
    [0, size − 1] (each row sums to 1, at most two weights, both multiples of 1/(2·scale)).
    Cached, so built as an ordinary tensor even under inference mode: autograd may use it later."""
    with torch.inference_mode(False):
        target = torch.arange(size * scale, dtype=torch.float64)
        source = ((target + 0.5) / scale - 0.5).clamp(0, size - 1)
        below = source.floor().long()
        above = (below + 1).clamp(max=size - 1)
        weight_above = source - below
        matrix = torch.zeros(size * scale, size, dtype=torch.float64)
        rows = torch.arange(size * scale)
        matrix.index_put_((rows, below), 1 - weight_above, accumulate=True)
        matrix.index_put_((rows, above), weight_above, accumulate=True)
        return matrix.to(dtype=dtype, device=device)
