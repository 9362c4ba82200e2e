"""Encoding RGB frames into a video file, with the source's timing, rotation, colour, audio and subtitles."""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from deblur_cli import files
from deblur_cli.errors import EncoderOptionError, OutputError
from deblur_cli.frame_facts import is_grey_image
from deblur_cli.video_io import atomic
from deblur_cli.video_io.container_traits import container_traits
from deblur_cli.video_io.containers import local_name
from deblur_cli.video_io.frame_sink import FrameSink
from deblur_cli.video_io.full_range import records_full_range
from deblur_cli.video_io.encoding import EncodeOptions, Encoding, resolve_encoder
from deblur_cli.video_io.grey import grey_frame, grey_video, is_grey_format
from deblur_cli.video_io.hdr import HDR_PARAMS
from deblur_cli.video_io.info import (
    BT601,
    BT709,
    UNSPECIFIED,
    Frame,
    VideoInfo,
    array_format,
    bit_depth_of,
    checked_parts,
    reading_matrix,
    srgb_source,
    with_alpha,
)
from deblur_cli.video_io.output_losses import (
    ROTATING_FORMATS,
    TIMECODE_FORMATS,
    encoding_losses,
    stores_rgb,
    stream_losses,
    subsampled,
)
from deblur_cli.video_io.passthrough import Passthrough
from deblur_cli.video_io.track_tags import keep_language
from deblur_cli.video_io.work_folder import OutputLock
from deblur_cli.video_io.yuv import yuv_frame

_APPLE_FORMATS = {"mp4", "mov", "ipod"}
# FFmpeg colorspace (AVColorSpace) -> the swscale matrix (SWS_CS_*) of the RGB -> YUV step. Numbers, not
# PyAV's names: PyAV before 18 has no name for BT.2020.
_SWS_MATRIX = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}
_RGB_MATRIX = 0  # AVCOL_SPC_RGB: the stream stores RGB (or GBR) planes, no YUV matrix
_UNSPECIFIED = 2  # AVCOL_SPC_UNSPECIFIED
_FRAME_CLOCK_ENCODERS = {"mpeg2video"}  # encoders that take no time base but their frame rate's
_RATE_STATING_ENCODERS = {"libx264", "libx265"}  # x264 with force-cfr: its timing info from the rate, not the time base
# what RGB frames and images are when they say nothing: sRGB, BT.709's primaries (AVCOL_PRI_BT709) on the sRGB
# curve (AVCOL_TRC_IEC61966_2_1), which their code values are in (see docs/cli.md, Colour)
_BT709_PRIMARIES, _SRGB_TRANSFER = 1, 13
_LIMITED_RANGE, _FULL_RANGE = 1, 2  # AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG


def with_sane_dts(packets: list[av.Packet], earliest: Fraction | None = None) -> list[av.Packet]:
    """The packets, each whose decode timestamp cannot be one given its presentation timestamp: none,
    after it, or before `earliest` (seconds: the first frame's time less the span of the frames the
    encoder has been given; it cannot reorder a frame further back than the frames it holds). x265 4.2
    leaves it unset on some short encodes (a two-frame segment, measured in 4 of 20 encodes of 256x256
    10-bit frames: values such as 4090149695187711280 and -94852852370112, and 3 days to 4.6e12 s before
    their frames at a 1 us time base), and the muxer then refuses the packet. Such a packet is decoded
    when it is shown (it was not reordered, or its timestamp would have been set). A decode time far
    before its frame is no sign of that by itself: x264 reorders frames across a pause in the timestamps
    (a recording paused for 40 minutes) with decode times that far back, and the frames given span it."""
    for packet in packets:
        if packet.pts is None:
            continue
        early = earliest is not None and packet.dts is not None and packet.dts * packet.time_base < earliest
        if packet.dts is None or packet.dts > packet.pts or early:
            packet.dts = packet.pts
    return packets


