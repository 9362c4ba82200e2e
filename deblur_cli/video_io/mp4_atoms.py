"""The atoms (boxes) of an MP4 or MOV file, read by hand where FFmpeg says too little: it opens a file cut inside
its index (moov atom) as one without streams, and a video track whose sample description is damaged as one of
no codec, without naming the tag it found; and it measures a track with reordered frames up to its last sample
in decode order, not to where its edit list ends it (a frame held at the end loses its hold), and averages its
rate over such a hold (its sample durations tell the frames' own). A video's Dolby Vision configuration, which FFmpeg
reads into stream side data PyAV does not pass on, is read here too. Each file's moov atom is read once (_movie)."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from fractions import Fraction
from typing import BinaryIO, NamedTuple

from deblur_cli.files import file_version
from deblur_cli.video_io.hdr import DolbyVision

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


class Edits(NamedTuple):
    """Where a track's edit list ends it (presented_end)."""

    end: Fraction  # seconds from the start of the movie
    tick: Fraction  # the movie time scale's unit (s), to which the edit list rounds every length


def presented_end(path: str | os.PathLike, track_id: int) -> Edits | None:
    """Where the edit list of the track `track_id` (FFmpeg's stream id) ends its presentation: the sum of its
    edits, an empty one that delays the track included, which is how FFmpeg times the track's frames. None
    without an edit list, or with one FFmpeg does not play as it says: an edit at another rate than 1 (a phone's
    slow motion), one of no length, or a fragmented file's (whose fragments FFmpeg reads past it)."""
    track = _tracks(path).get(track_id)
    if track is None or track.fragmented or not track.scale or not track.edits or not all(track.edits):
        return None
    return Edits(Fraction(sum(track.edits), track.scale), Fraction(1, track.scale))


class Samples(NamedTuple):
    """How long a track's samples last, by its sample durations (stts): decode-order steps, those but the last
    spanning the same time as the frames' own."""

    count: int
    before_last: Fraction  # s: all samples but the last, together
    longest: Fraction  # s: the longest duration of those
    last: Fraction  # s: the last sample's duration
    tick: Fraction  # s: the unit of the track's time scale, to which every duration is rounded


def sample_durations(path: str | os.PathLike, track_id: int) -> Samples | None:
    """The sample durations of the track `track_id` (FFmpeg's stream id); None where they cannot be read, and for
    a fragmented file (its samples are in its fragments)."""
    track = _tracks(path).get(track_id)
    return None if track is None or track.fragmented else track.samples


class _Track(NamedTuple):
    scale: int  # the movie's time scale (mvhd), which its edit lists count in; 0 where unread
    edits: tuple[int, ...] | None  # the length of each edit of its edit list (_edit_lengths); None without one
    samples: Samples | None  # its sample durations; None where unread
    fragmented: bool  # the movie continues in fragments (mvex)
    dolby_vision: DolbyVision | None  # a video track's Dolby Vision configuration


def _tracks(path: str | os.PathLike) -> dict[int, _Track]:
    """The tracks of the MP4 or MOV file at `path`, by id; none where it cannot be read."""
    version = file_version(path)
    return _movie(os.fspath(path), version) if version is not None else {}


@functools.lru_cache(maxsize=8)
def _movie(path: str, version: tuple[int, ...]) -> dict[int, _Track]:
    """The tracks of the file at `path`, by id, as its moov atom describes them; the first of two with one id. Read
    once for the file as it is (`version`, files.file_version, its size first): a run asks for the rate and the end
    of its input's video track a dozen times (11 walks of a 40-frame clip's moov, each from the first byte)."""
    size = version[0]
    tracks: dict[int, _Track] = {}
    try:
        with open(path, "rb") as f:
            for kind, start, end in _atoms(f, 0, size):
                if kind != b"moov":
                    continue
                inside = list(_atoms(f, start, min(end, size)))
                header = next((at for kind, at, _ in inside if kind == b"mvhd"), None)
                scale = 0 if header is None else _time_scale(f, header)
                fragmented = any(kind == b"mvex" for kind, _, _ in inside)
                for kind, track_start, track_end in inside:
                    if kind != b"trak":
                        continue
                    parts = {k: (a, b) for k, a, b in _atoms(f, track_start, min(track_end, size))}
                    if b"tkhd" in parts:
                        entry = _video_entry(f, track_start, min(track_end, size))
                        vision = _dolby_vision_of(f, entry[0] + _VISUAL_ENTRY, entry[1]) if entry else None
                        track = _Track(scale, _edits(f, parts), _samples(f, parts), fragmented, vision)
                        tracks.setdefault(_track_id(f, parts[b"tkhd"][0]), track)
    except OSError:
        return {}
    return tracks


def _edits(f: BinaryIO, parts: dict[bytes, tuple[int, int]]) -> tuple[int, ...] | None:
    """The length of each edit of a track's edit list, of the atoms `parts` of its trak."""
    found = _inside(f, parts.get(b"edts"), b"elst")
    lengths = _edit_lengths(f, found[0]) if found else None
    return None if lengths is None else tuple(lengths)


