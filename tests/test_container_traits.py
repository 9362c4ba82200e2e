"""The table of what each container does (container_traits), keyed by FFmpeg's muxer and demuxer names."""

import av

from deblur_cli.video_io import container_traits


def test_the_table_names_only_muxers_and_demuxers_that_ffmpeg_has():
    """A name FFmpeg does not know ("yuv4mpeg" for its "yuv4mpegpipe", "matroska" for the demuxer's
    "matroska,webm") is never looked up: its container would silently get the defaults."""
    assert set(container_traits._TRAITS) <= av.formats_available
