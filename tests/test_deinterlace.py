"""Interlaced video is deinterlaced as it is decoded (video_io/deinterlace.py), and only then restored."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

import deblur_cli.pipeline as pipeline
import deblur_cli.restorers as restorers_module
import deblur_cli.video_io.reader as reader
from deblur_cli.cli import app
from deblur_cli.pipeline import deblur_video, resume_key
from deblur_cli.span import Span
from deblur_cli.video_io.deinterlace import READS_FIELD_ORDER
from deblur_cli.video_io import EncodeOptions, ReadOptions, describe, open_source
from deblur_cli.windows import WindowOptions
from tests.media import make_images, make_video
from tests.restorers import IdentityRestorer, MixingRestorer

SIZE = (96, 64)  # width, height
# What the reader makes of make_interlaced's top-first clips: PyAV 17 cannot read a stream's field order.
TOP = "top" if READS_FIELD_ORDER else "unknown"
# x264's interlaced frames do not say which field comes first (bwdif keeps the wrong one by them), so
# without the stream's field order (PyAV 17) the later field is kept.
needs_field_order = pytest.mark.skipif(not READS_FIELD_ORDER, reason="PyAV < 18 cannot read a stream's field order")


def _fields(index: int) -> np.ndarray:
    """A frame whose two fields were filmed apart: a bright bar that moves 6 px between them, on a
    backdrop that changes from frame to frame."""
    width, height = SIZE
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 1] = (np.arange(width)[None, :] * (index + 1)) % 256
    x = 4 + 5 * index
    image[0::2, x : x + 12] = 255  # the top field
    image[1::2, x + 6 : x + 18] = 255  # the bottom field, half a frame later
    return image


def make_interlaced(path: Path, frames: int = 16, *, bottom_first: bool = False, size=SIZE, timecode=None) -> Path:
    """An H.264 file coded as interlaced (x264 marks the field order), a keyframe every 4 frames."""
    order = "bff=1" if bottom_first else "tff=1"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        if timecode:
            stream.metadata["timecode"] = timecode
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.options = {"x264-params": f"interlaced=1:{order}:keyint=4:min-keyint=4:scenecut=0:log-level=error", "crf": "12"}
        for index in range(frames):
            image = _fields(index)[: size[1], : size[0]]
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def combing(image: np.ndarray) -> float:
    """Mean distance of each row from the mean of its neighbours: large where the fields disagree."""
    rows = image.astype(np.float64).mean(axis=2)
    return float(np.abs(rows[1:-1] - (rows[:-2] + rows[2:]) / 2).mean())


def _read(path: Path, **options) -> tuple[list, object]:
    with open_source(path, ReadOptions(**options)) as source:
        return list(source), source.info


def test_an_interlaced_video_is_read_as_whole_frames_at_the_same_times(tmp_path):
    path = make_interlaced(tmp_path / "in.mp4")
    kept, kept_info = _read(path, deinterlace="off")
    joined, info = _read(path)  # "auto"
    assert (kept_info.field_order, kept_info.deinterlaced) == (TOP, False)
    assert (info.field_order, info.deinterlaced) == (TOP, True)
    assert [f.pts for f in joined] == [f.pts for f in kept] and len(joined) == 16
    assert min(combing(f.image) for f in kept) > 8 * max(combing(f.image) for f in joined)


def _row_difference(frames: list, others: list, rows: slice) -> float:
    return max(float(np.abs(a.image[rows].astype(int) - b.image[rows].astype(int)).mean()) for a, b in zip(frames, others))


@needs_field_order
@pytest.mark.parametrize("bottom_first", [False, True])
def test_the_field_shown_first_is_kept(tmp_path, bottom_first):
    """Its rows pass unchanged (to the codec's rounding); the other field's are filled in. The
    stream's field order decides which, as the decoded frames need not say."""
    path = make_interlaced(tmp_path / "in.mp4", frames=6, bottom_first=bottom_first)
    kept, _ = _read(path, deinterlace="off")
    joined, info = _read(path)
    assert (info.field_order, info.deinterlaced) == ("bottom" if bottom_first else "top", True)
    first, second = (slice(1, None, 2), slice(0, None, 2)) if bottom_first else (slice(0, None, 2), slice(1, None, 2))
    assert _row_difference(joined, kept, first) < 2 < 10 < _row_difference(joined, kept, second)


def test_dv_frames_say_which_field_comes_first(tmp_path):
    """DV streams carry no field order; their frames say bottom first, as DV is, and that is followed."""
    width, height = 720, 576
    path = tmp_path / "tape.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("dvvideo", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(4):
            image = np.zeros((height, width, 3), np.uint8)
            image[..., 1] = (np.arange(width)[None, :] * (index + 1)) % 256
            image[0::2, 40 + 10 * index : 80 + 10 * index] = 255  # the fields disagree: one bar, two places
            image[1::2, 60 + 10 * index : 100 + 10 * index] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    kept, _ = _read(path, deinterlace="off")
    joined, info = _read(path)
    assert (info.field_order, info.deinterlaced) == ("unknown", True)
    assert _row_difference(joined, kept, slice(1, None, 2)) < 0.5 < 2 < _row_difference(joined, kept, slice(0, None, 2))


def test_progressive_video_is_left_alone_unless_asked(tmp_path):
    path = make_video(tmp_path / "in.mp4", frames=6, size=SIZE)
    plain, _ = _read(path, deinterlace="off")
    auto, info = _read(path)
    assert (info.field_order, info.deinterlaced) == (None, False)
    assert len(auto) == len(plain) == 6 and all(np.array_equal(a.image, b.image) for a, b in zip(auto, plain))
    forced, info = _read(path, deinterlace="on")
    assert info.deinterlaced and [f.pts for f in forced] == [f.pts for f in plain]


@pytest.mark.parametrize("index", [4, 5, 8, 12, 15])
def test_a_continued_read_gives_the_frames_of_a_whole_read(tmp_path, index, monkeypatch):
    """skip_to (what a continued run does) seeks to a keyframe; deinterlacing starts a frame early, so
    the frame there has the frame before it. The control, without that margin, differs at keyframes."""
    path = make_interlaced(tmp_path / "in.mp4")
    whole, _ = _read(path)

    def read_from(index: int) -> list:
        with open_source(path) as source:
            source.skip_to(index, whole[index].pts)
            return list(source)

    part = read_from(index)
    assert [f.index for f in part] == list(range(index, 16))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(part, whole[index:]))
    if index % 4 == 0:  # a keyframe: without the margin, its previous frame never reaches the filter
        monkeypatch.setattr(reader, "FRAMES_BEFORE", 0)
        assert not np.array_equal(read_from(index)[0].image, whole[index].image)


