"""Frames missing from a stream at one rate, told from the jumps in its timestamps (frame_timing.Steps.holes):
a damaged Matroska file's demuxer skips to the next cluster without an error (fuzz48 F8)."""

import json
import re
from fractions import Fraction
from itertools import accumulate

import av
import pytest
from typer.testing import CliRunner

from deblur_cli.cli import app
from deblur_cli.span import Span
from deblur_cli.video_io import open_source
from deblur_cli.video_io.frame_timing import Holes, Steps
from deblur_cli.video_io.sources import ReadOptions, describe, reading_warnings
from deblur_cli.video_io.truncation import tail_cut
from tests import media

runner = CliRunner()
MS = Fraction(1, 1000)


def _steps(times_ms: list[int]) -> Steps:
    steps = Steps(MS)
    for time in times_ms:
        steps.add(time * MS)
    return steps


def test_a_stream_at_one_rate_that_jumps_whole_frames_has_holes():
    times = [i * 40 for i in range(50) if not 20 <= i < 23]  # 3 frames gone after 0.76 s
    assert _steps(times).holes() == Holes(frames=3, places=1, at=Fraction(4, 5))
    assert _steps(times).holes().describe() == "the video's timestamps jump over 3 frames at 0.8 s"
    times = [i * 40 for i in range(100) if i not in (10, 50, 51)]
    said = _steps(times).holes().describe()
    assert said == "the video's timestamps jump over 3 frames in 2 places, the first at 0.4 s"
    # 29.97 fps on a millisecond clock (33 and 34 ms), 30 frames gone: a second, 30 times the rounded 33 ms and 10 over
    times = [round(i * 1001 / 30) for i in range(90) if not 40 <= i < 70]
    assert _steps(times).holes().frames == 30


def test_a_steady_or_variable_rate_has_no_holes():
    assert _steps([i * 40 for i in range(50)]).holes() is None
    assert _steps([round(i * 1001 / 30) for i in range(50)]).holes() is None  # 33 and 34 ms: rounding
    assert _steps([0, 33, 67, 100, 200, 300, 333, 367, 400]).holes() is None  # a phone: 30 fps, 10 in low light
    assert _steps([i * 33 for i in range(30)] + [990 + i * 50 for i in range(1, 20)]).holes() is None  # 30 then 20
    # a screen recording that writes a frame when the screen changes: held frames too many to be damage
    assert _steps([i * 40 for i in range(60) if i % 5]).holes() is None
    assert _steps([i * 40 for i in range(50) if i != 20] + [2000 + 17]).holes() is None  # an interval of no rate
    assert _steps([0, 40, 160]).holes() is None  # too few to tell
    # a phone's short stretch at 15 fps among 30 (found in review: "jump over 5 frames in 5 places")
    assert (
        _steps(
            [33 * i for i in range(30)] + [957 + 66 * i for i in range(1, 6)] + [1287 + 33 * i for i in range(1, 25)]
        ).holes()
        is None
    )
    # the same on a millisecond clock, which rounds the 15 fps stretch's jumps to 67, 67, 66 ms: one rate
    frames = [*range(30), *range(31, 45, 2), *range(45, 150)]
    assert _steps([round(i * 1000 / 30) for i in frames]).holes() is None
    assert _steps([40 * i for i in range(50) if i not in (10, 20, 30)]).holes() is not None  # a frame lost thrice


def _damaged_matroska(tmp_path, codec: str, suffix: str):
    """A 60-frame clip in clusters of 12 frames with 1 KiB of noise at 30% of its bytes: the demuxer skips to the
    next cluster without an error (11 to 21 frames lost here)."""
    source = media.make_video(tmp_path / f"a.{suffix}", frames=60, size=(64, 48), codec=codec, gop=12)
    return media.damage(source, 0.3, 1024)


