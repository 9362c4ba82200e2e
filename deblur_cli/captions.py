"""Captions burnt into `deblur run --side-by-side` frames ("input", "deblurred (dstnet-s)", "deblurred (dstnet-s,
strength 0.5)"), so that a preview says which half is which.

The letters come from a small bitmap font of our own, 5x7 pixels a glyph and a row for descenders, with only the
characters the captions use; no imaging library is needed. A caption is white letters on a box that darkens the
picture under it, so it reads on bright and dark pictures alike. It is drawn on frames as float in [0, 1], the
values `levels.to_levels` rounds to the file's levels: white is the top level (255, or 65535), except on HDR
frames, where it is diffuse white (BT.2408), not the format's peak. Torch only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deblur_cli.transfer import HLG, PQ, light_to_hlg, light_to_pq

# 5x7 glyphs and a row below for descenders, a row a string, "#" a lit pixel; the x-height is rows 2 to 6, digits
# and ascenders start at row 0.
FONT = {
    "a": (".....", ".....", ".###.", "....#", ".####", "#...#", ".####", "....."),
    "b": ("#....", "#....", "####.", "#...#", "#...#", "#...#", "####.", "....."),
    "d": ("....#", "....#", ".####", "#...#", "#...#", "#...#", ".####", "....."),
    "e": (".....", ".....", ".###.", "#...#", "#####", "#....", ".###.", "....."),
    "g": (".....", ".....", ".####", "#...#", "#...#", ".####", "....#", ".###."),
    "h": ("#....", "#....", "####.", "#...#", "#...#", "#...#", "#...#", "....."),
    "i": ("..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###.", "....."),
    "k": ("#....", "#....", "#...#", "#..#.", "###..", "#..#.", "#...#", "....."),
    "l": (".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###.", "....."),
    "n": (".....", ".....", "####.", "#...#", "#...#", "#...#", "#...#", "....."),
    "p": (".....", ".....", "####.", "#...#", "#...#", "#...#", "####.", "#...."),
    "r": (".....", ".....", "#.##.", "##..#", "#....", "#....", "#....", "....."),
    "s": (".....", ".....", ".####", "#....", ".###.", "....#", "####.", "....."),
    "t": (".#...", ".#...", "####.", ".#...", ".#...", ".#..#", "..##.", "....."),
    "u": (".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#", "....."),
    "w": (".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#.", "....."),
    "(": ("...#.", "..#..", ".#...", ".#...", ".#...", ".#...", "..#..", "...#."),
    ")": (".#...", "..#..", "...#.", "...#.", "...#.", "...#.", "..#..", ".#..."),
    "-": (".....", ".....", ".....", ".....", ".###.", ".....", ".....", "....."),
    ".": (".....", ".....", ".....", ".....", ".....", ".##..", ".##..", "....."),
    ",": (".....", ".....", ".....", ".....", ".....", ".##..", ".##..", "..#.."),
    " ": (".....",) * 8,
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###.", "....."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###.", "....."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####", "....."),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###.", "....."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#.", "....."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###.", "....."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###.", "....."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#...", "....."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###.", "....."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##..", "....."),
}
GLYPH_HEIGHT = 8  # rows of a glyph
PAD = 1  # font pixels of box round the letters
MARGIN = 2  # font pixels between the box and the corner of the picture
SHADE = 0.35  # the picture under the box keeps this share of its values
LINES_PER_PIXEL = 180  # the shorter side of a landscape half over this is the font pixel's side: 2 px at 360p, 6 at
# 1080p (font_pixel)


def drawable(text: str) -> bool:
    """Whether the font has every character of `text`."""
    return all(char in FONT for char in text)


def stamp(text: str, scale: int) -> torch.Tensor:
    """(h, w) bool: `text` in the font, each font pixel `scale` px square, True on its letters, False on the rest of
    its box (PAD font pixels round them); upright, as a player shows it."""
    cells = []
    for char in text:
        glyph = torch.tensor([[bit == "#" for bit in row] for row in FONT[char]])
        cells += [glyph, torch.zeros(GLYPH_HEIGHT, 1, dtype=torch.bool)]  # a column between letters
    letters = torch.cat(cells[:-1], dim=1)
    boxed = torch.nn.functional.pad(letters, (PAD, PAD, PAD, PAD))
    return boxed.repeat_interleave(scale, dim=0).repeat_interleave(scale, dim=1)


@dataclass(frozen=True)
class Captions:
    """The captions of side-by-side frames and how they are drawn."""

    # (h, w) bool each, the input's and the restored frame's: upright (stamp's), then turned as the frames are stored
    # once for a run (side_by_side.placement)
    stamps: tuple[torch.Tensor, torch.Tensor]
    margin: int  # px between each box and the top-left corner of its half as shown
    white: float  # the letters' value (white_of)


def font_pixel(height: int, width: int) -> int:
    """The side in px of a font pixel on halves of `height` x `width` as shown: the height over LINES_PER_PIXEL on a
    half of 16:9 or wider; on a narrower one (4:3, square, portrait), that of a 16:9 half as wide. A caption then takes
    the same share of a half's width whatever its shape, so a 4:3, square or 9:16 half holds the captions a 16:9 one
    does (26 letters): from the shorter side alone, a 1080x1920 half held 14, and a plain run lost the model's name,
    as did a square one. At least 1 px."""
    return max(1, min(16 * height, 9 * width) // (16 * LINES_PER_PIXEL))


def fitting(labels: tuple[str, str], height: int, width: int, white: float) -> Captions | None:
    """The Captions of `labels` for halves of `height` x `width` as shown, the font pixel's side font_pixel's; None
    where one, with its margin, would take more than half a half's width or a quarter of its height (tiny clips get no
    caption)."""
    scale = font_pixel(height, width)
    stamps = (stamp(labels[0], scale), stamp(labels[1], scale))
    margin = MARGIN * scale
    if any(s.shape[0] + margin > height / 4 or s.shape[1] + margin > width / 2 for s in stamps):
        return None
    return Captions(stamps, margin, white)


def burn(picture: torch.Tensor, letters: torch.Tensor, white: float) -> None:
    """Darken `picture` (3, h, w), a view of a frame the size of a stamp, to SHADE of its values, then set the
    stamp's `letters` (h, w), on the picture's device (side_by_side.Placement.to, once a run), to `white`, in
    place."""
    picture.mul_(SHADE)
    picture.masked_fill_(letters, white)


def white_of(transfer: int | None) -> float:
    """White as a caption draws it on frames of FFmpeg's transfer characteristic `transfer`: 1 on SDR frames;
    on HDR ones diffuse white (203 cd/m² on PQ, 75% signal on HLG), as bright as the paper white of the picture."""
    if transfer == PQ:
        return float(light_to_pq(torch.tensor(1.0)))
    if transfer == HLG:
        return float(light_to_hlg(torch.tensor(1.0)))
    return 1.0
