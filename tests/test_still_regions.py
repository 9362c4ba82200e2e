"""`deblur run --keep-still`: where a window's input stands still, the input is kept (still_regions.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import deblur_cli
from deblur_cli import cpu_share
import deblur_cli.restorers as restorers_module
from deblur_cli.cli import app
from deblur_cli.errors import UsageError
from deblur_cli.mix import Mix
from deblur_cli.still_regions import GROW, keep_still
from deblur_cli.stream import restore_stream
from deblur_cli.transfer import PQ, model_curve
from deblur_cli.windows import WindowOptions
from tests.media import read_frames, write_image
from tests.restorers import InvertingRestorer

runner = CliRunner()
WIDTH, HEIGHT, FRAMES = 96, 32, 6
# the kept and the restored halves meet at WIDTH / 2, in a band the box, the growth and the smoothing widen
STILL_UP_TO, MOVING_FROM = WIDTH // 2 - 2 - GROW - 12, WIDTH // 2 + 12


def half_still(frames: int = FRAMES) -> np.ndarray:
    """(T, H, W, 3) uint8: the left half the same picture in every frame, the right half new noise in each."""
    rng = np.random.default_rng(0)
    still = rng.integers(0, 256, (HEIGHT, WIDTH // 2, 3), dtype=np.uint8)
    moving = rng.integers(0, 256, (frames, HEIGHT, WIDTH // 2, 3), dtype=np.uint8)
    return np.concatenate([np.broadcast_to(still, moving.shape), moving], axis=2)


def frames_folder(folder, images) -> None:
    folder.mkdir(parents=True)
    for index, image in enumerate(images):
        write_image(folder / f"{index:03d}.png", image)


def as_tensors(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255


def restored(frames: torch.Tensor, windows: WindowOptions, **options) -> torch.Tensor:
    with torch.inference_mode():
        return torch.stack(list(restore_stream(frames, InvertingRestorer(), windows, (HEIGHT, WIDTH), **options)))


def test_the_still_half_comes_back_as_the_input_and_the_moving_half_as_restored():
    frames = as_tensors(half_still())
    out = restored(frames, WindowOptions(window=4, overlap=1, tile=None), mix=Mix(keep_still=True))
    assert torch.equal(out[..., :STILL_UP_TO], frames[..., :STILL_UP_TO])
    torch.testing.assert_close(out[..., MOVING_FROM:], 1 - frames[..., MOVING_FROM:], rtol=0, atol=1e-6)


def test_hdr_windows_keep_their_input_as_stored():
    """An HDR window is restored on the model's curve and mapped back; the input it keeps is the one stored."""
    frames, windows = as_tensors(half_still()), WindowOptions(window=4, overlap=1, tile=None)
    curve = model_curve(PQ)
    out = restored(frames, windows, curve=curve, mix=Mix(keep_still=True))
    assert torch.equal(out[..., :STILL_UP_TO], frames[..., :STILL_UP_TO])
    whole = restored(frames, windows, curve=curve)
    torch.testing.assert_close(out[..., MOVING_FROM:], whole[..., MOVING_FROM:], rtol=0, atol=1e-6)


def test_off_by_default_the_restoration_is_untouched():
    frames = as_tensors(half_still())
    out = restored(frames, WindowOptions(window=4, overlap=1, tile=None))
    assert torch.equal(out, 1 - frames)


def test_a_window_of_one_frame_is_left_as_restored():
    frames = as_tensors(half_still())
    out = restored(frames, WindowOptions(window=1, overlap=0, tile=None), mix=Mix(keep_still=True))
    assert torch.equal(out, 1 - frames)
    one = frames[None, :1]
    assert torch.equal(keep_still(one, 1 - one), 1 - one)


@pytest.mark.parametrize("change, weight", [(0.005, 0.0), (0.01, 0.0), (0.02, 0.5), (0.03, 1.0), (0.05, 1.0)])
def test_the_restoration_kept_rises_from_a_change_of_001_to_003_of_white(change, weight):
    """A uniform change of luma between two frames: below 0.01 of white (2.55 levels of 255) the input is kept,
    from 0.03 (7.65 levels) the restoration, in between a mix in proportion."""
    frames = torch.full((1, 2, 3, 24, 40), 0.4)
    frames[:, 1] += change
    out = keep_still(frames, torch.zeros_like(frames))
    torch.testing.assert_close(out, frames * (1 - weight), rtol=0, atol=1e-6)