class VideoEncoder:
    """The video stream of an output container, set up for frames shaped like `info`, and its encoder:
    RGB arrays in, packets out, each with its timestamps in `time_base`.

    The stream keeps the input's time base, so each frame its time, where the container holds it; where a
    container or encoder counts frames at one rate (`frame_clock`: AVI, Y4M, MXF, bare streams, the MPEG-2
    encoder), it ticks at the input's rate (`info.rate`), or an AVI at the rate of the grid a varying rate's
    frames fall on (`info.grid`, `on_grid`), its ticks without a frame left empty. It keeps the input's size,
    display rotation, sample aspect ratio, colour tags, HDR10 mastering metadata (with libx265), timecode,
    language, title and default flag. `name` (the output's file name) is for messages; what could not be kept
    goes to `warnings`. Two encoders made with the same settings for containers of the same format emit the
    same stream headers (`extradata`), so packets of one can be muxed into the other's stream (segments.py
    relies on this).
    """

    def __init__(self, container, name: str, info: VideoInfo, options: EncodeOptions, warnings: list[str]):
        self.info = info
        suffix, format_name = Path(name).suffix, container.format.name
        encoding = resolve_encoder(
            options, suffix, info.bit_depth, info.width, info.height,
            source_codec=info.codec, source_profile=info.profile, alpha=info.alpha, grey=grey_video(info),
        )  # fmt: skip
        warnings.extend(encoding_losses(info, options, encoding, format_name, suffix))
        warnings.extend(stream_losses(info, encoding, format_name, suffix))
        self._pix_fmt = encoding.pix_fmt
        self.alpha = info.alpha and encoding.alpha  # frames take the source's alpha channel along
        self.source_time_base = info.time_base or 1 / info.rate  # what Frame.pts and `encode`'s pts count in
        # AVI gives every tick of its time base a frame: a finer one would read as a rate of thousands of
        # frames a second, nearly all of them dropped, so it counts frames and timestamps are rounded to them
        # (so do Y4M's header and MPEG-2, whose encoder refuses any other time base)
        self._traits = container_traits(format_name)
        self._keeps_times = self._traits.keeps_times_with_stated_rate and encoding.encoder in _RATE_STATING_ENCODERS
        # what counts frames at one rate, if anything does (keeping() says what would keep each frame's time
        # instead): the frames each last one tick, no duration of their own is carried, and a variable rate drifts
        # (frames that come faster than the average take the next free tick)
        self.frame_clock: str | None = None
        if self._traits.counts_frames and not self._keeps_times:
            self.frame_clock = f"the {suffix.lower()} container"
        self._encoder_counts = self.frame_clock is None and encoding.encoder in _FRAME_CLOCK_ENCODERS
        if self._encoder_counts:
            self.frame_clock = f"the {encoding.encoder} encoder"
        self._codec_asked = bool(options.codec)
        # AVI gives the ticks between two frames empty index entries: on the grid a variable rate's frames fall on,
        # each keeps its time (a clock at the average rate drifts: frames that come faster take the next free tick)
        grid = info.grid if self._traits.gapped and not self._encoder_counts else None
        self.on_grid = grid is not None and grid >= info.rate  # a stream with frames missing: its own rate
        self.clock_rate = grid if self.on_grid else info.rate
        self.time_base = 1 / self.clock_rate if self.frame_clock else self.source_time_base
        self._scale = self.source_time_base / self.time_base
        self.step = max(1, round(1 / (info.rate * self.source_time_base)))  # source units per frame at the nominal rate
        self._out_step = max(1, round(1 / (info.rate * self.time_base)))
        # the fewest ticks between two frames that the container's own clock still tells apart (Matroska
        # counts milliseconds, whatever the stream's time base): closer ones are moved apart
        clock = self._traits.clock or self.time_base
        self._min_gap = max(1, math.ceil(clock / self.time_base))
        self._last_pts: int | None = None
        self._first_pts: int | None = None  # of the frames given to the encoder (_earliest)
        self._durations: dict[int, int] = {}  # pts -> duration of the frames given, till their packets come
        self._end: int | None = None  # where the frames given stop showing, where a duration was told
        self._mp4 = self._traits.durations_from_decode_times
        self._muxed: tuple[int, int] | None = None  # (pts, dts) of the latest packet, in an MP4 or MOV
        self._muxed_end: int | None = None  # where the packets before it end, as such a muxer takes them
        self.encoding = encoding
        self.stream = self._add_video(container, encoding, suffix)

    def keeping(self) -> str:
        """What would keep each frame's time where `frame_clock` counts frames: other containers (those that hold
        the codec --codec asked, tried in memory, so only when a warning needs it), or another codec."""
        if self._encoder_counts:
            return "another --codec keeps"
        return _keeping(self.encoding.encoder, asked=self._codec_asked)

    @property
    def extradata(self) -> bytes | None:
        """The stream headers the encoder made when it opened (after the container started encoding)."""
        return self.stream.codec_context.extradata

    def _add_video(self, container, encoding: Encoding, suffix: str):
        info = self.info
        encoding.set_environment()
        options = dict(encoding.options)
        if subsampled(encoding.pix_fmt):
            # the chroma is averaged about each block's centre (yuv.py): said so where the stream can say it
            # (H.264 and HEVC 4:2:0, whose readers otherwise take it as left-sited: mpv and FFmpeg's accurate
            # conversion showed colour edges half a pixel left; untagged VP9, AV1 and ProRes read as centred)
            options["chroma_sample_location"] = "center"
        if info.hdr is not None and encoding.encoder in HDR_PARAMS:
            option, params = HDR_PARAMS[encoding.encoder]
            options[option] = ":".join(filter(None, [options.get(option), params(info.hdr)]))
        if self._keeps_times and encoding.encoder == "libx264":
            # x264 takes variable-rate input's timing info from the time base (90000 fps in MPEG-PS); force-cfr
            # states the rate there and still passes each frame's timestamp through
            options["x264-params"] = ":".join(filter(None, [options.get("x264-params"), "force-cfr=1"]))
        try:
            stream = container.add_stream(encoding.encoder, rate=self.clock_rate, options=options)
        except ValueError:
            animated = suffix.lower() in (".gif", ".webp", ".apng")  # image formats with frames of their own
            if animated:
                holding = "write the video as .mp4, .mov, .mkv or .webm"
            else:
                holding = _holding_hint(encoding.encoder, suffix)
            raise encoding.cannot_hold(suffix or container.format.name, hint=holding) from None
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, encoding.pix_fmt
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        stream.thread_type = "AUTO"
        if self._traits.no_presentation_times:
            # AVI (and Y4M) store no presentation times: a B-frame's would be lost, and its decode time before the first
            # frame's moved every stream a frame later (x264's default reorders; AVI players show frames in order)
            stream.codec_context.max_b_frames = 0
        elif self._traits.loses_reordering and encoding.encoder not in _FRAME_CLOCK_ENCODERS:
            # FFmpeg's MXF muxer writes H.264 and HEVC without their reordering: B-frames came back with their
            # decode times, out of order (MPEG-2 keeps its own temporal offsets there)
            stream.codec_context.max_b_frames = 0
        if container.format.name == "yuv4mpegpipe" and bit_depth_of(av.VideoFormat(encoding.pix_fmt)) > 8:
            # Y4M's deep formats (C420p10, ...), which x264, libaom and VMAF read, are FFmpeg's "unofficial" ones
            container.options["strict"] = "unofficial"
        if encoding.encoder == "libx265" and container.format.name in _APPLE_FORMATS:
            stream.codec_context.codec_tag = "hvc1"  # QuickTime and iOS refuse HEVC tagged "hev1"
        if info.sample_aspect_ratio:
            stream.sample_aspect_ratio = info.sample_aspect_ratio
        self._tag_color(stream.codec_context, encoding, container.format.name)
        if (info.rotation or info.mirrored) and container.format.name in ROTATING_FORMATS:
            stream.set_display_rotation(info.rotation, hflip=info.mirrored)
        stream.metadata.update(info.tags)
        keep_language(container.format.name, stream.metadata, "the video", suffix)  # its loss: stream_losses
        stream.disposition = av.stream.Disposition.default if info.default else av.stream.Disposition(0)
        if info.timecode and container.format.name in TIMECODE_FORMATS:
            stream.metadata["timecode"] = info.timecode
        return stream

    def _tag_color(self, context, encoding: Encoding, format_name: str) -> None:
        """Copy the source's colour description to the stream, and pick the matrix and range that the
        RGB -> YUV conversion must use so that the tags describe the pixels: full-range input stays full
        range where the output can record it (full_range.records_full_range), and is converted to limited
        range where readers would take it as such (ProRes, MPEG-2 in .mpg). YUV video that names no matrix
        is written in the one deblur read it with (info.reading_matrix: BT.709 for HD, BT.601 for SD) and
        tagged so; RGB frames and images, which name no primaries or transfer, are sRGB (BT.709's primaries,
        the sRGB curve) and tagged so. Each frame encoded carries the same tags (_tagged)."""
        color, pix_fmt = self.info.color, encoding.pix_fmt
        rgb = av.VideoFormat(pix_fmt).is_rgb
        jpeg = pix_fmt.startswith("yuvj")  # JPEG-style formats: full range (and BT.601) by definition
        matrix, value_range = color.get("matrix", context.colorspace), color.get("range")
        primaries, transfer = color.get("primaries", context.color_primaries), color.get("transfer", context.color_trc)
        srgb = srgb_source(self.info)
        if srgb and primaries in UNSPECIFIED["primaries"]:
            primaries = _BT709_PRIMARIES
        if srgb and transfer in UNSPECIFIED["transfer"]:
            transfer = _SRGB_TRANSFER
        if matrix in UNSPECIFIED["matrix"] and stores_rgb(self.info.pix_fmt):
            matrix = _RGB_MATRIX  # RGB needs no matrix, so many RGB streams (FFV1, QuickTime Animation) name none
        elif matrix in UNSPECIFIED["matrix"]:
            matrix = reading_matrix(self.info) or _UNSPECIFIED
        if not rgb and matrix == _RGB_MATRIX:  # RGB frames (PNG, TIFF, FFV1) into YUV: the matrix video uses
            matrix, value_range = (BT601, _FULL_RANGE) if jpeg else (BT709, _LIMITED_RANGE)
        self._matrix = None if rgb else _SWS_MATRIX.get(matrix)
        if jpeg:
            self._range = _FULL_RANGE
        else:
            self._range = None if rgb else value_range or None
            if self._range == _FULL_RANGE and not records_full_range(format_name, encoding, color):
                self._range = _LIMITED_RANGE
        context.color_primaries, context.color_trc = primaries, transfer
        context.colorspace = _RGB_MATRIX if rgb else matrix
        if self._range is not None:
            context.color_range = self._range
        self._tags = (context.color_primaries, context.color_trc, context.colorspace, context.color_range)

    def encode(
        self, image: np.ndarray, pts: int | None, alpha: np.ndarray | None = None, duration: int | None = None
    ) -> list[av.Packet]:
        """The packets the encoder has ready after taking one (H, W, 3) RGB frame in stored orientation,
        and its (H, W) alpha plane where the source has one (None: opaque).

        `duration` (in `source_time_base`; None: unknown, one frame at the nominal rate) is how long the frame
        shows: its packet carries it, so that the last frame, held at the end, lasts as long as in the source
        (_lasting).

        `pts` is in `source_time_base` (the packets' are in `time_base`); None continues at the nominal rate.
        A timestamp that does not rise (or rises by less than the container's clock tells apart: a
        millisecond in Matroska) is moved just past the previous one, since encoders and players need
        distinct rising timestamps.
        The caller checked the image (checked_parts).
        """
        if self.alpha:
            image = with_alpha(image, alpha)
        picture = self._tagged(self._convert(_packed(image)))
        # half a tick up, always: rounded half to even, frames 40 ms apart from 0.5 s on a 1/25 s clock took
        # ticks 12, 14, 15 (14.5 to 14, taken, then the next free one), a gap after the first
        picture.pts = self._next_pts(None if pts is None else math.floor(pts * self._scale + Fraction(1, 2)))
        picture.time_base = self.time_base
        if duration and not self.frame_clock:
            lasts = max(1, round(duration * self._scale))
            self._durations[picture.pts] = lasts
            self._end = max(self._end or 0, picture.pts + lasts)
        return self._lasting(with_sane_dts(self.stream.encode(picture), self._earliest()))

    def flush(self) -> list[av.Packet]:
        """The packets the encoder still holds; it takes no frame after this."""
        return self._lasting(with_sane_dts(self.stream.encode(None), self._earliest()), last=True)

    def _lasting(self, packets: list[av.Packet], *, last: bool = False) -> list[av.Packet]:
        """The packets, each carrying the duration of its frame where `encode` was told it (x264 leaves them
        to the muxer, which takes a frame at the nominal rate): Matroska holds the last frame for its packet's.
        An MP4 or MOV muxer takes the durations of all but the last packet from the decode times that follow, and
        ends the video where the packet that ends last does; with reordered frames (B-frames) the last
        packet, the flush's (`last`), is not the last frame's: it is made to end where the last frame does
        where the others end before (a frame held), and not after it (the nominal rate is not each frame's)."""
        for packet in packets:
            if packet.pts is not None and (lasts := self._durations.pop(packet.pts, None)) is not None:
                packet.duration = lasts
            if self._mp4 and packet.pts is not None and packet.dts is not None:
                if self._muxed is not None:  # the packet before ends at its time plus the decode times' step
                    shown, decoded = self._muxed
                    self._muxed_end = max(self._muxed_end or shown, shown + packet.dts - decoded)
                self._muxed = packet.pts, packet.dts
        final = packets[-1] if last and packets else None
        if final is not None and self._mp4 and self._end is not None and final.pts is not None:
            if (self._muxed_end or 0) < self._end:
                final.duration = self._end - final.pts
            elif final.pts + (final.duration or self._out_step) > self._end:  # the muxer's, where it has none
                final.duration = max(1, self._end - final.pts)
        return packets

    def _earliest(self) -> Fraction | None:
        """The earliest decode time (s) the encoder can give a packet: its first frame's time, less the span
        of the frames it has been given and a frame (with_sane_dts)."""
        if self._first_pts is None or self._last_pts is None:
            return None
        span = self._last_pts - self._first_pts
        return (self._first_pts - span - self._out_step) * self.time_base

    def _convert(self, image: np.ndarray) -> av.VideoFrame:
        """The encoder's pixel format: YUV exactly (yuv.yuv_frame), grey from a grey frame's first channel
        (grey.grey_frame), other formats converted by swscale straight from the caller's array (no copy first)."""
        if is_grey_format(self._pix_fmt) and image.shape[2] == 3 and is_grey_image(image):
            if (picture := grey_frame(image, self._pix_fmt)) is not None:
                return picture
        picture = yuv_frame(image, self._pix_fmt, self._matrix, self._range)
        if picture is not None:
            return picture
        fmt = array_format(image.dtype, alpha=image.shape[2] == 4)
        view = av.VideoFrame.from_numpy_buffer(image, format=fmt)
        picture = view.reformat(format=self._pix_fmt, dst_colorspace=self._matrix, dst_color_range=self._range)
        if picture is view:  # nothing to convert: copy, since the encoder may hold on to the frame
            picture = av.VideoFrame.from_ndarray(image, format=fmt)
        return picture

    def _tagged(self, picture: av.VideoFrame) -> av.VideoFrame:
        """`picture` with the stream's colour tags. Some encoders write a frame's own, not the stream's:
        ProRes (prores_ks, prores_aw) keeps primaries, transfer and matrix in each frame's header, and
        FFmpeg's decoder reads them from there; set on the stream alone, a PQ master came back unspecified."""
        picture.color_primaries, picture.color_trc, picture.colorspace, picture.color_range = self._tags
        return picture

    def _next_pts(self, pts: int | None) -> int:
        last = self._last_pts
        if pts is None:
            pts = 0 if last is None else last + self._out_step
        elif last is not None and pts < last + self._min_gap:
            pts = last + self._min_gap
        self._last_pts = pts
        if self._first_pts is None:
            self._first_pts = pts
        return pts


