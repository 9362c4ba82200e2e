"""Temporal windows: split a frame stream into overlapping windows, restore each, blend them back.

A video of N frames is covered by windows of `window` frames that start `window - overlap` apart
and share exactly `overlap` frames. Where the last full window would leave a few frames over, the
stretch from its start to the end is split into two shorter windows of about equal length, so no
frame is restored more often than the overlap asks. Where windows overlap, each frame is a
weighted mean of the windows' outputs, the weights following raised-cosine ramps so that one
window fades into the next instead of cutting.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import torch

from deblur_cli.errors import ModelError, UsageError


@dataclass(frozen=True)
class WindowOptions:
    """How a video is cut for the model: temporal windows and spatial tiles."""

    window: int = 8  # frames restored together
    overlap: int = 2  # frames shared by consecutive windows, blended
    tile: int | str | None = "auto"  # spatial tile side in pixels; None = whole frame; "auto" = from free memory
    tile_overlap: int = 32  # pixels shared by neighbouring tiles, feathered


def check_window(window: int, overlap: int) -> None:
    """UsageError unless window >= 1 and 0 <= overlap < window."""
    if window < 1:
        raise UsageError(f"window must be at least 1 frame, got {window}", hint="use --window 1 or more")
    if not 0 <= overlap < window:
        raise UsageError(
            f"window overlap must be between 0 and {window - 1} for {window}-frame windows, got {overlap}",
            hint="use an --overlap smaller than --window",
        )


def _next_windows(start: int, available: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """The next one or two windows from `start`, given that the video holds frames up to
    `available` (exclusive) or at least `window + (window - overlap)` frames past `start`.

    While a full window and a further stride fit, that is one full window. Otherwise the rest
    [start, available) is the end: one window if it fits in one, else two windows that share
    exactly `overlap` frames, their lengths differing by at most one (the later one longer).
    """
    rest = available - start
    if rest >= 2 * window - overlap:
        return [(start, start + window)]
    if rest <= 0:
        return []
    if rest <= window:
        return [(start, available)]
    total = rest + overlap  # frames the two windows restore between them
    return [(start, start + total // 2), (available - (total + 1) // 2, available)]


def plan_windows(num_frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """The [start, stop) windows that cover `num_frames` frames, as `stitch_windows` uses them.

    Consecutive windows share exactly `overlap` frames. Every window holds `window` frames except
    the last two, which split what is left after the last full window that a further stride
    follows: they hold between (window + overlap) / 2 and `window` frames each. That is the fewest
    windows and the fewest restored frames that cover the video with windows of at most `window`
    frames overlapping by `overlap`. Fewer frames than `window` give one window of all frames; no
    frames give no windows.
    """
    check_window(window, overlap)
    spans: list[tuple[int, int]] = []
    start = 0
    while not spans or spans[-1][1] < num_frames:
        new = _next_windows(start, num_frames, window, overlap)
        if not new:
            break
        spans += new
        start = new[-1][0] + window - overlap
    return spans


def ramp(length: int) -> torch.Tensor:
    """Raised-cosine fade-in over `length` samples, float32, strictly between 0 and 1.

    ramp(n) + ramp(n).flip(0) == 1 (to float32 rounding), so a fade-in laid over the mirrored
    fade-out of the neighbour sums to one everywhere in their overlap.
    """
    steps = torch.arange(1, length + 1, dtype=torch.float64) * (math.pi / (length + 1))
    return ((1 - torch.cos(steps)) / 2).to(torch.float32)


def blend_weights(length: int, fade_in: int, fade_out: int) -> torch.Tensor:
    """Weights (length,) float32 in (0, 1] of a span that shares its first `fade_in` and its last
    `fade_out` samples with its neighbours; 1 elsewhere."""
    weights = torch.ones(length)
    if fade_in:
        weights[:fade_in] *= ramp(fade_in)
    if fade_out:
        weights[length - fade_out :] *= ramp(fade_out).flip(0)
    return weights


@dataclass
class _Restored:
    """A restored window whose fade-out is not known yet: it depends on where the next one starts."""

    start: int
    frames: torch.Tensor  # (T, 3, H, W) float32, the restorer's output
    fade_in: list[float]  # its weights with the fade-in only, one per frame

    @property
    def stop(self) -> int:
        return self.start + len(self.frames)


class _Blend:
    """Running weighted sums of the frames not yet emitted, by absolute frame index."""

    def __init__(self) -> None:
        self.first = 0  # absolute index of sums[0]
        self.sums: deque[torch.Tensor] = deque()
        self.weights: deque[float] = deque()

    def add(self, start: int, frames: torch.Tensor, weights: list[float]) -> None:
        for k, (frame, weight) in enumerate(zip(frames, weights), start=start - self.first):
            if k < 0:  # emitted while this window was open; its weight there was final already
                continue
            if k == len(self.sums):
                self.sums.append(frame if weight == 1.0 else frame * weight)
                self.weights.append(weight)
            else:
                self.sums[k] = torch.add(self.sums[k], frame, alpha=weight)
                self.weights[k] += weight

    def pop(self, open_window: _Restored | None) -> torch.Tensor:
        """The next frame, final. `open_window` counts with its fade-in only, which is its
        weight on every frame before the next window's start."""
        index = self.first
        self.first += 1
        total, weight = (self.sums.popleft(), self.weights.popleft()) if self.sums else (None, 0.0)
        if open_window is not None and open_window.start <= index < open_window.stop:
            w, frame = open_window.fade_in[index - open_window.start], open_window.frames[index - open_window.start]
            total = (frame if w == 1.0 else frame * w) if total is None else torch.add(total, frame, alpha=w)
            weight += w
        # Most frames come from one window at weight 1: they pass through untouched.
        return total if weight == 1.0 else total / weight


