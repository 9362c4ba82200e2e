"""The file size an FLV file states in its onMetaData tag: FFmpeg reads the tag's duration but keeps its
filesize to itself, and that size is how a cut FLV file is told from a whole one (truncation.tail_cut),
since FFmpeg measures the duration of an FLV without one from what is left of it.

The layout (Adobe's FLV and AMF0 specifications): a 9-byte header ("FLV", version, flags, header size),
a 4-byte previous-tag size, then tags of an 11-byte header (type, 24-bit data size, timestamp, stream id)
and their data. onMetaData is the first script tag (type 18): the AMF0 string "onMetaData", then an ECMA
array (or object) of named values, "filesize" a number among them.
"""

from __future__ import annotations

import os
import struct

_SCRIPT_TAG = 18
_MAX_SCRIPT_BYTES = 1 << 20  # onMetaData holds some numbers and a keyframe index: far less than this
_MAX_DEPTH = 16  # nesting of objects and arrays in the tag (a keyframe index nests two levels)


class _Malformed(Exception):
    pass


def stated_file_size(path: str | os.PathLike) -> int | None:
    """The filesize of an FLV file's onMetaData, in bytes; None where the file is not an FLV file, has
    no such tag first, the tag is malformed, or it states no positive size (a muxer that could not seek
    back to fill it in, as when recording to a pipe, leaves 0)."""
    try:
        with open(path, "rb") as file:
            header = file.read(9)
            if len(header) < 9 or header[:3] != b"FLV":
                return None
            file.seek(struct.unpack(">I", header[5:9])[0] + 4)  # past the header and previous-tag size 0
            tag = file.read(11)
            if len(tag) < 11 or tag[0] & 0x1F != _SCRIPT_TAG:
                return None
            size = int.from_bytes(tag[1:4], "big")
            data = file.read(min(size, _MAX_SCRIPT_BYTES))
    except OSError:
        return None
    try:
        values = _Reader(data).metadata()
    except (_Malformed, struct.error, UnicodeDecodeError):
        return None
    stated = values.get("filesize")
    if isinstance(stated, float) and stated == stated and 0 < stated < 2**63:  # a number, not NaN
        return int(stated)
    return None


class _Reader:
    """AMF0 values, read in turn from one script tag's data: numbers, booleans, strings and the
    containers that hold them are returned or skipped; a type this module does not know ends the read."""

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def metadata(self) -> dict[str, object]:
        """The top-level values of onMetaData (containers within it skipped)."""
        if self._byte() != 0x02 or self._string(2) != "onMetaData":
            raise _Malformed
        kind = self._byte()
        if kind == 0x08:  # ECMA array: a count (not to be trusted) then named values, like an object
            self._take(4)
        elif kind != 0x03:
            raise _Malformed
        return self._pairs(depth=1, keep=True)

    def _pairs(self, depth: int, keep: bool) -> dict[str, object]:
        values: dict[str, object] = {}
        while True:
            name = self._string(2)
            if name == "" and self.data[self.at : self.at + 1] == b"\x09":  # the object-end marker
                self.at += 1
                return values
            value = self._value(depth)
            if keep:
                values[name] = value
            if self.at >= len(self.data):  # a tag that ends without its end marker (FFmpeg reads those)
                return values

    def _value(self, depth: int) -> object:
        if depth > _MAX_DEPTH:
            raise _Malformed
        kind = self._byte()
        if kind == 0x00:  # number
            return struct.unpack(">d", self._take(8))[0]
        if kind == 0x01:  # boolean
            return bool(self._byte())
        if kind == 0x02:  # string
            return self._string(2)
        if kind == 0x0C:  # long string
            return self._string(4)
        if kind in (0x05, 0x06):  # null, undefined
            return None
        if kind == 0x0B:  # date: milliseconds, then a time zone
            self._take(10)
            return None
        if kind == 0x03:  # object
            self._pairs(depth + 1, keep=False)
            return None
        if kind == 0x08:  # ECMA array
            self._take(4)
            self._pairs(depth + 1, keep=False)
            return None
        if kind == 0x0A:  # strict array: a count, then that many values
            for _ in range(struct.unpack(">I", self._take(4))[0]):
                self._value(depth + 1)
            return None
        raise _Malformed

    def _byte(self) -> int:
        return self._take(1)[0]

    def _string(self, width: int) -> str:
        length = int.from_bytes(self._take(width), "big")
        return self._take(length).decode("utf-8")

    def _take(self, count: int) -> bytes:
        if self.at + count > len(self.data):
            raise _Malformed
        chunk = self.data[self.at : self.at + count]
        self.at += count
        return chunk
