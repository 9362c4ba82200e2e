"""video_io: decode and encode round trips reopened with PyAV directly, lossless identity, bad inputs and
outputs with their messages, atomic outputs. All media is generated tiny by tests/media.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from types import SimpleNamespace
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from deblur_cli import files
from deblur_cli.errors import EncoderOptionError, InputError, OutputError
from deblur_cli.span import Span
from deblur_cli.video_io import (
    DEFAULT_FPS,
    EncodeOptions,
    Frame,
    ReadOptions,
    VideoInfo,
    describe,
    open_sink,
    open_source,
)
from deblur_cli.video_io.encoding import resolve_encoder, unused_options
from deblur_cli.video_io.images import ImageSequenceSource
from deblur_cli.video_io.info import bit_depth_of, frame_arrays
from deblur_cli.video_io.passthrough import _starts_at_zero
from deblur_cli.video_io.reader import rising_timestamps
from deblur_cli.video_io.writer import with_sane_dts
from deblur_cli.video_io.yuv import yuv_frame
from deblur_cli.video_io.side_data import side_data_of
from deblur_cli.video_io.sinks import planned_warnings
from deblur_cli.video_io.sources import reading_warnings
from deblur_cli.video_io.work_folder import work_folder
from tests import media
from tests.media import convert, decode




def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two RGB arrays, each scaled by its dtype's peak."""
    a, b = (x.astype(np.float64) / (255.0 if x.dtype == np.uint8 else 65535.0) for x in (a, b))
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-12)))


def stream_info(path, kind: str):
    """(codec name, stream) of the first stream of a kind, read back with PyAV; None if there is none."""
    container = av.open(str(path))
    streams = [s for s in container.streams if s.type == kind]
    return container, (streams[0] if streams else None)


def packets(path, kind: str) -> list[tuple[float, bytes]]:
    """(time, payload) of every packet of the first stream of a kind; MP4's empty filler cues left out."""
    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type == kind]
        return [
            (float(p.pts * p.time_base), bytes(p))
            for p in container.demux(streams[0])
            if p.size and bytes(p) != b"\x00\x00"
        ]


def audio_seconds(path) -> float:
    with av.open(str(path)) as container:
        return sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))


def leftovers(directory: Path, keep: set[str]) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name not in keep)


# --- decoding ------------------------------------------------------------------------------------------------

CODECS = {
    "h264.mp4": {},
    "hevc.mkv": {"codec": "libx265", "size": (64, 64)},  # x265's smallest (encoding.X265_SMALLEST)
    "vp9.webm": {},
    "av1.mkv": {"codec": "libsvtav1", "size": (64, 64)},
    "prores.mov": {"codec": "prores_ks", "pix_fmt": "yuv422p10le"},
    "mjpeg.avi": {"codec": "mjpeg", "pix_fmt": "yuvj420p"},
    "ffv1.mkv": {"codec": "ffv1", "pix_fmt": "bgr0"},
}


@pytest.mark.parametrize("name", CODECS)
def test_decodes_common_codecs_to_rgb_frames(tmp_path, name):
    path = media.make_video(tmp_path / name, frames=6, **CODECS[name])
    with open_source(path) as source:
        frames = list(source)
    info = source.info
    width, height = CODECS[name].get("size", (64, 48))
    assert (info.width, info.height) == (width, height)
    assert [f.index for f in frames] == list(range(6))
    for frame in frames:
        assert frame.image.shape == (height, width, 3) and frame.image.flags.c_contiguous
        assert frame.image.dtype == info.dtype
    scale = 8 if info.bit_depth == 8 else 16
    worst = min(psnr(f.image, media.pattern(f.index, width, height, bit_depth=scale)) for f in frames)
    assert worst > 26, f"{name}: decoded frames differ from what was encoded ({worst:.1f} dB)"


def test_describe_reports_stream_properties(tmp_path):
    path = media.make_video(tmp_path / "a.mp4", frames=12, audio="aac")
    info = describe(path)
    assert (info.width, info.height, info.fps, info.frame_count) == (64, 48, Fraction(25), 12)
    assert info.time_base == Fraction(1, 12800)
    assert (info.bit_depth, info.dtype, info.rotation, info.codec) == (8, np.uint8, 0, "h264")
    assert info.has_audio and not info.has_subtitles
    assert "mp4" in info.container


@pytest.mark.parametrize("ntsc, fps", [(False, Fraction(25)), (True, Fraction(30000, 1001))])
def test_raw_dv_has_its_frame_rate_not_its_clocks(tmp_path, ntsc, fps):
    # the dv demuxer states 60000 fps, its time base's tick rate
    info = describe(media.make_dv(tmp_path / "tape.dv", ntsc=ntsc, frames=4))
    assert (info.fps, info.frame_count) == (fps, 4)
    assert info.duration == pytest.approx(float(4 / fps))


def test_ten_bit_video_decodes_to_uint16_on_the_full_scale(tmp_path):
    path = media.make_video(tmp_path / "ten.mkv", frames=4, bit_depth=10)
    with open_source(path) as source:
        frames = list(source)
    assert source.info.bit_depth == 10 and source.info.pix_fmt == "yuv420p10le"
    assert frames[0].image.dtype == np.uint16
    assert frames[0].image.max() > 60000  # the pattern peaks at 95% of full scale
    assert psnr(frames[1].image, media.pattern(1, 64, 48, bit_depth=16)) > 30


# ITU-R BT.709, BT.601 (swscale's default where the matrix is not tagged) and BT.2020: (Kr, Kb)
MATRIX_WEIGHTS = {1: (0.2126, 0.0722), 9: (0.2627, 0.0593)}
BT601 = (0.299, 0.114)
INTERLEAVED = {"nv12": False, "nv21": True, "p010le": False}  # Cb and Cr in one plane; Cr first
# offsets of Y, Cb, Cr in 4 samples (bytes; Y210's 16-bit words, each sample in its top bits)
PACKED = {"yuyv422": (0, 1, 3), "uyvy422": (1, 0, 2), "yvyu422": (0, 3, 1), "y210le": (0, 1, 3), "y212le": (0, 1, 3)}


def stored_planes(frame: av.VideoFrame) -> tuple[list[np.ndarray], int]:
    """Y, Cb, Cr of a YUV frame (planar, NV12, NV21, P010, or packed 4:2:2) as float code values, and their bits."""
    name = frame.format.name
    bits = max(component.bits for component in frame.format.components)
    dtype = np.dtype(np.uint8 if bits <= 8 else "<u2")

    def samples(plane, count=1):
        return np.frombuffer(plane, dtype).reshape(plane.height, -1)[:, : plane.width * count].astype(np.float64)

    shift = 2 ** (16 - bits) if name.startswith(("p0", "y2")) else 1  # P010 and Y210 keep their bits at the top
    if name in PACKED:  # two pixels in four samples: Y, Cb, Y, Cr in YUYV's order
        luma, cb, cr = PACKED[name]
        row = samples(frame.planes[0], 2) / shift
        return [row[:, luma::2], row[:, cb::4], row[:, cr::4]], bits
    if name not in INTERLEAVED:
        return [samples(plane) / shift for plane in frame.planes[:3]], bits
    pairs = samples(frame.planes[1], 2) / shift
    cb, cr = (pairs[:, 1::2], pairs[:, 0::2]) if INTERLEAVED[name] else (pairs[:, 0::2], pairs[:, 1::2])
    return [samples(frame.planes[0]) / shift, cb, cr], bits


def code_ranges(bits: int, full: bool) -> tuple[int, int, int, int]:
    """(black, luma range, neutral chroma, chroma range) in code values, by ITU-T H.273."""
    if full:
        return 0, 2**bits - 1, 2 ** (bits - 1), 2**bits - 1
    return 16 << (bits - 8), 219 << (bits - 8), 128 << (bits - 8), 224 << (bits - 8)


def exact_rgb(frame: av.VideoFrame) -> np.ndarray:
    """The float RGB (0..255) of a YUV frame's stored planes, each chroma sample over the pixels it covers:
    the tagged matrix (BT.601 untagged, as swscale); full range where tagged or yuvj."""
    (y, u, v), bits = stored_planes(frame)
    kr, kb = MATRIX_WEIGHTS.get(int(frame.colorspace), BT601)
    down, across = -(-y.shape[0] // u.shape[0]), -(-y.shape[1] // u.shape[1])
    u, v = (c.repeat(down, 0).repeat(across, 1)[: y.shape[0], : y.shape[1]] for c in (u, v))
    black, luma_range, neutral, chroma_range = code_ranges(bits, int(frame.color_range) == 2 or frame.format.name.startswith("yuvj"))
    y, u, v = (y - black) / luma_range, (u - neutral) / chroma_range, (v - neutral) / chroma_range
    red, blue = y + 2 * (1 - kr) * v, y + 2 * (1 - kb) * u
    green = (y - kr * red - kb * blue) / (1 - kr - kb)
    return np.clip(np.stack([red, green, blue], axis=-1), 0, 1) * 255


def exact_yuv(rgb: np.ndarray, matrix: int, bits: int, full: bool) -> list[np.ndarray]:
    """Float Y, Cb, Cr code values (full resolution) of float RGB in [0, 1]."""
    kr, kb = MATRIX_WEIGHTS.get(matrix, BT601)
    y = rgb @ np.array([kr, 1 - kr - kb, kb])
    black, luma_range, neutral, chroma_range = code_ranges(bits, full)
    cb, cr = (rgb[..., 2] - y) / (2 - 2 * kb), (rgb[..., 0] - y) / (2 - 2 * kr)
    return [black + y * luma_range, neutral + cb * chroma_range, neutral + cr * chroma_range]


@pytest.mark.parametrize(
    "name, settings",
    [
        ("bt709.mp4", {"color": {"matrix": 1, "range": 1}}),
        ("bt709_full.mp4", {"color": {"matrix": 1, "range": 2}}),
        ("untagged.mp4", {}),
        ("odd.mkv", {"size": (63, 47), "codec": "ffv1", "pix_fmt": "yuv420p"}),
        ("mjpeg.avi", {"codec": "mjpeg", "pix_fmt": "yuvj420p"}),
    ],
)
def test_eight_bit_4_2_0_reads_as_the_exact_conversion_of_its_planes(tmp_path, name, settings):
    # swscale's default path read these 0.9 to 1.9 levels dark in the mean (worst channel)
    path = media.make_video(tmp_path / name, frames=3, **settings)
    with av.open(str(path)) as container:
        want = np.stack([exact_rgb(frame) for frame in container.decode(video=0)])
    got = np.stack(decode(path)).astype(np.float64)
    assert np.abs((got - want).mean(axis=(0, 1, 2))).max() < 0.05
    assert np.abs(got - want).max() <= 0.51  # rounding only


@pytest.mark.parametrize(
    "name, settings",
    [
        ("ten.mkv", {"pix_fmt": "yuv420p10le", "color": {"matrix": 1, "range": 1}}),
        ("ten_full_bt2020.mkv", {"pix_fmt": "yuv420p10le", "color": {"matrix": 9, "range": 2}}),
        ("ten_422.mkv", {"pix_fmt": "yuv422p10le", "color": {"matrix": 1, "range": 1}}),
        ("ten_444_odd.mkv", {"pix_fmt": "yuv444p10le", "size": (63, 47)}),
        ("ten_420_odd.mkv", {"pix_fmt": "yuv420p10le", "size": (63, 47), "color": {"matrix": 9, "range": 1}}),
        ("twelve.mkv", {"pix_fmt": "yuv420p12le", "color": {"matrix": 9, "range": 1}}),
        ("y210.mkv", {"codec": "rawvideo", "pix_fmt": "y210le", "color": {"matrix": 1, "range": 1}}),
        ("y210_full.mkv", {"codec": "rawvideo", "pix_fmt": "y210le", "color": {"matrix": 1, "range": 2}}),
    ],
)
def test_deep_video_reads_as_the_exact_conversion_of_its_planes(tmp_path, name, settings):
    # swscale's 16-bit RGB read these 0.45 to 0.5 levels (8-bit) dark in the mean: white at 65283, not 65535;
    # packed 10-bit 4:2:2 (Y210: capture cards, hardware decoders) -0.53 limited, -0.13 full range
    path = media.make_video(tmp_path / name, frames=2, **{"codec": "ffv1", "bit_depth": 10, **settings})
    with av.open(str(path)) as container:
        decoded = list(container.decode(video=0))
    want = np.stack([exact_rgb(frame) for frame in decoded])
    got = np.stack(decode(path)).astype(np.float64) / 257
    assert np.abs((got - want).mean(axis=(0, 1, 2))).max() < 0.01
    assert np.abs(got - want).max() < 0.05  # 16-bit rounding and swscale's own, nothing more
    eight = np.stack([frame_arrays(frame, np.uint8, alpha=False)[0] for frame in decoded]).astype(np.float64)
    assert np.abs(eight - want).max() < 0.52  # read into 8 bits (training sources): rounded once more


@pytest.mark.parametrize("pix_fmt", ["nv12", "nv21", "yuyv422", "uyvy422", "yvyu422"])
def test_two_plane_and_packed_yuv_read_as_the_exact_conversion_of_their_samples(tmp_path, pix_fmt):
    # two-plane 4:2:0, as hardware decoders and raw files deliver it, and the packed 4:2:2 of webcams and
    # capture cards: swscale read them 1.8 to 2.3 levels dark
    path = media.make_video(tmp_path / "raw.mkv", frames=2, codec="rawvideo", pix_fmt=pix_fmt, color={"matrix": 1, "range": 1})
    with av.open(str(path)) as container:
        want = np.stack([exact_rgb(frame) for frame in container.decode(video=0)])
    got = np.stack(decode(path)).astype(np.float64)
    assert np.abs((got - want).mean(axis=(0, 1, 2))).max() < 0.05
    assert np.abs(got - want).max() <= 0.51


@pytest.mark.parametrize("packed, planar", [("y210le", "yuv422p10le"), ("y212le", "yuv422p12le"), ("y216le", "yuv422p16le")])
def test_deep_packed_4_2_2_reads_as_its_planar_samples(packed, planar):
    # no container here keeps Y212 or Y216 as they are, so the frames are made in memory
    frame = av.VideoFrame.from_ndarray(media.pattern(0, 64, 48, bit_depth=16), format="rgb48le").reformat(
        format=planar, dst_colorspace=1, dst_color_range=1
    )
    got = frame_arrays(frame.reformat(format=packed), np.uint16, alpha=False)[0]
    np.testing.assert_array_equal(got, frame_arrays(frame, np.uint16, alpha=False)[0])


def test_p010_reads_as_the_exact_conversion_of_its_planes():
    planar = av.VideoFrame.from_ndarray(media.pattern(0, 64, 48, bit_depth=16), format="rgb48le").reformat(
        format="yuv420p10le", dst_colorspace=1, dst_color_range=1
    )
    frame = planar.reformat(format="p010le")  # the same samples, Cb and Cr interleaved, each in a word's top 10 bits
    for each in (planar, frame):
        each.colorspace, each.color_range = 9, 1  # read as BT.2020
    got = frame_arrays(frame, np.uint16, alpha=False)[0].astype(np.float64) / 257
    assert np.abs(got - exact_rgb(frame)).max() < 0.05
    np.testing.assert_array_equal(frame_arrays(planar, np.uint16, alpha=False)[0], got * 257)


def test_avi_timestamps_follow_the_frame_index(tmp_path):
    # AVI keeps no presentation times; FFmpeg's guesses for B-frames come out of order, so index them
    path = media.make_video(tmp_path / "b.avi", frames=10)
    with open_source(path) as source:
        stamps = [f.pts for f in source]
    assert source.info.time_base == Fraction(1, 25)
    assert stamps == list(range(10))


@pytest.mark.parametrize("codec, pix_fmt", [("mjpeg", "yuvj420p"), ("ffv1", "yuv420p")])
def test_avi_frames_a_capture_dropped_keep_their_times(tmp_path, codec, pix_fmt):
    # the muxer leaves empty index entries for the missing frames; counted, the rest came out 4x too fast
    stamps = [0, 1, 5, 6, 20]
    source = media.make_video(tmp_path / "a.avi", frames=5, pts=stamps, codec=codec, pix_fmt=pix_fmt)
    assert media.read_video_pts(source) == (stamps, Fraction(1, 25))
    convert(source, tmp_path / "b.mkv")
    out, base = media.read_video_pts(tmp_path / "b.mkv")
    assert [p * base for p in out] == [Fraction(s, 25) for s in stamps]
    with open_source(source, ReadOptions(Span(start=0.2))) as cut:
        assert [f.pts for f in cut] == [0, 1, 15]


def test_avi_frames_a_capture_dropped_are_not_counted(tmp_path):
    # the header and the index count the empty entries too (a webcam's 444 for 68 frames): the progress
    # total counts the index's entries that hold a frame, within a span as well
    source = media.make_video(tmp_path / "a.avi", frames=5, pts=[0, 1, 5, 6, 20], codec="mjpeg", pix_fmt="yuvj420p")
    with av.open(str(source)) as container:
        assert container.streams.video[0].frames == 21
    assert describe(source).frame_count == 5
    for span, count in ((Span(start=0.2), 3), (Span(end=0.3), 4), (Span(start=0.1, end=0.25), 2)):
        with open_source(source, ReadOptions(span)) as cut:
            assert cut.info.frame_count == count == len(list(cut))


def test_reordered_avi_keeps_the_gaps_where_a_capture_dropped_frames(tmp_path):
    # B-frames: FFmpeg's guessed times come out of order, so the frames take the index's times in turn
    # (counted, the frames after each gap came that much early: 10 of 24 frames here). The index holds
    # decode times: x264's reordering (2 frames deep) puts each gap 2 frames late.
    stamps = [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 20, 21, 22, 23]
    source = media.make_video(tmp_path / "a.avi", frames=len(stamps), pts=stamps, gop=6)
    with open_source(source) as reader:
        got = [f.pts for f in reader]
    assert reader.info.frame_count == len(got) == len(stamps)
    assert reader.info.time_base == Fraction(1, 25) and got == sorted(got) and got[-1] == 23
    assert [i for i, (g, s) in enumerate(zip(got, stamps)) if g != s] == [4, 5, 10, 11]
    with open_source(source, ReadOptions(Span(start=0.4))) as cut:
        assert cut.info.frame_count == len(list(cut)) == 8


# --- round trips ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source_name, target_name",
    [("a.mp4", "b.mp4"), ("a.mov", "b.mov"), ("a.mkv", "b.mkv"), ("a.webm", "b.webm"), ("a.mkv", "b.mp4")],
)
def test_round_trip_keeps_count_rate_time_base_and_timestamps(tmp_path, source_name, target_name):
    source = media.make_video(tmp_path / source_name, frames=12, fps=Fraction(30000, 1001))
    convert(source, tmp_path / target_name)
    stamps_in, base_in = media.read_video_pts(source)
    stamps_out, base_out = media.read_video_pts(tmp_path / target_name)
    assert len(stamps_out) == 12
    assert [p * base_out for p in stamps_out] == [p * base_in for p in stamps_in]
    container, stream = stream_info(tmp_path / target_name, "video")
    with container:
        rate = stream.average_rate
    if Path(source_name).suffix == Path(target_name).suffix:
        assert base_out == base_in and rate == Fraction(30000, 1001)
    else:  # MP4 derives its rate from the durations, which Matroska rounded to milliseconds
        assert float(rate) == pytest.approx(30000 / 1001, rel=1e-3)


def test_avi_round_trip_keeps_count_and_rate(tmp_path):
    # PyAV gives H.264 in AVI presentation times a tick after the index's (FFmpeg's reader gives none, and PyAV
    # fills them in from the next packet): taken, each AVI written and read again moved the video a frame later
    source = media.make_video(tmp_path / "a.avi", frames=10)
    convert(source, tmp_path / "b.avi")
    convert(tmp_path / "b.avi", tmp_path / "c.avi")
    for name in ("b.avi", "c.avi"):
        with open_source(tmp_path / name) as result:
            assert [f.pts for f in result] == list(range(10))
        assert result.info.fps == 25


def test_an_avi_outputs_video_that_starts_after_its_sound_starts_after_empty_index_entries(tmp_path):
    """FFmpeg's AVI muxer fills the ticks between two frames with empty index entries, but puts the first frame
    on the first tick whatever its time: a video starting 0.5 s after its sound had its first frame at 0, shown
    half a second early, and the gap after it. Its frames' times, 40 ms apart from 0.5 s, are rounded half up
    to the clock's ticks (rounded half to even, they took ticks 12, 14, 15: a gap after the first)."""
    stamps = [500 + 40 * i for i in range(10)]
    source = media.make_video(tmp_path / "a.mkv", frames=10, pts=stamps, time_base=Fraction(1, 1000), audio="flac")
    convert(source, tmp_path / "b.avi")
    with open_source(tmp_path / "b.avi") as result:
        shown = [float(f.pts * result.info.time_base) for f in result]
    assert shown == pytest.approx([0.52 + 0.04 * i for i in range(10)])  # 0.5 s rounded to a tick of 1/25 s


@pytest.mark.parametrize("codec", ["libx264", "ffv1"])
def test_avi_output_starts_its_video_with_its_sound(tmp_path, codec):
    """AVI stores no audio times: AAC's priming packet, before zero (an MP4's edit list skips it), moved
    every stream later, which put x264's reordered video a frame behind its sound and left a gap after the
    first FFV1 frame. The packet is left out, and the video is not reordered."""
    source = media.make_video(tmp_path / "a.mp4", frames=12, audio="aac")
    source_audio = packets(source, "audio")
    assert source_audio[0][0] < 0  # the case itself
    _, images, warnings = convert(source, tmp_path / "b.avi", codec=codec)
    assert warnings == []
    with av.open(str(tmp_path / "b.avi")) as container:
        video = [p for p in container.demux(video=0) if p.size]
    assert [p.dts for p in video] == list(range(12))  # a frame on every tick from zero
    assert len({p.pts - p.dts for p in video}) == 1  # none held back for reordering
    audio = packets(tmp_path / "b.avi", "audio")
    assert audio[0][0] == 0 and [data for _, data in audio] == [data for _, data in source_audio[1:]]
    with open_source(tmp_path / "b.avi") as result:
        frames = list(result)
    assert [f.pts for f in frames] == list(range(12))
    assert all(psnr(f.image, image) > 30 for f, image in zip(frames, images))


def test_avi_output_warns_that_audio_starting_late_plays_early(tmp_path):
    source = tmp_path / "a.mkv"
    with av.open(str(source), "w") as container:
        video = container.add_stream("mpeg4", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("pcm_s16le", rate=48000, layout="mono")
        for i in range(25):
            picture = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 10 * i, np.uint8), format="rgb24")
            picture.pts, picture.time_base = i, Fraction(1, 25)
            container.mux(video.encode(picture.reformat(format="yuv420p")))
        for k in range(10):  # audio from 0.5 s on
            sound = av.AudioFrame.from_ndarray(np.zeros((1, 2400), np.int16), format="s16", layout="mono")
            sound.sample_rate, sound.pts, sound.time_base = 48000, 24000 + 2400 * k, Fraction(1, 48000)
            container.mux(audio.encode(sound))
        container.mux(video.encode(None))
    _, _, warnings = convert(source, tmp_path / "b.avi")
    assert warnings == [
        "audio stream #1 begins 0.50 s into the video; .avi cannot delay it, so it plays that much early "
        "(.mkv, .mp4 and .mov keep its timing)"
    ]
    assert convert(source, tmp_path / "b.mkv")[2] == []
    assert packets(tmp_path / "b.mkv", "audio")[0][0] == 0.5


@pytest.mark.parametrize("pts, kept_at", [(-1024, None), (-600, None), (-400, 0), (0, 0), (100, 100)])
def test_avi_audio_starts_at_zero(pts, kept_at):
    # a packet mostly before zero is left out; one mostly after it begins at zero
    packet = av.Packet(b"sound")
    packet.pts = packet.dts = pts
    packet.duration, packet.time_base = 1024, Fraction(1, 48000)
    assert _starts_at_zero(packet) == (kept_at is not None)
    if kept_at is not None:
        assert packet.pts == packet.dts == kept_at


@pytest.mark.parametrize("source_name", ["a.mp4", "a.mkv"])
def test_avi_from_a_finer_time_base_counts_frames(tmp_path, source_name):
    # MP4's 1/12800 or Matroska's 1/1000 as AVI's time base would read as thousands of frames a second
    source = media.make_video(tmp_path / source_name, frames=10, audio="aac")
    convert(source, tmp_path / "b.avi")
    with av.open(str(tmp_path / "b.avi")) as container:
        stream = container.streams.video[0]
        assert (stream.time_base, stream.frames) == (Fraction(1, 25), 10)
    with open_source(tmp_path / "b.avi") as result:  # read back whole, not taken for a truncated file
        assert [f.pts for f in result] == list(range(10))
    assert audio_seconds(tmp_path / "b.avi") == pytest.approx(audio_seconds(source), abs=0.05)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_variable_frame_rate_timestamps_survive(tmp_path, suffix):
    stamps = [0, 40, 50, 120, 130, 300, 310, 500]
    source = media.make_video(tmp_path / f"vfr{suffix}", frames=8, pts=stamps, time_base=Fraction(1, 1000))
    convert(source, tmp_path / f"out{suffix}")
    out, base = media.read_video_pts(tmp_path / f"out{suffix}")
    assert [p * base for p in out] == [Fraction(s, 1000) for s in stamps]


def test_a_repeated_timestamp_moves_one_tick_and_the_rest_keep_their_places(tmp_path):
    """A stamp repeated (or a little behind) must not push every later frame a frame late against the
    audio; and a frame after it must be found by its stamp after a seek, as a resumed run does."""
    stamps = [0, 40, 40, 80, 120, 160, 200, 240, 280, 320]
    source = media.make_video(tmp_path / "dup.mkv", frames=len(stamps), pts=stamps, time_base=Fraction(1, 1000), gop=2)
    _, images, _ = convert(source, tmp_path / "out.mkv")
    out, base = media.read_video_pts(tmp_path / "out.mkv")
    assert [p * base for p in out] == [Fraction(s, 1000) for s in [0, 40, 41, *stamps[3:]]]
    with open_source(source) as frames:
        read = [(f.pts, f.image) for f in frames]
    for index in (3, 7):  # after the repeat: a seek lands on a keyframe after it, or before it
        with open_source(source) as frames:
            frames.skip_to(index, read[index][0])
            first = next(iter(frames))
        assert first.pts == read[index][0] and np.array_equal(first.image, read[index][1])


@pytest.mark.parametrize("target", ["out.mkv", "out.webm", "out.mp4"])
def test_a_repeated_stamp_in_a_fine_clock_stays_distinct_in_a_coarse_one(tmp_path, target):
    """One tick of MPEG-TS's 1/90000 clock is lost in Matroska's milliseconds: the repeated frame must be
    moved a whole millisecond, or two frames share a timestamp there."""
    source = tmp_path / "in.ts"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"bframes": "0", "g": "2"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 90000)
        packets = []
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 40, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i * 3600, Fraction(1, 90000)
            packets += stream.encode(frame)
        for packet in packets + stream.encode(None):
            if packet.pts == 2 * 3600:  # frame 2 repeats frame 1's stamp
                packet.pts, packet.dts = 3600, 3590
            elif packet.pts == 3600:
                packet.dts = 3580
            container.mux(packet)
    convert(source, tmp_path / target)
    pts, time_base = media.read_video_pts(tmp_path / target)
    shown = sorted(p * time_base for p in pts)
    assert len(shown) == 6 and all(b > a for a, b in zip(shown, shown[1:])), shown
    assert shown[2] - shown[1] <= Fraction(1, 1000)  # moved the least the container tells apart


@pytest.mark.parametrize("target, codec", [("o.mp4", None), ("o.webm", None), ("o.mkv", "ffv1"), ("o.mov", "prores")])
def test_odd_size_gives_the_same_odd_size(tmp_path, target, codec):
    source = media.make_video(tmp_path / "odd.mkv", frames=4, size=(67, 45))
    _, images, _ = convert(source, tmp_path / target, codec=codec)
    result = decode(tmp_path / target)
    assert result[0].shape == (45, 67, 3) and len(result) == 4
    assert min(psnr(a, b) for a, b in zip(images, result)) > 30


@pytest.mark.parametrize("suffix, degrees", [(".mp4", 90), (".mp4", 270), (".mov", 180), (".mkv", 90), (".webm", 90)])
def test_rotation_is_read_and_carried(tmp_path, suffix, degrees):
    source = media.make_video(tmp_path / f"r{suffix}", frames=3, rotation=degrees)
    info, _, warnings = convert(source, tmp_path / f"out{suffix}")
    assert info.rotation == degrees and (info.width, info.height) == (64, 48)
    assert warnings == []
    with av.open(str(tmp_path / f"out{suffix}")) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (64, 48)  # frames stay stored; the display matrix turns them
    assert frame.rotation % 360 == degrees


def display_matrix(path) -> bytes | None:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    return side_data_of(frame).get("DISPLAYMATRIX")


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_a_mirrored_display_matrix_is_read_and_carried_as_it_is(tmp_path, suffix, degrees):
    # PyAV's frame.rotation reads a plain mirror as 180 degrees: a player would show the output upside down
    source = media.make_video(tmp_path / f"m{suffix}", frames=3, rotation=degrees, mirrored=True)
    info, _, warnings = convert(source, tmp_path / f"out{suffix}")
    assert (info.rotation, info.mirrored) == (degrees, True) and warnings == []
    assert display_matrix(tmp_path / f"out{suffix}") == display_matrix(source) is not None
    plain = media.make_video(tmp_path / f"p{suffix}", frames=3, rotation=degrees)
    assert (describe(plain).rotation, describe(plain).mirrored) == (degrees, False)


def test_a_mirrored_clip_as_png_frames_is_turned_and_mirrored(tmp_path):
    source = media.make_video(tmp_path / "m.mkv", frames=2, rotation=90, mirrored=True, codec="ffv1", pix_fmt="bgr0")
    stored = media.read_frames(source)
    convert(source, tmp_path / "frames/")
    pngs = sorted((tmp_path / "frames").iterdir())
    shown = decode(pngs[0])[0]
    np.testing.assert_array_equal(shown, np.rot90(stored[0], 1)[:, ::-1])  # FFmpeg's autorotate: clock_flip


def test_rotation_into_avi_warns(tmp_path):
    source = media.make_video(tmp_path / "r.mp4", frames=3, rotation=90)
    _, _, warnings = convert(source, tmp_path / "out.avi")
    # in the words of deblur info's "shown as" (editor44: "270°" there read as another turn than "90° clockwise")
    assert any("cannot record the display rotation (rotated 90° counter-clockwise)" in w for w in warnings)
    _, _, warnings = convert(source, tmp_path / "out.3gp")  # the MOV muxer's 3GP mode writes the matrix
    assert not any("rotation" in w for w in warnings) and describe(tmp_path / "out.3gp").rotation == 90


def test_four_four_four_or_four_two_two_input_written_as_four_two_zero_says_so(tmp_path):
    source = media.make_video(tmp_path / "full.mp4", frames=2, pix_fmt="yuv444p")
    _, _, warnings = convert(source, tmp_path / "out.mp4")
    assert describe(tmp_path / "out.mp4").pix_fmt == "yuv420p"  # what players take
    assert len(warnings) == 1 and "4:4:4 (yuv444p)" in warnings[0] and "--pix-fmt yuv444p keeps it" in warnings[0]
    assert convert(source, tmp_path / "kept.mp4", pix_fmt="yuv444p")[2] == []
    assert describe(tmp_path / "kept.mp4").pix_fmt == "yuv444p"
    camera = media.make_video(tmp_path / "camera.mkv", frames=2, pix_fmt="yuv422p")  # as XAVC-I and ProRes 422
    assert "4:2:2 (yuv422p); it is written as yuv420p (4:2:0)" in convert(camera, tmp_path / "c.mp4")[2][0]
    rgb = media.make_video(tmp_path / "rgb.mkv", frames=2, codec="ffv1", pix_fmt="bgr0")  # as PNG frames: no word
    assert convert(rgb, tmp_path / "from-rgb.mp4")[2] == []
    (tmp_path / "grey").mkdir()  # grey PNG frames have no colour to lose: they were called 4:4:4 (gray)
    for n in range(2):
        Image.fromarray(np.full((48, 64), 60 * n, np.uint8)).save(tmp_path / "grey" / f"{n}.png")
    assert describe(tmp_path / "grey").pix_fmt == "gray"
    assert convert(tmp_path / "grey", tmp_path / "from-grey.mp4")[2] == []


def test_ten_bit_input_stays_ten_bit(tmp_path):
    source = media.make_video(tmp_path / "ten.mkv", frames=4, bit_depth=10, size=(64, 64))  # x265's smallest
    _, images, warnings = convert(source, tmp_path / "out.mp4")
    assert warnings == []
    out = describe(tmp_path / "out.mp4")
    assert (out.codec, out.pix_fmt) == ("hevc", "yuv420p10le")  # HEVC Main 10, which players decode
    assert min(psnr(a, b) for a, b in zip(images, decode(tmp_path / "out.mp4"))) > 35
    *_, asked = convert(source, tmp_path / "h264.mp4", codec="h264")  # High 10: kept, but few players play it
    assert len(asked) == 1 and "not on Apple devices" in asked[0] and "--pix-fmt yuv420p" in asked[0]
    assert convert(source, tmp_path / "lossless.mkv", codec="x264-lossless")[2] == []  # an archive: no player said
    *_, avi = convert(source, tmp_path / "out.avi")  # .avi gets H.264, High 10 here: it went unsaid
    assert len(avi) == 1 and "not on Apple devices" in avi[0] and ".mp4 and .mkv get HEVC Main 10" in avi[0]
    *_, asked = convert(source, tmp_path / "asked.avi", codec="libx264")  # leaving --codec out changes nothing
    assert len(asked) == 1 and ".mp4 and .mkv get HEVC Main 10" in asked[0]
    layout = media.make_video(tmp_path / "422.mkv", frames=2, size=(64, 64), codec="ffv1", pix_fmt="yuv422p10le",
                              bit_depth=10)  # fmt: skip
    *_, rounded = convert(layout, tmp_path / "420.mp4", pix_fmt="yuv420p")  # the layout asked for is kept
    assert rounded[-1].endswith("the 10-bit input is rounded (--pix-fmt yuv420p10le keeps them)"), rounded


@pytest.mark.parametrize(
    "bit_depth, suffix, codec, expected",
    [(8, ".mp4", None, "libx264"), (10, ".mov", None, "libx265"), (8, ".webm", None, "libvpx-vp9"),
     (10, ".webm", "vp9", "libvpx-vp9"), (10, ".avi", None, "libx264"), (10, ".mp4", "x264", "libx264"),
     (8, ".mkv", "hevc", "libx265")],
)  # fmt: skip
def test_default_codec_follows_the_suffix_and_the_depth(bit_depth, suffix, codec, expected):
    assert resolve_encoder(EncodeOptions(codec=codec), suffix, bit_depth, 64, 64).encoder == expected


def _deepest(encoder: str) -> int:
    """The most bits per channel this FFmpeg's `encoder` stores; 0 where it is not built in."""
    try:
        return max(bit_depth_of(f) for f in av.codec.Codec(encoder, "w").video_formats)
    except ValueError:
        return 0


def test_deep_input_to_webm_gets_an_encoder_that_keeps_its_depth():
    """This FFmpeg's libvpx has no high-bit-depth formats: 10-bit HDR went to .webm as 8-bit VP9 still tagged
    PQ, which bands, while libsvtav1 stores 10 bits in WebM."""
    if _deepest("libvpx-vp9") < 10 and _deepest("libsvtav1") < 10:
        pytest.skip("neither libvpx-vp9 nor libsvtav1 stores 10 bits in this FFmpeg")
    expected = "libvpx-vp9" if _deepest("libvpx-vp9") >= 10 else "libsvtav1"
    encoding = resolve_encoder(EncodeOptions(), ".webm", 10, 64, 48)
    assert (encoding.encoder, bit_depth_of(av.VideoFormat(encoding.pix_fmt))) == (expected, 10)
    # where AV1's 4:2:0 cannot hold the frame, and for transparency, which only VP9 keeps, VP9 as before
    assert resolve_encoder(EncodeOptions(), ".webm", 10, 63, 47).encoder == "libvpx-vp9"
    assert resolve_encoder(EncodeOptions(), ".webm", 10, 64, 48, alpha=True).encoder == "libvpx-vp9"


def test_asking_for_yuv420p_keeps_full_range_input_full_and_says_so(tmp_path):
    # an FFmpeg user expects -pix_fmt yuv420p to mean limited range: the range was kept without a word
    source = media.make_video(tmp_path / "full.mkv", frames=2, codec="mjpeg", pix_fmt="yuvj420p")
    images, warnings = convert(source, tmp_path / "asked.mp4", pix_fmt="yuv420p")[1:]
    assert len(warnings) == 1 and "full range (0-255 levels) and stays so" in warnings[0]
    with av.open(str(tmp_path / "asked.mp4")) as container:
        assert int(next(container.decode(video=0)).color_range) == 2
    assert psnr(images[0], decode(tmp_path / "asked.mp4")[0]) > 35
    assert convert(source, tmp_path / "default.mp4")[2] == []  # not asked: nothing to say


