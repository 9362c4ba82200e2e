"""A decoded frame's side data (its display matrix, HDR10 metadata, ...) by type name, read once.

PyAV 18 refuses a frame whose side data has a type it cannot name (a JPEG's EXIF entry: ValueError) and
crashes collecting an image codec's ICC profile entry: the reader asks only for video codecs' frames."""

from __future__ import annotations


def side_data_of(frame) -> dict[str, bytes]:
    """{type name: bytes} of `frame`'s side data ("DISPLAYMATRIX", "MASTERING_DISPLAY_METADATA", ...);
    {} where PyAV cannot name one of its types."""
    found = {}
    try:
        side_data = frame.side_data
        for item in side_data:
            if not hasattr(item, "type"):  # PyAV 19 iterates over the types, as a mapping to the entries
                item = side_data[item]
            found[getattr(item.type, "name", str(item.type))] = bytes(item)
    except ValueError:
        return {}
    return found
