"""Files from the Hugging Face Hub, through huggingface_hub's own cache and download code.

huggingface_hub reads HF_ENDPOINT, HF_HUB_CACHE and HF_HUB_OFFLINE once, when it is first imported, but
HF_TOKEN at each call. We read the first three at call time ourselves (see cache.hub_cache and
download.offline_from_env) and pass them as arguments, so a variable set after import still counts.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
from http import HTTPStatus
from collections.abc import Iterator
from pathlib import Path

from deblur_cli.callbacks import ProgressFn
from deblur_cli.errors import WeightsError
from deblur_cli.weights.registry import HubSource
from deblur_cli.weights.urls import LOCAL_COPY, status_hint
from deblur_cli.weights.verify import Checksum, mismatch



def fetch(
    source: HubSource,
    *,
    label: str,
    cache_dir: Path | None,
    force: bool = False,
    progress: ProgressFn | None = None,
    local_copy: str = LOCAL_COPY,
) -> Path:
    """Download `source` into the Hub cache (no request when the pinned commit is cached) and return its path.

    The file is not verified here: the caller checks it against weights.toml. `local_copy` ends the hints that a
    local copy of the file gets round: how the command at hand takes one.
    """
    from huggingface_hub import hf_hub_download

    kwargs = {}
    if progress is not None and _accepts_tqdm_class():
        kwargs["tqdm_class"] = _progress_bar_class(progress)
    try:
        with _quiet_library():
            path = hf_hub_download(
                source.repo_id,
                source.filename,
                revision=source.revision,
                cache_dir=cache_dir,
                endpoint=os.environ.get("HF_ENDPOINT") or None,
                force_download=force,
                **kwargs,
            )
    except Exception as e:  # huggingface_hub's error types vary across versions; all mean "not fetched"
        known = _known_error(e, source, label, local_copy)
        if known is not None:
            raise known from None
        # anything else may be deblur's own mistake (a keyword a newer huggingface_hub renamed): its traceback is
        # kept for DEBLUR_DEBUG
        first_line = (str(e).strip().splitlines() or [""])[0]
        where = _where(source)
        raise WeightsError(f"{label}: Hub download of {where} failed: {type(e).__name__}: {first_line}") from e
    return Path(path)


@contextlib.contextmanager
def _quiet_library() -> Iterator[None]:
    """huggingface_hub's own warnings held back while it downloads: it logs each retry of a connection
    (eleven lines for an unreachable endpoint), and deblur says in one line what failed."""
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def find_cached(source: HubSource, *, cache_dir: Path | None) -> Path | None:
    """The cached file of `source` at its pinned commit, or None; makes no request."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import LocalEntryNotFoundError

    try:
        path = hf_hub_download(
            source.repo_id, source.filename, revision=source.revision, cache_dir=cache_dir, local_files_only=True
        )
    except LocalEntryNotFoundError:
        return None
    return Path(path)


def delete_cached(path: Path) -> None:
    """Remove a file from the Hub cache: its snapshot entry, and the blob behind it where that lies in the
    repository's own blobs folder (`_own_blob`). A link that points anywhere else (made by hand, or planted in
    a shared cache) loses only itself: deleting its target would delete a file outside every cache."""
    blob = _own_blob(path)
    path.unlink(missing_ok=True)
    if blob is not None:
        blob.unlink(missing_ok=True)


def as_served(path: Path) -> bool:
    """Whether a cached file is, byte for byte, what the Hub serves: False where the file is damaged, or its
    snapshot entry does not link to a blob of its repository. A blob's name is the Hub's ETag, the sha256 of an
    LFS file or the git blob id of a file kept in git itself; bytes that hash to it are the Hub's file at the
    pinned commit, which cannot change, so a pin they fail is wrong."""
    blob = _own_blob(path)
    algorithm = None if blob is None else _BLOB_NAMES.get(len(blob.name))
    if algorithm is None or not all(c in "0123456789abcdef" for c in blob.name):
        return False
    return mismatch(blob, Checksum(algorithm, blob.name)) is None


_BLOB_NAMES = {64: "sha256", 40: "git-blob-sha1"}  # by the length of a blob's name


def wrong_pin(label: str, source: HubSource, problem: str) -> WeightsError:
    """The error for a file the Hub serves at the pinned commit (`as_served`) that weights.toml's pin refuses
    (`problem`, from verify.mismatch): the pin is at fault, and the file, shared with other tools, stays."""
    return WeightsError(
        f"{label}: weights.toml's pin disagrees with the Hub's intact file {_where(source)}: it {problem}",
        hint="the file is what the Hub serves at that commit (its bytes hash to the Hub's name for them) and stays "
        "in the Hub cache: the pin is wrong; do not use these weights until deblur's weights.toml is updated "
        "(please report it)",
    )


