"""output_losses: what a video output loses of its source, decided without encoding the video (whether an output
records full range: from one frame written in memory)."""

import json
from fractions import Fraction

from deblur_cli.video_io.encoding import EncodeOptions, Encoding, resolve_encoder
from deblur_cli.video_io.full_range import records_full_range
from deblur_cli.video_io.hdr import HdrMetadata
from deblur_cli.video_io.info import VideoInfo
from deblur_cli.video_io.output_losses import encoding_losses, stream_losses
from deblur_cli.video_io.sinks import planned_warnings


def _info(width: int = 64, height: int = 48, bit_depth: int = 8, pix_fmt: str = "yuv420p", **kwargs) -> VideoInfo:
    return VideoInfo(width, height, Fraction(25), Fraction(1, 25), 10, bit_depth, pix_fmt=pix_fmt, **kwargs)


def test_an_output_that_keeps_everything_loses_nothing():
    info = _info(rotation=90, timecode="01:00:00:00", tags={"language": "eng", "title": "main"})
    encoding = Encoding("libx264", "yuv420p")
    assert encoding_losses(info, EncodeOptions(), encoding, "matroska", ".mkv") == []
    assert stream_losses(info, encoding, "matroska", ".mkv") == []


def test_an_odd_side_written_as_four_four_four_says_so():
    losses = encoding_losses(_info(width=65), EncodeOptions(), Encoding("libx264", "yuv444p"), "mp4", ".mp4")
    assert len(losses) == 1 and losses[0].startswith("65x48 has an odd side, which 4:2:0 cannot hold")


def test_four_four_four_written_as_four_two_zero_names_the_format_that_keeps_it():
    info = _info(pix_fmt="yuv444p")
    (loss,) = encoding_losses(info, EncodeOptions(), Encoding("libx264", "yuv420p"), "mp4", ".mp4")
    assert loss.startswith("the input's colour is 4:4:4 (yuv444p); it is written as yuv420p (4:2:0)")
    assert "--pix-fmt yuv444p keeps it" in loss
    assert encoding_losses(info, EncodeOptions(pix_fmt="yuv420p"), Encoding("libx264", "yuv420p"), "mp4", ".mp4") == []


def test_ffv1_in_mov_and_rounded_bits_come_in_order():
    info = _info(bit_depth=10, pix_fmt="yuv420p10le")
    options = EncodeOptions(crf=4, asked=frozenset({"crf"}))
    losses = encoding_losses(info, options, Encoding("ffv1", "yuv420p"), "mov", ".mov")
    assert [loss.split(" ")[0] for loss in losses] == ["--crf", "FFV1", "yuv420p"]
    assert "the 10-bit input is rounded" in losses[2]


def test_a_container_without_rotation_timecode_or_aspect_ratio_says_each_in_order():
    info = _info(rotation=90, mirrored=True, timecode="01:00:00:00", sample_aspect_ratio=Fraction(4, 3))
    losses = stream_losses(info, Encoding("ffv1", "yuv420p"), "avi", ".avi")
    assert losses == [
        "ffv1 video in .avi does not record the input's pixel aspect ratio (4:3); players will show it unstretched "
        "(.mp4 and .mov record it for any codec, and libx264 and libx265 in any container)",
        "the .avi container cannot record the display rotation (rotated 90° counter-clockwise and mirrored left to"
        " right); players will show the frames as stored (choose .mp4 or .mkv to keep it)",
        "the .avi container cannot record the input's timecode (01:00:00:00); choose .mov, .mp4 or .mkv to keep it",
    ]
    assert stream_losses(info, Encoding("libx264", "yuv420p"), "mov", ".mov") == []


def test_hdr_metadata_is_lost_by_an_encoder_that_does_not_write_it():
    info = _info(bit_depth=10, pix_fmt="yuv420p10le", hdr=HdrMetadata(max_cll=1000, max_fall=400))
    (loss,) = stream_losses(info, Encoding("ffv1", "yuv420p10le"), "matroska", ".mkv")
    assert loss.startswith("the input's HDR10 mastering metadata is not written by ffv1")
    assert stream_losses(info, Encoding("libx265", "yuv420p10le"), "matroska", ".mkv") == []