def _packed(image: np.ndarray) -> np.ndarray:
    """`image` with rows of whole pixels, one after another, as PyAV takes a buffer. numpy calls a view
    with a side of 1 contiguous whatever its strides (a 1-pixel-wide crop of an RGBA array keeps the
    stride of 4), so the strides are compared, not the flags."""
    height, width, channels = image.shape
    size = image.itemsize
    if image.strides[1:] == (channels * size, size) and image.strides[0] == width * channels * size:
        return image
    return image.copy(order="C")


def carry_streams(source, container, encoder: VideoEncoder, options: EncodeOptions, warnings: list[str]) -> Passthrough:
    """The Passthrough of `source`'s other streams into `container`, beside `encoder`'s video, cut to
    the span its VideoInfo describes."""
    info = encoder.info
    return Passthrough(
        source,
        container,
        audio=options.audio,
        warnings=warnings,
        start=float(info.pts_offset * encoder.source_time_base) if info.pts_offset else None,
        end=info.end_time,
    )


def open_container(file, name: str):
    """An output container for `file` (a path, or a file object whose `name` is set), its format from the
    suffix of `name`; EncoderOptionError (a bad option) for a suffix FFmpeg does not know. Bit-exact: the
    muxer writes no random IDs or dates of its own (Matroska's segment UID), so the same run writes the same bytes."""
    try:
        return av.open(file, "w", container_options={"fflags": "+bitexact"})
    except ValueError:
        raise EncoderOptionError(
            f"cannot tell the video format of {name} from its suffix",
            hint="use .mp4, .mkv, .mov, .webm or .avi; for PNG frames under a name that has a dot, make the folder"
            " first",
        ) from None


