"""JPEG images turned into RGB the way libjpeg does it, as PIL and OpenCV read them.

FFmpeg decodes a JPEG into its YCbCr planes; its own conversion to RGB repeats each chroma sample
over the pixels it covers, where libjpeg interpolates ("fancy upsampling": a triangle filter, 3/4 of
the nearer sample and 1/4 of the farther in each direction) and converts with its fixed-point
tables. On the sharp edges of a test image the two differ by up to 85 levels (30.98 dB apart), and
on a dataset's photos by about 0.5 dB: enough to move a published comparison, since the JPEG
datasets' figures (DVD's frames, scored with BasicSR and OpenCV) were read by libjpeg. So the planes
FFmpeg decoded are upsampled and converted here with libjpeg's integer arithmetic (jdsample.c
h2v1/h2v2_fancy_upsample, jdcolor.c ycc_rgb_convert). The samples themselves come from FFmpeg's
inverse DCT, which can differ from libjpeg's by a level now and then.
"""

from __future__ import annotations

import av
import numpy as np

_SCALE_BITS = 16
_HALF = 1 << (_SCALE_BITS - 1)


def _fix(x: float) -> int:
    return int(x * (1 << _SCALE_BITS) + 0.5)


_CHROMA = np.arange(256, dtype=np.int64) - 128
_CR_R = (_fix(1.40200) * _CHROMA + _HALF) >> _SCALE_BITS
_CB_B = (_fix(1.77200) * _CHROMA + _HALF) >> _SCALE_BITS
_CR_G = -_fix(0.71414) * _CHROMA
_CB_G = -_fix(0.34414) * _CHROMA + _HALF

# FFmpeg's full-range YCbCr formats of JPEG, and how many pixels a chroma sample covers across and down.
_SUBSAMPLING = {"yuvj444p": (1, 1), "yuvj422p": (2, 1), "yuvj420p": (2, 2), "yuvj440p": (1, 2)}


def jfif_rgb(frame: av.VideoFrame) -> np.ndarray | None:
    """The (H, W, 3) uint8 RGB of a decoded JPEG as libjpeg makes it, or None for a pixel format this
    does not cover (grayscale, which FFmpeg converts the same way, CMYK, 12-bit JPEG)."""
    sampling = _SUBSAMPLING.get(frame.format.name)
    if sampling is None:
        return None
    across, down = sampling
    height, width = frame.height, frame.width
    y, cb, cr = (_plane(plane) for plane in frame.planes[:3])
    cb, cr = (_upsampled(c, across, down)[:height, :width] for c in (cb, cr))
    y = y[:height, :width].astype(np.int64)
    rgb = np.stack(
        [y + _CR_R[cr], y + ((_CB_G[cb] + _CR_G[cr]) >> _SCALE_BITS), y + _CB_B[cb]], axis=-1
    )
    return np.ascontiguousarray(np.clip(rgb, 0, 255).astype(np.uint8))


def _plane(plane) -> np.ndarray:
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def _upsampled(samples: np.ndarray, across: int, down: int) -> np.ndarray:
    """Chroma samples (h, w) uint8 → (h·down, w·across) int64, with libjpeg's rounding. Edge samples
    are repeated beyond the image, as libjpeg's context rows and its first and last columns are."""
    c = samples.astype(np.int64)
    if down == 2:  # each output row: 3 × its nearer input row + the farther one (× 4 in all)
        above = np.concatenate([c[:1], c[:-1]])
        below = np.concatenate([c[1:], c[-1:]])
        c = np.stack([3 * c + above, 3 * c + below], axis=1).reshape(-1, c.shape[1])
    if across == 2:
        left = np.concatenate([c[:, :1], c[:, :-1]], axis=1)
        right = np.concatenate([c[:, 1:], c[:, -1:]], axis=1)
        if down == 2:  # h2v2: sums of 16, rounded with 8 and 7 alternately
            c = np.stack([(3 * c + left + 8) >> 4, (3 * c + right + 7) >> 4], axis=2)
        else:  # h2v1: sums of 4, rounded with 1 and 2 alternately
            c = np.stack([(3 * c + left + 1) >> 2, (3 * c + right + 2) >> 2], axis=2)
        c = c.reshape(c.shape[0], -1)
    elif down == 2:  # h1v2 (4:4:0): the vertical sums alone, rounded as libjpeg-turbo's h1v2 does
        c = (c + np.tile([1, 2], c.shape[0] // 2)[:, None]) >> 2
    return c