def test_the_planned_warnings_of_a_video_output_are_its_losses(tmp_path):
    info = _info(width=65, rotation=90, timecode="01:00:00:00")
    encoding = resolve_encoder(EncodeOptions(), ".avi", info.bit_depth, info.width, info.height)
    losses = encoding_losses(info, EncodeOptions(), encoding, "avi", ".avi") + stream_losses(
        info, encoding, "avi", ".avi"
    )
    assert len(losses) == 3
    assert planned_warnings(tmp_path / "out.avi", info) == losses


def test_whether_an_output_records_full_range_is_read_back_from_a_frame_written_in_memory():
    # ProRes and MPEG-2 have no range in their bitstream; MOV's colour atom has none; Matroska, H.264, DNxHR and
    # Y4M's header keep it
    bt709 = {"primaries": 1, "transfer": 1, "matrix": 1}
    assert not records_full_range("mov", Encoding("prores_ks", "yuv422p10le"), bt709)
    assert not records_full_range("mpeg", Encoding("mpeg2video", "yuv420p"), bt709)
    assert records_full_range("mov", Encoding("libx264", "yuv420p", {"preset": "medium"}), bt709)
    assert records_full_range("matroska", Encoding("ffv1", "yuv420p"), {})
    assert records_full_range("mov", Encoding("dnxhd", "yuv422p", {"profile": "dnxhr_hq"}), bt709)
    assert records_full_range("yuv4mpegpipe", Encoding("rawvideo", "yuv420p"), bt709)
    # where the probe cannot run (an encoder that refuses its options), the range is kept as before
    assert records_full_range("mov", Encoding("prores_ks", "yuv422p10le", {"profile": "bogus"}), bt709)


def test_full_range_written_limited_is_noted_where_levels_are_lost():
    full = {"primaries": 1, "transfer": 1, "matrix": 1, "range": 2}
    deep = _info(bit_depth=10, pix_fmt="yuv422p10le", color=full)
    prores = Encoding("prores_ks", "yuv422p10le")
    (loss,) = encoding_losses(deep, EncodeOptions(codec="prores_ks"), prores, "mov", ".mov")
    assert loss == (
        "the input is full range (0-1023 levels), which prores_ks in .mov cannot record: it is written limited range"
        " (64-940), as players take such video, in 877 of 1024 levels"
    )
    # 8-bit input into 10-bit ProRes keeps a level for each of its own; HEVC in .mkv records full range
    assert encoding_losses(_info(color=full), EncodeOptions(codec="prores_ks"), prores, "mov", ".mov") == []
    hevc = Encoding("libx265", "yuv420p10le", {"x265-params": "log-level=error"})
    assert encoding_losses(_info(bit_depth=10, pix_fmt="yuv420p10le", color=full), EncodeOptions(), hevc, "matroska",
                           ".mkv") == []  # fmt: skip


