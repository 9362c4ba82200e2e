"""How long `deblur run` takes before and around its first frame: the whole command on a one-frame clip
(Python and torch starting, the weights loading, the file written), and the weights loading alone, per
bundled model.

    python benchmarks/bench_startup.py --models dstnet-s wtsa-s --repeat 3

Each command runs in a fresh process, as a user's does; the median of `--repeat` runs is printed.
"""

from __future__ import annotations

import argparse
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


def one_frame_clip(path: Path) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["dstnet-s", "wtsa-s"], help="bundled models to start")
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


if __name__ == "__main__":
    main()
