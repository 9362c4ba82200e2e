"""`deblur info`: what deblur reads from an input and what `deblur run` would write for it."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from deblur_cli.cli import app
from deblur_cli.input_report import _colour
from deblur_cli.video_io import VideoInfo
from deblur_cli.video_io.deinterlace import READS_FIELD_ORDER
from deblur_cli.video_io.info import has_alpha_channel
from tests import media
from tests.media import (
    cut_without_reencoding,
    faststart,
    make_audio_only,
    make_dv,
    make_images,
    make_video,
    pattern,
    rgba_pattern,
    truncate,
    write_image,
)
from tests.test_deinterlace import make_interlaced

runner = CliRunner()


def test_an_interlaced_clip_with_a_timecode(tmp_path):
    source = make_interlaced(tmp_path / "tape.mov", frames=4, timecode="10:00:00:00")
    result = runner.invoke(app, ["info", str(source), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["format"] == "mov, h264, yuv420p" and report["size"] == "96x64" and report["frame_rate"] == 25
    order = "top field first" if READS_FIELD_ORDER else "field order per frame"  # PyAV 17 cannot read it
    assert report["interlaced"] == f"yes, {order}: deinterlaced by default (--deinterlace)"
    assert report["timecode"] == "10:00:00:00"
    assert report["default_output"] == str(tmp_path / "tape-deblurred.mov")
    assert report["written_with"] == "libx264, yuv420p"
    table = runner.invoke(app, ["info", str(source)])
    assert order in table.output and "10:00:00:00" in table.output


def test_the_format_is_the_containers_not_the_suffixs(tmp_path):
    make_video(tmp_path / "a.mkv", frames=2).rename(tmp_path / "matroska.mp4")
    make_video(tmp_path / "clip.mkv", frames=2)
    make_dv(tmp_path / "tape.dv", frames=2)
    write_still(tmp_path / "scan.dpx", "dpx")  # read by the dpx_pipe demuxer
    inputs = [tmp_path / name for name in ("matroska.mp4", "clip.mkv", "tape.dv", "scan.dpx")]
    result = runner.invoke(app, ["info", *map(str, inputs), "--json"])
    assert result.exit_code == 0, result.output
    formats = [report["format"] for report in json.loads(result.stdout)]
    assert formats == ["matroska, h264, yuv420p", "matroska, h264, yuv420p", "dv, dvvideo, yuv420p", "dpx, dpx, rgb24"]


def write_still(path: Path, codec: str) -> Path:
    """One pattern frame as an image file in `codec`, rgb24."""
    context = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt, context.time_base = 32, 24, "rgb24", Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(pattern(0, 32, 24), format="rgb24")
    path.write_bytes(b"".join(bytes(p) for p in context.encode(frame) + context.encode(None)))
    return path


def test_a_folder_of_videos_and_a_rotated_ten_bit_clip(tmp_path):
    (tmp_path / "shots").mkdir()
    make_video(tmp_path / "shots" / "a.mp4", frames=2)
    make_video(
        tmp_path / "shots" / "b.mkv", frames=2, size=(96, 64), codec="libx265", pix_fmt="yuv420p10le", bit_depth=10, rotation=90
    )
    result = runner.invoke(app, ["info", str(tmp_path / "shots"), "--json"])
    assert result.exit_code == 0, result.output
    a, b = json.loads(result.stdout)
    assert a["default_output"] == str(tmp_path / "shots-deblurred" / "a.mp4") and a["shown_as"] is None
    assert b["bit_depth"] == 10 and b["shown_as"] == "64x96, rotated 90° counter-clockwise" and b["written_with"] == "libx265, yuv420p10le"


def test_a_still_with_sound_gives_the_file_s_duration_beside_the_video_s(tmp_path):
    make_video(tmp_path / "card.mp4", frames=1, audio="aac", audio_seconds=2.0)  # a title card with music
    make_video(tmp_path / "clip.mp4", frames=10, audio="aac")
    reports = [json.loads(runner.invoke(app, ["info", str(tmp_path / name), "--json"]).stdout)
               for name in ("card.mp4", "clip.mp4")]  # fmt: skip
    assert reports[0]["duration_s"] < 0.1 and reports[0]["file_duration_s"] == pytest.approx(2.0, abs=0.1)
    assert reports[1]["file_duration_s"] is None  # sound as long as the video: nothing more to say


def test_a_mirrored_clip_is_said_to_be_mirrored_not_turned(tmp_path):
    make_video(tmp_path / "front.mp4", frames=2, mirrored=True)
    make_video(tmp_path / "turned.mp4", frames=2, rotation=270, mirrored=True)
    for name, shown in [("front", "64x48, mirrored left to right"),
                        ("turned", "48x64, rotated 90° clockwise and mirrored left to right")]:  # fmt: skip
        result = runner.invoke(app, ["info", str(tmp_path / f"{name}.mp4"), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["shown_as"] == shown


def test_a_card_with_sound_files_lists_its_videos_and_says_what_it_left_out(tmp_path):
    (tmp_path / "card").mkdir()
    make_video(tmp_path / "card" / "0001.MXF", frames=2, codec="mpeg2video")
    make_audio_only(tmp_path / "sound.mkv").rename(tmp_path / "card" / "0001A01.MXF")  # read by its content
    result = runner.invoke(app, ["info", str(tmp_path / "card"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # one input left: one report, not a list
    assert report["default_output"] == str(tmp_path / "card-deblurred" / "0001.mp4")
    assert f"left out {tmp_path / 'card' / '0001A01.MXF'}" in result.stderr


def test_a_glob_is_described_though_it_names_no_default_output(tmp_path):
    frames = make_images(tmp_path / "frames", count=3)[0].parent
    result = runner.invoke(app, ["info", str(frames / "*.png"), "--json"])  # was "a glob ... needs -o"
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["frames"] == 3 and report["written_with"] == "PNG frames"
    assert report["default_output"].startswith("none: a glob needs -o")


@pytest.mark.parametrize("name", ["shots.v2", "seq.mp4"])
def test_a_folder_of_frames_with_a_dot_in_its_name_is_described_as_run_writes_it(tmp_path, name):
    """Found by fuzz48: info took shots.v2-deblurred for a file of suffix .v2-deblurred and said nothing would
    be written; run writes PNG frames there."""
    frames = make_images(tmp_path / name, count=3)[0].parent
    result = runner.invoke(app, ["info", str(frames), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["written_with"] == "PNG frames" and report["default_output"] == str(tmp_path / f"{name}-deblurred")
    assert report["warnings"] in (None, [])


def test_a_missing_input_is_one_line(tmp_path):
    result = runner.invoke(app, ["info", str(tmp_path / "nothing.mp4")])
    assert result.exit_code == 1 and result.output.startswith("error: ") and "no such file" in result.output


def test_an_empty_input_name_is_refused_not_taken_for_the_current_folder(tmp_path, monkeypatch):
    make_video(tmp_path / "a.mp4", frames=2)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["info", ""])  # a script's unset variable: it described every video here
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "error: an input is an empty name ('')" and result.stdout == ""


def test_the_warnings_a_run_would_give_are_listed_before_it_and_nothing_is_written(tmp_path):
    drone = make_video(tmp_path / "drone.ts", frames=3, codec="libx264", data="klv")
    gopro = make_video(tmp_path / "gopro.mp4", frames=3, data="bin_data")
    result = runner.invoke(app, ["info", str(drone), str(gopro), "--json"])
    assert result.exit_code == 0, result.output
    first, second = json.loads(result.stdout)
    assert first["warnings"] == [
        "data stream #1 (klv) of the input is left out (deblur carries GoPro telemetry, into .mp4 and .mov, and timecode)"
    ]
    assert second["warnings"] == []  # the telemetry goes into the .mp4 output
    assert (first["other_data"], first["telemetry"], second["telemetry"]) == ("klv", None, "GoPro MET")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drone.ts", "gopro.mp4"]
    # the same warning as the run itself gives, found the same way
    from deblur_cli.video_io import describe
    from deblur_cli.video_io.sinks import planned_warnings

    assert planned_warnings(tmp_path / "x.mkv", describe(gopro), source=gopro) == [
        "data stream #1 (GoPro MET) cannot be stored in .mkv; it was left out (.mp4 and .mov keep it)"
    ]
    assert planned_warnings(tmp_path / "frames", describe(make_video(tmp_path / "a.mkv", audio="aac"))) == [
        "a PNG sequence cannot hold audio; the source's audio was not written"
    ]


def _source(folder: Path, case: str) -> Path:
    """A small input of the kind `case` names, for test_written_with_is_what_run_writes."""
    from PIL import Image

    if case in ("8-bit", "the writer's own choice"):
        return make_video(folder / "clip.mp4", frames=3)
    if case == "10-bit":
        return make_video(folder / "deep.mkv", frames=3, codec="libx265", pix_fmt="yuv420p10le", bit_depth=10)
    if case == "alpha kept":
        return media.make_alpha_video(folder / "anim.mkv", codec="ffv1", pix_fmt="bgra", frames=3)
    if case == "alpha left out":
        return media.make_alpha_video(folder / "anim.avi", codec="utvideo", pix_fmt="gbrap", frames=3)
    if case == "grey":
        return make_video(folder / "scan.mkv", frames=3, codec="ffv1", pix_fmt="gray")
    grey = pattern(0, 64, 48)[..., 0]
    if case == "grey image":
        Image.fromarray(grey).save(folder / "photo.png")
        return folder / "photo.png"
    (folder / "shots").mkdir()  # grey frames
    for index in range(2):
        Image.fromarray(grey).save(folder / "shots" / f"img_{index}.png")
    return folder / "shots"


@pytest.mark.parametrize(
    "case",
    ["8-bit", "10-bit", "alpha kept", "alpha left out", "grey", "grey image", "grey frames", "the writer's own choice"],
)
def test_written_with_is_what_run_writes(tmp_path, identity, monkeypatch, case):
    """info's "written with" and "alpha" tell the encoder and pixel format `deblur run` then writes the default
    output with, whatever the writer's choice depends on: one that chose by a fact info did not pass it (the writer
    patched here to choose 4:4:4) is told as it chose."""
    if case == "the writer's own choice":
        from dataclasses import replace

        from deblur_cli.video_io import writer

        chosen = writer.resolve_encoder
        monkeypatch.setattr(writer, "resolve_encoder", lambda *a, **k: replace(chosen(*a, **k), pix_fmt="yuv444p"))
    source = _source(tmp_path, case)
    report = json.loads(runner.invoke(app, ["info", str(source), "--json"]).stdout)
    result = runner.invoke(app, ["run", str(source), "-q"])
    assert result.exit_code == 0, result.output
    output = Path(report["default_output"])
    written = min(output.iterdir()) if output.is_dir() else output
    with av.open(str(written)) as container:
        codec = container.streams.video[0].codec_context
        codec_id, pix_fmt = codec.codec.id, codec.pix_fmt
    grey = ", grey" if pix_fmt.startswith("gray") else ""
    if case == "grey image":
        assert report["written_with"] == f"an image (.png{grey})" == "an image (.png, grey)"
    elif case == "grey frames":
        assert report["written_with"] == "PNG frames, grey where the input's are" and grey
    else:
        encoder, told = report["written_with"].split(", ")[:2]
        assert (av.Codec(encoder, "w").id, told) == (codec_id, pix_fmt)
    alpha = "kept" if has_alpha_channel(pix_fmt) else "left out"
    assert report["alpha"] == (alpha if case.startswith("alpha") else None)
    if case == "the writer's own choice":
        assert pix_fmt == "yuv444p"


def test_chapters_and_attachments_are_counted(tmp_path):
    source = make_video(tmp_path / "film.mkv", frames=3, chapters=[(0.0, 0.04, "one"), (0.04, 0.12, "two")])
    report = json.loads(runner.invoke(app, ["info", str(source), "--json"]).stdout)
    assert (report["chapters"], report["attachments"], report["other_video_streams"]) == (2, None, None)


def test_names_with_brackets_are_printed_as_they_are(tmp_path, monkeypatch):
    """Rich read "[bold]" in a file name as a style and "[/i]" as a tag to close: names came out
    wrong, and an error about such a name ended in a traceback."""
    monkeypatch.chdir(tmp_path)
    Path("cam[/i]").mkdir(parents=True)  # "cam[" holding "i]"
    make_video(Path("cam[/i]") / "take[bold]1.mp4", frames=2)
    described = runner.invoke(app, ["info", "cam[/i]/take[bold]1.mp4"])
    assert described.exit_code == 0, described.output
    assert "cam[/i]/take[bold]1.mp4" in described.stdout and "take[bold]1-deblurred.mp4" in described.stdout
    missing = runner.invoke(app, ["info", "cam[/i]/gone.mp4"])
    assert missing.exit_code == 1 and "cam[/i]/gone.mp4" in missing.stderr
    assert "Traceback" not in missing.output and missing.stderr.startswith("error: ")


def test_colour_tags_are_named_as_ffprobe_names_them(tmp_path):
    """Tags outside a short list were left out: SMPTE 240M video was said to be "not tagged", and a
    BT.2020 12-bit transfer went missing."""
    tags = {"primaries": 7, "transfer": 15, "matrix": 7, "range": 2}
    source = make_video(tmp_path / "c.mkv", frames=2, codec="ffv1", pix_fmt="yuv420p", color=tags)
    result = runner.invoke(app, ["info", str(source), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["colour"] == "smpte240m, bt2020-12, smpte240m, full range"
    unknown = {"primaries": 2, "transfer": 99, "matrix": 2, "range": 0}
    assert _colour(VideoInfo(64, 48, None, None, None, 8, color=unknown)) == "transfer 99"
    reserved = {"primaries": 3, "transfer": 3, "matrix": 3, "range": 1}  # FFmpeg's reserved values say nothing
    assert _colour(VideoInfo(64, 48, None, None, None, 8, color=reserved)) == "limited range"


def test_audio_and_subtitle_tracks_are_listed(tmp_path):
    source = make_video(tmp_path / "a.mkv", frames=3, audio="aac", subtitles=True)
    result = runner.invoke(app, ["info", str(source), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["audio"] is True and report["audio_tracks"] == ["aac, 48 kHz, stereo"]
    assert report["subtitles"] is True and report["subtitle_tracks"] == ["srt"]
    silent = json.loads(runner.invoke(app, ["info", str(make_video(tmp_path / "b.mp4", frames=2)), "--json"]).stdout)
    assert silent["audio_tracks"] is None and silent["subtitle_tracks"] is None


def test_one_unreadable_input_of_several_is_an_error_line_and_the_others_are_described(tmp_path):
    """One bad input stopped the command before it printed anything for the good ones."""
    good = make_video(tmp_path / "a.mp4", frames=2)
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    result = runner.invoke(app, ["info", str(good), str(tmp_path / "bad.mp4"), "--json"])
    assert result.exit_code == 1
    described, failed = json.loads(result.stdout)
    assert described["input"] == str(good) and described["frame_rate"] == 25
    assert failed["input"] == str(tmp_path / "bad.mp4") and failed["error"] in result.stderr


def test_one_input_that_cannot_be_read_prints_its_json_entry_as_one_of_several_does(tmp_path):
    """Found by fuzz48: `info --json BAD` printed nothing on stdout, where among several inputs BAD is an
    {"input", "error"} entry."""
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    song = make_audio_only(tmp_path / "song.mkv")
    for source, said in ((tmp_path / "bad.mp4", "is not a video"), (song, "has no video stream")):
        result = runner.invoke(app, ["info", str(source), "--json"])
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        assert sorted(report) == ["error", "input"] and report["input"] == str(source) and said in report["error"]
        assert result.stderr.startswith(f"error: {report['error']}\nhint: ")
        assert result.stderr.count("error:") == 1
        plain = runner.invoke(app, ["info", str(source)])
        assert plain.exit_code == 1 and plain.stdout == "" and plain.stderr == result.stderr


def test_a_sound_file_given_among_videos_is_an_error_line_and_the_videos_are_described(tmp_path):
    good = make_video(tmp_path / "a.mp4", frames=2)
    song = make_audio_only(tmp_path / "song.mkv")
    result = runner.invoke(app, ["info", str(good), str(song), "--json"])
    assert result.exit_code == 1
    described, failed = json.loads(result.stdout)
    assert described["input"] == str(good)
    assert failed["input"] == str(song) and "has no video stream" in failed["error"] and failed["error"] in result.stderr
    alone = runner.invoke(app, ["info", str(song)])
    assert alone.exit_code == 1 and "has no video stream" in alone.stderr


def test_a_glob_of_frames_says_the_frame_rate_run_gives_it(tmp_path):
    frames = make_images(tmp_path / "frames", count=3)[0].parent
    report = json.loads(runner.invoke(app, ["info", str(frames / "*.png"), "--json"]).stdout)
    assert report["frame_rate"] == 25  # --fps sets it; it was null


def test_a_sequence_of_mixed_sizes_and_kinds_is_reported_from_the_images_headers(tmp_path):
    """info read the first image only and said "warnings none" for a sequence that run stops in (an image
    of another size) or reads at the first's kind (transparency and depth lost); each later image's
    header now says so, as run would."""
    from PIL import Image

    seq = tmp_path / "seq"
    make_images(seq, count=6)  # img_001 ... img_006, 64x48 8-bit RGB
    write_image(seq / "img_002.png", rgba_pattern(1, 64, 48))
    write_image(seq / "img_003.tif", pattern(2, 64, 48, bit_depth=16))
    write_image(seq / "img_004.png", pattern(3, 32, 24))
    write_image(seq / "img_005.png", pattern(4, 32, 24))
    Image.fromarray(pattern(5, 64, 48)).convert("P", palette=Image.ADAPTIVE).save(seq / "img_006.png")  # opaque
    report = json.loads(runner.invoke(app, ["info", str(seq), "--json"]).stdout)
    assert report["warnings"] == [
        "images of another size than the first (img_001.png, 64x48): 2 of 7 (img_004.png 32x24 and 1 more); "
        "deblur run stops at the first of them",
        "images with an alpha channel or a palette, where the first (img_001.png, 8-bit RGB) has no transparency: "
        "1 of 7; deblur run reads them opaque, leaving out any transparency they hold",
        "16-bit images, where the first (img_001.png) is 8-bit: 1 of 7; deblur run rounds them to 8 bits",
    ]
    plain = make_images(tmp_path / "plain", count=3)[0].parent
    assert json.loads(runner.invoke(app, ["info", str(plain), "--json"]).stdout)["warnings"] == []


def test_headers_slow_to_read_are_read_for_a_bounded_time(tmp_path):
    """FFmpeg decodes a DPX or TIFF to open it (0.15 s for a 4K DPX): a scan of 10000 frames took info
    25 minutes. Past the budget it stops, and says how many images it checked."""
    from deblur_cli.video_io import describe
    from deblur_cli.video_io.image_kinds import survey

    paths = [write_image(tmp_path / f"f_{i}.tif", pattern(i, 16, 8)) for i in range(6)]
    paths[5] = write_image(tmp_path / "f_5.tif", pattern(5, 8, 8))  # after the budget: not seen
    ticks = iter(range(100))
    warnings = survey(paths, describe(paths[0]), budget=2.5, clock=lambda: next(ticks))
    assert warnings == [
        "only the headers of the first 3 of 6 images were read (2.5 s; FFmpeg decodes .tif images to read them): "
        "deblur run checks the others as it reads them"
    ]
    assert survey(paths, describe(paths[0]))[0].startswith("images of another size than the first")
    pngs = make_images(tmp_path / "pngs", count=4)  # read by hand: only slow storage runs out of time there
    ticks = iter(range(100))
    assert survey(pngs, describe(pngs[0]), budget=1.5, clock=lambda: next(ticks)) == [
        "only the headers of the first 2 of 4 images were read (1.5 s): deblur run checks the others as it reads them"
    ]


def test_a_png_cut_short_is_one_deblur_cannot_read(tmp_path):
    """Its header was whole, so info counted it as a good image; FFmpeg cannot decode it and the run stops."""
    from deblur_cli.video_io import describe
    from deblur_cli.video_io.image_kinds import read_kind, survey

    pngs = make_images(tmp_path / "seq", count=3)
    whole = pngs[1].read_bytes()
    pngs[1].write_bytes(whole[: len(whole) // 2])
    assert read_kind(pngs[2]) is not None and read_kind(pngs[1]) is None
    assert survey(pngs, describe(pngs[0])) == [
        "images FFmpeg cannot read: 1 of 3 (img_002.png); deblur run stops at the first of them"
    ]


def test_png_headers_say_what_ffmpeg_decodes(tmp_path):
    """read_kind reads a PNG's header by hand (FFmpeg decodes an image to open it): its depth and alpha
    agree with the frame FFmpeg decodes, a tRNS chunk included (FFmpeg gives such an image alpha)."""
    from PIL import Image

    from deblur_cli.video_io.image_kinds import read_kind
    from deblur_cli.video_io.info import bit_depth_of, carries_alpha

    rgb = pattern(0, 16, 8)
    images = {
        "grey": Image.fromarray(rgb[..., 0]),
        "grey-alpha": Image.fromarray(rgb[..., 0]).convert("LA"),
        "bits": Image.fromarray(rgb[..., 0]).convert("1"),
        "rgba": Image.fromarray(rgb).convert("RGBA"),
        "palette": Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16),
        "grey16": Image.fromarray(pattern(0, 16, 8, bit_depth=16)[..., 0]),
    }
    for name, image in images.items():
        image.save(tmp_path / f"{name}.png")
    Image.fromarray(rgb).save(tmp_path / "rgb-trns.png", transparency=tuple(int(v) for v in rgb[0, 0]))
    images["palette"].save(tmp_path / "palette-trns.png", transparency=0)
    write_image(tmp_path / "rgb16.png", pattern(0, 16, 8, bit_depth=16))
    write_image(tmp_path / "rgba.tif", rgba_pattern(0, 16, 8))
    for path in sorted(tmp_path.iterdir()):
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
        kind = read_kind(path)
        assert (kind.width, kind.height, kind.bits) == (16, 8, max(bit_depth_of(frame.format), 8)), path.name
        palette = frame.format.name == "pal8"  # its transparency is in its colours
        alpha = carries_alpha(frame, "png") if palette else any(c.is_alpha for c in frame.format.components)
        assert kind.alpha == alpha, path.name


def test_a_truncated_video_is_reported_from_its_last_packets(tmp_path):
    """info decoded one frame, so a video cut short said "warnings none"; the packets of its last seconds,
    demuxed without decoding, now say where they stop, as run says after reading every frame. An MP4
    cut without re-encoding (its index counts samples its edit list hides) is whole."""
    mkv = make_video(tmp_path / "a.mkv", frames=30)
    mp4 = make_video(tmp_path / "a.mp4", frames=30)
    fast = faststart(mp4, tmp_path / "fs.mp4")  # its index at the front, so a cut file still opens
    edited = cut_without_reencoding(mp4, tmp_path / "edited.mp4", 5)
    cut_mkv, cut_mp4 = truncate(mkv, 0.5), truncate(fast, 0.6)
    result = runner.invoke(app, ["info", str(mkv), str(fast), str(edited), str(cut_mkv), str(cut_mp4), "--json"])
    assert result.exit_code == 0, result.output
    whole_mkv, whole_mp4, whole_edit, short_mkv, short_mp4 = (r["warnings"] for r in json.loads(result.stdout))
    assert whole_mkv == whole_mp4 == whole_edit == []
    ends_early = (
        r"the video stream ends early: its packets stop at 0\.\d\d s of 1\.20 s \(truncated or damaged file\); "
        r"deblur run refuses it: re-copy the file, or restore the part before the damage with --end 0\.\d+"
    )
    assert re.fullmatch(ends_early, short_mkv[0]) and re.fullmatch(ends_early, short_mp4[0]), (short_mkv, short_mp4)


def test_a_variable_frame_rate_is_reported_from_the_packets_and_a_steady_one_is_not(tmp_path):
    # a phone's clip: 30 fps, then 10 fps for a stretch (low light), then 30 again; in an MKV's 1 ms clock
    pts = [0, 33, 67, 100, 200, 300, 333, 367, 400]
    vfr = make_video(tmp_path / "phone.mkv", frames=len(pts), pts=pts, time_base=Fraction(1, 1000))
    report = json.loads(runner.invoke(app, ["info", str(vfr), "--json"]).stdout)
    said = report["variable_frame_rate"]
    assert said == "33 to 100 ms between frames (usually 33); deblur run keeps each frame's time"
    table = runner.invoke(app, ["info", str(vfr)]).output
    assert "variable frame rate" in table and "33 to 100 ms between frames" in table
    # 29.97 fps on a millisecond clock alternates 33 and 34 ms: rounding, not a variable rate
    steady = make_video(tmp_path / "ntsc.mkv", frames=12, fps=Fraction(30000, 1001))
    report = json.loads(runner.invoke(app, ["info", str(steady), "--json"]).stdout)
    assert report["variable_frame_rate"] is None
    assert "variable frame rate" not in runner.invoke(app, ["info", str(steady)]).output


def test_frames_of_a_container_that_counts_none_are_counted_not_guessed_from_its_length(tmp_path):
    """Found in review: MPEG-TS counts no frames, and a phone's clip at 30 fps with a 15 fps stretch was said to hold
    40 (its length times its rate), the progress bar's total and --estimate's count, where a run wrote 30."""
    pts = [3000 * i for i in range(20)] + [57000 + 6000 * k for k in range(1, 11)]
    clip = make_video(tmp_path / "phone.ts", frames=30, pts=pts, time_base=Fraction(1, 90000), fps=30, codec="libx264")
    report = json.loads(runner.invoke(app, ["info", str(clip), "--json"]).stdout)
    assert report["frames"] == 30 and report["frame_rate"] == 30


def test_an_inputs_first_packets_are_read_once_and_again_once_it_changes(tmp_path, monkeypatch):
    """Found in review: info read a video's first 300 packets twice, for its variable rate and for its holes."""
    from deblur_cli.video_io import frame_timing

    opened = []
    monkeypatch.setattr(frame_timing, "open_input", lambda path: opened.append(path) or av.open(str(path)))
    source = make_video(tmp_path / "in.mkv", frames=6, pts=[0, 40, 80, 200, 240, 280], time_base=Fraction(1, 1000))
    report = json.loads(runner.invoke(app, ["info", str(source), "--json"]).stdout)
    assert report["variable_frame_rate"] and len(opened) == 1
    make_video(source, frames=4, time_base=Fraction(1, 1000))  # written again: steady now
    report = json.loads(runner.invoke(app, ["info", str(source), "--json"]).stdout)
    assert report["variable_frame_rate"] is None and len(opened) == 2


