"""Video in and out: decode any FFmpeg-readable video or image sequence into RGB frames, encode frames back.

Streaming both ways (one frame in memory at a time), atomic outputs, audio and subtitles carried over.
Imports only PyAV, NumPy and the standard library.
"""

from deblur_cli.video_io.encoding import EncodeOptions
from deblur_cli.video_io.images import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from deblur_cli.video_io.info import DEFAULT_FPS, Frame, VideoInfo
from deblur_cli.video_io.frame_sink import FrameSink
from deblur_cli.video_io.sinks import check_sink, is_frame_directory, open_sink, shows_turned, with_grid
from deblur_cli.video_io.sources import FrameSource, ReadOptions, check_not_cut, describe, input_identity, open_source

__all__ = [
    "DEFAULT_FPS",
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "EncodeOptions",
    "Frame",
    "FrameSink",
    "FrameSource",
    "ReadOptions",
    "VideoInfo",
    "check_not_cut",
    "check_sink",
    "describe",
    "input_identity",
    "is_frame_directory",
    "open_sink",
    "shows_turned",
    "open_source",
    "with_grid",
]
