"""How much of a frame's precision a half-precision DSTNet restorer keeps: its output against float32's,
in levels of 10-bit video, with the network's reconstruction added to the float32 frames (as the
restorer does) and, for comparison, summed in the half dtype inside the network.

    python benchmarks/bench_precision.py [--sources ~/.cache/deblur/sources] [--dtype bf16|fp16] [--clips 4]

Clips: camera-shake clips of 640x368, 6 frames, synthesised from held-out photos of the source cache
(procedural scenes without one), deblur_cli.data.synth.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deblur_cli.data.dataset import split_photos  # noqa: E402
from deblur_cli.data.synth import synthesize_clip  # noqa: E402
from deblur_cli.metrics import psnr  # noqa: E402
from deblur_cli.restorers import ModelOptions, build_restorer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=Path, help="source cache (held-out photos); procedural scenes without")
    parser.add_argument("--model", default="dstnet-s")
    parser.add_argument("--dtype", choices=["bf16", "fp16"], default="bf16")
    parser.add_argument("--clips", type=int, default=4)
    args = parser.parse_args()
    held_out = split_photos(args.sources)[1] if args.sources else []
    reference = build_restorer(args.model, ModelOptions(device="cpu", precision="fp32"))
    half = build_restorer(args.model, ModelOptions(device="cpu", precision=args.dtype))
    rows = []
    for i in range(args.clips):
        photo = np.load(held_out[i % len(held_out)]) if held_out else None
        blurred, sharp = synthesize_clip(4000 + i, frames=6, size=(640, 368), photo=photo, still=False)
        exact = reference(blurred)
        added = half(blurred)  # float32 frames + the half-precision network's reconstruction
        with torch.inference_mode():
            summed = half.model(blurred[None].to(half.dtype))[0].float().clamp(0, 1)
        row = {}
        for name, out in (("added", added), ("summed", summed)):
            levels = (out - exact) * 1023
            row[name] = (levels.pow(2).mean().sqrt().item(), levels.abs().max().item(), psnr(out, sharp).mean().item())
        row["fp32"] = psnr(exact, sharp).mean().item()
        rows.append(row)
        print(f"clip {i}: float32 {row['fp32']:.3f} dB; " + "; ".join(
            f"{name}: rms {r[0]:.2f}, max {r[1]:.2f} 10-bit levels from float32, {r[2]:.3f} dB"
            for name, r in ((n, row[n]) for n in ("added", "summed"))))  # fmt: skip
    for name, what in (("added", "reconstruction added to the float32 frames"), ("summed", f"sum in {args.dtype}")):
        rms = float(np.mean([r[name][0] for r in rows]))
        worst = max(r[name][1] for r in rows)
        print(f"{what}: rms {rms:.2f} 10-bit levels from float32 (max {worst:.2f}), "
              f"PSNR {np.mean([r[name][2] for r in rows]):.3f} dB against float32's {np.mean([r['fp32'] for r in rows]):.3f}")


if __name__ == "__main__":
    main()
