"""How much temporal context a DSTNet uses: PSNR on held-out clips restored in windows of 1, 2, 5, ... frames.

    python benchmarks/bench_window.py --sources ~/.cache/deblur/sources --clips 4 --windows 1,2,5,10,20

Each clip (camera shake with a moving camera, `--size`, `--frames` frames, from the held-out photos) is
restored as `deblur run` does it: windows of W frames, `--overlap` frames blended between neighbours.
With W = 1 every frame is restored alone; the rise from there is what the neighbours add.
"""

from __future__ import annotations

import argparse
import sys

import torch

from deblur_cli.data.dataset import FixedClips, split_photos
from deblur_cli.devices import resolve_dtype
from deblur_cli.dstnet_weights import load_dstnet
from deblur_cli.metrics import psnr
from deblur_cli.tiles import crop_to, pad_to_multiple
from deblur_cli.weights import resolve_weights
from deblur_cli.windows import stitch_windows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="dstnet-s", choices=["dstnet", "dstnet-s"])
    parser.add_argument("--weights", default=None, help="a weights file or a name from `deblur models` (default: the model's)")
    parser.add_argument("--sources", required=True, help="the source cache of `deblur synth --fetch`")
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--size", default="640x360", help="WxH")
    parser.add_argument("--windows", default="1,2,5,10,20", help="comma-separated window lengths")
    parser.add_argument("--overlap", type=int, default=2, help="frames shared by neighbouring windows (at most W - 1)")
    parser.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.lower().split("x"))
    windows = [int(w) for w in args.windows.split(",")]

    device = torch.device("cpu")
    dtype = resolve_dtype(args.precision, device)
    resolved = resolve_weights(args.model, weights=args.weights, offline=True)
    model = load_dstnet(resolved.path).eval().to(dtype)
    _, held_out = split_photos(args.sources)
    clips = FixedClips(held_out, count=args.clips, frames=args.frames, size=(width, height), seed=2, max_layers=0, still=False)

    def restore(windows: torch.Tensor, _starts: list[int]) -> torch.Tensor:  # (B, T, 3, H, W) of one length
        padded, size = pad_to_multiple(windows.to(dtype), 16)
        return crop_to(model(padded), size).float().clamp(0, 1)

    totals = dict.fromkeys(["input", *windows], 0.0)
    with torch.inference_mode():
        for index in range(len(clips)):
            blurred, sharp = clips[index]
            row = {"input": float(psnr(blurred, sharp).mean())}
            for window in windows:
                overlap = min(args.overlap, window - 1)
                restored = torch.stack(list(stitch_windows(iter(blurred), restore, window=window, overlap=overlap)))
                row[window] = float(psnr(restored, sharp).mean())
            for key, value in row.items():
                totals[key] += value
            print(f"clip {index}: " + "  ".join(f"{key}: {value:.2f}" for key, value in row.items()), flush=True)
    mean = {key: value / len(clips) for key, value in totals.items()}
    print(f"mean PSNR over {len(clips)} clips of {args.frames} frames, {width}x{height}, {dtype}:")
    for window in windows:
        print(f"  window {window:3d}: {mean[window]:.3f} dB (gain {mean[window] - mean['input']:+.3f})")
    print(f"  input     : {mean['input']:.3f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
