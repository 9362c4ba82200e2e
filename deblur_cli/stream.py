"""Restore a stream of frames as `deblur run` does, without the codecs: temporal windows (several
per model call with `--batch`), spatial tiles, blending. `pipeline.deblur_video` wraps it in decoding
and encoding; `evaluate`, `demo` and the benchmarks use it directly. It needs no PyAV.
"""

from __future__ import annotations

import functools
from collections import deque
from typing import Callable, Iterable, Iterator

import torch

from deblur_cli.devices import free_memory, is_out_of_memory, release_cached_memory
from deblur_cli.errors import UsageError
from deblur_cli.restorer import Restorer, batches, restore_windows
from deblur_cli.scene_cuts import cuts_in
from deblur_cli.tiles import TILED_BYTES_PER_PIXEL_FRAME, auto_tile_size, restore_tiled, restore_tiled_with_retry
from deblur_cli.transfer import ModelCurve
from deblur_cli.windows import WindowOptions, stitch_windows


def as_float(frames: torch.Tensor) -> torch.Tensor:
    """Frames as float in [0, 1]: 8-bit ones (uint8, 0 to 255) and 16-bit ones (uint16, 0 to 65535)
    scaled, float ones as they are.

    `deblur run` keeps 8-bit frames as uint8 until their window is restored, and deeper ones as uint16
    where the device holds them (`holds_uint16`): its read-ahead then takes a quarter (a half) of the
    memory, and on a GPU of the bytes uploaded, that float32 frames would.
    """
    if frames.dtype == torch.uint8:
        return frames.to(torch.float32).mul_(1 / 255)
    if frames.dtype == getattr(torch, "uint16", None):
        return frames.to(torch.float32).mul_(1 / 65535)
    return frames


@functools.cache
def holds_uint16(device: torch.device) -> bool:
    """Whether torch on `device` does with uint16 frames what the read-ahead and the windows do with them:
    take from NumPy, copy, stack, compare (`is_grey`), convert to float. PyTorch has had the dtype since 2.3,
    with few operators."""
    try:
        x = torch.from_numpy(torch.zeros((2, 2), dtype=torch.uint16).numpy()).to(device)
        torch.equal(x[0], x[1])
        torch.stack([x, x.t().contiguous()]).to(torch.float32)
    except (AttributeError, RuntimeError, NotImplementedError, TypeError):
        return False
    return True


def is_grey(frame: torch.Tensor) -> bool:
    """Whether a (3, H, W) frame has no colour: its three channels are equal (a greyscale image, or video
    whose chroma is neutral throughout: black-and-white film, a fade through black)."""
    return torch.equal(frame[0], frame[1]) and torch.equal(frame[1], frame[2])


def greyed(frame: torch.Tensor) -> torch.Tensor:
    """A restored (3, H, W) frame as grey: each pixel the mean of its channels, in all three."""
    return frame.mean(dim=0, keepdim=True).expand_as(frame).contiguous()


def check_windows(restorer: Restorer, windows: WindowOptions) -> None:
    """UsageError if the windows are longer than the model accepts."""
    if restorer.max_frames is not None and windows.window > restorer.max_frames:
        raise UsageError(
            f"--window {windows.window} is longer than this model accepts ({restorer.max_frames} frames)",
            hint=f"use --window {restorer.max_frames} or less",
        )


