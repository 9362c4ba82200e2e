"""Speed and quality of restorers on one clip: the library behind `deblur bench`.

Each model restores the clip as `deblur run` would (temporal windows with overlap, padding to the
model's multiple), minus decoding and encoding. Speed comes from a burn-in stage and then a timed
stage with the device synchronised around the timer. Quality is measured on the output of the
first timed run, after rounding to 8 bits as a video file would store it. Metric definitions:
docs/bench.md.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import torch

from deblur_cli import __version__, cpu_share, wording
from deblur_cli.devices import synchronize
from deblur_cli.environment import environment
from deblur_cli.errors import InputError, UsageError
from deblur_cli.levels import to_tensor
from deblur_cli.metrics import niqe, psnr, ssim, temporal_error, to_8bit, too_small_for
from deblur_cli.metrics.niqe import mean_niqe, too_flat
from deblur_cli.restorer import Restorer, completed
from deblur_cli.span import Span
from deblur_cli.stream import restore_stream
from deblur_cli.host_memory import check_synthesis_memory
from deblur_cli.video_io import DEFAULT_FPS, ReadOptions, open_source
from deblur_cli.video_io.truncation import retell_damage
from deblur_cli.windows import WindowOptions

if TYPE_CHECKING:
    from deblur_cli.metrics.lpips import LPIPS

ClipMetric = Callable[[torch.Tensor, torch.Tensor], float]
"""A full-reference metric over clips: (output, reference), each (T, 3, H, W) float in [0, 1]."""

BenchProgress = Callable[[int, int, str], None]
"""Called as progress(done, total, label) before each restorer run and once at the end (label "")."""


@dataclass(frozen=True)
class BenchModel:
    """One model to benchmark."""

    name: str  # label in the table, the JSON and the plot
    build: Callable[[int, int], Restorer]  # build(steps, samples) -> a ready restorer
    diffusion: bool  # True: one row per steps x samples; False: one row, steps and samples unused
    window: int | None = None  # frames per temporal window; None: the whole clip
    overlap: int = 0  # frames shared by consecutive windows


@dataclass(frozen=True)
class BenchOptions:
    """What to sweep and how to time it."""

    steps: tuple[int, ...] = (1, 5, 10, 20, 50)  # DDIM step counts (diffusion models only)
    samples: tuple[int, ...] = (1,)  # samples averaged per output (diffusion models only)
    warmup: int = 1  # untimed runs over the clip before timing (allocator, autotuning, caches)
    repeat: int = 2  # timed runs over the clip; the median is reported


@dataclass(frozen=True)
class Clip:
    """The benchmark input."""

    blurred: torch.Tensor  # (T, 3, H, W) float in [0, 1], what the models restore
    reference: torch.Tensor | None  # the sharp ground truth, same shape; None: no-reference metrics only
    fps: float  # frame rate, for the video metrics that model time
    source: str  # where it came from, for the report
    built_in: bool = False  # synthetic_clip's: one procedural scene, whose figures move with its seed and size


@dataclass
class BenchRow:
    """One model x steps x samples; None where a figure does not apply or was not measured."""

    model: str
    steps: int | None = None
    samples: int | None = None
    sec_per_frame: float | None = None  # median timed run / frames
    fps: float | None = None  # 1 / sec_per_frame
    peak_memory_mib: float | None = None  # see BenchReport.memory
    psnr: float | None = None  # dB, RGB, mean over frames; higher is better
    ssim: float | None = None  # RGB, mean over frames; higher is better
    niqe: float | None = None  # mean over frames; lower is better
    temporal: float | None = None  # flicker beyond the reference, 8-bit levels; lower is better
    extra: dict[str, float] = field(default_factory=dict)  # optional metrics (lpips, cvvdp)
    # what fixes the restorer's output (restorer.py: model, weights and their sha256, device type,
    # dtype, sampler settings); None for the input and for a restorer without one
    restorer: dict | None = None


@dataclass
class BenchReport:
    """Everything `deblur bench` shows and writes."""

    source: str
    frames: int
    width: int
    height: int
    device: str
    memory: str  # what peak_memory_mib measures
    rows: list[BenchRow]
    notes: list[str]  # what was left out and why
    # how the figures were made: deblur's version, the warm-up and timed runs, and what the caller
    # says of the clip and the restorers (run_bench's `about`)
    settings: dict = field(default_factory=dict)
    complete: bool = True  # False: stopped (Ctrl-C) before every row was measured; `rows` holds those that were

    def to_dict(self) -> dict:
        """The report as plain dicts and lists (files.write_json turns non-finite numbers into strings), with
        what it was measured on (environment.environment). Each row's temporal error is also "flicker", after
        it, as `deblur evaluate --json` names it; "temporal" stays for the readers of files from before."""
        whole = asdict(self) | {"environment": environment([self.device])}
        whole["rows"] = [_with_flicker(row) for row in whole["rows"]]
        return whole


class BenchStopped(Exception):
    """A benchmark stopped by Ctrl-C or SIGTERM after one row or more was measured: `report` holds them (not
    complete, a note naming the row under way), which the caller shows and writes before it raises `cause`."""

    def __init__(self, report: BenchReport, cause: KeyboardInterrupt):
        super().__init__("stopped")
        self.report, self.cause = report, cause


def _with_flicker(row: dict) -> dict:
    named = {}
    for key, value in row.items():
        named[key] = value
        if key == "temporal":
            named["flicker"] = value
    return named


def synthetic_clip(seed: int, frames: int, size: tuple[int, int]) -> Clip:
    """The built-in benchmark clip: blur synthesised over procedural scenes with known sharp frames,
    the same for the same (seed, frames, size) on every machine. Its camera moves, as the demo's does:
    training's almost still paths (a quarter of draws) give clips with next to no blur to measure. UsageError
    where it cannot be made in the memory available (check_synthesis_memory)."""
    from deblur_cli.data.synth import synthesize_clip

    check_synthesis_memory(frames, *size)
    blurred, sharp = synthesize_clip(seed, frames=frames, size=size, still=False)
    return Clip(blurred, sharp, float(DEFAULT_FPS), f"synthetic clip, seed {seed}", built_in=True)


def load_clip(
    source: str | os.PathLike,
    reference: str | os.PathLike | None,
    frames: int,
    size: tuple[int, int] | None = None,
    span: Span = Span(),
    *,
    at_most: bool = False,
) -> Clip:
    """The first `frames` frames of `span` of `source` (and as many of `reference`, its sharp ground truth,
    if given, from the same frame on), centre-cropped to size (W, H) when given; with `at_most`, all of a
    `source` that has fewer. InputError when the files cannot be read, are shorter than `frames` (the reference
    shorter than the frames taken) or differ in size; UsageError when the crop is larger than the frames.

    The span's start is a frame of `source`, worked out at its frame rate; the reference is read from the
    frame of the same index whatever its own rate (a folder of PNG frames is taken as 25 fps), as the
    two are compared frame for frame."""
    blurred, fps = _read_frames(source, frames, span, at_most=at_most)
    sharp = None
    if reference is not None:
        # frame i of the input is scored against frame i of the reference: it needs as many
        sharp, _ = _read_frames(reference, len(blurred), span, rate=fps, wanted=f"the {len(blurred)} of the input")
        if sharp.shape != blurred.shape:
            raise InputError(
                f"{reference} has frames of {sharp.shape[-1]}x{sharp.shape[-2]}, "
                f"{source} of {blurred.shape[-1]}x{blurred.shape[-2]}",
                hint="the reference must be the sharp version of the same clip",
            )
    if size is not None:
        blurred = _centre_crop(blurred, size)
        sharp = None if sharp is None else _centre_crop(sharp, size)
    return Clip(blurred, sharp, fps, os.fspath(source))


def _read_frames(
    path: str | os.PathLike,
    count: int,
    span: Span,
    rate: float | None = None,
    at_most: bool = False,
    wanted: str | None = None,
) -> tuple[torch.Tensor, float]:
    """`count` frames (T, 3, H, W) and the frame rate of `path`, from the span's start on (with `at_most`, as
    many as there are, one at least); with `rate`, from the frame that start is at that rate (the input's)
    instead of at this file's own. `wanted` says where `count` comes from, for the error of a shorter file
    (default: --frames)."""
    seek = span
    if rate is not None and not span.whole:
        with open_source(path) as source:
            own = float(source.info.fps or DEFAULT_FPS)
        first = span.frames(sys.maxsize, rate).start  # the index of the input's first frame
        seek = Span(max(first - 0.5, 0) / own)  # half a frame early: rounding never skips that frame
    with open_source(path, ReadOptions(seek)) as source:
        fps = float(source.info.fps or DEFAULT_FPS)
        frames: list[torch.Tensor] = []
        try:
            for frame in source:
                frames.append(to_tensor(frame.image, torch.device("cpu")))
                if len(frames) == count:
                    break
        except InputError as e:  # damaged or cut short: the frames before it are len(frames)
            good = f", or bench the frames before the damage: --frames {len(frames)}" if frames else ""
            retell_damage(e, "re-copy the file" + good)
            raise
    if len(frames) < count and not (at_most and frames):
        where = "" if span.whole else f" from {span.start:g} s"
        raise InputError(
            f"{path} has {wording.count(len(frames), 'frame')}{where}, fewer than"
            f" {wanted or f'--frames ({count})'}",
            hint=f"--frames {len(frames)} or fewer" if frames else "choose an earlier --start",
        )
    return torch.stack(frames), fps


def _centre_crop(clip: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    width, height = size
    full_h, full_w = clip.shape[-2:]
    if width > full_w or height > full_h:
        raise UsageError(f"--size {width}x{height} is larger than the frames ({full_w}x{full_h})")
    top, left = (full_h - height) // 2, (full_w - width) // 2
    return clip[..., top : top + height, left : left + width]


def optional_metrics(clip: Clip, lpips: LPIPS | None, device: torch.device) -> tuple[dict[str, ClipMetric], list[str]]:
    """The optional full-reference metrics for `clip`, by name, and a note for each left out saying why: LPIPS with
    the model `lpips` (None: no weights were given), ColorVideoVDP on `device` where the cvvdp package is
    installed; neither without a reference."""
    from deblur_cli.metrics.cvvdp import load_cvvdp
    from deblur_cli.metrics.lpips import lpips_clip

    metrics: dict[str, ClipMetric] = {}
    notes = []
    if clip.reference is None and lpips is not None:
        notes.append("LPIPS left out: it compares with the sharp clip, which --reference gives")
    if clip.reference is not None:
        small = too_small_for(*clip.blurred.shape[-2:])
        if lpips is not None and "lpips" in small:
            notes.append(f"LPIPS left out: {small['lpips']}")
        elif lpips is not None:
            metrics["lpips"] = partial(lpips_clip, lpips)
        else:
            notes.append("LPIPS left out: it needs AlexNet weights on disk (--lpips-weights)")
        cvvdp = load_cvvdp(device)
        if cvvdp is not None:
            metrics["cvvdp"] = partial(_with_fps, cvvdp, clip.fps)
        else:
            notes.append("ColorVideoVDP left out: the cvvdp package is not installed")
    return metrics, notes


def _with_fps(metric: Callable[[torch.Tensor, torch.Tensor, float], float], fps: float, output, reference) -> float:
    return metric(output, reference, fps)


def run_bench(
    clip: Clip,
    models: Sequence[BenchModel],
    options: BenchOptions = BenchOptions(),
    *,
    extra_metrics: Mapping[str, ClipMetric] | None = None,
    notes: Sequence[str] = (),
    about: Mapping[str, object] | None = None,
    progress: BenchProgress | None = None,
) -> BenchReport:
    """Benchmark `models` on `clip`: an "input" row (the blurred clip itself, quality only), then, model
    by model in the order given, one row for a non-diffusion model and one per steps x samples for a
    diffusion model. On the built-in clip, a note names the models that scored below the input.

    extra_metrics: further full-reference metrics by name, reported in BenchRow.extra.
    notes: caller's notes to carry into the report (e.g. why LPIPS is absent).
    about: what the caller knows of how the clip and the restorers were made (`deblur bench`: the seed,
    the reference, --start, --precision), added to the report's settings.
    """
    _check(clip, options)
    extra_metrics = extra_metrics or {}
    frames, _, height, width = clip.blurred.shape
    report_notes = list(notes) + _metric_notes(clip)
    runs = [(m, s, n) for m in models for s, n in (_sweep(options) if m.diffusion else [(None, None)])]
    primed = options.warmup == 0  # then each model makes one untimed start-up pass (_prepare)
    total = len(runs) * (options.warmup + options.repeat) + (len(models) if primed else 0)
    done = 0

    def tick(label: str) -> None:
        nonlocal done
        if progress is not None:
            progress(done, total, label)
        done += 1

    _prepare(clip.blurred, models, options, tick)
    rows = [_quality(BenchRow("input"), clip.blurred, clip, extra_metrics, report_notes)]
    devices: set[torch.device] = set()
    stop: KeyboardInterrupt | None = None
    try:
        for model, steps, samples in runs:
            label = model.name if steps is None else f"{model.name} steps={steps} samples={samples}"
            restorer = completed(model.build(steps or 1, samples or 1))  # BenchModel.build may give any Restorer
            devices.add(restorer.device)
            output, seconds, peak = _time(restorer, clip.blurred, model, options, partial(tick, label))
            row = BenchRow(model.name, steps, samples, seconds / frames, frames / seconds, peak)
            row.restorer = restorer.identity
            rows.append(_quality(row, output, clip, extra_metrics, report_notes, label))
            del restorer, output
    except KeyboardInterrupt as e:  # a long sweep stopped: the rows measured are kept, not thrown away
        if len(rows) == 1:
            raise
        stop = e
        report_notes.append(f"stopped during {label}: {len(rows) - 1} of {len(runs)} rows were measured")
    if progress is not None and stop is None:
        progress(total, total, "")

    if any(d.type == "cpu" for d in devices):
        report_notes.append(
            "peak memory on the CPU is the process's peak resident set so far: it never goes down, "
            "so each row shows the largest of it and the rows before"
        )
        if cpu_share.chose_passive_waiting:
            report_notes.append(f"{cpu_share.SHARED_CPU_NOTE}: the times are those of a shared machine")
    if clip.built_in:
        report_notes += _below_the_input(rows)
    device = ", ".join(sorted({str(d) for d in devices})) or "none"
    settings = {"deblur": __version__, "warmup": options.warmup, "repeat": options.repeat, **(about or {})}
    report = BenchReport(
        clip.source, frames, width, height, device, _memory_kind(devices), rows, report_notes, settings, stop is None
    )
    if stop is not None:
        raise BenchStopped(report, stop)
    return report


def _below_the_input(rows: list[BenchRow]) -> list[str]:
    """A note naming the models that scored a lower PSNR than the built-in clip itself (`rows[0]`): one procedural
    scene, whose figures move with --seed and --size, is a poor ground for that conclusion."""
    given = rows[0].psnr
    worse = [row.model for row in rows[1:] if given is not None and row.psnr is not None and row.psnr < given]
    if not worse:
        return []
    names = ", ".join(dict.fromkeys(worse))
    return [
        f"{names} scored below the input on the built-in clip, which is one procedural scene: its figures move "
        "with --seed and --size, by several dB at small sizes; compare a few seeds, or your own footage "
        "(--input with --reference)"
    ]


def restore_clip(restorer: Restorer, frames: torch.Tensor, window: int | None, overlap: int) -> torch.Tensor:
    """Restore frames (T, 3, H, W) on the restorer's device through `deblur run`'s own path
    (stream.restore_stream), without tiling: temporal windows blended over their overlap, each padded to
    the model's multiple, split at scene cuts, grey frames kept grey, held frames held (a window of copies
    alone is not restored, so a clip with still shots times faster than one that moves throughout).
    Returns (T, 3, H, W) on the restorer's device."""
    count = frames.shape[0]
    window = min(window or count, restorer.max_frames or count, count)
    windows = WindowOptions(window=window, overlap=min(overlap, window - 1), tile=None)
    with torch.inference_mode():  # as in `deblur run`: no autograd bookkeeping in the timings
        return torch.stack(list(restore_stream(frames.unbind(0), restorer, windows, tuple(frames.shape[-2:]))))


