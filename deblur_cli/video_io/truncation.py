"""Whether a video file holds all the video its container states: a file cut short (a copy or download that
stopped) is found before a run restores it (tail_cut) and after a whole read (check_complete), and the hint
says which --end restores the part before the damage (damaged_hint, which the reader's and sources' errors for
damage give too)."""

from __future__ import annotations

import contextlib
import math
import os
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import av

from deblur_cli import files
from deblur_cli.errors import InputError
from deblur_cli.video_io.container_traits import container_traits
from deblur_cli.video_io.containers import open_input
from deblur_cli.video_io.flv import stated_file_size
from deblur_cli.video_io.gif_end import gif_cut
from deblur_cli.video_io.mpeg_ps import ends_inside_a_pack
from deblur_cli.video_io.packet_ends import IntactEnd, stop_after
from deblur_cli.video_io.streams import MILLISECOND, StreamTiming, reason, stream_timing, video_stream
from deblur_cli.wording import count

TAIL_SECONDS = 5.0  # how much of a video's end is demuxed, before a run and by `deblur info`, to find a cut (tail_cut)
_DAMAGED_HINT = "re-copy the file, or cut it before the damaged part"
_INTERLEAVED = 1  # s: how far apart the last packets of a Matroska file's streams may stop where it was cut
_TS_TAIL_BYTES = 4096  # how much of a transport stream's end is read for its last packets (_ends_inside_a_packet)


def damaged_hint(end: float | None, start: float = 0.0) -> str:
    """The hint for a file damaged or cut short where its frames stop `end` seconds after its first frame
    (the clock of --start and --end): the --end that restores the frames before it, where there are any
    after `start` (--start)."""
    until = None if end is None else math.floor(end * 100 + 1e-6) / 100  # down: none of the damage in it
    if not until or until <= 0:
        return _DAMAGED_HINT
    shown = f"{until:.2f}".rstrip("0").rstrip(".")  # not :g, which rounds 12345.67 up to 12345.7
    if start and until <= start:
        return f"re-copy the file: its frames stop at {shown} s, none of them after --start {start:g}"
    return f"re-copy the file, or restore the part before the damage {_END} {shown}"


_END = "with --end"  # run's option in damaged_hint's hints, which evaluate and bench have not


def retell_damage(e: Exception, hint: str) -> None:
    """Give `e` `hint` where its hint is damaged_hint's with run's --end (a command without --end: evaluate,
    bench); other errors keep theirs."""
    if getattr(e, "hint", None) and _END in e.hint:
        e.hint = hint


def good_frames(frames: int) -> str:
    return count(frames, "good frame")


def check_complete(
    path: Path,
    timing: StreamTiming,
    expected: int,
    packets: int | None,
    decoded: int,
    end: Fraction | None,
    first: float = 0.0,
    *,
    start: float = 0.0,
    timed: bool = False,
) -> None:
    """Raise if the demuxer stopped before the end the container announced (a truncated or damaged file):
    `expected` packets, as its index counts them (MP4, MOV, AVI; 0 where the container keeps no count).

    The end is the reliable measure: an MP4 cut without re-encoding keeps every sample in its index (the
    count) but plays only those its edit list shows, so fewer packets than the count is truncation only
    when they also end early. Where the container states no duration, the count alone decides. `end`
    is where the last packet stops: its duration included when the packets carry theirs (`timed`), so
    it must meet the stated end to within rounding, a frame and a half; without durations it falls a
    frame or more short (VFR: the last frame's, however long), so three frames are let go. Both are on the
    file's clock; what the error says counts from `first`, the first frame's time, as --end does. `timing`: the
    stream's, whose end is the stated one.
    """
    short = bool(expected) and packets is not None and packets < expected
    if expected and packets is not None and not short:
        return
    stated = timing.end
    played = None if end is None else float(end) - first
    if stated is None or end is None:
        if short:
            raise _ended_early(path, f"{good_frames(decoded)} of {expected}", damaged_hint(played, start))
        return
    if _falls_short(timing.rate, end, stated, timed=timed):
        counted = (
            f"{good_frames(decoded)} of {expected}"
            if short
            else f"{good_frames(decoded)}, {played:.2f} s of {stated - first:.2f} s"
        )
        raise _ended_early(path, counted, damaged_hint(played, start))


