"""The Typer app and the list of its commands, shared option types, and the one error boundary every command
runs inside."""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib
import importlib.util
import math
import os
import re
import shlex
import signal
import sys
import threading
import traceback
import typing
from collections.abc import Mapping
from typing import Callable, Iterator

import typer
import typer.core
import typer.main
from rich.console import Console
from rich.text import Text

from deblur_cli import __version__, cpu_share
from deblur_cli.errors import DeblurError, OutputError, UsageError, did_you_mean
from deblur_cli.interrupts import Terminated, stop_now, stopped

DEBUG_ENV = "DEBLUR_DEBUG"

try:  # recent Typer releases carry their own copy of Click
    from typer._click import exceptions as click_errors
except ImportError:
    from click import exceptions as click_errors
_NO_ARGS = getattr(click_errors, "NoArgsIsHelpError", ())  # Click before 8.2 shows that help itself
_ABORT = getattr(click_errors, "Abort", ())  # Ctrl-D at a prompt, in the Click releases that have it
# How close a mistyped option is to the one meant: --strenght to --strength (0.9), --out to --output (0.77);
# not --nope to --compile (0.67) nor --quality to --quiet (0.75), which Click's list of possible options still names.
_TYPO = 0.76


class _HelpShape:
    """How --help lists options across Typer releases: "[default: None]" (Typer 0.16) left out, --help
    without a value name (a flag takes none; Typer 0.29 would print "<bool>"), and each argument by its
    value name as the docs write it (`deblur run [OPTIONS] INPUT...`), where Typer 0.29 would print
    "{inputs}..." and a "<list[Path]>" column."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.default is None:
                param.show_default = False
            if param.param_type_name == "argument":
                if param.metavar:
                    _shape_argument(param)
                if getattr(param, "help", "") is None:
                    param.help = _declared_help(self.callback, param.name)

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


def _shape_argument(param) -> None:
    """An argument's metavar ("INPUT...", "DATASET") as it reads in the usage line; bracketed when it may be
    left out. Typer 0.29 brackets and repeats on its own (its `_usage_display_name`), and lists a type
    beside the name, which the metavar already says."""
    name = param.metavar
    if hasattr(param, "_usage_display_name"):
        shown = name if param.required else f"[{name}]"
        param._usage_display_name = lambda: shown
        param.display_type_rich = lambda ctx: None
    elif not param.required:
        param.metavar = f"[{name}]"


def _declared_help(callback, name: str) -> str | None:
    """An argument's help as its command declares it. Typer 0.16 sets it before Click does, and Click 8.5
    and newer then set it to None, so the help listed no argument's text."""
    function = getattr(callback, "__wrapped__", callback)
    try:
        hint = typing.get_type_hints(function, include_extras=True)[name]
    except Exception:  # a command Typer built from something else: no help to recover
        return None
    return next((info.help for info in getattr(hint, "__metadata__", ()) if hasattr(info, "help")), None)


class _Command(_HelpShape, typer.core.TyperCommand):
    """Each command, as Typer builds it, with `_HelpShape`."""


# The commands, in the order `deblur --help` lists them: the module of deblur_cli.cli that defines each, and
# its line in that list. A command's module is imported when the command is first looked up, to run it or
# show its --help: the modules import PyAV, NumPy and the weights code, and Typer reads each command's
# signature, so `deblur --help`, `--version` and each command pay only for their own.
COMMANDS = {
    "run": ("run", "Remove motion blur: deblur run in.mp4 -o out.mp4."),
    "info": ("info", "What deblur reads from an input and would write."),
    "demo": ("demo", "Deblur a generated clip and print the PSNR gain."),
    "models": ("weights", "List the weights and whether each is here."),
    "download-weights": ("weights", "Download weights into the cache and verify them."),
    "bench": ("bench", "Speed and quality per model, step and sample count."),
    "evaluate": ("evaluate", "Score models on a dataset (GoPro, DVD, BSD, REDS)."),
    "synth": ("synth", "Write synthetic blurred/sharp clip pairs."),
    "train": ("train", "Train a model on clips synthesised on the fly."),
}
# Commands that decode or encode video. Without PyAV (a training machine) each only says that it needs it;
# weights, synth and train still work.
NEEDS_PYAV = ("run", "info", "demo", "bench", "evaluate")
_SETTINGS = {"add_completion": False, "pretty_exceptions_enable": False, "rich_markup_mode": "rich"}
_defined: dict[str, typer.Typer] = {}  # each command as `command` defined it, a Typer app of its own


