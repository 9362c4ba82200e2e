"""--start, --end and --duration as SMPTE timecode: a frame's label in the clip's own timecode, read against each
input's frame rate and first label (asked_span.py)."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from deblur_cli.asked_span import AskedSpan, parse_moment, span_in
from deblur_cli.cli import app
from deblur_cli.errors import SpanError
from deblur_cli.span import Span
from tests.media import make_images, read_frames
from tests.test_timecode import NTSC, _timecode_of, make_timed_video


def asked(start: str | None = None, end: str | None = None, duration: str | None = None) -> AskedSpan:
    return AskedSpan(*(None if text is None else parse_moment(text) for text in (start, end, duration)))


def test_a_timecode_names_a_frame_by_the_clips_own_label(tmp_path):
    clip = make_timed_video(tmp_path / "clip.mov", "10:00:00:00", frames=10)  # 25 fps
    assert span_in(clip, asked("10:00:00:03", "10:00:00:07")) == Span(0.12, 0.28)  # frames 3 to 6
    assert span_in(clip, asked("10:00:00:03", duration="00:00:00:05")) == Span(0.12, 0.32)  # a length in frames
    assert span_in(clip, asked("10:00:00:03", "0.2")) == Span(0.12, 0.2)  # seconds beside a timecode


def test_drop_frame_labels_are_counted_as_the_clip_counts_them(tmp_path):
    clip = make_timed_video(tmp_path / "clip.mov", "00:00:59;28", frames=10, rate=NTSC)
    # 00:00:59;28, 59;29, then 00:01:00;02: labels 00 and 01 are skipped at the minute
    part = span_in(clip, asked("00:01:00;02", "00:01:00:05"))  # the clip's counting, whichever separator is typed
    assert (part.start * NTSC, part.end * NTSC) == (pytest.approx(2), pytest.approx(5))
    with pytest.raises(SpanError, match="no such label"):
        span_in(clip, asked("00:01:00;00"))


def test_a_clip_without_timecode_is_labelled_from_zero(tmp_path):
    clip = make_timed_video(tmp_path / "clip.mp4", None, frames=10)
    assert span_in(clip, asked("00:00:00:05")) == Span(0.2)
    make_images(tmp_path / "frames", count=4)
    assert span_in(tmp_path / "frames", asked("00:00:00:02")) == Span(0.08)  # 25 images a second
    # without the clip's own timecode the separator typed decides drop-frame, at 29.97 only
    assert asked("00:01:00;02").in_seconds("c", NTSC) == Span(float(1800 / NTSC))  # the first label of minute 1
    assert asked("00:01:00:02").in_seconds("c", NTSC) == Span(float(1802 / NTSC))
    assert asked("00:01:00;02").in_seconds("c", Fraction(25)) == Span(60.08)


def test_timecode_wraps_at_midnight(tmp_path):
    assert asked("00:00:05:00").in_seconds("c", Fraction(25), "23:59:50:00") == Span(15.0)
    clip = make_timed_video(tmp_path / "clip.mov", "23:59:59:20", frames=10)
    assert span_in(clip, asked("00:00:00:02")) == Span(0.28)  # 7 frames in


@pytest.mark.parametrize(
    "typed, said",
    [
        (["--start", "09:59:00:00"], "--start 09:59:00:00 is before the first frame of {clip}, labelled 10:00:00:00"),
        (["--start", "10:00:00:25"], "--start 10:00:00:25: frame 25 is no label at 25 frames a second"),
        (["--end", "10:00:00:05", "--start", "10:00:00:06"], "--end (10:00:00:05, 0.2 s in) must come after"),
    ],
)
def test_a_timecode_that_names_no_frame_of_the_clip_is_one_error(tmp_path, identity, typed, said):
    clip = make_timed_video(tmp_path / "clip.mov", "10:00:00:00", frames=10)
    result = CliRunner().invoke(app, ["run", str(clip), "-o", str(tmp_path / "out.mp4"), *typed])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: " + said.format(clip=clip)) and lines[1].startswith("hint: "), lines
    assert len(lines) == 2 and not (tmp_path / "out.mp4").exists()


def test_run_restores_the_frames_between_two_timecodes(tmp_path, identity):
    clip = make_timed_video(tmp_path / "clip.mov", "10:00:00:00", frames=10)
    typed = ["--start", "10:00:00:03", "--end", "10:00:00:07", "--strength", "0", "-q"]
    result = CliRunner().invoke(app, ["run", str(clip), *typed])
    assert result.exit_code == 0, result.output
    restored = tmp_path / "clip-deblurred-10.00.00.03-10.00.00.07.mov"  # named as typed, without colons
    assert len(read_frames(restored)) == 4  # --end's frame is the first not restored
    assert _timecode_of(restored) == "10:00:00:03"


def test_each_input_of_a_batch_reads_the_timecode_against_its_own(tmp_path, identity):
    early = make_timed_video(tmp_path / "early.mov", "10:00:00:00", frames=10)
    late = make_timed_video(tmp_path / "late.mov", "10:00:00:04", frames=10)
    result = CliRunner().invoke(app, ["run", str(early), str(late), "-o", f"{tmp_path / 'out'}/", "--start",
                                      "10:00:00:06", "--json", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    outputs = {entry["input"]: entry["output"] for entry in json.loads(result.stdout)}
    assert len(read_frames(outputs[str(early)])) == 4  # from its frame 6
    assert len(read_frames(outputs[str(late)])) == 8  # from its frame 2


def test_info_estimate_says_the_seconds_a_timecode_names(tmp_path):
    clip = make_timed_video(tmp_path / "clip.mov", "10:00:00:00", frames=10)
    command = ["info", str(clip), "--estimate", "-m", "dstnet-s", "--device", "cpu", "--json"]
    result = CliRunner().invoke(app, [*command, "--start", "10:00:00:03", "--end", "10:00:00:07"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["estimate"]
    assert (found["frames"], found["span"]) == (4, "0.12 s to 0.28 s")


def test_a_default_name_carries_the_timecode_as_typed_and_a_later_run_knows_it(tmp_path):
    from deblur_cli.outputs import earlier_outputs, output_tag

    assert output_tag(asked("10:00:05:12", "10:00:06;00")) == "-deblurred-10.00.05.12-10.00.06.00"
    assert output_tag(asked("10:00:05:12", duration="00:00:02:00")) == "-deblurred-10.00.05.12-for-00.00.02.00"
    assert output_tag(asked("90", duration="00:00:02:00")) == "-deblurred-90s-for-00.00.02.00"
    assert output_tag(asked("90", duration="5"), side_by_side=True) == "-compare-90s-95s"  # seconds, as before
    clip = tmp_path / "clip.mov"
    named = [
        tmp_path / f"clip{output_tag(asked(*typed))}.mov" for typed in (("10:00:05:12",), ("1", None, "00:00:01:00"))
    ]
    assert earlier_outputs([clip, *named]) == dict.fromkeys(named, clip)
