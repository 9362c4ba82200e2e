"""Command-line interface. The only package that imports typer or rich."""

from __future__ import annotations

# Each module registers its commands; `deblur --help` lists them in this order.
from deblur_cli.cli import run  # noqa: F401, I001
from deblur_cli.cli import demo  # noqa: F401
from deblur_cli.cli import weights  # noqa: F401
from deblur_cli.cli import bench  # noqa: F401
from deblur_cli.cli import synth, train  # noqa: F401
from deblur_cli.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