def _definition(name: str) -> typer.Typer:
    """The command `name` of COMMANDS, its module imported now if it was not; without PyAV, a command that
    needs it is a stand-in that says so."""
    if name not in _defined:
        if name in NEEDS_PYAV and not _pyav_imports():
            from deblur_cli.cli import no_codec  # it defines its commands with `command`, from this module

            no_codec.register(name)
        else:
            importlib.import_module(f"deblur_cli.cli.{COMMANDS[name][0]}")
    return _defined[name]


def _pyav_imports() -> bool:
    """Whether PyAV imports here; a command that needs it imports it anyway."""
    try:
        importlib.import_module("av")
    except ImportError:
        return False
    return True


class _Commands(Mapping):
    """The group's commands by name, in the order of COMMANDS. Typer builds a command, its module imported
    first, when the command is first looked up; naming the commands, or asking whether one exists, imports
    nothing."""

    def __init__(self) -> None:
        self._built: dict[str, typer.core.TyperCommand] = {}

    def __getitem__(self, name: str) -> typer.core.TyperCommand:
        if name not in COMMANDS:
            raise KeyError(name)
        if name not in self._built:
            # inside the boundary, as the command's body is: Ctrl-C while its module loads (the longest part of the
            # start) is `interrupted`, exit 130, not Typer's silent 130; a missing NumPy one line, not a traceback
            with error_boundary():
                self._built[name] = typer.main.get_command(_definition(name))
        return self._built[name]

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)

    def listed(self, name: str) -> typer.core.TyperCommand:
        """What `deblur --help` lists for `name`: its name and line, its module not imported. Without PyAV
        (which is looked for, not imported), a command that needs it lists the stand-in's line."""
        if name in NEEDS_PYAV and importlib.util.find_spec("av") is None:
            return self[name]
        return typer.core.TyperCommand(name, short_help=COMMANDS[name][1])


class _Group(_HelpShape, typer.core.TyperGroup):
    """The command group, with command-line mistakes (a value out of range, an unknown option, a missing
    argument) reported as every other error is: one `error:` line and a hint, exit code 2. Its commands
    are those of COMMANDS, each imported when first looked up."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commands = _Commands()

    def list_commands(self, ctx) -> list[str]:
        return list(self.commands)  # the names only: Typer's own looks each command up, importing them all

    def format_help(self, ctx, formatter) -> None:
        """The group's help, its list of commands drawn from their lines in COMMANDS: showing it imports no
        command's module."""
        commands = self.commands
        self.commands = {name: commands.listed(name) for name in commands}
        try:
            super().format_help(ctx, formatter)
        finally:
            self.commands = commands

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS as e:  # `deblur` or `deblur run` alone: the help
            e.show()
            code = e.exit_code
        except click_errors.ClickException as e:
            words = list(sys.argv[1:] if args is None else args)  # the command line as given
            message = e.format_message().rstrip(".")
            option_error = isinstance(e, (click_errors.NoSuchOption, click_errors.MissingParameter))
            if option_error and (dashed := _dashed_file(words, self)):
                hint = f"write it after -- (-- {shlex.quote(dashed)}) or as {shlex.quote('./' + dashed)}"
                error = UsageError(
                    f"{dashed} is a file, but it was read as options ({message[:1].lower()}{message[1:]})", hint=hint
                )
            else:
                message = _out_of_range(e, words) or message
                hint = _run_hint(words, self) or _help_hint(e)
                typo = isinstance(e, click_errors.NoSuchOption) and e.possibilities
                if typo and (meant := did_you_mean(e.option_name, e.possibilities, _TYPO)):
                    # in place of Click's list of possible ones, worded alike by every Click
                    message, hint = f"no such option: {e.option_name}", meant + hint
                error = UsageError(message[:1].lower() + message[1:], hint=hint)
            report_error(error)
            code = e.exit_code
        except DeblurError as e:  # an option's own parser refused its value (`options.cache_dir_path`)
            if os.environ.get(DEBUG_ENV):  # error_boundary let it through for its traceback
                raise
            report_error(e)
            code = e.exit_code
        except _ABORT:
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def _dashed_file(words: list[str], group: typer.core.TyperGroup) -> str | None:
    """The first argument before any `--` that starts with a dash and names an existing file or folder,
    which the parser took for options: `-clip.mp4` for -c -l ..., `-oclip.mp4` for -o with the value
    clip.mp4. The value of an option that takes one (`-o -out.mp4`) was read as a value, not options."""
    command = group.commands.get(words[0]) if words else None
    takes_value = {
        name
        for param in (command.params if command else ())
        if not getattr(param, "is_flag", True) and not getattr(param, "count", False)  # options, not arguments
        for name in param.opts
    }
    words = words[: words.index("--") if "--" in words else len(words)]
    for before, word in zip([None] + words, words):
        if word.startswith("-") and len(word) > 1 and before not in takes_value and os.path.exists(word):
            return word
    return None


