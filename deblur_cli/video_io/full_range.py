"""Whether a video output can record that its pixels are full range, found by writing one frame in memory.

Some outputs cannot: ProRes and MPEG-2 have no range in their bitstream (FFmpeg's decoders call both limited,
whatever the container says), MOV's colour atom (`nclc`) and MPEG program streams have none either, and
FFV1 or raw video in AVI read back untagged, which players take as limited. Full-range samples written there
are shown with crushed blacks and clipped whites, so the writer converts them to limited range instead.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping

import av
import numpy as np

from deblur_cli.video_io.encoding import Encoding

_UNSPECIFIED = 2  # AVCOL_PRI_UNSPECIFIED, AVCOL_TRC_UNSPECIFIED, AVCOL_SPC_UNSPECIFIED
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG
# The probe's frame: no side under what x265 (64) or DNxHR (256x120) takes, and sides that 4:2:0 and 4:1:1 divide
_PROBE_SIZE = (320, 180)


def records_full_range(format_name: str, encoding: Encoding, color: Mapping[str, int]) -> bool:
    """Whether video that `encoding` writes into a container of the muxer `format_name`, tagged full range,
    reads back as full range. `color` holds the stream's other tags (primaries, transfer, matrix; missing
    ones unspecified), which decide whether a muxer writes a colour atom. True where the probe cannot run
    (an encoder that refuses the probe's frame, a muxer that needs options it does not set): such output
    stays full range, tagged so."""
    tags = tuple(color.get(name, _UNSPECIFIED) for name in ("primaries", "transfer", "matrix"))
    encoding.set_environment()  # SVT-AV1 prints its banner without its own
    options = tuple(sorted(encoding.options.items()))
    return _reads_back_full(format_name, encoding.encoder, encoding.pix_fmt, options, tags)


@functools.lru_cache(maxsize=64)
def _reads_back_full(
    format_name: str, encoder: str, pix_fmt: str, options: tuple[tuple[str, str], ...], tags: tuple[int, int, int]
) -> bool:
    """One mid-grey frame tagged full range, encoded and muxed in memory, then decoded: whether its range
    reads back as full (a full-range tag, or a yuvj format)."""
    memory = io.BytesIO()
    try:
        with av.open(memory, "w", format=format_name) as probe:
            stream = probe.add_stream(encoder, rate=25, options=dict(options))
            stream.width, stream.height = width, height = _PROBE_SIZE
            stream.pix_fmt = pix_fmt
            context = stream.codec_context
            context.color_primaries, context.color_trc, context.colorspace = tags
            context.color_range = _FULL_RANGE
            grey = av.VideoFrame.from_ndarray(np.full((height, width, 3), 128, np.uint8), format="rgb24")
            frame = grey.reformat(format=pix_fmt, dst_color_range=_FULL_RANGE)
            frame.pts, frame.color_range = 0, _FULL_RANGE
            probe.mux(stream.encode(frame))
            probe.mux(stream.encode())
        with av.open(io.BytesIO(memory.getvalue())) as written:
            decoded = next(written.decode(video=0))
    except (av.FFmpegError, ValueError, OSError, StopIteration):
        return True
    return int(decoded.color_range) == _FULL_RANGE or decoded.format.name.startswith("yuvj")
