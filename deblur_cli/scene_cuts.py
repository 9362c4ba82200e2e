"""Scene cuts inside a window of frames, so that a model's temporal fusion does not reach across them.

A window that spans a cut (edited footage) would let a recurrent model such as DSTNet carry the other scene's
features into the frames beside the cut. Consecutive frames of one scene keep their colour distribution and
change little at low resolution, even under camera shake, passing objects or flicker; across a cut both change
at once, and more than between the frames around it. So a cut lies between two frames where the colour
histograms (16 bins per channel, at most 64 px wide) differ by more than HISTOGRAM_CHANGE in mean L1 distance
(0 to 2), the pixels at that size by more than PIXEL_CHANGE on average (0 to 1), unless a pair of frames
beside it, where the window holds one, changes as much (within SPIKE times) both in the histogram and in the
picture (STRUCTURE_CHANGE below): fast motion in a small frame changes every pair of frames alike, a cut is
one jump. A shot's own change that leaves its picture (shake over a high-contrast scene, a light) explains no
cut beside it; beside a black frame the histogram alone speaks, as in a fade. Both are measured on the picture
of the two frames compared, whatever else the window holds: black bars at their edges (letterbox, pillarbox)
are cut off first, told on the stretched levels where the frames' own would leave less than half of a side (a
night shot darker than the bars' level but for a lamp is not the lamp between bars), and dark frames' levels
are stretched (at most 4 times) so that two night shots, which fill the same few dark bins, differ as much as
two daylight ones. (Measured on the whole window instead, as before 2026-12-02, a daylight shot in the window
kept the levels of a later cut between two night shots from being stretched: at a fifth of the brightness none
of the 12 such cuts of tests/test_scene_cuts.py was found.)

Light that changes at once (a flash, a strobe, a lamp switched on, an exposure or white-balance jump,
a fast fade) moves the histograms and the pixels as much as a cut, but leaves the picture: so a cut
also needs the two frames' luma to correlate poorly (STRUCTURE_CHANGE) at every shift of up to a
quarter of each side, which a pan's motion stays within, and to leave no more than KEPT_SHARE of the
picture's GRID x GRID blocks at one shift (each block correlating over 1 - STRUCTURE_CHANGE there, on
the part of it that stays in the second frame where a pan takes it partly out, if PART_INSIDE of it stays): a
title, a banner or a flash over part of the shot leaves the rest where the camera put it, while smooth
blocks of an unrelated shot (a blurred one) each correlate that well with some part of the first at a
shift of their own. And a shot of one frame changes as much on both sides, which the spike rule
would take for motion: where both of its sides change the picture (over SHORT_SHOT), neither counts
against a change beside it, whether the first shot comes back after it (an insert) or not.

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

On 57 synthetic 160x90 clips of what users film (pans, flashes, strobes, lights, fades, overlays, cuts between
similar, dark and panning shots, shots of 1 to 3 frames; 40 true cuts), judged window by window as `deblur
run` plans them (`benchmarks/bench_scene_cuts.py footage`, windows of 10 overlapping by 2), the structure test
and the one-frame-shot rule took the detector from 26 cuts found, 14 missed and 22 false (as it was at commit
7a38063) to 33 found, 7 missed and 3 false. Measuring each pair on its own levels left that at 33, 7 and 3,
and the joins of the real videos' shots (`bench_scene_cuts.py shots`) as they were: 55 of 56 found at full
brightness (the one missed joins two parts of one shot), 47 at 10%, none falsely. With the gain allowed up to
8, 54 at 10%, but 7 joins with false cuts inside a shot, in its noise. Judging the spike on both measures, the
blocks and inserts (2026-12-04) took that to 38 found, 2 missed and 0 false; `shots` stayed at 55 of 56 and 47
at 10%, none falsely. A block then counted as kept at any shift, which hid cuts between smooth shots: of 8
joins each of two unrelated smooth fields of 3x3, 4x4 and 6x6 random colours (640x360), 2, 4 and 4 were found,
against 7, 8 and 6 without the blocks. Kept at one shift only, and blocks flat in both frames left out, they
are found 7, 8 and 6 times again, and 445 of 462 joins of 22 photos blurred 21 px (444 before); those figures,
`stats` and `shots` stayed as they were, and no banner, title or half flash over such smooth or blurred shots
(186 windows) was taken for a cut. A block that the shift took partly out of the second frame had no score there,
so a pan of 2 px or more (at the compared size) kept at most 6 of 9 blocks, 4 of 9 diagonally from 3 px: of 48
clips with a banner or a half flash over 96x64 crops panning 2 or 3 px a frame, 16 had a false cut. Scored on the
part that stays (2026-12-04), none has, and the smooth fields, the photos, `footage` and `shots` stay as they were;
with half a block enough, 2 of the 8 smooth joins of tests/test_scene_cuts.py were lost (half a smooth block is
nearly a ramp, which correlates well with some part of any smooth picture). Bars told on the stretched levels
where the frames' own would leave less than half of a side took `shots` at 10% from 47 to 50 and at 12% from 52
to 53, none falsely (at 10% the bars had left 4x3 px of a join of `vtest` and `bikes`, whose brightest pixels
then lie at BAR_LEVEL); at 5% it stays at 1 of 56, the gain's limit. `stats --darken 0.1` no longer cuts a
`bikes` shot before frames 100 and 101 (a few pixels' histograms). Letterboxed night films keep their bars
(told on the stretched levels always, a bar's noise passes for picture). What it still gets wrong: a cut to a
closer view of the same place (at 80x45 its picture correlates 0.94 with the first at some shift, and its
pixels change 5/255) and one between two noisy shots at 5% brightness (the gain stops at 4, and the pixels
change 11/255 against the noise's 8/255) are missed; so is a cut into a shot that moves as much by itself in
both measures (96x64 procedural scene 3, structure 0.32 to 0.35 a frame, beside cuts of 0.40 to 0.65). And a whip
pan, over which little of one frame's picture is left in the next, is sometimes taken for a cut: 5 in 960 frames of
60-frame synthetic camera-shake clips (docs/cli.md, "Scene cuts"), where restoring across it gained at most 0.28 dB."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from deblur_cli.filters import luma

HISTOGRAM_CHANGE = 0.3
PIXEL_CHANGE = 0.08
STRUCTURE_CHANGE = 0.25  # 1 - the best correlation of the two frames' luma over shifts (0: same picture)
SHORT_SHOT = 0.4  # two structure changes in a row, each above this, around a shot of one frame
MAX_SHIFT = 0.25  # shifts of up to this share of each side: the picture moved by the camera is no new shot
FLAT = 0.002  # a frame whose luma varies less than this (std) has no structure to compare
SPIKE = 2.0
GRID = 3  # a change is judged in GRID x GRID blocks of the picture too...
KEPT_SHARE = 0.5  # ...and one that leaves more than this share of them (an overlay, a partial flash) is no cut
PART_INSIDE = 0.75  # a block a shift takes partly out of the other frame is scored where this share of it stays
SHIFT_AGREEMENT = 1  # px at the compared size: blocks kept at shifts this close are kept by one motion
MIN_BLOCKS = 3  # blocks with a picture in either frame the block test needs to hold a change back
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

    # measured where the rules below call for them only, each pair once
    @functools.cache
    def lumas(t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The luma of frames t and t+1 on their own picture (_picture)."""
        first, second = luma(_picture(small[t : t + 2]))
        return first, second

    @functools.cache
    def structure(t: int) -> float:
        return structure_change(*lumas(t))

    jumps = torch.nonzero((histogram_change > HISTOGRAM_CHANGE) & (pixel_change > PIXEL_CHANGE)).flatten().tolist()
    changed = [t for t in jumps if structure(t) > STRUCTURE_CHANGE and kept_share(*lumas(t)) <= KEPT_SHARE]
    # the other side of a one-frame shot changes as much, and is no motion of a shot (a flash, a strobe or a
    # partial flash never passes the tests above)
    one_frame_shot_sides = set()
    for t in (t for t in changed if t + 1 in changed):  # frame t+1 is a shot of its own?
        if min(structure(t), structure(t + 1)) > SHORT_SHOT:
            one_frame_shot_sides |= {t, t + 1}

    def explains(u: int, t: int) -> bool:
        """Whether pair u, beside t, changes as much as t does (within SPIKE), in the histogram and, unless one
        of t's frames is black, in the picture: the shot's own motion or a fade, which change every pair alike,
        rather than one jump."""
        if not 0 <= u < len(histogram_change) or u in one_frame_shot_sides:
            return False
        if SPIKE * histogram_change[u] < histogram_change[t]:
            return False
        # a black or nearly black frame (darker than BAR_LEVEL on average) has no picture above its noise
        black = any(float(image.mean()) < BAR_LEVEL for image in lumas(t))
        return black or SPIKE * structure(u) >= structure(t)

    return [t + 1 for t in changed if not (explains(t - 1, t) or explains(t + 1, t))]


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
    flat = [frame.numel() < 2 or float(frame.std()) < FLAT for frame in (first, second)]  # a pixel has no structure
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


