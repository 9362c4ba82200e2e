"""Transparency: an input's alpha channel bypasses the model and is written where the output's format
has one (ProRes 4444, VP9, FFV1, QuickTime Animation, PNG, TIFF); elsewhere the run warns."""

from __future__ import annotations

import io
import json
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import deblur_cli.pipeline as pipeline
from deblur_cli.cli import app
from deblur_cli.pipeline import deblur_video
from deblur_cli.video_io import EncodeOptions, ReadOptions, open_source
from deblur_cli.video_io.encoding import resolve_encoder
from deblur_cli.video_io.info import carries_alpha
from deblur_cli.windows import WindowOptions
from tests import media
from tests.restorers import MixingRestorer

runner = CliRunner()
SIZE = (48, 32)
FRAMES = 9


def deblur(*args) -> dict:
    result = runner.invoke(app, ["run", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def sources(frames: int = FRAMES) -> list[np.ndarray]:
    return [media.rgba_pattern(i, *SIZE) for i in range(frames)]


def largest_alpha_error(written: list[np.ndarray], expected: list[np.ndarray]) -> int:
    """The largest difference between the alpha planes of two lists of RGBA frames, in 8-bit steps."""
    assert len(written) == len(expected)

    def eight_bit(a: np.ndarray) -> np.ndarray:
        return np.round(a[..., 3] / 257).astype(int) if a.dtype == np.uint16 else a[..., 3].astype(int)

    return max(int(np.abs(eight_bit(a) - eight_bit(b)).max()) for a, b in zip(written, expected))


# --- encoder choice ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix, depth, source_codec, profile, encoder, pix_fmt",
    [
        (".mov", 10, "prores", "4444", "prores_ks", "yuva444p10le"),  # kept ProRes 4444, alpha and all
        (".mov", 8, "qtrle", None, "prores_ks", "yuva444p10le"),  # QuickTime Animation -> ProRes 4444
        (".mkv", 8, "png", None, "prores_ks", "yuva444p10le"),
        (".mkv", 8, "ffv1", None, "ffv1", "bgra"),  # a kept lossless codec stays lossless
        (".mkv", 16, "ffv1", None, "ffv1", "rgba64le"),
        (".webm", 8, "vp9", None, "libvpx-vp9", "yuva420p"),
    ],
)
def test_outputs_that_can_hold_transparency_get_a_format_with_an_alpha_channel(
    suffix, depth, source_codec, profile, encoder, pix_fmt
):
    chosen = resolve_encoder(
        EncodeOptions(), suffix, depth, 48, 32, source_codec=source_codec, source_profile=profile, alpha=True
    )
    assert (chosen.encoder, chosen.pix_fmt, chosen.alpha) == (encoder, pix_fmt, True)
    opaque = resolve_encoder(EncodeOptions(), suffix, depth, 48, 32, source_codec=source_codec, source_profile=profile)
    assert not opaque.alpha


def test_an_asked_codec_and_a_container_without_an_alpha_codec_are_not_overridden():
    assert resolve_encoder(EncodeOptions(), ".mp4", 8, 48, 32, alpha=True).encoder == "libx264"
    asked = resolve_encoder(EncodeOptions(codec="x264"), ".mov", 8, 48, 32, alpha=True)
    assert (asked.encoder, asked.alpha) == ("libx264", False)
    assert resolve_encoder(EncodeOptions(codec="ffv1"), ".mov", 8, 48, 32, alpha=True).pix_fmt == "bgra"


# --- reading --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix, codec, pix_fmt, tolerance",
    [(".mov", "qtrle", "argb", 0), (".mkv", "ffv1", "bgra", 0), (".mov", "prores_ks", "yuva444p10le", 1),
     (".webm", "libvpx-vp9", "yuva420p", 8)],
)  # fmt: skip
def test_sources_deliver_each_frames_alpha_plane(tmp_path, suffix, codec, pix_fmt, tolerance):
    path = media.make_alpha_video(tmp_path / f"in{suffix}", codec=codec, pix_fmt=pix_fmt, frames=FRAMES, size=SIZE)
    with open_source(path) as source:
        assert source.info.alpha
        frames = list(source)
    assert largest_alpha_error([np.dstack([f.image, f.alpha]) for f in frames], sources()) <= tolerance


