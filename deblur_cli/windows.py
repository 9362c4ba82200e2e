"""Temporal windows: split a frame stream into overlapping windows, restore each, blend them back.

A video of N frames is covered by windows of `window` frames that start `window - overlap` apart
and share exactly `overlap` frames. Where the last full window would leave a few frames over, the
stretch from its start to the end is split into two shorter windows of about equal length, so no
frame is restored more often than the overlap asks. Where windows overlap, each frame is a
weighted mean of the windows' outputs, the weights following raised-cosine ramps so that one
window fades into the next instead of cutting.

Where the restorer split windows at a scene cut (stream.py), a cut among the frames two windows share
hands over there instead: the frames before it come from the earlier window alone, those from it on
from the later one. Each window restored those frames as part of a shorter scene piece than the other
did (in the earlier window, the frames after the cut are a piece cut off by its end), and the picture
changes at a cut anyway, so nothing is faded.

The published DSTNet test ends otherwise (`last="shift"`): the last window is a full one that ends
on the last frame, reaching back over frames the windows before it restored, and those frames keep
the earlier windows' results; only the frames after them (and a normal overlap) come from it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import torch

from deblur_cli.errors import ModelError, UsageError


@dataclass(frozen=True)
class WindowOptions:
    """How a video is cut for the model: temporal windows and spatial tiles. UsageError for windows that
    check_window refuses."""

    window: int = 8  # frames restored together
    overlap: int = 2  # frames shared by consecutive windows, blended
    tile: int | str | None = "auto"  # spatial tile side in pixels; None = whole frame; "auto" = from free memory
    tile_overlap: int | None = None  # pixels shared by neighbouring tiles, feathered; None: tiles.DEFAULT_TILE_OVERLAP
    batch: int = 1  # most windows restored in one model call (models with restore_batch only)
    last: str = "split"  # the frames after the last full window: "split" in two windows, or "shift" one back
    scene_cuts: bool = True  # restore the frames on either side of a scene cut apart (see scene_cuts.py)

    def __post_init__(self) -> None:
        check_window(self.window, self.overlap, self.last)


LAST_WINDOWS = ("split", "shift")


def check_window(window: int, overlap: int, last: str = "split", *, overlap_hint: str | None = None) -> None:
    """UsageError unless window >= 1, 0 <= overlap < window and `last` is one of LAST_WINDOWS, worded for the
    command line (api.load words it in its arguments' terms). `overlap_hint`: the hint for an overlap not smaller
    than the window, where the caller knows more (the overlap was the model's, not given)."""
    if last not in LAST_WINDOWS:
        raise UsageError(f"--last-window must be {' or '.join(LAST_WINDOWS)}, got {last!r}")
    if window < 1:
        raise UsageError(f"--window {window} must be at least 1 frame", hint="use --window 1 or more")
    if overlap < 0:
        raise UsageError(f"--overlap {overlap} must be at least 0", hint="use --overlap 0 or more")
    if overlap >= window:
        most = window - 1
        hint = overlap_hint or f"use --overlap {most}{' or less' if most else ''}"
        raise UsageError(f"--overlap {overlap} must be smaller than --window {window}", hint=hint)


def _next_windows(start: int, available: int, window: int, overlap: int, last: str = "split") -> list[tuple[int, int]]:
    """The next one or two windows from `start`, given that the video holds frames up to
    `available` (exclusive) or at least `window + (window - overlap)` frames past `start`.

    While a full window and a further stride fit, that is one full window. Otherwise the rest
    [start, available) is the end: one window if it fits in one, else two windows that share
    exactly `overlap` frames, their lengths differing by at most one (the later one longer). With
    `last="shift"`, the end is instead a full window from `start` where more than one fits, then a
    full window ending on the last frame (a video shorter than a window is one window of its own length).
    """
    rest = available - start
    if rest >= 2 * window - overlap:
        return [(start, start + window)]
    if rest <= 0:
        return []
    if last == "shift":
        end = (max(0, available - window), available)
        return [(start, start + window), end] if rest > window else [end]
    if rest <= window:
        return [(start, available)]
    total = rest + overlap  # frames the two windows restore between them
    return [(start, start + total // 2), (available - (total + 1) // 2, available)]


def plan_windows(num_frames: int, window: int, overlap: int, last: str = "split") -> list[tuple[int, int]]:
    """The [start, stop) windows that cover `num_frames` frames, as `stitch_windows` uses them.

    Consecutive windows share exactly `overlap` frames. Every window holds `window` frames except
    the last two, which split what is left after the last full window that a further stride
    follows: they hold between (window + overlap) / 2 and `window` frames each. That is the fewest
    windows and the fewest restored frames that cover the video with windows of at most `window`
    frames overlapping by `overlap`. Fewer frames than `window` give one window of all frames; no
    frames give no windows. With `last="shift"`, the windows of DSTNet's published test instead:
    full ones at the same starts, the last a full one ending on the last frame (see _next_windows).
    """
    check_window(window, overlap, last)
    spans: list[tuple[int, int]] = []
    start = 0
    while not spans or spans[-1][1] < num_frames:
        new = _next_windows(start, num_frames, window, overlap, last)
        if not new:
            break
        spans += new
        start = new[-1][0] + window - overlap
    return spans


def restartable_at(frame: int, frames_read: int, window: int, overlap: int, batch: int = 1) -> bool:
    """Whether `stitch_windows` run again on the stream from frame `frame - overlap` on gives, from
    `frame` on, the frames it gives on the whole stream: what a resumed run relies on. Decided from
    the first `frames_read` frames of the stream.

    True where `frame - overlap` starts a full window, every `batch`-th (so that the calls group the
    same windows): the window before it ends at `frame`, and the windows from it on depend only on the
    frames left, since `plan_windows` plans the end of a stream from what remains of it. The windows
    after the first start one stride apart, and one starts at k strides exactly when the stream holds
    k strides plus a window's frames.
    """
    check_window(window, overlap)
    start, stride = frame - overlap, window - overlap
    return start > 0 and start % (stride * batch) == 0 and frames_read >= start + window


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
    cuts: Sequence[int] = ()  # where the restorer split it into scenes: each later scene's first frame

    @property
    def stop(self) -> int:
        return self.start + len(self.frames)

    def from_frame(self, index: int) -> _Restored:
        """The window from frame `index` on, those frames copied, so that what held the earlier ones can go."""
        k = index - self.start
        return _Restored(index, self.frames[k:].clone(), self.fade_in[k:], self.cuts)


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
            if weight == 0.0 and k < len(self.sums):  # handed over to another window (or hidden by it)
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
            if w or total is None:
                total = (frame if w == 1.0 else frame * w) if total is None else torch.add(total, frame, alpha=w)
            weight += w
        # Most frames come from one window at weight 1: they pass through untouched.
        return total if weight == 1.0 else total / weight


def stitch_windows(
    frames: Iterable[torch.Tensor],
    restore: Callable[[torch.Tensor, list[int]], torch.Tensor | tuple[torch.Tensor, Sequence[Sequence[int]]]],
    *,
    window: int,
    overlap: int,
    batch: int = 1,
    last: str = "split",
    on_cut: Callable[[int], None] | None = None,
) -> Iterator[torch.Tensor]:
    """Restore a stream of frames window by window and yield the blended frames in order.

    frames: (3, H, W) tensors of one size, read lazily; their number need not be known. Float, or
    uint8 or uint16 that `restore` converts itself (levels.as_float).
    restore(windows, starts): (B, T, 3, H, W) -> same shape; called with the windows of `plan_windows`, in
    order, up to `batch` consecutive windows of equal length stacked in one call, and the index in the
    stream of each one's first frame. Windows hold `window`
    frames, except the last two and a video shorter than one window. A `restore` that restores a
    window scene by scene returns, with the windows, where it split each: for each window, the
    indices in it of the first frame of each of its later scenes. Where two windows share a frame that
    one of them says begins a scene, they hand over there rather than fade (see the module's
    docstring); on_cut(t), if given, hears of each such scene start once, t its index in the stream.
    Yields every frame once, (3, H, W) in the input frames' dtype (float32 for integer frames) on the
    restorer's output device, as soon as no later window can touch it. Blending runs in float32; each
    frame is the mean of the windows' outputs by non-negative weights, divided by their sum, so an
    identity restorer gives back the input (to float32 rounding). With `last="shift"`, the last window's
    weight is 0 on the frames it repeats beyond a normal overlap: they keep the earlier windows' results.

    Memory: fewer than `window + batch * (window - overlap)` input frames are held (the windows of
    one call, and a stride beyond the last to see whether the video ends there); besides those,
    one call's restored windows and the blend sums of the frames the last shares with the next.
    """
    check_window(window, overlap, last)  # here, not on the first next()
    if batch < 1:
        raise UsageError(f"windows per call must be at least 1, got {batch}", hint="use --batch 1 or more")
    return _stitch(_Planner(iter(frames), window, overlap, last), restore, batch, on_cut)


class _Planner:
    """Reads the stream lazily and hands out the windows of `plan_windows` with their frames."""

    def __init__(self, source: Iterator[torch.Tensor], window: int, overlap: int, last: str = "split"):
        self.source = source
        self.window, self.stride = window, window - overlap
        self.overlap = overlap
        self.last = last
        self.inputs: deque[torch.Tensor] = deque()  # frames from self.first on
        self.first = 0
        self.pulled = 0  # frames read so far
        self.exhausted = False
        self.planned: deque[tuple[int, int]] = deque()  # windows decided, not handed out yet
        self.next_start = 0  # where the next full window would start
        self.covered = 0  # stop of the last window handed out
        self.dtype: torch.dtype | None = None

    def settled(self) -> int:
        """Frames before this index are in no window still to come: every window that holds them is handed out."""
        upcoming = self.planned[0][0] if self.planned else self.next_start
        return min(upcoming, self.covered)

    def peek(self) -> tuple[int, int] | None:
        """The next window (start, stop), reading as far as deciding it needs; None at the end."""
        if not self.planned and not (self.exhausted and self.covered >= self.pulled):
            # `_next_windows` needs to see a window and a stride past it to tell a full window from
            # the end of the video.
            while not self.exhausted and self.pulled < self.next_start + self.window + self.stride:
                frame = next(self.source, None)
                if frame is None:
                    self.exhausted = True
                    break
                if self.dtype is None:  # of the frames yielded: integer frames come back as float32
                    self.dtype = frame.dtype if frame.is_floating_point() else torch.float32
                self.inputs.append(frame)
                self.pulled += 1
            if self.covered < self.pulled:  # else the last window handed out turned out to be the last
                self.planned.extend(_next_windows(self.next_start, self.pulled, self.window, self.overlap, self.last))
        return self.planned[0] if self.planned else None

    def take(self) -> list[torch.Tensor]:
        """The frames of the window `peek` returned; frames no later window needs are let go."""
        start, stop = self.planned.popleft()
        frames = list(self.inputs)[start - self.first : stop - self.first]
        self.next_start, self.covered = start + self.stride, stop
        while self.first < self.settled() and self.inputs:
            self.inputs.popleft()
            self.first += 1
        return frames

    def take_equal(self, most: int) -> tuple[list[tuple[int, int]], list[torch.Tensor]]:
        """Up to `most` next windows of one length, (start, stop) each, and all their frames in
        order; nothing at the end of the video."""
        spans: list[tuple[int, int]] = []
        frames: list[torch.Tensor] = []
        while len(spans) < most:
            span = self.peek()
            if span is None or (spans and span[1] - span[0] != spans[0][1] - spans[0][0]):
                break
            spans.append(span)
            frames += self.take()
        return spans, frames


def _stacked(frames: list[torch.Tensor], shape: tuple[int, ...]) -> torch.Tensor:
    """The frames stacked into `shape` (B, T, ...); the list is emptied, so the caller keeps no frame."""
    stacked = torch.stack(frames).view(shape)
    frames.clear()
    return stacked


def _stitch(
    planner: _Planner,
    restore: Callable[[torch.Tensor, list[int]], torch.Tensor | tuple[torch.Tensor, Sequence[Sequence[int]]]],
    batch: int,
    on_cut: Callable[[int], None] | None,
) -> Iterator[torch.Tensor]:
    blend = _Blend()
    open_window: _Restored | None = None
    blended = 0  # end of the windows already added to `blend`
    told: set[int] = set()  # the scene starts on_cut heard of (windows overlap: one may be in two)

    def close_open_window(next_start: int | None, next_cuts: Sequence[int] = ()) -> int | None:
        # Its fade-out is known once the next window's start is (None: it was the last), and so is the
        # cut it hands over at, from where the two were split (both hold all the frames they share):
        # returned, for the next window's fade-in.
        nonlocal open_window, blended
        if open_window is None:
            return None
        # Consecutive windows share `overlap` frames; a last window shifted back shares more, and the
        # earlier window keeps all but the last `overlap` of them.
        fade_out = min(open_window.stop - next_start, planner.overlap) if next_start is not None else 0
        weights = blend_weights(len(open_window.frames), 0, fade_out).tolist()
        shared = range(open_window.stop - fade_out, open_window.stop)
        handover = _handover(shared, [*open_window.cuts, *next_cuts]) if fade_out else None
        if handover is not None:
            weights[len(weights) - fade_out :] = [float(t < handover) for t in shared]
        blend.add(open_window.start, open_window.frames, [a * b for a, b in zip(open_window.fade_in, weights)])
        blended = open_window.stop
        open_window = None
        return handover

    def emit_before(index: int) -> Iterator[torch.Tensor]:
        # Frames before `index` are final: every window still to come starts at or after it.
        while blend.first < index:
            yield blend.pop(open_window).to(planner.dtype)

    while True:
        yield from emit_before(planner.settled())  # before reading further
        spans, frames = planner.take_equal(batch)
        if not spans:
            close_open_window(None)
            yield from emit_before(planner.pulled)
            return

        length = spans[0][1] - spans[0][0]
        shape = (len(spans), length, *frames[0].shape)
        # The open window is closed after the call, whose cuts may hand over in the frames it shares with
        # the next; all but those frames are out by now, so it keeps a copy of them, not the last call's output.
        yield from emit_before(spans[0][0])
        if open_window is not None:
            open_window = open_window.from_frame(spans[0][0])
        restored = frames_out = None
        # The stack is referenced by `restore` alone, which may let it go once converted (stream.py
        # turns 8-bit windows into float ones: the 8-bit copy need not last through the model). Python 3.10
        # keeps a call's arguments in the caller's frame until it returns, so there the copy lasts.
        restored = restore(_stacked(frames, shape), [start for start, _ in spans])
        restored, split = restored if isinstance(restored, tuple) else (restored, [()] * len(spans))
        scenes = [[start + t for t in at] for (start, _), at in zip(spans, split)]
        for t in (t for at in scenes for t in at if t not in told):
            told.add(t)
            if on_cut is not None:
                on_cut(t)
        if restored.shape != shape:
            raise ModelError(
                f"the model returned shape {tuple(restored.shape)} for windows of shape {shape}",
                hint="a restorer must return frames of the shape it was given",
            )
        for (start, stop), frames_out, cuts in zip(spans, restored, scenes):
            handover = close_open_window(start, cuts)
            yield from emit_before(start)
            covered = blended - start  # frames of this window that earlier windows restored
            hidden = max(0, covered - planner.overlap)  # beyond an overlap (last="shift"): theirs alone
            fade_in = [0.0] * hidden + blend_weights(stop - start - hidden, covered - hidden, 0).tolist()
            if handover is not None:
                fade_in[hidden:covered] = [float(t >= handover) for t in range(start + hidden, start + covered)]
            open_window = _Restored(start, frames_out.to(torch.float32), fade_in, cuts)


def _handover(shared: range, cuts: Sequence[int]) -> int | None:
    """The scene cut two windows that share the frames `shared` hand over at, of the cuts they were
    split at: the first among those frames or just after them (which leaves them all to the earlier
    window). None where there is none: they fade."""
    return min((cut for cut in cuts if shared.start <= cut <= shared.stop), default=None)
