"""The last frame shows as long in the output as in the input: a frame held at the end (a screen recording's
still, an editor's freeze frame) kept its time, not one frame at the average rate, so the picture ended
before the sound did."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import pytest

from deblur_cli.pipeline import deblur_video
from deblur_cli.span import Span
from deblur_cli.video_io import ReadOptions, describe, open_source
from deblur_cli.video_io.mp4_atoms import presented_end
from deblur_cli.video_io.streams import own_time, stream_timing
from deblur_cli.windows import WindowOptions
from tests.media import pattern, remux
from tests.restorers import IdentityRestorer, MixingRestorer

WINDOWS = WindowOptions(window=4, overlap=1, tile=None)
SIZE = (64, 48)


def _held(path, time_base: Fraction, hold: Fraction, frames: int = 10, fps: int = 30, reordered: bool = False):
    """`frames` frames at `fps`, the last shown for `hold` seconds (its packet's duration), B-frames only where
    `reordered`."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps, options={} if reordered else {"bf": "0"})
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        video.time_base = video.codec_context.time_base = time_base
        packets = []
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern(index, SIZE[1], SIZE[0]), format="rgb24")
            frame.pts, frame.time_base = round(Fraction(index, fps) / time_base), time_base
            packets += video.encode(frame)
        packets += video.encode()
        max(packets, key=lambda packet: packet.pts).duration = round(hold / time_base)
        for packet in packets:
            container.mux(packet)
    return path


def _video_end(path) -> float:
    with av.open(str(path)) as container:
        return stream_timing(container.streams.video[0]).end


@pytest.mark.parametrize("suffix, time_base", [(".mp4", Fraction(1, 90000)), (".mkv", Fraction(1, 1000))])
@pytest.mark.parametrize("restorer", [IdentityRestorer, MixingRestorer])  # written whole, and in segments
def test_a_frame_held_at_the_end_keeps_its_time(tmp_path, suffix, time_base, restorer):
    source = _held(tmp_path / f"in{suffix}", time_base, hold=Fraction(1, 2))
    assert _video_end(source) == pytest.approx(0.8, abs=1e-3)  # 9 frames of 1/30 s, then half a second
    output = tmp_path / f"out{suffix}"
    deblur_video(source, output, restorer(), windows=WINDOWS)  # with B-frames: its last packet is not the last frame's
    assert _video_end(output) == pytest.approx(0.8, abs=1e-3)  # was 0.333 s
    with av.open(str(output)) as container:
        shown = [float(frame.pts * frame.time_base) for frame in container.decode(video=0)]
    assert shown == pytest.approx([i / 30 for i in range(10)], abs=1e-3)


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_a_frame_held_at_the_end_of_a_video_with_b_frames_keeps_its_time(tmp_path, suffix):
    """Found in review: FFmpeg measures an MP4 or MOV track with B-frames to its last sample in decode order, a
    B-frame shown before the held one: 4 s of video with its last frame held 2 s came out 2.03 s long. Its edit
    list says where it ends. Of these 11 frames x264 sends the last but one last."""
    source = _held(tmp_path / f"in{suffix}", Fraction(1, 90000), hold=Fraction(1, 2), frames=11, reordered=True)
    with av.open(str(source)) as container:
        video = container.streams.video[0]
        last = max(container.demux(video), key=lambda packet: packet.dts if packet.size else -1)
        assert last.pts < 10 * 3000 and float(video.duration * video.time_base) < 0.4  # what FFmpeg measures
    assert presented_end(source, 1).end == pytest.approx(10 / 30 + 0.5, abs=1e-3)  # the edit list, in milliseconds
    output = tmp_path / f"out{suffix}"
    deblur_video(source, output, IdentityRestorer(), windows=WINDOWS)
    assert presented_end(output, 1).end == pytest.approx(10 / 30 + 0.5, abs=1e-3)  # was 0.367 s


