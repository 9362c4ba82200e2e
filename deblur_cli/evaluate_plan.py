"""What `deblur evaluate` scores, decided before any model loads: the models with their weights files and labels
(`plan_contenders`), the frames restored elsewhere (`results_contenders`), what the --json file holds already
(`read_stored`: a stopped evaluation is continued, a finished one replaced only with --force, any other file never),
and the notes on lossy references and results (`lossy_notes`); after the scoring, the notes on metrics the scores
lack (`coverage_notes`).
`evaluate_session.evaluate_models` scores them; the command prints them. No torch at import, as `bench_plan.py`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal, NamedTuple

from deblur_cli.auto_model import AUTO, choose_model
from deblur_cli.errors import UsageError
from deblur_cli.held_weights import check_weights, labelled_as
from deblur_cli.mix import Mix
from deblur_cli.wording import count, some, weights_label

if TYPE_CHECKING:
    import torch

    from deblur_cli.datasets import SequencePair
    from deblur_cli.evaluate import EvaluationReport, SequenceScore


class Contender(NamedTuple):
    """A model to evaluate: its label in the tables and JSON, its name, and its weights file (None: its own)."""

    label: str
    model: str
    weights: Path | None


def plan_contenders(
    models: list[str],
    weights: list[Path],
    *,
    device: torch.device,
    cache_dir: Path | None = None,
    offline: bool | None = None,
    mix: Mix = Mix(),
    warn: Callable[[str], None],
) -> list[Contender]:
    """A Contender for each model/weights combination asked for: each model with its own weights; one model with
    each weights file; or models and weights paired in order (else UsageError). `auto` is resolved on `device`.
    Each file is checked (`check_weights`) before any model runs, and `warn` told where it holds another size of
    model. What `mix` keeps of the restoration, where not the whole, is in the label (`dstnet-s (strength 0.5)`,
    `dstnet-s (keep-still)`): the scores are of a partial restoration, which a table or JSON copied elsewhere must
    not pass for the model's own."""
    if not weights:
        combos: list[tuple[str, Path | None]] = [(m, None) for m in models]
    elif len(models) == 1:
        combos = [(models[0], w) for w in weights]
    elif len(models) == len(weights):
        combos = list(zip(models, weights))
    else:
        raise UsageError(
            f"{len(weights)} --weights for {len(models)} models",
            hint="give one --weights per --model, in order, or several --weights for one model",
        )
    told = mix.words()
    partial = f" ({', '.join(told)})" if told else ""
    contenders: list[Contender] = []
    for name, weights_file in combos:
        model = choose_model(name, device=device, weights=weights_file, cache_dir=cache_dir)
        label = _unique(weights_label(model, weights_file) + partial, [c.label for c in contenders])
        if weights_file is not None:  # each file or entry checked, and its size named, before any model runs
            check_weights(model, weights_file, cache_dir=cache_dir, offline=offline)
            if name != AUTO and (held := labelled_as(model, weights_file, label)):  # auto takes the file's own model
                warn(held)
        contenders.append(Contender(label, model, weights_file))
    return contenders


def results_contenders(
    folders: list[Path], pairs: list[SequencePair], labels: list[str]
) -> list[tuple[str, dict[str, Path]]]:
    """(label, where each sequence's restored frames are) for each --results folder, every one found
    before any work (datasets.find_results); labelled by the folder as given, told apart from the
    models' `labels` and each other's."""
    from deblur_cli.datasets import find_results

    labelled: list[tuple[str, dict[str, Path]]] = []
    for folder in folders:
        label = _unique(str(folder), labels + [label for label, _ in labelled])
        labelled.append((label, find_results(pairs, folder)))
    return labelled


@dataclass(frozen=True)
class Stored:
    """What a --json file holds already, read once."""

    kind: Literal["absent", "finished", "stopped", "other"]  # other: a file that is not an evaluation's JSON
    reports: dict[str, dict] = field(default_factory=dict)  # a stopped evaluation's reports by model label


def read_stored(path: Path) -> Stored:
    """What `path` holds: nothing; the JSON of a finished evaluation (every report complete, and not marked
    "stopped"), which is run again whole; that of an evaluation stopped part-way, with its reports, whose
    sequences are taken where nothing changed; or another file (not JSON, not a dict with a dataset, reports
    without a model or completeness), which an evaluation would lose to its scores."""
    if not path.is_file():
        return Stored("absent")
    try:
        data = json.loads(path.read_text())
        if not (isinstance(data, dict) and "dataset" in data):
            return Stored("other")
        reports = data["models"] if "models" in data else [data]
        by_label = {report["model"]: report for report in reports}
        finished = all(report["complete"] for report in reports) and not data.get("stopped")
    except (OSError, ValueError, KeyError, TypeError):  # ValueError: not JSON, or not text (UnicodeDecodeError)
        return Stored("other")
    return Stored("finished") if finished else Stored("stopped", by_label)