def test_double_rate_gives_a_frame_per_field(tmp_path):
    path = make_interlaced(tmp_path / "in.mp4")
    kept, kept_info = _read(path, deinterlace="off")
    fields, info = _read(path, deinterlace="double")
    assert info.deinterlaced and (info.fps, info.time_base) == (2 * kept_info.fps, kept_info.time_base / 2)
    assert len(fields) == 32 and [f.index for f in fields] == list(range(32))
    assert [f.pts for f in fields[::2]] == [2 * f.pts for f in kept]  # a frame's time, in the finer clock
    steps = {b.pts - a.pts for a, b in zip(fields, fields[1:])}
    assert steps == {kept[1].pts - kept[0].pts}  # half a frame apart, evenly
    assert max(combing(f.image) for f in fields) * 8 < min(combing(f.image) for f in kept)
    if not READS_FIELD_ORDER:
        return  # which field each frame keeps follows the stream's field order, below
    # the first frame of each pair keeps the top field, the second the bottom one
    assert _row_difference(fields[0::2], kept, slice(0, None, 2)) < 2 < 10 < _row_difference(fields[1::2], kept, slice(0, None, 2))
    assert _row_difference(fields[1::2], kept, slice(1, None, 2)) < 2


@pytest.mark.parametrize("index", [3, 8, 9, 17, 31])
def test_a_continued_read_at_double_rate(tmp_path, index):
    path = make_interlaced(tmp_path / "in.mp4")
    whole, _ = _read(path, deinterlace="double")
    with open_source(path, ReadOptions(deinterlace="double")) as source:
        source.skip_to(index, whole[index].pts)
        part = list(source)
    assert len(part) == 32 - index
    assert all(np.array_equal(a.image, b.image) for a, b in zip(part, whole[index:]))


