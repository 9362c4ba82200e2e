"""Whether a video's frames come at a steady rate, from its packets' timestamps (no decoding): phones record
at a variable frame rate (fewer frames in low light), which editing programs handle less well than
`deblur run`, which keeps each frame's time."""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from deblur_cli.errors import InputError
from deblur_cli.video_io.containers import open_input
from deblur_cli.video_io.streams import video_stream

PACKETS_READ = 300  # the first packets (10 s at 30 fps): enough to see a phone's rate change, and quick on 4K
RELATIVE = 0.1  # an interval further than this from the usual (most common) one is another rate ...
TICKS = 1.5  # ... and than this many ticks of the stream's clock, which rounds every timestamp


@dataclass(frozen=True)
class Intervals:
    """The time between consecutive frames in the packets read: seconds."""

    shortest: float
    longest: float
    usual: float  # the most common
    frames: int  # frames read
    all_read: bool  # the packets ended before PACKETS_READ

    def describe(self) -> str:
        where = "" if self.all_read else f" in the first {self.frames} frames"
        return f"{_ms(self.shortest)} to {_ms(self.longest)} ms between frames{where} (usually {_ms(self.usual)})"


def variable_intervals(path: str | os.PathLike) -> Intervals | None:
    """The frame intervals of the first video stream of `path`, where they vary beyond the clock's rounding;
    None where they are steady, where there are fewer than 3 timed frames, or where the file cannot be read."""
    times, tick = _packet_times(Path(path))
    times = sorted(set(times))
    if len(times) < 3 or tick is None:
        return None
    steps = sorted(b - a for a, b in zip(times, times[1:]))
    usual = Counter(steps).most_common(1)[0][0]
    allowed = max(RELATIVE * usual, TICKS * tick)
    if all(abs(step - usual) <= allowed for step in steps):
        return None
    return Intervals(float(steps[0]), float(steps[-1]), float(usual), len(times), len(times) < PACKETS_READ)


def _packet_times(path: Path) -> tuple[list[Fraction], Fraction | None]:
    """Presentation times (s) of the first PACKETS_READ packets that hold a picture, and the clock's tick."""
    times: list[Fraction] = []
    try:
        container = open_input(path)
    except (OSError, av.FFmpegError):
        return times, None
    with container:
        try:
            stream = video_stream(container, path)
        except InputError:
            return times, None
        tick = stream.time_base
        with contextlib.suppress(OSError, av.FFmpegError):  # damage further on: the packets before it
            for packet in container.demux(stream):
                if packet.size and packet.pts is not None:
                    times.append(packet.pts * tick)
                    if len(times) >= PACKETS_READ:
                        break
        return times, tick


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}".removesuffix(".0")
