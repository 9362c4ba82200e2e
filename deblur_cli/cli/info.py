"""`deblur info`: what deblur reads from an input, and what `deblur run` would write for it, before a long run."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from deblur_cli.auto_model import AUTO, choose_model
from deblur_cli.batch import Jobs, plan_jobs
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
from deblur_cli.errors import DeblurError, InputError, NoVideoError, UsageError
from deblur_cli.model_specs import model_spec
from deblur_cli.outputs import expand_video_globs, nearest_folder, writable
from deblur_cli.preflight import left_out_note
from deblur_cli.asked_span import span_in
from deblur_cli.span import Span
from deblur_cli.run_options import sampling_note, window_options
from deblur_cli.video_io import EncodeOptions, ReadOptions, VideoInfo, describe
from deblur_cli.video_io.extras import describe_extras
from deblur_cli.video_io.frame_timing import timing_of
from deblur_cli.video_io.images import is_glob_input
from deblur_cli.video_io.info import HDR_TRANSFERS, UNSPECIFIED, reading_matrix, srgb_source, turn_in_words
from deblur_cli.video_io.sinks import plan_sink
from deblur_cli.video_io.sources import first_look, reading_warnings

if TYPE_CHECKING:  # they import torch, which `deblur info` without --estimate does without
    from deblur_cli.estimate import Estimate
    from deblur_cli.restorers import ModelOptions

ESTIMATE_PANEL = "How long deblur run takes (--estimate)"
TIMED_STEPS = 2  # the sampler steps a diffusion model is timed at, its time then scaled to the steps asked


def _span(flag: str, help: str) -> typer.models.OptionInfo:
    """An option of the part of each input --estimate counts (a preview's), as run's option of that name."""
    return typer.Option(flag, metavar="TIME", rich_help_panel=ESTIMATE_PANEL, help=help)


# FFmpeg's names for its colour enums, as ffprobe prints them (a few with a plainer name beside), for the values
# cameras and phones write.
_PRIMARIES = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020",
    10: "smpte428", 11: "smpte431 (DCI-P3)", 12: "smpte432 (Display P3)", 22: "ebu3213",
}  # fmt: skip
_TRANSFERS = {
    1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear", 9: "log100",
    10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1 (sRGB)", 14: "bt2020-10",
    15: "bt2020-12", 16: "PQ (smpte2084)", 17: "smpte428", 18: "HLG (arib-std-b67)",
}  # fmt: skip
_MATRICES = {
    0: "rgb", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco", 9: "bt2020nc",
    10: "bt2020c", 11: "smpte2085", 12: "chroma-derived-nc", 13: "chroma-derived-c", 14: "ictcp",
}  # fmt: skip
_RANGES = {1: "limited range", 2: "full range"}
# the matrices info.assumed_matrix takes for video that names none, as `info` says it
_ASSUMED = {1: "bt709, as players take HD video", 5: "bt601, as players take SD video"}


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
        timing = _Timing.asked(model or AUTO, weights, device or "auto", precision or "auto", steps, samples,
                               cache_dir, offline)  # fmt: skip
    reports = []
    described: list[tuple[dict, VideoInfo, Span]] = []  # each report, the frames an estimate is for, of its span
    check_split_names(inputs)
    planned, left_out = _planned(inputs)
    for line in left_out:
        note(line)
    failed: list[InputError] = []
    for source, target, given in planned:
        try:
            video, seen = first_look(source)
            reports.append(report := _report(source, video, target, seen))
            part = span_in(source, span)  # in seconds: a timecode is a label of this input's own
            described.append((report, video if part.whole else describe(source, ReadOptions(part)), part))
        except InputError as e:
            if isinstance(e, NoVideoError) and not given:  # found in a folder of videos: a camera card's sound files
                note(left_out_note(source, e))
                continue
            if len(planned) > 1:  # one damaged input of several (or a sound file given): the others are described
                report_error(e)
            reports.append({"input": str(source), "error": str(e)})
            failed.append(e)
    if not reports:
        raise InputError("no video: the folders given hold sound files only")
    if len(planned) == 1 and failed:  # one input: its error is the command's, after its --json entry
        if as_json:
            out.print_json(json.dumps(reports[0]))
        raise failed[0]
    if estimate:
        timing.add_estimates(described)
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


def _planned(inputs: list[Path]) -> tuple[list[tuple[Path, Path | str | None, bool]], list[str]]:
    """What `deblur run` without -o would restore of `inputs` and write for each, as the sinks take it (Job.sink:
    "NAME/" for a folder of frames whose name holds a dot), (batch.plan_jobs: quoted globs of
    videos expanded, earlier results left out), with whether it was named on the command line, and the globs of
    images, which name no place (None), in the order given; and the notes on the inputs left out. Inputs that
    run would refuse together (one given twice) are each described alone, after a warning."""
    expanded = expand_video_globs(inputs)
    videos = [path for path in expanded if not is_glob_input(path)]
    try:
        jobs = plan_jobs(videos, None, typed=True) if videos else Jobs([], False, [])
    except UsageError as e:
        warn(f"deblur run would refuse these inputs together: {e}")
        alone = [plan_jobs([path], None, typed=True) for path in videos]
        notes = [line for each in alone for line in each.left_out]
        jobs = Jobs([job for each in alone for job in each.jobs], True, notes)
    planned = [(job.source, job.sink, job.given) for job in jobs.jobs]
    planned += [(path, None, True) for path in expanded if is_glob_input(path)]

    def given_at(source: Path) -> int:  # the place of the input a job comes from: itself, or its folder
        return next((i for i, path in enumerate(expanded) if path == source or path in source.parents), len(expanded))

    return sorted(planned, key=lambda entry: given_at(entry[0])), jobs.left_out


class _Timing:
    """`--estimate`: the model `deblur run` would restore with, built once, timed once for each frame size and
    window (estimate.py). A diffusion model is timed at TIMED_STEPS sampler steps at most, of the samples asked
    (they run together, as in the run), and the time scaled to the steps asked: its network runs once a step."""

    def __init__(self, model: str, options: ModelOptions, steps: int, samples: int, *, named: bool, ignored: str | None):
        self.model, self.options, self.steps, self.samples = model, options, steps, samples
        self.diffusion = model_spec(model).architecture == "wtsa"
        self.named = named  # the model was named, not chosen as auto
        self.ignored = ignored  # the note on sampling options the model ignores, said once it is built

    @classmethod
    def asked(cls, model: str, weights: Path | None, device: str, precision: str, steps: int | None,
              samples: int | None, cache_dir: Path | None, offline: bool) -> _Timing:  # fmt: skip
        """The model the options name (auto: as `deblur run` chooses it), checked, not yet built."""
        from deblur_cli.devices import resolve_device
        from deblur_cli.restorers import ModelOptions

        named = model != AUTO
        model = choose_model(model, device=resolve_device(device), weights=weights, cache_dir=cache_dir)
        steps, samples = steps or 20, samples or 1
        ignored = sampling_note(model, steps, 0.0, samples, 0)
        sampling = {"steps": steps, "samples": samples}
        if model_spec(model).architecture == "wtsa":
            sampling["steps"] = min(steps, TIMED_STEPS)
        options = ModelOptions(weights=weights, device=device, precision=precision, cache_dir=cache_dir,
                               offline=offline or None, **sampling)  # fmt: skip
        return cls(model, options, steps, samples, named=named, ignored=ignored)

    def add_estimates(self, described: list[tuple[dict, VideoInfo, Span]]) -> None:
        """Each report given its "estimate" of how long the model takes on the frames of its span (in seconds, as
        the input's span was read: `video` describes those frames), its windows checked as
        `deblur run` checks them (UsageError for a window longer than the model takes), and what `deblur run` says
        of the model (restorers.load_checked) said as it says it."""
        from deblur_cli.estimate import estimate, timed_window
        from deblur_cli.restorers import load_checked

        windows, notes = window_options(self.model, None, None, "auto", None)
        restorer, said = load_checked(
            self.model, self.options, windows, [self.ignored, *notes], named=self.named,
            build=functools.partial(build_shown, warn=warn),
        )  # fmt: skip
        for line in said:
            warn(line)
        scale = self.steps / self.options.steps if self.diffusion else 1.0
        precision = str(restorer.dtype or "").removeprefix("torch.") or None
        timed: dict[tuple, Estimate] = {}  # by frame size and the window timed for it, which the frames decide
        for report, video, span in described:
            size = (video.height, video.width)  # as stored: the frames the model restores
            window = timed_window(windows.window, windows.overlap, video.frame_count, restorer.max_frames)
            if (size, window) not in timed:
                note(f"timing {self.model} on {video.width}x{video.height} frames, a window of {window[0]} (twice)")
                timed[size, window] = estimate(
                    restorer, size, windows.window, windows.overlap, frames=video.frame_count, scale=scale
                )
            found, frames = timed[size, window], video.frame_count
            seconds = found.seconds(frames, windows.last) if frames else None
            report["estimate"] = {
                "model": self.model,
                "device": str(restorer.device),
                "precision": precision,
                "steps": self.steps if self.diffusion else None,
                "samples": self.samples if self.diffusion else None,
                "timed_steps": self.options.steps if self.diffusion else None,
                "seconds": None if seconds is None else round(seconds, 3),
                "seconds_per_frame": round(found.seconds_per_frame if seconds is None else seconds / frames, 6),
                "frames": frames,
                "span": None if span.whole else span.describe(),
                "timed": f"{found.probe[1]}x{found.probe[0]}" + (" strip" if found.strip else ""),
                "window": found.window,
                "new_frames": found.new_frames,
                "scale": found.scale,
            }


def _report(path: Path, info: VideoInfo, sink: Path | str | None, seen: list[str]) -> dict:
    """The facts about one input, by name, None where they do not apply; `sink` is where `deblur run`
    without -o writes, as the sinks take it ("NAME/" for a folder of frames; None for a glob, which needs -o: it
    is described as written to PNG frames); `seen`, the warnings of the frames decoded to describe it."""
    planned = sink is not None  # a glob's frames are described as written to a folder of PNG frames
    sink = sink if planned else "deblurred/"
    target = Path(sink)
    shown_target = str(target) if planned else "none: a glob needs -o (a folder for PNG frames, or a video file)"
    width, height = info.display_size
    alpha = "kept" if info.alpha else None
    try:
        plan = plan_sink(sink, info, EncodeOptions(), source=path)
        warnings, writes = list(plan.warnings), plan.writes
        if info.alpha and not plan.alpha_kept:
            alpha = "left out"
    except DeblurError as e:  # the container refuses the encoder, say
        warnings, writes = [], f"nothing: {e}"
    warnings = reading_warnings(path, info) + seen + warnings
    if planned and (folder := nearest_folder(target)).is_dir() and not writable(folder):
        warnings.append(f"{folder} cannot be written: deblur run needs -o to put the result elsewhere")  # a card
    container = _container_name(path, info.container)
    extras = describe_extras(path) if info.container else {}
    return {
        "input": str(path),
        "format": ", ".join(filter(None, [container, info.codec, info.pix_fmt])),
        "bit_depth": info.bit_depth,
        "size": f"{info.width}x{info.height}",
        "shown_as": f"{width}x{height}, {turned}" if (turned := turn_in_words(info.rotation, info.mirrored)) else None,
        "pixel_aspect": str(info.sample_aspect_ratio) if info.sample_aspect_ratio not in (None, 1) else None,
        "frame_rate": float(info.fps or info.rate) if info.fps or (info.frame_count or 0) > 1 else None,
        "variable_frame_rate": _variable_rate(path, info),
        "frames": info.frame_count,
        "duration_s": round(info.duration, 3) if info.duration is not None else None,
        "file_duration_s": _longer(extras.get("seconds"), info.duration),
        "colour": _colour(info),
        "hdr10_metadata": info.hdr is not None or None,
        "interlaced": _interlacing(info),
        "timecode": info.timecode,
        "audio": info.has_audio if info.container else None,
        "audio_tracks": extras.get("audio"),
        "subtitles": info.has_subtitles if info.container else None,
        "subtitle_tracks": extras.get("subtitles"),
        "alpha": alpha,
        "chapters": extras.get("chapters"),
        "telemetry": ", ".join(extras["telemetry"]) if "telemetry" in extras else None,
        "other_data": ", ".join(extras["data"]) if "data" in extras else None,
        "attachments": ", ".join(extras["attachments"]) if "attachments" in extras else None,
        "other_video_streams": extras.get("other_video"),
        "default_output": shown_target,
        "written_with": writes,
        "warnings": warnings,
    }


def _longer(file_seconds: float | None, video_seconds: float | None) -> float | None:
    """The file's duration where its sound (or other streams) plays half a second or more past the video
    (a still with music: one frame, minutes of audio), which deblur run keeps whole; else None."""
    if file_seconds is None or video_seconds is None or file_seconds < video_seconds + 0.5:
        return None
    return round(file_seconds, 3)


def _variable_rate(path: Path, info: VideoInfo) -> str | None:
    """How the time between frames varies in a video file (frame_timing.Timing.varying), which deblur run keeps;
    None where it is steady, for images, and where it is steady but for frames missing (a warning says so)."""
    if not info.container or info.frame_names is not None or not path.is_file():
        return None
    if (timing := timing_of(path)) is None or timing.varying is None:
        return None
    return f"{timing.varying.describe()}; deblur run keeps each frame's time"


def _container_name(path: Path, demuxer: str | None) -> str:
    """The format the file was read as: the demuxer's name, spelled as the file's suffix spells it where
    that is one of the demuxer's names ("mp4" of "mov,mp4,m4a,3gp,3g2,mj2"), else its first (an .mp4 that
    is Matroska inside is "matroska"); an image file's suffix, which its demuxer (image2, dpx_pipe) names
    no better than its codec does."""
    suffix = path.suffix[1:].lower() if path.is_file() else ""
    if demuxer is None or demuxer == "image2" or demuxer.endswith("_pipe"):
        return suffix
    names = demuxer.split(",")
    return suffix if suffix in names else names[0]


def _colour(info: VideoInfo) -> str:
    """The colour tags by name: primaries, transfer, matrix, range; those that are not set left out. Where
    YUV video names no matrix, the one deblur reads it with (BT.709 for HD, BT.601 for SD, as players take
    it: info.reading_matrix); where RGB frames or images name nothing, that they are read as sRGB."""
    color = info.color
    tables = {"primaries": _PRIMARIES, "transfer": _TRANSFERS, "matrix": _MATRICES, "range": _RANGES}
    names = [
        table.get(value, f"{key} {value}")  # a value newer than this table: its number, not nothing
        for key, table in tables.items()
        if not _unset(key, value := color.get(key))
    ]
    assumed = reading_matrix(info) if _unset("matrix", color.get("matrix")) else None
    if assumed is not None:
        reading = f"read as {_ASSUMED[assumed]}"
        names.append(f"matrix not tagged ({reading})" if names else f"not tagged ({reading})")
    unsaid = "not tagged (read as sRGB)" if srgb_source(info) else "not tagged"
    tags = ", ".join(filter(None, names)) or unsaid
    if color.get("transfer") in HDR_TRANSFERS:
        tags += " (HDR: restored on an sRGB-like curve)"
    return tags


def _unset(key: str, value: int | None) -> bool:
    """Whether a colour tag says nothing: missing, or a value FFmpeg calls unspecified or reserved."""
    return value is None or value in UNSPECIFIED[key]


def _interlacing(info: VideoInfo) -> str | None:
    if info.container is None:
        return None
    if info.field_order is None:
        return "no (progressive)"
    order = f"{info.field_order} field first" if info.field_order in ("top", "bottom") else "field order per frame"
    return f"yes, {order}: deinterlaced by default (--deinterlace)"


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
            total += f" for its {found['frames']} frame{'s' * (found['frames'] != 1)} from {found['span']},"
    how = ", ".join(filter(None, [f"{found['model']} on {found['device']}", found["precision"]]))
    frames = f"{found['window']} frame{'s' * (found['window'] != 1)}"
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
