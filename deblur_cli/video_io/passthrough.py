"""Carrying a source's audio, subtitle and telemetry streams into an output while its video is re-encoded."""

from __future__ import annotations

import collections
import contextlib
import io
import math
import re
from fractions import Fraction
from pathlib import Path

import av

from deblur_cli.errors import InputError

# Container-level tags that describe the old file rather than its content.
_STALE_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder"}
_STREAM_TAGS = ("language", "title", "handler_name")
# Muxers that write only the tags they know into MP4/MOV user data unless told to keep every tag (as
# `mdta` keys, the way phones write them: com.apple.quicktime.location.ISO6709, com.android.capture.fps).
_KNOWN_TAGS_ONLY = {"mp4", "mov"}
SUBTITLE_LOOKBACK = 10.0  # seconds before --start searched for a subtitle cue still on screen at it
# Data streams copied as they are: GoPro's GPMF telemetry (gyroscope, accelerometer, GPS), opaque binary
# data to FFmpeg in a track its handler names "GoPro MET". MP4 and MOV outputs store opaque binary data as
# a GPMF track ("gpmd"), so other binary tracks (DJI's, say) are left out rather than mislabelled as GPMF.
_TELEMETRY_CODEC, _TELEMETRY_HANDLER = "bin_data", "GoPro MET"
# Text subtitle codecs whose cues can be rewritten for a container that holds another text codec, and
# the text codec each output container holds.
_TEXT_SUBTITLES = {"subrip", "srt", "mov_text", "webvtt", "ass", "ssa", "text"}
_TEXT_CODEC_FOR_FORMAT = {"mp4": "mov_text", "mov": "mov_text", "ipod": "mov_text", "matroska": "subrip", "webm": "webvtt"}
_DISCARD_ALL = 48  # FFmpeg's AVDISCARD_ALL: the demuxer's own streams, such as MP4's chapter track
# Containers that store chapters (Matroska and WebM natively, MP4 and MOV as a chapter track).
_CHAPTER_FORMATS = {"matroska", "webm", "mp4", "mov", "ipod"}
_STANDARD_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


class _Copy:
    """Packets go to the output unchanged."""

    def __init__(self, output_stream):
        self.output_stream = output_stream

    def packets(self, packet):
        packet.stream = self.output_stream
        return [packet]

    def flush(self):
        return []


class _Retext:
    """Subtitle cues rewritten from one text codec to another: each cue's timing and text are kept, its
    styling is not (ASS override tags, tx3g style boxes)."""

    def __init__(self, source_codec: str, output_stream, target_codec: str):
        self.source_codec, self.output_stream, self.target_codec = source_codec, output_stream, target_codec

    def packets(self, packet):
        text = cue_text(bytes(packet), self.source_codec)
        if not text.strip():  # MP4's empty filler samples between cues
            return []
        cue = av.Packet(cue_payload(text, self.target_codec))
        cue.stream = self.output_stream
        cue.pts, cue.dts, cue.duration, cue.time_base = packet.pts, packet.dts, packet.duration, packet.time_base
        return [cue]

    def flush(self):
        return []


class _Reencode:
    """Packets are decoded and encoded again for a container that cannot hold the original codec."""

    def __init__(self, input_stream, output_stream):
        self.input_stream = input_stream
        self.output_stream = output_stream

    def packets(self, packet):
        return [p for frame in self.input_stream.decode(packet) for p in self.output_stream.encode(frame)]

    def flush(self):
        tail = [p for frame in self.input_stream.decode(None) for p in self.output_stream.encode(frame)]
        return tail + self.output_stream.encode(None)


