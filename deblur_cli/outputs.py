"""Where each input's result goes, and whether it may be written there: checked before any model loads."""

from __future__ import annotations

import os
from pathlib import Path

from deblur_cli.errors import OutputError, UsageError
from deblur_cli.video_io import atomic

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mts", ".m2ts", ".ts", ".mpg", ".mpeg", ".flv", ".wmv", ".y4m"}


def plan_outputs(inputs: list[Path], output: Path) -> list[tuple[Path, Path]]:
    """Pair each input with its output path.

    One input: `output` is the output (a path without a video suffix means a PNG sequence folder).
    Several inputs, or a folder of videos: `output` is a folder; each result keeps its input's file name.
    A folder that holds images and no videos is one input (an image sequence).
    """
    expanded: list[Path] = []
    batch = len(inputs) > 1
    for path in inputs:
        videos = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES) if path.is_dir() else []
        if videos:
            expanded.extend(videos)
            batch = True
        else:
            expanded.append(path)
    if not batch:
        return [(expanded[0], output)]
    if output.exists() and not output.is_dir():
        raise UsageError(f"-o {output} must be a folder when there are several inputs")
    names = [p.name for p in expanded]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise UsageError(f"two inputs are both named {duplicate!r}; their outputs would collide in {output}")
    return [(p, output / p.name) for p in expanded]


def check_output_path(source: str | os.PathLike, output: str | os.PathLike, *, force: bool) -> None:
    """Refuse output == input and an existing output unless `force`; fail early on an unwritable directory."""
    out = Path(output)
    src = Path(source)
    same = out.resolve() == src.resolve() or (src.exists() and out.exists() and os.path.samefile(src, out))
    if same:
        raise UsageError(f"output is the input: {out}", hint="choose another output path; the input is never modified")
    if atomic.taken(out) and not force:
        raise OutputError(f"output exists: {out}", hint="pass --force to replace it (or --skip-existing to keep it)")
    parent = out.parent if out.suffix or not out.is_dir() else out
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {parent}", hint="choose a writable output directory")
