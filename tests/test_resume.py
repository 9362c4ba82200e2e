"""Continuing an interrupted run: segments kept beside the output (video_io.segments), and the pipeline
and CLI that resume from them."""

from __future__ import annotations

import errno
import json
import os
import re
from dataclasses import replace

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from deblur_cli import files
import deblur_cli.pipeline as pipeline
from deblur_cli.cli import app
import deblur_cli.restorers as restorers_module
from deblur_cli.errors import InputError, OutputBusyError, OutputError
from deblur_cli.mix import Mix
from deblur_cli.pipeline import deblur_video
from deblur_cli.span import Span
from deblur_cli.stream import restore_stream
from deblur_cli.video_io import EncodeOptions, ReadOptions, describe, open_source
from deblur_cli.video_io.segments import SegmentedVideoSink
import deblur_cli.video_io.segments as segments_module
import deblur_cli.video_io.work_folder as work_folder_module
from deblur_cli.video_io import frame_timing
from deblur_cli.video_io.work_folder import MARKERS, Change, OutputLock, key_changes, work_folder
from deblur_cli.video_io.writer import VideoFileSink
from deblur_cli.windows import WindowOptions
from deblur_cli.wording import readable_size
from tests import media
from tests.restorers import TINY_WTSA, FailingRestorer, IdentityRestorer, MixingRestorer

FFV1 = EncodeOptions(codec="ffv1")
WINDOWS = WindowOptions(window=4, overlap=1, tile=None)  # full windows start every 3 frames


@pytest.fixture(autouse=True)
def short_segments(monkeypatch):
    """Segments of 6 frames or more, so that short clips have several."""
    monkeypatch.setattr(pipeline, "SEGMENT_FRAMES", 6)