class Passthrough:
    """The audio, subtitle and telemetry streams of `source`, muxed into `output` in time order with its video.

    The source is opened a second time and read only as far as the video written so far (`feed_until`), so
    the muxer interleaves the streams and memory stays bounded. Audio is copied without re-encoding when the
    output container can hold its codec, otherwise re-encoded (Opus for WebM, AAC elsewhere); a subtitle
    stream the container cannot hold is left out. Each such change adds a line to `warnings`. Of the data
    streams, binary telemetry (GoPro's GPMF track, which stabilisers such as Gyroflow read) is copied where
    the container holds it (MP4, MOV) and otherwise left out with a warning; a timecode track is written
    anew by the video's encoder (writer.py); other data streams are left out with a warning. Attachments
    (fonts, cover images) are copied into Matroska outputs, chapters wherever the container holds them (cut
    to a span); video streams besides the restored one are left out with a warning. Streams must be added
    before the first packet is muxed, so construct this right after the video stream.

    `start` and `end` cut a span, in seconds on the source's own clock: packets shown before `start` or from
    `end` on are left out, and the rest move `start` earlier, as the video's frames do. A subtitle is trimmed
    to the span instead: one still on screen at `start` (begun up to SUBTITLE_LOOKBACK seconds earlier) is
    shown from the span's first moment, and one still on screen at `end` stops there. Without a span every
    packet is kept on the source's clock (an AAC priming packet before zero included).
    """

    def __init__(
        self,
        source: str | Path,
        output,
        *,
        audio: bool,
        warnings: list[str],
        start: float | None = None,
        end: float | None = None,
    ):
        try:
            self._input = av.open(str(source), metadata_errors="ignore")
        except av.FFmpegError as e:
            raise InputError(
                f"cannot reopen {source} to copy its audio and subtitles ({e.strerror})",
                hint="the input changed or vanished while it was being read; run again, or pass --no-audio",
            ) from None
        self._output = output
        self._suffix = Path(output.name).suffix or output.format.name
        self._routes: dict[int, _Copy | _Reencode] = {}
        wanted = [
            s
            for s in self._input.streams
            if s.type == "subtitle" or (audio and s.type == "audio") or _is_telemetry(s)
        ]
        _warn_data_left_out(self._input, warnings)
        _warn_video_left_out(self._input, warnings)
        _attach(self._input, output, self._suffix, warnings)
        samples = _first_packets(source, [s.index for s in wanted])
        for stream in wanted:
            fits = _accepts(output.format.name, stream, samples.get(stream.index))
            if stream.type == "audio":
                route = self._audio_route(stream, fits, warnings)
            else:
                route = self._copy_route(stream, fits, warnings)
            if route is not None:
                _copy_tags(stream, route.output_stream)
                self._routes[stream.index] = route
        tags = {k: v for k, v in self._input.metadata.items() if k not in _STALE_TAGS}
        output.metadata.update(tags)
        chapters = _chapters_in_span(self._input.chapters(), start, end)
        if chapters and output.format.name in _CHAPTER_FORMATS:
            output.set_chapters(chapters)
        elif chapters:
            warnings.append(f"{self._suffix} cannot hold the input's {len(chapters)} chapters; they were left out")
        if output.format.name in _KNOWN_TAGS_ONLY and any("." in key for key in tags):
            output.options["movflags"] = "use_metadata_tags"  # else the phone's date, place and model are lost
        streams = [self._input.streams[i] for i in self._routes]
        self._start, self._end = start, end
        if start is not None and streams:
            # a second of slack: some indexes land a little after the requested time; more for subtitles,
            # whose cues begin before `start` and may still be on screen at it
            lookback = SUBTITLE_LOOKBACK if any(s.type == "subtitle" for s in streams) else 1
            self._input.seek(int(max(start - lookback, 0) * av.time_base), backward=True)
        self._packets = self._input.demux(streams) if streams else iter(())
        self._ended: set[int] = set()  # streams past `end`
        self._pending = None

    def _audio_route(self, stream, fits: bool, warnings: list[str]):
        name = _codec_name(stream)
        if fits:
            return _Copy(self._output.add_stream_from_template(stream))
        target = "libopus" if self._output.format.name == "webm" else "aac"
        if stream.codec_context is None:
            warnings.append(
                f"audio stream #{stream.index} ({name}) cannot be stored in {self._suffix} and cannot be decoded "
                "for re-encoding; it was left out"
            )
            return None
        rates = av.codec.Codec(target, "w").audio_rates
        rate = stream.sample_rate if not rates or stream.sample_rate in rates else 48000
        layout = stream.layout.name
        if layout.endswith("channels"):  # unlabelled ("2 channels"), which encoders and muxers refuse
            layout = _STANDARD_LAYOUTS.get(stream.layout.nb_channels, "stereo")
        output_stream = self._output.add_stream(target, rate=rate, layout=layout)
        output_stream.time_base = Fraction(1, rate)
        warnings.append(
            f"audio stream #{stream.index} ({name}) cannot be stored in {self._suffix}; re-encoded to "
            f"{output_stream.codec_context.name}"
        )
        return _Reencode(stream, output_stream)

    def _copy_route(self, stream, fits: bool, warnings: list[str]):
        """A subtitle or telemetry stream copied; a text subtitle the container cannot hold converted to
        the text codec it has; anything else left out, each change with a warning."""
        if fits:
            return _Copy(self._output.add_stream_from_template(stream))
        source_codec = _codec_name(stream)
        target_codec = _TEXT_CODEC_FOR_FORMAT.get(self._output.format.name)
        if stream.type == "subtitle" and source_codec in _TEXT_SUBTITLES and target_codec is not None:
            output_stream = self._output.add_mux_stream(target_codec)
            output_stream.time_base = stream.time_base
            warnings.append(
                f"subtitle stream #{stream.index} ({source_codec}) cannot be stored in {self._suffix}; its cues "
                f"were converted to {target_codec}, text and timing only"
            )
            return _Retext(source_codec, output_stream, target_codec)
        if stream.type == "data":
            what, keeps = f"data stream #{stream.index} ({_data_name(stream)})", ".mp4 and .mov keep it"
        else:
            what = f"subtitle stream #{stream.index} ({_codec_name(stream)})"
            keeps = "an output of the input's container type keeps it"
        warnings.append(f"{what} cannot be stored in {self._suffix}; it was left out ({keeps})")
        return None

    def feed_until(self, seconds: float) -> None:
        """Mux every source packet whose decode time is at or before `seconds`."""
        while True:
            packet = self._pending or self._next_packet()
            if packet is None:
                return
            if float(packet.dts * packet.time_base) > seconds:
                self._pending = packet
                return
            self._pending = None
            self._output.mux(self._routes[packet.stream.index].packets(packet))

    def _next_packet(self):
        """The next source packet inside the span, with its timestamps moved to the output's clock; None at the end."""
        for packet in self._packets:
            if packet.dts is None:  # flush markers carry no data
                continue
            shown = (packet.pts if packet.pts is not None else packet.dts) * packet.time_base
            cue = packet.stream.type == "subtitle" and packet.pts is not None and (packet.duration or 0) > 0
            if self._start is not None and shown < self._start and not (cue and _trim_start(packet, self._start)):
                continue
            if self._end is not None and shown >= self._end:
                self._ended.add(packet.stream.index)
                if len(self._ended) == len(self._routes):
                    self._packets = iter(())
                    return None
                continue
            if cue and self._end is not None:
                last = math.floor(Fraction(self._end) / packet.time_base)
                packet.duration = max(1, min(packet.duration, last - packet.pts))
            if self._start is not None:
                shift = round(Fraction(self._start) / packet.time_base)
                packet.dts -= shift
                if packet.pts is not None:
                    packet.pts -= shift
            return packet
        return None

    def finish(self) -> None:
        """Mux the rest of the source's streams, flush re-encoders, close the source."""
        self.feed_until(math.inf)
        for route in self._routes.values():
            self._output.mux(route.flush())
        self.close()

    def close(self) -> None:
        self._input.close()


