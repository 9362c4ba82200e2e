"""What the reader and the truncation check both need to know of a container's video stream: which stream
is the video, its frame rate, where it starts and ends as its container states (StreamTiming, read once for each
opened stream), and an FFmpeg error in words."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from deblur_cli.errors import InputError, NoVideoError
from deblur_cli.video_io.container_traits import container_traits
from deblur_cli.video_io.mp4_atoms import cut_atom, presented_end, sample_durations, video_sample_tags

# No camera records more frames a second than this: a stream's average rate above it is its clock's tick
# rate (raw DV's 60000, from a time base of 1/60000), and the rate its timestamps imply is the real one.
_MAX_FPS = 1000
# The rates cameras and editors make, for a stream's measured average to be taken for (_nominal), and how far
# the rounding of timestamps moves it: 2160000/90091 is 24000/1001 less 0.0011 %.
_STANDARD_RATES = [Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120, 240)] + [
    Fraction(n) for n in (24, 25, 30, 48, 50, 60, 100, 120, 240)
]
RATE_ROUNDING = Fraction(1, 10_000)
MILLISECOND = Fraction(1, 1000)  # s: how far containers round the times they state (MP4's edit lists, Matroska)


def reason(error: av.FFmpegError) -> str:
    return error.strerror or type(error).__name__


def codec_label(stream) -> str:
    """The codec of a stream as people name it: audio by its codec ("mp3", "ac3"), not by FFmpeg's decoder
    ("mp3float", "ac3_fixed"); the rest by the decoder ("srt", where the codec is "subrip"); "unknown
    codec" where FFmpeg has no decoder for it."""
    context = stream.codec_context
    if context is None:
        return "unknown codec"
    return (getattr(context.codec, "canonical_name", None) if stream.type == "audio" else None) or context.name


def video_stream(container, path: Path):
    # Cover art in audio files is a one-picture "video" stream flagged as an attached picture, not video.
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    mp4 = container_traits(container.format.name).mp4_atoms
    if not videos:
        # FFmpeg opens an MP4 cut inside its index as one without streams (a file whose index is whole and
        # whose media data is cut is an audio file, say, whose streams it finds)
        if mp4 and cut_atom(path) == "moov":
            raise InputError(
                f"{path} is an MP4/MOV file cut short inside its index (moov atom): it runs past the end of the file",
                hint="re-copy or re-download the file; a recording stopped by a crash or a full card cannot be read",
            )
        audio = ", ".join(codec_label(s) for s in container.streams.audio if s.codec_context)
        what = f"only audio: {audio}" if audio else "no audio either"
        raise NoVideoError(path, what)
    stream = videos[0]
    if stream.codec_context is None:  # FFmpeg knows no decoder for it, so PyAV cannot even name it
        tags = video_sample_tags(path) if mp4 else []
        seen = f"codec tag {tags[0]!r}: an unknown codec, or a damaged file" if tags else "an unknown codec"
        seen = "its sample description is damaged" if mp4 and not tags else seen
        raise InputError(
            f"{path}: no decoder for its video codec ({seen})",
            hint="the FFmpeg inside PyAV cannot decode it; if the file plays elsewhere, convert it to H.264 or FFV1"
            " first, else copy it again",
        )
    return stream


