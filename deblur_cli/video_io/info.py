"""What a frame source tells the rest of the program: `VideoInfo` for the stream, `Frame` for each picture."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np

from deblur_cli.video_io import yuv
from deblur_cli.video_io.hdr import DolbyVision, HdrMetadata

DEFAULT_FPS = Fraction(25)  # rate given to image sequences, which carry no timing of their own


# The transfers of HDR video, PQ (smpte2084) and HLG (arib-std-b67), as FFmpeg numbers them: `deblur run`
# restores them on the model's curve (transfer.py, which imports torch, names them PQ and HLG), and their code
# values are never to be read as sRGB.
HDR_TRANSFERS = (16, 18)


@dataclass(frozen=True)
class VideoInfo:
    """A source's video stream as frames are delivered: stored orientation, RGB arrays."""

    width: int  # frame width in pixels as stored, before the display rotation
    height: int  # frame height in pixels as stored
    # the rate the stream was made at (streams.frame_rate): FFmpeg's average, snapped to the stream's base or a
    # standard rate where its timestamps' rounding moved it off, or an MP4's rate before a held last frame (which
    # frames / duration is not), or that one rate where frames are missing (frame_timing.Timing.grid, which the
    # average counts the gaps in); None for images (writers then use DEFAULT_FPS)
    fps: Fraction | None
    time_base: Fraction | None  # seconds per unit of Frame.pts; None when frames carry no timestamps
    frame_count: int | None  # best estimate of the number of frames, for progress; None if unknown
    bit_depth: int  # bits per channel in the source: 8 gives uint8 arrays, more gives uint16 arrays
    rotation: int = 0  # counter-clockwise degrees (0, 90, 180, 270) a player turns stored frames for display
    mirrored: bool = False  # a player also mirrors the turned frames left to right (a display matrix with a flip)
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
    dolby_vision: DolbyVision | None = None  # an MP4, MOV or Matroska source's Dolby Vision configuration
    hdr10_plus: bool = False  # the first frame carries HDR10+ dynamic metadata (ST 2094-40), as Samsung phones write
    pts_offset: int = 0  # subtracted from the file's timestamps: a later --start, or a clock that starts late (MPEG-TS)
    end_time: float | None = None  # the file's time (s) where a span stops the frames early; None: the file's end
    field_order: str | None = None  # "top"/"bottom": the field an interlaced source shows first; "unknown"; None: progressive
    deinterlaced: bool = False  # the frames are deinterlaced from the source's fields (video_io/deinterlace.py)
    timecode: str | None = None  # SMPTE timecode of the first frame delivered, "HH:MM:SS:FF" (";FF" drop-frame)
    alpha: bool = False  # frames carry the source's alpha channel (Frame.alpha), which outputs keep where they can
    frame_names: tuple[str, ...] | None = None  # image sequences: each frame's file name without its suffix
    tags: dict[str, str] = field(default_factory=dict)  # the video stream's language and title (track_tags.py)
    default: bool = True  # players pick the video stream first (its default flag), as outputs then mark it
    # where the frames do not come at one rate, the rate of the grid their times fall on (frame_timing.Timing.grid),
    # which a container that counts ticks but can leave some empty (AVI) keeps each frame's time at; set for such
    # outputs (sinks.with_grid)
    grid: Fraction | None = None

    @property
    def dtype(self) -> type[np.unsignedinteger]:
        """The dtype of Frame.image: uint8 for 8-bit sources, uint16 (full 16-bit scale) above."""
        return np.uint8 if self.bit_depth <= 8 else np.uint16

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
    alpha: np.ndarray | None = None  # (H, W) transparency, dtype as image (max = opaque), when VideoInfo.alpha
    duration: int | None = None  # how long it shows, in VideoInfo.time_base units, where the container says


def array_format(dtype: np.dtype | type, *, alpha: bool = False) -> str:
    """The FFmpeg pixel format matching an RGB array of this dtype, or an RGBA array with `alpha`."""
    if alpha:
        return "rgba" if np.dtype(dtype) == np.uint8 else "rgba64le"
    return "rgb24" if np.dtype(dtype) == np.uint8 else "rgb48le"


def has_alpha_channel(pix_fmt: str) -> bool:
    """Whether an FFmpeg pixel format (by name) stores an alpha channel."""
    return any(component.is_alpha for component in av.VideoFormat(pix_fmt).components)


