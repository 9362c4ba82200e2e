"""Typed option aliases shared by commands, and the checks of their values; no torch (see cli/__init__.py)."""

from __future__ import annotations

import math
import os
import shlex
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Optional

import typer

from deblur_cli.auto_model import AUTO
from deblur_cli.errors import InputError, SpanError, UsageError
from deblur_cli.model_specs import MAX_SAMPLES, MAX_SEED, MAX_STEPS, MODELS
from deblur_cli.asked_span import AskedSpan, Label, parse_moment

# How --help shows options. Each value option names its value (`--steps N`, `--start TIME`; flags name
# none: Typer 0.29 would print "<bool>") and options that belong together share a panel, so that at 80 columns
# the help column keeps its width: one table of every option of `run` left it 18 characters.
MODEL_PANEL = "Model"
SAMPLING_PANEL = "Sampling (diffusion models)"
WINDOWS_PANEL = "Windows and tiles"
FRAMES_PANEL = "Input frames"
OUTPUT_PANEL = "Output"
METRICS_PANEL = "Metrics"

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        metavar="NAME",
        rich_help_panel=MODEL_PANEL,
        help=f"Model: {AUTO} (practical on the device, with weights here), {', '.join(MODELS)}.",
    ),
]
def weights_option(value: str) -> Path:
    """--weights as typed; an empty one is refused (as a Path, the current folder: '--weights .: not a file')."""
    if not value:
        raise UsageError("--weights is empty", hint="name a weights file or an entry of `deblur models`, or leave it out")
    return Path(value)


WeightsOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--weights",
        parser=weights_option,
        metavar="FILE",
        rich_help_panel=MODEL_PANEL,
        help="Weights file (.safetensors, or an official DSTNet .pth), or a name from `deblur models`.",
    ),
]
DeviceOpt = Annotated[
    str, typer.Option("--device", metavar="DEVICE", rich_help_panel=MODEL_PANEL, help="auto, cpu, cuda, cuda:N or mps.")
]
PrecisionOpt = Annotated[
    str, typer.Option("--precision", metavar="NAME", rich_help_panel=MODEL_PANEL, help="auto, fp32, fp16 or bf16.")
]
CompileOpt = Annotated[
    bool,
    typer.Option(
        "--compile",
        metavar="",
        rich_help_panel=MODEL_PANEL,
        help="torch.compile the model: a minute or two of compiling first, then faster frames (GPUs).",
    ),
]


def number_in(low: float, high: float | None = None):
    """The parser of a float option that takes a finite number from `low` to `high`. Click's own range let
    nan through (every comparison with it is false) and then blamed a bound: "should be less than or equal
    to 1". The bounds are also given to the option, so that --help shows them."""
    scale = f"from {low:g} to {high:g}" if high is not None else f"of {low:g} or more"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and low <= value and (high is None or value <= high)):
            raise typer.BadParameter(f"{text} is not a number {scale}")
        return value

    return parse


StepsOpt = Annotated[
    int,
    typer.Option(
        "--steps", min=1, max=MAX_STEPS, metavar="N", rich_help_panel=SAMPLING_PANEL, help="DDIM sampling steps."
    ),
]
EtaOpt = Annotated[
    float,
    typer.Option(
        "--eta",
        min=0.0,
        max=1.0,
        parser=number_in(0.0, 1.0),
        metavar="X",
        rich_help_panel=SAMPLING_PANEL,
        help="DDIM noise: 0 deterministic, 1 DDPM-like.",
    ),
]


def check_seed(value: int) -> int:
    """--seed's upper bound, checked here rather than by a Click range, whose 20 digits took a help column."""
    if value > MAX_SEED:
        raise typer.BadParameter(f"{value} is above the largest seed, 2^64 - 1 ({MAX_SEED})")
    return value


def seed_option(help: str, panel: str | None = None) -> typer.models.OptionInfo:
    """The --seed option of a command, with its own help."""
    return typer.Option("--seed", min=0, callback=check_seed, metavar="N", rich_help_panel=panel, help=help)


