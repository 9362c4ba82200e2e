"""What reading a video file changed or left out (damaged packets, missing and stale frames, a frame size
that changes, jumps in the timestamps), counted as it is read, and the warnings that say so."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from deblur_cli.video_io.frame_timing import Steps, break_warning, gap_warning
from deblur_cli.video_io.info import VideoInfo


@dataclass
class DamageLog:
    """The damage and changes one VideoFileSource met so far."""

    damaged: set[tuple[int | None, int | None]] = field(default_factory=set)  # packets the decoder refused, by position
    missing: int | None = None  # frames fewer than the container counts, after a whole read
    resized: str | None = None  # where the frame size first changed, if it did
    stale: int = 0  # frames left out: stamped a frame or more behind, the frames after them not
    # the intervals between the frames read, where frames a demuxer dropped without an error show (Steps.holes);
    # set by the reader once it knows the stream's clock, which adds each frame's time (s from the first frame, as
    # --start and --end count)
    steps: Steps | None = None
    dropped: int = 0  # packets that gave no frame and no error, where each holds a frame (a threaded decoder's loss)

    def refused(self, packet) -> None:
        """Count a packet the decoder refused, or one the file ends inside."""
        self.damaged.add((packet.pos, packet.pts))

    def size_changed(self, width: int, height: int, index: int) -> None:
        """Note a frame of another size than the first, the `index`-th (from 0): where the size first changed."""
        if self.resized is None:
            self.resized = f"{width}x{height} from frame {index + 1} on"

    def left_out_stale(self) -> None:
        """Count a frame rising_timestamps left out."""
        self.stale += 1

    def warnings(self, name: str, info: VideoInfo, shown_before: Fraction | None) -> list[str]:
        """What reading the file `name`, described by `info`, changed or left out so far: frames of another size
        scaled, damaged packets skipped. `shown_before`: the stream timestamp a span ends at (None: the file's
        end); damage after it is not the span's."""
        notes = []
        if self.resized:
            notes.append(
                f"{name}: the video's frame size changes ({self.resized}); those frames were "
                f"scaled to the first size, {info.width}x{info.height}"
            )
        if self.steps is not None and self.steps.breaks:
            notes.append(f"{name}: {break_warning(self.steps.breaks)}")
        count = len(self._damaged_before(shown_before))
        holes = self.steps.holes() if self.steps is not None else None
        stale = "a frame" if self.stale == 1 else f"{self.stale} frames"
        if self.stale and not count:  # after a seek in a file damaged before it, or a decoder's own slip
            notes.append(
                f"{name}: the decoder returned {stale} out of order, stamped before frames already "
                f"read; {'it was' if self.stale == 1 else 'they were'} left out"
            )
        if not count:
            if self.missing:  # fewer frames than the container counts, though no packet failed (fuzz48)
                frames = "a frame" if self.missing == 1 else f"{self.missing} frames"
                notes.append(
                    f"{name}: {frames} the file's index lists {'is' if self.missing == 1 else 'are'} missing from "
                    "it (cut out or damaged without an error); the output goes without, where a player holds the "
                    "frame before"
                )
            elif self.dropped:  # its frames leave holes in the timestamps too: said once, with their cause
                frames = "a frame" if self.dropped == 1 else f"{self.dropped} frames"
                notes.append(
                    f"{name}: {frames} of the video could not be decoded and {'was' if self.dropped == 1 else 'were'} "
                    "left out by the decoder without an error (a damaged packet); the output goes without, where a "
                    "player holds the frame before"
                )
            elif holes:  # a stream at one rate whose demuxer dropped damage (Matroska: to the next cluster; MPEG-TS)
                notes.append(f"{name}: {gap_warning(holes.describe(), info.container)}")
            return notes
        packets = "a damaged packet" if count == 1 else f"{count} damaged packets"
        # frames fewer than the container counts; where it counts none, those its timestamps jump over
        missing = self.missing if self.missing is not None else holes.frames if holes else self.dropped
        missing += self.stale  # a stale frame is decoded, so not in `missing`
        lost = f"{missing} frame{' is' if missing == 1 else 's are'} missing from the output, and " if missing else ""
        return notes + [
            f"{name}: {packets} of the video could not be decoded and {'was' if count == 1 else 'were'} "
            f"skipped; {lost}some frames after the damage may show blocks"
        ]

    def _damaged_before(self, shown_before: Fraction | None) -> set:
        """The damaged packets shown before a span's end: damage after it, which reading ahead for the
        decoder's reordering came upon (the packet a file was cut inside), is not the span's."""
        if shown_before is None:
            return self.damaged
        return {(pos, pts) for pos, pts in self.damaged if pts is None or pts < shown_before}
