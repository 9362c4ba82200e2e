"""An exclusive lock between processes on one cache entry.

Two `deblur` processes that need the same weights at once would otherwise append to one partial
download (and fail verification) or convert one checkpoint twice: the second waits for the first,
then finds the file cached. Lock files live in `<cache>/locks/` and are never deleted (deleting a lock
file another process waits on would let a third one in).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(path: Path, *, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if needed) for the `with` block.

    on_wait() is called once if another process holds the lock, before blocking on it. A link at `path`
    is not followed (OSError ELOOP): planted in a cache shared with others, it would have this process
    create a file wherever it points. It is not removed either: a lock file is never deleted.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    with os.fdopen(os.open(path, flags, 0o666), "r+b") as handle:
        if not _try_lock(handle):
            if on_wait is not None:
                on_wait()
            while not _try_lock(handle, block=sys.platform != "win32"):
                time.sleep(0.2)  # Windows has no blocking lock call without a time-out
        try:
            yield
        finally:
            _unlock(handle)


def _try_lock(handle, *, block: bool = False) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _unlock(handle) -> None:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
