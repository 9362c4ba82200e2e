"""`deblur run --strength S`: each written frame is input + S × (restored − input)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import deblur_cli
from deblur_cli import Deblurrer, cpu_share
from deblur_cli.cli import app
import deblur_cli.restorers as restorers_module
from deblur_cli.errors import UsageError
from deblur_cli.levels import as_float
from deblur_cli.mix import Mix
from deblur_cli.pipeline import deblur_video
from deblur_cli.video_io import EncodeOptions
from deblur_cli.windows import WindowOptions
from tests import media
from tests.restorers import IdentityRestorer, InvertingRestorer

FFV1 = EncodeOptions(codec="ffv1")  # lossless: what is read back is what was written


@pytest.mark.parametrize("strength", [0.0, 0.25, 0.5, 1.0])
def test_the_output_mixes_input_and_restoration(tmp_path, strength):
    source = media.make_video(tmp_path / "in.mkv", frames=7, codec="ffv1", pix_fmt="bgr0")
    inputs = np.stack(media.read_frames(source)).astype(np.float64)
    target = tmp_path / "out.mkv"
    windows = WindowOptions(window=3, overlap=1, tile=None)
    deblur_video(source, target, InvertingRestorer(), windows=windows, encode=FFV1, mix=Mix(strength))
    written = np.stack(media.read_frames(target)).astype(np.float64)
    expected = inputs + strength * ((255 - inputs) - inputs)
    assert np.abs(written - expected).max() <= 0.5 + 1e-6  # rounded to 8 bits once


def test_strength_zero_writes_the_input_without_running_the_model(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=7, codec="ffv1", pix_fmt="bgr0")
    restorer = IdentityRestorer()
    windows = WindowOptions(window=3, overlap=1, tile=None)
    deblur_video(source, tmp_path / "out.mkv", restorer, windows=windows, encode=FFV1, mix=Mix(0.0))
    assert restorer.calls == []
    assert all(np.array_equal(a, b) for a, b in zip(media.read_frames(source), media.read_frames(tmp_path / "out.mkv")))
    assert len(media.read_frames(tmp_path / "out.mkv")) == 7


def test_strength_with_side_by_side_mixes_the_right_half_only(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=3, size=(32, 16), codec="ffv1", pix_fmt="bgr0")
    inputs = np.stack(media.read_frames(source)).astype(np.float64)
    target = tmp_path / "out.mkv"
    windows = WindowOptions(window=3, overlap=1, tile=None)
    deblur_video(source, target, InvertingRestorer(), windows=windows, encode=FFV1, mix=Mix(0.25), side_by_side=True)
    written = np.stack(media.read_frames(target)).astype(np.float64)
    assert np.abs(written[:, :, :32] - inputs).max() <= 0.5
    assert np.abs(written[:, :, -32:] - (inputs + 0.25 * (255 - 2 * inputs))).max() <= 0.5 + 1e-6


def test_a_strength_out_of_range_is_refused(tmp_path, monkeypatch):
    source = media.make_video(tmp_path / "in.mkv", frames=3)
    with pytest.raises(UsageError, match="between 0 and 1"):
        deblur_video(source, tmp_path / "out.mkv", IdentityRestorer(), mix=Mix(strength=1.5))
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "o.mkv"), "--strength", "1.2"])
    assert result.exit_code == 2 and not (tmp_path / "o.mkv").exists()


@pytest.mark.parametrize(
    "command, option, value, scale",
    [
        ("run", "--strength", "nan", "from 0 to 1"),
        ("run", "--strength", "inf", "from 0 to 1"),
        ("run", "--strength", "1.2", "from 0 to 1"),
        ("run", "--eta", "nan", "from 0 to 1"),
        ("train", "--ema", "nan", "from 0 to 1"),
        ("train", "--lr", "inf", "of 0 or more"),
        ("train", "--lr", "-1e-4", "of 0 or more"),
    ],
)
def test_a_float_option_refuses_nan_and_infinity_by_its_range(command, option, value, scale):
    """Click's range let nan through its comparisons and blamed a bound ("less than or equal to 1")."""
    result = CliRunner().invoke(
        app, [command, "in.mp4", option, value] if command == "run" else [command, option, value]
    )
    assert result.exit_code == 2
    assert f"invalid value for '{option}': {value} is not a number {scale}" in result.output


def test_load_mixes_each_frame_at_its_strength_as_deblur_run_does(monkeypatch):
    monkeypatch.setattr(cpu_share, "others_busy", lambda since, now: None)  # load's busy-CPU warning: the machine's
    clip = np.random.default_rng(0).integers(0, 256, (5, 24, 32, 3), dtype=np.uint8)
    windows = WindowOptions(window=3, overlap=1, tile=None)
    half = Deblurrer("inverts", InvertingRestorer(), windows, Mix(0.5)).restore(clip).astype(np.float64)
    assert np.abs(half - (clip + 0.5 * (255 - 2.0 * clip))).max() <= 0.5 + 1e-6  # rounded to 8 bits once
    restorer = IdentityRestorer()
    assert np.array_equal(Deblurrer("same", restorer, windows, Mix(0)).restore(clip), clip)
    as_torch = torch.from_numpy(clip).permute(0, 3, 1, 2)  # uint8 in, float in [0, 1] out, as at any strength
    assert torch.equal(Deblurrer("same", restorer, windows, Mix(0)).restore(as_torch), as_float(as_torch))
    assert restorer.calls == []  # at 0 the model does not run
    assert deblur_cli.load("dstnet-s", device="cpu", strength=0.25).strength == 0.25


@pytest.mark.parametrize(
    "strength, message",
    [
        (1.5, "strength must be from 0 to 1, got 1.5"),
        (float("nan"), "got nan"),
        (True, "a number from 0 to 1, got True"),
    ],
)
def test_load_refuses_a_strength_deblur_run_refuses(strength, message):
    with pytest.raises(UsageError, match=message):
        deblur_cli.load("dstnet-s", device="cpu", strength=strength)
