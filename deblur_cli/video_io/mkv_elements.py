"""The elements (EBML) of a Matroska or WebM file's track list, read by hand where FFmpeg says too little to PyAV:
a video track's Dolby Vision configuration, which FFmpeg reads into stream side data PyAV does not pass on. Only
the head of the file is read: the tracks come before the first cluster of frames."""

from __future__ import annotations

import os
from collections.abc import Iterator

from deblur_cli.video_io.hdr import DolbyVision

_HEAD = 1 << 20  # how much of a file is read for its tracks: muxers write them within the first kilobytes
_SEGMENT, _TRACKS, _TRACK, _CLUSTER = 0x18538067, 0x1654AE6B, 0xAE, 0x1F43B675
_TRACK_TYPE, _VIDEO = 0x83, 1
_MAPPING, _MAPPING_TYPE, _MAPPING_DATA = 0x41E4, 0x41E7, 0x41ED
# Dolby Vision's configuration records, by the type a block addition mapping names them with (a fourcc)
_DOLBY_VISION_TYPES = {int.from_bytes(name, "big") for name in (b"dvcC", b"dvvC", b"dvwC")}


def dolby_vision(path: str | os.PathLike) -> DolbyVision | None:
    """The Dolby Vision configuration of the first video track of the Matroska file at `path` that has one (a block
    addition mapping of type dvcC, dvvC or dvwC); None without one, or where the head of the file cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read(_HEAD)
    except OSError:
        return None
    for kind, start, end in _elements(data, 0, len(data)):
        if kind != _SEGMENT:
            continue
        for part, part_start, part_end in _elements(data, start, end):
            if part == _CLUSTER:
                return None
            if part != _TRACKS:
                continue
            for track, track_start, track_end in _elements(data, part_start, part_end):
                if track == _TRACK and (found := _track_dolby_vision(data, track_start, track_end)):
                    return found
    return None


def _track_dolby_vision(data: bytes, start: int, end: int) -> DolbyVision | None:
    """The Dolby Vision configuration of a TrackEntry's content from `start` to `end`, if it is a video track."""
    children = list(_elements(data, start, end))
    if not any(kind == _TRACK_TYPE and _unsigned(data[a:b]) == _VIDEO for kind, a, b in children):
        return None
    for kind, a, b in children:
        if kind != _MAPPING:
            continue
        fields = {name: data[x:y] for name, x, y in _elements(data, a, b)}
        if _unsigned(fields.get(_MAPPING_TYPE, b"")) in _DOLBY_VISION_TYPES and _MAPPING_DATA in fields:
            return DolbyVision.of_record(fields[_MAPPING_DATA])
    return None


def _elements(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(id, where its content starts, where it ends) of each element from `start` to `end`; an element of unknown
    size (a live recording's segment) runs to `end`. Stops at damage: an id or size that cannot be read."""
    at = start
    while at < end:
        kind, id_length = _vint(data, at, keep_marker=True)
        size, size_length = _vint(data, at + id_length) if id_length else (None, 0)
        if not id_length or not size_length:
            return
        content = at + id_length + size_length
        stop = end if size is None else min(content + size, end)
        yield kind, content, stop
        at = stop


def _vint(data: bytes, at: int, keep_marker: bool = False) -> tuple[int | None, int]:
    """EBML's variable-length integer at `at` and its length in bytes (0: none there). With `keep_marker`, an id's
    bytes as they stand; else a size, None where all its bits are set (unknown)."""
    if at >= len(data) or not data[at]:
        return None, 0
    length = 9 - data[at].bit_length()  # the leading zeros, plus the marker bit
    if at + length > len(data):
        return None, 0
    value = int.from_bytes(data[at : at + length], "big")
    if keep_marker:
        return value, length
    value &= (1 << (7 * length)) - 1
    return (None if value == (1 << (7 * length)) - 1 else value), length


def _unsigned(raw: bytes) -> int:
    return int.from_bytes(raw, "big") if raw else -1
