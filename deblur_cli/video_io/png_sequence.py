"""Writing frames as a directory of PNG files, atomically: named after the images they come from, or
frame_000001.png, ... for a video's."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Callable

import av
import numpy as np

from deblur_cli import files
from deblur_cli.errors import OutputExistsError
from deblur_cli.frame_facts import is_grey_image
from deblur_cli.video_io import atomic
from deblur_cli.video_io.frame_sink import FrameSink
from deblur_cli.video_io.encoding import EncodeOptions, unused_options
from deblur_cli.video_io.grey import grey_format, grey_frame, grey_source, is_grey_format
from deblur_cli.video_io.hdr import dynamic_losses
from deblur_cli.video_io.info import HDR_TRANSFERS, Frame, VideoInfo, array_format, checked_parts, with_alpha
from deblur_cli.video_io.work_folder import OutputLock, ResumePoint, WorkFolder, write_record

FRAME_NAME = "frame_{:06d}.png"  # numbered from 1
_PNG_FORMATS = {(False, False): "rgb24", (True, False): "rgb48be", (False, True): "rgba", (True, True): "rgba64be"}


def display_picture(
    image: np.ndarray, rotation: int, pix_fmt: str, color: dict[str, int] | None = None, mirrored: bool = False
) -> av.VideoFrame:
    """An (H, W, 3) RGB or (H, W, 4) RGBA array in stored orientation as a frame of `pix_fmt` turned for
    display (then mirrored left to right if `mirrored`), for image formats, which have no rotation tag. JPEG's yuvj formats get full range; a grey
    format takes a grey array's first channel (grey.grey_frame). With an HDR transfer in `color` (the
    source's tags), the frame carries it and the primaries, which FFmpeg's PNG encoder writes as a cICP
    chunk: without it, viewers show PQ or HLG code values as sRGB."""
    turns = rotation // 90  # np.rot90 turns counter-clockwise, as the display matrix does
    upright = np.rot90(image, turns) if turns else image
    upright = np.ascontiguousarray(upright[:, ::-1] if mirrored else upright)
    if is_grey_format(pix_fmt) and (grey := grey_frame(upright, pix_fmt)) is not None:
        picture = grey
    else:
        picture = av.VideoFrame.from_ndarray(upright, format=array_format(image.dtype, alpha=image.shape[2] == 4))
        picture = picture.reformat(format=pix_fmt, dst_color_range=2 if pix_fmt.startswith("yuvj") else None)
    if color and color.get("transfer") in HDR_TRANSFERS:
        picture.color_trc = color["transfer"]
        picture.color_primaries = color.get("primaries", picture.color_primaries)
    return picture


def left_out(info: VideoInfo, options: EncodeOptions = EncodeOptions()) -> list[str]:
    """Warnings for what of a source like `info` a PNG sequence cannot hold, and the encoding `options`
    it does not use."""
    warnings = unused_options(options, None, "for PNG frames")
    if info.has_audio:
        warnings.append("a PNG sequence cannot hold audio; the source's audio was not written")
    if info.has_subtitles:
        warnings.append("a PNG sequence cannot hold subtitles; the source's subtitles were not written")
    return warnings + dynamic_losses(info.dolby_vision, info.hdr10_plus)


def grey_png(info: VideoInfo) -> str | None:
    """The PNG pixel format a grey source's grey frames are written in (an image sequence may mix grey and colour
    images); None for a source with colour or alpha."""
    return grey_format("png", info.bit_depth) if grey_source(info) else None


class PngSequenceSink(atomic.FinishOrAbort, FrameSink):
    """Frames written as PNG files into a directory that appears under its final name only when finished.

    8-bit input gives 8-bit PNGs, deeper input 16-bit PNGs, with the alpha channel of a source that has
    one; a grey source (without alpha) grey PNGs, but for its frames that have colour (an image sequence
    may mix grey and colour images). Frames of an image sequence keep their images' names (with .png: `_kept_names`), others are
    numbered (FRAME_NAME). Frames are turned to display orientation (a PNG has no rotation tag). Timestamps, audio and
    subtitles cannot be stored; `warnings` says so when the source had audio or subtitles. An existing
    empty directory is replaced; a non-empty one is refused. A second run writing the same output at the
    same time is refused (OutputError): the output's lock is held from here until `finish` or `abort`.

    With a `key`, the frames are written into the output's work folder (work_folder.py) and kept there
    when the run stops early, as segments.SegmentedVideoSink keeps its segments: `cut` marks the frames
    written so far as kept, and a later sink under the same key (`resume_point`) continues after them.
    """

    turns_frames = True  # written in display orientation (images have no rotation tag)

    def __init__(
        self,
        path: str | os.PathLike,
        info: VideoInfo,
        options: EncodeOptions = EncodeOptions(),
        *,
        key: dict | None = None,
        fresh: bool = False,
    ):
        self.path = Path(path)
        self.info = info
        if files.taken(self.path):
            raise OutputExistsError(
                f"{self.path} already exists and is not an empty directory",
                hint="choose a new directory name for the PNG frames, or empty it first",
            )
        self.warnings: list[str] = left_out(info, options)
        self._names = _kept_names(info.frame_names)
        self._deep = info.bit_depth > 8
        self._grey_format = grey_png(info)
        self._encoder = self._new_encoder(grey=self._grey_format is not None)
        self._frames = 0  # frames given to the encoder
        self._written = 0  # PNG files saved
        self._state = "open"  # then "finished" or "aborted"
        self._folder = None
        self.resume_point, self.discarded, self.kept_frames = None, 0, 0
        if key is None:
            self._held = OutputLock(self.path)
            try:
                self._temp = files.reserve_dir(self.path)
            except BaseException:
                self._held.release()
                raise
        else:
            self._resume(key, fresh)

    def _new_encoder(self, grey: bool):
        width, height = self.info.display_size
        encoder = av.CodecContext.create("png", "w")
        encoder.width, encoder.height = width, height
        encoder.pix_fmt = self._grey_format if grey else _PNG_FORMATS[self._deep, self.info.alpha]
        # zlib level 1: six times faster than the default for files about a fifth larger; frames in parallel
        encoder.options = {"compression_level": "1"}
        encoder.thread_type = "FRAME"
        return encoder

    def _resume(self, key: dict, fresh: bool) -> None:
        """Write into the work folder, after the frames an earlier run kept there under `key`."""
        self._folder = self._held = WorkFolder(self.path, key, fresh=fresh)
        self.work = self._folder.path
        self._temp = self.work / "frames"
        kept = None
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            stored = json.loads((self.work / _KEPT).read_text())
            kept = ResumePoint(int(stored["frames"]), stored["restart"], stored["restart_pts"])
        if not self._folder.matches or kept is None or not _whole(self._temp, kept.frames, self._name):
            self.discarded = kept.frames if kept is not None and not self._folder.matches else 0
            self._folder.refuse_to_discard(self.discarded)
            kept = None
        self.changes = self._folder.changes
        self._folder.keep({"frames", _KEPT} if kept else set())
        self._temp.mkdir(exist_ok=True)
        if kept:
            whole = {self._name(number) for number in range(1, kept.frames + 1)}
            for frame in self._temp.iterdir():  # those written after the last cut
                if frame.name not in whole:
                    frame.unlink()
            self.resume_point, self.kept_frames = kept, kept.frames
            self._frames = self._written = kept.frames

    def write(
        self,
        frame: Frame | np.ndarray,
        pts: int | None = None,
        alpha: np.ndarray | None = None,
        duration: int | None = None,
    ) -> None:
        """Write one frame: an (H, W, 3) RGB uint8 or uint16 array in stored orientation and its (H, W)
        alpha plane (None: opaque), or a Frame. `pts` and `duration` are accepted for symmetry with video
        outputs and not stored."""
        frame, _, alpha, _ = checked_parts(frame, pts, alpha, self.info)
        atomic.check_open(self._state, self.path)
        with atomic.cleanup_on_error(self.path, self.abort):
            image = with_alpha(frame, alpha) if self.info.alpha else frame
            grey = self._grey_format is not None and is_grey_image(image)
            if grey != is_grey_format(self._encoder.pix_fmt):  # an image sequence of grey and colour images
                self._save(self._encoder.encode(None))
                self._encoder = self._new_encoder(grey)
            picture = display_picture(
                image, self.info.rotation, self._encoder.pix_fmt, self.info.color, mirrored=self.info.mirrored
            )
            self._save(self._encoder.encode(picture))
            self._frames += 1

    def cut(self, restart: int, restart_pts: int | None) -> None:
        """Keep the frames written so far (with a key; see the class): they are saved and flushed to
        disk, and a later run continuing from here starts reading at frame `restart`."""
        atomic.check_open(self._state, self.path)
        if self._folder is None:
            return
        with atomic.cleanup_on_error(self.path, self.abort):
            self._save(self._encoder.encode(None))  # the encoder ends with its stream: a new one goes on
            self._encoder = self._new_encoder(is_grey_format(self._encoder.pix_fmt))
            for number in range(self.kept_frames + 1, self._written + 1):
                _fsync(self._temp / self._name(number))
            write_record(self.work / _KEPT, {"frames": self._written, "restart": restart, "restart_pts": restart_pts})
            self.kept_frames = self._written

    def _save(self, packets) -> None:
        for packet in packets:  # each packet is a complete PNG file, in frame order
            self._written += 1
            (self._temp / self._name(self._written)).write_bytes(bytes(packet))

    def _name(self, number: int) -> str:
        """The file of frame `number` (from 1): the source image's name, or frame_NNNNNN.png."""
        if self._names is not None and number <= len(self._names):
            return self._names[number - 1]
        return FRAME_NAME.format(number)

    def _complete(self) -> None:
        """Save the frames the encoder still holds."""
        self._save(self._encoder.encode(None))

    def finish(self) -> None:
        """Save the last frames and rename the directory into place, then unlock (and remove the work folder):
        also where a stop came as it was renamed, once it is in place."""
        try:
            super().finish()
        finally:
            if self.finished:
                self._held.release(keep=False)

    def abort(self) -> None:
        """Delete the temporary directory and unlock; the final name is never touched. With a key, the
        frames kept by `cut` stay in the work folder. Does nothing once finished or aborted."""
        if self._state == "open":
            self._state = "aborted"
            if self._folder is None:
                files.discard(self._temp)
            self._held.release(keep=bool(self.kept_frames))


_KEPT = "kept.json"


def _kept_names(stems: tuple[str, ...] | None) -> list[str] | None:
    """The PNG names of frames from images of these names (plate.1001.jpg gives plate.1001.png: numbering
    that an edit or a VFX pipeline relies on stays), or None where two would be one file (a.jpg beside
    a.png, or names that differ in case only) or there are none: the frames are then numbered."""
    if not stems:
        return None
    names = [f"{stem}.png" for stem in stems]
    return names if len({name.lower() for name in names}) == len(names) else None


def _whole(folder: Path, frames: int, name: Callable[[int], str]) -> bool:
    """Whether `folder` holds the files of frames 1 to `frames`, `name(number)` naming each."""
    return folder.is_dir() and all((folder / name(n)).is_file() for n in range(1, frames + 1))


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
