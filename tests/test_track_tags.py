"""An output keeps what each track tells a viewer: its language, its name ("Main", "Commentary") and whether
players pick it (the default flag), for the copied audio and subtitles and for the restored video alike."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from deblur_cli.video_io import EncodeOptions, open_sink, open_source
from deblur_cli.video_io.track_tags import recorded_language, track_tags
from tests import media

DEFAULT, NONE = av.stream.Disposition.default, av.stream.Disposition(0)


def make_named_tracks(path: Path, *, video_default: bool = True, subtitle_language: str = "eng") -> Path:
    """Video "cam A" (eng), AAC "Main" (eng, default) and "Commentary" (fra), a subtitle "Forced" (eng, default
    and forced)."""
    options = {"movflags": "use_metadata_tags"} if path.suffix == ".mp4" else {}
    subtitle_codec = {".mp4": "mov_text", ".mkv": "subrip"}[path.suffix]
    with av.open(str(path), "w", options=options) as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.metadata.update({"title": "cam A", "language": "eng"})
        video.disposition = DEFAULT if video_default else NONE
        sounds = []
        for language, title, disposition in (("eng", "Main", DEFAULT), ("fra", "Commentary", NONE)):
            sound = container.add_stream("aac", rate=48000, layout="stereo")
            sound.time_base = Fraction(1, 48000)
            sound.metadata.update({"language": language, "title": title})
            sound.disposition = disposition
            sounds.append(sound)
        subtitle = container.add_mux_stream(subtitle_codec)
        subtitle.time_base = Fraction(1, 1000)
        subtitle.metadata.update({"language": subtitle_language, "title": "Forced"})
        subtitle.disposition = DEFAULT | av.stream.Disposition.forced
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(media.pattern(index, 64, 48), format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode())
        container.start_encoding()
        for sound in sounds:
            media._write_tone(container, sound, 0.12)
        media._write_cues(container, subtitle, subtitle_codec, 0.12)
    return path


def convert(source: Path, target: Path) -> list[str]:
    """Decode `source` and encode it to `target`; the sink's warnings."""
    with open_source(source) as frames, open_sink(target, frames.info, EncodeOptions(), source=source) as sink:
        for frame in frames:
            sink.write(frame)
    return sink.warnings


def tracks(path: Path) -> list[tuple[str, dict[str, str], bool]]:
    """(type, language and title, default flag) of each stream, the title read from `title` or MOV's `name`."""
    with av.open(str(path)) as container:
        return [(s.type, track_tags(s.metadata), bool(s.disposition & DEFAULT)) for s in container.streams]


@pytest.mark.parametrize("source_suffix", [".mp4", ".mkv"])
@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_track_names_languages_and_default_flags_are_kept(tmp_path, source_suffix, suffix):
    """Names from an MP4 (which FFmpeg reads as `name`) were lost, and the video's own tags always were."""
    source = make_named_tracks(tmp_path / f"in{source_suffix}")
    expected = [
        ("video", {"language": "eng", "title": "cam A"}, True),
        ("audio", {"language": "eng", "title": "Main"}, True),
        ("audio", {"language": "fra", "title": "Commentary"}, False),
        ("subtitle", {"language": "eng", "title": "Forced"}, True),
    ]
    assert tracks(source) == expected
    warnings = convert(source, tmp_path / f"out{suffix}")
    assert tracks(tmp_path / f"out{suffix}") == expected
    with av.open(str(tmp_path / f"out{suffix}")) as container:
        forced = bool(container.streams.subtitles[0].disposition & av.stream.Disposition.forced)
    # FFmpeg's MOV muxer writes no forced flag in its MOV and iPod (.m4v) modes (MP4 and Matroska hold one):
    # said so, where it was lost unsaid
    lost = [w for w in warnings if "forced" in w]
    assert (forced, lost) == (
        (False, [f"the input's subtitle stream #3 is marked forced (shown whatever the viewer picks); {suffix} cannot "
                 "record that flag (.mp4 and .mkv keep it)"])
        if suffix == ".mov"
        else (True, [])
    )


@pytest.mark.parametrize("suffix", [".m4v", ".3gp"])
def test_an_m4v_or_3gp_output_says_it_loses_the_forced_flag_and_the_track_names(tmp_path, suffix):
    """FFmpeg's iPod (.m4v) and 3GP modes write no forced flag and no track names: only .mov's lost flag was
    said (found in review), and the names went without a word."""
    warnings = convert(make_named_tracks(tmp_path / "in.mp4"), tmp_path / f"out{suffix}")
    assert [(t, tags.get("title")) for t, tags, _ in tracks(tmp_path / f"out{suffix}")] == [
        ("video", None), ("audio", None), ("audio", None), ("subtitle", None)
    ]  # the case itself
    with av.open(str(tmp_path / f"out{suffix}")) as container:
        assert not container.streams.subtitles[0].disposition & av.stream.Disposition.forced
    assert warnings == [
        f'{suffix} holds no track names: the video\'s ("cam A") left out (.mp4, .mov and .mkv keep them)',
        f"the input's subtitle stream #3 is marked forced (shown whatever the viewer picks); {suffix} cannot "
        "record that flag (.mp4 and .mkv keep it)",
        f'{suffix} holds no track names: the audio and subtitle tracks\' ("Main", "Commentary", "Forced") left '
        "out (.mp4, .mov and .mkv keep them)",
    ]


