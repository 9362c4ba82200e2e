"""The hidden folder beside an output where a run keeps what an interrupted run leaves for the next one
(segments.py for video files, png_sequence.py for PNG frames): one run at a time, and reused only under
the same key."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping

from deblur_cli.errors import OutputBusyError, OutputError
from deblur_cli import files
from deblur_cli.wording import some

try:
    import fcntl
except ImportError:  # Windows: runs are not locked against each other
    fcntl = None

WORK_FORMAT = 1  # of the work folder's files; a folder of another format is started afresh
_MANIFEST = "run.json"
_LOCK = "lock"
_TRIES = 100  # at taking a lock whose file the runs holding it keep removing as they end


def work_folder(path: str | os.PathLike) -> Path:
    """Where the work towards the output `path` is kept: a hidden folder beside it. A name too long for
    the file system once the folder's prefix and suffix are added is cut, and a digest of the whole name
    keeps two such names apart."""
    path = Path(path)
    name = path.name
    if len(os.fsencode(f".{name}.deblur-work")) > files.NAME_MAX:
        digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:8]
        name = f"{files.cut_to_bytes(name, files.NAME_MAX - 22)}-{digest}"
    return path.with_name(f".{name}.deblur-work")


@dataclass(frozen=True)
class ResumePoint:
    """Where a run continues the work an earlier run kept."""

    frames: int  # frames kept: the index of the next frame to write
    restart: int | None  # the frame to start reading at (frames from there to `frames` are read again, not
    # written); None when every frame is kept and only the output remains to be made
    restart_pts: int | None  # that frame's timestamp (the source's, on the output's clock); None without timestamps


class OutputLock:
    """The lock a run holds on `output` while it writes it: the output's work folder, created, with its
    lock file held (OutputError if another run holds it). Every sink holds it, with or without a resume
    key: one that keeps no work (an image file, written in one go; a video file or PNG frames from a
    restorer without an `identity`) holds only this; WorkFolder holds it under its work."""

    def __init__(self, output: Path):
        self.output = output
        self.path = work_folder(output)
        self._fd: int | None = _lock(self.path, output)

    def release(self, *, keep: bool = False) -> None:
        """Unlock; the folder stays only with `keep`. Does nothing the second time."""
        if self._fd is None:
            return
        if not keep:
            _remove_held(self.path)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None


class WorkFolder:
    """The work folder of `output`, created and locked for this run (OutputError if another run holds it).

    `matches` tells whether its content was made under `key` (and `fresh` did not ask to start over); the
    owner reads what it can reuse, then calls `keep(names)` to remove everything else and record `key`.
    `release(keep=...)` unlocks it at the end, removing it unless asked to keep it.
    """

    def __init__(self, output: Path, key: dict, *, fresh: bool = False):
        self.output = output
        self._lock = OutputLock(output)
        self.path = self._lock.path
        self._key = normalized(key)
        stored = None
        with contextlib.suppress(OSError, ValueError):
            stored = json.loads((self.path / _MANIFEST).read_text())
        # the settings the kept work was made with, where it is of this format
        old = stored.get("key") if isinstance(stored, dict) and stored.get("format") == WORK_FORMAT else None
        old = as_written_now(old) if isinstance(old, dict) else None
        self.matches = not fresh and old is not None and comparable(old) == comparable(self._key)
        # what differs from them, for the note that it is not reused
        self.changes = key_changes(comparable(old), comparable(self._key)) if old is not None and not fresh else []
        # work of this input under other options is not discarded unasked (refuse_to_discard)
        self._asked_otherwise = isinstance(old, dict) and not fresh and _asked_otherwise(old, self._key)

    def refuse_to_discard(self, frames: int) -> None:
        """OutputError, the folder kept, where `frames` restored frames of this same input would be
        discarded for options that differ: one mistyped on the way back would cost hours of work. The
        command as it was continues them; --no-resume (`fresh`) discards them. Work that no command can
        continue (of another input, another deblur, a weights file changed in place) is discarded with
        a note."""
        if frames and self._asked_otherwise and self.changes:
            self.release(keep=True)
            raise OutputError(
                f"{self.output}: an earlier run kept {frames} restored frames of this input, made with other "
                f"settings ({listed([change.text for change in self.changes])})",
                hint="run it as it was to continue, or add --no-resume (not --force) to discard them and start over",
            )

    def keep(self, names: set[str]) -> None:
        """Remove everything but `names` (and the lock), and record this run's key."""
        for path in self.path.iterdir():
            if path.name not in names and path.name != _LOCK:
                files.discard(path)
        write_record(self.path / _MANIFEST, {"format": WORK_FORMAT, "key": self._key})

    def release(self, *, keep: bool) -> None:
        """Unlock; the folder stays only with `keep`. Does nothing the second time."""
        self._lock.release(keep=keep)