def _check(clip: Clip, options: BenchOptions) -> None:
    shape = tuple(clip.blurred.shape)
    if clip.blurred.dim() != 4 or shape[1] != 3 or shape[0] < 1:
        raise ValueError(f"expected a clip (T, 3, H, W) with T >= 1, got {shape}")
    if clip.reference is not None and tuple(clip.reference.shape) != shape:
        raise ValueError(f"the reference {tuple(clip.reference.shape)} differs from the clip {shape}")
    if options.warmup < 0 or options.repeat < 1:
        raise ValueError(f"need warmup >= 0 and repeat >= 1, got {options.warmup} and {options.repeat}")
    if not options.steps or not options.samples or min(options.steps + options.samples) < 1:
        raise ValueError(f"steps and samples must be positive, got {options.steps} and {options.samples}")


def _sweep(options: BenchOptions) -> list[tuple[int, int]]:
    return [(steps, samples) for steps in options.steps for samples in options.samples]


def _metric_notes(clip: Clip) -> list[str]:
    notes = []
    frames, _, height, width = clip.blurred.shape
    if clip.reference is None:
        notes.append("no reference clip: PSNR, SSIM, the temporal error and other full-reference metrics left out")
    elif frames < 2:
        notes.append("one frame: the temporal error needs two or more")
    small = too_small_for(height, width)
    if clip.reference is not None and "ssim" in small:
        notes.append(f"SSIM left out: {small['ssim']}")
    if "niqe" in small:
        notes.append(f"NIQE left out: {small['niqe']}")
    return notes


