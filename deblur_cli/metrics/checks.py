"""Input checks shared by the full-reference metrics."""

from __future__ import annotations

import torch


def check_pair(output: torch.Tensor, reference: torch.Tensor) -> None:
    """ValueError unless both are floating (..., C, H, W) tensors of the same shape."""
    if output.shape != reference.shape:
        raise ValueError(f"output and reference differ in shape: {tuple(output.shape)} vs {tuple(reference.shape)}")
    if output.dim() < 3:
        raise ValueError(f"expected images of shape (..., C, H, W), got {tuple(output.shape)}")
    if not (output.is_floating_point() and reference.is_floating_point()):
        raise ValueError(f"expected float images, got {output.dtype} and {reference.dtype}")
