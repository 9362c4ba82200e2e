"""Opening an output for frames: a video file (container from the suffix), a directory of PNG frames, or one
image file."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, replace
from pathlib import Path

from deblur_cli.errors import OutputError
from deblur_cli.video_io.container_traits import container_traits
from deblur_cli.video_io.encoding import EncodeOptions
from deblur_cli.video_io.frame_timing import Timing, timing_of
from deblur_cli.video_io.frame_sink import FrameSink
from deblur_cli.video_io import image_file, png_sequence
from deblur_cli.video_io.image_file import ImageFileSink, check_image_output, is_image_output
from deblur_cli.video_io.images import READ_ONLY_IMAGE_SUFFIXES, reads_as_image
from deblur_cli.video_io.info import VideoInfo
from deblur_cli.video_io.png_sequence import PngSequenceSink
from deblur_cli.video_io.segments import SegmentedVideoSink
from deblur_cli.video_io.writer import (
    ROTATING_FORMATS,
    VideoEncoder,
    VideoFileSink,
    carry_streams,
    muxer_of,
    open_container,
    start_encoding,
)


def is_frame_directory(path: str | os.PathLike) -> bool:
    """Whether an output path means a PNG sequence: an existing directory, a trailing slash, or no suffix."""
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or os.path.isdir(text) or not Path(text).suffix


def open_sink(
    path: str | os.PathLike,
    info: VideoInfo,
    options: EncodeOptions = EncodeOptions(),
    *,
    source: str | os.PathLike | None = None,
    resume_key: dict | None = None,
    fresh: bool = False,
) -> FrameSink:
    """Open an output for frames shaped like `info` (stored orientation, its dtype).

    A video file gets its container from the suffix and the audio and subtitles of `source` (a media file;
    ignored for image inputs). A directory path gets 16-bit PNGs for deep input, 8-bit otherwise. An image
    suffix (.png, .jpg, .tif, .bmp) gets one image: the output of a one-frame source such as a photo.
    With a `resume_key`, a video file is written by way of segments, and PNG frames into a work folder,
    which an interrupted run leaves for the next one with the same key (segments.SegmentedVideoSink,
    png_sequence.PngSequenceSink; `fresh` discards them instead). Every output, with a key or not, is
    locked against other runs while it is written (work_folder.OutputLock).
    Raises OutputError for an unusable path, codec or pixel format before anything is written.
    """
    if is_frame_directory(path):
        _check_frame_directory(path, options)
        return PngSequenceSink(path, info, options, key=resume_key, fresh=fresh)
    if is_image_output(path):
        return ImageFileSink(path, info, options, source=source)  # which makes check_image_output's checks
    carry, info = _carries(source), with_grid(path, info, source)
    if resume_key is not None:
        return SegmentedVideoSink(path, info, options, key=resume_key, source=source if carry else None, fresh=fresh)
    return VideoFileSink(path, info, options, source=source if carry else None)


def shows_turned(path: str | os.PathLike) -> bool:
    """Whether the output at `path` is seen turned (and mirrored) as a source's display rotation says: PNG
    frames and image files are written turned; a video file's container records the rotation where its
    format can (.mp4, .mov, .mkv, .webm), and elsewhere (.avi) players show the frames as stored."""
    if is_frame_directory(path) or is_image_output(path):
        return True
    muxer = muxer_of(Path(path).suffix)
    return muxer is None or muxer in ROTATING_FORMATS  # None: a suffix FFmpeg does not know, which open_sink says


@dataclass(frozen=True)
class Plan:
    """What `open_sink` would write for a source, told before a run (`deblur info`)."""

    warnings: tuple[str, ...]  # what of the source the output cannot hold as it is
    writes: str  # the encoder and pixel format, in words: "libx264, yuv420p", "PNG frames", "an image (.png)"
    alpha_kept: bool  # the source's alpha channel is written (False for a source without one)


def planned_warnings(
    path: str | os.PathLike,
    info: VideoInfo,
    options: EncodeOptions = EncodeOptions(),
    *,
    source: str | os.PathLike | None = None,
) -> list[str]:
    """The warnings `open_sink(path, info, options, source=source)` would give (plan_sink's). Raises OutputError as
    open_sink would."""
    return list(plan_sink(path, info, options, source=source).warnings)


def plan_sink(
    path: str | os.PathLike,
    info: VideoInfo,
    options: EncodeOptions = EncodeOptions(),
    *,
    source: str | os.PathLike | None = None,
) -> Plan:
    """What `open_sink(path, info, options, source=source)` would write, and the warnings it would give: what of
    the source the output cannot hold as it is. Nothing is written: a video file's encoder and container are set
    up in memory, the source's other streams matched against them, and the encoders opened; and where the output
    counts frames at one rate (AVI, Y4M, MXF, bare streams) or holds no times (PNG frames) and the source's
    rate varies, that it drifts there. The encoder told is the one set up, so it is the one a run opens.
    Raises OutputError as open_sink would."""
    if is_frame_directory(path):
        _check_frame_directory(path, options)
        warnings = png_sequence.left_out(info, options)
        if (timing := _timing(source)) is not None:
            warnings += _times_lost(
                timing,
                "a PNG sequence holds no frame times",
                "this video's rate varies",
                "read back at one rate (an editor's image-sequence import), its frames drift against the sound",
                ".mp4, .mov and .mkv keep",
                sound=False,
            )
        writes = "PNG frames" + (", grey where the input's are" if png_sequence.grey_png(info) else "")
        return Plan(tuple(warnings), writes, info.alpha)  # a PNG holds an alpha channel at either depth
    if is_image_output(path):
        check_image_output(path, info, options)
        image = image_file.image_encoding(path, info)
        writes = f"an image ({Path(path).suffix}{', grey' if image.grey else ''})"
        return Plan(tuple(image_file.left_out(Path(path), info, options)), writes, image.alpha)
    name, info = Path(path).name, with_grid(path, info, source)
    memory = io.BytesIO()
    memory.name = name
    container = open_container(memory, name)
    warnings: list[str] = []
    try:
        encoder = VideoEncoder(container, name, info, options, warnings)
        if _carries(source):
            carry_streams(source, container, encoder, options, warnings).close()
        start_encoding(container, encoder.encoding, in_memory=True)
        sound = bool(container.streams.audio)  # the source's audio, carried
    finally:
        with contextlib.suppress(Exception):
            container.close()
    timing = _timing(source) if encoder.frame_clock and not encoder.on_grid else None
    if timing is not None:
        drift = "drift against the sound" if sound else "show later than in the input"
        warnings += _times_lost(
            timing,
            f"{encoder.frame_clock} counts frames at one rate",
            "this video's varies",
            f"frames that come faster than its average take the next free frame's time, and {drift} until slower"
            " ones let them catch up",
            encoder.keeping(),
            sound=sound,
        )
    encoding = encoder.encoding
    profile = encoding.options.get("profile")
    writes = f"{encoding.encoder}, {encoding.pix_fmt}" + (f", profile {profile}" if profile else "")
    return Plan(tuple(warnings), writes, encoder.alpha)


def _times_lost(timing: Timing, output: str, varies: str, drifts: str, keeping: str, *, sound: bool) -> list[str]:
    """The warnings for a source whose frames do not come at one rate (`timing`) where the `output` holds no times of
    its own ("a PNG sequence holds no frame times") or counts frames at one rate: a varying rate (`varies`, "this
    video's varies") and how its frames drift there (`drifts`); else each gap in its timestamps (_gaps_closed).
    `keeping`: the outputs or codec that would keep each frame's time (".mp4, .mov and .mkv keep"); `sound`: whether
    the output holds the source's audio, against which the gaps are told."""
    if timing.varying is not None:
        return [f"{output}, and {varies}, {timing.varying.describe()}: {drifts}; {keeping} each frame's time"]
    return _gaps_closed(output, timing, keeping, sound)


def _gaps_closed(output: str, timing: Timing, keeping: str, sound: bool) -> list[str]:
    """The warnings for gaps in a source's timestamps (`timing`: frames missing, a pause where its clock jumps
    forward) where the `output` counts frames: each gap closes up, and the frames after it show that much earlier
    than in the source; against its sound where the output holds that (`sound`: not a silent source, nor .y4m,
    PNG frames or --no-audio, which hold none)."""
    said = []
    if timing.holes is not None:
        frames = "a frame" if timing.holes.frames == 1 else f"{timing.holes.frames} frames"
        early = f"up to {frames} ahead of the sound" if sound else f"by up to {frames}"
        said.append(
            f"{output}, and this video's timestamps jump over {frames} (missing from the file): the output closes the"
            f" gaps, and the frames after each show earlier than in the input, {early}; {keeping} each frame's time"
        )
    if timing.breaks:
        said.append(
            f"{output}, and this video's timestamps jump forward by up to {float(max(timing.breaks)):.0f} s (a"
            " discontinuity): the output closes the pause, and the frames after it show that much earlier than in the"
            f" input{', against the sound' if sound else ''}; {keeping} each frame's time"
        )
    return said


def with_grid(path: str | os.PathLike, info: VideoInfo, source: str | os.PathLike | None) -> VideoInfo:
    """`info` with the grid its source's frames fall on where they do not come at one rate (frame_timing.Timing.grid:
    a varying rate's, or the rate of a stream with frames missing), for an output whose container leaves the ticks
    between frames empty (AVI: ContainerTraits.gapped), whose clock then ticks at that grid: each frame keeps its
    time. At the average rate, frames that come faster took the next free tick and drifted from the sound (a phone's
    3 s at 30 fps then 3 s at 15 had frames 0.93 s late)."""
    muxer = muxer_of(Path(path).suffix)
    if muxer is None or not container_traits(muxer).gapped or info.grid or (timing := _timing(source)) is None:
        return info
    return replace(info, grid=timing.grid)


def _timing(source: str | os.PathLike | None) -> Timing | None:
    """How the frames of a media `source` come (frame_timing.Timing); None for images and where it is no file."""
    return timing_of(source) if _carries(source) else None


def _carries(source: str | os.PathLike | None) -> bool:
    """Whether a source's other streams go into a video output: it is a media file, not images."""
    return source is not None and os.path.isfile(source) and not reads_as_image(source)


def check_sink(path: str | os.PathLike, info: VideoInfo, options: EncodeOptions = EncodeOptions()) -> None:
    """The checks of the output's kind that need no file opened, so a command can make them before
    it loads a model: a PNG-frame directory takes no video codec, an image file one frame. Raises
    OutputError. (A video file's encoder is checked when open_sink opens it.)"""
    if is_frame_directory(path):
        _check_frame_directory(path, options)
    elif is_image_output(path):
        check_image_output(path, info, options)
    elif (suffix := Path(path).suffix.lower()) in READ_ONLY_IMAGE_SUFFIXES:
        raise OutputError(
            f"deblur reads {suffix} images but does not write them",
            hint="write .png or .tif (16 bits), or .jpg, instead",
        )


def _check_frame_directory(path: str | os.PathLike, options: EncodeOptions) -> None:
    if options.codec not in (None, "png"):
        raise OutputError(
            f"{os.fspath(path)} is a directory, which holds PNG frames, not {options.codec} video",
            hint="give the output a video suffix such as .mp4 or .mkv",
        )