# Decoders whose pictures have an alpha channel whether or not the image uses it: a GIF decodes to BGRA,
# and many PNGs are saved as RGBA with every pixel opaque; a CMYK or YCCK JPEG decodes to GBRAP or YUVA444P
# with the black folded into the colour and the fourth plane left opaque. Their alpha counts when the first
# picture shows some transparency (lossless RGB JPEG can store a real one); a video codec's alpha (ProRes
# 4444, QuickTime Animation, VP9) counts as it is stored.
_INCIDENTAL_ALPHA = {"gif", "png", "apng", "tiff", "webp", "bmp", "mjpeg"}
# Decoders whose YUV pictures' fourth plane is never alpha: a JPEG of four components without Adobe's
# marker (or with its YCbCr transform) is CMYK as libjpeg reads it, and FFmpeg leaves its black, unfolded,
# in YUVA444P's fourth plane.
_BLACK_NOT_ALPHA = {"mjpeg"}


def carries_alpha(frame: av.VideoFrame, codec: str | None) -> bool:
    """Whether a source whose first decoded picture is `frame` (decoded by `codec`) has an alpha channel
    worth keeping: its format has one and, for image codecs, that picture is not wholly opaque. A
    palette (pal8: GIF, PNG, BMP) holds an alpha per colour, which counts where a colour is transparent."""
    palette = frame.format.name == "pal8"
    if not (palette or has_alpha_channel(frame.format.name)):
        return False
    if codec not in _INCIDENTAL_ALPHA and not palette:
        return True
    if codec in _BLACK_NOT_ALPHA and not frame.format.is_rgb:
        return False
    # at the picture's own depth: swscale's 8-to-16-bit step makes an opaque 255 into 65532, not 65535
    dtype = np.uint8 if bit_depth_of(frame.format) <= 8 else np.uint16
    plane = frame.to_ndarray(format=array_format(dtype, alpha=True))[..., 3]
    return bool(plane.min() < np.iinfo(dtype).max)


def frame_arrays(
    frame: av.VideoFrame, dtype: np.dtype | type, alpha: bool, width: int | None = None, height: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """A decoded frame as a C-contiguous (H, W, 3) RGB array of `dtype` (uint8 or uint16) and, with `alpha`,
    its (H, W) alpha plane (opaque where the frame has none); scaled to `width` x `height` if given.
    YUV is converted as exactly as the output's depth allows (video_io/yuv.py): packed 4:2:2 unpacked first,
    8-bit YUV with subsampled or interleaved chroma into 8 bits by `full_chroma`, any other planar or
    NV12-like YUV by `rgb_arrays`; 9- to 14-bit grey by `_deep_grey`; a deeper frame into 8 bits by way of
    16, rounded once."""
    frame = yuv.unpacked(frame)
    lay = yuv.layout(frame.format.name)
    exact_yuv = yuv.readable(lay) and (np.dtype(dtype) == np.uint16 or lay.bits > 8)
    if exact_yuv or frame.format.name in _DEEP_GREY:
        image, plane = yuv.rgb_arrays(frame, lay, alpha) if exact_yuv else _deep_grey(frame, alpha)
        if np.dtype(dtype) == np.uint8:  # deep video read into 8 bits (training sources)
            image, plane = _eight_bits(image), None if plane is None else _eight_bits(plane)
        if (width or frame.width, height or frame.height) != (frame.width, frame.height):
            image, plane = _scaled(image, plane, width or frame.width, height or frame.height)
        return image, plane
    if np.dtype(dtype) == np.uint8 and bit_depth_of(frame.format) > 8:
        # rounded once: swscale's 16-to-8-bit step put an image's samples up to 1.25 codes off
        image, plane = frame_arrays(frame, np.uint16, alpha, width, height)
        return _eight_bits(image), None if plane is None else _eight_bits(plane)
    flags = None
    if lay is not None and lay.bits <= 8 and (lay.subsampled or lay.interleaved):
        frame, flags = yuv.full_chroma(frame), yuv.ACCURATE
    if not alpha:
        image = frame.to_ndarray(format=array_format(dtype), width=width, height=height, interpolation=flags)
        return np.ascontiguousarray(image), None
    rgba = frame.to_ndarray(format=array_format(dtype, alpha=True), width=width, height=height, interpolation=flags)
    return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])


# grey of 9 to 14 bits, which swscale moves up to 16 by a shift, not a scale: white (1023 of gray10le) at 65472
_DEEP_GREY = frozenset(f"gray{bits}{order}" for bits in (9, 10, 12, 14) for order in ("le", "be"))