def decoded(path) -> list[tuple[int, np.ndarray]]:
    with av.open(str(path)) as container:
        return [(f.pts, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]


def same_video(a, b) -> bool:
    x, y = decoded(a), decoded(b)
    return len(x) == len(y) and all(p == q and np.array_equal(f, g) for (p, f), (q, g) in zip(x, y))


def interrupted(source, target, *, after: int, **options) -> list[str]:
    """Run until the restorer's window number `after` raises KeyboardInterrupt; the notes it gave."""
    notes: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        deblur_video(source, target, MixingRestorer(fail_after=after), on_note=notes.append, **options)
    return notes


# --- segments -------------------------------------------------------------------------------------


def test_segments_join_into_one_video_with_every_frame_timestamp_and_keyframes(tmp_path):
    source = media.make_video(tmp_path / "in.mp4", frames=20, fps=30, audio="aac")
    with open_source(source) as frames:
        info, items = frames.info, [(f.image, f.pts) for f in frames]
    target = tmp_path / "out.mkv"
    with SegmentedVideoSink(target, info, FFV1, key={"k": 1}, source=source) as sink:
        for index, (image, pts) in enumerate(items):
            if index in (7, 15):
                sink.cut(index - 1, items[index - 1][1])
            sink.write(image, pts)
    assert not work_folder(target).exists()
    plain = tmp_path / "plain.mkv"
    with VideoFileSink(plain, info, FFV1, source=source) as sink:
        for image, pts in items:
            sink.write(image, pts)
    assert same_video(target, plain)  # timestamps on the container's clock, and pixels
    with av.open(str(target)) as container:
        keys = [i for i, packet in enumerate(container.demux(video=0)) if packet.size and packet.is_keyframe]
    with av.open(str(plain)) as a, av.open(str(target)) as b:
        assert [bytes(p) for p in a.demux(audio=0)] == [bytes(p) for p in b.demux(audio=0)]
    assert keys == [0, 7, 15]  # each segment starts with a keyframe


@pytest.mark.parametrize(
    "name, codec",
    [("o.mp4", None), ("o.webm", None), ("o.mov", "prores_ks"), ("o.avi", None), ("o.mkv", "libx265"), ("o.mxf", None), ("o.y4m", None),
     ("o.mpg", None), ("o.ts", None), ("o.h264", None)],
)  # MXF: the segments' containers in memory get no packet, and its muxer fails to finish them empty
def test_segments_of_lossy_codecs_join_with_keyframes_at_each_start(tmp_path, name, codec):
    source = media.make_video(tmp_path / "in.mkv", frames=18, fps=25, size=(64, 64))  # x265's smallest
    with open_source(source) as frames:
        info, items = frames.info, [(f.image, f.pts) for f in frames]
    target = tmp_path / name
    with SegmentedVideoSink(target, info, EncodeOptions(codec=codec), key={}) as sink:
        for index, (image, pts) in enumerate(items):
            if index in (6, 12):
                sink.cut(index, pts)
            sink.write(image, pts)
    with av.open(str(target)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert len(decoded(target)) == 18
    assert all(packets[i].is_keyframe for i in (0, 6, 12))
    dts = [p.dts for p in packets if p.dts is not None]  # Matroska stores none for reordered frames
    if name == "o.mpg":
        # MPEG-PS stores a time only on frames that begin a 2 KB pack, and FFmpeg's reader infers the rest: where a
        # frame ends in the pack the next one begins, it can time two frames alike, with or without joins (in 40 of
        # 60 writes of these frames as one segment; their sizes vary with the encoder's threads): order only
        assert dts == sorted(dts)
    else:
        assert dts == sorted(set(dts))  # rising across the joins


def test_an_aborted_sink_keeps_finished_segments_and_the_next_continues_after_them(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=12)
    with open_source(source) as frames:
        info, items = frames.info, [(f.image, f.pts) for f in frames]
    target = tmp_path / "out.mkv"
    with pytest.raises(RuntimeError), SegmentedVideoSink(target, info, FFV1, key={"k": 1}) as sink:
        for index, (image, pts) in enumerate(items[:9]):
            if index == 5:
                sink.cut(4, items[4][1])
            sink.write(image, pts)
        raise RuntimeError("stopped")
    assert not target.exists()
    assert sorted(os.listdir(work_folder(target))) == ["lock", "run.json", "seg_00000.bin", "seg_00000.json"]

    with SegmentedVideoSink(target, info, FFV1, key={"k": 1}) as sink:
        assert (sink.resume_point.frames, sink.resume_point.restart) == (5, 4)
        assert sink.resume_point.restart_pts == items[4][1]
        for image, pts in items[5:]:
            sink.write(image, pts)
    assert same_frames(target, items)
    assert not work_folder(target).exists()


def same_frames(path, items) -> bool:
    out = decoded(path)
    return [p for p, _ in out] == [p for _, p in items] and all(
        np.array_equal(f, image) for (_, f), (image, _) in zip(out, items)
    )


def kept_segment(tmp_path, key=None):
    """An output whose work folder holds one finished 5-frame segment of a 12-frame clip."""
    source = media.make_video(tmp_path / "in.mkv", frames=12)
    with open_source(source) as frames:
        info, items = frames.info, [(f.image, f.pts) for f in frames]
    target = tmp_path / "out.mkv"
    sink = SegmentedVideoSink(target, info, FFV1, key=key or {"k": 1})
    for index, (image, pts) in enumerate(items[:7]):
        if index == 5:
            sink.cut(5, pts)
        sink.write(image, pts)
    sink.abort()
    return target, info, items


def texts(changes: list[Change]) -> list[str]:
    return [change.text for change in changes]


def test_what_changed_is_named_by_its_option():
    from deblur_cli.video_io.work_folder import listed

    weights = [{"weights": [f"/home/me/models/{n}.safetensors", 1, 2], "weights_sha256": n * 64} for n in "ab"]
    old = {"windows": {"overlap": 1, "tile": "auto"}, "restorer": weights[0]}
    new = {"windows": {"overlap": 2, "tile": "auto"}, "restorer": weights[1]}
    assert texts(key_changes(old, new)) == ["--weights", "--overlap 1, now 2"]  # it said restorer.weights_sha256
    assert texts(key_changes({"k": 1}, {"k": 2})) == ["k 1, now 2"]  # an entry no option sets: by its name
    # found in review: '--codec null, now "ffv1"; --crf 18, now null; --preset "medium", now ""' (and --strength
    # left out, past the first three)
    x264 = {"codec": None, "crf": 18, "preset": "medium", "pix_fmt": None}
    ffv1 = {"codec": "ffv1", "crf": None, "preset": "", "pix_fmt": None}
    changed = key_changes({"encode": x264, "strength": 1.0}, {"encode": ffv1, "strength": 0.5})
    assert texts(changed) == ["--codec default, now ffv1", "--strength 1.0, now 0.5"]
    assert listed([str(n) for n in range(7)]) == "0; 1; 2; 3; 4; and 2 more"
    file = {"size": 5, "sampled_sha256": "ab"}
    assert texts(key_changes({"input": file}, {"input": {**file, "size": 6}})) == [
        "another input, or the input changed"
    ]
    # found in a comparison with the earlier release: its work was said to be of another input
    told_by_path = {"path": "/v/in.mkv", "size": 5, "mtime_ns": 1}
    assert texts(key_changes({"input": told_by_path}, {"input": file})) == [
        "another input, or another version of deblur"
    ]


def test_each_change_is_told_with_its_kind():
    """The note on discarded work is chosen by the changes' kinds, not by their wording (pipeline._resume)."""
    file = {"size": 5, "sampled_sha256": "ab"}
    old = {"input": file, "deblur": "0.0.9", "held": None, "windows": {"overlap": 1}, "restorer": {"noise": None}}
    new = {"input": {**file, "size": 6}, "deblur": "0.1.0", **MARKERS, "windows": {"overlap": 2},
           "restorer": {"noise": "by frame"}}  # fmt: skip
    assert key_changes(old, new) == [
        Change("input", "another input, or the input changed"),
        Change("version", "another version of deblur"),  # deblur's version, its markers, the restorer's: said once
        Change("option", "--overlap 1, now 2"),
    ]
    told_by_path = {"input": {"path": "/v/in.mkv", "size": 5, "mtime_ns": 1}}
    assert key_changes(told_by_path, {"input": file}) == [
        Change("input_or_version", "another input, or another version of deblur")
    ]
    assert key_changes({"k": 1, "deblur": "0.0.9"}, {"k": 1, "deblur": "0.1.0"}) == [
        Change("version", "another version of deblur")
    ]



@pytest.mark.parametrize(
    "name, before, after, told",
    [
        ("encode.audio", True, False, "--no-audio added"),  # it said '--no-audio true, now false'
        ("encode.audio", False, True, "--no-audio left out"),
        ("windows.tile", "auto", None, "--tile auto, now 0"),  # it said 'now default': auto is the default
        ("windows.tile", 256, "auto", "--tile 256, now auto"),
        ("windows.scene_cuts", True, False, "--no-scene-cuts added"),
        ("side_by_side", False, True, "--side-by-side added"),
        ("restorer.compiled", True, None, "--compile left out"),
        ("restorer.dtype", "torch.bfloat16", "torch.float32", "--precision bf16, now fp32"),
        ("span", [0, None], [1.5, 3.0], "the whole input, now --start 1.5 --end 3"),
        ("span", [0, 2.0], [4, None], "--end 2, now --start 4"),
        ("image_rate", None, "30000/1001", "--fps default, now 30000/1001"),
        ("windows.last", "split", "shift", "--last-window split, now shift"),
    ],
)
def test_each_option_is_told_as_it_is_typed(name, before, after, told):
    """Found in review: the refusal's values were written one way for every option, so that "run it as it was"
    pointed the wrong way for --no-audio added, and --tile 0 read as the default."""

    def key(value: object) -> dict:
        *path, last = name.split(".")
        entry = key = {}
        for part in path:
            entry = entry.setdefault(part, {})
        entry[last] = value
        return key

    assert texts(key_changes(key(before), key(after))) == [told]


def test_every_entry_an_option_sets_is_told_by_its_option(tmp_path):
    info = describe(media.make_video(tmp_path / "in.mkv", frames=2))
    key = pipeline.resume_key(
        Path(__file__), info, MixingRestorer(), WindowOptions(), EncodeOptions(), ReadOptions(), False
    )
    key["restorer"] |= {"weights": ["/w/a.safetensors"], "weights_sha256": "ab", "dtype": "torch.float32"}
    key["restorer"] |= {"device": "cpu", "compiled": True, "steps": 20, "eta": 0.0, "samples": 1, "seed": 0}

    told = work_folder_module._OPTIONS.keys() | set(work_folder_module._NOT_OPTIONS)

    def untold(entry: dict, prefix: str = "") -> list[str]:
        found = []
        for name, value in entry.items():
            if prefix + name not in told:
                found += untold(value, f"{prefix}{name}.") if isinstance(value, dict) else [prefix + name]
        return found

    assert untold(key) == []


RESTORER = {"weights": ["/w/a.safetensors"], "weights_sha256": "ab", "noise": "by frame"}


def _refused_or_discarded(target, info, key: dict, refused: bool) -> None:
    """A sink opened under `key` beside the 5 frames kept_segment kept: refused (the command asked for something
    else, which it could continue), or starting afresh with them discarded."""
    if refused:
        with pytest.raises(OutputError, match="an earlier run kept 5 restored frames"):
            SegmentedVideoSink(target, info, FFV1, key=key)
        return
    sink = SegmentedVideoSink(target, info, FFV1, key=key)
    assert (sink.resume_point, sink.discarded) == (None, 5)
    sink.abort()


@pytest.mark.parametrize(
    "old, refused",
    [({"deblur": "0.0.9"}, False),  # an upgrade: no command continues it
     *[({marker: None}, False) for marker in MARKERS],  # work kept before deblur wrote as it marks there
     ({"restorer": {**RESTORER, "weights": ["/w/a.safetensors", 1, 2], "weights_sha256": "aa"}}, False),  # in place
     ({"restorer": {**RESTORER, "weights": ["/w/b.safetensors", 1, 2], "weights_sha256": "bb"}}, True),  # another file
     ({"restorer": {"weights": ["/w/a.safetensors"], "weights_sha256": "ab"}}, False),  # its noise drawn otherwise
     ({"windows": {"overlap": 1}}, True)],
)  # fmt: skip
def test_only_work_the_command_could_continue_is_refused(tmp_path, old, refused):
    """Found in review: after an upgrade, "run it as it was" could not continue the work it refused."""
    new = {"deblur": "0.1.0", **MARKERS, "windows": {"overlap": 2}, "restorer": RESTORER}
    target, info, _ = kept_segment(tmp_path, key={**new, **old})
    _refused_or_discarded(target, info, new, refused)


TIMING = {"rate": "30", "time_base": "1/15360", "grid": None}


@pytest.mark.parametrize(
    "old, refused, told",
    [({"timing": {**TIMING, "rate": "5000/167"}}, False, ["another version of deblur"]),  # the rate rules changed
     ({"timing": {**TIMING, "grid": "30"}}, False, ["another version of deblur"]),
     ({"rate": "nominal, AVI on the frames' grid", "timing": None}, False, ["another version of deblur"]),  # retired
     ({"image_rate": "25", "timing": {**TIMING, "rate": "25"}}, True, ["--fps 25, now default"]),  # --fps sets it
     ({"deinterlace": "double", "timing": {**TIMING, "rate": "60"}}, True, ["--deinterlace double, now auto"])],
)  # fmt: skip
def test_work_kept_on_another_clock_is_discarded_unless_an_option_set_it(tmp_path, old, refused, told):
    """Found in review (health50 F5): the key held no rate, and a marker kept by hand ("rate") stood in for it, which
    three later rate changes forgot. The key holds the clock the output is encoded on: a release that times the input
    otherwise discards the work, and an option that sets it (--fps, --deinterlace double) is told as itself."""
    new = {"deblur": "0.1.0", **MARKERS, "image_rate": None, "deinterlace": "auto", "timing": TIMING,
           "restorer": RESTORER}  # fmt: skip
    kept = {name: value for name, value in {**new, **old}.items() if value is not None or name not in old}
    assert texts(key_changes(kept, new)) == told
    target, info, _ = kept_segment(tmp_path, key=kept)
    _refused_or_discarded(target, info, new, refused)


def test_work_kept_at_another_encoded_rate_is_not_reused(tmp_path, monkeypatch):
    """Found in review (health50 F5): segments an earlier release encoded on one clock were joined to those encoded
    on another (nothing at the join compares clocks). Here the AVI grid rule changes between the runs: a phone clip
    (30 fps, then 15) was kept on its 30 fps grid, and is now encoded at its average rate."""
    stamps = [*range(0, 18), *range(18, 42, 2)]  # 1/30 s ticks: 18 frames at 30 fps, then 12 at 15 fps
    source = media.make_video(tmp_path / "in.mp4", frames=30, fps=30, pts=stamps, time_base=Fraction(1, 30))
    target = tmp_path / "out.avi"
    assert "are kept in" in interrupted(source, target, after=6, windows=WINDOWS, encode=FFV1)[-1]
    monkeypatch.setattr(frame_timing, "MAX_GRID_RATE", 25)  # another rule: no grid finer than 25 fps
    touched = source.stat().st_mtime_ns
    os.utime(source, ns=(touched, touched + 1))  # its timing read again; the same input, by its content
    notes: list[str] = []
    result = deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1, on_note=notes.append)
    assert result.resumed == 0 and "were made by another version of deblur: starting over" in notes[0], notes
    monkeypatch.undo()
    os.utime(source, ns=(touched, touched + 2))
    whole = tmp_path / "whole.avi"  # the control: the clocks differ
    deblur_video(source, whole, MixingRestorer(), windows=WINDOWS, encode=FFV1)
    with av.open(str(target)) as output, av.open(str(whole)) as grid:
        assert output.streams.video[0].time_base != grid.streams.video[0].time_base == Fraction(1, 30)


def test_the_same_weights_elsewhere_continue_the_work(tmp_path):
    """Found in review: the bundled weights of another install of the same release (a new venv) lie at another
    path, and the work kept with them was refused as made 'with other settings (--weights)'."""
    new = {"deblur": "0.1.0", **MARKERS, "restorer": RESTORER}
    moved = {**new, "restorer": {**RESTORER, "weights": ["/venv2/deblur_cli/weights/bundled/a.safetensors"]}}
    target, info, _ = kept_segment(tmp_path, key=moved)
    sink = SegmentedVideoSink(target, info, FFV1, key=new)
    assert sink.resume_point.frames == 5 and sink.discarded == 0
    sink.abort()
    other = {**new, "restorer": {**RESTORER, "weights_sha256": "cd"}}  # other bytes at the same path: discarded
    (tmp_path / "b").mkdir()
    target, info, _ = kept_segment(tmp_path / "b", key=other)
    sink = SegmentedVideoSink(target, info, FFV1, key=new)
    assert (sink.resume_point, sink.discarded) == (None, 5)
    sink.abort()


def test_another_key_keeps_the_work_and_refuses_fresh_starts_over_and_says_how_much_it_dropped(tmp_path):
    # other settings for the same input discarded the work at once: a mistyped option cost it all
    target, info, _ = kept_segment(tmp_path)
    with pytest.raises(OutputError, match=r"an earlier run kept 5 restored frames of this input, made with other "
                       r"settings \(k 1, now 2\)") as refused:  # fmt: skip
        SegmentedVideoSink(target, info, FFV1, key={"k": 2})
    assert "--no-resume" in refused.value.hint
    assert {"seg_00000.bin", "seg_00000.json"} <= set(os.listdir(work_folder(target)))
    sink = SegmentedVideoSink(target, info, FFV1, key={"k": 1})  # the command as it was: continued
    assert sink.resume_point.frames == 5
    sink.abort()

    sink = SegmentedVideoSink(target, info, FFV1, key={"k": 2}, fresh=True)
    assert (sink.resume_point, sink.discarded) == (None, 5)
    sink.abort()
    assert not work_folder(target).exists()  # nothing finished was left to keep


def test_a_damaged_segment_is_not_reused(tmp_path):
    target, info, _ = kept_segment(tmp_path)
    data = work_folder(target) / "seg_00000.bin"
    data.write_bytes(data.read_bytes()[:-10])  # as if the machine died while writing it
    sink = SegmentedVideoSink(target, info, FFV1, key={"k": 1})
    assert sink.resume_point is None and sink.damaged == 5  # said, not dropped without a word (chaos48)
    sink.abort()


def test_a_segment_damaged_on_disk_without_changing_its_size_is_not_reused(tmp_path):
    # its size was all that was checked: zeroed bytes in the middle went into the output as broken frames
    target, info, _ = kept_segment(tmp_path)
    data = work_folder(target) / "seg_00000.bin"
    damaged = bytearray(data.read_bytes())
    damaged[len(damaged) // 2 : len(damaged) // 2 + 64] = bytes(64)
    data.write_bytes(bytes(damaged))
    sink = SegmentedVideoSink(target, info, FFV1, key={"k": 1})
    assert sink.resume_point is None and sink.damaged == 5
    sink.abort()
    (tmp_path / "whole").mkdir()
    target, info, _ = kept_segment(tmp_path / "whole")  # undamaged, it is reused
    sink = SegmentedVideoSink(target, info, FFV1, key={"k": 1})
    assert sink.resume_point.frames == 5 and sink.damaged == 0
    sink.abort()


def test_a_run_stopped_by_an_image_it_cannot_read_does_not_promise_that_the_same_command_goes_on(tmp_path):
    """Found by fuzz48: "the same command continues from there" stopped at the same image again, and the image
    repaired made another input, whose kept frames were discarded."""
    images = media.make_images(tmp_path / "frames", count=40)
    images[30].write_bytes(images[30].read_bytes()[: images[30].stat().st_size // 2])  # its header whole
    notes: list[str] = []
    said = notes.append
    with pytest.raises(InputError):
        deblur_video(images[0].parent, tmp_path / "o.mkv", MixingRestorer(), windows=WINDOWS, encode=FFV1, on_note=said)
    assert len(notes) == 1 and notes[0].startswith("the first ")
    assert "continues from there if the input can then be read as it is (a repaired one starts over; delete" in notes[0]


def test_a_run_says_that_kept_frames_it_found_damaged_are_restored_again(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=14)
    target = tmp_path / "out.mkv"
    interrupted(source, target, after=4, windows=WINDOWS, encode=FFV1)
    data = work_folder(target) / "seg_00000.bin"
    data.write_bytes(bytes(len(data.read_bytes())))  # its bytes lost, its size kept
    notes: list[str] = []
    deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1, on_note=notes.append)
    assert len(notes) == 1 and notes[0].startswith(f"7 frames an earlier run kept for {target} are damaged")


def test_a_second_run_on_the_same_output_is_refused_while_the_first_runs(tmp_path):
    target, info, _ = kept_segment(tmp_path)
    first = SegmentedVideoSink(target, info, FFV1, key={"k": 1})
    with pytest.raises(OutputError, match="another deblur run is writing"):
        SegmentedVideoSink(target, info, FFV1, key={"k": 1})
    assert first.resume_point.frames == 5  # the refused one touched nothing
    first.abort()
    SegmentedVideoSink(target, info, FFV1, key={"k": 1}).abort()


class _Interleaved:
    """work_folder's fcntl, with `meanwhile()` run once just before the next flock: what another run does
    between this run's opening the lock file and its locking it."""

    def __init__(self, meanwhile):
        self.meanwhile = meanwhile
        self.LOCK_EX, self.LOCK_NB = fcntl.LOCK_EX, fcntl.LOCK_NB

    def flock(self, fd, operation):
        meanwhile, self.meanwhile = self.meanwhile, lambda: None
        meanwhile()
        return fcntl.flock(fd, operation)


@pytest.mark.skipif(fcntl is None, reason="runs are locked with flock")
def test_a_lock_file_its_holder_removed_is_not_a_lock(tmp_path, monkeypatch):
    """A run that opened the lock file as its holder finished (removing it) locked the removed file: it
    and every later run (--force or not) all wrote the output at once, and the last rename won."""
    target = tmp_path / "out.mkv"
    first = OutputLock(target)
    monkeypatch.setattr(work_folder_module, "fcntl", _Interleaved(first.release))
    second = OutputLock(target)  # opened first's lock file, then first finished
    with pytest.raises(OutputBusyError, match=f"another deblur run is writing {target}"):
        OutputLock(target)
    second.release()
    assert not work_folder(target).exists()
    OutputLock(target).release()


@pytest.mark.skipif(fcntl is None, reason="runs are locked with flock")
def test_a_run_that_starts_as_another_ends_takes_the_lock(tmp_path, monkeypatch):
    """The work folder removed between this run's finding it and its opening the lock file in it was an
    error ("cannot create files in ..."), though nothing held the output any more."""
    target = tmp_path / "out.mkv"
    first = OutputLock(target)
    real = work_folder_module._anyone_may_create_in

    def first_ends_meanwhile(folder):  # asked once the folder is found there
        monkeypatch.setattr(work_folder_module, "_anyone_may_create_in", real)
        first.release()
        return real(folder)

    monkeypatch.setattr(work_folder_module, "_anyone_may_create_in", first_ends_meanwhile)
    second = OutputLock(target)
    with pytest.raises(OutputBusyError):
        OutputLock(target)
    second.release()
    assert not work_folder(target).exists()


def test_a_lock_left_by_a_run_that_died_is_taken(tmp_path):
    """flock's lock goes with its process: a lock file left behind blocks nothing."""
    target = tmp_path / "out.mkv"
    work_folder(target).mkdir()
    (work_folder(target) / "lock").write_bytes(b"")
    OutputLock(target).release()
    assert not work_folder(target).exists()


@pytest.mark.parametrize("name", ["out.mkv", "frames"])
def test_a_restorer_without_identity_writes_under_the_lock_too(tmp_path, name):
    """Without a resume key (a restorer with no `identity`) video and PNG-frame outputs took no lock:
    two runs wrote one output at once."""
    source = media.make_video(tmp_path / "in.mkv", frames=4)
    target = tmp_path / name
    options = dict(windows=WINDOWS, encode=FFV1 if name == "out.mkv" else EncodeOptions())
    held = OutputLock(target)  # another run, writing the output
    with pytest.raises(OutputBusyError, match=f"another deblur run is writing {target}"):
        deblur_video(source, target, IdentityRestorer(), **options)
    assert not target.exists()
    held.release()
    with pytest.raises(KeyboardInterrupt):
        deblur_video(source, target, FailingRestorer(0, KeyboardInterrupt()), **options)
    assert sorted(os.listdir(tmp_path)) == ["in.mkv"]  # nothing left, the lock neither
    deblur_video(source, target, IdentityRestorer(), **options)
    assert sorted(os.listdir(tmp_path)) == sorted(["in.mkv", name])


@pytest.mark.parametrize("name", ["out.mkv", "out.png"])
def test_a_run_that_keeps_no_work_writes_in_the_folder_of_its_lock_which_the_next_run_empties(tmp_path, name):
    """Found by chaos48: the temporary output of a run that keeps no work (a photo; a restorer without an
    identity) lay beside the output, where a killed run's stayed for good, hidden."""
    if name == "out.png":
        source = media.write_image(tmp_path / "in.png", media.pattern(0, 32, 32))
    else:
        source = media.make_video(tmp_path / "in.mkv", frames=4)
    seen: list[list[str]] = []

    class Looking(IdentityRestorer):
        def __call__(self, frames):
            seen.append(sorted(os.listdir(tmp_path)))
            return super().__call__(frames)

    encode = FFV1 if name == "out.mkv" else EncodeOptions()
    deblur_video(source, tmp_path / name, Looking(), windows=WINDOWS, encode=encode)
    assert seen[0] == sorted([source.name, work_folder(tmp_path / name).name])  # no temporary file beside it
    left = work_folder(tmp_path / name)  # as a killed run leaves it: its temporary output, a lock no one holds
    left.mkdir()
    for leftover in (f".out.deblur-0badf00d{Path(name).suffix}", "lock"):
        (left / leftover).write_bytes(b"left by a killed run")
    deblur_video(source, tmp_path / name, IdentityRestorer(), windows=WINDOWS, encode=encode, force=True)
    assert sorted(os.listdir(tmp_path)) == sorted([source.name, name])


# --- the pipeline ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.mkv", "out.png"])
def test_an_output_another_run_finished_before_this_one_took_the_lock_is_not_replaced(tmp_path, monkeypatch, name):
    """The existence check ran only before the lock: a run started as another finished replaced its output."""
    if name == "out.png":
        source = media.write_image(tmp_path / "in.png", media.pattern(0, 32, 32))
    else:
        source = media.make_video(tmp_path / "in.mp4", frames=4)
    target = tmp_path / name
    real = pipeline.open_sink

    def finished_meanwhile(path, *args, **kwargs):  # the other run renames its output into place, and unlocks
        target.write_bytes(b"theirs")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "open_sink", finished_meanwhile)
    with pytest.raises(OutputError, match=f"output exists: {target}"):
        deblur_video(source, target, MixingRestorer(), windows=WINDOWS)
    assert target.read_bytes() == b"theirs" and sorted(p.name for p in tmp_path.iterdir()) == ["in" + source.suffix, name]
    deblur_video(source, target, MixingRestorer(), windows=WINDOWS, force=True)  # --force replaces it
    assert target.read_bytes() != b"theirs"


@pytest.mark.parametrize("name", ["out.mkv", "frames"])
def test_a_stop_as_the_output_is_renamed_into_place_leaves_it_complete_and_no_work(tmp_path, monkeypatch, name):
    """Found by chaos48: Ctrl-C just after the joined output was renamed into place kept the segments for a later
    run and said "the same command only joins them", which then found the output there ("output exists")."""
    import signal

    import deblur_cli.video_io.atomic as atomic_module
    from deblur_cli.interrupts import stop_now

    source = media.make_video(tmp_path / "in.mkv", frames=14)
    options = dict(windows=WINDOWS, encode=FFV1 if name == "out.mkv" else EncodeOptions())
    deblur_video(source, tmp_path / f"whole-{name}", MixingRestorer(), **options)
    real = atomic_module.commit

    def then_ctrl_c(temp, final):  # the signal arrives as the rename returns, the handler runs at once
        real(temp, final)
        if final.name == name:
            stop_now(signal.SIGINT, None)

    monkeypatch.setattr(atomic_module, "commit", then_ctrl_c)
    notes: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        deblur_video(source, tmp_path / name, MixingRestorer(), on_note=notes.append, **options)
    assert notes == [f"{tmp_path / name} was finished before the stop: it is complete"]
    assert sorted(os.listdir(tmp_path)) == sorted(["in.mkv", name, f"whole-{name}"])  # no work folder, no lock
    if name == "out.mkv":
        assert same_video(tmp_path / name, tmp_path / f"whole-{name}")
    else:
        assert sorted(os.listdir(tmp_path / name)) == sorted(os.listdir(tmp_path / f"whole-{name}"))


@pytest.mark.parametrize("after", [3, 6])
def test_a_resumed_run_writes_what_an_uninterrupted_run_writes(tmp_path, after):
    source = media.make_video(tmp_path / "in.mp4", frames=24, fps=30, audio="aac")
    once = MixingRestorer()
    whole = deblur_video(source, tmp_path / "whole.mkv", once, windows=WINDOWS, encode=FFV1)
    target = tmp_path / "out.mkv"
    notes = interrupted(source, target, after=after, windows=WINDOWS, encode=FFV1)
    assert not target.exists()
    segments = [json.loads(p.read_text()) for p in work_folder(target).glob("seg_*.json")]
    kept = max(segment["first"] + segment["frames"] for segment in segments)
    assert f"the first {kept} frames of {target} are kept" in notes[-1]

    restorer = MixingRestorer()
    notes, calls = [], []

    def progress(done, total):
        calls.append((done, total, len(restorer.calls)))

    result = deblur_video(
        source, target, restorer, windows=WINDOWS, encode=FFV1, on_note=notes.append, progress=progress
    )
    assert result.resumed == kept and result.frames == whole.frames == 24
    # the kept frames and the total before any window is restored (the bar said 0/? until the first was)
    assert calls[0] == (kept, 24, 0) and [c[0] for c in calls[1:]] == list(range(kept + 1, 25))
    assert notes == [f"continuing an interrupted run of {target}: {kept} of 24 frames were kept"]
    assert same_video(target, tmp_path / "whole.mkv")
    # the resumed run restored the windows from the one before the kept frames' end, no earlier
    assert sum(shape[0] for shape in restorer.calls) <= sum(shape[0] for shape in once.calls) - kept + 4
    with av.open(str(target)) as a, av.open(str(tmp_path / "whole.mkv")) as b:
        assert [bytes(p) for p in a.demux(audio=0)] == [bytes(p) for p in b.demux(audio=0)]
    assert not work_folder(target).exists()


def test_a_run_at_strength_0_keeps_its_frames_and_continues_as_an_uninterrupted_run(tmp_path):
    """Found in review: at --strength 0 the frames pass one at a time, and the cuts waited for a window's frames to
    be read ahead, which never happened: a run of hours kept nothing, and said it stopped before the first."""
    source = media.make_video(tmp_path / "in.mp4", frames=24, fps=30, audio="aac")
    _stopped_at_strength_0_and_continued(source, tmp_path, stop=15, kept=12)
    with av.open(str(tmp_path / "out.mkv")) as a, av.open(str(tmp_path / "whole.mkv")) as b:
        assert [bytes(p) for p in a.demux(audio=0)] == [bytes(p) for p in b.demux(audio=0)]


def test_a_run_at_strength_0_keeps_its_frames_in_a_still_shot(tmp_path):
    """A segment ends before a held frame only after twice SEGMENT_FRAMES, since a run continuing there could not
    write it as the restored frame before it; at --strength 0 that frame is the input's, as every other."""
    source = media.make_held(tmp_path / "still.mkv", [0, 1, 2, 3, 4] + [5] * 19, size=(32, 32))
    _stopped_at_strength_0_and_continued(source, tmp_path, stop=10, kept=6)


def _stopped_at_strength_0_and_continued(source: Path, folder: Path, *, stop: int, kept: int) -> None:
    """A run of `source` at --strength 0 into folder/out.mkv, stopped once `stop` frames were written, keeps `kept`
    frames, and the same run continues from them to the frames and timestamps of an uninterrupted run's
    (folder/whole.mkv)."""
    whole, target = folder / "whole.mkv", folder / "out.mkv"
    deblur_video(source, whole, MixingRestorer(), windows=WINDOWS, encode=FFV1, mix=Mix(0))

    def stopping(done, total):
        if done == stop:
            raise KeyboardInterrupt

    notes: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        deblur_video(
            source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1, mix=Mix(0),
            progress=stopping, on_note=notes.append,
        )  # fmt: skip
    assert notes == [
        f"the first {kept} frames of {target} are kept in {work_folder(target)}: the same command continues from"
        " there (delete that folder to free its space)"
    ]
    result = deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1, mix=Mix(0))
    assert result.resumed == kept and result.frames == 24
    assert same_video(target, whole)


def test_a_slow_run_keeps_its_work_a_minute_at_a_time_and_says_when_it_kept_nothing(tmp_path, monkeypatch):
    """Segments of 120 frames cost a diffusion model on a CPU hours each, all lost to a Ctrl-C before the
    first ended, and the run said nothing of it. Now a segment also ends after SEGMENT_SECONDS."""
    source = media.make_video(tmp_path / "in.mp4", frames=24, fps=30)
    deblur_video(source, tmp_path / "whole.mkv", MixingRestorer(), windows=WINDOWS, encode=FFV1)
    monkeypatch.setattr(pipeline, "SEGMENT_FRAMES", 1000)
    monkeypatch.setattr(pipeline, "SEGMENT_SECONDS", 1e9)
    monkeypatch.setattr(pipeline, "SEGMENT_MIN_FRAMES", 3)
    monkeypatch.setattr(pipeline, "SEGMENT_MOST_SECONDS", 2e9)
    target = tmp_path / "out.mkv"
    notes = interrupted(source, target, after=4, windows=WINDOWS, encode=FFV1)
    assert notes == [
        f"no restored frames of {target} were kept: a run keeps its frames 1000 at a time (or 1e+09 s of restoring,"
        " at least 3 frames; or 2e+09 s of restoring), and this one stopped before the first were finished"
    ]
    target.write_bytes(b"earlier")  # found in review: with --force, "nothing of out.mkv was kept" read as lost
    notes = interrupted(source, target, after=4, windows=WINDOWS, encode=FFV1, force=True)
    assert notes[-1].startswith(f"no restored frames of {target} were kept ({target}, already there, is unchanged): ")
    assert target.read_bytes() == b"earlier"
    target.unlink()
    monkeypatch.setattr(pipeline, "SEGMENT_SECONDS", 0.0)  # every restart point 3 frames on is due
    _kept_and_continued(source, target, tmp_path / "whole.mkv")


def test_a_very_slow_run_keeps_its_work_however_few_frames_it_restored(tmp_path, monkeypatch):
    """Found in review: 30 frames of 4K took 8 minutes on a CPU, all lost to a stop before them. After
    SEGMENT_MOST_SECONDS a segment ends at the next restart point, fewer than SEGMENT_MIN_FRAMES frames on."""
    source = media.make_video(tmp_path / "in.mp4", frames=24, fps=30)
    deblur_video(source, tmp_path / "whole.mkv", MixingRestorer(), windows=WINDOWS, encode=FFV1)
    monkeypatch.setattr(pipeline, "SEGMENT_FRAMES", 1000)
    monkeypatch.setattr(pipeline, "SEGMENT_MIN_FRAMES", 1000)
    monkeypatch.setattr(pipeline, "SEGMENT_SECONDS", 0.0)
    monkeypatch.setattr(pipeline, "SEGMENT_MOST_SECONDS", 0.0)
    _kept_and_continued(source, tmp_path / "out.mkv", tmp_path / "whole.mkv")


def _kept_and_continued(source: Path, target: Path, whole: Path) -> None:
    """A run of `source` into `target` stopped after 4 windows keeps frames, and the same run continues from them
    to the frames of `whole`, an uninterrupted run's."""
    notes = interrupted(source, target, after=4, windows=WINDOWS, encode=FFV1)
    assert "frames of" in notes[-1] and "are kept" in notes[-1]
    result = deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1)
    assert result.resumed > 0 and same_video(target, whole)