SeedOpt = Annotated[
    int,
    seed_option(
        "Seed of the diffusion sampler: same seed, same restored frames (a lossy codec may encode them a"
        " little differently from run to run; compare with --codec ffv1).",
        SAMPLING_PANEL,
    ),
]
SamplesOpt = Annotated[
    int,
    typer.Option(
        "--samples",
        min=1,
        max=MAX_SAMPLES,
        metavar="K",
        rich_help_panel=SAMPLING_PANEL,
        help="Average this many samples.",
    ),
]
WindowOpt = Annotated[
    Optional[int],
    typer.Option(
        "--window",
        min=1,
        metavar="N",
        rich_help_panel=WINDOWS_PANEL,
        help="Frames restored together (default: the model's).",
    ),
]
OverlapOpt = Annotated[
    Optional[int],
    typer.Option(
        "--overlap",
        min=0,
        metavar="K",
        rich_help_panel=WINDOWS_PANEL,
        help="Frames shared by consecutive windows (default 2).",
    ),
]
TileOpt = Annotated[
    str,
    typer.Option(
        "--tile",
        metavar="S",
        rich_help_panel=WINDOWS_PANEL,
        help="Spatial tile side in pixels, 0 for whole frames, or auto (from free memory).",
    ),
]
TileOverlapOpt = Annotated[
    Optional[int],
    typer.Option(
        "--tile-overlap",
        min=0,
        metavar="P",
        rich_help_panel=WINDOWS_PANEL,
        help="Pixels shared by neighbouring tiles (default 32, less for small tiles).",
    ),
]
BatchOpt = Annotated[
    int,
    typer.Option(
        "--batch",
        min=1,
        metavar="B",
        rich_help_panel=WINDOWS_PANEL,
        help="Most windows restored in one model call: fuller GPU kernels, more memory.",
    ),
]
SceneCutsOpt = Annotated[
    bool,
    typer.Option(
        "--scene-cuts/--no-scene-cuts",
        metavar="",
        rich_help_panel=WINDOWS_PANEL,
        help="Restore the frames either side of a scene cut apart, so no scene reaches into the next.",
    ),
]
StrengthOpt = Annotated[
    float,
    typer.Option(
        "--strength",
        min=0.0,
        max=1.0,
        parser=number_in(0.0, 1.0),
        metavar="S",
        rich_help_panel=OUTPUT_PANEL,
        help="How much of the restoration to keep, over the input: 1 all, 0.5 half.",
    ),
]
KeepStillOpt = Annotated[
    bool,
    typer.Option(
        "--keep-still",
        metavar="",
        rich_help_panel=OUTPUT_PANEL,
        help="Keep the input where nothing moves.",
    ),
]
KeepDetailOpt = Annotated[
    bool,
    typer.Option(
        "--keep-detail",
        metavar="",
        rich_help_panel=OUTPUT_PANEL,
        help="Keep fine texture the model smooths.",
    ),
]
StartOpt = Annotated[
    Optional[str],
    typer.Option(
        "--start",
        metavar="TIME",
        rich_help_panel=FRAMES_PANEL,
        help="Restore from this time on: seconds (90.5), clock (1:30.5) or the clip's timecode (10:00:05:12).",
    ),
]
EndOpt = Annotated[
    Optional[str],
    typer.Option(
        "--end", metavar="TIME", rich_help_panel=FRAMES_PANEL, help="Stop before this time (same notation as --start)."
    ),
]
FpsOpt = Annotated[
    Optional[str],
    typer.Option(
        "--fps",
        metavar="RATE",
        rich_help_panel=FRAMES_PANEL,
        help="Frame rate of image-sequence inputs (25, 29.97, 30000/1001; default 25). Videos keep their own.",
    ),
]
DurationOpt = Annotated[
    Optional[str],
    typer.Option(
        "--duration",
        metavar="TIME",
        rich_help_panel=FRAMES_PANEL,
        help="How long, from --start (instead of --end).",
    ),
]

QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="No progress bar.")]


def cache_dir_path(value: str) -> Path:
    """--cache-dir as typed. An empty one is refused (it would be the current folder, while an empty
    $DEBLUR_CACHE counts as unset), and so is a file."""
    if not value:
        raise UsageError("--cache-dir is empty", hint="name a folder, or leave the option out for the default cache")
    if Path(value).expanduser().is_file():
        raise UsageError(f"--cache-dir {value} is a file, not a folder", hint="name a folder (it is made if missing)")
    return Path(value)


def sources_not_a_folder(sources: Path, missing: str) -> UsageError:
    """The error for a --sources that is no folder: a file (one's own photo or video, which --add takes into a
    cache), or nothing (`missing` says how to make it)."""
    own = f"your own photos and videos go into a cache with `deblur synth --add {sources} --sources CACHE`"
    return UsageError(f"--sources {sources} is not a folder", hint=own if sources.is_file() else missing)


def input_path(value: str) -> Path:
    """An input as typed. An empty one is refused: as a Path it is the current folder, whose videos would
    all be restored (a script's unset variable: `deblur run "$CLIP"`)."""
    if not value:
        raise UsageError("an input is an empty name ('')", hint="name a file or folder (. for the current folder)")
    return Path(value)


def check_split_names(inputs: list[Path]) -> None:
    """InputError for a missing input that, with the inputs after it joined by spaces, names a file or folder
    that exists: a name with spaces the shell split, `deblur run phone clip.mov` for "phone clip.mov"."""
    words = [str(path) for path in inputs]
    for first, word in enumerate(words):
        if os.path.lexists(word):
            continue
        for last in range(first + 2, len(words) + 1):
            if os.path.lexists(name := " ".join(words[first:last])):
                hint = f"quote names with spaces: {shlex.quote(name)}"
                raise InputError(f"{word}: no such file or directory", hint=hint)


