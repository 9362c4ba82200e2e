"""A photo's EXIF (camera, lens, exposure, date, place) carried from the input image to the restored one.

FFmpeg's image encoders write none, so the TIFF structure that EXIF is (JPEG's APP1 "Exif" segment,
PNG's eXIf chunk) is copied over as bytes. The restored image is written turned for display, so its
Orientation tag is set to 1 (as shown), and the embedded thumbnail, a picture of the blurred photo in the
old orientation, is unlinked. EXIF that cannot be parsed is left out rather than copied half-understood.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

_JPEG_SUFFIXES = (".jpg", ".jpeg")
_EXIF_HEADER = b"Exif\x00\x00"  # what starts a JPEG APP1 segment holding EXIF
_ORIENTATION = 0x0112
_SHORT = 3  # the TIFF type of the Orientation tag
_MAX_SEGMENT = 65533  # a JPEG segment's payload: a 16-bit length that counts its own two bytes


def read_exif(path: str | os.PathLike) -> bytes | None:
    """The EXIF (a TIFF structure, "II*\\0..." or "MM\\0*...") of a JPEG or PNG file, upright; None when it
    has none, is another format, or its EXIF cannot be parsed."""
    suffix = Path(path).suffix.lower()
    if suffix not in (*_JPEG_SUFFIXES, ".png"):
        return None
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    tiff = _jpeg_exif(data) if suffix in _JPEG_SUFFIXES else _png_exif(data)
    return None if tiff is None else _upright(tiff)


def with_exif(image: bytes, suffix: str, exif: bytes) -> bytes:
    """An encoded JPEG or PNG image with `exif` (from read_exif) inserted; as it was for other formats,
    or an EXIF too large for a JPEG segment."""
    suffix = suffix.lower()
    if suffix in _JPEG_SUFFIXES and image[:2] == b"\xff\xd8" and len(_EXIF_HEADER + exif) <= _MAX_SEGMENT:
        at = 2  # after SOI, and after the JFIF APP0 segment where there is one (JFIF wants to come first)
        if image[2:4] == b"\xff\xe0":
            at = 4 + struct.unpack(">H", image[4:6])[0]
        payload = _EXIF_HEADER + exif
        return image[:at] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + image[at:]
    if suffix == ".png" and image[:8] == b"\x89PNG\r\n\x1a\n":
        at = _png_chunk(image, b"IDAT")  # eXIf must come before the image data
        if at is not None:
            chunk = b"eXIf" + exif
            framed = struct.pack(">I", len(exif)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            return image[:at] + framed + image[at:]
    return image


def _jpeg_exif(data: bytes) -> bytes | None:
    """The TIFF payload of a JPEG's APP1 Exif segment, searched up to the image data."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker == 0xDA:  # start of scan: no metadata after it
            return None
        payload = data[at + 4 : at + 2 + length]
        if marker == 0xE1 and payload.startswith(_EXIF_HEADER):
            return payload[len(_EXIF_HEADER) :]
        at += 2 + length
    return None


def _png_exif(data: bytes) -> bytes | None:
    """The payload of a PNG's eXIf chunk (before its image data, where the format puts it)."""
    at, idat = _png_chunk(data, b"eXIf"), _png_chunk(data, b"IDAT")
    if at is None or idat is not None and idat < at:
        return None
    return data[at + 8 : at + 8 + struct.unpack(">I", data[at : at + 4])[0]]


def _png_chunk(data: bytes, kind: bytes) -> int | None:
    """Where the first chunk of `kind` starts in a PNG (its length field), walking the chunks."""
    at = 8
    while at + 8 <= len(data):
        length, found = struct.unpack(">I4s", data[at : at + 8])
        if found == kind:
            return at
        at += 12 + length
    return None


def _upright(tiff: bytes) -> bytes | None:
    """`tiff` with IFD0's Orientation set to 1 and its link to the thumbnail's IFD cut; None if malformed."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8 or struct.unpack(order + "H", tiff[2:4])[0] != 42:
        return None
    out = bytearray(tiff)
    ifd = struct.unpack(order + "I", tiff[4:8])[0]
    if ifd + 2 > len(tiff):
        return None
    count = struct.unpack(order + "H", tiff[ifd : ifd + 2])[0]
    end = ifd + 2 + 12 * count
    if end + 4 > len(tiff):
        return None
    for entry in range(ifd + 2, end, 12):
        tag, kind = struct.unpack(order + "HH", tiff[entry : entry + 4])
        if tag == _ORIENTATION and kind == _SHORT:
            out[entry + 8 : entry + 10] = struct.pack(order + "H", 1)
    out[end : end + 4] = b"\x00\x00\x00\x00"  # no IFD1: the thumbnail shows the blurred photo
    return bytes(out)
