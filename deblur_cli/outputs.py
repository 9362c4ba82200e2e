"""Where each input's result goes, and whether it may be written there: checked before any model loads."""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

from deblur_cli.asked_span import AskedSpan, Label
from deblur_cli.errors import OutputError, OutputExistsError, UsageError
from deblur_cli import files
from deblur_cli.video_io.images import (
    IMAGE_SUFFIXES,
    READ_ONLY_IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    holds_clip,
    is_glob_input,
    is_image,
    is_image_sequence,
    list_images,
    natural_key,
    reads_as_image,
)
from deblur_cli.video_io.writer import has_muxer

DEFAULT_TAG = "-deblurred"  # added to an input's name for its whole result when there is no -o (output_tag)
COMPARE_TAG = "-compare"  # and for a side-by-side comparison
# a time in a tag (output_tag): seconds (90s, 1.5s), or a timecode with dots for its colons (10.00.05.12)
_TAG_TIME = r"(?:[0-9.e+]+s|\d\d\.\d\d\.\d\d\.\d\d\d?)"
# any tag output_tag gives, at the end of a name: what a result named without -o may end in
_ANY_TAG = re.compile(
    rf"(?:{DEFAULT_TAG}|{COMPARE_TAG})(?:-{_TAG_TIME}-{_TAG_TIME}|-from-{_TAG_TIME}|-{_TAG_TIME}-for-{_TAG_TIME})?$"
)
_WRITTEN_AS_IS = {".mp4", ".mov", ".mkv", ".webm", ".avi"}  # video suffixes a default output keeps


def output_tag(span: AskedSpan = AskedSpan(), side_by_side: bool = False) -> str:
    """What a result's name without -o adds to its input's: DEFAULT_TAG, or "-compare" for a side-by-side, and
    the part restored where it is not the whole (clip-deblurred-90s-95s.mp4), so that a preview does not take
    the name of the whole result, which a later run of the whole would then find taken. The part is named as
    typed, so that every input of a batch is named alike: a timecode as 10.00.05.12 (file names take no colon),
    a length given as one after the start's -for- (clip-deblurred-10.00.05.12-for-00.00.02.00.mp4)."""
    tag = COMPARE_TAG if side_by_side else DEFAULT_TAG
    start = _tag_time(span.start or 0.0)
    if span.end is not None:
        return f"{tag}-{start}-{_tag_time(span.end)}"
    if isinstance(span.duration, float) and not span.labelled:
        return f"{tag}-{start}-{_tag_time((span.start or 0.0) + span.duration)}"
    if span.duration is not None:
        return f"{tag}-{start}-for-{_tag_time(span.duration)}"
    return f"{tag}-from-{start}" if span.start else tag


def _tag_time(time: float | Label) -> str:
    """A time in output_tag's names: 90s, or a timecode 10.00.05.12."""
    return f"{time:g}s" if isinstance(time, float) else f"{time}".replace(":", ".").replace(";", ".")


def default_output(path: Path, tag: str = DEFAULT_TAG) -> Path:
    """Where a result goes without -o: beside its input, named as it with `tag` added (clip.mp4 ->
    clip-deblurred.mp4, frames/ -> frames-deblurred/; output_tag). A video in a container deblur
    does not write (.mts, .ts, .wmv, ...) gets .mp4, an image it does not write (.ppm, .jp2, ...) .png.
    UsageError for a glob, which names no one place; InputError for one that matches no image."""
    if path.is_dir():
        if path.name in ("", ".."):  # `.` or `..`: the folder by its own name
            path = Path(os.path.abspath(path))
        return path.with_name(path.name + tag)
    if is_glob_input(path):
        list_images(path)  # InputError when the pattern matches no file, or no image: that, not -o, is what to fix
        raise UsageError(
            f"a glob ({path}) needs -o to say where its frames go", hint="e.g. -o restored/ or -o out.mp4"
        )
    suffix = _as_read(path).suffix
    return _written_as(path.with_name(path.stem + tag + suffix))


def _as_read(path: Path) -> Path:
    """`path`, or with .mp4 where it is named as an image but holds a clip (an animated PNG): such a file is
    read as the video it is, as an animated GIF is, and its result is a video."""
    return path.with_suffix(".mp4") if holds_clip(path) else path


