"""The life cycle of a sink's output (video_io/): frames go to a temporary file or folder beside the output,
which is renamed into place when finished and removed on any error, Ctrl-C included (`deblur_cli.files`
does the renaming and removing)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import av

from deblur_cli.errors import DeblurError, OutputError
from deblur_cli.files import commit, output_error
from deblur_cli.interrupts import held_back


@contextlib.contextmanager
def cleanup_on_error(path: Path, abort: Callable[[], None]) -> Iterator[None]:
    """Call `abort` (which removes the temporary output) on any exception, Ctrl-C included; FFmpeg and OS
    errors are raised as OutputError about `path`."""
    try:
        yield
    except DeblurError:
        abort()
        raise
    except (av.FFmpegError, OSError) as e:
        abort()
        raise output_error(path, e) from None
    except BaseException:
        abort()
        raise


def check_open(state: str, path: Path) -> None:
    """OutputError for a write or finish after the output was finished or aborted (e.g. by an earlier error)."""
    if state != "open":
        raise OutputError(f"{path} was already {state}", hint="an output takes frames until it is finished or aborted")


class FinishesOnExit:
    """As a context manager: `finish()` on a clean exit, `abort()` on any exception (Ctrl-C included)."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()


class FinishOrAbort(FinishesOnExit):
    """The life cycle every sink shares: frames go to a temporary output; `finish()` completes it and renames
    it into place, `abort()` removes it. As a context manager: finish on a clean exit, abort on any exception
    (Ctrl-C included).

    Subclasses set `path`, `_temp`, `_state` ("open", "finished", "aborted") and `_frames` (frames taken),
    and define `_complete()` (flush and close the temporary output) and `abort()`.
    """

    def finish(self) -> None:
        """Complete the temporary output and rename it into place; an output without frames is an error."""
        check_open(self._state, self.path)
        if not self._frames:
            self.abort()
            raise OutputError(f"no frames were written to {self.path}", hint="the input produced no frames")
        with cleanup_on_error(self.path, self.abort):
            self._complete()
            with held_back():  # a stop between the two would leave the output in place but called unfinished
                commit(self._temp, self.path)
                self._state = "finished"

    @property
    def finished(self) -> bool:
        """Whether the output is in place under its final name."""
        return self._state == "finished"