def stitch_windows(
    frames: Iterable[torch.Tensor],
    restore: Callable[[torch.Tensor], torch.Tensor],
    *,
    window: int,
    overlap: int,
) -> Iterator[torch.Tensor]:
    """Restore a stream of frames window by window and yield the blended frames in order.

    frames: (3, H, W) float tensors of one size, read lazily; their number need not be known.
    restore: (T, 3, H, W) -> same shape; called with the windows of `plan_windows`, in order: with
    `window` frames, except the last two and a video shorter than one window.
    Yields every frame once, (3, H, W) in the input frames' dtype on the restorer's output device,
    as soon as no later window can touch it. Blending runs in float32; the weights are positive and
    sum to one per frame, so an identity restorer gives back the input (to float32 rounding).

    Memory: at most `2 * window - overlap` input frames are held (a window, and a stride beyond
    it to see whether the video ends there); besides those, one restored window and the blend
    sums of the frames it shares with the next.
    """
    check_window(window, overlap)  # here, not on the first next()
    return _stitch(iter(frames), restore, window, overlap)


def _stitch(
    source: Iterator[torch.Tensor], restore: Callable[[torch.Tensor], torch.Tensor], window: int, overlap: int
) -> Iterator[torch.Tensor]:
    stride = window - overlap
    inputs: deque[torch.Tensor] = deque()  # input frames from blend.first on
    blend = _Blend()
    open_window: _Restored | None = None
    planned: deque[tuple[int, int]] = deque()  # windows decided but not restored yet
    next_start = 0  # where the next full window would start
    covered = 0  # end of the windows already added to `blend`
    pulled = 0
    exhausted = False
    dtype = None

    def emit_before(index: int) -> Iterator[torch.Tensor]:
        # Frames before `index` are final: every window still to come starts at or after it.
        while blend.first < index:
            inputs.popleft()
            yield blend.pop(open_window).to(dtype)

    while True:
        at_end = exhausted and open_window is not None and open_window.stop >= pulled
        if not planned and not at_end:
            # No window to come starts before next_start; `_next_windows` needs to see a window
            # and a stride past it to tell a full window from the end of the video.
            yield from emit_before(next_start)
            while not exhausted and pulled < next_start + window + stride:
                frame = next(source, None)
                if frame is None:
                    exhausted = True
                    break
                dtype = frame.dtype if dtype is None else dtype
                inputs.append(frame)
                pulled += 1
            if open_window is None or open_window.stop < pulled:  # else the open window turned out to be the last
                planned.extend(_next_windows(next_start, pulled, window, overlap))
        start, stop = planned.popleft() if planned else (None, None)

        if open_window is not None:
            fade_out = open_window.stop - start if start is not None else 0
            weights = blend_weights(len(open_window.frames), 0, fade_out).tolist()
            blend.add(open_window.start, open_window.frames, [a * b for a, b in zip(open_window.fade_in, weights)])
            covered = open_window.stop
            open_window = None
        if start is None:
            yield from emit_before(pulled)
            return
        yield from emit_before(start)

        batch = torch.stack(list(inputs)[: stop - start])
        restored = restore(batch)
        if restored.shape != batch.shape:
            raise ModelError(
                f"the model returned shape {tuple(restored.shape)} for a window of shape {tuple(batch.shape)}",
                hint="a restorer must return frames of the shape it was given",
            )
        fade_in = blend_weights(len(batch), covered - start, 0).tolist()
        open_window = _Restored(start, restored.to(torch.float32), fade_in)
        next_start = start + stride
