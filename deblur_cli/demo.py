"""The out-of-the-box demo: synthesise a blurry clip with known sharp frames, deblur it, measure the gain."""

from __future__ import annotations

import errno
import json
import os
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import torch

from deblur_cli.data.synth import synthesize_clip
from deblur_cli.errors import OutputError, UsageError
from deblur_cli.files import output_error, write_bytes
from deblur_cli.host_memory import check_synthesis_memory
from deblur_cli.levels import to_image, to_tensor
from deblur_cli.metrics import psnr, to_8bit
from deblur_cli.stream import restore_stream
from deblur_cli.restorer import Restorer
from deblur_cli.video_io import EncodeOptions, VideoInfo, open_sink, open_source
from deblur_cli.video_io.work_folder import OutputLock
from deblur_cli.weights.verify import file_digest
from deblur_cli.windows import WindowOptions

if TYPE_CHECKING:
    from deblur_cli.pipeline import FramesProgress

FPS = Fraction(25)
# Near-lossless in luma; 4:2:0 chroma, so that every player shows the clips.
_CLIP_ENCODING = EncodeOptions(codec="libx264", crf=4, preset="veryfast")
# Beside the clips: the sha256 of each, as the demo wrote it. A clip that still matches is the demo's own, and
# the next demo into the folder replaces it; any other file of its name is the user's, and is kept.
STAMP = ".deblur-demo.json"


@dataclass
class DemoResult:
    blurry: Path  # the synthesised input
    sharp: Path  # its ground truth
    restored: Path  # the model's output
    frames: int
    seconds: float  # decoding blurry.mp4 and restoring it
    psnr_blurry: float  # dB, input (decoded) against the generated sharp frames, mean over frames
    psnr_restored: float  # dB, output (before encoding) against the generated sharp frames, mean over frames

    def summary(self, model: str, restorer: Restorer) -> dict:
        """This demo as `demo --json` prints it: `model` is the model's name, `restorer` the one that ran."""
        return {
            "model": model,
            "device": str(restorer.device),
            "frames": self.frames,
            "seconds": round(self.seconds, 2),
            "psnr_blurry_db": round(self.psnr_blurry, 2),
            "psnr_deblurred_db": round(self.psnr_restored, 2),
            "gain_db": round(self.psnr_restored - self.psnr_blurry, 2),
            "files": [str(self.blurry), str(self.sharp), str(self.restored)],
            # what made deblurred.mp4, as bench's rows and run --json record it: weights file and sha256,
            # the dtype --precision resolved to, and a diffusion model's steps and seed
            "restorer": restorer.identity,
        }


def check_size(size: tuple[int, int]) -> None:
    """UsageError unless (W, H) is even both ways: 4:2:0 halves the chroma planes, and the encoder falls
    back to 4:4:4, which many players cannot show, at an odd size."""
    width, height = size
    if width % 2 or height % 2:
        even = f"{width - width % 2}x{height - height % 2}"
        raise UsageError(
            f"--size {width}x{height}: the demo's clips are H.264 4:2:0, which needs an even width and height",
            hint=f"e.g. --size {even}",
        )


def write_clip(path: Path, frames: torch.Tensor) -> None:
    """Encode (T, 3, H, W) float frames in [0, 1] as an 8-bit H.264 file at 25 fps."""
    _, _, height, width = frames.shape
    info = VideoInfo(width=width, height=height, fps=FPS, time_base=1 / FPS, frame_count=len(frames), bit_depth=8)
    with open_sink(path, info, _CLIP_ENCODING) as sink:
        for index, frame in enumerate(frames):
            sink.write(to_image(frame, 8), index)


def _replace_set(temps: dict[str, Path], paths: dict[str, Path]) -> None:
    """Rename the finished files into place, the earlier set removed first: the folder holds the old
    set, part of the new one or the new one, never a mix of the two."""
    try:
        for path in paths.values():
            path.unlink(missing_ok=True)
        for name, path in paths.items():
            os.replace(temps[name], path)
    except OSError as e:
        raise output_error(path, e) from None


def _not_the_demos(folder: Path, paths: Iterable[Path]) -> list[str]:
    """The names of `paths` that exist and are not as an earlier demo wrote them (STAMP): a user's files,
    which only --force replaces. Without a stamp (a folder of the user's, a demo older than stamps) none is
    the demo's."""
    try:
        digests = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        digests = {}
    digests = digests if isinstance(digests, dict) else {}
    return [path.name for path in paths if path.exists() and digests.get(path.name) != _digest(path)]