def kept_share(first: torch.Tensor, second: torch.Tensor) -> float:
    """The largest share of the blocks (GRID x GRID) of luma image `first` (h, w) that `second` still holds at one
    shift of up to MAX_SHIFT of each side (within SHIFT_AGREEMENT): whose correlation with `second` there, over the
    block, is over 1 - STRUCTURE_CHANGE. A block that the shift takes partly out of `second` (a pan toward its
    edge) is correlated on the part that stays, where that is PART_INSIDE of it or more, and not kept otherwise.
    A title, a banner or a flash over part of the picture leaves the rest where the camera put it, at one shift; a
    smooth block of another shot correlates that well with some part of any smooth picture, but each block at a shift
    of its own. Blocks flat (FLAT) in both frames tell neither and are left out (a flat block beside a picture is not
    kept); with fewer than MIN_BLOCKS left, 0.0 (no veto)."""
    h, w = first.shape
    if h < 2 * GRID or w < 2 * GRID:  # blocks of a pixel or two: a few bright spots of a dark frame
        return 0.0
    dy, dx = int(MAX_SHIFT * h), int(MAX_SHIFT * w)
    # `second`, its squares and where it is (1), padded so that every shift of every block has a place
    padded = F.pad(torch.stack([torch.ones_like(second), second, second.square()]).double(), (dx, dx, dy, dy))
    blocks, correlations = 0, []  # the informative blocks; each textured one's correlation at every shift
    for y0, y1 in ((i * h // GRID, (i + 1) * h // GRID) for i in range(GRID)):
        for x0, x1 in ((j * w // GRID, (j + 1) * w // GRID) for j in range(GRID)):
            block = first[y0:y1, x0:x1].double()
            if float(block.std()) < FLAT:
                blocks += float(second[y0:y1, x0:x1].std()) >= FLAT
                continue
            blocks += 1
            centred = block - block.mean()
            kernels = torch.stack([torch.ones_like(centred), centred, centred.square()])[:, None]
            # sums over the part of the block that stays in `second`, at every shift (-dy..dy, -dx..dx):
            # sums[i, j] = (where, second, second squared)[i] x (1, block, block squared)[j]
            sums = F.conv2d(padded[:, None, y0 : y1 + 2 * dy, x0 : x1 + 2 * dx], kernels)
            count, block_sum, block_squares = sums[0, 0], sums[0, 1], sums[0, 2]
            second_sum, second_squares, cross = sums[1, 0], sums[2, 0], sums[1, 1]
            count = count.round()  # whole pixels; empty parts are left out below
            part = count.clamp(min=1)
            block_variance = block_squares - block_sum.square() / part
            variance = block_variance.clamp(min=1e-12) * (second_squares - second_sum.square() / part).clamp(min=1e-12)
            by_shift = (cross - block_sum * second_sum / part) / variance.sqrt()
            # -1 where less than PART_INSIDE of the block stays in `second`, or that part is flat
            scored = (count >= PART_INSIDE * block.numel()) & (block_variance >= FLAT**2 * part)
            correlations.append(torch.where(scored, by_shift, -1.0))
    if blocks < MIN_BLOCKS or not correlations:
        return 0.0
    near = F.max_pool2d(torch.stack(correlations)[:, None], 2 * SHIFT_AGREEMENT + 1, stride=1, padding=SHIFT_AGREEMENT)
    kept = (near[:, 0] > 1 - STRUCTURE_CHANGE).sum(dim=0)  # blocks kept at (about) each shift
    return float(kept.max()) / blocks


def _small(frames: torch.Tensor) -> torch.Tensor:
    """The frames (T, 3, H, W) averaged down to at most _WIDTH pixels wide, on the CPU."""
    small = frames.float()
    scale = max(1, frames.shape[-1] // _WIDTH)
    if scale > 1:
        small = F.avg_pool2d(small, scale, ceil_mode=True)
    return small.cpu()  # a few thousand pixels a frame: the rest is cheaper here than a GPU's launches


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


def _picture(small: torch.Tensor) -> torch.Tensor:
    """Two frames (2, 3, h, w) without the black bars at their edges, their levels stretched (the same for
    both) so that dark frames' changes weigh as bright ones': a cut between two night shots, or in a
    letterboxed film, moves as much of the measures as one between two daylight shots. Bars are edge rows and
    columns darker than BAR_LEVEL, and leave at least half of each side: where the frames' own levels would leave
    less, the frames may be a night shot, and bars are told on its stretched levels (their noise, stretched, could
    pass for picture in a brighter film), which need leave only a quarter: a phone's 9:16 picture fills a third of
    a 16:9 frame's width (with half asked of both, none of 8 such joins of tests/test_scene_cuts.py was found)."""
    h, w = small.shape[-2:]
    gain = None  # of `small` as it stands
    for stretched, least in ((False, 2), (True, 4)):  # half of each side, then a quarter
        if stretched:
            gain = _gain(small)  # the pair's stretch, only where it is needed
        lit = (small * gain if stretched else small).amax(dim=(0, 1)) > BAR_LEVEL  # (h, w)
        rows, cols = torch.nonzero(lit.any(dim=1)).flatten(), torch.nonzero(lit.any(dim=0)).flatten()
        if len(rows) and least * (rows[-1] - rows[0] + 1) >= h and least * (cols[-1] - cols[0] + 1) >= w:
            small, gain = small[..., rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], None
            break  # else dark or a few bright spots: nothing tells bars from picture
    gain = _gain(small) if gain is None else gain  # the picture's own, without its bars
    return small * gain if gain > 1 else small


def _gain(small: torch.Tensor) -> float:
    """The factor (1 to MAX_GAIN) that brings BRIGHT_SHARE of the values of `small` to full scale."""
    bright = _quantile(small.flatten(), 1 - BRIGHT_SHARE)
    return max(1.0, min(MAX_GAIN, 1 / max(float(bright), 1 / MAX_GAIN)))


def _quantile(values: torch.Tensor, q: float) -> torch.Tensor:
    """torch.quantile(values, q) for 1-D finite `values` and q near 1 (to the bit as torch 2.13 rounds it; torch
    2.14 rounds the rank otherwise, a unit in the last place apart), from the values above it (topk)
    rather than all of them sorted: a tenth of the time on a pair of thumbnails (the sort was over half of
    `cuts_in`'s time, docs/dstnet.md)."""
    rank = torch.tensor(q, dtype=values.dtype) * (len(values) - 1)  # in the values' precision, as torch 2.13 does
    below = int(rank)
    top = torch.topk(values, len(values) - below).values  # descending: the value at `below` comes last
    return torch.lerp(top[-1], top[max(-2, -len(top))], rank - below)
