"""Whether a GIF file was cut short: its blocks stop before the trailer byte (3B) that ends every GIF.

A GIF states no frame count and no length, and FFmpeg reads a cut one without a word: the frames up to the cut,
the last of them filled in from the frame before where the cut fell inside its image data. The file is checked by
hand, its blocks walked by their stated sizes: the screen descriptor and colour table, then extensions and images,
each a chain of sub-blocks that a zero-length one ends.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from deblur_cli.wording import count

_EXTENSION, _IMAGE, _TRAILER = 0x21, 0x2C, 0x3B


class GifCut(NamedTuple):
    """Where a GIF without its trailer stops (gif_cut)."""

    images: int  # images whole before the end
    inside_image: bool  # the end falls inside the next image: a frame that FFmpeg decodes filled in


def gif_cut(path: str | os.PathLike) -> GifCut | None:
    """How the GIF at `path` stops short of its trailer; None where it has one, or is not a GIF, or its blocks
    do not walk (FFmpeg judges those)."""
    try:
        with open(path, "rb") as f:
            data = f.read(6)
            if data not in (b"GIF87a", b"GIF89a"):  # a video's bytes are not read
                return None
            data += f.read()
    except OSError:
        return None
    if len(data) < 13:
        return None
    at = 13 + _table_size(data[10])  # after the logical screen descriptor and the global colour table
    images = 0
    while at < len(data):
        kind = data[at]
        if kind == _TRAILER:
            return None
        if kind == _EXTENSION:
            at = _after_sub_blocks(data, at + 2)
        elif kind == _IMAGE:
            if at + 10 >= len(data):
                return GifCut(images, inside_image=True)
            at = _after_sub_blocks(data, at + 10 + _table_size(data[at + 9]) + 1)  # +1: the LZW code size
            if at > len(data):
                return GifCut(images, inside_image=True)
            images += 1
        else:
            return None
    return GifCut(images, inside_image=False)


def _table_size(packed: int) -> int:
    """The bytes of the colour table that a descriptor's packed field announces (none without its top bit)."""
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


def _after_sub_blocks(data: bytes, at: int) -> int:
    """Where the chain of sub-blocks starting at `at` ends (past the end of `data` where it is cut)."""
    while at < len(data) and data[at]:
        at += 1 + data[at]
    return at + 1


def missing_trailer(path: str | os.PathLike) -> str | None:
    """The warning for a GIF whose images are whole but whose trailer is missing: a copy cut between two images,
    or a writer that left the trailer out (a GIF states no frame count to tell which); None for any other file.
    One cut inside an image is truncation.tail_cut's."""
    cut = gif_cut(path)
    if cut is None or cut.inside_image or not cut.images:  # without an image FFmpeg finds no frame to read
        return None
    frames = count(cut.images, "whole frame")
    name = os.path.basename(path)
    return (
        f"{name} ends without the GIF trailer, as a file cut short does: {frames} read; any frames after the cut"
        " are missing"
    )
