"""Cells and widths of the result tables that commands print."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from deblur_cli.wording import count


def cell(value, fmt: str) -> str:
    """`value` formatted with `fmt`, or an en dash where there is none."""
    return "–" if value is None else fmt.format(value)


def frame_count(frames: int) -> str:
    """"1 frame", "8 frames": a table title's count."""
    return count(frames, "frame")


def figures_table(**options) -> Table:
    """A table in the compact style of the figures tables: a rule under the header, no frame, one
    space between columns."""
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True, **options)


def width_needed(table: Table, console: Console) -> int:
    """Columns `table` takes on `console` with its first column (the labels) folded to their first
    word: what it needs to show every figure whole."""
    label = table.columns[0]
    label.max_width = max(len((text.split() or [""])[0]) for text in [str(label.header), *map(str, label.cells)])
    try:
        return Measurement.get(console, console.options.update_width(10_000), table).maximum
    finally:
        label.max_width = None


def cut_note(tables: list[Table], console: Console) -> str | None:
    """The line for tables printed on a console too narrow for one of them (`width_needed`): their figures
    are cut short. None when every table fits."""
    needed = max(width_needed(table, console) for table in tables)
    if needed <= console.width:
        return None
    return (
        f"the table needs {needed} columns and the terminal has {console.width}: figures are cut short; "
        "widen the terminal, or read them in full with --json"
    )


def fitting_parts(groups: list, fits) -> list[list]:
    """`groups` (of columns, in order) packed greedily into consecutive parts, each as long as
    `fits(part)` allows; a group too wide on its own is a part of its own."""
    parts: list[list] = []
    for group in groups:
        if parts and fits([*parts[-1], group]):
            parts[-1].append(group)
        else:
            parts.append([group])
    return parts
