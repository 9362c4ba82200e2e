"""Whether other programs keep this process's CPU cores busy, read from Linux's /proc/stat while the
`deblur` command starts (launch.py), without torch.

PyTorch's OpenMP threads spin while they wait for each other (libgomp's default): fastest on a machine
the run has to itself, and costly where other work keeps the cores busy, since a spinning thread holds a
core that a descheduled peer needs. `deblur run` of a 720p clip took 1.2 to 2.2 times as long as with
waiting threads asleep (OMP_WAIT_POLICY=PASSIVE) beside other programs, and two runs started together
took twice as long each; on a quiet machine passive waiting cost nothing at 720p and up to a fifth at
640x360 (docs/dstnet.md). libgomp reads its setting once, when torch loads it, so the command measures
before any command imports torch: the work its cores did from its start to its command's body (Python,
the command line and the command's module loading), less its own.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SHARED_CORES = 0.5  # other programs' work on this process's cores, in cores, from which they share them
_MIN_SECONDS = 0.1  # shorter than this, and ticks of 10 ms say too little
# set by the command where it chose passive waiting (`choose_waiting`), for the notes of `run` and `bench`
chose_passive_waiting = False
SHARED_CPU_NOTE = (
    "other programs are busy on this CPU, which slows this run (nothing to do: deblur's threads take turns with"
    " theirs)"
)


@dataclass(frozen=True)
class Sample:
    seconds: float  # a monotonic clock
    busy: float  # CPU seconds the process's cores have worked, all programs together
    own: float  # CPU seconds of this process


def sample(stat: Path = Path("/proc/stat")) -> Sample | None:
    """The counters now; None where /proc/stat cannot be read (other systems)."""
    try:
        cores = os.sched_getaffinity(0)
        lines = stat.read_text().splitlines()
    except (OSError, AttributeError):  # AttributeError: no sched_getaffinity (macOS, Windows)
        return None
    ticks = 0
    for line in lines:
        name, *fields = line.split() or [""]
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
            # user nice system idle iowait irq softirq steal: all but idle and iowait is work (steal, a
            # hypervisor's, too); guest time is counted in user already. Old kernels list the first four.
            try:
                values = [int(value) for value in fields[:8]] + [0] * (8 - len(fields[:8]))
            except ValueError:  # not Linux's layout: no choice is made
                return None
            ticks += sum(values) - values[3] - values[4]
    times = os.times()
    return Sample(time.monotonic(), ticks / os.sysconf("SC_CLK_TCK"), times.user + times.system)


def others_busy(since: Sample | None, now: Sample | None) -> float | None:
    """Cores' worth of work other programs did on this process's cores between two samples; None where
    either is missing or they are too close together to tell."""
    if since is None or now is None or now.seconds - since.seconds < _MIN_SECONDS:
        return None
    others = (now.busy - since.busy) - (now.own - since.own)
    return max(others, 0.0) / (now.seconds - since.seconds)


def spinning_beside_others(since: Sample | None, now: Sample | None) -> bool:
    """Whether other programs kept this process's cores busy between the samples (SHARED_CORES of them at least)
    while the environment leaves libgomp's waiting at its default, spinning."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return False
    others = others_busy(since, now)
    return others is not None and others >= SHARED_CORES


def wait_passively_if_shared(since: Sample | None, now: Sample | None) -> bool:
    """Set OMP_WAIT_POLICY=PASSIVE for the torch this process will load where other programs kept its
    cores busy between the samples, unless the environment sets libgomp's waiting itself. Returns
    whether it did."""
    global chose_passive_waiting
    if not spinning_beside_others(since, now):
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    chose_passive_waiting = True
    return True


_started: Sample | None = None  # the counters as the `deblur` command started; None in other processes


def command_starts() -> None:
    """Note the counters as the `deblur` command starts (launch.py), for `choose_waiting`."""
    global _started
    _started = sample()


def choose_waiting() -> bool:
    """As a command's body starts (cli/app.command), before it can import torch: passive waiting where other
    programs kept the cores busy since the command started (`wait_passively_if_shared`). Nothing in a
    process that is not the `deblur` command (a library's, a test's), nor once torch is loaded."""
    if _started is None or "torch" in sys.modules:
        return False
    return wait_passively_if_shared(_started, sample())