def _falls_short(rate: Fraction | None, end: Fraction, stated: float, *, timed: bool) -> bool:
    """Whether packets that stop at `end` (s, the file's clock) fall short of the `stated` end: by more than
    a frame and a half at `rate` (fps; 25 where unknown) where they carry their durations (`timed`), else by more
    than three frames."""
    fps = float(rate or 25)
    slack = max(1.5 / fps, 0.05) if timed else max(3 / fps, 0.1)
    return float(end) < stated - slack


def _ended_early(path: Path, counted: str, hint: str) -> InputError:
    return InputError(f"{path}: the video stream ends early: {counted} (truncated or damaged file)", hint=hint)


class Cut(NamedTuple):
    """How a video file falls short of the end its container states (tail_cut)."""

    problem: str  # "the video stream ends early: its packets stop at 1.96 s of 4.00 s (truncated or damaged file)"
    end: float | None  # seconds from the first frame (as --end counts) up to which the frames are there, if known
    hint: str  # what to do: re-copy it, or the --end that restores the part before the cut


def tail_cut(path: str | os.PathLike) -> Cut | None:
    """Whether the first video stream's packets stop before the end its container announces (a truncated
    file), found without decoding: a seek to the stream's last TAIL_SECONDS, whose packets are demuxed
    and their end held against the stated end, as a whole read does (check_complete), and where they
    fall short and the container counts its packets (MP4, MOV), every packet counted, since a whole read
    takes the count reached as complete. An FLV file is cut where it is smaller than the size its
    onMetaData states, an MPEG-TS file where it ends inside a packet, an MPEG-PS file inside a pack
    (FFmpeg measures the duration of all three from what is left). A Matroska file without DURATION tags
    states only its own length: it is cut where the last packets of all its streams stop short of it
    together. A GIF states no length: it is cut where its file breaks off inside an image (gif_end).
    Frames missing among the last packets of a stream at one rate (a cut among B-frames took frames shown
    before the last one it kept) are a cut where the packets fall short of the stated end at all, or of an MP4's
    count, and the --end of the hint stops before the first of them. Where they fall short, the first frame
    is decoded, for the times to count from it as --end does. None where they reach the end, the container
    states no duration (NUT; FLV without a stated size), or the file cannot be read (VideoFileSource says
    why). An MPEG-TS or MPEG-PS file cut at a packet's or a pack's end is not found, nor damage in the
    middle of a file, which only decoding finds."""
    path = Path(path)
    if (gif := gif_cut(path)) is not None and gif.inside_image:
        return _gif_broken_off(path, gif.images)
    try:
        container = open_input(path)
    except (OSError, av.FFmpegError):
        return None
    with container:
        try:
            stream = video_stream(container, path)
        except InputError:
            return None
        timing = stream_timing(stream)
        stated = timing.end
        # FFmpeg measures the length of FLV, MPEG-TS and MPEG-PS files from what is left of them: the file's
        # own layout says it was cut, an FLV file's by the size its header states, a transport stream's by
        # ending inside one of its fixed-size packets, a program stream's inside a pack
        size_short = container.format.name == "flv" and (stated_file_size(path) or 0) > os.path.getsize(path)
        ends_cut, unit = _CUT_INSIDE.get(container.format.name, (None, ""))
        mid_packet = ends_cut is not None and ends_cut(path)
        # a Matroska file whose muxer wrote no DURATION tags (mkvmerge's sit at the end, lost with it) states
        # only the whole file's length, which the last packets of some stream reach where it is whole
        tagged_lengths = container_traits(container.format.name).tagged_lengths
        untagged = tagged_lengths and stated is None and bool(container.duration)
        if untagged or (stated is None and size_short and container.duration):
            stated = float(((container.start_time or 0) + container.duration) / av.time_base)
        if not stream.time_base or (stated is None and not size_short):
            return None
        since = timing.start if stated is None else max(stated - TAIL_SECONDS, timing.start)
        tail, timed, corrupt = IntactEnd(), False, None
        sound = cues = None  # where an untagged Matroska file's audio and subtitle packets stop in its tail
        has_sound = any(s.type == "audio" for s in container.streams)
        try:  # any packet, not only a keyframe: a clip that starts mid-GOP has none before its start
            container.seek(int(since / stream.time_base), stream=stream, backward=True, any_frame=True)
        except av.FFmpegError:  # nothing to land on (a cut Matroska file lost its index): read from the start
            pass
        try:
            for packet in container.demux() if untagged else container.demux(stream):
                if not packet.size or packet.pts is None:
                    continue
                if packet.stream.index != stream.index:  # another stream of an untagged Matroska file
                    if packet.stream.type == "audio":
                        sound = stop_after(sound, packet)
                    elif packet.stream.type == "subtitle":
                        cues = stop_after(cues, packet)
                    continue
                tail.add(packet)
                timed = timed or bool(packet.duration)
        except av.FFmpegError as e:  # the demuxer gives up in the last seconds: what comes before them is whole
            corrupt = reason(e)
        end, missing_from = tail.intact, tail.missing_from
        # asked before the container closes, which frees the stream
        short = size_short or mid_packet or corrupt is not None or end is None
        short = short or _falls_short(timing.rate, end, stated, timed=timed)
        if not short and missing_from is not None and stated is not None:
            # frames missing among the last packets of a stream at one rate, whose end falls short of the stated
            # end by less than a frame and a half (or not at all, in an MP4 that lists more packets than it holds);
            # packets without durations stop a frame short of it in a whole file
            short = (timed and end < stated - MILLISECOND) or bool(timing.frames)
        if short and corrupt is None and (end is None or timing.frames):
            # the whole stream demuxed: where its packets stop, where the tail had none (the seek landed on
            # bytes the cut took), and how many, against its index's count (a whole read takes that as whole)
            packets, whole_end = _packets_read(path, stream.index)
            end = whole_end if end is None else end
            if timing.frames:
                short = packets < timing.frames
        if untagged and short and corrupt is None:
            short = _cut_together(timing.rate, end, sound, cues, stated, timed=timed, has_sound=has_sound)
        index = stream.index
    if not short:
        return None
    first = _first_frame_time(path, index)
    if corrupt is not None:
        return Cut(
            f"the video stream is corrupt before its end ({corrupt})", since - first, damaged_hint(since - first)
        )
    # a length measured from what is left says nothing (a transport stream's; an FLV file may state only its size)
    length = "" if stated is None or mid_packet else f" of {stated - first:.2f} s"
    if end is None:  # the index lists packets, and the file ends before any of them
        problem = f"the video stream ends early: none of its packets{length} is there"
        return Cut(problem + " (truncated file)", None, _DAMAGED_HINT)
    played = float(end) - first
    stop, lost = f"{played:.2f} s", ""
    if missing_from is not None and missing_from < end:  # the --end of the hint stops before the first lost frame
        played = float(missing_from) - first
        lost = f", frames missing from {played:.2f} s"
    if mid_packet:  # the file's layout says it was cut, not where the video would have ended (fuzz48)
        problem = f"the file breaks off inside {unit} (truncated file): its video packets stop at {stop}{lost}"
        return Cut(problem, played, damaged_hint(played))
    problem = f"the video stream ends early: its packets stop at {stop}{length}{lost}"
    return Cut(problem + " (truncated or damaged file)", played, damaged_hint(played))