@pytest.mark.parametrize("suffix", [".avi", ".ts", ".nut"])
def test_a_container_without_flags_says_it_loses_a_forced_audio_track_s(tmp_path, suffix):
    """AVI and MPEG-TS have no forced flag: it went unsaid, where .mov's loss was warned of (docs check)."""
    source = media.make_video(tmp_path / "in.mkv", frames=2, codec="ffv1", audio="aac")
    with av.open(str(source)) as original, av.open(str(tmp_path / "forced.mkv"), "w") as out:
        for stream in original.streams:
            copied = out.add_stream_from_template(stream)
            forced = av.stream.Disposition.forced if stream.type == "audio" else av.stream.Disposition(0)
            copied.disposition = av.stream.Disposition.default | forced
        for packet in original.demux():
            if packet.dts is not None:
                packet.stream = out.streams[packet.stream.index]
                out.mux(packet)
    warnings = convert(tmp_path / "forced.mkv", tmp_path / f"out{suffix}")
    said = f"the input's audio stream #1 is marked forced (shown whatever the viewer picks); {suffix} cannot record"
    assert said in " ".join(warnings)


def test_a_language_the_output_knows_by_its_other_code_is_written_so_and_one_it_cannot_hold_is_named(tmp_path):
    # QuickTime's table, which the MOV muxer writes from, has "ger", not "deu": the tag was dropped unsaid
    assert [recorded_language("mov", code) for code in ("deu", "ger", "fra", "eng")] == ["ger", "ger", "fra", "eng"]
    assert recorded_language("mp4", "deu") == "deu" and recorded_language("avi", "eng") is None
    source = make_named_tracks(tmp_path / "in.mkv", subtitle_language="deu")
    warnings = convert(source, tmp_path / "out.mov")
    assert [tags.get("language") for _, tags, _ in tracks(tmp_path / "out.mov")] == ["eng", "eng", "fra", "ger"]
    assert not [w for w in warnings if "language" in w]
    warnings = convert(source, tmp_path / "out.avi")  # AVI records no language at all
    assert [w for w in warnings if "language" in w] == [
        f".avi cannot record the language of {what}; .mkv keeps it"
        for what in ("the video (eng)", "audio stream #1 (eng)", "audio stream #2 (fra)")
    ]


def test_a_video_track_marked_not_default_stays_so(tmp_path):
    source = make_named_tracks(tmp_path / "in.mkv", video_default=False)
    convert(source, tmp_path / "out.mkv")
    assert tracks(tmp_path / "out.mkv")[0] == ("video", {"language": "eng", "title": "cam A"}, False)


def test_a_video_from_a_container_without_default_flags_is_marked_default(tmp_path):
    """AVI has no default flag to copy: the .mkv's only video track was marked not to be played."""
    source = media.make_video(tmp_path / "in.avi", frames=2)
    convert(source, tmp_path / "out.mkv")
    assert tracks(tmp_path / "out.mkv")[0][2]


def test_the_video_keeps_no_tag_that_describes_the_old_encoding(tmp_path):
    """A camera's handler name ("GoPro AVC") describes the old stream: the muxer writes its own."""
    source = tmp_path / "in.mp4"
    with av.open(str(source), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.metadata.update({"handler_name": "GoPro AVC", "language": "eng"})
        container.mux(video.encode(av.VideoFrame.from_ndarray(media.pattern(0, 64, 48), format="rgb24")))
        container.mux(video.encode())
    convert(source, tmp_path / "out.mp4")
    convert(source, tmp_path / "out.mkv")
    with av.open(str(tmp_path / "out.mp4")) as mp4, av.open(str(tmp_path / "out.mkv")) as mkv:
        assert mp4.streams.video[0].metadata["handler_name"] == "VideoHandler"
        assert mp4.streams.video[0].metadata["language"] == "eng"
        assert set(mkv.streams.video[0].metadata) <= {"language", "ENCODER", "DURATION"}
        assert mkv.streams.video[0].metadata["language"] == "eng"


def test_track_tags_take_a_mov_name_as_the_title():
    assert track_tags({"name": "Main", "language": "eng", "handler_name": "SoundHandler"}) == {
        "language": "eng",
        "title": "Main",
    }
    assert track_tags({"title": "Main", "name": "Other"}) == {"title": "Main"}
    assert track_tags({"DURATION": "00:00:01.000000000", "language": ""}) == {}


def test_a_frame_array_source_has_a_default_video(tmp_path):
    """Image sequences carry no tags: the output's video is still the one players pick."""
    media.make_images(tmp_path / "frames", count=2)
    convert(tmp_path / "frames", tmp_path / "out.mkv")
    assert tracks(tmp_path / "out.mkv") == [("video", {}, True)]
