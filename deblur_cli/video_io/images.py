"""Image files as a frame sequence: a directory, a glob pattern, or one image as a one-frame video."""

from __future__ import annotations

import glob
import os
import re
import struct
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from deblur_cli.errors import InputError
from deblur_cli.prefetch import decode_workers, mapped_in_threads
from deblur_cli.video_io.containers import empty_file, open_input
from deblur_cli.video_io.image_kinds import SequenceKinds, animated_png, is_still_demuxer
from deblur_cli.video_io.info import (
    Frame,
    VideoInfo,
    bit_depth_of,
    carries_alpha,
    color_of,
    frame_arrays,
    normalize_rotation,
)
from deblur_cli.video_io.jfif import jfif_rgb
from deblur_cli.video_io.jpeg_end import cut_short
from deblur_cli.video_io.photo_metadata import photo_orientation

# FFmpeg decodes still WebP only; TGA and DPX (10-bit film scans) are frames of VFX and animation pipelines
WRITTEN_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".tga", ".dpx")
# images FFmpeg decodes and deblur reads, frames of older tools and scanners, but does not write: restored
# beside themselves, they become PNGs (outputs.default_output)
READ_ONLY_IMAGE_SUFFIXES = (
    ".ppm", ".pgm", ".pbm", ".pnm", ".pam", ".pcx", ".sgi", ".jp2", ".j2k", ".xbm", ".exr", ".pfm",
)  # fmt: skip
_FLOAT_FORMAT = re.compile(r"f(16|32)(le|be)?$")  # FFmpeg's float pixel formats: gbrpf32le, grayf16le, ...
IMAGE_SUFFIXES = WRITTEN_IMAGE_SUFFIXES + READ_ONLY_IMAGE_SUFFIXES
# the suffixes that name a video where the name alone decides (the videos of a folder or a glob, a dataset's clips,
# what -o names); a file given itself is read as a video by any suffix but an image's
VIDEO_SUFFIXES = {
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mts", ".m2ts", ".ts", ".mpg", ".mpeg", ".flv", ".wmv", ".y4m",
    ".3gp", ".3g2", ".ogv", ".asf", ".vob", ".dv", ".f4v",
    ".mxf",  # professional cameras' cards (P2, XDCAM): MPEG-2, AVC-Intra or DNxHD, audio often in files of its own
    ".mod", ".tod",  # MPEG-2 camcorders
    ".gif",  # an animated GIF is a short video; restored, it becomes an .mp4
}  # fmt: skip
_SEQUENCE_HINT = "a frame sequence is a folder of .png, .jpg or .tif files that sort in order (frame_0001.png ...)"


def float_warning(name: str, pix_fmt: str | None, *, read: bool = True) -> str | None:
    """The warning for an image of float samples (OpenEXR, PFM: scene-referred, above 1 in highlights):
    what reading did, or with `read` False what a run will do."""
    if pix_fmt is None or not _FLOAT_FORMAT.search(pix_fmt):
        return None
    linear = "; OpenEXR's are linear light" if name.lower().endswith(".exr") else ""
    done = "they were read clipped to 0..1 and restored" if read else "a run reads them clipped to 0..1, restores them"
    return f"{name} holds float samples ({pix_fmt}{linear}): {done} as display-referred frames"


def is_image(path: str | os.PathLike) -> bool:
    """Whether the name has an image suffix this module reads."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def holds_clip(path: str | os.PathLike) -> bool:
    """Whether the file at `path`, named as an image, holds a clip as FFmpeg reads it: an animated PNG, or a
    video renamed with an image suffix. Such a file is read as the video it is, as an animated GIF is, not cut
    to its first frame. False for a file FFmpeg cannot open: reading it as an image says why."""
    if not is_image(path) or not os.path.isfile(path):
        return False
    if (animated := animated_png(Path(path))) is not None:
        return animated
    try:
        with open_input(path) as container:
            return not is_still_demuxer(container.format.name)
    except (OSError, av.FFmpegError, ValueError):  # ValueError: a tag that is not UTF-8, with PyAV 18
        return False


def reads_as_image(path: str | os.PathLike) -> bool:
    """Whether an input file is read as one image: named as one, and holding no clip (holds_clip)."""
    return is_image(path) and not holds_clip(path)


def is_glob(text: str) -> bool:
    """Whether a path argument is a glob pattern rather than a name."""
    return any(c in text for c in "*?[")


def is_glob_input(path: str | os.PathLike) -> bool:
    """Whether an input is a glob pattern ('shots/*.png'): it has a glob's characters and names no file or
    folder (a file named 'take[1].mp4' is that file)."""
    text = os.fspath(path)
    return not os.path.exists(text) and is_glob(text)


def is_image_sequence(path: str | os.PathLike) -> bool:
    """Whether an input is read as a sequence of images (list_images): a folder, or a glob (is_glob_input)."""
    return os.path.isdir(path) or is_glob_input(path)


def natural_key(path: Path) -> list:
    """Sort key that orders frame_2 before frame_10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def list_images(location: str | os.PathLike) -> list[Path]:
    """The image files of a directory or glob pattern, in natural order; hidden files are skipped.

    Raises InputError when nothing matches.
    """
    text = os.fspath(location)
    if os.path.isdir(text):
        candidates = [p for p in Path(text).iterdir() if p.is_file()]
        where = f"directory {text}"
    else:
        candidates = [Path(p) for p in glob.glob(text) if os.path.isfile(p)]
        if not candidates:
            raise InputError(f"no file matches {text}", hint="check the pattern: a glob names the frames of a sequence, or videos")
        where = f"files matching {text}"
    images = sorted((p for p in candidates if is_image(p) and not p.name.startswith(".")), key=natural_key)
    if not images:
        raise InputError(f"no images in {where}", hint=_SEQUENCE_HINT)
    return images


