"""FLV, MPEG-TS and MPEG-PS files cut short, which FFmpeg measures from what is left of them: an FLV file by the
size its header states (video_io.flv), a transport stream by ending inside a packet, a program stream inside a
pack (video_io.mpeg_ps); and Matroska files without per-track DURATION tags, by every stream stopping short of
the file's length. Refused before a run as other cut files are (tests/test_cli_run.py), with the --end that
restores the part before the cut."""

from __future__ import annotations

import json
import re
import struct

import pytest
from typer.testing import CliRunner

from deblur_cli.cli import app
from deblur_cli.video_io.flv import stated_file_size
from deblur_cli.video_io.mpeg_ps import TAIL_BYTES, ends_inside_a_pack
from deblur_cli.video_io.truncation import _ends_inside_a_packet, tail_cut
from tests import media
from tests.test_cli_run import deblur

runner = CliRunner()


def _amf_string(text: str, width: int = 2) -> bytes:
    data = text.encode()
    return len(data).to_bytes(width, "big") + data


def _flv(metadata: bytes, *, ecma: bool = True) -> bytes:
    """An FLV header and one script tag: onMetaData holding `metadata` (AMF0 name/value pairs)."""
    body = b"\x02" + _amf_string("onMetaData") + (b"\x08" + (3).to_bytes(4, "big") if ecma else b"\x03")
    body += metadata + b"\x00\x00\x09"
    tag = bytes([18]) + len(body).to_bytes(3, "big") + bytes(7) + body
    return b"FLV\x01\x05" + (9).to_bytes(4, "big") + bytes(4) + tag + (len(tag)).to_bytes(4, "big")


def _number(name: str, value: float) -> bytes:
    return _amf_string(name) + b"\x00" + struct.pack(">d", value)


def test_the_size_an_ffmpeg_flv_states_is_its_own(tmp_path):
    path = media.make_video(tmp_path / "a.flv", frames=10, codec="libx264", audio="aac")
    assert stated_file_size(path) == path.stat().st_size
    assert stated_file_size(media.truncate(path, 0.5)) == path.stat().st_size  # the header is at the front


def test_the_size_is_found_past_every_kind_of_value_before_it(tmp_path):
    nested = (
        _amf_string("keyframes") + b"\x03"  # an object holding strict arrays, as a keyframe index is
        + _amf_string("times") + b"\x0a" + (2).to_bytes(4, "big") + b"\x00" + struct.pack(">d", 0.0) * 1
        + b"\x00" + struct.pack(">d", 1.0)
        + _amf_string("note") + b"\x0c" + _amf_string("long", width=4)
        + b"\x00\x00\x09"
    )  # fmt: skip
    values = (
        _amf_string("stereo") + b"\x01\x01"
        + _amf_string("encoder") + b"\x02" + _amf_string("Lavf")
        + _amf_string("created") + b"\x0b" + struct.pack(">d", 1e12) + b"\x00\x00"
        + _amf_string("empty") + b"\x05"
        + nested
        + _number("filesize", 123456.0)
    )  # fmt: skip
    for ecma in (True, False):
        (tmp_path / "m.flv").write_bytes(_flv(values, ecma=ecma))
        assert stated_file_size(tmp_path / "m.flv") == 123456


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"FLV",
        b"not an flv file at all, but long enough",
        _flv(_number("duration", 2.0)),  # no filesize
        _flv(_number("filesize", 0.0)),  # a muxer that could not seek back to fill it in
        _flv(_number("filesize", float("nan"))),
        _flv(_number("filesize", -5.0)),
        _flv(_amf_string("filesize") + b"\x02" + _amf_string("12")),  # not a number
        _flv(_amf_string("x") + b"\x11" + _number("filesize", 10.0)),  # a type AMF0 does not have
        _flv(_number("filesize", 99.0))[:40],  # the tag cut inside the number
    ],
)
def test_no_size_where_the_file_states_none(tmp_path, data):
    (tmp_path / "x.flv").write_bytes(data)
    assert stated_file_size(tmp_path / "x.flv") is None


