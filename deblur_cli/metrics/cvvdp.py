"""ColorVideoVDP (Mantiuk et al., SIGGRAPH 2024), used only when the `cvvdp` package is installed.

It is a full-reference perceptual video metric in JOD units (10 = indistinguishable from the
reference, higher is better). Its parameters ship inside the package; nothing is downloaded.
"""

from __future__ import annotations

from typing import Callable

import torch

DISPLAY = "standard_fhd"  # the package's 24-inch full-HD SDR office display

VideoMetric = Callable[[torch.Tensor, torch.Tensor, float], float]


def load_cvvdp(device: torch.device) -> VideoMetric | None:
    """A function (output, reference, fps) -> JOD for clips (T, 3, H, W) float in [0, 1] (sRGB);
    None when the package is not installed or cannot be imported."""
    try:
        import pycvvdp
    except Exception:  # an installed but broken package (e.g. a torchvision mismatch) counts as absent
        return None
    metric = pycvvdp.cvvdp(display_name=DISPLAY, device=device, quiet=True)

    def score(output: torch.Tensor, reference: torch.Tensor, fps: float) -> float:
        with torch.no_grad():
            # a single frame is an image to the package, which it marks with 0 fps
            rate = fps if output.shape[0] > 1 else 0
            jod, _ = metric.predict(output, reference, dim_order="FCHW", frames_per_second=rate)
        return float(jod)

    return score
