"""Opening any input as a stream of frames: a video file, a directory or glob of images, or one image."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from deblur_cli.errors import InputError
from deblur_cli.span import Span
from deblur_cli.video_io.frame_timing import break_warning, gap_warning, timing_of
from deblur_cli.video_io.gif_end import missing_trailer
from deblur_cli.video_io.image_kinds import survey
from deblur_cli.video_io.images import (
    ImageSequenceSource,
    float_warning,
    is_image_sequence,
    list_images,
    reads_as_image,
)
from deblur_cli.video_io.info import DEFAULT_FPS, Frame, VideoInfo
from deblur_cli.video_io.reader import VideoFileSource
from deblur_cli.video_io.truncation import damaged_hint, packets_end_early, tail_cut


@dataclass(frozen=True)
class ReadOptions:
    """How an input is read: which part of it, at what rate an image sequence's frames come, which videos
    are deinterlaced."""

    span: Span = Span()  # the part to read; a video's timestamps start from the span's first frame
    image_rate: Fraction | None = None  # an image sequence's frames a second (DEFAULT_FPS without); videos keep theirs
    deinterlace: str = "auto"  # "auto", "on", "off" or "double": which videos are deinterlaced (VideoFileSource)


class FrameSource(Protocol):
    """Frames of one input in order, streaming; a context manager that closes the input."""

    info: VideoInfo
    warnings: list[str]  # what reading has left out so far (damaged packets skipped), for the run's summary

    def __iter__(self) -> Iterator[Frame]: ...

    def skip_to(self, index: int, pts: int | None) -> None:
        """Make iteration start at frame `index` of the span, whose Frame.pts is `pts`."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> FrameSource: ...

    def __exit__(self, *exc) -> None: ...


def open_source(path: str | os.PathLike, read: ReadOptions = ReadOptions()) -> FrameSource:
    """Open a video file, a directory of images, a glob pattern ("frames/*.png") or a single image, read as
    `read` says.

    `.info` is ready at once (the first frame is decoded to fill it); iterating yields `Frame`s. With a
    span, only its frames are delivered (image sequences count `image_rate` frames a second,
    DEFAULT_FPS without one), and a video's timestamps start from the span's first frame. `image_rate`
    becomes an image sequence's `info.fps`; a video keeps its own timing. `deinterlace` says which
    videos are deinterlaced (VideoFileSource); images are taken as they are.
    Raises InputError with a one-line message and a hint for anything that cannot be read.
    """
    span, image_rate = read.span, read.image_rate
    text = os.fspath(path)
    if is_image_sequence(text):
        return ImageSequenceSource(_images_in(list_images(text), span, text, image_rate), rate=image_rate)
    try:
        mode = os.stat(text).st_mode
    except OSError as e:  # missing, or a link to nothing or round a loop of links
        missing = e.errno == errno.ENOENT
        if missing and os.path.islink(text):
            target = os.readlink(text)
            raise InputError(f"{text} is a link to a missing file ({target})", hint="check the link") from None
        raise InputError(
            f"{text}: {'no such file or directory' if missing else e.strerror.lower()}",
            hint="check the path; quote glob patterns like 'frames/*.png'" if missing else "check the path",
        ) from None
    if not stat.S_ISREG(mode):  # a pipe, /dev/stdin, a device
        raise InputError(
            f"{text} is a pipe or a device, not a file: deblur reads its input more than once",
            hint="save the stream to a file first",
        )
    if reads_as_image(text):
        return ImageSequenceSource(_images_in([Path(text)], span, text, image_rate), rate=image_rate)
    return VideoFileSource(text, span, deinterlace=read.deinterlace)


def _images_in(paths: list[Path], span: Span, text: str, rate: Fraction | None) -> list[Path]:
    rate = rate or DEFAULT_FPS
    chosen = span.frames(len(paths), rate)
    if not chosen:
        length = len(paths) / rate
        if span.start < length:  # inside the sequence, but between two frames' starts
            raise InputError(
                f"{text}: no image starts from {span.describe()} at {rate} frames a second",
                hint="give the span at least one frame's duration",
            )
        raise InputError(
            f"{text}: no image from {span.describe()}: {len(paths)} images last {float(length):g} s "
            f"at {rate} frames a second",
            hint="choose an earlier --start",
        )
    return paths[chosen.start : chosen.stop]


