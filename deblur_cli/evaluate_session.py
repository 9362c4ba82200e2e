"""A whole evaluation, the library behind `deblur evaluate`: models, and frames restored elsewhere, scored in
turn over one dataset (`evaluate_models`). The first one's input scores are taken by the others; a stopped
evaluation's scores are taken where its settings and files are the same (`evaluate_plan.read_stored`,
`EvaluationReport.reusable`); what was done is kept when Ctrl-C or a DeblurError stops it part-way.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Sequence

from deblur_cli.datasets import SequencePair, save_folders, sequence_digest
from deblur_cli.environment import environment
from deblur_cli.errors import DeblurError, OutputError
from deblur_cli.evaluate import EvaluationReport, SequenceProgress, SequenceScore, evaluate_sequence, score_results
from deblur_cli.files import taken, write_json
from deblur_cli.metrics.lpips import LPIPS
from deblur_cli.mix import Mix
from deblur_cli.pipeline import output_settings
from deblur_cli.restorer import Restorer
from deblur_cli.video_io import input_identity
from deblur_cli.windows import WindowOptions


@dataclass(frozen=True)
class ModelContender:
    """A model to evaluate: its label in the reports, its windows, and how to build it."""

    label: str
    windows: WindowOptions
    build: Callable[[], Restorer]  # called when the model's turn comes, after the one before is let go


@dataclass(frozen=True)
class ResultsContender:
    """Frames restored elsewhere (`--results`): a label, and where each sequence's are, by sequence name
    (`datasets.find_results`)."""

    label: str
    results: dict[str, Path]


@dataclass(frozen=True)
class ScoreOptions:
    """What every sequence is scored with (see `evaluate_sequence`)."""

    lpips: LPIPS | None = None
    lpips_files: tuple[Path, ...] | None = None  # the files `lpips` was loaded from, named in the settings
    with_niqe: bool = False
    with_flicker: bool = False
    max_frames: int | None = None
    mix: Mix = Mix()  # what a model's frames keep of its restoration, as `deblur run --strength`, `--keep-still`...


Stage = Literal["pass", "taken", "started", "frames", "scored"]


@dataclass(frozen=True)
class EvaluationProgress:
    """Where an evaluation stands, as `on_progress` is told: a contender's pass over the sequences starts
    ("pass"; `taken`: how many a stopped evaluation scored already, of the `stored` it had scored, the others
    under other settings or from files since changed); a sequence is taken from that evaluation
    ("taken"), starts ("started"), has `done` of its `total` frames scored ("frames", from 0), or is scored."""

    stage: Stage
    model: str  # the contender's label
    sequences: int  # in the pass
    number: int = 0  # the sequence's place in the pass, from 1
    name: str = ""  # the sequence's
    done: int = 0
    total: int | None = None  # None where not known
    taken: int = 0
    stored: int = 0


@dataclass
class Evaluation:
    """What `evaluate_models` made: a report per contender that scored a sequence, in order, and, when it
    stopped part-way, what stopped it (to be raised again once the reports are kept)."""

    reports: list[EvaluationReport]
    stopped_by: KeyboardInterrupt | DeblurError | None = None
    partial: EvaluationReport | None = None  # the last report, where its pass stopped after a sequence or more
    notes: list[str] = field(default_factory=list)  # what the scores do not say: the tiles --tile auto chose


def evaluate_models(
    dataset: str,
    pairs: list[SequencePair],
    models: Sequence[ModelContender],
    results: Sequence[ResultsContender] = (),
    *,
    options: ScoreOptions = ScoreOptions(),
    stopped: dict[str, dict] | None = None,
    save: Path | None = None,
    digests: bool = False,
    on_report: Callable[[EvaluationReport], None] | None = None,
    on_progress: Callable[[EvaluationProgress], None] | None = None,
) -> Evaluation:
    """Score each model, then each of the `results`, on every pair, in order (`evaluate_sequence`,
    `score_results`); every contender after the first takes the first's input scores. `stopped`: the
    reports of a stopped evaluation by label (`evaluate_plan.read_stored`), whose sequences a model takes as they are
    where its settings and the files are the same (`EvaluationReport.reusable`), and, with `save`, its saved
    frames are there. `save`: the models' frames are also written as PNGs into save/<sequence>/, or
    save/<label>/<sequence>/ with several contenders; every folder is checked before any work. `digests`:
    the reports list each sequence's `sequence_digest`, which a later run needs to continue from them.
    `on_report` is told of each report as its pass ends. Ctrl-C or a DeblurError ends the evaluation
    with what was done (`Evaluation.stopped_by`); a report that scored no sequence is left out. The
    Evaluation's notes say what the scores do not: the tiles `--tile auto` chose."""
    stopped = stopped or {}
    several = len(models) + len(results) > 1
    folders = (
        {model.label: {} for model in models} if save is None else _save_folders(pairs, models, save, several, stopped)
    )
    sequence_digests = {pair.name: sequence_digest(pair) for pair in pairs} if digests else {}
    reports: list[EvaluationReport] = []
    current: EvaluationReport | None = None  # the report being filled
    inputs: dict[str, SequenceScore] = {}  # by sequence, the first contender's scores, whose input the others take
    try:
        for model in models:
            restorer = model.build()
            settings = output_settings(restorer, model.windows, options.mix)
            settings |= _scoring_settings(options)
            current = EvaluationReport(
                dataset,
                model.label,
                str(restorer.device),
                planned=len(pairs),
                settings=settings,
                digests=sequence_digests,
            )
            reports.append(current)
            # a restorer without an identity: its scores cannot be reused
            done = current.reusable(stopped.get(model.label)) if restorer.identity is not None else {}
            if save is not None:  # taken only with the frames the stopped evaluation saved for them
                done = {name: s for name, s in done.items() if folders[model.label][name].is_dir()}
                _check_unused(folders[model.label], done)
            score = _model_scorer(restorer, model.windows, options, folders[model.label])
            stored = stopped.get(model.label) or {}
            _score_all(current, pairs, score, inputs, done, on_progress, stored=len(stored.get("sequences") or []))
            inputs.update((s.name, s) for s in current.sequences if s.name not in inputs)
            if on_report is not None:
                on_report(current)
            current = None
            del restorer, score  # before the next model loads
        for contender in results:
            # where each sequence's frames were read, so that the JSON says which folder was scored, and how
            where = {name: os.path.abspath(path) for name, path in contender.results.items()}
            settings = {"results": where} | _scoring_settings(options)
            current = EvaluationReport(
                dataset, contender.label, "", planned=len(pairs), settings=settings, digests=sequence_digests,
                timed=False,
            )  # fmt: skip
            reports.append(current)
            _score_all(current, pairs, _results_scorer(contender.results, options), inputs, {}, on_progress)
            inputs.update((s.name, s) for s in current.sequences if s.name not in inputs)
            if on_report is not None:
                on_report(current)
            current = None
    except (KeyboardInterrupt, DeblurError) as e:  # stopped by hand, by a bad sequence or model
        if current is not None and not current.sequences:
            reports.remove(current)
        partial = current if current is not None and current.sequences else None
        return Evaluation(reports, stopped_by=e, partial=partial, notes=_tiled_notes(reports, models))
    return Evaluation(reports, notes=_tiled_notes(reports, models))


