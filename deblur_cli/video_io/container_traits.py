"""What each container does with a video stream's frames and times, in one table keyed by FFmpeg's muxer and
demuxer names ("avi", "matroska,webm"), so that a fact about a container is stated once and every module that
relies on it asks the same entry."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction


@dataclass(frozen=True)
class ContainerTraits:
    """What deblur relies on a container to do. The defaults are those of a container that keeps each frame's
    time to its stream's time base (NUT; MPEG-TS, but for where its clock starts)."""

    # it counts frames at one rate: its clock's tick is a frame (AVI, Y4M; MXF, one frame an edit unit), or it
    # states no rate and holds no times, so readers take the codec's (bare streams: H.264's timing info, read as
    # 90000 fps where it has the stream's 90 kHz ticks); the frames of a varying rate drift there
    counts_frames: bool = False
    # it stores no presentation times, only the frames' order (AVI, Y4M): a reordered frame's (a B-frame's) is lost
    no_presentation_times: bool = False
    # FFmpeg's muxer writes H.264 and HEVC without their reordering (MXF): B-frames come back in decode order
    loses_reordering: bool = False
    # it states no rate but keeps each frame's time, where a frame starts a PES packet (MPEG program streams): an
    # encoder that states the rate apart from the time base keeps the source's times there
    keeps_times_with_stated_rate: bool = False
    # its clock leaves the ticks without a frame empty (AVI's index entries): at the grid a varying rate's frames
    # fall on, each keeps its time; FFmpeg's AVI muxer puts the first frame on the first tick, though, so a video
    # that starts later needs an empty packet at zero
    gapped: bool = False
    # the unit its timestamps count in, whatever the stream's time base, where that is coarser than most streams'
    # (Matroska's millisecond): frames closer than that are not told apart
    clock: Fraction | None = None
    # it takes each packet's duration from the decode times that follow, and ends the video where the packet that
    # ends last does (ISO media: MP4, MOV)
    durations_from_decode_times: bool = False
    # it is ISO media, whose atoms mp4_atoms reads (MP4, MOV): its index (moov) lists each track's samples, their
    # durations and codec tag, and an edit list shows a part of them
    mp4_atoms: bool = False
    # it is Matroska (or WebM), whose track list mkv_elements reads: a track's Dolby Vision configuration
    mkv_elements: bool = False
    # it states no length for each stream but in a tag (Matroska's DURATION, which FFmpeg's muxer writes): FFmpeg
    # gives a stream without one the whole file's
    tagged_lengths: bool = False
    # its streams say whether players pick them (Matroska's FlagDefault, an MP4 or MOV track's enabled flag)
    flags_default: bool = False
    # its clock starts where the recorder's did (MPEG-TS: 1.4 s by convention, hours into a broadcast; MPEG-PS: half a
    # second), which FFmpeg's tools move to zero
    shifted_clock: bool = False
    # a video stream with no container (.h264, .m2v): FFmpeg's reader times its frames at its default 25 fps unless
    # the codec says otherwise (H.264's timing info, an MPEG-2 sequence header)
    bare: bool = False
    # it states no length: FFmpeg's reader guesses one from the last timestamps it finds, a frame or more short for
    # short files (bare streams; MPEG program streams: 10 of 12 frames, 20 of 30)
    guessed_length: bool = False
    # its index lists every frame (MP4, MOV, AVI), so its reader drops no damage unseen (Matroska's skips to the next
    # cluster, MPEG-TS's loses packets): frames missing from its timestamps were never written
    indexed: bool = False
    # each frame states how long it shows (a GIF's or APNG's delays): a frame shown for three frames' time is a pause
    # its author made, never frames lost
    authored_times: bool = False


_FRAMES_IN_ORDER = ContainerTraits(counts_frames=True, no_presentation_times=True)
_MILLISECONDS = ContainerTraits(clock=Fraction(1, 1000))
_MATROSKA = replace(_MILLISECONDS, tagged_lengths=True, flags_default=True, mkv_elements=True)
_BARE = ContainerTraits(bare=True, guessed_length=True)
_ISO_MEDIA = ContainerTraits(durations_from_decode_times=True, mp4_atoms=True, flags_default=True, indexed=True)
_TRAITS = {
    "avi": replace(_FRAMES_IN_ORDER, gapped=True, indexed=True),
    "yuv4mpegpipe": _FRAMES_IN_ORDER,
    **dict.fromkeys(("mxf", "mxf_d10", "mxf_opatom"), ContainerTraits(counts_frames=True, loses_reordering=True)),
    **dict.fromkeys(("h264", "hevc", "mpeg2video", "mpeg1video"), replace(_BARE, counts_frames=True)),
    **dict.fromkeys(("mpegvideo", "m4v", "vc1", "cavsvideo", "obu"), _BARE),  # FFmpeg's other readers of bare video
    **dict.fromkeys(  # FFmpeg's muxers of MPEG program streams ("mpeg" is its demuxer too)
        ("mpeg", "svcd", "vob", "dvd", "vcd"),
        ContainerTraits(counts_frames=True, keeps_times_with_stated_rate=True, shifted_clock=True, guessed_length=True),
    ),
    "mpegts": ContainerTraits(shifted_clock=True),
    **dict.fromkeys(("matroska", "webm", "matroska,webm"), _MATROSKA),  # its muxers and its demuxer
    "flv": _MILLISECONDS,
    **dict.fromkeys(("gif", "apng"), ContainerTraits(authored_times=True)),  # FFmpeg's muxers and demuxers
    **dict.fromkeys(("mov", "mp4", "ipod", "3gp", "3g2", "psp", "ismv", "f4v"), _ISO_MEDIA),  # FFmpeg's ISO muxers
    "mov,mp4,m4a,3gp,3g2,mj2": _ISO_MEDIA,  # and its demuxer
}
_PLAIN = ContainerTraits()


def container_traits(name: str) -> ContainerTraits:
    """The traits of the container that FFmpeg's muxer or demuxer `name` writes or reads (a container's
    `format.name`); the defaults for one the table does not list."""
    return _TRAITS.get(name, _PLAIN)