def test_resuming_a_span_of_an_image_sequence_and_with_side_by_side(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(30):
        media.write_image(folder / f"f{i:03d}.png", media.pattern(i, 64, 48))
    options = dict(windows=WINDOWS, encode=FFV1, read=ReadOptions(Span(0.2, 1.1)), side_by_side=True)
    deblur_video(folder, tmp_path / "whole.mkv", MixingRestorer(), **options)
    interrupted(folder, tmp_path / "out.mkv", after=5, **options)
    result = deblur_video(folder, tmp_path / "out.mkv", MixingRestorer(), **options)
    assert result.resumed > 0
    assert same_video(tmp_path / "out.mkv", tmp_path / "whole.mkv")


def test_other_settings_keep_the_work_and_are_refused_and_resume_false_starts_over(tmp_path, monkeypatch):
    source = media.make_video(tmp_path / "in.mkv", frames=24)
    target = tmp_path / "out.mkv"
    interrupted(source, target, after=6, windows=WINDOWS, encode=FFV1)
    other = WindowOptions(window=4, overlap=2, tile=None)
    with pytest.raises(OutputError, match=r"made with other settings \(--overlap 1, now 2\)"):
        deblur_video(source, target, MixingRestorer(), windows=other, encode=FFV1)
    with pytest.raises(OutputError, match="made with other settings"):
        deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1, mix=Mix(0.5))
    notes: list[str] = []

    # an option the encoder does not take (--crf for FFV1, which the run warns of) keeps the work
    result = deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=replace(FFV1, crf=30),
                          on_note=notes.append)  # fmt: skip
    assert result.resumed > 0, notes

    target.unlink()
    interrupted(source, target, after=6, windows=WINDOWS, encode=FFV1)
    notes = []
    options = dict(windows=other, encode=FFV1, resume=False, on_note=notes.append)
    result = deblur_video(source, target, MixingRestorer(), **options)
    assert result.resumed == 0 and "are discarded (--no-resume): starting over" in notes[0]

    target.unlink()
    interrupted(source, target, after=6, windows=WINDOWS, encode=FFV1)
    media.make_video(source, frames=24, size=(64, 32))  # new content at the same path (a re-export)
    notes = []
    assert deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1, on_note=notes.append).resumed == 0
    assert "were made from another input, or the input has changed since" in notes[0]  # not "input.digest"

    # work an earlier deblur kept, made otherwise (a marker no option sets differs): said so, not in the key's names
    target.unlink()
    interrupted(source, target, after=6, windows=WINDOWS, encode=FFV1)
    monkeypatch.setattr(pipeline, "__version__", "9.9.9")
    notes = []
    result = deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1, on_note=notes.append)
    assert result.resumed == 0
    assert "were made by another version of deblur: starting over" in notes[0], notes


