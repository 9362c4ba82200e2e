"""Part of a source to restore: a time span, and the clock notation a user writes it in."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# [[hours:]minutes:]seconds[.fraction]: "90", "1:30", "1:30.5", "0:01:30"
_CLOCK = re.compile(r"^(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class Span:
    """A stretch of a source in seconds from its first frame: the frames shown at or after `start`, before `end`."""

    start: float = 0.0  # seconds from the first frame; 0 starts at the first frame
    end: float | None = None  # seconds from the first frame, exclusive; None runs to the end of the source

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and self.start >= 0):
            raise ValueError(f"a span starts at 0 s or later, not {self.start}")
        if self.end is not None and not self.end > self.start:
            raise ValueError(f"a span ends after it starts ({_seconds(self.start)}), not at {_seconds(self.end)}")

    @property
    def whole(self) -> bool:
        """Whether this is the whole source."""
        return self.start == 0 and self.end is None

    def frames(self, count: int, rate: float) -> range:
        """Indices of the frames in the span among `count` frames shown every 1/`rate` s (image sequences)."""
        first = math.ceil(self.start * rate - 1e-9)
        stop = count if self.end is None else min(count, math.ceil(self.end * rate - 1e-9))
        return range(first, max(first, stop))

    def describe(self) -> str:
        end = "the end" if self.end is None else _seconds(self.end)
        return f"{_seconds(self.start)} to {end}"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def parse_time(text: str) -> float:
    """Seconds from '90', '90.5', '1:30', '1:30.5' or '1:02:03.5'; ValueError for anything else.

    Minutes and seconds after a colon must be below 60, as on a clock.
    """
    match = _CLOCK.match(text.strip())
    if match is None and _CLOCK.match(text.strip().removeprefix("-")):
        if parse_time(text.strip().removeprefix("-")) == 0:  # -0 is 0
            return 0.0
        raise ValueError(f"{text!r} is negative: times and lengths count up from 0")
    if match is None:
        raise ValueError(f"{text!r} is not a time: write seconds (90, 90.5) or minutes:seconds (1:30, 1:02:03.5)")
    hours, minutes, seconds = match.groups()
    value = float(seconds)
    if minutes is not None and value >= 60:
        raise ValueError(f"{text!r}: seconds after a colon must be below 60")
    if hours is not None and int(minutes) >= 60:
        raise ValueError(f"{text!r}: minutes after a colon must be below 60")
    try:
        total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + value
    except OverflowError:  # hours past a float's range
        total = math.inf
    if not math.isfinite(total):  # more digits than a float holds
        raise ValueError(f"{text[:20]!r}... is too large a time")
    return total