def test_webm_transparency_is_read_and_the_seek_of_a_span_keeps_it(tmp_path):
    # FFmpeg's own VP9 decoder drops WebM's alpha; libvpx's reads it, also after a seek
    path = media.make_alpha_video(tmp_path / "in.webm", codec="libvpx-vp9", pix_fmt="yuva420p", frames=FRAMES)
    with av.open(str(path)) as container:
        assert next(container.decode(video=0)).format.name == "yuv420p"  # the control: no alpha that way
    from deblur_cli.span import Span

    with open_source(path, ReadOptions(Span(start=0.2))) as source:
        frames = list(source)
    assert len(frames) == FRAMES - 5
    assert largest_alpha_error([np.dstack([f.image, f.alpha]) for f in frames], sources()[5:]) <= 8


def test_opaque_sources_carry_no_alpha(tmp_path):
    with open_source(media.make_video(tmp_path / "in.mp4", frames=3)) as source:
        assert not source.info.alpha
        assert all(frame.alpha is None for frame in source)


# --- deblur run -----------------------------------------------------------------------------------


def test_ffv1_keeps_colour_and_alpha_bit_exactly_across_windows(tmp_path, identity):
    source = media.make_alpha_video(tmp_path / "in.mkv", codec="ffv1", pix_fmt="bgra", frames=FRAMES, size=SIZE)
    summary = deblur(source, "-o", tmp_path / "out.mkv", "--window", 4, "--overlap", 1)
    assert summary["warnings"] == []
    written = media.read_rgba(tmp_path / "out.mkv")
    assert all(np.array_equal(a, b) for a, b in zip(written, sources(), strict=True))


def test_quicktime_animation_comes_back_as_prores_4444_with_its_alpha(tmp_path, identity):
    source = media.make_alpha_video(tmp_path / "in.mov", codec="qtrle", pix_fmt="argb", frames=FRAMES, size=SIZE)
    summary = deblur(source, "--window", 4, "--overlap", 2)  # beside the input, as in-deblurred.mov
    assert summary["warnings"] == []
    with av.open(str(tmp_path / "in-deblurred.mov")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.profile) == ("prores", "4444")
    assert largest_alpha_error(media.read_rgba(tmp_path / "in-deblurred.mov"), sources()) <= 1


@pytest.mark.parametrize("resumable", [False, True])
def test_webm_transparency_is_written_as_vp9_alpha(tmp_path, identity, resumable):
    """VP9 keeps its alpha plane in each packet's side data, which the segments of a resumable run (a
    restorer with an identity: every real model) once dropped when they stored the packets."""
    if resumable:
        identity.identity = {"model": "identity"}
    source = media.make_alpha_video(tmp_path / "in.webm", codec="libvpx-vp9", pix_fmt="yuva420p", frames=FRAMES)
    assert deblur(source, "-o", tmp_path / "out.webm")["warnings"] == []
    written = media.read_rgba(tmp_path / "out.webm")
    assert largest_alpha_error(written, sources()) <= 12  # VP9 twice, lossy
    # each frame keeps its own plane, not a neighbour's
    assert all(largest_alpha_error([written[i]], [sources()[i + 1]]) > 40 for i in range(FRAMES - 1))


def test_a_container_without_an_alpha_codec_warns_and_is_opaque(tmp_path, identity):
    source = media.make_alpha_video(tmp_path / "in.mov", codec="qtrle", pix_fmt="argb", frames=3, size=SIZE)
    summary = deblur(source, "-o", tmp_path / "out.mp4")
    assert summary["warnings"] == [
        "libx264 has no alpha channel: the input's transparency is left out and the output is opaque "
        "(.mov or .mkv keep it in ProRes 4444, .webm in VP9, and PNG frames as they are)"
    ]
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert next(container.decode(video=0)).format.name == "yuv420p"


