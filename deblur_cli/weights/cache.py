"""Where weights live on this machine, and whether an entry's file is there and usable.

Layout of the deblur cache (see docs/weights.md):

    <cache>/weights/<entry>/<filename>                a verified download (kept when it is already safetensors)
    <cache>/weights/<entry>/<entry>.safetensors       a legacy checkpoint converted once
    <cache>/weights/<entry>/<file>.verified           stamp: the checksum the file was verified against (and,
                                                      for a conversion, the converted file's own sha256)
    <cache>/hub/                                      Hub downloads, only when the cache folder was chosen explicitly
    <cache>/locks/<entry>.lock                        taken while the entry is fetched (see lock.py)

A stamp is written after verification (and conversion), and only then; a stamp for another checksum
(weights.toml changed) makes the file stale. Every file is hashed again each time it is about to be used:
a download against its pinned checksum, a conversion against the sha256 its stamp recorded, Hub and
package files (which carry no stamp: we do not own those folders) against their pins. A damaged cached
file is deleted and counts as missing, so the next download replaces it. Using a cached file writes
nothing, so a read-only cache works. `status` hashes nothing.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from deblur_cli.errors import OutputError, UsageError, WeightsError
from deblur_cli.files import write_bytes
from deblur_cli.weights import hub
from deblur_cli.weights.registry import BundledSource, HubSource, WeightsEntry
from deblur_cli.weights.verify import Checksum, file_digest, mismatch

CACHE_ENV = "DEBLUR_CACHE"
STAMP_SUFFIX = ".verified"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The deblur cache, as an absolute path (not created): `cache_dir` > $DEBLUR_CACHE >
    $XDG_CACHE_HOME/deblur > ~/.cache/deblur. A relative XDG_CACHE_HOME is ignored, as the XDG spec says."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser().absolute()
    if os.environ.get(CACHE_ENV):
        chosen = Path(os.environ[CACHE_ENV]).expanduser().absolute()
        if chosen.is_file():  # refused as --cache-dir FILE is, not only once a download needs the folder
            raise UsageError(f"${CACHE_ENV} {chosen} is a file, not a folder", hint="name a folder (it is made if missing)")
        return chosen
    xdg = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
    return (xdg if xdg.is_absolute() else Path.home() / ".cache") / "deblur"


def hub_cache(cache_dir: str | Path | None = None) -> Path | None:
    """Where Hub files go: inside the deblur cache when it was chosen explicitly (`cache_dir` or $DEBLUR_CACHE),
    else the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub); None leaves the choice to huggingface_hub.

    The environment is read at call time: huggingface_hub reads it only when first imported.
    """
    if cache_dir is not None or os.environ.get(CACHE_ENV):
        return cache_root(cache_dir) / "hub"
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return None


def entry_dir(entry: WeightsEntry, cache_dir: str | Path | None = None) -> Path:
    """The entry's own folder in the deblur cache."""
    return cache_root(cache_dir) / "weights" / entry.name


def download_path(entry: WeightsEntry, cache_dir: str | Path | None = None) -> Path:
    """Where a URL download of the entry is kept once verified."""
    return entry_dir(entry, cache_dir) / entry.source.filename


def lock_path(entry: WeightsEntry, cache_dir: str | Path | None = None) -> Path:
    """The lock file held while the entry is downloaded or converted."""
    return cache_root(cache_dir) / "locks" / f"{entry.name}.lock"


def refuse_linked_folders(entry: WeightsEntry, cache_dir: str | Path | None = None) -> None:
    """OSError (ELOOP) where a folder deblur makes for its own files (`locks/`, `weights/NAME/`) is a symbolic
    link: planted in a cache shared with others, it would have this process write its lock and download
    wherever it points. (The cache root, and `weights/` itself, may be links: a cache on another disk.)"""
    for folder in (lock_path(entry, cache_dir).parent, entry_dir(entry, cache_dir)):
        if folder.is_symlink():
            raise OSError(errno.ELOOP, "a symbolic link", str(folder))