def has_muxer(suffix: str) -> bool:
    """Whether FFmpeg writes a container named with `suffix` (".nut" yes, a camera's own ".lrv" no)."""
    return muxer_of(suffix) is not None


@functools.cache
def muxer_of(suffix: str) -> str | None:
    """The name of the muxer FFmpeg writes a container named with `suffix` with ("avi" for ".avi"); None where
    it has none."""
    memory = io.BytesIO()
    memory.name = f"out{suffix}"
    try:
        container = open_container(memory, memory.name)
    except EncoderOptionError:
        return None
    with container:
        return container.format.name


def start_encoding(container, encoding: Encoding, *, in_memory: bool = False) -> None:
    """Open the encoders and write the header now, so bad settings fail before any frame is decoded.
    `in_memory`: the container writes to memory, so an OSError there is FFmpeg's refusal, not the disk's."""
    # read before opening: PyAV 19 crashes reading a codec context that failed to open
    video = _EncoderSettings.of(container.streams.video[0].codec_context)
    try:
        container.start_encoding()
    except (OSError, ValueError, av.FFmpegError) as e:  # the encoder refused its settings, or the muxer the codec
        if isinstance(e, OSError) and not in_memory:
            raise  # the file system's (a full disk): the caller says so
        if isinstance(e, OSError) and not _opens_alone(video):  # a hardware encoder without its device: EPERM
            raise OutputError(
                f"the {encoding.encoder} encoder cannot be opened here ({e.strerror or e})",
                hint="a hardware encoder needs its device and driver; leave out --codec for the default",
            ) from None
        rate = video.framerate
        if rate and not _opens_alone(video, rate=rate) and _opens_alone(video, rate=Fraction(25)):
            # MPEG-1 and MPEG-2 store a fixed set of rates (25, 29.97, ... and some fractions of them)
            raise OutputError(
                f"the {encoding.encoder} encoder cannot store {float(rate):g} frames a second",
                hint="write .mp4 or .mkv without --codec: their H.264 takes any rate",
            ) from None
        muxer = container.format.name
        if rate and _opens_alone(video) and _muxes(video, muxer, Fraction(25)) and not _muxes(video, muxer, rate):
            # MXF writes broadcast rates only (25, 29.97, 50, ...)
            raise EncoderOptionError(
                f"the {Path(container.name).suffix or muxer} container cannot hold video at {float(rate):.4g}"
                " frames a second",
                hint="write .mkv, .mov or .mp4, which take any rate",
            ) from None
        # a muxer may list a codec it then refuses (MOV and VP9; SWF with EPERM): an encoder that opens alone
        # was not at fault
        if encoding.encoder not in container.supported_codecs or _opens_alone(video):
            raise encoding.cannot_hold(
                Path(container.name).suffix or container.format.name,
                hint=_holding_hint(encoding.encoder, Path(container.name).suffix),
            ) from None
        raise OutputError(
            f"the {encoding.encoder} encoder refused its settings ({getattr(e, 'strerror', None) or e})",
            hint="check the codec, --crf, --preset and --pix-fmt options",
        ) from None


