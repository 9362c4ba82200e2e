"""Where `deblur run`'s restore path reads GPU values back to the host, which makes the CPU wait for all
the GPU work queued before: counted on the CPU, by intercepting torch calls, over a stream of frames.

    python benchmarks/host_reads.py            # 120 frames, windows of 30 overlapping by 2, dstnet-s
    python benchmarks/host_reads.py --no-scene-cuts

Prints each reading call (torch.equal, .cpu(), .tolist(), bool(tensor), .item()...) with the line of
deblur_cli that made it and how often. On a GPU, a read of a tensor on the GPU waits for the GPU;
the same calls on CPU tensors (the scene-cut tests after their thumbnails are copied to the host)
cost no wait. This stream's frames come without their facts, so restore_stream tells them on the frames'
device: is_grey's and is_held's torch.equal (stream.py, once each per frame), GPU reads for frames on a GPU
(`deblur run` tells them on the host as it decodes, frame_facts.py, and hands them over with the frames). The
scene-cut thumbnails' .cpu() (scene_cuts.py, once per window) meets GPU tensors in `deblur run` too.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import traceback

import torch
from torch.overrides import TorchFunctionMode

from deblur_cli.models.dstnet import DSTNET_VARIANTS, DSTNet
from deblur_cli.restorers import DSTNetRestorer
from deblur_cli.stream import restore_stream
from deblur_cli.windows import WindowOptions

READS = {"item", "tolist", "__bool__", "equal", "__int__", "__float__", "cpu", "numpy", "nonzero", "any", "all"}


class Reads(TorchFunctionMode):
    """Counts the torch calls in READS by (name, the deblur_cli line that made them)."""

    def __init__(self):
        super().__init__()
        self.counts: collections.Counter = collections.Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        if name in READS:
            ours = [f for f in traceback.extract_stack()[:-1] if "deblur_cli" in f.filename]
            where = f"{ours[-1].filename.split('deblur_cli/')[-1]}:{ours[-1].lineno}" if ours else "(elsewhere)"
            self.counts[(name, where)] += 1
        return func(*args, **(kwargs or {}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--no-scene-cuts", action="store_true")
    args = parser.parse_args(argv)
    restorer = DSTNetRestorer(DSTNet(DSTNET_VARIANTS["dstnet-s"]), torch.device("cpu"), torch.float32)
    pool = [torch.rand(3, 48, 64, generator=torch.Generator().manual_seed(i)) for i in range(8)]
    windows = WindowOptions(args.window, args.overlap, tile=None, scene_cuts=not args.no_scene_cuts)
    reads = Reads()
    with torch.inference_mode(), reads:
        source = itertools.islice(itertools.cycle(pool), args.frames)
        done = sum(1 for _ in restore_stream(source, restorer, windows, (48, 64)))
    print(f"{done} frames, windows of {args.window} overlapping by {args.overlap}")
    for (name, where), count in reads.counts.most_common():
        print(f"{count:6d}  {name:10s} {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
