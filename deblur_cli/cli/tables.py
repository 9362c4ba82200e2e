"""Cells of the result tables that commands print."""

from __future__ import annotations


def cell(value, fmt: str) -> str:
    """`value` formatted with `fmt`, or an en dash where there is none."""
    return "–" if value is None else fmt.format(value)
