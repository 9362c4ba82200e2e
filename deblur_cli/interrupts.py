"""The signals that stop a command (Ctrl-C, SIGTERM, SIGHUP) as exceptions, and the last one received.

A signal handler raises its exception wherever Python is when the signal arrives. Inside a C library's
callback (FFmpeg's, while PyAV opens a file that blocks: a FIFO, a stalled network share) that exception
is swallowed and the library reports only an interrupted system call; `raise_received` raises it again
from there, so the command stops as it would have.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import NoReturn

_received: list[int] = []  # the last stopping signal a handler saw, until raise_received takes it
_holding: list[bool] = []  # a True for each held_back section open: a signal then waits for its end
_waiting: list[int] = []  # the signal that arrived while held back, raised when the outermost section ends


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a job scheduler's stop, `timeout`, a closed terminal), raised where Ctrl-C's
    KeyboardInterrupt is, so that a run stops the same way: the output discarded, finished work kept."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def stopped(signum: int) -> KeyboardInterrupt:
    """The exception for signal `signum`: KeyboardInterrupt for Ctrl-C, Terminated for the others."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def stop_now(signum: int, frame) -> None:
    """A signal handler: remember the signal, and raise its exception (at the end of a held_back section,
    where one is open)."""
    _received[:] = [signum]
    if _holding:
        _waiting[:] = [signum]
        return
    raise stopped(signum)


@contextlib.contextmanager
def held_back() -> Iterator[None]:
    """A section that a stopping signal does not cut in two: a signal that arrives inside it is raised as it
    ends. For steps that only make sense together and take an instant, such as an output renamed into place
    and marked finished: a Ctrl-C between the two left a complete output that the run then took for
    unfinished (its work kept for a later run that could only say "output exists")."""
    _holding.append(True)
    try:
        yield
    except BaseException:
        if len(_holding) == 1:
            _waiting.clear()  # the section's own error stops the command: the signal is not raised later
        raise
    finally:
        _holding.pop()
    if not _holding and _waiting:
        raise stopped(_waiting.pop())


def raise_received() -> NoReturn:
    """Raise the exception of the last signal a handler saw (KeyboardInterrupt if none): for code that
    found a system call interrupted where the handler's own exception could not get through."""
    signum = _received.pop() if _received else signal.SIGINT
    raise stopped(signum)
