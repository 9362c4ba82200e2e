"""The restorer contract: what every model looks like to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import torch

from deblur_cli.tiles import TILED_BYTES_PER_PIXEL_FRAME


class Restorer(Protocol):
    """Restores one temporal window.

    __call__(frames): frames (T, 3, H, W) float in [0, 1] on `device`, H and W multiples of
    `multiple`; returns a tensor of the same shape, dtype and device, clamped to [0, 1].

    The members below the four required ones are optional: a restorer that subclasses Restorer
    inherits the defaults given here, which say what their absence means, and the pipeline reads
    them as attributes. One that does not subclass it is given them by `completed`, which the entry
    points (stream.restore_stream, pipeline.deblur_video, evaluate, bench, the API) call.
    """

    multiple: int  # H and W must be multiples of this (the pipeline pads, once)
    max_frames: int | None  # longest window the model accepts, None = any
    device: torch.device
    bytes_per_pixel: float  # working memory per pixel per frame of a window, for automatic tile sizes

    # restore_batch(frames): frames (B, T, 3, H, W), B windows of equal length restored in one call, each as
    # __call__ would restore it alone (to float rounding). The pipeline uses it for `--batch` (several windows
    # per call keep a GPU's kernels full); where it is None, every window is one call.
    restore_batch: Callable[..., torch.Tensor] | None = None

    # restore_in_tiles(frames, grid): frames (B, T, 3, H, W) as restore_batch takes them, restored whole by
    # a model run tile by tile over `grid` (a tiles.TileGrid), blending the tiles as it needs (a diffusion
    # model blends its network's outputs at every sampler step, so its noise and sample are the whole
    # frame's). Where it is None, the pipeline restores each tile as a window of its own and blends the
    # results. `tiled_bytes_per_pixel` then says what it keeps of the whole window per pixel and frame
    # besides a tile's working memory, for automatic tile sizes.
    restore_in_tiles: Callable[..., torch.Tensor] | None = None
    tiled_bytes_per_pixel: float = TILED_BYTES_PER_PIXEL_FRAME

    # tile_begun(index, count): told, where the pipeline restores each tile as a window of its own, that its next
    # call restores tile `index` (from 0) of the window's `count` tiles; a restorer that tells how far a window is
    # (DSTNet's on_step) counts over all the tiles with it. Where it is None, nothing is told.
    tile_begun: Callable[[int, int], None] | None = None

    # A JSON-able dict of what fixes its output (model, weights file, device type, precision, sampler
    # settings). `deblur run` continues an interrupted run only under the same identity; where it is None,
    # an interrupted run starts over.
    identity: dict[str, Any] | None = None

    dtype: torch.dtype | None = None  # what the network computes in, where it differs from the frames'
    learned_frames: int | None = None  # the longest window its weights learned, where shorter than max_frames

    # A restorer whose output depends on where a window lies in the video (a diffusion model draws each frame's
    # noise from its seed and the frame's index) is `positional`: the pipeline then calls it with the index of
    # each window's first frame, by position: __call__(frames, first_frame), restore_batch(frames, first_frames)
    # and restore_in_tiles(frames, grid, first_frames).
    positional: bool = False

    def __call__(self, frames: torch.Tensor) -> torch.Tensor: ...


def completed(restorer: Restorer) -> Restorer:
    """`restorer` with the Restorer protocol's defaults for the optional members it lacks: itself where it
    subclasses Restorer, else a stand-in that takes every member it has from it."""
    return restorer if Restorer in type(restorer).__mro__ else _Completed(restorer)


class _Completed(Restorer):
    """A restorer that does not subclass Restorer, with the protocol's defaults where it lacks a member."""

    def __init__(self, restorer: Restorer):
        object.__setattr__(self, "_restorer", restorer)

    def __getattribute__(self, name: str):
        restorer = object.__getattribute__(self, "_restorer")
        try:
            return getattr(restorer, name)
        except AttributeError:
            return object.__getattribute__(self, name)  # the protocol's default

    def __setattr__(self, name: str, value) -> None:
        setattr(object.__getattribute__(self, "_restorer"), name, value)

    def __call__(self, frames: torch.Tensor, *first_frame: int) -> torch.Tensor:
        return object.__getattribute__(self, "_restorer")(frames, *first_frame)


def batches(restorer: Restorer) -> bool:
    """Whether the restorer restores several windows in one call (it has a restore_batch)."""
    return restorer.restore_batch is not None


@dataclass(frozen=True)
class ModelFacts:
    """What `run_options.check_restorer` reads of a model: a built restorer's members (`of`), or the same read
    from a model's name and weights before it is built (`restorers.describe_restorer`)."""

    multiple: int  # H and W must be multiples of this
    max_frames: int | None  # longest window the model accepts, None = any
    learned_frames: int | None  # the longest window its weights learned, where shorter than max_frames
    batches: bool  # restores several windows in one call
    device: torch.device

    @classmethod
    def of(cls, restorer: Restorer) -> ModelFacts:
        """The facts of a built restorer."""
        return cls(restorer.multiple, restorer.max_frames, restorer.learned_frames, batches(restorer), restorer.device)


def restore_windows(restorer: Restorer, frames: torch.Tensor, first_frames: Sequence[int]) -> torch.Tensor:
    """Restore frames (B, T, 3, H, W), B windows of equal length that start at frames `first_frames` of
    the video: in one call where the restorer batches, else one call per window. Returns the same shape."""
    told = restorer.positional  # a positional restorer is told where each window starts, others not
    if len(frames) > 1 and batches(restorer):
        return restorer.restore_batch(frames, first_frames) if told else restorer.restore_batch(frames)
    return torch.stack([restorer(w, first) if told else restorer(w) for w, first in zip(frames, first_frames)])
