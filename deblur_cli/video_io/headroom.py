"""Levels of limited-range YUV video beyond black and white (super-whites, sub-blacks), counted as frames are
decoded, for the one warning that says deblur clips them.

Limited range puts black at 16 and white at 235 (64 and 940 at 10 bits) and chroma within 16 to 240, and keeps
the levels around them as headroom: cameras put highlights up to 255 there, broadcast its super-whites, and
graders recover them. deblur reads frames into RGB from black to white (yuv.rgb_arrays, info.frame_arrays),
so those levels are clipped before the model sees them, even at --strength 0 into a lossless output (a luma
ramp 0..255 in FFV1 came back 16..235). Full-range video has no headroom; RGB and grey are not counted.

Lossy encoders leave samples a few levels past black and white wherever a picture holds them (ringing at
edges, noise on flat black). Of a 1080p test card with white and black patches and an 8-pixel black-and-white
checker over a quarter of it, alone and with grain (`python benchmarks/bench_headroom.py`), 4.9%
and 3.7% of the luma samples lay outside after x264 at CRF 18, 32% and 3.1% after x265 at CRF 28 (10-bit), 2.5%
and 0.16% after VP9 at CRF 40; but at most 0.019% lay more than 4 levels (of 255) past. So a kind of sample
(luma, chroma) is said where more than _WORTH_SAYING of its samples lie more than _MARGIN levels outside its
range, and the warning gives the share of all those outside it, and the extremes. x264 at CRF 28 rings to 0
and 245 there (4.4% and 4.3% past 4 levels), which is said: the clipping moves those samples by up to 16.

Each frame costs a min and a max of each plane, and where they lie outside, a count of each side: 0.19 ms of
CPU time for a flat 1080p 4:2:0 frame, 0.8 to 1.8 ms for the test cards, against 12 to 14 ms to convert
them to RGB (info.frame_arrays; the 2-core AMD EPYC, 2026-12-07), so every frame decoded is counted. Packed
4:2:2 (YUYV) is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from deblur_cli.video_io import yuv

_MARGIN = 4  # levels of 255 past black or white (16 at 10 bits) that codec noise rarely reaches
_WORTH_SAYING = 0.001  # of a kind's samples that lie past the margin: 0.1%, 2,000 of a 1080p luma plane
_FULL = 2  # AVCOL_RANGE_JPEG


@dataclass
class _Tally:
    """Samples of one kind (luma or chroma) seen, and how many lay outside its range, and past the margin."""

    low: int  # the range, in 8-bit levels: 16-235 for luma, 16-240 for chroma
    high: int
    samples: int = 0
    outside: int = 0
    far: int = 0  # past the margin
    lowest: int | None = None  # the extremes seen, in the video's levels
    highest: int | None = None

    def add(self, plane: np.ndarray, unit: int, shift: int) -> None:
        """Count `plane`'s samples, each `unit` times an 8-bit level and stored `shift` bits up its word."""
        low, high, margin = (self.low * unit) << shift, (self.high * unit) << shift, (_MARGIN * unit) << shift
        lowest, highest = int(plane.min()), int(plane.max())
        self.samples += plane.size
        self.lowest = min(lowest >> shift, self.lowest if self.lowest is not None else lowest >> shift)
        self.highest = max(highest >> shift, self.highest if self.highest is not None else highest >> shift)
        if lowest < low:
            self.outside += np.count_nonzero(plane < low)
            if lowest < low - margin:
                self.far += np.count_nonzero(plane < low - margin)
        if highest > high:
            self.outside += np.count_nonzero(plane > high)
            if highest > high + margin:
                self.far += np.count_nonzero(plane > high + margin)

    @property
    def worth_saying(self) -> bool:
        return self.far > _WORTH_SAYING * self.samples

    def share(self) -> str:
        """The share of the samples outside the range, in percent as people write it: 0.15%, 3.1%, 46%."""
        percent = 100 * self.outside / self.samples
        return f"{percent:.0f}%" if percent >= 10 else f"{percent:.2g}%"


class Headroom:
    """What the frames of a video decoded so far hold beyond black and white, for `warning`."""

    def __init__(self) -> None:
        self.frames = 0  # limited-range YUV frames counted
        self._unit = 1  # an 8-bit level in the video's levels: 4 at 10 bits
        self._luma = _Tally(16, 235)
        self._chroma = _Tally(16, 240)

    def add(self, frame: av.VideoFrame) -> None:
        """Count a decoded frame's samples, where it is limited-range planar YUV (or NV12-like)."""
        lay = yuv.layout(frame.format.name)
        if lay is None or lay.full or int(frame.color_range) == _FULL:
            return
        self.frames += 1
        self._unit = 1 << (lay.bits - 8)
        luma, cb, cr = yuv.planes_of(frame, lay)[:3]
        self._luma.add(luma, self._unit, lay.shift)
        for plane in (cb, cr):
            self._chroma.add(plane, self._unit, lay.shift)

    def warning(self, name: str) -> str | None:
        """The warning about the input `name`, where enough samples lie beyond black and white to say; else None."""
        luma, chroma, unit = self._luma, self._chroma, self._unit
        said, clipped = [], []
        if luma.worth_saying:
            sides = []
            if luma.highest > luma.high * unit:
                sides.append(f"above white ({luma.high * unit + 1}-{luma.highest})")
            if luma.lowest < luma.low * unit:
                sides.append(f"below black ({luma.lowest}-{luma.low * unit - 1})")
            said.append(f"{luma.share()} of the luma samples lie {' or '.join(sides)}")
            clipped.append(f"white and black ({luma.low * unit}-{luma.high * unit})")
        if chroma.worth_saying:
            span = f"{chroma.low * unit}-{chroma.high * unit}"
            said.append(f"{chroma.share()} of the chroma samples lie outside {span} ({chroma.lowest}-{chroma.highest})")
            clipped.append("the RGB gamut")
        if not said:
            return None
        where = "in its first frame" if self.frames == 1 else f"in {self.frames} frames"
        return (
            f"{name}: {where}, {', and '.join(said)}; deblur reads them clipped to {' and '.join(clipped)}, so the "
            "output loses them"
        )
