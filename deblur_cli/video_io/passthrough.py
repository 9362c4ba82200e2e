"""Carrying a source's audio, subtitle and telemetry streams into an output while its video is re-encoded."""

from __future__ import annotations

import collections
import contextlib
import io
import math
from fractions import Fraction
from pathlib import Path

import av

from deblur_cli.errors import InputError
from deblur_cli.video_io.containers import open_input
from deblur_cli.video_io.extras import (
    attach,
    carry_chapters,
    data_name,
    is_telemetry,
    warn_data_left_out,
    warn_video_left_out,
)
from deblur_cli.video_io.streams import codec_label
from deblur_cli.video_io.subtitles import TEXT_CODEC_FOR_FORMAT, TEXT_SUBTITLES, Retext
from deblur_cli.video_io.track_tags import keep_language, names_lost, track_tags

# Container-level tags that describe the old file rather than its content.
_STALE_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder"}
_HANDLER_TAG = "handler_name"  # MP4/MOV's name for a track's kind ("SoundHandler"), kept beside track_tags
# Muxers that write only the tags they know into MP4/MOV user data unless told to keep every tag (as
# `mdta` keys, the way phones write them: com.apple.quicktime.location.ISO6709, com.android.capture.fps).
_KNOWN_TAGS_ONLY = {"mp4", "mov"}
SUBTITLE_LOOKBACK = 10.0  # seconds before --start searched for a subtitle cue still on screen at it
_STANDARD_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
# Encoders for audio an output cannot hold as it is, in order: the first its container takes is used (AAC
# in most; Opus in WebM and Ogg, MPEG-1 Layer II in MPEG-PS (.mpg, .vob), PCM in MXF and DV).
_AUDIO_ENCODERS = ("aac", "libopus", "mp2", "ac3", "pcm_s16le")
# Containers that store no audio timestamps: audio plays from the file's start, one sample after another, and
# the muxer moves every stream later by whatever starts before zero (AAC's priming packet, a span's first packet)
_AUDIO_FROM_ZERO = {"avi"}
# Where GoPro's telemetry track is kept (and read again by Gyroflow). Others' muxers take it too, but as
# something else: ASF as a second video stream, AVI, MPEG-TS and NUT as an unnamed data stream.
_TELEMETRY_FORMATS = {"mp4", "mov"}
# Audio a container's muxer takes but many of its players do not decode, re-encoded for them: MPEG-1 Layer I
# and II (DVD, broadcast and .mpg sound) in MP4 and MOV, where the audio that Apple's players and web browsers
# list as supported includes MPEG audio only as MP3 (Layer III).
_UNPLAYED_AUDIO = {"mp4": {"mp1", "mp2"}, "ipod": {"mp1", "mp2"}, "mov": {"mp1", "mp2"}, "3gp": {"mp1", "mp2"}}
# Containers whose FFmpeg muxer stores PCM sound as ISO PCM ('ipcm', ISO/IEC 23003-5, from 2020), which
# players and editors older than it may not read; its MOV muxer writes QuickTime's PCM ('sowt', 'twos', 'in24')
_ISO_PCM = {"mp4"}
_TS_NEGATIVE = 0x40000  # AVFMT_TS_NEGATIVE: the container keeps times before zero (MP4 and MOV, by an edit list)
# Containers that keep audio before zero only as far as a track's CodecDelay reaches (Matroska, WebM): its
# decoders discard that many samples from the track's start, which a span's copy takes from its template
_CODEC_DELAY_FORMATS = {"matroska", "webm"}
_HEARD_EARLY = 0.04  # seconds of audio ahead of the picture that viewers notice (ITU-R BT.1359: 45 ms)
# The muxers that write a forced flag: FFmpeg's MOV muxer in its MP4 mode (not MOV, iPod or 3GP) and
# Matroska's; AVI, MPEG-TS, MPEG-PS, FLV, ASF and NUT drop it
_FORCED_FLAG = {"mp4", "matroska", "webm"}


class _Copy:
    """Packets go to the output unchanged."""

    def __init__(self, output_stream):
        self.output_stream = output_stream

    def packets(self, packet):
        packet.stream = self.output_stream
        return [packet]

    def flush(self):
        return []


