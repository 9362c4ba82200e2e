"""Progress on stderr: the commands' bar on a terminal, and plain lines for a stderr that is a file or a pipe (a
run under nohup, cron or a job scheduler), where a progress bar cannot redraw itself: one line now and then, so a
log shows how far a run of hours has come and how long it has left."""

from __future__ import annotations

import time
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TaskID, TextColumn, TimeElapsedColumn

EVERY = 60.0  # seconds between two lines
# frames restored before the time left is told: frames come out a window at a time, so until a window's worth
# have, the mean rate counts the first window's wait against its first frames (at 4K on a CPU, two minutes
# against one frame: 18 min left was said of a run that ended 2 min later)
SETTLING = 10
# frames a second below which a speed is told as the seconds a frame takes: two decimals of the fps of 4K frames on
# a CPU (80 s a frame on a busy 2-core one) said 0.00 or 0.01
SLOW = 0.1


class ProgressLines:
    """Prints `name: done of total frames (p%), r fps, about t left` on `console` at most every EVERY
    seconds, the first one EVERY seconds after the start."""

    def __init__(self, name: str, console: Console, clock: Callable[[], float] = time.monotonic):
        self.name, self.console, self.clock = name, console, clock
        self.last = clock()

    def update(self, done: int, total: int | None, rate: float, timed: bool = True, detail: str = "") -> None:
        """After frame `done` of `total` (None: not known), restored at `rate` frames a second; the time left
        told where `timed`, and `detail` (where the window under way is: "DDIM step 3/20", "next frames 35%
        restored") where given."""
        now = self.clock()
        if now - self.last < EVERY:
            return
        self.last = now
        if total:
            left = f", about {left}" if timed and (left := time_left(done, total, rate)) else ""
            line = f"{self.name}: {done} of {total} frames ({100 * done // total}%), {speed(rate)}{left}"
        else:
            line = f"{self.name}: {done} frames, {speed(rate)}"
        line += f", {detail}" if detail else ""
        self.console.print(line, highlight=False, soft_wrap=True)


def lines_for_a_log(name: str, console: Console, quiet: bool) -> ProgressLines | None:
    """ProgressLines where `console` writes to a file or a pipe and the user did not ask for quiet;
    None where a progress bar shows instead, or nothing should."""
    return None if quiet or console.is_terminal else ProgressLines(name, console)


def time_left(done: int, total: int | None, rate: float) -> str:
    """"12 min left" for the frames after `done` of `total` at `rate` frames a second (the mean since
    the start: frames come in bursts, a window at a time, which a recent-speed estimate takes for a
    stop or a sprint); "" where it cannot be told."""
    if not total or rate <= 0 or done >= total:
        return ""
    return f"{in_words((total - done) / rate)} left"


def speed(rate: float) -> str:
    """A speed of `rate` frames a second as the commands tell it: "2.41 fps", or below SLOW fps the seconds a frame
    takes, "80 s a frame"."""
    return f"{each_frame(1 / rate)} a frame" if 0 < rate < SLOW else f"{rate:.2f} fps"


def each_frame(seconds: float) -> str:
    """The time a frame takes, to two or three figures: 0.35 s, 1.9 s, 80 s, 12 min."""
    if seconds >= 600:
        return in_words(seconds)
    return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def in_words(seconds: float) -> str:
    """A time as the commands say one: 1 h 02 min, 12 min, 40 s."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)  # to the nearest minute, over an hour as under one
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def sampling_step(done: int, total: int, samples: int) -> str:
    """The sampler's place in a window as the bar shows it: "DDIM step 3/5", with --samples 2 "sample 2/2,
    DDIM step 3/5" (the sampler counts `total` calls of the network, every sample's steps one after another)."""
    if samples <= 1 or total % samples:
        return f"DDIM step {done}/{total}"
    steps = total // samples
    sample, step = divmod(done - 1, steps)
    return f"sample {sample + 1}/{samples}, DDIM step {step + 1}/{steps}"


def progress_bar(console: Console, quiet: bool, *columns: ProgressColumn, left: bool = True) -> Progress:
    """The bar the commands draw on `console` (stderr): each task's description, its bar and count, `columns`,
    the time elapsed and, with `left`, the task's `left` field (time_left's, not rich's estimate, which bursts
    of frames mislead). None is drawn where `quiet` or in a log, which gets ProgressLines instead; it goes
    when done."""
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        *columns,
        TimeElapsedColumn(),
        *([TextColumn("{task.fields[left]}")] if left else []),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=True,
    )


class FramesTask:
    """An input's frames on a progress_bar, and in a log a line now and then (ProgressLines): called as
    (done, total) by the restoring loop. The rate and the time left count from the first call's frames,
    so that those an interrupted run kept count towards neither; the time left is told once SETTLING frames
    have come out since."""

    def __init__(self, bar: Progress, name: str, console: Console, quiet: bool, *, log_name: str | None = None):
        self.bar = bar
        self.task: TaskID = bar.add_task(name, total=None, speed=speed(0.0), detail="", left="")
        self.lines = lines_for_a_log(log_name or name, console, quiet)
        self.started = bar.get_time()
        self.first: int | None = None
        self.done, self.total = 0, None  # as the latest call told them

    def __call__(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total
        if self.first is None:
            self.first = done
            self.bar.reset(self.task, completed=done, total=total)  # fields given to reset would replace them all
            # until frames come out: minutes for large frames on a CPU
            self.bar.update(self.task, left="restoring the first frames")
            return
        rate = self._rate()
        timed = done - self.first >= SETTLING
        left = time_left(done, total, rate) if timed else ""
        # the frames a step told of are out, in the count: "next frames 100% restored" beside them told of the next
        self.bar.update(self.task, completed=done, total=total, speed=speed(rate), left=left, detail="")
        if self.lines is not None:
            self.lines.update(done, total, rate, timed)

    def step(self, detail: str) -> None:
        """Where the window under way is (a diffusion sampler's step, the share of a DSTNet's window restored): on the
        bar, and in a log on a line now and then too, since no frame comes out before the whole window is restored:
        minutes to hours for a diffusion model on a CPU, minutes for a DSTNet on 4K frames. The line tells the time
        left as the frames' line does: with windows of minutes, it is most lines of a log. Before the first frames
        come out, `detail` takes the place of "restoring the first frames", which says no more and took the width the
        frame count needs on an 80-column terminal."""
        if self.first is not None and self.done == self.first:
            self.bar.update(self.task, detail=detail, left="")
        else:
            self.bar.update(self.task, detail=detail)
        if self.lines is not None and self.first is not None:
            timed = self.done - self.first >= SETTLING
            self.lines.update(self.done, self.total, self._rate(), timed=timed, detail=detail)

    def _rate(self) -> float:
        """Frames restored a second since the first call (0 before it)."""
        elapsed = self.bar.get_time() - self.started
        return (self.done - self.first) / elapsed if self.first is not None and elapsed > 0 else 0.0

    def close(self) -> None:
        """Take the task off the bar."""
        self.bar.remove_task(self.task)
