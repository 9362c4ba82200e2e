"""`deblur run`: restore videos, image sequences or images."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import TextColumn

from deblur_cli import cpu_share, files
from deblur_cli.auto_model import AUTO, choose_model
from deblur_cli.cli.app import command, err, examples, labelled, note, out, report_error, warn
from deblur_cli.cli.options import (
    BatchOpt,
    CacheDirOpt,
    CompileOpt,
    DeviceOpt,
    DurationOpt,
    EndOpt,
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
    input_path,
    rate_option,
    span_option,
    tile_option,
)
from deblur_cli.cli.progress_lines import FramesTask, progress_bar, sampling_step
from deblur_cli.cli.weights import build_shown, runs_under
from deblur_cli.errors import InputError, OutputBusyError, OutputError, OutputExistsError, UsageError
from deblur_cli.outputs import (
    check_not_a_device,
    check_not_the_input,
    earlier_outputs,
    Job,
    expand_video_globs,
    left_out_note,
    output_tag,
    photos_beside_videos,
    plan_outputs,
    preflight,
)
from deblur_cli.run_options import check_restorer, sampling_note, window_options
from deblur_cli.video_io import EncodeOptions, ReadOptions
from deblur_cli.video_io.deinterlace import MODES
from deblur_cli.wording import some


@command(
    "run",
    short_help="Remove motion blur: deblur run in.mp4 -o out.mp4.",
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
    model: ModelOpt = AUTO,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    compile_model: CompileOpt = False,
    steps: StepsOpt = 20,
    eta: EtaOpt = 0.0,
    seed: SeedOpt = 0,
    samples: SamplesOpt = 1,
    window: WindowOpt = None,
    overlap: OverlapOpt = None,
    tile: TileOpt = "auto",
    tile_overlap: TileOverlapOpt = None,
    batch: BatchOpt = 1,
    scene_cuts: SceneCutsOpt = True,
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
            help="Video codec (libx264, libx265, libvpx-vp9, ffv1, x264-lossless...).",
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
    read = ReadOptions(span, image_rate, deinterlace)
    if output == Path("-") or Path("-") in inputs:  # the shell's name for a pipe, which deblur does not use
        raise UsageError(
            "deblur reads and writes files, not pipes ('-')",
            hint="give a file name: the output is written whole under a temporary name, then renamed",
        )
    if force and skip_existing:
        raise UsageError("--force replaces existing outputs and --skip-existing keeps them", hint="choose one")
    inputs = expand_video_globs(inputs)
    planned = plan_outputs(inputs, output, named_folder=named_folder, tag=output_tag(span, side_by_side))
    several = len(planned) > 1  # as typed: --json's shape does not change with what is left out
    # a batch run again beside its first results: a folder's, or without -o the shell's *.mp4, hold them too
    earlier = earlier_outputs([job.source for job in planned])
    if output is not None:  # what was typed goes to -o's place whatever its name
        earlier = {restored: source for restored, source in earlier.items() if restored not in inputs}
    for restored, source in earlier.items():
        note(f"left out {restored}: named as deblur names the result of {source} (restore it alone to restore it)")
    planned = [job for job in planned if job.source not in earlier]
    inputs = [path for path in inputs if path not in earlier]
    for folder in inputs:
        if photos := photos_beside_videos(folder):
            some = "a photo" if len(photos) == 1 else f"{len(photos)} photos"
            one = shlex.quote(str(photos[0]))
            note(f"left out {some} in {folder}, a folder of videos: restore a photo on its own (deblur run {one})")
    for job in planned:  # before --skip-existing takes an input for its own finished output
        check_not_a_device(job.target)  # nor /dev/null for one
        check_not_the_input(job.source, job.target)
    jobs = [job for job in planned if not (skip_existing and files.taken(job.target))]
    for job in planned:
        if job not in jobs:
            note(f"skipped {job.source}: {job.target} exists")
    if not jobs:
        if as_json:
            skipped = [_skipped(job) for job in planned]
            out.print_json(json.dumps(skipped if several else skipped[0]))
        return
    foreseen: dict[Path, tuple[str, ...]] = {}  # the warnings each output's sink will give, shown before the run
    checks = preflight(jobs, read, encode, force=force, side_by_side=side_by_side, alone=not several)
    unreadable: dict[Path, InputError] = {}  # inputs of several that cannot be read: the others still run
    for found in checks:  # bad inputs and outputs fail before torch is imported and the model loads
        source = found.job.source
        if found.failed is not None:
            unreadable[source] = found.failed
        if found.left_out is not None:
            note(left_out_note(source, found.left_out))
            jobs.remove(found.job)
            planned.remove(found.job)
        if found.note is not None:
            note(found.note)
        if found.warnings is not None:
            foreseen[source] = found.warnings
            for message in found.warnings:
                warn(f"{source.name}: {message}" if several else message)
    if len(unreadable) == len(jobs):  # nothing left to restore (the inputs left out were noted)
        if as_json:
            entries = [_failed(j, unreadable[j.source]) if j.source in unreadable else _skipped(j) for j in planned]
            out.print_json(json.dumps(entries))
        if len(unreadable) == 1:
            raise next(iter(unreadable.values()))
        for error in unreadable.values():
            report_error(error)
        left = " left to restore" if len(jobs) < len(planned) else ""  # the others skipped (--skip-existing)
        raise InputError(f"none of the {len(jobs)} inputs{left} can be read", hint="the errors above say why")
    for error in unreadable.values():
        report_error(error)
    # Modules that import torch: here, not at the top (see cli/__init__.py).
    from deblur_cli.devices import resolve_device
    from deblur_cli.pipeline import deblur_video
    from deblur_cli.restorers import ModelOptions

    named = model != AUTO
    model = choose_model(model, device=resolve_device(device), weights=weights, cache_dir=cache_dir)
    windows, notes = window_options(
        model, window, overlap, tile_side, tile_overlap, batch, scene_cuts=scene_cuts
    )
    options = ModelOptions(
        weights=weights, device=device, precision=precision, steps=steps, eta=eta, seed=seed, samples=samples,
        compile=compile_model, cache_dir=cache_dir, offline=offline or None,
    )  # fmt: skip
    if named and (held := runs_under(model, weights)):  # auto: the file's own model, whatever its size
        warn(held)
    if not planned[0].named:  # the folder -o names, or one beside a folder of videos
        for job in jobs:
            job.target.parent.mkdir(parents=True, exist_ok=True)

    columns = TextColumn("{task.fields[fps]:.2f} fps"), TextColumn("{task.fields[detail]}", markup=False)
    with progress_bar(err, quiet, *columns) as bar:
        current: list = []  # the task being restored, for the sampler's step callback

        def on_step(done: int, total: int) -> None:
            if current:
                bar.update(current[0], detail=sampling_step(done, total, samples))

        restorer = build_shown(model, options, quiet=quiet, on_step=on_step, warn=warn)  # a download: a line, a bar
        if ignored := sampling_note(model, steps, eta, samples, seed):  # once the weights fit the model
            warn(ignored)
        compiled = bool((restorer.identity or {}).get("compiled"))
        for message in notes + check_restorer(restorer, model, windows, compiled=compiled):  # once the model is built
            warn(message)
        if restorer.device.type == "cpu" and cpu_share.chose_passive_waiting and not quiet:
            note(cpu_share.SHARED_CPU_NOTE)
        if compiled and not quiet:  # without this note a long first window looks like a hang
            note("--compile: the first windows wait while torch.compile builds the network's kernels (minutes)")
        summaries: list[dict] = []  # one per input, in order: what --json prints
        failed: list[Path] = []
        for job in planned:
            source, target = job.source, job.target
            if job not in jobs:
                summaries.append(_skipped(job))
                continue
            if source in unreadable:  # said before the model loaded
                failed.append(source)
                summaries.append(_failed(job, unreadable[source]))
                continue
            name = f"{source.name} ({len(summaries) + 1}/{len(planned)})" if several else source.name
            progress = FramesTask(bar, name, err, quiet)
            current[:] = [progress.task]
            try:
                result = deblur_video(
                    source,
                    job.sink,
                    restorer,
                    windows=windows,
                    encode=encode,
                    read=read,
                    force=force,
                    side_by_side=side_by_side,
                    strength=strength,
                    resume=not no_resume,
                    progress=progress,
                    on_note=note,
                )
            except (InputError, OutputError) as e:
                if skip_existing and isinstance(e, (OutputExistsError, OutputBusyError)):
                    # another worker of the same batch finished this output, or is writing it: not a failure
                    if isinstance(e, OutputBusyError):
                        note(f"skipped {source}: another deblur run is writing {target}")
                    else:
                        note(f"skipped {source}: {target} exists")
                    summaries.append(_skipped(job))
                    continue
                if not several:
                    raise
                report_error(e)  # one damaged input of several: the others are still restored
                failed.append(source)
                summaries.append(_failed(job, e))
                continue
            except BaseException as e:  # Ctrl-C, or an error that stops the batch
                if several and (finished := sum("error" not in summary for summary in summaries)):
                    note(
                        f"{finished} of {len(planned)} outputs {'is' if finished == 1 else 'are'} finished: "
                        "the same command with --skip-existing goes on with the rest"
                    )
                if as_json and isinstance(e, KeyboardInterrupt):  # what was done, for a script that stopped it
                    summaries.append({"input": str(source), "output": str(target), "interrupted": True})
                    later = planned[len(summaries) :]
                    summaries += [{"input": str(j.source), "output": str(j.target), "not_started": True} for j in later]
                    out.print_json(json.dumps(summaries if several else summaries[0]))
                raise
            finally:
                progress.close()
            for message in result.warnings:
                if message not in foreseen[source]:
                    warn(message)
            summaries.append(result.summary(model, restorer, windows, strength))
            if not as_json and not quiet:
                frames = f"{result.frames} frame{'s' * (result.frames != 1)} {result.width}x{result.height}"
                if result.shown is not None:  # a rotation tag turns them for players
                    frames += f" (shown {result.shown[0]}x{result.shown[1]})"
                if result.resumed:  # the rate is of this run's frames: it says how many they are
                    frames += f" ({result.resumed} from an earlier run)"
                now = result.frames - result.resumed
                rate = f"{now} restored at " if result.resumed else ""
                rate = f"{rate}{result.fps:.2f} fps, " if now > 0 else "all joined, "
                how = f"{rate}{model} on {restorer.device}"
                line = f"{result.output}: {frames} in {result.seconds:.1f} s ({how}){_scenes(result.scene_cuts)}"
                err.print(labelled("done", "green", line), highlight=False, soft_wrap=True)
    if as_json:
        out.print_json(json.dumps(summaries if several else summaries[0]))
    if failed:
        names = ", ".join(str(source) for source in failed)
        restored = sum("frames" in summary for summary in summaries)
        others = len(jobs) - len(failed)  # less those another run finished or was writing, skipped
        done = f"the other {restored}" if restored == others else f"{restored} of the other {others}"
        raise InputError(
            f"{len(failed)} of {len(jobs)} inputs failed: {names}",
            hint=f"{done} {'was' if restored == 1 else 'were'} restored; the errors above say what went wrong",
        )


def _scenes(cuts: list[int]) -> str:
    """What the summary line says of the scene cuts the windows were split at."""
    if not cuts:
        return ""
    plural = "s" * (len(cuts) > 1)
    return f"; split at {len(cuts)} scene cut{plural}, before frame{plural} {some(cuts, 5)}"


def _skipped(job: Job) -> dict:
    """The --json entry of an input left out by --skip-existing."""
    return {"input": str(job.source), "output": str(job.target), "skipped": True}


def _failed(job: Job, error: Exception) -> dict:
    """The --json entry of an input of several that failed."""
    return {"input": str(job.source), "output": str(job.target), "error": str(error)}
