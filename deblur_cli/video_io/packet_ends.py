"""Where a stream's intact frames stop (s, the file's clock), from its packets in decode order, as they are
demuxed: a whole read's end (reader.py, which check_complete holds against the stated end) and a file's last
seconds' (truncation.tail_cut). A file cut inside its last packet lost that frame, and, among B-frames, frames
shown before it (IntactEnd)."""

from __future__ import annotations

import collections
from fractions import Fraction

import av

from deblur_cli.video_io.frame_timing import Steps


class IntactEnd:
    """Where a stream's intact frames stop (s, the file's clock), from its packets in decode order: the
    latest stop of those not marked corrupt (stop_after), cut back where the last is (a file cut inside
    it) to the first frame lost: that packet's, or, with B-frames, one whose packet the cut took
    though it is shown before frames decoded ahead of it, found as a gap among the last packets' times
    (missing_from)."""

    def __init__(self) -> None:
        self.end: Fraction | None = None
        self._lost: Fraction | None = None
        self._recent: collections.deque = collections.deque(maxlen=64)  # the times of the last packets (s)
        self._tick: Fraction | None = None  # the clock's unit (s)

    def add(self, packet: av.Packet) -> None:
        if packet.pts is None:
            return
        self._tick = packet.time_base
        shown = packet.pts * packet.time_base
        if packet.is_corrupt:
            self._lost = shown if self._lost is None else min(self._lost, shown)
            return
        self.end = stop_after(self.end, packet)
        self._recent.append(shown)
        self._lost = None  # damage with intact packets after it is in the middle: the decoder conceals it

    @property
    def intact(self) -> Fraction | None:
        """The end; where the last packet is lost (a file cut inside it), the first frame missing before that
        packet's (missing_from), else the earlier of the end and that packet's time. None before any packet."""
        if self._lost is None or self.end is None:
            return self.end
        missing = self.missing_from
        return missing if missing is not None and missing < self._lost else min(self.end, self._lost)

    @property
    def missing_from(self) -> Fraction | None:
        """Where the first frame missing among the last packets would be shown (s), where they otherwise keep one
        rate (frame_timing.Steps.holes): a file cut among its B-frames lost frames shown before the last one it
        kept, whose end can still reach the stated end to within a frame. None where none is missing."""
        if self._tick is None:
            return None
        steps = Steps(self._tick)
        for shown in sorted(self._recent):
            steps.add(shown)
        holes = steps.holes()
        return None if holes is None else holes.at


def stop_after(end: Fraction | None, packet: av.Packet) -> Fraction:
    """The later of `end` and where `packet` stops: its time plus its duration (s, the file's clock). A
    packet the demuxer marks corrupt (the last of a file cut inside it) stops nothing: its frame is lost."""
    if packet.is_corrupt:
        return end
    stop = (packet.pts + (packet.duration or 0)) * packet.time_base
    return stop if end is None else max(end, stop)
