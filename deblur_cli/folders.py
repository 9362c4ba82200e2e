"""Walking a folder tree that may hold links to folders: datasets assembled from links to sequences
stored elsewhere, a photo cache sharing its photos folder with another."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def walk_once(root: str | os.PathLike) -> Iterator[tuple[Path, list[str], list[str]]]:
    """os.walk from `root` through links to folders, each real folder once (a link to a folder above it
    would otherwise be walked for ever), subfolders in sorted order: of two paths to one folder, the one
    kept does not follow the file system's listing order. Yields (folder, subfolders, file names); the
    caller may prune `subfolders` in place, as with os.walk."""
    walked: set[str] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in walked:
            subfolders.clear()
            continue
        walked.add(real)
        subfolders.sort()
        yield Path(folder), subfolders, names
