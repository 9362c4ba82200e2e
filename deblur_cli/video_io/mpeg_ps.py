"""Whether an MPEG program stream (.mpg, .vob, .mpeg) ends inside one of its packs: FFmpeg measures such a
file's length from what is left of it, so a copy cut short reads as a whole shorter file. Its layout tells:
every part of it (pack headers, the system header, PES packets) begins with a start code and states its
own length, so a walk from one pack to the next lands exactly on the file's end unless the file was cut.
"""

from __future__ import annotations

import os

from deblur_cli import files

TAIL_BYTES = 1 << 16  # how much of the file's end is read (a DVD's packs are 2048 bytes, FFmpeg's too)
_PACK, _END, _SYSTEM = 0xBA, 0xB9, 0xBB  # start codes; those from 0xBC on begin PES packets
_CHAIN = 2  # pack headers the walk must have met, one after another, before a file is taken for cut


def ends_inside_a_pack(path: str | os.PathLike) -> bool:
    """Whether the file breaks off inside a pack header or a PES packet. A walk starts at a pack header in
    the file's last TAIL_BYTES and follows the lengths; it says yes only where a part runs past the end
    after _CHAIN pack headers met in a row, and no where it lands on the end or after the end code. A walk
    that meets anything else (junk, padding, a start code's bytes found by chance in a picture's data) is
    given up, and the next pack header tried: a whole file is never refused on a guess."""
    if (tail := files.read_tail(path, TAIL_BYTES)) is None:
        return False
    at = tail.find(b"\x00\x00\x01\xba")
    while at >= 0:
        if (cut := _walk(tail, at)) is not None:
            return cut
        at = tail.find(b"\x00\x00\x01\xba", at + 1)
    return False


def _walk(data: bytes, at: int) -> bool | None:
    """From the pack header at `at` to the end of `data`: True where a part runs past it (after _CHAIN pack
    headers), False where the parts end with it; None where the walk breaks off."""
    packs = 0
    while at < len(data):
        if len(data) - at < 4 or data[at : at + 3] != b"\x00\x00\x01":
            return None  # junk or padding (or a start code cut short, not told apart from them)
        length = _part_length(data, at)
        if length is None:
            return None
        if length == 0 or at + length > len(data):  # the part's header, or the part, runs past the end
            return True if packs >= _CHAIN else None
        if data[at + 3] == _END:
            return False  # the program's end: what follows is not its
        packs += data[at + 3] == _PACK
        at += length
    return False


def _part_length(data: bytes, at: int) -> int | None:
    """The length in bytes of the part whose start code is at `at`; 0 where its header is cut short; None
    for a start code a program stream does not hold there."""
    code = data[at + 3]
    if code == _END:
        return 4
    if code == _PACK:
        if len(data) < at + 5:
            return 0
        if data[at + 4] & 0xC0 == 0x40:  # MPEG-2: 14 bytes and up to 7 of stuffing
            return 14 + (data[at + 13] & 0x07) if len(data) >= at + 14 else 0
        return 12 if data[at + 4] & 0xF0 == 0x20 else None  # MPEG-1
    if code >= _SYSTEM:
        return 6 + int.from_bytes(data[at + 4 : at + 6], "big") if len(data) >= at + 6 else 0
    return None