def test_frames_a_damaged_matroska_file_loses_silently_are_warned_of(tmp_path):
    for codec, suffix in (("libx264", "mkv"), ("libvpx-vp9", "webm")):
        damaged = _damaged_matroska(tmp_path, codec, suffix)
        with open_source(damaged) as frames:
            kept = [frame.pts for frame in frames]
            warnings = frames.warnings
        assert 30 < len(kept) < 55
        missing = 60 - len(kept)
        (warning,) = warnings
        # PyAV 19's VP9 decoder refuses the damaged packet at the hole's edge (PyAV 18's takes it): its warning
        # then counts the frames missing, the packet's among them
        refused = f"a damaged packet of the video could not be decoded and was skipped; {missing} frames are missing"
        if refused not in warning:
            assert warning.startswith(f"bad-a.{suffix}: the video's timestamps jump over {missing} frames at ")
            assert warning.endswith(
                ", missing from the file (damage the demuxer dropped, or frames the recorder dropped); an output "
                "that keeps each frame's time keeps the gaps, where a player holds the frame before"
            )
        report = json.loads(runner.invoke(app, ["info", str(damaged), "--json"]).stdout)
        assert report["variable_frame_rate"] is None  # not a variable rate: a steady one with a hole
        told = [re.search(r"jump over (\d+) frames at ", line) for line in report["warnings"]]
        said = [int(found.group(1)) for found in told if found]
        assert said == [missing] or (refused in warning and said == [missing - 1])  # the refused packet is there


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".ts"])
def test_run_warns_of_the_frames_a_stream_jumps_over_as_info_does_in_any_container(tmp_path, suffix):
    """health50 F2: info looked for holes in every container, the reader only in Matroska's (and in MPEG-TS's by a
    rule of its own): an MP4 with 3 frames missing was warned of by `deblur info`, and `deblur run` said nothing."""
    pts = [i * 40 for i in range(20)] + [i * 40 for i in range(23, 43)]  # 25 fps: 3 frames missing at 0.8 s
    clip = media.make_video(tmp_path / f"holes{suffix}", frames=40, pts=pts, time_base=MS, codec="libx264")
    with open_source(clip) as frames:
        assert len(list(frames)) == 40
        told = frames.warnings
    jumps = "the video's timestamps jump over 3 frames at 0.8 s, " + (
        "no frames in the file there (the recorder dropped them"  # found in review: an MP4's index lists every frame
        if suffix in (".mp4", ".mov")
        else "missing from the file (damage the demuxer dropped"
    )
    assert [line.startswith(f"holes{suffix}: {jumps}") for line in told] == [True]
    assert [line.startswith(jumps) for line in reading_warnings(clip, describe(clip))] == [True]


@pytest.mark.parametrize("suffix", [".ts", ".mkv", ".mp4"])
def test_a_stretch_at_a_lower_rate_is_no_damage_to_run_as_to_info(tmp_path, suffix):
    """health50 F2: an MPEG-TS phone clip at 30 fps with a 15 fps stretch, which info calls a variable rate, was told
    by `deblur run` as 10 frames lost to damage (MPEG-TS's own rule: any interval over a frame and a half)."""
    pts = [i * 3000 for i in range(20)] + [19 * 3000 + 6000 * k for k in range(1, 11)]  # 1/90000: 30 fps, then 15
    clip = media.make_video(
        tmp_path / f"phone{suffix}", frames=30, pts=pts, time_base=Fraction(1, 90000), fps=30, codec="libx264"
    )
    with open_source(clip) as frames:
        assert len(list(frames)) == 30
        assert frames.warnings == []
    assert reading_warnings(clip, describe(clip)) == []
    assert json.loads(runner.invoke(app, ["info", str(clip), "--json"]).stdout)["variable_frame_rate"] is not None


def test_a_stream_at_one_rate_with_frames_missing_is_at_that_rate_in_any_container(tmp_path):
    """Found in review (review50 F3): an MP4's rate is FFmpeg's average, which counts the gaps in: 23.26 fps for 25
    with 3 frames missing in 40 (its .mkv copy said 25), and a .y4m output played every frame 7% slow."""
    pts = [*range(0, 800, 40), *range(920, 1720, 40)]  # ms: frames 20, 21 and 22 missing
    for suffix in (".mp4", ".mkv"):
        source = media.make_video(tmp_path / f"holes{suffix}", frames=40, pts=pts, time_base=MS, fps=25)
        assert describe(source).fps == 25, suffix
        result = runner.invoke(app, ["run", str(source), "-o", str(tmp_path / "out.y4m"), "-f", "--strength", "0"])
        assert result.exit_code == 0, result.output
        with av.open(str(tmp_path / "out.y4m")) as written:
            assert written.streams.video[0].average_rate == 25, suffix


