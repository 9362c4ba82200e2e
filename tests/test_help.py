"""--help reads at 80 columns: each value option names its value, flags name none, and the options of the long
commands come in panels, so that the help column keeps its width (one table of all of `run` left it 18
characters, and `run --help` took 169 lines)."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from deblur_cli.cli import app

COMMANDS = ["run", "info", "demo", "models", "download-weights", "bench", "evaluate", "synth", "train"]
runner = CliRunner()


def shown(*args: str) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


def panels(text: str) -> dict[str, list[str]]:
    """The options listed in each panel of a help text, by panel title."""
    found: dict[str, list[str]] = {}
    title = None
    for line in text.splitlines():
        if match := re.match(r"╭─ (.+?) ─", line):
            title = match.group(1)
            found[title] = []
        elif title and (match := re.match(r"│ (?:\*\s+)?(--[\w-]+)", line)):
            found[title].append(match.group(1))
    return found


def test_every_value_option_names_its_value_and_flags_none():
    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        for param in command.params:
            if param.param_type_name != "option":
                continue
            option = max(param.opts, key=len)
            if getattr(param, "is_flag", False):
                assert param.metavar == "", (name, option)  # Typer 0.29 prints "<bool>" for none
            else:
                assert param.metavar and re.fullmatch(r"[A-Z][A-Za-z=,.]*", param.metavar), (name, option)
    for command in ["", *COMMANDS]:
        assert "<bool>" not in shown(*filter(None, [command])), command


def test_long_commands_group_their_options_in_panels():
    run = panels(shown("run"))
    assert run["Options"] == ["--output", "--force", "--skip-existing", "--no-resume", "--quiet", "--json", "--help"]
    assert run["Model"] == ["--model", "--weights", "--device", "--precision", "--compile", "--cache-dir", "--offline"]
    assert run["Sampling (diffusion models)"] == ["--steps", "--eta", "--seed", "--samples"]
    assert run["Windows and tiles"] == ["--window", "--overlap", "--tile", "--tile-overlap", "--batch", "--scene-cuts"]
    assert run["Input frames"] == ["--start", "--end", "--duration", "--fps", "--deinterlace"]
    output = ["--codec", "--crf", "--preset", "--pix-fmt", "--no-audio", "--side-by-side", "--strength", "--keep-still"]
    output.append("--keep-detail")
    assert run["Output"] == output
    train = panels(shown("train"))
    assert "--ddim-steps" in train["--evaluate: validate weights, without training"]
    assert set(panels(shown("evaluate"))) >= {"Model", "Sampling (diffusion models)", "Windows and tiles", "Metrics"}
    # every option of a command is listed once, in one panel
    group = typer.main.get_command(app)
    for name in COMMANDS:
        listed = [option for options in panels(shown(name)).values() for option in options]
        expected = {max(p.opts, key=len) for p in group.commands[name].params if p.param_type_name == "option"}
        assert sorted(listed) == sorted(expected | {"--help"}), name


def test_the_help_column_keeps_its_width_at_80_columns():
    for command in COMMANDS:
        title = None
        for line in shown(command).splitlines():
            if match := re.match(r"╭─ (.+?) ─", line):
                title = match.group(1)
            elif title != "Arguments" and (match := re.match(r"│( +)\S", line)):  # a help text's second line
                assert len(match.group(1)) < 56, (command, title, line)  # 59 in run's one table
    assert len(shown("run").splitlines()) <= 120  # 169 in one table; --cache-dir says where the cache is in two


def test_a_seed_beyond_64_bits_is_refused_in_one_line():
    result = runner.invoke(app, ["synth", "out", "--seed", str(2**64)])
    assert result.exit_code == 2
    assert "error: invalid value for '--seed': 18446744073709551616 is above the largest seed, 2^64 - 1" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args, said",
    [
        (["run", "in.mp4", "--crf", "70"], "'--crf': 70 is not a whole number from 0 to 63"),
        (["run", "in.mp4", "--crf=-1"], "'--crf': -1 is not a whole number from 0 to 63"),
        (["run", "in.mp4", "--steps", "abc"], "'--steps': abc is not a whole number from 1 to 1000"),
        (["run", "in.mp4", "--samples", "2.5"], "'--samples': 2.5 is not a whole number from 1 to 64"),
        (["run", "in.mp4", "--steps", "1e1"], "'--steps': 1e1 is not a whole number from 1 to 1000"),  # Typer's words
        (["run", "in.mp4", "--crf", ""], "'--crf': '' is not a whole number from 0 to 63"),
        (["bench", "--frames", "0"], "'--frames': 0 is not a whole number of 1 or more"),
        (["train", "--crop", "8"], "'--crop': 8 is not a whole number of 16 or more"),
    ],
)
def test_a_number_out_of_its_range_is_said_in_one_wording(args, said):
    """Found in review: `--crf 70` read "Input should be less than or equal to 63" (Typer 0.29's words; Click's
    are "not in the range 0<=x<=63"), unlike the float options' "is not a number from 0 to 1"."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and result.stderr.splitlines()[0] == f"error: invalid value for {said}"


def test_a_mistyped_command_is_pointed_to_the_commands():
    result = runner.invoke(app, ["inf", "clip.mp4"])
    assert result.exit_code == 2 and result.stderr.splitlines()[1] == "hint: deblur --help lists the commands"
    assert runner.invoke(app, ["--nope"]).stderr.splitlines()[1] == "hint: deblur --help lists the options"
    assert runner.invoke(app, ["run", "--nope"]).stderr.splitlines()[1] == "hint: deblur run --help lists the options"


def test_the_long_commands_end_with_examples_a_line_each():
    for command, example in (
        ("run", "deblur run in.mp4 -o out.mp4 --start 90 --duration 5  # 5 s, to judge"),
        ("bench", "deblur bench -m wtsa-s --steps 1,5,20 --samples 1,4  # against steps"),
        # research52 F4: "# published DSTNet" named deblur's own windows the published protocol (evaluate.md)
        ("evaluate", "deblur evaluate gopro/test -m dstnet --weights GOPRO.pth  # published weights"),
        ("train", "deblur train -o runs/s --resume"),
    ):
        text = shown(command)
        examples = text[text.index("Examples") :].splitlines()[1:]
        rows = [line.strip() for line in examples if line.strip()]
        assert rows and all(row.startswith(f"deblur {command}") and "# " in row for row in rows), text
        assert any(row.startswith(example) for row in rows), (command, rows)


def test_arguments_read_as_the_docs_write_them():
    usage = {
        "run": "deblur run [OPTIONS] INPUT...",
        "info": "deblur info [OPTIONS] INPUT...",
        "evaluate": "deblur evaluate [OPTIONS] DATASET",
        "synth": "deblur synth [OPTIONS] [OUTPUT]",
        "download-weights": "deblur download-weights [OPTIONS] [NAME...]",
    }
    for command, line in usage.items():
        text = runner.invoke(app, [command, "--help"], prog_name="deblur", env={"COLUMNS": "80"}).stdout
        assert line in text, (command, text[:300])
        assert not re.search(r"\{\w+\}|<list\[|<path>|\.\.\.\]\.\.\.", text), command  # Typer 0.29's own shapes
    assert "Videos, image folders, globs" in shown("run")  # Typer 0.16 under Click 8.5 dropped it
    assert "Dataset folder: blurred/sharp pairs" in shown("evaluate")


@pytest.mark.parametrize("command, argument", [("run", "INPUT..."), ("info", "INPUT..."), ("evaluate", "DATASET")])
def test_a_command_without_its_argument_says_which_in_one_line(command, argument):
    """Found in review: `deblur run` alone ended in a traceback under Typer 0.29 (its arguments have no `type`,
    which the range wording read), and `deblur evaluate` alone in an internal error under Typer 0.16."""
    result = runner.invoke(app, [command])
    assert result.exit_code == 2, result.output
    assert f"error: missing argument '{argument}'" in result.output and f"deblur {command} --help" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_given_options_spell_each_option_as_the_command_line_writes_it():
    """Found in review (structure54 F15): three commands kept a table from parameter to spelling by hand, which a
    renamed option dropped out of unnoticed; given_options reads the spellings from Click's parameters."""
    from deblur_cli.cli.app import given_options

    seen = []
    one = typer.Typer()

    @one.command()
    def main(
        ctx: typer.Context,
        model: Annotated[str, typer.Option("-m", "--model")] = "a",
        cuts: Annotated[bool, typer.Option("--scene-cuts/--no-scene-cuts")] = True,
        steps: Annotated[int, typer.Option("--steps")] = 5,
    ) -> None:
        seen.append(given_options(ctx, ["steps", "model", "cuts"]))

    for args, spelled in [
        ([], []),
        (["--no-scene-cuts", "-m", "b"], ["--model", "--no-scene-cuts"]),
        (["--scene-cuts", "--steps", "5"], ["--steps", "--scene-cuts"]),
    ]:
        result = runner.invoke(one, args)
        assert result.exit_code == 0, result.output
        assert seen.pop() == spelled, args


def test_the_options_a_mode_leaves_unread_are_parameters_of_their_command():
    from deblur_cli.cli.evaluate import _FOR_MODELS
    from deblur_cli.cli.synth import _CLIP_OPTIONS
    from deblur_cli.cli.train import EVALUATION_ONLY, TRAINING_ONLY

    group = typer.main.get_command(app)
    for command, names in [
        ("evaluate", _FOR_MODELS),
        ("synth", _CLIP_OPTIONS),
        ("train", TRAINING_ONLY + EVALUATION_ONLY),
    ]:
        assert set(names) <= {param.name for param in group.commands[command].params}, command


def test_every_command_that_takes_cache_dir_says_where_the_cache_is():
    """Found in review (structure54 F18): two --cache-dir aliases, and five of the seven commands said only
    "Weights cache folder."."""
    group = typer.main.get_command(app)
    helps = {name: p.help for name, command in group.commands.items() for p in command.params if p.name == "cache_dir"}
    assert len(helps) == 7 and all("$DEBLUR_CACHE" in help for help in helps.values()), helps