def test_an_input_copied_moved_or_touched_keeps_the_work(tmp_path):
    """The input is told by its content: kept work was discarded as made from another input when the file was
    touched (a sync tool, a copy without its times) or moved, though its frames were the same."""
    source = media.make_video(tmp_path / "in.mkv", frames=24)
    target = tmp_path / "out.mkv"
    interrupted(source, target, after=6, windows=WINDOWS, encode=FFV1)
    moved = source.rename(tmp_path / "moved.mkv")
    os.utime(moved, ns=(0, 0))
    notes: list[str] = []
    result = deblur_video(moved, target, MixingRestorer(), windows=WINDOWS, encode=FFV1, on_note=notes.append)
    assert result.resumed > 0, notes
    assert notes[0].startswith(f"continuing an interrupted run of {target}")


@pytest.mark.parametrize("size", [100, 3 << 20, 50 << 20])
def test_an_input_is_told_by_samples_of_its_bytes_wherever_they_change(tmp_path, size):
    """A byte changed at either end, or in a sampled block, changes the identity; up to about 3 MiB, anywhere."""
    from deblur_cli.video_io.sources import input_identity

    path = tmp_path / "clip.mp4"
    data = bytearray(os.urandom(1 << 16)) * (size >> 16) + bytearray(os.urandom(size % (1 << 16)))
    path.write_bytes(data)
    first = input_identity(path)
    assert first["size"] == size and input_identity(path) == first
    for where in (0, size // 2, size - 1) if size < 3 << 20 else (0, (1 << 20) + (size - (2 << 20)) // 16, size - 1):
        changed = bytearray(data)
        changed[where] ^= 1
        path.write_bytes(changed)
        assert input_identity(path) != first, where


def test_a_restorer_without_identity_writes_no_segments(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=24)
    target = tmp_path / "out.mkv"
    with pytest.raises(KeyboardInterrupt):
        deblur_video(source, target, FailingIdentity(), windows=WINDOWS, encode=FFV1)
    assert sorted(os.listdir(tmp_path)) == ["in.mkv"]


class FailingIdentity(IdentityRestorer):
    def __call__(self, frames):
        if len(self.calls) >= 6:
            raise KeyboardInterrupt
        return super().__call__(frames)


def test_a_failure_other_than_ctrl_c_keeps_the_work_too(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=24)
    target = tmp_path / "out.mkv"
    notes: list[str] = []
    restorer = MixingRestorer(fail_after=6, error=InputError("damaged"))
    with pytest.raises(InputError):
        deblur_video(source, target, restorer, windows=WINDOWS, encode=FFV1, on_note=notes.append)
    assert "are kept in" in notes[-1] and work_folder(target).is_dir()


def test_a_video_that_changed_in_place_is_reported(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=24)
    with open_source(source) as frames:
        with pytest.raises(InputError, match="no frame has the timestamp"):
            frames.skip_to(5, 12345)


# --- the command ----------------------------------------------------------------------------------


def test_a_continued_runs_summary_counts_the_frames_its_rate_is_of(tmp_path, monkeypatch):
    """Found in review: "60 frames 1280x720 in 48.4 s (0.54 fps, ...; 34 of them restored by an earlier run)",
    whose rate was of the 26 frames restored then, not of the 60."""
    import re

    source = media.make_video(tmp_path / "in.mp4", frames=24, fps=30)
    restorers = iter([MixingRestorer(fail_after=5), MixingRestorer()])
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: next(restorers))
    args = ["run", str(source), "-o", str(tmp_path / "out.mkv"), "--window", "4", "--overlap", "1", "--tile", "0"]
    assert CliRunner().invoke(app, [*args, "--codec", "ffv1"]).exit_code == 130
    second = CliRunner().invoke(app, [*args, "--codec", "ffv1"])
    assert second.exit_code == 0, second.output
    done = re.search(r"24 frames \d+x\d+ \((\d+) from an earlier run\) in [\d.]+ s \((\d+) restored at [\d.]+ fps, ",
                     " ".join(second.stderr.split()))  # fmt: skip
    assert done is not None and int(done[1]) + int(done[2]) == 24 and int(done[1]) > 0, second.stderr