_USUAL_SUFFIXES = (".mkv", ".mov", ".mp4", ".avi", ".webm")


@functools.lru_cache(maxsize=None)
def _holding_hint(encoder: str, refused: str = "") -> str:
    """The hint for a container (of suffix `refused`) that cannot hold `encoder`'s video: the other usual
    ones whose muxer takes such a stream (Ut Video: .avi alone; PNG: not .mkv), tried in memory. (A muxer
    may take a stream and refuse it at its header, as MOV does AV1: `refused` is never offered.)"""
    holding = [suffix for suffix in _USUAL_SUFFIXES if suffix != refused.lower() and _takes(encoder, suffix)]
    if not holding:
        return "choose another --codec"
    return f"use {' or '.join(holding)}, which {'holds' if len(holding) == 1 else 'hold'} {encoder} video"


def _keeping(encoder: str, asked: bool) -> str:
    """The advice for a video whose container counts frames: the containers that keep each frame's time, those
    of them that hold `encoder` where --codec asked for it (ffv1: not .mov), and another codec too where none
    does or that one counts frames itself (--codec mpeg2video into .mpg)."""
    holding = [".mp4", ".mov", ".mkv"]
    if asked:
        holding = [] if encoder in _FRAME_CLOCK_ENCODERS else [suffix for suffix in holding if _takes(encoder, suffix)]
    if not holding:
        return ".mp4, .mov and .mkv with another --codec keep"
    if len(holding) == 1:
        return f"{holding[0]} keeps"
    return f"{', '.join(holding[:-1])} and {holding[-1]} keep"