def test_frame_intervals_say_how_far_they_read():
    from deblur_cli.video_io.frame_timing import Intervals

    assert Intervals(0.0333, 0.0667, 0.0333, 300, False).describe() == (
        "33.3 to 66.7 ms between frames in the first 300 frames (usually 33.3)"
    )


# (what is given to info and run, below tmp_path; the folder protected, if any; whether run cannot write its result)
DEFAULT_OUTPUTS = {
    "clip-in-a-writable-folder": ("card/clip.mp4", None, False),
    "clip-in-a-protected-folder": ("card/clip.mp4", "card", True),
    "folder-of-videos-writable": ("card", None, False),  # card-deblurred/ is not there until the run makes it
    "folder-of-videos-protected-itself": ("card", "card", False),  # its results go beside it
    "folder-of-videos-in-a-protected-folder": ("shelf/card", "shelf", True),
    "frames-in-a-writable-folder": ("shelf/frames", None, False),
    "frames-in-a-protected-folder": ("shelf/frames", "shelf", True),
}


@pytest.mark.parametrize("case", DEFAULT_OUTPUTS)
def test_a_default_output_that_cannot_be_written_is_warned_of(tmp_path, identity, protect, case):
    """Found in review: info named ro3/rot-deblurred.mp4 with 'warnings none', and the run then failed; then every
    folder of videos was said to be unwritable, as its card-deblurred/ is not there until the run makes it. The
    rule: info warns exactly where `deblur run` without -o cannot write its result."""
    given, protected, refused = DEFAULT_OUTPUTS[case]
    for folder in ("card", "shelf/card"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        make_video(tmp_path / folder / "clip.mp4", frames=2)
    make_images(tmp_path / "shelf" / "frames", count=2, size=(32, 24))
    if protected:
        protect(tmp_path / protected)
    result = runner.invoke(app, ["info", str(tmp_path / given), "--json"])
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    warned = [warning for report in reports for warning in report["warnings"] if "cannot be written" in warning]
    run = runner.invoke(app, ["run", str(tmp_path / given)])
    assert (run.exit_code != 0) == refused, run.output  # the control: what run does
    if refused:
        folder = tmp_path / protected
        assert f"error: cannot write to {folder}" in run.stderr
        assert f"{folder} cannot be written: deblur run needs -o to put the result elsewhere" in warned
    else:
        assert warned == []


def test_info_describes_the_inputs_run_restores_and_notes_those_it_leaves_out(tmp_path):
    """Found in review: `info` of a phone's folder described the result of an earlier run beside its clip and said
    nothing of the photo there, both of which `run` leaves out with a note; and a quoted glob of videos, which
    `run` expands, was taken for one of images."""
    card = tmp_path / "DCIM"
    (card / "sub").mkdir(parents=True)
    make_video(card / "a.mp4", frames=2)
    make_video(card / "a-deblurred.mp4", frames=2)  # an earlier run's result, named as deblur names it
    make_video(card / "sub" / "b.mp4", frames=2)
    write_image(card / "p.png", pattern(0, 32, 32))
    result = runner.invoke(app, ["info", str(card), "--json"])
    assert result.exit_code == 0, result.output
    assert [report["input"] for report in json.loads(result.stdout)] == [str(card / "a.mp4"), str(card / "sub" / "b.mp4")]
    assert f"note: left out {card / 'a-deblurred.mp4'}: named as deblur names the result of {card / 'a.mp4'}" in result.stderr
    assert f"note: left out a photo in {card}, a folder of videos: restore a photo on its own" in result.stderr

    # given itself (here by a quoted glob, which run expands too), a result is described, with what run does of it
    quoted = runner.invoke(app, ["info", str(card / "*.mp4"), "--json"])
    assert quoted.exit_code == 0, quoted.output
    described = sorted(report["input"] for report in json.loads(quoted.stdout))
    assert described == [str(card / "a-deblurred.mp4"), str(card / "a.mp4")]
    assert f"note: deblur run would leave out {card / 'a-deblurred.mp4'}: named as deblur names" in quoted.stderr


def test_inputs_run_would_refuse_together_are_each_described_in_the_order_given(tmp_path):
    """Found in review: `info a.mp4 a.mp4` (or a folder given twice) stopped at run's planning error and described
    nothing; and globs of images came after every video, whatever their place among the inputs."""
    make_video(tmp_path / "a.mp4", frames=2)
    result = runner.invoke(app, ["info", str(tmp_path / "a.mp4"), str(tmp_path / "a.mp4"), "--json"])
    assert result.exit_code == 0, result.output
    assert [report["input"] for report in json.loads(result.stdout)] == [str(tmp_path / "a.mp4")] * 2
    assert "warning: deblur run would refuse these inputs together: two inputs would both be written" in result.stderr
    make_images(tmp_path / "frames", count=2, size=(32, 24))
    (tmp_path / "card").mkdir()
    make_video(tmp_path / "card" / "b.mp4", frames=2)
    glob = str(tmp_path / "frames" / "*.png")
    ordered = runner.invoke(app, ["info", glob, str(tmp_path / "card"), str(tmp_path / "a.mp4"), "--json"])
    assert ordered.exit_code == 0, ordered.output
    described = [report["input"] for report in json.loads(ordered.stdout)]
    assert described == [glob, str(tmp_path / "card" / "b.mp4"), str(tmp_path / "a.mp4")]
