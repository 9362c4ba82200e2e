"""Text subtitles carried into a container that holds another text codec: each cue's text and timing,
rewritten packet by packet (SubRip, WebVTT, mov_text, ASS; bitmap subtitles cannot be)."""

from __future__ import annotations

import re

import av

# Text subtitle codecs whose cues can be rewritten for a container that holds another text codec, and
# the text codec each output container holds.
TEXT_SUBTITLES = {"subrip", "srt", "mov_text", "webvtt", "ass", "ssa", "text"}
TEXT_CODEC_FOR_FORMAT = {"mp4": "mov_text", "mov": "mov_text", "ipod": "mov_text", "matroska": "subrip", "webm": "webvtt"}


class Retext:
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