def _digest(path: Path) -> str | None:
    """The sha256 of a file's bytes; None for a folder or a file that cannot be read."""
    try:
        return file_digest(path, "sha256") if path.is_file() else None
    except OSError:
        return None


def _folder_error(folder: Path, error: OSError) -> OutputError:
    """output_error's, with the option that chooses another folder where this one cannot be written (the demo
    is often the first command, run in whatever folder the shell is in)."""
    said = output_error(folder, error)
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        said.hint = "choose a folder you can write to: deblur demo -o DIR"
    return said


def run_demo(
    folder: Path,
    restorer: Restorer,
    *,
    windows: WindowOptions,
    seed: int = 0,
    frames: int = 20,
    size: tuple[int, int] = (640, 360),
    force: bool = False,
    progress: FramesProgress | None = None,
) -> DemoResult:
    """Write blurry.mp4 and sharp.mp4 into `folder`, restore blurry.mp4 as `deblur run` would, write
    deblurred.mp4, and score the input and the output against the generated sharp frames.

    The scores use the sharp frames as generated (rounded to 8 bits), not sharp.mp4: H.264 at 4:2:0
    halves the chroma resolution, which puts the default clip's sharp.mp4 31.7 dB from the truth,
    and scoring against a degraded reference measures the codec as much as the model. The input is scored as the model received it, decoded from blurry.mp4; the
    output as the model returned it, before deblurred.mp4 (4:2:0 too, for players) is encoded. A clip
    that cannot be made in the memory available is a UsageError before any work (check_synthesis_memory).
    Files of those names in `folder` are replaced where they are as an earlier demo wrote them (STAMP); any
    other is an OutputError, unless `force`.
    """
    check_size(size)
    check_synthesis_memory(frames, *size)
    paths = {name: folder / f"{name}.mp4" for name in ("blurry", "sharp", "deblurred")}
    if not force and (kept := _not_the_demos(folder, paths.values())):
        one = len(kept) == 1
        raise OutputError(
            f"{folder} already holds {', '.join(kept)}, not written by a demo",
            hint=f"pass --force to replace {'it' if one else 'them'}, or choose another folder: deblur demo -o DIR",
        )
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file, not a folder", hint="give -o a new folder, or an earlier demo's")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _folder_error(folder, e) from None
    # The three files belong together: they are written in a work folder and renamed at the end, so that a demo
    # stopped part-way leaves an earlier demo's set whole, not its deblurred.mp4 beside new clips. The folder is
    # deblurred.mp4's, locked as deblur run locks it: what a killed demo left there, the next one removes.
    lock = OutputLock(paths["deblurred"])
    temps = {name: lock.path / path.name for name, path in paths.items()}
    try:
        blurred, sharp = synthesize_clip(seed, frames=frames, size=size, still=False)  # a clip that needs deblurring
        write_clip(temps["blurry"], blurred)
        write_clip(temps["sharp"], sharp)

        started = time.perf_counter()
        inputs: list[torch.Tensor] = []  # as decoded, on the CPU, for the score
        restored: list[torch.Tensor] = []
        with open_source(temps["blurry"]) as source, torch.inference_mode():

            def decoded():
                for frame in source:
                    inputs.append(to_tensor(frame.image, torch.device("cpu")))
                    yield inputs[-1]

            for frame in restore_stream(decoded(), restorer, windows, (size[1], size[0])):
                restored.append(frame.cpu())
                if progress is not None:
                    progress(len(restored), frames)
        seconds = time.perf_counter() - started
        write_clip(temps["deblurred"], torch.stack(restored))
        digests = {path.name: file_digest(temps[name], "sha256") for name, path in paths.items()}
        _replace_set(temps, paths)
        write_bytes(folder / STAMP, json.dumps(digests, indent=2).encode())  # after: a stale stamp only refuses
    finally:
        lock.release()

    truth = to_8bit(sharp)
    return DemoResult(
        blurry=paths["blurry"],
        sharp=paths["sharp"],
        restored=paths["deblurred"],
        frames=len(restored),
        seconds=seconds,
        psnr_blurry=float(psnr(torch.stack(inputs), truth).mean()),
        psnr_restored=float(psnr(to_8bit(torch.stack(restored)), truth).mean()),
    )