def _written_as(path: Path) -> Path:
    """`path` for a restored video or image: with .mp4 for a video suffix deblur reads but does not write by
    default, or one no container is written under (a camera's own, .lrv), .png for an image it reads but does
    not write (.ppm, .jp2, ...)."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return path if suffix in _WRITTEN_AS_IS else path.with_suffix(".mp4")
    if suffix and not is_image(path) and not has_muxer(suffix):
        return path.with_suffix(".mp4")
    if suffix in READ_ONLY_IMAGE_SUFFIXES:
        return path.with_suffix(".png")
    return path


def expand_video_globs(inputs: list[Path]) -> list[Path]:
    """The inputs with each quoted glob that matches videos and no images replaced by those videos, in
    natural order, as the shell would have expanded it (scripts quote globs against "argument list too
    long"); a glob of images stays one input, a frame sequence."""
    expanded: list[Path] = []
    for path in inputs:
        if not is_glob_input(path):
            expanded.append(path)
            continue
        files = [Path(p) for p in glob.glob(str(path)) if os.path.isfile(p) and not Path(p).name.startswith(".")]
        videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
        if videos and not any(is_image(p) for p in files):
            expanded += sorted(videos, key=natural_key)
        else:
            expanded.append(path)
    return expanded


def earlier_outputs(inputs: list[Path]) -> dict[Path, Path]:
    """The inputs that are another input's output without -o (`default_output`, with any tag output_tag
    gives), each with that input: `deblur run *.mp4` run again, to finish a batch (--skip-existing) or
    not, or with --side-by-side or --start, finds the first run's clip-deblurred.mp4 (clip-compare.mp4,
    clip-deblurred-90s-95s.mp4) beside clip.mp4, and would restore the restored clip again."""
    tags = {found.group(0) for path in inputs if (found := _ANY_TAG.search(path.stem) or _ANY_TAG.search(path.name))}
    outputs: dict[Path, Path] = {}
    for path in inputs:
        for tag in tags:
            try:
                outputs[_resolved(default_output(path, tag))] = path
            except UsageError:  # a glob names no one output
                break
    return {path: outputs[key] for path in inputs if (key := _resolved(path)) in outputs and outputs[key] != path}


@dataclass(frozen=True)
class Job:
    """One input of a run and where its result goes, as `plan_outputs` made it."""

    source: Path
    target: Path
    sink: Path | str  # `target` as the sinks take it: "NAME/" for a folder of frames with a dot in its name (_sink)
    named: bool = False  # the file or folder -o named: one input's output, not a place in -o's folder
    given: bool = True  # named on the command line, not found in a folder of videos


def _clash_hint(first: Path, second: Path) -> str:
    """The hint for two inputs whose results would take one name: two cards' C0001.MP4 restored into one folder
    keep theirs apart when their common folder is the input, each below -o as it is below that folder."""
    hint = "give each input once; for inputs of one name from different folders, leave out -o (each output goes "
    hint += "beside its input) or run them apart"
    try:  # as typed where both are relative, so that the hint names the folder as the user does
        common = os.path.commonpath([first, second])
    except ValueError:  # one absolute, one not
        common = os.path.commonpath([os.path.abspath(first), os.path.abspath(second)])
    if first == second or not common or Path(common).parent == Path(common):  # nothing in common but the root
        return hint
    return f"{hint}; or restore their common folder {common} (every video in it): each result keeps its place below -o"


def plan_outputs(
    inputs: list[Path], output: Path | None, *, named_folder: bool = False, tag: str = DEFAULT_TAG
) -> list[Job]:
    """Each input's Job: the input paired with its output path.

    One input: `output` is the output (a path without a video suffix means a PNG sequence folder), but for
    one video into a folder named with a trailing slash (`named_folder`), as for several.
    Several inputs, or a folder of videos: `output` is a folder; each result keeps its input's file name
    (with .mp4 for a container deblur does not write by default, as `default_output` gives; with `tag` for a
    part or a side-by-side), and a folder's videos their place below it (its subfolders are searched too, as
    a camera card's).
    A folder that holds images and no videos is one input (an image sequence). Without `output`, each
    result goes beside its input (`default_output`, with `tag`); a folder of videos goes into a folder beside it.
    A new folder for several results may not be named as a video or an image (`-o out.mp4` is a mistake
    for one output), unless `named_folder` (the name was typed with a trailing slash).
    """
    if output is None:
        planned = []
        for path in inputs:
            videos = _videos_in(path)
            folder = default_output(path, tag)
            planned += [(video, folder / _written_as(video.relative_to(path))) for video in videos] or [(path, folder)]
    else:
        planned = _into(inputs, output, named_folder, tag)
    seen: dict[Path, Path] = {}
    for source, target in planned:  # a camera card can hold thousands of clips: one pass, not one per pair
        if target in seen:
            raise UsageError(f"two inputs would both be written to {target}", hint=_clash_hint(seen[target], source))
        seen[target] = source
    given = set(inputs)
    return [_job(source, target, output, named_folder, given=source in given) for source, target in planned]


def _job(source: Path, target: Path, output: Path | None, named_folder: bool, *, given: bool) -> Job:
    """The Job of `source` written to `target` under -o `output`."""
    named = target == output
    return Job(source, target, _sink(source, target, named, named_folder), named=named, given=given)


def _into(inputs: list[Path], output: Path, named_folder: bool, tag: str = DEFAULT_TAG) -> list[tuple[Path, Path]]:
    """The outputs under -o: the output itself for one input, else a file of the input's name in it, with `tag`
    where it is not DEFAULT_TAG (a part's times, a side-by-side: clip-deblurred-90s-95s.mp4), so that a later
    run of the whole finds the whole result's name free. One video into a folder named with a trailing slash
    (`named_folder`: -o DIR/) goes into it as one of several would; one image sequence into a folder is its PNG
    frames, and so is one video into a folder named without the slash (a new name, or an empty folder)."""
    expanded: list[tuple[Path, Path]] = []  # each input, and where below the output folder it goes
    batch = len(inputs) > 1
    for path in inputs:
        videos = _videos_in(path)
        if videos:
            expanded += [(video, _tagged(_written_as(video.relative_to(path)), tag)) for video in videos]
            batch = True
        elif is_image_sequence(path):  # frames, by the folder's name (a glob's: "shots/*.png")
            name = Path(os.path.abspath(path.parent)).name if is_glob_input(path) else path.name
            expanded.append((path, Path(name if tag == DEFAULT_TAG else name + tag)))  # shots.v2-compare
        else:
            expanded.append((path, _tagged(_written_as(Path(_as_read(path).name)), tag)))
    if not batch and not (named_folder and _is_video_file(inputs[0])):
        return [(expanded[0][0], output)]
    if output.exists() and not output.is_dir():
        if not batch:  # -o clip.mp4/ for one video
            raise UsageError(f"-o {output}/ names a folder, but {output} is a file", hint="give a folder's name")
        raise UsageError(f"-o {output} must be a folder when there are several inputs")
    if not output.exists() and not named_folder and output.suffix.lower() in VIDEO_SUFFIXES | set(IMAGE_SUFFIXES):
        kind = "a video" if output.suffix.lower() in VIDEO_SUFFIXES else "an image"
        why = f"there are {len(inputs)} inputs" if len(inputs) > 1 else f"{inputs[0]} is a folder of videos"
        raise UsageError(
            f"-o {output} names {kind} file, but {why}",
            hint=f"give a folder for their outputs (-o {shlex.quote(str(output.with_suffix('')) + '/')}), or restore "
            "each input apart",
        )
    return [(source, output / place) for source, place in expanded]


def _tagged(place: Path, tag: str) -> Path:
    """`place` in a folder of results, named for a part or a side-by-side (`tag`) where that is what it holds."""
    return place if tag == DEFAULT_TAG else place.with_name(place.stem + tag + place.suffix)


def _is_video_file(path: Path) -> bool:
    """A file that is not an image: a video by any suffix (.nut, a camera's own), or a file that fails later."""
    return path.is_file() and not reads_as_image(path)


def _videos_in(path: Path) -> list[Path]:
    """The videos in a folder and its subfolders, sorted; none for anything else. A folder of frames
    (images at its top, and no videos) is searched at its top only, as before subfolders were. Hidden files and
    folders are left out (macOS's `._` companions on memory cards carry video suffixes)."""
    return sorted(p for p in _searched(path) if p.suffix.lower() in VIDEO_SUFFIXES)


def photos_beside_videos(path: Path) -> list[Path]:
    """The images among a folder's videos (a phone's or camera's DCIM folder), found where _videos_in
    looks, which a run of the folder leaves out: it restores the videos."""
    found = _searched(path)
    if not any(p.suffix.lower() in VIDEO_SUFFIXES for p in found):
        return []
    return sorted((p for p in found if is_image(p)), key=natural_key)


def _searched(path: Path) -> list[Path]:
    """The files _videos_in looks through: a folder's top where images are and no videos (a folder of
    frames), else the folder and its subfolders (a card's photos beside its videos do not hide the videos
    in its subfolders); hidden ones (a name starting with a dot, or in such a folder) left out. None for
    anything but a folder."""
    if not path.is_dir():
        return []
    top = [p for p in path.iterdir() if not p.name.startswith(".")]
    frames = any(is_image(p) for p in top) and not any(p.suffix.lower() in VIDEO_SUFFIXES for p in top)
    found = top if frames else path.rglob("*")
    return [p for p in found if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)]


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file: the same path, or links to the same file."""
    a, b = Path(a), Path(b)
    return _resolved(a) == _resolved(b) or (a.exists() and b.exists() and os.path.samefile(a, b))


def _resolved(path: Path) -> Path:
    """`path` with its links followed, or only made absolute where they go round in a loop (which
    Path.resolve raises: RuntimeError before Python 3.13, OSError since)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return Path(os.path.abspath(path))


