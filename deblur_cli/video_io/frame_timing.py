"""Whether a video's frames come at a steady rate, from its packets' timestamps (no decoding): phones record
at a variable frame rate (fewer frames in low light), which editing programs handle less well than
`deblur run`, which keeps each frame's time. A stream at one rate whose timestamps jump a whole number of frames
now and then has lost those frames (a damaged Matroska file, whose demuxer drops the damage without an error),
which is told apart from a variable rate (`Steps.holes`). `timing_of` tells which of these a file is, once, for
every consumer (`Timing`)."""

from __future__ import annotations

import contextlib
import functools
import os
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from deblur_cli.errors import InputError
from deblur_cli.files import file_version
from deblur_cli.video_io.container_traits import container_traits
from deblur_cli.video_io.containers import open_input
from deblur_cli.video_io.streams import nominal_rate, tick_slack, video_stream

PACKETS_READ = 300  # the first packets (10 s at 30 fps): enough to see a phone's rate change, and quick on 4K
RELATIVE = 0.1  # an interval further than this from the usual (most common) one is another rate ...
TICKS = 1.5  # ... and than this many ticks of the stream's clock, which rounds every timestamp
# A stream at one rate loses frames in a few places (a damaged stretch, a cut): where more than this share of its
# intervals are whole multiples of its step, its frames are held for a while now and then (a screen recording
# that writes a frame only when the screen changes), a variable rate.
HOLES = 0.1
# Jumps of one length this many times in a row are a stretch at a lower rate (a phone's 15 fps in low light among
# 30), not frames lost: damage drops a run of frames at once (one jump), a recorder a frame now and then. Not where
# the demuxer marked a packet corrupt (MPEG-TS's continuity counter): packets lost together in decode order are
# every other frame shown where the stream has B-frames (frames 38, 40 and 42 of 2 KB cut from a broadcast clip).
RATE_CHANGE = 3
# A longer jump forward is a discontinuity (a spliced broadcast, a recorder restarted), not lost frames nor an
# interval of the stream's: FFmpeg's own threshold for it.
DISCONTINUITY = 10
_REORDERED = 16  # packets: how far a decoder may reorder frames (H.264's and HEVC's most)
# A variable rate whose intervals are whole numbers of its shortest (a phone's 30 fps that drops to 15 in low light,
# a screen recording's held frames) has its frames on a grid, where that shortest interval is this share of them
# at least (not one stray short interval), at this rate at most (AVI gives every tick an index entry).
GRID_SHARE = 0.1
MAX_GRID_RATE = 120


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


@dataclass(frozen=True)
class Holes:
    """Frames missing from a stream otherwise at one rate, where its timestamps jump a whole number of frames."""

    frames: int  # frames missing
    places: int  # jumps
    at: Fraction  # s, on the clock of the times given: where the first missing frame would have been shown

    def describe(self, since: float = 0.0) -> str:
        """In words, with the times counted from `since` (s: the first frame's time, as --start and --end count)."""
        frames = "a frame" if self.frames == 1 else f"{self.frames} frames"
        at = f"{float(self.at) - since:.2f}".rstrip("0").rstrip(".")
        where = f"at {at} s" if self.places == 1 else f"in {self.places} places, the first at {at} s"
        return f"the video's timestamps jump over {frames} {where}"


def gap_warning(jumps: str, container: str | None) -> str:
    """The warning for frames a stream's timestamps jump over (`jumps`, as Holes.describe says it) in a file of the
    `container` (demuxer name): `info` and `run` say it alike. An MP4's, MOV's or AVI's index lists every frame,
    so no damage is dropped there unseen: the recorder wrote none. Outputs that count frames close the gaps, which
    sinks.planned_warnings says before a run."""
    if container is not None and container_traits(container).indexed:
        why = "no frames in the file there (the recorder dropped them, or wrote none while the picture stood still)"
    else:
        why = "missing from the file (damage the demuxer dropped, or frames the recorder dropped)"
    return f"{jumps}, {why}; an output that keeps each frame's time keeps the gaps, where a player holds the frame before"


def break_warning(breaks: list[Fraction] | tuple[Fraction, ...]) -> str:
    """The warning for a stream's clock jumping forward over DISCONTINUITY (`breaks`, s, one at least): `info` and
    `run` say it alike."""
    times = "once" if len(breaks) == 1 else f"{len(breaks)} times"
    return (
        f"the video's timestamps jump forward {times}, by up to {float(max(breaks)):.0f} s (a discontinuity, as where "
        "a broadcast recording was spliced); an output that keeps each frame's time keeps the pause"
    )


