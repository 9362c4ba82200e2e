"""The sampler's noise, drawn frame by frame from the seed and each frame's index in the video."""

from __future__ import annotations

import pytest
import torch

from deblur_cli.diffusion.noise import frame_noise

CPU = torch.device("cpu")


def like(windows: int, frames: int, dtype=torch.float32) -> torch.Tensor:
    return torch.empty(windows, frames, 3, 4, 5, dtype=dtype)


def test_a_frame_draws_the_same_noise_in_every_window_that_holds_it():
    """Windows of 5 frames at frames 0 and 3 share frames 3 and 4, draw after draw (the start, then each step)."""
    together = frame_noise(7, [0, 3], 0, CPU)
    alone = frame_noise(7, [3], 0, CPU)
    for _ in range(3):
        both, second = together(like(2, 5)), alone(like(1, 5))
        torch.testing.assert_close(both[0, 3:], both[1, :2], rtol=0, atol=0)
        torch.testing.assert_close(both[1], second[0], rtol=0, atol=0)


def test_each_draw_frame_seed_and_sample_gives_other_noise():
    draw = frame_noise(7, [0], 0, CPU)
    first, second = draw(like(1, 2)), draw(like(1, 2))
    others = [frame_noise(8, [0], 0, CPU)(like(1, 2)), frame_noise(7, [0], 1, CPU)(like(1, 2))]
    for noise in [second, *others]:
        assert not torch.equal(noise, first)
    assert not torch.equal(first[0, 0], first[0, 1])  # frame 0's noise is not frame 1's
    assert abs(float(torch.cat([first, second]).std()) - 1) < 0.3


def test_the_same_seed_gives_the_same_noise_in_the_dtype_asked():
    a = frame_noise(2**64 - 1, [5], 0, CPU)(like(1, 3, torch.float64))
    b = frame_noise(2**64 - 1, [5], 0, CPU)(like(1, 3, torch.float64))
    assert a.dtype == torch.float64 and torch.equal(a, b)


def test_unseeded_noise_has_the_shape_asked_and_differs_each_time():
    draw = frame_noise(None, [0, 4], 0, CPU)
    first = draw(like(2, 3))
    assert first.shape == (2, 3, 3, 4, 5) and not torch.equal(first, draw(like(2, 3)))


def test_noise_for_other_windows_than_it_was_made_for_is_refused():
    with pytest.raises(ValueError, match="noise for 2 windows, asked for 1"):
        frame_noise(0, [0, 4], 0, CPU)(like(1, 3))
