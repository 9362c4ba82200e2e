"""The atoms (boxes) of an MP4 or MOV file, read by hand where FFmpeg says too little about a damaged one: it
opens a file cut inside its index (moov atom) as one without streams, and a video track whose sample
description is damaged as one of no codec, without naming the tag it found."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

_TRACK_PATH = (b"mdia", b"minf", b"stbl", b"stsd")  # where a track's sample description lies


def _atoms(f: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, where its content starts, where it ends) of each atom from `start` to `end`; the last may end
    past `end`, where the file was cut. Stops at a size too small to be an atom's (damage)."""
    at = start
    while at + 8 <= end:
        f.seek(at)
        head = f.read(16)
        size, kind, header = int.from_bytes(head[:4], "big"), head[4:8], 8
        if size == 1 and len(head) == 16:  # a 64-bit size follows the type
            size, header = int.from_bytes(head[8:16], "big"), 16
        elif size == 0:  # the last atom, to the end of the file
            size = end - at
        if size < header:
            return
        yield kind, at + header, at + size
        at += size


def cut_atom(path: str | os.PathLike) -> str | None:
    """The type of the top-level atom of the file at `path` whose stated size runs past the file's end (a copy
    or download cut short, or a recording still being written): "moov", "mdat"; None where every one fits."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            for kind, _, end in _atoms(f, 0, size):
                if end > size:
                    return kind.decode("latin-1")
    except OSError:
        return None
    return None


def video_sample_tags(path: str | os.PathLike) -> list[str]:
    """The sample-entry tag ("avc1", "hvc1", ...) of each video track of the file at `path` whose sample
    description can be read, as its stsd atom states it; FFmpeg picks the decoder by it."""
    tags = []
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            for kind, start, end in _atoms(f, 0, size):
                if kind != b"moov":
                    continue
                for track, track_start, track_end in _atoms(f, start, min(end, size)):
                    if track == b"trak" and (tag := _video_tag(f, track_start, min(track_end, size))):
                        tags.append(tag)
    except OSError:
        return []
    return tags


def _video_tag(f: BinaryIO, start: int, end: int) -> str | None:
    """The first sample entry's tag of a trak atom's content from `start` to `end`, if its handler is video."""
    video, place = False, (start, end)
    for depth, name in enumerate(_TRACK_PATH):
        inside = list(_atoms(f, *place))
        if depth == 1:  # in mdia: its hdlr atom says the track's kind (after version, flags and a zero)
            video = any(kind == b"hdlr" and _read(f, at + 8, 4) == b"vide" for kind, at, _ in inside)
        found = [(at, stop) for kind, at, stop in inside if kind == name]
        if not found:
            return None
        place = (found[0][0], min(found[0][1], end))
    entry = _read(f, place[0] + 8 + 4, 4)  # after stsd's version, flags and entry count: the entry's size, then tag
    return entry.decode("latin-1") if video and len(entry) == 4 else None


def _read(f: BinaryIO, at: int, count: int) -> bytes:
    f.seek(at)
    return f.read(count)