class Steps:
    """The intervals between a stream's frames, counted as the frames' times come (s, in the order shown): a
    count of each interval and where it first comes, so a long stream takes no more memory than its kinds of
    interval."""

    def __init__(self, tick: Fraction, authored: bool = False):
        self.tick = tick  # the clock's unit (s), which rounds every time
        self.authored = authored  # each frame's time is the author's (ContainerTraits.authored_times): no frames lost
        self.corrupt = False  # the demuxer marked a packet of the stream corrupt (damage it saw)
        self.breaks: list[Fraction] = []  # s: the jumps forward over DISCONTINUITY, not counted as intervals
        self.frames = 0
        self.first: Fraction | None = None  # the first frame's time
        self._counts: Counter = Counter()
        self._after: dict[Fraction, Fraction] = {}  # each interval: the time of the first frame it follows
        self._runs: dict[Fraction, int] = {}  # each interval: the longest run of its length (_same) it came in
        self._run = (Fraction(0), 0)  # the interval last counted, and how many times in a row
        self._last: Fraction | None = None

    def add(self, time: Fraction) -> None:
        """Count a frame shown at `time` (s), and the interval before it but where that is a discontinuity."""
        if self._last is not None and time - self._last > DISCONTINUITY:
            self.breaks.append(time - self._last)
            self._run = (Fraction(0), 0)
        elif self._last is not None:
            step = time - self._last
            self._counts[step] += 1
            self._after.setdefault(step, self._last)
            self._run = (step, self._run[1] + 1 if self._same(step, self._run[0]) else 1)
            self._runs[step] = max(self._runs.get(step, 0), self._run[1])
        else:
            self.first = time
        self._last = time
        self.frames += 1

    def varying(self, all_read: bool = True) -> Intervals | None:
        """The intervals where they vary beyond the clock's rounding; None where they are steady, or there are
        fewer than 2 of them."""
        if sum(self._counts.values()) < 2:
            return None
        usual, allowed = self._usual()
        if all(abs(step - usual) <= allowed for step in self._counts):
            return None
        return Intervals(float(min(self._counts)), float(max(self._counts)), float(usual), self.frames, all_read)

    def holes(self) -> Holes | None:
        """The frames missing from a stream at one rate: where every interval is its usual step or a whole number
        of steps, and the longer ones are few (HOLES of them at most). None where there are none, and where the
        rate varies (a phone's, whose intervals are no multiples of one; a screen recording's frames held now and
        then) or is the author's (a GIF's), since frames held there are not lost."""
        total = sum(self._counts.values())
        if total < 2 or self.authored:
            return None
        (usual, allowed), step = self._usual(), self.step()
        jumps = {interval: round(interval / step) for interval in self._counts if abs(interval - usual) > allowed}
        if not jumps or any(n < 2 or abs(interval - n * step) > allowed for interval, n in jumps.items()):
            return None
        if not self.corrupt and any(self._runs[interval] >= RATE_CHANGE for interval in jumps):  # a lower rate
            return None
        places = sum(self._counts[interval] for interval in jumps)
        if places > HOLES * total:
            return None
        frames = sum((n - 1) * self._counts[interval] for interval, n in jumps.items())
        first = min(self._after[interval] for interval in jumps)
        return Holes(frames, places, first + step)

    def grid(self) -> Fraction | None:
        """The interval every interval is a whole number of (to the clock's rounding), as they average it: the
        shortest, where it is GRID_SHARE of them at least. None where there are fewer than 2 intervals, or one falls
        between two whole numbers of it."""
        total = sum(self._counts.values())
        if total < 2:
            return None
        shortest = min(self._counts)
        allowed = self._allowed(shortest)
        rough, near = self._mean_near(shortest)
        if near < GRID_SHARE * total or shortest <= 0:
            return None
        units = {interval: round(interval / rough) for interval in self._counts}
        if any(abs(interval - n * rough) > allowed for interval, n in units.items()):
            return None
        # over the whole time read, which a millisecond clock's rounding does not bias
        return sum(interval * count for interval, count in self._counts.items()) / sum(
            units[interval] * count for interval, count in self._counts.items()
        )

    def step(self) -> Fraction:
        """The usual interval as the intervals close to it average it: 29.97 fps on a millisecond clock is 33 and
        34 ms. At least one interval must have been counted."""
        return self._mean_near(self._usual()[0])[0]

    def _same(self, step: Fraction, previous: Fraction) -> bool:
        """Whether two intervals in a row are one length the clock rounded (15 fps on a millisecond clock is 67, 67
        and 66 ms): rounding makes them a tick apart at most, which tells lengths apart where a tick is short."""
        return step == previous or abs(step - previous) <= self.tick < previous / 2

    def _usual(self) -> tuple[Fraction, Fraction]:
        """The most common interval, and how far from it an interval is still the same (the clock's rounding)."""
        usual = min(self._counts, key=lambda step: (-self._counts[step], step))  # the shorter of two as common
        return usual, self._allowed(usual)

    def _allowed(self, interval: Fraction) -> Fraction:
        """How far from `interval` an interval is still the same: the clock's rounding."""
        return max(RELATIVE * interval, TICKS * self.tick)

    def _mean_near(self, interval: Fraction) -> tuple[Fraction, int]:
        """The mean of the intervals that are the same as `interval` (_allowed), and how many they are."""
        allowed = self._allowed(interval)
        near = {step: count for step, count in self._counts.items() if abs(step - interval) <= allowed}
        return sum(step * count for step, count in near.items()) / sum(near.values()), sum(near.values())