def test_an_edit_list_that_plays_at_another_rate_or_none_leaves_the_end_to_ffmpeg(tmp_path):
    """A phone's slow motion plays part of its track at a quarter of its rate, which FFmpeg does not: the length of
    such edits is not the track's on FFmpeg's clock. A file written without an edit list states no end there, and a
    fragmented one's is not read (found in review: an edit list over its first fragment made info say 16 frames of
    45, all of which run wrote)."""
    source = _held(tmp_path / "in.mp4", Fraction(1, 90000), hold=Fraction(1, 2))
    data = source.read_bytes()
    assert data.count(b"elst") == 1 and presented_end(source, 1).end == pytest.approx(0.8, abs=1e-3)
    rate = data.index(b"elst") + 4 + 8 + 8  # after version, flags, count, one edit's length and media time
    assert data[rate : rate + 4] == b"\x00\x01\x00\x00"
    slow = tmp_path / "slow.mp4"
    slow.write_bytes(data[:rate] + b"\x00\x00\x40\x00" + data[rate + 4 :])
    assert presented_end(slow, 1) is None and presented_end(source, 2) is None  # no track 2
    with av.open(str(slow)) as container:
        assert stream_timing(container.streams.video[0]).end == pytest.approx(0.8, abs=1e-3)  # FFmpeg's duration
    plain = remux(source, tmp_path / "plain.mp4", {"use_editlist": "0"})
    assert b"elst" not in plain.read_bytes() and presented_end(plain, 1) is None
    # its fragments hold the samples, which FFmpeg reads past an edit list
    fragmented = remux(source, tmp_path / "fragmented.mp4", {"movflags": "frag_keyframe+empty_moov"})
    assert b"mvex" in fragmented.read_bytes() and presented_end(fragmented, 1) is None


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_frames_of_a_constant_rate_keep_their_length(tmp_path, suffix):
    """The last frame of an ordinary video lasts one frame: the output is no longer than the input."""
    source = _held(tmp_path / f"in{suffix}", Fraction(1, 90000 if suffix == ".mp4" else 1000), hold=Fraction(1, 30))
    deblur_video(source, tmp_path / f"out{suffix}", IdentityRestorer(), windows=WINDOWS)
    assert _video_end(tmp_path / f"out{suffix}") == pytest.approx(_video_end(source), abs=1e-3)


def test_the_last_frame_of_a_span_lasts_until_the_next_one(tmp_path):
    """--end: the last frame of the span shows until the frame after it would, as in the input."""
    source = _held(tmp_path / "in.mp4", Fraction(1, 90000), hold=Fraction(1, 2))
    deblur_video(source, tmp_path / "out.mp4", IdentityRestorer(), windows=WINDOWS, read=ReadOptions(Span(end=0.25)))
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert container.streams.video[0].frames == 8  # frames at 0 to 7/30 s
    assert _video_end(tmp_path / "out.mp4") == pytest.approx(8 / 30, abs=1e-3)


def test_frames_know_how_long_the_last_one_shows(tmp_path):
    source = _held(tmp_path / "in.mkv", Fraction(1, 1000), hold=Fraction(1, 2))
    with open_source(source) as frames:
        durations = [frame.duration for frame in frames]
    assert durations == [None] * 9 + [500]


def test_a_span_that_ends_inside_the_held_frame_ends_there(tmp_path):
    """Found in review: --end 0.8 inside a frame held from 0.3 to 1.3 s gave a picture to 1.3 s, past the span
    and its sound."""
    source = _held(tmp_path / "in.mkv", Fraction(1, 1000), hold=Fraction(1))
    deblur_video(source, tmp_path / "out.mkv", IdentityRestorer(), windows=WINDOWS, read=ReadOptions(Span(end=0.8)))
    assert _video_end(tmp_path / "out.mkv") == pytest.approx(0.8, abs=1e-3)


@pytest.mark.parametrize("frames", [10, 150])
def test_an_avi_output_counts_frames_at_their_rate_not_over_the_held_one(tmp_path, frames):
    """AVI's clock counts frames: a held last frame's time is not carried there. FFmpeg averages an MP4's rate over
    the hold too (7.7 fps for 10 frames at 30 and 1 s held), and at that clock the frames played slowly, up to
    1 s behind their sound (found in review: 10 frames came out stated as 17, 2.21 s for 1.3; then spread over
    1.3 s). They keep their rate: the video ends with its last frame, which players hold as the sound plays on."""
    source = _held(tmp_path / "in.mp4", Fraction(1, 90000), hold=Fraction(1), frames=frames)
    with av.open(str(source)) as container:
        assert container.streams.video[0].average_rate < 29  # FFmpeg's
    assert describe(source).fps == 30  # as deblur info says it
    deblur_video(source, tmp_path / "out.avi", IdentityRestorer(), windows=WINDOWS)
    with av.open(str(tmp_path / "out.avi")) as container:
        video = container.streams.video[0]
        assert video.frames == frames and video.time_base == Fraction(1, 30)


@pytest.mark.parametrize(
    "length, step, tick, own",
    [
        (Fraction(13, 300), Fraction(1, 30), Fraction(1, 90000), True),  # held 1.3 frames
        (Fraction(3400, 90000), Fraction(1, 30), Fraction(1, 90000), True),  # 1.1 ms longer
        (Fraction(3060, 90000), Fraction(1, 30), Fraction(1, 90000), False),  # 0.67 ms: an edit list's rounding
        (Fraction(20, 1000), Fraction(1, 30), Fraction(1, 90000), True),  # cut short
        (Fraction(21, 600), Fraction(20, 600), Fraction(1, 600), False),  # 29.97 fps on an iPhone's clock
        (Fraction(22, 600), Fraction(20, 600), Fraction(1, 600), True),
        (Fraction(35, 1000), Fraction(34, 1000), Fraction(1, 1000), False),  # 29.97 fps on Matroska's
    ],
)
def test_a_last_frame_shows_its_own_time_where_it_is_off_a_frame_by_more_than_rounding(length, step, tick, own):
    assert own_time(length, step, tick) is own


