"""A real process interrupted part-way: Ctrl-C (SIGINT) and a hard kill (SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import media

# Runs `deblur run` with a restorer that announces its first window and then works slowly.
SCRIPT = """
import sys, time
from pathlib import Path
from tests.restorers import IdentityRestorer
import deblur_cli.cli.run as run_module
from deblur_cli.cli import main

marker, source, target = sys.argv[1:4]

class Slow(IdentityRestorer):
    def __call__(self, frames):
        Path(marker).touch()
        time.sleep(0.2)
        return super().__call__(frames)

run_module.build_restorer = lambda *a, **k: Slow()
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
