"""Files written whole or not at all: under a hidden temporary name in the target's folder, renamed into
place at the end, so that a reader never sees half a file under the final name. No PyAV here: training
and its checkpoints use these where PyAV is not installed (`video_io/atomic.py` builds the sinks' life
cycle on them).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

from deblur_cli.errors import DiskFullError, OutputError


NAME_MAX = 255  # bytes in one file name on the usual file systems (ext4, APFS, XFS)


def temp_name(final: Path, suffix: str | None = None) -> Path:
    """A fresh hidden name beside `final` ending in `suffix`, by default `final`'s own (FFmpeg picks the
    container from it); the stem is cut where the longer name would pass NAME_MAX."""
    tail = f".deblur-{secrets.token_hex(4)}{final.suffix if suffix is None else suffix}"
    return final.with_name(f".{cut_to_bytes(final.stem, NAME_MAX - 1 - len(os.fsencode(tail)))}{tail}")


def cut_to_bytes(text: str, room: int) -> str:
    """`text`, a file name, cut to at most `room` bytes as the file system stores it (os.fsencode),
    without leaving half a UTF-8 character at the end. Bytes that are not UTF-8 are kept as they are."""
    cut = os.fsencode(text)[:room]
    for back in range(1, min(4, len(cut)) + 1):  # the last character's lead byte, if it is one of these
        byte = cut[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: the lead is further back
            continue
        if 0xC2 <= byte <= 0xF4 and back < (2 if byte < 0xE0 else 3 if byte < 0xF0 else 4):
            cut = cut[:-back]  # a character whose bytes the cut split
        break
    return os.fsdecode(cut)


def reserve_file(final: Path, folder: Path | None = None) -> Path:
    """Create an empty temporary file beside `final` (or in `folder`, on the same file system) and return
    its path; OutputError if the directory is missing or not writable. The file gets the usual
    permissions (0666 less the umask)."""
    try:
        return _new_file(final, folder)
    except OSError as e:
        raise output_error(final, e) from None


def _new_file(final: Path, folder: Path | None = None, suffix: str | None = None) -> Path:
    """An empty file made under a fresh `temp_name`, never one that was there; OSError where it cannot be made."""
    while True:
        temp = temp_name(final, suffix)
        if folder is not None:
            temp = folder / temp.name
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return temp
        except FileExistsError:
            continue


def reserve_dir(final: Path) -> Path:
    """Create an empty temporary directory beside `final`, as `reserve_file` does for files."""
    while True:
        temp = temp_name(final)
        try:
            os.mkdir(temp)
            return temp
        except FileExistsError:
            continue
        except OSError as e:
            raise output_error(final, e) from None


def commit(temp: Path, final: Path) -> None:
    """Move the finished temporary file or directory to its final name (an empty directory there is replaced)."""
    try:
        if temp.is_dir() and final.is_dir():
            final.rmdir()  # only an empty directory; the caller checked before writing
        os.replace(temp, final)
    except OSError as e:
        discard(temp)
        raise output_error(final, e) from None


def discard(temp: Path) -> None:
    """Remove a temporary file or directory; missing is fine. A symbolic link is removed, never followed.
    An error doing so (a read-only folder refuses even this: EROFS) is ignored, so that the error that
    stopped the write is the one reported."""
    if temp.is_dir() and not temp.is_symlink():
        shutil.rmtree(temp, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            temp.unlink()


def taken(path: str | os.PathLike) -> bool:
    """Whether something is at an output path already; an empty folder does not count (an output
    replaces it). A link counts even where it leads nowhere (a missing file, a loop of links): the
    output's rename would replace it."""
    path = Path(path)
    return (path.exists() or path.is_symlink()) and not (path.is_dir() and not any(path.iterdir()))


def read_tail(path: str | os.PathLike, count: int) -> bytes | None:
    """The last `count` bytes of a file (all of a smaller one); None where it cannot be read."""
    try:
        with open(path, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(size - count, 0))
            return file.read()
    except OSError:
        return None


