"""Without a terminal, `deblur run` and `deblur evaluate` report progress as plain lines now and then."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

import deblur_cli.cli.progress_lines as progress_lines
import deblur_cli.restorers as restorers_module
from deblur_cli.cli import app
from deblur_cli.cli.progress_lines import ProgressLines, in_words, speed, time_left
from tests.media import make_video
from tests.restorers import IdentityRestorer


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_line_at_most_every_interval(capsys):
    clock = Clock()
    lines = ProgressLines("in.mp4", Console(stderr=True), clock=clock)
    for done in range(1, 301):
        clock.now = done * 1.0  # one frame a second
        lines.update(done, 1800, 1.0)
    printed = capsys.readouterr().err.splitlines()
    assert len(printed) == 300 // progress_lines.EVERY
    assert printed[0] == "in.mp4: 60 of 1800 frames (3%), 1.00 fps, about 29 min left"
    clock.now += 3600
    lines.update(301, None, 0.5)
    assert capsys.readouterr().err == "in.mp4: 301 frames, 0.50 fps\n"


def test_a_slow_run_is_told_in_seconds_a_frame(capsys):
    """Found in review: 4K frames on a CPU, 80 s each, were `0.00 fps` (1080p `0.01 fps`) in the log and the done
    line. Below 0.1 fps the speed is the seconds a frame takes, as `deblur info --estimate` tells it."""
    clock = Clock()
    lines = ProgressLines("m4k3.mp4", Console(stderr=True), clock=clock)
    clock.now = 100.0
    lines.update(1, 3, 1 / 80.8)
    assert capsys.readouterr().err == "m4k3.mp4: 1 of 3 frames (33%), 81 s a frame, about 3 min left\n"
    assert [speed(rate) for rate in (0.0, 1 / 2000, 0.05, 0.0999, 0.1, 2.414)] == [
        "0.00 fps",  # no frame out yet
        "33 min a frame",
        "20 s a frame",
        "10 s a frame",
        "0.10 fps",
        "2.41 fps",
    ]


@pytest.mark.parametrize(
    "seconds, text",
    [(40.2, "40 s"), (720, "12 min"), (3720, "1 h 02 min"), (7199.6, "2 h 00 min")]
    # minutes rounded over an hour as under one: 61.9 min was "1 h 01 min", 59.5 min "59 min"
    + [(3714, "1 h 02 min"), (3569, "59 min"), (3571, "1 h 00 min")],
)
def test_durations(seconds, text):
    assert in_words(seconds) == text


@pytest.fixture
def every_update(monkeypatch):
    monkeypatch.setattr(progress_lines, "EVERY", 0.0)
    monkeypatch.setattr(restorers_module, "build_restorer", lambda *a, **k: IdentityRestorer())


def test_run_logs_lines_when_stderr_is_not_a_terminal(tmp_path, every_update):
    source = make_video(tmp_path / "in.mp4", frames=12)
    result = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "out.mp4")])
    assert result.exit_code == 0, result.output
    assert re.search(r"^in\.mp4: 12 of 12 frames \(100%\), [\d.]+ fps$", result.stderr, re.M)
    quiet = CliRunner().invoke(app, ["run", str(source), "-o", str(tmp_path / "quiet.mp4"), "-q"])
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_a_log_gets_lines_while_a_diffusion_model_samples_a_window(tmp_path, monkeypatch):
    """Found in review: a log got a line only when a frame came out, so one window of large frames kept it silent for
    minutes (with a diffusion model on a CPU, hours), which a job's watchdog can take for a hang. The sampler's steps
    come out meanwhile, as on the bar."""
    monkeypatch.setattr(progress_lines, "EVERY", 0.0)
    source = make_video(tmp_path / "in.mp4", frames=4, size=(32, 32))
    args = ["run", str(source), "-o", str(tmp_path / "out.mp4"), "-m", "wtsa-s", "--steps", "2", "--window", "4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # before the first frame, and on: the frames so far, the rate since the start, where the sampler is
    steps = [f"in.mp4: 0 of 4 frames (0%), 0.00 fps, DDIM step {step}/2" for step in (1, 2)]
    assert "\n".join(steps) in result.stderr, result.stderr


def test_a_log_gets_lines_while_dstnet_restores_a_window(tmp_path, monkeypatch):
    """Found in review: a window of 4K frames on a CPU kept a log silent for minutes. A DSTNet tells how far its
    window is as it goes, its tiles one after another, as a diffusion model its sampler's steps."""
    monkeypatch.setattr(progress_lines, "EVERY", 0.0)
    source = make_video(tmp_path / "in.mp4", frames=4, size=(64, 32))
    args = ["run", str(source), "-o", str(tmp_path / "out.mp4"), "-m", "dstnet-s", "--window", "4", "--tile", "32"]
    result = CliRunner().invoke(app, [*args, "--tile-overlap", "16"])
    assert result.exit_code == 0, result.output
    # 3 tiles of 32 px, each 8 steps: both propagations over the 4 frames
    # firstlook54 F4: "window 45% done" beside the bar's frames, in a term of the code's, not the user's
    line = "in.mp4: 0 of 4 frames (0%), 0.00 fps, next frames {}% restored"
    shares = [line.format(100 * done // 24) for done in range(1, 25)]
    assert "\n".join(shares) in result.stderr, result.stderr


def test_a_line_of_a_step_tells_the_time_left_as_the_frames_line_does(monkeypatch):
    """Found before it landed: with a line of the window's step each minute, a run of 4K frames on a CPU, whose
    windows take minutes, would have logged the time left almost never."""
    from rich.progress import Progress

    from deblur_cli.cli.progress_lines import SETTLING, FramesTask

    clock, logged = Clock(), []
    task = FramesTask(Progress(get_time=clock, disable=True), "in.mp4", Console(file=io.StringIO()), quiet=False)
    monkeypatch.setattr(task, "lines", type("Lines", (), {"update": lambda self, *a, **k: logged.append(k)})())
    task(0, 40)
    task.step("next frames 4% restored")
    assert logged[-1] == {"timed": False, "detail": "next frames 4% restored"}  # no frame out yet: no rate to go by
    clock.now = 140.0
    task(SETTLING, 40)
    task.step("next frames 8% restored")
    assert logged[-1] == {"timed": True, "detail": "next frames 8% restored"}


def test_evaluate_logs_lines_too(tmp_path, every_update):
    (tmp_path / "data" / "seq").mkdir(parents=True)
    for name in ("blur", "sharp"):
        make_video(tmp_path / "data" / "seq" / f"{name}.mkv", frames=6, codec="ffv1")
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert re.search(r"^seq \(1/1\): 6 of 6 frames \(100%\), [\d.]+ fps$", result.stderr, re.M)


def test_time_left_follows_the_mean_rate_not_the_last_burst():
    """The bar took rich's estimate, which looks at the last 30 s only: frames come a window at a time, so
    after a window that took 100 s it said one second was left, and then nothing at all."""
    assert time_left(6, 12, 6 / 100) == "2 min left"  # six frames done in 100 s, six to go
    assert time_left(8, 300, 0.37) == "13 min left"
    assert time_left(12, 12, 0.1) == time_left(0, None, 1.0) == time_left(0, 12, 0.0) == ""


def test_the_bar_names_the_sample_and_its_step():
    """Found in review: `--steps 5 --samples 2` showed "DDIM step 1/10"."""
    from deblur_cli.cli.progress_lines import sampling_step

    assert sampling_step(3, 5, 1) == "DDIM step 3/5"
    assert [sampling_step(done, 10, 2) for done in (1, 5, 6, 10)] == [
        "sample 1/2, DDIM step 1/5",
        "sample 1/2, DDIM step 5/5",
        "sample 2/2, DDIM step 1/5",
        "sample 2/2, DDIM step 5/5",
    ]


def test_the_time_left_waits_for_a_window_of_frames(monkeypatch):
    """Found in review: frames come out a window at a time, so the first frame of a 4K run on a CPU came two
    minutes in, and the mean rate then said 18 min were left of a run that ended 2 min later."""
    from rich.progress import Progress

    from deblur_cli.cli.progress_lines import SETTLING, FramesTask

    clock, logged = Clock(), []
    bar = Progress(get_time=clock, disable=True)
    task = FramesTask(bar, "in.mp4", Console(file=io.StringIO()), quiet=False)
    monkeypatch.setattr(task, "lines", type("Lines", (), {"update": lambda self, *a, **k: logged.append(a)})())
    left = lambda: bar.tasks[0].fields["left"]  # noqa: E731
    task(0, 40)  # the total, before the first window
    assert left() == "restoring the first frames"  # found in review: 0/N 0.00 fps for minutes at 4K, and nothing more
    assert {"speed", "detail"} <= set(bar.tasks[0].fields)  # the bar's other columns still have theirs
    task.step("next frames 5% restored")  # says what "restoring the first frames" said, and more
    assert left() == "" and bar.tasks[0].fields["detail"] == "next frames 5% restored"
    clock.now = 105.0
    task(1, 40)  # the first frame of the first window: 105 s for one frame
    assert left() == "" and logged[-1][-1] is False
    assert bar.tasks[0].fields["detail"] == ""  # not "next frames 100% restored" beside them, of frames that are out
    clock.now = 140.0
    task(SETTLING, 40)  # a window's worth out: 14 s a frame, 30 frames to go
    assert left() == "7 min left" and logged[-1][-1] is True


def test_the_bar_draws_on_a_terminal_from_the_first_call_to_the_last():
    """Found before it landed: fields given to the bar's reset replaced them all, and the bar of a run on a terminal
    failed on its fps column (internal error: KeyError: 'fps')."""
    from rich.progress import TextColumn

    from deblur_cli.cli.progress_lines import FramesTask, progress_bar

    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    columns = TextColumn("{task.fields[speed]}"), TextColumn("{task.fields[detail]}", markup=False)
    with progress_bar(console, False, *columns) as bar:
        task = FramesTask(bar, "in.mp4", console, quiet=False)
        for done in (0, 0, 12, 20):
            task(done, 20)
            bar.refresh()
    assert "restoring the first frames" in console.file.getvalue() and "20/20" in console.file.getvalue()
