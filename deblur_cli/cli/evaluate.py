"""`deblur evaluate`: PSNR and SSIM of one or more models over a dataset of blurred/sharp sequences."""

from __future__ import annotations

import functools
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from deblur_cli.auto_model import AUTO
from deblur_cli.cli.app import command, err, examples, given_options, note, out, warn
from deblur_cli.cli.options import (
    BatchOpt,
    CacheDirOpt,
    DeviceOpt,
    EtaOpt,
    KeepDetailOpt,
    KeepStillOpt,
    METRICS_PANEL,
    MODEL_PANEL,
    OUTPUT_PANEL,
    SAMPLING_PANEL,
    WINDOWS_PANEL,
    LpipsWeightsOpt,
    OfflineOpt,
    OverlapOpt,
    PrecisionOpt,
    QuietOpt,
    SamplesOpt,
    SceneCutsOpt,
    StepsOpt,
    StrengthOpt,
    TileOpt,
    TileOverlapOpt,
    WindowOpt,
    tile_option,
    seed_option,
)
from deblur_cli.cli.evaluate_tables import comparison, show
from deblur_cli.cli.progress_lines import FramesTask, progress_bar, time_left
from deblur_cli.cli.weights import build_shown, describe_shown
from deblur_cli.datasets import find_sequences
from deblur_cli.files import check_writable
from deblur_cli.errors import OutputError, UsageError
from deblur_cli.evaluate_plan import (
    Stored,
    coverage_notes,
    lossy_notes,
    plan_contenders,
    read_stored,
    results_contenders,
)
from deblur_cli.mix import Mix
from deblur_cli.model_specs import MODELS
from deblur_cli.run_options import check_restorer, sampling_note, window_options
from deblur_cli.wording import said_once

if TYPE_CHECKING:
    from rich.progress import Progress

    from deblur_cli.evaluate import EvaluationReport
    from deblur_cli.evaluate_session import EvaluationProgress


