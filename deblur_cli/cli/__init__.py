"""Command-line interface. The only package that imports typer or rich.

Importing torch takes about 3 s, so the command modules import nothing that imports torch at their top:
each command imports the library modules it runs inside its function, after its arguments and inputs
are checked. `deblur --help`, `--version` and a mistake in a command line or an input path then answer in
well under a second (tests/test_cli_startup.py keeps it so).
"""

from __future__ import annotations

# Each module registers its commands; `deblur --help` lists them in this order. Without PyAV (a training
# machine) the commands that decode or encode video only say so; weights, synth and train still work.
try:
    import av  # noqa: F401
except ImportError:
    from deblur_cli.cli import no_codec  # noqa: I001

    no_codec.register("run")
    no_codec.register("info")
    no_codec.register("demo")
    from deblur_cli.cli import weights  # noqa: F401
    no_codec.register("bench")
    no_codec.register("evaluate")
else:
    from deblur_cli.cli import run  # noqa: F401, I001
    from deblur_cli.cli import info  # noqa: F401
    from deblur_cli.cli import demo  # noqa: F401
    from deblur_cli.cli import weights  # noqa: F401
    from deblur_cli.cli import bench  # noqa: F401
    from deblur_cli.cli import evaluate  # noqa: F401
from deblur_cli.cli import synth, train  # noqa: F401
from deblur_cli.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
