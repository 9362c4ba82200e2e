"""`deblur run` queues its restored frames for the encoder in the file's levels (levels.to_levels): uint8 for an
8-bit output, a quarter of float32's bytes (at 3840x2160, 24.9 MB a frame against 99.5 MB)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deblur_cli.pipeline as pipeline
from deblur_cli.levels import as_float, to_image, to_levels
from deblur_cli.mix import Mix
from deblur_cli.pipeline import deblur_video
from deblur_cli.video_io import EncodeOptions
from deblur_cli.windows import WindowOptions
from tests import media
from tests.restorers import IdentityRestorer

FFV1 = EncodeOptions(codec="ffv1")  # lossless: what is read back is what was written


@pytest.mark.parametrize("strength", [0.0, 0.5, 1.0])
def test_the_encoders_queue_holds_uint8_frames(tmp_path, monkeypatch, strength):
    source = media.make_video(tmp_path / "in.mkv", frames=5, codec="ffv1", pix_fmt="bgr0")
    queued: list[torch.dtype] = []
    put = pipeline.put_unless_stopped

    def spied(q, item, stop):
        if isinstance(item, tuple):  # a frame, not a segment's end nor the last item
            queued.append(item[0].dtype)
        return put(q, item, stop)

    monkeypatch.setattr(pipeline, "put_unless_stopped", spied)
    windows = WindowOptions(window=3, overlap=1, tile=None)
    deblur_video(source, tmp_path / "out.mkv", IdentityRestorer(), windows=windows, encode=FFV1, mix=Mix(strength))
    assert queued == [torch.uint8] * 5
    assert all(np.array_equal(a, b) for a, b in zip(media.read_frames(source), media.read_frames(tmp_path / "out.mkv")))


@pytest.mark.parametrize("dtype, bit_depth", [(torch.uint8, 8), (torch.uint16, 16)])
def test_every_level_is_written_as_its_float_would_be(dtype, bit_depth):
    # --strength 0 writes the decoded frame as it is, where it wrote the frame as float, rounded: the same bytes
    peak = 255 if bit_depth == 8 else 65535
    levels = torch.arange(peak + 1, dtype=torch.int32).to(dtype).reshape(1, 1, -1).expand(3, 1, -1)
    assert to_levels(levels, bit_depth) is levels
    assert np.array_equal(to_image(levels, bit_depth), to_image(as_float(levels), bit_depth))
    assert np.array_equal(to_image(levels, bit_depth)[0, :, 0], np.arange(peak + 1))