def _chapters_in_span(chapters: list[dict], start: float | None, end: float | None) -> list[dict]:
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


def cue_text(data: bytes, codec: str) -> str:
    """The plain text of one subtitle cue as the codec stores it in a packet."""
    if codec == "mov_text":  # tx3g: a 16-bit length, the text, then style boxes
        return data[2 : 2 + int.from_bytes(data[:2], "big")].decode("utf-8", errors="replace")
    text = data.decode("utf-8", errors="replace")
    if codec in ("ass", "ssa"):  # ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text
        text = re.sub(r"\{[^}]*\}", "", text.split(",", 8)[-1])
        text = text.replace("\\N", "\n").replace("\\n", "\n").replace("\\h", " ")
    return text


def cue_payload(text: str, codec: str) -> bytes:
    """One cue's text as a packet of the codec: mov_text's length prefix and no markup; SubRip and WebVTT
    keep simple tags (<i>, <b>) as their players read them."""
    if codec == "mov_text":
        data = re.sub(r"</?[a-zA-Z][^>]*>", "", text).encode()
        return len(data).to_bytes(2, "big") + data
    return text.encode()


def _trim_start(cue: av.Packet, start: float) -> bool:
    """Move a subtitle cue that began before `start` to begin at it, keeping its end; False if it ended
    by then (nothing of it is left to show)."""
    first = round(Fraction(start) / cue.time_base)
    late = first - cue.pts
    if cue.duration <= late:
        return False
    cue.pts, cue.duration = first, cue.duration - late
    if cue.dts is not None:
        cue.dts += late
    return True


