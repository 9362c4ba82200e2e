"""The signals that stop a command (Ctrl-C, SIGTERM, SIGHUP) as exceptions, and the last one received.

A signal handler raises its exception wherever Python is when the signal arrives. Inside a C library's
callback (FFmpeg's, while PyAV opens a file that blocks: a FIFO, a stalled network share) that exception
is swallowed and the library reports only an interrupted system call; `raise_received` raises it again
from there, so the command stops as it would have.
"""

from __future__ import annotations

import signal
from typing import NoReturn

_received: list[int] = []  # the last stopping signal a handler saw, until raise_received takes it


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
    """A signal handler: remember the signal, and raise its exception."""
    _received[:] = [signum]
    raise stopped(signum)


def raise_received() -> NoReturn:
    """Raise the exception of the last signal a handler saw (KeyboardInterrupt if none): for code that
    found a system call interrupted where the handler's own exception could not get through."""
    signum = _received.pop() if _received else signal.SIGINT
    raise stopped(signum)