@dataclass(frozen=True)
class Timing:
    """How the frames of a video file come, read from its first packets (PACKETS_READ at most), told once for
    every consumer: at one rate, at one rate but for frames missing (`holes`), or at a rate that varies
    (`varying`). A stream with holes is not a varying one: its frames keep the times of its one rate."""

    first: Fraction  # s: the first frame's time
    frames: int  # frames read
    all_read: bool  # they are all of the stream's frames
    holes: Holes | None  # frames missing from a stream at one rate (Steps.holes); None where none are, or it varies
    varying: Intervals | None  # where the rate varies, its intervals (Steps.varying); None at one rate, holes or not
    # fps: the grid a container that counts ticks but can leave some empty (AVI) keeps each frame's time at: the
    # stream's own rate where frames are missing, the grid a varying rate's intervals fall on (Steps.grid; a standard
    # rate within rounding of it is taken for it) up to MAX_GRID_RATE; None at one rate, and on no such grid
    grid: Fraction | None
    breaks: tuple[Fraction, ...] = ()  # s: the jumps forward over DISCONTINUITY (Steps.breaks)


def classify(steps: Steps, all_read: bool) -> Timing:
    """The Timing of the frames whose times `steps` counted (one at least); `all_read`: they are all the stream's."""
    holes = steps.holes()
    varying = None if holes is not None else steps.varying(all_read)
    grid = None
    if holes is not None:  # its own rate, as the whole time read averages it, past the rounding of a clock
        grid = nominal_rate(1 / (steps.grid() or steps.step()), None, tick_slack(steps.tick, steps.frames))
    elif varying is not None and (step := steps.grid()) is not None:
        grid = rate if (rate := nominal_rate(1 / step, None)) <= MAX_GRID_RATE else None
    return Timing(steps.first, steps.frames, all_read, holes, varying, grid, tuple(steps.breaks))


def timing_of(path: str | os.PathLike) -> Timing | None:
    """The Timing of the first video stream of `path`; None where the file cannot be read or holds no frame.
    Kept for the file as it is: `deblur info` and a run's planning ask for it several times."""
    return _timing(Path(path), file_version(path), PACKETS_READ)


@functools.lru_cache(maxsize=8)
def _timing(path: Path, version: tuple[int, ...] | None, count: int) -> Timing | None:
    """timing_of for the file as it is (files.file_version: a file written again is read again), from the first
    `count` packets."""
    times, steps, all_read = _read_packet_times(path, count)
    if steps is None or not times:
        return None
    for time in sorted(set(times)):
        steps.add(time)
    return classify(steps, all_read)


def _read_packet_times(path: Path, count: int) -> tuple[list[Fraction], Steps | None, bool]:
    """Presentation times (s) of the frames shown first, those of the first `count` packets that hold a
    picture shown, and the Steps to count them in (on the stream's clock, its times the author's where they are, marked
    corrupt where the demuxer marked a packet so). Packets come in decode order: B-frames shown before a frame
    come after it, so the times read on past the `count`th packet, and the frames shown from the earliest time
    among those on are left out, which would leave a gap there (in 7 of 10 cuts of an x264 clip's packets). Last,
    whether those are all the stream's packets."""
    times: list[Fraction] = []
    try:
        container = open_input(path)
    except (OSError, av.FFmpegError):
        return times, None, False
    with container:
        try:
            stream = video_stream(container, path)
        except InputError:
            return times, None, False
        steps = Steps(stream.time_base, authored=container_traits(container.format.name).authored_times)
        with contextlib.suppress(OSError, av.FFmpegError):  # damage further on: the packets before it
            for packet in container.demux(stream):
                # not the frames an edit list hides (an MP4 cut without re-encoding), which decode only to lead up to
                # the first shown: counted, they moved the holes found after it later (0.8 s for 0.56)
                if packet.size and packet.pts is not None and not packet.is_discard:
                    times.append(packet.pts * stream.time_base)
                    steps.corrupt = steps.corrupt or packet.is_corrupt
                    if len(times) >= count + _REORDERED:
                        break
        if len(times) < count + _REORDERED:  # the packets ended (or the demuxer gave up) before
            return times, steps, True
        later = min(times[count:])
        return [time for time in times if time < later], steps, False


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}".removesuffix(".0")