def test_an_mp4_with_frames_missing_cut_without_re_encoding_is_read_whole_without_a_damage_warning(tmp_path):
    """timing51: a whole read expected the 1.505 s of such a clip at its average rate (23.26 fps, the gaps counted in),
    35 frames, where it shows 34, and warned that 'a frame the file's index lists is missing from it'. Its index lists
    40 samples and flags the 6 its edit list hides: 34 are shown."""
    pts = [*range(0, 800, 40), *range(920, 1720, 40)]  # ms: frames 20, 21 and 22 missing
    holes = media.make_video(tmp_path / "holes.mp4", frames=40, pts=pts, time_base=MS, fps=25)
    clip = media.cut_without_reencoding(holes, tmp_path / "trimmed.mp4", 5)
    with open_source(clip) as frames:
        assert len(list(frames)) == 34
        told = frames.warnings
    jumps = "the video's timestamps jump over 3 frames at 0.56 s"  # 0.8 s less the 6 hidden frames
    assert [line.startswith(f"trimmed.mp4: {jumps}") for line in told] == [True]
    # info counted the hidden frames' times in, and said 0.8 s
    assert [line.startswith(jumps) for line in reading_warnings(clip, describe(clip))] == [True]


def test_jumps_in_a_row_where_the_demuxer_saw_damage_are_frames_lost():
    """Found in review (review50 F1): 2 KB cut from an MPEG-TS broadcast clip with B-frames lost frames 38, 40 and 42
    (packets lost together in decode order are every other frame shown), which the rate-change rule took for a
    12.5 fps stretch, where the rule before it warned. The demuxer marked a packet corrupt there."""
    times = [40 * i for i in range(75) if i not in (38, 40, 42)]
    assert _steps(times).holes() is None  # as a short stretch at a lower rate reads
    damaged = _steps(times)
    damaged.corrupt = True
    assert damaged.holes() == Holes(frames=3, places=3, at=Fraction(38 * 40, 1000))


def test_a_pause_in_a_gif_is_its_authors_not_frames_lost(tmp_path):
    """Found in review (loss50): a GIF whose frame is held for 4 frames' time (100 ms frames, one of 400) was told
    by info and run as "the video's timestamps jump over 3 frames at 1 s, missing from the file"."""
    pts = [*range(0, 100, 10), *range(130, 250, 10)]  # 1/100 s: a pause after the 10th frame
    gif = media.make_video(
        tmp_path / "pause.gif", frames=len(pts), pts=pts, time_base=Fraction(1, 100), fps=10, codec="gif",
        pix_fmt="rgb8",
    )  # fmt: skip
    with open_source(gif) as frames:
        assert len(list(frames)) == len(pts)
        assert frames.warnings == []
    assert reading_warnings(gif, describe(gif)) == []
    assert json.loads(runner.invoke(app, ["info", str(gif), "--json"]).stdout)["variable_frame_rate"] is not None


def test_a_matroska_file_at_a_variable_rate_reads_without_a_warning(tmp_path):
    """Its length times its rate (25 fps, guessed from its first frames) is 11 frames: not a count to miss 2 of."""
    pts = [0, 33, 67, 100, 200, 300, 333, 367, 400]
    for suffix in ("mkv", "webm"):
        codec = "libvpx-vp9" if suffix == "webm" else None
        phone = media.make_video(tmp_path / f"phone.{suffix}", frames=len(pts), pts=pts, time_base=MS, codec=codec)
        with open_source(phone) as frames:
            assert len(list(frames)) == 9
            assert frames.warnings == []


def test_the_frames_read_for_their_timing_leave_none_out_at_the_end_of_what_is_read(tmp_path, monkeypatch):
    """Packets come in decode order: a stop after the Nth left out B-frames shown before the last frame read,
    a gap that info called a variable frame rate (in 14 of 40 places on this clip)."""
    from deblur_cli.video_io import frame_timing

    clip = media.make_video(tmp_path / "b.mkv", frames=60, size=(64, 48), codec="libx264")
    for read in (11, 14, 15, 17, 18, 24, 28, 30, 32, 33):
        monkeypatch.setattr(frame_timing, "PACKETS_READ", read)
        timing = frame_timing.timing_of(clip)
        assert (timing.varying, timing.holes, timing.all_read) == (None, None, False)
        assert timing.frames >= read - 4


