"""Scene cuts inside a window of frames, so that a model's temporal fusion does not reach across them.

A window that spans a cut (edited footage) would let a recurrent model such as DSTNet carry the other
scene's features into the frames beside the cut. Consecutive frames of one scene keep their colour
distribution and change little at low resolution, even under camera shake, passing objects or
flicker; across a cut both change at once, and more than between the frames around it. So a cut
lies between two frames where the colour histograms (16 bins per channel, at most 64 px wide) differ
by more than HISTOGRAM_CHANGE in mean L1 distance (0 to 2), the pixels at that size by more than
PIXEL_CHANGE on average (0 to 1), and the histograms by over SPIKE times as much as between the
frames on either side, where the window holds them (fast motion in a small frame changes every
pair of frames alike; a cut is one jump). Both are measured on the picture of the two frames compared,
whatever else the window holds: black bars at their edges (letterbox, pillarbox) are cut off first, and
dark frames' levels are stretched (at most 4 times) so that two night shots, which fill the same few dark
bins, differ as much as two daylight ones. (Measured on the whole window instead, as before 2026-12-02, a
daylight shot in the window kept the levels of a later cut between two night shots from being stretched:
at a fifth of the brightness none of the 12 such cuts of tests/test_scene_cuts.py was found.)

Light that changes at once (a flash, a strobe, a lamp switched on, an exposure or white-balance jump,
a fast fade) moves the histograms and the pixels as much as a cut, but leaves the picture: so a cut
also needs the two frames' luma to correlate poorly (STRUCTURE_CHANGE) at every shift of up to a
quarter of each side, which a pan's motion stays within. And a shot of one frame changes as much on
both sides, which the spike rule would take for a flash: where both of its sides change the picture
(over SHORT_SHOT) and the frames around it differ too (the first shot does not come back, as after
an insert), neither side counts against the other.

Measured with `benchmarks/bench_scene_cuts.py stats` (the source cache's real videos, 8 held-out
640x360 clips and 24 procedural 96x64 clips, whose motion is fast for their size): within scenes the
histogram distance stayed at or under 0.24 in the real videos (a car passing close in `bikes`) and
reached 0.47 in the small procedural clips, where the spike rule holds it back; the pixel change
reached 68/255 in a fast procedural shake, so it is no test alone. The three cuts of `bikes` measured
0.61 to 1.39 and 60/255 to 105/255. Re-measured with the structure test (2026-12-02, clips of the
current synthesis): 607 of 608 joins of two clips were found, and no frame within a scene was taken
for a cut; with every frame darkened to a quarter (`--darken 0.25`), 606 of 608 joins and the three
cuts of `bikes`; with a quarter of the rows black as well (`--letterbox 0.25`), 608 of 608 and the
three. Without the structure test the same clips gave the same joins, and one false cut in a
procedural clip letterboxed to 48 rows of fast motion. Gradual transitions (fades, dissolves) are not
cuts here: their frames change a little at a time.

On 57 synthetic 160x90 clips of what users film (pans, flashes, strobes, lights, fades, overlays, cuts
between similar, dark and panning shots, shots of 1 to 3 frames; 40 true cuts), judged window by window
as `deblur run` plans them (`benchmarks/bench_scene_cuts.py footage`, windows of 10 overlapping by 2),
the structure test and the one-frame-shot rule took the detector from 26 cuts found, 14 missed and 22
false (as it was at commit 7a38063) to 33 found, 7 missed and 3 false. Measuring each pair on its own levels left
that at 33, 7 and 3, and the joins of the real videos' shots (`bench_scene_cuts.py shots`) as they were:
55 of 56 found at full brightness (the one missed joins two parts of one shot), 47 at 10%, none falsely.
With the gain allowed up to 8, 54 at 10%, but 7 joins with false cuts inside a shot, in its noise.
What it still gets wrong: a banner or title laid over one shot (false cuts), a cut to a closer view of the same place or between two
shots at 5% brightness (missed), the first cut around a shot of 2 or 3 frames, a one-frame insert of
another shot, and one cut in a run of one-frame shots (missed).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

HISTOGRAM_CHANGE = 0.3
PIXEL_CHANGE = 0.08
STRUCTURE_CHANGE = 0.25  # 1 - the best correlation of the two frames' luma over shifts (0: same picture)
SHORT_SHOT = 0.4  # two structure changes in a row, each above this, around a shot of one frame
MAX_SHIFT = 0.25  # shifts of up to this share of each side: the picture moved by the camera is no new shot
FLAT = 0.002  # a frame whose luma varies less than this (std) has no structure to compare
SPIKE = 2.0
BAR_LEVEL = 0.1  # edge rows and columns darker than this in both frames compared: letterbox or pillarbox bars
BRIGHT_SHARE = 0.05  # two frames' levels are stretched so that this share of their values is at full scale...
MAX_GAIN = 4.0  # ...by at most this factor (a dark shot's noise, averaged at 64 px wide, stays low)
_BINS = 16
_WIDTH = 64  # frames are averaged down to about this width first


def cuts_in(frames: torch.Tensor) -> list[int]:
    """The indices t of `frames` (T, 3, H, W), float in [0, 1], such that a cut lies between frame t-1
    and frame t, in order."""
    if len(frames) < 2 or frames.is_meta:  # a meta tensor (tests' stand-in for a GPU) has no content
        return []
    small = _small(frames)
    histogram_change, pixel_change = _changes(small)
    jumps = torch.nonzero((histogram_change > HISTOGRAM_CHANGE) & (pixel_change > PIXEL_CHANGE)).flatten().tolist()
    structure = torch.zeros_like(histogram_change)  # measured where the other two call for it only
    for t in jumps:
        structure[t] = _structure_between(small, t, t + 1)
    changed = structure > STRUCTURE_CHANGE
    # a spike: over SPIKE times the histogram change on either side, where the window shows one; the
    # other side of a one-frame shot changes as much, and does not count where the first shot does not
    # come back after it (a flash, or a shot that does, never passes the structure test above)
    beside_of = histogram_change.clone()
    for t in torch.nonzero(changed[:-1] & changed[1:]).flatten().tolist():  # frame t+1 is a shot of its own?
        if min(structure[t], structure[t + 1]) > SHORT_SHOT and _structure_between(small, t, t + 2) > STRUCTURE_CHANGE:
            beside_of[t] = beside_of[t + 1] = 0
    beside = torch.zeros_like(histogram_change)
    beside[1:] = beside_of[:-1]
    beside[:-1] = torch.maximum(beside[:-1], beside_of[1:])
    cut = changed & (histogram_change > SPIKE * beside)
    return [int(t) + 1 for t in torch.nonzero(cut).flatten()]


def frame_changes(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(histogram change, pixel change), each (T-1,) float32 on the CPU, between consecutive frames of
    `frames` (T, 3, H, W), float in [0, 1], at most _WIDTH pixels wide."""
    return _changes(_small(frames))


