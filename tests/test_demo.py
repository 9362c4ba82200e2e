"""`deblur demo`: the README's first command, on the bundled weights, end to end."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from deblur_cli.cli import app
from tests import media

runner = CliRunner()


def test_demo_deblurs_a_generated_clip_with_the_bundled_model(tmp_path):
    result = runner.invoke(app, ["demo", "-o", str(tmp_path / "demo"), "--size", "160x96", "--frames", "6", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["model"] == "dstnet-s" and summary["frames"] == 6
    assert summary["psnr_deblurred_db"] > summary["psnr_blurry_db"]  # the bundled weights really deblur
    for name in ("blurry.mp4", "sharp.mp4", "deblurred.mp4"):
        frames = media.read_frames(tmp_path / "demo" / name)
        assert len(frames) == 6 and frames[0].shape == (96, 160, 3)


def test_demo_refuses_to_overwrite_without_force(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "blurry.mp4").write_bytes(b"mine")
    result = runner.invoke(app, ["demo", "-o", str(tmp_path / "demo"), "--size", "64x48", "--frames", "2"])
    assert result.exit_code == 1 and "--force" in result.stderr
    assert (tmp_path / "demo" / "blurry.mp4").read_bytes() == b"mine"
