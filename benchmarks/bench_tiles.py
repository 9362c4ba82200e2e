"""What spatial tiles do to a diffusion model's sample: tiled against whole-frame output, and the
seed-to-seed variation along the tile grid.

    python benchmarks/bench_tiles.py --sources CACHE --size 256x144 --frames 4 --tile 64 --steps 4 --seeds 4

Held-out clips (camera shake, as `bench_window.py` makes them) are restored by `--model` through
`stream.restore_stream`, as `deblur run` does, whole and in tiles, the tiles two ways:
- "blended": as deblur restores them: the network runs tile by tile and its outputs are blended at
  every DDIM step, the sampler's state and noise being the whole frame's;
- "separate": each tile sampled alone, from noise of its own, and the results blended (deblur before
  2026-12).
Printed per way: PSNR against the whole-frame restoration (same seed) and against the sharp frames,
and, over `--seeds` seeds, the per-pixel standard deviation of the samples where tiles overlap divided
by that elsewhere: 1 when the grid leaves no trace in what the sampler invents, below 1 where two
samples are averaged.
"""

from __future__ import annotations

import argparse
import sys

import torch

from deblur_cli.data.dataset import FixedClips, split_photos
from deblur_cli.metrics import psnr
from deblur_cli.restorers import ModelOptions, build_restorer
from deblur_cli.stream import restore_stream
from deblur_cli.tiles import pad_to_multiple, plan_tiles
from deblur_cli.windows import WindowOptions


class _Separate:
    """The restorer without restore_in_tiles: the pipeline then samples each tile alone."""

    restore_in_tiles = None

    def __init__(self, restorer):
        self._restorer = restorer

    def __getattr__(self, name):
        return getattr(self._restorer, name)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        return self._restorer(frames)


def overlap_mask(height: int, width: int, tile: int, overlap: int | None, multiple: int) -> torch.Tensor:
    """(H, W) bool: the pixels more than one tile covers."""
    padded, _ = pad_to_multiple(torch.zeros(1, 1, height, width), multiple)
    grid = plan_tiles(*padded.shape[-2:], tile=tile, overlap=overlap, multiple=multiple)
    count = torch.zeros(grid.size)
    for region, _ in grid:
        count[region] += 1
    return (count > 1)[:height, :width]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="wtsa-s", choices=["wtsa", "wtsa-s"])
    parser.add_argument("--weights", default=None, help="a weights file (default: the model's)")
    parser.add_argument("--sources", required=True, help="the source cache of `deblur synth --fetch`")
    parser.add_argument("--clips", type=int, default=1)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--size", default="256x144", help="WxH")
    parser.add_argument("--tile", type=int, default=64)
    parser.add_argument("--tile-overlap", type=int, default=None)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=4, help="samples per way for the variation")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    def restorer(seed: int):
        options = ModelOptions(weights=args.weights, device=args.device, precision=args.precision, steps=args.steps,
                               seed=seed, offline=True)  # fmt: skip
        return build_restorer(args.model, options)

    def restored(r, frames: torch.Tensor, tile: int | None) -> torch.Tensor:
        options = WindowOptions(window=len(frames), overlap=0, tile=tile, tile_overlap=args.tile_overlap)
        with torch.inference_mode():
            return torch.stack(list(restore_stream(frames, r, options, (height, width)))).float().cpu()

    _, held_out = split_photos(args.sources)
    clips = FixedClips(held_out, count=args.clips, frames=args.frames, size=(width, height), seed=2, max_layers=0, still=False)
    first = restorer(0)
    mask = overlap_mask(height, width, args.tile, args.tile_overlap, first.multiple)
    print(f"{args.model}, {args.steps} steps, {width}x{height}, {args.frames} frames, tiles of {args.tile} px "
          f"({mask.float().mean():.0%} of the pixels in overlaps), {first.dtype} on {first.device}")  # fmt: skip
    for index in range(len(clips)):
        blurred, sharp = clips[index]
        whole = restored(restorer(0), blurred, None)
        line = [f"clip {index}: whole {float(psnr(whole, sharp).mean()):.2f} dB"]
        for way, wrap in (("blended", lambda r: r), ("separate", _Separate)):
            samples = torch.stack([restored(wrap(restorer(seed)), blurred, args.tile) for seed in range(args.seeds)])
            spread = samples.std(dim=0).mean(dim=(0, 1))  # (H, W): per-pixel std over seeds
            ratio = float(spread[mask].mean() / spread[~mask].mean())
            line.append(
                f"{way}: {float(psnr(samples[0], sharp).mean()):.2f} dB, {float(psnr(samples[0], whole).mean()):.2f} dB"
                f" from whole, seed spread in overlaps / elsewhere {ratio:.2f}"
            )
        print("\n  ".join(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