def _scoring_settings(options: ScoreOptions) -> dict:
    """What the scores depend on besides the restored frames: the frames scored, LPIPS's files, NIQE, flicker."""
    return {
        "frames": options.max_frames,
        "lpips": None if options.lpips_files is None else [input_identity(p) for p in options.lpips_files],
        "niqe": options.with_niqe,
        "flicker": options.with_flicker,
    }


def _tiled_notes(reports: list[EvaluationReport], models: Sequence[ModelContender]) -> list[str]:
    """For each model whose automatic tiles (`--tile auto`, from free memory) cut some sequences' frames: which
    sides, and that whole frames score a little otherwise."""
    auto = {model.label for model in models if model.windows.tile == "auto"}
    notes = []
    for report in reports:
        tiled = [s for s in report.sequences if s.tile_used is not None]
        if report.model not in auto or not tiled:
            continue
        sides = ", ".join(str(side) for side in sorted({s.tile_used for s in tiled}))
        notes.append(
            f"{report.model}: {len(tiled)} of {len(report.sequences)} sequences were restored in tiles of {sides} "
            "pixels, which --tile auto chose from the free memory; tiles change scores a little (JSON: tile_used): "
            "--tile 0 restores whole frames, as published results do"
        )
    return notes


Scorer = Callable[[SequencePair, SequenceProgress | None, SequenceScore | None], SequenceScore]
"""Scores a pair, as score(pair, progress, input scores already known)."""


