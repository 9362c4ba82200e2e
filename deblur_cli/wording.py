"""How messages word what recurs: a list that may be long (the first few items, and how many more), a count of
things (plural but for one), a line that may come more than once (said once), a model run with weights of one's
own, a partial restoration, and a size in bytes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path


def some(items: Sequence[object], most: int, sep: str = ", ", *, before_more: str = " ") -> str:
    """The first `most` of `items` joined by `sep`, then `before_more` and "and N more" for the rest:
    "a, b and 3 more", or with sep="; " and before_more="; ", "a; b; and 3 more"."""
    more = f"{before_more}and {len(items) - most} more" if len(items) > most else ""
    return sep.join(map(str, items[:most])) + more


def count(n: int, noun: str) -> str:
    """`n` and `noun`, in the plural but for one: "1 frame", "3 frames", "0 files"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def said_once(warn: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """`warn`, saying each line once (None stays None; a `warn` that says each line once already is returned
    as it is): the cache is looked at more than once for one file (resolving it, then downloading, before and
    after the lock) and a damaged file that stays (a read-only cache) is found each time; the Compiled parts of
    one model fail alike; a command that builds a model more than once (`deblur bench`, once per row) or
    several models hears the same warnings again."""
    if warn is None or getattr(warn, "said_once", False):
        return warn
    heard: set[str] = set()

    def once(line: str) -> None:
        if line not in heard:
            heard.add(line)
            warn(line)

    once.said_once = True  # type: ignore[attr-defined]
    return once


def weights_label(model: str, weights: Path | None) -> str:
    """How tables and JSON name a model run with weights given as a file: `dstnet (GOPRO.pth)`."""
    return model if weights is None else f"{model} ({weights.name})"


def readable_size(size: int) -> str:
    """A byte count in decimal units, as download bars show them: 3.2 GB, 29.9 MB, 900 B."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
