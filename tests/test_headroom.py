"""Levels of limited-range video beyond black and white, which reading clips: said once per input, in `run` and
`info` (colour53 F2)."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from deblur_cli.cli import app
from deblur_cli.video_io.headroom import Headroom
from deblur_cli.video_io.reader import VideoFileSource
from tests import media

runner = CliRunner()
SIZE = (64, 48)


def yuv_frame(pix_fmt: str, luma: np.ndarray, chroma: int | np.ndarray = 128, full: bool = False) -> av.VideoFrame:
    """A BT.709 frame of planar or NV12-like `pix_fmt` holding these samples (in 8-bit levels, scaled up for
    deeper formats; `chroma`, Cb and Cr alike, one a chroma sample)."""
    frame = av.VideoFrame(luma.shape[1], luma.shape[0], pix_fmt)
    depth = max(component.bits for component in frame.format.components)
    dtype = np.uint8 if depth == 8 else np.dtype("<u2")
    shift = depth - 8 + (16 - depth if pix_fmt.startswith("p0") else 0)  # P010 keeps its 10 bits at the top
    pairs = len(frame.planes) == 2  # Cb and Cr interleaved
    for index, plane in enumerate(frame.planes):
        samples = np.frombuffer(plane, dtype).reshape(plane.height, -1)
        if index == 0:
            samples[:, : plane.width] = luma << shift
        else:
            levels = np.broadcast_to(chroma, (plane.height, plane.width)).astype(np.uint16) << shift
            samples[:, : plane.width * (1 + pairs)] = np.repeat(levels, 2, axis=1) if pairs else levels
    frame.colorspace, frame.color_range = 1, 2 if full else 1
    return frame


def ramp(top_rows: int = 0, top: int = 250, bottom: int = 4) -> np.ndarray:
    """Luma from black to white across, its last `top_rows` rows at `top` on the left half, `bottom` on the right."""
    width, height = SIZE
    luma = np.tile(np.linspace(16, 235, width).round().astype(np.uint16), (height, 1))
    luma[height - top_rows :, : width // 2] = top
    luma[height - top_rows :, width // 2 :] = bottom
    return luma


def limited_clip(path, pix_fmt: str, luma: np.ndarray, frames: int = 3, full: bool = False):
    """An FFV1 .mkv of `frames` frames of these luma samples (yuv_frame), tagged BT.709."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = luma.shape[1], luma.shape[0], pix_fmt
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = 1
        context.color_range = 2 if full else 1
        for index in range(frames):
            frame = yuv_frame(pix_fmt, luma, full=full)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


CLIPPED = "deblur reads them clipped to white and black (16-235), so the output loses them"


def test_a_strip_above_white_and_below_black_is_warned_of_by_run_and_info(tmp_path, identity):
    source = limited_clip(tmp_path / "in.mkv", "yuv444p", ramp(top_rows=4))
    target = tmp_path / "out.mkv"
    result = runner.invoke(app, ["run", str(source), "-o", str(target), "--strength", "0", "--pix-fmt", "yuv444p"])
    assert result.exit_code == 0, result.output
    share = "8.3% of the luma samples lie above white (236-250) or below black (4-15)"  # 4 rows of 48
    said = [line for line in result.stderr.splitlines() if line.startswith("warning")]
    assert said == [f"warning: in.mkv: in 3 frames, {share}; {CLIPPED}"]
    with av.open(str(target)) as written:  # as the warning says (a known limit)
        luma = next(written.decode(video=0)).planes[0]
        assert (
            np.frombuffer(luma, np.uint8).reshape(luma.height, -1)[-4:, : SIZE[0]].tolist()
            == [[235] * 32 + [16] * 32] * 4
        )
    report = json.loads(runner.invoke(app, ["info", str(source), "--json"]).stdout)
    assert report["warnings"] == [f"in.mkv: in its first frame, {share}; {CLIPPED}"]


def test_clean_limited_range_video_is_not_warned_of(tmp_path, identity):
    source = limited_clip(tmp_path / "in.mkv", "yuv444p", ramp())
    result = runner.invoke(app, ["run", str(source), "-o", str(tmp_path / "out.mkv"), "--strength", "0"])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    assert json.loads(runner.invoke(app, ["info", str(source), "--json"]).stdout)["warnings"] == []


def test_ten_bit_levels_are_said_in_ten_bit_levels(tmp_path):
    source = limited_clip(tmp_path / "deep.mkv", "yuv420p10le", ramp(top_rows=4, top=254, bottom=1))
    with VideoFileSource(source) as frames:
        assert len(list(frames)) == 3
        assert frames.warnings == [
            "deep.mkv: in 3 frames, 8.3% of the luma samples lie above white (941-1016) or below black (4-63); "
            "deblur reads them clipped to white and black (64-940), so the output loses them"
        ]


def headroom_of(*frames: av.VideoFrame) -> str | None:
    headroom = Headroom()
    for frame in frames:
        headroom.add(frame)
    return headroom.warning("in.mkv")


def test_codec_noise_and_stray_samples_are_not_worth_saying():
    noise = ramp()
    noise[:, :8] = np.arange(12, 16)[np.arange(SIZE[1]) % 4][:, None]  # within 4 levels of black: a sixth of it
    noise[:, -8:] = 239
    stray = ramp()
    stray[0, 0], stray[0, -1], stray[-1, 0] = 0, 255, 255  # 3 of 3,072 samples: under 0.1%
    assert headroom_of(yuv_frame("yuv420p", noise), yuv_frame("yuv420p", stray)) is None
    stray[-1, -1] = 255  # 4: over it
    assert headroom_of(yuv_frame("yuv420p", stray)) == (
        f"in.mkv: in its first frame, 0.13% of the luma samples lie above white (236-255) or below black (0-15); "
        f"{CLIPPED}"
    )


def test_full_range_has_no_headroom_and_rgb_none_to_count():
    assert (
        headroom_of(yuv_frame("yuvj420p", ramp(top_rows=4)), yuv_frame("yuv444p", ramp(top_rows=4), full=True)) is None
    )
    rgb = av.VideoFrame.from_ndarray(media.pattern(0, *SIZE), format="rgb24")
    assert headroom_of(rgb) is None


@pytest.mark.parametrize(("pix_fmt", "levels"), [("nv12", "16-240 (128-250)"), ("p010le", "64-960 (512-1000)")])
def test_chroma_outside_its_range_is_said_apart(pix_fmt, levels):
    chroma = np.full((SIZE[1] // 2, SIZE[0] // 2), 128, np.uint16)
    chroma[:4] = 250  # a sixth of the rows, in Cb and Cr alike
    frame = yuv_frame(pix_fmt, ramp(), chroma)  # Cb and Cr in one plane; P010's samples in the high bits
    assert headroom_of(frame) == (
        f"in.mkv: in its first frame, 17% of the chroma samples lie outside {levels}; deblur reads them clipped to "
        "the RGB gamut, so the output loses them"
    )
