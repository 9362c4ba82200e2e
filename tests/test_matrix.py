"""Every kind of input into every kind of output, through `deblur run` with the identity restorer: each output
must read back with the input's frame count and close to its pictures. Pairs no single test chose found bugs
here (AVI from an MP4's time base, PNG frames into WebM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import deblur_cli.restorers as restorers_module
from deblur_cli.cli import app
from deblur_cli.video_io import open_source
from tests import media
from tests.restorers import IdentityRestorer

FRAMES, SIZE = 4, (48, 32)
INPUTS = {
    "h264.mp4": lambda d: media.make_video(d / "h264.mp4", frames=FRAMES, size=SIZE, audio="aac"),
    "hevc10.mkv": lambda d: media.make_video(  # x265 needs sides of 64 pixels (encoding.X265_SMALLEST)
        d / "hevc10.mkv", frames=FRAMES, size=(64, 64), codec="libx265", pix_fmt="yuv420p10le", bit_depth=10
    ),
    "prores.mov": lambda d: media.make_video(
        d / "prores.mov", frames=FRAMES, size=SIZE, codec="prores_ks", pix_fmt="yuv422p10le", bit_depth=10
    ),
    "vp9.webm": lambda d: media.make_video(d / "vp9.webm", frames=FRAMES, size=SIZE, audio="libopus"),
    "mjpeg.avi": lambda d: media.make_video(
        d / "mjpeg.avi", frames=FRAMES, size=SIZE, codec="mjpeg", pix_fmt="yuvj420p"
    ),
    "ffv1rgb.mkv": lambda d: media.make_video(
        d / "ffv1rgb.mkv", frames=FRAMES, size=SIZE, codec="ffv1", pix_fmt="bgr0"
    ),
    "mpeg2.ts": lambda d: media.make_video(d / "mpeg2.ts", frames=FRAMES, size=SIZE, codec="mpeg2video"),
    "odd.mkv": lambda d: media.make_video(d / "odd.mkv", frames=FRAMES, size=(47, 31), pix_fmt="yuv444p"),
    "png": lambda d: (media.make_images(d / "png", count=FRAMES, size=SIZE), d / "png")[1],
    "tif16": lambda d: (
        media.make_images(d / "tif16", count=FRAMES, size=SIZE, suffix=".tif", bit_depth=16), d / "tif16"
    )[1],
    "alpha.mov": lambda d: media.make_alpha_video(
        d / "alpha.mov", codec="qtrle", pix_fmt="argb", frames=FRAMES, size=SIZE
    ),
}
OUTPUTS = [".mp4", ".mov", ".mkv", ".webm", ".avi", "/"]


def frames_of(path) -> list[np.ndarray]:
    with open_source(path) as source:
        return [f.image.astype(np.float64) / (255 if f.image.dtype == np.uint8 else 65535) for f in source]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    return {name: make(folder) for name, make in INPUTS.items()}


@pytest.mark.parametrize("output", OUTPUTS, ids=lambda o: o.strip(".") or "frames")
@pytest.mark.parametrize("name", INPUTS)
def test_every_input_into_every_output_reads_back_whole(inputs, name, output, tmp_path, monkeypatch):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    source = inputs[name]
    target = tmp_path / ("out" + output if output != "/" else "frames")
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(target), "-q"])
    assert result.exit_code == 0, result.output
    before, after = frames_of(source), frames_of(target)
    assert len(after) == len(before) == FRAMES
    mse = np.mean([((a - b) ** 2).mean() for a, b in zip(before, after)])
    assert mse == 0 or 10 * np.log10(1 / mse) > 30  # lossy codecs at CRF 18 on a tiny pattern: 33 dB and up


@pytest.mark.parametrize("name", INPUTS)
def test_every_input_gives_the_frames_of_a_span(inputs, name, tmp_path, monkeypatch):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    source = inputs[name]
    target = tmp_path / "out.mkv"
    span = ["--start", "0.04", "--duration", "0.08"]
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(target), "-q", *span])
    assert result.exit_code == 0, result.output
    whole, span = frames_of(source), frames_of(target)
    assert len(span) == 2  # the second and third frames, 0.04 and 0.08 s after the first (25 fps)
    for got, expected in zip(span, whole[1:3]):
        assert 10 * np.log10(1 / max(((got - expected) ** 2).mean(), 1e-12)) > 30
