"""`deblur info`: what deblur reads from an input, and what `deblur run` would write for it, before a long run."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from deblur_cli.auto_model import AUTO
from deblur_cli.batch import plan_described
from deblur_cli.cli.app import command, note, out, report_error, warn
from deblur_cli.cli.options import (
    CacheDirOpt,
    DeviceOpt,
    ModelOpt,
    OfflineOpt,
    PrecisionOpt,
    SamplesOpt,
    StepsOpt,
    WeightsOpt,
    check_split_names,
    input_path,
    span_option,
)
from deblur_cli.cli.progress_lines import SLOW, each_frame, in_words
from deblur_cli.cli.weights import build_shown
from deblur_cli.errors import InputError, NoVideoError, UsageError
from deblur_cli.input_report import ModelTiming, describe_input
from deblur_cli.preflight import left_out_note
from deblur_cli.asked_span import span_in
from deblur_cli.span import Span
from deblur_cli.video_io import ReadOptions, VideoInfo, describe
from deblur_cli.video_io.sources import first_look
from deblur_cli.wording import count

ESTIMATE_PANEL = "How long deblur run takes (--estimate)"


def _span(flag: str, help: str) -> typer.models.OptionInfo:
    """An option of the part of each input --estimate counts (a preview's), as run's option of that name."""
    return typer.Option(flag, metavar="TIME", rich_help_panel=ESTIMATE_PANEL, help=help)


@command("info")
def info(
    inputs: Annotated[
        list[Path],
        typer.Argument(parser=input_path, metavar="INPUT...", help="Videos, image folders, folders of videos or images.", readable=False),
    ],
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print JSON on stdout.")] = False,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate",
            metavar="",
            rich_help_panel=ESTIMATE_PANEL,
            help="Also tell how long deblur run's model would take here: times it on a window of each size's"
            " frames (a window's work, twice).",
        ),
    ] = False,
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = None,
    steps: StepsOpt = None,
    samples: SamplesOpt = None,
    cache_dir: CacheDirOpt = None,
    offline: OfflineOpt = False,
    start: Annotated[Optional[str], _span("--start", "Count the frames from this time on, as run does.")] = None,
    end: Annotated[Optional[str], _span("--end", "...and before this time.")] = None,
    duration: Annotated[Optional[str], _span("--duration", "...or this long from --start.")] = None,
) -> None:
    """What deblur reads from an input and what [bold]deblur run[/] would write for it."""
    asked = {"--model": model, "--weights": weights, "--device": device, "--precision": precision}
    asked |= {"--steps": steps, "--samples": samples, "--cache-dir": cache_dir, "--offline": offline or None}
    asked |= {"--start": start, "--end": end, "--duration": duration}
    if not estimate and (named := [name for name, value in asked.items() if value is not None]):
        raise UsageError(f"{named[0]} is for --estimate", hint="add --estimate to time the model on these inputs")
    span = span_option(start, end, duration)
    if estimate:  # a mistyped device or model is said before any input is read
        timing = ModelTiming.asked(model or AUTO, weights, device or "auto", precision or "auto", steps, samples,
                                   cache_dir, offline)  # fmt: skip
    reports = []
    described: list[tuple[dict, VideoInfo, Span]] = []  # each report, the frames an estimate is for, of its span
    check_split_names(inputs)
    planned = plan_described(inputs)
    if planned.refused is not None:
        warn(f"deblur run would refuse these inputs together: {planned.refused}")
    for line in planned.left_out:
        note(line)
    failed: list[InputError] = []
    several = len(planned.inputs) > 1
    for source, target, given in planned.inputs:
        try:
            video, seen = first_look(source)
            reports.append(report := describe_input(source, video, target, seen))
            part = span_in(source, span)  # in seconds: a timecode is a label of this input's own
            described.append((report, video if part.whole else describe(source, ReadOptions(part)), part))
        except InputError as e:
            if isinstance(e, NoVideoError) and not given:  # found in a folder of videos: a camera card's sound files
                note(left_out_note(source, e))
                continue
            if several:  # one damaged input of several (or a sound file given): the others are described
                report_error(e)
            reports.append({"input": str(source), "error": str(e)})
            failed.append(e)
    if not reports:
        raise InputError("no video: the folders given hold sound files only")
    if not several and failed:  # one input: its error is the command's, after its --json entry
        if as_json:
            out.print_json(json.dumps(reports[0]))
        raise failed[0]
    if estimate:
        timing.add_estimates(described, build=functools.partial(build_shown, warn=warn), warn=warn, note=note)
    if as_json:
        out.print_json(json.dumps(reports if len(reports) > 1 else reports[0]))
    else:
        _print_tables([report for report in reports if "error" not in report])
    if failed:
        raise typer.Exit(1)


def _print_tables(reports: list[dict]) -> None:
    for report in reports:
        table = Table(title=report["input"], title_justify="left", show_header=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, value in report.items():
            if key != "input" and value is not None:
                table.add_row(key.replace("_", " "), _text(value))
        out.print(table)


def _estimate_text(found: dict) -> str:
    """An estimate as the table says it: "about 12 min (1.9 s a frame, 0.53 fps) for the model: dstnet-s on cpu,
    bfloat16, timed on 10 frames of a 1920x144 strip"."""
    seconds = found["seconds_per_frame"]
    rate = f"{1 / seconds:.2f}" if 1 / seconds >= SLOW else f"{1 / seconds:.2g}"  # where .2f says more than 0.00
    each = f"{each_frame(seconds)} a frame, {rate} fps"
    if found["seconds"] is None:
        total = each
    else:
        total = f"about {in_words(found['seconds'])}" if found["seconds"] >= 1 else "under a second"
        total += f" ({each})"
        if found.get("span"):  # --start, --end or --duration: a part of the video
            total += f" for its {count(found['frames'], 'frame')} from {found['span']},"
    how = ", ".join(filter(None, [f"{found['model']} on {found['device']}", found["precision"]]))
    frames = count(found["window"], "frame")
    strip = found["timed"].endswith(" strip")
    timed = f"timed on {frames} of a {found['timed']}" if strip else f"timed on {frames}"
    if found["timed_steps"] is not None:  # a diffusion model: timed at fewer steps
        samples = f", {found['samples']} samples" if found["samples"] > 1 else ""
        timed += f" at {found['timed_steps']} DDIM steps{samples}, scaled to {found['steps']} steps"
    return f"{total} for the model: {how}, {timed}"


def _text(value) -> str:
    if isinstance(value, dict) and "seconds_per_frame" in value:
        return _estimate_text(value)
    if isinstance(value, list):
        return "\n".join(value) or "none"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return f"{value:g}" if isinstance(value, float) else str(value)
