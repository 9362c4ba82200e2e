"""Interlaced video: which field a stream shows first, and deinterlacing its decoded frames.

An interlaced frame holds two fields, its even rows and its odd rows, filmed a field apart in time
(1080i camcorders and AVCHD `.mts` files, broadcast recordings). Where anything moves, the two
moments show as comb teeth along every edge, which a deblurring model would take for detail. So an
interlaced stream is deinterlaced as it is decoded, by FFmpeg's bwdif filter. Each output frame keeps
the rows of the field shown first and fills in the other field's rows for that field's moment:
motion-adaptive, from the other field where nothing moves (so progressive content marked interlaced
passes almost unchanged) and from the kept field's own rows and the neighbouring frames where something
does. One progressive frame comes out per frame, at the frame's own timestamp: the frame rate, count
and timing are unchanged. At double rate, one comes out per field instead, each at its field's
moment: 50i becomes 50p, as smooth as the interlaced video looks played, with twice the frames.
Each output frame depends on the frames before and after it only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction

import av

from deblur_cli.errors import InputError

# Deinterlace streams marked interlaced; every video; none; streams marked interlaced, a frame per field.
MODES = ("auto", "on", "off", "double")

# FFmpeg's AVFieldOrder, by the field shown first: TT and BT show the top field first, BB and TB the bottom.
_FIRST_FIELD = {2: "top", 5: "top", 3: "bottom", 4: "bottom"}

# PyAV 18 and newer read a stream's field order; PyAV 17 (the newest for Python 3.10) does not, and
# there every interlaced stream's field order is "unknown": what each decoded frame says is followed.
READS_FIELD_ORDER = hasattr(av.video.codeccontext.VideoCodecContext, "field_order")

FRAMES_BEFORE = 1  # frames before a frame that its deinterlaced picture depends on (bwdif: the previous one)


def check_mode(mode: str) -> None:
    """ValueError unless `mode` is one of MODES."""
    if mode not in MODES:
        raise ValueError(f"deinterlace must be one of {', '.join(MODES)}, got {mode!r}")


def field_order(stream, first: av.VideoFrame) -> str | None:
    """"top" or "bottom": the field an interlaced stream shows first, by the stream's field order;
    "unknown" for a stream without one whose frames say they are interlaced (DV, or any stream with
    PyAV 17); None for a progressive stream."""
    order = _FIRST_FIELD.get(int(stream.codec_context.field_order or 0)) if READS_FIELD_ORDER else None
    if order is None and first.interlaced_frame:
        order = "unknown"
    return order


def deinterlaced(
    frames: Iterable[av.VideoFrame], time_base: Fraction, first_field: str | None, *, double: bool = False
) -> Iterator[av.VideoFrame]:
    """The decoded `frames` deinterlaced, one for one and in order, with their timestamps in
    `time_base` (the stream's). Each output frame keeps the rows of the field shown first and fills in
    the other field's, so that it shows the moment of that field: `first_field` "top" or "bottom",
    "unknown" for what each frame's flags say, None (a stream marked progressive) for top. With
    `double`, two frames per frame, one per field in the order they are shown, their timestamps in
    half `time_base` (a frame's own time, doubled, then half-way to the next frame's). The filter
    holds one frame back until it has seen the next; the last comes when `frames` ends. A change of
    frame size or pixel format part-way gets a new filter."""
    # The stream's field order where it has one, rather than the frames' flags: decoders do not always
    # set those (x264's interlaced H.264 decodes flagged bottom first, and bwdif would keep the wrong
    # field). DV streams have no field order, and their frames say bottom first, rightly.
    parity = {"top": "tff", "bottom": "bff", "unknown": "auto"}.get(first_field, "tff")
    output_base = time_base / 2 if double else time_base
    graph, shape = None, None
    try:
        for frame in frames:
            if (frame.width, frame.height, frame.format.name) != shape:
                if graph is not None:
                    yield from _drained(graph, output_base, flush=True)
                shape = (frame.width, frame.height, frame.format.name)
                graph = _bwdif(frame, time_base, parity, double)
            graph.push(frame)
            yield from _drained(graph, output_base)
        if graph is not None:
            yield from _drained(graph, output_base, flush=True)
    except av.FFmpegError as e:
        raise InputError(
            f"cannot deinterlace this {shape[2] if shape else ''} video ({e.strerror or e})",
            hint="pass --deinterlace off to restore the frames as they are",
        ) from None


def _bwdif(frame: av.VideoFrame, time_base: Fraction, parity: str, double: bool) -> av.filter.Graph:
    graph = av.filter.Graph()
    source = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format, time_base=time_base)
    # send_frame: one frame out per frame in (send_field: one per field); every frame, as the stream is
    # deinterlaced as a whole.
    mode = "send_field" if double else "send_frame"
    bwdif = graph.add("bwdif", f"mode={mode}:parity={parity}:deint=all")
    sink = graph.add("buffersink")
    source.link_to(bwdif)
    bwdif.link_to(sink)
    graph.configure()
    return graph


def _drained(graph: av.filter.Graph, time_base: Fraction, flush: bool = False) -> Iterator[av.VideoFrame]:
    """The frames the filter has ready (all it holds, with `flush`), their timestamps put in
    `time_base`: bwdif counts in half the input's units, to allow a frame per field."""
    if flush:
        graph.push(None)
    while True:
        try:
            frame = graph.pull()
        except (av.BlockingIOError, av.EOFError):
            return
        if frame.pts is not None and frame.time_base:
            frame.pts = round(frame.pts * frame.time_base / time_base)
        frame.time_base = time_base
        yield frame
