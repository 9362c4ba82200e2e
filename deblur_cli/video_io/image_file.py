"""Writing one frame as an image file (.png, .jpg, .tif, .bmp, .webp, .tga, .dpx), atomically: a restored photo."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from shlex import quote

import av
import numpy as np

from deblur_cli import files
from deblur_cli.errors import OutputError
from deblur_cli.frame_facts import is_grey_image
from deblur_cli.video_io import atomic
from deblur_cli.video_io.frame_sink import FrameSink
from deblur_cli.video_io.encoding import EncodeOptions, unused_options
from deblur_cli.video_io.grey import grey_format, is_grey_format
from deblur_cli.video_io.hdr import dynamic_losses
from deblur_cli.video_io.info import (
    HDR_TRANSFERS,
    Frame,
    VideoInfo,
    alpha_left_out,
    bit_depth_of,
    checked_parts,
    with_alpha,
)
from deblur_cli.video_io.photo_metadata import read_metadata, with_metadata
from deblur_cli.video_io.png_sequence import display_picture
from deblur_cli.video_io.work_folder import OutputLock

# suffix -> (encoder, pixel format for 8-bit frames, for deeper frames or None if the format is 8-bit only)
IMAGE_FORMATS = {
    ".png": ("png", "rgb24", "rgb48be"),
    ".tif": ("tiff", "rgb24", "rgb48le"),
    ".tiff": ("tiff", "rgb24", "rgb48le"),
    ".jpg": ("mjpeg", "yuvj444p", None),
    ".jpeg": ("mjpeg", "yuvj444p", None),
    ".bmp": ("bmp", "bgr24", None),
    ".webp": ("libwebp", "bgra", None),  # libwebp converts to its YUV itself, and leaves out an opaque alpha
    ".tga": ("targa", "bgr24", None),
    ".dpx": ("dpx", "rgb24", "rgb48be"),  # 10- and 12-bit scans come back as 16-bit DPX, which holds them whole
}
# the same with an alpha channel, for the formats that hold one
ALPHA_IMAGE_FORMATS = {
    ".png": ("rgba", "rgba64be"), ".tif": ("rgba", "rgba64le"), ".tiff": ("rgba", "rgba64le"), ".webp": ("bgra", None),
    ".tga": ("bgra", None), ".dpx": ("rgba", "rgba64be"),
}  # fmt: skip
JPEG_QUANTISER = 2  # FFmpeg's -q:v 2: about 40 dB PSNR on a natural photo, roughly JPEG quality 95
WEBP_QUALITY = 95  # libwebp's lossy quality, as JPEG_QUANTISER's


def _hint(path: Path, codec: str | None = None) -> str:
    """Where several frames can go instead of the image `path`: a new folder of PNG frames (a name without a suffix;
    an existing folder or a trailing slash puts a video in it), or a video; for the video codec `codec` asked,
    a video that holds it (.mkv) alone."""
    stem = path.with_suffix("")
    if codec is not None:
        return f"for {codec} video, -o {quote(f'{stem}.mkv')}"
    folder = quote(str(stem.with_name(stem.name.replace(".", "-"))))  # shot.v2 would be a video of format .v2
    return f"for PNG frames, name a folder without a suffix (-o {folder}); for a video, -o {quote(f'{stem}.mp4')}"


def is_image_output(path: str | os.PathLike) -> bool:
    """Whether an output path names an image file (by its suffix)."""
    return Path(path).suffix.lower() in IMAGE_FORMATS


def check_image_output(path: str | os.PathLike, info: VideoInfo, options: EncodeOptions = EncodeOptions()) -> None:
    """Raise OutputError when the image file `path` cannot hold the output of a source like `info`
    with `options`: video encoding options, or a frame count known to be over one."""
    path = Path(path)
    codec = IMAGE_FORMATS[path.suffix.lower()][0]
    if codec not in av.codecs_available:  # an FFmpeg built without libwebp
        raise OutputError(
            f"cannot write {path}: the FFmpeg inside PyAV has no {codec} encoder for {path.suffix} images",
            hint="write the image as .png, .jpg or .tif instead",
        )
    if options.codec not in (None, codec):
        raise OutputError(f"{path} is a {codec} image, not {options.codec} video", hint=_hint(path, options.codec))
    if info.frame_count is not None and info.frame_count > 1:
        raise OutputError(f"{path} is one image, and the input has {info.frame_count} frames", hint=_hint(path))


def left_out(path: Path, info: VideoInfo, options: EncodeOptions = EncodeOptions()) -> list[str]:
    """Warnings for what of a source like `info` the image file `path` cannot hold, and the encoding
    `options` it does not use."""
    suffix = path.suffix.lower()
    warnings = unused_options(options, None, f"for a {path.suffix} image")
    if info.has_audio:
        warnings.append("an image cannot hold audio; the source's audio was not written")
    if info.alpha and suffix not in ALPHA_IMAGE_FORMATS:
        warnings.append(alpha_left_out(path.suffix))
    if info.bit_depth > 8 and IMAGE_FORMATS[suffix][2] is None:
        warnings.append(f"{path.suffix} holds 8 bits per channel; the {info.bit_depth}-bit frame was rounded")
    if info.color.get("transfer") in HDR_TRANSFERS and suffix != ".png":
        warnings.append(
            f"{path.suffix} cannot say that the frame is HDR: its PQ or HLG code values are written as they are,"
            " and viewers show them as sRGB (.png keeps the tag)"
        )
    return warnings + dynamic_losses(info.dolby_vision, info.hdr10_plus)


@dataclass(frozen=True)
class ImageEncoding:
    """How the image file of a source's frame is encoded."""

    codec: str  # FFmpeg encoder name
    pix_fmt: str  # pixel format of a colour frame
    alpha: bool  # the source's alpha channel kept
    grey: str | None  # pixel format of a grey frame, where the format holds grey of its depth


