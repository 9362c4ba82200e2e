"""A real process interrupted part-way: Ctrl-C (SIGINT) and a hard kill (SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deblur_cli.pipeline import deblur_video
from deblur_cli.video_io import EncodeOptions
from deblur_cli.windows import WindowOptions
from tests import media
from tests.restorers import MixingRestorer

# Runs `deblur run` with a restorer that announces its first window and then works slowly.
SCRIPT = """
import sys, time
from pathlib import Path
from tests.restorers import IdentityRestorer
import deblur_cli.restorers
from deblur_cli.cli import main

marker, source, target = sys.argv[1:4]

class Slow(IdentityRestorer):
    def __call__(self, frames):
        Path(marker).touch()
        time.sleep(0.2)
        return super().__call__(frames)

deblur_cli.restorers.build_restorer = lambda *a, **k: Slow()
sys.argv = ["deblur", "run", source, "-o", target, "--window", "2", "--overlap", "0", "-q"]
main()
"""


def start(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    source = media.make_video(tmp_path / "in.mp4", frames=60)
    marker = tmp_path / "started"
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(marker), str(source), str(tmp_path / "out.mp4")],
        cwd=Path(__file__).resolve().parents[1],
        stderr=subprocess.PIPE,
        text=True,
        # as a command started from a terminal: a shell running the tests in the background (`... &`)
        # ignores SIGINT, which children inherit, and Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)
    return process, source


def test_a_signal_in_a_held_back_section_is_raised_as_it_ends_and_an_error_there_wins():
    from deblur_cli.interrupts import Terminated, held_back, stop_now

    done = []
    with pytest.raises(KeyboardInterrupt):
        with held_back():
            stop_now(signal.SIGINT, None)  # what the handler does when Ctrl-C arrives here
            with held_back():  # nested: only the outermost raises
                done.append("inner")
            done.append("outer")
    assert done == ["inner", "outer"]
    with pytest.raises(Terminated):
        with held_back():
            stop_now(signal.SIGTERM, None)
    with pytest.raises(OSError):
        with held_back():
            stop_now(signal.SIGINT, None)
            raise OSError("the rename failed")
    with held_back():  # nothing waits from the section that failed
        pass
    with pytest.raises(KeyboardInterrupt):
        stop_now(signal.SIGINT, None)  # outside a section: at once


def test_ctrl_c_exits_130_and_removes_the_temporary_file(tmp_path):
    process, source = start(tmp_path)
    before = source.read_bytes()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    assert "interrupted" in process.stderr.read()
    assert sorted(os.listdir(tmp_path)) == ["in.mp4", "started"]
    assert source.read_bytes() == before


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_run_leaves_nothing_under_the_final_name(tmp_path):
    process, _ = start(tmp_path)
    process.kill()
    process.wait(timeout=60)
    assert not (tmp_path / "out.mp4").exists()


# Runs `deblur run` with a restorer whose output can be continued (it has an identity), slowly, in
# short segments; the test kills it once a segment is on disk.
RESUMABLE = """
import sys, time
import deblur_cli.restorers
import deblur_cli.pipeline as pipeline
from deblur_cli.cli import main
from tests.restorers import MixingRestorer

source, target, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])

class Slow(MixingRestorer):
    def __call__(self, frames):
        time.sleep(delay)
        return super().__call__(frames)

pipeline.SEGMENT_FRAMES = 6
deblur_cli.restorers.build_restorer = lambda *a, **k: Slow()
sys.argv = ["deblur", "run", source, "-o", target, "--window", "4", "--overlap", "1", "--tile", "0",
            "--codec", "ffv1", "-q", "-f"]
main()
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_run_is_continued_by_the_next_and_gives_the_same_video(tmp_path):
    source = media.make_video(tmp_path / "in.mkv", frames=40, audio="flac")

    def run(target: Path, delay: float) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", RESUMABLE, str(source), str(target), str(delay)],
            cwd=Path(__file__).resolve().parents[1],
            stderr=subprocess.PIPE,
            text=True,
        )

    windows = WindowOptions(window=4, overlap=1, tile=None)
    deblur_video(source, tmp_path / "whole.mkv", MixingRestorer(), windows=windows, encode=EncodeOptions(codec="ffv1"))
    target = tmp_path / "out.mkv"
    process = run(target, 0.1)
    work = tmp_path / ".out.mkv.deblur-work"
    deadline = time.monotonic() + 60
    while not (work / "seg_00001.json").exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "no segment was finished"
        time.sleep(0.02)
    process.kill()
    process.wait(timeout=60)
    assert not target.exists()

    again = run(target, 0)
    assert again.wait(timeout=120) == 0
    assert "continuing an interrupted run" in again.stderr.read()
    assert not work.exists()
    whole, out = media.read_frames(tmp_path / "whole.mkv"), media.read_frames(target)
    assert len(out) == 40 and all(np.array_equal(a, b) for a, b in zip(whole, out))
    assert media.read_video_pts(target) == media.read_video_pts(tmp_path / "whole.mkv")


# A video opened as the commands open one, from a FIFO nobody writes to (as a stalled network share
# would): FFmpeg's open blocks, announced by a marker file. (The commands refuse a FIFO before that.)
FIFO_SCRIPT = """
import sys
from pathlib import Path
import av
import typer

marker, fifo = sys.argv[1:3]
plain_open = av.open

def announced_open(*args, **kwargs):
    Path(marker).touch()
    return plain_open(*args, **kwargs)

av.open = announced_open
from deblur_cli.cli.app import error_boundary
from deblur_cli.video_io.reader import VideoFileSource
try:
    with error_boundary():
        VideoFileSource(fifo)
except typer.Exit as e:
    sys.exit(e.exit_code)
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_while_an_input_blocks_its_opening_stops_the_command(tmp_path, signum, code):
    """FFmpeg swallows the exception a signal handler raises while it opens a file, and reports an
    interrupted call: that was read as an unreadable file, which then blocked on the FIFO for good."""
    fifo, marker = tmp_path / "clip.mp4", tmp_path / "opening"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [sys.executable, "-c", FIFO_SCRIPT, str(marker), str(fifo)],
        cwd=Path(__file__).resolve().parents[1],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the FIFO was never opened"
            time.sleep(0.05)
        time.sleep(0.5)  # inside FFmpeg's open, blocked
        process.send_signal(signum)
        assert process.wait(timeout=30) == code
        assert ("terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted") in process.stderr.read()
    finally:
        process.kill()
        process.wait()


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
def test_a_signal_the_command_was_started_ignoring_stays_ignored(tmp_path):
    """`nohup deblur run ...` (SIGHUP ignored) must outlive the terminal; a script's background job
    (SIGINT ignored) must not stop at a Ctrl-C meant for the shell."""
    script = (
        "import signal, sys; from deblur_cli.cli.app import stop_signals_interrupt\n"
        "with stop_signals_interrupt():\n"
        "    print(signal.getsignal(signal.SIGHUP) is signal.SIG_IGN, signal.getsignal(signal.SIGINT) is signal.SIG_IGN)\n"
    )

    def ignoring():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=ignoring,
                          cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    assert done.stdout == "True True\n", done.stderr
