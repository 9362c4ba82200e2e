"""What a track tells a viewer about itself, as outputs carry it: its language and its name."""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping

import av
import numpy as np

# Tags that say what a track is rather than how it was encoded; the others (the encoder's and handler's
# names, Matroska's DURATION) describe the old stream, and the muxer writes its own.
_TRACK_TAGS = ("language", "title")


def track_tags(metadata: Mapping[str, str]) -> dict[str, str]:
    """The language and title among a stream's tags, the title under the key every muxer writes it from.
    FFmpeg's MOV/MP4 demuxer reports a track's name (its `name` user data) as `name`, while the MP4, MOV
    and Matroska muxers write a track's name from `title`."""
    tags = {key: metadata[key] for key in _TRACK_TAGS if metadata.get(key)}
    if "title" not in tags and metadata.get("name"):
        tags["title"] = metadata["name"]
    return tags


# FFmpeg's MOV muxer in its iPod (.m4v) and 3GP modes writes no track names (its MP4 and MOV modes do)
NAMELESS_FORMATS = {"ipod", "3gp", "3g2"}


# ISO 639-2's twenty languages with two codes, bibliographic (B) and terminology (T): QuickTime's table,
# which FFmpeg's MOV muxer writes languages from, holds one of each pair (ger, not deu; but fra, not fre)
_TWINS = dict(
    pair
    for b, t in [("alb", "sqi"), ("arm", "hye"), ("baq", "eus"), ("bur", "mya"), ("chi", "zho"), ("cze", "ces"),
                 ("dut", "nld"), ("fre", "fra"), ("geo", "kat"), ("ger", "deu"), ("gre", "ell"), ("ice", "isl"),
                 ("mac", "mkd"), ("mao", "mri"), ("may", "msa"), ("per", "fas"), ("rum", "ron"), ("slo", "slk"),
                 ("tib", "bod"), ("wel", "cym")]
    for pair in ((b, t), (t, b))
)  # fmt: skip


def recorded_language(format_name: str, language: str) -> str | None:
    """The code under which an output of this muxer keeps a track's `language`: itself, or its ISO 639-2
    twin where the muxer knows only that one (MOV: deu is written as ger); None where it keeps neither (AVI
    records no languages; MOV none outside QuickTime's table). Found by writing a tiny file in memory."""
    if _keeps_language(format_name, language):
        return language
    twin = _TWINS.get(language)
    return twin if twin and _keeps_language(format_name, twin) else None


@functools.lru_cache(maxsize=256)
def _keeps_language(format_name: str, language: str) -> bool:
    """Whether a track tagged `language` reads back so from a file of this muxer; True where the probe
    cannot tell (the muxer takes no PCM audio)."""
    memory = io.BytesIO()
    try:
        with av.open(memory, "w", format=format_name) as probe:
            sound = probe.add_stream("pcm_s16le", rate=8000, layout="mono")
            sound.metadata["language"] = language
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 80), np.int16), format="s16", layout="mono")
            frame.sample_rate, frame.pts = 8000, 0
            probe.mux(sound.encode(frame))
            probe.mux(sound.encode())
        with av.open(io.BytesIO(memory.getvalue())) as written:
            return written.streams[0].metadata.get("language") == language
    except (av.FFmpegError, ValueError, IndexError):
        return True


def keep_language(format_name: str, metadata, what: str, suffix: str) -> str | None:
    """Set the language in a stream's `metadata` (its output tags) to the code the muxer records for it
    (recorded_language), or drop it where it records none, and return the warning for that; `what` names
    the track ("audio stream #2")."""
    language = metadata.get("language")
    if not language or language == "und":
        return None
    recorded = recorded_language(format_name, language)
    if recorded is not None:
        metadata["language"] = recorded
        return None
    del metadata["language"]
    return language_lost(format_name, language, what, suffix)


def language_lost(format_name: str, language: str | None, what: str, suffix: str) -> str | None:
    """The warning keep_language gives for a track tagged `language` in an output of this muxer; None where
    the muxer records it (or its twin), or the track has no language."""
    if not language or language == "und" or recorded_language(format_name, language) is not None:
        return None
    return f"{suffix} cannot record the language of {what} ({language}); .mkv keeps it"


def names_lost(format_name: str, names: list[str | None], suffix: str, whose: str) -> str | None:
    """The warning for the track `names` an output of this muxer cannot hold, `whose` saying whose they
    are ("the video's"); None where it holds them, or there are none."""
    names = [name for name in names if name]
    if format_name not in NAMELESS_FORMATS or not names:
        return None
    quoted = ", ".join(f'"{name}"' for name in names)
    return f"{suffix} holds no track names: {whose} ({quoted}) left out (.mp4, .mov and .mkv keep them)"
