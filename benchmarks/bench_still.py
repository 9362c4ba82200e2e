"""What a model does to a still clip: one frame repeated, as a tripod shot of a still scene gives.

    python benchmarks/bench_still.py --clips 4 --frames 30

Each clip is one frame of a synthesised scene (procedural, no source cache needed; `deblur demo`'s kind)
repeated `--frames` times, restored as `deblur run` restores it (deblur_cli.load: windows, blending,
tiles), in two versions:

- sharp: the scene's sharp frame (8-bit). The ideal output is the input; PSNR(output, input) says how
  far the model moves it, the detail ratio (RMS of the luma Laplacian, output over input) whether it
  sharpens (> 1) or softens (< 1), and the mean shift per channel (in 8-bit levels) any colour cast.
- blurred: the frame's blurred version (the scene's first frame, with noise and compression as the
  demo has them). PSNR against the sharp frame, for the repeated clip and for the frame restored alone
  (a one-frame clip): how much a model that learned from moving clips does with blur that never changes.

Flicker: the input does not change, so every change between consecutive output frames is the model's.
Mean and 99.9th percentile of |frame t+1 - frame t| in 8-bit levels, over the steps where two windows
hand over (the step into a blended frame or out of one), the steps inside a window, and the two steps
at the ends of the clip.
"""

from __future__ import annotations

import argparse
import sys

import torch

import deblur_cli
from deblur_cli.data.synth import synthesize_clip
from deblur_cli.metrics import psnr, to_8bit
from deblur_cli.metrics.detail import detail
from deblur_cli.windows import plan_windows

def step_kinds(frames: int, window: int, overlap: int) -> list[str]:
    """For each step t -> t+1: "end" (the first or last step), "handover" (t or t+1 blended from two
    windows), else "inside"."""
    blended = set()
    spans = plan_windows(frames, window, overlap)
    for (_, stop), (start, _) in zip(spans, spans[1:]):
        blended.update(range(start, stop))
    kinds = []
    for t in range(frames - 1):
        if t == 0 or t == frames - 2:
            kinds.append("end")
        elif t in blended or t + 1 in blended:
            kinds.append("handover")
        else:
            kinds.append("inside")
    return kinds


def flicker(out: torch.Tensor, kinds: list[str]) -> dict[str, tuple[float, float]]:
    """Mean and 99.9th percentile of |out[t+1] - out[t]| in 8-bit levels, by step kind."""
    steps = (out[1:] - out[:-1]).abs() * 255
    result = {}
    for kind in ("handover", "inside", "end"):
        chosen = [steps[t] for t, k in enumerate(kinds) if k == kind]
        if chosen:
            values = torch.stack(chosen).flatten().double()
            sample = values[:: max(1, len(values) // 2_000_000)]  # quantile's size limit
            result[kind] = (float(values.mean()), float(torch.quantile(sample, 0.999)))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="dstnet-s", help="a model name, as deblur run --model takes")
    parser.add_argument("--weights", default=None, help="a weights file instead of the model's")
    parser.add_argument("--clips", type=int, default=4, help="scenes, seeds 0 to N-1")
    parser.add_argument("--frames", type=int, default=30, help="frames per still clip")
    parser.add_argument("--size", default="640x360", help="WxH")
    parser.add_argument("--strength", type=float, default=1.0, help="as deblur run --strength")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.lower().split("x"))
    model = deblur_cli.load(args.model, weights=args.weights)
    kinds = step_kinds(args.frames, model.windows.window, model.windows.overlap)
    print(f"{model!r}, {args.clips} scenes, {args.frames} frames {width}x{height}, strength {args.strength}")

    def restore(clip: torch.Tensor) -> torch.Tensor:
        out = model.restore(clip)
        return clip + args.strength * (out - clip)  # what --strength does, before 8-bit rounding

    totals: dict[str, list[float]] = {}
    for seed in range(args.clips):
        blurred, sharp = synthesize_clip(seed, frames=1, size=(width, height), still=False)
        still_sharp = to_8bit(sharp[:1]).expand(args.frames, -1, -1, -1).contiguous()
        still_blurred = blurred[:1].expand(args.frames, -1, -1, -1).contiguous()
        out = to_8bit(restore(still_sharp))
        alone = to_8bit(restore(blurred[:1]))[0]
        out_blurred = to_8bit(restore(still_blurred))
        row = {
            "sharp: PSNR out vs in": float(psnr(out, still_sharp).mean()),
            "sharp: detail out/in": float(detail(out).mean() / detail(still_sharp[0])),
            "blurred: input PSNR": float(psnr(blurred[0], sharp[0])),
            "blurred: gain, repeated": float(
                psnr(out_blurred, sharp[:1].expand_as(out_blurred)).mean() - psnr(blurred[0], sharp[0])
            ),
            "blurred: gain, alone": float(psnr(alone, sharp[0]) - psnr(blurred[0], sharp[0])),
        }
        shift = ((out - still_sharp) * 255).mean(dim=(0, 2, 3))
        for channel, value in zip("RGB", shift.tolist()):
            row[f"sharp: mean shift {channel} (levels)"] = value
        for name, clip in (("sharp", out), ("blurred", out_blurred)):
            for kind, (mean, p999) in flicker(clip, kinds).items():
                row[f"{name}: flicker {kind}, mean"] = mean
                row[f"{name}: flicker {kind}, p99.9"] = p999
        print(f"scene {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if "flicker" not in k))
        for key, value in row.items():
            totals.setdefault(key, []).append(value)
    print("mean over scenes:")
    for key, values in totals.items():
        print(f"  {key:36s} {sum(values) / len(values):8.3f}   (scenes: {', '.join(f'{v:.2f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