def lossy_notes(pairs: list[SequencePair], elsewhere: list[tuple[str, dict[str, Path]]], shown: int = 3) -> list[str]:
    """Notes naming the sharp videos, and the --results videos, stored in a lossy codec: their encoding's loss
    is in the scores (a reference's lowers every model's; a result's, its own)."""
    from deblur_cli.video_io import describe
    from deblur_cli.video_io.lossless import loss

    def lossy(path: Path) -> str | None:
        if path.is_dir():
            return None
        how = loss(path, describe(path))
        return None if how is None else f"{path.name}: {how}"

    groups = [("the sharp frames", [pair.sharp for pair in pairs])]
    groups += [(f"the frames of --results {label}", [found[pair.name] for pair in pairs]) for label, found in elsewhere]
    notes = []
    for what, paths in groups:
        found = [line for line in map(lossy, paths) if line]
        if found:
            notes.append(
                f"{what} of {len(found)} of {len(paths)} sequences are lossy video ({some(found, shown, '; ')}):"
                " the scores include that encoding's loss; lossless frames (PNG, FFV1) score the restoration alone"
            )
    return notes


def coverage_notes(
    reports: list[EvaluationReport], *, with_niqe: bool, with_lpips: bool, with_flicker: bool
) -> list[str]:
    """Lines on metrics asked for that no sequence has, and on means taken over some sequences only."""
    from deblur_cli.metrics.lpips import MIN_SIDE
    from deblur_cli.metrics.ssim import WINDOW

    why_missing = {
        "ssim": f"it needs frames of {WINDOW} pixels a side or more",
        "lpips": f"it needs frames of {MIN_SIDE} pixels a side or more",
        "flicker": "a sequence of one frame has none",
    }
    lines = []
    if any(report.sequences and "ssim" not in report.metrics for report in reports):  # always asked for
        lines.append(f"SSIM left out: {why_missing['ssim']}")
    if with_niqe and (unscored := next((r for r in reports if "niqe" not in r.metrics), None)):
        lines.append(f"NIQE left out: {_no_niqe(unscored.sequences, 'the')}")
    if with_lpips and any("lpips" not in report.metrics for report in reports):
        lines.append(f"LPIPS left out: {why_missing['lpips']}")
    if with_flicker and any("flicker" not in report.metrics for report in reports):
        lines.append("FLICKER left out: it compares consecutive frames, and sequences here have one")
    if reports and (blurred := reports[0].blurred()) is not None:  # the input is the same for every report
        sharp = [s.name for s in reports[0].sequences if s.name not in blurred]
        lines.append(
            f"the input's PSNR is infinite in {some(sharp, 3)} (blurred frames equal to the sharp ones), and so its "
            f"means over all sequences: the rows of the {count(len(blurred), 'blurred sequence')} give the gain"
        )
    for report in reports:
        if exact := sum(s.exact_frames for s in report.sequences):
            sequences = sum(s.exact_frames > 0 for s in report.sequences)
            lines.append(
                f"{report.model}: PSNR is infinite in {sequences} of {len(report.sequences)} sequences, and so its means: "
                f"{exact} of {report.frames} frames equal their sharp frames"
            )
        for metric in report.metrics:
            if having := report.partial(metric):
                lacking = [s for s in report.sequences if metric not in s.output]
                why = _no_niqe(lacking, "the others'") if metric == "niqe" else why_missing.get(metric)
                lines.append(
                    f"{report.model}: {metric.upper()} is the mean of the {having} of {len(report.sequences)} sequences "
                    f"that have it ({why or 'the others have none'})"
                )
    return lines


def _no_niqe(sequences: list[SequenceScore], whose: str) -> str:
    """Why `sequences` have no NIQE, each cause once: their frames' size, in bench's words, or else frames too flat
    for it (`whose` frames); a sequence from a file that did not keep its frames' size gets both, as may be."""
    from deblur_cli.metrics import too_small_for
    from deblur_cli.metrics.niqe import BLOCK, MIN_BLOCKS, too_flat

    causes: list[str] = []
    for s in sequences:
        if s.size is None:
            small = f"too small for it (under {MIN_BLOCKS} blocks of {BLOCK}x{BLOCK})"
            cause = f"{whose} frames are {small} or {too_flat('their')}"
        else:
            width, height = s.size
            cause = too_small_for(height, width).get("niqe") or f"{whose} frames are {too_flat('their')}"
        if cause not in causes:
            causes.append(cause)
    return "; ".join(causes)


def _unique(label: str, labels: list[str]) -> str:
    """`label`, or `label #N` with the first N from 2 on that is not among `labels` already."""
    if label not in labels:
        return label
    n = 2
    while f"{label} #{n}" in labels:
        n += 1
    return f"{label} #{n}"