def converted_path(entry: WeightsEntry, cache_dir: str | Path | None = None) -> Path:
    """Where the safetensors conversion of a legacy checkpoint is kept."""
    return entry_dir(entry, cache_dir) / f"{entry.name}.safetensors"


UNUSABLE_HINT = "choose another folder with --cache-dir (or $DEBLUR_CACHE), or make this one writable"


def unusable(entry: WeightsEntry, cache_dir: str | Path | None, e: OSError) -> OutputError:
    """The error for an OSError met in the cache while fetching `entry`: a read-only folder, a file where
    a folder should be, no permission. It names the entry and the cache folder, and the file at fault: of a
    rename (a verified download to its final name), the name it was to take (`filename2`), where a folder may
    be in the way, not the .part it came from."""
    name = e.filename2 or e.filename
    problem = f"{name}: {e.strerror or e}" if name else (e.strerror or str(e))
    if e.errno in (errno.EEXIST, errno.ENOTDIR) and name:
        path = Path(name)
        in_the_way = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        problem = problem if in_the_way is None else f"{in_the_way} is a file, not a folder"
    hint = UNUSABLE_HINT
    if e.errno == errno.ELOOP and name:  # a link where deblur keeps a file of its own: not followed
        problem = f"{name} is a symbolic link, which deblur does not follow"
        hint = "delete the link (deblur makes its own files and folders there), or choose another folder with "
        hint += "--cache-dir"
    return OutputError(f"{entry.name}: cannot use the weights cache {cache_root(cache_dir)}: {problem}", hint=hint)


def write_stamp(path: Path, checksum: Checksum) -> None:
    """Record that `path` was made from a source verified against `checksum`, with the sha256 of `path`
    itself (atomically)."""
    record = {"checksum": str(checksum), "size": path.stat().st_size, "sha256": file_digest(path, "sha256")}
    write_bytes(_stamp_path(path), json.dumps(record).encode())  # under a fresh name: no link is followed


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + STAMP_SUFFIX)


def _stamp(path: Path, checksum: Checksum, *, any_size: bool = False) -> dict | None:
    """The stamp of `path` if it records `checksum` and the file's current size (any size with
    `any_size`), else None. (Stamps written before deblur recorded a conversion's own sha256 lack it:
    see `_vouches`.)"""
    try:
        recorded = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
        size = path.stat().st_size
    except (OSError, ValueError):
        return None
    fits = isinstance(recorded, dict) and recorded.get("checksum") == str(checksum)
    return recorded if fits and (any_size or recorded.get("size") == size) else None


def _vouches(entry: WeightsEntry, stamp: dict) -> bool:
    """Whether `stamp` can vouch for our file of `entry`. A conversion's must record the converted file's
    own sha256: those of earlier releases do not, and nothing else can tell that its bytes are the ones
    converted from the verified source (its metadata could be copied onto other tensors)."""
    return not entry.needs_conversion or isinstance(stamp.get("sha256"), str)


def _converted_problem(path: Path, stamp: dict) -> str | None:
    """Why a converted file no longer matches the sha256 its stamp records, or None."""
    actual = file_digest(path, "sha256")
    return None if actual == stamp["sha256"] else f"has sha256 {actual}, expected {stamp['sha256']}"


def package_root() -> Path:
    """The folder of the installed deblur_cli package (bundled paths are relative to it)."""
    return Path(str(resources.files("deblur_cli")))


def bundled_path(entry: WeightsEntry) -> Path:
    """Where a bundled entry's file is (or would be) in the installed package."""
    assert isinstance(entry.source, BundledSource)
    return package_root() / entry.source.path


