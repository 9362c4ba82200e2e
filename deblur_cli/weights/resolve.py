"""Which weights file `deblur run --model NAME` loads: --weights > cache > bundled > download."""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from deblur_cli.callbacks import ProgressFn
from deblur_cli.errors import WeightsError, did_you_mean
from deblur_cli.model_specs import MODELS
from deblur_cli.weights import cache
from deblur_cli.weights.download import offline_from_env
from deblur_cli.weights.download import download as download_entry
from deblur_cli.weights.registry import BundledSource, Registry, WeightsEntry, load_registry
from deblur_cli.weights.verify import file_digest
from deblur_cli.wording import said_once


@dataclass(frozen=True)
class ResolvedWeights:
    """The file to load, and the registry entry it comes from."""

    path: Path  # .safetensors, or whatever file the user named with --weights
    entry: WeightsEntry | None  # None for a user's own file
    recorded_sha256: str | None = None  # the file's sha256 as its pin or cache stamp records it (cache.recorded_sha256)

    def sha256(self) -> str:
        """The file's sha256: as recorded for a registry file verified on resolving, else hashed now
        (a user's own file)."""
        return self.recorded_sha256 or file_digest(self.path, "sha256")


def _from_registry(entry: WeightsEntry, path: Path) -> ResolvedWeights:
    return ResolvedWeights(path, entry, cache.recorded_sha256(entry, path))


def weights_argument(
    spec: str | Path, *, option: str, models: Collection[str] = (), registry: Registry | None = None
) -> Path | str | WeightsEntry:
    """What the weights argument `spec` of `option` (--weights, --init, --prior) names, looked up without reading
    the cache or the network: a file (its Path), one of the `models` that `option` takes by name (the name: that
    model's weights), or a registry entry. WeightsError where it is none of them, worded alike for every option:
    a command that restores with several weights checks each first, so that a mistyped last one does not stop
    it after hours of the first."""
    registry = registry or load_registry()
    path = Path(spec).expanduser()
    accepted = f"a model name ({', '.join(models)}) or " if models else "or "
    accepted = f"give a weights file, {accepted}a name from `deblur models`"
    if path.is_file():
        return path
    if path.exists():
        raise WeightsError(f"{option} {spec}: not a file", hint=accepted)
    if str(spec) in models:
        return str(spec)
    entry = registry.entries.get(str(spec))
    if entry is None and path.is_symlink():  # `ls` shows its name: "no such file" would send the user looking there
        raise WeightsError(f"{option} {spec}: {link_to_nothing(path)}", hint="check the link, or give another file")
    if entry is None:
        hint = did_you_mean(str(spec), [*models, *registry.entries]) + accepted
        named, _, file = str(spec).partition("=")
        if file and named in MODELS:  # bench's MODEL=FILE given to another command
            hint = f"name the model and the file apart: --model {named} {option} {file}"
        raise WeightsError(f"{option} {spec}: no such file, and no weights of that name", hint=hint)
    return entry


def named_entry(
    model: str, weights: str | Path, registry: Registry | None = None, *, option: str = "--weights"
) -> WeightsEntry | None:
    """What `--weights` (or `option`) names for `model` (`weights_argument`): None for a file, else the registry entry
    of that name. WeightsError where it is neither, or an entry of another architecture."""
    registry = registry or load_registry()
    entry = weights_argument(weights, option=option, registry=registry)
    if isinstance(entry, Path):
        return None
    architecture = registry.candidates(model)[0].architecture
    if entry.architecture != architecture:
        users = " or --model ".join(name for name, spec in MODELS.items() if spec.architecture == entry.architecture)
        raise WeightsError(
            f"{option} {weights}: {entry.architecture} weights cannot load into model {model} ({architecture})",
            hint=f"give them to a {entry.architecture} model: --model {users} (see `deblur models`)",
        )
    return entry


def link_to_nothing(path: Path) -> str:
    """What a symbolic link that leads to no file points to: a missing file, a loop of links, a folder not
    readable."""
    target = path.parent / os.readlink(path)  # as seen from here, not from the link's folder
    try:
        path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            return f"a link to {target}, in a loop of links that leads to no file"
        if e.errno not in (errno.ENOENT, errno.ENOTDIR):
            return f"a link to {target}: {(e.strerror or str(e)).lower()}"
    return f"a link to {target}, which does not exist"