def image_encoding(path: str | os.PathLike, info: VideoInfo) -> ImageEncoding:
    """The encoding of the image file `path` for a source like `info`: its depth where the format holds it, its
    alpha channel where the format holds one, and a grey source's frame as grey where the format holds grey of its
    depth (PNG, TIFF; BMP at 8 bits)."""
    suffix = Path(path).suffix.lower()
    codec, shallow, deep = IMAGE_FORMATS[suffix]
    alpha = info.alpha and suffix in ALPHA_IMAGE_FORMATS
    if alpha:
        shallow, deep = ALPHA_IMAGE_FORMATS[suffix]
    pix_fmt = deep if info.bit_depth > 8 and deep else shallow
    grey = grey_format(codec, info.bit_depth) if is_grey_format(info.pix_fmt) and not alpha else None
    return ImageEncoding(codec, pix_fmt, alpha, grey)


class ImageFileSink(atomic.FinishOrAbort, FrameSink):
    """The one frame of a one-frame source (a photo) as an image file, in display orientation.

    PNG and TIFF keep 16-bit depth and the alpha channel, WebP the alpha channel in 8 bits; JPEG and BMP
    are 8-bit and opaque (deeper frames are rounded to 8 bits, and transparency left out, with a warning).
    A source of more than one
    frame is refused before anything is written when its frame count is known, and at its second frame
    otherwise. Encoding options other than the image's own format are refused: an image has no CRF,
    preset or audio. A JPEG or PNG keeps the EXIF and colour profile of a JPEG or PNG `source`
    (photo_metadata.py). A second run writing the same output at the same time is refused (OutputError),
    as for the other outputs: the lock is held from here until `finish` or `abort`.
    """

    turns_frames = True  # written in display orientation (images have no rotation tag)

    def __init__(
        self,
        path: str | os.PathLike,
        info: VideoInfo,
        options: EncodeOptions = EncodeOptions(),
        *,
        source: str | os.PathLike | None = None,
    ):
        self.path = Path(path)
        self.info = info
        self._metadata = read_metadata(source) if source is not None else None  # EXIF, colour profile
        check_image_output(self.path, info, options)
        self.warnings: list[str] = left_out(self.path, info, options)
        encoding = image_encoding(self.path, info)
        codec, self._alpha, self._grey_format = encoding.codec, encoding.alpha, encoding.grey
        width, height = info.display_size
        self._encoder = av.CodecContext.create(codec, "w")
        self._encoder.width, self._encoder.height, self._encoder.pix_fmt = width, height, encoding.pix_fmt
        self._encoder.time_base = Fraction(1, 25)
        if codec == "mjpeg":
            self._encoder.options = {"qmin": str(JPEG_QUANTISER), "qmax": str(JPEG_QUANTISER)}
        elif codec == "libwebp":
            self._encoder.options = {"quality": str(WEBP_QUALITY)}
        self._data = b""
        self._frames = 0
        self._state = "open"
        self._lock = OutputLock(self.path)
        try:
            self._temp = files.reserve_file(self.path, self._lock.path)  # what a killed run left, the next removes
        except BaseException:
            self._lock.release()
            raise

    def finish(self) -> None:
        """Write the image and rename it into place, then unlock."""
        try:
            super().finish()
        finally:
            self._lock.release()

    def write(
        self,
        frame: Frame | np.ndarray,
        pts: int | None = None,
        alpha: np.ndarray | None = None,
        duration: int | None = None,
    ) -> None:
        """Encode the frame: an (H, W, 3) RGB uint8 or uint16 array in stored orientation and its (H, W)
        alpha plane (None: opaque), or a Frame."""
        frame, _, alpha, _ = checked_parts(frame, pts, alpha, self.info)
        image = with_alpha(frame, alpha) if self._alpha else frame
        atomic.check_open(self._state, self.path)
        with atomic.cleanup_on_error(self.path, self.abort):
            if self._frames:
                raise OutputError(
                    f"{self.path} is one image, and the input has more than one frame", hint=_hint(self.path)
                )
            if image.dtype == np.uint16 and bit_depth_of(av.VideoFormat(self._encoder.pix_fmt)) <= 8:
                # rounded once, here: swscale's 16-bit path moved a grey frame's chroma a code in JPEG,
                # and its channels apart in BMP (up to 267 of 65535)
                image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
            if self._grey_format is not None and is_grey_image(image):
                self._encoder.pix_fmt = self._grey_format  # the encoder opens at its first frame
            picture = display_picture(
                image, self.info.rotation, self._encoder.pix_fmt, self.info.color, mirrored=self.info.mirrored
            )
            packets = self._encoder.encode(picture) + self._encoder.encode(None)
            self._data = b"".join(bytes(p) for p in packets)
            self._frames = 1

    def _complete(self) -> None:
        data = self._data if self._metadata is None else with_metadata(self._data, self.path.suffix, self._metadata)
        self._temp.write_bytes(data)

    def abort(self) -> None:
        """Delete the temporary file; the final name is never touched. Does nothing once finished or aborted."""
        if self._state == "open":
            self._state = "aborted"
            files.discard(self._temp)
        self._lock.release()
