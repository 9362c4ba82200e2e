"""Writing frames as a directory of PNG files (frame_000001.png, ...), atomically."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from deblur_cli.errors import OutputError
from deblur_cli.video_io import atomic
from deblur_cli.video_io.info import Frame, VideoInfo, array_format, check_image

FRAME_NAME = "frame_{:06d}.png"  # numbered from 1


def display_picture(image: np.ndarray, rotation: int, pix_fmt: str) -> av.VideoFrame:
    """An (H, W, 3) RGB array in stored orientation as a frame of `pix_fmt` turned for display, for image
    formats, which have no rotation tag. JPEG's yuvj formats get full range."""
    turns = rotation // 90  # np.rot90 turns counter-clockwise, as the display matrix does
    upright = np.ascontiguousarray(np.rot90(image, turns)) if turns else image
    picture = av.VideoFrame.from_ndarray(upright, format=array_format(image.dtype))
    return picture.reformat(format=pix_fmt, dst_color_range=2 if pix_fmt.startswith("yuvj") else None)


class PngSequenceSink(atomic.FinishOrAbort):
    """Frames written as PNG files into a directory that appears under its final name only when finished.

    8-bit input gives 8-bit PNGs, deeper input 16-bit PNGs. Frames are turned to display orientation (a PNG
    has no rotation tag). Timestamps, audio and subtitles cannot be stored; `warnings` says so when the
    source had audio or subtitles. An existing empty directory is replaced; a non-empty one is refused.
    """

    def __init__(self, path: str | os.PathLike, info: VideoInfo):
        self.path = Path(path)
        self.info = info
        self.warnings: list[str] = []
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise OutputError(
                f"{self.path} already exists and is not an empty directory",
                hint="choose a new directory name for the PNG frames, or empty it first",
            )
        if info.has_audio:
            self.warnings.append("a PNG sequence cannot hold audio; the source's audio was not written")
        if info.has_subtitles:
            self.warnings.append("a PNG sequence cannot hold subtitles; the source's subtitles were not written")
        self._deep = info.bit_depth > 8
        width, height = info.display_size
        self._encoder = av.CodecContext.create("png", "w")
        self._encoder.width, self._encoder.height = width, height
        self._encoder.pix_fmt = "rgb48be" if self._deep else "rgb24"
        # zlib level 1: six times faster than the default for files about a fifth larger; frames in parallel
        self._encoder.options = {"compression_level": "1"}
        self._encoder.thread_type = "FRAME"
        self._frames = 0  # frames given to the encoder
        self._written = 0  # PNG files saved
        self._state = "open"  # then "finished" or "aborted"
        self._temp = atomic.reserve_dir(self.path)

    def write(self, frame: Frame | np.ndarray, pts: int | None = None) -> None:
        """Write one frame: an (H, W, 3) RGB uint8 or uint16 array in stored orientation, or a Frame.
        `pts` is accepted for symmetry with video outputs and not stored."""
        image = frame.image if isinstance(frame, Frame) else frame
        check_image(image, self.info)
        atomic.check_open(self._state, self.path)
        with atomic.cleanup_on_error(self.path, self.abort):
            picture = display_picture(image, self.info.rotation, self._encoder.pix_fmt)
            self._save(self._encoder.encode(picture))
            self._frames += 1

    def _save(self, packets) -> None:
        for packet in packets:  # each packet is a complete PNG file, in frame order
            self._written += 1
            (self._temp / FRAME_NAME.format(self._written)).write_bytes(bytes(packet))

    def _complete(self) -> None:
        """Save the frames the encoder still holds."""
        self._save(self._encoder.encode(None))

    def abort(self) -> None:
        """Delete the temporary directory; the final name is never touched. Does nothing once finished or
        aborted."""
        if self._state == "open":
            self._state = "aborted"
            atomic.discard(self._temp)
