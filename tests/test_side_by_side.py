"""`deblur run --side-by-side`: the input on the left and the restored frame on the right, as displayed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from deblur_cli.cli import app
import deblur_cli.restorers as restorers_module
from deblur_cli.side_by_side import DIVIDER, compose, composed_info
from deblur_cli.video_io import VideoInfo
from tests import media
from tests.restorers import InvertingRestorer

runner = CliRunner()


def displayed(frame: torch.Tensor, rotation: int, mirrored: bool = False) -> np.ndarray:
    """(3, H, W) stored frame -> (H', W', 3) as a player shows it (np.rot90 turns counter-clockwise; a
    mirror comes after the turn)."""
    turned = np.rot90(frame.permute(1, 2, 0).numpy(), rotation // 90)
    return turned[:, ::-1] if mirrored else turned


@pytest.mark.parametrize("mirrored", [False, True])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_the_input_is_shown_left_and_the_result_right_for_every_rotation(rotation, mirrored):
    before = torch.rand(3, 4, 6, generator=torch.Generator().manual_seed(0))
    after = torch.rand(3, 4, 6, generator=torch.Generator().manual_seed(1))
    both = compose(before, after, rotation, mirrored)
    info = composed_info(VideoInfo(width=6, height=4, fps=None, time_base=None, frame_count=1, bit_depth=8, rotation=rotation))
    assert tuple(both.shape[-2:]) == (info.height, info.width)
    shown = displayed(both, rotation, mirrored)
    width = displayed(before, rotation).shape[1]
    assert shown.shape[:2] == (displayed(before, rotation).shape[0], 2 * width + DIVIDER)
    np.testing.assert_array_equal(shown[:, :width], displayed(before, rotation, mirrored))
    assert (shown[:, width : width + DIVIDER] == 0).all()  # the black line between
    np.testing.assert_array_equal(shown[:, width + DIVIDER :], displayed(after, rotation, mirrored))


@pytest.mark.parametrize("rotation", [0, 90])
def test_run_writes_before_and_after_side_by_side(tmp_path, monkeypatch, rotation):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: InvertingRestorer())
    video = media.make_video(tmp_path / "in.mkv", frames=3, size=(48, 32), codec="ffv1", pix_fmt="bgr0", rotation=rotation)
    out = tmp_path / "frames"
    result = runner.invoke(app, ["run", str(video), "-o", str(out), "--side-by-side", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # the size of the frames written, turned as PNGs are (it was the input's)
    assert (summary["width"], summary["height"]) == ((2 * 48 + DIVIDER, 32) if rotation == 0 else (2 * 32 + DIVIDER, 48))
    stored = media.read_frames(video)
    pngs = sorted(out.iterdir())
    assert len(pngs) == 3
    for image, png in zip(stored, pngs):
        shown = media.read_frames(png)[0]  # PNG frames are written turned for display
        before = np.rot90(image, rotation // 90).astype(int)
        assert shown.shape == (before.shape[0], 2 * before.shape[1] + DIVIDER, 3)
        width = before.shape[1]
        assert np.abs(shown[:, :width] - before).max() <= 1
        assert (shown[:, width : width + DIVIDER] == 0).all()
        assert np.abs(shown[:, width + DIVIDER :] - (255 - before)).max() <= 1


@pytest.mark.parametrize("rotation, mirrored", [(0, True), (90, False)])
def test_an_output_that_records_no_rotation_has_its_halves_placed_as_stored(tmp_path, monkeypatch, rotation, mirrored):
    """.avi records no display matrix, so players show the frames as stored: the halves placed for a
    player that mirrors a front camera's clip put the input on the right there (found in review)."""
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: InvertingRestorer())
    video = media.make_video(tmp_path / "in.mp4", frames=2, size=(48, 32), rotation=rotation, mirrored=mirrored)
    result = runner.invoke(
        app, ["run", str(video), "-o", str(tmp_path / "out.avi"), "--side-by-side", "--codec", "ffv1"]
    )
    assert result.exit_code == 0, result.output
    assert "cannot record the display rotation" in result.output  # still said: the picture is shown as stored
    for image, shown in zip(media.read_frames(video), media.read_frames(tmp_path / "out.avi")):
        assert shown.shape == (32, 2 * 48 + DIVIDER, 3)
        assert np.abs(shown[:, :48].astype(int) - image).mean() < 2  # the input on the left, as stored
        assert np.abs(shown[:, -48:].astype(int) - (255 - image.astype(int))).mean() < 2


def test_work_kept_before_the_halves_were_placed_as_stored_is_not_continued(tmp_path):
    """Found in review: side-by-side work kept in .avi before then was continued after, the halves swapping
    sides part-way (a turned clip's first segments came out as noise): the key marks the change, which
    work_folder counts among what no option sets, so such work is discarded with a note, not continued, nor
    refused as work of other options would be."""
    from deblur_cli.errors import OutputError
    from deblur_cli.pipeline import resume_key
    from deblur_cli.video_io import EncodeOptions, ReadOptions, describe
    from deblur_cli.video_io.work_folder import WorkFolder
    from deblur_cli.windows import WindowOptions
    from tests.restorers import MixingRestorer

    source, output = media.make_video(tmp_path / "in.mp4", frames=2), tmp_path / "out.avi"

    def kept_under(key: dict) -> None:
        work = WorkFolder(output, key)
        work.keep(set())
        work.release(keep=True)

    info = describe(source)
    key = resume_key(source, info, MixingRestorer(), WindowOptions(), EncodeOptions(), ReadOptions(), True)
    kept_under({name: value for name, value in key.items() if name != "orientation"})
    now = WorkFolder(output, key)
    assert not now.matches  # not continued
    now.refuse_to_discard(40)  # discarded, not refused
    now.release(keep=False)
    kept_under(resume_key(source, info, MixingRestorer(), WindowOptions(), EncodeOptions(crf=30), ReadOptions(), True))
    other_options = WorkFolder(output, key)  # the control: work of other options is refused, and kept
    with pytest.raises(OutputError, match="made with other settings"):
        other_options.refuse_to_discard(40)