def write_bytes(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Write `data` to `path` under a temporary name in the same folder, then rename it into place: a
    reader finds the old file or the whole new one. `durable` also flushes it to disk before the rename,
    so that a power cut cannot leave a renamed file without its content. OS errors are raised as
    OutputError about `path`."""
    with written(path, suffix=".tmp") as temp, open_own(temp) as f:  # never through a link planted at temp
        f.write(data)
        if durable:
            f.flush()
            os.fsync(f.fileno())


@contextlib.contextmanager
def written(path: Path, *, suffix: str | None = None, hint: str | None = None) -> Iterator[Path]:
    """A new temporary file beside `path` for a writer that takes a path (np.save, torch.save, av.open), renamed
    to `path` when the block ends: a reader finds the old file or the whole new one. Its name ends in `suffix`,
    by default `path`'s own, as the writer or the folder's readers expect. On any error, Ctrl-C included, it
    is removed; an OSError is raised as OutputError about `path`, `hint` added to the cause's own."""
    temp = None
    try:
        temp = _new_file(path, suffix=suffix)
        yield temp
        os.replace(temp, path)
    except BaseException as e:
        if temp is not None:
            discard(temp)
        if isinstance(e, OSError):
            raise output_error(path, e, hint=hint) from None
        raise


def write_json(report, path: str | os.PathLike) -> None:
    """Write a report (anything with a to_dict(), as BenchReport or an evaluation's) as JSON (UTF-8,
    indented), atomically: a temporary file, then a rename. JSON has no infinity nor NaN: an infinite
    figure (the PSNR of an exact frame) is written as the string "Infinity", an undefined one as "NaN"
    (what Python's float() reads back); null stays "does not apply, not measured"."""
    text = json.dumps(_json_numbers(report.to_dict()), indent=2, allow_nan=False) + "\n"
    write_bytes(Path(path), text.encode("utf-8"))


def _json_numbers(value):
    """`value` with every non-finite float in it as the string float() reads back: "Infinity", "-Infinity", "NaN"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_numbers(v) for v in value]
    return value


def open_own(path: Path, *, append: bool = False):
    """`path` opened for binary writing (appended to, or made empty), never through a link at its name: a
    link planted there, in a cache shared with others, would have the bytes written wherever it points.
    Such a link is removed and a file made in its place (the OS refuses to follow one that appears
    meanwhile: ELOOP)."""
    if path.is_symlink():
        path.unlink()
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    return os.fdopen(os.open(path, flags, 0o666), "ab" if append else "wb")


def check_writable(path: str | os.PathLike) -> None:
    """OutputError unless a file can be written at `path`: its folder exists and takes a new file (one is
    created there and removed). For the files a command writes at its end, so that a long run does not
    end in an error about where its result goes."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder", hint="give a file name")
    try:
        discard(_new_file(path, suffix=".probe"))
    except OSError as e:
        raise output_error(path, e) from None


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def output_error(path: Path, error: BaseException, *, hint: str | None = None) -> OutputError:
    """An OutputError naming the cause in words a user can act on (disk full, permissions, missing folder);
    `hint`, where given, follows the cause's own hint (what else the user may do: training's --resume)."""
    found = _cause(path, error)
    if hint:
        found.hint = f"{found.hint}; {hint}"
    return found


def _cause(path: Path, error: BaseException) -> OutputError:
    code = getattr(error, "errno", None)
    where = _folder(path)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"disk full while writing {path}", hint="free some space or write the output elsewhere")
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"cannot write to {where}: permission denied", hint="choose a directory you can write to")
    if code == errno.ENOENT and not where.is_dir():
        hint = f"create it first (mkdir -p {shlex.quote(str(where))}), or check the name"
        return OutputError(f"cannot write {path}: directory {where} does not exist", hint=hint)
    if code == errno.ENOENT:  # a folder that takes no new files, such as /proc
        return OutputError(f"cannot create files in {where}", hint="choose a directory you can write to")
    if code == errno.ENOTDIR:
        return OutputError(f"cannot write {path}: {where} is not a directory", hint="check the output path")
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return OutputError(f"cannot write {path}: {reason}", hint="check the output path and the free space")


def file_version(path: str | os.PathLike) -> tuple[int, int, int, int] | None:
    """What tells one content of the file at `path` from another without reading it, for what is kept of a read:
    its size, times of modification and change, and inode. A file replaced by another of its size with the time of
    modification kept (`cp -p`, `rsync -t`) has another time of change. None where it cannot be looked up."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino
