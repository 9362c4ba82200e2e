"""End-to-end speed and memory of `deblur_video` with an identity restorer (I/O, windows and stitching only).

    python benchmarks/bench_pipeline.py speed --frames 300 --size 1280x720 --preset veryfast
    python benchmarks/bench_pipeline.py memory --size 1280x720 --frames 150 600

`speed` prints frames per second end to end (decode + windows + stitch + encode). `memory` runs each length in a
fresh process and prints its peak RSS, to show memory does not grow with the video's length.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from deblur_cli.restorer import Restorer


class Identity(Restorer):
    multiple = 16
    max_frames = None
    device = torch.device("cpu")
    bytes_per_pixel = 64.0

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        return frames


def make_clip(path: Path, frames: int, width: int, height: int) -> None:
    """A moving-noise H.264 clip (hard to compress, like real footage) at 30 fps."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (height + frames, width + frames, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30), options={"preset": "ultrafast", "crf": "18"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[i : i + height, i : i + width]), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def run_once(frames: int, width: int, height: int, preset: str, window: int, overlap: int) -> dict:
    from deblur_cli.pipeline import WindowOptions, deblur_video
    from deblur_cli.video_io import EncodeOptions

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.mp4"
        make_clip(source, frames, width, height)
        started = time.perf_counter()
        result = deblur_video(
            source,
            Path(tmp) / "out.mp4",
            Identity(),
            windows=WindowOptions(window=window, overlap=overlap, tile=None),
            encode=EncodeOptions(preset=preset),
        )
        seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"frames": result.frames, "seconds": round(seconds, 2), "fps": round(result.frames / seconds, 1), "peak_rss_mib": round(peak_kib / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["speed", "memory", "once"])
    parser.add_argument("--frames", type=int, nargs="+", default=[300])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--overlap", type=int, default=2)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    if args.mode in ("speed", "once"):
        for frames in args.frames:
            print(json.dumps(run_once(frames, width, height, args.preset, args.window, args.overlap)))
        return
    rows = []
    for frames in args.frames:  # a fresh process each, so peak RSS belongs to that length alone
        cmd = [sys.executable, __file__, "once", "--frames", str(frames), "--size", args.size, "--preset", args.preset,
               "--window", str(args.window), "--overlap", str(args.overlap)]
        rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
        print(json.dumps(rows[-1]))
    if len(rows) > 1:
        print(f"peak RSS ratio {rows[-1]['frames']}/{rows[0]['frames']} frames: {rows[-1]['peak_rss_mib'] / rows[0]['peak_rss_mib']:.2f}")


if __name__ == "__main__":
    main()
