"""`deblur run` end to end through Typer's CliRunner, with a stand-in identity restorer."""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from fractions import Fraction
from importlib import metadata
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from deblur_cli.cli import app
from deblur_cli.video_io import open_source
from deblur_cli.video_io.work_folder import OutputLock
import deblur_cli.restorers as restorers_module
from tests import media
from tests.restorers import FailingRestorer, IdentityRestorer, MixingRestorer

runner = CliRunner()


def deblur(*args: str):
    return runner.invoke(app, ["run", *map(str, args)])


def leftovers(folder) -> list[str]:
    """Files a run left behind besides the ones the test made."""
    return sorted(p.name for p in folder.iterdir() if ".deblur" in p.name or p.name.startswith("out"))


def test_round_trip_keeps_frames_rate_timestamps_size_and_audio(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mp4", frames=23, size=(67, 45), audio="aac", fps=30)
    result = deblur(source, "-o", tmp_path / "out.mp4", "--window", 5, "--overlap", 2, "--quiet")
    assert result.exit_code == 0, result.output
    frames_in, frames_out = media.read_frames(source), media.read_frames(tmp_path / "out.mp4")
    assert len(frames_out) == 23
    assert frames_out[0].shape == (45, 67, 3)
    assert media.read_video_pts(tmp_path / "out.mp4") == media.read_video_pts(source)
    # identity restorer + a lossy re-encode of a tiny odd-sized clip: close to its own input frame, far from others
    def error(a, b):
        return np.abs(a.astype(int) - b.astype(int)).mean()

    for i, out in enumerate(frames_out):
        assert error(out, frames_in[i]) < 6
        assert all(error(out, frames_in[j]) > 2 * error(out, frames_in[i]) for j in (i - 1, i + 1) if 0 <= j < 23)
    import av

    with av.open(str(source)) as a, av.open(str(tmp_path / "out.mp4")) as b:
        assert b.streams.video[0].average_rate == Fraction(30)
        assert b.streams.audio[0].codec_context.name == "aac"
        assert abs(float(b.streams.audio[0].duration * b.streams.audio[0].time_base)
                   - float(a.streams.audio[0].duration * a.streams.audio[0].time_base)) < 0.05
    assert all(shape[0] == 5 for shape in identity.calls)


def test_names_ffmpeg_would_take_for_a_protocol_are_read_and_written_as_files(tmp_path, identity, monkeypatch):
    # a clip named by the time of day, in a folder named with a colon; relative names, as an editor types them
    monkeypatch.chdir(tmp_path)
    Path("day:2").mkdir()
    media.make_video(tmp_path / "day:2" / "10:30.mp4", frames=6, size=(40, 30), audio="aac")
    for output in ("12:00.mp4", "day:2/.hidden:clip.mkv", "f:rames"):
        result = deblur("day:2/10:30.mp4", "-o", output, "--quiet")
        assert result.exit_code == 0, result.output
    assert len(media.read_frames(tmp_path / "12:00.mp4")) == 6
    assert len(media.read_frames(tmp_path / "day:2" / ".hidden:clip.mkv")) == 6
    assert len(list((tmp_path / "f:rames").glob("*.png"))) == 6
    assert media.read_video_pts(tmp_path / "12:00.mp4") == media.read_video_pts(tmp_path / "day:2" / "10:30.mp4")


def test_lossless_round_trip_is_exact_for_every_window_setting(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mkv", frames=11, size=(40, 30), codec="ffv1", pix_fmt="yuv444p")
    expected = media.read_frames(source)
    for window, overlap in [(1, 0), (3, 1), (4, 3), (20, 5)]:
        target = tmp_path / f"out{window}-{overlap}.mkv"
        result = deblur(source, "-o", target, "--codec", "ffv1", "--window", window, "--overlap", overlap, "-q")
        assert result.exit_code == 0, result.output
        got = media.read_frames(target)
        assert len(got) == len(expected)
        assert all(np.array_equal(a, b) for a, b in zip(expected, got)), (window, overlap)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4", ".webm"])
def test_the_same_run_twice_writes_the_same_bytes(tmp_path, identity, suffix):
    # Matroska's muxer would write a random segment UID and the date; a researcher hashing outputs sees none
    source = media.make_video(tmp_path / "in.mkv", frames=6, size=(40, 30), audio="libopus")
    codec = [] if suffix == ".webm" else ["--codec", "ffv1"]  # x264's threads may vary run to run (cli.md)
    for name in ("a", "b"):
        assert deblur(source, "-o", tmp_path / (name + suffix), "-q", *codec).exit_code == 0
    assert (tmp_path / ("a" + suffix)).read_bytes() == (tmp_path / ("b" + suffix)).read_bytes()


@pytest.mark.parametrize("suffix", [".mkv", ".avi"])
def test_a_rate_its_timestamps_round_is_stated_as_it_was_made(tmp_path, identity, suffix):
    """Found in review: FFmpeg averages a 23.976 MP4 whose times are rounded to 1/90000 to 2160000/90091, and
    outputs stated that rate (a Matroska DefaultDuration of 23.9758 fps, an AVI clock slow against its sound)."""
    ntsc = Fraction(24000, 1001)
    source = media.make_video(tmp_path / "in.mp4", frames=24, fps=ntsc, time_base=Fraction(1, 90000))
    with av.open(str(source)) as container:
        video = container.streams.video[0]
        assert video.average_rate != ntsc and video.base_rate == ntsc  # the average is the rounded one
    assert deblur(source, "-o", tmp_path / f"out{suffix}", "-q").exit_code == 0
    with av.open(str(tmp_path / f"out{suffix}")) as container:
        video = container.streams.video[0]
        assert video.average_rate == ntsc and (suffix != ".avi" or video.time_base == 1 / ntsc)


def test_a_short_clip_on_a_coarse_clock_is_taken_at_the_rate_it_was_made():
    """Found in review: 29.97 fps on an iPhone's 1/600 clock averages 29.950 over 30 frames (18000/601: 601 ticks
    for 600.6), 0.07 % off, more than rounding on a fine clock; a phone's own variable rate stays its average."""
    from deblur_cli.video_io import describe

    with tempfile.TemporaryDirectory() as folder:
        ticks = [round(Fraction(i * 600 * 1001, 30000)) for i in range(30)]  # 29.97 fps on a 1/600 clock
        clip = media.make_video(
            Path(folder) / "iphone.mov", frames=30, pts=ticks, time_base=Fraction(1, 600), fps=Fraction(30000, 1001)
        )
        with av.open(str(clip)) as container:
            assert container.streams.video[0].average_rate == Fraction(64000, 2137)  # 29.949
        assert describe(clip).fps == Fraction(30000, 1001)
        stamps = [20 * i for i in range(30)] + [600 + 40 * i for i in range(1, 6)]  # 30 fps, then 15 in low light
        stamps += [800 + 20 * i for i in range(1, 25)]
        phone = media.make_video(Path(folder) / "phone.mov", frames=len(stamps), pts=stamps, time_base=Fraction(1, 600))
        with av.open(str(phone)) as container:
            assert describe(phone).fps == container.streams.video[0].average_rate < 28


def test_variable_frame_rate_timestamps_are_kept(tmp_path, identity):
    pts = [0, 1, 3, 4, 9, 10, 17]
    source = media.make_video(tmp_path / "vfr.mkv", frames=len(pts), pts=pts, time_base=Fraction(1, 30), fps=30)
    assert deblur(source, "-o", tmp_path / "out.mkv", "-q").exit_code == 0
    assert media.read_video_pts(tmp_path / "out.mkv")[0] == media.read_video_pts(source)[0]


def test_an_mpeg_ts_clock_that_starts_late_starts_at_zero_with_its_audio_in_sync(tmp_path, identity):
    """MPEG-TS clocks start where the recorder's did (a camcorder's .mts at 1.4 s): kept, MP4 shows
    that much nothing before the first frame. Moved as FFmpeg moves them: the earliest stream starts at
    0, and the video keeps its place against the audio."""
    import av

    source = media.make_video(tmp_path / "cam.ts", frames=12, audio="aac", codec="libx264", pix_fmt="yuv420p")
    with av.open(str(source)) as container:
        clock = container.start_time / 1e6
        video_in = float(container.streams.video[0].start_time * container.streams.video[0].time_base)
    assert clock > 0
    for name in ("out.mp4", "out.mkv"):
        assert deblur(source, "-o", tmp_path / name, "-q").exit_code == 0
        with av.open(str(tmp_path / name)) as container:
            assert container.start_time == 0
            video, audio = container.streams.video[0], container.streams.audio[0]
            assert float(video.start_time * video.time_base) == pytest.approx(video_in - clock, abs=2e-3)
            assert video.start_time * video.time_base > audio.start_time * audio.time_base  # the audio's lead is kept
    assert len(media.read_frames(tmp_path / "out.mp4")) == 12


def test_raw_dv_keeps_its_frames_and_length(tmp_path, identity):
    source = media.make_dv(tmp_path / "tape.dv", ntsc=True, frames=4)
    result = deblur(source, "-o", tmp_path / "out.mp4", "-q")
    assert result.exit_code == 0, result.output
    stamps, base = media.read_video_pts(tmp_path / "out.mp4")
    assert [p * base for p in stamps] == [Fraction(i * 1001, 30000) for i in range(4)]
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert container.streams.video[0].average_rate == Fraction(30000, 1001)


def test_ten_bit_stays_ten_bit(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mkv", frames=4, size=(64, 64), bit_depth=10, codec="libx265")
    assert deblur(source, "-o", tmp_path / "out.mkv", "-q").exit_code == 0
    import av

    with av.open(str(tmp_path / "out.mkv")) as c:
        assert "10" in c.streams.video[0].codec_context.pix_fmt


def test_rotation_is_carried(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mp4", frames=3, rotation=90)
    assert deblur(source, "-o", tmp_path / "out.mp4", "-q").exit_code == 0
    from deblur_cli.video_io import describe

    assert describe(tmp_path / "out.mp4").rotation == 90


def test_image_sequence_in_and_out(tmp_path, identity):
    media.make_images(tmp_path / "frames", count=6, size=(33, 21))
    result = deblur(tmp_path / "frames", "-o", tmp_path / "restored", "-q")
    assert result.exit_code == 0, result.output
    written = sorted((tmp_path / "restored").iterdir())
    assert len(written) == 6 and all(p.suffix == ".png" for p in written)
    assert media.read_frames(written[0])[0].shape == (21, 33, 3)


@pytest.mark.parametrize(
    "fps, rate",
    [
        (None, Fraction(25)),
        ("50", Fraction(50)),
        ("30000/1001", Fraction(30000, 1001)),
        ("29.97", Fraction(30000, 1001)),  # NTSC's rate, as a camera's 29.97 is, not 2997/100
        ("23.976", Fraction(24000, 1001)),
        ("12.5", Fraction(25, 2)),
        ("5.00", Fraction(5)),  # a whole rate written with decimals is that rate, though 5·1000/1001 rounds to it
        ("9.99", Fraction(999, 100)),
        ("0.001", Fraction(1, 1000)),
        ("21.474836481", Fraction(21474836481, 10**9).limit_denominator(1_001_000)),  # past int32: FFmpeg's nearest
    ],
)
def test_an_image_sequence_becomes_a_video_at_the_fps_given(tmp_path, identity, fps, rate):
    media.make_images(tmp_path / "frames", count=12, size=(32, 24))
    result = deblur(tmp_path / "frames", "-o", tmp_path / "out.mp4", "-q", *(["--fps", fps] if fps else []))
    assert result.exit_code == 0, result.output
    pts, time_base = media.read_video_pts(tmp_path / "out.mp4")
    assert len(pts) == 12
    assert [p * time_base for p in pts] == [i / rate for i in range(12)]  # frame i at i / rate seconds


def test_fps_sets_the_clock_that_start_counts_on_an_image_sequence(tmp_path, identity):
    media.make_images(tmp_path / "frames", count=12, size=(32, 24))
    result = deblur(tmp_path / "frames", "-o", tmp_path / "restored", "--fps", "50", "--start", "0.1", "-q")
    assert result.exit_code == 0, result.output
    written = sorted((tmp_path / "restored").iterdir())
    assert len(written) == 7  # images 5 to 11: 0.1 s is five frames at 50 a second (2.5 at the default 25)
    np.testing.assert_array_equal(media.read_frames(written[0])[0], media.pattern(5, 32, 24))


@pytest.mark.parametrize(
    "value, message",
    [
        ("0", "from 0.001 to 1000"),
        ("abc", "not a frame rate"),
        ("1/0", "not a frame rate"),
        ("1/65535", "from 0.001 to 1000"),  # MP4 refused it only when the restored frames were put together
        ("1e-300", "from 0.001 to 1000"),  # was an internal OverflowError
    ],
)
def test_a_bad_fps_is_a_usage_error(tmp_path, identity, value, message):
    media.make_images(tmp_path / "frames", count=2, size=(32, 24))
    result = deblur(tmp_path / "frames", "-o", tmp_path / "out.mp4", "--fps", value)
    assert result.exit_code == 2 and message in result.output
    assert identity.calls == []


def test_fps_on_a_video_is_refused_since_a_video_keeps_its_own_rate(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    result = deblur(source, "-o", tmp_path / "out.mp4", "--fps", "30")
    assert result.exit_code == 2 and "is a video, which keeps its own" in result.output
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize(
    "suffix, exact",
    [(".png", True), (".tif", True), (".bmp", True), (".jpg", False), (".webp", False), (".tga", True), (".dpx", True)],
)
def test_a_photo_in_gives_an_image_out(tmp_path, identity, suffix, exact):
    source = media.write_image(tmp_path / "photo.png", media.pattern(0, 61, 37))
    result = deblur(source, "-o", tmp_path / ("out" + suffix), "-q")
    assert result.exit_code == 0, result.output
    (restored,) = media.read_frames(tmp_path / ("out" + suffix))
    original = media.read_frames(source)[0]
    error = np.abs(restored.astype(int) - original.astype(int)).mean()
    assert error == 0 if exact else 0 < error < 4  # the identity restorer; JPEG at quantiser 2 loses a little
    assert leftovers(tmp_path) == ["out" + suffix]


def test_tga_and_dpx_frames_are_image_sequences_and_photos(tmp_path, identity):
    """A folder of TGA or DPX frames (VFX and animation pipelines, film scans) was "no images in directory",
    and one such file, restored beside itself as .tga or .dpx, was "the .tga container cannot hold libx264
    video"."""
    media.make_images(tmp_path / "tga", count=3, suffix=".tga")
    result = deblur(tmp_path / "tga", "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "tga-deblurred").iterdir()) == [f"img_{i:03d}.png" for i in range(1, 4)]
    deep = media.pattern(0, 40, 30).astype(np.uint16) * 257 + 128  # 16 bits, as a 10-bit scan decodes
    source = media.write_image(tmp_path / "scan.dpx", deep)
    alpha = media.write_image(tmp_path / "logo.tga", media.rgba_pattern(1, 32, 24))
    for path in (source, alpha):
        result = deblur(path, "-q")
        assert result.exit_code == 0, result.output
    (restored,) = media.read_frames(tmp_path / "scan-deblurred.dpx", format="rgb48le")
    assert np.array_equal(restored, deep)  # 16 bits, sample for sample
    (logo,) = media.read_rgba(tmp_path / "logo-deblurred.tga")
    assert np.array_equal(logo[..., 3], media.alpha_plane(1, 32, 24))


def test_images_deblur_reads_but_does_not_write_are_restored_as_png(tmp_path, identity):
    """A .ppm, .pgm or .jp2 (images of older tools and scanners, which FFmpeg decodes) restored beside
    itself kept its suffix, which deblur cannot write: "the .ppm container cannot hold libx264 video"."""
    from PIL import Image

    picture = media.pattern(0, 40, 30)
    for suffix in (".ppm", ".jp2"):
        Image.fromarray(picture).save(tmp_path / f"scan{suffix}")
        result = deblur(tmp_path / f"scan{suffix}", "-q")
        assert result.exit_code == 0, result.output
        (restored,) = media.read_frames(tmp_path / "scan-deblurred.png")
        assert np.abs(restored.astype(int) - picture).max() <= 0, suffix  # both lossless
        (tmp_path / "scan-deblurred.png").unlink()
    refused = deblur(tmp_path / "scan.ppm", "-o", tmp_path / "out.ppm")
    assert refused.exit_code == 1 and "deblur reads .ppm images but does not write them" in refused.stderr
    assert "Traceback" not in refused.output and not (tmp_path / "out.ppm").exists()
    (tmp_path / "frames").mkdir()
    for i in range(3):  # a folder of them is a frame sequence
        Image.fromarray(media.pattern(i, 40, 30)[..., 0]).save(tmp_path / "frames" / f"f{i}.pgm")
    result = deblur(tmp_path / "frames", "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "frames-deblurred").iterdir()) == ["f0.png", "f1.png", "f2.png"]


def test_an_openexr_frame_is_restored_as_png_and_its_clipping_said(tmp_path, identity):
    """OpenEXR holds float, linear-light samples: deblur reads them clipped to 0..1, and says so. Restored
    beside itself, it kept its suffix, which deblur cannot write."""
    from fractions import Fraction as F

    picture = np.linspace(0, 2, 40 * 30 * 3, dtype=np.float32).reshape(30, 40, 3)  # highlights above 1
    frame = av.VideoFrame(40, 30, "gbrpf32le")
    for plane, channel in zip(frame.planes, (1, 2, 0)):  # G, B, R planes
        rows = np.frombuffer(plane, dtype=np.float32).reshape(30, plane.line_size // 4)
        rows[:, :40] = picture[..., channel]
    encoder = av.CodecContext.create("exr", "w")
    encoder.width, encoder.height, encoder.pix_fmt, encoder.time_base = 40, 30, "gbrpf32le", F(1, 25)
    (tmp_path / "shot.exr").write_bytes(b"".join(bytes(p) for p in encoder.encode(frame) + encoder.encode(None)))
    result = deblur(tmp_path / "shot.exr", "-q")
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "shot.exr holds float samples (gbrpf32le; OpenEXR's are linear light): they were read clipped" in said
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "shot.exr").write_bytes((tmp_path / "shot.exr").read_bytes())
    for shown in (tmp_path / "shot.exr", tmp_path / "frames"):  # `info` says it before a run, of an image, a folder
        report = json.loads(CliRunner().invoke(app, ["info", str(shown), "--json"]).stdout)
        said = "shot.exr holds float samples (gbrpf32le; OpenEXR's are linear light): a run reads them clipped"
        assert any(line.startswith(said) for line in report["warnings"]), report
    (restored,) = media.read_frames(tmp_path / "shot-deblurred.png", format="rgb48le")
    assert restored.max() == 65535 and restored[0, 0, 0] == 0


def test_an_image_output_another_run_is_writing_is_refused_and_no_lock_is_left(tmp_path, monkeypatch):
    """Image outputs took no lock: concurrent runs all succeeded, and the last rename won."""
    source = media.write_image(tmp_path / "photo.png", media.pattern(0, 32, 32))
    target = tmp_path / "out.png"
    held = OutputLock(target)  # another run, writing out.png
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    refused = deblur(source, "-o", target, "-q")
    assert refused.exit_code == 1 and f"error: another deblur run is writing {target}" in refused.stderr
    assert not target.exists()
    held.release()
    for restorer, code in ((FailingRestorer(0, KeyboardInterrupt()), 130), (FailingRestorer(0, RuntimeError("x")), 1)):
        monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, restorer=restorer, **k: restorer)
        assert deblur(source, "-o", target, "-q").exit_code == code
        assert leftovers(tmp_path) == []  # no temporary file, no lock
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    assert deblur(source, "-o", target, "-q").exit_code == 0
    assert leftovers(tmp_path) == ["out.png"]


def test_a_stopped_forced_run_keeps_the_image_it_was_to_replace(tmp_path, monkeypatch):
    """Found in review (tests53 F2): with the image written under its final name, no test failed, and Ctrl-C
    during `deblur run photo.png -o out.png --force` deleted the user's out.png."""
    source = media.write_image(tmp_path / "photo.png", media.pattern(0, 32, 32))
    target = tmp_path / "out.png"
    target.write_bytes(b"an earlier result")
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: FailingRestorer(0, KeyboardInterrupt()))
    assert deblur(source, "-o", target, "--force", "-q").exit_code == 130
    assert leftovers(tmp_path) == ["out.png"] and target.read_bytes() == b"an earlier result"


def test_a_webp_photo_gives_a_webp_beside_it_or_says_why_not(tmp_path, identity, monkeypatch):
    source = media.write_image(tmp_path / "photo.webp", media.rgba_pattern(0, 32, 24))
    assert deblur(source, "-q").exit_code == 0  # was "the .webp container cannot hold libx264 video"
    (restored,) = media.read_rgba(tmp_path / "photo-deblurred.webp")
    assert np.array_equal(restored[..., 3], media.alpha_plane(0, 32, 24))  # libwebp keeps alpha losslessly
    monkeypatch.setattr(av, "codecs_available", av.codecs_available - {"libwebp"})
    result = deblur(source, "-o", tmp_path / "out.webp")
    assert result.exit_code == 1 and "has no libwebp encoder for .webp images" in result.output


def test_a_deep_photo_keeps_16_bits_in_png_and_is_rounded_with_a_warning_in_jpeg(tmp_path, identity):
    source = media.write_image(tmp_path / "deep.png", media.pattern(0, 32, 24, bit_depth=16))
    assert deblur(source, "-o", tmp_path / "out.png", "-q").exit_code == 0
    assert np.array_equal(media.read_frames(tmp_path / "out.png", format="rgb48le")[0], media.read_frames(source, format="rgb48le")[0])
    result = deblur(source, "-o", tmp_path / "out.jpg")
    assert result.exit_code == 0 and "the 16-bit frame was rounded" in result.output


@pytest.mark.parametrize(
    "output, options, message",
    [
        ("out.png", [], "out.png is one image, and the input has 3 frames"),
        ("out.jpg", ["--codec", "h264"], "out.jpg is a mjpeg image, not h264 video"),
        ("outdir", ["--codec", "h264"], "is a directory, which holds PNG frames, not h264 video"),
    ],
)
def test_an_output_that_cannot_hold_the_input_fails_before_the_model_loads(tmp_path, monkeypatch, output, options, message):
    loaded = []
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: loaded.append(a) or IdentityRestorer())
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    result = deblur(source, "-o", f"{tmp_path}/{output}", *options)
    assert result.exit_code != 0
    assert message in result.output and len(result.output.strip().splitlines()) == 2  # the error and its hint
    assert leftovers(tmp_path) == [] and not loaded


@pytest.mark.parametrize(
    "output, options",
    [("out.png", []), ("shot.v2.png", []), ("my shot.png", []), ("out.jpg", ["--codec", "h264"]),
     ("out.png", ["--codec", "ffv1"])],
)  # fmt: skip
def test_the_hint_for_an_image_that_cannot_hold_the_input_names_outputs_that_can(tmp_path, identity, output, options):
    """Found in review: the hint offered `-o DIR/` for PNG frames, which puts a video in the folder; then a folder
    named shot.v2, taken for a video of format .v2, and PNG frames where --codec asked for a video codec. The rule:
    every output the hint names, given with the command's own options, is written."""
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    result = deblur(source, "-o", tmp_path / output, *options)
    assert result.exit_code == 1
    hint = result.stderr.splitlines()[-1]
    named = [word for word in re.findall(r"-o ('[^']*'|[^\s;)]+)", hint)]
    assert len(named) == (1 if options else 2), hint
    for each in (shlex.split(word)[0] for word in named):
        assert deblur(source, "-o", each, *options, "-q").exit_code == 0, each
        written = list(Path(each).glob("*.png")) if Path(each).is_dir() else media.read_frames(each)
        assert len(written) == 3, each


@pytest.mark.parametrize("output", ["out.mpg", "out.vob", "out.m2v"])
def test_mpeg2_at_a_rate_it_cannot_store_says_so_before_the_model_loads(tmp_path, monkeypatch, output):
    """It was "the .mpg container cannot hold mpeg2video video", or for .vob and .m2v "the mpeg2video encoder
    refused its settings" with a hint to check --codec, --crf, --preset and --pix-fmt, none of them given."""
    loaded = []
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: loaded.append(a) or IdentityRestorer())
    media.make_images(tmp_path / "frames", count=3, size=(32, 24))
    result = deblur(tmp_path / "frames", "-o", tmp_path / output, "--fps", "7")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: the mpeg2video encoder cannot store 7 frames a second",
        "hint: write .mp4 or .mkv without --codec: their H.264 takes any rate",
    ]
    assert leftovers(tmp_path) == [] and not loaded
    assert deblur(tmp_path / "frames", "-o", tmp_path / output, "--fps", "12.5", "-q").exit_code == 0  # 25 / 2 it stores


def test_several_photos_go_into_a_folder_as_images(tmp_path, identity):
    a = media.write_image(tmp_path / "a.jpg", media.pattern(0, 40, 30))
    b = media.write_image(tmp_path / "b.png", media.pattern(1, 40, 30))
    result = deblur(a, b, "-o", tmp_path / "outdir", "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "outdir").iterdir()) == ["a.jpg", "b.png"]
    assert media.read_frames(tmp_path / "outdir" / "b.png")[0].shape == (30, 40, 3)


def test_several_inputs_go_into_a_folder(tmp_path, identity):
    a = media.make_video(tmp_path / "a.mp4", frames=3)
    b = media.make_video(tmp_path / "b.mkv", frames=4)
    result = runner.invoke(app, ["run", str(a), str(b), "-o", str(tmp_path / "outdir"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [s["frames"] for s in summary] == [3, 4]
    assert sorted(p.name for p in (tmp_path / "outdir").iterdir()) == ["a.mp4", "b.mkv"]


def test_a_file_name_for_several_outputs_is_refused_unless_typed_as_a_folder(tmp_path, identity):
    a = media.make_video(tmp_path / "a.mp4", frames=2)
    b = media.make_video(tmp_path / "b.mp4", frames=2)
    result = deblur(a, b, "-o", tmp_path / "out.mp4")
    assert result.exit_code == 2 and f"-o {tmp_path / 'out.mp4'} names a video file, but there are 2 inputs" in result.output
    assert not (tmp_path / "out.mp4").exists()  # it was made a folder of two videos, with exit code 0
    card = tmp_path / "card"
    card.mkdir()
    media.make_video(card / "c.mp4", frames=2)
    image = deblur(card, "-o", tmp_path / "out.png")
    assert image.exit_code == 2 and "names an image file, but " in image.output and "is a folder of videos" in image.output
    assert deblur(a, b, "-o", f"{tmp_path / 'out.mp4'}/", "-q").exit_code == 0  # a folder, as typed
    assert sorted(p.name for p in (tmp_path / "out.mp4").iterdir()) == ["a.mp4", "b.mp4"]
    assert deblur(a, b, "-o", tmp_path / "takes.v2", "-q").exit_code == 0  # a dot, but no video's suffix


def test_without_output_each_result_goes_beside_its_input(tmp_path, identity):
    clip = media.make_video(tmp_path / "clip.mp4", frames=3)
    other = media.make_video(tmp_path / "other.mkv", frames=2)
    frames = media.make_images(tmp_path / "frames", count=2)[0].parent
    result = deblur(clip, other, frames, "--json")
    assert result.exit_code == 0, result.output
    assert [entry["output"] for entry in json.loads(result.stdout)] == [
        str(tmp_path / "clip-deblurred.mp4"), str(tmp_path / "other-deblurred.mkv"), str(tmp_path / "frames-deblurred")
    ]
    assert len(media.read_frames(tmp_path / "clip-deblurred.mp4")) == 3
    assert sorted(p.name for p in (tmp_path / "frames-deblurred").iterdir()) == ["img_001.png", "img_002.png"]
    again = deblur(clip)
    assert again.exit_code == 1 and "output exists: " in again.output
    assert deblur(clip, "--skip-existing").exit_code == 0


def test_without_output_a_folder_of_videos_goes_into_a_folder_beside_it(tmp_path, identity):
    (tmp_path / "shots").mkdir()
    media.make_video(tmp_path / "shots" / "a.mp4", frames=2)
    result = deblur(tmp_path / "shots", "-q")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "shots-deblurred").iterdir()] == ["a.mp4"]


def test_a_camera_card_is_searched_below_its_top_folder(tmp_path, identity):
    card = tmp_path / "card"
    (card / "DCIM" / "100APPLE").mkdir(parents=True)
    (card / "DCIM" / "101APPLE").mkdir(parents=True)
    media.make_video(card / "DCIM" / "100APPLE" / "IMG_0001.mp4", frames=2)
    media.make_video(card / "DCIM" / "101APPLE" / "IMG_0001.mp4", frames=2)  # the same name, elsewhere
    (card / "DCIM" / "100APPLE" / "._IMG_0001.mp4").write_bytes(b"macOS metadata, not a video")
    result = deblur(card, "--json")
    assert result.exit_code == 0, result.output
    assert [entry["output"] for entry in json.loads(result.stdout)] == [
        str(tmp_path / "card-deblurred" / "DCIM" / "100APPLE" / "IMG_0001.mp4"),
        str(tmp_path / "card-deblurred" / "DCIM" / "101APPLE" / "IMG_0001.mp4"),
    ]
    frames = media.make_images(tmp_path / "frames", count=2)[0].parent  # a folder of frames stays one input
    (frames / "extra").mkdir()
    media.make_video(frames / "extra" / "reference.mp4", frames=2)
    assert json.loads(deblur(frames, "-q", "--json").stdout)["output"] == str(tmp_path / "frames-deblurred")
    into = deblur(card, "-o", tmp_path / "out", "-q")
    assert into.exit_code == 0, into.output
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.mp4")) == [
        "DCIM/100APPLE/IMG_0001.mp4", "DCIM/101APPLE/IMG_0001.mp4"
    ]


def test_a_professional_card_gives_mp4s_and_leaves_out_its_sound_files(tmp_path, identity):
    card = tmp_path / "P2"
    (card / "CONTENTS" / "VIDEO").mkdir(parents=True)
    (card / "CONTENTS" / "AUDIO").mkdir(parents=True)
    media.make_video(card / "CONTENTS" / "VIDEO" / "0001AB.MXF", frames=2, codec="mpeg2video")
    sound = media.make_audio_only(tmp_path / "sound.mkv", codec="pcm_s16le")  # FFmpeg reads it by its content
    sound.rename(card / "CONTENTS" / "AUDIO" / "0001AB00.MXF")
    (tmp_path / "phone").mkdir()
    media.make_video(tmp_path / "phone" / "VID_0001.3gp", frames=2, codec="libx264")
    result = deblur(card, tmp_path / "phone", "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    assert [entry["output"] for entry in json.loads(result.stdout)] == [
        str(tmp_path / "out" / "CONTENTS" / "VIDEO" / "0001AB.mp4"), str(tmp_path / "out" / "VID_0001.mp4")
    ]
    assert "left out " + str(card / "CONTENTS" / "AUDIO" / "0001AB00.MXF") in result.stderr
    assert "no video stream (only audio: pcm_s16le)" in result.stderr
    assert len(media.read_frames(tmp_path / "out" / "CONTENTS" / "VIDEO" / "0001AB.mp4")) == 2
    sounds = deblur(card / "CONTENTS" / "AUDIO", "-o", tmp_path / "none")
    assert sounds.exit_code == 1 and "error: no video to restore" in sounds.stderr
    named = deblur(card / "CONTENTS" / "AUDIO" / "0001AB00.MXF", "-o", tmp_path / "x.mp4")  # named: an error
    assert named.exit_code == 1 and "has no video stream" in named.stderr


def test_default_output_names():
    from deblur_cli.outputs import default_output

    assert default_output(Path("cam/00012.MTS")) == Path("cam/00012-deblurred.mp4")  # a container deblur writes
    assert default_output(Path("card/0001AB.MXF")) == Path("card/0001AB-deblurred.mp4")
    assert default_output(Path("phone/clip.3gp")) == Path("phone/clip-deblurred.mp4")
    assert default_output(Path("a/take.mov")) == Path("a/take-deblurred.mov")
    assert default_output(Path("photo.jpg")) == Path("photo-deblurred.jpg")
    assert default_output(Path("loop.gif")) == Path("loop-deblurred.mp4")  # no encoder for .gif: a video


def test_the_current_folder_and_its_parent_are_named_by_their_own_names(tmp_path, monkeypatch, identity):
    from deblur_cli.outputs import default_output

    frames = media.make_images(tmp_path / "frames", count=2)[0].parent
    monkeypatch.chdir(frames)
    assert default_output(Path(".")) == tmp_path / "frames-deblurred"
    assert default_output(Path("..")) == tmp_path.parent / f"{tmp_path.name}-deblurred"
    result = deblur(".", "-q")  # was an internal error: "PosixPath('.') has an empty name"
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "frames-deblurred").iterdir())) == 2


def test_the_same_input_spelled_another_way_is_the_same_input_to_continue(tmp_path, monkeypatch):
    from deblur_cli.video_io.sources import input_identity

    clip = media.make_video(tmp_path / "clip.mp4", frames=2)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    assert input_identity("sub/../clip.mp4") == input_identity("clip.mp4") == input_identity(clip)


def test_an_animated_gif_becomes_an_mp4_beside_it(tmp_path, identity):
    gif = tmp_path / "loop.gif"
    with av.open(str(gif), "w") as container:
        stream = container.add_stream("gif", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "rgb8"
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(media.pattern(index, 32, 16), format="rgb24")
            container.mux(stream.encode(frame.reformat(format="rgb8")))
        container.mux(stream.encode())
    result = deblur(gif, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["output"] == str(tmp_path / "loop-deblurred.mp4")
    assert len(media.read_frames(tmp_path / "loop-deblurred.mp4")) == 3


def test_a_dash_for_a_pipe_is_refused_not_taken_for_a_folder_named_dash(tmp_path, identity, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = media.make_video(tmp_path / "in.mp4", frames=2)
    for args in ([source, "-o", "-"], ["-", "-o", tmp_path / "out.mp4"]):
        result = deblur(*args)
        assert result.exit_code == 2 and "not pipes ('-')" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_two_inputs_for_one_output_are_refused(tmp_path, identity):
    clip = media.make_video(tmp_path / "clip.mp4", frames=2)
    (tmp_path / "other").mkdir()
    twin = media.make_video(tmp_path / "other" / "clip.mp4", frames=2)
    same = deblur(clip, clip)
    assert same.exit_code == 2 and "two inputs would both be written to" in same.output
    folder = deblur(clip, twin, "-o", tmp_path / "out")
    assert folder.exit_code == 2 and str(tmp_path / "out" / "clip.mp4") in folder.output
    assert deblur(clip, twin, "-q").exit_code == 0  # beside each: no clash


def test_two_cards_of_one_clip_name_into_one_folder_are_told_the_command_that_keeps_them_apart(
    tmp_path, identity, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    for card in ("camA", "camB"):
        (tmp_path / "shoot" / card).mkdir(parents=True)
        media.make_video(tmp_path / "shoot" / card / "C0001.mp4", frames=2)
    refused = deblur("shoot/camA", "shoot/camB", "-o", "out/")
    assert refused.exit_code == 2 and "or restore their common folder shoot (every video in it)" in refused.stderr
    assert deblur("shoot", "-o", "out/", "-q").exit_code == 0  # the command it names
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.mp4")) == [
        "camA/C0001.mp4",
        "camB/C0001.mp4",
    ]


def test_a_glob_needs_an_output(tmp_path, identity):
    media.make_images(tmp_path / "frames", count=2)
    result = deblur(tmp_path / "frames" / "*.png")
    assert result.exit_code == 2 and "needs -o" in result.output


def test_a_quoted_glob_of_videos_is_several_inputs(tmp_path, identity):
    """`deblur run "clips/*.mp4"` (quoted, as scripts do against "argument list too long") was read as a
    frame sequence and failed with "no images in files matching"."""
    for name in ("take10", "take9"):
        (tmp_path / "clips").mkdir(exist_ok=True)
        media.make_video(tmp_path / "clips" / f"{name}.mkv", frames=2)
    pattern = str(tmp_path / "clips" / "take*.mkv")
    into = deblur(pattern, "-o", tmp_path / "out", "-q", "--json")
    assert into.exit_code == 0, into.output
    assert [Path(s["input"]).name for s in json.loads(into.stdout)] == ["take9.mkv", "take10.mkv"]  # natural order
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["take10.mkv", "take9.mkv"]
    beside = deblur(pattern, "-q")  # each beside its input, as when the shell expands it
    assert beside.exit_code == 0 and (tmp_path / "clips" / "take9-deblurred.mkv").is_file()
    nothing = deblur(str(tmp_path / "clips" / "none*.mkv"), "-o", tmp_path / "x.mkv")
    assert nothing.exit_code == 1 and "no file matches" in nothing.stderr
    beside_nothing = deblur(str(tmp_path / "clips" / "none*.mkv"))  # was "a glob ... needs -o": not what to fix
    assert beside_nothing.exit_code == 1 and "no file matches" in beside_nothing.stderr


def test_a_damaged_input_among_several_is_reported_and_the_others_are_restored(tmp_path, identity):
    a = media.make_video(tmp_path / "a.mkv", frames=3)
    b = media.truncate(media.make_video(tmp_path / "full.mkv", frames=30), 0.5, tmp_path / "b.mkv")
    c = media.make_video(tmp_path / "c.mkv", frames=4)
    result = runner.invoke(app, ["run", str(a), str(b), str(c), "-o", str(tmp_path / "outdir"), "--json"])
    assert result.exit_code == 1
    assert "b.mkv: the video stream ends early" in result.stderr  # its own error, with its hint
    assert "1 of 3 inputs failed:" in result.stderr and "the other 2 were restored" in result.stderr
    assert sorted(p.name for p in (tmp_path / "outdir").iterdir()) == ["a.mkv", "c.mkv"]  # nothing of b
    summary = json.loads(result.stdout)
    assert [Path(s["input"]).name for s in summary] == ["a.mkv", "b.mkv", "c.mkv"]
    assert summary[0]["frames"] == 3 and "ends early" in summary[1]["error"] and summary[2]["frames"] == 4


def test_an_unreadable_input_among_several_fails_alone_before_the_model_loads(tmp_path, identity):
    """Found in review: a card's MP4 without its index (a recording stopped by a crash) stopped the whole batch,
    where a clip cut short with its index failed alone. A name that does not exist still stops it (a typo)."""
    card = tmp_path / "card"
    card.mkdir()
    a, c = media.make_video(card / "A001.mp4", frames=3), media.make_video(card / "A003.mp4", frames=4)
    whole = media.make_video(tmp_path / "whole.mp4", frames=30).read_bytes()
    (card / "A002.mp4").write_bytes(whole[: len(whole) // 2])  # its moov, at the end, cut off
    (card / "notes.mp4").write_text("not a video")
    result = runner.invoke(app, ["run", str(card), "-o", str(tmp_path / "out") + "/", "--json"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {card / 'A002.mp4'} is an MP4/MOV file without its index")
    assert lines[2].startswith(f"error: {card / 'notes.mp4'} is not a video")
    assert lines[-2] == f"error: 2 of 4 inputs failed: {card / 'A002.mp4'}, {card / 'notes.mp4'}"
    assert lines[-1] == "hint: the other 2 were restored; the errors above say what went wrong"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["A001.mp4", "A003.mp4"]
    summary = json.loads(result.stdout)
    assert ["frames" in s for s in summary] == [True, False, True, False]
    assert ["error" in s for s in summary] == [False, True, False, True]
    unreadable = [str(card / "A002.mp4"), str(card / "notes.mp4")]
    none = runner.invoke(app, ["run", *unreadable, "-o", str(tmp_path / "o2") + "/"])
    assert none.exit_code == 1 and none.stderr.splitlines()[-2:] == [
        "error: none of the 2 inputs can be read",
        "hint: the errors above say why",
    ]
    (tmp_path / "o2").mkdir(exist_ok=True)
    (tmp_path / "o2" / "A001.mp4").write_bytes(b"done")  # skipped: "none of the 2 inputs" of 3 typed
    skipped = runner.invoke(app, ["run", str(a), *unreadable, "-o", str(tmp_path / "o2") + "/", "--skip-existing"])
    assert skipped.exit_code == 1 and "error: none of the 2 inputs left to restore can be read" in skipped.stderr
    typo = runner.invoke(app, ["run", str(a), str(tmp_path / "A003.mp4"), "-o", str(tmp_path / "o3") + "/"])
    assert typo.exit_code == 1 and "no such file" in typo.stderr and not (tmp_path / "o3").exists()
    assert c.exists()


def test_one_input_that_fails_prints_its_json_entry_as_one_of_several_does(tmp_path, monkeypatch):
    """Found by fuzz48: with --json, one input that could not be read printed nothing on stdout (a script that
    passes one file had to read stderr), where among several it is an {"input", "output", "error"} entry."""
    from deblur_cli.errors import InputError

    bad, out = tmp_path / "bad.mp4", tmp_path / "out.mp4"
    bad.write_text("not a video")
    result = deblur(bad, "-o", out, "--json")
    assert result.exit_code == 1
    entry = json.loads(result.stdout)
    assert sorted(entry) == ["error", "input", "output"] and (entry["input"], entry["output"]) == (str(bad), str(out))
    assert result.stderr.startswith(f"error: {entry['error']}\nhint: ") and "is not a video" in entry["error"]
    source = media.make_video(tmp_path / "a.mkv", frames=3)  # an error found as the input is restored
    failing = FailingRestorer(0, InputError(f"{source} cannot be read on"))
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: failing)
    result = deblur(source, "-o", tmp_path / "out.mkv", "--json")
    assert result.exit_code == 1 and result.stderr.startswith(f"error: {source} cannot be read on")
    assert json.loads(result.stdout) == {
        "input": str(source), "output": str(tmp_path / "out.mkv"), "error": f"{source} cannot be read on"
    }  # fmt: skip


def test_a_batch_with_nothing_left_to_restore_says_so_once_and_its_json_keeps_its_shape(tmp_path, identity):
    """Found in review: a folder of a sound file and a broken file ended "error: none of the 1 inputs can be read"
    under the broken file's own error; and --json printed nothing for a batch of a skipped input and an unreadable
    one, where it prints each input's entry for the others."""
    card = tmp_path / "card"
    card.mkdir()
    media.make_audio_only(card / "sound.mp4")
    (card / "broken.mp4").write_text("not a video")
    result = runner.invoke(app, ["run", str(card)])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {card / 'broken.mp4'} is not a video or image file")
    assert f"note: left out {card / 'sound.mp4'}" in result.stderr
    done = media.make_video(tmp_path / "a.mkv", frames=2)
    (tmp_path / "a-deblurred.mkv").write_bytes(b"kept")
    (tmp_path / "b.mp4").write_text("not a video")
    args = ["run", str(done), str(tmp_path / "b.mp4"), "--skip-existing", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    entries = json.loads(result.stdout)
    assert [("skipped" in e, "error" in e) for e in entries] == [(True, False), (False, True)]
    assert "b.mp4 is not a video" in entries[1]["error"]


def test_a_folder_named_with_a_slash_takes_one_video_as_it_takes_several(tmp_path, identity):
    """Found in review: `-o results/` put two clips into the folder, but one clip's frames, as PNG images, and
    its sound was lost."""
    clip = media.make_video(tmp_path / "clip.mp4", frames=3, audio="aac")
    result = deblur(clip, "-o", f"{tmp_path / 'results'}/")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["clip.mp4"] and "PNG" not in result.stderr
    assert "audio" not in result.stderr


def test_a_batch_into_a_folder_names_a_part_or_a_comparison_apart_from_the_whole(tmp_path, identity):
    """Found in review: `deblur run clips/ -o batch/ --duration 0.1` wrote each preview under the whole result's
    name, and the batch of the whole run with --skip-existing then kept the previews as the results."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("a", "b"):
        media.make_video(clips / f"{name}.mp4", frames=5, fps=25)
    assert deblur(clips, "-o", f"{tmp_path / 'batch'}/", "--duration", "0.08", "-q").exit_code == 0
    assert deblur(clips, "-o", f"{tmp_path / 'batch'}/", "--side-by-side", "-q").exit_code == 0
    whole = deblur(clips, "-o", f"{tmp_path / 'batch'}/", "--skip-existing")
    assert whole.exit_code == 0 and "skipped" not in whole.stderr, whole.output
    assert sorted(p.name for p in (tmp_path / "batch").iterdir()) == [
        "a-compare.mp4", "a-deblurred-0s-0.08s.mp4", "a.mp4", "b-compare.mp4", "b-deblurred-0s-0.08s.mp4", "b.mp4"
    ]  # fmt: skip
    assert len(media.read_frames(tmp_path / "batch" / "a.mp4")) == 5


def test_a_folder_of_frames_into_a_folder_in_part_and_other_names_into_a_folder(tmp_path, identity):
    """Found in review: a folder of frames in a batch into -o DIR/ with --start 0.04 was refused (its name, made
    by deblur, has a dot); one video of a suffix deblur does not list (.nut) into -o DIR/ gave PNG frames; and
    -o FILE/ for an existing file said "when there are several inputs" of one."""
    clip = media.make_video(tmp_path / "a.mp4", frames=3)
    media.make_images(tmp_path / "shots", count=3)
    result = deblur(tmp_path / "shots", clip, "-o", f"{tmp_path / 'fo'}/", "--start", "0.04", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fo" / "shots-deblurred-from-0.04s").is_dir()
    assert (tmp_path / "fo" / "a-deblurred-from-0.04s.mp4").is_file()
    glob = f"{tmp_path / 'shots'}/*.png"  # a glob of frames is named by its folder (it was "*.png", an image)
    assert deblur(glob, clip, "-o", f"{tmp_path / 'fg'}/", "--start", "0.04", "-q").exit_code == 0
    assert len(list((tmp_path / "fg" / "shots-deblurred-from-0.04s").glob("*.png"))) == 2
    (tmp_path / "raw.nut").write_bytes(clip.read_bytes())  # an MP4 by another name: FFmpeg reads it by content
    assert deblur(tmp_path / "raw.nut", "-o", f"{tmp_path / 'outn'}/", "-q").exit_code == 0
    assert [p.name for p in (tmp_path / "outn").iterdir()] == ["raw.nut"]
    (tmp_path / "GX01.LRV").write_bytes(clip.read_bytes())  # a GoPro proxy: an MP4 under a suffix FFmpeg cannot write
    assert deblur(tmp_path / "GX01.LRV", "-o", f"{tmp_path / 'outl'}/", "-q").exit_code == 0
    assert deblur(tmp_path / "GX01.LRV", "-q").exit_code == 0 and (tmp_path / "GX01-deblurred.mp4").is_file()
    assert [p.name for p in (tmp_path / "outl").iterdir()] == ["GX01.mp4"]
    refused = deblur(clip, "-o", f"{clip}/")
    assert refused.exit_code == 2 and f"error: -o {clip}/ names a folder, but {clip} is a file" in refused.stderr


def test_earlier_results_in_a_folder_are_left_out_of_its_batch(tmp_path, identity):
    """Found in review: a folder holding a clip and the clip's earlier result (made beside it) restored both,
    into -o or not: the result was restored again."""
    clips = tmp_path / "clips"
    clips.mkdir()
    clip = media.make_video(clips / "a.mp4", frames=3)
    media.make_video(clips / "b.mp4", frames=3)
    assert deblur(clip, "--side-by-side", "-q").exit_code == 0  # clips/a-compare.mp4
    for output in ([], ["-o", f"{tmp_path / 'batch'}/"]):
        result = deblur(clips, *output, "-q")
        assert result.exit_code == 0, result.output
        said = " ".join(result.stderr.split())
        assert f"left out {clips / 'a-compare.mp4'}: named as deblur names the result of {clip}" in said
    assert sorted(p.name for p in (tmp_path / "batch").iterdir()) == ["a.mp4", "b.mp4"]
    assert sorted(p.name for p in (tmp_path / "clips-deblurred").iterdir()) == ["a.mp4", "b.mp4"]
    # typed with -o, a name like a result's is one's own (talk-compare.mp4): restored, and the JSON lists both
    typed = [clip, clips / "a-compare.mp4"]
    result = deblur(*typed, "-o", f"{tmp_path / 'mine'}/", "--json")
    assert result.exit_code == 0 and "left out" not in result.stderr, result.output
    assert [Path(entry["input"]).name for entry in json.loads(result.stdout)] == ["a.mp4", "a-compare.mp4"]
    beside = deblur(*typed, "--json", "--force")  # without -o, as the shell's *.mp4 gives it: left out
    assert beside.exit_code == 0 and "left out" in beside.stderr, beside.output
    assert isinstance(json.loads(beside.stdout), list)  # the command named two inputs: a list, as always


def test_a_file_cut_short_is_refused_before_restoring_and_its_hint_restores_the_part_before(tmp_path, identity):
    """It restored every frame up to the cut, then failed with nothing written: hours lost on a long clip."""
    cut = media.truncate(media.make_video(tmp_path / "full.mkv", frames=30), 0.5, tmp_path / "cut.mkv")
    result = deblur(cut, "-o", tmp_path / "out.mkv")
    assert result.exit_code == 1 and "cut.mkv: the video stream ends early: its packets stop at" in result.stderr
    assert identity.calls == [] and not (tmp_path / "out.mkv").exists()  # no frame was restored
    with_sound = media.make_video(tmp_path / "sound.mkv", frames=8, size=(96, 64), audio="libopus")
    refused = deblur(media.truncate(with_sound, 0.25, tmp_path / "sound-cut.mkv"), "-o", tmp_path / "out.mkv")
    assert refused.exit_code == 1 and "sound-cut.mkv: the video stream ends early" in refused.stderr
    assert "warning" not in refused.stderr  # of the sound an output it will not write leaves out (fuzz48)
    until = result.stderr.split("--end ")[1].split()[0]
    again = deblur(cut, "-o", tmp_path / "out.mkv", "--end", until, "--json")
    assert again.exit_code == 0, again.output
    frames = json.loads(again.stdout)["frames"]
    assert 5 < frames < 30 and len(media.read_frames(tmp_path / "out.mkv")) == frames


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_cut_file_that_starts_late_or_mid_gop_is_refused_and_its_hint_restores_the_part_before(
    tmp_path, identity, suffix
):
    """Found in review: an MP4 whose video starts at 10 s (an empty edit) compared its packets' end on the
    file's clock with its length, so a cut one ran to exit 0 with 38 of 100 frames; and where the first
    packets cannot be decoded (a clip cut from a recording mid-GOP) the hint's --end counted from the first
    packet, not the first frame, so following it failed again after restoring every frame."""
    late = media.make_video(tmp_path / f"late{suffix}", frames=100, pts=[250 + i for i in range(100)])
    if suffix == ".mp4":
        late = media.faststart(late, tmp_path / "late_fs.mp4")  # its index at the front: a cut one opens
    mid_gop = media.without_first_packets(media.make_video(tmp_path / f"g{suffix}", frames=100, gop=10),
                                          tmp_path / f"mid{suffix}", 5)  # fmt: skip
    if suffix == ".mp4":
        mid_gop = media.faststart(mid_gop, tmp_path / "mid_fs.mp4")
    # cut more than 5 s before its end, between close keyframes: the seek to its last seconds found no packet,
    # and every span was refused, --end 2 included, with no --end in the hint
    short_gop = media.make_video(tmp_path / f"short_gop{suffix}", frames=200, gop=25)
    if suffix == ".mp4":
        short_gop = media.faststart(short_gop, tmp_path / "short_gop_fs.mp4")
    for whole, keep in ((late, 0.6), (mid_gop, 0.6), (short_gop, 0.3)):
        cut = media.truncate(whole, keep)
        refused = deblur(cut, "-o", tmp_path / f"out{suffix}", "-f")
        assert refused.exit_code == 1 and "ends early: its packets stop at" in refused.stderr, refused.output
        until = refused.stderr.split("--end ")[1].split()[0]
        follow = deblur(cut, "-o", tmp_path / f"out{suffix}", "--end", until, "-f", "--json")
        assert follow.exit_code == 0, follow.output
        assert deblur(whole, "-o", tmp_path / f"whole{suffix}", "-f", "-q").exit_code == 0  # a whole one runs


def test_an_avi_cut_short_is_refused_too(tmp_path, identity):
    """FFmpeg rebuilds a cut AVI's lost index, and its duration with it, which the packets then reach: it ran
    to exit 0 with 151 of 250 frames and no warning (found in the second review). Its header's frame count
    says where it ended."""
    whole = media.make_video(tmp_path / "a.avi", frames=50, gop=10)
    cut = media.truncate(whole, 0.6)
    refused = deblur(cut, "-o", tmp_path / "out.mkv")
    assert refused.exit_code == 1 and "ends early: its packets stop at" in refused.stderr, refused.output
    until = refused.stderr.split("--end ")[1].split()[0]
    follow = deblur(cut, "-o", tmp_path / "out.mkv", "--end", until, "--json")
    assert follow.exit_code == 0, follow.output
    assert 10 < json.loads(follow.stdout)["frames"] < 50
    assert deblur(whole, "-o", tmp_path / "whole.mkv", "-q").exit_code == 0


def test_an_interrupted_batch_is_finished_with_skip_existing(tmp_path, monkeypatch):
    videos = [media.make_video(tmp_path / f"{name}.mkv", frames=3) for name in "abc"]
    restorers = iter([IdentityRestorer(), FailingRestorer(0, KeyboardInterrupt()), IdentityRestorer()])
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: next(restorers))
    outdir = tmp_path / "outdir"
    first = runner.invoke(app, ["run", *map(str, videos), "-o", str(outdir), "--window", "3"])
    assert first.exit_code == 0  # the first restorer does all three

    (outdir / "b.mkv").unlink()
    (outdir / "c.mkv").unlink()
    stopped = runner.invoke(app, ["run", *map(str, videos), "-o", str(outdir), "--skip-existing", "--json"])
    assert stopped.exit_code == 130
    assert f"note: skipped {videos[0]}: {outdir / 'a.mkv'} exists" in stopped.stderr
    assert "1 of 3 outputs is finished: the same command with --skip-existing goes on" in stopped.stderr
    told = json.loads(stopped.stdout)  # printed nothing: a script learnt nothing of what was done
    assert [(s.get("skipped"), s.get("interrupted"), s.get("not_started")) for s in told] == [
        (True, None, None),
        (None, True, None),
        (None, None, True),
    ]
    assert [Path(s["output"]).name for s in told] == ["a.mkv", "b.mkv", "c.mkv"]

    again = runner.invoke(app, ["run", *map(str, videos), "-o", str(outdir), "--skip-existing", "--json"])
    assert again.exit_code == 0, again.stderr
    summary = json.loads(again.stdout)
    assert [s.get("skipped", False) for s in summary] == [True, False, False]
    assert [s.get("frames") for s in summary] == [None, 3, 3]
    assert sorted(p.name for p in outdir.iterdir()) == ["a.mkv", "b.mkv", "c.mkv"]


def test_skip_existing_skips_what_another_worker_is_writing_or_has_finished(tmp_path, monkeypatch):
    """Two workers on one batch with --skip-existing each reported the other's outputs as failures."""
    videos = [media.make_video(tmp_path / f"{name}.mkv", frames=3) for name in "abcd"]
    outdir = tmp_path / "outdir"
    outdir.mkdir()

    class OtherWorkerFinishesD(MixingRestorer):  # MixingRestorer has an identity: outputs are written under a lock
        def __call__(self, frames):
            if not (outdir / "d.mkv").exists():
                (outdir / "d.mkv").write_bytes(b"theirs")
            return super().__call__(frames)

    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: OtherWorkerFinishesD())
    held = OutputLock(outdir / "b.mkv")  # the other worker, writing b.mkv
    try:
        result = runner.invoke(app, ["run", *map(str, videos), "-o", str(outdir), "--skip-existing", "--json"])
        assert result.exit_code == 0, result.stderr
        assert f"note: skipped {videos[1]}: another deblur run is writing {outdir / 'b.mkv'}" in result.stderr
        assert f"note: skipped {videos[3]}: {outdir / 'd.mkv'} exists" in result.stderr
        assert "error" not in result.stderr
        summary = json.loads(result.stdout)
        assert [s.get("skipped", False) for s in summary] == [False, True, False, True]
        assert (outdir / "d.mkv").read_bytes() == b"theirs" and not (outdir / "b.mkv").exists()

        (outdir / "a.mkv").unlink()
        alone = runner.invoke(app, ["run", str(videos[1]), "-o", str(outdir / "b.mkv"), "--skip-existing", "--json"])
        assert alone.exit_code == 0 and json.loads(alone.stdout)["skipped"] is True
        refused = runner.invoke(app, ["run", str(videos[0]), str(videos[1]), "-o", str(outdir)])  # without it: an error
        assert refused.exit_code == 1
        assert f"error: another deblur run is writing {outdir / 'b.mkv'}" in refused.stderr
        assert "1 of 2 inputs failed:" in refused.stderr and "the other 1 was restored" in refused.stderr
    finally:
        held.release()


def test_skip_existing_with_nothing_left_and_with_force(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mkv", frames=3)
    (tmp_path / "out.mkv").write_bytes(b"kept")
    result = runner.invoke(app, ["run", str(source), "-o", str(tmp_path / "out.mkv"), "--skip-existing", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["skipped"] is True
    assert (tmp_path / "out.mkv").read_bytes() == b"kept" and identity.calls == []
    clash = deblur(source, "-o", tmp_path / "out.mkv", "--skip-existing", "--force")
    assert clash.exit_code == 2 and "choose one" in clash.stderr
    refused = deblur(source, "-o", tmp_path / "out.mkv")
    assert "or --skip-existing to keep it" in refused.stderr


def test_a_batch_run_again_beside_its_outputs_leaves_them_out(tmp_path, identity):
    """Found in review: `deblur run *.mp4` again (to finish it with --skip-existing, or not) took the first
    run's a-deblurred.mp4 for an input and restored the restored clip into a-deblurred-deblurred.mp4."""
    clips = [media.make_video(tmp_path / f"{name}.mp4", frames=3) for name in ("a", "b")]
    first = runner.invoke(app, ["run", str(clips[0]), "--json"])
    assert first.exit_code == 0 and (tmp_path / "a-deblurred.mp4").exists(), first.output
    listed = sorted(tmp_path.glob("*.mp4"))  # as the shell expands *.mp4 now: a, a-deblurred, b
    again = runner.invoke(app, ["run", *map(str, listed), "--skip-existing", "--json"])
    assert again.exit_code == 0, again.output
    said = " ".join(again.stderr.split())
    assert f"left out {tmp_path / 'a-deblurred.mp4'}: named as deblur names the result of {tmp_path / 'a.mp4'}" in said
    assert sorted(p.name for p in tmp_path.glob("*.mp4")) == ["a-deblurred.mp4", "a.mp4", "b-deblurred.mp4", "b.mp4"]
    alone = runner.invoke(app, ["run", str(tmp_path / "a-deblurred.mp4"), "-q"])  # asked for alone: restored
    assert alone.exit_code == 0 and (tmp_path / "a-deblurred-deblurred.mp4").exists()


@pytest.mark.parametrize("options", [["--side-by-side"], ["--start", "0.04"], ["--start", "0", "--end", "0.08"]])
def test_a_batch_run_again_beside_its_previews_leaves_them_out(tmp_path, identity, options):
    """Found in review: the names of a side-by-side or a part (clip-compare.mp4, clip-deblurred-0s-0.08s.mp4)
    were not known for outputs, and a second run took them for inputs."""
    clip = media.make_video(tmp_path / "a.mp4", frames=3)
    media.make_video(tmp_path / "b.mp4", frames=3)
    (frames := tmp_path / "shots").mkdir()
    media.make_images(frames, count=3)
    first = runner.invoke(app, ["run", str(clip), str(frames), *options, "-q"])
    assert first.exit_code == 0, first.output
    made = sorted(set(tmp_path.iterdir()) - {clip, frames, tmp_path / "b.mp4"})
    assert len(made) == 2 and all(path.name.startswith(("a-", "shots-")) for path in made), made
    again = runner.invoke(app, ["run", *map(str, sorted(tmp_path.iterdir())), *options, "--skip-existing", "-q"])
    assert again.exit_code == 0, again.output
    text = " ".join(again.stderr.split())
    for path in made:
        source = clip if path.name.startswith("a-") else frames
        assert f"left out {path}: named as deblur names the result of {source}" in text
    assert all(path.is_dir() == path.name.startswith("shots-") for path in made)  # a dot in a folder's name
    restored = tmp_path / made[0].name.replace("a-", "b-", 1)
    assert set(tmp_path.iterdir()) - {clip, frames, *made} == {tmp_path / "b.mp4", restored}


def test_bad_input_and_options_say_what_is_wrong_with_a_hint_and_the_right_exit_code(tmp_path, identity):
    """Found in review: an empty file read "not a video FFmpeg can read", an output in a "folder" that is a file
    asked for "a writable output directory", an unknown output suffix (a bad option) exited 1, and bad times
    came without a hint."""
    source = media.make_video(tmp_path / "a.mp4", frames=2)
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hi")
    cases = [
        ((tmp_path / "zero.mp4",), 1, "zero.mp4 is empty (0 bytes)"),
        ((source, "-o", tmp_path / "notes.txt" / "out.mp4"), 1, "notes.txt is a file, not a folder"),
        ((source, "-o", tmp_path / "out.xyz"), 2, "cannot tell the video format of out.xyz from its suffix"),
        ((source, "--start", "abc"), 2, "--start: 'abc' is not a time"),
        ((source, "--start", "-1"), 2, "--start: '-1' is negative"),
        ((source, "--duration", "0"), 2, "--duration must be longer than 0 s"),
        ((source, "--start", "2", "--end", "1"), 2, "--end (1) must come after --start (2)"),
    ]
    for args, code, message in cases:
        result = deblur(*args)
        assert result.exit_code == code and message in result.stderr, (args, result.output)
        assert result.stderr.count("\nhint: ") == 1 and "Traceback" not in result.output, (args, result.output)
    assert identity.calls == []


def test_frames_of_an_odd_size_into_h264_say_that_they_become_4_4_4(tmp_path, identity):
    """Found in review: odd-sized frames became H.264 High 4:4:4, which many players refuse, without a word."""
    odd, even = tmp_path / "odd", tmp_path / "even"
    media.make_images(odd, count=2, size=(65, 47))
    media.make_images(even, count=2, size=(64, 48))
    warned = "65x47 has an odd side, which 4:2:0 cannot hold: written as libx264 4:4:4 (yuv444p)"
    result = deblur(odd, "-o", tmp_path / "odd.mp4")
    assert result.exit_code == 0 and warned in " ".join(result.stderr.split()), result.output
    with av.open(str(tmp_path / "odd.mp4")) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv444p"
    for quiet in ((even, "-o", tmp_path / "even.mp4"), (odd, "-o", tmp_path / "asked.mp4", "--pix-fmt", "yuv444p"),
                  (odd, "-o", tmp_path / "odd.mkv", "--codec", "ffv1")):  # fmt: skip
        result = deblur(*quiet)
        assert result.exit_code == 0 and "odd side" not in result.stderr, (quiet, result.output)


def test_one_damaged_input_alone_is_its_own_error(tmp_path, identity):
    b = media.truncate(media.make_video(tmp_path / "full.mkv", frames=30), 0.5, tmp_path / "b.mkv")
    result = deblur(b, "-o", tmp_path / "out.mkv")
    assert result.exit_code == 1 and "ends early" in result.stderr and "inputs failed" not in result.stderr


def test_json_summary_is_the_only_stdout(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    result = deblur(source, "-o", tmp_path / "out.mp4", "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["frames"] == 3 and summary["output"].endswith("out.mp4")


def test_json_says_what_decided_the_output(tmp_path, monkeypatch):
    """A results file names what made it: deblur's version, the restorer's identity, the windows and
    tiles as asked for, and --strength."""
    from deblur_cli import __version__

    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: MixingRestorer())
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    options = ["--window", 4, "--overlap", 1, "--tile", 32, "--tile-overlap", 8, "--batch", 2, "--no-scene-cuts"]
    result = deblur(source, "-o", tmp_path / "out.mp4", *options, "--strength", 0.5, "--json")
    assert result.exit_code == 0, result.output
    windows = {"window": 4, "overlap": 1, "tile": 32, "tile_overlap": 8, "batch": 2, "last": "split", "scene_cuts": False}
    assert json.loads(result.stdout)["settings"] == {
        "deblur": __version__, "restorer": {"model": "mix"}, "windows": windows, "strength": 0.5, "keep_still": False,
        "keep_detail": False, "tile_used": 32,
    }
    # the tile side --tile auto decides, here whole frames
    result = deblur(source, "-o", tmp_path / "auto.mp4", "--json")
    assert json.loads(result.stdout)["settings"]["tile_used"] is None


def test_json_names_the_weights_by_their_sha256(tmp_path):
    """The bundled file's as weights.toml pins it; a --weights file's hashed."""
    import hashlib

    import torch

    from deblur_cli.dstnet_weights import save_dstnet
    from deblur_cli.models.dstnet import DSTNet, DSTNetConfig
    from deblur_cli.weights.registry import load_registry

    source = media.make_video(tmp_path / "in.mp4", frames=2)
    result = deblur(source, "-o", tmp_path / "a.mp4", "-m", "dstnet-s", "--device", "cpu", "--json")
    assert result.exit_code == 0, result.output
    restorer = json.loads(result.stdout)["settings"]["restorer"]
    assert restorer["weights_sha256"] == load_registry().entries["dstnet-s"].checksum.digest

    torch.manual_seed(0)
    save_dstnet(DSTNet(DSTNetConfig(feat=8, blocks=1)), tmp_path / "mine.safetensors")
    result = deblur(source, "-o", tmp_path / "b.mp4", "--weights", tmp_path / "mine.safetensors", "--device", "cpu", "--json")
    assert result.exit_code == 0, result.output
    restorer = json.loads(result.stdout)["settings"]["restorer"]
    assert restorer["weights_sha256"] == hashlib.sha256((tmp_path / "mine.safetensors").read_bytes()).hexdigest()
    assert "warning" not in result.stderr  # -m auto: the file's own model
    # named as another model: the file's runs, and a line says so
    mine = tmp_path / "mine.safetensors"
    result = deblur(source, "-o", tmp_path / "c.mp4", "-m", "dstnet-s", "--weights", mine, "-q")
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "warning: mine.safetensors holds DSTNet(feat=8, blocks=1), not dstnet-s: the file's model runs" in said


def test_weights_that_loading_refuses_get_its_error_alone(tmp_path):
    """Found in review: run warned "the file's model runs, under the name dstnet" for a file it then refused, naming a
    model the file does not hold where its metadata had been edited, and for an entry --offline could not load."""
    import torch

    from deblur_cli.checkpoint import save_checkpoint
    from deblur_cli.models.dstnet import DSTNet, DSTNetConfig

    torch.manual_seed(0)
    state = DSTNet(DSTNetConfig(feat=8, blocks=1)).state_dict()
    save_checkpoint(state, tmp_path / "edited.safetensors", architecture="dstnet", config={"feat": 16, "blocks": 1})
    broken = {**state, "feat_extractor.bias": torch.full_like(state["feat_extractor.bias"], float("nan"))}
    save_checkpoint(broken, tmp_path / "nan.safetensors", architecture="dstnet", config={"feat": 8, "blocks": 1})
    source = media.make_video(tmp_path / "in.mp4", frames=2)
    refused = {"edited": "its metadata describes DSTNet(feat=16, blocks=1)", "nan": "holds NaN or infinite values"}
    for name, error in refused.items():
        result = deblur(source, "-o", tmp_path / "out.mp4", "-m", "dstnet", "--weights", tmp_path / f"{name}.safetensors")
        assert result.exit_code == 1 and error in result.stderr and "warning" not in result.stderr, result.stderr
    offline = ["-m", "dstnet-s", "--weights", "dstnet-gopro", "--offline", "--cache-dir", tmp_path / "cache"]
    result = deblur(source, "-o", tmp_path / "out.mp4", *offline)
    assert result.exit_code == 1 and "not downloaded" in result.stderr and "warning" not in result.stderr, result.stderr


def test_existing_output_is_refused_without_force(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    (tmp_path / "out.mp4").write_bytes(b"precious")
    result = deblur(source, "-o", tmp_path / "out.mp4")
    assert result.exit_code == 1
    assert "output exists" in result.stderr and "--force" in result.stderr
    assert (tmp_path / "out.mp4").read_bytes() == b"precious"
    assert deblur(source, "-o", tmp_path / "out.mp4", "--force", "-q").exit_code == 0
    assert len(media.read_frames(tmp_path / "out.mp4")) == 3


def test_output_equal_to_input_is_refused(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    before = source.read_bytes()
    result = deblur(source, "-o", tmp_path / "." / "in.mp4", "--force")
    assert result.exit_code == 2
    assert "output is the input" in result.stderr
    assert source.read_bytes() == before


BAD_INPUTS = {
    "missing": (lambda d: d / "nope.mp4", "no such file"),
    "not media": (lambda d: _write(d / "notes.mp4", b"just text"), "is not a video or image file"),
    "audio only": (lambda d: media.make_audio_only(d / "song.m4a"), "has no video stream"),
    "no frames": (
        lambda d: media.drop_keyframes(media.make_video(d / "a.mkv", frames=8), d / "nokey.mkv"),
        "no decodable frames",
    ),
    "truncated": (lambda d: media.truncate(media.make_video(d / "a.mkv", frames=30), 0.5), "ends early: its packets stop"),
    "empty folder": (lambda d: _mkdir(d / "empty"), "no images"),
    "mixed sizes": (lambda d: _mixed_sizes(d / "mixed"), "img_002.png"),
    "unknown codec": (lambda d: media.make_undecodable(d / "avs2.mkv"), "avs2"),
    "link loop": (lambda d: _link_loop(d / "loop.mp4"), "loop.mp4: too many levels of symbolic links"),
}


def _link_loop(path):
    path.symlink_to(path.with_name("other.mp4"))
    path.with_name("other.mp4").symlink_to(path)
    return path


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _mkdir(path):
    path.mkdir()
    return path


def _mixed_sizes(folder):
    media.make_images(folder, count=1, size=(32, 24))
    media.make_images(folder, count=1, size=(40, 24), start=2)
    return folder


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_and_leaves_nothing(tmp_path, identity, case):
    make, message = BAD_INPUTS[case]
    source = make(tmp_path)
    result = deblur(source, "-o", tmp_path / "out.mp4")
    assert result.exit_code == 1, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("error:") and message in first, result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.mp4").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("points_to", ["missing.mp4", "loop.mp4"])
def test_a_link_to_nothing_as_output_is_an_existing_output(tmp_path, identity, points_to):
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    link = tmp_path / "out.mp4"
    link.symlink_to(tmp_path / points_to)
    if points_to == "loop.mp4":
        (tmp_path / "loop.mp4").symlink_to(link)
    result = deblur(source, "-o", link, "-q")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith(f"error: output exists: {link}\n"), result.stderr
    assert link.is_symlink()
    assert deblur(source, "-o", link, "-q", "--force").exit_code == 0
    assert not link.is_symlink() and len(media.read_frames(link)) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (("",), "an input is an empty name ('')"),
        (("in.mp4", "-o", ""), "-o is an empty name ('')"),
        (("in.mp4", "--weights", ""), "--weights is empty"),  # was "--weights .: not a file"
    ],
)
def test_an_empty_name_is_refused_not_taken_for_the_current_folder(tmp_path, identity, monkeypatch, args, message):
    """An empty input (a script's unset variable) restored every video in the current folder, into a folder
    beside it; an empty -o was 'output exists: . is a folder that is not empty'."""
    media.make_video(tmp_path / "in.mp4", frames=2)
    monkeypatch.chdir(tmp_path)
    result = deblur(*args)
    assert result.exit_code == 2 and result.stderr.splitlines()[0] == f"error: {message}", result.stderr
    assert identity.calls == [] and sorted(os.listdir(tmp_path)) == ["in.mp4"]
    assert not (tmp_path.parent / f"{tmp_path.name}-deblurred").exists()


def test_unwritable_output_folder(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    blocker = _write(tmp_path / "file", b"x")
    result = deblur(source, "-o", blocker / "out.mp4")
    assert result.exit_code == 1
    assert result.stderr.startswith("error:") and "Traceback" not in result.output


def test_failure_part_way_leaves_no_output(tmp_path, monkeypatch):
    source = media.make_video(tmp_path / "in.mp4", frames=20)
    restorer = FailingRestorer(after=2, error=RuntimeError("boom"))
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: restorer)
    result = deblur(source, "-o", tmp_path / "out.mp4", "--window", 4, "--overlap", 1)
    assert result.exit_code == 1
    assert "internal error: RuntimeError: boom" in result.stderr and "DEBLUR_DEBUG" in result.stderr
    assert os.listdir(tmp_path) == ["in.mp4"]


def test_the_debug_variable_shows_a_user_error_s_traceback(tmp_path):
    env = {**os.environ, "DEBLUR_DEBUG": "1"}
    result = subprocess.run([sys.executable, "-m", "deblur_cli", "run", str(tmp_path / "missing.mp4"), "-o",
                             str(tmp_path / "out.mp4")], capture_output=True, text=True, env=env)  # fmt: skip
    assert result.returncode == 1  # an input error's code, as without the variable
    assert "Traceback" in result.stderr and "missing.mp4" in result.stderr
    # a usage error keeps its code 2 too: a script run with the variable for the traceback sees what it would without
    source = media.make_video(tmp_path / "in.mp4", frames=2)
    result = subprocess.run([sys.executable, "-m", "deblur_cli", "run", str(source), "--window", "1", "--overlap", "1"],
                            capture_output=True, text=True, env=env)  # fmt: skip
    assert result.returncode == 2 and "Traceback" in result.stderr and "UsageError" in result.stderr


def test_a_path_the_system_refuses_is_an_error_line_not_an_internal_error(tmp_path, monkeypatch):
    source = media.make_video(tmp_path / "in.mp4", frames=4)
    for error, shown in [
        (FileNotFoundError(2, "No such file or directory", "/proc/run"), "error: /proc/run: No such file or directory"),
        (OSError(28, "No space left on device"), "error: No space left on device"),  # a full disk, whatever wrote
        (OSError(104, "Connection reset by peer"), "internal error: ConnectionResetError"),  # no path, not the machine's state
    ]:
        restorer = FailingRestorer(after=0, error=error)
        monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, restorer=restorer, **k: restorer)
        result = deblur(source, "-o", tmp_path / "out.mp4", "--force")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.stderr.startswith(shown)


def test_ctrl_c_exits_130_and_leaves_no_output_and_no_thread(tmp_path, monkeypatch):
    source = media.make_video(tmp_path / "in.mp4", frames=20)
    restorer = FailingRestorer(after=1, error=KeyboardInterrupt())
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: restorer)
    before = set(threading.enumerate())
    result = deblur(source, "-o", tmp_path / "out.mp4", "--window", 4, "--overlap", 1)
    assert result.exit_code == 130
    assert os.listdir(tmp_path) == ["in.mp4"]
    # the decoding and encoding threads have ended: none waits on its queue after the run
    # (the encoder used to, and the run then waited 5 s for it on every Ctrl-C)
    assert set(threading.enumerate()) == before


class SelfTerminating(IdentityRestorer):
    """Sends its own process `signum` during its second window, as a job scheduler stopping the run (SIGTERM)
    or a terminal closed under it (SIGHUP) would."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__()
        self.signum = signum

    def __call__(self, frames):
        if self.calls:
            os.kill(os.getpid(), self.signum)
        return super().__call__(frames)


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
@pytest.mark.parametrize("name, code", [("SIGTERM", 143), ("SIGHUP", 129)])
def test_sigterm_or_sighup_stops_a_run_as_ctrl_c_does(tmp_path, monkeypatch, request, name, code):
    signum = getattr(signal, name)
    # under nohup (or a shell's background job) the tests start with the signal ignored, which the command keeps
    # ignored (tests/test_interrupt.py): this test is of a signal the command handles, whatever launched pytest
    previous = signal.signal(signum, signal.SIG_DFL)
    request.addfinalizer(lambda: signal.signal(signum, previous))
    source = media.make_video(tmp_path / "in.mp4", frames=20)
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: SelfTerminating(signum))
    handler, threads = signal.getsignal(signum), set(threading.enumerate())
    result = deblur(source, "-o", tmp_path / "out.mp4", "--window", 4, "--overlap", 1)
    assert result.exit_code == code and f"({name})" in result.stderr, result.output
    assert os.listdir(tmp_path) == ["in.mp4"]  # no output, no temporary file: the run cleaned up
    assert set(threading.enumerate()) == threads
    assert signal.getsignal(signum) is handler  # the process's own handler is back


def test_bad_option_combinations_are_usage_errors(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    result = deblur(source, "-o", tmp_path / "out.mp4", "--window", 4, "--overlap", 4)
    assert result.exit_code == 2 and "--overlap 4 must be smaller than --window 4" in result.stderr
    result = deblur(source, "-o", tmp_path / "out.mp4", "--window", 1)  # the model's overlap: say what fits
    assert result.exit_code == 2 and "hint: add --overlap 0 (" in result.stderr
    result = deblur(source, "-o", tmp_path / "out.mp4", "--tile", "big")
    assert result.exit_code == 2 and "--tile must be auto" in result.stderr
    (tmp_path / "taken.mp4").write_bytes(b"")  # found in review: a bad --tile was said after the output's checks
    result = deblur(source, "-o", tmp_path / "taken.mp4", "--tile", "-5")
    assert result.exit_code == 2 and result.stderr.splitlines() == [
        "error: --tile must be auto, 0 or a number of pixels, got '-5'",
        "hint: auto cuts frames into tiles where memory is short; 0 restores them whole",
    ]
    result = deblur(source, "-o", tmp_path / "out.mp4", "--model", "nope")
    assert result.exit_code == 2 and "unknown model 'nope'" in result.stderr
    for option, value, message in [
        ("--codec", "nonsense", "unknown video codec 'nonsense'"), ("--preset", "warp", "unknown preset 'warp'"),
        ("--pix-fmt", "bogus", "unknown pixel format 'bogus'"),
        ("--codec", "libx246", "hint: did you mean 'libx264' or 'libx265'? use one of av1, "),  # typos: what is close
        ("--pix-fmt", "yuv402p", "hint: did you mean 'yuv420p' or 'yuv422p'?\n"),
        ("--model", "dstnet-ss", "hint: did you mean 'dstnet-s'? choose one of: auto, "),
        ("--window", "0", "error: invalid value for '--window'"),  # Click's range check, in the same one-line form
        ("--eta", "inf", "error: invalid value for '--eta'"),  # wrote black frames: σ infinite, x NaN
        ("--seed", str(2**64), "error: invalid value for '--seed'"),  # beyond torch's 64-bit generators
        ("--samples", "100000", "error: invalid value for '--samples'"),  # hours and gigabytes before any output
        ("--end", "0", "--end (0) must come after the first frame (--start 0)"),
        ("--bogus", "1", "error: no such option"),  # then ": --bogus" or " '--bogus'", by the Click release
    ]:
        result = deblur(source, "-o", tmp_path / "out.mp4", option, value)
        assert result.exit_code == 2 and message in result.stderr, (option, result.output)
        assert option == "--end" or "hint: " in result.stderr  # the --help line for Click's, our own otherwise
        assert "Usage:" not in result.output and "Traceback" not in result.output


def test_version_and_help():
    from deblur_cli import __version__

    from deblur_cli import environment
    from deblur_cli.environment import checkout_commit

    first, second = runner.invoke(app, ["--version"]).stdout.splitlines()
    commit = checkout_commit()  # CI runs in a checkout; an installed release names none
    assert (commit is not None) == (Path(environment.__file__).parents[1] / ".git").exists()
    assert first == f"deblur {__version__}" + (f" (checkout at commit {commit})" if commit else "")
    # for bug reports: the releases of what deblur runs on, read without importing torch
    assert second.startswith(f"Python {platform.python_version()} (") and f"torch {metadata.version('torch')}," in second
    assert f"PyAV {av.__version__} with FFmpeg {av.ffmpeg_version_info}, NumPy {np.__version__}" in second
    help_text = runner.invoke(app, ["run", "--help"]).stdout
    for option in ("--model", "--window", "--overlap", "--tile", "--steps", "--device", "--precision", "--force"):
        assert option in help_text
    commands = ["run", "info", "demo", "models", "download-weights", "bench", "evaluate", "synth", "train"]
    for command in commands:  # 80 columns, as in a log: Rich cuts a word longer than its column to "…"
        shown = runner.invoke(app, [command, "--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"}).stdout
        assert "Usage: deblur " + command in shown and "…" not in shown, command
    # the list of commands: one line each at 80 columns, where whole docstring paragraphs wrapped to two
    listed = runner.invoke(app, ["--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"}).stdout
    rows = [row for row in listed.split("Commands")[1].splitlines() if row.startswith("│")]
    assert [row.split()[1] for row in rows] == ["run", "info", "demo", "models", "download-weights", "bench",
                                                "evaluate", "synth", "train"], listed  # fmt: skip


def test_sampling_options_given_to_a_deterministic_model_are_named_as_ignored(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    result = deblur(source, "-o", tmp_path / "a.mp4", "-m", "dstnet-s", "--steps", 5, "--samples", 2, "-q")
    assert result.exit_code == 0, result.output
    assert (
        "--steps 5 and --samples 2 apply to the diffusion models (wtsa, wtsa-s); dstnet-s restores in one "
        "deterministic pass and ignores them" in " ".join(result.stderr.split())
    )
    seeded = deblur(source, "-o", tmp_path / "b.mp4", "-m", "dstnet-s", "--seed", 5, "-q")
    assert "--seed 5 applies to the diffusion models" in " ".join(seeded.stderr.split())
    for args in (["-m", "dstnet-s"], ["-m", "wtsa-s", "--steps", 5, "--eta", 0.5]):  # defaults; a diffusion model
        quiet = deblur(source, "-o", tmp_path / f"{args[1]}.mp4", *args, "-q")
        assert quiet.exit_code == 0, quiet.output
        assert "ignores" not in quiet.stderr


def test_weights_that_do_not_fit_are_named_alone_not_after_a_note_on_sampling_options(tmp_path):
    """Found in review: `-m dstnet-s --weights wtsa-s --steps 2` warned that dstnet-s ignores --steps, then
    stopped on the weights."""
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    result = deblur(source, "-o", tmp_path / "a.mp4", "-m", "dstnet-s", "--weights", "wtsa-s", "--steps", 2)
    assert result.exit_code == 1 and "wtsa weights cannot load into model dstnet-s" in result.stderr, result.output
    assert "ignores" not in result.stderr


def test_what_the_output_cannot_hold_is_said_once_before_the_run(tmp_path, monkeypatch):
    source = media.make_video(tmp_path / "in.mkv", frames=6, subtitles=True)
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: FailingRestorer(0, KeyboardInterrupt()))
    stopped = deblur(source, "-o", tmp_path / "out.mp4")
    assert stopped.exit_code == 130
    expected = "subtitle stream #1 (srt) cannot be stored in .mp4"
    assert expected in stopped.stderr  # said although no frame was restored
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    done = deblur(source, "-o", tmp_path / "out.mp4", "--json")
    assert done.exit_code == 0, done.output
    assert done.stderr.count(expected) == 1  # before the run, not again after it
    assert json.loads(done.stdout)["warnings"][0].startswith(expected)  # and in the summary, as before
    again = deblur(source, "-o", tmp_path / "out.mp4", "--force")
    assert again.stderr.count(expected) == 1 and again.stderr.index(expected) < again.stderr.index("done")


@pytest.mark.skipif(sys.platform != "linux", reason="file names that are not UTF-8: Linux file systems take any bytes")
def test_file_names_that_are_not_utf_8_work(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xff.mp4")
    os.rename(source, odd)
    target = os.fsdecode(os.fsencode(str(tmp_path)) + b"/out\xfe.mkv")
    result = deblur(odd, "-o", target, "-q")
    assert result.exit_code == 0, result.output  # was an internal error: UnicodeEncodeError, after the model loaded
    assert len(media.read_frames(target)) == 3


def test_a_missing_output_folder_is_reported_before_the_model_loads(tmp_path, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("the model must not load for an output that cannot be written")

    monkeypatch.setattr(restorers_module, "build_restorer", no_model)
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    for target in (tmp_path / "nodir" / "o.mp4", tmp_path / "nodir" / "frames"):
        result = deblur(source, "-o", target)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"error: cannot write {target}: directory {target.parent} does not exist")
        assert result.stderr.splitlines()[1] == f"hint: create it first (mkdir -p {target.parent}), or check the name"


def test_inputs_are_not_refused_as_a_usage_error_by_a_permission_check(tmp_path, monkeypatch, identity):
    """Click's own readability check made an unreadable input a usage error (exit 2, a hint about
    options) and stopped a batch; deblur opens each input itself and says what is wrong with it."""
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if str(p).endswith("in.mp4") and m & os.R_OK else real(p, m, *a, **k))
    result = deblur(source, "-o", tmp_path / "out.mkv", "-q")
    assert result.exit_code == 0, result.output  # root, or the check was wrong: the file is read
    assert runner.invoke(app, ["info", str(source)]).exit_code == 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_pipe_is_refused_at_once_for_a_file(tmp_path, identity):
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    for args in (["run", str(fifo), "-o", str(tmp_path / "out.mp4")], ["run", str(fifo)], ["info", str(fifo)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"error: {fifo} is a pipe or a device, not a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stream.mp4"]  # no default output folder made


def test_an_output_that_is_a_device_a_pipe_or_a_socket_is_refused_in_one_line(tmp_path, identity):
    """`-o /dev/null` said "output exists ... pass --force", and with --force took it for a folder of frames."""
    source = media.make_video(tmp_path / "in.mkv", frames=3)
    fifo, sock = tmp_path / "out.mp4", tmp_path / "s.mkv"
    os.mkfifo(fifo)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    try:
        for target, what in ((Path(os.devnull), "a device"), (fifo, "a pipe"), (sock, "a socket")):
            for extra in ([], ["--force"], ["--skip-existing"]):
                result = deblur(source, "-o", target, *extra)
                assert result.exit_code == 2, result.output
                assert result.stderr.startswith(f"error: {target} is {what}: outputs are files or folders, not ")
                assert len(result.stderr.splitlines()) == 2  # the line and its hint
    finally:
        server.close()
    assert identity.calls == [] and sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv", "out.mp4", "s.mkv"]


def test_a_folder_of_frames_that_is_not_empty_is_refused_even_with_force(tmp_path, identity):
    """--force replaces an output file; it empties no folder (one may hold anything), and the hint says so."""
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    frames = tmp_path / "frames"
    assert deblur(source, "-o", frames, "-q").exit_code == 0
    for extra in ([], ["--force"]):
        result = deblur(source, "-o", frames, "-q", *extra)
        assert result.exit_code == 1
        assert f"output exists: {frames} is a folder that is not empty" in result.stderr
        assert "--force does not empty folders" in result.stderr
        assert f"end its name with a slash: -o {frames}/" in " ".join(result.stderr.split())


def test_a_path_with_a_space_in_a_hint_is_quoted_for_the_shell(tmp_path, identity):
    """A hint is a command to copy: `-o my dir/` split at the space when pasted."""
    source = media.make_video(tmp_path / "in.mp4", frames=2)
    folder = tmp_path / "my dir"
    folder.mkdir()
    (folder / "x.png").write_bytes(b"")
    result = deblur(source, "-o", folder, "-q")
    assert result.exit_code == 1 and f"-o '{folder}/'" in " ".join(result.stderr.split())


# output suffixes over both sides of the rule: containers that record a display rotation, and those that do not
RECORDS_ROTATION = [".mp4", ".mov", ".mkv", ".webm", ".m4v", ".3gp"]
SHOWN_AS_STORED = [".avi", ".ts", ".mpg", ".nut", ".flv"]


@pytest.mark.parametrize("suffix", RECORDS_ROTATION + SHOWN_AS_STORED)
def test_the_summary_of_a_turned_video_gives_the_size_players_show(tmp_path, identity, suffix):
    """Found in review: a portrait phone clip was 'done ... 320x180', which players show 180x320; and then an .avi,
    which cannot record the rotation, was 'shown 48x64' under the warning that players show it as stored. The
    rule: the done line's size, and --json's, is the size the written file is shown at."""
    from deblur_cli.video_io import describe

    source = media.make_video(tmp_path / "in.mp4", frames=3, size=(64, 48), rotation=90)
    target = tmp_path / f"out{suffix}"
    result = deblur(source, "-o", target)
    assert result.exit_code == 0, result.output
    players_show = describe(target).display_size
    assert players_show == ((48, 64) if suffix in RECORDS_ROTATION else (64, 48))  # the control: the file itself
    size = "64x48 (shown 48x64)" if players_show == (48, 64) else "64x48"
    assert f"done {target}: 3 frames {size} in " in result.stderr
    assert ("players will show the frames as stored" in result.stderr) == (players_show == (64, 48))
    summary = json.loads(deblur(source, "-o", tmp_path / f"again{suffix}", "--json").stdout)
    assert (summary["width"], summary["height"]) == (64, 48)
    assert summary["shown"] == (None if players_show == (64, 48) else {"width": 48, "height": 64})


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi", ".ts"])
def test_the_summary_of_a_turned_side_by_side_gives_the_size_players_show(tmp_path, identity, suffix):
    """The same rule for a comparison, whose halves are placed for the frames as players show them: the done line's
    size (its 'shown' one where it gives two) is the written file's displayed size."""
    from deblur_cli.video_io import describe

    source = media.make_video(tmp_path / "in.mp4", frames=3, size=(64, 48), rotation=90)
    target = tmp_path / f"out{suffix}"
    result = deblur(source, "-o", target, "--side-by-side")
    assert result.exit_code == 0, result.output
    size = r"(\d+)x(\d+)(?: \(shown (\d+)x(\d+)\))?"
    said = re.search(rf"done {re.escape(str(target))}: 3 frames {size} in ", result.stderr)
    assert said, result.stderr
    width, height = said.group(3, 4) if said.group(3) else said.group(1, 2)
    assert (int(width), int(height)) == describe(target).display_size


@pytest.mark.parametrize("output", ["flat.mp4", "frames"])
def test_the_summary_of_a_video_written_as_shown_gives_one_size(tmp_path, identity, output):
    """A clip with no rotation, and a turned clip's PNG frames (turned as they are written), are shown as written."""
    source = media.make_video(tmp_path / "in.mp4", frames=3, size=(64, 48), rotation=0 if output == "flat.mp4" else 90)
    summary = json.loads(deblur(source, "-o", tmp_path / output, "--json").stdout)
    assert summary["shown"] is None and summary["width"] == (64 if output == "flat.mp4" else 48)


def test_a_preview_without_o_does_not_take_the_whole_results_name(tmp_path, identity):
    """Found in review: `--side-by-side --duration 0.3` without -o wrote clip-deblurred.mp4, so the run of the
    whole clip found its output taken, and --skip-existing kept the preview as the result."""
    source = media.make_video(tmp_path / "clip.mp4", frames=10, fps=25)
    for options, name in (
        (["--side-by-side", "--duration", "0.2"], "clip-compare-0s-0.2s.mp4"),
        (["--start", "0.08"], "clip-deblurred-from-0.08s.mp4"),
        (["--start", "0.08", "--end", "0.2"], "clip-deblurred-0.08s-0.2s.mp4"),
        (["--side-by-side"], "clip-compare.mp4"),
        ([], "clip-deblurred.mp4"),
    ):
        result = deblur(source, *options, "-q")
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).is_file(), name


PREVIEWS = {
    "duration": ["--duration", "0.2"],
    "start": ["--start", "0.2"],
    "start-end": ["--start", "0.08", "--end", "0.2"],
    "side-by-side": ["--side-by-side"],
    "side-by-side-duration": ["--side-by-side", "--duration", "0.2"],
}
# where the whole results go, by how the clips were given and where
WHOLE = {
    ("one", "beside"): ["clips/a-deblurred.mp4"],
    ("listed", "beside"): ["clips/a-deblurred.mp4", "clips/b-deblurred.mp4"],
    ("folder-of-videos", "beside"): ["clips-deblurred/a.mp4", "clips-deblurred/b.mp4"],
    ("one", "into-folder"): ["out/a.mp4"],
    ("listed", "into-folder"): ["out/a.mp4", "out/b.mp4"],
    ("folder-of-videos", "into-folder"): ["out/a.mp4", "out/b.mp4"],
}


@pytest.mark.parametrize("preview", PREVIEWS)
@pytest.mark.parametrize("into", ["beside", "into-folder"])
@pytest.mark.parametrize("inputs", ["one", "listed", "folder-of-videos"])
def test_a_preview_never_takes_the_whole_results_name(tmp_path, identity, preview, into, inputs):
    """The rule the fixes of F7 and the preview names state: a preview (a part, a side-by-side) is written under a
    name of its own, without -o or into -o DIR/, for one input and a batch; and the whole run then, with
    --skip-existing, writes every whole result rather than take a preview for it, nor a preview for an input (the
    clips as the shell lists them again, previews beside them)."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("a", "b"):
        media.make_video(clips / f"{name}.mp4", frames=10, fps=25)
    output = [] if into == "beside" else ["-o", f"{tmp_path / 'out'}/"]

    def given() -> list[Path]:
        return {"one": [clips / "a.mp4"], "listed": sorted(clips.iterdir()), "folder-of-videos": [clips]}[inputs]

    def files() -> dict[Path, bytes]:
        return {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}

    before = files()
    first = deblur(*given(), *PREVIEWS[preview], *output, "-q")
    assert first.exit_code == 0, first.output
    previews = {path: data for path, data in files().items() if path not in before}
    assert len(previews) == (1 if inputs == "one" else 2), sorted(previews)
    whole = deblur(*given(), *output, "--skip-existing")
    assert whole.exit_code == 0 and "skipped" not in whole.stderr, whole.output
    after = files()
    assert all(after[path] == data for path, data in previews.items())  # each preview as it was
    results = sorted(set(after) - set(previews) - set(before))
    assert [path.relative_to(tmp_path).as_posix() for path in results] == WHOLE[inputs, into]
    assert all(len(media.read_frames(path)) == 10 for path in results)


def test_a_variable_rate_into_avi_keeps_its_times_on_a_grid_or_is_warned_of_before_the_run(tmp_path, identity):
    """AVI counts frames at one rate: at the average, a phone clip whose rate drops in low light drifted against
    its sound (0.93 s at the change, for 3 s at 30 fps then 3 s at 15 fps). Its frames fall on a 30 fps grid,
    whose ticks between them AVI leaves empty: each keeps its time, without a warning. Frames on no grid drift,
    and the run says so."""
    stamps = [*range(0, 18), *range(18, 42, 2)]
    source = media.make_video(tmp_path / "in.mp4", frames=30, fps=30, pts=stamps, time_base=Fraction(1, 30))
    result = deblur(source, "-o", tmp_path / "out.avi")
    assert result.exit_code == 0 and "counts frames" not in result.stderr, result.output
    assert kept_times(tmp_path / "out.avi", source)
    with av.open(str(tmp_path / "out.avi")) as container:
        assert container.streams.video[0].time_base == Fraction(1, 30)
    uneven = [0]
    for step in [33, 50, 41] * 10:  # ms: 1.5 times the shortest, and 1.24
        uneven.append(uneven[-1] + step)
    source = media.make_video(tmp_path / "uneven.mp4", frames=31, pts=uneven, time_base=Fraction(1, 1000))
    result = deblur(source, "-o", tmp_path / "uneven.avi")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "warning: the .avi container counts frames at one rate, and this video's varies, 33 to 50 ms between"
        " frames (usually 33): frames that come faster than its average take the next free frame's time,"
    )
    steady = media.make_video(tmp_path / "steady.mp4", frames=30, fps=30)
    assert "counts frames at one rate" not in deblur(steady, "-o", tmp_path / "steady.avi").stderr
    # an encoder that counts frames in a container that need not: the remedy is the codec, not the container
    jitter = [tick for start in range(0, 60, 6) for tick in (start, start + 1, start + 4)]  # 30 fps, unevenly
    source = media.make_video(tmp_path / "jitter.mp4", frames=30, fps=30, pts=jitter, time_base=Fraction(1, 60))
    coded = deblur(source, "-o", tmp_path / "out.mkv", "--codec", "mpeg2video")
    text = " ".join(coded.stderr.split())
    assert "warning: the mpeg2video encoder counts frames at one rate" in text, text
    assert "; another --codec keeps each frame's time" in text and "the .mkv container" not in text
    assert "counts frames" not in deblur(source, "-o", tmp_path / "kept.mkv").stderr


def test_a_variable_rate_into_png_frames_is_warned_of_before_the_run(tmp_path, identity):
    """Found in review (sync48 F6): a PNG sequence holds no times, so whoever reads it back at one rate gets
    the drift the .avi warning tells of, and nothing was said."""
    stamps = [*range(0, 18), *range(18, 42, 2)]
    source = media.make_video(tmp_path / "in.mp4", frames=30, fps=30, pts=stamps, time_base=Fraction(1, 30))
    result = deblur(source, "-o", tmp_path / "frames")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stderr.split())
    assert (
        "warning: a PNG sequence holds no frame times, and this video's rate varies, 33.3 to 66.7 ms between frames"
        " (usually 33.3): read back at one rate" in text
    ), text
    assert len(list((tmp_path / "frames").glob("*.png"))) == 30
    steady = media.make_video(tmp_path / "steady.mp4", frames=30, fps=30)
    assert "holds no frame times" not in deblur(steady, "-o", tmp_path / "steady").stderr


# (output suffix, --codec) over what counts frames at one rate: a container (AVI, Y4M, a bare stream, an MPEG
# program stream), an encoder in a container that need not (mpeg2video), and neither
DRIFT_CASES = {
    "avi": (".avi", None, None),  # on the grid the frames fall on, its ticks between frames left empty
    "avi-ffv1": (".avi", "ffv1", None),
    "y4m": (".y4m", None, "the .y4m container"),
    "bare-h264": (".h264", None, "the .h264 container"),
    "bare-m2v": (".m2v", None, "the .m2v container"),
    "mpg": (".mpg", None, "the .mpg container"),
    "vob": (".vob", None, "the .vob container"),
    "mkv-mpeg2video": (".mkv", "mpeg2video", "the mpeg2video encoder"),
    "mp4-mpeg2video": (".mp4", "mpeg2video", "the mpeg2video encoder"),
    "ts-mpeg2video": (".ts", "mpeg2video", "the mpeg2video encoder"),
    "mkv": (".mkv", None, None),
    "mp4": (".mp4", None, None),
    "mov": (".mov", None, None),
    "webm": (".webm", None, None),
    "ts": (".ts", None, None),
    "nut": (".nut", None, None),
    "mkv-ffv1": (".mkv", "ffv1", None),
    "mxf": (".mxf", None, "the .mxf container"),
    # both the container and the codec asked count frames: the advice is another container with another codec
    "mxf-mpeg2video": (".mxf", "mpeg2video", "the .mxf container"),
    "mpg-mpeg2video": (".mpg", "mpeg2video", "the .mpg container"),
}  # fmt: skip


def kept_times(path: Path, source: Path) -> bool:
    """Whether each frame of `path` has the time of the frame of `source` it was restored from (counted from the
    first): a file that holds no time for some frames (a bare stream) keeps none. An AVI's times are its index's,
    as deblur and players read them (PyAV reads H.264 there a tick late: docs/cli.md)."""
    if path.suffix == ".avi":
        with open_source(path) as frames:
            written = ([frame.pts for frame in frames], frames.info.time_base)
    else:
        written = media.read_video_pts(path)
    read = media.read_video_pts(source)
    if None in written[0] or len(written[0]) != len(read[0]):
        return False
    ours, theirs = ([float(pts * base) for pts in stamps] for stamps, base in (written, read))  # as decoded
    return all(abs((a - ours[0]) - (b - theirs[0])) < 0.004 for a, b in zip(ours, theirs))


@pytest.mark.parametrize("suffix, codec, counts", DRIFT_CASES.values(), ids=DRIFT_CASES.keys())
def test_a_variable_rate_is_warned_of_exactly_where_it_drifts_and_the_advice_keeps_it(
    tmp_path, identity, suffix, codec, counts
):
    """The rule of the drift warning (F1): given exactly where the written frames do not keep their times, naming
    what counts frames at one rate, the container or the encoder; and the output its advice names (.mp4, .mov
    or .mkv; or another --codec) keeps them. Measured on the files written, a 30 fps clip whose frames come
    unevenly (1/60 s, 1/20 s, 1/30 s apart)."""
    jitter = [tick for start in range(0, 30, 6) for tick in (start, start + 1, start + 4)]
    source = media.make_video(tmp_path / "jitter.mp4", frames=15, fps=30, pts=jitter, time_base=Fraction(1, 60))

    def written(target: Path, codec: str | None) -> tuple[str | None, bool, str]:
        result = deblur(source, "-o", target, *(["--codec", codec] if codec else []))
        assert result.exit_code == 0, result.output
        text = " ".join(result.stderr.split())
        said = re.search(r"warning: (.+?) counts frames at one rate.*?; ([^;]*?) each frame's time", text)
        return (said.group(1) if said else None), kept_times(target, source), (said.group(2) if said else "")

    warned, kept, advice = written(tmp_path / f"out{suffix}", codec)
    assert (warned, kept) == (counts, counts is None)
    if counts is not None:  # the advice followed: into .mkv (with another codec where it says so), or another codec
        if "container" in counts:  # every container it names, with the codec asked unless it says another
            another = "another --codec" in advice
            assert another == (codec == "mpeg2video")  # only where the codec asked counts frames too
            for suffix in re.findall(r"\.\w+", advice):
                assert written(tmp_path / f"advised{suffix}", "libx264" if another else codec)[:2] == (None, True)
        else:
            assert advice == "another --codec keeps"
            assert written(tmp_path / f"advised{suffix}", "libx264")[:2] == (None, True)


def test_photos_in_a_folder_of_videos_are_said_to_be_left_out(tmp_path, identity):
    """Found in review: a phone's DCIM folder restored its videos and left its photos out without a word."""
    folder = tmp_path / "DCIM" / "100APPLE"
    folder.mkdir(parents=True)
    media.make_video(folder / "IMG_0001.mov", frames=3)
    for name in ("IMG_0010.jpg", "IMG_0002.jpg"):
        media.write_image(folder / name, media.pattern(0, 32, 24))
    (folder / "IMG_0002.aae").write_text("<plist/>")  # the sidecars of a card are not photos
    for given in (folder, tmp_path / "DCIM"):
        result = deblur(given, "-o", f"{tmp_path / 'out'}/", "--force")
        assert result.exit_code == 0, result.output
        lines = [line for line in result.stderr.splitlines() if "photo" in line and line.startswith("note")]
        assert lines == [
            f"note: left out 2 photos in {given}, a folder of videos: restore a photo on its own"
            f" (deblur run {folder / 'IMG_0002.jpg'})"
        ]
    assert "photo" not in deblur(media.make_video(tmp_path / "a.mp4", frames=3), "-q").stderr


def test_a_photo_beside_a_cards_videos_does_not_hide_the_videos_in_its_subfolders(tmp_path, identity):
    """Found in review: with a photo at its top, a card's folder was taken for a folder of frames and searched at
    its top only: the videos of its subfolders were left out without a word."""
    card = tmp_path / "card"
    (card / "sub").mkdir(parents=True)
    media.make_video(card / "A001.mp4", frames=2)
    media.make_video(card / "sub" / "A002.mov", frames=2)
    media.write_image(card / "photo.jpg", media.pattern(0, 32, 24))
    result = deblur(card, "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.m*")) == [
        "A001.mp4", "sub/A002.mov"
    ]  # fmt: skip
    assert f"note: left out a photo in {card}, a folder of videos" in result.stderr
    frames = tmp_path / "frames"  # images and no video at the top: frames, whatever a subfolder holds
    (frames / "preview").mkdir(parents=True)
    media.write_image(frames / "0001.png", media.pattern(0, 32, 24))
    media.write_image(frames / "0002.png", media.pattern(1, 32, 24))
    media.make_video(frames / "preview" / "p.mp4", frames=2)
    assert deblur(frames, "-o", tmp_path / "restored").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "restored").iterdir()) == ["0001.png", "0002.png"]


# inputs of each class of name, and the video a run into a folder names each (outputs._written_as): a container
# deblur writes kept, one it reads but does not write by default as .mp4, a suffix in capitals kept as it is
INTO_A_FOLDER = {
    "Phone.mp4": ({}, "Phone.mp4"),
    "Clip.mov": ({"codec": "libx264"}, "Clip.mov"),
    "Clip.mkv": ({}, "Clip.mkv"),
    "Clip.avi": ({}, "Clip.avi"),
    "Clip.webm": ({}, "Clip.webm"),
    "Cam.mts": ({"codec": "libx264"}, "Cam.mp4"),
    "Cam.m2ts": ({"codec": "libx264"}, "Cam.mp4"),
    "Cam.ts": ({"codec": "libx264"}, "Cam.mp4"),
    "Loop.gif": ({"codec": "gif", "pix_fmt": "rgb8"}, "Loop.mp4"),
    "Old.wmv": ({"codec": "wmv2"}, "Old.mp4"),
    "PHONE.MP4": ({"codec": "libx264"}, "PHONE.MP4"),
}


@pytest.mark.parametrize("name", INTO_A_FOLDER)
def test_a_video_into_a_folder_of_frames_is_told_how_to_get_a_video(tmp_path, identity, name):
    """Found in review: `-o exports/` puts a batch's videos in the folder, but one video's frames, as PNG images,
    which the run said only by the sound it left out; then the note's suggestion kept a suffix deblur does not
    write (-o exports/anim.gif, refused). The rule: the note's -o, pasted into a shell, writes a video there."""
    import shlex

    codec, written = INTO_A_FOLDER[name]
    source = media.make_video(tmp_path / name, frames=3, **codec)
    exports = tmp_path / "my exports"  # an empty folder, named without the slash that puts the video in it
    exports.mkdir()
    result = deblur(source, "-o", exports)
    assert result.exit_code == 0, result.output
    assert len(list(exports.glob("*.png"))) == 3
    note = f"note: {exports} gets PNG frames, not a video (for a video in it, -o "
    said = next((line for line in result.stderr.splitlines() if line.startswith(note)), None)
    assert said is not None and said.endswith(")"), result.stderr
    followed = deblur(source, "-o", *shlex.split(said[len(note) : -1]))
    assert followed.exit_code == 0, followed.output
    assert sorted(p.name for p in exports.iterdir() if p.suffix != ".png") == [written]
    assert len(media.read_frames(exports / written)) == 3


def test_a_folder_of_images_into_a_folder_is_not_told_how_to_get_a_video(tmp_path, identity):
    frames = media.make_images(tmp_path / "frames", count=3, size=(32, 24))
    assert "PNG frames, not a video" not in deblur(frames, "-o", f"{tmp_path / 'restored'}/").stderr


def test_a_file_given_without_run_gets_the_run_command_as_its_hint(tmp_path, monkeypatch):
    """Found in review: `deblur clip.mp4`, a first-time user's likeliest slip, said only that there is no such
    command."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my clip.mp4").write_bytes(b"")
    result = runner.invoke(app, ["my clip.mp4", "-o", "out.mp4"])
    assert result.exit_code == 2 and result.stderr.splitlines() == [
        "error: no such command 'my clip.mp4'",
        "hint: to restore it: deblur run 'my clip.mp4' -o out.mp4",
    ]
    assert runner.invoke(app, ["missing.mp4"]).stderr.splitlines()[1] == "hint: deblur --help lists the commands"


def test_a_file_name_that_starts_with_a_dash_is_named_in_the_error_with_the_way_round_it(tmp_path, identity, monkeypatch):
    monkeypatch.chdir(tmp_path)
    media.make_video(tmp_path / "-clip.mp4", frames=2)
    result = deblur("-clip.mp4", "-q")  # Click reads -c -l -i ...: it said "no such option: -c" alone
    assert result.exit_code == 2
    assert "error: -clip.mp4 is a file, but it was read as options" in result.stderr
    assert "-- -clip.mp4" in result.stderr and "./-clip.mp4" in result.stderr
    assert deblur("-q", "--", "-clip.mp4").exit_code == 0 and (tmp_path / "-clip-deblurred.mp4").exists()
    assert "lists the options" in deblur("-x", "in.mp4").stderr  # no such file: the usual hint
    media.make_video(tmp_path / "-oclip.mp4", frames=2)
    glued = deblur("-oclip.mp4")  # -o with the value clip.mp4, then no input
    assert glued.exit_code == 2 and "error: -oclip.mp4 is a file, but it was read as options" in glued.stderr
    other = deblur("-oclip.mp4", "x.mp4", "--strength", "2")  # another option's mistake is its own
    assert other.exit_code == 2 and "error: invalid value for '--strength'" in other.stderr
    typo = deblur("./-clip.mp4", "-o", "-oclip.mp4", "--bogus")  # -o's value is read as a value: not to blame
    assert typo.exit_code == 2 and "read as options" not in typo.stderr
    assert re.search(r"no such option(: | ')--bogus", typo.stderr)  # the wording of the Click and Typer releases


def test_a_name_with_spaces_left_unquoted_is_said_to_need_quotes(tmp_path):
    """Found by review (firstlook54 F10): `deblur run phone clip.mov` said only "phone: no such file or directory"."""
    media.make_video(tmp_path / "my phone clip.mov", frames=2)
    split = str(tmp_path / "my"), "phone", "clip.mov"
    for said in (deblur(*split), deblur(*split, "-o", tmp_path / "out.mp4"), runner.invoke(app, ["info", *split])):
        assert said.exit_code == 1, said.output
        assert said.stderr == (
            f"error: {tmp_path / 'my'}: no such file or directory\n"
            f"hint: quote names with spaces: {shlex.quote(str(tmp_path / 'my phone clip.mov'))}\n"
        )
    missing = deblur(tmp_path / "my", "clip.mov")  # joined, no such file either: the usual hint
    assert "hint: check the path; quote glob patterns" in missing.stderr


def test_an_option_typo_names_the_closest_option(tmp_path):
    """Found by review (firstlook54 F10): `--strenght` listed --start, --strength and --weights; `deblur rn` says
    "did you mean 'run'?". Options equally close are all named."""
    source = media.make_video(tmp_path / "in.mp4", frames=2)
    typo = deblur(source, "--strenght", "0.5")
    assert typo.exit_code == 2 and typo.stderr == (
        "error: no such option: --strenght\nhint: did you mean '--strength'? deblur run --help lists the options\n"
    )
    assert "did you mean '--codec' or '--model'? " in deblur(source, "--modec", "x").stderr
    far = deblur(source, "--quality")  # not close enough to --quiet to say it is meant: Click's list, as it was
    assert far.exit_code == 2 and "hint: did you mean" not in far.stderr and "--quiet" in far.stderr
    demo = runner.invoke(app, ["demo", "--forse"])
    assert demo.exit_code == 2 and "hint: did you mean '--force'? deblur demo --help lists the options" in demo.stderr


def test_a_folder_name_with_a_dot_ending_in_a_slash_is_a_folder(tmp_path, identity):
    """`-o frames.v2/` was refused as a file of an unknown format: the slash, which says "folder", was lost
    when the option became a Path. A video goes into such a folder, an image sequence's frames too, and a
    video's frames into an empty folder made first."""
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    result = deblur(source, "-o", f"{tmp_path / 'takes.v2'}/")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "takes.v2").iterdir()) == ["in.mp4"]
    media.make_images(tmp_path / "shots", count=3)
    assert deblur(tmp_path / "shots", "-o", f"{tmp_path / 'frames.v2'}/").exit_code == 0
    assert len(list((tmp_path / "frames.v2").glob("*.png"))) == 3
    (tmp_path / "frames.v4").mkdir()
    assert json.loads(deblur(source, "-o", tmp_path / "frames.v4", "--json").stdout)["output"] == str(
        tmp_path / "frames.v4"
    )
    assert sorted(p.name for p in (tmp_path / "frames.v4").iterdir()) == [f"frame_00000{i}.png" for i in (1, 2, 3)]
    refused = deblur(source, "-o", tmp_path / "frames.v3")
    assert refused.exit_code == 2
    assert "for PNG frames under a name that has a dot, make the folder first" in refused.stderr
    assert not (tmp_path / "frames.v3").exists()
    assert deblur(tmp_path / "gone.mp4", "-o", f"{tmp_path / 'frames.v5'}/").exit_code == 1
    assert not (tmp_path / "frames.v5").exists()  # a refused run makes no folder


def test_skip_existing_does_not_take_the_input_for_its_finished_output(tmp_path, identity):
    """`-o IN --skip-existing` said "skipped: IN exists" and exited 0, as if the input were its result."""
    source = media.make_video(tmp_path / "in.mp4", frames=2)
    (tmp_path / "link.mp4").hardlink_to(source)
    for target in (source, tmp_path / "link.mp4"):
        result = deblur(source, "-o", target, "--skip-existing")
        assert result.exit_code == 2 and "output is the input" in result.stderr


def test_crf_and_preset_an_output_does_not_use_are_named_and_defaults_are_not(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    cases = [
        (("-o", tmp_path / "a.mkv", "--codec", "ffv1", "--crf", 20), "--crf is not used by ffv1"),
        (("-o", tmp_path / "b.mkv", "--codec", "ffv1", "--crf", 3, "--preset", "slow"), "--crf and --preset are not used by ffv1"),
        (("-o", tmp_path / "c.mov", "--codec", "prores", "--preset", "slow"), "--preset is not used by prores_ks"),
        (("-o", tmp_path / "d.mkv", "--codec", "x264-lossless", "--crf", 9), "--crf is not used by libx264rgb"),
        (("-o", tmp_path / "frames/", "--crf", 20), "--crf is not used for PNG frames"),
        (("-o", tmp_path / "grey/", "--pix-fmt", "gray"), "--pix-fmt is not used for PNG frames"),  # was silent
        (("-o", tmp_path / "g/", "--crf", 3, "--preset", "slow", "--pix-fmt", "yuv420p"),
         "--crf, --preset and --pix-fmt are not used for PNG frames"),
    ]
    for args, note in cases:
        result = deblur(source, *args, "-q")
        assert result.exit_code == 0, result.output
        assert note in result.output
    for args in [("-o", tmp_path / "e.mkv", "--codec", "ffv1"), ("-o", tmp_path / "f.mp4", "--crf", 30, "--preset", "fast")]:
        result = deblur(source, *args, "-q")  # the defaults, or options the encoder takes: nothing to say
        assert result.exit_code == 0 and "not used" not in result.output, result.output
    photo = media.write_image(tmp_path / "p.png", media.pattern(0, 64, 48))
    result = deblur(photo, "-o", tmp_path / "q.jpg", "--preset", "slow", "-q")
    assert result.exit_code == 0 and "--preset is not used for a .jpg image" in result.output, result.output
    result = deblur(photo, "-o", tmp_path / "r.png", "--pix-fmt", "yuv420p", "-q")
    assert result.exit_code == 0 and "--pix-fmt is not used for a .png image" in result.output, result.output


def test_a_tile_overlap_without_tiles_is_named(tmp_path, identity):
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    result = deblur(source, "-o", tmp_path / "a.mp4", "--tile", "0", "--tile-overlap", 5, "-q")
    said = "--tile-overlap 5 is not used without tiles: whole frames are restored"
    assert result.exit_code == 0 and said in result.output
    for args in [("--tile", "0"), ("--tile", "64", "--tile-overlap", 8)]:  # nothing unused: nothing to say
        result = deblur(source, "-o", tmp_path / f"{len(args)}.mp4", *args, "-q")
        assert result.exit_code == 0 and "not used" not in result.output and "warning" not in result.output
    result = deblur(source, "-o", tmp_path / "small.mp4", "--tile", "32", "-q")  # 30 times slower at 16, and worse
    assert result.exit_code == 0 and "--tile 32: tiles under 64 pixels restore less" in " ".join(result.output.split())
    # under the model's least, the error alone, before any frame is read (not the note on small tiles first)
    calls = len(identity.calls)
    result = deblur(source, "-o", tmp_path / "tiny.mp4", "--tile", "8")
    assert result.exit_code == 2 and "--tile 8 must be at least 16 pixels for dstnet-s" in result.stderr, result.output
    assert "restore less" not in result.output and len(identity.calls) == calls
    assert not (tmp_path / "tiny.mp4").exists()


def test_a_window_longer_than_the_diffusion_weights_learned_is_named(tmp_path):
    """Found in review: `-m wtsa-s --window 8` ran without a word, though the bundled weights learned windows
    of 6 frames (rows 7 and 8 of their positional tables are zero)."""
    source = media.make_video(tmp_path / "in.mp4", frames=8, size=(32, 32))
    result = deblur(source, "-o", tmp_path / "out.mp4", "-m", "wtsa-s", "--steps", "1", "--window", "8", "-q")
    assert result.exit_code == 0, result.output
    assert "--window 8: wtsa-s's weights learned windows of up to 6 frames" in " ".join(result.stderr.split())
    result = deblur(source, "-o", tmp_path / "six.mp4", "-m", "wtsa-s", "--steps", "1", "--window", "6", "-q")
    assert result.exit_code == 0 and "learned" not in result.stderr, result.output


def test_at_strength_0_the_done_line_names_no_model(tmp_path, identity):
    """Found in review: `--strength 0` (the input re-encoded, the model not run) said 'dstnet-s on cpu'."""
    source = media.make_video(tmp_path / "in.mp4", frames=3)
    result = deblur(source, "-o", tmp_path / "out.mp4", "--strength", 0)
    assert result.exit_code == 0, result.output
    assert result.stderr.rstrip().endswith("fps, --strength 0: the model not run)"), result.stderr
    assert "fps, dstnet-s on cpu)" in deblur(source, "-o", tmp_path / "out2.mp4", "--strength", 0.5).stderr


def test_the_done_line_of_a_slow_run_says_the_seconds_a_frame_took():
    """Found in review: `done m4k3_out.mp4: 3 frames 3840x2160 in 242.5 s (0.01 fps, dstnet-s on cpu)`."""
    from deblur_cli.cli.run import _done_line
    from deblur_cli.pipeline import RunResult

    result = RunResult("m4k3.mp4", "m4k3_out.mp4", frames=3, seconds=242.5, width=3840, height=2160)
    line = _done_line(result, "dstnet-s on cpu")
    assert line == "m4k3_out.mp4: 3 frames 3840x2160 in 242.5 s (81 s a frame, dstnet-s on cpu)"
    result = RunResult("m4k3.mp4", "m4k3_out.mp4", frames=3, seconds=2.425, width=3840, height=2160)
    assert _done_line(result, "dstnet-s on cpu").endswith("in 2.4 s (1.24 fps, dstnet-s on cpu)")


@pytest.mark.parametrize("codec", [None, "mpeg2video"])
def test_an_mxf_output_reads_back_with_every_frame_in_order(tmp_path, identity, codec):
    """Found in review: FFmpeg's MXF muxer writes H.264 without its reordering, so x264's B-frames came back with
    their decode times and a run of the file left a third of its frames out."""
    source = media.make_video(tmp_path / "in.mp4", frames=12, fps=25, size=(64, 64))
    result = deblur(source, "-o", tmp_path / "out.mxf", *(["--codec", codec] if codec else []), "-q")
    assert result.exit_code == 0, result.output
    stamps, base = media.read_video_pts(tmp_path / "out.mxf")
    assert [round(float(pts * base), 2) for pts in stamps] == [round(i / 25, 2) for i in range(12)]
    again = deblur(tmp_path / "out.mxf", "-o", tmp_path / "back.mkv")
    assert again.exit_code == 0 and "out of order" not in again.stderr and "12 frames" in again.stderr, again.output


def test_an_mxf_output_at_a_rate_it_cannot_store_says_so(tmp_path, identity):
    """Found in review: at 10 fps, "the .mxf container cannot hold libx264 video", which it holds at 25."""
    source = media.make_video(tmp_path / "in.mp4", frames=3, fps=10)
    result = deblur(source, "-o", tmp_path / "out.mxf")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: the .mxf container cannot hold video at 10 frames a second",
        "hint: write .mkv, .mov or .mp4, which take any rate",
    ]


def test_on_a_cpu_the_thread_count_follows_the_cores_other_programs_leave(tmp_path, identity, monkeypatch):
    """Passive waiting is chosen as the command starts: beside a program that started later, 90 frames took 38.0 to
    41.2 s with 2 spinning threads, 33.3 s fitted. As in training (cpu_share.ThreadFit), the count falls while other
    programs keep the cores busy and comes back when they are free, with a note, unless OMP_NUM_THREADS fixes it."""
    import functools

    import torch

    from deblur_cli import cpu_share

    set_to: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", set_to.append)  # conftest's one thread stays
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)  # as on a 2-core machine
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    now: list[cpu_share.Sample] = []
    others = iter([])

    def sample():  # once as the fit is made, then at each frame: 30 s later, other programs busy as `others` says
        busy = next(others) if now else 0.0
        now.append(cpu_share.Sample(len(now) * 30.0, (now[-1].busy if now else 0.0) + 30.0 * busy, 0.0))
        return now[-1]

    monkeypatch.setattr(cpu_share, "ThreadFit", functools.partial(cpu_share.ThreadFit, every=30.0, sampler=sample))
    source = media.make_video(tmp_path / "in.mp4", frames=6, size=(32, 32), fps=30)
    for options, fixed, expected, said in [
        ([], None, [1, 2], True),
        (["-q"], None, [1, 2], False),
        ([], "2", [], False),
    ]:
        set_to.clear()
        now.clear()
        others = iter([1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])  # cores' worth of other programs' work, per period
        if fixed is not None:
            monkeypatch.setenv("OMP_NUM_THREADS", fixed)
        result = deblur(source, "-o", tmp_path / "out.mp4", "-f", "--window", 2, "--overlap", 0, *options)
        assert result.exit_code == 0, result.output
        assert set_to == expected, (options, set_to)
        notes = [line for line in result.output.splitlines() if "cores" in line]
        assert notes == (
            [
                "note: other programs keep 1.0 of the 2 cores busy: restoring on 1 thread from frame 1 (OMP_NUM_THREADS=N"
                " fixes the count)",
                "note: the cores are free again: restoring on 2 threads from frame 4",
            ]
            if said
            else []
        ), result.output