def structure_change(first: torch.Tensor, second: torch.Tensor) -> float:
    """1 - the largest normalised cross-correlation of two luma images (h, w) over the shifts of one
    against the other by up to MAX_SHIFT of each side, each shift over the part the two share: 0 for
    the same picture moved, brightened, darkened or tinted (a pan, a flash, a fade, a light switched
    on), near 1 for unrelated pictures. Where one is flat (FLAT) there is nothing to compare: a flat
    bright frame (a flash) is 0, a flat dark one beside a picture (a cut to or from black) 1."""
    flat = [float(frame.std()) < FLAT for frame in (first, second)]
    if all(flat):
        return 0.0
    if any(flat):
        blank = first if flat[0] else second
        return 1.0 if float(blank.mean()) < BAR_LEVEL else 0.0
    h, w = first.shape
    dy, dx = int(MAX_SHIFT * h), int(MAX_SHIFT * w)
    ones = torch.ones_like(first)  # the two are of one size

    def over_shared(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        """Sums of image x kernel over the shared part, for every shift: a correlation with zero padding."""
        padded = F.pad(image, (dx, dx, dy, dy))[None, None].double()
        return F.conv2d(padded, kernel[None, None].double())[0, 0]

    count = over_shared(ones, ones)
    sum_1, sum_2 = over_shared(first, ones), over_shared(ones, second)
    sum_11, sum_22 = over_shared(first.square(), ones), over_shared(ones, second.square())
    sum_12 = over_shared(first, second)
    covariance = sum_12 - sum_1 * sum_2 / count
    variance = (sum_11 - sum_1.square() / count) * (sum_22 - sum_2.square() / count)
    correlation = covariance / (variance.clamp(min=1e-12).sqrt())
    return float(1 - correlation.max())


def _small(frames: torch.Tensor) -> torch.Tensor:
    """The frames (T, 3, H, W) averaged down to at most _WIDTH pixels wide, on the CPU."""
    small = frames.float()
    scale = max(1, frames.shape[-1] // _WIDTH)
    if scale > 1:
        small = F.avg_pool2d(small, scale, ceil_mode=True)
    return small.cpu()  # a few thousand pixels a frame: the rest is cheaper here than a GPU's launches


def _luma(small: torch.Tensor) -> torch.Tensor:
    """(T, h, w) luma of the frames (T, 3, h, w), with BT.601's weights."""
    return 0.299 * small[:, 0] + 0.587 * small[:, 1] + 0.114 * small[:, 2]


def _changes(small: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(histogram change, pixel change) between consecutive frames of `small` (_small's), each pair measured
    on its own picture (_picture): the verdict on two frames does not depend on the frames around them."""
    histogram_change, pixel_change = torch.zeros(len(small) - 1), torch.zeros(len(small) - 1)
    for t in range(len(small) - 1):
        pair = _picture(small[t : t + 2])
        bins = (pair.clamp(0, 1) * _BINS).long().clamp_(max=_BINS - 1).flatten(2)  # (2, 3, pixels)
        histograms = torch.zeros(*bins.shape[:2], _BINS).scatter_add_(2, bins, torch.ones(bins.shape))
        histogram_change[t] = (histograms[1] - histograms[0]).abs().sum(dim=1).mean() / bins.shape[-1]
        pixel_change[t] = (pair[1] - pair[0]).abs().mean()
    return histogram_change, pixel_change


def _structure_between(small: torch.Tensor, t: int, u: int) -> float:
    """structure_change of frames t and u of `small` (_small's), on their own picture (_picture)."""
    first, second = _luma(_picture(small[[t, u]]))
    return structure_change(first, second)


def _picture(small: torch.Tensor) -> torch.Tensor:
    """Two frames (2, 3, h, w) without the black bars at their edges, their levels stretched (the same for
    both) so that dark frames' changes weigh as bright ones': a cut between two night shots, or in a
    letterboxed film, moves as much of the measures as one between two daylight shots."""
    lit = small.amax(dim=(0, 1)) > BAR_LEVEL  # (h, w)
    rows, cols = torch.nonzero(lit.any(dim=1)).flatten(), torch.nonzero(lit.any(dim=0)).flatten()
    if len(rows) and len(cols):  # else both are dark: nothing tells bars from picture
        small = small[..., rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    bright = torch.quantile(small.flatten(), 1 - BRIGHT_SHARE)
    gain = min(MAX_GAIN, 1 / max(float(bright), 1 / MAX_GAIN))
    return small * gain if gain > 1 else small
