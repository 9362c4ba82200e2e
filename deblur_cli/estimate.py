"""How long a model takes to restore a video here, before the run: one window restored on a strip of the frames'
full width, timed, and scaled to the whole frame and to every frame. The model's work, not decoding or encoding."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch

from deblur_cli.devices import synchronize
from deblur_cli.restorer import Restorer, completed
from deblur_cli.tiles import round_up
from deblur_cli.windows import plan_windows

PROBE_PIXELS = 256 * 1024  # a frame up to this size is timed whole; a larger one on a strip of about this size


@dataclass(frozen=True)
class Estimate:
    """Seconds a window takes on a frame size, and what was timed to tell it."""

    seconds_per_window: float
    probe: tuple[int, int]  # (height, width) of the frames timed: the whole frame, or a strip of its full width
    window: int  # frames in the window timed
    new_frames: int  # of them, those each window adds to the output (the window less its overlap)
    scale: float = 1.0  # the work of a real call over the timed call's (a diffusion model timed at fewer steps)
    strip: bool = False  # `probe` is a strip of the frame, not the whole padded frame

    @property
    def seconds_per_frame(self) -> float:
        """Of a long video: a window's time shared by the frames it adds."""
        return self.seconds_per_window / self.new_frames

    def seconds(self, frames: int, last: str = "split") -> float:
        """For a video of `frames` frames: the frames its windows restore (windows.plan_windows, the frames two
        windows share counted twice, a short video's last windows shorter than the one timed) at the timed
        window's time a frame: a window's time taken as proportional to its frames (DSTNet goes through them
        one by one)."""
        spans = plan_windows(frames, self.window, self.window - self.new_frames, last)
        return self.seconds_per_window * sum(stop - start for start, stop in spans) / self.window


def probe_size(size: tuple[int, int], multiple: int) -> tuple[int, int]:
    """The (height, width) timed for frames of `size` (height, width), both padded to `multiple` as the pipeline
    pads them: the whole frame up to PROBE_PIXELS, else a strip of its full width, as many rows (a multiple of
    `multiple`) as make about PROBE_PIXELS. A strip keeps the full width: the rows of a convolution cost alike."""
    height, width = (round_up(side, multiple) for side in size)
    if height * width <= PROBE_PIXELS:
        return height, width
    rows = max(multiple, round(PROBE_PIXELS / width / multiple) * multiple)
    return min(rows, height), width


def timed_window(window: int, overlap: int, frames: int | None, max_frames: int | None) -> tuple[int, int]:
    """The frames of the window `estimate` times for a video of `frames` frames (None: not known), and how many
    of them each window adds to the output: `window` frames (fewer where the video has fewer, or the model
    takes fewer), adding `window - overlap`, or all of them where one window holds the whole video."""
    window = min(window, max_frames or window, frames or window)
    return window, window if frames is not None and frames <= window else max(1, window - overlap)


def estimate(
    restorer: Restorer,
    size: tuple[int, int],
    window: int,
    overlap: int,
    *,
    frames: int | None = None,
    scale: float = 1.0,
    clock: Callable[[], float] = time.perf_counter,
) -> Estimate:
    """Time `restorer` on one window of `window` frames (fewer where the video has fewer `frames`, or the
    model takes fewer) of a strip of frames of `size` (height, width) (probe_size), after one untimed call on
    the same window that pays what a first call pays (kernels chosen for its shapes, memory taken). The
    Estimate holds a window's time: the timed call's, scaled by the padded frame's area over the strip's and
    by `scale`, the work of a real call over the timed call's (a diffusion model built with fewer sampler
    steps than the run's); Estimate.seconds counts a video's windows. The strip is seeded noise: the models'
    work does not depend on what the frames show. Whole frames: where `deblur run` would restore in tiles (a
    frame too large for the memory), their overlap adds time that this does not count."""
    restorer = completed(restorer)
    window, new_frames = timed_window(window, overlap, frames, restorer.max_frames)
    probe = probe_size(size, restorer.multiple)
    noise = torch.rand((window, 3, *probe), generator=torch.Generator().manual_seed(0))
    noise = noise.to(restorer.device)
    first = (0,) if restorer.positional else ()
    with torch.inference_mode():
        restorer(noise, *first)
        synchronize(restorer.device)
        started = clock()
        restorer(noise, *first)
        synchronize(restorer.device)
        seconds = clock() - started
    height, width = (round_up(side, restorer.multiple) for side in size)
    whole = seconds * scale * (height * width) / (probe[0] * probe[1])
    return Estimate(whole, probe, window, new_frames, scale, strip=probe[0] < height)
