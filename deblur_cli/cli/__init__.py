"""Command-line interface. The only package that imports typer or rich."""

from __future__ import annotations

from deblur_cli.cli import synth, train  # noqa: F401 - each module registers its commands
from deblur_cli.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
