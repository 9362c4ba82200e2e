"""The `deblur` console script. The command line loads in about half a second (Typer, Rich, PyAV); Ctrl-C
in that time ends the command as it does later, with `interrupted` and exit code 130, not a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from deblur_cli.cli import main as run_command_line
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    run_command_line()
