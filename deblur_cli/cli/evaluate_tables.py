"""The tables `deblur evaluate` prints: one report's per-sequence scores (split into parts where stdout is
narrow), and several models' means side by side, over sequences and over frames."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.table import Table

from deblur_cli.cli.app import note, out
from deblur_cli.cli.tables import cell, cut_note, figures_table, fitting_parts, frame_count, width_needed
from deblur_cli.wording import count, some

if TYPE_CHECKING:
    from deblur_cli.evaluate import EvaluationReport


def comparison(reports: list[EvaluationReport]) -> list[Table]:
    """Two tables of one row per model, its means (and the input's, from the first report): over sequences,
    each counting once as BasicSR averages, with each model's frame rate; then over frames, as the published
    figures are (evaluate.md). A metric some sequences lack, or that a model stopped part-way has for some
    only, is averaged over the sequences every row has it for, so that rows compare."""
    from deblur_cli.evaluate import METRICS

    metrics = [m for m in METRICS if all(m in r.metrics for r in reports)]
    stopped = [r.model for r in reports if not r.complete]
    uneven = {m: bool(stopped) or any(r.partial(m) for r in reports) for m in metrics}
    common: dict[str, set[str] | None] = {
        m: set.intersection(reports[0].having(m, "input"), *(r.having(m) for r in reports))
        if uneven[m] or len(reports[0].having(m, "input")) < len(reports[0].sequences)
        else None
        for m in metrics
    }  # fmt: skip
    finished = min(len(r.sequences) for r in reports)
    partial = f" (the {finished} of {reports[0].planned} sequences {' and '.join(stopped)} finished)" if stopped else ""
    rates = {}  # each report's frame rate, shown in the first table
    for r in reports:
        seconds = sum(s.seconds for s in r.sequences)
        rates[r.model] = f"{r.frames / seconds if seconds > 0 else 0.0:.3g}" if r.timed else ""
    tables = []
    for per in ("sequence", "frame"):
        table = figures_table(title=f"{reports[0].dataset}: mean of {per}s{partial}")
        table.add_column("model", overflow="fold")
        for metric in metrics:
            table.add_column(f"{metric.upper()} {'↑' if METRICS[metric] else '↓'}", justify="right", no_wrap=True)
        timed = per == "sequence"  # the frame rate is the same in both: shown once
        if timed:
            table.add_column("fps", justify="right", no_wrap=True)
        means = [cell(reports[0].mean(m, "input", per=per, among=common[m]), _format(m)) for m in metrics]
        table.add_row("input", *means, *[""] * timed)
        for r in reports:
            means = [cell(r.mean(m, per=per, among=common[m]), _format(m)) for m in metrics]
            table.add_row(r.model, *means, *[rates[r.model]] * timed)
        tables.append(table)
    return tables


def show(report: EvaluationReport) -> None:
    """The report's table on stdout, and under it a note on the sequences split at scene cuts, if any."""
    tables = _tables(report)
    for table in tables:
        out.print(table)
    if cut := cut_note(tables, out):
        note(cut)
    if line := _scene_cuts_note(report):
        note(line)


def _scene_cuts_note(report: EvaluationReport, shown: int = 5) -> str | None:
    """A line naming the sequences (the first `shown` of them) whose windows were split at scene cuts,
    which a published protocol does not do; None when none was."""
    split = [s for s in report.sequences if s.scene_cuts]
    if not split:
        return None
    names = some([f"{s.name} ({count(len(s.scene_cuts), 'cut')})" for s in split], shown)
    return (
        f"{report.model}: windows were split at scene cuts in {names}, which changes their scores; "
        "published results restore every window whole: add --no-scene-cuts to compare with them"
    )


def _tables(report: EvaluationReport) -> list[Table]:
    """The report's table; where it is too wide for stdout, split into parts of whole metrics (in, out
    and gain together), each with the sequences and frame counts, the title over the first."""
    groups = [*report.metrics, *(["fps"] if report.timed else [])]
    parts = fitting_parts(groups, lambda part: width_needed(_table(report, part, title=False), out) <= out.width)
    return [_table(report, part, title=i == 0) for i, part in enumerate(parts)]


def _table(report: EvaluationReport, columns: list[str], *, title: bool) -> Table:
    """The table of `columns`: metrics of the report, in and out (and the gain in dB after PSNR), and "fps"."""
    from deblur_cli.evaluate import METRICS

    done = "" if report.complete else f" (stopped after {len(report.sequences)} of {report.planned} sequences)"
    source = f"on {report.device}" if report.timed else "(restored elsewhere)"
    title_text = f"{report.dataset}: {report.model}{_sampling(report)} {source}, {frame_count(report.frames)}{done}"
    table = figures_table(title=title_text if title else None)
    metrics = [c for c in columns if c != "fps"]
    timed = "fps" in columns
    table.add_column("sequence", overflow="fold")  # long names fold; the numbers stay whole
    table.add_column("frames", justify="right", no_wrap=True)
    for metric in metrics:
        arrow = "↑" if METRICS[metric] else "↓"
        for side in ("in", "out"):
            table.add_column(f"{metric.upper()} {arrow}\n{side}", justify="right", no_wrap=True)
        if metric == "psnr":
            table.add_column("gain\ndB", justify="right", no_wrap=True)
    if timed:
        table.add_column("fps", justify="right", no_wrap=True)
    for s in report.sequences:
        fps = [f"{s.fps:.3g}"] if timed else []
        table.add_row(s.name, str(s.frames), *_scores(metrics, s.input.get, s.output.get), *fps)
    table.add_section()
    blurred = report.blurred()
    rows = [("sequence", "mean of sequences", None, report.frames), ("frame", "mean of frames", None, report.frames)]
    if blurred is not None:  # beside a sharp control clip, whose infinite input PSNR says nothing of the others
        frames = report.frames_among(blurred)
        label = f"mean of {count(len(blurred), 'blurred sequence')}"
        rows += [("sequence", label, blurred, frames), ("frame", "mean of their frames", blurred, frames)]
    for per, label, among, frames in rows:
        cells = _scores(
            metrics,
            lambda m, per=per, among=among: report.mean(m, "input", per=per, among=among),
            lambda m, per=per, among=among: report.mean(m, "output", per=per, among=among),
            mean=True,
        )
        table.add_row(label, str(frames) if per == "frame" else "", *cells, *[""] * timed)
    return table


def _sampling(report: EvaluationReport) -> str:
    """How a diffusion model sampled, for its table's title (" (20 steps, eta 0, seed 0)"); "" for others."""
    restorer = (report.settings or {}).get("restorer") or {}
    if "steps" not in restorer:
        return ""
    samples = f", {restorer['samples']} samples" if restorer.get("samples", 1) != 1 else ""
    steps = count(restorer["steps"], "step")
    return f" ({steps}, eta {restorer['eta']:g}, seed {restorer['seed']}{samples})"


def _scores(metrics: list[str], before, after, *, mean: bool = False) -> list[str]:
    """The in and out cells of each metric, with the PSNR gain after PSNR's; a `mean` row leaves out the gain
    over an infinite input PSNR (-inf: the rows of the blurred sequences give it)."""
    cells = []
    for metric in metrics:
        fmt = _format(metric)
        cells += [cell(before(metric), fmt), cell(after(metric), fmt)]
        if metric == "psnr":
            gain = None if before(metric) is None or after(metric) is None else after(metric) - before(metric)
            undefined = gain is not None and (math.isnan(gain) or (mean and before(metric) == math.inf))  # inf − inf
            cells.append(cell(None if undefined else gain, "{:+.2f}"))
    return cells


def _format(metric: str) -> str:
    """How a metric's values are printed: dB and 8-bit levels to 0.01, NIQE to 0.001, the rest to 0.0001."""
    return {"psnr": "{:.2f}", "flicker": "{:.2f}", "niqe": "{:.3f}"}.get(metric, "{:.4f}")
