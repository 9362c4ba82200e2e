"""The `deblur` command lets PyTorch's threads sleep while they wait where other programs keep its cores
busy (cpu_share.py): read from /proc/stat while the command line loads, before torch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deblur_cli import cpu_share
from deblur_cli.cpu_share import Sample, others_busy, sample, wait_passively_if_shared


def test_only_the_process_s_own_cores_are_counted_idle_and_iowait_are_not_work(tmp_path):
    stat = tmp_path / "stat"
    ticks = os.sysconf("SC_CLK_TCK")
    cores = sorted(os.sched_getaffinity(0))
    lines = ["cpu  1 1 1 1 1 1 1 1 0 0"]  # the sum of all cores: not counted again
    lines += [f"cpu{n} 100 10 50 7000 300 5 5 30 20 0" for n in cores]  # 200 ticks of work each
    lines += [f"cpu{max(cores) + 1} 9999 0 0 0 0 0 0 0 0 0", "intr 123 4 5", "ctxt 99"]  # not this process's
    stat.write_text("\n".join(lines) + "\n")
    assert sample(stat).busy == pytest.approx(200 * len(cores) / ticks)


def test_an_odd_proc_stat_is_read_or_passed_over_not_a_crash(tmp_path):
    """Found in review: four fields (old kernels), an empty line or a word where a number goes raised, and
    every command, --help too, would have ended in a traceback."""
    stat = tmp_path / "stat"
    core = min(os.sched_getaffinity(0))
    stat.write_text(f"cpu  1 2 3 4\n\ncpu{core} 100 0 50 7000\n")
    assert sample(stat).busy == pytest.approx(150 / os.sysconf("SC_CLK_TCK"))
    stat.write_text(f"cpu{core} 100 zero 50 7000 0 0 0 0\n")
    assert sample(stat) is None


def test_other_programs_work_is_the_cores_work_less_the_process_s_own():
    start = Sample(seconds=10.0, busy=100.0, own=1.0)
    assert others_busy(start, Sample(seconds=10.5, busy=100.9, own=1.4)) == pytest.approx(1.0)  # 0.5 of 0.9 s
    assert others_busy(start, Sample(seconds=10.5, busy=100.4, own=1.4)) == pytest.approx(0.0, abs=1e-9)  # itself alone
    assert others_busy(start, Sample(seconds=10.05, busy=101.0, own=1.0)) is None  # too close to tell
    assert others_busy(None, start) is None and others_busy(start, None) is None  # no /proc/stat


@pytest.mark.parametrize(
    "environment, busy, chosen",
    [
        ({}, 100.6, True),
        ({}, 100.2, False),
        ({"OMP_WAIT_POLICY": "ACTIVE"}, 100.9, False),
        ({"GOMP_SPINCOUNT": "1"}, 100.9, False),
    ],
)
def test_passive_waiting_is_chosen_on_shared_cores_unless_the_environment_says_how(
    monkeypatch, environment, busy, chosen
):
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cpu_share, "chose_passive_waiting", False)
    start = Sample(seconds=0.0, busy=100.0, own=0.0)
    assert wait_passively_if_shared(start, Sample(seconds=1.0, busy=busy, own=0.0)) == chosen
    assert cpu_share.chose_passive_waiting == chosen
    assert os.environ.get("OMP_WAIT_POLICY") == ("PASSIVE" if chosen else environment.get("OMP_WAIT_POLICY"))


def _without_waiting() -> dict[str, str]:
    """This process's environment less OpenMP's waiting, which the command chooses only where it is unset."""
    return {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}


def _models_command(tmp_path, sampling: str, after: str) -> subprocess.CompletedProcess:
    """`deblur models` run by launch.main in a process of its own, OpenMP's waiting unset, with cpu_share's
    counters (`share.sample`) replaced as `sampling` says (Python lines, after `import sys` and `share`), then the
    Python lines `after`."""
    code = (
        "import sys\n"
        "import deblur_cli.cpu_share as share\n"
        f"{sampling}"
        "import deblur_cli.launch as launch\n"
        "sys.argv = ['deblur', 'models']\n"
        "try:\n    launch.main()\nexcept SystemExit:\n    pass\n"
        f"{after}"
    )
    environ = _without_waiting()
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=environ)


def test_the_command_chooses_before_torch_loads_and_the_package_import_chooses_nothing(tmp_path):
    """libgomp reads OMP_WAIT_POLICY once, when torch loads it: the command decides before any command
    imports torch, from the cores' work while the command line loaded (here made to look shared)."""
    sampling = (
        "import itertools\n"
        "counter = itertools.count()\n"
        "share.sample = lambda: share.Sample(seconds=next(counter), busy=0.0 if next(counter) < 2 else 5.0, own=0.0)\n"
    )
    after = "import os, torch\nprint(os.environ.get('OMP_WAIT_POLICY'), share.chose_passive_waiting)\n"
    done = _models_command(tmp_path, sampling, after)
    assert done.stdout.splitlines()[-1] == "PASSIVE True", done.stderr
    imported = subprocess.run(
        [sys.executable, "-c", "import os, deblur_cli.launch, deblur_cli.cli; print(os.environ.get('OMP_WAIT_POLICY'))"],
        capture_output=True, text=True, cwd=tmp_path, env=_without_waiting(),
    )  # fmt: skip
    assert imported.stdout == "None\n", imported.stderr