def _with_b_frames(path):
    """A 50-frame x264 clip whose P-frames come every fourth frame, three B-frames shown before each (decoded
    after it): 2 s at 25 fps."""
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=25, options={"x264-params": "bframes=3:b-adapt=0"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(50):
            output.mux(stream.encode(av.VideoFrame.from_ndarray(media.pattern(index, 64, 48), "rgb24")))
        output.mux(stream.encode())
    return path


def _cut_before_packet(whole, target, back: int):
    """`whole` up to where its video's `back`-th packet from the end (in decode order) begins."""
    with av.open(str(whole)) as container:
        starts = [packet.pos for packet in container.demux(video=0) if packet.size]
    target.write_bytes(whole.read_bytes()[: starts[-back]])
    return target


def _shown(path) -> list[int]:
    with av.open(str(path)) as container:
        return sorted(round(frame.time * 1000) for frame in container.decode(video=0))


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_a_file_cut_among_its_b_frames_is_refused_and_its_hint_stops_before_the_first_lost_frame(tmp_path, suffix):
    """Found by fuzz48 (F2, F5): the cut took B-frames shown before the last P-frame it kept, whose end reaches
    within a frame and a half of the stated end: 46 of 50 frames with exit 0 and no warning. Where the end fell
    further short, the hint's --end took in the frames lost before it (--end 1.8, frames missing from 1.72 s)."""
    whole = _with_b_frames(tmp_path / f"whole{suffix}")
    if suffix == ".mp4":
        whole = media.faststart(whole, tmp_path / "whole-fs.mp4")  # its index at the front: a cut one opens
    assert tail_cut(whole) is None
    for back in (2, 3, 4, 6, 7):  # its end within a frame and a half of 2 s (2, 3, 4), or 0.2 s short (6, 7)
        cut = _cut_before_packet(whole, tmp_path / f"cut{back}{suffix}", back)
        shown = _shown(cut)
        first_lost = next(a + 40 for a, b in zip(shown, shown[1:]) if b - a > 40)  # ms
        found = tail_cut(cut)
        assert found is not None and round(found.end * 1000) == first_lost, found
        assert found.problem.endswith(f", frames missing from {first_lost / 1000:.2f} s (truncated or damaged file)")
        with open_source(cut, ReadOptions(span=Span(end=found.end))) as frames:  # the hint's --end: whole
            assert len(list(frames)) == first_lost // 40  # every frame before the first lost one
            assert frames.warnings == []
        refused = runner.invoke(app, ["run", str(cut), "-o", str(tmp_path / "out.mkv"), "-m", "dstnet-s"])
        assert refused.exit_code == 1
        assert f"restore the part before the damage with --end {first_lost / 1000:g}" in refused.stderr


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_a_whole_file_whose_recorder_dropped_a_frame_near_its_end_is_not_taken_for_a_cut(tmp_path, suffix):
    pts = [i for i in range(50) if i != 46]  # 25 fps: the frame at 1.84 s was never recorded
    whole = media.make_video(tmp_path / f"a{suffix}", frames=len(pts), pts=pts, time_base=Fraction(1, 25))
    assert tail_cut(whole) is None
    with open_source(whole) as frames:
        assert len(list(frames)) == 49


def test_a_phone_clip_cut_inside_its_last_frame_is_not_cut_back_to_its_lower_rate_stretch(tmp_path):
    """health50 F8: IntactEnd told a frame missing among the last packets by two rules. Its end took any interval over
    a frame and a half of the packet's own duration (in decode order) for one, so a fragmented MP4 (which counts no
    frames) from a phone whose last 8 frames came at 15 fps, cut inside its last frame, was refused with --end 1.73,
    before 8 good frames, while its hint's rule (Steps.holes) saw none missing. One rule now."""
    pts = [i * 3000 for i in range(50)] + [49 * 3000 + 6000 * k for k in range(1, 9)]  # 1/90000: 30 fps, then 15
    phone = media.make_video(
        tmp_path / "phone.mp4", frames=len(pts), pts=pts, time_base=Fraction(1, 90000), fps=30, codec="libx264"
    )
    fragmented = media.remux(phone, tmp_path / "fragmented.mp4", {"movflags": "frag_keyframe+empty_moov"})
    with av.open(str(fragmented)) as container:
        last = max((packet for packet in container.demux(video=0) if packet.size), key=lambda packet: packet.pos)
        cut_at = last.pos + last.size // 2
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fragmented.read_bytes()[:cut_at])
    assert tail_cut(cut) is None
    with open_source(cut) as frames:
        assert len(list(frames)) == len(pts) - 1
        (warning,) = frames.warnings
    assert warning.startswith("cut.mp4: a damaged packet of the video could not be decoded and was skipped")


