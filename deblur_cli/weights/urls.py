"""Streaming a file from a plain URL into `<target>.part`, resuming a partial file with an HTTP Range request."""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from deblur_cli import __version__
from deblur_cli.errors import WeightsError

ProgressFn = Callable[[int, int], None]

PART_SUFFIX = ".part"
ATTEMPTS = 3  # connections that drop mid-file are resumed at once, this many tries in all
TIMEOUT_S = 30.0  # per socket operation, not for the whole file
_CHUNK = 1 << 16
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class _Dropped(Exception):
    """The connection ended before the file did; the bytes received so far are in the .part file."""


def part_path(target: Path) -> Path:
    """The partial file a download of `target` grows in."""
    return target.with_name(target.name + PART_SUFFIX)


def fetch(
    url: str,
    target: Path,
    *,
    label: str,
    size: int | None,
    limit: int,
    progress: ProgressFn | None = None,
) -> Path:
    """Download `url` to `part_path(target)` and return that path once it holds the whole file.

    A .part file left by an earlier, interrupted call is resumed with `Range: bytes=<have>-`; a server
    that ignores the range restarts it. `size` (when known) must match the server's length; without
    it the file may not exceed `limit` bytes. Every failure is a WeightsError; the .part file is kept
    when resuming can help.
    """
    part = part_path(target)
    part.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(ATTEMPTS):
        try:
            _get(url, part, label=label, size=size, limit=limit, progress=progress)
            return part
        except _Dropped as e:
            dropped = e
    raise WeightsError(f"{label}: download interrupted ({dropped})", hint="run the same command again: it resumes")


def _get(url: str, part: Path, *, label: str, size: int | None, limit: int, progress: ProgressFn | None) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"deblur/{__version__}", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 416 and have:
            # The .part is at least as long as the file: complete if the length matches, else start over.
            total = _total_from_range(e.headers.get("Content-Range"))
            if total == have and size in (None, have):
                return
            part.unlink()
            raise _Dropped(f"server refused to resume at byte {have}") from None
        raise WeightsError(
            f"{label}: {url} answered HTTP {e.code} {e.reason}",
            hint="the pinned file is gone or moved; check weights.toml or pass a local file with --weights",
        ) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        reason = getattr(reason, "strerror", None) or str(reason)
        raise WeightsError(
            f"{label}: cannot reach {urlsplit(url).netloc}: {reason}",
            hint="check the network connection, or pass a local file with --weights",
        ) from None
    with response:
        if have and response.status == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
            if not match or int(match[1]) != have:
                part.unlink()
                raise _Dropped("server resumed at the wrong byte")
            total = int(match[3]) if match[3] != "*" else None
        else:
            have = 0  # the server ignored the range (or there was none): start the file again
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if size is not None and total is not None and total != size:
            part.unlink(missing_ok=True)
            raise WeightsError(
                f"{label}: the server offers {total} bytes, weights.toml expects {size}",
                hint="the source changed; do not use it until weights.toml is updated",
            )
        expected = total if total is not None else size
        cap = expected if expected is not None else limit
        if cap > limit:
            raise WeightsError(f"{label}: the file is {cap} bytes, more than the {limit}-byte limit")
        done = have
        with part.open("ab" if have else "wb") as f:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (http.client.HTTPException, OSError) as e:
                    raise _Dropped(f"{done} of {expected or '?'} bytes, {type(e).__name__}") from None
                if not chunk:
                    break
                done += len(chunk)
                if done > cap:
                    f.close()
                    part.unlink()
                    raise WeightsError(f"{label}: the server sent more than {cap} bytes; the partial file was deleted")
                f.write(chunk)
                if progress is not None:
                    progress(done, expected or 0)
    if expected is not None and done < expected:
        raise _Dropped(f"{done} of {expected} bytes")


def _total_from_range(header: str | None) -> int | None:
    match = re.fullmatch(r"bytes \*/(\d+)", header or "")
    return int(match[1]) if match else None