def _luma(path) -> np.ndarray:
    """The first frame's Y plane as stored, in 8-bit codes (a 10-bit plane's divided by 4)."""
    with av.open(str(path)) as container:
        (luma, _, _), bits = stored_planes(next(container.decode(video=0)))
    return luma / 2 ** (bits - 8)


@pytest.mark.parametrize("suffix, options", [(".mov", {"codec": "prores_ks"}), (".mpg", {})])
def test_full_range_input_is_written_limited_range_where_the_output_cannot_record_full_range(tmp_path, suffix, options):
    # ProRes has no range in its bitstream, nor has MOV's colour atom; MPEG-2 and .mpg neither: the full-range
    # samples were written as they were, and read as limited range (blacks crushed, whites clipped; editor52 3)
    full = {"primaries": 1, "transfer": 1, "matrix": 1, "range": 2}
    source = media.make_video(tmp_path / "full.mkv", frames=2, codec="ffv1", pix_fmt="yuv420p", color=full)
    target = tmp_path / f"out{suffix}"
    images, warnings = convert(source, target, **options)[1:]
    limited = 16 + _luma(source) * 219 / 255  # the input's levels, as a reader of limited-range video takes them
    assert np.abs(_luma(target) - limited).mean() < 1.5  # 0.2 (ProRes), 0.8 (.mpg); 6.3 and 6.1 before
    assert psnr(images[0], decode(target)[0]) > 35
    if suffix == ".mpg":  # 8 bits into 8 bits: 36 levels of 256 are lost (into 10-bit ProRes none)
        assert warnings == [
            "the input is full range (0-255 levels), which mpeg2video in .mpg cannot record: it is written limited"
            " range (16-235), as players take such video, in 220 of 256 levels"
        ]
    else:
        assert warnings == []


