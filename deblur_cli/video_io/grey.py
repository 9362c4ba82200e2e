"""Greyscale sources written as greyscale: a grey PNG, TIFF or BMP, or an FFV1 master in grey, comes back in
its own kind, a third of the samples of RGB, where the output format holds grey (`GREY_FORMATS`).

The frames deblur restores are RGB throughout; a grey source's have three equal channels, and stay so
(stream.greyed). Such a frame becomes one grey plane exactly: its first channel, at the format's depth.
"""

from __future__ import annotations

import re

import av
import numpy as np

from deblur_cli.video_io.info import VideoInfo

# encoder -> grey pixel formats for 8-bit frames and for deeper ones (16 bits)
GREY_FORMATS = {
    "png": ("gray", "gray16be"),
    "tiff": ("gray", "gray16le"),
    "bmp": ("gray", None),
    "targa": ("gray", None),
    "dpx": ("gray", "gray16be"),
    "ffv1": ("gray", "gray16le"),
}


def is_grey_format(pix_fmt: str | None) -> bool:
    """Whether frames of `pix_fmt` hold grey alone (FFmpeg's gray*, ya* with alpha, and monob/monow)."""
    return pix_fmt is not None and pix_fmt.startswith(("gray", "ya", "mono"))


def grey_format(encoder: str, bit_depth: int) -> str | None:
    """The grey pixel format `encoder` stores frames of `bit_depth` in: its 16-bit one for deeper frames, or
    its 8-bit one where it has no other (BMP, TGA, which store 8 bits of colour too); None without one."""
    shallow, deep = GREY_FORMATS.get(encoder, (None, None))
    return (deep or shallow) if bit_depth > 8 else shallow


def grey_source(info: VideoInfo) -> bool:
    """Whether a source is grey, without alpha: its (first) frame's pixel format is grey."""
    return is_grey_format(info.pix_fmt) and not info.alpha


def grey_video(info: VideoInfo) -> bool:
    """Whether a source's frames are grey throughout: a video stream in a grey pixel format. (An image
    sequence's format is its first image's, and the others may have colour.)"""
    return grey_source(info) and info.frame_names is None


_GREY_PLANES = re.compile(r"gray(9|1[0-6])?(le|be)?")  # one integer plane: gray, gray10le ... gray16be


def grey_frame(image: np.ndarray, pix_fmt: str) -> av.VideoFrame | None:
    """The `pix_fmt` frame of an (H, W, 3) RGB array whose channels are equal (`frame_facts.is_grey_image`): its
    first channel, sample for sample where `pix_fmt` has the array's depth (gray for uint8, gray16 for uint16),
    else scaled to the format's depth and rounded once (gray10le from uint16, say; swscale put those up to
    4.4 codes of 1023 off). None for formats of no single integer plane (ya8, monob, grayf32), which
    swscale converts."""
    if not _GREY_PLANES.fullmatch(pix_fmt):
        return None
    bits = av.VideoFormat(pix_fmt).components[0].bits
    plane = image[..., 0]
    depth = 8 if plane.dtype == np.uint8 else 16
    if bits != depth:
        scale = ((1 << bits) - 1) / ((1 << depth) - 1)
        plane = np.round(plane * scale).astype(np.uint8 if bits == 8 else np.uint16)
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(plane), format=pix_fmt)
