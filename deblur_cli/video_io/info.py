"""What a frame source tells the rest of the program: `VideoInfo` for the stream, `Frame` for each picture."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np

from deblur_cli.video_io.hdr import HdrMetadata

DEFAULT_FPS = Fraction(25)  # rate given to image sequences, which carry no timing of their own


@dataclass(frozen=True)
class VideoInfo:
    """A source's video stream as frames are delivered: stored orientation, RGB arrays."""

    width: int  # frame width in pixels as stored, before the display rotation
    height: int  # frame height in pixels as stored
    fps: Fraction | None  # average frame rate; None for images (writers then use DEFAULT_FPS)
    time_base: Fraction | None  # seconds per unit of Frame.pts; None when frames carry no timestamps
    frame_count: int | None  # best estimate of the number of frames, for progress; None if unknown
    bit_depth: int  # bits per channel in the source: 8 gives uint8 arrays, more gives uint16 arrays
    rotation: int = 0  # counter-clockwise degrees (0, 90, 180, 270) a player turns stored frames for display
    color: dict[str, int] = field(default_factory=dict)  # FFmpeg enums: primaries, transfer, matrix, range
    codec: str | None = None  # decoder name, e.g. "h264", "png"
    profile: str | None = None  # the codec's profile as the decoder names it, e.g. "HQ" for ProRes
    pix_fmt: str | None = None  # pixel format of the decoded source, e.g. "yuv420p10le"
    container: str | None = None  # demuxer name, e.g. "matroska,webm"; None for image files
    has_audio: bool = False  # the source holds at least one audio stream
    has_subtitles: bool = False  # the source holds at least one subtitle stream
    sample_aspect_ratio: Fraction | None = None  # pixel width / height for anamorphic video; None = square
    duration: float | None = None  # seconds of video, if the container says
    hdr: HdrMetadata | None = None  # HDR10 mastering display and light levels, when the source has them
    pts_offset: int = 0  # subtracted from the file's timestamps when a span starts later (0: the file's own clock)
    end_time: float | None = None  # the file's time (s) where a span stops the frames early; None: the file's end
    field_order: str | None = None  # "top"/"bottom": the field an interlaced source shows first; "unknown"; None: progressive
    deinterlaced: bool = False  # the frames are deinterlaced from the source's fields (video_io/deinterlace.py)
    timecode: str | None = None  # SMPTE timecode of the first frame delivered, "HH:MM:SS:FF" (";FF" drop-frame)

    @property
    def dtype(self) -> type[np.unsignedinteger]:
        """The dtype of Frame.image: uint8 for 8-bit sources, uint16 (full 16-bit scale) above."""
        return np.uint8 if self.bit_depth <= 8 else np.uint16

    @property
    def has_alpha(self) -> bool:
        """Whether the source stores an alpha channel (transparency), which frames do not carry: they are RGB."""
        try:
            return self.pix_fmt is not None and any(c.is_alpha for c in av.VideoFormat(self.pix_fmt).components)
        except ValueError:  # a format this FFmpeg does not name
            return False

    @property
    def rate(self) -> Fraction:
        """The frame rate a writer should use: `fps`, or DEFAULT_FPS for sources without timing."""
        return self.fps or DEFAULT_FPS

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as a player shows the video, after the rotation."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


@dataclass
class Frame:
    """One decoded picture."""

    image: np.ndarray  # (H, W, 3) RGB, uint8 or uint16 as VideoInfo.dtype, C-contiguous, stored orientation
    pts: int | None  # presentation time in VideoInfo.time_base units; None for image sequences
    index: int  # position among the frames the source delivers (from its span's start), from 0


def array_format(dtype: np.dtype | type) -> str:
    """The FFmpeg pixel format matching an RGB array of this dtype."""
    return "rgb24" if np.dtype(dtype) == np.uint8 else "rgb48le"


def bit_depth_of(pix_fmt) -> int:
    """Bits per channel of an FFmpeg pixel format (a PyAV VideoFormat), capped at 16."""
    return min(max(component.bits for component in pix_fmt.components), 16)


def color_of(frame) -> dict[str, int]:
    """The colour description of a decoded PyAV frame, as FFmpeg enum values."""
    return {
        "primaries": int(frame.color_primaries),
        "transfer": int(frame.color_trc),
        "matrix": int(frame.colorspace),
        "range": int(frame.color_range),
    }


def normalize_rotation(degrees: float) -> int:
    """A display-matrix angle in [-180, 180] as one of 0, 90, 180, 270."""
    return round(degrees / 90.0) * 90 % 360


def check_image(image: np.ndarray, info: VideoInfo) -> None:
    """ValueError unless `image` is an RGB frame of the info's stored size, uint8 or uint16."""
    expected = (info.height, info.width, 3)
    if image.shape != expected or image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected an {expected} uint8 or uint16 RGB array, got {image.shape} {image.dtype}")
