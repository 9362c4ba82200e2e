"""`deblur run`: restore videos, image sequences or images."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Generator, Optional

import typer
from rich.progress import TextColumn

from deblur_cli import cpu_share
from deblur_cli.auto_model import AUTO, choose_model
from deblur_cli.batch import (
    Batch,
    Done,
    Failed,
    JobOutcome,
    Said,
    Skipped,
    Started,
    Stopped,
    failure,
    json_shape,
    make_output_folders,
    plan_batch,
    restore_batch,
)
from deblur_cli.cli.app import command, err, examples, labelled, note, out, report_error, warn
from deblur_cli.cli.options import (
    BatchOpt,
    CacheDirOpt,
    CompileOpt,
    DeviceOpt,
    DurationOpt,
    EndOpt,
    KeepDetailOpt,
    KeepStillOpt,
    EtaOpt,
    FpsOpt,
    FRAMES_PANEL,
    ModelOpt,
    OfflineOpt,
    OUTPUT_PANEL,
    OverlapOpt,
    PrecisionOpt,
    SamplesOpt,
    SceneCutsOpt,
    SeedOpt,
    StartOpt,
    StepsOpt,
    StrengthOpt,
    TileOpt,
    TileOverlapOpt,
    WeightsOpt,
    WindowOpt,
    check_split_names,
    input_path,
    rate_option,
    span_option,
    tile_option,
)
from deblur_cli.cli.progress_lines import FramesTask, progress_bar, sampling_step, speed
from deblur_cli.cli.weights import build_shown
from deblur_cli.errors import UsageError
from deblur_cli.mix import Mix
from deblur_cli.model_specs import model_spec
from deblur_cli.run_options import sampling_note, window_options
from deblur_cli.video_io import EncodeOptions, ReadOptions
from deblur_cli.video_io.deinterlace import MODES
from deblur_cli.wording import count, some

if TYPE_CHECKING:
    from deblur_cli.pipeline import RunResult


@command(
    "run",
    epilog=examples(
        ("deblur run in.mp4", "to in-deblurred.mp4"),
        ("deblur run in.mp4 -o out.mp4 --start 90 --duration 5", "5 s, to judge"),
        ("deblur run in.mp4 -o cmp.mp4 --side-by-side", "input | result"),
        ("deblur run frames/ -o restored/", "PNG frames in and out"),
        ("deblur run in.mp4 -m wtsa-s --steps 20", "the diffusion model"),
    ),
)
def run(
    inputs: Annotated[
        list[Path],
        typer.Argument(parser=input_path, metavar="INPUT...", help="Videos, image folders, globs ('frames/*.png') or images.", readable=False),
    ],
    output_given: Annotated[
        Optional[str],  # as typed: a trailing slash, which a Path drops, says "folder"
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Output file, or a folder (out/) for each video's result under its name; a name without a suffix"
            " gets PNG frames. Default: beside each input, -deblurred added (-compare with --side-by-side; and a"
            " part's times).",
        ),
    ] = None,
    start: StartOpt = None,
    end: EndOpt = None,
    duration: DurationOpt = None,
    fps: FpsOpt = None,
    deinterlace: Annotated[
        str,
        typer.Option(
            "--deinterlace",
            metavar="MODE",
            rich_help_panel=FRAMES_PANEL,
            help="auto: join the fields of video marked interlaced into whole frames first; double: a frame per "
            "field (50i gives 50p); on: any video, a frame per frame; off: never.",
        ),
    ] = "auto",
    codec: Annotated[
        Optional[str],
        typer.Option(
            metavar="NAME",
            rich_help_panel=OUTPUT_PANEL,
            help="Video codec: libx264, libx265, ffv1, prores_ks... (default: from the suffix and input).",
        ),
    ] = None,
    crf: Annotated[
        Optional[int],
        typer.Option(
            min=0,
            max=63,
            metavar="N",
            rich_help_panel=OUTPUT_PANEL,
            help="Quality, lower is better: 0 to 51 for x264/x265, to 63 for VP9/AV1 (default: 18).",
        ),
    ] = None,
    preset: Annotated[
        Optional[str],
        typer.Option(
            metavar="NAME",
            rich_help_panel=OUTPUT_PANEL,
            help="Encoder speed preset (default: medium; x264/x265, mapped onto VP9/AV1).",
        ),
    ] = None,
    pix_fmt: Annotated[
        Optional[str],
        typer.Option(
            "--pix-fmt",
            metavar="NAME",
            rich_help_panel=OUTPUT_PANEL,
            help="Output pixel format (default: from the input and codec).",
        ),
    ] = None,
    no_audio: Annotated[
        bool,
        typer.Option("--no-audio", metavar="", rich_help_panel=OUTPUT_PANEL, help="Drop audio and subtitle streams."),
    ] = False,
    side_by_side: Annotated[
        bool,
        typer.Option(
            "--side-by-side",
            metavar="",
            rich_help_panel=OUTPUT_PANEL,
            help="Output the input and the result side by side, to compare.",
        ),
    ] = False,
    strength: StrengthOpt = 1.0,
    keep_still: KeepStillOpt = False,
    keep_detail: KeepDetailOpt = False,
    model: ModelOpt = AUTO,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    compile_model: CompileOpt = False,
    window: WindowOpt = None,
    overlap: OverlapOpt = None,
    tile: TileOpt = "auto",
    tile_overlap: TileOverlapOpt = None,
    batch: BatchOpt = 1,
    scene_cuts: SceneCutsOpt = True,
    steps: StepsOpt = 20,
    eta: EtaOpt = 0.0,
    seed: SeedOpt = 0,
    samples: SamplesOpt = 1,
    force: Annotated[bool, typer.Option("--force", "-f", metavar="", help="Replace an existing output.")] = False,
    skip_existing: Annotated[
        bool,
        typer.Option("--skip-existing", metavar="", help="Leave out inputs whose output exists (to finish a batch)."),
    ] = False,
    no_resume: Annotated[
        bool,
        typer.Option("--no-resume", metavar="", help="Start over instead of continuing what an interrupted run kept."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="No progress bar or summary line.")] = False,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print a JSON summary on stdout.")] = False,
    cache_dir: CacheDirOpt = None,
    offline: OfflineOpt = False,
) -> None:
    """Remove motion blur: [bold]deblur run input.mp4 -o output.mp4[/]."""
    if output_given == "":  # as a Path, the current folder
        raise UsageError("-o is an empty name ('')", hint="name the output, or leave -o out to write beside each input")
    output = Path(output_given) if output_given is not None else None
    named_folder = output_given is not None and output_given.endswith(("/", os.sep))  # a Path drops the slash

    asked = {name: value for name, value in (("crf", crf), ("preset", preset)) if value is not None}
    encode = EncodeOptions(codec=codec, pix_fmt=pix_fmt, audio=not no_audio, asked=frozenset(asked), **asked)
    span = span_option(start, end, duration)
    tile_side = tile_option(tile)  # a mistyped option is said before any file is looked at
    image_rate = rate_option(fps)
    if deinterlace not in MODES:
        raise UsageError(f"--deinterlace must be one of {', '.join(MODES)}, got {deinterlace!r}")
    read = ReadOptions(image_rate=image_rate, deinterlace=deinterlace)
    if output == Path("-") or Path("-") in inputs:  # the shell's name for a pipe, which deblur does not use
        raise UsageError(
            "deblur reads and writes files, not pipes ('-')",
            hint="give a file name: the output is written whole under a temporary name, then renamed",
        )
    if force and skip_existing:
        raise UsageError("--force replaces existing outputs and --skip-existing keeps them", hint="choose one")
    check_split_names(inputs)
    planning = plan_batch(
        inputs, output, read, encode, named_folder=named_folder, force=force, side_by_side=side_by_side,
        skip_existing=skip_existing, span=span, mix=Mix(strength, keep_still, keep_detail),
    )  # fmt: skip
    planned = _said(planning)
    if not planned.todo:  # every output exists (--skip-existing)
        if as_json:
            out.print_json(json.dumps(json_shape(planned.entries(), planned.several)))
        return
    stopped = planned.none_readable()
    if stopped is not None and as_json:
        out.print_json(json.dumps(json_shape(planned.entries(), planned.several)))
    for error in planned.unreadable.values():  # inputs of several: the others still run
        if error is not stopped:  # one input alone that cannot be read is the error raised
            report_error(error)
    if stopped is not None:
        raise stopped
    # Modules that import torch: here, not at the top (see cli/__init__.py).
    from deblur_cli.devices import resolve_device
    from deblur_cli.restorers import ModelOptions, load_checked

    named = model != AUTO
    model = choose_model(model, device=resolve_device(device), weights=weights, cache_dir=cache_dir)
    windows, notes = window_options(
        model, window, overlap, tile_side, tile_overlap, batch, scene_cuts=scene_cuts
    )
    options = ModelOptions(
        weights=weights, device=device, precision=precision, steps=steps, eta=eta, seed=seed, samples=samples,
        compile=compile_model, cache_dir=cache_dir, offline=offline or None,
    )  # fmt: skip
    make_output_folders(planned)

    columns = TextColumn("{task.fields[speed]}"), TextColumn("{task.fields[detail]}", markup=False)
    with progress_bar(err, quiet, *columns) as bar:
        tasks: list[FramesTask] = []  # the input being restored: its task on the bar, for the window's steps too
        diffusion = model_spec(model).architecture == "wtsa"

        def on_step(done: int, total: int) -> None:  # a diffusion model's sampler steps, a DSTNet's propagation's
            if tasks and diffusion:
                tasks[0].step(sampling_step(done, total, samples))
            elif tasks:  # how far the frames restored together (a window) are, in terms of the frames, not windows
                tasks[0].step(f"next frames {100 * done // total}% restored")

        restorer, said = load_checked(
            model, options, windows, [sampling_note(model, steps, eta, samples, seed), *notes], named=named,
            build=functools.partial(build_shown, quiet=quiet, on_step=on_step, warn=warn),
        )  # fmt: skip
        for message in said:
            warn(message)
        compiled = bool((restorer.identity or {}).get("compiled"))
        if restorer.device.type == "cpu" and cpu_share.chose_passive_waiting and not quiet:
            note(cpu_share.SHARED_CPU_NOTE)
        if compiled and not quiet:  # without this note a long first window looks like a hang
            note("--compile: the first windows wait while torch.compile builds the network's kernels (minutes)")
        outcomes: list[JobOutcome] = []  # one per input, in order: what --json prints
        fit_threads = _thread_fitting(restorer, quiet)

        def progress(done: int, total: int | None) -> None:  # after each frame, in the thread the model runs in
            tasks[0](done, total)
            fit_threads(done)

        restoring = restore_batch(
            planned, restorer, model=model, windows=windows, resume=not no_resume, progress=progress, on_note=note,
        )  # fmt: skip
        for outcome in restoring:
            if isinstance(outcome, Started):
                name = outcome.job.source.name
                name = f"{name} ({outcome.number}/{len(planned.jobs)})" if planned.several else name
                tasks[:] = [FramesTask(bar, name, err, quiet)]
                continue
            if tasks:
                tasks.pop().close()
            _say(outcome, as_json=as_json, quiet=quiet, how=_how(model, restorer, strength))
            outcomes.append(outcome)
    if as_json:
        out.print_json(json.dumps(json_shape([outcome.entry for outcome in outcomes], planned.several)))
    if (failed := failure(planned, outcomes)) is not None:
        raise failed


def _said(planning: Generator[Said, None, Batch]) -> Batch:
    """The Batch `planning` returns, what it says printed as it says it."""
    while True:
        try:
            said = next(planning)
        except StopIteration as planned:
            return planned.value
        (warn if said.warning else note)(said.text)


def _thread_fitting(restorer, quiet: bool) -> Callable[[int], None]:
    """What to do after each frame: on a CPU, unless OMP_NUM_THREADS fixes torch's thread count, fit it to the
    cores other programs leave free (cpu_share.ThreadFit, as `deblur train` does), with a note at each change.
    Passive waiting, chosen as the command starts, covers only programs busy then: beside one that started after
    it, 90 frames of 640x360 took 38.0 to 41.2 s with 2 spinning threads and 33.3 s fitted (docs/cli.md)."""
    import torch

    most = torch.get_num_threads()
    if restorer.device.type != "cpu" or "OMP_NUM_THREADS" in os.environ or most < 2:
        return lambda done: None
    fit = cpu_share.ThreadFit(most)

    def after(done: int) -> None:
        if (threads := fit.poll()) is not None:
            torch.set_num_threads(threads)
            if not quiet:
                note(fit.said("restoring", f"frame {done + 1}", fixed_by="OMP_NUM_THREADS=N"))

    return after


def _say(outcome: JobOutcome, *, as_json: bool, quiet: bool, how: str) -> None:
    """What `outcome` says on stderr (and for a Ctrl-C or the error of one input with --json, on stdout), `how`
    being the model and its device, for the line of an input restored."""
    if isinstance(outcome, (Skipped, Stopped)) and outcome.note is not None:
        note(outcome.note)
    if isinstance(outcome, Failed) and not outcome.unreadable:  # those were said before the model loaded
        report_error(outcome.error)
    if isinstance(outcome, Stopped) and as_json and outcome.json is not None:
        out.print_json(json.dumps(outcome.json))
    if isinstance(outcome, Done):
        for message in outcome.warnings:
            warn(message)
        if not as_json and not quiet:
            err.print(labelled("done", "green", _done_line(outcome.result, how)), highlight=False, soft_wrap=True)


def _how(model: str, restorer, strength: float) -> str:
    """What the done line says made the frames: the model and device, or at --strength 0, no model."""
    return f"{model} on {restorer.device}" if strength > 0 else "--strength 0: the model not run"


def _done_line(result: RunResult, how: str) -> str:
    """The line of an input restored: its output, its frames, the time and rate, `how` (the model and device)."""
    frames = f"{count(result.frames, 'frame')} {result.width}x{result.height}"
    if result.shown is not None:  # a rotation tag turns them for players
        frames += f" (shown {result.shown[0]}x{result.shown[1]})"
    if result.resumed:  # the rate is of this run's frames: it says how many they are
        frames += f" ({result.resumed} from an earlier run)"
    now = result.frames - result.resumed
    rate = f"{now} restored at " if result.resumed else ""
    rate = f"{rate}{speed(result.fps)}, " if now > 0 else "all joined, "
    return f"{result.output}: {frames} in {result.seconds:.1f} s ({rate}{how}){_scenes(result.scene_cuts)}"


def _scenes(cuts: list[int]) -> str:
    """What the summary line says of the scene cuts the windows were split at."""
    if not cuts:
        return ""
    plural = "s" * (len(cuts) > 1)
    return f"; split at {len(cuts)} scene cut{plural}, before frame{plural} {some(cuts, 5)}"
