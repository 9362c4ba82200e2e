"""Commands that need PyAV, standing in where it is missing (a training machine without codecs):
each says so in one line instead of the whole CLI failing to import."""

from __future__ import annotations

import importlib
import importlib.util

import typer

from deblur_cli.cli.app import command
from deblur_cli.errors import DeblurError


def register(name: str) -> None:
    """Define `name` as a command that only explains that PyAV is missing."""
    line = f"Unavailable here: deblur {name} needs PyAV (pip install av)."

    @command(
        name,
        short_help=line,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )
    def needs_pyav(ctx: typer.Context) -> None:
        raise _missing(f"deblur {name} needs PyAV (the av package)")

    needs_pyav.__doc__ = line


def _missing(needs: str) -> DeblurError:
    """The error for a command that `needs` PyAV here: not installed, or installed and failing to import (a wheel
    whose FFmpeg libraries are gone or do not load), with Python's reason."""
    try:
        importlib.import_module("av")
    except ImportError as e:
        if importlib.util.find_spec("av") is not None:
            return DeblurError(f"{needs}, which fails to import: {e}", hint="pip install --force-reinstall av")
    return DeblurError(f"{needs}, which is not installed", hint="pip install av")
