"""`deblur evaluate`: PSNR and SSIM of one model over a dataset of blurred/sharp sequences."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from deblur_cli.auto_model import choose_model
from deblur_cli.bench import write_json
from deblur_cli.cli.app import command, err, out, warn
from deblur_cli.cli.options import (
    BatchOpt,
    CacheDirOpt,
    DeviceOpt,
    EtaOpt,
    LpipsWeightsOpt,
    ModelOpt,
    OfflineOpt,
    OverlapOpt,
    PrecisionOpt,
    QuietOpt,
    SamplesOpt,
    SeedOpt,
    StepsOpt,
    TileOpt,
    TileOverlapOpt,
    WeightsOpt,
    WindowOpt,
    unbatched_note,
    window_options,
)
from deblur_cli.cli.tables import cell
from deblur_cli.devices import resolve_device
from deblur_cli.errors import DeblurError, UsageError
from deblur_cli.evaluate import METRICS, EvaluationReport, SequenceScore, evaluate_sequence, find_sequences, save_folders
from deblur_cli.metrics.lpips import load_lpips
from deblur_cli.restorers import build_restorer


@command("evaluate")
def evaluate(
    dataset: Annotated[
        Path, typer.Argument(help="Dataset folder: blurred/sharp pairs as in GoPro, DVD, BSD or `deblur synth`.")
    ],
    model: ModelOpt = "auto",
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    steps: StepsOpt = 20,
    eta: EtaOpt = 0.0,
    seed: SeedOpt = 0,
    samples: SamplesOpt = 1,
    window: WindowOpt = None,
    overlap: OverlapOpt = None,
    tile: TileOpt = "auto",
    tile_overlap: TileOverlapOpt = 32,
    batch: BatchOpt = 1,
    frames: Annotated[
        Optional[int], typer.Option("--frames", min=1, help="Only the first N frames of each sequence (default: all).")
    ] = None,
    sequences: Annotated[
        Optional[str], typer.Option("--sequences", help="Only sequences whose name contains this text.")
    ] = None,
    lpips_weights: LpipsWeightsOpt = None,
    with_niqe: Annotated[bool, typer.Option("--niqe", help="Add NIQE (no reference; about 0.4 s per 720p frame on a CPU).")] = False,
    save: Annotated[
        Optional[Path], typer.Option("--save", help="Also write the restored frames as PNGs into DIR/<sequence>/.")
    ] = None,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the scores as JSON here.")] = None,
    quiet: QuietOpt = False,
    cache_dir: CacheDirOpt = None,
    offline: OfflineOpt = False,
) -> None:
    """Score a model on a dataset: [bold]deblur evaluate GOPRO_Large/test --model dstnet --weights GOPRO.pth[/]."""
    unmatched: list[str] = []
    pairs = find_sequences(dataset, unmatched)
    if unmatched:
        warn(f"left out, no sharp counterpart: {', '.join(unmatched)}")
    if sequences is not None:
        pairs = [p for p in pairs if sequences in p.name]
        if not pairs:
            raise UsageError(f"no sequence of {dataset} has {sequences!r} in its name", hint="drop or change --sequences")
    folders = save_folders(pairs, save) if save is not None else {}
    model = choose_model(model, device=resolve_device(device), weights=weights, cache_dir=cache_dir)
    windows = window_options(model, window, overlap, tile, tile_overlap, batch)
    restorer = build_restorer(
        model,
        weights=weights,
        device=device,
        precision=precision,
        steps=steps,
        eta=eta,
        seed=seed,
        samples=samples,
        cache_dir=cache_dir,
        offline=offline or None,
    )
    if note := unbatched_note(restorer, model, batch):
        warn(note)
    lpips = load_lpips(lpips_weights, restorer.device) if lpips_weights else None
    report = EvaluationReport(str(dataset), model, str(restorer.device), planned=len(pairs))
    score = functools.partial(
        evaluate_sequence, restorer=restorer, windows=windows, lpips=lpips, with_niqe=with_niqe, max_frames=frames
    )
    try:
        _evaluate_all(report, pairs, score, folders, quiet)
    except (KeyboardInterrupt, DeblurError):  # stopped by hand or by a bad sequence: what is done is kept
        if report.sequences:
            _print(report, json_path)
            warn(f"stopped: {len(report.sequences)} of {report.planned} sequences evaluated")
        raise
    _print(report, json_path)


def _evaluate_all(
    report: EvaluationReport, pairs: list, score: Callable[..., SequenceScore], folders: dict[str, Path], quiet: bool
) -> None:
    """Score the pairs in order, each added to `report` as soon as it is done; `score(pair, save_to=,
    progress=)` is evaluate_sequence with the model and metric options bound."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
        transient=True,
    ) as bar:
        overall = bar.add_task(f"{len(pairs)} sequences", total=len(pairs))
        for pair in pairs:
            task = bar.add_task(pair.name, total=None)

            def progress(name: str, done: int, total: int | None, task=task) -> None:
                bar.update(task, completed=done, total=total)

            report.sequences.append(score(pair, save_to=folders.get(pair.name), progress=progress))
            bar.remove_task(task)
            bar.advance(overall)


def _print(report: EvaluationReport, json_path: Path | None) -> None:
    out.print(_table(report))
    if json_path is not None:
        write_json(report, json_path)
        err.print(f"wrote {json_path}", highlight=False)


def _table(report: EvaluationReport) -> Table:
    done = "" if report.complete else f" (stopped after {len(report.sequences)} of {report.planned} sequences)"
    table = Table(title=f"{report.dataset}: {report.model} on {report.device}, {report.frames} frames{done}")
    metrics = report.metrics
    table.add_column("sequence", overflow="fold")  # long names fold; the numbers stay whole
    table.add_column("frames", justify="right", no_wrap=True)
    for metric in metrics:
        arrow = "↑" if METRICS[metric] else "↓"
        for side in ("in", "out"):
            table.add_column(f"{metric.upper()} {arrow}\n{side}", justify="right", no_wrap=True)
        if metric == "psnr":
            table.add_column("gain\ndB", justify="right", no_wrap=True)
    table.add_column("fps", justify="right", no_wrap=True)
    for s in report.sequences:
        table.add_row(s.name, str(s.frames), *_scores(metrics, s.input.get, s.output.get), f"{s.fps:.3g}")
    table.add_section()
    for per, label in (("sequence", "mean of sequences"), ("frame", "mean of frames")):
        cells = _scores(
            metrics,
            lambda m, per=per: report.mean(m, "input", per=per),
            lambda m, per=per: report.mean(m, "output", per=per),
        )
        table.add_row(label, str(report.frames) if per == "frame" else "", *cells, "")
    return table


def _scores(metrics: list[str], before, after) -> list[str]:
    cells = []
    for metric in metrics:
        fmt = "{:.2f}" if metric == "psnr" else "{:.3f}" if metric == "niqe" else "{:.4f}"
        cells += [cell(before(metric), fmt), cell(after(metric), fmt)]
        if metric == "psnr":
            gain = None if before(metric) is None or after(metric) is None else after(metric) - before(metric)
            cells.append(cell(gain, "{:+.2f}"))
    return cells