def bundled_file(entry: WeightsEntry) -> Path:
    """The bundled file of `entry`, checked against its checksum; WeightsError if absent, unpinned or damaged."""
    path = bundled_path(entry)
    if not path.is_file() and entry.checksum is None:  # listed in weights.toml before there is a file
        raise WeightsError(
            f"{entry.name}: no weights are published yet, so there is nothing to download",
            hint="`deblur models` says why; run, evaluate and bench take weights of your own with --weights FILE",
        )
    if not path.is_file():
        raise WeightsError(
            f"bundled weights {entry.name!r} are not part of this installation",
            hint="reinstall deblur, or give run, evaluate and bench a weights file with --weights FILE",
        )
    if entry.checksum is None:
        raise WeightsError(
            f"bundled weights {entry.name!r} have no checksum in weights.toml",
            hint="maintainers: pin the file with `python -m deblur_cli.weights.pin FILE`",
        )
    problem = mismatch(path, entry.checksum, entry.size)
    if problem is not None:
        raise WeightsError(f"bundled weights {entry.name!r}: {path.name} {problem}", hint="reinstall deblur")
    return path


def cached_file(
    entry: WeightsEntry, cache_dir: str | Path | None = None, *, warn: Callable[[str], None] | None = None
) -> Path | None:
    """The entry's usable file if it was downloaded (and converted) before, else None; never downloads.

    The file is hashed first. One that no longer matches is deleted, said through `warn` (a line
    for the user), and counts as missing.
    """
    if isinstance(entry.source, BundledSource):
        return None
    assert entry.checksum is not None  # required for downloadable entries by the registry
    ours = converted_path(entry, cache_dir) if entry.needs_conversion else download_path(entry, cache_dir)
    stamp = _stamp(ours, entry.checksum, any_size=True) if ours.is_file() else None
    try:
        size = ours.stat().st_size if stamp is not None else None
    except OSError:  # deleted meanwhile (another process found it damaged too): missing
        stamp = size = None
    if stamp is not None and stamp.get("size") != size:  # cut short (a full disk, a copy stopped)
        problem = f"has {size} bytes, {stamp.get('size')} when it was verified"
        _discard_damaged(entry, ours, f"{problem} (damaged since)", warn, _delete_with_stamp)
        stamp = None
    if stamp is not None and not _vouches(entry, stamp):
        if warn is not None:
            warn(f"{entry.name}: the cached file {ours} was converted by an earlier release of deblur, whose stamp "
                 "cannot vouch for its bytes; it must be fetched and converted again")  # fmt: skip
        stamp = None  # kept until a new conversion replaces it: deleting it gains nothing
    if stamp is not None:
        if entry.needs_conversion:
            problem = _converted_problem(ours, stamp)
        else:
            problem = mismatch(ours, entry.checksum, entry.size)
        if problem is None:
            return ours
        _discard_damaged(entry, ours, f"{problem} (damaged since it was verified)", warn, _delete_with_stamp)
    if isinstance(entry.source, HubSource) and not entry.needs_conversion:
        path = hub.find_cached(entry.source, cache_dir=hub_cache(cache_dir))
        if path is not None:
            problem = mismatch(path, entry.checksum, entry.size)
            if problem is None:
                return path
            if hub.as_served(path):  # the Hub's own file at that commit, which other tools share: the pin is wrong
                raise hub.wrong_pin(entry.name, entry.source, problem)
            # damaged (its bytes are not those its blob's name says), or a link made by hand: not the pinned file
            _discard_damaged(entry, path, f"{problem} (not the pinned file)", warn, hub.delete_cached)
    return None


def recorded_sha256(entry: WeightsEntry, path: Path) -> str | None:
    """The sha256 of `path`, a file of `entry` that `cached_file`, `bundled_file` or a download has just
    verified, as its cache stamp or its pin records it, so that it is not hashed once more; None where
    neither does (a git-blob pin and no stamp with a sha256)."""
    stamp = _stamp(path, entry.checksum) if entry.checksum is not None else None
    if stamp is not None and isinstance(stamp.get("sha256"), str):
        return stamp["sha256"]
    # a conversion's pin is its source's checksum, not its own
    if entry.checksum is not None and entry.checksum.algorithm == "sha256" and not entry.needs_conversion:
        return entry.checksum.digest
    return None


