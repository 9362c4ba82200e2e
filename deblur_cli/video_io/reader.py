"""Decoding a video file into RGB frames, streaming, with clear errors for files that are not what they seem."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av

from deblur_cli.errors import InputError
from deblur_cli.span import Span
from deblur_cli.video_io.container_traits import container_traits
from deblur_cli.video_io.containers import empty_file, open_input
from deblur_cli.video_io.deinterlace import FRAMES_BEFORE, check_mode, deinterlaced, field_order
from deblur_cli.video_io.frame_timing import Steps, timing_of
from deblur_cli.video_io.gif_end import missing_trailer
from deblur_cli.video_io.hdr import DolbyVision, hdr_of
from deblur_cli.video_io.headroom import Headroom
from deblur_cli.video_io.side_data import side_data_of
from deblur_cli.video_io.info import (
    Frame,
    VideoInfo,
    bit_depth_of,
    carries_alpha,
    color_of,
    frame_arrays,
    orientation_of,
    read_as,
    reading_matrix,
)
from deblur_cli.video_io import mkv_elements, mp4_atoms
from deblur_cli.video_io.packet_ends import IntactEnd
from deblur_cli.video_io.read_damage import DamageLog
from deblur_cli.video_io.streams import (
    StreamTiming,
    frames_in,
    own_time,
    reason,
    stream_timing,
    video_stream,
)
from deblur_cli.video_io.timecode import at_double_rate, find_timecode, shifted
from deblur_cli.video_io.track_tags import track_tags
from deblur_cli.video_io.truncation import check_complete, damaged_hint, good_frames

# Where a container states no length (ContainerTraits.guessed_length: MPEG program streams, bare streams), the
# video's packets, a frame each, are counted instead up to this size (demuxed, not decoded: milliseconds a megabyte).
_COUNT_PACKETS_UP_TO = 256 << 20
_LAST_TIMESTAMP = 2**63 - 1  # FFmpeg's timestamps are int64: a seek past the end goes no further

# Codecs that store one shown frame in each packet (VP9's hidden frames travel in a superframe with a shown one), so
# that a packet that gives no frame was lost: a frame-threaded decoder (thread_type AUTO) drops a damaged packet's
# frame without an error. 30 packets gave 30 frames for each in tests/media clips; H.264 and HEVC may store a frame
# as two fields, a packet each.
_FRAME_A_PACKET = {"vp8", "vp9", "av1"}
# WebM stores VP8/VP9 transparency beside each frame (Matroska's ALPHA_MODE tag says so); FFmpeg's own
# decoders drop it, libvpx's decode it.
_ALPHA_DECODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9"}

_DEFAULT = av.stream.Disposition.default


class VideoFileSource:
    """Frames of the first video stream of a media file, decoded lazily (one frame in memory at a time).

    Iterate once; each item is a `Frame` with an (H, W, 3) RGB array (uint8 for 8-bit video, uint16 on the
    full 16-bit scale above) in stored orientation. A stream whose frame size changes part-way is scaled to its
    first size. A source with an alpha channel gives each Frame its alpha plane (`info.alpha`). A packet
    the decoder refuses is skipped; `warnings` says what was. Raises InputError at open for unreadable
    files, and while iterating where a truncated stream stops or the demuxer gives up, after yielding
    every good frame.

    `deinterlace`: "auto" deinterlaces a stream marked interlaced, "on" any stream, "off" none, "double"
    a stream marked interlaced into a frame per field (video_io/deinterlace.py); `info.deinterlaced`
    says whether it does. At double rate, `info` describes the frames delivered: twice the rate and
    count, and timestamps in half the stream's time base.
    """

    def __init__(self, path: str | os.PathLike, span: Span = Span(), *, deinterlace: str = "auto"):
        check_mode(deinterlace)
        self.path = Path(path)
        self._container = _open(self.path)
        try:
            self._stream = video_stream(self._container, self.path)
            self._timing = stream_timing(self._stream)  # the same file's when the stream is opened again (_reopen)
            self._traits = container_traits(self._container.format.name)
            self._decoder = _decoder(self._stream)
            self._damage = DamageLog()
            self._headroom = Headroom()  # levels beyond black and white in the frames decoded
            self._first_seconds: float | None = None  # the first frame's time (_first_time), once `info` is known
            self._end_time: Fraction | None = None  # where a span that ends early ends, on the stream's clock (s)
            self._start_seconds = float(span.start)  # --start, for a hint about a file cut before it
            self._unended = missing_trailer(self.path) if self._container.format.name == "gif" else None
            self._index_timestamps = _counts_frames(self._container, self._stream)
            self._listed = _listed_times(self._container, self._stream)
            # the tags as the container states them, read before decoding sets the context to the frames'
            stated = color_of(self._stream.codec_context)
            self._frames = self._decode()
            first = next(self._frames, None)
            if first is None:
                raise InputError(
                    f"{self.path}: the video stream has no decodable frames",
                    hint="the file is empty or damaged; check that it plays in a media player",
                )
            counted = self._index_timestamps and self._listed is None
            info = _describe(
                self._container, self._stream, self._timing, first, stated, counted=counted, listed=self._listed
            )
            self._double = deinterlace == "double" and info.field_order is not None
            if deinterlace == "on" or (deinterlace in ("auto", "double") and info.field_order is not None):
                info = replace(info, deinterlaced=True)
            if self._double:
                info = _field_rate(info)
            self._deinterlaced, self._first_field = info.deinterlaced, info.field_order
            self._step = _frame_step(info)
            self._timeline = self._timed(self._fields_joined(itertools.chain([first], self._frames)))
            self._first = next(self._timeline)
            self._zero = self._first[1]  # the file's first timestamp
            self._index = 0  # of the first frame iteration yields, among the span's frames
            self._end_pts: int | None = None  # the first timestamp past a span that ends early
            self._clock_start = self._clock_zero(info)  # where the output's clock starts, without a --start
            if not span.whole:
                info = self._cut(info, span)
            elif self._clock_start:
                info = replace(info, pts_offset=self._clock_start)
            # A demuxer may drop damage without an error (MPEG-TS's packets; Matroska's, to the next cluster: 31 of
            # 200 frames lost to 4 KiB of zeros), as a recorder may drop frames: they show only where a stream
            # otherwise at one rate jumps a whole number of frames (frame_timing.Steps.holes, as `deblur info` says)
            authored = self._traits.authored_times
            self._damage.steps = Steps(info.time_base or 1 / info.rate, authored)
        except BaseException:
            self._container.close()
            raise
        self.info = info
        self._matrix, self._range = reading_matrix(info), info.color["range"]  # for frames that name neither (read_as)
        self._first_seconds = float(self._zero * (info.time_base or 1 / info.rate))

    def __iter__(self) -> Iterator[Frame]:
        timeline, self._timeline = self._timeline, iter(())
        if self._first is not None:
            timeline = itertools.chain([self._first], timeline)
            self._first = None
        stop, previous, after = self._end_pts, None, None
        held: Frame | None = None  # a frame behind: the last one is told how long it shows (_last_shows)
        try:
            for index, (frame, pts) in enumerate(timeline, start=self._index):
                if stop is not None and pts >= stop:
                    after = pts
                    break
                info = self.info
                self._damage.steps.add((pts - self._zero) * (info.time_base or 1 / info.rate))
                previous = pts
                if (frame.width, frame.height) != (info.width, info.height):
                    self._damage.size_changed(frame.width, frame.height, index)
                frame = read_as(frame, self._matrix, self._range)
                image, alpha = frame_arrays(frame, info.dtype, info.alpha, info.width, info.height)
                if held is not None:
                    yield held
                held = Frame(image=image, pts=pts - info.pts_offset, index=index, alpha=alpha)
        except InputError:  # a file damaged further on: the frames before the damage first
            if held is not None:
                yield held
            raise
        if held is not None:
            held.duration = self._last_shows(previous, after)
            yield held

    def _last_shows(self, pts: int, after: int | None) -> int | None:
        """How long the last frame read, at `pts`, shows (timeline units): up to the frame `after` it (the
        first past a span), or to where the container says the video ends (or the span does, inside it), as a
        frame held at the end of a screen recording or an editor's export is (the frames' own durations say
        nothing of it where they are reordered: MP4's are their decode order's). None where neither is known."""
        time_base = self.info.time_base
        if not time_base or pts is None:
            return None
        if after is not None:
            return after - pts
        end = self._timing.end
        stop = None if end is None else round(Fraction(end) / time_base)
        if self._end_pts is not None and stop is not None:  # a span that ends inside the last frame ends it there
            stop = min(stop, self._end_pts)
        lasts = None if stop is None else stop - pts
        if not lasts or lasts <= 0 or not own_time(lasts * time_base, self._step * time_base, time_base):
            return None  # a frame at the nominal rate, but for rounding
        return lasts

    def skip_to(self, index: int, pts: int | None) -> None:
        """Make iteration start at the span's frame `index`, whose timestamp on the output's clock is
        `pts` (as the frame's Frame.pts said): a seek to the keyframe before it, then decoding forward.
        Raises InputError if no frame has that timestamp (the file changed). Call before iterating."""
        if pts is None:
            raise InputError(f"{self.path}: a frame of a video is found by its timestamp", hint="give its pts")
        target = pts + self.info.pts_offset
        for attempt in ("seek", "from the start"):
            if self._index_timestamps:  # reordered AVI's timestamps are given in turn: read on from here
                timeline = itertools.chain([self._first] if self._first else [], self._timeline)
            else:
                self._seek(target if attempt == "seek" else self._zero, self._zero)
                timeline = self._timeline
            found = next((item for item in timeline if item[1] >= target), None)
            if found is not None and found[1] == target:
                self._first, self._timeline, self._index = found, timeline, index
                return
            if self._index_timestamps:
                break
        raise InputError(
            f"{self.path}: no frame has the timestamp where the earlier run stopped ({pts})",
            hint="the input changed since that run; run again with --no-resume",
        )

    def _fields_joined(self, frames: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        """The decoded frames as iteration delivers them: deinterlaced when the source is."""
        if not self._deinterlaced:
            return frames
        return deinterlaced(frames, self._stream.time_base, self._first_field, double=self._double)

    def _timed(self, frames: Iterator[av.VideoFrame]) -> Iterator[tuple[av.VideoFrame, int]]:
        """Frames with strictly rising timestamps in the timeline's time base (the stream's; at double
        rate, half of it)."""
        if not self._index_timestamps:
            yield from rising_timestamps(frames, self._step, self._damage.left_out_stale)
            return
        last = None
        for index, frame in enumerate(frames):
            last = self._indexed_pts(index, last)
            yield frame, last

    def _indexed_pts(self, index: int, last: int | None) -> int:
        """The timestamp of reordered AVI's `index`-th frame on the timeline: the `index`-th time its index
        lists, or, without an index, `index` frames. The index holds decode times, so where a capture dropped
        frames the gap may fall up to the reordering's depth (a frame or two) from where it was."""
        if self._listed is None:
            return index * self._step
        per_frame = 2 if self._double else 1  # a frame per field: two timeline steps per stored frame
        stored, field = divmod(index, per_frame)
        if stored < len(self._listed):
            return self._listed[stored] * per_frame + field
        return last + self._step  # more frames than the index lists: the decoder made one of two packets

    def _cut(self, info: VideoInfo, span: Span) -> VideoInfo:
        """Move to the span's first frame; the VideoInfo of the frames from there to the span's end."""
        zero = self._first[1]
        time_base = info.time_base or 1 / info.rate
        if span.start > 0:
            target = zero + _units(span.start, time_base)
            if not self._index_timestamps:  # reordered AVI's are given in turn from the start: read up to the span
                self._seek(target, zero)
            self._first = last = None
            for item in self._timeline:
                if item[1] >= target:
                    self._first = item
                    break
                last = item
            if self._first is None:
                told = [f"the video is {info.duration:g} s long"] if info.duration else []
                if told and last is not None:  # where its last frame starts, rounded down to a --start it takes
                    starts = math.floor(float((last[1] - zero) * time_base) * 1000) / 1000
                    told.append(f"its last frame starts at {starts:g} s")
                length = f" ({'; '.join(told)})" if told else ""
                raise InputError(
                    f"{self.path}: no frame at or after {span.start:g} s{length}", hint="choose an earlier --start"
                )
        if span.end is not None:
            self._end_pts = zero + _units(span.end, time_base)
            self._end_time = self._end_pts * time_base
            if self._first[1] >= self._end_pts:
                raise InputError(
                    f"{self.path}: no frame is shown from {span.describe()}",
                    hint="give the span at least one frame's duration",
                )
        stop = span.end
        if info.duration is not None:
            stop = info.duration if stop is None else min(stop, info.duration)
        skipped = float((self._first[1] - zero) * time_base)  # seconds before the span's first frame
        length = None if stop is None else max(stop - skipped, 0.0)
        timecode = info.timecode
        if timecode is not None and info.fps:
            timecode = shifted(timecode, round(skipped * info.fps), info.fps)
        return replace(
            info,
            frame_count=self._listed_between(self._first[1], self._end_pts)
            or (max(1, round(length * info.fps)) if length is not None and info.fps else None),
            duration=length,
            pts_offset=self._first[1] if span.start > 0 else self._clock_start,
            end_time=None if span.end is None else float(zero * time_base) + span.end,
            timecode=timecode,
        )

    def _listed_between(self, start: int, end: int | None) -> int | None:
        """How many frames the index lists from timestamp `start` to before `end` (None: the end), on the
        timeline's clock; None where the frames are not timed by an index that lists them all."""
        if self._listed is None:
            return None
        per_frame = 2 if self._double else 1  # a frame per field: two timeline steps per stored frame
        times = (tick * per_frame + field for tick in self._listed for field in range(per_frame))
        return sum(start <= time and (end is None or time < end) for time in times)

    def _clock_zero(self, info: VideoInfo) -> int:
        """The timestamp (the timeline's units) the output's clock counts from: 0, the file's own clock,
        except for a container whose clock starts where the recorder's did (ContainerTraits.shifted_clock),
        whose clock starts at the earliest stream's first time (an audio track that starts before the video
        keeps its lead), as FFmpeg moves it: kept, it becomes an empty edit in MP4 and MOV, seconds of nothing
        before the first frame."""
        if not self._traits.shifted_clock or self._index_timestamps:
            return 0
        start = self._container.start_time  # the earliest stream's, in microseconds
        earliest = self._zero
        if start is not None and info.time_base:
            earliest = min(earliest, math.floor(Fraction(start, 1_000_000) / info.time_base))
        return max(earliest, 0)

    def _seek(self, target: int, zero: int) -> None:
        """Restart decoding at the last keyframe at or before `target` (the timeline's time base).

        A container whose index lands after the target (some Matroska and MPEG-TS files) is read from its
        first frame `zero` instead, and where that seek too lands late (an MPEG-TS file of one keyframe),
        from its first byte, opened again. A deinterlaced frame depends on the frame before it, so
        deinterlacing starts a frame earlier than the target: the frames from the target on are those of a
        whole read.
        """
        per_frame = 2 if self._double else 1  # timeline steps per decoded frame
        margin = FRAMES_BEFORE * per_frame * self._step if self._deinterlaced else 0
        for position in (target - margin, zero, None):
            self._frames.close()
            if position is None:
                self._reopen()
            else:
                self._container.seek(min(position // per_frame, _LAST_TIMESTAMP), stream=self._stream, backward=True)
                if self._decoder is not self._stream.codec_context:  # the container flushes only its own
                    self._decoder.flush_buffers()
            self._frames = self._decode(count_packets=position is None)
            timeline = self._timed(self._fields_joined(self._frames))
            first = next(timeline, None)
            self._timeline = timeline if first is None else itertools.chain([first], timeline)
            if first is not None and first[1] <= target - margin:
                return

    def _reopen(self) -> None:
        """The file opened again, to be read from its first byte with a fresh decoder."""
        index = self._stream.index  # read before the close frees the stream
        self._container.close()
        self._container = _open(self.path)
        self._stream = self._container.streams[index]
        self._decoder = _decoder(self._stream)

    def _decode(self, count_packets: bool = True) -> Iterator[av.VideoFrame]:
        """Decoded frames in presentation order; `count_packets` False after a seek (packets before it were skipped).

        A packet the decoder refuses (damage in the middle of a file) is skipped, as FFmpeg's own tools
        do, and counted for `warnings`. A demuxer that gives up is an InputError: the file is corrupt
        from there on. The last packet of a file cut short, which the demuxer marks corrupt, is left out
        and counted too: a threaded decoder given it drops the frames still in its threads, without an error.
        """
        stream = self._stream
        packets, decoded, tail, timed = 0, 0, IntactEnd(), False
        # unreordered AVI: a frame is shown at the tick its index lists for it, its decode time (FFmpeg's AVI reader
        # gives H.264 no presentation time, and PyAV, which opens files to fill in missing ones, the next frame's tick)
        by_tick = self._traits.no_presentation_times and not self._index_timestamps
        held = None  # a packet marked corrupt, decoded once another follows it (concealed damage), else left out
        try:
            for packet in self._container.demux(stream):
                if packet.size:  # the last, empty packet only asks the decoder to flush
                    packets += 1
                    if packet.pts is not None:
                        tail.add(packet)
                        timed = timed or bool(packet.duration)
                sending = []
                if held is not None:  # decoded if a packet follows it; else the file ends inside it
                    if packet.size:
                        sending.append(held)
                    else:
                        self._damage.refused(held)
                held = packet if packet.size and packet.is_corrupt else None
                if held is not None and self._damage.steps is not None:  # damage: jumps in a row are frames lost
                    self._damage.steps.corrupt = True
                if held is None:
                    sending.append(packet)
                for sent in sending:
                    try:
                        pictures = self._decoder.decode(sent)
                    except av.FFmpegError:
                        self._damage.refused(sent)
                        continue
                    for frame in pictures:
                        decoded += 1
                        self._headroom.add(frame)
                        if by_tick and frame.dts is not None:
                            frame.pts = frame.dts
                        yield frame
        except av.FFmpegError as e:  # the demuxer itself gave up
            end = tail.intact
            raise InputError(
                f"{self.path}: the video stream is corrupt after {good_frames(decoded)} ({reason(e)})",
                hint=damaged_hint(None if end is None else float(end) - self._first_time(), self._start_seconds),
            ) from None
        end = tail.intact
        stated = len(self._listed) if self._listed is not None else self._timing.frames  # 0: not counted
        if count_packets and stated:  # a whole read: how many frames the damage cost, against the container's count
            # an MP4 cut without re-encoding counts samples its edit list does not show: its index's count of those
            # it shows (_shown_samples), not its length times its rate, which counts the gaps in a stream with frames
            # missing (35 for the 34 of such a file 1.505 s long with 3 missing, at its average of 23.26 fps). Else
            # the smaller of the count and that product (a cut AVI's header counts the frames it lost). A container
            # that counts none (Matroska) has no count to miss frames of: its length times its rate is a guess,
            # 2 frames over the 9 of a phone's clip at a variable rate (the holes in its timestamps tell instead)
            shown = _shown_samples(stream) if self._traits.mp4_atoms else 0
            expected = shown or min(filter(None, (stated, self._timing.frames_by_length)))
            self._damage.missing = max(expected - decoded, 0)
        if self._end_time is not None and end is not None and end >= self._end_time:
            # the file ends early, but after every frame the span asks for (--end before the cut): the whole
            # file's count of missing frames says nothing of the span (nor does damage after it: `warnings`)
            self._damage.missing = None
            return
        if count_packets and _codec_name(stream) in _FRAME_A_PACKET:  # packets that gave no frame and no error
            self._damage.dropped = max(packets - len(self._damage.damaged) - decoded, 0)
        check_complete(
            self.path, self._timing, stated, packets if count_packets else None, decoded, end, self._first_time(),
            start=self._start_seconds, timed=timed,
        )  # fmt: skip

    def _first_time(self) -> float:
        """Seconds on the file's clock of the first frame decoded, where --start and --end count from (a
        file that starts with frames it cannot decode, cut from a longer recording, starts after its first
        packet); the stream's start until `__init__` has described the source."""
        if self._first_seconds is not None:
            return self._first_seconds
        stream = self._stream
        return float((stream.start_time or 0) * stream.time_base) if stream.time_base else 0.0

    @property
    def warnings(self) -> list[str]:
        """What reading changed or left out so far: frames of another size scaled, damaged packets skipped; a
        GIF without its trailer; and levels beyond black and white clipped (`level_warnings`)."""
        shown_before = None if self._end_time is None else self._end_time / self._stream.time_base
        warnings = self._damage.warnings(self.path.name, self.info, shown_before)
        return warnings + ([self._unended] if self._unended else []) + self.level_warnings

    @property
    def level_warnings(self) -> list[str]:
        """The warning that the frames decoded so far (once opened, the first) hold levels of limited range
        beyond black and white that reading clips (headroom.py), if they hold enough to say."""
        clipped = self._headroom.warning(self.path.name)
        return [clipped] if clipped else []

    def close(self) -> None:
        self._timeline = iter(())
        self._first = None
        self._container.close()

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _units(seconds: float, time_base: Fraction) -> int:
    """The first timestamp at or after `seconds`; typed times such as 0.8 are not exact in binary, hence the slack."""
    return math.ceil(seconds / time_base - 1e-6)


# FFmpeg's demuxers that take any text (.txt, .nfo, .ans by name) for pictures of its characters
_TEXT_DEMUXERS = {"tty"}


def _open(path: Path):
    try:
        container = open_input(path)
    except PermissionError:
        raise InputError(f"{path}: permission denied", hint="check the file's permissions") from None
    except av.FFmpegError as e:
        if _looks_like_mp4_without_index(path):
            raise InputError(
                f"{path} is an MP4/MOV file without its index (moov atom): it was cut short or is still being written",
                hint="re-copy or re-download the file; a recording stopped by a crash or a full card cannot be read",
            ) from None
        if empty := empty_file(path):
            raise empty from None
        raise InputError(
            f"{path} is not a video or image file FFmpeg can read ({reason(e)})",
            hint="check that the file plays in a media player",
        ) from None
    if container.format.name in _TEXT_DEMUXERS:
        container.close()
        raise InputError(f"{path} is a text file, not a video", hint="give a video, an image or a folder of images")
    return container


def _looks_like_mp4_without_index(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(8)
    return head[4:8] in (b"ftyp", b"wide", b"mdat")  # the boxes an MP4/MOV starts with


def _decoder(stream):
    """The codec context that decodes the stream, threaded: its own, or libvpx's for WebM video with
    transparency."""
    decoder = stream.codec_context
    name = _ALPHA_DECODERS.get(decoder.name)
    if name is not None and stream.metadata.get("alpha_mode") == "1":
        try:
            decoder = av.CodecContext.create(name, "r")
            decoder.extradata = stream.codec_context.extradata
        except (av.FFmpegError, ValueError):  # an FFmpeg built without libvpx: the colour alone, as players show it
            decoder = stream.codec_context
    decoder.thread_type = "AUTO"
    return decoder


def _counts_frames(container, stream) -> bool:
    """Whether frames are timed in turn by their index (AVI with reordered frames), not by their timestamps: a
    container that stores no presentation times leaves FFmpeg to guess them from decode order, so reordered (B-)
    frames take the times its index lists in turn, or are counted where it has no index. Video without reordering
    keeps its own: the index's tick of each frame, past the empty entries where a capture dropped frames."""
    return container_traits(container.format.name).no_presentation_times and bool(stream.codec_context.has_b_frames)


def _shown_samples(stream) -> int:
    """How many of the samples an MP4's or MOV's index lists are shown: FFmpeg flags those its edit list hides
    as discarded (the 6 of 40 before the cut of a file cut 5 frames in without re-encoding, which decode only to
    lead up to it), and the decoder drops their frames. 0 where the index lists none (a fragmented MP4)."""
    return sum(1 for entry in stream.index_entries if not entry.is_discard)


def _listed_times(container, stream) -> list[int] | None:
    """The timestamps of the frames an AVI's index lists, in the stream's time base. FFmpeg's index leaves out
    the empty entries where a capture dropped frames, which the header's count (`stream.frames`) includes.
    None for other containers, and for an AVI without an index to the end (the demuxer then adds entries
    as it reads)."""
    if not container_traits(container.format.name).gapped or not stream.duration:
        return None
    times = [entry.timestamp for entry in stream.index_entries]
    return times if times and times[-1] + 1 >= stream.duration else None


_IMAGE_CODECS = {"png", "apng", "mjpeg", "jpegls", "tiff", "webp", "gif", "bmp", "jpeg2000", "libopenjpeg", "qoi"}


def _describe(
    container,
    stream,
    timing: StreamTiming,
    first: av.VideoFrame,
    stated: dict[str, int],
    *,
    counted: bool,
    listed: list[int] | None,
) -> VideoInfo:
    """The VideoInfo of `stream`, whose timing is `timing`; `stated`: its colour tags as the container states
    them, for those its frames leave unspecified; `counted`: frames are timed by their count, at the stream's
    rate; `listed`: the frames' timestamps as an AVI's index lists them, which count them exactly."""
    fps = timing.rate
    traits = container_traits(container.format.name)
    if (spacing := timing_of(container.name)) is not None and spacing.holes is not None and spacing.grid:
        # a stream at one rate with frames missing is at that rate: an MP4's average counts the gaps in (23.26 fps
        # for 25 with 3 frames missing in 40), which a .y4m output would have played its frames at, 7% slow. Not
        # StreamTiming's rate, whose product with the length bounds a whole read's expected count where its index
        # does not count the frames shown (a cut AVI): at 25 fps the 1.505 s of an MP4 with 3 frames missing cut
        # without re-encoding hold 38 frames, where it shows 34 (35 at its average)
        fps = spacing.grid
    # PyAV 18 crashes collecting the side data of frames from image codecs (an animated PNG's ICC profile),
    # which carry neither a display matrix nor HDR10 metadata that video codecs do: those are not read
    side_data = side_data_of(first) if stream.codec_context.name not in _IMAGE_CODECS else {}
    rotation, mirrored = orientation_of(first.rotation, side_data)
    duration = timing.duration
    by_length = frames_in(duration, fps)
    frame_count = len(listed) if listed else timing.frames or by_length
    unstated = traits.guessed_length
    # a stream whose container counts no frames (Matroska, MPEG-TS, FLV) has them counted, for the progress bar:
    # its length times its rate is a guess (119 frames for 60 where the last is held 2 s; 40 for the 30 of a
    # phone's clip with a 15 fps stretch); so has one whose length its container never got to state (a Matroska
    # recording that crashed, a live one), whose duration stays unknown
    guessed = not (listed or timing.frames)
    # an MP4 or MOV cut without re-encoding states every sample it holds, also those its edit list hides
    trimmed = traits.mp4_atoms and by_length and timing.frames > by_length + 1
    uncertain = unstated or guessed or trimmed
    if uncertain and fps and (packets := _count_packets(container.name, stream)):
        frame_count = packets
        if unstated:
            duration = float(packets / fps)
    time_base = 1 / fps if counted and fps else stream.time_base
    return VideoInfo(
        width=first.width,
        height=first.height,
        fps=fps,
        time_base=time_base,
        frame_count=frame_count or None,
        bit_depth=bit_depth_of(first.format),
        rotation=rotation,
        mirrored=mirrored,
        color=color_of(first, stated),
        codec=_codec_name(stream),
        profile=stream.codec_context.profile,
        pix_fmt=first.format.name,
        container=container.format.name,
        has_audio=bool(container.streams.audio),
        has_subtitles=bool(container.streams.subtitles),
        sample_aspect_ratio=stream.sample_aspect_ratio or None,
        duration=duration,
        hdr=hdr_of(side_data),
        dolby_vision=_dolby_vision(container.name, traits),
        hdr10_plus="DYNAMIC_HDR_PLUS" in side_data,
        field_order=field_order(stream, first),
        timecode=find_timecode(container, stream),
        alpha=carries_alpha(first, stream.codec_context.name),
        tags=track_tags(stream.metadata),
        # a video from a container that does not say is marked default in outputs, being the one to play
        default=not traits.flags_default or bool(stream.disposition & _DEFAULT),
    )


def _dolby_vision(path: str, traits) -> DolbyVision | None:
    """The Dolby Vision configuration an MP4, MOV or Matroska file at `path` states for its video."""
    if traits.mp4_atoms:
        return mp4_atoms.dolby_vision(path)
    return mkv_elements.dolby_vision(path) if traits.mkv_elements else None


def _codec_name(stream) -> str:
    """The stream's codec by its own name, not its decoder's: AV1 decoded by dav1d is `av1`, not `libdav1d`."""
    codec = stream.codec_context.codec
    return getattr(codec, "canonical_name", None) or codec.name


def _count_packets(path: str, stream) -> int | None:
    """The packets that hold a picture shown in `stream` of the file at `path` (not hidden by an edit list),
    read through a second opening of it; None for a file over _COUNT_PACKETS_UP_TO bytes, or one that cannot
    be read to its end."""
    try:
        if os.path.getsize(path) > _COUNT_PACKETS_UP_TO:
            return None
        with open_input(path) as again:
            packets = again.demux(again.streams[stream.index])
            return sum(1 for packet in packets if packet.size and not packet.is_discard)
    except (OSError, av.FFmpegError, IndexError):
        return None


def _field_rate(info: VideoInfo) -> VideoInfo:
    """The VideoInfo of a stream delivered a frame per field: twice the rate and frames, timestamps in
    half the time base, the timecode counted at the new rate."""
    return replace(
        info,
        fps=info.fps * 2 if info.fps else None,
        time_base=info.time_base / 2 if info.time_base else None,
        frame_count=info.frame_count * 2 if info.frame_count else None,
        timecode=at_double_rate(info.timecode) if info.timecode else None,
    )


def rising_timestamps(
    frames: Iterator[av.VideoFrame], step: int, on_stale: Callable[[], None]
) -> Iterator[tuple[av.VideoFrame, int]]:
    """The frames with strictly rising timestamps, as any encoder downstream needs, in a stream of `step`
    units a frame. A stamp repeated, or a little behind the one before (less than a frame), becomes the
    one before plus one unit, so that the stamps after it keep their places (the audio's sync, and a
    resumed run finding its frame by its stamp); a missing stamp, the one before plus a frame.

    A stamp a frame or more behind is one of two things, told apart by the frame after it. When that
    frame goes on above the last stamp, it was a stale picture that a damaged file's decoder returned
    late: it is left out (`on_stale` is called), not shown out of its place at the end of the timeline.
    Otherwise the clock restarted (files joined end to end), and the frames go on a frame at a time."""
    last: int | None = None
    held = None  # the frame stamped behind, until the next one tells which it is
    for frame in frames:
        if held is not None:
            if frame.pts is not None and frame.pts > last:
                on_stale()
            else:
                last += step
                yield held, last
            held = None
        if frame.pts is not None and last is not None and last - frame.pts >= step:
            held = frame
            continue
        if frame.pts is not None and (last is None or frame.pts > last):
            last = frame.pts
        elif last is None:
            last = 0
        else:
            last += 1 if frame.pts is not None else step
        yield frame, last
    if held is not None:  # the last frame: nothing after it tells
        yield held, last + step


def _frame_step(info: VideoInfo) -> int:
    """Timestamp units per frame at the nominal rate (at least 1)."""
    if not info.fps or not info.time_base:
        return 1
    return max(1, round(1 / (info.fps * info.time_base)))
