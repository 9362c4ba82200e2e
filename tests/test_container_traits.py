"""The table of what each container does (container_traits), keyed by FFmpeg's muxer and demuxer names."""

import av
import pytest

from deblur_cli.video_io import container_traits
from tests import media


def test_the_table_names_only_muxers_and_demuxers_that_ffmpeg_has():
    """A name FFmpeg does not know ("yuv4mpeg" for its "yuv4mpegpipe", "matroska" for the demuxer's
    "matroska,webm") is never looked up: its container would silently get the defaults."""
    assert set(container_traits._TRAITS) <= av.formats_available


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "traits"),
    [
        ("clip.mp4", None, None, {"mp4_atoms", "flags_default", "indexed"}),
        ("clip.mkv", None, None, {"tagged_lengths", "flags_default"}),
        ("clip.ts", "libx264", None, {"shifted_clock"}),
        ("clip.mpg", "mpeg2video", None, {"shifted_clock", "guessed_length"}),
        ("clip.h264", "libx264", None, {"bare", "guessed_length"}),
        ("clip.avi", "mjpeg", "yuvj420p", {"gapped", "no_presentation_times", "indexed"}),
        ("clip.gif", "gif", "rgb8", {"authored_times"}),
    ],
)
def test_the_reader_finds_each_containers_traits_under_its_demuxers_name(tmp_path, name, codec, pix_fmt, traits):
    """The read side asks the table by a file's demuxer name ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"), which
    differs from its muxers': an entry under a muxer's name alone would leave the files read without their traits."""
    clip = media.make_video(tmp_path / name, frames=3, codec=codec, pix_fmt=pix_fmt)
    with av.open(str(clip)) as container:
        found = container_traits.container_traits(container.format.name)
    assert traits <= {field for field, value in vars(found).items() if value is True}
