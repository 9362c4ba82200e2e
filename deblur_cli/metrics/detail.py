"""Fine detail: the RMS of the luma's Laplacian, the energy of a picture's finest structure. A blurred frame has
less of it than its sharp truth, a restoration that sharpens has more, one that smooths texture away less."""

from __future__ import annotations

import torch

from deblur_cli.filters import laplacian, luma


def detail(frames: torch.Tensor) -> torch.Tensor:
    """RMS of the Laplacian of the BT.601 luma of frames (..., 3, H, W) in [0, 1], over each frame's inner pixels
    (those with all four neighbours): (...,) in float64. Frames need 3x3 pixels or more."""
    if min(frames.shape[-2:]) < 3:
        raise ValueError(f"detail needs frames of 3x3 pixels or more, got {tuple(frames.shape[-2:])}")
    return laplacian(luma(frames.double())).square().mean(dim=(-2, -1)).sqrt()