def frame_rate(stream) -> Fraction | None:
    """The rate the stream was made at: FFmpeg's average rate, snapped to the stream's base rate or a standard one
    where the rounding of its timestamps moved it off (nominal_rate); an MP4's or MOV's rate over its frames but
    the last where that one is held (_rate_before_hold: the file's sample table, read once); FFmpeg's guess from
    its timestamps where the average is missing or implausible (raw DV states its 1/60000 time base's tick rate,
    60000 fps). A bare stream (.h264, .hevc, .m2v) has no average but FFmpeg's 25 fps default; its codec's own
    rate is the guess."""
    average, guessed = stream.average_rate, stream.guessed_rate
    if container_traits(stream.container.format.name).bare and guessed and guessed <= _MAX_FPS:
        return Fraction(guessed)
    if average and (average <= _MAX_FPS or not guessed or guessed > _MAX_FPS):
        frames = stream.frames or frames_in(stream.duration * stream.time_base if stream.duration else None, average)
        # over a short clip, one tick of a coarse clock moves the average further: 29.97 fps on an iPhone's 1/600
        # clock averages 29.950 over 30 frames, 18000/601 (their 601 ticks against 600.6); a millisecond clock's
        # rounding is allowed for where the time base is finer (a Matroska clip remuxed)
        slack = tick_slack(Fraction(stream.time_base or 0), frames)
        # FFmpeg averages a held last frame in: 21.5 fps for 150 frames at 30 and 2 s held, which slowed an AVI
        # output's frames to that clock
        held = _rate_before_hold(stream)
        if held and held > average * (1 + RATE_ROUNDING):
            return nominal_rate(held, stream.base_rate, slack)
        return nominal_rate(Fraction(average), stream.base_rate, slack)
    return Fraction(guessed) if guessed else None


def _rate_before_hold(stream) -> Fraction | None:
    """The rate of an MP4 or MOV track over its samples but the last, where that last one is held: it lasts longer
    than any before it, by more than rounding (own_time; a screen recording's still at the end). From its sample
    durations; None where it is not held (a phone's variable rate keeps its average), and for other containers."""
    if not container_traits(stream.container.format.name).mp4_atoms:
        return None
    samples = sample_durations(stream.container.name, stream.id)
    if samples is None or samples.count < 2 or samples.before_last <= 0:
        return None
    held = samples.last > samples.longest and own_time(samples.last, samples.longest, samples.tick)
    return (samples.count - 1) / samples.before_last if held else None


def own_time(length: Fraction, step: Fraction, tick: Fraction) -> bool:
    """Whether a last frame that shows `length` seconds shows for a time of its own, not a frame's of `step`
    seconds: held at the end (a screen recording's still, an editor's freeze frame), or cut short where the video
    ends. They differ by more than rounding makes: a `tick` of the stream's clock (s; 29.97 fps on a 1/600 clock
    lasts 20 ticks or 21), and a MILLISECOND, to which containers round the end they state (an MP4's edit list,
    Matroska). A frame held 1.3 frames at 30 fps is."""
    return abs(length - step) > max(tick, MILLISECOND)


def nominal_rate(average: Fraction, base: Fraction | None, slack: Fraction = Fraction(0)) -> Fraction:
    """The rate the stream was made at, where its average is that rate but for the rounding of its timestamps:
    FFmpeg's average of a 23.976 MP4 in 1/90000 ticks is 2160000/90091, which an output would state (a Matroska
    DefaultDuration of 23.9758 fps, an AVI clock 40 ms an hour slow against its sound). The stream's own base
    rate or a standard one within a ten-thousandth of the average, or whose frame lasts within `slack` (s) of the
    average's (a clock's tick shared out over a short clip's frames); else the average (a variable rate, a frame
    held at the end)."""
    for rate in ([Fraction(base)] if base else []) + _STANDARD_RATES:
        if abs(average - rate) <= rate * RATE_ROUNDING or abs(1 / average - 1 / rate) <= slack:
            return rate
    return average


def tick_slack(tick: Fraction, frames: int) -> Fraction:
    """How far (s) a clip's mean frame lasts off its rate's for the rounding of its clock: a `tick` (a MILLISECOND
    at least, to which containers round) shared out over its `frames`; none where no frame is counted."""
    return max(tick, MILLISECOND) / frames if frames else Fraction(0)


def frames_in(seconds: Fraction | float | None, rate: Fraction | None) -> int:
    """How many frames `seconds` of video at `rate` (fps) hold; 0 where either is unknown. A guess where the rate
    varies or the last frame is held, which a count the container states, or its packets counted, is not: 40 for
    the 30 frames of a phone's MPEG-TS clip at 30 fps with a 15 fps stretch."""
    return round(seconds * rate) if seconds and rate else 0


