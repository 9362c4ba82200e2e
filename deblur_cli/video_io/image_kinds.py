"""The kind of each image of a sequence (size, depth, alpha), against the first image's, which decides the
kind every frame is read at (images.ImageSequenceSource): what a later image of another kind loses.

`SequenceKinds` counts it as the images are decoded, for `deblur run`'s warning; `survey` finds it from
the images' headers alone, for `deblur info`.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import av

from deblur_cli.video_io.containers import open_input
from deblur_cli.video_io.grey import is_grey_format
from deblur_cli.video_io.info import VideoInfo, bit_depth_of, carries_alpha, has_alpha_channel
from deblur_cli.video_io.jpeg_end import cut_short
from deblur_cli.wording import some

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SURVEY_SECONDS = 2.0  # most time `deblur info` spends reading a sequence's headers
_ALPHA_TYPES = (4, 6)  # PNG colour types grey+alpha, RGBA (of 0 grey, 2 RGB, 3 palette, 4, 6)


class ImageKind(NamedTuple):
    """What an image's header says about it."""

    width: int
    height: int
    bits: int  # bits per channel, capped at 16 (1 to 8 read as 8-bit frames, more as 16-bit)
    alpha: bool  # it may hold transparency: an alpha channel, or a PNG's tRNS chunk (FFmpeg decodes it to one)
    clip: bool = False  # it holds a clip, not one picture (an animated PNG): deblur run stops there in a sequence


def read_kind(path: Path) -> ImageKind | None:
    """The kind of the image at `path` from its header: a PNG's chunks before its pixels, read by hand,
    since opening any image with FFmpeg decodes it to learn its pixel format (9 ms for a 1080p PNG);
    other formats through FFmpeg. None for a file that cannot be read, or a PNG or JPEG cut short."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if head == _PNG_SIGNATURE:
                return _png_kind(f)
    except OSError:
        return None
    try:
        with open_input(path) as container:
            context = container.streams.video[0].codec_context
            if context.name == "mjpeg" and cut_short(path):  # FFmpeg decodes it, filling in the missing part
                return None
            fmt = av.VideoFormat(context.pix_fmt)
            clip = not is_still_demuxer(container.format.name)
            return ImageKind(context.width, context.height, bit_depth_of(fmt), _may_hold_alpha(fmt.name), clip)
    except (av.FFmpegError, IndexError, ValueError, TypeError):
        return None


def is_still_demuxer(name: str) -> bool:
    """Whether FFmpeg's demuxer `name` reads one still picture: its image demuxers ("png_pipe",
    "jpeg_pipe", "image2"), not those of clips ("apng", "gif", "mov,mp4,...")."""
    return name.endswith("_pipe") or name == "image2"


def animated_png(path: Path) -> bool | None:
    """Whether the file at `path` is a PNG with an acTL chunk before its first IDAT: an animated PNG, which
    FFmpeg reads as a clip (its apng demuxer); None for a file that is not a PNG. Read by hand, since FFmpeg
    decodes a PNG to open it (0.16 s for 12 megapixels)."""
    try:
        with open(path, "rb") as f:
            if f.read(8) != _PNG_SIGNATURE or f.read(8)[4:8] != b"IHDR":
                return None
            f.seek(13 + 4, 1)  # IHDR's content and CRC
            return b"acTL" in _chunks_before_data(f)
    except OSError:
        return None


def _chunks_before_data(f) -> set[bytes]:
    """The types of a PNG's chunks from where `f` stands (past IHDR) to its first IDAT."""
    seen = set()
    while len(header := f.read(8)) == 8 and header[4:8] not in (b"IDAT", b"IEND"):
        seen.add(header[4:8])
        f.seek(struct.unpack(">I", header[:4])[0] + 4, 1)
    return seen


def _png_kind(f) -> ImageKind | None:
    """IHDR, and whether a tRNS chunk (transparency) or an acTL chunk (animation) comes before the first IDAT."""
    chunk = f.read(8 + 13)
    if len(chunk) < 21 or chunk[4:8] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", chunk[8:18])
    f.read(4)  # IHDR's CRC
    chunks = _chunks_before_data(f)
    alpha = colour in _ALPHA_TYPES or b"tRNS" in chunks
    f.seek(0, 2)
    if f.tell() >= 12:  # a PNG cut short (FFmpeg cannot decode it) has no IEND chunk near its end
        f.seek(max(f.tell() - 4096, 0))  # some tools append bytes after it
        if b"IEND" not in f.read():
            return None
    return ImageKind(width, height, 16 if depth > 8 else 8, alpha, b"acTL" in chunks)


def _why_slow(path: Path) -> str:
    """Why reading a sequence's headers takes time: FFmpeg decodes an image to open it; a PNG's header is
    read by hand, so only slow storage can be the reason there."""
    if path.suffix.lower() == ".png":
        return ""
    return f"; FFmpeg decodes {path.suffix.lower() or 'such'} images to read them"


def _may_hold_alpha(pix_fmt: str) -> bool:
    return pix_fmt == "pal8" or has_alpha_channel(pix_fmt)  # a palette holds an alpha per colour


def kind_words(bits: int, alpha: bool, pix_fmt: str | None = None) -> str:
    """An image kind as people say it: "8-bit RGB", "16-bit RGBA", "8-bit grey"."""
    if is_grey_format(pix_fmt):
        return f"{bits}-bit grey" + (" with alpha" if alpha else "")
    return f"{bits}-bit RGB" + ("A" if alpha else "")