def test_the_command_measures_until_its_body_its_own_module_loaded(tmp_path):
    """The command line imports a command's module only when the command is looked up (cli/app.COMMANDS), most
    of its start: the cores' work is measured over that too, from the command's start to its body."""
    sampling = (
        "seen = []\n"
        "share.sample = lambda: seen.append('deblur_cli.cli.weights' in sys.modules) or share.Sample(0.0, 0.0, 0.0)\n"
    )
    done = _models_command(tmp_path, sampling, "print(seen)\n")
    assert done.stdout.splitlines()[-1] == "[False, True]", done.stderr


def test_threads_fit_the_cores_other_programs_leave_free():
    assert [cpu_share.threads_for(free, 2) for free in (2.0, 1.6, 1.5, 1.4, 0.6, 0.0, -1.0)] == [2, 2, 2, 1, 1, 1, 1]
    assert cpu_share.threads_for(16.0, 8) == 8 and cpu_share.threads_for(5.3, 8) == 5


def test_a_thread_fit_lowers_the_count_at_once_and_raises_it_when_two_periods_in_a_row_ask(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)  # 2 cores
    others = [0.1, 1.0, 0.7, 0.0, 1.0, 0.0, 0.0, 0.4]  # other programs' cores' worth of work in each 30-s period
    samples = [Sample(seconds=0.0, busy=0.0, own=0.0)]
    for k, busy in enumerate(others):
        before = samples[-1]
        if k == 1:  # a poll 10 s into a period: too soon, it measures nothing and the period goes on
            samples.append(Sample(seconds=before.seconds + 10.0, busy=before.busy + 10.0, own=before.own + 10.0))
        own = 1.5 * 30  # this process's own work, and its data workers', is not other programs'
        samples.append(
            Sample(seconds=before.seconds + 30.0, busy=before.busy + 30.0 * busy + own, own=before.own + own)
        )
    polls = iter(samples)
    fit = cpu_share.ThreadFit(2, every=30.0, sampler=lambda: next(polls))
    assert fit.most == fit.current == 2 and fit.cores == 2
    answers = [fit.poll() for _ in samples[1:]]
    # a busy period (the 2nd) goes to 1 thread at once; one free period (the 4th) changes nothing, two (6, 7) go back
    assert answers == [None, None, 1, None, None, None, None, 2, None], answers
    assert fit.current == 2 and fit.others == pytest.approx(0.4)
    no_proc = cpu_share.ThreadFit(2, every=30.0, sampler=lambda: None)  # no /proc/stat: nothing is ever changed
    assert [no_proc.poll() for _ in range(3)] == [None, None, None]


def _burn(seconds: float, burnt, done) -> None:
    """A child's work: `seconds` of CPU time, then it waits, alive, until told to end."""
    import time

    while time.process_time() < seconds:
        pass
    burnt.set()
    done.wait(30)


def test_a_sample_counts_its_live_workers_work_as_its_own():
    """Data-loader workers are processes of their own, whose CPU time os.times counts only once they end: until
    then a sample took their work for other programs', and a training run with --workers would fit its threads to
    its own workers."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    burnt, done = context.Event(), context.Event()
    child = context.Process(target=_burn, args=(0.4, burnt, done))
    child.start()
    try:
        assert burnt.wait(60)
        live = cpu_share._live_children_seconds()
        assert live >= 0.35
        assert sample().own >= os.times().user + os.times().system + 0.35
    finally:
        done.set()
        child.join(30)
    # ended and waited for, it is os.times' to count; other tests' children in this process may still be alive
    # (seen on Python 3.10 under xdist: 0.01 s of them), so the ended child's time is what must be gone
    assert cpu_share._live_children_seconds() < live - 0.3
    assert os.times().children_user + os.times().children_system >= 0.35
