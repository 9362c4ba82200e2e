"""Whether other programs keep this process's CPU cores busy, read from Linux's /proc/stat while the
`deblur` command starts (launch.py), without torch, and, for a job that lasts (`deblur train`, `deblur run`),
as it goes (`ThreadFit`: the thread count, which torch lets a process change at any time, unlike the waiting
policy).

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

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deblur_cli.wording import count

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
    own = times.user + times.system + times.children_user + times.children_system + _live_children_seconds()
    return Sample(time.monotonic(), ticks / os.sysconf("SC_CLK_TCK"), own)


def _live_children_seconds() -> float:
    """CPU seconds of this process's running multiprocessing children (data-loader workers), which os.times counts
    only once they have ended: their work is this process's, not other programs'."""
    if "multiprocessing" not in sys.modules:  # a process that never imported it has no such children
        return 0.0
    seconds = 0.0
    for child in sys.modules["multiprocessing"].active_children():
        try:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()
            seconds += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
        except (OSError, ValueError, IndexError):  # ended meanwhile
            continue
    return seconds


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


def threads_for(free_cores: float, most: int) -> int:
    """Intra-op threads for a process that other programs leave `free_cores` cores' worth of its cores: that many,
    rounded to the nearest, from 1 to `most`."""
    return max(1, min(most, math.floor(free_cores + 0.5)))


class ThreadFit:
    """The thread count a long CPU job (`deblur train`, `deblur run`) should use as other programs come and go:
    torch's threads spin while they wait for each other, and beside one busy program a training step on 2 cores
    took 24.7 s with 2 threads, 2.9 s with 1, against 1.7 to 1.8 s with 2 on the machine alone (docs/training.md);
    `deblur run` of 90 frames of 640x360 38.0 to 41.2 s with 2, 33.3 s fitted (docs/cli.md). `poll()` after
    every step (frame) measures the cores over periods of `every` seconds and returns a new count, between 1 and `most`
    (the job's count with the cores to itself), where a period asks for fewer threads than the current count, or
    two in a row for the same larger one: too many threads cost several times what too few do, so the count
    falls at once and rises only once the cores stay free. Otherwise None.
    """

    def __init__(self, most: int, every: float = 15.0, sampler: Callable[[], Sample | None] | None = None):
        self.most = most
        self.current = most
        self.every = every
        # the cores it may run on (macOS and Windows: all; there sample() reads nothing and no count changes)
        self.cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self.others = 0.0  # cores' worth of other programs' work in the last period
        self._sampler = sampler or sample
        self._since = self._sampler()
        self._asked: int | None = None  # the last period's count, when it was above the current

    def poll(self) -> int | None:
        now = self._sampler()
        if self._since is None or now is None or now.seconds - self._since.seconds < self.every:
            return None
        others = others_busy(self._since, now)
        self._since = now
        if others is None:
            return None
        self.others = others
        wanted = threads_for(self.cores - others, self.most)
        if wanted == self.current:
            self._asked = None
            return None
        if wanted > self.current and wanted != self._asked:  # the first period to ask for more: wait for a second
            self._asked = wanted
            return None
        self.current, self._asked = wanted, None
        return wanted

    def said(self, doing: str, where: str, fixed_by: str = "") -> str:
        """A note of the last change: what the job does (`doing`: "training") on how many threads, from `where`
        ("step 8"), and why; a change to fewer threads names the option that fixes the count (`fixed_by`)."""
        threads = f"{doing} on {count(self.current, 'thread')} from {where}"
        if self.current < self.most:
            hint = f" ({fixed_by} fixes the count)" if fixed_by else ""
            return f"other programs keep {self.others:.1f} of the {self.cores} cores busy: {threads}{hint}"
        return f"the cores are free again: {threads}"
