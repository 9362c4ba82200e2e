"""How close `deblur info --estimate` comes: its estimate against the time the model then takes on the frames.

    python benchmarks/bench_estimate.py --model dstnet-s --sizes 640x360,1280x720,1920x1080 --frames 26

For each size, estimate.estimate times the model as `info --estimate` does (one window of a strip, untimed once,
then timed), and then the same restorer restores `--frames` frames of seeded noise of the whole size through
`deblur run`'s path (stream.restore_stream: windows, overlap blending, padding), timed. The ratio is estimate
over measured; decoding and encoding, which neither counts, are left out of both.
"""

from __future__ import annotations

import argparse
import time

import torch

from deblur_cli.estimate import estimate
from deblur_cli.restorers import ModelOptions, build_restorer
from deblur_cli.run_options import window_options
from deblur_cli.stream import restore_stream


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="dstnet-s", choices=["dstnet", "dstnet-s", "wtsa", "wtsa-s"])
    parser.add_argument("--sizes", default="640x360,1280x720", help="comma-separated WxH")
    parser.add_argument("--frames", type=int, default=26, help="frames restored for the measured time")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps of a diffusion model")
    args = parser.parse_args(argv)
    restorer = build_restorer(args.model, ModelOptions(device=args.device, precision=args.precision, steps=args.steps))
    windows, _ = window_options(args.model, None, None, None, None)
    print(f"{args.model} on {restorer.device}, {restorer.dtype}, {args.frames} frames, windows {windows.window}")
    print(f"{'size':>10} {'estimate s/frame':>17} {'measured s/frame':>17} {'ratio':>6}")
    for size in args.sizes.split(","):
        width, height = (int(side) for side in size.lower().split("x"))
        found = estimate(restorer, (height, width), windows.window, windows.overlap, frames=args.frames)
        frames = torch.rand((args.frames, 3, height, width), generator=torch.Generator().manual_seed(1))
        started = time.perf_counter()
        with torch.inference_mode():
            for restored in restore_stream(frames.unbind(0), restorer, windows, (height, width)):
                restored.cpu()  # each frame leaves the device, as the writer takes it
        measured = (time.perf_counter() - started) / args.frames
        estimated = found.seconds(args.frames) / args.frames
        print(f"{size:>10} {estimated:17.3f} {measured:17.3f} {estimated / measured:6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
