"""How messages name a list that may be long: the first few items, and how many more."""

from __future__ import annotations

from collections.abc import Sequence


def some(items: Sequence[object], most: int, sep: str = ", ") -> str:
    """The first `most` of `items` joined by `sep`, then " and N more" for the rest: "a, b and 3 more"."""
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return sep.join(map(str, items[:most])) + more
