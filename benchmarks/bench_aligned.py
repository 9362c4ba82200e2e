"""Whether a DSTNet reads blur from the motion between frames: PSNR of clips restored as they are, and with
their frames first aligned by their global shift (restored, then shifted back).

    python benchmarks/bench_aligned.py DATASET [--model dstnet-s] [--weights FILE]

DATASET is laid out as `deblur evaluate` reads it, each sequence blurred and sharp frames (folders of frames
or videos). For each sequence the shift between consecutive frames is measured by phase correlation of
their luma (whole pixels), every frame is moved onto the middle frame by its shift on a canvas grown by the
largest shift (edges repeated), the canvas restored as one window, and each frame cut back out where it was.
Alignment keeps every pixel of the picture and its blur; only the motion between frames goes. A model that
gains much less on aligned frames takes the motion between frames as its measure of the blur.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import deblur_cli
from deblur_cli.datasets import find_sequences
from deblur_cli.filters import luma
from deblur_cli.levels import as_float, to_compact_tensor
from deblur_cli.metrics import psnr
from deblur_cli.video_io import open_source


def read_frames(path: Path) -> torch.Tensor:
    """The frames of a sequence (a folder of frames or a video, as `deblur evaluate` reads it) as (T, 3, H, W)
    float in [0, 1]."""
    with open_source(path) as source:
        return torch.stack([as_float(to_compact_tensor(frame.image, torch.device("cpu"))) for frame in source])


def shift_between(reference: torch.Tensor, moved: torch.Tensor) -> tuple[int, int]:
    """The whole-pixel shift (dy, dx) that moves image `moved` (H, W) onto `reference`, by phase correlation."""
    height, width = reference.shape
    taper = torch.hann_window(height, periodic=False)[:, None] * torch.hann_window(width, periodic=False)[None]
    a = torch.fft.rfft2((reference - reference.mean()) * taper)
    b = torch.fft.rfft2((moved - moved.mean()) * taper)
    cross = a * b.conj()
    peak = int(torch.fft.irfft2(cross / (cross.abs() + 1e-9), s=(height, width)).argmax())
    dy, dx = divmod(peak, width)
    return (dy - height if dy > height // 2 else dy), (dx - width if dx > width // 2 else dx)


def shifts_onto_middle(frames: torch.Tensor) -> np.ndarray:
    """(T, 2) whole-pixel shifts that move each frame onto the middle one."""
    y = luma(frames)
    steps = [(0, 0)] + [shift_between(y[k - 1], y[k]) for k in range(1, len(y))]
    total = np.cumsum(np.array(steps), axis=0)
    return total - total[len(total) // 2]


def restore_aligned(model: deblur_cli.Deblurrer, frames: torch.Tensor, shifts: np.ndarray) -> torch.Tensor:
    """`frames` restored as one stack moved onto their middle frame by `shifts`, each cut back out where it was."""
    grow_y, grow_x = (int(g) for g in np.abs(shifts).max(axis=0))
    height, width = frames.shape[-2:]
    canvas = torch.stack(
        [
            F.pad(frame[None], (grow_x + dx, grow_x - dx, grow_y + dy, grow_y - dy), mode="replicate")[0]
            for frame, (dy, dx) in zip(frames, shifts.tolist())
        ]
    )
    restored = model.restore(canvas)
    return torch.stack(
        [
            out[:, grow_y + dy : grow_y + dy + height, grow_x + dx : grow_x + dx + width]
            for out, (dy, dx) in zip(restored, shifts.tolist())
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--model", default="dstnet-s", choices=["dstnet", "dstnet-s"])
    parser.add_argument("--weights", default=None, help="a weights file (default: the model's)")
    args = parser.parse_args(argv)
    pairs = find_sequences(args.dataset)
    if not pairs:
        print(f"error: no blurred/sharp sequences under {args.dataset}", file=sys.stderr)
        return 1
    model = deblur_cli.load(args.model, weights=args.weights)
    print(f"{'sequence':<16} {'input':>7} {'as is':>7} {'aligned':>8}  largest shift (px)")
    for pair in pairs:
        blurred, sharp = read_frames(pair.blurred), read_frames(pair.sharp)
        shifts = shifts_onto_middle(blurred)
        scores = [psnr(x.clamp(0, 1), sharp).mean().item() for x in (blurred, model.restore(blurred))]
        scores.append(psnr(restore_aligned(model, blurred, shifts).clamp(0, 1), sharp).mean().item())
        cells = " ".join(f"{s:7.2f}" for s in scores)
        print(f"{pair.name:<16} {cells}  {int(np.abs(shifts).max())}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
