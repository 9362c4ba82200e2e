"""Opening any input as a stream of frames: a video file, a directory or glob of images, or one image."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from deblur_cli.errors import InputError
from deblur_cli.video_io.images import ImageSequenceSource, is_glob, is_image, list_images
from deblur_cli.video_io.info import Frame, VideoInfo
from deblur_cli.video_io.reader import VideoFileSource


class FrameSource(Protocol):
    """Frames of one input in order, streaming; a context manager that closes the input."""

    info: VideoInfo

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...

    def __enter__(self) -> FrameSource: ...

    def __exit__(self, *exc) -> None: ...


def open_source(path: str | os.PathLike) -> FrameSource:
    """Open a video file, a directory of images, a glob pattern ("frames/*.png") or a single image.

    `.info` is ready at once (the first frame is decoded to fill it); iterating yields `Frame`s.
    Raises InputError with a one-line message and a hint for anything that cannot be read.
    """
    text = os.fspath(path)
    if os.path.isdir(text):
        return ImageSequenceSource(list_images(text))
    if not os.path.exists(text):
        if is_glob(text):
            return ImageSequenceSource(list_images(text))
        raise InputError(
            f"{text}: no such file or directory", hint="check the path; quote glob patterns like 'frames/*.png'"
        )
    if is_image(text):
        return ImageSequenceSource([Path(text)])
    return VideoFileSource(text)


def describe(path: str | os.PathLike) -> VideoInfo:
    """The VideoInfo of an input without reading past its first frame."""
    with open_source(path) as source:
        return source.info
