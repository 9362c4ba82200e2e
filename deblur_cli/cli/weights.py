"""`deblur models` and `deblur download-weights`: list the known weights, fetch them into the cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table
from rich.text import Text

from deblur_cli import host_memory
from deblur_cli.auto_model import AUTO, choose_model
from deblur_cli.cli.app import command, err, labelled, out, warn
from deblur_cli.cli.options import QuietOpt, cache_dir_option
from deblur_cli.errors import DeblurError, UsageError, WeightsError
from deblur_cli.weights import WeightsEntry, download, load_registry, status
from deblur_cli.weights.cache import cache_root, present_file
from deblur_cli.weights.registry import BundledSource, HubSource, UrlSource
from deblur_cli.wording import readable_size
from deblur_cli.weights.urls import shown as redacted

if TYPE_CHECKING:
    from deblur_cli.restorers import ModelOptions
    from deblur_cli.restorer import ModelFacts

_STATUS_STYLE = {
    "bundled": "green",
    "cached": "green",
    "unconverted": "green",
    "missing": "yellow",
    "unpinned": "red",
    "unpublished": "dim",
}
# what a status asks of the user, said under the table where an entry has it
_STATUS_NOTES = {
    "unconverted": "unconverted: an official .pth in the cache, not converted to safetensors yet: its first use"
    " checks and converts it, with no network (`deblur download-weights NAME` does it now)",
    "missing": "missing: not downloaded yet (`deblur download-weights NAME` fetches it), or a bundled file this"
    " installation lacks (reinstall deblur)",
    "unpinned": "unpinned: a bundled file without a checksum in weights.toml, never loaded",
    "unpublished": "unpublished: no weights exist yet; run, evaluate and bench take your own with --weights",
}


@command("models")
def models(
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print the registry as JSON on stdout.")] = False,
    cache_dir: Annotated[Optional[Path], cache_dir_option()] = None,
) -> None:
    """List the known weights and whether each is bundled, cached, unconverted, missing or unpublished."""
    registry = load_registry()
    rows = [(entry, status(entry, cache_dir), registry.models_using(entry.name)) for entry in registry.entries.values()]
    if as_json:
        listed = [_as_dict(entry, state, used_by, present_file(entry, cache_dir)) for entry, state, used_by in rows]
        out.print_json(json.dumps(listed))
        return
    table = Table(title=f"weights (cache: {cache_root(cache_dir)})", title_justify="left")
    for column in ("name", "model", "architecture", "size", "source", "licence", "status"):
        table.add_column(column, no_wrap=column in ("name", "status"))
    for entry, state, used_by in rows:
        table.add_row(
            entry.name,
            ", ".join(used_by),
            entry.architecture,
            "–" if state == "unpublished" else _human_size(entry.size),
            "–" if state == "unpublished" else entry.source.kind,  # nothing is bundled yet
            entry.licence,
            Text(state, style=_STATUS_STYLE[state]),
        )
    out.print(table)
    for state, note in _STATUS_NOTES.items():
        if any(row_state == state for _, row_state, _ in rows):
            out.print(note, highlight=False, soft_wrap=True)
    from deblur_cli.devices import resolve_device  # imports torch: here, not at the top (see cli/__init__.py)

    device = resolve_device("auto")
    chosen = choose_model(AUTO, device=device, cache_dir=cache_dir, registry=registry)
    out.print(f"--model auto (the default) runs {chosen} on this machine ({device.type}).", highlight=False)


@command("download-weights")
def download_weights(
    names: Annotated[
        Optional[list[str]],
        typer.Argument(metavar="NAME...", help="Weights to fetch, by name (see `deblur models`).", show_default=False),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", metavar="", help="Fetch every downloadable entry.")] = False,
    cache_dir: Annotated[Optional[Path], cache_dir_option()] = None,
    force: Annotated[bool, typer.Option("--force", metavar="", help="Download again even when cached.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Download weights into the cache, verify them, and convert official .pth files to safetensors."""
    registry = load_registry()
    if all_ and names:
        raise UsageError("give weights names or --all, not both")
    if all_:
        entries = [e for e in registry.entries.values() if not isinstance(e.source, BundledSource)]
    elif names:
        entries = [registry.entry(name) for name in dict.fromkeys(names)]
    else:
        raise UsageError("name the weights to download, or pass --all", hint="`deblur models` lists them")

    failed = []
    for entry in entries:
        was = status(entry, cache_dir)
        try:
            with DownloadShown(quiet=quiet) as shown:  # its bar is cleared when the block ends, before the lines below
                path = download(
                    entry, cache_dir, force=force, progress=shown.progress, warn=warn,
                    on_fetch=lambda entry=entry: shown.fetching(entry),
                )  # fmt: skip
        except DeblurError as e:
            if len(entries) == 1:
                raise
            failed.append(entry.name)
            err.print(labelled("error:", "red", str(e)), highlight=False, soft_wrap=True)
            continue
        if was == "bundled":  # the package's own file, checked: there is nothing to fetch, even with --force
            note = "bundled with deblur, nothing to download"
        elif shown.entry is None:  # found in the cache, or fetched by another process meanwhile
            note = "already cached"
        elif shown.downloaded:
            note = "downloaded and verified"
        else:  # its source file was there already (an earlier download whose conversion failed, a copy)
            note = "verified" + (" and converted" if entry.needs_conversion else "") + ": nothing to download"
        err.print(f"{entry.name}: {note}", highlight=False)
        out.print(str(path), highlight=False, soft_wrap=True)
    if failed:
        raise WeightsError(
            f"{len(failed)} of {len(entries)} downloads failed: {', '.join(failed)}",
            hint="run the command again for those names to see each error with its hint",
        )