def test_double_rate_counts_the_timecode_in_fields(tmp_path):
    path = make_interlaced(tmp_path / "in.mov", frames=8, timecode="10:00:00:12")
    assert describe(path, ReadOptions(deinterlace="double")).timecode == "10:00:00:24"
    assert describe(path, ReadOptions(Span(0.2), deinterlace="double")).timecode == "10:00:00:34"  # 10 fields later
    assert describe(path).timecode == "10:00:00:12"


def test_double_rate_leaves_progressive_video_alone(tmp_path):
    path = make_video(tmp_path / "in.mp4", frames=4, size=SIZE)
    frames, info = _read(path, deinterlace="double")
    assert not info.deinterlaced and len(frames) == 4


def test_a_span_of_interlaced_video(tmp_path):
    path = make_interlaced(tmp_path / "in.mp4")
    whole, _ = _read(path)
    part, info = _read(path, span=Span(0.32, 0.5))  # frames 8 to 12 at 25 fps
    assert info.deinterlaced and len(part) == 5
    assert all(np.array_equal(a.image, b.image) for a, b in zip(part, whole[8:13]))


def test_a_frame_size_change_part_way_gets_a_new_filter(tmp_path):
    """Two interlaced MPEG-TS streams of different sizes, one after the other in one file."""
    first = make_interlaced(tmp_path / "a.ts", frames=6)
    second = make_interlaced(tmp_path / "b.ts", frames=6, size=(64, 48))
    joined = tmp_path / "ab.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    frames, info = _read(joined)
    assert info.deinterlaced and len(frames) == 12
    assert all(f.image.shape == (64, 96, 3) for f in frames)  # scaled to the first size, as without deinterlacing


@pytest.mark.parametrize("mode", ["auto", "double"])
def test_an_interrupted_run_continues_to_the_same_frames(tmp_path, monkeypatch, mode):
    """Stopped after 9 windows of 5 frames overlapping by 1 (33 frames kept; at double rate, the
    second field of frame 16), then continued: the frames of an uninterrupted run."""
    monkeypatch.setattr(pipeline, "SEGMENT_FRAMES", 6)
    source = make_interlaced(tmp_path / "in.mp4", frames=40)
    # scene_cuts off: this test pattern jumps in brightness, which splits windows into more calls than 9
    windows = WindowOptions(window=5, overlap=1, tile=None, scene_cuts=False)
    options = dict(windows=windows, encode=EncodeOptions(codec="ffv1"), read=ReadOptions(deinterlace=mode))
    deblur_video(source, tmp_path / "whole.mkv", MixingRestorer(), **options)
    with pytest.raises(KeyboardInterrupt):
        deblur_video(source, tmp_path / "out.mkv", MixingRestorer(fail_after=9, error=KeyboardInterrupt()), **options)
    result = deblur_video(source, tmp_path / "out.mkv", MixingRestorer(), **options)
    whole, _ = _read(tmp_path / "whole.mkv")
    continued, _ = _read(tmp_path / "out.mkv")
    assert result.resumed == 33 and len(continued) == len(whole) == (80 if mode == "double" else 40)
    assert [f.pts for f in continued] == [f.pts for f in whole]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(continued, whole))


def test_the_resume_key_holds_the_mode(tmp_path):
    path = make_interlaced(tmp_path / "in.mp4", frames=2)
    restorer = IdentityRestorer()
    restorer.identity = {"model": "identity"}
    keys = [
        resume_key(path, describe(path, read), restorer, WindowOptions(), EncodeOptions(), read, False)
        for read in (ReadOptions(deinterlace=mode) for mode in ("auto", "on", "off", "double"))
    ]
    assert len({json.dumps(key, sort_keys=True) for key in keys}) == 4


