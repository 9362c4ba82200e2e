"""--start, --end and --duration as typed, and the Span they name in one input.

Each is seconds from the first frame (90.5, 1:30.5) or an SMPTE timecode (10:00:05:12, drop-frame 10:00:05;12):
a frame's label in the clip's own timecode, which editing software and `deblur info` show. A timecode names a
frame only once the input's frame rate and first label are known, so each input of a batch turns the span as
typed into seconds against its own (`span_in`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Union

from deblur_cli.errors import SpanError
from deblur_cli.span import Span, parse_time

if TYPE_CHECKING:
    from deblur_cli.video_io import ReadOptions

# HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame; three fields or fewer are a clock time (parse_time)
_LABEL = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;])(\d{1,3})$")


@dataclass(frozen=True)
class Label:
    """A timecode as typed: the label of a frame, or with --duration a length in frames."""

    hours: int
    minutes: int
    seconds: int
    frame: int  # below the labels a second of the clip it is read against
    drop: bool  # typed HH:MM:SS;FF: drop-frame, for a clip that has no timecode of its own

    def __str__(self) -> str:
        return f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}{';' if self.drop else ':'}{self.frame:02d}"


Time = Union[float, Label]


def parse_moment(text: str) -> Time:
    """Seconds from the first frame, as parse_time reads them, or with four fields a Label; ValueError for
    anything else."""
    match = _LABEL.match(text.strip())
    if match is None:
        return parse_time(text)
    hours, minutes, seconds, separator, frame = match.groups()
    if int(hours) >= 24 or int(minutes) >= 60 or int(seconds) >= 60:
        raise ValueError(f"{text!r}: a timecode's hours are below 24, its minutes and seconds below 60")
    return Label(int(hours), int(minutes), int(seconds), int(frame), separator == ";")


@dataclass(frozen=True)
class AskedSpan:
    """--start, --end and --duration as typed: each seconds, a timecode, or None where not given."""

    start: Time | None = None
    end: Time | None = None  # exclusive: the first moment, or the first frame's label, not restored
    duration: Time | None = None  # seconds, or as a timecode a length in frames

    @property
    def labelled(self) -> bool:
        """Whether a timecode is among them: then the seconds they name depend on the input."""
        return any(isinstance(time, Label) for time in (self.start, self.end, self.duration))

    def in_seconds(self, clip: str = "", rate: Fraction | None = None, first: str | None = None) -> Span:
        """The Span these times name in input `clip`, of `rate` frames a second, whose first frame is labelled
        `first` (None: a clip without timecode, or an image sequence, labelled from 00:00:00:00). `rate` is
        needed only where a timecode was typed. SpanError where a timecode is no label of the clip, or the span
        ends before it starts."""
        start = Fraction(0) if self.start is None else self._seconds("--start", self.start, clip, rate, first)
        end = None if self.end is None else self._seconds("--end", self.end, clip, rate, first)
        if isinstance(self.duration, Label):
            end = start + self._frames("--duration", self.duration, rate) / rate
        elif self.duration is not None:
            end = start + Fraction(self.duration)
        if end is not None and end <= start:
            after = (
                f"--start ({_shown(self.start, start)})" if self.start is not None else "the first frame (--start 0)"
            )
            raise SpanError(
                f"--end ({_shown(self.end, end)}) must come after {after}",
                hint="--end is a time in the input, where to stop; how long to restore is --duration",
            )
        return Span(float(start), None if end is None else float(end))

    @staticmethod
    def _seconds(option: str, time: Time, clip: str, rate: Fraction | None, first: str | None) -> Fraction:
        """Seconds from the first frame of `clip` to `time`: seconds as typed, or the frame labelled so."""
        if not isinstance(time, Label):
            return Fraction(time)
        # here, not at the top: video_io imports PyAV, which the options module (train, synth) does without
        from deblur_cli.video_io.timecode import count_of, is_drop_frame, labels_a_day

        AskedSpan._frames(option, time, rate)  # its FF checked against the clip's labels a second
        drop = is_drop_frame(first) if first is not None else time.drop
        count = count_of(str(time), rate, drop=drop)
        if count is None:
            raise SpanError(
                f"{option} {time}: drop-frame timecode has no such label: it skips the first of each minute but"
                " every tenth (00 and 01 at 29.97, 00 to 03 at 59.94)",
                hint=f"the minute's first frame is labelled {time.hours:02d}:{time.minutes:02d}:00;02 at 29.97",
            )
        day = labels_a_day(rate, drop=drop)
        offset = (count - count_of(first or "00:00:00:00", rate, drop=drop)) % day  # wraps at midnight
        if offset > day // 2:  # nearer before the first frame than after it
            own = "its timecode" if first is not None else "it has no timecode: its frames count from 00:00:00:00"
            raise SpanError(
                f"{option} {time} is before the first frame of {clip}, labelled {first or '00:00:00:00'} ({own})",
                hint=f"a timecode is the clip's own label of a frame (deblur info shows the first); seconds count"
                f" from the first frame ({option} 5)",
            )
        return offset / rate

    @staticmethod
    def _frames(option: str, time: Label, rate: Fraction | None) -> int:
        """The frames `time` counts as a length at `rate`'s labels a second; SpanError for an FF of none."""
        assert rate, "a timecode is read against the input's frame rate"
        base = max(1, round(rate))  # labels a second: 30 for 29.97
        if time.frame >= base:
            raise SpanError(
                f"{option} {time}: frame {time.frame} is no label at {float(rate):g} frames a second, whose labels"
                f" run from 00 to {base - 1:02d}",
                hint="FF counts frames within a second of the clip's timecode",
            )
        return (time.hours * 3600 + time.minutes * 60 + time.seconds) * base + time.frame


def _shown(time: Time, seconds: Fraction) -> str:
    """A time as typed, and a timecode's seconds from the first frame: "10:00:04:00, 4 s in"."""
    return f"{time}, {float(seconds):g} s in" if isinstance(time, Label) else f"{time:g}"


def span_in(source: str | os.PathLike, asked: AskedSpan, read: ReadOptions | None = None) -> Span:
    """The Span `asked` names in `source`: where a timecode was typed, read against the frame rate and first
    label of the input as stored (fields not doubled by --deinterlace double, whose labels editing software
    shows), an image sequence's at --fps (or DEFAULT_FPS). SpanError where it names no part of it."""
    if not asked.labelled:
        return asked.in_seconds()
    from deblur_cli.video_io import DEFAULT_FPS, ReadOptions, describe  # PyAV: see _seconds

    read = ReadOptions() if read is None else read
    info = describe(source, replace(read, span=Span(), deinterlace="off"))
    rate = info.fps if info.container is not None and info.fps else read.image_rate or DEFAULT_FPS
    return asked.in_seconds(os.fspath(source), rate, info.timecode)
