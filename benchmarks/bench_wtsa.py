"""Speed of the WTSA diffusion model: parameters, seconds per DDIM step, frames per second.

    python benchmarks/bench_wtsa.py --variant wtsa-s --device cpu --steps 2
    python benchmarks/bench_wtsa.py --variant wtsa --device cuda --precision bf16 --steps 20

A burn-in run (kernel selection, allocator warm-up) comes first, then `--repeat` timed runs of
sample() over one window of `--frames` frames, the device synchronised around the timer. Weights are
random: speed does not depend on them. fps counts the window's frames once; the pipeline's window
overlap and spatial tiles cost extra on top. The arithmetic of one model call per frame (GFLOP,
counted on the meta device) turns the time into achieved TFLOP/s; `--profile` prints the operators
that took the most time over one more DDIM step.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from deblur_cli.diffusion import sample
from deblur_cli.models.compiling import Compiled
from deblur_cli.models.wtsa_unet import WTSA_VARIANTS, WTSAUNet
from profiling import count_flops, kernel_table

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", default="wtsa-s", choices=sorted(WTSA_VARIANTS))
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=sorted(DTYPES))
    p.add_argument("--frames", type=int, default=5, help="frames per window")
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--steps", type=int, default=2, help="DDIM steps per timed run")
    p.add_argument("--burn-in-steps", type=int, default=1, help="DDIM steps of the untimed first run")
    p.add_argument("--repeat", type=int, default=1, help="timed runs; the best is reported")
    p.add_argument("--profile", action="store_true", help="then profile one DDIM step: the top operators")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the model first (the burn-in run then includes compiling)")
    return p.parse_args()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    dtype = DTYPES[args.precision]
    torch.manual_seed(0)
    for name, config in WTSA_VARIANTS.items():
        print(f"params {name}: {sum(p.numel() for p in WTSAUNet(config).parameters()):,}")

    model = WTSAUNet(WTSA_VARIANTS[args.variant]).to(device=device, dtype=dtype).eval()
    if args.compile:  # as deblur run --compile does (DiffusionRestorer.compile)
        model.forward = Compiled(model.forward, print)
    cond = torch.rand(1, args.frames, 3, args.height, args.width, device=device).to(dtype)
    print(f"{args.variant} on {device} ({args.precision}, {torch.get_num_threads()} CPU threads), "
          f"{args.frames} frames of {args.width}x{args.height}" + (", torch.compile" if args.compile else ""))

    with torch.inference_mode():
        synchronize(device)
        start = time.perf_counter()
        sample(model, cond, steps=args.burn_in_steps, seed=0)
        synchronize(device)
        print(f"burn-in: {args.burn_in_steps} steps in {time.perf_counter() - start:.2f} s")
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        best = float("inf")
        for _ in range(args.repeat):
            synchronize(device)
            start = time.perf_counter()
            sample(model, cond, steps=args.steps, seed=0)
            synchronize(device)
            best = min(best, time.perf_counter() - start)

    per_step = best / args.steps
    print(f"{args.steps} steps: {best:.3f} s, {per_step * 1e3:.1f} ms/step, "
          f"{per_step / args.frames * 1e3:.1f} ms/step/frame, {args.frames / best:.3f} fps at {args.steps} steps")
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")
    else:
        print(f"peak process RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    config = WTSA_VARIANTS[args.variant]

    def call_on(meta: torch.device) -> None:
        x = torch.empty(cond.shape, device=meta)
        WTSAUNet(config).to(meta).eval()(x, x, torch.zeros(1, dtype=torch.long, device=meta))

    flops = count_flops(call_on) / args.frames
    print(f"{flops / 1e9:.1f} GFLOP per frame per step: {flops / (per_step / args.frames) / 1e12:.2f} TFLOP/s achieved")
    if args.profile:
        print(kernel_table(lambda: sample(model, cond, steps=1, seed=0), device))


if __name__ == "__main__":
    main()