def _run_hint(words: list[str], group: typer.core.TyperGroup) -> str | None:
    """For a first word that is no command but a file or folder (`deblur clip.mp4`): the run command to mean."""
    if not words or words[0] in group.commands or words[0].startswith("-") or not os.path.exists(words[0]):
        return None
    return f"to restore it: deblur run {shlex.join(words)}"


def _out_of_range(error: click_errors.ClickException, words: list[str]) -> str | None:
    """A number option's value that is not a number or outside the option's range, said in one wording
    ("invalid value for '--crf': 70 is not a whole number from 0 to 63") where Click and Typer releases each
    word it their own way ("not in the range 0<=x<=63", "Input should be less than or equal to 63"); None for
    any other error."""
    param = getattr(error, "param", None)
    if not isinstance(error, click_errors.BadParameter) or isinstance(error, click_errors.MissingParameter):
        return None
    if not getattr(param, "opts", None):  # an argument, or none named (Typer 0.29's arguments have no `type`)
        return None
    bounds = [getattr(param, "min", None), getattr(param, "max", None)]  # Typer 0.29 keeps them on the option
    if bounds == [None, None]:
        kind = getattr(param, "type", None)  # Click's IntRange, FloatRange
        bounds = [getattr(kind, "min", None), getattr(kind, "max", None)]
    low, high = bounds
    if low is None and high is None:
        return None
    given = None
    for before, word in zip([None] + words, words):
        if before in param.opts:
            given = word
        elif word.startswith(tuple(f"{name}=" for name in param.opts)):
            given = word.split("=", 1)[1]
    try:
        value = float(given)
    except (TypeError, ValueError):
        value = math.nan  # not a number at all
    whole = all(isinstance(b, int) for b in bounds if b is not None)
    written = given is not None and (not whole or re.fullmatch(r"[+-]?\d+", given) is not None)  # not 1e1, 2.0
    fits = written and (low is None or value >= low) and (high is None or value <= high)
    if given is None or fits:
        return None  # refused for another reason (a seed beyond 64 bits): the option's own words say it
    number = "a whole number" if whole else "a number"
    if high is None:
        scale = f"of {low:g} or more"
    elif low is None:
        scale = f"of {high:g} or less"
    else:
        scale = f"from {low:g} to {high:g}"
    return f"invalid value for '{param.opts[0]}': {shlex.quote(given)} is not {number} {scale}"


def _help_hint(error: click_errors.ClickException) -> str:
    context = getattr(error, "ctx", None)
    group = context is None or hasattr(context.command, "commands")  # `deblur`, not one of its commands
    what = "commands" if group and not isinstance(error, click_errors.NoSuchOption) else "options"
    return f"{context.command_path if context else 'deblur'} --help lists the {what}"


