"""`deblur run --keep-detail`: where the restoration holds less fine detail than its input, the input's texture is
kept, unless that detail is noise (kept_detail.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

import deblur_cli
from deblur_cli import cpu_share
import deblur_cli.restorers as restorers_module
from deblur_cli.cli import app
from deblur_cli.errors import UsageError
from deblur_cli.kept_detail import keep_detail
from deblur_cli.mix import Mix
from deblur_cli.pipeline import output_settings
from deblur_cli.side_by_side import restored_labels
from deblur_cli.stream import restore_stream
from deblur_cli.video_io.work_folder import as_written_now, comparable, key_changes, normalized
from deblur_cli.windows import WindowOptions
from tests import media
from tests.media import read_frames, write_image
from tests.restorers import IdentityRestorer, InvertingRestorer, MixingRestorer

runner = CliRunner()
WIDTH, HEIGHT, FRAMES = 96, 48, 3
TEXTURED_FROM = WIDTH // 2 + 14  # the textured right half, past where the Gaussian reaches the flat half's energy


def smoothed(frames: torch.Tensor) -> torch.Tensor:
    """Each frame averaged over 3x3 boxes: what a model that takes texture for noise does to it."""
    flat = frames.reshape(-1, *frames.shape[-3:])
    return F.avg_pool2d(flat, 3, stride=1, padding=1, count_include_pad=False).reshape(frames.shape)


def half_textured(frames: int = FRAMES) -> np.ndarray:
    """(T, H, W, 3) uint8: the left half flat grey, the right half fine texture (pixel noise), the same in each
    frame."""
    rng = np.random.default_rng(0)
    image = np.full((HEIGHT, WIDTH, 3), 128, dtype=np.uint8)
    image[:, WIDTH // 2 :] = rng.integers(40, 216, (HEIGHT, WIDTH // 2, 3), dtype=np.uint8)
    return np.stack([image] * frames)


def as_tensors(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255


class SmoothingRestorer(IdentityRestorer):
    """Returns its input averaged over 3x3 boxes."""

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        return smoothed(super().__call__(frames))


def test_texture_the_restoration_smooths_away_comes_back_as_the_input():
    frames = as_tensors(half_textured())
    restored = smoothed(frames)
    assert (restored - frames)[..., TEXTURED_FROM:].abs().max() > 0.3
    out = keep_detail(frames, restored)
    assert (out - frames)[..., TEXTURED_FROM:].abs().max() < 0.01


def test_detail_the_restoration_adds_is_kept_whole():
    """A blurred input and a restoration sharper than it: deblurring, as the model should, left as restored."""
    sharp = as_tensors(half_textured())
    frames = smoothed(sharp)
    assert torch.equal(keep_detail(frames, sharp), sharp)


def test_noise_the_restoration_removes_stays_removed():
    """Fine structure all over the frame, as sensor noise lies, is taken for noise: the denoised frame is kept."""
    noise = torch.randn(FRAMES, 1, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(0))
    frames = (0.5 + 0.03 * noise).expand(FRAMES, 3, HEIGHT, WIDTH).clamp(0, 1)
    clean = torch.full_like(frames, 0.5)
    assert torch.equal(keep_detail(frames, clean), clean)


def test_keep_detail_refuses_frames_of_another_shape():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\)"):
        keep_detail(torch.zeros(2, 4, 8, 8), torch.zeros(2, 4, 8, 8))
    with pytest.raises(ValueError):
        keep_detail(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 9))


def test_restore_stream_keeps_detail_on_request_and_only_then():
    frames = as_tensors(half_textured())
    windows = WindowOptions(window=2, overlap=1, tile=None)

    def restored(**options) -> torch.Tensor:
        with torch.inference_mode():
            stream = restore_stream(frames, SmoothingRestorer(), windows, (HEIGHT, WIDTH), **options)
            return torch.stack(list(stream))

    whole, kept = restored(), restored(mix=Mix(keep_detail=True))
    assert (whole - frames)[..., TEXTURED_FROM:].abs().max() > 0.3
    assert (kept - frames)[..., TEXTURED_FROM:].abs().max() < 0.01
    # with --keep-still as well: these frames stand still, so the input is kept everywhere
    assert torch.equal(restored(mix=Mix(keep_still=True, keep_detail=True)), frames)


def test_deblur_run_keep_detail_keeps_the_texture_and_says_so(tmp_path, monkeypatch):
    clip = half_textured()
    (tmp_path / "in").mkdir()
    for index, image in enumerate(clip):
        write_image(tmp_path / "in" / f"{index:03d}.png", image)
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: SmoothingRestorer())
    args = ["run", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--tile", "0", "--json", "-q"]
    result = runner.invoke(app, [*args, "--keep-detail"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["settings"]["keep_detail"] is True
    written = np.stack([read_frames(path)[0] for path in sorted((tmp_path / "out").iterdir())]).astype(int)
    assert np.abs(written - clip)[..., TEXTURED_FROM:, :].max() <= 2

    result = runner.invoke(app, [*args[:3], str(tmp_path / "whole"), *args[4:]])
    assert json.loads(result.stdout)["settings"]["keep_detail"] is False
    written = np.stack([read_frames(path)[0] for path in sorted((tmp_path / "whole").iterdir())]).astype(int)
    assert np.abs(written - clip)[..., TEXTURED_FROM:, :].max() > 60


def test_load_keeps_detail_on_request(monkeypatch):
    monkeypatch.setattr(cpu_share, "others_busy", lambda since, now: None)  # load's busy-CPU warning: the machine's
    clip = half_textured()
    windows = WindowOptions(window=2, overlap=1, tile=None)
    out = deblur_cli.Deblurrer("smooths", SmoothingRestorer(), windows, Mix(keep_detail=True)).restore(clip).astype(int)
    assert np.abs(out - clip)[..., TEXTURED_FROM:, :].max() <= 2
    assert deblur_cli.load("dstnet-s", device="cpu", keep_detail=True).keep_detail is True
    with pytest.raises(UsageError, match="keep_detail must be True or False, got 'yes'"):
        deblur_cli.load("dstnet-s", device="cpu", keep_detail="yes")


def test_evaluate_and_side_by_side_name_it(tmp_path, monkeypatch):
    """As --strength and --keep-still: scores and previews of a partial restoration say so."""
    clip = half_textured()
    for kind in ("blur", "sharp"):
        (tmp_path / "d" / "a" / kind).mkdir(parents=True)
        for index, image in enumerate(clip):
            write_image(tmp_path / "d" / "a" / kind / f"{index:03d}.png", image)
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: InvertingRestorer())
    args = ["evaluate", str(tmp_path / "d"), "-m", "dstnet-s", "--tile", "0", "--json", str(tmp_path / "s"), "-q"]
    assert runner.invoke(app, [*args, "--keep-detail"]).exit_code == 0
    score = json.loads((tmp_path / "s").read_text())
    assert score["model"] == "dstnet-s (keep-detail)" and score["settings"]["keep_detail"] is True
    labels = restored_labels("dstnet-s", Mix(keep_detail=True))
    assert labels[:2] == ["deblurred (dstnet-s, keep-detail)", "dstnet-s, keep-detail"]
    both = restored_labels("dstnet-s", Mix(0.5, keep_still=True, keep_detail=True))
    assert both[0] == "deblurred (dstnet-s, strength 0.5, keep-still, keep-detail)"


def test_work_kept_before_the_option_is_the_work_of_a_run_without_it():
    """A key stored before --keep-detail existed has no entry for it: continued by a run without the option, not by
    one with it, which is told as the option added."""
    windows = WindowOptions()
    now = normalized(output_settings(MixingRestorer(), windows, Mix()))
    before = {name: value for name, value in now.items() if name != "keep_detail"}
    assert comparable(as_written_now(before)) == comparable(now)
    asked = normalized(output_settings(MixingRestorer(), windows, Mix(keep_detail=True)))
    assert [change.text for change in key_changes(as_written_now(before), asked)] == ["--keep-detail added"]


def test_frames_of_any_size_down_to_one_pixel():
    """The weight is found per 4x4 block; a frame smaller than a block, or not a multiple of it, is one too."""
    generator = torch.Generator().manual_seed(0)
    for height, width in ((1, 1), (5, 7), (17, 33)):
        frames = torch.rand(2, 3, height, width, generator=generator)
        # 1 - x holds the same fine detail as x everywhere: the restoration is kept
        torch.testing.assert_close(keep_detail(frames, 1 - frames), 1 - frames, rtol=0, atol=1e-5)
        assert keep_detail(frames, torch.full_like(frames, 0.5)).shape == frames.shape


def test_a_note_says_once_which_inputs_are_in_a_delivery_codec(tmp_path, monkeypatch):
    """On H.264 clips --keep-detail scored below the whole restoration: compression took the finest texture first.
    A run on such inputs says so in one note for the batch; lossless inputs (FFV1, x264 at qp 0) get none."""
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    (tmp_path / "in").mkdir()
    media.make_video(tmp_path / "in" / "a.mp4", frames=3, codec="libx264")
    media.make_video(tmp_path / "in" / "b.mkv", frames=3, codec="libx265")
    lossless = media.make_video(tmp_path / "c.mkv", frames=3, codec="ffv1")

    def notes(*args: str) -> list[str]:
        result = runner.invoke(app, ["run", *map(str, args), "--tile", "0", "--keep-detail"])
        assert result.exit_code == 0, result.output
        return [line for line in result.stderr.splitlines() if "--keep-detail is made for" in line]

    (said,) = notes(tmp_path / "in", "-o", tmp_path / "out")
    assert "a.mp4, " in said and "b.mkv are H.264 or HEVC, whose compression took" in said, said
    assert notes(lossless, "-o", tmp_path / "c_out.mkv") == []
    x264_lossless = tmp_path / "x264.mkv"
    made = runner.invoke(app, ["run", str(lossless), "-o", str(x264_lossless), "--codec", "x264-lossless"])
    assert made.exit_code == 0, made.output
    assert notes(x264_lossless, "-o", tmp_path / "x_out.mkv") == []
    (said,) = notes(tmp_path / "in" / "a.mp4", "-o", tmp_path / "a_out.mp4")
    assert "a.mp4 is H.264," in said
    result = runner.invoke(app, ["run", str(tmp_path / "in" / "a.mp4"), "-o", str(tmp_path / "plain.mp4")])
    assert "--keep-detail" not in result.stderr  # only where it was asked for