def test_deblur_run_continues_and_says_so(tmp_path, monkeypatch):
    source = media.make_video(tmp_path / "in.mp4", frames=24, fps=30)
    target = tmp_path / "out.mkv"
    restorers = iter([MixingRestorer(fail_after=5), MixingRestorer(), MixingRestorer(), MixingRestorer()])
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: next(restorers))
    runner = CliRunner()
    args = ["run", str(source), "-o", str(target), "--window", "4", "--overlap", "1", "--tile", "0", "--codec", "ffv1"]
    first = runner.invoke(app, args)
    assert first.exit_code == 130
    assert "note: the first" in first.stderr and "the same command continues from there" in first.stderr

    typo = runner.invoke(app, [*args[:-6], "--overlap", "2", *args[-4:]])  # the kept work is not lost to it
    assert typo.exit_code == 1 and "made with other settings (--overlap 1, now 2)" in typo.stderr
    assert "error:" in typo.stderr and "Traceback" not in typo.output
    second = runner.invoke(app, [*args, "--json"])
    assert second.exit_code == 0, second.stderr
    assert "note: continuing an interrupted run" in second.stderr
    summary = json.loads(second.stdout)
    assert summary["frames"] == 24 and summary["resumed_frames"] > 0

    fresh = runner.invoke(app, [*args, "-f", "--no-resume", "--json"])
    assert fresh.exit_code == 0
    assert json.loads(fresh.stdout)["resumed_frames"] == 0