def test_the_shared_filters_give_what_each_module_computed_on_its_own():
    """Found in review: still_regions built its own BT.601 luma and 1-D Gaussian, twins of scene_cuts' luma and
    SSIM's window; filters.py holds one of each, and each gives the values bit for bit that its users' own did."""
    from deblur_cli.filters import gaussian_window, luma

    frames = torch.rand(2, 4, 3, 9, 13, generator=torch.Generator().manual_seed(0))
    assert torch.equal(luma(frames), 0.299 * frames[:, :, 0] + 0.587 * frames[:, :, 1] + 0.114 * frames[:, :, 2])
    taps = torch.arange(-12, 13, dtype=torch.float32)  # still_regions: SMOOTH = 4 px, three of them a side
    smooth = torch.exp(-0.5 * (taps / 4.0) ** 2)
    assert torch.equal(gaussian_window(25, 4.0, dtype=torch.float32), smooth / smooth.sum())
    x = torch.arange(11, dtype=torch.float64) - 5  # SSIM: 11 taps, sigma 1.5
    window = torch.exp(-(x**2) / (2 * 1.5**2))
    assert torch.equal(gaussian_window(11, 1.5), window / window.sum())


def test_keep_still_refuses_windows_of_another_shape():
    with pytest.raises(ValueError, match=r"\(B, T, 3, H, W\)"):
        keep_still(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8))


def test_deblur_run_keep_still_keeps_the_still_half(tmp_path, monkeypatch):
    clip = half_still()
    frames_folder(tmp_path / "in", clip)
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: InvertingRestorer())
    args = ["run", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--tile", "0", "--json", "-q"]
    result = runner.invoke(app, [*args, "--keep-still"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["settings"]["keep_still"] is True
    written = np.stack([read_frames(path)[0] for path in sorted((tmp_path / "out").iterdir())])
    assert np.array_equal(written[..., :STILL_UP_TO, :], clip[..., :STILL_UP_TO, :])
    assert np.array_equal(written[..., MOVING_FROM:, :], 255 - clip[..., MOVING_FROM:, :])

    result = runner.invoke(app, [*args[:3], str(tmp_path / "whole"), *args[4:]])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["settings"]["keep_still"] is False
    written = np.stack([read_frames(path)[0] for path in sorted((tmp_path / "whole").iterdir())])
    assert np.array_equal(written, 255 - clip)


def test_load_keeps_still_regions_on_request(monkeypatch):
    monkeypatch.setattr(cpu_share, "others_busy", lambda since, now: None)  # load's busy-CPU warning: the machine's
    clip = half_still()
    windows = WindowOptions(window=4, overlap=1, tile=None)
    model = deblur_cli.Deblurrer("inverts", InvertingRestorer(), windows, Mix(keep_still=True))
    out = model.restore(clip)
    assert np.array_equal(out[..., :STILL_UP_TO, :], clip[..., :STILL_UP_TO, :])
    assert np.array_equal(out[..., MOVING_FROM:, :], 255 - clip[..., MOVING_FROM:, :])
    assert deblur_cli.load("dstnet-s", device="cpu", keep_still=True).keep_still is True
    with pytest.raises(UsageError, match="keep_still must be True or False, got 'yes'"):
        deblur_cli.load("dstnet-s", device="cpu", keep_still="yes")


def test_evaluate_keep_still_scores_it_under_a_label_of_its_own(tmp_path, monkeypatch):
    """As --strength: the scores of a partial restoration must not pass for the model's own."""
    clip = half_still(3)
    frames_folder(tmp_path / "d" / "a" / "blur", clip)
    frames_folder(tmp_path / "d" / "a" / "sharp", clip)
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: InvertingRestorer())
    scores = {}
    for name, extra in (("whole", []), ("kept", ["--keep-still"])):
        args = ["evaluate", str(tmp_path / "d"), "-m", "dstnet-s", "--tile", "0", "--json", str(tmp_path / name), "-q"]
        assert runner.invoke(app, [*args, *extra]).exit_code == 0
        scores[name] = json.loads((tmp_path / name).read_text())
    assert scores["whole"]["model"] == "dstnet-s" and scores["kept"]["model"] == "dstnet-s (keep-still)"
    assert scores["kept"]["settings"]["keep_still"] is True
    psnr = {name: score["mean_of_frames"]["output"]["psnr"] for name, score in scores.items()}
    assert psnr["kept"] > psnr["whole"] + 2  # the still half is the truth