class SequenceKinds:
    """What the images after the first lose, read at the first's kind: counted as each is decoded.

    `lost(frame, codec)` says it of each later image's decoded picture (in the decoding threads), `count`
    adds that up in order; `warning(first_name, images)` is then one line naming how many images lost
    transparency or depth, or None where none did. A later image of
    a shallower depth, or opaque where the first has alpha, loses nothing (it is converted exactly), nor
    does a grey or palette image read as RGB."""

    def __init__(self, info: VideoInfo):
        self.info = info
        self.images = 0  # images that lost transparency or depth
        self.transparent = 0  # images whose transparency was left out
        self.deeper: dict[int, int] = {}  # bits -> images of that depth rounded to 8 bits

    def lost(self, frame: av.VideoFrame, codec: str | None) -> tuple[bool, int | None]:
        """(transparency left out, its bits where rounded to 8) for one decoded image; thread-safe."""
        bits = bit_depth_of(frame.format)
        deeper = bits if bits > 8 and self.info.bit_depth <= 8 else None
        return (not self.info.alpha and carries_alpha(frame, codec)), deeper

    def count(self, lost: tuple[bool, int | None]) -> None:
        """Count what `lost` returned for one image (in the thread that reads the frames, in order)."""
        transparent, deeper = lost
        self.images += transparent or deeper is not None
        self.transparent += transparent
        if deeper is not None:
            self.deeper[deeper] = self.deeper.get(deeper, 0) + 1

    def warning(self, first: str, images: int) -> str | None:
        """The line for `images` images read, the first named `first`; None where nothing was lost."""
        if not self.images:
            return None
        parts = [f"{self.transparent} with transparency, read opaque"] if self.transparent else []
        parts += [f"{count} of {bits} bits, rounded to 8" for bits, count in sorted(self.deeper.items())]
        kind = kind_words(self.info.bit_depth, self.info.alpha, self.info.pix_fmt)
        verb = "was" if self.images == 1 else "were"
        return f"{self.images} of {images} images {verb} read at the first's kind ({first}, {kind}): " + "; ".join(
            parts
        )


def survey(
    paths: Sequence[Path],
    info: VideoInfo,
    *,
    budget: float = SURVEY_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> list[str]:
    """What `deblur run` would refuse or warn about in the images `paths` of a sequence whose first image
    `info` describes, from each later image's header (read_kind): a size other than the first's, or a
    file FFmpeg cannot read (the run stops there), and where the first has no transparency or 8 bits,
    an alpha channel or a palette (whose colours may be transparent), or a greater depth: the run reads
    those at the first's kind (SequenceKinds), so these warnings may count an image whose alpha channel
    turns out wholly opaque. Images FFmpeg opens slowly (a 4K DPX scan: 0.15 s each, as it decodes the
    image) are read for `budget` seconds at most, and a last line says how many were checked."""
    sizes: dict[tuple[int, int], list[str]] = {}
    alpha, deeper, unread, clips = 0, {}, [], []
    until, checked = clock() + budget, 1
    for path in paths[1:]:
        if clock() > until:
            break
        checked += 1
        kind = read_kind(path)
        if kind is None:
            unread.append(path.name)
            continue
        if kind.clip:
            clips.append(path.name)
            continue
        if (kind.width, kind.height) != (info.width, info.height):
            sizes.setdefault((kind.width, kind.height), []).append(path.name)
        alpha += kind.alpha and not info.alpha
        if kind.bits > 8 and info.bit_depth <= 8:
            deeper[kind.bits] = deeper.get(kind.bits, 0) + 1
    first, total = paths[0].name, len(paths)
    warnings = []
    if sizes:
        odd = sum(len(names) for names in sizes.values())
        listed = ", ".join(some([f"{names[0]} {w}x{h}", *names[1:]], 1) for (w, h), names in sizes.items())
        warnings.append(
            f"images of another size than the first ({first}, {info.width}x{info.height}): {odd} of {total} "
            f"({listed}); deblur run stops at the first of them"
        )
    if alpha:
        kind = kind_words(info.bit_depth, info.alpha, info.pix_fmt)
        warnings.append(
            f"images with an alpha channel or a palette, where the first ({first}, {kind}) has no transparency: "
            f"{alpha} of {total}; deblur run reads them opaque, leaving out any transparency they hold"
        )
    for bits, count in sorted(deeper.items()):
        warnings.append(
            f"{bits}-bit images, where the first ({first}) is {info.bit_depth}-bit: {count} of {total}; "
            "deblur run rounds them to 8 bits"
        )
    if unread:
        warnings.append(
            f"images FFmpeg cannot read: {len(unread)} of {total} ({unread[0]}{' ...' if len(unread) > 1 else ''}); "
            "deblur run stops at the first of them"
        )
    if clips:
        warnings.append(
            f"images that hold a clip (an animated PNG), not one still picture: {len(clips)} of {total} "
            f"({clips[0]}{' ...' if len(clips) > 1 else ''}); deblur run stops at the first of them"
        )
    if checked < total:
        warnings.append(
            f"only the headers of the first {checked} of {total} images were read ({budget:g} s{_why_slow(paths[0])}): "
            "deblur run checks the others as it reads them"
        )
    return warnings
