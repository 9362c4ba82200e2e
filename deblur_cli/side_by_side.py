"""Before | after frames for `deblur run --side-by-side`: the input on the left, the restored frame on
the right, as a player shows them, with a thin black line between them.

Frames are composed in stored orientation, and a player then turns them by the display rotation. So the
two halves are placed where that turn brings them to the left and the right: side by side for 0 and 180
degrees, one above the other for 90 and 270; a player that also mirrors the frames swaps the halves, so
they are placed the other way round then. An output that records no rotation (.avi) is shown as stored:
its halves are placed for no turn and no mirror.
"""

from __future__ import annotations

import dataclasses

import torch

from deblur_cli.video_io import VideoInfo

# For each display rotation (counter-clockwise degrees): the stored axis the halves are joined along
# (-1 width, -2 height), and whether the input comes first along it.
_LAYOUT = {0: (-1, True), 90: (-2, True), 180: (-1, False), 270: (-2, False)}
DIVIDER = 4  # pixels of black between the halves; even, so 4:2:0 video keeps even sizes


def composed_info(info: VideoInfo, turned: bool = True) -> VideoInfo:
    """The VideoInfo of the composed frames: twice as wide as displayed plus the divider, opaque, the rest
    unchanged. `turned`: whether the output is shown turned as `info` says (sinks.shows_turned)."""
    axis, _ = _LAYOUT[info.rotation if turned else 0]
    if axis == -1:
        return dataclasses.replace(info, width=2 * info.width + DIVIDER, alpha=False)
    return dataclasses.replace(info, height=2 * info.height + DIVIDER, alpha=False)


def compose(before: torch.Tensor, after: torch.Tensor, rotation: int, mirrored: bool = False) -> torch.Tensor:
    """(3, H, W) input and restored frames, stored orientation -> one (3, H, 2W + DIVIDER) or (3, 2H + DIVIDER, W)
    frame that a player turned by `rotation` (and mirrored, if `mirrored`) shows with the input on the left and
    the restored frame on the right."""
    axis, before_first = _LAYOUT[rotation]
    before_first ^= mirrored
    shape = list(before.shape)
    shape[axis] = DIVIDER
    line = before.new_zeros(shape)
    return torch.cat([before, line, after] if before_first else [after, line, before], dim=axis)
