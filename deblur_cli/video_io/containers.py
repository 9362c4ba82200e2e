"""Opening media files for reading, the same way whatever the PyAV release."""

from __future__ import annotations

import os
import re
from pathlib import Path

import av

from deblur_cli.errors import InputError
from deblur_cli.interrupts import raise_received

# A tag that is not UTF-8 (an old camera's Latin-1 title) must not make a file unreadable. PyAV before
# 19 decodes tags strictly unless told to drop such bytes; PyAV 19 keeps them (as surrogate escapes,
# written back unchanged) and takes no such option.
_READ_OPTIONS = {"metadata_errors": "ignore"} if int(av.__version__.split(".")[0]) < 19 else {}


# FFmpeg takes a name that starts with letters, digits, "+", "-" or "." and then a colon for a protocol's URL
# ("10:30.mp4" as protocol "10", ".12:00.mp4.part" as ".12"), and one that starts "subfile," too
_PROTOCOL_LIKE = re.compile(r"[A-Za-z0-9+.-]*:|subfile,")


def local_name(path: str | Path) -> str:
    """The name FFmpeg opens the local file `path` by: the path itself, or its absolute form where FFmpeg would
    take the relative name for a protocol's URL (a clip named by the time of day, `10:30.mp4`). An absolute path
    starts with "/" (or a drive, which FFmpeg knows), so it is always a file's."""
    name = os.fspath(path)
    return os.path.abspath(name) if _PROTOCOL_LIKE.match(name) and not os.path.isabs(name) else name


def open_input(path: str | Path) -> av.container.InputContainer:
    """av.open(path) for reading, tolerant of tags that are not UTF-8; raises what av.open raises, but
    for a signal that stopped the open (Ctrl-C or SIGTERM while a FIFO or a stalled share blocks it):
    FFmpeg reports an interrupted call, and the signal's own exception is raised instead."""
    try:
        return av.open(local_name(path), **_READ_OPTIONS)
    except av.error.InterruptedError:
        raise_received()


def empty_file(path: str | Path) -> InputError | None:
    """The error for a file of 0 bytes (a failed copy or download), which FFmpeg cannot open; None for any
    other file."""
    try:
        empty = Path(path).is_file() and Path(path).stat().st_size == 0
    except OSError:
        return None
    return InputError(f"{path} is empty (0 bytes)", hint="a failed copy or download: copy it again") if empty else None