def _own_blob(path: Path) -> Path | None:
    """The blob a snapshot entry of the Hub cache links to (`<repo>/snapshots/<revision>/<file>` to
    `<repo>/blobs/<name>`); None where the entry links anywhere else, or is no link."""
    blob = path.resolve()
    snapshots = next((folder for folder in path.parents if folder.name == "snapshots"), None)
    if snapshots is None or blob.parent != (snapshots.parent / "blobs").resolve():
        return None
    return blob


def _where(source: HubSource) -> str:
    return f"{source.repo_id}@{source.revision[:12]}/{source.filename}"


def _known_error(e: Exception, source: HubSource, label: str, local_copy: str) -> WeightsError | None:
    """The error to report for a failure huggingface_hub names (a missing repository, revision or file), for an
    HTTP error status it met (the Hub's or its CDN's: busy, access refused), and for a connection that failed
    (none at all, or one that broke on every try); None for any other."""
    from huggingface_hub.utils import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = _where(source)
    missing = isinstance(e, (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError))
    if missing and not isinstance(e, LocalEntryNotFoundError):  # which is one of them, for a cache
        return WeightsError(
            f"{label}: {where} was not found on the Hub ({type(e).__name__})",
            hint="a private or gated repository needs HF_TOKEN; otherwise weights.toml points to a missing file",
        )
    # huggingface_hub reports a status met while asking for the file's metadata as "not found locally", the
    # status in its cause; one met while downloading it, directly
    code = next((code for code in map(_status, _causes(e)) if code is not None), None)
    if code is not None:
        return WeightsError(
            f"{label}: the Hugging Face Hub answered HTTP {code}{_phrase(code)} for {where}",
            hint=_REFUSED + local_copy if code in (401, 403) else status_hint(code, local_copy),
        )
    if isinstance(e, LocalEntryNotFoundError):  # offline, or the Hub unreachable, and not cached
        return WeightsError(
            f"{label}: cannot reach the Hugging Face Hub for {where}",
            hint="check the connection (and HF_ENDPOINT, HF_HUB_OFFLINE), or " + local_copy,
        )
    if type(e).__module__.partition(".")[0] in _HTTP_CLIENTS:  # connected, then the connection broke, every try
        first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return WeightsError(
            f"{label}: Hub download of {where} failed: {first_line}",
            hint="the connection failed on every try: check it (and HF_ENDPOINT), then run the same command again",
        )
    return None


_REFUSED = "the Hub refuses access: set HF_TOKEN to a token that may read the repository, and accept the "
_REFUSED += "repository's terms on its page if it asks; or "
_HTTP_CLIENTS = {"requests", "urllib3", "httpx", "httpcore", "httpx2", "httpcore2"}  # huggingface_hub's, by version


def _causes(e: BaseException | None) -> Iterator[BaseException]:
    """`e`, then the error it was raised from, and so on."""
    while e is not None:
        yield e
        e = e.__cause__


def _phrase(code: int) -> str:
    """The standard phrase of HTTP status `code` after a space (" Service Unavailable"); "" for a code without one."""
    try:
        return f" {HTTPStatus(code).phrase}"
    except ValueError:
        return ""


def _status(e: BaseException) -> int | None:
    """The HTTP status of the answer an error of huggingface_hub (or of its HTTP client) carries, or None."""
    code = getattr(getattr(e, "response", None), "status_code", None)
    return code if isinstance(code, int) else None


@functools.lru_cache(maxsize=1)
def _accepts_tqdm_class() -> bool:
    from huggingface_hub import hf_hub_download

    return "tqdm_class" in inspect.signature(hf_hub_download).parameters


def _progress_bar_class(progress: ProgressFn) -> type:
    """A stand-in for the tqdm class huggingface_hub instantiates per file: it forwards bytes to `progress`."""

    class _Bar:
        def __init__(self, *args, total: int | None = None, initial: int = 0, **kwargs):
            self.n = initial
            self.total = total or 0
            progress(self.n, self.total)

        def update(self, n: int = 1) -> None:
            self.n += n
            progress(self.n, self.total)

        def close(self) -> None:
            pass

        def __enter__(self) -> _Bar:
            return self

        def __exit__(self, *exc) -> None:
            self.close()

    return _Bar
