"""Before | after frames for `deblur run --side-by-side`: the input on the left, the restored frame on
the right, as a player shows them, with a thin black line between them.

Frames are composed in stored orientation, and a player then turns them by the display rotation. So the
two halves are placed where that turn brings them to the left and the right: side by side for 0 and 180
degrees, one above the other for 90 and 270; a player that also mirrors the frames swaps the halves, so
they are placed the other way round then. An output that records no rotation (.avi) is shown as stored:
its halves are placed for no turn and no mirror.

Each half is captioned in its top-left corner as shown, "input" and "deblurred (dstnet-s)" (captions.py), where
the captions fit: so that an editor need not remember which side is which. A partial restoration (--strength,
--keep-still, --keep-detail) says so in `deblur evaluate`'s words, "deblurred (dstnet-s, strength 0.5)", or on a 16:9
or 9:16 frame, where that does not fit, "dstnet-s, strength 0.5": a preview is what gets shared, and it must not pass
for the model's whole restoration.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch

from deblur_cli.captions import Captions, burn, drawable, fitting, white_of
from deblur_cli.mix import Mix
from deblur_cli.video_io import VideoInfo

# For each display rotation (counter-clockwise degrees): the stored axis the halves are joined along
# (-1 width, -2 height), and whether the input comes first along it.
_LAYOUT = {0: (-1, True), 90: (-2, True), 180: (-1, False), 270: (-2, False)}
DIVIDER = 4  # pixels of black between the halves; even, so 4:2:0 video keeps even sizes
INPUT, RESTORED = "input", "deblurred"  # the halves' captions
# the corners of a picture as shown (0 the top left), to find where a turn and a mirror put them as stored
_CORNERS = torch.tensor([[0, 1], [2, 3]])


def composed_info(info: VideoInfo, turned: bool = True) -> VideoInfo:
    """The VideoInfo of the composed frames: twice as wide as displayed plus the divider, opaque, the rest
    unchanged. `turned`: whether the output is shown turned as `info` says (sinks.shows_turned)."""
    axis, _ = _LAYOUT[info.rotation if turned else 0]
    if axis == -1:
        return dataclasses.replace(info, width=2 * info.width + DIVIDER, alpha=False)
    return dataclasses.replace(info, height=2 * info.height + DIVIDER, alpha=False)


class Placement(NamedTuple):
    """How a run's frames are composed side by side: compose's arguments after the two frames."""

    rotation: int  # the display rotation the halves are placed for (0 where the output shows frames as stored)
    mirrored: bool  # whether a player also mirrors them
    captions: Captions | None  # the halves' captions turned as the frames are stored, None where they do not fit

    def to(self, device: torch.device) -> Placement:
        """This Placement with its captions' stamps on `device`, the frames': itself where they are there already
        or there are none. A run moves them once, not once a frame: on a GPU each move is an upload."""
        if self.captions is None or self.captions.stamps[0].device == device:
            return self
        stamps = tuple(letters.to(device) for letters in self.captions.stamps)
        return self._replace(captions=dataclasses.replace(self.captions, stamps=stamps))


def placement(
    info: VideoInfo,
    model: str | None,
    turned: bool = True,
    *,
    mix: Mix = Mix(),
) -> Placement:
    """The Placement of `info`'s frames side by side, their captions naming `model` and what the run keeps of its
    restoration (captions_for), turned once for the run as the frames are stored. `turned` as composed_info's: where
    the output is not shown turned (.avi), the halves are placed as stored."""
    rotation, mirrored = (info.rotation, info.mirrored) if turned else (0, False)
    captions = captions_for(info, model, turned, mix=mix)
    if captions is not None:
        stamps = tuple(_as_stored(letters, rotation, mirrored) for letters in captions.stamps)
        captions = dataclasses.replace(captions, stamps=stamps)
    return Placement(rotation, mirrored, captions)


def captions_for(
    info: VideoInfo,
    model: str | None,
    turned: bool = True,
    *,
    mix: Mix = Mix(),
) -> Captions | None:
    """The captions of `info`'s frames side by side: "input", and the first of `restored_labels` that fits; None
    where none fits. `turned` as composed_info's."""
    width, height = info.display_size if turned else (info.width, info.height)
    white = white_of(info.color.get("transfer"))
    for label in restored_labels(model, mix):
        captions = fitting((INPUT, label), height, width, white)
        if captions is not None:
            return captions
    return None