class DownloadShown:
    """A weights download as every command shows it: `downloading NAME (SIZE) from URL` on stderr when
    it starts (unless `quiet`) and, in a terminal, a bar of bytes, cleared when the `with` block ends.
    Its `fetching(entry)` and `progress(done, total)` are the callbacks `download`, `resolve_weights` and
    `build_restorer` take: the library reports, this prints."""

    def __init__(self, *, quiet: bool = False):
        self.quiet = quiet
        self.entry: WeightsEntry | None = None  # the entry being fetched; None while nothing is
        self._task = None
        self._bar = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=quiet or not err.is_terminal,  # bars only for a person watching; logs get the lines
        )

    def __enter__(self) -> DownloadShown:
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()

    @property
    def downloaded(self) -> bool:
        """Whether bytes came over the network (a progress report), not only a file already there checked."""
        return self._task is not None

    def fetching(self, entry: WeightsEntry) -> None:
        """A download of `entry` starts; its line waits for the first `progress`, which knows the size."""
        self.entry = entry

    def progress(self, done: int, total: int) -> None:
        """`done` of `total` bytes (0: not known)."""
        if self._task is None:
            name = self.entry.name if self.entry is not None else "weights"
            if not self.quiet and self.entry is not None:
                size = total or self.entry.size
                about = f" ({_human_size(size)})" if size else ""
                where = _fetched_from(self.entry)
                err.print(f"downloading {name}{about} from {where}", highlight=False, soft_wrap=True)
            self._bar.start()
            self._task = self._bar.add_task(name, total=None)
        self._bar.update(self._task, completed=done, total=total or None)


def build_shown(
    model: str,
    options: ModelOptions,
    *,
    quiet: bool = False,
    on_step: Callable[[int, int], None] | None = None,
    warn: Callable[[str], None] | None = None,
):
    """restorers.build_restorer(model, options), with a weights download it needs shown as every command
    shows one (DownloadShown); then glibc asked to keep freed memory where that helps the model
    (`restorers.keeps_freed_memory`), which a command may do to its own process and a library call (api.load)
    does not."""
    # imported when a command builds a model: it imports torch
    from deblur_cli.restorers import build_restorer, keeps_freed_memory

    with DownloadShown(quiet=quiet) as shown:
        restorer = build_restorer(
            model, options=options, on_step=on_step, warn=warn, on_fetch=shown.fetching, fetch_progress=shown.progress
        )
    if keeps_freed_memory(restorer):
        host_memory.keep_freed_memory()
    return restorer


def describe_shown(
    model: str, options: ModelOptions, *, quiet: bool = False, warn: Callable[[str], None] | None = None
) -> ModelFacts:
    """restorers.describe_restorer(model, options): what `run_options.check_restorer` reads of the model, without
    building it; a weights download it needs shown as build_shown shows one."""
    from deblur_cli.restorers import describe_restorer  # it imports torch

    with DownloadShown(quiet=quiet) as shown:
        return describe_restorer(model, options, warn=warn, on_fetch=shown.fetching, fetch_progress=shown.progress)


def _as_dict(entry: WeightsEntry, state: str, used_by: tuple[str, ...], path: Path | None) -> dict:
    return {
        "name": entry.name,
        "description": entry.description,
        "default_for": list(used_by),
        "architecture": entry.architecture,
        "config": dict(entry.config),
        "source": entry.source.kind,
        "location": _location(entry),
        "checksum": None if entry.checksum is None else str(entry.checksum),
        "size": entry.size,
        "licence": entry.licence,
        "training_data": entry.training_data,
        "quality": None if entry.quality is None else vars(entry.quality),
        "status": state,
        "path": None if path is None else str(path),  # the bundled or cached file here
    }


def _location(entry: WeightsEntry) -> str:
    source = entry.source
    if isinstance(source, UrlSource):
        return source.url
    if isinstance(source, HubSource):
        return f"{source.repo_id}@{source.revision}/{source.filename}"
    return source.path


def _fetched_from(entry: WeightsEntry) -> str:
    """Where a download of `entry` comes from: its location, or a file on $DEBLUR_WEIGHTS_MIRROR."""
    from deblur_cli.weights.download import source_url

    return redacted(source_url(entry.source)) if isinstance(entry.source, UrlSource) else _location(entry)


def _human_size(size: int | None) -> str:
    return "unknown" if size is None else readable_size(size)
