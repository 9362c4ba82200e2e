"""A photo's metadata carried from the input image to the restored one: its EXIF (camera, lens, exposure,
date, place) and its ICC colour profile (an iPhone's Display P3, say: without it, viewers take the pixels
for sRGB and show them duller).

FFmpeg's image encoders write neither, so they are copied over as bytes: EXIF, a TIFF structure, as
JPEG's APP1 "Exif" segment or PNG's eXIf chunk; the profile as JPEG's APP2 "ICC_PROFILE" segments or
PNG's iCCP chunk. The restored image is written turned for display, so the EXIF Orientation tag is set to
1 (as shown), and the embedded thumbnail, a picture of the blurred photo in the old orientation, is
unlinked. EXIF that cannot be parsed is left out rather than copied half-understood.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

_JPEG_SUFFIXES = (".jpg", ".jpeg")
_EXIF_HEADER = b"Exif\x00\x00"  # what starts a JPEG APP1 segment holding EXIF
_ICC_HEADER = b"ICC_PROFILE\x00"  # what starts each APP2 segment of a JPEG's profile (then its number, count)
_ORIENTATION = 0x0112
_VALUE_FORMATS = {3: "H", 4: "I"}  # TIFF's SHORT (what EXIF says the Orientation tag is) and LONG
_MAX_SEGMENT = 65533  # a JPEG segment's payload: a 16-bit length that counts its own two bytes


@dataclass(frozen=True)
class PhotoMetadata:
    exif: bytes | None  # a TIFF structure, "II*\0..." or "MM\0*...", upright (see _upright)
    icc: bytes | None  # an ICC profile


def read_metadata(path: str | os.PathLike) -> PhotoMetadata | None:
    """The EXIF and ICC profile of a JPEG or PNG file; None when it has neither, or is another format."""
    suffix = Path(path).suffix.lower()
    if suffix not in (*_JPEG_SUFFIXES, ".png"):
        return None
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if suffix in _JPEG_SUFFIXES:
        tiff, icc = _jpeg_exif(data), _jpeg_icc(data)
    else:
        tiff, icc = _png_exif(data), _png_icc(data)
    found = PhotoMetadata(None if tiff is None else _upright(tiff), icc)
    return found if found.exif or found.icc else None


# EXIF Orientation -> (rotation, mirrored) as VideoInfo holds them: turned counter-clockwise for display,
# then mirrored left to right (png_sequence.display_picture). FFmpeg's decoders read the tag into a display
# matrix, and frame.rotation reads a mirrored one as another turn (2, a mirror, as 180 degrees)
_EXIF_TURNS = {
    1: (0, False), 2: (0, True), 3: (180, False), 4: (180, True),
    5: (270, True), 6: (270, False), 7: (90, True), 8: (90, False),
}  # fmt: skip


def photo_orientation(path: str | os.PathLike) -> tuple[int, bool] | None:
    """(rotation, mirrored) by the EXIF Orientation tag of a JPEG, PNG, WebP or TIFF image, known by its
    first bytes; None where there is no such tag, or the file cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if data[:2] == b"\xff\xd8":
        tiff = _jpeg_exif(data)
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        tiff = _png_exif(data, after_image=True)  # viewers read an eXIf after the image data too
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        tiff = _webp_exif(data)
    else:
        tiff = data if data[:4] in (b"II*\x00", b"MM\x00*") else None
    return None if tiff is None else _EXIF_TURNS.get(_orientation(tiff))


def with_metadata(image: bytes, suffix: str, metadata: PhotoMetadata) -> bytes:
    """An encoded JPEG or PNG image with `metadata` inserted; other formats as they are. EXIF too large
    for a JPEG segment is left out."""
    suffix = suffix.lower()
    if suffix in _JPEG_SUFFIXES and image[:2] == b"\xff\xd8":
        at = 2  # after SOI, and after the JFIF APP0 segment where there is one (JFIF wants to come first)
        if image[2:4] == b"\xff\xe0":
            at = 4 + struct.unpack(">H", image[4:6])[0]
        segments = b""
        if metadata.exif is not None and len(_EXIF_HEADER + metadata.exif) <= _MAX_SEGMENT:
            segments += _segment(0xE1, _EXIF_HEADER + metadata.exif)
        if metadata.icc is not None:
            segments += _icc_segments(metadata.icc)
        return image[:at] + segments + image[at:]
    if suffix == ".png" and image[:8] == b"\x89PNG\r\n\x1a\n":
        at = _png_chunk(image, b"IDAT")  # both must come before the image data
        if at is None:
            return image
        chunks = b""
        if metadata.icc is not None and _png_chunk(image, b"cICP") is None:  # cICP (HDR) outranks a profile
            chunks += _png_chunk_bytes(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(metadata.icc))
        if metadata.exif is not None:
            chunks += _png_chunk_bytes(b"eXIf", metadata.exif)
        return image[:at] + chunks + image[at:]
    return image


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _icc_segments(icc: bytes) -> bytes:
    """A profile as JPEG APP2 segments, split where it does not fit in one (numbered from 1)."""
    room = _MAX_SEGMENT - len(_ICC_HEADER) - 2
    parts = [icc[i : i + room] for i in range(0, len(icc), room)]
    if len(parts) > 255:
        return b""
    return b"".join(_segment(0xE2, _ICC_HEADER + bytes([n, len(parts)]) + part) for n, part in enumerate(parts, 1))


