"""Peak signal-to-noise ratio."""

from __future__ import annotations

import torch

from deblur_cli.metrics.checks import check_pair


def psnr(output: torch.Tensor, reference: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """PSNR in dB of each image: 10 log10(data_range² / MSE), the MSE over all channels and pixels (RGB).

    output, reference: (..., C, H, W) float of one shape, values in [0, data_range].
    Returns a float64 tensor of the leading shape (...), one value per image; +inf where the images
    are identical.
    """
    check_pair(output, reference, data_range)
    mse = (output.double() - reference.double()).square().mean(dim=(-3, -2, -1))
    return 10 * torch.log10(data_range**2 / mse)