def test_a_cut_flv_is_refused_before_a_run_and_its_hint_restores_the_part_before(tmp_path, identity):
    """It was restored up to the cut, exit 0, no warning: FFmpeg measures the length of an FLV file from
    what is left of it, so the packets reached it. The size onMetaData states tells."""
    whole = media.make_video(tmp_path / "a.flv", frames=40, codec="libx264", audio="aac", gop=5)
    # the length is the file's, which AAC's last frame makes a little longer than 1.6 s of video
    problem = r"the video stream ends early: its packets stop at \d\.\d\d s of 1\.6\d s \(truncated or damaged file\)"
    _refused_then_restored_before_the_cut(whole, problem, tmp_path, identity)


def _refused_then_restored_before_the_cut(whole, problem: str, tmp_path, identity, keep: float = 0.6) -> None:
    """`whole` (40 frames) cut at `keep` of its bytes: tail_cut finds `problem` (a regular expression), deblur run
    refuses it before restoring a frame, and its hint's --end restores the part before the cut; `whole` runs."""
    cut = media.truncate(whole, keep, tmp_path / f"cut{whole.suffix}")
    found = tail_cut(cut)
    assert found is not None and 0.3 < found.end < 1.3 and re.fullmatch(problem, found.problem), found
    refused = deblur(cut, "-o", tmp_path / "out.mkv")
    assert refused.exit_code == 1 and f"{cut.name}: {found.problem}" in refused.stderr, refused.output
    assert identity.calls == [] and not (tmp_path / "out.mkv").exists()
    until = refused.stderr.split("--end ")[1].split()[0]
    follow = deblur(cut, "-o", tmp_path / "out.mkv", "--end", until, "--json")
    assert follow.exit_code == 0, follow.output
    assert 5 < json.loads(follow.stdout)["frames"] < 40
    assert tail_cut(whole) is None
    assert deblur(whole, "-o", tmp_path / "whole.mkv", "-q").exit_code == 0


