"""Motion blur from real footage: sub-frames interpolated along optical flow, averaged in linear light.

Output frame k of a clip is centred on source frame c + k * stride (stride 1 or 2: twice the motion
per frame) and exposed for a random 30-100% of its period. The exposure is rendered as n sub-frames
at fractional source times; one at time i + t (0 < t < 1) is interpolated between source frames i and
i+1 with the flows of `videos.py`, using the linear-motion approximation of the flows from time t
(Jiang et al., Super SloMo, CVPR 2018, eq. 4):

    F_t->0 = -(1 - t) t F_0->1 + t^2 F_1->0,     F_t->1 = (1 - t)^2 F_0->1 - t (1 - t) F_1->0
    I_t = (1 - t) warp(I_0, F_t->0) + t warp(I_1, F_t->1)

The sharp target is the real source frame at the exposure centre, so targets are never interpolated.
The blurred clip then goes through the same camera degradations as the photo clips.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

from deblur_cli.data.synth import CLEAN_SHARE, MAX_SUBFRAMES, MIN_SUBFRAMES, SUBFRAME_SPACING, camera_pipeline
from deblur_cli.transfer import linear_to_srgb, srgb_to_linear
from deblur_cli.data.videos import VideoFrames

STRIDES = (1, 2)  # source frames per output frame: real footage moves too little per frame alone


def fits(video: VideoFrames, frames: int, size: tuple[int, int]) -> bool:
    """Whether `video` holds a clip of `frames` frames of `size` (W, H) at stride 1."""
    w, h = video.size
    return w >= size[0] and h >= size[1] and any(b - a >= _span(frames, 1) for a, b in video.segments)


def _span(frames: int, stride: int) -> int:
    """Source frames a clip reads: its centres and half an exposure (at most half a stride) each side."""
    return 2 * math.ceil(stride / 2) + (frames - 1) * stride + 1


def synthesize_video_clip(
    seed: int,
    video: VideoFrames,
    *,
    frames: int,
    size: tuple[int, int],
    degrade: bool = True,
    clean_share: float = CLEAN_SHARE,
    device: torch.device | str = "cpu",
    on_frame: Callable[[], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A (blurred, sharp) pair of clips, each (T, 3, H, W) float32 in [0, 1] on `device`, cut from `video`.

    `size` is (W, H); the video must `fit` it. Deterministic for a given seed and video. `on_frame` is
    called as each blurred frame is rendered, for a progress bar. `degrade` and `clean_share` as in
    synth.synthesize_clip.
    """
    if not fits(video, frames, size):
        raise ValueError(f"{video.name} has no {_span(frames, 1)}-frame segment of at least {size[0]}x{size[1]}")
    rng = np.random.default_rng(seed)
    strides = [s for s in STRIDES if any(b - a >= _span(frames, s) for a, b in video.segments)]
    stride = int(rng.choice(strides))
    span = _span(frames, stride)
    segments = [(a, b) for a, b in video.segments if b - a >= span]
    a, b = segments[int(rng.integers(len(segments)))]
    first = int(rng.integers(a, b - span + 1))  # the clip reads source frames first .. first + span - 1
    centres = first + math.ceil(stride / 2) + stride * np.arange(frames)
    exposure = float(rng.uniform(0.3, 1.0)) * stride  # in source frame periods
    w, h = size
    vw, vh = video.size
    x0, y0 = int(rng.integers(0, vw - w + 1)), int(rng.integers(0, vh - h + 1))

    pairs = range(first, first + span - 1)
    fwd = _full_res_flows(video.flow_fwd, pairs, (vh, vw), device)
    bwd = _full_res_flows(video.flow_bwd, pairs, (vh, vw), device)
    # work on the crop plus a margin that covers the longest flow, so warps sample real pixels
    reach = float(max(fwd.abs().amax(), bwd.abs().amax()))
    margin = math.ceil(reach) + 2
    left, top = max(x0 - margin, 0), max(y0 - margin, 0)
    right, bottom = min(x0 + w + margin, vw), min(y0 + h + margin, vh)
    region = (slice(top, bottom), slice(left, right))
    source = torch.from_numpy(np.array(video.frames[first : first + span, region[0], region[1]])).to(device)
    source = srgb_to_linear(rearrange(source, "n h w c -> n c h w").float() / 255)
    fwd, bwd = fwd[:, :, region[0], region[1]], bwd[:, :, region[0], region[1]]

    speed = float(torch.linalg.vector_norm(fwd, dim=1).amax())  # px per source frame inside the region
    n = int(np.clip(math.ceil(speed * exposure / SUBFRAME_SPACING) + 1, MIN_SUBFRAMES, MAX_SUBFRAMES))
    phases = np.linspace(-exposure / 2, exposure / 2, n)
    exposures = []
    for c in centres:
        exposures.append(torch.stack([frame_at(source, fwd, bwd, c + p - first) for p in phases]).mean(dim=0))
        if on_frame is not None:
            on_frame()
    blurred = torch.stack(exposures)
    sharp = source[centres - first]
    crop = (..., slice(y0 - top, y0 - top + h), slice(x0 - left, x0 - left + w))
    blurred, sharp = blurred[crop], sharp[crop]
    if rng.random() < 0.5:
        blurred, sharp = blurred.flip(-1), sharp.flip(-1)
    if rng.random() < 0.5:  # played backwards, the clip is just as real
        blurred, sharp = blurred.flip(0), sharp.flip(0)
    blurred = camera_pipeline(blurred, rng, clean_share) if degrade else linear_to_srgb(blurred)
    return blurred.contiguous(), linear_to_srgb(sharp).contiguous()


def _full_res_flows(flows: np.ndarray, pairs: range, size: tuple[int, int], device) -> torch.Tensor:
    """(P, 2, H, W) float32 flows of `pairs`, upsampled from the stored half resolution."""
    half = torch.from_numpy(np.array(flows[pairs.start : pairs.stop])).to(device).float()
    half = rearrange(half, "p h w c -> p c h w")
    return F.interpolate(half, scale_factor=2.0, mode="bilinear", align_corners=False)[..., : size[0], : size[1]]


def frame_at(source: torch.Tensor, fwd: torch.Tensor, bwd: torch.Tensor, time: float) -> torch.Tensor:
    """The (3, H, W) frame at fractional `time`, in frames of `source` (N, 3, H, W) linear light.

    fwd, bwd: (N - 1, 2, H, W) flows i -> i+1 and i+1 -> i in pixels. Whole times give source frames.
    """
    i = min(int(math.floor(time)), source.shape[0] - 2)
    t = time - i
    if t <= 1e-6:
        return source[i]
    if t >= 1 - 1e-6:
        return source[i + 1]
    f01, f10 = fwd[i], bwd[i]
    to_first = -(1 - t) * t * f01 + t * t * f10
    to_second = (1 - t) ** 2 * f01 - t * (1 - t) * f10
    return (1 - t) * warp(source[i], to_first) + t * warp(source[i + 1], to_second)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: out(p) = image(p + flow(p)), bilinear, borders repeated.

    image: (C, H, W); flow: (2, H, W) in pixels (x, y).
    """
    _, h, w = image.shape
    rows, cols = (torch.arange(n, dtype=flow.dtype, device=flow.device) for n in (h, w))
    ys, xs = torch.meshgrid(rows, cols, indexing="ij")
    # pixel centres to normalised coordinates of align_corners=False
    gx = (xs + flow[0] + 0.5) * (2 / w) - 1
    gy = (ys + flow[1] + 0.5) * (2 / h) - 1
    grid = torch.stack([gx, gy], dim=-1)[None]
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0]
