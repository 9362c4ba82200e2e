"""Scene cuts inside a window of frames, so that a model's temporal fusion does not reach across them.

A window that spans a cut (edited footage) would let a recurrent model such as DSTNet carry the other
scene's features into the frames beside the cut. Consecutive frames of one scene keep their colour
distribution and change little at low resolution, even under camera shake, passing objects or
flicker; across a cut both change at once, and more than between the frames around it. So a cut
lies between two frames where the colour histograms (16 bins per channel, at most 64 px wide) differ
by more than HISTOGRAM_CHANGE in mean L1 distance (0 to 2), the pixels at that size by more than
PIXEL_CHANGE on average (0 to 1), and the histograms by over SPIKE times as much as between the
frames on either side, where the window holds them (fast motion in a small frame changes every
pair of frames alike; a cut is one jump).

Measured with `benchmarks/bench_scene_cuts.py stats` (the source cache, held-out clips and 24
procedural 96x64 clips, whose motion is fast for their size): within scenes the histogram distance
stayed at or under 0.24 in the real videos (a car passing close in `bikes`) and reached 0.47 in the
small procedural clips, where the spike rule holds it back; the pixel change reached 39/255 in a
fast camera shake, so it is no test alone. The three cuts of `bikes` measured 0.58 to 1.38 and 47/255
to 83/255; 86 of 90 joins of two held-out clips and 550 of 552 of two procedural ones were found,
and no frame within a scene was taken for a cut. Gradual transitions (fades, dissolves) are not cuts
here: their frames change a little at a time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

HISTOGRAM_CHANGE = 0.3
PIXEL_CHANGE = 0.08
SPIKE = 2.0
_BINS = 16
_WIDTH = 64  # frames are averaged down to about this width first


def cuts_in(frames: torch.Tensor) -> list[int]:
    """The indices t of `frames` (T, 3, H, W), float in [0, 1], such that a cut lies between frame t-1
    and frame t, in order."""
    if len(frames) < 2 or frames.is_meta:  # a meta tensor (tests' stand-in for a GPU) has no content
        return []
    histogram_change, pixel_change = frame_changes(frames)
    # and a spike: over SPIKE times the change on either side, where the window shows one
    beside = torch.zeros_like(histogram_change)
    beside[1:] = histogram_change[:-1]
    beside[:-1] = torch.maximum(beside[:-1], histogram_change[1:])
    cut = (histogram_change > HISTOGRAM_CHANGE) & (pixel_change > PIXEL_CHANGE) & (histogram_change > SPIKE * beside)
    return [int(t) + 1 for t in torch.nonzero(cut).flatten()]


def frame_changes(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(histogram change, pixel change), each (T-1,) float32 on the CPU, between consecutive frames of
    `frames` (T, 3, H, W), float in [0, 1], at most _WIDTH pixels wide."""
    small = frames.float()
    scale = max(1, frames.shape[-1] // _WIDTH)
    if scale > 1:
        small = F.avg_pool2d(small, scale, ceil_mode=True)
    small = small.cpu()  # a few thousand pixels a frame: the rest is cheaper here than a GPU's launches
    bins = (small.clamp(0, 1) * _BINS).long().clamp_(max=_BINS - 1).flatten(2)  # (T, 3, pixels)
    histograms = torch.zeros(*bins.shape[:2], _BINS).scatter_add_(2, bins, torch.ones(bins.shape))
    histograms /= bins.shape[-1]
    histogram_change = (histograms[1:] - histograms[:-1]).abs().sum(dim=2).mean(dim=1)
    pixel_change = (small[1:] - small[:-1]).abs().mean(dim=(1, 2, 3))
    return histogram_change, pixel_change
