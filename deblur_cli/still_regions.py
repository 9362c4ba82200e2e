"""Keep what does not move (`deblur run --keep-still`): motion blur needs motion, so where a window's input
frames stand still, the input is already as sharp as the camera made it, and the model's output there can only
be worse. The bundled `dstnet-s` smooths fine texture (foliage, grass) even where nothing is blurred; on a still
camera with a moving object, the still background, sharp in the input, came back softened.

The rule, per frame t of a window:

1. The change c: the largest of |luma_t - luma_s| over its neighbours s = t - 1 and t + 1 inside the window, as a
   fraction of white, averaged over a BOX x BOX box (so that one noisy pixel is not motion).
2. The weight of the restoration: w = (c - STILL) / (MOVING - STILL), clamped to [0, 1].
3. The moving region grown by GROW pixels (the blur of an object reaches past where its frames differ, and the
   model's output changes a little around what it restores), then smoothed (Gaussian, SMOOTH pixels) so that no
   edge shows where kept and restored meet.
4. The output: input + w x (restored - input).

A window of one frame has no neighbours to tell motion by: it is left as restored.

Measured with `deblur evaluate` (four 640x360 clips of 8 frames rendered from sharp photos by a quality review,
dstnet-s in bf16 on a CPU; PSNR against the truth, without -> with keep_still): an object crossing the view of a
still camera 36.47 -> 37.54 dB (cups, 16 px a frame) and 28.65 -> 29.05 dB (landscape, 32 px a frame; SSIM 0.918
-> 0.961, the input's 0.957); a still landscape in H.264 at CRF 32 31.44 -> 31.24 dB (the input's 31.23: the codec's
flicker stays under STILL, so the input is kept, and the model's small gain on the codec's blocks with it); a
landscape panned 8 px a frame 31.28 -> 31.29 dB. Measured offline, by a NumPy prototype of this rule on the model's
saved 8-bit outputs of 32 such clips: three sharp still clips came back exactly; every clip of a moving camera
within 0.01 dB but the 3-px pans (+0.04 dB landscape, +0.11 dB cups); on a real fixed-camera clip with people
walking (OpenCV's vtest.avi) 14% of the pixels took the model's output, and the still region kept the input's
detail (RMS of the luma Laplacian 0.032, where the model alone left 0.0227).

A region that changes by noise or compression flicker of more than STILL is restored as before: it looks like
motion to this rule.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import torch
import torch.nn.functional as F

from deblur_cli.filters import gaussian_window, luma

STILL = 0.01  # change of luma (fraction of white, 2.55 levels of 255) below which a pixel is still: input kept
MOVING = 0.03  # change (7.65 levels of 255) from which it moves: the restoration kept whole; between, a mix
BOX = 5  # pixels a side of the box the change is averaged over
GROW = 8  # pixels the moving region is grown by
SMOOTH = 4.0  # pixels, the standard deviation of the Gaussian that softens the weight's edges


def keep_still(frames: torch.Tensor, restored: torch.Tensor) -> torch.Tensor:
    """The `restored` frames of windows with the still regions of their input `frames` kept (module docstring).

    frames, restored: (B, T, 3, H, W) float, on the display curve (values in [0, 1]), on one device; returns
    restored's shape. A window of one frame (T = 1) is returned as restored."""
    if frames.ndim != 5 or frames.shape[2] != 3 or frames.shape != restored.shape:
        raise ValueError(f"keep_still takes two (B, T, 3, H, W) tensors alike, got {frames.shape} and {restored.shape}")
    if frames.shape[1] == 1:
        return restored
    return torch.lerp(frames.to(restored.dtype), restored, motion_weight(frames).to(restored.dtype))


def motion_weight(frames: torch.Tensor) -> torch.Tensor:
    """How much of the restoration each pixel takes: (B, T, 1, H, W) float32 in [0, 1], 0 where the input stands
    still, 1 where it moves (steps 1 to 3 of the module docstring), for windows `frames` (B, T, 3, H, W), T >= 2.

    Each filter runs along one axis at a time, along rows as they lie in memory (transposed for the columns): on a
    CPU, torch's 1-D pooling and convolution take a tenth of the time of their 2-D forms here."""
    b, t, _, h, w = frames.shape
    brightness = luma(frames.float())  # (B, T, H, W)
    step = (brightness[:, 1:] - brightness[:, :-1]).abs()  # (B, T - 1, H, W): between each frame and the next
    change = torch.maximum(F.pad(step, (0, 0, 0, 0, 1, 0)), F.pad(step, (0, 0, 0, 0, 0, 1)))  # either neighbour
    # 1. averaged over the box's pixels inside the frame
    box = functools.partial(F.avg_pool1d, kernel_size=BOX, stride=1, padding=BOX // 2, count_include_pad=False)
    change = _along_rows(_along_rows(change, box).transpose(-1, -2), box)  # (B, T, W, H) from here
    # 2. from still to moving
    weight = ((change - STILL) / (MOVING - STILL)).clamp_(0, 1)
    # 3. grown (a max filter), then smoothed
    grow = functools.partial(F.max_pool1d, kernel_size=2 * GROW + 1, stride=1, padding=GROW)
    weight = _along_rows(_along_rows(weight, grow).transpose(-1, -2), grow)  # (B, T, H, W) again
    weight = _along_rows(_along_rows(weight, _gaussian).transpose(-1, -2), _gaussian).transpose(-1, -2)
    return weight[:, :, None]


def _along_rows(x: torch.Tensor, filter_1d: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """`filter_1d`, a 1-D filter of (N, 1, L) tensors, applied to each row of x (..., L)."""
    rows = x.contiguous().reshape(-1, 1, x.shape[-1])
    return filter_1d(rows).reshape(x.shape)


def _gaussian(rows: torch.Tensor) -> torch.Tensor:
    """(N, 1, L) blurred along L by a Gaussian of SMOOTH pixels, the end pixels repeated outward."""
    radius = math.ceil(3 * SMOOTH)
    kernel = gaussian_window(2 * radius + 1, SMOOTH, dtype=rows.dtype, device=rows.device)
    return F.conv1d(F.pad(rows, (radius, radius), mode="replicate"), kernel.view(1, 1, -1))
