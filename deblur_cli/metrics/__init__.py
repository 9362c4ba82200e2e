"""Image and video quality metrics for `deblur bench`.

Full-reference: `psnr`, `ssim` (RGB, per image), `temporal_error` (per clip), `LPIPS` (local
weights only) and ColorVideoVDP (when installed). No-reference: `niqe`. `to_8bit` rounds
frames as a file stores them, before measuring. Definitions: docs/bench.md.
"""

from deblur_cli.metrics.levels import to_8bit, to_levels
from deblur_cli.metrics.niqe import niqe
from deblur_cli.metrics.psnr import psnr
from deblur_cli.metrics.ssim import ssim
from deblur_cli.metrics.temporal import temporal_error

__all__ = ["niqe", "psnr", "ssim", "temporal_error", "to_8bit", "to_levels"]
