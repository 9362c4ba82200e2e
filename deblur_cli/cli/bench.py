"""`deblur bench`: speed and quality against DDIM steps and samples, as a table, JSON and a plot."""

from __future__ import annotations

import functools
import re
import shlex
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer
from rich.table import Table

from deblur_cli.asked_span import span_in
from deblur_cli.auto_model import AUTO
from deblur_cli.bench_plan import CPU_STEPS, DEFAULT_MODELS, GPU_STEPS, Sweep, choose_models, numbers, plan_bench
from deblur_cli.cli.app import command, err, examples, labelled, out, warn
from deblur_cli.cli.progress_lines import progress_bar
from deblur_cli.cli.tables import cell, cut_note, figures_table, fitting_parts, frame_count, width_needed
from deblur_cli.cli.weights import build_shown
from deblur_cli.cli.options import (
    FRAMES_PANEL,
    MODEL_PANEL,
    SAMPLING_PANEL,
    CacheDirOpt,
    CompileOpt,
    DeviceOpt,
    EtaOpt,
    LpipsWeightsOpt,
    OfflineOpt,
    PrecisionOpt,
    QuietOpt,
    StartOpt,
    parse_size,
    seed_option,
    span_option,
)
from deblur_cli.errors import InputError, OutputError, UsageError, WeightsError, did_you_mean
from deblur_cli.held_weights import check_weights, labelled_as
from deblur_cli.host_memory import check_synthesis_memory
from deblur_cli.model_specs import MAX_SAMPLES, MAX_STEPS, MODELS
from deblur_cli.outputs import is_frame_of, same_file
from deblur_cli.span import Span
from deblur_cli.files import check_writable
from deblur_cli.wording import count, said_once, weights_label

if TYPE_CHECKING:
    from deblur_cli.bench import BenchReport
    from deblur_cli.restorer import Restorer
    from deblur_cli.restorers import ModelOptions

SYNTHETIC_SIZE = (640, 384)  # of the built-in clip without --size
# Frames a side, at least, of the clip benchmarked, the built-in one or --input: the models pad frames to
# a multiple of 16, so a smaller frame is mostly padding; SSIM's 11x11 window fits; and the built-in
# clip's camera paths need 8 pixels (SMALLEST_SYNTHESIS).
SMALLEST_FRAME = 16
FRAMES = 8  # frames benchmarked without --frames (all of a shorter --input)


def _positive_ints(option: str, value: str, most: int | None = None) -> tuple[int, ...]:
    """The comma-separated whole numbers of `option`, repeats dropped; every one checked now, before
    any row is timed."""
    try:
        numbers = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise UsageError(f"{option} takes comma-separated whole numbers like 1,5,10, got {value!r}") from None
    if min(numbers) < 1:
        raise UsageError(f"{option} values must be at least 1, got {value!r}")
    if most is not None and max(numbers) > most:
        raise UsageError(f"{option} values must be at most {most}, got {value!r}")
    return tuple(dict.fromkeys(numbers))  # drop repeats, keep the order


def _file_named(option: str):
    """An output file option's parser: an empty name is refused (as a Path it is ".", the current folder)."""

    def parse(value: str) -> Path:
        if not value:
            raise UsageError(f"{option} is empty", hint=f"name a file, or leave {option} out")
        return Path(value)

    return parse