# How this release writes, as pipeline.resume_key records it beside the options: a change to what a run writes adds
# an entry here (or changes one's value), so that work kept before it is discarded with a note, not continued. (The
# clock an output is encoded on needs none: the key holds it, "timing".)
MARKERS = {
    # grey frames come out grey, and grey sources are written grey (2026-12-04): work kept before, without this,
    # could hold tinted frames or, in FFV1, another pixel format, refused at the join
    "grey": "kept",
    # photos turned and mirrored by their EXIF, side-by-side halves as stored where nothing turns them
    # (2026-12-05): work kept before holds frames turned or placed otherwise
    "orientation": "exif, as shown",
    # a held frame comes out as the frame before it (2026-12-06): work kept before restored each copy apart
    "held": "as the frame before",
    # side-by-side halves captioned "input" and "deblurred (model)" (2026-12-07), a partial restoration's as such
    # ("deblurred (model, strength 0.5)"): work kept before has no captions, or a partial one's said "deblurred (model)"
    "captions": "side by side, partial restorations said",
}
# Entries of pipeline.resume_key that no option sets: the input, deblur's version, MARKERS, the clock the output is
# encoded on, and the restorer's own marker (restorers.py: "noise", since a diffusion model draws each frame's noise
# from the seed and its index)
_NOT_OPTIONS = ("input", "deblur", *MARKERS, "timing", "restorer.noise")
# The entries of options that change that clock: --fps an image sequence's rate, --deinterlace double the video's
_TIMING_OPTIONS = ("image_rate", "deinterlace")


@dataclass(frozen=True)
class Change:
    """One difference between two keys (key_changes), as `text` tells it to the user.

    `kind`: "input", the input's identity differs; "input_or_version", the input is told by other entries (another
    kind of input, or one an earlier release told otherwise: until 2026-12-05 a file by its path and time, now by
    its content); "version", an entry no option sets differs (_NOT_OPTIONS: deblur's version, MARKERS, the output's
    clock), or one this release no longer writes; "option", an entry an option sets."""

    kind: Literal["input", "input_or_version", "version", "option"]
    text: str


_INPUT_CHANGED = Change("input", "another input, or the input changed")
_INPUT_OR_VERSION = Change("input_or_version", "another input, or another version of deblur")
_EARLIER_DEBLUR = Change("version", "another version of deblur")


def as_written_now(key: dict) -> dict:
    """A stored key (or `run`/`evaluate` settings) as this release writes it: earlier ones recorded the
    weights file's size and time beside its path and sha256, so that a file fetched or written again with
    the same bytes counted as other weights; and those written before --keep-detail have no entry for it (their
    frames are those of a run without it)."""
    if "keep_still" in key and "keep_detail" not in key:
        key = {**key, "keep_detail": False}
    restorer = key.get("restorer")
    if isinstance(restorer, dict) and isinstance(restorer.get("weights"), list) and restorer.get("weights_sha256"):
        return {**key, "restorer": {**restorer, "weights": restorer["weights"][:1]}}
    return key


def comparable(key: dict) -> dict:
    """A key (or `evaluate`'s settings) as two are compared: weights by their sha256 where it is recorded, not by
    where they lie (the bundled weights of another install of the same release are the same bytes elsewhere)."""
    restorer = key.get("restorer")
    if isinstance(restorer, dict) and restorer.get("weights_sha256"):
        return {**key, "restorer": {name: value for name, value in restorer.items() if name != "weights"}}
    return key


def _asked_otherwise(old: dict, new: dict) -> bool:
    """Whether two keys differ only where the command asked for something else: not in the input, nor in
    an entry no option sets, nor in a weights file changed at the same path (rewritten, or reinstalled)."""
    if any(_entry(old, name) != _entry(new, name) for name in _NOT_OPTIONS if not _follows_an_option(old, new, name)):
        return False
    if any(name not in new for name in old):  # an entry this release does not write (a marker retired)
        return False
    before, after = old.get("restorer"), new.get("restorer")
    if isinstance(before, dict) and isinstance(after, dict):
        weights = [(r.get("weights") or [None], r.get("weights_sha256")) for r in (before, after)]
        if weights[0] != weights[1]:
            return weights[0][0][0] != weights[1][0][0]  # another path: --weights named another file, asked for
    return True


def _entry(key: dict, name: str) -> object:
    """The entry of `key` at a dotted `name` ("restorer.noise"), None where there is none."""
    for part in name.split("."):
        key = key.get(part) if isinstance(key, dict) else None
    return key