app = typer.Typer(
    name="deblur",
    cls=_Group,
    help="Remove motion blur from video.",
    epilog="Start with [bold]deblur demo[/] (under a minute on a CPU), then [bold]deblur run clip.mp4[/].",
    no_args_is_help=True,
    **_SETTINGS,
)
LOG_WIDTH = 160  # columns of a console written to a file or a pipe: tables there do not fold at rich's 80


class StreamWriteError(OSError):
    """A write to stdout or stderr that failed for another reason than a reader gone (a full disk or /dev/full
    behind it): told apart from a file's, whose failure would mean the command's work is lost."""

    def __init__(self, stream: str, error: OSError):
        super().__init__(error.errno, error.strerror)
        self.stream = stream


class _ReaderMayLeave:
    """sys.stdout or sys.stderr (whichever is current when written: tests swap them), for a reader that
    may go away: `deblur run ... 2>&1 | head`, or a terminal hung up. Once a write finds the pipe
    broken (or the terminal gone), the stream goes to os.devnull and the command carries on: what it
    prints informs, the files it writes are the work, and a run must not fail, nor its output be lost,
    for want of a reader."""

    _GONE = (errno.EPIPE, errno.EIO)

    def __init__(self, name: str):
        self._name = name

    def _stream(self):
        stream = getattr(sys, self._name)
        # while a progress display is live, rich puts a proxy there that draws above it: write past it,
        # as rich's own consoles do, so that a broken pipe is met here and not in the proxy
        return getattr(stream, "rich_proxied_file", stream)

    def write(self, text: str) -> int:
        try:
            return self._stream().write(text)
        except OSError as e:
            if e.errno not in self._GONE:
                raise StreamWriteError(self._name, e) from None
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream().flush()
        except OSError as e:
            if e.errno not in self._GONE:
                raise StreamWriteError(self._name, e) from None
            self._to_devnull()

    def _to_devnull(self) -> None:
        # the file descriptor too, or the interpreter's last flush at exit complains of the broken pipe
        stream = self._stream()
        with contextlib.suppress(OSError, ValueError, AttributeError):
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, stream.fileno())
            finally:
                os.close(null)
        setattr(sys, self._name, open(os.devnull, "w"))

    def __getattr__(self, name: str):  # isatty, fileno, encoding...: the current stream's
        if name == "rich_proxied_file":  # this is the file rich's consoles must write to
            raise AttributeError(name)
        return getattr(self._stream(), name)


def _console(name: str, **options) -> Console:
    """A console on sys.`name`; written to a file or a pipe (a log), LOG_WIDTH columns wide unless COLUMNS says."""
    wide = not (getattr(sys, name).isatty() or os.environ.get("COLUMNS"))
    # markup off: paths and messages are printed as they are ("take[1].mp4" is a name, not a style);
    # what is styled is styled by `labelled`
    return Console(file=_ReaderMayLeave(name), width=LOG_WIDTH if wide else None, markup=False, **options)


def labelled(label: str, style: str, message: str = "") -> Text:
    """A line that starts with a styled label ("error:", "warning:"), the rest printed as it is. With
    NO_COLOR set the label is plain: rich drops colours then, not "dim" or "bold" (no-color.org asks
    for no styling at all)."""
    return Text.assemble((label, "" if os.environ.get("NO_COLOR") else style), " " if message else "", message)


out = _console("stdout")  # results
err = _console("stderr", stderr=True)  # progress, warnings, errors


def versions() -> str:
    """What a bug report needs: the Python, torch, PyAV, FFmpeg and NumPy releases, on one line
    (environment.software: no torch import)."""
    import platform

    from deblur_cli.environment import ffmpeg_release, software

    releases = software(loaded=False)  # the same line whether or not a command has loaded torch
    found = {name: release or "not installed" for name, release in releases.items()}
    ffmpeg = f" with FFmpeg {releases['ffmpeg']}" if releases["ffmpeg"] else ""
    if (failure := ffmpeg_release()[1]) is not None:
        ffmpeg = f" (which fails to import: {failure})"
    return (
        f"Python {found['python']} ({platform.system()} {platform.machine()}), torch {found['torch']}, "
        f"PyAV {found['av']}{ffmpeg}, NumPy {found['numpy']}"
    )


