"""Command-line interface. The only package that imports typer or rich.

`deblur` imports the module of a command only when the command is looked up, to run it or show its help
(app.COMMANDS), and importing torch takes about 3 s, so the command modules import nothing that imports
torch at their top: each command imports the library modules it runs inside its function, after its
arguments and inputs are checked. `deblur --help`, `--version` and a mistake in a command line or an
input path then answer in well under a second (tests/test_cli_startup.py keeps it so).
"""

from __future__ import annotations

from deblur_cli.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