def test_an_animated_png_with_a_colour_profile_is_read_without_touching_its_side_data(tmp_path):
    # PyAV 18 crashes (a segfault) collecting such a frame's side data, which the reader read for HDR10
    # metadata and, since this stop, the display matrix; run in a process of its own, so a crash is a failure
    script = (
        "import numpy as np, gc, sys; from PIL import Image, ImageCms\n"
        "from deblur_cli.video_io import open_source\n"
        "profile = ImageCms.ImageCmsProfile(ImageCms.createProfile('sRGB')).tobytes()\n"
        "frames = [Image.fromarray(np.full((48, 64, 3), 40 * i, np.uint8)) for i in range(3)]\n"
        "frames[0].save(sys.argv[1], save_all=True, append_images=frames[1:], icc_profile=profile)\n"
        "for _ in range(3):\n"
        "    with open_source(sys.argv[1]) as source: count = sum(1 for _ in source)\n"
        "    gc.collect()\n"
        "print(count)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "icc.apng")], capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "3"), done.stderr[-2000:]


def test_the_resume_key_takes_every_crf_an_encoder_takes():
    # it probed --crf with the value + 7: --codec libx264 --crf 45 to 51 stopped every run ("--crf 52 is beyond")
    from deblur_cli.video_io.encoding import options_in_effect

    for codec in ("libx264", "x265", "libvpx-vp9"):
        for crf in (0, 18, 45, 51):
            assert options_in_effect(EncodeOptions(codec=codec, crf=crf)).crf == crf
    assert options_in_effect(EncodeOptions(codec="ffv1", crf=51)).crf is None
    # MPEG-2 takes --crf as its quantiser scale, crf / 6 rounded: 17 and 18 give the same, 30 not
    assert options_in_effect(EncodeOptions(codec="mpeg2video", crf=18)).crf == 18


def test_the_colour_notes_name_only_formats_that_exist_and_hold_for_the_input(tmp_path):
    rgb = media.make_video(tmp_path / "rgb.mkv", frames=2, codec="ffv1", pix_fmt="bgr0")  # PNG-like, full range
    assert convert(rgb, tmp_path / "a.mp4", pix_fmt="yuv420p")[2] == []  # no "stays full range": it does not
    odd = media.make_video(tmp_path / "440.mkv", frames=2, codec="ffv1", pix_fmt="yuv440p")
    warnings = convert(odd, tmp_path / "b.mp4")[2]
    assert len(warnings) == 1 and "--pix-fmt" not in warnings[0]  # it named "yuvsubp"
    with pytest.raises(OutputError) as refused:  # not GIF's reason: v210 takes 10-bit 4:2:2 when asked
        resolve_encoder(EncodeOptions(codec="v210"), ".mov", 8, 64, 48)
    assert "GIF" not in refused.value.hint and "yuv422p10le" in refused.value.hint


def test_ffv1_in_mp4_is_written_with_a_word_on_where_it_opens(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=2)
    warnings = convert(source, tmp_path / "out.mp4", codec="ffv1")[2]
    assert len(warnings) == 1 and "FFV1 in .mp4 opens only in FFmpeg-based programs" in warnings[0]
    assert len(decode(tmp_path / "out.mp4")) == 2
    assert convert(source, tmp_path / "out.mkv", codec="ffv1")[2] == []


def test_gif_is_refused_before_a_run_with_a_reason_that_holds(tmp_path):
    # it used to blame the size (320x192 is not odd), or take pal8 and fail mid-run blaming the disk
    with pytest.raises(OutputError, match="gif takes none of the pixel formats deblur picks by itself") as refused:
        resolve_encoder(EncodeOptions(codec="gif"), ".gif", 8, 320, 192)
    assert "pal8" not in str(refused.value) and "convert" in refused.value.hint
    with pytest.raises(EncoderOptionError, match="cannot write pal8 frames"):
        resolve_encoder(EncodeOptions(codec="gif", pix_fmt="pal8"), ".gif", 8, 320, 192)
    source = media.make_video(tmp_path / "in.mp4", frames=2)
    _, _, warnings = convert(source, tmp_path / "out.gif", codec="gif", pix_fmt="rgb8")  # what it can write
    assert len(warnings) == 1 and "leave out --pix-fmt" not in warnings[0]  # which would be refused
    assert len(decode(tmp_path / "out.gif")) == 2


@pytest.mark.skipif(_deepest("libvpx-vp9") >= 10 or _deepest("libsvtav1") < 10, reason="needs 8-bit-only VP9 and AV1")
def test_hdr_video_to_webm_stays_10_bit_and_the_hint_names_av1(tmp_path):
    pq = {"primaries": 9, "transfer": 16, "matrix": 9, "range": 1}
    source = media.make_video(tmp_path / "hdr.mkv", frames=2, codec="libx265", bit_depth=10, size=(64, 64), color=pq)
    _, images, warnings = convert(source, tmp_path / "out.webm")
    out = describe(tmp_path / "out.webm")
    assert (warnings, out.codec, out.pix_fmt, out.color["transfer"]) == ([], "av1", "yuv420p10le", 16)  # not libdav1d
    assert min(psnr(a, b) for a, b in zip(images, decode(tmp_path / "out.webm"))) > 35
    _, _, warnings = convert(source, tmp_path / "vp9.webm", codec="vp9")  # asked for: the hint keeps .webm
    assert warnings[0].startswith("libvpx-vp9 here cannot store more than 8 bits per channel")
    assert "(--codec libsvtav1 or --codec libx264 in .mkv or" in warnings[0]


@pytest.mark.parametrize(
    "source, profile, suffix, codec, expected",
    [("prores", "HQ", ".mov", None, ("prores_ks", "yuv422p10le", "hq")),
     ("prores", "Proxy", ".mkv", None, ("prores_ks", "yuv422p10le", "proxy")),
     ("prores", "4444", ".mov", None, ("prores_ks", "yuv444p10le", "4444")),
     ("prores", None, ".mov", None, ("prores_ks", "yuv422p10le", "hq")),
     ("prores", "HQ", ".mp4", None, ("libx265", "yuv420p10le", None)),  # MP4 does not hold ProRes
     ("prores", "HQ", ".mov", "x264", ("libx264", "yuv420p10le", None)),  # asked for
     ("dnxhd", "DNXHR HQX", ".mov", None, ("dnxhd", "yuv422p10le", "dnxhr_hqx")),
     ("dnxhd", "DNXHR 444", ".mov", None, ("dnxhd", "yuv444p10le", "dnxhr_444")),
     ("dnxhd", "DNXHD", ".mov", None, ("dnxhd", "yuv422p10le", "dnxhr_hqx")),  # legacy DNxHD: DNxHR
     ("dnxhd", "DNXHR HQ", ".mkv", None, ("libx265", "yuv420p10le", None)),
     ("ffv1", None, ".mkv", None, ("ffv1", "rgb48le", None)),
     ("h264", "High", ".mov", None, ("libx265", "yuv420p10le", None))],
)  # fmt: skip
def test_editing_and_archive_codecs_are_kept(source, profile, suffix, codec, expected):
    encoding = resolve_encoder(
        EncodeOptions(codec=codec), suffix, 10, 256, 144, source_codec=source, source_profile=profile
    )
    assert (encoding.encoder, encoding.pix_fmt, encoding.options.get("profile")) == expected


@pytest.mark.parametrize(
    "options, depth, source, expected",
    [({"codec": "dnxhd"}, 8, None, ("yuv422p", "dnxhr_hq")),
     ({"codec": "dnxhr"}, 10, None, ("yuv422p10le", "dnxhr_hqx")),
     ({"codec": "dnxhd", "pix_fmt": "yuv444p10le"}, 8, None, ("yuv444p10le", "dnxhr_444")),
     ({"codec": "dnxhd"}, 8, ("dnxhd", "DNXHR SQ"), ("yuv422p", "dnxhr_sq"))],
)  # fmt: skip
def test_dnxhr_asked_for_gets_a_profile_and_its_pixel_format(tmp_path, options, depth, source, expected):
    """--codec dnxhd asked for --pix-fmt, and then the encoder refused every one: it had no profile."""
    codec, profile = source or (None, None)
    encoding = resolve_encoder(
        EncodeOptions(**options), ".mov", depth, 256, 144, source_codec=codec, source_profile=profile
    )
    assert (encoding.encoder, encoding.pix_fmt, encoding.options.get("profile")) == ("dnxhd", *expected)
    source = media.make_video(tmp_path / "in.mp4", frames=2, size=(256, 144))
    convert(source, tmp_path / "out.mov", **options)
    four = media.make_video(tmp_path / "444.mkv", frames=2, size=(256, 144), codec="ffv1", pix_fmt="yuv444p")
    if "pix_fmt" not in options:  # 4:4:4 written as 4:2:2: the warning names DNxHR 444, not players
        *_, warned = convert(four, tmp_path / "from444.mov", **options)
        assert any("as DNxHR HQ and HQX store it; --pix-fmt yuv444p10le keeps it (DNxHR 444)" in w for w in warned)
    with pytest.raises(OutputError, match="DNxHR takes frames of 256x120 or more, not 64x48"):  # was "refused"
        convert(media.make_video(tmp_path / "small.mp4", frames=2), tmp_path / "small.mov", **options)
    assert describe(tmp_path / "out.mov").codec == "dnxhd" and len(decode(tmp_path / "out.mov")) == 2


def test_a_kept_codec_still_checks_the_preset():
    with pytest.raises(OutputError, match="unknown preset"):
        resolve_encoder(EncodeOptions(preset="sluggish"), ".mov", 10, 64, 48, source_codec="prores")


def test_prores_comes_back_as_prores_of_its_profile(tmp_path, monkeypatch):
    import deblur_cli.restorers as restorers_module
    from tests.restorers import IdentityRestorer

    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())
    source = tmp_path / "edit.mov"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("prores_ks", rate=25, options={"profile": "lt"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv422p10le"
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * index, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    from typer.testing import CliRunner

    from deblur_cli.cli import app

    result = CliRunner().invoke(app, ["run", str(source), "-q"])
    assert result.exit_code == 0, result.output
    out = describe(tmp_path / "edit-deblurred.mov")
    assert (out.codec, out.profile, out.pix_fmt) == ("prores", "LT", "yuv422p10le")


def test_hevc_in_mp4_is_tagged_for_apple_players(tmp_path):
    source = media.make_video(tmp_path / "a.mkv", frames=3, size=(64, 64))  # x265's smallest
    convert(source, tmp_path / "o.mp4", codec="hevc")
    container, stream = stream_info(tmp_path / "o.mp4", "video")
    with container:
        assert (stream.codec_context.name, stream.codec_context.codec_tag) == ("hevc", "hvc1")


def test_ten_bit_into_an_eight_bit_encoder_warns(tmp_path):
    source = media.make_video(tmp_path / "ten.mkv", frames=3, bit_depth=10)
    _, _, warnings = convert(source, tmp_path / "out.mkv", codec="mpeg4")
    assert describe(tmp_path / "out.mkv").bit_depth == 8
    assert any("cannot store more than 8 bits" in w for w in warnings)


def test_a_codec_the_muxer_lists_but_refuses_is_the_containers_fault(tmp_path):
    """MOV lists VP9 among its codecs, then refuses it: the error blamed the encoder's settings."""
    source = media.make_video(tmp_path / "in.mkv", frames=2)
    with pytest.raises(EncoderOptionError, match="the .mov container cannot hold libvpx-vp9 video"):
        convert(source, tmp_path / "out.mov", codec="libvpx-vp9")
    assert not (tmp_path / "out.mov").exists()


def test_hdr_frames_keep_their_transfer_in_png_and_warn_elsewhere(tmp_path):
    """PNG frames of a PQ video had no colour chunk, so viewers showed the PQ code values as sRGB; FFmpeg
    writes a cICP chunk for a frame that carries the tags. JPEG and TIFF have no such tag: a warning."""
    pq = {"primaries": 9, "transfer": 16, "matrix": 9, "range": 1}
    source = media.make_video(tmp_path / "hdr.mkv", frames=1, codec="libx265", pix_fmt="yuv420p10le", bit_depth=10,
                              size=(64, 64), color=pq)  # fmt: skip
    _, _, warnings = convert(source, tmp_path / "frames")
    assert warnings == []
    frame = next(iter(sorted((tmp_path / "frames").iterdir())))
    assert b"cICP" in frame.read_bytes()
    assert {k: describe(frame).color[k] for k in ("primaries", "transfer")} == {"primaries": 9, "transfer": 16}
    _, _, warnings = convert(source, tmp_path / "still.tif")
    assert warnings == [
        ".tif cannot say that the frame is HDR: its PQ or HLG code values are written as they are, and viewers"
        " show them as sRGB (.png keeps the tag)"
    ]


def test_the_bit_depth_warning_offers_only_encoders_that_hold_the_bits(tmp_path):
    """It offered libx264 for 12-bit input, which libx264 here cannot hold, and ffv1 for a .mp4; and encoders
    that cannot take the frames' size: libsvtav1 (4:2:0 only) for odd sides, libx265 for sides under 64. It
    offered libx265 and "leave out --pix-fmt", where libx265 by itself writes Main 10 (a ProRes 4444 master)."""
    source = media.make_video(
        tmp_path / "deep.mkv", frames=2, size=(64, 64), codec="ffv1", pix_fmt="yuv420p12le", bit_depth=12
    )
    _, _, warnings = convert(source, tmp_path / "out.mp4", codec="libx264")
    assert warnings[1:] == [
        "libx264 here cannot store more than 10 bits per channel; the 12-bit input is written as yuv420p10le "
        "(--codec libx265 --pix-fmt yuv420p12le or --codec ffv1 in .mkv keeps them)"
    ]
    _, _, warnings = convert(source, tmp_path / "out8.mkv", codec="ffv1", pix_fmt="yuv420p")  # ffv1 could hold them
    assert warnings == ["yuv420p stores 8 bits per channel; the 12-bit input is rounded (--pix-fmt yuv420p12le keeps them)"]
    _, _, warnings = convert(source, tmp_path / "main10.mp4")  # nothing asked: HEVC Main 10
    assert warnings == [
        "yuv420p10le stores 10 bits per channel; the 12-bit input is rounded (--pix-fmt yuv420p12le keeps them)"
    ]
    assert convert(source, tmp_path / "kept.mp4", pix_fmt="yuv420p12le")[2] == []
    _, _, warnings = convert(source, tmp_path / "eight.mp4", codec="libx264", pix_fmt="yuv420p")  # it blamed libx264
    assert warnings[-1] == (
        "yuv420p stores 8 bits per channel; the 12-bit input is rounded (--pix-fmt yuv420p10le keeps 10; --codec "
        "libx265 --pix-fmt yuv420p12le or --codec ffv1 in .mkv keeps them all 12)"
    )
    odd = media.make_video(tmp_path / "odd.mkv", frames=2, size=(65, 49), codec="ffv1", pix_fmt="yuv444p10le")
    _, _, warnings = convert(odd, tmp_path / "odd.webm", codec="libvpx-vp9")
    assert warnings == [
        "libvpx-vp9 here cannot store more than 8 bits per channel; the 10-bit input is written as yuv444p "
        "(--codec libx264 in .mkv or --codec ffv1 in .mkv keeps them)"
    ]


def test_color_description_is_copied(tmp_path):
    bt709 = {"primaries": 1, "transfer": 1, "matrix": 1, "range": 1}
    source = media.make_video(tmp_path / "c.mp4", frames=3, color=bt709)
    info, images, _ = convert(source, tmp_path / "out.mkv")
    assert info.color == bt709
    assert describe(tmp_path / "out.mkv").color == bt709
    # the RGB -> YUV step used the same BT.709 matrix as decoding, so colours come back unshifted
    assert min(psnr(a, b) for a, b in zip(images, decode(tmp_path / "out.mkv"))) > 35


@pytest.mark.parametrize("target_name", ["out.mp4", "out.webm", "out.mov"])
def test_rgb_frames_become_bt709_video_tagged_as_such(tmp_path, target_name):
    # PNG frames carry the "RGB" matrix; a YUV stream tagged so is refused by VP9 and misread by players
    media.make_images(tmp_path / "frames", count=3)
    frames = tmp_path / "frames"
    assert describe(frames).color["matrix"] == 0
    _, images, _ = convert(frames, tmp_path / target_name)
    assert {k: describe(tmp_path / target_name).color[k] for k in ("matrix", "range")} == {"matrix": 1, "range": 1}
    # converted as tagged: 34 to 35 dB here (4:2:0 on a tiny frame); 27 to 29 dB read with a BT.601 matrix
    assert min(psnr(a, b) for a, b in zip(images, decode(tmp_path / target_name))) > 32


@pytest.mark.parametrize("source_name, codec, pix_fmt", [("a.mkv", "ffv1", "bgr0"), ("a.mov", "qtrle", "rgb24")])
def test_rgb_video_that_names_no_matrix_becomes_bt709_video_too(tmp_path, source_name, codec, pix_fmt):
    """RGB streams often name no matrix (RGB needs none): their frames were converted to YUV with swscale's
    default BT.601 matrix and left untagged, which players read as BT.709 (red, green and blue shifted)."""
    source = media.make_video(tmp_path / source_name, frames=3, codec=codec, pix_fmt=pix_fmt)
    assert describe(source).color["matrix"] == 2
    _, images, _ = convert(source, tmp_path / "out.mp4")
    assert {k: describe(tmp_path / "out.mp4").color[k] for k in ("matrix", "range")} == {"matrix": 1, "range": 1}
    assert min(psnr(a, b) for a, b in zip(images, decode(tmp_path / "out.mp4"))) > 32


@pytest.mark.parametrize(
    "source_name, audio, target_name",
    [
        ("a.mp4", "aac", "b.mp4"),
        ("a.mp4", "aac", "b.mkv"),
        ("a.mkv", "libopus", "b.webm"),
        ("a.mov", "aac", "b.mov"),
        ("a.mkv", "mp2", "b.ts"),  # MPEG-TS reads MPEG audio of any layer back as MP3: it was re-encoded to AAC
        ("a.mkv", "mp2", "b.mkv"),
        ("a.mov", "pcm_s16le", "b.mxf"),  # MXF takes no stream before its video: the probe had none
        # Matroska's PCM names no channel layout ("2 channels"), which MP4's muxer refuses: it was re-encoded to
        # AAC while the same PCM from a .mov was copied (sync48 F6)
        ("a.mkv", "pcm_s16le", "b.mp4"),
        ("a.mkv", "pcm_s16le", "b.mov"),
    ],
)
def test_audio_is_copied_without_reencoding(tmp_path, source_name, audio, target_name):
    source = media.make_video(tmp_path / source_name, frames=25, audio=audio)
    _, _, warnings = convert(source, tmp_path / target_name)
    # MP4 stores PCM as ISO PCM, which players older than its standard may not read; MOV as QuickTime's (editor52)
    iso_pcm = "audio stream #1 (pcm_s16le) is stored in .mp4 as ISO PCM ('ipcm'), which players and editors older"
    assert [w[: len(iso_pcm)] for w in warnings] == ([iso_pcm] if target_name == "b.mp4" and "pcm" in audio else [])
    copied, original = ([data for _, data in packets(path, "audio")] for path in (tmp_path / target_name, source))
    if target_name.endswith(".mxf"):  # MXF cuts PCM into a packet per video frame: the same samples
        copied, original = b"".join(copied), b"".join(original)
    assert copied == original
    # MP4 trims the AAC encoder's priming frame through an edit list, which Matroska cannot express
    priming = 1024 / 48000 if Path(source_name).suffix != Path(target_name).suffix else 0
    assert abs(audio_seconds(tmp_path / target_name) - audio_seconds(source)) <= priming + 1e-6


@pytest.mark.parametrize(
    "source_name, audio, target_name, codec",
    [
        ("a.mp4", "aac", "b.webm", "opus"),
        ("a.mkv", "pcm_s16le", "b.webm", "opus"),  # its unnamed layout given the standard one, which encoders need
        ("a.mkv", "libopus", "b.avi", "aac"),
        ("a.mov", "pcm_s16le", "b.ts", "aac"),  # the muxer takes PCM, as unnamed data no player reads
        ("a.mp4", "aac", "b.mpg", "mp2"),  # MPEG-PS holds no AAC (a traceback-free error blamed the video)
        ("a.mp4", "aac", "b.mxf", "pcm_s16le"),  # was left out: MXF takes no stream before its video
        ("a.mkv", "mp2", "b.mp4", "aac"),  # MP4 holds MPEG-1 Layer II, but browsers and QuickTime do not play it
        ("a.mkv", "mp2", "b.mov", "aac"),
    ],
)
def test_audio_the_container_cannot_hold_is_reencoded_with_a_warning(tmp_path, source_name, audio, target_name, codec):
    source = media.make_video(tmp_path / source_name, frames=25, audio=audio)
    _, _, warnings = convert(source, tmp_path / target_name)
    assert len(warnings) == 1 and "re-encoded to" in warnings[0] and f"({audio.removeprefix('lib')})" in warnings[0]
    assert ("is played by few players of" in warnings[0]) == (audio == "mp2")  # it could be stored
    container, stream = stream_info(tmp_path / target_name, "audio")
    with container:
        assert stream.codec_context.name == codec
    assert abs(audio_seconds(tmp_path / target_name) - audio_seconds(source)) < 0.05


@pytest.mark.parametrize("target_name, limit", [("b.mkv", None), ("b.mov", None), ("b.mov", 3)])
def test_an_audio_track_without_sound_is_named_so_and_left_out(tmp_path, target_name, limit, monkeypatch):
    """Found in review: a PCM track with no packet (a recorder's unused channel) was said to be re-encoded to
    AAC because the container could not store PCM, which it can; in .mov the track then vanished. With a
    `limit` of 3 packets for the first look, as a recording longer than its 1000 packets (20 s of Opus)."""
    if limit is not None:
        import functools

        from deblur_cli.video_io import passthrough

        monkeypatch.setattr(passthrough, "_first_packets", functools.partial(passthrough._first_packets, limit=limit))
    source = media.make_video(tmp_path / "a.mkv", frames=10, audio="libopus")
    with av.open(str(source)) as original, av.open(str(tmp_path / "two.mkv"), "w") as both:
        copies = {s.index: both.add_stream_from_template(s) for s in original.streams}
        both.add_stream("pcm_s16le", rate=48000, layout="stereo")  # declared, never written to
        for packet in original.demux():
            if packet.size:
                packet.stream = copies[packet.stream.index]
                both.mux(packet)
    _, _, warnings = convert(tmp_path / "two.mkv", tmp_path / target_name)
    assert "audio stream #2 holds no sound; the output has no track of it" in warnings, warnings
    assert not any("pcm" in w for w in warnings), warnings
    with av.open(str(tmp_path / target_name)) as written:
        assert [s.type for s in written.streams] == ["video", "audio"]


def test_y4m_output_is_raw_yuv_at_the_frame_rate_without_audio(tmp_path):
    # the metrics tools' format (VMAF); its header's rate is its time base's, so that counts frames
    source = media.make_video(tmp_path / "a.mp4", frames=6, audio="aac")
    _, images, warnings = convert(source, tmp_path / "b.y4m")
    assert warnings == ["audio stream #1 (aac) cannot be stored in .y4m; it was left out"]
    with open(tmp_path / "b.y4m", "rb") as f:
        assert f.readline().split()[:5] == [b"YUV4MPEG2", b"W64", b"H48", b"F25:1", b"Ip"]
    info = describe(tmp_path / "b.y4m")
    assert (info.codec, info.pix_fmt, info.fps, info.frame_count) == ("rawvideo", "yuv420p", 25, 6)
    assert min(psnr(a, b) for a, b in zip(images, decode(tmp_path / "b.y4m"))) > 35
    deep = media.make_video(tmp_path / "deep.mkv", frames=2, codec="ffv1", bit_depth=10)
    convert(deep, tmp_path / "deep.y4m")
    assert describe(tmp_path / "deep.y4m").pix_fmt == "yuv420p10le"
    # BT.2020 PQ: the header holds no primaries, transfer or matrix, and their loss went unsaid
    pq = {"primaries": 9, "transfer": 16, "matrix": 9, "range": 1}
    hdr = media.make_video(tmp_path / "pq.mkv", frames=2, color=pq)
    assert convert(hdr, tmp_path / "pq.y4m")[2] == [
        ".y4m cannot record the input's colour primaries, transfer, matrix: players guess them, and may show other "
        "colours; .mkv keeps them"
    ]
    bt709 = media.make_video(tmp_path / "709.mkv", frames=2, color=dict.fromkeys(pq, 1))
    assert convert(bt709, tmp_path / "709.y4m")[2] == []


def test_avi_outputs_whose_codec_stores_no_colour_description_warn_of_its_loss(tmp_path):
    # FFV1 in .avi kept BT.2020 PQ as RGB that every reader took for SDR BT.709, unsaid (colour53 F5)
    pq = {"primaries": 9, "transfer": 16, "matrix": 9, "range": 1}
    hdr = media.make_video(tmp_path / "pq.mkv", frames=2, codec="ffv1", pix_fmt="yuv444p10le", color=pq)
    lost = "cannot record the input's colour primaries, transfer: players guess them, and may show other colours"
    assert convert(hdr, tmp_path / "pq.avi", codec="ffv1")[2] == [f"ffv1 in .avi {lost}; .mkv keeps them"]
    with av.open(str(tmp_path / "pq.avi")) as written:  # as the warning says
        frame = next(written.decode(video=0))
        assert (frame.format.name, int(frame.color_primaries), int(frame.color_trc)) == ("gbrp16le", 2, 2)
    # a YUV output loses the matrix too; H.264 keeps all three in its stream, in .avi as anywhere
    yuv = convert(hdr, tmp_path / "yuv.avi", codec="ffv1", pix_fmt="yuv444p10le")[2]
    assert yuv == ["ffv1 in .avi cannot record the input's colour primaries, transfer, matrix: players guess them, "
                   "and may show other colours; .mkv keeps them"]  # fmt: skip
    unsaid = "cannot record the input's colour"
    assert not any(unsaid in w for w in convert(hdr, tmp_path / "x264.avi", codec="libx264")[2])
    assert not any(unsaid in w for w in convert(hdr, tmp_path / "pq_ffv1.mkv", codec="ffv1")[2])
    bt709 = media.make_video(tmp_path / "709.mkv", frames=2, codec="ffv1", color=dict.fromkeys(pq, 1))
    assert convert(bt709, tmp_path / "709.avi", codec="ffv1")[2] == []


@pytest.mark.parametrize("target_name", ["b.mpg", "b.vob"])
def test_mpg_and_vob_outputs_are_mpeg2_with_mpeg_audio(tmp_path, target_name):
    # they were H.264 (which DVD players and many readers of MPEG-PS do not take) and refused AAC audio
    source = media.make_video(tmp_path / "a.mp4", frames=12, fps=Fraction(30000, 1001), size=(128, 96), audio="aac")
    _, images, warnings = convert(source, tmp_path / target_name)
    assert warnings == [f"audio stream #1 (aac) cannot be stored in {Path(target_name).suffix}; re-encoded to mp2"]
    with av.open(str(tmp_path / target_name)) as container:
        assert [s.codec_context.name for s in container.streams] == ["mpeg2video", "mp2"]
    stamps, base = media.read_video_pts(tmp_path / target_name)
    assert [(p - stamps[0]) * base for p in stamps] == [Fraction(1001, 30000) * i for i in range(12)]
    assert min(psnr(a, b) for a, b in zip(images, decode(tmp_path / target_name))) > 30


@pytest.mark.parametrize("target_name", ["b.mpg", "b.vob"])
def test_h264_in_mpeg_ps_reads_back_at_its_frame_rate(tmp_path, target_name):
    """MPEG-PS states no rate, so readers take H.264's own timing, which counted 90 kHz ticks: the file read as
    1 frame at 90000 fps."""
    source = media.make_video(tmp_path / "a.mp4", frames=12, fps=Fraction(30000, 1001), size=(128, 96))
    _, images, _ = convert(source, tmp_path / target_name, codec="libx264")
    info = describe(tmp_path / target_name)
    assert (info.codec, info.fps, info.frame_count) == ("h264", Fraction(30000, 1001), 12)
    with open_source(tmp_path / target_name) as frames:
        stamps = [frame.pts * frames.info.time_base for frame in frames]  # PyAV leaves some without one
    assert [round((t - stamps[0]) / Fraction(1001, 30000), 3) for t in stamps] == list(range(12))
    assert min(psnr(a, b) for a, b in zip(images, decode(tmp_path / target_name))) > 30


@pytest.mark.parametrize("target_name, codec", [("b.mpg", "libx264"), ("b.vob", "libx264"), ("b.mpg", "libx265")])
def test_h264_and_hevc_in_mpeg_ps_keep_a_variable_frame_rate(tmp_path, target_name, codec):
    """MPEG-PS times each frame that begins a PES packet: the encoder counted frames at the 25 fps average, so
    frames 20 ms apart were moved to 40 ms ticks (0.20, 0.22, 0.24, 0.28 came out 0.20, 0.24, 0.28, 0.32). Noise,
    so that every frame is larger than a 2 KB packet and has a time of its own."""
    stamps = [0, 40, 80, 200, 220, 240, 280, 400]  # ms
    source = tmp_path / "a.mkv"
    noise = np.random.default_rng(0)
    with av.open(str(source), "w") as container:
        video = container.add_stream("ffv1", rate=25)
        video.width, video.height, video.pix_fmt = 128, 96, "yuv420p"
        video.time_base = video.codec_context.time_base = Fraction(1, 1000)
        for stamp in stamps:
            frame = av.VideoFrame.from_ndarray(noise.integers(0, 256, (96, 128, 3), dtype=np.uint8), format="rgb24")
            frame.pts, frame.time_base = stamp, Fraction(1, 1000)
            container.mux(video.encode(frame))
        container.mux(video.encode())
    convert(source, tmp_path / target_name, codec=codec)
    with av.open(str(tmp_path / target_name)) as container:
        stream = container.streams.video[0]
        got, time_base = sorted(p.pts for p in container.demux(stream) if p.size), stream.time_base
    assert [(p - got[0]) * time_base for p in got] == [Fraction(s, 1000) for s in stamps]
    with open_source(tmp_path / target_name) as frames:
        assert [f.pts * frames.info.time_base for f in frames] == [Fraction(s, 1000) for s in stamps]
    assert frames.info.fps == describe(source).fps  # the stated rate, not the 90 kHz clock's


@pytest.mark.parametrize(
    "target_name, codec", [("b.h264", "h264"), ("b.hevc", "hevc"), ("b.m2v", "mpeg2video"), ("b.ivf", "vp9")]
)
def test_a_bare_video_stream_keeps_its_frame_rate(tmp_path, target_name, codec):
    """A bare stream has no container to time it: FFmpeg reads it at 25 fps unless the codec says otherwise.
    H.264's timing info said 90000 fps, and the reader took FFmpeg's 25 over what the codec said (29.97); .m2v
    and .hevc were refused (H.264 in them)."""
    source = media.make_video(tmp_path / "a.mp4", frames=6, fps=Fraction(30000, 1001), size=(128, 96))
    _, images, _ = convert(source, tmp_path / target_name)
    with open_source(tmp_path / target_name) as frames:
        assert (frames.info.codec, frames.info.fps, frames.info.frame_count) == (codec, Fraction(30000, 1001), 6)
        stamps = [frame.pts * frames.info.time_base for frame in frames]
    assert [round((t - stamps[0]) / Fraction(1001, 30000), 3) for t in stamps] == list(range(6))
    assert min(psnr(a, b) for a, b in zip(images, decode(tmp_path / target_name))) > 30


@pytest.mark.parametrize("crf, scale", [(18, "3"), (30, "5"), (0, "1"), (63, "10")])
def test_mpeg2_takes_crf_as_its_quantiser_scale(crf, scale):
    encoding = resolve_encoder(EncodeOptions(crf=crf, asked=frozenset({"crf"})), ".mpg", 8, 64, 48)
    assert (encoding.encoder, encoding.options) == ("mpeg2video", {"qmin": scale, "qmax": scale})
    assert unused_options(EncodeOptions(crf=crf, asked=frozenset({"crf"})), encoding, "by mpeg2video") == []


def test_no_audio_option_leaves_audio_and_subtitles_out(tmp_path):
    """As --help and the docs say: subtitles were kept (review, session 35)."""
    source = media.make_video(tmp_path / "a.mp4", frames=5, audio="aac", subtitles=True)
    convert(source, tmp_path / "b.mp4", audio=False)
    with av.open(str(tmp_path / "b.mp4")) as container:
        assert [s.type for s in container.streams] == ["video"]


def test_a_matroska_video_that_starts_after_its_audio_counts_its_own_frames(tmp_path):
    """AAC's priming samples start the audio 21 ms before the video (in an .mp4 encoded by PyAV 18's FFmpeg
    and remuxed; PyAV 19's starts both at 0, so the clip is written so here); Matroska's DURATION tag is where
    the video ends on the file's clock, so the frame count comes from the tag less the video's start."""
    stamps = [21 + 40 * i for i in range(12)]  # ms
    media.make_video(tmp_path / "b.mkv", frames=12, audio="aac", pts=stamps, time_base=Fraction(1, 1000))
    with av.open(str(tmp_path / "b.mkv")) as container:
        assert container.streams.video[0].start_time > 0  # the case itself
    info = describe(tmp_path / "b.mkv")
    assert info.frame_count == 12 and info.duration == pytest.approx(0.48, abs=0.002)


def test_an_mp4_cut_without_re_encoding_counts_the_frames_its_edit_list_shows(tmp_path):
    """Found in review: a clip trimmed in place keeps the frames before its in-point, hidden by its edit list;
    `info` said 40 frames and the progress bar ended at 30/40."""
    stamps = [i - 10 for i in range(40)]  # frames before 0: the muxer's edit list starts the clip at 0
    source = media.make_video(tmp_path / "trim.mp4", frames=40, fps=30, pts=stamps, time_base=Fraction(1, 30))
    with av.open(str(source)) as container:
        assert container.streams.video[0].frames == 40  # the case: 40 samples stated, 10 of them hidden
    info = describe(source)
    with open_source(source) as frames:
        assert info.frame_count == 30 == len(list(frames))


@pytest.mark.parametrize("frames", [1, 2])
def test_a_matroska_still_with_longer_sound_has_its_own_frames_not_the_file_s_length(tmp_path, frames):
    """FFmpeg gives a Matroska stream of one or two frames the whole file's duration: a title card with
    3 s of music read as 76 frames and was refused as "the video stream ends early". Its DURATION tag is
    the video's own."""
    source = media.make_video(tmp_path / "card.mkv", frames=frames, audio="aac", audio_seconds=3.0)
    with av.open(str(source)) as container:
        assert container.streams.video[0].duration == 3021  # the case: the file's length, in ms
    info = describe(source)
    assert info.frame_count == frames and info.duration == pytest.approx(0.04 * frames, abs=0.002)
    _, images, _ = convert(source, tmp_path / "out.mkv", codec="ffv1")
    assert len(images) == frames and describe(tmp_path / "out.mkv").frame_count == frames


@pytest.mark.parametrize("tag", [None, b"00:00:         inf", b"00:00:09.600000000", b"00:00:00.0000000-1"])
def test_a_matroska_duration_tag_that_is_missing_or_no_time_in_the_file_is_not_trusted(tmp_path, tag):
    """Found in review: without the tag (muxers that write none) the title card was refused as truncated
    again; a tag of inf crashed `info` and `run` (OverflowError); one past the file's end made 240 frames of
    40 and a refusal. The video's own packets decide then."""
    source = media.make_video(tmp_path / "card.mkv", frames=1, audio="aac", audio_seconds=3.0)
    data = source.read_bytes()
    if tag is None:
        data = data.replace(b"DURATION", b"DURATIOX")  # the same length: the file stays whole
    else:
        assert data.count(b"00:00:00.040000000") == 1
        data = data.replace(b"00:00:00.040000000", tag)
    source.write_bytes(data)
    info = describe(source)
    assert info.frame_count == 1
    _, images, _ = convert(source, tmp_path / "out.mkv", codec="ffv1")
    assert len(images) == 1


def test_a_matroska_file_that_states_no_length_has_its_frames_counted(tmp_path):
    """A recording that crashed (or a live one) leaves a Matroska file without a duration: the progress bar
    showed no total and no time left. Its packets are now counted; its duration stays unknown."""
    live = tmp_path / "live.mkv"
    with av.open(str(live), "w", options={"live": "1"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(9):
            frame = av.VideoFrame.from_ndarray(media.pattern(i, 64, 48), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with av.open(str(live)) as container:
        assert container.duration is None and container.streams.video[0].duration is None  # the case itself
    info = describe(live)
    assert info.frame_count == 9 == len(decode(live)) and info.duration is None


def test_audio_longer_than_the_video_is_not_taken_for_truncation(tmp_path):
    source = media.make_video(tmp_path / "a.mkv", frames=10, audio="aac", audio_seconds=2.0)
    convert(source, tmp_path / "b.mkv")
    assert len(decode(tmp_path / "b.mkv")) == 10
    assert audio_seconds(tmp_path / "b.mkv") == pytest.approx(audio_seconds(source))


@pytest.mark.parametrize("source_name, target_name", [("a.mkv", "b.mkv"), ("a.mp4", "b.mov"), ("a.webm", "b.webm")])
def test_subtitles_are_copied(tmp_path, source_name, target_name):
    source = media.make_video(tmp_path / source_name, frames=10, subtitles=True)
    _, _, warnings = convert(source, tmp_path / target_name)
    assert warnings == []
    assert packets(tmp_path / target_name, "subtitle") == packets(source, "subtitle")


@pytest.mark.parametrize("target_name", ["b.mp4", "b.mov"])
def test_mp4_text_subtitles_are_copied_sample_for_sample(tmp_path, target_name):
    """Found in review: the muxer's empty samples between cues were copied, and the muxer wrote its own beside
    them: every pass added a filler at each gap."""
    source = media.make_video(tmp_path / "a.mp4", frames=10, subtitles=True)

    def samples(path):
        with av.open(str(path)) as container:
            return [(p.pts, p.duration, bytes(p)) for p in container.demux(subtitles=0) if p.size]

    convert(source, tmp_path / target_name)
    assert samples(tmp_path / target_name) == samples(source)


@pytest.mark.parametrize("target_name", ["b.mp4", "b.mov"])
def test_telemetry_is_copied_into_mp4_and_mov(tmp_path, target_name):
    # GoPro's GPMF track (gyroscope, accelerometer, GPS), which stabilisers such as Gyroflow read from the file
    source = media.make_video(tmp_path / "a.mp4", frames=10, data="bin_data")
    _, _, warnings = convert(source, tmp_path / target_name)
    assert warnings == []
    copied = packets(tmp_path / target_name, "data")
    assert [data for _, data in copied] == [f"telemetry {n}".encode() for n in range(4)]
    assert copied == packets(source, "data")
    container, stream = stream_info(tmp_path / target_name, "data")
    with container:
        assert stream.metadata["handler_name"] == "GoPro MET"


@pytest.mark.parametrize("target_name", ["b.mkv", "b.avi", "b.ts", "b.wmv"])
def test_telemetry_other_containers_leave_out_with_a_warning(tmp_path, target_name):
    # AVI, MPEG-TS and ASF muxers take the track, but not as telemetry (ASF as a second video stream)
    gopro = media.make_video(tmp_path / "a.mp4", frames=5, data="bin_data")
    _, _, warnings = convert(gopro, tmp_path / target_name)
    suffix = Path(target_name).suffix
    assert warnings == [f"data stream #1 (GoPro MET) cannot be stored in {suffix}; it was left out (.mp4 and .mov keep it)"]
    with av.open(str(tmp_path / target_name)) as container:
        assert [s.type for s in container.streams] == ["video"]


def test_other_data_streams_are_reported(tmp_path):
    dji = media.make_video(tmp_path / "dji.mp4", frames=5, data="bin_data", data_handler="DJI meta")
    _, _, warnings = convert(dji, tmp_path / "d.mp4")  # not GoPro's: MP4 would label it GPMF, so it is left out
    assert warnings == [
        "data stream #1 (DJI meta) of the input is left out (deblur carries GoPro telemetry, into .mp4 and .mov, "
        "and timecode)"
    ]
    drone = media.make_video(tmp_path / "a.ts", frames=5, codec="libx264", data="klv")  # MISB KLV metadata
    _, _, warnings = convert(drone, tmp_path / "c.mp4")
    assert warnings == [
        "data stream #1 (klv) of the input is left out (deblur carries GoPro telemetry, into .mp4 and .mov, and timecode)"
    ]
    with av.open(str(tmp_path / "c.mp4")) as container:
        assert not container.streams.data


def chapters(path) -> list[tuple[float, float, str]]:
    with av.open(str(path)) as container:
        return [
            (round(float(start), 3), round(float(end), 3), c["metadata"]["title"])
            for c in container.chapters()
            for start, end in [(c["start"] * c["time_base"], c["end"] * c["time_base"])]
        ]


@pytest.mark.parametrize("source_name, target_name", [("a.mkv", "b.mkv"), ("a.mkv", "b.mp4"), ("a.mp4", "b.webm")])
def test_chapters_are_copied(tmp_path, source_name, target_name):
    marks = [(0.0, 0.2, "Intro"), (0.2, 0.4, "Main")]
    source = media.make_video(tmp_path / source_name, frames=10, chapters=marks)
    _, _, warnings = convert(source, tmp_path / target_name)
    assert warnings == []
    assert chapters(tmp_path / target_name) == marks


def test_chapters_a_container_cannot_hold_are_reported(tmp_path):
    source = media.make_video(tmp_path / "a.mkv", frames=10, chapters=[(0.0, 0.2, "Intro"), (0.2, 0.4, "Main")])
    _, _, warnings = convert(source, tmp_path / "b.avi")
    assert warnings == [".avi cannot hold the input's 2 chapters; they were left out"]


def test_attachments_are_copied_into_matroska_and_reported_elsewhere(tmp_path):
    source = media.make_video(tmp_path / "a.mkv", frames=3)
    with_font = tmp_path / "fonts.mkv"
    with av.open(str(source)) as original, av.open(str(with_font), "w") as container:
        video = container.add_stream_from_template(original.streams.video[0])
        container.add_attachment("subs.ttf", "font/ttf", b"font bytes" * 50)
        for packet in original.demux(video=0):
            if packet.size:
                packet.stream = video
                container.mux(packet)
    _, _, warnings = convert(with_font, tmp_path / "b.mkv")
    assert warnings == []
    with av.open(str(tmp_path / "b.mkv")) as container:
        (attachment,) = container.streams.attachments
        assert (attachment.name, attachment.mimetype) == ("subs.ttf", "font/ttf")
        assert bytes(attachment.data) == b"font bytes" * 50
    _, _, warnings = convert(with_font, tmp_path / "b.mp4")
    assert warnings == [".mp4 cannot hold the input's attachments (subs.ttf); they were left out (.mkv keeps them)"]


def test_a_second_video_stream_is_reported_as_left_out(tmp_path):
    path = tmp_path / "two.mkv"
    with av.open(str(path), "w") as container:
        streams = [container.add_stream("libx264", rate=25) for _ in range(2)]
        for stream in streams:
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(media.pattern(index, 64, 48), format="rgb24")
            for stream in streams:
                container.mux(stream.encode(frame))
        for stream in streams:
            container.mux(stream.encode())
    _, images, warnings = convert(path, tmp_path / "b.mkv")
    assert len(images) == 3
    assert warnings == ["video stream #1 is left out: deblur restores the first video stream only"]


@pytest.mark.parametrize("target_name", ["b.avi", "b.ts"])
def test_subtitles_a_container_cannot_hold_at_all_are_reported(tmp_path, target_name):
    # the MPEG-TS muxer takes SubRip, and writes it as unnamed data that no player shows
    source = media.make_video(tmp_path / "a.mkv", frames=10, subtitles=True)
    _, _, warnings = convert(source, tmp_path / target_name)
    assert warnings == [
        (
            f"subtitle stream #1 (srt) cannot be stored in {Path(target_name).suffix}; it was left out (an output of "
            "the input's container type keeps it)"
        )
    ]
    with av.open(str(tmp_path / target_name)) as container:
        assert [s.type for s in container.streams] == ["video"]


@pytest.mark.parametrize(
    "source_name, target_name, codec, payloads",
    [
        ("a.mkv", "b.mp4", "mov_text", [b"\x00\tfirst cue", b"\x00\nsecond cue"]),
        ("a.mp4", "b.mkv", "srt", [b"first cue", b"second cue"]),
        ("a.webm", "b.mov", "mov_text", [b"\x00\tfirst cue", b"\x00\nsecond cue"]),
        ("a.mp4", "b.webm", "webvtt", [b"first cue", b"second cue"]),
    ],
)
def test_text_subtitles_are_converted_to_the_text_codec_of_the_output(tmp_path, source_name, target_name, codec,
                                                                      payloads):  # fmt: skip
    vp9 = "libvpx-vp9" if target_name.endswith(".webm") else None
    source = media.make_video(tmp_path / source_name, frames=25, subtitles=True, codec=vp9)
    _, _, warnings = convert(source, tmp_path / target_name)
    (warning,) = warnings
    written = "subrip" if codec == "srt" else codec  # FFmpeg reads Matroska's SubRip back as "srt"
    suffix = Path(target_name).suffix
    assert warning.endswith(f"cannot be stored in {suffix}; its cues were converted to {written}, text and timing only")
    container, stream = stream_info(tmp_path / target_name, "subtitle")
    with container:
        assert stream.codec_context.name == codec
    cues = [(time, data) for time, data in packets(tmp_path / target_name, "subtitle")]
    assert cues == [(0.0, payloads[0]), (0.5, payloads[1])]  # each at its time, with its text


def test_cue_text_of_each_text_codec():
    from deblur_cli.video_io.subtitles import cue_payload, cue_text

    assert cue_text(b"\x00\x05hello\x00\x00\x00\x0cstylboxdata", "mov_text") == "hello"  # style box left
    ass = "0,0,Default,,0,0,0,,{\\i1}Hello{\\i0},\\Nworld\\hagain".encode()
    assert cue_text(ass, "ass") == "Hello,\nworld again"  # commas in the text survive; overrides do not
    assert cue_payload("<i>tilted</i>", "mov_text") == b"\x00\x06tilted"
    assert cue_payload("<i>tilted</i>", "subrip") == b"<i>tilted</i>"



# --- lossless identity ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec, target", [("ffv1", "o.mkv"), ("x264-lossless", "o.mp4")])
def test_lossless_codecs_give_back_the_same_pixels(tmp_path, codec, target):
    source = media.make_video(tmp_path / "a.mp4", frames=6)
    _, images, _ = convert(source, tmp_path / target, codec=codec)
    result = decode(tmp_path / target)
    assert len(result) == 6
    for a, b in zip(images, result):
        np.testing.assert_array_equal(a, b)


def test_lossless_ten_bit(tmp_path):
    source = media.make_video(tmp_path / "ten.mkv", frames=4, bit_depth=10)
    _, images, _ = convert(source, tmp_path / "ffv1.mkv", codec="ffv1")
    for a, b in zip(images, decode(tmp_path / "ffv1.mkv")):
        np.testing.assert_array_equal(a, b)  # FFV1 stores the 16-bit RGB arrays themselves
    convert(source, tmp_path / "x264.mkv", codec="x264-lossless")
    # libx264 has no deep RGB mode, so 10-bit goes through lossless yuv444p10le: only the RGB -> YUV -> RGB
    # rounding at 10 bits remains, under 2 steps of 10-bit (2 * 64 on the 16-bit scale)
    worst = max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(images, decode(tmp_path / "x264.mkv")))
    assert worst < 128


@pytest.mark.parametrize(
    "depth, pix_fmt, matrix, value_range",
    [
        (16, "yuv420p10le", 1, 1),
        (16, "yuv420p10le", 9, 2),
        (16, "yuv444p10le", 1, 1),
        (16, "yuv420p", 1, 1),
        (8, "yuv420p", 1, 2),
        (8, "yuv420p", 9, 1),
    ],
)
def test_the_writer_stores_the_exact_conversion_and_the_reader_gets_the_frames_back(tmp_path, depth, pix_fmt, matrix,
                                                                                        value_range):  # fmt: skip
    # swscale wrote 16-bit RGB 0.43 to 0.5 levels bright (65280 taken for white) and full-range chroma half
    # a code low; a full-range round trip came back tinted (-0.9, +0.4, -1.0 in R, G, B at 8 bits)
    # smooth colours, which 4:2:0 keeps without pushing any pixel out of the RGB cube (where it would be clipped)
    y, x = np.mgrid[0:48, 0:64]
    images = [
        np.round(np.stack([0.2 + 0.6 * x / 63, 0.2 + 0.6 * y / 47, 0.5 + 0.3 * np.sin((x + y + 9 * index) / 9)], axis=-1)
                 * np.iinfo(np.uint8 if depth == 8 else np.uint16).max).astype(np.uint8 if depth == 8 else np.uint16)
        for index in range(2)
    ]  # fmt: skip
    info = replace(INFO, bit_depth=10 if depth == 16 else 8, color={"primaries": 1, "transfer": 1, "matrix": matrix,
                   "range": value_range})  # fmt: skip
    with open_sink(tmp_path / "o.mkv", info, EncodeOptions(codec="ffv1", pix_fmt=pix_fmt)) as sink:
        for pts, image in enumerate(images):
            sink.write(image, pts=pts)
    with av.open(str(tmp_path / "o.mkv")) as container:
        written = [stored_planes(frame)[0] for frame in container.decode(video=0)]
    bits = 10 if pix_fmt.endswith("10le") else 8
    for image, planes in zip(images, written):
        rgb = image / np.iinfo(image.dtype).max
        for plane, want in zip(planes, exact_yuv(rgb, matrix, bits, value_range == 2)):
            if plane.shape == want.shape:
                assert np.abs(plane - want).max() < 0.55  # rounded once (from 16 bits, which adds 0.03)
            assert abs(plane.mean() - want.mean()) < 0.05 * 2 ** (bits - 8)  # 0.05 of an 8-bit level
    for image, back in zip(images, decode(tmp_path / "o.mkv")):
        levels = (back / np.iinfo(back.dtype).max - image / np.iinfo(image.dtype).max) * 255
        assert np.abs(levels.mean(axis=(0, 1))).max() < 0.05  # no net shift


def random_yuv_frame(rng: np.random.Generator, width: int, height: int, pix_fmt: str, pts: int = 0) -> av.VideoFrame:
    """A BT.709 limited-range frame whose luma and chroma change from sample to sample, yet whose every pixel
    (each chroma sample over the pixels it covers) lies inside the RGB cube, where nothing is clipped."""
    bits = 10 if pix_fmt.endswith("10le") else 8
    frame = av.VideoFrame(width, height, pix_fmt)
    frame.colorspace, frame.color_range, frame.pts = 1, 1, pts
    for plane, low, high in zip(frame.planes, (96, 104, 104), (160, 152, 152)):
        stored = np.frombuffer(plane, np.uint8 if bits == 8 else "<u2").reshape(plane.height, -1)
        stored[:, : plane.width] = rng.integers(low << (bits - 8), high << (bits - 8), (plane.height, plane.width))
    return frame


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le", "yuv422p", "yuv422p10le"])
def test_a_subsampled_round_trip_gives_its_planes_back(tmp_path, pix_fmt):
    # Found in review (colour53 F1): the writer let swscale subsample 4:2:0 chroma, which took each chroma row
    # as (row above + 6 x itself + row below) / 8 of the rows the reader had repeated, so every round trip took
    # a quarter off the chroma contrast across horizontal edges (Cr 206/121 stripes came back 196/132)
    rng = np.random.default_rng(0)
    source = tmp_path / "in.mkv"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        stream.codec_context.colorspace, stream.codec_context.color_range = 1, 1
        frames = [random_yuv_frame(rng, 64, 48, pix_fmt, pts) for pts in range(2)]
        for frame in frames:
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    convert(source, tmp_path / "o.mkv", codec="ffv1", pix_fmt=pix_fmt)
    with av.open(str(tmp_path / "o.mkv")) as container:
        written = [stored_planes(frame)[0] for frame in container.decode(video=0)]
    for frame, after in zip(frames, written):
        for name, plane, back in zip("Y Cb Cr".split(), stored_planes(frame)[0], after):
            assert np.abs(back - plane).max() <= 1, name  # RGB rounding only


@pytest.mark.parametrize("pix_fmt", ["yuv420p10le", "yuv422p"])
def test_an_odd_sized_subsampled_frame_converts_back_to_its_planes(pix_fmt):
    # sinks refuse odd sizes in these formats, but yuv_frame fills them: the last chroma row and column
    # cover one pixel each, and are the mean of the pixels they cover
    frame = random_yuv_frame(np.random.default_rng(1), 63, 47, pix_fmt)
    back = yuv_frame(frame_arrays(frame, np.uint16, alpha=False)[0], pix_fmt, 1, 1)
    for name, plane, again in zip("Y Cb Cr".split(), stored_planes(frame)[0], stored_planes(back)[0]):
        assert np.abs(again - plane).max() <= 1, name


EDGES = (21, 36, 50, 67, 80)  # columns where the colour changes, odd and even


def edge_positions(image: np.ndarray) -> np.ndarray:
    """Where each colour edge lies across a frame: the centroid of the steps of R - B (rows averaged), in pixels."""
    steps = np.diff((image[..., 0].astype(np.float64) - image[..., 2]).mean(axis=0))  # steps[x]: between x and x + 1
    return np.array([(steps[x] * (x + 0.5)).sum() / steps[x].sum() for x in (np.arange(e - 5, e + 4) for e in EDGES)])


@pytest.mark.parametrize("codec, depth", [("libx264", 8), ("libx265", 16)])
def test_colour_edges_stay_in_place_however_the_chroma_siting_is_read(tmp_path, codec, depth):
    # the writer centres each chroma sample on its block; untagged, H.264 and HEVC readers that honour the
    # siting (mpv, FFmpeg's accurate conversion) took it as left-sited and showed colour edges half a pixel
    # left, as deblur's own reader did for 10-bit video (|R error| at the edges 28 levels, against 15)
    dtype = np.uint8 if depth == 8 else np.uint16
    colours = np.array([[0.75, 0.35, 0.30], [0.25, 0.55, 0.75]])[np.cumsum(np.isin(np.arange(96), EDGES)) % 2]
    image = np.ascontiguousarray(np.broadcast_to(np.round(colours * np.iinfo(dtype).max), (64, 96, 3)), dtype=dtype)
    info = replace(INFO, width=96, height=64, bit_depth=depth if depth == 8 else 10)
    with open_sink(tmp_path / "o.mp4", info, EncodeOptions(codec=codec, crf=4)) as sink:
        for pts in range(2):
            sink.write(image, pts=pts)
    with av.open(str(tmp_path / "o.mp4")) as container:
        frame = next(container.decode(video=0))
    rgb = "rgb24" if depth == 8 else "rgb48le"
    readings = {
        "deblur": decode(tmp_path / "o.mp4")[0],
        "FFmpeg's default": frame.to_ndarray(format=rgb),
        "FFmpeg's accurate": frame.to_ndarray(format=rgb, interpolation=0x2 | 0x40000),  # BILINEAR | ACCURATE_RND
    }
    for name, read in readings.items():
        assert np.abs(edge_positions(read) - edge_positions(image)).max() < 0.1, name


def test_default_h264_is_close_to_the_input(tmp_path):
    source = media.make_video(tmp_path / "a.mkv", frames=6)
    _, images, _ = convert(source, tmp_path / "o.mp4")
    assert describe(tmp_path / "o.mp4").pix_fmt == "yuv420p"
    assert min(psnr(a, b) for a, b in zip(images, decode(tmp_path / "o.mp4"))) > 35


# --- image sequences -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix, depth", [(".png", 8), (".png", 16), (".tif", 8), (".tiff", 16)])
def test_image_directory_reads_exact_frames(tmp_path, suffix, depth):
    media.make_images(tmp_path / "seq", count=4, suffix=suffix, bit_depth=depth)
    with open_source(tmp_path / "seq") as source:
        frames = list(source)
    info = source.info
    assert (info.bit_depth, info.fps, info.time_base, info.frame_count) == (depth, None, None, 4)
    for frame in frames:
        assert frame.pts is None
        np.testing.assert_array_equal(frame.image, media.pattern(frame.index, 64, 48, bit_depth=depth))


@pytest.mark.parametrize("workers", [1, 3])
def test_images_decoded_in_threads_come_in_order_and_an_odd_one_in_its_place(tmp_path, workers):
    paths = media.make_images(tmp_path / "seq", count=9)
    media.write_image(paths[6], media.pattern(6, 32, 32))
    source = ImageSequenceSource(paths, workers=workers)
    got = []
    with pytest.raises(InputError, match=r"img_007\.png is 32x32"):
        for frame in source:
            got.append(frame)
    assert [frame.index for frame in got] == list(range(6))
    for frame in got:
        np.testing.assert_array_equal(frame.image, media.pattern(frame.index, 64, 48))
    assert [frame.index for frame in ImageSequenceSource(paths[:6], workers=workers)] == list(range(6))


def test_jpeg_directory_reads_close_frames(tmp_path):
    media.make_images(tmp_path / "seq", count=3, suffix=".jpg")
    frames = decode(tmp_path / "seq")
    assert len(frames) == 3 and frames[0].dtype == np.uint8
    assert min(psnr(f, media.pattern(i, 64, 48)) for i, f in enumerate(frames)) > 30


def test_glob_pattern_natural_order_and_other_files_ignored(tmp_path):
    directory = tmp_path / "seq"
    media.make_images(directory, count=11, name="img_{}")  # img_1 ... img_11, unpadded
    (directory / "notes.txt").write_text("not a frame")
    media.write_image(directory / ".hidden.png", media.pattern(99, 64, 48))
    media.write_image(directory / "cover.jpg", media.pattern(98, 64, 48))
    for location in (directory / "*.png", directory / "img_*"):
        frames = decode(location)
        assert len(frames) == 11
        for index, image in enumerate(frames):
            np.testing.assert_array_equal(image, media.pattern(index, 64, 48))  # img_2 before img_10
    assert len(decode(directory)) == 12  # the directory includes the JPEG, not the text or hidden file


def test_png_frames_keep_their_images_names_or_are_numbered(tmp_path):
    """Frames of images kept none of their names (plate.1001.jpg came out frame_000001.png), and with them
    the numbering an edit or a VFX pipeline relies on."""
    (tmp_path / "plate").mkdir()
    for number in (1001, 1002, 1010):
        media.write_image(tmp_path / "plate" / f"shot.{number}.jpg", media.pattern(number, 32, 16))
    convert(tmp_path / "plate", tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out")) == ["shot.1001.png", "shot.1002.png", "shot.1010.png"]
    media.write_image(tmp_path / "plate" / "shot.1001.png", media.pattern(0, 32, 16))  # two would be one file
    convert(tmp_path / "plate", tmp_path / "numbered")
    assert sorted(os.listdir(tmp_path / "numbered")) == [f"frame_00000{n}.png" for n in (1, 2, 3, 4)]
    convert(media.make_video(tmp_path / "v.mkv", frames=2), tmp_path / "video")
    assert sorted(os.listdir(tmp_path / "video")) == ["frame_000001.png", "frame_000002.png"]


def test_single_image_is_a_one_frame_video(tmp_path):
    path = media.write_image(tmp_path / "still.png", media.pattern(3, 64, 48))
    frames = decode(path)
    assert len(frames) == 1
    np.testing.assert_array_equal(frames[0], media.pattern(3, 64, 48))


@pytest.mark.parametrize("depth, pix_fmt", [(8, "rgb24"), (16, "rgb48be")])
def test_png_sequence_output_is_exact(tmp_path, depth, pix_fmt):
    media.make_images(tmp_path / "seq", count=3, bit_depth=depth)
    _, images, warnings = convert(tmp_path / "seq", tmp_path / "out")
    assert warnings == []
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == ["img_001.png", "img_002.png", "img_003.png"]  # the images' names
    with av.open(str(tmp_path / "out" / names[0])) as container:
        assert next(container.decode(video=0)).format.name == pix_fmt
    for a, b in zip(images, decode(tmp_path / "out")):
        np.testing.assert_array_equal(a, b)


def test_png_sequence_from_ten_bit_video_is_sixteen_bit(tmp_path):
    source = media.make_video(tmp_path / "ten.mkv", frames=2, bit_depth=10)
    _, images, _ = convert(source, str(tmp_path / "frames") + "/")
    assert describe(tmp_path / "frames").bit_depth == 16
    for a, b in zip(images, decode(tmp_path / "frames")):
        np.testing.assert_array_equal(a, b)


def test_png_sequence_is_turned_to_display_orientation(tmp_path):
    source = media.make_video(tmp_path / "r.mp4", frames=2, rotation=90)
    (tmp_path / "upright").mkdir()  # an existing empty directory is a PNG target too
    _, images, _ = convert(source, tmp_path / "upright")
    result = decode(tmp_path / "upright")
    assert result[0].shape == (64, 48, 3)
    np.testing.assert_array_equal(result[0], np.rot90(images[0]))  # counter-clockwise, as the display matrix


def test_png_sequence_reports_the_audio_it_cannot_hold(tmp_path):
    source = media.make_video(tmp_path / "a.mp4", frames=2, audio="aac")
    _, _, warnings = convert(source, tmp_path / "out")
    assert warnings == ["a PNG sequence cannot hold audio; the source's audio was not written"]


def test_image_sequence_encodes_at_the_default_rate(tmp_path):
    media.make_images(tmp_path / "seq", count=5)
    convert(tmp_path / "seq", tmp_path / "out.mp4")
    stamps, base = media.read_video_pts(tmp_path / "out.mp4")
    assert [p * base for p in stamps] == [Fraction(i) / DEFAULT_FPS for i in range(5)]


def test_sink_accepts_bare_arrays_and_continues_timestamps(tmp_path):
    info = VideoInfo(width=64, height=48, fps=Fraction(10), time_base=Fraction(1, 10), frame_count=3, bit_depth=8)
    with open_sink(tmp_path / "o.mkv", info, EncodeOptions(codec="ffv1")) as sink:
        for i in range(3):
            sink.write(media.pattern(i, 64, 48))
        sink.write(Frame(media.pattern(3, 64, 48), pts=2, index=3))  # not rising: moved one tick on
    stamps, base = media.read_video_pts(tmp_path / "o.mkv")
    assert [p * base for p in stamps] == [Fraction(i, 10) for i in range(4)]


# --- bad inputs ----------------------------------------------------------------------------------------------


def read_all(path) -> int:
    """Decode everything, returning how many frames came before an error (re-raised with the count attached)."""
    count = 0
    try:
        with open_source(path) as source:
            for _ in source:
                count += 1
    except InputError as e:
        e.frames_before = count
        raise
    return count


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match=r"nope\.mp4: no such file or directory") as e:
        open_source(tmp_path / "nope.mp4")
    assert "check the path" in e.value.hint


def test_not_a_media_file(tmp_path):
    (tmp_path / "notes.mp4").write_text("just text")
    with pytest.raises(InputError, match=r"notes\.mp4 is not a video or image file FFmpeg can read"):
        open_source(tmp_path / "notes.mp4")


def test_a_text_file_is_not_taken_for_a_video(tmp_path):
    """FFmpeg's tty demuxer reads any .txt or .nfo as pictures of its characters."""
    for name in ("notes.txt", "readme.nfo"):
        (tmp_path / name).write_text("Some notes about the shoot, scene 4, take 2.\n" * 200)
        with pytest.raises(InputError, match=rf"{name} is a text file, not a video"):
            open_source(tmp_path / name)


@pytest.mark.parametrize(
    "name, codec, cover, shown",
    [("a.m4a", "aac", False, "aac"), ("a.mp3", "libmp3lame", False, "mp3"), ("a.mp3", "libmp3lame", True, "mp3")],
)
def test_audio_only_file(tmp_path, name, codec, cover, shown):
    path = media.make_audio_only(tmp_path / name, codec=codec, cover=cover)  # cover art is no video
    with pytest.raises(InputError, match=rf"{name} has no video stream \(only audio: {shown}\)"):  # not mp3float
        open_source(path)


def test_zero_decodable_frames(tmp_path):
    path = media.drop_keyframes(media.make_video(tmp_path / "a.mkv", frames=8), tmp_path / "nokey.mkv")
    with pytest.raises(InputError, match=r"nokey\.mkv: the video stream has no decodable frames"):
        open_source(path)


def test_truncated_matroska_yields_the_good_frames_then_says_how_many(tmp_path):
    path = media.truncate(media.make_video(tmp_path / "a.mkv", frames=30), 0.5)
    with pytest.raises(InputError, match=r"ends early: (\d+) good frames?, [\d.]+ s of 1\.20 s") as e:
        read_all(path)
    good = int(e.value.args[0].split("ends early: ")[1].split()[0])
    assert 5 < good < 30 and e.value.frames_before == good
    assert "truncated or damaged" in str(e.value)


def test_matroska_cut_a_few_frames_before_its_end_is_truncated_too(tmp_path):
    """Its packets carry their durations, so where the last one stops must meet the stated duration:
    the slack for files whose last duration is unknown (three frames) let this pass."""
    source = media.make_video(tmp_path / "a.mkv", frames=50)
    with av.open(str(source)) as container:
        positions = sorted(p.pos for p in container.demux(video=0) if p.size)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(source.read_bytes()[: positions[-3]])  # the last three packets in the file lost
    with pytest.raises(InputError, match=r"ends early: 4\d good frames, 1\.8\d s of 2\.00 s") as e:
        read_all(cut)
    until = float(e.value.hint.split("--end ")[1])  # it said only "cut it before the damaged part"
    assert e.value.hint == f"re-copy the file, or restore the part before the damage with --end {until:g}"
    with open_source(cut, ReadOptions(Span(end=until))) as source:  # as said: every frame before the cut, and no error
        assert len(list(source)) == e.value.frames_before  # it raised: the file ended after the span's frames
    with pytest.raises(InputError, match="ends early"):  # a span past the cut still meets it
        read_all_of(cut, Span(end=until + 0.1))


def test_the_damage_hint_gives_an_end_before_the_cut_however_long_the_video():
    """`:g` printed 12345.67 as 12345.7, past the cut (found in review): following the hint failed again."""
    from deblur_cli.video_io.truncation import damaged_hint

    assert damaged_hint(12345.678).endswith("--end 12345.67")
    assert damaged_hint(1.7599999999).endswith("--end 1.76") and damaged_hint(2.0).endswith("--end 2")
    assert damaged_hint(2.24, start=5) == "re-copy the file: its frames stop at 2.24 s, none of them after --start 5"
    assert damaged_hint(0.004) == damaged_hint(None) == "re-copy the file, or cut it before the damaged part"


def read_all_of(path, span: Span) -> int:
    with open_source(path, ReadOptions(span)) as source:
        return sum(1 for _ in source)


def test_truncated_mp4_with_index_at_the_front(tmp_path):
    faststart = media.faststart(media.make_video(tmp_path / "a.mp4", frames=30), tmp_path / "fs.mp4")
    with pytest.raises(InputError, match=r"ends early: \d+ good frames? of 30") as e:
        read_all(media.truncate(faststart, 0.6))
    assert 0 < e.value.frames_before < 30


@pytest.mark.parametrize("size, keep", [((64, 48), 0.5), ((160, 96), 0.35), ((160, 96), 0.5), ((160, 96), 0.65)])
def test_a_file_cut_inside_its_last_packet_ends_before_that_packet_and_the_hint_s_span_is_whole(tmp_path, size, keep):
    # the cut last packet's frame is lost: the hint's --end reached into it, and following it a threaded
    # decoder given that packet lost the frames still in its threads (2 of 20 here), without a warning; once
    # the packet was left out, the warning counted the whole file's missing frames (40) against the span.
    # With B-frames (160x96) the lost frame is shown before frames decoded ahead of it, and frames between
    # may be cut off: the hint reached into them too (found in review: 23 of 25 frames and a warning)
    faststart = media.faststart(media.make_video(tmp_path / "a.mp4", frames=60, size=size), tmp_path / "fs.mp4")
    with av.open(str(faststart)) as container:  # cut in the middle of the packet at `keep` of the bytes
        placed = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    at = faststart.stat().st_size * keep
    pos, length = next((pos, length) for pos, length in placed if pos + length > at)  # x264's threads vary it
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(faststart.read_bytes()[: pos + length // 2])
    with av.open(str(cut)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
        assert packets[-1].is_corrupt  # the case itself: the file ends inside its last packet
    with pytest.raises(InputError, match="ends early") as refused:
        read_all(cut)
    until = float(refused.value.hint.split("--end ")[1].split()[0])
    assert until <= float(packets[-1].pts * packets[-1].time_base) + 1e-9  # not into the lost frame
    with open_source(cut, ReadOptions(Span(start=0, end=until))) as source:
        times = [frame.pts * float(source.info.time_base) for frame in source]
        assert source.warnings == []
    assert times == pytest.approx([k * 0.04 for k in range(round(until / 0.04))])  # every frame before it


def test_mp4_cut_before_its_index(tmp_path):
    path = media.truncate(media.make_video(tmp_path / "a.mp4", frames=10), 0.7)
    with pytest.raises(InputError, match=r"MP4/MOV file without its index \(moov atom\)"):
        open_source(path)


def test_damaged_webm(tmp_path):
    path = media.damage(media.make_video(tmp_path / "a.webm", frames=30), 0.3, 200)
    with pytest.raises(InputError, match=r"ends early: \d+ good frames?"):
        read_all(path)


@pytest.mark.parametrize("size", [(96, 64), (97, 63)])  # odd sides: chroma samples cover past the edge
@pytest.mark.parametrize("sampling", ["420", "422", "440", "444"])
def test_jpeg_frames_read_as_libjpeg_reads_them(tmp_path, size, sampling):
    """OpenCV (libjpeg) is how the JPEG datasets' published scores read their frames; FFmpeg's own
    conversion repeats chroma samples where libjpeg interpolates them (31 dB apart on this picture).
    What is left is the inverse DCT's rounding: a level or three here and there."""
    import cv2

    width, height = size
    picture = media.pattern(0, width, height)
    picture[height // 4 : height // 2, width // 3 : width // 2] = (200, 30, 40)  # sharp coloured edges
    path = tmp_path / "frame.jpg"
    factor = getattr(cv2, f"IMWRITE_JPEG_SAMPLING_FACTOR_{sampling}")
    options = [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor]
    assert cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), options)
    libjpeg = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.float64)
    with open_source(path) as source:
        assert source.info.pix_fmt == f"yuvj{sampling}p"
        ours = next(iter(source)).image.astype(np.float64)
    assert np.abs(ours - libjpeg).max() <= 3
    assert 10 * np.log10(255**2 / np.mean((ours - libjpeg) ** 2)) > 50


def test_empty_image_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(InputError, match=r"no images in directory .*empty") as e:
        open_source(tmp_path / "empty")
    assert ".png" in e.value.hint


def test_glob_without_matches(tmp_path):
    with pytest.raises(InputError, match=r"no file matches .*\*\.png"):
        open_source(tmp_path / "*.png")
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(InputError, match=r"no images in files matching .*\*"):
        open_source(tmp_path / "*")


def test_mixed_image_sizes_name_the_first_odd_file(tmp_path):
    media.make_images(tmp_path / "seq", count=3)
    media.write_image(tmp_path / "seq" / "img_002.png", media.pattern(1, 32, 32))
    media.write_image(tmp_path / "seq" / "img_003.png", media.pattern(2, 40, 40))
    with pytest.raises(InputError, match=r"img_002\.png is 32x32, but the sequence started with img_001\.png at 64x48"):
        read_all(tmp_path / "seq")


def test_unreadable_image_in_a_sequence_is_named(tmp_path):
    media.make_images(tmp_path / "seq", count=3)
    (tmp_path / "seq" / "img_002.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(InputError, match=r"img_002\.png is not an image FFmpeg can read") as e:
        read_all(tmp_path / "seq")
    assert e.value.frames_before == 1


def float_tiff(path: Path, order: str = "<", *, bits: int = 32, big: bool = False) -> Path:
    """A 4x3 grey TIFF (or BigTIFF) of floating-point samples (SampleFormat 3), as scientific and HDR tools
    write: 32-bit floats, or 16-bit halves."""
    import struct

    width, height = 4, 3
    values = [i / (width * height) for i in range(width * height)]
    pixels = struct.pack(f"{order}{len(values)}{'f' if bits == 32 else 'e'}", *values)
    offset, counter, size, field = ("Q", "Q", 20, 8) if big else ("I", "H", 12, 4)
    head = (b"II" if order == "<" else b"MM") + struct.pack(f"{order}H", 43 if big else 42)
    head += struct.pack(f"{order}HH", 8, 0) if big else b""
    start = len(head) + struct.calcsize(offset)  # the pixels, then the directory
    tags = [(256, 3, width), (257, 3, height), (258, 3, bits), (259, 3, 1), (262, 3, 1), (273, 4, start),
            (277, 3, 1), (278, 3, height), (279, 4, len(pixels)), (339, 3, 3)]  # fmt: skip
    ifd = struct.pack(f"{order}{counter}", len(tags)) + b"".join(
        struct.pack(f"{order}HH{offset}", tag, kind, 1)
        + struct.pack(f"{order}{'H' if kind == 3 else 'I'}", value).ljust(field, b"\0")
        for tag, kind, value in tags
    ) + bytes(struct.calcsize(offset))
    path.write_bytes(head + struct.pack(f"{order}{offset}", start + len(pixels)) + pixels + ifd)
    return path


@pytest.mark.parametrize("kind", ["little", "big-endian", "half", "BigTIFF"])
def test_a_float_tiff_is_named_as_such_not_as_damaged_nor_read_as_integers(tmp_path, kind):
    """FFmpeg refuses a 32-bit float grey TIFF (deblur said "the file is damaged or not an image"), and
    decodes a half-float one as 16-bit integers (read silently: 0.5 as 14336 of 65535)."""
    options = {"big-endian": {"order": ">"}, "half": {"bits": 16}, "BigTIFF": {"big": True}}.get(kind, {})
    path = float_tiff(tmp_path / "scan.tif", **options)
    with pytest.raises(InputError, match=r"scan\.tif is a floating-point TIFF of a kind FFmpeg does not decode") as e:
        read_all(path)
    assert e.value.hint == "save it as a 16-bit integer TIFF or a PNG"


def test_later_images_of_a_richer_kind_are_read_at_the_firsts_with_one_warning(tmp_path):
    """The first image decides the kind a sequence is read at: a later image's transparency and depth are
    lost, which went unsaid before; one line now counts them. A later image that loses nothing (opaque
    RGBA, grey, an opaque palette, or shallower than the first) is not counted."""
    from PIL import Image

    seq = tmp_path / "seq"
    media.make_images(seq, count=2)  # img_001, img_002: 8-bit RGB
    media.write_image(seq / "img_003.png", media.rgba_pattern(2, 64, 48))
    media.write_image(seq / "img_004.png", media.pattern(3, 64, 48, bit_depth=16))
    media.write_image(seq / "img_005.tif", media.rgba_pattern(4, 64, 48, bit_depth=16))
    opaque = np.dstack([media.pattern(5, 64, 48), np.full((48, 64), 255, np.uint8)])
    media.write_image(seq / "img_006.png", opaque)
    Image.fromarray(media.pattern(6, 64, 48)[..., 0]).save(seq / "img_007.png")
    Image.fromarray(media.pattern(7, 64, 48)).convert("P", palette=Image.ADAPTIVE).save(seq / "img_008.png")
    with open_source(seq) as source:
        assert source.warnings == []  # nothing is known before the images are read
        frames = list(source)
    assert source.warnings == [
        "3 of 8 images were read at the first's kind (img_001.png, 8-bit RGB): 2 with transparency, read opaque;"
        " 2 of 16 bits, rounded to 8"
    ]
    assert all(frame.alpha is None and frame.image.dtype == np.uint8 for frame in frames)
    deep = media.pattern(3, 64, 48, bit_depth=16).astype(int)
    assert np.abs(frames[3].image.astype(int) * 257 - deep).max() <= 128  # rounded once (swscale: 1.25 codes off)

    rich = tmp_path / "rich"  # the first holds the most: the others lose nothing
    rich.mkdir()
    media.write_image(rich / "a_1.png", media.rgba_pattern(0, 64, 48, bit_depth=16))
    media.make_images(rich, count=2, name="a_{}", start=2)
    with open_source(rich) as source:
        assert len(list(source)) == 3 and source.warnings == []
    one = tmp_path / "one"
    media.make_images(one, count=2)
    media.write_image(one / "img_003.png", media.rgba_pattern(2, 64, 48))
    with open_source(one) as source:
        list(source)
    assert source.warnings == [
        "1 of 3 images was read at the first's kind (img_001.png, 8-bit RGB): 1 with transparency, read opaque"
    ]


def test_unknown_video_codec(tmp_path):
    path = media.make_undecodable(tmp_path / "avs2.mkv")
    with pytest.raises(InputError, match=r"avs2\.mkv: no decoder for its video codec"):
        open_source(path)


# --- bad outputs ---------------------------------------------------------------------------------------------

INFO = VideoInfo(width=64, height=48, fps=Fraction(25), time_base=Fraction(1, 25), frame_count=2, bit_depth=8)


@pytest.mark.parametrize(
    "target, options, message",
    [
        ("o.mp4", {"codec": "nope"}, r"unknown video codec 'nope'"),
        ("o.webm", {"codec": "libx264"}, r"the \.webm container cannot hold libx264 video"),
        ("o.y4m", {"codec": "libx264"}, r"the \.y4m container cannot hold libx264 video"),  # refused when it opens
        ("o.ogv", {}, r"the \.ogv container cannot hold libx264 video"),
        ("o.mp4", {"pix_fmt": "bogus"}, r"unknown pixel format 'bogus'"),
        ("o.mp4", {"pix_fmt": "yuv422p10le", "codec": "mjpeg"}, r"mjpeg cannot encode pixel format yuv422p10le"),
        ("o.mp4", {"preset": "warp"}, r"unknown preset 'warp'"),
        ("o.mp4", {"crf": 52}, r"--crf 52 is beyond libx264's scale, 0 to 51"),  # x264 took it as 51, silently
        ("o.xyz", {}, r"cannot tell the video format of o\.xyz from its suffix"),
        ("dir/", {"codec": "libx264"}, r"is a directory, which holds PNG frames, not libx264 video"),
    ],
)
def test_bad_output_settings(tmp_path, target, options, message):
    with pytest.raises(OutputError, match=message):
        open_sink(tmp_path / target if not target.endswith("/") else str(tmp_path / target), INFO,
                  EncodeOptions(**options))
    assert os.listdir(tmp_path) == []


def test_odd_size_with_a_subsampled_pixel_format_is_refused(tmp_path):
    odd = VideoInfo(width=67, height=45, fps=Fraction(25), time_base=Fraction(1, 25), frame_count=1, bit_depth=8)
    with pytest.raises(OutputError, match=r"yuv420p .* cannot hold the odd size 67x45") as e:
        open_sink(tmp_path / "o.mp4", odd, EncodeOptions(pix_fmt="yuv420p"))
    assert "yuv444p" in e.value.hint
    with pytest.raises(OutputError, match=r"libsvtav1 cannot encode a 67x45 video without changing its size"):
        open_sink(tmp_path / "o.mkv", odd, EncodeOptions(codec="av1"))


@pytest.mark.parametrize("target, codec", [("o.ogv", None), ("o.y4m", "libx264"), ("o.swf", None)])
def test_a_container_that_refuses_the_codec_is_found_before_any_model_loads(tmp_path, target, codec):
    """SWF's muxer refuses H.264 with EPERM, which read as the disk's: 'o.swf: Operation not permitted'."""
    from deblur_cli.video_io.sinks import planned_warnings

    with pytest.raises(OutputError, match=r"container cannot hold libx264 video") as e:
        planned_warnings(tmp_path / target, INFO, EncodeOptions(codec=codec))
    assert e.value.exit_code == 2  # -o's suffix (and --codec) a bad option, as an unknown suffix is


def test_a_hardware_encoder_without_its_device_is_the_encoders_fault_not_the_containers(tmp_path):
    """NVENC without a GPU fails to open with EPERM, which the in-memory check took for SWF's muxer refusal:
    'the .mp4 container cannot hold h264_nvenc video', and the .mkv hint looped."""
    if "h264_nvenc" not in av.codecs_available:
        pytest.skip("this FFmpeg has no h264_nvenc")
    nvenc = av.CodecContext.create("h264_nvenc", "w")
    nvenc.width, nvenc.height, nvenc.pix_fmt, nvenc.time_base = 64, 48, "yuv420p", Fraction(1, 25)
    try:
        nvenc.open()
        pytest.skip("NVENC opens here: this machine has its GPU")
    except (ValueError, av.FFmpegError):
        pass
    from deblur_cli.video_io.sinks import planned_warnings

    with pytest.raises(OutputError, match="the h264_nvenc encoder cannot be opened here") as e:
        planned_warnings(tmp_path / "o.mkv", INFO, EncodeOptions(codec="h264_nvenc"))
    assert "container" not in str(e.value)


@pytest.mark.parametrize("target", ["o.webm", "o.y4m"])  # refused as the stream is added; when the encoder opens
def test_a_named_codec_the_container_cannot_hold_is_a_bad_option(tmp_path, target):
    with pytest.raises(EncoderOptionError, match=r"container cannot hold libx264 video") as e:
        open_sink(tmp_path / target, INFO, EncodeOptions(codec="libx264"))
    assert e.value.exit_code == 2
    assert ".mkv" in e.value.hint and ".mp4" in e.value.hint


@pytest.mark.parametrize("codec, holding", [("utvideo", "use .avi, which holds"), ("qtrle", "use .mov, which holds")])
def test_the_hint_for_a_container_that_cannot_hold_the_codec_names_one_that_can(tmp_path, codec, holding):
    """It said "use .mkv, which holds almost any codec" to a .mkv output."""
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg has no {codec}")
    with pytest.raises(OutputError, match=f"the .mkv container cannot hold {codec} video") as e:
        open_sink(tmp_path / "o.mkv", INFO, EncodeOptions(codec=codec))
    assert e.value.hint.startswith(holding)


def test_av1_into_mov_is_the_container_s_refusal_not_the_encoder_s(tmp_path):
    """MOV takes an AV1 stream and refuses it at its header; the check that the encoder opens alone gave
    SVT-AV1 no frame rate, so it took the time base for one (12800 fps, over its 240) and was blamed."""
    if "libsvtav1" not in av.codecs_available:
        pytest.skip("this FFmpeg has no libsvtav1")
    info = replace(INFO, time_base=Fraction(1, 12800), width=128, height=96)
    with pytest.raises(OutputError, match="the .mov container cannot hold libsvtav1 video") as e:
        open_sink(tmp_path / "o.mov", info, EncodeOptions(codec="libsvtav1"))
    assert ".mov" not in e.value.hint and ".mp4" in e.value.hint


@pytest.mark.parametrize("width, height", [(1, 1), (8, 1), (1, 8), (3, 1)])
@pytest.mark.parametrize("target", ["o.mp4", "o.mkv"])
def test_a_video_one_pixel_wide_or_high_is_written(tmp_path, width, height, target):
    """4:2:0 cannot hold a side of 1 (its chroma covers two pixels; x264 refuses it); 4:4:4 can. FFV1
    keeps an FFV1 source, whose rows PyAV takes only with packed strides (FFV1 cannot encode a column)."""
    codec, pix_fmt = ("libx264", "yuv444p") if width == 1 and height > 1 else ("ffv1", "bgr0")
    source = media.make_video(tmp_path / "in.mkv", frames=2, size=(width, height), codec=codec, pix_fmt=pix_fmt)
    info, images, _ = convert(source, tmp_path / target)
    assert (info.width, info.height) == (width, height)
    assert [image.shape for image in decode(tmp_path / target)] == [(height, width, 3)] * 2


def test_a_frame_that_is_a_view_with_a_side_of_one_is_encoded(tmp_path):
    """numpy calls such a view contiguous whatever its strides; PyAV checks the strides (it refused this)."""
    tiny = VideoInfo(width=1, height=1, fps=Fraction(25), time_base=Fraction(1, 25), frame_count=1, bit_depth=8)
    rgba = np.full((1, 1, 4), 200, np.uint8)
    with open_sink(tmp_path / "o.mkv", tiny, EncodeOptions(codec="ffv1")) as sink:
        sink.write(rgba[..., :3], 0)
    assert decode(tmp_path / "o.mkv")[0].tolist() == [[[200, 200, 200]]]


def _anamorphic(path: Path) -> Path:
    """A 2-frame H.264 video whose pixels are 4:3 (the ratio in the codec's own headers)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.sample_aspect_ratio = Fraction(4, 3)
        for index in range(2):
            frame = av.VideoFrame.from_ndarray(media.pattern(index, 64, 48), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame.reformat(format="yuv420p")))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    "target, codec, kept",
    [("o.mp4", None, True), ("o.mkv", None, True), ("o.mp4", "ffv1", True), ("o.mkv", "ffv1", False),
     ("o.webm", None, False)],
)  # fmt: skip
def test_the_pixel_aspect_ratio_is_kept_or_its_loss_said(tmp_path, target, codec, kept):
    source = _anamorphic(tmp_path / "in.mp4")
    info, _, warnings = convert(source, tmp_path / target, codec=codec)
    assert info.sample_aspect_ratio == Fraction(4, 3)
    assert (describe(tmp_path / target).sample_aspect_ratio == Fraction(4, 3)) == kept
    assert any("does not record the input's pixel aspect ratio (4:3)" in w for w in warnings) == (not kept)


def test_small_files_written_whole_get_the_usual_permissions(tmp_path):
    """bench's and evaluate's JSON and plots: readable by others where the umask says so, as videos are
    (mkstemp's 0600 kept them from the rest of a team)."""
    before = os.umask(0o022)
    try:
        files.write_bytes(tmp_path / "scores.json", b"{}")
    finally:
        os.umask(before)
    assert (tmp_path / "scores.json").stat().st_mode & 0o777 == 0o644
    assert os.listdir(tmp_path) == ["scores.json"]


def test_missing_output_directory(tmp_path):
    with pytest.raises(OutputError, match=r"directory .*missing does not exist"):
        open_sink(tmp_path / "missing" / "o.mp4", INFO)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, a folder that takes no new files")
def test_output_directory_that_takes_no_files_is_not_called_missing():
    with pytest.raises(OutputError, match=r"^cannot create files in /proc$"):
        open_sink(Path("/proc") / "o.mp4", INFO)


def test_output_directory_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"file is not a directory"):
        open_sink(tmp_path / "file" / "o.mp4", INFO)


def test_unwritable_output_directory(tmp_path, protect):
    locked = tmp_path / "locked"
    locked.mkdir()
    protect(locked)
    with pytest.raises(OutputError, match=r"cannot write to .*locked: permission denied"):
        open_sink(locked / "o.mp4", INFO)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_disk_full_is_reported_and_cleaned_up(tmp_path, monkeypatch):
    # the temporary output is a link to /dev/full, where every write fails with ENOSPC as on a full disk
    link = tmp_path / ".o.deblur-full.mp4"

    def reserve_full(final, folder=None):
        link.symlink_to("/dev/full")
        return link

    monkeypatch.setattr(files, "reserve_file", reserve_full)
    noise = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    with pytest.raises(OutputError, match=r"disk full while writing .*o\.mp4") as e:
        with open_sink(tmp_path / "o.mp4", INFO) as sink:
            for _ in range(200):
                sink.write(noise)
    assert "free some space" in e.value.hint
    assert os.listdir(tmp_path) == []


def test_png_output_into_a_non_empty_directory_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"out already exists and is not an empty directory"):
        open_sink(tmp_path / "out", INFO)
    assert os.listdir(tmp_path / "out") == ["keep.txt"]


# --- atomic outputs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["o.mp4", "frames"])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_abort_leaves_nothing_behind(tmp_path, target, error):
    source = media.make_video(tmp_path / "a.mkv", frames=6, audio="aac")
    before = set(os.listdir(tmp_path))
    with pytest.raises(error):
        with open_source(source) as frames, open_sink(tmp_path / target, frames.info, source=source) as sink:
            for frame in frames:
                sink.write(frame)
                if frame.index == 3:
                    # the folder of the output's lock, and the temporary output: a video's in that folder (what a
                    # killed run leaves there, the next removes), a folder of frames beside it
                    beside = 1 if target == "o.mp4" else 2
                    assert len(leftovers(tmp_path, before)) == beside and work_folder(tmp_path / target).is_dir()
                    assert not (tmp_path / target).exists()
                    raise error()
    assert leftovers(tmp_path, before) == []


@pytest.mark.parametrize("target", ["o.png", "o.mkv"])
def test_an_aborted_output_leaves_the_file_it_would_replace_as_it_was(tmp_path, target):
    """Found in review (tests53 F2): an image written under its final name passed every test, and a stopped
    `--force` run deleted the image it was to replace."""
    (tmp_path / target).write_bytes(b"an earlier result")
    options = EncodeOptions(codec="ffv1" if target.endswith(".mkv") else None)
    with pytest.raises(KeyboardInterrupt):
        with open_sink(tmp_path / target, replace(INFO, frame_count=1), options) as sink:
            sink.write(media.pattern(0, 64, 48))
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == [target] and (tmp_path / target).read_bytes() == b"an earlier result"


def test_failed_input_aborts_the_output(tmp_path):
    source = media.truncate(media.make_video(tmp_path / "a.mkv", frames=30), 0.5)
    before = set(os.listdir(tmp_path))
    with pytest.raises(InputError):
        with open_source(source) as frames, open_sink(tmp_path / "o.mp4", frames.info, source=source) as sink:
            for frame in frames:
                sink.write(frame)
    assert leftovers(tmp_path, before) == []


def test_finishing_without_frames_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(OutputError, match=r"no frames were written"):
        with open_sink(tmp_path / "o.mp4", INFO):
            pass
    assert os.listdir(tmp_path) == []


def test_output_appears_only_when_finished_with_usual_permissions(tmp_path):
    sink = open_sink(tmp_path / "o.mkv", INFO, EncodeOptions(codec="ffv1"))
    sink.write(media.pattern(0, 64, 48))
    assert not (tmp_path / "o.mkv").exists()
    sink.finish()
    assert os.listdir(tmp_path) == ["o.mkv"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "o.mkv").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("target", ["o.mkv", "frames"])
def test_an_aborted_output_refuses_more_frames(tmp_path, target):
    sink = open_sink(tmp_path / target, INFO, EncodeOptions(codec="ffv1" if target.endswith(".mkv") else None))
    sink.write(media.pattern(0, 64, 48))
    sink.abort()
    with pytest.raises(OutputError, match=r"was already aborted"):
        sink.write(media.pattern(1, 64, 48))
    with pytest.raises(OutputError, match=r"was already aborted"):
        sink.finish()
    assert os.listdir(tmp_path) == []


def test_the_library_prints_nothing(tmp_path):
    # a fresh process: encoder libraries (x265, SVT-AV1) set up their own logging once, at first use
    ten = media.make_video(tmp_path / "ten.mkv", frames=3, size=(64, 64), bit_depth=10, codec="libx265", audio="aac")
    square = media.make_video(tmp_path / "square.mkv", frames=2, size=(64, 64))  # SVT-AV1's smallest frame
    script = f"""
from deblur_cli.video_io import EncodeOptions, open_sink, open_source
for source, target, codec in [({str(ten)!r}, "o.mkv", "libx265"), ({str(ten)!r}, "o.webm", None),
                              ({str(square)!r}, "av1.mkv", "av1"), ({str(square)!r}, "frames", None)]:
    with open_source(source) as frames, open_sink(target, frames.info, EncodeOptions(codec=codec), source=source) as sink:
        for frame in frames:
            sink.write(frame)
"""
    env = {k: v for k, v in os.environ.items() if k != "SVT_LOG"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert sorted(os.listdir(tmp_path)) == ["av1.mkv", "frames", "o.mkv", "o.webm", "square.mkv", "ten.mkv"]


def make_hdr10(path, *, frames: int = 3):
    """A 10-bit HEVC clip tagged BT.2020/PQ with mastering display and light-level SEI, as HDR10 cameras write."""
    params = "log-level=error:hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)"
    params += "L(10000000,1):max-cll=1000,400"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx265", rate=25, options={"x265-params": params})
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p10le"
        context = stream.codec_context
        context.color_primaries, context.color_trc, context.colorspace = 9, 16, 9  # BT.2020, PQ, BT.2020 NCL
        # x265 leaves some short encodes' decode times unset (garbage), which the muxer refused now and then
        # (once in the oldest releases' matrix run, 2026-12-06): made sane as media.make_video makes them
        earliest = Fraction(-frames, 25)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(media.pattern(index, 64, 64, bit_depth=10), format="rgb48le")
            frame = frame.reformat(format="yuv420p10le", dst_colorspace=9)
            frame.pts, frame.time_base = index, Fraction(1, 25)
            container.mux(with_sane_dts(stream.encode(frame), earliest))
        container.mux(with_sane_dts(stream.encode(), earliest))
    return path


def test_hdr10_metadata_is_read_and_written_back(tmp_path):
    source = make_hdr10(tmp_path / "hdr.mkv")
    info = describe(source)
    assert info.hdr.primaries == ((0.68, 0.32), (0.265, 0.69), (0.15, 0.06))
    assert info.hdr.white_point == (0.3127, 0.329) and info.hdr.luminance == (0.0001, 1000.0)
    assert (info.hdr.max_cll, info.hdr.max_fall) == (1000, 400)
    for name in ("out.mp4", "out.mkv"):  # the default for 10-bit input there: HEVC Main 10
        _, _, warnings = convert(source, tmp_path / name)
        assert warnings == []
        out = describe(tmp_path / name)
        assert (out.codec, out.hdr, out.color["transfer"]) == ("hevc", info.hdr, 16)
    _, _, warnings = convert(source, tmp_path / "vp9.webm", codec="vp9")
    assert any("HDR10 mastering metadata is not written by libvpx-vp9" in w for w in warnings)


@pytest.mark.skipif(_deepest("libsvtav1") < 10, reason="needs libsvtav1")
@pytest.mark.parametrize("name", ["out.webm", "av1.mkv"])
def test_hdr10_metadata_is_written_by_svtav1(tmp_path, name):
    """AV1 is .webm's choice for 10-bit input where VP9 stores only 8 bits: it left the metadata out."""
    source = make_hdr10(tmp_path / "hdr.mkv", frames=2)
    info = describe(source)
    _, _, warnings = convert(source, tmp_path / name, codec="libsvtav1")
    out = describe(tmp_path / name)
    assert (warnings, out.color["transfer"], out.pix_fmt) == ([], 16, "yuv420p10le")
    # AV1 stores chromaticity in steps of 1/65536 and the least luminance in steps of 1/16384 cd/m²
    assert np.ravel(out.hdr.primaries) == pytest.approx(np.ravel(info.hdr.primaries), abs=2e-5)
    assert out.hdr.white_point == pytest.approx(info.hdr.white_point, abs=2e-5)
    assert out.hdr.luminance == pytest.approx(info.hdr.luminance, abs=1e-4)
    assert (out.hdr.max_cll, out.hdr.max_fall) == (1000, 400)


def test_sdr_video_has_no_hdr_metadata(tmp_path):
    assert describe(media.make_video(tmp_path / "a.mp4", frames=2)).hdr is None


def test_damage_messages_count_good_frames_in_words():
    from deblur_cli.video_io.truncation import good_frames

    assert [good_frames(n) for n in (0, 1, 2)] == ["0 good frames", "1 good frame", "2 good frames"]


def test_check_writable_probes_the_folder_and_leaves_nothing(tmp_path):
    from deblur_cli.files import check_writable, write_bytes

    check_writable(tmp_path / "scores.json")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError, match="does not exist"):
        check_writable(tmp_path / "missing" / "scores.json")
    with pytest.raises(OutputError, match="is a folder"):
        check_writable(tmp_path)
    with pytest.raises(OutputError, match="does not exist"):  # an OutputError, not an OSError, at the end too
        write_bytes(tmp_path / "missing" / "scores.json", b"{}")


def test_an_mp4_cut_without_reencoding_is_not_taken_for_a_truncated_one(tmp_path):
    # its index counts 30 samples, its edit list shows the last 25: fewer packets than the count, yet whole
    source = media.make_video(tmp_path / "whole.mp4", frames=30, gop=10)
    cut = media.cut_without_reencoding(source, tmp_path / "cut.mp4", frames=5)
    with av.open(str(cut)) as container:
        assert container.streams.video[0].frames == 30  # the control: the count the reader must not trust alone
    with open_source(cut) as frames:
        kept = [frame.image for frame in frames]
    assert len(kept) == 25
    assert all(np.array_equal(a, b) for a, b in zip(kept, decode(source)[5:]))


def test_a_damaged_packet_in_the_middle_is_skipped_with_a_warning(tmp_path):
    source = media.make_video(tmp_path / "a.mp4", frames=60, size=(128, 96), gop=10)
    damaged = media.damage(source, 0.3, 300)
    with av.open(str(damaged)) as container:  # the control: the decoder refuses a packet of it
        with pytest.raises(av.FFmpegError):
            for packet in container.demux(video=0):
                container.streams.video[0].decode(packet)
    with open_source(damaged) as frames:
        assert frames.warnings == []
        kept = [frame.pts for frame in frames]
        warnings = frames.warnings
    assert 50 <= len(kept) < 60 and kept == sorted(kept)
    (warning,) = warnings
    missing = 60 - len(kept)
    pattern = (
        r"bad-a\.mp4: (a damaged packet|\d+ damaged packets) of the video could not be decoded and (was|were) "
        rf"skipped; {missing} frames? (is|are) missing from the output, and some frames after the damage may show blocks"
    )
    assert re.fullmatch(pattern, warning), warning


@pytest.mark.parametrize("where", [0.3, 0.5, 0.7])
def test_frames_an_mpeg_ts_loses_silently_are_counted_from_its_timestamps(tmp_path, where):
    """MPEG-TS's demuxer drops damaged packets with no error: only the timestamps show the loss, and where."""
    source = media.make_video(tmp_path / "a.ts", frames=60, size=(96, 64), codec="libx264")
    with open_source(source) as frames:  # the control: an undamaged recording, a frame apart throughout
        assert len(list(frames)) == 60 and frames.warnings == []
    damaged = media.damage(source, where, 300)
    with av.open(str(damaged)) as container:  # nothing the decoder refuses
        stream = container.streams.video[0]
        decoded = sum(len(stream.decode(packet)) for packet in container.demux(stream))
    with open_source(damaged) as frames:
        kept = list(frames)
        warnings = frames.warnings
    assert len(kept) == decoded < 60
    missing = 60 - len(kept)
    count = "a frame" if missing == 1 else f"{missing} frames"
    pts = [frame.pts for frame in kept]
    step = pts[1] - pts[0]  # 25 fps: 3600 on the 90 kHz clock
    jumps = [a + step - pts[0] for a, b in zip(pts, pts[1:]) if b - a > step]  # where, from the first frame
    # one jump, or two where the damage falls across two packets' frames (seen on one CPU's encode, not another's)
    where = f"at {jumps[0] / 90000:g} s"
    where = where if len(jumps) == 1 else f"in {len(jumps)} places, the first {where}"
    # the damaged picture itself may warn too (values past white decoded from the damage, seen in one run of two
    # on the same machine): the warning of the timestamps is the one tested
    assert [warning for warning in warnings if "timestamps" in warning] == [
        f"bad-a.ts: the video's timestamps jump over {count} {where}, missing from the file (damage the demuxer "
        "dropped, or frames the recorder dropped); an output that keeps each frame's time keeps the gaps, where a "
        "player holds the frame before"
    ]


def test_a_long_jump_in_an_mpeg_ts_is_a_discontinuity_not_lost_frames(tmp_path):
    """A spliced broadcast: the clock jumps a minute forward between two frames a frame apart in the picture.
    `deblur info` says the same (found in review: it counted the minute as 1500 frames missing), and an output that
    counts frames, which closes the pause, says so before the run."""
    step, minute = 3600, 60 * 90000  # 25 fps on MPEG-TS's 90 kHz clock
    pts = [i * step for i in range(10)] + [minute + i * step for i in range(10, 18)]
    pts[15] += step  # and one frame lost after it
    del pts[16]
    source = media.make_video(
        tmp_path / "rec.ts", frames=len(pts), codec="libx264", pts=pts, time_base=Fraction(1, 90000)
    )
    with open_source(source) as frames:
        assert len(list(frames)) == 17
        warnings = frames.warnings
    assert warnings == [
        "rec.ts: the video's timestamps jump forward once, by up to 60 s (a discontinuity, as where a broadcast "
        "recording was spliced); an output that keeps each frame's time keeps the pause",
        "rec.ts: the video's timestamps jump over a frame at 60.6 s, missing from the file (damage the demuxer "
        "dropped, or frames the recorder dropped); an output that keeps each frame's time keeps the gaps, where a "
        "player holds the frame before",
    ]
    assert reading_warnings(source, info := describe(source)) == [line.removeprefix("rec.ts: ") for line in warnings]
    closed = " ".join(planned_warnings(tmp_path / "out.y4m", info, source=source))
    assert "jump forward by up to 60 s (a discontinuity): the output closes the pause" in closed


def _rising(stamps: list[int | None], step: int = 512) -> tuple[list[tuple[int | None, int]], int]:
    frames = [SimpleNamespace(pts=p) for p in stamps]
    left_out = []
    timed = list(rising_timestamps(iter(frames), step, lambda: left_out.append(1)))
    return [(frame.pts, pts) for frame, pts in timed], len(left_out)


def test_a_stale_frame_returned_late_is_left_out_and_a_restarted_clock_goes_on():
    """A damaged MP4's decoder returned a frame stamped 4608 after 9216: it was stamped 9728 and pushed
    the real 9728 to 9729 (a frame 1/12800 s long at the end, the stale picture in the last window)."""
    assert _rising([0, 512, 8704, 9216, 4608, 9728]) == ([(0, 0), (512, 512), (8704, 8704), (9216, 9216), (9728, 9728)], 1)
    restarted = _rising([0, 512, 1024, 0, 512])  # files joined end to end: the clock starts again
    assert restarted == ([(0, 0), (512, 512), (1024, 1024), (0, 1536), (512, 2048)], 0)
    assert _rising([0, 512, 1024, 0]) == ([(0, 0), (512, 512), (1024, 1024), (0, 1536)], 0)  # nothing after: kept
    assert _rising([0, 512, 512, 500, None, 2048]) == (
        [(0, 0), (512, 512), (512, 513), (500, 514), (None, 1026), (2048, 2048)], 0
    )  # a repeat or a little behind: one unit on; no stamp: a frame on
    assert _rising([None, 0]) == ([(None, 0), (0, 1)], 0)


# 240 and 250 bytes: room for the name, not for the temporary name or the work folder's beside it
@pytest.mark.parametrize("stem", ["a" * 240, "é" * 125], ids=["ascii-240-bytes", "utf8-250-bytes"])
def test_outputs_with_names_near_the_file_systems_limit(tmp_path, stem):
    from deblur_cli.pipeline import deblur_video
    from tests.restorers import IdentityRestorer

    source = media.make_video(tmp_path / "in.mp4", frames=3)
    for target in (tmp_path / f"{stem}.mp4", tmp_path / stem):  # a video; a folder of PNG frames
        deblur_video(source, target, IdentityRestorer())  # by way of the work folder that resuming uses
        assert target.exists()
    other = tmp_path / f"{stem}.mkv"
    for name in (work_folder(tmp_path / f"{stem}.mp4").name, work_folder(other).name):
        assert len(name.encode()) <= 255
    assert work_folder(tmp_path / f"{stem}.mp4") != work_folder(other)


def test_a_frame_size_change_part_way_is_scaled_with_a_warning(tmp_path):
    # two MPEG-TS recordings of different sizes joined byte by byte, as a capture that changed mode
    sizes = ((96, 64), (128, 72))
    parts = [media.make_video(tmp_path / f"{w}.ts", frames=6, size=(w, h), codec="libx264") for w, h in sizes]
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(part.read_bytes() for part in parts))
    with open_source(joined) as frames:
        shapes = {frame.image.shape for frame in frames}
        warnings = frames.warnings
    assert shapes == {(64, 96, 3)}
    assert warnings == [
        "joined.ts: the video's frame size changes (128x72 from frame 7 on); those frames were scaled to the "
        "first size, 96x64"
    ]


def test_several_data_streams_left_out_are_counted_in_one_warning(tmp_path):
    path = tmp_path / "multi.ts"
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        tracks = [container.add_data_stream("klv") for _ in range(3)]  # as an iPhone's several metadata tracks
        for index in range(3):
            container.mux(video.encode(av.VideoFrame.from_ndarray(media.pattern(index, 64, 48), format="rgb24")))
            for track in tracks:
                packet = av.Packet(b"\x06\x0e\x2b\x34" + bytes(12))
                packet.stream, packet.pts, packet.dts, packet.time_base = track, index * 3600, index * 3600, Fraction(1, 90000)
                container.mux(packet)
        container.mux(video.encode())
    _, _, warnings = convert(path, tmp_path / "out.mp4")
    assert warnings == [
        "3 data streams (3 klv) of the input are left out (deblur carries GoPro telemetry, into .mp4 and .mov, "
        "and timecode)"
    ]


def test_tiny_deep_video_is_kept_off_x265_which_crashes_on_it():
    from deblur_cli.video_io.encoding import resolve_encoder

    assert resolve_encoder(EncodeOptions(), ".mp4", 10, 48, 40).encoder == "libx264"  # x265 aborts the process
    # x265 gave a two-frame encode a garbage decode timestamp now and then, and the muxer refused it
    assert resolve_encoder(EncodeOptions(), ".mp4", 10, 64, 32).encoder == "libx264"
    assert resolve_encoder(EncodeOptions(), ".mp4", 10, 64, 64).encoder == "libx265"
    with pytest.raises(OutputError, match="libx265 cannot encode 48x40 frames"):
        resolve_encoder(EncodeOptions(codec="x265"), ".mkv", 10, 48, 40)
    # a bare .hevc stream holds nothing else: it said "the .hevc container cannot hold libx264 video"
    with pytest.raises(OutputError, match="libx265 cannot encode 64x48 frames") as caught:
        resolve_encoder(EncodeOptions(), ".hevc", 8, 64, 48)
    assert caught.value.hint == "write .h264 or .mkv instead"


def test_a_long_pause_in_the_timestamps_is_written_with_them(tmp_path):
    """A recording paused for 40 minutes (or camera files joined): x264 reorders frames across the pause with
    decode times that far back, which an hour's sanity limit (with_sane_dts) moved past the next packet's:
    the muxer refused the packet ("Invalid argument"), and a segmented run restored every frame, then failed
    ("the segments cannot be joined"). Found in review."""
    stamps = [0, 40] + [2_500_000 + 40 * k for k in range(1, 60)]
    source = media.make_video(tmp_path / "in.mkv", frames=len(stamps), pts=stamps, time_base=Fraction(1, 1000))
    base = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)  # moving: x264 reorders it
    info = describe(source)
    with open_sink(tmp_path / "out.mkv", info, EncodeOptions(codec="libx264")) as sink:
        for index, pts in enumerate(stamps):
            sink.write(np.roll(base, index, axis=1), pts)
    with av.open(str(tmp_path / "out.mkv")) as container:
        assert sorted(p.pts for p in container.demux(video=0) if p.size) == stamps


def test_packets_without_a_possible_decode_time_are_decoded_when_shown():
    """x265 leaves the decode timestamp unset on some short encodes (writer.with_sane_dts)."""
    from fractions import Fraction

    from deblur_cli.video_io.writer import with_sane_dts

    def packet(pts, dts):
        p = av.Packet(b"\0")
        p.time_base, p.pts, p.dts = Fraction(1, 1000), pts, dts
        return p

    # frames given from 0 to 80 ms: no decode time before -80 - 40 ms (a frame) is one the encoder could give
    earliest = Fraction(-120, 1000)
    garbage = [packet(0, 4090149695187711280), packet(40, -94852852370112), packet(80, None)]
    assert [p.dts for p in with_sane_dts(garbage, earliest)] == [0, 40, 80]
    days = [packet(0, -279_173_000)]  # x265 at a 1 us clock: 3 days before (the second review), as 1/1000 here
    assert [p.dts for p in with_sane_dts(days, earliest)] == [0]
    reordered = [packet(0, -80), packet(120, -40), packet(40, 0)]  # B-frames: dts before pts, kept
    assert [p.dts for p in with_sane_dts(reordered, earliest)] == [-80, -40, 0]
    slides = [packet(0, -2_000_000), packet(5_000_000, -1_000_000)]  # --fps 0.001: a frame lasts 1000 s
    assert [p.dts for p in with_sane_dts(slides, Fraction(-7000))] == [-2_000_000, -1_000_000]
    # x264 across a 40-minute pause (found in review): an hour's limit moved the second decode time past the
    # third, and the run failed at its end ("the segments cannot be joined: their timestamps overlap")
    paused = [packet(0, -2_500_040), packet(2_500_040, -2_500_000), packet(40, 0), packet(2_500_080, 40)]
    assert [p.dts for p in with_sane_dts(paused, Fraction(-2_500_120, 1000))] == [-2_500_040, -2_500_000, 0, 40]


@pytest.mark.parametrize(
    ("name", "room", "cut"),
    [
        ("héllo", 2, "h"),  # é is two bytes: not split
        ("héllo", 3, "hé"),
        ("日本語", 4, "日"),
        ("😀a", 3, ""),
        (os.fsdecode(b"ab\xffcd"), 3, os.fsdecode(b"ab\xff")),  # bytes that are not UTF-8 are kept
        (os.fsdecode(b"\xe9" + "é".encode() * 10), 8, os.fsdecode(b"\xe9" + "é".encode() * 3)),
    ],
)
def test_names_are_cut_to_bytes_without_splitting_a_character(name, room, cut):
    from deblur_cli.files import cut_to_bytes

    assert cut_to_bytes(name, room) == cut and len(os.fsencode(cut)) <= room