def cache_dir_option(panel: str | None = None) -> typer.models.OptionInfo:
    """The --cache-dir option, in `panel`: the commands that build a model show it with the model's options,
    `models` and `download-weights` among their few."""
    return typer.Option(
        "--cache-dir",
        metavar="DIR",
        parser=cache_dir_path,
        rich_help_panel=panel,
        help="Weights cache [$DEBLUR_CACHE, else $XDG_CACHE_HOME/deblur or ~/.cache/deblur].",
    )


CacheDirOpt = Annotated[Optional[Path], cache_dir_option(MODEL_PANEL)]
OfflineOpt = Annotated[
    bool, typer.Option("--offline", metavar="", rich_help_panel=MODEL_PANEL, help="Never download weights.")
]
LpipsWeightsOpt = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--lpips-weights",
        metavar="FILE",
        rich_help_panel=METRICS_PANEL,
        help="Local LPIPS AlexNet weights, repeatable (see docs/bench.md).",
    ),
]


MAX_RATE = 1000  # frames a second: beyond any camera's video mode, a typo guard
MIN_RATE = Fraction(1, 1000)  # its mirror: MP4's clock refuses a frame every 65535 s, and only at the end of a run
_NTSC_BASES = {24, 30, 48, 60, 120, 240}  # whole rates whose NTSC form is the rate times 1000/1001


def rate_option(value: str | None) -> Fraction | None:
    """The frame rate of --fps ("25", "29.97", "30000/1001") as a Fraction; a UsageError if it is not one.

    A decimal that names an NTSC rate, 24, 30, 48, 60, 120 or 240 times 1000/1001 rounded to two places
    or more (23.976, 23.98, 29.97, 59.94, 119.88), is that rate exactly: 29.97 means 30000/1001, as a camera's
    "29.97" does, not 2997/100, which drifts a frame every 17 minutes against it.
    """
    if value is None:
        return None
    try:
        rate = Fraction(value.strip())
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--fps: {value!r} is not a frame rate", hint="write it as 25, 29.97 or 30000/1001") from None
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UsageError(f"--fps must be from {float(MIN_RATE):g} to {MAX_RATE} frames a second, got {value!r}")
    places = len(value.strip().partition(".")[2])  # of a decimal; 0 for "30" and "30000/1001"
    ntsc = Fraction(math.ceil(rate) * 1000, 1001)
    if rate.denominator > 1 and math.ceil(rate) in _NTSC_BASES and places >= 2 and round(ntsc, places) == rate:
        return ntsc
    if max(rate.numerator, rate.denominator) >= 2**31:  # more digits than FFmpeg's rationals (two int32) hold
        return rate.limit_denominator(1_001_000)  # the nearest rate FFmpeg's own parser (av_parse_video_rate) reads
    return rate


def span_option(start: str | None, end: str | None, duration: str | None) -> AskedSpan:
    """--start, --end and --duration as typed (each seconds from the first frame, or a timecode: asked_span.py);
    a UsageError where they do not fit, found before any input is read where no timecode is among them."""
    if end is not None and duration is not None:
        raise UsageError("--end and --duration both say where to stop", hint="give one of them")
    asked = AskedSpan(
        start=_time("--start", start) if start is not None else None,
        end=_time("--end", end) if end is not None else None,
        duration=_time("--duration", duration) if duration is not None else None,
    )
    length = asked.duration
    if length is not None and (length <= 0 if isinstance(length, float) else not str(length).strip("0:;")):
        raise UsageError(f"--duration must be longer than 0 s, got {duration!r}", hint="e.g. --duration 5")
    if not asked.labelled:
        try:
            asked.in_seconds()
        except SpanError as e:  # of the times as typed, not of an input
            raise UsageError(str(e), hint=e.hint) from None
    return asked


def _time(option: str, value: str) -> float | Label:
    try:
        return parse_moment(value)
    except ValueError as e:
        raise UsageError(
            f"{option}: {e}",
            hint="e.g. --start 1:30 --duration 5 (times count from the first frame; a timecode, 10:00:05:12, is a"
            " frame's label in the clip's own)",
        ) from None


def tile_option(value: str) -> int | str | None:
    """--tile as typed: "auto", None for 0 (whole frames) or a side in pixels; a UsageError otherwise."""
    if value == "auto":
        return "auto"
    try:
        side = int(value)
    except ValueError:
        side = -1
    if side < 0:
        raise UsageError(
            f"--tile must be auto, 0 or a number of pixels, got {value!r}",
            hint="auto cuts frames into tiles where memory is short; 0 restores them whole",
        )
    return side or None


SMALLEST_SYNTHESIS = 8  # the camera paths and blur kernels need a few pixels to move across


def parse_size(value: str, option: str = "--size", *, minimum: int = 1) -> tuple[int, int]:
    """"640x360" → (640, 360); a UsageError naming `option` otherwise."""
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise UsageError(f"{option} must be WIDTHxHEIGHT, like 640x360; got {value!r}") from None
    if width < minimum or height < minimum:
        raise UsageError(f"{option} must be at least {minimum}x{minimum}, got {value!r}")
    return width, height
