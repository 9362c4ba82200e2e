"""The sampler's noise for windows of a video, drawn frame by frame from the seed and the frame's index."""

from __future__ import annotations

import hashlib
from typing import Callable, Sequence

import torch
from torch import Tensor

Draw = Callable[[Tensor], Tensor]
"""draw(like): standard normal noise shaped like `like` (B, F, C, H, W), a fresh draw at each call."""


def frame_noise(seed: int | None, first_frames: Sequence[int], sample: int, device: torch.device) -> Draw:
    """The draws of sample `sample` (0, 1, ... for SA-K) of B windows whose first frames are, in the
    video, frames `first_frames` (one index per window).

    Frame n of the video draws from a generator of its own, on `device`, seeded by (seed, n, sample):
    its starting noise first, then, where eta > 0, one draw per DDIM step but the last. A frame thus gets
    the same noise in every window that holds it, whichever windows share a call (`--batch`), however
    the frame is tiled, and wherever a continued run restarts. seed None: unseeded, torch's own draws.
    """
    if seed is None:
        return lambda like: torch.randn(like.shape, dtype=like.dtype, device=like.device)
    generators: list[torch.Generator] = []  # window by window, frame by frame: made at the first draw

    def draw(like: Tensor) -> Tensor:
        batch, frames = like.shape[:2]
        if batch != len(first_frames):
            raise ValueError(f"noise for {len(first_frames)} windows, asked for {batch}")
        if not generators:
            for first in first_frames:
                generators.extend(
                    torch.Generator(device).manual_seed(_mixed(seed, first + f, sample)) for f in range(frames)
                )
        noise = torch.empty(like.shape, dtype=like.dtype, device=device)  # drawn in place: no second copy
        for generator, frame in zip(generators, noise.view(-1, *like.shape[2:])):
            frame.normal_(generator=generator)  # what torch.randn draws
        return noise.to(like.device)

    return draw


def _mixed(seed: int, frame: int, sample: int) -> int:
    """A 63-bit generator seed for (seed, frame, sample): nearby triples give unrelated seeds."""
    digest = hashlib.blake2b(f"{seed},{frame},{sample}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
