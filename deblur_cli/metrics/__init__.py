"""Image and video quality metrics for `deblur bench`.

Full-reference: `psnr`, `ssim` (RGB, per image), `temporal_error` (per clip), `LPIPS` (local
weights only) and ColorVideoVDP (when installed). No-reference: `niqe`. `to_8bit` rounds
frames as a file stores them, before measuring. `too_small_for` says which of them a frame size rules out.
Definitions: docs/bench.md.
"""

from deblur_cli.metrics.levels import to_8bit, to_levels
from deblur_cli.metrics.lpips import MIN_SIDE as _LPIPS_MIN_SIDE
from deblur_cli.metrics.lpips import applicable as _lpips_applicable
from deblur_cli.metrics.niqe import applicable as _niqe_applicable
from deblur_cli.metrics.niqe import niqe
from deblur_cli.metrics.niqe import too_small as _niqe_too_small
from deblur_cli.metrics.psnr import psnr
from deblur_cli.metrics.ssim import WINDOW as _SSIM_WINDOW
from deblur_cli.metrics.ssim import ssim
from deblur_cli.metrics.temporal import temporal_error

__all__ = ["niqe", "psnr", "ssim", "temporal_error", "to_8bit", "to_levels", "too_small_for"]


def too_small_for(height: int, width: int) -> dict[str, str]:
    """The metrics that frames of height x width are too small for ("ssim", "lpips", "niqe"), each with why, in the
    words the commands' notes use after "SSIM left out: " and the like. PSNR and the temporal error take any size."""
    reasons = {}
    if min(height, width) < _SSIM_WINDOW:
        side = _SSIM_WINDOW
        reasons["ssim"] = f"its {side}x{side} window needs frames of {side} pixels a side or more"
    if not _lpips_applicable(height, width):
        reasons["lpips"] = f"it needs frames of {_LPIPS_MIN_SIDE} pixels a side or more"
    if not _niqe_applicable(height, width):
        reasons["niqe"] = _niqe_too_small(width, height)
    return reasons
