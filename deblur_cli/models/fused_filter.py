"""The per-pixel 3x3 filter (dynamic_filter.pixel_filter_3x3) as one fused Triton kernel, for CUDA.

The PyTorch path upsamples each of the nine kernel taps into a full-resolution buffer and multiply-adds
it: some five passes over the features per tap. This kernel reads the features and the low-resolution
kernels once and writes the output once: each program takes a block of pixels and channels of one
sample, interpolates the nine taps bilinearly where it needs them (align_corners=False, edges clamped,
PyTorch's formula) and sums the nine products in float32, rounding once to the output dtype.

It runs on CUDA devices with Triton 3.0 or later installed (PyTorch's CUDA builds from 2.4 bring it),
without autograd, and with TRITON_INTERPRET=1 on the CPU too, where its tests run it (numpy emulates each
program, slowly). Whether a run uses it is `dynamic_filter.use_fused_filter`'s call.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util

import torch
from torch import Tensor


@functools.lru_cache(maxsize=1)
def triton_installed() -> bool:
    """Whether Triton 3.0 or later is installed: the kernel is written and tested for its language (the
    tests skip older ones, which PyTorch's CUDA builds before 2.4 bring)."""
    if importlib.util.find_spec("triton") is None:
        return False
    try:
        major = int(importlib.metadata.version("triton").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    return major >= 3


def fused_pixel_filter_3x3(x: Tensor, kernels_low: Tensor, scale: int) -> Tensor:
    """pixel_filter_3x3(x, kernels_low, scale) in one kernel: x (N, C, H, W) and kernels_low
    (N, 9C, H/scale, W/scale), any strides, one dtype; returns (N, C, H, W) in x's dtype, channels-last.
    The caller checks the shapes. Needs Triton, and a CUDA device unless TRITON_INTERPRET=1."""
    n, c, h, w = x.shape
    low_h, low_w = kernels_low.shape[-2:]
    out = torch.empty_like(x, memory_format=torch.channels_last)
    block_c = min(64, _power_of_two_at_least(c))
    block_p = max(16, 4096 // block_c // 4)  # about 1024 values a program: 16 to 64 pixels
    grid = (-(-h * w // block_p), -(-c // block_c), n)
    _kernel()[grid](
        x, kernels_low, out,
        c, h, w, low_h, low_w,
        *x.stride(), *kernels_low.stride(), *out.stride(),
        1.0 / scale,
        BLOCK_P=block_p, BLOCK_C=block_c,
    )  # fmt: skip
    return out


def _power_of_two_at_least(value: int) -> int:
    return 1 << max(0, value - 1).bit_length()


@functools.lru_cache(maxsize=1)
def _kernel():
    """The jitted kernel, built on first use: importing Triton costs a second, and only CUDA runs need it."""
    import triton
    import triton.language as tl

    @triton.jit
    def pixel_filter_kernel(
        x_ptr, k_ptr, out_ptr,
        channels, height, width, low_height, low_width,
        x_sn, x_sc, x_sy, x_sx,
        k_sn, k_sc, k_sy, k_sx,
        o_sn, o_sc, o_sy, o_sx,
        inverse_scale,
        BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr,
    ):  # fmt: skip
        sample = tl.program_id(2).to(tl.int64)  # N x C x H x W may pass 2^31 values
        pixels = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
        chans = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
        pixel_in, chan_in = pixels < height * width, chans < channels
        row, col = pixels // width, pixels % width
        # where each output pixel samples the low-resolution kernels (PyTorch's bilinear, align_corners=False)
        source_y = tl.maximum((row.to(tl.float32) + 0.5) * inverse_scale - 0.5, 0.0)
        source_x = tl.maximum((col.to(tl.float32) + 0.5) * inverse_scale - 0.5, 0.0)
        y0, x0 = source_y.to(tl.int32), source_x.to(tl.int32)  # floor: both are >= 0
        y1, x1 = tl.minimum(y0 + 1, low_height - 1), tl.minimum(x0 + 1, low_width - 1)
        wy1, wx1 = source_y - y0.to(tl.float32), source_x - x0.to(tl.float32)
        wy0, wx0 = 1.0 - wy1, 1.0 - wx1
        k_base = k_ptr + sample * k_sn
        corner00 = (y0 * k_sy + x0 * k_sx)[:, None]
        corner01 = (y0 * k_sy + x1 * k_sx)[:, None]
        corner10 = (y1 * k_sy + x0 * k_sx)[:, None]
        corner11 = (y1 * k_sy + x1 * k_sx)[:, None]
        both = pixel_in[:, None] & chan_in[None, :]
        total = tl.zeros((BLOCK_P, BLOCK_C), dtype=tl.float32)
        for i in tl.static_range(3):
            for j in tl.static_range(3):
                tap = k_base + ((chans * 9 + i * 3 + j) * k_sc)[None, :]
                top = wx0[:, None] * tl.load(tap + corner00, mask=both, other=0.0).to(tl.float32)
                top += wx1[:, None] * tl.load(tap + corner01, mask=both, other=0.0).to(tl.float32)
                bottom = wx0[:, None] * tl.load(tap + corner10, mask=both, other=0.0).to(tl.float32)
                bottom += wx1[:, None] * tl.load(tap + corner11, mask=both, other=0.0).to(tl.float32)
                weight = wy0[:, None] * top + wy1[:, None] * bottom
                y, x = row + (i - 1), col + (j - 1)
                inside = pixel_in & (y >= 0) & (y < height) & (x >= 0) & (x < width)
                offset = (y * x_sy + x * x_sx)[:, None] + (chans * x_sc)[None, :]
                value = tl.load(x_ptr + sample * x_sn + offset, mask=inside[:, None] & chan_in[None, :], other=0.0)
                total += weight * value.to(tl.float32)
        target = out_ptr + sample * o_sn + (row * o_sy + col * o_sx)[:, None] + (chans * o_sc)[None, :]
        tl.store(target, total.to(out_ptr.dtype.element_ty), mask=both)

    return pixel_filter_kernel
