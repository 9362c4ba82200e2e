"""Fetching one registry entry into the cache: download, verify before first use, convert legacy checkpoints."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from deblur_cli.callbacks import ProgressFn
from deblur_cli.errors import DiskFullError, OutputError, WeightsError
from deblur_cli.weights import cache, hub, urls
from deblur_cli.weights.convert import convert_checkpoint
from deblur_cli.weights.lock import exclusive
from deblur_cli.weights.registry import BundledSource, HubSource, UrlSource, WeightsEntry
from deblur_cli.wording import readable_size
from deblur_cli.weights.verify import mismatch
from deblur_cli.wording import said_once

MAX_UNSIZED_BYTES = 2 << 30  # cap for a download whose size weights.toml does not state
MIRROR_ENV = "DEBLUR_WEIGHTS_MIRROR"  # a base URL that holds the URL entries' files by name
_TRUE = {"1", "true", "yes", "on"}


def source_url(source: UrlSource) -> str:
    """Where a URL entry is fetched from: its pinned URL, or with $DEBLUR_WEIGHTS_MIRROR set to a base URL
    (an http(s) server inside a company network, or beside an air-gapped machine), the file of the same
    name there. A mirror's bytes are verified against the same pins, so it needs no trust of its own.
    (Hub entries have huggingface_hub's HF_ENDPOINT.)"""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror:
        return source.url
    try:
        parts = urlsplit(mirror)
    except ValueError:  # a bracket left open ("http://[bad/"): no address, as a wrong scheme is not
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WeightsError(
            f"${MIRROR_ENV} must be an http(s) address, got {urls.shown(mirror)!r}",
            hint="e.g. http://weights.example.lan/deblur/, a folder that holds GOPRO.pth and the other files; "
            "a file on disk needs no mirror: --weights FILE",
        )
    # the file in the mirror's folder; a query (?token=...) stays after it, and a login (user:password@) before
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{quote(source.filename)}"))


def offline_from_env() -> bool:
    """True when HF_HUB_OFFLINE asks for no network access (read now, not at import)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def download(
    entry: WeightsEntry,
    cache_dir: str | Path | None = None,
    *,
    force: bool = False,
    progress: ProgressFn | None = None,
    warn: Callable[[str], None] | None = None,
    on_fetch: Callable[[], None] | None = None,
    offline: bool | None = None,
    local_copy: str = urls.LOCAL_COPY,
) -> Path:
    """Make `entry` available locally and return the file to load (always safetensors).

    Without `force`, a cached file that still matches its checksum is returned with no request, and so is
    the conversion of a verified source already here (`cache.kept_source`). Otherwise the source is
    fetched (a URL resumes its .part file), checked against the entry's size and checksum before any use
    (a mismatch deletes it and raises WeightsError), and a legacy checkpoint is converted once. `offline`
    (None: as HF_HUB_OFFLINE says) allows no request: what would need one is a WeightsError. A cache that
    cannot be written is an OutputError naming it. A bundled entry needs no download: its checked package
    file is returned. Processes fetching one entry at once take turns (`lock.exclusive`): the later ones find
    it cached. `warn(line)` hears of a damaged cached file and of waiting for another process;
    `on_fetch()` is called when this call fetches (or converts) the file itself. `local_copy` ends the hints of a
    failed download: how the command at hand takes a file instead (`urls.LOCAL_COPY`: `deblur download-weights`).
    """
    if isinstance(entry.source, BundledSource):
        return cache.bundled_file(entry)
    warn = said_once(warn)
    if not force:
        found = cache.cached_file(entry, cache_dir, warn=warn)
        if found is not None:
            return found

    def waiting() -> None:
        if warn is not None:
            warn(f"{entry.name}: another deblur process is fetching these weights; waiting for it")

    try:
        cache.refuse_linked_folders(entry, cache_dir)
        with exclusive(cache.lock_path(entry, cache_dir), on_wait=waiting):
            if not force:  # another process may have fetched it while this one waited
                found = cache.cached_file(entry, cache_dir, warn=warn)
                if found is not None:
                    return found
            if on_fetch is not None:
                on_fetch()
            return _download_unlocked(
                entry, cache_dir, force=force, offline=offline, progress=progress, local_copy=local_copy
            )
    except OSError as e:  # the network's are WeightsErrors by now: this is the cache's (a lock, a stamp...)
        raise cache.unusable(entry, cache_dir, e) from None


def _download_unlocked(
    entry: WeightsEntry,
    cache_dir: str | Path | None,
    *,
    force: bool,
    offline: bool | None,
    progress: ProgressFn | None,
    local_copy: str,
) -> Path:
    kept = None if force else cache.kept_source(entry, cache_dir)  # converted below, with no request
    if kept is not None:
        source_file = kept
    elif offline is None and offline_from_env():
        raise WeightsError(
            f"{entry.name}: not downloaded, and HF_HUB_OFFLINE is set", hint="unset HF_HUB_OFFLINE to download"
        )
    elif offline:
        hint = f"run `deblur download-weights {entry.name}` when online"
        raise WeightsError(f"{entry.name}: not downloaded (offline)", hint=hint)
    elif isinstance(entry.source, UrlSource):
        source_file = _fetch_url(entry, entry.source, cache_dir, force=force, progress=progress, local_copy=local_copy)
    else:
        source_file = _fetch_hub(entry, entry.source, cache_dir, force=force, progress=progress, local_copy=local_copy)
    if not entry.needs_conversion:
        return source_file
    target = cache.converted_path(entry, cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        convert_checkpoint(source_file, target, entry)  # on failure the verified source stays, for the next try
    except OutputError as e:  # the hint of a cache, not of a command's output
        again = "then run the same command: it converts the verified download it kept, with no new download"
        if isinstance(e, DiskFullError):
            e.hint = f"free some space (or choose another folder with --cache-dir), {again}"
        else:  # a folder in the way, no permission: what the line says is the cache's to fix
            e.hint = f"{cache.UNUSABLE_HINT}; {again}"
        raise
    cache.write_stamp(target, entry.checksum)
    if isinstance(entry.source, UrlSource):
        source_file.unlink()  # ours, and no longer needed; a Hub file stays in the Hub cache
    return target


def _fetch_url(
    entry: WeightsEntry,
    source: UrlSource,
    cache_dir: str | Path | None,
    *,
    force: bool,
    progress: ProgressFn | None,
    local_copy: str,
) -> Path:
    target = cache.download_path(entry, cache_dir)
    partial = (urls.part_path(target), urls.whole_path(target))
    if force:
        for path in partial:
            path.unlink(missing_ok=True)
    url = source_url(source)
    mirrored = url != source.url  # then what is missing, refused or wrong is the mirror's copy, not the source
    hints: dict[int | str, str] = {}
    wrong_copy = f"the mirror's {source.filename} is not the pinned file: copy it there again from {source.url}"
    if mirrored:
        missing = f"${MIRROR_ENV} points to a mirror without {source.filename}: copy it there from {source.url}"
        refused = f"the mirror refuses access: check the login or token in ${MIRROR_ENV}"
        hints = {404: f"{missing}, or unset it", 410: f"{missing}, or unset it", 401: refused, 403: refused}
        hints["size"] = wrong_copy  # a copy cut short, most often
    fetched, stated = urls.fetch(
        url, target, label=entry.name, size=entry.size, limit=MAX_UNSIZED_BYTES, progress=progress, hints=hints,
        local_copy=local_copy,
    )  # fmt: skip
    problem = mismatch(fetched, entry.checksum, entry.size)
    if problem is not None:
        received = fetched.stat().st_size
        fetched.unlink()  # only this answer: a .part a server sent all of the file for instead stays
        with contextlib.suppress(OSError):  # the entry's folder, if that leaves it empty
            target.parent.rmdir()
        # with no size stated by weights.toml nor the server, a connection that closed early looks like a whole file
        early = " (a connection that closed early without saying the length looks so)"
        early = "" if entry.size is not None or stated else early
        hint = f"{readable_size(received)} came; try again{early}; if it repeats, the source changed and must not "
        hint += "be used"
        if mirrored:
            hint = wrong_copy
        raise WeightsError(f"{entry.name}: the downloaded file {problem}; it was deleted", hint=hint)
    fetched.replace(target)  # only a verified file ever has the final name
    for path in partial:
        path.unlink(missing_ok=True)
    if not entry.needs_conversion:
        cache.write_stamp(target, entry.checksum)
    return target


def _fetch_hub(
    entry: WeightsEntry,
    source: HubSource,
    cache_dir: str | Path | None,
    *,
    force: bool,
    progress: ProgressFn | None,
    local_copy: str,
) -> Path:
    hub_cache = cache.hub_cache(cache_dir)
    path = hub.fetch(
        source, label=entry.name, cache_dir=hub_cache, force=force, progress=progress, local_copy=local_copy
    )
    problem = mismatch(path, entry.checksum, entry.size)
    if problem is not None:
        if hub.as_served(path):  # the Hub's file at that commit, kept: the pin is wrong, and no download mends it
            raise hub.wrong_pin(entry.name, source, problem)
        hub.delete_cached(path)
        raise WeightsError(
            f"{entry.name}: the downloaded file {problem}; it was deleted",
            hint="try again; if it repeats, the source changed and must not be used",
        )
    return path
