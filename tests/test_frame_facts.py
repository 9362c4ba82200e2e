"""Each frame's facts, told once: held (the frame before it again) and grey (no colour)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deblur_cli.frame_facts import FrameFacts, image_facts, is_grey_image
from deblur_cli.stream import frame_facts


def _images(dtype) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    peak = np.iinfo(dtype).max
    grey = np.repeat(rng.integers(0, peak, (48, 64, 1), dtype=dtype, endpoint=True), 3, axis=2)
    colour = rng.integers(0, peak, (48, 64, 3), dtype=dtype, endpoint=True)
    tinted = grey.copy()
    tinted[37, 5, 2] ^= 1  # one sample of one channel, in a row the first look skips
    return {"grey": grey, "colour": colour, "tinted": tinted}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_image_facts_tell_held_and_grey(dtype):
    images = _images(dtype)
    grey, colour, tinted = images["grey"], images["colour"], images["tinted"]
    assert image_facts(grey, None) == FrameFacts(held=False, grey=True)  # a stream's first frame is never held
    assert image_facts(grey.copy(), grey) == FrameFacts(held=True, grey=True)
    assert image_facts(colour, colour.copy()) == FrameFacts(held=True, grey=False)
    assert image_facts(tinted, grey) == FrameFacts(held=False, grey=False)
    assert image_facts(colour[:40], colour) == FrameFacts(held=False, grey=False)  # another size
    assert is_grey_image(grey[:0]) and is_grey_image(grey[:1]) and not is_grey_image(colour[:1])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_the_same_facts_are_told_of_a_tensor_on_its_device(dtype):
    """stream.frame_facts, for the frames restore_stream is given without facts, tells what image_facts tells
    `deblur run` of the same pictures."""
    images = list(_images(dtype).values())
    tensors = [torch.from_numpy(image.astype(np.int32)).permute(2, 0, 1).contiguous() for image in images]
    for before in [None, 0, 1, 2]:
        for now in range(3):
            told = image_facts(images[now], None if before is None else images[before])
            assert frame_facts(tensors[now], None if before is None else tensors[before]) == told
            assert told.held == (before == now)
