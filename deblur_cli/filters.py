"""Image filters that several layers share: BT.601 luma (scene cuts, still regions, fine detail), the normalised
1-D Gaussian (still regions, SSIM, kept detail) and the 4-neighbour Laplacian (`metrics.detail`, kept detail). torch
only, so that the run path need not import `metrics`, which loads LPIPS
and NIQE assets."""

from __future__ import annotations

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)  # of R, G and B (BT.601): the brightness a picture's changes are measured on


def luma(frames: torch.Tensor) -> torch.Tensor:
    """The luma (..., H, W) of frames (..., 3, H, W), float, in their dtype and on their device."""
    # one multiply and add at a time, not einsum: its reduction (fused multiply-adds on some CPUs) rounded
    # differently from CPU to CPU, and a scene cut or a still region must not depend on the machine
    r, g, b = frames.unbind(-3)
    return LUMA[0] * r + LUMA[1] * g + LUMA[2] * b


def gaussian_window(
    size: int, sigma: float, *, dtype: torch.dtype = torch.float64, device: torch.device | None = None
) -> torch.Tensor:
    """The normalised 1-D Gaussian (size,) of standard deviation `sigma`, centred on the middle tap, computed in
    `dtype` on `device` (a kernel made where it is used is the same on every call)."""
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64).view(1, 1, 3, 3)


def laplacian(images: torch.Tensor) -> torch.Tensor:
    """The 4-neighbour Laplacian of images (..., H, W) over their inner pixels (those with all four neighbours):
    (..., H - 2, W - 2), in the images' dtype and on their device."""
    response = F.conv2d(images.reshape(-1, 1, *images.shape[-2:]), _LAPLACIAN.to(images))
    return response.reshape(*images.shape[:-2], *response.shape[-2:])