def test_run_deinterlaces_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    source = make_interlaced(tmp_path / "in.mp4")
    runner = CliRunner()
    outputs = {}
    for mode in ("auto", "off"):
        target = tmp_path / f"{mode}.mkv"
        result = runner.invoke(
            app, ["run", str(source), "-o", str(target), "--codec", "ffv1", "--json", "--deinterlace", mode]
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["deinterlaced"] is (mode == "auto")
        said = "is interlaced (top field first)" if READS_FIELD_ORDER else "is interlaced"
        assert (f"{said}: its fields are joined" in result.stderr) is (mode == "auto")
        outputs[mode], info = _read(target)
        assert len(outputs[mode]) == 16 and info.field_order is None  # written as progressive frames
    assert max(combing(f.image) for f in outputs["auto"]) * 8 < min(combing(f.image) for f in outputs["off"])


def test_preflight_notes_the_deinterlacing_before_it_checks_the_output(tmp_path):
    from deblur_cli.errors import OutputExistsError
    from deblur_cli.outputs import plan_outputs
    from deblur_cli.preflight import preflight

    source = make_interlaced(tmp_path / "in.mp4", frames=4)
    target = tmp_path / "out.mkv"
    target.write_bytes(b"an earlier output")
    for force in (False, True):
        jobs = plan_outputs([source], target)
        checks = preflight(jobs, ReadOptions(), EncodeOptions(), force=force, side_by_side=False)
        found = next(checks)
        assert "in.mp4 is interlaced" in found.note and found.warnings is None
        if force:
            assert next(checks).warnings == () and next(checks, None) is None
        else:
            with pytest.raises(OutputExistsError):
                next(checks)


def test_run_at_double_rate(tmp_path, monkeypatch):
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    source = make_interlaced(tmp_path / "in.mp4", frames=8)
    target = tmp_path / "out.mp4"
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(target), "--deinterlace", "double"])
    assert result.exit_code == 0, result.output
    assert "each field becomes a whole frame (50 frames a second)" in result.stderr
    frames, info = _read(target)
    assert len(frames) == 16 and info.fps == 50
    progressive = make_video(tmp_path / "p.mp4", frames=2, size=SIZE)
    result = CliRunner().invoke(app, ["run", str(progressive), "-o", str(tmp_path / "p-out.mp4"), "--deinterlace", "double"])
    assert result.exit_code == 0 and "is not marked interlaced" in result.stderr
    images = make_images(tmp_path / "frames", count=2)[0].parent
    result = CliRunner().invoke(app, ["run", str(images), "-o", str(tmp_path / "frames-out"), "--deinterlace", "double"])
    assert result.exit_code == 0 and "images have no fields, so --deinterlace double leaves them" in result.stderr
    assert len(list((tmp_path / "frames-out").iterdir())) == 2


def test_run_refuses_bad_deinterlace_options(tmp_path):
    images = make_images(tmp_path / "frames", count=2)[0].parent
    runner = CliRunner()
    bad = runner.invoke(app, ["run", str(images), "-o", str(tmp_path / "out"), "--deinterlace", "maybe"])
    assert bad.exit_code == 2 and "--deinterlace must be one of auto, on, off, double" in bad.output
    on_images = runner.invoke(app, ["run", str(images), "-o", str(tmp_path / "out"), "--deinterlace", "on"])
    assert on_images.exit_code == 2 and "applies to videos" in on_images.output


def test_a_filter_failure_is_one_clear_error(tmp_path, monkeypatch):
    import deblur_cli.video_io.deinterlace as deinterlace
    from deblur_cli.errors import InputError

    def refuse(*args):
        raise av.error.FilterNotFoundError(1279870712, "Filter not found")

    monkeypatch.setattr(deinterlace, "_bwdif", refuse)
    with pytest.raises(InputError, match="cannot deinterlace this yuv420p video") as info:
        _read(make_interlaced(tmp_path / "in.mp4", frames=2))
    assert "--deinterlace off" in info.value.hint