def _takes(encoder: str, suffix: str) -> bool:
    """Whether the muxer of `suffix` takes a stream of `encoder`'s video, tried in memory."""
    memory = io.BytesIO()
    memory.name = "probe" + suffix
    container = open_container(memory, memory.name)
    try:
        container.add_stream(encoder, rate=25)
        return True
    except (ValueError, av.FFmpegError):
        return False
    finally:
        with contextlib.suppress(Exception):
            container.close()


def _muxes(settings: _EncoderSettings, muxer: str, rate: Fraction) -> bool:
    """Whether the muxer `muxer` writes its header for a stream of an encoder with `settings` at `rate` frames a
    second, tried in memory."""
    container = av.open(io.BytesIO(), "w", format=muxer)
    try:
        stream = container.add_stream(settings.name, rate=rate, options=dict(settings.options))
        stream.width, stream.height, stream.pix_fmt = settings.width, settings.height, settings.pix_fmt
        stream.time_base = stream.codec_context.time_base = 1 / rate
        container.start_encoding()
        return True
    except (OSError, ValueError, av.FFmpegError):
        return False
    finally:
        with contextlib.suppress(Exception):
            container.close()


@dataclass(frozen=True)
class _EncoderSettings:
    """What an encoder was set to, read off its codec context before it is opened."""

    name: str
    width: int
    height: int
    pix_fmt: str | None
    time_base: Fraction | None
    framerate: Fraction | None
    options: dict[str, str]

    @classmethod
    def of(cls, context) -> _EncoderSettings:
        return cls(
            context.name, context.width, context.height, context.pix_fmt, context.time_base, context.framerate,
            dict(context.options),
        )  # fmt: skip