def test_side_by_side_frames_are_opaque_with_a_warning(tmp_path, identity):
    source = media.make_alpha_video(tmp_path / "in.mkv", codec="ffv1", pix_fmt="bgra", frames=3, size=SIZE)
    summary = deblur(source, "-o", tmp_path / "out.mkv", "--side-by-side")
    assert summary["warnings"] == ["side-by-side frames are opaque: the input's transparency is left out"]
    with av.open(str(tmp_path / "out.mkv")) as container:
        assert next(container.decode(video=0)).format.name == "bgr0"


def test_png_frames_keep_their_alpha_in_order(tmp_path, identity):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, image in enumerate(sources()):
        media.write_image(folder / f"f{i:03d}.png", image)
    assert deblur(folder, "-o", tmp_path / "out", "--window", 4, "--overlap", 1)["warnings"] == []
    written = [media.read_rgba(path)[0] for path in sorted((tmp_path / "out").iterdir())]
    assert all(np.array_equal(a, b) for a, b in zip(written, sources(), strict=True))


@pytest.mark.parametrize("depth", [8, 16])
def test_a_transparent_image_keeps_its_alpha_in_png_and_tiff(tmp_path, identity, depth):
    image = media.rgba_pattern(0, 32, 16, bit_depth=depth)
    source = media.write_image(tmp_path / "logo.png", image)
    form = "rgba" if depth == 8 else "rgba64le"
    for suffix in (".png", ".tif"):
        assert deblur(source, "-o", tmp_path / f"out{suffix}")["warnings"] == []
        assert np.array_equal(media.read_rgba(tmp_path / f"out{suffix}", format=form)[0], image)


@pytest.mark.parametrize("transparent", [True, False])
def test_a_palette_png_keeps_the_transparency_of_its_colours(tmp_path, identity, transparent):
    """A pal8 picture stores alpha in its palette, not as a component of its format: it once went
    unnoticed, and the output was opaque."""
    index = np.random.default_rng(0).integers(0, 4, (16, 24), dtype=np.uint8)
    palette = np.zeros((256, 4), np.uint8)  # ARGB
    palette[:4] = [[255, 200, 0, 0], [128, 0, 200, 0], [0, 0, 0, 200], [255, 9, 9, 9]]
    if not transparent:
        palette[:, 0] = 255
    with av.open(str(tmp_path / "logo.png"), "w") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 24, 16, "pal8"
        for packet in [*stream.encode(av.VideoFrame.from_ndarray((index, palette), format="pal8")), *stream.encode()]:
            container.mux(packet)
    summary = deblur(tmp_path / "logo.png", "-o", tmp_path / "out.png")
    assert summary["warnings"] == []
    written = media.read_rgba(tmp_path / "out.png")[0]
    assert np.array_equal(written[..., 3], palette[index, 0])
    with av.open(str(tmp_path / "out.png")) as container:
        assert next(container.decode(video=0)).format.name == ("rgba" if transparent else "rgb24")


def test_a_transparent_image_written_as_jpeg_is_opaque_with_a_warning(tmp_path, identity):
    source = media.write_image(tmp_path / "logo.png", media.rgba_pattern(0, 32, 16))
    summary = deblur(source, "-o", tmp_path / "out.jpg")
    assert summary["warnings"] == [
        ".jpg has no alpha channel: the input's transparency is left out and the output is opaque "
        "(.mov or .mkv keep it in ProRes 4444, .webm in VP9, and PNG frames as they are)"
    ]
    opaque = deblur(media.write_image(tmp_path / "photo.png", media.pattern(0, 32, 16)), "-o", tmp_path / "o.png")
    assert opaque["warnings"] == []