def _prepare(
    frames: torch.Tensor, models: Sequence[BenchModel], options: BenchOptions, tick: Callable[[str], None]
) -> None:
    """Build every model once before any timing, at the fewest steps and samples, so that what a builder
    refuses (a weights file that does not fit the model) fails before the first timed row, not after the
    rows of the models before it. With no warm-up runs, also restore the clip's first window with it,
    untimed: a process's first call of a network pays one-time costs (thread pools, kernel selection,
    lazily loaded code) that would otherwise fall on that model's first timed row and make the ranking
    depend on the order the rows run in."""
    for model in models:
        restorer = model.build(min(options.steps), min(options.samples))
        if options.warmup == 0:
            tick(f"{model.name} start-up")
            window = min(model.window or len(frames), restorer.max_frames or len(frames), len(frames))
            restore_clip(restorer, frames[:window].to(restorer.device), window, 0)
            synchronize(restorer.device)
        del restorer


def _time(
    restorer: Restorer, frames: torch.Tensor, model: BenchModel, options: BenchOptions, tick: Callable[[], None]
) -> tuple[torch.Tensor, float, float | None]:
    """(output of the first timed run on the CPU, median seconds per run, peak memory in MiB)."""
    device = restorer.device
    frames = frames.to(device)
    for _ in range(options.warmup):
        tick()
        restore_clip(restorer, frames, model.window, model.overlap)
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    output, seconds = None, []
    for _ in range(options.repeat):
        tick()
        start = time.perf_counter()
        result = restore_clip(restorer, frames, model.window, model.overlap)
        synchronize(device)
        seconds.append(time.perf_counter() - start)
        if output is None:
            output = result.float().cpu()
        del result
    return output, statistics.median(seconds), _peak_memory_mib(device)


