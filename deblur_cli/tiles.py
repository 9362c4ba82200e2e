"""Spatial tiles: pad frames to the model's multiple once, restore them whole or in feathered tiles.

A frame too big for the device is cut into square tiles that overlap; inside an overlap each
pixel is a weighted mean of the tiles covering it, the weights fading across the overlap
(raised cosine, as between temporal windows) so that no tile edge shows.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from deblur_cli.devices import cpu_runs_bf16, is_out_of_memory, release_cached_memory
from deblur_cli.errors import ModelError, UsageError
from deblur_cli.windows import blend_weights, plan_windows

# What restore_tiled keeps of the whole window besides the model: a float32 sum (and a weight sum per pixel).
TILED_BYTES_PER_PIXEL_FRAME = 3 * 4
DEFAULT_TILE_OVERLAP = 32  # pixels shared by neighbouring tiles unless asked otherwise


def round_up(n: int, multiple: int) -> int:
    """`n` rounded up to a multiple of `multiple`: a side as the pipeline pads it."""
    return -(-n // multiple) * multiple


def _reflected(x: torch.Tensor, size: int, pad: int, dim: int) -> torch.Tensor:
    """The `pad` slices after the first `size` of x along `dim`: reflected about the last one (which is
    not repeated) where there is room, the last one repeated where the image is too small to reflect."""
    if pad < size:
        return x.narrow(dim, size - 1 - pad, pad).flip(dim)
    return x.narrow(dim, size - 1, 1).expand(*x.shape[:dim], pad, *x.shape[dim + 1 :])


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad x (..., H, W) at the bottom and right so H and W are multiples of `multiple`.

    Reflects the image into the padding (no hard edge for the model to restore), or repeats the
    last row/column where the image is too small to reflect. Returns (padded, (H, W)); `crop_to`
    with that size undoes it. Copies the image into one new tensor and then its edges, rather than
    calling F.pad's reflect mode, which some PyTorch releases lack for float16 on the CPU, or gathering
    rows and columns by index, whose many short OpenMP regions each waited a scheduler slice on a CPU
    busy with other programs (seconds for a 10-frame 1080p window, against a tenth of one).
    """
    if multiple < 1:
        raise ValueError(f"the padding multiple must be at least 1, got {multiple}")
    height, width = x.shape[-2:]
    pad_h, pad_w = round_up(height, multiple) - height, round_up(width, multiple) - width
    if not pad_h and not pad_w:
        return x, (height, width)
    padded = x.new_empty(*x.shape[:-2], height + pad_h, width + pad_w)
    padded[..., :height, :width] = x
    if pad_w:
        padded[..., :height, width:] = _reflected(x, width, pad_w, x.dim() - 1)
    if pad_h:
        padded[..., height:, :] = _reflected(padded[..., :height, :], height, pad_h, x.dim() - 2)
    return padded, (height, width)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Undo `pad_to_multiple`: x (..., H', W') -> (..., H, W) with (H, W) = size."""
    return x[..., : size[0], : size[1]]


def _spans(length: int, tile: int, overlap: int, multiple: int) -> list[tuple[int, int]]:
    # Plan in units of `multiple` so every tile starts and ends on one: both length and tile are
    # multiples, and the overlap is rounded up so it is never less than asked.
    units = plan_windows(length // multiple, tile // multiple, -(-overlap // multiple))
    return [(start * multiple, stop * multiple) for start, stop in units]


def _weights(spans: list[tuple[int, int]]) -> list[torch.Tensor]:
    # Fade each tile in over what it shares with the one before, out over what it shares with the next.
    prev_stops = [0] + [stop for _, stop in spans[:-1]]
    next_starts = [start for start, _ in spans[1:]] + [spans[-1][1]]
    return [
        blend_weights(stop - start, prev_stop - start, stop - next_start)
        for (start, stop), prev_stop, next_start in zip(spans, prev_stops, next_starts)
    ]


Region = tuple[slice, slice]  # a tile's rows and columns in the padded frame


@dataclass(frozen=True)
class TileGrid:
    """The tiles of a padded frame of `size` (H, W): where each lies, and its blending weights."""

    size: tuple[int, int]
    rows: tuple[tuple[int, int], ...]
    cols: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    def __iter__(self) -> Iterator[tuple[Region, torch.Tensor]]:
        """Each tile's region and weights (h, w), row by row."""
        return iter(self.on(torch.device("cpu"))[0])

    def on(self, device: torch.device) -> tuple[list[tuple[Region, torch.Tensor]], torch.Tensor]:
        """The tiles with their weights on `device`, and the weights' sum at each pixel (H, W), made once
        per device: a diffusion model blends its tiles at every sampler step."""
        placed = self.__dict__.setdefault("_on", {})  # a cache beside the frozen fields
        if device not in placed:
            tiles = [
                ((slice(top, bottom), slice(left, right)), torch.outer(row_weight, col_weight).to(device))
                for (top, bottom), row_weight in zip(self.rows, _weights(list(self.rows)))
                for (left, right), col_weight in zip(self.cols, _weights(list(self.cols)))
            ]
            total = torch.zeros(self.size, dtype=torch.float32, device=device)
            for region, weight in tiles:
                total[region] += weight
            placed[device] = tiles, total
        return placed[device]