class ImageSequenceSource:
    """Images decoded in order as frames of one video; all must share the first image's size (checked
    as each is read, so an odd one raises InputError when iteration reaches it).

    Images after the first are decoded by `workers` threads (default: `prefetch.decode_workers()`), a
    few frames ahead of the consumer, since each is a file of its own.

    Frames come as (H, W, 3) RGB arrays at the first image's depth: uint8 for 8-bit images, uint16 on the
    full 16-bit scale for deeper ones (a later image of another depth is converted), with the alpha plane
    when the first image has one (a later image without one counts as opaque); the transparency of a later
    image where the first has none is left out, and `warnings` then counts such images, and deeper ones
    rounded to 8 bits (image_kinds.SequenceKinds). Frames carry no
    timestamps (`pts` is None); the info's frame rate is `rate`, None when the caller gave none (a
    video written from them then runs at DEFAULT_FPS).
    """

    def __init__(self, paths: Sequence[Path], *, rate: Fraction | None = None, workers: int | None = None):
        if not paths:
            raise InputError("no images to read", hint=_SEQUENCE_HINT)
        self.paths = list(paths)
        first, codec = _read(self.paths[0])
        self._first = first
        # by the EXIF tag, which says a mirror apart from a turn: PyAV's side data of image frames, which
        # holds it as a display matrix, fails or crashes (an EXIF or ICC entry)
        rotation, mirrored = photo_orientation(self.paths[0]) or (normalize_rotation(first.rotation), False)
        self.info = VideoInfo(
            width=first.width,
            height=first.height,
            fps=rate,
            time_base=None,
            frame_count=len(self.paths),
            bit_depth=bit_depth_of(first.format),
            rotation=rotation,
            mirrored=mirrored,
            color=color_of(first),
            codec=codec,
            pix_fmt=first.format.name,
            alpha=carries_alpha(first, codec),
            frame_names=tuple(path.stem for path in self.paths),
        )
        self._workers = workers or decode_workers()
        self._warnings: list[str] = []  # an image that cannot be read is an error, never skipped
        self._kinds = SequenceKinds(self.info)
        self._read = 0  # images read so far, in order
        if clipped := float_warning(self.paths[0].name, first.format.name):
            self._warnings.append(clipped)
        self._start = 0  # the first image iteration yields

    @property
    def warnings(self) -> list[str]:
        """What reading has left out so far: float samples clipped, later images' transparency or depth."""
        kinds = self._kinds.warning(self.paths[0].name, self._read)
        return self._warnings + ([kinds] if kinds else [])

    def skip_to(self, index: int, pts: int | None = None) -> None:
        """Make iteration start at image `index` (images carry no timestamps: `pts` is not used). Call
        before iterating."""
        if not 0 <= index < len(self.paths):
            raise InputError(
                f"no image {index} among the {len(self.paths)} of the sequence",
                hint="the folder changed since the earlier run; run again with --no-resume",
            )
        self._start = index

    def __iter__(self) -> Iterator[Frame]:
        first, self._first = self._first, None
        start = self._start
        if first is None or start:  # a second pass, or a later start, reads its first image again
            first = _read(self.paths[start])[0]
        lost = self._kinds.lost(first, self.info.codec) if start else (False, None)
        yield self._frame(start, self.paths[start], first.width, first.height, self._arrays(first), lost)
        rest = mapped_in_threads(self._load, self.paths[start + 1 :], self._workers)
        try:
            for index, (path, width, height, arrays, lost) in enumerate(rest, start=start + 1):
                yield self._frame(index, path, width, height, arrays, lost)
        finally:
            rest.close()

    def _load(self, path: Path) -> tuple[Path, int, int, tuple[np.ndarray, np.ndarray | None], tuple[bool, int | None]]:
        """Decode and convert one image (in a decoding thread), with what reading it at the first's kind loses."""
        frame = _read(path)[0]
        return path, frame.width, frame.height, self._arrays(frame), self._kinds.lost(frame, self.info.codec)

    def _arrays(self, frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray | None]:
        if self.info.codec == "mjpeg" and not self.info.alpha:  # a JPEG: its RGB as libjpeg makes it
            image = jfif_rgb(frame)
            if image is not None:
                return image, None
        return frame_arrays(frame, self.info.dtype, self.info.alpha)

    def _frame(
        self,
        index: int,
        path: Path,
        width: int,
        height: int,
        arrays: tuple[np.ndarray, np.ndarray | None],
        lost: tuple[bool, int | None],
    ) -> Frame:
        if (width, height) != (self.info.width, self.info.height):
            raise InputError(
                f"{path} is {width}x{height}, but the sequence started with "
                f"{self.paths[0].name} at {self.info.width}x{self.info.height}",
                hint="all images of a sequence must have the same size",
            )
        self._kinds.count(lost)
        self._read = index + 1
        image, alpha = arrays
        return Frame(image=image, pts=None, index=index, alpha=alpha)

    def close(self) -> None:
        self._first = None

    def __enter__(self) -> ImageSequenceSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read(path: Path) -> tuple[av.VideoFrame, str]:
    """The image's only frame and its codec name."""
    try:
        with open_input(path) as container:
            if not is_still_demuxer(container.format.name):  # an animated PNG, a video renamed .png, among images
                raise InputError(
                    f"{path} holds a clip ({container.format.name.split(',')[0]}), not one still image",
                    hint="a frame sequence holds one picture per file; restore the clip on its own",
                )
            frame = next(container.decode(video=0), None)
            codec = container.streams.video[0].codec_context.name
    except PermissionError:
        raise InputError(f"{path}: permission denied", hint="check the file's permissions") from None
    except (av.FFmpegError, IndexError):
        frame = None
    # FFmpeg refuses a float grey TIFF, and decodes a half-float one as 16-bit integers: only those two
    # cases read the file's header again, not every frame of a TIFF sequence
    halves = frame is not None and codec == "tiff" and bit_depth_of(frame.format) == 16
    float_samples = frame is None or (halves and not _FLOAT_FORMAT.search(frame.format.name))
    if float_samples and _float_tiff(path):
        raise InputError(
            f"{path} is a floating-point TIFF of a kind FFmpeg does not decode as such",
            hint="save it as a 16-bit integer TIFF or a PNG",
        )
    if frame is None:
        raise empty_file(path) or InputError(
            f"{path} is not an image FFmpeg can read", hint="the file is damaged or not an image"
        )
    if codec == "mjpeg" and cut_short(path):  # FFmpeg fills in the missing part and says nothing
        raise InputError(
            f"{path} is a JPEG cut short: its data stops before the image's end (no end marker)",
            hint="copy or download the file again",
        )
    return frame, codec


