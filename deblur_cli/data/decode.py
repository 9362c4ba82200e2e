"""Decoding of the training sources: the exact RGB that `deblur run` reads, then area-shrunk.

Training pairs and the videos users restore must see the same colours: the sources go through the reader's
own conversion (`video_io.info.frame_arrays`, exact for 8-bit YUV with subsampled chroma, where FFmpeg's
default path reads JPEG photos and H.264 frames 0.5 to 1 level dark) and are shrunk in RGB afterwards.
PyAV is imported only when a frame is converted: training reads the cache with numpy alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import av

DECODE = "rgb-exact-1"  # stamp of this conversion in the cache; a cache made another way is converted again


def shrunk_rgb(frame: av.VideoFrame, width: int, height: int, *, video: bool = False) -> np.ndarray:
    """(height, width, 3) uint8 sRGB of a decoded frame: exact RGB at full size, then area-averaged. A
    `video`'s frame that names no YUV matrix is read in the one players (and `deblur run`) take for its
    size, BT.709 for HD; a photo's in BT.601, as JPEG defines it. (A cache prepared before 2026-12-07 from
    untagged HD video read it as BT.601: adding that video again replaces it.)"""
    import av

    from deblur_cli.video_io.info import frame_arrays, read_as, untagged_matrix

    if video:
        frame = read_as(frame, untagged_matrix(frame.format.name, frame.width, frame.height), None)
    rgb, _ = frame_arrays(frame, np.uint8, alpha=False)
    if (width, height) == (frame.width, frame.height):
        return rgb
    image = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    return image.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
