"""Whether restoring each clip in several mirrored views and averaging them back (a self-ensemble, as image
restoration papers report "+" results) pays for its time: PSNR on held-out clips per set of views.

    python benchmarks/bench_ensemble.py --sources SOURCES [--model dstnet-s] [--weights W] [--views id,id+h,...]
        [--camera any|moving|still|handheld|stabilized] [--sharp-input] [--videos] [--size WxH]

The clips are those of `deblur train --evaluate` (8 clips of 5 frames at 640x360 with camera shake, or the
held-out real videos at 320x240 with --videos). A view is a mirror of the clip and its inverse: `id` as it is,
`h` mirrored left-right, `v` upside down, `hv` both, `t` its frames in reverse order, `tr` transposed (rows for
columns). A set of views, joined by "+", costs as many passes of the model as it has views; each set prints its
PSNR and SSIM against the sharp clips.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable

import torch

from deblur_cli.train_evaluate import CAMERAS, evaluate
from deblur_cli.train_tasks import Task, get_task

# a view of clips (B, T, C, H, W), each its own inverse: the same function mirrors the result back
VIEWS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "id": lambda x: x,
    "h": lambda x: x.flip(-1),
    "v": lambda x: x.flip(-2),
    "hv": lambda x: x.flip(-2, -1),
    "t": lambda x: x.flip(1),
    "tr": lambda x: x.transpose(-2, -1),
}
DEFAULT_SETS = "id,id+h,id+t,id+h+v+hv,id+h+v+hv+t"


def ensemble(task: Task, views: list[str]) -> Task:
    """`task` restoring each clip in every view of `views` and averaging the results, each mirrored back."""

    def restore(model, blurred, on_step):
        return torch.stack([VIEWS[v](task.restore(model, VIEWS[v](blurred), on_step)) for v in views]).mean(0)

    return dataclasses.replace(task, restore=restore)


def clip_options(description: str) -> argparse.ArgumentParser:
    """A parser of the options that choose the model and the held-out clips print_scores restores (--threads too)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", required=True, help="the photo and video cache (deblur synth --fetch)")
    parser.add_argument("--model", default="dstnet-s")
    parser.add_argument("--weights", help="weights file (default: the model's, as deblur run finds them)")
    parser.add_argument("--camera", default="any", choices=CAMERAS)
    parser.add_argument("--sharp-input", action="store_true", help="feed the sharp clips: how much each alters them")
    parser.add_argument("--videos", action="store_true", help="the held-out real videos, at 320x240")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--size", type=_size, help="the clips' WxH (default 640x360, 320x240 with --videos)")
    return parser


def _size(text: str) -> tuple[int, int]:
    """--size's WxH as (W, H)."""
    width, _, height = text.partition("x")
    if not (width.isdigit() and height.isdigit()) or min(int(width), int(height)) < 16:
        raise argparse.ArgumentTypeError(f"{text!r}: give WxH, each 16 or more, as 640x360")
    return int(width), int(height)


def main() -> None:
    parser = clip_options(__doc__)
    parser.add_argument("--views", default=DEFAULT_SETS, help=f"comma-separated sets of views (default {DEFAULT_SETS})")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sets = [s.split("+") for s in args.views.split(",")]
    if unknown := sorted({v for s in sets for v in s} - set(VIEWS)):
        parser.error(f"unknown views {', '.join(unknown)}: choose from {', '.join(VIEWS)}")
    task = get_task(args.model)
    for views in sets:
        print_scores("+".join(views), args, ensemble(task, views))


def print_scores(name: str, args: argparse.Namespace, task: Task, shake_only: bool = True) -> None:
    """One line: PSNR and SSIM of `task` on the clips of `deblur train --evaluate` that `args` (--sources, --weights
    or --model, --camera, --sharp-input, --videos, --size) and `shake_only` choose, and the seconds it took."""
    start = time.perf_counter()
    figures = evaluate(
        None, sources=args.sources, weights=args.weights or args.model, task=task, camera=args.camera,
        shake_only=shake_only, sharp_input=args.sharp_input, videos=args.videos,
        size=args.size or ((320, 240) if args.videos else (640, 360)),
    )  # fmt: skip
    seconds = time.perf_counter() - start
    print(
        f"{name:>14}: PSNR {figures['psnr']:.3f} dB (input {figures['psnr_in']:.3f}, "
        f"{figures['psnr'] - figures['psnr_in']:+.3f})  SSIM {figures['ssim']:.4f}  {seconds:.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