_TIFF_FORMS = {  # header -> (byte order, offset size, entry count size, entry size)
    b"II*\0": ("<", "I", "H", 12), b"MM\0*": (">", "I", "H", 12),
    b"II+\0": ("<", "Q", "Q", 20), b"MM\0+": (">", "Q", "Q", 20),  # BigTIFF
}  # fmt: skip


def _float_tiff(path: Path) -> bool:
    """Whether `path` is a TIFF (or BigTIFF) whose first image stores floating-point samples (SampleFormat 3:
    scientific and HDR scans). FFmpeg's TIFF decoder refuses such grey images as it would a damaged file,
    and reads 16-bit (half) floats as integers; it decodes 32-bit RGB ones (as rgbf32, gbrpf32)."""
    try:
        with open(path, "rb") as f:
            form = _TIFF_FORMS.get(f.read(4))
            if form is None:
                return False
            order, offset, counter, size = form
            if offset == "Q":
                f.read(4)  # BigTIFF: the offsets' size (8) and a zero
            f.seek(struct.unpack(order + offset, f.read(struct.calcsize(offset)))[0])
            (count,) = struct.unpack(order + counter, f.read(struct.calcsize(counter)))
            entries = f.read(size * min(count, 4096))
            for i in range(0, len(entries) - size + 1, size):
                tag, kind = struct.unpack(order + "HH", entries[i : i + 4])
                if tag != 339:  # SampleFormat: a SHORT per sample, in the entry where they fit, else at an offset
                    continue
                at = i + 4 + struct.calcsize(offset)
                (values,), field = struct.unpack(order + offset, entries[i + 4 : at]), entries[at : i + size]
                if values * 2 > len(field):
                    f.seek(struct.unpack(order + offset, field)[0])
                    field = f.read(2)
                return kind == 3 and struct.unpack(order + "H", field[:2])[0] == 3
    except (OSError, struct.error):
        return False
    return False