def test_a_frame_a_threaded_decoder_drops_without_an_error_is_warned_of(tmp_path):
    """Found by fuzz48 (F10): a VP9 WebM whose last packet is damaged gave one frame fewer with exit 0 and no
    warning: a frame-threaded decoder (thread_type AUTO) drops the frame without raising, where a decoder without
    frame threads refuses the packet."""
    source = media.make_video(tmp_path / "a.webm", frames=12, size=(96, 64), codec="libvpx-vp9")
    with open_source(source) as frames:  # the control: each packet of VP9 gives a frame
        assert len(list(frames)) == 12 and frames.warnings == []
    with av.open(str(source)) as container:
        last = bytes([packet for packet in container.demux(video=0) if packet.size][-1])
    data = bytearray(source.read_bytes())
    start = data.find(last)
    data[start : start + 2] = bytes(2)  # its frame header
    damaged = tmp_path / "bad.webm"
    damaged.write_bytes(bytes(data))
    with av.open(str(damaged)) as container:  # the control: without frame threads the decoder refuses it
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "SLICE"
        with pytest.raises(av.FFmpegError):
            for packet in container.demux(stream):
                stream.codec_context.decode(packet)
    with open_source(damaged) as frames:
        lost = 12 - len(list(frames))
        warnings = frames.warnings
    # said either way: an older FFmpeg (PyAV 17) refuses the packet, a damaged packet's warning
    assert lost >= 1 and len(warnings) == 1 and warnings[0].startswith("bad.webm: ")
    if "damaged packet of" not in warnings[0]:  # FFmpeg 8's frame threads dropped it: the frames are counted
        assert lost == 1 and warnings == [
            "bad.webm: a frame of the video could not be decoded and was left out by the decoder without an error "
            "(a damaged packet); the output goes without, where a player holds the frame before"
        ]
    for codec in ("libvpx", "libvpx-vp9"):  # no warning where none was lost: hidden frames ride in a superframe
        whole = media.make_video(tmp_path / f"{codec}.webm", frames=40, size=(96, 64), codec=codec)
        with open_source(whole) as frames:
            assert len(list(frames)) == 40 and frames.warnings == []


def test_a_variable_rate_falls_on_the_grid_of_its_shortest_interval_or_on_none():
    """Steps.grid: AVI keeps each frame's time on it (frame_timing.Timing.grid, sinks.with_grid)."""

    def grid(stamps: list[int], tick: Fraction) -> Fraction | None:
        steps = Steps(tick)
        for stamp in stamps:
            steps.add(stamp * tick)
        return steps.grid()

    phone = [3000 * i for i in range(90)] + [270000 + 6000 * i for i in range(45)]  # 30 fps, then 15; 1/90000
    assert grid(phone, Fraction(1, 90000)) == Fraction(1, 30)
    ntsc = [round(i * 1001 / 30) for i in range(100)] + [round((98 + 2 * i) * 1001 / 30) for i in range(1, 50)]
    assert abs(1 / grid(ntsc, Fraction(1, 1000)) - Fraction(30000, 1001)) < Fraction(1, 100)  # 33 and 34 ms
    assert grid([0, 33, 83, 124, 157, 207, 248], Fraction(1, 1000)) is None  # 50 ms is 1.5 of 33
    stray = [0, 5] + [5 + 33 * i for i in range(1, 30)]  # one 5 ms interval among 33 ms ones
    assert grid(stray, Fraction(1, 1000)) is None


