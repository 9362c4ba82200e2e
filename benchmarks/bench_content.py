"""What a model does to each clip of a dataset: PSNR of the input and of the restoration against the sharp frames, the
gain, and the fine detail each keeps, for docs/models.md's "By content" table.

    python benchmarks/bench_content.py DATASET [--model dstnet-s] [--weights FILE] [--precision fp32]
        [--window N] [--overlap K] [--strength S] [--keep-detail] [--markdown]

DATASET is what `deblur evaluate` reads (a folder of sequences, each with `blurred` and `sharp` frames), as
`benchmarks/render_content.py` writes it. Each sequence is restored whole, through the library's `restore` with
`deblur run`'s windows (`--window`, `--overlap`: the model's by default), mixed with its input at `--strength` as
`deblur run --strength` mixes (with `--keep-detail`, their fine texture kept as `deblur run --keep-detail`
keeps it), and rounded to 8 bits as a file stores it. "Detail" is the RMS of the luma's
Laplacian (`deblur_cli.metrics.detail`), each frame's as a share of its sharp frame's, averaged over the frames:
below 100% the frames are softer than the truth, above it they hold more fine structure (sharpened, or noise). The
last row is the mean over the blurred sequences (those whose input is not the sharp frames). `--markdown` writes the
rows as the model card's table does, naming render_content's clips in words (`cups, pan 8 px`).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

import torch

import deblur_cli
from deblur_cli.datasets import find_sequences
from deblur_cli.errors import DeblurError
from deblur_cli.metrics import psnr, to_8bit
from deblur_cli.metrics.detail import detail

from bench_aligned import read_frames
from render_content import describe


def score(restored: torch.Tensor, blurred: torch.Tensor, sharp: torch.Tensor) -> dict[str, float]:
    """PSNR of input and output against the sharp frames (mean over frames; inf where equal) and their detail as a
    share of the sharp frames', in percent."""
    truth = detail(sharp)
    return {
        "input": psnr(blurred, sharp).mean().item(),
        "output": psnr(restored, sharp).mean().item(),
        "detail in": 100 * (detail(blurred) / truth).mean().item(),
        "detail out": 100 * (detail(restored) / truth).mean().item(),
    }


def line(name: str, row: dict[str, float], markdown: bool) -> str:
    gain = row["output"] - row["input"]
    detail_cell = f"{row['detail in']:.0f}% -> {row['detail out']:.0f}%"
    if markdown:
        given = math.isfinite(row["input"])
        cells = [describe(name), f"{row['input']:.2f} dB" if given else "", f"{row['output']:.2f} dB"]
        cells += [f"{gain:+.2f}" if given else "", detail_cell]
        return "| " + " | ".join(cells) + " |"
    gain_cell = f"{gain:+7.2f}" if math.isfinite(row["input"]) else " " * 7
    return f"{name:<20} {row['input']:7.2f} {row['output']:7.2f} {gain_cell}  {detail_cell}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--model", default="dstnet-s")
    parser.add_argument("--weights", default=None, help="a weights file (default: the model's)")
    parser.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16 (as deblur run)")
    parser.add_argument("--window", type=int, default=None, help="frames per window (default: the model's)")
    parser.add_argument("--overlap", type=int, default=None, help="frames windows share (default: the model's)")
    parser.add_argument("--strength", type=float, default=1.0, help="how much of the restoration to keep, 0 to 1")
    parser.add_argument("--keep-detail", action="store_true", help="keep the input's fine texture, as deblur run")
    parser.add_argument("--markdown", action="store_true", help="rows of the model card's table")
    args = parser.parse_args(argv)
    try:
        if not 0 <= args.strength <= 1:
            raise DeblurError(f"--strength must be between 0 and 1, got {args.strength}")
        pairs = find_sequences(args.dataset)
        if not pairs:
            raise DeblurError(f"no blurred/sharp sequences under {args.dataset}")
        model = deblur_cli.load(
            args.model, weights=args.weights, precision=args.precision, window=args.window, overlap=args.overlap,
            keep_detail=args.keep_detail,
        )  # fmt: skip
    except DeblurError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{model!r}, strength {args.strength:g}" + (", keep-detail" if args.keep_detail else ""))
    if args.markdown:
        print("| scene, blur | input | output | gain | detail, input -> output |\n|---|---|---|---|---|")
    else:
        print(f"{'sequence':<20} {'input':>7} {'output':>7} {'gain':>7}  detail (of the sharp frames'), in -> out")
    rows = {}
    for pair in pairs:
        blurred, sharp = read_frames(pair.blurred), read_frames(pair.sharp)
        restored = blurred + args.strength * (model.restore(blurred) - blurred)
        rows[pair.name] = score(to_8bit(restored.clamp(0, 1)), blurred, sharp)
        print(line(pair.name, rows[pair.name], args.markdown), flush=True)
    blurred = [row for row in rows.values() if math.isfinite(row["input"])]  # whose input is not the sharp frames
    if blurred:
        mean = {key: statistics.fmean(row[key] for row in blurred) for key in blurred[0]}
        print(line(f"mean of {len(blurred)} blurred", mean, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