def check_tile(tile: int, multiple: int, model: str = "this model") -> None:
    """UsageError for a --tile smaller than the model's `multiple`, the least a tile can be; `model` names it."""
    if tile < multiple:
        raise UsageError(
            f"--tile {tile} must be at least {multiple} pixels for {model}", hint=f"use --tile {multiple} or more"
        )


def plan_tiles(height: int, width: int, *, tile: int, overlap: int | None, multiple: int) -> TileGrid:
    """The tiles of a frame padded to (height, width), multiples of `multiple`: at most tile x tile
    pixels (rounded down to the multiple), overlapping by at least `overlap` pixels (None:
    DEFAULT_TILE_OVERLAP, less where a small tile leaves no room for it), laid out along each axis by
    `plan_windows`; a tile larger than the frame covers it whole along that side. UsageError for a
    tile or overlap that leaves no room."""
    check_tile(tile, multiple)
    tile = tile // multiple * multiple
    if overlap is None:
        overlap = min(DEFAULT_TILE_OVERLAP, tile - multiple)
    if not 0 <= overlap <= tile - multiple:
        raise UsageError(
            f"a tile overlap of {overlap} px leaves no room between {tile}-px tiles (they move in steps of {multiple})",
            hint=f"use a larger tile or a tile overlap of at most {tile - multiple} px",
        )
    rows, cols = _spans(height, tile, overlap, multiple), _spans(width, tile, overlap, multiple)
    return TileGrid((height, width), tuple(rows), tuple(cols))


def blend_tiles(grid: TileGrid, restore_tile: Callable[[Region], torch.Tensor]) -> torch.Tensor:
    """Every pixel the weighted mean of the tiles covering it: restore_tile(region) returns a tile
    (..., h, w) for each region of the grid; returns (..., H, W) float32 on the tiles' device."""
    total = tiles = weights = None
    for index, (region, _) in enumerate(grid):
        out = restore_tile(region)
        if total is None:
            total = torch.zeros((*out.shape[:-2], *grid.size), dtype=torch.float32, device=out.device)
            tiles, weights = grid.on(out.device)
        total[..., region[0], region[1]].addcmul_(out.to(torch.float32), tiles[index][1])
    return total.div_(weights)