def test_an_interrupted_run_continues_with_the_alpha_of_the_frames_it_reads_again(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "SEGMENT_FRAMES", 6)
    source = media.make_alpha_video(tmp_path / "in.mkv", codec="ffv1", pix_fmt="bgra", frames=20, size=SIZE)
    options = dict(windows=WindowOptions(window=4, overlap=1, tile=None), encode=EncodeOptions(codec="ffv1"))
    with pytest.raises(KeyboardInterrupt):
        deblur_video(source, tmp_path / "out.mkv", MixingRestorer(fail_after=4), **options)
    result = deblur_video(source, tmp_path / "out.mkv", MixingRestorer(), **options)
    assert result.resumed > 0
    deblur_video(source, tmp_path / "whole.mkv", MixingRestorer(), **options)
    resumed, whole = media.read_rgba(tmp_path / "out.mkv"), media.read_rgba(tmp_path / "whole.mkv")
    assert all(np.array_equal(a, b) for a, b in zip(resumed, whole, strict=True))
    assert largest_alpha_error(resumed, sources(20)) == 0


def test_info_says_whether_the_default_output_keeps_the_alpha_channel(tmp_path):
    mov = media.make_alpha_video(tmp_path / "anim.mov", codec="qtrle", pix_fmt="argb", frames=2, size=SIZE)
    report = json.loads(runner.invoke(app, ["info", str(mov), "--json"]).stdout)
    assert (report["alpha"], report["written_with"]) == ("kept", "prores_ks, yuva444p10le")
    avi = media.make_alpha_video(tmp_path / "anim.avi", codec="utvideo", pix_fmt="gbrap", frames=2, size=SIZE)
    report = json.loads(runner.invoke(app, ["info", str(avi), "--json"]).stdout)
    assert report["alpha"] == "left out"
    assert report["warnings"][0].startswith("libx264 has no alpha channel")
    plain = json.loads(runner.invoke(app, ["info", str(media.make_video(tmp_path / "in.mp4")), "--json"]).stdout)
    assert plain["alpha"] is None


def write_gif(path, frames: list[np.ndarray]) -> None:
    """An animated GIF of RGB frames (FFmpeg decodes every GIF to BGRA)."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("gif", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb8"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="rgb8")))
        container.mux(stream.encode())


def test_images_whose_alpha_is_wholly_opaque_count_as_opaque(tmp_path, identity):
    # many PNGs are RGBA with every pixel opaque, and every GIF decodes to BGRA: no alpha, no warning
    opaque = media.rgba_pattern(0, 32, 16)
    opaque[..., 3] = 255
    png = media.write_image(tmp_path / "opaque.png", opaque)
    write_gif(tmp_path / "anim.gif", [media.pattern(i, 32, 16) for i in range(3)])
    with av.open(str(tmp_path / "anim.gif")) as container:
        assert next(container.decode(video=0)).format.name == "bgra"  # the control: an alpha channel it has
    for source in (png, tmp_path / "anim.gif"):
        with open_source(source) as frames:
            assert not frames.info.alpha
        assert deblur(source, "-o", tmp_path / f"{source.stem}.mp4")["warnings"] == []
    opaque[:4, :4, 3] = 0  # a corner of it see-through
    with open_source(media.write_image(tmp_path / "corner.png", opaque)) as frames:
        assert frames.info.alpha
        assert next(iter(frames)).alpha[0, 0] == 0


def write_lossless_jpeg(path, image):
    """A lossless JPEG of an (H, W, 4) RGBA image: FFmpeg's mjpeg decoder reads it back with its alpha."""
    context = av.CodecContext.create("ljpeg", "w")
    context.width, context.height, context.pix_fmt = image.shape[1], image.shape[0], "bgra"
    context.time_base = Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(image, format="rgba").reformat(format="bgra")
    path.write_bytes(b"".join(bytes(p) for p in context.encode(frame) + context.encode(None)))
    return path


