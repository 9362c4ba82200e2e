"""Files named as images that are not one whole still picture: an animated PNG, a video under an image suffix,
a JPEG cut short; and the messages for inputs that are empty, missing or damaged (fuzz48 F3, F4, F7)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from deblur_cli.cli import app
from deblur_cli.errors import InputError
from deblur_cli.outputs import default_output
from deblur_cli.video_io import open_source
from tests import media

runner = CliRunner()


def write_apng(path: Path, frames: int = 4) -> Path:
    """An animated PNG of `frames` pattern frames at 10 fps."""
    with av.open(str(path), "w", format="apng") as container:
        stream = container.add_stream("apng", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "rgb24"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(media.pattern(index, 32, 16), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def read_all(path) -> int:
    with open_source(path) as source:
        return sum(1 for _ in source)


def test_an_animated_png_is_read_as_a_clip_as_an_animated_gif_is(tmp_path):
    anim = write_apng(tmp_path / "anim.png")
    with open_source(anim) as source:
        assert source.info.frame_count == 4
        assert sum(1 for _ in source) == 4
    assert default_output(anim) == tmp_path / "anim-deblurred.mp4"


def test_a_video_under_an_image_suffix_is_read_as_the_video_it_is(tmp_path):
    video = media.make_video(tmp_path / "v.mp4", frames=5)
    renamed = video.rename(tmp_path / "clip.jpg")
    assert read_all(renamed) == 5
    assert default_output(renamed) == tmp_path / "clip-deblurred.mp4"


def test_run_and_info_treat_an_animated_png_alike(tmp_path, identity):
    anim = write_apng(tmp_path / "anim.png")
    info = runner.invoke(app, ["info", "--json", str(anim)])
    assert info.exit_code == 0, info.output
    described = json.loads(info.stdout)
    described = described[0] if isinstance(described, list) else described
    assert described["frames"] == 4, described
    result = runner.invoke(app, ["run", str(anim), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["output"] == str(tmp_path / "anim-deblurred.mp4")
    assert len(media.read_frames(tmp_path / "anim-deblurred.mp4")) == 4


def test_an_animated_png_among_a_sequences_images_is_refused_not_cut_to_its_first_frame(tmp_path):
    media.make_images(tmp_path / "seq", count=3, size=(32, 16))
    write_apng(tmp_path / "seq" / "img_002.png")
    with pytest.raises(InputError, match=r"img_002\.png holds a clip \(apng\), not one still image"):
        read_all(tmp_path / "seq")
    result = runner.invoke(app, ["info", str(tmp_path / "seq")])
    said = " ".join(result.output.split())
    assert "images that hold a clip (an animated PNG), not one still picture: 1 of 3 (img_002.png)" in said, said


def test_a_clip_with_tags_that_are_not_utf8_among_images_is_refused_as_a_clip(tmp_path):
    """Found by fuzz48: images were opened with a bare av.open, which failed with an internal error
    (UnicodeDecodeError) on an old camera's Latin-1 title."""
    media.make_images(tmp_path / "seq", count=3, size=(32, 16))
    clip = media.make_latin1_titled(tmp_path / "clip.mkv", frames=3, size=(32, 16))
    (tmp_path / "seq" / "img_002.png").write_bytes(clip.read_bytes())
    with pytest.raises(InputError, match=r"img_002\.png holds a clip \(matroska\), not one still image"):
        read_all(tmp_path / "seq")
    result = runner.invoke(app, ["info", str(tmp_path / "seq")])
    assert result.exit_code == 0 and "not one still picture: 1 of 3 (img_002.png)" in " ".join(result.output.split())


def with_thumbnail(jpeg: bytes) -> bytes:
    """`jpeg` with a whole small JPEG in an APP1 segment after its start marker, as an EXIF thumbnail sits."""
    thumbnail = b"Exif\0\0" + jpeg
    return jpeg[:2] + b"\xff\xe1" + (len(thumbnail) + 2).to_bytes(2, "big") + thumbnail + jpeg[2:]