def _discard_damaged(
    entry: WeightsEntry, path: Path, problem: str, warn: Callable[[str], None] | None, delete: Callable[[Path], None]
) -> None:
    """`delete(path)`, a cached file that fails its pin, saying so through `warn`; where it cannot be deleted
    (a read-only cache), it is left, unused, and the line says why."""
    try:
        delete(path)
        done = "it was deleted"
    except OSError as e:
        done = f"it is not used, and could not be deleted ({e.strerror or e})"
    if warn is not None:
        warn(f"{entry.name}: the cached file {path} {problem}; {done}")


def _delete_with_stamp(path: Path) -> None:
    path.unlink(missing_ok=True)
    _stamp_path(path).unlink(missing_ok=True)


def status(entry: WeightsEntry, cache_dir: str | Path | None = None) -> str:
    """'bundled', 'cached', 'unconverted' (an official .pth here, not converted yet: its first use converts it,
    with no download), 'missing', 'unpinned' (a bundled file present but without a checksum), or 'unpublished'
    (a bundled entry with neither: weights.toml lists the model before it has weights).

    Cheap: no file is hashed, so a damaged file still shows as present until it is used.
    """
    if isinstance(entry.source, BundledSource):
        if not bundled_path(entry).is_file():
            return "missing" if entry.checksum is not None else "unpublished"
        return "bundled" if entry.checksum is not None else "unpinned"
    if _cached_here(entry, cache_dir) is not None:
        return "cached"
    return "unconverted" if _source_here(entry, cache_dir) is not None else "missing"


def present_file(entry: WeightsEntry, cache_dir: str | Path | None = None) -> Path | None:
    """The file that makes `status` say bundled, unpinned, cached or unconverted (the .pth); None where there is
    none. Not hashed."""
    if isinstance(entry.source, BundledSource):
        path = bundled_path(entry)
        return path if path.is_file() else None
    return _cached_here(entry, cache_dir) or _source_here(entry, cache_dir)


def _cached_here(entry: WeightsEntry, cache_dir: str | Path | None) -> Path | None:
    """The file of a downloadable entry that makes `status` say cached, or None. Not hashed."""
    ours = converted_path(entry, cache_dir) if entry.needs_conversion else download_path(entry, cache_dir)
    stamp = _stamp(ours, entry.checksum) if ours.is_file() else None
    if stamp is not None and _vouches(entry, stamp):
        return ours
    if isinstance(entry.source, HubSource) and not entry.needs_conversion:
        return hub.find_cached(entry.source, cache_dir=hub_cache(cache_dir))
    return None


def kept_source(entry: WeightsEntry, cache_dir: str | Path | None = None) -> Path | None:
    """The verified source of a conversion not made yet, found without the network: a .pth that a conversion
    stopped by a full disk kept, or an official file put in the entry's folder by hand. Hashed against its pin;
    None where there is none that matches it, and for an entry that needs no conversion. Converting it is local
    work on verified bytes, so it is done offline too."""
    path = _source_here(entry, cache_dir)
    return path if path is not None and mismatch(path, entry.checksum, entry.size) is None else None


def _source_here(entry: WeightsEntry, cache_dir: str | Path | None) -> Path | None:
    """Where a conversion's source lies when it is here (not hashed); None where it is not, or the entry needs
    no conversion."""
    if not entry.needs_conversion or isinstance(entry.source, BundledSource):
        return None
    if isinstance(entry.source, HubSource):
        return hub.find_cached(entry.source, cache_dir=hub_cache(cache_dir))
    path = download_path(entry, cache_dir)
    return path if path.is_file() else None