def _samples(f: BinaryIO, parts: dict[bytes, tuple[int, int]]) -> Samples | None:
    """The sample durations of a track, of the atoms `parts` of its trak: its media header's time scale (mdhd)
    and its table of durations (stts: runs of samples of one duration)."""
    media = _inside(f, parts.get(b"mdia"), b"mdhd")
    table = _inside(f, _inside(f, _inside(f, parts.get(b"mdia"), b"minf"), b"stbl"), b"stts")
    if media is None or table is None or not (scale := _time_scale(f, media[0])):
        return None
    count = int.from_bytes(_read(f, table[0] + 4, 4), "big")  # after version and flags
    data = _read(f, table[0] + 8, max(min(8 * count, table[1] - table[0] - 8), 0))  # no more than the atom holds
    if not count or len(data) < 8 * count:
        return None
    runs = [
        (int.from_bytes(data[i : i + 4], "big"), int.from_bytes(data[i + 4 : i + 8], "big"))
        for i in range(0, len(data), 8)
    ]
    count, last = sum(n for n, _ in runs), runs[-1][1]
    before_last = sum(n * step for n, step in runs) - last
    longest = max([step for n, step in runs[:-1] if n] + ([last] if runs[-1][0] > 1 else []), default=0)
    return Samples(
        count, Fraction(before_last, scale), Fraction(longest, scale), Fraction(last, scale), Fraction(1, scale)
    )


def _time_scale(f: BinaryIO, at: int) -> int:
    """The time scale of an mvhd or mdhd atom whose content starts `at`: after version and flags, two times of 4
    or 8 bytes."""
    return int.from_bytes(_read(f, at + (20 if _read(f, at, 1) == b"\x01" else 12), 4), "big")


def _inside(f: BinaryIO, place: tuple[int, int] | None, kind: bytes) -> tuple[int, int] | None:
    """(start, end) of the content of the first atom of `kind` in the content from place[0] to place[1]."""
    if place is None:
        return None
    return next(((at, stop) for name, at, stop in _atoms(f, *place) if name == kind), None)


def _track_id(f: BinaryIO, at: int) -> int:
    """The track id of a tkhd atom whose content starts `at`: after version and flags, two times of 4 or 8
    bytes."""
    skip = 4 + (16 if _read(f, at, 1) == b"\x01" else 8)
    return int.from_bytes(_read(f, at + skip, 4), "big")


def _edit_lengths(f: BinaryIO, at: int) -> list[int] | None:
    """The length of each edit of an elst atom whose content starts `at` (movie time scale); None where one
    plays its media at another rate than 1."""
    width = 8 if _read(f, at, 1) == b"\x01" else 4  # version 1: 64-bit length and media time
    count = int.from_bytes(_read(f, at + 4, 4), "big")
    entry = 2 * width + 4  # length, media time, rate (16.16)
    data = _read(f, at + 8, count * entry)
    if len(data) < count * entry:
        return None
    edits = [data[place : place + entry] for place in range(0, len(data), entry)]
    if any(edit[-4:] != b"\x00\x01\x00\x00" for edit in edits):
        return None
    return [int.from_bytes(edit[:width], "big") for edit in edits]


def dolby_vision(path: str | os.PathLike) -> DolbyVision | None:
    """The Dolby Vision configuration of the MP4 or MOV file at `path`, its first video track's that has one (the
    dvcC, dvvC or dvwC atom in its sample entry, as phones that record Dolby Vision write it); None without one."""
    return next((track.dolby_vision for track in _tracks(path).values() if track.dolby_vision), None)


_DOLBY_VISION_ATOMS = (b"dvcC", b"dvvC", b"dvwC")  # profiles up to 7, 8 to 10, and later
_VISUAL_ENTRY = 8 + 78  # a visual sample entry's header and fixed fields, before the atoms it holds


def _dolby_vision_of(f: BinaryIO, start: int, end: int) -> DolbyVision | None:
    """The configuration in the atoms of a sample entry from `start` to `end` (DolbyVision.of_record)."""
    for kind, at, stop in _atoms(f, start, end):
        if kind in _DOLBY_VISION_ATOMS and stop - at >= 5:
            return DolbyVision.of_record(_read(f, at, 5))
    return None


def _video_tag(f: BinaryIO, start: int, end: int) -> str | None:
    """The first sample entry's tag of a trak atom's content from `start` to `end`, if its handler is video."""
    entry = _video_entry(f, start, end)
    tag = _read(f, entry[0] + 4, 4) if entry else b""
    return tag.decode("latin-1") if len(tag) == 4 else None


def _video_entry(f: BinaryIO, start: int, end: int) -> tuple[int, int] | None:
    """Where the first sample entry of a trak atom's content from `start` to `end` starts and ends (its size and tag
    first), if its handler is video."""
    video, place = False, (start, end)
    for depth, name in enumerate(_TRACK_PATH):
        inside = list(_atoms(f, *place))
        if depth == 1:  # in mdia: its hdlr atom says the track's kind (after version, flags and a zero)
            video = any(kind == b"hdlr" and _read(f, at + 8, 4) == b"vide" for kind, at, _ in inside)
        found = [(at, stop) for kind, at, stop in inside if kind == name]
        if not found:
            return None
        place = (found[0][0], min(found[0][1], end))
    at = place[0] + 8  # after stsd's version, flags and entry count: the entry's size, then its tag
    size = int.from_bytes(_read(f, at, 4), "big")
    return (at, min(at + size, place[1]) if size >= 8 else place[1]) if video else None  # a size of 0: damage


def _read(f: BinaryIO, at: int, count: int) -> bytes:
    f.seek(at)
    return f.read(count)