def _png_chunk_bytes(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _jpeg_exif(data: bytes) -> bytes | None:
    """The TIFF payload of a JPEG's APP1 Exif segment."""
    found = (payload for marker, payload in _jpeg_segments(data) if marker == 0xE1 and payload.startswith(_EXIF_HEADER))
    return next((payload[len(_EXIF_HEADER) :] for payload in found), None)


def _png_exif(data: bytes, after_image: bool = False) -> bytes | None:
    """The payload of a PNG's eXIf chunk: before its image data, where the format puts it, or anywhere
    with `after_image` (where the PNG extensions of 2017 still allowed it)."""
    at, idat = _png_chunk(data, b"eXIf"), _png_chunk(data, b"IDAT")
    if at is None or idat is not None and idat < at and not after_image:
        return None
    return data[at + 8 : at + 8 + struct.unpack(">I", data[at : at + 4])[0]]


def _webp_exif(data: bytes) -> bytes | None:
    """The payload of a WebP's EXIF chunk (some writers start it with JPEG's "Exif" header)."""
    at = 12
    while at + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[at : at + 8])
        if kind == b"EXIF":
            payload = data[at + 8 : at + 8 + length]
            return payload[len(_EXIF_HEADER) :] if payload.startswith(_EXIF_HEADER) else payload
        at += 8 + length + (length & 1)  # chunks are padded to an even length
    return None


def _jpeg_segments(data: bytes):
    """(marker, payload) of each JPEG segment up to the image data."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        if data[at + 1] == 0xFF:  # a fill byte before the marker (ITU T.81 B.1.1.2)
            at += 1
            continue
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker == 0xDA:  # start of scan: no metadata after it
            return
        yield marker, data[at + 4 : at + 2 + length]
        at += 2 + length


def _jpeg_icc(data: bytes) -> bytes | None:
    """A JPEG's ICC profile, joined from its numbered APP2 segments; None if it has none or they are not whole."""
    parts = {
        payload[12]: payload[14:]  # after the header: the segment's number, the count, then its part
        for marker, payload in _jpeg_segments(data)
        if marker == 0xE2 and payload.startswith(_ICC_HEADER) and len(payload) > 14
    }
    if not parts or sorted(parts) != list(range(1, len(parts) + 1)):
        return None
    return b"".join(parts[n] for n in sorted(parts))


def _png_icc(data: bytes) -> bytes | None:
    """A PNG's ICC profile, from its iCCP chunk (a name, a zero, the method 0, the zlib-compressed profile)."""
    at = _png_chunk(data, b"iCCP")
    if at is None:
        return None
    body = data[at + 8 : at + 8 + struct.unpack(">I", data[at : at + 4])[0]]
    name_end = body.find(b"\x00")
    try:
        return zlib.decompress(body[name_end + 2 :]) if 0 < name_end and body[name_end + 1] == 0 else None
    except (zlib.error, IndexError):
        return None


def _png_chunk(data: bytes, kind: bytes) -> int | None:
    """Where the first chunk of `kind` starts in a PNG (its length field), walking the chunks."""
    at = 8
    while at + 8 <= len(data):
        length, found = struct.unpack(">I4s", data[at : at + 8])
        if found == kind:
            return at
        at += 12 + length
    return None


def _ifd0_entries(tiff: bytes):
    """(byte order, where IFD0's entries start, where they end) of a TIFF structure; None if malformed."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8 or struct.unpack(order + "H", tiff[2:4])[0] != 42:
        return None
    ifd = struct.unpack(order + "I", tiff[4:8])[0]
    if ifd + 2 > len(tiff):
        return None
    end = ifd + 2 + 12 * struct.unpack(order + "H", tiff[ifd : ifd + 2])[0]
    return None if end + 4 > len(tiff) else (order, ifd + 2, end)


def _orientation(tiff: bytes) -> int | None:
    """IFD0's Orientation of a TIFF structure (EXIF's); None if it has none or is malformed."""
    if (found := _ifd0_entries(tiff)) is None:
        return None
    order, start, end = found
    for entry in range(start, end, 12):
        tag, kind = struct.unpack(order + "HH", tiff[entry : entry + 4])
        if tag == _ORIENTATION and kind in _VALUE_FORMATS:  # a SHORT, as EXIF says; some writers a LONG
            value = order + _VALUE_FORMATS[kind]
            return struct.unpack(value, tiff[entry + 8 : entry + 8 + struct.calcsize(value)])[0]
    return None


def _upright(tiff: bytes) -> bytes | None:
    """`tiff` with IFD0's Orientation set to 1 and its link to the thumbnail's IFD cut; None if malformed."""
    if (found := _ifd0_entries(tiff)) is None:
        return None
    order, start, end = found
    out = bytearray(tiff)
    for entry in range(start, end, 12):
        tag, kind = struct.unpack(order + "HH", tiff[entry : entry + 4])
        if tag == _ORIENTATION and kind in _VALUE_FORMATS:
            value = struct.pack(order + _VALUE_FORMATS[kind], 1)
            out[entry + 8 : entry + 8 + len(value)] = value
    out[end : end + 4] = b"\x00\x00\x00\x00"  # no IFD1: the thumbnail shows the blurred photo
    return bytes(out)
