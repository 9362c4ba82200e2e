"""Rounding to the levels a video or image file stores, before measuring."""

from __future__ import annotations

import torch

from deblur_cli.levels import peak
from deblur_cli.metrics.checks import require_tensor


def to_levels(x: torch.Tensor, bit_depth: int) -> torch.Tensor:
    """Float frames rounded to the levels of a file of `bit_depth` (clamped to [0, 1]), as float32: 255
    for 8 bits, 65535 above (`levels.peak`), halves up, to the levels the writers store
    (levels.to_image), so a frame scores as its saved file does."""
    require_tensor(x)
    top = peak(bit_depth)
    # times 1/peak, not divided by it: the same float32 as frames read from files (levels.as_float,
    # levels.to_tensor), so a frame equal to its reference scores an infinite PSNR (division differs
    # in the last bit). Rounded in float rather than through levels.to_levels' integers: a NaN output
    # stays NaN, and scores NaN, where an integer cast would make it a level.
    return (x.float().clamp(0, 1) * top + 0.5).floor().mul_(1 / top)


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    """Float frames rounded to the 256 levels of an 8-bit file (see to_levels)."""
    return to_levels(x, 8)
