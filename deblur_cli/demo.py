"""The out-of-the-box demo: synthesise a blurry clip with known sharp frames, deblur it, measure the gain."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import torch

from deblur_cli.bench import load_clip
from deblur_cli.data.synth import synthesize_clip
from deblur_cli.errors import OutputError
from deblur_cli.metrics import psnr
from deblur_cli.pipeline import ProgressFn, WindowOptions, deblur_video, to_image
from deblur_cli.restorer import Restorer
from deblur_cli.video_io import EncodeOptions, VideoInfo, open_sink

FPS = Fraction(25)
# Near-lossless, so the demo measures the model, not the codec.
_CLIP_ENCODING = EncodeOptions(codec="libx264", crf=4, preset="veryfast")


@dataclass
class DemoResult:
    blurry: Path  # the synthesised input
    sharp: Path  # its ground truth
    restored: Path  # the model's output
    frames: int
    seconds: float  # time spent in deblur_video
    psnr_blurry: float  # dB, input against ground truth, mean over frames
    psnr_restored: float  # dB, output against ground truth, mean over frames


def write_clip(path: Path, frames: torch.Tensor) -> None:
    """Encode (T, 3, H, W) float frames in [0, 1] as an 8-bit H.264 file at 25 fps."""
    _, _, height, width = frames.shape
    info = VideoInfo(width=width, height=height, fps=FPS, time_base=1 / FPS, frame_count=len(frames), bit_depth=8)
    with open_sink(path, info, _CLIP_ENCODING) as sink:
        for index, frame in enumerate(frames):
            sink.write(to_image(frame, 8), index)


def run_demo(
    folder: Path,
    restorer: Restorer,
    *,
    windows: WindowOptions,
    seed: int = 0,
    frames: int = 20,
    size: tuple[int, int] = (640, 360),
    force: bool = False,
    progress: ProgressFn | None = None,
) -> DemoResult:
    """Write blurry.mp4 and sharp.mp4 into `folder`, restore blurry.mp4 into deblurred.mp4, and score both."""
    paths = {name: folder / f"{name}.mp4" for name in ("blurry", "sharp", "deblurred")}
    existing = [p.name for p in paths.values() if p.exists()]
    if existing and not force:
        raise OutputError(f"{folder} already holds {', '.join(existing)}", hint="pass --force to replace them")
    folder.mkdir(parents=True, exist_ok=True)
    blurred, sharp = synthesize_clip(seed, frames=frames, size=size, still=False)  # a clip that needs deblurring
    write_clip(paths["blurry"], blurred)
    write_clip(paths["sharp"], sharp)
    result = deblur_video(
        paths["blurry"], paths["deblurred"], restorer, windows=windows, encode=_CLIP_ENCODING, force=True, progress=progress
    )
    scored = load_clip(paths["blurry"], paths["sharp"], frames)
    restored = load_clip(paths["deblurred"], None, frames).blurred
    return DemoResult(
        blurry=paths["blurry"],
        sharp=paths["sharp"],
        restored=paths["deblurred"],
        frames=result.frames,
        seconds=result.seconds,
        psnr_blurry=float(psnr(scored.blurred, scored.reference).mean()),
        psnr_restored=float(psnr(restored, scored.reference).mean()),
    )