def test_an_unknown_suffix_is_one_clear_error_and_leaves_nothing(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=4)
    with open_source(source) as frames:
        info = frames.info
    with pytest.raises(OutputError, match="cannot tell the video format of out.xyz"):
        SegmentedVideoSink(tmp_path / "out.xyz", info, EncodeOptions(), key={})
    assert sorted(os.listdir(tmp_path)) == ["in.mkv"]


def test_variable_frame_rate_segments_join_with_their_timestamps(tmp_path):
    stamps = [0, 1, 3, 4, 7, 9, 10, 14, 15, 16, 20, 21, 25, 26, 30, 33, 34, 35]
    source = media.make_video(tmp_path / "in.mp4", frames=len(stamps), pts=stamps, time_base=Fraction(1, 30))
    with open_source(source) as frames:
        info, items = frames.info, [(f.image, f.pts) for f in frames]
    for name in ("o.mp4", "o.mkv"):
        target = tmp_path / name
        with SegmentedVideoSink(target, info, EncodeOptions(), key={}) as sink:
            for index, (image, pts) in enumerate(items):
                if index in (5, 11):
                    sink.cut(index, pts)
                sink.write(image, pts)
        plain = tmp_path / f"plain-{name}"
        with VideoFileSink(plain, info, EncodeOptions()) as sink:
            for image, pts in items:
                sink.write(image, pts)
        assert media.read_video_pts(target) == media.read_video_pts(plain)  # Matroska's clock counts milliseconds
    pts, time_base = media.read_video_pts(tmp_path / "o.mp4")
    assert [p * time_base for p in pts] == [Fraction(s, 30) for s in stamps]


def test_a_join_that_fails_keeps_every_segment_and_the_next_run_only_joins(tmp_path, monkeypatch):
    source = media.make_video(tmp_path / "in.mkv", frames=24)
    target = tmp_path / "out.mkv"
    deblur_video(source, tmp_path / "whole.mkv", MixingRestorer(), windows=WINDOWS, encode=FFV1)

    def full_disk(self, packets):
        raise files.output_error(self.path, OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(VideoFileSink, "write_packets", full_disk)
    monkeypatch.setattr(segments_module.shutil, "disk_usage", lambda path: SimpleNamespace(free=900))
    notes: list[str] = []
    with pytest.raises(OutputError, match="disk full while joining the restored frames into") as caught:
        deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1, on_note=notes.append)
    assert notes[-1].startswith(f"all 24 frames of {target} are restored and kept") and "only joins" in notes[-1]
    # the hint says how much room the output needs, and that the same command, not another output, goes on
    kept = sum(p.stat().st_size for p in work_folder(target).glob("seg_*") if not p.name.endswith(".json"))
    kept += 24 * segments_module.MUXED_BYTES_PER_PACKET
    hint = caught.value.hint
    assert f"the output needs about {readable_size(kept)} beside the frames kept in" in hint, hint
    # the shortfall, not two sizes to choose between (review52)
    assert f"900 B free now: free about {readable_size(kept - 900)} more, then run the same command" in hint, hint
    assert hint.endswith("which only joins them (an output elsewhere restores them again)")
    monkeypatch.undo()
    restorer = MixingRestorer()
    result = deblur_video(source, target, restorer, windows=WINDOWS, encode=FFV1)
    assert (result.resumed, result.frames, restorer.calls) == (24, 24, [])
    assert same_video(target, tmp_path / "whole.mkv")