def _first_packets(source: str | Path, indices: list[int], limit: int = 1000) -> dict[int, av.Packet]:
    """The first non-empty packet of each listed stream, read from a separate opening of the source."""
    found: dict[int, av.Packet] = {}
    if not indices:
        return found
    with contextlib.suppress(av.FFmpegError), av.open(str(source), metadata_errors="ignore") as container:
        for count, packet in enumerate(container.demux([container.streams[i] for i in indices])):
            if packet.size and packet.stream.index not in found:
                found[packet.stream.index] = packet
            if len(found) == len(indices) or count >= limit:
                break
    return found  # a stream without a sample is probed by its header alone


def _accepts(format_name: str, stream, sample: av.Packet | None) -> bool:
    """Whether a container of this format can hold a copy of `stream`, found by muxing its first packet into
    a file in memory (FFmpeg's codec query says yes to pairs the muxer then refuses, such as PCM audio
    without a labelled channel layout in MP4)."""
    with contextlib.suppress(av.FFmpegError, ValueError):
        with av.open(io.BytesIO(), "w", format=format_name) as probe:
            copy = probe.add_stream_from_template(stream)
            probe.start_encoding()
            if sample is not None:
                sample.stream = copy
                probe.mux(sample)
        return True
    return False


def _warn_data_left_out(container, warnings: list[str]) -> None:
    """A warning naming the source's data streams that are neither telemetry nor timecode (which are kept)."""
    left = [
        s
        for s in container.streams.data
        if not _is_telemetry(s) and "timecode" not in s.metadata and int(s.discard) != _DISCARD_ALL
    ]
    if not left:
        return
    if len(left) == 1:
        described = f"data stream #{left[0].index} ({_data_name(left[0])}) of the input is"
    else:  # an iPhone clip has several metadata tracks of one kind: counted, not listed
        kinds = collections.Counter(_data_name(s) for s in left)
        described = f"{len(left)} data streams ({', '.join(f'{n} {k}' for k, n in kinds.items())}) of the input are"
    warnings.append(f"{described} left out (deblur carries GoPro telemetry, into .mp4 and .mov, and timecode)")


def _warn_video_left_out(container, warnings: list[str]) -> None:
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


def _attach(container, output, suffix: str, warnings: list[str]) -> None:
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


def _is_telemetry(stream) -> bool:
    """Whether a stream is GoPro telemetry to copy. (An MP4 chapter track, also opaque binary data to FFmpeg,
    is marked discarded by the demuxer; its chapters are kept as such.)"""
    return (
        stream.type == "data"
        and stream.name == _TELEMETRY_CODEC
        and _TELEMETRY_HANDLER in stream.metadata.get("handler_name", "")
        and int(stream.discard) != _DISCARD_ALL
    )


def _data_name(stream) -> str:
    """A data stream as its handler names it (e.g. "GoPro MET"), else by its codec."""
    return stream.metadata.get("handler_name") or stream.name or "unknown data"


def _codec_name(stream) -> str:
    return stream.codec_context.name if stream.codec_context is not None else "unknown codec"


def _copy_tags(source, target) -> None:
    target.metadata.update({k: v for k, v in source.metadata.items() if k in _STREAM_TAGS})
    target.disposition = source.disposition
