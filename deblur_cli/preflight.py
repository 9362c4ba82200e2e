"""Each job of a run checked before any model loads: its input described as the options read it and checked
against them (its span, --fps, --deinterlace), then its output's path and kind, with the notes and warnings the
run will give. `outputs` says where each result goes; this reads the inputs."""

from __future__ import annotations

import errno
import os
import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from deblur_cli import files
from deblur_cli.asked_span import AskedSpan, span_in
from deblur_cli.errors import InputError, NoVideoError, UsageError
from deblur_cli.outputs import Job, check_output_path
from deblur_cli.span import Span
from deblur_cli.video_io import EncodeOptions, ReadOptions, VideoInfo, check_not_cut, check_sink, describe, shows_turned
from deblur_cli.video_io.sinks import is_frame_directory, planned_warnings
from deblur_cli.wording import some


@dataclass(frozen=True)
class Foreseen:
    """What the checks before a run found of one input, as they found it, one of: a note, the input left out,
    the input failed (one of several), or its output checked with the warnings it will give."""

    job: Job
    note: str | None = None  # what the run does that the user may not expect (deinterlacing)
    left_out: NoVideoError | None = None  # no video stream in a file a folder of videos held: not restored
    failed: InputError | None = None  # an input of several that cannot be read: the others are restored
    # the output's path and kind are checked: what it cannot hold, said before a long run rather than after it
    warnings: tuple[str, ...] | None = None
    span: Span | None = None  # with the warnings: the part of the input `span` as typed names, in seconds
    codec: str | None = None  # with the warnings: the video's codec (FFmpeg's name), None for images


def preflight(
    jobs: list[Job],
    read: ReadOptions,
    encode: EncodeOptions,
    *,
    force: bool,
    side_by_side: bool,
    span: AskedSpan = AskedSpan(),
) -> Iterator[Foreseen]:
    """Each job checked before any model loads, in order: `span` as typed turned into the source's own part
    (asked_span.span_in: a timecode is a label of its own), the source described as `read` says with that part,
    checked for a cut before its span ends and against its --fps and --deinterlace, then the target's path and
    kind. Yields for each job its Foreseen as found: a note, if any, before the target's checks, then the target
    checked, with its span; or the job left out, a file of a folder of videos without a video stream (one given
    on the command line raises NoVideoError); or one whose existing input cannot be read (damaged, cut short) or
    holds no part `span` names failed, so that each such input has its own --json entry, of one input as of
    several.
    Raises UsageError, InputError or OutputError at the first job that cannot run, and InputError after the
    last where every job was left out. Imports torch only for `side_by_side`."""
    jobs = list(jobs)  # as given: the caller may take the left out from its own list meanwhile
    left_out = 0
    for job in jobs:
        source, target = job.source, job.target
        try:
            part = span_in(source, span, read)
            info = describe(source, replace(read, span=part))
            check_not_cut(source, part)  # before warnings of what an output it will not write would lose
        except NoVideoError as e:
            if job.given:
                raise
            left_out += 1
            yield Foreseen(job, left_out=e)
            continue
        except InputError as e:  # a missing input is a mistyped name: that stops the batch
            if not os.path.exists(source):
                raise
            yield Foreseen(job, failed=e)
            continue
        if read.image_rate is not None and info.container is not None:
            raise UsageError(
                f"--fps sets the frame rate of image sequences; {source} is a video, which keeps its own",
                hint="leave out --fps for videos",
            )
        if read.deinterlace == "on" and info.container is None:
            raise UsageError(f"--deinterlace on applies to videos, not to images ({source})", hint="leave it out")
        if message := _deinterlace_note(source, info, read.deinterlace):
            yield Foreseen(job, note=message)
        check_output_path(source, target, force=force)
        if job.named and not target.parent.is_dir():  # a file -o names: its folder is not made for it
            raise files.output_error(target, FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT)))
        if side_by_side:
            from deblur_cli.side_by_side import composed_info  # imports torch

            info = composed_info(info, shows_turned(job.sink))
        check_sink(job.sink, info, encode)
        if info.container is not None and job.named and is_frame_directory(job.sink):
            video = shlex.quote(str(target) + os.sep)  # into the folder, as its name: as a batch's
            message = f"{target} gets PNG frames, not a video (for a video in it, -o {video})"
            yield Foreseen(job, note=message)
        warnings = tuple(planned_warnings(job.sink, info, encode, source=source))
        yield Foreseen(job, warnings=warnings, span=part, codec=info.codec if info.container is not None else None)
    if left_out == len(jobs):
        raise InputError("no video to restore: the folders given hold sound files only")


def left_out_note(source: Path, error: NoVideoError) -> str:
    """The note for a file found in a folder of videos that holds no video (a camera card's sound files),
    which `run` and `info` leave out."""
    return f"left out {source}, found in a folder of videos: it has no video stream ({error.what})"


def compressed_note(compressed: dict[Path, str]) -> str:
    """The note for --keep-detail on inputs in a delivery codec (`compressed`: each one's codec, lossless.py's
    name): their compression took the finest texture first, and what is left is partly the codec's own, which
    the model smooths to good effect. On rendered clips through H.264 at CRF 18 and 28 (render_content.py --crf),
    --keep-detail scored 0.06 and 0.09 dB below the whole restoration."""
    codecs = sorted(set(compressed.values()))
    named = " or ".join(codecs)
    inputs = some(list(compressed), 2) + (" are" if len(compressed) > 1 else " is")
    return (
        f"--keep-detail is made for image sequences and lossless masters: {inputs} {named}, whose compression took"
        " the finest texture first (on H.264 clips it scored 0.06 to 0.09 dB below the whole restoration)"
    )


def _deinterlace_note(source: Path, info: VideoInfo, mode: str) -> str | None:
    """What --deinterlace auto or double does to an input, when it does something the user may not expect."""
    if mode in ("auto", "double") and info.deinterlaced:
        order = f" ({info.field_order} field first)" if info.field_order in ("top", "bottom") else ""
        how = (
            f"each field becomes a whole frame ({float(info.fps):g} frames a second)"
            if mode == "double"
            else "its fields are joined into whole frames"
        )
        return f"{source} is interlaced{order}: {how} before restoring (--deinterlace off keeps the fields as they are)"
    if mode == "double" and info.container is not None:
        return f"{source} is not marked interlaced: --deinterlace double leaves it as it is (on deinterlaces any video)"
    if mode == "double":
        return f"{source}: images have no fields, so --deinterlace double leaves them as they are"
    return None