def test_a_dolby_vision_source_is_read_from_its_sample_entry_and_its_loss_said(tmp_path):
    """A phone's Dolby Vision clip (an HLG base layer, profile 8.4) comes out as its base layer: no encoder here
    writes the Dolby Vision metadata. Profile 5 has no base layer other players show right: its colours are off."""
    from typer.testing import CliRunner

    from deblur_cli.cli import app
    from deblur_cli.video_io import describe
    from deblur_cli.video_io.hdr import DolbyVision
    from deblur_cli.video_io.mp4_atoms import dolby_vision, video_sample_tags
    from tests import media

    plain = media.make_video(tmp_path / "plain.mp4", frames=3, codec="libx265")
    phone = media.with_dolby_vision(plain, tmp_path / "phone.mov")
    stream = media.with_dolby_vision(plain, tmp_path / "p5.mp4", profile=5, compatibility=0)
    assert dolby_vision(plain) is None and describe(plain).dolby_vision is None
    assert dolby_vision(phone) == describe(phone).dolby_vision == DolbyVision(8, 4)
    assert describe(stream).dolby_vision == DolbyVision(5, 0)  # in a dvcC atom, as profiles up to 7 are
    assert video_sample_tags(phone) == video_sample_tags(plain)  # the entry's own tag read as before
    said = planned_warnings(tmp_path / "out.mp4", describe(phone), source=phone)
    assert said == [
        "the input is Dolby Vision profile 8.4: the output keeps its HLG base layer, which players show as HLG, "
        "without the Dolby Vision metadata (no encoder here writes it)"
    ]
    result = CliRunner().invoke(app, ["run", str(stream), "-o", str(tmp_path / "out5.mkv"), "--strength", "0"])
    assert result.exit_code == 0 and (tmp_path / "out5.mkv").exists(), result.output
    assert "warning: the input is Dolby Vision profile 5, whose colours only a Dolby Vision player shows right" in (
        result.stderr
    )
    assert describe(tmp_path / "out5.mkv").dolby_vision is None
    told = CliRunner().invoke(app, ["info", str(phone), "--json"])
    assert json.loads(told.stdout)["dynamic_hdr"] == "Dolby Vision 8.4", told.output
    # PNG frames and a single image hold no Dolby Vision either (an image holds the video's first frame)
    assert planned_warnings(tmp_path / "frames", describe(phone), source=phone) == said
    one = media.with_dolby_vision(media.make_video(tmp_path / "one.mp4", frames=1, codec="libx265"), tmp_path / "1.mp4")
    assert planned_warnings(tmp_path / "frame.png", describe(one), source=one) == said


def test_a_dolby_vision_track_in_matroska_is_read_from_its_block_addition_mapping(tmp_path):
    """FFmpeg's Matroska muxer writes the configuration of a stream copied from a Dolby Vision MP4 as a block addition
    mapping; deblur's own outputs, encoded afresh, hold none."""
    import av

    from deblur_cli.video_io import describe
    from deblur_cli.video_io.hdr import DolbyVision
    from deblur_cli.video_io.mkv_elements import dolby_vision
    from tests import media

    plain = media.make_video(tmp_path / "plain.mp4", frames=3, codec="libx265")
    phone = media.with_dolby_vision(plain, tmp_path / "phone.mp4")
    copied = tmp_path / "copied.mkv"
    with av.open(str(phone)) as source, av.open(str(copied), "w") as out:  # as `ffmpeg -c copy` remuxes it
        stream = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(video=0):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    assert dolby_vision(copied) == describe(copied).dolby_vision == DolbyVision(8, 4)
    assert describe(media.make_video(tmp_path / "plain.mkv", frames=3)).dolby_vision is None
    (tmp_path / "cut.mkv").write_bytes(copied.read_bytes()[:60])  # inside its header: nothing to read, no error
    assert dolby_vision(tmp_path / "cut.mkv") is None
    said = planned_warnings(tmp_path / "out.mkv", describe(copied), source=copied)
    assert said and said[0].startswith("the input is Dolby Vision profile 8.4: the output keeps its HLG base layer")


def test_hdr10_plus_dynamic_metadata_is_found_on_the_first_frame_and_its_loss_said(tmp_path):
    """Samsung phones' HDR10+ clips carry a tone curve per scene in each picture's SEI, which no encoder here writes:
    the output is HDR10 to an HDR10+ display, and a warning says so."""
    from typer.testing import CliRunner

    from deblur_cli.cli import app
    from deblur_cli.video_io import describe
    from tests import media

    source = media.make_hdr10_plus(tmp_path / "in.hevc")
    assert describe(source).hdr10_plus and not describe(media.make_video(tmp_path / "plain.mkv")).hdr10_plus
    said = planned_warnings(tmp_path / "out.mkv", describe(source), source=source)
    assert said == [
        "the input's HDR10+ dynamic metadata (a tone curve for each scene) is not written: no encoder here writes it, "
        "so HDR10+ displays tone-map the output as HDR10"
    ]
    assert planned_warnings(tmp_path / "frames", describe(source), source=source) == said
    told = CliRunner().invoke(app, ["info", str(source), "--json"])
    assert json.loads(told.stdout)["dynamic_hdr"] == "HDR10+", told.output
    told = CliRunner().invoke(app, ["info", str(tmp_path / "plain.mkv"), "--json"])
    assert json.loads(told.stdout)["dynamic_hdr"] is None, told.output