def _version(value: bool) -> None:
    if value:
        from deblur_cli.environment import checkout_commit

        commit = checkout_commit()
        out.print(f"deblur {__version__}" + (f" (checkout at commit {commit})" if commit else ""), highlight=False)
        out.print(versions(), highlight=False, soft_wrap=True)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, metavar="", help="Print the version and exit."
    ),
) -> None:
    """Remove motion blur from video."""


def warn(message: str) -> None:
    """One warning line on stderr."""
    err.print(labelled("warning:", "yellow", message), highlight=False, soft_wrap=True)


def note(message: str) -> None:
    """One line on stderr about what a command does beyond the usual (it continues an interrupted run)."""
    err.print(labelled("note:", "cyan", message), highlight=False, soft_wrap=True)


def report_error(e: DeblurError) -> None:
    """The error's line on stderr, and its hint's."""
    err.print(labelled("error:", "red", str(e)), highlight=False, soft_wrap=True)
    if e.hint:
        err.print(labelled("hint:", "dim", e.hint), highlight=False, soft_wrap=True)


@contextlib.contextmanager
def _handling(names: tuple[str, ...], handler: Callable) -> Iterator[None]:
    """`handler` for the named signals this platform has (Windows has no SIGHUP) and does not ignore
    within the block, the handlers before restored after it. Only the main thread may set them:
    elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    numbers = [getattr(signal, name) for name in names if hasattr(signal, name)]
    # a signal the process was started ignoring stays ignored: `nohup` (SIGHUP), a script's background
    # job (SIGINT)
    numbers = [number for number in numbers if signal.getsignal(number) is not signal.SIG_IGN]
    before = {number: signal.signal(number, handler) for number in numbers}
    try:
        yield
    finally:
        for number, previous in before.items():
            signal.signal(number, previous)


def stop_signals_interrupt() -> contextlib.AbstractContextManager[None]:
    """Within the block, SIGTERM and SIGHUP raise Terminated in the main thread, as Ctrl-C raises
    KeyboardInterrupt, each remembered for `interrupts.raise_received`."""
    return _handling(("SIGINT", "SIGTERM", "SIGHUP"), stop_now)


@contextlib.contextmanager
def stop_after_step(on_first: Callable[[int], None]) -> Iterator[Callable[[], int | None]]:
    """Within the block, the first Ctrl-C, SIGTERM or SIGHUP only asks to stop: `on_first(signum)` is called,
    and the function the block gets returns that signal's number from then on (None before). The next
    one stops at once, as usual. For work that can stop cleanly between its steps (training)."""
    asked: list[int] = []

    def handler(signum: int, frame) -> None:
        if asked:
            raise stopped(signum)
        asked.append(signum)
        on_first(signum)

    with _handling(("SIGINT", "SIGTERM", "SIGHUP"), handler):
        yield lambda: asked[0] if asked else None


# Modules of deblur's dependencies that commands import late (torch only once a command needs it), and
# what pip calls them: an installation without one gets a line saying so, not an internal error.
_REQUIRED = {"torch": "torch", "numpy": "numpy", "safetensors": "safetensors", "einops": "einops",
             "huggingface_hub": "huggingface-hub"}  # fmt: skip
# Errors of the machine rather than of deblur, even when no file name comes with them.
_MACHINE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM, errno.EMFILE}


@contextlib.contextmanager
def error_boundary() -> Iterator[None]:
    """Turn domain errors into one line on stderr (plus a hint) and an exit code; never a traceback
    unless DEBLUR_DEBUG is set. Ctrl-C exits with 130, SIGTERM with 143 (128 + the signal's number)."""
    debug = bool(os.environ.get(DEBUG_ENV))
    try:
        with stop_signals_interrupt():
            yield
    except typer.Exit:
        raise
    except DeblurError as e:
        if debug:  # the traceback instead of the line, and the same exit code (2 for a usage error)
            traceback.print_exc()
        else:
            report_error(e)
        raise typer.Exit(e.exit_code) from None
    except Terminated as e:
        err.print(labelled("terminated", "red", f"({signal.Signals(e.signum).name})"))
        raise typer.Exit(128 + e.signum) from None
    except KeyboardInterrupt:
        err.print(labelled("interrupted", "red"))
        raise typer.Exit(130) from None
    except Exception as e:  # the last line of defence: still one line, never a traceback
        if debug:
            raise
        if isinstance(e, ModuleNotFoundError) and e.name in _REQUIRED:
            report_error(
                DeblurError(f"deblur needs {e.name}, which is not installed", hint=f"pip install {_REQUIRED[e.name]}")
            )
            raise typer.Exit(1) from None
        if isinstance(e, StreamWriteError):  # stdout to a full disk: the files the command wrote are whole
            with contextlib.suppress(OSError):
                report_error(
                    OutputError(
                        f"cannot write to {e.stream}: {e.strerror}",
                        hint=f"{e.stream} leads to a full disk or a device that takes nothing: send it elsewhere"
                        " (what the command wrote to files is not affected)",
                    )
                )
            raise typer.Exit(1) from None
        if isinstance(e, OSError) and (e.filename is not None or e.errno in _MACHINE_ERRNOS):
            # a path the system refused (a folder that cannot be made), or a full disk, a read-only one, a
            # failing one (the write that hit it names no file): the user's to fix, not a bug
            hint = "check the path, its permissions and the free space"
            where = "" if e.filename is None else f"{e.filename}: "
            report_error(OutputError(f"{where}{e.strerror or e}", hint=hint))
            raise typer.Exit(1) from None
        err.print(labelled("internal error:", "red", f"{type(e).__name__}: {e}"), highlight=False, soft_wrap=True)
        hint = f"set {DEBUG_ENV}=1 for the traceback and report it"
        err.print(labelled("hint:", "dim", hint), highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the command line (or the environment) set the parameter `name`, rather than its default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


def given_options(ctx: typer.Context, names: list[str]) -> list[str]:
    """The options among the parameters `names` that the command line (or the environment) set, in that order,
    each as the command line writes it: its first long spelling, or the side of a flag pair that its value says
    (--no-scene-cuts). Each name must be one of the command's parameters, so that a renamed one fails loudly."""
    params = {param.name: param for param in ctx.command.params}
    spelled = []
    for name in names:
        param = params[name]
        if given(ctx, name):
            opts = param.secondary_opts if param.secondary_opts and not ctx.params[name] else param.opts
            spelled.append(next((opt for opt in opts if opt.startswith("--")), opts[0]))
    return spelled


def examples(*rows: tuple[str, str]) -> str:
    """A command's --help epilog: example command lines, each with what it does as a comment beside it
    (one paragraph each: Typer 0.16 joins the lines of a paragraph)."""
    width = max(len(line) for line, _ in rows)
    lines = [f"{line:<{width}}  [dim]# {what}[/]" for line, what in rows]
    return "[bold]Examples[/]\n\n" + "\n\n".join(lines)


def command(name: str, **kwargs) -> Callable[[Callable], Callable]:
    """Like app.command(name), for a command of COMMANDS, its short help the line there, with the body inside
    the error boundary. The command is a Typer app of its own, which the group builds when it is looked up."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def guarded(*a, **k):
            with error_boundary():
                cpu_share.choose_waiting()  # libgomp reads it once, when torch loads: the body may import torch
                return fn(*a, **k)

        _defined[name] = typer.Typer(**_SETTINGS)
        kwargs.setdefault("short_help", COMMANDS[name][1])
        return _defined[name].command(name, cls=_Command, **kwargs)(guarded)

    return decorate