def test_a_whole_flv_whose_audio_outlasts_its_video_is_not_cut(tmp_path, identity):
    """Its stated duration is the audio's; its size is whole."""
    path = media.make_video(tmp_path / "a.flv", frames=10, codec="libx264", audio="aac", audio_seconds=2.0)
    assert tail_cut(path) is None
    result = deblur(path, "-o", tmp_path / "out.mkv", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["frames"] == 10, result.output


def test_a_cut_flv_that_states_its_size_but_no_duration(tmp_path):
    """The problem then names no length; the hint still gives the --end before the cut."""
    whole = media.make_video(tmp_path / "a.flv", frames=40, codec="libx264", gop=5)
    data = whole.read_bytes()
    key = _amf_string("duration")
    assert data.count(key) == 1
    (tmp_path / "cut.flv").write_bytes(data.replace(key, _amf_string("duratioN"))[: int(len(data) * 0.6)])
    found = tail_cut(tmp_path / "cut.flv")
    assert found is not None, "not found"
    assert found.problem.startswith("the video stream ends early: its packets stop at ")
    assert " of " not in found.problem and "--end" in found.hint


def _untagged(path):
    """`path` as a Matroska muxer that writes no DURATION tags would have made it (mkvmerge writes them at the
    end, where a cut takes them): FFmpeg's renamed in place, so only the file's own length is stated."""
    data = path.read_bytes()
    assert data.count(b"DURATION") >= 1
    path.write_bytes(data.replace(b"DURATION", b"DURATIOX"))
    return path


@pytest.mark.parametrize("audio", [None, "libopus"])
def test_a_cut_matroska_file_without_duration_tags_is_refused_before_a_run(tmp_path, identity, audio):
    """It was restored up to the cut, exit 0, no warning: only the file's length is stated, and where every
    stream stops short of it together, the file was cut."""
    whole = _untagged(media.make_video(tmp_path / "a.mkv", frames=40, codec="libx264", audio=audio, gop=5))
    problem = r"the video stream ends early: its packets stop at \d\.\d\d s of 1\.6\d s \(truncated or damaged file\)"
    _refused_then_restored_before_the_cut(whole, problem, tmp_path, identity)


@pytest.mark.parametrize("audio_seconds", [4.0, 8.0])  # 8 s: the last 5 s the tail reads hold no video at all
def test_an_untagged_matroska_file_whose_audio_outlasts_its_video_is_whole_even_cut_in_the_audio(
    tmp_path, audio_seconds
):
    """The file's length is the audio's: a whole video stops short of it, alone, and so does one whose file
    was cut where only the audio went on. (Found in review: with 8 s of sound the whole file was refused.)"""
    path = _untagged(media.make_video(tmp_path / "a.mkv", frames=40, audio="aac", audio_seconds=audio_seconds))
    assert tail_cut(path) is None
    assert tail_cut(media.truncate(path, 0.8)) is None


def test_a_cut_untagged_matroska_file_is_found_whatever_its_last_subtitle_cue(tmp_path):
    """A cue begun before the cut may end at the file's stated end: its end says nothing of the cut (found in
    review: a file cut with subtitles was restored up to the cut)."""
    whole = _untagged(media.make_video(tmp_path / "a.mkv", frames=40, codec="libx264", audio="aac", subtitles=True))
    assert tail_cut(whole) is None
    assert tail_cut(media.truncate(whole, 0.6)) is not None


def _transport_stream(path, **options):
    return media.make_video(path, frames=40, codec="libx264", audio="aac", gop=5, **options)


def test_a_transport_stream_that_breaks_off_inside_a_packet_is_cut(tmp_path):
    whole = _transport_stream(tmp_path / "a.ts")
    m2ts = _transport_stream(tmp_path / "b.m2ts")  # 192-byte packets, the sync byte after a time stamp
    for path, packet in ((whole, 188), (m2ts, 192)):
        data = path.read_bytes()
        assert len(data) % packet == 0 and not _ends_inside_a_packet(path)
        for cut in (1, 100, packet - 1, packet + 7, len(data) // 3):
            (tmp_path / "x.ts").write_bytes(data[:-cut])
            assert _ends_inside_a_packet(tmp_path / "x.ts") == (cut % packet != 0), (path.name, cut)
        # never refused on a guess: junk before the first packet, padding after the last, junk longer than a packet
        for kept in (b"junk" + data, data + bytes(500), data + b"\xff" * 100, data + b"x" * 300, data[:300]):
            (tmp_path / "x.ts").write_bytes(kept)
            assert not _ends_inside_a_packet(tmp_path / "x.ts")


def test_a_cut_transport_stream_is_refused_before_a_run_and_its_hint_restores_the_part_before(tmp_path, identity):
    """It was restored up to the cut, exit 0, no warning: FFmpeg estimates a transport stream's length from
    what is left of it."""
    problem = (
        r"the file breaks off inside a transport packet \(truncated file\): its video packets stop at \d\.\d\d s"
    )
    whole = _transport_stream(tmp_path / "a.ts")
    # cut inside a 188-byte packet, whatever the encoders' threads made the size: 60% of it fell on a packet's
    # end one time in five (a file whole to its last packet, which is not cut)
    inside = int(whole.stat().st_size * 0.6) // 188 * 188 + 94
    _refused_then_restored_before_the_cut(whole, problem, tmp_path, identity, keep=inside / whole.stat().st_size)


def _program_stream(path, codec="mpeg2video"):
    return media.make_video(path, frames=40, size=(320, 240), codec=codec, pix_fmt="yuv420p", audio="mp2", gop=5)


@pytest.mark.parametrize("name, codec", [("a.mpg", "mpeg2video"), ("b.vob", "mpeg2video"), ("c.mpg", "mpeg1video")])
def test_a_program_stream_that_breaks_off_inside_a_pack_is_cut(tmp_path, name, codec):
    data = _program_stream(tmp_path / name, codec).read_bytes()
    assert len(data) % 2048 == 0 and not ends_inside_a_pack(tmp_path / name)  # FFmpeg writes packs of 2048 bytes
    for cut, inside in ((1, True), (3, True), (100, True), (2049, True), (len(data) // 3 + 5, True), (2048, False)):
        (tmp_path / "x.mpg").write_bytes(data[:-cut])
        assert ends_inside_a_pack(tmp_path / "x.mpg") == inside, (name, cut)
    # a pack start code's bytes found by chance in a picture's data, before the first pack the check reads:
    # its walk breaks off, and the real one is found
    cut = data[:-100]
    chance = len(cut) - TAIL_BYTES + 10  # the tail read starts 1948 bytes into a pack, the next at + 100
    (tmp_path / "x.mpg").write_bytes(cut[:chance] + b"\x00\x00\x01\xba\x44" + cut[chance + 5 :])
    assert ends_inside_a_pack(tmp_path / "x.mpg")
    # never refused on a guess: junk before it, padding or junk after it, a tail too short to check
    for kept in (b"junk" + data, data + bytes(500), data + b"\xff" * 10, data + b"x" * 3000, data[:300]):
        (tmp_path / "x.mpg").write_bytes(kept)
        assert not ends_inside_a_pack(tmp_path / "x.mpg")


def test_a_cut_program_stream_is_refused_before_a_run_and_its_hint_restores_the_part_before(tmp_path, identity):
    """It was restored up to the cut, exit 0, no warning: FFmpeg measures a program stream's length from what
    is left of it."""
    problem = (
        r"the file breaks off inside a pack \(truncated file\): its video packets stop at \d\.\d\d s"
    )
    # the video's packs run ahead of the audio's in the file: 40% of it holds about half of the frames
    _refused_then_restored_before_the_cut(_program_stream(tmp_path / "a.mpg"), problem, tmp_path, identity, keep=0.4)


def test_a_gif_cut_inside_an_image_is_refused_before_a_run_and_its_hint_restores_the_part_before(tmp_path, identity):
    """Found by fuzz48: it was restored up to the cut, exit 0, no warning, its last frame filled in from the one
    before: a GIF states no length. Its blocks, walked to where the file breaks off, tell."""
    whole = media.make_video(tmp_path / "a.gif", frames=40, codec="gif", pix_fmt="rgb8")
    problem = r"the file breaks off inside its image \d+ \(truncated GIF\), which the decoder fills in"
    _refused_then_restored_before_the_cut(whole, problem, tmp_path, identity)


def test_a_gif_cut_between_its_images_is_restored_with_a_warning_of_the_frames_read(tmp_path, identity):
    """Its frames are whole, and nothing says how many followed (a writer may also leave the trailer out):
    a warning, where a cut inside an image is refused."""
    data = media.make_video(tmp_path / "a.gif", frames=8, codec="gif", pix_fmt="rgb8").read_bytes()
    cut = tmp_path / "cut.gif"
    for end, frames in ((len(data) - 1, 8), (data.index(b"\x21\xf9\x04", data.index(b"\x2c")), 1)):
        cut.write_bytes(data[:end])  # without the trailer byte (3B); before the second image's control block
        said = f"cut.gif ends without the GIF trailer, as a file cut short does: {frames} whole frame"
        result = deblur(cut, "-o", tmp_path / "out.mkv", "--json", "--force")
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["frames"] == frames and len(summary["warnings"]) == 1 and said in summary["warnings"][0]
        assert summary["warnings"][0].endswith("read; any frames after the cut are missing")
        assert "ends without the GIF trailer" in result.stderr and tail_cut(cut) is None
        report = json.loads(runner.invoke(app, ["info", str(cut), "--json"]).stdout)
        assert report["warnings"] == summary["warnings"]
    assert json.loads(deblur(tmp_path / "a.gif", "-o", tmp_path / "whole.mkv", "--json").stdout)["warnings"] == []
