"""What a media file holds besides its video, audio and subtitles, and what an output keeps of it:
chapters, attachments, GoPro telemetry, other data streams, further video streams."""

from __future__ import annotations

import collections
from fractions import Fraction

import av

from deblur_cli.video_io.containers import open_input
from deblur_cli.video_io.streams import codec_label

# Data streams copied as they are: GoPro's GPMF telemetry (gyroscope, accelerometer, GPS), opaque binary
# data to FFmpeg in a track its handler names "GoPro MET". MP4 and MOV outputs store opaque binary data as
# a GPMF track ("gpmd"), so other binary tracks (DJI's, say) are left out rather than mislabelled as GPMF.
_TELEMETRY_CODEC, _TELEMETRY_HANDLER = "bin_data", "GoPro MET"
_DISCARD_ALL = 48  # FFmpeg's AVDISCARD_ALL: the demuxer's own streams, such as MP4's chapter track
# Containers that store chapters (Matroska and WebM natively, MP4 and MOV as a chapter track).
CHAPTER_FORMATS = {"matroska", "webm", "mp4", "mov", "ipod"}


def chapters_in_span(chapters: list[dict], start: float | None, end: float | None) -> list[dict]:
    """The chapters that show inside the span, cut to it and moved as its frames are (start at zero)."""
    kept = []
    for chapter in chapters:
        time_base = chapter["time_base"]
        first = Fraction(chapter["start"]) * time_base
        last = Fraction(chapter["end"]) * time_base
        if start is not None:
            first, last = max(first - Fraction(start), Fraction(0)), last - Fraction(start)
        if end is not None:
            last = min(last, Fraction(end) - Fraction(start or 0))
        if last > first:
            kept.append({**chapter, "start": round(first / time_base), "end": round(last / time_base)})
    return kept


def carry_chapters(container, output, start: float | None, end: float | None, suffix: str, warnings: list[str]) -> None:
    """The source's chapters inside the span (`chapters_in_span`) set on an output that holds chapters;
    a warning where it does not."""
    chapters = chapters_in_span(container.chapters(), start, end)
    if chapters and output.format.name in CHAPTER_FORMATS:
        output.set_chapters(chapters)
    elif chapters:
        warnings.append(f"{suffix} cannot hold the input's {len(chapters)} chapters; they were left out")


def warn_data_left_out(container, warnings: list[str]) -> None:
    """A warning naming the source's data streams that are neither telemetry nor timecode (which are kept)."""
    left = [s for s in _data_streams(container) if not is_telemetry(s)]
    if not left:
        return
    if len(left) == 1:
        described = f"data stream #{left[0].index} ({data_name(left[0])}) of the input is"
    else:  # an iPhone clip has several metadata tracks of one kind: counted, not listed
        kinds = collections.Counter(data_name(s) for s in left)
        described = f"{len(left)} data streams ({', '.join(f'{n} {k}' for k, n in kinds.items())}) of the input are"
    warnings.append(f"{described} left out (deblur carries GoPro telemetry, into .mp4 and .mov, and timecode)")


def warn_video_left_out(container, warnings: list[str]) -> None:
    """Warnings for the video streams besides the one restored (the first that is not cover art)."""
    cover = av.stream.Disposition.attached_pic
    restored = next((s for s in container.streams.video if not s.disposition & cover), None)
    for stream in container.streams.video:
        if stream is restored:
            continue
        if stream.disposition & cover:
            warnings.append(f"the input's cover art (stream #{stream.index}) is left out")
        else:
            warnings.append(f"video stream #{stream.index} is left out: deblur restores the first video stream only")


def attach(container, output, suffix: str, warnings: list[str]) -> None:
    """Copy the source's attachments (a Matroska file's fonts for its subtitles, its cover image) into an
    output that holds them; a warning where it does not."""
    attachments = list(container.streams.attachments)
    if not attachments:
        return
    if output.format.name != "matroska":
        names = ", ".join(s.name or f"#{s.index}" for s in attachments)
        warnings.append(f"{suffix} cannot hold the input's attachments ({names}); they were left out (.mkv keeps them)")
        return
    for stream in attachments:
        output.add_attachment(stream.name or f"attachment{stream.index}", stream.mimetype or "", bytes(stream.data))


def is_telemetry(stream) -> bool:
    """Whether a stream is GoPro telemetry to copy. (An MP4 chapter track, also opaque binary data to FFmpeg,
    is marked discarded by the demuxer; its chapters are kept as such.)"""
    return (
        stream.type == "data"
        and stream.name == _TELEMETRY_CODEC
        and _TELEMETRY_HANDLER in stream.metadata.get("handler_name", "")
        and int(stream.discard) != _DISCARD_ALL
    )


def _data_streams(container) -> list:
    """The container's data streams other than timecode (carried as such) and the demuxer's own (marked
    discarded, such as MP4's chapter track)."""
    return [s for s in container.streams.data if "timecode" not in s.metadata and int(s.discard) != _DISCARD_ALL]


def data_name(stream) -> str:
    """A data stream as its handler names it (e.g. "GoPro MET"), else by its codec."""
    return stream.metadata.get("handler_name") or stream.name or "unknown data"


def _language(stream) -> str | None:
    """The stream's language tag, unless it is "und" (undetermined), which says nothing."""
    return None if stream.language in (None, "", "und") else stream.language


def _audio_track(stream) -> str:
    """An audio stream as "aac, 48 kHz, stereo, eng" (what is known of it)."""
    context = stream.codec_context
    rate = f"{context.sample_rate / 1000:g} kHz" if context.sample_rate else None
    layout = getattr(context.layout, "name", None) if context.channels else None
    return ", ".join(filter(None, [codec_label(stream), rate, layout, _language(stream)]))


def describe_extras(path) -> dict[str, object]:
    """What a media file holds besides its first video stream, audio and subtitles, for `deblur info`:
    {"audio": [tracks], "subtitles": [tracks], "chapters": count, "telemetry": [handler names], "data":
    [other data streams], "attachments": [file names], "other_video": count, "seconds": the file's duration,
    its longest stream's}; a track as "aac, 48 kHz,
    stereo, eng"; entries it does not have are left out. {} for an unreadable file."""
    try:
        container = open_input(path)
    except av.FFmpegError:
        return {}
    with container:
        data = _data_streams(container)
        found = {
            "audio": [_audio_track(s) for s in container.streams.audio],
            "subtitles": [", ".join(filter(None, [s.name, _language(s)])) for s in container.streams.subtitles],
            "chapters": len(container.chapters()),
            "telemetry": [data_name(s) for s in data if is_telemetry(s)],
            "data": [data_name(s) for s in data if not is_telemetry(s)],
            "attachments": [s.name or f"#{s.index}" for s in container.streams.attachments],
            "other_video": max(len(container.streams.video) - 1, 0),
            "seconds": container.duration / av.time_base if container.duration else None,  # the whole file's
        }
    return {key: value for key, value in found.items() if value}