def _gif_broken_off(path: Path, whole: int) -> Cut:
    """The Cut of a GIF whose file breaks off inside the image after its first `whole`: FFmpeg decodes that
    one filled in from the frame before, so the --end of the hint stops before it."""
    starts: list[float] = []  # each frame's time, s
    with contextlib.suppress(OSError, av.FFmpegError), open_input(path) as container:
        stream = container.streams.video[0]
        starts = [float(p.pts * stream.time_base) for p in container.demux(stream) if p.size and p.pts is not None]
    end = starts[whole] - starts[0] if whole < len(starts) else None
    problem = f"the file breaks off inside its image {whole + 1} (truncated GIF), which the decoder fills in"
    return Cut(problem, end, damaged_hint(end))


def _cut_together(
    rate: Fraction | None,
    end: Fraction | None,
    sound: Fraction | None,
    cues: Fraction | None,
    stated: float,
    *,
    timed: bool,
    has_sound: bool,
) -> bool:
    """Whether an untagged Matroska file, whose video (at `rate`, fps) stops at `end` short of the file's `stated`
    length, was cut: a cut stops every stream at once (the muxer interleaves them). Where its sound (`sound`: where its
    audio packets in the tail stop) reaches the file's end, or goes on well past the video's last packet, the
    video ended before the file did. A subtitle cue's end says nothing of a cut (a cue begun before it may
    end at the file's end), so where there is no sound a cue that reaches the end leaves it undecided: a whole
    file is not refused on a guess."""
    if sound is not None and not _falls_short(rate, sound, stated, timed=timed):
        return False
    if not has_sound and cues is not None and not _falls_short(rate, cues, stated, timed=True):
        return False
    return sound is None or end is None or sound < end + _INTERLEAVED