@command(
    "evaluate",
    epilog=examples(
        ("deblur evaluate gopro/test -m dstnet --weights GOPRO.pth", "published weights"),
        ("deblur evaluate data/val -m dstnet-s -m wtsa-s --niqe", "two models"),
        ("deblur evaluate data/val --results other/ --json s.json", "another method"),
    ),
)
def evaluate(
    ctx: typer.Context,
    dataset: Annotated[
        Path, typer.Argument(metavar="DATASET", help="Dataset folder: blurred/sharp pairs as in GoPro, DVD, BSD, REDS or `deblur synth`.")
    ],
    models: Annotated[
        Optional[list[str]],
        typer.Option(
            "--model",
            "-m",
            metavar="NAME",
            rich_help_panel=MODEL_PANEL,
            help=f"Model, repeatable to compare several: {AUTO}, {', '.join(MODELS)}.",
        ),
    ] = None,
    weights: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--weights",
            metavar="FILE",
            rich_help_panel=MODEL_PANEL,
            help="Weights file, repeatable: several for one model compare them, or one per --model, in order.",
        ),
    ] = None,
    results: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--results",
            metavar="DIR",
            help="Also score frames restored elsewhere (another method's results, or what --save wrote), "
            "DIR/SEQUENCE/ or DIR/SEQUENCE.mp4; repeatable; without --model, only these.",
        ),
    ] = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    steps: StepsOpt = 20,
    eta: EtaOpt = 0.0,
    seed: Annotated[
        int, seed_option("Seed of the diffusion sampler: the same seed restores the same frames.", SAMPLING_PANEL)
    ] = 0,
    samples: SamplesOpt = 1,
    window: WindowOpt = None,
    overlap: OverlapOpt = None,
    tile: TileOpt = "auto",
    tile_overlap: TileOverlapOpt = None,
    batch: BatchOpt = 1,
    scene_cuts: SceneCutsOpt = True,
    strength: StrengthOpt = 1.0,
    keep_still: KeepStillOpt = False,
    keep_detail: KeepDetailOpt = False,
    frames: Annotated[
        Optional[int],
        typer.Option("--frames", metavar="N", min=1, help="Only the first N frames of each sequence (default: all)."),
    ] = None,
    sequences: Annotated[
        Optional[str], typer.Option("--sequences", metavar="TEXT", help="Only sequences whose name holds this text (any case).")
    ] = None,
    lpips_weights: LpipsWeightsOpt = None,
    last_window: Annotated[
        str,
        typer.Option(
            "--last-window",
            metavar="MODE",
            rich_help_panel=WINDOWS_PANEL,
            help="split: the frames after the last full window in two shorter windows, as deblur run; shift: one "
            "full window ending on the last frame, as DSTNet's published test (evaluate.md).",
        ),
    ] = "split",
    with_niqe: Annotated[
        bool,
        typer.Option(
            "--niqe",
            metavar="",
            rich_help_panel=METRICS_PANEL,
            help="Add NIQE (no reference; about 0.4 s per 720p frame on a CPU).",
        ),
    ] = False,
    with_flicker: Annotated[
        bool,
        typer.Option(
            "--flicker",
            metavar="",
            rich_help_panel=METRICS_PANEL,
            help="Add the temporal error: how far each frame's change from the one before is from the sharp frames'"
            " change (changing too little counts too).",
        ),
    ] = False,
    save: Annotated[
        Optional[Path],
        typer.Option(
            "--save",
            metavar="DIR",
            rich_help_panel=OUTPUT_PANEL,
            help="Also write the restored frames as PNGs into DIR/<sequence>/.",
        ),
    ] = None,
    json_path: Annotated[
        Optional[Path],
        typer.Option("--json", metavar="FILE", rich_help_panel=OUTPUT_PANEL, help="Write the scores as JSON here."),
    ] = None,
    no_resume: Annotated[
        bool,
        typer.Option(
            "--no-resume",
            metavar="",
            help="Start over instead of continuing the stopped evaluation in --json FILE (a finished one: --force).",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            "-f",
            metavar="",
            rich_help_panel=OUTPUT_PANEL,
            help="Replace a finished evaluation's --json FILE (a stopped one is continued; --no-resume starts it "
            "over).",
        ),
    ] = False,
    quiet: QuietOpt = False,
    cache_dir: CacheDirOpt = None,
    offline: OfflineOpt = False,
) -> None:
    """Score models on a dataset: [bold]deblur evaluate GOPRO_Large/test --model dstnet --weights GOPRO.pth[/]."""
    if dataset is None:  # Click 8.1 under Typer 0.16 calls the command without it rather than say so
        raise UsageError("missing argument 'DATASET'", hint="deblur evaluate --help lists the options")
    unmatched: list[str] = []
    pairs = find_sequences(dataset, unmatched)
    if unmatched:
        warn(f"left out, no sharp counterpart or no blurred frames: {', '.join(unmatched)}")
    if sequences is not None:
        pairs = [p for p in pairs if sequences.casefold() in p.name.casefold()]  # as names are matched elsewhere
        if not pairs:
            raise UsageError(f"no sequence of {dataset} has {sequences!r} in its name", hint="drop or change --sequences")
    stored = Stored("absent")
    if json_path is not None:
        check_writable(json_path)  # now, not after hours of scoring
        stored = read_stored(json_path)
        if stored.kind == "other":  # any other file, even a frame of the dataset, would be lost to the scores
            raise OutputError(
                f"--json {json_path} exists and is not the JSON of an evaluation",
                hint="give a new file name (an evaluation's own JSON is continued, or with --force replaced)",
            )
    if results and not models and not weights and (stray := given_options(ctx, _FOR_MODELS)):
        are = "is" if len(stray) == 1 else "are"
        warn(f"{', '.join(stray)} {are} for models, and --results without --model runs none: left unused")
    mix = Mix(strength, keep_still, keep_detail)
    # Modules that import torch: here, not at the top (see cli/__init__.py).
    from deblur_cli.devices import resolve_device
    from deblur_cli.evaluate import check_frame_names
    from deblur_cli.evaluate_session import (
        ModelContender,
        ResultsContender,
        ScoreOptions,
        evaluate_models,
    )
    from deblur_cli.metrics.lpips import load_lpips
    from deblur_cli.restorers import ModelOptions

    torch_device = resolve_device(device)
    asked = models or ([AUTO] if weights or not results else [])  # --results alone runs no model
    contenders = plan_contenders(
        asked, weights or [], device=torch_device, cache_dir=cache_dir, offline=offline or None, mix=mix, warn=warn,
    )  # fmt: skip
    elsewhere = results_contenders(results or [], pairs, [contender.label for contender in contenders])
    for pair in pairs:  # a frame missing found now, not after a model's pass
        check_frame_names(pair, frames)
        for _, found in elsewhere:
            check_frame_names(pair, frames, results=found[pair.name])
    lossy = lossy_notes(pairs, elsewhere)  # said before the scoring, and kept in --json with the scores
    several = len(contenders) + len(elsewhere) > 1
    # every model's windows checked before any work, and LPIPS loaded once for all of them
    planned = {
        label: window_options(model, window, overlap, tile_option(tile), tile_overlap, batch, last_window, scene_cuts)
        for label, model, _ in contenders
    }
    window_plans = {label: windows for label, (windows, _) in planned.items()}
    notes = [sampling_note(model, steps, eta, samples, seed) for _, model, _ in contenders]
    if notes and all(notes):  # no model here samples: the diffusion options were given for nothing
        warn(notes[0])
    tile_notes = next(iter(planned.values()))[1] if planned else []  # the same for every model: said once
    say_once = said_once(warn)  # the tile notes, and a warning the models' descriptions and builds share
    lpips = load_lpips(lpips_weights, torch_device) if lpips_weights else None
    options = ModelOptions(
        device=device, precision=precision, steps=steps, eta=eta, seed=seed, samples=samples, cache_dir=cache_dir,
        offline=offline or None,
    )  # each model's weights are its own
    if stored.kind == "finished" and not force:  # its scores may have taken hours
        again = ", once its --save folder is removed (or give another --save)" if save is not None else ""
        raise OutputError(
            f"--json {json_path} holds a finished evaluation",
            hint=f"--force replaces it{again}; or give another file name",
        )
    for line in lossy:
        note(line)
    # a stopped evaluation's JSON: its sequences are taken as they are where nothing changed
    stopped = stored.reports if stored.kind == "stopped" and not no_resume else {}
    model_options = [replace(options, weights=weights_file) for _, _, weights_file in contenders]
    # what any model refuses (a window too long for it) said before the first pass, not after it, as `deblur run`
    # says it: the notes on the windows once the checks passed
    for (label, model, _), its_options in zip(contenders, model_options):
        facts = describe_shown(model, its_options, quiet=quiet, warn=say_once)
        for line in tile_notes + check_restorer(facts, model, window_plans[label]):
            say_once(line)
    model_contenders = [
        ModelContender(
            label, window_plans[label], functools.partial(build_shown, model, its_options, quiet=quiet, warn=say_once)
        )  # each built once, when its turn comes
        for (label, model, _), its_options in zip(contenders, model_options)
    ]
    score_options = ScoreOptions(
        lpips=lpips,
        lpips_files=None if lpips_weights is None else tuple(lpips_weights),
        with_niqe=with_niqe,
        with_flicker=with_flicker,
        max_frames=frames,
        mix=mix,
    )

    bars = _PassBars(quiet)

    def progress(event: EvaluationProgress) -> None:
        if event.stage == "pass" and event.taken:
            note(
                f"continuing the stopped evaluation in {json_path}: {event.taken} of {event.sequences} sequences "
                f"{'was' if event.taken == 1 else 'were'} scored with {event.model} already"
            )
        if event.stage == "pass" and event.stored > event.taken:
            note(
                f"the stopped evaluation in {json_path} scored {event.stored - event.taken} of these sequences with "
                f"{event.model} under other settings, from files since changed, or with another version of deblur: "
                "scoring them again"
            )
        bars(event)

    def shown(report: EvaluationReport) -> None:
        bars.close()
        show(report)

    with bars:
        evaluation = evaluate_models(
            str(dataset), pairs, model_contenders, [ResultsContender(label, found) for label, found in elsewhere],
            options=score_options, stopped=stopped, save=save, digests=json_path is not None,
            on_report=shown, on_progress=progress,
        )  # fmt: skip
    reports = evaluation.reports
    for line in evaluation.notes:
        note(line)
    if evaluation.stopped_by is not None:  # stopped by hand, by a bad sequence or model: what is done is kept
        if (current := evaluation.partial) is not None:
            show(current)
            warn(f"stopped: {len(current.sequences)} of {len(pairs)} sequences evaluated with {current.model}")
            if json_path is not None and current.timed:  # results restored elsewhere are scored afresh: quick
                note(f"the same command continues from there, taking the scores in {json_path}")
        if several:
            finished = sum(r.complete for r in reports)
            total = len(contenders) + len(elsewhere)
            what = "models and results" if elsewhere else "models"
            warn(f"stopped: {finished} of {total} {what} evaluated on every sequence")
        if reports:
            _finish(reports, several, json_path, lossy, stopped=True)
        raise evaluation.stopped_by
    for line in coverage_notes(reports, with_niqe=with_niqe, with_lpips=lpips is not None, with_flicker=with_flicker):
        note(line)
    _finish(reports, several, json_path, lossy)


