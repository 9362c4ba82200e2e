"""What a track tells a viewer about itself, as outputs carry it: its language and its name."""

from __future__ import annotations

from collections.abc import Mapping

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


def names_lost(format_name: str, names: list[str | None], suffix: str, whose: str) -> str | None:
    """The warning for the track `names` an output of this muxer cannot hold, `whose` saying whose they
    are ("the video's"); None where it holds them, or there are none."""
    names = [name for name in names if name]
    if format_name not in NAMELESS_FORMATS or not names:
        return None
    quoted = ", ".join(f'"{name}"' for name in names)
    return f"{suffix} holds no track names: {whose} ({quoted}) left out (.mp4, .mov and .mkv keep them)"
