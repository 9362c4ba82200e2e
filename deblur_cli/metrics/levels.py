"""Rounding to the levels a video or image file stores, before measuring."""

from __future__ import annotations

import torch


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    """Float frames rounded to the 256 levels of an 8-bit file (clamped to [0, 1]), as float32: halves
    up, with the writers' arithmetic (pipeline.to_image), so a frame scores as its saved file does."""
    # times 1/255, not divided by 255: the same float32 as stream.as_float makes of the 8-bit value, so a
    # frame equal to its reference scores an infinite PSNR (division differs in the last bit)
    return (x.float().clamp(0, 1) * 255 + 0.5).floor().mul_(1 / 255)