# The parameters that only a model's restoration reads
_FOR_MODELS = [
    "precision", "steps", "eta", "seed", "samples", "window", "overlap", "tile", "tile_overlap", "batch",
    "last_window", "strength", "keep_still", "keep_detail", "save", "cache_dir", "offline", "scene_cuts",
]  # fmt: skip


class _PassBars:
    """evaluate_models' progress on a progress_bar (stderr), one bar a pass, closed before the pass's table."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Progress | None = None

    def __enter__(self) -> _PassBars:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def __call__(self, event: EvaluationProgress) -> None:
        if event.stage == "pass":
            self.close()
            self.bar = progress_bar(err, self.quiet)
            self.bar.start()
            self.overall = self.bar.add_task(f"{event.sequences} sequences", total=event.sequences, left="")
            self.began, self.scored = time.monotonic(), 0  # the sequences this run scores, for the overall time left
        elif event.stage == "taken":
            self.bar.advance(self.overall)
        elif event.stage == "started":
            log_name = f"{event.name} ({event.number}/{event.sequences})"
            self.frames = FramesTask(self.bar, event.name, err, self.quiet, log_name=log_name)
        elif event.stage == "frames":
            self.frames(event.done, event.total)
        else:
            self.frames.close()
            self.scored += 1
            rate = self.scored / max(time.monotonic() - self.began, 1e-9)
            left = time_left(self.scored, self.scored + event.sequences - event.number, rate)
            self.bar.update(self.overall, advance=1, left=left)

    def close(self) -> None:
        """Take the bar off stderr."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _finish(
    reports: list[EvaluationReport], several: bool, json_path: Path | None, notes: list[str], stopped: bool = False
) -> None:
    """With several models, the tables comparing them; the JSON, if asked for (`write_reports`)."""
    if several:
        for table in comparison(reports):
            out.print(table)
    if json_path is not None:
        from deblur_cli.evaluate_session import write_reports

        write_reports(reports, json_path, several=several, stopped=stopped, notes=notes)
        err.print(f"wrote {json_path}", highlight=False)
