"""What `deblur run --keep-detail` (deblur_cli/kept_detail.py) does to the scores of held-out clips: PSNR and SSIM
of the model's restoration as it is and with the input's fine texture kept where the restoration smoothed it.

    python benchmarks/bench_kept_detail.py --sources SOURCES [--model dstnet-s] [--weights W]
        [--camera any|moving|still|handheld|stabilized] [--objects] [--sharp-input] [--videos] [--size WxH]

The clips are those of `deblur train --evaluate` (8 clips of 5 frames at 640x360 with camera shake, most with sensor
noise and compression; with --objects moving objects too; or the held-out real videos at 320x240 with --videos),
each restored whole (float32 on a CPU). The rendered clips of docs/models.md's "By content" table are scored with
`benchmarks/bench_content.py ... --keep-detail`.
"""

from __future__ import annotations

import dataclasses

import torch

from deblur_cli.kept_detail import keep_detail
from deblur_cli.train_tasks import Task, get_task

from bench_ensemble import clip_options, print_scores


def kept(task: Task) -> Task:
    """`task` with each restored clip's input texture kept where the restoration smoothed it."""

    def restore(model, blurred, on_step):
        return keep_detail(blurred, task.restore(model, blurred, on_step))

    return dataclasses.replace(task, restore=restore)


def main() -> None:
    parser = clip_options(__doc__)
    parser.add_argument("--objects", action="store_true", help="clips with moving objects as well as camera shake")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    task = get_task(args.model)
    for name, restoring in (("as restored", task), ("--keep-detail", kept(task))):
        print_scores(name, args, restoring, shake_only=not args.objects)


if __name__ == "__main__":
    main()