def _model_scorer(
    restorer: Restorer, windows: WindowOptions, options: ScoreOptions, folders: dict[str, Path]
) -> Scorer:
    def score(
        pair: SequencePair, progress: SequenceProgress | None, input_scores: SequenceScore | None
    ) -> SequenceScore:
        return evaluate_sequence(
            pair, restorer=restorer, windows=windows,
            lpips=options.lpips, with_niqe=options.with_niqe, with_flicker=options.with_flicker,
            max_frames=options.max_frames, mix=options.mix,
            save_to=folders.get(pair.name), progress=progress, input_scores=input_scores,
        )  # fmt: skip

    return score


def _results_scorer(found: dict[str, Path], options: ScoreOptions) -> Scorer:
    def score(
        pair: SequencePair, progress: SequenceProgress | None, input_scores: SequenceScore | None
    ) -> SequenceScore:
        return score_results(
            pair, found[pair.name],
            lpips=options.lpips, with_niqe=options.with_niqe, with_flicker=options.with_flicker,
            max_frames=options.max_frames, progress=progress, input_scores=input_scores,
        )  # fmt: skip

    return score


def _score_all(
    report: EvaluationReport,
    pairs: list[SequencePair],
    score: Scorer,
    inputs: dict[str, SequenceScore],
    done: dict[str, SequenceScore],
    on_progress: Callable[[EvaluationProgress], None] | None,
    stored: int = 0,
) -> None:
    """Score the pairs in order, each added to `report` as soon as it is done: those in `done` (by sequence
    name) as they are, the others with `score`, given the input's scores already known in `inputs`. `stored`:
    how many a stopped evaluation had scored (EvaluationProgress)."""

    def tell(stage: Stage, **where) -> None:
        if on_progress is not None:
            on_progress(EvaluationProgress(stage, report.model, len(pairs), **where))

    tell("pass", taken=len(done), stored=stored)
    for number, pair in enumerate(pairs, start=1):
        if pair.name in done:
            report.sequences.append(done[pair.name])
            tell("taken", number=number, name=pair.name)
            continue
        tell("started", number=number, name=pair.name)

        def progress(name: str, frames: int, total: int | None, number: int = number) -> None:
            tell("frames", number=number, name=name, done=frames, total=total)

        report.sequences.append(score(pair, progress if on_progress is not None else None, inputs.get(pair.name)))
        tell("scored", number=number, name=pair.name)


def _save_folders(
    pairs: list[SequencePair], models: Sequence[ModelContender], save: Path, several: bool, stopped: dict[str, dict]
) -> dict[str, dict[str, Path]]:
    """Where each model's frames are saved, by label and sequence name, every folder checked before any work
    (`datasets.save_folders`); a stopped evaluation's own may exist."""
    folders = {}
    for model in models:
        scored = {entry.get("name") for entry in stopped.get(model.label, {}).get("sequences", [])}
        folders[model.label] = save_folders(pairs, save / folder_name(model.label) if several else save, scored=scored)
    return folders


def folder_name(label: str) -> str:
    """A folder name for a contender's saved frames: its label with anything but letters, digits,
    dots, dashes and underscores as one underscore."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_")


def _check_unused(folders: dict[str, Path], done: dict) -> None:
    """OutputError if a sequence to be scored has a --save folder already: a stopped evaluation's frames,
    made under other settings than this one's (the others are taken with their scores, in `done`)."""
    for name, folder in folders.items():
        if name not in done and taken(folder):
            raise OutputError(
                f"{folder} holds frames an earlier evaluation saved with other settings or files",
                hint="choose a new --save folder, or delete that one",
            )


def write_reports(
    reports: list[EvaluationReport], path: Path, *, several: bool, stopped: bool = False, notes: Sequence[str] = ()
) -> None:
    """The JSON of an evaluation: its one report or, with `several` contenders, all of them (a comparison
    `stopped` before its end says so, since its reports may all be complete: the model that stopped it
    had scored no sequence); `notes`: the notes on sharp or --results videos that are lossy, which the scores
    stand on (as "lossy_videos")."""
    write_json(_Comparison(reports, stopped, several, list(notes)), path)


@dataclass
class _Comparison:
    """The JSON of an evaluation: one report, or several on one dataset; with what they were measured on."""

    reports: list[EvaluationReport]
    stopped: bool = False
    several: bool = True
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        measured = {"lossy_videos": self.notes, "environment": environment(r.device for r in self.reports)}
        if not self.several:
            return self.reports[0].to_dict() | measured
        whole = {"dataset": self.reports[0].dataset, "models": [r.to_dict() for r in self.reports]}
        return whole | ({"stopped": True} if self.stopped else {}) | measured