class _Reencode:
    """Packets are decoded and encoded again for a container that cannot hold the original codec."""

    def __init__(self, input_stream, output_stream):
        self.input_stream = input_stream
        self.output_stream = output_stream

    def packets(self, packet):
        return [p for frame in self.input_stream.decode(packet) for p in self.output_stream.encode(frame)]

    def prime(self, packets) -> None:
        """Decode `packets` and drop what they decode to: the pre-roll a decoder needs before a span's first
        packet (Opus: 80 ms) comes out right."""
        for packet in packets:
            self.input_stream.decode(packet)

    def flush(self):
        tail = [p for frame in self.input_stream.decode(None) for p in self.output_stream.encode(frame)]
        return tail + self.output_stream.encode(None)


class Passthrough:
    """The audio, subtitle and telemetry streams of `source`, muxed into `output` in time order with its video.

    The source is opened a second time and read only as far as the video written so far (`feed_until`), so
    the muxer interleaves the streams and memory stays bounded. Audio is copied without re-encoding when the
    output container can hold its codec, otherwise re-encoded (the first of _AUDIO_ENCODERS it takes); a subtitle
    stream the container cannot hold is left out. Each such change adds a line to `warnings`. Of the data
    streams, binary telemetry (GoPro's GPMF track, which stabilisers such as Gyroflow read) is copied where
    the container holds it (MP4, MOV) and otherwise left out with a warning; a timecode track is written
    anew by the video's encoder (writer.py); other data streams are left out with a warning. Attachments
    (fonts, cover images) are copied into Matroska outputs, chapters wherever the container holds them (cut
    to a span); video streams besides the restored one are left out with a warning. Streams must be added
    before the first packet is muxed, so construct this right after the video stream. Without `audio`
    (--no-audio) neither audio nor subtitles are copied, only the telemetry.

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
            self._input = open_input(source)
        except av.FFmpegError as e:
            raise InputError(
                f"cannot reopen {source} to copy its audio and subtitles ({e.strerror})",
                hint="the input changed or vanished while it was being read; run again, or pass --no-audio",
            ) from None
        self._source, self._output = source, output
        self._suffix = Path(output.name).suffix or output.format.name
        self._routes: dict[int, _Copy | _Reencode] = {}
        wanted = [
            s
            for s in self._input.streams
            if (audio and s.type in ("audio", "subtitle")) or is_telemetry(s)  # --no-audio drops both
        ]
        if start is not None or end is not None:  # a track that would be declared in the output and left empty
            silent = _silent_in_span(source, [s for s in wanted if s.type == "audio"], start or 0.0, end)
            for stream in (s for s in wanted if s.index in silent):
                ends = silent[stream.index]
                why = "has no sound in the span" if ends is None else f"ends at {ends:g} s, before the span starts"
                warnings.append(f"audio stream #{stream.index} {why}; the output has no track of it")
            wanted = [s for s in wanted if s.index not in silent]
        warn_data_left_out(self._input, warnings)
        warn_video_left_out(self._input, warnings)
        attach(self._input, output, self._suffix, warnings)
        samples, whole = _first_packets(source, [s.index for s in wanted])
        for stream in [s for s in wanted if whole and s.type == "audio" and s.index not in samples]:
            warnings.append(f"audio stream #{stream.index} holds no sound; the output has no track of it")
            wanted.remove(stream)  # a recorder's unused channel: declared, with no packet
        for stream in wanted:
            fits = (stream.type != "data" or output.format.name in _TELEMETRY_FORMATS) and _accepts(
                output.format.name, stream, samples.get(stream.index)
            )
            if stream.type == "audio":
                route = self._audio_route(stream, fits, warnings)
            else:
                route = self._copy_route(stream, fits, warnings)
            if route is not None:
                _copy_tags(stream, route.output_stream)
                what = f"{stream.type} stream #{stream.index}"
                if lost := keep_language(output.format.name, route.output_stream.metadata, what, self._suffix):
                    warnings.append(lost)
                self._routes[stream.index] = route
                if stream.disposition & av.stream.Disposition.forced and output.format.name not in _FORCED_FLAG:
                    warnings.append(
                        f"the input's {stream.type} stream #{stream.index} is marked forced (shown whatever the"
                        f" viewer picks); {self._suffix} cannot record that flag (.mp4 and .mkv keep it)"
                    )
        names = [track_tags(self._input.streams[i].metadata).get("title") for i in self._routes]
        if lost := names_lost(output.format.name, names, self._suffix, "the audio and subtitle tracks'"):
            warnings.append(lost)
        tags = {k: tag_value(v) for k, v in self._input.metadata.items() if k not in _STALE_TAGS}
        output.metadata.update(tags)
        carry_chapters(self._input, output, start, end, self._suffix, warnings)
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
        self._audio_from_zero = output.format.name in _AUDIO_FROM_ZERO
        # whether the audio packet under a span's start is kept, its part before the start not played
        self._keeps_straddlers = self._audio_from_zero or bool(int(output.format.flags) & _TS_NEGATIVE)
        self._keeps_preroll = self._keeps_straddlers or output.format.name in _CODEC_DELAY_FORMATS
        self._audio_started: set[int] = set()  # audio streams (the source's indices) with a packet muxed
        # of each copied audio stream, the latest packets wholly before the span: a decoder's pre-roll (AAC's
        # first packet decodes right only after the one before, Opus's after 80 ms), kept before the span's first
        self._before: dict[int, collections.deque[av.Packet]] = {}
        self._queued: list[av.Packet] = []  # packets _next_packet returns before reading more
        self._warnings = warnings

    def _audio_route(self, stream, fits: bool, warnings: list[str]):
        name = codec_label(stream)
        unplayed = fits and name in _UNPLAYED_AUDIO.get(self._output.format.name, ())
        if fits and not unplayed:
            if name.startswith("pcm_") and self._output.format.name in _ISO_PCM:
                warnings.append(
                    f"audio stream #{stream.index} ({name}) is stored in {self._suffix} as ISO PCM ('ipcm'), which "
                    "players and editors older than that standard may not read; .mov keeps it as QuickTime PCM"
                )
            return _Copy(_add_copy(self._output, stream))
        if stream.codec_context is None:
            warnings.append(
                f"audio stream #{stream.index} ({name}) cannot be stored in {self._suffix} and cannot be decoded "
                "for re-encoding; it was left out"
            )
            return None
        layout = stream.layout.name
        if layout.endswith("channels"):  # unlabelled ("2 channels"), which encoders and muxers refuse
            layout = _STANDARD_LAYOUTS.get(stream.layout.nb_channels, "stereo")
        target = _audio_encoder(self._output.format.name, stream.sample_rate, layout)
        if target is None:
            warnings.append(f"audio stream #{stream.index} ({name}) cannot be stored in {self._suffix}; it was left out")
            return None
        codec, rate = target
        output_stream = self._output.add_stream(codec, rate=rate, layout=layout)
        output_stream.time_base = Fraction(1, rate)
        why = f"is played by few players of {self._suffix} files" if unplayed else f"cannot be stored in {self._suffix}"
        warnings.append(f"audio stream #{stream.index} ({name}) {why}; re-encoded to {output_stream.codec_context.name}")
        return _Reencode(stream, output_stream)

    def _copy_route(self, stream, fits: bool, warnings: list[str]):
        """A subtitle or telemetry stream copied; a text subtitle the container cannot hold converted to
        the text codec it has; anything else left out, each change with a warning."""
        if fits:
            return _Copy(self._output.add_stream_from_template(stream))
        source_codec = codec_label(stream)
        target_codec = TEXT_CODEC_FOR_FORMAT.get(self._output.format.name)
        if stream.type == "subtitle" and source_codec in TEXT_SUBTITLES and target_codec is not None:
            output_stream = self._output.add_mux_stream(target_codec)
            output_stream.time_base = stream.time_base
            warnings.append(
                f"subtitle stream #{stream.index} ({source_codec}) cannot be stored in {self._suffix}; its cues "
                f"were converted to {target_codec}, text and timing only"
            )
            return Retext(source_codec, output_stream, target_codec)
        if stream.type == "data":
            what, keeps = f"data stream #{stream.index} ({data_name(stream)})", ".mp4 and .mov keep it"
        else:
            what = f"subtitle stream #{stream.index} ({source_codec})"
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
            self._mux(packet.stream.index, self._routes[packet.stream.index].packets(packet))

    def _mux(self, index: int, packets: list[av.Packet]) -> None:
        """Mux the packets a route made of source stream `index`'s; into an output whose audio plays from
        its start, audio begins at zero (_starts_at_zero), and audio that begins later is said to play early."""
        if self._audio_from_zero and self._input.streams[index].type == "audio":
            packets = [p for p in packets if _starts_at_zero(p)]
            if packets and index not in self._audio_started:
                self._audio_started.add(index)
                late = float(packets[0].pts * packets[0].time_base) if packets[0].pts is not None else 0.0
                if late > _HEARD_EARLY:
                    self._warnings.append(
                        f"audio stream #{index} begins {late:.2f} s into the video; {self._suffix} cannot delay it, so it "
                        "plays that much early (.mkv, .mp4 and .mov keep its timing)"
                    )
        self._output.mux(packets)

    def _next_packet(self):
        """The next source packet inside the span, with its timestamps moved to the output's clock; None at the end.
        Before the span's first audio packet of a copied stream come the packets before it that its decoder
        needs to decode it right (AAC: the first 10 ms of sound were 40-70% off), where the output holds them
        unheard (_held): an MP4's edit list skips them whole, Matroska's CodecDelay discards them."""
        if self._queued:
            return self._queued.pop(0)
        for packet in self._packets:
            if packet.dts is None or _no_text(packet):  # flush markers carry no data
                continue
            shown = (packet.pts if packet.pts is not None else packet.dts) * packet.time_base
            cue = packet.stream.type == "subtitle" and packet.pts is not None and (packet.duration or 0) > 0
            if self._start is not None and shown < self._start and not (
                (cue and _trim_start(packet, self._start))
                or (self._keeps_straddlers and _straddles(packet, shown, self._start))
            ):
                if self._keeps_preroll and _decoded_after_the_one_before(packet):
                    self._before.setdefault(packet.stream.index, collections.deque(maxlen=16)).append(packet)
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
            index = packet.stream.index
            if (before := self._before.pop(index, None)) and isinstance(route := self._routes.get(index), _Copy):
                preroll = self._held(route.output_stream, [self._moved(p) for p in _preroll(before)])
                kept = [*preroll, self._moved(packet)]
                self._queued += kept[1:]
                return kept[0]
            if before and isinstance(route, _Reencode):  # decoded to prime the decoder, not written
                route.prime(_preroll(before))
            return self._moved(packet)
        return None

    def _held(self, output_stream, preroll: list[av.Packet]) -> list[av.Packet]:
        """Of a copied stream's pre-roll, on the output's clock, what the output holds before the span's first
        packet: all of it where an edit list skips it (MP4, MOV) or audio plays from zero (AVI leaves out what
        starts before it). Matroska holds the packets from the track's CodecDelay before zero on, and its
        decoders discard that delay's samples: AAC's (1024) is its one packet of pre-roll, so the span's first
        packet is heard, decoded right (without it the delay swallowed that packet whole); Opus's (312, 6.5 ms)
        holds the last 20 ms packet where the span's first begins 13.5 ms or more into the span, and the
        rest of that packet is heard before it, in its place. A packet rounded to one tick before the delay
        (Matroska's clock counts milliseconds: 21.3 ms may read 22) is moved to its start, which the muxer
        would otherwise meet by moving every stream later."""
        if self._keeps_straddlers:
            return preroll
        context = output_stream.codec_context
        if not context.delay:  # MP3, Vorbis: nothing before zero
            return []
        held = []
        for packet in preroll:
            earliest = -round(Fraction(context.delay, context.sample_rate) / packet.time_base)
            if packet.dts >= earliest - 1:
                packet.dts = max(packet.dts, earliest)
                packet.pts = max(packet.pts, packet.dts)
                held.append(packet)
        return held

    def _moved(self, packet: av.Packet) -> av.Packet:
        """`packet` with its timestamps on the output's clock, which starts at the span's start."""
        if self._start is not None:
            shift = round(Fraction(self._start) / packet.time_base)
            packet.dts -= shift
            if packet.pts is not None:
                packet.pts -= shift
        return packet

    def finish(self) -> None:
        """Mux the rest of the source's streams, flush re-encoders, close the source."""
        self.feed_until(math.inf)
        for index, route in self._routes.items():
            self._mux(index, route.flush())
        self.close()

    def close(self) -> None:
        self._input.close()

    def carried(self) -> tuple[int, int]:
        """The packets of the streams carried over that fall in the span, and their bytes: about what they add to
        the output (a re-encoded stream's differ by its bit rate). Reads the source again, without decoding."""
        count = size = 0
        if not self._routes:  # demux([]) reads every stream
            return count, size
        with open_input(self._source) as container:
            for packet in container.demux([container.streams[i] for i in self._routes]):
                shown = packet.pts if packet.pts is not None else packet.dts
                if shown is None:  # flush markers carry no data
                    continue
                shown *= packet.time_base
                if (self._start is None or shown >= self._start) and (self._end is None or shown < self._end):
                    count, size = count + 1, size + packet.size
        return count, size


_PREROLL_SECONDS = {"opus": 0.08}  # what a decoder needs before its first sample comes out right (RFC 7845)


def _preroll(before: collections.deque[av.Packet]) -> list[av.Packet]:
    """Of the packets just before a span, the last ones a decoder needs: one, or as many as cover its codec's
    pre-roll (Opus: 80 ms, four packets of 20 ms)."""
    seconds = _PREROLL_SECONDS.get(codec_label(before[-1].stream), 0.0)
    kept = [before.pop()]
    while before and sum(float(p.duration * p.time_base) for p in kept if p.duration) < seconds:
        kept.insert(0, before.pop())
    return kept


def _decoded_after_the_one_before(packet: av.Packet) -> bool:
    """Whether `packet` is audio whose decoder needs the packet before it (AAC, MP3, Opus: transforms
    overlap); PCM decodes each sample alone."""
    return packet.stream.type == "audio" and not codec_label(packet.stream).startswith("pcm")


def _no_text(packet: av.Packet) -> bool:
    """Whether `packet` is an MP4 text subtitle's empty sample, which its muxer writes between cues (and
    would write again beside a copy of it)."""
    return packet.stream.type == "subtitle" and packet.size == 2 and bytes(packet) == b"\x00\x00"


def _straddles(packet: av.Packet, shown: Fraction, start: float) -> bool:
    """Whether an audio packet shown from `shown` (seconds) is still playing at `start`."""
    return packet.stream.type == "audio" and shown + (packet.duration or 0) * packet.time_base > start


def _starts_at_zero(packet: av.Packet) -> bool:
    """For an output whose audio plays from its start (AVI): False for an audio packet mostly before zero, which
    is left out (AAC's priming packet, whose samples the source's edit list skips); one mostly after zero is
    moved to begin at it, so that nothing moves the video later. Audio then starts within half a packet of the
    video, as it does in the source."""
    if packet.pts is None or packet.pts >= 0:
        return True
    if 2 * (packet.pts + (packet.duration or 0)) <= (packet.duration or 0):
        return False
    packet.pts = packet.dts = 0
    return True


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


def _silent_in_span(source: str | Path, streams: list, start: float, end: float | None) -> dict[int, float | None]:
    """Of these audio streams, those with no packet playing in the span from `start` to `end` (seconds on the
    source's clock), each with where its sound ends when a packet before the span said so (else None); read
    from a separate opening of the source, from a second before `start`. A stream the file's damage stops
    reading from is kept."""
    waiting = {s.index for s in streams}
    silent: dict[int, float | None] = {}
    heard_until: dict[int, float] = {}
    if not waiting:
        return silent
    try:
        with open_input(source) as container:
            container.seek(int(max(start - 1, 0) * av.time_base), backward=True)
            for packet in container.demux([container.streams[i] for i in waiting]):
                index = packet.stream.index
                if index not in waiting or packet.pts is None or not packet.size:
                    continue
                shown = float(packet.pts * packet.time_base)
                until = shown + float((packet.duration or 0) * packet.time_base)
                if end is not None and shown >= end:  # the span ended with nothing of it
                    waiting.discard(index)
                    silent[index] = heard_until.get(index)
                elif until > start:
                    waiting.discard(index)
                else:
                    heard_until[index] = until
                if not waiting:
                    break
    except av.FFmpegError:
        return silent
    return silent | {index: heard_until.get(index) for index in waiting}


def _first_packets(source: str | Path, indices: list[int], limit: int = 1000) -> tuple[dict[int, av.Packet], bool]:
    """The first non-empty packet of each listed stream, read from a separate opening of the source, and
    whether every packet of theirs was read (so a stream without one holds none). After `limit` packets, only
    an audio stream still without one is looked for further, to the end where it has none: an unused channel
    of a recording of any length is found empty (its track would be declared and left empty)."""
    found: dict[int, av.Packet] = {}
    if not indices:
        return found, True
    whole = False
    with contextlib.suppress(av.FFmpegError), open_input(source) as container:
        streams = [container.streams[i] for i in indices]
        audio = {s.index for s in streams if s.type == "audio"}
        for count, packet in enumerate(container.demux(streams)):
            if packet.size and packet.stream.index not in found:
                found[packet.stream.index] = packet
            if len(found) == len(streams) or (count >= limit and audio <= found.keys()):
                break
        else:
            whole = True
    return found, whole  # a stream without a sample is probed by its header alone


_VIDEO_FIRST_FORMATS = {"mxf"}  # "there must be exactly one video stream and it must be the first one"
_CODEC_FAMILIES = {"mp1": "mpeg audio", "mp2": "mpeg audio", "mp3": "mpeg audio", "eac3": "ac3"}


def _accepts(format_name: str, stream, sample: av.Packet | None) -> bool:
    """Whether a container of this format can hold a copy of `stream`, found by muxing its first packet into
    a file in memory and reading it back. FFmpeg's codec query says yes to pairs the muxer then refuses
    (PCM audio without a labelled channel layout in MP4), and some muxers take a stream they write as
    something else: MPEG-TS writes PCM audio and SubRip subtitles as unnamed data no player reads."""
    memory = io.BytesIO()
    with contextlib.suppress(av.FFmpegError, ValueError):
        with av.open(memory, "w", format=format_name) as probe:
            video = _video_first(probe)
            copy = _add_copy(probe, stream)
            probe.start_encoding()
            if video is not None:  # MXF writes its header at its first video packet, and takes none before it
                frame = av.VideoFrame(64, 48, "yuv420p")
                for packet in [*video.encode(frame), *video.encode(None)]:
                    probe.mux(packet)
            if sample is not None:
                sample.stream = copy
                probe.mux(sample)
        with av.open(io.BytesIO(memory.getvalue()), format=format_name) as written:
            kind = _kind(stream)
            return any(_kind(s) == kind for s in written.streams)
    return False


def _add_copy(output, stream):
    """A stream of `output` for copies of `stream`'s packets. Audio whose channels are unlabelled ("2
    channels": Matroska stores only their count) is labelled with the standard layout of that count (up to
    8), which MP4's muxer requires of PCM; the samples are copied as they are."""
    copy = output.add_stream_from_template(stream)
    if stream.type == "audio" and stream.layout.name.endswith("channels"):
        if standard := _STANDARD_LAYOUTS.get(stream.layout.nb_channels):
            copy.codec_context.layout = standard
    return copy


def _video_first(probe):
    """A video stream, added to a probe of a container that takes other streams only after one (MXF);
    None for other containers."""
    if probe.format.name not in _VIDEO_FIRST_FORMATS:
        return None
    video = probe.add_stream("mpeg2video", rate=25)
    video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
    return video


def _kind(stream) -> tuple[str, str | None]:
    """A stream's type and codec family. MPEG-TS and MP4 label MPEG audio of every layer as MP3 (its one
    stream type), NUT reads E-AC-3 back as AC-3; one decoder plays each family, so a copy is the same stream."""
    name = getattr(stream, "name", None)  # an unknown stream type has no codec name
    if name is not None:
        name = name.removesuffix("float").removesuffix("_fixed")
        name = _CODEC_FAMILIES.get(name, name)
    return stream.type, name


def _audio_encoder(format_name: str, sample_rate: int, layout: str) -> tuple[str, int] | None:
    """The first of _AUDIO_ENCODERS, with a sample rate, that a container of this format takes (tried in
    memory): the source's rate where the encoder has it, else 48 kHz. None where it takes none (.y4m)."""
    for codec in _AUDIO_ENCODERS:
        try:
            rates = av.codec.Codec(codec, "w").audio_rates
        except ValueError:  # av.codec.codec.UnknownCodecError: not in this build
            continue
        for rate in dict.fromkeys(r for r in (sample_rate, 48000) if not rates or r in rates):
            with contextlib.suppress(av.FFmpegError, ValueError):
                probe = av.open(io.BytesIO(), "w", format=format_name)
                try:
                    _video_first(probe)
                    probe.add_stream(codec, rate=rate, layout=layout)
                    probe.start_encoding()
                    return codec, rate
                finally:
                    with contextlib.suppress(av.FFmpegError):  # MXF ends no file without packets: the header decided
                        probe.close()
    return None


def tag_value(value: str) -> str:
    """One copy of a tag FFmpeg read twice: FFmpeg 8 (PyAV 19) joins the values of a key a file stores
    in two places with ";" (an MP4's creation_time, in its movie header and its metadata keys), and a
    date joined to itself is no date to the muxers that parse it."""
    parts = value.split(";")
    return parts[0] if len(parts) > 1 and parts[0] and len(set(parts)) == 1 else value


def _copy_tags(source, target) -> None:
    target.metadata.update(track_tags(source.metadata))
    if source.metadata.get(_HANDLER_TAG):
        target.metadata[_HANDLER_TAG] = source.metadata[_HANDLER_TAG]
    target.disposition = source.disposition