def input_identity(path: str | os.PathLike) -> dict:
    """What tells whether an input is still the one an earlier run read, cheaply. A file (a video, an image)
    by its content: its size and a SHA-256 of samples of its bytes (`_sampled_digest`), so that a copy, a move
    or a `touch` keeps it, while new content (a re-export, a trim) of any size changes it. A folder or glob of
    images by its path and each image's size and modification time (reading a sample of thousands of images
    would take a while)."""
    text = os.fspath(path)
    if is_image_sequence(text):
        digest = hashlib.sha256()
        files = list_images(text)
        for file in files:
            stat = file.stat()
            digest.update(os.fsencode(f"{file.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n"))
        return {"path": str(Path(text).resolve()), "files": len(files), "digest": digest.hexdigest()}  # one spelling
    size, sampled = _sampled_digest(Path(text))
    return {"size": size, "sampled_sha256": sampled}


_SAMPLE_ENDS = 1 << 20  # bytes read at each end of a file: a video's headers and index lie there
_SAMPLE_BLOCKS, _SAMPLE_BLOCK = 16, 1 << 16  # and blocks spread between them


def _sampled_digest(path: Path) -> tuple[int, str]:
    """The size of the file at `path` and the SHA-256 of its first and last _SAMPLE_ENDS bytes and of
    _SAMPLE_BLOCKS blocks spread evenly between them (all of it, for a file up to about 3 MiB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        middle = size - 2 * _SAMPLE_ENDS
        if middle <= _SAMPLE_BLOCKS * _SAMPLE_BLOCK:
            parts = [(0, size)]
        else:
            spread = [(_SAMPLE_ENDS + middle * k // _SAMPLE_BLOCKS, _SAMPLE_BLOCK) for k in range(_SAMPLE_BLOCKS)]
            parts = [(0, _SAMPLE_ENDS), *spread, (size - _SAMPLE_ENDS, _SAMPLE_ENDS)]
        for start, length in parts:
            file.seek(start)
            digest.update(file.read(length))
    return size, digest.hexdigest()


def describe(path: str | os.PathLike, read: ReadOptions = ReadOptions()) -> VideoInfo:
    """The VideoInfo of an input read as `read` says (as open_source), without reading past its span's first
    frame."""
    with open_source(path, read) as source:
        return source.info


def first_look(path: str | os.PathLike) -> tuple[VideoInfo, list[str]]:
    """The VideoInfo of an input (as describe), and what the frames decoded for it warn that reading loses: a
    limited-range video's levels beyond black and white (VideoFileSource.level_warnings)."""
    with open_source(path) as source:
        return source.info, source.level_warnings if isinstance(source, VideoFileSource) else []


def check_not_cut(path: str | os.PathLike, span: Span = Span()) -> None:
    """InputError, before any frame is decoded, where a video file is cut short before its `span` ends
    (truncation.tail_cut): the whole read would restore every frame up to the cut, then fail with nothing
    written. A span that ends before the cut is read as it would be. Only a video file is checked: not images,
    nor a missing file, which open_source refuses with its own message."""
    text = os.fspath(path)
    if is_image_sequence(text) or not os.path.exists(text) or reads_as_image(text):
        return
    cut = tail_cut(text)
    # a span's end is let through where the cut's place is unknown: the reader's own end check decides there
    if cut is not None and (span.end is None or (cut.end is not None and span.end > cut.end + 1e-6)):
        hint = damaged_hint(cut.end, float(span.start)) if cut.end is not None else cut.hint  # --start past it
        raise InputError(f"{path}: {cut.problem}", hint=hint)


def reading_warnings(path: str | os.PathLike, info: VideoInfo) -> list[str]:
    """What reading the whole input `path`, whose `describe` is `info`, would stop at or warn about, found
    without decoding: the images of a sequence of another size or kind than the first, from their headers
    (image_kinds.survey), and a video file's packets that stop before its stated end (truncation.packets_end_early)
    or a GIF's missing trailer (gif_end.missing_trailer), or else frames missing from a stream at one rate, where its
    timestamps jump (frame_timing.Timing.holes)."""
    text = os.fspath(path)
    if is_image_sequence(text):
        images = list_images(text)
        clipped = float_warning(images[0].name, info.pix_fmt, read=False) if images else None
        return ([clipped] if clipped else []) + survey(images, info)
    if reads_as_image(text):
        return [clipped] if (clipped := float_warning(Path(text).name, info.pix_fmt, read=False)) else []
    if ended := packets_end_early(text) or missing_trailer(text):
        return [ended]
    timing = timing_of(text)
    if timing is None:
        return []
    read = "" if timing.all_read else f" (of its first {timing.frames} frames)"
    breaks = [break_warning(timing.breaks)] if timing.breaks else []
    gaps = gap_warning(timing.holes.describe(float(timing.first)) + read, info.container) if timing.holes else None
    return breaks + ([gaps] if gaps else [])
