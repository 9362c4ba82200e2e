"""Colour tags from input to output and back: where a codec keeps them in its frames (ProRes), what RGB frames
and images are tagged as, and how YUV video that names no matrix is read (colour53 F4, F6, untagged YUV)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from deblur_cli.cli import app
from deblur_cli.video_io import describe
from tests import media
from tests.media import convert, decode

runner = CliRunner()
PQ = {"primaries": 9, "transfer": 16, "matrix": 9, "range": 1}  # BT.2020 PQ, limited range: HDR10
# flat blocks of saturated and skin colours, where reading with the wrong matrix moves them most
COLOURS = np.array([[200, 30, 40], [30, 180, 60], [40, 50, 200], [222, 171, 140], [250, 240, 30], [128, 128, 128]])


def first_frame_tags(path: Path) -> dict[str, int]:
    """The colour tags of the first frame FFmpeg decodes from `path`, and of its stream as the container states them."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        stated = (int(context.color_primaries), int(context.color_trc), int(context.colorspace))
        frame = next(container.decode(stream))
        return {"frame": (int(frame.color_primaries), int(frame.color_trc), int(frame.colorspace)), "stream": stated}


def card(width: int, height: int) -> np.ndarray:
    """An (H, W, 3) uint8 frame of COLOURS in vertical bands."""
    bands = np.repeat(np.arange(len(COLOURS)), -(-width // len(COLOURS)))[:width]
    return np.ascontiguousarray(np.broadcast_to(COLOURS[bands].astype(np.uint8), (height, width, 3)))


def untagged_yuv(path: Path, size: tuple[int, int], matrix: int, frames: int = 2) -> np.ndarray:
    """An FFV1 .mkv of yuv444p frames of `card`, converted with `matrix` (swscale's number) and tagged with
    nothing; the card."""
    image = card(*size)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv444p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
                format="yuv444p", dst_colorspace=matrix, dst_color_range=1, interpolation="BILINEAR"
            )
            frame.colorspace, frame.color_range, frame.pts = 2, 0, index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    assert describe(path).color == {"primaries": 2, "transfer": 2, "matrix": 2, "range": 0}
    return image


def test_prores_frames_carry_the_hdr_tags_and_read_back_as_pq(tmp_path):
    """prores_ks writes each frame's own tags into its header, which FFmpeg's decoder reads: set on the stream
    alone, a PQ master came back as unspecified primaries and transfer, and again through deblur untagged SDR."""
    source = media.make_video(
        tmp_path / "pq.mkv", frames=2, codec="ffv1", pix_fmt="yuv444p10le", bit_depth=10, color=PQ
    )
    convert(source, tmp_path / "pq.mov", codec="prores_ks")
    assert first_frame_tags(tmp_path / "pq.mov")["frame"] == (9, 16, 9)
    report = json.loads(runner.invoke(app, ["info", str(tmp_path / "pq.mov"), "--json"]).stdout)
    assert report["colour"] == "bt2020, PQ (smpte2084), bt2020nc, limited range (HDR: restored on an sRGB-like curve)"
    convert(tmp_path / "pq.mov", tmp_path / "again.mp4")
    assert describe(tmp_path / "again.mp4").color == PQ


def test_tags_that_the_frames_leave_unspecified_are_read_from_the_container(tmp_path):
    """A ProRes file whose frames say nothing, as deblur wrote them before 2026-12-07: its MOV `colr` atom,
    which `ffmpeg -i` shows, says PQ, and so does deblur."""
    path = tmp_path / "stated.mov"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("prores_ks", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv422p10le"
        context = stream.codec_context
        context.color_primaries, context.color_trc, context.colorspace, context.color_range = 9, 16, 9, 1
        frame = av.VideoFrame(64, 48, "yuv422p10le")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    assert first_frame_tags(path) == {"frame": (2, 2, 2), "stream": (9, 16, 9)}
    assert describe(path).color == PQ


@pytest.mark.parametrize("target", ["out.mp4", "out.mov"])
def test_png_frames_become_video_tagged_srgb(tmp_path, target):
    """RGB frames became YUV video tagged with a matrix and range alone; their samples are sRGB: BT.709's
    primaries on the sRGB curve."""
    media.make_images(tmp_path / "frames", count=2)
    convert(tmp_path / "frames", tmp_path / target)
    tags = first_frame_tags(tmp_path / target)
    assert tags == {"frame": (1, 13, 1), "stream": (1, 13, 1)}
    assert describe(tmp_path / target).color == {"primaries": 1, "transfer": 13, "matrix": 1, "range": 1}


def test_untagged_hd_video_is_read_as_bt709_and_written_tagged_so(tmp_path):
    """Players read untagged HD video with BT.709; deblur read it with swscale's BT.601, and restored (and
    wrote) other colours than a player shows: the skin tone (222, 171, 140) came back as (218, 167, 141)."""
    image = untagged_yuv(tmp_path / "hd.mkv", (1280, 720), matrix=1)
    read = decode(tmp_path / "hd.mkv")
    assert np.abs(read[0].astype(int) - image).max() <= 1
    convert(tmp_path / "hd.mkv", tmp_path / "hd.mp4", codec="libx264", crf=0, pix_fmt="yuv444p")
    assert describe(tmp_path / "hd.mp4").color["matrix"] == 1
    assert np.abs(decode(tmp_path / "hd.mp4")[0].astype(int) - image).max() <= 1
    report = json.loads(runner.invoke(app, ["info", str(tmp_path / "hd.mkv"), "--json"]).stdout)
    assert report["colour"] == "not tagged (read as bt709, as players take HD video)"


@pytest.mark.parametrize(
    "size, matrix, words", [((320, 192), 5, "bt601, as players take SD"), ((1280, 720), 1, "bt709, as players take HD")]
)
@pytest.mark.parametrize("target", ["out.y4m", "out.avi"])
def test_untagged_video_written_untagged_reads_back_the_same(tmp_path, size, matrix, words, target):
    """YUV written where no tag is kept (.y4m, FFV1 in .avi) is in the matrix it is read back with: the one
    players assume for its size. SD stays BT.601, as swscale reads it, and `info` says so (it said "players
    assume bt709")."""
    image = untagged_yuv(tmp_path / "in.mkv", size, matrix)
    convert(
        tmp_path / "in.mkv", tmp_path / target, pix_fmt="yuv444p", codec="rawvideo" if target == "out.y4m" else "ffv1"
    )
    assert np.abs(decode(tmp_path / target)[0].astype(int) - image).max() <= 1
    report = json.loads(runner.invoke(app, ["info", str(tmp_path / "in.mkv"), "--json"]).stdout)
    assert report["colour"] == f"not tagged (read as {words} video)"


def test_training_reads_untagged_hd_video_in_the_colours_players_show(tmp_path):
    """Training material must have the colours `deblur run` reads: an untagged HD video was read with
    swscale's BT.601 into training clips while `run` reads it as BT.709."""
    from deblur_cli.data.videos import decode_frames

    image = untagged_yuv(tmp_path / "hd.mkv", (1280, 720), matrix=1)
    frames, _ = decode_frames(tmp_path / "hd.mkv")
    assert frames.shape == (2, 360, 640, 3)
    shrunk = image.reshape(360, 2, 640, 2, 3).mean(axis=(1, 3))  # each pixel the mean of the 2x2 it covers
    assert np.abs(frames[0] - shrunk).max() <= 1
