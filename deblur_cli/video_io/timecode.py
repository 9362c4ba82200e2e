"""SMPTE timecode: the `HH:MM:SS:FF` label of a video's first frame, which editing software uses to
match a clip with its source (to relink a restored clip in place of the original). The output keeps
the input's timecode; a span that starts later moves it by the frames it leaves out.

Drop-frame timecode (`HH:MM:SS;FF`, at 29.97 and 59.94 frames a second) skips the labels 00 and 01
(00 to 03 at 59.94) at the start of every minute except each tenth, so that the labels keep pace with
the clock; frames are counted here as it counts them.
"""

from __future__ import annotations

import re
from fractions import Fraction

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")
_DAY = 24 * 60 * 60  # seconds: timecode wraps at 24 hours


def find_timecode(container, stream) -> str | None:
    """The timecode of a video stream as FFmpeg's demuxers report it: a `timecode` tag on the stream
    (MOV and MP4 copy their timecode track's there; Matroska writes TIMECODE), else on the container
    (MXF) or on a data stream (a timecode track); None without one."""
    tagged = [stream, container, *container.streams.data]
    for item in tagged:
        for key, value in item.metadata.items():
            if key.lower() == "timecode" and _TIMECODE.match(value.strip()):
                return value.strip()
    return None


def shifted(timecode: str, frames: int, rate: Fraction) -> str | None:
    """The timecode `frames` frames after `timecode` in a video of `rate` frames a second, in the same
    notation; None if `timecode` is not one (HH:MM:SS:FF, or ;FF for drop-frame)."""
    match = _TIMECODE.match(timecode.strip())
    if match is None or not rate:
        return None
    hours, minutes, seconds, separator, digits = match.groups()
    base = max(1, round(rate))  # the labels per second: 30 for 29.97
    drop = _dropped(base) if separator in ";.," else 0
    count = _frame_number(int(hours), int(minutes), int(seconds), int(digits), base, drop)
    label = _label(count + frames, base, drop)
    return label[:-3] + (separator if drop else ":") + label[-2:].zfill(len(digits))


def at_double_rate(timecode: str) -> str:
    """The same moment labelled at twice the frame rate (50i deinterlaced to 50p): frame FF becomes 2·FF."""
    match = _TIMECODE.match(timecode.strip())
    if match is None:
        return timecode
    hours, minutes, seconds, separator, digits = match.groups()
    return f"{hours}:{minutes}:{seconds}{separator}{2 * int(digits):0{len(digits)}d}"


def count_of(label: str, rate: Fraction, *, drop: bool) -> int | None:
    """Frames from 00:00:00:00 to `label` (HH:MM:SS:FF) counted as a video of `rate` frames a second labels them
    (with `drop`, drop-frame where the rate has it: 29.97, 59.94); None for a label that timecode skips, or
    not one."""
    match = _TIMECODE.match(label.strip())
    if match is None:
        return None
    hours, minutes, seconds, frame = (int(match.group(index)) for index in (1, 2, 3, 5))
    base = max(1, round(rate))
    dropped = _dropped(base) if drop else 0
    if minutes % 10 and seconds == 0 and frame < dropped:  # 00:00:59;29 is followed by 00:01:00;02
        return None
    return _frame_number(hours, minutes, seconds, frame, base, dropped)


def labels_a_day(rate: Fraction, *, drop: bool) -> int:
    """The labels of 24 hours of timecode at `rate` (with `drop`, drop-frame where the rate has it), after which
    it wraps to 00:00:00:00."""
    base = max(1, round(rate))
    return _DAY * base - (_dropped(base) if drop else 0) * 9 * 6 * 24


def is_drop_frame(timecode: str) -> bool:
    """Whether `timecode` is written as drop-frame timecode (;FF, or .FF and ,FF as some files write it)."""
    match = _TIMECODE.match(timecode.strip())
    return match is not None and match.group(4) in ";.,"


def _dropped(base: int) -> int:
    """Labels skipped per minute in drop-frame timecode: 2 at 30, 4 at 60; 0 at other rates, which
    have none."""
    return {30: 2, 60: 4}.get(base, 0)


def _frame_number(hours: int, minutes: int, seconds: int, frame: int, base: int, drop: int) -> int:
    total_minutes = 60 * hours + minutes
    count = ((60 * total_minutes + seconds) * base) + frame
    return count - drop * (total_minutes - total_minutes // 10)


def _label(count: int, base: int, drop: int) -> str:
    count %= _DAY * base - drop * 9 * 6 * 24  # frames in a day of labels (labels_a_day)
    if drop:
        per_ten_minutes = base * 600 - drop * 9
        per_minute = base * 60 - drop
        tens, rest = divmod(count, per_ten_minutes)
        count += drop * 9 * tens + (drop * ((rest - drop) // per_minute) if rest > drop else 0)
    frame = count % base
    seconds = count // base
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}:{frame:02d}"