def resolve_weights(
    model: str,
    *,
    weights: str | Path | None = None,
    cache_dir: str | Path | None = None,
    offline: bool | None = None,
    download: bool = True,
    progress: ProgressFn | None = None,
    registry: Registry | None = None,
    warn: Callable[[str], None] | None = None,
    on_fetch: Callable[[WeightsEntry], None] | None = None,
    option: str = "--weights",
) -> ResolvedWeights:
    """Find the weights for model `model` ("dstnet", "dstnet-s", "wtsa", "wtsa-s").

    1. `weights`: an existing file is used as is; otherwise it may name a registry entry of the
       model's architecture (`--weights dstnet-dvd`), which then goes through steps 2-4 alone.
    2. the model's registry entries (weights.toml [defaults], preferred first) already in the cache,
       converted, or a verified source to convert (`cache.kept_source`: a conversion stopped by a full
       disk, an official file put there by hand), which needs no network, so is converted offline too;
    3. its bundled entries;
    4. a download of its first downloadable entry, unless `offline` (None: HF_HUB_OFFLINE decides)
       or not `download`. `on_fetch(entry)` is called when a download or conversion starts (a cached
       file found meanwhile, fetched by another process, needs none), and `progress(done_bytes,
       total_bytes)` follows it.
    Nothing found: WeightsError naming the `deblur download-weights` command that fetches it.
    `registry` defaults to the packaged weights.toml. `warn(line)` hears of a cached file found
    damaged (it is deleted, and the search goes on) and of waiting for another process's download.
    `option` is the option that names weights in the command at hand (--weights, or train's --init and --prior):
    messages and hints say it.
    """
    registry, warn = registry or load_registry(), said_once(warn)
    found = _found_here(model, weights, cache_dir, registry, warn, option)
    if isinstance(found, ResolvedWeights):
        return found
    offline = offline_from_env() if offline is None else offline
    if not download or (offline and cache.kept_source(found, cache_dir) is None):
        raise _not_downloaded(found, model, "offline" if offline else "downloads disabled", option)
    fetching = None if on_fetch is None else functools.partial(on_fetch, found)
    fetched = download_entry(
        found, cache_dir, progress=progress, warn=warn, on_fetch=fetching, offline=offline,
        local_copy=f"use a local copy with {option} FILE",
    )  # fmt: skip
    return _from_registry(found, fetched)


def _found_here(
    model: str,
    weights: str | Path | None,
    cache_dir: str | Path | None,
    registry: Registry,
    warn: Callable[[str], None] | None,
    option: str,
) -> ResolvedWeights | WeightsEntry:
    """Steps 1-3 of `resolve_weights`: the weights here, else the entry a download would fetch (or convert)."""
    if weights is not None:
        entry = named_entry(model, weights, registry, option=option)
        if entry is None:
            return ResolvedWeights(Path(weights).expanduser(), None)
        candidates: tuple[WeightsEntry, ...] = (entry,)
    else:
        candidates = registry.candidates(model)

    for entry in candidates:
        found = cache.cached_file(entry, cache_dir, warn=warn)
        if found is not None:
            return _from_registry(entry, found)
        if cache.kept_source(entry, cache_dir) is not None:  # to convert, as a download would after fetching it
            return entry
    bundled = [e for e in candidates if isinstance(e.source, BundledSource)]
    for entry in bundled:
        if cache.status(entry) == "bundled":
            return _from_registry(entry, cache.bundled_file(entry))

    downloadable = [e for e in candidates if not isinstance(e.source, BundledSource)]
    if not downloadable:
        if all(cache.status(e) == "unpublished" for e in bundled):
            raise WeightsError(
                f"model {model} has no weights yet: none are bundled or published (`deblur models`)",
                hint=f"pass weights of your own with {option} (`deblur train --model {model} ...` makes them)",
            )
        names = ", ".join(f"{e.name}: {cache.status(e)}" for e in bundled)
        raise WeightsError(
            f"no usable weights for model {model} in this installation (bundled {names})",
            hint=f"pass a weights file with {option} FILE",
        )
    return downloadable[0]


def _not_downloaded(entry: WeightsEntry, model: str, why: str, option: str) -> WeightsError:
    return WeightsError(
        f"weights {entry.name!r} for model {model} are not downloaded ({why})",
        hint=f"run `deblur download-weights {entry.name}` when online, or pass a local file with {option}",
    )


def has_local_weights(model: str, cache_dir: str | Path | None = None, registry: Registry | None = None) -> bool:
    """Whether model `model` can run without a download: a pinned bundled file or a cached one exists (or an
    official .pth to convert)."""
    registry = registry or load_registry()
    if model not in registry.defaults:
        return False
    here = ("bundled", "cached", "unconverted")
    return any(cache.status(entry, cache_dir) in here for entry in registry.candidates(model))