@pytest.mark.parametrize("name", ["out.mp4", "out.mkv"])
def test_the_room_a_join_needs_counts_the_sound_copied_from_the_input(tmp_path, monkeypatch, name):
    """Found in review: the size the hint named was the video's packets alone, 1.5 MB of an output of 4.4 MB whose
    sound took the rest, and with 4.2 MB free it gave no shortfall."""
    source = media.make_video(tmp_path / "in.mp4", frames=24, size=(32, 32), audio="aac", audio_seconds=4.0)
    target = tmp_path / name
    monkeypatch.setattr(VideoFileSink, "write_packets", _disk_full)
    with pytest.raises(OutputError) as caught:
        deblur_video(source, target, MixingRestorer(), windows=WINDOWS)
    video = sum(p.stat().st_size for p in work_folder(target).glob("seg_*") if not p.name.endswith(".json"))
    monkeypatch.undo()
    deblur_video(source, target, MixingRestorer(), windows=WINDOWS)
    output = target.stat().st_size
    assert output > 3 * video  # mostly sound
    number, unit = re.search(r"the output needs about ([\d.]+) (\w?B) beside", caught.value.hint).groups()
    needed = float(number) * {"B": 1, "kB": 10**3, "MB": 10**6}[unit]
    assert output <= needed <= 1.2 * output, (needed, output)


def _disk_full(self, packets):
    raise files.output_error(self.path, OSError(errno.ENOSPC, "No space left on device"))


def test_what_a_run_killed_while_joining_leaves_is_removed_by_the_next(tmp_path, monkeypatch):
    """A process killed during the final join cannot remove its temporary file: it lies in the work
    folder, which the next run cleans, not beside the output, where it would stay hidden for good."""
    source = media.make_video(tmp_path / "in.mkv", frames=24)
    target = tmp_path / "out.mkv"

    def killed(self, packets):
        self.abort = lambda: None  # as if killed: nothing cleans up
        raise OutputError("killed")

    monkeypatch.setattr(VideoFileSink, "write_packets", killed)
    with pytest.raises(OutputError):
        deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1)
    monkeypatch.undo()
    left = [p for p in work_folder(target).iterdir() if ".deblur-" in p.name]
    assert len(left) == 1 and sorted(p.name for p in tmp_path.iterdir()) == [".out.mkv.deblur-work", "in.mkv"]
    deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv", "out.mkv"]


def png_files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_variable_rate_in_avi_joins_as_a_run_in_one_piece_writes_it(tmp_path, monkeypatch):
    """Found in review: a phone clip whose rate drops (30 then 15 fps) restored whole into .avi, then failed
    with 'the segments cannot be joined: their timestamps overlap', and the hint's --no-resume did the same.
    AVI counts frames at the average rate, so the faster frames are moved a tick later each, across
    segments as within one."""
    stamps = [*range(0, 18), *range(18, 42, 2)]  # 1/30 s ticks: 18 frames at 30 fps, then 12 at 15 fps
    source = media.make_video(tmp_path / "in.mp4", frames=30, fps=30, pts=stamps, time_base=Fraction(1, 30))
    monkeypatch.setattr(pipeline, "SEGMENT_FRAMES", 1000)  # one piece
    deblur_video(source, tmp_path / "whole.avi", MixingRestorer(), windows=WINDOWS, encode=FFV1)
    monkeypatch.setattr(pipeline, "SEGMENT_FRAMES", 6)
    deblur_video(source, tmp_path / "out.avi", MixingRestorer(), windows=WINDOWS, encode=FFV1)
    assert same_video(tmp_path / "out.avi", tmp_path / "whole.avi") and len(decoded(tmp_path / "out.avi")) == 30


def test_png_frame_outputs_are_continued_too(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=26, rotation=90)
    deblur_video(source, tmp_path / "whole", MixingRestorer(), windows=WINDOWS)
    target = tmp_path / "frames"
    notes = interrupted(source, target, after=6, windows=WINDOWS)
    assert not target.exists() and "are kept in" in notes[-1]
    kept = json.loads((work_folder(target) / "kept.json").read_text())["frames"]
    (work_folder(target) / "frames" / f"frame_{kept + 1:06d}.png").write_bytes(b"half a frame")  # after the cut
    with pytest.raises(OutputError, match=f"kept {kept} restored frames of this input, made with other settings"):
        deblur_video(source, target, MixingRestorer(), windows=WINDOWS, mix=Mix(0.5))

    result = deblur_video(source, target, MixingRestorer(), windows=WINDOWS)
    assert result.resumed == kept > 0
    assert png_files(target) == png_files(tmp_path / "whole")  # the same files, byte for byte
    assert not work_folder(target).exists()


def test_both_notes_name_a_folder_as_the_caller_did(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=26)
    target = f"{tmp_path / 'frames'}/"  # as typed: a name ending in / is a folder
    notes = interrupted(source, target, after=6, windows=WINDOWS)
    assert notes[-1].startswith("the first ") and f" of {target} are kept in" in notes[-1]
    notes = []
    deblur_video(source, target, MixingRestorer(), windows=WINDOWS, on_note=notes.append)
    assert notes[0].startswith(f"continuing an interrupted run of {target}: ")


def test_png_frames_missing_from_the_work_folder_are_not_trusted(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=26)
    target = tmp_path / "frames"
    interrupted(source, target, after=6, windows=WINDOWS)
    (work_folder(target) / "frames" / "frame_000002.png").unlink()
    assert deblur_video(source, target, MixingRestorer(), windows=WINDOWS).resumed == 0
    assert len(list(target.iterdir())) == 26


class StopsAfter:
    """Wraps a restorer: Ctrl-C at its call number `calls`; everything else goes to the wrapped one."""

    def __init__(self, restorer, calls: int):
        self._restorer, self._left = restorer, calls

    def __getattr__(self, name):
        return getattr(self._restorer, name)

    def __call__(self, frames, *first_frame):
        if self._left == 0:
            raise KeyboardInterrupt
        self._left -= 1
        return self._restorer(frames, *first_frame)


def stopped_and_continued(source, target, stopping, continuing):
    """Run with `stopping` until it raises KeyboardInterrupt, then again with `continuing`; the second run's result."""
    with pytest.raises(KeyboardInterrupt):
        deblur_video(source, target, stopping, windows=WINDOWS, encode=FFV1)
    return deblur_video(source, target, continuing, windows=WINDOWS, encode=FFV1)


@pytest.fixture
def tiny_wtsa(tmp_path):
    """A diffusion restorer builder over a tiny random WTSA network (weights in a file, as users have them)."""
    import torch

    from deblur_cli.diffusion import DiffusionConfig
    from deblur_cli.models.wtsa_unet import WTSAUNet
    from deblur_cli.restorers import ModelOptions, build_restorer
    from deblur_cli.wtsa_weights import save_wtsa

    torch.manual_seed(0)
    path = tmp_path / "tiny-wtsa.safetensors"
    network = WTSAUNet(TINY_WTSA)
    torch.nn.init.normal_(network.head.weight, std=0.1)  # the head starts at zero: make the noise show
    save_wtsa(network, path, diffusion=DiffusionConfig())

    def build(eta: float = 0.0):
        options = ModelOptions(weights=path, device="cpu", precision="fp32", steps=2, eta=eta, seed=7)
        return build_restorer("wtsa-s", options)

    return build


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_a_continued_diffusion_run_draws_the_noise_an_uninterrupted_run_draws(tmp_path, tiny_wtsa, eta, monkeypatch):
    source = media.make_video(tmp_path / "in.mkv", frames=24)
    deblur_video(source, tmp_path / "whole.mkv", tiny_wtsa(eta), windows=WINDOWS, encode=FFV1)
    target = tmp_path / "out.mkv"
    result = stopped_and_continued(source, target, StopsAfter(tiny_wtsa(eta), 5), tiny_wtsa(eta))
    assert result.resumed > 0
    assert same_video(target, tmp_path / "whole.mkv")
    # restored from its restart point as if the video began there, the continued frames differ (the test can fail)
    target.unlink()
    monkeypatch.setattr(pipeline, "restore_stream", lambda *args, first=0, **kwargs: restore_stream(*args, **kwargs))
    stopped_and_continued(source, target, StopsAfter(tiny_wtsa(eta), 5), tiny_wtsa(eta))
    assert not same_video(target, tmp_path / "whole.mkv")


