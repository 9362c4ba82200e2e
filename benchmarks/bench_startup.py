"""How long `deblur run` takes before and around its first frame: the whole command on a one-frame clip
(Python and torch starting, the weights loading, the file written), and the weights loading alone, per
bundled model. With --commands, how long the command line takes to answer where no model runs: --version,
--help, a command's --help, `info`, an input that does not exist, and `models` (which imports torch).

    python benchmarks/bench_startup.py --models dstnet-s wtsa-s --repeat 3
    python benchmarks/bench_startup.py --models --commands --repeat 9

Each command runs in a fresh process, as a user's does; the median of `--repeat` runs is printed, and for
the command line its CPU time too (user and system), steadier than the wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LOAD = """
import sys, time
start = time.perf_counter()
from deblur_cli.restorers import ModelOptions, build_restorer
imported = time.perf_counter()
build_restorer(sys.argv[1], ModelOptions(device="cpu", steps=1))
print(imported - start, time.perf_counter() - imported)
"""
# what the command line answers without running a model, and its exit code; `one.mp4` is the one-frame clip
COMMANDS = {
    "--version": 0,
    "--help": 0,
    "run --help": 0,
    "info one.mp4": 0,
    "run missing.mp4 -o out.mp4": 1,
    "models": 0,
}


def one_frame_clip(path: Path) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def time_command(command: str, folder: str) -> tuple[float, float]:
    """The wall and CPU seconds (user and system) of `deblur COMMAND` in a fresh process, run in `folder`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "deblur_cli", *command.split()], cwd=folder, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == COMMANDS[command], (command, done.stderr)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=["dstnet-s", "wtsa-s"], help="bundled models to start")
    parser.add_argument("--commands", action="store_true", help="time the command line where no model runs")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is printed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        clip = one_frame_clip(Path(folder) / "one.mp4")
        for model in args.models:
            whole, imports, loads = [], [], []
            for k in range(args.repeat):
                steps = ["--steps", "1"] if model.startswith("wtsa") else []  # one DDIM step: startup, not sampling
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "deblur_cli", "run", str(clip), "-o", f"{folder}/{model}_{k}.mp4", "-m", model,
                     "-q", *steps],
                    check=True,
                )  # fmt: skip
                whole.append(time.perf_counter() - start)
                timed = subprocess.run([sys.executable, "-c", LOAD, model], capture_output=True, text=True, check=True)
                imported, loaded = map(float, timed.stdout.split())
                imports.append(imported)
                loads.append(loaded)
            print(
                f"{model}: deblur run of one 64x48 frame {statistics.median(whole):.2f} s; importing "
                f"deblur_cli.restorers {statistics.median(imports):.2f} s; loading the weights "
                f"{statistics.median(loads):.2f} s (median of {args.repeat})"
            )
        if args.commands:
            times = {command: [] for command in COMMANDS}
            for _ in range(args.repeat):  # the commands alternated, so that other work on the machine falls on each
                for command in COMMANDS:
                    times[command].append(time_command(command, folder))
            for command, runs in times.items():
                walls, cpus = zip(*runs)
                print(
                    f"deblur {command}: {statistics.median(walls):.2f} s ({min(walls):.2f} to {max(walls):.2f}), CPU "
                    f"{statistics.median(cpus):.2f} s ({min(cpus):.2f} to {max(cpus):.2f}) (median of {args.repeat})"
                )


if __name__ == "__main__":
    main()