def key_changes(old: dict, new: dict, prefix: str = "") -> list[Change]:
    """What differs between two keys, each difference once, by its kind (Change): the input, an entry no option
    sets, and the options, each told as the command line that sets it tells it ("--overlap 2, now 3", "--no-audio
    added"; _OPTIONS), else by its nested names joined with dots; a value shown where it is short."""
    changes = []
    for name in sorted(set(old) | set(new), key=lambda n: (n != "input", n)):
        before, after = old.get(name), new.get(name)
        if before == after or (prefix == "encode." and _follows_the_codec(old, new, name)):
            continue
        if not prefix and _follows_an_option(old, new, name):
            continue
        if name == "input" and not prefix:
            same_kind = isinstance(before, dict) and isinstance(after, dict) and before.keys() == after.keys()
            changes.append(_INPUT_CHANGED if same_kind else _INPUT_OR_VERSION)
        elif prefix + name in _NOT_OPTIONS or (not prefix and name not in new):  # or one this release does not write
            changes.append(_EARLIER_DEBLUR)
        elif isinstance(before, dict) and isinstance(after, dict):
            changes += key_changes(before, after, f"{prefix}{name}.")
        else:
            changes.append(Change("option", _OPTIONS.get(prefix + name, _Valued(prefix + name))(before, after)))
    return list(dict.fromkeys(changes))  # one option may set two entries (--weights: its file and its sha256)


def listed(changes: list[str], most: int = 5) -> str:
    """key_changes' lines in one, the first `most` of them and how many more."""
    return some(changes, most, "; ", before_more="; ")


def _follows_an_option(old: dict, new: dict, name: str) -> bool:
    """Whether `name` is the clock an output is encoded on, and an option that sets it differs (--fps, --deinterlace):
    the change is told as that option's."""
    return name == "timing" and any(old.get(option) != new.get(option) for option in _TIMING_OPTIONS)


def _follows_the_codec(old: dict, new: dict, name: str) -> bool:
    """Whether an encoder setting differs only because the codec does: one of them takes no --crf or --preset."""
    unset = (None, "")
    return (
        name in ("crf", "preset")
        and old.get("codec") != new.get("codec")
        and (old.get(name) in unset or new.get(name) in unset)
    )


@dataclass(frozen=True)
class _Valued:
    """An option that takes a value, told as "--overlap 2, now 3": a value as a command line writes it, the
    entry's None as `unset` says (the option left out: "default"), the option alone where the values are long."""

    option: str
    unset: str = "default"
    names: Mapping[str, str] = field(default_factory=dict)  # how the entry's values are typed, where not as stored

    def __call__(self, before: object, after: object) -> str:
        if len(repr(before)) + len(repr(after)) > 40:
            return self.option
        return f"{self.option} {self._typed(before)}, now {self._typed(after)}"

    def _typed(self, value: object) -> str:
        if value is None or value == "":
            return self.unset
        if isinstance(value, str):
            value = self.names.get(value, value)
            return value if value.isprintable() and " " not in value else json.dumps(value)
        return json.dumps(value)


@dataclass(frozen=True)
class _Flag:
    """An option without a value, told as "--side-by-side added" or "left out"; `inverse` where the entry is
    true when it is left out (--no-audio sets audio false)."""

    option: str
    inverse: bool = False

    def __call__(self, before: object, after: object) -> str:
        given = not after if self.inverse else bool(after)
        return f"{self.option} {'added' if given else 'left out'}"


def _span(before: object, after: object) -> str:
    """--start and --end, as given: [start, end] entries, end None for the end of the input."""

    def given(span: object) -> str:
        start, end = span if isinstance(span, list) and len(span) == 2 else (None, None)
        parts = ([f"--start {start:g}"] if start else []) + ([f"--end {end:g}"] if end is not None else [])
        return " ".join(parts) or "the whole input"

    return f"{given(before)}, now {given(after)}"


# The options of `deblur run` that set the entries of pipeline.resume_key, each telling a change of its entry
_OPTIONS = {
    **{f"windows.{name}": _Valued(f"--{name.replace('_', '-')}") for name in ("window", "overlap", "tile_overlap")},
    "windows.tile": _Valued("--tile", unset="0"),  # None: whole frames
    "windows.batch": _Valued("--batch"), "windows.last": _Valued("--last-window"),
    "windows.scene_cuts": _Flag("--no-scene-cuts", inverse=True), "strength": _Valued("--strength"),
    "keep_still": _Flag("--keep-still"), "keep_detail": _Flag("--keep-detail"),
    "side_by_side": _Flag("--side-by-side"), "deinterlace": _Valued("--deinterlace"), "image_rate": _Valued("--fps"),
    "span": _span, "encode.audio": _Flag("--no-audio", inverse=True),
    **{f"encode.{name}": _Valued(f"--{name.replace('_', '-')}") for name in ("codec", "crf", "preset", "pix_fmt")},
    "restorer.model": _Valued("--model"), "restorer.device": _Valued("--device"),
    "restorer.dtype": _Valued("--precision", names={"torch.float32": "fp32", "torch.float16": "fp16",
                                                    "torch.bfloat16": "bf16"}),
    "restorer.weights": lambda before, after: "--weights", "restorer.weights_sha256": lambda before, after: "--weights",
    "restorer.compiled": _Flag("--compile"),
    **{f"restorer.{name}": _Valued(f"--{name}") for name in ("steps", "eta", "samples", "seed")},
}  # fmt: skip


