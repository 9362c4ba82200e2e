"""The `deblur` console script. The command line loads Typer and Rich, then, while Typer builds the command,
the named command's module (0.2 s of CPU time for `deblur --help`, 0.7 s for `deblur run --help` on a 2-core
EPYC); Ctrl-C in that time ends the command as it does later, with `interrupted` and exit code 130, not a
traceback."""

from __future__ import annotations

import contextlib
import os
import sys

from deblur_cli import cpu_share
from deblur_cli.cpuinfo import cpu_has_amx


def main() -> None:
    cpu_share.command_starts()  # what the cores do until the command's body runs: are they shared?
    # PyTorch reads this once, at its first CPU allocation: transparent huge pages made `deblur run` 4 to 9%
    # faster on the Xeon with AMX they were measured on; on EPYCs, with AVX2 only (float32) or with
    # AVX512-BF16, they cost more kernel time than they saved, and there glibc keeping freed memory
    # (cli/weights.build_shown) does better (docs/dstnet.md). Set for the command only, before anything
    # imports torch (not when deblur_cli is imported as a library); a user's own setting wins.
    if cpu_has_amx():
        os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:  # started with the descriptor closed (`>&-`): write nowhere, not fail
            setattr(sys, name, open(os.devnull, "w"))
    try:
        from deblur_cli.cli import main as run_command_line
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    try:
        run_command_line()
    except KeyboardInterrupt:  # a second Ctrl-C while Typer builds the command, before any command runs
        with contextlib.suppress(OSError):
            sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    except OSError as e:  # printing --version or --help, before any command's own error handling
        with contextlib.suppress(OSError):
            sys.stderr.write(f"error: cannot write the output: {e.strerror or e}\n")
        raise SystemExit(1) from None