def test_a_steady_rate_with_frames_missing_is_told_only_as_that_into_any_output(tmp_path, identity):
    """Found in review (health50 F1): a steady 25 fps Matroska clip with 3 frames missing, run into .avi, was also
    told that 'the .avi container counts frames at one rate, and this video's varies ... drift against the sound',
    where the AVI keeps the gap on its own rate's clock; into PNG frames, that the rate varies. Each output asked
    its own combination of Steps' answers; they now read one (frame_timing.Timing). A varying rate is still told.
    Outputs that count frames (.y4m) or hold no times (PNG frames) close the gaps up, which they are told."""
    pts = [*range(0, 800, 40), *range(920, 1720, 40)]  # ms: frames 20, 21 and 22 missing
    source = media.make_video(tmp_path / "holes.mkv", frames=40, pts=pts, time_base=MS, fps=25)
    for target, closed in (("out.avi", False), ("frames", True), ("out.y4m", True), ("out.mkv", False)):
        result = runner.invoke(app, ["run", str(source), "-o", str(tmp_path / target)])
        assert result.exit_code == 0, result.output
        text = " ".join(result.stderr.split())
        assert "warning: holes.mkv: the video's timestamps jump over 3 frames" in text
        assert "varies" not in text
        said = "this video's timestamps jump over 3 frames (missing from the file): the output closes the gaps"
        assert text.count("warning:") == 1 + closed and (said in text) == closed, target
    with open_source(tmp_path / "out.avi") as frames:
        assert frames.info.time_base == Fraction(1, 25)
        assert [frame.pts for frame in frames] == [*range(20), *range(23, 43)]  # the gap kept
    assert len(list((tmp_path / "frames").glob("*.png"))) == 40
    uneven = media.make_video(tmp_path / "uneven.mkv", frames=31, pts=[0, *accumulate([33, 50, 41] * 10)], time_base=MS)
    for target, told in (("uneven.avi", "counts frames at one rate"), ("uneven", "this video's rate varies")):
        result = runner.invoke(app, ["run", str(uneven), "-o", str(tmp_path / target)])
        assert result.exit_code == 0 and told in " ".join(result.stderr.split()), result.output


def test_closed_gaps_are_told_against_the_sound_only_where_the_output_holds_it(tmp_path):
    """Found in review (docs52 F12): an output that counts frames closes the gaps of a stream with frames missing, and
    the warning said the frames after each show 'up to 3 frames ahead of the sound', for an input with no audio and
    for .y4m, which holds none. They show early against the sound only where the output keeps the input's audio."""
    from deblur_cli.video_io.encoding import EncodeOptions
    from deblur_cli.video_io.sinks import planned_warnings

    pts = [*range(0, 800, 40), *range(920, 1720, 40)]  # ms: frames 20, 21 and 22 missing
    silent = media.make_video(tmp_path / "silent.mkv", frames=40, pts=pts, time_base=MS, fps=25)
    voiced = media.make_video(tmp_path / "voiced.mkv", frames=40, pts=pts, time_base=MS, fps=25, audio="pcm_s16le")
    early = "the frames after each show earlier than in the input, by up to 3 frames;"
    ahead = "the frames after each show earlier than in the input, up to 3 frames ahead of the sound;"
    for source, target, options, told in (
        (silent, "out.y4m", EncodeOptions(), early),
        (voiced, "out.y4m", EncodeOptions(), early),  # .y4m holds no audio
        (voiced, "out.mxf", EncodeOptions(audio=False), early),  # --no-audio
        (voiced, "out.mxf", EncodeOptions(), ahead),
        (silent, "frames", EncodeOptions(), early),
    ):
        said = " ".join(planned_warnings(tmp_path / target, describe(source), options, source=source))
        assert "jump over 3 frames (missing from the file): the output closes the gaps" in said, (source, target)
        assert told in said and ("sound" in said) == (told == ahead), (source, target, said)
    uneven = media.make_video(tmp_path / "uneven.mkv", frames=31, pts=[0, *accumulate([33, 50, 41] * 10)], time_base=MS)
    said = " ".join(planned_warnings(tmp_path / "out.y4m", describe(uneven), source=uneven))
    assert "take the next free frame's time, and show later than in the input until slower ones" in said, said
    assert "sound" not in said  # a varying rate, told alike