def restore_tiled(
    frames: torch.Tensor,
    restore: Callable[[torch.Tensor], torch.Tensor],
    *,
    multiple: int,
    tile: int | None,
    overlap: int | None = None,
    in_tiles: Callable[[torch.Tensor, TileGrid], torch.Tensor] | None = None,
    tile_begun: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Restore frames (..., T, 3, H, W) whole or tile by tile; returns the same shape and dtype.

    `restore` only ever sees inputs whose H and W are multiples of `multiple`: the frames are
    padded once here and cropped back once at the end. tile None restores the whole frame.
    Otherwise the padded frame is cut as `plan_tiles` says, each tile restored by `restore` and the
    tiles blended (`restore_each_tile`, which tells `tile_begun` of each); or, given `in_tiles` (a
    restorer's restore_in_tiles: see restorer.py), in_tiles(padded frames, grid) restores the whole
    padded frame, using the grid as it needs to.
    """
    if frames.dim() < 4:
        raise ValueError(f"expected frames of shape (..., T, C, H, W), got {tuple(frames.shape)}")
    padded, size = pad_to_multiple(frames, multiple)
    if tile is None:
        return crop_to(_checked(restore, padded), size)
    grid = plan_tiles(*padded.shape[-2:], tile=tile, overlap=overlap, multiple=multiple)
    if in_tiles is not None:
        return crop_to(_checked(lambda x: in_tiles(x, grid), padded), size)
    return crop_to(restore_each_tile(padded, grid, restore, tile_begun=tile_begun), size)


def restore_each_tile(
    frames: torch.Tensor,
    grid: TileGrid,
    restore: Callable[[torch.Tensor], torch.Tensor],
    *,
    tile_begun: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Frames (..., H, W) of the size `grid` was planned for, each tile restored by `restore` as frames of their
    own and the tiles blended (`blend_tiles`); the same shape and dtype. tile_begun(index, count) hears of each
    tile before `restore` sees it: a restorer that tells how far a window is counts over all its tiles (restorer.py).
    """
    begun = itertools.count()

    def restored(region: Region) -> torch.Tensor:
        if tile_begun is not None:
            tile_begun(next(begun), len(grid))
        return _checked(restore, frames[..., region[0], region[1]])

    return blend_tiles(grid, restored).to(frames.dtype)


def _checked(restore: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    out = restore(x)
    if out.shape != x.shape:
        raise ModelError(
            f"the model returned shape {tuple(out.shape)} for an input of shape {tuple(x.shape)}",
            hint="a restorer must return frames of the shape it was given",
        )
    return out


def auto_tile_size(
    height: int,
    width: int,
    frames: int,
    *,
    bytes_per_pixel_frame: float,
    free_bytes: int,
    multiple: int,
    whole_bytes_per_pixel_frame: float = TILED_BYTES_PER_PIXEL_FRAME,
) -> int | None:
    """The largest square tile (a multiple of `multiple`) whose working memory fits in `free_bytes`.

    bytes_per_pixel_frame: the model's peak working memory per pixel per frame of a window.
    Returns None when the whole (padded) frame fits. Tiling keeps whole-window tensors besides the
    tile's (`whole_bytes_per_pixel_frame`; by default restore_tiled's float32 sum), which are charged
    first. Never less than `multiple`; if even that does not fit, the
    out-of-memory retry has the last word. `free_bytes` is the budget: leave a margin before
    passing it.
    """
    padded_pixels = round_up(height, multiple) * round_up(width, multiple)
    if padded_pixels * frames * bytes_per_pixel_frame <= free_bytes:
        return None
    budget = free_bytes - padded_pixels * (frames * whole_bytes_per_pixel_frame + 4)
    side = math.isqrt(max(int(budget / (frames * bytes_per_pixel_frame)), 0))
    return max(side // multiple * multiple, multiple)


def _out_of_memory_hint(device: torch.device, model_dtype: torch.dtype | None, min_tile: int) -> str:
    """What to try after the smallest tiles ran out of memory too: a narrower --precision only where the
    model runs in fp32 and the device runs a half precision (fp16 on GPUs; bf16 on CPUs built for it)."""
    ways = ["a smaller --window"]
    if model_dtype == torch.float32:
        if device.type in ("cuda", "mps"):
            ways.append("--precision fp16")
        elif device.type == "cpu" and cpu_runs_bf16():
            ways.append("--precision bf16")
    ways.append(f"--tile below {min_tile} (at some cost in quality)")
    return "try " + ", ".join(ways[:-1]) + " or " + ways[-1]


def restore_tiled_with_retry(
    frames: torch.Tensor,
    restore: Callable[[torch.Tensor], torch.Tensor],
    *,
    multiple: int,
    tile: int | None,
    overlap: int | None,
    min_tile: int = 64,
    on_retry: Callable[[int], None] | None = None,
    in_tiles: Callable[[torch.Tensor, TileGrid], torch.Tensor] | None = None,
    tile_begun: Callable[[int, int], None] | None = None,
    model_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """`restore_tiled`, retrying with tiles half the size whenever the device runs out of memory.

    From the whole frame the first retry uses half its padded larger side. The overlap shrinks
    with the tile when it would leave no room. Below `min_tile` it gives up with a ModelError.
    on_retry(tile) is called before each retry, so the caller can keep the smaller tile for the
    next windows and tell the user. `model_dtype`, the dtype the model runs in, decides whether the
    last error's hint offers a narrower --precision.
    """
    longest = round_up(max(frames.shape[-2:]), multiple)
    while True:
        try:
            return restore_tiled(
                frames, restore, multiple=multiple, tile=tile, overlap=overlap, in_tiles=in_tiles, tile_begun=tile_begun
            )
        except RuntimeError as e:  # torch's OutOfMemoryError is a RuntimeError too
            if not is_out_of_memory(e):
                raise
            failed = tile
        # Out of the except block, so the traceback no longer pins the failed attempt's tensors.
        release_cached_memory(frames.device)
        tile = min(failed or longest, longest) // 2 // multiple * multiple
        if tile < max(min_tile, multiple):
            where = f"{failed}-px tiles" if failed else "the whole frame"
            raise ModelError(
                f"out of {frames.device.type} memory even with {where}",
                hint=_out_of_memory_hint(frames.device, model_dtype, min_tile),
            )
        if overlap is not None:
            overlap = min(overlap, tile - multiple)
        if on_retry is not None:
            on_retry(tile)