@command(
    "bench",
    epilog=examples(
        ("deblur bench", "the built-in clip"),
        ("deblur bench -m wtsa-s --steps 1,5,20 --samples 1,4", "against steps"),
        ("deblur bench --input blur.mp4 --reference sharp.mp4", "your own clip"),
    ),
)
def bench(
    model: Annotated[
        Optional[list[str]],
        typer.Option(
            "--model",
            "-m",
            metavar="NAME",
            rich_help_panel=MODEL_PANEL,
            help=f"Model to benchmark, repeatable or comma-separated: auto, {', '.join(MODELS)}. Default: those of {', '.join(DEFAULT_MODELS)} with weights here.",
        ),
    ] = None,
    steps: Annotated[
        Optional[str],
        typer.Option(
            "--steps",
            metavar="N,N,...",
            rich_help_panel=SAMPLING_PANEL,
            help=f"DDIM step counts to sweep, 1 to 1000 each. Default: {numbers(GPU_STEPS)}; {numbers(CPU_STEPS)} on"
            " a CPU.",
        ),
    ] = None,
    samples: Annotated[
        Optional[str],
        typer.Option(
            "--samples",
            metavar="K,K,...",
            rich_help_panel=SAMPLING_PANEL,
            help="Sample counts to sweep, 1 to 64 each. Default: 1.",
        ),
    ] = None,
    input_path: Annotated[
        Optional[Path],
        typer.Option(
            "--input",
            metavar="FILE",
            rich_help_panel=FRAMES_PANEL,
            help="Blurred clip (default: the built-in synthetic clip).",
        ),
    ] = None,
    reference: Annotated[
        Optional[Path],
        typer.Option(
            "--reference",
            metavar="FILE",
            rich_help_panel=FRAMES_PANEL,
            help="Sharp ground truth of --input, for PSNR, SSIM and the rest.",
        ),
    ] = None,
    frames: Annotated[
        Optional[int],
        typer.Option(
            "--frames",
            metavar="N",
            rich_help_panel=FRAMES_PANEL,
            min=1,
            help=f"Frames to benchmark (default: {FRAMES}, or all of a shorter --input).",
        ),
    ] = None,
    start: StartOpt = None,
    size: Annotated[
        Optional[str],
        typer.Option(
            "--size",
            metavar="WxH",
            rich_help_panel=FRAMES_PANEL,
            help="The built-in clip's size (default 640x384), or a centre crop of --input; 16x16 or more.",
        ),
    ] = None,
    weights: Annotated[
        Optional[list[str]],
        typer.Option(
            "--weights",
            metavar="MODEL=FILE",
            rich_help_panel=MODEL_PANEL,
            help="Weights for one of the models, repeatable (default: the cache or the bundled file); a FILE alone"
            " is for the model it holds, benched alone without -m.",
        ),
    ] = None,
    eta: EtaOpt = 0.0,
    seed: Annotated[int, seed_option("Seed of the built-in clip and of the samplers.", SAMPLING_PANEL)] = 0,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    compile_model: CompileOpt = False,
    cache_dir: CacheDirOpt = None,
    offline: OfflineOpt = False,
    warmup: Annotated[
        Optional[int],
        typer.Option(
            "--warmup", metavar="N", min=0, help="Untimed runs before timing. Default: 1; 0 on a CPU without --compile."
        ),
    ] = None,
    repeat: Annotated[
        Optional[int],
        typer.Option(
            "--repeat", metavar="N", min=1, help="Timed runs; the median is reported. Default: 2; 1 on a CPU."
        ),
    ] = None,
    json_path: Annotated[
        Optional[Path],
        typer.Option("--json", metavar="FILE", parser=_file_named("--json"), help="Write the results as JSON here."),
    ] = None,
    plot_path: Annotated[
        Optional[Path],
        typer.Option(
            "--plot",
            metavar="FILE",
            parser=_file_named("--plot"),
            help="Write a PNG of PSNR and NIQE against speed here.",
        ),
    ] = None,
    lpips_weights: LpipsWeightsOpt = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", metavar="", help="Replace an existing --json or --plot file.")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Measure speed and quality per model, step count and sample count: [bold]deblur bench --steps 1,5,20[/]."""
    # Modules that import torch: here, not at the top (see cli/__init__.py).
    from deblur_cli.bench import BenchStopped, load_clip, optional_metrics, run_bench, synthetic_clip
    from deblur_cli.files import write_json
    from deblur_cli.devices import resolve_device
    from deblur_cli.metrics.lpips import load_lpips
    from deblur_cli.plot import shows_figures, write_plot
    from deblur_cli.restorers import ModelOptions

    torch_device = resolve_device(device)
    if compile_model and warmup == 0:
        warn("--compile with --warmup 0: the timed runs may include compiling (minutes); use --warmup 1")
    # None: the default; --steps "" is a mistake, not the default
    sweep = Sweep(
        None if steps is None else _positive_ints("--steps", steps, MAX_STEPS),
        None if samples is None else _positive_ints("--samples", samples, MAX_SAMPLES),
        warmup,
        repeat,
        eta,
    )
    if reference is not None and input_path is None:
        raise UsageError("--reference needs --input", hint="give the blurred clip with --input")
    if start is not None and input_path is None:
        raise UsageError("--start needs --input", hint="the built-in clip is only --frames long")
    typed_span = span_option(start, None, None)
    crop = parse_size(size, minimum=SMALLEST_FRAME) if size else None
    if input_path is None:
        check_synthesis_memory(frames or FRAMES, *(crop or SYNTHETIC_SIZE))
    # a --weights FILE alone, as run and evaluate take it (an existing file named with "=" too: a folder may be
    # named lr=1e-4); choose_models says which model it is for
    bare = [v for v in weights or [] if "=" not in v or (v.partition("=")[0] not in MODELS and Path(v).exists())]
    named = [name.strip() for value in model or [] for name in value.split(",")]  # -m a,b as -m a -m b
    asked = choose_models(named, bare, device=torch_device, cache_dir=cache_dir)
    weights = [f"{asked.bare[value]}={value}" if value in asked.bare else value for value in weights or []]
    weight_files = _weight_files(weights, list(asked.specs), asked.auto)
    sources = {"--input": input_path, "--reference": reference}
    sources |= {f"--weights {name}": path for name, path in weight_files.items()}
    sources |= {f"--lpips-weights {path}": path for path in lpips_weights or []}
    if plot_path is not None and plot_path.suffix.lower() != ".png":
        raise UsageError(
            f"--plot writes a PNG image; {plot_path} does not end in .png",
            hint=f"e.g. --plot {shlex.quote(plot_path.stem + '.png')}",
        )
    _check_outputs({"--json": json_path, "--plot": plot_path}, sources, force=force)
    plan = plan_bench(asked, weight_files, sweep, device=torch_device, compile=compile_model, cache_dir=cache_dir)
    for name in plan.models:
        if name in weight_files:  # each file found before the first model runs, and its size named
            _check_weights(name, weight_files[name], cache_dir=cache_dir, offline=offline or None)
            if held := labelled_as(name, weight_files[name], weights_label(name, weight_files[name])):
                warn(held)
    if plan.ignored:
        warn(plan.ignored)

    lpips = load_lpips(lpips_weights, torch_device) if lpips_weights else None  # a bad file fails, used or not
    clip_notes = []
    span = Span()
    if input_path is None:
        clip = synthetic_clip(seed, frames or FRAMES, crop or SYNTHETIC_SIZE)
    else:
        span = span_in(input_path, typed_span)  # in seconds: a timecode is a label of the input's own
        clip = load_clip(input_path, reference, frames or FRAMES, crop, span, at_most=frames is None)
        if (taken := len(clip.blurred)) < FRAMES and frames is None:  # --frames N refuses a shorter input
            whole = f"all {taken} frames benched" if taken > 1 else "that frame benched"
            some = count(taken, "frame")
            clip_notes.append(f"{input_path} has {some}, fewer than the default --frames {FRAMES}: {whole}")
        height, width = clip.blurred.shape[-2:]
        if min(height, width) < SMALLEST_FRAME:
            raise InputError(
                f"{input_path} has frames of {width}x{height}; bench needs {SMALLEST_FRAME}x{SMALLEST_FRAME} or more"
            )

    extra, metric_notes = optional_metrics(clip, lpips, torch_device)

    model_options = ModelOptions(
        device=device, precision=precision, eta=eta, seed=seed, compile=compile_model, cache_dir=cache_dir,
        offline=offline or None,
    )  # each row's steps and samples, each model's weights: its own
    # each model is built once per row: each warning is said once
    contenders = plan.contenders(functools.partial(_build, options=model_options, quiet=quiet, warn=said_once(warn)))
    with progress_bar(err, quiet, left=False) as bar:  # a log gets no bar (it got an empty line)
        task = bar.add_task("bench", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label or "done")

        about = {
            "seed": seed,  # of the built-in clip and of the samplers
            "precision": precision,  # as asked; each row's restorer says the dtype it ran in
            "compile": compile_model,  # the warm-up runs take the compiling
            "reference": None if reference is None else str(reference),
            "start": span.start if start is not None else None,
        }
        stop = None
        try:
            report = run_bench(
                clip,
                contenders,
                plan.options,
                extra_metrics=extra,
                notes=[*clip_notes, *plan.notes, *metric_notes],
                about=about,
                progress=progress,
            )
        except BenchStopped as stopped:  # the rows measured are shown and written, then the stop is said
            report, stop = stopped.report, stopped.cause

    table_notes = _print_table(report)
    for note in report.notes + table_notes:
        err.print(labelled("note:", "dim", note), highlight=False)
    if json_path is not None:
        write_json(report, json_path)
        err.print(f"wrote {json_path}", highlight=False)
    if plot_path is not None:
        if not shows_figures(report):  # written all the same, as asked: no older plot is left in its place
            nothing = f"--plot {plot_path} shows no figure: no finite PSNR or NIQE to draw (the notes above say why)"
            err.print(labelled("note:", "dim", nothing), highlight=False)
        write_plot(report, plot_path)
        err.print(f"wrote {plot_path}", highlight=False)
    if stop is not None:
        raise stop


def _check_outputs(outputs: dict[str, Path | None], sources: dict[str, Path | None], *, force: bool) -> None:
    """Refuse, before any work, an output that names a file bench reads (a frame of a folder or glob
    too) or the other output (writing it would destroy that file or lose the other output), an existing
    file without `force`, or one that cannot be written."""
    named = [(option, path) for option, path in outputs.items() if path is not None]
    for i, (option, path) in enumerate(named):
        for other, source in [*sources.items(), *named[:i]]:
            if source is not None and same_file(source, path):
                raise UsageError(f"{option} {path} is also {other}", hint=f"give {option} a file of its own")
            if source is not None and is_frame_of(path, source):
                raise UsageError(
                    f"{option} {path} would replace or add a frame of {other} {source}",
                    hint=f"give {option} a file outside {source}",
                )
        if path.is_file() and not force:
            raise OutputError(f"{option} {path} exists", hint="pass --force to replace it")
        check_writable(path)  # now, not after the benchmark


def _weight_files(pairs: list[str], names: list[str], auto: str | None) -> dict[str, Path]:
    """The --weights MODEL=FILE pairs by model; each MODEL one of `names`, those benchmarked (`auto`: what
    -m auto resolved to, None without it)."""
    files = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not path:
            raise UsageError(f"--weights takes MODEL=FILE, got {pair!r}", hint="e.g. --weights dstnet-s=my.safetensors")
        if name == AUTO:  # weights go with the model bench runs, which auto only stands for
            meant = auto or names[0]
            chose = f" (-m auto is {auto} here)" if auto else ""
            hint = f"e.g. --weights {shlex.quote(f'{meant}={path}')}"
            raise UsageError(f"--weights takes a model's name, not auto{chose}", hint=hint)
        if name not in MODELS:
            hint = f"{did_you_mean(name, MODELS)}models: {', '.join(MODELS)}"
            raise UsageError(f"--weights names {name!r}, which is not a model", hint=hint)
        if name not in names:
            raise UsageError(f"--weights names {name!r}, which is not benchmarked", hint=f"add --model {name}")
        if name in files:
            raise UsageError(
                f"--weights names {name} twice ({files[name]} and {path})",
                hint="bench one weights file per model; compare checkpoints with `deblur evaluate --weights A --weights B`",
            )
        files[name] = Path(path)
    return files


def _build(
    name: str,
    weights: Path | None,
    steps: int,
    samples: int,
    *,
    options: ModelOptions,
    quiet: bool,
    warn: Callable[[str], None],
) -> Restorer:
    """Model `name` built as `options` say, with `weights` (None: the default), `steps` and `samples` (a row of the
    sweep); bench's hints."""
    options = replace(options, weights=weights, steps=steps, samples=samples)
    try:
        return build_shown(name, options, quiet=quiet, warn=warn)
    except WeightsError as e:
        raise _as_bench_said(e, name) from None


def _check_weights(name: str, weights: Path, *, cache_dir: Path | None, offline: bool | None) -> None:
    try:
        check_weights(name, weights, cache_dir=cache_dir, offline=offline)
    except WeightsError as e:
        raise _as_bench_said(e, name) from None


def _as_bench_said(e: WeightsError, name: str) -> WeightsError:
    """`e` with its hint in bench's terms: run's name --weights FILE; bench's takes MODEL=FILE."""
    e.hint = e.hint and re.sub(r"--weights( FILE)?", f"--weights {name}=FILE", e.hint)
    return e


# The figure columns, (heading, BenchRow field, format): speed, then quality. Headings are split over two
# lines so that no column is wider than its figures need; a table never cuts a figure (_print_table).
SPEED = (("s/frame", "sec_per_frame", None), ("fps", "fps", None), ("peak\nMiB", "peak_memory_mib", "{:.0f}"))
QUALITY = (
    ("PSNR\ndB ↑", "psnr", "{:.2f}"),
    ("SSIM\n↑", "ssim", "{:.4f}"),
    ("NIQE\n↓", "niqe", "{:.3f}"),
    ("flicker\n↓", "temporal", "{:.3f}"),
)


def _print_table(report: BenchReport) -> list[str]:
    """Print the results on stdout: one table when it fits the terminal, else speed tables and quality
    tables, each with as many figures as fit beside the model column. Returns a note for a terminal too
    narrow even for one figure a table (figures are then cut)."""
    extras = list(dict.fromkeys(key for row in report.rows for key in row.extra))
    quality = QUALITY + tuple((f"{key.upper()}\n{'↑' if key == 'cvvdp' else '↓'}", key, "{:.4f}") for key in extras)
    tables = [_table(report, SPEED + quality, title=True, caption=True)]
    if width_needed(tables[0], out) > out.width:

        def fits(figures: list) -> bool:
            return width_needed(_table(report, tuple(figures), title=False, caption=False), out) <= out.width

        parts = fitting_parts(list(SPEED), fits) + fitting_parts(list(quality), fits)
        tables = [
            _table(report, tuple(part), title=i == 0, caption=i == len(parts) - 1) for i, part in enumerate(parts)
        ]
    for table in tables:
        out.print(table)
    return [cut] if (cut := cut_note(tables, out)) else []


def _table(report: BenchReport, figures: tuple, *, title: bool, caption: bool) -> Table:
    """A table of every row: its label (folded to fit), steps and samples, then `figures` (never wrapped)."""
    clip = f"{report.source}: {frame_count(report.frames)} {report.width}x{report.height} on {report.device}"
    table = figures_table(title=clip if title else None, caption=_caption(report) if caption else None)
    table.add_column("model", overflow="fold")
    for heading in ("steps", "samples", *(heading for heading, _, _ in figures)):
        table.add_column(heading, justify="right", no_wrap=True)
    for row in report.rows:
        cells = [cell(row.steps, "{}"), cell(row.samples, "{}")]
        for _, name, fmt in figures:
            value = row.extra.get(name) if name in row.extra else getattr(row, name, None)
            cells.append(_SPEED_TEXT[name](value) if name in _SPEED_TEXT else cell(value, fmt))
        table.add_row(row.model, *cells)
    return table


def _caption(report: BenchReport) -> str:
    """What the speed figures are: the median of how many timed runs, in which precision; the memory; and the
    diffusion rows' DDIM eta, where not 0."""
    repeat = report.settings.get("repeat")
    runs = f"the median of {count(repeat, 'timed run')}" if repeat else "timed"
    dtypes = sorted({str(row.restorer.get("dtype", "")).removeprefix("torch.") for row in report.rows if row.restorer})
    precision = f", in {' and '.join(dtypes)}" if any(dtypes) else ""
    etas = sorted({row.restorer["eta"] for row in report.rows if row.restorer and row.restorer.get("eta")})
    sampled = f"; DDIM eta {' and '.join(f'{eta:g}' for eta in etas)}" if etas else ""  # 0, the default: unsaid
    return f"s/frame: {runs}{precision}; memory: {report.memory}{sampled}"


def _fps_text(value: float | None) -> str:
    """Frames a second to three significant digits, trailing zeros kept ("50.0" beside "29.4"); whole
    numbers from 100 on."""
    return cell(value, "{:.0f}" if (value or 0) >= 99.95 else "{:#.3g}")


def _seconds_text(value: float | None) -> str:
    """Seconds a frame to four significant digits, trailing zeros kept ("3.930" beside "3.097", not
    "3.93"); whole numbers from 1000 on."""
    return cell(value, "{:.0f}" if (value or 0) >= 999.95 else "{:#.4g}")


_SPEED_TEXT = {"fps": _fps_text, "sec_per_frame": _seconds_text}