def _peak_memory_mib(device: torch.device) -> float | None:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    if device.type == "cpu":
        try:
            import resource
        except ImportError:  # Windows
            return None
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux
    return None


def _memory_kind(devices: set[torch.device]) -> str:
    kinds = {d.type for d in devices}
    if kinds == {"cuda"}:
        return "CUDA memory allocated by torch, peak over the timed runs"
    if kinds == {"cpu"}:
        return "process peak resident set size (whole process, since it started)"
    return "CUDA: peak allocated over the timed runs; CPU: process peak RSS; other devices: not measured"


def _quality(
    row: BenchRow,
    output: torch.Tensor,
    clip: Clip,
    extra_metrics: Mapping[str, ClipMetric],
    notes: list[str],
    label: str = "input",
) -> BenchRow:
    """Fill the quality fields of `row` from `output` (T, 3, H, W) on the CPU; add to `notes` what a
    figure alone does not say (`label` names the row there)."""
    output = to_8bit(output.cpu())
    frames, _, height, width = output.shape
    small = too_small_for(height, width)
    if "niqe" not in small:
        scores = [niqe(frame) for frame in output]
        row.niqe = mean_niqe(scores)
        # NaN: fewer than MIN_BLOCKS blocks with defined statistics, which a block of one luma level lacks;
        # the frame itself need not be flat (a black frame restored with a faint smudge in one corner).
        if flat := sum(math.isnan(score) for score in scores):
            if row.niqe is None:
                kept, whose = "left out: every frame is", "its"
            else:
                kept, whose = f"over {frames - flat} of {frames} frames: the others are", "their"
            notes.append(f"{label}: NIQE {kept} {too_flat(whose)}")
    if clip.reference is None:
        return row
    reference = to_8bit(clip.reference.cpu())
    per_frame = psnr(output, reference)
    row.psnr = float(per_frame.mean())  # the mean of per-frame PSNR, as the literature reports it
    if exact := int(per_frame.isinf().sum()):
        notes.append(f"{label}: PSNR is infinite: {exact} of {frames} frames {'equal' if exact > 1 else 'equals'} "
                     f"{'their' if exact > 1 else 'its'} reference")
    if "ssim" not in small:
        row.ssim = float(ssim(output, reference).mean())
    if frames >= 2:
        row.temporal = temporal_error(output, reference)
    row.extra = {name: float(metric(output, reference)) for name, metric in extra_metrics.items()}
    return row
