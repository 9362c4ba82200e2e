"""Temporal consistency: flicker of an output beyond what the reference itself does."""

from __future__ import annotations

import torch

from deblur_cli.metrics.checks import check_pair


def temporal_error(output: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean |Δt output − Δt reference| over consecutive frames, channels and pixels, in 8-bit levels.

    Δt x = x[t+1] − x[t]. A restoration whose frame-to-frame changes match the reference's scores 0,
    whatever its static error; flicker, shimmering texture and jumps at window seams raise it.
    output, reference: (T, C, H, W) float in [0, 1], T >= 2. Lower is better; 0 means the output
    changes over time exactly as the reference does.
    """
    check_pair(output, reference)
    if output.dim() != 4 or output.shape[0] < 2:
        raise ValueError(f"the temporal error needs clips (T, C, H, W) with T >= 2, got {tuple(output.shape)}")
    d_out = output[1:].double() - output[:-1].double()
    d_ref = reference[1:].double() - reference[:-1].double()
    return float((d_out - d_ref).abs().mean()) * 255
