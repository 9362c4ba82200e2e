"""Frames per second of `deblur run`'s restore path without the codecs: a DSTNet through
`stream.restore_stream` (windows, several per call with --batch, blending) on frames already on
the device, so what it times is the model and the stitching around it.

    python benchmarks/bench_stream.py --variant dstnet --device cuda --dtype bfloat16 --window 30 --batch 1 4
    python benchmarks/bench_stream.py --variant dstnet-s --size 640x352 --frames 40 --batch 1 2

Weights are random (speed does not depend on their values); the frames cycle through a few random
ones. Each batch size runs once untimed (a window of it: allocator, cuDNN) and then once timed,
the device synchronised around the timer. `bench_dstnet.py` times the model alone.

`--source` says what the frames are and where: float on the device (default), uint8 on the device (as
`deblur run` hands them over; it tells each frame's held and grey facts on the host as it decodes, while
this benchmark's frames come without them and are tested on the device, as the API's are), or uint8 in host
memory (no grey test reads the device; each call's windows are uploaded).
`--profile` then runs the stream once more (the first batch size) under PyTorch's profiler and says
where its wall time went: how long the GPU ran kernels (the rest it waited for the host), the host's
time in each part of the restore path (queuing the model's work; the scene-cut thumbnails, whose
read-back waits for the GPU's queued work, and the tests on them; the grey-frame tests, which wait
too), and the operators with the most device time.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import torch

from deblur_cli import scene_cuts, stream
from deblur_cli.devices import synchronize
from deblur_cli.models.dstnet import DSTNET_VARIANTS, DSTNet
from deblur_cli.restorers import DSTNetRestorer
from deblur_cli.stream import restore_stream
from deblur_cli.windows import WindowOptions


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def stream_seconds(restorer: DSTNetRestorer, pool: list[torch.Tensor], frames: int, windows: WindowOptions) -> float:
    """Seconds to restore `frames` frames (cycling through `pool`) as `deblur run` would."""
    source = itertools.islice(itertools.cycle(pool), frames)
    synchronize(restorer.device)
    start = time.perf_counter()
    with torch.inference_mode():
        done = sum(1 for _ in restore_stream(source, restorer, windows, tuple(pool[0].shape[-2:])))
    synchronize(restorer.device)
    if done != frames:
        raise AssertionError(f"restored {done} frames of {frames}")
    return time.perf_counter() - start


# the restore path's parts timed by --profile: (module, function, label)
PARTS = (
    (stream, "restore_windows", "model calls (queuing the model's work)"),
    (stream, "cuts_in", "scene-cut tests (thumbnails, read-back, tests)"),
    (scene_cuts, "_small", "scene-cut thumbnails and their read-back"),
    (stream, "is_grey", "grey-frame tests"),
)


def profiled(restorer: DSTNetRestorer, pool: list[torch.Tensor], frames: int, windows: WindowOptions) -> str:
    """One stream of `frames` frames under the profiler, each of PARTS labelled: where the wall time went."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from profiling import device_seconds

    def labelled(fn, label):
        def call(*args, **kwargs):
            with torch.profiler.record_function(label):
                return fn(*args, **kwargs)

        return call

    originals = [(module, name, getattr(module, name)) for module, name, _ in PARTS]
    for (module, name, fn), (_, _, label) in zip(originals, PARTS):
        setattr(module, name, labelled(fn, label))
    activities = [torch.profiler.ProfilerActivity.CPU]
    if restorer.device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    try:
        with torch.profiler.profile(activities=activities) as profile:
            wall = stream_seconds(restorer, pool, frames, windows)
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)
    by_name = {event.key: event for event in profile.key_averages()}
    lines = [f"profiled {frames} frames, {windows.batch} window(s) per call: wall {wall:.3f} s"]
    if restorer.device.type == "cuda":
        busy = device_seconds(profile, labels=[label for _, _, label in PARTS])
        lines.append(f"  GPU running kernels {busy:.3f} s ({100 * busy / wall:.0f}% of the wall time)")
    for _, _, label in PARTS:
        event = by_name.get(label)
        seconds = event.cpu_time_total / 1e6 if event is not None else 0.0
        calls = event.count if event is not None else 0
        lines.append(f"  host in {label}: {seconds:.3f} s over {calls} calls ({100 * seconds / wall:.0f}%)")
    lines.append("  (the thumbnails' time is part of the scene-cut tests')")
    key = "self_cuda_time_total" if restorer.device.type == "cuda" else "self_cpu_time_total"
    lines.append(profile.key_averages().table(sort_by=key, row_limit=12))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=sorted(DSTNET_VARIANTS), default="dstnet")
    parser.add_argument("--size", type=_size, default=(1280, 720), help="WIDTHxHEIGHT")
    parser.add_argument("--frames", type=int, default=120, help="frames of the stream")
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4], help="windows per call, one run each")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="bfloat16")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    parser.add_argument("--compile", action="store_true", help="torch.compile the propagation steps")
    parser.add_argument("--profile", action="store_true", help="then profile one stream: where its wall time went")
    parser.add_argument(
        "--source", choices=["device-float", "device-uint8", "host-uint8"], default="device-float",
        help="the frames given: float on the device; uint8 on the device (as deblur run's decoding thread "
        "uploads them); uint8 in host memory (the grey tests then read nothing back from the device; each "
        "call's windows are uploaded, and the scene-cut tests still read their thumbnails back)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    torch.manual_seed(0)
    restorer = DSTNetRestorer(DSTNet(DSTNET_VARIANTS[args.variant]), device, dtype)
    if args.compile:
        restorer.compile(print)  # as deblur run --compile does
    width, height = args.size
    generator = torch.Generator().manual_seed(1)
    pool = [torch.rand(3, height, width, generator=generator) for _ in range(min(args.frames, 8))]
    if args.source != "device-float":  # 8-bit frames, as decoded
        pool = [frame.mul(255).round().to(torch.uint8) for frame in pool]
    if args.source != "host-uint8":
        pool = [frame.to(device) for frame in pool]
    print(
        f"{args.variant}, {width}x{height}, {args.frames} frames, windows of {args.window} overlapping by "
        f"{args.overlap}, {args.dtype} on {device}, frames {args.source}, torch {torch.__version__}"
        + (", cudnn.benchmark" if args.cudnn_benchmark else "")
        + (", compiled propagation steps" if args.compile else "")
    )
    for batch in args.batch:
        windows = WindowOptions(window=args.window, overlap=args.overlap, tile=None, batch=batch)
        stream_seconds(restorer, pool, min(args.frames, batch * (args.window - args.overlap) + args.overlap), windows)
        seconds = stream_seconds(restorer, pool, args.frames, windows)
        peak = f", peak CUDA memory {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB" if device.type == "cuda" else ""
        print(f"batch {batch}: {seconds:.2f} s, {args.frames / seconds:.1f} fps{peak}", flush=True)
    if args.profile:
        windows = WindowOptions(window=args.window, overlap=args.overlap, tile=None, batch=args.batch[0])
        print(profiled(restorer, pool, args.frames, windows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
