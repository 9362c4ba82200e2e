"""Scene cuts inside a window of frames, so that a model's temporal fusion does not reach across them.

A window that spans a cut (edited footage) would let a recurrent model such as DSTNet carry the other
scene's features into the frames beside the cut. Consecutive frames of one scene keep their colour
distribution and change little at low resolution, even under camera shake, passing objects or
flicker; across a cut both change at once, and more than between the frames around it. So a cut
lies between two frames where the colour histograms (16 bins per channel, at most 64 px wide) differ
by more than HISTOGRAM_CHANGE in mean L1 distance (0 to 2), the pixels at that size by more than
PIXEL_CHANGE on average (0 to 1), and the histograms by over SPIKE times as much as between the
frames on either side, where the window holds them (fast motion in a small frame changes every
pair of frames alike; a cut is one jump). Both are measured on the picture: black bars at the edges
(letterbox, pillarbox) are cut off first, and a dark window's levels are stretched (at most 4 times)
so that two night shots, which fill the same few dark bins, differ as much as two daylight ones.

Measured with `benchmarks/bench_scene_cuts.py stats` (the source cache's real videos, 8 held-out
640x360 clips and 24 procedural 96x64 clips, whose motion is fast for their size): within scenes the
histogram distance stayed at or under 0.24 in the real videos (a car passing close in `bikes`) and
reached 0.47 in the small procedural clips, where the spike rule holds it back; the pixel change
reached 68/255 in a fast procedural shake, so it is no test alone. The three cuts of `bikes` measured
0.61 to 1.39 and 60/255 to 105/255; 53 of 56 joins of two held-out clips and 551 of 552 of two
procedural ones were found, and no frame within a scene was taken for a cut. With every frame
darkened to a quarter (`--darken 0.25`), 603 of 608 joins and the three cuts of `bikes` were found
(17 joins and one cut before levels were stretched); with a quarter of the rows black as well
(`--letterbox 0.25`), 605 of 608 and the three (1 and none before). One procedural clip,
letterboxed to 48 rows of fast motion, then showed a cut where there is none. Gradual transitions
(fades, dissolves) are not cuts here: their frames change a little at a time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

HISTOGRAM_CHANGE = 0.3
PIXEL_CHANGE = 0.08
SPIKE = 2.0
BAR_LEVEL = 0.1  # edge rows and columns darker than this in every frame of a window: letterbox or pillarbox bars
BRIGHT_SHARE = 0.05  # a window's levels are stretched so that this share of its values is at full scale...
MAX_GAIN = 4.0  # ...by at most this factor (a dark shot's noise, averaged at 64 px wide, stays low)
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
    small = _picture(small.cpu())  # a few thousand pixels a frame: the rest is cheaper here than a GPU's launches
    bins = (small.clamp(0, 1) * _BINS).long().clamp_(max=_BINS - 1).flatten(2)  # (T, 3, pixels)
    histograms = torch.zeros(*bins.shape[:2], _BINS).scatter_add_(2, bins, torch.ones(bins.shape))
    histograms /= bins.shape[-1]
    histogram_change = (histograms[1:] - histograms[:-1]).abs().sum(dim=2).mean(dim=1)
    pixel_change = (small[1:] - small[:-1]).abs().mean(dim=(1, 2, 3))
    return histogram_change, pixel_change


def _picture(small: torch.Tensor) -> torch.Tensor:
    """The frames (T, 3, h, w) without black bars at their edges, their levels stretched (shared by all
    frames) so that a dark window's changes weigh as a bright one's: a cut between two night shots, or
    in a letterboxed film, moves as much of the measures as one between two daylight shots."""
    lit = small.amax(dim=(0, 1)) > BAR_LEVEL  # (h, w)
    rows, cols = torch.nonzero(lit.any(dim=1)).flatten(), torch.nonzero(lit.any(dim=0)).flatten()
    if len(rows) and len(cols):  # else the whole window is dark: nothing tells bars from picture
        small = small[..., rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    bright = torch.quantile(small.flatten(), 1 - BRIGHT_SHARE)
    gain = min(MAX_GAIN, 1 / max(float(bright), 1 / MAX_GAIN))
    return small * gain if gain > 1 else small
