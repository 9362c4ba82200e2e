"""Restore a stream of frames as `deblur run` does, without the codecs: temporal windows (several
per model call with `--batch`), spatial tiles, blending. `pipeline.deblur_video` wraps it in decoding
and encoding; `evaluate`, `demo` and the benchmarks use it directly. It needs no PyAV.
"""

from __future__ import annotations

import collections
import functools
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import torch

from deblur_cli.devices import free_memory, is_out_of_memory, release_cached_memory
from deblur_cli.errors import UsageError
from deblur_cli.frame_facts import FrameFacts
from deblur_cli.levels import as_float
from deblur_cli.mix import Mix
from deblur_cli.restorer import Restorer, batches, completed, restore_windows
from deblur_cli.scene_cuts import cuts_in
from deblur_cli.kept_detail import keep_detail as kept_detail
from deblur_cli.still_regions import keep_still as kept_still
from deblur_cli.tiles import auto_tile_size, restore_tiled, restore_tiled_with_retry
from deblur_cli.transfer import ModelCurve
from deblur_cli.windows import WindowOptions, stitch_windows

if TYPE_CHECKING:
    from deblur_cli.restorer import ModelFacts


def mixed(frame: torch.Tensor, restored: torch.Tensor, strength: float) -> torch.Tensor:
    """A restored frame with its input `frame` (any dtype `as_float` takes, any device) mixed back in as `deblur run
    --strength` says: frame + strength × (restored − frame), on the restored frame's device."""
    if strength == 1:
        return restored
    return torch.lerp(as_float(frame.to(restored.device)), restored, strength)


def is_grey(frame: torch.Tensor) -> bool:
    """Whether a (3, H, W) frame has no colour: its three channels are equal (a greyscale image, or video
    whose chroma is neutral throughout: black-and-white film, a fade through black)."""
    return torch.equal(frame[0], frame[1]) and torch.equal(frame[1], frame[2])


def is_held(frame: torch.Tensor, before: torch.Tensor) -> bool:
    """Whether a frame is held: equal to the frame `before` it, in size and in every value."""
    return frame.shape == before.shape and torch.equal(frame, before)


def frame_facts(frame: torch.Tensor, before: torch.Tensor | None) -> FrameFacts:
    """The facts of a (3, H, W) frame (frame_facts.py), on its device, `before` the frame before it in the stream
    (None for the first): restore_stream's, for the frames given it without them."""
    return FrameFacts(held=before is not None and is_held(frame, before), grey=is_grey(frame))


def greyed(frame: torch.Tensor) -> torch.Tensor:
    """A restored (3, H, W) frame as grey: each pixel the mean of its channels, in all three."""
    return frame.mean(dim=0, keepdim=True).expand_as(frame).contiguous()


def check_windows(restorer: Restorer | ModelFacts, windows: WindowOptions, model: str = "this model") -> None:
    """UsageError if the windows are longer than the model accepts (of a built restorer, or its description);
    `model` names it, where a command runs several."""
    if restorer.max_frames is not None and windows.window > restorer.max_frames:
        raise UsageError(
            f"--window {windows.window} is longer than {model} accepts ({restorer.max_frames} frames)",
            hint=f"use --window {restorer.max_frames} or less",
        )


