"""Whether a video holds its frames exactly as they were given to its encoder, in full colour: what a score
computed against it (a sharp reference) or of it (results restored elsewhere) can take at face value."""

from __future__ import annotations

import re
from pathlib import Path

import av

from deblur_cli.video_io.containers import open_input
from deblur_cli.video_io.info import VideoInfo

# codecs that store every frame exactly (as deblur writes FFV1 and PNG)
LOSSLESS_CODECS = {"ffv1", "png", "apng", "rawvideo", "utvideo", "huffyuv", "ffvhuff", "qtrle", "tiff", "bmp", "qoi"}
# codecs made to deliver video at low bit rates, which drop the finest texture first, by their usual names: not
# the intra-frame codecs footage is mastered in (ProRes, DNxHR, CineForm), nor the lossless ones
DELIVERY_CODECS = {
    "h264": "H.264", "hevc": "HEVC", "av1": "AV1", "vp8": "VP8", "vp9": "VP9", "mpeg4": "MPEG-4 Part 2",
    "mpeg2video": "MPEG-2", "mpeg1video": "MPEG-1", "vc1": "VC-1", "wmv3": "WMV 9", "theora": "Theora",
    "h263": "H.263", "msmpeg4v3": "MPEG-4 (Microsoft)",
}  # fmt: skip
# pixel formats whose colour has the resolution of the picture (RGB, 4:4:4 YUV, grey)
_FULL_COLOUR = re.compile(r"^(gbr|rgb|bgr|argb|abgr|0rgb|0bgr|gray|ya|pal8)|444")
# x264's settings, which it writes into its first frame: qp=0 at a constant quantiser is its lossless mode
_X264_SETTINGS = re.compile(rb"x264 - core [^\x00]*")


def loss(path: Path, info: VideoInfo) -> str | None:
    """How `path`, a video `info` describes, may differ from the frames it was made from, as "h264 yuv420p"
    (a lossy codec) or "rawvideo yuv420p, colour at reduced resolution"; None where it holds them exactly:
    a lossless codec in full colour, or H.264 that x264 wrote in its lossless mode (deblur's x264-lossless)."""
    exact = info.codec in LOSSLESS_CODECS or (info.codec == "h264" and _x264_lossless(path))
    if not exact:
        return f"{info.codec} {info.pix_fmt}"
    if not _FULL_COLOUR.search(info.pix_fmt or ""):
        return f"{info.codec} {info.pix_fmt}, colour at reduced resolution"
    return None


def delivery_codec(path: Path, codec: str | None) -> str | None:
    """The usual name of `codec`, the video's at `path`, where it is a delivery codec (DELIVERY_CODECS): "H.264";
    None for any other, and for H.264 that x264 wrote in its lossless mode."""
    if codec not in DELIVERY_CODECS or (codec == "h264" and _x264_lossless(path)):
        return None
    return DELIVERY_CODECS[codec]


def _x264_lossless(path: Path) -> bool:
    """Whether x264's settings in the first packet of `path`'s video say it encoded at qp 0, lossless (the High
    4:4:4 Predictive profile alone does not tell: x264 gives it to every 4:4:4 encode)."""
    try:
        with open_input(path) as container:
            stream = container.streams.video[0]
            packet = next((p for p in container.demux(stream) if p.size), None)
    except (av.FFmpegError, OSError, IndexError):  # unreadable here: its frames are checked where they are read
        return False
    found = _X264_SETTINGS.search(bytes(packet)) if packet is not None else None
    if found is None:
        return False
    settings = found.group(0).decode("ascii", "replace").split()
    return "rc=cqp" in settings and "qp=0" in settings