def restore_stream(
    frames: Iterable[torch.Tensor],
    restorer: Restorer,
    windows: WindowOptions,
    size: tuple[int, int],
    *,
    on_retry: Callable[[str, str], None] | None = None,
    on_cut: Callable[[int], None] | None = None,
    on_tile: Callable[[int | None], None] | None = None,
    curve: ModelCurve | None = None,
) -> Iterator[torch.Tensor]:
    """Restore a stream of (3, H, W) frames of `size` (H, W) as `deblur run` does: overlapping
    temporal windows, up to `windows.batch` of them per model call when the restorer batches
    (restorer.py), each cut into tiles, blended back. Yields the restored frames in order, on
    the restorer's device, lazily; call it under torch.inference_mode(). The frames may be on any
    device: each call's windows are moved to the restorer's. They are float in [0, 1], or uint8 or uint16 (see
    `as_float`); the restored frames are float.

    With `tile="auto"`, free memory decides: as many windows per call as fit whole (at most
    `windows.batch`), else one window in tiles that fit. After an out-of-memory error, a call of
    several windows is restored one window at a time, and tiles get smaller; both stay so for the
    later windows, and on_retry(what, message) tells the user: what is "tile" or "batch", and the
    latest message of each kind is the one that holds.

    With `windows.scene_cuts`, a window that spans a scene cut (scene_cuts.py) is restored scene by
    scene, so that no frame is restored from frames of another scene, and two windows that share the
    frames around a cut hand over at it (windows.py); on_cut(t) hears of each cut the windows were
    split at, once, t the index of the frame after it in the stream.

    on_tile(side) hears the tile side the windows are restored in (None: whole frames), what `tile="auto"`
    decides included: once planned, and again each time an out-of-memory retry makes it smaller.

    With a `curve` (transfer.model_curve: HDR frames), each window is restored on it and mapped back:
    the frames go in and come out as stored, the model sees them as it learned to.

    A frame without colour (`is_grey`) comes out without colour (`greyed`): the models, trained on colour,
    tint grey frames a little (up to 46 of 255 levels apart between channels on grey noise).
    """
    batch = windows.batch if batches(restorer) else 1
    tile = windows.tile
    in_tiles = getattr(restorer, "restore_in_tiles", None)  # a restorer that blends tiles itself
    if tile == "auto":
        free = int(0.8 * free_memory(restorer.device))  # headroom for the allocator and I/O

        def tile_for(windows_per_call: int) -> int | None:
            return auto_tile_size(
                *size,
                windows_per_call * windows.window,
                bytes_per_pixel_frame=restorer.bytes_per_pixel,
                free_bytes=free,
                multiple=restorer.multiple,
                whole_bytes_per_pixel_frame=getattr(restorer, "tiled_bytes_per_pixel", TILED_BYTES_PER_PIXEL_FRAME),
            )

        while batch > 1 and tile_for(batch) is not None:
            batch -= 1
        tile = tile_for(batch)
    if on_tile is not None:
        on_tile(tile)

    def model(x: torch.Tensor) -> torch.Tensor:
        return restore_windows(restorer, x)

    def smaller_tile(side: int) -> None:
        nonlocal tile  # later windows start from the size that fitted
        tile = side
        if on_tile is not None:
            on_tile(side)
        if on_retry is not None:
            on_retry("tile", f"out of device memory: restored in tiles of {side} px (set --tile to skip the retries)")

    def restore_one(window: torch.Tensor) -> torch.Tensor:
        return restore_tiled_with_retry(
            window, model, multiple=restorer.multiple, tile=tile, overlap=windows.tile_overlap, on_retry=smaller_tile,
            generator=getattr(restorer, "generator", None), in_tiles=in_tiles,
            model_dtype=getattr(restorer, "dtype", None),
        )  # fmt: skip

    def by_scene(window: torch.Tensor, cuts: list[int]) -> torch.Tensor:
        scenes = torch.tensor_split(window, cuts)
        return torch.cat([restore_one(scene.unsqueeze(0)).squeeze(0) for scene in scenes])

    starts: list[int] = []  # where the windows of the coming call start in the stream
    told: set[int] = set()  # the cuts on_cut has heard of (windows overlap: one cut may be in two)
    split: dict[int, list[int]] = {}  # window start -> where it was split, till stitch_windows asks

    def split_at(cuts: list[list[int]]) -> None:
        for start, at in zip(starts, cuts):
            if at:
                split[start] = [start + t for t in at]
            for t in at:
                if on_cut is not None and start + t not in told:
                    told.add(start + t)
                    on_cut(start + t)

    def restore(group: torch.Tensor) -> torch.Tensor:
        group = as_float(group.to(restorer.device))
        if curve is None:
            return restore_on_model_curve(group)
        return curve.from_model(restore_on_model_curve(curve.to_model(group)))

    def restore_on_model_curve(group: torch.Tensor) -> torch.Tensor:
        nonlocal batch
        if windows.scene_cuts and any(cuts := [cuts_in(window) for window in group]):
            split_at(cuts)
            return torch.stack([by_scene(window, at) for window, at in zip(group, cuts)])
        # A restorer that draws noise (a diffusion model) draws it call by call: tiles of several windows
        # would draw it tile by tile across the windows, not window by window, and --batch would change
        # the output. Tiled, it restores one window at a time, unless it blends the tiles itself (and
        # so draws for whole frames).
        generator = getattr(restorer, "generator", None)
        if len(group) > 1 and batch > 1 and (tile is None or generator is None or in_tiles is not None):
            drawn = None if generator is None else generator.get_state()
            try:
                return restore_tiled(
                    group, model, multiple=restorer.multiple, tile=tile, overlap=windows.tile_overlap, in_tiles=in_tiles
                )
            except RuntimeError as e:  # torch's OutOfMemoryError is a RuntimeError too
                if not is_out_of_memory(e):
                    raise
            if drawn is not None:  # the retry draws what the failed call drew, so the output stays the seed's
                generator.set_state(drawn)
            if on_retry is not None:
                on_retry("batch", f"out of device memory with {len(group)} windows per call: restored one at a"
                         " time (lower --batch to skip the retry)")
            batch = 1
            release_cached_memory(group.device)
        if len(group) > 1:
            return torch.stack([restore_one(window.unsqueeze(0)).squeeze(0) for window in group])
        return restore_one(group)

    def call(spans: list[tuple[int, int]]) -> None:
        starts[:] = [start for start, _ in spans]

    grey: deque[bool] = deque()  # of each frame read and not yet yielded restored: whether it is grey

    def noted(frames: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        for frame in frames:
            grey.append(is_grey(frame))
            yield frame

    restored = stitch_windows(
        noted(frames), restore, window=windows.window, overlap=windows.overlap, batch=batch, last=windows.last,
        on_spans=call, scenes=lambda start: split.pop(start, ()),
    )  # fmt: skip
    return (greyed(frame) if grey.popleft() else frame for frame in restored)
