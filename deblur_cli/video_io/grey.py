"""Greyscale sources written as greyscale: a grey PNG, TIFF or BMP, or an FFV1 master in grey, comes back in
its own kind, a third of the samples of RGB, where the output format holds grey (`GREY_FORMATS`).

The frames deblur restores are RGB throughout; a grey source's have three equal channels, and stay so
(stream.greyed). Such a frame becomes one grey plane exactly: its first channel, at the format's depth.
"""

from __future__ import annotations

import av
import numpy as np

from deblur_cli.video_io.info import VideoInfo

# encoder -> grey pixel formats for 8-bit frames and for deeper ones (16 bits)
GREY_FORMATS = {
    "png": ("gray", "gray16be"),
    "tiff": ("gray", "gray16le"),
    "bmp": ("gray", None),
    "ffv1": ("gray", "gray16le"),
}


def is_grey_format(pix_fmt: str | None) -> bool:
    """Whether frames of `pix_fmt` hold grey alone (FFmpeg's gray*, ya* with alpha, and monob/monow)."""
    return pix_fmt is not None and pix_fmt.startswith(("gray", "ya", "mono"))


def grey_format(encoder: str, bit_depth: int) -> str | None:
    """The grey pixel format `encoder` stores frames of `bit_depth` in, None where it has none deep enough."""
    shallow, deep = GREY_FORMATS.get(encoder, (None, None))
    return deep if bit_depth > 8 else shallow


def grey_video(info: VideoInfo) -> bool:
    """Whether a source's frames are grey throughout: a video stream in a grey pixel format. (An image
    sequence's format is its first image's, and the others may have colour.)"""
    return is_grey_format(info.pix_fmt) and info.frame_names is None and not info.alpha


def is_grey_image(image: np.ndarray) -> bool:
    """Whether an (H, W, 3) RGB array has three equal channels."""
    return bool((image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all())


def grey_frame(image: np.ndarray, pix_fmt: str) -> av.VideoFrame:
    """The `pix_fmt` frame (gray, or gray16le/gray16be for uint16 arrays) of an (H, W, 3) RGB array whose
    channels are equal (`is_grey_image`): its first channel, sample for sample."""
    plane = np.ascontiguousarray(image[..., 0])
    if plane.dtype == np.uint16 and not pix_fmt.startswith("gray16"):
        raise ValueError(f"16-bit frames need a 16-bit grey format, not {pix_fmt}")
    return av.VideoFrame.from_ndarray(plane, format=pix_fmt)