def test_a_continued_diffusion_run_over_scene_cuts_samples_what_an_uninterrupted_run_samples(
    tmp_path, tiny_wtsa, monkeypatch
):
    """Windows across a cut are sampled shot by shot, each shot's noise drawn from its frames' indices in the
    video: a continued run makes the calls an uninterrupted run makes from its restart point on, each with the
    same frames and first frame. No network runs: the sampler returns its condition."""
    calls: list[tuple[int, list[int]]] = []  # (frames in the call, the first frame of each window)

    def recorded(model, cond, **options):
        calls.append((cond.shape[-4], list(options["first_frames"])))
        return cond

    monkeypatch.setattr(restorers_module, "sample", recorded)
    source = media.make_edited(tmp_path / "edited.mkv", [(0, 7), (1, 5), (2, 9), (3, 6)])
    deblur_video(source, tmp_path / "whole.mkv", tiny_wtsa(), windows=WINDOWS, encode=FFV1)
    whole = list(calls)
    assert min(frames for frames, _ in whole) < WINDOWS.window  # windows split at cuts are among them
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        deblur_video(source, tmp_path / "out.mkv", StopsAfter(tiny_wtsa(), 7), windows=WINDOWS, encode=FFV1)
    calls.clear()
    result = deblur_video(source, tmp_path / "out.mkv", tiny_wtsa(), windows=WINDOWS, encode=FFV1)
    assert result.resumed > 7
    assert calls and calls == whole[len(whole) - len(calls) :] and calls[0][1][0] > 0, (calls, whole)


def test_a_run_continues_under_the_same_weights_and_not_under_other_bytes_of_the_same_size_and_time(
    tmp_path, tiny_wtsa
):
    """The restorer's identity names its weights by their sha256 too: a file rewritten in place, its size
    and modification time kept (a copy with preserved times, a checkpoint saved over), starts the run over."""
    source = media.make_video(tmp_path / "in.mkv", frames=24)
    assert stopped_and_continued(source, tmp_path / "a.mkv", StopsAfter(tiny_wtsa(), 5), tiny_wtsa()).resumed > 0

    with pytest.raises(KeyboardInterrupt):
        deblur_video(source, tmp_path / "b.mkv", StopsAfter(tiny_wtsa(), 5), windows=WINDOWS, encode=FFV1)
    weights = Path(tiny_wtsa().identity["weights"][0])
    before = weights.stat()
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # the last bit of the last tensor: a loadable file of other weights
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    notes: list[str] = []  # no command continues work of weights changed in place: discarded, not refused
    result = deblur_video(source, tmp_path / "b.mkv", tiny_wtsa(), windows=WINDOWS, encode=FFV1, on_note=notes.append)
    assert result.resumed == 0 and any("made with other settings (--weights)" in n for n in notes)


def test_a_run_continues_under_weights_written_again_with_the_same_bytes(tmp_path, tiny_wtsa):
    """Found in review: weights fetched again (download-weights --force, a damaged cache file replaced) or
    copied over with the same bytes have a new modification time, and the kept work was discarded as made
    with other weights. Work kept by an earlier release, whose key has the file's size and time, continues too."""
    import json

    from deblur_cli.video_io.work_folder import work_folder

    source = media.make_video(tmp_path / "in.mkv", frames=24)
    weights = Path(tiny_wtsa().identity["weights"][0])
    for target in (tmp_path / "a.mkv", tmp_path / "b.mkv"):
        with pytest.raises(KeyboardInterrupt):
            deblur_video(source, target, StopsAfter(tiny_wtsa(), 5), windows=WINDOWS, encode=FFV1)
        weights.write_bytes(weights.read_bytes())  # the same bytes, a new time
        os.utime(weights, ns=(1, 10**18 + weights.stat().st_mtime_ns))
        manifest = work_folder(target) / "run.json"
        if target.name == "b.mkv":  # as an earlier release wrote the key: the file's size and time beside its path
            stored = json.loads(manifest.read_text())
            stored["key"]["restorer"]["weights"] += [weights.stat().st_size, 12345]
            manifest.write_text(json.dumps(stored))
        result = deblur_video(source, target, tiny_wtsa(), windows=WINDOWS, encode=FFV1)
        assert result.resumed > 0, target.name


def test_each_input_of_a_batch_gets_the_noise_it_gets_alone(tmp_path, tiny_wtsa):
    a = media.make_video(tmp_path / "a.mkv", frames=5)
    b = media.make_video(tmp_path / "b.mkv", frames=5, size=(48, 32))
    restorer = tiny_wtsa(1.0)
    deblur_video(a, tmp_path / "a-out.mkv", restorer, windows=WINDOWS, encode=FFV1)
    deblur_video(b, tmp_path / "b-after-a.mkv", restorer, windows=WINDOWS, encode=FFV1)
    deblur_video(b, tmp_path / "b-alone.mkv", tiny_wtsa(1.0), windows=WINDOWS, encode=FFV1)
    assert same_video(tmp_path / "b-after-a.mkv", tmp_path / "b-alone.mkv")


def test_a_diffusion_model_scores_each_sequence_as_it_would_alone(tmp_path, tiny_wtsa):
    from deblur_cli.datasets import find_sequences
    from deblur_cli.evaluate import evaluate_sequence

    for k, name in enumerate("ab"):
        clip = tmp_path / "d" / name
        clip.mkdir(parents=True)
        media.make_video(clip / "blurred.mkv", frames=4, codec="ffv1", pix_fmt="bgr0")
        media.make_video(clip / "sharp.mkv", frames=4, codec="ffv1", pix_fmt="bgr0", size=(64, 48))
    a, b = find_sequences(tmp_path / "d")
    restorer = tiny_wtsa(1.0)
    evaluate_sequence(a, restorer, WINDOWS)
    after_a = evaluate_sequence(b, restorer, WINDOWS)
    alone = evaluate_sequence(b, tiny_wtsa(1.0), WINDOWS)
    assert after_a.output == alone.output


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX ownership")
@pytest.mark.parametrize("obstacle", ["symlink", "others", "file"])
def test_a_work_folder_that_is_not_ours_is_left_alone(tmp_path, obstacle):
    """A run empties its work folder: one planted at that name (a link to a folder elsewhere, another
    user's folder, in /tmp by anyone) must be refused, its content untouched."""
    source = media.make_video(tmp_path / "in.mkv", frames=4)
    target = tmp_path / "out.mkv"
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "a.txt").write_text("precious")
    work = work_folder(target)
    if obstacle == "symlink":
        work.symlink_to(victim)
    elif obstacle == "others":
        if os.getuid() != 0:
            pytest.skip("only root can give a folder to another user")
        tmp_path.chmod(0o1777)  # like /tmp: anyone may create a name here
        work.mkdir()
        (work / "theirs.txt").write_text("theirs")
        os.chown(work, os.getuid() + 1, -1)
    else:
        work.write_text("a file")
    what = {"symlink": "a symbolic link", "others": "another user's folder", "file": "not a folder"}[obstacle]
    with pytest.raises(OutputError, match=f"is {what}, where deblur keeps the work of a run writing out.mkv"):
        deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1)
    assert sorted(p.relative_to(victim).as_posix() for p in victim.rglob("*")) == ["a.txt", "sub"]
    assert not target.exists()
    if obstacle == "others":
        assert (work / "theirs.txt").read_text() == "theirs"



@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="root gives a folder to another user")
def test_outside_shared_folders_a_work_folder_is_not_judged_by_its_owner(tmp_path):
    """On network shares (SMB, NFS with root squashed) a folder this user made may show another owner:
    only where anyone may create names (/tmp) is the owner compared, or no run could resume there."""
    source = media.make_video(tmp_path / "in.mkv", frames=24)
    target = tmp_path / "out.mkv"
    interrupted(source, target, after=6, windows=WINDOWS, encode=FFV1)
    os.chown(work_folder(target), os.getuid() + 1, -1)  # as a share would show it
    result = deblur_video(source, target, MixingRestorer(), windows=WINDOWS, encode=FFV1)
    assert result.resumed > 0


def test_png_frames_named_after_their_images_are_continued_too(tmp_path):
    """Frames keep their images' names (a span's too), and a continued run keeps those it kept and only those."""
    folder = tmp_path / "plate"
    folder.mkdir()
    for i in range(1001, 1031):
        media.write_image(folder / f"shot.{i}.png", media.pattern(i, 64, 48))
    options = dict(windows=WINDOWS, read=ReadOptions(Span(0.2, 1.1)))  # from the sixth image, at 25 fps
    deblur_video(folder, tmp_path / "whole", MixingRestorer(), **options)
    assert min(p.name for p in (tmp_path / "whole").iterdir()) == "shot.1006.png"
    target = tmp_path / "frames"
    interrupted(folder, target, after=6, **options)
    kept = json.loads((work_folder(target) / "kept.json").read_text())["frames"]
    (work_folder(target) / "frames" / f"shot.{1006 + kept}.png").write_bytes(b"half a frame")  # after the cut
    result = deblur_video(folder, target, MixingRestorer(), **options)
    assert result.resumed == kept > 0
    assert png_files(target) == png_files(tmp_path / "whole")