@pytest.mark.parametrize("hold", [Fraction(13, 10), Fraction(2)])
def test_a_last_frame_held_a_little_is_held_at_the_rate_of_the_others(tmp_path, hold):
    """Found in review: a last frame that showed longer than the others by more than a millisecond kept its time,
    but the rate was taken over the others only where it showed more than 1.5 frames: held 1.3 frames, 150 frames
    at 30 fps were read at FFmpeg's 29.94 (5000/167), which an .avi or .mkv output states."""
    source = _held(tmp_path / "in.mp4", Fraction(1, 90000), hold=hold / 30, frames=150)
    assert describe(source).fps == 30
    with open_source(source) as frames:
        durations = [frame.duration for frame in frames]
    assert durations == [None] * 149 + [round(hold * 3000)]


def test_a_variable_rate_keeps_its_average_and_a_steady_length_ffmpegs_finer_measure(tmp_path):
    """Found in review: the rate of a held last frame's clip was taken from its first frames' steps, and so was a
    phone clip's with a short 15 fps stretch among 30 (30 fps, not its 27.7 average: a .y4m output 0.17 s short);
    and lengths took the edit list's millisecond rounding (1.252 s for FFmpeg's 1.2513)."""
    from tests.media import make_video

    stamps = [20 * i for i in range(30)] + [600 + 40 * i for i in range(1, 6)] + [800 + 20 * i for i in range(1, 25)]
    phone = make_video(tmp_path / "phone.mp4", frames=len(stamps), pts=stamps, time_base=Fraction(1, 600))
    with av.open(str(phone)) as container:
        assert describe(phone).fps == container.streams.video[0].average_rate < 29  # not the 30 of its first steps
    ntsc = make_video(tmp_path / "ntsc.mp4", frames=30, fps=Fraction(24000, 1001), time_base=Fraction(1, 24000))
    with av.open(str(ntsc)) as container:
        video = container.streams.video[0]
        assert describe(ntsc).duration == float(video.duration * video.time_base)  # 1.2513 s, the edit list 1.252


def test_a_matroska_files_frames_are_counted_not_guessed_from_its_length(tmp_path):
    """Matroska counts no frames: its length times its average rate said 39 frames for these 10 (found in
    review: a resumed run said "122 of 229 frames were kept" of 200)."""
    assert describe(_held(tmp_path / "in.mkv", Fraction(1, 1000), hold=Fraction(1))).frame_count == 10


def test_a_span_past_the_end_of_a_video_that_states_none_keeps_its_last_frame_one_frame(tmp_path):
    """Found in review: with no stated end (an untagged Matroska file), --end 2 made a 0.33 s clip's last frame
    last until 2 s, past its sound."""
    source = _held(tmp_path / "in.mkv", Fraction(1, 1000), hold=Fraction(1, 30))
    data = source.read_bytes()
    source.write_bytes(data.replace(b"DURATION", b"DURATIOX"))  # as a muxer that writes none
    deblur_video(source, tmp_path / "out.mkv", IdentityRestorer(), windows=WINDOWS, read=ReadOptions(Span(end=2.0)))
    with av.open(str(tmp_path / "out.mkv")) as container:
        ends = [float((p.pts + p.duration) * p.time_base) for p in container.demux(video=0) if p.size]
    assert max(ends) < 0.4


def test_an_mp4s_atoms_are_read_once_and_again_once_it_changes(tmp_path, monkeypatch):
    """Found in review: one run of a 40-frame MP4 walked its moov atom 11 times, for its rate and its end."""
    from deblur_cli.video_io import mp4_atoms

    opened = []
    monkeypatch.setattr(mp4_atoms, "open", lambda path, mode: opened.append(path) or open(path, mode), raising=False)
    source = _held(tmp_path / "in.mp4", Fraction(1, 90000), hold=Fraction(1, 2))
    assert describe(source).fps == 30 and presented_end(source, 1).end == pytest.approx(0.8, abs=1e-3)
    assert len(opened) == 1
    _held(source, Fraction(1, 90000), hold=Fraction(1))  # written again: held longer
    assert presented_end(source, 1).end == pytest.approx(1.3, abs=1e-3) and len(opened) == 2
    # found in review: replaced by a file of its size with the time of modification kept (cp -p, rsync -t)
    other = _held(tmp_path / "other.mp4", Fraction(1, 90000), hold=Fraction(3, 2))
    assert other.stat().st_size == source.stat().st_size
    kept = source.stat().st_mtime_ns
    os.replace(other, source)
    os.utime(source, ns=(kept, kept))
    assert presented_end(source, 1).end == pytest.approx(1.8, abs=1e-3)