def normalized(data: dict) -> dict:
    """`data` as it reads back from JSON (tuples become lists), so that a stored copy compares equal."""
    return json.loads(json.dumps(data, sort_keys=True))


def write_record(path: Path, data: dict) -> None:
    """Write a work folder's record `data` as JSON atomically and durably: a reader finds the old file or the
    whole new one, even after a power cut. (files.write_json writes a user's report.)"""
    files.write_bytes(path, json.dumps(data).encode("utf-8"), durable=True)


def _lock(work: Path, output: Path) -> int:
    """Create the work folder and hold its lock for the run; OutputError if another run holds it, or if
    what has the folder's name cannot be this run's (_make_folder).

    The lock is flock's on the file `lock` in the folder, which goes with its process: one left by a run
    that died blocks nothing. A run that ends removes the folder, the lock file last while still holding
    it (_remove_held), so a run that opened that file meanwhile may lock it only once it is gone: such a
    lock locks nothing (a third run would make a new file and lock that too, and both would write the
    output), so the file locked must still be the one at that name, or the run tries again."""
    for _ in range(_TRIES):
        if not _make_folder(work, output):
            continue
        try:
            fd = os.open(work / _LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
        except FileNotFoundError:  # the folder went as the run holding it ended: make it again
            continue
        except OSError as e:
            raise files.output_error(output, e) from None
        if fcntl is None:
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _busy(output) from None
        except OSError:  # a file system without locks (some network shares): run unlocked
            return fd
        if _same_file(fd, work / _LOCK):
            return fd
        os.close(fd)  # the file of a run that ended, removed: try again
    raise _busy(output)


def _busy(output: Path) -> OutputBusyError:
    return OutputBusyError(
        f"another deblur run is writing {output}", hint="wait for it to end, or choose another output"
    )


def _make_folder(work: Path, output: Path) -> bool:
    """Create the work folder, or check that what is there may be this run's: OutputError if not; False
    if it went before it could be checked (as the run holding it ended). A run empties its work folder,
    and must not follow a symbolic link (or a Windows junction) planted there to a folder elsewhere, nor,
    in a folder where anyone may create files (/tmp: world-writable, sticky), empty another user's
    folder."""
    created = False
    try:
        work.mkdir()
        created = True
    except FileExistsError:  # a folder, or something else, said below
        pass
    except OSError as e:
        raise files.output_error(output, e) from None
    try:
        found = os.lstat(work)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise files.output_error(output, e) from None
    what = None
    if stat.S_ISLNK(found.st_mode) or getattr(found, "st_reparse_tag", 0):
        what = "a symbolic link"
    elif not stat.S_ISDIR(found.st_mode):
        what = "not a folder"
    elif not created and _anyone_may_create_in(work.parent) and found.st_uid != os.getuid():
        what = "another user's folder"
    if what is not None:
        raise OutputError(
            f"{work} is {what}, where deblur keeps the work of a run writing {output.name}; it is left alone",
            hint="remove it if it is not yours to keep, or choose another output",
        )
    return True


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file `fd` is the one at `path` now."""
    try:
        found = os.lstat(path)
    except OSError:
        return False
    held = os.fstat(fd)
    return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)


def _remove_held(work: Path) -> None:
    """Remove the work folder whose lock this run holds: its content, then the lock file, while still
    held (a run that opens it meanwhile is refused, or finds it gone once it may lock it: see _lock),
    then the folder, if no run that started meanwhile has made a new lock file in it."""
    with contextlib.suppress(OSError):
        for path in work.iterdir():
            if path.name != _LOCK:
                files.discard(path)
    with contextlib.suppress(OSError):
        (work / _LOCK).unlink()
    with contextlib.suppress(OSError):
        work.rmdir()


def _anyone_may_create_in(folder: Path) -> bool:
    """Whether `folder` is like /tmp (world-writable, sticky), where a name may be taken by any user. Owners
    elsewhere are not compared: on network shares (SMB, NFS with root squashed) a folder this user made
    may show another owner."""
    try:
        mode = os.stat(folder).st_mode
    except OSError:
        return False
    return hasattr(os, "getuid") and bool(mode & stat.S_IWOTH) and bool(mode & stat.S_ISVTX)