def restored_labels(model: str | None, mix: Mix = Mix()) -> list[str]:
    """The restored half's captions, best first (captions_for draws the first that fits): "deblurred (dstnet-s)"
    naming `model` (None: the model has no name), then "deblurred". A partial restoration's captions say what it
    keeps, as `deblur evaluate` labels it, never "deblurred" alone: "deblurred (dstnet-s, strength 0.5)", then
    "dstnet-s, strength 0.5" (a 16:9 or 9:16 half holds 26 letters from 360p to 2160p, captions.fitting; beside
    "input" the model's name says which half is restored, and the model is what a shared preview shows), then
    "deblurred (strength 0.5)", "strength 0.5". At strength 0 the model does not run: the half is the input."""
    if mix.strength == 0:
        return [f"{INPUT} (strength 0)", "strength 0"]
    told = mix.words()
    if not told:
        labels = ([f"{RESTORED} ({model})"] if model else []) + [RESTORED]
    else:
        named = [f"{RESTORED} ({', '.join([model, *told])})", ", ".join([model, *told])] if model else []
        labels = named + [f"{RESTORED} ({', '.join(told)})", ", ".join(told)]
    return [label for label in labels if drawable(label)]


def compose(
    before: torch.Tensor, after: torch.Tensor, rotation: int, mirrored: bool = False, captions: Captions | None = None
) -> torch.Tensor:
    """(3, H, W) input and restored frames, stored orientation -> one (3, H, 2W + DIVIDER) or (3, 2H + DIVIDER, W)
    frame that a player turned by `rotation` (and mirrored, if `mirrored`) shows with the input on the left and
    the restored frame on the right, each with its caption of `captions` (placement's, turned as stored) where
    given."""
    axis, before_first = _LAYOUT[rotation]
    before_first ^= mirrored
    shape = list(before.shape)
    shape[axis] = DIVIDER
    line = before.new_zeros(shape)
    both = torch.cat([before, line, after] if before_first else [after, line, before], dim=axis)
    if captions is not None:
        length = before.shape[axis]
        first, second = both.narrow(axis, 0, length), both.narrow(axis, length + DIVIDER, length)
        # the stored corner that is shown top left
        bottom, right = (_as_stored(_CORNERS, rotation, mirrored) == 0).nonzero()[0].tolist()
        for half, letters in zip((first, second) if before_first else (second, first), captions.stamps):
            _caption(half, letters, bottom, right, captions)
    return both


def _as_stored(shown: torch.Tensor, rotation: int, mirrored: bool) -> torch.Tensor:
    """(h, w) as a player turned by `rotation` (and mirrored) shows it -> as stored."""
    turns = -(rotation // 90)  # a player mirrors after it turns: undone in the other order
    return torch.rot90(shown.flip(-1) if mirrored else shown, turns, dims=(0, 1))


def _caption(half: torch.Tensor, letters: torch.Tensor, bottom: bool, right: bool, captions: Captions) -> None:
    """Burn the caption `letters` (as stored) into `half` (3, H, W), stored orientation, in place, in its stored
    corner: at the `bottom` or the top, the `right` or the left."""
    (h, w), (height, width), margin = letters.shape, half.shape[-2:], captions.margin
    top = height - margin - h if bottom else margin
    left = width - margin - w if right else margin
    burn(half[:, top : top + h, left : left + w], letters, captions.white)
