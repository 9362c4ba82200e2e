"""What restoring needs to know of each frame besides its values, told once per frame: whether it is held (the
frame before it again) and whether it is grey (without colour). `deblur run` tells them of each decoded image on
the host, as it decodes (`image_facts`), for stream.restore_stream and for where its segments end; restore_stream
tells them itself of the frames its other callers give it (`stream.frame_facts`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameFacts:
    """Of one frame of a stream."""

    held: bool  # equal to the frame before it, in size and in every value (the stream's first frame never is)
    grey: bool  # its three channels are equal


def image_facts(image: np.ndarray, before: np.ndarray | None) -> FrameFacts:
    """The facts of an (H, W, 3) image, `before` the image before it in the stream (None for the first)."""
    held = before is not None and image.shape == before.shape and np.array_equal(image, before)
    return FrameFacts(held=held, grey=is_grey_image(image))


def is_grey_image(image: np.ndarray) -> bool:
    """Whether an (H, W, 3) RGB array has three equal channels. A row every sixteenth of its height is compared
    first: most colour frames show their colour there, for a small part of the cost of comparing every row."""
    return _equal_channels(image[:: max(1, len(image) // 16)]) and _equal_channels(image)


def _equal_channels(image: np.ndarray) -> bool:
    return bool((image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all())