@dataclass(frozen=True)
class StreamTiming:
    """A video stream's timing as its container states it, read once for each opened stream (stream_timing) and
    shared by the reader and the truncation checks, which asked the stream again for each fact."""

    # fps, the rate the stream was made at (frame_rate); None where it has none. A stream at one rate with frames
    # missing averages the gaps in, as its length counts its frames; reader._describe tells its own rate
    rate: Fraction | None
    start: float  # s, on the file's clock: the stream's first timestamp
    # s, on the file's clock: where the container says the stream ends; None where it says nothing. A cut AVI's
    # header says where it ended, where FFmpeg's length is only what is left (the truncation checks' end)
    end: float | None
    duration: float | None  # s: end - start, the length the container states, but FFmpeg's for a cut AVI
    frames: int  # frames the container counts (MP4, MOV, AVI; an AVI's dropped frames included); 0: none

    @property
    def frames_by_length(self) -> int:
        """The frames its length holds at its rate (frames_in): a guess where either varies."""
        return frames_in(self.duration, self.rate)


def stream_timing(stream) -> StreamTiming:
    """The stream's StreamTiming. Its length is Matroska's DURATION tag (an end on the file's clock) less the
    stream's start, or the stream's own (stated_length). An AVI cut short has lost its index: FFmpeg rebuilds one
    from what is left, and the length with it, which the packets then always reach; its header's frame count (ticks
    of its time base, dropped frames included) still says where it ended."""
    start = float((stream.start_time or 0) * stream.time_base) if stream.time_base else 0.0
    if (tagged := tagged_end(stream)) is not None:
        end, duration = tagged, tagged - start
    else:
        duration = stated_length(stream)
        end = None if duration is None else start + duration
    frames = stream.frames or 0
    gapped = container_traits(stream.container.format.name).gapped  # its header counts its ticks, the empty ones too
    cut_avi = gapped and stream.duration and frames > stream.duration
    if cut_avi and stream.time_base:
        end = float(((stream.start_time or 0) + frames) * stream.time_base)
    return StreamTiming(frame_rate(stream), start, end, duration, frames)


def stated_length(stream) -> float | None:
    """The stream's own duration in seconds, where its container states one. Matroska states none per
    stream (its DURATION tag aside, tagged_end): FFmpeg fills in the whole file's for a stream of one or
    two frames, which is not the video's (a still picture with three minutes of music). An MP4 or MOV track
    lasts as long as its edit list shows it, where it has one: FFmpeg measures a track with B-frames to its
    last sample in decode order, which ended a frame held 2 s at the end of a 4 s clip at 2.03 s."""
    traits = container_traits(stream.container.format.name)
    if traits.tagged_lengths or not stream.time_base:
        return None
    measured = float(stream.duration * stream.time_base) if stream.duration else None
    if traits.mp4_atoms and (edits := presented_end(stream.container.name, stream.id)) is not None:
        length = edits.end - (stream.start_time or 0) * stream.time_base
        if measured is None or abs(length - Fraction(measured)) > edits.tick:  # FFmpeg's is finer than a tick
            return float(length)
    return measured


def tagged_end(stream) -> float | None:
    """Where Matroska's DURATION tag (written by its muxers for each track) says the stream ends, on the
    file's clock; None without one, or with one that is no time within the file."""
    tag = stream.metadata.get("DURATION")
    if not tag:
        return None
    try:
        hours, minutes, seconds = tag.split(":")
        end = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None
    container = stream.container
    whole = ((container.start_time or 0) + container.duration) / av.time_base if container.duration else None
    if not math.isfinite(end) or end < 0 or (whole is not None and end > whole + 1):  # a stale or made-up tag
        return None
    return end