def _deep_grey(frame: av.VideoFrame, alpha: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A 9- to 14-bit grey frame as (H, W, 3) uint16 RGB on the full 16-bit scale, each sample scaled and
    rounded once (white stays white), and, with `alpha`, an opaque alpha plane."""
    top = (1 << frame.format.components[0].bits) - 1
    grey = np.round(frame.to_ndarray() * (65535 / top)).astype(np.uint16)
    image = np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    return image, np.full(grey.shape, 65535, np.uint16) if alpha else None


def _eight_bits(samples: np.ndarray) -> np.ndarray:
    """uint16 samples on the full 16-bit scale rounded to 8 bits (x / 257, which never ends in a half)."""
    return ((samples.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _scaled(image: np.ndarray, alpha: np.ndarray | None, width: int, height: int) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB and alpha arrays scaled (bilinear) to `width` x `height`: a frame of another size in a stream."""
    packed = image if alpha is None else with_alpha(image, alpha)
    frame = av.VideoFrame.from_ndarray(packed, format=array_format(image.dtype, alpha=alpha is not None))
    scaled = frame.to_ndarray(width=width, height=height)
    if alpha is None:
        return scaled, None
    return np.ascontiguousarray(scaled[..., :3]), np.ascontiguousarray(scaled[..., 3])


def with_alpha(image: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """An (H, W, 3) RGB array and its (H, W) alpha plane (None: opaque) as one (H, W, 4) RGBA array."""
    if alpha is None:
        alpha = np.full(image.shape[:2], np.iinfo(image.dtype).max, image.dtype)
    return np.concatenate([image, alpha[..., None]], axis=2)


def alpha_left_out(writer: str) -> str:
    """The warning for an output that cannot keep the input's alpha channel."""
    return (
        f"{writer} has no alpha channel: the input's transparency is left out and the output is opaque "
        "(.mov or .mkv keep it in ProRes 4444, .webm in VP9, and PNG frames as they are)"
    )


def bit_depth_of(pix_fmt) -> int:
    """Bits per channel of an FFmpeg pixel format (a PyAV VideoFormat), capped at 16."""
    return min(max(component.bits for component in pix_fmt.components), 16)


def color_of(frame, stated: Mapping[str, int] | None = None) -> dict[str, int]:
    """The colour description of a decoded PyAV frame (or a codec context), as FFmpeg enum values; with
    `stated` (the stream's, as its container states it), each value the frame leaves unspecified taken from
    there. ProRes keeps its tags in each frame's header, which an encoder that set them on the stream alone
    left unspecified (deblur's own before 2026-12-07): FFmpeg's decoder then gives unspecified, where the
    MOV's `colr` atom (and `ffmpeg -i`) says PQ."""
    color = {
        "primaries": int(frame.color_primaries),
        "transfer": int(frame.color_trc),
        "matrix": int(frame.colorspace),
        "range": int(frame.color_range),
    }
    for key, value in (stated or {}).items():
        if color[key] in UNSPECIFIED[key]:
            color[key] = value
    return color


# FFmpeg's values of a colour tag that says nothing: unspecified and reserved (range: unspecified)
UNSPECIFIED = {"primaries": (0, 2, 3), "transfer": (0, 2, 3), "matrix": (2, 3), "range": (0,)}
BT709, BT601 = 1, 5  # the matrices AVCOL_SPC_BT709, AVCOL_SPC_BT470BG (the same as SMPTE 170M's)


def assumed_matrix(width: int, height: int) -> int:
    """The YUV matrix players take for video of this stored size that names none: BT.709 for HD (1280
    pixels wide or more, or over 576 lines), BT.601 below, as mpv decides (video/csputils.c). swscale
    takes BT.601 at any size."""
    return BT709 if width >= 1280 or height > 576 else BT601


def srgb_source(info: VideoInfo) -> bool:
    """Whether the source's samples are sRGB where its tags say nothing: RGB frames (PNG, TIFF, an RGB FFV1
    master, a palette) and images (a JPEG photo's YUV too)."""
    pix_fmt = info.pix_fmt
    return info.container is None or (pix_fmt is not None and (pix_fmt == "pal8" or av.VideoFormat(pix_fmt).is_rgb))


def reading_matrix(info: VideoInfo) -> int | None:
    """The YUV matrix deblur reads the source's frames with and writes its YUV output in (at the output's
    size, which side by side widens): the one the source names, or for YUV video that names none the one
    players assume for its size (assumed_matrix), so that what deblur restores is what they show. None,
    swscale's BT.601, where there is nothing to assume: RGB and grey frames, images (JPEG and WebP are
    BT.601 by their standards), and the JPEG-style yuvj formats."""
    matrix = info.color.get("matrix", 2)
    if matrix not in UNSPECIFIED["matrix"]:
        return matrix
    return None if info.container is None else untagged_matrix(info.pix_fmt, info.width, info.height)


def untagged_matrix(pix_fmt: str | None, width: int, height: int) -> int | None:
    """The YUV matrix players take for video frames of this format and stored size that name none
    (assumed_matrix); None for RGB and grey formats and the JPEG-style full-range yuvj ones."""
    lay = yuv.layout(pix_fmt) if pix_fmt else None
    return None if lay is None or lay.full else assumed_matrix(width, height)


def read_as(frame: av.VideoFrame, matrix: int | None, value_range: int | None) -> av.VideoFrame:
    """A decoded frame tagged with `matrix` and `value_range` where it leaves them unspecified, so that
    its conversion to RGB (frame_arrays) uses them."""
    if matrix is not None and int(frame.colorspace) in UNSPECIFIED["matrix"]:
        frame.colorspace = matrix
    if value_range and int(frame.color_range) in UNSPECIFIED["range"]:
        frame.color_range = value_range
    return frame


def normalize_rotation(degrees: float) -> int:
    """A display-matrix angle in [-180, 180] as one of 0, 90, 180, 270."""
    return round(degrees / 90.0) * 90 % 360


def turn_in_words(rotation: int, mirrored: bool = False) -> str:
    """A display rotation (counter-clockwise degrees, as the display matrix stores it) as people say it:
    a phone held upright tags its clips 270, which players show turned 90° clockwise; then a mirror."""
    turns = {0: "", 90: "rotated 90° counter-clockwise", 180: "rotated 180°", 270: "rotated 90° clockwise"}
    turned = turns[rotation]
    mirror = "mirrored left to right" if mirrored else ""
    return " and ".join(filter(None, [turned, mirror]))


def orientation_of(rotation: float, side_data: Mapping[str, bytes]) -> tuple[int, bool]:
    """(rotation, mirrored) of a decoded frame, as VideoInfo holds them, from PyAV's `frame.rotation` and
    the frame's side data (side_data.side_data_of): a display matrix that mirrors (a negative
    determinant) is a turn, then a left-right mirror, as PyAV's set_display_rotation(rotation,
    hflip=True) writes it; frame.rotation alone reads a mirror as a turn of 180 degrees."""
    matrix = side_data.get("DISPLAYMATRIX")
    if matrix is None or len(matrix) != 36:
        return normalize_rotation(rotation), False
    m = np.frombuffer(matrix, dtype="<i4").astype(np.float64)
    if m[0] * m[4] - m[1] * m[3] >= 0:
        return normalize_rotation(rotation), False
    # undo the mirror (it negates the first column) and read the turn as FFmpeg's av_display_rotation_get
    first, second = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    degrees = -math.degrees(math.atan2(m[1] / second, -m[0] / first))
    return normalize_rotation(degrees), True


def checked_parts(
    frame: Frame | np.ndarray, pts: int | None, alpha: np.ndarray | None, info: VideoInfo, duration: int | None = None
) -> tuple[np.ndarray, int | None, np.ndarray | None, int | None]:
    """What a sink's `write` was given, as (image, pts, alpha, duration): a Frame's own (its pts and duration
    unless given), or the arrays as they came. ValueError unless the image is an RGB frame of the info's
    stored size, uint8 or uint16, and the alpha plane (if any) one of that size and dtype."""
    if isinstance(frame, Frame):
        pts, duration = frame.pts if pts is None else pts, frame.duration if duration is None else duration
        frame, alpha = frame.image, frame.alpha
    expected = (info.height, info.width, 3)
    if frame.shape != expected or frame.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected an {expected} uint8 or uint16 RGB array, got {frame.shape} {frame.dtype}")
    if alpha is not None and (alpha.shape != expected[:2] or alpha.dtype != frame.dtype):
        raise ValueError(f"expected an {expected[:2]} {frame.dtype} alpha plane, got {alpha.shape} {alpha.dtype}")
    return frame, pts, alpha, duration