def check_not_the_input(source: str | os.PathLike, output: str | os.PathLike) -> None:
    """UsageError when `output` is `source` itself (the same path, or a link to the same file)."""
    if same_file(source, output):
        raise UsageError(
            f"output is the input: {output}", hint="choose another output path; the input is never modified"
        )


def is_frame_of(output: str | os.PathLike, source: str | os.PathLike) -> bool:
    """Whether `output` is a frame of the image sequence `source` reads (a folder, or a glob: is_image_sequence),
    or would be one once written (an image in that folder, or one the glob names). Compared by file identity, so a
    link to a frame counts. False for a `source` that is a file (one named like a glob, shot[1].png, too)."""
    output, source = Path(output), Path(source)
    if not is_image_sequence(source):
        return False
    if source.is_dir():
        if is_image(output) and output.resolve().parent == source.resolve():
            return True
        frames = [p for p in source.iterdir() if is_image(p) and p.is_file()]
    else:
        if is_image(output) and _glob_names(str(source), output):  # a new image the pattern would read as a frame
            return True
        frames = [Path(p) for p in glob.glob(str(source)) if os.path.isfile(p)]
    if not output.exists():
        return False
    held = output.stat()
    for frame in frames:
        try:
            if os.path.samestat(frame.stat(), held):
                return True
        except OSError:
            continue
    return False