def restore_stream(
    frames: Iterable[torch.Tensor | tuple[torch.Tensor, FrameFacts]],
    restorer: Restorer,
    windows: WindowOptions,
    size: tuple[int, int],
    *,
    mix: Mix = Mix(),
    on_retry: Callable[[str, str], None] | None = None,
    on_cut: Callable[[int], None] | None = None,
    on_tile: Callable[[int | None], None] | None = None,
    curve: ModelCurve | None = None,
    first: int = 0,
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

    `first` is the index in the video of the stream's first frame (where a continued run restarts): a
    positional restorer (restorer.py) is told where each window lies in the video.

    `mix` says what the frames keep of the restoration (mix.py): with `keep_detail` (`deblur run --keep-detail`)
    each window keeps its input's fine texture where the restoration smoothed it (kept_detail.py), then with
    `keep_still` (`--keep-still`) its input where the input stands still (still_regions.py): motion blur needs
    motion. A `strength` under 1 (`--strength`) mixes each restored frame with its input (`mixed`); at 0 the frames
    come out as they are given (levels stay levels), moved to the restorer's device, without running the model,
    whose output would be weighted by 0.

    A frame without colour (`is_grey`) comes out without colour (`greyed`): the models, trained on colour,
    tint grey frames a little (up to 46 of 255 levels apart between channels on grey noise).

    A held frame, equal to the frame before it in the stream (a duplicate: animation on twos, a still screen,
    a frame repeated to fill a variable rate), comes out as the frame before it did, so that what stands still
    in the input stands still in the output: restored within other windows, the copies differ (dstnet-s up to
    7 levels of 255, a diffusion model's samples up to 84). The stream's first frame is never held. A window
    whose every frame is held (inside a still shot) is not restored at all: each of its frames comes out as a
    copy.

    Each frame may come with its facts (a `(frame, FrameFacts)` pair), where the caller told them already: `deblur
    run` tells them on the host as it decodes (frame_facts.image_facts), and ends no segment before a held frame.
    Else they are told here, on the frames' device (`frame_facts`).
    """
    if mix.strength == 0:
        return ((frame[0] if isinstance(frame, tuple) else frame).to(restorer.device) for frame in frames)
    inputs: collections.deque[torch.Tensor] = collections.deque()  # the frames to mix in, read and not yet mixed

    def kept(frames: Iterable[torch.Tensor | tuple[torch.Tensor, FrameFacts]]) -> Iterator:
        for frame in frames:
            inputs.append(frame[0] if isinstance(frame, tuple) else frame)
            yield frame

    whole = mix.strength == 1  # no input to mix in: none is held
    restored = _restored(
        frames if whole else kept(frames), restorer, windows, size, mix, on_retry, on_cut, on_tile, curve, first
    )
    return restored if whole else (mixed(inputs.popleft(), frame, mix.strength) for frame in restored)


def _restored(
    frames: Iterable[torch.Tensor | tuple[torch.Tensor, FrameFacts]],
    restorer: Restorer,
    windows: WindowOptions,
    size: tuple[int, int],
    mix: Mix,
    on_retry: Callable[[str, str], None] | None,
    on_cut: Callable[[int], None] | None,
    on_tile: Callable[[int | None], None] | None,
    curve: ModelCurve | None,
    first: int,
) -> Iterator[torch.Tensor]:
    """restore_stream's frames before they are mixed with their input by `mix.strength`."""
    restorer = completed(restorer)
    facts: dict[int, FrameFacts] = {}  # of each frame read and not yet yielded restored, by its index in the stream
    restore = _WindowRestorer(
        restorer, windows, size, mix=mix, on_retry=on_retry, on_tile=on_tile, curve=curve, first=first, facts=facts
    )  # fmt: skip

    def noted(frames: Iterable[torch.Tensor | tuple[torch.Tensor, FrameFacts]]) -> Iterator[torch.Tensor]:
        before = None
        for index, frame in enumerate(frames):
            if isinstance(frame, tuple):
                frame, facts[index] = frame
            else:
                facts[index] = frame_facts(frame, before)
            before = frame
            yield frame

    def finished(restored: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        before = None
        for index, frame in enumerate(restored):
            told = facts.pop(index)  # a frame yielded is in no window still to come
            if told.held:
                frame = before.clone()  # a copy: a caller may change the frames it is given
            elif told.grey:
                frame = greyed(frame)
            before = frame
            yield frame

    # the bound method, not the object: a call of the object keeps the stack of 8-bit frames alive through the model
    restored = stitch_windows(
        noted(frames), restore.__call__, window=windows.window, overlap=windows.overlap, batch=restore.batch,
        last=windows.last, on_cut=on_cut,
    )  # fmt: skip
    return finished(restored)


class _WindowRestorer:
    """The `restore` of stitch_windows for restore_stream: each call's windows as float on the
    restorer's device, on the model's curve, split at scene cuts, in tiles, retried smaller after an
    out-of-memory error, their input's fine texture kept with `mix.keep_detail` and their still regions with
    `mix.keep_still`. `tile` and `batch` hold what the latest retry left, for the later windows."""

    def __init__(
        self,
        restorer: Restorer,
        windows: WindowOptions,
        size: tuple[int, int],
        *,
        mix: Mix,
        on_retry: Callable[[str, str], None] | None,
        on_tile: Callable[[int | None], None] | None,
        curve: ModelCurve | None,
        first: int,
        facts: dict[int, FrameFacts],
    ):
        self.restorer = restorer
        self.mix = mix
        self.first = first
        self.facts = facts  # by the frames' index in the stream (restore_stream fills it)
        self.windows = windows
        self.on_retry = on_retry
        self.on_tile = on_tile
        self.curve = curve
        self.in_tiles = restorer.restore_in_tiles  # a restorer that blends tiles itself
        self.batch, self.tile = _planned(restorer, windows, size)
        if on_tile is not None:
            on_tile(self.tile)

    def __call__(self, group: torch.Tensor, starts: list[int]) -> tuple[torch.Tensor, list[list[int]]]:
        """Windows (B, T, 3, H, W) that start at frames `starts` of the stream restored, and where each was
        split into scenes."""
        group = as_float(group.to(self.restorer.device))
        still = [all(self._held(start + t) for t in range(group.shape[1])) for start in starts]
        if all(still):  # every frame will come out as a copy of the frame before the window
            return group, [[] for _ in group]
        if any(still):
            restored, cuts = group.clone(), [[] for _ in group]
            moving = [b for b, is_still in enumerate(still) if not is_still]
            restored[moving], moving_cuts = self(group[moving], [starts[b] for b in moving])
            for b, at in zip(moving, moving_cuts):
                cuts[b] = at
            return restored, cuts
        given = group if self.mix.keeps_input else None  # as stored, as the restored frames come back
        if self.curve is not None:
            group = self.curve.to_model(group)
        starts = [self.first + start for start in starts]  # in the video
        cuts = [cuts_in(window) for window in group] if self.windows.scene_cuts else [[] for _ in group]
        if any(cuts):
            scenes = zip(group, starts, cuts)
            restored = torch.stack([self._by_scene(window, start, at) for window, start, at in scenes])
        else:
            restored = self._restore_group(group, starts)
        if self.curve is not None:
            restored = self.curve.from_model(restored)
        if self.mix.keep_detail:
            restored = kept_detail(given, restored)
        return (kept_still(given, restored) if self.mix.keep_still else restored), cuts

    def _held(self, index: int) -> bool:
        told = self.facts.get(index)
        return told is not None and told.held

    def _at(self, starts: list[int]) -> tuple[Callable, Callable | None]:
        """restore_tiled's `restore` and `in_tiles` for windows that start at frames `starts` of the video."""
        model = functools.partial(restore_windows, self.restorer, first_frames=starts)
        in_tiles = self.in_tiles
        if in_tiles is None or not self.restorer.positional:
            return model, in_tiles
        return model, lambda frames, grid: in_tiles(frames, grid, starts)  # by position, as the protocol says

    def _restore_group(self, group: torch.Tensor, starts: list[int]) -> torch.Tensor:
        if len(group) > 1 and self.batch > 1:
            model, in_tiles = self._at(starts)
            try:
                return restore_tiled(
                    group, model, multiple=self.restorer.multiple, tile=self.tile, overlap=self.windows.tile_overlap,
                    in_tiles=in_tiles, tile_begun=self.restorer.tile_begun,
                )  # fmt: skip
            except RuntimeError as e:  # torch's OutOfMemoryError is a RuntimeError too
                if not is_out_of_memory(e):
                    raise
            if self.on_retry is not None:
                self.on_retry("batch", f"out of device memory with {len(group)} windows per call: restored one at a"
                              " time (lower --batch to skip the retry)")  # fmt: skip
            self.batch = 1
            release_cached_memory(group.device)
        if len(group) > 1:
            return torch.stack([self._restore_one(window, start) for window, start in zip(group, starts)])
        return self._restore_one(group[0], starts[0])[None]

    def _by_scene(self, window: torch.Tensor, start: int, cuts: list[int]) -> torch.Tensor:
        scenes = torch.tensor_split(window, cuts)
        return torch.cat([self._restore_one(scene, start + at) for scene, at in zip(scenes, [0, *cuts])])

    def _restore_one(self, window: torch.Tensor, start: int) -> torch.Tensor:
        """One window (T, 3, H, W) that starts at frame `start` of the video, restored."""
        model, in_tiles = self._at([start])
        return restore_tiled_with_retry(
            window[None], model, multiple=self.restorer.multiple, tile=self.tile, overlap=self.windows.tile_overlap,
            on_retry=self._smaller_tile, in_tiles=in_tiles, tile_begun=self.restorer.tile_begun,
            model_dtype=self.restorer.dtype,
        )[0]  # fmt: skip

    def _smaller_tile(self, side: int) -> None:
        self.tile = side  # later windows start from the size that fitted
        if self.on_tile is not None:
            self.on_tile(side)
        if self.on_retry is not None:
            message = f"out of device memory: restored in tiles of {side} px (set --tile to skip the retries)"
            self.on_retry("tile", message)


def _planned(restorer: Restorer, windows: WindowOptions, size: tuple[int, int]) -> tuple[int, int | None]:
    """The windows per call and the tile side to start with: with `tile="auto"`, as many windows per call as
    free memory holds whole (at most `windows.batch`), else one window in tiles that fit."""
    batch = windows.batch if batches(restorer) else 1
    if windows.tile != "auto":
        return batch, windows.tile
    free = int(0.8 * free_memory(restorer.device))  # headroom for the allocator and I/O

    def tile_for(windows_per_call: int) -> int | None:
        return auto_tile_size(
            *size,
            windows_per_call * windows.window,
            bytes_per_pixel_frame=restorer.bytes_per_pixel,
            free_bytes=free,
            multiple=restorer.multiple,
            whole_bytes_per_pixel_frame=restorer.tiled_bytes_per_pixel,
        )

    while batch > 1 and tile_for(batch) is not None:
        batch -= 1
    return batch, tile_for(batch)
