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