def test_a_jpeg_cut_short_is_refused_as_a_png_cut_short_is(tmp_path):
    whole = with_thumbnail(media.write_image(tmp_path / "whole.jpg", media.pattern(0, 64, 48)).read_bytes())
    cut = tmp_path / "half.jpg"
    cut.write_bytes(whole[: len(whole) * 3 // 4])  # past the thumbnail's end marker, inside the image's data
    with pytest.raises(InputError, match=r"half\.jpg is a JPEG cut short") as e:
        read_all(cut)
    assert "again" in e.value.hint
    result = runner.invoke(app, ["info", str(cut)])
    assert result.exit_code == 1 and "half.jpg is a JPEG cut short" in result.output


def test_a_whole_jpeg_with_a_thumbnail_padding_or_a_video_after_it_is_read(tmp_path):
    whole = with_thumbnail(media.write_image(tmp_path / "a.jpg", media.pattern(0, 64, 48)).read_bytes())
    for tail in (b"", b"\0" * 64, b"\0\0\0\x18ftypmp42" + bytes(range(256)) * 8):  # a phone's motion photo
        (tmp_path / "b.jpg").write_bytes(whole + tail)
        assert read_all(tmp_path / "b.jpg") == 1


def test_a_jpeg_cut_short_in_a_sequence_stops_the_run_and_info_says_so(tmp_path):
    media.make_images(tmp_path / "seq", count=3, suffix=".jpg")
    second = tmp_path / "seq" / "img_002.jpg"
    second.write_bytes(second.read_bytes()[:-200])
    with pytest.raises(InputError, match=r"img_002\.jpg is a JPEG cut short"):
        read_all(tmp_path / "seq")
    result = runner.invoke(app, ["info", str(tmp_path / "seq")])
    assert "images FFmpeg cannot read: 1 of 3 (img_002.jpg)" in " ".join(result.output.split()), result.output


def test_an_mp4_cut_inside_its_index_is_said_to_be_cut_short_not_without_video(tmp_path):
    whole = media.faststart(media.make_video(tmp_path / "a.mp4", frames=6), tmp_path / "fs.mp4").read_bytes()
    for keep in (40, 300):  # inside the moov atom at the front, before the video track is described
        (tmp_path / "cut.mp4").write_bytes(whole[:keep])
        with pytest.raises(InputError, match=r"cut\.mp4 is an MP4/MOV file cut short inside its index \(moov atom\)"):
            read_all(tmp_path / "cut.mp4")


def test_a_damaged_sample_description_is_called_damage_not_a_codec_to_convert_from(tmp_path):
    from deblur_cli.video_io.mp4_atoms import video_sample_tags

    source = media.make_video(tmp_path / "a.mp4", frames=3)
    assert video_sample_tags(source) == ["avc1"]
    data = bytearray(source.read_bytes())
    at = data.find(b"stsd")
    data[at - 4 : at + 60] = bytes(64)
    (tmp_path / "b.mp4").write_bytes(data)
    with pytest.raises(InputError, match=r"no decoder for its video codec \(its sample description is damaged\)") as e:
        read_all(tmp_path / "b.mp4")
    assert "copy it again" in e.value.hint


def test_an_empty_image_is_said_to_be_empty_as_an_empty_video_is(tmp_path):
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"zero\.png is empty \(0 bytes\)"):
        read_all(tmp_path / "zero.png")
    media.make_images(tmp_path / "seq", count=2)
    (tmp_path / "seq" / "img_002.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"img_002\.png is empty \(0 bytes\)") as e:
        read_all(tmp_path / "seq")
    assert "copy it again" in e.value.hint


def test_a_link_to_a_missing_file_is_said_to_be_one(tmp_path):
    (tmp_path / "clip.mp4").symlink_to(tmp_path / "gone.mp4")
    with pytest.raises(InputError, match=r"clip\.mp4 is a link to a missing file \(.*gone\.mp4\)"):
        read_all(tmp_path / "clip.mp4")