def test_a_jpeg_with_a_fourth_channel_has_alpha_only_where_it_shows(tmp_path):
    # CMYK JPEGs decode to GBRAP, the black folded into the colour and the fourth plane opaque: not alpha
    cmyk = av.VideoFrame.from_ndarray(media.pattern(0, 32, 16), format="rgb24").reformat(format="gbrap")
    assert not carries_alpha(cmyk, "mjpeg")
    image = media.rgba_pattern(0, 32, 16)
    image[..., 3] = 255
    with open_source(write_lossless_jpeg(tmp_path / "opaque.jpg", image)) as frames:
        assert not frames.info.alpha
    image[:4, :4, 3] = 0
    with open_source(write_lossless_jpeg(tmp_path / "corner.jpg", image)) as frames:
        assert frames.info.alpha and next(iter(frames)).alpha[0, 0] == 0


def write_four_component_jpeg(path, black):
    """A baseline JPEG of four components numbered 1 to 4, without Adobe's marker, its fourth the (H, W)
    uint8 plane `black`: libjpeg reads it as CMYK; FFmpeg decodes it to YUVA444P, that plane left as stored."""
    cmyk = np.zeros((*black.shape, 4), np.uint8)
    cmyk[..., 3] = black
    buffer = io.BytesIO()
    Image.frombytes("CMYK", black.shape[::-1], cmyk.tobytes()).save(buffer, "JPEG", quality=95)
    data = bytearray(buffer.getvalue())
    adobe = data.index(b"\xff\xee")  # APP14, which Pillow writes for CMYK
    del data[adobe : adobe + 2 + int.from_bytes(data[adobe + 2 : adobe + 4], "big")]
    frame_header, scan_header = data.index(b"\xff\xc0"), data.index(b"\xff\xda")
    for k in range(4):  # Pillow numbers them "C", "M", "Y", "K", which FFmpeg reads as CMYK
        data[frame_header + 10 + 3 * k] = data[scan_header + 5 + 2 * k] = k + 1
    path.write_bytes(bytes(data))
    return path


def test_a_jpegs_fourth_component_in_yuv_is_not_alpha(tmp_path):
    # its fourth component is black by libjpeg's reading; FFmpeg keeps it apart as YUVA444P's fourth plane,
    # which was read as alpha (a ramp from 55 to 255: the output faded out where the black was)
    black = np.tile(np.linspace(0, 200, 32).astype(np.uint8), (16, 1))
    with av.open(str(write_four_component_jpeg(tmp_path / "four.jpg", black))) as container:
        frame = next(container.decode(video=0))
    assert frame.format.name == "yuva444p" and frame.to_ndarray(format="rgba")[..., 3].min() < 100
    with open_source(tmp_path / "four.jpg") as frames:
        assert not frames.info.alpha and next(iter(frames)).alpha is None


def test_a_video_codecs_alpha_counts_even_where_the_first_frame_is_opaque(tmp_path):
    path = tmp_path / "anim.mov"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("qtrle", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "argb"
        for index in range(2):
            image = media.rgba_pattern(index, 32, 16)
            image[..., 3] = 255 if index == 0 else image[..., 3]  # a title that fades in after its first frame
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgba").reformat(format="argb")))
        container.mux(stream.encode())
    with open_source(path) as frames:
        assert frames.info.alpha


def test_deinterlacing_keeps_the_alpha_channel(tmp_path, identity):
    source = media.make_alpha_video(tmp_path / "in.mkv", codec="ffv1", pix_fmt="bgra", frames=FRAMES, size=SIZE)
    assert deblur(source, "-o", tmp_path / "out.mkv", "--deinterlace", "on")["warnings"] == []
    written = media.read_rgba(tmp_path / "out.mkv")
    # bwdif filters the alpha plane with the colour; the ramp runs across, so rows interpolate to the same values
    # except at the transparent corner's lower edge
    assert len(written) == FRAMES and written[0].shape[2] == 4
    assert np.mean([np.abs(a[..., 3].astype(int) - b[..., 3]).mean() for a, b in zip(written, sources())]) < 3