def _ends_inside_a_packet(path: Path) -> bool:
    """Whether an MPEG transport stream file ends inside a packet (a copy cut short at any byte): after its
    last whole packet of 188 bytes (204 with error correction, 192 in M2TS, whose 4-byte time stamp comes
    before the sync byte) come fewer bytes than a packet that are not padding. The last packets are found
    by three sync bytes a packet apart; where none are in the last few kilobytes, or more than a packet's
    bytes follow them (junk, long padding), it says no: a whole file is never refused on a guess."""
    if (tail := files.read_tail(path, _TS_TAIL_BYTES)) is None:
        return False
    partial = False
    for packet, sync in ((188, 0), (192, 4), (204, 0)):
        last = next(  # where the last packet begins that follows two others
            (
                i - sync
                for i in range(len(tail) - 1, 2 * packet - 1, -1)
                if tail[i] == tail[i - packet] == tail[i - 2 * packet] == 0x47
            ),
            None,
        )
        if last is None:
            continue
        whole_end = last + packet if last + packet <= len(tail) else last
        left = tail[whole_end:]
        if not left or set(left) <= {0x00} or set(left) <= {0xFF}:  # whole, or padded after its last packet
            return False
        partial = partial or len(left) < packet
    return partial


# formats whose file ends inside one of its units where a copy was cut short: the test, and the unit's name
_CUT_INSIDE = {"mpegts": (_ends_inside_a_packet, "a transport packet"), "mpeg": (ends_inside_a_pack, "a pack")}


def _first_frame_time(path: Path, index: int) -> float:
    """Seconds on the file's clock of the first frame stream `index` decodes to (packets before it that
    cannot be decoded, as in a clip cut from a longer recording, come before); the stream's start where
    none decodes."""
    start = 0.0
    with contextlib.suppress(OSError, av.FFmpegError), open_input(path) as container:
        stream = container.streams[index]
        start = float((stream.start_time or 0) * stream.time_base) if stream.time_base else 0.0
        for frame in container.decode(stream):
            if frame.pts is not None and frame.time_base:
                return float(frame.pts * frame.time_base)
    return start


def packets_end_early(path: str | os.PathLike) -> str | None:
    """tail_cut's finding as a line for `deblur info`; None where there is none."""
    cut = tail_cut(path)
    return None if cut is None else f"{cut.problem}; deblur run refuses it: {cut.hint}"


def _packets_read(path: Path, index: int) -> tuple[int, Fraction | None]:
    """The packets that hold a picture in stream `index`, demuxed from the file's start until its end or
    until the demuxer gives up, and where the last of them stops (s, the file's clock; None: none)."""
    packets, end = 0, None
    with contextlib.suppress(OSError, av.FFmpegError), open_input(path) as container:
        for packet in container.demux(container.streams[index]):
            if packet.size:
                packets += 1
                if packet.pts is not None:
                    end = stop_after(end, packet)
    return packets, end
