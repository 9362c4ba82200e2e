"""The restorer contract: what every model looks like to the pipeline."""

from __future__ import annotations

from typing import Callable, Protocol

import torch


class Restorer(Protocol):
    """Restores one temporal window.

    __call__(frames): frames (T, 3, H, W) float in [0, 1] on `device`, H and W multiples of
    `multiple`; returns a tensor of the same shape, dtype and device, clamped to [0, 1].
    """

    multiple: int  # H and W must be multiples of this (the pipeline pads, once)
    max_frames: int | None  # longest window the model accepts, None = any
    device: torch.device
    bytes_per_pixel: float  # working memory per pixel per frame of a window, for automatic tile sizes

    def __call__(self, frames: torch.Tensor) -> torch.Tensor: ...


ProgressFn = Callable[[int, int], None]
"""Called as progress(done, total) by long loops (sampler steps, frames); total may be 0 if unknown."""
