"""Seconds per training step of a model, split into data synthesis and the optimiser step, per precision.

    python benchmarks/bench_train.py --model dstnet-s --crop 128 --frames 5 --batch 4 --precision fp32 bf16

The data part synthesises `--batch` clips as `deblur train` does (procedural scenes unless `--sources`
names a photo cache; in this process on the CPU, or with `--gpu-synthesis` on the device, after one
untimed clip that loads the photos); the step part runs forward, loss, backward, gradient clipping and AdamW on one
fixed batch, under the autocast of each `--precision` (see `deblur_cli.train.autocast_dtype`). Each
figure is the median of `--repeat` steps after `--warmup` untimed ones.
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext

import torch

from deblur_cli.data.dataset import TrainClips, split_photos
from deblur_cli.devices import synchronize
from deblur_cli.train import autocast_dtype, chosen_precision
from deblur_cli.train_config import PRECISIONS, TrainConfig
from deblur_cli.train_tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="dstnet-s")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=PRECISIONS)
    parser.add_argument("--sources", default=None, help="photo cache of `deblur synth --fetch`")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--gpu-synthesis", action="store_true", help="render the clips on --device")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = TrainConfig(model=args.model, crop=args.crop, frames=args.frames, batch=args.batch)
    task = get_task(args.model)

    photos, _ = split_photos(args.sources)
    synth_device = device if args.gpu_synthesis else torch.device("cpu")
    clips = iter(TrainClips(photos, frames=args.frames, crop=args.crop, seed=0, device=synth_device))
    next(clips)
    synchronize(device)
    start = time.perf_counter()
    batch = [next(clips) for _ in range(args.batch)]
    synchronize(device)
    data_s = time.perf_counter() - start
    blurred = torch.stack([b for b, _ in batch]).to(device)
    sharp = torch.stack([s for _, s in batch]).to(device)
    print(f"{args.model} crop {args.crop} frames {args.frames} batch {args.batch} on {device}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print(f"  data synthesis on {synth_device}: {data_s:.3f} s per batch")

    for precision in args.precision:
        chosen = chosen_precision(precision, device)  # auto: as a new run on this device records it
        half = autocast_dtype(chosen, device)
        torch.manual_seed(0)
        model = task.build().to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
        generator = torch.Generator(device).manual_seed(0)
        autocast = torch.autocast(device.type, dtype=half) if half else nullcontext()
        times = []
        for i in range(args.warmup + args.repeat):
            synchronize(device)
            start = time.perf_counter()
            with autocast:
                loss = task.loss(model, blurred, sharp, config, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            synchronize(device)
            if i >= args.warmup:
                times.append(time.perf_counter() - start)
        name = chosen if chosen == precision else f"{precision} ({chosen})"
        print(f"  {name:>5}: {statistics.median(times):.3f} s per optimiser step (median of {args.repeat})")


if __name__ == "__main__":
    main()
