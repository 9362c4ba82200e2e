"""An output keeps its input's container tags, including the reverse-DNS keys phones write (capture
date, place, camera model), which MP4 and MOV muxers drop unless told to keep every tag."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

import deblur_cli.restorers as restorers_module
from deblur_cli.cli import app
from deblur_cli.video_io.containers import open_input
from deblur_cli.video_io.passthrough import tag_value
from tests import media
from tests.restorers import IdentityRestorer

PHONE_TAGS = {
    "creation_time": "2026-11-20T10:11:12.000000Z",
    "com.apple.quicktime.make": "Apple",
    "com.apple.quicktime.location.ISO6709": "+48.8584+002.2945+035.000/",
    "com.apple.quicktime.creationdate": "2026-11-20T11:11:12+0100",
    "com.android.capture.fps": "240.000000",
}


def make_phone_clip(path: Path) -> Path:
    with av.open(str(path), "w", options={"movflags": "use_metadata_tags"}) as container:
        container.metadata.update(PHONE_TAGS)
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize("suffix", [".mov", ".mp4", ".mkv"])
def test_phone_tags_are_kept(tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    source = make_phone_clip(tmp_path / "in.mov")
    target = tmp_path / f"out{suffix}"
    assert CliRunner().invoke(app, ["run", str(source), "-o", str(target)]).exit_code == 0
    with av.open(str(target)) as container:
        # FFmpeg 8 reads a .mov's creation_time from two places, joined: tag_value takes one
        tags = {key.lower(): tag_value(value) for key, value in container.metadata.items()}
    assert {key.lower(): value for key, value in PHONE_TAGS.items()}.items() <= tags.items()


def test_a_tag_read_twice_is_copied_once():
    """FFmpeg 8 reads an MP4's creation_time from the movie header and the metadata keys, joined by ";"."""
    date = "2026-11-20T10:11:12.000000Z"
    assert tag_value(f"{date};{date}") == date
    assert tag_value("Apple") == "Apple"
    assert tag_value("one;two") == "one;two"  # values that differ are the file's own text
    assert tag_value(";") == ";"


@pytest.mark.parametrize("suffix, codec", [(".mp4", "libx264"), (".mkv", "libx264"), (".webm", "libvpx-vp9")])
def test_tags_that_are_not_utf8_neither_stop_a_run_nor_are_lost(tmp_path, monkeypatch, suffix, codec):
    """An old camera's Latin-1 title: PyAV before 19 drops the bytes that are not UTF-8, PyAV 19 keeps them.
    Matroska and WebM, which do not count their frames, are also read a second time to count them (fuzz48)."""
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    source = media.make_latin1_titled(tmp_path / f"old{suffix}", codec=codec)
    described = CliRunner().invoke(app, ["info", str(source)])
    assert described.exit_code == 0, described.output
    target = tmp_path / "out.mkv"
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(target)])
    assert result.exit_code == 0, result.output
    with open_input(target) as container:
        title = container.metadata["title"]
    assert title.startswith("Caf") and title.endswith("-Tour")