def _glob_names(pattern: str, path: Path) -> bool:
    """Whether glob `pattern` names `path`, both made absolute, by glob's rules: a * does not cross a /,
    nor match a name's leading dot."""
    parts, wanted = Path(os.path.abspath(path)).parts, Path(os.path.abspath(pattern)).parts
    return len(parts) == len(wanted) and all(
        fnmatch.fnmatch(p, w) and (not p.startswith(".") or w.startswith(".")) for p, w in zip(parts, wanted)
    )


def check_not_a_device(output: str | os.PathLike) -> None:
    """UsageError when `output` is a device, a pipe or a socket (/dev/null, a FIFO), as `-` is refused: an
    output is written whole under a temporary name and renamed into place, which would replace the
    device's name, not write into it."""
    try:
        mode = os.stat(output).st_mode
    except (OSError, ValueError):  # nothing there yet (or a name the system refuses, said later)
        return
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    what = "a pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    raise UsageError(
        f"{os.fspath(output)} is {what}: outputs are files or folders, not devices or pipes",
        hint="give a file name: the output is written whole under a temporary name, then renamed",
    )


def check_output_path(source: str | os.PathLike, output: str | os.PathLike, *, force: bool) -> None:
    """Refuse a device or pipe, output == input and an existing output unless `force`; fail early on an
    unwritable directory."""
    check_not_a_device(output)
    check_not_the_input(source, output)
    check_free(output, force=force)
    parent = nearest_folder(output)
    if not parent.is_dir():  # -o notes.txt/out.mp4
        raise OutputError(f"cannot write {output}: {parent} is a file, not a folder", hint="check the output path")
    if not writable(parent):
        raise OutputError(f"cannot write to {parent}", hint="write somewhere else with -o (a folder you can write to)")


def nearest_folder(output: str | os.PathLike) -> Path:
    """What holds `output` on disk now: its folder, or the nearest one above it that exists (a run makes the
    rest), or the folder it names (a folder of frames there already). Possibly a file: -o notes.txt/out.mp4."""
    out = Path(output)
    parent = out.parent if out.suffix or not out.is_dir() else out
    while not parent.exists():
        parent = parent.parent
    return parent


def writable(folder: Path) -> bool:
    """Whether files can be made in `folder`."""
    return os.access(folder, os.W_OK | os.X_OK)


def check_free(output: str | os.PathLike, *, force: bool) -> None:
    """OutputError when something is at `output` that this run may not replace: anything without `force`,
    a folder that is not empty even with it. A run checks again once it holds the output's lock, since
    another run may have finished the same output in between."""
    out = Path(output)
    if files.taken(out) and out.is_dir():  # frames go into a new or empty folder: --force empties none
        raise OutputExistsError(
            f"output exists: {out} is a folder that is not empty",
            hint=f"choose a new or empty folder for the PNG frames (--force does not empty folders), or, to put "
            f"a video in {out}, end its name with a slash: -o {shlex.quote(str(out) + os.sep)}",
        )
    if files.taken(out) and not force:
        raise OutputExistsError(f"output exists: {out}", hint="pass --force to replace it (or --skip-existing to keep it)")


def _sink(source: Path, target: Path, named: bool, named_folder: bool) -> Path | str:
    """`target` as the sinks take it: "NAME/" (a folder of frames even with a dot in its name) where it is the
    folder -o named (`named`) with a trailing slash, or a folder of frames restored under a name deblur made
    (beside it, or in -o's folder: its name may hold a part's times, shots-deblurred-from-0.04s); else `target`
    itself (-o NAME for a folder of frames may name a video)."""
    folder = (named_folder and named) or (is_image_sequence(source) and not named)
    return f"{target}{os.sep}" if folder else target
