"""What each container does with a video stream's frames and times, in one table keyed by FFmpeg's muxer and
demuxer names ("avi", "matroska,webm"), so that a fact about a container is stated once and every module that
relies on it asks the same entry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContainerTraits:
    """What deblur relies on a container to do. The defaults are those of a container that keeps each frame's
    time (MP4, Matroska)."""

    # its clock leaves the ticks without a frame empty (AVI's index entries): at the grid a varying rate's frames
    # fall on, each keeps its time; FFmpeg's AVI muxer puts the first frame on the first tick, though, so a video
    # that starts later needs an empty packet at zero
    gapped: bool = False


_TRAITS = {
    "avi": ContainerTraits(gapped=True),
}
_PLAIN = ContainerTraits()


def container_traits(name: str) -> ContainerTraits:
    """The traits of the container that FFmpeg's muxer or demuxer `name` writes or reads (a container's
    `format.name`); the defaults for one the table does not list."""
    return _TRAITS.get(name, _PLAIN)