def _opens_alone(settings: _EncoderSettings, rate: Fraction | None = None) -> bool:
    """Whether an encoder with `settings` (at `rate` frames a second, where given) opens outside its container."""
    try:
        alone = av.CodecContext.create(settings.name, "w")
        alone.width, alone.height, alone.pix_fmt = settings.width, settings.height, settings.pix_fmt
        alone.time_base = 1 / rate if rate else settings.time_base or Fraction(1, 25)
        if rate or settings.framerate:  # SVT-AV1 takes the time base for the rate where none is set
            alone.framerate = rate or settings.framerate
        alone.options = dict(settings.options)
        alone.open()
    except (ValueError, av.FFmpegError):
        return False
    return True


class VideoFileSink(atomic.FinishOrAbort, FrameSink):
    """Frames encoded into a video file written under a temporary name and renamed into place by `finish`.

    The video stream is a VideoEncoder's. With `source`, its audio and subtitle streams are carried over
    (see Passthrough); `warnings` lists anything that could not be kept as it was. Besides frames, it takes
    packets encoded earlier with the same settings (`write_packets`). Every failure raises OutputError
    after removing the temporary file.

    A second run writing the same output at the same time is refused (OutputError): the output's lock
    is held from here until `finish` or `abort`. `temp_folder` is the output's work folder, whose owner
    (segments.SegmentedVideoSink) holds that lock already.
    """

    def __init__(
        self, path: str | os.PathLike, info: VideoInfo, options: EncodeOptions, *, source=None, temp_folder=None
    ):
        self.path = Path(path)
        self.info = info
        self.warnings: list[str] = []
        self._frames = 0
        self._container = None
        self._passthrough = None
        self._state = "open"  # then "finished" or "aborted"
        self._lock = OutputLock(self.path) if temp_folder is None else None
        # in `temp_folder` (a run's work folder), or in the folder of the lock: what a killed run leaves there is
        # removed by the next one, where a hidden file beside the output would stay for good
        try:
            self._temp = files.reserve_file(self.path, self._lock.path if temp_folder is None else temp_folder)
        except BaseException:
            self._unlock()
            raise
        with atomic.cleanup_on_error(self.path, self.abort):
            self._container = open_container(local_name(self._temp), self.path.name)
            self._encoder = VideoEncoder(self._container, self.path.name, info, options, self.warnings)
            self._lead_in_due = container_traits(self._container.format.name).gapped  # till the first packet (_lead_in)
            if source is not None:
                self._passthrough = carry_streams(source, self._container, self._encoder, options, self.warnings)
            start_encoding(self._container, self._encoder.encoding)

    @property
    def extradata(self) -> bytes | None:
        """The video stream's headers, which packets given to `write_packets` must have been encoded with."""
        return self._encoder.extradata

    def write(
        self,
        frame: Frame | np.ndarray,
        pts: int | None = None,
        alpha: np.ndarray | None = None,
        duration: int | None = None,
    ) -> None:
        """Encode one frame: an (H, W, 3) RGB uint8 or uint16 array in stored orientation and its (H, W)
        alpha plane (None: opaque), or a Frame.

        `pts` is in the info's time base (a Frame brings its own); None continues at the nominal rate. A
        timestamp that does not rise is moved one tick past the previous one, since encoders require it.
        `duration` (a Frame brings its own): how long the frame shows, which the last frame keeps.
        """
        frame, pts, alpha, duration = checked_parts(frame, pts, alpha, self.info, duration)
        atomic.check_open(self._state, self.path)
        with atomic.cleanup_on_error(self.path, self.abort):
            self._mux(self._encoder.encode(frame, pts, alpha, duration))
            self._frames += 1

    def write_packets(self, packets: Iterable[av.Packet]) -> None:
        """Mux video packets, in decode order, that an encoder with this output's settings made (each
        packet holds one frame and carries its time base); see segments.py."""
        atomic.check_open(self._state, self.path)
        with atomic.cleanup_on_error(self.path, self.abort):
            for packet in packets:
                packet.stream = self._encoder.stream
                self._mux([packet])
                self._frames += 1

    def carried(self) -> tuple[int, int]:
        """The packets, and their bytes, that the source's streams carried over add to the output
        (Passthrough.carried); none without them."""
        return self._passthrough.carried() if self._passthrough is not None else (0, 0)

    def _mux(self, packets) -> None:
        for packet in packets:
            if self._lead_in_due:
                self._lead_in(packet)
            if self._passthrough is not None and packet.dts is not None:
                self._passthrough.feed_until(float(packet.dts * packet.time_base))
            self._container.mux(packet)

    def _lead_in(self, first: av.Packet) -> None:
        """An empty packet at zero before an AVI's first frame where that frame comes later (a video that starts
        after its sound). FFmpeg's AVI muxer gives the ticks between two frames empty index entries, but puts the
        first frame on the first tick whatever its time: a video starting 0.5 s after its sound had its first
        frame at 0 and the 0.5 s gap after it."""
        self._lead_in_due = False
        if first.dts is not None and first.dts > 0:
            empty = av.Packet(0)
            empty.stream, empty.time_base = self._encoder.stream, self._encoder.time_base
            empty.pts = empty.dts = 0
            self._container.mux(empty)

    def _complete(self) -> None:
        """Flush the encoders, carry the rest of the audio, and close."""
        self._mux(self._encoder.flush())
        if self._passthrough is not None:
            self._passthrough.finish()
        self._container.close()

    def abort(self) -> None:
        """Stop, delete the temporary file and unlock; the final name is never touched. Does nothing once
        finished or aborted."""
        if self._state == "open":
            self._state = "aborted"
            if self._passthrough is not None:
                with contextlib.suppress(Exception):
                    self._passthrough.close()
            if self._container is not None:
                with contextlib.suppress(Exception):
                    self._container.close()
            files.discard(self._temp)
        self._unlock()

    def finish(self) -> None:
        """Complete the file and rename it into place, then unlock."""
        try:
            super().finish()
        finally:
            self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
