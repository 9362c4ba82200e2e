"""Whether a JPEG file was cut short: its data stops before the end-of-image marker (FF D9).

FFmpeg's decoder fills in what is missing of a cut JPEG (half a download) with grey and green blocks and
reports nothing, so the file is checked by hand. The marker is looked for after the main image's
start-of-scan header, found by walking the segments before it by their stated lengths: an EXIF thumbnail
(in APP1, before it) ends with a marker of its own, and bytes after the image (a phone's motion photo
appends a video) come after the main one. Entropy-coded data cannot hold FF D9, as an FF there is followed
by 00 or a restart marker.
"""

from __future__ import annotations

import os

_SOI, _EOI, _SOS = b"\xff\xd8", b"\xff\xd9", 0xDA
_BARE_MARKERS = {0x01, *range(0xD0, 0xD8)}  # TEM and the restart markers carry no length


def cut_short(path: str | os.PathLike) -> bool:
    """Whether the JPEG at `path` stops before its main image's end marker, or inside a segment before its
    scan. False for a file that is not a JPEG, or one whose segments do not walk (FFmpeg judges those)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    if not data.startswith(_SOI):
        return False
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return False
        marker = data[at + 1]
        if marker == 0xFF:  # fill bytes before a marker
            at += 1
        elif marker in _BARE_MARKERS:
            at += 2
        elif marker == _SOS:
            return data.find(_EOI, at) < 0
        else:
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return True  # the headers run past the end of the file
