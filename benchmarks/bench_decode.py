"""How fast an input decodes to RGB frames, as `deblur run` and `deblur evaluate` read it: frames per
second, with image sequences decoded by 1, 2, ... threads.

    python benchmarks/bench_decode.py GOPRO_Large/test/GOPR0384_11_00/blur --workers 1 2 4 8

A GPU restores a 720p frame in 10 to 20 ms; a 720p PNG takes about 70 ms to decode on one core, so
on a GPU an image dataset is read, not restored, at the pace of its decoding.
"""

from __future__ import annotations

import argparse
import time

from deblur_cli.video_io import open_source
from deblur_cli.video_io.images import ImageSequenceSource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="a video, an image folder or a glob")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="threads for image sequences")
    parser.add_argument("--repeat", type=int, default=2, help="timed passes per setting; the best is printed")
    args = parser.parse_args()
    with open_source(args.input) as source:
        paths = getattr(source, "paths", None)
        print(f"{args.input}: {source.info.width}x{source.info.height}, {source.info.frame_count} frames")
    for workers in args.workers if paths else [None]:
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            with ImageSequenceSource(paths, workers=workers) if paths else open_source(args.input) as source:
                count = sum(1 for _ in source)
            best = min(best, (time.perf_counter() - start) / count)
        label = f"{workers} thread(s)" if workers else "video"
        print(f"{label}: {1 / best:.1f} frames/s ({best * 1e3:.1f} ms a frame), best of {args.repeat}")


if __name__ == "__main__":
    main()
