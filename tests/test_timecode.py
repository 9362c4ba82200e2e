"""An output keeps its input's SMPTE timecode, moved by what a span leaves out (video_io/timecode.py)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

import deblur_cli.restorers as restorers_module
from deblur_cli.cli import app
from deblur_cli.span import Span
from deblur_cli.video_io import ReadOptions, describe
from deblur_cli.video_io.timecode import _frame_number, _label, shifted
from tests.media import make_video
from tests.restorers import IdentityRestorer

NTSC = Fraction(30000, 1001)


@pytest.mark.parametrize(
    "start, frames, rate, expected",
    [
        ("00:00:59:24", 1, Fraction(25), "00:01:00:00"),
        ("10:00:00:00", 25 * 3600, Fraction(25), "11:00:00:00"),
        ("23:59:59:24", 1, Fraction(25), "00:00:00:00"),  # a day wraps
        ("01:02:03:04", 0, Fraction(24000, 1001), "01:02:03:04"),
        ("00:00:59;29", 1, NTSC, "00:01:00;02"),  # labels 00 and 01 are skipped at a minute's start
        ("00:09:59;29", 1, NTSC, "00:10:00;00"),  # but not at each tenth minute
        ("00:00:00;00", 17982, NTSC, "00:10:00;00"),  # ten minutes of 29.97 video
        ("00:00:59;59", 1, Fraction(60000, 1001), "00:01:00;04"),
        ("00:00:59:29", 1, NTSC, "00:01:00:00"),  # non-drop at 29.97 counts every label
    ],
)
def test_shifted(start, frames, rate, expected):
    assert shifted(start, frames, rate) == expected


@pytest.mark.parametrize("base, drop", [(30, 2), (60, 4)])
def test_drop_frame_labels_and_frame_numbers_agree(base, drop):
    for count in range(0, 3 * 600 * base, 11):
        hours, minutes, seconds, frame = map(int, _label(count, base, drop).split(":"))
        assert _frame_number(hours, minutes, seconds, frame, base, drop) == count
        assert not (minutes % 10 and seconds == 0 and frame < drop)  # never a skipped label


def test_at_double_rate():
    from deblur_cli.video_io.timecode import at_double_rate

    assert at_double_rate("01:00:00:12") == "01:00:00:24"
    assert at_double_rate("00:01:00;02") == "00:01:00;04"  # 29.97 drop-frame to 59.94 drop-frame


def test_what_is_not_a_timecode():
    assert shifted("soon", 1, Fraction(25)) is None


def make_timed_video(path: Path, timecode: str | None, frames: int = 10, rate: Fraction = Fraction(25)) -> Path:
    """An H.264 (or FFV1 in Matroska) video whose stream carries `timecode`."""
    codec = "ffv1" if path.suffix == ".mkv" else "libx264"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        if timecode:
            stream.metadata["timecode"] = timecode
        for index in range(frames):
            image = np.full((48, 64, 3), 20 * index, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize("suffix", [".mov", ".mp4", ".mkv"])
def test_the_timecode_is_read(tmp_path, suffix):
    path = make_timed_video(tmp_path / f"in{suffix}", "01:02:03:04")
    assert describe(path).timecode == "01:02:03:04"
    assert describe(path, ReadOptions(Span(0.2))).timecode == "01:02:03:09"  # five frames later at 25 fps


def test_a_video_without_one(tmp_path):
    assert describe(make_video(tmp_path / "in.mp4", frames=2)).timecode is None


def _timecode_of(path: Path) -> str | None:
    """The video stream's timecode tag, or the container's (MXF's material package)."""
    with av.open(str(path)) as container:
        tags = [*container.streams.video[0].metadata.items(), *container.metadata.items()]
        return next((v for k, v in tags if k.lower() == "timecode"), None)


@pytest.mark.parametrize("suffix", [".mov", ".mp4", ".mkv", ".mxf"])
def test_run_keeps_the_timecode(tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    source = make_timed_video(tmp_path / "in.mov", "10:00:00;00", rate=NTSC)  # drop-frame, as at 29.97
    runner = CliRunner()
    whole, part = tmp_path / f"whole{suffix}", tmp_path / f"part{suffix}"
    assert runner.invoke(app, ["run", str(source), "-o", str(whole)]).exit_code == 0
    assert runner.invoke(app, ["run", str(source), "-o", str(part), "--start", "0.2"]).exit_code == 0
    assert _timecode_of(whole) == "10:00:00;00"
    assert _timecode_of(part) == "10:00:00;06"  # frame 6 is the first at or after 0.2 s


def test_a_container_without_timecode_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    source = make_timed_video(tmp_path / "in.mov", "01:00:00:00")
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "out.avi"), "--json"])
    assert result.exit_code == 0, result.output
    assert any("cannot record the input's timecode (01:00:00:00)" in w for w in json.loads(result.stdout)["warnings"])
